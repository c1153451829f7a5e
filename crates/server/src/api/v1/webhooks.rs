//! `/v1/webhooks`: create, read, update, delete subscriptions and rotate
//! their secrets. A secret is shown once, when it is made; reads never
//! show it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use switchboard_domain::webhook::{WebhookPatch, parse_event_filter};
use switchboard_domain::{SignatureScheme, Webhook, WebhookId, WebhookSecret, validate};
use utoipa::ToSchema;

use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::api::fields;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryMap, parse_json, path_id};
use crate::idempotency;
use crate::identity::auth::Auth;
use crate::state::AppState;
use crate::workers::webhooks::ssrf;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookIn {
    /// Required. The http(s) endpoint to POST events to.
    pub url: Option<String>,
    /// Required. Event types (see `GET /v1/webhooks/event-types`), `*` for
    /// all, or `category.*` (e.g. `call.*`).
    pub events: Option<Vec<String>>,
    /// Signing secret; generated when absent (`whsec_` + base64 of 24 random bytes).
    pub secret: Option<String>,
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// `standard` (Standard Webhooks, the default), `saas` (`X-Signature`) or `ringez` (`X-Ringez-Signature`).
    pub signature_scheme: Option<String>,
}

/// Absent fields stay as they are; `null` clears a field.
fn double<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPatchIn {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `true` re-enables a disabled endpoint and forgets its failures.
    pub enabled: Option<bool>,
    pub signature_scheme: Option<String>,
    /// Not accepted here: use `POST /v1/webhooks/{id}/rotate-secret`.
    #[schema(value_type = Option<String>)]
    pub secret: Option<Value>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotateIn {
    /// The new secret; generated when absent.
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookOut {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    pub signature_scheme: &'static str,
    /// `active`, `failing` (attempts failing since `failingSince`) or `disabled`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation still signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Only in the answers that make a secret: creation and rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookOut {
    pub fn from_webhook(w: &Webhook, show_secret: bool) -> Self {
        let status = match (w.enabled, w.failing_since) {
            (false, _) => "disabled",
            (true, Some(_)) => "failing",
            (true, None) => "active",
        };
        let now = switchboard_domain::now();
        WebhookOut {
            id: w.id.to_string(),
            url: w.url.clone(),
            events: w.events.clone(),
            description: w.description.clone(),
            enabled: w.enabled,
            signature_scheme: w.scheme.as_str(),
            status,
            failing_since: w.failing_since,
            disabled_reason: w.disabled_reason.clone(),
            previous_secret_expires_at: w.previous_secret_expires_at.filter(|t| *t > now),
            secret: show_secret.then(|| w.secret.expose().to_owned()),
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

fn new_secret() -> WebhookSecret {
    WebhookSecret::from_random(rand::random::<[u8; 24]>())
}

/// A target URL: absolute http(s), and not inside the network unless the
/// server allows that.
async fn target_url(state: &AppState, value: &str) -> ApiResult<String> {
    let url = validate::url("url", value)?;
    ssrf::check_url(&url, state.cfg.allow_private_webhook_targets)
        .await
        .map_err(|reason| ApiError::field("url", reason))?;
    Ok(url)
}

fn scheme(value: Option<&str>) -> ApiResult<Option<SignatureScheme>> {
    Ok(value.map(|v| SignatureScheme::parse("signatureScheme", v)).transpose()?)
}

async fn parse_webhook(state: &AppState, auth: &Auth, input: &WebhookIn) -> ApiResult<Webhook> {
    let url = input.url.as_deref().ok_or_else(|| ApiError::field("url", "is required"))?;
    let events = input.events.as_deref().ok_or_else(|| ApiError::field("events", "is required"))?;
    let events = parse_event_filter("events", events)?;
    let scheme = scheme(input.signature_scheme.as_deref())?.unwrap_or_default();
    let secret = match &input.secret {
        Some(s) => WebhookSecret::parse("secret", s, scheme)?,
        None => new_secret(),
    };
    let description = fields::short("description", input.description.as_deref())?;
    let url = target_url(state, url).await?;
    let now = switchboard_domain::now();
    Ok(Webhook {
        id: WebhookId::new(),
        org_id: auth.org.id.clone(),
        url,
        events,
        description,
        enabled: input.enabled.unwrap_or(true),
        scheme,
        secret,
        previous_secret: None,
        previous_secret_expires_at: None,
        failing_since: None,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    })
}

#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = WebhookIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = WebhookOut, description = "The subscription, with its secret (shown only here)"),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn create_webhook(
    State(state): State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody<WebhookIn>,
) -> ApiResult<Response> {
    let webhook = parse_webhook(&state, &auth, &body.value).await?;
    let out = idempotency::run(
        &state,
        &auth,
        &headers,
        (&method, uri.path(), &body.raw),
        StatusCode::CREATED,
        |idem| {
            let store = state.store.clone();
            async move { store.create_webhook(webhook, idem).await }
        },
    )
    .await?;
    Ok(respond(out.status, out.replayed, &WebhookOut::from_webhook(&out.value, true)))
}

#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListOut<WebhookOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_webhooks(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (hooks, total) = state.store.list_webhooks(&auth.org.id, page).await?;
    let data = hooks.iter().map(|w| WebhookOut::from_webhook(w, false)).collect();
    Ok(respond_list(data, total, page))
}

#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = WebhookOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_webhook(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: WebhookId = path_id(&id, "webhook")?;
    let w = state.store.get_webhook(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &WebhookOut::from_webhook(&w, false)))
}

#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)), request_body = WebhookPatchIn,
    responses((status = 200, body = WebhookOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn update_webhook(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<WebhookPatchIn>,
) -> ApiResult<Response> {
    let id: WebhookId = path_id(&id, "webhook")?;
    let p = &body.value;
    if p.secret.is_some() {
        return Err(ApiError::field(
            "secret",
            "cannot be changed here: use POST /v1/webhooks/{id}/rotate-secret",
        ));
    }
    // Unknown ids answer 404 before the body is judged.
    state.store.get_webhook(&auth.org.id, &id).await?;
    let patch = WebhookPatch {
        events: p.events.as_deref().map(|e| parse_event_filter("events", e)).transpose()?,
        description: p
            .description
            .as_ref()
            .map(|d| fields::short("description", d.as_deref()))
            .transpose()?,
        enabled: p.enabled,
        scheme: scheme(p.signature_scheme.as_deref())?,
        url: match &p.url {
            Some(u) => Some(target_url(&state, u).await?),
            None => None,
        },
    };
    let w = state.store.update_webhook(&auth.org.id, &id, patch).await?;
    Ok(respond(StatusCode::OK, false, &WebhookOut::from_webhook(&w, false)))
}

#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn delete_webhook(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id: WebhookId = path_id(&id, "webhook")?;
    state.store.delete_webhook(&auth.org.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/webhooks/{id}/rotate-secret", tag = "webhooks", params(("id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body(content = Option<RotateIn>, description = "Optional: the new secret"),
    responses((status = 200, body = WebhookOut, description = "The subscription with its new secret (shown only here); the old one signs beside it for 24 h"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult<Response> {
    let id: WebhookId = path_id(&id, "webhook")?;
    let current = state.store.get_webhook(&auth.org.id, &id).await?;
    let input: RotateIn = if raw.iter().all(u8::is_ascii_whitespace) {
        RotateIn::default()
    } else {
        parse_json(&raw)?
    };
    let secret = match &input.secret {
        Some(s) => WebhookSecret::parse("secret", s, current.scheme)?,
        None => new_secret(),
    };
    let out = idempotency::run(&state, &auth, &headers, (&method, uri.path(), &raw), StatusCode::OK, |idem| {
        let store = state.store.clone();
        let org = auth.org.id.clone();
        async move {
            store
                .rotate_webhook_secret(&org, &id, secret, switchboard_domain::now(), idem)
                .await
        }
    })
    .await?;
    Ok(respond(out.status, out.replayed, &WebhookOut::from_webhook(&out.value, true)))
}
