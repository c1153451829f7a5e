//! The store traits on PostgreSQL.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use switchboard_domain::call::CallReport;
use switchboard_domain::contact::ContactPatch;
use switchboard_domain::{ApiKey, ApiKeyId, Call, CallId, CallStatus, Contact, ContactId, DomainEvent, OrgId, Organisation, TimelineEntry};

use super::PgStore;
use super::rows::*;
use crate::logic::{self, now};
use crate::{
    AnalyticsSource, CallCursor, CallFacts, CallFilter, CallStore, CallTarget, ContactFilter, ContactStore, IdemKey, IdemRecord,
    IdempotencyStore, KeyStore, OrgStore, OutboxStore, Page, ReportOutcome, Result, Store, StoreError, transition_name,
};

/// Calls per statement of an import: large enough that round trips do not
/// matter, small enough that one statement's arrays stay a few megabytes.
const IMPORT_CHUNK: usize = 2_000;

/// How often a report for a new external id retries finding or creating its
/// call. A retry only happens when the call that won the race was deleted
/// before this transaction could lock it.
const UPSERT_ATTEMPTS: usize = 3;

fn limit_offset(page: Page) -> (i64, i64) {
    (i64::from(page.limit), i64::try_from(page.offset()).unwrap_or(i64::MAX))
}

#[async_trait]
impl OrgStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn create_org(&self, org: Organisation) -> Result<Organisation> {
        let mut tx = self.begin().await?;
        insert_org(&mut tx, &org).await?;
        self.commit(tx, &[]).await?;
        Ok(org)
    }

    #[tracing::instrument(skip_all)]
    async fn get_org(&self, id: &OrgId) -> Result<Organisation> {
        sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(org_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound("organisation"))
    }

    #[tracing::instrument(skip_all)]
    async fn org_by_slug(&self, slug: &str) -> Result<Option<Organisation>> {
        sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(org_from_row)
            .transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn list_orgs(&self) -> Result<Vec<Organisation>> {
        sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY created_at, id"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(org_from_row)
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn update_org(&self, org: Organisation) -> Result<Organisation> {
        let done = sqlx::query(
            "UPDATE orgs SET name = $2, default_region = $3, time_zone = $4, phone_strictness = $5, plan = $6, \
                 calls_per_second = $7 WHERE id = $1",
        )
        .bind(org.id.as_str())
        .bind(&org.name)
        .bind(&org.default_region)
        .bind(org.time_zone.name())
        .bind(strictness_name(org.phone_strictness))
        .bind(&org.plan)
        .bind(org.calls_per_second.map(|n| n as i32))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("organisation"));
        }
        Ok(org)
    }

    #[tracing::instrument(skip_all)]
    async fn bootstrap(&self, org: Organisation, key: ApiKey, key_hash: String) -> Result<bool> {
        let mut tx = self.begin().await?;
        // Nodes starting together must not each create a first organisation:
        // this mode lets readers through but lets one bootstrap at a time.
        sqlx::query("LOCK TABLE orgs IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        let any: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM orgs)").fetch_one(&mut *tx).await?;
        if any {
            return Ok(false);
        }
        insert_org(&mut tx, &org).await?;
        insert_key(&mut tx, &key, &key_hash).await?;
        self.commit(tx, &[]).await?;
        Ok(true)
    }
}

#[async_trait]
impl KeyStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn create_key(&self, key: ApiKey, key_hash: String) -> Result<ApiKey> {
        let mut tx = self.begin().await?;
        insert_key(&mut tx, &key, &key_hash).await?;
        self.commit(tx, &[]).await?;
        Ok(key)
    }

    #[tracing::instrument(skip_all)]
    async fn key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1"))
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(key_from_row)
            .transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn list_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = $1 ORDER BY created_at, id"
        ))
        .bind(org.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_key(&self, org: &OrgId, id: &ApiKeyId, at: switchboard_domain::Timestamp) -> Result<ApiKey> {
        // One statement: the row lock of the UPDATE keeps the earlier
        // revocation time when two revocations race.
        sqlx::query(&format!(
            "UPDATE api_keys SET revoked_at = LEAST(COALESCE(revoked_at, $3), $3) WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2 RETURNING {KEY_COLUMNS}"
        ))
        .bind(id.as_str())
        .bind(org.as_str())
        .bind(ms(at))
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("API key"))
    }
}

