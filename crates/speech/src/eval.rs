//! Evaluation of speech-to-text: word error rate against reference
//! transcripts (Debian `pocketsphinx-testdata` LibriVox utterances, clean
//! and through the telephone channel) and a TTS → telephone → STT round
//! trip over sentences none of us wrote (the UCI Sentiment Labelled
//! Sentences, CC BY 4.0, as shipped in the npm package `sentiment` 5.0.2).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::audio::{read_wav, telephone_channel};
use crate::error::{Result, SpeechError};
use crate::{Speaker, Speech, SynthesisSettings};

/// Where Debian's pocketsphinx-testdata puts its LibriVox utterances.
pub const LIBRIVOX_DIR: &str = "/usr/share/pocketsphinx/test/data/librivox";

fn small_number(n: u32) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    match n {
        0..=19 => ONES[n as usize].into(),
        20..=99 => {
            let t = TENS[(n / 10) as usize];
            if n.is_multiple_of(10) {
                t.into()
            } else {
                format!("{t} {}", ONES[(n % 10) as usize])
            }
        }
        100..=999 => {
            let rest = if n.is_multiple_of(100) {
                String::new()
            } else {
                format!(" {}", small_number(n % 100))
            };
            format!("{} hundred{rest}", ONES[(n / 100) as usize])
        }
        _ => {
            let rest = if n.is_multiple_of(1000) {
                String::new()
            } else {
                format!(" {}", small_number(n % 1000))
            };
            format!("{} thousand{rest}", small_number(n / 1000))
        }
    }
}

/// Lower case, no punctuation (apostrophes kept), hyphens split, a few
/// abbreviations spelled out, numbers under 10,000 as words.
pub fn normalize(text: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            cleaned.extend(c.to_lowercase());
        } else {
            cleaned.push(' ');
        }
    }
    let mut out = Vec::new();
    for w in cleaned.split_whitespace() {
        let w = w.trim_matches('\'');
        match w {
            "" => {}
            "mr" => out.push("mister".into()),
            "mrs" => out.push("missus".into()),
            "dr" => out.push("doctor".into()),
            "st" => out.push("saint".into()),
            "ok" => out.push("okay".into()),
            _ => match w.parse::<u32>() {
                Ok(n) if n < 10_000 => out.extend(small_number(n).split(' ').map(str::to_owned)),
                _ => out.push(w.to_owned()),
            },
        }
    }
    out
}

/// Word-level edit distance (substitutions + deletions + insertions).
pub fn edit_distance(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut cur = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(r != h)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[hypothesis.len()]
}

/// Word error rate of one hypothesis: (errors, reference words).
pub fn wer(reference: &str, hypothesis: &str) -> (usize, usize) {
    let r = normalize(reference);
    (edit_distance(&r, &normalize(hypothesis)), r.len())
}

/// One utterance's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scored {
    pub id: String,
    pub reference: String,
    pub hypothesis: String,
    pub errors: usize,
    pub words: usize,
}

/// A set's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WerReport {
    pub name: String,
    pub utterances: usize,
    pub words: usize,
    pub errors: usize,
    pub wer: f64,
    pub audio_secs: f64,
    pub wall_secs: f64,
    pub items: Vec<Scored>,
}

impl WerReport {
    fn new(name: &str, items: Vec<Scored>, audio_secs: f64, wall_secs: f64) -> Self {
        let words = items.iter().map(|s| s.words).sum::<usize>();
        let errors = items.iter().map(|s| s.errors).sum::<usize>();
        Self {
            name: name.into(),
            utterances: items.len(),
            words,
            errors,
            wer: if words == 0 { 0.0 } else { errors as f64 / words as f64 },
            audio_secs,
            wall_secs,
            items,
        }
    }
}

/// The LibriVox utterances of a pocketsphinx-testdata folder: (wav, reference).
pub fn librivox(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let text = std::fs::read_to_string(dir.join("transcription"))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((body, id)) = line.rsplit_once('(') else { continue };
        let id = id.trim().trim_end_matches(')');
        let reference = body.replace("<s>", "").replace("</s>", "").trim().to_owned();
        let wav = dir.join(format!("{id}.wav"));
        if wav.is_file() {
            out.push((wav, reference));
        }
    }
    if out.is_empty() {
        return Err(SpeechError::not_installed(
            "evaluation data",
            format!("no utterances in {} (apt-get install pocketsphinx-testdata)", dir.display()),
        ));
    }
    Ok(out)
}

