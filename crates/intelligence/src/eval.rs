//! Evaluation on data none of us wrote: readers for the data sets, the
//! metrics (accuracy, macro-F1, confusion matrix) and the reports behind
//! `switchboard eval sentiment|intent|redaction --data PATH`.
//!
//! This is the crate's only module that reads files, and only through
//! [`run`], for the eval command; analysis never does.
//!
//! - `sentiment --data DIR`: DIR as `scripts/fetch-eval-data` lays it out:
//!   `uci/{amazon,imdb,yelp}.json` (npm `sentiment` 5.0.2's fixtures, the
//!   UCI Sentiment Labelled Sentences; the fair test) and
//!   `hutto/hutto_ICWSM_2014/*_GroundTruth.txt` (VADER was tuned on these;
//!   reported only). Ours and plain VADER (the `vader_sentiment` crate)
//!   are scored on the same items with the same rule: score ≥ 0.05 is
//!   positive, ≤ −0.05 negative, in between neutral (a wrong answer on
//!   these two-class sets).
//! - `intent --data FILE`: a `split<TAB>intent<TAB>text` file such as
//!   `crates/intelligence/data/intents.tsv`; the model learns the `train`
//!   rows and is scored on the `test` rows only.
//! - `redaction`: generated cases (fixed seed; `--data` is not read):
//!   recall per kind and false positives on ordinary numbers.

use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::error::IntelligenceError;
use crate::intent::{IntentModel, UNKNOWN, read_tsv};
use crate::redaction::{self, PiiKind, luhn_valid, verhoeff_check_digit};
use crate::sentiment;

/// A confusion matrix over string labels (rows gold, columns predicted).
#[derive(Debug, Clone, Default)]
pub struct Confusion {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<usize>>,
}

impl Confusion {
    /// A matrix whose gold labels are `gold` (predictions may add columns).
    pub fn new(gold: &[&str]) -> Self {
        let labels: Vec<String> = gold.iter().map(|s| (*s).to_owned()).collect();
        let n = labels.len();
        Self {
            labels,
            counts: vec![vec![0; n]; n],
        }
    }

    fn index(&mut self, label: &str) -> usize {
        if let Some(i) = self.labels.iter().position(|l| l == label) {
            return i;
        }
        self.labels.push(label.to_owned());
        for row in &mut self.counts {
            row.push(0);
        }
        self.counts.push(vec![0; self.labels.len()]);
        self.labels.len() - 1
    }

    pub fn add(&mut self, gold: &str, predicted: &str) {
        let g = self.index(gold);
        let p = self.index(predicted);
        self.counts[g][p] += 1;
    }

    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    pub fn accuracy(&self) -> f64 {
        let right: usize = (0..self.labels.len()).map(|i| self.counts[i][i]).sum();
        ratio(right, self.total())
    }

    /// Mean F1 over the labels that occur as gold.
    pub fn macro_f1(&self) -> f64 {
        let n = self.labels.len();
        let mut f1s = Vec::new();
        for i in 0..n {
            let gold: usize = self.counts[i].iter().sum();
            if gold == 0 {
                continue;
            }
            let predicted: usize = (0..n).map(|g| self.counts[g][i]).sum();
            let tp = self.counts[i][i] as f64;
            let p = if predicted == 0 { 0.0 } else { tp / predicted as f64 };
            let r = tp / gold as f64;
            f1s.push(if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) });
        }
        if f1s.is_empty() {
            0.0
        } else {
            f1s.iter().sum::<f64>() / f1s.len() as f64
        }
    }

    /// The matrix as text, labels abbreviated to `width` characters.
    pub fn render(&self, width: usize) -> String {
        let mut s = String::new();
        let cut = |l: &str| l.chars().take(width).collect::<String>();
        let _ = write!(s, "{:>w$} |", "gold \\ predicted", w = width.max(16));
        for l in &self.labels {
            let _ = write!(s, " {:>w$}", cut(l), w = width);
        }
        s.push('\n');
        for (i, l) in self.labels.iter().enumerate() {
            if self.counts[i].iter().sum::<usize>() == 0 {
                continue;
            }
            let _ = write!(s, "{:>w$} |", cut(l), w = width.max(16));
            for c in &self.counts[i] {
                let _ = write!(s, " {:>w$}", c, w = width);
            }
            s.push('\n');
        }
        s
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn bucket(score: f64) -> &'static str {
    if score >= 0.05 {
        "positive"
    } else if score <= -0.05 {
        "negative"
    } else {
        "neutral"
    }
}

