//! API keys: generation, hashing, and the request extractor that turns an
//! `Authorization: Bearer <key>` or `x-api-key: <key>` header into the
//! caller's organisation.
//!
//! Keys are 40 random base62 characters behind `sbk_`; only their SHA-256
//! is stored (they carry enough entropy that a slow hash adds nothing).
//! Lookups are cached for `auth_cache_ttl_ms`, so a key revoked from another
//! process stops working within that time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::Rng;
use sha2::{Digest, Sha256};
use switchboard_domain::{ApiKey, ApiKeyId, Organisation};

use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;

const KEY_PREFIX: &str = "sbk_";
const KEY_CHARS: usize = 40;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new secret key and the record to store for it (with its hash).
pub fn generate_key(org: &Organisation, name: &str) -> (String, ApiKey, String) {
    let mut rng = rand::rng();
    let body: String = (0..KEY_CHARS).map(|_| BASE62[rng.random_range(0..BASE62.len())] as char).collect();
    let secret = format!("{KEY_PREFIX}{body}");
    let record = ApiKey {
        id: ApiKeyId::new(),
        org_id: org.id.clone(),
        name: name.to_owned(),
        prefix: secret[..KEY_PREFIX.len() + 8].to_owned(),
        created_at: switchboard_domain::now(),
        revoked_at: None,
    };
    let hash = hash_key(&secret);
    (secret, record, hash)
}

pub fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Auth {
    pub org: Arc<Organisation>,
    pub key_id: ApiKeyId,
}

struct Cached {
    auth: Option<Auth>,
    at: Instant,
}

/// Recently checked keys, by hash.
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

    fn get(&self, hash: &str) -> Option<Option<Auth>> {
        let entries = self.entries.read().expect("key cache lock");
        entries.get(hash).filter(|c| c.at.elapsed() < self.ttl).map(|c| c.auth.clone())
    }

    fn put(&self, hash: String, auth: Option<Auth>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().expect("key cache lock");
        if entries.len() > 10_000 {
            entries.retain(|_, c| c.at.elapsed() < self.ttl);
        }
        entries.insert(hash, Cached { auth, at: Instant::now() });
    }

    /// Forgets every cached lookup (after a key is revoked here).
    pub fn clear(&self) {
        self.entries.write().expect("key cache lock").clear();
    }
}

/// Reads the presented key from the headers.
fn presented_key(parts: &Parts) -> Option<&str> {
    if let Some(v) = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if let Some(token) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) {
            return Some(token.trim());
        }
    }
    parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim)
}

pub async fn authenticate(state: &AppState, secret: &str) -> Result<Auth, ApiError> {
    let unauthorized = || ApiError::new(ErrorKind::Unauthorized, "Invalid or missing API key");
    let hash = hash_key(secret);
    if let Some(cached) = state.keys.get(&hash) {
        return cached.ok_or_else(unauthorized);
    }
    let auth = match state.store.key_by_hash(&hash).await? {
        Some(key) if key.revoked_at.is_none() => {
            let org = state.store.get_org(&key.org_id).await?;
            Some(Auth {
                org: Arc::new(org),
                key_id: key.id,
            })
        }
        _ => None,
    };
    state.keys.put(hash, auth.clone());
    auth.ok_or_else(unauthorized)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match presented_key(parts) {
            Some(secret) if !secret.is_empty() => authenticate(state, secret).await,
            _ => Err(ApiError::new(
                ErrorKind::Unauthorized,
                "Invalid or missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
            )),
        }
    }
}
