//! The store traits on SQLite.

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, params, params_from_iter};
use switchboard_domain::call::CallReport;
use switchboard_domain::contact::ContactPatch;
use switchboard_domain::{ApiKey, ApiKeyId, Call, CallId, CallStatus, Contact, ContactId, DomainEvent, OrgId, Organisation, TimelineEntry};

use super::SqliteStore;
use super::rows::*;
use crate::logic::{self, now};
use crate::{
    AnalyticsSource, CallCursor, CallFacts, CallFilter, CallStore, CallTarget, ContactFilter, ContactStore, IdemKey, IdemRecord,
    IdempotencyStore, KeyStore, OrgStore, OutboxStore, Page, ReportOutcome, Result, Store, StoreError, transition_name,
};

fn insert_org(conn: &rusqlite::Connection, o: &Organisation) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO orgs ({ORG_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?
    .execute(params![
        o.id.as_str(),
        o.slug,
        o.name,
        o.default_region,
        o.time_zone.name(),
        strictness_name(o.phone_strictness),
        o.plan,
        ms(o.created_at),
        o.calls_per_second
    ])
    .map_err(conflict("an organisation with this slug already exists"))?;
    Ok(())
}

fn insert_key(conn: &rusqlite::Connection, k: &ApiKey, hash: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO api_keys (id, org_id, name, prefix, hash, created_at, revoked_at, scopes, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        k.id.as_str(),
        k.org_id.as_str(),
        k.name,
        k.prefix,
        hash,
        ms(k.created_at),
        opt_ms(k.revoked_at),
        serde_json::to_string(&k.scopes).unwrap_or_else(|_| "[]".into()),
        opt_ms(k.expires_at)
    ])
    .map_err(conflict("an API key with this secret already exists"))?;
    Ok(())
}

#[async_trait]
impl OrgStore for SqliteStore {
    async fn create_org(&self, org: Organisation) -> Result<Organisation> {
        self.write(move |c| {
            insert_org(c, &org)?;
            Ok(org)
        })
        .await
    }

    async fn get_org(&self, id: &OrgId) -> Result<Organisation> {
        let id = id.clone();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?1"))?
                .query_row([id.as_str()], org_from_row)
                .optional()?
                .ok_or(StoreError::NotFound("organisation"))
        })
        .await
    }

    async fn org_by_slug(&self, slug: &str) -> Result<Option<Organisation>> {
        let slug = slug.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE slug = ?1"))?
                .query_row([slug], org_from_row)
                .optional()?)
        })
        .await
    }

    async fn list_orgs(&self) -> Result<Vec<Organisation>> {
        self.read(|c| {
            Ok(
                c.prepare_cached(&format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY created_at, id"))?
                    .query_map([], org_from_row)?
                    .collect::<rusqlite::Result<_>>()?,
            )
        })
        .await
    }

    async fn update_org(&self, org: Organisation) -> Result<Organisation> {
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE orgs SET name = ?2, default_region = ?3, time_zone = ?4, phone_strictness = ?5, plan = ?6, \
                     calls_per_second = ?7 WHERE id = ?1",
                )?
                .execute(params![
                    org.id.as_str(),
                    org.name,
                    org.default_region,
                    org.time_zone.name(),
                    strictness_name(org.phone_strictness),
                    org.plan,
                    org.calls_per_second
                ])?;
            if n == 0 {
                return Err(StoreError::NotFound("organisation"));
            }
            Ok(org)
        })
        .await
    }

    async fn bootstrap(&self, org: Organisation, key: ApiKey, key_hash: String) -> Result<bool> {
        self.write(move |c| {
            let any: bool = c.query_row("SELECT EXISTS(SELECT 1 FROM orgs)", [], |r| r.get(0))?;
            if any {
                return Ok(false);
            }
            insert_org(c, &org)?;
            insert_key(c, &key, &key_hash)?;
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn create_key(&self, key: ApiKey, key_hash: String) -> Result<ApiKey> {
        self.write(move |c| {
            insert_key(c, &key, &key_hash)?;
            Ok(key)
        })
        .await
    }

    async fn key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let hash = key_hash.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?1"))?
                .query_row([hash], key_from_row)
                .optional()?)
        })
        .await
    }

    async fn list_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>> {
        let org = org.clone();
        self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = ?1 ORDER BY created_at, id"
            ))?
            .query_map([org.as_str()], key_from_row)?
            .collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn revoke_key(&self, org: &OrgId, id: &ApiKeyId, at: switchboard_domain::Timestamp) -> Result<ApiKey> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            c.prepare_cached("UPDATE api_keys SET revoked_at = MIN(COALESCE(revoked_at, ?3), ?3) WHERE id = ?1 AND org_id = ?2")?
                .execute(params![id.as_str(), org.as_str(), ms(at)])?;
            c.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1 AND org_id = ?2"))?
                .query_row(params![id.as_str(), org.as_str()], key_from_row)
                .optional()?
                .ok_or(StoreError::NotFound("API key"))
        })
        .await
    }
}

