//! Intent: which of the built-in call-centre intents (or an
//! organisation's own) an utterance expresses, with a calibrated
//! confidence and `unknown` when nothing fits well enough.
//!
//! A nearest-example classifier: every example phrase becomes a TF-IDF
//! vector over words, word pairs and character trigrams inside words
//! (so "cancelling" still meets "cancel"); an utterance takes the intent
//! of its most similar example (cosine). Off-topic small talk is a class
//! of its own (`unknown`), so "hello, who is this" finds its match there
//! rather than a wrong intent. The confidence is a logistic function of
//! the best similarity and its margin over the next intent, fitted when
//! the model is built on leave-one-out predictions over its own examples:
//! an answer given with confidence 0.8 was right about 80 % of the time
//! there. Below the threshold (0.5 by default) the answer is `unknown`.

use std::hash::Hasher as _;
use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};

use crate::error::IntelligenceError;
use crate::text::{Evidence, FxHasher, FxMap, Token, tokens};

/// The built-in intents, in a stable order.
pub const BUILTIN_INTENTS: &[&str] = &[
    "interested",
    "not_interested",
    "callback_request",
    "transfer_request",
    "wrong_number",
    "do_not_call",
    "payment_promise",
    "complaint",
    "billing_question",
    "technical_support",
    "cancel_service",
    "voicemail_greeting",
];

/// When one utterance or call expresses several intents, the one acted
/// on comes first: a do-not-call request outranks the complaint around it.
/// An organisation's own intents rank after the built-in actionable ones
/// and before the informational ones.
const PRIORITY: &[&str] = &[
    "do_not_call",
    "wrong_number",
    "voicemail_greeting",
    "cancel_service",
    "transfer_request",
    "payment_promise",
    "callback_request",
    "not_interested",
    "interested",
    "billing_question",
    "technical_support",
    "complaint",
];

/// Rank of an intent when several are found (lower first).
pub fn priority(name: &str) -> usize {
    PRIORITY.iter().position(|p| *p == name).unwrap_or(PRIORITY.len() - 4)
}

/// The name of "no intent fits".
pub const UNKNOWN: &str = "unknown";

/// Most intents one model holds, examples per intent, characters per example.
pub const MAX_INTENTS: usize = 200;
pub const MAX_EXAMPLES: usize = 1_000;
pub const MAX_EXAMPLE_CHARS: usize = 500;

/// The labelled phrases the built-in model learns from (`train` rows) and
/// is evaluated on (`test` rows): `split<TAB>intent<TAB>text`.
pub const INTENTS_TSV: &str = include_str!("../data/intents.tsv");

/// Rows of [`INTENTS_TSV`]-shaped text: (split, intent, text).
pub fn read_tsv(tsv: &str) -> Vec<(&str, &str, &str)> {
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut it = l.splitn(3, '\t');
            Some((it.next()?, it.next()?, it.next()?))
        })
        .collect()
}

/// The training examples of the built-in intents, grouped by intent.
pub fn builtin_examples() -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (split, intent, text) in read_tsv(INTENTS_TSV) {
        if split != "train" {
            continue;
        }
        match out.iter_mut().find(|(n, _)| n == intent) {
            Some((_, ex)) => ex.push(text.to_owned()),
            None => out.push((intent.to_owned(), vec![text.to_owned()])),
        }
    }
    out
}

/// What an utterance wants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prediction {
    /// The intent, or `unknown`.
    pub name: String,
    /// Calibrated probability that `name` is right (for `unknown`: that
    /// none of the intents is).
    pub confidence: f64,
    /// The nearest example phrase and its intent, even when the answer is `unknown`.
    pub nearest: Option<Nearest>,
    /// Byte span of the words shared with the nearest example.
    #[serde(skip)]
    pub span: Option<(usize, usize)>,
}

/// The example an utterance was closest to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Nearest {
    pub intent: String,
    pub example: String,
    pub similarity: f64,
}

/// An intent found in a call: `{name, confidence, evidence}` plus the
/// nearest example, the slots the intent carries, and each segment's intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentResult {
    pub name: String,
    pub confidence: f64,
    pub evidence: Vec<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    #[serde(skip_serializing_if = "IntentSlots::is_empty", default)]
    pub slots: IntentSlots,
    /// Every segment's intent that is not `unknown` (call analyses only).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub segments: Vec<SegmentIntent>,
}

