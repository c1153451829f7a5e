//! `/api/calls`: initiate (through the core dial path), get, list, update,
//! the live calls (from the live board), logs, hang up and hold (core call
//! actions). Vocelio's statuses and ours are mapped in [`status_out`] and
//! [`status_in`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchboard_domain::call::CallReport;
use switchboard_domain::{Call, CallId, CallStatus, Direction};
use switchboard_store::CallFilter;
use switchboard_telephony::LiveAction;
use utoipa::ToSchema;

use super::{Ctx, Envelope, ListEnvelope, Meta, Paging, VocelioErrorBody, required};
use crate::api::fields;
use crate::core::calls::NewCall;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{JsonBody, Lenient, QueryMap, path_id};
use crate::identity::auth::Auth;
use crate::state::AppState;

/// Vocelio's word for a core status.
pub fn status_out(s: CallStatus) -> &'static str {
    match s {
        CallStatus::Scheduled | CallStatus::Queued => "queued",
        CallStatus::Initiated => "initiated",
        CallStatus::Ringing => "ringing",
        CallStatus::InProgress => "in_progress",
        CallStatus::Completed => "completed",
        CallStatus::Busy => "busy",
        CallStatus::NoAnswer => "no_answer",
        CallStatus::Voicemail => "voicemail",
        CallStatus::Failed | CallStatus::Canceled => "failed",
    }
}

const STATUSES: &str = "queued, initiated, ringing, answered, in_progress, completed, failed, busy, no_answer, voicemail";

/// The core statuses a Vocelio status names.
pub fn status_in(field: &str, v: &str) -> ApiResult<Vec<CallStatus>> {
    Ok(match v.trim() {
        "queued" => vec![CallStatus::Scheduled, CallStatus::Queued],
        "initiated" => vec![CallStatus::Initiated],
        "ringing" => vec![CallStatus::Ringing],
        "answered" | "in_progress" => vec![CallStatus::InProgress],
        "completed" => vec![CallStatus::Completed],
        "failed" => vec![CallStatus::Failed, CallStatus::Canceled],
        "busy" => vec![CallStatus::Busy],
        "no_answer" => vec![CallStatus::NoAnswer],
        "voicemail" => vec![CallStatus::Voicemail],
        _ => return Err(ApiError::field(field, format!("must be one of {STATUSES}"))),
    })
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioAnalysis)]
pub struct Analysis {
    /// positive, negative, neutral or mixed (from the call's analysis); null before.
    pub sentiment: Option<String>,
    /// Null: not computed by this server.
    pub conversion: Option<bool>,
    /// Null: not computed by this server.
    pub quality_score: Option<f64>,
}

/// A Vocelio call.
#[derive(Debug, Serialize, ToSchema)]
pub struct VocelioCall {
    pub call_id: String,
    pub status: &'static str,
    pub direction: &'static str,
    pub phone_number: Option<String>,
    pub campaign_id: Option<String>,
    pub agent_id: Option<String>,
    /// Seconds talked.
    pub duration: i64,
    pub cost: Option<f64>,
    pub recording_url: Option<String>,
    pub transcription: Option<String>,
    pub disposition: Option<String>,
    pub agent_notes: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub customer_data: Option<Value>,
    pub customer_satisfaction: Option<f64>,
    pub analysis: Analysis,
    /// The carrier's call id.
    pub twilio_call_sid: Option<String>,
    pub created_at: String,
    pub answered_at: Option<String>,
    pub ended_at: Option<String>,
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl VocelioCall {
    pub fn from_call(c: &Call) -> Self {
        let outbound = c.direction == Direction::Outbound;
        VocelioCall {
            call_id: c.id.to_string(),
            status: status_out(c.status),
            direction: c.direction.as_str(),
            phone_number: c
                .customer_phone
                .clone()
                .or_else(|| if outbound { c.to.clone() } else { c.from.clone() }),
            campaign_id: c.campaign_id.clone(),
            agent_id: c.agent_id.clone(),
            duration: c.duration.unwrap_or(0),
            cost: c.cost,
            recording_url: c.recording_url.clone(),
            transcription: c.transcript.clone(),
            disposition: c.outcome.clone(),
            agent_notes: c.notes.clone(),
            customer_data: c.collected_data.clone(),
            customer_satisfaction: c
                .metadata
                .as_ref()
                .and_then(|m| m.get("customer_satisfaction"))
                .and_then(Value::as_f64),
            analysis: Analysis {
                sentiment: c.sentiment.map(|s| s.as_str().to_owned()),
                conversion: None,
                quality_score: None,
            },
            twilio_call_sid: c.external_id.clone(),
            created_at: ts(c.created_at),
            answered_at: c.answered_at.map(ts),
            ended_at: c.ended_at.map(ts),
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = VocelioCallSettings)]
pub struct CallSettings {
    pub recording: Option<bool>,
    pub transcription: Option<bool>,
    /// Seconds, 1 to 14,400.
    pub max_duration: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = VocelioInitiateIn)]
pub struct InitiateIn {
    pub campaign_id: Option<String>,
    /// E.164, or national in the organisation's region.
    pub phone_number: Option<String>,
    pub agent_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioInitiateOut)]