/// One labelled sentence: text and gold label (`positive` / `negative`).
#[derive(Debug, Clone)]
pub struct Labelled {
    pub text: String,
    pub gold: &'static str,
}

#[derive(Deserialize)]
struct UciItem {
    text: String,
    class: Option<u8>,
}

/// Reads one of npm `sentiment`'s fixtures: a JSON array of `{text, class}`
/// (1 positive, 0 negative; the few items with a null class are skipped).
pub fn read_uci_json(json: &str) -> Result<Vec<Labelled>, String> {
    let items: Vec<UciItem> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    Ok(items
        .into_iter()
        .filter_map(|i| {
            i.class.map(|c| Labelled {
                text: i.text,
                gold: if c == 1 { "positive" } else { "negative" },
            })
        })
        .collect())
}

/// Reads one of Hutto & Gilbert's `*_GroundTruth.txt` files
/// (`id<TAB>mean rating −4..4<TAB>text`); a mean of exactly 0 is dropped.
pub fn read_hutto(tsv: &str) -> Vec<Labelled> {
    tsv.lines()
        .filter_map(|l| {
            let mut it = l.trim_start_matches('\u{feff}').splitn(3, '\t');
            let _id = it.next()?;
            let mean: f64 = it.next()?.trim().parse().ok()?;
            let text = it.next()?.trim().to_owned();
            (mean != 0.0 && !text.is_empty()).then_some(Labelled {
                text,
                gold: if mean > 0.0 { "positive" } else { "negative" },
            })
        })
        .collect()
}

/// Ours and the baseline on one set.
#[derive(Debug, Clone)]
pub struct SentimentResult {
    pub name: String,
    pub items: usize,
    pub ours: Confusion,
    pub vader: Confusion,
}

/// Scores ours and plain VADER on the same items.
pub fn eval_sentiment_set(name: &str, items: &[Labelled]) -> SentimentResult {
    let vader = vader_sentiment::SentimentIntensityAnalyzer::new();
    let mut ours = Confusion::new(&["positive", "negative"]);
    let mut base = Confusion::new(&["positive", "negative"]);
    for it in items {
        ours.add(it.gold, bucket(sentiment::score_text(&it.text, 0).score));
        let c = vader.polarity_scores(&it.text).get("compound").copied().unwrap_or(0.0);
        base.add(it.gold, bucket(c));
    }
    SentimentResult {
        name: name.to_owned(),
        items: items.len(),
        ours,
        vader: base,
    }
}

/// Renders sentiment results as a table plus confusion matrices.
pub fn render_sentiment(results: &[SentimentResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<34} {:>6}  {:>9} {:>9}  {:>9} {:>9}",
        "set", "items", "ours acc", "ours F1", "vader acc", "vader F1"
    );
    for r in results {
        let _ = writeln!(
            s,
            "{:<34} {:>6}  {:>8.1}% {:>9.3}  {:>8.1}% {:>9.3}",
            r.name,
            r.items,
            100.0 * r.ours.accuracy(),
            r.ours.macro_f1(),
            100.0 * r.vader.accuracy(),
            r.vader.macro_f1()
        );
    }
    for r in results {
        let _ = writeln!(
            s,
            "\n{} — ours\n{}{} — vader\n{}",
            r.name,
            r.ours.render(9),
            r.name,
            r.vader.render(9)
        );
    }
    s
}

/// Held-out intent evaluation.
#[derive(Debug, Clone)]
pub struct IntentEval {
    pub train: usize,
    pub test: usize,
    pub confusion: Confusion,
    /// Mean confidence of the answered (non-unknown) predictions and how many were right.
    pub answered: usize,
    pub answered_right: usize,
    pub mean_confidence: f64,
    /// Leave-one-out accuracy over the training rows (what tuning may look at).
    pub train_loo: f64,
}

