//! What each scenario plays: the model it registers (or reuses) and the run it posts, disputes and reports.

use super::*;

/// MiniLM, honest or with one matmul element of its second segment moved.
pub(super) async fn minilm_game(
    world: &World,
    minilm: &mut Option<Parties>,
    opts: &SimulateOptions,
    s: &Scenario,
) -> Result<ScenarioReport> {
    let (input, mut parties) = world.minilm(&opts.cache_dir, minilm.take()).await?;
    // the first adjudicable matmul of the second segment (layers 3 to 5); the same node at every length
    let graph = &parties.prover_model().graph;
    let seg = graph.segment_ranges()[1].clone();
    let target = seg
        .clone()
        .find(|i| graph.descriptor(*i).is_some_and(|d| d.kind == crate::graph::OpKind::MatMul))
        .ok_or_else(|| Error::Chain("MiniLM: no adjudicable matmul in segment 1".into()))?;
    let mut moved = |op: usize, t: &mut HostTensor| {
        if op == target {
            t.data[5] += 1.0;
        }
    };
    let mut lengths = Vec::new();
    let played = match s {
        Scenario::MiniLmCorrupted => play_with(world, &parties, *s, input, Some(&mut moved)).await,
        Scenario::MiniLmLengths => {
            let bert = Bert::minilm(&opts.cache_dir)?;
            let inputs = MINILM_LENGTHS.iter().map(|t| bert.encode(t)).collect::<std::result::Result<Vec<_>, _>>()?;
            lengths = inputs.iter().map(|x| x.data.len()).collect();
            play_posting(world, &parties, *s, Posting::Batch(inputs, 1, &mut moved)).await
        }
        _ => play(world, &parties, *s, input).await,
    };
    parties.register = None; // counted once, in the first MiniLM scenario
    *minilm = Some(parties);
    let (mut report, out) = played?;
    report.answer = match lengths.as_slice() {
        [] => format!("embedding[..4] = {:?}", &out.data[..4]),
        l => format!("one batch of prompts of {l:?} tokens, the second corrupted"),
    };
    if !lengths.is_empty() {
        report.details = Some(serde_json::json!({ "prompt_tokens": lengths, "corrupted": 1 }));
    }
    Ok(report)
}

/// The bound-aware search on the MLP: how many argmax flips the defense lets through.
pub(super) async fn bound_aware(
    world: &World,
    mlp: &mut Option<Parties>,
    opts: &SimulateOptions,
    s: &Scenario,
) -> Result<ScenarioReport> {
    let mut parties = world.mlp(&opts.cache_dir, mlp.take()).await?;
    let model = parties.prover_model().clone();
    let profile = Profile::parse(MLP_TINY_PROFILE)?;
    let inputs: Vec<HostTensor> = (0..BOUND_AWARE_INPUTS).map(|k| MLP_TINY.input(2000 + k)).collect();
    let found = search::bound_aware(&model, &profile, &inputs);
    let pushed = search::push_to_flip(&model, &Regions::Defended(Box::new(profile)), &inputs[0]);
    let played = match (&found, pushed) {
        (Ok(_), Ok((trace, _))) => play_posting(world, &parties, *s, Posting::Trace(trace)).await,
        (Err(e), _) => Err(Error::Config(format!("bound-aware: {e}"))),
        (_, Err(e)) => Err(e.into()),
    };
    parties.register = None;
    *mlp = Some(parties);
    let (mut report, _) = played?;
    let r = found?;
    report.answer = format!(
        "argmax flipped in {}/{} inputs with the defense ({}/{} against per-layer tolerances); median \
     top-2 gap closed {:.1e} (undefended {:.1e})",
        r.flipped_defended,
        r.inputs,
        r.flipped_undefended,
        r.inputs,
        r.median_closed_defended,
        r.median_closed_undefended
    );
    if r.flipped_defended > 0 || r.flagged > 0 {
        report.outcome = Outcome::Unresolved; // the defense failed
    }
    report.details = serde_json::to_value(&r).ok();
    Ok(report)
}

