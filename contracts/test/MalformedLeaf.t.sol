// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Fixture} from "./Fixture.t.sol";
import {TensorMerkle} from "../src/lib/TensorMerkle.sol";
import {Adjudicator} from "../src/Adjudicator.sol";
import {
    ModelSpec,
    OpKind,
    OpNode,
    Segment,
    SegmentOpening,
    SegmentPointer,
    BoundaryOpening,
    FineAnswer,
    Unopenable,
    Phase,
    Inference,
    InferenceOpening,
    ClaimStatus,
    GameOutcome
} from "../src/lib/Types.sol";

/// @notice A model owner who is also the prover registers a graph whose op leaf is an `OpNode` of a known kind
///         with params no check can decode (a Clamp with one byte of params), hoping that no element of it can
///         ever be decided: every opening reverts in the adjudicator. `Adjudicator.describe` refuses such a leaf,
///         so the watcher escalates the element unopened, the committee votes it outside, and the prover loses
///         its bond to the watcher.
contract MalformedLeafTest is Fixture {
    bytes32 internal junkModel;
    OpNode internal junk;
    bytes32 internal constant IN = keccak256("input root");
    bytes32 internal constant OUT = keccak256("output root");

    function setUp() public override {
        super.setUp();
        junk = OpNode(OpKind.Clamp, 0, 0, 0, 0, 1, 1, hex"01");
        junkModel = registry.register(
            ModelSpec({
                graphRoot: TensorMerkle.leafHash(abi.encode(junk)),
                pieceNodes: fixedShape(1),
                pieceSegments: fixedShape(1),
                context: 1,
                segmentsRoot: TensorMerkle.leafHash(abi.encode(Segment(0, 1))),
                weightsRoot: bytes32(0),
                weightCount: 0,
                profileRoot: keccak256("profile"),
                outputTolerance: 0,
                uri: "junk params"
            })
        );
    }

    function _proof(bytes32 sibling) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](1);
        p[0] = listLeaf(sibling);
    }

    function test_malformedParams_escalatedUnopened_slashesProver_succeeds() public {
        stakeValidators();
        uint256 proverBefore = prover.balance;
        bytes32 traceRoot = TensorMerkle.nodeHash(listLeaf(IN), listLeaf(OUT));
        Inference[] memory batch = batchOf(traceRoot);
        vm.prank(prover);
        bytes32 id = claims.postClaim{value: CLAIM_BOND}(junkModel, packed(batch), "junk params");
        uint256 watcherBefore = watcher.balance;
        bytes32 salt = commit(watcher, id);
        SegmentPointer memory sp = SegmentPointer(0, BoundaryOpening(IN, _proof(OUT)), BoundaryOpening(OUT, _proof(IN)));
        InferenceOpening memory inf = single(traceRoot);
        vm.prank(watcher);
        bytes32 gid = game.pointSegment(id, inf, sp, salt);
        FineAnswer memory a =
            FineAnswer(traceRoot, SegmentOpening(0, Segment(0, 1), new bytes32[](0)), _proof(OUT), _proof(IN));
        vm.prank(prover);
        game.postFine(gid, a);

        Adjudicator adj = game.adjudicator();
        vm.expectRevert();
        adj.describe(abi.encode(junk));
        Unopenable memory u;
        u.leaf = abi.encode(junk);
        u.leafProof = new bytes32[](0);
        vm.prank(watcher);
        game.escalateUnopenable(gid, u);
        assertEq(uint8(game.partitionGame(gid).phase), uint8(Phase.Vote), "the committee decides it");
        vm.roll(block.number + committee.DRAW_DELAY() + 1);
        committee.draw(gid);
        voteAll(gid, true);
        assertEq(uint8(game.partitionGame(gid).outcome), uint8(GameOutcome.ChallengerWon));
        assertEq(uint8(claims.claim(id).status), uint8(ClaimStatus.Slashed));
        payReward(id);
        vm.prank(watcher);
        claims.withdraw();
        assertEq(claims.credit(prover), 0, "nothing for the prover");
        assertEq(prover.balance, proverBefore - CLAIM_BOND, "the prover lost its bond");
        // `commit` deals the watcher its bond before it pays it: it ends with the bond back and half the claim bond
        assertEq(watcher.balance, watcherBefore + CHALLENGE_BOND + CLAIM_BOND / 2, "the watcher");
    }
}
