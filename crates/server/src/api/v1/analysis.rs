//! Conversation intelligence over HTTP: a call's stored analysis
//! (`GET /v1/calls/{id}/analysis`), re-running it
//! (`POST /v1/calls/{id}/analyze`), ad-hoc analysis of a text or segments
//! (`POST /v1/analysis`, which the dialects' analyse routes build on) and
//! the organisation's intelligence settings (`/v1/org/intelligence`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_domain::CallId;
use switchboard_domain::transcript::{MAX_SEGMENTS, Segment, Speaker};
use switchboard_intelligence::analysis::MAX_TEXT_BYTES;
use switchboard_intelligence::{AnalysisType, Input, IntelligenceError};
use utoipa::ToSchema;

use super::{ErrorBody, respond};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{JsonBody, path_id};
use crate::identity::auth::Auth;
use crate::state::AppState;
use crate::workers::analysis::{IntelSettings, Outcome, analyse_call, options_for, settings};

/// Longest recording-disclosure phrase list, and phrase.
const MAX_PHRASES: usize = 50;
const MAX_PHRASE_CHARS: usize = 200;

/// An analysis: one field per type asked for, in the shape a call's stored
/// analysis uses.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisOut {
    /// `completed`, `skipped` (nothing to analyse: `reason` says why) or `failed`.
    pub status: String,
    /// Why it was skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Which engine produced the results (`builtin`: on the box).
    pub engine: String,
    /// `{label, score, bySpeaker, segments, trend, mostNegative}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub sentiment: Option<Value>,
    /// `{name, confidence, evidence, example, slots}`; `unknown` below the threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub intent: Option<Value>,
    /// Key phrases with their evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub keywords: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub topics: Option<Value>,
    /// The sentences that carry the call, with their speaker.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub summary: Option<Value>,
    /// E-mails, phones (E.164), money, dates, order/account/ticket numbers, names.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub entities: Option<Value>,
    /// `{text, segments, spans}`: the transcript with PII replaced by tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub redacted: Option<Value>,
    /// `{recordingDisclosure, doNotCall, escalationRecommended}`, each `{value, evidence}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub compliance: Option<Value>,
}

/// A call's stored analysis.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallAnalysisOut {
    pub call_id: String,
    pub analysed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A re-run is under way; this is the previous result.
    pub running: bool,
    #[serde(flatten)]
    pub analysis: AnalysisOut,
}

fn analysis_out(v: Value) -> AnalysisOut {
    let get = |k: &str| v.get(k).cloned().filter(|x| !x.is_null());
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    AnalysisOut {
        status: text("status").unwrap_or_else(|| "failed".into()),
        reason: text("reason"),
        engine: text("engine").unwrap_or_else(|| "builtin".into()),
        sentiment: get("sentiment"),
        intent: get("intent"),
        keywords: get("keywords"),
        topics: get("topics"),
        summary: get("summary"),
        entities: get("entities"),
        redacted: get("redacted"),
        compliance: get("compliance"),
    }
}

fn intel_error(e: IntelligenceError) -> ApiError {
    match e {
        IntelligenceError::Invalid { field, reason } => ApiError::field(field, reason),
        IntelligenceError::Data { path, reason } => ApiError::field(path, reason),
    }
}