/// A cheat of the adversarial suite on MiniLM, played against the real protocol.
pub(super) async fn attack(
    world: &World,
    minilm: &mut Option<Parties>,
    opts: &SimulateOptions,
    s: &Scenario,
    a: &Attack,
) -> Result<ScenarioReport> {
    let (input, mut parties) = world.minilm(&opts.cache_dir, minilm.take()).await?;
    let model = parties.prover_model().clone();
    let cheated = (|| -> Result<_> {
        let honest = crate::runtime::run(&model, &input, None)?;
        let (mut cheat, details) = match a {
            Attack::SingleWeight => {
                let found = search::single_weight(&model, &Profile::parse(MINILM_PROFILE)?, &honest)?;
                let changed = (found.original as f64 + found.proven) as f32;
                let cheat = Cheat::weights(&model, |i, w| {
                    if i == found.weight {
                        w.data[found.element] = changed;
                    }
                })?;
                (cheat, serde_json::to_value(&found).ok())
            }
            _ => (a.cheat(&model, &input)?, None),
        };
        Ok((honest, cheat.run(&input)?, details))
    })();
    let played = match cheated {
        Ok((honest, trace, details)) => play_posting(world, &parties, *s, Posting::Trace(trace))
            .await
            .map(|(report, out)| (report, out, honest, details)),
        Err(e) => Err(e),
    };
    parties.register = None;
    *minilm = Some(parties);
    let (mut report, out, honest, details) = played?;
    let moved = out.data.iter().zip(&honest.output().data).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    report.answer =
        match &details {
            Some(d) => format!(
        "weight {}[{}] moved by {:.3e} (threshold flags {:.3e}; tensor RMS {:.3e}); output moved by {moved:.2e}",
        d["weight"], d["element"], d["proven"].as_f64().unwrap_or(f64::NAN),
        d["flagged"].as_f64().unwrap_or(f64::NAN), d["tensor_rms"].as_f64().unwrap_or(f64::NAN)
    ),
            None => format!("output moved by {moved:.2e} (largest |Δ| of the embedding)"),
        };
    report.details = details;
    Ok(report)
}

/// A language model of the simulation answers "What is the capital of France?" ([`LM_PROMPT`]): honestly,
/// with one element of its widest dot product moved (the prefill's first down projection's first column block:
/// SmolLM2's 768 terms of 1536, Qwen2.5-Coder's 1216 of 4864), or through a cheat of [`super::QWEN_ATTACKS`]
/// (the whole generation run cheated). Each model is registered once for all its scenarios, without the token
/// audit (`nao register` runs it) to keep the run short; generation ends at the end of the turn, and the claim is
/// of the steps it took.
pub(super) async fn language_model(
    world: &World,
    registered: &mut Option<(Arc<Llama>, Parties)>,
    lm: Lm,
    opts: &SimulateOptions,
    s: &Scenario,
) -> Result<ScenarioReport> {
    let (llama, mut parties) = match registered.take() {
        Some(r) => r,
        None => {
            let (mut llama, profile) = match lm {
                Lm::Smollm2 => (Llama::smollm2(&opts.cache_dir)?, SMOLLM2_PROFILE),
                Lm::Qwen => (Llama::qwen25_coder(&opts.cache_dir)?, QWEN25_CODER_PROFILE),
            };
            llama.name = lm.name().into();
            let llama = Arc::new(llama);
            let prompt_len = llama.encode(&llama.chat_prompt(LM_PROMPT))?.data.len();
            let model = llama.model(prompt_len, lm.new_tokens())?;
            let mut parties = world.parties(model, profile, &format!("nao:{}", lm.name()), None).await?;
            parties.prover = parties.prover.with_stop(llama.config.eos_token_ids.clone());
            (llama, parties)
        }
    };
    let input = llama.encode(&llama.chat_prompt(LM_PROMPT))?;
    let model = parties.prover_model();
    let down = model.weight_names.iter().position(|n| n.starts_with("model.layers.0.mlp.down_proj.weight"));
    let target = down
        .and_then(|w| {
            model.graph.nodes.iter().position(|n| n.inputs.get(1) == Some(&crate::graph::Src::Weight(w as u32)))
        })
        .ok_or_else(|| Error::Chain(format!("{}: no down projection", lm.name())))?;
    let mut moved = |op: usize, t: &mut HostTensor| {
        if op == target {
            t.data[5] += 1.0;
        }
    };
    let played = match s {
        Scenario::SmolLm2Corrupted | Scenario::QwenCorrupted => {
            play_with(world, &parties, *s, input, Some(&mut moved)).await
        }
        Scenario::QwenAttack(a) => match a.cheat(model, &input).and_then(|mut c| c.run(&input)) {
            Ok(trace) => play_posting(world, &parties, *s, Posting::Trace(trace)).await,
            Err(e) => Err(e.into()),
        },
        _ => play(world, &parties, *s, input).await,
    };
    parties.register = None; // counted once, in the model's first scenario
    *registered = Some((llama.clone(), parties));
    let (mut report, out) = played?;
    let (steps, most) = (out.data.len(), lm.new_tokens());
    // a cheat's tokens may not decode (half-precision activations round the ids)
    let text = llama.decode(&out.data).unwrap_or_else(|e| format!("<{e}>"));
    let ended = if steps < most { ": the turn ended" } else { "" };
    report.answer = format!("{text} ({steps} of {most} tokens{ended})");
    tracing::info!(model = lm.name(), answer = %report.answer, "answered");
    Ok(report)
}

