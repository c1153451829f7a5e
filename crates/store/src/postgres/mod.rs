//! The PostgreSQL store: for running several Switchboard nodes on one
//! database.
//!
//! Every write is one transaction on a pooled connection. Writers that touch
//! the same call or contact serialise on its row (`SELECT … FOR UPDATE`);
//! a report for a new carrier id inserts the call with `ON CONFLICT DO
//! NOTHING` so racing reports make exactly one call.
//!
//! Outbox events are written last in the writing transaction, with no lock
//! and no sequence number: only `pos`, an insertion position. Numbers are
//! handed out afterwards by the sequencer (`PgStore::sequence_outbox`),
//! which readers run before they read the outbox: under a transaction-scoped
//! advisory lock it numbers the committed unnumbered rows in `pos` order,
//! continuing from the highest number, and commits. Sequencers run one at a
//! time cluster-wide and each commits its whole range at once, so numbers
//! become visible in order: a reader that sees `seq` N has seen every number
//! below it, and a worker reading `seq > last` never skips an event however
//! late its writer committed. Writers therefore commit in parallel (and share
//! fsyncs) instead of queueing behind one lock until their commit.
//!
//! Migrations are embedded and applied at connect under a session advisory
//! lock, so nodes starting together apply each one once.

mod campaign_rows;
mod campaigns;
mod conversations;
mod dialer;
mod identity;
mod rows;
mod store;
mod webhook_rows;
mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool, Postgres, Transaction};
use switchboard_domain::DomainEvent;

use crate::{Result, StoreError};

/// The statement that reads one row of `table` by id (`$1`) within an
/// organisation (`$2`), as the store runs it: public so that a test can
/// check which index its cached generic plan uses.
pub fn by_id_in_org_sql(table: &str) -> String {
    rows::row_in_org_sql(table, "*", rows::Lock::None)
}

/// Migrations, applied in order at connect.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_core.sql")),
    (2, include_str!("../../migrations/postgres/0002_outbox_sequencer.sql")),
    (3, include_str!("../../migrations/postgres/0003_webhooks.sql")),
    (4, include_str!("../../migrations/postgres/0004_identity.sql")),
    (5, include_str!("../../migrations/postgres/0005_campaigns.sql")),
    (6, include_str!("../../migrations/postgres/0006_live_calls.sql")),
    (7, include_str!("../../migrations/postgres/0007_webhook_log_age.sql")),
    (8, include_str!("../../migrations/postgres/0008_org_cps.sql")),
    (9, include_str!("../../migrations/postgres/0009_outbox_retention.sql")),
    (10, include_str!("../../migrations/postgres/0010_conversations.sql")),
    (11, include_str!("../../migrations/postgres/0011_user_email_per_org.sql")),
];

/// Most outbox rows one sequencing transaction numbers, so that the lock and
/// the transaction stay short however far behind the sequencer is.
const SEQUENCE_BATCH: u32 = 10_000;

/// Most sequencing transactions one call runs: a bound on how long a reader
/// works for others while writers keep adding events faster than it numbers
/// them. Rows left over are numbered by the next call.
const SEQUENCE_ROUNDS: usize = 100;

/// Numbers up to `$1` committed, unnumbered outbox rows in `pos` order,
/// after the highest number given so far. Runs under the sequencer lock and
/// in its own statement after the lock was taken, so its snapshot sees every
/// earlier sequencer's commit and the numbers continue without a gap.
/// (`FOR UPDATE` cannot share a query level with a window function.)
const SEQUENCE_SQL: &str = "\
WITH todo AS (
    SELECT pos FROM outbox WHERE seq IS NULL ORDER BY pos LIMIT $1 FOR UPDATE
), numbered AS (
    SELECT pos, (SELECT COALESCE(MAX(seq), 0) FROM outbox) + row_number() OVER (ORDER BY pos) AS seq FROM todo
)
UPDATE outbox o SET seq = n.seq FROM numbered n WHERE o.pos = n.pos";

/// Connection pool settings.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections this node opens.
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Advisory lock key that lets one outbox sequencer run at a time, per
    /// schema so that separate schemas (test runs) do not wait on each other.
    sequencer_lock: i64,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// Only plain lower-case names: the name is spliced into DDL.
fn check_schema_name(schema: &str) -> Result<()> {
    let plain =
        !schema.is_empty() && schema.len() <= 63 && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "invalid schema name '{schema}': use 1 to 63 of a-z, 0-9 and _"
        )))
    }
}

