//! `switchboard bench list --calls N`: bulk-loads N calls of one
//! organisation into a fresh store, then times the call list over loopback
//! HTTP — first pages, next pages (by cursor, near the start and near the
//! end), every filter's first page, the deepest offset page allowed, the
//! ribbon's call logs and customer calls, and a whole CSV export — on
//! SQLite, and on PostgreSQL too when `--database-url` is given.

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use switchboard_domain::Organisation;
use switchboard_store::{CallFilter, DynStore};

use crate::AppState;
use crate::bench::{own_peak_rss_mib, percentile};
use crate::config::{Config, Durability, Secret};
use crate::core::call_list::{self, MAX_OFFSET};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Calls to load (all in one organisation).
    #[arg(long, default_value_t = 200_000)]
    pub calls: u64,
    /// Timed requests per path.
    #[arg(long, default_value_t = 50)]
    pub iterations: usize,
    /// Also run on PostgreSQL (a fresh schema `bench_list` in this database).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Skip the whole-table CSV export.
    #[arg(long)]
    pub no_export: bool,
    /// Random seed of the generator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

pub async fn run(args: ListArgs) -> anyhow::Result<()> {
    crate::logs::init("text");
    bench_backend(&args, None).await?;
    if let Some(url) = &args.database_url {
        bench_backend(&args, Some(url)).await?;
    }
    Ok(())
}

async fn bench_backend(args: &ListArgs, database_url: Option<&str>) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut cfg = Config {
        data_dir: tmp.path().to_owned(),
        durability: Durability::Normal,
        ..Config::default()
    };
    let backend = match database_url {
        Some(url) => {
            cfg.database_url = Some(Secret::new(crate::bench::fresh_pg_schema(url, "bench_list").await?));
            "postgres"
        }
        None => "sqlite",
    };
    let store: DynStore = crate::open_store(&cfg).await?;
    let org = store
        .create_org(Organisation::new("bench-list", "Bench list", switchboard_domain::now()))
        .await?;
    let (secret, key, hash) = crate::identity::auth::generate_key(&org, "bench");
    store.create_key(key, hash).await?;
    println!("bench list: backend={backend} calls={} (one organisation)", args.calls);
    let orgs = [org.clone()];
    let load_s = super::analytics::load(&store, &orgs, args.calls, args.seed)
        .await
        .context("loading calls")?;
    println!("  load              {:>8.1} s  ({:.0} calls/s)", load_s, args.calls as f64 / load_s);
    let state = AppState::new(store.clone(), cfg);
    let t = Instant::now();
    state.analytics.ensure_loaded().await?;
    println!("  index build       {:>8.1} s", t.elapsed().as_secs_f64());

    // Cursors near the start and near the end of the list, taken from the store untimed.
    let at = |offset: u64, filter: CallFilter| {
        let (store, org) = (store.clone(), org.id.clone());
        async move {
            let page = store.calls_page(&org, &filter, None, offset, 1).await?;
            anyhow::Ok(page.first().map(call_list::cursor_of).unwrap_or_default())
        }
    };
    let near_start = at(20, CallFilter::default()).await?;
    let near_end = at(args.calls.saturating_sub(100), CallFilter::default()).await?;
    // The newest call's customer (a customer with calls at any size).
    let newest = store.calls_page(&org.id, &CallFilter::default(), None, 0, 1).await?;
    let customer = newest
        .first()
        .and_then(|c| c.customer_external_id.clone())
        .unwrap_or_else(|| "LOAN000000".into());
    let customer = customer.as_str();
    let customer_cursor = at(
        1,
        CallFilter {
            customer_external_id: Some(customer.into()),
            ..Default::default()
        },
    )
    .await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::run(state, listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let month_ago = (chrono::Utc::now() - chrono::Duration::days(30)).format("%Y-%m-%d");
    let deepest = MAX_OFFSET / 20 + 1;
    let paths: Vec<(&str, String)> = vec![
        ("first page", "/v1/calls?limit=20".into()),
        ("next page (near start)", format!("/v1/calls?limit=20&cursor={near_start}")),
        ("next page (near end)", format!("/v1/calls?limit=20&cursor={near_end}")),
        ("deepest offset page", format!("/v1/calls?limit=20&page={deepest}")),
        ("status=busy", "/v1/calls?limit=20&status=busy".into()),
        ("status=no-answer,busy", "/v1/calls?limit=20&status=no-answer,busy".into()),
        ("customerId", format!("/v1/calls?limit=20&customerId={customer}")),
        (
            "customerId, next page",
            format!("/v1/calls?limit=20&customerId={customer}&cursor={customer_cursor}"),
        ),
        ("contactId", "/v1/calls?limit=20&contactId=cnt_none".into()),
        ("campaignId", "/v1/calls?limit=20&campaignId=cmp_07".into()),
        ("agentId", "/v1/calls?limit=20&agentId=AGT007".into()),
        ("callType", "/v1/calls?limit=20&callType=sales".into()),
        ("direction", "/v1/calls?limit=20&direction=inbound".into()),
        ("last 30 days", format!("/v1/calls?limit=20&startDate={month_ago}")),
        ("ribbon call-logs page 1", "/api/ribbon/call-logs".into()),
        ("ribbon customer calls", format!("/api/ribbon/customer/{customer}/calls")),
        ("ribbon analytics", "/api/ribbon/analytics?limit=100".into()),
    ];
    println!("  {:<30} {:>9} {:>9}", "path", "p50 ms", "p99 ms");
    for (name, path) in &paths {
        if path.ends_with("cursor=") {
            println!("  {name:<30}   (skipped: no second page)");
            continue;
        }
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
        println!("  {:<30} {:>9.2} {:>9.2}", name, percentile(&times, 0.5), percentile(&times, 0.99));
    }
    if !args.no_export {
        let t = Instant::now();
        let resp = client
            .get(format!("{base}/v1/calls/export?format=csv"))
            .bearer_auth(&secret)
            .send()
            .await?;
        let body = resp.bytes().await?;
        let s = t.elapsed().as_secs_f64();
        let rows = body.iter().filter(|b| **b == b'\n').count().saturating_sub(1);
        println!(
            "  export CSV        {:>8.2} s  ({rows} rows, {:.0} rows/s, {:.1} MiB)",
            s,
            rows as f64 / s,
            body.len() as f64 / (1 << 20) as f64
        );
    }
    println!("  peak RSS          {:>8.0} MiB", own_peak_rss_mib());
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}
