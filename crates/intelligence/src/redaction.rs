//! PII: finding card numbers (Luhn-checked, spaced or dashed), US SSNs,
//! India Aadhaar (Verhoeff-checked) and PAN numbers, e-mails (written and
//! spoken, "john dot smith at gmail dot com"), phone numbers and digits
//! spoken as words ("four one five", "double five", "oh"), and replacing
//! them with tags (`[CARD]`, `[SSN]`, `[AADHAAR]`, `[PAN]`, `[EMAIL]`,
//! `[PHONE]`, `[NUMBER]`).
//!
//! Numbers are read as *chains*: digit groups and spoken digits separated
//! only by spaces, dashes, dots, commas or brackets. A chain is classified
//! by the groups it holds, so "4111 1111 1111 1111 exp 12 25" loses the
//! card and keeps the expiry month, and ordinary amounts, dates and times
//! ("$1,250.00", "12/15", "10:30") are not chains worth a tag.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use switchboard_domain::PhoneNumber;
use switchboard_domain::phone::{Region, Strictness};

use crate::text::{Token, char_offset, spoken_digit};

/// What a redacted span held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Card,
    Ssn,
    Aadhaar,
    Pan,
    Email,
    Phone,
    Number,
}

impl PiiKind {
    /// The tag that replaces it.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Card => "[CARD]",
            Self::Ssn => "[SSN]",
            Self::Aadhaar => "[AADHAAR]",
            Self::Pan => "[PAN]",
            Self::Email => "[EMAIL]",
            Self::Phone => "[PHONE]",
            Self::Number => "[NUMBER]",
        }
    }
}

/// One piece of PII found in a text (byte offsets; `value` is the
/// normalised form where one exists: E.164 for phones, the address for
/// e-mails).
#[derive(Debug, Clone, PartialEq)]
pub struct PiiHit {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
    pub value: Option<String>,
}

/// One redacted span: where it was in the original segment text and where
/// its tag is in the redacted text (character offsets both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedactionSpan {
    pub segment: usize,
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
    pub redacted_start: usize,
    pub redacted_end: usize,
}

/// A redacted text and what was taken out of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redacted {
    pub text: String,
    pub spans: Vec<RedactionSpan>,
}

/// Luhn's check (ISO/IEC 7812) over ASCII digits.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = (d - b'0') as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];
const VERHOEFF_INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// Verhoeff's check (Aadhaar's last digit) over ASCII digits.
pub fn verhoeff_valid(digits: &[u8]) -> bool {
    !digits.is_empty() && verhoeff_checksum(digits) == 0
}

fn verhoeff_checksum(digits: &[u8]) -> u8 {
    let mut c = 0u8;
    for (i, &d) in digits.iter().rev().enumerate() {
        c = VERHOEFF_D[c as usize][VERHOEFF_P[i % 8][(d - b'0') as usize] as usize];
    }
    c
}

/// The Verhoeff check digit to append to `digits`.
pub fn verhoeff_check_digit(digits: &[u8]) -> u8 {
    let mut c = 0u8;
    for (i, &d) in digits.iter().rev().enumerate() {
        c = VERHOEFF_D[c as usize][VERHOEFF_P[(i + 1) % 8][(d - b'0') as usize] as usize];
    }
    VERHOEFF_INV[c as usize]
}

/// A run of digit groups and spoken digits (see the module header).
#[derive(Debug, Clone)]
pub struct Chain {
    /// Byte span, including a leading `+` or `(`.
    pub start: usize,
    pub end: usize,
    /// Groups: byte span and their digits.
    pub groups: Vec<(usize, usize, Vec<u8>)>,
    /// Some of it was spoken as words.
    pub spoken: bool,
    pub plus: bool,
}

impl Chain {
    pub fn digits(&self) -> Vec<u8> {
        self.groups.iter().flat_map(|g| g.2.iter().copied()).collect()
    }
}