pub struct InitiateOut {
    pub call_id: String,
    pub status: &'static str,
    pub twilio_call_sid: Option<String>,
    pub created_at: String,
}

/// Reads `settings`, naming `settings.<field>` when one is wrong.
fn settings(v: Option<&Value>) -> ApiResult<Option<Value>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let s: CallSettings = match v {
        Value::Object(m) => {
            for (k, val) in m {
                let ok = match k.as_str() {
                    "recording" | "transcription" => val.is_boolean() || val.is_null(),
                    "max_duration" => val.is_i64() || val.is_null(),
                    _ => true,
                };
                if !ok {
                    let want = if k == "max_duration" {
                        "must be a whole number of seconds"
                    } else {
                        "must be true or false"
                    };
                    return Err(ApiError::field(format!("settings.{k}"), want));
                }
            }
            serde_json::from_value(v.clone()).map_err(|_| ApiError::field("settings", "must be an object"))?
        }
        _ => return Err(ApiError::field("settings", "must be an object")),
    };
    if let Some(d) = s.max_duration
        && !(1..=14_400).contains(&d)
    {
        return Err(ApiError::field("settings.max_duration", "must be from 1 to 14400 seconds"));
    }
    Ok(Some(json!({
        "recording": s.recording,
        "transcription": s.transcription,
        "max_duration": s.max_duration,
    })))
}

#[utoipa::path(post, operation_id = "vocelio_calls_initiate", path = "/api/calls", tag = "vocelio", request_body = InitiateIn,
    responses((status = 201, body = Envelope<InitiateOut>), (status = 400, body = VocelioErrorBody), (status = 402, body = VocelioErrorBody),
        (status = 429, body = VocelioErrorBody), (status = 503, body = VocelioErrorBody)))]
pub async fn initiate(State(state): State<AppState>, ctx: Ctx, auth: Auth, body: JsonBody<InitiateIn, Lenient>) -> ApiResult<Response> {
    let b = body.value;
    let phone = fields::phone("phone_number", &required("phone_number", b.phone_number.as_deref())?, &auth.org)?;
    let metadata = settings(b.settings.as_ref())?.map(|s| json!({ "vocelio_settings": s }));
    let spec = NewCall {
        direction: Direction::Outbound,
        require_number: true,
        customer_number: Some(phone.to_string()),
        campaign_id: fields::short("campaign_id", b.campaign_id.as_deref())?,
        agent_id: fields::short("agent_id", b.agent_id.as_deref())?,
        metadata,
        ..Default::default()
    };
    // Through the one dial path: the do-not-call list, the calling window and the caps apply.
    let call = crate::core::dial::place_now(&state, &auth.org, spec, "phone_number", Default::default())
        .await
        .map_err(|e| names(e.into()))?;
    if call.outcome.as_deref() == Some("carrier_error") {
        return Err(ApiError::new(ErrorKind::Unavailable, "The carrier did not place the call"));
    }
    let status = match call.status {
        CallStatus::Scheduled | CallStatus::Queued => "initiated",
        s => status_out(s),
    };
    Ok(ctx.ok(
        StatusCode::CREATED,
        InitiateOut {
            call_id: call.id.to_string(),
            status,
            twilio_call_sid: call.external_id.clone(),
            created_at: ts(call.created_at),
        },
    ))
}

