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

/// Calls of one organisation spread over every list filter, for the plan
/// tests: 2,000 calls, 40 contacts' worth of customers, 4 campaigns...
fn plan_calls(org: &switchboard_domain::OrgId) -> Vec<Call> {
    let t0: switchboard_domain::Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    (0..2000i64)
        .map(|i| {
            let status = [CallStatus::Completed, CallStatus::NoAnswer, CallStatus::Busy, CallStatus::Failed][i as usize % 4];
            let dir = if i % 3 == 0 { Direction::Inbound } else { Direction::Outbound };
            let mut c = Call::new(org.clone(), dir, status, t0);
            c.initiated_at = Some(t0 + chrono::Duration::seconds(i * 37));
            c.customer_external_id = Some(format!("CUST{}", i % 50));
            c.campaign_id = Some(format!("cmp{}", i % 4));
            c.agent_id = Some(format!("AGT{}", i % 10));
            c.call_type = Some(["collections", "sales", "support"][i as usize % 3].to_owned());
            c
        })
        .collect()
}

/// One filter per list filter, with the index that must serve it in list order.
fn plan_cases(sample: &Call) -> Vec<(&'static str, switchboard_store::CallFilter, &'static str)> {
    use switchboard_store::CallFilter;
    let some = |s: &Option<String>| s.clone();
    vec![
        ("none", CallFilter::default(), "calls_org_time"),
        (
            "date range",
            CallFilter {
                start: Some("2025-01-01T05:00:00Z".parse().unwrap()),
                end: Some("2025-01-01T20:00:00Z".parse().unwrap()),
                ..Default::default()
            },
            "calls_org_time",
        ),
        (
            "customerId",
            CallFilter {
                customer_external_id: some(&sample.customer_external_id),
                ..Default::default()
            },
            "calls_org_customer",
        ),
        (
            "contactId",
            CallFilter {
                contact_id: Some("cnt_00000000000000000000000000".into()),
                ..Default::default()
            },
            "calls_org_contact",
        ),
        (
            "campaignId",
            CallFilter {
                campaign_id: some(&sample.campaign_id),
                ..Default::default()
            },
            "calls_org_campaign",
        ),
        (
            "agentId",
            CallFilter {
                agent_id: some(&sample.agent_id),
                ..Default::default()
            },
            "calls_org_agent",
        ),
        (
            "status",
            CallFilter {
                statuses: vec![CallStatus::Busy],
                ..Default::default()
            },
            "calls_org_status",
        ),
        (
            "callType",
            CallFilter {
                call_type: some(&sample.call_type),
                ..Default::default()
            },
            "calls_org_call_type",
        ),
        (
            "direction",
            CallFilter {
                direction: Some(Direction::Inbound),
                ..Default::default()
            },
            "calls_org_direction",
        ),
        (
            "customerId and dates",
            CallFilter {
                customer_external_id: some(&sample.customer_external_id),
                start: Some("2025-01-01T05:00:00Z".parse().unwrap()),
                ..Default::default()
            },
            "calls_org_customer",
        ),
    ]
}

