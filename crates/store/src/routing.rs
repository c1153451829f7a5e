//! Calls waiting in queues and the router's offers to agents.
//!
//! A call is put in a queue ([`RoutingStore::enqueue_call`]) and waits
//! there (`waiting`) until a routing pass offers it to an agent
//! (`offered`); the agent accepts (`connected`) or the offer runs out, the
//! agent goes to `missed` and the call waits again for the next agent. A
//! call that ends while waiting or offered is `abandoned` (counted); one
//! that ends after being connected is `done`.
//!
//! Claims are conditional UPDATEs: the waiting row moves to `offered` only
//! if it is still waiting, and the agent's count of active calls rises
//! only if the agent is still available with a free line; on PostgreSQL
//! each claim is its own short transaction, so routers on several nodes
//! never offer one call to two agents nor two calls to a single-line agent.

use async_trait::async_trait;
use switchboard_domain::agents::Agent;
use switchboard_domain::id::QueueId;
use switchboard_domain::{CallId, OrgId, Timestamp, UserId};

use crate::Result;

/// Where a queued call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitState {
    Waiting,
    Offered,
    Connected,
    Done,
    Abandoned,
}

impl WaitState {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitState::Waiting => "waiting",
            WaitState::Offered => "offered",
            WaitState::Connected => "connected",
            WaitState::Done => "done",
            WaitState::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Waiting, Self::Offered, Self::Connected, Self::Done, Self::Abandoned]
            .into_iter()
            .find(|w| w.as_str() == s)
    }
}

/// A call in a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedCall {
    pub call_id: CallId,
    pub org_id: OrgId,
    pub queue_id: QueueId,
    pub priority: u8,
    pub state: WaitState,
    /// The agent offered or connected.
    pub agent_id: Option<UserId>,
    pub enqueued_at: Timestamp,
    pub offer_expires_at: Option<Timestamp>,
    /// Offers that ran out.
    pub missed: u32,
}

/// What one routing pass over an organisation did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutePass {
    /// New offers: (call, agent).
    pub offered: Vec<(CallId, UserId)>,
    /// Offers that ran out: (call, agent); the agents went to `missed`.
    pub missed: Vec<(CallId, UserId)>,
    /// Calls that ended while waiting or offered.
    pub abandoned: Vec<CallId>,
    /// Waiting calls moved to their queue's overflow queue (past the
    /// longest wait, or the queue closed).
    pub overflowed: u32,
    /// Routing decisions made (calls considered).
    pub decisions: u32,
}

/// A queue's figures for the estimated wait and the wallboard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueFigures {
    pub waiting: u32,
    /// Calls put in the queue in the last hour.
    pub arrivals_last_hour: u32,
    /// Mean handle time of the queue's recent finished calls (seconds), if any.
    pub mean_handle_secs: Option<f64>,
    /// Agents online (not offline) with the queue's skills.
    pub staffed: u32,
    pub abandoned: u32,
    pub oldest_wait_since: Option<Timestamp>,
}

#[async_trait]
pub trait RoutingStore: Send + Sync {
    /// Puts an existing call in a queue (`NotFound` for an unknown call or
    /// queue; a call already queued is a conflict).
    async fn enqueue_call(&self, org: &OrgId, call: &CallId, queue: &QueueId, at: Timestamp) -> Result<QueuedCall>;
    async fn queued_call(&self, org: &OrgId, call: &CallId) -> Result<Option<QueuedCall>>;
    /// Organisations with calls waiting, offered or connected.
    async fn orgs_with_queued_calls(&self) -> Result<Vec<OrgId>>;
    /// One routing pass over an organisation: settles calls that ended,
    /// expires offers older than their deadline (agent → `missed`), moves
    /// waiting calls past their queue's longest wait, or in a closed queue,
    /// to the queue it overflows into (waiting there from now), then
    /// offers waiting calls (highest priority, then longest waiting, first)
    /// to agents chosen by [`switchboard_domain::routing::choose`], each
    /// offer lasting `offer_secs`.
    async fn route_calls(&self, org: &OrgId, now: Timestamp, offer_secs: u32) -> Result<RoutePass>;
    /// The agent takes a call offered to them: the call is connected and
    /// the agent `on_call` (`Conflict` when no such offer is open).
    async fn accept_offer(&self, org: &OrgId, agent: &UserId, call: &CallId, at: Timestamp) -> Result<Agent>;
    /// A queue's figures at `now`.
    async fn queue_figures(&self, org: &OrgId, queue: &QueueId, now: Timestamp) -> Result<QueueFigures>;
}
