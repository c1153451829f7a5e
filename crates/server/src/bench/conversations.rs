//! `switchboard bench conversations`: N single calls asked for through the
//! one dial path (do-not-call, calling window, rate and live-call caps),
//! placed on the simulator, each running a six-step branching script with
//! a persona from the seeded mix, on a clock the benchmark moves in small
//! steps so every call is live at once. Prints single calls placed per
//! minute (wall time of the dial passes), calls completed per second, the
//! most conversations live at once, the runtime's reaction time from a
//! callee event to the next actions (p50/p99, the store write included)
//! and peak RSS.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use switchboard_domain::{CallStatus, Direction, Organisation};
use switchboard_store::DynStore;
use switchboard_telephony::simulator::SimSettings;
use switchboard_telephony::{ManualClock, TimeSource};

use crate::AppState;
use crate::config::Config;
use crate::core::calls::NewCall;
use crate::core::dial::{self, DialOptions};
use crate::identity::ratelimit::RateLimiter;

#[derive(Debug, Args)]
pub struct ConversationsArgs {
    /// Calls to place (all live at once once answered).
    #[arg(long, default_value_t = 2_000)]
    pub calls: u32,
    /// Simulated milliseconds per round (dialer pass + simulator pump).
    #[arg(long, default_value_t = 250)]
    pub step_ms: i64,
    /// The organisation's calls-per-second cap.
    #[arg(long, default_value_t = 5_000)]
    pub cps: u32,
    /// Run against PostgreSQL (a fresh schema `bench_conversations`) instead of SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// The six-step branching script every call runs.
const SCRIPT: &str = r#"{"name": "Bench renewal", "variables": ["firstName"], "steps": [
 {"id": "hello", "type": "greeting", "content": "Hi {firstName}, this is Acme about your plan renewal."},
 {"id": "ask", "type": "question", "content": "Would you like to renew today? Press 1 for yes or 2 for no.", "saveAs": "renew",
  "branches": [{"digits": "1", "goto": "yes"}, {"intent": "interested", "goto": "yes"},
               {"intent": "callback_request", "goto": "later"}, {"intent": "transfer_request", "goto": "human"},
               {"default": true, "goto": "no"}]},
 {"id": "later", "type": "question", "content": "When should we call you back?", "saveAs": "callbackTime", "next": "no"},
 {"id": "yes", "type": "hangup", "content": "Great, your plan is renewed.", "outcome": "successful"},
 {"id": "human", "type": "transfer", "content": "Connecting you.", "to": "+15550001111"},
 {"id": "no", "type": "hangup", "content": "Thank you, goodbye."}
]}"#;

async fn open(args: &ConversationsArgs, dir: &std::path::Path) -> anyhow::Result<DynStore> {
    Ok(match &args.database_url {
        Some(url) => Arc::new(switchboard_store::postgres::PgStore::connect_fresh_schema(url, "bench_conversations").await?),
        None => Arc::new(switchboard_store::sqlite::SqliteStore::open(
            &dir.join("switchboard.db"),
            switchboard_store::sqlite::SqliteOptions {
                durability: switchboard_store::sqlite::Durability::Full,
                readers: 4,
            },
        )?),
    })
}

