// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./Fixture.t.sol";
import {Adjudicator} from "../src/Adjudicator.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {ClaimManager} from "../src/ClaimManager.sol";
import {Position, LibPosition} from "../src/lib/Position.sol";
import {
    ClaimStatus,
    GameOutcome,
    Phase,
    Side,
    PartitionGame,
    SegmentPointer,
    BoundaryOpening,
    FineAnswer,
    FineChallenge,
    ElementRequest,
    Unopenable,
    InferenceOpening
} from "../src/lib/Types.sol";
import {
    ChallengeWindowClosed,
    ClaimNotPending,
    UnknownCommitment,
    GameExists,
    UnknownGame,
    WrongPhase,
    NotMover,
    ClockExpired,
    ClockNotExpired,
    GameOver,
    SegmentOutOfRange,
    WrongRevealCount,
    RevealMismatch,
    EmptyRange,
    WrongSegment,
    BadSegment,
    OpNotInSegment,
    InputNotCommitted,
    GamesOpen,
    ProofDoesNotVerify,
    BadGameParams,
    WrongElement,
    ElementOutOfRange,
    NotCommittee,
    NoValidators,
    ExactlyDecided,
    Openable
} from "../src/lib/Errors.sol";
import {TensorMerkle} from "../src/lib/TensorMerkle.sol";
import {Tree} from "./Fixture.t.sol";

