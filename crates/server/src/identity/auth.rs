//! Who is calling: API keys (`Authorization: Bearer sbk_…` or
//! `x-api-key`) and user access tokens (`Authorization: Bearer <JWT>`).
//!
//! Keys are 40 random base62 characters behind `sbk_`; only their SHA-256
//! is stored (they carry enough entropy that a slow hash adds nothing).
//! Lookups are cached for `auth_cache_ttl_ms`, so a key revoked from another
//! process stops working within that time (changes made through this
//! server clear the cache at once). The [`guard`](crate::identity::guard) middleware
//! authenticates each request once and hands the [`Auth`] to handlers.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use rand::Rng;
use sha2::{Digest, Sha256};
use switchboard_domain::id::SessionId;
use switchboard_domain::{ApiKey, ApiKeyId, Organisation, UserId, UserStatus};

use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;

pub use super::caller::{Actor, Auth, KeyCache};

const KEY_PREFIX: &str = "sbk_";
const KEY_CHARS: usize = 40;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new secret key with every permission, and the record to store for it
/// (with its hash).
pub fn generate_key(org: &Organisation, name: &str) -> (String, ApiKey, String) {
    generate_scoped_key(org, name, vec![switchboard_domain::user::ALL.to_owned()], None)
}

/// A new secret key limited to `scopes`, optionally expiring.
pub fn generate_scoped_key(
    org: &Organisation,
    name: &str,
    scopes: Vec<String>,
    expires_at: Option<switchboard_domain::Timestamp>,
) -> (String, ApiKey, String) {
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
        scopes,
        expires_at,
    };
    let hash = hash_key(&secret);
    (secret, record, hash)
}

pub fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn unauthorized() -> ApiError {
    ApiError::new(
        ErrorKind::Unauthorized,
        "Invalid or missing credentials: send 'Authorization: Bearer <API key or access token>' or 'x-api-key: <key>'",
    )
}

/// The presented credential: a bearer token or an `x-api-key`.
pub fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if let Some(token) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) {
            return Some(token.trim()).filter(|t| !t.is_empty());
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

async fn by_key(state: &AppState, secret: &str) -> Result<Option<Auth>, ApiError> {
    let hash = hash_key(secret);
    let auth = match state.keys.get(&hash) {
        Some(cached) => cached,
        None => {
            let auth = match state.store.key_by_hash(&hash).await? {
                Some(key) => {
                    let org = state.store.get_org(&key.org_id).await?;
                    Some(Auth {
                        org: Arc::new(org),
                        actor: Arc::new(Actor::Key {
                            id: key.id.clone(),
                            scopes: key.scopes.clone(),
                            key: Box::new(key),
                        }),
                    })
                }
                None => None,
            };
            state.keys.put(hash, auth.clone());
            auth
        }
    };
    // Revocation and expiry are checked on every request: a rotated key's
    // overlap ends on time even while cached.
    let now = state.clock.now();
    Ok(auth.filter(|a| matches!(&*a.actor, Actor::Key { key, .. } if key.usable(now))))
}

async fn by_token(state: &AppState, token: &str) -> Result<Option<Auth>, ApiError> {
    let keys = state.jwt().await?;
    let Some(claims) = keys.verify(token, state.clock.now()) else {
        return Ok(None);
    };
    let (Ok(user_id), Ok(org_id)) = (claims.sub.parse::<UserId>(), claims.org.parse()) else {
        return Ok(None);
    };
    let session: SessionId = claims.sid.parse().unwrap_or_default();
    // Per user and session: a logged-out session's tokens stop working.
    let cache_key = format!("user:{user_id}:{session}");
    let cached = match state.keys.get(&cache_key) {
        Some(c) => c,
        None => {
            // The user's current role and status count, not the token's.
            let auth = match state.store.get_user(&org_id, &user_id).await {
                Ok(_) if state.store.session_revoked(&session).await? => None,
                Ok(u) if u.status == UserStatus::Active => {
                    let org = state.store.get_org(&u.org_id).await?;
                    Some(Auth {
                        org: Arc::new(org),
                        actor: Arc::new(Actor::User {
                            id: u.id,
                            role: u.role,
                            session: SessionId::new(),
                        }),
                    })
                }
                Ok(_) | Err(switchboard_store::StoreError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            };
            state.keys.put(cache_key, auth.clone());
            auth
        }
    };
    Ok(cached.map(|mut a| {
        if let Actor::User { id, role, .. } = &*a.actor {
            a.actor = Arc::new(Actor::User {
                id: id.clone(),
                role: *role,
                session,
            });
        }
        a
    }))
}

/// Authenticates the credential in `headers`.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Auth, ApiError> {
    let Some(credential) = presented(headers) else {
        return Err(unauthorized());
    };
    let auth = if crate::identity::tokens::looks_like_jwt(credential) {
        by_token(state, credential).await?
    } else {
        by_key(state, credential).await?
    };
    auth.ok_or_else(unauthorized)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Auth>() {
            Some(a) => Ok(a.clone()),
            None => authenticate(state, &parts.headers).await,
        }
    }
}
