//! `switchboard bench routing`: how fast the router decides. First the
//! pure choice (`routing::choose`) over a pool of agents with mixed
//! skills; then whole routing passes on a fresh store: agents available,
//! calls waiting, each pass offering calls (two conditional UPDATEs and an
//! event per offer) until every agent's line is taken.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::Duration;
use clap::Args;
use switchboard_domain::agents::{AgentPatch, AgentStatus, Skills};
use switchboard_domain::id::QueueId;
use switchboard_domain::queues::Queue;
use switchboard_domain::routing::{Candidate, choose};
use switchboard_domain::{Call, CallStatus, Direction, Organisation, Role, User, UserId, UserStatus};
use switchboard_store::DynStore;

#[derive(Debug, Args)]
pub struct RoutingArgs {
    /// Agents available (each on one line).
    #[arg(long, default_value_t = 500)]
    pub agents: usize,
    /// Calls waiting in the queue.
    #[arg(long, default_value_t = 2_000)]
    pub calls: usize,
    /// Decisions of the pure choice to time (over 50 agents).
    #[arg(long, default_value_t = 100_000)]
    pub decisions: usize,
    /// Run against PostgreSQL (a fresh schema `bench_routing`) instead of SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
}

const NAMES: [&str; 5] = ["billing", "sales", "support", "spanish", "french"];

/// Three skills per agent at varied levels.
fn skills(i: usize) -> Skills {
    (0..3)
        .map(|k| (NAMES[(i + k) % 5].to_owned(), ((i * 7 + k) % 5 + 1) as u8))
        .collect()
}

pub async fn run(args: RoutingArgs) -> anyhow::Result<()> {
    let t0 = switchboard_domain::now();
    // 1. The pure choice.
    let pool: Vec<Candidate<usize>> = (0..50)
        .map(|i| Candidate {
            id: i,
            skills: skills(i),
            status: AgentStatus::Available,
            idle_since: t0 - Duration::seconds((i as i64 * 13) % 97),
            active_calls: 0,
            max_calls: 1,
        })
        .collect();
    let required: Vec<Skills> = (0..16)
        .map(|i| skills(i).into_iter().take(1 + i % 2).map(|(k, _)| (k, 1 + (i % 3) as u8)).collect())
        .collect();
    let start = Instant::now();
    let mut found = 0usize;
    for i in 0..args.decisions {
        found += usize::from(choose(&required[i % required.len()], &pool).is_some());
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "choose: {} decisions over 50 agents in {secs:.3} s = {:.0} decisions/s ({found} found an agent)",
        args.decisions,
        args.decisions as f64 / secs
    );

    // 2. Routing passes on a store.
    let dir = tempfile::tempdir()?;
    let s: DynStore = match &args.database_url {
        Some(url) => Arc::new(switchboard_store::postgres::PgStore::connect_fresh_schema(url, "bench_routing").await?),
        None => Arc::new(switchboard_store::sqlite::SqliteStore::open(
            &dir.path().join("switchboard.db"),
            switchboard_store::sqlite::SqliteOptions {
                durability: switchboard_store::sqlite::Durability::Full,
                readers: 4,
            },
        )?),
    };
    let o = s.create_org(Organisation::new("bench", "bench", t0)).await?;
    let q = s
        .create_queue(Queue {
            id: QueueId::new(),
            org_id: o.id.clone(),
            name: "Billing".into(),
            department_id: None,
            skills: [("billing".to_owned(), 1u8)].into_iter().collect(),
            priority: 50,
            max_wait_secs: 3600,
            hours: None,
            overflow: None,
            created_at: t0,
            updated_at: t0,
        })
        .await?;
    for i in 0..args.agents {
        let u = User {
            id: UserId::new(),
            org_id: o.id.clone(),
            email: format!("agent{i}@bench.example"),
            name: None,
            role: Role::Agent,
            status: UserStatus::Active,
            preferences: serde_json::json!({}),
            created_at: t0,
            updated_at: t0,
            failed_logins: 0,
            locked_until: None,
            last_login_at: None,
        };
        let id = s.create_user(u, "-".into()).await?.id;
        let mut sk = skills(i);
        sk.insert("billing".into(), (i % 5 + 1) as u8);
        let patch = AgentPatch {
            skills: Some(sk),
            ..Default::default()
        };
        s.update_agent(&o.id, &id, patch, t0).await?;
        s.set_agent_status(&o.id, &id, AgentStatus::Available, None, t0 - Duration::seconds(i as i64))
            .await?;
    }
    for i in 0..args.calls {
        let call = s
            .create_call(Call::new(o.id.clone(), Direction::Inbound, CallStatus::InProgress, t0), None)
            .await?;
        s.enqueue_call(&o.id, &call.id, &q.id, t0 + Duration::milliseconds(i as i64))
            .await?;
    }
    let (mut decisions, mut offers, mut passes) = (0u64, 0usize, 0u32);
    let start = Instant::now();
    loop {
        let pass = s.route_calls(&o.id, t0 + Duration::seconds(1), 20).await.context("routing pass")?;
        passes += 1;
        decisions += u64::from(pass.decisions);
        offers += pass.offered.len();
        if pass.offered.is_empty() {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} routing: {} agents, {} calls waiting: {passes} passes, {decisions} decisions, {offers} offers in {secs:.3} s = {:.0} decisions/s, {:.0} offers/s",
        s.backend(),
        args.agents,
        args.calls,
        decisions as f64 / secs,
        offers as f64 / secs
    );
    println!("peak RSS {:.0} MiB", super::own_peak_rss_mib());
    if let Some(url) = &args.database_url {
        switchboard_store::postgres::PgStore::drop_schema(url, "bench_routing").await?;
    }
    Ok(())
}
