//! `/v1/keys`: API keys with scopes and expiry; listed by prefix only;
//! revoked, or rotated with an overlap during which both keys work.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_domain::user::{ALL, PERMISSIONS};
use switchboard_domain::{ApiKey, ApiKeyId};
use utoipa::ToSchema;

use super::{ErrorBody, respond};
use crate::api::fields;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{JsonBody, path_id};
use crate::identity::audit;
use crate::identity::auth::{Auth, generate_scoped_key};
use crate::state::AppState;

/// Default overlap of a rotated key with its successor.
const ROTATION_OVERLAP_SECS: i64 = 86_400;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyOut {
    pub id: String,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The secret, shown only when the key is created or rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl KeyOut {
    fn from_key(k: &ApiKey, secret: Option<String>) -> Self {
        KeyOut {
            id: k.id.to_string(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.clone(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            key: secret,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyIn {
    pub name: Option<String>,
    /// Permissions (`calls.view`, ...) or `*`; default: every permission the creator holds.
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotateIn {
    /// How long the old key keeps working (seconds, 0 to 30 days; default a day).
    pub overlap_seconds: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct KeysOut {
    pub data: Vec<KeyOut>,
}

/// Checks scopes: known permissions the creator holds themselves.
fn scopes(auth: &Auth, requested: Option<&[String]>) -> ApiResult<Vec<String>> {
    let Some(list) = requested else {
        return Ok(if auth.allows(ALL) || PERMISSIONS.iter().all(|p| auth.allows(p)) {
            vec![ALL.to_owned()]
        } else {
            auth.permissions()
        });
    };
    if list.is_empty() {
        return Err(ApiError::field("scopes", "must name at least one permission"));
    }
    for (i, s) in list.iter().enumerate() {
        if s == ALL {
            if !PERMISSIONS.iter().all(|p| auth.allows(p)) {
                return Err(
                    ApiError::new(ErrorKind::Forbidden, "You cannot grant '*': you do not hold every permission")
                        .with_details(json!({"field": format!("scopes[{i}]")})),
                );
            }
        } else if !PERMISSIONS.contains(&s.as_str()) {
            return Err(ApiError::field(format!("scopes[{i}]"), format!("'{s}' is not a permission")));
        } else if !auth.allows(s) {
            return Err(
                ApiError::new(ErrorKind::Forbidden, format!("You cannot grant '{s}': you do not hold it"))
                    .with_details(json!({"field": format!("scopes[{i}]")})),
            );
        }
    }
    Ok(list.to_vec())
}

#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = KeyIn,
    responses((status = 201, body = KeyOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn create_key(State(state): State<AppState>, auth: Auth, body: JsonBody<KeyIn>) -> ApiResult<Response> {
    let input = body.value;
    let name = fields::short("name", input.name.as_deref())?.ok_or_else(|| ApiError::field("name", "is required"))?;
    let scopes = scopes(&auth, input.scopes.as_deref())?;
    let expires_at = fields::planned("expiresAt", input.expires_at.as_deref())?;
    if expires_at.is_some_and(|e| e <= state.clock.now()) {
        return Err(ApiError::field("expiresAt", "must be in the future"));
    }
    let (secret, key, hash) = generate_scoped_key(&auth.org, &name, scopes, expires_at);
    let key = state.store.create_key(key, hash).await?;
    audit::by(
        &state,
        &auth,
        "key.created",
        Some(key.id.to_string()),
        Some(json!({"name": key.name, "scopes": key.scopes})),
    )
    .await;
    Ok(respond(StatusCode::CREATED, false, &KeyOut::from_key(&key, Some(secret))))
}

#[utoipa::path(get, path = "/v1/keys", tag = "keys", responses((status = 200, body = KeysOut)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_keys(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let keys = state.store.list_keys(&auth.org.id).await?;
    Ok(respond(
        StatusCode::OK,
        false,
        &KeysOut {
            data: keys.iter().map(|k| KeyOut::from_key(k, None)).collect(),
        },
    ))
}

#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys", params(("id" = String, Path)),
    responses((status = 200, body = KeyOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn revoke_key(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: ApiKeyId = path_id(&id, "API key")?;
    let key = state.store.revoke_key(&auth.org.id, &id, state.clock.now()).await?;
    state.keys.clear();
    audit::by(
        &state,
        &auth,
        "key.revoked",
        Some(key.id.to_string()),
        Some(json!({"name": key.name})),
    )
    .await;
    Ok(respond(StatusCode::OK, false, &KeyOut::from_key(&key, None)))
}

#[utoipa::path(post, path = "/v1/keys/{id}/rotate", tag = "keys", params(("id" = String, Path)), request_body = RotateIn,
    responses((status = 201, body = KeyOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn rotate_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<RotateIn>,
) -> ApiResult<Response> {
    let id: ApiKeyId = path_id(&id, "API key")?;
    let overlap = body.value.overlap_seconds.unwrap_or(ROTATION_OVERLAP_SECS);
    if !(0..=30 * 86_400).contains(&overlap) {
        return Err(ApiError::field("overlapSeconds", "must be from 0 to 2592000"));
    }
    let old = state
        .store
        .list_keys(&auth.org.id)
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| ApiError::not_found("API key"))?;
    if !old.usable(state.clock.now()) {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "This key is revoked or expired; create a new one",
        ));
    }
    let (secret, key, hash) = generate_scoped_key(&auth.org, &old.name, old.scopes.clone(), old.expires_at);
    let key = state.store.create_key(key, hash).await?;
    state
        .store
        .revoke_key(&auth.org.id, &old.id, state.clock.now() + chrono::Duration::seconds(overlap))
        .await?;
    state.keys.clear();
    audit::by(
        &state,
        &auth,
        "key.rotated",
        Some(old.id.to_string()),
        Some(json!({"successor": key.id, "overlapSeconds": overlap})),
    )
    .await;
    Ok(respond(StatusCode::CREATED, false, &KeyOut::from_key(&key, Some(secret))))
}
