//! One dialer pass over one campaign on PostgreSQL. The transaction first
//! takes the organisation's dialer row with `FOR UPDATE SKIP LOCKED`: a
//! node that finds it taken skips the organisation this round, so nodes on
//! one database never dial an organisation at the same time, and line and
//! rate caps hold cluster-wide.

use sqlx::Row;
use switchboard_domain::call::CallReport;
use switchboard_domain::campaign::CampaignStatus;
use switchboard_domain::{CallStatus, CampaignId, ContactId, DomainEvent, OrgId, TimeZone, Timestamp};

use super::PgStore;
use super::campaign_rows::{load_campaign, update_campaign};
use super::rows::*;
use super::store::{apply_report, live_room, store_new_call};
use crate::campaigns::{DONE, LIVE, WAITING, campaign_call, campaign_event, rate_cap, settle};
use crate::{DialOutcome, DialParams, Dialed, Result};

const TERMINAL: &str = "('completed','busy','no_answer','failed','canceled','voicemail')";

pub(super) async fn dial(store: &PgStore, org: &OrgId, id: &CampaignId, p: &DialParams) -> Result<DialOutcome> {
    let mut out = DialOutcome::default();
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
    let mut k = load_campaign(&mut tx, org, id.as_str(), Lock::ForUpdate).await?;
    if k.status != CampaignStatus::Active {
        return Ok(out);
    }
    let now_ms = p.now.timestamp_millis();
    let mut events: Vec<DomainEvent> = Vec::new();

    // Calls a dead node created but never placed: fail them.
    // Carriers that name calls up front (the simulator) resume those calls
    // themselves, so only the others need the check.
    let stale: Vec<String> = if p.external_prefix.is_some() {
        Vec::new()
    } else {
        sqlx::query_scalar(&format!(
            "SELECT cl.id FROM campaign_contacts cc JOIN calls cl ON cl.id = cc.last_call_id \
         WHERE cc.campaign_id = $1 AND cc.state = {LIVE} AND cl.status = 'queued' AND cl.external_id IS NULL AND cl.created_at < $2"
        ))
        .bind(id.as_str())
        .bind(ms(p.now - chrono::Duration::seconds(p.stale_queued_secs)))
        .fetch_all(&mut *tx)
        .await?
    };
    for call_id in stale {
        if let Some(call) = load_call(&mut tx, org, &call_id, Lock::ForUpdate).await? {
            let report = CallReport {
                status: Some(CallStatus::Failed),
                outcome: Some("not_placed".into()),
                at: Some(p.now),
                carrier_clock: true,
                ..Default::default()
            };
            apply_report(&mut tx, call, &report, false, &mut events).await?;
        }
    }

    // Settle calls that ended: retry or done.
    let ended = sqlx::query(&format!(
        "SELECT cc.contact_id, cc.attempts, cl.status, cl.ended_at FROM campaign_contacts cc \
         JOIN calls cl ON cl.id = cc.last_call_id WHERE cc.campaign_id = $1 AND cc.state = {LIVE} AND cl.status IN {TERMINAL}"
    ))
    .bind(id.as_str())
    .fetch_all(&mut *tx)
    .await?;
    for r in &ended {
        let contact: String = r.try_get("contact_id")?;
        let attempts: i32 = r.try_get("attempts")?;
        let status: String = r.try_get("status")?;
        let ended_at: Option<Timestamp> = r.try_get("ended_at")?;
        let status = CallStatus::parse(&status).unwrap_or(CallStatus::Failed);
        let (state, next, last) = settle(&k, status, attempts as u32, ended_at.unwrap_or(p.now));
        sqlx::query(
            "UPDATE campaign_contacts SET state = $3, next_attempt_at = $4, last_status = $5 WHERE campaign_id = $1 AND contact_id = $2",
        )
        .bind(id.as_str())
        .bind(&contact)
        .bind(state as i32)
        .bind(next)
        .bind(last)
        .execute(&mut *tx)
        .await?;
    }
    out.settled = ended.len() as u32;

    // Index-only counts: the live rows, and whether any contact still waits.
    let live: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = $1 AND state = {LIVE}"
    ))
    .bind(id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    let waiting: bool = sqlx::query_scalar(&format!(
        "SELECT EXISTS(SELECT 1 FROM campaign_contacts WHERE campaign_id = $1 AND state = {WAITING})"
    ))
    .bind(id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if live == 0 && (!waiting || k.schedule.ended(p.now)) {
        k.status = CampaignStatus::Completed;
        k.completed_at = Some(p.now);
        k.last_run_at = Some(p.now);
        k.updated_at = p.now;
        update_campaign(&mut tx, &k).await?;
        events.push(campaign_event("campaign.completed", &k, p.now));
        store.commit(tx, &events).await?;
        out.completed = true;
        return Ok(out);
    }
    let second = now_ms.div_euclid(1000);
    let used = if rate_second == second { i64::from(rate_count) } else { 0 };
    let mut free = i64::from(k.settings.max_concurrent_calls) - live;
    if let Some((cap, org_live)) = live_room(&mut tx, org, p.now).await? {
        free = free.min(cap as i64 - org_live as i64);
    }
    let org_cps: Option<i32> = sqlx::query_scalar("SELECT calls_per_second FROM orgs WHERE id = $1")
        .bind(org.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
    let budget = free
        .min(i64::from(rate_cap(&k, p, org_cps.map(|n| n.max(0) as u32))) - used)
        .min(i64::from(p.batch));
    if !k.schedule.in_dates(p.now) || budget <= 0 {
        if out.settled > 0 {
            k.last_run_at = Some(p.now);
            update_campaign(&mut tx, &k).await?;
        }
        store.commit(tx, &events).await?;
        return Ok(out);
    }

    // Zones whose calling window is open now (the campaign lists its zones).
    let zones: serde_json::Value = sqlx::query_scalar("SELECT zones FROM campaigns WHERE id = $1")
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await?;
    let zones: Vec<String> = serde_json::from_value(zones)?;
    let open: Vec<String> = zones
        .into_iter()
        .filter(|z| TimeZone::parse("zone", z).is_ok_and(|tz| k.schedule.is_open(tz, p.now)))
        .collect();
    // The earliest due contacts of each open zone (an index range each),
    // merged by due time.
    let mut candidates = Vec::new();
    for zone in &open {
        candidates.extend(
            sqlx::query(&format!(
                "SELECT cc.next_attempt_at, cc.contact_id, cc.phone, cc.attempts, cc.zone, ct.id IS NOT NULL AS present, ct.name, ct.email, ct.company, \
                 EXISTS(SELECT 1 FROM dnc WHERE dnc.org_id = cc.org_id AND dnc.phone = cc.phone) AS blocked \
                 FROM campaign_contacts cc LEFT JOIN contacts ct ON ct.id = cc.contact_id \
                 WHERE cc.campaign_id = $1 AND cc.state = {WAITING} AND cc.zone = $2 AND cc.next_attempt_at <= $3 \
                 ORDER BY cc.next_attempt_at, cc.contact_id LIMIT $4"
            ))
            .bind(id.as_str())
            .bind(zone)
            .bind(now_ms)
            .bind(budget)
            .fetch_all(&mut *tx)
            .await?,
        );
    }
    let key = |r: &sqlx::postgres::PgRow| -> (i64, String) {
        (
            r.try_get("next_attempt_at").unwrap_or(0),
            r.try_get("contact_id").unwrap_or_default(),
        )
    };
    candidates.sort_by_key(key);
    candidates.truncate(budget as usize);
    for r in &candidates {
        let contact: String = r.try_get("contact_id")?;
        let phone: String = r.try_get("phone")?;
        let attempts: i32 = r.try_get("attempts")?;
        if r.try_get::<bool, _>("blocked")? || !r.try_get::<bool, _>("present")? {
            let why = if r.try_get::<bool, _>("blocked")? {
                "dnc"
            } else {
                "contact_deleted"
            };
            sqlx::query(&format!(
                "UPDATE campaign_contacts SET state = {DONE}, last_status = $3 WHERE campaign_id = $1 AND contact_id = $2"
            ))
            .bind(id.as_str())
            .bind(&contact)
            .bind(why)
            .execute(&mut *tx)
            .await?;
            out.blocked += u32::from(why == "dnc");
            continue;
        }
        let attempt = attempts as u32 + 1;
        let mut call = campaign_call(
            &k,
            p,
            &contact,
            &phone,
            r.try_get("name")?,
            r.try_get("email")?,
            r.try_get("company")?,
            attempt,
        );
        store_new_call(&mut tx, &mut call, &mut events).await?;
        sqlx::query(
            "INSERT INTO campaign_attempts (campaign_id, contact_id, attempt, call_id, org_id, dialed_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(&contact)
        .bind(attempt as i32)
        .bind(call.id.as_str())
        .bind(org.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "UPDATE campaign_contacts SET state = {LIVE}, attempts = $3, last_call_id = $4 WHERE campaign_id = $1 AND contact_id = $2"
        ))
        .bind(id.as_str())
        .bind(&contact)
        .bind(attempt as i32)
        .bind(call.id.as_str())
        .execute(&mut *tx)
        .await?;
        call.timeline.clear();
        out.dialed.push(Dialed {
            contact_id: ContactId::from_trusted(contact),
            campaign_id: id.clone(),
            attempt,
            zone: r.try_get("zone")?,
            call,
        });
    }
    if !out.dialed.is_empty() {
        sqlx::query("UPDATE dialer_rate SET second = $2, count = $3 WHERE org_id = $1")
            .bind(org.as_str())
            .bind(second)
            .bind((used + out.dialed.len() as i64) as i32)
            .execute(&mut *tx)
            .await?;
    }
    k.last_run_at = Some(p.now);
    update_campaign(&mut tx, &k).await?;
    store.commit(tx, &events).await?;
    Ok(out)
}
