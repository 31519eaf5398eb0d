//! Sending transactions and reading why one reverted.

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::Ethereum;
use alloy::primitives::Bytes;
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolError;
use nao_bindings::{ClaimManager, Committee, DisputeGame, ModelRegistry};

use crate::{Error, Result};

/// How long `send` waits for a transaction to be mined.
pub const RECEIPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// A mined transaction: its label, gas and receipt.
#[derive(Debug, Clone)]
pub struct Sent {
    /// What the transaction did (`post`, `challenge`, ...).
    pub label: String,
    /// Gas used.
    pub gas_used: u64,
    /// The receipt.
    pub receipt: TransactionReceipt,
}

/// The custom error in revert data, decoded against every nao contract's errors.
pub fn revert_reason(err: &alloy::contract::Error) -> String {
    if let Some(e) = err.as_decoded_interface_error::<DisputeGame::DisputeGameErrors>() {
        return format!("{e:?}");
    }
    if let Some(e) = err.as_decoded_interface_error::<ClaimManager::ClaimManagerErrors>() {
        return format!("{e:?}");
    }
    if let Some(e) = err.as_decoded_interface_error::<ModelRegistry::ModelRegistryErrors>() {
        return format!("{e:?}");
    }
    if let Some(e) = err.as_decoded_interface_error::<Committee::CommitteeErrors>() {
        return format!("{e:?}");
    }
    err.to_string()
}

/// Why a call reverted: its revert data (when the node returned it) and the custom error it names.
#[derive(Debug, Clone)]
pub struct Revert {
    /// The revert data: a custom error's selector and arguments.
    pub data: Option<Bytes>,
    /// The decoded error, as [`revert_reason`] prints it.
    pub reason: String,
}

impl Revert {
    /// The revert of `err`.
    pub fn of(err: &alloy::contract::Error) -> Self {
        Self { data: err.as_revert_data(), reason: revert_reason(err) }
    }

    /// The contracts' custom error `E` (any contract's binding of it: errors are matched by selector), if
    /// this revert is one.
    pub fn decode<E: SolError>(&self) -> Option<E> {
        self.data.as_ref().and_then(|d| E::abi_decode(d).ok())
    }

    /// Whether this revert is the contracts' custom error `E`.
    pub fn is<E: SolError>(&self) -> bool {
        self.decode::<E>().is_some()
    }
}

/// The error of contract call (or log query) `what`: its revert, decoded (or the transport's error, when the
/// call did not revert).
pub fn call_err(what: &str) -> impl Fn(alloy::contract::Error) -> Error + '_ {
    move |e| Error::Reverted { call: what.to_string(), revert: Revert::of(&e) }
}

/// The error of RPC request `what` (one that asks no contract: a block, logs, a receipt).
pub fn rpc_err(what: &str) -> impl Fn(alloy::transports::TransportError) -> Error + '_ {
    move |source| Error::Rpc { call: what.to_string(), source }
}

/// Sends a contract call, waits for its receipt and fails (naming the custom error) if it reverted.
pub async fn send<P, D>(label: &str, call: CallBuilder<P, D, Ethereum>) -> Result<Sent>
where
    P: Provider<Ethereum> + Clone,
    D: CallDecoder + Clone,
{
    // Estimate, then leave headroom: a game move's gas depends on the block's timestamp (a clock slot rewritten
    // with the same value costs 100 gas, with a new one 2900), and the estimate may run a second earlier than
    // the block that mines it.
    // Estimated against the pending block: its timestamp is the node's clock, which is what the next block will
    // carry (the latest block may be minutes old on a quiet chain, and a move that waits on time, a finalize or
    // a timeout, would look premature against it).
    let estimate = call
        .clone()
        .block(alloy::eips::BlockId::pending())
        .estimate_gas()
        .await
        .map_err(|e| Error::Reverted { call: label.to_string(), revert: Revert::of(&e) })?;
    let call = call.gas(estimate + estimate / 5 + 20_000);
    let replay = call.clone();
    let pending = call.send().await.map_err(|e| Error::Reverted { call: label.to_string(), revert: Revert::of(&e) })?;
    // Poll for the receipt directly (rather than through the provider's block heartbeat, which can miss a
    // transaction mined before it starts watching), and give up with a named error instead of hanging.
    let hash = *pending.tx_hash();
    let provider = pending.provider().clone();
    let deadline = std::time::Instant::now() + RECEIPT_TIMEOUT;
    let receipt = loop {
        match provider.get_transaction_receipt(hash).await {
            Ok(Some(r)) => break r,
            Ok(None) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            Ok(None) => {
                return Err(Error::Chain(format!("{label}: transaction {hash} not mined after {RECEIPT_TIMEOUT:?}")))
            }
            Err(e) => return Err(rpc_err(&format!("{label}: receipt of {hash}"))(e)),
        }
    };
    if !receipt.status() {
        // Mined but reverted (it passed estimation, so the state or the gas differed): replay it on the state
        // it ran on to name the error.
        let call = format!("{label}: transaction {} reverted", receipt.transaction_hash);
        let revert = match receipt.block_number {
            Some(n) if n > 0 => match replay.gas(receipt.gas_used).block(n.saturating_sub(1).into()).call_raw().await {
                Err(e) => Revert::of(&e),
                Ok(_) => Revert {
                    data: None,
                    reason: format!("out of gas? it succeeds on replay; used {} gas", receipt.gas_used),
                },
            },
            _ => Revert { data: None, reason: "no block".into() },
        };
        return Err(Error::Reverted { call, revert });
    }
    tracing::debug!(label, gas = receipt.gas_used, "mined");
    Ok(Sent { label: label.to_string(), gas_used: receipt.gas_used, receipt })
}
