//! Piper neural voices: VITS models in ONNX with their `.onnx.json`,
//! phonemes from espeak-ng (`-q --ipa`, a subprocess) mapped through the
//! model's `phoneme_id_map`, inference with ONNX Runtime loaded at run time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::Array;
use ort::session::Session;
use ort::value::TensorRef;
use serde::Deserialize;

use crate::audio::{Audio, f32_to_i16};
use crate::error::{Result, SpeechError};
use crate::settings::{SpeechSettings, TtsEngine};
use crate::{Gender, SynthesisSettings, Synthesizer, Voice, clauses, espeak};

const ENGINE: &str = "piper";

#[derive(Debug, Deserialize)]
struct ModelConfig {
    audio: AudioConfig,
    espeak: EspeakConfig,
    #[serde(default)]
    inference: InferenceConfig,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default)]
    dataset: Option<String>,
    #[serde(default)]
    language: Option<LanguageConfig>,
    #[serde(default)]
    num_speakers: u32,
}

#[derive(Debug, Deserialize)]
struct AudioConfig {
    sample_rate: u32,
}
#[derive(Debug, Deserialize)]
struct EspeakConfig {
    voice: String,
}
#[derive(Debug, Deserialize)]
#[serde(default)]
struct InferenceConfig {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}
impl Default for InferenceConfig {
    fn default() -> Self {
        Self {
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8,
        }
    }
}
#[derive(Debug, Deserialize)]
struct LanguageConfig {
    code: String,
}

struct PiperVoice {
    voice: Voice,
    config: ModelConfig,
    ids: HashMap<char, Vec<i64>>,
    session: Mutex<Session>,
}

pub(crate) struct PiperEngine {
    voices: Vec<PiperVoice>,
    espeak: PathBuf,
}

/// Genders of the Piper datasets we know of (the model files do not say).
fn gender_of(dataset: &str) -> Gender {
    match dataset {
        "joe" | "ryan" | "john" | "bryce" | "danny" | "kusal" | "norman" | "alan" | "arctic" => Gender::Male,
        "lessac" | "amy" | "kathleen" | "kristin" | "ljspeech" | "hfc_female" | "jenny_dioco" | "alba" | "cori" => Gender::Female,
        _ => Gender::Neutral,
    }
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

impl PiperEngine {
    pub(crate) fn start(settings: &SpeechSettings) -> Result<Self> {
        let p = &settings.piper;
        if p.models.is_empty() {
            return Err(SpeechError::not_installed(
                ENGINE,
                "no voice models configured ([speech.piper] models; run scripts/install-speech)",
            ));
        }
        espeak::check_binary(&p.espeak_binary).map_err(|e| SpeechError::not_installed(ENGINE, format!("phonemes need espeak-ng: {e}")))?;
        for m in &p.models {
            if !m.is_file() {
                return Err(SpeechError::not_installed(
                    ENGINE,
                    format!("voice model {} not found (run scripts/install-speech)", m.display()),
                ));
            }
        }
        let env = crate::ort_env::environment(settings, ENGINE)?;
        let mut voices = Vec::new();
        for model in &p.models {
            voices.push(load_voice(env, model, p.threads.max(1))?);
        }
        Ok(Self {
            voices,
            espeak: p.espeak_binary.clone(),
        })
    }

    fn phonemes(&self, voice: &str, clause: &str) -> Result<String> {
        let args = ["-q".to_owned(), "--ipa".to_owned(), "-v".to_owned(), voice.to_owned()];
        let out = espeak::run(&self.espeak, &args, clause)?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" "))
    }
}

fn load_voice(env: &ort::environment::Environment, model: &Path, threads: usize) -> Result<PiperVoice> {
    let json_path = PathBuf::from(format!("{}.json", model.display()));
    let text =
        std::fs::read_to_string(&json_path).map_err(|e| SpeechError::not_installed(ENGINE, format!("{}: {e}", json_path.display())))?;
    let config: ModelConfig =
        serde_json::from_str(&text).map_err(|e| SpeechError::not_installed(ENGINE, format!("{}: {e}", json_path.display())))?;
    let ids = config.phoneme_id_map.iter().filter_map(|(k, v)| {
        let mut cs = k.chars();
        match (cs.next(), cs.next()) {
            (Some(c), None) => Some((c, v.clone())),
            _ => None,
        }
    });
    let ids: HashMap<char, Vec<i64>> = ids.collect();
    for needed in ['^', '$', '_'] {
        if !ids.contains_key(&needed) {
            return Err(SpeechError::not_installed(
                ENGINE,
                format!("{}: phoneme_id_map lacks {needed:?}", json_path.display()),
            ));
        }
    }
    let session = (|| -> ort::Result<Session> { Session::builder(env)?.with_intra_threads(threads)?.commit_from_file(model) })()
        .map_err(|e| SpeechError::not_installed(ENGINE, format!("{}: {e}", model.display())))?;
    let dataset = config.dataset.clone().unwrap_or_else(|| {
        model
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.split('-').nth(1))
            .unwrap_or("voice")
            .to_owned()
    });
    let language = config
        .language
        .as_ref()
        .map_or_else(|| config.espeak.voice.clone(), |l| l.code.replace('_', "-"));
    let voice = Voice {
        id: format!("piper-{dataset}"),
        name: format!("{} (neural)", title_case(&dataset)),
        language,
        gender: gender_of(&dataset),
        engine: TtsEngine::Piper,
        sample_rate: config.audio.sample_rate,
        sample_text: "Hello, thanks for taking my call. Do you have a minute to talk about your account?".into(),
    };
    Ok(PiperVoice {
        voice,
        config,
        ids,
        session: Mutex::new(session),
    })
}

