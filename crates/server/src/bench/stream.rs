//! `switchboard bench stream`: many SSE subscribers on a server while calls
//! are written at a fixed rate; reports the delay from an event's creation
//! (its `createdAt`, stamped before the write's commit, so the commit and
//! its fsync are included) and from the write's acknowledgement (after its
//! commit) to its arrival at each subscriber — commit→subscriber lies
//! between the two — whether every subscriber got every
//! event of its organisation exactly once and in order, and the server's
//! CPU and peak memory. With `--nodes 2` (PostgreSQL) the subscribers are on
//! a second server and the writes on the first: cross-node delivery.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures::StreamExt;
use switchboard_domain::Organisation;
use switchboard_store::DynStore;

use super::{Server, fresh_pg_schema, percentile};

#[derive(Debug, Args)]
pub struct StreamArgs {
    /// SSE subscribers, spread evenly over the organisations.
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Organisations (each subscriber follows every call event of one).
    #[arg(long, default_value_t = 50)]
    pub orgs: usize,
    /// Events written per second (one call created = one event).
    #[arg(long, default_value_t = 2000)]
    pub rate: u64,
    /// How long to write, in seconds.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Writes in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// PostgreSQL URL (a fresh schema `bench_stream`); SQLite when absent.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Servers: 2 puts the subscribers on a second node (PostgreSQL only).
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// SQLite durability for the server: full (fsync per group commit) or normal.
    #[arg(long, default_value = "full")]
    pub durability: String,
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    events: u64,
    out_of_order: u64,
    latencies_us: Vec<u32>,
    /// (write index, arrival in µs since the bench's epoch).
    arrivals: Vec<(u32, u64)>,
}

/// CPU seconds (user + system) a process used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    // utime and stime are fields 14 and 15 of the line: 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}

/// Creates the organisations and their keys straight in the store.
async fn prepare(store: &DynStore, orgs: usize) -> anyhow::Result<Vec<(Organisation, String)>> {
    let mut out = Vec::new();
    for i in 0..orgs {
        let org = store
            .create_org(Organisation::new(
                &format!("bench-{i}"),
                &format!("Bench {i}"),
                switchboard_domain::now(),
            ))
            .await?;
        let (secret, key, hash) = crate::identity::auth::generate_key(&org, "bench");
        store.create_key(key, hash).await?;
        out.push((org, secret));
    }
    Ok(out)
}

