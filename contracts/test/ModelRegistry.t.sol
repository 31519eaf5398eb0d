// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Base} from "./Base.t.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ModelSpec} from "../src/lib/Types.sol";
import {ModelAlreadyRegistered, UnknownModel, EmptyGraph, BadSegmentCount} from "../src/lib/Errors.sol";

contract ModelRegistryTest is Base {
    function test_register_succeeds() public {
        ModelSpec memory s = spec();
        s.profileRoot = keccak256("another profile");
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
            s.uri
        );
        assertEq(registry.register(s), id);
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

    function test_model_unknown_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(UnknownModel.selector, bytes32(uint256(7))));
        registry.model(bytes32(uint256(7)));
    }
}
