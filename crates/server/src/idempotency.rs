//! `Idempotency-Key` on POST: the same key and body answer the first
//! response again without a second effect; the same key with another body
//! is refused with 422. The outcome is stored by the store in the same
//! transaction as the effect, so a crash cannot split them.

use std::future::Future;

use axum::http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use switchboard_store::{IdemKey, StoreError};

use crate::auth::Auth;
use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;

/// The outcome of an idempotent write and whether it was replayed.
pub struct Outcome<T> {
    pub value: T,
    pub status: StatusCode,
    pub replayed: bool,
}

fn fingerprint(method: &Method, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

/// Reads and checks the `Idempotency-Key` header.
pub fn key_from(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(HEADER) else { return Ok(None) };
    let v = v
        .to_str()
        .map_err(|_| ApiError::field("Idempotency-Key", "must be printable ASCII"))?
        .trim();
    if v.is_empty() || v.len() > MAX_KEY_LEN {
        return Err(ApiError::field("Idempotency-Key", format!("must be 1 to {MAX_KEY_LEN} characters")));
    }
    Ok(Some(v.to_owned()))
}

/// Looks up an earlier outcome stored under `key`.
async fn replay<T: DeserializeOwned>(state: &AppState, auth: &Auth, key: &str, fp: &str) -> Result<Option<Outcome<T>>, ApiError> {
    let Some(rec) = state.store.idempotent_result(&auth.org.id, key).await? else {
        return Ok(None);
    };
    if rec.fingerprint != fp {
        return Err(ApiError::new(
            ErrorKind::IdempotencyKeyReused,
            "This Idempotency-Key was already used with a different request body",
        )
        .with_details(serde_json::json!({"field": "Idempotency-Key", "reason": "already used with a different request"})));
    }
    let value = serde_json::from_str(&rec.body).map_err(|e| {
        tracing::error!(error = %e, "stored idempotent response does not parse");
        ApiError::internal()
    })?;
    let status = StatusCode::from_u16(rec.status).unwrap_or(StatusCode::OK);
    Ok(Some(Outcome {
        value,
        status,
        replayed: true,
    }))
}

/// Runs `write` once per idempotency key. `write` receives the key to store
/// with its effect (None when the request carried none).
pub async fn run<T, F, Fut>(
    state: &AppState,
    auth: &Auth,
    headers: &HeaderMap,
    (method, path, body): (&Method, &str, &[u8]),
    status: StatusCode,
    write: F,
) -> Result<Outcome<T>, ApiError>
where
    T: DeserializeOwned,
    F: FnOnce(Option<IdemKey>) -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let Some(key) = key_from(headers)? else {
        return Ok(Outcome {
            value: write(None).await?,
            status,
            replayed: false,
        });
    };
    let fp = fingerprint(method, path, body);
    if let Some(done) = replay(state, auth, &key, &fp).await? {
        return Ok(done);
    }
    let idem = IdemKey {
        key: key.clone(),
        fingerprint: fp.clone(),
        status: status.as_u16(),
    };
    match write(Some(idem)).await {
        Ok(value) => Ok(Outcome {
            value,
            status,
            replayed: false,
        }),
        // A concurrent request with the same key committed first: answer its outcome.
        Err(StoreError::IdempotencyKeyTaken) => match replay(state, auth, &key, &fp).await? {
            Some(done) => Ok(done),
            None => Err(StoreError::IdempotencyKeyTaken.into()),
        },
        Err(e) => Err(e.into()),
    }
}
