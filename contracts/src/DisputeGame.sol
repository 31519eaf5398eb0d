// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ClaimManager} from "./ClaimManager.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {TensorMerkle} from "./lib/TensorMerkle.sol";
import {Adjudicator} from "./Adjudicator.sol";
import {Position, LibPosition} from "./lib/Position.sol";
import {Clock, LibClock, Side} from "./lib/Clock.sol";
import {Committee, IVoteSettler} from "./Committee.sol";
import {
    Claim,
    InferenceOpening,
    OpKind,
    OpNode,
    ElementChallenge,
    Game,
    GameOutcome,
    Segment,
    SegmentOpening,
    BoundaryOpening,
    SegmentPointer,
    FineAnswer,
    FineChallenge,
    ElementRequest,
    Phase,
    PartitionGame,
    Loc,
    Unopenable,
    readsInput2
} from "./lib/Types.sol";
import {
    OpOutOfRange,
    ElementOutOfRange,
    UnsupportedOp,
    BadOpInput,
    GameExists,
    FineTraceRequired,
    BadGameParams,
    UnknownGame,
    WrongPhase,
    NotMover,
    ClockExpired,
    ClockNotExpired,
    GameOver,
    SegmentOutOfRange,
    WrongRevealCount,
    RevealMismatch,
    EmptyRange,
    WrongSegment,
    BadSegment,
    OpNotInSegment,
    InputNotCommitted,
    WrongElement,
    NotCommittee,
    ExactlyDecided,
    Openable,
    ElementTooCostly,
    NoOutputTolerance
} from "./lib/Errors.sol";

