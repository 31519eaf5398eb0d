//! `Position` of `contracts/src/lib/Position.sol`: a node of the partition game's bisection tree.

/// A node of the bisection tree: the generalized index `k^depth + index` of `contracts/src/lib/Position.sol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Position(pub u64);

impl Position {
    /// The root (the whole boundary list).
    pub const ROOT: Position = Position(1);

    /// The position of an output vote (`DisputeGame.escalateOutput`): no partition game starts there.
    pub const OUTPUT: Position = Position(0);

    /// Depth of the leaves of a tree of arity `k` over `segments` segments.
    pub fn leaf_depth(k: u64, segments: u64) -> u32 {
        let (mut w, mut d) = (1u64, 0u32);
        while w < segments {
            w *= k;
            d += 1;
        }
        d
    }

    /// Leaf `s` (segment s) of a tree of arity `k` over `segments` segments: where direct pointing starts.
    pub fn leaf(k: u64, segments: u64, s: u64) -> Self {
        Position(k.pow(Self::leaf_depth(k, segments)) + s)
    }

    /// Depth of this node in a tree of arity `k`.
    pub fn depth(self, k: u64) -> u32 {
        let (mut v, mut d) = (self.0, 0);
        while v >= k {
            v /= k;
            d += 1;
        }
        d
    }

    /// Width (in segments) of this node's child ranges in a tree of arity `k` over `segments` segments.
    pub fn child_width(self, k: u64, segments: u64) -> u64 {
        k.pow(Self::leaf_depth(k, segments) - self.depth(k) - 1)
    }
}
