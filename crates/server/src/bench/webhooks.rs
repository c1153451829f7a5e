//! `switchboard bench webhooks`: a fresh server process with its webhook
//! worker, a receiver in this process on loopback, S subscriptions to every
//! `contact.created`, and N contacts created over HTTP. Reports deliveries
//! per second (first acknowledged write to last receipt), end-to-end latency
//! (write acknowledged → request received) and the server's peak RSS.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use clap::Args;
use serde_json::json;
use tokio::sync::{Mutex, Notify};

use crate::bench::{Server, fresh_pg_schema, percentile};

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// Events (contacts created), each delivered to every subscription.
    #[arg(long, default_value_t = 1_000)]
    pub events: u64,
    /// Subscriptions (all to `contact.created`).
    #[arg(long, default_value_t = 100)]
    pub subscriptions: u64,
    /// Events created per second; 0 creates them as fast as the server takes them.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Writers creating events at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Run against PostgreSQL (a fresh schema `bench_webhooks`) instead of SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// SQLite durability for the server under test: full or normal.
    #[arg(long, default_value = "full")]
    pub durability: String,
}

/// When each event's write was acknowledged, and receipts (latency in µs).
#[derive(Default)]
struct Clock {
    acked: Mutex<HashMap<u64, Instant>>,
    /// Receipts that came before their write's acknowledgement was recorded.
    early: Mutex<Vec<(u64, Instant)>>,
    latencies: Mutex<Vec<u32>>,
}

/// The event number carried in the contact's external id (`bench-<n>`).
fn event_number(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let rest = text.split(r#""externalId":"bench-"#).nth(1)?;
    rest.split('"').next()?.parse().ok()
}

async fn receiver(clock: Arc<Clock>, received: Arc<AtomicU64>, done: Arc<Notify>, expected: u64) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let (clock, received, done) = (clock.clone(), received.clone(), done.clone());
        async move {
            let at = Instant::now();
            if let Some(n) = event_number(&body) {
                let sent = clock.acked.lock().await.get(&n).copied();
                match sent {
                    Some(t) => clock.latencies.lock().await.push(at.duration_since(t).as_micros() as u32),
                    None => clock.early.lock().await.push((n, at)),
                }
            }
            if received.fetch_add(1, Ordering::SeqCst) + 1 >= expected {
                done.notify_one();
            }
            "ok"
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

pub async fn run(args: WebhooksArgs) -> anyhow::Result<()> {
    let db_url = match &args.database_url {
        Some(u) => Some(fresh_pg_schema(u, "bench_webhooks").await?),
        None => None,
    };
    let backend = if db_url.is_some() { "postgres" } else { "sqlite" };
    let server = Server::start(
        &[
            "--durability".into(),
            args.durability.clone(),
            "--allow-private-webhook-targets".into(),
        ],
        db_url,
    )?;
    let expected = args.events * args.subscriptions;
    let (clock, received, done) = (Arc::new(Clock::default()), Arc::new(AtomicU64::new(0)), Arc::new(Notify::new()));
    let url = receiver(clock.clone(), received.clone(), done.clone(), expected).await?;
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let auth = format!("Bearer {}", server.key);
    for _ in 0..args.subscriptions {
        let r = client
            .post(format!("{}/v1/webhooks", server.base))
            .header("authorization", &auth)
            .json(&json!({"url": url, "events": ["contact.created"]}))
            .send()
            .await?;
        if r.status().as_u16() != 201 {
            bail!("cannot subscribe: {}", r.text().await.unwrap_or_default());
        }
    }
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, auth, base, next, clock) = (client.clone(), auth.clone(), server.base.clone(), next.clone(), clock.clone());
        let (total, rate) = (args.events, args.rate);
        writers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                if rate > 0 {
                    // Paced: event n is due n/rate seconds after the start.
                    let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let body = format!(
                    r#"{{"phone":"+1415{:07}","name":"Bench {n}","externalId":"bench-{n}"}}"#,
                    n % 10_000_000
                );
                let r = client
                    .post(format!("{base}/v1/contacts"))
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                if r.status().as_u16() != 201 {
                    bail!("write failed: {}", r.status());
                }
                clock.acked.lock().await.insert(n, Instant::now());
            }
        }));
    }
    for w in writers {
        w.await??;
    }
    let written = started.elapsed();
    // A generous bound: at 100 deliveries/s this would still finish.
    let wait = Duration::from_secs(60 + expected / 100);
    tokio::time::timeout(wait, async {
        while received.load(Ordering::SeqCst) < expected {
            tokio::select! {
                _ = done.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    })
    .await
    .with_context(|| format!("only {} of {expected} deliveries arrived", received.load(Ordering::SeqCst)))?;
    let elapsed = started.elapsed();
    let rss = server.peak_rss_mib();
    // Receipts that beat the writer's bookkeeping count as zero latency.
    let early = clock.early.lock().await.len();
    let mut lat = clock.latencies.lock().await.clone();
    lat.extend(std::iter::repeat_n(0, early));
    lat.sort_unstable();
    let got = received.load(Ordering::SeqCst);
    println!(
        "bench webhooks: backend={backend} durability={} events={} subscriptions={} rate={} concurrency={}",
        args.durability,
        args.events,
        args.subscriptions,
        if args.rate == 0 {
            "max".to_owned()
        } else {
            format!("{}/s", args.rate)
        },
        args.concurrency
    );
    println!("  deliveries        {got:>10}  (expected {expected})");
    println!("  events written in {:>10.2} s", written.as_secs_f64());
    println!(
        "  elapsed           {:>10.2} s  (first write to last delivery)",
        elapsed.as_secs_f64()
    );
    println!("  throughput        {:>10.0} deliveries/s", got as f64 / elapsed.as_secs_f64());
    println!(
        "  latency           p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms  (write acknowledged → request received)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    println!("  server peak RSS   {:>10.1} MiB", rss.unwrap_or(f64::NAN));
    Ok(())
}
