//! Shared state handed to every handler: one reference-counted block, so
//! the many clones a request makes (router, middleware, extractors) each
//! cost one atomic increment, not one per service.

use std::ops::Deref;
use std::sync::Arc;

use switchboard_analytics::Analytics;
use switchboard_store::DynStore;
use tokio::sync::OnceCell;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::identity::auth::KeyCache;
use crate::identity::login::LoginGuard;
use crate::identity::ratelimit::RateLimiter;
use crate::identity::tokens::JwtKeys;

#[derive(Clone)]
pub struct AppState(Arc<Services>);

/// Everything a handler may use.
pub struct Services {
    pub store: DynStore,
    pub cfg: Arc<Config>,
    pub keys: KeyCache,
    pub analytics: Arc<Analytics>,
    pub clock: Clock,
    pub limiter: RateLimiter,
    pub logins: LoginGuard,
    /// Idempotency keys under way on this node.
    pub in_flight: crate::in_flight::InFlight,
    /// The carrier and the clock the dialer runs on.
    pub telephony: Arc<switchboard_telephony::Runtime>,
    jwt: OnceCell<JwtKeys>,
    /// Poked after writes, so the webhook worker fans out without waiting to poll.
    pub webhook_wake: Arc<tokio::sync::Notify>,
    /// Live events, active calls and real-time metrics (see [`crate::live`]).
    pub streams: crate::live::Streams,
    /// Speech engines, the audio cache and the recordings folder.
    pub speech: Arc<crate::speech::SpeechService>,
    /// Claims and places calls (campaigns and single calls).
    pub dialer: Arc<crate::workers::dialer::Dialer>,
    /// Poked when a call to place now is stored, so the dialer need not wait a tick.
    pub dialer_wake: Arc<tokio::sync::Notify>,
    /// Runs scripts on answered calls.
    pub conversations: Arc<crate::workers::runtime::ConversationRuntime>,
    /// Organisations' intent models (built-in plus their own intents).
    pub intent_models: Arc<crate::workers::analysis::IntentModels>,
    /// Agents' figures for the real-time metrics (refreshed by the router).
    pub agents: Arc<crate::live::StoredAgents>,
}

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

impl AppState {
    /// State with an in-memory rate limiter.
    pub fn new(store: DynStore, cfg: Config) -> Self {
        Self::with_limiter(store, cfg, RateLimiter::memory())
    }

    pub fn with_limiter(store: DynStore, cfg: Config, limiter: RateLimiter) -> Self {
        let telephony = Arc::new(switchboard_telephony::Runtime::new(&cfg.carrier, &cfg.telephony, store.clone()));
        Self::assemble(store, cfg, limiter, telephony)
    }

    /// State around a carrier built by the caller (tests drive a simulator
    /// on a clock they move by hand).
    pub fn assemble(store: DynStore, cfg: Config, limiter: RateLimiter, telephony: Arc<switchboard_telephony::Runtime>) -> Self {
        let keys = KeyCache::new(std::time::Duration::from_millis(cfg.auth_cache_ttl_ms));
        let analytics = Analytics::new(store.clone());
        let logins = LoginGuard::new(&cfg).shared(limiter.redis_connection());
        let streams = crate::live::Streams::new(
            store.clone(),
            crate::live::Limits {
                buffer_events: cfg.stream_buffer_events.max(1),
                buffer_bytes: cfg.stream_buffer_bytes.max(1024),
                poll: std::time::Duration::from_millis(cfg.stream_poll_ms.max(10)),
            },
        );
        let t = &cfg.telephony;
        let dialer = Arc::new(crate::workers::dialer::Dialer::new(
            store.clone(),
            telephony.carrier.clone(),
            telephony.clock.clone(),
            crate::workers::dialer::DialerOptions {
                calls_per_second: t.dialer_cps,
                batch: t.dialer_batch,
                stale_queued_secs: t.dialer_stale_queued_secs,
            },
        ));
        let speech = crate::speech::SpeechService::start(&cfg);
        let conversations = Arc::new(crate::workers::runtime::ConversationRuntime::new(
            store.clone(),
            Arc::new(switchboard_domain::conversation::KeywordIntents::default()),
            cfg.llm.clone().map(crate::llm::Llm::new),
            Some(speech.clone()),
        ));
        let intent_models = Arc::new(crate::workers::analysis::IntentModels::default());
        conversations.use_org_intents(intent_models.clone());
        if let Some(sim) = &telephony.simulator {
            sim.set_conversations(conversations.clone());
        }
        let agents = Arc::new(crate::live::StoredAgents::default());
        streams.board().set_agent_source(agents.clone());
        AppState(Arc::new(Services {
            store,
            cfg: Arc::new(cfg),
            keys,
            analytics,
            clock: Clock::default(),
            limiter,
            logins,
            in_flight: Default::default(),
            telephony,
            jwt: OnceCell::new(),
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
            streams,
            speech,
            dialer,
            dialer_wake: Arc::new(tokio::sync::Notify::new()),
            conversations,
            intent_models,
            agents,
        }))
    }

    /// State for `serve`: the rate limiter in Redis when one is configured.
    pub async fn connect(store: DynStore, cfg: Config) -> anyhow::Result<Self> {
        let limiter = match &cfg.redis_url {
            Some(url) => RateLimiter::redis(url.expose()).await?,
            None => RateLimiter::memory(),
        };
        Ok(Self::with_limiter(store, cfg, limiter))
    }

    /// The token signing keys (loaded from the database on first use).
    pub async fn jwt(&self) -> Result<&JwtKeys, ApiError> {
        Ok(self.0.jwt.get_or_try_init(|| JwtKeys::load(&self.store)).await?)
    }
}
