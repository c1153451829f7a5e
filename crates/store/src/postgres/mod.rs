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
//! Nodes hear of each other's commits through `LISTEN/NOTIFY` on a channel
//! per schema ([`Bell`]): after a commit that wrote events, a node notifies
//! with the newest insertion position it wrote (at most one notification in
//! flight per node; commits made meanwhile are covered by the next one), so
//! writers never wait on the notification queue's lock, which PostgreSQL
//! holds from a notifying commit until it is durable.
//!
//! Migrations are embedded and applied at connect under a session advisory
//! lock, so nodes starting together apply each one once.

mod agents;
mod analysis;
mod campaign_rows;
mod campaigns;
mod conversations;
mod dialer;
mod group;
mod identity;
mod queues;
mod routing;
mod rows;
mod store;
mod webhook_rows;
mod webhooks;

use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool, Postgres, Transaction};
use switchboard_domain::DomainEvent;
use tokio::sync::watch;

use crate::{Result, StoreError};

/// The statement that reads one row of `table` by id (`$1`) within an
/// organisation (`$2`), as the store runs it: public so that a test can
/// check which index its cached generic plan uses.
pub fn by_id_in_org_sql(table: &str) -> String {
    rows::row_in_org_sql(table, "*", rows::Lock::None)
}

/// The statement that reads one page of calls newest first (see
/// [`crate::CallStore::calls_page`]), with `$n` placeholders: public so that
/// a test can check that each filter's plan seeks an index in list order.
pub fn calls_page_sql(
    org: &switchboard_domain::OrgId,
    filter: &crate::CallFilter,
    before: Option<&crate::CallCursor>,
    offset: u64,
    limit: u32,
) -> String {
    store::calls_page_query(org, filter, before, offset, limit).sql().to_owned()
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
    (12, include_str!("../../migrations/postgres/0012_intelligence.sql")),
    (13, include_str!("../../migrations/postgres/0013_agents.sql")),
    (14, include_str!("../../migrations/postgres/0014_call_list_indexes.sql")),
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
    bell: Arc<Bell>,
    /// Commits call creations and reports in groups (see [`group`]).
    group: group::GroupWriter,
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
        let bell = Bell::start(&pool, format!("switchboard_outbox_{:016x}", sequencer_lock as u64));
        let group = group::GroupWriter::start(pool.clone(), bell.clone());
        Ok(Self {
            pool,
            bell,
            group,
            sequencer_lock,
        })
    }

    /// The `LISTEN/NOTIFY` channel of this schema's outbox.
    pub fn outbox_channel(&self) -> &str {
        &self.bell.channel
    }

    pub(crate) async fn bell(&self) -> watch::Receiver<u64> {
        self.bell.subscribe(&self.pool).await
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Writes the transaction's outbox events, unnumbered, and commits.
    pub(crate) async fn commit(&self, mut tx: Transaction<'static, Postgres>, events: &[DomainEvent]) -> Result<()> {
        let pos = rows::insert_events(&mut tx, events).await?;
        tx.commit().await?;
        if let Some(pos) = pos {
            self.bell.rang(pos);
        }
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

/// Tells this node's tailers, and through `NOTIFY` every other node's, that
/// the outbox moved.
struct Bell {
    channel: String,
    /// Rung for this node's commits and for notifications heard.
    ring: Arc<watch::Sender<u64>>,
    /// The newest insertion position committed here; the notifier task
    /// sends one `NOTIFY` per change it sees.
    written: watch::Sender<i64>,
    /// Set once the listening task runs and listens.
    listening: tokio::sync::OnceCell<()>,
}

impl Bell {
    fn start(pool: &PgPool, channel: String) -> Arc<Bell> {
        let (written, pending) = watch::channel(0i64);
        tokio::spawn(notifier(pool.clone(), channel.clone(), pending));
        Arc::new(Bell {
            channel,
            ring: Arc::new(watch::channel(0u64).0),
            written,
            listening: tokio::sync::OnceCell::new(),
        })
    }

    /// After a commit that wrote events up to insertion position `pos`.
    fn rang(&self, pos: i64) {
        self.ring.send_modify(|n| *n = n.wrapping_add(1));
        // Always marks a change, so the notifier sends once more after this
        // commit, whatever positions other writers reported meanwhile.
        self.written.send_modify(|p| *p = (*p).max(pos));
    }

    /// A receiver of the bell; the first one starts listening to other
    /// nodes and waits (a bounded while) until the node listens, so that
    /// every commit after this returns rings it.
    async fn subscribe(&self, pool: &PgPool) -> watch::Receiver<u64> {
        self.listening
            .get_or_init(|| async {
                let (ready, listening) = tokio::sync::oneshot::channel();
                tokio::spawn(listener(pool.clone(), self.channel.clone(), Arc::downgrade(&self.ring), ready));
                if tokio::time::timeout(Duration::from_secs(10), listening).await.is_err() {
                    tracing::warn!("the outbox listener is not listening yet; other nodes' events wait for the poll");
                }
            })
            .await;
        self.ring.subscribe()
    }
}

/// Sends `NOTIFY channel, '<position>'` after commits, one at a time, until
/// the store is dropped.
async fn notifier(pool: PgPool, channel: String, mut written: watch::Receiver<i64>) {
    while written.changed().await.is_ok() {
        let pos = *written.borrow_and_update();
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&channel)
            .bind(pos.to_string())
            .execute(&pool)
            .await
        {
            // Other nodes' slow polls pick the events up.
            tracing::warn!(error = %e, "cannot notify other nodes of outbox events");
        }
    }
}

/// How long the listener waits for a notification before checking that
/// the store still exists.
const LISTEN_IDLE: Duration = Duration::from_secs(10);

/// Listens for other nodes' notifications and rings the bell for each, until
/// the store is dropped. Reconnects after a lost connection (ringing once,
/// since notifications sent meanwhile are gone).
async fn listener(pool: PgPool, channel: String, ring: Weak<watch::Sender<u64>>, ready: tokio::sync::oneshot::Sender<()>) {
    let mut ready = Some(ready);
    let ding = |ring: &Weak<watch::Sender<u64>>| match ring.upgrade() {
        Some(r) => {
            r.send_modify(|n| *n = n.wrapping_add(1));
            true
        }
        None => false,
    };
    loop {
        let mut l = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the outbox listener; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                if ring.upgrade().is_none() {
                    return;
                }
                continue;
            }
        };
        if let Err(e) = l.listen(&channel).await {
            tracing::warn!(error = %e, "cannot LISTEN for outbox events; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if !ding(&ring) {
            return;
        }
        if let Some(r) = ready.take() {
            let _ = r.send(());
        }
        loop {
            match tokio::time::timeout(LISTEN_IDLE, l.try_recv()).await {
                Ok(Ok(Some(_))) | Ok(Ok(None)) => {
                    // `None`: the connection dropped and the next receive
                    // reconnects; ring so that the tailer reads what it missed.
                    if !ding(&ring) {
                        return;
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "outbox listener failed; reconnecting");
                    break;
                }
                Err(_) => {
                    if ring.upgrade().is_none() {
                        return;
                    }
                }
            }
        }
    }
}
