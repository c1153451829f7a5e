//! Switchboard's conversation intelligence: pure text and transcript
//! analysis (sentiment, intent, keywords, topics, summary, entities, PII
//! redaction, compliance flags), each result carrying its evidence as
//! character offsets into a segment. No I/O, no async.
//!
//! The server calls [`analyze`] for a call or an ad-hoc request,
//! [`analyze_live`] for each live segment, [`IntentModel::new`] to build an
//! organisation's intent set, and [`redaction::redact`] where only
//! redaction is wanted. [`eval`] and [`bench`] back the `switchboard eval`
//! and `switchboard bench analysis` commands.

pub mod analysis;
pub mod bench;
pub mod compliance;
pub mod entities;
pub mod error;
pub mod eval;
pub mod intent;
pub mod keywords;
pub mod redaction;
pub mod sentiment;
pub mod summary;
pub mod text;

pub use analysis::{Analysis, AnalysisType, AnalyzeOptions, Input, LiveAnalysis, RedactedTranscript, Status, analyze, analyze_live};
pub use entities::{Entity, EntityKind, EntityOptions};
pub use error::IntelligenceError;
pub use intent::{IntentModel, IntentResult, Prediction};
pub use keywords::TopicSet;
pub use text::Evidence;
