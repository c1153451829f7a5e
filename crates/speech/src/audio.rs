//! Audio values, WAV reading (validated) and writing, content sniffing,
//! resampling and the output formats (WAV PCM16, G.711 µ-law / A-law).

use std::io::Cursor;

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SpeechError};
use crate::g711;

/// The telephone rate: G.711 is 8 kHz.
pub const TELEPHONE_RATE: u32 = 8_000;

/// 16-bit PCM, interleaved when `channels > 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub samples: Vec<i16>,
    pub sample_rate: u32,
    pub channels: u16,
}

impl Audio {
    pub fn mono(samples: Vec<i16>, sample_rate: u32) -> Self {
        Self {
            samples,
            sample_rate,
            channels: 1,
        }
    }

    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    pub fn duration_secs(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.frames() as f64 / f64::from(self.sample_rate)
    }

    /// One channel (0-based) as mono.
    pub fn channel(&self, index: u16) -> Audio {
        let n = usize::from(self.channels.max(1));
        let i = usize::from(index.min(self.channels.saturating_sub(1)));
        Audio::mono(self.samples.iter().skip(i).step_by(n).copied().collect(), self.sample_rate)
    }

    /// All channels averaged.
    pub fn to_mono(&self) -> Audio {
        let n = usize::from(self.channels.max(1));
        if n == 1 {
            return self.clone();
        }
        let samples = self
            .samples
            .chunks_exact(n)
            .map(|f| (f.iter().map(|&s| i32::from(s)).sum::<i32>() / n as i32) as i16)
            .collect();
        Audio::mono(samples, self.sample_rate)
    }

    /// Mono audio at another rate (band-limited FFT resampling).
    pub fn resampled(&self, rate: u32) -> Result<Audio> {
        let mono = self.to_mono();
        if mono.sample_rate == rate {
            return Ok(mono);
        }
        Ok(Audio::mono(resample(&mono.samples, mono.sample_rate, rate)?, rate))
    }
}

/// Resamples mono PCM16 from one rate to another.
pub fn resample(samples: &[i16], from: u32, to: u32) -> Result<Vec<i16>> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    if from == 0 || to == 0 {
        return Err(SpeechError::BadAudio("sample rate 0".into()));
    }
    let input: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let mut r = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input).map_err(|e| SpeechError::engine("resampler", e))?;
    let adapter = InterleavedSlice::new(&input, 1, input.len()).map_err(|e| SpeechError::engine("resampler", e))?;
    let out = r
        .process_all(&adapter, input.len(), None)
        .map_err(|e| SpeechError::engine("resampler", e))?;
    Ok(out.take_data().into_iter().map(f32_to_i16).collect())
}

pub(crate) fn f32_to_i16(x: f32) -> i16 {
    (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}

/// An output format of synthesised audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioFormat {
    /// WAV, 16-bit PCM at the voice's own rate.
    Wav,
    /// Raw G.711 µ-law, 8 kHz mono (no header).
    Ulaw,
    /// Raw G.711 A-law, 8 kHz mono (no header).
    Alaw,
    /// WAV holding G.711 µ-law at 8 kHz (format tag 7).
    #[serde(rename = "wav-ulaw")]
    WavUlaw,
    /// WAV holding G.711 A-law at 8 kHz (format tag 6).
    #[serde(rename = "wav-alaw")]
    WavAlaw,
}

impl AudioFormat {
    pub const ALL: [AudioFormat; 5] = [Self::Wav, Self::Ulaw, Self::Alaw, Self::WavUlaw, Self::WavAlaw];

    /// Reads a format name (`wav`, `ulaw`/`mulaw`/`pcmu`, `alaw`/`pcma`, `wav-ulaw`, `wav-alaw`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "wav" | "pcm" | "wav-pcm" => Self::Wav,
            "ulaw" | "mulaw" | "mu-law" | "pcmu" | "g711u" => Self::Ulaw,
            "alaw" | "a-law" | "pcma" | "g711a" => Self::Alaw,
            "wav-ulaw" | "wav-mulaw" => Self::WavUlaw,
            "wav-alaw" => Self::WavAlaw,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Ulaw => "ulaw",
            Self::Alaw => "alaw",
            Self::WavUlaw => "wav-ulaw",
            Self::WavAlaw => "wav-alaw",
        }
    }

    /// File extension (and the one in `/v1/audio/{id}.{ext}`).
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav | Self::WavUlaw | Self::WavAlaw => "wav",
            Self::Ulaw => "ulaw",
            Self::Alaw => "alaw",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Wav | Self::WavUlaw | Self::WavAlaw => "audio/wav",
            Self::Ulaw => "audio/basic",
            Self::Alaw => "audio/x-alaw-basic",
        }
    }

    /// Rate of the encoded audio, given the voice's rate.
    pub fn sample_rate(self, voice_rate: u32) -> u32 {
        match self {
            Self::Wav => voice_rate,
            _ => TELEPHONE_RATE,
        }
    }
}

