//! `switchboard bench analytics --calls N`: generates a year of realistic
//! calls for several organisations straight into a fresh store, builds the
//! analytics index, then times every analytics endpoint over loopback HTTP.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{Duration, Utc};
use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use switchboard_domain::{Call, CallStatus, Direction, Organisation};
use switchboard_store::DynStore;

use crate::AppState;
use crate::bench::{own_peak_rss_mib, percentile};
use crate::config::{Config, Durability, Secret};

#[derive(Debug, Args)]
pub struct AnalyticsArgs {
    /// Calls to generate.
    #[arg(long, default_value_t = 1_000_000)]
    pub calls: u64,
    /// Organisations to spread them over (the first gets half).
    #[arg(long, default_value_t = 4)]
    pub orgs: usize,
    /// Timed requests per endpoint.
    #[arg(long, default_value_t = 20)]
    pub iterations: usize,
    /// Run on PostgreSQL (a fresh schema `bench_analytics` in this database) instead of SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Keep the SQLite data in this folder instead of a temporary one.
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Random seed of the generator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

const BATCH: usize = 100_000;
const LOAN_TYPES: [&str; 5] = ["Business Loan", "Home Loan", "Gold Loan", "Personal Loan", "Auto Loan"];
const RISK: [&str; 3] = ["Low", "Medium", "High"];
const SOURCES: [&str; 4] = ["Website", "Referral", "Walk-in", "Partner"];
const TYPES: [&str; 4] = ["collections", "sales", "support", "follow_up"];
const OUTCOMES: [&str; 6] = ["successful", "refused", "callback", "promise_to_pay", "wrong_number", "interested"];
const ZONES: [&str; 4] = ["Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "Europe/London"];

/// A moment of a day, business-hour heavy (most calls 09:00-19:00 IST), in seconds.
fn second_of_day(rng: &mut StdRng) -> i64 {
    let minute = if rng.random_bool(0.85) {
        rng.random_range(210..810)
    } else {
        rng.random_range(0..1440)
    };
    minute * 60 + rng.random_range(0..60)
}

/// One generated call for `org` at `at` (unix seconds).
fn gen_call(rng: &mut StdRng, org: &Organisation, at: i64) -> Call {
    let at = chrono::DateTime::from_timestamp(at, 0).unwrap_or_default();
    let roll: f64 = rng.random();
    let status = match roll {
        r if r < 0.62 => CallStatus::Completed,
        r if r < 0.78 => CallStatus::NoAnswer,
        r if r < 0.85 => CallStatus::Busy,
        r if r < 0.90 => CallStatus::Voicemail,
        r if r < 0.95 => CallStatus::Failed,
        r if r < 0.97 => CallStatus::Canceled,
        _ => CallStatus::InProgress,
    };
    let mut c = Call::new(
        org.id.clone(),
        if rng.random_bool(0.25) {
            Direction::Inbound
        } else {
            Direction::Outbound
        },
        status,
        switchboard_domain::truncate(at),
    );
    let customer = rng.random_range(0..50_000u32);
    c.customer_external_id = Some(format!("LOAN{customer:06}"));
    c.customer_name = Some(format!("Customer {customer}"));
    c.customer_phone = Some(format!("+9198{customer:08}"));
    c.to = c.customer_phone.clone();
    c.from = Some("+918044556677".into());
    let agent = rng.random_range(0..60u32);
    c.agent_id = Some(format!("AGT{agent:03}"));
    c.agent_name = Some(format!("Agent {agent}"));
    c.campaign_id = Some(format!("cmp_{:02}", rng.random_range(0..24u32)));
    c.call_type = Some(TYPES[rng.random_range(0..TYPES.len())].to_owned());
    c.initiated_at = Some(c.created_at);
    if status.was_answered() {
        let d = (rng.random::<f64>().powi(2) * 900.0) as i64 + 5;
        c.duration = Some(d);
        c.answered_at = Some(c.created_at + Duration::seconds(rng.random_range(3..30)));
        c.ended_at = c.answered_at.map(|a| a + Duration::seconds(d));
        c.outcome = Some(OUTCOMES[rng.random_range(0..OUTCOMES.len())].to_owned());
    } else if status.is_terminal() {
        c.ended_at = Some(c.created_at + Duration::seconds(rng.random_range(5..45)));
    }
    c.customer_context = Some(json!({
        "loanType": LOAN_TYPES[rng.random_range(0..LOAN_TYPES.len())],
        "loanAmount": rng.random_range(10..500) * 10_000,
        "daysOverdue": rng.random_range(0..180),
        "riskCategory": RISK[rng.random_range(0..RISK.len())],
        "leadSource": SOURCES[rng.random_range(0..SOURCES.len())],
    }));
    c.metadata = Some(
        json!({ "campaign": format!("overdue_{}days", 15 * rng.random_range(1..7)), "attempt": rng.random_range(1..6), "bucket": format!("DPD_{}", rng.random_range(0..6) * 30) }),
    );
    c
}

/// Generates `total` calls over the past year into `store` (shared with `bench list`).
pub(super) async fn load(store: &DynStore, orgs: &[Organisation], total: u64, seed: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Call>>(1);
    let orgs_gen = orgs.to_vec();
    // Generate on a blocking thread while the store writes the previous batch.
    let producer = tokio::task::spawn_blocking(move || {
        let mut rng = StdRng::seed_from_u64(seed);
        // A year up to today, day by day in time order, as calls happen.
        let today = Utc::now().timestamp() / 86_400 * 86_400;
        let first_day = today - 364 * 86_400;
        let mut batch = Vec::with_capacity(BATCH);
        for day in 0..365u64 {
            let n = total / 365 + u64::from(day < total % 365);
            let mut times: Vec<i64> = (0..n).map(|_| first_day + day as i64 * 86_400 + second_of_day(&mut rng)).collect();
            times.sort_unstable();
            for at in times {
                // The first organisation makes half the calls.
                let o = if rng.random_bool(0.5) {
                    0
                } else {
                    rng.random_range(0..orgs_gen.len())
                };
                batch.push(gen_call(&mut rng, &orgs_gen[o], at));
                if batch.len() == BATCH && tx.blocking_send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).is_err() {
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
    });
    let mut done = 0u64;
    while let Some(batch) = rx.recv().await {
        done += store.import_calls(batch).await? as u64;
        if done % 1_000_000 < BATCH as u64 {
            eprintln!("  loaded {done} calls ({:.0}/s)", done as f64 / started.elapsed().as_secs_f64());
        }
    }
    producer.await?;
    Ok(started.elapsed().as_secs_f64())
}

pub async fn run(args: AnalyticsArgs) -> anyhow::Result<()> {
    crate::logs::init("text");
    let tmp = tempfile::tempdir()?;
    let mut cfg = Config {
        data_dir: args.data_dir.clone().unwrap_or_else(|| tmp.path().to_owned()),
        durability: Durability::Normal,
        ..Config::default()
    };
    let backend = match &args.database_url {
        Some(url) => {
            cfg.database_url = Some(Secret::new(crate::bench::fresh_pg_schema(url, "bench_analytics").await?));
            "postgres"
        }
        None => "sqlite",
    };
    let store = crate::open_store(&cfg).await?;
    let mut orgs = Vec::new();
    for i in 0..args.orgs.max(1) {
        let mut org = Organisation::new(&format!("bench-{i}"), &format!("Bench {i}"), switchboard_domain::now());
        org.time_zone = switchboard_domain::TimeZone::parse("tz", ZONES[i % ZONES.len()]).map_err(|e| anyhow::anyhow!("{e}"))?;
        orgs.push(store.create_org(org).await?);
    }
    let (secret, key, hash) = crate::identity::auth::generate_key(&orgs[0], "bench");
    store.create_key(key, hash).await?;
    println!("bench analytics: backend={backend} calls={} orgs={}", args.calls, orgs.len());
    let load_s = load(&store, &orgs, args.calls, args.seed).await.context("loading calls")?;
    println!("  load              {:>8.1} s  ({:.0} calls/s)", load_s, args.calls as f64 / load_s);

    let state = AppState::new(store.clone(), cfg);
    let t = Instant::now();
    state.analytics.ensure_loaded().await?;
    let size = state.analytics.size();
    println!(
        "  index build       {:>8.1} s  ({} calls, ~{} MiB of columns)",
        t.elapsed().as_secs_f64(),
        size.calls,
        size.bytes / (1 << 20)
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::run(state, listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let month_ago = (Utc::now() - Duration::days(30)).format("%Y-%m-%d");
    let endpoints: Vec<(&str, String)> = vec![
        ("calls (year, by day)", "/v1/analytics/calls".into()),
        ("calls (30 days)", format!("/v1/analytics/calls?startDate={month_ago}")),
        (
            "calls (by month, campaign)",
            "/v1/analytics/calls?groupBy=month&campaignId=cmp_07".into(),
        ),
        (
            "calls (agent + type)",
            "/v1/analytics/calls?agentId=AGT007&callType=sales&groupBy=week".into(),
        ),
        ("campaigns", "/v1/analytics/campaigns".into()),
        ("agents", "/v1/analytics/agents".into()),
        ("summary", "/v1/analytics/summary".into()),
        (
            "breakdown hour (Kathmandu)",
            "/v1/analytics/breakdown?by=hour&tz=Asia/Kathmandu".into(),
        ),
        ("breakdown dayOfWeek", "/v1/analytics/breakdown?by=dayOfWeek".into()),
        (
            "breakdown date (New York)",
            "/v1/analytics/breakdown?by=date&tz=America/New_York".into(),
        ),
        ("breakdown callType", "/v1/analytics/breakdown?by=callType".into()),
        ("breakdown direction", "/v1/analytics/breakdown?by=direction".into()),
        ("breakdown status", "/v1/analytics/breakdown?by=status".into()),
        ("breakdown outcome", "/v1/analytics/breakdown?by=outcome".into()),
        ("breakdown agent", "/v1/analytics/breakdown?by=agent".into()),
        ("breakdown campaign", "/v1/analytics/breakdown?by=campaign".into()),
        ("breakdown duration", "/v1/analytics/breakdown?by=duration".into()),
        ("top customers (calls)", "/v1/analytics/breakdown?by=customer&limit=10".into()),
        (
            "top customers (duration)",
            "/v1/analytics/breakdown?by=customer&sort=duration&limit=10".into(),
        ),
        ("context.loanType", "/v1/analytics/breakdown?by=context.loanType".into()),
        (
            "context.loanAmount (auto bins)",
            "/v1/analytics/breakdown?by=context.loanAmount&bins=auto".into(),
        ),
        (
            "context.daysOverdue (bins)",
            "/v1/analytics/breakdown?by=context.daysOverdue&bins=0,30,60,90".into(),
        ),
        ("metadata.bucket", "/v1/analytics/breakdown?by=metadata.bucket".into()),
    ];
    println!(
        "  {:<32} {:>9} {:>9}   (largest organisation: ~{} calls)",
        "endpoint",
        "p50 ms",
        "p99 ms",
        args.calls / 2 + args.calls / 2 / orgs.len() as u64
    );
    for (name, path) in &endpoints {
        let mut times = Vec::new();
        for i in 0..=args.iterations {
            let t = Instant::now();
            let resp = client.get(format!("{base}{path}")).bearer_auth(&secret).send().await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            if !status.is_success() {
                anyhow::bail!("{path} answered {status}: {}", String::from_utf8_lossy(&body));
            }
            if i > 0 {
                times.push(t.elapsed().as_micros() as u32);
            }
        }
        times.sort_unstable();
        println!("  {:<32} {:>9.2} {:>9.2}", name, percentile(&times, 0.5), percentile(&times, 0.99));
    }
    println!("  peak RSS          {:>8.0} MiB", own_peak_rss_mib());
    let _ = stop.send(());
    let _ = server.await;
    let _: Arc<()> = Arc::new(());
    Ok(())
}
