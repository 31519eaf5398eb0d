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
    GamesOpen
} from "./lib/Errors.sol";

/// @title ClaimManager
/// @notice Holds claims and every bond. A claim is posted with a bond, may be challenged through the bound
///         DisputeGame while its window is open (each game locks a challenge bond here), and is finalized
///         after its window once no game against it is open. The first game a challenger wins slashes the
///         claim; games that end after that are moot or refund their challenger. Payouts are pulled
///         (`withdraw`). ETH held = credits + bonds of pending claims + bonds of open games, always.
contract ClaimManager {
    /// @notice The model registry claims refer to.
    ModelRegistry public immutable registry;
    /// @notice Seconds a claim stays open to challenges.
    uint64 public immutable challengeWindow;
    /// @notice Bond a prover locks with each claim.
    uint256 public immutable claimBond;
    /// @notice Bond a challenger locks with each challenge.
    uint256 public immutable challengeBond;
    /// @notice The dispute-game contract allowed to settle challenges.
    address public disputeGame;

    address private immutable _deployer;
    mapping(bytes32 claimId => Claim) internal _claims;
    /// @notice ETH each account may withdraw.
    mapping(address account => uint256) public credit;
    /// @notice Games open against each claim (a claim finalizes only when none is).
    mapping(bytes32 claimId => uint256) public openGames;

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
    /// @notice A challenge proved the claim wrong; prover and challenger bonds were credited to the challenger.
    event ProverSlashed(bytes32 indexed claimId, address indexed challenger, uint256 amount);
    /// @notice A challenge failed; the challenger's bond was credited to the prover.
    event ChallengerSlashed(
        bytes32 indexed claimId, address indexed challenger, address indexed prover, uint256 amount
    );
    /// @notice A game against the claim opened; the challenger's bond is locked until it ends.
    event GameOpened(bytes32 indexed claimId, address indexed challenger, uint256 bond);
    /// @notice A game won by its challenger after the claim had been slashed by another one: its bond went back.
    event ChallengeRefunded(bytes32 indexed claimId, address indexed challenger, uint256 amount);
    /// @notice Credit was withdrawn.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice The dispute-game contract was bound.
    event DisputeGameBound(address game);

    /// @param registry_ Model registry.
    /// @param challengeWindow_ Seconds a claim can be challenged.
    /// @param claimBond_ Prover bond per claim.
    /// @param challengeBond_ Challenger bond per challenge.
    constructor(ModelRegistry registry_, uint64 challengeWindow_, uint256 claimBond_, uint256 challengeBond_) {
        registry = registry_;
        challengeWindow = challengeWindow_;
        claimBond = claimBond_;
        challengeBond = challengeBond_;
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

    /// @notice Opens a game against a challengeable claim, locking `challengeBond` (sent along); called by the
    ///         dispute game.
    function openGame(bytes32 claimId, address challenger) external payable {
        if (msg.sender != disputeGame) revert NotDisputeGame(msg.sender);
        if (msg.value != challengeBond) revert WrongBond(msg.value, challengeBond);
        challengeable(claimId);
        ++openGames[claimId];
        emit GameOpened(claimId, challenger, msg.value);
    }

    /// @notice Ends a game opened with `openGame`; called by the dispute game with its verdict.
    ///         ChallengerWon: the first such verdict slashes the claim (claim bond + challenge bond to the
    ///         challenger), a later one refunds the challenge bond. ProverWon: the challenge bond goes to the
    ///         prover. Moot: the challenge bond goes back to the challenger.
    function closeGame(bytes32 claimId, address challenger, GameOutcome outcome) external {
        if (msg.sender != disputeGame) revert NotDisputeGame(msg.sender);
        Claim storage c = _claims[claimId];
        --openGames[claimId];
        uint256 bond = challengeBond;
        if (outcome == GameOutcome.ProverWon) {
            credit[c.prover] += bond;
            emit ChallengerSlashed(claimId, challenger, c.prover, bond);
        } else if (outcome == GameOutcome.ChallengerWon && c.status == ClaimStatus.Pending) {
            c.status = ClaimStatus.Slashed;
            uint256 amount = c.bond + bond;
            credit[challenger] += amount;
            emit ProverSlashed(claimId, challenger, amount);
        } else {
            credit[challenger] += bond;
            emit ChallengeRefunded(claimId, challenger, bond);
        }
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
