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
    let played = if *s == Scenario::MiniLmCorrupted {
        // the first adjudicable matmul of the second segment (layers 3 to 5)
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
        play_with(world, &parties, *s, input, Some(&mut moved)).await
    } else {
        play(world, &parties, *s, input).await
    };
    parties.register = None; // counted once, in the first MiniLM scenario
    *minilm = Some(parties);
    let (mut report, out) = played?;
    report.answer = format!("embedding[..4] = {:?}", &out.data[..4]);
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

/// SmolLM2 answers a chat prompt, honestly.
pub(super) async fn smollm2(world: &World, opts: &SimulateOptions, s: &Scenario) -> Result<ScenarioReport> {
    let llama = Llama::smollm2(&opts.cache_dir)?;
    let input = llama.encode(&smollm2_chat_prompt("What is the capital of France?"))?;
    let model = llama.model(input.data.len(), SMOLLM2_NEW_TOKENS)?;
    // registered without the token audit (`nao register` runs it: ~70 s for 15 tokens) to keep the run short
    let parties = world.parties(model, SMOLLM2_PROFILE, "nao:smollm2", None).await?;
    let (mut report, out) = play(world, &parties, *s, input).await?;
    report.answer = llama.decode(&out.data)?;
    tracing::info!(answer = %report.answer, "SmolLM2 answered");
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
            let bert = Bert::load(&fetch::minilm_dir(&opts.cache_dir)?)?;
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

/// A griefer disputes an honest MiniLM claim whose element no transaction can carry.
pub(super) async fn long_row_request(world: &World, opts: &SimulateOptions, s: &Scenario) -> Result<ScenarioReport> {
    let bert = Bert::load(&fetch::minilm_dir(&opts.cache_dir)?)?;
    let input = bert.encode(MINILM_LONG_TEXT)?;
    let parties = world.parties(bert.model(input.data.len())?, MINILM_PROFILE, "nao:minilm-long", None).await?;
    griefing::play_grief(world, &parties, *s, input).await
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
