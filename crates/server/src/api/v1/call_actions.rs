//! Live-call control and transcripts: `POST /v1/calls/{id}/actions` (the
//! one route every dialect's hang-up, hold, mute, DTMF, say, play, gather
//! and transfer builds on) and `GET /v1/calls/{id}/transcript`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_domain::call::CallReport;
use switchboard_domain::script::{InputMode, TransferMode};
use switchboard_domain::transcript::{Segment, to_text};
use switchboard_domain::{Call, CallId, CallStatus};
use switchboard_store::CallTarget;
use switchboard_telephony::{CallRef, LiveAction};
use utoipa::ToSchema;

use super::calls::{CallOut, native_status};
use super::{ErrorBody, respond};
use crate::api::fields;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{JsonBody, QueryMap, path_id};
use crate::identity::auth::Auth;
use crate::state::AppState;

/// Longest text a `say` action speaks.
pub const MAX_SAY_CHARS: usize = 4_000;

/// An action on a live call.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionIn {
    /// `hangup`, `hold`, `unhold`, `mute`, `unmute`, `dtmf`, `say`, `play`, `gather` or `transfer`.
    pub action: Option<String>,
    /// dtmf: keys to send, `0-9 * #` and `w` (a half-second pause).
    pub digits: Option<String>,
    /// say: what to speak (at most 4,000 characters).
    pub text: Option<String>,
    /// say: one of the platform's voices.
    pub voice: Option<String>,
    /// play: an audio URL (http or https).
    pub url: Option<String>,
    /// gather: `dtmf`, `speech` or `both` (default).
    pub input: Option<String>,
    pub num_digits: Option<u8>,
    /// gather: seconds to wait (1-60, default 5).
    pub timeout_secs: Option<u32>,
    /// transfer: a number (E.164), a queue id or an agent id.
    pub to: Option<String>,
    /// transfer: `cold` (default) or `warm`.
    pub mode: Option<String>,
    /// transfer: context for whoever takes the call.
    pub note: Option<String>,
}

/// The action's outcome: the call after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionOut {
    pub action: &'static str,
    pub call: CallOut,
}

/// Reads an action, naming the field that is wrong.
pub fn parse_action(a: &ActionIn) -> ApiResult<LiveAction> {
    let name = a.action.as_deref().map(str::trim).unwrap_or("");
    let required = |field: &str, v: &Option<String>| -> ApiResult<String> {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::field(field, format!("is required for {name}")))
    };
    Ok(match name {
        "hangup" => LiveAction::Hangup,
        "hold" => LiveAction::Hold,
        "unhold" => LiveAction::Unhold,
        "mute" => LiveAction::Mute,
        "unmute" => LiveAction::Unmute,
        "dtmf" => {
            let digits = required("digits", &a.digits)?;
            if digits.len() > 64 || !digits.chars().all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'w' | 'W')) {
                return Err(ApiError::field(
                    "digits",
                    "must be 1 to 64 of 0-9, *, # and w (a half-second pause)",
                ));
            }
            LiveAction::Dtmf { digits }
        }
        "say" => {
            let text = required("text", &a.text)?;
            if text.chars().count() > MAX_SAY_CHARS {
                return Err(ApiError::field("text", format!("must be at most {MAX_SAY_CHARS} characters")));
            }
            LiveAction::Say {
                text,
                voice: fields::short("voice", a.voice.as_deref())?,
            }
        }
        "play" => LiveAction::Play {
            url: fields::url("url", Some(&required("url", &a.url)?))?.unwrap_or_default(),
        },
        "gather" => {
            let input = match a.input.as_deref() {
                None => InputMode::Both,
                Some(v) => InputMode::parse(v).ok_or_else(|| ApiError::field("input", "must be dtmf, speech or both"))?,
            };
            if a.num_digits.is_some_and(|n| !(1..=20).contains(&n)) {
                return Err(ApiError::field("numDigits", "must be 1 to 20"));
            }
            let timeout_secs = a.timeout_secs.unwrap_or(5);
            if !(1..=60).contains(&timeout_secs) {
                return Err(ApiError::field("timeoutSecs", "must be 1 to 60"));
            }
            LiveAction::Gather {
                input,
                num_digits: a.num_digits,
                timeout_secs,
            }
        }
        "transfer" => {
            let to = required("to", &a.to)?;
            if to.len() > 64 {
                return Err(ApiError::field("to", "must be at most 64 characters"));
            }
            let mode = match a.mode.as_deref() {
                None => TransferMode::Cold,
                Some(v) => TransferMode::parse(v).ok_or_else(|| ApiError::field("mode", "must be cold or warm"))?,
            };
            LiveAction::Transfer {
                to,
                mode,
                note: fields::long("note", a.note.as_deref())?,
            }
        }
        "" => {
            return Err(ApiError::field(
                "action",
                format!("is required: one of {}", LiveAction::NAMES.join(", ")),
            ));
        }
        other => {
            return Err(ApiError::field(
                "action",
                format!("'{other}' is not an action: use one of {}", LiveAction::NAMES.join(", ")),
            ));
        }
    })
}