/// Counts a new call against its organisation's monthly quota; refuses it
/// beyond the plan's limit.
fn count_call(c: &rusqlite::Connection, call: &Call) -> Result<()> {
    let (plan, tz): (String, String) = c
        .prepare_cached("SELECT plan, time_zone FROM orgs WHERE id = ?1")?
        .query_row([call.org_id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or(StoreError::NotFound("organisation"))?;
    // Unlimited plans count nothing here: their usage is counted from the calls.
    let Some(limit) = switchboard_domain::org::plan_call_limit(&plan) else {
        return Ok(());
    };
    let tz = switchboard_domain::TimeZone::parse("timeZone", &tz).unwrap_or(switchboard_domain::TimeZone::UTC);
    let month = switchboard_domain::org::month_key(tz, call.created_at);
    let (from, to) = switchboard_domain::org::month_bounds(tz, call.created_at);
    // The first call of the month (or after a plan change) starts the
    // counter from the calls already made.
    c.prepare_cached(
        "INSERT INTO usage_months (org_id, month, calls) \
         SELECT ?1, ?2, COUNT(*) FROM calls WHERE org_id = ?1 AND created_at >= ?3 AND created_at < ?4 ON CONFLICT DO NOTHING",
    )?
    .execute(params![call.org_id.as_str(), month, ms(from), ms(to)])?;
    let counted = c
        .prepare_cached("UPDATE usage_months SET calls = calls + 1 WHERE org_id = ?1 AND month = ?2 AND calls < ?3")?
        .execute(params![call.org_id.as_str(), month, limit as i64])?;
    if counted == 0 {
        let used: i64 = c.query_row(
            "SELECT calls FROM usage_months WHERE org_id = ?1 AND month = ?2",
            params![call.org_id.as_str(), month],
            |r| r.get(0),
        )?;
        return Err(StoreError::QuotaExceeded { limit, used: used as u64 });
    }
    Ok(())
}

/// How many more calls the organisation's plan lets it have live at
/// `now`; `None` when the plan has no cap. Counted from the partial
/// `calls_live` index.
pub(super) fn live_room(c: &rusqlite::Connection, org: &OrgId, now: switchboard_domain::Timestamp) -> Result<Option<(u64, u64)>> {
    let plan: String = c
        .prepare_cached("SELECT plan FROM orgs WHERE id = ?1")?
        .query_row([org.as_str()], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound("organisation"))?;
    let Some(cap) = switchboard_domain::org::plan_live_cap(&plan) else {
        return Ok(None);
    };
    let since = now - chrono::Duration::seconds(switchboard_domain::org::LIVE_WINDOW_SECS);
    let live: i64 = c
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM calls WHERE org_id = ?1 AND status IN {} AND created_at >= ?2 \
             AND NOT EXISTS (SELECT 1 FROM dial_requests d WHERE d.call_id = calls.id AND d.state = 0)",
            switchboard_domain::org::LIVE_STATUSES
        ))?
        .query_row(params![org.as_str(), ms(since)], |r| r.get(0))?;
    Ok(Some((cap, live as u64)))
}

/// Stores a new call with its first timeline entry and events.
pub(super) fn store_new_call(c: &rusqlite::Connection, call: &mut Call) -> Result<()> {
    count_call(c, call)?;
    insert_call(c, call)?;
    let entry = logic::created_entry(call);
    insert_timeline(c, &call.id, std::slice::from_ref(&entry))?;
    insert_events(c, &logic::call_created_events(call))?;
    let segments = super::conversations::write_segments(c, call, logic::segment_write(None, call, &[]), &[], call.created_at)?;
    insert_events(c, &segments)?;
    call.timeline = vec![entry];
    Ok(())
}

