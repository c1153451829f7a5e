//! Rows and shared statements of the webhook store on SQLite: mapping
//! subscriptions, deliveries and attempts, and the writes several
//! operations share.

use rusqlite::{Connection, OptionalExtension, Row, params};
use switchboard_domain::webhook::{Attempt, Delivery, DeliveryStatus};
use switchboard_domain::{
    AttemptId, DeliveryId, DomainEvent, EventId, OrgId, SignatureScheme, Timestamp, Webhook, WebhookId, WebhookSecret,
};

use super::rows::{insert_events, ms, ts};
use crate::webhooks::{disabled_event, disabled_reason, health_after, new_delivery_id};
use crate::{AttemptOutcome, NextStep, Result, StoreError};

pub(super) const WEBHOOK_COLUMNS: &str = "id, org_id, url, events, description, enabled, scheme, secret, previous_secret, \
     previous_secret_expires_at, failing_since, disabled_reason, created_at, updated_at";

pub(super) fn scheme(s: &str) -> SignatureScheme {
    SignatureScheme::parse("scheme", s).unwrap_or_default()
}

pub(super) fn webhook_from_row(r: &Row<'_>) -> rusqlite::Result<Webhook> {
    let events: String = r.get(3)?;
    Ok(Webhook {
        id: WebhookId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        url: r.get(2)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        description: r.get(4)?,
        enabled: r.get(5)?,
        scheme: scheme(&r.get::<_, String>(6)?),
        secret: WebhookSecret::from_trusted(r.get(7)?),
        previous_secret: r.get::<_, Option<String>>(8)?.map(WebhookSecret::from_trusted),
        previous_secret_expires_at: r.get::<_, Option<i64>>(9)?.map(ts),
        failing_since: r.get::<_, Option<i64>>(10)?.map(ts),
        disabled_reason: r.get(11)?,
        created_at: ts(r.get(12)?),
        updated_at: ts(r.get(13)?),
    })
}

pub(super) fn events_text(w: &Webhook) -> String {
    serde_json::to_string(&w.events).unwrap_or_else(|_| "[]".into())
}

pub(super) fn load_webhook(c: &Connection, org: &OrgId, id: &WebhookId) -> Result<Webhook> {
    c.prepare_cached(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?1 AND org_id = ?2"))?
        .query_row(params![id.as_str(), org.as_str()], webhook_from_row)
        .optional()?
        .ok_or(StoreError::NotFound("webhook"))
}

/// Writes every column of a subscription but its lease.
pub(super) fn save_webhook(c: &Connection, w: &Webhook) -> Result<()> {
    c.prepare_cached(
        "UPDATE webhooks SET url = ?3, events = ?4, description = ?5, enabled = ?6, scheme = ?7, secret = ?8, previous_secret = ?9, \
         previous_secret_expires_at = ?10, failing_since = ?11, disabled_reason = ?12, updated_at = ?13 WHERE id = ?1 AND org_id = ?2",
    )?
    .execute(params![
        w.id.as_str(),
        w.org_id.as_str(),
        w.url,
        events_text(w),
        w.description,
        w.enabled,
        w.scheme.as_str(),
        w.secret.expose(),
        w.previous_secret.as_ref().map(WebhookSecret::expose),
        w.previous_secret_expires_at.map(ms),
        w.failing_since.map(ms),
        w.disabled_reason,
        ms(w.updated_at),
    ])?;
    Ok(())
}

/// Queues an event for a subscription again (or for the first time):
/// pending, due at `now`, attempts counted afresh.
pub(super) fn requeue(c: &Connection, org: &OrgId, webhook: &str, event: &DomainEvent, now: Timestamp) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO webhook_deliveries (id, org_id, webhook_id, event_id, event_type, seq, status, attempts, next_attempt_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7, ?7) \
         ON CONFLICT (webhook_id, event_id) DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = excluded.next_attempt_at, \
         updated_at = excluded.updated_at",
    )?
    .execute(params![
        new_delivery_id(),
        org.as_str(),
        webhook,
        event.id.as_str(),
        event.event_type,
        event.seq,
        ms(now)
    ])?;
    Ok(())
}

/// Enabled subscriptions of an organisation: (id, filter, created_at).
pub(super) fn enabled_webhooks(c: &Connection, org: &str) -> Result<Vec<(String, Vec<String>, Timestamp)>> {
    Ok(
        c.prepare_cached("SELECT id, events, created_at FROM webhooks WHERE org_id = ?1 AND enabled = 1")?
            .query_map([org], |r| {
                let events: String = r.get(1)?;
                Ok((r.get(0)?, serde_json::from_str(&events).unwrap_or_default(), ts(r.get(2)?)))
            })?
            .collect::<rusqlite::Result<_>>()?,
    )
}

