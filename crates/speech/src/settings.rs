//! `[speech]` settings: which engines run and where their files are.
//!
//! The server's config wraps [`SpeechSettings`] as its `[speech]` table;
//! `scripts/install-speech` writes one to `DATA_DIR/speech/speech.toml`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A text-to-speech engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TtsEngine {
    /// Neural voices (Piper VITS models run with ONNX Runtime).
    Piper,
    /// espeak-ng, run as a subprocess: fast, robotic.
    Espeak,
}

/// A speech-to-text engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SttEngine {
    /// Whisper (CTranslate2 models) in a supervised helper process.
    Whisper,
    /// No transcription: routes that need it answer 503.
    #[default]
    None,
}

/// The `[speech]` table. Every key is optional; the default runs no engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpeechSettings {
    /// TTS engines to start, in catalogue order (`["piper", "espeak"]`).
    pub tts: Vec<TtsEngine>,
    /// The STT engine (`whisper` or `none`).
    pub stt: SttEngine,
    /// Voice used when a request names none (default: the first voice).
    pub default_voice: Option<String>,
    /// The ONNX Runtime shared library (`libonnxruntime.so.*`) used by
    /// Piper and by the streaming VAD. `ORT_DYLIB_PATH` wins when set.
    pub ort_library: Option<PathBuf>,
    pub piper: PiperSettings,
    pub espeak: EspeakSettings,
    pub whisper: WhisperSettings,
    pub cache: CacheSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PiperSettings {
    /// Voice models (`*.onnx`, each with its `*.onnx.json` beside it).
    pub models: Vec<PathBuf>,
    /// espeak-ng binary that turns text into phonemes.
    pub espeak_binary: PathBuf,
    /// Threads per inference (ONNX Runtime intra-op).
    pub threads: usize,
}

impl Default for PiperSettings {
    fn default() -> Self {
        Self {
            models: Vec::new(),
            espeak_binary: PathBuf::from("espeak-ng"),
            threads: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EspeakSettings {
    pub binary: PathBuf,
}

impl Default for EspeakSettings {
    fn default() -> Self {
        Self {
            binary: PathBuf::from("espeak-ng"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhisperSettings {
    /// Python with `faster-whisper` installed (the venv install-speech makes).
    pub python: PathBuf,
    /// A Whisper model folder in CTranslate2 format (`model.bin`, `config.json`...).
    pub model: Option<PathBuf>,
    /// Silero VAD model for live streams' end-of-utterance detection
    /// (default: the one faster-whisper ships, found through `python`).
    pub vad_model: Option<PathBuf>,
    /// Language code passed to Whisper (`en`).
    pub language: String,
    pub beam_size: u32,
    /// CPU threads per helper process.
    pub threads: u32,
    /// Helper processes (each holds one model, ~250 MB for tiny.en).
    pub workers: usize,
    /// Requests waiting per helper before callers get `Busy`.
    pub queue: usize,
    /// Longest one request may take before the helper is restarted.
    pub timeout_secs: u64,
}

impl Default for WhisperSettings {
    fn default() -> Self {
        Self {
            python: PathBuf::from("python3"),
            model: None,
            vad_model: None,
            language: "en".into(),
            beam_size: 5,
            threads: 2,
            workers: 1,
            queue: 32,
            timeout_secs: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// Folder of cached audio (default: the server puts it under its data dir).
    pub dir: Option<PathBuf>,
    /// Size cap in bytes; least recently used entries go first.
    pub max_bytes: u64,
    /// Seconds an entry lives after it was made.
    pub ttl_secs: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            dir: None,
            max_bytes: 512 * 1024 * 1024,
            ttl_secs: 7 * 24 * 3600,
        }
    }
}

impl SpeechSettings {
    /// Reads a file holding a `[speech]` table (what install-speech writes).
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            speech: SpeechSettings,
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(file.speech)
    }
}
