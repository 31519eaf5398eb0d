// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// ---------------------------------------------------------------- TensorMerkle
/// @notice A Merkle proof has the wrong number of siblings for a tree of `leafCount` leaves.
error ProofLengthMismatch(uint256 got, uint256 expected);
/// @notice A leaf index is outside the tree.
error LeafIndexOutOfRange(uint256 index, uint256 leafCount);
/// @notice A Merkle proof does not lead to the committed root.
error ProofDoesNotVerify(bytes32 computed, bytes32 expected);
/// @notice A chunk has the wrong byte length for its position in the tensor.
error ChunkLengthMismatch(uint256 index, uint256 got, uint256 expected);
/// @notice A tensor opening does not contain the chunk holding element `element`.
error ElementNotOpened(uint256 element);

// ---------------------------------------------------------------- Fp32
/// @notice An input of an op is NaN or infinite: dispute the op that produced it instead.
error NonFiniteInput(uint32 bits);

// ---------------------------------------------------------------- SoundBound
/// @notice A reduction longer than the exact accumulator supports.
error ReductionTooLong(uint256 n);

// ---------------------------------------------------------------- ModelRegistry
/// @notice A model with this id is registered already.
error ModelAlreadyRegistered(bytes32 modelId);
/// @notice No model with this id is registered.
error UnknownModel(bytes32 modelId);
/// @notice A model must have at least one node.
error EmptyGraph();
/// @notice Segments must be at least one and at most one per node.
error BadSegmentCount(uint32 segmentCount, uint32 nodeCount);
/// @notice A registered spec whose longest concrete graph (`context` steps) has `nodes` nodes, more than 2^32 - 1.
error GraphTooLarge(uint256 nodes);
/// @notice A declared output tolerance must be a finite, non-negative fp32.
error BadOutputTolerance(uint32 bits);
/// @notice The model declares no output tolerance, so no claim of it can go to an output vote.
error NoOutputTolerance(bytes32 modelId);

