// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ModelSpec, Patch, Segment} from "../src/lib/Types.sol";
import {
    ModelAlreadyRegistered,
    UnknownModel,
    EmptyGraph,
    BadSegmentCount,
    GraphTooLarge,
    BadOutputTolerance,
    BadLengths
} from "../src/lib/Errors.sol";

contract ModelRegistryTest is Base {
    function test_register_succeeds() public {
        ModelSpec memory s = spec();
        s.profileRoot = keccak256("another profile");
        s.outputTolerance = 0x3c23d70a; // 1e-2
        bytes32 id = registry.modelIdOf(s);
        vm.expectEmit(true, true, false, true, address(registry));
        emit ModelRegistry.ModelRegistered(
            id,
            address(this),
            s.graphRoot,
            s.pieceNodes,
            s.pieceSegments,
            s.context,
            s.segmentsRoot,
            s.weightsRoot,
            s.weightCount,
            s.profileRoot,
            s.outputTolerance,
            s.uri
        );
        assertEq(registry.register(s), id);
        assertEq(registry.model(id).outputTolerance, s.outputTolerance);
        assertEq(registry.model(id).weightsRoot, s.weightsRoot);
        assertTrue(registry.isRegistered(id));
    }

    function test_register_twice_reverts() public {
        ModelSpec memory s = spec();
        vm.expectRevert(abi.encodeWithSelector(ModelAlreadyRegistered.selector, modelId));
        registry.register(s);
    }

    /// No node in the prefill, or no position, is an empty graph.
    function test_register_emptyGraph_reverts() public {
        ModelSpec memory s = spec();
        s.pieceNodes = fixedShape(0);
        vm.expectRevert(EmptyGraph.selector);
        registry.register(s);
        // refused before its segments are looked at
        s.pieceSegments = fixedShape(0);
        vm.expectRevert(EmptyGraph.selector);
        registry.register(s);
        s = spec();
        s.context = 0;
        vm.expectRevert(EmptyGraph.selector);
        registry.register(s);
        assertFalse(registry.isRegistered(registry.modelIdOf(s)), "nothing registered");
    }

    /// A model that generates has both step pieces; one piece without the other is refused.
    function test_register_oneStepPiece_reverts() public {
        ModelSpec memory s = generating();
        s.pieceNodes = [uint32(3), 2, 0];
        s.pieceSegments = [uint32(1), 1, 0];
        vm.expectRevert(EmptyGraph.selector);
        registry.register(s);
        s.pieceNodes = [uint32(3), 0, 2];
        s.pieceSegments = [uint32(1), 0, 1];
        vm.expectRevert(EmptyGraph.selector);
        registry.register(s);
    }

    function test_register_badSegmentCount_reverts() public {
        ModelSpec memory s = spec();
        s.pieceSegments = fixedShape(2);
        vm.expectRevert(abi.encodeWithSelector(BadSegmentCount.selector, 2, 1));
        registry.register(s);
        s.pieceSegments = fixedShape(0);
        vm.expectRevert(abi.encodeWithSelector(BadSegmentCount.selector, 0, 1));
        registry.register(s);
    }

    /// Every piece is checked on its own: segments in a piece without nodes, none in a piece with nodes, or more
    /// segments than nodes, are refused with that piece's counts.
    function test_register_badPieceSegmentCount_reverts() public {
        ModelSpec memory s = generating();
        uint32[3][5] memory nodes =
            [[uint32(3), 2, 2], [uint32(3), 2, 2], [uint32(3), 2, 2], [uint32(3), 0, 0], [uint32(3), 0, 0]];
        uint32[3][5] memory segs =
            [[uint32(1), 0, 1], [uint32(1), 1, 0], [uint32(1), 1, 3], [uint32(1), 1, 0], [uint32(1), 0, 1]];
        uint32[2][5] memory want = [[uint32(0), 2], [uint32(0), 2], [uint32(3), 2], [uint32(1), 0], [uint32(1), 0]];
        for (uint256 i; i < 5; ++i) {
            s.pieceNodes = nodes[i];
            s.pieceSegments = segs[i];
            vm.expectRevert(abi.encodeWithSelector(BadSegmentCount.selector, want[i][0], want[i][1]));
            registry.register(s);
            assertFalse(registry.isRegistered(registry.modelIdOf(s)));
        }
    }

    /// A template whose longest concrete graph (prompt 1, `context` steps) would count more than 2^32 - 1 nodes is
    /// refused: every claim's node count must fit the uint32 the game's positions use. One node fewer registers.
    function testFuzz_register_graphTooLarge_reverts(uint32 context) public {
        ModelSpec memory s = generating();
        context = uint32(3 + context % (uint256(type(uint32).max) - 2));
        s.context = context;
        // n0 + n1 + (context - 2) * n2 just past 2^32 - 1
        uint256 n2 = uint256(type(uint32).max) / (context - 2) + 1;
        vm.assume(n2 <= type(uint32).max);
        s.pieceNodes = [uint32(3), 2, uint32(n2)];
        uint256 most = 5 + (uint256(context) - 2) * n2;
        vm.expectRevert(abi.encodeWithSelector(GraphTooLarge.selector, most));
        registry.register(s);
        assertFalse(registry.isRegistered(registry.modelIdOf(s)));
        // the largest that fits
        s.pieceNodes[2] = uint32((uint256(type(uint32).max) - 5) / (context - 2));
        if (s.pieceNodes[2] >= s.pieceSegments[2]) {
            registry.register(s);
            assertTrue(registry.isRegistered(registry.modelIdOf(s)));
        }
    }

    /// A generating template: three prefill nodes in one segment, two nodes in one segment per step.
    function generating() internal view returns (ModelSpec memory s) {
        s = spec();
        s.pieceNodes = [uint32(3), 2, 2];
        s.pieceSegments = [uint32(1), 1, 1];
        s.context = 16;
        s.uri = "generating";
    }

    /// A generating template registers; its counts follow its lengths, and the lengths it serves are bounded by
    /// its context. The pieces and the context are part of the id.
    function test_register_generatingTemplate_countsFollowLengths_succeeds() public {
        ModelSpec memory s = generating();
        bytes32 id = registry.register(s);
        ModelSpec memory got = registry.model(id);
        assertEq(uint256(got.pieceNodes[2]), 2);
        assertEq(uint256(got.pieceSegments[1]), 1);
        assertEq(uint256(got.context), 16);
        uint32[3][5] memory at =
            [[uint32(1), 1, 3], [uint32(16), 1, 3], [uint32(1), 2, 5], [uint32(5), 4, 9], [uint32(1), 16, 33]];
        for (uint256 i; i < at.length; ++i) {
            (uint32 nodes, uint32 segments) = registry.counts(id, at[i][0], at[i][1]);
            assertEq(uint256(nodes), at[i][2], "nodes: 3 + 2 (steps - 1)");
            assertEq(uint256(segments), uint256(at[i][1]), "segments: one per step");
        }
        vm.expectRevert(abi.encodeWithSelector(BadLengths.selector, 16, 2, 16));
        registry.counts(id, 16, 2);
        vm.expectRevert(abi.encodeWithSelector(BadLengths.selector, 0, 1, 16));
        registry.counts(id, 0, 1);
        vm.expectRevert(abi.encodeWithSelector(BadLengths.selector, 1, 0, 16));
        registry.counts(id, 1, 0);

        s.context = 17;
        assertTrue(registry.modelIdOf(s) != id, "the context is part of the id");
        s.context = 16;
        s.pieceNodes = [uint32(3), 2, 3];
        assertTrue(registry.modelIdOf(s) != id, "the pieces are part of the id");
    }

    /// The fixed-shape model serves one prompt token and one step only.
    function test_counts_fixedShape_succeeds() public {
        (uint32 nodes, uint32 segments) = registry.counts(modelId, 1, 1);
        assertEq(uint256(nodes), 1);
        assertEq(uint256(segments), 1);
        vm.expectRevert(abi.encodeWithSelector(BadLengths.selector, 1, 2, 1));
        registry.counts(modelId, 1, 2);
        vm.expectRevert(abi.encodeWithSelector(BadLengths.selector, 2, 1, 1));
        registry.counts(modelId, 2, 1);
    }

    function test_views_unknownModel_reverts() public {
        bytes32 id = bytes32(uint256(7));
        bytes memory unknown = abi.encodeWithSelector(UnknownModel.selector, id);
        vm.expectRevert(unknown);
        registry.counts(id, 1, 1);
        vm.expectRevert(unknown);
        registry.weightsOf(id);
        vm.expectRevert(unknown);
        registry.outputToleranceOf(id);
        vm.expectRevert(unknown);
        registry.checkNode(id, 1, 1, 0, abi.encode(node), new Patch[](0), new bytes32[](0));
        vm.expectRevert(unknown);
        registry.checkSegment(id, 1, 0, Segment(0, 1), new bytes32[](0));
    }

    function test_views_registeredModel_succeeds() public {
        ModelSpec memory s = spec();
        (bytes32 root, uint32 count) = registry.weightsOf(modelId);
        assertEq(root, s.weightsRoot);
        assertEq(uint256(count), s.weightCount);
        assertEq(uint256(registry.outputToleranceOf(modelId)), 0);
        registry.checkNode(modelId, 1, 1, 0, abi.encode(node), new Patch[](0), new bytes32[](0));
        registry.checkSegment(modelId, 1, 0, Segment(0, 1), new bytes32[](0));
    }

    /// A tolerance no output can be compared against (negative, infinite, NaN) is refused.
    function testFuzz_register_badOutputTolerance_reverts(uint32 bits) public {
        bits = 0x7f800000 + bits % (type(uint32).max - 0x7f800000 + 1);
        ModelSpec memory s = spec();
        s.profileRoot = keccak256("tolerance");
        s.outputTolerance = bits;
        vm.expectRevert(abi.encodeWithSelector(BadOutputTolerance.selector, bits));
        registry.register(s);
        assertFalse(registry.isRegistered(registry.modelIdOf(s)), "nothing registered");
    }

    /// The tolerance is part of the id: a squatter who registers an owner's computation first, with a tolerance
    /// of its choosing (0: no output votes), takes no id from the owner, whose own tolerance registers apart.
    function test_register_sameModelOtherTolerance_isAnotherModel_succeeds() public {
        ModelSpec memory s = spec();
        s.outputTolerance = 0x3c23d70a; // 1e-2, the owner's
        bytes32 squatted = modelId; // setUp registered the same computation first, with tolerance 0
        bytes32 owned = registry.register(s);
        assertTrue(owned != squatted, "another id");
        assertEq(registry.model(owned).outputTolerance, s.outputTolerance, "the owner's tolerance");
        assertEq(registry.model(squatted).outputTolerance, 0);
        vm.expectRevert(abi.encodeWithSelector(ModelAlreadyRegistered.selector, owned));
        registry.register(s);
    }

    function test_model_unknown_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(UnknownModel.selector, bytes32(uint256(7))));
        registry.model(bytes32(uint256(7)));
    }
}
