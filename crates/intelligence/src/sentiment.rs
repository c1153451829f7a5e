//! Sentiment: a lexicon with rules, per segment, per speaker and for the
//! whole call.
//!
//! Word valences come from VADER's lexicon (the `vader_sentiment` crate,
//! MIT; 7,500 words rated −4..4 by ten people each) plus our own
//! call-centre phrases ("cancel my account", "speak to a manager",
//! "waste of time", "thank you so much"). The rules follow VADER's paper
//! (Hutto & Gilbert, ICWSM 2014) with changes of our own: negation and
//! intensifiers reach back three words but never across a clause break;
//! "but" shifts weight to its own clause only, within its sentence;
//! phrases are matched before their words; a segment holding strong
//! praise and strong blame is `mixed`.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use switchboard_domain::transcript::Speaker;

use crate::text::{Evidence, FxMap, Token, tokens};

/// The sentiment of a piece of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Positive,
    Negative,
    Neutral,
    Mixed,
}

/// Sentiment of one text: label, score in −1..1, and the words behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextSentiment {
    pub label: Label,
    pub score: f64,
    /// Sum of the positive and of the negative valences found (≥ 0 each).
    #[serde(skip)]
    pub positive: f64,
    #[serde(skip)]
    pub negative: f64,
    /// The strongest words and phrases, strongest first (at most three).
    pub evidence: Vec<Evidence>,
}

/// One segment's sentiment in a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentSentiment {
    pub segment: usize,
    /// Absent when the input was plain text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Speaker>,
    pub label: Label,
    pub score: f64,
    pub evidence: Vec<Evidence>,
}

/// A label and score without evidence (per speaker, trend ends).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Score {
    pub label: Label,
    pub score: f64,
}

/// Sentiment per speaker.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BySpeaker {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<Score>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<Score>,
}

/// Which way the customer's mood went over the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Improving,
    Worsening,
    Steady,
}

/// Start versus end of the call (first and last third of the segments
/// that carry sentiment, the customer's when the customer spoke).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trend {
    pub start: f64,
    pub end: f64,
    pub direction: Direction,
}

/// The most negative segment of the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Moment {
    pub segment: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Speaker>,
    pub score: f64,
    pub evidence: Vec<Evidence>,
}

/// The sentiment of a call: `{label, score, bySpeaker, segments, trend, mostNegative}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSentiment {
    pub label: Label,
    pub score: f64,
    pub by_speaker: BySpeaker,
    pub segments: Vec<SegmentSentiment>,
    pub trend: Trend,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub most_negative: Option<Moment>,
}

static LEXICON: LazyLock<FxMap<&'static str, f32>> = LazyLock::new(|| {
    let mut m: FxMap<&'static str, f32> = FxMap::default();
    for (k, v) in vader_sentiment::LEXICON.iter() {
        let w: &'static str = std::ops::Deref::deref(k);
        if w.chars().any(char::is_alphanumeric) {
            m.insert(w, *v as f32);
        }
    }
    for &(w, v) in EXTRA_WORDS {
        m.insert(w, v);
    }
    for &w in NOT_SENTIMENT {
        m.remove(w);
    }
    m
});

