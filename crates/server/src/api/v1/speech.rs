//! `/v1/speech`, `/v1/voices`, `/v1/audio/{id}.{ext}`: text to speech on
//! the box, content-addressed and cached (docs/speech.md). Engines that are
//! not installed answer 503 naming what is missing.

use std::collections::BTreeMap;
use std::path::Path as FsPath;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_speech::cache::valid_id;
use switchboard_speech::{AudioFormat, SynthesisSettings, Voice};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use utoipa::ToSchema;

use super::{ErrorBody, respond};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::JsonBody;
use crate::identity::auth::Auth;
use crate::speech::api_error;
use crate::state::AppState;

/// Most engine-specific settings one request may pass through.
const MAX_EXTRA: usize = 16;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpeechIn {
    /// 1 to 5,000 characters.
    pub text: Option<String>,
    /// A voice id from `GET /v1/voices` (default: the server's default voice).
    pub voice: Option<String>,
    /// `wav` (PCM 16-bit at the voice's rate, default), `ulaw` or `alaw`
    /// (raw G.711, 8 kHz), `wav-ulaw` or `wav-alaw`.
    pub format: Option<String>,
    /// 0.5 to 2.0.
    pub speed: Option<f32>,
    /// Semitones, -12 to 12.
    pub pitch: Option<f32>,
    /// Engine-specific settings (`noise_scale`, `noise_w`, `word_gap`);
    /// others (Vocelio's `stability`, `similarity_boost`) are accepted and
    /// listed in `notApplicable`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpeechOut {
    pub audio_id: String,
    /// Where to fetch it (same credentials).
    pub audio_url: String,
    pub duration_secs: f64,
    pub characters: usize,
    pub voice: String,
    pub format: String,
    pub content_type: String,
    /// Settings the voice could not apply.
    pub not_applicable: Vec<String>,
    /// True when the audio came from the cache.
    pub cached: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VoiceOut {
    pub id: String,
    pub name: String,
    pub language: String,
    pub gender: String,
    pub engine: String,
    pub sample_rate: u32,
    pub sample_text: String,
}

/// The serde name of one of the speech crate's small enums.
fn serde_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl VoiceOut {
    pub(crate) fn from_voice(v: Voice) -> Self {
        VoiceOut {
            gender: serde_name(&v.gender),
            engine: serde_name(&v.engine),
            id: v.id,
            name: v.name,
            language: v.language,
            sample_rate: v.sample_rate,
            sample_text: v.sample_text,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoicesOut {
    pub data: Vec<VoiceOut>,
}

fn audio_url(state: &AppState, id: &str, format: AudioFormat) -> String {
    state.cfg.link(&format!("/v1/audio/{id}.{}", format.extension()))
}

#[utoipa::path(get, path = "/v1/voices", tag = "speech",
    responses((status = 200, body = VoicesOut), (status = 503, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_voices(State(state): State<AppState>, _auth: Auth) -> ApiResult<Response> {
    state.speech.engines.tts_ready().map_err(api_error)?;
    let data = state.speech.engines.voices().into_iter().map(VoiceOut::from_voice).collect();
    Ok(respond(StatusCode::OK, false, &VoicesOut { data }))
}

#[utoipa::path(post, path = "/v1/speech", tag = "speech", request_body = SpeechIn,
    responses((status = 200, body = SpeechOut), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn synthesize(State(state): State<AppState>, auth: Auth, body: JsonBody<SpeechIn>) -> ApiResult<Response> {
    let out = synthesize_for(&state, &auth, body.value).await?;
    Ok(respond(StatusCode::OK, false, &out))
}

/// Synthesises `input` for the caller's organisation (cached).
pub(crate) async fn synthesize_for(state: &AppState, auth: &Auth, input: SpeechIn) -> ApiResult<SpeechOut> {
    let speech = state.speech.clone();
    speech.engines.tts_ready().map_err(api_error)?;
    let text = input.text.ok_or_else(|| ApiError::field("text", "is required"))?;
    switchboard_speech::check_text(&text).map_err(api_error)?;
    let format = match input.format.as_deref() {
        None => AudioFormat::Wav,
        Some(f) if f.eq_ignore_ascii_case("mp3") => {
            return Err(ApiError::field(
                "format",
                "mp3 is not offered (no MP3 encoder in this build); use wav, ulaw, alaw, wav-ulaw or wav-alaw",
            ));
        }
        Some(f) => AudioFormat::parse(f).ok_or_else(|| ApiError::field("format", "must be one of wav, ulaw, alaw, wav-ulaw, wav-alaw"))?,
    };
    let voice = speech.engines.voice(input.voice.as_deref()).map_err(api_error)?;
    if input.extra.len() > MAX_EXTRA {
        return Err(ApiError::field("settings", format!("at most {MAX_EXTRA} engine-specific settings")));
    }
    for (k, v) in &input.extra {
        if !(v.is_number() || v.is_string() || v.is_boolean() || v.is_null()) || k.len() > 64 {
            return Err(ApiError::field(k.clone(), "must be a number, string or boolean"));
        }
    }
    let settings = SynthesisSettings {
        speed: input.speed.unwrap_or(1.0),
        pitch: input.pitch.unwrap_or(0.0),
        extra: input.extra,
    };
    settings.validate().map_err(api_error)?;
    let owner = auth.org.id.to_string();
    let characters = text.chars().count();
    let voice_id = voice.id.clone();
    let (meta, not_applicable, cached) =
        tokio::task::spawn_blocking(move || speech.synthesize_cached(&owner, &text, &voice, &settings, format))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "synthesis task failed");
                ApiError::internal()
            })??;
    Ok(SpeechOut {
        audio_url: audio_url(state, &meta.id, format),
        audio_id: meta.id.clone(),
        duration_secs: meta.duration_secs,
        characters,
        voice: voice_id,
        format: format.as_str().into(),
        content_type: format.content_type().into(),
        not_applicable,
        cached,
    })
}

#[utoipa::path(get, path = "/v1/audio/{file}", tag = "speech", params(("file" = String, Path, description = "`{audioId}.{wav|ulaw|alaw}`")),
    responses((status = 200, description = "The audio", content_type = "audio/wav"), (status = 206, description = "Part of it (Range)"),
        (status = 404, body = ErrorBody), (status = 416, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_audio(State(state): State<AppState>, auth: Auth, headers: HeaderMap, Path(file): Path<String>) -> ApiResult<Response> {
    let not_found = || ApiError::new(ErrorKind::NotFound, "Audio not found (or expired)");
    let (id, ext) = file.rsplit_once('.').ok_or_else(not_found)?;
    if !valid_id(id) {
        return Err(not_found());
    }
    let cache = state.speech.cache()?;
    let (meta, path) = cache.get(id).ok_or_else(not_found)?;
    if meta.format.extension() != ext || meta.owner.as_deref() != Some(auth.org.id.as_str()) {
        return Err(not_found());
    }
    serve_file(&path, meta.format.content_type(), &headers).await
}

#[utoipa::path(get, path = "/v1/audio/public/{file}", tag = "speech",
    params(("file" = String, Path, description = "`{audioId}.{wav|ulaw|alaw}`"), ("expires" = i64, Query, description = "Unix seconds"), ("sig" = String, Query, description = "The link's signature")),
    responses((status = 200, description = "The audio", content_type = "audio/wav"), (status = 206, description = "Part of it (Range)"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 416, body = ErrorBody)))]
/// Audio a carrier fetches without credentials (Twilio's `<Play>`): the
/// link is signed by the server and expires.
pub async fn get_public_audio(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
    q: crate::extract::QueryMap,
) -> ApiResult<Response> {
    let forbidden = || ApiError::new(ErrorKind::Forbidden, "This audio link is not valid or has expired");
    let expires: i64 = q.get("expires").and_then(|e| e.parse().ok()).ok_or_else(forbidden)?;
    let sig = q.get("sig").ok_or_else(forbidden)?;
    let key = state.speech.link_key(&state.store).await?;
    let want = crate::speech::link_signature(key, &file, expires);
    let matches: bool = subtle_eq(want.as_bytes(), sig.as_bytes());
    if !matches || expires < switchboard_domain::now().timestamp() {
        return Err(forbidden());
    }
    let not_found = || ApiError::new(ErrorKind::NotFound, "Audio not found (or expired)");
    let (id, ext) = file.rsplit_once('.').ok_or_else(not_found)?;
    let cache = state.speech.cache()?;
    let (meta, path) = cache.get(id).ok_or_else(not_found)?;
    if meta.format.extension() != ext {
        return Err(not_found());
    }
    serve_file(&path, meta.format.content_type(), &headers).await
}

/// Compares two strings in time independent of where they differ.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A byte range of a file of `len` bytes, from a `Range` header.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No (usable) Range: the whole file.
    Full,
    /// First and last byte, inclusive.
    Part(u64, u64),
    /// Nothing of the file satisfies it: 416.
    Unsatisfiable,
}

/// Reads a single `bytes=` range (RFC 9110); several ranges or another
/// unit are ignored (the whole file is sent).
pub fn parse_range(header: Option<&str>, len: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    match (a.is_empty(), b.is_empty()) {
        (true, true) => RangeAnswer::Full,
        (true, false) => match b.parse::<u64>() {
            Ok(0) => RangeAnswer::Unsatisfiable,
            Ok(n) if len > 0 => RangeAnswer::Part(len.saturating_sub(n), len - 1),
            Ok(_) => RangeAnswer::Unsatisfiable,
            Err(_) => RangeAnswer::Full,
        },
        (false, _) => {
            let Ok(start) = a.parse::<u64>() else { return RangeAnswer::Full };
            let end = if b.is_empty() {
                len.saturating_sub(1)
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => e.min(len.saturating_sub(1)),
                    _ => return RangeAnswer::Full,
                }
            };
            if start >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part(start, end)
            }
        }
    }
}

/// Serves a file with its content type, honouring a single `Range`.
pub async fn serve_file(path: &FsPath, content_type: &'static str, headers: &HeaderMap) -> ApiResult<Response> {
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ApiError::not_found("audio")
        } else {
            tracing::error!(error = %e, path = %path.display(), "cannot read audio file");
            ApiError::internal()
        }
    };
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    let len = file.metadata().await.map_err(io)?.len();
    let range = parse_range(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), len);
    let (status, start, end) = match range {
        RangeAnswer::Full => (StatusCode::OK, 0, len.saturating_sub(1)),
        RangeAnswer::Part(s, e) => (StatusCode::PARTIAL_CONTENT, s, e),
        RangeAnswer::Unsatisfiable => {
            let mut resp = ApiError::new(
                ErrorKind::RangeNotSatisfiable,
                format!("The range is outside the {len} bytes of the file"),
            )
            .with_details(serde_json::json!({"field": "Range", "reason": "outside the file"}))
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    file.seek(std::io::SeekFrom::Start(start)).await.map_err(io)?;
    let mut buf = Vec::with_capacity(count as usize);
    file.take(count).read_to_end(&mut buf).await.map_err(io)?;
    let mut resp = (status, Body::from(buf)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeAnswer::*;
        assert_eq!(parse_range(None, 100), Full);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Part(0, 9));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-500"), 100), Part(0, 99));
        assert_eq!(parse_range(Some("bytes=50-5000"), 100), Part(50, 99));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Full);
        assert_eq!(parse_range(Some("items=0-1"), 100), Full);
        assert_eq!(parse_range(Some("bytes=9-3"), 100), Full);
    }
}
