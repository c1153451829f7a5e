//! Live transcription of one speaker: 20 ms frames in (a SIP carrier's RTP
//! payload, decoded), Silero VAD on every 32 ms, and at each end of
//! utterance the utterance goes to the transcriber on the stream's own
//! thread; final segments come back through [`LiveStream::poll`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::thread::JoinHandle;

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::audio::Audio;
use crate::error::{Result, SpeechError};
use crate::vad::{VadModel, VadState, WINDOW};
use crate::{Segment, Speaker, Transcriber};

/// The frame length live streams are fed with.
pub const FRAME_MS: u32 = 20;
const RATE: u32 = 16_000;
const WINDOW_MS: i64 = (WINDOW as i64 * 1000) / RATE as i64;
const THRESHOLD: f32 = 0.5;
const NEG_THRESHOLD: f32 = 0.35;
/// Silence that ends an utterance.
const END_SILENCE_MS: i64 = 500;
/// Audio kept before the detected start (the VAD reacts a little late).
const PRE_ROLL_WINDOWS: usize = 10;
/// Shortest speech worth transcribing.
const MIN_SPEECH_MS: i64 = 200;
/// Longest utterance before it is cut and sent anyway.
const MAX_UTTERANCE_MS: i64 = 25_000;

type Utterance = (Vec<i16>, i64);

/// One live stream. Not `Sync`: one task feeds it.
pub struct LiveStream {
    vad: Arc<VadModel>,
    state: VadState,
    resampler: Option<Fft<f32>>,
    frame_len: usize,
    input: Vec<f32>,
    pending: Vec<f32>,
    /// Milliseconds of 16 kHz audio the VAD has seen.
    pos_ms: i64,
    pre_roll: VecDeque<Vec<f32>>,
    utterance: Option<(Vec<f32>, i64)>,
    speech_ms: i64,
    silence_ms: i64,
    jobs: Option<SyncSender<Utterance>>,
    results: Receiver<Result<Vec<Segment>>>,
    worker: Option<JoinHandle<()>>,
}

