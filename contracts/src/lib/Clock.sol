// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice The two sides of a game.
enum Side {
    Prover,
    Challenger
}

/// @notice A partition game's chess clock: each side's seconds left and when the mover's turn began, packed as
///         three 64-bit fields (high to low: the prover's seconds left, the challenger's, the turn's start). The
///         mover's clock runs from the turn's start; the other side's stands. Rust: `nao_chain::Clock`, the same
///         fields and the same rule (a side whose elapsed turn exceeds its seconds left has lost on time).
type Clock is uint192;

using LibClock for Clock global;

/// @title LibClock
/// @notice Helpers over `Clock`; "now" is the block's timestamp.
library LibClock {
    uint256 private constant MASK = type(uint64).max;

    /// @notice A clock giving each side `budget` seconds, the first turn starting now.
    function start(uint64 budget) internal view returns (Clock) {
        return _pack(budget, budget, block.timestamp);
    }

    /// @notice The seconds `side` had left when the current turn began.
    function left(Clock c, Side side) internal pure returns (uint64) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64((Clock.unwrap(c) >> (side == Side.Prover ? 128 : 64)) & MASK);
    }

    /// @notice When the current turn began (unix seconds).
    function turnStart(Clock c) internal pure returns (uint64) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64(Clock.unwrap(c) & MASK);
    }

    /// @notice Seconds since the current turn began.
    function elapsed(Clock c) internal view returns (uint256) {
        return block.timestamp - turnStart(c);
    }

    /// @notice The seconds `side`, the mover, has left now (0 once its clock ran out).
    function remaining(Clock c, Side side) internal view returns (uint64) {
        (uint256 l, uint256 e) = (left(c, side), elapsed(c));
        // forge-lint: disable-next-line(unsafe-typecast)
        return e >= l ? 0 : uint64(l - e);
    }

    /// @notice Ends the turn of `side`, the mover: charges it the elapsed seconds and starts the other side's
    ///         turn now. `over` is how far past its seconds left the turn ran (0: in time; the clock returned is
    ///         then meaningful), `leftAfter` what the mover keeps.
    function charge(Clock c, Side side) internal view returns (Clock next, uint64 leftAfter, uint256 over) {
        (uint256 l, uint256 e) = (left(c, side), elapsed(c));
        if (e > l) return (c, 0, e - l);
        // forge-lint: disable-next-line(unsafe-typecast)
        leftAfter = uint64(l - e);
        next = side == Side.Prover
            ? _pack(leftAfter, left(c, Side.Challenger), block.timestamp)
            : _pack(left(c, Side.Prover), leftAfter, block.timestamp);
    }

    /// @notice The clock with `side`'s seconds left set to 0 (it lost on time).
    function runOut(Clock c, Side side) internal pure returns (Clock) {
        return side == Side.Prover
            ? _pack(0, left(c, Side.Challenger), turnStart(c))
            : _pack(left(c, Side.Prover), 0, turnStart(c));
    }

    function _pack(uint256 prover, uint256 challenger, uint256 turn) private pure returns (Clock) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return Clock.wrap(uint192((prover << 128) | (challenger << 64) | turn));
    }
}
