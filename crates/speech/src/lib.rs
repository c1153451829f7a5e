//! Speech on the box: the [`Synthesizer`] (text → audio) and [`Transcriber`]
//! (audio → transcript segments) traits, their engines (Piper neural voices
//! through ONNX Runtime, espeak-ng as a subprocess, Whisper in a supervised
//! helper process), audio formats, and the content-addressed audio cache.
//!
//! Everything is blocking: callers on an async runtime use
//! `spawn_blocking`. Engines are chosen by [`SpeechSettings`]; [`Speech::start`]
//! builds them and keeps, for each one that is missing, the reason as a
//! [`SpeechError::NotInstalled`] value (never a panic).

pub mod audio;
pub mod bench;
pub mod cache;
mod error;
mod espeak;
pub mod eval;
pub mod g711;
mod ort_env;
mod piper;
pub mod recording;
mod settings;
mod stream;
mod vad;
mod whisper;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
pub use switchboard_domain::transcript::{Segment, Speaker};

pub use audio::{Audio, AudioFormat, AudioKind};
pub use cache::{AudioCache, CachedAudio};
pub use error::{Result, SpeechError};
pub use settings::{CacheSettings, EspeakSettings, PiperSettings, SpeechSettings, SttEngine, TtsEngine, WhisperSettings};
pub use stream::{FRAME_MS, LiveStream};

/// Longest text one synthesis takes, in characters.
pub const MAX_TEXT_CHARS: usize = 5_000;

/// A voice of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Voice {
    pub id: String,
    pub name: String,
    /// BCP 47 tag (`en-US`).
    pub language: String,
    pub gender: Gender,
    pub engine: TtsEngine,
    /// Rate of the WAV the voice makes.
    pub sample_rate: u32,
    pub sample_text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
    Neutral,
}

/// How to say it. `extra` carries engine-specific settings: Piper takes
/// `noise_scale` and `noise_w`, espeak-ng takes `word_gap` (ms); anything
/// else, such as Vocelio's `stability` and `similarity_boost`, is accepted
/// and reported back as not applicable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthesisSettings {
    /// Speaking rate, 0.5 to 2.0 (1 = the voice's own).
    pub speed: f32,
    /// Pitch shift in semitones, -12 to 12.
    pub pitch: f32,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Default for SynthesisSettings {
    fn default() -> Self {
        Self {
            speed: 1.0,
            pitch: 0.0,
            extra: BTreeMap::new(),
        }
    }
}

impl SynthesisSettings {
    /// Checks ranges; names the field that breaks one.
    pub fn validate(&self) -> Result<()> {
        if !(0.5..=2.0).contains(&self.speed) {
            return Err(SpeechError::invalid("speed", "must be between 0.5 and 2.0"));
        }
        if !(-12.0..=12.0).contains(&self.pitch) {
            return Err(SpeechError::invalid("pitch", "must be between -12 and 12 semitones"));
        }
        Ok(())
    }

    /// The settings as they shape the audio (for the cache key).
    pub fn key(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn extra_f32(&self, name: &str) -> Option<f32> {
        self.extra.get(name).and_then(|v| v.as_f64()).map(|v| v as f32)
    }
}

/// Synthesised audio and the settings the engine could not apply.
#[derive(Debug, Clone)]
pub struct Synthesis {
    pub audio: Audio,
    pub not_applicable: Vec<String>,
}

/// Text to speech.
pub trait Synthesizer: Send + Sync {
    /// The voices this engine speaks.
    fn voices(&self) -> Vec<Voice>;

    /// Speaks `text`, handing over audio clause by clause as it is made (so
    /// playback can start after the first clause). Returns the names of
    /// settings that do not apply to this voice.
    fn synthesize_chunks(
        &self,
        text: &str,
        voice: &str,
        settings: &SynthesisSettings,
        on_chunk: &mut dyn FnMut(&Audio),
    ) -> Result<Vec<String>>;