/// One segment's intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentIntent {
    pub segment: usize,
    pub name: String,
    pub confidence: f64,
}

/// What some intents carry: the time a callback was asked for, the amount
/// and date of a promised payment (normalised as entities are).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentSlots {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<crate::entities::Entity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<crate::entities::Entity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<crate::entities::Entity>,
}

impl IntentSlots {
    pub fn is_empty(&self) -> bool {
        self.time.is_none() && self.amount.is_none() && self.date.is_none()
    }
}

struct Example {
    class: u32,
    text: String,
    /// Feature hashes of its words (for evidence).
    words: Vec<u64>,
}

/// A trained intent classifier. Build once per intent set (an
/// organisation's intents change rarely) and share it.
pub struct IntentModel {
    names: Vec<String>,
    unknown: u32,
    examples: Vec<Example>,
    /// Examples per class.
    class_sizes: Vec<u32>,
    /// Feature → its idf and its posting list (example, weight).
    index: FxMap<u64, (f32, Vec<(u32, f32)>)>,
    /// Logistic calibration: weights of similarity, margin, and bias.
    calibration: [f64; 3],
    threshold: f64,
}

impl std::fmt::Debug for IntentModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntentModel")
            .field("intents", &self.names)
            .field("examples", &self.examples.len())
            .field("calibration", &self.calibration)
            .field("threshold", &self.threshold)
            .finish()
    }
}

static BUILTIN: LazyLock<Arc<IntentModel>> =
    LazyLock::new(|| Arc::new(IntentModel::from_examples(builtin_examples()).expect("the built-in intent set is valid")));

// Feature weights and the weight of a class's second-nearest example,
// chosen on leave-one-out accuracy over the training rows (never the held-out ones).
const W_WORD: f32 = 1.0;
const W_PAIR: f32 = 1.0;
const W_GRAM: f32 = 0.5;
const SECOND: f32 = 0.6;

fn feature(kind: u8, a: &str, b: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write_u8(kind);
    h.write(a.as_bytes());
    h.write_u8(0xff);
    h.write(b.as_bytes());
    h.finish()
}

/// Features of each token: its word, the pair with the next token, and
/// its character trigrams (with `^`/`$` marking the word's ends).
struct TokenFeatures {
    word: Vec<u64>,
    pair: Vec<u64>,
    /// Trigrams of token `i` are `grams[gram_at[i]..gram_at[i + 1]]`.
    grams: Vec<u64>,
    gram_at: Vec<usize>,
}

fn gram_hash(a: u8, b: u8, c: u8) -> u64 {
    let mut h = FxHasher::default();
    h.write_u8(3);
    h.write_u64(u64::from(a) << 16 | u64::from(b) << 8 | u64::from(c));
    h.finish()
}

fn token_features(toks: &[Token]) -> TokenFeatures {
    let mut f = TokenFeatures {
        word: Vec::with_capacity(toks.len()),
        pair: Vec::with_capacity(toks.len()),
        grams: Vec::with_capacity(toks.len() * 6),
        gram_at: Vec::with_capacity(toks.len() + 1),
    };
    for (i, t) in toks.iter().enumerate() {
        let w = t.lower.as_str();
        f.word.push(feature(1, w, ""));
        f.pair.push(toks.get(i + 1).map_or(0, |n| feature(2, w, &n.lower)));
        f.gram_at.push(f.grams.len());
        let b = w.as_bytes();
        if b.len() >= 3 && w.is_ascii() {
            let at = |k: usize| {
                if k == 0 {
                    b'^'
                } else if k == b.len() + 1 {
                    b'$'
                } else {
                    b[k - 1]
                }
            };
            for k in 0..b.len() {
                f.grams.push(gram_hash(at(k), at(k + 1), at(k + 2)));
            }
        }
    }
    f.gram_at.push(f.grams.len());
    f
}

