// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Committee, IVoteSettler} from "../src/Committee.sol";

/// @notice Plays random committee moves (stakes, withdrawals, votes opened, ballots committed and revealed
///         right or wrong, votes resolved, time passing) as the committee's bound game. Failed moves are
///         skipped: the invariants are about what the contract lets happen.
contract CommitteeHandler is IVoteSettler {
    Committee public c;
    address[5] internal _actors;
    bytes32[] public votes;
    uint256 public deposited;
    uint256 public withdrawn;
    mapping(bytes32 => uint8) public verdict;

    constructor() {
        c = new Committee(1 ether, 1 days, 3, 1 hours, 1 hours, 0.5 ether);
        c.bindGame(address(this));
        for (uint256 i; i < 5; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            _actors[i] = address(uint160(0x3000 + i));
        }
    }

    receive() external payable {}

    function settleVote(bytes32 voteId, bool outside) external {
        require(msg.sender == address(c), "only the committee");
        verdict[voteId] = outside ? 2 : 1;
    }

    function actors() external view returns (address[5] memory) {
        return _actors;
    }

    function voteCount() external view returns (uint256) {
        return votes.length;
    }

    function _vm() internal pure returns (VmLike) {
        return VmLike(address(uint160(uint256(keccak256("hevm cheat code")))));
    }

    function stake(uint256 who, uint256 amount) external {
        address a = _actors[who % 5];
        amount = 1 + amount % 2 ether;
        _vm().deal(a, a.balance + amount);
        _vm().prank(a);
        try c.stake{value: amount}() {
            deposited += amount;
        } catch {}
    }

    function requestWithdrawal(uint256 who) external {
        _vm().prank(_actors[who % 5]);
        try c.requestWithdrawal() {} catch {}
    }

    function withdrawStake(uint256 who) external {
        _vm().prank(_actors[who % 5]);
        try c.withdrawStake() returns (uint256 amount) {
            withdrawn += amount;
        } catch {}
    }

    function withdrawCredit(uint256 who) external {
        address a = who % 6 == 5 ? address(this) : _actors[who % 5];
        _vm().prank(a);
        try c.withdrawCredit() returns (uint256 amount) {
            withdrawn += amount;
        } catch {}
    }

    function open(uint256 salt) external {
        bytes32 id = keccak256(abi.encode(votes.length, salt));
        try c.open(id, bytes32(0)) {
            votes.push(id);
        } catch {}
    }

    function commit(uint256 v, uint256 m, bool outside) external {
        if (votes.length == 0) return;
        bytes32 id = votes[v % votes.length];
        (address[] memory members,,,,,,,) = c.vote(id);
        if (members.length == 0) return;
        address a = members[m % members.length];
        bytes32 commitment = keccak256(abi.encode(id, a, outside, bytes32(0)));
        _vm().prank(a);
        try c.commit(id, commitment) {} catch {}
    }

    function reveal(uint256 v, uint256 m, bool outside) external {
        if (votes.length == 0) return;
        bytes32 id = votes[v % votes.length];
        (address[] memory members,,,,,,,) = c.vote(id);
        if (members.length == 0) return;
        _vm().prank(members[m % members.length]);
        try c.reveal(id, outside, bytes32(0)) {} catch {}
    }

    function resolve(uint256 v) external {
        if (votes.length == 0) return;
        try c.resolve(votes[v % votes.length]) {} catch {}
    }

    function warp(uint256 dt) external {
        _vm().warp(block.timestamp + dt % 2 hours);
    }

    /// Blocks pass (up to past the 256 whose hashes a draw can read).
    function roll(uint256 n) external {
        _vm().roll(block.number + 1 + n % 300);
    }

    function draw(uint256 v) external {
        if (votes.length == 0) return;
        try c.draw(votes[v % votes.length]) {} catch {}
    }

    /// Draws and resolves every open vote once its windows passed (nothing can keep a vote open).
    function resolveAll() external {
        for (uint256 i; i < votes.length; ++i) {
            for (uint256 tries; tries < 2; ++tries) {
                (, uint64 drawBlock, uint64 commitEnd,,,,, bool resolved) = c.vote(votes[i]);
                if (commitEnd != 0 || resolved) break;
                if (block.number <= drawBlock) _vm().roll(drawBlock + 1);
                c.draw(votes[i]);
            }
        }
        _vm().warp(block.timestamp + 3 hours);
        for (uint256 i; i < votes.length; ++i) {
            (,,,,,,, bool resolved) = c.vote(votes[i]);
            if (!resolved) c.resolve(votes[i]);
        }
    }
}

interface VmLike {
    function prank(address) external;
    function deal(address, uint256) external;
    function warp(uint256) external;
    function roll(uint256) external;
}

/// @notice Invariants of the committee under random play.
contract CommitteeInvariantTest is PRBTest {
    CommitteeHandler internal h;
    address[] internal _targets;

    function targetContracts() public view returns (address[] memory) {
        return _targets;
    }

    function setUp() public {
        h = new CommitteeHandler();
        _targets.push(address(h));
    }

    /// The handler's moves are legal: three stakes, a vote, three ballots, a verdict.
    function test_handler_playsAVoteToTheEnd_succeeds() public {
        for (uint256 i; i < 3; ++i) {
            h.stake(i, 1 ether - 1);
        }
        h.open(0);
        h.roll(2);
        h.draw(0);
        for (uint256 m; m < 3; ++m) {
            h.commit(0, m, true);
        }
        for (uint256 m; m < 3; ++m) {
            h.reveal(0, m, true);
        }
        h.resolve(0);
        assertEq(h.verdict(h.votes(0)), 2);
    }

    /// ETH in = ETH held + ETH out, and what is held is exactly every stake plus every credit.
    function invariant_ethConserved() public {
        Committee c = h.c();
        assertEq(address(c).balance + h.withdrawn(), h.deposited(), "deposits = held + withdrawn");
        uint256 owed = c.credit(address(h));
        address[5] memory a = h.actors();
        for (uint256 i; i < 5; ++i) {
            (uint256 s,,) = c.validator(a[i]);
            owed += s + c.credit(a[i]);
        }
        assertEq(address(c).balance, owed, "held = stakes + credits");
        // every seat's penalty is covered by stake no other seat holds
        for (uint256 i; i < 5; ++i) {
            (uint256 s,,) = c.validator(a[i]);
            (uint256 reserved,) = c.reservation(a[i]);
            assertLte(reserved, s, "a reservation beyond the stake");
        }
    }

    /// Every vote ends: after its windows anyone resolves it, its verdict reaches the game, and no stake stays
    /// locked.
    function afterInvariant() public {
        h.resolveAll();
        Committee c = h.c();
        for (uint256 i; i < h.voteCount(); ++i) {
            assertTrue(h.verdict(h.votes(i)) != 0, "a vote without a verdict");
        }
        address[5] memory a = h.actors();
        for (uint256 i; i < 5; ++i) {
            (,, uint32 locks) = c.validator(a[i]);
            assertEq(locks, 0, "a stake still locked");
            (uint256 reserved,) = c.reservation(a[i]);
            assertEq(reserved, 0, "a stake still reserved");
        }
    }
}