/// Encodes mono audio in a format (resampling to 8 kHz for G.711).
pub fn encode(audio: &Audio, format: AudioFormat) -> Result<Vec<u8>> {
    let tel = || audio.resampled(TELEPHONE_RATE);
    Ok(match format {
        AudioFormat::Wav => write_wav(audio),
        AudioFormat::Ulaw => g711::encode_ulaw(&tel()?.samples),
        AudioFormat::Alaw => g711::encode_alaw(&tel()?.samples),
        AudioFormat::WavUlaw => g711_wav(7, &g711::encode_ulaw(&tel()?.samples)),
        AudioFormat::WavAlaw => g711_wav(6, &g711::encode_alaw(&tel()?.samples)),
    })
}

/// A WAV file of 16-bit PCM.
pub fn write_wav(audio: &Audio) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: audio.channels.max(1),
        sample_rate: audio.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut buf = Cursor::new(Vec::with_capacity(44 + audio.samples.len() * 2));
    {
        // Writing into memory cannot fail but for sizes over 4 GiB, which
        // WAV cannot hold; truncation there is the honest answer.
        let mut w = hound::WavWriter::new(&mut buf, spec).expect("in-memory WAV");
        let mut i16w = w.get_i16_writer(audio.samples.len() as u32);
        for &s in &audio.samples {
            i16w.write_sample(s);
        }
        let _ = i16w.flush();
        let _ = w.finalize();
    }
    buf.into_inner()
}

/// A WAV file holding 8 kHz mono G.711 (tag 6 A-law, 7 µ-law), with the
/// `fact` chunk non-PCM WAV needs.
fn g711_wav(tag: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(58 + data.len());
    let riff_len = 4 + (8 + 18) + (8 + 4) + (8 + data.len()) + (data.len() & 1);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(riff_len as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&18u32.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&TELEPHONE_RATE.to_le_bytes());
    out.extend_from_slice(&TELEPHONE_RATE.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(b"fact");
    out.extend_from_slice(&4u32.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() & 1 == 1 {
        out.push(0);
    }
    out
}

/// What bytes are, judged from their content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioKind {
    Wav,
    Mp3,
    /// Headerless 8 kHz G.711 µ-law (recognised only when declared so and
    /// nothing else matches: raw µ-law has no signature).
    Ulaw,
}

impl AudioKind {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Wav => "audio/wav",
            Self::Mp3 => "audio/mpeg",
            Self::Ulaw => "audio/basic",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Mp3 => "mp3",
            Self::Ulaw => "ulaw",
        }
    }
}

/// Sniffs the content. `declared` is the client's Content-Type, used only
/// to admit raw µ-law (which has no signature) when the bytes carry none of
/// the well-known signatures and do not look like text.
pub fn sniff(bytes: &[u8], declared: Option<&str>) -> Result<AudioKind> {
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
        return Ok(AudioKind::Wav);
    }
    if is_mp3(bytes) {
        return Ok(AudioKind::Mp3);
    }
    if let Some(name) = known_signature(bytes) {
        return Err(SpeechError::Unsupported(format!("content is {name}, not audio")));
    }
    let declared_ulaw = declared
        .map(|d| d.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|d| {
            matches!(
                d.as_str(),
                "audio/basic" | "audio/x-mulaw" | "audio/mulaw" | "audio/pcmu" | "audio/x-ulaw" | "audio/ulaw"
            )
        });
    if declared_ulaw && !bytes.is_empty() && !looks_like_text(bytes) {
        return Ok(AudioKind::Ulaw);
    }
    Err(SpeechError::Unsupported("not WAV, MP3 or raw µ-law audio".into()))
}