/// Raw features of tokens `a..b`: (hash, weight).
fn span_features(f: &TokenFeatures, a: usize, b: usize, out: &mut Vec<(u64, f32)>) {
    out.clear();
    for i in a..b {
        out.push((f.word[i], W_WORD));
        if i + 1 < b {
            out.push((f.pair[i], W_PAIR));
        }
        out.extend(f.grams[f.gram_at[i]..f.gram_at[i + 1]].iter().map(|&g| (g, W_GRAM)));
    }
}

/// Sublinear term frequency, with the two usual counts precomputed.
fn tf(c: f32) -> f32 {
    if c == 1.0 {
        1.0 + std::f32::consts::LN_2
    } else if c == W_GRAM {
        1.405_465_1 // 1 + ln 1.5
    } else {
        1.0 + c.ln_1p()
    }
}

/// A sparse, L2-normalised TF-IDF vector over `raw` features: `key`
/// gives what to keep for a feature and its idf (None: a feature the
/// model does not keep).
fn vectorise<K>(raw: &mut [(u64, f32)], mut key: impl FnMut(u64) -> Option<(K, f32)>) -> Vec<(K, f32)> {
    raw.sort_unstable_by_key(|x| x.0);
    let mut v: Vec<(K, f32)> = Vec::with_capacity(raw.len());
    let mut k = 0;
    while k < raw.len() {
        let h = raw[k].0;
        let mut c = 0.0;
        while k < raw.len() && raw[k].0 == h {
            c += raw[k].1;
            k += 1;
        }
        if let Some((key, idf)) = key(h) {
            v.push((key, tf(c) * idf));
        }
    }
    let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|(_, x)| *x /= norm);
    }
    v
}

/// Buffers reused across the clauses of one utterance.
#[derive(Default)]
struct Scratch {
    raw: Vec<(u64, f32)>,
    scores: Scores,
}

/// Per-example similarities (kept all zero between uses) and which were touched.
#[derive(Default)]
struct Scores {
    per_example: Vec<f32>,
    touched: Vec<u32>,
}

