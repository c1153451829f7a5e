//! Mapping between SQLite rows and domain values.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;
use switchboard_domain::call::Sentiment;
use switchboard_domain::phone::Strictness;
use switchboard_domain::{
    ApiKey, ApiKeyId, Call, CallId, CallStatus, Contact, ContactId, Direction, DomainEvent, EventId, OrgId, Organisation, PhoneNumber,
    TimeZone, TimelineEntry, Timestamp,
};

use crate::{IdemKey, Result, StoreError};

pub(super) fn ms(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

pub(super) fn opt_ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(ms)
}

pub(super) fn ts(v: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_millis(v).unwrap_or_default()
}

pub(super) fn opt_ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(ts)
}

pub(super) fn json_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}

pub(super) fn parse_json(s: Option<String>) -> rusqlite::Result<Option<Value>> {
    s.map(|s| serde_json::from_str(&s).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))))
        .transpose()
}

/// Is this error a UNIQUE or PRIMARY KEY violation?
pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Maps a unique violation to a conflict naming `what`.
pub(super) fn conflict(what: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(what.to_owned())
        } else {
            StoreError::from(e)
        }
    }
}

pub(super) const ORG_COLUMNS: &str = "id, slug, name, default_region, time_zone, phone_strictness, plan, created_at, calls_per_second";

pub(super) fn org_from_row(r: &Row<'_>) -> rusqlite::Result<Organisation> {
    let tz: String = r.get(4)?;
    let strict: String = r.get(5)?;
    Ok(Organisation {
        id: OrgId::from_trusted(r.get(0)?),
        slug: r.get(1)?,
        name: r.get(2)?,
        default_region: r.get(3)?,
        time_zone: TimeZone::parse("timeZone", &tz).unwrap_or(TimeZone::UTC),
        phone_strictness: if strict == "strict" {
            Strictness::Strict
        } else {
            Strictness::Possible
        },
        plan: r.get(6)?,
        created_at: ts(r.get(7)?),
        calls_per_second: r.get(8)?,
    })
}

pub(super) fn strictness_name(s: Strictness) -> &'static str {
    match s {
        Strictness::Strict => "strict",
        Strictness::Possible => "possible",
    }
}

pub(super) const KEY_COLUMNS: &str = "id, org_id, name, prefix, created_at, revoked_at, scopes, expires_at";

pub(super) fn key_from_row(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        name: r.get(2)?,
        prefix: r.get(3)?,
        created_at: ts(r.get(4)?),
        revoked_at: opt_ts(r.get(5)?),
        scopes: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
        expires_at: opt_ts(r.get(7)?),
    })
}

pub(super) const CALL_COLUMNS: &str = "id, org_id, status, direction, from_number, to_number, contact_id, customer_name, customer_phone, customer_external_id, customer_context, call_type, agent_id, agent_name, campaign_id, template_id, variables, metadata, scheduled_at, initiated_at, ringing_at, answered_at, ended_at, duration, outcome, notes, recording_url, transcript, sentiment, topics, summary, collected_data, cost, external_id, occurred_at, created_at, updated_at";

pub(super) fn call_from_row(r: &Row<'_>) -> rusqlite::Result<Call> {
    let status: String = r.get(2)?;
    let direction: String = r.get(3)?;
    let sentiment: Option<String> = r.get(28)?;
    let topics: Option<String> = r.get(29)?;
    Ok(Call {
        id: CallId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        status: CallStatus::parse(&status).unwrap_or(CallStatus::Failed),
        direction: Direction::parse(&direction).unwrap_or_default(),
        from: r.get(4)?,
        to: r.get(5)?,
        contact_id: r.get::<_, Option<String>>(6)?.map(ContactId::from_trusted),
        customer_name: r.get(7)?,
        customer_phone: r.get(8)?,
        customer_external_id: r.get(9)?,
        customer_context: parse_json(r.get(10)?)?,
        call_type: r.get(11)?,
        agent_id: r.get(12)?,
        agent_name: r.get(13)?,
        campaign_id: r.get(14)?,
        template_id: r.get(15)?,
        variables: parse_json(r.get(16)?)?,
        metadata: parse_json(r.get(17)?)?,
        scheduled_at: opt_ts(r.get(18)?),
        initiated_at: opt_ts(r.get(19)?),
        ringing_at: opt_ts(r.get(20)?),
        answered_at: opt_ts(r.get(21)?),
        ended_at: opt_ts(r.get(22)?),
        duration: r.get(23)?,
        outcome: r.get(24)?,
        notes: r.get(25)?,
        recording_url: r.get(26)?,
        transcript: r.get(27)?,
        sentiment: sentiment.as_deref().and_then(Sentiment::parse),
        topics: topics.and_then(|t| serde_json::from_str(&t).ok()),
        summary: r.get(30)?,
        collected_data: parse_json(r.get(31)?)?,
        cost: r.get(32)?,
        external_id: r.get(33)?,
        created_at: ts(r.get(35)?),
        updated_at: ts(r.get(36)?),
        timeline: Vec::new(),
    })
}