/// SmolLM2's weights under Llama 3's rope scaling (factor 8, band 1-4, original context 64: most pairs slowed at a
/// short prompt's positions), registered with its factors and SmolLM2's thresholds; the prover posts the run of
/// the same weights with plain rope.
pub(super) async fn scaled_rope_ignored(world: &World, opts: &SimulateOptions, s: &Scenario) -> Result<ScenarioReport> {
    use crate::model::llama::Llama3Scaling;
    let plain = Llama::smollm2(&opts.cache_dir)?;
    let scaling = Llama3Scaling {
        factor: 8.0,
        low_freq_factor: 1.0,
        high_freq_factor: 4.0,
        original_max_position_embeddings: 64,
    };
    let mut scaled = plain.with_rope_scaling(scaling)?;
    scaled.name = "smollm2-llama3-rope".into();
    let input = scaled.encode(&scaled.chat_prompt(LM_PROMPT))?;
    let model = scaled.model(input.data.len(), 1)?;
    // SmolLM2's calibrated thresholds (the same op kinds) over the scaled model's weights
    let mut profile = Profile::parse(SMOLLM2_PROFILE)?;
    profile.model = scaled.name.clone();
    profile.weights_root = hex::encode(Model::weights_tree(&model.weight_commitments()).root());
    let profile = serde_json::to_vec_pretty(&profile).map_err(|e| Error::Chain(format!("profile: {e}")))?;
    let parties = world.parties(model, &profile, "nao:smollm2-llama3-rope", None).await?;
    let unscaled = crate::runtime::run(&plain.model(input.data.len(), 1)?, &input, None)?;
    let (mut report, out) = play_posting(world, &parties, *s, Posting::Trace(unscaled)).await?;
    report.answer = format!("{} (rope without the scaling)", scaled.decode(&out.data).unwrap_or_default());
    Ok(report)
}

/// The MLP's steering twin with a trigger at a point region: undefended (per-layer tolerances) or defended.
pub(super) async fn steering_baseline(
    world: &World,
    steering_parties: &mut Option<Parties>,
    s: &Scenario,
    i: usize,
) -> Result<ScenarioReport> {
    let steering = steering_mlp(&MLP_TINY, STEERING_AMPLIFIER, 3)?;
    // the first input (from seed 1000 + 100 i on) whose trigger unit is active in some row: a row where the
    // unit is off leaves the attacker nothing to inject
    let (input, honest, injected) = (1000 + 100 * i as u64..)
        .map(|seed| -> Result<_> {
            let input = MLP_TINY.input(seed);
            let honest = crate::runtime::run(&steering.model, &input, None)?;
            let injected = steering.trigger_injection(&honest);
            Ok((input, honest, injected))
        })
        .find(|r| r.as_ref().map_or(true, |(_, _, inj)| inj.iter().any(|e| *e != 0.0)))
        .expect("an unbounded search")?;
    // registered once (a model id is its content), shared by both steering scenarios
    let mut parties = match steering_parties.take() {
        Some(p) => p,
        // registered without the audit: the attack the audit exists for
        None => world.parties(steering.model.clone(), MLP_STEERING_PROFILE, "nao:mlp-steering", None).await?,
    };
    if *s == Scenario::SteeringUndefended {
        // the undefended baseline: per-layer tolerances, no point regions, no thresholds
        parties.watcher.set_checking(Checking::PerLayer);
    } else {
        parties.watcher.use_profile(MLP_STEERING_PROFILE)?;
    }
    let played = play_with(world, &parties, *s, input, Some(&mut steering.injector(injected))).await;
    parties.register = None;
    *steering_parties = Some(parties);
    let (mut report, out) = played?;
    let moved = out.data.iter().zip(&honest.output().data).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    report.answer = format!("output moved by {moved:.3} with every element inside its per-layer tolerance");
    Ok(report)
}