/// The core's field names in Vocelio's spelling.
fn names(mut e: ApiError) -> ApiError {
    if let Some(d) = e.details.as_mut()
        && let Some(f) = d["field"].as_str()
    {
        let renamed = match f {
            "campaignId" => "campaign_id",
            "agentId" => "agent_id",
            "phone" => "phone_number",
            "notes" => "agent_notes",
            "outcome" => "disposition",
            "collectedData" => "customer_data",
            other => other,
        }
        .to_owned();
        d["field"] = json!(renamed);
    }
    e
}

#[utoipa::path(get, operation_id = "vocelio_calls_get", path = "/api/calls/{call_id}", tag = "vocelio", params(("call_id" = String, Path)),
    responses((status = 200, body = Envelope<VocelioCall>), (status = 404, body = VocelioErrorBody)))]
pub async fn get(State(state): State<AppState>, ctx: Ctx, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let call = state.store.get_call(&auth.org.id, &id).await?;
    Ok(ctx.ok(StatusCode::OK, VocelioCall::from_call(&call)))
}

fn filter(q: &QueryMap, auth: &Auth) -> ApiResult<CallFilter> {
    let tz = crate::api::v1::analytics::request_tz(q, &auth.org)?;
    let start = q.start("date_from", tz)?;
    let end = q.end("date_to", tz)?;
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        return Err(ApiError::field("date_from", "must be before date_to"));
    }
    Ok(CallFilter {
        statuses: q.get("status").map(|s| status_in("status", s)).transpose()?.unwrap_or_default(),
        campaign_id: fields::short("campaign_id", q.get("campaign_id"))?,
        agent_id: fields::short("agent_id", q.get("agent_id"))?,
        start,
        end,
        ..Default::default()
    })
}

async fn list_calls(state: &AppState, ctx: &Ctx, auth: &Auth, q: &QueryMap) -> ApiResult<Response> {
    let paging = Paging::read(q, &["created_at"])?;
    let filter = filter(q, auth)?;
    let (mut calls, total) = state.store.list_calls(&auth.org.id, &filter, paging.page).await?;
    calls.sort_by_key(|c| c.created_at);
    if paging.descending {
        calls.reverse();
    }
    Ok(ctx.list(calls.iter().map(VocelioCall::from_call).collect(), total, &paging))
}

#[utoipa::path(get, operation_id = "vocelio_calls_list", path = "/api/calls", tag = "vocelio",
    params(("status" = Option<String>, Query), ("campaign_id" = Option<String>, Query), ("agent_id" = Option<String>, Query),
        ("date_from" = Option<String>, Query), ("date_to" = Option<String>, Query),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query), ("sort" = Option<String>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListEnvelope<VocelioCall>), (status = 400, body = VocelioErrorBody)))]
pub async fn list(State(state): State<AppState>, ctx: Ctx, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    list_calls(&state, &ctx, &auth, &q).await
}

#[utoipa::path(get, operation_id = "vocelio_calls_logs", path = "/api/calls/logs", tag = "vocelio",
    params(("status" = Option<String>, Query), ("campaign_id" = Option<String>, Query), ("agent_id" = Option<String>, Query),
        ("date_from" = Option<String>, Query), ("date_to" = Option<String>, Query),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query), ("sort" = Option<String>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListEnvelope<VocelioCall>), (status = 400, body = VocelioErrorBody)))]
pub async fn logs(State(state): State<AppState>, ctx: Ctx, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    list_calls(&state, &ctx, &auth, &q).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = VocelioCallUpdateIn)]
pub struct CallUpdateIn {
    /// A final status (completed, failed, busy, no_answer, voicemail) or a live one.
    pub status: Option<String>,
    /// interested, not_interested, callback, demo_scheduled, or any other label.
    pub disposition: Option<String>,
    /// 0 to 5.
    pub customer_satisfaction: Option<f64>,
    pub agent_notes: Option<String>,
    /// The call-center service's name for `agent_notes`.
    pub notes: Option<String>,
    pub agent_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub customer_data: Option<Value>,
}

