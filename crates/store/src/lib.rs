//! Switchboard's persistence layer.
//!
//! Narrow traits per aggregate ([`OrgStore`], [`KeyStore`], [`CallStore`],
//! [`ContactStore`], [`IdempotencyStore`], [`OutboxStore`], [`WebhookStore`]) gathered in
//! [`Store`], with two implementations: SQLite (the embedded default, WAL,
//! one writer thread that commits in groups) and PostgreSQL (scale-out).
//! Every state change writes its domain events to the outbox in the same
//! transaction. [`conformance`] holds the suite both must pass.

pub mod agents;
pub mod analysis;
pub mod campaigns;
pub mod conformance;
pub mod conformance_agents;
pub mod conformance_analysis;
pub mod conformance_campaigns;
pub mod conformance_conversations;
pub mod conformance_queues;
pub mod conformance_routing;
pub mod conversations;
mod error;
mod logic;
pub mod postgres;
pub mod queues;
pub mod routing;
pub mod sqlite;
mod types;
pub mod webhook_conformance;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use switchboard_domain::call::CallReport;
use switchboard_domain::contact::ContactPatch;
use switchboard_domain::id::SessionId;
use switchboard_domain::{
    ApiKey, ApiKeyId, AuditEntry, Call, CallId, Contact, ContactId, DomainEvent, OrgId, Organisation, Timestamp, User, UserId,
};

pub use agents::{AgentFilter, AgentStore};
pub use analysis::{AnalysisClaim, AnalysisStore, Claimed, IntentRecord, StoredAnalysis};
pub use campaigns::{CampaignStats, CampaignStore, DialOutcome, DialParams, Dialed, ImportCounts, LiveCall, StagedContact, TemplateFilter};
pub use conversations::{ConversationStore, DialRequest, Placement, SingleDialOutcome};
pub use error::StoreError;
pub use queues::QueueStore;
pub use routing::RoutingStore;
pub use types::*;
pub use webhooks::*;

pub type Result<T> = std::result::Result<T, StoreError>;

/// The whole store, as the server sees it.
pub type DynStore = Arc<dyn Store>;

#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Creates an organisation; a taken slug is a conflict.
    async fn create_org(&self, org: Organisation) -> Result<Organisation>;
    async fn get_org(&self, id: &OrgId) -> Result<Organisation>;
    async fn org_by_slug(&self, slug: &str) -> Result<Option<Organisation>>;
    async fn list_orgs(&self) -> Result<Vec<Organisation>>;
    /// Saves an organisation's settings (name, region, zone, phone check, plan);
    /// its id and slug never change.
    async fn update_org(&self, org: Organisation) -> Result<Organisation>;
    /// Creates `org` and its first key only when no organisation exists yet.
    /// Answers whether it did.
    async fn bootstrap(&self, org: Organisation, key: ApiKey, key_hash: String) -> Result<bool>;
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn create_key(&self, key: ApiKey, key_hash: String) -> Result<ApiKey>;
    /// The key with this secret hash, revoked or not.
    async fn key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>>;
    async fn list_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>>;
    /// Revokes a key from `at` on (a future time lets a rotated key overlap
    /// its successor); revoking again keeps the earlier time.
    async fn revoke_key(&self, org: &OrgId, id: &ApiKeyId, at: Timestamp) -> Result<ApiKey>;
}

