// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ModelRegistry} from "./ModelRegistry.sol";
import {TensorMerkle} from "./lib/TensorMerkle.sol";
import {
    Claim, ClaimStatus, GameOutcome, Inference, InferenceOpening, PartitionGame, Phase, TensorOpening
} from "./lib/Types.sol";

/// @notice What the claim manager reads of a partition game: its fine root, for requests of fine-trace data.
interface IPartitionGames {
    /// @notice A partition game (its `pending` is the fine root from phase `Element` on).
    function partitionGame(bytes32 gameId) external view returns (PartitionGame memory);
}
import {
    WrongBond,
    LeafOutOfList,
    ClaimExists,
    UnknownClaim,
    ClaimNotPending,
    ChallengeWindowOpen,
    ChallengeWindowClosed,
    NotDisputeGame,
    GameBindingRefused,
    NothingToWithdraw,
    TransferFailed,
    GamesOpen,
    CommitmentExists,
    UnknownCommitment,
    CommitmentTooFresh,
    CommitmentNotExpired,
    ClaimNotSlashed,
    RewardNotSettled,
    RewardPaid,
    BadDataRequest,
    DataRequestExists,
    UnknownDataRequest,
    WrongChunks,
    DataDeadlineOpen,
    NoFineRoot,
    AlreadyPublished,
    BadBatchSize,
    BadBatchEncoding,
    InferenceOutOfRange,
    UnknownModel
} from "./lib/Errors.sol";

