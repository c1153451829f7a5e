//! Domain errors: validation failures that name the field and the rule, and
//! illegal state transitions that name both states.

use thiserror::Error;

/// One rejected input field: which one, and which rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
    /// The other field a rule between two fields names (`initiatedAt` when
    /// `endedAt` comes before it).
    pub related: Option<String>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
            related: None,
        }
    }

    /// A rule between two fields, naming both.
    pub fn pair(field: impl Into<String>, related: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
            related: Some(related.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("illegal call status transition from {from} to {to}")]
    IllegalTransition { from: &'static str, to: &'static str },
    /// An agent's status cannot move from `from` to `to`.
    #[error("illegal agent status transition from {from} to {to}")]
    IllegalAgentTransition { from: &'static str, to: &'static str },
}