#[async_trait]
pub trait CallStore: Send + Sync {
    /// Stores a new call with its first timeline entry and its
    /// `call.<status>` event, counting it against the organisation's monthly
    /// quota (refused with `QuotaExceeded` beyond it). A taken external id
    /// is a conflict.
    async fn create_call(&self, call: Call, idem: Option<IdemKey>) -> Result<Call>;
    /// Stores a new call the platform is about to place through its
    /// carrier: as `create_call`, and refused with `TooManyLiveCalls` when
    /// the organisation already has its plan's cap of calls live (calls in
    /// a live status created within `org::LIVE_WINDOW_SECS` of `now`). The
    /// check runs in the writing transaction, serialised with the dialer's,
    /// so the cap holds under concurrent placing.
    async fn create_placed_call(&self, call: Call, now: Timestamp) -> Result<Call>;
    /// One call with its timeline.
    async fn get_call(&self, org: &OrgId, id: &CallId) -> Result<Call>;
    async fn call_by_external_id(&self, org: &OrgId, external_id: &str) -> Result<Option<Call>>;
    /// A page of calls, newest first, and the number matching the filter.
    async fn list_calls(&self, org: &OrgId, filter: &CallFilter, page: Page) -> Result<(Vec<Call>, u64)>;
    /// One page of calls, newest first ((occurred_at, id) descending),
    /// counting nothing: with `before`, the calls after that position in
    /// this order — a keyset seek with the row-value condition
    /// `(occurred_at, id) < (?, ?)` on the index that matches the filter,
    /// as cheap at the millionth row as at the first; without it, the
    /// calls after skipping `offset` (callers bound the offset).
    async fn calls_page(&self, org: &OrgId, filter: &CallFilter, before: Option<CallCursor>, offset: u64, limit: u32) -> Result<Vec<Call>>;
    /// Exactly how many calls match the filter (a count over the matching
    /// index: cheap for narrow filters such as one contact or customer).
    async fn count_calls(&self, org: &OrgId, filter: &CallFilter) -> Result<u64>;
    /// Applies a carrier or backend report to a call, found by id or by
    /// external id (creating it from `target`'s template when the external
    /// id is new).
    async fn report_call(&self, org: &OrgId, target: CallTarget, report: CallReport, idem: Option<IdemKey>) -> Result<ReportOutcome>;
    /// Cancels a call that has not been dialled yet.
    async fn cancel_call(&self, org: &OrgId, id: &CallId, idem: Option<IdemKey>) -> Result<ReportOutcome>;
    async fn delete_call(&self, org: &OrgId, id: &CallId) -> Result<()>;
    /// Writes a recording or transcript event of an existing call into the
    /// outbox (`NotFound` when the call is not this organisation's).
    async fn record_media_event(&self, org: &OrgId, id: &CallId, event: MediaEvent, data: serde_json::Value) -> Result<()>;
}

/// Events about a call's media, written after the fact by the recordings worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// `recording.ready`
    RecordingReady,
    /// `transcription.complete`
    TranscriptionComplete,
}

impl MediaEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RecordingReady => "recording.ready",
            Self::TranscriptionComplete => "transcription.complete",
        }
    }
}

#[async_trait]
pub trait ContactStore: Send + Sync {
    /// Stores a new contact; a taken external id is a conflict.
    async fn create_contact(&self, contact: Contact, idem: Option<IdemKey>) -> Result<Contact>;
    async fn get_contact(&self, org: &OrgId, id: &ContactId) -> Result<Contact>;
    async fn update_contact(&self, org: &OrgId, id: &ContactId, patch: ContactPatch) -> Result<Contact>;
    async fn delete_contact(&self, org: &OrgId, id: &ContactId) -> Result<()>;
    async fn list_contacts(&self, org: &OrgId, filter: &ContactFilter, page: Page) -> Result<(Vec<Contact>, u64)>;
    /// The most recent calls with this contact.
    async fn contact_calls(&self, org: &OrgId, id: &ContactId, limit: u32) -> Result<Vec<Call>>;
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The stored outcome of an earlier request with this key.
    async fn idempotent_result(&self, org: &OrgId, key: &str) -> Result<Option<IdemRecord>>;
    /// Stores an outcome under `key` after the fact (for routes whose
    /// writes do not store it themselves); a key already taken keeps its
    /// first outcome.
    async fn save_idempotent_result(&self, org: &OrgId, key: IdemKey, body: String) -> Result<()>;
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Events with a sequence number above `after`, in order, across
    /// organisations (for workers).
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<DomainEvent>>;
    /// One organisation's events above `after`, in order.
    async fn org_events_after(&self, org: &OrgId, after: i64, limit: u32) -> Result<Vec<DomainEvent>>;
    /// Deletes up to `limit` events created before `before` that webhook
    /// fan-out has passed and no delivery still waits on, oldest first (the
    /// newest event always stays: numbering continues from it), and
    /// raises [`Self::outbox_pruned_through`] to the newest one deleted, in
    /// the same transaction; answers how many went.
    async fn prune_outbox(&self, before: Timestamp, limit: u32) -> Result<u64>;
    /// The highest sequence number pruning ever deleted (0 when none): a
    /// reader whose position is below it may have missed events.
    async fn outbox_pruned_through(&self) -> Result<i64>;
    /// A bell that rings (its counter changes) after events may have been
    /// committed: at once for this process's own commits, and on
    /// PostgreSQL also when another node commits (through `LISTEN/NOTIFY`;
    /// once this returns, the node listens). A ring says only "read the
    /// outbox again"; it may be spurious, and a tailer keeps a slow poll as
    /// a safety net (a notification sent while the listening connection was
    /// being re-established is lost).
    async fn outbox_bell(&self) -> Result<OutboxBell>;
}

