//! `switchboard bench dialer`: a campaign of N contacts on M lines, dialled
//! through the simulator on a clock the benchmark moves (each pass is
//! `--step-ms` of simulated time), until every contact is done. Prints
//! dial decisions per second, the latency of each dialer pass, the
//! simulator's report rate and peak RSS.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use switchboard_domain::campaign::{CallSettings, CampaignAction, RetrySettings, Schedule};
use switchboard_domain::template::{Step, StepType};
use switchboard_domain::{
    Campaign, CampaignId, CampaignStatus, Contact, ContactId, ContactList, ContactListId, Organisation, PhoneNumber, Template, TemplateId,
    TimeZone,
};
use switchboard_store::{DynStore, StagedContact};

use crate::workers::dialer::{Dialer, DialerOptions};
use switchboard_telephony::simulator::{SimSettings, Simulator};
use switchboard_telephony::{ManualClock, TimeSource};

#[derive(Debug, Args)]
pub struct DialerArgs {
    #[arg(long, default_value_t = 100_000)]
    pub contacts: u64,
    /// The campaign's maxConcurrentCalls.
    #[arg(long, default_value_t = 1_000)]
    pub lines: u32,
    /// Simulated milliseconds per dialer pass.
    #[arg(long, default_value_t = 1_000)]
    pub step_ms: i64,
    /// The organisation's calls-per-second cap.
    #[arg(long, default_value_t = 1_000)]
    pub cps: u32,
    /// Run against PostgreSQL (a fresh schema `bench_dialer`) instead of SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn open(args: &DialerArgs, dir: &std::path::Path) -> anyhow::Result<DynStore> {
    Ok(match &args.database_url {
        Some(url) => Arc::new(switchboard_store::postgres::PgStore::connect_fresh_schema(url, "bench_dialer").await?),
        None => Arc::new(switchboard_store::sqlite::SqliteStore::open(
            &dir.join("switchboard.db"),
            switchboard_store::sqlite::SqliteOptions {
                durability: switchboard_store::sqlite::Durability::Normal,
                readers: 4,
            },
        )?),
    })
}

