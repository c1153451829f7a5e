//! Runs the store conformance suite on SQLite, and on PostgreSQL when
//! `SWITCHBOARD_TEST_DATABASE_URL` is set.

use std::sync::Arc;

use std::sync::atomic::{AtomicBool, Ordering};

use switchboard_domain::call::CallReport;
use switchboard_domain::{Call, CallStatus, Direction, Organisation};
use switchboard_store::conformance::CHECKS;
use switchboard_store::conformance_agents::AGENT_CHECKS;
use switchboard_store::conformance_analysis::ANALYSIS_CHECKS;
use switchboard_store::conformance_campaigns::CAMPAIGN_CHECKS;
use switchboard_store::conformance_conversations::CONVERSATION_CHECKS;
use switchboard_store::conformance_queues::QUEUE_CHECKS;
use switchboard_store::conformance_routing::ROUTING_CHECKS;
use switchboard_store::postgres::PgStore;
use switchboard_store::sqlite::{SqliteOptions, SqliteStore};
use switchboard_store::webhook_conformance::WEBHOOK_CHECKS;
use switchboard_store::{CallTarget, DynStore};

async fn run_on<F, Fut>(open: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = (DynStore, Box<dyn std::any::Any + Send>)>,
{
    for (name, check) in CHECKS
        .iter()
        .chain(CAMPAIGN_CHECKS)
        .chain(CONVERSATION_CHECKS)
        .chain(ANALYSIS_CHECKS)
        .chain(WEBHOOK_CHECKS)
        .chain(AGENT_CHECKS)
        .chain(QUEUE_CHECKS)
        .chain(ROUTING_CHECKS)
    {
        let (store, guard) = open(name.to_string()).await;
        let outcome = tokio::spawn(check(store)).await;
        drop(guard);
        if let Err(e) = outcome {
            panic!("conformance check '{name}' failed: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_conformance() {
    run_on(|_| async {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("switchboard.db"), SqliteOptions::default()).unwrap();
        (Arc::new(store) as DynStore, Box::new(dir) as Box<dyn std::any::Any + Send>)
    })
    .await;
}

/// Drops a check's schema once the check is over, passed or failed.
struct DropSchema {
    url: String,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on;
        // a thread with its own runtime can.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(PgStore::drop_schema(&url, &schema))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.schema);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_conformance() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the PostgreSQL conformance run");
        return;
    };
    run_on(|name| {
        let url = url.clone();
        async move {
            // The process id keeps concurrent runs against one database apart.
            let schema = format!("conf_{name}_{}", std::process::id());
            // Spawned to prove the connect future is `Send`, as servers need.
            let store = tokio::spawn({
                let (url, schema) = (url.clone(), schema.clone());
                async move { PgStore::connect_fresh_schema(&url, &schema).await }
            })
            .await
            .unwrap()
            .unwrap();
            (
                Arc::new(store) as DynStore,
                Box::new(DropSchema { url, schema }) as Box<dyn std::any::Any + Send>,
            )
        }
    })
    .await;
}

/// Writers commit in parallel, in any order; a worker polling
/// `events_after(last)` meanwhile must still see every event, numbered
/// without a gap. (PostgreSQL only: SQLite has one writer.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_outbox_poller_sees_every_event() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the PostgreSQL outbox test");
        return;
    };
    let schema = format!("outbox_poller_{}", std::process::id());
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let s: DynStore = Arc::new(PgStore::connect_fresh_schema(&url, &schema).await.unwrap());
    let org = s
        .create_org(Organisation::new("acme", "Acme", switchboard_domain::now()))
        .await
        .unwrap();
    let writing = Arc::new(AtomicBool::new(true));
    // Several pollers, so that sequencers also run concurrently.
    let pollers: Vec<_> = (0..3)
        .map(|_| {
            let (s, writing) = (s.clone(), writing.clone());
            tokio::spawn(async move {
                let (mut last, mut seen) = (0, 0);
                loop {
                    let done = !writing.load(Ordering::SeqCst);
                    let events = s.events_after(last, 500).await.unwrap();
                    for e in &events {
                        assert_eq!(e.seq, last + 1, "a poller saw a gap in the outbox after seq {last}");
                        last = e.seq;
                    }
                    seen += events.len();
                    if done && events.is_empty() {
                        return seen;
                    }
                }
            })
        })
        .collect();
    let mut writers = Vec::new();
    for w in 0..16 {
        let (s, org) = (s.clone(), org.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..50 {
                // 40 carrier ids shared by all writers: creations, row locks and in-call events interleave.
                let sid = format!("CA{}", (w * 50 + i) % 40);
                let mut template = Call::new(org.id.clone(), Direction::Inbound, CallStatus::Queued, switchboard_domain::now());
                template.external_id = Some(sid.clone());
                let target = CallTarget::External {
                    external_id: sid,
                    create: Box::new(template),
                };
                let report = CallReport {
                    event: Some(format!("note-{w}-{i}")),
                    ..Default::default()
                };
                s.report_call(&org.id, target, report, None).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    writing.store(false, Ordering::SeqCst);
    let stored = s.events_after(0, 10_000).await.unwrap().len();
    // 40 `call.queued` and 800 `call.event`.
    assert_eq!(stored, 840);
    for poller in pollers {
        assert_eq!(
            poller.await.unwrap(),
            stored,
            "a poller skipped events committed out of sequence order"
        );
    }
}

/// Lookups by id use the primary key even in a generic plan made while the
/// tables are empty, as a connection caches after a few uses; with a plain
/// `org_id = $2` such a plan may take an org-prefixed index and walk every
/// row of the organisation on each lookup. (PostgreSQL only.)
#[tokio::test]
async fn postgres_lookups_by_id_plan_on_the_primary_key() {
    use sqlx::Connection as _;
    use std::str::FromStr as _;
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the PostgreSQL plan test");
        return;
    };
    let schema = format!("plans_{}", std::process::id());
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let _store = PgStore::connect_fresh_schema(&url, &schema).await.unwrap();
    let opts = sqlx::postgres::PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let mut c = sqlx::PgConnection::connect_with(&opts).await.unwrap();
    sqlx::query("SET plan_cache_mode = force_generic_plan")
        .execute(&mut c)
        .await
        .unwrap();
    for table in ["calls", "contacts", "campaigns", "contact_lists", "templates", "webhooks", "users"] {
        let sql = switchboard_store::postgres::by_id_in_org_sql(table);
        sqlx::raw_sql(&format!("PREPARE by_id_{table} (text, text) AS {sql}"))
            .execute(&mut c)
            .await
            .unwrap();
        let plan: Vec<String> = sqlx::raw_sql(&format!("EXPLAIN EXECUTE by_id_{table} ('x', 'y')"))
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| sqlx::Row::get::<String, _>(r, 0))
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains(&format!("using {table}_pkey")), "{table}: {plan}");
    }
}