/// See [`OutboxStore::outbox_bell`].
pub type OutboxBell = tokio::sync::watch::Receiver<u64>;

/// Users, logins, the audit log, usage counters and server secrets.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Stores a user; an e-mail taken in the same organisation is a
    /// conflict (other organisations may use it too).
    async fn create_user(&self, user: User, password_hash: String) -> Result<User>;
    async fn get_user(&self, org: &OrgId, id: &UserId) -> Result<User>;
    /// The user with this e-mail in `org`, or (without one) the e-mail's
    /// oldest account in any organisation; with the password hash.
    async fn user_by_email(&self, email: &str, org: Option<&OrgId>) -> Result<Option<(User, String)>>;
    /// Saves a user (and a new password hash when given).
    async fn update_user(&self, user: User, password_hash: Option<String>) -> Result<User>;
    async fn list_users(&self, org: &OrgId, filter: &UserFilter, page: Page) -> Result<(Vec<User>, u64)>;
    async fn save_refresh_token(&self, token: RefreshToken) -> Result<()>;
    /// Spends a refresh token once; a second use revokes its whole session.
    async fn spend_refresh_token(&self, hash: &str, now: Timestamp) -> Result<Spent>;
    async fn revoke_session(&self, session: &SessionId, now: Timestamp) -> Result<()>;
    /// Whether the session was ended (logout, or a refresh token reused).
    async fn session_revoked(&self, session: &SessionId) -> Result<bool>;
    async fn append_audit(&self, entry: AuditEntry) -> Result<()>;
    /// Newest first.
    async fn list_audit(&self, org: &OrgId, page: Page) -> Result<(Vec<AuditEntry>, u64)>;
    /// Calls created in a calendar month (`month` is `YYYY-MM`, spanning
    /// `[from, to)`): the quota counter when the plan keeps one, else a count.
    async fn calls_in_month(&self, org: &OrgId, month: &str, from: Timestamp, to: Timestamp) -> Result<u64>;
    /// The stored secret `name`, storing `candidate` first if there is none
    /// (so every node of a cluster ends up with the same one).
    async fn server_secret(&self, name: &str, candidate: String) -> Result<String>;
}

/// What the analytics index reads: compact facts about calls, bulk loads and
/// the outbox head it tails from.
#[async_trait]
pub trait AnalyticsSource: Send + Sync {
    /// The sequence number of the newest event in the outbox (0 when empty),
    /// never below [`OutboxStore::outbox_pruned_through`]. Every event at or
    /// below it is visible to `events_after` or was pruned.
    async fn outbox_head(&self) -> Result<i64>;
    /// Facts of all calls (every organisation) with ids above `after`, in id order.
    async fn call_facts_page(&self, after: Option<CallId>, limit: u32) -> Result<Vec<CallFacts>>;
    /// Facts of these calls, in any order; deleted calls are simply absent.
    async fn call_facts(&self, ids: &[CallId]) -> Result<Vec<CallFacts>>;
    /// Stores many calls at once (imports, benchmarks) without per-call
    /// timeline entries; writes one `calls.imported` event per call batch,
    /// listing the ids, in the same transaction.
    async fn import_calls(&self, calls: Vec<Call>) -> Result<u64>;
    /// One organisation's calls after `after` in (occurred_at, id) order:
    /// a cursor for streaming exports in constant memory (the row-value
    /// seek `(occurred_at, id) > (?, ?)`, flat cost from first row to last).
    async fn calls_after(&self, org: &OrgId, filter: &CallFilter, after: Option<CallCursor>, limit: u32) -> Result<Vec<Call>>;
}

#[async_trait]
pub trait Store:
    OrgStore
    + KeyStore
    + CallStore
    + ContactStore
    + IdempotencyStore
    + OutboxStore
    + AnalyticsSource
    + IdentityStore
    + CampaignStore
    + ConversationStore
    + AnalysisStore
    + WebhookStore
    + AgentStore
    + QueueStore
    + RoutingStore
{
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;
    /// What an operator watches (`/metrics`): queues and live work.
    async fn gauges(&self) -> Result<Gauges>;
}

/// Figures of the whole store (every organisation) for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    /// The newest outbox position (see [`AnalyticsSource::outbox_head`]).
    pub outbox_head: i64,
    /// The outbox position the webhook fan-out has dispatched through.
    pub webhook_dispatched_through: i64,
    /// Webhook deliveries waiting for a (first or next) attempt.
    pub webhook_queued: u64,
    /// Calls in a live status (queued, initiated, ringing, in progress).
    pub live_calls: u64,
}
