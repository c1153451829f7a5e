//! Key phrases (RAKE: runs of content words between stop words and
//! punctuation, scored by word degree over frequency) and topics: the
//! organisation's topic → keywords sets, our built-in call-centre topics,
//! and automatic ones from the strongest key phrases.

use serde::{Deserialize, Serialize};

use crate::error::IntelligenceError;
use crate::text::{Evidence, FxMap, Token, is_stop_word, is_tag};

/// A key phrase of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Keyword {
    /// Lowercase phrase.
    pub text: String,
    pub score: f64,
    /// How often it was said.
    pub count: usize,
    /// Its first occurrence.
    pub evidence: Evidence,
}

/// A segment's text and tokens, as the analyses share them.
pub struct SegTokens<'a> {
    pub segment: usize,
    pub text: &'a str,
    pub toks: &'a [Token],
}

const MAX_PHRASE_WORDS: usize = 4;

fn is_content(text: &str, t: &Token) -> bool {
    !t.numeric && !is_tag(text, t) && t.lower.chars().count() >= 2 && !is_stop_word(&t.lower) && t.lower.chars().any(char::is_alphabetic)
}

/// The `max` strongest key phrases.
pub fn keywords(doc: &[SegTokens<'_>], max: usize) -> Vec<Keyword> {
    // Candidate phrases: (segment idx in doc, first token, last token).
    let mut phrases: Vec<(usize, usize, usize)> = Vec::new();
    for (d, s) in doc.iter().enumerate() {
        let mut start: Option<usize> = None;
        for (i, t) in s.toks.iter().enumerate() {
            let cont = is_content(s.text, t);
            if let Some(st) = start
                && (!cont || t.break_before || i - st >= MAX_PHRASE_WORDS)
            {
                phrases.push((d, st, i - 1));
                start = None;
            }
            if cont && start.is_none() {
                start = Some(i);
            }
        }
        if let Some(st) = start {
            phrases.push((d, st, s.toks.len() - 1));
        }
    }
    // Word degree and frequency.
    let mut freq: FxMap<&str, f64> = FxMap::default();
    let mut degree: FxMap<&str, f64> = FxMap::default();
    for &(d, a, b) in &phrases {
        let len = (b - a + 1) as f64;
        for t in &doc[d].toks[a..=b] {
            *freq.entry(t.lower.as_str()).or_insert(0.0) += 1.0;
            *degree.entry(t.lower.as_str()).or_insert(0.0) += len;
        }
    }
    let mut agg: FxMap<String, Keyword> = FxMap::default();
    for &(d, a, b) in &phrases {
        let toks = &doc[d].toks[a..=b];
        let score: f64 = toks.iter().map(|t| degree[t.lower.as_str()] / freq[t.lower.as_str()]).sum();
        let key = toks.iter().map(|t| t.lower.as_str()).collect::<Vec<_>>().join(" ");
        if key.len() < 3 {
            continue;
        }
        agg.entry(key.clone()).and_modify(|k| k.count += 1).or_insert_with(|| Keyword {
            text: key,
            score,
            count: 1,
            evidence: Evidence::from_bytes(doc[d].segment, doc[d].text, toks[0].start, toks[toks.len() - 1].end),
        });
    }
    let mut out: Vec<Keyword> = agg.into_values().collect();
    for k in &mut out {
        k.score = ((k.score * (k.count as f64).sqrt()) * 1000.0).round() / 1000.0;
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.count.cmp(&a.count)).then(a.text.cmp(&b.text)));
    out.truncate(max);
    out
}

/// An organisation's topic: a name and the keywords that reveal it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicSet {
    pub name: String,
    pub keywords: Vec<String>,
}

/// Where a topic came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TopicSource {
    /// The organisation's topic sets.
    Org,
    /// Our call-centre topics.
    Builtin,
    /// A strong key phrase no topic set covers.
    Auto,
}

/// A topic the call touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Topic {
    pub name: String,
    pub source: TopicSource,
    /// Keyword mentions found.
    pub mentions: usize,
    /// The first few mentions.
    pub evidence: Vec<Evidence>,
}