/// Finds the number chains of a text from its tokens.
pub fn chains(text: &str, toks: &[Token]) -> Vec<Chain> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let mut cur: Option<Chain> = None;
        let mut j = i;
        while j < toks.len() {
            let t = &toks[j];
            let (digits, used, spoken) = match token_digits(toks, j) {
                Some(x) => x,
                None => break,
            };
            if let Some(c) = &cur {
                let gap = &text[c.end..t.start];
                if gap.len() > 3 || !gap.bytes().all(|b| matches!(b, b' ' | b'-' | b'.' | b',' | b'(' | b')' | b'\t')) {
                    break;
                }
                // A group after a decimal point is a fraction, not more digits.
                if gap == "." && !spoken && !c.spoken {
                    break;
                }
            }
            let end = toks[j + used - 1].end;
            let c = cur.get_or_insert_with(|| {
                let before = &text[..t.start];
                let plus = before.ends_with('+');
                let start = if plus || before.ends_with('(') { t.start - 1 } else { t.start };
                Chain {
                    start,
                    end,
                    groups: Vec::new(),
                    spoken: false,
                    plus,
                }
            });
            // Each spoken digit is a group of its own, so card windows can start at any of them.
            c.groups.push((t.start, end, digits));
            c.spoken |= spoken;
            c.end = end;
            j += used;
        }
        match cur {
            Some(c) => {
                out.push(c);
                i = j;
            }
            None => i += 1,
        }
    }
    out
}

/// The digits token `j` stands for (a digit group, a spoken digit, or
/// "double"/"triple" and a digit), how many tokens that took, and
/// whether it was spoken.
fn token_digits(toks: &[Token], j: usize) -> Option<(Vec<u8>, usize, bool)> {
    let t = &toks[j];
    if t.numeric {
        return Some((t.lower.as_bytes().to_vec(), 1, false));
    }
    if let Some(d) = spoken_digit(&t.lower) {
        return Some((vec![b'0' + d], 1, true));
    }
    let times = match t.lower.as_str() {
        "double" => 2,
        "triple" => 3,
        _ => return None,
    };
    let next = toks.get(j + 1)?;
    let d = if next.numeric && next.lower.len() == 1 {
        next.lower.as_bytes()[0]
    } else {
        b'0' + spoken_digit(&next.lower)?
    };
    Some((vec![d; times], 2, true))
}

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b").expect("email regex"));
static SPOKEN_EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b([a-z0-9]+(?:\s+(?:dot|underscore|dash)\s+[a-z0-9]+)*)\s+at\s+([a-z0-9]+(?:\s+dot\s+[a-z0-9]+)*\s+dot\s+(?:com|net|org|edu|gov|io|co|in|uk|us|info|biz|me))\b",
    )
    .expect("spoken email regex")
});
static PAN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[A-Za-z]{3}[ABCFGHLJPTabcfghljpt][A-Za-z][0-9]{4}[A-Za-z]\b").expect("pan regex"));
static ID_CONTEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(order|account|acct|ticket|case|reference|ref|confirmation|invoice|tracking|policy|member|customer)\s*(number|no|num|id|#)?\s*(is|was)?\s*[:#]?\s*$")
        .expect("id context regex")
});
static SSN_CONTEXT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b(social security|ssn|social)\b").expect("ssn regex"));

fn spoken_email_value(local: &str, domain: &str) -> String {
    let norm = |s: &str| {
        s.split_whitespace()
            .map(|w| match w.to_ascii_lowercase().as_str() {
                "dot" => ".".to_owned(),
                "underscore" => "_".to_owned(),
                "dash" => "-".to_owned(),
                other => other.to_owned(),
            })
            .collect::<String>()
    };
    format!("{}@{}", norm(local), norm(domain))
}

fn ssn_valid(d: &[u8]) -> bool {
    d.len() == 9 && &d[..3] != b"000" && &d[..3] != b"666" && d[0] != b'9' && &d[3..5] != b"00" && &d[5..] != b"0000"
}

/// Finds the PII of a text. `region` reads national phone numbers.
pub fn find_pii(text: &str, toks: &[Token], region: Option<Region>) -> Vec<PiiHit> {
    let mut hits: Vec<PiiHit> = Vec::new();
    for m in EMAIL.find_iter(text) {
        hits.push(PiiHit {
            kind: PiiKind::Email,
            start: m.start(),
            end: m.end(),
            value: Some(m.as_str().to_ascii_lowercase()),
        });
    }
    if text.len() > 10 && memchr_at(text) {
        for c in SPOKEN_EMAIL.captures_iter(text) {
            let m = c.get(0).expect("match");
            hits.push(PiiHit {
                kind: PiiKind::Email,
                start: m.start(),
                end: m.end(),
                value: Some(spoken_email_value(&c[1], &c[2])),
            });
        }
    }
    for m in PAN.find_iter(text) {
        hits.push(PiiHit {
            kind: PiiKind::Pan,
            start: m.start(),
            end: m.end(),
            value: Some(m.as_str().to_ascii_uppercase()),
        });
    }
    if toks.iter().any(|t| t.numeric || spoken_digit(&t.lower).is_some()) {
        for c in chains(text, toks) {
            classify_chain(text, &c, region, &mut hits);
        }
    }
    // Keep the earliest, then longest, of overlapping hits.
    hits.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
    let mut out: Vec<PiiHit> = Vec::with_capacity(hits.len());
    for h in hits {
        match out.last() {
            Some(last) if h.start < last.end => {}
            _ => out.push(h),
        }
    }
    out
}

