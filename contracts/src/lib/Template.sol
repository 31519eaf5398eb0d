// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {TensorMerkle} from "./TensorMerkle.sol";
import {BadLengths, BadPatch} from "./Errors.sol";
import {Patch} from "./Types.sol";

/// @title Template
/// @notice One registered graph for every prompt and generation length (issue #20; docs/PROTOCOL.md, "One
///         registration for every length"). The concrete graph of lengths (P prompt tokens, T steps) is a
///         sequence of pieces: piece 0 the prefill (step 0; the whole graph of a model that does not generate),
///         piece 1 step 1 (when T >= 2), piece 2 each step s >= 2 (T - 2 times). A piece's node count does not
///         depend on the lengths; its template nodes are its nodes at P = 1 and its reference step (0, 1, 2).
///         A template leaf is the node's plain leaf when nothing in it moves with the lengths, else
///         `abi.encode(bytes leaf, Patch[] patches)`: the leaf at the reference lengths and how its words move.
library Template {
    /// @notice The concrete node count for `steps` steps of a graph whose pieces have `pieceNodes` nodes.
    function count(uint32[3] memory piece, uint32 steps) internal pure returns (uint256) {
        uint256 n = piece[0];
        if (steps >= 2) n += piece[1];
        if (steps >= 3) n += uint256(steps - 2) * piece[2];
        return n;
    }

    /// @notice Reverts unless (prompt, steps) are lengths a template of these pieces and this context serves:
    ///         at least one prompt token and one step, prompt + steps - 1 positions at most `context`, and one
    ///         step for a model that does not generate (no piece 1).
    function checkLengths(uint32[3] memory piece, uint32 context, uint32 prompt, uint32 steps) internal pure {
        // INVARIANT: a claim's lengths are ones its model's template was registered for.
        if (prompt == 0 || steps == 0 || uint256(prompt) + steps - 1 > context || (piece[1] == 0 && steps != 1)) {
            revert BadLengths(prompt, steps, context);
        }
    }

    /// @notice Where concrete item `i` (a node, or with segment counts a segment) of a graph of `steps` steps
    ///         sits in the template: its template index, its step, and its piece's reference step.
    function locate(uint32[3] memory piece, uint32 steps, uint256 i)
        internal
        pure
        returns (uint256 index, uint256 step, uint256 refStep)
    {
        if (i < piece[0]) return (i, 0, 0);
        i -= piece[0];
        if (steps >= 2 && i < piece[1]) return (piece[0] + i, 1, 1);
        i -= piece[1];
        // steps >= 3 here for any i below count(piece, steps)
        return (uint256(piece[0]) + piece[1] + i % piece[2], 2 + i / piece[2], 2);
    }

    /// @notice The hash of the template leaf from which `concrete` (a node's leaf at prompt length `prompt`,
    ///         step `step` of a piece with reference step `refStep`) follows with `patches`: what the graph root
    ///         commits at the node's template index. Patches must name distinct words of the leaf, in order.
    function leafHash(bytes memory concrete, Patch[] memory patches, uint256 prompt, uint256 step, uint256 refStep)
        internal
        pure
        returns (bytes32)
    {
        if (patches.length == 0) return TensorMerkle.leafHash(concrete);
        bytes memory ref = bytes.concat(concrete);
        uint256 words = ref.length / 32;
        int256 tokens = int256(prompt) - 1;
        int256 steps = int256(step) - int256(refStep);
        for (uint256 j; j < patches.length; ++j) {
            Patch memory p = patches[j];
            // INVARIANT: a patch moves one whole word of the leaf, each word at most once.
            if (p.word >= words || (j > 0 && p.word <= patches[j - 1].word)) revert BadPatch(j, p.word);
            int256 delta = int256(p.perToken) * tokens + int256(p.perStep) * steps;
            uint256 at = 32 + 32 * uint256(p.word);
            uint256 w;
            assembly {
                w := mload(add(ref, at))
            }
            // forge-lint: disable-next-line(unsafe-typecast)
            w = uint256(int256(w) - delta); // a word a patch moves holds a small integer (a dim, an offset)
            assembly {
                mstore(add(ref, at), w)
            }
        }
        return TensorMerkle.leafHash(abi.encode(ref, patches));
    }
}
