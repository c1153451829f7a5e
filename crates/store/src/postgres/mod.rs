//! The PostgreSQL store: for running several Switchboard nodes on one
//! database.
//!
//! Every write is one transaction on a pooled connection. Writers that touch
//! the same call or contact serialise on its row (`SELECT … FOR UPDATE`);
//! a report for a new carrier id inserts the call with `ON CONFLICT DO
//! NOTHING` so racing reports make exactly one call. Outbox events are
//! written last, under a transaction-scoped advisory lock held until commit,
//! so outbox sequence numbers become visible in commit order and a worker
//! reading `seq > last` never skips an event committed late.
//!
//! Migrations are embedded and applied at connect under a session advisory
//! lock, so nodes starting together apply each one once.

mod rows;
mod store;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool, Postgres, Transaction};
use switchboard_domain::DomainEvent;

use crate::{Result, StoreError};

/// Migrations, applied in order at connect.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/postgres/0001_core.sql"))];

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
    /// Advisory lock key that orders outbox writes, per schema so that
    /// separate schemas (test runs) do not wait on each other.
    outbox_lock: i64,
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
        let outbox_lock: i64 = sqlx::query_scalar("SELECT hashtextextended('switchboard.outbox.' || COALESCE(current_schema(), ''), 0)")
            .fetch_one(&pool)
            .await?;
        Ok(Self { pool, outbox_lock })
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Writes the transaction's outbox events and commits.
    ///
    /// The advisory lock, taken after every other write of the transaction
    /// and held until the commit, makes commits that carry events take
    /// their sequence numbers one after the other: without it a transaction
    /// could take seq 10, commit after another took and committed seq 11,
    /// and a worker already past 11 would never see 10. Nothing waited on
    /// under the lock but the event insert and the commit, so it cannot
    /// deadlock with the row locks taken earlier.
    pub(crate) async fn commit(&self, mut tx: Transaction<'static, Postgres>, events: &[DomainEvent]) -> Result<()> {
        if !events.is_empty() {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(self.outbox_lock)
                .execute(&mut *tx)
                .await?;
            rows::insert_events(&mut tx, events).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