fn is_mp3(b: &[u8]) -> bool {
    if b.len() >= 10 && &b[..3] == b"ID3" && b[3] < 0x05 && b[5] & 0x0F == 0 && b[6..10].iter().all(|&x| x < 0x80) {
        return true;
    }
    // MPEG audio frame sync: 11 set bits, a valid version, layer III, bitrate and rate index;
    // and a second frame header where the first frame says the next one starts.
    let header_ok = |h: &[u8]| {
        h.len() >= 4
            && h[0] == 0xFF
            && h[1] & 0xE0 == 0xE0
            && h[1] & 0x18 != 0x08
            && h[1] & 0x06 == 0x02
            && h[2] & 0xF0 != 0xF0
            && h[2] & 0xF0 != 0
            && h[2] & 0x0C != 0x0C
    };
    if !header_ok(b) {
        return false;
    }
    let frame_len = mp3_frame_len(b);
    match frame_len {
        Some(n) if b.len() >= n + 4 => header_ok(&b[n..]),
        Some(_) => true, // a single short frame: accept on the first header
        None => false,
    }
}

fn mp3_frame_len(h: &[u8]) -> Option<usize> {
    const BR_V1: [u32; 16] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0];
    const BR_V2: [u32; 16] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0];
    let version = (h[1] >> 3) & 0x03; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
    let br_idx = usize::from(h[2] >> 4);
    let sr_idx = usize::from((h[2] >> 2) & 0x03);
    let padding = u32::from((h[2] >> 1) & 0x01);
    let rates = match version {
        3 => [44_100, 48_000, 32_000],
        2 => [22_050, 24_000, 16_000],
        0 => [11_025, 12_000, 8_000],
        _ => return None,
    };
    let rate = *rates.get(sr_idx)?;
    let bitrate = if version == 3 { BR_V1[br_idx] } else { BR_V2[br_idx] } * 1000;
    if bitrate == 0 {
        return None;
    }
    let coef = if version == 3 { 144 } else { 72 };
    Some((coef * bitrate / rate + padding) as usize)
}

fn known_signature(b: &[u8]) -> Option<&'static str> {
    let sigs: [(&[u8], &str); 12] = [
        (b"\x89PNG", "PNG"),
        (b"%PDF", "PDF"),
        (b"PK\x03\x04", "ZIP"),
        (b"GIF8", "GIF"),
        (b"\xFF\xD8\xFF", "JPEG"),
        (b"\x7FELF", "an executable"),
        (b"OggS", "Ogg"),
        (b"fLaC", "FLAC"),
        (b"\x1F\x8B", "gzip"),
        (b"<?xml", "XML"),
        (b"<!DOCTYPE", "HTML"),
        (b"<html", "HTML"),
    ];
    sigs.iter().find(|(s, _)| b.starts_with(s)).map(|(_, n)| *n)
}

fn looks_like_text(b: &[u8]) -> bool {
    let head = &b[..b.len().min(4096)];
    let printable = head
        .iter()
        .filter(|&&c| c == b'\n' || c == b'\r' || c == b'\t' || (0x20..0x7F).contains(&c))
        .count();
    printable * 100 >= head.len() * 95
}

/// Reads audio of a sniffed kind into PCM (MP3 is not decoded here: the
/// Whisper helper decodes it).
pub fn decode(bytes: &[u8], kind: AudioKind) -> Result<Audio> {
    match kind {
        AudioKind::Wav => read_wav(bytes),
        AudioKind::Ulaw => Ok(Audio::mono(g711::decode_ulaw(bytes), TELEPHONE_RATE)),
        AudioKind::Mp3 => Err(SpeechError::Unsupported("MP3 is decoded by the transcriber, not here".into())),
    }
}

/// The parsed header of a WAV file, checked against the bytes it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    pub format_tag: u16,
    pub channels: u16,
    pub sample_rate: u32,
    pub bits_per_sample: u16,
    pub data_offset: usize,
    pub data_len: usize,
}

