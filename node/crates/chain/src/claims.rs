//! Typed access to the ClaimManager: claim status, bonds, credits, finalize and withdraw.

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::DynProvider;
use alloy::sol_types::SolValue;
use nao_bindings::ClaimManager;

use super::{send, Client, Deployment, Sent};
use crate::tx::call_err;
use crate::{Error, Result};

/// `ClaimStatus` of `contracts/src/lib/Types.sol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ClaimStatus {
    /// Never posted.
    None,
    /// Inside (or past, not yet finalized) its challenge window.
    Pending,
    /// Final: its bond went back to the prover.
    Finalized,
    /// Proved wrong: its bond went to the challenger.
    Slashed,
}

impl From<u8> for ClaimStatus {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::Pending,
            2 => Self::Finalized,
            3 => Self::Slashed,
            _ => Self::None,
        }
    }
}

/// `GameOutcome` of `contracts/src/lib/Types.sol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum GameOutcome {
    /// Not played.
    None,
    /// The challenged element was outside its region.
    ChallengerWon,
    /// The challenged element was inside its region.
    ProverWon,
    /// Another game slashed the claim first; the challenger's bond went back.
    Moot,
}

impl From<u8> for GameOutcome {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::ChallengerWon,
            2 => Self::ProverWon,
            3 => Self::Moot,
            _ => Self::None,
        }
    }
}

/// The ClaimManager as seen by one account.
#[derive(Debug, Clone)]
pub struct Claims {
    inner: ClaimManager::ClaimManagerInstance<DynProvider>,
    account: Address,
}

impl Claims {
    /// The claim manager of `d`, sending as `client`.
    pub fn new(client: &Client, d: &Deployment) -> Self {
        Self { inner: ClaimManager::new(d.claims, client.provider.clone()), account: client.address }
    }

    /// The generated contract instance.
    pub fn contract(&self) -> &ClaimManager::ClaimManagerInstance<DynProvider> {
        &self.inner
    }

    /// Status of a claim.
    pub async fn status(&self, id: B256) -> Result<ClaimStatus> {
        Ok(self.inner.claim(id).call().await.map_err(call_err("claim"))?.status.into())
    }

    /// Claim `id` as the claim manager holds it (`None`: never posted, unknown to it).
    pub async fn get(&self, id: B256) -> Result<Option<ClaimManager::Claim>> {
        match self.inner.claim(id).call().await {
            Ok(c) => Ok(Some(c)),
            Err(e) if e.as_decoded_error::<ClaimManager::UnknownClaim>().is_some() => Ok(None),
            Err(e) => Err(call_err("claim")(e)),
        }
    }

    /// Claim `id`'s inferences (trace root and lengths), in batch order (from its `ClaimPosted` log; empty if
    /// none).
    pub async fn inferences(&self, id: B256) -> Result<Vec<ClaimManager::Inference>> {
        let logs = self
            .inner
            .ClaimPosted_filter()
            .topic1(id)
            .from_block(0)
            .query()
            .await
            .map_err(call_err("ClaimPosted logs"))?;
        logs.into_iter().next().map_or(Ok(Vec::new()), |(e, _)| unpack(&e.inferences))
    }

    /// Whether claim `id` was ever posted (a claim never posted is unknown to the claim manager).
    pub async fn posted(&self, id: B256) -> Result<bool> {
        Ok(self.get(id).await?.is_some())
    }

    /// Bond required per claim.
    pub async fn claim_bond(&self) -> Result<U256> {
        self.inner.claimBond().call().await.map_err(call_err("claimBond"))
    }

    /// Bond required per challenge.
    pub async fn challenge_bond(&self) -> Result<U256> {
        self.inner.challengeBond().call().await.map_err(call_err("challengeBond"))
    }

    /// Credit of `who`.
    pub async fn credit_of(&self, who: Address) -> Result<U256> {
        self.inner.credit(who).call().await.map_err(call_err("credit"))
    }

    /// Seconds a claim can be challenged after it is posted.
    pub async fn challenge_window(&self) -> Result<u64> {
        self.inner.challengeWindow().call().await.map_err(call_err("challengeWindow"))
    }

    /// When the challenge window of claim `id` closes.
    pub async fn window_closes_at(&self, id: B256) -> Result<u64> {
        Ok(self.inner.windowClosesAt(id).call().await.map_err(call_err("windowClosesAt"))?.to())
    }