/// @title DisputeGame
/// @notice Dispute games against claims, two ways in.
///
///   Every game is opened with the bond of its challenger's commitment (`ClaimManager.commitChallenge`, from an
///   earlier block), whose block ranks the game for the reward, and disputes one inference of the claim's batch,
///   named with its trace root opened against the batch root (`InferenceOpening`): the batch level of the game.
///
///   **Partition game** (any model). Levels, each a move of one side against its chess clock:
///     1. segment: the challenger names the disputed segment, either directly (`pointSegment`: its two
///        boundaries opened against the claim's coarse trace root) or by k-ary bisection (`bisect`, then the
///        prover `reveal`s the k - 1 interior boundaries of the current range with proofs against the coarse
///        root and the challenger `pick`s a sub-range, until one segment is left);
///     2. the prover `postFine`s the segment's fine-trace root: the list root over trace tensors
///        start..end of the segment (its input boundary, every op output inside it; the last is its output
///        boundary), with proofs that the first and last leaves are the disputed boundaries;
///     3. element: the challenger `openElement`s one output element of one op of the segment with its input
///        row and weight row against the fine root (an input from an earlier segment's boundary against the
///        coarse root), and the `Adjudicator` decides the op's sound region in the same move; or,
///        when it lacks the data (or the fine root commits leaves nobody can open), it `requestElement`s one and
///        the prover must `openRequested` it within its clock, adjudicated the same way;
///     4. escalation: when the element is inside its sound bound (not a point region) but outside its calibrated
///        threshold, the challenger `escalate`s it with its openings; when no opening can decide it (no on-chain
///        check, an interior input, openings beyond a block), it `escalateUnopenable`s it. The `Committee`'s
///        staked validators, drawn from a later block, recompute it and vote; the verdict comes back through
///        `settleVote`.
///   **Output vote** (`escalateOutput`, models that declare an output tolerance): the challenger asks the
///   committee whether one element of the claim's output is within the declared tolerance of an honest run of
///   the claim's input. It needs no element outside any region: it catches errors that pass every element
///   check yet move the output (a steering channel opened beyond first order, a trigger only some inputs open).
///   A side whose clock runs out loses (`timeout`); each move stops the mover's clock and starts the other's.
///   Positions in the bisection are typed generalized indices (`Position`). Games are ids of content:
///   (claim, inference, challenger, starting position); several may run against one claim: the first a challenger wins
///   slashes it, and the others play on through the reward grace (`ClaimManager.closeGame`).
///
///   **One-level game** (`challenge`, models with one segment per op): the element is opened against the
///   coarse trace root directly and adjudicated in the challenge transaction.
///
///   Invalid openings revert and change nothing; bonds live in `ClaimManager` only; this contract holds no ETH.
contract DisputeGame is IVoteSettler {
    using LibPosition for Position;

    /// @notice Claims and bonds.
    ClaimManager public immutable claims;
    /// @notice Registered models.
    ModelRegistry public immutable registry;
    /// @notice Seconds each side may think in total over one partition game.
    uint64 public immutable clockBudget;
    /// @notice Arity k of the bisection: a reveal opens k - 1 interior boundaries.
    uint256 public immutable arity;
    /// @notice The validator committee that decides escalated elements.
    Committee public immutable committee;
    /// @notice Opens an element's operands and decides its sound region.
    Adjudicator public immutable adjudicator;

    /// @notice The `op` an output vote names (no graph has that many ops): the question is the claim's output.
    uint32 public constant OUTPUT_OP = type(uint32).max;

    mapping(bytes32 gameId => Game) internal _games;
    mapping(bytes32 gameId => PartitionGame) internal _partition;

    /// @notice A one-level game was played and decided.
    event GameResolved(
        bytes32 indexed gameId,
        bytes32 indexed claimId,
        address indexed challenger,
        uint32 inference,
        uint32 op,
        uint32 row,
        uint32 col,
        uint32 claimedBits,
        GameOutcome outcome
    );
    /// @notice A partition game on inference `inference` of the claim's batch started at `position`, over
    ///         boundaries [lo, hi] with these roots; the prover is to move (`Reveal` if hi - lo > 1, else `Fine`).
    ///         Both clocks hold `clockBudget`.
    event GameCreated(
        bytes32 indexed gameId,
        bytes32 indexed claimId,
        address indexed challenger,
        address prover,
        uint32 inference,
        Position position,
        uint32 lo,
        uint32 hi,
        bytes32 loRoot,
        bytes32 hiRoot
    );
    /// @notice The prover revealed the interior boundaries of the range at `position` (in order); it has
    ///         `proverLeft` seconds left.
    event BoundariesRevealed(bytes32 indexed gameId, Position position, bytes32[] roots, uint64 proverLeft);
    /// @notice The challenger picked child `child`: the game is now at `position`, boundaries [lo, hi];
    ///         it has `challengerLeft` seconds left.
    event RangePicked(
        bytes32 indexed gameId, Position position, uint256 child, uint32 lo, uint32 hi, uint64 challengerLeft
    );
    /// @notice The prover posted the fine-trace root of segment `segment` (nodes [start, end)).
    event FineRootPosted(
        bytes32 indexed gameId, uint32 segment, uint32 start, uint32 end, bytes32 fineRoot, uint64 proverLeft
    );
    /// @notice The challenger opened element (row, col) of op `op`; `inside` is the verdict.
    event ElementAdjudicated(
        bytes32 indexed gameId,
        uint32 op,
        uint32 row,
        uint32 col,
        uint32 claimedBits,
        bool inside,
        uint64 challengerLeft
    );
    /// @notice The challenger asked the prover to open element (row, col) of op `op`.
    event ElementRequested(bytes32 indexed gameId, uint32 op, uint32 row, uint32 col, uint64 challengerLeft);
    /// @notice The prover opened the requested element; `inside` is the verdict.
    event RequestedElementOpened(bytes32 indexed gameId, uint32 claimedBits, bool inside, uint64 proverLeft);
    /// @notice The challenger escalated element (row, col) of op `op` to a committee vote (id: the game id).
    event Escalated(bytes32 indexed gameId, uint32 op, uint32 row, uint32 col, uint64 challengerLeft);
    /// @notice The side to move let its clock run out.
    event ClockTimedOut(bytes32 indexed gameId, Side side);
    /// @notice A partition game ended.
    event GameEnded(bytes32 indexed gameId, bytes32 indexed claimId, address indexed challenger, GameOutcome outcome);

    /// @param claims_ The claim manager that holds bonds (and must bind this game).
    /// @param clockBudget_ Seconds each side may think in total over one partition game.
    /// @param arity_ Bisection arity k (>= 2).
    /// @param committee_ The validator committee (which must bind this game).
    /// @param adjudicator_ The element adjudicator.
    constructor(
        ClaimManager claims_,
        uint64 clockBudget_,
        uint256 arity_,
        Committee committee_,
        Adjudicator adjudicator_
    ) {
        // INVARIANT: a bisection halves at least, and a side has time to move.
        if (arity_ < 2 || arity_ > 256 || clockBudget_ == 0) revert BadGameParams(arity_, clockBudget_);
        claims = claims_;
        registry = claims_.registry();
        clockBudget = clockBudget_;
        arity = arity_;
        committee = committee_;
        adjudicator = adjudicator_;
    }

    // ------------------------------------------------------------------ views

    /// @notice A one-level game's id: one per (claim, inference, challenger, op, element).
    function gameIdOf(bytes32 claimId, uint32 inference, address challenger, uint32 op, uint32 row, uint32 col)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(claimId, inference, challenger, op, row, col));
    }

    /// @notice A partition game's id: one per (claim, inference, challenger, starting position).
    function partitionGameIdOf(bytes32 claimId, uint32 inference, address challenger, Position start)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(claimId, inference, challenger, start));
    }

    /// @notice A one-level game; outcome `None` if it was never played.
    function game(bytes32 gameId) external view returns (Game memory) {
        return _games[gameId];
    }

    /// @notice A partition game; phase `None` if it does not exist.
    function partitionGame(bytes32 gameId) external view returns (PartitionGame memory) {
        return _partition[gameId];
    }

    /// @notice The side whose turn it is in a running partition game.
    function mover(bytes32 gameId) public view returns (Side) {
        PartitionGame storage g = _active(gameId);
        return _sideOf(g.phase);
    }

    /// @notice Seconds each side has left, the mover's clock running (0 once run out).
    function clocks(bytes32 gameId) external view returns (uint64 prover, uint64 challenger) {
        PartitionGame storage g = _partition[gameId];
        if (g.phase == Phase.None) revert UnknownGame(gameId);
        Clock c = g.clock;
        (prover, challenger) = (c.left(Side.Prover), c.left(Side.Challenger));
        if (g.phase == Phase.Ended || g.phase == Phase.Vote) return (prover, challenger);
        if (_sideOf(g.phase) == Side.Prover) prover = c.remaining(Side.Prover);
        else challenger = c.remaining(Side.Challenger);
    }

    // ------------------------------------------------------------------ one-level game

    /// @notice Challenges one output element of one op of inference `inf` of a pending claim whose model has one
    ///         segment per op, adjudicated at once, with the bond of the sender's commitment
    ///         (`ClaimManager.commitChallenge`, made in an earlier block with `salt`).
    function challenge(bytes32 claimId, InferenceOpening calldata inf, ElementChallenge calldata c, bytes32 salt)
        external
        returns (bytes32 gameId)
    {
        (Claim memory cl,) = _open(claimId, inf);
        (bool inside, uint32 yBits) = adjudicate(cl.modelId, inf.prompt, inf.steps, inf.traceRoot, c);
        gameId = gameIdOf(claimId, inf.index, msg.sender, c.op, c.row, c.col);
        // INVARIANT: one game per element and challenger.
        if (_games[gameId].outcome != GameOutcome.None) revert GameExists(gameId);
        GameOutcome outcome = inside ? GameOutcome.ProverWon : GameOutcome.ChallengerWon;
        _games[gameId] = Game(claimId, msg.sender, inf.index, c.op, c.row, c.col, outcome);
        emit GameResolved(gameId, claimId, msg.sender, inf.index, c.op, c.row, c.col, yBits, outcome);
        uint64 rank = claims.openGame(claimId, msg.sender, salt);
        claims.closeGame(claimId, msg.sender, rank, outcome);
    }

    /// @notice Verifies every opening of `c` against the model and the (one segment per op) trace root and
    ///         decides whether the claimed element is inside its sound region. Reverts on any invalid opening.
    /// @return inside True iff the claimed element is inside the op's sound bound.
    /// @return yBits The claimed element's fp32 bits.
    function adjudicate(bytes32 modelId, uint32 prompt, uint32 steps, bytes32 traceRoot, ElementChallenge calldata c)
        public
        view
        returns (bool inside, uint32 yBits)
    {
        (uint32 nodes, uint32 segments) = registry.counts(modelId, prompt, steps);
        // INVARIANT: every op output is a leaf of the claim's (coarse) trace root.
        if (segments != nodes) revert FineTraceRequired(modelId);
        _checkNode(modelId, prompt, steps, c);
        (bytes32 weightsRoot, uint32 weightCount) = registry.weightsOf(modelId);
        uint256 leaves = uint256(nodes) + 1;
        return adjudicator.adjudicate(
            weightsRoot,
            weightCount,
            c,
            Loc(traceRoot, uint256(c.op) + 1, leaves),
            Loc(traceRoot, c.node.input, leaves),
            Loc(traceRoot, c.node.input2, leaves)
        );
    }

    // ------------------------------------------------------------------ partition game: segment level

    /// @notice Starts a partition game on inference `inf` by k-ary bisection over its boundary list, from its
    ///         input to its output (`input` and `output`: the first and last leaves of its coarse trace, opened),
    ///         with the bond of the sender's commitment made with `salt`. The prover reveals next (or, for a
    ///         one-segment model, posts the fine root).
    function bisect(
        bytes32 claimId,
        InferenceOpening calldata inf,
        BoundaryOpening calldata input,
        BoundaryOpening calldata output,
        bytes32 salt
    ) external returns (bytes32 gameId) {
        (Claim memory cl, uint32 segments) = _open(claimId, inf);
        _verifyBoundary(inf.traceRoot, segments, 0, input);
        _verifyBoundary(inf.traceRoot, segments, segments, output);
        (gameId,) = _create(
            claimId, cl, inf, segments, LibPosition.root(), 0, segments, input.root, output.root, salt
        );
    }

    /// @notice Starts a partition game at one segment of inference `inf`, named directly with its two boundaries
    ///         opened against the inference's coarse trace root, with the bond of the sender's commitment made with
    ///         `salt`. The prover posts the fine root next.
    function pointSegment(bytes32 claimId, InferenceOpening calldata inf, SegmentPointer calldata p, bytes32 salt)
        external
        returns (bytes32 gameId)
    {
        (Claim memory cl, uint32 segments) = _open(claimId, inf);
        // INVARIANT: a disputed segment is a segment of the model.
        if (p.segment >= segments) revert SegmentOutOfRange(p.segment, segments);
        _verifyBoundary(inf.traceRoot, segments, p.segment, p.lo);
        _verifyBoundary(inf.traceRoot, segments, p.segment + 1, p.hi);
        Position start = LibPosition.node(arity, LibPosition.leafDepth(arity, segments), p.segment);
        (gameId,) = _create(claimId, cl, inf, segments, start, p.segment, p.segment + 1, p.lo.root, p.hi.root, salt);
    }

    /// @notice Prover: reveals the interior boundaries lo + j w (j = 1 .. k - 1, those below hi; w the width
    ///         of a child range) of the current range, each opened against the claim's coarse trace root.
    function reveal(bytes32 gameId, BoundaryOpening[] calldata opened) external {
        PartitionGame storage g = _partition[gameId];
        uint64 left = _move(gameId, g, Phase.Reveal);
        (uint256 lo, uint256 hi, uint256 w) = _childWidth(g);
        uint256 want = (hi - lo + w - 1) / w - 1;
        // INVARIANT: every interior boundary of the range is revealed, and only those.
        if (opened.length != want) revert WrongRevealCount(opened.length, want);
        bytes32 traceRoot = g.traceRoot;
        uint256 leaves = uint256(g.segments) + 1;
        bytes32[] memory roots = new bytes32[](want);
        for (uint256 j; j < want; ++j) {
            roots[j] = opened[j].root;
            TensorMerkle.verify(traceRoot, _rootLeaf(roots[j]), lo + (j + 1) * w, leaves, opened[j].proof);
        }
        g.pending = keccak256(abi.encodePacked(roots));
        g.phase = Phase.Pick;
        emit BoundariesRevealed(gameId, g.position, roots, left);
    }

    /// @notice Challenger: picks child range `child` (0 .. number of revealed roots) of the current range,
    ///         passing back the revealed roots (from `BoundariesRevealed`).
    function pick(bytes32 gameId, uint256 child, bytes32[] calldata roots) external {
        PartitionGame storage g = _partition[gameId];
        uint64 left = _move(gameId, g, Phase.Pick);
        bytes32 got = keccak256(abi.encodePacked(roots));
        // INVARIANT: the sub-range's boundaries are the ones the prover revealed (and proved).
        if (got != g.pending) revert RevealMismatch(got, g.pending);
        // INVARIANT: a picked range holds at least one segment.
        if (child > roots.length) revert EmptyRange(child, roots.length + 1);
        (uint256 lo, uint256 hi, uint256 w) = _childWidth(g);
        uint256 newLo = lo + child * w;
        uint256 newHi = newLo + w < hi ? newLo + w : hi;
        if (child > 0) g.loRoot = roots[child - 1];
        if (child < roots.length) g.hiRoot = roots[child];
        // a range that fits in its first child skips straight down to it (nothing to reveal in between)
        Position p = g.position.child(arity, child).skipSingleChild(arity, g.segments);
        g.position = p;
        // forge-lint: disable-next-line(unsafe-typecast)
        g.lo = uint32(newLo);
        // forge-lint: disable-next-line(unsafe-typecast)
        g.hi = uint32(newHi);
        g.pending = bytes32(0);
        g.phase = newHi - newLo == 1 ? Phase.Fine : Phase.Reveal;
        // forge-lint: disable-next-line(unsafe-typecast)
        emit RangePicked(gameId, p, child, uint32(newLo), uint32(newHi), left);
    }

    // ------------------------------------------------------------------ partition game: fine level

    /// @notice Prover: posts the disputed segment's fine-trace root with its first and last leaves opened (they
    ///         must be the segment's two boundaries) and the segment's node range opened against the model.
    function postFine(bytes32 gameId, FineAnswer calldata a) external {
        PartitionGame storage g = _partition[gameId];
        uint64 left = _move(gameId, g, Phase.Fine);
        // INVARIANT: the answer is about the disputed segment, whose node range is the registered one.
        if (a.segment.index != g.lo) revert WrongSegment(a.segment.index, g.lo);
        Segment calldata s = a.segment.segment;
        _verifySegment(g, a.segment);
        // INVARIANT: the fine trace starts and ends at the disputed boundaries.
        uint256 leaves = uint256(s.end) - s.start + 1;
        TensorMerkle.verify(a.fineRoot, _rootLeaf(g.loRoot), 0, leaves, a.firstProof);
        TensorMerkle.verify(a.fineRoot, _rootLeaf(g.hiRoot), leaves - 1, leaves, a.lastProof);
        g.pending = a.fineRoot;
        g.segStart = s.start;
        g.segEnd = s.end;
        g.phase = Phase.Element;
        emit FineRootPosted(gameId, g.lo, s.start, s.end, a.fineRoot, left);
    }

    // ------------------------------------------------------------------ partition game: element level

    /// @notice Challenger: opens one output element of one op of the disputed segment against the fine root,
    ///         and the game is decided by the op's sound bound: outside, the challenger wins; inside, the prover.
    function openElement(bytes32 gameId, FineChallenge calldata c) external returns (GameOutcome outcome) {
        PartitionGame storage g = _partition[gameId];
        uint64 left = _move(gameId, g, Phase.Element);
        (bool inside, uint32 yBits) = _adjudicateFine(g, c);
        ElementChallenge calldata e = c.element;
        emit ElementAdjudicated(gameId, e.op, e.row, e.col, yBits, inside, left);
        outcome = inside ? GameOutcome.ProverWon : GameOutcome.ChallengerWon;
        _end(gameId, g, outcome);
    }

    /// @notice Challenger: makes the prover open output element (row, col) of op `op` of the disputed segment
    ///         (it has the data: its clock runs until it does). Checked here so that an honest prover can always
    ///         answer: the op is in the segment, registered as described, adjudicable, the element in its
    ///         output, its input committed under the fine or the coarse root, and its openings within a block's
    ///         gas and a transaction's size (`Adjudicator.openingCost`; a costlier element is escalated instead).
    function requestElement(bytes32 gameId, ElementRequest calldata r) external {
        PartitionGame storage g = _partition[gameId];
        uint64 left = _move(gameId, g, Phase.Element);
        OpNode calldata n = r.node;
        // INVARIANT: the prover is only asked what it can open.
        if (r.op < g.segStart || r.op >= g.segEnd) revert OpNotInSegment(r.op, g.segStart, g.segEnd);
        registry.checkNode(_modelId(g), g.prompt, g.steps, r.op, abi.encode(n), r.nodePatches, r.nodeProof);
        if (n.input > r.op) revert BadOpInput(r.op, n.input);
        if (r.row >= n.rows || r.col >= n.cols) revert ElementOutOfRange(r.row, r.col);
        if (n.kind == OpKind.None) revert UnsupportedOp(uint8(n.kind));
        if (n.input < g.segStart && n.input != 0) _boundaryOf(g, r.op, n.input, r.inputSegment);
        if (readsInput2(n.kind)) {
            if (n.input2 > r.op) revert BadOpInput(r.op, n.input2);
            if (n.input2 < g.segStart && n.input2 != 0) _boundaryOf(g, r.op, n.input2, r.input2Segment);
        }
        (uint256 gas, uint256 size) = adjudicator.openingCost(n);
        // INVARIANT: an honest prover can answer every request within one block and one transaction.
        if (gas > adjudicator.MAX_OPENING_GAS() || size > adjudicator.MAX_OPENING_BYTES()) {
            revert ElementTooCostly(r.op, gas, size);
        }
        (g.reqOp, g.reqRow, g.reqCol) = (r.op, r.row, r.col);
        g.phase = Phase.Open;
        emit ElementRequested(gameId, r.op, r.row, r.col, left);
    }

    /// @notice Prover: opens the requested element (the same openings as `openElement`), and the game is decided
    ///         by the op's sound bound.
    function openRequested(bytes32 gameId, FineChallenge calldata c) external returns (GameOutcome outcome) {
        PartitionGame storage g = _partition[gameId];
        uint64 left = _move(gameId, g, Phase.Open);
        ElementChallenge calldata e = c.element;
        // INVARIANT: the prover answers the request, not another element.
        if (e.op != g.reqOp || e.row != g.reqRow || e.col != g.reqCol) revert WrongElement(e.op, e.row, e.col);
        (bool inside, uint32 yBits) = _adjudicateFine(g, c);
        emit RequestedElementOpened(gameId, yBits, inside, left);
        outcome = inside ? GameOutcome.ProverWon : GameOutcome.ChallengerWon;
        _end(gameId, g, outcome);
    }

    /// @notice Challenger: escalates an element the exact check cannot decide to a committee vote, with the same
    ///         openings as `openElement`: it must be inside its sound bound (outside, the contract decides it) in an
    ///         op whose region is not a point. The committee judges it against the calibrated threshold; no clock
    ///         runs while it votes.
    function escalate(bytes32 gameId, FineChallenge calldata c) external {
        PartitionGame storage g = _partition[gameId];
        uint64 left = _move(gameId, g, Phase.Element);
        (bool inside,) = _adjudicateFine(g, c);
        ElementChallenge calldata e = c.element;
        // INVARIANT: an element the exact check decides is decided by the contract, never by a vote.
        if (!inside || adjudicator.exact(e.node.kind)) revert ExactlyDecided(e.op, e.row, e.col, inside);
        _vote(gameId, g, e.op, e.row, e.col, left);
    }

    /// @notice Challenger: starts a game that is a committee vote on element (row, col) of the output of
    ///         inference `inf` (`output`: the last leaf of its coarse trace, opened): is it within the model's
    ///         declared output tolerance of an honest run of the inference's input? Opened with the bond of the
    ///         sender's commitment made with `salt`, like any game; its position is 0 (no partition game starts
    ///         there). The committee's verdict ends it (outside: the prover is slashed; inside, or an element the
    ///         output does not have: the challenger loses its bond).
    function escalateOutput(
        bytes32 claimId,
        InferenceOpening calldata inf,
        BoundaryOpening calldata output,
        uint32 row,
        uint32 col,
        bytes32 salt
    ) external returns (bytes32 gameId) {
        (Claim memory cl, uint32 last) = _open(claimId, inf);
        // INVARIANT: a claim is held to an output tolerance only when its model declared one.
        if (registry.outputToleranceOf(cl.modelId) == 0) revert NoOutputTolerance(cl.modelId);
        _verifyBoundary(inf.traceRoot, last, last, output);
        PartitionGame storage g;
        (gameId, g) = _create(claimId, cl, inf, last, Position.wrap(0), last - 1, last, bytes32(0), output.root, salt);
        _vote(gameId, g, OUTPUT_OP, row, col, clockBudget);
    }

    /// @notice Challenger: escalates an element nobody can open on-chain to a committee vote: its op has no
    ///         descriptor the contracts know, reads an interior tensor of an earlier segment, or needs openings
    ///         larger than a block or a transaction (`Unopenable` proves which).
    function escalateUnopenable(bytes32 gameId, Unopenable calldata u) external {
        PartitionGame storage g = _partition[gameId];
        uint64 left = _move(gameId, g, Phase.Element);
        if (u.op < g.segStart || u.op >= g.segEnd) revert OpNotInSegment(u.op, g.segStart, g.segEnd);
        registry.checkNode(_modelId(g), g.prompt, g.steps, u.op, u.leaf, u.leafPatches, u.leafProof);
        // INVARIANT: an element goes to the committee unopened only when no opening can decide it.
        if (!_unopenable(g, u)) revert Openable(u.op);
        _vote(gameId, g, u.op, u.row, u.col, left);
    }

    /// @dev Whether no opening can decide `u`'s element (see `escalateUnopenable`).
    function _unopenable(PartitionGame storage g, Unopenable calldata u)
        private
        view
        returns (bool)
    {
        // a leaf that is no ABI-encoded OpNode (a JSON node) is an op without a check
        try adjudicator.describe(u.leaf) returns (OpNode memory n, uint256 gas, uint256 size) {
            if (n.kind == OpKind.None) return true;
            if (u.row >= n.rows || u.col >= n.cols) revert ElementOutOfRange(u.row, u.col);
            if (_interior(g, n.input, u.inputSegment)) return true;
            if (readsInput2(n.kind) && _interior(g, n.input2, u.input2Segment)) return true;
            return gas > adjudicator.MAX_OPENING_GAS() || size > adjudicator.MAX_OPENING_BYTES();
        } catch {
            return true;
        }
    }

    /// @dev Whether trace tensor `t`, read by an op of the disputed segment, is an interior tensor of an earlier
    ///      segment: `so` is the segment that computes it (node t - 1), and t is not its output boundary.
    function _interior(PartitionGame storage g, uint32 t, SegmentOpening calldata so)
        private
        view
        returns (bool)
    {
        if (t == 0 || t >= g.segStart || so.segment.start >= t || so.segment.end < t) return false;
        _verifySegment(g, so);
        return so.segment.end != t;
    }

    /// @dev Hands element (row, col) of `op` to the committee: the game waits for its verdict.
    function _vote(bytes32 gameId, PartitionGame storage g, uint32 op, uint32 row, uint32 col, uint64 left) private {
        (g.reqOp, g.reqRow, g.reqCol) = (op, row, col);
        g.phase = Phase.Vote;
        emit Escalated(gameId, op, row, col, left);
        committee.open(gameId, keccak256(abi.encode(g.claimId, g.pending, op, row, col)));
    }

    /// @notice Committee: the verdict of the vote on game `voteId` (a game already ended, by another game's
    ///         slash, takes no verdict).
    function settleVote(bytes32 voteId, bool outside) external {
        if (msg.sender != address(committee)) revert NotCommittee(msg.sender);
        PartitionGame storage g = _partition[voteId];
        if (g.phase != Phase.Vote) return;
        _end(voteId, g, outside ? GameOutcome.ChallengerWon : GameOutcome.ProverWon);
    }

    /// @dev Verifies an element challenge against the game's fine root (inputs from earlier boundaries against
    ///      the coarse root) and decides the bound.
    function _adjudicateFine(PartitionGame storage g, FineChallenge calldata c)
        private
        view
        returns (bool inside, uint32 yBits)
    {
        bytes32 modelId = _modelId(g);
        ElementChallenge calldata e = c.element;
        _checkNode(modelId, g.prompt, g.steps, e);
        (uint32 start, uint32 end) = (g.segStart, g.segEnd);
        // INVARIANT: the op is one of the disputed segment's.
        if (e.op < start || e.op >= end) revert OpNotInSegment(e.op, start, end);
        uint256 fine = uint256(end) - start + 1;
        Loc memory out = Loc(g.pending, uint256(e.op) + 1 - start, fine);
        Loc memory in1 = _traceLoc(g, e.op, e.node.input, c.inputSegment);
        Loc memory in2 = readsInput2(e.node.kind) ? _traceLoc(g, e.op, e.node.input2, c.input2Segment) : in1;
        (bytes32 weightsRoot, uint32 weightCount) = registry.weightsOf(modelId);
        return adjudicator.adjudicate(weightsRoot, weightCount, e, out, in1, in2);
    }

    /// @dev Where trace tensor `t`, read by `op` of the disputed segment, is committed: under the fine root when
    ///      it is inside the segment, else under the coarse root (the claim input, or the boundary `so` ends at).
    function _traceLoc(PartitionGame storage g, uint32 op, uint32 t, SegmentOpening calldata so)
        private
        view
        returns (Loc memory)
    {
        uint32 start = g.segStart;
        if (t >= start) return Loc(g.pending, t - start, uint256(g.segEnd) - start + 1);
        uint256 leaves = uint256(g.segments) + 1;
        if (t == 0) return Loc(g.traceRoot, 0, leaves);
        return Loc(g.traceRoot, _boundaryOf(g, op, t, so), leaves);
    }

    /// @dev The coarse leaf of trace tensor `t` read by `op` from an earlier segment: `so` must be the segment
    ///      that ends at `t`.
    function _boundaryOf(PartitionGame storage g, uint32 op, uint32 t, SegmentOpening calldata so)
        private
        view
        returns (uint256)
    {
        // INVARIANT: an input from an earlier segment is committed only if it is that segment's boundary.
        if (so.segment.end != t) revert InputNotCommitted(op, t);
        _verifySegment(g, so);
        return uint256(so.index) + 1;
    }

    /// @dev Reverts unless `so` is segment `so.index` of the model, against its segments root.
    function _verifySegment(PartitionGame storage g, SegmentOpening calldata so) private view {
        registry.checkSegment(_modelId(g), g.steps, so.index, so.segment, so.proof);
    }

    // ------------------------------------------------------------------ clocks

    /// @notice Ends a game whose mover can no longer move: its clock ran out (the other side wins), or the
    ///         game no longer decides anything: the claim was slashed by another game and its reward grace is
    ///         over (moot: the challenger's bond goes back). Anyone may call.
    function timeout(bytes32 gameId) external returns (GameOutcome outcome) {
        PartitionGame storage g = _active(gameId);
        if (!claims.contested(g.claimId)) {
            outcome = GameOutcome.Moot;
        } else {
            // INVARIANT: no clock runs while the committee votes (its own windows bound the vote).
            if (g.phase == Phase.Vote) revert WrongPhase(gameId, uint8(g.phase), uint8(Phase.Element));
            Side side = _sideOf(g.phase);
            Clock c = g.clock;
            (uint256 elapsed, uint64 left) = (c.elapsed(), c.left(side));
            // INVARIANT: a side loses on time only once its whole budget is spent.
            if (elapsed <= left) revert ClockNotExpired(gameId, uint8(side), left - elapsed);
            g.clock = c.runOut(side);
            outcome = side == Side.Prover ? GameOutcome.ChallengerWon : GameOutcome.ProverWon;
            emit ClockTimedOut(gameId, side);
        }
        _end(gameId, g, outcome);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Creates the sender's partition game on inference `inf` of `claimId` (its trace root already checked) at
    ///      `start` over segments [lo, hi) and opens it in `ClaimManager` with the bond of the sender's commitment
    ///      made with `salt` (its rank is the game's).
    function _create(
        bytes32 claimId,
        Claim memory cl,
        InferenceOpening calldata inf,
        uint32 segments,
        Position start,
        uint32 lo,
        uint32 hi,
        bytes32 loRoot,
        bytes32 hiRoot,
        bytes32 salt
    ) private returns (bytes32 gameId, PartitionGame storage g) {
        gameId = partitionGameIdOf(claimId, inf.index, msg.sender, start);
        g = _partition[gameId];
        // INVARIANT: a game id names one game, forever.
        if (g.phase != Phase.None) revert GameExists(gameId);
        g.claimId = claimId;
        g.traceRoot = inf.traceRoot;
        g.inference = inf.index;
        g.prompt = inf.prompt;
        g.steps = inf.steps;
        g.challenger = msg.sender;
        g.phase = hi - lo == 1 ? Phase.Fine : Phase.Reveal;
        g.position = start;
        g.clock = LibClock.start(clockBudget);
        g.lo = lo;
        g.hi = hi;
        g.prover = cl.prover;
        g.segments = segments;
        g.loRoot = loRoot;
        g.hiRoot = hiRoot;
        emit GameCreated(gameId, claimId, msg.sender, cl.prover, inf.index, start, lo, hi, loRoot, hiRoot);
        g.rank = claims.openGame(claimId, msg.sender, salt);
    }

    /// @dev A challengeable claim, its model, (checked against its batch root) the inference `inf` it holds, and
    ///      that inference's segment count.
    function _open(bytes32 claimId, InferenceOpening calldata inf)
        private
        view
        returns (Claim memory cl, uint32 segments)
    {
        cl = claims.challengeable(claimId);
        claims.traceRootOf(cl, inf);
        (, segments) = registry.counts(cl.modelId, inf.prompt, inf.steps);
    }

    /// @dev The id of the model of game `g`'s claim.
    function _modelId(PartitionGame storage g) private view returns (bytes32) {
        return claims.claim(g.claimId).modelId;
    }

    /// @dev The running game `gameId`.
    function _active(bytes32 gameId) private view returns (PartitionGame storage g) {
        g = _partition[gameId];
        if (g.phase == Phase.None) revert UnknownGame(gameId);
        if (g.phase == Phase.Ended) revert GameOver(gameId);
    }

    /// @dev Starts a move of level `phase`: checks level, turn and clock; stops the mover's clock (starting the
    ///      other's) and returns the mover's time left.
    function _move(bytes32 gameId, PartitionGame storage g, Phase phase) private returns (uint64 left) {
        _active(gameId);
        // INVARIANT: a move belongs to the level the game is at.
        if (g.phase != phase) revert WrongPhase(gameId, uint8(g.phase), uint8(phase));
        Side side = _sideOf(phase);
        address who = side == Side.Prover ? g.prover : g.challenger;
        // INVARIANT: only the side to move moves.
        if (msg.sender != who) revert NotMover(gameId, msg.sender, who);
        (Clock next, uint64 kept, uint256 over) = g.clock.charge(side);
        // INVARIANT: no move after the mover's clock ran out.
        if (over != 0) revert ClockExpired(gameId, uint8(side), over);
        (g.clock, left) = (next, kept);
    }

    function _end(bytes32 gameId, PartitionGame storage g, GameOutcome outcome) private {
        g.phase = Phase.Ended;
        g.outcome = outcome;
        emit GameEnded(gameId, g.claimId, g.challenger, outcome);
        claims.closeGame(g.claimId, g.challenger, g.rank, outcome);
    }

    /// @dev The current range [lo, hi] and the width of its child ranges.
    function _childWidth(PartitionGame storage g) private view returns (uint256 lo, uint256 hi, uint256 w) {
        (lo, hi) = (g.lo, g.hi);
        uint256 k = arity;
        uint256 d = g.position.depth(k);
        w = LibPosition.pow(k, LibPosition.leafDepth(k, g.segments) - d - 1);
    }

    function _sideOf(Phase phase) private pure returns (Side) {
        return phase == Phase.Reveal || phase == Phase.Fine || phase == Phase.Open ? Side.Prover : Side.Challenger;
    }

    function _rootLeaf(bytes32 root) private pure returns (bytes32) {
        return TensorMerkle.leafHash(abi.encodePacked(root));
    }

    /// @dev Reverts unless `b` is leaf `index` of the coarse trace `traceRoot` of a model with `segments` segments.
    function _verifyBoundary(bytes32 traceRoot, uint32 segments, uint32 index, BoundaryOpening calldata b)
        private
        pure
    {
        TensorMerkle.verify(traceRoot, _rootLeaf(b.root), index, uint256(segments) + 1, b.proof);
    }

    /// @dev The op is a node of the concrete graph for these lengths, described as its template gives it,
    ///      reading an earlier tensor, and the element is inside its output.
    function _checkNode(bytes32 modelId, uint32 prompt, uint32 steps, ElementChallenge calldata c)
        private
        view
    {
        OpNode calldata n = c.node;
        // INVARIANT: the op is a node of the registered graph, described exactly as registered.
        registry.checkNode(modelId, prompt, steps, c.op, abi.encode(n), c.nodePatches, c.nodeProof);
        // INVARIANT: an op reads the claim input or an earlier op's output.
        if (n.input > c.op) revert BadOpInput(c.op, n.input);
        if (readsInput2(n.kind) && n.input2 > c.op) revert BadOpInput(c.op, n.input2);
        if (c.row >= n.rows || c.col >= n.cols) revert ElementOutOfRange(c.row, c.col);
    }
}