/// Every filter of the call list — first pages, next pages after a cursor
/// (the row-value seek `(occurred_at, id) < (?, ?)`) and deep offset pages —
/// plans as a seek on an index in list order: no scan of the table, no
/// sort; statistics exist (`sqlite_stat1`) once calls were loaded. (SQLite.)
#[tokio::test]
async fn sqlite_call_list_plans_seek_an_index_in_list_order() {
    use switchboard_store::sqlite::calls_page_sql;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    let s: DynStore = Arc::new(store);
    let org = s
        .create_org(Organisation::new("plans", "Plans", switchboard_domain::now()))
        .await
        .unwrap();
    let calls = plan_calls(&org.id);
    let sample = calls[1234].clone();
    s.import_calls(calls).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let stats: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'calls'", [], |r| r.get(0))
        .unwrap();
    assert!(stats > 0, "no planner statistics for calls");
    let cursor = switchboard_store::CallCursor {
        occurred_at: sample.occurred_at(),
        id: sample.id.clone(),
    };
    for (name, filter, index) in plan_cases(&sample) {
        for (page, before, offset) in [("first", None, 0), ("next", Some(&cursor), 0), ("deep", None, 5000)] {
            let (sql, args) = calls_page_sql(&org.id, &filter, before, offset, 20);
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let plan = plan.join("\n");
            let why = format!("{name}, {page} page:\n{plan}");
            assert!(plan.contains(&format!("INDEX {index} (")), "{why}");
            if offset == 0 {
                // (A deep page sorts its own 20 rows, found on the index.)
                assert!(!plan.contains("TEMP B-TREE FOR ORDER BY"), "{why}");
            }
            assert!(!plan.contains("SCAN calls"), "{why}");
            if before.is_some() {
                assert!(plan.contains("(occurred_at,id)<(?,?)"), "the cursor is no seek: {why}");
            }
            if offset > 0 {
                assert!(
                    plan.contains(&format!("COVERING INDEX {index}")),
                    "offset rows are read whole: {why}"
                );
            }
        }
    }
    // And the pages are right: a next page continues where the first ended.
    let f = switchboard_store::CallFilter {
        customer_external_id: sample.customer_external_id.clone(),
        ..Default::default()
    };
    let all = s.calls_page(&org.id, &f, None, 0, 100).await.unwrap();
    assert_eq!(all.len(), 40);
    let first = s.calls_page(&org.id, &f, None, 0, 15).await.unwrap();
    let last = first.last().unwrap();
    let after = switchboard_store::CallCursor {
        occurred_at: last.occurred_at(),
        id: last.id.clone(),
    };
    let next = s.calls_page(&org.id, &f, Some(after), 0, 15).await.unwrap();
    let deep = s.calls_page(&org.id, &f, None, 15, 15).await.unwrap();
    let ids = |v: &[Call]| v.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&next), ids(&all[15..30]));
    assert_eq!(ids(&deep), ids(&all[15..30]));
    assert_eq!(s.count_calls(&org.id, &f).await.unwrap(), 40);
}

/// The same plans on PostgreSQL: each filter's first, next and deep pages
/// read an index in list order (an index scan, backward, with the cursor as
/// an index condition), never a sort of the organisation's calls.
#[tokio::test]
async fn postgres_call_list_plans_seek_an_index_in_list_order() {
    use sqlx::Connection as _;
    use std::str::FromStr as _;
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the PostgreSQL list plan test");
        return;
    };
    let schema = format!("list_plans_{}", std::process::id());
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let store: DynStore = Arc::new(PgStore::connect_fresh_schema(&url, &schema).await.unwrap());
    let org = store
        .create_org(Organisation::new("plans", "Plans", switchboard_domain::now()))
        .await
        .unwrap();
    let calls = plan_calls(&org.id);
    let sample = calls[1234].clone();
    store.import_calls(calls).await.unwrap();
    let opts = sqlx::postgres::PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let mut c = sqlx::PgConnection::connect_with(&opts).await.unwrap();
    // A small table is cheaper to scan whole; the question here is whether
    // an index serves each filter in list order, as it must at 10 M rows.
    sqlx::raw_sql("ANALYZE calls; SET enable_seqscan = off; SET enable_bitmapscan = off")
        .execute(&mut c)
        .await
        .unwrap();
    let cursor = switchboard_store::CallCursor {
        occurred_at: sample.occurred_at(),
        id: sample.id.clone(),
    };
    let quote = |v: &str| format!("'{}'", v.replace('\'', "''"));
    for (name, filter, index) in plan_cases(&sample) {
        for (page, before, offset) in [("first", None, 0), ("next", Some(&cursor), 0), ("deep", None, 500)] {
            let sql = switchboard_store::postgres::calls_page_sql(&org.id, &filter, before, offset, 20);
            // The arguments, in placeholder order, as literals.
            let mut args = vec![quote(org.id.as_str())];
            for v in [
                &filter.contact_id,
                &filter.campaign_id,
                &filter.agent_id,
                &filter.call_type,
                &filter.customer_external_id,
            ]
            .into_iter()
            .flatten()
            {
                args.push(quote(v));
            }
            if let Some(d) = filter.direction {
                args.push(quote(d.as_str()));
            }
            if let Some(st) = filter.statuses.first() {
                args.push(quote(st.as_str()));
            }
            let at = |t: switchboard_domain::Timestamp| format!("'{}'::timestamptz", t.to_rfc3339());
            // With a cursor the end bound is left out (the cursor implies it).
            let end = if before.is_some() { None } else { filter.end };
            for t in [filter.start, end].into_iter().flatten() {
                args.push(at(t));
            }
            if let Some(b) = before {
                args.push(at(b.occurred_at));
                args.push(quote(b.id.as_str()));
            }
            args.push("20".into());
            if offset > 0 {
                args.push(offset.to_string());
            }
            let stmt = format!("p_{}_{page}", name.replace(' ', "_"));
            sqlx::raw_sql(&format!("PREPARE {stmt} AS {sql}")).execute(&mut c).await.unwrap();
            let plan: Vec<String> = sqlx::raw_sql(&format!("EXPLAIN EXECUTE {stmt} ({})", args.join(", ")))
                .fetch_all(&mut c)
                .await
                .unwrap()
                .iter()
                .map(|r| sqlx::Row::get::<String, _>(r, 0))
                .collect();
            let plan = plan.join("\n");
            let why = format!("{name}, {page} page:\n{plan}");
            assert!(plan.contains(&format!("using {index} on calls")), "{why}");
            assert!(plan.contains("Backward"), "{why}");
            if offset == 0 {
                assert!(!plan.contains("Sort"), "{why}");
            }
            if before.is_some() {
                assert!(plan.contains("ROW(occurred_at, id) <"), "the cursor is no seek: {why}");
            }
        }
    }
}

