//! Call recordings: stored under `DATA_DIR/recordings/<org>/<call>.<ext>`
//! (never inside anything served as files), content sniffed and WAV
//! headers checked before anything is written, announced with
//! `recording.ready`, transcribed in the background (two channels keep
//! agent and customer apart) and announced with `transcription.complete`.
//! Deleted with their call, and by [`RecordingsWorker::run_once`] after
//! `recording_retention_days` or when their call is gone.
//!
//! Transcript segments are kept beside the recording
//! (`<call>.transcript.json`), stored as the call's transcript segments
//! when it has none yet (see [`save_transcript`]), and sent in the event.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_domain::call::CallReport;
use switchboard_domain::transcript::{self, Segment};
use switchboard_domain::{CallId, OrgId};
use switchboard_speech::recording::{self, ChannelLayout, RecordingInfo};
use switchboard_speech::{AudioKind, Speech, SpeechError, Transcript};
use switchboard_store::{CallTarget, MediaEvent, StoreError};

use crate::error::{ApiError, ErrorKind};
use crate::speech::api_error;
use crate::state::AppState;
use crate::workers::webhooks::ssrf;

/// What is known of a stored recording (`<call>.json` beside it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingMeta {
    pub call_id: String,
    pub kind: AudioKind,
    pub content_type: String,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// `upload`, or the URL it was fetched from.
    pub source: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// `pending`, `complete`, `failed` or `unavailable` (no STT engine).
    pub transcription: String,
}

fn org_dir(root: &Path, org: &OrgId) -> PathBuf {
    root.join(org.as_str())
}

fn meta_path(root: &Path, org: &OrgId, call: &CallId) -> PathBuf {
    org_dir(root, org).join(format!("{}.json", call.as_str()))
}

fn audio_path(root: &Path, org: &OrgId, call: &CallId, kind: AudioKind) -> PathBuf {
    org_dir(root, org).join(format!("{}.{}", call.as_str(), kind.extension()))
}

fn transcript_path(root: &Path, org: &OrgId, call: &CallId) -> PathBuf {
    org_dir(root, org).join(format!("{}.transcript.json", call.as_str()))
}

/// Writes a file through a temporary name, so readers never see half of it.
async fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await
}

fn io_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "recording storage failed");
    ApiError::internal()
}

/// Checks a recording (sniffed type, honest WAV header) without storing it.
pub fn check(bytes: &[u8], declared: Option<&str>) -> Result<RecordingInfo, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::field("recording", "is empty"));
    }
    recording::probe(bytes, declared).map_err(api_error)
}

/// Stores a checked recording of an existing call, announces it and starts
/// its transcription. Nothing is left behind when the call is not found.
pub async fn store(
    state: &AppState,
    org: &OrgId,
    call: &CallId,
    bytes: Bytes,
    declared: Option<&str>,
    source: &str,
) -> Result<RecordingMeta, ApiError> {
    let info = check(&bytes, declared)?;
    // The call must exist before anything is written.
    state.store.get_call(org, call).await?;
    let root = &state.speech.recordings_dir;
    tokio::fs::create_dir_all(org_dir(root, org)).await.map_err(io_error)?;
    // A new recording replaces an old one of any type, and its transcript.
    remove_files(root, org, call).await;
    let stt = state.speech.engines.transcriber().is_ok();
    let meta = RecordingMeta {
        call_id: call.to_string(),
        kind: info.kind,
        content_type: info.kind.content_type().into(),
        bytes: bytes.len() as u64,
        duration_secs: info.duration_secs.map(|d| (d * 1000.0).round() / 1000.0),
        channels: info.channels,
        sample_rate: info.sample_rate,
        source: source.into(),
        created_at: chrono::Utc::now(),
        transcription: if stt { "pending" } else { "unavailable" }.into(),
    };
    write_atomic(&audio_path(root, org, call, info.kind), &bytes)
        .await
        .map_err(io_error)?;
    write_atomic(&meta_path(root, org, call), &serde_json::to_vec(&meta).expect("plain struct"))
        .await
        .map_err(io_error)?;
    let event = json!({
        "callId": call.to_string(),
        "recordingUrl": state.cfg.link(&format!("/v1/calls/{call}/recording")),
        "duration": meta.duration_secs,
        "contentType": meta.content_type,
        "bytes": meta.bytes,
    });
    if let Err(e) = state.store.record_media_event(org, call, MediaEvent::RecordingReady, event).await {
        // Deleted meanwhile: take the files back.
        remove_files(root, org, call).await;
        return Err(e.into());
    }
    if stt {
        let (state, org, call) = (state.clone(), org.clone(), call.clone());
        tokio::spawn(async move { transcribe_stored(&state, &org, &call, bytes).await });
    }
    Ok(meta)
}

