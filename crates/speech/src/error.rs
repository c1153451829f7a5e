//! The one error type of the speech crate.

use thiserror::Error;

/// Everything that can go wrong in synthesis, transcription, audio handling
/// and the cache. The server maps each kind to one HTTP status.
#[derive(Debug, Error)]
pub enum SpeechError {
    /// An engine is not configured or its files are not installed. The
    /// server answers 503 with this text and logs it once at start-up.
    #[error("{engine} is not available: {reason}")]
    NotInstalled { engine: &'static str, reason: String },
    /// A request field broke a rule (text too long, unknown format...).
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// No voice with this id in the catalogue.
    #[error("voice: unknown voice {0:?}")]
    UnknownVoice(String),
    /// Bytes that are not audio we can read (sniffed), or a header that lies.
    #[error("audio: {0}")]
    BadAudio(String),
    /// The content is not an audio type we accept (sniffed, not declared).
    #[error("audio: unsupported content: {0}")]
    Unsupported(String),
    /// The transcription queue is full: try again later.
    #[error("the speech engine is busy (queue full)")]
    Busy,
    /// The engine failed while running (a crashed helper, an inference error).
    #[error("{engine} failed: {message}")]
    Engine { engine: &'static str, message: String },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl SpeechError {
    pub(crate) fn engine(engine: &'static str, message: impl std::fmt::Display) -> Self {
        Self::Engine {
            engine,
            message: message.to_string(),
        }
    }
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
    pub(crate) fn not_installed(engine: &'static str, reason: impl Into<String>) -> Self {
        Self::NotInstalled {
            engine,
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = SpeechError> = std::result::Result<T, E>;