/// WER on the LibriVox set, clean and through the telephone channel.
pub fn eval_librivox(speech: &Speech, dir: &Path) -> Result<(WerReport, WerReport)> {
    let t = speech.transcriber()?;
    let set = librivox(dir)?;
    let mut clean = Vec::new();
    let mut phone = Vec::new();
    let (mut audio_secs, mut wall_clean, mut wall_phone) = (0.0, 0.0, 0.0);
    for (wav, reference) in &set {
        let audio = read_wav(&std::fs::read(wav)?)?;
        audio_secs += audio.duration_secs();
        let id = wav.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_owned();
        for (channel, items, wall) in [(false, &mut clean, &mut wall_clean), (true, &mut phone, &mut wall_phone)] {
            let input = if channel { telephone_channel(&audio)? } else { audio.clone() };
            let started = Instant::now();
            let hyp = t.transcribe(&input, Speaker::Customer)?.text();
            *wall += started.elapsed().as_secs_f64();
            let (errors, words) = wer(reference, &hyp);
            items.push(Scored {
                id: id.clone(),
                reference: reference.clone(),
                hypothesis: hyp,
                errors,
                words,
            });
        }
    }
    Ok((
        WerReport::new("librivox-clean", clean, audio_secs, wall_clean),
        WerReport::new("librivox-telephone", phone, audio_secs, wall_phone),
    ))
}

/// Sentences from the UCI Sentiment Labelled Sentences as the npm package
/// `sentiment` 5.0.2 ships them (`package/test/fixtures/{amazon,imdb,yelp}.json`,
/// `[{"text", "class"}]`): those of 4 to 30 words, in file order, up to `limit`.
pub fn load_sentences(fixtures: &Path, limit: usize) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for name in ["amazon.json", "imdb.json", "yelp.json"] {
        let path = fixtures.join(name);
        let text = std::fs::read_to_string(&path)?;
        let items: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| SpeechError::BadAudio(format!("{}: {e}", path.display())))?;
        for item in items {
            let Some(s) = item.get("text").and_then(|t| t.as_str()) else {
                continue;
            };
            let s = s.trim();
            let n = normalize(s).len();
            if (4..=30).contains(&n) && s.is_ascii() {
                out.push(s.to_owned());
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// Fetches the `sentiment` 5.0.2 package with npm into `dir` (at eval time;
/// nothing is committed) and returns its fixtures folder.
pub fn fetch_sentences(dir: &Path) -> Result<PathBuf> {
    let fixtures = dir.join("package/test/fixtures");
    if fixtures.join("amazon.json").is_file() {
        return Ok(fixtures);
    }
    std::fs::create_dir_all(dir)?;
    let run = |cmd: &mut std::process::Command| -> Result<()> {
        let out = cmd
            .output()
            .map_err(|e| SpeechError::not_installed("evaluation data", e.to_string()))?;
        if !out.status.success() {
            return Err(SpeechError::not_installed(
                "evaluation data",
                String::from_utf8_lossy(&out.stderr).to_string(),
            ));
        }
        Ok(())
    };
    run(std::process::Command::new("npm")
        .args(["pack", "--silent", "sentiment@5.0.2", "--pack-destination"])
        .arg(dir))?;
    run(std::process::Command::new("tar")
        .arg("-xzf")
        .arg(dir.join("sentiment-5.0.2.tgz"))
        .arg("-C")
        .arg(dir))?;
    Ok(fixtures)
}

/// TTS → telephone channel → STT over `sentences` with one voice.
pub fn eval_round_trip(speech: &Speech, voice: &str, sentences: &[String]) -> Result<WerReport> {
    let t = speech.transcriber()?;
    let mut items = Vec::new();
    let (mut audio_secs, mut wall) = (0.0, 0.0);
    for (i, s) in sentences.iter().enumerate() {
        let spoken = speech.synthesize(s, voice, &SynthesisSettings::default())?;
        let phone = telephone_channel(&spoken.audio)?;
        audio_secs += phone.duration_secs();
        let started = Instant::now();
        let hyp = t.transcribe(&phone, Speaker::Agent)?.text();
        wall += started.elapsed().as_secs_f64();
        let (errors, words) = wer(s, &hyp);
        items.push(Scored {
            id: format!("{i}"),
            reference: s.clone(),
            hypothesis: hyp,
            errors,
            words,
        });
    }
    Ok(WerReport::new(&format!("round-trip-{voice}"), items, audio_secs, wall))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wer_counts_edits_after_normalizing() {
        assert_eq!(wer("Mister John Dashwood had 2 sons.", "mr john dashwood had two sons"), (0, 6));
        assert_eq!(
            wer("he was not an ill disposed young man", "he was an ill-disposed young woman"),
            (2, 8)
        );
        assert_eq!(wer("a b c", ""), (3, 3));
        assert_eq!(wer("", "a"), (1, 0));
        assert_eq!(
            normalize("It's 1,250 dollars"),
            vec!["it's", "one", "two", "hundred", "fifty", "dollars"]
        );
    }
}