    /// Speaks `text` into one piece of audio.
    fn synthesize(&self, text: &str, voice: &str, settings: &SynthesisSettings) -> Result<Synthesis> {
        let mut all: Option<Audio> = None;
        let not_applicable = self.synthesize_chunks(text, voice, settings, &mut |chunk| match &mut all {
            Some(a) => a.samples.extend_from_slice(&chunk.samples),
            None => all = Some(chunk.clone()),
        })?;
        let rate = self.voices().iter().find(|v| v.id == voice).map_or(22_050, |v| v.sample_rate);
        Ok(Synthesis {
            audio: all.unwrap_or_else(|| Audio::mono(Vec::new(), rate)),
            not_applicable,
        })
    }
}

/// A word with its times, where the engine gives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Word {
    pub text: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub probability: f32,
    /// Index of the segment it belongs to.
    pub segment: usize,
}

/// What a transcription yields: segments (the runtime's model) and the
/// words inside them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub segments: Vec<Segment>,
    pub words: Vec<Word>,
}

impl Transcript {
    /// All segments' text, joined by spaces.
    pub fn text(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Speech to text.
pub trait Transcriber: Send + Sync {
    /// Transcribes audio (any rate; mixed to mono) said by one speaker.
    /// Times are milliseconds from the start of `audio`. Silence yields no
    /// segments (a voice-activity detector runs first).
    fn transcribe(&self, audio: &Audio, speaker: Speaker) -> Result<Transcript>;

    /// Decodes an encoded recording the crate cannot read itself (MP3) to
    /// 16 kHz PCM, channels kept apart.
    fn decode(&self, bytes: &[u8]) -> Result<Audio>;
}

/// The engines `[speech]` asked for, built; a missing one is kept as the
/// reason it is missing.
pub struct Speech {
    settings: SpeechSettings,
    synthesizers: Vec<Arc<dyn Synthesizer>>,
    voices: Vec<(Voice, usize)>,
    tts_missing: Vec<SpeechError>,
    transcriber: std::result::Result<Arc<dyn Transcriber>, SpeechError>,
    vad: std::result::Result<Arc<vad::VadModel>, SpeechError>,
}

impl std::fmt::Debug for Speech {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speech")
            .field("voices", &self.voices.iter().map(|(v, _)| &v.id).collect::<Vec<_>>())
            .field("tts_missing", &self.tts_missing)
            .field("stt", &self.transcriber.as_ref().err())
            .finish()
    }
}

impl Speech {
    /// Builds every engine the settings name. Never fails: what cannot
    /// start is reported by [`Speech::problems`] and by the calls that need it.
    pub fn start(settings: &SpeechSettings) -> Self {
        let mut synthesizers: Vec<Arc<dyn Synthesizer>> = Vec::new();
        let mut tts_missing = Vec::new();
        for engine in &settings.tts {
            let built: Result<Arc<dyn Synthesizer>> = match engine {
                TtsEngine::Piper => piper::PiperEngine::start(settings).map(|e| Arc::new(e) as _),
                TtsEngine::Espeak => espeak::EspeakEngine::start(&settings.espeak).map(|e| Arc::new(e) as _),
            };
            match built {
                Ok(s) => synthesizers.push(s),
                Err(e) => tts_missing.push(e),
            }
        }
        let mut voices = Vec::new();
        for (i, s) in synthesizers.iter().enumerate() {
            voices.extend(s.voices().into_iter().map(|v| (v, i)));
        }
        let transcriber: std::result::Result<Arc<dyn Transcriber>, SpeechError> = match settings.stt {
            SttEngine::None => Err(SpeechError::not_installed(
                "speech-to-text",
                "no STT engine configured ([speech] stt = \"none\")",
            )),
            SttEngine::Whisper => whisper::WhisperEngine::start(&settings.whisper).map(|e| Arc::new(e) as _),
        };
        let vad = match &transcriber {
            Ok(_) => vad::VadModel::load(settings).map(Arc::new),
            Err(e) => Err(SpeechError::not_installed("voice activity detection", e.to_string())),
        };
        Self {
            settings: settings.clone(),
            synthesizers,
            voices,
            tts_missing,
            transcriber,
            vad,
        }
    }

