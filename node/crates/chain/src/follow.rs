//! How a daemon learns of new events: by polling `eth_getLogs` over the blocks since its cursor, or through an
//! installed log filter (`eth_newFilter` / `eth_getFilterChanges`, the subscription HTTP endpoints offer).
//!
//! Either way the cursor (the next block not yet read) is the daemon's to persist: after a restart, or when a
//! node forgets the filter, the daemon reads the logs from its cursor again. Consumers key what they learn by
//! id, so reading a block twice changes nothing.

use alloy::primitives::U256;
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;

use crate::Result;

/// Poll logs, or follow an installed filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FollowMode {
    /// `eth_getLogs` from the cursor to the head, every tick.
    #[default]
    Poll,
    /// `eth_newFilter` once, then `eth_getFilterChanges` every tick (re-installed from the cursor when lost).
    Filter,
}

/// Follows one event filter.
#[derive(Debug)]
pub struct Follower {
    mode: FollowMode,
    filter: Filter,
    installed: Option<U256>,
}

impl Follower {
    /// Follows `filter` (its address and topics; the block range is the follower's) in `mode`.
    pub fn new(mode: FollowMode, filter: Filter) -> Self {
        Self { mode, filter, installed: None }
    }

    /// The events `E` since `*cursor`, advancing it past the blocks read.
    pub async fn next<E: SolEvent>(&mut self, provider: &DynProvider, cursor: &mut u64) -> Result<Vec<(E, Log)>> {
        let logs = self.next_logs(provider, cursor).await?;
        Ok(logs.into_iter().filter_map(|l| E::decode_log(&l.inner).ok().map(|e| (e.data, l))).collect())
    }

    /// The logs matching the filter since `*cursor` (of every event it names), advancing it past the blocks
    /// read.
    pub async fn next_logs(&mut self, provider: &DynProvider, cursor: &mut u64) -> Result<Vec<Log>> {
        let logs = match (self.mode, self.installed) {
            (FollowMode::Filter, Some(id)) => match provider.get_filter_changes::<Log>(id).await {
                Ok(logs) => {
                    if let Some(n) = logs.iter().filter_map(|l| l.block_number).max() {
                        *cursor = (*cursor).max(n + 1);
                    }
                    logs
                }
                Err(e) => {
                    // the node forgot the filter (it restarted, or it expires idle filters): catch up by range
                    tracing::warn!(error = %e, "log filter lost; reading from the cursor again");
                    self.installed = None;
                    return Box::pin(self.next_logs(provider, cursor)).await;
                }
            },
            _ => {
                if self.mode == FollowMode::Filter {
                    // installed first (from the next block on), then the range up to the head read after it:
                    // a block mined in between is seen twice rather than never
                    let id =
                        provider.new_filter(&self.filter.clone()).await.map_err(crate::rpc_err("eth_newFilter"))?;
                    self.installed = Some(id);
                }
                let head = provider.get_block_number().await.map_err(crate::rpc_err("block number"))?;
                let logs = if head < *cursor {
                    Vec::new()
                } else {
                    let f = self.filter.clone().from_block(*cursor).to_block(head);
                    provider.get_logs(&f).await.map_err(crate::rpc_err("eth_getLogs"))?
                };
                *cursor = (*cursor).max(head + 1);
                logs
            }
        };
        Ok(logs)
    }
}
