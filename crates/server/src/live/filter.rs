//! Which events a subscriber wants: type patterns (`call.*`,
//! `transcript.updated`, `*`, `metrics`) and an optional call, parsed once
//! from the request and matched against every event in memory.

use std::collections::BTreeSet;

use switchboard_domain::webhook_events::EVENT_TYPES;

/// Event types the stream carries besides the webhook catalogue's.
pub const STREAM_TYPES: &[(&str, &str)] = &[
    ("template.created", "A call script template was created"),
    ("contact_list.created", "A contact list was created"),
    ("dnc.added", "Numbers were added to the do-not-call list"),
    ("dnc.removed", "A number was removed from the do-not-call list"),
];

/// Families that have no event yet but may be subscribed to already, so
/// clients written for them keep working once the events land.
const FUTURE_CATEGORIES: &[&str] = &["agent"];

/// The synthetic, per-node, once-a-second figures (not in the outbox).
pub const METRICS: &str = "metrics";

/// Every event type a stream may carry.
pub fn known_types() -> impl Iterator<Item = &'static str> {
    EVENT_TYPES.iter().chain(STREAM_TYPES).map(|(t, _)| *t)
}

fn categories() -> BTreeSet<&'static str> {
    known_types()
        .filter_map(|t| t.split_once('.').map(|(c, _)| c))
        .chain(FUTURE_CATEGORIES.iter().copied())
        .collect()
}

/// Every pattern `types` accepts, for the error that lists them.
pub fn valid_patterns() -> Vec<String> {
    let mut out = vec!["*".to_owned(), METRICS.to_owned()];
    out.extend(categories().into_iter().map(|c| format!("{c}.*")));
    out.extend(known_types().map(str::to_owned));
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    All,
    Category(String),
    Exact(String),
}

/// Type patterns, parsed. Empty means every outbox event (not metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeFilter {
    patterns: Vec<Pattern>,
    metrics: bool,
}

/// What is wrong with a `types` list: the offending pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPattern(pub String);

/// Most patterns one subscriber may give (each is matched per event).
pub const MAX_PATTERNS: usize = 32;

impl TypeFilter {
    /// Parses a comma-separated list; an empty or absent list means every
    /// outbox event.
    pub fn parse(list: Option<&str>) -> Result<TypeFilter, BadPattern> {
        let mut f = TypeFilter::default();
        let Some(list) = list else { return Ok(TypeFilter::all()) };
        let cats = categories();
        for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if f.patterns.len() >= MAX_PATTERNS {
                return Err(BadPattern(format!("more than {MAX_PATTERNS} patterns")));
            }
            if raw == "*" {
                f.patterns.push(Pattern::All);
            } else if raw == METRICS {
                f.metrics = true;
            } else if let Some(cat) = raw.strip_suffix(".*") {
                if !cats.contains(cat) {
                    return Err(BadPattern(raw.to_owned()));
                }
                f.patterns.push(Pattern::Category(format!("{cat}.")));
            } else if known_types().any(|t| t == raw) {
                f.patterns.push(Pattern::Exact(raw.to_owned()));
            } else {
                return Err(BadPattern(raw.to_owned()));
            }
        }
        // `types=metrics` alone asks for metrics only.
        if f.patterns.is_empty() && !f.metrics {
            f.patterns.push(Pattern::All);
        }
        Ok(f)
    }

    /// Every outbox event, no metrics.
    pub fn all() -> TypeFilter {
        TypeFilter {
            patterns: vec![Pattern::All],
            metrics: false,
        }
    }

    /// Only these exact families (`transcript.`), for internal subscribers.
    pub fn categories_of(cats: &[&str]) -> TypeFilter {
        TypeFilter {
            patterns: cats.iter().map(|c| Pattern::Category(format!("{c}."))).collect(),
            metrics: false,
        }
    }

    /// Whether the subscriber asked for the `metrics` event.
    pub fn wants_metrics(&self) -> bool {
        self.metrics
    }

    pub fn matches(&self, event_type: &str) -> bool {
        self.patterns.iter().any(|p| match p {
            Pattern::All => true,
            Pattern::Category(prefix) => event_type.starts_with(prefix.as_str()),
            Pattern::Exact(t) => t == event_type,
        })
    }
}

