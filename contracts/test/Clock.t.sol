// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Clock, LibClock, Side} from "../src/lib/Clock.sol";

/// @notice `LibClock` against a reference of three plain fields (what `PartitionGame` kept before the value
///         type): a turn charged in time keeps the difference and restarts the clock for the other side, one
///         second past the budget is `over` = 1, the standing side's seconds never move, and `runOut` zeroes
///         only the side that lost. The same boundary is tested in Rust (`nao_chain::Clock::left`).
contract ClockTest is PRBTest {
    function testFuzz_charge_matchesPlainFields_succeeds(uint64 budget, uint32 wait, bool prover) public {
        vm.warp(1_700_000_000);
        Clock c = LibClock.start(budget);
        assertEq(c.left(Side.Prover), budget);
        assertEq(c.left(Side.Challenger), budget);
        assertEq(c.turnStart(), 1_700_000_000);
        vm.warp(1_700_000_000 + uint256(wait));
        Side side = prover ? Side.Prover : Side.Challenger;
        Side other = prover ? Side.Challenger : Side.Prover;
        (Clock next, uint64 kept, uint256 over) = c.charge(side);
        if (wait > budget) {
            assertEq(over, uint256(wait) - budget);
            assertEq(c.remaining(side), 0);
        } else {
            assertEq(over, 0);
            assertEq(kept, budget - wait);
            assertEq(c.remaining(side), budget - wait);
            assertEq(next.left(side), budget - wait);
            assertEq(next.left(other), budget);
            assertEq(next.turnStart(), block.timestamp);
            assertEq(next.elapsed(), 0);
        }
    }

    function test_charge_lastSecondInTime_oneMoreOver_succeeds() public {
        vm.warp(1000);
        Clock c = LibClock.start(60);
        vm.warp(1060);
        (, uint64 kept, uint256 over) = c.charge(Side.Challenger);
        assertEq(kept, 0);
        assertEq(over, 0);
        vm.warp(1061);
        (,, over) = c.charge(Side.Challenger);
        assertEq(over, 1);
    }

    function test_runOut_zeroesOnlyTheLoser_succeeds() public {
        vm.warp(500);
        Clock c = LibClock.start(90);
        Clock lost = c.runOut(Side.Prover);
        assertEq(lost.left(Side.Prover), 0);
        assertEq(lost.left(Side.Challenger), 90);
        assertEq(lost.turnStart(), 500);
    }
}