impl PiperVoice {
    /// Model input ids: BOS, pad, then each phoneme followed by pad, EOS.
    fn ids_for(&self, phonemes: &str) -> Vec<i64> {
        let pad = &self.ids[&'_'];
        let mut out = self.ids[&'^'].clone();
        out.extend_from_slice(pad);
        for c in phonemes.chars() {
            if let Some(id) = self.ids.get(&c) {
                out.extend_from_slice(id);
                out.extend_from_slice(pad);
            }
        }
        out.extend_from_slice(&self.ids[&'$']);
        out
    }

    fn infer(&self, ids: Vec<i64>, scales: [f32; 3]) -> Result<Vec<f32>> {
        let n = ids.len();
        let input = Array::from_shape_vec((1, n), ids).map_err(|e| SpeechError::engine(ENGINE, e))?;
        let lengths = Array::from_vec(vec![n as i64]);
        let scales = Array::from_vec(scales.to_vec());
        let mut session = self.session.lock().map_err(|_| SpeechError::engine(ENGINE, "session poisoned"))?;
        let err = |e: ort::Error| SpeechError::engine(ENGINE, e);
        let mut inputs = vec![
            ("input", TensorRef::from_array_view(&input).map_err(err)?.into_dyn()),
            ("input_lengths", TensorRef::from_array_view(&lengths).map_err(err)?.into_dyn()),
            ("scales", TensorRef::from_array_view(&scales).map_err(err)?.into_dyn()),
        ];
        let sid = Array::from_vec(vec![0i64]);
        if self.config.num_speakers > 1 {
            inputs.push(("sid", TensorRef::from_array_view(&sid).map_err(err)?.into_dyn()));
        }
        let outputs = session.run(inputs).map_err(err)?;
        let (_, data) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        Ok(data.to_vec())
    }
}

impl Synthesizer for PiperEngine {
    fn voices(&self) -> Vec<Voice> {
        self.voices.iter().map(|v| v.voice.clone()).collect()
    }

    fn synthesize_chunks(
        &self,
        text: &str,
        voice: &str,
        settings: &SynthesisSettings,
        on_chunk: &mut dyn FnMut(&Audio),
    ) -> Result<Vec<String>> {
        let v = self
            .voices
            .iter()
            .find(|v| v.voice.id == voice)
            .ok_or_else(|| SpeechError::UnknownVoice(voice.to_owned()))?;
        let mut not_applicable = Vec::new();
        if settings.pitch != 0.0 {
            not_applicable.push("pitch".to_owned());
        }
        not_applicable.extend(
            settings
                .extra
                .keys()
                .filter(|k| !matches!(k.as_str(), "noise_scale" | "noise_w"))
                .cloned(),
        );
        let inf = &v.config.inference;
        let scales = [
            settings.extra_f32("noise_scale").unwrap_or(inf.noise_scale).clamp(0.0, 2.0),
            inf.length_scale / settings.speed,
            settings.extra_f32("noise_w").unwrap_or(inf.noise_w).clamp(0.0, 2.0),
        ];
        let rate = v.voice.sample_rate;
        for (clause, punct) in clauses(text) {
            let mut phonemes = self.phonemes(&v.config.espeak.voice, &clause)?;
            if phonemes.is_empty() {
                continue;
            }
            phonemes.push(punct);
            let wave = v.infer(v.ids_for(&phonemes), scales)?;
            let mut samples: Vec<i16> = wave.into_iter().map(f32_to_i16).collect();
            // A breath after a sentence; clauses flow on.
            if matches!(punct, '.' | '!' | '?') {
                samples.extend(std::iter::repeat_n(0, rate as usize / 8));
            }
            on_chunk(&Audio::mono(samples, rate));
        }
        Ok(not_applicable)
    }
}
