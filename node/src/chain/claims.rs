//! Typed access to the ClaimManager: claim status, bonds, credits, finalize and withdraw.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use nao_bindings::ClaimManager;

use super::{send, Client, Deployment, Sent};
use crate::{Error, Result};

/// `ClaimStatus` of `contracts/src/lib/Types.sol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ClaimStatus {
    /// Never posted.
    None,
    /// Inside (or past, not yet finalized) its challenge window.
    Pending,
    /// Final: its bond went back to the prover.
    Finalized,
    /// Proved wrong: its bond went to the challenger.
    Slashed,
}

impl From<u8> for ClaimStatus {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::Pending,
            2 => Self::Finalized,
            3 => Self::Slashed,
            _ => Self::None,
        }
    }
}

/// `GameOutcome` of `contracts/src/lib/Types.sol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum GameOutcome {
    /// Not played.
    None,
    /// The challenged element was outside its region.
    ChallengerWon,
    /// The challenged element was inside its region.
    ProverWon,
    /// Another game slashed the claim first; the challenger's bond went back.
    Moot,
}

impl From<u8> for GameOutcome {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::ChallengerWon,
            2 => Self::ProverWon,
            3 => Self::Moot,
            _ => Self::None,
        }
    }
}

/// The ClaimManager as seen by one account.
#[derive(Debug, Clone)]
pub struct Claims {
    inner: ClaimManager::ClaimManagerInstance<DynProvider>,
    account: Address,
}

fn chain_err(what: &str) -> impl Fn(alloy::contract::Error) -> Error + '_ {
    move |e| Error::Chain(format!("{what}: {}", super::revert_reason(&e)))
}

impl Claims {
    /// The claim manager of `d`, sending as `client`.
    pub fn new(client: &Client, d: &Deployment) -> Self {
        Self { inner: ClaimManager::new(d.claims, client.provider.clone()), account: client.address }
    }

    /// The generated contract instance.
    pub fn contract(&self) -> &ClaimManager::ClaimManagerInstance<DynProvider> {
        &self.inner
    }

    /// Status of a claim.
    pub async fn status(&self, id: B256) -> Result<ClaimStatus> {
        Ok(self.inner.claim(id).call().await.map_err(chain_err("claim"))?.status.into())
    }

    /// Bond required per claim.
    pub async fn claim_bond(&self) -> Result<U256> {
        self.inner.claimBond().call().await.map_err(chain_err("claimBond"))
    }

    /// Bond required per challenge.
    pub async fn challenge_bond(&self) -> Result<U256> {
        self.inner.challengeBond().call().await.map_err(chain_err("challengeBond"))
    }

    /// Credit of `who`.
    pub async fn credit_of(&self, who: Address) -> Result<U256> {
        self.inner.credit(who).call().await.map_err(chain_err("credit"))
    }

    /// Seconds a claim can be challenged after it is posted.
    pub async fn challenge_window(&self) -> Result<u64> {
        self.inner.challengeWindow().call().await.map_err(chain_err("challengeWindow"))
    }

    /// Credit of this account.
    pub async fn credit(&self) -> Result<U256> {
        self.credit_of(self.account).await
    }

    /// Finalizes a claim whose window has closed.
    pub async fn finalize(&self, id: B256) -> Result<Sent> {
        send("finalize", self.inner.finalize(id)).await
    }

    /// Withdraws this account's credit.
    pub async fn withdraw(&self) -> Result<Sent> {
        send("withdraw", self.inner.withdraw()).await
    }

    /// Withdraws this account's credit if it has any (what the daemons do every tick).
    pub async fn withdraw_credit(&self) -> Result<Option<Sent>> {
        if self.credit().await?.is_zero() {
            return Ok(None);
        }
        let sent = self.withdraw().await?;
        tracing::info!(gas = sent.gas_used, "credit withdrawn");
        Ok(Some(sent))
    }
}
