// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ModelSpec, modelIdOf as specId} from "./lib/Types.sol";
import {ModelAlreadyRegistered, UnknownModel, EmptyGraph, BadSegmentCount, BadOutputTolerance} from "./lib/Errors.sol";

/// @title ModelRegistry
/// @notice Registers models by content: the id is the hash of what defines the computation, so the same
///         model registered twice has the same id (and is refused the second time).
contract ModelRegistry {
    mapping(bytes32 modelId => ModelSpec) internal _models;

    /// @notice A model was registered.
    event ModelRegistered(
        bytes32 indexed modelId,
        address indexed owner,
        bytes32 graphRoot,
        uint32 nodeCount,
        uint32 segmentCount,
        bytes32 segmentsRoot,
        bytes32 weightsRoot,
        uint32 weightCount,
        bytes32 profileRoot,
        uint32 outputTolerance,
        string uri
    );

    /// @notice The id a spec registers under.
    function modelIdOf(ModelSpec calldata spec) public pure returns (bytes32) {
        return specId(spec);
    }

    /// @notice Registers a model; returns its id.
    function register(ModelSpec calldata spec) external returns (bytes32 modelId) {
        // INVARIANT: a graph has at least one op, so every claim has an output.
        if (spec.nodeCount == 0) revert EmptyGraph();
        // INVARIANT: segments tile the nodes, so the coarse trace has between 2 and nodeCount + 1 leaves.
        if (spec.segmentCount == 0 || spec.segmentCount > spec.nodeCount) {
            revert BadSegmentCount(spec.segmentCount, spec.nodeCount);
        }
        // INVARIANT: a declared output tolerance is a finite, non-negative fp32 (0: none declared).
        if (spec.outputTolerance >= 0x7f800000) revert BadOutputTolerance(spec.outputTolerance);
        modelId = modelIdOf(spec);
        // INVARIANT: a registered model never changes.
        if (_models[modelId].nodeCount != 0) revert ModelAlreadyRegistered(modelId);
        _models[modelId] = spec;
        emit ModelRegistered(
            modelId,
            msg.sender,
            spec.graphRoot,
            spec.nodeCount,
            spec.segmentCount,
            spec.segmentsRoot,
            spec.weightsRoot,
            spec.weightCount,
            spec.profileRoot,
            spec.outputTolerance,
            spec.uri
        );
    }

    /// @notice The spec of a registered model; reverts with `UnknownModel` otherwise.
    function model(bytes32 modelId) external view returns (ModelSpec memory spec) {
        spec = _models[modelId];
        if (spec.nodeCount == 0) revert UnknownModel(modelId);
    }

    /// @notice Whether a model is registered.
    function isRegistered(bytes32 modelId) external view returns (bool) {
        return _models[modelId].nodeCount != 0;
    }
}
