//! Server settings, layered: built-in defaults, then `switchboard.toml`,
//! then `SWITCHBOARD_*` environment variables, then command-line flags
//! (clap reads the environment and the flags; the file fills what they
//! leave unset).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;

pub use switchboard_telephony::Secret;

/// Where the data lives: flags shared by `serve` and the admin commands.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// Folder for the SQLite file and other state [default: ./data].
    #[arg(long, env = "SWITCHBOARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://...); when set, PostgreSQL is used instead of SQLite.
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// Settings file [default: ./switchboard.toml when it exists].
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Flags of `switchboard serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SWITCHBOARD_LISTEN")]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Largest request body in bytes [default: 1048576].
    #[arg(long, env = "SWITCHBOARD_BODY_LIMIT")]
    pub body_limit: Option<usize>,
    /// SQLite commit durability: `full` (fsync each group commit) or `normal` [default: full].
    #[arg(long, env = "SWITCHBOARD_DURABILITY")]
    pub durability: Option<String>,
    /// Carrier that places calls: `simulator` or `twilio` [default: simulator].
    #[arg(long, env = "SWITCHBOARD_CARRIER")]
    pub carrier: Option<String>,
    #[command(flatten)]
    pub telephony: switchboard_telephony::settings::TelephonyArgs,
    /// How long a looked-up API key is trusted before it is checked again, in ms [default: 5000].
    #[arg(long, env = "SWITCHBOARD_AUTH_CACHE_TTL_MS")]
    pub auth_cache_ttl_ms: Option<u64>,
    /// Log format: `text`, `json` or `auto` (JSON unless the log stream, stderr, is a terminal) [default: auto].
    #[arg(long, env = "SWITCHBOARD_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Region (ISO 3166 code) for reading national phone numbers in the bootstrap organisation.
    #[arg(long, env = "SWITCHBOARD_DEFAULT_REGION")]
    pub default_region: Option<String>,
    /// Redis URL (redis://...); when set, rate limits hold across every node sharing it.
    #[arg(long, env = "SWITCHBOARD_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,
    /// Plan of the organisation created on first start [default: unlimited].
    #[arg(long, env = "SWITCHBOARD_BOOTSTRAP_PLAN")]
    pub bootstrap_plan: Option<String>,
    /// Let webhooks target loopback, private and link-local addresses [default: false].
    #[arg(long, env = "SWITCHBOARD_ALLOW_PRIVATE_WEBHOOK_TARGETS", num_args = 0..=1, default_missing_value = "true")]
    pub allow_private_webhook_targets: Option<bool>,
    /// Run the webhook delivery worker in this process [default: true].
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_WORKER")]
    pub webhook_worker: Option<bool>,
    /// How long a node may hold a webhook subscription before another takes it over, in ms [default: 60000].
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_LEASE_MS")]
    pub webhook_lease_ms: Option<u64>,
}

/// Settings from `switchboard.toml`; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<Secret>,
    body_limit: Option<usize>,
    durability: Option<String>,
    carrier: Option<String>,
    auth_cache_ttl_ms: Option<u64>,
    log_format: Option<String>,
    default_region: Option<String>,
    sqlite_readers: Option<usize>,
    pg_max_connections: Option<u32>,
    telephony: Option<switchboard_telephony::settings::TelephonyFile>,
    redis_url: Option<Secret>,
    bootstrap_plan: Option<String>,
    login_free_attempts: Option<u32>,
    login_delay_ms: Option<u64>,
    speech_price_per_character: Option<f64>,
    conversion_value: Option<f64>,
    login_account_max_delay_secs: Option<u64>,
    login_address_max_delay_secs: Option<u64>,
    allow_private_webhook_targets: Option<bool>,
    webhook_worker: Option<bool>,
    webhook_lease_ms: Option<u64>,
    webhook_concurrency: Option<u32>,
    webhook_log_retention_days: Option<u32>,
    outbox_retention_days: Option<u32>,
    stream_buffer_events: Option<usize>,
    stream_buffer_bytes: Option<usize>,
    stream_poll_ms: Option<u64>,
    stream_heartbeat_secs: Option<u64>,
    speech: Option<switchboard_speech::SpeechSettings>,
    recording_retention_days: Option<u32>,
    recording_max_bytes: Option<u64>,
    public_url: Option<String>,
    intelligence: Option<crate::llm::IntelligenceFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Normal,
}

/// The resolved settings the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<Secret>,
    pub body_limit: usize,
    pub durability: Durability,
    pub carrier: String,
    pub auth_cache_ttl_ms: u64,
    pub log_format: String,
    pub default_region: Option<String>,
    pub sqlite_readers: usize,
    pub pg_max_connections: u32,
    /// Carrier, simulator, dialer and import settings.
    pub telephony: switchboard_telephony::settings::Telephony,
    pub redis_url: Option<Secret>,
    pub bootstrap_plan: String,
    /// Failed logins on an account before further attempts must wait (an
    /// address gets four times as many, an address on one account at most 3).
    pub login_free_attempts: u32,
    /// The first wait, in ms, doubling with each further failure (0: no throttling).
    pub login_delay_ms: u64,
    /// The price of one synthesised character, reported as `cost` by the
    /// Vocelio voice routes (config file `speech_price_per_character`).
    pub speech_price_per_character: f64,
    /// What one successful call (a success outcome) is worth, for the
    /// Vocelio dashboard's revenue (config file `conversion_value`).
    pub conversion_value: f64,
    /// The longest wait an account's failures impose on every attempt at it.
    pub login_account_max_delay_secs: u64,
    /// The longest wait a client address's failures impose on it.
    pub login_address_max_delay_secs: u64,
    /// Webhooks may target loopback, private and link-local addresses.
    pub allow_private_webhook_targets: bool,
    /// Whether `serve` runs the webhook worker.
    pub webhook_worker: bool,
    pub webhook_lease_ms: u64,
    /// Webhook subscriptions served at once by this node.
    pub webhook_concurrency: u32,
    /// Days the webhook attempt log and finished deliveries are kept (0: forever).
    pub webhook_log_retention_days: u32,
    /// Days delivered events are kept in the outbox (0: forever).
    pub outbox_retention_days: u32,
    /// Most events an organisation's live buffer holds; a subscriber
    /// further behind is cut off.
    pub stream_buffer_events: usize,
    /// Most bytes an organisation's live buffer holds.
    pub stream_buffer_bytes: usize,
    /// The safety-net poll of the outbox when no notification comes, in ms.
    pub stream_poll_ms: u64,
    /// Seconds between heartbeats on an idle stream.
    pub stream_heartbeat_secs: u64,
    /// Speech engines (`[speech]`; see docs/speech.md). When the settings
    /// file has no `[speech]` table, `DATA_DIR/speech/speech.toml` (written
    /// by scripts/install-speech) is read if it exists.
    pub speech: switchboard_speech::SpeechSettings,
    /// Days call recordings are kept (0: forever).
    pub recording_retention_days: u32,
    /// Largest recording upload or fetch, in bytes.
    pub recording_max_bytes: u64,
    /// This server's base URL as clients reach it, for links it hands out
    /// (transcripts, audio); links are relative without it.
    pub public_url: Option<String>,
    /// The optional language model (`[intelligence]`).
    pub llm: Option<crate::llm::LlmSettings>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            body_limit: 1_048_576,
            durability: Durability::Full,
            carrier: "simulator".into(),
            auth_cache_ttl_ms: 5000,
            log_format: "auto".into(),
            default_region: None,
            sqlite_readers: 4,
            pg_max_connections: 16,
            telephony: Default::default(),
            redis_url: None,
            bootstrap_plan: "unlimited".into(),
            login_free_attempts: 5,
            login_delay_ms: 1000,
            speech_price_per_character: 0.00004,
            conversion_value: 0.0,
            login_account_max_delay_secs: 60,
            login_address_max_delay_secs: 900,
            allow_private_webhook_targets: false,
            webhook_worker: true,
            webhook_lease_ms: 60_000,
            webhook_concurrency: 128,
            webhook_log_retention_days: 30,
            outbox_retention_days: 30,
            stream_buffer_events: 10_000,
            stream_buffer_bytes: 8 << 20,
            stream_poll_ms: 2000,
            stream_heartbeat_secs: 15,
            speech: Default::default(),
            recording_retention_days: 90,
            recording_max_bytes: 50 * 1024 * 1024,
            public_url: None,
            llm: None,
        }
    }
}

fn read_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let (path, required) = match path {
        Some(p) => (p.to_owned(), true),
        None => (PathBuf::from("switchboard.toml"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("invalid settings file {}", path.display())),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read settings file {}", path.display())),
    }
}

/// The `[speech]` settings scripts/install-speech wrote under the data
/// folder, or none (no engines) when it has not run.
fn installed_speech(data_dir: &Path) -> anyhow::Result<switchboard_speech::SpeechSettings> {
    let path = data_dir.join("speech").join("speech.toml");
    if !path.is_file() {
        return Ok(Default::default());
    }
    switchboard_speech::SpeechSettings::from_toml_file(&path).map_err(|e| anyhow::anyhow!("invalid speech settings: {e}"))
}

/// The lease must outlast at least one request (15 s timeout) and a write.
fn webhook_lease_ms(ms: u64) -> anyhow::Result<u64> {
    if !(1_000..=3_600_000).contains(&ms) {
        bail!("webhook_lease_ms must be from 1000 to 3600000");
    }
    Ok(ms)
}

fn public_url(v: Option<String>) -> anyhow::Result<Option<String>> {
    let Some(v) = v else { return Ok(None) };
    let u = url::Url::parse(&v).map_err(|e| anyhow::anyhow!("public_url is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        bail!("public_url must be an http or https URL");
    }
    Ok(Some(v.trim_end_matches('/').to_owned()))
}

impl Config {
    /// A link to `path` on this server: absolute when `public_url` is set.
    pub fn link(&self, path: &str) -> String {
        match &self.public_url {
            Some(base) => format!("{base}{path}"),
            None => path.to_owned(),
        }
    }

    /// Resolves settings for `serve`.
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<Config> {
        let file = read_file(args.store.config.as_deref())?;
        let d = Config::default();
        let durability = match args.durability.clone().or(file.durability).as_deref() {
            None | Some("full") => Durability::Full,
            Some("normal") => Durability::Normal,
            Some(other) => bail!("durability must be 'full' or 'normal', not '{other}'"),
        };
        let carrier = args.carrier.clone().or(file.carrier).unwrap_or(d.carrier);
        if carrier != "simulator" && carrier != "twilio" {
            bail!("carrier must be 'simulator' or 'twilio', not '{carrier}'");
        }
        let telephony = switchboard_telephony::settings::Telephony::resolve(&args.telephony, file.telephony, &carrier)?;
        let log_format = args.log_format.clone().or(file.log_format).unwrap_or(d.log_format);
        if !["text", "json", "auto"].contains(&log_format.as_str()) {
            bail!("log_format must be 'text', 'json' or 'auto', not '{log_format}'");
        }
        let default_region = args.default_region.clone().or(file.default_region);
        if let Some(r) = &default_region {
            switchboard_domain::phone::Region::parse(r).map_err(anyhow::Error::msg)?;
        }
        let body_limit = args.body_limit.or(file.body_limit).unwrap_or(d.body_limit);
        if body_limit < 1024 {
            bail!("body_limit must be at least 1024 bytes");
        }
        let bootstrap_plan = args.bootstrap_plan.clone().or(file.bootstrap_plan).unwrap_or(d.bootstrap_plan);
        if switchboard_domain::org::plan(&bootstrap_plan).is_none() {
            bail!("bootstrap_plan must be one of standard, professional, enterprise, unlimited, not '{bootstrap_plan}'");
        }
        let data_dir = args.store.data_dir.clone().or(file.data_dir).unwrap_or(d.data_dir);
        let speech = match file.speech {
            Some(s) => s,
            None => installed_speech(&data_dir)?,
        };
        let recording_max_bytes = file.recording_max_bytes.unwrap_or(d.recording_max_bytes);
        if recording_max_bytes < 1024 {
            bail!("recording_max_bytes must be at least 1024");
        }
        Ok(Config {
            listen: args.listen.or(file.listen).unwrap_or(d.listen),
            data_dir,
            database_url: args.store.database_url.clone().or(file.database_url),
            body_limit,
            durability,
            carrier,
            auth_cache_ttl_ms: args.auth_cache_ttl_ms.or(file.auth_cache_ttl_ms).unwrap_or(d.auth_cache_ttl_ms),
            log_format,
            default_region,
            sqlite_readers: file.sqlite_readers.unwrap_or(d.sqlite_readers).max(1),
            pg_max_connections: file.pg_max_connections.unwrap_or(d.pg_max_connections).max(1),
            telephony,
            redis_url: args.redis_url.clone().or(file.redis_url),
            bootstrap_plan,
            login_free_attempts: file.login_free_attempts.unwrap_or(d.login_free_attempts).max(1),
            login_delay_ms: file.login_delay_ms.unwrap_or(d.login_delay_ms),
            speech_price_per_character: file
                .speech_price_per_character
                .filter(|p| p.is_finite() && *p >= 0.0)
                .unwrap_or(d.speech_price_per_character),
            conversion_value: file
                .conversion_value
                .filter(|p| p.is_finite() && *p >= 0.0)
                .unwrap_or(d.conversion_value),
            login_account_max_delay_secs: file.login_account_max_delay_secs.unwrap_or(d.login_account_max_delay_secs),
            login_address_max_delay_secs: file.login_address_max_delay_secs.unwrap_or(d.login_address_max_delay_secs),
            allow_private_webhook_targets: args
                .allow_private_webhook_targets
                .or(file.allow_private_webhook_targets)
                .unwrap_or(d.allow_private_webhook_targets),
            webhook_worker: args.webhook_worker.or(file.webhook_worker).unwrap_or(d.webhook_worker),
            webhook_lease_ms: webhook_lease_ms(args.webhook_lease_ms.or(file.webhook_lease_ms).unwrap_or(d.webhook_lease_ms))?,
            webhook_concurrency: file.webhook_concurrency.unwrap_or(d.webhook_concurrency).clamp(1, 4096),
            webhook_log_retention_days: file.webhook_log_retention_days.unwrap_or(d.webhook_log_retention_days),
            outbox_retention_days: file.outbox_retention_days.unwrap_or(d.outbox_retention_days),
            stream_buffer_events: file.stream_buffer_events.unwrap_or(d.stream_buffer_events).clamp(1, 1_000_000),
            stream_buffer_bytes: file.stream_buffer_bytes.unwrap_or(d.stream_buffer_bytes).clamp(1024, 1 << 30),
            stream_poll_ms: file.stream_poll_ms.unwrap_or(d.stream_poll_ms).clamp(10, 60_000),
            stream_heartbeat_secs: file.stream_heartbeat_secs.unwrap_or(d.stream_heartbeat_secs).clamp(1, 300),
            speech,
            recording_retention_days: file.recording_retention_days.unwrap_or(d.recording_retention_days),
            recording_max_bytes,
            public_url: public_url(file.public_url)?,
            llm: file.intelligence.unwrap_or_default().llm()?,
        })
    }

    /// Resolves only the storage settings, for admin commands.
    pub fn resolve_store(args: &StoreArgs) -> anyhow::Result<Config> {
        Config::resolve(&ServeArgs {
            store: args.clone(),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("postgres://u:hunter2@h/db");
        assert_eq!(format!("{s:?}"), "***");
        let cfg = Config {
            database_url: Some(s),
            ..Config::default()
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("switchboard.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nbody_limit = 4096\ndata_dir = \"/srv/sb\"\n").unwrap();
        let args = ServeArgs {
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            store: StoreArgs {
                config: Some(file),
                ..Default::default()
            },
            ..Default::default()
        };
        let cfg = Config::resolve(&args).unwrap();
        assert_eq!(cfg.listen.port(), 9100);
        assert_eq!(cfg.body_limit, 4096);
        assert_eq!(cfg.data_dir, PathBuf::from("/srv/sb"));
        assert_eq!(cfg.durability, Durability::Full);
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let args = ServeArgs {
            store: StoreArgs {
                config: Some(file),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(format!("{:#}", Config::resolve(&args).unwrap_err()).contains("lisen"));
        let args = ServeArgs {
            durability: Some("sometimes".into()),
            ..Default::default()
        };
        assert!(Config::resolve(&args).unwrap_err().to_string().contains("durability"));
    }

    #[test]
    fn speech_settings_come_from_the_file_or_the_installed_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let args = |config: Option<PathBuf>| ServeArgs {
            store: StoreArgs {
                data_dir: Some(data.clone()),
                config,
                ..Default::default()
            },
            ..Default::default()
        };
        // Nothing installed: no engines.
        assert_eq!(Config::resolve(&args(None)).unwrap().speech, Default::default());
        // What install-speech writes under the data dir is read...
        std::fs::create_dir_all(data.join("speech")).unwrap();
        std::fs::write(data.join("speech/speech.toml"), "[speech]\ntts = [\"espeak\"]\nstt = \"none\"\n").unwrap();
        let cfg = Config::resolve(&args(None)).unwrap();
        assert_eq!(cfg.speech.tts, vec![switchboard_speech::TtsEngine::Espeak]);
        // ...unless switchboard.toml has its own [speech].
        let file = dir.path().join("switchboard.toml");
        std::fs::write(&file, "recording_retention_days = 7\n[speech]\nstt = \"whisper\"\n").unwrap();
        let cfg = Config::resolve(&args(Some(file.clone()))).unwrap();
        assert!(cfg.speech.tts.is_empty());
        assert_eq!(cfg.speech.stt, switchboard_speech::SttEngine::Whisper);
        assert_eq!(cfg.recording_retention_days, 7);
        // A misspelt key is refused by name.
        std::fs::write(&file, "[speech]\nttss = []\n").unwrap();
        assert!(format!("{:#}", Config::resolve(&args(Some(file))).unwrap_err()).contains("ttss"));
    }
}
