//! Silero VAD (the v6 model faster-whisper ships), run in-process with ONNX
//! Runtime, 512 samples at 16 kHz (32 ms) a step, for live streams'
//! end-of-utterance detection.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use ndarray::Array;
use ort::session::Session;
use ort::value::TensorRef;

use crate::error::{Result, SpeechError};
use crate::settings::SpeechSettings;

const ENGINE: &str = "silero-vad";
/// Samples per VAD step at 16 kHz.
pub(crate) const WINDOW: usize = 512;
const CONTEXT: usize = 64;

pub struct VadModel {
    session: Mutex<Session>,
}

impl std::fmt::Debug for VadModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VadModel")
    }
}

/// The per-stream state of the detector.
pub(crate) struct VadState {
    h: Vec<f32>,
    c: Vec<f32>,
    context: Vec<f32>,
}

impl VadState {
    pub(crate) fn new() -> Self {
        Self {
            h: vec![0.0; 128],
            c: vec![0.0; 128],
            context: vec![0.0; CONTEXT],
        }
    }
}

impl VadModel {
    pub(crate) fn load(settings: &SpeechSettings) -> Result<Self> {
        let path = match &settings.whisper.vad_model {
            Some(p) => p.clone(),
            None => find_shipped(&settings.whisper.python)?,
        };
        if !path.is_file() {
            return Err(SpeechError::not_installed(
                ENGINE,
                format!("{} not found (run scripts/install-speech)", path.display()),
            ));
        }
        let env = crate::ort_env::environment(settings, ENGINE)?;
        let session = (|| -> ort::Result<Session> { Session::builder(env)?.with_intra_threads(1)?.commit_from_file(&path) })()
            .map_err(|e| SpeechError::not_installed(ENGINE, format!("{}: {e}", path.display())))?;
        Ok(Self {
            session: Mutex::new(session),
        })
    }

    /// Speech probability of one 512-sample window (16 kHz, -1..1).
    pub(crate) fn probability(&self, state: &mut VadState, window: &[f32]) -> Result<f32> {
        debug_assert_eq!(window.len(), WINDOW);
        let mut input = Vec::with_capacity(CONTEXT + WINDOW);
        input.extend_from_slice(&state.context);
        input.extend_from_slice(window);
        state.context.copy_from_slice(&window[WINDOW - CONTEXT..]);
        let err = |e: ort::Error| SpeechError::engine(ENGINE, e);
        let input = Array::from_shape_vec((1, CONTEXT + WINDOW), input).map_err(|e| SpeechError::engine(ENGINE, e))?;
        let h = Array::from_shape_vec((1, 1, 128), state.h.clone()).map_err(|e| SpeechError::engine(ENGINE, e))?;
        let c = Array::from_shape_vec((1, 1, 128), state.c.clone()).map_err(|e| SpeechError::engine(ENGINE, e))?;
        let mut session = self.session.lock().map_err(|_| SpeechError::engine(ENGINE, "session poisoned"))?;
        let outputs = session
            .run(ort::inputs![
                "input" => TensorRef::from_array_view(&input).map_err(err)?,
                "h" => TensorRef::from_array_view(&h).map_err(err)?,
                "c" => TensorRef::from_array_view(&c).map_err(err)?,
            ])
            .map_err(err)?;
        let (_, p) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        let (_, hn) = outputs[1].try_extract_tensor::<f32>().map_err(err)?;
        let (_, cn) = outputs[2].try_extract_tensor::<f32>().map_err(err)?;
        state.h.copy_from_slice(hn);
        state.c.copy_from_slice(cn);
        Ok(p.first().copied().unwrap_or(0.0))
    }
}

/// The VAD model inside the faster-whisper package the helper's Python has.
fn find_shipped(python: &PathBuf) -> Result<PathBuf> {
    let out = Command::new(python)
        .args([
            "-c",
            "import os, faster_whisper; print(os.path.join(os.path.dirname(faster_whisper.__file__), 'assets', 'silero_vad_v6.onnx'))",
        ])
        .output()
        .map_err(|e| SpeechError::not_installed(ENGINE, format!("{}: {e}", python.display())))?;
    if !out.status.success() {
        return Err(SpeechError::not_installed(
            ENGINE,
            "faster_whisper not importable, so its VAD model cannot be found",
        ));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