fn parse_url(url: &str) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(url).map_err(|e| StoreError::Backend(format!("invalid PostgreSQL URL: {e}")))
}

async fn migrate(opts: &PgConnectOptions) -> Result<()> {
    let mut conn = PgConnection::connect_with(opts).await?;
    let outcome = migrate_on(&mut conn).await;
    // Closing the session releases the advisory lock, whatever happened.
    let closed = conn.close().await;
    outcome?;
    Ok(closed?)
}

async fn migrate_on(conn: &mut PgConnection) -> Result<()> {
    const LOCK: &str = "hashtextextended('switchboard.migrations.' || COALESCE(current_schema(), ''), 0)";
    sqlx::query(&format!("SELECT pg_advisory_lock({LOCK})")).execute(&mut *conn).await?;
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)")
        .await?;
    for (version, sql) in MIGRATIONS {
        let done: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = $1)")
            .bind(version)
            .fetch_one(&mut *conn)
            .await?;
        if done {
            continue;
        }
        let mut tx = conn.begin().await?;
        // A plain string runs through the simple protocol, which takes a
        // script of several statements.
        tx.execute(*sql).await?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    sqlx::query(&format!("SELECT pg_advisory_unlock({LOCK})"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl PgStore {
    /// Connects with default pool settings and applies migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, PgOptions::default()).await
    }

    /// Connects and applies migrations.
    pub async fn connect_with(url: &str, opts: PgOptions) -> Result<Self> {
        Self::open(parse_url(url)?, opts).await
    }

    /// For tests: recreates `schema` empty and connects with it as the
    /// search path, so each test gets its own tables in one database.
    pub async fn connect_fresh_schema(url: &str, schema: &str) -> Result<Self> {
        check_schema_name(schema)?;
        let base = parse_url(url)?;
        let mut conn = PgConnection::connect_with(&base).await?;
        conn.execute(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE; CREATE SCHEMA \"{schema}\"").as_str())
            .await?;
        conn.close().await?;
        Self::open(base.options([("search_path", schema)]), PgOptions::default()).await
    }

    /// For tests: drops a schema made by [`PgStore::connect_fresh_schema`].
    pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
        check_schema_name(schema)?;
        let mut conn = PgConnection::connect_with(&parse_url(url)?).await?;
        conn.execute(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE").as_str()).await?;
        conn.close().await?;
        Ok(())
    }

    async fn open(opts: PgConnectOptions, pool_opts: PgOptions) -> Result<Self> {
        migrate(&opts).await?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_opts.max_connections.max(1))
            .acquire_timeout(pool_opts.acquire_timeout)
            .connect_with(opts)
            .await?;
        let sequencer_lock: i64 = sqlx::query_scalar("SELECT hashtextextended('switchboard.outbox.' || COALESCE(current_schema(), ''), 0)")
            .fetch_one(&pool)
            .await?;
        Ok(Self { pool, sequencer_lock })
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Writes the transaction's outbox events, unnumbered, and commits.
    pub(crate) async fn commit(&self, mut tx: Transaction<'static, Postgres>, events: &[DomainEvent]) -> Result<()> {
        rows::insert_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Numbers every outbox row committed before this call (see the module
    /// docs), unless writers outpace it for [`SEQUENCE_ROUNDS`] batches.
    ///
    /// The check without the lock is what keeps idle reads cheap. It cannot
    /// skip work: rows it sees as numbered were numbered by a committed
    /// sequencer, and rows a running sequencer is numbering still look
    /// unnumbered to it, so it waits for that sequencer and then does what
    /// is left.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn sequence_outbox(&self) -> Result<()> {
        let pending: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM outbox WHERE seq IS NULL)")
            .fetch_one(&self.pool)
            .await?;
        if !pending {
            return Ok(());
        }
        for _ in 0..SEQUENCE_ROUNDS {
            // Read committed whatever the database's default, so that the
            // numbering statement takes its snapshot after the lock is held.
            let mut tx = self.pool.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED").await?;
            // Transaction-scoped: released only once the commit is visible,
            // so the next sequencer's statement sees these numbers.
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(self.sequencer_lock)
                .execute(&mut *tx)
                .await?;
            let numbered = sqlx::query(SEQUENCE_SQL)
                .bind(i64::from(SEQUENCE_BATCH))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            if numbered < u64::from(SEQUENCE_BATCH) {
                break;
            }
        }
        Ok(())
    }
}
