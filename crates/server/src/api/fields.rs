//! Field parsers shared by every dialect: each takes the field's name as
//! the client spelled it, so errors name it.

use serde_json::Value;
use switchboard_domain::call::Sentiment;
use switchboard_domain::validate::{self, MAX_LONG_TEXT, MAX_SHORT_TEXT, MAX_TRANSCRIPT, TimeWindow};
use switchboard_domain::{CallStatus, Direction, FieldError, Organisation, PhoneNumber, TimeZone, Timestamp};

use crate::error::ApiError;

/// A phone number we may dial, checked against the organisation's rules.
pub fn phone(field: &str, value: &str, org: &Organisation) -> Result<PhoneNumber, ApiError> {
    Ok(PhoneNumber::parse(field, value, org.region(), org.phone_strictness)?)
}

pub fn opt_phone(field: &str, value: Option<&str>, org: &Organisation) -> Result<Option<String>, ApiError> {
    value.map(|v| phone(field, v, org).map(|p| p.to_string())).transpose()
}

/// Short text: names, ids, labels.
pub fn short(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    Ok(validate::opt_text(field, value, MAX_SHORT_TEXT)?)
}

/// Long text: notes, summaries.
pub fn long(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    Ok(validate::opt_text(field, value, MAX_LONG_TEXT)?)
}

pub fn transcript(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    Ok(validate::opt_text(field, value, MAX_TRANSCRIPT)?)
}

/// A free JSON object (customer context, metadata, variables, ...).
pub fn object(field: &str, value: Option<&Value>) -> Result<Option<Value>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Ok(Some(validate::json_object(field, v)?)),
    }
}

pub fn labels(field: &str, value: Option<&[String]>) -> Result<Option<Vec<String>>, ApiError> {
    value.map(|v| validate::labels(field, v)).transpose().map_err(Into::into)
}

pub fn url(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    value.map(|v| validate::url(field, v)).transpose().map_err(Into::into)
}

/// An RFC 3339 instant inside `window` (see [`TimeWindow`]). Every time a
/// client gives us passes here, so none is stored outside a sane span:
/// [`reported`], [`scheduled`] and [`planned`] name the window.
pub fn instant(field: &str, value: Option<&str>, window: TimeWindow) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(|v| {
            let t = chrono::DateTime::parse_from_rfc3339(v.trim())
                .map(|t| switchboard_domain::truncate(t.with_timezone(&chrono::Utc)))
                .map_err(|_| ApiError::field(field, "must be an ISO 8601 date-time with a zone, e.g. 2025-05-20T15:30:00Z"))?;
            Ok(window.check(field, t, switchboard_domain::now())?)
        })
        .transpose()
}

/// When something happened: 2000-01-01 to two years ahead.
pub fn reported(field: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    instant(field, value, TimeWindow::Reported)
}

/// When a call is to be placed: 2000-01-01 to one year ahead.
pub fn scheduled(field: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    instant(field, value, TimeWindow::Scheduled)
}

/// Plans and expiries: 2000-01-01 to ten years ahead.
pub fn planned(field: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    instant(field, value, TimeWindow::Planned)
}

pub fn status(field: &str, value: Option<&str>) -> Result<Option<CallStatus>, ApiError> {
    value
        .map(|v| {
            CallStatus::parse(v).ok_or_else(|| {
                ApiError::field(field, "must be one of scheduled, queued, initiated, ringing, in-progress, completed, busy, no-answer, failed, cancelled, voicemail")
            })
        })
        .transpose()
}

pub fn direction(field: &str, value: Option<&str>) -> Result<Option<Direction>, ApiError> {
    value
        .map(|v| Direction::parse(v).ok_or_else(|| ApiError::field(field, "must be 'inbound' or 'outbound'")))
        .transpose()
}

pub fn sentiment(field: &str, value: Option<&str>) -> Result<Option<Sentiment>, ApiError> {
    value
        .map(|v| Sentiment::parse(v).ok_or_else(|| ApiError::field(field, "must be 'positive', 'negative', 'neutral' or 'mixed'")))
        .transpose()
}

/// Call duration in whole seconds (up to 7 days).
pub fn duration(field: &str, value: Option<i64>) -> Result<Option<i64>, ApiError> {
    match value {
        Some(d) if !(0..=604_800).contains(&d) => Err(ApiError::field(field, "must be a whole number of seconds from 0 to 604800")),
        other => Ok(other),
    }
}

pub fn cost(field: &str, value: Option<f64>) -> Result<Option<f64>, ApiError> {
    value
        .map(|v| validate::non_negative(field, v, 1_000_000.0))
        .transpose()
        .map_err(Into::into)
}

pub fn email(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    value.map(|v| validate::email(field, v)).transpose().map_err(Into::into)
}

pub fn time_zone(field: &str, value: Option<&str>) -> Result<Option<TimeZone>, ApiError> {
    value
        .map(|v| TimeZone::parse(field, v))
        .transpose()
        .map_err(|e: FieldError| e.into())
}
