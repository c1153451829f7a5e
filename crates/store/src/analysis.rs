//! Conversation intelligence: each call's stored analysis, the analysis
//! worker's place in the outbox, each organisation's intelligence settings
//! and its own intents.
//!
//! A call's analysis is claimed before it is made: the claim leases the
//! call to one worker (`owner`) until `now + lease`, for the transcript it
//! saw (`fingerprint`). Another claim for the same transcript is answered
//! [`Claimed::Done`] (already analysed, or being analysed under a live
//! lease), so nodes that read the same outbox events never analyse a call
//! twice; a different transcript, a forced re-run or an expired lease
//! takes the claim over. Finishing stores the result and writes the
//! `analysis.complete` event in one transaction, only while the claim is
//! still the finisher's.

use async_trait::async_trait;
use serde_json::Value;
use switchboard_domain::{CallId, OrgId, Timestamp};

use crate::Result;

/// A request to analyse a call.
#[derive(Debug, Clone)]
pub struct AnalysisClaim {
    pub org: OrgId,
    pub call: CallId,
    /// Identifies the transcript to analyse.
    pub fingerprint: String,
    /// Analyse again even when this transcript was analysed (a re-run);
    /// a live lease held by someone else still refuses.
    pub force: bool,
    /// Who claims (a node's worker id, or a request's).
    pub owner: String,
    pub now: Timestamp,
    pub lease: chrono::TimeDelta,
}

/// What a claim answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// The caller holds the call: analyse it and finish.
    Claimed,
    /// This transcript is analysed already, or being analysed.
    Done,
    /// Someone else holds a live lease on the call.
    Busy,
}

/// What is stored of a call's analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnalysis {
    pub call_id: CallId,
    pub org_id: OrgId,
    /// A worker is (re-)analysing it now.
    pub running: bool,
    /// The latest analysis (None until the first one is finished).
    pub result: Option<Value>,
    pub analysed_at: Option<Timestamp>,
}

/// One organisation's own intent with its example phrases.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentRecord {
    pub id: String,
    pub org_id: OrgId,
    pub name: String,
    pub examples: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A claim's state as stored: (state, fingerprint, owner, lease end in ms).
pub(crate) struct ClaimRow {
    pub state: String,
    pub fingerprint: Option<String>,
    pub owner: Option<String>,
    pub lease_until: Option<i64>,
}

/// What a claim does to the stored state (both backends decide alike).
pub(crate) fn decide(row: &ClaimRow, claim: &AnalysisClaim) -> Claimed {
    let now = claim.now.timestamp_millis();
    let leased = row.state == "running" && row.lease_until.is_some_and(|l| l > now);
    if leased && row.owner.as_deref() != Some(claim.owner.as_str()) {
        return if !claim.force && row.fingerprint.as_deref() == Some(claim.fingerprint.as_str()) {
            Claimed::Done
        } else {
            Claimed::Busy
        };
    }
    if !claim.force && row.state == "done" && row.fingerprint.as_deref() == Some(claim.fingerprint.as_str()) {
        return Claimed::Done;
    }
    Claimed::Claimed
}

/// The `analysis.complete` event's type.
pub const ANALYSIS_COMPLETE: &str = "analysis.complete";

// finish_analysis takes the claim, the result and its event in one call.
#[allow(clippy::too_many_arguments)]
#[async_trait]
pub trait AnalysisStore: Send + Sync {
    /// Claims a call for analysis (see the module docs); `NotFound` when
    /// the call is not the organisation's.
    async fn claim_analysis(&self, claim: AnalysisClaim) -> Result<Claimed>;
    /// Stores the analysis of a claimed call and writes `analysis.complete`
    /// with `event` as its data, in one transaction; answers false (and
    /// writes nothing) when the claim is no longer `owner`'s or the call
    /// is gone.
    async fn finish_analysis(
        &self,
        org: &OrgId,
        call: &CallId,
        owner: &str,
        status: &str,
        result: Value,
        event: Value,
        now: Timestamp,
    ) -> Result<bool>;
    /// The call's stored analysis, if it has one (or one is running).
    async fn get_analysis(&self, org: &OrgId, call: &CallId) -> Result<Option<StoredAnalysis>>;
    /// Calls whose analysis lease ran out before `now` (their worker died).
    async fn expired_analyses(&self, now: Timestamp, limit: u32) -> Result<Vec<(OrgId, CallId)>>;
    /// The analysis worker's position in the outbox (None before its first run).
    async fn analysis_cursor(&self) -> Result<Option<i64>>;
    /// Moves the position forward to `seq` (never back).
    async fn save_analysis_cursor(&self, seq: i64) -> Result<()>;
    /// The organisation's intelligence settings as saved (None: defaults).
    async fn intelligence_settings(&self, org: &OrgId) -> Result<Option<Value>>;
    async fn save_intelligence_settings(&self, org: &OrgId, settings: Value, now: Timestamp) -> Result<()>;
    /// Stores an intent; a name the organisation already uses is a conflict.
    async fn create_intent(&self, intent: IntentRecord) -> Result<IntentRecord>;
    /// The organisation's intents, by name.
    async fn list_intents(&self, org: &OrgId) -> Result<Vec<IntentRecord>>;
    async fn get_intent(&self, org: &OrgId, id: &str) -> Result<IntentRecord>;
    /// Saves name and examples; a name taken by another intent is a conflict.
    async fn update_intent(&self, intent: IntentRecord) -> Result<IntentRecord>;
    async fn delete_intent(&self, org: &OrgId, id: &str) -> Result<()>;
}