/// Applies a report to a loaded call and writes what changed.
pub(super) fn apply_report(c: &rusqlite::Connection, mut call: Call, report: &CallReport, created: bool) -> Result<ReportOutcome> {
    let at = now();
    // Only in-call events are deduplicated against the timeline; statuses
    // deduplicate by the state machine.
    let known: Vec<TimelineEntry> = if report.event.is_some() {
        load_timeline(c, &call.id)?
    } else {
        Vec::new()
    };
    let before = call.clone();
    let applied = call.apply(report, at, &known)?;
    let mut events = Vec::new();
    if applied.changed() {
        update_call(c, &call)?;
        insert_timeline(c, &call.id, &applied.timeline)?;
        events = logic::call_changed_events(&before, &call, &applied, at);
    }
    let segments = super::conversations::write_segments(
        c,
        &call,
        logic::segment_write(Some(&before), &call, &report.segments),
        &report.segment_analysis,
        at,
    )?;
    let transcribed = !segments.is_empty();
    events.extend(segments);
    if let Some(state) = &report.conversation {
        super::conversations::save_conversation(c, &call, state, at)?;
    }
    insert_events(c, &events)?;
    call.timeline = Vec::new();
    Ok(ReportOutcome {
        changed: applied.changed() || created || transcribed,
        transition: applied.transition.map(|t| transition_name(t).to_owned()),
        call,
        created,
    })
}

/// SQL conditions and parameters for a call filter (after `org_id = ?1`).
/// The statement of [`CallStore::calls_page`] and its arguments: newest
/// first, a keyset seek after `before`, else `offset` rows skipped on the
/// index alone (a deferred join: only the page's rows are read whole).
pub fn calls_page_sql(org: &OrgId, f: &CallFilter, before: Option<&CallCursor>, offset: u64, limit: u32) -> (String, Vec<SqlValue>) {
    let (keep_end, before) = crate::logic::seek_bounds(f, before);
    let f = CallFilter {
        end: f.end.filter(|_| keep_end),
        ..f.clone()
    };
    let (mut cond, mut args) = call_where(org, &f);
    if let Some(b) = before {
        cond.push_str(" AND (occurred_at, id) < (?, ?)");
        args.extend([SqlValue::Integer(ms(b.occurred_at)), SqlValue::Text(b.id.to_string())]);
    }
    args.push(SqlValue::Integer(i64::from(limit)));
    let sql = if offset == 0 {
        format!("SELECT {CALL_COLUMNS} FROM calls WHERE {cond} ORDER BY occurred_at DESC, id DESC LIMIT ?")
    } else {
        args.push(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
        format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE rowid IN \
             (SELECT rowid FROM calls WHERE {cond} ORDER BY occurred_at DESC, id DESC LIMIT ? OFFSET ?) \
             ORDER BY occurred_at DESC, id DESC"
        )
    };
    (sql, args)
}

fn call_where(org: &OrgId, f: &CallFilter) -> (String, Vec<SqlValue>) {
    let mut sql = String::from("org_id = ?");
    let mut args = vec![SqlValue::Text(org.to_string())];
    let mut eq = |col: &str, v: &Option<String>| {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            args.push(SqlValue::Text(v.clone()));
        }
    };
    eq("contact_id", &f.contact_id);
    eq("campaign_id", &f.campaign_id);
    eq("agent_id", &f.agent_id);
    eq("call_type", &f.call_type);
    eq("customer_external_id", &f.customer_external_id);
    eq("direction", &f.direction.map(|d| d.as_str().to_owned()));
    if !f.statuses.is_empty() {
        sql.push_str(&format!(" AND status IN ({})", vec!["?"; f.statuses.len()].join(", ")));
        args.extend(f.statuses.iter().map(|s| SqlValue::Text(s.as_str().into())));
    }
    if let Some(s) = f.start {
        sql.push_str(" AND occurred_at >= ?");
        args.push(SqlValue::Integer(ms(s)));
    }
    if let Some(e) = f.end {
        sql.push_str(" AND occurred_at < ?");
        args.push(SqlValue::Integer(ms(e)));
    }
    (sql, args)
}