impl LiveStream {
    pub(crate) fn start(transcriber: Arc<dyn Transcriber>, vad: Arc<VadModel>, speaker: Speaker, sample_rate: u32) -> Result<Self> {
        if !(8_000..=48_000).contains(&sample_rate) {
            return Err(SpeechError::invalid("sampleRate", "must be between 8000 and 48000"));
        }
        let frame_len = (sample_rate * FRAME_MS / 1000) as usize;
        let resampler = if sample_rate == RATE {
            None
        } else {
            Some(
                Fft::<f32>::new(sample_rate as usize, RATE as usize, frame_len, 1, FixedSync::Input)
                    .map_err(|e| SpeechError::engine("resampler", e))?,
            )
        };
        let (jobs, rx) = sync_channel::<Utterance>(16);
        let (tx, results) = sync_channel::<Result<Vec<Segment>>>(64);
        let worker = std::thread::Builder::new()
            .name("live-stt".into())
            .spawn(move || {
                for (pcm, start_ms) in rx {
                    let r = transcriber.transcribe(&Audio::mono(pcm, RATE), speaker).map(|t| {
                        t.segments
                            .into_iter()
                            .map(|mut s| {
                                s.start_ms += start_ms;
                                s.end_ms += start_ms;
                                s
                            })
                            .collect()
                    });
                    if tx.send(r).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| SpeechError::engine("live stream", e))?;
        Ok(Self {
            vad,
            state: VadState::new(),
            resampler,
            frame_len,
            input: Vec::new(),
            pending: Vec::new(),
            pos_ms: 0,
            pre_roll: VecDeque::new(),
            utterance: None,
            speech_ms: 0,
            silence_ms: 0,
            jobs: Some(jobs),
            results,
            worker: Some(worker),
        })
    }

    /// Feeds PCM (a 20 ms frame, or any length) at the stream's rate. Cheap:
    /// only the VAD runs here; transcription runs on the stream's thread.
    pub fn push(&mut self, samples: &[i16]) -> Result<()> {
        self.input.extend(samples.iter().map(|&s| f32::from(s) / 32768.0));
        match &mut self.resampler {
            None => self.pending.append(&mut self.input),
            Some(r) => {
                let mut at = 0;
                while self.input.len() - at >= self.frame_len {
                    let chunk = &self.input[at..at + self.frame_len];
                    let adapter = InterleavedSlice::new(chunk, 1, self.frame_len).map_err(|e| SpeechError::engine("resampler", e))?;
                    let out = r.process(&adapter, None).map_err(|e| SpeechError::engine("resampler", e))?;
                    self.pending.extend(out.take_data());
                    at += self.frame_len;
                }
                self.input.drain(..at);
            }
        }
        let mut at = 0;
        while self.pending.len() - at >= WINDOW {
            let window: Vec<f32> = self.pending[at..at + WINDOW].to_vec();
            at += WINDOW;
            self.step(window)?;
        }
        self.pending.drain(..at);
        Ok(())
    }

    fn step(&mut self, window: Vec<f32>) -> Result<()> {
        let p = self.vad.probability(&mut self.state, &window)?;
        self.pos_ms += WINDOW_MS;
        match &mut self.utterance {
            None => {
                if p >= THRESHOLD {
                    let mut pcm: Vec<f32> = self.pre_roll.drain(..).flatten().collect();
                    let start = self.pos_ms - WINDOW_MS - (pcm.len() as i64 * 1000 / i64::from(RATE));
                    pcm.extend_from_slice(&window);
                    self.utterance = Some((pcm, start.max(0)));
                    self.speech_ms = WINDOW_MS;
                    self.silence_ms = 0;
                } else {
                    self.pre_roll.push_back(window);
                    if self.pre_roll.len() > PRE_ROLL_WINDOWS {
                        self.pre_roll.pop_front();
                    }
                }
            }
            Some((pcm, start)) => {
                pcm.extend_from_slice(&window);
                if p < NEG_THRESHOLD {
                    self.silence_ms += WINDOW_MS;
                } else {
                    if p >= THRESHOLD {
                        self.speech_ms += WINDOW_MS;
                    }
                    self.silence_ms = 0;
                }
                let long = self.pos_ms - *start >= MAX_UTTERANCE_MS;
                if self.silence_ms >= END_SILENCE_MS || long {
                    self.end_utterance()?;
                }
            }
        }
        Ok(())
    }

    fn end_utterance(&mut self) -> Result<()> {
        let Some((pcm, start)) = self.utterance.take() else { return Ok(()) };
        let speech = self.speech_ms;
        self.speech_ms = 0;
        self.silence_ms = 0;
        if speech < MIN_SPEECH_MS {
            return Ok(());
        }
        let pcm16: Vec<i16> = pcm.into_iter().map(crate::audio::f32_to_i16).collect();
        let Some(jobs) = &self.jobs else { return Ok(()) };
        match jobs.try_send((pcm16, start)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(SpeechError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(SpeechError::engine("live stream", "transcription thread stopped")),
        }
    }

    /// Final segments transcribed since the last call (times in ms from the
    /// stream's first sample).
    pub fn poll(&mut self) -> Result<Vec<Segment>> {
        let mut out = Vec::new();
        loop {
            match self.results.try_recv() {
                Ok(r) => out.extend(r?),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(out),
            }
        }
    }

    /// True while an utterance is open (the caller is speaking).
    pub fn in_speech(&self) -> bool {
        self.utterance.is_some()
    }

    /// Ends the stream: the open utterance is transcribed, and every
    /// segment not yet polled is returned once all are done.
    pub fn finish(mut self) -> Result<Vec<Segment>> {
        let tail = std::mem::take(&mut self.pending);
        if !tail.is_empty() && self.utterance.is_some() {
            let mut w = tail;
            w.resize(WINDOW, 0.0);
            self.step(w)?;
        }
        self.end_utterance()?;
        self.jobs = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        let mut out = Vec::new();
        for r in self.results.try_iter() {
            out.extend(r?);
        }
        Ok(out)
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        // Closing the job channel ends the thread after its current utterance.
        self.jobs = None;
    }
}
