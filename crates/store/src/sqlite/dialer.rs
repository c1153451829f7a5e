//! One dialer pass over one campaign, inside one SQLite write transaction
//! (the single writer makes every pass exclusive, so caps are exact).

use rusqlite::{Connection, OptionalExtension, params};
use switchboard_domain::call::CallReport;
use switchboard_domain::campaign::CampaignStatus;
use switchboard_domain::{CallStatus, CampaignId, OrgId, TimeZone};

use super::campaign_rows::{load_campaign, update_campaign};
use super::rows::*;
use super::store::{apply_report, live_room, store_new_call};
use crate::campaigns::{DONE, LIVE, WAITING, campaign_call, campaign_event, rate_cap, settle};
use crate::{DialOutcome, DialParams, Dialed, Result};

const TERMINAL: &str = "('completed','busy','no_answer','failed','canceled','voicemail')";

pub(super) fn dial(c: &Connection, org: &OrgId, id: &CampaignId, p: &DialParams) -> Result<DialOutcome> {
    let mut out = DialOutcome::default();
    let mut k = load_campaign(c, org, id.as_str())?;
    if k.status != CampaignStatus::Active {
        return Ok(out);
    }
    let now_ms = ms(p.now);

    // Calls a dead node created but never placed: fail them (their attempt
    // counts). Carriers that name calls up front (the simulator) resume
    // those calls themselves, so only the others need the check.
    let stale: Vec<String> = if p.external_prefix.is_some() {
        Vec::new()
    } else {
        c.prepare_cached(&format!(
            "SELECT cl.id FROM campaign_contacts cc JOIN calls cl ON cl.id = cc.last_call_id \
             WHERE cc.campaign_id = ?1 AND cc.state = {LIVE} AND cl.status = 'queued' AND cl.external_id IS NULL AND cl.created_at < ?2"
        ))?
        .query_map(params![id.as_str(), now_ms - p.stale_queued_secs * 1000], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?
    };
    for call_id in stale {
        if let Some(call) = load_call(c, org, &call_id)? {
            let report = CallReport {
                status: Some(CallStatus::Failed),
                outcome: Some("not_placed".into()),
                at: Some(p.now),
                carrier_clock: true,
                ..Default::default()
            };
            apply_report(c, call, &report, false)?;
        }
    }

    // Settle calls that ended: retry or done.
    let ended: Vec<(String, u32, String, Option<i64>)> = c
        .prepare_cached(&format!(
            "SELECT cc.contact_id, cc.attempts, cl.status, cl.ended_at FROM campaign_contacts cc \
             JOIN calls cl ON cl.id = cc.last_call_id WHERE cc.campaign_id = ?1 AND cc.state = {LIVE} AND cl.status IN {TERMINAL}"
        ))?
        .query_map([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    {
        let mut upd = c.prepare_cached(
            "UPDATE campaign_contacts SET state = ?3, next_attempt_at = ?4, last_status = ?5 WHERE campaign_id = ?1 AND contact_id = ?2",
        )?;
        for (contact, attempts, status, ended_at) in &ended {
            let status = CallStatus::parse(status).unwrap_or(CallStatus::Failed);
            let (state, next, last) = settle(&k, status, *attempts, ended_at.map(ts).unwrap_or(p.now));
            upd.execute(params![id.as_str(), contact, state, next, last])?;
        }
    }
    out.settled = ended.len() as u32;

    // Index-only counts: the live rows, and whether any contact still waits.
    let live: i64 = c
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = ?1 AND state = {LIVE}"
        ))?
        .query_row([id.as_str()], |r| r.get(0))?;
    let waiting: bool = c
        .prepare_cached(&format!(
            "SELECT EXISTS(SELECT 1 FROM campaign_contacts WHERE campaign_id = ?1 AND state = {WAITING})"
        ))?
        .query_row([id.as_str()], |r| r.get(0))?;
    let ended_by_date = k.schedule.ended(p.now) && live == 0;
    if (!waiting && live == 0) || ended_by_date {
        k.status = CampaignStatus::Completed;
        k.completed_at = Some(p.now);
        k.last_run_at = Some(p.now);
        k.updated_at = p.now;
        update_campaign(c, &k)?;
        insert_events(c, &[campaign_event("campaign.completed", &k, p.now)])?;
        out.completed = true;
        return Ok(out);
    }
    if !k.schedule.in_dates(p.now) {
        return Ok(out);
    }

    // How many calls this pass may start.
    let mut free = i64::from(k.settings.max_concurrent_calls) - live;
    if let Some((cap, org_live)) = live_room(c, org, p.now)? {
        free = free.min(cap as i64 - org_live as i64);
    }
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
    let budget = free.min(i64::from(rate_cap(&k, p, org_cps)) - used).min(i64::from(p.batch));
    if budget <= 0 {
        if out.settled > 0 {
            k.last_run_at = Some(p.now);
            update_campaign(c, &k)?;
        }
        return Ok(out);
    }

    // Zones whose calling window is open now (the campaign lists its zones).
    let zones: String = c
        .prepare_cached("SELECT zones FROM campaigns WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))?;
    let zones: Vec<String> = serde_json::from_str(&zones)?;
    let open: Vec<String> = zones
        .into_iter()
        .filter(|z| TimeZone::parse("zone", z).is_ok_and(|tz| k.schedule.is_open(tz, p.now)))
        .collect();
    if open.is_empty() {
        return Ok(out);
    }

    // The earliest due contacts of each open zone (an index range each),
    // merged by due time.
    type Candidate = (
        i64,
        String,
        String,
        u32,
        String,
        bool,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    );
    let mut candidates: Vec<Candidate> = Vec::new();
    {
        let mut due = c.prepare_cached(&format!(
            "SELECT cc.next_attempt_at, cc.contact_id, cc.phone, cc.attempts, cc.zone, ct.id IS NOT NULL, ct.name, ct.email, ct.company, \
             EXISTS(SELECT 1 FROM dnc WHERE dnc.org_id = cc.org_id AND dnc.phone = cc.phone) \
             FROM campaign_contacts cc LEFT JOIN contacts ct ON ct.id = cc.contact_id \
             WHERE cc.campaign_id = ?1 AND cc.state = {WAITING} AND cc.zone = ?2 AND cc.next_attempt_at <= ?3 \
             ORDER BY cc.next_attempt_at, cc.contact_id LIMIT ?4"
        ))?;
        for zone in &open {
            let rows = due.query_map(params![id.as_str(), zone, now_ms, budget], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })?;
            for row in rows {
                candidates.push(row?);
            }
        }
    }
    candidates.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    candidates.truncate(budget as usize);

    let mut done = c.prepare_cached(&format!(
        "UPDATE campaign_contacts SET state = {DONE}, last_status = ?3 WHERE campaign_id = ?1 AND contact_id = ?2"
    ))?;
    let mut attempt_row = c.prepare_cached(
        "INSERT INTO campaign_attempts (campaign_id, contact_id, attempt, call_id, org_id, dialed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut live_row = c.prepare_cached(&format!(
        "UPDATE campaign_contacts SET state = {LIVE}, attempts = ?3, last_call_id = ?4 WHERE campaign_id = ?1 AND contact_id = ?2"
    ))?;
    for (_, contact, phone, attempts, zone, exists, name, email, company, blocked) in candidates {
        if blocked {
            done.execute(params![id.as_str(), contact, "dnc"])?;
            out.blocked += 1;
            continue;
        }
        if !exists {
            done.execute(params![id.as_str(), contact, "contact_deleted"])?;
            continue;
        }
        let attempt = attempts + 1;
        let mut call = campaign_call(&k, p, &contact, &phone, name, email, company, attempt);
        store_new_call(c, &mut call)?;
        attempt_row.execute(params![id.as_str(), contact, attempt, call.id.as_str(), org.as_str(), now_ms])?;
        live_row.execute(params![id.as_str(), contact, attempt, call.id.as_str()])?;
        call.timeline.clear();
        out.dialed.push(Dialed {
            contact_id: switchboard_domain::ContactId::from_trusted(contact),
            campaign_id: id.clone(),
            attempt,
            zone,
            call,
        });
    }
    if !out.dialed.is_empty() {
        c.prepare_cached("INSERT OR REPLACE INTO dialer_rate (org_id, second, count) VALUES (?1, ?2, ?3)")?
            .execute(params![org.as_str(), second, used + out.dialed.len() as i64])?;
    }
    k.last_run_at = Some(p.now);
    update_campaign(c, &k)?;
    Ok(out)
}
