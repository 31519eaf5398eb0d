//! An account's seats in committee votes: where it was drawn, and whether it voted. A staked key that is
//! drawn and runs no `nao validate` loses its penalty per seat; `nao status` lists its seats and every daemon
//! warns ([`SeatWatch`]) when one of its key's seats is half through its commit window without a ballot.

use alloy::primitives::{Address, B256};
use alloy::providers::DynProvider;
use nao_bindings::Committee;

use crate::{call_err, Result};

/// Where an account stands in one vote it was drawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatState {
    /// Drawn, commit window open, no ballot committed yet.
    Due,
    /// Committed, reveal still to come.
    Committed,
    /// Revealed (the vote may still be open).
    Revealed,
    /// A window closed without its ballot (committed and never revealed, or never committed): the penalty
    /// per seat is lost when the vote resolves.
    Missed,
}

impl SeatState {
    /// Where a member stands at time `now`: whether it `committed` and `revealed`, against the vote's windows.
    pub fn at(committed: bool, revealed: bool, commit_end: u64, reveal_end: u64, now: u64) -> Self {
        match (committed, revealed) {
            (_, true) => Self::Revealed,
            (true, false) if now > reveal_end => Self::Missed,
            (true, false) => Self::Committed,
            (false, _) if now > commit_end => Self::Missed,
            (false, _) => Self::Due,
        }
    }
}

/// One vote an account was drawn for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Seat {
    /// The vote.
    pub vote: B256,
    /// The block of its draw (`VoteOpened`).
    pub block: u64,
    /// How many seats the account holds in it.
    pub seats: u32,
    /// Commit by this time (unix seconds).
    pub commit_end: u64,
    /// Reveal by this time (unix seconds).
    pub reveal_end: u64,
    /// Where the account stands at `now`.
    pub state: SeatState,
}

impl Seat {
    /// Whether nobody votes for this seat: no ballot committed with half the commit window (`commit_window`
    /// seconds long) gone at `now`, or a window missed. A running `nao validate` commits within a tick.
    pub fn unvoted(&self, now: u64, commit_window: u64) -> bool {
        match self.state {
            SeatState::Due => now.saturating_add(commit_window / 2) >= self.commit_end,
            SeatState::Missed => true,
            SeatState::Committed | SeatState::Revealed => false,
        }
    }
}

/// The seats `member` was drawn for in `committee`'s votes opened from block `from` on, as they stand at
/// chain time `now`.
pub async fn seats(
    provider: &DynProvider,
    committee: Address,
    member: Address,
    from: u64,
    now: u64,
) -> Result<Vec<Seat>> {
    let c = Committee::new(committee, provider.clone());
    let mut out = Vec::new();
    for (e, log) in c.VoteOpened_filter().from_block(from).query().await.map_err(call_err("VoteOpened logs"))? {
        let Some(i) = e.members.iter().position(|m| *m == member) else { continue };
        let b = c.ballotOf(e.voteId, member).call().await.map_err(call_err("ballotOf"))?;
        let state = SeatState::at(b.commitment != B256::ZERO, b.ballot != 0, e.commitEnd, e.revealEnd, now);
        out.push(Seat {
            vote: e.voteId,
            block: log.block_number.unwrap_or(from),
            seats: e.seats.get(i).copied().unwrap_or(1),
            commit_end: e.commitEnd,
            reveal_end: e.revealEnd,
            state,
        });
    }
    Ok(out)
}

/// What a daemon (of any role) keeps to warn its operator once per vote when the daemon's key sits in a vote
/// nobody votes for: half the commit window gone without a ballot (a running `nao validate`
/// commits within a tick of the draw).
#[derive(Debug)]
pub struct SeatWatch {
    provider: DynProvider,
    committee: Address,
    member: Address,
    from: u64,
    warned: std::collections::HashSet<B256>,
    commit_window: Option<u64>,
}

impl SeatWatch {
    /// Watches the seats of `member` in `committee`'s votes.
    pub fn new(provider: DynProvider, committee: Address, member: Address) -> Self {
        Self { provider, committee, member, from: 0, warned: Default::default(), commit_window: None }
    }

    /// Reads the seats opened since the last call and warns of each that is due and half through its commit
    /// window, or missed. Returns the seats it warned of this time.
    pub async fn check(&mut self) -> Result<Vec<Seat>> {
        let (provider, committee, member) = (&self.provider, self.committee, self.member);
        let commit_window = match self.commit_window {
            Some(w) => w,
            None => {
                let c = Committee::new(committee, provider.clone());
                *self.commit_window.insert(c.commitWindow().call().await.map_err(call_err("commitWindow"))?)
            }
        };
        // one look at the head a tick (this runs after every tick of every daemon): its number bounds the logs
        // read, its timestamp gives the time
        let (head, stamp) = crate::head(provider).await?;
        if self.from > head {
            return Ok(Vec::new());
        }
        let now = crate::next_block_time_after(stamp);
        let seats = seats(provider, committee, member, self.from, now).await?;
        let mut warned = Vec::new();
        for s in &seats {
            if s.unvoted(now, commit_window) && self.warned.insert(s.vote) {
                if s.state == SeatState::Missed {
                    tracing::warn!(
                        vote = %s.vote,
                        seats = s.seats,
                        "a committee vote this staked key was drawn for closed a window without its ballot: it loses \
                         its penalty per seat; run `nao validate` with this key for the next ones"
                    );
                } else {
                    tracing::warn!(
                        vote = %s.vote,
                        seats = s.seats,
                        commit_end = s.commit_end,
                        "this key is staked and was drawn for a committee vote, and nobody has voted for it: run `nao \
                         validate` with this key before commit_end, or it loses its penalty per seat"
                    );
                }
                warned.push(s.clone());
            }
        }
        // read again only what may still change: from the oldest seat still open, else from the head
        self.from = seats
            .iter()
            .filter(|s| matches!(s.state, SeatState::Due | SeatState::Committed))
            .map(|s| s.block)
            .min()
            .unwrap_or(head + 1)
            .max(self.from);
        Ok(warned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seat_is_unvoted_from_half_its_commit_window_without_a_ballot_and_once_a_window_is_missed() {
        let (commit_end, reveal_end, window) = (1_000, 1_600, 600);
        let seat = |committed, revealed, now| Seat {
            vote: B256::ZERO,
            block: 1,
            seats: 2,
            commit_end,
            reveal_end,
            state: SeatState::at(committed, revealed, commit_end, reveal_end, now),
        };
        // drawn at 400: due, quiet until 700 (half the window), then unvoted; missed after 1000
        assert_eq!(seat(false, false, 400).state, SeatState::Due);
        assert!(!seat(false, false, 699).unvoted(699, window));
        assert!(seat(false, false, 700).unvoted(700, window));
        assert_eq!(seat(false, false, 1_001).state, SeatState::Missed);
        assert!(seat(false, false, 1_001).unvoted(1_001, window));
        // committed: voted until the reveal window closes without a reveal
        assert_eq!(seat(true, false, 1_200).state, SeatState::Committed);
        assert!(!seat(true, false, 1_200).unvoted(1_200, window));
        assert_eq!(seat(true, false, 1_601).state, SeatState::Missed);
        // revealed: done, whenever asked
        assert_eq!(seat(true, true, 5_000).state, SeatState::Revealed);
        assert!(!seat(true, true, 5_000).unvoted(5_000, window));
    }
}
