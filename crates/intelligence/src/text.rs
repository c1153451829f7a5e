//! Text plumbing shared by every analysis: word tokens with byte spans,
//! sentences, stop words, spoken numbers, and the [`Evidence`] type whose
//! offsets are **character** offsets (Unicode scalar values, what
//! JavaScript's `Array.from(s)` and Python's `s[i]` count), never bytes.

use serde::{Deserialize, Serialize};

/// Where a result came from: segment `segment` (0-based; text input is
/// segment 0), characters `start..end` of that segment's text (character
/// offsets, end exclusive), and the text found there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub segment: usize,
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl Evidence {
    /// Evidence for the byte range `b0..b1` of `text` (segment `segment`).
    pub(crate) fn from_bytes(segment: usize, text: &str, b0: usize, b1: usize) -> Self {
        Self {
            segment,
            start: char_offset(text, b0),
            end: char_offset(text, b1),
            text: text[b0..b1].to_owned(),
        }
    }

    /// The characters `start..end` of `text`, if those offsets fit it.
    pub fn slice<'t>(&self, text: &'t str) -> Option<&'t str> {
        slice_chars(text, self.start, self.end)
    }
}

/// The character offset of byte offset `byte` in `text`.
pub fn char_offset(text: &str, byte: usize) -> usize {
    if text.is_ascii() { byte } else { text[..byte].chars().count() }
}

/// Characters `start..end` of `text`, or `None` when out of range.
pub fn slice_chars(text: &str, start: usize, end: usize) -> Option<&str> {
    if start > end {
        return None;
    }
    if text.is_ascii() {
        return text.get(start..end);
    }
    let mut idx = text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len()));
    let b0 = idx.nth(start)?;
    let b1 = if end == start { b0 } else { idx.nth(end - start - 1)? };
    text.get(b0..b1)
}

/// One word of a text: letters and digits with inner apostrophes.
#[derive(Debug, Clone)]
pub struct Token {
    /// Byte span in the text.
    pub start: usize,
    pub end: usize,
    /// Lowercase form, curly apostrophes straightened.
    pub lower: String,
    /// Written in capitals (two letters or more).
    pub caps: bool,
    /// Sentence-level punctuation (`. , ; : ! ?` or a dash) stands between this word and the one before.
    pub break_before: bool,
    /// Only digits.
    pub numeric: bool,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Splits `text` into word tokens.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::with_capacity(text.len() / 5 + 1);
    let bytes = text.as_bytes();
    let mut iter = text.char_indices().peekable();
    let mut pending_break = false;
    while let Some((i, c)) = iter.next() {
        if !is_word_char(c) {
            if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '—' | '–' | '(' | ')' | '"' | '…')
                || (c == '-' && i > 0 && bytes[i - 1] == b' ')
            {
                pending_break = true;
            }
            continue;
        }
        let start = i;
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = iter.peek() {
            if is_word_char(d) {
                end = j + d.len_utf8();
                iter.next();
            } else if d == '\'' || d == '’' {
                // An apostrophe inside a word (don't, customer's) keeps it whole.
                let after = j + d.len_utf8();
                match text[after..].chars().next() {
                    Some(n) if n.is_alphabetic() => {
                        iter.next();
                    }
                    _ => break,
                }
            } else {
                break;
            }
        }
        let word = &text[start..end];
        let lower = if word.is_ascii() {
            word.to_ascii_lowercase()
        } else {
            word.to_lowercase().replace('’', "'")
        };
        let letters = word.chars().filter(|c| c.is_alphabetic()).count();
        out.push(Token {
            start,
            end,
            caps: letters >= 2 && word.chars().all(|c| !c.is_lowercase()),
            numeric: word.bytes().all(|b| b.is_ascii_digit()),
            lower,
            break_before: pending_break,
        });
        pending_break = false;
    }
    out
}

/// Is token `t` of `text` the word of a redaction tag (`[CARD]`)?
pub fn is_tag(text: &str, t: &Token) -> bool {
    t.caps && text[..t.start].ends_with('[') && text[t.end..].starts_with(']')
}

/// Byte spans of the sentences of `text` (split after `.`, `!`, `?` and
/// line breaks, never inside a number such as `3.50`).
pub fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let end_here = match c {
            b'!' | b'?' | b'\n' => true,
            b'.' => !(i > 0 && b[i - 1].is_ascii_digit() && i + 1 < b.len() && b[i + 1].is_ascii_digit()),
            _ => false,
        };
        if end_here {
            // Swallow runs like "?!" and "...".
            let mut j = i + 1;
            while j < b.len() && matches!(b[j], b'!' | b'?' | b'.') {
                j += 1;
            }
            push_trimmed(text, start, j, &mut out);
            start = j;
            i = j;
        } else {
            i += 1;
        }
    }
    push_trimmed(text, start, b.len(), &mut out);
    out
}

