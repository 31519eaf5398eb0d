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
    WithdrawalNotReady,
    DrawNotReady,
    AlreadyDrawn,
    NotDrawn
} from "./lib/Errors.sol";

/// @notice What the committee reports a vote's verdict to.
interface IVoteSettler {
    /// @notice The committee's verdict on vote `voteId`: `outside` when a majority found the element outside
    ///         its acceptance region.
    function settleVote(bytes32 voteId, bool outside) external;
}

/// @title Committee
/// @notice The last level of a dispute: when the disputed element is inside its sound bound but the exact check
///         cannot decide it (its threshold is calibrated, or its op has no on-chain check), a committee of staked
///         validators recomputes it on their own hardware and votes on "outside T_e of my recomputation", by
///         commit-reveal. The majority of seats decides (a tie keeps the claim); members who voted with the
///         minority or did not reveal lose `penalty` per seat to the majority.
///
///   **Draw.** `open` (the game's escalation) fixes the vote and a block `DRAW_DELAY` blocks later; `draw`, once
///   that block is sealed, draws `size` seats from its hash, each seat with probability proportional to the
///   validators' free stake (stake not reserved by other seats), with replacement. Nobody knows the hash when
///   the escalation is sent, so choosing when to escalate gains nothing; only the proposer of the draw block
///   can re-roll it, once per block it gives up. A seat reserves `penalty` of its member's stake until the vote
///   resolves, so every penalty is covered, and a validator whose free stake is below `minStake` is not drawn.
///   A party with a share p of the free stake holds each seat with probability about p, so it captures a
///   majority of k seats with probability sum_{j > k/2} C(k, j) p^j (1 - p)^(k - j) (docs/PROTOCOL.md).
///   Draws walk a Fenwick tree over the validators' free stakes: O(log n) per seat, whatever the pool's size.
///
///   Validators `stake` at least `minStake`; a stake is locked while its validator sits on an open vote, and
///   leaves only `withdrawDelay` seconds after `requestWithdrawal` (which also takes the validator out of
///   future draws). Rewards and penalties move through pull payments (`credit`, `withdrawCredit`).
contract Committee {
    /// @notice Blocks between an escalation and the block whose hash draws its members.
    uint64 public constant DRAW_DELAY = 2;

    /// @dev One staked validator: its stake, the part reserved by seats it holds, its withdrawal time, the
    ///      open votes it sits on, its place in the draw tree (0: none yet) and its weight there.
    struct Validator {
        uint256 stake;
        uint256 reserved;
        uint64 withdrawableAt;
        uint32 locks;
        uint32 slot;
        uint256 weight;
    }

    /// @dev One vote: its draw block, members, seats, commitments and reveals (0 none, 1 inside, 2 outside);
    ///      `outside`/`inside` count revealed seats.
    struct Vote {
        bytes32 subject;
        uint64 drawBlock;
        uint64 commitEnd;
        uint64 revealEnd;
        uint32 committed;
        uint32 revealed;
        uint32 outside;
        uint32 inside;
        bool resolved;
        address[] members;
        mapping(address => uint32) seats;
        mapping(address => bytes32) commitment;
        mapping(address => uint8) ballot;
    }

    /// @notice The least free stake that puts a validator in the draw.
    uint256 public immutable minStake;
    /// @notice Seconds between a withdrawal request and the stake leaving.
    uint64 public immutable withdrawDelay;
    /// @notice Seats per vote (fewer when the pool's free stake runs out).
    uint256 public immutable size;
    /// @notice Seconds members have to commit, from the draw.
    uint64 public immutable commitWindow;
    /// @notice Seconds members have to reveal, after the commit window.
    uint64 public immutable revealWindow;
    /// @notice Stake a member loses per seat for a minority vote or a missing reveal.
    uint256 public immutable penalty;

    /// @notice The dispute game that opens votes and takes their verdicts (bound once).
    address public game;
    address private immutable _deployer;

    mapping(address => Validator) internal _validators;
    /// @dev Fenwick tree over the slots' weights (1-based; index 0 unused) and each slot's validator.
    uint256[] internal _tree;
    address[] internal _slotOwner;
    /// @notice Validators with a nonzero weight in the draw.
    uint256 public poolSize;
    /// @notice The sum of every validator's weight (free stake, when at least `minStake`).
    uint256 public totalWeight;
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
    /// @notice A vote on `subject` was asked for; its members will be drawn from the hash of `drawBlock`.
    event VoteRequested(bytes32 indexed voteId, bytes32 subject, uint64 drawBlock);
    /// @notice The draw block's hash was no longer available (256 blocks on): the draw moves to `drawBlock`.
    event DrawDeferred(bytes32 indexed voteId, uint64 drawBlock);
    /// @notice A vote on `subject` was drawn: `members` hold `seats` seats each; commit until `commitEnd`,
    ///         reveal until `revealEnd`.
    event VoteOpened(
        bytes32 indexed voteId, bytes32 subject, address[] members, uint32[] seats, uint64 commitEnd, uint64 revealEnd
    );
    /// @notice `member` committed to its ballot.
    event BallotCommitted(bytes32 indexed voteId, address indexed member, bytes32 commitment);
    /// @notice `member` revealed its ballot.
    event BallotRevealed(bytes32 indexed voteId, address indexed member, bool outside);
    /// @notice `member` lost `amount` of its stake (minority ballot or no reveal).
    event MemberSlashed(bytes32 indexed voteId, address indexed member, uint256 amount);
    /// @notice The vote ended: `outside` seats against `inside`; the verdict went to the game.
    event VoteResolved(bytes32 indexed voteId, bool outsideWins, uint32 outside, uint32 inside);
    /// @notice `account` withdrew `amount` of credit.
    event CreditWithdrawn(address indexed account, uint256 amount);

    /// @param minStake_ Least free stake in the draw.
    /// @param withdrawDelay_ Seconds from a withdrawal request to the stake leaving.
    /// @param size_ Seats per vote.
    /// @param commitWindow_ Seconds to commit.
    /// @param revealWindow_ Seconds to reveal, after the commit window.
    /// @param penalty_ Stake lost per minority or missing seat (at most `minStake`).
    constructor(
        uint256 minStake_,
        uint64 withdrawDelay_,
        uint256 size_,
        uint64 commitWindow_,
        uint64 revealWindow_,
        uint256 penalty_
    ) {
        if (size_ == 0 || size_ > 255 || penalty_ > minStake_ || commitWindow_ == 0 || revealWindow_ == 0) {
            revert BadCommitteeParams(size_, penalty_, minStake_);
        }
        (minStake, withdrawDelay, size, commitWindow, revealWindow, penalty) =
        (minStake_, withdrawDelay_, size_, commitWindow_, revealWindow_, penalty_);
        _deployer = msg.sender;
        _tree.push(0);
        _slotOwner.push(address(0));
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

    /// @notice A validator's stake reserved by the seats it holds, and its weight in the draw.
    function reservation(address v) external view returns (uint256 reserved, uint256 weight) {
        Validator storage s = _validators[v];
        return (s.reserved, s.weight);
    }

    /// @notice A member's commitment in a vote (zero before it commits) and its revealed ballot (0 none yet,
    ///         1 inside, 2 outside): where a restarted validator finds its next move.
    function ballotOf(bytes32 voteId, address member) external view returns (bytes32 commitment, uint8 ballot) {
        Vote storage v = _votes[voteId];
        return (v.commitment[member], v.ballot[member]);
    }

    /// @notice Seats `member` holds in a vote.
    function seatsOf(bytes32 voteId, address member) external view returns (uint32) {
        return _votes[voteId].seats[member];
    }

    /// @notice A vote's draw block (0: no such vote), members, windows (0 before the draw), tallies so far
    ///         (members committed and revealed, seats revealed outside) and whether it is resolved.
    function vote(bytes32 voteId)
        external
        view
        returns (
            address[] memory members,
            uint64 drawBlock,
            uint64 commitEnd,
            uint64 revealEnd,
            uint32 committed,
            uint32 revealed,
            uint32 outside,
            bool resolved
        )
    {
        Vote storage v = _votes[voteId];
        return (v.members, v.drawBlock, v.commitEnd, v.revealEnd, v.committed, v.revealed, v.outside, v.resolved);
    }

    /// @notice The commitment a member must post for `outside` with `salt` (hash it off-chain the same way).
    function commitmentOf(bytes32 voteId, address member, bool outside, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(voteId, member, outside, salt));
    }

    // ------------------------------------------------------------------ stakes

    /// @notice Adds `msg.value` to the sender's stake; with at least `minStake` free it is in the draw.
    function stake() external payable {
        Validator storage s = _validators[msg.sender];
        if (msg.value == 0) revert StakeTooSmall(0, minStake);
        s.stake += msg.value;
        _reweigh(msg.sender, s);
        emit Staked(msg.sender, msg.value, s.stake);
    }

    /// @notice Leaves the draw; the stake is withdrawable `withdrawDelay` seconds from now (and once no open
    ///         vote holds it).
    function requestWithdrawal() external {
        Validator storage s = _validators[msg.sender];
        if (s.stake == 0) revert NothingToWithdraw(msg.sender);
        s.withdrawableAt = uint64(block.timestamp) + withdrawDelay;
        _reweigh(msg.sender, s);
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

    /// @notice Asks for vote `voteId` on `subject` (the game's escalation); its members are drawn by `draw`
    ///         from the hash of the block `DRAW_DELAY` blocks on. Only the bound game.
    function open(bytes32 voteId, bytes32 subject) external {
        if (msg.sender != game) revert NotDisputeGame(msg.sender);
        Vote storage v = _votes[voteId];
        // INVARIANT: a vote id names one vote, forever.
        if (v.drawBlock != 0) revert VoteExists(voteId);
        if (totalWeight == 0) revert NoValidators();
        v.subject = subject;
        v.drawBlock = uint64(block.number) + DRAW_DELAY;
        emit VoteRequested(voteId, subject, v.drawBlock);
    }

    /// @notice Draws the members of vote `voteId` from the hash of its draw block, once that block is sealed,
    ///         and opens the commit window (with no stake left to draw from, the vote ends as a tie: the claim
    ///         stands). Anyone may call (the challenger, the prover, a validator).
    function draw(bytes32 voteId) external returns (address[] memory members) {
        Vote storage v = _votes[voteId];
        if (v.drawBlock == 0 || v.resolved) revert UnknownVote(voteId);
        if (v.commitEnd != 0) revert AlreadyDrawn(voteId);
        if (block.number <= v.drawBlock) revert DrawNotReady(voteId, v.drawBlock);
        bytes32 h = blockhash(v.drawBlock);
        if (h == bytes32(0)) {
            // more than 256 blocks on: a fresh block draws instead (never a known or a zero hash)
            v.drawBlock = uint64(block.number) + DRAW_DELAY;
            emit DrawDeferred(voteId, v.drawBlock);
            return members;
        }
        uint256 seed = uint256(keccak256(abi.encode(h, voteId)));
        uint256 p = penalty;
        for (uint256 i; i < size && totalWeight != 0; ++i) {
            address who = _slotOwner[_find(uint256(keccak256(abi.encode(seed, i))) % totalWeight)];
            Validator storage s = _validators[who];
            if (v.seats[who] == 0) {
                v.members.push(who);
                ++s.locks;
            }
            ++v.seats[who];
            // INVARIANT: every seat's penalty is covered by stake no other seat holds.
            s.reserved += p;
            _reweigh(who, s);
        }
        members = v.members;
        if (members.length == 0) {
            // every validator left between the escalation and the draw: nobody can recompute the element, and
            // a vote without ballots keeps the claim, as a tie does
            v.resolved = true;
            emit VoteResolved(voteId, false, 0, 0);
            IVoteSettler(game).settleVote(voteId, false);
            return members;
        }
        uint32[] memory seats = new uint32[](members.length);
        for (uint256 i; i < members.length; ++i) {
            seats[i] = v.seats[members[i]];
        }
        v.commitEnd = uint64(block.timestamp) + commitWindow;
        v.revealEnd = v.commitEnd + revealWindow;
        emit VoteOpened(voteId, v.subject, members, seats, v.commitEnd, v.revealEnd);
    }

    /// @notice A member commits to its ballot: `commitmentOf(voteId, sender, outside, salt)`.
    function commit(bytes32 voteId, bytes32 commitment) external {
        Vote storage v = _drawn(voteId);
        _member(voteId, v);
        if (block.timestamp > v.commitEnd) revert CommitClosed(voteId, v.commitEnd);
        if (v.commitment[msg.sender] != bytes32(0)) revert AlreadyCommitted(voteId, msg.sender);
        v.commitment[msg.sender] = commitment;
        ++v.committed;
        emit BallotCommitted(voteId, msg.sender, commitment);
    }

    /// @notice A member reveals its ballot, once every member committed or the commit window closed.
    function reveal(bytes32 voteId, bool outside, bytes32 salt) external {
        Vote storage v = _drawn(voteId);
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
        if (outside) v.outside += v.seats[msg.sender];
        else v.inside += v.seats[msg.sender];
        emit BallotRevealed(voteId, msg.sender, outside);
    }

    /// @notice Ends the vote once every member revealed or the reveal window closed: the majority of seats
    ///         decides (a tie keeps the claim), minority and silent members lose `penalty` per seat to the
    ///         majority, reservations and stakes unlock, and the verdict goes to the game. Anyone may call.
    function resolve(bytes32 voteId) external returns (bool outsideWins) {
        Vote storage v = _drawn(voteId);
        if (block.timestamp <= v.revealEnd && v.revealed < v.members.length) revert VoteNotOver(voteId, v.revealEnd);
        v.resolved = true;
        outsideWins = v.outside > v.inside;
        uint8 winning = outsideWins ? 2 : 1;
        address[] memory members = v.members;
        uint256 pot;
        uint256 winnerSeats;
        for (uint256 i; i < members.length; ++i) {
            Validator storage s = _validators[members[i]];
            uint256 held = uint256(v.seats[members[i]]) * penalty;
            --s.locks;
            s.reserved -= held;
            if (v.ballot[members[i]] == winning) {
                winnerSeats += v.seats[members[i]];
            } else {
                // a minority ballot, or none revealed: the reservation covers it
                s.stake -= held;
                pot += held;
                emit MemberSlashed(voteId, members[i], held);
            }
            _reweigh(members[i], s);
        }
        // INVARIANT: every slashed wei is credited to someone (the majority, else the deployer's treasury).
        if (pot != 0) {
            uint256 share = winnerSeats == 0 ? 0 : pot / winnerSeats;
            uint256 paid;
            for (uint256 i; i < members.length && share != 0; ++i) {
                if (v.ballot[members[i]] == winning) {
                    uint256 amount = share * v.seats[members[i]];
                    credit[members[i]] += amount;
                    paid += amount;
                }
            }
            credit[_deployer] += pot - paid;
        }
        emit VoteResolved(voteId, outsideWins, v.outside, v.inside);
        IVoteSettler(game).settleVote(voteId, outsideWins);
    }

    // ------------------------------------------------------------------ internals

    function _drawn(bytes32 voteId) private view returns (Vote storage v) {
        v = _votes[voteId];
        if (v.drawBlock == 0 || v.resolved) revert UnknownVote(voteId);
        if (v.commitEnd == 0) revert NotDrawn(voteId, v.drawBlock);
    }

    function _member(bytes32 voteId, Vote storage v) private view {
        if (v.seats[msg.sender] == 0) revert NotSelected(voteId, msg.sender);
    }

    /// @dev Sets `who`'s weight in the draw to its free stake when that is at least `minStake` and it is not
    ///      leaving, else 0; gives it a slot on its first weight.
    function _reweigh(address who, Validator storage s) private {
        uint256 free = s.stake - s.reserved;
        uint256 w = s.withdrawableAt == 0 && free >= minStake ? free : 0;
        uint256 old = s.weight;
        if (w == old) return;
        if (s.slot == 0) {
            // a new leaf of the tree: it covers (i - lowbit(i), i], whose sum is read before it is pushed
            uint256 i = _tree.length;
            uint256 covered = _prefix(i - 1) - _prefix(i - (i & (~i + 1)));
            _tree.push(covered);
            _slotOwner.push(who);
            // forge-lint: disable-next-line(unsafe-typecast)
            s.slot = uint32(i);
        }
        s.weight = w;
        if (old == 0) ++poolSize;
        if (w == 0) --poolSize;
        uint256 n = _tree.length - 1;
        if (w > old) {
            uint256 d = w - old;
            totalWeight += d;
            for (uint256 i = s.slot; i <= n; i += i & (~i + 1)) {
                _tree[i] += d;
            }
        } else {
            uint256 d = old - w;
            totalWeight -= d;
            for (uint256 i = s.slot; i <= n; i += i & (~i + 1)) {
                _tree[i] -= d;
            }
        }
    }

    /// @dev The sum of the weights of slots 1..i.
    function _prefix(uint256 i) private view returns (uint256 sum) {
        for (; i != 0; i -= i & (~i + 1)) {
            sum += _tree[i];
        }
    }

    /// @dev The slot whose weight interval holds `r` (0 <= r < totalWeight): the least i with prefix(i) > r.
    function _find(uint256 r) private view returns (uint256 pos) {
        uint256 n = _tree.length - 1;
        uint256 step = 1;
        while (step * 2 <= n) {
            step *= 2;
        }
        for (; step != 0; step /= 2) {
            if (pos + step <= n && _tree[pos + step] <= r) {
                pos += step;
                r -= _tree[pos];
            }
        }
        return pos + 1;
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }
}