/// Fetches a recording a backend reported (`recordingUrl`) with the same
/// SSRF guard webhooks use, size-capped, then stores it like an upload.
pub async fn fetch_and_store(state: &AppState, org: &OrgId, call: &CallId, url: &str) -> Result<RecordingMeta, ApiError> {
    let allow_private = state.cfg.allow_private_webhook_targets;
    ssrf::check_url(url, allow_private)
        .await
        .map_err(|why| ApiError::field("recordingUrl", why))?;
    let parsed = reqwest::Url::parse(url).map_err(|e| ApiError::field("recordingUrl", e.to_string()))?;
    if !allow_private && let Some(ip) = ssrf::literal_forbidden(&parsed) {
        return Err(ApiError::field(
            "recordingUrl",
            format!("resolves to {ip}, a loopback, private or link-local address"),
        ));
    }
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if !allow_private {
        b = b.dns_resolver(Arc::new(ssrf::GuardedResolver));
    }
    let client = b.build().map_err(|e| {
        tracing::error!(error = %e, "cannot build the recording fetch client");
        ApiError::internal()
    })?;
    let unreachable = |why: String| ApiError::field("recordingUrl", format!("could not be fetched: {why}"));
    let mut resp = client.get(parsed).send().await.map_err(|e| unreachable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(unreachable(format!("the server answered {}", resp.status())));
    }
    let max = state.cfg.recording_max_bytes;
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(too_large(max));
    }
    let declared = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| unreachable(e.to_string()))? {
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(too_large(max));
        }
        body.extend_from_slice(&chunk);
    }
    store(state, org, call, Bytes::from(body), declared.as_deref(), url).await
}

pub fn too_large(max: u64) -> ApiError {
    ApiError::new(
        ErrorKind::PayloadTooLarge,
        format!("The recording is larger than the limit of {max} bytes"),
    )
    .with_details(json!({"field": "recording", "reason": format!("larger than {max} bytes")}))
}

/// The stored recording of a call: what it is and where.
pub async fn open(state: &AppState, org: &OrgId, call: &CallId) -> Option<(RecordingMeta, PathBuf)> {
    let root = &state.speech.recordings_dir;
    let meta: RecordingMeta = serde_json::from_slice(&tokio::fs::read(meta_path(root, org, call)).await.ok()?).ok()?;
    let path = audio_path(root, org, call, meta.kind);
    tokio::fs::try_exists(&path).await.ok()?.then_some((meta, path))
}

/// The stored transcript of a call's recording, when there is one.
pub async fn transcript(state: &AppState, org: &OrgId, call: &CallId) -> Option<Vec<Segment>> {
    let bytes = tokio::fs::read(transcript_path(&state.speech.recordings_dir, org, call))
        .await
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn remove_files(root: &Path, org: &OrgId, call: &CallId) {
    for kind in [AudioKind::Wav, AudioKind::Mp3, AudioKind::Ulaw] {
        let _ = tokio::fs::remove_file(audio_path(root, org, call, kind)).await;
    }
    let _ = tokio::fs::remove_file(transcript_path(root, org, call)).await;
    let _ = tokio::fs::remove_file(meta_path(root, org, call)).await;
}

/// Removes a call's recording and transcript (after the call is deleted).
pub async fn delete_for_call(state: &AppState, org: &OrgId, call: &CallId) {
    remove_files(&state.speech.recordings_dir, org, call).await;
}

/// Transcribes a recording: two channels are transcribed apart (first
/// channel the agent, second the customer), then merged in time order.
/// Blocking: call it from `spawn_blocking`.
pub fn transcribe_recording(
    speech: &Speech,
    bytes: &[u8],
    declared: Option<&str>,
    layout: ChannelLayout,
) -> Result<Transcript, SpeechError> {
    let t = speech.transcriber()?;
    recording::transcribe_recording(&*t, bytes, declared, layout)
}

/// Keeps a recording's transcript: a file beside the recording (with word
/// counts and all), and the call's transcript segments in the store when
/// the call has none yet (a live transcript from the conversation runtime
/// stays the call's transcript; the recording's is then only in the file
/// and the event). Answers whether the segments went into the store.
pub async fn save_transcript(state: &AppState, org: &OrgId, call: &CallId, segments: &[Segment]) -> Result<bool, ApiError> {
    let mut segments = segments.to_vec();
    if let Some(red) = crate::core::redact::for_org_id(&state.store, org).await? {
        red.segments(&mut segments);
    }
    let segments = &segments[..];
    write_atomic(
        &transcript_path(&state.speech.recordings_dir, org, call),
        &serde_json::to_vec(segments).expect("plain struct"),
    )
    .await
    .map_err(io_error)?;
    if segments.is_empty() || !state.store.transcript(org, call).await?.is_empty() {
        return Ok(false);
    }
    let mut segments: Vec<Segment> = segments.iter().take(transcript::MAX_SEGMENTS).cloned().collect();
    for s in &mut segments {
        if s.text.chars().count() > transcript::MAX_SEGMENT_CHARS {
            s.text = s.text.chars().take(transcript::MAX_SEGMENT_CHARS).collect();
        }
    }
    let mut report = CallReport {
        segments,
        ..Default::default()
    };
    crate::workers::analysis::annotate_segments(&state.store, &state.intent_models, org, &mut report).await;
    state.store.report_call(org, CallTarget::Id(call.clone()), report, None).await?;
    Ok(true)
}

async fn set_status(state: &AppState, org: &OrgId, call: &CallId, status: &str) {
    let path = meta_path(&state.speech.recordings_dir, org, call);
    let Ok(bytes) = tokio::fs::read(&path).await else { return };
    let Ok(mut meta) = serde_json::from_slice::<RecordingMeta>(&bytes) else {
        return;
    };
    meta.transcription = status.into();
    let _ = write_atomic(&path, &serde_json::to_vec(&meta).expect("plain struct")).await;
}

/// Transcribes a stored recording and announces `transcription.complete`.
pub async fn transcribe_stored(state: &AppState, org: &OrgId, call: &CallId, bytes: Bytes) {
    let speech = state.speech.clone();
    let result = tokio::task::spawn_blocking(move || transcribe_recording(&speech.engines, &bytes, None, ChannelLayout::default())).await;
    let mut t = match result {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            tracing::warn!(%call, error = %e, "recording transcription failed");
            set_status(state, org, call, "failed").await;
            return;
        }
        Err(e) => {
            tracing::error!(%call, error = %e, "recording transcription task failed");
            set_status(state, org, call, "failed").await;
            return;
        }
    };
    // The recording may have been deleted with its call meanwhile.
    if open(state, org, call).await.is_none() {
        return;
    }
    match crate::core::redact::for_org_id(&state.store, org).await {
        Ok(Some(red)) => red.segments(&mut t.segments),
        Ok(None) => {}
        Err(e) => {
            tracing::error!(%call, error = %e, "cannot read the organisation's redaction setting");
            set_status(state, org, call, "failed").await;
            return;
        }
    }
    if let Err(e) = save_transcript(state, org, call, &t.segments).await {
        tracing::error!(%call, error = ?e, "cannot store the transcript");
        set_status(state, org, call, "failed").await;
        return;
    }
    set_status(state, org, call, "complete").await;
    let data = json!({
        "callId": call.to_string(),
        "transcript": transcript::to_text(&t.segments),
        "segments": t.segments,
        "words": t.words.len(),
    });
    match state
        .store
        .record_media_event(org, call, MediaEvent::TranscriptionComplete, data)
        .await
    {
        Ok(()) => state.webhook_wake.notify_one(),
        Err(StoreError::NotFound(_)) => delete_for_call(state, org, call).await,
        Err(e) => tracing::error!(%call, error = %e, "cannot record transcription.complete"),
    }
}