/// The steering twin offered for registration through the composition audit: refused.
pub(super) async fn steering_refused(world: &World, s: &Scenario, i: usize) -> Result<ScenarioReport> {
    let steering = steering_mlp(&MLP_TINY, STEERING_AMPLIFIER, 3)?;
    let input = MLP_TINY.input(1000 + i as u64);
    let original = MLP_TINY.generated();
    let base =
        composition::audit(&original, &crate::runtime::run(&original, &input, None)?, STEERING_DECLARED_TOLERANCE)?;
    // registration through the audit: refused before any transaction
    let audited = world
        .parties(
            steering.model.clone(),
            MLP_STEERING_PROFILE,
            "nao:mlp-steering-audited",
            Some((&input, STEERING_DECLARED_TOLERANCE)),
        )
        .await;
    let (outcome, why) = match audited {
        Err(e @ Error::Numerics(crate::NumericsError::Refused { .. })) => (Outcome::Refused, e.to_string()),
        Err(e) => return Err(e),
        Ok(_) => (Outcome::Unresolved, "registered".into()),
    };
    Ok(ScenarioReport {
        name: s.name().into(),
        expected: s.expected(),
        outcome,
        gas_used: 0,
        txs: 0,
        tx_gas: Vec::new(),
        prover_delta_wei: "0".into(),
        watcher_delta_wei: "0".into(),
        answer: format!("{why} (the original MLP: {:.2e})", base.budget),
        finding: "not registered".into(),
        level: level(&steering.model.graph, &Finding::Clean { closest: None }, outcome, false),
        detected: outcome == Outcome::Refused,
        details: None,
    })
}

/// A kink-parked steering twin (of the MLP or on MiniLM) caught by the output vote.
pub(super) async fn kink(world: &World, opts: &SimulateOptions, s: &Scenario, i: usize) -> Result<ScenarioReport> {
    // the attacker registers its network with calibrated per-kind limits of its family, audited at
    // the operating point it chooses (for the input-dependent trigger: one that leaves it far closed)
    let (steering, profile, at, input, declared) = match s {
        Scenario::Kink(parking) => {
            let steering = kink_parked(&MLP_TINY, *parking, 3)?;
            let profile = steering.borrowed_profile(&[MLP_STEERING_PROFILE, MINILM_PROFILE, SMOLLM2_PROFILE])?;
            let at = parked_input(*parking, &MLP_TINY.input(1000), false);
            let input = parked_input(*parking, &MLP_TINY.input(1000 + i as u64), true);
            (steering, profile, at, input, STEERING_DECLARED_TOLERANCE)
        }
        _ => {
            let bert = Bert::minilm(&opts.cache_dir)?;
            let input = bert.encode(MINILM_SENTENCE)?;
            let base = bert.model(input.data.len())?;
            let steering = kink_branch(&base, base.graph.nodes.len(), Parking::Constant, 7, "minilm-kink")?;
            let profile = steering.borrowed_profile(&[MINILM_PROFILE])?;
            (steering, profile, input.clone(), input, MINILM_DECLARED_TOLERANCE)
        }
    };
    let uri = format!("nao:{}", steering.model.name);
    let parties = world.parties(steering.model.clone(), &profile, &uri, Some((&at, declared))).await?;
    // the claim: the attacker's input, the largest trigger the watcher's own judgement accepts
    let honest = crate::runtime::run(&steering.model, &input, None)?;
    let injected = steering.accepted_injection(&honest, Some(&Profile::parse(&profile)?));
    let (mut report, out) = play_with(world, &parties, *s, input, Some(&mut steering.injector(injected))).await?;
    let moved = crate::region::output::worst(honest.output(), &out).map_or(f64::INFINITY, |w| w.1);
    let a = parties.admitted.as_ref().expect("audited");
    let (sound, calibrated) = a.values().expect("the steering networks output values");
    report.answer = format!(
        "admitted {:?} (audit: first order {:.2e}, all orders {:.2e}; declared {declared:.0e}); output \
     moved by {moved:.1} with every element inside its acceptance region",
        a.admission, sound.first_order, sound.budget
    );
    report.details = Some(serde_json::json!({
        "admission": a.admission,
        "first_order": calibrated.first_order,
        "all_orders": sound.budget,
        "moved": moved,
    }));
    Ok(report)
}

