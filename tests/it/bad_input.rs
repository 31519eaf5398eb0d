//! Bad input: clear errors, no state change.

use std::sync::Arc;

use alloy::primitives::{FixedBytes, U256};
use alloy::providers::ext::AnvilApi;
use nao::chain::{self, send, Client, Deployment, LocalChain};
use nao::model::{Model, MLP_TINY};
use nao::roles::{Finding, Prover, RegisteredModel, TraceServer, TraceStore, Watcher};
use nao::runtime;
use nao_bindings::ClaimManager;

use super::deployed;

/// A chain with a registered MLP, a prover serving its traces, and a watcher.
struct Parties {
    chain: LocalChain,
    owner: Client,
    d: Deployment,
    store: TraceStore,
    prover: Prover,
    watcher: Watcher,
    _server: TraceServer,
}

fn mlp() -> Model {
    MLP_TINY.generated()
}

async fn parties() -> Parties {
    let (chain, owner, d) = deployed().await;
    let (registered, _) = RegisteredModel::register(&owner, &d, mlp(), b"p", "u", 0.0).await.unwrap();
    let registered = Arc::new(registered);
    let store = TraceStore::default();
    let server = TraceServer::start(store.clone()).await.unwrap();
    let pc = chain::connect(&chain.rpc_url(), chain.signer(1)).await.unwrap();
    let prover = Prover::new(pc, &d, registered.clone(), store.clone(), server.url.clone()).unwrap();
    let wc = chain::connect(&chain.rpc_url(), chain.signer(2)).await.unwrap();
    let watcher = Watcher::new(wc, &d, registered);
    Parties { chain, owner, d, store, prover, watcher, _server: server }
}

#[tokio::test(flavor = "multi_thread")]
async fn late_challenges_second_finalizes_and_unknown_models_are_refused_by_name() {
    let Parties { chain, owner, d, prover, watcher, _server, .. } = parties().await;

    // A claim for an unknown model: the registry's error, named, and no bond taken.
    let pc = chain::connect(&chain.rpc_url(), chain.signer(1)).await.unwrap();
    let claims = ClaimManager::new(d.claims, pc.provider.clone());
    let inf = ClaimManager::Inference { traceRoot: FixedBytes([0; 32]), prompt: 1, steps: 1 };
    // the batch packed in Rust is the contract's own packing of it
    let two = [inf.clone(), ClaimManager::Inference { traceRoot: FixedBytes([9; 32]), prompt: 70_000, steps: 300 }];
    assert_eq!(claims.pack(two.to_vec()).call().await.unwrap(), chain::pack(&two));
    let bogus = claims.postClaim(FixedBytes([7; 32]), chain::pack(&[inf]), String::new());
    let err = send("post", bogus.value(U256::from(10u128.pow(18)))).await.unwrap_err();
    assert!(err.to_string().contains("UnknownModel"), "{err}");

    // An honest claim; its window passes; then a challenge comes too late.
    let posted = prover.post(&MLP_TINY.input(9), None).await.unwrap();
    let seen = watcher.claims_since(0).await.unwrap();
    let claim = seen.iter().find(|c| c.id == posted.id).unwrap();
    let trace = watcher.fetch_trace(claim).await.unwrap();
    // replayed bit for bit, every op is accepted whole; evaluated element by element, it is clean too
    assert_eq!(watcher.check(&trace), Finding::Clean { closest: None });
    let Finding::Clean { closest: Some(closest) } = watcher.check_every_element(&trace) else {
        panic!("honest claim flagged")
    };
    owner.provider.anvil_increase_time(3601).await.unwrap();
    owner.provider.anvil_mine(Some(1), None).await.unwrap();
    let err = watcher.challenge(claim, &trace, closest).await.unwrap_err();
    // the revert is decoded into the contract's custom error, with its arguments
    let closed = err.revert::<ClaimManager::ChallengeWindowClosed>().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(closed.claimId, posted.id);
    assert!(err.revert::<ClaimManager::ClaimExists>().is_none(), "{err}");
    // refused before any bond was committed
    assert_eq!(watcher.claims().contract().committed().call().await.unwrap(), U256::ZERO);
    assert_eq!(watcher.claims().credit().await.unwrap(), U256::ZERO);

    // Finalized once; the second time is refused and pays nothing more.
    prover.claims().finalize(posted.id).await.unwrap();
    let err = prover.claims().finalize(posted.id).await.unwrap_err();
    assert!(err.to_string().contains("ClaimNotPending"), "{err}");
    assert_eq!(prover.claims().credit().await.unwrap(), U256::from(10u128.pow(18)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_rpc_is_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let chain = LocalChain::start().unwrap();
    let err = chain::connect(&url, chain.signer(0)).await.unwrap_err();
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trace_that_does_not_match_its_claim_is_refused() {
    let Parties { chain: _chain, store, prover, watcher, _server, .. } = parties().await;
    let posted = prover.post(&MLP_TINY.input(1), None).await.unwrap();
    // the prover swaps the stored trace for another run's: served data no longer matches the claim
    let other = runtime::run(&mlp(), &MLP_TINY.input(2), None).unwrap();
    store.insert(posted.trace_root().0, other);
    let claim = watcher.claims_since(0).await.unwrap().into_iter().find(|c| c.id == posted.id).unwrap();
    let err = watcher.fetch_trace(&claim).await.unwrap_err();
    assert!(err.to_string().contains("the claim commits"), "{err}");
}
