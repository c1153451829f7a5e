//! Speech routes (voices, synthesis, cached audio with Range) and call
//! recordings (upload, Range, refusals, deletion with the call, retention,
//! transcription with speakers kept apart).
//!
//! Tests that need an engine use what `scripts/install-speech` installed
//! (settings from `SWITCHBOARD_SPEECH_CONFIG` or the workspace's
//! `data/speech/speech.toml`); without it they fail, unless
//! `SWITCHBOARD_SPEECH_OPTIONAL=1`, when they print why and pass.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard_speech::{Audio, SpeechSettings, SttEngine, TtsEngine, audio};

use crate::support::TestServer;

fn optional(why: &str) -> bool {
    if std::env::var("SWITCHBOARD_SPEECH_OPTIONAL").as_deref() == Ok("1") {
        eprintln!("SKIPPED (SWITCHBOARD_SPEECH_OPTIONAL=1): {why}");
        return true;
    }
    panic!("{why}; run scripts/install-speech (or set SWITCHBOARD_SPEECH_OPTIONAL=1 to skip)");
}

/// What install-speech wrote, or None when skipping.
pub(crate) fn installed() -> Option<SpeechSettings> {
    let path = std::env::var_os("SWITCHBOARD_SPEECH_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/speech/speech.toml"));
    match SpeechSettings::from_toml_file(&path) {
        Ok(s) => Some(s),
        Err(e) => {
            optional(&format!("no speech settings: {e}"));
            None
        }
    }
}

fn wav(seconds: f64, channels: u16) -> Vec<u8> {
    let n = (8000.0 * seconds) as usize * usize::from(channels);
    let samples = (0..n).map(|i| ((i as f64 * 0.3).sin() * 3000.0) as i16).collect();
    audio::write_wav(&Audio {
        samples,
        sample_rate: 8000,
        channels,
    })
}

async fn bytes_of(c: &crate::support::Client, path: &str, range: Option<&str>) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = reqwest::Client::new()
        .get(format!("{}{}", c.base, path))
        .header("authorization", format!("Bearer {}", c.key));
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn without_engines_speech_routes_answer_503_and_the_rest_runs() {
    let s = TestServer::start().await;
    let r = s.a.get("/v1/voices").await;
    r.assert_error(503, "unavailable");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("not installed"), "{}", r.body);
    assert_eq!(r.body["error"]["details"]["engine"], "text-to-speech");
    let r = s.a.post("/v1/speech", json!({"text": "hello"})).await;
    r.assert_error(503, "unavailable");
    // Everything else works, recordings included (not transcribed).
    assert_eq!(s.a.get("/v1/calls").await.status, 200);
    let call = s.a.new_call(json!({"phone": "+15551234567"})).await;
    let r =
        s.a.raw(Method::POST, &format!("/v1/calls/{call}/recording"), wav(0.5, 1), "audio/wav")
            .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["transcription"], "unavailable");
}

