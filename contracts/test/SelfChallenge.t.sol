// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./Fixture.t.sol";
import {
    ClaimStatus,
    GameOutcome,
    SegmentPointer,
    FineAnswer,
    FineChallenge,
    ElementChallenge,
    InferenceOpening
} from "../src/lib/Types.sol";
import {ClaimNotPending} from "../src/lib/Errors.sol";

/// @notice Attack 1 of the review (#17), played as the cheater would: a prover posts a false claim and, from a
///         second address, challenges it itself and plays both sides of that game in one block, hoping to win its
///         own bond back before the honest watcher's game ends. The claim bond's burned half makes it a loss of at
///         least 50 % whoever challenged; the honest watcher never ends poorer.
contract SelfChallengeTest is Fixture {
    address internal sybil = address(0x5B11);

    /// The prover's sybil opens a game and plays both sides: pointSegment, postFine, openElement.
    function _selfChallenge(bytes32 id) internal returns (bytes32 gid) {
        SegmentPointer memory p = fxPointer(true, 1);
        FineAnswer memory a = fxFine(true, 1);
        FineChallenge memory c = fxElement(true, 2);
        InferenceOpening memory inf = fxInf(true);
        bytes32 salt = commit(sybil, id);
        vm.prank(sybil);
        gid = game.pointSegment(id, inf, p, salt);
        vm.prank(prover);
        game.postFine(gid, a);
        vm.prank(sybil);
        assertEq(uint8(game.openElement(gid, c)), uint8(GameOutcome.ChallengerWon));
    }

    function _watcherPoints(bytes32 id) internal returns (bytes32 gid) {
        SegmentPointer memory p = fxPointer(true, 1);
        InferenceOpening memory inf = fxInf(true);
        bytes32 salt = commit(watcher, id);
        vm.prank(watcher);
        gid = game.pointSegment(id, inf, p, salt);
    }

    /// Everything settles: the watcher's game, which the prover never answers, ends on the prover's clock;
    /// the reward is paid; everyone withdraws.
    function _settle(bytes32 id, bytes32 watcherGame) internal {
        vm.warp(block.timestamp + CLOCK + 1);
        game.timeout(watcherGame);
        payReward(id);
        _withdrawAll();
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
    }

    function _withdrawAll() internal {
        address[3] memory who = [prover, sybil, watcher];
        for (uint256 i; i < 3; ++i) {
            if (claims.credit(who[i]) != 0) {
                vm.prank(who[i]);
                claims.withdraw();
            }
        }
    }

    /// The cheater plays its own game to the end in the block after its claim, before the watcher could open
    /// one: it takes the reward and still loses half its bond. The watcher, whose commitment came too late to
    /// open a game, gets its bond back (`refundCommitment`).
    function test_selfChallenge_beforeTheWatcher_costsHalfTheBond_succeeds() public {
        uint256 cheater0 = prover.balance + sybil.balance;
        uint256 watcher0 = watcher.balance;
        bytes32 id = fxPost(true);
        bytes32 ws = commit(watcher, id);
        _selfChallenge(id);
        SegmentPointer memory p = fxPointer(true, 1);
        InferenceOpening memory inf = fxInf(true);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(ClaimNotPending.selector, id));
        game.pointSegment(id, inf, p, ws);
        vm.prank(watcher);
        claims.refundCommitment(id, ws);
        payReward(id);
        _withdrawAll();
        // commit() tops each committer up with the bond it locks: count it as put in
        uint256 cheater1 = prover.balance + sybil.balance - CHALLENGE_BOND;
        uint256 watcher1 = watcher.balance - CHALLENGE_BOND;
        assertEq(cheater0 - cheater1, CLAIM_BOND / 2, "the cheater loses half its bond");
        assertEq(watcher1, watcher0, "the watcher ends with what it put in");
        assertEq(claims.burned(), CLAIM_BOND / 2);
    }

    /// The watcher committed first: its game, won on the prover's clock within the grace, takes the reward
    /// from the sybil's earlier-landing win; the cheater loses the whole bond.
    function test_selfChallenge_afterTheWatcher_costsTheWholeBond_succeeds() public {
        uint256 cheater0 = prover.balance + sybil.balance;
        uint256 watcher0 = watcher.balance;
        bytes32 id = fxPost(true);
        bytes32 wg = _watcherPoints(id);
        _selfChallenge(id);
        _settle(id, wg);
        uint256 cheater1 = prover.balance + sybil.balance - CHALLENGE_BOND;
        uint256 watcher1 = watcher.balance - CHALLENGE_BOND;
        assertEq(cheater0 - cheater1, CLAIM_BOND, "the cheater loses its whole bond");
        assertEq(watcher1 - watcher0, CLAIM_BOND / 2, "the watcher is paid the reward");
    }

    /// The one-level game: the same attack through `challenge`.
    function test_selfChallenge_oneLevel_costsHalfTheBond_succeeds() public {
        uint256 before = prover.balance + sybil.balance;
        bytes32 id = post(TEN + 3);
        ElementChallenge memory c = challengeOf(TEN + 3);
        InferenceOpening memory inf = infOf(TEN + 3);
        bytes32 salt = commit(sybil, id);
        vm.prank(sybil);
        game.challenge(id, inf, c, salt);
        payReward(id);
        vm.prank(sybil);
        claims.withdraw();
        assertEq(before - (prover.balance + sybil.balance - CHALLENGE_BOND), CLAIM_BOND / 2);
    }
}