/// PostgreSQL commits concurrent call creations and reports in groups;
/// every request still gets the outcome it would have had alone: quotas
/// count exactly, a failing write fails alone, an idempotency key used
/// twice at once stores one call.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_group_commit_keeps_each_outcome_exact() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the PostgreSQL group commit test");
        return;
    };
    let schema = format!("group_commit_{}", std::process::id());
    let _drop = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let s: DynStore = Arc::new(PgStore::connect_fresh_schema(&url, &schema).await.unwrap());
    let mut standard = Organisation::new("grouped", "Grouped", switchboard_domain::now());
    standard.plan = "standard".into();
    let org = s.create_org(standard).await.unwrap();
    let limit = switchboard_domain::org::plan_call_limit("standard").unwrap() as usize;
    let now = switchboard_domain::now();
    // More creations than the quota, with reports on unknown calls mixed in.
    let mut tasks = Vec::new();
    for i in 0..limit + 40 {
        let (s, org) = (s.clone(), org.id.clone());
        tasks.push(tokio::spawn(async move {
            if i % 10 == 0 {
                let unknown = switchboard_domain::CallId::new();
                let r = s.report_call(&org, CallTarget::Id(unknown), CallReport::default(), None).await;
                assert!(matches!(r, Err(switchboard_store::StoreError::NotFound(_))), "{r:?}");
            }
            s.create_call(Call::new(org, Direction::Outbound, CallStatus::Queued, now), None)
                .await
        }));
    }
    let mut created = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(c) => created.push(c),
            Err(switchboard_store::StoreError::QuotaExceeded { .. }) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((created.len(), refused), (limit, 40));
    let stored = s.count_calls(&org.id, &Default::default()).await.unwrap();
    assert_eq!(stored as usize, limit);
    for c in created.iter().take(5) {
        assert_eq!(s.get_call(&org.id, &c.id).await.unwrap().id, c.id);
    }
    // Reports in groups: each applies once, in its own order per call.
    let mut reports = Vec::new();
    for c in &created {
        let (s, org, id) = (s.clone(), org.id.clone(), c.id.clone());
        reports.push(tokio::spawn(async move {
            let r = CallReport {
                status: Some(CallStatus::Completed),
                duration: Some(42),
                ..Default::default()
            };
            s.report_call(&org, CallTarget::Id(id), r, None).await.unwrap()
        }));
    }
    for r in reports {
        let out = r.await.unwrap();
        assert_eq!((out.call.status, out.call.duration), (CallStatus::Completed, Some(42)));
    }
    // Every creation and report reached the outbox once.
    let events = s.events_after(0, 100_000).await.unwrap();
    let completed = events.iter().filter(|e| e.event_type == "call.completed").count();
    assert_eq!(
        completed,
        limit,
        "{:?}",
        events.iter().map(|e| &e.event_type).collect::<std::collections::BTreeSet<_>>()
    );
}
