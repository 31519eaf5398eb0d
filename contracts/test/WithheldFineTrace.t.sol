// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture, Tree} from "./Fixture.t.sol";
import {
    ClaimStatus,
    TensorOpening,
    ChunkOpening,
    SegmentPointer,
    FineAnswer,
    InferenceOpening
} from "../src/lib/Types.sol";
import {
    WrongBond,
    BadDataRequest,
    WrongChunks,
    DataDeadlineOpen,
    UnknownDataRequest,
    GamesOpen,
    NoFineRoot,
    AlreadyPublished
} from "../src/lib/Errors.sol";

/// @notice Attacks 6 and 9 of the review (#17), played as the withholding prover would: it does not serve its
///         trace, hoping a watcher either gives up or challenges blind (and loses its bond to an honest answer).
///         The watcher instead asks for the data on-chain with a small bond: withheld, the claim is slashed and
///         the watcher paid; published, the watcher loses only that small bond, which pays the publishing.
contract WithheldFineTraceTest is Fixture {
    /// Coarse leaf 2 of the fixture is trace tensor t3 (segment 1's output).
    function _coarseOpening(bool corrupt, uint256 leaf) internal view returns (TensorOpening memory) {
        return fxOpening(fxTensor(corrupt, fxCoarseIndex(leaf)), Tree.proof(fxCoarseLeaves(corrupt), leaf));
    }

    /// The watcher asks for chunk 0 of leaf `leaf` of the coarse trace of inference `inf` (`gameId` zero) or of
    /// game `gameId`'s fine root.
    function _request(bytes32 id, bytes32 gameId, InferenceOpening memory inf, uint32 leaf)
        internal
        returns (bytes32 rid)
    {
        vm.prank(watcher);
        rid = claims.requestData{value: DATA_BOND}(id, gameId, inf, leaf, 0, 1);
    }

    function _none() internal pure returns (ChunkOpening[] memory) {
        return new ChunkOpening[](0);
    }

    function _withdraw(address who) internal {
        if (claims.credit(who) == 0) return;
        vm.prank(who);
        claims.withdraw();
    }

    function test_withheldData_slashesTheProver_paysTheWatcher_succeeds() public {
        uint256 p0 = prover.balance;
        uint256 w0 = watcher.balance;
        bytes32 id = fxPost(true);
        bytes32 rid = _request(id, bytes32(0), fxInf(true), 2);
        vm.expectRevert(abi.encodeWithSelector(GamesOpen.selector, id, 1));
        vm.warp(block.timestamp + WINDOW);
        claims.finalize(id);
        vm.expectRevert(abi.encodeWithSelector(DataDeadlineOpen.selector, rid, block.timestamp - WINDOW + DATA_WINDOW));
        claims.expireData(rid);
        vm.warp(block.timestamp + DATA_WINDOW);
        claims.expireData(rid);
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        payReward(id);
        _withdraw(watcher);
        _withdraw(prover);
        assertEq(p0 - prover.balance, CLAIM_BOND, "withholding cost the prover its bond");
        assertEq(watcher.balance - w0, CLAIM_BOND / 2, "the watcher is paid, its small bond back");
    }

    function test_publishedData_costsTheWatcherOnlyItsSmallBond_succeeds() public {
        uint256 p0 = prover.balance;
        uint256 w0 = watcher.balance;
        bytes32 id = fxPost(false);
        vm.warp(block.timestamp + WINDOW - 10);
        bytes32 rid = _request(id, bytes32(0), fxInf(false), 2);
        TensorOpening memory t = _coarseOpening(false, 2);
        uint32[] memory shape = fxShape(3);
        vm.prank(prover);
        claims.publishData(rid, shape, t);
        // published near the window's end: the watcher has `DATA_WINDOW` to challenge with what it got
        assertEq(claims.windowClosesAt(id), block.timestamp + DATA_WINDOW);
        // asking for the same chunk again is refused: it is in the logs for good
        bytes32 root = fxTraceRoot(false);
        InferenceOpening memory inf = fxInf(false);
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(AlreadyPublished.selector, root, 2, 0));
        claims.requestData{value: DATA_BOND}(id, bytes32(0), inf, 2, 0, 1);
        vm.warp(block.timestamp + DATA_WINDOW);
        claims.finalize(id);
        _withdraw(prover);
        assertEq(prover.balance - p0, DATA_BOND, "the honest prover is paid for publishing");
        assertEq(w0 - watcher.balance, DATA_BOND, "the watcher lost only the small bond");
    }

    function test_fineData_requestedAndPublished_succeeds() public {
        bytes32 id = fxPost(true);
        SegmentPointer memory p = fxPointer(true, 1);
        FineAnswer memory a = fxFine(true, 1);
        InferenceOpening memory inf = fxInf(true);
        bytes32 salt = commit(watcher, id);
        vm.prank(watcher);
        bytes32 gid = game.pointSegment(id, inf, p, salt);
        vm.expectRevert(abi.encodeWithSelector(NoFineRoot.selector, gid));
        _request(id, gid, noInference(), 1);
        vm.prank(prover);
        game.postFine(gid, a);
        bytes32 rid = _request(id, gid, noInference(), 1);
        // fine leaf 1 of segment 1 is t3, the corrupted tensor: the watcher now has what it needs to open it
        TensorOpening memory t = fxOpening(fxTensor(true, 3), Tree.proof(fxFineLeaves(true, 1), 1));
        uint32[] memory shape = fxShape(3);
        vm.prank(prover);
        claims.publishData(rid, shape, t);
        (,, bytes32 root,,,,,,) = claims.dataRequests(rid);
        assertEq(root, bytes32(0), "answered");
    }

    // ------------------------------------------------------------------ bad input: reverts, changes nothing

    function test_publishData_wrongChunks_reverts() public {
        bytes32 id = fxPost(false);
        InferenceOpening memory inf = fxInf(false);
        vm.prank(watcher);
        bytes32 rid = claims.requestData{value: DATA_BOND}(id, bytes32(0), inf, 2, 0, 2);
        TensorOpening memory t = _coarseOpening(false, 2);
        uint32[] memory shape = fxShape(3);
        // the tensor has one chunk: the answer is that chunk, and nothing short of it
        t.chunks = _none();
        vm.expectRevert(abi.encodeWithSelector(WrongChunks.selector, rid, 0, 1));
        claims.publishData(rid, shape, t);
        assertEq(claims.openRequests(id), 1);
    }

    function test_requestData_badInput_reverts() public {
        bytes32 id = fxPost(false);
        InferenceOpening memory inf = fxInf(false);
        vm.startPrank(watcher);
        vm.expectRevert(abi.encodeWithSelector(WrongBond.selector, 1, DATA_BOND));
        claims.requestData{value: 1}(id, bytes32(0), inf, 2, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(BadDataRequest.selector, 0, 24));
        claims.requestData{value: DATA_BOND}(id, bytes32(0), inf, 2, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(BadDataRequest.selector, 25, 24));
        claims.requestData{value: DATA_BOND}(id, bytes32(0), inf, 2, 0, 25);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(UnknownDataRequest.selector, bytes32(0)));
        claims.expireData(bytes32(0));
        assertEq(claims.openRequests(id), 0);
    }

    /// A request past the tensor's end is answered by the tensor's root and shape alone.
    function test_publishData_pastTheEnd_answeredEmpty_succeeds() public {
        bytes32 id = fxPost(false);
        InferenceOpening memory inf = fxInf(false);
        vm.prank(watcher);
        bytes32 rid = claims.requestData{value: DATA_BOND}(id, bytes32(0), inf, 2, 5, 1);
        TensorOpening memory t = _coarseOpening(false, 2);
        t.chunks = _none();
        uint32[] memory shape = fxShape(3);
        claims.publishData(rid, shape, t);
        assertEq(claims.openRequests(id), 0);
    }
}
