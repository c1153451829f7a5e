//! `/v1/contact-lists`: named sets of contacts that campaigns dial, their
//! members, and CSV imports into them.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{Contact, ContactId, ContactList, ContactListId};
use utoipa::ToSchema;

use super::csv_import::{self, ImportOut};
use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::api::fields;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{JsonBody, QueryMap, path_id};
use crate::idempotency;
use crate::identity::auth::Auth;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactListIn {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MembersIn {
    /// Ids of existing contacts to add.
    pub contact_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MembersAddedOut {
    /// Contacts that were not members before.
    pub added: u64,
    pub member_count: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactListOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ContactListOut {
    fn from_list(l: &ContactList) -> Self {
        ContactListOut {
            id: l.id.to_string(),
            name: l.name.clone(),
            description: l.description.clone(),
            member_count: l.member_count,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

/// A member of a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberOut {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub phone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

fn member_out(c: &Contact) -> MemberOut {
    MemberOut {
        id: c.id.to_string(),
        name: c.name.clone(),
        phone: c.phone.to_string(),
        email: c.email.clone(),
        company: c.company.clone(),
        tags: c.tags.clone(),
        time_zone: c.time_zone.map(|t| t.name().to_owned()),
    }
}

#[utoipa::path(post, path = "/v1/contact-lists", tag = "contact-lists", request_body = ContactListIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = ContactListOut), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn create_list(
    State(state): State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody<ContactListIn>,
) -> ApiResult<Response> {
    let name = fields::short("name", body.value.name.as_deref())?.ok_or_else(|| ApiError::field("name", "is required"))?;
    let now = switchboard_domain::now();
    let list = ContactList {
        id: ContactListId::new(),
        org_id: auth.org.id.clone(),
        name,
        description: fields::long("description", body.value.description.as_deref())?,
        created_at: now,
        updated_at: now,
        member_count: 0,
    };
    let out = idempotency::run(
        &state,
        &auth,
        &headers,
        (&method, uri.path(), &body.raw),
        StatusCode::CREATED,
        |idem| {
            let store = state.store.clone();
            async move { store.create_contact_list(list, idem).await }
        },
    )
    .await?;
    Ok(respond(out.status, out.replayed, &ContactListOut::from_list(&out.value)))
}

#[utoipa::path(get, path = "/v1/contact-lists/{id}", tag = "contact-lists", params(("id" = String, Path)),
    responses((status = 200, body = ContactListOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_list(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: ContactListId = path_id(&id, "contact list")?;
    let l = state.store.get_contact_list(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &ContactListOut::from_list(&l)))
}

#[utoipa::path(get, path = "/v1/contact-lists", tag = "contact-lists",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListOut<ContactListOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_lists(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (rows, total) = state.store.list_contact_lists(&auth.org.id, page).await?;
    let data = rows.iter().map(ContactListOut::from_list).collect();
    Ok(respond_list(data, total, page))
}

#[utoipa::path(post, path = "/v1/contact-lists/{id}/members", tag = "contact-lists", params(("id" = String, Path)), request_body = MembersIn,
    responses((status = 200, body = MembersAddedOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn add_members(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<MembersIn>,
) -> ApiResult<Response> {
    let id: ContactListId = path_id(&id, "contact list")?;
    let raw = body
        .value
        .contact_ids
        .as_ref()
        .ok_or_else(|| ApiError::field("contactIds", "is required"))?;
    if raw.is_empty() || raw.len() > 10_000 {
        return Err(ApiError::field("contactIds", "must list 1 to 10000 contact ids"));
    }
    let ids = raw
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.trim()
                .parse::<ContactId>()
                .map_err(|_| ApiError::field(format!("contactIds[{i}]"), "no contact with this id"))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let added = state.store.add_list_members(&auth.org.id, &id, ids).await?;
    let l = state.store.get_contact_list(&auth.org.id, &id).await?;
    Ok(respond(
        StatusCode::OK,
        false,
        &MembersAddedOut {
            added,
            member_count: l.member_count,
        },
    ))
}

#[utoipa::path(get, path = "/v1/contact-lists/{id}/members", tag = "contact-lists", params(("id" = String, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = ListOut<MemberOut>), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_members(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, q: QueryMap) -> ApiResult<Response> {
    let id: ContactListId = path_id(&id, "contact list")?;
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (rows, total) = state.store.list_members(&auth.org.id, &id, page).await?;
    Ok(respond_list(rows.iter().map(member_out).collect(), total, page))
}

#[utoipa::path(post, path = "/v1/contact-lists/{id}/import", tag = "contact-lists",
    params(("id" = String, Path), ("mapping" = Option<String>, Query, description = "JSON object: contact field → CSV column, e.g. {\"phone\":\"phone_number\",\"name\":\"full_name\"}")),
    request_body(content = String, content_type = "text/csv", description = "CSV with a header row"),
    responses((status = 200, body = ImportOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn import_csv(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    q: QueryMap,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let id: ContactListId = path_id(&id, "contact list")?;
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !ct.starts_with("text/csv") && !ct.starts_with("text/plain") && !ct.starts_with("application/csv") {
        return Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!("Content-Type must be text/csv, not '{ct}'"),
        ));
    }
    let mapping = csv_import::parse_mapping(q.get("mapping"))?;
    state.store.get_contact_list(&auth.org.id, &id).await?;
    let out = csv_import::import(&state, &auth.org, Some(id), mapping, body).await?;
    Ok(respond(StatusCode::OK, false, &out))
}
