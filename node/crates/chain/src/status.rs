//! What a deployment holds, read from its logs and state (`nao status`).

use alloy::primitives::Address;
use nao_bindings::{ClaimManager, Committee, DisputeGame, ModelRegistry};
use serde_json::{json, Value};

use super::{call_err, seats, ClaimStatus, Client, DeploymentFile, GameOutcome, Phase, Seat};
use crate::Result;

/// The deployment's registered models, claims (status, open games), partition games (phase, clocks) and the
/// balances of one account, as JSON rows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// The chain.
    pub chain_id: u64,
    /// `ModelRegistered` rows.
    pub models: Vec<Value>,
    /// One row per posted claim.
    pub claims: Vec<Value>,
    /// One row per partition game.
    pub games: Vec<Value>,
    /// The account's credits and stake (null when no account was named).
    pub balances: Value,
    /// The committee votes the account was drawn for, and whether it voted (empty when no account was named).
    pub seats: Vec<Seat>,
}

/// Reads the status of `file`'s deployment through `client` (it only reads), with the balances of `account`.
pub async fn status(client: &Client, file: &DeploymentFile, account: Option<Address>) -> Result<Status> {
    let (c, p) = (&file.contracts, client.provider.clone());
    let (registry, claims) = (ModelRegistry::new(c.registry, p.clone()), ClaimManager::new(c.claims, p.clone()));
    let (game, committee) = (DisputeGame::new(c.game, p.clone()), Committee::new(c.committee, p.clone()));
    let models = registry
        .ModelRegistered_filter()
        .from_block(0)
        .query()
        .await
        .map_err(call_err("ModelRegistered logs"))?
        .into_iter()
        .map(|(e, _)| {
            json!({"model_id": e.modelId.to_string(), "owner": e.owner.to_string(), "piece_nodes": e.pieceNodes, "piece_segments": e.pieceSegments, "context": e.context})
        })
        .collect();
    let mut claim_rows = Vec::new();
    for (e, _) in claims.ClaimPosted_filter().from_block(0).query().await.map_err(call_err("ClaimPosted logs"))? {
        let cl = claims.claim(e.claimId).call().await.map_err(call_err("claim"))?;
        let open = claims.openGames(e.claimId).call().await.map_err(call_err("openGames"))?;
        claim_rows.push(json!({
            "claim_id": e.claimId.to_string(), "model_id": e.modelId.to_string(), "prover": cl.prover.to_string(),
            "status": format!("{:?}", ClaimStatus::from(cl.status)), "posted_at": cl.postedAt,
            "bond_wei": cl.bond.to_string(), "open_games": open.saturating_to::<u64>(),
        }));
    }
    let mut game_rows = Vec::new();
    for (e, _) in game.GameCreated_filter().from_block(0).query().await.map_err(call_err("GameCreated logs"))? {
        let g = game.partitionGame(e.gameId).call().await.map_err(call_err("partitionGame"))?;
        let (prover_left, challenger_left) = match game.clocks(e.gameId).call().await {
            Ok(r) => (r.prover, r.challenger),
            Err(_) => {
                let c = crate::Clock::from(g.clock);
                (c.prover_left, c.challenger_left)
            }
        };
        game_rows.push(json!({
            "game_id": e.gameId.to_string(), "claim_id": e.claimId.to_string(), "challenger": e.challenger.to_string(),
            "phase": format!("{:?}", Phase::from(g.phase)), "outcome": format!("{:?}", GameOutcome::from(g.outcome)),
            "prover_clock_s": prover_left, "challenger_clock_s": challenger_left,
        }));
    }
    let Some(me) = account else {
        return Ok(Status {
            chain_id: file.chain_id,
            models,
            claims: claim_rows,
            games: game_rows,
            balances: Value::Null,
            seats: Vec::new(),
        });
    };
    let v = committee.validator(me).call().await.map_err(call_err("validator"))?;
    let balances = json!({
        "account": me.to_string(),
        "claims_credit_wei": claims.credit(me).call().await.map_err(call_err("credit"))?.to_string(),
        "committee_credit_wei": committee.credit(me).call().await.map_err(call_err("credit"))?.to_string(),
        "validator_stake_wei": v.stake_.to_string(),
        "validator_open_votes": v.locks,
    });
    let now = crate::next_block_time(&p).await?;
    let seats = seats(&p, c.committee, me, 0, now).await?;
    Ok(Status { chain_id: file.chain_id, models, claims: claim_rows, games: game_rows, balances, seats })
}
