//! The partition game's chain-side vocabulary: where a game stands (`Phase`), whose move it is (`Side`), its
//! chess clock (`Clock`) and its id.

use alloy::primitives::{aliases::U192, Address, B256};

use super::Position;

/// `Phase` of `contracts/src/lib/Types.sol`: where a partition game stands (and so whose turn it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Phase {
    /// No such game.
    None,
    /// The prover reveals the interior boundaries of the current range.
    Reveal,
    /// The challenger picks a sub-range.
    Pick,
    /// The prover posts the disputed segment's fine-trace root.
    Fine,
    /// The challenger opens an element against the fine root.
    Element,
    /// Decided.
    Ended,
    /// The prover opens the element the challenger requested.
    Open,
    /// The committee votes on the element the challenger escalated.
    Vote,
}

impl From<u8> for Phase {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::Reveal,
            2 => Self::Pick,
            3 => Self::Fine,
            4 => Self::Element,
            5 => Self::Ended,
            6 => Self::Open,
            7 => Self::Vote,
            _ => Self::None,
        }
    }
}

impl Phase {
    /// The side to move in this phase (`DisputeGame._sideOf`); `None` where no clock runs (no game, ended, or
    /// a committee vote, whose own windows bound it).
    pub fn mover(self) -> Option<Side> {
        match self {
            Self::Reveal | Self::Fine | Self::Open => Some(Side::Prover),
            Self::Pick | Self::Element => Some(Side::Challenger),
            Self::None | Self::Ended | Self::Vote => None,
        }
    }
}

/// `Side` of `contracts/src/lib/Types.sol`: a game's two players.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Side {
    /// The claim's prover.
    Prover,
    /// The game's challenger.
    Challenger,
}

/// A partition game's chess clock, the contract's `Clock` value type (`lib/Clock.sol`: three 64-bit fields,
/// high to low): each side's seconds left, the mover's running since `turn_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Clock {
    /// The prover's seconds left at `turn_start`.
    pub prover_left: u64,
    /// The challenger's seconds left at `turn_start`.
    pub challenger_left: u64,
    /// When the mover's turn began (unix seconds).
    pub turn_start: u64,
}

impl From<U192> for Clock {
    /// Unpacks the contract's `Clock` word.
    fn from(word: U192) -> Self {
        let field = |shift: usize| ((word >> shift) & U192::from(u64::MAX)).to::<u64>();
        Clock { prover_left: field(128), challenger_left: field(64), turn_start: field(0) }
    }
}

impl Clock {
    /// Seconds `side` has left at time `now` when it is the one to move (its clock running; the other's
    /// stands), `None` once it ran out: what the contract's `timeout` checks (`elapsed > left` loses).
    pub fn left(&self, side: Side, now: u64) -> Option<u64> {
        let left = match side {
            Side::Prover => self.prover_left,
            Side::Challenger => self.challenger_left,
        };
        left.checked_sub(now.saturating_sub(self.turn_start))
    }
}

/// The id of the partition game `challenger` starts against inference `inference` of `claim` at `start`
/// (`partitionGameIdOf`).
pub fn partition_game_id(claim: B256, inference: u32, challenger: Address, start: Position) -> B256 {
    use alloy::sol_types::SolValue;
    alloy::primitives::keccak256((claim, inference, challenger, start.0).abi_encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_runs_out_as_the_contract_times_it_out() {
        let c = Clock { prover_left: 100, challenger_left: 40, turn_start: 1_000 };
        assert_eq!(c.left(Side::Prover, 1_000), Some(100));
        assert_eq!(c.left(Side::Prover, 1_100), Some(0), "elapsed == left: not yet timed out");
        assert_eq!(c.left(Side::Prover, 1_101), None);
        assert_eq!(c.left(Side::Challenger, 1_030), Some(10));
        assert_eq!(c.left(Side::Challenger, 999), Some(40), "a clock read before its turn began");
        assert_eq!(Phase::Reveal.mover(), Some(Side::Prover));
        assert_eq!(Phase::Element.mover(), Some(Side::Challenger));
        assert_eq!(Phase::Vote.mover(), None);
    }

    #[test]
    fn a_clock_unpacks_from_the_contracts_word() {
        let word = (U192::from(100u64) << 128) | (U192::from(40u64) << 64) | U192::from(u64::MAX);
        assert_eq!(Clock::from(word), Clock { prover_left: 100, challenger_left: 40, turn_start: u64::MAX });
    }
}
