//! The partition game end to end against anvil, calldata built in Rust: a model of three segments (one per MLP
//! layer), direct pointing at the disputed segment, the prover's fine-trace root, the element against it.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use nao::chain::{self, partition_game_id, send, Claims, LocalChain, Position};
use nao::graph::template::Lengths;
use nao::model::{HostTensor, Model, MLP_TINY};
use nao::roles::calldata::{self, fine_answer, fine_challenge};
use nao::roles::RegisteredModel;
use nao::runtime;
use nao::trace::ElementRef;
use nao_bindings::{ClaimManager, DisputeGame, DisputeGame::SegmentPointer};

use super::deployed;

fn layered() -> Model {
    let mut m = MLP_TINY.generated();
    m.graph.segments = vec![0..3, 3..6, 6..8];
    m.graph.validate().unwrap();
    m
}

/// `model` registered on a fresh deployment, a prover (signer 1) and a watcher (signer 2) facing each other.
struct Sides {
    _chain: LocalChain,
    registered: RegisteredModel,
    /// The watcher's address (it names the game).
    watcher: Address,
    /// The claim manager, as the prover.
    claims: ClaimManager::ClaimManagerInstance<DynProvider>,
    pgame: DisputeGame::DisputeGameInstance<DynProvider>,
    wgame: DisputeGame::DisputeGameInstance<DynProvider>,
    /// The claim manager, as the watcher (its challenge commitments).
    wclaims: ClaimManager::ClaimManagerInstance<DynProvider>,
    /// The challenge bond.
    bond: U256,
    /// The deployment's bisection arity (it sets the positions).
    k: u64,
    /// The lengths of the model's claims.
    lengths: Lengths,
}

impl Sides {
    async fn new(model: &Model) -> Self {
        let (chain, owner, d) = deployed().await;
        let (registered, _) = RegisteredModel::register(&owner, &d, model.clone(), b"p", "u", 0.0).await.unwrap();
        let pc = chain::connect(&chain.rpc_url(), chain.signer(1)).await.unwrap();
        let wc = chain::connect(&chain.rpc_url(), chain.signer(2)).await.unwrap();
        let wgame = DisputeGame::new(d.game, wc.provider.clone());
        let k: u64 = wgame.arity().call().await.unwrap().to();
        Self {
            _chain: chain,
            registered,
            watcher: wc.address,
            claims: ClaimManager::new(d.claims, pc.provider.clone()),
            pgame: DisputeGame::new(d.game, pc.provider.clone()),
            wgame,
            wclaims: ClaimManager::new(d.claims, wc.provider.clone()),
            bond: U256::from(10u128.pow(17)),
            k,
            lengths: model.lengths,
        }
    }
}