#[async_trait]
impl CallStore for SqliteStore {
    async fn create_call(&self, mut call: Call, idem: Option<IdemKey>) -> Result<Call> {
        self.write(move |c| {
            store_new_call(c, &mut call)?;
            insert_idem(c, &call.org_id, &idem, &call)?;
            Ok(call)
        })
        .await
    }

    async fn create_placed_call(&self, mut call: Call, now: switchboard_domain::Timestamp) -> Result<Call> {
        self.write(move |c| {
            if let Some((limit, live)) = live_room(c, &call.org_id, now)?
                && live >= limit
            {
                return Err(StoreError::TooManyLiveCalls { limit, live });
            }
            store_new_call(c, &mut call)?;
            Ok(call)
        })
        .await
    }

    async fn get_call(&self, org: &OrgId, id: &CallId) -> Result<Call> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| {
            let mut call = load_call(c, &org, id.as_str())?.ok_or(StoreError::NotFound("call"))?;
            call.timeline = load_timeline(c, &call.id)?;
            Ok(call)
        })
        .await
    }

    async fn call_by_external_id(&self, org: &OrgId, external_id: &str) -> Result<Option<Call>> {
        let (org, ext) = (org.clone(), external_id.to_owned());
        self.read(move |c| {
            let Some(mut call) = load_call_by_external(c, &org, &ext)? else {
                return Ok(None);
            };
            call.timeline = load_timeline(c, &call.id)?;
            Ok(Some(call))
        })
        .await
    }

    async fn list_calls(&self, org: &OrgId, filter: &CallFilter, page: Page) -> Result<(Vec<Call>, u64)> {
        let total = self.count_calls(org, filter).await?;
        let calls = self.calls_page(org, filter, None, page.offset(), page.limit).await?;
        Ok((calls, total))
    }

    async fn calls_page(&self, org: &OrgId, filter: &CallFilter, before: Option<CallCursor>, offset: u64, limit: u32) -> Result<Vec<Call>> {
        let (sql, args) = calls_page_sql(org, filter, before.as_ref(), offset, limit);
        self.read(move |c| {
            Ok(c.prepare_cached(&sql)?
                .query_map(params_from_iter(args.iter()), call_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn count_calls(&self, org: &OrgId, filter: &CallFilter) -> Result<u64> {
        let (cond, args) = call_where(org, filter);
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM calls WHERE {cond}"))?
                .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
            Ok(total as u64)
        })
        .await
    }

    async fn report_call(&self, org: &OrgId, target: CallTarget, report: CallReport, idem: Option<IdemKey>) -> Result<ReportOutcome> {
        let org = org.clone();
        self.write(move |c| {
            let (call, created) = match target {
                CallTarget::Id(id) => (load_call(c, &org, id.as_str())?.ok_or(StoreError::NotFound("call"))?, false),
                CallTarget::External { external_id, create } => match load_call_by_external(c, &org, &external_id)? {
                    Some(call) => (call, false),
                    None => {
                        let mut call = *create;
                        store_new_call(c, &mut call)?;
                        (call, true)
                    }
                },
            };
            let outcome = apply_report(c, call, &report, created)?;
            insert_idem(c, &org, &idem, &outcome)?;
            Ok(outcome)
        })
        .await
    }

    async fn cancel_call(&self, org: &OrgId, id: &CallId, idem: Option<IdemKey>) -> Result<ReportOutcome> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let call = load_call(c, &org, id.as_str())?.ok_or(StoreError::NotFound("call"))?;
            call.status.cancel()?;
            let report = CallReport {
                status: Some(CallStatus::Canceled),
                ..Default::default()
            };
            let outcome = apply_report(c, call, &report, false)?;
            c.prepare_cached("DELETE FROM dial_requests WHERE call_id = ?1")?
                .execute([id.as_str()])?;
            insert_idem(c, &org, &idem, &outcome)?;
            Ok(outcome)
        })
        .await
    }

    async fn delete_call(&self, org: &OrgId, id: &CallId) -> Result<()> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let call = load_call(c, &org, id.as_str())?.ok_or(StoreError::NotFound("call"))?;
            c.prepare_cached("DELETE FROM call_timeline WHERE call_id = ?1")?
                .execute([id.as_str()])?;
            super::conversations::delete_extras(c, &id)?;
            c.prepare_cached("DELETE FROM calls WHERE id = ?1 AND org_id = ?2")?
                .execute(params![id.as_str(), org.as_str()])?;
            insert_events(c, &[logic::call_deleted_event(&call, now())])?;
            Ok(())
        })
        .await
    }

    async fn record_media_event(&self, org: &OrgId, id: &CallId, event: crate::MediaEvent, data: serde_json::Value) -> Result<()> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            load_call(c, &org, id.as_str())?.ok_or(StoreError::NotFound("call"))?;
            insert_events(c, &[DomainEvent::new(&org, event.as_str(), data, now())])
        })
        .await
    }
}

