//! `/v1/contacts`: create, read (with call history), update, delete, list.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use switchboard_domain::contact::ContactPatch;
use switchboard_domain::{Contact, ContactId, Organisation};
use switchboard_store::ContactFilter;
use utoipa::ToSchema;

use super::calls::native_status;
use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::api::fields;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryMap, path_id};
use crate::idempotency;
use crate::identity::auth::Auth;
use crate::state::AppState;

/// How many recent calls a contact read includes.
const CALL_HISTORY: u32 = 50;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactIn {
    pub name: Option<String>,
    /// Required. E.164, or national in the organisation's region.
    pub phone: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
    /// Your CRM's id for this person (unique per organisation).
    pub external_id: Option<String>,
    /// IANA zone, used for calling windows.
    pub time_zone: Option<String>,
}

/// Absent fields stay as they are; `null` clears a field.
pub(crate) fn double<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactPatchIn {
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// Cannot be cleared.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Option<Value>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub time_zone: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallHistoryOut {
    pub id: String,
    /// When the call started (answered, else dialled, else created).
    pub date: DateTime<Utc>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactOut {
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
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The most recent calls (single-contact reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_history: Option<Vec<CallHistoryOut>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ContactOut {
    fn from_contact(c: &Contact, history: Option<Vec<CallHistoryOut>>) -> Self {
        ContactOut {
            id: c.id.to_string(),
            name: c.name.clone(),
            phone: c.phone.to_string(),
            email: c.email.clone(),
            company: c.company.clone(),
            tags: c.tags.clone(),
            custom_fields: c.custom_fields.clone(),
            external_id: c.external_id.clone(),
            time_zone: c.time_zone.map(|t| t.name().to_owned()),
            call_history: history,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

fn parse_contact(input: &ContactIn, org: &Organisation) -> ApiResult<Contact> {
    let Some(phone) = input.phone.as_deref() else {
        return Err(ApiError::field("phone", "is required"));
    };
    let now = switchboard_domain::now();
    Ok(Contact {
        id: ContactId::new(),
        org_id: org.id.clone(),
        name: fields::short("name", input.name.as_deref())?,
        phone: fields::phone("phone", phone, org)?,
        email: fields::email("email", input.email.as_deref())?,
        company: fields::short("company", input.company.as_deref())?,
        tags: fields::labels("tags", input.tags.as_deref())?.unwrap_or_default(),
        custom_fields: fields::object("customFields", input.custom_fields.as_ref())?,
        external_id: fields::short("externalId", input.external_id.as_deref())?,
        time_zone: fields::time_zone("timeZone", input.time_zone.as_deref())?,
        created_at: now,
        updated_at: now,
    })
}

fn parse_patch(p: &ContactPatchIn, org: &Organisation) -> ApiResult<ContactPatch> {
    Ok(ContactPatch {
        name: p.name.as_ref().map(|v| fields::short("name", v.as_deref())).transpose()?,
        phone: match &p.phone {
            None => None,
            Some(None) => return Err(ApiError::field("phone", "cannot be cleared: a contact needs a phone number")),
            Some(Some(v)) => Some(fields::phone("phone", v, org)?),
        },
        email: p.email.as_ref().map(|v| fields::email("email", v.as_deref())).transpose()?,
        company: p.company.as_ref().map(|v| fields::short("company", v.as_deref())).transpose()?,
        tags: fields::labels("tags", p.tags.as_deref())?,
        custom_fields: p
            .custom_fields
            .as_ref()
            .map(|v| fields::object("customFields", v.as_ref()))
            .transpose()?,
        external_id: p
            .external_id
            .as_ref()
            .map(|v| fields::short("externalId", v.as_deref()))
            .transpose()?,
        time_zone: p
            .time_zone
            .as_ref()
            .map(|v| fields::time_zone("timeZone", v.as_deref()))
            .transpose()?,
    })
}

#[utoipa::path(post, path = "/v1/contacts", tag = "contacts", request_body = ContactIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = ContactOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn create_contact(
    State(state): State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody<ContactIn>,
) -> ApiResult<Response> {
    let contact = parse_contact(&body.value, &auth.org)?;
    let out = idempotency::run(
        &state,
        &auth,
        &headers,
        (&method, uri.path(), &body.raw),
        StatusCode::CREATED,
        |idem| {
            let store = state.store.clone();
            async move { store.create_contact(contact, idem).await }
        },
    )
    .await?;
    Ok(respond(out.status, out.replayed, &ContactOut::from_contact(&out.value, None)))
}

#[utoipa::path(get, path = "/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = ContactOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_contact(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: ContactId = path_id(&id, "contact")?;
    let contact = state.store.get_contact(&auth.org.id, &id).await?;
    let calls = state.store.contact_calls(&auth.org.id, &id, CALL_HISTORY).await?;
    let history = calls
        .iter()
        .map(|c| CallHistoryOut {
            id: c.id.to_string(),
            date: c.answered_at.unwrap_or_else(|| c.occurred_at()),
            status: native_status(c.status),
            duration: c.duration,
            outcome: c.outcome.clone(),
        })
        .collect();
    Ok(respond(StatusCode::OK, false, &ContactOut::from_contact(&contact, Some(history))))
}

#[utoipa::path(patch, path = "/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path)), request_body = ContactPatchIn,
    responses((status = 200, body = ContactOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn update_contact(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<ContactPatchIn>,
) -> ApiResult<Response> {
    let id: ContactId = path_id(&id, "contact")?;
    let patch = parse_patch(&body.value, &auth.org)?;
    let contact = state.store.update_contact(&auth.org.id, &id, patch).await?;
    Ok(respond(StatusCode::OK, false, &ContactOut::from_contact(&contact, None)))
}

#[utoipa::path(delete, path = "/v1/contacts/{id}", tag = "contacts", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn delete_contact(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id: ContactId = path_id(&id, "contact")?;
    state.store.delete_contact(&auth.org.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/contacts", tag = "contacts",
    params(("tag" = Option<String>, Query), ("search" = Option<String>, Query, description = "Substring of name, e-mail or phone"),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListOut<ContactOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_contacts(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let filter = ContactFilter {
        tag: fields::short("tag", q.get("tag"))?,
        search: fields::short("search", q.get("search"))?,
    };
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (contacts, total) = state.store.list_contacts(&auth.org.id, &filter, page).await?;
    let data = contacts.iter().map(|c| ContactOut::from_contact(c, None)).collect();
    Ok(respond_list(data, total, page))
}