fn memchr_at(text: &str) -> bool {
    text.contains(" at ") || text.contains(" AT ") || text.contains(" At ")
}

fn classify_chain(text: &str, c: &Chain, region: Option<Region>, hits: &mut Vec<PiiHit>) {
    let n = c.groups.len();
    let mut used = vec![false; n];
    // Cards: the longest window of whole groups with 13..=19 digits that passes Luhn.
    let mut i = 0;
    while i < n {
        let mut best: Option<usize> = None;
        let mut count = 0;
        for j in i..n {
            count += c.groups[j].2.len();
            if count > 19 {
                break;
            }
            if count >= 13 {
                let d: Vec<u8> = c.groups[i..=j].iter().flat_map(|g| g.2.iter().copied()).collect();
                if luhn_valid(&d) {
                    best = Some(j);
                }
            }
        }
        if let Some(j) = best {
            let start = if i == 0 { c.start } else { c.groups[i].0 };
            hits.push(PiiHit {
                kind: PiiKind::Card,
                start,
                end: c.groups[j].1,
                value: None,
            });
            used[i..=j].iter_mut().for_each(|u| *u = true);
            i = j + 1;
        } else {
            i += 1;
        }
    }
    // A single run of more than 19 digits hiding a Luhn-valid 13..=19 run goes whole.
    for (k, g) in c.groups.iter().enumerate() {
        if !used[k] && g.2.len() > 19 && (13..=19).any(|len| g.2.windows(len).any(luhn_valid)) {
            hits.push(PiiHit {
                kind: PiiKind::Number,
                start: g.0,
                end: g.1,
                value: None,
            });
            used[k] = true;
        }
    }
    if used.iter().all(|u| *u) {
        return;
    }
    // What a card left: the longest run of groups it did not take.
    let (mut best, mut run_start) = ((0, 0), None);
    for (k, taken) in used.iter().chain(std::iter::once(&true)).enumerate() {
        match (!taken, run_start) {
            (true, None) => run_start = Some(k),
            (false, Some(s)) => {
                if k - s > best.1 - best.0 {
                    best = (s, k);
                }
                run_start = None;
            }
            _ => {}
        }
    }
    let rest = &c.groups[best.0..best.1];
    let digits: Vec<u8> = rest.iter().flat_map(|g| g.2.iter().copied()).collect();
    let lens: Vec<usize> = rest.iter().map(|g| g.2.len()).collect();
    let start = if best.0 == 0 { c.start } else { rest[0].0 };
    let end = rest.last().map_or(c.end, |g| g.1);
    let before = &text[..start];
    let mut from = before.len().saturating_sub(48);
    while !before.is_char_boundary(from) {
        from += 1;
    }
    let before = &before[from..];
    let kind = if digits.len() == 9 && ssn_valid(&digits) && (lens == [3, 2, 4] || SSN_CONTEXT.is_match(before)) {
        Some(PiiKind::Ssn)
    } else if digits.len() == 12 && (lens == [4, 4, 4] || lens == [12] || c.spoken) && digits[0] >= b'2' && verhoeff_valid(&digits) {
        Some(PiiKind::Aadhaar)
    } else if (7..=15).contains(&digits.len()) && !ID_CONTEXT.is_match(before) {
        phone_value(&digits, c.plus, region).map(|v| {
            hits.push(PiiHit {
                kind: PiiKind::Phone,
                start,
                end,
                value: Some(v),
            });
            PiiKind::Phone
        })
    } else {
        None
    };
    match kind {
        Some(PiiKind::Phone) => {}
        Some(k) => hits.push(PiiHit {
            kind: k,
            start,
            end,
            value: None,
        }),
        None if c.spoken && digits.len() >= 4 => hits.push(PiiHit {
            kind: PiiKind::Number,
            start,
            end,
            value: None,
        }),
        None => {}
    }
}

