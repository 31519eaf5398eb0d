// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Committee, IVoteSettler} from "../src/Committee.sol";

/// @notice The cheatcode that fixes a past block's hash (PRBTest's `Vm` predates it).
interface VmState {
    function setBlockhash(uint256 blockNumber, bytes32 blockHash) external;
}

/// @notice Attack 4 of the review (#17), played as the grinder would: a challenger holding a share of the
///         validator stake escalates at the block of its choosing, hoping for a committee it controls. The members
///         are drawn from the hash of a block sealed two blocks after the escalation, so the choice of block buys
///         nothing: over 1000 draws (each from its own block hash) a 10 % holder captures a majority of the 7
///         seats in under 1 % of them, as the binomial formula of docs/PROTOCOL.md says (0.27 %).
contract EscalationGrindingTest is PRBTest, IVoteSettler {
    Committee internal c;
    uint256 internal constant SEATS = 7;
    uint256 internal constant TRIALS = 1000;

    function settleVote(bytes32, bool) external {}

    /// A pool of 100 validators of 1 ETH, `attackers` of them the grinder's.
    function _pool(uint256 attackers) internal returns (address[] memory a) {
        c = new Committee(1 ether, 7 days, SEATS, 1 hours, 1 hours, 0.5 ether);
        c.bindGame(address(this));
        a = new address[](attackers);
        for (uint256 i; i < 100; ++i) {
            // forge-lint: disable-next-line(unsafe-typecast)
            address v = address(uint160(0x10000 + i));
            vm.deal(v, 1 ether);
            vm.prank(v);
            c.stake{value: 1 ether}();
            if (i < attackers) a[i] = v;
        }
    }

    /// How many of `TRIALS` draws, each from its own block hash, seat a majority of the grinder's validators.
    function _captures(uint256 attackers) internal returns (uint256 captured) {
        address[] memory mine = _pool(attackers);
        for (uint256 t; t < TRIALS; ++t) {
            // each draw runs in a call that reverts with its count, so every trial starts from the same pool
            try this.trial(t, mine) {}
            catch (bytes memory seats) {
                if (2 * abi.decode(seats, (uint256)) > SEATS) ++captured;
            }
        }
    }

    /// One escalation and its draw; reverts with the seats `mine` hold.
    function trial(uint256 t, address[] calldata mine) external {
        bytes32 id = keccak256(abi.encode("escalation", t));
        c.open(id, bytes32(0));
        (, uint64 drawBlock,,,,,,) = c.vote(id);
        // the grinder chose the escalation block; the draw block's hash is what it could not know
        vm.roll(drawBlock + 1);
        VmState(address(vm)).setBlockhash(drawBlock, keccak256(abi.encode("sealed later", t)));
        c.draw(id);
        uint256 seats;
        for (uint256 i; i < mine.length; ++i) {
            seats += c.seatsOf(id, mine[i]);
        }
        bytes memory out = abi.encode(seats);
        assembly {
            revert(add(out, 32), mload(out))
        }
    }

    function test_grinding_tenPercentOfStake_capturesUnderOnePercent_succeeds() public {
        uint256 captured = _captures(10);
        emit LogNamedUint256("10 % of the stake: committees captured of 1000", captured);
        assertLt(captured * 100, TRIALS, "a 10 % holder captures a majority in under 1 % of draws");
    }

    function test_grinding_fivePercentOfStake_rarelyCaptures_succeeds() public {
        uint256 captured = _captures(5);
        emit LogNamedUint256("5 % of the stake: committees captured of 1000", captured);
        assertLt(captured * 500, TRIALS, "a 5 % holder captures a majority in under 0.2 % of draws");
    }

    function test_grinding_aThirdOfStake_capturesAboutTheBinomialShare_succeeds() public {
        uint256 captured = _captures(33);
        emit LogNamedUint256("33 % of the stake: committees captured of 1000", captured);
        // binomial(7, 0.33) tail above 3 seats: 0.17; a third is no longer a minority the draw can protect
        assertGt(captured, TRIALS / 10);
        assertLt(captured, TRIALS / 4);
    }

    /// At the escalation nobody is drawn, and nothing known then fixes who will be.
    function test_grinding_escalationDrawsNobody_succeeds() public {
        _pool(10);
        c.open(keccak256("v"), bytes32(0));
        (address[] memory members, uint64 drawBlock, uint64 commitEnd,,,,,) = c.vote(keccak256("v"));
        assertEq(members.length, 0);
        assertEq(commitEnd, 0);
        assertEq(drawBlock, block.number + c.DRAW_DELAY());
    }
}
