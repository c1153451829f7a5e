//! `/api/voice/*` and the dashboard's plural `/api/voices/*`: the core
//! speech voices and synthesis. Cloning answers honestly: no on-box cloning.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{Ctx, Envelope, VocelioErrorBody};
use crate::api::v1::speech::{SpeechIn, VoiceOut, synthesize_for};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Lenient, QueryMap};
use crate::identity::auth::Auth;
use crate::speech::api_error;
use crate::state::AppState;

/// A Vocelio voice (keyed both `id`, as the reference, and `voice_id`, as the dashboard).
#[derive(Debug, Serialize, ToSchema)]
pub struct VocelioVoice {
    pub id: String,
    pub voice_id: String,
    pub name: String,
    /// The on-box engine that speaks it.
    pub provider: String,
    pub language: String,
    pub gender: String,
    /// Our voices carry no category: always null.
    pub category: Option<String>,
    /// A spoken sample (WAV), same credentials.
    pub sample_url: String,
    #[schema(value_type = Object)]
    pub settings: Value,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioVoicesData)]
pub struct VoicesData {
    pub voices: Vec<VocelioVoice>,
}

fn voices(state: &AppState) -> ApiResult<Vec<VoiceOut>> {
    state.speech.engines.tts_ready().map_err(api_error)?;
    Ok(state.speech.engines.voices().into_iter().map(VoiceOut::from_voice).collect())
}

async fn list_voices(state: AppState, ctx: Ctx, q: QueryMap) -> ApiResult<Response> {
    let gender = q.get("gender");
    if let Some(g) = gender
        && !["male", "female", "neutral"].contains(&g)
    {
        return Err(ApiError::field("gender", "must be one of male, female, neutral"));
    }
    let category = q.get("category");
    if let Some(c) = category
        && !["professional", "conversational", "narrative"].contains(&c)
    {
        return Err(ApiError::field(
            "category",
            "must be one of professional, conversational, narrative",
        ));
    }
    let provider = q.get("provider").map(str::to_ascii_lowercase);
    let language = q.get("language").map(str::to_ascii_lowercase);
    let list = voices(&state)?
        .into_iter()
        .filter(|v| provider.as_deref().is_none_or(|p| v.engine.eq_ignore_ascii_case(p)))
        .filter(|v| {
            language.as_deref().is_none_or(|l| {
                let have = v.language.to_ascii_lowercase().replace('_', "-");
                have == l.replace('_', "-") || have.split('-').next() == Some(l)
            })
        })
        .filter(|v| gender.is_none_or(|g| v.gender == g))
        // No voice of ours has a category.
        .filter(|_| category.is_none())
        .map(|v| VocelioVoice {
            sample_url: state.cfg.link(&format!("/api/voices/preview/{}.mp3", v.id)),
            voice_id: v.id.clone(),
            id: v.id,
            name: v.name,
            provider: v.engine,
            language: v.language,
            gender: v.gender,
            category: None,
            settings: serde_json::json!({}),
        })
        .collect();
    Ok(ctx.ok(StatusCode::OK, VoicesData { voices: list }))
}

#[utoipa::path(get, operation_id = "vocelio_voices_list", path = "/api/voice/voices", tag = "vocelio",
    params(("provider" = Option<String>, Query), ("language" = Option<String>, Query), ("gender" = Option<String>, Query), ("category" = Option<String>, Query)),
    responses((status = 200, body = Envelope<VoicesData>), (status = 400, body = VocelioErrorBody), (status = 503, body = VocelioErrorBody)))]
pub async fn list(State(state): State<AppState>, ctx: Ctx, _auth: Auth, q: QueryMap) -> ApiResult<Response> {
    list_voices(state, ctx, q).await
}

#[utoipa::path(get, operation_id = "vocelio_voices_list_plural", path = "/api/voices", tag = "vocelio",
    params(("provider" = Option<String>, Query), ("language" = Option<String>, Query), ("gender" = Option<String>, Query), ("category" = Option<String>, Query)),
    responses((status = 200, body = Envelope<VoicesData>), (status = 400, body = VocelioErrorBody), (status = 503, body = VocelioErrorBody)))]
pub async fn list_plural(State(state): State<AppState>, ctx: Ctx, _auth: Auth, q: QueryMap) -> ApiResult<Response> {
    list_voices(state, ctx, q).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = VocelioGenerateIn)]
pub struct GenerateIn {
    /// 1 to 5,000 characters.
    pub text: Option<String>,
    pub voice_id: Option<String>,
    /// Engine settings; ElevenLabs' `stability` and `similarity_boost` are
    /// accepted and have no effect on our voices.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioGenerateOut)]
pub struct GenerateOut {
    /// Where to fetch the audio (WAV; same credentials).
    pub audio_url: String,
    pub audio_id: String,
    /// Seconds.
    pub duration: f64,
    pub characters_used: usize,
    /// `characters_used` × the configured price per character.
    pub cost: f64,
    pub format: String,
    /// Settings the voice could not apply.
    pub not_applicable: Vec<String>,
}

async fn generate_speech(state: AppState, ctx: Ctx, auth: Auth, b: GenerateIn) -> ApiResult<Response> {
    let text = b.text.ok_or_else(|| ApiError::field("text", "is required"))?;
    let extra = match b.settings {
        None | Some(Value::Null) => Default::default(),
        Some(Value::Object(m)) => m.into_iter().collect(),
        Some(_) => return Err(ApiError::field("settings", "must be an object")),
    };
    let input = SpeechIn {
        text: Some(text),
        voice: b.voice_id,
        extra,
        ..Default::default()
    };
    let out = synthesize_for(&state, &auth, input).await.map_err(rename_voice)?;
    let cost = (out.characters as f64 * state.cfg.speech_price_per_character * 1e6).round() / 1e6;
    Ok(ctx.ok(
        StatusCode::OK,
        GenerateOut {
            audio_url: out.audio_url,
            audio_id: out.audio_id,
            duration: out.duration_secs,
            characters_used: out.characters,
            cost,
            format: out.format,
            not_applicable: out.not_applicable,
        },
    ))
}

/// The core names the voice `voice`; Vocelio names it `voice_id`.
fn rename_voice(mut e: ApiError) -> ApiError {
    if let Some(d) = e.details.as_mut()
        && d["field"] == "voice"
    {
        d["field"] = "voice_id".into();
    }
    e
}

#[utoipa::path(post, operation_id = "vocelio_voices_generate", path = "/api/voice/generate", tag = "vocelio", request_body = GenerateIn,
    responses((status = 200, body = Envelope<GenerateOut>), (status = 400, body = VocelioErrorBody), (status = 503, body = VocelioErrorBody)))]
