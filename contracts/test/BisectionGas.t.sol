// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Tree} from "./Fixture.t.sol";
import {GasMeter} from "./GasMeter.t.sol";
import {ClaimManager} from "../src/ClaimManager.sol";
import {Adjudicator} from "../src/Adjudicator.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {TensorMerkle} from "../src/lib/TensorMerkle.sol";
import {Position, LibPosition} from "../src/lib/Position.sol";
import {
    ModelSpec,
    OpKind,
    OpNode,
    Inference,
    InferenceOpening,
    ClaimStatus,
    Segment,
    SegmentOpening,
    BoundaryOpening,
    SegmentPointer,
    FineAnswer,
    FineChallenge,
    ElementChallenge,
    PartitionGame,
    TensorOpening,
    ChunkOpening,
    Phase
} from "../src/lib/Types.sol";

/// @notice Segment-level gas at SmolLM2's scale: 270 segments (a block per step of a prompt plus decode steps),
///         bisection with k = 8 (3 rounds) against direct pointing, on a chain of ReLUs of one element each
///         (t0 = 1, t_i = relu(t_{i-1}) = 1; the corrupt claim's last output is 2). Each figure = execution
///         with the contracts cooled + 21000 + calldata, as in `DisputeGasTest`.
contract BisectionGasTest is GasMeter {
    uint256 internal constant S = 270;

    /// The bisection's arity (overridden by the k = 17 variant below).
    function _k() internal pure virtual returns (uint256) {
        return 8;
    }
    uint32 internal constant TWO = 0x40000000;

    ClaimManager internal claims8;
    DisputeGame internal game8;
    bytes32 internal model8;
    bytes32[] internal nodeLeaves;
    bytes32[] internal segLeaves;
    bytes32[] internal coarse;

    /// The challenge commitment as its own transaction (measured), then the next block.
    function _commitTx(address who, bytes32 id) internal returns (bytes32 salt) {
        salt = keccak256(abi.encode(who, id));
        bytes memory data = abi.encodeCall(claims8.commitChallenge, (claims8.commitmentOf(id, who, salt)));
        _tx("commitChallenge", who, address(claims8), CHALLENGE_BOND, data);
        vm.roll(block.number + 1);
    }

    function setUp() public override {
        super.setUp();
        claims8 = new ClaimManager(registry, WINDOW, CLAIM_BOND, CHALLENGE_BOND, GRACE, DATA_BOND, DATA_WINDOW);
        game8 = new DisputeGame(claims8, CLOCK, _k(), committee, new Adjudicator());
        claims8.bindDisputeGame(address(game8));
        for (uint256 i; i < S; ++i) {
            nodeLeaves.push(TensorMerkle.leafHash(abi.encode(_node(i))));
            // forge-lint: disable-next-line(unsafe-typecast)
            segLeaves.push(TensorMerkle.leafHash(abi.encode(Segment(uint32(i), uint32(i + 1)))));
        }
        for (uint256 i; i <= S; ++i) {
            coarse.push(listLeaf(_root(i)));
        }
        model8 = registry.register(
            ModelSpec({
                graphRoot: Tree.root(nodeLeaves),
                // forge-lint: disable-next-line(unsafe-typecast)
                pieceNodes: fixedShape(uint32(S)),
                // forge-lint: disable-next-line(unsafe-typecast)
                pieceSegments: fixedShape(uint32(S)),
                context: 1,
                segmentsRoot: Tree.root(segLeaves),
                weightsRoot: bytes32(0),
                weightCount: 1,
                profileRoot: keccak256("relu chain"),
                outputTolerance: 0,
                uri: "relu-chain"
            })
        );
    }

    function _node(uint256 i) internal pure returns (OpNode memory) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return OpNode(OpKind.Relu, uint32(i), 0, 0, 0, 1, 1, "");
    }

    function _value(uint256 t) internal pure returns (uint32) {
        return t == S ? TWO : ONE;
    }

    function _root(uint256 t) internal pure returns (bytes32) {
        return rootOf(one(_value(t)), shape2(1, 1));
    }

    function _cooled() internal view override returns (address[3] memory) {
        return [address(claims8), address(game8), address(registry)];
    }

    /// The claim: a batch of one inference, whose coarse trace has 271 leaves.
    function _post() internal returns (bytes32 id) {
        Inference[] memory batch = batchOf(Tree.root(coarse));
        _tx(
            "postClaim (271 coarse leaves)",
            prover,
            address(claims8),
            CLAIM_BOND,
            abi.encodeCall(claims8.postClaim, (model8, packed(batch), "relu-chain"))
        );
        id = claims8.claimIdOf(model8, inferenceLeaf(batch[0]), prover);
    }

    /// The claim's only inference.
    function _inf() internal view returns (InferenceOpening memory) {
        return single(Tree.root(coarse));
    }

    function _opening(uint32 v, bytes32[] memory rootProof) internal pure returns (TensorOpening memory t) {
        t.dataRoot = TensorMerkle.leafHash(le(one(v)));
        t.rootProof = rootProof;
        t.chunks = new ChunkOpening[](1);
        t.chunks[0] = ChunkOpening(0, le(one(v)), new bytes32[](0));
    }

    /// Fine root, element: the last segment (ReLU of 1 claimed as 2).
    function _fineAndElement(bytes32 gid) internal {
        uint256 s = S - 1;
        bytes32[] memory fine = new bytes32[](2);
        fine[0] = coarse[s];
        fine[1] = coarse[S];
        FineAnswer memory a;
        a.fineRoot = Tree.root(fine);
        // forge-lint: disable-next-line(unsafe-typecast)
        a.segment = SegmentOpening(uint32(s), Segment(uint32(s), uint32(S)), Tree.proof(segLeaves, s));
        a.firstProof = Tree.proof(fine, 0);
        a.lastProof = Tree.proof(fine, 1);
        _tx("postFine", prover, address(game8), 0, abi.encodeCall(game8.postFine, (gid, a)));
        FineChallenge memory c;
        ElementChallenge memory e;
        // forge-lint: disable-next-line(unsafe-typecast)
        e.op = uint32(s);
        e.node = _node(s);
        e.nodeProof = Tree.proof(nodeLeaves, s);
        e.output = _opening(TWO, Tree.proof(fine, 1));
        e.input = _opening(ONE, Tree.proof(fine, 0));
        c.element = e;
        _tx("openElement (relu)", watcher, address(game8), 0, abi.encodeCall(game8.openElement, (gid, c)));
    }

    function test_gas_bisection_270segments_succeeds() public {
        bytes32 id = _post();
        bytes32 gid = game8.partitionGameIdOf(id, 0, watcher, LibPosition.root());
        bytes32 salt = _commitTx(watcher, id);
        BoundaryOpening memory input = BoundaryOpening(_root(0), Tree.proof(coarse, 0));
        BoundaryOpening memory output = BoundaryOpening(_root(S), Tree.proof(coarse, S));
        _tx("bisect", watcher, address(game8), 0, abi.encodeCall(game8.bisect, (id, _inf(), input, output, salt)));
        uint256 target = S - 1;
        while (game8.partitionGame(gid).phase == Phase.Reveal) {
            PartitionGame memory g = game8.partitionGame(gid);
            uint256 w = LibPosition.pow(_k(), LibPosition.leafDepth(_k(), S) - g.position.depth(_k()) - 1);
            uint256 count = (uint256(g.hi) - g.lo + w - 1) / w - 1;
            BoundaryOpening[] memory r = new BoundaryOpening[](count);
            bytes32[] memory roots = new bytes32[](count);
            for (uint256 j; j < count; ++j) {
                uint256 b = g.lo + (j + 1) * w;
                r[j] = BoundaryOpening(_root(b), Tree.proof(coarse, b));
                roots[j] = r[j].root;
            }
            _tx("reveal", prover, address(game8), 0, abi.encodeCall(game8.reveal, (gid, r)));
            uint256 child = (target - g.lo) / w;
            _tx("pick", watcher, address(game8), 0, abi.encodeCall(game8.pick, (gid, child, roots)));
        }
        _fineAndElement(gid);
        assertEq(uint8(claims8.claim(id).status), uint8(ClaimStatus.Slashed));
        string memory k = vm.toString(_k());
        emit LogNamedUint256(string.concat("bisection, 270 segments, k = ", k, ": whole dispute gas"), total);
        emit LogNamedUint256(string.concat("bisection, 270 segments, k = ", k, ": transactions"), txs);
        assertLt(total, 3_000_000);
        // the claim, the commitment, bisect, a reveal and a pick per level of the k-ary tree, postFine, openElement
        assertEq(txs, 5 + 2 * LibPosition.leafDepth(_k(), S));
    }

    function test_gas_pointing_270segments_succeeds() public {
        bytes32 id = _post();
        uint256 s = S - 1;
        SegmentPointer memory p;
        // forge-lint: disable-next-line(unsafe-typecast)
        p.segment = uint32(s);
        p.lo = BoundaryOpening(_root(s), Tree.proof(coarse, s));
        p.hi = BoundaryOpening(_root(S), Tree.proof(coarse, S));
        bytes32 gid = game8.partitionGameIdOf(id, 0, watcher, LibPosition.node(_k(), LibPosition.leafDepth(_k(), S), s));
        bytes32 salt = _commitTx(watcher, id);
        _tx(
            "pointSegment (depth-9 proofs)",
            watcher,
            address(game8),
            0,
            abi.encodeCall(game8.pointSegment, (id, _inf(), p, salt))
        );
        _fineAndElement(gid);
        assertEq(uint8(claims8.claim(id).status), uint8(ClaimStatus.Slashed));
        emit LogNamedUint256("pointing, 270 segments: whole dispute gas", total);
        emit LogNamedUint256("pointing, 270 segments: transactions (withdraw not counted)", txs);
    }
}

/// @notice The same disputes with k = 17: 17^2 >= 270, so two levels, and a whole bisection fits in 8
///         transactions after the claim with the challenge commitment (#5's goal: 8), at 16 boundary openings per reveal.
contract BisectionGasK17Test is BisectionGasTest {
    function _k() internal pure override returns (uint256) {
        return 17;
    }

    function test_gas_bisectionFitsEightTransactions_succeeds() public {
        test_gas_bisection_270segments_succeeds();
        assertLte(txs - 1, 8, "the dispute's transactions, the claim's own left out");
    }
}