/// Words VADER lacks that carry weight in calls and reviews (our ratings,
/// on VADER's −4..4 scale).
const EXTRA_WORDS: &[(&str, f32)] = &[
    ("overcharged", -2.0),
    ("unresolved", -1.5),
    ("unreachable", -1.2),
    ("unhelpful", -2.0),
    ("incompetent", -2.5),
    ("broke", -1.5),
    ("defective", -2.0),
    ("malfunctioning", -1.8),
    ("junk", -2.0),
    ("garbage", -2.2),
    ("crap", -2.2),
    ("crappy", -2.4),
    ("unusable", -2.2),
    ("unreliable", -1.8),
    ("mediocre", -1.2),
    ("overpriced", -1.6),
    ("waited", -0.6),
    ("lousy", -2.2),
    ("sucked", -2.0),
    ("flawless", 2.6),
    ("seamless", 2.0),
    ("helpful", 1.8),
    ("resolved", 1.2),
    ("recommended", 1.5),
    ("sturdy", 1.2),
    ("reliable", 1.6),
    ("works", 0.4),
    ("reasonable", 1.2),
    ("unreasonable", -1.6),
    // Evaluative words VADER lacks, picked by hand from those whose
    // sentences in Hutto & Gilbert's movie, Amazon, tweet and editorial
    // sets (vaderSentiment 3.3.2 sdist) rate at least 1.0 from neutral
    // on average, over ten sentences or more; names and topic words left out.
    ("unfunny", -2.0),
    ("incoherent", -2.0),
    ("pointless", -2.0),
    ("poorly", -1.8),
    ("witless", -2.0),
    ("inane", -1.8),
    ("lifeless", -2.0),
    ("inept", -2.0),
    ("amateurish", -1.8),
    ("devoid", -1.6),
    ("soggy", -1.2),
    ("wooden", -1.2),
    ("meandering", -1.4),
    ("leaden", -1.5),
    ("unnecessary", -1.2),
    ("uninspired", -1.8),
    ("banal", -1.6),
    ("stale", -1.5),
    ("pretentious", -1.6),
    ("muddled", -1.5),
    ("plodding", -1.5),
    ("exploitative", -1.5),
    ("generic", -1.0),
    ("overlong", -1.4),
    ("choppy", -1.2),
    ("preachy", -1.2),
    ("contrived", -1.5),
    ("shallow", -1.3),
    ("tiresome", -1.6),
    ("tedious", -1.8),
    ("clumsy", -1.4),
    ("cliched", -1.4),
    ("cliche", -1.2),
    ("superficial", -1.3),
    ("sloppy", -1.6),
    ("lacking", -1.2),
    ("flimsy", -1.3),
    ("crass", -1.3),
    ("hollow", -1.2),
    ("manipulative", -1.5),
    ("overwrought", -1.3),
    ("baffling", -1.0),
    ("clunky", -1.3),
    ("disposable", -1.0),
    ("formulaic", -1.3),
    ("hackneyed", -1.5),
    ("maudlin", -1.2),
    ("simplistic", -1.1),
    ("cheesy", -1.0),
    ("vulgar", -1.2),
    ("bland", -1.3),
    ("flaw", -1.2),
    ("striking", 1.2),
    ("crafted", 1.2),
    ("unique", 1.2),
    ("flair", 1.3),
    ("insightful", 1.8),
    ("gripping", 1.8),
    ("smooth", 1.2),
    ("witty", 1.8),
    ("spectacular", 2.3),
    ("poignant", 1.6),
    ("vivid", 1.4),
    ("colorful", 1.2),
    ("nuanced", 1.4),
    ("magical", 2.0),
    ("stirring", 1.5),
    ("gifted", 1.6),
    ("refreshing", 1.8),
    ("refreshingly", 1.6),
    ("intuitive", 1.5),
    ("tasty", 1.8),
    ("finest", 2.2),
    ("exceptional", 2.3),
    ("deftly", 1.6),
    ("evocative", 1.4),
    ("absorbing", 1.4),
    ("dazzling", 2.2),
    ("extraordinary", 2.0),
    ("impeccable", 2.4),
    ("engrossing", 1.8),
    ("tender", 1.2),
    ("touching", 1.6),
    ("riveting", 2.0),
    ("captivating", 2.2),
    ("uplifting", 2.2),
    ("polished", 1.4),
    ("gem", 2.0),
    ("deft", 1.6),
    ("inventive", 1.8),
    ("ingenious", 2.2),
    ("incredible", 2.2),
    ("mesmerizing", 2.2),
    ("masterful", 2.4),
    ("masterpiece", 2.8),
];

/// Lexicon words that in calls are names or plain words, not feelings.
const NOT_SENTIMENT: &[&str] = &[
    "please", "yes", "no", "ok", "okay", "kind", "pretty", "well", "sure", "hand", "hold", "call", "number", "energy",
];

