//! Every scenario of `nao::simulate`, with outcomes, findings and balances.

use nao::attack::Attack;
use nao::simulate::{simulate, Outcome, Scenario, SimulateOptions, QWEN_ATTACKS};

/// Where each cheat must end: proven on-chain by the contract's exact check (weights, precision, embeddings,
/// one weight), or by the committee's vote (graph rewrites of ops without an on-chain check), or (bound-aware)
/// inside every region and finalized without flipping anything.
fn must_end(a: Attack) -> (Outcome, &'static str) {
    match a {
        Attack::ModelSwap
        | Attack::Int8Weights
        | Attack::Int4Weights
        | Attack::Fp16Activations
        | Attack::Bf16Activations
        | Attack::EmbeddingAltered
        | Attack::SingleWeight
        // a LayerNorm or GELU element outside its region: the Adjudicator decides it
        | Attack::NormDropped
        | Attack::EpsilonChanged
        | Attack::LayerSkipped
        | Attack::GeluApproximated => (Outcome::ProverSlashed, "on-chain sound bound"),
        Attack::BoundAware => (Outcome::Finalized, "none"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_scenario_ends_as_expected_and_bonds_move_to_the_winner() {
    // the default cache ($NAO_CACHE or ~/.cache/nao), shared with the model tests: real weights download once
    let opts = SimulateOptions::default();
    let report = simulate(&opts).await.expect("simulation runs");
    let by = |n: &str| report.scenarios.iter().find(|s| s.name == n).unwrap_or_else(|| panic!("scenario {n}"));

    let honest = by("honest");
    assert_eq!(honest.outcome, Outcome::Finalized);
    assert_eq!((honest.prover_delta_wei.as_str(), honest.watcher_delta_wei.as_str()), ("0", "0"));
    assert_eq!(
        honest.tx_gas.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(),
        ["register", "post", "finalize", "withdraw"]
    );

    let corrupted = by("corrupted-element");
    assert_eq!(corrupted.outcome, Outcome::ProverSlashed);
    assert_eq!(corrupted.prover_delta_wei, "-1000000000000000000", "prover loses its 1 ETH bond");
    assert_eq!(corrupted.watcher_delta_wei, "500000000000000000", "watcher wins half of it, the rest is burned");
    assert_eq!(
        corrupted.tx_gas.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(),
        ["post", "commitChallenge", "pointSegment", "postFine", "openElement", "payReward", "withdraw"],
        "the partition game: commitment, segment, fine root, element; the reward after the grace"
    );
    let bisected = by("corrupted-bisection");
    assert_eq!(bisected.outcome, Outcome::ProverSlashed);
    assert!(bisected.tx_gas.iter().any(|t| t.label == "reveal") && bisected.tx_gas.iter().any(|t| t.label == "pick"));
    let silent = by("silent-prover");
    assert_eq!(silent.outcome, Outcome::ProverSlashed, "the prover's clock ran out");
    assert!(silent.tx_gas.iter().any(|t| t.label == "timeout"));
    assert_eq!(silent.watcher_delta_wei, "500000000000000000");
    let openai = by("openai-embedding");
    assert_eq!(openai.outcome, Outcome::Finalized, "an OpenAI request's claim finalizes: {}", openai.answer);
    assert_eq!(openai.prover_delta_wei, "0", "the prover's bond came back");
    assert!(openai.answer.contains("\"finalized\""), "the answer's status URL says so: {}", openai.answer);
    let minilm = by("minilm-corrupted");
    assert_eq!(minilm.outcome, Outcome::ProverSlashed, "a real transformer layer disputed through its fine trace");
    assert!(minilm.tx_gas.iter().any(|t| t.label == "postFine"));
    // #20: a fraud in one inference of a batch slashes the whole claim (one bond); so does one in an inference of
    // another prompt length than the registration's operating point, its game opening nodes of that length's graph
    let (batch, lengths) = (by("corrupted-in-batch"), by("minilm-lengths"));
    for s in [batch, lengths] {
        assert_eq!(s.outcome, Outcome::ProverSlashed, "{}", s.name);
        assert_eq!(
            (s.prover_delta_wei.as_str(), s.watcher_delta_wei.as_str()),
            ("-1000000000000000000", "500000000000000000")
        );
    }
    let tokens = &lengths.details.as_ref().expect("minilm-lengths figures")["prompt_tokens"];
    let tokens: Vec<u64> = tokens.as_array().unwrap().iter().map(|t| t.as_u64().unwrap()).collect();
    assert!(tokens.len() == 3 && tokens[0] < tokens[1] && tokens[1] < tokens[2], "three lengths: {tokens:?}");
    // the dispute itself: every transaction but the claim's post and the final withdraw
    for s in [corrupted, bisected, silent, minilm, batch, lengths] {
        let dispute = s.tx_gas.iter().filter(|t| !["post", "withdraw"].contains(&t.label.as_str())).count();
        assert!(s.gas_used < 3_000_000 && dispute <= 8, "{}: {} gas in {dispute} transactions", s.name, s.gas_used);
    }

    // #17: a prover challenging its own false claim from a second account loses half its bond (burned), the
    // honest watcher who had committed gets its bond back; a bot copying the watcher's decisive move earns
    // nothing, the watcher the reward
    let own = by("self-challenge");
    assert_eq!(own.outcome, Outcome::ProverSlashed);
    assert_eq!(own.prover_delta_wei, "-500000000000000000", "the prover and its sybil together: {}", own.answer);
    assert_eq!(own.watcher_delta_wei, "0");
    assert!(own.tx_gas.iter().any(|t| t.label == "refundCommitment"), "{:?}", own.tx_gas);
    let copy = by("copycat");
    assert_eq!(copy.outcome, Outcome::ProverSlashed);
    assert_eq!(copy.prover_delta_wei, "-1000000000000000000");
    assert_eq!(copy.watcher_delta_wei, "500000000000000000", "the earlier commitment takes the reward");
    assert_eq!(copy.details.as_ref().unwrap()["rival_delta_wei"], "0", "{}", copy.answer);
    assert_eq!(copy.tx_gas.iter().filter(|t| t.label == "openElement").count(), 2);

    // a withholding prover is slashed through a small on-chain data request, never a blind fraud challenge
    let withheld = by("withheld-fine-trace");
    assert_eq!(withheld.outcome, Outcome::ProverSlashed);
    assert_eq!(withheld.prover_delta_wei, "-1000000000000000000");
    assert_eq!(withheld.watcher_delta_wei, "500000000000000000", "the data bond back and the reward");
    assert_eq!(
        withheld.tx_gas.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(),
        ["post", "requestData", "expireData", "payReward", "withdraw"]
    );

    // griefing an honest prover: each try reverts by name, the vote is the griefer's only way on, and the
    // honest majority decides it; the griefer pays a challenge bond per game, the prover is paid it
    let long = by("long-row-request");
    assert_eq!(long.outcome, Outcome::ChallengerSlashed, "{}", long.answer);
    assert_eq!(
        (long.prover_delta_wei.as_str(), long.watcher_delta_wei.as_str()),
        ("100000000000000000", "-100000000000000000")
    );
    let d = long.details.as_ref().expect("long-row-request figures");
    assert!(d["refused"].as_str().unwrap().contains("ElementTooCostly"), "{d}");
    assert!(long.tx_gas.iter().any(|t| t.label == "escalateUnopenable"), "{:?}", long.tx_gas);
    let grind = by("escalation-grinding");
    assert_eq!(grind.outcome, Outcome::ChallengerSlashed, "{}", grind.answer);
    assert_eq!(
        (grind.prover_delta_wei.as_str(), grind.watcher_delta_wei.as_str()),
        ("200000000000000000", "-200000000000000000")
    );
    let d = grind.details.as_ref().expect("escalation-grinding figures");
    assert!(d["refused"].as_str().unwrap().contains("ExactlyDecided"), "{d}");
    // the griefer's validator, if drawn, voted against the majority and lost its penalty per seat
    let v = &d["griefer_validator"];
    let lost: u128 = v["stake_lost_wei"].as_str().unwrap().parse().unwrap();
    assert_eq!(lost, v["seats"].as_u64().unwrap() as u128 * 500_000_000_000_000_000, "{v}");

    let false_challenge = by("false-challenge");
    assert_eq!(false_challenge.outcome, Outcome::ChallengerSlashed);
    assert_eq!(false_challenge.prover_delta_wei, "100000000000000000", "prover wins the 0.1 ETH challenge bond");
    assert_eq!(false_challenge.watcher_delta_wei, "-100000000000000000");

    for real in ["minilm-honest", "smollm2-honest"] {
        let s = by(real);
        assert_eq!(s.outcome, Outcome::Finalized, "{real}");
        assert_eq!(
            s.tx_gas.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(),
            ["register", "post", "finalize", "withdraw"]
        );
    }
    let smollm2 = &by("smollm2-honest").answer;
    assert!(smollm2.contains("Paris") && smollm2.contains("the turn ended"), "{smollm2}");
    // a Llama 3.1-style model whose prover ignores the rope scaling it registered: the contract's scaled-rope
    // check, reading the committed frequency factor, proves the rotation wrong
    let unscaled = by("llama31-rope-unscaled");
    assert_eq!(unscaled.outcome, Outcome::ProverSlashed, "{}", unscaled.finding);
    assert_eq!(unscaled.level, "on-chain sound bound (rope)", "{}", unscaled.finding);
    assert_eq!(
        (unscaled.prover_delta_wei.as_str(), unscaled.watcher_delta_wei.as_str()),
        ("-1000000000000000000", "500000000000000000")
    );
    // Qwen2.5 (#21): honest, it answers and finalizes
    let qwen = by("qwen-honest");
    assert_eq!((qwen.outcome, qwen.finding.as_str()), (Outcome::Finalized, "clean"));
    assert!(qwen.answer.contains("Paris"), "{}", qwen.answer);
    // one element of each language model's widest dot product moved (SmolLM2's 1536-term down projection in two
    // blocks of 768, Qwen's 4864-term one in four of 1216): the prover loses its bond and the contract's exact
    // check, within 1.5M gas, decided it
    for (name, terms) in [("smollm2-corrupted", 768), ("qwen-corrupted", 1216)] {
        let fraud = by(name);
        assert_eq!(fraud.outcome, Outcome::ProverSlashed, "{name}: {}", fraud.finding);
        assert_eq!(
            (fraud.prover_delta_wei.as_str(), fraud.watcher_delta_wei.as_str()),
            ("-1000000000000000000", "500000000000000000"),
            "{name}"
        );
        let open = fraud.tx_gas.iter().find(|t| t.label == "openElement").expect("decided by an element opening");
        assert!(open.gas <= 1_500_000, "{name}: a {terms}-term element opened for {} gas", open.gas);
    }
    // the cheats that apply to a decoder, each played on Qwen's claim: proven by the contract's exact check
    for a in QWEN_ATTACKS {
        let s = by(Scenario::QwenAttack(a).name());
        assert_eq!(s.outcome, Outcome::ProverSlashed, "{}: {} ({})", s.name, s.outcome, s.finding);
        assert!(s.detected && s.level.starts_with("on-chain sound bound"), "{}: caught at {}", s.name, s.level);
        assert_eq!(
            (s.prover_delta_wei.as_str(), s.watcher_delta_wei.as_str()),
            ("-1000000000000000000", "500000000000000000"),
            "{}",
            s.name
        );
        assert!(s.tx_gas.iter().all(|t| t.gas <= 1_500_000) && s.gas_used < 3_000_000, "{}: {:?}", s.name, s.tx_gas);
    }
    // the non-composability attack: it works against per-layer tolerances (the steered claim finalizes); the
    // point region of the trigger gets the prover slashed on-chain; the audit refuses the network at registration
    let undefended = by("steering-undefended");
    assert_eq!(undefended.outcome, Outcome::Finalized);
    assert!(undefended.answer.contains("output moved by"), "{}", undefended.answer);
    assert_eq!(undefended.finding, "clean");
    let point = by("steering-point");
    assert_eq!(point.outcome, Outcome::ProverSlashed);
    assert!(point.finding.starts_with("outside its sound region: op 3"), "{}", point.finding);
    assert_eq!(point.prover_delta_wei, "-1000000000000000000");
    assert_eq!(by("steering").outcome, Outcome::Refused);
    // #18: triggers parked below a ReLU kink (by constants, or by the input) or in GELU's flat tail pass every
    // element check and the first-order audit; the output vote slashes each: one vote, drawn once, three
    // ballots, the prover's bond to the watcher (half burned)
    for (name, admission) in [
        ("steering-kink", "output_vote"),
        ("steering-kink-input", "sound"),
        ("steering-gelu-flat", "output_vote"),
        ("steering-silu-flat", "output_vote"),
        ("steering-minilm-kink", "output_vote"),
    ] {
        let k = by(name);
        assert_eq!(k.outcome, Outcome::ProverSlashed, "{name}: {}", k.answer);
        assert!(k.finding.starts_with("every element inside its region, output"), "{name}: {}", k.finding);
        assert_eq!(k.level, "committee vote (output)", "{name}");
        assert_eq!(
            (k.prover_delta_wei.as_str(), k.watcher_delta_wei.as_str()),
            ("-1000000000000000000", "500000000000000000")
        );
        let labels: Vec<&str> = k.tx_gas.iter().map(|t| t.label.as_str()).collect();
        let count = |l: &str| labels.iter().filter(|x| **x == l).count();
        // seats are drawn with replacement: a member drawn twice commits once
        assert_eq!((count("escalateOutput"), count("draw"), count("resolve")), (1, 1, 1), "{name}: {labels:?}");
        assert!((1..=3).contains(&count("commit")) && count("commit") == count("reveal"), "{name}: {labels:?}");
        let d = k.details.as_ref().expect("steering figures");
        assert_eq!(d["admission"], admission, "{name}: {d}");
        // first order (calibrated) the trigger costs nothing: the base model's own budget, within the declared
        // tolerance; the output moved by over a thousand
        assert!(d["first_order"].as_f64().unwrap() < 1e-2 && d["moved"].as_f64().unwrap() > 1e3, "{name}: {d}");
        if admission == "output_vote" {
            assert!(d["all_orders"].as_f64().unwrap() > 1e3, "the all-orders audit prices the trigger: {d}");
        }
    }
    for honest in ["honest", "minilm-honest", "smollm2-honest", "qwen-honest"] {
        assert_eq!(by(honest).finding, "clean", "{honest}: the calibrated thresholds flag no honest element");
    }
    // the adversarial suite (#7): every tamper is caught; weight and precision cheats are proven on-chain by the
    // contract's sound-bound check, graph rewrites of op kinds without on-chain adjudication yet are caught by
    // the watcher's check; the bound-aware push flips nothing
    for a in Attack::ALL {
        let s = by(a.name());
        let (outcome, level) = must_end(a);
        assert_eq!(s.outcome, outcome, "{}: {} ({})", s.name, s.outcome, s.finding);
        assert!(s.level.starts_with(level), "{}: caught at {}", s.name, s.level);
        if a == Attack::BoundAware {
            assert!(!s.detected && s.answer.starts_with("argmax flipped in 0/100"), "{}", s.answer);
            let d = s.details.as_ref().expect("bound-aware figures");
            assert_eq!((d["flipped_defended"].as_u64(), d["flagged"].as_u64()), (Some(0), Some(0)), "{d}");
        } else {
            assert!(s.detected, "{}: not detected", s.name);
        }
        if s.outcome == Outcome::ProverSlashed {
            assert_eq!(s.prover_delta_wei, "-1000000000000000000", "{}", s.name);
            assert_eq!(s.watcher_delta_wei, "500000000000000000", "{}", s.name);
            // the two sides' transactions (a vote adds one commit and one reveal per member and a resolve)
            let labels: Vec<&str> = s.tx_gas.iter().map(|t| t.label.as_str()).collect();
            let sides = labels.iter().filter(|l| !["commit", "reveal", "resolve"].contains(l)).count();
            assert!(s.gas_used < 3_000_000 && sides <= 8, "{}: {} gas, transactions {labels:?}", s.name, s.gas_used);
            if level == "committee vote" {
                let count = |l: &str| labels.iter().filter(|x| **x == l).count();
                // drawn once, by a validator, from a block sealed after the escalation
                assert!(labels.contains(&"escalate") && count("draw") == 1, "{labels:?}");
                assert_eq!((count("commit"), count("reveal"), count("resolve")), (3, 3, 1), "{labels:?}");
            }
        }
    }
    let sw = by("single-weight").details.clone().expect("single-weight figures");
    let (flagged, proven, rms) =
        (sw["flagged"].as_f64().unwrap(), sw["proven"].as_f64().unwrap(), sw["tensor_rms"].as_f64().unwrap());
    assert!(0.0 < flagged && flagged <= proven && proven < 1e-3 * rms, "{sw}");
    assert!(report.passed());
    // the benchmark report's dispute figures, read off these receipts
    let segments = nao::model::MLP_TINY.generated().graph.segment_ranges().len();
    let p = nao::bench::ProtocolFigures::default().with_disputes(&report, segments);
    let (gas, txs) = (p.dispute_gas_total.value.expect("minilm-corrupted"), p.dispute_txs.value.expect("txs"));
    assert!(gas > 500_000 && gas <= 3_000_000 && txs <= 8, "MiniLM dispute: {gas} gas in {txs} tx");
    let adj = p.adjudication_gas.value.expect("openElement receipts");
    assert!(adj.len() >= 4, "{adj:?}");
    assert!(adj.iter().all(|a| a.gas > 100_000 && a.gas <= 1_500_000), "{adj:?}");
    let r = &p.rounds.value.expect("pointing and bisection")[0];
    assert_eq!((r.segments, r.direct), (segments, 1));
    assert!(r.k_ary >= 1, "{r:?}");
    let json = serde_json::to_value(&report).unwrap();
    for s in json["scenarios"].as_array().unwrap() {
        for key in ["name", "expected", "outcome", "gas_used", "txs"] {
            assert!(s.get(key).is_some(), "report field {key}");
        }
    }
}
