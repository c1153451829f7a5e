//! The Callmind call-history API (`/api/call-history`,
//! `/api/webhooks/calls/...`): telephony backends report calls keyed by
//! their `callSid`, which deduplicates across every route (a webhook
//! retried three times makes one call; started + completed make one call).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_domain::call::CallReport;
use switchboard_domain::{Call, CallId, CallStatus, Direction, PhoneNumber};
use switchboard_store::{CallFilter, ReportOutcome};
use utoipa::ToSchema;

use crate::api::fields;
use crate::api::v1::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, Pagination, respond};
use crate::core::call_list;
use crate::core::calls::{self as core, NewCall};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Lenient, QueryMap, path_id};
use crate::identity::auth::Auth;
use crate::state::AppState;

/// Callmind's statuses and ours, both ways.
pub fn status_in(field: &str, v: Option<&str>) -> ApiResult<Option<CallStatus>> {
    v.map(|s| match s.trim().to_ascii_lowercase().as_str() {
        "missed" => Ok(CallStatus::NoAnswer),
        other => CallStatus::parse(other).ok_or_else(|| ApiError::field(field, "must be one of in-progress, completed, missed, failed")),
    })
    .transpose()
}

pub fn status_out(s: CallStatus) -> &'static str {
    match s {
        CallStatus::InProgress => "in-progress",
        s if s.is_missed() => "missed",
        CallStatus::Completed | CallStatus::Voicemail => "completed",
        CallStatus::Failed => "failed",
        // Scheduled, queued, initiated, ringing.
        _ => "ringing",
    }
}

