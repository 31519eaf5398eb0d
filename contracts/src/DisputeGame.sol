// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ClaimManager} from "./ClaimManager.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {TensorMerkle} from "./lib/TensorMerkle.sol";
import {SoundBound} from "./lib/SoundBound.sol";
import {Claim, ModelSpec, OpKind, OpNode, ElementChallenge, Game, GameOutcome, modelIdOf} from "./lib/Types.sol";
import {
    OpOutOfRange,
    ElementOutOfRange,
    UnsupportedOp,
    BadOpInput,
    GameExists,
    FineTraceRequired
} from "./lib/Errors.sol";

/// @title DisputeGame
/// @notice One-level dispute game: the challenger names an op of a claim and one output element, opens the
///         element, the inputs it depends on and the weights it uses against the claim's trace root, the
///         model's graph root and weights root, and the contract adjudicates the op's sound IEEE-754 bound
///         in exact integer arithmetic (`SoundBound`) in the same transaction. Outside the bound, the prover
///         is slashed; inside, the challenger is. Invalid openings revert and change nothing.
contract DisputeGame {
    /// @notice Claims and bonds.
    ClaimManager public immutable claims;
    /// @notice Registered models.
    ModelRegistry public immutable registry;

    mapping(bytes32 gameId => Game) internal _games;

    /// @notice A game was played and decided.
    event GameResolved(
        bytes32 indexed gameId,
        bytes32 indexed claimId,
        address indexed challenger,
        uint32 op,
        uint32 row,
        uint32 col,
        uint32 claimedBits,
        GameOutcome outcome
    );

    /// @param claims_ The claim manager that holds bonds (and must bind this game).
    constructor(ClaimManager claims_) {
        claims = claims_;
        registry = claims_.registry();
    }

    /// @notice A game's id: one per (claim, challenger, op, element).
    function gameIdOf(bytes32 claimId, address challenger, uint32 op, uint32 row, uint32 col)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(claimId, challenger, op, row, col));
    }

    /// @notice A game; outcome `None` if it was never played.
    function game(bytes32 gameId) external view returns (Game memory) {
        return _games[gameId];
    }

    /// @notice Challenges one output element of one op of a pending claim; send `claims.challengeBond()`.
    function challenge(bytes32 claimId, ElementChallenge calldata c) external payable returns (bytes32 gameId) {
        Claim memory cl = claims.challengeable(claimId);
        ModelSpec memory spec = registry.model(cl.modelId);
        (bool inside, uint32 yBits) = adjudicate(spec, cl.traceRoot, c);
        gameId = gameIdOf(claimId, msg.sender, c.op, c.row, c.col);
        if (_games[gameId].outcome != GameOutcome.None) revert GameExists(gameId);
        GameOutcome outcome = inside ? GameOutcome.ProverWon : GameOutcome.ChallengerWon;
        _games[gameId] = Game(claimId, msg.sender, c.op, c.row, c.col, outcome);
        emit GameResolved(gameId, claimId, msg.sender, c.op, c.row, c.col, yBits, outcome);
        claims.settle{value: msg.value}(claimId, msg.sender, !inside);
    }

    /// @notice Verifies every opening of `c` against the model and the trace root and decides whether the
    ///         claimed element is inside its sound region. Reverts on any invalid opening.
    /// @return inside True iff the claimed element is inside the op's sound bound.
    /// @return yBits The claimed element's fp32 bits.
    function adjudicate(ModelSpec memory spec, bytes32 traceRoot, ElementChallenge calldata c)
        public
        pure
        returns (bool inside, uint32 yBits)
    {
        OpNode calldata n = c.node;
        // INVARIANT: every op output is a leaf of the claim's (coarse) trace root.
        if (spec.segmentCount != spec.nodeCount) revert FineTraceRequired(modelIdOf(spec));
        // INVARIANT: the op is a node of the registered graph, described exactly as registered.
        if (c.op >= spec.nodeCount) revert OpOutOfRange(c.op, spec.nodeCount);
        TensorMerkle.verify(spec.graphRoot, TensorMerkle.leafHash(abi.encode(n)), c.op, spec.nodeCount, c.nodeProof);
        // INVARIANT: an op reads the claim input or an earlier op's output.
        if (n.input > c.op) revert BadOpInput(c.op, n.input);
        if (c.row >= n.rows || c.col >= n.cols) revert ElementOutOfRange(c.row, c.col);

        uint256 traceLeaves = uint256(spec.nodeCount) + 1;
        TensorMerkle.verifyOpening(c.output, _shape2(n.rows, n.cols), traceRoot, uint256(c.op) + 1, traceLeaves);
        yBits = TensorMerkle.element(c.output, uint256(c.row) * n.cols + c.col);

        if (n.kind == OpKind.MatMul) {
            TensorMerkle.verifyOpening(c.input, _shape2(n.rows, n.inner), traceRoot, n.input, traceLeaves);
            TensorMerkle.verifyOpening(c.weight, _shape2(n.cols, n.inner), spec.weightsRoot, n.weight, spec.weightCount);
            uint32[] memory x = TensorMerkle.elements(c.input, uint256(c.row) * n.inner, n.inner);
            uint32[] memory w = TensorMerkle.elements(c.weight, uint256(c.col) * n.inner, n.inner);
            inside = SoundBound.dotWithin(x, w, yBits);
        } else if (n.kind == OpKind.Add) {
            TensorMerkle.verifyOpening(c.input, _shape2(n.rows, n.cols), traceRoot, n.input, traceLeaves);
            TensorMerkle.verifyOpening(c.weight, _shape1(n.cols), spec.weightsRoot, n.weight, spec.weightCount);
            uint32 a = TensorMerkle.element(c.input, uint256(c.row) * n.cols + c.col);
            uint32 b = TensorMerkle.element(c.weight, c.col);
            inside = SoundBound.addWithin(a, b, yBits);
        } else if (n.kind == OpKind.Relu) {
            TensorMerkle.verifyOpening(c.input, _shape2(n.rows, n.cols), traceRoot, n.input, traceLeaves);
            inside = SoundBound.reluWithin(TensorMerkle.element(c.input, uint256(c.row) * n.cols + c.col), yBits);
        } else {
            revert UnsupportedOp(uint8(n.kind));
        }
    }

    function _shape2(uint32 a, uint32 b) private pure returns (uint32[] memory s) {
        s = new uint32[](2);
        s[0] = a;
        s[1] = b;
    }

    function _shape1(uint32 a) private pure returns (uint32[] memory s) {
        s = new uint32[](1);
        s[0] = a;
    }
}
