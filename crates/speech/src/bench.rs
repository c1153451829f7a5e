//! The speech benchmark (`switchboard bench speech`): TTS first-audio
//! latency and real-time factor for a 20-word prompt, the cached latency,
//! STT real-time factor, how many live streams keep up on this machine,
//! and peak memory (ours and the helper processes').

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::audio::{AudioFormat, encode, telephone_channel};
use crate::cache::{AudioCache, CachedAudio, audio_id};
use crate::error::Result;
use crate::{Speaker, Speech, SynthesisSettings};

/// The 20-word prompt.
pub const PROMPT: &str = "Hello, this is Alex from Acme Energy. I am calling about your recent bill, do you have a minute to talk?";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TtsFigures {
    pub voice: String,
    pub words: usize,
    pub audio_secs: f64,
    /// Median time to the first clause's audio.
    pub first_audio_ms_p50: f64,
    pub first_audio_ms_max: f64,
    /// Median time for the whole prompt.
    pub total_ms_p50: f64,
    pub real_time_factor: f64,
    /// Median time to find the prompt in the cache and read its file.
    pub cached_ms_p50: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SttFigures {
    pub audio_secs: f64,
    pub wall_secs: f64,
    pub real_time_factor: f64,
    /// Live streams fed at once (as fast as they go), and the audio seconds
    /// transcribed per wall second with that many.
    pub streams_tested: usize,
    pub stream_throughput: f64,
    /// Streams that keep up with real time (throughput rounded down).
    pub realtime_streams: usize,
    /// Median delay from the end of an utterance's speech to the moment its
    /// segments come out, with `streams_tested` streams fed in real time
    /// (includes the 500 ms of silence that ends an utterance).
    pub live_latency_ms_p50: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchReport {
    pub cpu: String,
    pub cores: usize,
    pub tts: Vec<TtsFigures>,
    pub stt: Option<SttFigures>,
    /// Peak resident memory of this process and of its helper processes, MB.
    pub peak_rss_mb: f64,
    pub helpers_peak_rss_mb: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs the benchmark: `runs` syntheses per voice, `streams` live streams.
pub fn run(speech: &Speech, runs: usize, streams: usize, cache_dir: &std::path::Path) -> Result<BenchReport> {
    let mut tts = Vec::new();
    let settings = SynthesisSettings::default();
    let cache = AudioCache::open(cache_dir, 64 << 20, Duration::from_secs(3600))?;
    for voice in speech.voices() {
        // Warm-up (first inference allocates).
        speech.synthesize(PROMPT, &voice.id, &settings)?;
        let (mut first, mut total) = (Vec::new(), Vec::new());
        let mut audio_secs = 0.0;
        for _ in 0..runs.max(1) {
            let started = Instant::now();
            let mut first_at = None;
            let mut samples = 0usize;
            let mut rate = voice.sample_rate;
            speech.synthesize_chunks(PROMPT, &voice.id, &settings, &mut |a| {
                first_at.get_or_insert_with(|| started.elapsed());
                samples += a.samples.len();
                rate = a.sample_rate;
            })?;
            total.push(ms(started.elapsed()));
            first.push(ms(first_at.unwrap_or_default()));
            audio_secs = samples as f64 / f64::from(rate);
        }
        let spoken = speech.synthesize(PROMPT, &voice.id, &settings)?;
        let id = audio_id(PROMPT, &voice.id, &settings.key(), AudioFormat::Wav);
        let bytes = encode(&spoken.audio, AudioFormat::Wav)?;
        cache.put(
            CachedAudio {
                id: id.clone(),
                format: AudioFormat::Wav,
                duration_secs: audio_secs,
                characters: PROMPT.len(),
                bytes: 0,
                owner: None,
            },
            &bytes,
        )?;
        let mut cached = Vec::new();
        for _ in 0..50 {
            let started = Instant::now();
            let key = audio_id(PROMPT, &voice.id, &settings.key(), AudioFormat::Wav);
            if let Some((_, path)) = cache.get(&key) {
                let _ = std::fs::read(path)?;
            }
            cached.push(ms(started.elapsed()));
        }
        let total_p50 = median(total.clone());
        tts.push(TtsFigures {
            voice: voice.id.clone(),
            words: PROMPT.split_whitespace().count(),
            audio_secs,
            first_audio_ms_p50: median(first.clone()),
            first_audio_ms_max: first.iter().copied().fold(0.0, f64::max),
            total_ms_p50: total_p50,
            real_time_factor: total_p50 / 1000.0 / audio_secs.max(1e-9),
            cached_ms_p50: median(cached),
        });
    }
    let stt = match speech.transcriber() {
        Ok(t) => Some(stt_figures(speech, &*t, streams.max(1))?),
        Err(_) => None,
    };
    Ok(BenchReport {
        cpu: cpu_model(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        tts,
        stt,
        peak_rss_mb: peak_rss_kb(std::process::id()) as f64 / 1024.0,
        helpers_peak_rss_mb: children_peak_rss_kb() as f64 / 1024.0,
    })
}

/// Test speech for STT: the LibriVox set when installed, else our own voice.
fn stt_audio(speech: &Speech) -> Result<Vec<crate::Audio>> {
    if let Ok(set) = crate::eval::librivox(std::path::Path::new(crate::eval::LIBRIVOX_DIR)) {
        let mut out = Vec::new();
        for (wav, _) in set {
            out.push(telephone_channel(&crate::audio::read_wav(&std::fs::read(wav)?)?)?);
        }
        return Ok(out);
    }
    let voice = speech.voice(None)?;
    Ok(vec![telephone_channel(
        &speech.synthesize(PROMPT, &voice.id, &SynthesisSettings::default())?.audio,
    )?])
}

fn stt_figures(speech: &Speech, t: &dyn crate::Transcriber, streams: usize) -> Result<SttFigures> {
    let clips = stt_audio(speech)?;
    t.transcribe(&clips[0], Speaker::Customer)?; // warm-up
    let audio_secs: f64 = clips.iter().map(|c| c.duration_secs()).sum();
    let started = Instant::now();
    for c in &clips {
        t.transcribe(c, Speaker::Customer)?;
    }
    let wall_secs = started.elapsed().as_secs_f64();

    // Live streams: the clips back to back with 1 s of silence between, 8 kHz.
    let mut feed: Vec<i16> = Vec::new();
    for c in &clips {
        feed.extend_from_slice(&c.samples);
        feed.extend(std::iter::repeat_n(0i16, 8000));
    }
    let feed_secs = feed.len() as f64 / 8000.0;
    // As fast as they go: throughput.
    let started = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..streams)
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    let mut st = speech.stream(Speaker::Customer, 8000)?;
                    for frame in feed.chunks(160) {
                        st.push(frame)?;
                    }
                    st.finish()?;
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().expect("stream thread")?;
        }
        Ok(())
    })?;
    let throughput = feed_secs * streams as f64 / started.elapsed().as_secs_f64();
    // In real time: latency from the end of each utterance to its segment.
    let latencies = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..streams)
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    let mut st = speech.stream(Speaker::Customer, 8000)?;
                    let t0 = Instant::now();
                    for (i, frame) in feed.chunks(160).enumerate() {
                        let due = Duration::from_millis(20 * i as u64);
                        if let Some(wait) = due.checked_sub(t0.elapsed()) {
                            std::thread::sleep(wait);
                        }
                        st.push(frame)?;
                        // Fed in real time, so stream time is wall time since t0.
                        // One utterance comes back as one batch (maybe several
                        // segments): its delay is from the end of its speech.
                        let batch = st.poll()?;
                        if let Some(end) = batch.iter().map(|s| s.end_ms).max() {
                            latencies.lock().expect("latencies").push(ms(t0.elapsed()) - end as f64);
                        }
                    }
                    st.finish()?;
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().expect("stream thread")?;
        }
        Ok(())
    })?;
    Ok(SttFigures {
        audio_secs,
        wall_secs,
        real_time_factor: wall_secs / audio_secs.max(1e-9),
        streams_tested: streams,
        stream_throughput: throughput,
        realtime_streams: throughput.floor() as usize,
        live_latency_ms_p50: median(latencies.into_inner().expect("latencies")),
    })
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// VmHWM of a process, in kB.
pub fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Sum of the peak RSS of this process's children (the helper processes).
fn children_peak_rss_kb() -> u64 {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, rest)| rest.split_whitespace().nth(1) == Some(me.as_str()))
                })
                .unwrap_or(false)
        })
        .map(peak_rss_kb)
        .sum()
}
