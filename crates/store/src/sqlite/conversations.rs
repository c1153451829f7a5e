//! Dial requests, transcript segments and conversation state on SQLite
//! (see [`crate::conversations`]). The single writer makes each dialer pass
//! exclusive, so caps are exact.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use switchboard_domain::call::CallReport;
use switchboard_domain::transcript::{Segment, Speaker};
use switchboard_domain::{Call, CallId, CallStatus, DomainEvent, OrgId, TimeZone, Timestamp};

use super::SqliteStore;
use super::rows::*;
use super::store::{apply_report, live_room, store_new_call};
use crate::conversations::{ConversationStore, DialRequest, Placement, SingleDialOutcome};
use crate::logic::{self, SegmentWrite};
use crate::{DialParams, IdemKey, Result, StoreError};

/// Writes a report's transcript change; answers the events to emit.
/// `notes` are the live segments' analyses, in order.
pub(super) fn write_segments(c: &Connection, call: &Call, w: SegmentWrite, notes: &[Value], at: Timestamp) -> Result<Vec<DomainEvent>> {
    let mut notes = notes;
    let (segs, first) = match w {
        SegmentWrite::Nothing => return Ok(Vec::new()),
        SegmentWrite::Replace(segs) => {
            c.prepare_cached("DELETE FROM transcript_segments WHERE call_id = ?1")?
                .execute([call.id.as_str()])?;
            notes = &[];
            (segs, 1)
        }
        SegmentWrite::Append(segs) => {
            let last: i64 = c
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM transcript_segments WHERE call_id = ?1")?
                .query_row([call.id.as_str()], |r| r.get(0))?;
            (segs, last + 1)
        }
    };
    let mut insert = c.prepare_cached(
        "INSERT INTO transcript_segments (call_id, seq, org_id, speaker, text, start_ms, end_ms, confidence, is_final, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut events = Vec::with_capacity(segs.len());
    for (i, s) in segs.iter().enumerate() {
        let seq = first + i as i64;
        insert.execute(params![
            call.id.as_str(),
            seq,
            call.org_id.as_str(),
            s.speaker.as_str(),
            s.text,
            s.start_ms,
            s.end_ms,
            s.confidence,
            s.is_final,
            ms(at)
        ])?;
        events.push(logic::segment_event(call, seq, s, notes.get(i), at));
    }
    Ok(events)
}

pub(super) fn save_conversation(c: &Connection, call: &Call, state: &Value, at: Timestamp) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO conversations (call_id, org_id, state, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (call_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
    )?
    .execute(params![call.id.as_str(), call.org_id.as_str(), state.to_string(), ms(at)])?;
    Ok(())
}

/// Forgets what a deleted call had besides its row and timeline.
pub(super) fn delete_extras(c: &Connection, id: &CallId) -> Result<()> {
    for table in ["transcript_segments", "conversations", "dial_requests", "call_analyses"] {
        c.prepare_cached(&format!("DELETE FROM {table} WHERE call_id = ?1"))?
            .execute([id.as_str()])?;
    }
    Ok(())
}

fn request_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DialRequest> {
    Ok(DialRequest {
        call_id: CallId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        phone: r.get(2)?,
        zone: r.get(3)?,
        due_at: ts(r.get(4)?),
        override_window: r.get(5)?,
        claimed: r.get::<_, i64>(6)? == 1,
        immediate: false,
        options: parse_json(r.get(7)?)?,
    })
}

const REQUEST_COLUMNS: &str = "call_id, org_id, phone, zone, due_at, override_window, state, options";

fn is_on_dnc(c: &Connection, org: &OrgId, phone: &str) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT EXISTS(SELECT 1 FROM dnc WHERE org_id = ?1 AND phone = ?2)")?
            .query_row(params![org.as_str(), phone], |r| r.get(0))?,
    )
}

/// Ends a call the dialer will not place.
fn end_call(c: &Connection, call: Call, status: CallStatus, outcome: &str, at: Timestamp) -> Result<()> {
    let report = CallReport {
        status: Some(status),
        outcome: Some(outcome.to_owned()),
        at: Some(at),
        carrier_clock: true,
        ..Default::default()
    };
    apply_report(c, call, &report, false)?;
    Ok(())
}