/// @title ClaimManager
/// @notice Holds claims and every bond. A claim is posted with a bond and may be challenged while its window is
///         open; it is finalized after its window once no game against it is open.
///
///   **A claim is a batch.** One claim commits up to `MAX_BATCH` inferences of one model: their coarse trace roots
///   are posted (in the calldata and the `ClaimPosted` log, so nobody can withhold them) and their list root is
///   the claim's `batchRoot`. One bond, one window and one finalization cover the batch; every game names the
///   inference it disputes (`InferenceOpening`), and a fraud in any one slashes the claim.
///
///   **Challenges are committed before they are made.** A challenger first locks `challengeBond` behind an opaque
///   commitment `keccak256(abi.encode(claimId, challenger, salt))` (`commitChallenge`); a game is opened with the
///   salt in a later block, and the commitment's block becomes the game's rank. Nobody can read from a
///   commitment which claim it names, so a copier who learns of a fraud from a watcher's moves can only commit
///   after the watcher did, and ranks behind it.
///
///   **A slash burns half and rewards the earliest.** The first game a challenger wins slashes the claim: half of
///   the claim bond is burned (`BURN_BPS`; nobody, the prover included, can recover it, so a prover who
///   challenges its own false claim loses at least half), the rest is the reward. For `rewardGrace` seconds
///   after the slash the games still open against the claim play on, and a challenger who wins one with an
///   earlier rank takes the reward over; then `payReward` credits it to the earliest-ranked winner. Every
///   challenger who wins gets its bond back; a game that cannot end before the grace is over is moot (bond back).
///
///   **Withheld data is asked for on-chain.** Anyone may ask, with a small `dataBond`, for up to
///   `MAX_DATA_CHUNKS` chunks of one tensor the claim commits (a coarse boundary) or a game's fine root commits
///   (`requestData`). Anyone may publish them within `dataWindow` (`publishData`, verified against the root; the
///   chunks go into the logs, where every node can read them): the bond then pays the prover for publishing,
///   and the claim's challenge window stays open at least `dataWindow` after it. Unpublished by the deadline,
///   the data was withheld: `expireData` slashes the claim as a lost game would, the requester ranked by its
///   request's block. A claim with an open request does not finalize. Withholding thus never pays, and never
///   costs a watcher more than the small bond: it asks before it challenges.
///
///   Payouts are pulled (`withdraw`). ETH held = credits + bonds of pending claims + bonds of open games + bonds
///   of held commitments + bonds of open data requests + unpaid rewards + burned, always.
contract ClaimManager {
    /// @notice Share of a slashed claim's bond that is burned, in basis points (the rest is the reward).
    uint256 public constant BURN_BPS = 5000;
    /// @notice Most chunks one data request asks for: what one publishing transaction can carry (24 x 4 KiB).
    uint32 public constant MAX_DATA_CHUNKS = 24;
    /// @notice Most inferences one claim commits (posting 1024 costs about 1.7M gas).
    uint32 public constant MAX_BATCH = 1024;
    /// @notice Bytes of one inference in a packed batch (`postClaim`, `ClaimPosted`): traceRoot, prompt, steps.
    uint256 public constant INFERENCE_BYTES = 40;

    /// @notice The model registry claims refer to.
    ModelRegistry public immutable registry;
    /// @notice Seconds a claim stays open to challenges.
    uint64 public immutable challengeWindow;
    /// @notice Bond a prover locks with each claim.
    uint256 public immutable claimBond;
    /// @notice Bond a challenger locks with each challenge commitment (and so each game).
    uint256 public immutable challengeBond;
    /// @notice Seconds after a slash during which games still open against the claim may win its reward with an
    ///         earlier rank (the node deploys two clock budgets: every game open at the slash can end in it).
    uint64 public immutable rewardGrace;
    /// @notice Bond of a data request: it pays the prover for publishing (`publishData`).
    uint256 public immutable dataBond;
    /// @notice Seconds a prover has to publish requested data, and the least time a claim stays challengeable after.
    uint64 public immutable dataWindow;
    /// @notice The dispute-game contract allowed to settle challenges.
    address public disputeGame;

    /// @dev A challenge commitment: who made it, when, and in which block (the rank of the game it opens).
    struct Commitment {
        address challenger;
        uint64 committedAt;
        uint64 blockNumber;
    }

    /// @dev A request for chunks [first, first + count) of leaf `leaf` of the list of `leafCount` tensor roots
    ///      with root `root` (the claim's coarse trace root, or a game's fine root).
    struct DataRequest {
        bytes32 claimId;
        address requester;
        bytes32 root;
        uint32 leaf;
        uint32 leafCount;
        uint32 first;
        uint32 count;
        uint64 deadline;
        uint64 rank;
    }

    /// @dev The reward of a slashed claim: its current winner and that winner's rank, the slash time, the amount.
    struct Reward {
        address winner;
        uint64 rank;
        uint64 slashedAt;
        bool paid;
        uint256 amount;
    }

    address private immutable _deployer;
    mapping(bytes32 claimId => Claim) internal _claims;
    /// @notice ETH each account may withdraw.
    mapping(address account => uint256) public credit;
    /// @notice Games open against each claim (a claim finalizes only when none is).
    mapping(bytes32 claimId => uint256) public openGames;
    /// @notice Challenge commitments held, by hash.
    mapping(bytes32 commitment => Commitment) public commitments;
    /// @notice The reward of each slashed claim.
    mapping(bytes32 claimId => Reward) public rewards;
    /// @notice ETH burned by slashes and expired commitments: held here forever.
    uint256 public burned;
    /// @notice Rewards of slashed claims not yet paid.
    uint256 public escrowed;
    /// @notice Bonds locked behind commitments not yet used.
    uint256 public committed;
    /// @notice Open data requests, by id.
    mapping(bytes32 requestId => DataRequest) public dataRequests;
    /// @notice Data requests open against each claim (a claim finalizes only when none is).
    mapping(bytes32 claimId => uint256) public openRequests;
    /// @notice When each claim's challenge window closes, if published data pushed it past `postedAt + window`.
    mapping(bytes32 claimId => uint256) public windowExtendedTo;
    /// @notice Bonds of open data requests.
    uint256 public requested;
    /// @notice Chunks published in answer to a request, by keccak256(root, leaf, chunk): they are in the logs
    ///         for good, and asking for them again is refused.
    mapping(bytes32 chunkKey => bool) public published;

    /// @notice A claim was posted: a batch of inferences (their coarse trace roots and lengths, in order; their
    ///         list root is `batchRoot`), whose tensors the prover serves at `dataUri`. `inferences` are the packed
    ///         bytes `postClaim` was sent (`pack`): 40 an inference, its batch leaf's preimage after the 0x00 prefix.
    event ClaimPosted(
        bytes32 indexed claimId,
        bytes32 indexed modelId,
        address indexed prover,
        bytes32 batchRoot,
        bytes inferences,
        uint256 bond,
        string dataUri
    );
    /// @notice A claim outlived its window; its bond was credited back to the prover.
    event ClaimFinalized(bytes32 indexed claimId, address indexed prover, uint256 bond);
    /// @notice A challenge proved the claim wrong: `burnt` of the claim bond was burned, `reward` is held for the
    ///         earliest-ranked winner (for now `challenger`, of rank `rank`).
    event ProverSlashed(
        bytes32 indexed claimId, address indexed challenger, uint64 rank, uint256 burnt, uint256 reward
    );
    /// @notice A challenge failed; the challenger's bond was credited to the prover.
    event ChallengerSlashed(
        bytes32 indexed claimId, address indexed challenger, address indexed prover, uint256 amount
    );
    /// @notice A game against the claim opened with the commitment of block `rank`; its bond is locked until it
    ///         ends.
    event GameOpened(bytes32 indexed claimId, address indexed challenger, uint64 rank, uint256 bond);
    /// @notice A challenger's bond went back: it won after another game slashed the claim, or its game was moot.
    event ChallengeRefunded(bytes32 indexed claimId, address indexed challenger, uint256 amount);
    /// @notice A game won within the grace with an earlier rank: the reward now goes to `challenger`.
    event RewardTakenOver(bytes32 indexed claimId, address indexed challenger, uint64 rank);
    /// @notice The reward of a slashed claim was credited to its earliest-ranked winner.
    event RewardPaidOut(bytes32 indexed claimId, address indexed winner, uint256 amount);
    /// @notice `challenger` locked a challenge bond behind `commitment`.
    event ChallengeCommitted(bytes32 indexed commitment, address indexed challenger, uint256 bond);
    /// @notice A commitment to a claim another game slashed was given back to its challenger.
    event CommitmentRefunded(bytes32 indexed commitment, address indexed challenger, uint256 bond);
    /// @notice An unused commitment expired; its bond was burned.
    event CommitmentExpired(bytes32 indexed commitment, address indexed challenger, uint256 bond);
    /// @notice `requester` asked for chunks [first, first + count) of leaf `leaf` under `root`, to be published by
    ///         `deadline`.
    event DataRequested(
        bytes32 indexed requestId,
        bytes32 indexed claimId,
        address indexed requester,
        bytes32 root,
        uint32 leaf,
        uint32 first,
        uint32 count,
        uint64 deadline
    );
    /// @notice Chunk `index` of the requested tensor, published (`data`: its fp32 little-endian bytes).
    event ChunkPublished(bytes32 indexed requestId, uint32 index, bytes data);
    /// @notice Requested data was published; the request's bond went to the claim's prover.
    event DataPublished(bytes32 indexed requestId, bytes32 indexed claimId, uint256 bond);
    /// @notice Requested data was not published in time: the claim was slashed (if pending) for withholding.
    event DataWithheld(bytes32 indexed requestId, bytes32 indexed claimId, address indexed requester);
    /// @notice Credit was withdrawn.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice The dispute-game contract was bound.
    event DisputeGameBound(address game);

    /// @param registry_ Model registry.
    /// @param challengeWindow_ Seconds a claim can be challenged.
    /// @param claimBond_ Prover bond per claim.
    /// @param challengeBond_ Challenger bond per challenge.
    /// @param rewardGrace_ Seconds after a slash in which an earlier-ranked winner may take the reward over.
    /// @param dataBond_ Bond of a data request (it pays the prover's publishing).
    /// @param dataWindow_ Seconds to publish requested data.
    constructor(
        ModelRegistry registry_,
        uint64 challengeWindow_,
        uint256 claimBond_,
        uint256 challengeBond_,
        uint64 rewardGrace_,
        uint256 dataBond_,
        uint64 dataWindow_
    ) {
        registry = registry_;
        challengeWindow = challengeWindow_;
        claimBond = claimBond_;
        challengeBond = challengeBond_;
        rewardGrace = rewardGrace_;
        dataBond = dataBond_;
        dataWindow = dataWindow_;
        _deployer = msg.sender;
        // INVARIANT: a claim's bond fits the 96 bits a claim stores it in.
        if (claimBond_ > type(uint96).max) revert WrongBond(claimBond_, type(uint96).max);
    }

    /// @notice Binds the dispute-game contract, once, by the deployer.
    function bindDisputeGame(address game) external {
        // INVARIANT: the settler is fixed once and never replaced.
        if (msg.sender != _deployer || disputeGame != address(0) || game == address(0)) revert GameBindingRefused();
        disputeGame = game;
        emit DisputeGameBound(game);
    }

    /// @notice The id of a claim: a content hash of what it asserts and who asserts it.
    function claimIdOf(bytes32 modelId, bytes32 batchRoot, address prover) public pure returns (bytes32) {
        return keccak256(abi.encode(modelId, batchRoot, prover));
    }

    /// @notice The commitment `challenger` posts before challenging `claimId` (hash it off-chain the same way).
    function commitmentOf(bytes32 claimId, address challenger, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(claimId, challenger, salt));
    }

    /// @notice Posts a claim on a batch of 1 to `MAX_BATCH` inferences of registered model `modelId`, in order,
    ///         each its coarse trace root (whose first leaf is its input, its last leaf its output) and the lengths
    ///         the model serves it at, with `claimBond`. `inferences` is packed, `INFERENCE_BYTES` each (`pack`):
    ///         traceRoot, then prompt and steps as 4-byte big-endian words; the log carries the same bytes.
    function postClaim(bytes32 modelId, bytes calldata inferences, string calldata dataUri)
        external
        payable
        returns (bytes32 claimId)
    {
        if (msg.value != claimBond) revert WrongBond(msg.value, claimBond);
        uint256 count = _count(inferences);
        // INVARIANT: a claim names a registered model, and lengths its template serves.
        uint64 seen;
        for (uint256 i; i < count; ++i) {
            uint64 key; // prompt << 32 | steps
            assembly ("memory-safe") {
                key := shr(192, calldataload(add(inferences.offset, add(mul(i, 40), 32))))
            }
            // one look a run of equal lengths (a batch of one kind of request)
            if (i == 0 || key != seen) registry.counts(modelId, uint32(key >> 32), uint32(key));
            seen = key;
        }
        bytes32 batchRoot = batchRootOf(inferences);
        claimId = claimIdOf(modelId, batchRoot, msg.sender);
        // INVARIANT: a claim id names exactly one claim, forever.
        if (_claims[claimId].status != ClaimStatus.None) revert ClaimExists(claimId);
        _claims[claimId] = Claim({
            modelId: modelId,
            batchRoot: batchRoot,
            prover: msg.sender,
            postedAt: uint64(block.timestamp),
            status: ClaimStatus.Pending,
            // forge-lint: disable-next-line(unsafe-typecast)
            count: uint32(count), // count <= MAX_BATCH
            // forge-lint: disable-next-line(unsafe-typecast)
            bond: uint96(msg.value) // = claimBond, checked at deployment to fit
        });
        emit ClaimPosted(claimId, modelId, msg.sender, batchRoot, inferences, msg.value, dataUri);
    }

    /// @notice `batch` packed as `postClaim` takes it and `ClaimPosted` logs it: each inference's
    ///         `abi.encodePacked(traceRoot, prompt, steps)`, in order.
    function pack(Inference[] calldata batch) external pure returns (bytes memory out) {
        out = new bytes(batch.length * INFERENCE_BYTES);
        for (uint256 i; i < batch.length; ++i) {
            bytes32 root = batch[i].traceRoot;
            uint256 lengths = (uint256(batch[i].prompt) << 32) | batch[i].steps;
            assembly ("memory-safe") {
                let at := add(add(out, 0x20), mul(i, 40))
                mstore(at, root)
                // the lengths' 8 bytes; the word's zero tail lands on the next entry (written next) or past `out`
                mstore(add(at, 0x20), shl(192, lengths))
            }
        }
    }

    /// @notice The batch root of packed `inferences` (`pack`): the list root (`TensorMerkle.listRoot`) over leaves
    ///         sha256(0x00 || the inference's 40 bytes).
    function batchRootOf(bytes calldata inferences) public view returns (bytes32) {
        uint256 n = _count(inferences);
        bytes32[] memory leaves = new bytes32[](n);
        assembly ("memory-safe") {
            let buf := mload(0x40) // scratch past the free memory pointer
            mstore8(buf, 0)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                calldatacopy(add(buf, 1), add(inferences.offset, mul(i, 40)), 40)
                if iszero(staticcall(gas(), 2, buf, 41, 0x00, 0x20)) { revert(0, 0) }
                mstore(add(leaves, add(0x20, shl(5, i))), mload(0x00))
            }
        }
        return TensorMerkle.listRoot(leaves);
    }

    /// @dev The inferences in packed `inferences`: a whole number of `INFERENCE_BYTES`, 1 to `MAX_BATCH` of them.
    function _count(bytes calldata inferences) internal pure returns (uint256 count) {
        count = inferences.length / INFERENCE_BYTES;
        if (count * INFERENCE_BYTES != inferences.length) revert BadBatchEncoding(inferences.length);
        if (count == 0 || count > MAX_BATCH) revert BadBatchSize(count, MAX_BATCH);
    }

    /// @notice A claim; reverts with `UnknownClaim` if none.
    function claim(bytes32 claimId) public view returns (Claim memory c) {
        c = _claims[claimId];
        if (c.status == ClaimStatus.None) revert UnknownClaim(claimId);
    }

    /// @notice The coarse trace root of inference `inf.index` of claim `c`, checked with its lengths against the
    ///         claim's batch root.
    function traceRootOf(Claim memory c, InferenceOpening calldata inf) public pure returns (bytes32) {
        // INVARIANT: a dispute names an inference the batch holds, by its committed trace root and lengths.
        if (inf.index >= c.count) revert InferenceOutOfRange(inf.index, c.count);
        bytes32 leaf = TensorMerkle.leafHash(abi.encodePacked(inf.traceRoot, inf.prompt, inf.steps));
        TensorMerkle.verify(c.batchRoot, leaf, inf.index, c.count, inf.proof);
        return inf.traceRoot;
    }

    /// @notice When the challenge window of a claim closes (`challengeWindow` after it was posted, or later when
    ///         requested data was published near its end).
    function windowClosesAt(bytes32 claimId) public view returns (uint256) {
        uint256 closes = uint256(claim(claimId).postedAt) + challengeWindow;
        uint256 extended = windowExtendedTo[claimId];
        return extended > closes ? extended : closes;
    }

    /// @notice When the reward of a slashed claim stops being open to earlier-ranked winners (0 if not slashed).
    function rewardClosesAt(bytes32 claimId) public view returns (uint256) {
        Reward storage r = rewards[claimId];
        return r.slashedAt == 0 ? 0 : uint256(r.slashedAt) + rewardGrace;
    }

    /// @notice Whether games against the claim still decide something: it is pending, or slashed and its reward
    ///         still open to earlier-ranked winners. A game that cannot is moot.
    function contested(bytes32 claimId) public view returns (bool) {
        ClaimStatus s = claim(claimId).status;
        return s == ClaimStatus.Pending || (s == ClaimStatus.Slashed && block.timestamp <= rewardClosesAt(claimId));
    }

    /// @notice Reverts unless the claim is pending and inside its challenge window; returns it.
    function challengeable(bytes32 claimId) public view returns (Claim memory c) {
        c = claim(claimId);
        if (c.status != ClaimStatus.Pending) revert ClaimNotPending(claimId);
        uint256 closes = windowClosesAt(claimId);
        if (block.timestamp >= closes) revert ChallengeWindowClosed(claimId, closes);
    }

    /// @notice Finalizes an unchallenged (or only unsuccessfully challenged) claim after its window, once no
    ///         game against it is open.
    function finalize(bytes32 claimId) external {
        Claim storage c = _claims[claimId];
        if (c.status == ClaimStatus.None) revert UnknownClaim(claimId);
        // INVARIANT: a claim is finalized or slashed at most once.
        if (c.status != ClaimStatus.Pending) revert ClaimNotPending(claimId);
        uint256 closes = windowClosesAt(claimId);
        if (block.timestamp < closes) revert ChallengeWindowOpen(claimId, closes);
        // INVARIANT: a claim under dispute waits for every game's verdict and every data request's answer.
        uint256 open = openGames[claimId] + openRequests[claimId];
        if (open != 0) revert GamesOpen(claimId, open);
        c.status = ClaimStatus.Finalized;
        credit[c.prover] += c.bond;
        emit ClaimFinalized(claimId, c.prover, c.bond);
    }

    // ------------------------------------------------------------------ commitments

    /// @notice Locks `challengeBond` (sent along) behind `commitment` = `commitmentOf(claimId, sender, salt)`:
    ///         the sender may open one game against that claim from the next block on.
    function commitChallenge(bytes32 commitment) external payable {
        if (msg.value != challengeBond) revert WrongBond(msg.value, challengeBond);
        // INVARIANT: a commitment is held once; its rank is the block it was first made in.
        if (commitments[commitment].challenger != address(0)) revert CommitmentExists(commitment);
        commitments[commitment] = Commitment(msg.sender, uint64(block.timestamp), uint64(block.number));
        committed += msg.value;
        emit ChallengeCommitted(commitment, msg.sender, msg.value);
    }

    /// @notice Gives a commitment's bond back to its challenger when the claim it names was slashed (by another
    ///         game) before it could be used.
    function refundCommitment(bytes32 claimId, bytes32 salt) external {
        bytes32 h = commitmentOf(claimId, msg.sender, salt);
        if (commitments[h].challenger != msg.sender) revert UnknownCommitment(h);
        if (claim(claimId).status != ClaimStatus.Slashed) revert ClaimNotSlashed(claimId);
        delete commitments[h];
        uint256 bond = challengeBond;
        committed -= bond;
        credit[msg.sender] += bond;
        emit CommitmentRefunded(h, msg.sender, bond);
    }

    /// @notice Burns the bond of a commitment never used, once every claim it could name is settled (one
    ///         challenge window and one reward grace after it was made). Anyone may call.
    function expireCommitment(bytes32 commitment) external {
        Commitment memory c = commitments[commitment];
        if (c.challenger == address(0)) revert UnknownCommitment(commitment);
        uint256 expiresAt = uint256(c.committedAt) + challengeWindow + rewardGrace;
        if (block.timestamp <= expiresAt) revert CommitmentNotExpired(commitment, expiresAt);
        delete commitments[commitment];
        uint256 bond = challengeBond;
        committed -= bond;
        burned += bond;
        emit CommitmentExpired(commitment, c.challenger, bond);
    }

    // ------------------------------------------------------------------ games

    /// @notice Opens a game of `challenger` against a challengeable claim with the bond of its commitment (made
    ///         in an earlier block with `salt`); returns the game's rank, the commitment's block. Called by the
    ///         dispute game.
    function openGame(bytes32 claimId, address challenger, bytes32 salt) external returns (uint64 rank) {
        if (msg.sender != disputeGame) revert NotDisputeGame(msg.sender);
        challengeable(claimId);
        bytes32 h = commitmentOf(claimId, challenger, salt);
        Commitment memory c = commitments[h];
        // INVARIANT: every game is backed by its challenger's own commitment, made before anyone saw the game.
        if (c.challenger != challenger) revert UnknownCommitment(h);
        if (c.blockNumber >= block.number) revert CommitmentTooFresh(h, c.blockNumber);
        delete commitments[h];
        uint256 bond = challengeBond;
        committed -= bond;
        ++openGames[claimId];
        rank = c.blockNumber;
        emit GameOpened(claimId, challenger, rank, bond);
    }

    /// @notice Ends a game opened with `openGame`; called by the dispute game with its verdict.
    ///         ProverWon: the challenge bond goes to the prover. ChallengerWon: the bond goes back; the first such
    ///         verdict slashes the claim (half its bond burned, half held as the reward of this challenger), a
    ///         later one within the grace takes the reward over if its rank is earlier. Moot: the bond goes back.
    function closeGame(bytes32 claimId, address challenger, uint64 rank, GameOutcome outcome) external {
        if (msg.sender != disputeGame) revert NotDisputeGame(msg.sender);
        Claim storage c = _claims[claimId];
        --openGames[claimId];
        uint256 bond = challengeBond;
        if (outcome == GameOutcome.ProverWon) {
            credit[c.prover] += bond;
            emit ChallengerSlashed(claimId, challenger, c.prover, bond);
            return;
        }
        credit[challenger] += bond;
        if (outcome == GameOutcome.ChallengerWon && c.status == ClaimStatus.Pending) {
            _slash(claimId, c, challenger, rank);
            return;
        }
        emit ChallengeRefunded(claimId, challenger, bond);
        _takeOver(claimId, challenger, rank, outcome);
    }

    /// @dev Slashes pending claim `c`: half its bond burned, half held as the reward of `winner` (rank `rank`).
    function _slash(bytes32 claimId, Claim storage c, address winner, uint64 rank) private {
        c.status = ClaimStatus.Slashed;
        uint256 burnt = c.bond * BURN_BPS / 10_000;
        uint256 reward = c.bond - burnt;
        burned += burnt;
        escrowed += reward;
        rewards[claimId] = Reward(winner, rank, uint64(block.timestamp), false, reward);
        emit ProverSlashed(claimId, winner, rank, burnt, reward);
    }

    /// @dev A win after the slash: within the grace, an earlier rank takes the reward over.
    function _takeOver(bytes32 claimId, address challenger, uint64 rank, GameOutcome outcome) private {
        Reward storage r = rewards[claimId];
        // INVARIANT: the reward goes to the winner who committed first, whoever's move landed first.
        if (
            outcome == GameOutcome.ChallengerWon && !r.paid && rank < r.rank
                && block.timestamp <= uint256(r.slashedAt) + rewardGrace
        ) {
            (r.winner, r.rank) = (challenger, rank);
            emit RewardTakenOver(claimId, challenger, rank);
        }
    }

    // ------------------------------------------------------------------ withheld data

    /// @notice Asks, with `dataBond`, for chunks [first, first + count) of a tensor of a pending claim: leaf
    ///         `leaf` of the coarse trace of inference `inf` (`gameId` zero; while the claim is challengeable), or
    ///         leaf `leaf` of the fine root of running partition game `gameId` (`inf` is not read).
    function requestData(
        bytes32 claimId,
        bytes32 gameId,
        InferenceOpening calldata inf,
        uint32 leaf,
        uint32 first,
        uint32 count
    )
        external
        payable
        returns (bytes32 requestId)
    {
        if (msg.value != dataBond) revert WrongBond(msg.value, dataBond);
        if (count == 0 || count > MAX_DATA_CHUNKS) revert BadDataRequest(count, MAX_DATA_CHUNKS);
        bytes32 root;
        uint256 leaves;
        if (gameId == bytes32(0)) {
            // INVARIANT: coarse data is asked for while it can still decide a challenge.
            Claim memory c = challengeable(claimId);
            (, uint32 segments) = registry.counts(c.modelId, inf.prompt, inf.steps);
            (root, leaves) = (traceRootOf(c, inf), uint256(segments) + 1);
        } else {
            if (claim(claimId).status != ClaimStatus.Pending) revert ClaimNotPending(claimId);
            PartitionGame memory g = IPartitionGames(disputeGame).partitionGame(gameId);
            // INVARIANT: fine data is asked for against a fine root the prover posted, in a running game of
            // this claim.
            if (g.claimId != claimId || g.segEnd == 0 || g.phase == Phase.Ended) revert NoFineRoot(gameId);
            (root, leaves) = (g.pending, uint256(g.segEnd) - g.segStart + 1);
        }
        if (leaf >= leaves) revert LeafOutOfList(leaf, leaves);
        // INVARIANT: data once published is never asked for again (a request starts at a chunk not yet out).
        if (published[keccak256(abi.encode(root, leaf, first))]) revert AlreadyPublished(root, leaf, first);
        requestId = keccak256(abi.encode(claimId, msg.sender, root, leaf, first, count));
        if (dataRequests[requestId].requester != address(0)) revert DataRequestExists(requestId);
        uint64 deadline = uint64(block.timestamp) + dataWindow;
        // forge-lint: disable-next-line(unsafe-typecast)
        dataRequests[requestId] = DataRequest(
            claimId, msg.sender, root, leaf, uint32(leaves), first, count, deadline, uint64(block.number)
        );
        ++openRequests[claimId];
        requested += msg.value;
        emit DataRequested(requestId, claimId, msg.sender, root, leaf, first, count, deadline);
    }

    /// @notice Publishes the chunks of open request `requestId` (`t` opened against the request's root, with the
    ///         tensor's `shape`; no chunk when the request starts past the tensor's end). Anyone may publish; the
    ///         bond goes to the claim's prover, and the claim stays challengeable `dataWindow` from now.
    function publishData(bytes32 requestId, uint32[] calldata shape, TensorOpening calldata t) external {
        DataRequest memory r = dataRequests[requestId];
        if (r.requester == address(0)) revert UnknownDataRequest(requestId);
        TensorMerkle.verifyOpening(t, shape, r.root, r.leaf, r.leafCount);
        uint256 numel = 1;
        for (uint256 i; i < shape.length; ++i) {
            numel *= shape[i];
        }
        uint256 chunks = TensorMerkle.chunkCount(numel);
        uint256 want = r.first >= chunks ? 0 : chunks - r.first < r.count ? chunks - r.first : r.count;
        // INVARIANT: a request is answered by exactly the chunks it asked for (none past the tensor's end).
        if (t.chunks.length != want || (want != 0 && t.chunks[0].index != r.first)) {
            revert WrongChunks(requestId, r.first, want);
        }
        _closeRequest(requestId, r.claimId);
        address prover = _claims[r.claimId].prover;
        credit[prover] += dataBond;
        uint256 until = block.timestamp + dataWindow;
        if (until > windowClosesAt(r.claimId)) windowExtendedTo[r.claimId] = until;
        // an answer past the tensor's end publishes that there is nothing at `first`
        if (want == 0) published[keccak256(abi.encode(r.root, r.leaf, r.first))] = true;
        for (uint256 i; i < t.chunks.length; ++i) {
            published[keccak256(abi.encode(r.root, r.leaf, t.chunks[i].index))] = true;
            emit ChunkPublished(requestId, t.chunks[i].index, t.chunks[i].data);
        }
        emit DataPublished(requestId, r.claimId, dataBond);
    }

    /// @notice Ends request `requestId` unanswered after its deadline: the data was withheld, so the claim is
    ///         slashed (if still pending) with the requester as the winner of rank its request's block; the bond
    ///         goes back. Anyone may call.
    function expireData(bytes32 requestId) external {
        DataRequest memory r = dataRequests[requestId];
        if (r.requester == address(0)) revert UnknownDataRequest(requestId);
        if (block.timestamp <= r.deadline) revert DataDeadlineOpen(requestId, r.deadline);
        _closeRequest(requestId, r.claimId);
        credit[r.requester] += dataBond;
        emit DataWithheld(requestId, r.claimId, r.requester);
        Claim storage c = _claims[r.claimId];
        // INVARIANT: data a claim commits and its prover will not publish makes the claim false.
        if (c.status == ClaimStatus.Pending) _slash(r.claimId, c, r.requester, r.rank);
        else _takeOver(r.claimId, r.requester, r.rank, GameOutcome.ChallengerWon);
    }

    /// @dev Ends data request `requestId` of claim `claimId` (answered or expired); its bond is the caller's to
    ///      credit.
    function _closeRequest(bytes32 requestId, bytes32 claimId) private {
        delete dataRequests[requestId];
        --openRequests[claimId];
        requested -= dataBond;
    }

    /// @notice Credits a slashed claim's reward to its earliest-ranked winner once the grace is over. Anyone may
    ///         call.
    function payReward(bytes32 claimId) external {
        if (claim(claimId).status != ClaimStatus.Slashed) revert ClaimNotSlashed(claimId);
        Reward storage r = rewards[claimId];
        if (r.paid) revert RewardPaid(claimId);
        uint256 closes = uint256(r.slashedAt) + rewardGrace;
        if (block.timestamp <= closes) revert RewardNotSettled(claimId, closes);
        r.paid = true;
        escrowed -= r.amount;
        credit[r.winner] += r.amount;
        emit RewardPaidOut(claimId, r.winner, r.amount);
    }

    /// @notice Withdraws all of the caller's credit.
    function withdraw() external returns (uint256 amount) {
        amount = credit[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        credit[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }
}
