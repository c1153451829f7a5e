//! Call recordings: checking an upload (sniffed, headers validated) and
//! transcribing it with agent and customer kept apart on two channels.

use serde::{Deserialize, Serialize};

use crate::audio::{self, AudioKind};
use crate::error::{Result, SpeechError};
use crate::{Segment, Speaker, Transcriber, Transcript};

/// What an upload turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingInfo {
    pub kind: AudioKind,
    pub channels: Option<u16>,
    pub sample_rate: Option<u32>,
    /// Known for WAV and raw µ-law; MP3 is not decoded here.
    pub duration_secs: Option<f64>,
}

/// Sniffs and checks a recording without any engine: WAV headers that lie
/// and content that is not audio are refused.
pub fn probe(bytes: &[u8], declared: Option<&str>) -> Result<RecordingInfo> {
    let kind = audio::sniff(bytes, declared)?;
    Ok(match kind {
        AudioKind::Wav => {
            let w = audio::inspect_wav(bytes)?;
            let frames = w.data_len / usize::from(w.channels * (w.bits_per_sample / 8));
            RecordingInfo {
                kind,
                channels: Some(w.channels),
                sample_rate: Some(w.sample_rate),
                duration_secs: Some(frames as f64 / f64::from(w.sample_rate)),
            }
        }
        AudioKind::Ulaw => RecordingInfo {
            kind,
            channels: Some(1),
            sample_rate: Some(8000),
            duration_secs: Some(bytes.len() as f64 / 8000.0),
        },
        AudioKind::Mp3 => RecordingInfo {
            kind,
            channels: None,
            sample_rate: None,
            duration_secs: None,
        },
    })
}

/// Who is on which channel of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelLayout {
    /// Speaker of the first (left) channel of a two-channel recording; the
    /// second is the other party. Our outbound calls record the agent first.
    pub first_channel: Speaker,
    /// Speaker assigned to a one-channel recording (both parties mixed).
    pub mono: Speaker,
}

impl Default for ChannelLayout {
    fn default() -> Self {
        Self {
            first_channel: Speaker::Agent,
            mono: Speaker::Customer,
        }
    }
}

fn other(s: Speaker) -> Speaker {
    match s {
        Speaker::Agent => Speaker::Customer,
        Speaker::Customer => Speaker::Agent,
    }
}

/// Transcribes a recording (WAV, raw µ-law or MP3; sniffed). A
/// two-channel recording is transcribed channel by channel so agent and
/// customer stay apart; segments come back in time order.
pub fn transcribe_recording(
    transcriber: &dyn Transcriber,
    bytes: &[u8],
    declared: Option<&str>,
    layout: ChannelLayout,
) -> Result<Transcript> {
    let kind = audio::sniff(bytes, declared)?;
    let pcm = match kind {
        AudioKind::Mp3 => transcriber.decode(bytes).map_err(|e| match e {
            SpeechError::Engine { message, .. } => SpeechError::BadAudio(format!("MP3: {message}")),
            e => e,
        })?,
        _ => audio::decode(bytes, kind)?,
    };
    if pcm.channels >= 2 {
        let mut parts = Vec::new();
        for (ch, speaker) in [(0u16, layout.first_channel), (1u16, other(layout.first_channel))] {
            parts.push(transcriber.transcribe(&pcm.channel(ch), speaker)?);
        }
        Ok(merge(parts))
    } else {
        transcriber.transcribe(&pcm, layout.mono)
    }
}

/// Merges per-speaker transcripts into one, ordered by start time.
pub fn merge(parts: Vec<Transcript>) -> Transcript {
    let mut tagged: Vec<(Segment, Vec<crate::Word>)> = Vec::new();
    for t in parts {
        let mut words: Vec<Vec<crate::Word>> = vec![Vec::new(); t.segments.len()];
        for w in t.words {
            if let Some(slot) = words.get_mut(w.segment) {
                slot.push(w);
            }
        }
        tagged.extend(t.segments.into_iter().zip(words));
    }
    tagged.sort_by_key(|(s, _)| (s.start_ms, s.end_ms));
    let mut out = Transcript::default();
    for (i, (s, ws)) in tagged.into_iter().enumerate() {
        out.segments.push(s);
        out.words.extend(ws.into_iter().map(|mut w| {
            w.segment = i;
            w
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Audio, Word};

    /// A transcriber that "hears" the loudness of each second as a word.
    struct Fake;
    impl Transcriber for Fake {
        fn transcribe(&self, audio: &Audio, speaker: Speaker) -> Result<Transcript> {
            let loud = audio.samples.iter().any(|&s| s.abs() > 1000);
            let mut t = Transcript::default();
            if loud {
                let at = audio.samples.iter().position(|&s| s.abs() > 1000).unwrap() as i64 * 1000 / i64::from(audio.sample_rate);
                t.segments
                    .push(Segment::new(speaker, format!("{} talks", speaker.as_str()), at, at + 100));
                t.words.push(Word {
                    text: "talks".into(),
                    start_ms: at,
                    end_ms: at + 100,
                    probability: 1.0,
                    segment: 0,
                });
            }
            Ok(t)
        }
        fn decode(&self, _: &[u8]) -> Result<Audio> {
            Err(SpeechError::engine("fake", "no mp3"))
        }
    }

    #[test]
    fn two_channels_keep_speakers_apart_in_time_order() {
        // Left: agent speaks at 0.5 s; right: customer speaks at 0.2 s.
        let mut s = vec![0i16; 2 * 8000];
        s[2 * 4000] = 5000;
        s[2 * 1600 + 1] = 5000;
        let wav = audio::write_wav(&Audio {
            samples: s,
            sample_rate: 8000,
            channels: 2,
        });
        let t = transcribe_recording(&Fake, &wav, None, ChannelLayout::default()).unwrap();
        let who: Vec<Speaker> = t.segments.iter().map(|s| s.speaker).collect();
        assert_eq!(who, vec![Speaker::Customer, Speaker::Agent]);
        assert_eq!(t.words[0].segment, 0);
        assert_eq!(t.words[1].segment, 1);
        assert_eq!(t.segments[0].start_ms, 200);
    }

    #[test]
    fn probe_refuses_non_audio_and_lies() {
        assert!(matches!(probe(b"just text", Some("audio/wav")), Err(SpeechError::Unsupported(_))));
        let mut wav = audio::write_wav(&Audio::mono(vec![0; 800], 8000));
        let info = probe(&wav, None).unwrap();
        assert_eq!(info.duration_secs, Some(0.1));
        wav[40..44].copy_from_slice(&100_000u32.to_le_bytes());
        assert!(matches!(probe(&wav, None), Err(SpeechError::BadAudio(_))));
        assert!(matches!(
            transcribe_recording(&Fake, b"ID3\x04\0\0\0\0\0\0", None, ChannelLayout::default()),
            Err(SpeechError::BadAudio(_))
        ));
    }
}
