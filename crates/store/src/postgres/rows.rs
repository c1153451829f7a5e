//! Mapping between PostgreSQL rows and domain values, and the statements the
//! store's operations share. Every function takes a connection (a pooled one
//! or an open transaction) so writes compose inside one transaction.

use serde_json::Value;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, Row};
use switchboard_domain::call::Sentiment;
use switchboard_domain::phone::Strictness;
use switchboard_domain::{
    ApiKey, ApiKeyId, Call, CallId, CallStatus, Contact, ContactId, Direction, DomainEvent, EventId, OrgId, Organisation, PhoneNumber,
    TimeZone, TimelineEntry, Timestamp,
};

use crate::{CallFacts, IdemKey, Result, StoreError};

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// The stores keep milliseconds; PostgreSQL would keep microseconds, so
/// instants are truncated on the way in to read back exactly as SQLite's do.
pub(super) fn ms(t: Timestamp) -> Timestamp {
    switchboard_domain::truncate(t)
}

pub(super) fn opt_ms(t: Option<Timestamp>) -> Option<Timestamp> {
    t.map(ms)
}

/// Is this error a unique (or primary key) violation, SQLSTATE 23505?
pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

/// Maps a unique violation to a conflict naming `what`.
pub(super) fn conflict(what: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(what.to_owned())
        } else {
            StoreError::from(e)
        }
    }
}

/// Whether a read takes the row lock that serialises concurrent writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lock {
    None,
    ForUpdate,
}

impl Lock {
    fn sql(self) -> &'static str {
        match self {
            Lock::None => "",
            Lock::ForUpdate => " FOR UPDATE",
        }
    }
}

pub(super) const ORG_COLUMNS: &str = "id, slug, name, default_region, time_zone, phone_strictness, plan, created_at, calls_per_second";

pub(super) fn org_from_row(r: &PgRow) -> Result<Organisation> {
    let tz: String = r.try_get("time_zone")?;
    let strict: String = r.try_get("phone_strictness")?;
    Ok(Organisation {
        id: OrgId::from_trusted(r.try_get("id")?),
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        default_region: r.try_get("default_region")?,
        time_zone: TimeZone::parse("timeZone", &tz).unwrap_or(TimeZone::UTC),
        phone_strictness: if strict == "strict" {
            Strictness::Strict
        } else {
            Strictness::Possible
        },
        plan: r.try_get("plan")?,
        created_at: r.try_get("created_at")?,
        calls_per_second: r.try_get::<Option<i32>, _>("calls_per_second")?.map(|n| n.max(0) as u32),
    })
}

pub(super) fn strictness_name(s: Strictness) -> &'static str {
    match s {
        Strictness::Strict => "strict",
        Strictness::Possible => "possible",
    }
}

pub(super) async fn insert_org(conn: &mut PgConnection, o: &Organisation) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO orgs ({ORG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(o.id.as_str())
    .bind(&o.slug)
    .bind(&o.name)
    .bind(&o.default_region)
    .bind(o.time_zone.name())
    .bind(strictness_name(o.phone_strictness))
    .bind(&o.plan)
    .bind(ms(o.created_at))
    .bind(o.calls_per_second.map(|n| n as i32))
    .execute(conn)
    .await
    .map_err(conflict("an organisation with this slug already exists"))?;
    Ok(())
}

pub(super) const KEY_COLUMNS: &str = "id, org_id, name, prefix, created_at, revoked_at, scopes, expires_at";

pub(super) fn key_from_row(r: &PgRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
        scopes: serde_json::from_value(r.try_get("scopes")?).unwrap_or_default(),
        expires_at: r.try_get("expires_at")?,
    })
}