/// Multi-word expressions, matched before their words.
const PHRASES: &[(&str, f32)] = &[
    ("cancel my account", -2.0),
    ("cancel my subscription", -1.8),
    ("cancel my service", -1.8),
    ("close my account", -1.6),
    ("speak to a manager", -1.6),
    ("speak to your manager", -1.6),
    ("speak to a supervisor", -1.6),
    ("speak with a manager", -1.6),
    ("speak with a supervisor", -1.6),
    ("talk to a manager", -1.6),
    ("talk to your supervisor", -1.6),
    ("talk to a supervisor", -1.6),
    ("your supervisor", -1.0),
    ("waste of time", -2.6),
    ("waste of money", -2.6),
    ("waste your money", -2.6),
    ("waste your time", -2.6),
    ("wasted my time", -2.6),
    ("doesn't work", -1.8),
    ("does not work", -1.8),
    ("didn't work", -1.8),
    ("did not work", -1.8),
    ("don't work", -1.8),
    ("not working", -1.8),
    ("stopped working", -2.0),
    ("never works", -2.0),
    ("still waiting", -1.4),
    ("on hold for", -1.2),
    ("never again", -2.0),
    ("fed up", -2.2),
    ("sick of", -2.0),
    ("sick and tired", -2.4),
    ("rip off", -2.5),
    ("ripped off", -2.5),
    ("charged twice", -1.8),
    ("how many times", -1.2),
    ("not acceptable", -2.0),
    ("no one called", -1.6),
    ("nobody called", -1.6),
    ("stop calling", -1.6),
    ("leave me alone", -1.8),
    ("give up", -1.2),
    ("fell apart", -2.0),
    ("thank you so much", 2.4),
    ("thanks so much", 2.4),
    ("thanks a lot", 1.8),
    ("really appreciate", 2.2),
    ("much appreciated", 2.0),
    ("works great", 2.6),
    ("works well", 2.0),
    ("works fine", 1.4),
    ("works perfectly", 2.8),
    ("highly recommend", 3.0),
    ("problem solved", 2.0),
    ("sorted out", 1.4),
    ("that's great", 2.6),
    ("that's perfect", 2.6),
    ("sounds good", 1.8),
    ("very helpful", 2.4),
    ("well done", 2.0),
    ("no problem", 0.6),
    ("no worries", 0.8),
    ("not bad", 1.2),
    ("not too bad", 1.2),
    ("top notch", 2.4),
    ("must see", 2.0),
    ("well made", 1.8),
    ("fell asleep", -1.6),
    ("walked out", -1.6),
];

/// First word → (the phrase's words, valence), longest first.
type PhraseIndex = FxMap<&'static str, Vec<(Vec<&'static str>, f32)>>;

static PHRASE_INDEX: LazyLock<PhraseIndex> = LazyLock::new(|| {
    let mut m: PhraseIndex = FxMap::default();
    for &(p, v) in PHRASES {
        let words: Vec<&'static str> = p.split(' ').collect();
        m.entry(words[0]).or_default().push((words, v));
    }
    for list in m.values_mut() {
        list.sort_by_key(|(w, _)| std::cmp::Reverse(w.len()));
    }
    m
});

const NEGATIONS: &[&str] = &[
    "not",
    "no",
    "never",
    "none",
    "nothing",
    "nowhere",
    "neither",
    "nor",
    "nobody",
    "without",
    "cannot",
    "don't",
    "doesn't",
    "didn't",
    "isn't",
    "aren't",
    "wasn't",
    "weren't",
    "can't",
    "couldn't",
    "won't",
    "wouldn't",
    "shouldn't",
    "haven't",
    "hasn't",
    "hadn't",
    "mustn't",
    "needn't",
    "ain't",
    "dont",
    "doesnt",
    "didnt",
    "isnt",
    "arent",
    "wasnt",
    "werent",
    "cant",
    "couldnt",
    "wont",
    "wouldnt",
    "shouldnt",
    "havent",
    "hasnt",
    "hadnt",
    "aint",
    "rarely",
    "seldom",
    "despite",
    "hardly",
    "barely",
    "scarcely",
];

static NEGATION_SET: LazyLock<FxMap<&'static str, ()>> = LazyLock::new(|| NEGATIONS.iter().map(|w| (*w, ())).collect());

fn is_negation(w: &str) -> bool {
    NEGATION_SET.contains_key(w) || w.ends_with("n't")
}

