//! Agents' figures for the real-time metrics: how many agents of each
//! organisation are online, available, on a call or in after-call work.
//! Kept in memory (the board asks once a second) and refreshed from the
//! store by the router on each pass.

use std::collections::HashMap;
use std::sync::RwLock;

use switchboard_domain::OrgId;
use switchboard_domain::agents::AgentStatus;
use switchboard_store::{DynStore, StoreError};

use super::{AgentCounts, AgentSource};

/// The agents source the server installs on the board.
#[derive(Default)]
pub struct StoredAgents {
    counts: RwLock<HashMap<OrgId, AgentCounts>>,
}

impl StoredAgents {
    /// Reads every organisation's counts again.
    pub async fn refresh(&self, store: &DynStore) -> Result<(), StoreError> {
        let mut counts: HashMap<OrgId, AgentCounts> = HashMap::new();
        for (org, status, n) in store.agent_status_counts().await? {
            let c = counts.entry(org).or_default();
            if status.is_online() {
                c.online += n;
            }
            match status {
                AgentStatus::Available => c.available += n,
                AgentStatus::OnCall => c.on_call += n,
                AgentStatus::AfterCallWork => c.after_call_work += n,
                _ => {}
            }
        }
        *self.counts.write().expect("agents lock") = counts;
        Ok(())
    }
}

impl AgentSource for StoredAgents {
    fn agents(&self, org: &OrgId) -> AgentCounts {
        self.counts.read().expect("agents lock").get(org).copied().unwrap_or_default()
    }
}
