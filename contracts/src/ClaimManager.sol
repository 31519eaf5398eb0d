// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ModelRegistry} from "./ModelRegistry.sol";
import {TensorMerkle} from "./lib/TensorMerkle.sol";
import {Claim, ClaimInput, ClaimStatus, GameOutcome, ModelSpec} from "./lib/Types.sol";
import {
    WrongBond,
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
    RewardPaid
} from "./lib/Errors.sol";

/// @title ClaimManager
/// @notice Holds claims and every bond. A claim is posted with a bond and may be challenged while its window is
///         open; it is finalized after its window once no game against it is open.
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
///   Payouts are pulled (`withdraw`). ETH held = credits + bonds of pending claims + bonds of open games + bonds
///   of held commitments + unpaid rewards + burned, always.
contract ClaimManager {
    /// @notice Share of a slashed claim's bond that is burned, in basis points (the rest is the reward).
    uint256 public constant BURN_BPS = 5000;

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
    /// @notice The dispute-game contract allowed to settle challenges.
    address public disputeGame;

    /// @dev A challenge commitment: who made it, when, and in which block (the rank of the game it opens).
    struct Commitment {
        address challenger;
        uint64 committedAt;
        uint64 blockNumber;
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

    /// @notice A claim was posted.
    event ClaimPosted(
        bytes32 indexed claimId,
        bytes32 indexed modelId,
        address indexed prover,
        bytes32 inputRoot,
        bytes32 outputRoot,
        bytes32 traceRoot,
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
    /// @notice Credit was withdrawn.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice The dispute-game contract was bound.
    event DisputeGameBound(address game);

    /// @param registry_ Model registry.
    /// @param challengeWindow_ Seconds a claim can be challenged.
    /// @param claimBond_ Prover bond per claim.
    /// @param challengeBond_ Challenger bond per challenge.
    /// @param rewardGrace_ Seconds after a slash in which an earlier-ranked winner may take the reward over.
    constructor(
        ModelRegistry registry_,
        uint64 challengeWindow_,
        uint256 claimBond_,
        uint256 challengeBond_,
        uint64 rewardGrace_
    ) {
        registry = registry_;
        challengeWindow = challengeWindow_;
        claimBond = claimBond_;
        challengeBond = challengeBond_;
        rewardGrace = rewardGrace_;
        _deployer = msg.sender;
    }

    /// @notice Binds the dispute-game contract, once, by the deployer.
    function bindDisputeGame(address game) external {
        // INVARIANT: the settler is fixed once and never replaced.
        if (msg.sender != _deployer || disputeGame != address(0) || game == address(0)) revert GameBindingRefused();
        disputeGame = game;
        emit DisputeGameBound(game);
    }

    /// @notice The id of a claim: a content hash of what it asserts and who asserts it.
    function claimIdOf(bytes32 modelId, bytes32 inputRoot, bytes32 outputRoot, bytes32 traceRoot, address prover)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(modelId, inputRoot, outputRoot, traceRoot, prover));
    }

    /// @notice The commitment `challenger` posts before challenging `claimId` (hash it off-chain the same way).
    function commitmentOf(bytes32 claimId, address challenger, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(claimId, challenger, salt));
    }

    /// @notice Posts a claim with `claimBond`; the input and output roots must be the first and last leaves of
    ///         the trace root.
    function postClaim(ClaimInput calldata c) external payable returns (bytes32 claimId) {
        if (msg.value != claimBond) revert WrongBond(msg.value, claimBond);
        ModelSpec memory spec = registry.model(c.modelId);
        uint256 leaves = uint256(spec.segmentCount) + 1;
        TensorMerkle.verify(c.traceRoot, TensorMerkle.leafHash(abi.encodePacked(c.inputRoot)), 0, leaves, c.inputProof);
        TensorMerkle.verify(
            c.traceRoot, TensorMerkle.leafHash(abi.encodePacked(c.outputRoot)), leaves - 1, leaves, c.outputProof
        );
        claimId = claimIdOf(c.modelId, c.inputRoot, c.outputRoot, c.traceRoot, msg.sender);
        // INVARIANT: a claim id names exactly one claim, forever.
        if (_claims[claimId].status != ClaimStatus.None) revert ClaimExists(claimId);
        _claims[claimId] = Claim({
            modelId: c.modelId,
            inputRoot: c.inputRoot,
            outputRoot: c.outputRoot,
            traceRoot: c.traceRoot,
            prover: msg.sender,
            postedAt: uint64(block.timestamp),
            status: ClaimStatus.Pending,
            bond: msg.value
        });
        emit ClaimPosted(claimId, c.modelId, msg.sender, c.inputRoot, c.outputRoot, c.traceRoot, msg.value, c.dataUri);
    }

    /// @notice A claim; reverts with `UnknownClaim` if none.
    function claim(bytes32 claimId) public view returns (Claim memory c) {
        c = _claims[claimId];
        if (c.status == ClaimStatus.None) revert UnknownClaim(claimId);
    }

    /// @notice When the challenge window of a claim closes.
    function windowClosesAt(bytes32 claimId) public view returns (uint256) {
        return uint256(claim(claimId).postedAt) + challengeWindow;
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
        uint256 closes = uint256(c.postedAt) + challengeWindow;
        if (block.timestamp >= closes) revert ChallengeWindowClosed(claimId, closes);
    }

    /// @notice Finalizes an unchallenged (or only unsuccessfully challenged) claim after its window, once no
    ///         game against it is open.
    function finalize(bytes32 claimId) external {
        Claim storage c = _claims[claimId];
        if (c.status == ClaimStatus.None) revert UnknownClaim(claimId);
        // INVARIANT: a claim is finalized or slashed at most once.
        if (c.status != ClaimStatus.Pending) revert ClaimNotPending(claimId);
        uint256 closes = uint256(c.postedAt) + challengeWindow;
        if (block.timestamp < closes) revert ChallengeWindowOpen(claimId, closes);
        // INVARIANT: a claim under dispute waits for every game's verdict (clocks bound how long).
        uint256 open = openGames[claimId];
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
            c.status = ClaimStatus.Slashed;
            uint256 burnt = c.bond * BURN_BPS / 10_000;
            uint256 reward = c.bond - burnt;
            burned += burnt;
            escrowed += reward;
            rewards[claimId] = Reward(challenger, rank, uint64(block.timestamp), false, reward);
            emit ProverSlashed(claimId, challenger, rank, burnt, reward);
            return;
        }
        emit ChallengeRefunded(claimId, challenger, bond);
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