    /// One line per engine that was asked for and could not start.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self.tts_missing.iter().map(|e| e.to_string()).collect();
        if self.settings.stt != SttEngine::None {
            if let Err(e) = &self.transcriber {
                out.push(e.to_string());
            }
            if let (Ok(_), Err(e)) = (&self.transcriber, &self.vad) {
                out.push(format!("live streams: {e}"));
            }
        }
        out
    }

    pub fn settings(&self) -> &SpeechSettings {
        &self.settings
    }

    /// The catalogue (empty when no TTS engine runs).
    pub fn voices(&self) -> Vec<Voice> {
        self.voices.iter().map(|(v, _)| v.clone()).collect()
    }

    /// Why TTS is unavailable, or `Ok` when at least one voice exists.
    pub fn tts_ready(&self) -> Result<()> {
        if !self.voices.is_empty() {
            return Ok(());
        }
        Err(match self.tts_missing.first() {
            Some(SpeechError::NotInstalled { engine, reason }) => SpeechError::NotInstalled {
                engine,
                reason: reason.clone(),
            },
            Some(e) => SpeechError::not_installed("text-to-speech", e.to_string()),
            None => SpeechError::not_installed(
                "text-to-speech",
                "no TTS engine configured ([speech] tts = [...]; run scripts/install-speech)",
            ),
        })
    }

    /// The voice for an id (or the default voice for `None`).
    pub fn voice(&self, id: Option<&str>) -> Result<Voice> {
        self.tts_ready()?;
        let id = id.or(self.settings.default_voice.as_deref());
        match id {
            Some(id) => self
                .voices
                .iter()
                .find(|(v, _)| v.id == id)
                .map(|(v, _)| v.clone())
                .ok_or_else(|| SpeechError::UnknownVoice(id.to_owned())),
            None => Ok(self.voices[0].0.clone()),
        }
    }

    fn synthesizer_for(&self, voice: &str) -> Result<&Arc<dyn Synthesizer>> {
        self.tts_ready()?;
        let (_, i) = self
            .voices
            .iter()
            .find(|(v, _)| v.id == voice)
            .ok_or_else(|| SpeechError::UnknownVoice(voice.to_owned()))?;
        Ok(&self.synthesizers[*i])
    }

    /// Checks the text and settings, then speaks.
    pub fn synthesize(&self, text: &str, voice: &str, settings: &SynthesisSettings) -> Result<Synthesis> {
        check_text(text)?;
        settings.validate()?;
        self.synthesizer_for(voice)?.synthesize(text, voice, settings)
    }

    /// As [`Speech::synthesize`], clause by clause.
    pub fn synthesize_chunks(
        &self,
        text: &str,
        voice: &str,
        settings: &SynthesisSettings,
        on_chunk: &mut dyn FnMut(&Audio),
    ) -> Result<Vec<String>> {
        check_text(text)?;
        settings.validate()?;
        self.synthesizer_for(voice)?.synthesize_chunks(text, voice, settings, on_chunk)
    }

    /// The transcriber, or why there is none.
    pub fn transcriber(&self) -> Result<Arc<dyn Transcriber>> {
        match &self.transcriber {
            Ok(t) => Ok(t.clone()),
            Err(SpeechError::NotInstalled { engine, reason }) => Err(SpeechError::NotInstalled {
                engine,
                reason: reason.clone(),
            }),
            Err(e) => Err(SpeechError::not_installed("speech-to-text", e.to_string())),
        }
    }

