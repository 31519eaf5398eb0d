// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Reduce} from "../src/ops/Reduce.sol";
import {Linear} from "../src/ops/Linear.sol";
import {Base} from "./Base.t.sol";
import {Adjudicator} from "../src/Adjudicator.sol";
import {TensorMerkle} from "../src/lib/TensorMerkle.sol";
import {
    ModelSpec,
    OpKind,
    OpNode,
    Segment,
    SegmentOpening,
    SegmentPointer,
    BoundaryOpening,
    FineAnswer,
    ElementRequest,
    Unopenable,
    Phase,
    Inference,
    InferenceOpening,
    ClaimStatus
} from "../src/lib/Types.sol";
import {ElementTooCostly} from "../src/lib/Errors.sol";

/// @notice Attack 3 of the review (#17), played as the griefer would: on a model with a softmax over 8192 keys,
///         it asks the honest prover to open one element of that row, whose adjudication would take ~80M gas,
///         so that the prover cannot answer within a block and loses on its clock. The request is refused
///         (`ElementTooCostly`), nothing changes, and such an element goes to the committee unopened instead.
contract LongRowRequestTest is Base {
    uint32 internal constant KEYS = 8192;
    bytes32 internal longModel;
    OpNode internal softmax;
    bytes32 internal constant IN = keccak256("input root");
    bytes32 internal constant OUT = keccak256("output root");

    function setUp() public override {
        super.setUp();
        softmax = OpNode(OpKind.Softmax, 0, 0, 0, 0, 1, KEYS, "");
        longModel = registry.register(
            ModelSpec({
                graphRoot: TensorMerkle.leafHash(abi.encode(softmax)),
                pieceNodes: fixedShape(1),
                pieceSegments: fixedShape(1),
                context: 1,
                segmentsRoot: TensorMerkle.leafHash(abi.encode(Segment(0, 1))),
                weightsRoot: bytes32(0),
                weightCount: 0,
                profileRoot: keccak256("profile"),
                outputTolerance: 0,
                uri: "long softmax"
            })
        );
    }

    function _proof(bytes32 sibling) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](1);
        p[0] = listLeaf(sibling);
    }

    /// An honest claim on the long-softmax model, disputed at its only segment, the fine root posted.
    function _disputed() internal returns (bytes32 id, bytes32 gid) {
        bytes32 traceRoot = TensorMerkle.nodeHash(listLeaf(IN), listLeaf(OUT));
        Inference[] memory batch = batchOf(traceRoot);
        vm.prank(prover);
        id = claims.postClaim{value: CLAIM_BOND}(longModel, packed(batch), "long softmax");
        SegmentPointer memory p = SegmentPointer(0, BoundaryOpening(IN, _proof(OUT)), BoundaryOpening(OUT, _proof(IN)));
        InferenceOpening memory inf = single(traceRoot);
        bytes32 salt = commit(watcher, id);
        vm.prank(watcher);
        gid = game.pointSegment(id, inf, p, salt);
        FineAnswer memory a =
            FineAnswer(traceRoot, SegmentOpening(0, Segment(0, 1), new bytes32[](0)), _proof(OUT), _proof(IN));
        vm.prank(prover);
        game.postFine(gid, a);
    }

    function test_longRowRequest_refused_proverNoPoorer_succeeds() public {
        uint256 proverBefore = prover.balance;
        (bytes32 id, bytes32 gid) = _disputed();
        ElementRequest memory r;
        r.op = 0;
        r.node = softmax;
        r.nodeProof = new bytes32[](0);
        (uint256 gas, uint256 size) = game.adjudicator().openingCost(softmax);
        assertGt(gas, 30_000_000, "an 8192-key softmax element cannot be adjudicated in a block");
        vm.expectRevert(abi.encodeWithSelector(ElementTooCostly.selector, 0, gas, size));
        vm.prank(watcher);
        game.requestElement(gid, r);
        assertEq(uint8(game.partitionGame(gid).phase), uint8(Phase.Element), "nothing changed");
        // the prover keeps its clock and, the griefer's time run out, wins the challenge bond
        vm.warp(block.timestamp + CLOCK + 1);
        game.timeout(gid);
        vm.warp(claims.windowClosesAt(id));
        claims.finalize(id);
        vm.prank(prover);
        claims.withdraw();
        assertEq(prover.balance, proverBefore + CHALLENGE_BOND, "the honest prover ends richer, never poorer");
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Finalized));
    }

    /// A challenger who really doubts such an element escalates it unopened: the committee recomputes it.
    function test_longRowElement_escalatedUnopened_succeeds() public {
        vm.deal(address(0x7A1), 2 ether);
        vm.prank(address(0x7A1));
        committee.stake{value: MIN_STAKE}();
        (, bytes32 gid) = _disputed();
        Unopenable memory u;
        u.col = KEYS - 1;
        u.leaf = abi.encode(softmax);
        u.leafProof = new bytes32[](0);
        vm.prank(watcher);
        game.escalateUnopenable(gid, u);
        assertEq(uint8(game.partitionGame(gid).phase), uint8(Phase.Vote));
    }

    /// The vectors `nao::graph::OpNode::opening_cost` is tested on: the same formula on both sides of the ABI.
    function test_openingCost_sharedVectors_succeeds() public {
        Adjudicator adj = game.adjudicator();
        uint32[3] memory none;
        (uint256 gas, uint256 size) =
            adj.openingCost(OpNode(OpKind.MatMul, 1, 2, 0, 0, 1, 896, abi.encode(Linear.MatMulParams(4864))));
        assertEq(gas, 3_523_680);
        assertEq(size, 64_480);
        (gas, size) = adj.openingCost(OpNode(OpKind.Softmax, 1, 2, 0, 0, 1, 8192, ""));
        assertEq(gas, 82_846_960);
        assertEq(size, 54_560);
        (gas, size) =
            adj.openingCost(OpNode(OpKind.MeanRows, 1, 2, 0, 0, 1, 384, abi.encode(Reduce.MeanRowsParams(4096))));
        assertEq(gas, 143_157_040);
        assertEq(size, 7_633_440);
    }

    /// The cost bound at the sizes nao registers and beyond.
    function test_openingCost_namesWhatABlockCannotHold_succeeds() public {
        Adjudicator adj = game.adjudicator();
        uint32[3] memory none;
        // Qwen2.5's widest dot product (n = 4864) and a 2048-key softmax fit; 8192 keys and a 4096-row mean do not
        (uint256 gas, uint256 size) =
            adj.openingCost(OpNode(OpKind.MatMul, 1, 0, 0, 0, 1, 896, abi.encode(Linear.MatMulParams(4864))));
        assertLt(gas, adj.MAX_OPENING_GAS());
        assertLt(size, adj.MAX_OPENING_BYTES());
        (gas,) = adj.openingCost(OpNode(OpKind.Softmax, 1, 0, 0, 0, 1, 2048, ""));
        assertLt(gas, adj.MAX_OPENING_GAS());
        (gas,) = adj.openingCost(OpNode(OpKind.Softmax, 1, 0, 0, 0, 1, 8192, ""));
        assertGt(gas, adj.MAX_OPENING_GAS());
        (, size) = adj.openingCost(OpNode(OpKind.MeanRows, 1, 0, 0, 0, 1, 384, abi.encode(Reduce.MeanRowsParams(4096))));
        assertGt(size, adj.MAX_OPENING_BYTES());
        (, size) = adj.openingCost(
            OpNode(OpKind.BatchMatMul, 1, 2, 0, 1, 64, 64, abi.encode(Linear.BatchMatMulParams(4096, false)))
        );
        assertGt(size, adj.MAX_OPENING_BYTES(), "a p.v column over 4096 tokens spans too many chunks");
    }
}