pub async fn run(args: StreamArgs) -> anyhow::Result<()> {
    if args.nodes > 1 && args.database_url.is_none() {
        bail!("--nodes 2 needs --database-url (nodes share a PostgreSQL database)");
    }
    if args.orgs == 0 || args.subscribers == 0 || args.rate == 0 {
        bail!("--orgs, --subscribers and --rate must be positive");
    }
    let dir = tempfile::tempdir()?;
    let db_url = match &args.database_url {
        Some(u) => Some(fresh_pg_schema(u, "bench_stream").await?),
        None => None,
    };
    let store: DynStore = match &db_url {
        Some(u) => Arc::new(switchboard_store::postgres::PgStore::connect(u).await?),
        None => Arc::new(switchboard_store::sqlite::SqliteStore::open(
            &dir.path().join("switchboard.db"),
            Default::default(),
        )?),
    };
    let keys = prepare(&store, args.orgs).await?;
    drop(store);
    let extra = ["--durability".to_owned(), args.durability.clone()];
    let writer = Server::start_prepared(&extra, db_url.clone(), dir.path())?;
    let reader = if args.nodes > 1 {
        let other = tempfile::tempdir()?;
        Some((Server::start_prepared(&extra, db_url.clone(), other.path())?, other))
    } else {
        None
    };
    let sub_base = reader.as_ref().map_or(writer.base.clone(), |(s, _)| s.base.clone());
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.concurrency)
        .build()?;

    // Subscribers first; each answers what it saw once its organisation's
    // last event (a marker call) arrives.
    let started_subs = Instant::now();
    let epoch = Instant::now();
    let mut subs = Vec::new();
    for i in 0..args.subscribers {
        let (_, key) = &keys[i % args.orgs];
        let resp = client
            .get(format!("{sub_base}/v1/stream?types=call.*"))
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await
            .context("cannot open a subscriber")?;
        if !resp.status().is_success() {
            bail!("subscriber {i}: status {}", resp.status());
        }
        subs.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            let mut body = resp.bytes_stream();
            let mut buf: Vec<u8> = Vec::new();
            let mut last_id = 0i64;
            while let Some(chunk) = body.next().await {
                let Ok(chunk) = chunk else { break };
                let now = chrono::Utc::now();
                let arrived = epoch.elapsed().as_micros() as u64;
                buf.extend_from_slice(&chunk);
                let mut done = false;
                let mut start = 0;
                while let Some(end) = buf[start..].windows(2).position(|w| w == b"\n\n") {
                    let frame = &buf[start..start + end];
                    start += end + 2;
                    let text = std::str::from_utf8(frame).unwrap_or("");
                    let Some(id) = text
                        .strip_prefix("id: ")
                        .and_then(|r| r.split('\n').next())
                        .and_then(|v| v.parse::<i64>().ok())
                    else {
                        continue;
                    };
                    if id <= last_id {
                        seen.out_of_order += 1;
                    }
                    last_id = id;
                    seen.events += 1;
                    if let Some(at) = text.split("\"createdAt\":\"").nth(1).and_then(|r| r.split('"').next())
                        && let Ok(at) = chrono::DateTime::parse_from_rfc3339(at)
                    {
                        let us = (now - at.with_timezone(&chrono::Utc)).num_microseconds().unwrap_or(0).max(0);
                        seen.latencies_us.push(us.min(u32::MAX as i64) as u32);
                    }
                    if let Some(i) = text
                        .split("\"customerId\":\"C")
                        .nth(1)
                        .and_then(|r| r.split('"').next())
                        .and_then(|v| v.parse::<u32>().ok())
                    {
                        seen.arrivals.push((i, arrived));
                    }
                    if text.contains("\"customerId\":\"END\"") {
                        done = true;
                    }
                }
                buf.drain(..start);
                if done {
                    break;
                }
            }
            seen
        }));
    }
    let subs_ready = started_subs.elapsed();

    // Writes at the target rate, spread over the organisations.
    let total = args.rate * args.seconds;
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let per_org: Arc<Vec<AtomicU64>> = Arc::new((0..args.orgs).map(|_| AtomicU64::new(0)).collect());
    // When each write was acknowledged (µs since the epoch; 0: not).
    let acks: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let cpu_before = cpu_seconds(writer.pid());
    let cpu_before_b = reader.as_ref().map(|(s, _)| cpu_seconds(s.pid()));
    let t0 = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, next, failures, per_org, keys, base, acks) = (
            client.clone(),
            next.clone(),
            failures.clone(),
            per_org.clone(),
            keys.clone(),
            writer.base.clone(),
            acks.clone(),
        );
        let (rate, orgs) = (args.rate, args.orgs);
        writers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let due = t0 + Duration::from_nanos(i * 1_000_000_000 / rate);
                tokio::time::sleep_until(due.into()).await;
                let o = (i as usize) % orgs;
                let body = format!(
                    r#"{{"phone":"+1415{:07}","customerId":"C{i}","agentId":"AGT{}"}}"#,
                    i % 10_000_000,
                    i % 50
                );
                let ok = client
                    .post(format!("{base}/v1/calls"))
                    .header("authorization", format!("Bearer {}", keys[o].1))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16() == 201)
                    .unwrap_or(false);
                if ok {
                    acks[i as usize].store(epoch.elapsed().as_micros() as u64, Ordering::Relaxed);
                    per_org[o].fetch_add(1, Ordering::Relaxed);
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in writers {
        w.await?;
    }
    let write_secs = t0.elapsed().as_secs_f64();
    // A marker call per organisation ends its subscribers' reading.
    for (_, key) in &keys {
        let r = client
            .post(format!("{}/v1/calls", writer.base))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(r#"{"phone":"+14150000000","customerId":"END"}"#)
            .send()
            .await?;
        if r.status().as_u16() != 201 {
            bail!("marker call refused: {}", r.status());
        }
    }
    let mut seen = Vec::new();
    for (i, s) in subs.into_iter().enumerate() {
        let got = tokio::time::timeout(Duration::from_secs(60), s)
            .await
            .with_context(|| format!("subscriber {i} never got its organisation's last event"))??;
        seen.push(got);
    }
    let cpu = cpu_seconds(writer.pid()) - cpu_before;
    let cpu_b = reader
        .as_ref()
        .zip(cpu_before_b)
        .map(|((s, _), before)| cpu_seconds(s.pid()) - before);
    let elapsed = t0.elapsed().as_secs_f64();

    let mut missing = 0u64;
    let mut complete = 0usize;
    let mut dup_or_disorder = 0u64;
    let mut lat: Vec<u32> = Vec::new();
    let mut after_ack: Vec<u32> = Vec::new();
    let mut before_ack = 0u64;
    for (i, s) in seen.iter().enumerate() {
        let want = per_org[i % args.orgs].load(Ordering::Relaxed) + 1;
        if s.events >= want && s.out_of_order == 0 {
            complete += 1;
        }
        missing += want.saturating_sub(s.events);
        dup_or_disorder += s.out_of_order + s.events.saturating_sub(want);
        lat.extend_from_slice(&s.latencies_us);
        for (i, at) in &s.arrivals {
            let ack = acks.get(*i as usize).map_or(0, |a| a.load(Ordering::Relaxed));
            if ack == 0 {
                continue;
            }
            if *at <= ack {
                before_ack += 1;
                after_ack.push(0);
            } else {
                after_ack.push((*at - ack).min(u64::from(u32::MAX)) as u32);
            }
        }
    }
    lat.sort_unstable();
    after_ack.sort_unstable();
    let written: u64 = per_org.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    let backend = if args.database_url.is_some() { "postgres" } else { "sqlite" };
    println!(
        "bench stream: backend={backend} durability={} nodes={} subscribers={} orgs={} rate={}/s seconds={}",
        args.durability, args.nodes, args.subscribers, args.orgs, args.rate, args.seconds
    );
    println!("  subscribers opened   {:>10.2} s", subs_ready.as_secs_f64());
    println!(
        "  events written       {:>10}  ({:.0}/s achieved, {} failed)",
        written,
        written as f64 / write_secs,
        failures.load(Ordering::Relaxed)
    );
    println!("  deliveries           {:>10}  ({:.0}/s)", lat.len(), lat.len() as f64 / elapsed);
    println!(
        "  subscribers complete {:>10} of {}  (events missing {missing}, duplicate or out of order {dup_or_disorder})",
        complete, args.subscribers
    );
    println!(
        "  latency created→subscriber  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    println!(
        "  latency acknowledged→subscriber  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({:.1} % arrived before the writer's HTTP answer)",
        percentile(&after_ack, 0.5),
        percentile(&after_ack, 0.99),
        percentile(&after_ack, 1.0),
        100.0 * before_ack as f64 / after_ack.len().max(1) as f64
    );
    println!(
        "  server CPU           {:>10.1} s  ({:.0}% of one core over {:.1} s)",
        cpu,
        100.0 * cpu / elapsed,
        elapsed
    );
    if let Some(c) = cpu_b {
        println!("  reader node CPU      {:>10.1} s  ({:.0}% of one core)", c, 100.0 * c / elapsed);
    }
    println!("  server peak RSS      {:>10.1} MiB", writer.peak_rss_mib().unwrap_or(f64::NAN));
    if let Some((s, _)) = &reader {
        println!("  reader node peak RSS {:>10.1} MiB", s.peak_rss_mib().unwrap_or(f64::NAN));
    }
    println!("  bench process peak RSS {:>8.1} MiB", super::own_peak_rss_mib());
    if missing > 0 || dup_or_disorder > 0 {
        bail!("some subscribers missed or repeated events");
    }
    Ok(())
}