fn push_trimmed(text: &str, s: usize, e: usize, out: &mut Vec<(usize, usize)>) {
    let piece = &text[s..e];
    let lead = piece.len() - piece.trim_start().len();
    let trail = piece.len() - piece.trim_end().len();
    if lead + trail < piece.len() && piece.chars().any(char::is_alphanumeric) {
        out.push((s + lead, e - trail));
    }
}

/// English stop words, with the fillers of spoken calls (um, yeah, okay).
pub fn is_stop_word(w: &str) -> bool {
    static SET: std::sync::LazyLock<FxMap<&'static str, ()>> = std::sync::LazyLock::new(|| STOP_WORDS.iter().map(|w| (*w, ())).collect());
    SET.contains_key(w)
}

// Kept sorted, so duplicates show.
const STOP_WORDS: &[&str] = &[
    "a",
    "able",
    "about",
    "above",
    "actually",
    "after",
    "again",
    "against",
    "ago",
    "ah",
    "all",
    "already",
    "alright",
    "also",
    "always",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "anything",
    "are",
    "aren't",
    "around",
    "as",
    "ask",
    "asked",
    "at",
    "back",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "bit",
    "both",
    "but",
    "by",
    "bye",
    "came",
    "can",
    "can't",
    "cannot",
    "come",
    "could",
    "couldn't",
    "did",
    "didn't",
    "do",
    "does",
    "doesn't",
    "doing",
    "don't",
    "down",
    "during",
    "each",
    "eh",
    "either",
    "else",
    "even",
    "ever",
    "every",
    "everyone",
    "everything",
    "few",
    "first",
    "for",
    "from",
    "further",
    "get",
    "gets",
    "getting",
    "give",
    "go",
    "goes",
    "going",
    "gone",
    "gonna",
    "got",
    "gotta",
    "guess",
    "had",
    "hadn't",
    "has",
    "hasn't",
    "have",
    "haven't",
    "having",
    "he",
    "he'd",
    "he'll",
    "he's",
    "hello",
    "her",
    "here",
    "here's",
    "hers",
    "herself",
    "hey",
    "hi",
    "him",
    "himself",
    "his",
    "hmm",
    "how",
    "how's",
    "i",
    "i'd",
    "i'll",
    "i'm",
    "i've",
    "if",
    "in",
    "instead",
    "into",
    "is",
    "isn't",
    "it",
    "it's",
    "its",
    "itself",
    "just",
    "keep",
    "kind",
    "know",
    "last",
    "let",
    "let's",
    "like",
    "look",
    "lot",
    "lots",
    "made",
    "make",
    "may",
    "maybe",
    "me",
    "mean",
    "might",
    "mine",
    "more",
    "most",
    "much",
    "must",
    "mustn't",
    "my",
    "myself",
    "need",
    "never",
    "next",
    "no",
    "nor",
    "not",
    "nothing",
    "now",
    "of",
    "off",
    "oh",
    "ok",
    "okay",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "ought",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "please",
    "pretty",
    "put",
    "quite",
    "rather",
    "really",
    "right",
    "said",
    "same",
    "say",
    "says",
    "see",
    "shall",
    "shan't",
    "she",
    "she'd",
    "she'll",
    "she's",
    "should",
    "shouldn't",
    "so",
    "some",
    "somebody",
    "someone",
    "something",
    "sometimes",
    "sorry",
    "sort",
    "still",
    "stuff",
    "such",
    "sure",
    "take",
    "tell",
    "than",
    "thank",
    "thanks",
    "that",
    "that's",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "there's",
    "these",
    "they",
    "they'd",
    "they'll",
    "they're",
    "they've",
    "thing",
    "things",
    "think",
    "this",
    "those",
    "though",
    "through",
    "to",
    "today",
    "told",
    "tomorrow",
    "tonight",
    "too",
    "uh",
    "uhm",
    "um",
    "under",
    "until",
    "up",
    "us",
    "usually",
    "very",
    "wanna",
    "want",
    "wanted",
    "was",
    "wasn't",
    "way",
    "we",
    "we'd",
    "we'll",
    "we're",
    "we've",
    "well",
    "were",
    "weren't",
    "what",
    "what's",
    "when",
    "when's",
    "where",
    "where's",
    "which",
    "while",
    "who",
    "who's",
    "whom",
    "why",
    "why's",
    "will",
    "with",
    "won't",
    "would",
    "wouldn't",
    "yeah",
    "yep",
    "yes",
    "yet",
    "you",
    "you'd",
    "you'll",
    "you're",
    "you've",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// The digit a spoken word stands for (`zero`/`oh`/`o` … `nine`).
pub fn spoken_digit(w: &str) -> Option<u8> {
    Some(match w {
        "zero" | "oh" | "o" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        _ => return None,
    })
}

/// The value of a small spoken cardinal (`fifty`, `twenty five`, `three
/// hundred`, `two thousand five hundred`) spread over `words`; returns
/// the value and how many words it used.
pub fn spoken_number(words: &[&str]) -> Option<(u64, usize)> {
    let mut total: u64 = 0;
    let mut current: u64 = 0;
    let mut used = 0;
    for (i, w) in words.iter().enumerate() {
        let v = match *w {
            "and" if used > 0 && i + 1 < words.len() => {
                used += 1;
                continue;
            }
            "a" if used == 0 && words.get(1).is_some_and(|n| matches!(*n, "hundred" | "thousand")) => {
                current = 1;
                used += 1;
                continue;
            }
            "ten" => 10,
            "eleven" => 11,
            "twelve" => 12,
            "thirteen" => 13,
            "fourteen" => 14,
            "fifteen" => 15,
            "sixteen" => 16,
            "seventeen" => 17,
            "eighteen" => 18,
            "nineteen" => 19,
            "twenty" => 20,
            "thirty" => 30,
            "forty" => 40,
            "fifty" => 50,
            "sixty" => 60,
            "seventy" => 70,
            "eighty" => 80,
            "ninety" => 90,
            "hundred" if used > 0 => {
                current = current.max(1) * 100;
                used += 1;
                continue;
            }
            "thousand" if used > 0 => {
                total += current.max(1) * 1000;
                current = 0;
                used += 1;
                continue;
            }
            w => match spoken_digit(w) {
                Some(d) if w != "o" && w != "oh" => d as u64,
                _ => break,
            },
        };
        current += v;
        used += 1;
    }
    // A trailing "and" is not part of the number.
    while used > 0 && words[used - 1] == "and" {
        used -= 1;
    }
    (used > 0).then_some((total + current, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted() {
        assert!(
            STOP_WORDS.windows(2).all(|w| w[0] < w[1]),
            "STOP_WORDS must stay sorted for binary search"
        );
        assert!(is_stop_word("the") && is_stop_word("yourselves") && !is_stop_word("refund"));
    }

    #[test]
    fn tokens_keep_apostrophes_and_byte_spans() {
        let t = "I don’t WANT it, café!";
        let toks = tokens(t);
        let words: Vec<&str> = toks.iter().map(|k| k.lower.as_str()).collect();
        assert_eq!(words, ["i", "don't", "want", "it", "café"]);
        assert!(toks[2].caps && !toks[0].caps);
        assert!(toks[4].break_before && !toks[3].break_before);
        assert_eq!(&t[toks[4].start..toks[4].end], "café");
    }

    #[test]
    fn char_offsets_count_characters_not_bytes() {
        let t = "né ok";
        let e = Evidence::from_bytes(0, t, 4, 6);
        assert_eq!((e.start, e.end), (3, 5));
        assert_eq!(e.slice(t), Some("ok"));
        assert_eq!(slice_chars(t, 0, 2), Some("né"));
        assert_eq!(slice_chars(t, 3, 9), None);
    }

    #[test]
    fn sentences_do_not_split_decimals() {
        let t = "It costs 3.50 dollars. Fine!  Why?";
        let s: Vec<&str> = sentences(t).iter().map(|&(a, b)| &t[a..b]).collect();
        assert_eq!(s, ["It costs 3.50 dollars.", "Fine!", "Why?"]);
    }

    #[test]
    fn spoken_numbers() {
        assert_eq!(spoken_number(&["fifty", "dollars"]), Some((50, 1)));
        assert_eq!(spoken_number(&["two", "hundred", "and", "fifty"]), Some((250, 4)));
        assert_eq!(spoken_number(&["a", "thousand", "bucks"]), Some((1000, 2)));
        assert_eq!(spoken_number(&["twenty", "five", "and"]), Some((25, 2)));
        assert_eq!(spoken_number(&["bucks"]), None);
    }
}

/// A small, fast, non-cryptographic hasher (the Fx hash of rustc) for the
/// lexicon and feature maps: keys are our own words, never attacker-chosen
/// map sizes that matter.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl std::hash::Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(FX_SEED);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(FX_SEED);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(FX_SEED);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(FX_SEED);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// A `HashMap` keyed with [`FxHasher`].
pub type FxMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;