#[utoipa::path(get, path = "/v1/calls/{id}/analysis", tag = "calls",
    params(("id" = String, Path)),
    responses((status = 200, description = "The call's analysis", body = CallAnalysisOut),
        (status = 404, description = "No such call, or not analysed yet", body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_analysis(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    state.store.get_call(&auth.org.id, &id).await?;
    let stored = state.store.get_analysis(&auth.org.id, &id).await?;
    let Some((stored, result)) = stored.and_then(|s| s.result.clone().map(|r| (s, r))) else {
        return Err(ApiError::new(ErrorKind::NotFound, "This call has not been analysed yet"));
    };
    Ok(respond(
        StatusCode::OK,
        false,
        &CallAnalysisOut {
            call_id: id.to_string(),
            analysed_at: stored.analysed_at,
            running: stored.running,
            analysis: analysis_out(result),
        },
    ))
}

#[utoipa::path(post, path = "/v1/calls/{id}/analyze", tag = "calls",
    params(("id" = String, Path)),
    responses((status = 200, description = "The call analysed again and stored (an `analysis.complete` event follows)", body = CallAnalysisOut),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Another worker is analysing the call now", body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn analyze_call(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let owner = format!("request-{}", switchboard_domain::id::new_body());
    let llm = state.cfg.llm.clone().map(crate::llm::Llm::new);
    let out = analyse_call(
        &state.store,
        &state.intent_models,
        &auth.org,
        &id,
        &owner,
        true,
        false,
        llm.as_ref(),
    )
    .await?;
    let result = match out {
        Outcome::Stored(v) => v,
        Outcome::Gone => return Err(ApiError::not_found("call")),
        Outcome::Busy | Outcome::AlreadyDone => {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                "The call is being analysed now; try again shortly",
            ));
        }
    };
    let stored = state.store.get_analysis(&auth.org.id, &id).await?;
    Ok(respond(
        StatusCode::OK,
        false,
        &CallAnalysisOut {
            call_id: id.to_string(),
            analysed_at: stored.and_then(|s| s.analysed_at),
            running: false,
            analysis: analysis_out(result),
        },
    ))
}

/// One utterance to analyse.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SegmentIn {
    /// `agent` or `customer` (default `customer`).
    pub speaker: Option<String>,
    pub text: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

/// What to analyse: a `text`, or a call's `segments`, not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeIn {
    /// At most 1 MB.
    pub text: Option<String>,
    /// At most 10,000.
    pub segments: Option<Vec<SegmentIn>>,
    /// Any of `sentiment`, `intent`, `keywords`, `topics`, `summary`,
    /// `entities`, `redaction`, `compliance` (default: all but redaction).
    pub types: Option<Vec<String>>,
}

fn segments_in(list: &[SegmentIn]) -> Result<Vec<Segment>, ApiError> {
    if list.len() > MAX_SEGMENTS {
        return Err(ApiError::field("segments", format!("at most {MAX_SEGMENTS} segments")));
    }
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let speaker = match s.speaker.as_deref() {
                None => Speaker::Customer,
                Some(name) => {
                    Speaker::parse(name).ok_or_else(|| ApiError::field(format!("segments[{i}].speaker"), "must be agent or customer"))?
                }
            };
            let text = s
                .text
                .clone()
                .ok_or_else(|| ApiError::field(format!("segments[{i}].text"), "is required"))?;
            let start = s.start_ms.unwrap_or(0);
            Ok(Segment::new(speaker, text, start, s.end_ms.unwrap_or(start)))
        })
        .collect()
}