#[utoipa::path(put, operation_id = "vocelio_calls_update", path = "/api/calls/{call_id}", tag = "vocelio", params(("call_id" = String, Path)), request_body = CallUpdateIn,
    responses((status = 200, body = Envelope<VocelioCall>), (status = 400, body = VocelioErrorBody), (status = 404, body = VocelioErrorBody), (status = 409, body = VocelioErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<CallUpdateIn, Lenient>,
) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let b = body.value;
    let status = b
        .status
        .as_deref()
        .map(|s| status_in("status", s).map(|v| v[v.len() - 1]))
        .transpose()?;
    if let Some(s) = b.customer_satisfaction
        && !(0.0..=5.0).contains(&s)
    {
        return Err(ApiError::field("customer_satisfaction", "must be from 0 to 5"));
    }
    let notes = match (&b.agent_notes, &b.notes) {
        (Some(n), _) => fields::long("agent_notes", Some(n))?,
        (None, Some(n)) => fields::long("notes", Some(n))?,
        (None, None) => None,
    };
    let disposition = fields::short("disposition", b.disposition.as_deref())?;
    let agent_id = fields::short("agent_id", b.agent_id.as_deref())?;
    let customer_data = fields::object("customer_data", b.customer_data.as_ref())?;
    let call = state.store.get_call(&auth.org.id, &id).await?;
    let metadata = b.customer_satisfaction.map(|s| {
        let mut m = match call.metadata.clone() {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        m.insert("customer_satisfaction".into(), json!(s));
        Value::Object(m)
    });
    let report = CallReport {
        status,
        outcome: disposition,
        notes,
        agent_id,
        collected_data: customer_data,
        metadata,
        ..Default::default()
    };
    let outcome = crate::core::calls::report(&state, &auth.org, &id, report, None)
        .await
        .map_err(|e| names(e.into()))?;
    Ok(ctx.ok(StatusCode::OK, VocelioCall::from_call(&outcome.call)))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioActiveCall)]
pub struct ActiveCall {
    pub call_id: String,
    pub status: String,
    /// Seconds so far.
    pub duration: i64,
    /// Null: not computed by this server.
    pub quality_score: Option<f64>,
    pub phone_number: Option<String>,
    pub campaign_id: Option<String>,
    pub agent_id: Option<String>,
    pub sentiment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioActiveSummary)]
pub struct ActiveSummary {
    pub total_active: usize,
    /// Seconds.
    pub average_duration: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioActiveData)]
pub struct ActiveData {
    pub active_calls: Vec<ActiveCall>,
    pub summary: ActiveSummary,
}

/// `data.active_calls` (the reference) and `active_calls` (the portal).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioActiveEnvelope)]
pub struct ActiveEnvelope {
    pub success: bool,
    pub data: ActiveData,
    pub active_calls: Vec<ActiveCall>,
    pub summary: ActiveSummary,
    pub meta: Meta,
}

/// A live board view in Vocelio's shape.
pub fn active_call(v: &Value) -> ActiveCall {
    let s = |k: &str| v[k].as_str().map(str::to_owned);
    let status = v["status"]
        .as_str()
        .and_then(CallStatus::parse)
        .map(status_out)
        .unwrap_or("in_progress")
        .to_owned();
    let outbound = v["direction"] == "outbound";
    ActiveCall {
        call_id: s("callId").unwrap_or_default(),
        status,
        duration: v["durationSoFar"].as_i64().unwrap_or(0),
        quality_score: None,
        phone_number: if outbound { s("to") } else { s("from") },
        campaign_id: s("campaignId"),
        agent_id: s("agentId"),
        sentiment: s("sentiment"),
    }
}

/// The live calls now, in Vocelio's shape.
pub async fn active_now(state: &AppState, auth: &Auth) -> ApiResult<Vec<ActiveCall>> {
    state.streams.ensure_started().await?;
    let board = state.streams.board();
    board.ensure_seeded(&auth.org.id).await?;
    let (_, calls) = board.active_now(&auth.org.id);
    Ok(calls.iter().map(active_call).collect())
}

