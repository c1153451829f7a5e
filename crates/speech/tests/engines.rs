//! The engines with the real models `scripts/install-speech` installs (CI
//! runs it). Settings come from `SWITCHBOARD_SPEECH_CONFIG` or the
//! workspace's `data/speech/speech.toml`. Without them these tests fail,
//! unless `SWITCHBOARD_SPEECH_OPTIONAL=1`, when they print why and pass.

use std::path::PathBuf;
use std::sync::OnceLock;

use switchboard_speech::audio::{self, telephone_channel};
use switchboard_speech::eval::wer;
use switchboard_speech::recording::{ChannelLayout, transcribe_recording};
use switchboard_speech::{Audio, Speaker, Speech, SpeechSettings, SynthesisSettings, TtsEngine};

fn speech() -> Option<&'static Speech> {
    static SPEECH: OnceLock<Option<Speech>> = OnceLock::new();
    SPEECH
        .get_or_init(|| {
            let path = std::env::var_os("SWITCHBOARD_SPEECH_CONFIG")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/speech/speech.toml"));
            let problem = match SpeechSettings::from_toml_file(&path) {
                Ok(settings) => {
                    let speech = Speech::start(&settings);
                    let problems = speech.problems();
                    if problems.is_empty() && !settings.tts.is_empty() {
                        return Some(speech);
                    }
                    format!("speech engines not ready: {problems:?}")
                }
                Err(e) => format!("no speech settings ({e}); run scripts/install-speech"),
            };
            if std::env::var("SWITCHBOARD_SPEECH_OPTIONAL").as_deref() == Ok("1") {
                eprintln!("SKIPPED (SWITCHBOARD_SPEECH_OPTIONAL=1): {problem}");
                None
            } else {
                panic!("{problem} (set SWITCHBOARD_SPEECH_OPTIONAL=1 to skip)");
            }
        })
        .as_ref()
}

fn neural_voice(s: &Speech) -> String {
    s.voices()
        .into_iter()
        .find(|v| v.engine == TtsEngine::Piper)
        .expect("a piper voice")
        .id
}

const SENTENCE: &str = "Thank you for calling. Your package will arrive on Tuesday morning between nine and eleven.";

#[test]
fn neural_voice_through_the_telephone_channel_is_understood() {
    let Some(s) = speech() else { return };
    let voice = neural_voice(s);
    let spoken = s.synthesize(SENTENCE, &voice, &SynthesisSettings::default()).unwrap();
    assert_eq!(spoken.audio.sample_rate, 22_050);
    assert!(
        (3.0..12.0).contains(&spoken.audio.duration_secs()),
        "{}",
        spoken.audio.duration_secs()
    );
    let phone = telephone_channel(&spoken.audio).unwrap();
    let t = s.transcriber().unwrap().transcribe(&phone, Speaker::Agent).unwrap();
    let (errors, words) = wer(SENTENCE, &t.text());
    eprintln!("heard: {:?} ({errors}/{words} errors)", t.text());
    assert!(errors * 100 <= words * 15, "WER {errors}/{words} too high: {:?}", t.text());
    assert!(
        t.segments
            .iter()
            .all(|x| x.speaker == Speaker::Agent && x.is_final && x.end_ms > x.start_ms)
    );
    assert!(!t.words.is_empty(), "word timings");
    assert!(t.words.windows(2).all(|w| w[0].start_ms <= w[1].start_ms));
}

#[test]
fn silence_and_noise_become_no_text() {
    let Some(s) = speech() else { return };
    let t = s.transcriber().unwrap();
    let silence = Audio::mono(vec![0; 16_000 * 5], 16_000);
    assert!(t.transcribe(&silence, Speaker::Customer).unwrap().segments.is_empty());
    // Low white noise (a deterministic generator).
    let mut x: u32 = 12345;
    let noise: Vec<i16> = (0..8_000 * 5)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((x >> 16) as i16) / 64
        })
        .collect();
    let heard = t.transcribe(&Audio::mono(noise, 8_000), Speaker::Customer).unwrap();
    assert!(heard.segments.is_empty(), "noise became {:?}", heard.text());
}