    /// Credit of this account.
    pub async fn credit(&self) -> Result<U256> {
        self.credit_of(self.account).await
    }

    /// The commitment `challenger` posts before challenging `claim` with `salt` (`ClaimManager.commitmentOf`).
    pub fn commitment_of(claim: B256, challenger: Address, salt: B256) -> B256 {
        alloy::primitives::keccak256((claim, challenger, salt).abi_encode())
    }

    /// Whether this account holds the challenge commitment `commitment` (made, not yet used or refunded).
    pub async fn holds_commitment(&self, commitment: B256) -> Result<bool> {
        let c = self.inner.commitments(commitment).call().await.map_err(call_err("commitments"))?;
        Ok(c.challenger == self.account)
    }

    /// Locks the challenge bond behind `commitment`, usable to open a game from the next block on.
    pub async fn commit_challenge(&self, commitment: B256) -> Result<Sent> {
        let bond = self.challenge_bond().await?;
        send("commitChallenge", self.inner.commitChallenge(commitment).value(bond)).await
    }

    /// Takes back the bond of this account's commitment to `claim` (made with `salt`), which another game
    /// slashed before it could be used.
    pub async fn refund_commitment(&self, claim: B256, salt: B256) -> Result<Sent> {
        send("refundCommitment", self.inner.refundCommitment(claim, salt)).await
    }

    /// The reward of slashed claim `id`: its current winner, whether it was paid, and when its grace closes.
    pub async fn reward(&self, id: B256) -> Result<(Address, bool, u64)> {
        let r = self.inner.rewards(id).call().await.map_err(call_err("rewards"))?;
        let closes = self.inner.rewardClosesAt(id).call().await.map_err(call_err("rewardClosesAt"))?;
        Ok((r.winner, r.paid, closes.to()))
    }

    /// Credits slashed claim `id`'s reward to its earliest-ranked winner (after its grace).
    pub async fn pay_reward(&self, id: B256) -> Result<Sent> {
        send("payReward", self.inner.payReward(id)).await
    }

    /// Asks, with the data bond, for chunks [first, first + count) of leaf `leaf` of the coarse trace of claim
    /// `id`'s inference `inf` (`game` zero) or of game `game`'s fine trace; returns the request's id.
    pub async fn request_data(
        &self,
        id: B256,
        game: B256,
        inf: ClaimManager::InferenceOpening,
        leaf: u32,
        first: u32,
        count: u32,
    ) -> Result<(B256, Sent)> {
        let bond = self.inner.dataBond().call().await.map_err(call_err("dataBond"))?;
        let call = self.inner.requestData(id, game, inf, leaf, first, count);
        let sent = send("requestData", call.value(bond)).await?;
        let rid = sent
            .receipt
            .decoded_log::<ClaimManager::DataRequested>()
            .map(|l| l.requestId)
            .ok_or_else(|| Error::Chain("requestData: no DataRequested event".into()))?;
        Ok((rid, sent))
    }

    /// The id of the data request `requester` makes for chunks `[first, first + count)` of leaf `leaf` of the
    /// list committed as `root` against claim `id` (`ClaimManager.requestData`'s `requestId`).
    pub fn data_request_id(id: B256, requester: Address, root: B256, leaf: u32, first: u32, count: u32) -> B256 {
        alloy::primitives::keccak256((id, requester, root, leaf, first, count).abi_encode())
    }

    /// The `numel` fp32 elements of a tensor assembled from the chunks (of `chunk_elems` elements) published
    /// in answer to `requests` (made at or after block `from_block`), which together must cover it: the logs
    /// are the contract's, which verified every chunk against the claim's commitment before emitting it.
    pub async fn published_elements(
        &self,
        requests: &[B256],
        numel: usize,
        chunk_elems: usize,
        from_block: u64,
    ) -> Result<Vec<f32>> {
        let chunk_bytes = chunk_elems * 4;
        let mut bytes = vec![0u8; numel * 4];
        let mut covered = vec![false; numel.div_ceil(chunk_elems)];
        for rid in requests {
            let logs = self
                .inner
                .ChunkPublished_filter()
                .topic1(*rid)
                .from_block(from_block)
                .query()
                .await
                .map_err(call_err("ChunkPublished logs"))?;
            for (e, _) in logs {
                let i = e.index as usize;
                let lo = i * chunk_bytes;
                let hi = (lo + e.data.len()).min(bytes.len());
                if i >= covered.len() || hi - lo != e.data.len() {
                    return Err(Error::TraceData(format!("published chunk {i} does not fit a tensor of {numel}")));
                }
                bytes[lo..hi].copy_from_slice(&e.data);
                covered[i] = true;
            }
        }
        if let Some(i) = covered.iter().position(|c| !c) {
            return Err(Error::TraceData(format!("chunk {i} of a tensor of {numel} elements was not published")));
        }
        Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }

