//! # nao-chain
//!
//! The chain side of nao, with no numerics in it: anvil, deployment, transactions and their receipts, typed
//! access to the contracts, following events, and the daemons' embedded store.

mod anvil;
mod claims;
mod deploy;
mod error;
mod follow;
mod game;
mod position;
mod seats;
mod status;
mod store;
mod tx;

pub use anvil::{find_tool, LocalChain};
pub use claims::{pack, unpack, ClaimStatus, Claims, GameOutcome, INFERENCE_BYTES};
pub use deploy::{deploy, ClaimsParams, CommitteeParams, Deployment, DeploymentFile, GameParams, ProtocolParams};
pub use error::{Error, Result};
pub use follow::{FollowMode, Follower};
pub use game::{partition_game_id, Clock, Phase, Side};
pub use position::Position;
pub use seats::{seats, Seat, SeatState, SeatWatch};
pub use status::{status, Status};
pub use store::Store;
pub use tx::{call_err, revert_reason, rpc_err, send, Revert, Sent};

use alloy::network::EthereumWallet;
use alloy::primitives::{keccak256, Address, B256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

/// The latest block's number and timestamp.
pub async fn head(provider: &DynProvider) -> Result<(u64, u64)> {
    let b = provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .map_err(rpc_err("latest block"))?
        .ok_or_else(|| Error::Chain("no latest block".into()))?;
    Ok((b.header.number, b.header.timestamp))
}

/// Asks a development chain that mines only on transactions (anvil without `--block-time`) to mine `blocks`
/// blocks, for a move that waits on a later block (a committee draw); a real chain's RPC refuses the request,
/// which changes nothing there (its blocks come by themselves).
pub async fn nudge(provider: &DynProvider, blocks: u64) {
    use alloy::providers::ext::AnvilApi;
    if let Err(e) = provider.anvil_mine(Some(blocks), None).await {
        tracing::debug!(error = %e, "the chain does not mine on request; waiting for its blocks");
    }
}

/// Seconds since the Unix epoch by this machine's clock.
pub fn wall_clock() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// About the timestamp the next block will carry: the latest block's, or this machine's clock when that is
/// later (on a quiet chain the latest block may be minutes old, and a move that waits on time would look
/// premature against it; under anvil's clock controls the chain is ahead, and its time wins).
pub async fn next_block_time(provider: &DynProvider) -> Result<u64> {
    Ok(next_block_time_after(head(provider).await?.1))
}

/// [`next_block_time`] from a latest block's timestamp already read.
pub fn next_block_time_after(latest: u64) -> u64 {
    latest.max(wall_clock())
}

/// A provider that signs with one account, and that account.
#[derive(Debug, Clone)]
pub struct Client {
    /// Type-erased provider with the account's wallet.
    pub provider: DynProvider,
    /// The sending account.
    pub address: Address,
    /// A secret derived from the account's key: the salts of its challenge commitments are drawn from it, so a
    /// restarted node finds its commitments again and nobody else can tell which claim they name.
    salt_key: B256,
}

impl Client {
    /// The salt of this account's challenge commitment to claim `claim_id` (`ClaimManager.commitmentOf`).
    pub fn challenge_salt(&self, claim_id: B256) -> B256 {
        keccak256([self.salt_key.as_slice(), claim_id.as_slice()].concat())
    }
}

/// Connects to `rpc_url` with `signer` as the sending account, checking that the RPC answers.
pub async fn connect(rpc_url: &str, signer: PrivateKeySigner) -> Result<Client> {
    let url = rpc_url.parse().map_err(|e| Error::Chain(format!("bad RPC URL `{rpc_url}`: {e}")))?;
    let address = signer.address();
    let salt_key = keccak256([b"nao challenge salts".as_slice(), signer.to_bytes().as_slice()].concat());
    // The nonce is read from the node (pending count) for every transaction rather than counted locally: a
    // transaction that never reached the node (an RPC outage) leaves no gap that would stall the next one.
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url)
        .erased();
    provider.get_chain_id().await.map_err(|e| Error::Chain(format!("RPC at {rpc_url} does not answer: {e}")))?;
    Ok(Client { provider, address, salt_key })
}
