//! The entry point: [`analyze`] a text or a call's segments for the
//! requested types, and [`analyze_live`] one live segment (sentiment and
//! intent, fast enough for every `transcript.updated`).
//!
//! Offsets in every result are character offsets into a segment's text;
//! a text input is segment 0. When `redaction` is requested, every other
//! analysis runs on the *redacted* text, so no evidence, keyword or
//! summary can carry what redaction removed, and offsets point into the
//! redacted text that gets stored (`redacted.spans` keep the original
//! offsets too). E-mails and phone numbers are then not collected as
//! entities.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::phone::Region;
use switchboard_domain::transcript::{MAX_SEGMENT_CHARS, MAX_SEGMENTS, Segment, Speaker};

use crate::compliance::{self, Compliance, Flag};
use crate::entities::{self, Entity, EntityKind, EntityOptions};
use crate::error::IntelligenceError;
use crate::intent::{self, IntentModel, IntentResult, IntentSlots, Prediction, SegmentIntent, UNKNOWN};
use crate::keywords::{self, Keyword, SegTokens, Topic, TopicSet};
use crate::redaction::{self, PiiHit, RedactionSpan};
use crate::sentiment::{self, CallSentiment, SegmentSentiment, TextSentiment};
use crate::summary::{self, Summary};
use crate::text::{Evidence, Token, tokens};

/// Largest text accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// One kind of analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnalysisType {
    Sentiment,
    Intent,
    Keywords,
    Topics,
    Summary,
    Entities,
    Redaction,
    Compliance,
}

impl AnalysisType {
    /// Every type, in the order results are listed.
    pub const ALL: [AnalysisType; 8] = [
        Self::Sentiment,
        Self::Intent,
        Self::Keywords,
        Self::Topics,
        Self::Summary,
        Self::Entities,
        Self::Redaction,
        Self::Compliance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sentiment => "sentiment",
            Self::Intent => "intent",
            Self::Keywords => "keywords",
            Self::Topics => "topics",
            Self::Summary => "summary",
            Self::Entities => "entities",
            Self::Redaction => "redaction",
            Self::Compliance => "compliance",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Reads a request's `types` list; an unknown name is an error naming `types[i]`.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Self>, IntelligenceError> {
        let mut out = Vec::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            let t = Self::parse(n.as_ref()).ok_or_else(|| {
                IntelligenceError::invalid(
                    format!("types[{i}]"),
                    format!(
                        "'{}' is not an analysis type; expected one of {}",
                        n.as_ref(),
                        Self::ALL.map(Self::as_str).join(", ")
                    ),
                )
            })?;
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Ok(out)
    }
}

/// What to analyse: a plain text (segment 0, no speakers) or a call's segments.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Text(&'a str),
    Segments(&'a [Segment]),
}

