//! Whisper speech-to-text through supervised helper processes: Python with
//! faster-whisper (CTranslate2, int8) holding a model, speaking JSON lines
//! over stdin/stdout. A bounded queue in front (full → `Busy`), a restart
//! after a crash or a time-out, Silero VAD inside the helper before Whisper.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

use crate::audio::Audio;
use crate::error::{Result, SpeechError};
use crate::settings::WhisperSettings;
use crate::{Segment, Speaker, Transcriber, Transcript, Word};

const ENGINE: &str = "whisper";
const SCRIPT: &str = include_str!("whisper_worker.py");
/// Whisper's own rate.
pub(crate) const WHISPER_RATE: u32 = 16_000;

type Reply = SyncSender<Result<serde_json::Value>>;

struct Job {
    request: serde_json::Value,
    reply: Reply,
}

pub(crate) struct WhisperEngine {
    queue: SyncSender<Job>,
}

#[derive(Deserialize)]
struct WSegment {
    start: f64,
    end: f64,
    text: String,
    avg_logprob: f64,
    #[serde(default)]
    words: Vec<WWord>,
}
#[derive(Deserialize)]
struct WWord {
    start: f64,
    end: f64,
    word: String,
    p: f64,
}

impl WhisperEngine {
    pub(crate) fn start(settings: &WhisperSettings) -> Result<Self> {
        let model = settings.model.clone().ok_or_else(|| {
            SpeechError::not_installed(ENGINE, "no model configured ([speech.whisper] model; run scripts/install-speech)")
        })?;
        if !model.join("model.bin").is_file() {
            return Err(SpeechError::not_installed(
                ENGINE,
                format!("no model.bin in {} (run scripts/install-speech)", model.display()),
            ));
        }
        check_python(&settings.python)?;
        let (tx, rx) = sync_channel::<Job>(settings.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let workers = settings.workers.max(1);
        let mut first = None;
        for i in 0..workers {
            let w = Worker {
                settings: settings.clone(),
                model: model.clone(),
                child: None,
            };
            let rx = rx.clone();
            let (ready_tx, ready_rx) = sync_channel(1);
            std::thread::Builder::new()
                .name(format!("whisper-{i}"))
                .spawn(move || w.run(rx, ready_tx))
                .map_err(|e| SpeechError::engine(ENGINE, e))?;
            if i == 0 {
                first = Some(ready_rx);
            }
        }
        // The first helper must come up, so a broken install is reported at start.
        match first.expect("one worker").recv_timeout(Duration::from_secs(120)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(SpeechError::not_installed(ENGINE, e.to_string())),
            Err(_) => return Err(SpeechError::not_installed(ENGINE, "the helper did not start within 120 s")),
        }
        Ok(Self { queue: tx })
    }

    fn call(&self, request: serde_json::Value) -> Result<serde_json::Value> {
        let (reply, rx) = sync_channel(1);
        match self.queue.try_send(Job { request, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(SpeechError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(SpeechError::engine(ENGINE, "helper threads stopped")),
        }
        rx.recv().map_err(|_| SpeechError::engine(ENGINE, "helper thread gone"))?
    }
}

fn check_python(python: &PathBuf) -> Result<()> {
    let out = Command::new(python)
        .args(["-c", "import faster_whisper, ctranslate2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| SpeechError::not_installed(ENGINE, format!("{}: {e} (run scripts/install-speech)", python.display())))?;
    if !out.status.success() {
        return Err(SpeechError::not_installed(
            ENGINE,
            format!(
                "{} cannot import faster_whisper (run scripts/install-speech): {}",
                python.display(),
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
            ),
        ));
    }
    Ok(())
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

struct Worker {
    settings: WhisperSettings,
    model: PathBuf,
    child: Option<Running>,
}

impl Worker {
    fn run(mut self, jobs: Arc<Mutex<Receiver<Job>>>, ready: SyncSender<Result<()>>) {
        let _ = ready.send(self.ensure().map(|_| ()));
        let mut next_id: u64 = 0;
        loop {
            let job = {
                let Ok(rx) = jobs.lock() else { return };
                match rx.recv() {
                    Ok(j) => j,
                    Err(_) => break,
                }
            };
            next_id += 1;
            let answer = self.handle(next_id, job.request);
            let _ = job.reply.send(answer);
        }
        self.stop();
    }

    fn handle(&mut self, id: u64, mut request: serde_json::Value) -> Result<serde_json::Value> {
        request["id"] = json!(id);
        let line = format!("{request}\n");
        let timeout = Duration::from_secs(self.settings.timeout_secs.max(1));
        // One retry with a fresh helper when the old one died under us.
        for attempt in 0..2 {
            let running = self.ensure()?;
            let sent = running.stdin.write_all(line.as_bytes()).and_then(|_| running.stdin.flush());
            if sent.is_err() {
                self.stop();
                if attempt == 0 {
                    continue;
                }
                return Err(SpeechError::engine(ENGINE, "the helper closed its input"));
            }
            loop {
                match running.lines.recv_timeout(timeout) {
                    Ok(l) => {
                        let v: serde_json::Value =
                            serde_json::from_str(&l).map_err(|e| SpeechError::engine(ENGINE, format!("bad reply: {e}")))?;
                        if v.get("id") != Some(&json!(id)) {
                            continue; // a late answer to a request that timed out
                        }
                        if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
                            return Err(SpeechError::engine(ENGINE, e));
                        }
                        return Ok(v);
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        tracing::warn!(secs = timeout.as_secs(), "whisper helper timed out; restarting it");
                        self.stop();
                        return Err(SpeechError::engine(ENGINE, "timed out"));
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        tracing::warn!("whisper helper exited; restarting it");
                        self.stop();
                        if attempt == 0 {
                            break;
                        }
                        return Err(SpeechError::engine(ENGINE, "the helper crashed"));
                    }
                }
            }
        }
        Err(SpeechError::engine(ENGINE, "the helper crashed"))
    }

    fn ensure(&mut self) -> Result<&mut Running> {
        if let Some(r) = &mut self.child {
            if matches!(r.child.try_wait(), Ok(None)) {
                return Ok(self.child.as_mut().expect("checked"));
            }
            self.stop();
        }
        let s = &self.settings;
        let script = script_file()?;
        let mut child = Command::new(&s.python)
            .arg("-u")
            .arg(&script)
            .arg(&self.model)
            .arg(s.threads.max(1).to_string())
            .arg(&s.language)
            .arg(s.beam_size.max(1).to_string())
            .env("HF_HUB_OFFLINE", "1")
            .env("OMP_NUM_THREADS", s.threads.max(1).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SpeechError::engine(ENGINE, format!("{}: {e}", s.python.display())))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = sync_channel::<String>(16);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The helper's stderr goes to our log, a line at a time.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(std::result::Result::ok) {
                if !line.trim().is_empty() {
                    tracing::debug!(target: "speech::whisper", "{line}");
                }
            }
        });
        match lines.recv_timeout(Duration::from_secs(120)) {
            Ok(l) if l.contains("\"ready\"") => {}
            Ok(l) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SpeechError::engine(ENGINE, format!("unexpected first line from the helper: {l}")));
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SpeechError::engine(
                    ENGINE,
                    "the helper exited before it was ready (is the model readable?)",
                ));
            }
        }
        self.child = Some(Running { child, stdin, lines });
        Ok(self.child.as_mut().expect("just set"))
    }

    fn stop(&mut self) {
        if let Some(mut r) = self.child.take() {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

/// The helper script, written once per content to the temp folder (so
/// `ps` shows a path, not the whole script).
fn script_file() -> Result<PathBuf> {
    use sha2::Digest;
    let hash = hex::encode(&sha2::Sha256::digest(SCRIPT.as_bytes())[..8]);
    let path = std::env::temp_dir().join(format!("switchboard-whisper-{hash}.py"));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(SCRIPT) {
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&tmp, SCRIPT)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}

fn ms(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}

impl Transcriber for WhisperEngine {
    fn transcribe(&self, audio: &Audio, speaker: Speaker) -> Result<Transcript> {
        let pcm = audio.resampled(WHISPER_RATE)?;
        let mut bytes = Vec::with_capacity(pcm.samples.len() * 2);
        for s in &pcm.samples {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        let v = self.call(json!({"op": "transcribe", "pcm16": base64::engine::general_purpose::STANDARD.encode(&bytes)}))?;
        let segs: Vec<WSegment> =
            serde_json::from_value(v["segments"].clone()).map_err(|e| SpeechError::engine(ENGINE, format!("bad reply: {e}")))?;
        let mut out = Transcript::default();
        for s in segs {
            if s.text.trim().is_empty() {
                continue;
            }
            let i = out.segments.len();
            out.segments.push(Segment {
                speaker,
                text: s.text.trim().to_owned(),
                start_ms: ms(s.start),
                end_ms: ms(s.end),
                confidence: Some(s.avg_logprob.exp().clamp(0.0, 1.0) as f32),
                is_final: true,
            });
            out.words.extend(s.words.into_iter().map(|w| Word {
                text: w.word,
                start_ms: ms(w.start),
                end_ms: ms(w.end),
                probability: w.p as f32,
                segment: i,
            }));
        }
        Ok(out)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Audio> {
        let v = self.call(json!({"op": "decode", "data": base64::engine::general_purpose::STANDARD.encode(bytes)}))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(v["pcm16"].as_str().unwrap_or_default())
            .map_err(|e| SpeechError::engine(ENGINE, format!("bad reply: {e}")))?;
        let channels = v["channels"].as_u64().unwrap_or(1).clamp(1, 2) as u16;
        let samples = raw.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        Ok(Audio {
            samples,
            sample_rate: WHISPER_RATE,
            channels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The installed settings, or None (with a note) when
    /// SWITCHBOARD_SPEECH_OPTIONAL=1 and they are missing.
    fn installed() -> Option<WhisperSettings> {
        let path = std::env::var_os("SWITCHBOARD_SPEECH_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/speech/speech.toml"));
        match crate::SpeechSettings::from_toml_file(&path) {
            Ok(s) if s.whisper.model.is_some() => Some(s.whisper),
            other => {
                let why = format!(
                    "no Whisper settings in {} ({:?}); run scripts/install-speech",
                    path.display(),
                    other.err()
                );
                if std::env::var("SWITCHBOARD_SPEECH_OPTIONAL").as_deref() == Ok("1") {
                    eprintln!("SKIPPED (SWITCHBOARD_SPEECH_OPTIONAL=1): {why}");
                    None
                } else {
                    panic!("{why} (set SWITCHBOARD_SPEECH_OPTIONAL=1 to skip)");
                }
            }
        }
    }

    #[test]
    fn the_helper_is_restarted_after_it_dies_and_the_queue_is_bounded() {
        let Some(settings) = installed() else { return };
        let engine = WhisperEngine::start(&WhisperSettings { queue: 1, ..settings }).unwrap();
        assert!(engine.call(json!({"op": "ping"})).is_ok());
        // The helper exits under the request (and again on the one retry).
        assert!(matches!(engine.call(json!({"op": "exit"})), Err(SpeechError::Engine { .. })));
        // The next request gets a fresh helper.
        let silence = Audio::mono(vec![0; 16_000], 16_000);
        assert!(engine.transcribe(&silence, Speaker::Customer).unwrap().segments.is_empty());
        // A full queue answers Busy at once instead of waiting.
        let engine = std::sync::Arc::new(engine);
        let long = Audio::mono(vec![0; 16_000 * 30], 16_000);
        let busy = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6).map(|_| s.spawn(|| engine.transcribe(&long, Speaker::Customer))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|r| matches!(r, Err(SpeechError::Busy)))
                .count()
        });
        assert!(busy >= 1, "six requests on a queue of one: some must be refused");
    }

    #[test]
    fn a_missing_model_is_reported_not_panicked() {
        let e = WhisperEngine::start(&WhisperSettings {
            model: Some("/nonexistent".into()),
            ..Default::default()
        });
        assert!(matches!(e, Err(SpeechError::NotInstalled { engine: "whisper", .. })));
        let e = WhisperEngine::start(&WhisperSettings::default());
        assert!(matches!(e, Err(SpeechError::NotInstalled { .. })));
    }
}
