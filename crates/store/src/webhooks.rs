//! The webhook store: subscriptions, the fan-out of outbox events into
//! deliveries, leased claiming of due deliveries, and the attempt log.
//!
//! Fan-out reads the outbox after a cursor kept in the database and, in one
//! transaction, inserts one delivery per matching subscription and advances
//! the cursor: a crash neither loses nor duplicates a delivery. Claiming
//! leases whole subscriptions (with their oldest due deliveries, in event
//! order), so one subscription is served by one worker at a time across
//! every node, and no two nodes send the same attempt.

use async_trait::async_trait;
use serde_json::json;
use switchboard_domain::webhook::{Attempt, Delivery, WebhookPatch};
use switchboard_domain::{DeliveryId, DomainEvent, EventId, OrgId, SignatureScheme, Timestamp, Webhook, WebhookId, WebhookSecret};

use crate::{IdemKey, Page, Result};

/// What one fan-out step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Outbox events read (and passed by the cursor).
    pub events: u64,
    /// Delivery rows inserted.
    pub deliveries: u64,
    /// The cursor after the step.
    pub cursor: i64,
}

/// A claim request: lease up to `max_webhooks` subscriptions that have due
/// deliveries, and take up to `per_webhook` of each one's due deliveries.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Who holds the lease (a node's worker id).
    pub owner: String,
    pub now: Timestamp,
    /// The lease ends at `now + lease`; an unfinished batch is then claimable again.
    pub lease: chrono::TimeDelta,
    pub max_webhooks: u32,
    pub per_webhook: u32,
}

/// Where to send, and how to sign, for one leased subscription.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    pub id: WebhookId,
    pub org_id: OrgId,
    pub url: String,
    pub scheme: SignatureScheme,
    /// The current secret first, then the previous one while it still signs.
    pub secrets: Vec<WebhookSecret>,
}

/// One delivery to send: the event as stored in the outbox.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub delivery_id: DeliveryId,
    /// Attempts made so far.
    pub attempts: u32,
    pub event: DomainEvent,
}

/// A leased subscription and its due deliveries, oldest event first.
#[derive(Debug, Clone)]
pub struct ClaimedBatch {
    pub webhook: WebhookTarget,
    pub jobs: Vec<DeliveryJob>,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Succeeded,
    /// Failed; try again at this instant.
    RetryAt(Timestamp),
    /// Failed for the last time.
    GiveUp,
}

/// The outcome of one attempt, to log and apply.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub attempt: Attempt,
    pub next: NextStep,
}

/// The attempts made for one leased subscription, in order.
#[derive(Debug, Clone)]
pub struct Finished {
    pub webhook: WebhookId,
    pub outcomes: Vec<AttemptOutcome>,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook(&self, webhook: Webhook, idem: Option<IdemKey>) -> Result<Webhook>;
    async fn get_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<Webhook>;
    /// A page of subscriptions, newest first, and how many there are.
    async fn list_webhooks(&self, org: &OrgId, page: Page) -> Result<(Vec<Webhook>, u64)>;
    /// Applies a validated patch.
    async fn update_webhook(&self, org: &OrgId, id: &WebhookId, patch: WebhookPatch) -> Result<Webhook>;
    /// Deletes a subscription with its deliveries and attempt log.
    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<()>;
    /// Makes `secret` the signing secret; the old one keeps signing beside
    /// it until `now` + 24 h.
    async fn rotate_webhook_secret(
        &self,
        org: &OrgId,
        id: &WebhookId,
        secret: WebhookSecret,
        now: Timestamp,
        idem: Option<IdemKey>,
    ) -> Result<Webhook>;

    /// Reads up to `limit` outbox events after the dispatch cursor and, in
    /// one transaction, inserts a delivery for every enabled subscription of
    /// the event's organisation whose filter takes it (and that existed when
    /// the event happened), and advances the cursor. Nodes sharing a
    /// database take turns.
    async fn fan_out(&self, limit: u32) -> Result<FanOut>;
    /// Leases subscriptions with due deliveries (see [`Claim`]).
    async fn claim_deliveries(&self, claim: Claim) -> Result<Vec<ClaimedBatch>>;
    /// Logs attempts made under leases, moves their deliveries on, keeps
    /// each subscription's failure record (disabling it, with a
    /// `webhook.disabled` event, after 5 days of failures) and releases the
    /// leases — for many subscriptions in one transaction.
    async fn finish_deliveries(&self, owner: &str, finished: Vec<Finished>) -> Result<()>;
    /// A page of a subscription's attempts, newest first.
    /// Forgets attempts and finished (succeeded or dead) deliveries older
    /// than `before`, at most `limit` rows of each per call; answers how
    /// many rows went. Deliveries still due are never touched.
    async fn prune_webhook_log(&self, before: Timestamp, limit: u32) -> Result<u64>;
    async fn list_attempts(&self, org: &OrgId, webhook: &WebhookId, page: Page) -> Result<(Vec<Attempt>, u64)>;
    /// A page of a subscription's deliveries, oldest event first.
    async fn list_deliveries(&self, org: &OrgId, webhook: &WebhookId, page: Page) -> Result<(Vec<Delivery>, u64)>;
    /// Queues again every event of the organisation since `since` that the
    /// subscription's filter takes; answers how many.
    async fn replay_webhook(&self, org: &OrgId, id: &WebhookId, since: Timestamp, now: Timestamp, idem: Option<IdemKey>) -> Result<u64>;
    /// Queues one event again for every enabled subscription that takes it;
    /// answers how many.
    async fn redeliver_event(&self, org: &OrgId, event: &EventId, now: Timestamp, idem: Option<IdemKey>) -> Result<u64>;
}

/// What replays and redeliveries answer (stored for idempotent replays).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(crate) struct Enqueued {
    pub enqueued: u64,
}

/// The `webhook.disabled` event for a subscription disabled at `now`.
pub(crate) fn disabled_event(org: &OrgId, id: &WebhookId, url: &str, failing_since: Timestamp, now: Timestamp) -> DomainEvent {
    DomainEvent::new(
        org,
        "webhook.disabled",
        json!({
            "webhookId": id,
            "url": url,
            "failingSince": failing_since,
            "reason": "every attempt failed for 5 days",
        }),
        now,
    )
}

/// The disable reason stored on the subscription.
pub(crate) fn disabled_reason(failing_since: Timestamp) -> String {
    format!(
        "disabled automatically: every attempt failed since {}",
        failing_since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// A subscription's failure record after a batch of attempts, in order:
/// cleared by a success, started by the first failure. Answers the new
/// `failing_since` and whether the subscription must now be disabled.
pub(crate) fn health_after(mut failing_since: Option<Timestamp>, outcomes: &[AttemptOutcome]) -> (Option<Timestamp>, bool) {
    let mut disable = false;
    for o in outcomes {
        if o.attempt.succeeded {
            failing_since = None;
            disable = false;
        } else {
            let since = *failing_since.get_or_insert(o.attempt.created_at);
            disable = o.attempt.created_at - since >= switchboard_domain::webhook::DISABLE_AFTER;
        }
    }
    (failing_since, disable)
}

/// A fresh delivery id (time-ordered, like every id).
pub(crate) fn new_delivery_id() -> String {
    DeliveryId::new().to_string()
}
