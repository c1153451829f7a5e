//! Shared state handed to every handler.

use std::sync::Arc;

use switchboard_analytics::Analytics;
use switchboard_store::DynStore;

use crate::auth::KeyCache;
use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub store: DynStore,
    pub cfg: Arc<Config>,
    pub keys: Arc<KeyCache>,
    pub analytics: Arc<Analytics>,
    /// Poked after writes, so the webhook worker fans out without waiting to poll.
    pub webhook_wake: Arc<tokio::sync::Notify>,
}

impl AppState {
    pub fn new(store: DynStore, cfg: Config) -> Self {
        let keys = Arc::new(KeyCache::new(std::time::Duration::from_millis(cfg.auth_cache_ttl_ms)));
        let analytics = Analytics::new(store.clone());
        Self {
            store,
            cfg: Arc::new(cfg),
            keys,
            analytics,
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
        }
    }
}