impl Sides {
    /// The watcher commits its challenge bond to claim `id` (a batch of one inference with trace root `root`),
    /// then (a block later) points at `pointer`'s segment.
    async fn point(&self, id: B256, root: B256, pointer: SegmentPointer) {
        let salt = B256::with_last_byte(pointer.segment as u8);
        let h = Claims::commitment_of(id, self.watcher, salt);
        send("commitChallenge", self.wclaims.commitChallenge(h).value(self.bond)).await.unwrap();
        let inf = calldata::inference_opening(&[(root, self.lengths)], 0).unwrap();
        send("pointSegment", self.wgame.pointSegment(id, inf, pointer, salt)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupted_element_is_won_by_pointing_and_an_honest_one_is_lost() {
    let model = layered();
    let sides = Sides::new(&model).await;
    let Sides { registered, watcher, claims, pgame, wgame, k, .. } = &sides;
    let (watcher, k) = (*watcher, *k);

    for corrupt in [true, false] {
        // op 3 (layer 2's matmul, reading layer 1's output boundary) has element 7 moved when corrupt
        let mut tamper = |op: usize, t: &mut HostTensor| {
            if corrupt && op == 3 {
                t.data[7] *= 1.001;
            }
        };
        // (different inputs: a corrupted element that ReLU zeroes would otherwise leave the coarse trace as is)
        let trace = runtime::run(&model, &MLP_TINY.input(5 + corrupt as u64), Some(&mut tamper)).unwrap();
        let coarse = trace.commit_coarse(&model.graph);
        let root = B256::from(coarse.root());
        let post = claims.postClaim(registered.id, calldata::inferences(&[(root, model.lengths)]), String::new());
        let sent = send("post", post.value(U256::from(10u128.pow(18)))).await.unwrap();
        let id = sent.receipt.decoded_log::<ClaimManager::ClaimPosted>().unwrap().claimId;

        let seg = 1;
        let pointer = calldata::segment_pointer(&model, &trace, seg).unwrap();
        sides.point(id, root, pointer).await;
        let gid = partition_game_id(id, 0, watcher, Position::leaf(k, 3, seg as u64));
        assert_eq!(wgame.partitionGame(gid).call().await.unwrap().phase, 3, "Fine: the prover is to move");

        send("postFine", pgame.postFine(gid, fine_answer(&model, &trace, seg).unwrap())).await.unwrap();
        let at = ElementRef { op: 3, row: 0, col: 7 };
        let c = fine_challenge(&model, &registered.commitment, &trace, at).unwrap();
        let sent = send("openElement", wgame.openElement(gid, c)).await.unwrap();
        let verdict = sent.receipt.decoded_log::<DisputeGame::ElementAdjudicated>().unwrap();
        assert_eq!(verdict.inside, !corrupt);
        let status = claims.claim(id).call().await.unwrap().status;
        assert_eq!(status, if corrupt { 3 } else { 1 }, "slashed when corrupt, still pending otherwise");

        // an op reading inside the fine trace verifies too; and the prover, asked to open an element itself,
        // opens it (and wins: it is inside)
        if !corrupt {
            let pos = Position::leaf(k, 3, 0);
            let pointer = calldata::segment_pointer(&model, &trace, 0).unwrap();
            sides.point(id, root, pointer).await;
            let g0 = partition_game_id(id, 0, watcher, pos);
            send("postFine", pgame.postFine(g0, fine_answer(&model, &trace, 0).unwrap())).await.unwrap();
            let c =
                fine_challenge(&model, &registered.commitment, &trace, ElementRef { op: 1, row: 2, col: 3 }).unwrap();
            let sent = send("openElement", wgame.openElement(g0, c)).await.unwrap();
            assert!(sent.receipt.decoded_log::<DisputeGame::ElementAdjudicated>().unwrap().inside);

            let pointer = calldata::segment_pointer(&model, &trace, 2).unwrap();
            sides.point(id, root, pointer).await;
            let g2 = partition_game_id(id, 0, watcher, Position::leaf(k, 3, 2));
            send("postFine", pgame.postFine(g2, fine_answer(&model, &trace, 2).unwrap())).await.unwrap();
            let at = ElementRef { op: 6, row: 1, col: 2 }; // layer 3's matmul reads layer 2's output boundary
            let r = calldata::element_request(&model, &registered.commitment, at).unwrap();
            send("requestElement", wgame.requestElement(g2, r)).await.unwrap();
            let c = fine_challenge(&model, &registered.commitment, &trace, at).unwrap();
            let sent = send("openRequested", pgame.openRequested(g2, c)).await.unwrap();
            assert!(sent.receipt.decoded_log::<DisputeGame::RequestedElementOpened>().unwrap().inside);
        }
    }
}

/// A real SmolLM2 claim: the residual Add that closes a block's attention reads the block's input (the fine
/// trace's leaf 0, the previous segment's output boundary) as its second operand; corrupted, the watcher opens
/// both operands against the fine root and wins; honest, the prover is asked to open it and wins.
#[tokio::test(flavor = "multi_thread")]
async fn a_residual_reading_an_earlier_boundary_is_adjudicated_in_the_partition_game() {
    use nao::graph::OpKind;
    use nao::model::{fetch, llama::Llama};
    let llama = Llama::smollm2(&fetch::default_cache_dir()).expect("SmolLM2 from PyPI");
    let input = llama.encode("Optimistic verification").unwrap();
    let model = llama.model(input.data.len(), 1).unwrap();
    let sides = Sides::new(&model).await;
    let Sides { registered, watcher, claims, pgame, wgame, k, .. } = &sides;
    let (watcher, k) = (*watcher, *k);
    let ranges = model.graph.segment_ranges();
    // segment 2 (block 1): its first residual reads the block input (segment 1's output) as input2
    let seg = 2;
    let op = ranges[seg]
        .clone()
        .find(|i| model.graph.adjudicable(*i).is_some_and(|n| n.kind == OpKind::Residual))
        .expect("a residual in block 1");
    let node = model.graph.adjudicable(op).unwrap();
    assert_eq!(node.input2 as usize, ranges[seg].start, "the residual reads the segment's input boundary");

    for corrupt in [true, false] {
        let mut tamper = |o: usize, t: &mut HostTensor| {
            if corrupt && o == op {
                t.data[7] += 1.0;
            }
        };
        let trace = runtime::run(&model, &input, Some(&mut tamper)).unwrap();
        let coarse = trace.commit_coarse(&model.graph);
        let root = B256::from(coarse.root());
        let post = claims.postClaim(registered.id, calldata::inferences(&[(root, model.lengths)]), String::new());
        let sent = send("post", post.value(U256::from(10u128.pow(18)))).await.unwrap();
        let id = sent.receipt.decoded_log::<ClaimManager::ClaimPosted>().unwrap().claimId;
        let pointer = calldata::segment_pointer(&model, &trace, seg).unwrap();
        sides.point(id, root, pointer).await;
        let gid = partition_game_id(id, 0, watcher, Position::leaf(k, ranges.len() as u64, seg as u64));
        send("postFine", pgame.postFine(gid, fine_answer(&model, &trace, seg).unwrap())).await.unwrap();
        let at = ElementRef { op, row: 0, col: 7 };
        if corrupt {
            let c = fine_challenge(&model, &registered.commitment, &trace, at).unwrap();
            let sent = send("openElement", wgame.openElement(gid, c)).await.unwrap();
            assert!(!sent.receipt.decoded_log::<DisputeGame::ElementAdjudicated>().unwrap().inside);
            assert_eq!(claims.claim(id).call().await.unwrap().status, 3, "slashed");
        } else {
            let r = calldata::element_request(&model, &registered.commitment, at).unwrap();
            send("requestElement", wgame.requestElement(gid, r)).await.unwrap();
            let c = fine_challenge(&model, &registered.commitment, &trace, at).unwrap();
            let sent = send("openRequested", pgame.openRequested(gid, c)).await.unwrap();
            assert!(sent.receipt.decoded_log::<DisputeGame::RequestedElementOpened>().unwrap().inside);
            assert_eq!(claims.claim(id).call().await.unwrap().status, 1, "still pending: the prover won");
        }
    }
}