/// A subscriber's whole filter: types, and optionally one call (plus, on a
/// WebSocket, the calls whose transcripts it follows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub types: TypeFilter,
    /// Only this call's events.
    pub call_id: Option<String>,
    /// Also `transcript.*` and `transcription.*` events of these calls,
    /// whatever `types` says.
    pub transcripts: BTreeSet<String>,
}

impl Filter {
    pub fn new(types: TypeFilter, call_id: Option<String>) -> Filter {
        Filter {
            types,
            call_id,
            transcripts: BTreeSet::new(),
        }
    }

    pub fn matches(&self, event_type: &str, call_id: Option<&str>) -> bool {
        if !self.transcripts.is_empty()
            && (event_type.starts_with("transcript.") || event_type.starts_with("transcription."))
            && call_id.is_some_and(|c| self.transcripts.contains(c))
        {
            return true;
        }
        if let Some(want) = &self.call_id
            && call_id != Some(want.as_str())
        {
            return false;
        }
        self.types.matches(event_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_match() {
        let f = TypeFilter::parse(Some("call.*, transcript.*,agent.*,metrics")).unwrap();
        assert!(f.matches("call.answered"));
        assert!(f.matches("transcript.updated"));
        assert!(!f.matches("contact.created"));
        assert!(!f.matches("calls.imported"), "call.* is not a string prefix match of calls.");
        assert!(f.wants_metrics());
        let all = TypeFilter::parse(None).unwrap();
        assert!(all.matches("contact.created") && !all.wants_metrics());
        let only_metrics = TypeFilter::parse(Some("metrics")).unwrap();
        assert!(!only_metrics.matches("call.answered") && only_metrics.wants_metrics());
        let exact = TypeFilter::parse(Some("call.completed")).unwrap();
        assert!(exact.matches("call.completed") && !exact.matches("call.completedx"));
    }

    #[test]
    fn unknown_patterns_are_refused_by_name() {
        assert_eq!(TypeFilter::parse(Some("call.*,calls.nope")), Err(BadPattern("calls.nope".into())));
        assert_eq!(TypeFilter::parse(Some("bogus.*")), Err(BadPattern("bogus.*".into())));
        assert_eq!(TypeFilter::parse(Some("call")), Err(BadPattern("call".into())));
        let many = vec!["call.*"; MAX_PATTERNS + 1].join(",");
        assert!(TypeFilter::parse(Some(&many)).is_err());
        assert!(valid_patterns().contains(&"transcript.*".to_owned()));
    }

    /// docs/live.md has a catalogue entry for every type a stream carries.
    #[test]
    fn the_catalogue_documents_every_type() {
        let doc = include_str!("../../../../docs/live.md");
        for t in known_types() {
            assert!(doc.contains(&format!("### `{t}`")), "docs/live.md lacks an entry for {t}");
        }
    }

    #[test]
    fn call_filter_and_transcript_follows() {
        let mut f = Filter::new(TypeFilter::parse(Some("call.*")).unwrap(), Some("call_a".into()));
        assert!(f.matches("call.answered", Some("call_a")));
        assert!(!f.matches("call.answered", Some("call_b")));
        assert!(!f.matches("call.answered", None));
        f.call_id = None;
        f.types = TypeFilter::parse(Some("contact.*")).unwrap();
        f.transcripts.insert("call_b".into());
        assert!(f.matches("transcript.updated", Some("call_b")));
        assert!(!f.matches("transcript.updated", Some("call_c")));
        assert!(!f.matches("call.answered", Some("call_b")));
    }
}