const BUILTIN_TOPICS: &[(&str, &[&str])] = &[
    (
        "billing",
        &[
            "bill",
            "billing",
            "invoice",
            "charge",
            "charged",
            "statement",
            "fee",
            "balance",
            "overcharged",
        ],
    ),
    (
        "payment",
        &[
            "pay",
            "payment",
            "paid",
            "installment",
            "instalment",
            "card",
            "due date",
            "debit",
            "owe",
        ],
    ),
    (
        "technical issue",
        &[
            "not working",
            "error",
            "crash",
            "internet",
            "wifi",
            "router",
            "modem",
            "signal",
            "reset",
            "connection",
            "outage",
        ],
    ),
    (
        "cancellation",
        &[
            "cancel",
            "cancellation",
            "terminate",
            "close my account",
            "end my contract",
            "switching",
        ],
    ),
    (
        "delivery",
        &[
            "delivery", "deliver", "shipping", "shipped", "package", "tracking", "courier", "arrive",
        ],
    ),
    (
        "account access",
        &["password", "log in", "login", "locked out", "username", "verification code"],
    ),
    (
        "sales offer",
        &["offer", "discount", "promotion", "upgrade", "plan", "price", "deal", "trial"],
    ),
    (
        "complaint",
        &["complaint", "unacceptable", "terrible", "worst", "manager", "supervisor", "rude"],
    ),
    (
        "appointment",
        &["appointment", "schedule", "reschedule", "booking", "technician", "visit"],
    ),
    ("refund", &["refund", "money back", "reimburse", "credit back"]),
];

/// Limits on an organisation's topic sets.
pub const MAX_TOPICS: usize = 200;
pub const MAX_TOPIC_KEYWORDS: usize = 200;

/// Checks an organisation's topic sets, naming the field at fault.
pub fn validate_topics(topics: &[TopicSet]) -> Result<(), IntelligenceError> {
    if topics.len() > MAX_TOPICS {
        return Err(IntelligenceError::invalid("topics", format!("at most {MAX_TOPICS} topics")));
    }
    for (i, t) in topics.iter().enumerate() {
        if t.name.trim().is_empty() || t.name.chars().count() > 64 {
            return Err(IntelligenceError::invalid(
                format!("topics[{i}].name"),
                "must be 1 to 64 characters",
            ));
        }
        if t.keywords.is_empty() || t.keywords.len() > MAX_TOPIC_KEYWORDS {
            return Err(IntelligenceError::invalid(
                format!("topics[{i}].keywords"),
                format!("topic '{}' needs 1 to {MAX_TOPIC_KEYWORDS} keywords", t.name.trim()),
            ));
        }
        if let Some(j) = t.keywords.iter().position(|k| k.split_whitespace().next().is_none()) {
            return Err(IntelligenceError::invalid(
                format!("topics[{i}].keywords[{j}]"),
                "must not be empty",
            ));
        }
    }
    Ok(())
}

/// Keyword lists of topics, indexed by their first word for one pass over the tokens.
struct TopicIndex<'k> {
    /// Per topic: its keywords, each a list of lowercase words.
    keywords: Vec<Vec<Vec<&'k str>>>,
    /// First word → (topic, keyword).
    first: FxMap<&'k str, Vec<(usize, usize)>>,
}

impl<'k> TopicIndex<'k> {
    fn new(topics: Vec<Vec<Vec<&'k str>>>) -> Self {
        let mut first: FxMap<&'k str, Vec<(usize, usize)>> = FxMap::default();
        for (t, kws) in topics.iter().enumerate() {
            for (k, words) in kws.iter().enumerate() {
                if let Some(w) = words.first() {
                    first.entry(*w).or_default().push((t, k));
                }
            }
        }
        Self { keywords: topics, first }
    }

