//! Dial requests, transcript segments and conversation state on PostgreSQL
//! (see [`crate::conversations`]). A dialer pass holds the organisation's
//! `dialer_rate` row (`FOR UPDATE SKIP LOCKED`), so nodes sharing the
//! database never claim a call twice and the caps hold cluster-wide.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{PgConnection, Row};
use switchboard_domain::call::CallReport;
use switchboard_domain::transcript::{Segment, Speaker};
use switchboard_domain::{Call, CallId, CallStatus, DomainEvent, OrgId, TimeZone, Timestamp};

use super::PgStore;
use super::rows::*;
use super::store::{apply_report, live_room, store_new_call};
use crate::conversations::{ConversationStore, DialRequest, Placement, SingleDialOutcome};
use crate::logic::{self, SegmentWrite};
use crate::{DialParams, IdemKey, Result, StoreError};

fn millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

fn from_millis(v: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_millis(v).unwrap_or_default()
}

/// Writes a report's transcript change; queues the events to emit.
pub(super) async fn write_segments(
    c: &mut PgConnection,
    call: &Call,
    w: SegmentWrite,
    notes: &[Value],
    at: Timestamp,
    events: &mut Vec<DomainEvent>,
) -> Result<bool> {
    let mut notes = notes;
    let (segs, first) = match w {
        SegmentWrite::Nothing => return Ok(false),
        SegmentWrite::Replace(segs) => {
            sqlx::query("DELETE FROM transcript_segments WHERE call_id = $1")
                .bind(call.id.as_str())
                .execute(&mut *c)
                .await?;
            notes = &[];
            (segs, 1)
        }
        SegmentWrite::Append(segs) => {
            let last: i32 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM transcript_segments WHERE call_id = $1")
                .bind(call.id.as_str())
                .fetch_one(&mut *c)
                .await?;
            (segs, i64::from(last) + 1)
        }
    };
    if segs.is_empty() {
        return Ok(false);
    }
    let mut q = sqlx::QueryBuilder::new(
        "INSERT INTO transcript_segments (call_id, seq, org_id, speaker, text, start_ms, end_ms, confidence, is_final, created_at) ",
    );
    q.push_values(segs.iter().enumerate(), |mut b, (i, s)| {
        b.push_bind(call.id.as_str())
            .push_bind((first + i as i64) as i32)
            .push_bind(call.org_id.as_str())
            .push_bind(s.speaker.as_str())
            .push_bind(s.text.as_str())
            .push_bind(s.start_ms)
            .push_bind(s.end_ms)
            .push_bind(s.confidence)
            .push_bind(s.is_final)
            .push_bind(millis(at));
    });
    q.build().execute(&mut *c).await?;
    for (i, s) in segs.iter().enumerate() {
        events.push(logic::segment_event(call, first + i as i64, s, notes.get(i), at));
    }
    Ok(true)
}

