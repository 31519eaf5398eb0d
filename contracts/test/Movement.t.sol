// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PRBTest} from "@prb/test/PRBTest.sol";
import {Adjudicator} from "../src/Adjudicator.sol";
import {Openings} from "./Openings.sol";
import {Movement} from "../src/ops/Movement.sol";
import {OpKind, OpNode, ElementChallenge, TensorOpening, Loc} from "../src/lib/Types.sol";
import {ProofDoesNotVerify, ElementNotOpened} from "../src/lib/Errors.sol";

/// @notice The data-movement kinds (Reshape, Transpose, Narrow, Concat) through `Adjudicator.adjudicate` with real
///         Merkle openings: input(s) and output committed as leaves 0 (x), 1 (x2) and 2 (y) of one three-leaf trace
///         list, every tensor chunked as `nao::commit` does (1024 fp32 elements a chunk). Inputs hold distinct values
///         (x: i + 0.5, x2: -(i + 0.5)), so exactly one input element matches each output element. The honest
///         output is computed here by naive loops over the (left-padded, rank-3) multi-index: every output element
///         is inside, the output with any one bit flipped is outside, an output copying another input element is
///         outside, and openings of the wrong tensor, shape, chunk or data revert.
contract MovementTest is PRBTest {
    Adjudicator internal adj;

    uint32 internal constant SIGN = 0x80000000;

    /// Trace list positions: x, x2, y.
    uint256 internal constant X = 0;
    uint256 internal constant X2 = 1;
    uint256 internal constant Y = 2;

    /// One op with its operands: input `x` of shape `xs`, second operand `x2` of shape `x2s` (an unrelated
    /// one-element tensor for the one-input kinds) and claimed output `y` (shape `adj.outputShape(node)`).
    struct Case {
        OpNode node;
        uint32[] x;
        uint32[] xs;
        uint32[] x2;
        uint32[] x2s;
        uint32[] y;
    }

    function setUp() public {
        adj = new Adjudicator();
    }

    // ------------------------------------------------------------------ values and shapes

    /// fp32 bits of i + 0.5 (exact for i < 2^23).
    function half(uint256 i) internal pure returns (uint32) {
        uint256 m = 2 * i + 1;
        uint256 e;
        while ((m >> (e + 1)) != 0) ++e;
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint32(((126 + e) << 23) | ((m << (23 - e)) & 0x7fffff));
    }

    /// n distinct values: i + 0.5, or -(i + 0.5) when `neg`.
    function values(uint256 n, bool neg) internal pure returns (uint32[] memory v) {
        v = new uint32[](n);
        for (uint256 i; i < n; ++i) {
            v[i] = half(i) | (neg ? SIGN : 0);
        }
    }

    function s2(uint32 a, uint32 b) internal pure returns (uint32[] memory s) {
        s = new uint32[](2);
        (s[0], s[1]) = (a, b);
    }

    function s3(uint32 a, uint32 b, uint32 c) internal pure returns (uint32[] memory s) {
        s = new uint32[](3);
        (s[0], s[1], s[2]) = (a, b, c);
    }

    function numel(uint32[] memory s) internal pure returns (uint256 n) {
        n = 1;
        for (uint256 i; i < s.length; ++i) {
            n *= s[i];
        }
    }

    function copy(uint32[] memory a) internal pure returns (uint32[] memory b) {
        b = new uint32[](a.length);
        for (uint256 i; i < a.length; ++i) {
            b[i] = a[i];
        }
    }

    /// The descriptor of a movement op with output shape `ys` (rank 2: [rows, cols]; rank 3: batch ys[0]) and
    /// parameters `params` (the ABI encoding of the kind's `Movement.*Params`).
    function nodeOf(OpKind kind, uint32[] memory ys, bytes memory params) internal pure returns (OpNode memory n) {
        if (ys.length == 2) return OpNode(kind, 0, 1, 0, 0, ys[0], ys[1], params);
        return OpNode(kind, 0, 1, 0, ys[0], ys[0] * ys[1], ys[2], params);
    }

    // ------------------------------------------------------------------ naive references

    /// `s` padded on the left with ones to rank 3; dim d of `s` is dim d + off of the padded shape.
    function pad3(uint32[] memory s) internal pure returns (uint256[3] memory p, uint256 off) {
        off = 3 - s.length;
        for (uint256 i; i < 3; ++i) {
            p[i] = i < off ? 1 : s[i - off];
        }
    }

    function flat3(uint256[3] memory p, uint256[3] memory i) internal pure returns (uint256) {
        return (i[0] * p[1] + i[1]) * p[2] + i[2];
    }

    /// y[.., i, .., j, ..] = x[.., j, .., i, ..] (dims a and b of x swapped).
    function transposeRef(uint32[] memory x, uint32[] memory xs, uint256 a, uint256 b)
        internal
        pure
        returns (uint32[] memory y, uint32[] memory ys)
    {
        ys = copy(xs);
        (ys[a], ys[b]) = (xs[b], xs[a]);
        (uint256[3] memory pi, uint256 off) = pad3(xs);
        (uint256[3] memory po,) = pad3(ys);
        y = new uint32[](x.length);
        for (uint256 i; i < po[0]; ++i) {
            for (uint256 j; j < po[1]; ++j) {
                for (uint256 k; k < po[2]; ++k) {
                    uint256[3] memory o = [i, j, k];
                    uint256[3] memory s = [i, j, k];
                    (s[a + off], s[b + off]) = (o[b + off], o[a + off]);
                    y[flat3(po, o)] = x[flat3(pi, s)];
                }
            }
        }
    }

    /// y[.., i, ..] = x[.., i + start, ..] for i < len along `dim`.
    function narrowRef(uint32[] memory x, uint32[] memory xs, uint256 dim, uint32 start, uint32 len)
        internal
        pure
        returns (uint32[] memory y, uint32[] memory ys)
    {
        ys = copy(xs);
        ys[dim] = len;
        (uint256[3] memory pi, uint256 off) = pad3(xs);
        (uint256[3] memory po,) = pad3(ys);
        y = new uint32[](numel(ys));
        for (uint256 i; i < po[0]; ++i) {
            for (uint256 j; j < po[1]; ++j) {
                for (uint256 k; k < po[2]; ++k) {
                    uint256[3] memory s = [i, j, k];
                    s[dim + off] += start;
                    y[flat3(po, [i, j, k])] = x[flat3(pi, s)];
                }
            }
        }
    }

    /// y = x then x2 along `dim`.
    function concatRef(uint32[] memory x, uint32[] memory xs, uint32[] memory x2, uint32[] memory x2s, uint256 dim)
        internal
        pure
        returns (uint32[] memory y, uint32[] memory ys)
    {
        ys = copy(xs);
        ys[dim] += x2s[dim];
        (uint256[3] memory pi, uint256 off) = pad3(xs);
        (uint256[3] memory p2,) = pad3(x2s);
        (uint256[3] memory po,) = pad3(ys);
        y = new uint32[](numel(ys));
        for (uint256 i; i < po[0]; ++i) {
            for (uint256 j; j < po[1]; ++j) {
                for (uint256 k; k < po[2]; ++k) {
                    uint256[3] memory s = [i, j, k];
                    if (s[dim + off] < pi[dim + off]) {
                        y[flat3(po, [i, j, k])] = x[flat3(pi, s)];
                    } else {
                        s[dim + off] -= pi[dim + off];
                        y[flat3(po, [i, j, k])] = x2[flat3(p2, s)];
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ commitments

    /// The trace list [x, x2, y] of case `k`.
    function traceOf(Case memory k) internal view returns (bytes32[] memory leaves, bytes32 root) {
        leaves = new bytes32[](3);
        leaves[X] = Openings.tensorLeaf(k.x, k.xs);
        leaves[X2] = Openings.tensorLeaf(k.x2, k.x2s);
        leaves[Y] = Openings.tensorLeaf(k.y, adj.outputShape(k.node));
        root = Openings.merkleRoot(leaves);
    }

    /// The challenge of element (row, col) of case `k`, every tensor opened in full, with the places of the
    /// output and both trace operands.
    function build(Case memory k, uint32 row, uint32 col)
        internal
        view
        returns (ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2)
    {
        (bytes32[] memory leaves, bytes32 root) = traceOf(k);
        (c.node, c.nodeProof, c.row, c.col) = (k.node, new bytes32[](0), row, col);
        c.output = Openings.whole(k.y);
        c.output.rootProof = Openings.proofOf(leaves, Y);
        c.input = Openings.whole(k.x);
        c.input.rootProof = Openings.proofOf(leaves, X);
        c.input2 = Openings.whole(k.x2);
        c.input2.rootProof = Openings.proofOf(leaves, X2);
        (out, l1, l2) = (Loc(root, Y, 3), Loc(root, X, 3), Loc(root, X2, 3));
    }

    function decide(ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2)
        internal
        view
        returns (bool inside, uint32 yBits)
    {
        return adj.adjudicate(bytes32(0), 0, c, out, l1, l2);
    }

    /// Whether element g of case `k` (output as committed) is inside.
    function decideAt(Case memory k, uint256 g) internal returns (bool inside) {
        uint32 cols = k.node.cols;
        // forge-lint: disable-next-line(unsafe-typecast)
        (uint32 row, uint32 col) = (uint32(g / cols), uint32(g % cols));
        (ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2) = build(k, row, col);
        uint32 yBits;
        (inside, yBits) = decide(c, out, l1, l2);
        assertEq(yBits, k.y[g], "the claimed element");
    }

    /// Every element of the honest output is inside; the output with bit (g % 32) of element g flipped is
    /// outside at g (and nothing else changes: the neighbouring element stays inside).
    function checkAll(Case memory k) internal {
        assertEq(k.y.length, numel(adj.outputShape(k.node)), "output size");
        (ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2) = build(k, 0, 0);
        for (uint32 r; r < k.node.rows; ++r) {
            for (uint32 col; col < k.node.cols; ++col) {
                (c.row, c.col) = (r, col);
                (bool inside, uint32 yBits) = decide(c, out, l1, l2);
                uint256 g = uint256(r) * k.node.cols + col;
                assertTrue(inside, "honest element outside");
                assertEq(yBits, k.y[g], "the claimed element");
            }
        }
        for (uint256 g; g < k.y.length; ++g) {
            uint32 v = k.y[g];
            uint256 bit = g % 32;
            // forge-lint: disable-next-line(unsafe-typecast)
            k.y[g] = v ^ uint32(uint256(1) << bit);
            assertFalse(decideAt(k, g), "flipped bit inside");
            if (g + 1 < k.y.length) assertTrue(decideAt(k, g + 1), "untouched neighbour outside");
            k.y[g] = v;
        }
    }

    /// The revert data of `adjudicate` on `c`, or empty if it returned.
    function revertOf(ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2)
        internal
        view
        returns (bytes memory err)
    {
        try adj.adjudicate(bytes32(0), 0, c, out, l1, l2) {}
        catch (bytes memory e) {
            err = e;
        }
    }

    function assertReverts(bytes memory err, bytes4 selector, string memory what) internal {
        assertTrue(err.length >= 4, what);
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(bytes4(err), selector, what); // the selector: the first four bytes
    }

    /// A one-input case; x2 an unrelated one-element tensor.
    function single(OpNode memory n, uint32[] memory x, uint32[] memory xs, uint32[] memory y)
        internal
        pure
        returns (Case memory k)
    {
        uint32[] memory dummy = new uint32[](1);
        dummy[0] = 0x40490fdb;
        k = Case(n, x, xs, dummy, s2(1, 1), y);
    }

    // ------------------------------------------------------------------ Reshape

    function reshapeCase(uint32[] memory xs, uint32[] memory ys) internal pure returns (Case memory) {
        uint32[] memory x = values(numel(xs), false);
        return single(nodeOf(OpKind.Reshape, ys, abi.encode(Movement.ReshapeParams(xs))), x, xs, copy(x));
    }

    /// [2, 3, 4] -> [6, 4]: output element g is input flat element g.
    function test_adjudicate_reshape3dTo2d_succeeds() public {
        checkAll(reshapeCase(s3(2, 3, 4), s2(6, 4)));
    }

    /// [4, 6] -> [2, 2, 6] (a batched output).
    function test_adjudicate_reshape2dTo3d_succeeds() public {
        checkAll(reshapeCase(s2(4, 6), s3(2, 2, 6)));
    }

    /// A rank-1 input, [24] -> [2, 3, 4].
    function test_adjudicate_reshape1dTo3d_succeeds() public {
        uint32[] memory xs = new uint32[](1);
        xs[0] = 24;
        checkAll(reshapeCase(xs, s3(2, 3, 4)));
    }

    /// The input committed under another shape than the node's `inShape` ([3, 2, 4] vs [2, 3, 4]: same data root)
    /// does not open; neither does the output opened as the input or at the input's place.
    function test_adjudicate_reshapeWrongTensor_reverts() public {
        Case memory k = reshapeCase(s3(2, 3, 4), s2(6, 4));
        k.xs = s3(3, 2, 4);
        (ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2) = build(k, 1, 2);
        assertReverts(revertOf(c, out, l1, l2), ProofDoesNotVerify.selector, "input under the wrong shape");
        k.xs = s3(2, 3, 4);
        (c, out, l1, l2) = build(k, 1, 2);
        // the output tensor opened at the input's place
        TensorOpening memory input = c.input;
        c.input = c.output;
        assertReverts(revertOf(c, out, l1, l2), ProofDoesNotVerify.selector, "output opened as the input");
        c.input = input;
        assertReverts(revertOf(c, out, out, l2), ProofDoesNotVerify.selector, "input opened at the output's place");
        assertReverts(revertOf(c, l1, l1, l2), ProofDoesNotVerify.selector, "output opened at the input's place");
        (bool inside,) = decide(c, out, l1, l2);
        assertTrue(inside, "the honest challenge");
    }

    // ------------------------------------------------------------------ Transpose

    function transposeCase(uint32[] memory xs, uint256 a, uint256 b) internal returns (Case memory) {
        uint32[] memory x = values(numel(xs), false);
        (uint32[] memory y, uint32[] memory ys) = transposeRef(x, xs, a, b);
        // forge-lint: disable-next-line(unsafe-typecast)
        OpNode memory n = nodeOf(OpKind.Transpose, ys, abi.encode(Movement.TransposeParams(xs, uint32(a), uint32(b))));
        assertEq(abi.encode(adj.outputShape(n)), abi.encode(ys), "output shape");
        return single(n, x, xs, y);
    }

    /// [2, 3, 4] -> [3, 2, 4] (dims 0 and 1).
    function test_adjudicate_transpose3dDims01_succeeds() public {
        checkAll(transposeCase(s3(2, 3, 4), 0, 1));
    }

    /// [3, 5] -> [5, 3], the dims given either way round in `param`.
    function test_adjudicate_transpose2d_succeeds() public {
        checkAll(transposeCase(s2(3, 5), 0, 1));
        checkAll(transposeCase(s2(3, 5), 1, 0));
    }

    /// [2, 3, 4] -> [2, 4, 3] (dims 1 and 2, the attention-score transpose) and [2, 3, 4] -> [4, 3, 2].
    function test_adjudicate_transpose3dOtherDims_succeeds() public {
        checkAll(transposeCase(s3(2, 3, 4), 1, 2));
        checkAll(transposeCase(s3(2, 3, 4), 0, 2));
    }

    /// Claiming the untransposed element (y = x read as the output's shape) is outside wherever the two differ.
    function test_adjudicate_transposeIdentityClaim_succeeds() public {
        Case memory k = transposeCase(s3(2, 3, 4), 0, 1);
        uint32[] memory honest = k.y;
        k.y = copy(k.x);
        uint256 differ;
        for (uint256 g; g < k.y.length; ++g) {
            bool same = k.y[g] == honest[g];
            if (!same) ++differ;
            assertEq(decideAt(k, g), same, "the identity claim");
        }
        assertEq(differ, 16, "elements moved by the transpose"); // 8 of 24 sit on the diagonal blocks
    }

    /// Openings of the wrong tensor (x2 at x's place, x at x2's place, x opened with x2's leaf proof) revert.
    function test_adjudicate_transposeWrongTensor_reverts() public {
        Case memory k = transposeCase(s3(2, 3, 4), 0, 1);
        (ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2) = build(k, 3, 1);
        assertReverts(revertOf(c, out, l2, l2), ProofDoesNotVerify.selector, "input opened at x2's place");
        TensorOpening memory input = c.input;
        c.input = c.input2;
        assertReverts(revertOf(c, out, l1, l2), ProofDoesNotVerify.selector, "x2 opened as the input");
        c.input = input;
        c.input.rootProof = c.input2.rootProof;
        assertReverts(revertOf(c, out, l1, l2), ProofDoesNotVerify.selector, "the input with x2's list proof");
    }

    /// An input chunk whose data differs from the committed one in one element (the one the output element
    /// copies, set to what the output claims) does not open.
    function test_adjudicate_transposeTamperedInput_reverts() public {
        Case memory k = transposeCase(s3(2, 3, 4), 0, 1);
        k.y[5] ^= 1; // the claim, element (1, 1) = y[0, 1, 1] = x[1, 0, 1] = x[13]
        (ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2) = build(k, 1, 1);
        (bool inside,) = decide(c, out, l1, l2);
        assertFalse(inside, "flipped claim inside");
        uint32[] memory forged = copy(k.x);
        forged[13] = k.y[5];
        c.input.chunks[0].data = Openings.le(forged, 0, forged.length);
        assertReverts(revertOf(c, out, l1, l2), ProofDoesNotVerify.selector, "forged input chunk");
    }

    /// A multi-chunk tensor: [2, 600] -> [600, 2] (1200 elements, chunks of 1024 and 176). Output element
    /// (500, 1) (flat 1001, chunk 0) copies input element x[1, 500] (flat 1100, chunk 1): opening just those chunks
    /// decides it; the input's other chunk, the output's other chunk, or the right chunk with the other's proof
    /// revert. A sample of elements across both chunks adjudicates with every chunk opened.
    function test_adjudicate_transposeMultiChunk_succeeds() public {
        Case memory k = transposeCase(s2(2, 600), 0, 1);
        assertEq(k.y[1001], k.x[1100], "reference");
        (ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2) = build(k, 500, 1);
        (bool inside, uint32 yBits) = decide(c, out, l1, l2);
        assertTrue(inside, "all chunks opened");
        assertEq(yBits, k.x[1100]);
        bytes32[] memory rp = c.input.rootProof;
        c.input = Openings.chunks(k.x, 1, 1);
        c.input.rootProof = rp;
        rp = c.output.rootProof;
        c.output = Openings.chunks(k.y, 0, 1);
        c.output.rootProof = rp;
        (inside, yBits) = decide(c, out, l1, l2);
        assertTrue(inside, "the two chunks holding the elements");
        // a sample of elements, each chunk combination
        (c, out, l1, l2) = build(k, 0, 0);
        for (uint32 r; r < 600; r += 37) {
            for (uint32 col; col < 2; ++col) {
                (c.row, c.col) = (r, col);
                (inside, yBits) = decide(c, out, l1, l2);
                assertTrue(inside, "sampled element outside");
                assertEq(yBits, k.x[uint256(col) * 600 + r]);
            }
        }
        (c.row, c.col) = (500, 1);
        // the input's other chunk
        rp = c.input.rootProof;
        c.input = Openings.chunks(k.x, 0, 1);
        c.input.rootProof = rp;
        assertReverts(revertOf(c, out, l1, l2), ElementNotOpened.selector, "the input's other chunk");
        assertEq(revertOf(c, out, l1, l2), abi.encodeWithSelector(ElementNotOpened.selector, 1100));
        // the right chunk with the other chunk's proof
        c.input = Openings.chunks(k.x, 1, 1);
        c.input.rootProof = rp;
        c.input.chunks[0].proof = Openings.chunks(k.x, 0, 1).chunks[0].proof;
        assertReverts(revertOf(c, out, l1, l2), ProofDoesNotVerify.selector, "chunk 1 with chunk 0's proof");
        // the output's other chunk
        c.input = Openings.chunks(k.x, 1, 1);
        c.input.rootProof = rp;
        rp = c.output.rootProof;
        c.output = Openings.chunks(k.y, 1, 1);
        c.output.rootProof = rp;
        assertEq(revertOf(c, out, l1, l2), abi.encodeWithSelector(ElementNotOpened.selector, 1001));
    }

    /// Random shapes (rank 2 or 3, dims 1..5) and dim pairs against `transposeRef`: a fuzzed element is
    /// inside, and the output copying any other input element there is outside.
    /// forge-config: default.fuzz.runs = 300
    function testFuzz_adjudicate_transposeRandomShapes_succeeds(
        bool rank3,
        uint8[3] memory dims,
        uint8 a,
        uint8 b,
        uint16 pick,
        uint16 other
    ) public {
        uint256 rank = rank3 ? 3 : 2;
        uint32[] memory xs = new uint32[](rank);
        for (uint256 i; i < rank; ++i) {
            xs[i] = 1 + dims[i] % 5;
        }
        Case memory k = transposeCase(xs, a % rank, b % rank);
        checkPick(k, pick, other);
    }

    /// Element `pick` of `k` is inside; the claim of another input element's value there is outside.
    function checkPick(Case memory k, uint256 pick, uint256 other) internal {
        uint256 g = pick % k.y.length;
        assertTrue(decideAt(k, g), "honest element outside");
        uint256 n = k.x.length + (k.node.kind == OpKind.Concat ? k.x2.length : 0);
        if (n == 1) return;
        uint256 o = other % n;
        uint32 v = o < k.x.length ? k.x[o] : k.x2[o - k.x.length];
        if (v == k.y[g]) {
            o = (o + 1) % n;
            v = o < k.x.length ? k.x[o] : k.x2[o - k.x.length];
        }
        k.y[g] = v;
        assertFalse(decideAt(k, g), "another input element inside");
    }

    // ------------------------------------------------------------------ Narrow

    function narrowCase(uint32[] memory xs, uint256 dim, uint32 start, uint32 len) internal returns (Case memory) {
        uint32[] memory x = values(numel(xs), false);
        (uint32[] memory y, uint32[] memory ys) = narrowRef(x, xs, dim, start, len);
        // forge-lint: disable-next-line(unsafe-typecast)
        OpNode memory n = nodeOf(OpKind.Narrow, ys, abi.encode(Movement.NarrowParams(xs, uint32(dim), start)));
        assertEq(abi.encode(adj.outputShape(n)), abi.encode(ys), "output shape");
        return single(n, x, xs, y);
    }

    /// [5, 2, 3] narrowed along dim 0 to [1, 4): output [3, 2, 3].
    function test_adjudicate_narrow3dDim0_succeeds() public {
        checkAll(narrowCase(s3(5, 2, 3), 0, 1, 3));
    }

    /// [2, 6, 3] narrowed along dim 1 to [2, 5): output [2, 3, 3].
    function test_adjudicate_narrow3dDim1_succeeds() public {
        checkAll(narrowCase(s3(2, 6, 3), 1, 2, 3));
    }

    /// [2, 3, 7] along the last dim to [4, 7), and a 2-D [4, 5] along dim 1 to [1, 3).
    function test_adjudicate_narrowLastDim_succeeds() public {
        checkAll(narrowCase(s3(2, 3, 7), 2, 4, 3));
        checkAll(narrowCase(s2(4, 5), 1, 1, 2));
    }

    /// Claiming the window at offset 0 (start ignored) is outside at every element.
    function test_adjudicate_narrowStartIgnored_succeeds() public {
        Case memory k = narrowCase(s3(2, 6, 3), 1, 2, 3);
        (uint32[] memory atZero,) = narrowRef(k.x, k.xs, 1, 0, 3);
        k.y = atZero;
        for (uint256 g; g < k.y.length; ++g) {
            assertFalse(decideAt(k, g), "offset-0 window inside");
        }
    }

    /// The input opened at the output's or x2's place, or the output opened as the input, reverts.
    function test_adjudicate_narrowWrongTensor_reverts() public {
        Case memory k = narrowCase(s3(5, 2, 3), 0, 1, 3);
        (ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2) = build(k, 2, 1);
        assertReverts(revertOf(c, out, l2, l2), ProofDoesNotVerify.selector, "input opened at x2's place");
        assertReverts(revertOf(c, out, out, l2), ProofDoesNotVerify.selector, "input opened at the output's place");
        c.input = c.output;
        assertReverts(revertOf(c, out, l1, l2), ProofDoesNotVerify.selector, "output opened as the input");
        // the input committed under the output's shape
        k.xs = adj.outputShape(k.node);
        k.x = k.y;
        (c, out, l1, l2) = build(k, 2, 1);
        assertReverts(revertOf(c, out, l1, l2), ProofDoesNotVerify.selector, "input of the output's shape");
    }

    /// Random shapes (rank 2 or 3, dims 1..5), dims, windows against `narrowRef`.
    /// forge-config: default.fuzz.runs = 300
    function testFuzz_adjudicate_narrowRandomShapes_succeeds(
        bool rank3,
        uint8[3] memory dims,
        uint8 dim,
        uint8 start,
        uint8 len,
        uint16 pick,
        uint16 other
    ) public {
        uint256 rank = rank3 ? 3 : 2;
        uint32[] memory xs = new uint32[](rank);
        for (uint256 i; i < rank; ++i) {
            xs[i] = 1 + dims[i] % 5;
        }
        uint256 d = dim % rank;
        uint32 l = 1 + len % xs[d];
        uint32 s = start % (xs[d] - l + 1);
        Case memory k = narrowCase(xs, d, s, l);
        checkPick(k, pick, other);
    }

    // ------------------------------------------------------------------ Concat

    function concatCase(uint32[] memory xs, uint32[] memory x2s, uint256 dim) internal returns (Case memory k) {
        uint32[] memory x = values(numel(xs), false);
        uint32[] memory x2 = values(numel(x2s), true);
        (uint32[] memory y, uint32[] memory ys) = concatRef(x, xs, x2, x2s, dim);
        // forge-lint: disable-next-line(unsafe-typecast)
        OpNode memory n = nodeOf(OpKind.Concat, ys, abi.encode(Movement.ConcatParams(xs, uint32(dim))));
        assertEq(abi.encode(adj.outputShape(n)), abi.encode(ys), "output shape");
        k = Case(n, x, xs, x2, x2s, y);
    }

    /// [2, 2, 3] then [2, 3, 3] along dim 1: output [2, 5, 3], each row block from x then x2.
    function test_adjudicate_concat3dDim1_succeeds() public {
        Case memory k = concatCase(s3(2, 2, 3), s3(2, 3, 3), 1);
        uint256 fromX2;
        for (uint256 g; g < k.y.length; ++g) {
            if (k.y[g] & SIGN != 0) ++fromX2;
        }
        assertEq(fromX2, 18, "elements from x2");
        checkAll(k);
    }

    /// [2, 3] then [3, 3] along dim 0: output [5, 3].
    function test_adjudicate_concat2dDim0_succeeds() public {
        checkAll(concatCase(s2(2, 3), s2(3, 3), 0));
    }

    /// Along the last dim ([2, 3, 2] then [2, 3, 4]) and along dim 0 of 3-D ([1, 2, 3] then [2, 2, 3]).
    function test_adjudicate_concatOtherDims_succeeds() public {
        checkAll(concatCase(s3(2, 3, 2), s3(2, 3, 4), 2));
        checkAll(concatCase(s3(1, 2, 3), s3(2, 2, 3), 0));
    }

    /// The operands in the wrong order (x2 then x) are outside at every element.
    function test_adjudicate_concatSwappedOperands_succeeds() public {
        Case memory k = concatCase(s3(2, 2, 3), s3(2, 3, 3), 1);
        (uint32[] memory swapped,) = concatRef(k.x2, k.x2s, k.x, k.xs, 1);
        k.y = swapped;
        for (uint256 g; g < k.y.length; ++g) {
            assertFalse(decideAt(k, g), "swapped concat inside");
        }
    }

    /// An element from x reads only the input opening, one from x2 only the input2 opening: the other operand's
    /// opening is neither verified nor read (as `OpNode::input_range` / `input2_range` open element 0 of it).
    function test_adjudicate_concatOtherOperandUnread_succeeds() public {
        Case memory k = concatCase(s3(2, 2, 3), s3(2, 3, 3), 1);
        // element (0, 1) = y[0, 0, 1] = x[0, 0, 1]; element (3, 0) = y[0, 3, 0] = x2[0, 1, 0]
        (ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2) = build(k, 0, 1);
        TensorOpening memory empty;
        c.input2 = empty;
        (bool inside, uint32 yBits) = decide(c, out, l1, l2);
        assertTrue(inside, "from x, input2 empty");
        assertEq(yBits, k.x[1]);
        (c, out, l1, l2) = build(k, 3, 0);
        c.input = empty;
        (inside, yBits) = decide(c, out, l1, l2);
        assertTrue(inside, "from x2, input empty");
        assertEq(yBits, k.x2[3]);
    }

    /// An element from x2 (element (3, 0) = x2[0, 1, 0]): x2 opened at x's place, x opened as x2 at x2's place,
    /// x2 opened with x's list proof revert; so does an element from x with x opened at x2's place.
    function test_adjudicate_concatWrongTensor_reverts() public {
        Case memory k = concatCase(s3(2, 2, 3), s3(2, 3, 3), 1);
        (ElementChallenge memory c, Loc memory out, Loc memory l1, Loc memory l2) = build(k, 3, 0);
        assertReverts(revertOf(c, out, l1, l1), ProofDoesNotVerify.selector, "x2 opened at x's place");
        TensorOpening memory input2 = c.input2;
        c.input2 = c.input;
        assertReverts(revertOf(c, out, l1, l2), ProofDoesNotVerify.selector, "x opened as x2");
        c.input2 = input2;
        c.input2.rootProof = c.input.rootProof;
        assertReverts(revertOf(c, out, l1, l2), ProofDoesNotVerify.selector, "x2 with x's list proof");
        (c, out, l1, l2) = build(k, 0, 1);
        assertReverts(revertOf(c, out, l2, l2), ProofDoesNotVerify.selector, "x opened at x2's place");
        // x2 committed under x's shape ([2, 2, 3] vs the output's shortened [2, 3, 3]) cannot be opened
        k.x2 = values(12, true);
        k.x2s = s3(2, 2, 3);
        (c, out, l1, l2) = build(k, 3, 0);
        assertReverts(revertOf(c, out, l1, l2), ProofDoesNotVerify.selector, "x2 of the wrong shape");
    }

    /// Random shapes (rank 2 or 3, dims 1..5 for x, 1..5 along the dim for x2) against `concatRef`; the wrong
    /// value drawn from both operands.
    /// forge-config: default.fuzz.runs = 300
    function testFuzz_adjudicate_concatRandomShapes_succeeds(
        bool rank3,
        uint8[3] memory dims,
        uint8 dim,
        uint8 len2,
        uint16 pick,
        uint16 other
    ) public {
        uint256 rank = rank3 ? 3 : 2;
        uint32[] memory xs = new uint32[](rank);
        for (uint256 i; i < rank; ++i) {
            xs[i] = 1 + dims[i] % 5;
        }
        uint256 d = dim % rank;
        uint32[] memory x2s = copy(xs);
        x2s[d] = 1 + len2 % 5;
        checkPick(concatCase(xs, x2s, d), pick, other);
    }
}
