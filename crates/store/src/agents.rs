//! Agents: the profiles and statuses of users with the `agent` role.
//!
//! An agent is read through its user: a user with the `agent` role and no
//! stored profile is an offline agent with an empty profile, so giving a
//! user the role is all it takes to have one. A status change is checked by
//! the domain's state machine against the stored status inside the writing
//! transaction (on PostgreSQL with the user's row locked), and writes its
//! `agent.status_changed` event to the outbox in the same transaction.

use async_trait::async_trait;
use switchboard_domain::agents::{Agent, AgentPatch, AgentStatus};
use switchboard_domain::{OrgId, Timestamp, UserId};

use crate::{Page, Result};

/// Which agents to list. Empty filters match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentFilter {
    pub department: Option<String>,
    pub status: Option<AgentStatus>,
    /// Agents having this skill (at any proficiency).
    pub skill: Option<String>,
}

#[async_trait]
pub trait AgentStore: Send + Sync {
    /// The agent with this user id (`NotFound("agent")` when the user does
    /// not exist in `org` or does not have the `agent` role).
    async fn get_agent(&self, org: &OrgId, id: &UserId) -> Result<Agent>;
    /// A page of agents in user creation order, and the number matching.
    async fn list_agents(&self, org: &OrgId, filter: &AgentFilter, page: Page) -> Result<(Vec<Agent>, u64)>;
    /// Changes an agent's profile.
    async fn update_agent(&self, org: &OrgId, id: &UserId, patch: AgentPatch, at: Timestamp) -> Result<Agent>;
    /// Moves an agent to `to` (see [`Agent::change_status`]): an illegal
    /// move is a `Domain` error and changes nothing; a move writes
    /// `agent.status_changed`.
    /// How many agents (users with the `agent` role and a stored profile)
    /// each organisation has in each status.
    async fn agent_status_counts(&self) -> Result<Vec<(OrgId, AgentStatus, u64)>>;
    async fn set_agent_status(&self, org: &OrgId, id: &UserId, to: AgentStatus, reason: Option<String>, at: Timestamp) -> Result<Agent>;
}
