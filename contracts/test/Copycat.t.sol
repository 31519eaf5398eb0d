// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./Fixture.t.sol";
import {ClaimManager} from "../src/ClaimManager.sol";
import {UnknownCommitment} from "../src/lib/Errors.sol";
import {ClaimStatus, GameOutcome, SegmentPointer, FineChallenge, InferenceOpening} from "../src/lib/Types.sol";

/// @notice Attack 2 of the review (#17), played as a front-running bot would: it copies the watcher's game
///         opening (its own game with the same pointer) and then the watcher's decisive `openElement` calldata,
///         landing first. The reward goes to the earliest commitment, which the bot cannot have made before it saw
///         the watcher's moves: the copy earns the bot nothing beyond its own bond, and the watcher is paid.
contract CopycatTest is Fixture {
    address internal bot = address(0xB07);

    function test_copycat_frontRunsTheDecisiveMove_earnsNothing_succeeds() public {
        uint256 bot0 = bot.balance;
        uint256 watcher0 = watcher.balance;
        bytes32 id = fxPost(true);
        SegmentPointer memory p = fxPointer(true, 1);
        InferenceOpening memory inf = fxInf(true);
        // the watcher commits, then opens its game; the bot sees the opening and copies it
        bytes32 ws = commit(watcher, id);
        vm.prank(watcher);
        bytes32 wg = game.pointSegment(id, inf, p, ws);
        bytes32 bs = commit(bot, id);
        vm.prank(bot);
        bytes32 bg = game.pointSegment(id, inf, p, bs);
        assertLt(game.partitionGame(wg).rank, game.partitionGame(bg).rank);
        // the prover answers both games
        vm.startPrank(prover);
        game.postFine(wg, fxFine(true, 1));
        game.postFine(bg, fxFine(true, 1));
        vm.stopPrank();
        // the watcher's openElement is in the mempool; the bot lands the same calldata in its own game first
        FineChallenge memory c = fxElement(true, 2);
        vm.prank(bot);
        assertEq(uint8(game.openElement(bg, c)), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        vm.expectEmit(true, true, false, true, address(claims));
        emit ClaimManager.RewardTakenOver(id, watcher, game.partitionGame(wg).rank);
        vm.prank(watcher);
        assertEq(uint8(game.openElement(wg, c)), uint8(GameOutcome.ChallengerWon));
        payReward(id);
        vm.prank(bot);
        claims.withdraw();
        vm.prank(watcher);
        claims.withdraw();
        // commit() tops each committer up with the bond it locks: count it as put in
        assertEq(bot.balance - CHALLENGE_BOND, bot0, "the copy earns the bot nothing");
        assertEq(watcher.balance - CHALLENGE_BOND - watcher0, CLAIM_BOND / 2, "the watcher is paid");
    }

    /// The bot front-runs the watcher's game opening itself: without a commitment of its own from an earlier
    /// block it cannot open a game at all.
    function test_copycat_copiesTheOpeningWithoutCommitment_reverts() public {
        bytes32 id = fxPost(true);
        SegmentPointer memory p = fxPointer(true, 1);
        InferenceOpening memory inf = fxInf(true);
        bytes32 ws = commit(watcher, id);
        // the watcher's salt is visible in its pending transaction; it is bound to the watcher's address
        bytes32 h = claims.commitmentOf(id, bot, ws);
        vm.prank(bot);
        vm.expectRevert(abi.encodeWithSelector(UnknownCommitment.selector, h));
        game.pointSegment(id, inf, p, ws);
        vm.prank(watcher);
        game.pointSegment(id, inf, p, ws);
    }
}
