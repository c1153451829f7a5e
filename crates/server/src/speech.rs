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
    /// Signs audio links for carriers (loaded on first use).
    link_key: tokio::sync::OnceCell<Vec<u8>>,
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
            link_key: tokio::sync::OnceCell::new(),
        })
    }

    pub fn cache(&self) -> Result<&AudioCache, ApiError> {
        self.cache
            .as_ref()
            .map_err(|e| ApiError::new(ErrorKind::Unavailable, format!("The audio cache is not available: {e}")))
    }

    /// `text` in `voice` for organisation `owner`, from the cache or made
    /// now (blocking: call from `spawn_blocking`). Answers the cached audio,
    /// the settings the engine does not apply, and whether it was cached.
    pub fn synthesize_cached(
        &self,
        owner: &str,
        text: &str,
        voice: &switchboard_speech::Voice,
        settings: &switchboard_speech::SynthesisSettings,
        format: switchboard_speech::AudioFormat,
    ) -> Result<(switchboard_speech::cache::CachedAudio, Vec<String>, bool), ApiError> {
        let mut key = settings.key();
        key["org"] = serde_json::Value::String(owner.to_owned());
        let id = switchboard_speech::cache::audio_id(text, &voice.id, &key, format);
        let cache = self.cache()?;
        if let Some((meta, _)) = cache.get(&id) {
            return Ok((meta, not_applicable(voice, settings), true));
        }
        let out = self.engines.synthesize(text, &voice.id, settings).map_err(api_error)?;
        let bytes = switchboard_speech::audio::encode(&out.audio, format).map_err(api_error)?;
        let meta = switchboard_speech::cache::CachedAudio {
            id,
            format,
            duration_secs: (out.audio.duration_secs() * 1000.0).round() / 1000.0,
            characters: text.chars().count(),
            bytes: 0,
            owner: Some(owner.to_owned()),
        };
        cache.put(meta.clone(), &bytes).map_err(api_error)?;
        Ok((meta, out.not_applicable, false))
    }

    /// The key that signs audio links handed to carriers (shared by every
    /// node through the database).
    pub async fn link_key(&self, store: &switchboard_store::DynStore) -> Result<&[u8], ApiError> {
        let key = self
            .link_key
            .get_or_try_init(|| async {
                let candidate = hex::encode(rand::random::<[u8; 32]>());
                let k = store.server_secret("audio_link_key", candidate).await?;
                Ok::<_, ApiError>(k.into_bytes())
            })
            .await?;
        Ok(key)
    }
}

/// Settings a voice's engine does not apply (cheap to recompute: the
/// answer depends only on names).
pub fn not_applicable(voice: &switchboard_speech::Voice, s: &switchboard_speech::SynthesisSettings) -> Vec<String> {
    let mut out = Vec::new();
    if voice.engine == switchboard_speech::TtsEngine::Piper && s.pitch != 0.0 {
        out.push("pitch".to_owned());
    }
    let known: &[&str] = match voice.engine {
        switchboard_speech::TtsEngine::Piper => &["noise_scale", "noise_w"],
        switchboard_speech::TtsEngine::Espeak => &["word_gap"],
    };
    out.extend(s.extra.keys().filter(|k| !known.contains(&k.as_str())).cloned());
    out
}

/// The signature of a public audio link: HMAC-SHA256 over `file|expires`.
pub fn link_signature(key: &[u8], file: &str, expires: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(format!("{file}|{expires}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
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
