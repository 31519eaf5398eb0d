//! Sending transactions and reading why one reverted.

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::Ethereum;
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolInterface;
use nao_bindings::{ClaimManager, DisputeGame, ModelRegistry};

use crate::{Error, Result};

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
    if let Some(data) = err.as_revert_data() {
        for decoded in [
            DisputeGame::DisputeGameErrors::abi_decode(&data).ok().map(|e| format!("{e:?}")),
            ClaimManager::ClaimManagerErrors::abi_decode(&data).ok().map(|e| format!("{e:?}")),
        ]
        .into_iter()
        .flatten()
        {
            return decoded;
        }
    }
    err.to_string()
}

/// Sends a contract call, waits for its receipt and fails (naming the custom error) if it reverted.
pub async fn send<P, D>(label: &str, call: CallBuilder<P, D, Ethereum>) -> Result<Sent>
where
    P: Provider<Ethereum>,
    D: CallDecoder,
{
    let pending = call.send().await.map_err(|e| Error::Chain(format!("{label}: {}", revert_reason(&e))))?;
    let receipt = pending
        .get_receipt()
        .await
        .map_err(|e| Error::Chain(format!("{label}: no receipt: {e}")))?;
    if !receipt.status() {
        return Err(Error::Chain(format!("{label}: transaction {} reverted", receipt.transaction_hash)));
    }
    tracing::debug!(label, gas = receipt.gas_used, "mined");
    Ok(Sent { label: label.to_string(), gas_used: receipt.gas_used, receipt })
}
