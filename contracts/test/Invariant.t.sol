// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Fixture} from "./Fixture.t.sol";
import {LibPosition} from "../src/lib/Position.sol";
import {Tree} from "./Fixture.t.sol";
import {
    Claim,
    TensorOpening,
    Inference,
    InferenceOpening,
    ClaimStatus,
    GameOutcome,
    Phase,
    PartitionGame,
    SegmentPointer,
    BoundaryOpening,
    FineAnswer,
    FineChallenge,
    ElementRequest
} from "../src/lib/Types.sol";

/// @notice Plays adversarial partition games on the fixture model. Three provers post claims: the first only
///         honest ones, the others honest or corrupt. Three challengers commit and bisect or point: the first
///         (the honest watcher) only against corrupt claims, and always with the right move; the others against
///         any claim with random legal moves, so they copy the watcher's element (segment 1 has one op), front-run
///         it in the same or a later block, challenge their own provers' claims, or request elements a prover
///         withheld. The honest parties move in every game of theirs before time passes, as a live node does;
///         anyone times games out, finalizes, pays rewards, withdraws. Ghost state records what the invariants
///         compare against.
contract GameHandler is Fixture {
    address[3] internal provers = [address(0xB0B), address(0xB0B2), address(0xB0B3)];
    address[3] internal challengers = [address(0xA11CE), address(0xA11CE2), address(0xA11CE3)];

    bytes32[] public claimIds;
    bytes32[] public gameIds;
    bytes32[] public requestIds;
    mapping(bytes32 => bool) internal isCorrupt;
    /// First terminal status seen per claim, first outcome seen per game (0: not yet).
    mapping(bytes32 => ClaimStatus) public settledAs;
    mapping(bytes32 => GameOutcome) public endedAs;
    uint256 public deposited;
    uint256 public withdrawn;
    uint256 public moves;
    /// ETH each actor put in (bonds) and took out (withdrawals).
    mapping(address => uint256) public paidIn;
    mapping(address => uint256) public tookOut;

    function setUp() public override {
        super.setUp();
        for (uint256 i; i < 3; ++i) {
            vm.deal(provers[i], 100 ether);
            vm.deal(challengers[i], 100 ether);
        }
    }

    function actors() external view returns (address[6] memory a) {
        for (uint256 i; i < 3; ++i) {
            a[i] = provers[i];
            a[i + 3] = challengers[i];
        }
    }

    function claimCount() external view returns (uint256) {
        return claimIds.length;
    }

    function gameCount() external view returns (uint256) {
        return gameIds.length;
    }

    // ------------------------------------------------------------------ actions

    function post(uint8 who, bool corrupt) external {
        // a batch of one inference, honest or corrupt
        Inference[] memory batch = batchOf(fxTraceRoot(corrupt));
        address p = provers[who % 3];
        bytes32 id = claims.claimIdOf(fxModel, inferenceLeaf(batch[0]), p);
        if (claims.openGames(id) != 0 || _exists(id)) return;
        // the first prover is honest
        if (p == provers[0] && corrupt) return;
        vm.prank(p);
        claims.postClaim{value: CLAIM_BOND}(fxModel, packed(batch), "fixture");
        claimIds.push(id);
        isCorrupt[id] = corrupt;
        deposited += CLAIM_BOND;
        paidIn[p] += CLAIM_BOND;
    }

    function bisect(uint8 claimSeed, uint8 who) external {
        if (claimIds.length == 0) return;
        bytes32 id = claimIds[claimSeed % claimIds.length];
        address c = challengers[who % 3];
        if (!_challengeable(id)) return;
        // the honest watcher challenges only what is false
        if (c == challengers[0] && !isCorrupt[id]) return;
        bytes32 gid = game.partitionGameIdOf(id, 0, c, LibPosition.root());
        if (game.partitionGame(gid).phase != Phase.None) return;
        bool corrupt = isCorrupt[id];
        InferenceOpening memory inf = fxInf(corrupt);
        (BoundaryOpening memory input, BoundaryOpening memory output) = (fxInput(corrupt), fxOutput(corrupt));
        bytes32 salt = _commit(c, id);
        vm.prank(c);
        game.bisect(id, inf, input, output, salt);
        gameIds.push(gid);
    }

    function point(uint8 claimSeed, uint8 who, uint8 seg) external {
        if (claimIds.length == 0) return;
        bytes32 id = claimIds[claimSeed % claimIds.length];
        address c = challengers[who % 3];
        uint32 s = uint32(seg % FX_SEGMENTS);
        if (!_challengeable(id)) return;
        // the honest watcher points at the segment that is wrong
        if (c == challengers[0] && (!isCorrupt[id] || s != 1)) return;
        bytes32 gid = game.partitionGameIdOf(id, 0, c, LibPosition.node(ARITY, 2, s));
        if (game.partitionGame(gid).phase != Phase.None) return;
        SegmentPointer memory p = fxPointer(isCorrupt[id], s);
        InferenceOpening memory inf = fxInf(isCorrupt[id]);
        bytes32 salt = _commit(c, id);
        vm.prank(c);
        game.pointSegment(id, inf, p, salt);
        gameIds.push(gid);
    }

    /// The side to move of a random game makes a legal move (if its clock allows); the honest watcher's move is
    /// always the right one.
    function move(uint8 gameSeed, uint8 choice) external {
        if (gameIds.length == 0) return;
        _move(gameIds[gameSeed % gameIds.length], choice);
    }

    function _move(bytes32 gid, uint8 choice) internal {
        PartitionGame memory g = game.partitionGame(gid);
        if (g.phase == Phase.None || g.phase == Phase.Ended) return;
        (uint64 pl, uint64 cl) = game.clocks(gid);
        bool corrupt = isCorrupt[g.claimId];
        if (g.phase == Phase.Reveal || g.phase == Phase.Fine || g.phase == Phase.Open) {
            if (pl == 0) return;
        } else if (cl == 0) {
            return;
        }
        ++moves;
        if (g.phase == Phase.Reveal) {
            (uint256 w, uint256 count) = _children(g);
            (BoundaryOpening[] memory r,) = fxReveal(corrupt, g.lo, w, count);
            vm.prank(g.prover);
            game.reveal(gid, r);
        } else if (g.phase == Phase.Pick) {
            (uint256 w, uint256 count) = _children(g);
            (, bytes32[] memory roots) = fxReveal(corrupt, g.lo, w, count);
            uint256 child = g.challenger == challengers[0] ? (1 - g.lo) / w : choice % (count + 1);
            vm.prank(g.challenger);
            game.pick(gid, child, roots);
        } else if (g.phase == Phase.Fine) {
            FineAnswer memory a = fxFine(corrupt, g.lo);
            vm.prank(g.prover);
            game.postFine(gid, a);
        } else if (g.phase == Phase.Open) {
            FineChallenge memory c = fxElement(corrupt, g.reqOp);
            vm.prank(g.prover);
            game.openRequested(gid, c);
        } else {
            uint256 op = g.segStart + choice % (g.segEnd - g.segStart);
            if (choice & 0x80 != 0 && g.challenger != challengers[0]) {
                ElementRequest memory r = fxRequest(op);
                vm.prank(g.challenger);
                game.requestElement(gid, r);
            } else {
                FineChallenge memory c = fxElement(corrupt, op);
                vm.prank(g.challenger);
                game.openElement(gid, c);
            }
        }
        _record();
    }

    /// Time passes (after the honest parties moved in every game of theirs, as a live node does).
    function warp(uint32 secs) external {
        _honestMoves();
        vm.warp(block.timestamp + secs % (CLOCK + 2 hours));
    }

    /// A new block (a commitment made in the last one becomes usable).
    function roll() external {
        vm.roll(block.number + 1);
    }

    /// A challenger asks for a chunk of a claim's coarse trace (data it says it lacks).
    function requestData(uint8 claimSeed, uint8 who, uint8 leaf) external {
        if (claimIds.length == 0) return;
        bytes32 id = claimIds[claimSeed % claimIds.length];
        address c = challengers[who % 3];
        // the honest watcher has every trace it needs: it never asks
        if (c == challengers[0] || claims.claim(id).status != ClaimStatus.Pending) return;
        InferenceOpening memory inf = fxInf(isCorrupt[id]);
        vm.prank(c);
        try claims.requestData{value: DATA_BOND}(id, bytes32(0), inf, leaf % (FX_SEGMENTS + 1), 0, 1) returns (
            bytes32 rid
        ) {
            requestIds.push(rid);
            deposited += DATA_BOND;
            paidIn[c] += DATA_BOND;
        } catch {}
    }

    /// The claim's prover publishes requested data (a dishonest prover only sometimes).
    function publish(uint8 requestSeed) external {
        if (requestIds.length == 0) return;
        _publish(requestIds[requestSeed % requestIds.length]);
    }

    /// Anyone ends a request whose deadline passed unanswered.
    function expireData(uint8 requestSeed) external {
        if (requestIds.length == 0) return;
        try claims.expireData(requestIds[requestSeed % requestIds.length]) {} catch {}
        _record();
    }

    /// Anyone pays a slashed claim's reward out once its grace is over.
    function payReward(uint8 claimSeed) external {
        if (claimIds.length == 0) return;
        try claims.payReward(claimIds[claimSeed % claimIds.length]) {} catch {}
    }

    function timeout(uint8 gameSeed) external {
        if (gameIds.length == 0) return;
        bytes32 gid = gameIds[gameSeed % gameIds.length];
        try game.timeout(gid) {} catch {}
        _record();
    }

    function finalize(uint8 claimSeed) external {
        if (claimIds.length == 0) return;
        try claims.finalize(claimIds[claimSeed % claimIds.length]) {} catch {}
        _record();
    }

    function withdraw(uint8 who) external {
        address a = who % 2 == 0 ? provers[who % 3] : challengers[who % 3];
        uint256 amount = claims.credit(a);
        if (amount == 0) return;
        vm.prank(a);
        claims.withdraw();
        withdrawn += amount;
        tookOut[a] += amount;
    }

    // ------------------------------------------------------------------ end of a run

    /// Ends everything: time passes beyond every clock and window, every game is timed out, every claim
    /// finalized, every credit withdrawn.
    function settleAll() external {
        for (uint256 round; round < 8; ++round) {
            _honestMoves();
        }
        vm.warp(block.timestamp + WINDOW + 2 * CLOCK + DATA_WINDOW + 1);
        for (uint256 i; i < gameIds.length; ++i) {
            if (game.partitionGame(gameIds[i]).phase != Phase.Ended) game.timeout(gameIds[i]);
        }
        for (uint256 i; i < requestIds.length; ++i) {
            (bytes32 id,,,,,,,,) = claims.dataRequests(requestIds[i]);
            if (id != bytes32(0)) claims.expireData(requestIds[i]);
        }
        vm.warp(block.timestamp + GRACE + 1);
        for (uint256 i; i < gameIds.length; ++i) {
            if (game.partitionGame(gameIds[i]).phase != Phase.Ended) game.timeout(gameIds[i]);
        }
        for (uint256 i; i < claimIds.length; ++i) {
            ClaimStatus s = claims.claim(claimIds[i]).status;
            if (s == ClaimStatus.Pending) claims.finalize(claimIds[i]);
            else if (s == ClaimStatus.Slashed && !_rewardPaid(claimIds[i])) claims.payReward(claimIds[i]);
        }
        _record();
        for (uint8 i; i < 6; ++i) {
            this.withdraw(i);
        }
    }

    // ------------------------------------------------------------------ internals

    function _rewardPaid(bytes32 id) internal view returns (bool paid) {
        (,,, paid,) = claims.rewards(id);
    }

    function _commit(address c, bytes32 id) internal returns (bytes32 salt) {
        salt = commit(c, id);
        deposited += CHALLENGE_BOND;
        paidIn[c] += CHALLENGE_BOND;
    }

    function _publish(bytes32 rid) internal {
        (bytes32 id,,, uint32 leaf,,,,,) = claims.dataRequests(rid);
        if (id == bytes32(0)) return;
        bool corrupt = isCorrupt[id];
        uint256 t = fxCoarseIndex(leaf);
        TensorOpening memory o = fxOpening(fxTensor(corrupt, t), Tree.proof(fxCoarseLeaves(corrupt), leaf));
        uint32[] memory shape = fxShape(t);
        try claims.publishData(rid, shape, o) {} catch {}
    }

    /// The honest prover and the honest watcher move in every game where it is their turn; the honest prover
    /// publishes every chunk asked of its claims.
    function _honestMoves() internal {
        for (uint256 i; i < requestIds.length; ++i) {
            (bytes32 id,,,,,,,,) = claims.dataRequests(requestIds[i]);
            if (id != bytes32(0) && claims.claim(id).prover == provers[0]) _publish(requestIds[i]);
        }
        for (uint256 i; i < gameIds.length; ++i) {
            PartitionGame memory g = game.partitionGame(gameIds[i]);
            if (g.phase == Phase.None || g.phase == Phase.Ended || g.phase == Phase.Vote) continue;
            bool proverMoves = g.phase == Phase.Reveal || g.phase == Phase.Fine || g.phase == Phase.Open;
            address mover = proverMoves ? g.prover : g.challenger;
            if (mover == provers[0] || mover == challengers[0]) _move(gameIds[i], 0);
        }
    }

    function _children(PartitionGame memory g) internal pure returns (uint256 w, uint256 count) {
        uint256 d = g.position.depth(ARITY);
        w = LibPosition.pow(ARITY, LibPosition.leafDepth(ARITY, g.segments) - d - 1);
        count = (uint256(g.hi) - g.lo + w - 1) / w - 1;
    }

    function _exists(bytes32 id) internal view returns (bool) {
        for (uint256 i; i < claimIds.length; ++i) {
            if (claimIds[i] == id) return true;
        }
        return false;
    }

    function _challengeable(bytes32 id) internal view returns (bool) {
        return claims.claim(id).status == ClaimStatus.Pending && block.timestamp < claims.windowClosesAt(id);
    }

    /// Records the first terminal state of every claim and game.
    function _record() internal {
        for (uint256 i; i < claimIds.length; ++i) {
            ClaimStatus s = claims.claim(claimIds[i]).status;
            if (settledAs[claimIds[i]] == ClaimStatus.None && s != ClaimStatus.Pending) settledAs[claimIds[i]] = s;
        }
        for (uint256 i; i < gameIds.length; ++i) {
            GameOutcome o = game.partitionGame(gameIds[i]).outcome;
            if (endedAs[gameIds[i]] == GameOutcome.None && o != GameOutcome.None) endedAs[gameIds[i]] = o;
        }
    }

    function claimManager() external view returns (address) {
        return address(claims);
    }

    function disputeGame() external view returns (address) {
        return address(game);
    }

    function challengeBondOf() external pure returns (uint256) {
        return CHALLENGE_BOND;
    }
}