/// Trains on the `train` rows of a `split<TAB>intent<TAB>text` file and scores the `test` rows.
pub fn eval_intent(tsv: &str) -> Result<IntentEval, IntelligenceError> {
    let rows = read_tsv(tsv);
    let mut defs: Vec<(String, Vec<String>)> = Vec::new();
    for (split, intent, text) in &rows {
        if *split == "train" {
            match defs.iter_mut().find(|(n, _)| n == intent) {
                Some((_, e)) => e.push((*text).to_owned()),
                None => defs.push(((*intent).to_owned(), vec![(*text).to_owned()])),
            }
        }
    }
    let model = IntentModel::from_examples(defs)?;
    let (loo_right, loo_total) = model.leave_one_out();
    let mut gold: Vec<&str> = model.intents().collect();
    gold.push(UNKNOWN);
    let mut confusion = Confusion::new(&gold);
    let (mut answered, mut right, mut conf) = (0, 0, 0.0);
    let test: Vec<&(&str, &str, &str)> = rows.iter().filter(|r| r.0 == "test").collect();
    for (_, intent, text) in &test {
        let p = model.classify(text);
        if p.name != UNKNOWN {
            answered += 1;
            conf += p.confidence;
            right += usize::from(p.name == *intent);
        }
        confusion.add(intent, &p.name);
    }
    Ok(IntentEval {
        train: rows.iter().filter(|r| r.0 == "train").count(),
        test: test.len(),
        confusion,
        answered,
        answered_right: right,
        mean_confidence: if answered == 0 { 0.0 } else { conf / answered as f64 },
        train_loo: ratio(loo_right, loo_total),
    })
}

/// Renders an intent evaluation.
pub fn render_intent(e: &IntentEval) -> String {
    format!(
        "intent: trained on {} rows (leave-one-out accuracy {:.1}%), scored on {} held-out rows\nheld-out accuracy {:.1}%  macro-F1 {:.3}\nanswered (not unknown) {} of {}: {:.1}% right, mean confidence {:.3}\n\n{}",
        e.train,
        100.0 * e.train_loo,
        e.test,
        100.0 * e.confusion.accuracy(),
        e.confusion.macro_f1(),
        e.answered,
        e.test,
        100.0 * ratio(e.answered_right, e.answered),
        e.mean_confidence,
        e.confusion.render(7)
    )
}

/// A small deterministic generator (xorshift64*) for the redaction cases.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn digits(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| b'0' + self.below(10) as u8).collect()
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const SPOKEN: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

fn spoken(d: &[u8], rng: &mut Rng) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let w = SPOKEN[(d[i] - b'0') as usize];
        if i + 1 < d.len() && d[i + 1] == d[i] && rng.below(2) == 0 {
            out.push(format!("double {w}"));
            i += 2;
        } else {
            out.push(if d[i] == b'0' && rng.below(2) == 0 {
                "oh".to_owned()
            } else {
                w.to_owned()
            });
            i += 1;
        }
    }
    out.join(" ")
}

fn grouped(d: &[u8], sizes: &[usize], sep: &str) -> String {
    let mut parts = Vec::new();
    let mut at = 0;
    for &s in sizes {
        if at >= d.len() {
            break;
        }
        let e = (at + s).min(d.len());
        parts.push(String::from_utf8_lossy(&d[at..e]).into_owned());
        at = e;
    }
    if at < d.len() {
        parts.push(String::from_utf8_lossy(&d[at..]).into_owned());
    }
    parts.join(sep)
}

/// A Luhn-valid card number of a brand: (brand, digits).
pub fn card(rng: &mut Rng) -> (&'static str, Vec<u8>) {
    let brands: [(&str, &[&str], usize); 8] = [
        ("visa", &["4"], 16),
        ("visa13", &["4"], 13),
        ("mastercard", &["51", "52", "53", "54", "55", "2221", "2720"], 16),
        ("amex", &["34", "37"], 15),
        ("discover", &["6011", "65"], 16),
        ("jcb", &["3528", "3589"], 16),
        ("diners", &["36"], 14),
        ("unionpay", &["62"], 19),
    ];
    let (brand, prefixes, len) = *rng.pick(&brands);
    let mut d = rng.pick(prefixes).as_bytes().to_vec();
    while d.len() < len - 1 {
        d.push(b'0' + rng.below(10) as u8);
    }
    for c in b'0'..=b'9' {
        d.push(c);
        if luhn_valid(&d) {
            break;
        }
        d.pop();
    }
    (brand, d)
}