#[test]
fn espeak_speaks_and_applies_speed_and_pitch() {
    let Some(s) = speech() else { return };
    let slow = s
        .synthesize(
            "Hello there, how are you today?",
            "espeak-en-us",
            &SynthesisSettings {
                speed: 0.6,
                ..Default::default()
            },
        )
        .unwrap();
    let fast = s
        .synthesize(
            "Hello there, how are you today?",
            "espeak-en-us",
            &SynthesisSettings {
                speed: 1.6,
                pitch: 4.0,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(slow.audio.duration_secs() > fast.audio.duration_secs() * 1.5);
    assert!(fast.not_applicable.is_empty());
}

#[test]
fn vocelio_settings_are_accepted_and_reported_not_applicable() {
    let Some(s) = speech() else { return };
    let settings: SynthesisSettings = serde_json::from_value(
        serde_json::json!({"speed": 1.0, "pitch": 2.0, "stability": 0.5, "similarity_boost": 0.7, "noise_scale": 0.5}),
    )
    .unwrap();
    let out = s.synthesize("Just a moment.", &neural_voice(s), &settings).unwrap();
    assert_eq!(out.not_applicable, vec!["pitch", "similarity_boost", "stability"]);
}

#[test]
fn a_live_stream_emits_segments_at_end_of_utterance() {
    let Some(s) = speech() else { return };
    let voice = neural_voice(s);
    let first = "I would like to pay my bill.";
    let second = "Can you call me back tomorrow afternoon?";
    let mut feed = vec![0i16; 4000];
    for text in [first, second] {
        let a = telephone_channel(&s.synthesize(text, &voice, &SynthesisSettings::default()).unwrap().audio).unwrap();
        feed.extend_from_slice(&a.samples);
        feed.extend(std::iter::repeat_n(0i16, 8000));
    }
    let mut stream = s.stream(Speaker::Customer, 8000).unwrap();
    let mut segments = Vec::new();
    for frame in feed.chunks(160) {
        stream.push(frame).unwrap();
        segments.extend(stream.poll().unwrap());
    }
    segments.extend(stream.finish().unwrap());
    let text: Vec<String> = segments.iter().map(|x| x.text.clone()).collect();
    assert!(segments.len() >= 2, "two utterances, got {text:?}");
    let (errors, words) = wer(&format!("{first} {second}"), &text.join(" "));
    assert!(errors * 100 <= words * 20, "WER {errors}/{words}: {text:?}");
    assert!(
        segments[0].start_ms >= 100 && segments[0].start_ms < 1200,
        "starts after the leading silence: {}",
        segments[0].start_ms
    );
    assert!(segments.windows(2).all(|w| w[0].end_ms <= w[1].start_ms + 50));
    assert!(segments.iter().all(|x| x.speaker == Speaker::Customer));
}

#[test]
fn a_two_channel_recording_keeps_agent_and_customer_apart() {
    let Some(s) = speech() else { return };
    let voice = neural_voice(s);
    let say = |t: &str| {
        telephone_channel(&s.synthesize(t, &voice, &SynthesisSettings::default()).unwrap().audio)
            .unwrap()
            .samples
    };
    let agent = say("Good morning, this is the billing department.");
    let customer = say("Hi, I have a question about my last payment.");
    // Agent speaks first; the customer answers after the agent is done.
    let gap = 4000;
    let len = agent.len() + gap + customer.len() + gap;
    let mut stereo = vec![0i16; len * 2];
    for (i, &x) in agent.iter().enumerate() {
        stereo[2 * i] = x;
    }
    for (i, &x) in customer.iter().enumerate() {
        stereo[2 * (agent.len() + gap + i) + 1] = x;
    }
    let wav = audio::write_wav(&Audio {
        samples: stereo,
        sample_rate: 8000,
        channels: 2,
    });
    let t = transcribe_recording(&*s.transcriber().unwrap(), &wav, Some("audio/wav"), ChannelLayout::default()).unwrap();
    let who: Vec<Speaker> = t.segments.iter().map(|x| x.speaker).collect();
    assert_eq!(who.first(), Some(&Speaker::Agent), "{:?}", t.segments);
    assert_eq!(who.last(), Some(&Speaker::Customer), "{:?}", t.segments);
    let agent_text: String = t
        .segments
        .iter()
        .filter(|x| x.speaker == Speaker::Agent)
        .map(|x| x.text.as_str())
        .collect();
    // Compared without spaces or punctuation (Whisper may hyphenate).
    let squash = |t: &str| switchboard_speech::eval::normalize(t).concat();
    assert!(squash(&agent_text).contains("billing"), "{agent_text}");
    let customer_text: String = t
        .segments
        .iter()
        .filter(|x| x.speaker == Speaker::Customer)
        .map(|x| x.text.as_str())
        .collect();
    assert!(squash(&customer_text).contains("payment"), "{customer_text}");
}