// ---------------------------------------------------------------- ClaimManager
/// @notice The bond sent does not match the required bond.
error WrongBond(uint256 got, uint256 expected);
/// @notice A claim with this id exists already.
error ClaimExists(bytes32 claimId);
/// @notice No claim with this id exists.
error UnknownClaim(bytes32 claimId);
/// @notice A claim commits between 1 and `max` inferences; this one had `count`.
error BadBatchSize(uint256 count, uint256 max);
/// @notice A packed batch is a whole number of 40-byte inferences; this one had `length` bytes.
error BadBatchEncoding(uint256 length);
/// @notice The claim's batch has `count` inferences; there is no inference `index`.
error InferenceOutOfRange(uint32 index, uint32 count);
/// @notice A model's template serves at least one prompt token and one step, at most `context` positions
///         (prompt + steps - 1), and one step for a model that does not generate.
error BadLengths(uint32 prompt, uint32 steps, uint32 context);
/// @notice Patch `index` names word `word`, outside the leaf or not after the previous patch's.
error BadPatch(uint256 index, uint32 word);
/// @notice The claim is not pending (it was finalized or slashed).
error ClaimNotPending(bytes32 claimId);
/// @notice The challenge window of the claim is still open.
error ChallengeWindowOpen(bytes32 claimId, uint256 closesAt);
/// @notice The challenge window of the claim has closed.
error ChallengeWindowClosed(bytes32 claimId, uint256 closedAt);
/// @notice Only the bound dispute-game contract may settle challenges.
error NotDisputeGame(address caller);
/// @notice The dispute-game contract is bound already, or binding by someone other than the deployer.
error GameBindingRefused();
/// @notice The caller has nothing to withdraw.
error NothingToWithdraw(address account);
/// @notice Games against the claim are still open: it can only be finalized once every game has ended.
error GamesOpen(bytes32 claimId, uint256 open);
/// @notice An ETH transfer failed.
error TransferFailed(address to, uint256 amount);
/// @notice A challenge commitment with this hash is held already.
error CommitmentExists(bytes32 commitment);
/// @notice No challenge commitment of `challenger` to this claim with this salt is held (never made, used,
///         or its reveal does not match).
error UnknownCommitment(bytes32 commitment);
/// @notice A challenge commitment is used in the block it was made: it must be in an earlier block.
error CommitmentTooFresh(bytes32 commitment, uint256 committedBlock);
/// @notice A challenge commitment cannot be expired before `expiresAt`.
error CommitmentNotExpired(bytes32 commitment, uint256 expiresAt);
/// @notice A challenge commitment's bond comes back only for a slashed claim.
error ClaimNotSlashed(bytes32 claimId);
/// @notice The slashed claim's reward is still open to earlier-ranked challengers until `closesAt`.
error RewardNotSettled(bytes32 claimId, uint256 closesAt);
/// @notice The slashed claim's reward was paid already.
error RewardPaid(bytes32 claimId);
/// @notice A data request names leaf `leaf` of a list of `count` tensors.
error LeafOutOfList(uint32 leaf, uint256 count);
/// @notice A data request asks for no chunk, or for more than one transaction can carry.
error BadDataRequest(uint32 count, uint32 max);
/// @notice This data request exists already (or was answered).
error DataRequestExists(bytes32 requestId);
/// @notice No open data request has this id.
error UnknownDataRequest(bytes32 requestId);
/// @notice The published chunks are not the ones requested (first chunk, count).
error WrongChunks(bytes32 requestId, uint256 first, uint256 count);
/// @notice Chunk `chunk` of leaf `leaf` under `root` was published already: it is in the logs.
error AlreadyPublished(bytes32 root, uint32 leaf, uint32 chunk);
/// @notice The data request's deadline has not passed yet.
error DataDeadlineOpen(bytes32 requestId, uint256 deadline);
/// @notice The game has no fine root to ask data of: its prover has not posted it, or the game is over.
error NoFineRoot(bytes32 gameId);

// ---------------------------------------------------------------- DisputeGame
/// @notice The op index is outside the model's graph.
error OpOutOfRange(uint32 op, uint32 nodeCount);
/// @notice The element is outside the op's output shape.
error ElementOutOfRange(uint32 row, uint32 col);
/// @notice The op kind cannot be adjudicated.
error UnsupportedOp(uint8 kind);
/// @notice The op reads a trace tensor that is not computed before it.
error BadOpInput(uint32 op, uint32 input);
/// @notice The one-level game needs every op output in the coarse trace (one segment per op); other models
///         are disputed through the partition game's fine-trace level.
error FineTraceRequired(bytes32 modelId);
/// @notice This exact element of this claim was already challenged by this challenger.
error GameExists(bytes32 gameId);
/// @notice The bisection arity must be at least 2, the clock budget nonzero.
error BadGameParams(uint256 arity, uint64 clockBudget);
/// @notice No partition game with this id.
error UnknownGame(bytes32 gameId);
/// @notice The move belongs to another level of the game than the one it is at.
error WrongPhase(bytes32 gameId, uint8 phase, uint8 expected);
/// @notice The sender is not the side whose turn it is.
error NotMover(bytes32 gameId, address caller, address mover);
/// @notice The mover's clock ran out before this move (by `overBy` seconds): only `timeout` is left.
error ClockExpired(bytes32 gameId, uint8 side, uint256 overBy);
/// @notice `timeout` before the mover's clock ran out (`left` seconds remain).
error ClockNotExpired(bytes32 gameId, uint8 side, uint256 left);
/// @notice The game has ended already.
error GameOver(bytes32 gameId);
/// @notice A segment index outside the model.
error SegmentOutOfRange(uint32 segment, uint32 segmentCount);
/// @notice A reveal must open exactly the interior boundaries of the current range.
error WrongRevealCount(uint256 got, uint256 expected);
/// @notice The roots given to `pick` are not the ones revealed.
error RevealMismatch(bytes32 got, bytes32 expected);
/// @notice The picked child range is empty (it starts at or past the last boundary).
error EmptyRange(uint256 child, uint256 children);
/// @notice The prover opened another segment than the disputed one.
error WrongSegment(uint32 got, uint32 expected);
/// @notice A segment opening whose node range is empty or outside the graph.
error BadSegment(uint32 start, uint32 end);
/// @notice The op is not inside the disputed segment's node range [start, end).
error OpNotInSegment(uint32 op, uint32 start, uint32 end);
/// @notice The prover opened another element than the one requested.
error WrongElement(uint32 op, uint32 row, uint32 col);
/// @notice The op reads a tensor of an earlier segment that is not a segment boundary, so neither the fine root
///         nor the coarse root commits it.
error InputNotCommitted(uint32 op, uint32 input);