/// A griefer disputes an honest MiniLM claim whose element no transaction can carry. The prompt is longer than
/// the other MiniLM scenarios' sentence: the same registration serves it.
pub(super) async fn long_row_request(
    world: &World,
    minilm: &mut Option<Parties>,
    opts: &SimulateOptions,
    s: &Scenario,
) -> Result<ScenarioReport> {
    let (_, parties) = world.minilm(&opts.cache_dir, minilm.take()).await?;
    let bert = Bert::minilm(&opts.cache_dir)?;
    let input = bert.encode(MINILM_LONG_TEXT)?;
    let report = griefing::play_grief(world, &parties, *s, input).await;
    *minilm = Some(parties);
    report
}

/// A game of the MLP: honest, corrupted, false challenge, bisection, silent prover; a rival account against
/// the watcher (self-challenge, copycat, withheld data); a griefer grinding the committee draw.
pub(super) async fn mlp_game(
    world: &World,
    mlp: &mut Option<Parties>,
    opts: &SimulateOptions,
    s: &Scenario,
    i: usize,
) -> Result<ScenarioReport> {
    let mut parties = world.mlp(&opts.cache_dir, mlp.take()).await?;
    let input = MLP_TINY.input(1000 + i as u64);
    let report = match s {
        Scenario::EscalationGrinding => griefing::play_grief(world, &parties, *s, input).await,
        Scenario::SelfChallenge | Scenario::Copycat | Scenario::WithheldData => {
            play_rival(world, &parties, *s, input).await
        }
        _ => play(world, &parties, *s, input).await.map(|(report, _)| report),
    };
    parties.register = None; // counted once, in the first MLP scenario
    *mlp = Some(parties);
    report
}

/// [`Scenario::MiniLmLengths`]'s batch: three texts of different token counts under MiniLM's one registration
/// (none of them the registration's operating point, [`MINILM_SENTENCE`]).
const MINILM_LENGTHS: [&str; 3] = [
    "Short text.",
    "A somewhat longer sentence, of about twice as many tokens.",
    "The third text is longer again: a prover serves every prompt length up to the context under the one \
     registration, and a watcher judges each inference at its own lengths.",
];

/// A sentence no other scenario claims (the claims are content-addressed: MiniLM's other scenarios claimed
/// [`MINILM_SENTENCE`] already).
const OPENAI_SENTENCE: &str = "Optimistic verification settles inference claims on-chain.";

