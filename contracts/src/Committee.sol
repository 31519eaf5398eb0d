// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {
    GameBindingRefused,
    NotDisputeGame,
    NothingToWithdraw,
    TransferFailed,
    StakeTooSmall,
    BadCommitteeParams,
    NoValidators,
    VoteExists,
    UnknownVote,
    NotSelected,
    CommitClosed,
    AlreadyCommitted,
    RevealClosed,
    NotCommitted,
    AlreadyRevealed,
    VoteMismatch,
    VoteNotOver,
    StakeLocked,
    WithdrawalNotRequested,
    WithdrawalNotReady
} from "./lib/Errors.sol";

/// @notice What the committee reports a vote's verdict to.
interface IVoteSettler {
    /// @notice The committee's verdict on vote `voteId`: `outside` when a majority found the element outside
    ///         its acceptance region.
    function settleVote(bytes32 voteId, bool outside) external;
}

/// @title Committee
/// @notice The last level of a dispute: when the disputed element is inside its sound bound (or its op has no
///         on-chain check), a committee of staked validators recomputes it on their own hardware and votes on
///         "outside T_e of my recomputation", by commit-reveal. The majority decides (a tie keeps the claim);
///         members who voted with the minority or did not reveal lose `penalty` of their stake to the
///         majority.
///
///   Validators `stake` at least `minStake`; a stake is locked while its validator sits on an open vote, and
///   leaves only `withdrawDelay` seconds after `requestWithdrawal` (which also takes the validator out of
///   future draws). Rewards and penalties move through pull payments (`credit`, `withdrawCredit`).
///
///   **Randomness.** Members are drawn from `keccak256(blockhash(block.number - 1), block.prevrandao, voteId)`
///   at the escalation, without replacement. Its weakness: the block's proposer (and, for the parent hash, the
///   previous one) can see the draw before publishing and withhold or reorder blocks to re-roll it, and a
///   challenger can time its escalation across blocks; a validator set controlled by one party gains a
///   proportional share of seats regardless. A VRF or a commit-reveal beacon (RANDAO over several epochs)
///   removes the grinding; the penalty and the stake are what an honest majority rests on.
contract Committee {
    /// @dev One staked validator.
    struct Validator {
        uint256 stake;
        uint64 withdrawableAt;
        uint32 locks;
        bool listed;
    }

    /// @dev One vote: its members and their commitments and reveals (0 none, 1 inside, 2 outside).
    struct Vote {
        bytes32 subject;
        uint64 commitEnd;
        uint64 revealEnd;
        uint32 committed;
        uint32 revealed;
        uint32 outside;
        bool resolved;
        address[] members;
        mapping(address => bytes32) commitment;
        mapping(address => uint8) ballot;
    }

    /// @notice The least stake that puts a validator in the draw.
    uint256 public immutable minStake;
    /// @notice Seconds between a withdrawal request and the stake leaving.
    uint64 public immutable withdrawDelay;
    /// @notice Members per vote (fewer when fewer validators are staked).
    uint256 public immutable size;
    /// @notice Seconds members have to commit, from the escalation.
    uint64 public immutable commitWindow;
    /// @notice Seconds members have to reveal, after the commit window.
    uint64 public immutable revealWindow;
    /// @notice Stake a member loses for a minority vote or a missing reveal.
    uint256 public immutable penalty;

    /// @notice The dispute game that opens votes and takes their verdicts (bound once).
    address public game;
    address private immutable _deployer;

    mapping(address => Validator) internal _validators;
    address[] internal _pool;
    mapping(bytes32 voteId => Vote) internal _votes;
    /// @notice ETH each account can withdraw (rewards, penalties' remainders).
    mapping(address => uint256) public credit;

    /// @notice The dispute game was bound.
    event GameBound(address game);
    /// @notice `validator` staked `amount` (its stake is now `total`).
    event Staked(address indexed validator, uint256 amount, uint256 total);
    /// @notice `validator` asked to leave; its stake is withdrawable from `withdrawableAt`.
    event WithdrawalRequested(address indexed validator, uint64 withdrawableAt);
    /// @notice `validator` took its stake out.
    event StakeWithdrawn(address indexed validator, uint256 amount);
    /// @notice A vote on `subject` opened with these members; commit until `commitEnd`, reveal until
    ///         `revealEnd`.
    event VoteOpened(bytes32 indexed voteId, bytes32 subject, address[] members, uint64 commitEnd, uint64 revealEnd);
    /// @notice `member` committed to its ballot.
    event BallotCommitted(bytes32 indexed voteId, address indexed member, bytes32 commitment);
    /// @notice `member` revealed its ballot.
    event BallotRevealed(bytes32 indexed voteId, address indexed member, bool outside);
    /// @notice `member` lost `amount` of its stake (minority ballot or no reveal).
    event MemberSlashed(bytes32 indexed voteId, address indexed member, uint256 amount);
    /// @notice The vote ended: `outside` ballots against `inside`; the verdict went to the game.
    event VoteResolved(bytes32 indexed voteId, bool outsideWins, uint32 outside, uint32 inside);
    /// @notice `account` withdrew `amount` of credit.
    event CreditWithdrawn(address indexed account, uint256 amount);

    /// @param minStake_ Least stake in the draw.
    /// @param withdrawDelay_ Seconds from a withdrawal request to the stake leaving.
    /// @param size_ Members per vote.
    /// @param commitWindow_ Seconds to commit.
    /// @param revealWindow_ Seconds to reveal, after the commit window.
    /// @param penalty_ Stake lost per minority or missing ballot (at most `minStake`).
    constructor(
        uint256 minStake_,
        uint64 withdrawDelay_,
        uint256 size_,
        uint64 commitWindow_,
        uint64 revealWindow_,
        uint256 penalty_
    ) {
        if (size_ == 0 || penalty_ > minStake_ || commitWindow_ == 0 || revealWindow_ == 0) {
            revert BadCommitteeParams(size_, penalty_, minStake_);
        }
        (minStake, withdrawDelay, size, commitWindow, revealWindow, penalty) =
        (minStake_, withdrawDelay_, size_, commitWindow_, revealWindow_, penalty_);
        _deployer = msg.sender;
    }

    /// @notice Binds the dispute game (once, by the deployer).
    function bindGame(address game_) external {
        // INVARIANT: the game that opens votes is fixed once and never replaced.
        if (msg.sender != _deployer || game != address(0) || game_ == address(0)) revert GameBindingRefused();
        game = game_;
        emit GameBound(game_);
    }

    // ------------------------------------------------------------------ views

    /// @notice A validator's stake, the time its withdrawal opens (0: none requested) and its open votes.
    function validator(address v) external view returns (uint256 stake_, uint64 withdrawableAt, uint32 locks) {
        Validator storage s = _validators[v];
        return (s.stake, s.withdrawableAt, s.locks);
    }

    /// @notice Validators in the draw.
    function poolSize() external view returns (uint256) {
        return _pool.length;
    }

    /// @notice A member's commitment in a vote (zero before it commits) and its revealed ballot (0 none yet,
    ///         1 inside, 2 outside): where a restarted validator finds its next move.
    function ballotOf(bytes32 voteId, address member) external view returns (bytes32 commitment, uint8 ballot) {
        Vote storage v = _votes[voteId];
        return (v.commitment[member], v.ballot[member]);
    }

    /// @notice A vote's members, windows, tallies so far and whether it is resolved.
    function vote(bytes32 voteId)
        external
        view
        returns (
            address[] memory members,
            uint64 commitEnd,
            uint64 revealEnd,
            uint32 committed,
            uint32 revealed,
            uint32 outside,
            bool resolved
        )
    {
        Vote storage v = _votes[voteId];
        return (v.members, v.commitEnd, v.revealEnd, v.committed, v.revealed, v.outside, v.resolved);
    }

    /// @notice The commitment a member must post for `outside` with `salt` (hash it off-chain the same way).
    function commitmentOf(bytes32 voteId, address member, bool outside, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(voteId, member, outside, salt));
    }

    // ------------------------------------------------------------------ stakes

    /// @notice Adds `msg.value` to the sender's stake; at `minStake` or more it enters the draw.
    function stake() external payable {
        Validator storage s = _validators[msg.sender];
        if (msg.value == 0) revert StakeTooSmall(0, minStake);
        s.stake += msg.value;
        if (!s.listed && s.withdrawableAt == 0 && s.stake >= minStake) {
            s.listed = true;
            _pool.push(msg.sender);
        }
        emit Staked(msg.sender, msg.value, s.stake);
    }

    /// @notice Leaves the draw; the stake is withdrawable `withdrawDelay` seconds from now (and once no open
    ///         vote holds it).
    function requestWithdrawal() external {
        Validator storage s = _validators[msg.sender];
        if (s.stake == 0) revert NothingToWithdraw(msg.sender);
        if (s.listed) _unlist(msg.sender);
        s.withdrawableAt = uint64(block.timestamp) + withdrawDelay;
        emit WithdrawalRequested(msg.sender, s.withdrawableAt);
    }

    /// @notice Takes the whole stake out, after the delay and with no open vote.
    function withdrawStake() external returns (uint256 amount) {
        Validator storage s = _validators[msg.sender];
        if (s.withdrawableAt == 0) revert WithdrawalNotRequested(msg.sender);
        if (block.timestamp < s.withdrawableAt) revert WithdrawalNotReady(msg.sender, s.withdrawableAt);
        // INVARIANT: a stake answers for every vote its validator sits on.
        if (s.locks != 0) revert StakeLocked(msg.sender, s.locks);
        amount = s.stake;
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        s.stake = 0;
        s.withdrawableAt = 0;
        emit StakeWithdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @notice Withdraws the sender's credit (rewards).
    function withdrawCredit() external returns (uint256 amount) {
        amount = credit[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        credit[msg.sender] = 0;
        emit CreditWithdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    // ------------------------------------------------------------------ votes

    /// @notice Opens vote `voteId` on `subject` (the game's escalation): draws the members and locks their
    ///         stakes. Only the bound game.
    function open(bytes32 voteId, bytes32 subject) external returns (address[] memory members) {
        if (msg.sender != game) revert NotDisputeGame(msg.sender);
        Vote storage v = _votes[voteId];
        // INVARIANT: a vote id names one vote, forever.
        if (v.commitEnd != 0) revert VoteExists(voteId);
        uint256 n = _pool.length;
        if (n == 0) revert NoValidators();
        uint256 k = n < size ? n : size;
        address[] memory pool = _pool;
        uint256 seed = uint256(keccak256(abi.encode(blockhash(block.number - 1), block.prevrandao, voteId)));
        members = new address[](k);
        for (uint256 i; i < k; ++i) {
            uint256 j = i + uint256(keccak256(abi.encode(seed, i))) % (n - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
            members[i] = pool[i];
            ++_validators[pool[i]].locks;
        }
        v.subject = subject;
        v.members = members;
        v.commitEnd = uint64(block.timestamp) + commitWindow;
        v.revealEnd = v.commitEnd + revealWindow;
        emit VoteOpened(voteId, subject, members, v.commitEnd, v.revealEnd);
    }

    /// @notice A member commits to its ballot: `commitmentOf(voteId, sender, outside, salt)`.
    function commit(bytes32 voteId, bytes32 commitment) external {
        Vote storage v = _open(voteId);
        _member(voteId, v);
        if (block.timestamp > v.commitEnd) revert CommitClosed(voteId, v.commitEnd);
        if (v.commitment[msg.sender] != bytes32(0)) revert AlreadyCommitted(voteId, msg.sender);
        v.commitment[msg.sender] = commitment;
        ++v.committed;
        emit BallotCommitted(voteId, msg.sender, commitment);
    }

    /// @notice A member reveals its ballot, once every member committed or the commit window closed.
    function reveal(bytes32 voteId, bool outside, bytes32 salt) external {
        Vote storage v = _open(voteId);
        _member(voteId, v);
        // INVARIANT: nobody sees a ballot before every ballot is fixed.
        if (block.timestamp <= v.commitEnd && v.committed < v.members.length) {
            revert CommitClosed(voteId, v.commitEnd);
        }
        if (block.timestamp > v.revealEnd) revert RevealClosed(voteId, v.revealEnd);
        bytes32 c = v.commitment[msg.sender];
        if (c == bytes32(0)) revert NotCommitted(voteId, msg.sender);
        if (v.ballot[msg.sender] != 0) revert AlreadyRevealed(voteId, msg.sender);
        // INVARIANT: a reveal is the ballot committed to.
        if (commitmentOf(voteId, msg.sender, outside, salt) != c) revert VoteMismatch(voteId, msg.sender);
        v.ballot[msg.sender] = outside ? 2 : 1;
        ++v.revealed;
        if (outside) ++v.outside;
        emit BallotRevealed(voteId, msg.sender, outside);
    }

    /// @notice Ends the vote once every member revealed or the reveal window closed: the majority decides (a
    ///         tie keeps the claim), minority and silent members lose `penalty` to the majority, stakes unlock,
    ///         and the verdict goes to the game. Anyone may call.
    function resolve(bytes32 voteId) external returns (bool outsideWins) {
        Vote storage v = _open(voteId);
        if (block.timestamp <= v.revealEnd && v.revealed < v.members.length) revert VoteNotOver(voteId, v.revealEnd);
        v.resolved = true;
        uint32 inside = v.revealed - v.outside;
        outsideWins = v.outside > inside;
        uint8 winning = outsideWins ? 2 : 1;
        address[] memory members = v.members;
        uint256 pot;
        uint256 winners;
        for (uint256 i; i < members.length; ++i) {
            Validator storage s = _validators[members[i]];
            --s.locks;
            uint8 b = v.ballot[members[i]];
            if (b == winning) {
                ++winners;
            } else {
                // a minority ballot, or none revealed
                uint256 cut = s.stake < penalty ? s.stake : penalty;
                s.stake -= cut;
                pot += cut;
                if (s.listed && s.stake < minStake) _unlist(members[i]);
                emit MemberSlashed(voteId, members[i], cut);
            }
        }
        // INVARIANT: every slashed wei is credited to someone (the majority, else the deployer's treasury).
        if (pot != 0) {
            uint256 share = winners == 0 ? 0 : pot / winners;
            for (uint256 i; i < members.length && share != 0; ++i) {
                if (v.ballot[members[i]] == winning) credit[members[i]] += share;
            }
            credit[_deployer] += pot - share * winners;
        }
        emit VoteResolved(voteId, outsideWins, v.outside, inside);
        IVoteSettler(game).settleVote(voteId, outsideWins);
    }

    // ------------------------------------------------------------------ internals

    function _open(bytes32 voteId) private view returns (Vote storage v) {
        v = _votes[voteId];
        if (v.commitEnd == 0 || v.resolved) revert UnknownVote(voteId);
    }

    function _member(bytes32 voteId, Vote storage v) private view {
        for (uint256 i; i < v.members.length; ++i) {
            if (v.members[i] == msg.sender) return;
        }
        revert NotSelected(voteId, msg.sender);
    }

    function _unlist(address who) private {
        _validators[who].listed = false;
        uint256 n = _pool.length;
        for (uint256 i; i < n; ++i) {
            if (_pool[i] == who) {
                _pool[i] = _pool[n - 1];
                _pool.pop();
                return;
            }
        }
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