/// Stores a new call with its first timeline entry; queues its events.
pub(super) async fn store_new_call(c: &mut PgConnection, call: &mut Call, events: &mut Vec<DomainEvent>) -> Result<()> {
    insert_call(c, call).await?;
    created(c, call, events).await
}

/// How many calls the organisation's plan lets it have live at once, and
/// how many are live at `now`; `None` when the plan has no cap. Callers
/// hold the organisation's `dialer_rate` row, which serialises placing
/// and dialling in one organisation across nodes.
pub(super) async fn live_room(c: &mut PgConnection, org: &OrgId, now: switchboard_domain::Timestamp) -> Result<Option<(u64, u64)>> {
    let plan: Option<String> = sqlx::query_scalar("SELECT plan FROM orgs WHERE id = $1")
        .bind(org.as_str())
        .fetch_optional(&mut *c)
        .await?;
    let plan = plan.ok_or(StoreError::NotFound("organisation"))?;
    let Some(cap) = switchboard_domain::org::plan_live_cap(&plan) else {
        return Ok(None);
    };
    let since = now - chrono::Duration::seconds(switchboard_domain::org::LIVE_WINDOW_SECS);
    let live: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM calls WHERE org_id = $1 AND status IN {} AND created_at >= $2 \
         AND NOT EXISTS (SELECT 1 FROM dial_requests d WHERE d.call_id = calls.id AND d.state = 0)",
        switchboard_domain::org::LIVE_STATUSES
    ))
    .bind(org.as_str())
    .bind(since)
    .fetch_one(&mut *c)
    .await?;
    Ok(Some((cap, live as u64)))
}

/// Counts a new call against its organisation's monthly quota; refuses it
/// beyond the plan's limit. The counter's row lock makes concurrent
/// creations in one organisation count exactly.
async fn count_call(c: &mut PgConnection, call: &Call) -> Result<()> {
    let row = sqlx::query("SELECT plan, time_zone FROM orgs WHERE id = $1")
        .bind(call.org_id.as_str())
        .fetch_optional(&mut *c)
        .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound("organisation"));
    };
    let (plan, tz): (String, String) = (row.try_get("plan")?, row.try_get("time_zone")?);
    // Unlimited plans count nothing here: their usage is counted from the calls.
    let Some(limit) = switchboard_domain::org::plan_call_limit(&plan) else {
        return Ok(());
    };
    let tz = switchboard_domain::TimeZone::parse("timeZone", &tz).unwrap_or(switchboard_domain::TimeZone::UTC);
    let month = switchboard_domain::org::month_key(tz, call.created_at);
    let (from, to) = switchboard_domain::org::month_bounds(tz, call.created_at);
    sqlx::query(
        "INSERT INTO usage_months (org_id, month, calls) \
         SELECT $1, $2, COUNT(*) FROM calls WHERE org_id = $1 AND created_at >= $3 AND created_at < $4 AND id <> $5 ON CONFLICT DO NOTHING",
    )
    .bind(call.org_id.as_str())
    .bind(&month)
    .bind(from)
    .bind(to)
    .bind(call.id.as_str())
    .execute(&mut *c)
    .await?;
    let counted = sqlx::query("UPDATE usage_months SET calls = calls + 1 WHERE org_id = $1 AND month = $2 AND calls < $3 RETURNING calls")
        .bind(call.org_id.as_str())
        .bind(&month)
        .bind(limit as i64)
        .fetch_optional(&mut *c)
        .await?;
    if counted.is_none() {
        let used: i64 = sqlx::query_scalar("SELECT calls FROM usage_months WHERE org_id = $1 AND month = $2")
            .bind(call.org_id.as_str())
            .bind(&month)
            .fetch_one(&mut *c)
            .await?;
        return Err(StoreError::QuotaExceeded { limit, used: used as u64 });
    }
    Ok(())
}

