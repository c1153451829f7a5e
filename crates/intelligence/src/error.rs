//! The crate's one error type: input the analysis refuses, naming the field
//! (`text`, `segments`, `types[2]`, `intents[0].examples`) and the rule,
//! and evaluation data the eval commands could not read.

use thiserror::Error;

/// Why an analysis request or an intent set was refused. Every variant
/// names the offending field so the server can answer a 400 with it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IntelligenceError {
    /// A field broke a rule (too long, unknown value, empty list).
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// Evaluation data could not be read (the eval commands only).
    #[error("{path}: {reason}")]
    Data { path: String, reason: String },
}

impl IntelligenceError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The field the error names.
    pub fn field(&self) -> &str {
        match self {
            Self::Invalid { field, .. } => field,
            Self::Data { path, .. } => path,
        }
    }
}