/// E.164 form of a phone number's digits, if it is one.
fn phone_value(digits: &[u8], plus: bool, region: Option<Region>) -> Option<String> {
    let s = std::str::from_utf8(digits).ok()?;
    if digits.len() < 10 {
        return None;
    }
    let input = if plus { format!("+{s}") } else { s.to_owned() };
    PhoneNumber::parse("phone", &input, region, Strictness::Possible)
        .ok()
        .or_else(|| {
            (!plus && digits.len() > 10)
                .then(|| PhoneNumber::parse("phone", &format!("+{s}"), None, Strictness::Possible).ok())
                .flatten()
        })
        .map(|p| p.as_str().to_owned())
}

/// Replaces every hit in `text` with its tag.
pub fn apply(text: &str, segment: usize, hits: &[PiiHit]) -> (String, Vec<RedactionSpan>) {
    let mut out = String::with_capacity(text.len());
    let mut spans = Vec::with_capacity(hits.len());
    let mut at = 0;
    let mut out_chars = 0;
    for h in hits {
        let kept = &text[at..h.start];
        out.push_str(kept);
        out_chars += kept.chars().count();
        let tag = h.kind.tag();
        spans.push(RedactionSpan {
            segment,
            kind: h.kind,
            start: char_offset(text, h.start),
            end: char_offset(text, h.end),
            redacted_start: out_chars,
            redacted_end: out_chars + tag.len(),
        });
        out.push_str(tag);
        out_chars += tag.len();
        at = h.end;
    }
    out.push_str(&text[at..]);
    (out, spans)
}