/// Writes the first timeline entry of a call just inserted; queues its events.
async fn created(c: &mut PgConnection, call: &mut Call, events: &mut Vec<DomainEvent>) -> Result<()> {
    count_call(c, call).await?;
    let entry = logic::created_entry(call);
    insert_timeline(c, &call.id, std::slice::from_ref(&entry)).await?;
    events.extend(logic::call_created_events(call));
    super::conversations::write_segments(c, call, logic::segment_write(None, call, &[]), &[], call.created_at, events).await?;
    call.timeline = vec![entry];
    Ok(())
}

/// The call a carrier's id names, locked; created from `template` when no
/// call has that id yet. Answers whether it was created.
async fn find_or_create(
    c: &mut PgConnection,
    org: &OrgId,
    external_id: &str,
    template: Call,
    events: &mut Vec<DomainEvent>,
) -> Result<(Call, bool)> {
    for _ in 0..UPSERT_ATTEMPTS {
        if let Some(call) = load_call_by_external(c, org, external_id, Lock::ForUpdate).await? {
            return Ok((call, false));
        }
        // Racing reports all get here; the insert of all but one waits for
        // the winner's commit and then inserts nothing, and the next lookup
        // finds (and waits for the lock on) the winner's call.
        let mut call = template.clone();
        if insert_call_if_absent(c, &call).await? {
            created(c, &mut call, events).await?;
            return Ok((call, true));
        }
    }
    // The template's own external id is taken by a call this lookup does not
    // find: the same refusal SQLite gives when it inserts the template.
    Err(StoreError::Conflict("a call with this externalId already exists".into()))
}

/// Applies a report to a loaded (and locked) call, writes what changed and
/// queues the events.
pub(super) async fn apply_report(
    c: &mut PgConnection,
    mut call: Call,
    report: &CallReport,
    created: bool,
    events: &mut Vec<DomainEvent>,
) -> Result<ReportOutcome> {
    let at = now();
    // Only in-call events are deduplicated against the timeline; statuses
    // deduplicate by the state machine.
    let known: Vec<TimelineEntry> = if report.event.is_some() {
        load_timeline(c, &call.id).await?
    } else {
        Vec::new()
    };
    let before = call.clone();
    let applied = call.apply(report, at, &known)?;
    if applied.changed() {
        update_call(c, &call).await?;
        insert_timeline(c, &call.id, &applied.timeline).await?;
        events.extend(logic::call_changed_events(&before, &call, &applied, at));
    }
    let write = logic::segment_write(Some(&before), &call, &report.segments);
    let transcribed = super::conversations::write_segments(c, &call, write, &report.segment_analysis, at, events).await?;
    if let Some(state) = &report.conversation {
        super::conversations::save_conversation(c, &call, state, at).await?;
    }
    call.timeline = Vec::new();
    Ok(ReportOutcome {
        changed: applied.changed() || created || transcribed,
        transition: applied.transition.map(|t| transition_name(t).to_owned()),
        call,
        created,
    })
}

/// Appends the conditions of a call filter, starting with the organisation.
/// The statement of [`CallStore::calls_page`]: newest first, a keyset
/// seek `(occurred_at, id) < (..)` after `before`, else `offset` rows
/// skipped on the index alone (a deferred join reads only the page whole).
pub(crate) fn calls_page_query<'a>(
    org: &'a OrgId,
    f: &'a CallFilter,
    before: Option<&'a CallCursor>,
    offset: u64,
    limit: u32,
) -> QueryBuilder<'a, Postgres> {
    let mut q = QueryBuilder::new(format!("SELECT {CALL_COLUMNS} FROM calls"));
    if offset > 0 {
        q.push(" WHERE id IN (SELECT id FROM calls");
    }
    let (keep_end, before) = crate::logic::seek_bounds(f, before);
    push_call_where_bounded(&mut q, org, f, keep_end);
    if let Some(b) = before {
        q.push(" AND (occurred_at, id) < (")
            .push_bind(ms(b.occurred_at))
            .push(", ")
            .push_bind(b.id.as_str())
            .push(")");
    }
    q.push(" ORDER BY occurred_at DESC, id DESC LIMIT ").push_bind(i64::from(limit));
    if offset > 0 {
        q.push(" OFFSET ")
            .push_bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .push(") ORDER BY occurred_at DESC, id DESC");
    }
    q
}

