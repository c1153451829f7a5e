//! The command line: `serve`, `keys`, `orgs`, `migrate`, `openapi`, `bench`, `eval`, `completions`.

use std::io::Write;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use switchboard_domain::Organisation;
use switchboard_store::StoreError;

use crate::bench::BenchCommand;
use crate::config::{Config, ServeArgs, StoreArgs};
use crate::state::AppState;

#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about = "Self-hosted AI call-center platform")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start; the size of the serve flags does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server.
    Serve(ServeArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage organisations.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Apply database migrations and exit.
    Migrate(StoreArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Run a benchmark.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Measure accuracy on labelled data none of us wrote.
    #[command(subcommand)]
    Eval(crate::eval::EvalCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

/// Writes the completion script of every command and flag for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    use clap::CommandFactory as _;
    clap_complete::generate(shell, &mut Cli::command(), "switchboard", out);
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key (and the organisation, if new); prints only the key.
    Create {
        /// The organisation's slug (lower-case letters, digits, - and _).
        #[arg(long)]
        org: String,
        /// A name for the key (who uses it).
        #[arg(long)]
        name: String,
        /// Plan of the organisation when this creates it [default: unlimited].
        #[arg(long)]
        plan: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List an organisation's keys (never their secrets).
    List {
        #[arg(long)]
        org: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by id.
    Revoke {
        #[arg(long)]
        org: String,
        /// The key's id (key_...).
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// List organisations.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Change an organisation's plan (standard, professional, enterprise, unlimited).
    SetPlan {
        #[arg(long)]
        org: String,
        #[arg(long)]
        plan: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Change an organisation's settings.
    Update {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: Option<String>,
        /// ISO region for national phone numbers (US, IN, ...).
        #[arg(long)]
        default_region: Option<String>,
        /// IANA zone for analytics (Asia/Kolkata, ...).
        #[arg(long)]
        time_zone: Option<String>,
        /// `possible` or `strict`.
        #[arg(long)]
        phone_check: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn orgs(cmd: OrgsCommand) -> anyhow::Result<()> {
    crate::logs::init("text");
    match cmd {
        OrgsCommand::List { store } => {
            let store = crate::open_store(&Config::resolve_store(&store)?).await?;
            println!(
                "{:<32} {:<20} {:<8} {:<20} {:<9} plan",
                "id", "slug", "region", "time zone", "phones"
            );
            for o in store.list_orgs().await? {
                let out = crate::api::v1::org::OrgOut::from_org(&o);
                println!(
                    "{:<32} {:<20} {:<8} {:<20} {:<9} {}",
                    out.id,
                    out.slug,
                    out.default_region.unwrap_or_else(|| "-".into()),
                    out.time_zone,
                    out.phone_check,
                    out.plan
                );
            }
        }
        OrgsCommand::SetPlan { org, plan, store } => {
            let store = crate::open_store(&Config::resolve_store(&store)?).await?;
            let mut o = org_for(&store, &org, false).await?;
            o.plan = crate::api::v1::usage::plan_name(Some(&plan)).map_err(|e| anyhow::anyhow!("--plan: {}", e.message))?;
            let o = store.update_org(o).await?;
            println!("{} is on the {} plan", o.slug, o.plan);
        }
        OrgsCommand::Update {
            org,
            name,
            default_region,
            time_zone,
            phone_check,
            store,
        } => {
            let store = crate::open_store(&Config::resolve_store(&store)?).await?;
            let mut o = org_for(&store, &org, false).await?;
            crate::api::v1::org::apply_settings(
                &mut o,
                name.as_deref(),
                default_region.as_deref().map(Some),
                time_zone.as_deref(),
                phone_check.as_deref(),
            )
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let o = store.update_org(o).await?;
            println!("updated {} ({})", o.slug, o.id);
        }
    }
    Ok(())
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = Config::resolve(&args)?;
    crate::logs::init(&cfg.log_format);
    let store = crate::open_store(&cfg).await?;
    if let Some(key) = crate::bootstrap(&store, &cfg).await? {
        // Shown once: only its hash is stored.
        println!("Created organisation 'default'. Bootstrap API key (shown once, store it now): {key}");
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = store.backend(), "switchboard listening");
    println!("switchboard listening on http://{addr}");
    std::io::stdout().flush()?;
    let state = AppState::connect(store, cfg).await?;
    // Build the analytics index in the background; the first analytics
    // request waits for it.
    let analytics = state.analytics.clone();
    tokio::spawn(async move {
        if let Err(e) = analytics.ensure_loaded().await {
            tracing::error!(error = %e, "cannot build the analytics index");
        }
    });
    // Live streams tail the outbox from now on (and, on PostgreSQL, listen
    // for other nodes' commits).
    let streams = state.streams.clone();
    tokio::spawn(async move {
        if let Err(e) = streams.ensure_started().await {
            tracing::error!(error = %e, "cannot start the live stream tailer; it starts with the first subscriber");
        }
    });
    // Background work stops once the server has: the carrier's reports and
    // the dialer, and the webhook worker (in-flight requests finish and are
    // recorded).
    let (stop_telephony, telephony_stop) = tokio::sync::watch::channel(false);
    let telephony = tokio::spawn(crate::workers::dialer::run(state.clone(), telephony_stop));
    let (stop_webhooks, webhooks_stop) = tokio::sync::watch::channel(false);
    let webhooks = if state.cfg.webhook_worker {
        let worker = crate::workers::webhooks::WebhookWorker::new(
            state.store.clone(),
            crate::workers::webhooks::WorkerConfig::from_config(&state.cfg),
        )?;
        Some(tokio::spawn(worker.run(state.webhook_wake.clone(), webhooks_stop)))
    } else {
        None
    };
    let (stop_recordings, recordings_stop) = tokio::sync::watch::channel(false);
    let recordings = tokio::spawn(crate::workers::recordings::RecordingsWorker::run(state.clone(), recordings_stop));
    let (stop_analysis, analysis_stop) = tokio::sync::watch::channel(false);
    let analysis =
        crate::workers::analysis::AnalysisWorker::with_llm(state.store.clone(), state.intent_models.clone(), state.cfg.llm.clone());
    let analysis = tokio::spawn(analysis.run(analysis_stop));
    let (stop_router, router_stop) = tokio::sync::watch::channel(false);
    let router = tokio::spawn(crate::workers::router::run(state.clone(), router_stop));
    let served = crate::run(state, listener, crate::shutdown_signal()).await;
    let _ = stop_analysis.send(true);
    let _ = stop_router.send(true);
    let _ = analysis.await;
    let _ = router.await;
    let _ = stop_recordings.send(true);
    let _ = recordings.await;
    let _ = stop_telephony.send(true);
    let _ = stop_webhooks.send(true);
    let _ = telephony.await;
    if let Some(w) = webhooks {
        let _ = w.await;
    }
    served
}

async fn org_for(store: &switchboard_store::DynStore, slug: &str, create: bool) -> anyhow::Result<Organisation> {
    if let Some(org) = store.org_by_slug(slug).await? {
        return Ok(org);
    }
    if !create {
        bail!("no organisation with slug '{slug}'");
    }
    if !Organisation::valid_slug(slug) {
        bail!("--org must be 1 to 64 lower-case letters, digits, '-' or '_'");
    }
    let org = Organisation::new(slug, slug, switchboard_domain::now());
    match store.create_org(org).await {
        Ok(org) => Ok(org),
        // Created concurrently by someone else: use theirs.
        Err(StoreError::Conflict(_)) => store.org_by_slug(slug).await?.context("organisation vanished"),
        Err(e) => Err(e.into()),
    }
}

pub async fn keys(cmd: KeysCommand) -> anyhow::Result<()> {
    crate::logs::init("text");
    match cmd {
        KeysCommand::Create { org, name, plan, store } => {
            let store = crate::open_store(&Config::resolve_store(&store)?).await?;
            let plan = plan
                .as_deref()
                .map(|p| crate::api::v1::usage::plan_name(Some(p)).map_err(|e| anyhow::anyhow!("--plan: {}", e.message)))
                .transpose()?;
            let mut org = org_for(&store, &org, true).await?;
            if let Some(p) = plan
                && org.plan != p
            {
                org.plan = p;
                org = store.update_org(org).await?;
            }
            let name = switchboard_domain::validate::text("--name", &name, 256).map_err(|e| anyhow::anyhow!("{e}"))?;
            let (secret, key, hash) = crate::identity::auth::generate_key(&org, &name);
            store.create_key(key, hash).await?;
            println!("{secret}");
        }
        KeysCommand::List { org, store } => {
            let store = crate::open_store(&Config::resolve_store(&store)?).await?;
            let org = org_for(&store, &org, false).await?;
            println!("{:<32} {:<24} {:<14} {:<25} revoked", "id", "name", "prefix", "created");
            for k in store.list_keys(&org.id).await? {
                let revoked = k.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
                println!(
                    "{:<32} {:<24} {:<14} {:<25} {}",
                    k.id,
                    k.name,
                    k.prefix,
                    k.created_at.to_rfc3339(),
                    revoked
                );
            }
        }
        KeysCommand::Revoke { org, id, store } => {
            let store = crate::open_store(&Config::resolve_store(&store)?).await?;
            let org = org_for(&store, &org, false).await?;
            let id = id.parse().map_err(|_| anyhow::anyhow!("'{id}' is not a key id (key_...)"))?;
            let key = store
                .revoke_key(&org.id, &id, switchboard_domain::now())
                .await
                .map_err(|e| match e {
                    StoreError::NotFound(_) => anyhow::anyhow!("organisation '{}' has no key {id}", org.slug),
                    other => other.into(),
                })?;
            println!("revoked {} ({})", key.id, key.name);
        }
    }
    Ok(())
}

pub async fn migrate(args: StoreArgs) -> anyhow::Result<()> {
    crate::logs::init("text");
    let store = crate::open_store(&Config::resolve_store(&args)?).await?;
    println!("database is up to date ({})", store.backend());
    Ok(())
}

pub fn print_openapi() -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(&crate::openapi_document())?);
    Ok(())
}
