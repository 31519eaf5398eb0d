//! Deploying the contracts.

use alloy::primitives::{Address, U256};
use nao_bindings::{Adjudicator, ClaimManager, Committee, DisputeGame, ModelRegistry};

use super::{call_err, send, Client};
use crate::{Error, Result};

/// Parameters fixed at deployment: each contract's constructor arguments, under the contract's own names.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct ProtocolParams {
    /// `ClaimManager`'s.
    pub claims: ClaimsParams,
    /// `DisputeGame`'s.
    pub game: GameParams,
    /// `Committee`'s.
    pub committee: CommitteeParams,
}

/// `ClaimManager`'s constructor arguments (`challengeWindow`, `claimBond`, ...).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct ClaimsParams {
    /// Seconds a claim can be challenged.
    pub challenge_window: u64,
    /// Wei a prover bonds per claim.
    pub claim_bond: u128,
    /// Wei a challenger bonds per challenge.
    pub challenge_bond: u128,
    /// Seconds after a slash in which a game won with an earlier-ranked commitment takes the reward over (two
    /// clock budgets: every game open at the slash can end within it).
    pub reward_grace: u64,
    /// Wei a data request bonds (it pays the prover for publishing the chunks asked for).
    pub data_bond: u128,
    /// Seconds a prover has to publish requested data (and the least a claim stays challengeable after).
    pub data_window: u64,
}

impl Default for ClaimsParams {
    fn default() -> Self {
        Self {
            challenge_window: 3600,
            claim_bond: 10u128.pow(18),
            challenge_bond: 10u128.pow(17),
            reward_grace: 3600,
            data_bond: 10u128.pow(16),
            data_window: 600,
        }
    }
}

/// `DisputeGame`'s constructor arguments (`clockBudget`, `arity`).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct GameParams {
    /// Seconds each side of a partition game may think in total (its chess clock).
    pub clock_budget: u64,
    /// Arity k of the bisection over a claim's segment boundaries.
    pub arity: u32,
}

impl Default for GameParams {
    fn default() -> Self {
        // 17^2 >= 270 segments (SmolLM2, 8 tokens): a bisection in 7 transactions after the claim
        Self { clock_budget: 1800, arity: 17 }
    }
}

/// `Committee`'s constructor arguments (`minStake`, `withdrawDelay`, `size`, `commitWindow`, `revealWindow`,
/// `penalty`).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct CommitteeParams {
    /// Wei a validator must stake to be drawn for committee votes.
    pub min_stake: u128,
    /// Seconds from a validator's withdrawal request to its stake leaving.
    pub withdraw_delay: u64,
    /// Seats per committee vote.
    pub size: u32,
    /// Seconds committee members have to commit their ballots.
    pub commit_window: u64,
    /// Seconds committee members have to reveal, after the commit window.
    pub reveal_window: u64,
    /// Wei a committee member loses per seat for a minority ballot or a missing reveal.
    pub penalty: u128,
}

impl Default for CommitteeParams {
    fn default() -> Self {
        Self {
            min_stake: 10u128.pow(18),
            withdraw_delay: 7 * 24 * 3600,
            size: 7,
            commit_window: 600,
            reveal_window: 600,
            penalty: 5 * 10u128.pow(17),
        }
    }
}

/// Addresses of a deployment.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Deployment {
    /// ModelRegistry.
    pub registry: Address,
    /// ClaimManager.
    pub claims: Address,
    /// DisputeGame.
    pub game: Address,
    /// Committee.
    pub committee: Address,
}

/// Deploys registry, claim manager, committee, adjudicator and dispute game, and binds the game to the claim manager and
/// the committee.
pub async fn deploy(client: &Client, params: ProtocolParams) -> Result<Deployment> {
    let registry = ModelRegistry::deploy(client.provider.clone()).await.map_err(call_err("deploying ModelRegistry"))?;
    let (c, g, m) = (params.claims, params.game, params.committee);
    let claims = ClaimManager::deploy(
        client.provider.clone(),
        *registry.address(),
        c.challenge_window,
        U256::from(c.claim_bond),
        U256::from(c.challenge_bond),
        c.reward_grace,
        U256::from(c.data_bond),
        c.data_window,
    )
    .await
    .map_err(call_err("deploying ClaimManager"))?;
    let committee = Committee::deploy(
        client.provider.clone(),
        U256::from(m.min_stake),
        m.withdraw_delay,
        U256::from(m.size),
        m.commit_window,
        m.reveal_window,
        U256::from(m.penalty),
    )
    .await
    .map_err(call_err("deploying Committee"))?;
    let adjudicator = Adjudicator::deploy(client.provider.clone()).await.map_err(call_err("deploying Adjudicator"))?;
    let game = DisputeGame::deploy(
        client.provider.clone(),
        *claims.address(),
        g.clock_budget,
        U256::from(g.arity),
        *committee.address(),
        *adjudicator.address(),
    )
    .await
    .map_err(call_err("deploying DisputeGame"))?;
    send("bindDisputeGame", claims.bindDisputeGame(*game.address())).await?;
    send("bindGame", committee.bindGame(*game.address())).await?;
    let d = Deployment {
        registry: *registry.address(),
        claims: *claims.address(),
        game: *game.address(),
        committee: *committee.address(),
    };
    tracing::info!(?d, "deployed");
    Ok(d)
}

/// A deployment as `nao deploy` writes it for the other commands: chain, addresses, parameters.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DeploymentFile {
    /// Chain id the contracts live on.
    pub chain_id: u64,
    /// Their addresses.
    pub contracts: Deployment,
    /// The parameters they were deployed with.
    pub params: ProtocolParams,
}

impl DeploymentFile {
    /// Reads `path`, naming what is wrong with it.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::Config(format!(
                "{}: no deployment file there (deploy the contracts with `nao deploy --out {}`, or pass \
                 --deployment)",
                path.display(),
                path.display()
            )),
            _ => Error::Io { path: path.into(), source },
        })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Config(format!("{}: not a deployment file: {e}", path.display())))
    }

    /// Checks that `client` is on this deployment's chain and that every contract has code there.
    pub async fn check(&self, client: &Client) -> Result<()> {
        use alloy::providers::Provider;
        let p = &client.provider;
        let id = p.get_chain_id().await.map_err(crate::rpc_err("chain id"))?;
        if id != self.chain_id {
            return Err(Error::Chain(format!(
                "the RPC serves chain {id}; the deployment is on chain {}",
                self.chain_id
            )));
        }
        let c = &self.contracts;
        for (name, at) in [
            ("ModelRegistry", c.registry),
            ("ClaimManager", c.claims),
            ("DisputeGame", c.game),
            ("Committee", c.committee),
        ] {
            let code = p.get_code_at(at).await.map_err(crate::rpc_err(&format!("code of {name}")))?;
            if code.is_empty() {
                return Err(Error::Chain(format!("no contract at {at} ({name}) on chain {id}")));
            }
        }
        Ok(())
    }
}