/// A Callmind call record.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallRecordOut {
    pub id: String,
    pub call_sid: Option<String>,
    pub agent_id: Option<String>,
    pub user_id: Option<String>,
    pub org_id: Option<String>,
    pub direction: &'static str,
    pub caller_number: Option<String>,
    pub caller_name: Option<String>,
    pub status: &'static str,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration: Option<i64>,
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    pub sentiment: Option<&'static str>,
    pub topics: Option<Vec<String>>,
    pub summary: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub collected_data: Option<Value>,
    pub cost: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CallRecordOut {
    pub fn from_call(c: &Call) -> Self {
        let meta = |k: &str| {
            c.metadata
                .as_ref()
                .and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        CallRecordOut {
            id: c.id.to_string(),
            call_sid: c.external_id.clone(),
            agent_id: c.agent_id.clone(),
            user_id: meta("userId"),
            org_id: meta("orgId"),
            direction: c.direction.as_str(),
            caller_number: c.customer_phone.clone().or_else(|| c.from.clone()),
            caller_name: c.customer_name.clone(),
            status: status_out(c.status),
            started_at: c.answered_at.or(c.initiated_at),
            ended_at: c.ended_at,
            duration: c.duration,
            recording_url: c.recording_url.clone(),
            transcript: c.transcript.clone(),
            sentiment: c.sentiment.map(|s| s.as_str()),
            topics: c.topics.clone(),
            summary: c.summary.clone(),
            collected_data: c.collected_data.clone(),
            cost: c.cost,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Everything any Callmind route may send about a call.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallmindIn {
    pub agent_id: Option<String>,
    pub user_id: Option<String>,
    pub org_id: Option<String>,
    pub call_sid: Option<String>,
    pub direction: Option<String>,
    pub caller_number: Option<String>,
    pub caller_name: Option<String>,
    /// in-progress, completed, missed or failed.
    pub status: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub duration: Option<i64>,
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    /// positive, negative or neutral.
    pub sentiment: Option<String>,
    pub topics: Option<Vec<String>>,
    pub summary: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub collected_data: Option<Value>,
    pub cost: Option<f64>,
}

fn sentiment(v: Option<&str>) -> ApiResult<Option<switchboard_domain::call::Sentiment>> {
    match v.map(|s| s.trim().to_ascii_lowercase()) {
        Some(s) if !["positive", "negative", "neutral"].contains(&s.as_str()) => {
            Err(ApiError::field("sentiment", "must be one of positive, negative, neutral"))
        }
        other => fields::sentiment("sentiment", other.as_deref()),
    }
}

/// The report part of a Callmind body.
fn report(b: &CallmindIn, status: Option<CallStatus>) -> ApiResult<CallReport> {
    let started = fields::reported("startedAt", b.started_at.as_deref())?;
    let ended = fields::reported("endedAt", b.ended_at.as_deref())?;
    if let (Some(s), Some(e)) = (started, ended)
        && e < s
    {
        return Err(ApiError::pair("endedAt", "startedAt", "must not be before startedAt"));
    }
    Ok(CallReport {
        status,
        // Callmind updates merge and may change an earlier final status.
        correction: true,
        at: ended,
        duration: fields::duration("duration", b.duration)?,
        recording_url: fields::url("recordingUrl", b.recording_url.as_deref())?,
        transcript: fields::transcript("transcript", b.transcript.as_deref())?,
        sentiment: sentiment(b.sentiment.as_deref())?,
        topics: fields::labels("topics", b.topics.as_deref())?,
        summary: fields::long("summary", b.summary.as_deref())?,
        collected_data: fields::object("collectedData", b.collected_data.as_ref())?,
        cost: fields::cost("cost", b.cost)?,
        agent_id: fields::short("agentId", b.agent_id.as_deref())?,
        answered_at: started.filter(|_| status.is_some_and(|s| s.was_answered())),
        ..Default::default()
    })
}

/// The call a Callmind body describes, for creation.
fn new_call(auth: &Auth, b: &CallmindIn) -> ApiResult<NewCall> {
    let mut metadata = serde_json::Map::new();
    if let Some(u) = fields::short("userId", b.user_id.as_deref())? {
        metadata.insert("userId".into(), json!(u));
    }
    if let Some(o) = fields::short("orgId", b.org_id.as_deref())? {
        metadata.insert("orgId".into(), json!(o));
    }
    let number = fields::short("callerNumber", b.caller_number.as_deref())?;
    Ok(NewCall {
        direction: fields::direction("direction", b.direction.as_deref())?.unwrap_or(Direction::Inbound),
        customer_number: number.map(|n| PhoneNumber::normalise_reported(&n, auth.org.region())),
        customer_name: fields::short("callerName", b.caller_name.as_deref())?,
        agent_id: fields::short("agentId", b.agent_id.as_deref())?,
        metadata: (!metadata.is_empty()).then_some(Value::Object(metadata)),
        initiated_at: fields::reported("startedAt", b.started_at.as_deref())?,
        ..Default::default()
    })
}

/// Creates or updates the call named by `callSid`; answers 201 when created.
async fn upsert(state: &AppState, auth: &Auth, b: &CallmindIn, status: Option<CallStatus>) -> ApiResult<Response> {
    let spec = new_call(auth, b)?;
    let report = report(b, status)?;
    let outcome: ReportOutcome = match fields::short("callSid", b.call_sid.as_deref())? {
        Some(sid) => core::report_external(state, &auth.org, sid, spec, "callerNumber", report, None)
            .await
            .map_err(|e| callmind_names(e.into()))?,
        None => {
            let mut spec = spec;
            spec.report = report.clone();
            spec.status = report.status;
            let call = core::create(state, &auth.org, spec, "callerNumber", None)
                .await
                .map_err(|e| callmind_names(e.into()))?;
            ReportOutcome {
                call,
                transition: None,
                changed: true,
                created: true,
            }
        }
    };
    let code = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(respond(code, false, &CallRecordOut::from_call(&outcome.call)))
}

#[utoipa::path(post, path = "/api/call-history", tag = "callmind", request_body = CallmindIn,
    responses((status = 201, body = CallRecordOut), (status = 200, body = CallRecordOut), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create(State(state): State<AppState>, auth: Auth, body: JsonBody<CallmindIn, Lenient>) -> ApiResult<Response> {
    // The spec's field table makes `status` required here (the webhook
    // routes imply theirs).
    let status = status_in("status", body.value.status.as_deref())?.ok_or_else(|| ApiError::field("status", STATUS_REQUIRED))?;
    upsert(&state, &auth, &body.value, Some(status)).await
}

const STATUS_REQUIRED: &str = "is required: one of in-progress, completed, missed, failed";

/// Callmind's names for the call's times, in errors from the core's order rule.
fn callmind_names(e: ApiError) -> ApiError {
    let rename = |f: &str| match f {
        "initiatedAt" | "ringingAt" | "answeredAt" => "startedAt".to_owned(),
        other => other.to_owned(),
    };
    match e
        .details
        .as_ref()
        .and_then(|d| Some((d["field"].as_str()?, d["related"].as_str()?, d["reason"].as_str()?)))
    {
        Some((field, related, reason)) => ApiError::pair(rename(field), rename(related), reason),
        None => e,
    }
}

#[utoipa::path(patch, path = "/api/call-history/{id}/status", tag = "callmind", params(("id" = String, Path)), request_body = CallmindIn,
    responses((status = 200, body = CallRecordOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_status(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<CallmindIn, Lenient>,
) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let status = status_in("status", body.value.status.as_deref())?.ok_or_else(|| ApiError::field("status", STATUS_REQUIRED))?;
    let outcome = core::report(&state, &auth.org, &id, report(&body.value, Some(status))?, None)
        .await
        .map_err(|e| callmind_names(e.into()))?;
    Ok(respond(StatusCode::OK, false, &CallRecordOut::from_call(&outcome.call)))
}

#[utoipa::path(get, path = "/api/call-history/{id}", tag = "callmind", params(("id" = String, Path)),
    responses((status = 200, body = CallRecordOut), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let call = state.store.get_call(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &CallRecordOut::from_call(&call)))
}

#[utoipa::path(get, path = "/api/call-history", tag = "callmind",
    params(("agentId" = Option<String>, Query), ("status" = Option<String>, Query), ("page" = Option<u32>, Query, description = "(page - 1) × limit may reach 10,000 rows; deeper pages need the cursor"), ("limit" = Option<u32>, Query),
        ("cursor" = Option<String>, Query, description = "`pagination.nextCursor` of the previous page")),
    responses((status = 200, body = ListOut<CallRecordOut>), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let statuses = match status_in("status", q.get("status"))? {
        Some(CallStatus::NoAnswer) => CallStatus::MISSED.to_vec(),
        Some(CallStatus::Completed) => vec![CallStatus::Completed, CallStatus::Voicemail],
        Some(s) => vec![s],
        None => vec![],
    };
    let filter = CallFilter {
        statuses,
        agent_id: fields::short("agentId", q.get("agentId"))?,
        ..Default::default()
    };
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = q.get("cursor").map(|c| call_list::parse_cursor("cursor", c)).transpose()?;
    let out = call_list::page(&state, &auth.org.id, &filter, cursor, page, "page").await?;
    let data = out.calls.iter().map(CallRecordOut::from_call).collect();
    let mut pagination = Pagination::new(out.total, page);
    pagination.next_cursor = out.next_cursor;
    Ok(respond(StatusCode::OK, false, &ListOut { data, pagination }))
}

#[utoipa::path(post, path = "/api/webhooks/calls/started", tag = "callmind", request_body = CallmindIn,
    responses((status = 201, body = CallRecordOut), (status = 200, body = CallRecordOut), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn started(State(state): State<AppState>, auth: Auth, body: JsonBody<CallmindIn, Lenient>) -> ApiResult<Response> {
    if body.value.call_sid.is_none() {
        return Err(ApiError::field("callSid", "is required"));
    }
    upsert(&state, &auth, &body.value, Some(CallStatus::InProgress)).await
}

#[utoipa::path(post, path = "/api/webhooks/calls/completed", tag = "callmind", request_body = CallmindIn,
    responses((status = 201, body = CallRecordOut), (status = 200, body = CallRecordOut), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn completed(State(state): State<AppState>, auth: Auth, body: JsonBody<CallmindIn, Lenient>) -> ApiResult<Response> {
    if body.value.call_sid.is_none() {
        return Err(ApiError::field("callSid", "is required"));
    }
    let status = status_in("status", body.value.status.as_deref())?.unwrap_or(CallStatus::Completed);
    upsert(&state, &auth, &body.value, Some(status)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table_round_trips_callmind_values() {
        for s in ["in-progress", "completed", "missed", "failed"] {
            let core = status_in("status", Some(s)).unwrap().unwrap();
            assert_eq!(status_out(core), s);
        }
        assert!(status_in("status", Some("dancing")).is_err());
    }
}
