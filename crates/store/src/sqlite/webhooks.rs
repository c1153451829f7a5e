//! The webhook store on SQLite. Fan-out, claims and results are writes on
//! the one writer thread, so they join its group commits; the due
//! deliveries of a claim are read on a reader once the lease is committed.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};
use switchboard_domain::webhook::{Attempt, Delivery, WebhookPatch};
use switchboard_domain::{DeliveryId, DomainEvent, EventId, OrgId, Timestamp, Webhook, WebhookId, WebhookSecret, webhook};

use super::SqliteStore;
use super::rows::{event_from_row, insert_idem, ms, ts};
use super::webhook_rows::*;
use crate::webhooks::{Enqueued, new_delivery_id};
use crate::{Claim, ClaimedBatch, DeliveryJob, FanOut, Finished, IdemKey, Page, Result, StoreError, WebhookStore, WebhookTarget};

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, webhook: Webhook, idem: Option<IdemKey>) -> Result<Webhook> {
        self.write(move |c| {
            let w = &webhook;
            c.prepare_cached(&format!(
                "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ))?
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
                ms(w.created_at),
                ms(w.updated_at),
            ])?;
            insert_idem(c, &w.org_id, &idem, w)?;
            Ok(webhook)
        })
        .await
    }

    async fn get_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<Webhook> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| load_webhook(c, &org, &id)).await
    }

    async fn list_webhooks(&self, org: &OrgId, page: Page) -> Result<(Vec<Webhook>, u64)> {
        let org = org.clone();
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM webhooks WHERE org_id = ?1")?
                .query_row([org.as_str()], |r| r.get(0))?;
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
                ))?
                .query_map(params![org.as_str(), page.limit, page.offset() as i64], webhook_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn update_webhook(&self, org: &OrgId, id: &WebhookId, patch: WebhookPatch) -> Result<Webhook> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let mut w = load_webhook(c, &org, &id)?;
            if patch.apply(&mut w, switchboard_domain::now())? {
                save_webhook(c, &w)?;
            }
            Ok(w)
        })
        .await
    }

    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<()> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            load_webhook(c, &org, &id)?;
            for sql in [
                "DELETE FROM webhook_attempts WHERE webhook_id = ?1",
                "DELETE FROM webhook_deliveries WHERE webhook_id = ?1",
                "DELETE FROM webhooks WHERE id = ?1",
            ] {
                c.prepare_cached(sql)?.execute([id.as_str()])?;
            }
            Ok(())
        })
        .await
    }

    async fn rotate_webhook_secret(
        &self,
        org: &OrgId,
        id: &WebhookId,
        secret: WebhookSecret,
        now: Timestamp,
        idem: Option<IdemKey>,
    ) -> Result<Webhook> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let mut w = load_webhook(c, &org, &id)?;
            w.previous_secret = Some(std::mem::replace(&mut w.secret, secret.clone()));
            w.previous_secret_expires_at = Some(now + webhook::PREVIOUS_SECRET_TTL);
            w.updated_at = now;
            save_webhook(c, &w)?;
            insert_idem(c, &org, &idem, &w)?;
            Ok(w)
        })
        .await
    }

    async fn fan_out(&self, limit: u32) -> Result<FanOut> {
        self.write(move |c| {
            let cursor: i64 = c.query_row("SELECT cursor FROM webhook_dispatch WHERE id = 1", [], |r| r.get(0))?;
            let events: Vec<(i64, String, String, String, i64)> = c
                .prepare_cached("SELECT seq, id, org_id, event_type, created_at FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")?
                .query_map(params![cursor, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let Some(last) = events.last().map(|e| e.0) else {
                return Ok(FanOut {
                    events: 0,
                    deliveries: 0,
                    cursor,
                });
            };
            let mut subs: HashMap<String, Vec<(String, Vec<String>, Timestamp)>> = HashMap::new();
            let mut insert = c.prepare_cached(
                "INSERT OR IGNORE INTO webhook_deliveries (id, org_id, webhook_id, event_id, event_type, seq, status, attempts, \
                 next_attempt_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?8, ?8)",
            )?;
            let now = ms(switchboard_domain::now());
            let mut deliveries = 0;
            for (seq, id, org, event_type, created) in &events {
                if !subs.contains_key(org) {
                    subs.insert(org.clone(), enabled_webhooks(c, org)?);
                }
                for (wh, filter, wh_created) in &subs[org] {
                    if ms(*wh_created) <= *created && webhook::filter_matches(filter, event_type) {
                        // Due since the event happened: first attempts go out in event order.
                        deliveries += insert.execute(params![new_delivery_id(), org, wh, id, event_type, seq, created, now])? as u64;
                    }
                }
            }
            c.prepare_cached("UPDATE webhook_dispatch SET cursor = ?1 WHERE id = 1")?
                .execute([last])?;
            Ok(FanOut {
                events: events.len() as u64,
                deliveries,
                cursor: last,
            })
        })
        .await
    }

    async fn claim_deliveries(&self, claim: Claim) -> Result<Vec<ClaimedBatch>> {
        let (owner, now, until) = (claim.owner.clone(), ms(claim.now), ms(claim.now + claim.lease));
        let max = claim.max_webhooks;
        let targets: Vec<(WebhookTarget, Option<String>, Option<i64>)> = self
            .write(move |c| {
                Ok(c.prepare_cached(
                    "UPDATE webhooks SET lease_owner = ?1, lease_until = ?2 WHERE id IN (\
                       SELECT w.id FROM webhooks w WHERE w.enabled = 1 AND (w.lease_until IS NULL OR w.lease_until <= ?3) \
                       AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status IN ('pending', 'failed') \
                                   AND d.next_attempt_at <= ?3) \
                       ORDER BY w.last_served_at LIMIT ?4) \
                     RETURNING id, org_id, url, scheme, secret, previous_secret, previous_secret_expires_at",
                )?
                .query_map(params![owner, until, now, max], |r| {
                    Ok((
                        WebhookTarget {
                            id: WebhookId::from_trusted(r.get(0)?),
                            org_id: OrgId::from_trusted(r.get(1)?),
                            url: r.get(2)?,
                            scheme: scheme(&r.get::<_, String>(3)?),
                            secrets: vec![WebhookSecret::from_trusted(r.get(4)?)],
                        },
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?)
            })
            .await?;
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let per = claim.per_webhook;
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.id, d.attempts, o.seq, o.id, o.org_id, o.event_type, o.data, o.created_at \
                 FROM webhook_deliveries d JOIN outbox o ON o.id = d.event_id \
                 WHERE d.webhook_id = ?1 AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= ?2 ORDER BY d.seq LIMIT ?3",
            )?;
            let mut out = Vec::with_capacity(targets.len());
            for (mut target, prev, prev_until) in targets {
                if let (Some(p), Some(u)) = (prev, prev_until)
                    && u > now
                {
                    target.secrets.push(WebhookSecret::from_trusted(p));
                }
                let jobs = stmt
                    .query_map(params![target.id.as_str(), now, per], |r| {
                        Ok(DeliveryJob {
                            delivery_id: DeliveryId::from_trusted(r.get(0)?),
                            attempts: r.get(1)?,
                            event: event_from_row_at(r, 2)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                out.push(ClaimedBatch { webhook: target, jobs });
            }
            Ok(out)
        })
        .await
    }

    async fn finish_deliveries(&self, owner: &str, finished: Vec<Finished>) -> Result<()> {
        let (owner, finished) = (owner.to_owned(), Arc::new(finished));
        self.write(move |c| {
            let now = switchboard_domain::now();
            for f in finished.iter() {
                finish_one(c, &owner, &f.webhook, &f.outcomes, now)?;
            }
            Ok(())
        })
        .await
    }

    async fn prune_webhook_log(&self, before: Timestamp, limit: u32) -> Result<u64> {
        self.write(move |c| {
            let attempts = c
                .prepare_cached(
                    "DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM webhook_attempts WHERE created_at < ?1 LIMIT ?2)",
                )?
                .execute(params![ms(before), limit])?;
            let deliveries = c
                .prepare_cached(
                    "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
                     WHERE status IN ('succeeded', 'dead') AND updated_at < ?1 LIMIT ?2)",
                )?
                .execute(params![ms(before), limit])?;
            Ok((attempts + deliveries) as u64)
        })
        .await
    }

    async fn list_attempts(&self, org: &OrgId, webhook: &WebhookId, page: Page) -> Result<(Vec<Attempt>, u64)> {
        let (org, id) = (org.clone(), webhook.clone());
        self.read(move |c| {
            load_webhook(c, &org, &id)?;
            let total: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM webhook_attempts WHERE webhook_id = ?1")?
                .query_row([id.as_str()], |r| r.get(0))?;
            let rows = c
                .prepare_cached(
                    "SELECT id, org_id, webhook_id, delivery_id, event_id, event_type, attempt, succeeded, status_code, latency_ms, \
                     response_body, error, created_at FROM webhook_attempts WHERE webhook_id = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3",
                )?
                .query_map(params![id.as_str(), page.limit, page.offset() as i64], attempt_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn list_deliveries(&self, org: &OrgId, webhook: &WebhookId, page: Page) -> Result<(Vec<Delivery>, u64)> {
        let (org, id) = (org.clone(), webhook.clone());
        self.read(move |c| {
            load_webhook(c, &org, &id)?;
            let total: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = ?1")?
                .query_row([id.as_str()], |r| r.get(0))?;
            let rows = c
                .prepare_cached(
                    "SELECT id, org_id, webhook_id, event_id, event_type, seq, status, attempts, next_attempt_at, last_status_code, \
                     created_at, updated_at FROM webhook_deliveries WHERE webhook_id = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3",
                )?
                .query_map(params![id.as_str(), page.limit, page.offset() as i64], delivery_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn replay_webhook(&self, org: &OrgId, id: &WebhookId, since: Timestamp, now: Timestamp, idem: Option<IdemKey>) -> Result<u64> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let w = load_webhook(c, &org, &id)?;
            let events: Vec<DomainEvent> = c
                .prepare_cached(
                    "SELECT seq, id, org_id, event_type, '{}', created_at FROM outbox WHERE org_id = ?1 AND created_at >= ?2 ORDER BY seq",
                )?
                .query_map(params![org.as_str(), ms(since)], event_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            let mut n = 0;
            for e in events.iter().filter(|e| w.matches(&e.event_type)) {
                requeue(c, &org, id.as_str(), e, now)?;
                n += 1;
            }
            insert_idem(c, &org, &idem, &Enqueued { enqueued: n })?;
            Ok(n)
        })
        .await
    }

    async fn redeliver_event(&self, org: &OrgId, event: &EventId, now: Timestamp, idem: Option<IdemKey>) -> Result<u64> {
        let (org, event) = (org.clone(), event.clone());
        self.write(move |c| {
            let e = c
                .prepare_cached("SELECT seq, id, org_id, event_type, '{}', created_at FROM outbox WHERE id = ?1 AND org_id = ?2")?
                .query_row(params![event.as_str(), org.as_str()], event_from_row)
                .optional()?
                .ok_or(StoreError::NotFound("event"))?;
            let mut n = 0;
            for (wh, filter, _) in enabled_webhooks(c, org.as_str())? {
                if webhook::filter_matches(&filter, &e.event_type) {
                    requeue(c, &org, &wh, &e, now)?;
                    n += 1;
                }
            }
            insert_idem(c, &org, &idem, &Enqueued { enqueued: n })?;
            Ok(n)
        })
        .await
    }
}

/// An outbox event from columns `seq, id, org_id, event_type, data, created_at` starting at `at`.
fn event_from_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<DomainEvent> {
    let data: String = r.get(at + 4)?;
    Ok(DomainEvent {
        seq: r.get(at)?,
        id: EventId::from_trusted(r.get(at + 1)?),
        org_id: OrgId::from_trusted(r.get(at + 2)?),
        event_type: r.get(at + 3)?,
        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
        created_at: ts(r.get(at + 5)?),
    })
}