static BOOSTERS: LazyLock<FxMap<&'static str, f32>> = LazyLock::new(|| {
    let words = [
        "absolutely",
        "amazingly",
        "awfully",
        "completely",
        "considerably",
        "decidedly",
        "deeply",
        "enormously",
        "entirely",
        "especially",
        "exceptionally",
        "extremely",
        "fabulously",
        "fully",
        "greatly",
        "highly",
        "hugely",
        "incredibly",
        "intensely",
        "majorly",
        "particularly",
        "purely",
        "really",
        "remarkably",
        "so",
        "substantially",
        "thoroughly",
        "totally",
        "tremendously",
        "unbelievably",
        "unusually",
        "utterly",
        "very",
        "super",
        "truly",
        "seriously",
        "ridiculously",
        "insanely",
        "fucking",
        "freaking",
        "damn",
        "almost",
        "kinda",
        "less",
        "little",
        "marginally",
        "occasionally",
        "partly",
        "slightly",
        "somewhat",
        "sorta",
    ];
    words.iter().map(|w| (*w, booster_value(w))).collect()
});

fn booster(w: &str) -> f32 {
    BOOSTERS.get(w).copied().unwrap_or(0.0)
}

fn booster_value(w: &str) -> f32 {
    const UP: f32 = 0.293;
    match w {
        "absolutely" | "amazingly" | "awfully" | "completely" | "considerably" | "decidedly" | "deeply" | "enormously" | "entirely"
        | "especially" | "exceptionally" | "extremely" | "fabulously" | "fully" | "greatly" | "highly" | "hugely" | "incredibly"
        | "intensely" | "majorly" | "particularly" | "purely" | "really" | "remarkably" | "so" | "substantially" | "thoroughly"
        | "totally" | "tremendously" | "unbelievably" | "unusually" | "utterly" | "very" | "super" | "truly" | "seriously"
        | "ridiculously" | "insanely" | "fucking" | "freaking" | "damn" => UP,
        "almost" | "kinda" | "less" | "little" | "marginally" | "occasionally" | "partly" | "slightly" | "somewhat" | "sorta" => -UP,
        _ => 0.0,
    }
}

/// One scored item: token range and its final valence.
struct Hit {
    /// Token range (for "but"), and byte span (for evidence).
    first: usize,
    last: usize,
    start: usize,
    end: usize,
    valence: f32,
}

/// Emoticons of VADER's lexicon (":)", ":-(", "<3", ":D").
static EMOTICONS: LazyLock<FxMap<&'static str, f32>> = LazyLock::new(|| {
    vader_sentiment::LEXICON
        .iter()
        .filter_map(|(k, v)| {
            let w: &'static str = std::ops::Deref::deref(k);
            (w.len() <= 6
                && w.bytes().any(|b| b.is_ascii_punctuation())
                && !w.bytes().all(|b| b.is_ascii_alphabetic() || b == b'\'' || b == b'-'))
            .then_some((w, *v as f32))
        })
        .collect()
});

/// "like" is a feeling after "I", "we", "really" … ("I like it"), and a
/// filler or a comparison elsewhere ("like, ten times", "looks like").
fn like_is_feeling(toks: &[Token], i: usize) -> bool {
    let before = i.checked_sub(1).map(|p| toks[p].lower.as_str());
    let after = toks.get(i + 1).map(|t| t.lower.as_str());
    matches!(
        before,
        Some(
            "i" | "we"
                | "they"
                | "you"
                | "really"
                | "also"
                | "definitely"
                | "totally"
                | "just"
                | "do"
                | "don't"
                | "didn't"
                | "dont"
                | "didnt"
                | "did"
                | "still"
                | "not"
                | "ll"
                | "will"
        )
    ) && after != Some("to")
}

/// Scores one text.
pub fn score_text(text: &str, segment: usize) -> TextSentiment {
    let toks = tokens(text);
    score_tokens(text, &toks, segment)
}