/// Redacts one text (segment 0).
pub fn redact(text: &str, region: Option<Region>) -> Redacted {
    let toks = crate::text::tokens(text);
    let hits = find_pii(text, &toks, region);
    let (text, spans) = apply(text, 0, &hits);
    Redacted { text, spans }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::slice_chars;
    use proptest::prelude::*;

    fn r(t: &str) -> String {
        redact(t, Region::parse("US").ok()).text
    }

    #[test]
    fn check_digits() {
        assert!(luhn_valid(b"4111111111111111"));
        assert!(!luhn_valid(b"4111111111111112"));
        assert!(verhoeff_valid(b"2363"));
        assert!(!verhoeff_valid(b"2364"));
        let base = b"23412341234";
        let mut full = base.to_vec();
        full.push(b'0' + verhoeff_check_digit(base));
        assert!(verhoeff_valid(&full));
    }

    #[test]
    fn cards_in_every_spelling() {
        assert_eq!(r("card 4111111111111111 thanks"), "card [CARD] thanks");
        assert_eq!(r("it's 4111 1111 1111 1111, exp 12 25"), "it's [CARD], exp 12 25");
        assert_eq!(r("3782-822463-10005"), "[CARD]");
        assert_eq!(r("four one one one one one one one one one one one one one one one"), "[CARD]");
        assert_eq!(
            r("four double one one, one one one one, one one one one, one one one one"),
            "[CARD]"
        );
        assert_eq!(r("not a card 4111111111111112"), "not a card 4111111111111112");
    }

    #[test]
    fn national_ids() {
        assert_eq!(r("my ssn is 123-45-6789."), "my ssn is [SSN].");
        assert_eq!(r("social security number 123456789"), "social security number [SSN]");
        let mut a = b"23412341234".to_vec();
        a.push(b'0' + verhoeff_check_digit(&a));
        let a = String::from_utf8(a).expect("digits");
        let spaced = format!("{} {} {}", &a[..4], &a[4..8], &a[8..]);
        assert_eq!(r(&format!("aadhaar {spaced} ok")), "aadhaar [AADHAAR] ok");
        assert_eq!(r("PAN is ABCPE1234F"), "PAN is [PAN]");
    }

    #[test]
    fn emails_and_phones() {
        assert_eq!(r("mail John.Smith@Example.com now"), "mail [EMAIL] now");
        assert_eq!(r("it's john dot smith at gmail dot com"), "it's [EMAIL]");
        assert_eq!(r("call (415) 555-2671 or +44 20 7946 0958"), "call [PHONE] or [PHONE]");
        assert_eq!(r("four one five five five five two six seven one"), "[PHONE]");
        let toks = crate::text::tokens("call 415-555-2671");
        let hits = find_pii("call 415-555-2671", &toks, Region::parse("US").ok());
        assert_eq!(hits[0].value.as_deref(), Some("+14155552671"));
    }

    #[test]
    fn ordinary_numbers_stay() {
        for t in [
            "I paid $1,250.00 on 12/15/2026 at 10:30",
            "order number 1234567890 arrived",
            "we have 3 kids and 2 dogs",
            "it was 2024 and 2025",
            "one or two of them",
            "call me at 3 on the 15th",
        ] {
            assert_eq!(r(t), t);
        }
    }

    #[test]
    fn spans_point_at_original_and_tag() {
        let t = "né 4111 1111 1111 1111 and a@b.co";
        let red = redact(t, None);
        assert_eq!(red.spans.len(), 2);
        for s in &red.spans {
            let orig = slice_chars(t, s.start, s.end).expect("in range");
            assert!(orig.contains('@') || orig.starts_with("4111"));
            assert_eq!(slice_chars(&red.text, s.redacted_start, s.redacted_end), Some(s.kind.tag()));
        }
    }

    fn card_strategy() -> impl Strategy<Value = Vec<u8>> {
        (
            prop_oneof![
                Just(b"4".to_vec()),
                Just(b"51".to_vec()),
                Just(b"37".to_vec()),
                Just(b"6011".to_vec()),
                Just(b"35".to_vec())
            ],
            13usize..=19,
            proptest::collection::vec(0u8..10, 19),
        )
            .prop_map(|(prefix, len, body)| {
                let mut d: Vec<u8> = prefix;
                d.extend(body.iter().map(|x| b'0' + x));
                d.truncate(len - 1);
                for check in b'0'..=b'9' {
                    d.push(check);
                    if luhn_valid(&d) {
                        break;
                    }
                    d.pop();
                }
                d
            })
    }

    const WORDS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

    fn spell(d: &[u8], style: u8) -> String {
        let s = std::str::from_utf8(d).expect("digits");
        match style {
            0 => s.to_owned(),
            1 => d
                .chunks(4)
                .map(|c| std::str::from_utf8(c).expect("digits"))
                .collect::<Vec<_>>()
                .join(" "),
            2 => d
                .chunks(4)
                .map(|c| std::str::from_utf8(c).expect("digits"))
                .collect::<Vec<_>>()
                .join("-"),
            _ => d.iter().map(|x| WORDS[(x - b'0') as usize]).collect::<Vec<_>>().join(" "),
        }
    }

    /// Every maximal digit run (spaces and dashes between groups allowed)
    /// of a text: no window of whole groups of 13..=19 digits may pass Luhn.
    fn luhn_window_left(text: &str) -> Option<String> {
        let toks = crate::text::tokens(text);
        for c in chains(text, &toks) {
            let g: Vec<&Vec<u8>> = c.groups.iter().map(|g| &g.2).collect();
            for i in 0..g.len() {
                let mut d = Vec::new();
                for grp in &g[i..] {
                    d.extend(grp.iter().copied());
                    if (13..=19).contains(&d.len()) && luhn_valid(&d) {
                        return Some(String::from_utf8(d).expect("digits"));
                    }
                }
                if g[i].len() > 19 && (13..=19).any(|len| g[i].windows(len).any(luhn_valid)) {
                    return Some(String::from_utf8(g[i].clone()).expect("digits"));
                }
            }
        }
        None
    }

    proptest! {
        #[test]
        fn no_luhn_valid_card_survives(card in card_strategy(), style in 0u8..4, before in "[a-z ]{0,20}", after in "[a-z0-9 ]{0,20}") {
            let text = format!("{before} {} {after}", spell(&card, style));
            let red = redact(&text, None);
            prop_assert!(red.text.contains("[CARD]"), "{} -> {}", text, red.text);
            prop_assert!(luhn_window_left(&red.text).is_none(), "{} -> {}", text, red.text);
        }

        #[test]
        fn digit_soup_leaves_no_card(soup in "[0-9 -]{0,60}") {
            let red = redact(&soup, None);
            prop_assert!(luhn_window_left(&red.text).is_none(), "{} -> {}", soup, red.text);
        }

        #[test]
        fn spans_slice_the_original(text in "[a-zé 0-9@.-]{0,80}") {
            let red = redact(&text, None);
            for s in &red.spans {
                prop_assert!(slice_chars(&text, s.start, s.end).is_some());
                prop_assert_eq!(slice_chars(&red.text, s.redacted_start, s.redacted_end), Some(s.kind.tag()));
            }
        }
    }
}
