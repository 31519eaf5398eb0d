//! Cross-component tests against a real anvil chain: one binary, one module per concern.

mod adjudication;
mod agreement;
mod bad_input;
mod partition;
mod scenarios;
mod status;

use nao::chain::{self, Client, Deployment, LocalChain, ProtocolParams};

/// A fresh chain with the contracts deployed, and the deployer's client.
pub async fn deployed() -> (LocalChain, Client, Deployment) {
    let chain = LocalChain::start().expect("anvil starts (run scripts/install.sh)");
    let client = chain::connect(&chain.rpc_url(), chain.signer(0)).await.expect("connect");
    let d = chain::deploy(&client, ProtocolParams::default()).await.expect("deploy");
    (chain, client, d)
}

/// Registers `model` on `d` (with the profile bytes `b"profile"`): its id and commitment, for the one-level
/// `DisputeGame.adjudicate` view (a fixed graph: lengths (1, 1)).
pub async fn register(
    client: &Client,
    d: &Deployment,
    model: nao::model::Model,
) -> (alloy::primitives::B256, nao::model::ModelCommitment) {
    let (r, _) = nao::roles::RegisteredModel::register(client, d, model, b"profile", "", 0.0).await.expect("register");
    (r.id, (*r.commitment).clone())
}
