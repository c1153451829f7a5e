//! Switchboard's conversation intelligence: pure text and transcript
//! analysis (sentiment, intent, keywords, topics, summary, entities, PII
//! redaction, compliance flags), each result carrying its evidence as
//! character offsets into a segment. No I/O, no async.

pub mod compliance;
pub mod entities;
pub mod error;
pub mod intent;
pub mod keywords;
pub mod redaction;
pub mod sentiment;
pub mod summary;
pub mod text;

pub use error::IntelligenceError;