/// The column values of a call, in `CALL_COLUMNS` order.
pub(super) fn call_values(c: &Call) -> Vec<SqlValue> {
    fn t(v: Option<String>) -> SqlValue {
        v.map(SqlValue::Text).unwrap_or(SqlValue::Null)
    }
    fn s(v: &Option<String>) -> SqlValue {
        t(v.clone())
    }
    fn i(v: Option<i64>) -> SqlValue {
        v.map(SqlValue::Integer).unwrap_or(SqlValue::Null)
    }
    vec![
        SqlValue::Text(c.id.to_string()),
        SqlValue::Text(c.org_id.to_string()),
        SqlValue::Text(c.status.as_str().into()),
        SqlValue::Text(c.direction.as_str().into()),
        s(&c.from),
        s(&c.to),
        t(c.contact_id.as_ref().map(|v| v.to_string())),
        s(&c.customer_name),
        s(&c.customer_phone),
        s(&c.customer_external_id),
        t(json_text(&c.customer_context)),
        s(&c.call_type),
        s(&c.agent_id),
        s(&c.agent_name),
        s(&c.campaign_id),
        s(&c.template_id),
        t(json_text(&c.variables)),
        t(json_text(&c.metadata)),
        i(opt_ms(c.scheduled_at)),
        i(opt_ms(c.initiated_at)),
        i(opt_ms(c.ringing_at)),
        i(opt_ms(c.answered_at)),
        i(opt_ms(c.ended_at)),
        i(c.duration),
        s(&c.outcome),
        s(&c.notes),
        s(&c.recording_url),
        s(&c.transcript),
        t(c.sentiment.map(|v| v.as_str().to_owned())),
        t(c.topics.as_ref().map(|v| serde_json::to_string(v).unwrap_or_default())),
        s(&c.summary),
        t(json_text(&c.collected_data)),
        c.cost.map(SqlValue::Real).unwrap_or(SqlValue::Null),
        s(&c.external_id),
        SqlValue::Integer(ms(c.occurred_at())),
        SqlValue::Integer(ms(c.created_at)),
        SqlValue::Integer(ms(c.updated_at)),
    ]
}

/// Builds a SQL text once per call site; the hot paths prepare statements
/// by text, so building it anew each time would cost an allocation.
macro_rules! static_sql {
    ($($arg:tt)*) => {{
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!($($arg)*));
        SQL.as_str()
    }};
}
pub(super) use static_sql;

pub(super) fn insert_call(conn: &Connection, call: &Call) -> Result<()> {
    let sql = static_sql!("INSERT INTO calls ({CALL_COLUMNS}) VALUES ({})", vec!["?"; 37].join(", "));
    conn.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(call_values(call)))
        .map_err(conflict("a call with this externalId already exists"))?;
    Ok(())
}

pub(super) fn update_call(conn: &Connection, call: &Call) -> Result<()> {
    let sql = static_sql!("UPDATE calls SET {} WHERE id = ?1 AND org_id = ?2", assignments(CALL_COLUMNS));
    conn.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(call_values(call)))
        .map_err(conflict("a call with this externalId already exists"))?;
    Ok(())
}

pub(super) fn load_call(conn: &Connection, org: &OrgId, id: &str) -> Result<Option<Call>> {
    let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = ?1 AND org_id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id, org.as_str()], call_from_row)
        .optional()?)
}

pub(super) fn load_call_by_external(conn: &Connection, org: &OrgId, external_id: &str) -> Result<Option<Call>> {
    let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE org_id = ?1 AND external_id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![org.as_str(), external_id], call_from_row)
        .optional()?)
}