/// A query vector: each kept feature's posting list and weight.
type Query<'m> = Vec<(&'m [(u32, f32)], f32)>;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl IntentModel {
    /// The built-in model (shared, built on first use).
    pub fn builtin() -> Arc<IntentModel> {
        BUILTIN.clone()
    }

    /// The built-in intents plus an organisation's own: `(name, examples)`.
    /// A custom intent named like a built-in one adds its examples to it.
    pub fn new(custom: Vec<(String, Vec<String>)>) -> Result<Self, IntelligenceError> {
        validate(&custom)?;
        let mut all = builtin_examples();
        for (name, ex) in custom {
            let name = name.trim().to_owned();
            match all.iter_mut().find(|(n, _)| *n == name) {
                Some((_, e)) => e.extend(ex),
                None => all.push((name, ex)),
            }
        }
        Self::from_examples(all)
    }

    /// A model of exactly these intents (`unknown` rows, if any, are the
    /// off-topic class).
    pub fn from_examples(defs: Vec<(String, Vec<String>)>) -> Result<Self, IntelligenceError> {
        validate(&defs)?;
        let mut names: Vec<String> = Vec::new();
        // (class, text, raw features, word features)
        type RawExample = (u32, String, Vec<(u64, f32)>, Vec<u64>);
        let mut raw: Vec<RawExample> = Vec::new();
        for (name, exs) in &defs {
            let name = name.trim().to_owned();
            let class = match names.iter().position(|n| *n == name) {
                Some(p) => p as u32,
                None => {
                    names.push(name);
                    (names.len() - 1) as u32
                }
            };
            for e in exs {
                let toks = tokens(e);
                let tf = token_features(&toks);
                let mut f = Vec::new();
                span_features(&tf, 0, toks.len(), &mut f);
                raw.push((class, e.trim().to_owned(), f, tf.word));
            }
        }
        let unknown = match names.iter().position(|n| n == UNKNOWN) {
            Some(p) => p as u32,
            None => {
                names.push(UNKNOWN.to_owned());
                (names.len() - 1) as u32
            }
        };
        // Document frequency → smoothed idf.
        let mut df: FxMap<u64, u32> = FxMap::default();
        for (_, _, f, _) in &raw {
            let mut seen: Vec<u64> = f.iter().map(|(h, _)| *h).collect();
            seen.sort_unstable();
            seen.dedup();
            for h in seen {
                *df.entry(h).or_insert(0) += 1;
            }
        }
        let n = raw.len() as f32;
        // Features found in more than one example in eight ("i", "to", "^th")
        // say little and make long posting lists: dropped (same leave-one-out
        // accuracy, a third less work per utterance).
        let idf: FxMap<u64, f32> = df
            .into_iter()
            .filter(|(_, d)| *d as f32 <= n / 8.0)
            .map(|(h, d)| (h, ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0))
            .collect();
        let mut index: FxMap<u64, (f32, Vec<(u32, f32)>)> = idf.iter().map(|(h, i)| (*h, (*i, Vec::new()))).collect();
        let mut examples = Vec::with_capacity(raw.len());
        for (idx, (class, text, mut f, words)) in raw.into_iter().enumerate() {
            for (h, w) in vectorise(&mut f, |h| idf.get(&h).map(|i| (h, *i))) {
                if let Some(e) = index.get_mut(&h) {
                    e.1.push((idx as u32, w));
                }
            }
            examples.push(Example { class, text, words });
        }
        let mut class_sizes = vec![0u32; names.len()];
        examples.iter().for_each(|e: &Example| class_sizes[e.class as usize] += 1);
        let mut model = Self {
            class_sizes,
            names,
            unknown,
            examples,
            index,
            calibration: [8.0, 8.0, -4.0],
            threshold: 0.5,
        };
        model.calibrate();
        Ok(model)
    }

    /// The same model answering `unknown` below `threshold` (0..1).
    pub fn with_threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold.clamp(0.0, 1.0);
        self
    }

    /// The intents this model knows (without `unknown`).
    pub fn intents(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u32 != self.unknown)
            .map(|(_, n)| n.as_str())
    }

    /// The query vector of raw features.
    fn query(&self, raw: &mut [(u64, f32)]) -> Query<'_> {
        vectorise(raw, |h| self.index.get(&h).map(|(idf, list)| (list.as_slice(), *idf)))
    }

    /// Per-class best similarity and best example, leaving out example
    /// `skip`; `per_example` is scratch space.
    fn scores(&self, q: &Query<'_>, skip: Option<usize>, scratch: &mut Scores) -> Vec<(f32, usize)> {
        let (per_example, touched) = (&mut scratch.per_example, &mut scratch.touched);
        if per_example.len() != self.examples.len() {
            per_example.clear();
            per_example.resize(self.examples.len(), 0.0);
        }
        touched.clear();
        for (list, w) in q {
            for &(e, ew) in *list {
                let p = &mut per_example[e as usize];
                if *p == 0.0 {
                    touched.push(e);
                }
                *p += w * ew;
            }
        }
        // A class's score mixes its nearest and second-nearest examples, so
        // one lucky neighbour counts less than two good ones. Examples the
        // query shares nothing with score 0 and are not visited.
        let mut best = vec![(0.0f32, usize::MAX); self.names.len()];
        let mut second = vec![0.0f32; self.names.len()];
        for &e in touched.iter() {
            let i = e as usize;
            let s = std::mem::replace(&mut per_example[i], 0.0);
            if Some(i) == skip {
                continue;
            }
            let c = self.examples[i].class as usize;
            if best[c].1 == usize::MAX || s > best[c].0 {
                if best[c].1 != usize::MAX {
                    second[c] = best[c].0;
                }
                best[c] = (s, i);
            } else if s > second[c] {
                second[c] = s;
            }
        }
        for (c, (b, s2)) in best.iter_mut().zip(second).enumerate() {
            if b.1 == usize::MAX {
                continue;
            }
            // A class with one example has no second: it counts as its first.
            let others = self.class_sizes[c] - u32::from(skip.is_some_and(|k| self.examples[k].class as usize == c));
            let s2 = if others <= 1 { b.0 } else { s2 };
            b.0 = (b.0 + SECOND * s2) / (1.0 + SECOND);
        }
        best
    }

    /// Top class, its similarity, and its margin over the next class.
    fn top(&self, best: &[(f32, usize)]) -> Option<(usize, f64, f64)> {
        let mut first: Option<usize> = None;
        let mut second = 0.0f32;
        for (c, &(s, e)) in best.iter().enumerate() {
            if e == usize::MAX {
                continue;
            }
            match first {
                Some(f) if s <= best[f].0 => second = second.max(s),
                Some(f) => {
                    second = second.max(best[f].0);
                    first = Some(c);
                }
                None => first = Some(c),
            }
        }
        let f = first?;
        Some((f, best[f].0 as f64, (best[f].0 - second) as f64))
    }

    /// Fits the logistic calibration on leave-one-out answers over the
    /// model's own examples.
    fn calibrate(&mut self) {
        let mut data: Vec<(f64, f64, f64)> = Vec::new();
        for (i, ex) in self.examples.iter().enumerate() {
            let toks = tokens(&ex.text);
            let tf = token_features(&toks);
            let mut raw = Vec::new();
            span_features(&tf, 0, toks.len(), &mut raw);
            let q = self.query(&mut raw);
            let best = self.scores(&q, Some(i), &mut Scores::default());
            let Some((c, s, m)) = self.top(&best) else { continue };
            if c as u32 == self.unknown {
                continue;
            }
            data.push((s, m, if c as u32 == ex.class { 1.0 } else { 0.0 }));
        }
        let positives = data.iter().filter(|d| d.2 > 0.5).count();
        if data.len() < 10 || positives == 0 || positives == data.len() {
            return; // too little to fit: keep the prior
        }
        // Newton's method on the log-loss with a little L2 (stable on separable data).
        let mut w = [0.0f64; 3];
        for _ in 0..50 {
            let mut g = [0.0f64; 3];
            let mut h = [[0.0f64; 3]; 3];
            for &(s, m, y) in &data {
                let x = [s, m, 1.0];
                let p = sigmoid(w[0] * x[0] + w[1] * x[1] + w[2]);
                for a in 0..3 {
                    g[a] += (p - y) * x[a];
                    for b in 0..3 {
                        h[a][b] += p * (1.0 - p) * x[a] * x[b];
                    }
                }
            }
            for a in 0..3 {
                g[a] += 0.01 * w[a];
                h[a][a] += 0.01;
            }
            let Some(step) = solve3(h, g) else { break };
            for a in 0..3 {
                w[a] -= step[a];
            }
            if step.iter().map(|x| x.abs()).sum::<f64>() < 1e-9 {
                break;
            }
        }
        self.calibration = w;
    }

    /// Leave-one-out over the model's own examples, thresholds applied:
    /// (right, total). For tuning without touching held-out data.
    pub fn leave_one_out(&self) -> (usize, usize) {
        let mut right = 0;
        for (i, ex) in self.examples.iter().enumerate() {
            let toks = tokens(&ex.text);
            let tf = token_features(&toks);
            let mut raw = Vec::new();
            span_features(&tf, 0, toks.len(), &mut raw);
            let q = self.query(&mut raw);
            let best = self.scores(&q, Some(i), &mut Scores::default());
            let predicted = match self.top(&best) {
                Some((c, s, m)) if c as u32 != self.unknown => {
                    let [a, b, bias] = self.calibration;
                    if sigmoid(a * s + b * m + bias) >= self.threshold {
                        c as u32
                    } else {
                        self.unknown
                    }
                }
                _ => self.unknown,
            };
            right += usize::from(predicted == ex.class);
        }
        (right, self.examples.len())
    }

    /// Classifies one utterance.
    pub fn classify(&self, text: &str) -> Prediction {
        self.classify_tokens(&tokens(text))
    }

    /// Classifies an utterance already split into tokens: the whole of it
    /// and, when it has several clauses, each clause, answering the most
    /// confident intent found ("I'm furious. Let me speak to a manager"
    /// is a transfer request even though half of it is a complaint).
    pub fn classify_tokens(&self, toks: &[Token]) -> Prediction {
        self.classify_clauses(toks).into_iter().next().unwrap_or_else(|| {
            let tf = token_features(toks);
            self.classify_span(toks, &tf, 0, toks.len(), &mut Scratch::default())
        })
    }

    /// Every intent the clauses of an utterance express, most confident
    /// first, one entry per intent; empty when none does.
    pub fn classify_clauses(&self, toks: &[Token]) -> Vec<Prediction> {
        let mut out: Vec<Prediction> = Vec::new();
        let mut push = |p: Prediction| {
            if p.name == UNKNOWN {
                return;
            }
            match out.iter_mut().find(|q| q.name == p.name) {
                Some(q) if q.confidence >= p.confidence => {}
                Some(q) => *q = p,
                None => out.push(p),
            }
        };
        let tf = token_features(toks);
        let mut scratch = Scratch::default();
        push(self.classify_span(toks, &tf, 0, toks.len(), &mut scratch));
        let mut cuts: Vec<usize> = (1..toks.len()).filter(|&i| toks[i].break_before).collect();
        if !cuts.is_empty() {
            cuts.insert(0, 0);
            cuts.push(toks.len());
            for w in cuts.windows(2) {
                if w[1] - w[0] >= 2 && w[1] - w[0] < toks.len() {
                    push(self.classify_span(toks, &tf, w[0], w[1], &mut scratch));
                }
            }
        }
        out.sort_by(|a, b| {
            priority(&a.name)
                .cmp(&priority(&b.name))
                .then(b.confidence.total_cmp(&a.confidence))
        });
        out
    }

    /// Classifies exactly tokens `a..b`.
    fn classify_span(&self, all: &[Token], tf: &TokenFeatures, a: usize, b: usize, scratch: &mut Scratch) -> Prediction {
        let toks = &all[a..b];
        let words = &tf.word[a..b];
        span_features(tf, a, b, &mut scratch.raw);
        let q = self.query(&mut scratch.raw);
        let best = self.scores(&q, None, &mut scratch.scores);
        let Some((c, s, m)) = self.top(&best).filter(|t| t.1 > 0.0) else {
            return Prediction {
                name: UNKNOWN.to_owned(),
                confidence: 1.0,
                nearest: None,
                span: None,
            };
        };
        let ex = &self.examples[best[c].1];
        let nearest = Some(Nearest {
            intent: self.names[c].clone(),
            example: ex.text.clone(),
            similarity: (s * 10_000.0).round() / 10_000.0,
        });
        let [a, b, bias] = self.calibration;
        let p = sigmoid(a * s + b * m + bias);
        let p = (p * 10_000.0).round() / 10_000.0;
        let shared: Vec<usize> = (0..toks.len()).filter(|&i| ex.words.contains(&words[i])).collect();
        let span = match (shared.first(), shared.last()) {
            (Some(&f), Some(&l)) => Some((toks[f].start, toks[l].end)),
            _ => toks.first().zip(toks.last()).map(|(f, l)| (f.start, l.end)),
        };
        if c as u32 == self.unknown || p < self.threshold {
            let confidence = if c as u32 == self.unknown { p.max(1.0 - p) } else { 1.0 - p };
            return Prediction {
                name: UNKNOWN.to_owned(),
                confidence: (confidence * 10_000.0).round() / 10_000.0,
                nearest,
                span: None,
            };
        }
        Prediction {
            name: self.names[c].clone(),
            confidence: p,
            nearest,
            span,
        }
    }
}