impl Input<'_> {
    /// Checks the input limits, naming the field at fault.
    pub fn validate(&self) -> Result<(), IntelligenceError> {
        match self {
            Input::Text(t) if t.len() > MAX_TEXT_BYTES => Err(IntelligenceError::invalid("text", "must be at most 1 MB (1,048,576 bytes)")),
            Input::Text(_) => Ok(()),
            Input::Segments(s) => {
                if s.len() > MAX_SEGMENTS {
                    return Err(IntelligenceError::invalid("segments", format!("at most {MAX_SEGMENTS} segments")));
                }
                let mut total = 0;
                for (i, seg) in s.iter().enumerate() {
                    total += seg.text.len();
                    if seg.text.len() > MAX_SEGMENT_CHARS * 4 || seg.text.chars().count() > MAX_SEGMENT_CHARS {
                        return Err(IntelligenceError::invalid(
                            format!("segments[{i}].text"),
                            format!("must be at most {MAX_SEGMENT_CHARS} characters"),
                        ));
                    }
                }
                if total > MAX_TEXT_BYTES {
                    return Err(IntelligenceError::invalid(
                        "segments",
                        "the segments' text must be at most 1 MB (1,048,576 bytes) in all",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// How to analyse.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// What to compute; empty means every type.
    pub types: Vec<AnalysisType>,
    /// Reference instant, zone, phone region and "$" currency for entities.
    pub entities: EntityOptions,
    /// The organisation's topic sets.
    pub topics: Vec<TopicSet>,
    /// The organisation's recording-disclosure phrases (empty: the defaults).
    pub disclosure_phrases: Vec<String>,
    /// The organisation's intent model (None: the built-in one).
    pub intents: Option<Arc<IntentModel>>,
    /// Fewer words than this (in all) and the analysis is skipped as too short.
    pub min_words: usize,
    /// Key phrases returned at most.
    pub max_keywords: usize,
    /// Summary sentences at most (None: √sentences, 1 to 5).
    pub summary_sentences: Option<usize>,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            types: Vec::new(),
            entities: EntityOptions::default(),
            topics: Vec::new(),
            disclosure_phrases: Vec::new(),
            intents: None,
            min_words: 3,
            max_keywords: 10,
            summary_sentences: None,
        }
    }
}

impl AnalyzeOptions {
    /// Options resolving dates against `reference` in `zone`, phones in `region`.
    pub fn at(reference: DateTime<Utc>, zone: chrono_tz::Tz, region: Option<Region>) -> Self {
        Self {
            entities: EntityOptions {
                reference,
                zone,
                region,
                ..EntityOptions::default()
            },
            ..Self::default()
        }
    }

    /// Checks the organisation-supplied parts (topic sets).
    pub fn validate(&self) -> Result<(), IntelligenceError> {
        keywords::validate_topics(&self.topics)
    }

    fn wants(&self, t: AnalysisType) -> bool {
        self.types.is_empty() || self.types.contains(&t)
    }
}

/// How an analysis ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    Completed,
    /// Nothing to analyse: `no transcript`, `too short`.
    Skipped {
        reason: String,
    },
    /// The server could not run it (the library itself does not fail on valid input).
    Failed {
        reason: String,
    },
}

/// The redacted transcript: the text (for segment input, one
/// `Agent: …`/`Customer: …` line per segment), each segment's redacted
/// text, and the spans taken out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedactedTranscript {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<String>>,
    pub spans: Vec<RedactionSpan>,
}

/// The result of an analysis, one field per requested type, serialised in
/// camelCase: `{status, engine, sentiment, intent, keywords, topics,
/// summary, entities, redacted, compliance}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    #[serde(flatten)]
    pub status: Status,
    /// Which engine produced the results (`builtin` on the box).
    pub engine: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<CallSentiment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<IntentResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<Keyword>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<Topic>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<Entity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted: Option<RedactedTranscript>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance: Option<Compliance>,
}

impl Analysis {
    fn with_status(status: Status) -> Self {
        Self {
            status,
            engine: summary::ENGINE.to_owned(),
            sentiment: None,
            intent: None,
            keywords: None,
            topics: None,
            summary: None,
            entities: None,
            redacted: None,
            compliance: None,
        }
    }

    /// A skipped analysis (`no transcript`, `too short`).
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self::with_status(Status::Skipped { reason: reason.into() })
    }

    /// A failed analysis, for the server to record when running it went wrong.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self::with_status(Status::Failed { reason: reason.into() })
    }
}

/// One live segment's sentiment and intent, each with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveAnalysis {
    pub sentiment: TextSentiment,
    /// `{name, confidence, evidence, example, slots}`; a callback request
    /// carries the time asked for, a payment promise its amount and date.
    pub intent: IntentResult,
}