pub async fn generate(State(state): State<AppState>, ctx: Ctx, auth: Auth, body: JsonBody<GenerateIn, Lenient>) -> ApiResult<Response> {
    generate_speech(state, ctx, auth, body.value).await
}

#[utoipa::path(post, operation_id = "vocelio_voices_generate_plural", path = "/api/voices/generate", tag = "vocelio", request_body = GenerateIn,
    responses((status = 200, body = Envelope<GenerateOut>), (status = 400, body = VocelioErrorBody), (status = 503, body = VocelioErrorBody)))]
pub async fn generate_plural(
    State(state): State<AppState>,
    ctx: Ctx,
    auth: Auth,
    body: JsonBody<GenerateIn, Lenient>,
) -> ApiResult<Response> {
    generate_speech(state, ctx, auth, body.value).await
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioCloneOut)]
pub struct CloneOut {
    /// Null: no voice was made.
    pub voice_id: Option<String>,
    /// Always `failed` here.
    pub status: &'static str,
    pub reason: &'static str,
    pub estimated_completion: Option<String>,
}

const NO_CLONING: &str =
    "Voice cloning is not available on this server: its speech engines speak fixed voices and no cloning provider is configured";

/// The clone form (multipart/form-data).
#[derive(Debug, ToSchema)]
#[schema(as = VocelioCloneForm)]
#[allow(dead_code)]
pub struct CloneForm {
    /// The voice sample.
    #[schema(value_type = String, format = Binary)]
    pub audio_file: Vec<u8>,
    pub voice_name: String,
    pub description: Option<String>,
}

/// Does the multipart body hold a part named `name`?
fn has_part(body: &[u8], name: &str) -> bool {
    let needle = format!("name=\"{name}\"");
    body.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn clone_answer(ctx: &Ctx, headers: &HeaderMap, body: &[u8]) -> ApiResult<Response> {
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        return Err(ApiError::field(
            "audio_file",
            "must be sent as multipart/form-data with audio_file, voice_name and description",
        ));
    }
    for part in ["audio_file", "voice_name"] {
        if !has_part(body, part) {
            return Err(ApiError::field(part, "is required"));
        }
    }
    Ok(ctx.ok(
        StatusCode::ACCEPTED,
        CloneOut {
            voice_id: None,
            status: "failed",
            reason: NO_CLONING,
            estimated_completion: None,
        },
    ))
}

#[utoipa::path(post, operation_id = "vocelio_voices_clone", path = "/api/voice/clone", tag = "vocelio",
    request_body(content = CloneForm, content_type = "multipart/form-data"),
    responses((status = 202, body = Envelope<CloneOut>), (status = 400, body = VocelioErrorBody)))]
pub async fn clone(ctx: Ctx, _auth: Auth, headers: HeaderMap, body: axum::body::Bytes) -> ApiResult<Response> {
    clone_answer(&ctx, &headers, &body)
}

#[utoipa::path(post, operation_id = "vocelio_voices_clone_plural", path = "/api/voices/clone", tag = "vocelio",
    request_body(content = CloneForm, content_type = "multipart/form-data"),
    responses((status = 202, body = Envelope<CloneOut>), (status = 400, body = VocelioErrorBody)))]
pub async fn clone_plural(ctx: Ctx, _auth: Auth, headers: HeaderMap, body: axum::body::Bytes) -> ApiResult<Response> {
    clone_answer(&ctx, &headers, &body)
}

#[utoipa::path(get, operation_id = "vocelio_voices_preview", path = "/api/voices/preview/{file}", tag = "vocelio", params(("file" = String, Path, description = "`{voice_id}.mp3`")),
    responses((status = 200, description = "The voice speaking its sample (WAV: no MP3 encoder on the box)", content_type = "audio/wav"),
        (status = 404, body = VocelioErrorBody), (status = 503, body = VocelioErrorBody)))]
pub async fn preview(State(state): State<AppState>, auth: Auth, Path(file): Path<String>) -> ApiResult<Response> {
    let id = file.strip_suffix(".mp3").unwrap_or(&file);
    let voice = voices(&state)?
        .into_iter()
        .find(|v| v.id == id)
        .ok_or_else(|| ApiError::not_found("voice"))?;
    let input = SpeechIn {
        text: Some(voice.sample_text.clone()),
        voice: Some(voice.id.clone()),
        ..Default::default()
    };
    let out = synthesize_for(&state, &auth, input).await?;
    let cache = state.speech.cache()?;
    let (_, path) = cache.get(&out.audio_id).ok_or_else(ApiError::internal)?;
    let bytes = tokio::fs::read(&path).await.map_err(|_| ApiError::internal())?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], bytes).into_response())
}
