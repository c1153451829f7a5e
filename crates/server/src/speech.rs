//! The server's handle on the speech engines: built once at start from
//! `[speech]`, with the audio cache under the data folder. A missing engine
//! is logged once here and answered 503 by the routes that need it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchboard_speech::{AudioCache, Speech, SpeechError};

use crate::config::Config;
use crate::error::{ApiError, ErrorKind};

pub struct SpeechService {
    pub engines: Speech,
    /// The audio cache, or why it could not open.
    cache: Result<AudioCache, String>,
    /// Where call recordings live (outside anything served as files).
    pub recordings_dir: PathBuf,
}

impl SpeechService {
    /// Starts the configured engines (the Whisper helper loads its model
    /// here, a second or two) and opens the cache; never fails.
    pub fn start(cfg: &Config) -> Arc<Self> {
        let engines = Speech::start(&cfg.speech);
        for problem in engines.problems() {
            tracing::warn!(%problem, "speech engine unavailable; routes that need it answer 503");
        }
        let cache_dir = cfg
            .speech
            .cache
            .dir
            .clone()
            .unwrap_or_else(|| cfg.data_dir.join("speech").join("cache"));
        let cache = AudioCache::open(
            &cache_dir,
            cfg.speech.cache.max_bytes,
            Duration::from_secs(cfg.speech.cache.ttl_secs.max(1)),
        )
        .map_err(|e| format!("audio cache {}: {e}", cache_dir.display()));
        if let Err(e) = &cache {
            tracing::warn!(error = %e, "audio cache unavailable; speech routes answer 503");
        }
        Arc::new(Self {
            engines,
            cache,
            recordings_dir: cfg.data_dir.join("recordings"),
        })
    }

    pub fn cache(&self) -> Result<&AudioCache, ApiError> {
        self.cache
            .as_ref()
            .map_err(|e| ApiError::new(ErrorKind::Unavailable, format!("The audio cache is not available: {e}")))
    }
}

/// The API answer for a speech error: 503 naming what is not installed,
/// 400 naming the field, 415 for content that is not audio.
pub fn api_error(e: SpeechError) -> ApiError {
    match e {
        SpeechError::NotInstalled { engine, reason } => ApiError::new(
            ErrorKind::Unavailable,
            format!("Speech is not available on this server: {engine} is not installed or configured ({reason})"),
        )
        .with_details(json!({ "engine": engine, "reason": reason })),
        SpeechError::Invalid { field, message } => ApiError::field(field, message),
        SpeechError::UnknownVoice(v) => ApiError::field("voice", format!("no voice '{v}' (GET /v1/voices lists them)")),
        SpeechError::BadAudio(m) => ApiError::field("recording", m),
        SpeechError::Unsupported(m) => ApiError::new(ErrorKind::UnsupportedMediaType, format!("Not an accepted audio type: {m}")),
        SpeechError::Busy => ApiError::new(ErrorKind::Unavailable, "The speech engine is busy; try again shortly"),
        e @ (SpeechError::Engine { .. } | SpeechError::Io(_)) => {
            tracing::error!(error = %e, "speech engine failed");
            ApiError::internal()
        }
    }
}