/// @notice The partition game on the fixture model (3 segments, arity 2: leaf depth 2).
contract PartitionGameTest is Fixture {
    // ------------------------------------------------------------------ helpers

    function bisectAs(address who, bytes32 id, bool corrupt) internal returns (bytes32 gid) {
        gid = fxBisect(who, id, corrupt);
    }

    function point(bytes32 id, bool corrupt, uint32 s) internal returns (bytes32 gid) {
        gid = fxPoint(watcher, id, corrupt, s);
    }

    function reveal(bytes32 gid, bool corrupt, uint256 lo, uint256 w, uint256 count)
        internal
        returns (bytes32[] memory roots)
    {
        BoundaryOpening[] memory r;
        (r, roots) = fxReveal(corrupt, lo, w, count);
        vm.prank(prover);
        game.reveal(gid, r);
    }

    function pickAs(bytes32 gid, uint256 child, bytes32[] memory roots) internal {
        vm.prank(watcher);
        game.pick(gid, child, roots);
    }

    function fine(bytes32 gid, bool corrupt, uint256 s) internal {
        FineAnswer memory a = fxFine(corrupt, s);
        vm.prank(prover);
        game.postFine(gid, a);
    }

    function element(bytes32 gid, bool corrupt, uint256 op) internal returns (GameOutcome) {
        FineChallenge memory c = fxElement(corrupt, op);
        vm.prank(watcher);
        return game.openElement(gid, c);
    }

    function g(bytes32 gid) internal view returns (PartitionGame memory) {
        return game.partitionGame(gid);
    }

    /// Bisects the corrupt claim down to segment 1 ([1, 2]); the prover is to post the fine root.
    function bisectToSegment1(bytes32 id) internal returns (bytes32 gid) {
        gid = bisectAs(watcher, id, true);
        bytes32[] memory r = reveal(gid, true, 0, 2, 1); // boundary 2
        pickAs(gid, 0, r); // [0, 2]
        r = reveal(gid, true, 0, 1, 1); // boundary 1
        pickAs(gid, 1, r); // [1, 2]
    }

    // ------------------------------------------------------------------ constructor

    function test_constructor_badArity_reverts() public {
        Adjudicator adj = new Adjudicator();
        vm.expectRevert(abi.encodeWithSelector(BadGameParams.selector, 1, CLOCK));
        new DisputeGame(claims, CLOCK, 1, committee, adj);
        vm.expectRevert(abi.encodeWithSelector(BadGameParams.selector, 2, 0));
        new DisputeGame(claims, 0, 2, committee, adj);
    }

    // ------------------------------------------------------------------ bisect

    function test_bisect_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = game.partitionGameIdOf(id, 0, watcher, LibPosition.root());
        InferenceOpening memory inf = fxInf(true);
        (BoundaryOpening memory input, BoundaryOpening memory output) = (fxInput(true), fxOutput(true));
        bytes32 salt = commit(watcher, id);
        vm.expectEmit(true, true, true, true, address(game));
        emit DisputeGame.GameCreated(
            gid, id, watcher, prover, 0, LibPosition.root(), 0, 3, fxRoot(true, 0), fxRoot(true, 4)
        );
        vm.prank(watcher);
        assertEq(game.bisect(id, inf, input, output, salt), gid);
        assertEq(g(gid).rank, block.number - 1);
        PartitionGame memory pg = g(gid);
        assertEq(pg.traceRoot, fxTraceRoot(true));
        assertEq(uint256(pg.inference), 0);
        assertEq(uint8(pg.phase), uint8(Phase.Reveal));
        assertEq(uint8(game.mover(gid)), uint8(Side.Prover));
        assertEq(claims.openGames(id), 1);
        assertEq(address(claims).balance, CLAIM_BOND + CHALLENGE_BOND);
        assertEq(address(game).balance, 0);
    }

    function test_bisect_twice_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        InferenceOpening memory inf = fxInf(true);
        (BoundaryOpening memory input, BoundaryOpening memory output) = (fxInput(true), fxOutput(true));
        bytes32 salt4 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(GameExists.selector, gid));
        game.bisect(id, inf, input, output, salt4);
    }

    function test_bisect_withoutCommitment_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 h = claims.commitmentOf(id, watcher, "s");
        InferenceOpening memory inf = fxInf(true);
        (BoundaryOpening memory input, BoundaryOpening memory output) = (fxInput(true), fxOutput(true));
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(UnknownCommitment.selector, h));
        game.bisect(id, inf, input, output, "s");
    }

    function test_bisect_afterWindow_reverts() public {
        bytes32 id = fxPost(true);
        uint256 closes = block.timestamp + WINDOW;
        vm.warp(closes);
        InferenceOpening memory inf = fxInf(true);
        (BoundaryOpening memory input, BoundaryOpening memory output) = (fxInput(true), fxOutput(true));
        bytes32 salt6 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(ChallengeWindowClosed.selector, id, closes));
        game.bisect(id, inf, input, output, salt6);
    }

    // ------------------------------------------------------------------ pointSegment

    function test_pointSegment_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        PartitionGame memory pg = g(gid);
        assertEq(uint8(pg.phase), uint8(Phase.Fine));
        assertEq(Position.unwrap(pg.position), 5); // depth 2, index 1: 2^2 + 1
        assertEq(pg.lo, 1);
        assertEq(pg.hi, 2);
        assertEq(pg.loRoot, fxRoot(true, 2));
        assertEq(pg.hiRoot, fxRoot(true, 3));
    }

    function test_pointSegment_wrongProof_reverts() public {
        bytes32 id = fxPost(true);
        SegmentPointer memory p = fxPointer(true, 1);
        p.hi.root = fxRoot(false, 3); // the honest boundary is not what the claim commits
        InferenceOpening memory inf = fxInf(true);
        bytes32 salt7 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(); // ProofDoesNotVerify(computed, traceRoot)
        game.pointSegment(id, inf, p, salt7);
        assertEq(claims.openGames(id), 0);
    }

    function test_pointSegment_outOfRange_reverts() public {
        bytes32 id = fxPost(true);
        SegmentPointer memory p = fxPointer(true, 1);
        p.segment = 3;
        InferenceOpening memory inf = fxInf(true);
        bytes32 salt8 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(SegmentOutOfRange.selector, 3, 3));
        game.pointSegment(id, inf, p, salt8);
    }

    // ------------------------------------------------------------------ reveal

    function test_reveal_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        vm.warp(block.timestamp + 100);
        (BoundaryOpening[] memory r, bytes32[] memory roots) = fxReveal(true, 0, 2, 1);
        vm.expectEmit(true, false, false, true, address(game));
        emit DisputeGame.BoundariesRevealed(gid, LibPosition.root(), roots, CLOCK - 100);
        vm.prank(prover);
        game.reveal(gid, r);
        assertEq(uint8(g(gid).phase), uint8(Phase.Pick));
        (uint64 p, uint64 c) = game.clocks(gid);
        assertEq(p, CLOCK - 100);
        assertEq(c, CLOCK);
    }

    function test_reveal_wrongCount_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        (BoundaryOpening[] memory r,) = fxReveal(true, 0, 1, 2);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(WrongRevealCount.selector, 2, 1));
        game.reveal(gid, r);
    }

    function test_reveal_wrongProof_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        (BoundaryOpening[] memory r,) = fxReveal(true, 0, 2, 1);
        r[0].root = fxRoot(true, 0);
        vm.prank(prover);
        vm.expectRevert(); // ProofDoesNotVerify
        game.reveal(gid, r);
    }

    function test_reveal_byChallenger_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        (BoundaryOpening[] memory r,) = fxReveal(true, 0, 2, 1);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(NotMover.selector, gid, watcher, prover));
        game.reveal(gid, r);
    }

    function test_reveal_twice_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        reveal(gid, true, 0, 2, 1);
        (BoundaryOpening[] memory r,) = fxReveal(true, 0, 2, 1);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(WrongPhase.selector, gid, uint8(Phase.Pick), uint8(Phase.Reveal)));
        game.reveal(gid, r);
    }

    function test_reveal_afterClock_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        (BoundaryOpening[] memory r,) = fxReveal(true, 0, 2, 1);
        vm.warp(block.timestamp + CLOCK + 1);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(ClockExpired.selector, gid, uint8(Side.Prover), 1));
        game.reveal(gid, r);
    }

    function test_reveal_unknownGame_reverts() public {
        BoundaryOpening[] memory r = new BoundaryOpening[](0);
        vm.expectRevert(abi.encodeWithSelector(UnknownGame.selector, bytes32(uint256(1))));
        game.reveal(bytes32(uint256(1)), r);
    }

    // ------------------------------------------------------------------ pick

    function test_pick_toRange_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        bytes32[] memory r = reveal(gid, true, 0, 2, 1);
        vm.expectEmit(true, false, false, true, address(game));
        emit DisputeGame.RangePicked(gid, Position.wrap(2), 0, 0, 2, CLOCK);
        pickAs(gid, 0, r);
        PartitionGame memory pg = g(gid);
        assertEq(pg.traceRoot, fxTraceRoot(true));
        assertEq(uint256(pg.inference), 0);
        assertEq(uint8(pg.phase), uint8(Phase.Reveal));
        assertEq(pg.hiRoot, fxRoot(true, fxCoarseIndex(2)));
        assertEq(pg.loRoot, fxRoot(true, 0));
    }

    function test_pick_toSegment_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        bytes32[] memory r = reveal(gid, true, 0, 2, 1);
        pickAs(gid, 1, r); // [2, 3]: one segment
        PartitionGame memory pg = g(gid);
        assertEq(uint8(pg.phase), uint8(Phase.Fine));
        assertEq(Position.unwrap(pg.position), 3);
        assertEq(pg.lo, 2);
        assertEq(pg.loRoot, fxRoot(true, 3));
        assertEq(pg.hiRoot, fxRoot(true, 4));
    }

    function test_pick_mismatchedRoots_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        bytes32[] memory r = reveal(gid, true, 0, 2, 1);
        bytes32 want = keccak256(abi.encodePacked(r));
        r[0] = bytes32(uint256(1));
        bytes32 got = keccak256(abi.encodePacked(r));
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(RevealMismatch.selector, got, want));
        game.pick(gid, 0, r);
    }

    function test_pick_emptyRange_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        bytes32[] memory r = reveal(gid, true, 0, 2, 1);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(EmptyRange.selector, 2, 2));
        game.pick(gid, 2, r);
    }

    function test_pick_outOfTurn_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        bytes32[] memory r = new bytes32[](1);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(WrongPhase.selector, gid, uint8(Phase.Reveal), uint8(Phase.Pick)));
        game.pick(gid, 0, r);
    }

    function test_pick_byProver_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        bytes32[] memory r = reveal(gid, true, 0, 2, 1);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(NotMover.selector, gid, prover, watcher));
        game.pick(gid, 0, r);
    }

    function test_pick_afterClock_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        bytes32[] memory r = reveal(gid, true, 0, 2, 1);
        vm.warp(block.timestamp + CLOCK + 5);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(ClockExpired.selector, gid, uint8(Side.Challenger), 5));
        game.pick(gid, 0, r);
    }

    // ------------------------------------------------------------------ postFine

    function test_postFine_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 0);
        FineAnswer memory a = fxFine(true, 0);
        vm.expectEmit(true, false, false, true, address(game));
        emit DisputeGame.FineRootPosted(gid, 0, 0, 2, a.fineRoot, CLOCK);
        vm.prank(prover);
        game.postFine(gid, a);
        PartitionGame memory pg = g(gid);
        assertEq(uint8(pg.phase), uint8(Phase.Element));
        assertEq(pg.pending, a.fineRoot);
        assertEq(pg.segStart, 0);
        assertEq(pg.segEnd, 2);
    }

    function test_postFine_wrongSegment_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        FineAnswer memory a = fxFine(true, 0);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(WrongSegment.selector, 0, 1));
        game.postFine(gid, a);
    }

    function test_postFine_badSegmentRange_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        FineAnswer memory a = fxFine(true, 1);
        a.segment.segment.end = 9;
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(BadSegment.selector, 2, 9));
        game.postFine(gid, a);
    }

    function test_postFine_lastLeafNotBoundary_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        FineAnswer memory a = fxFine(false, 1); // the honest segment ends at 11, the claim's boundary is 12
        vm.prank(prover);
        vm.expectRevert(); // ProofDoesNotVerify on the last leaf
        game.postFine(gid, a);
        assertEq(uint8(g(gid).phase), uint8(Phase.Fine));
    }

    function test_postFine_byChallenger_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        FineAnswer memory a = fxFine(true, 1);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(NotMover.selector, gid, watcher, prover));
        game.postFine(gid, a);
    }

    function test_postFine_afterClock_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        FineAnswer memory a = fxFine(true, 1);
        vm.warp(block.timestamp + CLOCK + 1);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(ClockExpired.selector, gid, uint8(Side.Prover), 1));
        game.postFine(gid, a);
    }

    // ------------------------------------------------------------------ openElement

    function test_openElement_outsideBound_slashesProver_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        fine(gid, true, 1);
        vm.expectEmit(true, true, false, true, address(claims));
        emit ClaimManager.ProverSlashed(id, watcher, g(gid).rank, CLAIM_BOND / 2, CLAIM_BOND / 2);
        assertEq(uint8(element(gid, true, 2)), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        assertEq(claims.credit(watcher), CHALLENGE_BOND);
        assertEq(claims.openGames(id), 0);
        assertEq(uint8(g(gid).outcome), uint8(GameOutcome.ChallengerWon));
    }

    function test_openElement_bisected_slashesProver_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectToSegment1(id);
        fine(gid, true, 1);
        assertEq(uint8(element(gid, true, 2)), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
    }

    function test_openElement_insideBound_slashesChallenger_succeeds() public {
        bytes32 id = fxPost(false);
        bytes32 gid = point(id, false, 0);
        fine(gid, false, 0);
        assertEq(uint8(element(gid, false, 0)), uint8(GameOutcome.ProverWon));
        assertEq(claims.credit(prover), CHALLENGE_BOND);
        vm.warp(block.timestamp + WINDOW);
        claims.finalize(id);
        assertEq(claims.credit(prover), CHALLENGE_BOND + CLAIM_BOND);
    }

    function test_openElement_inputFromEarlierBoundary_succeeds() public {
        bytes32 id = fxPost(false);
        bytes32 gid = point(id, false, 2);
        fine(gid, false, 2);
        assertEq(uint8(element(gid, false, 3)), uint8(GameOutcome.ProverWon)); // op3 reads t2 (coarse leaf 1)
    }

    function test_openElement_inputNotCommitted_reverts() public {
        bytes32 id = fxPost(false);
        bytes32 gid = point(id, false, 2);
        fine(gid, false, 2);
        FineChallenge memory c = fxElement(false, 3);
        c.inputSegment = fxSegmentOpening(1); // ends at t3, op3 reads t2
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(InputNotCommitted.selector, 3, 2));
        game.openElement(gid, c);
    }

    function test_openElement_opNotInSegment_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        fine(gid, true, 1);
        FineChallenge memory c = fxElement(true, 1);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(OpNotInSegment.selector, 1, 2, 3));
        game.openElement(gid, c);
    }

    function test_openElement_wrongProof_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 0);
        fine(gid, true, 0);
        FineChallenge memory c = fxElement(true, 0);
        c.element.output.rootProof[0] = bytes32(uint256(1));
        vm.prank(watcher);
        vm.expectRevert(); // ProofDoesNotVerify against the fine root
        game.openElement(gid, c);
    }

    function test_openElement_beforeFine_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        FineChallenge memory c = fxElement(true, 2);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(WrongPhase.selector, gid, uint8(Phase.Fine), uint8(Phase.Element)));
        game.openElement(gid, c);
    }

    function test_openElement_afterClock_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        fine(gid, true, 1);
        FineChallenge memory c = fxElement(true, 2);
        vm.warp(block.timestamp + CLOCK + 1);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(ClockExpired.selector, gid, uint8(Side.Challenger), 1));
        game.openElement(gid, c);
    }

    function test_openElement_afterEnd_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        fine(gid, true, 1);
        element(gid, true, 2);
        FineChallenge memory c = fxElement(true, 2);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(GameOver.selector, gid));
        game.openElement(gid, c);
    }

    // ------------------------------------------------------------------ requestElement / openRequested

    function request(bytes32 gid, uint256 op) internal {
        ElementRequest memory r = fxRequest(op);
        vm.prank(watcher);
        game.requestElement(gid, r);
    }

    function test_requestElement_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 2);
        fine(gid, true, 2);
        ElementRequest memory r = fxRequest(3); // op3 reads segment 0's boundary: its segment comes along
        vm.expectEmit(true, false, false, true, address(game));
        emit DisputeGame.ElementRequested(gid, 3, 0, 0, CLOCK);
        vm.prank(watcher);
        game.requestElement(gid, r);
        assertEq(uint8(g(gid).phase), uint8(Phase.Open));
        assertEq(uint8(game.mover(gid)), uint8(Side.Prover));
    }

    function test_requestElement_outOfRange_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        fine(gid, true, 1);
        ElementRequest memory r = fxRequest(2);
        r.col = 1;
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(ElementOutOfRange.selector, 0, 1));
        game.requestElement(gid, r);
    }

    function test_requestElement_opNotInSegment_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        fine(gid, true, 1);
        ElementRequest memory r = fxRequest(0);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(OpNotInSegment.selector, 0, 2, 3));
        game.requestElement(gid, r);
    }

    function test_requestElement_uncommittedInput_reverts() public {
        bytes32 id = fxPost(false);
        bytes32 gid = point(id, false, 2);
        fine(gid, false, 2);
        ElementRequest memory r = fxRequest(3);
        r.inputSegment = fxSegmentOpening(1);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(InputNotCommitted.selector, 3, 2));
        game.requestElement(gid, r);
    }

    function test_openRequested_honest_slashesChallenger_succeeds() public {
        bytes32 id = fxPost(false);
        bytes32 gid = point(id, false, 2);
        fine(gid, false, 2);
        request(gid, 3);
        FineChallenge memory c = fxElement(false, 3);
        vm.prank(prover);
        assertEq(uint8(game.openRequested(gid, c)), uint8(GameOutcome.ProverWon));
        assertEq(claims.credit(prover), CHALLENGE_BOND);
    }

    function test_openRequested_corrupt_slashesProver_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        fine(gid, true, 1);
        request(gid, 2);
        FineChallenge memory c = fxElement(true, 2);
        vm.prank(prover);
        assertEq(uint8(game.openRequested(gid, c)), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
    }

    function test_openRequested_wrongElement_reverts() public {
        bytes32 id = fxPost(false);
        bytes32 gid = point(id, false, 0);
        fine(gid, false, 0);
        request(gid, 1);
        FineChallenge memory c = fxElement(false, 0);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(WrongElement.selector, 0, 0, 0));
        game.openRequested(gid, c);
    }

    function test_openRequested_byChallenger_reverts() public {
        bytes32 id = fxPost(false);
        bytes32 gid = point(id, false, 0);
        fine(gid, false, 0);
        request(gid, 1);
        FineChallenge memory c = fxElement(false, 1);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(NotMover.selector, gid, watcher, prover));
        game.openRequested(gid, c);
    }

    /// A prover whose fine root commits a leaf nobody can open (not the root of a tensor of the op's shape) cannot
    /// escape: the challenger cannot open it either, but requests it, and the prover's clock runs out.
    function test_openRequested_garbageLeaf_proverTimesOut_succeeds() public {
        bytes32 id = fxPost(false);
        bytes32 gid = point(id, false, 0);
        bytes32[] memory leaves = fxFineLeaves(false, 0);
        leaves[1] = TensorMerkle.leafHash(abi.encodePacked(keccak256("garbage")));
        FineAnswer memory a = fxFine(false, 0);
        a.fineRoot = Tree.root(leaves);
        a.firstProof = Tree.proof(leaves, 0);
        a.lastProof = Tree.proof(leaves, 2);
        vm.prank(prover);
        game.postFine(gid, a);
        FineChallenge memory c = fxElement(false, 0); // the real data does not open under the garbage leaf
        vm.prank(watcher);
        vm.expectRevert();
        game.openElement(gid, c);
        request(gid, 0);
        vm.warp(block.timestamp + CLOCK + 1);
        assertEq(uint8(game.timeout(gid)), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
    }

    // ------------------------------------------------------------------ timeout and clocks

    function test_timeout_prover_slashesProver_succeeds() public {
        bytes32 id = fxPost(false);
        bytes32 gid = bisectAs(watcher, id, false);
        vm.warp(block.timestamp + CLOCK + 1);
        vm.expectEmit(true, false, false, true, address(game));
        emit DisputeGame.ClockTimedOut(gid, Side.Prover);
        assertEq(uint8(game.timeout(gid)), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        assertEq(claims.credit(watcher), CHALLENGE_BOND);
        payReward(id);
        assertEq(claims.credit(watcher), CHALLENGE_BOND + CLAIM_BOND / 2);
    }

    function test_timeout_challenger_slashesChallenger_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        fine(gid, true, 1);
        vm.warp(block.timestamp + CLOCK + 1);
        assertEq(uint8(game.timeout(gid)), uint8(GameOutcome.ProverWon));
        assertEq(claims.credit(prover), CHALLENGE_BOND);
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Pending));
    }

    function test_timeout_early_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        vm.warp(block.timestamp + CLOCK);
        vm.expectRevert(abi.encodeWithSelector(ClockNotExpired.selector, gid, uint8(Side.Prover), 0));
        game.timeout(gid);
    }

    function test_timeout_ended_reverts() public {
        bytes32 id = fxPost(false);
        bytes32 gid = bisectAs(watcher, id, false);
        vm.warp(block.timestamp + CLOCK + 1);
        game.timeout(gid);
        vm.expectRevert(abi.encodeWithSelector(GameOver.selector, gid));
        game.timeout(gid);
    }

    /// Two games against one claim: the first won slashes it; the second plays on through the reward grace
    /// and is moot after it, refunding its challenger.
    function test_timeout_mootAfterAnotherGameWon_succeeds() public {
        address second = address(0xCAFE);
        vm.deal(second, 1 ether);
        bytes32 id = fxPost(true);
        bytes32 g1 = point(id, true, 1);
        bytes32 g2 = bisectAs(second, id, true);
        fine(g1, true, 1);
        element(g1, true, 2);
        assertEq(claims.openGames(id), 1);
        // within the grace the second game still decides something (an earlier rank would take the reward)
        vm.expectRevert(abi.encodeWithSelector(ClockNotExpired.selector, g2, uint8(Side.Prover), CLOCK));
        game.timeout(g2);
        vm.warp(block.timestamp + GRACE + 1);
        vm.expectEmit(true, true, false, true, address(claims));
        emit ClaimManager.ChallengeRefunded(id, second, CHALLENGE_BOND);
        assertEq(uint8(game.timeout(g2)), uint8(GameOutcome.Moot));
        assertEq(claims.credit(second), CHALLENGE_BOND);
        claims.payReward(id);
        assertEq(claims.credit(watcher), CLAIM_BOND / 2 + CHALLENGE_BOND);
        assertEq(address(claims).balance, CLAIM_BOND + 2 * CHALLENGE_BOND);
        assertEq(claims.burned(), CLAIM_BOND / 2);
    }

    /// Two challengers both prove the claim wrong: the first slashes it, the second gets its bond back.
    function test_openElement_secondWinAfterSlash_refunds_succeeds() public {
        address second = address(0xCAFE);
        vm.deal(second, 1 ether);
        bytes32 id = fxPost(true);
        bytes32 g1 = point(id, true, 1);
        SegmentPointer memory p = fxPointer(true, 1);
        InferenceOpening memory inf = fxInf(true);
        bytes32 salt9 = commit(second, id);
        vm.prank(second);
        bytes32 g2 = game.pointSegment(id, inf, p, salt9);
        fine(g1, true, 1);
        fine(g2, true, 1);
        element(g1, true, 2);
        FineChallenge memory c = fxElement(true, 2);
        vm.expectEmit(true, true, false, true, address(claims));
        emit ClaimManager.ChallengeRefunded(id, second, CHALLENGE_BOND);
        vm.prank(second);
        assertEq(uint8(game.openElement(g2, c)), uint8(GameOutcome.ChallengerWon));
        assertEq(claims.credit(second), CHALLENGE_BOND);
        assertEq(claims.openGames(id), 0);
        // the second ranks behind the first (a later commitment): the reward stays with the first
        payReward(id);
        assertEq(claims.credit(second), CHALLENGE_BOND);
        assertEq(claims.credit(watcher), CLAIM_BOND / 2 + CHALLENGE_BOND);
    }

    function test_clocks_runForTheMoverOnly_succeeds() public {
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        vm.warp(block.timestamp + 300);
        (uint64 p, uint64 c) = game.clocks(gid);
        assertEq(p, CLOCK - 300);
        assertEq(c, CLOCK);
        bytes32[] memory r = reveal(gid, true, 0, 2, 1);
        vm.warp(block.timestamp + 50);
        (p, c) = game.clocks(gid);
        assertEq(p, CLOCK - 300);
        assertEq(c, CLOCK - 50);
        pickAs(gid, 0, r);
        vm.warp(block.timestamp + 2 * CLOCK);
        (p, c) = game.clocks(gid);
        assertEq(p, 0);
        assertEq(c, CLOCK - 50);
    }

    function test_finalize_gameOpen_reverts() public {
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        vm.warp(block.timestamp + WINDOW);
        vm.expectRevert(abi.encodeWithSelector(GamesOpen.selector, id, 1));
        claims.finalize(id);
        // the prover still answers after the window; the challenger loses on time; then the claim finalizes
        fine(gid, true, 1);
        vm.warp(block.timestamp + CLOCK + 1);
        game.timeout(gid);
        claims.finalize(id);
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Finalized));
        assertEq(claims.credit(prover), CLAIM_BOND + CHALLENGE_BOND);
    }

    // ------------------------------------------------------------------ fuzz

    /// A move succeeds iff the mover's elapsed time is within its budget.
    function testFuzz_reveal_clockBoundary_succeeds(uint64 elapsed) public {
        elapsed = uint64(elapsed % (2 * CLOCK));
        bytes32 id = fxPost(true);
        bytes32 gid = bisectAs(watcher, id, true);
        (BoundaryOpening[] memory r,) = fxReveal(true, 0, 2, 1);
        vm.warp(block.timestamp + elapsed);
        vm.prank(prover);
        if (elapsed > CLOCK) {
            vm.expectRevert(abi.encodeWithSelector(ClockExpired.selector, gid, uint8(Side.Prover), elapsed - CLOCK));
        }
        game.reveal(gid, r);
        if (elapsed <= CLOCK) {
            (uint64 p,) = game.clocks(gid);
            assertEq(p, CLOCK - elapsed);
        }
    }

    /// Any flipped bit in any sibling of a pointer's proofs is refused.
    function testFuzz_pointSegment_flippedSibling_reverts(uint8 seg, uint8 which, uint8 bit) public {
        uint32 s = uint32(seg % FX_SEGMENTS);
        bytes32 id = fxPost(true);
        SegmentPointer memory p = fxPointer(true, s);
        bytes32[] memory proof = which % 2 == 0 ? p.lo.proof : p.hi.proof;
        uint256 i = (which / 2) % proof.length;
        proof[i] ^= bytes32(uint256(1) << bit);
        InferenceOpening memory inf = fxInf(true);
        bytes32 salt10 = commit(watcher, id);
        vm.prank(watcher);
        vm.expectRevert();
        game.pointSegment(id, inf, p, salt10);
    }

    /// Whatever the path of picks, a bisection of the honest claim ends at one segment with the right roots,
    /// and a false element challenge there loses.
    function testFuzz_bisect_anyPath_endsAtOneSegment_succeeds(uint8 path) public {
        bytes32 id = fxPost(false);
        bytes32 gid = bisectAs(watcher, id, false);
        uint256 guard;
        while (g(gid).phase == Phase.Reveal) {
            PartitionGame memory pg = g(gid);
            uint256 d = pg.position.depth(ARITY);
            uint256 w = LibPosition.pow(ARITY, LibPosition.leafDepth(ARITY, FX_SEGMENTS) - d - 1);
            uint256 count = (pg.hi - pg.lo + w - 1) / w - 1;
            bytes32[] memory r = reveal(gid, false, pg.lo, w, count);
            pickAs(gid, (path >> (2 * guard)) % (count + 1), r);
            ++guard;
        }
        PartitionGame memory end = g(gid);
        assertEq(uint8(end.phase), uint8(Phase.Fine));
        assertEq(end.hi, end.lo + 1);
        assertEq(end.loRoot, fxRoot(false, fxCoarseIndex(end.lo)));
        assertEq(end.hiRoot, fxRoot(false, fxCoarseIndex(end.hi)));
        (uint256 lo, uint256 hi) = end.position.range(ARITY, FX_SEGMENTS);
        assertEq(lo, end.lo);
        assertEq(hi, end.hi);
        fine(gid, false, end.lo);
        uint256 op = fxSegment(end.lo).start;
        assertEq(uint8(element(gid, false, op)), uint8(GameOutcome.ProverWon));
    }

    // ------------------------------------------------------------------ escalation to the committee

    /// An honest claim's element of op2 (a bias Add: inside its sound bound, not a point region) escalated.
    function escalated() internal returns (bytes32 id, bytes32 gid) {
        id = fxPost(false);
        gid = point(id, false, 1);
        fine(gid, false, 1);
        FineChallenge memory c = fxElement(false, 2);
        vm.prank(watcher);
        game.escalate(gid, c);
        vm.roll(block.number + committee.DRAW_DELAY() + 1);
        committee.draw(gid);
    }

    function test_escalate_opensAVoteAndStopsTheClocks_succeeds() public {
        stakeValidators();
        (, bytes32 gid) = escalated();
        assertEq(uint8(g(gid).phase), uint8(Phase.Vote));
        (address[] memory m,,,,,,,) = committee.vote(gid);
        assertEq(m.length, 3);
        (uint64 p0, uint64 c0) = game.clocks(gid);
        vm.warp(block.timestamp + CLOCK * 2);
        (uint64 p1, uint64 c1) = game.clocks(gid);
        assertEq(p0, p1);
        assertEq(c0, c1);
        vm.expectRevert(abi.encodeWithSelector(WrongPhase.selector, gid, uint8(Phase.Vote), uint8(Phase.Element)));
        game.timeout(gid);
    }

    function test_escalate_committeeFindsOutside_slashesProver_succeeds() public {
        stakeValidators();
        (bytes32 id, bytes32 gid) = escalated();
        voteAll(gid, true);
        assertEq(uint8(g(gid).outcome), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        payReward(id);
        assertEq(claims.credit(watcher), CLAIM_BOND / 2 + CHALLENGE_BOND);
    }

    function test_escalate_committeeFindsInside_slashesChallenger_succeeds() public {
        stakeValidators();
        (bytes32 id, bytes32 gid) = escalated();
        voteAll(gid, false);
        assertEq(uint8(g(gid).outcome), uint8(GameOutcome.ProverWon));
        assertEq(claims.credit(prover), CHALLENGE_BOND);
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Pending));
    }

    function test_escalate_opNotInSegment_reverts() public {
        stakeValidators();
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        fine(gid, true, 1);
        FineChallenge memory c = fxElement(true, 0);
        vm.expectRevert(abi.encodeWithSelector(OpNotInSegment.selector, 0, 2, 3));
        vm.prank(watcher);
        game.escalate(gid, c);
    }

    function test_escalate_byProver_reverts() public {
        stakeValidators();
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        fine(gid, true, 1);
        FineChallenge memory c = fxElement(true, 2);
        vm.expectRevert(abi.encodeWithSelector(NotMover.selector, gid, prover, watcher));
        vm.prank(prover);
        game.escalate(gid, c);
    }

    function test_escalate_noValidators_reverts() public {
        bytes32 id = fxPost(false);
        bytes32 gid = point(id, false, 1);
        fine(gid, false, 1);
        FineChallenge memory c = fxElement(false, 2);
        vm.expectRevert(NoValidators.selector);
        vm.prank(watcher);
        game.escalate(gid, c);
    }

    /// #17 attack 4: an element outside its sound bound is the contract's to decide, not a vote's.
    function test_escalate_elementOutsideItsBound_reverts() public {
        stakeValidators();
        bytes32 id = fxPost(true);
        bytes32 gid = point(id, true, 1);
        fine(gid, true, 1);
        FineChallenge memory c = fxElement(true, 2);
        vm.expectRevert(abi.encodeWithSelector(ExactlyDecided.selector, 2, 0, 0, false));
        vm.prank(watcher);
        game.escalate(gid, c);
        assertEq(uint8(g(gid).phase), uint8(Phase.Element), "nothing changed");
    }

    /// #17 attack 4: an honest element of a point-region op (ReLU) is decided by the contract (the prover wins
    /// it), so a challenger cannot move it to a vote it might capture.
    function test_escalate_pointRegionOp_reverts() public {
        stakeValidators();
        bytes32 id = fxPost(false);
        bytes32 gid = point(id, false, 0);
        fine(gid, false, 0);
        FineChallenge memory c = fxElement(false, 1);
        vm.expectRevert(abi.encodeWithSelector(ExactlyDecided.selector, 1, 0, 0, true));
        vm.prank(watcher);
        game.escalate(gid, c);
    }

    /// An element that can be opened cannot be escalated unopened.
    function test_escalateUnopenable_openableElement_reverts() public {
        stakeValidators();
        bytes32 id = fxPost(false);
        bytes32 gid = point(id, false, 1);
        fine(gid, false, 1);
        Unopenable memory u;
        u.op = 2;
        u.leaf = abi.encode(fxNode(2));
        u.leafProof = Tree.proof(fxNodeLeaves(), 2);
        vm.expectRevert(abi.encodeWithSelector(Openable.selector, 2));
        vm.prank(watcher);
        game.escalateUnopenable(gid, u);
    }

    function test_settleVote_notCommittee_reverts() public {
        stakeValidators();
        (, bytes32 gid) = escalated();
        vm.expectRevert(abi.encodeWithSelector(NotCommittee.selector, watcher));
        vm.prank(watcher);
        game.settleVote(gid, true);
    }
}
