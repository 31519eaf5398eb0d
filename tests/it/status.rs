//! `nao status`'s view of a deployment after real disputes: every claim with its status, every game ended.

use nao::chain::{self, DeploymentFile, LocalChain};
use nao::simulate::{simulate_on, Scenario, SimulateOptions};

#[tokio::test(flavor = "multi_thread")]
async fn status_lists_claims_games_and_balances_after_disputes() {
    let chain = LocalChain::start().unwrap();
    let opts = SimulateOptions {
        scenarios: vec![
            Scenario::Honest,
            Scenario::CorruptedElement,
            Scenario::FalseChallenge,
            Scenario::EscalationGrinding,
        ],
        ..SimulateOptions::default()
    };
    let report = simulate_on(&chain, &opts).await.unwrap();
    assert!(report.passed());
    let file = DeploymentFile { chain_id: 31337, contracts: report.deployment, params: report.params };
    let watcher = chain::connect(&chain.rpc_url(), chain.signer(2)).await.unwrap();
    let st = chain::status(&watcher, &file, Some(watcher.address)).await.unwrap();
    assert_eq!(st.models.len(), 1);
    let statuses: Vec<&str> = st.claims.iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["Finalized", "Slashed", "Finalized", "Finalized"]);
    assert!(st.claims.iter().all(|c| c["open_games"] == 0));
    assert_eq!(st.games.len(), 4, "one game per dispute: two claims disputed once, the grinder's twice");
    assert!(st.games.iter().all(|g| g["phase"] == "Ended"), "{:?}", st.games);
    let outcomes: Vec<&str> = st.games.iter().map(|g| g["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["ChallengerWon", "ProverWon", "ProverWon", "ProverWon"], "outcomes by name");
    // the watcher withdrew what it won: nothing left in its credit
    assert_eq!(st.balances["claims_credit_wei"], "0");
    assert!(st.seats.is_empty(), "the watcher is not staked: {:?}", st.seats);
    // the honest validators, drawn for the grinder's votes, voted every seat they held (their daemons ran)
    let mut drawn = 0;
    for k in 0..nao::simulate::VALIDATORS {
        let v = chain.signer(3 + k).address();
        let st = chain::status(&watcher, &file, Some(v)).await.unwrap();
        drawn += st.seats.iter().map(|s| s.seats).sum::<u32>();
        assert!(st.seats.iter().all(|s| s.state == chain::SeatState::Revealed), "{v}: {:?}", st.seats);
    }
    assert!(drawn > 0, "no honest validator was drawn");
    // a daemon's seat watch warns of none of them, and looking again with no new block reads nothing and fails
    // not (it starts past the head once every seat is settled)
    let v = chain.signer(3).address();
    let mut watch = chain::SeatWatch::new(watcher.provider.clone(), file.contracts.committee, v);
    assert!(watch.check().await.unwrap().is_empty());
    assert!(watch.check().await.unwrap().is_empty());
}
