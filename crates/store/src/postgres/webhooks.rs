//! The webhook store on PostgreSQL. Fan-out locks the dispatch cursor row,
//! so nodes fan out one range at a time; claims lease subscriptions with
//! `FOR UPDATE SKIP LOCKED`, so nodes never serve the same one at once.

use std::collections::BTreeSet;

use async_trait::async_trait;
use sqlx::Row;
use switchboard_domain::webhook::{Attempt, Delivery, DeliveryStatus, WebhookPatch};
use switchboard_domain::{AttemptId, DeliveryId, DomainEvent, EventId, OrgId, Timestamp, Webhook, WebhookId, WebhookSecret, webhook};

use super::PgStore;
use super::rows::{EVENT_COLUMNS, event_from_row, insert_idem, ms};
use super::webhook_rows::*;
use crate::webhooks::{Enqueued, disabled_event, disabled_reason, health_after, new_delivery_id};
use crate::{
    AttemptOutcome, Claim, ClaimedBatch, DeliveryJob, FanOut, Finished, IdemKey, Page, Result, StoreError, WebhookStore, WebhookTarget,
};

#[async_trait]
impl WebhookStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn create_webhook(&self, webhook: Webhook, idem: Option<IdemKey>) -> Result<Webhook> {
        let mut tx = self.begin().await?;
        write_webhook(&mut tx, &webhook, true).await?;
        insert_idem(&mut tx, &webhook.org_id, &idem, &webhook).await?;
        self.commit(tx, &[]).await?;
        Ok(webhook)
    }

    #[tracing::instrument(skip_all)]
    async fn get_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<Webhook> {
        load_webhook(&mut *self.pool.acquire().await?, org, id, false).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_webhooks(&self, org: &OrgId, page: Page) -> Result<(Vec<Webhook>, u64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE org_id = $1")
            .bind(org.as_str())
            .fetch_one(&self.pool)
            .await?;
        let (limit, offset) = page_args(page);
        let rows = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(org.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.iter().map(webhook_from_row).collect::<Result<_>>()?, total as u64))
    }

    #[tracing::instrument(skip_all)]
    async fn update_webhook(&self, org: &OrgId, id: &WebhookId, patch: WebhookPatch) -> Result<Webhook> {
        let mut tx = self.begin().await?;
        let mut w = load_webhook(&mut tx, org, id, true).await?;
        if patch.apply(&mut w, switchboard_domain::now())? {
            write_webhook(&mut tx, &w, false).await?;
        }
        self.commit(tx, &[]).await?;
        Ok(w)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_webhook(&self, org: &OrgId, id: &WebhookId) -> Result<()> {
        let mut tx = self.begin().await?;
        load_webhook(&mut tx, org, id, true).await?;
        for sql in [
            "DELETE FROM webhook_attempts WHERE webhook_id = $1",
            "DELETE FROM webhook_deliveries WHERE webhook_id = $1",
            "DELETE FROM webhooks WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id.as_str()).execute(&mut *tx).await?;
        }
        self.commit(tx, &[]).await
    }

    #[tracing::instrument(skip_all)]
    async fn rotate_webhook_secret(
        &self,
        org: &OrgId,
        id: &WebhookId,
        secret: WebhookSecret,
        now: Timestamp,
        idem: Option<IdemKey>,
    ) -> Result<Webhook> {
        let mut tx = self.begin().await?;
        let mut w = load_webhook(&mut tx, org, id, true).await?;
        w.previous_secret = Some(std::mem::replace(&mut w.secret, secret));
        w.previous_secret_expires_at = Some(now + webhook::PREVIOUS_SECRET_TTL);
        w.updated_at = now;
        write_webhook(&mut tx, &w, false).await?;
        insert_idem(&mut tx, org, &idem, &w).await?;
        self.commit(tx, &[]).await?;
        Ok(w)
    }

    #[tracing::instrument(skip_all)]
    async fn fan_out(&self, limit: u32) -> Result<FanOut> {
        // Number committed events first: the cursor only moves over numbered ones.
        self.sequence_outbox().await?;
        let mut tx = self.begin().await?;
        // The row lock makes nodes take turns; the statements below run after
        // it is granted, so they see the previous holder's cursor and rows.
        let cursor: i64 = sqlx::query_scalar("SELECT cursor FROM webhook_dispatch WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
        let rows = sqlx::query("SELECT seq, id, org_id, event_type, created_at FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(cursor)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        let Some(last) = rows.last().map(|r| r.try_get::<i64, _>("seq")).transpose()? else {
            return Ok(FanOut {
                events: 0,
                deliveries: 0,
                cursor,
            });
        };
        let mut events: Vec<(i64, String, String, String, Timestamp)> = Vec::with_capacity(rows.len());
        for r in &rows {
            events.push((
                r.try_get("seq")?,
                r.try_get("id")?,
                r.try_get("org_id")?,
                r.try_get("event_type")?,
                r.try_get("created_at")?,
            ));
        }
        let orgs: BTreeSet<&str> = events.iter().map(|e| e.2.as_str()).collect();
        let subs = enabled_webhooks(&mut tx, &orgs.into_iter().collect::<Vec<_>>()).await?;
        let (mut wh, mut org, mut ev, mut ty, mut seq, mut due) = (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (s, id, o, t, created) in &events {
            for (w, w_org, filter, w_created) in &subs {
                if w_org == o && w_created <= created && webhook::filter_matches(filter, t) {
                    wh.push(w.as_str());
                    org.push(o.as_str());
                    ev.push(id.as_str());
                    ty.push(t.as_str());
                    seq.push(*s);
                    // Due since the event happened: first attempts go out in event order.
                    due.push(*created);
                }
            }
        }
        let deliveries = if wh.is_empty() {
            0
        } else {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, org_id, webhook_id, event_id, event_type, seq, status, attempts, next_attempt_at, \
                 created_at, updated_at) \
                 SELECT d.id, d.org_id, d.webhook_id, d.event_id, d.event_type, d.seq, 'pending', 0, d.due, $7, $7 \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $8::timestamptz[]) \
                 AS d(id, org_id, webhook_id, event_id, event_type, seq, due) \
                 ON CONFLICT (webhook_id, event_id) DO NOTHING",
            )
            .bind(wh.iter().map(|_| new_delivery_id()).collect::<Vec<_>>())
            .bind(&org)
            .bind(&wh)
            .bind(&ev)
            .bind(&ty)
            .bind(&seq)
            .bind(ms(switchboard_domain::now()))
            .bind(&due)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        sqlx::query("UPDATE webhook_dispatch SET cursor = $1 WHERE id = 1")
            .bind(last)
            .execute(&mut *tx)
            .await?;
        self.commit(tx, &[]).await?;
        Ok(FanOut {
            events: events.len() as u64,
            deliveries,
            cursor: last,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn claim_deliveries(&self, claim: Claim) -> Result<Vec<ClaimedBatch>> {
        let now = ms(claim.now);
        let leased = sqlx::query(
            "WITH picked AS (\
               SELECT w.id FROM webhooks w WHERE w.enabled AND (w.lease_until IS NULL OR w.lease_until <= $3) \
               AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status IN ('pending', 'failed') \
                           AND d.next_attempt_at <= $3) \
               ORDER BY w.last_served_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             UPDATE webhooks w SET lease_owner = $1, lease_until = $2 FROM picked WHERE w.id = picked.id \
             RETURNING w.id, w.org_id, w.url, w.scheme, w.secret, w.previous_secret, w.previous_secret_expires_at",
        )
        .bind(&claim.owner)
        .bind(ms(claim.now + claim.lease))
        .bind(now)
        .bind(i64::from(claim.max_webhooks))
        .fetch_all(&self.pool)
        .await?;
        if leased.is_empty() {
            return Ok(Vec::new());
        }
        let mut batches = Vec::with_capacity(leased.len());
        for r in &leased {
            let mut secrets = vec![WebhookSecret::from_trusted(r.try_get("secret")?)];
            let prev: Option<String> = r.try_get("previous_secret")?;
            let until: Option<Timestamp> = r.try_get("previous_secret_expires_at")?;
            if let (Some(p), Some(u)) = (prev, until)
                && u > now
            {
                secrets.push(WebhookSecret::from_trusted(p));
            }
            batches.push(ClaimedBatch {
                webhook: WebhookTarget {
                    id: WebhookId::from_trusted(r.try_get("id")?),
                    org_id: OrgId::from_trusted(r.try_get("org_id")?),
                    url: r.try_get("url")?,
                    scheme: scheme(r.try_get("scheme")?),
                    secrets,
                },
                jobs: Vec::new(),
            });
        }
        let ids: Vec<&str> = batches.iter().map(|b| b.webhook.id.as_str()).collect();
        let jobs = sqlx::query(
            "SELECT w.id AS webhook_id, x.* FROM UNNEST($1::text[]) AS w(id) CROSS JOIN LATERAL (\
               SELECT d.id AS delivery_id, d.attempts, o.seq, o.id, o.org_id, o.event_type, o.data, o.created_at \
               FROM webhook_deliveries d JOIN outbox o ON o.id = d.event_id \
               WHERE d.webhook_id = w.id AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= $2 \
               ORDER BY d.seq LIMIT $3) x",
        )
        .bind(&ids)
        .bind(now)
        .bind(i64::from(claim.per_webhook))
        .fetch_all(&self.pool)
        .await?;
        for r in &jobs {
            let wh: String = r.try_get("webhook_id")?;
            let job = DeliveryJob {
                delivery_id: DeliveryId::from_trusted(r.try_get("delivery_id")?),
                attempts: r.try_get::<i32, _>("attempts")?.max(0) as u32,
                event: event_from_row(r)?,
            };
            if let Some(b) = batches.iter_mut().find(|b| b.webhook.id.as_str() == wh) {
                b.jobs.push(job);
            }
        }
        // LATERAL keeps each subscription's rows in `seq` order, but make it certain.
        for b in &mut batches {
            b.jobs.sort_by_key(|j| j.event.seq);
        }
        Ok(batches)
    }

    #[tracing::instrument(skip_all)]
    async fn finish_deliveries(&self, owner: &str, finished: Vec<Finished>) -> Result<()> {
        if finished.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        let all: Vec<AttemptOutcome> = finished.iter().flat_map(|f| f.outcomes.iter().cloned()).collect();
        if !all.is_empty() {
            record(&mut tx, &all).await?;
        }
        let mut ids: Vec<&str> = finished.iter().map(|f| f.webhook.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        // Locked in id order, so finishers racing after a lease expired cannot deadlock.
        let rows = sqlx::query("SELECT id, org_id, url, enabled, failing_since FROM webhooks WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
        let now = switchboard_domain::now();
        let (mut upd, mut failing_col, mut events) = (Vec::new(), Vec::new(), Vec::new());
        let mut disable: Vec<(String, Timestamp)> = Vec::new();
        for r in &rows {
            let id: String = r.try_get("id")?;
            let Some(f) = finished.iter().find(|f| f.webhook.as_str() == id) else {
                continue;
            };
            let (failing, off) = health_after(r.try_get("failing_since")?, &f.outcomes);
            if let (true, true, Some(since)) = (off, r.try_get::<bool, _>("enabled")?, failing) {
                let url: String = r.try_get("url")?;
                events.push(disabled_event(
                    &OrgId::from_trusted(r.try_get("org_id")?),
                    &f.webhook,
                    &url,
                    since,
                    now,
                ));
                disable.push((id.clone(), since));
            }
            upd.push(id);
            failing_col.push(failing.map(ms));
        }
        sqlx::query(
            "UPDATE webhooks w SET failing_since = u.failing, \
             lease_owner = CASE WHEN w.lease_owner = $2 THEN NULL ELSE w.lease_owner END, \
             lease_until = CASE WHEN w.lease_owner = $2 THEN NULL ELSE w.lease_until END, \
             last_served_at = $3 FROM UNNEST($1::text[], $4::timestamptz[]) AS u(id, failing) WHERE w.id = u.id",
        )
        .bind(&upd)
        .bind(owner)
        .bind(ms(now))
        .bind(&failing_col)
        .execute(&mut *tx)
        .await?;
        for (id, since) in &disable {
            sqlx::query("UPDATE webhooks SET enabled = FALSE, disabled_reason = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(disabled_reason(*since))
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx, &events).await
    }

    #[tracing::instrument(skip_all)]
    async fn prune_webhook_log(&self, before: Timestamp, limit: u32) -> Result<u64> {
        let attempts =
            sqlx::query("DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM webhook_attempts WHERE created_at < $1 LIMIT $2)")
                .bind(ms(before))
                .bind(i64::from(limit))
                .execute(&self.pool)
                .await?
                .rows_affected();
        let deliveries = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
             WHERE status IN ('succeeded', 'dead') AND updated_at < $1 LIMIT $2)",
        )
        .bind(ms(before))
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(attempts + deliveries)
    }

    #[tracing::instrument(skip_all)]
    async fn list_attempts(&self, org: &OrgId, webhook: &WebhookId, page: Page) -> Result<(Vec<Attempt>, u64)> {
        let mut c = self.pool.acquire().await?;
        load_webhook(&mut c, org, webhook, false).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_attempts WHERE webhook_id = $1")
            .bind(webhook.as_str())
            .fetch_one(&mut *c)
            .await?;
        let (limit, offset) = page_args(page);
        let rows = sqlx::query("SELECT * FROM webhook_attempts WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3")
            .bind(webhook.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *c)
            .await?;
        let attempts = rows
            .iter()
            .map(|r| {
                Ok(Attempt {
                    id: AttemptId::from_trusted(r.try_get("id")?),
                    org_id: OrgId::from_trusted(r.try_get("org_id")?),
                    webhook_id: WebhookId::from_trusted(r.try_get("webhook_id")?),
                    delivery_id: DeliveryId::from_trusted(r.try_get("delivery_id")?),
                    event_id: EventId::from_trusted(r.try_get("event_id")?),
                    event_type: r.try_get("event_type")?,
                    attempt: r.try_get::<i32, _>("attempt")?.max(0) as u32,
                    succeeded: r.try_get("succeeded")?,
                    status_code: r.try_get::<Option<i32>, _>("status_code")?.and_then(|s| u16::try_from(s).ok()),
                    latency_ms: r.try_get::<i64, _>("latency_ms")?.max(0) as u64,
                    response_body: r.try_get("response_body")?,
                    error: r.try_get("error")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok((attempts, total as u64))
    }

    #[tracing::instrument(skip_all)]
    async fn list_deliveries(&self, org: &OrgId, webhook: &WebhookId, page: Page) -> Result<(Vec<Delivery>, u64)> {
        let mut c = self.pool.acquire().await?;
        load_webhook(&mut c, org, webhook, false).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(webhook.as_str())
            .fetch_one(&mut *c)
            .await?;
        let (limit, offset) = page_args(page);
        let rows = sqlx::query("SELECT * FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY seq LIMIT $2 OFFSET $3")
            .bind(webhook.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *c)
            .await?;
        let deliveries = rows
            .iter()
            .map(|r| {
                Ok(Delivery {
                    id: DeliveryId::from_trusted(r.try_get("id")?),
                    org_id: OrgId::from_trusted(r.try_get("org_id")?),
                    webhook_id: WebhookId::from_trusted(r.try_get("webhook_id")?),
                    event_id: EventId::from_trusted(r.try_get("event_id")?),
                    event_type: r.try_get("event_type")?,
                    seq: r.try_get("seq")?,
                    status: DeliveryStatus::parse(r.try_get("status")?).unwrap_or(DeliveryStatus::Pending),
                    attempts: r.try_get::<i32, _>("attempts")?.max(0) as u32,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    last_status_code: r.try_get::<Option<i32>, _>("last_status_code")?.and_then(|s| u16::try_from(s).ok()),
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok((deliveries, total as u64))
    }

    #[tracing::instrument(skip_all)]
    async fn replay_webhook(&self, org: &OrgId, id: &WebhookId, since: Timestamp, now: Timestamp, idem: Option<IdemKey>) -> Result<u64> {
        self.sequence_outbox().await?;
        let mut tx = self.begin().await?;
        let w = load_webhook(&mut tx, org, id, true).await?;
        let events = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM outbox WHERE org_id = $1 AND created_at >= $2 AND seq IS NOT NULL ORDER BY seq"
        ))
        .bind(org.as_str())
        .bind(ms(since))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(event_from_row)
        .collect::<Result<Vec<_>>>()?;
        let matching: Vec<&DomainEvent> = events.iter().filter(|e| w.matches(&e.event_type)).collect();
        requeue(&mut tx, org, id.as_str(), &matching, now).await?;
        let n = matching.len() as u64;
        insert_idem(&mut tx, org, &idem, &Enqueued { enqueued: n }).await?;
        self.commit(tx, &[]).await?;
        Ok(n)
    }

    #[tracing::instrument(skip_all)]
    async fn redeliver_event(&self, org: &OrgId, event: &EventId, now: Timestamp, idem: Option<IdemKey>) -> Result<u64> {
        self.sequence_outbox().await?;
        let mut tx = self.begin().await?;
        let e = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM outbox WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2 AND seq IS NOT NULL"
        ))
        .bind(event.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(event_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("event"))?;
        let mut n = 0;
        for (wh, _, filter, _) in enabled_webhooks(&mut tx, &[org.as_str()]).await? {
            if webhook::filter_matches(&filter, &e.event_type) {
                requeue(&mut tx, org, &wh, &[&e], now).await?;
                n += 1;
            }
        }
        insert_idem(&mut tx, org, &idem, &Enqueued { enqueued: n }).await?;
        self.commit(tx, &[]).await?;
        Ok(n)
    }
}
