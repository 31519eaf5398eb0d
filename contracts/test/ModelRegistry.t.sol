// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ModelSpec} from "../src/lib/Types.sol";
import {
    ModelAlreadyRegistered,
    UnknownModel,
    EmptyGraph,
    BadSegmentCount,
    BadOutputTolerance
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
            s.nodeCount,
            s.segmentCount,
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

    function test_register_emptyGraph_reverts() public {
        ModelSpec memory s = spec();
        s.nodeCount = 0;
        vm.expectRevert(EmptyGraph.selector);
        registry.register(s);
    }

    function test_register_badSegmentCount_reverts() public {
        ModelSpec memory s = spec();
        s.segmentCount = 2;
        vm.expectRevert(abi.encodeWithSelector(BadSegmentCount.selector, 2, 1));
        registry.register(s);
        s.segmentCount = 0;
        vm.expectRevert(abi.encodeWithSelector(BadSegmentCount.selector, 0, 1));
        registry.register(s);
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

    /// The tolerance is not part of the id: the same computation with another tolerance is the same model.
    function test_register_sameModelOtherTolerance_reverts() public {
        ModelSpec memory s = spec();
        s.outputTolerance = 0x3f800000;
        vm.expectRevert(abi.encodeWithSelector(ModelAlreadyRegistered.selector, modelId));
        registry.register(s);
        assertEq(registry.model(modelId).outputTolerance, 0, "the first registration's tolerance stands");
    }

    function test_model_unknown_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(UnknownModel.selector, bytes32(uint256(7))));
        registry.model(bytes32(uint256(7)));
    }
}