fn summary(calls: &[ActiveCall]) -> ActiveSummary {
    let total: i64 = calls.iter().map(|c| c.duration).sum();
    ActiveSummary {
        total_active: calls.len(),
        average_duration: if calls.is_empty() { 0 } else { total / calls.len() as i64 },
    }
}

#[utoipa::path(get, operation_id = "vocelio_calls_active", path = "/api/calls/active", tag = "vocelio",
    responses((status = 200, body = ActiveEnvelope)))]
pub async fn active(State(state): State<AppState>, ctx: Ctx, auth: Auth) -> ApiResult<Response> {
    let calls = active_now(&state, &auth).await?;
    let body = json!({
        "success": true,
        "data": {"active_calls": &calls, "summary": summary(&calls)},
        "active_calls": &calls,
        "summary": summary(&calls),
        "meta": ctx.meta(),
    });
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

async fn act(state: &AppState, ctx: &Ctx, auth: &Auth, id: &str, action: LiveAction) -> ApiResult<Response> {
    let id: CallId = path_id(id, "call")?;
    let call = state.store.get_call(&auth.org.id, &id).await?;
    if call.status.is_terminal() {
        return Err(ApiError::new(
            ErrorKind::IllegalTransition,
            format!("The call has already ended ({})", status_out(call.status)),
        ));
    }
    crate::api::v1::call_actions::act(state, &call, action).await?;
    let call = state.store.get_call(&auth.org.id, &id).await?;
    Ok(ctx.ok(StatusCode::OK, VocelioCall::from_call(&call)))
}

#[utoipa::path(post, operation_id = "vocelio_calls_hangup", path = "/api/calls/{call_id}/hangup", tag = "vocelio", params(("call_id" = String, Path)),
    responses((status = 200, body = Envelope<VocelioCall>), (status = 404, body = VocelioErrorBody), (status = 409, body = VocelioErrorBody)))]
pub async fn hangup(State(state): State<AppState>, ctx: Ctx, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    act(&state, &ctx, &auth, &id, LiveAction::Hangup).await
}

#[utoipa::path(post, operation_id = "vocelio_calls_hold", path = "/api/calls/{call_id}/hold", tag = "vocelio", params(("call_id" = String, Path)),
    responses((status = 200, body = Envelope<VocelioCall>), (status = 404, body = VocelioErrorBody), (status = 409, body = VocelioErrorBody)))]
pub async fn hold(State(state): State<AppState>, ctx: Ctx, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    act(&state, &ctx, &auth, &id, LiveAction::Hold).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = VocelioDncCheckIn)]
pub struct DncCheckIn {
    /// E.164, or national in the organisation's region.
    pub phone_number: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioDncCheckOut)]
pub struct DncCheckOut {
    /// The number as we store it (E.164).
    pub phone_number: String,
    pub on_dnc_list: bool,
    /// False when listed: the dial path refuses listed numbers.
    pub can_call: bool,
    pub reason: Option<String>,
    pub listed_at: Option<String>,
}

#[utoipa::path(post, path = "/api/calls/dnc-check", tag = "vocelio", operation_id = "vocelio_calls_dnc_check", request_body = DncCheckIn,
    responses((status = 200, body = Envelope<DncCheckOut>), (status = 400, body = VocelioErrorBody)))]
pub async fn dnc_check(State(state): State<AppState>, ctx: Ctx, auth: Auth, body: JsonBody<DncCheckIn, Lenient>) -> ApiResult<Response> {
    let phone = fields::phone(
        "phone_number",
        &required("phone_number", body.value.phone_number.as_deref())?,
        &auth.org,
    )?;
    let entry = state.store.dnc_entry(&auth.org.id, phone.as_str()).await?;
    Ok(ctx.ok(
        StatusCode::OK,
        DncCheckOut {
            phone_number: phone.to_string(),
            on_dnc_list: entry.is_some(),
            can_call: entry.is_none(),
            reason: entry.as_ref().and_then(|e| e.reason.clone()),
            listed_at: entry.map(|e| ts(e.created_at)),
        },
    ))
}
