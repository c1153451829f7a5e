//! Rows and shared statements of the webhook store on PostgreSQL: mapping
//! subscriptions, deliveries and attempts, and the writes several
//! operations share.

use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgConnection, Row};
use switchboard_domain::webhook::Attempt;
use switchboard_domain::{DomainEvent, OrgId, SignatureScheme, Timestamp, Webhook, WebhookId, WebhookSecret};

use super::rows::{Lock, ms, row_in_org};
use crate::webhooks::new_delivery_id;
use crate::{AttemptOutcome, NextStep, Page, Result, StoreError};

pub(super) const WEBHOOK_COLUMNS: &str = "id, org_id, url, events, description, enabled, scheme, secret, previous_secret, \
     previous_secret_expires_at, failing_since, disabled_reason, created_at, updated_at";

pub(super) fn scheme(s: &str) -> SignatureScheme {
    SignatureScheme::parse("scheme", s).unwrap_or_default()
}

pub(super) fn webhook_from_row(r: &PgRow) -> Result<Webhook> {
    let events: Json<Vec<String>> = r.try_get("events")?;
    Ok(Webhook {
        id: WebhookId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        url: r.try_get("url")?,
        events: events.0,
        description: r.try_get("description")?,
        enabled: r.try_get("enabled")?,
        scheme: scheme(r.try_get("scheme")?),
        secret: WebhookSecret::from_trusted(r.try_get("secret")?),
        previous_secret: r.try_get::<Option<String>, _>("previous_secret")?.map(WebhookSecret::from_trusted),
        previous_secret_expires_at: r.try_get("previous_secret_expires_at")?,
        failing_since: r.try_get("failing_since")?,
        disabled_reason: r.try_get("disabled_reason")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub(super) async fn load_webhook(c: &mut PgConnection, org: &OrgId, id: &WebhookId, lock: bool) -> Result<Webhook> {
    let lock = if lock { Lock::ForUpdate } else { Lock::None };
    row_in_org(c, ("webhooks", WEBHOOK_COLUMNS), org, id.as_str(), lock, webhook_from_row)
        .await?
        .ok_or(StoreError::NotFound("webhook"))
}

/// Inserts (`insert`) or rewrites every column of a subscription but its lease.
pub(super) async fn write_webhook(c: &mut PgConnection, w: &Webhook, insert: bool) -> Result<()> {
    let sql = if insert {
        format!("INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
    } else {
        "UPDATE webhooks SET url = $3, events = $4, description = $5, enabled = $6, scheme = $7, secret = $8, previous_secret = $9, \
         previous_secret_expires_at = $10, failing_since = $11, disabled_reason = $12, created_at = $13, updated_at = $14 \
         WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2"
            .to_owned()
    };
    sqlx::query(&sql)
        .bind(w.id.as_str())
        .bind(w.org_id.as_str())
        .bind(&w.url)
        .bind(Json(&w.events))
        .bind(&w.description)
        .bind(w.enabled)
        .bind(w.scheme.as_str())
        .bind(w.secret.expose())
        .bind(w.previous_secret.as_ref().map(WebhookSecret::expose))
        .bind(w.previous_secret_expires_at.map(ms))
        .bind(w.failing_since.map(ms))
        .bind(&w.disabled_reason)
        .bind(ms(w.created_at))
        .bind(ms(w.updated_at))
        .execute(c)
        .await?;
    Ok(())
}

/// Queues events for one subscription again (or for the first time):
/// pending, due at `now`, attempts counted afresh.
pub(super) async fn requeue(c: &mut PgConnection, org: &OrgId, webhook: &str, events: &[&DomainEvent], now: Timestamp) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, org_id, webhook_id, event_id, event_type, seq, status, attempts, next_attempt_at, created_at, updated_at) \
         SELECT e.id, $1, $2, e.event_id, e.event_type, e.seq, 'pending', 0, $3, $3, $3 \
         FROM UNNEST($4::text[], $5::text[], $6::text[], $7::bigint[]) AS e(id, event_id, event_type, seq) \
         ON CONFLICT (webhook_id, event_id) DO UPDATE SET status = 'pending', attempts = 0, \
         next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at",
    )
    .bind(org.as_str())
    .bind(webhook)
    .bind(ms(now))
    .bind(events.iter().map(|_| new_delivery_id()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.seq).collect::<Vec<_>>())
    .execute(c)
    .await?;
    Ok(())
}

/// Inserts attempts and moves their deliveries on, one statement each.
pub(super) async fn record(c: &mut PgConnection, outcomes: &[AttemptOutcome]) -> Result<()> {
    let a: Vec<&Attempt> = outcomes.iter().map(|o| &o.attempt).collect();
    sqlx::query(
        "INSERT INTO webhook_attempts (id, org_id, webhook_id, delivery_id, event_id, event_type, attempt, succeeded, status_code, \
         latency_ms, response_body, error, created_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bool[], $9::int[], \
         $10::bigint[], $11::text[], $12::text[], $13::timestamptz[])",
    )
    .bind(a.iter().map(|x| x.id.as_str()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.org_id.as_str()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.webhook_id.as_str()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.delivery_id.as_str()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.event_id.as_str()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.event_type.as_str()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.attempt as i32).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.succeeded).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.status_code.map(i32::from)).collect::<Vec<_>>())
    .bind(
        a.iter()
            .map(|x| i64::try_from(x.latency_ms).unwrap_or(i64::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(a.iter().map(|x| x.response_body.as_deref()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.error.as_deref()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| ms(x.created_at)).collect::<Vec<_>>())
    .execute(&mut *c)
    .await?;
    let steps: Vec<(&str, Timestamp)> = outcomes
        .iter()
        .map(|o| match o.next {
            NextStep::Succeeded => ("succeeded", o.attempt.created_at),
            NextStep::RetryAt(t) => ("failed", t),
            NextStep::GiveUp => ("dead", o.attempt.created_at),
        })
        .collect();
    sqlx::query(
        "UPDATE webhook_deliveries d SET status = u.status, attempts = u.attempts, next_attempt_at = u.next_at, \
         last_status_code = u.code, updated_at = u.at \
         FROM UNNEST($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::int[], $6::timestamptz[]) AS u(id, status, attempts, next_at, code, at) \
         WHERE d.id = u.id",
    )
    .bind(a.iter().map(|x| x.delivery_id.as_str()).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| s.0).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.attempt as i32).collect::<Vec<_>>())
    .bind(steps.iter().map(|s| ms(s.1)).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.status_code.map(i32::from)).collect::<Vec<_>>())
    .bind(a.iter().map(|x| ms(x.created_at)).collect::<Vec<_>>())
    .execute(c)
    .await?;
    Ok(())
}

/// Enabled subscriptions of these organisations: (id, org, filter, created_at).
pub(super) async fn enabled_webhooks(c: &mut PgConnection, orgs: &[&str]) -> Result<Vec<(String, String, Vec<String>, Timestamp)>> {
    let rows = sqlx::query("SELECT id, org_id, events, created_at FROM webhooks WHERE enabled AND org_id = ANY($1)")
        .bind(orgs)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            let events: Json<Vec<String>> = r.try_get("events")?;
            Ok((r.try_get("id")?, r.try_get("org_id")?, events.0, r.try_get("created_at")?))
        })
        .collect()
}

pub(super) fn page_args(page: Page) -> (i64, i64) {
    (i64::from(page.limit), i64::try_from(page.offset()).unwrap_or(i64::MAX))
}
