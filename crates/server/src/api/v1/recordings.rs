//! `/v1/calls/{id}/recording`: a call's recording, uploaded (WAV, MP3 or
//! raw µ-law as the request body, sniffed, size-capped) or fetched from a
//! `recordingUrl` (JSON body), and read back with `Range` support.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use switchboard_domain::CallId;
use utoipa::ToSchema;

use super::speech::serve_file;
use super::{ErrorBody, respond};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{parse_json, path_id};
use crate::identity::auth::Auth;
use crate::state::AppState;
use crate::workers::recordings::{self, RecordingMeta, too_large};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordingUrlIn {
    /// An http(s) URL the server fetches (private addresses refused unless allowed).
    pub recording_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingOut {
    pub call_id: String,
    /// `wav`, `mp3` or `ulaw`, from the content (never the declared type).
    #[schema(value_type = String)]
    pub kind: switchboard_speech::AudioKind,
    pub content_type: String,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<u16>,
    pub recording_url: String,
    /// `pending`, `complete`, `failed` or `unavailable` (no STT engine installed).
    pub transcription: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl RecordingOut {
    fn from_meta(state: &AppState, m: RecordingMeta) -> Self {
        RecordingOut {
            recording_url: state.cfg.link(&format!("/v1/calls/{}/recording", m.call_id)),
            call_id: m.call_id,
            kind: m.kind,
            content_type: m.content_type,
            bytes: m.bytes,
            duration_secs: m.duration_secs,
            channels: m.channels,
            transcription: m.transcription,
            created_at: m.created_at,
        }
    }
}

#[utoipa::path(post, path = "/v1/calls/{id}/recording", tag = "calls", params(("id" = String, Path)),
    request_body(content = RecordingUrlIn, description = "The audio itself (audio/wav, audio/mpeg, audio/basic), or JSON `{recordingUrl}`"),
    responses((status = 201, body = RecordingOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn upload(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, req: Request) -> ApiResult<Response> {
    let call: CallId = path_id(&id, "call")?;
    let declared = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let max = state.cfg.recording_max_bytes;
    let is_json = declared.as_deref().is_some_and(|ct| ct.starts_with("application/json"));
    let limit = if is_json { state.cfg.body_limit as u64 } else { max };
    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    // A body without Content-Length (chunked) is cut off at the limit too.
    let body = axum::body::to_bytes(req.into_body(), limit as usize).await.map_err(|e| {
        if e.to_string().contains("length limit") {
            too_large(limit)
        } else {
            ApiError::new(ErrorKind::InvalidParameter, format!("The request body could not be read: {e}"))
        }
    })?;
    let meta = if is_json {
        let input: RecordingUrlIn = parse_json(&body)?;
        let url = input.recording_url.ok_or_else(|| ApiError::field("recordingUrl", "is required"))?;
        recordings::fetch_and_store(&state, &auth.org.id, &call, &url).await?
    } else {
        recordings::store(&state, &auth.org.id, &call, body, declared.as_deref(), "upload").await?
    };
    Ok(respond(StatusCode::CREATED, false, &RecordingOut::from_meta(&state, meta)))
}

#[utoipa::path(get, path = "/v1/calls/{id}/recording", tag = "calls", params(("id" = String, Path)),
    responses((status = 200, description = "The recording, with its sniffed content type"), (status = 206, description = "Part of it (Range)"),
        (status = 404, body = ErrorBody), (status = 416, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn download(State(state): State<AppState>, auth: Auth, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<Response> {
    let call: CallId = path_id(&id, "call")?;
    let (meta, path) = recordings::open(&state, &auth.org.id, &call)
        .await
        .ok_or_else(|| ApiError::not_found("recording"))?;
    serve_file(&path, meta.kind.content_type(), &headers).await
}