#[async_trait]
impl ContactStore for SqliteStore {
    async fn create_contact(&self, contact: Contact, idem: Option<IdemKey>) -> Result<Contact> {
        self.write(move |c| {
            let sql = static_sql!("INSERT INTO contacts ({CONTACT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
            c.prepare_cached(sql)?
                .execute(params_from_iter(contact_values(&contact)))
                .map_err(conflict("a contact with this externalId already exists"))?;
            insert_events(c, &[logic::contact_event("contact.created", &contact, contact.created_at)])?;
            insert_idem(c, &contact.org_id, &idem, &contact)?;
            Ok(contact)
        })
        .await
    }

    async fn get_contact(&self, org: &OrgId, id: &ContactId) -> Result<Contact> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| load_contact(c, &org, id.as_str())?.ok_or(StoreError::NotFound("contact")))
            .await
    }

    async fn update_contact(&self, org: &OrgId, id: &ContactId, patch: ContactPatch) -> Result<Contact> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let mut contact = load_contact(c, &org, id.as_str())?.ok_or(StoreError::NotFound("contact"))?;
            let at = now();
            if patch.apply(&mut contact, at) {
                let sql = static_sql!("UPDATE contacts SET {} WHERE id = ?1 AND org_id = ?2", assignments(CONTACT_COLUMNS));
                c.prepare_cached(sql)?
                    .execute(params_from_iter(contact_values(&contact)))
                    .map_err(conflict("a contact with this externalId already exists"))?;
                insert_events(c, &[logic::contact_event("contact.updated", &contact, at)])?;
            }
            Ok(contact)
        })
        .await
    }

    async fn delete_contact(&self, org: &OrgId, id: &ContactId) -> Result<()> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let contact = load_contact(c, &org, id.as_str())?.ok_or(StoreError::NotFound("contact"))?;
            c.prepare_cached("DELETE FROM contacts WHERE id = ?1 AND org_id = ?2")?
                .execute(params![id.as_str(), org.as_str()])?;
            insert_events(c, &[logic::contact_event("contact.deleted", &contact, now())])?;
            Ok(())
        })
        .await
    }

    async fn list_contacts(&self, org: &OrgId, filter: &ContactFilter, page: Page) -> Result<(Vec<Contact>, u64)> {
        let mut cond = String::from("org_id = ?");
        let mut args = vec![SqlValue::Text(org.to_string())];
        if let Some(tag) = &filter.tag {
            cond.push_str(" AND EXISTS (SELECT 1 FROM json_each(contacts.tags) WHERE json_each.value = ?)");
            args.push(SqlValue::Text(tag.clone()));
        }
        if let Some(q) = &filter.search {
            let pattern = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            cond.push_str(" AND (name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\' OR phone LIKE ? ESCAPE '\\')");
            args.extend(std::iter::repeat_n(SqlValue::Text(pattern), 3));
        }
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM contacts WHERE {cond}"))?
                .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
            args.push(SqlValue::Integer(i64::from(page.limit)));
            args.push(SqlValue::Integer(page.offset() as i64));
            let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE {cond} ORDER BY id DESC LIMIT ? OFFSET ?");
            let rows = c
                .prepare_cached(&sql)?
                .query_map(params_from_iter(args.iter()), contact_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn contact_calls(&self, org: &OrgId, id: &ContactId, limit: u32) -> Result<Vec<Call>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| {
            let sql = format!(
                "SELECT {CALL_COLUMNS} FROM calls WHERE org_id = ?1 AND contact_id = ?2 ORDER BY occurred_at DESC, id DESC LIMIT ?3"
            );
            Ok(c.prepare_cached(&sql)?
                .query_map(params![org.as_str(), id.as_str(), limit], call_from_row)?
                .collect::<rusqlite::Result<_>>()?)
        })
        .await
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn save_idempotent_result(&self, org: &OrgId, key: IdemKey, body: String) -> Result<()> {
        let org = org.clone();
        self.write(move |c| {
            c.prepare_cached("INSERT INTO idempotency_keys (org_id, key, fingerprint, status, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING")?
                .execute(params![org.as_str(), key.key, key.fingerprint, key.status, body, ms(now())])?;
            Ok(())
        })
        .await
    }

    async fn idempotent_result(&self, org: &OrgId, key: &str) -> Result<Option<IdemRecord>> {
        let (org, key) = (org.clone(), key.to_owned());
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT fingerprint, status, body FROM idempotency_keys WHERE org_id = ?1 AND key = ?2")?
                    .query_row(params![org.as_str(), key], |r| {
                        Ok(IdemRecord {
                            fingerprint: r.get(0)?,
                            status: r.get(1)?,
                            body: r.get(2)?,
                        })
                    })
                    .optional()?,
            )
        })
        .await
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<DomainEvent>> {
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT seq, id, org_id, event_type, data, created_at FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")?
                    .query_map(params![after, limit], event_from_row)?
                    .collect::<rusqlite::Result<_>>()?,
            )
        })
        .await
    }

    async fn org_events_after(&self, org: &OrgId, after: i64, limit: u32) -> Result<Vec<DomainEvent>> {
        let org = org.clone();
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT seq, id, org_id, event_type, data, created_at FROM outbox WHERE org_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?
            .query_map(params![org.as_str(), after, limit], event_from_row)?
            .collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn prune_outbox(&self, before: switchboard_domain::Timestamp, limit: u32) -> Result<u64> {
        self.write(move |c| {
            let gone: Vec<i64> = c
                .prepare_cached(
                    "DELETE FROM outbox WHERE seq IN (SELECT o.seq FROM outbox o \
                     WHERE o.seq <= (SELECT cursor FROM webhook_dispatch WHERE id = 1) AND o.seq < (SELECT MAX(seq) FROM outbox) AND o.created_at < ?1 \
                     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = o.id AND d.status IN ('pending', 'failed')) \
                     ORDER BY o.seq LIMIT ?2) RETURNING seq",
                )?
                .query_map(params![ms(before), limit], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if let Some(top) = gone.iter().max() {
                c.prepare_cached(
                    "INSERT INTO server_settings (name, value) VALUES ('outbox_pruned_through', ?1) \
                     ON CONFLICT (name) DO UPDATE SET value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                )?
                .execute([top.to_string()])?;
            }
            Ok(gone.len() as u64)
        })
        .await
    }

    async fn outbox_pruned_through(&self) -> Result<i64> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT CAST(value AS INTEGER) FROM server_settings WHERE name = 'outbox_pruned_through'")?
                    .query_row([], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0),
            )
        })
        .await
    }

    async fn outbox_bell(&self) -> Result<crate::OutboxBell> {
        Ok(self.bell())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(|_| ())?))
            .await?;
        // A write through the writer proves the writer thread is alive too.
        self.write(|_| Ok(())).await
    }

    async fn gauges(&self) -> Result<crate::Gauges> {
        let outbox_head = self.outbox_head().await?;
        self.read(move |c| {
            let one = |sql: &str| c.query_row(sql, [], |r| r.get::<_, Option<i64>>(0)).map(|v| v.unwrap_or(0));
            Ok(crate::Gauges {
                outbox_head,
                webhook_dispatched_through: one("SELECT cursor FROM webhook_dispatch WHERE id = 1")?,
                webhook_queued: one("SELECT COUNT(*) FROM webhook_deliveries WHERE status IN ('pending', 'failed')")? as u64,
                live_calls: one("SELECT COUNT(*) FROM calls WHERE status IN ('queued','initiated','ringing','in_progress')")? as u64,
            })
        })
        .await
    }
}