pub async fn run(args: DialerArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = open(&args, dir.path()).await.context("cannot open the store")?;
    let start: chrono::DateTime<chrono::Utc> = "2025-05-21T00:00:00Z".parse()?;
    let org = store.create_org(Organisation::new("bench", "Bench", start)).await?;
    let zones = [
        "America/New_York",
        "America/Los_Angeles",
        "Europe/London",
        "Asia/Kolkata",
        "Australia/Sydney",
    ];
    let list = ContactList {
        id: ContactListId::new(),
        org_id: org.id.clone(),
        name: "bench".into(),
        description: None,
        created_at: start,
        updated_at: start,
        member_count: 0,
    };
    let list = store.create_contact_list(list, None).await?;
    let t0 = Instant::now();
    let mut staged = Vec::new();
    let campaign_id = CampaignId::new();
    for chunk in (0..args.contacts).collect::<Vec<_>>().chunks(5_000) {
        let contacts: Vec<Contact> = chunk
            .iter()
            .map(|i| Contact {
                id: ContactId::new(),
                org_id: org.id.clone(),
                name: Some(format!("Contact {i}")),
                phone: PhoneNumber::from_trusted(format!("+1555{:07}", i)),
                email: None,
                company: None,
                tags: vec![],
                custom_fields: None,
                external_id: None,
                time_zone: TimeZone::parse("tz", zones[(*i % 5) as usize]).ok(),
                created_at: start,
                updated_at: start,
            })
            .collect();
        staged.extend(contacts.iter().map(|c| StagedContact {
            contact_id: c.id.clone(),
            phone: c.phone.to_string(),
            zone: c.time_zone.map_or("UTC", |z| z.name()).to_owned(),
        }));
        store.import_contacts(&org.id, Some(list.id.clone()), contacts).await?;
    }
    for chunk in staged.chunks(5_000) {
        store.stage_campaign_contacts(&org.id, &campaign_id, chunk.to_vec()).await?;
    }
    let loaded = t0.elapsed();
    let template = store
        .create_template(
            Template {
                id: TemplateId::new(),
                org_id: org.id.clone(),
                name: "bench".into(),
                description: None,
                industry: None,
                steps: vec![Step::new("1", StepType::Greeting, "Hello {contactName}")],
                variables: vec!["contactName".into()],
                usage_count: 0,
                created_at: start,
                updated_at: start,
            },
            None,
        )
        .await?;
    let campaign = Campaign {
        id: campaign_id.clone(),
        org_id: org.id.clone(),
        name: "bench".into(),
        description: None,
        status: CampaignStatus::Scheduled,
        template_id: template.id,
        schedule: Schedule {
            start_date: None,
            end_date: None,
            time_zone: TimeZone::UTC,
            call_start: 0,
            call_end: 24 * 60,
            days_of_week: vec![1, 2, 3, 4, 5, 6, 7],
            override_quiet_hours: true,
        },
        settings: CallSettings {
            max_concurrent_calls: args.lines,
            caller_id: None,
            retry: RetrySettings {
                max_attempts: 1,
                ..Default::default()
            },
            calls_per_second: None,
        },
        variables: None,
        contact_list_ids: vec![list.id.clone()],
        total_contacts: 0,
        created_at: start,
        updated_at: start,
        started_at: None,
        last_run_at: None,
        completed_at: None,
    };
    store.create_campaign(campaign, None).await?;
    store
        .set_campaign_status(&org.id, &campaign_id, CampaignAction::Start, start, None)
        .await?;
    let clock = ManualClock::new(start);
    let sim = Simulator::new(SimSettings::default(), store.clone(), clock.clone() as Arc<dyn TimeSource>);
    let dialer = Dialer::new(
        store.clone(),
        sim.clone(),
        clock.clone(),
        DialerOptions {
            calls_per_second: args.cps,
            batch: args.lines.max(1),
            stale_queued_secs: 120,
        },
    );
    println!(
        "bench dialer: {} contacts, {} lines, {} ms simulated per pass ({} backend); loaded in {:.1} s",
        args.contacts,
        args.lines,
        args.step_ms,
        store.backend(),
        loaded.as_secs_f64()
    );
    let (mut decisions, mut reports, mut passes) = (0usize, 0usize, 0usize);
    let mut latencies: Vec<f64> = Vec::new();
    let (mut dial_secs, mut pump_secs) = (0.0f64, 0.0f64);
    let wall = Instant::now();
    loop {
        let p0 = Instant::now();
        reports += sim.pump().await?;
        pump_secs += p0.elapsed().as_secs_f64();
        let d0 = Instant::now();
        let pass = dialer.run_once().await?;
        let took = d0.elapsed().as_secs_f64();
        dial_secs += took;
        latencies.push(took * 1000.0);
        decisions += pass.dialed + pass.settled + pass.blocked;
        passes += 1;
        if !pass.completed.is_empty() {
            break;
        }
        clock.advance(chrono::Duration::milliseconds(args.step_ms));
        if passes > 10_000_000 {
            anyhow::bail!("the campaign did not finish");
        }
    }
    let elapsed = wall.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let simulated = clock.now() - start;
    let stats = store.campaign_stats(&org.id, &campaign_id).await?;
    println!("  passes              {passes:>12}");
    println!("  calls placed        {:>12}", stats.completed_calls);
    println!("  simulated time      {:>12.1} h", simulated.num_seconds() as f64 / 3600.0);
    println!("  wall time           {elapsed:>12.1} s");
    println!(
        "  dial decisions/s    {:>12.0}   (calls started + calls settled, per second spent in dialer passes)",
        decisions as f64 / dial_secs
    );
    println!("  pass latency p50    {:>12.2} ms", percentile(&latencies, 0.5));
    println!("  pass latency p99    {:>12.2} ms", percentile(&latencies, 0.99));
    println!("  pass latency max    {:>12.2} ms", latencies.last().copied().unwrap_or(f64::NAN));
    println!("  simulator reports/s {:>12.0}", reports as f64 / pump_secs.max(1e-9));
    println!("  peak RSS            {:>12.1} MiB", crate::bench::own_peak_rss_mib());
    if let Some(url) = &args.database_url {
        switchboard_store::postgres::PgStore::drop_schema(url, "bench_dialer").await?;
    }
    Ok(())
}