/// Scores a text already split into tokens.
pub fn score_tokens(text: &str, toks: &[Token], segment: usize) -> TextSentiment {
    let lexicon = &*LEXICON;
    let phrases = &*PHRASE_INDEX;
    let mixed_case = toks.iter().any(|t| !t.caps && t.lower.chars().any(char::is_alphabetic));
    let mut hits: Vec<Hit> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let w = toks[i].lower.as_str();
        let mut span = 1;
        let mut v = 0.0f32;
        if let Some(cands) = phrases.get(w) {
            for (words, pv) in cands {
                let n = words.len();
                if i + n <= toks.len() && (1..n).all(|k| toks[i + k].lower == words[k] && !toks[i + k].break_before) {
                    span = n;
                    v = *pv;
                    break;
                }
            }
        }
        if span == 1 {
            if booster(w) != 0.0 {
                i += 1;
                continue;
            }
            v = if w == "like" {
                if like_is_feeling(toks, i) { 2.0 } else { 0.0 }
            } else {
                lexicon.get(w).copied().unwrap_or(0.0)
            };
        }
        if v == 0.0 {
            i += span;
            continue;
        }
        if span == 1 && toks[i].caps && mixed_case {
            v += 0.733 * v.signum();
        }
        // Look back up to three words, never across a clause break.
        let mut first = i;
        let mut negated = false;
        for back in 1..=3usize {
            if i < back || toks[i - back + 1].break_before {
                break;
            }
            let p = toks[i - back].lower.as_str();
            if p == "but" {
                break;
            }
            let b = booster(p);
            if b != 0.0 {
                let scale = [1.0, 0.95, 0.9][back - 1];
                let mut b = b * scale * v.signum();
                if toks[i - back].caps && mixed_case {
                    b += 0.733 * v.signum() * if b < 0.0 { -1.0 } else { 1.0 };
                }
                v += b;
            }
            if is_negation(p) {
                negated = !negated;
                first = i - back;
            }
        }
        // "no problem", "not bad" are phrases already; other negations flip and damp.
        if negated {
            v *= -0.74;
        }
        hits.push(Hit {
            first,
            last: i + span - 1,
            start: toks[first].start,
            end: toks[i + span - 1].end,
            valence: v,
        });
        i += span;
    }
    apply_but(toks, &mut hits);
    if text.bytes().any(|b| matches!(b, b':' | b';' | b'=' | b'<')) {
        let emoticons = &*EMOTICONS;
        let base = text.as_ptr() as usize;
        for piece in text.split_whitespace() {
            let piece = piece.trim_end_matches([',', '.', '!', '?']);
            if let Some(v) = emoticons.get(piece) {
                let start = piece.as_ptr() as usize - base;
                hits.push(Hit {
                    first: 0,
                    last: 0,
                    start,
                    end: start + piece.len(),
                    valence: *v,
                });
            }
        }
    }
    let sum: f32 = hits.iter().map(|h| h.valence).sum();
    let positive: f32 = hits.iter().filter(|h| h.valence > 0.0).map(|h| h.valence).sum();
    let negative: f32 = -hits.iter().filter(|h| h.valence < 0.0).map(|h| h.valence).sum::<f32>();
    let mut total = sum;
    if total != 0.0 {
        total += punctuation_emphasis(text) * total.signum();
    }
    let score = if total == 0.0 {
        0.0
    } else {
        (total / (total * total + 15.0).sqrt()).clamp(-1.0, 1.0)
    } as f64;
    let score = (score * 10_000.0).round() / 10_000.0;
    let strong = positive.min(negative);
    let label = if strong >= 1.2 && strong >= 0.45 * positive.max(negative) && score.abs() < 0.5 {
        Label::Mixed
    } else if score >= 0.05 {
        Label::Positive
    } else if score <= -0.05 {
        Label::Negative
    } else {
        Label::Neutral
    };
    hits.sort_by(|a, b| b.valence.abs().total_cmp(&a.valence.abs()));
    let evidence = hits
        .iter()
        .filter(|h| h.valence.abs() >= 0.5)
        .take(3)
        .map(|h| Evidence::from_bytes(segment, text, h.start, h.end))
        .collect();
    TextSentiment {
        label,
        score,
        positive: positive as f64,
        negative: negative as f64,
        evidence,
    }
}

/// Within each sentence, words before "but" count half and words after
/// it half as much again (VADER's rule, kept to the sentence).
fn apply_but(toks: &[Token], hits: &mut [Hit]) {
    let mut sentence_start = 0;
    for (i, t) in toks.iter().enumerate() {
        if t.break_before && i > 0 {
            sentence_start = i;
        }
        if t.lower == "but" && i > sentence_start {
            let sentence_end = toks[i + 1..].iter().position(|t| t.break_before).map_or(toks.len(), |p| i + 1 + p);
            for h in hits.iter_mut() {
                if h.last < i && h.first >= sentence_start {
                    h.valence *= 0.5;
                } else if h.first > i && h.last < sentence_end {
                    h.valence *= 1.5;
                }
            }
        }
    }
}

