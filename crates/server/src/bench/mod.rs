//! `switchboard bench ...`: load generators that drive a real server
//! process over loopback HTTP and report throughput, latency and the
//! server's peak memory.

mod analysis;
mod analytics;
mod conversations;
mod dialer;
mod list;
mod routing;
mod speech;
mod stream;
mod webhooks;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// POST /v1/calls plus a completion event per call, against a fresh server.
    Ingest(IngestArgs),
    /// Load N generated calls straight into a fresh store, then time every analytics endpoint.
    Analytics(analytics::AnalyticsArgs),
    /// A campaign of N contacts dialled through the simulator on a fast clock.
    Dialer(dialer::DialerArgs),
    /// Deliveries/s and end-to-end latency of webhooks to a local receiver.
    Webhooks(webhooks::WebhooksArgs),
    /// Live events: SSE subscribers while calls are written at a fixed rate.
    Stream(stream::StreamArgs),
    /// N scripted calls placed through the dial path and live at once on the simulator.
    Conversations(conversations::ConversationsArgs),
    /// The speech engines in this process: TTS first audio, cache, STT real-time factor, live streams.
    Speech(speech::SpeechArgs),
    /// Conversation intelligence on one core: full analyses of a 5-minute call per second, live segment p99.
    Analysis(analysis::AnalysisArgs),
    /// Router decisions/s: the pure agent choice, then routing passes over waiting calls on a store.
    Routing(routing::RoutingArgs),
    /// Bulk-load N calls of one organisation, then time first, next, filtered and deep list pages.
    List(list::ListArgs),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Calls to create (each is two writes: create and complete).
    #[arg(long, default_value_t = 100_000)]
    pub calls: u64,
    /// Requests in flight at once (the writer commits what arrives while it
    /// syncs, so more in flight means bigger, cheaper group commits; past
    /// ~32 on two cores they only queue).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Run against PostgreSQL (a fresh schema `bench_ingest` in this database) instead of SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// SQLite durability for the server under test: full or normal.
    #[arg(long, default_value = "full")]
    pub durability: String,
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Ingest(args) => ingest(args).await,
        BenchCommand::Analytics(args) => analytics::run(args).await,
        BenchCommand::Analysis(args) => analysis::run(args).await,
        BenchCommand::Dialer(args) => dialer::run(args).await,
        BenchCommand::Webhooks(args) => webhooks::run(args).await,
        BenchCommand::Stream(args) => stream::run(args).await,
        BenchCommand::Conversations(args) => conversations::run(args).await,
        BenchCommand::Speech(args) => speech::run(args).await,
        BenchCommand::Routing(args) => routing::run(args).await,
        BenchCommand::List(args) => list::run(args).await,
    }
}