/// Sentiment and intent of one utterance as it arrives; evidence names
/// segment `segment`, and dates in slots resolve against `entities`.
pub fn analyze_live(text: &str, segment: usize, model: &IntentModel, entities: &EntityOptions) -> LiveAnalysis {
    let toks = tokens(text);
    let p = model.classify_tokens(&toks);
    let slots = if matches!(p.name.as_str(), "callback_request" | "payment_promise") {
        let pii = redaction::find_pii(text, &toks, entities.region);
        slots_for(&p.name, &entities::extract(text, &toks, &pii, segment, entities))
    } else {
        IntentSlots::default()
    };
    LiveAnalysis {
        sentiment: sentiment::score_tokens(text, &toks, segment),
        intent: IntentResult {
            evidence: p
                .span
                .map(|(a, b)| vec![Evidence::from_bytes(segment, text, a, b)])
                .unwrap_or_default(),
            example: p.nearest.map(|n| n.example),
            name: p.name,
            confidence: p.confidence,
            slots,
            segments: Vec::new(),
        },
    }
}

struct Seg {
    index: usize,
    speaker: Option<Speaker>,
    text: String,
    toks: Vec<Token>,
    pii: Vec<PiiHit>,
}

/// Analyses a text or a call. Bad input (too big, unknown type, invalid
/// topic sets) is an error naming the field; an empty or too short
/// transcript is a `skipped` analysis.
pub fn analyze(input: Input<'_>, opts: &AnalyzeOptions) -> Result<Analysis, IntelligenceError> {
    input.validate()?;
    opts.validate()?;
    let raw: Vec<(Option<Speaker>, &str)> = match input {
        Input::Text(t) => vec![(None, t)],
        Input::Segments(s) => s.iter().map(|s| (Some(s.speaker), s.text.as_str())).collect(),
    };
    if raw.iter().all(|(_, t)| t.trim().is_empty()) {
        return Ok(Analysis::skipped("no transcript"));
    }
    let redact = opts.wants(AnalysisType::Redaction);
    let region = opts.entities.region;
    let mut segs: Vec<Seg> = Vec::with_capacity(raw.len());
    let mut spans: Vec<RedactionSpan> = Vec::new();
    for (index, (speaker, text)) in raw.iter().enumerate() {
        let toks = tokens(text);
        let pii = redaction::find_pii(text, &toks, region);
        if redact {
            let (red, sp) = redaction::apply(text, index, &pii);
            spans.extend(sp);
            let toks = if pii.is_empty() { toks } else { tokens(&red) };
            segs.push(Seg {
                index,
                speaker: *speaker,
                text: red,
                toks,
                pii: Vec::new(),
            });
        } else {
            segs.push(Seg {
                index,
                speaker: *speaker,
                text: (*text).to_owned(),
                toks,
                pii,
            });
        }
    }
    let mut out = Analysis::with_status(Status::Completed);
    if redact {
        let texts: Vec<String> = segs.iter().map(|s| s.text.clone()).collect();
        out.redacted = Some(match input {
            Input::Text(_) => RedactedTranscript {
                text: texts.into_iter().next().unwrap_or_default(),
                segments: None,
                spans,
            },
            Input::Segments(_) => RedactedTranscript {
                text: segs
                    .iter()
                    .map(|s| format!("{}: {}\n", s.speaker.map_or("Customer", Speaker::label), s.text))
                    .collect(),
                segments: Some(texts),
                spans,
            },
        });
    }
    let words: usize = segs.iter().map(|s| s.toks.len()).sum();
    if words < opts.min_words {
        let mut skipped = Analysis::skipped("too short");
        skipped.redacted = out.redacted;
        return Ok(skipped);
    }
    let model = opts.intents.clone().unwrap_or_else(IntentModel::builtin);
    let wants_compliance = opts.wants(AnalysisType::Compliance);
    let doc: Vec<SegTokens<'_>> = segs
        .iter()
        .map(|s| SegTokens {
            segment: s.index,
            text: &s.text,
            toks: &s.toks,
        })
        .collect();
    let speakers: Vec<Option<Speaker>> = segs.iter().map(|s| s.speaker).collect();

    // Per-segment sentiment feeds sentiment and compliance.
    let seg_sentiment: Option<Vec<SegmentSentiment>> = (opts.wants(AnalysisType::Sentiment) || wants_compliance).then(|| {
        segs.iter()
            .map(|s| {
                let t = sentiment::score_tokens(&s.text, &s.toks, s.index);
                SegmentSentiment {
                    segment: s.index,
                    speaker: s.speaker,
                    label: t.label,
                    score: t.score,
                    evidence: t.evidence,
                }
            })
            .collect()
    });
    // Entities feed entities and intent slots.
    let seg_entities: Option<Vec<Vec<Entity>>> = (opts.wants(AnalysisType::Entities) || opts.wants(AnalysisType::Intent)).then(|| {
        segs.iter()
            .map(|s| entities::extract(&s.text, &s.toks, &s.pii, s.index, &opts.entities))
            .collect()
    });
    // Intent: the customer's segments (every segment when speakers are unknown or the customer never spoke).
    let customer_spoke = segs.iter().any(|s| s.speaker == Some(Speaker::Customer));
    let seg_intents: Option<Vec<(usize, Prediction)>> = (opts.wants(AnalysisType::Intent) || wants_compliance).then(|| {
        segs.iter()
            .filter(|s| !customer_spoke || s.speaker == Some(Speaker::Customer))
            .flat_map(|s| model.classify_clauses(&s.toks).into_iter().map(move |p| (s.index, p)))
            .collect()
    });

    if wants_compliance {
        out.compliance = Some(compliance_flags(
            &segs,
            seg_sentiment.as_deref().unwrap_or(&[]),
            seg_intents.as_deref().unwrap_or(&[]),
            opts,
        ));
    }
    if opts.wants(AnalysisType::Intent)
        && let Some(si) = &seg_intents
    {
        out.intent = Some(call_intent(&segs, &model, si, seg_entities.as_deref().unwrap_or(&[])));
    }
    if opts.wants(AnalysisType::Sentiment)
        && let Some(ss) = seg_sentiment
    {
        let words: Vec<usize> = segs.iter().map(|s| s.toks.len()).collect();
        out.sentiment = Some(sentiment::aggregate(&words, ss));
    }
    let kws = (opts.wants(AnalysisType::Keywords) || opts.wants(AnalysisType::Topics))
        .then(|| keywords::keywords(&doc, opts.max_keywords.max(10)));
    if opts.wants(AnalysisType::Topics) {
        out.topics = Some(keywords::topics(&doc, &opts.topics, kws.as_deref().unwrap_or(&[]), 3));
    }
    if opts.wants(AnalysisType::Keywords) {
        out.keywords = kws.map(|mut k| {
            k.truncate(opts.max_keywords);
            k
        });
    }
    if opts.wants(AnalysisType::Summary) {
        let n_sentences: usize = segs.iter().map(|s| crate::text::sentences(&s.text).len()).sum();
        let max = opts.summary_sentences.unwrap_or_else(|| summary::default_length(n_sentences));
        out.summary = Some(summary::summarize(&doc, &speakers, max));
    }
    if opts.wants(AnalysisType::Entities) {
        out.entities = seg_entities.map(|e| e.into_iter().flatten().collect());
    }
    Ok(out)
}