/// Walks the RIFF chunks and refuses any header that lies: sizes past the
/// end of the bytes, rates or alignments that disagree, formats we cannot
/// read.
pub fn inspect_wav(b: &[u8]) -> Result<WavInfo> {
    let bad = |m: &str| SpeechError::BadAudio(format!("WAV header: {m}"));
    if b.len() < 12 || &b[..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let riff_len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if riff_len + 8 > b.len() {
        return Err(bad(&format!("RIFF size says {} bytes but the file has {}", riff_len + 8, b.len())));
    }
    if riff_len < 4 {
        return Err(bad("RIFF size too small"));
    }
    let end = riff_len + 8;
    let mut at = 12;
    let mut fmt: Option<(u16, u16, u32, u32, u16, u16)> = None;
    let mut data: Option<(usize, usize)> = None;
    while at + 8 <= end {
        let id = &b[at..at + 4];
        let len = u32::from_le_bytes([b[at + 4], b[at + 5], b[at + 6], b[at + 7]]) as usize;
        let body = at + 8;
        if body.checked_add(len).is_none_or(|e| e > end) {
            return Err(bad(&format!(
                "chunk {:?} says {len} bytes, past the end of the file",
                String::from_utf8_lossy(id)
            )));
        }
        match id {
            b"fmt " => {
                if len < 16 {
                    return Err(bad("fmt chunk shorter than 16 bytes"));
                }
                let r16 = |o: usize| u16::from_le_bytes([b[body + o], b[body + o + 1]]);
                let r32 = |o: usize| u32::from_le_bytes([b[body + o], b[body + o + 1], b[body + o + 2], b[body + o + 3]]);
                let mut tag = r16(0);
                if tag == 0xFFFE {
                    if len < 40 {
                        return Err(bad("WAVE_FORMAT_EXTENSIBLE fmt chunk too short"));
                    }
                    tag = r16(24);
                }
                fmt = Some((tag, r16(2), r32(4), r32(8), r16(12), r16(14)));
            }
            b"data" => {
                data = Some((body, len));
                break;
            }
            _ => {}
        }
        at = body + len + (len & 1);
    }
    let (tag, channels, rate, byte_rate, align, bits) = fmt.ok_or_else(|| bad("no fmt chunk before the data"))?;
    let (data_offset, data_len) = data.ok_or_else(|| bad("no data chunk"))?;
    if !(1..=8).contains(&channels) {
        return Err(bad(&format!("{channels} channels (1 to 8 accepted)")));
    }
    if !(4_000..=192_000).contains(&rate) {
        return Err(bad(&format!("sample rate {rate} Hz (4000 to 192000 accepted)")));
    }
    let ok_bits = match tag {
        1 => matches!(bits, 8 | 16 | 24 | 32),
        3 => bits == 32,
        6 | 7 => bits == 8,
        _ => {
            return Err(SpeechError::Unsupported(format!(
                "WAV format tag {tag} (PCM, float, A-law and µ-law accepted)"
            )));
        }
    };
    if !ok_bits {
        return Err(bad(&format!("{bits} bits per sample for format tag {tag}")));
    }
    let want_align = u32::from(channels) * u32::from(bits / 8);
    if u32::from(align) != want_align {
        return Err(bad(&format!("block align {align}, expected {want_align}")));
    }
    if byte_rate != rate * want_align {
        return Err(bad(&format!("byte rate {byte_rate}, expected {}", rate * want_align)));
    }
    if data_len % usize::from(align) != 0 {
        return Err(bad("data length is not a whole number of frames"));
    }
    Ok(WavInfo {
        format_tag: tag,
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        data_offset,
        data_len,
    })
}

/// Reads a WAV file (PCM 8/16/24/32-bit, float, A-law, µ-law) into 16-bit PCM.
pub fn read_wav(b: &[u8]) -> Result<Audio> {
    let info = inspect_wav(b)?;
    let data = &b[info.data_offset..info.data_offset + info.data_len];
    let samples = match info.format_tag {
        6 => g711::decode_alaw(data),
        7 => g711::decode_ulaw(data),
        _ => {
            let reader = hound::WavReader::new(Cursor::new(b)).map_err(|e| SpeechError::BadAudio(format!("WAV: {e}")))?;
            let spec = reader.spec();
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Float, _) => reader
                    .into_samples::<f32>()
                    .map(|s| s.map(f32_to_i16))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| SpeechError::BadAudio(format!("WAV: {e}")))?,
                (_, bits) => {
                    let shift = i32::from(bits) - 16;
                    reader
                        .into_samples::<i32>()
                        .map(|s| {
                            s.map(|v| match shift {
                                s if s > 0 => (v >> s) as i16,
                                s if s < 0 => (v << -s) as i16,
                                _ => v as i16,
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| SpeechError::BadAudio(format!("WAV: {e}")))?
                }
            }
        }
    };
    Ok(Audio {
        samples,
        sample_rate: info.sample_rate,
        channels: info.channels,
    })
}

/// The telephone channel: mono, 8 kHz, G.711 µ-law and back. What a caller
/// hears of our voice, and what we hear of the caller.
pub fn telephone_channel(audio: &Audio) -> Result<Audio> {
    let tel = audio.resampled(TELEPHONE_RATE)?;
    Ok(Audio::mono(g711::decode_ulaw(&g711::encode_ulaw(&tel.samples)), TELEPHONE_RATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, secs: f32) -> Audio {
        let n = (rate as f32 * secs) as usize;
        Audio::mono(
            (0..n)
                .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 8000.0) as i16)
                .collect(),
            rate,
        )
    }

    #[test]
    fn wav_round_trips() {
        let a = tone(22_050, 0.3);
        let back = read_wav(&write_wav(&a)).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn g711_wavs_read_back_at_8k() {
        let a = tone(22_050, 0.5);
        for f in [AudioFormat::WavUlaw, AudioFormat::WavAlaw] {
            let bytes = encode(&a, f).unwrap();
            let info = inspect_wav(&bytes).unwrap();
            assert_eq!(info.sample_rate, 8000);
            let back = read_wav(&bytes).unwrap();
            assert_eq!(back.sample_rate, 8000);
            assert!((back.duration_secs() - 0.5).abs() < 0.01, "{}", back.duration_secs());
        }
        let raw = encode(&a, AudioFormat::Ulaw).unwrap();
        assert!((raw.len() as i64 - 4000).abs() < 10);
    }

    #[test]
    fn resampling_keeps_duration_and_pitch() {
        let a = tone(22_050, 1.0);
        let b = a.resampled(8000).unwrap();
        assert_eq!(b.samples.len(), 8000);
        // 440 Hz: about 880 zero crossings a second.
        let zc = b.samples.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((860..=900).contains(&zc), "{zc}");
    }

    #[test]
    fn header_lies_are_refused() {
        let good = write_wav(&tone(16_000, 0.1));
        assert!(inspect_wav(&good).is_ok());
        // data chunk longer than the file
        let mut lie = good.clone();
        let n = lie.len();
        lie[40..44].copy_from_slice(&((n as u32) * 2).to_le_bytes());
        assert!(matches!(read_wav(&lie), Err(SpeechError::BadAudio(_))));
        // RIFF size longer than the file
        let mut lie = good.clone();
        lie[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(read_wav(&lie), Err(SpeechError::BadAudio(_))));
        // byte rate that disagrees with the rate
        let mut lie = good.clone();
        lie[28..32].copy_from_slice(&1234u32.to_le_bytes());
        assert!(matches!(read_wav(&lie), Err(SpeechError::BadAudio(_))));
        // truncated file
        assert!(matches!(read_wav(&good[..good.len() - 101]), Err(SpeechError::BadAudio(_))));
        // zero channels
        let mut lie = good;
        lie[22..24].copy_from_slice(&0u16.to_le_bytes());
        assert!(matches!(read_wav(&lie), Err(SpeechError::BadAudio(_))));
    }

    #[test]
    fn sniffing_ignores_the_declared_type() {
        let wav = write_wav(&tone(8000, 0.1));
        assert_eq!(sniff(&wav, Some("text/plain")).unwrap(), AudioKind::Wav);
        // An MPEG-1 layer III frame header (128 kb/s, 44.1 kHz), two frames in a row.
        let mut mp3 = vec![0u8; 418 * 2 + 4];
        for at in [0, 417, 834] {
            mp3[at..at + 4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
        }
        assert_eq!(sniff(&mp3, None).unwrap(), AudioKind::Mp3);
        assert_eq!(
            sniff(b"ID3\x04\x00\x00\x00\x00\x00\x00rest", Some("audio/wav")).unwrap(),
            AudioKind::Mp3
        );
        let ulaw = encode(&tone(8000, 0.1), AudioFormat::Ulaw).unwrap();
        assert_eq!(sniff(&ulaw, Some("audio/basic")).unwrap(), AudioKind::Ulaw);
        assert!(sniff(&ulaw, None).is_err());
        assert!(matches!(
            sniff(b"hello, this is plain text pretending to be audio", Some("audio/basic")),
            Err(SpeechError::Unsupported(_))
        ));
        assert!(matches!(
            sniff(b"\x89PNG\r\n\x1a\nxxxx", Some("audio/wav")),
            Err(SpeechError::Unsupported(_))
        ));
    }

    #[test]
    fn telephone_channel_is_8k_mono() {
        let t = telephone_channel(&tone(22_050, 0.5)).unwrap();
        assert_eq!(t.sample_rate, 8000);
        assert_eq!(t.samples.len(), 4000);
    }

    #[test]
    fn formats_parse_and_name() {
        for f in AudioFormat::ALL {
            assert_eq!(AudioFormat::parse(f.as_str()), Some(f));
        }
        assert_eq!(AudioFormat::parse("mp3"), None);
    }
}