#[utoipa::path(post, path = "/v1/analysis", tag = "calls", request_body = AnalyzeIn,
    responses((status = 200, description = "One field per type asked for", body = AnalysisOut),
        (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn analyze(State(state): State<AppState>, auth: Auth, body: JsonBody<AnalyzeIn>) -> ApiResult<Response> {
    let body = body.value;
    let types = match &body.types {
        Some(names) => AnalysisType::parse_list(names).map_err(intel_error)?,
        None => AnalysisType::ALL.into_iter().filter(|t| *t != AnalysisType::Redaction).collect(),
    };
    let segments = match (&body.text, &body.segments) {
        (Some(_), Some(_)) => return Err(ApiError::pair("text", "segments", "send a text or segments, not both")),
        (None, None) => return Err(ApiError::field("text", "is required (or segments)")),
        (Some(t), None) if t.len() > MAX_TEXT_BYTES => return Err(ApiError::field("text", "must be at most 1 MB (1,048,576 bytes)")),
        (Some(_), None) => None,
        (None, Some(list)) => Some(segments_in(list)?),
    };
    let s = settings(&state.store, &auth.org.id).await?;
    let model = state.intent_models.for_org(&state.store, &auth.org.id).await?;
    let mut opts = options_for(&auth.org, switchboard_domain::now(), &s, model);
    opts.types = if types.is_empty() { AnalysisType::ALL.to_vec() } else { types };
    let text = body.text;
    let analysis = tokio::task::spawn_blocking(move || {
        let input = match (&text, &segments) {
            (Some(t), _) => Input::Text(t),
            (None, Some(s)) => Input::Segments(s),
            (None, None) => Input::Text(""),
        };
        switchboard_intelligence::analyze(input, &opts)
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(intel_error)?;
    let v = serde_json::to_value(&analysis).map_err(|_| ApiError::internal())?;
    Ok(respond(StatusCode::OK, false, &analysis_out(v)))
}

#[utoipa::path(get, path = "/v1/org/intelligence", tag = "organisation",
    responses((status = 200, description = "The organisation's intelligence settings", body = IntelSettings)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_settings(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    Ok(respond(StatusCode::OK, false, &settings(&state.store, &auth.org.id).await?))
}

/// The settings to save; a field left out keeps its value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsIn {
    pub redact_pii: Option<bool>,
    pub dnc_on_request: Option<bool>,
    /// At most 50 phrases of at most 200 characters.
    pub disclosure_phrases: Option<Vec<String>>,
    /// At most 50 topics, each a name (1–100 characters, unique) and 1–50
    /// keywords or phrases of 1–100 characters.
    pub topics: Option<Vec<crate::workers::analysis::Topic>>,
}

/// Topics trimmed, or a 400 naming the first one that breaks a rule.
fn checked_topics(topics: Vec<crate::workers::analysis::Topic>) -> ApiResult<Vec<crate::workers::analysis::Topic>> {
    const MAX_TOPICS: usize = 50;
    const MAX_KEYWORDS: usize = 50;
    const MAX_CHARS: usize = 100;
    if topics.len() > MAX_TOPICS {
        return Err(ApiError::field("topics", format!("at most {MAX_TOPICS} topics")));
    }
    let mut out: Vec<crate::workers::analysis::Topic> = Vec::with_capacity(topics.len());
    for (i, t) in topics.into_iter().enumerate() {
        let name = t.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_CHARS {
            return Err(ApiError::field(
                format!("topics[{i}].name"),
                format!("must be 1 to {MAX_CHARS} characters"),
            ));
        }
        if out.iter().any(|o| o.name.eq_ignore_ascii_case(&name)) {
            return Err(ApiError::field(format!("topics[{i}].name"), "must be unique"));
        }
        if t.keywords.is_empty() || t.keywords.len() > MAX_KEYWORDS {
            return Err(ApiError::field(
                format!("topics[{i}].keywords"),
                format!("must hold 1 to {MAX_KEYWORDS} keywords"),
            ));
        }
        let mut keywords = Vec::with_capacity(t.keywords.len());
        for (j, k) in t.keywords.iter().enumerate() {
            let k = k.trim();
            if k.is_empty() || k.chars().count() > MAX_CHARS {
                return Err(ApiError::field(
                    format!("topics[{i}].keywords[{j}]"),
                    format!("must be 1 to {MAX_CHARS} characters"),
                ));
            }
            keywords.push(k.to_owned());
        }
        out.push(crate::workers::analysis::Topic { name, keywords });
    }
    Ok(out)
}

#[utoipa::path(put, path = "/v1/org/intelligence", tag = "organisation", request_body = SettingsIn,
    responses((status = 200, description = "The settings saved", body = IntelSettings), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn put_settings(State(state): State<AppState>, auth: Auth, body: JsonBody<SettingsIn>) -> ApiResult<Response> {
    let body = body.value;
    let mut s = settings(&state.store, &auth.org.id).await?;
    if let Some(v) = body.redact_pii {
        s.redact_pii = v;
    }
    if let Some(v) = body.dnc_on_request {
        s.dnc_on_request = v;
    }
    if let Some(phrases) = body.disclosure_phrases {
        if phrases.len() > MAX_PHRASES {
            return Err(ApiError::field("disclosurePhrases", format!("at most {MAX_PHRASES} phrases")));
        }
        for (i, p) in phrases.iter().enumerate() {
            if p.trim().is_empty() || p.chars().count() > MAX_PHRASE_CHARS {
                return Err(ApiError::field(
                    format!("disclosurePhrases[{i}]"),
                    format!("must be 1 to {MAX_PHRASE_CHARS} characters"),
                ));
            }
        }
        s.disclosure_phrases = phrases.into_iter().map(|p| p.trim().to_owned()).collect();
    }
    if let Some(topics) = body.topics {
        s.topics = checked_topics(topics)?;
    }
    state
        .store
        .save_intelligence_settings(&auth.org.id, json!(s), switchboard_domain::now())
        .await?;
    crate::workers::analysis::forget_settings(&auth.org.id);
    Ok(respond(StatusCode::OK, false, &s))
}