fn punctuation_emphasis(text: &str) -> f32 {
    let bangs = text.bytes().filter(|&b| b == b'!').count().min(4) as f32;
    let qs = text.bytes().filter(|&b| b == b'?').count();
    let q = if qs > 1 { (qs as f32 * 0.18).min(0.96) } else { 0.0 };
    bangs * 0.292 + q
}

fn label_of(score: f64) -> Label {
    if score >= 0.05 {
        Label::Positive
    } else if score <= -0.05 {
        Label::Negative
    } else {
        Label::Neutral
    }
}

fn weighted(items: &[(f64, f64)]) -> Option<f64> {
    let w: f64 = items.iter().map(|(_, w)| w).sum();
    (w > 0.0).then(|| (items.iter().map(|(s, w)| s * w).sum::<f64>() / w * 10_000.0).round() / 10_000.0)
}

/// The sentiment of a call from its segments' sentiments; `words[i]` is
/// the word count of segment `i`.
pub fn aggregate(words: &[usize], scored: Vec<SegmentSentiment>) -> CallSentiment {
    // Each segment weighs by the log of its length; segments with no
    // sentiment words do not dilute the rest.
    let weight = |s: &SegmentSentiment| (1.0 + words.get(s.segment).copied().unwrap_or(1) as f64).ln();
    let carrying: Vec<&SegmentSentiment> = scored.iter().filter(|s| s.score != 0.0).collect();
    let all: Vec<(f64, f64)> = carrying.iter().map(|s| (s.score, weight(s))).collect();
    let score = weighted(&all).unwrap_or(0.0);
    let speaker_score = |who: Speaker| {
        let items: Vec<(f64, f64)> = carrying
            .iter()
            .filter(|s| s.speaker == Some(who))
            .map(|s| (s.score, weight(s)))
            .collect();
        let spoke = scored.iter().any(|s| s.speaker == Some(who));
        spoke.then(|| {
            let score = weighted(&items).unwrap_or(0.0);
            Score {
                label: label_of(score),
                score,
            }
        })
    };
    let strong_pos = carrying.iter().any(|s| s.score >= 0.5);
    let strong_neg = carrying.iter().any(|s| s.score <= -0.5);
    let label = if strong_pos && strong_neg && score.abs() < 0.3 {
        Label::Mixed
    } else {
        label_of(score)
    };
    let customer: Vec<&&SegmentSentiment> = carrying.iter().filter(|s| s.speaker == Some(Speaker::Customer)).collect();
    let basis: Vec<&SegmentSentiment> = if customer.is_empty() {
        carrying.clone()
    } else {
        customer.into_iter().copied().collect()
    };
    let third = basis.len().div_ceil(3);
    let part = |items: &[&SegmentSentiment]| weighted(&items.iter().map(|s| (s.score, weight(s))).collect::<Vec<_>>()).unwrap_or(0.0);
    let (start, end) = if basis.is_empty() {
        (0.0, 0.0)
    } else {
        (part(&basis[..third]), part(&basis[basis.len() - third..]))
    };
    let direction = if end - start > 0.2 {
        Direction::Improving
    } else if start - end > 0.2 {
        Direction::Worsening
    } else {
        Direction::Steady
    };
    let most_negative = scored
        .iter()
        .filter(|s| s.score <= -0.05)
        .min_by(|a, b| a.score.total_cmp(&b.score))
        .map(|s| Moment {
            segment: s.segment,
            speaker: s.speaker,
            score: s.score,
            evidence: s.evidence.clone(),
        });
    CallSentiment {
        label,
        score,
        by_speaker: BySpeaker {
            agent: speaker_score(Speaker::Agent),
            customer: speaker_score(Speaker::Customer),
        },
        segments: scored,
        trend: Trend { start, end, direction },
        most_negative,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::transcript::Segment;

    fn s(t: &str) -> TextSentiment {
        score_text(t, 0)
    }

    #[test]
    fn polarity_of_plain_sentences() {
        assert_eq!(s("This is great, thank you so much!").label, Label::Positive);
        assert_eq!(s("This is terrible and I am angry.").label, Label::Negative);
        assert_eq!(s("My account number ends in four.").label, Label::Neutral);
    }

    #[test]
    fn negation_flips_the_sign() {
        let plain = s("I am happy with the service").score;
        let negated = s("I am not happy with the service").score;
        assert!(plain > 0.3 && negated < -0.2, "{plain} {negated}");
        // but not across a clause break
        assert!(s("No, I am happy with it").score > 0.3);
    }

    proptest::proptest! {
        #[test]
        fn negation_flips_the_sign_of_any_feeling(
            word in proptest::sample::select(vec![
                "happy", "good", "great", "helpful", "satisfied", "pleased", "fair", "sad", "angry", "bad", "terrible", "upset", "useful",
                "nice", "awful", "wonderful", "worried", "fine", "reasonable", "annoyed",
            ]),
            negation in proptest::sample::select(vec!["not", "never", "isn't", "wasn't", "don't feel", "hardly ever"]),
            subject in proptest::sample::select(vec!["I am", "The agent was", "It is", "The call was"]),
        ) {
            let plain = s(&format!("{subject} {word}")).score;
            let negated = s(&format!("{subject} {negation} {word}")).score;
            proptest::prop_assert!(plain != 0.0, "{} has no valence", word);
            proptest::prop_assert!(plain.signum() != negated.signum() && negated != 0.0, "{} {} -> {} / {}", subject, word, plain, negated);
        }
    }

    #[test]
    fn intensifiers_and_caps_strengthen() {
        let base = s("The agent was helpful").score;
        assert!(s("The agent was very helpful").score > base);
        assert!(s("The agent was HELPFUL").score > base);
        assert!(s("The agent was helpful!!!").score > base);
    }

    #[test]
    fn but_shifts_weight_to_its_clause() {
        let t = s("The agent was nice but the wait was horrible");
        assert!(t.score < 0.0, "{}", t.score);
        let t = s("The wait was horrible but the agent was wonderful");
        assert!(t.score > 0.0, "{}", t.score);
    }

    #[test]
    fn call_centre_phrases_count() {
        let t = s("I want to cancel my account and speak to a manager");
        assert_eq!(t.label, Label::Negative);
        assert_eq!(t.evidence[0].text, "cancel my account");
        assert!(s("It doesn't work").score < -0.2);
        assert!(s("That's great").score > 0.3);
    }

    #[test]
    fn strong_praise_and_blame_is_mixed() {
        assert_eq!(
            s("The agent was wonderful but the product is a terrible waste of money").label,
            Label::Negative
        );
        assert_eq!(s("I love the new phone. I hate the awful billing.").label, Label::Mixed);
    }

    #[test]
    fn evidence_points_at_the_words() {
        let t = "Well… I'm NOT happy at all, it’s awful";
        let r = s(t);
        assert!(!r.evidence.is_empty());
        for e in &r.evidence {
            assert_eq!(e.slice(t), Some(e.text.as_str()));
        }
        assert!(r.evidence.iter().any(|e| e.text == "NOT happy"));
    }

    #[test]
    fn call_aggregate_trend_and_most_negative() {
        let segs = [
            Segment::new(Speaker::Customer, "This is awful, I am furious.", 0, 1),
            Segment::new(Speaker::Agent, "I am sorry, let me fix that.", 1, 2),
            Segment::new(Speaker::Customer, "Okay.", 2, 3),
            Segment::new(Speaker::Customer, "Thank you so much, that's great!", 3, 4),
        ];
        let scored = segs
            .iter()
            .enumerate()
            .map(|(i, sg)| {
                let t = score_text(&sg.text, i);
                SegmentSentiment {
                    segment: i,
                    speaker: Some(sg.speaker),
                    label: t.label,
                    score: t.score,
                    evidence: t.evidence,
                }
            })
            .collect();
        let words: Vec<usize> = segs.iter().map(|s| s.text.split_whitespace().count()).collect();
        let c = aggregate(&words, scored);
        assert_eq!(c.trend.direction, Direction::Improving);
        assert_eq!(c.most_negative.as_ref().map(|m| m.segment), Some(0));
        assert!(c.by_speaker.customer.is_some() && c.by_speaker.agent.is_some());
    }
}