    /// A live stream for one speaker (20 ms frames at `sample_rate`, e.g.
    /// 8000 from a SIP carrier); final segments come out at each end of
    /// utterance the VAD finds.
    pub fn stream(&self, speaker: Speaker, sample_rate: u32) -> Result<LiveStream> {
        let t = self.transcriber()?;
        let vad = match &self.vad {
            Ok(v) => v.clone(),
            Err(e) => return Err(SpeechError::not_installed("voice activity detection", e.to_string())),
        };
        LiveStream::start(t, vad, speaker, sample_rate)
    }
}

/// The text rules every engine shares.
pub fn check_text(text: &str) -> Result<()> {
    let n = text.chars().count();
    if text.trim().is_empty() {
        return Err(SpeechError::invalid("text", "must not be empty"));
    }
    if n > MAX_TEXT_CHARS {
        return Err(SpeechError::invalid("text", format!("{n} characters; at most {MAX_TEXT_CHARS}")));
    }
    Ok(())
}

/// Splits text into clauses at `, ; : . ! ?` followed by a space or the
/// end, keeping each clause's punctuation (the neural voice phrases better
/// with it, and the first clause is the first audio).
pub(crate) fn clauses(text: &str) -> Vec<(String, char)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_is_break = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        if matches!(c, ',' | ';' | ':' | '.' | '!' | '?') && next_is_break {
            let t = cur.trim().to_owned();
            if !t.is_empty() {
                out.push((t, c));
            }
            cur.clear();
        } else if c == '\n' || c == '\r' {
            cur.push(' ');
        } else {
            cur.push(c);
        }
    }
    let t = cur.trim().to_owned();
    if !t.is_empty() {
        out.push((t, '.'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_keep_punctuation() {
        let c = clauses("Hello there, this is Acme. It costs $3.50! Ok");
        let texts: Vec<(&str, char)> = c.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        assert_eq!(
            texts,
            vec![("Hello there", ','), ("this is Acme", '.'), ("It costs $3.50", '!'), ("Ok", '.')]
        );
    }

    #[test]
    fn text_rules_name_the_field() {
        assert!(matches!(check_text(" "), Err(SpeechError::Invalid { field: "text", .. })));
        assert!(matches!(
            check_text(&"a".repeat(5001)),
            Err(SpeechError::Invalid { field: "text", .. })
        ));
        assert!(check_text(&"a".repeat(5000)).is_ok());
        let s = SynthesisSettings {
            speed: 3.0,
            ..Default::default()
        };
        assert!(matches!(s.validate(), Err(SpeechError::Invalid { field: "speed", .. })));
    }

    #[test]
    fn no_engines_means_clear_errors_not_panics() {
        let speech = Speech::start(&SpeechSettings::default());
        assert!(speech.voices().is_empty());
        assert!(matches!(speech.tts_ready(), Err(SpeechError::NotInstalled { .. })));
        assert!(matches!(
            speech.synthesize("hi", "x", &SynthesisSettings::default()),
            Err(SpeechError::NotInstalled { .. })
        ));
        assert!(matches!(speech.transcriber(), Err(SpeechError::NotInstalled { .. })));
        assert!(matches!(
            speech.stream(Speaker::Customer, 8000),
            Err(SpeechError::NotInstalled { .. })
        ));
        assert!(speech.problems().is_empty(), "nothing was asked for");
    }

    #[test]
    fn missing_files_are_reported_once_per_engine() {
        let settings = SpeechSettings {
            tts: vec![TtsEngine::Piper],
            stt: SttEngine::Whisper,
            ort_library: Some("/nonexistent/libonnxruntime.so".into()),
            piper: PiperSettings {
                models: vec!["/nonexistent/voice.onnx".into()],
                ..Default::default()
            },
            whisper: WhisperSettings {
                python: "/nonexistent/python".into(),
                model: Some("/nonexistent/model".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let speech = Speech::start(&settings);
        let problems = speech.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(matches!(speech.tts_ready(), Err(SpeechError::NotInstalled { .. })));
        assert!(matches!(speech.transcriber(), Err(SpeechError::NotInstalled { .. })));
    }
}
