// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ModelSpec, Patch, Segment, modelIdOf as specId} from "./lib/Types.sol";
import {Template} from "./lib/Template.sol";
import {TensorMerkle} from "./lib/TensorMerkle.sol";
import {
    ModelAlreadyRegistered,
    UnknownModel,
    EmptyGraph,
    BadSegmentCount,
    GraphTooLarge,
    BadOutputTolerance,
    OpOutOfRange,
    SegmentOutOfRange,
    BadSegment
} from "./lib/Errors.sol";

/// @title ModelRegistry
/// @notice Registers models by content: the id is the hash of what defines the computation, so the same
///         model registered twice has the same id (and is refused the second time). A model is a template
///         (`Template.sol`): one registration serves every prompt and generation length its context holds, and
///         the registry answers where a claim's concrete node or segment sits in it.
contract ModelRegistry {
    mapping(bytes32 modelId => ModelSpec) internal _models;

    /// @notice A model was registered.
    event ModelRegistered(
        bytes32 indexed modelId,
        address indexed owner,
        bytes32 graphRoot,
        uint32[3] pieceNodes,
        uint32[3] pieceSegments,
        uint32 context,
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
        uint32[3] calldata n = spec.pieceNodes;
        uint32[3] calldata s = spec.pieceSegments;
        // INVARIANT: a graph has at least one op and one position, so every claim has an output.
        if (n[0] == 0 || spec.context == 0) revert EmptyGraph();
        // INVARIANT: a model that generates has both step pieces; one that does not has neither.
        if ((n[1] == 0) != (n[2] == 0)) revert EmptyGraph();
        for (uint256 k; k < 3; ++k) {
            // INVARIANT: segments tile each piece's nodes, so every coarse trace has between 2 and nodes + 1 leaves.
            if ((n[k] == 0) != (s[k] == 0) || s[k] > n[k]) revert BadSegmentCount(s[k], n[k]);
        }
        // INVARIANT: every concrete graph the spec serves (at most `context` steps) counts its nodes, and so its
        // segments, in 32 bits.
        uint256 most = Template.count(n, spec.context);
        if (most > type(uint32).max) revert GraphTooLarge(most);
        // INVARIANT: a declared output tolerance is a finite, non-negative fp32 (0: none declared).
        if (spec.outputTolerance >= 0x7f800000) revert BadOutputTolerance(spec.outputTolerance);
        modelId = modelIdOf(spec);
        // INVARIANT: a registered model never changes.
        if (_models[modelId].context != 0) revert ModelAlreadyRegistered(modelId);
        _models[modelId] = spec;
        emit ModelRegistered(
            modelId,
            msg.sender,
            spec.graphRoot,
            n,
            s,
            spec.context,
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
        if (spec.context == 0) revert UnknownModel(modelId);
    }

    /// @notice The weights root and weight count of registered model `modelId`.
    function weightsOf(bytes32 modelId) external view returns (bytes32 root, uint32 count) {
        ModelSpec storage m = _known(modelId);
        return (m.weightsRoot, m.weightCount);
    }

    /// @notice The declared output tolerance (fp32 bits; 0: none) of registered model `modelId`.
    function outputToleranceOf(bytes32 modelId) external view returns (uint32) {
        return _known(modelId).outputTolerance;
    }

    /// @notice Whether a model is registered.
    function isRegistered(bytes32 modelId) external view returns (bool) {
        return _models[modelId].context != 0;
    }

    /// @notice The node and segment counts of model `modelId`'s concrete graph for `prompt` tokens and `steps`
    ///         steps; reverts `BadLengths` for lengths the model does not serve, `UnknownModel` for no model.
    function counts(bytes32 modelId, uint32 prompt, uint32 steps) external view returns (uint32 nodes, uint32 segments) {
        ModelSpec storage m = _known(modelId);
        return _counts(m.pieceNodes, m.pieceSegments, m.context, prompt, steps);
    }

    /// @notice Reverts unless `leaf` is node `op` of registered model `modelId`'s concrete graph for these
    ///         lengths: its template leaf (from `patches`) sits under the graph root at the node's template index.
    function checkNode(
        bytes32 modelId,
        uint32 prompt,
        uint32 steps,
        uint32 op,
        bytes calldata leaf,
        Patch[] calldata patches,
        bytes32[] calldata proof
    ) external view {
        _checkNode(_known(modelId), prompt, steps, op, leaf, patches, proof);
    }

    /// @notice Reverts unless segment `index` of registered model `modelId`'s concrete graph for `steps` steps
    ///         is nodes [s.start, s.end): the template segment it moves from sits under the segments root.
    function checkSegment(bytes32 modelId, uint32 steps, uint32 index, Segment calldata s, bytes32[] calldata proof)
        external
        view
    {
        _checkSegment(_known(modelId), steps, index, s, proof);
    }

    function _checkNode(
        ModelSpec storage m,
        uint32 prompt,
        uint32 steps,
        uint32 op,
        bytes calldata leaf,
        Patch[] calldata patches,
        bytes32[] calldata proof
    ) private view {
        uint32[3] memory n = m.pieceNodes;
        (uint32 nodes,) = _counts(n, m.pieceSegments, m.context, prompt, steps);
        // INVARIANT: the op is a node of the claim's graph, described exactly as the template gives it.
        if (op >= nodes) revert OpOutOfRange(op, nodes);
        (uint256 index, uint256 step, uint256 refStep) = Template.locate(n, steps, op);
        bytes32 h = Template.leafHash(leaf, patches, prompt, step, refStep);
        TensorMerkle.verify(m.graphRoot, h, index, uint256(n[0]) + n[1] + n[2], proof);
    }

    function _checkSegment(
        ModelSpec storage m,
        uint32 steps,
        uint32 index,
        Segment calldata s,
        bytes32[] calldata proof
    ) private view {
        uint32[3] memory n = m.pieceNodes;
        uint32[3] memory p = m.pieceSegments;
        uint256 segments = Template.count(p, steps);
        // forge-lint: disable-next-line(unsafe-typecast)
        if (index >= segments) revert SegmentOutOfRange(index, uint32(segments));
        (uint256 t, uint256 step, uint256 refStep) = Template.locate(p, steps, index);
        uint256 shift = (step - refStep) * n[2];
        // INVARIANT: a segment is a non-empty node range of the claim's graph.
        if (s.start < shift || s.start >= s.end || s.end > Template.count(n, steps)) revert BadSegment(s.start, s.end);
        // forge-lint: disable-next-line(unsafe-typecast)
        Segment memory at = Segment(uint32(s.start - shift), uint32(s.end - shift));
        TensorMerkle.verify(m.segmentsRoot, TensorMerkle.leafHash(abi.encode(at)), t, uint256(p[0]) + p[1] + p[2], proof);
    }

    function _counts(uint32[3] memory n, uint32[3] memory p, uint32 context, uint32 prompt, uint32 steps)
        private
        pure
        returns (uint32 nodes, uint32 segments)
    {
        Template.checkLengths(n, context, prompt, steps);
        // forge-lint: disable-next-line(unsafe-typecast)
        nodes = uint32(Template.count(n, steps)); // below 2^32: register bounds it (GraphTooLarge)
        // forge-lint: disable-next-line(unsafe-typecast)
        segments = uint32(Template.count(p, steps));
    }

    function _known(bytes32 modelId) private view returns (ModelSpec storage m) {
        m = _models[modelId];
        if (m.context == 0) revert UnknownModel(modelId);
    }
}