/// @notice The exact check decides this element (outside its sound bound, or in an op whose region is a point):
///         it is opened with `openElement`, never escalated to a vote.
error ExactlyDecided(uint32 op, uint32 row, uint32 col, bool inside);
/// @notice This op's element can be opened and adjudicated on-chain: escalate it with its openings instead.
error Openable(uint32 op);
/// @notice Opening this op's element would take about `gas` gas and `size` bytes of calldata, more than a block or
///         a transaction holds: the prover cannot be made to open it (escalate it unopened instead).
error ElementTooCostly(uint32 op, uint256 gas, uint256 size);

// ---------------------------------------------------------------- Committee

/// @notice Committee parameters that cannot work: no members, no windows, or a penalty above the least stake.
error BadCommitteeParams(uint256 size, uint256 penalty, uint256 minStake);
/// @notice A stake of `got` where at least `min` is needed.
error StakeTooSmall(uint256 got, uint256 min);
/// @notice No validator is staked: a vote cannot be drawn.
error NoValidators();
/// @notice This vote already exists.
error VoteExists(bytes32 voteId);
/// @notice No open vote has this id.
error UnknownVote(bytes32 voteId);
/// @notice `who` is not a member of this vote.
error NotSelected(bytes32 voteId, address who);
/// @notice The commit window closed at `commitEnd` (or, for a reveal, is still open with members to commit).
error CommitClosed(bytes32 voteId, uint64 commitEnd);
/// @notice `who` already committed in this vote.
error AlreadyCommitted(bytes32 voteId, address who);
/// @notice The reveal window closed at `revealEnd`.
error RevealClosed(bytes32 voteId, uint64 revealEnd);
/// @notice `who` has no commitment to reveal.
error NotCommitted(bytes32 voteId, address who);
/// @notice `who` already revealed.
error AlreadyRevealed(bytes32 voteId, address who);
/// @notice The revealed ballot and salt do not hash to `who`'s commitment.
error VoteMismatch(bytes32 voteId, address who);
/// @notice The vote cannot be resolved before `revealEnd` while members have yet to reveal.
error VoteNotOver(bytes32 voteId, uint64 revealEnd);
/// @notice `who` sits on `locks` open votes: its stake stays.
error StakeLocked(address who, uint32 locks);
/// @notice `who` never asked to withdraw.
error WithdrawalNotRequested(address who);
/// @notice `who`'s stake is withdrawable from `withdrawableAt`.
error WithdrawalNotReady(address who, uint64 withdrawableAt);
/// @notice The vote's members are drawn from the hash of block `drawBlock`, which is not yet sealed.
error DrawNotReady(bytes32 voteId, uint64 drawBlock);
/// @notice The vote's members were drawn already.
error AlreadyDrawn(bytes32 voteId);
/// @notice The vote's members are not drawn yet (`draw` after block `drawBlock`).
error NotDrawn(bytes32 voteId, uint64 drawBlock);
/// @notice Only the committee settles votes.
error NotCommittee(address caller);