pub(super) async fn insert_key(conn: &mut PgConnection, k: &ApiKey, hash: &str) -> Result<()> {
    sqlx::query("INSERT INTO api_keys (id, org_id, name, prefix, hash, created_at, revoked_at, scopes, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(k.id.as_str())
        .bind(k.org_id.as_str())
        .bind(&k.name)
        .bind(&k.prefix)
        .bind(hash)
        .bind(ms(k.created_at))
        .bind(opt_ms(k.revoked_at))
        .bind(serde_json::json!(k.scopes))
        .bind(opt_ms(k.expires_at))
        .execute(conn)
        .await
        .map_err(conflict("an API key with this secret already exists"))?;
    Ok(())
}

pub(super) const CALL_COLUMNS: &str = "id, org_id, status, direction, from_number, to_number, contact_id, customer_name, customer_phone, customer_external_id, customer_context, call_type, agent_id, agent_name, campaign_id, template_id, variables, metadata, scheduled_at, initiated_at, ringing_at, answered_at, ended_at, duration, outcome, notes, recording_url, transcript, sentiment, topics, summary, collected_data, cost, external_id, occurred_at, created_at, updated_at";

const CALL_EXTERNAL_TAKEN: &str = "a call with this externalId already exists";

pub(super) fn call_from_row(r: &PgRow) -> Result<Call> {
    let status: String = r.try_get("status")?;
    let direction: String = r.try_get("direction")?;
    let sentiment: Option<String> = r.try_get("sentiment")?;
    let topics: Option<Value> = r.try_get("topics")?;
    Ok(Call {
        id: CallId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        status: CallStatus::parse(&status).unwrap_or(CallStatus::Failed),
        direction: Direction::parse(&direction).unwrap_or_default(),
        from: r.try_get("from_number")?,
        to: r.try_get("to_number")?,
        contact_id: r.try_get::<Option<String>, _>("contact_id")?.map(ContactId::from_trusted),
        customer_name: r.try_get("customer_name")?,
        customer_phone: r.try_get("customer_phone")?,
        customer_external_id: r.try_get("customer_external_id")?,
        customer_context: r.try_get("customer_context")?,
        call_type: r.try_get("call_type")?,
        agent_id: r.try_get("agent_id")?,
        agent_name: r.try_get("agent_name")?,
        campaign_id: r.try_get("campaign_id")?,
        template_id: r.try_get("template_id")?,
        variables: r.try_get("variables")?,
        metadata: r.try_get("metadata")?,
        scheduled_at: r.try_get("scheduled_at")?,
        initiated_at: r.try_get("initiated_at")?,
        ringing_at: r.try_get("ringing_at")?,
        answered_at: r.try_get("answered_at")?,
        ended_at: r.try_get("ended_at")?,
        duration: r.try_get("duration")?,
        outcome: r.try_get("outcome")?,
        notes: r.try_get("notes")?,
        recording_url: r.try_get("recording_url")?,
        transcript: r.try_get("transcript")?,
        sentiment: sentiment.as_deref().and_then(Sentiment::parse),
        topics: topics.and_then(|t| serde_json::from_value(t).ok()),
        summary: r.try_get("summary")?,
        collected_data: r.try_get("collected_data")?,
        cost: r.try_get("cost")?,
        external_id: r.try_get("external_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        timeline: Vec::new(),
    })
}

/// Binds the column values of a call, in `CALL_COLUMNS` order ($1..$37).
fn bind_call<'q>(q: PgQuery<'q>, c: &'q Call) -> PgQuery<'q> {
    q.bind(c.id.as_str())
        .bind(c.org_id.as_str())
        .bind(c.status.as_str())
        .bind(c.direction.as_str())
        .bind(c.from.as_deref())
        .bind(c.to.as_deref())
        .bind(c.contact_id.as_ref().map(|v| v.as_str()))
        .bind(c.customer_name.as_deref())
        .bind(c.customer_phone.as_deref())
        .bind(c.customer_external_id.as_deref())
        .bind(c.customer_context.as_ref())
        .bind(c.call_type.as_deref())
        .bind(c.agent_id.as_deref())
        .bind(c.agent_name.as_deref())
        .bind(c.campaign_id.as_deref())
        .bind(c.template_id.as_deref())
        .bind(c.variables.as_ref())
        .bind(c.metadata.as_ref())
        .bind(opt_ms(c.scheduled_at))
        .bind(opt_ms(c.initiated_at))
        .bind(opt_ms(c.ringing_at))
        .bind(opt_ms(c.answered_at))
        .bind(opt_ms(c.ended_at))
        .bind(c.duration)
        .bind(c.outcome.as_deref())
        .bind(c.notes.as_deref())
        .bind(c.recording_url.as_deref())
        .bind(c.transcript.as_deref())
        .bind(c.sentiment.map(|v| v.as_str()))
        .bind(c.topics.as_ref().map(Json))
        .bind(c.summary.as_deref())
        .bind(c.collected_data.as_ref())
        .bind(c.cost)
        .bind(c.external_id.as_deref())
        .bind(ms(c.occurred_at()))
        .bind(ms(c.created_at))
        .bind(ms(c.updated_at))
}

fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

pub(super) async fn insert_call(conn: &mut PgConnection, call: &Call) -> Result<()> {
    let sql = format!("INSERT INTO calls ({CALL_COLUMNS}) VALUES ({})", placeholders(37));
    bind_call(sqlx::query(&sql), call)
        .execute(conn)
        .await
        .map_err(conflict(CALL_EXTERNAL_TAKEN))?;
    Ok(())
}

/// Inserts a call unless another already holds its `(org_id, external_id)`;
/// answers whether it did. A racing insert of the same external id waits for
/// the other transaction and, once that commits, inserts nothing.
pub(super) async fn insert_call_if_absent(conn: &mut PgConnection, call: &Call) -> Result<bool> {
    let sql = format!(
        "INSERT INTO calls ({CALL_COLUMNS}) VALUES ({}) ON CONFLICT (org_id, external_id) WHERE external_id IS NOT NULL DO NOTHING",
        placeholders(37)
    );
    let done = bind_call(sqlx::query(&sql), call)
        .execute(conn)
        .await
        .map_err(conflict(CALL_EXTERNAL_TAKEN))?;
    Ok(done.rows_affected() == 1)
}

/// The type of each of `CALL_COLUMNS`, for binding them as arrays.
const CALL_COLUMN_TYPES: [&str; 37] = [
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "jsonb",
    "text",
    "text",
    "text",
    "text",
    "text",
    "jsonb",
    "jsonb",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "bigint",
    "text",
    "text",
    "text",
    "text",
    "text",
    "jsonb",
    "text",
    "jsonb",
    "float8",
    "text",
    "timestamptz",
    "timestamptz",
    "timestamptz",
];

/// Inserts many calls in one statement: each column is bound as one array
/// and `UNNEST` zips them back into rows, so the statement has 37
/// parameters however many calls it carries.
pub(super) async fn insert_calls(conn: &mut PgConnection, calls: &[Call]) -> Result<()> {
    if calls.is_empty() {
        return Ok(());
    }
    let arrays: Vec<String> = CALL_COLUMN_TYPES
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}[]", i + 1))
        .collect();
    let sql = format!("INSERT INTO calls ({CALL_COLUMNS}) SELECT * FROM UNNEST({})", arrays.join(", "));
    fn col<'c, T>(calls: &'c [Call], f: impl Fn(&'c Call) -> T) -> Vec<T> {
        calls.iter().map(f).collect()
    }
    sqlx::query(&sql)
        .bind(col(calls, |c| c.id.as_str()))
        .bind(col(calls, |c| c.org_id.as_str()))
        .bind(col(calls, |c| c.status.as_str()))
        .bind(col(calls, |c| c.direction.as_str()))
        .bind(col(calls, |c| c.from.as_deref()))
        .bind(col(calls, |c| c.to.as_deref()))
        .bind(col(calls, |c| c.contact_id.as_ref().map(|v| v.as_str())))
        .bind(col(calls, |c| c.customer_name.as_deref()))
        .bind(col(calls, |c| c.customer_phone.as_deref()))
        .bind(col(calls, |c| c.customer_external_id.as_deref()))
        .bind(col(calls, |c| c.customer_context.as_ref()))
        .bind(col(calls, |c| c.call_type.as_deref()))
        .bind(col(calls, |c| c.agent_id.as_deref()))
        .bind(col(calls, |c| c.agent_name.as_deref()))
        .bind(col(calls, |c| c.campaign_id.as_deref()))
        .bind(col(calls, |c| c.template_id.as_deref()))
        .bind(col(calls, |c| c.variables.as_ref()))
        .bind(col(calls, |c| c.metadata.as_ref()))
        .bind(col(calls, |c| opt_ms(c.scheduled_at)))
        .bind(col(calls, |c| opt_ms(c.initiated_at)))
        .bind(col(calls, |c| opt_ms(c.ringing_at)))
        .bind(col(calls, |c| opt_ms(c.answered_at)))
        .bind(col(calls, |c| opt_ms(c.ended_at)))
        .bind(col(calls, |c| c.duration))
        .bind(col(calls, |c| c.outcome.as_deref()))
        .bind(col(calls, |c| c.notes.as_deref()))
        .bind(col(calls, |c| c.recording_url.as_deref()))
        .bind(col(calls, |c| c.transcript.as_deref()))
        .bind(col(calls, |c| c.sentiment.map(|v| v.as_str())))
        .bind(col(calls, |c| c.topics.as_ref().map(|t| Value::from(t.clone()))))
        .bind(col(calls, |c| c.summary.as_deref()))
        .bind(col(calls, |c| c.collected_data.as_ref()))
        .bind(col(calls, |c| c.cost))
        .bind(col(calls, |c| c.external_id.as_deref()))
        .bind(col(calls, |c| ms(c.occurred_at())))
        .bind(col(calls, |c| ms(c.created_at)))
        .bind(col(calls, |c| ms(c.updated_at)))
        .execute(conn)
        .await
        .map_err(conflict(CALL_EXTERNAL_TAKEN))?;
    Ok(())
}

pub(super) async fn update_call(conn: &mut PgConnection, call: &Call) -> Result<()> {
    let sets: Vec<String> = CALL_COLUMNS
        .split(", ")
        .enumerate()
        .skip(2)
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    let sql = format!(
        "UPDATE calls SET {} WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2",
        sets.join(", ")
    );
    bind_call(sqlx::query(&sql), call)
        .execute(conn)
        .await
        .map_err(conflict(CALL_EXTERNAL_TAKEN))?;
    Ok(())
}

/// One row of `table` by primary key within an organisation.
///
/// The organisation is tested as `org_id IS NOT DISTINCT FROM $2` (here and
/// in every UPDATE and DELETE by id), which no index can serve. With a plain
/// `org_id = $2`, a connection's cached generic plan made while the table
/// was nearly empty may prefer an org-prefixed index to the primary key, and
/// then walks all of the organisation's rows on every lookup (a tenfold
/// slowdown of call writes on a fresh database).
pub(super) async fn row_in_org<'e, T>(
    conn: impl sqlx::PgExecutor<'e>,
    (table, columns): (&str, &str),
    org: &OrgId,
    id: &str,
    lock: Lock,
    from_row: fn(&PgRow) -> Result<T>,
) -> Result<Option<T>> {
    sqlx::query(&row_in_org_sql(table, columns, lock))
        .bind(id)
        .bind(org.as_str())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub(super) fn row_in_org_sql(table: &str, columns: &str, lock: Lock) -> String {
    format!(
        "SELECT {columns} FROM {table} WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2{}",
        lock.sql()
    )
}

pub(super) async fn load_call(conn: &mut PgConnection, org: &OrgId, id: &str, lock: Lock) -> Result<Option<Call>> {
    row_in_org(conn, ("calls", CALL_COLUMNS), org, id, lock, call_from_row).await
}

pub(super) async fn load_call_by_external(conn: &mut PgConnection, org: &OrgId, external_id: &str, lock: Lock) -> Result<Option<Call>> {
    let sql = format!(
        "SELECT {CALL_COLUMNS} FROM calls WHERE org_id = $1 AND external_id = $2{}",
        lock.sql()
    );
    sqlx::query(&sql)
        .bind(org.as_str())
        .bind(external_id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(call_from_row)
        .transpose()
}

pub(super) async fn load_timeline(conn: &mut PgConnection, call: &CallId) -> Result<Vec<TimelineEntry>> {
    sqlx::query("SELECT kind, at, data FROM call_timeline WHERE call_id = $1 ORDER BY id")
        .bind(call.as_str())
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| {
            Ok(TimelineEntry {
                kind: r.try_get("kind")?,
                at: r.try_get("at")?,
                data: r.try_get("data")?,
            })
        })
        .collect()
}

pub(super) async fn insert_timeline(conn: &mut PgConnection, call: &CallId, entries: &[TimelineEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    // One statement for all entries; ORDINALITY keeps their order in `id`.
    sqlx::query(
        "INSERT INTO call_timeline (call_id, kind, at, data) \
         SELECT $1, e.kind, e.at, e.data FROM UNNEST($2::text[], $3::timestamptz[], $4::jsonb[]) WITH ORDINALITY AS e(kind, at, data, n) \
         ORDER BY e.n",
    )
    .bind(call.as_str())
    .bind(entries.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| ms(e.at)).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.data.clone()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts the events; answers the newest insertion position written.
pub(super) async fn insert_events(conn: &mut PgConnection, events: &[DomainEvent]) -> Result<Option<i64>> {
    if events.is_empty() {
        return Ok(None);
    }
    // No `seq`: the sequencer numbers the rows once committed, in `pos`
    // order, which ORDINALITY makes the events' order.
    let pos: Option<i64> = sqlx::query_scalar(
        "WITH ins AS (INSERT INTO outbox (id, org_id, event_type, data, created_at) \
         SELECT e.id, e.org_id, e.event_type, e.data, e.created_at \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[]) WITH ORDINALITY AS e(id, org_id, event_type, data, created_at, n) \
         ORDER BY e.n RETURNING pos) SELECT MAX(pos) FROM ins",
    )
    .bind(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.org_id.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.data.clone()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| ms(e.created_at)).collect::<Vec<_>>())
    .fetch_one(conn)
    .await?;
    Ok(pos)
}

pub(super) const EVENT_COLUMNS: &str = "seq, id, org_id, event_type, data, created_at";

pub(super) fn event_from_row(r: &PgRow) -> Result<DomainEvent> {
    Ok(DomainEvent {
        seq: r.try_get("seq")?,
        id: EventId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        event_type: r.try_get("event_type")?,
        data: r.try_get("data")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(super) const FACT_COLUMNS: &str = "id, org_id, occurred_at, status, direction, duration, outcome, call_type, agent_id, agent_name, campaign_id, customer_external_id, customer_name, customer_phone, customer_context, metadata, answered_at, cost";

pub(super) fn facts_from_row(r: &PgRow) -> Result<CallFacts> {
    let status: String = r.try_get("status")?;
    let direction: String = r.try_get("direction")?;
    Ok(CallFacts {
        id: CallId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        occurred_at: r.try_get("occurred_at")?,
        status: CallStatus::parse(&status).unwrap_or(CallStatus::Failed),
        direction: Direction::parse(&direction).unwrap_or_default(),
        duration: r.try_get("duration")?,
        outcome: r.try_get("outcome")?,
        call_type: r.try_get("call_type")?,
        agent_id: r.try_get("agent_id")?,
        agent_name: r.try_get("agent_name")?,
        campaign_id: r.try_get("campaign_id")?,
        customer_external_id: r.try_get("customer_external_id")?,
        customer_name: r.try_get("customer_name")?,
        customer_phone: r.try_get("customer_phone")?,
        customer_context: r.try_get("customer_context")?,
        metadata: r.try_get("metadata")?,
        answered_at: r.try_get("answered_at")?,
        cost: r.try_get("cost")?,
    })
}

pub(super) async fn insert_idem<T: serde::Serialize>(conn: &mut PgConnection, org: &OrgId, idem: &Option<IdemKey>, out: &T) -> Result<()> {
    let Some(k) = idem else { return Ok(()) };
    let body = serde_json::to_string(out)?;
    sqlx::query("INSERT INTO idempotency_keys (org_id, key, fingerprint, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(org.as_str())
        .bind(&k.key)
        .bind(&k.fingerprint)
        .bind(i32::from(k.status))
        .bind(body)
        .bind(ms(chrono::Utc::now()))
        .execute(conn)
        .await
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

const CONTACT_EXTERNAL_TAKEN: &str = "a contact with this externalId already exists";

pub(super) fn contact_from_row(r: &PgRow) -> Result<Contact> {
    let tags: Value = r.try_get("tags")?;
    let tz: Option<String> = r.try_get("time_zone")?;
    Ok(Contact {
        id: ContactId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        name: r.try_get("name")?,
        phone: PhoneNumber::from_trusted(r.try_get("phone")?),
        email: r.try_get("email")?,
        company: r.try_get("company")?,
        tags: serde_json::from_value(tags).unwrap_or_default(),
        custom_fields: r.try_get("custom_fields")?,
        external_id: r.try_get("external_id")?,
        time_zone: tz.and_then(|t| TimeZone::parse("timeZone", &t).ok()),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Binds the column values of a contact, in `CONTACT_COLUMNS` order ($1..$12).
fn bind_contact<'q>(q: PgQuery<'q>, c: &'q Contact) -> PgQuery<'q> {
    q.bind(c.id.as_str())
        .bind(c.org_id.as_str())
        .bind(c.name.as_deref())
        .bind(c.phone.as_str())
        .bind(c.email.as_deref())
        .bind(c.company.as_deref())
        .bind(Json(&c.tags))
        .bind(c.custom_fields.as_ref())
        .bind(c.external_id.as_deref())
        .bind(c.time_zone.map(|t| t.name()))
        .bind(ms(c.created_at))
        .bind(ms(c.updated_at))
}

pub(super) async fn insert_contact(conn: &mut PgConnection, contact: &Contact) -> Result<()> {
    let sql = format!("INSERT INTO contacts ({CONTACT_COLUMNS}) VALUES ({})", placeholders(12));
    bind_contact(sqlx::query(&sql), contact)
        .execute(conn)
        .await
        .map_err(conflict(CONTACT_EXTERNAL_TAKEN))?;
    Ok(())
}

pub(super) async fn update_contact(conn: &mut PgConnection, contact: &Contact) -> Result<()> {
    let sets: Vec<String> = CONTACT_COLUMNS
        .split(", ")
        .enumerate()
        .skip(2)
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    let sql = format!(
        "UPDATE contacts SET {} WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2",
        sets.join(", ")
    );
    bind_contact(sqlx::query(&sql), contact)
        .execute(conn)
        .await
        .map_err(conflict(CONTACT_EXTERNAL_TAKEN))?;
    Ok(())
}

pub(super) async fn load_contact(conn: &mut PgConnection, org: &OrgId, id: &str, lock: Lock) -> Result<Option<Contact>> {
    row_in_org(conn, ("contacts", CONTACT_COLUMNS), org, id, lock, contact_from_row).await
}
