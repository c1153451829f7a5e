//! `/v1/dnc`: the organisation's do-not-call list. The dialer never dials
//! a listed number, whenever it was listed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::campaign::DncEntry;
use utoipa::ToSchema;

use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::api::fields;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryMap};
use crate::identity::auth::Auth;
use crate::state::AppState;

/// Most numbers in one bulk request.
const MAX_BULK: usize = 10_000;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DncIn {
    pub phone: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DncBulkIn {
    pub phones: Option<Vec<String>>,
    /// Applies to every number.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DncOut {
    pub phone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DncAddedOut {
    /// Numbers newly listed (already listed ones are left as they were).
    pub added: u64,
    pub received: usize,
}

fn out(e: &DncEntry) -> DncOut {
    DncOut {
        phone: e.phone.clone(),
        reason: e.reason.clone(),
        created_at: e.created_at,
    }
}

#[utoipa::path(post, path = "/v1/dnc", tag = "dnc", request_body = DncIn,
    responses((status = 201, body = DncAddedOut), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn add(State(state): State<AppState>, auth: Auth, body: JsonBody<DncIn>) -> ApiResult<Response> {
    let phone = body.value.phone.as_deref().ok_or_else(|| ApiError::field("phone", "is required"))?;
    let entry = DncEntry {
        phone: fields::phone("phone", phone, &auth.org)?.to_string(),
        reason: fields::short("reason", body.value.reason.as_deref())?,
        created_at: switchboard_domain::now(),
    };
    let added = state.store.add_dnc(&auth.org.id, vec![entry]).await?;
    Ok(respond(StatusCode::CREATED, false, &DncAddedOut { added, received: 1 }))
}

#[utoipa::path(post, path = "/v1/dnc/bulk", tag = "dnc", request_body = DncBulkIn,
    responses((status = 201, body = DncAddedOut), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn bulk(State(state): State<AppState>, auth: Auth, body: JsonBody<DncBulkIn>) -> ApiResult<Response> {
    let phones = body.value.phones.as_ref().ok_or_else(|| ApiError::field("phones", "is required"))?;
    if phones.is_empty() || phones.len() > MAX_BULK {
        return Err(ApiError::field("phones", format!("must list 1 to {MAX_BULK} numbers")));
    }
    let reason = fields::short("reason", body.value.reason.as_deref())?;
    let now = switchboard_domain::now();
    let entries = phones
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(DncEntry {
                phone: fields::phone(&format!("phones[{i}]"), p, &auth.org)?.to_string(),
                reason: reason.clone(),
                created_at: now,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let received = entries.len();
    let added = state.store.add_dnc(&auth.org.id, entries).await?;
    Ok(respond(StatusCode::CREATED, false, &DncAddedOut { added, received }))
}

#[utoipa::path(delete, path = "/v1/dnc/{phone}", tag = "dnc", params(("phone" = String, Path, description = "E.164, URL-encoded (%2B for +)")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn remove(State(state): State<AppState>, auth: Auth, Path(phone): Path<String>) -> ApiResult<StatusCode> {
    let phone = fields::phone("phone", &phone, &auth.org)?;
    if state.store.remove_dnc(&auth.org.id, phone.as_str()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("do-not-call entry"))
    }
}

#[utoipa::path(get, path = "/v1/dnc", tag = "dnc", params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = ListOut<DncOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (rows, total) = state.store.list_dnc(&auth.org.id, page).await?;
    Ok(respond_list(rows.iter().map(out).collect(), total, page))
}