const FACT_COLUMNS: &str = "id, org_id, occurred_at, status, direction, duration, outcome, call_type, agent_id, agent_name, campaign_id, customer_external_id, customer_name, customer_phone, customer_context, metadata, answered_at, cost";

fn facts_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CallFacts> {
    let status: String = r.get(3)?;
    let direction: String = r.get(4)?;
    let json = |i: usize| -> rusqlite::Result<Option<serde_json::Value>> {
        Ok(r.get::<_, Option<String>>(i)?.and_then(|s| serde_json::from_str(&s).ok()))
    };
    Ok(CallFacts {
        id: CallId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        occurred_at: ts(r.get(2)?),
        status: CallStatus::parse(&status).unwrap_or(CallStatus::Failed),
        direction: switchboard_domain::Direction::parse(&direction).unwrap_or_default(),
        duration: r.get(5)?,
        outcome: r.get(6)?,
        call_type: r.get(7)?,
        agent_id: r.get(8)?,
        agent_name: r.get(9)?,
        campaign_id: r.get(10)?,
        customer_external_id: r.get(11)?,
        customer_name: r.get(12)?,
        customer_phone: r.get(13)?,
        customer_context: json(14)?,
        metadata: json(15)?,
        answered_at: r.get::<_, Option<i64>>(16)?.map(ts),
        cost: r.get(17)?,
    })
}