fn call_intent(segs: &[Seg], model: &IntentModel, seg_intents: &[(usize, Prediction)], ents: &[Vec<Entity>]) -> IntentResult {
    let customer_spoke = segs.iter().any(|s| s.speaker == Some(Speaker::Customer));
    let found: Vec<&(usize, Prediction)> = seg_intents.iter().filter(|(_, p)| p.name != UNKNOWN).collect();
    let segments: Vec<SegmentIntent> = found
        .iter()
        .map(|(i, p)| SegmentIntent {
            segment: *i,
            name: p.name.clone(),
            confidence: p.confidence,
        })
        .collect();
    // The highest-ranked intent, then the most confident, then the later one (what the caller ended on).
    let best = found.iter().copied().max_by(|a, b| {
        intent::priority(&b.1.name)
            .cmp(&intent::priority(&a.1.name))
            .then(a.1.confidence.total_cmp(&b.1.confidence))
            .then(a.0.cmp(&b.0))
    });
    let Some((seg, p)) = best else {
        // How sure "no intent" is: the least sure of the segments asked.
        let confidence = segs
            .iter()
            .filter(|s| !customer_spoke || s.speaker == Some(Speaker::Customer))
            .map(|s| model.classify_tokens(&s.toks).confidence)
            .fold(1.0f64, f64::min);
        return IntentResult {
            name: UNKNOWN.to_owned(),
            confidence,
            evidence: Vec::new(),
            example: None,
            slots: IntentSlots::default(),
            segments,
        };
    };
    let s = &segs[*seg];
    let evidence = p
        .span
        .map(|(a, b)| vec![Evidence::from_bytes(s.index, &s.text, a, b)])
        .unwrap_or_default();
    IntentResult {
        name: p.name.clone(),
        confidence: p.confidence,
        evidence,
        example: p.nearest.as_ref().map(|n| n.example.clone()),
        slots: slots_for(&p.name, ents.get(*seg).map(Vec::as_slice).unwrap_or(&[])),
        segments,
    }
}