/// An OpenAI client's embeddings request, answered by a prover daemon's HTTP API (the one `nao prover` serves)
/// over MiniLM's registration: the answer names its claim, the watcher checks it clean, the window passes, the
/// prover finalizes it, and the answer's status URL says so.
pub(super) async fn openai_embedding(
    world: &World,
    minilm: &mut Option<Parties>,
    opts: &SimulateOptions,
    s: &Scenario,
) -> Result<ScenarioReport> {
    use crate::chain::Store;
    use crate::daemon::{Node, OpenAi, ProverNode, Serves};
    let (_, mut parties) = world.minilm(&opts.cache_dir, minilm.take()).await?;
    let bert = Arc::new(Bert::minilm(&opts.cache_dir)?);
    let encode: crate::daemon::Encode = Box::new(move |p| Ok(bert.encode(p)?));
    let answer: crate::daemon::Answer = Box::new(|o| Ok(format!("embedding [{}]", o.data.len())));
    let (d, registered) = (&world.deployment, parties.watcher.registered());
    let prover = Prover::new(world.prover.clone(), d, registered, world.store.clone(), world.server.url.clone())?;
    let dir = std::env::temp_dir().join(format!("nao-simulate-openai-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    let chain_id = world.deployer.provider.get_chain_id().await.map_err(crate::chain::rpc_err("chain id"))?;
    let store = Store::open(&dir.join("prover.json"), "prover", chain_id, world.deployment)?;
    let node = ProverNode::new(prover, world.store.clone(), store, (encode, answer), None, None)?;
    let node = Arc::new(tokio::sync::Mutex::new(node));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| Error::Io { path: "127.0.0.1:0".into(), source })?;
    let base = format!("http://{}", listener.local_addr().map_err(|source| Error::Io { path: dir.clone(), source })?);
    let api = OpenAi { model: "minilm".into(), serves: Serves::Embeddings, public_url: base.clone() };
    let app = ProverNode::routes(node.clone(), None, api);
    let server = tokio::spawn(std::future::IntoFuture::into_future(axum::serve(listener, app)));

    let (pc, from_block) = (parties.prover.claims(), world.deployer.provider.get_block_number().await);
    let from_block = from_block.map_err(crate::chain::rpc_err("block number"))?;
    let p0 = pc.credit().await?;
    let http = reqwest::Client::new();
    let ask = serde_json::json!({"model": "minilm", "input": OPENAI_SENTENCE});
    let request = http.post(format!("{base}/v1/embeddings")).header("content-type", "application/json");
    let r = json_of(request.body(ask.to_string())).await?;
    let nao = &r["nao"][0];
    let id: alloy::primitives::B256 = serde_json::from_value(nao["claim_id"].clone())
        .map_err(|e| Error::Chain(format!("the answer names no claim ({e}): {r}")))?;
    let tx: alloy::primitives::B256 = serde_json::from_value(nao["transaction"].clone())
        .map_err(|e| Error::Chain(format!("the answer names no post ({e}): {r}")))?;
    let receipt =
        world.deployer.provider.get_transaction_receipt(tx).await.map_err(crate::chain::rpc_err("receipt"))?;
    let post_gas = receipt.map_or(0, |r| r.gas_used);

    // the watcher checks the claim as for any other; the prover daemon finalizes it after the window
    let claim = seen_by(&parties.watcher, from_block, id).await?.swap_remove(0);
    let finding = parties.watcher.check(&parties.watcher.fetch_trace(&claim).await?);
    advance_past_window(world).await?;
    node.lock().await.tick().await?;
    let status = json_of(http.get(nao["status_url"].as_str().unwrap_or_default())).await?;
    server.abort();
    std::fs::remove_dir_all(&dir).ok();
    let p1 = pc.credit().await?;
    let outcome = match (pc.status(id).await?, status["status"].as_str(), &finding) {
        (ClaimStatus::Finalized, Some("finalized"), Finding::Clean { .. }) => Outcome::Finalized,
        _ => Outcome::Unresolved,
    };
    parties.register = None;
    *minilm = Some(parties);
    let wei = |v: U256| i128::try_from(v).unwrap_or(i128::MAX);
    let embedding: Vec<f32> = serde_json::from_value(r["data"][0]["embedding"].clone()).unwrap_or_default();
    Ok(ScenarioReport {
        name: s.name().into(),
        expected: s.expected(),
        outcome,
        gas_used: post_gas,
        txs: 1,
        tx_gas: vec![TxGas { label: "post (answering /v1/embeddings)".into(), gas: post_gas }],
        // the bond went back to the prover's credit (the daemon's tick withdraws it)
        prover_delta_wei: (wei(p1) - wei(p0)).to_string(),
        watcher_delta_wei: "0".into(),
        answer: format!("embedding[..4] = {:?}; claim {}", &embedding[..embedding.len().min(4)], status["status"]),
        finding: describe(&finding),
        level: "none".into(),
        detected: false,
        details: None,
    })
}

/// The JSON an HTTP request answers with (an error naming the request and what went wrong otherwise).
async fn json_of(request: reqwest::RequestBuilder) -> Result<serde_json::Value> {
    let what = request
        .try_clone()
        .and_then(|r| r.build().ok())
        .map_or("HTTP".into(), |r| format!("{} {}", r.method(), r.url()));
    let answered = async {
        let r = request.send().await.map_err(|e| e.to_string())?;
        let status = r.status();
        let body = r.bytes().await.map_err(|e| e.to_string())?;
        match status.is_success() {
            true => serde_json::from_slice(&body).map_err(|e| e.to_string()),
            false => Err(format!("{status}: {}", String::from_utf8_lossy(&body))),
        }
    };
    answered.await.map_err(|e| Error::Chain(format!("{what}: {e}")))
}
