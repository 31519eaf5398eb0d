// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TensorMerkle} from "./lib/TensorMerkle.sol";
import {SoundBound} from "./lib/SoundBound.sol";
import {Regions} from "./Regions.sol";
import {Fp32} from "./lib/Fp32.sol";
import {OpKind, OpNode, ElementChallenge, TensorOpening, Loc} from "./lib/Types.sol";
import {UnsupportedOp, NonFiniteInput} from "./lib/Errors.sol";

/// @title Adjudicator
/// @notice The last level of every dispute: opens one output element of one op with the operands it depends on
///         and decides whether it is inside the op's sound region. Stateless; `DisputeGame` calls it with the
///         places (roots, leaf indices) its own checks fixed for the output and the trace operands.
/// @dev What each op kind opens and how it is decided:
///      - MatMul: the input row and the weight row; `SoundBound.dotWithin`.
///      - BatchMatMul: the row of x and the row or column of x2 in the element's batch; `SoundBound.dotWithin`.
///      - Add (bias): the input element and the bias element; `SoundBound.addWithin`.
///      - Residual: the element of both trace operands; `SoundBound.addWithin`.
///      - Mul, Scale: both factors (Scale's from `param`); a one-term `SoundBound.within`.
///      - ReLU, Embedding, CausalMask: bit-exact.
///      - RmsNorm: the input row and the gain element; `NormBound.rmsnormWithin`.
///      - LayerNorm: the input row, the gain and the shift element; `NormBound.layernormWithin`.
///      - Softmax: the input row; `SoftmaxBound.within`.
///      - SiLU, GELU: the input element; `ActivationBound.siluWithin`, `ActivationBound.geluWithin`.
///      The regions in directed-rounding arithmetic (norms, softmax, SiLU, GELU) run in `Regions`, a contract this
///      one deploys, so that both stay within the code-size limit.
///      - Argmax: x[r, y] and the witness x[r, col]: outside iff y is no index of the row or x[r, col] > x[r, y].
///      - Reshape, Transpose, Narrow, Concat: the one input element the output element copies; bit-exact.
///      - MeanRows: the input column; `NormBound.meanWithin`.
///      - Rope: the input row (both elements of the pair); `RopeBound.within`.
contract Adjudicator {
    uint32 private constant NEG_INF = 0xff800000;
    /// @dev Calldata of one opened chunk: 4 KiB of data, a proof of up to 24 levels, its ABI framing.
    uint256 private constant CHUNK_BYTES = 4096 + 32 * 24 + 96;

    /// @notice Most calldata an element's openings may take: a 128 KiB transaction less room for the rest of it.
    uint256 public constant MAX_OPENING_BYTES = 120_000;
    /// @notice Most gas an element's adjudication may be estimated at: a 30M block less a margin.
    uint256 public constant MAX_OPENING_GAS = 25_000_000;

    /// @notice The regions evaluated in directed-rounding arithmetic (deployed with this contract).
    Regions public immutable regions;

    constructor() {
        regions = new Regions();
    }

    /// @notice Verifies the openings of `c` (output at `out`, trace operands at `in1` / `in2`, weights against
    ///         `weightsRoot`) and decides the element. Reverts on any invalid opening or an unknown kind.
    /// @return inside True iff the claimed element is inside the op's sound region.
    /// @return yBits The claimed element's fp32 bits.
    function adjudicate(
        bytes32 weightsRoot,
        uint32 weightCount,
        ElementChallenge calldata c,
        Loc calldata out,
        Loc calldata in1,
        Loc calldata in2
    ) external view returns (bool inside, uint32 yBits) {
        OpNode calldata n = c.node;
        OpKind k = n.kind;
        uint32[] memory shape = outputShape(n);
        TensorMerkle.verifyOpening(c.output, shape, out.root, out.index, out.count);
        uint256 g = uint256(c.row) * n.cols + c.col;
        yBits = TensorMerkle.element(c.output, k == OpKind.Argmax ? c.row : k == OpKind.MeanRows ? c.col : g);
        if (k == OpKind.MatMul) {
            _open(c.input, _shape2(n.rows, n.inner), in1);
            TensorMerkle.verifyOpening(c.weight, _shape2(n.cols, n.inner), weightsRoot, n.weight, weightCount);
            bytes memory x = TensorMerkle.packed(c.input, uint256(c.row) * n.inner, n.inner);
            bytes memory w = TensorMerkle.packed(c.weight, uint256(c.col) * n.inner, n.inner);
            inside = SoundBound.dotWithinPacked(x, w, yBits);
        } else if (k == OpKind.Add) {
            _open(c.input, shape, in1);
            TensorMerkle.verifyOpening(c.weight, _shape1(n.cols), weightsRoot, n.weight, weightCount);
            inside =
                SoundBound.addWithin(TensorMerkle.element(c.input, g), TensorMerkle.element(c.weight, c.col), yBits);
        } else if (k == OpKind.Embedding) {
            _open(c.input, _shape1(n.rows), in1);
            (bool ok, uint256 id) = Fp32.toIndex(TensorMerkle.element(c.input, c.row), n.inner);
            // INVARIANT: a row of the table, bit for bit; an id that names no row has no honest output.
            if (ok) {
                TensorMerkle.verifyOpening(c.weight, _shape2(n.inner, n.cols), weightsRoot, n.weight, weightCount);
                inside = TensorMerkle.element(c.weight, id * n.cols + c.col) == yBits;
            }
        } else if (k == OpKind.RmsNorm) {
            _open(c.input, shape, in1);
            TensorMerkle.verifyOpening(c.weight, _shape1(n.cols), weightsRoot, n.weight, weightCount);
            uint32[] memory x = TensorMerkle.elements(c.input, uint256(c.row) * n.cols, n.cols);
            inside = regions.rmsnorm(x, c.col, TensorMerkle.element(c.weight, c.col), n.param, yBits);
        } else if (k == OpKind.LayerNorm) {
            _open(c.input, shape, in1);
            TensorMerkle.verifyOpening(c.weight, _shape1(n.cols), weightsRoot, n.weight, weightCount);
            TensorMerkle.verifyOpening(c.input2, _shape1(n.cols), weightsRoot, n.input2, weightCount);
            uint32[] memory x = TensorMerkle.elements(c.input, uint256(c.row) * n.cols, n.cols);
            uint32 gain = TensorMerkle.element(c.weight, c.col);
            uint32 shift = TensorMerkle.element(c.input2, c.col);
            inside = regions.layernorm(x, c.col, gain, shift, n.param, yBits);
        } else if (k == OpKind.Softmax) {
            _open(c.input, shape, in1);
            inside = regions.softmax(TensorMerkle.elements(c.input, uint256(c.row) * n.cols, n.cols), c.col, yBits);
        } else if (k == OpKind.Argmax) {
            inside = _argmax(c, n, in1, in2, yBits);
        } else if (k == OpKind.BatchMatMul) {
            inside = _batchMatMul(c, n, in1, in2, yBits);
        } else if (k == OpKind.Rope) {
            _open(c.input, shape, in1);
            uint32[] memory x = TensorMerkle.elements(c.input, uint256(c.row) * n.cols, n.cols);
            uint256 pos = uint256(n.inner) + c.row % (n.batch == 0 ? n.rows : n.rows / n.batch);
            inside = regions.rope(x, c.col, pos, n.param, yBits);
        } else if (k == OpKind.MeanRows) {
            _open(c.input, _shape2(n.inner, n.cols), in1);
            uint32[] memory x = new uint32[](n.inner);
            for (uint256 r; r < n.inner; ++r) {
                x[r] = TensorMerkle.element(c.input, r * n.cols + c.col);
            }
            inside = regions.mean(x, yBits);
        } else if (k >= OpKind.Reshape && k <= OpKind.Concat) {
            inside = _movement(c, n, shape, g, in1, in2, yBits);
        } else {
            inside = _elementwise(c, n, shape, g, in1, in2, yBits);
        }
    }

    /// @notice Whether the sound region of an op of this kind is a point (bit-exact ops): the exact check then
    ///         decides every element both ways, and a vote never does.
    function exact(OpKind k) public pure returns (bool) {
        return k == OpKind.Relu || k == OpKind.Embedding || k == OpKind.CausalMask || k == OpKind.Argmax
            || (k >= OpKind.Reshape && k <= OpKind.Concat);
    }

    /// @notice An upper estimate of what adjudicating one element of op `n` costs: its openings' calldata and
    ///         the gas of the transaction that carries them (calldata, chunk hashing, the region's arithmetic:
    ///         ~500 gas a dot-product term, ~10k a softmax key, ~4k a normalized or averaged element). The
    ///         figures are the measured ones of docs/PROTOCOL.md (Gas), rounded up.
    function openingCost(OpNode calldata n) public pure returns (uint256 gas, uint256 size) {
        OpKind k = n.kind;
        uint256 chunks;
        uint256 work = 200_000;
        if (k == OpKind.MatMul) {
            (chunks, work) = (2 * _rowChunks(n.inner), 500 * uint256(n.inner));
        } else if (k == OpKind.BatchMatMul) {
            uint256 other = n.param == 1 ? _rowChunks(n.inner) : _columnChunks(n.inner, n.cols);
            (chunks, work) = (_rowChunks(n.inner) + other, 500 * uint256(n.inner));
        } else if (k == OpKind.Softmax) {
            (chunks, work) = (_rowChunks(n.cols), 10_000 * uint256(n.cols));
        } else if (k == OpKind.RmsNorm || k == OpKind.LayerNorm) {
            (chunks, work) = (_rowChunks(n.cols) + 2, 4_000 * uint256(n.cols));
        } else if (k == OpKind.Rope) {
            chunks = _rowChunks(n.cols);
        } else if (k == OpKind.MeanRows) {
            (chunks, work) = (_columnChunks(n.inner, n.cols), 4_000 * uint256(n.inner));
        } else {
            chunks = 4; // elementwise, data movement, argmax: a few single elements
        }
        chunks += 1; // the output element's own chunk
        size = chunks * CHUNK_BYTES;
        gas = 21_000 + 16 * size + 3_000 * chunks + work;
    }

    /// @dev Chunks a row of `n` consecutive elements can touch (it may straddle a chunk boundary).
    function _rowChunks(uint256 n) private pure returns (uint256) {
        return n / 1024 + 2;
    }

    /// @dev Chunks a column of `rows` elements `stride` apart can touch.
    function _columnChunks(uint256 rows, uint256 stride) private pure returns (uint256) {
        uint256 spanned = rows * stride / 1024 + 2;
        return spanned < rows ? spanned : rows;
    }

    /// @notice The shape of the op's output tensor (as its tensor root commits it).
    function outputShape(OpNode calldata n) public pure returns (uint32[] memory s) {
        if (n.kind == OpKind.Argmax) return _shape1(n.rows);
        if (n.kind == OpKind.MeanRows) return _shape1(n.cols);
        if (n.batch == 0) return _shape2(n.rows, n.cols);
        s = new uint32[](3);
        (s[0], s[1], s[2]) = (n.batch, n.rows / n.batch, n.cols);
    }

    /// @dev Ops whose element depends on the same element of their trace operands.
    function _elementwise(
        ElementChallenge calldata c,
        OpNode calldata n,
        uint32[] memory shape,
        uint256 g,
        Loc calldata in1,
        Loc calldata in2,
        uint32 y
    ) private view returns (bool) {
        OpKind k = n.kind;
        _open(c.input, shape, in1);
        uint32 x = TensorMerkle.element(c.input, g);
        if (k == OpKind.Relu) return SoundBound.reluWithin(x, y);
        if (k == OpKind.Silu) return regions.silu(x, y);
        if (k == OpKind.Gelu) return regions.gelu(x, y);
        if (k == OpKind.Scale) return _product(x, n.param, y);
        if (k == OpKind.CausalMask) {
            if (Fp32.isNonFinite(x) && x != NEG_INF) revert NonFiniteInput(x);
            uint256 q = n.batch == 0 ? n.rows : n.rows / n.batch;
            return c.col > uint256(n.param) + c.row % q ? y == NEG_INF : y == x;
        }
        if (k != OpKind.Residual && k != OpKind.Mul) revert UnsupportedOp(uint8(k));
        _open(c.input2, shape, in2);
        uint32 x2 = TensorMerkle.element(c.input2, g);
        return k == OpKind.Residual ? SoundBound.addWithin(x, x2, y) : _product(x, x2, y);
    }

    /// @dev Data movement (Reshape, Transpose, Narrow, Concat): the output element is one input element, bit for bit.
    ///      Output element g has multi-index `idx` in the output's shape; the input element is the same flat index
    ///      (Reshape), `idx` with two dims swapped (Transpose), shifted along a dim (Narrow), or in x or x2 along the
    ///      concatenated dim.
    function _movement(
        ElementChallenge calldata c,
        OpNode calldata n,
        uint32[] memory shape,
        uint256 g,
        Loc calldata in1,
        Loc calldata in2,
        uint32 y
    ) private pure returns (bool) {
        OpKind k = n.kind;
        uint32[] memory ins = _inShape(n);
        if (k == OpKind.Reshape) {
            _open(c.input, ins, in1);
            return TensorMerkle.element(c.input, g) == y;
        }
        uint256[3] memory idx = _unflatten(g, shape);
        if (k == OpKind.Transpose) {
            (uint256 a, uint256 b) = (n.param & 0xff, n.param >> 8);
            (idx[a], idx[b]) = (idx[b], idx[a]);
        } else if (k == OpKind.Narrow) {
            idx[n.inner] += n.param;
        } else if (idx[n.inner] >= ins[n.inner]) {
            // Concat, from x2: its shape is the output's with the dim shortened by x's
            idx[n.inner] -= ins[n.inner];
            uint32[] memory s2 = _copy(shape);
            s2[n.inner] -= ins[n.inner];
            _open(c.input2, s2, in2);
            return TensorMerkle.element(c.input2, _flatten(idx, s2)) == y;
        }
        _open(c.input, ins, in1);
        return TensorMerkle.element(c.input, _flatten(idx, ins)) == y;
    }

    /// @dev The input shape of a data-movement op (`inShape` up to its first zero).
    function _inShape(OpNode calldata n) private pure returns (uint32[] memory s) {
        uint256 rank;
        while (rank < 3 && n.inShape[rank] != 0) ++rank;
        s = new uint32[](rank);
        for (uint256 i; i < rank; ++i) {
            s[i] = n.inShape[i];
        }
    }

    function _unflatten(uint256 g, uint32[] memory shape) private pure returns (uint256[3] memory idx) {
        for (uint256 i = shape.length; i > 0; --i) {
            idx[i - 1] = g % shape[i - 1];
            g /= shape[i - 1];
        }
    }

    function _flatten(uint256[3] memory idx, uint32[] memory shape) private pure returns (uint256 g) {
        for (uint256 i; i < shape.length; ++i) {
            g = g * shape[i] + idx[i];
        }
    }

    function _copy(uint32[] memory a) private pure returns (uint32[] memory b) {
        b = new uint32[](a.length);
        for (uint256 i; i < a.length; ++i) {
            b[i] = a[i];
        }
    }

    /// @dev BatchMatMul: the row of x and the row (transposed) or column of x2 of the element's batch; a dot
    ///      product (`SoundBound.dotWithin`).
    function _batchMatMul(ElementChallenge calldata c, OpNode calldata n, Loc calldata in1, Loc calldata in2, uint32 y)
        private
        pure
        returns (bool)
    {
        uint256 m = n.rows / n.batch;
        uint256 b = c.row / m;
        uint256 k = n.inner;
        // forge-lint: disable-next-line(unsafe-typecast)
        _open(c.input, _shape3(n.batch, uint32(m), n.inner), in1); // m <= rows
        bytes memory x = TensorMerkle.packed(c.input, uint256(c.row) * k, k);
        bytes memory w;
        if (n.param == 1) {
            _open(c.input2, _shape3(n.batch, n.cols, n.inner), in2);
            w = TensorMerkle.packed(c.input2, (b * n.cols + c.col) * k, k);
        } else {
            _open(c.input2, _shape3(n.batch, n.inner, n.cols), in2);
            w = TensorMerkle.gathered(c.input2, b * k * n.cols + c.col, n.cols, k);
        }
        return SoundBound.dotWithinPacked(x, w, y);
    }

    function _shape3(uint32 a, uint32 b, uint32 c) private pure returns (uint32[] memory s) {
        s = new uint32[](3);
        (s[0], s[1], s[2]) = (a, b, c);
    }

    /// @dev Argmax: the claimed index must name a column of the row, and no witness column may hold more.
    function _argmax(ElementChallenge calldata c, OpNode calldata n, Loc calldata in1, Loc calldata in2, uint32 y)
        private
        pure
        returns (bool)
    {
        (bool ok, uint256 id) = Fp32.toIndex(y, n.inner);
        if (!ok) return false;
        uint32[] memory shape = _shape2(n.rows, n.inner);
        _open(c.input, shape, in1);
        _open(c.input2, shape, in2);
        uint256 base = uint256(c.row) * n.inner;
        uint32 best = TensorMerkle.element(c.input, base + id);
        uint32 witness = TensorMerkle.element(c.input2, base + c.col);
        if (Fp32.isNonFinite(best)) revert NonFiniteInput(best);
        if (Fp32.isNonFinite(witness)) revert NonFiniteInput(witness);
        return !Fp32.lt(best, witness);
    }

    /// @dev y = fl(a * b): a one-term dot product.
    function _product(uint32 a, uint32 b, uint32 y) private pure returns (bool) {
        uint32[] memory x = new uint32[](1);
        uint32[] memory w = new uint32[](1);
        (x[0], w[0]) = (a, b);
        return SoundBound.within(x, w, y, 1, true);
    }

    function _open(TensorOpening calldata t, uint32[] memory shape, Loc calldata loc) private pure {
        TensorMerkle.verifyOpening(t, shape, loc.root, loc.index, loc.count);
    }

    function _shape2(uint32 a, uint32 b) private pure returns (uint32[] memory s) {
        s = new uint32[](2);
        (s[0], s[1]) = (a, b);
    }

    function _shape1(uint32 a) private pure returns (uint32[] memory s) {
        s = new uint32[](1);
        s[0] = a;
    }
}