/// Solves the 3×3 system `h x = g`.
fn solve3(h: [[f64; 3]; 3], g: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(h);
    if d.abs() < 1e-12 {
        return None;
    }
    let mut x = [0.0; 3];
    for (k, xk) in x.iter_mut().enumerate() {
        let mut m = h;
        for r in 0..3 {
            m[r][k] = g[r];
        }
        *xk = det(m) / d;
    }
    Some(x)
}

fn validate(defs: &[(String, Vec<String>)]) -> Result<(), IntelligenceError> {
    if defs.len() > MAX_INTENTS {
        return Err(IntelligenceError::invalid("intents", format!("at most {MAX_INTENTS} intents")));
    }
    for (i, (name, examples)) in defs.iter().enumerate() {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(IntelligenceError::invalid(
                format!("intents[{i}].name"),
                "must be 1 to 64 characters",
            ));
        }
        if examples.is_empty() {
            return Err(IntelligenceError::invalid(
                format!("intents[{i}].examples"),
                format!("intent '{name}' has no example phrases"),
            ));
        }
        if examples.len() > MAX_EXAMPLES {
            return Err(IntelligenceError::invalid(
                format!("intents[{i}].examples"),
                format!("intent '{name}' has more than {MAX_EXAMPLES} examples"),
            ));
        }
        for (j, e) in examples.iter().enumerate() {
            if e.trim().is_empty() || e.chars().count() > MAX_EXAMPLE_CHARS {
                return Err(IntelligenceError::invalid(
                    format!("intents[{i}].examples[{j}]"),
                    format!("an example of intent '{name}' must be 1 to {MAX_EXAMPLE_CHARS} characters"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_intents_on_plain_phrases() {
        let m = IntentModel::builtin();
        for (text, want) in [
            ("please stop calling me", "do_not_call"),
            ("can you call me back tomorrow at 3", "callback_request"),
            ("I want to speak to a manager", "transfer_request"),
            ("you've reached Anna, leave a message after the beep", "voicemail_greeting"),
            ("I'd like to cancel my subscription", "cancel_service"),
        ] {
            let p = m.classify(text);
            assert_eq!(p.name, want, "{text}: {p:?}");
            assert!(p.confidence >= 0.5);
        }
    }

    #[test]
    fn off_topic_is_unknown() {
        let m = IntentModel::builtin();
        for text in [
            "the quick brown fox jumps over the lazy dog",
            "photosynthesis converts light into chemical energy",
            "hello?",
            "",
        ] {
            let p = m.classify(text);
            assert_eq!(p.name, UNKNOWN, "{text}: {p:?}");
        }
    }

    #[test]
    fn every_builtin_intent_has_examples() {
        let names: Vec<String> = builtin_examples().into_iter().map(|(n, _)| n).collect();
        for b in BUILTIN_INTENTS {
            assert!(names.iter().any(|n| n == b), "{b} has no training example");
        }
        let m = IntentModel::builtin();
        assert_eq!(m.intents().count(), BUILTIN_INTENTS.len());
    }

    #[test]
    fn custom_intents_join_the_builtin_ones() {
        let m = IntentModel::new(vec![(
            "refund_request".into(),
            vec![
                "I want my money back".into(),
                "can I get a refund".into(),
                "refund the purchase please".into(),
            ],
        )])
        .expect("valid");
        let p = m.classify("I would like a refund for this");
        assert_eq!(p.name, "refund_request", "{p:?}");
        assert_eq!(m.classify("stop calling me").name, "do_not_call");
    }

    #[test]
    fn empty_example_list_names_the_intent() {
        let e = IntentModel::new(vec![("ok".into(), vec!["fine".into()]), ("refund".into(), vec![])]).unwrap_err();
        assert_eq!(e.field(), "intents[1].examples");
        assert!(e.to_string().contains("'refund'"), "{e}");
        let e = IntentModel::new(vec![(" ".into(), vec!["x".into()])]).unwrap_err();
        assert_eq!(e.field(), "intents[0].name");
    }

    #[test]
    fn confidence_is_calibrated_on_held_out_rows() {
        // Expected calibration error over the held-out rows stays small.
        let m = IntentModel::from_examples(builtin_examples()).expect("valid").with_threshold(0.0);
        let rows: Vec<(&str, &str, &str)> = read_tsv(INTENTS_TSV).into_iter().filter(|r| r.0 == "test").collect();
        let mut bins = [(0.0f64, 0.0f64, 0usize); 5];
        for (_, want, text) in &rows {
            let p = m.classify(text);
            if p.name == UNKNOWN {
                continue;
            }
            let b = ((p.confidence * 5.0) as usize).min(4);
            bins[b].0 += p.confidence;
            bins[b].1 += f64::from(u8::from(p.name == *want));
            bins[b].2 += 1;
        }
        let total: usize = bins.iter().map(|b| b.2).sum();
        let ece: f64 = bins.iter().filter(|b| b.2 > 0).map(|b| (b.0 - b.1).abs() / total as f64).sum();
        assert!(ece < 0.2, "expected calibration error {ece:.3}");
    }
}
