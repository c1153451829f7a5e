//! The one API error type. Its HTTP status and stable `code` come from
//! [`ErrorKind`]'s table; dialects render it in their own envelopes (the
//! native one is `{error:{code,message,details:{field,reason}}}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use switchboard_domain::{DomainError, FieldError};
use switchboard_store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidParameter,
    InvalidJson,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    IllegalTransition,
    PayloadTooLarge,
    UnsupportedMediaType,
    RangeNotSatisfiable,
    IdempotencyKeyReused,
    QuotaExceeded,
    TooManyLiveCalls,
    MissingVariables,
    RateLimited,
    Internal,
    Unavailable,
}

impl ErrorKind {
    /// The single table of statuses and codes.
    pub fn status_and_code(self) -> (StatusCode, &'static str) {
        use ErrorKind::*;
        match self {
            InvalidParameter => (StatusCode::BAD_REQUEST, "invalid_parameter"),
            InvalidJson => (StatusCode::BAD_REQUEST, "invalid_json"),
            Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            NotFound => (StatusCode::NOT_FOUND, "not_found"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Conflict => (StatusCode::CONFLICT, "conflict"),
            IllegalTransition => (StatusCode::CONFLICT, "illegal_transition"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            RangeNotSatisfiable => (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable"),
            IdempotencyKeyReused => (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
            QuotaExceeded => (StatusCode::PAYMENT_REQUIRED, "quota_exceeded"),
            TooManyLiveCalls => (StatusCode::TOO_MANY_REQUESTS, "concurrent_calls_exceeded"),
            MissingVariables => (StatusCode::UNPROCESSABLE_ENTITY, "missing_variables"),
            RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            details: None,
        }
    }

    /// A bad field: names it and the rule it broke.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let (field, reason) = (field.into(), reason.into());
        Self {
            kind: ErrorKind::InvalidParameter,
            message: format!("The parameter '{field}' is invalid: {reason}"),
            details: Some(json!({ "field": field, "reason": reason })),
        }
    }

    /// A rule between two fields broken: names both (`details.related` is the other).
    pub fn pair(field: impl Into<String>, related: impl Into<String>, reason: impl Into<String>) -> Self {
        let (field, related, reason) = (field.into(), related.into(), reason.into());
        Self {
            kind: ErrorKind::InvalidParameter,
            message: format!("The parameters '{field}' and '{related}' disagree: {field} {reason}"),
            details: Some(json!({ "field": field, "related": related, "reason": reason })),
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorKind::NotFound, format!("{} not found", capitalise(what)))
    }

    pub fn internal() -> Self {
        Self::new(ErrorKind::Internal, "Something went wrong on our end")
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status_and_code().0
    }

    pub fn code(&self) -> &'static str {
        self.kind.status_and_code().1
    }

    /// The native (SaaS v1) body.
    pub fn native_body(&self) -> Value {
        let mut error = json!({ "code": self.code(), "message": self.message });
        if let Some(d) = &self.details {
            error["details"] = d.clone();
        }
        json!({ "error": error })
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        match e.related {
            Some(related) => ApiError::pair(e.field, related, e.reason),
            None => ApiError::field(e.field, e.reason),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(f) => f.into(),
            DomainError::IllegalTransition { from, to } => ApiError {
                kind: ErrorKind::IllegalTransition,
                message: format!("A call cannot move from '{from}' to '{to}'"),
                details: Some(json!({ "from": from, "to": to })),
            },
            DomainError::IllegalAgentTransition { from, to } => ApiError {
                kind: ErrorKind::IllegalTransition,
                message: format!("An agent cannot move from '{from}' to '{to}'"),
                details: Some(json!({ "field": "status", "reason": format!("cannot move from {from} to {to}"), "from": from, "to": to })),
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(what) => ApiError::new(ErrorKind::Conflict, capitalise(&what)),
            StoreError::Domain(d) => d.into(),
            StoreError::Invalid(f) => f.into(),
            StoreError::QuotaExceeded { limit, used } => ApiError {
                kind: ErrorKind::QuotaExceeded,
                message: format!("The plan's monthly quota of {limit} calls is used up; upgrade the plan or wait for next month"),
                details: Some(json!({ "limit": limit, "used": used })),
            },
            StoreError::TooManyLiveCalls { limit, live } => ApiError {
                kind: ErrorKind::TooManyLiveCalls,
                message: format!("The plan allows {limit} calls live at once and {live} are live; place the call when one ends"),
                details: Some(json!({ "limit": limit, "live": live })),
            },
            StoreError::IdempotencyKeyTaken => ApiError::new(ErrorKind::Conflict, "A request with this Idempotency-Key is in progress"),
            StoreError::Backend(msg) => {
                tracing::error!(error = %msg, "store failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), message = %self.message, "request failed");
        }
        let mut resp = (status, axum::Json(self.native_body())).into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