#[tokio::test]
async fn synthesis_is_cached_and_served_with_range() {
    if std::process::Command::new("espeak-ng").arg("--version").output().is_err() && optional("espeak-ng is not installed") {
        return;
    }
    let s = TestServer::start_with(|c| {
        c.speech = SpeechSettings {
            tts: vec![TtsEngine::Espeak],
            ..Default::default()
        };
    })
    .await;
    let voices = s.a.get("/v1/voices").await;
    assert_eq!(voices.status, 200, "{}", voices.body);
    let ids: Vec<&str> = voices.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"espeak-en-us"), "{ids:?}");
    assert_eq!(voices.body["data"][0]["sampleRate"], 22050);

    let body =
        json!({"text": "Hello, your appointment is at nine tomorrow.", "voice": "espeak-en-us", "stability": 0.5, "similarity_boost": 0.8});
    let r = s.a.post("/v1/speech", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["audioId"].as_str().unwrap().to_owned();
    let url = r.body["audioUrl"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/v1/audio/{id}.wav"));
    assert_eq!(r.body["characters"], 44);
    assert!(r.body["durationSecs"].as_f64().unwrap() > 1.0, "{}", r.body);
    assert_eq!(r.body["cached"], false);
    assert_eq!(r.body["notApplicable"], json!(["similarity_boost", "stability"]));
    let again = s.a.post("/v1/speech", body).await;
    assert_eq!(again.body["audioId"], id.as_str());
    assert_eq!(again.body["cached"], true);

    let (status, headers, whole) = bytes_of(&s.a, &url, None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "audio/wav");
    assert_eq!(headers["accept-ranges"], "bytes");
    let decoded = audio::read_wav(&whole).unwrap();
    assert_eq!(decoded.sample_rate, 22050);
    let len = whole.len();
    let (status, headers, part) = bytes_of(&s.a, &url, Some("bytes=0-11")).await;
    assert_eq!(status, 206);
    assert_eq!(headers["content-range"], format!("bytes 0-11/{len}").as_str());
    assert_eq!(&part[..], &whole[..12]);
    let (status, _, tail) = bytes_of(&s.a, &url, Some("bytes=-100")).await;
    assert_eq!(status, 206);
    assert_eq!(&tail[..], &whole[len - 100..]);
    let (status, headers, _) = bytes_of(&s.a, &url, Some(&format!("bytes={len}-"))).await;
    assert_eq!(status, 416);
    assert_eq!(headers["content-range"], format!("bytes */{len}").as_str());

    // Telephone formats: G.711 at 8 kHz, one byte a sample.
    let r =
        s.a.post(
            "/v1/speech",
            json!({"text": "Press one to continue.", "voice": "espeak-en-us-f", "format": "ulaw"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ulaw_url = r.body["audioUrl"].as_str().unwrap().to_owned();
    assert!(ulaw_url.ends_with(".ulaw"));
    let (status, headers, raw) = bytes_of(&s.a, &ulaw_url, None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "audio/basic");
    let secs = r.body["durationSecs"].as_f64().unwrap();
    assert!((raw.len() as f64 / 8000.0 - secs).abs() < 0.05, "{} bytes for {secs} s", raw.len());

    // Another organisation, or the wrong extension, finds nothing.
    assert_eq!(bytes_of(&s.b, &url, None).await.0, 404);
    assert_eq!(bytes_of(&s.a, &url.replace(".wav", ".ulaw"), None).await.0, 404);
    assert_eq!(bytes_of(&s.a, "/v1/audio/../../etc/passwd", None).await.0, 404);

    // Bad input names the field.
    s.a.post("/v1/speech", json!({"text": "x".repeat(5001)}))
        .await
        .assert_field_error("text");
    s.a.post("/v1/speech", json!({"text": ""})).await.assert_field_error("text");
    s.a.post("/v1/speech", json!({})).await.assert_field_error("text");
    s.a.post("/v1/speech", json!({"text": "hi", "voice": "nobody"}))
        .await
        .assert_field_error("voice");
    s.a.post("/v1/speech", json!({"text": "hi", "format": "mp3"}))
        .await
        .assert_field_error("format");
    s.a.post("/v1/speech", json!({"text": "hi", "format": "ogg"}))
        .await
        .assert_field_error("format");
    s.a.post("/v1/speech", json!({"text": "hi", "speed": 9}))
        .await
        .assert_field_error("speed");
    s.a.post("/v1/speech", json!({"text": "hi", "pitch": -40}))
        .await
        .assert_field_error("pitch");
}

#[tokio::test]
async fn a_recording_is_checked_stored_served_and_deleted_with_its_call() {
    let s = TestServer::start_with(|c| c.recording_max_bytes = 64 * 1024).await;
    let call = s.a.new_call(json!({"phone": "+15551234567"})).await;
    let path = format!("/v1/calls/{call}/recording");
    let before = s.snapshot(&s.a.org).await;

    // Refused: not audio (whatever it says), a lying header, too large, unknown call.
    s.a.raw(Method::POST, &path, b"this is not audio at all, just words".to_vec(), "audio/wav")
        .await
        .assert_error(415, "unsupported_media_type");
    s.a.raw(Method::POST, &path, b"\x89PNG\r\n\x1a\n0000000000".to_vec(), "audio/mpeg")
        .await
        .assert_error(415, "unsupported_media_type");
    let mut lie = wav(0.5, 1);
    lie[40..44].copy_from_slice(&1_000_000u32.to_le_bytes());
    s.a.raw(Method::POST, &path, lie, "audio/wav").await.assert_field_error("recording");
    s.a.raw(Method::POST, &path, wav(10.0, 1), "audio/wav")
        .await
        .assert_error(413, "payload_too_large");
    s.a.raw(Method::POST, &path, Vec::new(), "audio/wav")
        .await
        .assert_field_error("recording");
    s.a.raw(
        Method::POST,
        "/v1/calls/call_0696bc5xqk7ht3g6s9bb8qjv2r/recording",
        wav(0.5, 1),
        "audio/wav",
    )
    .await
    .assert_error(404, "not_found");
    s.b.raw(Method::POST, &path, wav(0.5, 1), "audio/wav")
        .await
        .assert_error(404, "not_found");
    // A recordingUrl inside the network is refused by the SSRF guard.
    s.a.post(&path, json!({"recordingUrl": "http://127.0.0.1:9/r.wav"}))
        .await
        .assert_field_error("recordingUrl");
    s.a.post(&path, json!({"recordingUrl": "http://169.254.169.254/latest"}))
        .await
        .assert_field_error("recordingUrl");
    // Nothing stored, nothing announced.
    assert_eq!(s.snapshot(&s.a.org).await, before);
    s.a.get(&path).await.assert_error(404, "not_found");
    let dir = s.state.speech.recordings_dir.join(s.a.org.id.as_str());
    assert!(
        std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0) == 0,
        "no files after refusals"
    );

    // A two-channel WAV, declared as something else: sniffed.
    let file = wav(1.0, 2);
    let r = s.a.raw(Method::POST, &path, file.clone(), "application/octet-stream").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["kind"], "wav");
    assert_eq!(r.body["contentType"], "audio/wav");
    assert_eq!(r.body["channels"], 2);
    assert_eq!(r.body["durationSecs"], 1.0);
    assert_eq!(r.body["recordingUrl"], path.as_str());
    let events = s.store.org_events_after(&s.a.org.id, 0, 1000).await.unwrap();
    let ready = events.iter().find(|e| e.event_type == "recording.ready").expect("recording.ready");
    assert_eq!(ready.data["callId"], call.as_str());
    assert_eq!(ready.data["duration"], 1.0);

    let (status, headers, whole) = bytes_of(&s.a, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "audio/wav");
    assert_eq!(whole, file);
    let (status, headers, part) = bytes_of(&s.a, &path, Some("bytes=44-99")).await;
    assert_eq!(status, 206);
    assert_eq!(headers["content-range"], format!("bytes 44-99/{}", file.len()).as_str());
    assert_eq!(&part[..], &file[44..100]);
    assert_eq!(bytes_of(&s.b, &path, None).await.0, 404);

    let stored = dir.join(format!("{call}.wav"));
    assert!(stored.is_file());
    assert!(stored.starts_with(s.state.cfg.data_dir.join("recordings")));
    assert_eq!(s.a.delete(&format!("/v1/calls/{call}")).await.status, 204);
    assert!(!stored.exists(), "the recording goes with its call");
    assert!(!dir.join(format!("{call}.json")).exists());
    assert_eq!(bytes_of(&s.a, &path, None).await.0, 404);
}

#[tokio::test]
async fn the_sweep_removes_recordings_of_vanished_calls() {
    let s = TestServer::start().await;
    let keep = s.a.new_call(json!({"phone": "+15551234567"})).await;
    let lose = s.a.new_call(json!({"phone": "+15551234568"})).await;
    for call in [&keep, &lose] {
        let r =
            s.a.raw(Method::POST, &format!("/v1/calls/{call}/recording"), wav(0.2, 1), "audio/wav")
                .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // Deleted behind the API's back (another node, a dialect, a retention job).
    s.store.delete_call(&s.a.org.id, &lose.parse().unwrap()).await.unwrap();
    let removed = switchboard_server::workers::recordings::RecordingsWorker::run_once(&s.state).await;
    assert_eq!(removed, 1);
    assert_eq!(bytes_of(&s.a, &format!("/v1/calls/{keep}/recording"), None).await.0, 200);
    assert_eq!(bytes_of(&s.a, &format!("/v1/calls/{lose}/recording"), None).await.0, 404);
}

#[tokio::test]
async fn a_two_channel_recording_is_transcribed_with_speakers_apart() {
    let Some(installed) = installed() else { return };
    let librivox = std::path::Path::new("/usr/share/pocketsphinx/test/data/librivox");
    if !librivox.join("transcription").is_file() && optional("pocketsphinx-testdata is not installed") {
        return;
    }
    let settings = SpeechSettings {
        tts: vec![],
        stt: SttEngine::Whisper,
        ..installed
    };
    let s = TestServer::start_with(|c| c.speech = settings).await;
    assert!(
        s.state.speech.engines.problems().is_empty(),
        "{:?}",
        s.state.speech.engines.problems()
    );
    // Left (agent): "he was not an ill disposed young man"; right (customer),
    // after the agent is done: "he might even have been made amiable himself".
    let read = |id: &str| {
        audio::read_wav(&std::fs::read(librivox.join(format!("sense_and_sensibility_01_austen_64kb-{id}.wav"))).unwrap()).unwrap()
    };
    let (agent, customer) = (read("0880"), read("0930"));
    let rate = agent.sample_rate;
    let gap = rate as usize / 2;
    let frames = agent.samples.len() + gap + customer.samples.len();
    let mut stereo = vec![0i16; frames * 2];
    for (i, &x) in agent.samples.iter().enumerate() {
        stereo[2 * i] = x;
    }
    for (i, &x) in customer.samples.iter().enumerate() {
        stereo[2 * (agent.samples.len() + gap + i) + 1] = x;
    }
    let file = audio::write_wav(&Audio {
        samples: stereo,
        sample_rate: rate,
        channels: 2,
    });
    let call = s.a.new_call(json!({"phone": "+15551234567"})).await;
    let r =
        s.a.raw(Method::POST, &format!("/v1/calls/{call}/recording"), file, "audio/wav")
            .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["transcription"], "pending");

    let started = Instant::now();
    let done = loop {
        let events = s.store.org_events_after(&s.a.org.id, 0, 1000).await.unwrap();
        if let Some(e) = events.into_iter().find(|e| e.event_type == "transcription.complete") {
            break e;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no transcription.complete within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let segments = done.data["segments"].as_array().unwrap();
    let said = |who: &str| -> String {
        segments
            .iter()
            .filter(|x| x["speaker"] == who)
            .map(|x| x["text"].as_str().unwrap().to_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(said("agent").contains("young man"), "{segments:?}");
    assert!(said("customer").contains("amiable"), "{segments:?}");
    assert_eq!(segments[0]["speaker"], "agent");
    assert!(done.data["transcript"].as_str().unwrap().starts_with("Agent: "));
    let call_id = call.parse().unwrap();
    let kept = switchboard_server::workers::recordings::transcript(&s.state, &s.a.org.id, &call_id)
        .await
        .unwrap();
    assert_eq!(kept.len(), segments.len());
    // The call had no live transcript: the recording's segments became it.
    let stored = s.store.transcript(&s.a.org.id, &call_id).await.unwrap();
    assert_eq!(stored, kept);
}

/// `switchboard eval stt` runs the installed Whisper model over the LibriVox
/// utterances (read speech none of us wrote) and prints the word error rate,
/// clean and through the telephone channel.
#[tokio::test]
async fn eval_stt_prints_the_word_error_rate_of_the_installed_engine() {
    let Some(settings) = installed() else { return };
    if settings.stt == SttEngine::None {
        optional("no speech-to-text engine installed");
        return;
    }
    let config = std::env::var_os("SWITCHBOARD_SPEECH_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/speech/speech.toml"));
    let data = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(crate::cli::BIN)
            .args(["eval", "stt", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(data.path())
            .env("SWITCHBOARD_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for set in ["clean", "telephone"] {
        assert_eq!(report[set]["utterances"], 5, "{report}");
        assert_eq!(report[set]["words"], 71, "{report}");
        let wer = report[set]["wer"].as_f64().unwrap();
        // Whisper tiny.en measured 4–6 % here; a broken channel or model is far worse.
        assert!(wer < 0.15, "{set} WER {wer}: {report}");
    }
    // A folder that does not exist is refused by name.
    let out = std::process::Command::new(crate::cli::BIN)
        .args(["eval", "stt", "--data", "/nonexistent/utterances"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data /nonexistent/utterances"));
}
