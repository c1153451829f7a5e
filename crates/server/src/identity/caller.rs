//! The caller behind a request ([`Auth`]: organisation and actor) and the
//! cache of recently checked credentials ([`KeyCache`]). Kept apart from
//! the authentication in [`auth`](super::auth), which reads the shared
//! state, so that the state can hold the cache without an import circle.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use switchboard_domain::id::SessionId;
use switchboard_domain::user::grants;
use switchboard_domain::{ApiKey, ApiKeyId, Organisation, Role, UserId};

/// The caller behind a request.
#[derive(Debug, Clone)]
pub enum Actor {
    Key {
        id: ApiKeyId,
        scopes: Vec<String>,
        key: Box<ApiKey>,
    },
    User {
        id: UserId,
        role: Role,
        session: SessionId,
    },
}

/// Who is calling, for which organisation. Cheap to clone: a request
/// clones it several times (cache, middleware, extractor).
#[derive(Debug, Clone)]
pub struct Auth {
    pub org: Arc<Organisation>,
    pub actor: Arc<Actor>,
}

impl Auth {
    /// May this caller do `permission`?
    pub fn allows(&self, permission: &str) -> bool {
        match &*self.actor {
            Actor::Key { scopes, .. } => grants(scopes, permission),
            Actor::User { role, .. } => role.allows(permission),
        }
    }

    /// `key_…` or `usr_…`: the subject of rate limits and audit entries.
    pub fn actor_id(&self) -> String {
        match &*self.actor {
            Actor::Key { id, .. } => id.to_string(),
            Actor::User { id, .. } => id.to_string(),
        }
    }

    /// The permissions this caller holds.
    pub fn permissions(&self) -> Vec<String> {
        switchboard_domain::user::PERMISSIONS
            .iter()
            .filter(|p| self.allows(p))
            .map(|p| (*p).to_owned())
            .collect()
    }
}

struct Cached {
    auth: Option<Auth>,
    at: Instant,
}

/// Recently checked credentials, by key hash or user id.
pub struct KeyCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, Cached>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub(super) fn get(&self, k: &str) -> Option<Option<Auth>> {
        let entries = self.entries.read().expect("key cache lock");
        entries.get(k).filter(|c| c.at.elapsed() < self.ttl).map(|c| c.auth.clone())
    }

    pub(super) fn put(&self, k: String, auth: Option<Auth>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().expect("key cache lock");
        if entries.len() > 10_000 {
            entries.retain(|_, c| c.at.elapsed() < self.ttl);
        }
        entries.insert(k, Cached { auth, at: Instant::now() });
    }

    /// Forgets every cached lookup (after a key, user or organisation changes here).
    pub fn clear(&self) {
        self.entries.write().expect("key cache lock").clear();
    }
}