fn push_call_where<'a>(q: &mut QueryBuilder<'a, Postgres>, org: &'a OrgId, f: &'a CallFilter) {
    push_call_where_bounded(q, org, f, true);
}

/// As [`push_call_where`], leaving the end bound out unless `with_end`.
fn push_call_where_bounded<'a>(q: &mut QueryBuilder<'a, Postgres>, org: &'a OrgId, f: &'a CallFilter, with_end: bool) {
    q.push(" WHERE org_id = ").push_bind(org.as_str());
    let mut eq = |col: &str, v: Option<&'a str>| {
        if let Some(v) = v {
            q.push(format!(" AND {col} = ")).push_bind(v);
        }
    };
    eq("contact_id", f.contact_id.as_deref());
    eq("campaign_id", f.campaign_id.as_deref());
    eq("agent_id", f.agent_id.as_deref());
    eq("call_type", f.call_type.as_deref());
    eq("customer_external_id", f.customer_external_id.as_deref());
    eq("direction", f.direction.map(|d| d.as_str()));
    if let [one] = f.statuses.as_slice() {
        // Plain equality: the status index then yields list order (an
        // `= ANY` condition would leave a sort).
        q.push(" AND status = ").push_bind(one.as_str());
    } else if !f.statuses.is_empty() {
        let statuses: Vec<&'static str> = f.statuses.iter().map(|s| s.as_str()).collect();
        q.push(" AND status = ANY(").push_bind(statuses).push(")");
    }
    if let Some(s) = f.start {
        q.push(" AND occurred_at >= ").push_bind(ms(s));
    }
    if let Some(e) = f.end.filter(|_| with_end) {
        q.push(" AND occurred_at < ").push_bind(ms(e));
    }
}

