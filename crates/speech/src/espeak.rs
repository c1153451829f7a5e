//! espeak-ng voices, run as a subprocess (espeak-ng is GPL-3; it stays
//! outside our binary). Fast and robotic: the fallback voice.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::audio::Audio;
use crate::error::{Result, SpeechError};
use crate::settings::{EspeakSettings, TtsEngine};
use crate::{Gender, SynthesisSettings, Synthesizer, Voice};

const ENGINE: &str = "espeak-ng";
const RATE: u32 = 22_050;
/// (id, name, espeak voice, language, gender)
const VOICES: [(&str, &str, &str, &str, Gender); 3] = [
    ("espeak-en-us", "English (US), espeak", "en-us", "en-US", Gender::Male),
    ("espeak-en-us-f", "English (US) female, espeak", "en-us+f3", "en-US", Gender::Female),
    ("espeak-en-gb", "English (UK), espeak", "en-gb", "en-GB", Gender::Male),
];

pub(crate) struct EspeakEngine {
    binary: PathBuf,
}

impl EspeakEngine {
    pub(crate) fn start(settings: &EspeakSettings) -> Result<Self> {
        check_binary(&settings.binary)?;
        Ok(Self {
            binary: settings.binary.clone(),
        })
    }
}

/// Runs `espeak-ng --version` to see the binary is there.
pub(crate) fn check_binary(binary: &Path) -> Result<()> {
    match Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(SpeechError::not_installed(
            ENGINE,
            format!("{} --version exited with {s}", binary.display()),
        )),
        Err(e) => Err(SpeechError::not_installed(
            ENGINE,
            format!(
                "{}: {e} (apt-get install espeak-ng, or run scripts/install-speech)",
                binary.display()
            ),
        )),
    }
}

/// Runs espeak-ng with `args`, `text` on stdin; returns stdout.
pub(crate) fn run(binary: &Path, args: &[String], text: &str) -> Result<Vec<u8>> {
    let mut child = Command::new(binary)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SpeechError::engine(ENGINE, format!("{}: {e}", binary.display())))?;
    // Text goes through stdin so nothing in it can be read as an option.
    let mut stdin = child.stdin.take().expect("piped stdin");
    let text = text.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
    });
    let out = child.wait_with_output().map_err(|e| SpeechError::engine(ENGINE, e))?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(SpeechError::engine(
            ENGINE,
            format!("exited with {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
        ));
    }
    Ok(out.stdout)
}

/// espeak-ng writes a streaming WAV (unknown data size): take the rate
/// from the header and every sample after the `data` chunk id.
fn parse_stdout_wav(b: &[u8]) -> Result<Audio> {
    if b.len() < 44 || &b[..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err(SpeechError::engine(ENGINE, "no WAV on stdout"));
    }
    let rate = u32::from_le_bytes([b[24], b[25], b[26], b[27]]);
    let at = b
        .windows(4)
        .position(|w| w == b"data")
        .ok_or_else(|| SpeechError::engine(ENGINE, "no data chunk"))?
        + 8;
    let samples = b
        .get(at..)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    Ok(Audio::mono(samples, rate))
}

impl Synthesizer for EspeakEngine {
    fn voices(&self) -> Vec<Voice> {
        VOICES
            .iter()
            .map(|(id, name, _, lang, gender)| Voice {
                id: (*id).into(),
                name: (*name).into(),
                language: (*lang).into(),
                gender: *gender,
                engine: TtsEngine::Espeak,
                sample_rate: RATE,
                sample_text: "Hello, this is a test of the espeak voice.".into(),
            })
            .collect()
    }

    fn synthesize_chunks(
        &self,
        text: &str,
        voice: &str,
        settings: &SynthesisSettings,
        on_chunk: &mut dyn FnMut(&Audio),
    ) -> Result<Vec<String>> {
        let (_, _, ev, _, _) = VOICES
            .iter()
            .find(|v| v.0 == voice)
            .ok_or_else(|| SpeechError::UnknownVoice(voice.to_owned()))?;
        let wpm = (175.0 * settings.speed).round() as i32;
        let pitch = (50.0 + settings.pitch * 4.0).round().clamp(0.0, 99.0) as i32;
        let mut args = vec![
            "-v".into(),
            (*ev).into(),
            "-s".into(),
            wpm.to_string(),
            "-p".into(),
            pitch.to_string(),
            "--stdout".into(),
        ];
        let mut not_applicable = Vec::new();
        for (k, v) in &settings.extra {
            match (k.as_str(), v.as_f64()) {
                ("word_gap", Some(ms)) => {
                    args.push("-g".into());
                    args.push(((ms / 10.0).round().clamp(0.0, 100.0) as i32).to_string());
                }
                _ => not_applicable.push(k.clone()),
            }
        }
        let audio = parse_stdout_wav(&run(&self.binary, &args, text)?)?;
        on_chunk(&audio);
        Ok(not_applicable)
    }
}