/// Deletes recordings past their retention and those whose call is gone.
pub struct RecordingsWorker;

impl RecordingsWorker {
    /// One sweep; answers how many recordings it removed.
    pub async fn run_once(state: &AppState) -> usize {
        let root = &state.speech.recordings_dir;
        let keep = state.cfg.recording_retention_days;
        let cutoff = (keep > 0).then(|| chrono::Utc::now() - chrono::Duration::days(i64::from(keep)));
        let mut removed = 0;
        let Ok(mut orgs) = tokio::fs::read_dir(root).await else { return 0 };
        while let Ok(Some(org_entry)) = orgs.next_entry().await {
            let Some(org) = org_entry.file_name().to_str().and_then(|s| s.parse::<OrgId>().ok()) else {
                continue;
            };
            let Ok(mut files) = tokio::fs::read_dir(org_entry.path()).await else {
                continue;
            };
            while let Ok(Some(f)) = files.next_entry().await {
                let name = f.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.contains(".tmp") {
                    // A write interrupted by a crash, an hour old or more.
                    let old = f
                        .metadata()
                        .await
                        .ok()
                        .and_then(|m| m.modified().ok())
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if old.is_some_and(|d| d > Duration::from_secs(3600)) {
                        let _ = tokio::fs::remove_file(f.path()).await;
                    }
                    continue;
                }
                let Some(call) = name
                    .strip_suffix(".json")
                    .filter(|n| !n.ends_with(".transcript"))
                    .and_then(|n| n.parse::<CallId>().ok())
                else {
                    continue;
                };
                let meta: Option<RecordingMeta> = tokio::fs::read(f.path()).await.ok().and_then(|b| serde_json::from_slice(&b).ok());
                let expired = match (&meta, cutoff) {
                    (Some(m), Some(c)) => m.created_at < c,
                    _ => false,
                };
                let gone = matches!(state.store.get_call(&org, &call).await, Err(StoreError::NotFound(_)));
                if expired || gone || meta.is_none() {
                    remove_files(root, &org, &call).await;
                    removed += 1;
                }
            }
        }
        removed
    }

    /// Sweeps every hour until `stop` turns true.
    pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let n = Self::run_once(&state).await;
            if n > 0 {
                tracing::info!(removed = n, "recordings swept");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