/// Carries out an action on a live call through the carrier, and records
/// it on the call's timeline (and so as a `call.event` in the outbox).
pub async fn act(state: &AppState, call: &Call, action: LiveAction) -> ApiResult<Call> {
    if action == LiveAction::Hangup && matches!(call.status, CallStatus::Scheduled | CallStatus::Queued) && call.external_id.is_none() {
        // Not with the carrier yet: hanging up is cancelling.
        return Ok(state.store.cancel_call(&call.org_id, &call.id, None).await?.call);
    }
    let placed_hangup = action == LiveAction::Hangup && call.status == CallStatus::Queued;
    if !placed_hangup && !matches!(call.status, CallStatus::Initiated | CallStatus::Ringing | CallStatus::InProgress) {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            format!(
                "The call is {}, not live: actions apply to initiated, ringing or in-progress calls",
                native_status(call.status)
            ),
        ));
    }
    if !matches!(action, LiveAction::Hangup) && call.status != CallStatus::InProgress {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            format!(
                "The call is {}: only a connected call can {}",
                native_status(call.status),
                action.name()
            ),
        ));
    }
    let r = CallRef {
        org_id: call.org_id.clone(),
        call_id: call.id.clone(),
        external_id: call.external_id.clone(),
    };
    let mut data = serde_json::to_value(&action).unwrap_or_else(|_| json!({}));
    if let Some(m) = data.as_object_mut() {
        m.remove("action");
    }
    let carried = state.telephony.carrier.act(&r, &action).await;
    if let Err(e) = &carried {
        tracing::warn!(call = %call.id, error = %e, "carrier could not carry out the action");
        if action == LiveAction::Hangup {
            // The carrier no longer has it: end the call here.
            let status = if call.status.was_answered() {
                CallStatus::Completed
            } else {
                CallStatus::Canceled
            };
            let end = CallReport {
                status: Some(status),
                ..Default::default()
            };
            state
                .store
                .report_call(&call.org_id, CallTarget::Id(call.id.clone()), end, None)
                .await?;
        } else {
            return Err(ApiError::new(
                ErrorKind::Unavailable,
                format!("The carrier could not {}: {e}", action.name()),
            ));
        }
    }
    let mut report = CallReport {
        event: Some(format!("action.{}", action.name())),
        event_data: Some(data),
        at: Some(state.clock.now()),
        ..Default::default()
    };
    crate::core::redact::report(&state.store, &call.org_id, &mut report).await?;
    let out = state
        .store
        .report_call(&call.org_id, CallTarget::Id(call.id.clone()), report, None)
        .await?;
    Ok(out.call)
}

#[utoipa::path(post, path = "/v1/calls/{id}/actions", tag = "calls", params(("id" = String, Path)), request_body = ActionIn,
    responses((status = 200, body = ActionOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn call_action(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<ActionIn>,
) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let action = parse_action(&body.value)?;
    let call = state.store.get_call(&auth.org.id, &id).await?;
    let name = action.name();
    act(&state, &call, action).await?;
    let call = state.store.get_call(&auth.org.id, &id).await?;
    Ok(respond(
        StatusCode::OK,
        false,
        &ActionOut {
            action: name,
            call: CallOut::with_links(&call, true, &state.cfg),
        },
    ))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptOut {
    pub call_id: String,
    #[schema(value_type = Vec<Object>)]
    pub segments: Vec<Segment>,
    /// The transcript as a client sent it as text, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[utoipa::path(get, path = "/v1/calls/{id}/transcript", tag = "calls",
    params(("id" = String, Path), ("format" = Option<String>, Query, description = "`json` (default) or `txt` (\"Agent: …\\nCustomer: …\")")),
    responses((status = 200, description = "The transcript: JSON, or plain text with format=txt",
            content((TranscriptOut = "application/json"), (String = "text/plain"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn transcript(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, q: QueryMap) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let format = q.get("format").unwrap_or("json");
    if format != "json" && format != "txt" {
        return Err(ApiError::field("format", "must be json or txt"));
    }
    let call = state.store.get_call(&auth.org.id, &id).await?;
    let segments = state.store.transcript(&auth.org.id, &id).await?;
    if format == "txt" {
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], to_text(&segments)).into_response());
    }
    Ok(respond(
        StatusCode::OK,
        false,
        &TranscriptOut {
            call_id: id.to_string(),
            segments,
            text: call.transcript,
        },
    ))
}
