//! Operating webhooks: the event-type catalogue, a subscription's attempt
//! log and deliveries, replaying a subscription since a date and
//! redelivering one event.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_domain::webhook_events::{EVENT_TYPES, example_data};
use switchboard_domain::{EventId, WebhookId};
use utoipa::ToSchema;

use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryMap, parse_instant, path_id};
use crate::idempotency;
use crate::identity::auth::Auth;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeOut {
    #[serde(rename = "type")]
    pub event_type: &'static str,
    pub description: &'static str,
    /// A payload as delivered: `{id, type, created, data}`.
    #[schema(value_type = Object)]
    pub example: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypesOut {
    pub data: Vec<EventTypeOut>,
}

#[utoipa::path(get, path = "/v1/webhooks/event-types", tag = "webhooks",
    responses((status = 200, body = EventTypesOut)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn event_types(_auth: Auth) -> ApiResult<Response> {
    let data = EVENT_TYPES
        .iter()
        .map(|(t, d)| EventTypeOut {
            event_type: t,
            description: d,
            example: json!({
                "id": "evt_0696bc6a4k2m8n0p3q5r7s9t1v",
                "type": t,
                "created": "2025-05-20T15:33:45.000Z",
                "data": example_data(t),
            }),
        })
        .collect();
    Ok(respond(StatusCode::OK, false, &EventTypesOut { data }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptOut {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub delivery_id: String,
    /// 1 for a delivery's first attempt.
    pub attempt: u32,
    /// `succeeded` (any 2xx) or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// The first 4 KiB of the response body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[utoipa::path(get, path = "/v1/webhooks/{id}/attempts", tag = "webhooks",
    params(("id" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListOut<AttemptOut>, description = "Newest first"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_attempts(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, q: QueryMap) -> ApiResult<Response> {
    let id: WebhookId = path_id(&id, "webhook")?;
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (attempts, total) = state.store.list_attempts(&auth.org.id, &id, page).await?;
    let data = attempts
        .into_iter()
        .map(|a| AttemptOut {
            id: a.id.to_string(),
            event_id: a.event_id.to_string(),
            event_type: a.event_type,
            delivery_id: a.delivery_id.to_string(),
            attempt: a.attempt,
            status: if a.succeeded { "succeeded" } else { "failed" },
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response_body: a.response_body,
            error: a.error,
            created_at: a.created_at,
        })
        .collect();
    Ok(respond_list(data, total, page))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOut {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `failed` (a retry is scheduled), `succeeded` or `dead` (given up).
    pub status: &'static str,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListOut<DeliveryOut>, description = "In event order"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_deliveries(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, q: QueryMap) -> ApiResult<Response> {
    let id: WebhookId = path_id(&id, "webhook")?;
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (rows, total) = state.store.list_deliveries(&auth.org.id, &id, page).await?;
    let data = rows
        .into_iter()
        .map(|d| DeliveryOut {
            id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            event_type: d.event_type,
            status: d.status.as_str(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status_code: d.last_status_code,
            created_at: d.created_at,
            updated_at: d.updated_at,
        })
        .collect();
    Ok(respond_list(data, total, page))
}

/// How many deliveries a replay or redelivery queued.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnqueuedOut {
    pub enqueued: u64,
}

#[utoipa::path(post, path = "/v1/webhooks/{id}/replay", tag = "webhooks",
    params(("id" = String, Path), ("since" = String, Query, description = "ISO 8601 date-time (or date, in the organisation's zone)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 202, body = EnqueuedOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    q: QueryMap,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id: WebhookId = path_id(&id, "webhook")?;
    let since = q.get("since").ok_or_else(|| ApiError::field("since", "is required"))?;
    let since = parse_instant("since", since, auth.org.time_zone, false)?;
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let out = idempotency::run(&state, &auth, &headers, (&method, path, b""), StatusCode::ACCEPTED, |idem| {
        let (store, org) = (state.store.clone(), auth.org.id.clone());
        async move {
            let enqueued = store.replay_webhook(&org, &id, since, switchboard_domain::now(), idem).await?;
            Ok(EnqueuedOut { enqueued })
        }
    })
    .await?;
    state.webhook_wake.notify_one();
    Ok(respond(out.status, out.replayed, &out.value))
}

#[utoipa::path(post, path = "/v1/events/{id}/redeliver", tag = "webhooks",
    params(("id" = String, Path, description = "An event id (evt_...)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 202, body = EnqueuedOut), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn redeliver(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id: EventId = path_id(&id, "event")?;
    let out = idempotency::run(&state, &auth, &headers, (&method, uri.path(), b""), StatusCode::ACCEPTED, |idem| {
        let (store, org) = (state.store.clone(), auth.org.id.clone());
        async move {
            let enqueued = store.redeliver_event(&org, &id, switchboard_domain::now(), idem).await?;
            Ok(EnqueuedOut { enqueued })
        }
    })
    .await?;
    Ok(respond(out.status, out.replayed, &out.value))
}
