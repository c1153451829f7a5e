//! `Idempotency-Key` on POST: the same key and body answer the first
//! response again without a second effect; the same key with another body
//! is refused with 422. The outcome is stored by the store in the same
//! transaction as the effect, so a crash cannot split them.

use std::future::Future;

use axum::http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use switchboard_store::{IdemKey, StoreError};

use crate::error::{ApiError, ErrorKind};
use crate::identity::auth::Auth;
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

/// Idempotency for every POST, at the edge: a request carrying an
/// `Idempotency-Key` already answered with a 2xx is answered again from
/// the stored response, without running; the same key with another body is
/// refused with 422. Routes whose writes store their outcome in the same
/// transaction (calls, contacts, campaigns, ...) are covered twice, which
/// is harmless; for the others the response is stored just after the
/// handler, so a crash in between can let a retry run again.
pub async fn at_the_edge(
    state: &AppState,
    auth: &Auth,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let key = match key_from(req.headers()) {
        Ok(Some(k)) => k,
        Ok(None) => return next.run(req).await,
        Err(e) => return e.into_response(),
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, state.cfg.body_limit).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                ErrorKind::PayloadTooLarge,
                format!("The request body is larger than the limit of {} bytes", state.cfg.body_limit),
            )
            .into_response();
        }
    };
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let fp = fingerprint(&parts.method, path, &bytes);
    let stored_key = format!("http:{key}");
    let (_guard, _entry) = state.in_flight.hold(format!("{}:{stored_key}", auth.org.id)).await;
    match state.store.idempotent_result(&auth.org.id, &stored_key).await {
        Ok(Some(rec)) if rec.fingerprint == fp => {
            let status = StatusCode::from_u16(rec.status).unwrap_or(StatusCode::OK);
            let mut resp = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], rec.body).into_response();
            resp.headers_mut()
                .insert("idempotent-replayed", axum::http::HeaderValue::from_static("true"));
            return resp;
        }
        Ok(Some(_)) => {
            return ApiError::new(
                ErrorKind::IdempotencyKeyReused,
                "This Idempotency-Key was already used with a different request body",
            )
            .with_details(serde_json::json!({"field": "Idempotency-Key", "reason": "already used with a different request"}))
            .into_response();
        }
        Ok(None) => {}
        Err(e) => return ApiError::from(e).into_response(),
    }
    let resp = next
        .run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await;
    if !resp.status().is_success() {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(out) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return ApiError::internal().into_response();
    };
    let record = IdemKey {
        key: stored_key,
        fingerprint: fp,
        status: parts.status.as_u16(),
    };
    if let Err(e) = state
        .store
        .save_idempotent_result(&auth.org.id, record, String::from_utf8_lossy(&out).into_owned())
        .await
    {
        tracing::error!(error = %e, "cannot store an idempotent response");
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(out))
}
