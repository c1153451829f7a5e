//! Inputs and outputs of store operations.

use serde::{Deserialize, Serialize};
use switchboard_domain::call::Transition;
use switchboard_domain::{Call, CallStatus, Direction, Timestamp};

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
