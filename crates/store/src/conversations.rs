//! Live conversations: calls asked for outside campaigns and the dialer's
//! claims on them, transcript segments, and each call's place in its
//! script.
//!
//! A call to place (`POST /v1/calls` without a reported status, the ribbon
//! widget, a dialect's initiate route) is stored with a [`DialRequest`] in
//! the same transaction. A dialer pass over an organisation
//! ([`ConversationStore::dial_calls`]) runs in one write transaction: it
//! ends calls to numbers on the do-not-call list (`failed`, outcome `dnc`,
//! never placed), moves calls whose callee's calling window is closed to
//! its next opening, then claims due calls within the organisation's
//! calls-per-second and live-call caps. On PostgreSQL the pass holds the
//! organisation's `dialer_rate` row (`FOR UPDATE SKIP LOCKED`), the same
//! row campaign passes hold, so nodes never claim a call twice and the
//! caps hold across campaigns and single calls.

use async_trait::async_trait;
use serde_json::Value;
use switchboard_domain::transcript::Segment;
use switchboard_domain::{Call, CallId, OrgId, Timestamp};

use crate::{DialParams, IdemKey, Result};

/// A call waiting to be placed.
#[derive(Debug, Clone, PartialEq)]
pub struct DialRequest {
    pub call_id: CallId,
    pub org_id: OrgId,
    /// The number to dial (E.164).
    pub phone: String,
    /// The callee's IANA zone (for the calling window).
    pub zone: String,
    /// Not before this instant (now, the call's `scheduled` time, or the
    /// next opening of the calling window).
    pub due_at: Timestamp,
    /// Dial outside the legal calling window (the caller's own responsibility).
    pub override_window: bool,
    /// Claimed by a dialer pass: placed, or being placed.
    pub claimed: bool,
    /// How to place it (e.g. a simulated callee's persona), as the caller gave it.
    pub options: Option<Value>,
    /// To be placed at once (click-to-call): refused with `TooManyLiveCalls`
    /// when the plan's live-call cap is reached, instead of waiting.
    pub immediate: bool,
}

/// A claimed call the carrier must now place.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub call: Call,
    pub zone: String,
    /// The request's options.
    pub options: Option<Value>,
}

/// What one pass over an organisation's single calls did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SingleDialOutcome {
    pub placed: Vec<Placement>,
    /// Calls ended because their number is on the do-not-call list.
    pub blocked: u32,
    /// Calls moved to the next opening of their calling window.
    pub deferred: u32,
    /// Due calls left for a later pass by the rate or live-call cap.
    pub held: u32,
    /// Claimed calls a dead node never placed, failed (`not_placed`).
    pub stale: u32,
    /// Another node held the organisation; nothing was done.
    pub busy: bool,
}

#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Stores a new call (as `create_call`, quota included) together with
    /// its dial request; an `immediate` one is refused beyond the plan's
    /// live-call cap (checked in the writing transaction).
    async fn create_dial_call(&self, call: Call, req: DialRequest, idem: Option<IdemKey>) -> Result<Call>;
    /// The dial request of a call, if it has one.
    async fn dial_request(&self, org: &OrgId, id: &CallId) -> Result<Option<DialRequest>>;
    /// Organisations with dial requests due by `now`, or claimed ones that
    /// may need settling.
    async fn orgs_with_due_calls(&self, now: Timestamp) -> Result<Vec<OrgId>>;
    /// One dialer pass over an organisation's single calls (see the module
    /// docs); `only` restricts the claims to these calls.
    async fn dial_calls(&self, org: &OrgId, params: DialParams, only: Option<Vec<CallId>>) -> Result<SingleDialOutcome>;
    /// The call's transcript segments in order.
    async fn transcript(&self, org: &OrgId, id: &CallId) -> Result<Vec<Segment>>;
    /// The call's place in its script, as last stored with a report.
    async fn conversation(&self, org: &OrgId, id: &CallId) -> Result<Option<Value>>;
}
