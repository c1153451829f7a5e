//! `/v1/queues`: where calls wait for agents. Each queue requires skills
//! (at a minimum proficiency), has a priority (1–99), a longest wait,
//! business hours in an IANA zone, and an overflow (another queue,
//! voicemail or a number); an overflow that would loop back to the queue,
//! directly or through others, is refused naming `overflow.target`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_domain::Organisation;
use switchboard_domain::agents;
use switchboard_domain::id::{DepartmentId, QueueId};
use switchboard_domain::queues::{BusinessHours, MAX_PRIORITY, MAX_WAIT_SECS, MIN_PRIORITY, Overflow, Queue};
use utoipa::ToSchema;

use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::api::fields;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryMap, path_id};
use crate::identity::auth::Auth;
use crate::state::AppState;

/// Default priority and longest wait of a new queue.
const DEFAULT_PRIORITY: u8 = 50;
const DEFAULT_MAX_WAIT_SECS: u32 = 300;

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusinessHoursIn {
    /// IANA zone, e.g. `America/New_York`.
    pub time_zone: Option<String>,
    /// ISO weekdays: 1 = Monday ... 7 = Sunday.
    pub days: Option<Vec<i64>>,
    /// `HH:MM` local time.
    pub open: Option<String>,
    /// `HH:MM` local time, after `open`.
    pub close: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverflowIn {
    /// `queue`, `voicemail` or `number`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// A queue id (`queue`) or an E.164 number (`number`); none for `voicemail`.
    pub target: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueIn {
    /// Unique in the organisation; required on create.
    pub name: Option<String>,
    /// The department's id; null clears it.
    #[serde(default, deserialize_with = "super::contacts::double")]
    #[schema(value_type = Option<String>)]
    pub department_id: Option<Option<String>>,
    /// Skill name → the lowest proficiency (1–5) an agent needs.
    #[schema(value_type = Option<Object>, example = json!({"billing": 3}))]
    pub skills: Option<serde_json::Map<String, Value>>,
    /// 1 to 99 (default 50); a higher priority's calls are offered first.
    pub priority: Option<i64>,
    /// 1 to 86,400 (default 300): the longest wait before the overflow.
    pub max_wait_seconds: Option<i64>,
    /// When the queue takes calls, in its zone; null means always.
    #[serde(default, deserialize_with = "super::contacts::double")]
    #[schema(value_type = Option<BusinessHoursIn>)]
    pub business_hours: Option<Option<BusinessHoursIn>>,
    /// Where calls go after the longest wait or outside hours; null clears it.
    #[serde(default, deserialize_with = "super::contacts::double")]
    #[schema(value_type = Option<OverflowIn>)]
    pub overflow: Option<Option<OverflowIn>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusinessHoursOut {
    pub time_zone: String,
    pub days: Vec<u8>,
    pub open: String,
    pub close: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverflowOut {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department_id: Option<String>,
    #[schema(value_type = Object, example = json!({"billing": 3}))]
    pub skills: BTreeMap<String, u8>,
    pub priority: u8,
    pub max_wait_seconds: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHoursOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overflow: Option<OverflowOut>,
    /// Whether the queue is within its business hours now.
    pub open_now: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl QueueOut {
    pub fn from_queue(q: &Queue, now: DateTime<Utc>) -> Self {
        QueueOut {
            id: q.id.to_string(),
            name: q.name.clone(),
            department_id: q.department_id.as_ref().map(|d| d.to_string()),
            skills: q.skills.clone(),
            priority: q.priority,
            max_wait_seconds: q.max_wait_secs,
            business_hours: q.hours.as_ref().map(|h| BusinessHoursOut {
                time_zone: h.time_zone.name().to_owned(),
                days: h.days.clone(),
                open: h.open_hhmm(),
                close: h.close_hhmm(),
            }),
            overflow: q.overflow.as_ref().map(|o| OverflowOut {
                kind: o.kind().to_owned(),
                target: o.target(),
            }),
            open_now: q.is_open(now),
            created_at: q.created_at,
            updated_at: q.updated_at,
        }
    }
}

fn hours(h: &BusinessHoursIn) -> ApiResult<BusinessHours> {
    let need = |v: Option<&str>, f: &str| {
        v.map(str::to_owned)
            .ok_or_else(|| ApiError::field(format!("businessHours.{f}"), "is required"))
    };
    let zone = need(h.time_zone.as_deref(), "timeZone")?;
    let open = need(h.open.as_deref(), "open")?;
    let close = need(h.close.as_deref(), "close")?;
    let days = h
        .days
        .as_ref()
        .ok_or_else(|| ApiError::field("businessHours.days", "is required"))?
        .iter()
        .map(|d| u8::try_from(*d).ok().filter(|d| (1..=7).contains(d)))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| ApiError::field("businessHours.days", "must list days 1 (Monday) to 7 (Sunday)"))?;
    Ok(BusinessHours::parse("businessHours", &zone, &days, &open, &close)?)
}

fn overflow(o: &OverflowIn, org: &Organisation) -> ApiResult<Overflow> {
    let kind = o.kind.as_deref().ok_or_else(|| ApiError::field("overflow.type", "is required"))?;
    let target = o.target.as_deref().map(str::trim);
    match kind {
        "queue" => {
            let t = target.ok_or_else(|| ApiError::field("overflow.target", "is required: a queue id"))?;
            let id: QueueId = t
                .parse()
                .map_err(|_| ApiError::field("overflow.target", "must be a queue id (que_...)"))?;
            Ok(Overflow::Queue(id))
        }
        "number" => {
            let t = target.ok_or_else(|| ApiError::field("overflow.target", "is required: an E.164 number"))?;
            Ok(Overflow::Number(fields::phone("overflow.target", t, org)?.to_string()))
        }
        "voicemail" if target.is_none() => Ok(Overflow::Voicemail),
        "voicemail" => Err(ApiError::field("overflow.target", "is not taken with voicemail")),
        _ => Err(ApiError::field("overflow.type", "must be queue, voicemail or number")),
    }
}

/// Applies `input` to `q`: every given field is checked and set.
fn apply(q: &mut Queue, input: &QueueIn, org: &Organisation) -> ApiResult<()> {
    if let Some(n) = fields::short("name", input.name.as_deref())? {
        q.name = n;
    }
    match &input.department_id {
        Some(Some(d)) => {
            let id: DepartmentId = d
                .trim()
                .parse()
                .map_err(|_| ApiError::field("departmentId", "must be a department id (dep_...)"))?;
            q.department_id = Some(id);
        }
        Some(None) => q.department_id = None,
        None => {}
    }
    if let Some(s) = &input.skills {
        q.skills = agents::parse_skills("skills", s)?;
    }
    if let Some(p) = input.priority {
        q.priority = u8::try_from(p)
            .ok()
            .filter(|p| (MIN_PRIORITY..=MAX_PRIORITY).contains(p))
            .ok_or_else(|| ApiError::field("priority", format!("must be from {MIN_PRIORITY} to {MAX_PRIORITY}")))?;
    }
    if let Some(w) = input.max_wait_seconds {
        q.max_wait_secs = u32::try_from(w)
            .ok()
            .filter(|w| (1..=MAX_WAIT_SECS).contains(w))
            .ok_or_else(|| ApiError::field("maxWaitSeconds", format!("must be from 1 to {MAX_WAIT_SECS}")))?;
    }
    match &input.business_hours {
        Some(Some(h)) => q.hours = Some(hours(h)?),
        Some(None) => q.hours = None,
        None => {}
    }
    match &input.overflow {
        Some(Some(o)) => q.overflow = Some(overflow(o, org)?),
        Some(None) => q.overflow = None,
        None => {}
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/queues", tag = "queues", request_body = QueueIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = QueueOut), (status = 400, description = "Bad input, an unknown department or overflow queue, or an overflow loop", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn create_queue(State(state): State<AppState>, auth: Auth, body: JsonBody<QueueIn>) -> ApiResult<Response> {
    if fields::short("name", body.value.name.as_deref())?.is_none() {
        return Err(ApiError::field("name", "is required"));
    }
    let now = state.clock.now();
    let mut q = Queue {
        id: QueueId::new(),
        org_id: auth.org.id.clone(),
        name: String::new(),
        department_id: None,
        skills: Default::default(),
        priority: DEFAULT_PRIORITY,
        max_wait_secs: DEFAULT_MAX_WAIT_SECS,
        hours: None,
        overflow: None,
        created_at: now,
        updated_at: now,
    };
    apply(&mut q, &body.value, &auth.org)?;
    let q = state.store.create_queue(q).await?;
    Ok(respond(StatusCode::CREATED, false, &QueueOut::from_queue(&q, now)))
}

#[utoipa::path(get, path = "/v1/queues", tag = "queues",
    params(("departmentId" = Option<String>, Query), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListOut<QueueOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_queues(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let department = fields::short("departmentId", q.get("departmentId"))?;
    // Text that is not a department id names no department: no queue is in it.
    let (rows, total) = match department.as_deref().map(str::parse::<DepartmentId>) {
        Some(Err(_)) => (Vec::new(), 0),
        Some(Ok(d)) => state.store.list_queues(&auth.org.id, Some(&d), page).await?,
        None => state.store.list_queues(&auth.org.id, None, page).await?,
    };
    let now = state.clock.now();
    Ok(respond_list(
        rows.iter().map(|r| QueueOut::from_queue(r, now)).collect(),
        total,
        page,
    ))
}

#[utoipa::path(get, path = "/v1/queues/{id}", tag = "queues", params(("id" = String, Path)),
    responses((status = 200, body = QueueOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_queue(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: QueueId = path_id(&id, "queue")?;
    let q = state.store.get_queue(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &QueueOut::from_queue(&q, state.clock.now())))
}

#[utoipa::path(patch, path = "/v1/queues/{id}", tag = "queues", params(("id" = String, Path)), request_body = QueueIn,
    responses((status = 200, body = QueueOut), (status = 400, description = "Bad input, an unknown department or overflow queue, or an overflow loop", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn update_queue(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<QueueIn>,
) -> ApiResult<Response> {
    let id: QueueId = path_id(&id, "queue")?;
    let mut q = state.store.get_queue(&auth.org.id, &id).await?;
    apply(&mut q, &body.value, &auth.org)?;
    q.updated_at = state.clock.now();
    let q = state.store.update_queue(q).await?;
    Ok(respond(StatusCode::OK, false, &QueueOut::from_queue(&q, state.clock.now())))
}

#[utoipa::path(delete, path = "/v1/queues/{id}", tag = "queues", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, description = "Another queue overflows into it", body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn delete_queue(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id: QueueId = path_id(&id, "queue")?;
    state.store.delete_queue(&auth.org.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