/// One generated redaction case: the text, the PII string inside it and the tag wanted.
#[derive(Debug, Clone)]
pub struct PiiCase {
    pub kind: PiiKind,
    pub variant: String,
    pub text: String,
    pub secret: String,
}

const LEADS: [&str; 5] = ["sure, it's", "my number is", "okay so that's", "yes,", "the one on file is"];
const TAILS: [&str; 4] = ["thanks.", "and that's it", "did you get that?", ""];

/// Generates `per_kind` cases of every kind.
pub fn pii_cases(seed: u64, per_kind: usize) -> Vec<PiiCase> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let wrap = |rng: &mut Rng, secret: &str| format!("{} {} {}", rng.pick(&LEADS), secret, rng.pick(&TAILS)).trim().to_owned();
    for _ in 0..per_kind {
        let (brand, d) = card(&mut rng);
        let style = rng.below(5);
        let (variant, secret) = match style {
            0 => ("plain", String::from_utf8_lossy(&d).into_owned()),
            1 => (
                "spaced",
                if brand == "amex" {
                    grouped(&d, &[4, 6, 5], " ")
                } else {
                    grouped(&d, &[4, 4, 4, 4], " ")
                },
            ),
            2 => ("dashed", grouped(&d, &[4, 4, 4, 4], "-")),
            3 => ("spoken", spoken(&d, &mut rng)),
            _ => (
                "spoken groups",
                d.chunks(4).map(|c| spoken(c, &mut rng)).collect::<Vec<_>>().join(", "),
            ),
        };
        out.push(PiiCase {
            kind: PiiKind::Card,
            variant: format!("{brand} {variant}"),
            text: wrap(&mut rng, &secret),
            secret,
        });
        // SSN: area 001-899 except 666, group 01-99, serial 0001-9999.
        let area = loop {
            let a = 1 + rng.below(899);
            if a != 666 {
                break a;
            }
        };
        let (g, s) = (1 + rng.below(99), 1 + rng.below(9999));
        let (variant, secret, text) = match rng.below(3) {
            0 => ("dashed", format!("{area:03}-{g:02}-{s:04}"), None),
            1 => ("spaced", format!("{area:03} {g:02} {s:04}"), None),
            _ => {
                let sec = format!("{area:03}{g:02}{s:04}");
                (
                    "plain after 'social security'",
                    sec.clone(),
                    Some(format!("my social security number is {sec}")),
                )
            }
        };
        let text = text.unwrap_or_else(|| wrap(&mut rng, &secret));
        out.push(PiiCase {
            kind: PiiKind::Ssn,
            variant: variant.into(),
            text,
            secret,
        });
        // Aadhaar: 12 digits, first 2-9, Verhoeff check digit.
        let mut a = vec![b'2' + rng.below(8) as u8];
        a.extend(rng.digits(10));
        a.push(b'0' + verhoeff_check_digit(&a));
        let (variant, secret) = if rng.below(2) == 0 {
            ("spaced", grouped(&a, &[4, 4, 4], " "))
        } else {
            ("plain", String::from_utf8_lossy(&a).into_owned())
        };
        out.push(PiiCase {
            kind: PiiKind::Aadhaar,
            variant: variant.into(),
            text: wrap(&mut rng, &secret),
            secret,
        });
        // PAN: 5 letters (4th a holder type), 4 digits, 1 letter.
        let letter = |rng: &mut Rng| (b'A' + rng.below(26) as u8) as char;
        let pan = format!(
            "{}{}{}{}{}{}{}",
            letter(&mut rng),
            letter(&mut rng),
            letter(&mut rng),
            *rng.pick(&['P', 'C', 'H', 'F', 'T']),
            letter(&mut rng),
            String::from_utf8_lossy(&rng.digits(4)),
            letter(&mut rng)
        );
        out.push(PiiCase {
            kind: PiiKind::Pan,
            variant: "plain".into(),
            text: format!("my PAN is {pan}"),
            secret: pan,
        });
        // Phones.
        let line = String::from_utf8_lossy(&rng.digits(4)).into_owned();
        let exch = 200 + rng.below(800);
        let area = *rng.pick(&[212u64, 415, 312, 646, 202, 617]);
        let (variant, secret) = match rng.below(6) {
            0 => ("us (ddd) ddd-dddd", format!("({area}) {exch}-{line}")),
            1 => ("us ddd-ddd-dddd", format!("{area}-{exch}-{line}")),
            2 => ("us +1 ddd ddd dddd", format!("+1 {area} {exch} {line}")),
            3 => ("uk +44", format!("+44 20 7946 {line}")),
            4 => (
                "india +91",
                format!(
                    "+91 98{} {}",
                    String::from_utf8_lossy(&rng.digits(3)),
                    String::from_utf8_lossy(&rng.digits(5))
                ),
            ),
            _ => {
                let d: Vec<u8> = format!("{area}{exch}{line}").into_bytes();
                ("us spoken", spoken(&d, &mut rng))
            }
        };
        out.push(PiiCase {
            kind: PiiKind::Phone,
            variant: variant.into(),
            text: wrap(&mut rng, &secret),
            secret,
        });
        // E-mails.
        let names = ["john", "maria", "wei", "a.kumar", "sam_lee", "dana99"];
        let hosts = ["gmail.com", "example.org", "mail.co.uk", "acme.io"];
        let (variant, secret) = if rng.below(3) == 0 {
            let n = rng.pick(&["john", "maria", "wei"]).to_string();
            let h = rng.pick(&["gmail dot com", "yahoo dot com", "acme dot co dot uk"]).to_string();
            ("spoken", format!("{n} dot smith at {h}"))
        } else {
            ("written", format!("{}@{}", rng.pick(&names), rng.pick(&hosts)))
        };
        out.push(PiiCase {
            kind: PiiKind::Email,
            variant: variant.into(),
            text: wrap(&mut rng, &secret),
            secret,
        });
        // Spoken digit strings (a PIN, a member number).
        let len = 4 + rng.below(5) as usize;
        let d = rng.digits(len);
        let secret = spoken(&d, &mut rng);
        out.push(PiiCase {
            kind: PiiKind::Number,
            variant: format!("spoken {len} digits"),
            text: format!("the code is {secret} okay"),
            secret,
        });
    }
    out
}

