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

/// `spec` as `DisputeGame`'s calldata (the registry's struct, converted by its ABI encoding).
pub fn game_spec(spec: &nao::model::ModelSpec) -> nao_bindings::DisputeGame::ModelSpec {
    use alloy::sol_types::SolValue;
    let abi = nao::roles::abi_spec(spec).abi_encode();
    nao_bindings::DisputeGame::ModelSpec::abi_decode(&abi).expect("the same struct")
}