pub(super) fn load_timeline(conn: &Connection, call: &CallId) -> Result<Vec<TimelineEntry>> {
    let mut stmt = conn.prepare_cached("SELECT kind, at, data FROM call_timeline WHERE call_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([call.as_str()], |r| {
        Ok(TimelineEntry {
            kind: r.get(0)?,
            at: ts(r.get(1)?),
            data: parse_json(r.get(2)?)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn insert_timeline(conn: &Connection, call: &CallId, entries: &[TimelineEntry]) -> Result<()> {
    let mut stmt = conn.prepare_cached("INSERT INTO call_timeline (call_id, kind, at, data) VALUES (?1, ?2, ?3, ?4)")?;
    for e in entries {
        stmt.execute(params![call.as_str(), e.kind, ms(e.at), json_text(&e.data)])?;
    }
    Ok(())
}

pub(super) fn insert_events(conn: &Connection, events: &[DomainEvent]) -> Result<()> {
    let mut stmt = conn.prepare_cached("INSERT INTO outbox (id, org_id, event_type, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for e in events {
        stmt.execute(params![
            e.id.as_str(),
            e.org_id.as_str(),
            e.event_type,
            e.data.to_string(),
            ms(e.created_at)
        ])?;
    }
    Ok(())
}

pub(super) fn event_from_row(r: &Row<'_>) -> rusqlite::Result<DomainEvent> {
    let data: String = r.get(4)?;
    Ok(DomainEvent {
        seq: r.get(0)?,
        id: EventId::from_trusted(r.get(1)?),
        org_id: OrgId::from_trusted(r.get(2)?),
        event_type: r.get(3)?,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
        created_at: ts(r.get(5)?),
    })
}

pub(super) fn insert_idem<T: serde::Serialize>(conn: &Connection, org: &OrgId, idem: &Option<IdemKey>, out: &T) -> Result<()> {
    let Some(k) = idem else { return Ok(()) };
    let body = serde_json::to_string(out)?;
    conn.prepare_cached(
        "INSERT INTO idempotency_keys (org_id, key, fingerprint, status, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![org.as_str(), k.key, k.fingerprint, k.status, body, ms(chrono::Utc::now())])
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::IdempotencyKeyTaken
        } else {
            StoreError::from(e)
        }
    })?;
    Ok(())
}

pub(super) const CONTACT_COLUMNS: &str =
    "id, org_id, name, phone, email, company, tags, custom_fields, external_id, time_zone, created_at, updated_at";

pub(super) fn contact_from_row(r: &Row<'_>) -> rusqlite::Result<Contact> {
    let tags: String = r.get(6)?;
    let tz: Option<String> = r.get(9)?;
    Ok(Contact {
        id: ContactId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        name: r.get(2)?,
        phone: PhoneNumber::from_trusted(r.get(3)?),
        email: r.get(4)?,
        company: r.get(5)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        custom_fields: parse_json(r.get(7)?)?,
        external_id: r.get(8)?,
        time_zone: tz.and_then(|t| TimeZone::parse("timeZone", &t).ok()),
        created_at: ts(r.get(10)?),
        updated_at: ts(r.get(11)?),
    })
}

pub(super) fn contact_values(c: &Contact) -> Vec<SqlValue> {
    fn s(v: &Option<String>) -> SqlValue {
        v.clone().map(SqlValue::Text).unwrap_or(SqlValue::Null)
    }
    vec![
        SqlValue::Text(c.id.to_string()),
        SqlValue::Text(c.org_id.to_string()),
        s(&c.name),
        SqlValue::Text(c.phone.to_string()),
        s(&c.email),
        s(&c.company),
        SqlValue::Text(serde_json::to_string(&c.tags).unwrap_or_else(|_| "[]".into())),
        s(&json_text(&c.custom_fields)),
        s(&c.external_id),
        s(&c.time_zone.map(|t| t.name().to_owned())),
        SqlValue::Integer(ms(c.created_at)),
        SqlValue::Integer(ms(c.updated_at)),
    ]
}

pub(super) fn load_contact(conn: &Connection, org: &OrgId, id: &str) -> Result<Option<Contact>> {
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = ?1 AND org_id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id, org.as_str()], contact_from_row)
        .optional()?)
}

/// `col = ?3, col = ?4, ...` for every column after `id, org_id`.
pub(super) fn assignments(columns: &str) -> String {
    columns
        .split(", ")
        .skip(2)
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 3))
        .collect::<Vec<_>>()
        .join(", ")
}