/// Ordinary sentences with numbers that must survive redaction.
pub fn ordinary_numbers(seed: u64, n: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let months = ["January", "March", "June", "October", "December"];
    (0..n)
        .map(|i| match i % 16 {
            0 => format!(
                "I paid ${},{:03}.{:02} last month",
                1 + rng.below(9),
                rng.below(1000),
                rng.below(100)
            ),
            1 => format!("that's {} dollars and {} cents", 1 + rng.below(500), rng.below(100)),
            2 => format!("the bill was due on {}/{}/2026", 1 + rng.below(12), 1 + rng.below(28)),
            3 => format!(
                "call me at {}:{:02} on {} {}",
                1 + rng.below(12),
                rng.below(60),
                rng.pick(&months),
                1 + rng.below(28)
            ),
            4 => format!("my order number is {}", 10_000_000 + rng.below(90_000_000)),
            5 => format!("ticket {} was closed", 1000 + rng.below(9000)),
            6 => format!("we moved here in {}", 1990 + rng.below(36)),
            7 => format!("the zip code is {:05}", rng.below(100_000)),
            8 => format!("it went up {}% since {}", 1 + rng.below(40), 2015 + rng.below(10)),
            9 => format!("I have {} kids and {} cars", 1 + rng.below(5), 1 + rng.below(3)),
            10 => format!("version {}.{}.{} of the app", rng.below(10), rng.below(20), rng.below(50)),
            11 => format!("I called two or three times, at {} pm", 1 + rng.below(11)),
            12 => format!("apartment {} on floor {}", 100 + rng.below(900), 1 + rng.below(30)),
            13 => format!("my account number is {}", String::from_utf8_lossy(&rng.digits(14))),
            14 => format!("the tracking number is 9400 {}", String::from_utf8_lossy(&rng.digits(18))),
            _ => format!(
                "it costs {}.{:02} a month for {} months",
                10 + rng.below(90),
                rng.below(100),
                6 + rng.below(30)
            ),
        })
        .collect()
}

/// Redaction recall and false positives.
#[derive(Debug, Clone)]
pub struct RedactionEval {
    /// Per kind: (cases, secret removed, removed with the right tag).
    pub per_kind: Vec<(PiiKind, usize, usize, usize)>,
    /// Per variant: (kind, variant, cases, removed).
    pub per_variant: Vec<(PiiKind, String, usize, usize)>,
    pub misses: Vec<String>,
    pub ordinary: usize,
    pub false_positives: Vec<String>,
}