#[async_trait]
impl AnalyticsSource for SqliteStore {
    async fn outbox_head(&self) -> Result<i64> {
        // Never below what pruning removed, even when it removed everything.
        self.read(|c| {
            Ok(c.query_row(
                "SELECT MAX(COALESCE((SELECT MAX(seq) FROM outbox), 0), \
                 COALESCE((SELECT CAST(value AS INTEGER) FROM server_settings WHERE name = 'outbox_pruned_through'), 0))",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn call_facts_page(&self, after: Option<CallId>, limit: u32) -> Result<Vec<CallFacts>> {
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        self.read(move |c| {
            let sql = static_sql!("SELECT {FACT_COLUMNS} FROM calls WHERE id > ?1 ORDER BY id LIMIT ?2");
            Ok(c.prepare_cached(sql)?
                .query_map(params![after, limit], facts_from_row)?
                .collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn call_facts(&self, ids: &[CallId]) -> Result<Vec<CallFacts>> {
        let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        self.read(move |c| {
            let mut out = Vec::with_capacity(ids.len());
            let mut stmt = c.prepare_cached(static_sql!("SELECT {FACT_COLUMNS} FROM calls WHERE id = ?1"))?;
            for id in &ids {
                if let Some(f) = stmt.query_row([id], facts_from_row).optional()? {
                    out.push(f);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn import_calls(&self, calls: Vec<Call>) -> Result<u64> {
        let calls = std::sync::Arc::new(calls);
        self.write(move |c| {
            let mut by_org: std::collections::BTreeMap<&OrgId, Vec<&CallId>> = std::collections::BTreeMap::new();
            for call in calls.iter() {
                insert_call(c, call)?;
                by_org.entry(&call.org_id).or_default().push(&call.id);
            }
            let at = now();
            let events: Vec<DomainEvent> = by_org
                .into_iter()
                .map(|(org, ids)| logic::calls_imported_event(org, &ids, at))
                .collect();
            insert_events(c, &events)?;
            // A bulk load can change the table's shape: keep the planner's
            // statistics in step (sampled, and only when the size moved).
            super::refresh_statistics(c)?;
            Ok(calls.len() as u64)
        })
        .await
    }

    async fn calls_after(&self, org: &OrgId, filter: &CallFilter, after: Option<CallCursor>, limit: u32) -> Result<Vec<Call>> {
        let (mut cond, mut args) = call_where(org, filter);
        if let Some(a) = after {
            // The row-value form: an index seek (the OR form is not one).
            cond.push_str(" AND (occurred_at, id) > (?, ?)");
            args.extend([SqlValue::Integer(ms(a.occurred_at)), SqlValue::Text(a.id.to_string())]);
        }
        args.push(SqlValue::Integer(i64::from(limit)));
        self.read(move |c| {
            let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE {cond} ORDER BY occurred_at, id LIMIT ?");
            Ok(c.prepare_cached(&sql)?
                .query_map(params_from_iter(args.iter()), call_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}