/// The slots an intent carries, from the entities of its segment.
pub fn slots_for(intent: &str, ents: &[Entity]) -> IntentSlots {
    let first = |k: EntityKind| ents.iter().find(|e| e.kind == k).cloned();
    match intent {
        "callback_request" => IntentSlots {
            time: first(EntityKind::DateTime),
            ..IntentSlots::default()
        },
        "payment_promise" => IntentSlots {
            amount: first(EntityKind::Money),
            date: first(EntityKind::DateTime),
            ..IntentSlots::default()
        },
        _ => IntentSlots::default(),
    }
}

fn compliance_flags(segs: &[Seg], sent: &[SegmentSentiment], intents: &[(usize, Prediction)], opts: &AnalyzeOptions) -> Compliance {
    let phrases: Vec<String> = if opts.disclosure_phrases.is_empty() {
        compliance::DEFAULT_DISCLOSURE_PHRASES
            .iter()
            .map(|p| compliance::normalise_phrase(p))
            .collect()
    } else {
        opts.disclosure_phrases.iter().map(|p| compliance::normalise_phrase(p)).collect()
    };
    let agent_spoke = segs.iter().any(|s| s.speaker == Some(Speaker::Agent));
    let disclosure = compliance::first_phrase(
        segs.iter()
            .filter(|s| !agent_spoke || s.speaker == Some(Speaker::Agent))
            .map(|s| (s.index, s.text.as_str())),
        &phrases,
    );
    let customer = |s: &Seg| s.speaker != Some(Speaker::Agent);
    let dnc = intents
        .iter()
        .find(|(_, p)| p.name == "do_not_call")
        .and_then(|(i, p)| p.span.map(|(a, b)| Evidence::from_bytes(*i, &segs[*i].text, a, b)))
        .or_else(|| {
            compliance::first_phrase(
                segs.iter().filter(|s| customer(s)).map(|s| (s.index, s.text.as_str())),
                &compliance::dnc_phrases(),
            )
        });
    // Escalation: a strongly negative customer segment and a request for a person.
    let negative = sent
        .iter()
        .filter(|s| s.speaker != Some(Speaker::Agent) && s.score <= -0.5)
        .min_by(|a, b| a.score.total_cmp(&b.score));
    let transfer = intents.iter().find(|(_, p)| p.name == "transfer_request");
    let escalation = match (negative, transfer) {
        (Some(n), Some((i, p))) => {
            let mut ev: Vec<Evidence> = n.evidence.iter().take(1).cloned().collect();
            if let Some((a, b)) = p.span {
                ev.push(Evidence::from_bytes(*i, &segs[*i].text, a, b));
            }
            Flag {
                value: true,
                evidence: ev,
                reason: Some(format!("customer sentiment {:.2} and a transfer request", n.score)),
            }
        }
        _ => Flag {
            value: false,
            evidence: Vec::new(),
            reason: None,
        },
    };
    let flag = |e: Option<Evidence>| Flag {
        value: e.is_some(),
        evidence: e.into_iter().collect(),
        reason: None,
    };
    Compliance {
        recording_disclosure: flag(disclosure),
        do_not_call: flag(dnc),
        escalation_recommended: escalation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::transcript::Speaker::{Agent, Customer};

    fn call() -> Vec<Segment> {
        [
            (Agent, "Hi, this is Sam from Acme Energy. This call may be recorded for quality."),
            (Customer, "My name is Dana Reyes. I've been charged twice and this is ridiculous."),
            (Agent, "I'm sorry about that. Can I have your account number?"),
            (Customer, "It's account number 55-77123. My card is 4111 1111 1111 1111."),
            (
                Customer,
                "I am furious, this is the worst service ever. Let me speak to a manager right now.",
            ),
            (Agent, "I understand. I'll refund the duplicate charge today."),
            (Customer, "Okay. I'll pay the remaining $45.50 next Friday. Thanks, that's great."),
        ]
        .iter()
        .enumerate()
        .map(|(i, (s, t))| Segment::new(*s, *t, i as i64 * 1000, i as i64 * 1000 + 900))
        .collect()
    }

    fn opts() -> AnalyzeOptions {
        let reference = DateTime::parse_from_rfc3339("2026-12-06T17:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        AnalyzeOptions::at(reference, chrono_tz::America::New_York, Region::parse("US").ok())
    }

    #[test]
    fn full_call_analysis_has_every_part_with_evidence() {
        let segs = call();
        let a = analyze(Input::Segments(&segs), &AnalyzeOptions { types: vec![], ..opts() }).expect("valid");
        assert_eq!(a.status, Status::Completed);
        let red = a.redacted.as_ref().expect("redacted");
        assert!(!red.text.contains("4111"), "{}", red.text);
        assert!(red.spans.iter().any(|s| s.kind == redaction::PiiKind::Card && s.segment == 3));
        let texts = red.segments.as_ref().expect("segments");
        let s = a.sentiment.as_ref().expect("sentiment");
        assert_eq!(s.most_negative.as_ref().map(|m| m.segment), Some(4));
        assert_eq!(s.trend.direction, sentiment::Direction::Improving);
        let c = a.compliance.as_ref().expect("compliance");
        assert!(
            c.recording_disclosure.value && c.escalation_recommended.value && !c.do_not_call.value,
            "{c:?}"
        );
        let i = a.intent.as_ref().expect("intent");
        assert!(i.segments.iter().any(|s| s.name == "transfer_request"), "{i:?}");
        let ents = a.entities.as_ref().expect("entities");
        let kinds: Vec<EntityKind> = ents.iter().map(|e| e.kind).collect();
        assert!(
            kinds.contains(&EntityKind::PersonName) && kinds.contains(&EntityKind::Money) && kinds.contains(&EntityKind::DateTime),
            "{ents:?}"
        );
        assert!(a.summary.as_ref().is_some_and(|s| !s.text.is_empty() && s.engine == "builtin"));
        // Every piece of evidence slices the (redacted) segment text it names.
        let json = serde_json::to_value(&a).expect("json");
        let mut n = 0;
        walk(&json, &mut |ev| {
            let seg = ev["segment"].as_u64().expect("segment") as usize;
            let (start, end) = (
                ev["start"].as_u64().expect("start") as usize,
                ev["end"].as_u64().expect("end") as usize,
            );
            assert_eq!(crate::text::slice_chars(&texts[seg], start, end), ev["text"].as_str(), "{ev}");
            n += 1;
        });
        assert!(n > 10, "only {n} pieces of evidence");
        assert!(!json.to_string().contains("4111 1111"));
    }

    fn walk(v: &serde_json::Value, f: &mut dyn FnMut(&serde_json::Value)) {
        match v {
            serde_json::Value::Object(m) => {
                if m.contains_key("segment") && m.contains_key("start") && m.contains_key("text") && !m.contains_key("redactedStart") {
                    f(v);
                }
                m.values().for_each(|x| walk(x, f));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
            _ => {}
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn evidence_always_slices_its_segment(
            parts in proptest::collection::vec(
                (proptest::bool::ANY, proptest::collection::vec(proptest::sample::select(vec![
                    "I'm NOT happy", "this is awful", "thank you so much", "stop calling me", "call me back tomorrow at 3",
                    "my card is 4111 1111 1111 1111", "mail me at jo@ex.com", "café crème", "naïve ünïcödé", "I'll pay $20 on the 15th",
                    "my name is Zoë", "cancel my account", "the router keeps dropping", "—", "!!", "four one five five five five",
                    "order number AB-1234", "this call may be recorded", "speak to a manager", "\u{1F600} great",
                ]), 1..6)),
                1..6,
            ),
            redact in proptest::bool::ANY,
        ) {
            let segs: Vec<Segment> = parts
                .iter()
                .enumerate()
                .map(|(i, (agent, words))| Segment::new(if *agent { Agent } else { Customer }, words.join(" "), i as i64, i as i64 + 1))
                .collect();
            let types = if redact { vec![] } else { AnalysisType::ALL.iter().copied().filter(|t| *t != AnalysisType::Redaction).collect() };
            let a = analyze(Input::Segments(&segs), &AnalyzeOptions { types, ..opts() }).expect("valid");
            let texts: Vec<String> = match &a.redacted {
                Some(r) => r.segments.clone().expect("segments"),
                None => segs.iter().map(|s| s.text.clone()).collect(),
            };
            let json = serde_json::to_value(&a).expect("json");
            let mut bad = Vec::new();
            walk(&json, &mut |ev| {
                let seg = ev["segment"].as_u64().expect("segment") as usize;
                let (start, end) = (ev["start"].as_u64().expect("start") as usize, ev["end"].as_u64().expect("end") as usize);
                if crate::text::slice_chars(&texts[seg], start, end) != ev["text"].as_str() {
                    bad.push(ev.to_string());
                }
            });
            proptest::prop_assert!(bad.is_empty(), "{:?}", bad);
            if let Some(r) = &a.redacted {
                for sp in &r.spans {
                    proptest::prop_assert!(crate::text::slice_chars(&segs[sp.segment].text, sp.start, sp.end).is_some());
                    proptest::prop_assert_eq!(crate::text::slice_chars(&texts[sp.segment], sp.redacted_start, sp.redacted_end), Some(sp.kind.tag()));
                }
            }
        }
    }

    #[test]
    fn shape_is_camel_case_and_keyed_by_type() {
        let a = analyze(
            Input::Text("I want to cancel my account, the service is terrible."),
            &AnalyzeOptions {
                types: AnalysisType::parse_list(&["sentiment", "intent"]).expect("types"),
                ..opts()
            },
        )
        .expect("valid");
        let j = serde_json::to_value(&a).expect("json");
        assert_eq!(j["status"], "completed");
        assert_eq!(j["engine"], "builtin");
        assert_eq!(j["sentiment"]["label"], "negative");
        assert!(j["sentiment"]["bySpeaker"].is_object() && j["sentiment"]["segments"].is_array());
        assert_eq!(j["intent"]["name"], "cancel_service");
        assert!(j["intent"]["confidence"].as_f64().is_some_and(|c| c > 0.5) && j["intent"]["evidence"].is_array());
        assert!(j.get("keywords").is_none() && j.get("redacted").is_none());
        let back: Analysis = serde_json::from_value(j).expect("round trip");
        assert_eq!(back, a);
    }

    #[test]
    fn bad_input_names_the_field() {
        let big = "a".repeat(MAX_TEXT_BYTES + 1);
        assert_eq!(analyze(Input::Text(&big), &opts()).unwrap_err().field(), "text");
        let many = vec![Segment::new(Customer, "hi", 0, 1); MAX_SEGMENTS + 1];
        assert_eq!(analyze(Input::Segments(&many), &opts()).unwrap_err().field(), "segments");
        assert_eq!(AnalysisType::parse_list(&["sentiment", "vibes"]).unwrap_err().field(), "types[1]");
        let bad_topics = AnalyzeOptions {
            topics: vec![TopicSet {
                name: "x".into(),
                keywords: vec![],
            }],
            ..opts()
        };
        assert_eq!(
            analyze(Input::Text("hello there friend"), &bad_topics).unwrap_err().field(),
            "topics[0].keywords"
        );
    }

    #[test]
    fn empty_and_short_input_is_skipped_but_still_redacted() {
        let a = analyze(Input::Text("  "), &opts()).expect("valid");
        assert_eq!(
            a.status,
            Status::Skipped {
                reason: "no transcript".into()
            }
        );
        let a = analyze(Input::Text("4111111111111111"), &opts()).expect("valid");
        assert_eq!(
            a.status,
            Status::Skipped {
                reason: "too short".into()
            }
        );
        assert_eq!(a.redacted.expect("redacted").text, "[CARD]");
        let j = serde_json::to_value(Analysis::skipped("too short")).expect("json");
        assert_eq!(j["status"], "skipped");
        assert_eq!(j["reason"], "too short");
    }

    #[test]
    fn live_segment_gets_sentiment_and_intent() {
        let m = IntentModel::builtin();
        let t = "Please stop calling me, this is harassment!";
        let l = analyze_live(t, 7, &m, &opts().entities);
        assert_eq!(l.intent.name, "do_not_call");
        assert_eq!(l.sentiment.label, sentiment::Label::Negative);
        assert!(
            l.sentiment
                .evidence
                .iter()
                .chain(&l.intent.evidence)
                .all(|e| e.segment == 7 && e.slice(t) == Some(e.text.as_str()))
        );
        assert!(!l.intent.evidence.is_empty());
        let l = analyze_live("Sorry, I'm driving, call me back tomorrow at 4pm", 2, &m, &opts().entities);
        assert_eq!(l.intent.name, "callback_request");
        assert_eq!(l.intent.slots.time.map(|e| e.value).as_deref(), Some("2026-12-07T16:00:00-05:00"));
    }

    #[test]
    fn callback_and_payment_slots() {
        let segs = vec![Segment::new(Customer, "I'm busy, can you call me back tomorrow at 4pm?", 0, 1)];
        let a = analyze(
            Input::Segments(&segs),
            &AnalyzeOptions {
                types: vec![AnalysisType::Intent],
                ..opts()
            },
        )
        .expect("valid");
        let i = a.intent.expect("intent");
        assert_eq!(i.name, "callback_request");
        assert_eq!(i.slots.time.map(|e| e.value).as_deref(), Some("2026-12-07T16:00:00-05:00"));
        let segs = vec![Segment::new(Customer, "I'll pay $200 on the 15th.", 0, 1)];
        let a = analyze(
            Input::Segments(&segs),
            &AnalyzeOptions {
                types: vec![AnalysisType::Intent],
                ..opts()
            },
        )
        .expect("valid");
        let i = a.intent.expect("intent");
        assert_eq!(i.name, "payment_promise");
        assert_eq!(i.slots.amount.map(|e| e.value).as_deref(), Some("200.00 USD"));
        assert_eq!(i.slots.date.map(|e| e.value).as_deref(), Some("2026-12-15"));
    }
}