pub(super) async fn save_conversation(c: &mut PgConnection, call: &Call, state: &Value, at: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO conversations (call_id, org_id, state, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (call_id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
    )
    .bind(call.id.as_str())
    .bind(call.org_id.as_str())
    .bind(state)
    .bind(millis(at))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Forgets what a deleted call had besides its row and timeline.
pub(super) async fn delete_extras(c: &mut PgConnection, id: &CallId) -> Result<()> {
    for table in ["transcript_segments", "conversations", "dial_requests", "call_analyses"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE call_id = $1"))
            .bind(id.as_str())
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

const REQUEST_COLUMNS: &str = "call_id, org_id, phone, zone, due_at, override_window, state, options";

fn request_from_row(r: &sqlx::postgres::PgRow) -> Result<DialRequest> {
    Ok(DialRequest {
        call_id: CallId::from_trusted(r.try_get("call_id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        phone: r.try_get("phone")?,
        zone: r.try_get("zone")?,
        due_at: from_millis(r.try_get("due_at")?),
        override_window: r.try_get("override_window")?,
        claimed: r.try_get::<i32, _>("state")? == 1,
        immediate: false,
        options: r.try_get("options")?,
    })
}

async fn forget(c: &mut PgConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM dial_requests WHERE call_id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn end_call(c: &mut PgConnection, call: Call, outcome: &str, at: Timestamp, events: &mut Vec<DomainEvent>) -> Result<()> {
    let report = CallReport {
        status: Some(CallStatus::Failed),
        outcome: Some(outcome.to_owned()),
        at: Some(at),
        carrier_clock: true,
        ..Default::default()
    };
    apply_report(c, call, &report, false, events).await?;
    Ok(())
}

async fn dial_calls(store: &PgStore, org: &OrgId, p: &DialParams, only: Option<&[CallId]>) -> Result<SingleDialOutcome> {
    let mut out = SingleDialOutcome::default();
    let mut tx = store.begin().await?;
    sqlx::query("INSERT INTO dialer_rate (org_id, second, count) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING")
        .bind(org.as_str())
        .execute(&mut *tx)
        .await?;
    let Some(rate) = sqlx::query("SELECT second, count FROM dialer_rate WHERE org_id = $1 FOR UPDATE SKIP LOCKED")
        .bind(org.as_str())
        .fetch_optional(&mut *tx)
        .await?
    else {
        out.busy = true;
        return Ok(out);
    };
    let (rate_second, rate_count): (i64, i32) = (rate.try_get("second")?, rate.try_get("count")?);
    let now_ms = millis(p.now);
    let mut events = Vec::new();

    let claimed = sqlx::query(
        "SELECT d.call_id, cl.status, cl.external_id, d.claimed_at FROM dial_requests d JOIN calls cl ON cl.id = d.call_id \
         WHERE d.org_id = $1 AND d.state = 1",
    )
    .bind(org.as_str())
    .fetch_all(&mut *tx)
    .await?;
    for r in claimed {
        let id: String = r.try_get("call_id")?;
        let status: String = r.try_get("status")?;
        let external: Option<String> = r.try_get("external_id")?;
        let claimed_at: Option<i64> = r.try_get("claimed_at")?;
        let status = CallStatus::parse(&status).unwrap_or(CallStatus::Failed);
        if status.is_terminal() {
            forget(&mut tx, &id).await?;
        } else if p.external_prefix.is_none()
            && status == CallStatus::Queued
            && external.is_none()
            && claimed_at.unwrap_or(0) < now_ms - p.stale_queued_secs * 1000
            && let Some(call) = load_call(&mut tx, org, &id, Lock::ForUpdate).await?
        {
            end_call(&mut tx, call, "not_placed", p.now, &mut events).await?;
            forget(&mut tx, &id).await?;
            out.stale += 1;
        }
    }

    let due: Vec<DialRequest> = sqlx::query(&format!(
        "SELECT {REQUEST_COLUMNS} FROM dial_requests WHERE org_id = $1 AND state = 0 AND due_at <= $2 ORDER BY due_at, call_id LIMIT $3"
    ))
    .bind(org.as_str())
    .bind(now_ms)
    .bind(i64::from(p.batch) * 4)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(request_from_row)
    .collect::<Result<_>>()?;

    let second = now_ms.div_euclid(1000);
    let used = if rate_second == second { i64::from(rate_count) } else { 0 };
    let org_cps: Option<i32> = sqlx::query_scalar("SELECT calls_per_second FROM orgs WHERE id = $1")
        .bind(org.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
    let cps = org_cps.map_or(p.org_calls_per_second, |o| (o.max(0) as u32).min(p.org_calls_per_second));
    let mut budget = (i64::from(cps) - used).min(i64::from(p.batch));
    if !due.is_empty()
        && let Some((cap, live)) = live_room(&mut tx, org, p.now).await?
    {
        budget = budget.min(cap as i64 - live as i64);
    }
    let mut placed = 0i64;
    for req in due {
        if only.is_some_and(|ids| !ids.contains(&req.call_id)) {
            continue;
        }
        let Some(mut call) = load_call(&mut tx, org, req.call_id.as_str(), Lock::ForUpdate).await? else {
            forget(&mut tx, req.call_id.as_str()).await?;
            continue;
        };
        if !matches!(call.status, CallStatus::Scheduled | CallStatus::Queued) {
            forget(&mut tx, req.call_id.as_str()).await?;
            continue;
        }
        let on_dnc: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM dnc WHERE org_id = $1 AND phone = $2)")
            .bind(org.as_str())
            .bind(&req.phone)
            .fetch_one(&mut *tx)
            .await?;
        if on_dnc {
            end_call(&mut tx, call, "dnc", p.now, &mut events).await?;
            forget(&mut tx, req.call_id.as_str()).await?;
            out.blocked += 1;
            continue;
        }
        let zone = TimeZone::parse("zone", &req.zone).unwrap_or(TimeZone::UTC);
        if !req.override_window && !switchboard_domain::zones::window_open(zone, p.now) {
            let next = switchboard_domain::zones::next_window_open(zone, p.now);
            sqlx::query("UPDATE dial_requests SET due_at = $2 WHERE call_id = $1")
                .bind(req.call_id.as_str())
                .bind(millis(next))
                .execute(&mut *tx)
                .await?;
            out.deferred += 1;
            continue;
        }
        if budget <= 0 {
            out.held += 1;
            continue;
        }
        budget -= 1;
        if let Some(prefix) = &p.external_prefix
            && call.external_id.is_none()
        {
            call.external_id = Some(format!("{prefix}{}", call.id.as_str().trim_start_matches("call_")));
        }
        let call = if call.status == CallStatus::Scheduled {
            let report = CallReport {
                status: Some(CallStatus::Queued),
                at: Some(p.now),
                carrier_clock: true,
                ..Default::default()
            };
            apply_report(&mut tx, call, &report, false, &mut events).await?.call
        } else {
            update_call(&mut tx, &call).await?;
            call
        };
        sqlx::query("UPDATE dial_requests SET state = 1, claimed_at = $2 WHERE call_id = $1")
            .bind(req.call_id.as_str())
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        placed += 1;
        out.placed.push(Placement {
            call,
            zone: req.zone,
            options: req.options,
        });
    }
    if placed > 0 {
        sqlx::query("UPDATE dialer_rate SET second = $2, count = $3 WHERE org_id = $1")
            .bind(org.as_str())
            .bind(second)
            .bind((used + placed) as i32)
            .execute(&mut *tx)
            .await?;
    }
    store.commit(tx, &events).await?;
    Ok(out)
}

#[async_trait]
impl ConversationStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn create_dial_call(&self, mut call: Call, req: DialRequest, idem: Option<IdemKey>) -> Result<Call> {
        let mut tx = self.begin().await?;
        if req.immediate {
            // The organisation's dialer row serialises this check with dialer passes.
            sqlx::query("INSERT INTO dialer_rate (org_id, second, count) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING")
                .bind(call.org_id.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query("SELECT 1 FROM dialer_rate WHERE org_id = $1 FOR UPDATE")
                .bind(call.org_id.as_str())
                .execute(&mut *tx)
                .await?;
            if let Some((limit, live)) = live_room(&mut tx, &call.org_id, req.due_at).await?
                && live >= limit
            {
                return Err(StoreError::TooManyLiveCalls { limit, live });
            }
        }
        let mut events = Vec::new();
        store_new_call(&mut tx, &mut call, &mut events).await?;
        sqlx::query(
            "INSERT INTO dial_requests (call_id, org_id, phone, zone, due_at, override_window, state, created_at, options) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
        )
        .bind(call.id.as_str())
        .bind(call.org_id.as_str())
        .bind(&req.phone)
        .bind(&req.zone)
        .bind(millis(req.due_at))
        .bind(req.override_window)
        .bind(millis(call.created_at))
        .bind(&req.options)
        .execute(&mut *tx)
        .await?;
        insert_idem(&mut tx, &call.org_id, &idem, &call).await?;
        self.commit(tx, &events).await?;
        Ok(call)
    }

    #[tracing::instrument(skip_all)]
    async fn dial_request(&self, org: &OrgId, id: &CallId) -> Result<Option<DialRequest>> {
        sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM dial_requests WHERE call_id = $1 AND org_id IS NOT DISTINCT FROM $2"
        ))
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(request_from_row)
        .transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn orgs_with_due_calls(&self, now: Timestamp) -> Result<Vec<OrgId>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT org_id FROM dial_requests WHERE (state = 0 AND due_at <= $1) OR state = 1 ORDER BY org_id")
                .bind(millis(now))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(OrgId::from_trusted).collect())
    }

    #[tracing::instrument(skip_all)]
    async fn dial_calls(&self, org: &OrgId, params: DialParams, only: Option<Vec<CallId>>) -> Result<SingleDialOutcome> {
        dial_calls(self, org, &params, only.as_deref()).await
    }

    #[tracing::instrument(skip_all)]
    async fn transcript(&self, org: &OrgId, id: &CallId) -> Result<Vec<Segment>> {
        let mut conn = self.pool.acquire().await?;
        if load_call(&mut conn, org, id.as_str(), Lock::None).await?.is_none() {
            return Err(StoreError::NotFound("call"));
        }
        let rows = sqlx::query(
            "SELECT speaker, text, start_ms, end_ms, confidence, is_final FROM transcript_segments WHERE call_id = $1 ORDER BY seq",
        )
        .bind(id.as_str())
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                let speaker: String = r.try_get("speaker")?;
                Ok(Segment {
                    speaker: Speaker::parse(&speaker).unwrap_or(Speaker::Customer),
                    text: r.try_get("text")?,
                    start_ms: r.try_get("start_ms")?,
                    end_ms: r.try_get("end_ms")?,
                    confidence: r.try_get("confidence")?,
                    is_final: r.try_get("is_final")?,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn conversation(&self, org: &OrgId, id: &CallId) -> Result<Option<Value>> {
        Ok(
            sqlx::query_scalar("SELECT state FROM conversations WHERE call_id = $1 AND org_id IS NOT DISTINCT FROM $2")
                .bind(id.as_str())
                .bind(org.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}
