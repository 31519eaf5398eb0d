//! The partition game's chain-side vocabulary: where a game stands (`Phase`) and its id.

use alloy::primitives::{Address, B256};

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

/// The id of the partition game `challenger` starts against `claim` at `start` (`partitionGameIdOf`).
pub fn partition_game_id(claim: B256, challenger: Address, start: Position) -> B256 {
    use alloy::sol_types::SolValue;
    alloy::primitives::keccak256((claim, challenger, start.0).abi_encode())
}