    /// The deadline of open data request `rid` (`None` once it was answered or expired).
    pub async fn data_deadline(&self, rid: B256) -> Result<Option<u64>> {
        let r = self.inner.dataRequests(rid).call().await.map_err(call_err("dataRequests"))?;
        Ok((r.requester != Address::ZERO).then_some(r.deadline))
    }

    /// Ends data request `rid` unanswered after its deadline: the claim is slashed for withholding.
    pub async fn expire_data(&self, rid: B256) -> Result<Sent> {
        send("expireData", self.inner.expireData(rid)).await
    }

    /// This account.
    pub fn account(&self) -> Address {
        self.account
    }

    /// Finalizes a claim whose window has closed.
    pub async fn finalize(&self, id: B256) -> Result<Sent> {
        send("finalize", self.inner.finalize(id)).await
    }

    /// Withdraws this account's credit.
    pub async fn withdraw(&self) -> Result<Sent> {
        send("withdraw", self.inner.withdraw()).await
    }

    /// Withdraws this account's credit if it has any (what the daemons do every tick).
    pub async fn withdraw_credit(&self) -> Result<Option<Sent>> {
        if self.credit().await?.is_zero() {
            return Ok(None);
        }
        let sent = self.withdraw().await?;
        tracing::info!(gas = sent.gas_used, "credit withdrawn");
        Ok(Some(sent))
    }
}

/// Bytes of one inference in a packed batch (`ClaimManager.INFERENCE_BYTES`): trace root, prompt, steps.
pub const INFERENCE_BYTES: usize = 40;

/// `batch` packed as `ClaimManager.postClaim` takes it and `ClaimPosted` logs it (`ClaimManager.pack`): each
/// inference's trace root, then prompt and steps as big-endian u32s.
pub fn pack(batch: &[ClaimManager::Inference]) -> Bytes {
    let mut out = Vec::with_capacity(batch.len() * INFERENCE_BYTES);
    for i in batch {
        out.extend_from_slice(&i.traceRoot.0);
        out.extend_from_slice(&i.prompt.to_be_bytes());
        out.extend_from_slice(&i.steps.to_be_bytes());
    }
    out.into()
}

/// The inferences of a packed batch (a `ClaimPosted` log's), in order; refused unless whole 40-byte entries.
pub fn unpack(packed: &[u8]) -> Result<Vec<ClaimManager::Inference>> {
    if !packed.len().is_multiple_of(INFERENCE_BYTES) {
        return Err(Error::Chain(format!(
            "a packed batch of {} bytes: not whole {INFERENCE_BYTES}-byte inferences",
            packed.len()
        )));
    }
    let word = |b: &[u8]| u32::from_be_bytes(b.try_into().expect("4 bytes"));
    Ok(packed
        .chunks_exact(INFERENCE_BYTES)
        .map(|e| ClaimManager::Inference {
            traceRoot: B256::from_slice(&e[..32]),
            prompt: word(&e[32..36]),
            steps: word(&e[36..40]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_batch_unpacks_to_itself_and_a_ragged_one_is_refused() {
        let batch: Vec<_> = (0..3u32)
            .map(|i| ClaimManager::Inference {
                traceRoot: B256::repeat_byte(i as u8 + 1),
                prompt: 70_000 + i,
                steps: i,
            })
            .collect();
        let packed = pack(&batch);
        assert_eq!(packed.len(), 3 * INFERENCE_BYTES);
        // big-endian words after each root: the batch leaf's preimage after its 0x00
        assert_eq!(&packed[32..40], &[0, 1, 0x11, 0x70, 0, 0, 0, 0]);
        let back = unpack(&packed).unwrap();
        assert!(back
            .iter()
            .zip(&batch)
            .all(|(a, b)| (a.traceRoot, a.prompt, a.steps) == (b.traceRoot, b.prompt, b.steps)));
        let err = unpack(&packed[..119]).unwrap_err().to_string();
        assert!(err.contains("119 bytes"), "{err}");
    }
}