pub async fn run(args: ConversationsArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = open(&args, dir.path()).await.context("cannot open the store")?;
    // 15:00 UTC: inside New York's calling window.
    let start: chrono::DateTime<chrono::Utc> = "2025-05-21T15:00:00Z".parse()?;
    let org = store.create_org(Organisation::new("bench", "Bench", start)).await?;
    let clock = ManualClock::new(start);
    let sim = SimSettings {
        failed_rate: 0.0,
        busy_rate: 0.0,
        answer_rate: 1.0,
        answer_by_hour: false,
        ..Default::default()
    };
    let mut cfg = Config::default();
    cfg.telephony.dialer_cps = args.cps;
    cfg.telephony.dialer_batch = args.calls.max(1);
    let runtime = switchboard_telephony::Runtime::simulated(sim, store.clone(), clock.clone() as Arc<dyn TimeSource>);
    let state = AppState::assemble(store.clone(), cfg, RateLimiter::memory(), Arc::new(runtime));
    let sim = state.telephony.simulator.clone().context("the simulator")?;
    let tpl: serde_json::Value = serde_json::from_str(SCRIPT)?;
    let steps: Vec<switchboard_domain::script::Step> = serde_json::from_value(tpl["steps"].clone())?;
    let now = switchboard_domain::now();
    let template = switchboard_domain::Template {
        id: switchboard_domain::TemplateId::new(),
        org_id: org.id.clone(),
        name: "bench".into(),
        description: None,
        industry: None,
        steps,
        variables: vec!["firstName".into()],
        usage_count: 0,
        created_at: now,
        updated_at: now,
    };
    switchboard_domain::Template::check(&template.steps, &template.variables).map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.reason))?;
    let template = store.create_template(template, None).await?;

    println!(
        "bench conversations: {} calls, {} ms simulated per round ({} backend)",
        args.calls,
        args.step_ms,
        store.backend()
    );
    // Ask for every call through the dial path.
    let asked = Instant::now();
    let mut ids = Vec::with_capacity(args.calls as usize);
    for i in 0..args.calls {
        let spec = NewCall {
            direction: Direction::Outbound,
            require_number: true,
            customer_number: Some(format!("+1212{:07}", 5_000_000 + i)),
            template_id: Some(template.id.to_string()),
            variables: Some(json!({"firstName": format!("Caller {i}")})),
            ..Default::default()
        };
        let r = dial::request(&state, &org, spec, "phone", DialOptions::default(), None).await?;
        ids.push(r.call.id);
    }
    let asked_secs = asked.elapsed().as_secs_f64();
    // Place them: dialer passes until every call is with the carrier.
    let placing = Instant::now();
    let mut placed = 0usize;
    let mut passes = 0usize;
    while placed < ids.len() {
        let pass = state.dialer.run_once().await?;
        placed += pass.dialed;
        passes += 1;
        if passes > 100_000 {
            anyhow::bail!("the calls were not placed");
        }
        if placed < ids.len() {
            clock.advance(chrono::Duration::seconds(1));
        }
    }
    let placing_secs = placing.elapsed().as_secs_f64();
    // Run the conversations to the end.
    let talking = Instant::now();
    let mut peak_live = 0usize;
    let mut rounds = 0usize;
    loop {
        sim.pump().await?;
        state.dialer.run_once().await?;
        peak_live = peak_live.max(state.conversations.live_calls());
        rounds += 1;
        if sim.live_calls() == 0 {
            break;
        }
        clock.advance(chrono::Duration::milliseconds(args.step_ms));
        if rounds > 1_000_000 {
            anyhow::bail!("the conversations did not end");
        }
    }
    let talk_secs = talking.elapsed().as_secs_f64();
    let mut reactions = state.conversations.take_reaction_times();
    reactions.sort_unstable();
    let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
    let mut ended = 0usize;
    for id in &ids {
        let c = store.get_call(&org.id, id).await?;
        if c.status.is_terminal() {
            ended += 1;
        }
        let key = match (c.status, c.outcome) {
            (CallStatus::Voicemail, _) => "voicemail".to_owned(),
            (_, Some(o)) => o,
            (s, None) => s.as_str().to_owned(),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    println!("  asked (POST path)      {:>10.0} calls/s", ids.len() as f64 / asked_secs);
    println!(
        "  placed                 {:>10.0} calls/min   ({} calls in {:.2} s of dialer passes, {} passes)",
        placed as f64 / placing_secs * 60.0,
        placed,
        placing_secs,
        passes
    );
    println!("  live at once (peak)    {peak_live:>10}");
    println!(
        "  completed              {:>10.1} calls/s   ({ended} calls in {talk_secs:.2} s, {rounds} rounds)",
        ended as f64 / talk_secs
    );
    println!("  reactions              {:>10}", reactions.len());
    println!("  reaction p50           {:>10.2} ms", crate::bench::percentile(&reactions, 0.5));
    println!("  reaction p99           {:>10.2} ms", crate::bench::percentile(&reactions, 0.99));
    println!("  reaction max           {:>10.2} ms", crate::bench::percentile(&reactions, 1.0));
    println!("  outcomes               {outcomes:?}");
    println!("  peak RSS               {:>10.1} MiB", crate::bench::own_peak_rss_mib());
    if let Some(url) = &args.database_url {
        switchboard_store::postgres::PgStore::drop_schema(url, "bench_conversations").await?;
    }
    Ok(())
}