/// Digits in a text, written or spoken ("double five" counts two).
fn digit_count(text: &str) -> usize {
    let toks = crate::text::tokens(text);
    toks.iter()
        .enumerate()
        .map(|(i, t)| {
            if t.numeric {
                t.lower.len()
            } else if crate::text::spoken_digit(&t.lower).is_some() {
                if i > 0 && matches!(toks[i - 1].lower.as_str(), "double" | "triple") {
                    if toks[i - 1].lower == "double" { 2 } else { 3 }
                } else {
                    1
                }
            } else {
                0
            }
        })
        .sum()
}

/// Runs the generated redaction cases.
pub fn eval_redaction(seed: u64, per_kind: usize) -> RedactionEval {
    let region = switchboard_domain::phone::Region::parse("US").ok();
    let mut per_kind_v: Vec<(PiiKind, usize, usize, usize)> = Vec::new();
    let mut per_variant: Vec<(PiiKind, String, usize, usize)> = Vec::new();
    let mut misses = Vec::new();
    for c in pii_cases(seed, per_kind) {
        let red = redaction::redact(&c.text, region);
        // Removed: not one digit of it is left (written or spoken) beyond those of the sentence around it.
        let removed = !red.text.contains(&c.secret) && digit_count(&red.text) <= digit_count(&c.text.replacen(&c.secret, "", 1));
        let tagged = removed && red.text.contains(c.kind.tag());
        if !tagged && misses.len() < 20 {
            misses.push(format!("{:?} {}: {:?} -> {:?}", c.kind, c.variant, c.text, red.text));
        }
        match per_kind_v.iter_mut().find(|k| k.0 == c.kind) {
            Some(k) => {
                k.1 += 1;
                k.2 += usize::from(removed);
                k.3 += usize::from(tagged);
            }
            None => per_kind_v.push((c.kind, 1, usize::from(removed), usize::from(tagged))),
        }
        match per_variant.iter_mut().find(|v| v.0 == c.kind && v.1 == c.variant) {
            Some(v) => {
                v.2 += 1;
                v.3 += usize::from(removed);
            }
            None => per_variant.push((c.kind, c.variant.clone(), 1, usize::from(removed))),
        }
    }
    per_variant.sort_by(|a, b| a.0.tag().cmp(b.0.tag()).then(a.1.cmp(&b.1)));
    let ordinary = ordinary_numbers(seed ^ 0x5eed, per_kind * 8);
    let false_positives = ordinary
        .iter()
        .filter_map(|t| {
            let r = redaction::redact(t, region);
            (!r.spans.is_empty()).then(|| format!("{t:?} -> {:?}", r.text))
        })
        .collect();
    RedactionEval {
        per_kind: per_kind_v,
        per_variant,
        misses,
        ordinary: ordinary.len(),
        false_positives,
    }
}

/// Renders a redaction evaluation.
pub fn render_redaction(e: &RedactionEval) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:<10} {:>6} {:>10} {:>14}", "kind", "cases", "removed", "right tag");
    for (k, n, removed, tagged) in &e.per_kind {
        let _ = writeln!(
            s,
            "{:<10} {:>6} {:>9.1}% {:>13.1}%",
            k.tag(),
            n,
            100.0 * ratio(*removed, *n),
            100.0 * ratio(*tagged, *n)
        );
    }
    let _ = writeln!(s, "\nby variant (removed):");
    for (k, v, n, removed) in &e.per_variant {
        let _ = writeln!(s, "  {:<10} {:<32} {:>5} {:>7.1}%", k.tag(), v, n, 100.0 * ratio(*removed, *n));
    }
    let _ = writeln!(
        s,
        "\nfalse positives: {} of {} ordinary sentences with numbers ({:.1}%)",
        e.false_positives.len(),
        e.ordinary,
        100.0 * ratio(e.false_positives.len(), e.ordinary)
    );
    for f in e.false_positives.iter().take(10) {
        let _ = writeln!(s, "  {f}");
    }
    if !e.misses.is_empty() {
        let _ = writeln!(s, "\nmisses (first {}):", e.misses.len());
        for m in &e.misses {
            let _ = writeln!(s, "  {m}");
        }
    }
    s
}

