//! The store's error type.

use switchboard_domain::{DomainError, FieldError};
use thiserror::Error;

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// No such entity in this organisation.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was broken; names what clashed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A domain rule refused the change.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The request referred to something that does not exist.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The organisation's plan allows no more calls this month.
    #[error("monthly call quota of {limit} reached")]
    QuotaExceeded { limit: u64, used: u64 },
    /// The organisation already has its plan's cap of calls live.
    #[error("{limit} calls live at once reached")]
    TooManyLiveCalls { limit: u64, live: u64 },
    /// The idempotency key was taken by a request committed concurrently.
    #[error("idempotency key already used")]
    IdempotencyKeyTaken,
    /// The database failed; the text is for logs only.
    #[error("database error: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound("row"),
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Backend(format!("stored JSON: {e}"))
    }
}
