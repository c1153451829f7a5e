//! Compliance flags: whether the recording disclosure was said (an
//! organisation's phrase list), whether the callee asked not to be called
//! again, and whether escalation is recommended (a strongly negative
//! customer who asks for a person).

use serde::{Deserialize, Serialize};

use crate::text::Evidence;

/// What the agent may say to disclose recording, when an organisation
/// sets no list of its own.
pub const DEFAULT_DISCLOSURE_PHRASES: &[&str] = &[
    "this call may be recorded",
    "this call is being recorded",
    "this call will be recorded",
    "call may be monitored",
    "calls may be recorded",
    "calls are recorded",
    "recorded for quality",
    "recorded for training",
    "monitored or recorded",
    "recorded and monitored",
    "is being recorded",
];

/// Phrases that say "do not call me" outright.
const DNC_PHRASES: &[&str] = &[
    "stop calling",
    "do not call",
    "don't call",
    "dont call",
    "take me off",
    "remove me from",
    "remove my number",
    "never call",
    "quit calling",
    "stop ringing",
];

/// One flag and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flag {
    pub value: bool,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub evidence: Vec<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The compliance flags of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Compliance {
    /// The recording disclosure was said (by the agent, when speakers are known).
    pub recording_disclosure: Flag,
    /// The callee asked not to be called again: the number belongs on the DNC list.
    pub do_not_call: Flag,
    /// A strongly negative customer asked for a person or a manager.
    pub escalation_recommended: Flag,
}

/// A text lowercased with runs of whitespace and punctuation made one
/// space, mapping back to the original byte offsets.
pub(crate) struct Normalised {
    norm: String,
    map: Vec<(usize, usize)>,
}

impl Normalised {
    pub(crate) fn new(text: &str) -> Self {
        let mut norm = String::with_capacity(text.len());
        let mut map = Vec::with_capacity(text.len());
        let mut last_space = true;
        for (b, c) in text.char_indices() {
            if c.is_alphanumeric() || c == '\'' || c == '’' {
                for l in c.to_lowercase() {
                    let l = if l == '’' { '\'' } else { l };
                    norm.push(l);
                    for _ in 0..l.len_utf8() {
                        map.push((b, b + c.len_utf8()));
                    }
                }
                last_space = false;
            } else if !last_space {
                norm.push(' ');
                map.push((b, b + c.len_utf8()));
                last_space = true;
            }
        }
        Self { norm, map }
    }

    /// Finds `phrase` (as [`normalise_phrase`] makes it) on word
    /// boundaries; returns the byte span in the original text.
    pub(crate) fn find(&self, phrase: &str) -> Option<(usize, usize)> {
        let norm = &self.norm;
        let mut from = 0;
        while let Some(p) = norm[from..].find(phrase) {
            let s = from + p;
            let e = s + phrase.len();
            let bounded = (s == 0 || norm.as_bytes()[s - 1] == b' ') && (e == norm.len() || norm.as_bytes()[e] == b' ');
            if bounded {
                return Some((self.map[s].0, self.map[e - 1].1));
            }
            from = s + 1;
            while !norm.is_char_boundary(from) {
                from += 1;
            }
        }
        None
    }
}

/// Finds `phrase` (lowercase, single spaces) in `text` ignoring case and
/// runs of whitespace or punctuation; returns the byte span.
#[cfg(test)]
pub(crate) fn find_phrase(text: &str, phrase: &str) -> Option<(usize, usize)> {
    if phrase.is_empty() {
        return None;
    }
    Normalised::new(text).find(phrase)
}

/// Normalises an organisation's phrase for [`find_phrase`].
pub(crate) fn normalise_phrase(p: &str) -> String {
    p.to_lowercase()
        .replace('’', "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Looks for any of `phrases` in the given (segment, text) pairs.
pub(crate) fn first_phrase<'a>(texts: impl Iterator<Item = (usize, &'a str)>, phrases: &[String]) -> Option<Evidence> {
    for (seg, text) in texts {
        // Cheap test first: most segments share no word with any phrase's first word.
        let lower = text.to_lowercase();
        if !phrases
            .iter()
            .any(|p| p.split(' ').next().is_some_and(|w| !w.is_empty() && lower.contains(w)))
        {
            continue;
        }
        let n = Normalised::new(text);
        for p in phrases {
            if p.is_empty() {
                continue;
            }
            if let Some((a, b)) = n.find(p) {
                return Some(Evidence::from_bytes(seg, text, a, b));
            }
        }
    }
    None
}

/// The built-in do-not-call phrases, normalised.
pub(crate) fn dnc_phrases() -> Vec<String> {
    DNC_PHRASES.iter().map(|p| normalise_phrase(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_across_case_and_punctuation() {
        let t = "Hi!  This call, may be RECORDED for quality.";
        let (a, b) = find_phrase(t, "this call may be recorded").expect("found");
        assert_eq!(&t[a..b], "This call, may be RECORDED");
        assert!(find_phrase("recordedly", "recorded").is_none());
        assert_eq!(normalise_phrase("Don’t  call!"), "don't call");
        let e = first_phrase([(3usize, "please, DON'T call again")].into_iter(), &dnc_phrases()).expect("found");
        assert_eq!((e.segment, e.text.as_str()), (3, "DON'T call"));
    }
}