#[async_trait]
impl CallStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn create_call(&self, mut call: Call, idem: Option<IdemKey>) -> Result<Call> {
        let (mut grouped, key) = (call.clone(), idem.clone());
        let work: super::group::Work = Box::new(move |c, events| {
            Box::pin(async move {
                store_new_call(c, &mut grouped, events).await?;
                insert_idem(c, &grouped.org_id, &key, &grouped).await?;
                Ok(Box::new(grouped) as Box<dyn std::any::Any + Send>)
            })
        });
        if let Some(call) = self.group.run::<Call>(work).await {
            return Ok(call);
        }
        // Alone: the group it joined failed.
        let mut tx = self.begin().await?;
        let mut events = Vec::new();
        store_new_call(&mut tx, &mut call, &mut events).await?;
        insert_idem(&mut tx, &call.org_id, &idem, &call).await?;
        self.commit(tx, &events).await?;
        Ok(call)
    }

    async fn create_placed_call(&self, mut call: Call, now: switchboard_domain::Timestamp) -> Result<Call> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO dialer_rate (org_id, second, count) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING")
            .bind(call.org_id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("SELECT 1 FROM dialer_rate WHERE org_id = $1 FOR UPDATE")
            .bind(call.org_id.as_str())
            .execute(&mut *tx)
            .await?;
        if let Some((limit, live)) = live_room(&mut tx, &call.org_id, now).await?
            && live >= limit
        {
            return Err(StoreError::TooManyLiveCalls { limit, live });
        }
        let mut events = Vec::new();
        store_new_call(&mut tx, &mut call, &mut events).await?;
        self.commit(tx, &events).await?;
        Ok(call)
    }

    #[tracing::instrument(skip_all)]
    async fn get_call(&self, org: &OrgId, id: &CallId) -> Result<Call> {
        let mut c = self.pool.acquire().await?;
        let mut call = load_call(&mut c, org, id.as_str(), Lock::None)
            .await?
            .ok_or(StoreError::NotFound("call"))?;
        call.timeline = load_timeline(&mut c, &call.id).await?;
        Ok(call)
    }

    #[tracing::instrument(skip_all)]
    async fn call_by_external_id(&self, org: &OrgId, external_id: &str) -> Result<Option<Call>> {
        let mut c = self.pool.acquire().await?;
        let Some(mut call) = load_call_by_external(&mut c, org, external_id, Lock::None).await? else {
            return Ok(None);
        };
        call.timeline = load_timeline(&mut c, &call.id).await?;
        Ok(Some(call))
    }

    #[tracing::instrument(skip_all)]
    async fn list_calls(&self, org: &OrgId, filter: &CallFilter, page: Page) -> Result<(Vec<Call>, u64)> {
        let total = self.count_calls(org, filter).await?;
        let (limit, offset) = limit_offset(page);
        let calls = self
            .calls_page(
                org,
                filter,
                None,
                u64::try_from(offset).unwrap_or(0),
                u32::try_from(limit).unwrap_or(u32::MAX),
            )
            .await?;
        Ok((calls, total))
    }

    #[tracing::instrument(skip_all)]
    async fn calls_page(&self, org: &OrgId, filter: &CallFilter, before: Option<CallCursor>, offset: u64, limit: u32) -> Result<Vec<Call>> {
        calls_page_query(org, filter, before.as_ref(), offset, limit)
            .build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(call_from_row)
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn count_calls(&self, org: &OrgId, filter: &CallFilter) -> Result<u64> {
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM calls");
        push_call_where(&mut count, org, filter);
        let total: i64 = count.build_query_scalar::<i64>().fetch_one(&self.pool).await?;
        Ok(u64::try_from(total).unwrap_or(0))
    }

    #[tracing::instrument(skip_all)]
    async fn report_call(&self, org: &OrgId, target: CallTarget, report: CallReport, idem: Option<IdemKey>) -> Result<ReportOutcome> {
        let (g_org, g_target, g_report, g_idem) = (org.clone(), target.clone(), report.clone(), idem.clone());
        let work: super::group::Work = Box::new(move |c, events| {
            Box::pin(async move {
                let (call, created) = match g_target {
                    CallTarget::Id(id) => (
                        load_call(c, &g_org, id.as_str(), Lock::ForUpdate)
                            .await?
                            .ok_or(StoreError::NotFound("call"))?,
                        false,
                    ),
                    CallTarget::External { external_id, create } => find_or_create(c, &g_org, &external_id, *create, events).await?,
                };
                let outcome = apply_report(c, call, &g_report, created, events).await?;
                insert_idem(c, &g_org, &g_idem, &outcome).await?;
                Ok(Box::new(outcome) as Box<dyn std::any::Any + Send>)
            })
        });
        if let Some(outcome) = self.group.run::<ReportOutcome>(work).await {
            return Ok(outcome);
        }
        // Alone: the group it joined failed (or the report itself fails).
        let mut tx = self.begin().await?;
        let mut events = Vec::new();
        let (call, created) = match target {
            CallTarget::Id(id) => (
                load_call(&mut tx, org, id.as_str(), Lock::ForUpdate)
                    .await?
                    .ok_or(StoreError::NotFound("call"))?,
                false,
            ),
            CallTarget::External { external_id, create } => find_or_create(&mut tx, org, &external_id, *create, &mut events).await?,
        };
        let outcome = apply_report(&mut tx, call, &report, created, &mut events).await?;
        insert_idem(&mut tx, org, &idem, &outcome).await?;
        self.commit(tx, &events).await?;
        Ok(outcome)
    }

    #[tracing::instrument(skip_all)]
    async fn cancel_call(&self, org: &OrgId, id: &CallId, idem: Option<IdemKey>) -> Result<ReportOutcome> {
        let mut tx = self.begin().await?;
        let mut events = Vec::new();
        let call = load_call(&mut tx, org, id.as_str(), Lock::ForUpdate)
            .await?
            .ok_or(StoreError::NotFound("call"))?;
        call.status.cancel()?;
        let report = CallReport {
            status: Some(CallStatus::Canceled),
            ..Default::default()
        };
        let outcome = apply_report(&mut tx, call, &report, false, &mut events).await?;
        sqlx::query("DELETE FROM dial_requests WHERE call_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        insert_idem(&mut tx, org, &idem, &outcome).await?;
        self.commit(tx, &events).await?;
        Ok(outcome)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_call(&self, org: &OrgId, id: &CallId) -> Result<()> {
        let mut tx = self.begin().await?;
        let call = load_call(&mut tx, org, id.as_str(), Lock::ForUpdate)
            .await?
            .ok_or(StoreError::NotFound("call"))?;
        sqlx::query("DELETE FROM call_timeline WHERE call_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        super::conversations::delete_extras(&mut tx, id).await?;
        sqlx::query("DELETE FROM calls WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2")
            .bind(id.as_str())
            .bind(org.as_str())
            .execute(&mut *tx)
            .await?;
        self.commit(tx, &[logic::call_deleted_event(&call, now())]).await
    }

    #[tracing::instrument(skip_all)]
    async fn record_media_event(&self, org: &OrgId, id: &CallId, event: crate::MediaEvent, data: serde_json::Value) -> Result<()> {
        let mut tx = self.begin().await?;
        load_call(&mut tx, org, id.as_str(), Lock::None)
            .await?
            .ok_or(StoreError::NotFound("call"))?;
        self.commit(tx, &[DomainEvent::new(org, event.as_str(), data, now())]).await
    }
}

#[async_trait]
impl ContactStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn create_contact(&self, contact: Contact, idem: Option<IdemKey>) -> Result<Contact> {
        let mut tx = self.begin().await?;
        insert_contact(&mut tx, &contact).await?;
        insert_idem(&mut tx, &contact.org_id, &idem, &contact).await?;
        self.commit(tx, &[logic::contact_event("contact.created", &contact, contact.created_at)])
            .await?;
        Ok(contact)
    }

    #[tracing::instrument(skip_all)]
    async fn get_contact(&self, org: &OrgId, id: &ContactId) -> Result<Contact> {
        let mut c = self.pool.acquire().await?;
        load_contact(&mut c, org, id.as_str(), Lock::None)
            .await?
            .ok_or(StoreError::NotFound("contact"))
    }

    #[tracing::instrument(skip_all)]
    async fn update_contact(&self, org: &OrgId, id: &ContactId, patch: ContactPatch) -> Result<Contact> {
        let mut tx = self.begin().await?;
        let mut contact = load_contact(&mut tx, org, id.as_str(), Lock::ForUpdate)
            .await?
            .ok_or(StoreError::NotFound("contact"))?;
        let at = now();
        let mut events = Vec::new();
        if patch.apply(&mut contact, at) {
            update_contact(&mut tx, &contact).await?;
            events.push(logic::contact_event("contact.updated", &contact, at));
        }
        self.commit(tx, &events).await?;
        Ok(contact)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_contact(&self, org: &OrgId, id: &ContactId) -> Result<()> {
        let mut tx = self.begin().await?;
        let contact = load_contact(&mut tx, org, id.as_str(), Lock::ForUpdate)
            .await?
            .ok_or(StoreError::NotFound("contact"))?;
        sqlx::query("DELETE FROM contacts WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2")
            .bind(id.as_str())
            .bind(org.as_str())
            .execute(&mut *tx)
            .await?;
        self.commit(tx, &[logic::contact_event("contact.deleted", &contact, now())]).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_contacts(&self, org: &OrgId, filter: &ContactFilter, page: Page) -> Result<(Vec<Contact>, u64)> {
        // Backslash is LIKE's default escape character in PostgreSQL.
        let pattern = filter
            .search
            .as_ref()
            .map(|q| format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        let push_where = |q: &mut QueryBuilder<'_, Postgres>| {
            q.push(" WHERE org_id = ").push_bind(org.as_str().to_owned());
            if let Some(tag) = &filter.tag {
                q.push(" AND tags ? ").push_bind(tag.clone());
            }
            if let Some(p) = &pattern {
                q.push(" AND (name ILIKE ")
                    .push_bind(p.clone())
                    .push(" OR email ILIKE ")
                    .push_bind(p.clone())
                    .push(" OR phone ILIKE ")
                    .push_bind(p.clone())
                    .push(")");
            }
        };
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM contacts");
        push_where(&mut count);
        let total: i64 = count.build_query_scalar::<i64>().fetch_one(&self.pool).await?;
        let (limit, offset) = limit_offset(page);
        let mut select = QueryBuilder::new(format!("SELECT {CONTACT_COLUMNS} FROM contacts"));
        push_where(&mut select);
        select
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        let contacts = select
            .build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(contact_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok((contacts, u64::try_from(total).unwrap_or(0)))
    }

    #[tracing::instrument(skip_all)]
    async fn contact_calls(&self, org: &OrgId, id: &ContactId, limit: u32) -> Result<Vec<Call>> {
        sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE org_id = $1 AND contact_id = $2 ORDER BY occurred_at DESC, id DESC LIMIT $3"
        ))
        .bind(org.as_str())
        .bind(id.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(call_from_row)
        .collect()
    }
}

#[async_trait]
impl IdempotencyStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn save_idempotent_result(&self, org: &OrgId, key: IdemKey, body: String) -> Result<()> {
        sqlx::query("INSERT INTO idempotency_keys (org_id, key, fingerprint, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING")
            .bind(org.as_str())
            .bind(&key.key)
            .bind(&key.fingerprint)
            .bind(i32::from(key.status))
            .bind(body)
            .bind(ms(now()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn idempotent_result(&self, org: &OrgId, key: &str) -> Result<Option<IdemRecord>> {
        let row: Option<(String, i32, String)> =
            sqlx::query_as("SELECT fingerprint, status, body FROM idempotency_keys WHERE org_id = $1 AND key = $2")
                .bind(org.as_str())
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(fingerprint, status, body)| {
            Ok(IdemRecord {
                fingerprint,
                status: u16::try_from(status).map_err(|_| StoreError::Backend(format!("stored HTTP status {status} out of range")))?,
                body,
            })
        })
        .transpose()
    }
}

#[async_trait]
impl OutboxStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<DomainEvent>> {
        self.sequence_outbox().await?;
        sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(event_from_row)
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn org_events_after(&self, org: &OrgId, after: i64, limit: u32) -> Result<Vec<DomainEvent>> {
        self.sequence_outbox().await?;
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM outbox WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(org.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn prune_outbox(&self, before: switchboard_domain::Timestamp, limit: u32) -> Result<u64> {
        let mut tx = self.begin().await?;
        let gone: Vec<i64> = sqlx::query_scalar(
            "DELETE FROM outbox WHERE pos IN (SELECT o.pos FROM outbox o \
             WHERE o.seq IS NOT NULL AND o.seq <= (SELECT cursor FROM webhook_dispatch WHERE id = 1) AND o.seq < (SELECT MAX(seq) FROM outbox) AND o.created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = o.id AND d.status IN ('pending', 'failed')) \
             ORDER BY o.seq LIMIT $2) RETURNING seq",
        )
        .bind(ms(before))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        if let Some(top) = gone.iter().max() {
            sqlx::query(
                "INSERT INTO server_settings (name, value) VALUES ('outbox_pruned_through', $1) \
                 ON CONFLICT (name) DO UPDATE SET value = GREATEST(server_settings.value::BIGINT, EXCLUDED.value::BIGINT)::TEXT",
            )
            .bind(top.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(gone.len() as u64)
    }

    #[tracing::instrument(skip_all)]
    async fn outbox_pruned_through(&self) -> Result<i64> {
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM server_settings WHERE name = 'outbox_pruned_through'")
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    async fn outbox_bell(&self) -> Result<crate::OutboxBell> {
        Ok(self.bell().await)
    }
}

#[async_trait]
impl AnalyticsSource for PgStore {
    #[tracing::instrument(skip_all)]
    async fn outbox_head(&self) -> Result<i64> {
        self.sequence_outbox().await?;
        // Never below what pruning removed, even when it removed everything.
        Ok(sqlx::query_scalar(
            "SELECT GREATEST(COALESCE((SELECT MAX(seq) FROM outbox), 0), \
             COALESCE((SELECT value::BIGINT FROM server_settings WHERE name = 'outbox_pruned_through'), 0))",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn call_facts_page(&self, after: Option<CallId>, limit: u32) -> Result<Vec<CallFacts>> {
        // Every id is greater than the empty string.
        let after = after.as_ref().map_or("", CallId::as_str);
        sqlx::query(&format!("SELECT {FACT_COLUMNS} FROM calls WHERE id > $1 ORDER BY id LIMIT $2"))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(facts_from_row)
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn call_facts(&self, ids: &[CallId]) -> Result<Vec<CallFacts>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = ids.iter().map(CallId::as_str).collect();
        sqlx::query(&format!("SELECT {FACT_COLUMNS} FROM calls WHERE id = ANY($1)"))
            .bind(ids)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(facts_from_row)
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn import_calls(&self, calls: Vec<Call>) -> Result<u64> {
        let mut tx = self.begin().await?;
        for chunk in calls.chunks(IMPORT_CHUNK) {
            insert_calls(&mut tx, chunk).await?;
        }
        // One event per organisation, in organisation id order, as SQLite.
        let mut by_org: BTreeMap<&OrgId, Vec<&CallId>> = BTreeMap::new();
        for call in &calls {
            by_org.entry(&call.org_id).or_default().push(&call.id);
        }
        let at = now();
        let events: Vec<DomainEvent> = by_org
            .into_iter()
            .map(|(org, ids)| logic::calls_imported_event(org, &ids, at))
            .collect();
        self.commit(tx, &events).await?;
        // A bulk load changes the table's shape faster than autovacuum
        // notices: refresh the planner's statistics (sampled), as SQLite does.
        sqlx::query("ANALYZE calls").execute(&self.pool).await?;
        Ok(calls.len() as u64)
    }

    #[tracing::instrument(skip_all)]
    async fn calls_after(&self, org: &OrgId, filter: &CallFilter, after: Option<CallCursor>, limit: u32) -> Result<Vec<Call>> {
        let mut select = QueryBuilder::new(format!("SELECT {CALL_COLUMNS} FROM calls"));
        push_call_where(&mut select, org, filter);
        if let Some(a) = &after {
            select
                .push(" AND (occurred_at, id) > (")
                .push_bind(ms(a.occurred_at))
                .push(", ")
                .push_bind(a.id.as_str())
                .push(")");
        }
        select.push(" ORDER BY occurred_at, id LIMIT ").push_bind(i64::from(limit));
        select.build().fetch_all(&self.pool).await?.iter().map(call_from_row).collect()
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    #[tracing::instrument(skip_all)]
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn gauges(&self) -> Result<crate::Gauges> {
        let outbox_head = self.outbox_head().await?;
        let (dispatched, queued, live): (Option<i64>, i64, i64) = sqlx::query_as(
            "SELECT (SELECT cursor FROM webhook_dispatch WHERE id = 1), \
             (SELECT COUNT(*) FROM webhook_deliveries WHERE status IN ('pending', 'failed')), \
             (SELECT COUNT(*) FROM calls WHERE status IN ('queued','initiated','ringing','in_progress'))",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(crate::Gauges {
            outbox_head,
            webhook_dispatched_through: dispatched.unwrap_or(0),
            webhook_queued: u64::try_from(queued).unwrap_or(0),
            live_calls: u64::try_from(live).unwrap_or(0),
        })
    }
}
