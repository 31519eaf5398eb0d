// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Linear} from "../src/ops/Linear.sol";
import {PRBTest} from "@prb/test/PRBTest.sol";
import {Openings} from "./Openings.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ClaimManager} from "../src/ClaimManager.sol";
import {Adjudicator} from "../src/Adjudicator.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {Committee} from "../src/Committee.sol";
import {TensorMerkle} from "../src/lib/TensorMerkle.sol";
import {SoundBound} from "../src/lib/SoundBound.sol";
import {
    ModelSpec,
    OpKind,
    OpNode,
    Inference,
    InferenceOpening,
    ElementChallenge,
    TensorOpening,
    ChunkOpening,
    Segment
} from "../src/lib/Types.sol";

/// @notice Exposes library internals as external calls (so calldata arguments and reverts are real).
contract Harness {
    function verify(bytes32 root, bytes32 leaf, uint256 index, uint256 count, bytes32[] calldata proof) external pure {
        TensorMerkle.verify(root, leaf, index, count, proof);
    }

    function dotWithin(uint32[] calldata x, uint32[] calldata w, uint32 y) external pure returns (bool) {
        return SoundBound.dotWithin(x, w, y);
    }

    function addWithin(uint32 a, uint32 b, uint32 y) external pure returns (bool) {
        return SoundBound.addWithin(a, b, y);
    }

    function reluWithin(uint32 xb, uint32 y) external pure returns (bool) {
        return SoundBound.reluWithin(xb, y);
    }

    /// Gas of `SoundBound.dotWithin` alone on n terms of realistic fp32 values drawn from `seed`
    /// (exponents 2^-8..2^-1, random signs and mantissas), measured inside the call.
    function dotGas(uint256 n, uint256 seed) external view returns (uint256 used, bool inside) {
        uint32[] memory x = new uint32[](n);
        uint32[] memory w = new uint32[](n);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            // forge-lint: disable-next-line(unsafe-typecast)
            x[i] = uint32((r & 0x807fffff) | ((119 + (r >> 40) % 8) << 23));
            // forge-lint: disable-next-line(unsafe-typecast)
            w[i] = uint32(((r >> 64) & 0x807fffff) | ((119 + (r >> 100) % 8) << 23));
        }
        used = gasleft();
        inside = SoundBound.dotWithin(x, w, 0);
        used -= gasleft();
    }
}

