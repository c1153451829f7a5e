//! `/v1/departments`: the teams agents and queues belong to.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::id::DepartmentId;
use switchboard_domain::queues::Department;
use utoipa::ToSchema;

use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::api::fields;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryMap, path_id};
use crate::identity::auth::Auth;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentIn {
    /// Unique in the organisation.
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DepartmentOut {
    fn from_department(d: &Department) -> Self {
        DepartmentOut {
            id: d.id.to_string(),
            name: d.name.clone(),
            description: d.description.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[utoipa::path(post, path = "/v1/departments", tag = "queues", request_body = DepartmentIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = DepartmentOut), (status = 400, body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn create_department(State(state): State<AppState>, auth: Auth, body: JsonBody<DepartmentIn>) -> ApiResult<Response> {
    let name = fields::short("name", body.value.name.as_deref())?.ok_or_else(|| ApiError::field("name", "is required"))?;
    let now = state.clock.now();
    let d = Department {
        id: DepartmentId::new(),
        org_id: auth.org.id.clone(),
        name,
        description: fields::long("description", body.value.description.as_deref())?,
        created_at: now,
        updated_at: now,
    };
    let d = state.store.create_department(d).await?;
    Ok(respond(StatusCode::CREATED, false, &DepartmentOut::from_department(&d)))
}

#[utoipa::path(get, path = "/v1/departments", tag = "queues",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListOut<DepartmentOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_departments(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (rows, total) = state.store.list_departments(&auth.org.id, page).await?;
    Ok(respond_list(rows.iter().map(DepartmentOut::from_department).collect(), total, page))
}

#[utoipa::path(get, path = "/v1/departments/{id}", tag = "queues", params(("id" = String, Path)),
    responses((status = 200, body = DepartmentOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_department(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: DepartmentId = path_id(&id, "department")?;
    let d = state.store.get_department(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &DepartmentOut::from_department(&d)))
}

#[utoipa::path(patch, path = "/v1/departments/{id}", tag = "queues", params(("id" = String, Path)), request_body = DepartmentIn,
    responses((status = 200, body = DepartmentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn update_department(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<DepartmentIn>,
) -> ApiResult<Response> {
    let id: DepartmentId = path_id(&id, "department")?;
    let mut d = state.store.get_department(&auth.org.id, &id).await?;
    if let Some(n) = fields::short("name", body.value.name.as_deref())? {
        d.name = n;
    }
    if let Some(desc) = fields::long("description", body.value.description.as_deref())? {
        d.description = Some(desc);
    }
    d.updated_at = state.clock.now();
    let d = state.store.update_department(d).await?;
    Ok(respond(StatusCode::OK, false, &DepartmentOut::from_department(&d)))
}

#[utoipa::path(delete, path = "/v1/departments/{id}", tag = "queues", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, description = "Queues or agents still belong to it", body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn delete_department(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id: DepartmentId = path_id(&id, "department")?;
    state.store.delete_department(&auth.org.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