/// Two stores on one schema stand for two nodes: the second one's outbox
/// bell rings when the first commits (through `LISTEN/NOTIFY`), and the
/// event is readable when it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_bell_rings_across_nodes() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the cross-node bell test");
        return;
    };
    let schema = format!("conf_bell_{}", std::process::id());
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let a: DynStore = Arc::new(PgStore::connect_fresh_schema(&url, &schema).await.unwrap());
    let sep = if url.contains('?') { '&' } else { '?' };
    let b_store = PgStore::connect(&format!("{url}{sep}options=-c%20search_path%3D{schema}"))
        .await
        .unwrap();
    let b: DynStore = Arc::new(b_store);
    let org = a
        .create_org(Organisation::new("bell", "Bell", switchboard_domain::now()))
        .await
        .unwrap();
    // Once the bell is handed out, node B listens.
    let mut bell = b.outbox_bell().await.unwrap();
    bell.borrow_and_update();
    let head = b.outbox_head().await.unwrap();
    let call = Call::new(org.id.clone(), Direction::Outbound, CallStatus::Queued, switchboard_domain::now());
    a.create_call(call.clone(), None).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), bell.changed())
        .await
        .expect("node B heard nothing of node A's commit")
        .unwrap();
    let seen = b.events_after(head, 10).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].data["callId"], call.id.to_string());
}