/// @notice What forge's invariant runner reads to know which calls to fuzz (forge-std's `StdInvariant`, which
///         PRBTest lacks).
struct FuzzSelector {
    address addr;
    bytes4[] selectors;
}

/// @notice Invariants of the partition game under random play.
contract GameInvariantTest is PRBTest {
    GameHandler internal h;
    address[] internal _targets;
    FuzzSelector[] internal _selectors;

    function targetContracts() public view returns (address[] memory) {
        return _targets;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _selectors;
    }

    function setUp() public {
        h = new GameHandler();
        h.setUp();
        bytes4[] memory selectors = new bytes4[](14);
        selectors[0] = GameHandler.post.selector;
        selectors[1] = GameHandler.bisect.selector;
        selectors[2] = GameHandler.point.selector;
        selectors[3] = GameHandler.move.selector;
        selectors[4] = GameHandler.move.selector;
        selectors[5] = GameHandler.warp.selector;
        selectors[6] = GameHandler.timeout.selector;
        selectors[7] = GameHandler.finalize.selector;
        selectors[8] = GameHandler.withdraw.selector;
        selectors[9] = GameHandler.roll.selector;
        selectors[10] = GameHandler.payReward.selector;
        selectors[11] = GameHandler.requestData.selector;
        selectors[12] = GameHandler.publish.selector;
        selectors[13] = GameHandler.expireData.selector;
        _selectors.push(FuzzSelector({addr: address(h), selectors: selectors}));
        _targets.push(address(h));
    }

    /// The handler's moves are legal: a corrupt claim pointed at its bad segment is slashed through them.
    function test_handler_playsAGameToTheEnd_succeeds() public {
        h.post(1, true); // the first prover is honest: the second posts the corrupt claim
        h.point(0, 0, 1);
        h.move(0, 0); // postFine
        h.move(0, 0); // openElement of op2 (the only op of segment 1)
        assertEq(uint8(ClaimManagerView(h.claimManager()).claim(h.claimIds(0)).status), uint8(ClaimStatus.Slashed));
        h.bisect(0, 1); // too late: slashed claims cannot be challenged, nothing happens
        assertEq(h.gameCount(), 1);
        h.settleAll();
        // half the corrupt claim's bond burned, the rest paid out
        assertEq(h.claimManager().balance, ClaimManagerView(h.claimManager()).burned());
    }

    /// ETH in = ETH held + ETH out, and what is held is exactly credits + pending claim bonds + open game bonds +
    /// bonds behind unused commitments + unpaid rewards + burned.
    function invariant_ethConserved() public {
        ClaimManagerView cm = ClaimManagerView(h.claimManager());
        uint256 held = address(cm).balance;
        assertEq(held + h.withdrawn(), h.deposited(), "deposits = held + withdrawn");
        assertEq(h.disputeGame().balance, 0, "the game holds no ETH");
        uint256 owed;
        address[6] memory a = h.actors();
        for (uint256 i; i < 6; ++i) {
            owed += cm.credit(a[i]);
        }
        for (uint256 i; i < h.claimCount(); ++i) {
            bytes32 id = h.claimIds(i);
            if (cm.claim(id).status == ClaimStatus.Pending) owed += cm.claim(id).bond;
            owed += cm.openGames(id) * h.challengeBondOf();
        }
        owed += cm.committed() + cm.requested() + cm.escrowed() + cm.burned();
        assertEq(held, owed, "held = credits + bonds + commitments + rewards + burned");
    }

    /// A settled claim and an ended game never change.
    function invariant_settledNeverChanges() public {
        ClaimManagerView cm = ClaimManagerView(h.claimManager());
        for (uint256 i; i < h.claimCount(); ++i) {
            bytes32 id = h.claimIds(i);
            ClaimStatus first = h.settledAs(id);
            if (first != ClaimStatus.None) assertEq(uint8(cm.claim(id).status), uint8(first), "claim changed");
        }
        GameView gv = GameView(h.disputeGame());
        for (uint256 i; i < h.gameCount(); ++i) {
            bytes32 gid = h.gameIds(i);
            GameOutcome first = h.endedAs(gid);
            if (first != GameOutcome.None) {
                PartitionGame memory g = gv.partitionGame(gid);
                assertEq(uint8(g.outcome), uint8(first), "game changed");
                assertEq(uint8(g.phase), uint8(Phase.Ended), "ended game reopened");
            }
        }
    }

    /// Every game ends and no ETH is stuck: once time passes, every game times out, every claim finalizes
    /// and every credit can be withdrawn, leaving the claim manager empty.
    function afterInvariant() public {
        h.settleAll();
        GameView gv = GameView(h.disputeGame());
        for (uint256 i; i < h.gameCount(); ++i) {
            assertEq(uint8(gv.partitionGame(h.gameIds(i)).phase), uint8(Phase.Ended), "a game did not end");
        }
        ClaimManagerView cm = ClaimManagerView(h.claimManager());
        for (uint256 i; i < h.claimCount(); ++i) {
            assertTrue(cm.claim(h.claimIds(i)).status != ClaimStatus.Pending, "a claim did not settle");
            // a corrupt claim that a challenger fought to the end is never finalized
        }
        ClaimManagerView m = ClaimManagerView(h.claimManager());
        assertEq(m.committed() + m.requested() + m.escrowed(), 0, "a commitment, request or reward left behind");
        assertEq(h.claimManager().balance, m.burned(), "ETH stuck beyond what was burned");
        assertEq(h.deposited(), h.withdrawn() + m.burned(), "every wei came back out or was burned");
        // honesty never loses: the honest prover and the honest watcher take out at least what they put in
        address[6] memory a = h.actors();
        assertGte(h.tookOut(a[0]), h.paidIn(a[0]), "the honest prover lost");
        assertGte(h.tookOut(a[3]), h.paidIn(a[3]), "the honest watcher lost");
    }
}

interface ClaimManagerView {
    function credit(address) external view returns (uint256);
    function committed() external view returns (uint256);
    function requested() external view returns (uint256);
    function escrowed() external view returns (uint256);
    function burned() external view returns (uint256);
    function openGames(bytes32) external view returns (uint256);
    /// The real struct, not a copy of it: a copy fell out of step with `Claim` (bond moved, count added) and
    /// every decode of it reverted.
    function claim(bytes32) external view returns (Claim memory);
}

interface GameView {
    function partitionGame(bytes32) external view returns (PartitionGame memory);
}