/// @notice Shared set-up: deployed contracts, funded parties, and a one-op model whose every tensor fits one
///         chunk, so all roots are computed here by hand:
///           y[0,0] = sum_k x[0,k] * w[0,k],  x = [1, 2, 3, 4],  w = [1, 1, 1, 1],  honest y = 10.
abstract contract Base is PRBTest {
    ModelRegistry internal registry;
    ClaimManager internal claims;
    DisputeGame internal game;
    Committee internal committee;

    address internal prover = address(0xB0B);
    address internal watcher = address(0xA11CE);
    uint64 internal constant WINDOW = 1 hours;
    uint256 internal constant CLAIM_BOND = 1 ether;
    uint256 internal constant CHALLENGE_BOND = 0.1 ether;
    uint64 internal constant CLOCK = 1 days;
    uint64 internal constant GRACE = 2 * CLOCK;
    uint256 internal constant DATA_BOND = 0.01 ether;
    uint64 internal constant DATA_WINDOW = 1 hours;
    uint256 internal constant ARITY = 2;
    uint256 internal constant MIN_STAKE = 1 ether;
    uint64 internal constant STAKE_DELAY = 7 days;
    uint256 internal constant COMMITTEE_SIZE = 3;
    uint64 internal constant COMMIT_WINDOW = 1 hours;
    uint64 internal constant REVEAL_WINDOW = 1 hours;
    uint256 internal constant PENALTY = 0.5 ether;

    uint32 internal constant ONE = 0x3f800000;
    uint32 internal constant TEN = 0x41200000;

    bytes32 internal modelId;
    OpNode internal node;
    uint32[] internal x;
    uint32[] internal w;

    function setUp() public virtual {
        registry = new ModelRegistry();
        claims = new ClaimManager(registry, WINDOW, CLAIM_BOND, CHALLENGE_BOND, GRACE, DATA_BOND, DATA_WINDOW);
        committee = new Committee(MIN_STAKE, STAKE_DELAY, COMMITTEE_SIZE, COMMIT_WINDOW, REVEAL_WINDOW, PENALTY);
        game = new DisputeGame(claims, CLOCK, ARITY, committee, new Adjudicator());
        claims.bindDisputeGame(address(game));
        committee.bindGame(address(game));
        vm.deal(prover, 100 ether);
        vm.deal(watcher, 100 ether);
        node = OpNode(OpKind.MatMul, 0, 0, 0, 0, 1, 1, abi.encode(Linear.MatMulParams(4)));
        x = [uint32(0x3f800000), 0x40000000, 0x40400000, 0x40800000];
        w = [ONE, ONE, ONE, ONE];
        modelId = registry.register(spec());
    }

    // ------------------------------------------------------------------ encoding helpers

    /// fp32 bits as little-endian bytes.
    function le(uint32[] memory bits) internal pure returns (bytes memory) {
        return Openings.le(bits);
    }

    function one(uint32 v) internal pure returns (uint32[] memory a) {
        a = new uint32[](1);
        a[0] = v;
    }

    function shape2(uint32 a, uint32 b) internal pure returns (uint32[] memory) {
        return Openings.shape2(a, b);
    }

    function rootOf(uint32[] memory bits, uint32[] memory shape) internal pure returns (bytes32) {
        return TensorMerkle.tensorRoot(TensorMerkle.leafHash(le(bits)), shape);
    }

    function listLeaf(bytes32 r) internal pure returns (bytes32) {
        return TensorMerkle.leafHash(abi.encodePacked(r));
    }

    /// The pieces of a model that does not generate: `n` in the prefill, no step pieces.
    function fixedShape(uint32 n) internal pure returns (uint32[3] memory) {
        return [n, 0, 0];
    }

    function spec() internal view returns (ModelSpec memory) {
        return ModelSpec({
            graphRoot: TensorMerkle.leafHash(abi.encode(node)),
            pieceNodes: fixedShape(1),
            pieceSegments: fixedShape(1),
            context: 1,
            segmentsRoot: TensorMerkle.leafHash(abi.encode(Segment(0, 1))),
            weightsRoot: listLeaf(rootOf(w, shape2(1, 4))),
            weightCount: 1,
            profileRoot: keccak256("profile"),
            outputTolerance: 0,
            uri: "test"
        });
    }

    function inputRoot() internal view returns (bytes32) {
        return rootOf(x, shape2(1, 4));
    }

    function traceRoot(uint32 y) internal view returns (bytes32) {
        return TensorMerkle.nodeHash(listLeaf(inputRoot()), listLeaf(rootOf(one(y), shape2(1, 1))));
    }

    /// Where the prover serves the tensors of the claims posted here.
    string internal constant DATA_URI = "http://prover/traces/t";

    /// The lengths every fixed-shape inference here is claimed at (context 1: one prompt token, one step).
    uint32 internal constant PROMPT = 1;
    uint32 internal constant STEPS = 1;

    /// An inference at the fixed-shape lengths.
    function atFixedLengths(bytes32 root) internal pure returns (Inference memory) {
        return Inference(root, PROMPT, STEPS);
    }

    /// The leaf hash of inference `i` in its batch root: sha256(0x00 || traceRoot || prompt || steps).
    function inferenceLeaf(Inference memory i) internal pure returns (bytes32) {
        return TensorMerkle.leafHash(abi.encodePacked(i.traceRoot, i.prompt, i.steps));
    }

    /// `ClaimPosted.inferences` of `batch`, as a reference: each inference's traceRoot, prompt and steps packed.
    function packed(Inference[] memory batch) internal pure returns (bytes memory out) {
        out = new bytes(batch.length * 40);
        for (uint256 j; j < batch.length; ++j) {
            bytes memory e = abi.encodePacked(batch[j].traceRoot, batch[j].prompt, batch[j].steps);
            for (uint256 k; k < 40; ++k) {
                out[j * 40 + k] = e[k];
            }
        }
    }

    /// A batch of one inference at the fixed-shape lengths.
    function batchOf(bytes32 root) internal pure returns (Inference[] memory batch) {
        batch = new Inference[](1);
        batch[0] = atFixedLengths(root);
    }

    /// Inference 0 of a batch of one at the fixed-shape lengths: its leaf is the batch root (an empty proof).
    function single(bytes32 root) internal pure returns (InferenceOpening memory inf) {
        inf.traceRoot = root;
        inf.prompt = PROMPT;
        inf.steps = STEPS;
        inf.proof = new bytes32[](0);
    }

    /// The inference of the claim with output `y` (a batch of one, as `post` posts it).
    function infOf(uint32 y) internal view returns (InferenceOpening memory) {
        return single(traceRoot(y));
    }

    /// An opening that names no inference: what a request of fine-trace data passes.
    function noInference() internal pure returns (InferenceOpening memory inf) {
        inf.proof = new bytes32[](0);
    }

    /// Posts the claim on a batch of one inference with output `y`.
    function post(uint32 y) internal returns (bytes32 id) {
        Inference[] memory batch = batchOf(traceRoot(y)); // (sha256 is a precompile call: build before pranking)
        vm.prank(prover);
        id = claims.postClaim{value: CLAIM_BOND}(modelId, packed(batch), DATA_URI);
    }

    function opening(uint32[] memory bits, bytes32 sibling, bool hasSibling)
        internal
        pure
        returns (TensorOpening memory t)
    {
        t.dataRoot = TensorMerkle.leafHash(le(bits));
        t.rootProof = new bytes32[](hasSibling ? 1 : 0);
        if (hasSibling) t.rootProof[0] = sibling;
        t.chunks = new ChunkOpening[](1);
        t.chunks[0] = ChunkOpening(0, le(bits), new bytes32[](0));
    }

    /// The challenge of the only element of the only op of a claim with output `y`.
    function challengeOf(uint32 y) internal view returns (ElementChallenge memory c) {
        c.op = 0;
        c.node = node;
        c.nodeProof = new bytes32[](0);
        c.output = opening(one(y), listLeaf(inputRoot()), true);
        c.input = opening(x, listLeaf(rootOf(one(y), shape2(1, 1))), true);
        c.weight = opening(w, bytes32(0), false);
    }

    /// Locks `who`'s challenge bond behind a commitment to claim `id` and moves to the next block, where the
    /// commitment can be used; returns its salt.
    function commit(address who, bytes32 id) internal returns (bytes32 salt) {
        salt = keccak256(abi.encode("salt", who, id, block.number));
        bytes32 h = claims.commitmentOf(id, who, salt);
        vm.deal(who, who.balance + CHALLENGE_BOND);
        vm.prank(who);
        claims.commitChallenge{value: CHALLENGE_BOND}(h);
        vm.roll(block.number + 1);
    }

    /// Moves past the reward grace of slashed claim `id` and pays its reward out.
    function payReward(bytes32 id) internal {
        vm.warp(claims.rewardClosesAt(id) + 1);
        claims.payReward(id);
    }

    /// The watcher commits and challenges element `c` of inference `inf` of claim `id`.
    function challenge(bytes32 id, InferenceOpening memory inf, ElementChallenge memory c) internal returns (bytes32) {
        bytes32 salt1 = commit(watcher, id);
        vm.prank(watcher);
        return game.challenge(id, inf, c, salt1);
    }
}