    /// Mentions per topic: count and the first three as evidence.
    fn mentions(&self, doc: &[SegTokens<'_>]) -> Vec<(usize, Vec<Evidence>)> {
        let mut out: Vec<(usize, Vec<Evidence>)> = vec![(0, Vec::new()); self.keywords.len()];
        for s in doc {
            let toks = s.toks;
            for i in 0..toks.len() {
                if is_tag(s.text, &toks[i]) {
                    continue;
                }
                let w = toks[i].lower.as_str();
                // The word itself, or the word less a short ending (refunds → refund).
                let mut seen_topic: Vec<usize> = Vec::new();
                for cut in 0..=3usize {
                    if cut > 0 && (w.len() < cut + 4 || !w.is_char_boundary(w.len() - cut)) {
                        break;
                    }
                    let Some(cands) = self.first.get(&w[..w.len() - cut]) else {
                        continue;
                    };
                    for &(t, k) in cands {
                        let words = &self.keywords[t][k];
                        if seen_topic.contains(&t) || i + words.len() > toks.len() {
                            continue;
                        }
                        if words.iter().enumerate().skip(1).all(|(j, kw)| word_matches(&toks[i + j].lower, kw)) {
                            seen_topic.push(t);
                            out[t].0 += 1;
                            if out[t].1.len() < 3 {
                                out[t].1.push(Evidence::from_bytes(
                                    s.segment,
                                    s.text,
                                    toks[i].start,
                                    toks[i + words.len() - 1].end,
                                ));
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// Does token `t` say keyword word `k` (exactly, or with a short ending: refund → refunds, refunded)?
fn word_matches(t: &str, k: &str) -> bool {
    t == k || (k.len() >= 4 && t.starts_with(k) && t.len() - k.len() <= 3)
}

fn as_strs(v: &[Vec<String>]) -> Vec<Vec<&str>> {
    v.iter().map(|k| k.iter().map(String::as_str).collect()).collect()
}

static BUILTIN_INDEX: std::sync::LazyLock<Vec<Vec<Vec<String>>>> = std::sync::LazyLock::new(|| {
    BUILTIN_TOPICS
        .iter()
        .map(|(_, kws)| kws.iter().map(|k| k.split_whitespace().map(str::to_owned).collect()).collect())
        .collect()
});

/// The topics of a transcript: the organisation's sets, the built-in
/// ones, then up to `auto` key phrases that no topic covers.
pub fn topics(doc: &[SegTokens<'_>], org: &[TopicSet], keywords: &[Keyword], auto: usize) -> Vec<Topic> {
    let org_words: Vec<Vec<Vec<String>>> = org
        .iter()
        .map(|t| {
            t.keywords
                .iter()
                .map(|k| k.to_lowercase().split_whitespace().map(str::to_owned).collect())
                .collect()
        })
        .collect();
    let mut all: Vec<Vec<Vec<&str>>> = org_words.iter().map(|v| as_strs(v)).collect();
    all.extend(BUILTIN_INDEX.iter().map(|v| as_strs(v)));
    let found = TopicIndex::new(all).mentions(doc);
    let mut out = Vec::new();
    for (i, (n, evidence)) in found.into_iter().enumerate() {
        if n == 0 {
            continue;
        }
        let (name, source) = if i < org.len() {
            (org[i].name.trim().to_owned(), TopicSource::Org)
        } else {
            (BUILTIN_TOPICS[i - org.len()].0.to_owned(), TopicSource::Builtin)
        };
        if source == TopicSource::Builtin && out.iter().any(|t: &Topic| t.name.eq_ignore_ascii_case(&name)) {
            continue;
        }
        out.push(Topic {
            name,
            source,
            mentions: n,
            evidence,
        });
    }
    out.sort_by(|a, b| b.mentions.cmp(&a.mentions).then(a.name.cmp(&b.name)));
    let covered = |k: &Keyword, out: &[Topic]| {
        out.iter().any(|t| {
            t.evidence
                .iter()
                .any(|e| e.segment == k.evidence.segment && e.start < k.evidence.end && k.evidence.start < e.end)
        })
    };
    let mut added = 0;
    for k in keywords {
        if added >= auto {
            break;
        }
        // Said at least twice, and more than a name: an automatic topic.
        if k.text.contains(' ') && k.count >= 2 && !covered(k, &out) {
            out.push(Topic {
                name: k.text.clone(),
                source: TopicSource::Auto,
                mentions: k.count,
                evidence: vec![k.evidence.clone()],
            });
            added += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokens;

    fn doc(texts: &[&'static str]) -> Vec<(usize, &'static str, Vec<Token>)> {
        texts.iter().enumerate().map(|(i, t)| (i, *t, tokens(t))).collect()
    }

    #[test]
    fn rake_finds_multiword_phrases() {
        let d = doc(&[
            "My internet connection keeps dropping every evening.",
            "The internet connection dropped again and the router lights blink.",
            "Can you send a technician to check the router?",
        ]);
        let st: Vec<SegTokens<'_>> = d
            .iter()
            .map(|(i, t, k)| SegTokens {
                segment: *i,
                text: t,
                toks: k,
            })
            .collect();
        let k = keywords(&st, 5);
        assert!(k[0].text.starts_with("internet connection"), "{k:?}");
        for kw in &k {
            assert_eq!(
                kw.evidence.slice(d[kw.evidence.segment].1).map(str::to_lowercase),
                Some(kw.text.clone())
            );
        }
        let t = topics(
            &st,
            &[TopicSet {
                name: "Field visits".into(),
                keywords: vec!["technician".into(), "engineer".into()],
            }],
            &k,
            2,
        );
        assert_eq!(t[0].name, "technical issue", "{t:?}");
        assert!(
            t.iter()
                .any(|t| t.name == "Field visits" && t.source == TopicSource::Org && t.mentions == 1)
        );
    }

    #[test]
    fn topic_sets_are_validated() {
        let e = validate_topics(&[TopicSet {
            name: "x".into(),
            keywords: vec![],
        }])
        .unwrap_err();
        assert_eq!(e.field(), "topics[0].keywords");
        let e = validate_topics(&[TopicSet {
            name: "x".into(),
            keywords: vec!["a".into(), "  ".into()],
        }])
        .unwrap_err();
        assert_eq!(e.field(), "topics[0].keywords[1]");
    }
}
