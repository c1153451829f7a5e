//! Inputs and outputs of store operations.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_domain::call::Transition;
use switchboard_domain::id::SessionId;
use switchboard_domain::{Call, CallId, CallStatus, Direction, OrgId, Role, Timestamp, UserId, UserStatus};

/// A page request: 1-based page number and page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: u32,
    pub limit: u32,
}

impl Page {
    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.limit)
    }
}

/// Which calls to list. Empty filters match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallFilter {
    pub statuses: Vec<CallStatus>,
    pub contact_id: Option<String>,
    pub campaign_id: Option<String>,
    pub agent_id: Option<String>,
    pub call_type: Option<String>,
    pub direction: Option<Direction>,
    pub customer_external_id: Option<String>,
    /// Calls that occurred at or after this instant.
    pub start: Option<Timestamp>,
    /// Calls that occurred before this instant.
    pub end: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFilter {
    pub tag: Option<String>,
    /// Case-insensitive substring of name, e-mail or phone.
    pub search: Option<String>,
}

/// Which call a report is about.
#[derive(Debug, Clone)]
pub enum CallTarget {
    Id(switchboard_domain::CallId),
    /// The carrier's id; when no call has it yet, `create` is stored first.
    External {
        external_id: String,
        create: Box<Call>,
    },
}

/// What a report or cancel did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportOutcome {
    /// The call after the report (its timeline left empty: read the call for it).
    pub call: Call,
    /// `apply`, `correct`, `repeat` or `late` when the report carried a status.
    pub transition: Option<String>,
    /// Whether anything changed.
    pub changed: bool,
    /// Whether the call was created by this report.
    pub created: bool,
}

pub(crate) fn transition_name(t: Transition) -> &'static str {
    match t {
        Transition::Apply => "apply",
        Transition::Correct => "correct",
        Transition::Repeat => "repeat",
        Transition::Late => "late",
    }
}

/// Makes a write idempotent: the outcome is stored under `key` in the same
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemKey {
    pub key: String,
    /// Hash of the request (method, path, body); another body under the
    /// same key is refused.
    pub fingerprint: String,
    /// HTTP status answered the first time.
    pub status: u16,
}

/// A stored idempotent outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemRecord {
    pub fingerprint: String,
    pub status: u16,
    /// The JSON of what the store returned (a call, a contact, a report outcome).
    pub body: String,
}

/// The facts about a call that analytics aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct CallFacts {
    pub id: CallId,
    pub org_id: OrgId,
    /// `Call::occurred_at`: when it was dialled or started.
    pub occurred_at: Timestamp,
    pub status: CallStatus,
    pub direction: Direction,
    pub duration: Option<i64>,
    pub outcome: Option<String>,
    pub call_type: Option<String>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub campaign_id: Option<String>,
    pub customer_external_id: Option<String>,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub customer_context: Option<Value>,
    pub metadata: Option<Value>,
    pub answered_at: Option<Timestamp>,
    pub cost: Option<f64>,
}

impl CallFacts {
    pub fn from_call(c: &Call) -> Self {
        CallFacts {
            id: c.id.clone(),
            org_id: c.org_id.clone(),
            occurred_at: c.occurred_at(),
            status: c.status,
            direction: c.direction,
            duration: c.duration,
            outcome: c.outcome.clone(),
            call_type: c.call_type.clone(),
            agent_id: c.agent_id.clone(),
            agent_name: c.agent_name.clone(),
            campaign_id: c.campaign_id.clone(),
            customer_external_id: c.customer_external_id.clone(),
            customer_name: c.customer_name.clone(),
            customer_phone: c.customer_phone.clone(),
            customer_context: c.customer_context.clone(),
            metadata: c.metadata.clone(),
            answered_at: c.answered_at,
            cost: c.cost,
        }
    }
}

/// A position in (occurred_at, id) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallCursor {
    pub occurred_at: Timestamp,
    pub id: CallId,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
    /// Case-insensitive substring of name or e-mail.
    pub search: Option<String>,
}

/// A refresh token as stored (its hash, never the token).
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub hash: String,
    /// The login it belongs to; every rotation stays in it.
    pub session: SessionId,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What spending a refresh token found.
#[derive(Debug, Clone, PartialEq)]
pub enum Spent {
    /// First use: the token is now spent; issue its successor.
    Fresh(RefreshToken),
    /// Used before: a stolen copy is in play. The whole session is now revoked.
    Reused(SessionId),
    /// Unknown, expired or revoked.
    Invalid,
}