/// A server child process on a fresh database.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    pub(crate) key: String,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn start(extra: &[String], database_url: Option<String>) -> anyhow::Result<Server> {
        let exe = std::env::current_exe()?;
        let dir = tempfile::tempdir()?;
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--auth-cache-ttl-ms", "60000"])
            .args(extra);
        cmd.arg("--data-dir").arg(dir.path());
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd.env("SWITCHBOARD_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd.spawn().context("cannot start the server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let (mut key, mut base) = (None, None);
        for line in lines.by_ref() {
            let line = line?;
            if let Some(k) = line.split("store it now): ").nth(1) {
                key = Some(k.trim().to_owned());
            }
            if let Some(addr) = line.strip_prefix("switchboard listening on ") {
                base = Some(addr.trim().to_owned());
                break;
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let (Some(base), Some(key)) = (base, key) else {
            bail!("the server did not start on a fresh database")
        };
        Ok(Server {
            child,
            base,
            key,
            _dir: Some(dir),
        })
    }

    /// A server on a database prepared beforehand (no bootstrap key), with
    /// `data_dir` as its data folder.
    pub(crate) fn start_prepared(extra: &[String], database_url: Option<String>, data_dir: &std::path::Path) -> anyhow::Result<Server> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--auth-cache-ttl-ms", "60000"])
            .args(extra)
            .arg("--data-dir")
            .arg(data_dir);
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd.env("SWITCHBOARD_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd.spawn().context("cannot start the server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut base = None;
        for line in lines.by_ref() {
            if let Some(addr) = line?.strip_prefix("switchboard listening on ") {
                base = Some(addr.trim().to_owned());
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        let Some(base) = base else { bail!("the server did not start") };
        Ok(Server {
            child,
            base,
            key: String::new(),
            _dir: None,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory of the server process, in MiB.
    pub(crate) fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }
}

pub(crate) fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// Prepares a fresh PostgreSQL schema and answers a URL that uses it.
pub(crate) async fn fresh_pg_schema(url: &str, schema: &str) -> anyhow::Result<String> {
    let store = switchboard_store::postgres::PgStore::connect_fresh_schema(url, schema).await?;
    drop(store);
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{sep}options=-c%20search_path%3D{schema}"))
}

/// Peak resident memory of this process, in MiB.
pub(crate) fn own_peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let db_url = match &args.database_url {
        Some(u) => Some(fresh_pg_schema(u, "bench_ingest").await?),
        None => None,
    };
    let backend = if db_url.is_some() { "postgres" } else { "sqlite" };
    let server = Server::start(&["--durability".into(), args.durability.clone()], db_url)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .tcp_nodelay(true)
        .build()?;
    let auth = format!("Bearer {}", server.key);
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (client, auth, base, next, failures, total) = (
            client.clone(),
            auth.clone(),
            server.base.clone(),
            next.clone(),
            failures.clone(),
            args.calls,
        );
        tasks.push(tokio::spawn(async move {
            let (mut creates, mut completes) = (Vec::new(), Vec::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                // Bodies are written by hand and ids read by a substring search:
                // the load generator shares the machine with the server, so it
                // must stay cheap.
                let body = format!(
                    r#"{{"phone":"+1415{:07}","callerId":"+14155550100","externalId":"bench-{i}","customerName":"Rajesh Kumar","customerId":"LOAN{}","customerContext":{{"loanType":"Business Loan","daysOverdue":{}}},"callType":"collections","agentId":"AGT{}","metadata":{{"campaign":"overdue_45days"}}}}"#,
                    i % 10_000_000,
                    i % 5000,
                    i % 90,
                    i % 50
                );
                let t = Instant::now();
                let resp = client.post(format!("{base}/v1/calls")).header("authorization", &auth).header("content-type", "application/json").body(body).send().await;
                let id = match resp {
                    Ok(r) if r.status().as_u16() == 201 => r.text().await.ok().and_then(|b| b.split(r#""id":""#).nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned)),
                    _ => None,
                };
                creates.push(t.elapsed().as_micros() as u32);
                let Some(id) = id else {
                    failures.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let event = format!(r#"{{"status":"completed","duration":{},"outcome":"successful"}}"#, 30 + i % 300);
                let t = Instant::now();
                let ok = client
                    .post(format!("{base}/v1/calls/{id}/events"))
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(event)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                completes.push(t.elapsed().as_micros() as u32);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            (creates, completes)
        }));
    }
    let (mut creates, mut completes) = (Vec::new(), Vec::new());
    for t in tasks {
        let (a, b) = t.await?;
        creates.extend(a);
        completes.extend(b);
    }
    let elapsed = started.elapsed();
    let rss = server.peak_rss_mib();
    // Every acknowledged write must be there.
    let check: Value = client
        .get(format!("{}/v1/calls?status=completed&limit=1", server.base))
        .header("authorization", &auth)
        .send()
        .await?
        .json()
        .await?;
    let stored = check["pagination"]["total"].as_u64().unwrap_or(0);
    let mut all: Vec<u32> = creates.iter().chain(completes.iter()).copied().collect();
    all.sort_unstable();
    creates.sort_unstable();
    completes.sort_unstable();
    let writes = all.len() as f64;
    println!(
        "bench ingest: backend={backend} durability={} calls={} concurrency={}",
        args.durability, args.calls, args.concurrency
    );
    println!(
        "  writes            {:>10}  ({} creates + {} completion events)",
        all.len(),
        creates.len(),
        completes.len()
    );
    println!("  failures          {:>10}", failures.load(Ordering::Relaxed));
    println!("  elapsed           {:>10.2} s", elapsed.as_secs_f64());
    println!("  throughput        {:>10.0} writes/s", writes / elapsed.as_secs_f64());
    println!(
        "  latency all       p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        percentile(&all, 1.0)
    );
    println!(
        "  latency create    p50 {:.2} ms  p99 {:.2} ms",
        percentile(&creates, 0.5),
        percentile(&creates, 0.99)
    );
    println!(
        "  latency complete  p50 {:.2} ms  p99 {:.2} ms",
        percentile(&completes, 0.5),
        percentile(&completes, 0.99)
    );
    println!("  server peak RSS   {:>10.1} MiB", rss.unwrap_or(f64::NAN));
    println!(
        "  completed calls stored: {stored} (expected {})",
        args.calls - failures.load(Ordering::Relaxed)
    );
    Ok(())
}