pub(super) fn delivery_from_row(r: &Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: DeliveryId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        webhook_id: WebhookId::from_trusted(r.get(2)?),
        event_id: EventId::from_trusted(r.get(3)?),
        event_type: r.get(4)?,
        seq: r.get(5)?,
        status: DeliveryStatus::parse(&r.get::<_, String>(6)?).unwrap_or(DeliveryStatus::Pending),
        attempts: r.get(7)?,
        next_attempt_at: ts(r.get(8)?),
        last_status_code: r.get(9)?,
        created_at: ts(r.get(10)?),
        updated_at: ts(r.get(11)?),
    })
}

pub(super) fn attempt_from_row(r: &Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: AttemptId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        webhook_id: WebhookId::from_trusted(r.get(2)?),
        delivery_id: DeliveryId::from_trusted(r.get(3)?),
        event_id: EventId::from_trusted(r.get(4)?),
        event_type: r.get(5)?,
        attempt: r.get(6)?,
        succeeded: r.get(7)?,
        status_code: r.get(8)?,
        latency_ms: r.get::<_, i64>(9)?.max(0) as u64,
        response_body: r.get(10)?,
        error: r.get(11)?,
        created_at: ts(r.get(12)?),
    })
}

pub(super) fn insert_attempt(c: &Connection, a: &Attempt) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO webhook_attempts (id, org_id, webhook_id, delivery_id, event_id, event_type, attempt, succeeded, status_code, \
         latency_ms, response_body, error, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        a.id.as_str(),
        a.org_id.as_str(),
        a.webhook_id.as_str(),
        a.delivery_id.as_str(),
        a.event_id.as_str(),
        a.event_type,
        a.attempt,
        a.succeeded,
        a.status_code,
        i64::try_from(a.latency_ms).unwrap_or(i64::MAX),
        a.response_body,
        a.error,
        ms(a.created_at),
    ])?;
    Ok(())
}

pub(super) fn apply_outcome(c: &Connection, o: &AttemptOutcome) -> Result<()> {
    let (status, next) = match o.next {
        NextStep::Succeeded => ("succeeded", o.attempt.created_at),
        NextStep::RetryAt(t) => ("failed", t),
        NextStep::GiveUp => ("dead", o.attempt.created_at),
    };
    c.prepare_cached(
        "UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_attempt_at = ?4, last_status_code = ?5, updated_at = ?6 WHERE id = ?1",
    )?
    .execute(params![
        o.attempt.delivery_id.as_str(),
        status,
        o.attempt.attempt,
        ms(next),
        o.attempt.status_code,
        ms(o.attempt.created_at)
    ])?;
    Ok(())
}

/// Records one subscription's attempts and releases its lease.
pub(super) fn finish_one(c: &Connection, owner: &str, id: &WebhookId, outcomes: &[AttemptOutcome], now: Timestamp) -> Result<()> {
    for o in outcomes {
        insert_attempt(c, &o.attempt)?;
        apply_outcome(c, o)?;
    }
    let row: Option<(String, String, bool, Option<i64>)> = c
        .prepare_cached("SELECT org_id, url, enabled, failing_since FROM webhooks WHERE id = ?1")?
        .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    // Deleted meanwhile: its deliveries went with it.
    let Some((org, url, enabled, failing)) = row else { return Ok(()) };
    let (failing, disable) = health_after(failing.map(ts), outcomes);
    c.prepare_cached("UPDATE webhooks SET failing_since = ?2 WHERE id = ?1")?
        .execute(params![id.as_str(), failing.map(ms)])?;
    c.prepare_cached("UPDATE webhooks SET lease_owner = NULL, lease_until = NULL, last_served_at = ?3 WHERE id = ?1 AND lease_owner = ?2")?
        .execute(params![id.as_str(), owner, ms(now)])?;
    if let (true, true, Some(since)) = (disable, enabled, failing) {
        c.prepare_cached("UPDATE webhooks SET enabled = 0, disabled_reason = ?2, updated_at = ?3 WHERE id = ?1")?
            .execute(params![id.as_str(), disabled_reason(since), ms(now)])?;
        let org = OrgId::from_trusted(org);
        insert_events(c, &[disabled_event(&org, id, &url, since, now)])?;
    }
    Ok(())
}