fn dial_calls(c: &Connection, org: &OrgId, p: &DialParams, only: Option<&[CallId]>) -> Result<SingleDialOutcome> {
    let mut out = SingleDialOutcome::default();
    let now_ms = ms(p.now);

    // Claimed calls: settle those a dead node never placed (carriers that
    // name calls up front resume them instead), forget the finished ones.
    let claimed: Vec<(String, String, Option<String>, Option<i64>)> = c
        .prepare_cached(
            "SELECT d.call_id, cl.status, cl.external_id, d.claimed_at FROM dial_requests d JOIN calls cl ON cl.id = d.call_id \
             WHERE d.org_id = ?1 AND d.state = 1",
        )?
        .query_map([org.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut forget = c.prepare_cached("DELETE FROM dial_requests WHERE call_id = ?1")?;
    for (id, status, external, claimed_at) in claimed {
        let status = CallStatus::parse(&status).unwrap_or(CallStatus::Failed);
        if status.is_terminal() {
            forget.execute([&id])?;
        } else if p.external_prefix.is_none()
            && status == CallStatus::Queued
            && external.is_none()
            && claimed_at.unwrap_or(0) < now_ms - p.stale_queued_secs * 1000
            && let Some(call) = load_call(c, org, &id)?
        {
            end_call(c, call, CallStatus::Failed, "not_placed", p.now)?;
            forget.execute([&id])?;
            out.stale += 1;
        }
    }

    let due: Vec<DialRequest> = c
        .prepare_cached(&format!(
            "SELECT {REQUEST_COLUMNS} FROM dial_requests WHERE org_id = ?1 AND state = 0 AND due_at <= ?2 ORDER BY due_at, call_id LIMIT ?3"
        ))?
        .query_map(params![org.as_str(), now_ms, i64::from(p.batch) * 4], request_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    if due.is_empty() {
        return Ok(out);
    }

    // Room under the caps.
    let second = now_ms.div_euclid(1000);
    let used: i64 = c
        .prepare_cached("SELECT second, count FROM dialer_rate WHERE org_id = ?1")?
        .query_row([org.as_str()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .optional()?
        .map_or(0, |(s, n)| if s == second { n } else { 0 });
    let org_cps: Option<u32> = c
        .prepare_cached("SELECT calls_per_second FROM orgs WHERE id = ?1")?
        .query_row([org.as_str()], |r| r.get(0))
        .optional()?
        .flatten();
    let cps = org_cps.map_or(p.org_calls_per_second, |o| o.min(p.org_calls_per_second));
    let mut budget = (i64::from(cps) - used).min(i64::from(p.batch));
    if let Some((cap, live)) = live_room(c, org, p.now)? {
        budget = budget.min(cap as i64 - live as i64);
    }

    let mut defer = c.prepare_cached("UPDATE dial_requests SET due_at = ?2 WHERE call_id = ?1")?;
    let mut claim = c.prepare_cached("UPDATE dial_requests SET state = 1, claimed_at = ?2 WHERE call_id = ?1")?;
    for req in due {
        if only.is_some_and(|ids| !ids.contains(&req.call_id)) {
            continue;
        }
        let Some(mut call) = load_call(c, org, req.call_id.as_str())? else {
            forget.execute([req.call_id.as_str()])?;
            continue;
        };
        if !matches!(call.status, CallStatus::Scheduled | CallStatus::Queued) {
            // Cancelled or reported by someone else meanwhile.
            forget.execute([req.call_id.as_str()])?;
            continue;
        }
        if is_on_dnc(c, org, &req.phone)? {
            end_call(c, call, CallStatus::Failed, "dnc", p.now)?;
            forget.execute([req.call_id.as_str()])?;
            out.blocked += 1;
            continue;
        }
        let zone = TimeZone::parse("zone", &req.zone).unwrap_or(TimeZone::UTC);
        if !req.override_window && !switchboard_domain::zones::window_open(zone, p.now) {
            let next = switchboard_domain::zones::next_window_open(zone, p.now);
            defer.execute(params![req.call_id.as_str(), ms(next)])?;
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
        let report = CallReport {
            status: (call.status == CallStatus::Scheduled).then_some(CallStatus::Queued),
            at: Some(p.now),
            carrier_clock: true,
            ..Default::default()
        };
        let call = if report.status.is_some() {
            apply_report(c, call, &report, false)?.call
        } else {
            update_call(c, &call)?;
            call
        };
        claim.execute(params![req.call_id.as_str(), now_ms])?;
        out.placed.push(Placement {
            call,
            zone: req.zone,
            options: req.options,
        });
    }
    if !out.placed.is_empty() {
        c.prepare_cached("INSERT OR REPLACE INTO dialer_rate (org_id, second, count) VALUES (?1, ?2, ?3)")?
            .execute(params![org.as_str(), second, used + out.placed.len() as i64])?;
    }
    Ok(out)
}

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn create_dial_call(&self, mut call: Call, req: DialRequest, idem: Option<IdemKey>) -> Result<Call> {
        self.write(move |c| {
            if req.immediate
                && let Some((limit, live)) = live_room(c, &call.org_id, req.due_at)?
                && live >= limit
            {
                return Err(StoreError::TooManyLiveCalls { limit, live });
            }
            store_new_call(c, &mut call)?;
            c.prepare_cached(
                "INSERT INTO dial_requests (call_id, org_id, phone, zone, due_at, override_window, state, created_at, options) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8)",
            )?
            .execute(params![
                call.id.as_str(),
                call.org_id.as_str(),
                req.phone,
                req.zone,
                ms(req.due_at),
                req.override_window,
                ms(call.created_at),
                json_text(&req.options)
            ])?;
            insert_idem(c, &call.org_id, &idem, &call)?;
            Ok(call)
        })
        .await
    }

    async fn dial_request(&self, org: &OrgId, id: &CallId) -> Result<Option<DialRequest>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {REQUEST_COLUMNS} FROM dial_requests WHERE call_id = ?1 AND org_id = ?2"
            ))?
            .query_row(params![id.as_str(), org.as_str()], request_from_row)
            .optional()?)
        })
        .await
    }

    async fn orgs_with_due_calls(&self, now: Timestamp) -> Result<Vec<OrgId>> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT DISTINCT org_id FROM dial_requests WHERE (state = 0 AND due_at <= ?1) OR state = 1 ORDER BY org_id",
            )?
            .query_map([ms(now)], |r| Ok(OrgId::from_trusted(r.get(0)?)))?
            .collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn dial_calls(&self, org: &OrgId, params: DialParams, only: Option<Vec<CallId>>) -> Result<SingleDialOutcome> {
        let org = org.clone();
        self.write(move |c| dial_calls(c, &org, &params, only.as_deref())).await
    }

    async fn transcript(&self, org: &OrgId, id: &CallId) -> Result<Vec<Segment>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| {
            if load_call(c, &org, id.as_str())?.is_none() {
                return Err(StoreError::NotFound("call"));
            }
            Ok(c.prepare_cached(
                "SELECT speaker, text, start_ms, end_ms, confidence, is_final FROM transcript_segments WHERE call_id = ?1 AND org_id = ?2 ORDER BY seq",
            )?
            .query_map(params![id.as_str(), org.as_str()], |r| {
                let speaker: String = r.get(0)?;
                Ok(Segment {
                    speaker: Speaker::parse(&speaker).unwrap_or(Speaker::Customer),
                    text: r.get(1)?,
                    start_ms: r.get(2)?,
                    end_ms: r.get(3)?,
                    confidence: r.get::<_, Option<f64>>(4)?.map(|v| v as f32),
                    is_final: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn conversation(&self, org: &OrgId, id: &CallId) -> Result<Option<Value>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| {
            let text: Option<String> = c
                .prepare_cached("SELECT state FROM conversations WHERE call_id = ?1 AND org_id = ?2")?
                .query_row(params![id.as_str(), org.as_str()], |r| r.get(0))
                .optional()?;
            Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
        })
        .await
    }
}