fn read(path: &Path) -> Result<String, IntelligenceError> {
    std::fs::read_to_string(path).map_err(|e| IntelligenceError::Data {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Runs `switchboard eval KIND --data PATH` and returns the report.
pub fn run(kind: &str, data: Option<&Path>) -> Result<String, IntelligenceError> {
    match kind {
        "sentiment" => {
            let dir = data.ok_or_else(|| IntelligenceError::invalid("data", "sentiment needs --data DIR (see scripts/fetch-eval-data)"))?;
            let mut results = Vec::new();
            for set in ["amazon", "imdb", "yelp"] {
                let p = dir.join("uci").join(format!("{set}.json"));
                let items = read_uci_json(&read(&p)?).map_err(|reason| IntelligenceError::Data {
                    path: p.display().to_string(),
                    reason,
                })?;
                results.push(eval_sentiment_set(&format!("uci {set} (fair test)"), &items));
            }
            let all: Vec<Labelled> = ["amazon", "imdb", "yelp"]
                .iter()
                .flat_map(|set| read_uci_json(&read(&dir.join("uci").join(format!("{set}.json"))).unwrap_or_default()).unwrap_or_default())
                .collect();
            results.push(eval_sentiment_set("uci all three", &all));
            let hutto = dir.join("hutto").join("hutto_ICWSM_2014");
            for (name, file) in [
                ("tweets", "tweets_GroundTruth.txt"),
                ("movie snippets", "movieReviewSnippets_GroundTruth.txt"),
                ("amazon snippets", "amazonReviewSnippets_GroundTruth.txt"),
                ("nyt editorials", "nytEditorialSnippets_GroundTruth.txt"),
            ] {
                let p = hutto.join(file);
                if p.exists() {
                    results.push(eval_sentiment_set(&format!("hutto {name} (tuned on)"), &read_hutto(&read(&p)?)));
                }
            }
            Ok(render_sentiment(&results))
        }
        "intent" => {
            let tsv = match data {
                Some(p) => read(p)?,
                None => crate::intent::INTENTS_TSV.to_owned(),
            };
            Ok(render_intent(&eval_intent(&tsv)?))
        }
        "redaction" => Ok(render_redaction(&eval_redaction(0x5eed_cafe, 200))),
        other => Err(IntelligenceError::invalid(
            "kind",
            format!("'{other}' is not an eval kind; expected sentiment, intent or redaction"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics() {
        let mut c = Confusion::new(&["a", "b"]);
        for (g, p) in [("a", "a"), ("a", "a"), ("a", "b"), ("b", "b"), ("b", "neutral")] {
            c.add(g, p);
        }
        assert!((c.accuracy() - 0.6).abs() < 1e-9);
        // a: p=1, r=2/3 → 0.8; b: p=0.5, r=0.5 → 0.5
        assert!((c.macro_f1() - 0.65).abs() < 1e-9, "{}", c.macro_f1());
        assert!(c.render(7).contains("neutral"));
    }

    #[test]
    fn readers() {
        let u = read_uci_json(r#"[{"text":"Great!","class":1},{"text":"Bad.","class":0},{"text":"?","class":null}]"#).expect("json");
        assert_eq!(u.len(), 2);
        assert_eq!((u[0].gold, u[1].gold), ("positive", "negative"));
        let h = read_hutto("1_1\t-0.9\tawful thing\n1_2\t0\tneutral\n1_3\t2.5\tlovely");
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].gold, "positive");
    }

    #[test]
    fn generated_cards_are_luhn_valid_and_all_redacted() {
        let mut rng = Rng::new(7);
        for _ in 0..200 {
            let (_, d) = card(&mut rng);
            assert!(luhn_valid(&d) && (13..=19).contains(&d.len()));
        }
        let e = eval_redaction(1, 40);
        let cards = e.per_kind.iter().find(|k| k.0 == PiiKind::Card).expect("cards");
        assert_eq!(cards.1, cards.3, "{}", render_redaction(&e));
    }

    #[test]
    fn held_out_intents_beat_chance_by_far() {
        let e = eval_intent(crate::intent::INTENTS_TSV).expect("valid");
        assert!(e.test >= 100 && e.train >= 200);
        assert!(e.confusion.accuracy() > 0.6, "{}", render_intent(&e));
    }
}
