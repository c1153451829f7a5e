//! Transcript segments: who said what, when, and how sure the hearing was.
//!
//! Every prompt the platform speaks and every answer it hears becomes one
//! [`Segment`]. Transcripts that clients send as one text are split into
//! segments by their speaker prefixes ([`split_text`]).

use serde::{Deserialize, Serialize};

/// Most segments one call keeps.
pub const MAX_SEGMENTS: usize = 10_000;
/// Longest text of one segment, in characters.
pub const MAX_SEGMENT_CHARS: usize = 8_000;

/// Who spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The platform's voice agent or a person working for the organisation.
    Agent,
    /// The person called (or calling in).
    Customer,
}

impl Speaker {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Customer => "customer",
        }
    }

    /// The label used in plain-text transcripts.
    pub fn label(self) -> &'static str {
        match self {
            Self::Agent => "Agent",
            Self::Customer => "Customer",
        }
    }

    /// Reads a speaker name as clients write it (`agent`, `bot`, `ai`,
    /// `assistant`, `rep`; `customer`, `caller`, `callee`, `user`, `client`,
    /// `recipient`, `contact`), in any case.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "agent" | "bot" | "ai" | "assistant" | "rep" | "representative" | "operator" => Self::Agent,
            "customer" | "caller" | "callee" | "user" | "client" | "recipient" | "contact" | "human" => Self::Customer,
            _ => return None,
        })
    }
}

/// One utterance of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub speaker: Speaker,
    pub text: String,
    /// Milliseconds from the start of the call (its answer, when answered).
    pub start_ms: i64,
    pub end_ms: i64,
    /// How sure the recogniser was, 0..1 (absent when the text was typed or spoken by us).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// False for interim results a recogniser may still revise.
    pub is_final: bool,
}

impl Segment {
    pub fn new(speaker: Speaker, text: impl Into<String>, start_ms: i64, end_ms: i64) -> Self {
        Self {
            speaker,
            text: text.into(),
            start_ms,
            end_ms,
            confidence: None,
            is_final: true,
        }
    }
}

/// Splits a text transcript into segments at lines that start with a
/// speaker prefix (`Agent:`, `Caller:`, `Customer:`, `AI:`, `User:`, ...).
/// Lines without a prefix continue the segment before them; text before
/// the first prefix is the customer's when no prefix appears at all, else
/// it joins the first segment. Times are unknown for typed transcripts: a
/// segment starts where the one before it ended, one millisecond per
/// character, so order survives.
pub fn split_text(text: &str) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut orphan = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let prefixed = trimmed
            .split_once(':')
            .filter(|(who, _)| who.len() <= 24)
            .and_then(|(who, rest)| Speaker::parse(who).map(|s| (s, rest.trim())));
        match (prefixed, out.last_mut()) {
            (Some((speaker, rest)), _) => out.push(Segment::new(speaker, rest, 0, 0)),
            (None, Some(last)) => {
                if !last.text.is_empty() {
                    last.text.push(' ');
                }
                last.text.push_str(trimmed);
            }
            (None, None) => {
                if !orphan.is_empty() {
                    orphan.push(' ');
                }
                orphan.push_str(trimmed);
            }
        }
    }
    if !orphan.is_empty() {
        match out.first_mut() {
            Some(first) => first.text = format!("{orphan} {}", first.text).trim().to_owned(),
            None => out.push(Segment::new(Speaker::Customer, orphan, 0, 0)),
        }
    }
    out.retain(|s| !s.text.is_empty());
    let mut at = 0i64;
    for s in &mut out {
        s.start_ms = at;
        at += s.text.chars().count() as i64;
        s.end_ms = at;
    }
    out
}

/// The plain-text form: one `Agent: …` / `Customer: …` line per segment.
pub fn to_text(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push_str(s.speaker.label());
        out.push_str(": ");
        out.push_str(&s.text);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_on_speaker_prefixes_and_keeps_continuations() {
        let t = "Agent: Hello, this is Acme.\nCaller: Hi! Who is this?\n  I mean, why?\nAI: Calling about your bill.\ncustomer: ok";
        let s = split_text(t);
        let pairs: Vec<(Speaker, &str)> = s.iter().map(|s| (s.speaker, s.text.as_str())).collect();
        assert_eq!(
            pairs,
            vec![
                (Speaker::Agent, "Hello, this is Acme."),
                (Speaker::Customer, "Hi! Who is this? I mean, why?"),
                (Speaker::Agent, "Calling about your bill."),
                (Speaker::Customer, "ok"),
            ]
        );
        assert!(s.windows(2).all(|w| w[0].end_ms <= w[1].start_ms));
    }

    #[test]
    fn text_without_prefixes_is_one_customer_segment() {
        let s = split_text("just some notes\nabout the call");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].speaker, Speaker::Customer);
        assert_eq!(s[0].text, "just some notes about the call");
        assert!(split_text("  \n ").is_empty());
    }

    #[test]
    fn a_colon_in_text_is_not_a_speaker() {
        let s = split_text("Agent: the time is 10:30\nNote: call back");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].text, "the time is 10:30 Note: call back");
    }

    proptest! {
        #[test]
        fn round_trip_through_text(parts in proptest::collection::vec((any::<bool>(), "[a-z][a-z ]{0,30}[a-z]"), 1..8)) {
            let segs: Vec<Segment> = parts
                .iter()
                .map(|(a, t)| Segment::new(if *a { Speaker::Agent } else { Speaker::Customer }, t.clone(), 0, 0))
                .collect();
            let back = split_text(&to_text(&segs));
            prop_assert_eq!(back.len(), segs.len());
            for (x, y) in back.iter().zip(&segs) {
                prop_assert_eq!(x.speaker, y.speaker);
                prop_assert_eq!(&x.text, &y.text);
            }
        }
    }
}
