// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice A node of the k-ary partition tree over a claim's coarse trace, as a generalized index.
/// @dev The tree is the perfect k-ary tree of depth D = ceil(log_k S) over the S segments of the model (the
///      boundary list has S + 1 entries: the claim input, every segment's output boundary, the last one being
///      the claim output). The root is 1; child j (0 <= j < k) of p is p * k + j, so the node at depth d with
///      index i is k^d + i (0 <= i < k^d: these ranges never overlap, since 2 k^d <= k^(d+1)). Node (d, i)
///      covers the boundaries [i w, min((i + 1) w, S)] with w = k^(D - d); leaf (D, s) is segment s, between
///      boundaries s and s + 1. Nodes that start at or past S are empty and can never be picked.
///
///          k = 3, S = 7, D = 2              1                    boundaries [0, 7]
///                                 /         |         \
///                                3          4          5         [0, 3]  [3, 6]  [6, 7]
///                              / | \      / | \      / |
///                             9 10 11   12 13 14   15 (16 17 empty)   segments 0..6
type Position is uint64;

using LibPosition for Position global;

/// @title LibPosition
/// @notice Pure helpers over `Position` for a tree of arity `k`.
library LibPosition {
    /// @notice The root: the whole boundary list.
    function root() internal pure returns (Position) {
        return Position.wrap(1);
    }

    /// @notice k^e.
    function pow(uint256 k, uint256 e) internal pure returns (uint256 r) {
        r = 1;
        for (uint256 i; i < e; ++i) {
            r *= k;
        }
    }

    /// @notice Depth D of the leaves of a tree of arity `k` over `segments` segments (the least D with
    ///         k^D >= segments).
    function leafDepth(uint256 k, uint256 segments) internal pure returns (uint256 d) {
        uint256 w = 1;
        while (w < segments) {
            w *= k;
            ++d;
        }
    }

    /// @notice The node at depth `d`, index `i`.
    function node(uint256 k, uint256 d, uint256 i) internal pure returns (Position) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return Position.wrap(uint64(pow(k, d) + i));
    }

    /// @notice Depth of `p`.
    function depth(Position p, uint256 k) internal pure returns (uint256 d) {
        uint256 v = Position.unwrap(p);
        while (v >= k) {
            v /= k;
            ++d;
        }
    }

    /// @notice Index of `p` among the nodes of its depth.
    function index(Position p, uint256 k) internal pure returns (uint256) {
        return Position.unwrap(p) - pow(k, depth(p, k));
    }

    /// @notice Child `j` of `p`.
    function child(Position p, uint256 k, uint256 j) internal pure returns (Position) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return Position.wrap(uint64(Position.unwrap(p) * k + j));
    }

    /// @notice The boundary range [lo, hi] that `p` covers in a tree of arity `k` over `segments` segments
    ///         (hi is clamped to `segments`; lo >= segments means the node is empty).
    function range(Position p, uint256 k, uint256 segments) internal pure returns (uint256 lo, uint256 hi) {
        uint256 d = depth(p, k);
        uint256 w = pow(k, leafDepth(k, segments) - d);
        lo = index(p, k) * w;
        hi = lo + w < segments ? lo + w : segments;
    }

    /// @notice Descends from `p` through first children while a node's range has more than one segment but fits
    ///         in its first child (a range clamped at the last boundary), so every reveal has something to open.
    function skipSingleChild(Position p, uint256 k, uint256 segments) internal pure returns (Position) {
        (uint256 lo, uint256 hi) = range(p, k, segments);
        uint256 d = depth(p, k);
        uint256 leaves = leafDepth(k, segments);
        while (hi - lo > 1 && d < leaves && hi - lo <= pow(k, leaves - d - 1)) {
            p = child(p, k, 0);
            ++d;
        }
        return p;
    }

    /// @notice The raw generalized index.
    function raw(Position p) internal pure returns (uint64) {
        return Position.unwrap(p);
    }
}
