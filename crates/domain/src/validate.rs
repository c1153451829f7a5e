//! Input limits and checks shared by every dialect. Each check names the
//! field and the rule it enforces.

use serde_json::Value;

use crate::Timestamp;
use crate::error::FieldError;

/// Longest free-text field (names, ids, call types).
pub const MAX_SHORT_TEXT: usize = 256;
/// Longest long-text field (notes, summaries).
pub const MAX_LONG_TEXT: usize = 65_536;
/// Longest transcript.
pub const MAX_TRANSCRIPT: usize = 1_048_576;
/// Largest free JSON object (customer context, metadata, custom fields), serialised.
pub const MAX_JSON_BYTES: usize = 16_384;
/// Deepest nesting inside a free JSON object.
pub const MAX_JSON_DEPTH: usize = 8;
/// Most tags or topics on one record.
pub const MAX_LIST_ITEMS: usize = 100;

/// Trims `value`; rejects it when empty or longer than `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if v.contains('\0') {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    Ok(v.to_owned())
}

/// Like [`text`], for optional fields.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, FieldError> {
    value.map(|v| text(field, v, max)).transpose()
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A free-form JSON object (customer context, metadata, ...).
pub fn json_object(field: &str, value: &Value) -> Result<Value, FieldError> {
    if !value.is_object() {
        return Err(FieldError::new(field, "must be a JSON object"));
    }
    if depth(value) > MAX_JSON_DEPTH {
        return Err(FieldError::new(field, format!("must nest at most {MAX_JSON_DEPTH} levels deep")));
    }
    let text = serde_json::to_string(value).unwrap_or_default();
    if text.len() > MAX_JSON_BYTES {
        return Err(FieldError::new(field, format!("must be at most {MAX_JSON_BYTES} bytes as JSON")));
    }
    if text.contains("\\u0000") {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    Ok(value.clone())
}

/// A list of short labels (tags, topics): trimmed, non-empty, de-duplicated, bounded.
pub fn labels(field: &str, values: &[String]) -> Result<Vec<String>, FieldError> {
    if values.len() > MAX_LIST_ITEMS {
        return Err(FieldError::new(field, format!("must have at most {MAX_LIST_ITEMS} items")));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let v = text(&format!("{field}[{i}]"), v, MAX_SHORT_TEXT)?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// A minimal e-mail check: one `@` with text on both sides and a dot in the domain.
pub fn email(field: &str, value: &str) -> Result<String, FieldError> {
    let v = text(field, value, MAX_SHORT_TEXT)?;
    let ok = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !v.contains(char::is_whitespace)
        }
        None => false,
    };
    if ok {
        Ok(v)
    } else {
        Err(FieldError::new(field, "must be an e-mail address like name@example.com"))
    }
}

/// An absolute http(s) URL.
pub fn url(field: &str, value: &str) -> Result<String, FieldError> {
    let v = text(field, value, 2048)?;
    let lower = v.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !v.contains(char::is_whitespace) => Ok(v),
        _ => Err(FieldError::new(field, "must be an absolute http or https URL")),
    }
}

/// The window a time given to us must fall in. Times outside any sane span
/// (year 1 or 9999) are refused where they enter, because everything
/// downstream (analytics buckets, exports, schedules) scales with the span
/// of the times it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeWindow {
    /// When something happened (a call's start, answer, end; an event):
    /// from 2000-01-01 to two years ahead (clock skew and time zones
    /// mistaken by clients stay far inside it).
    Reported,
    /// When a call is to be placed: from 2000-01-01 to one year ahead.
    Scheduled,
    /// Plans and expiries (campaign dates, key expiry): from 2000-01-01 to
    /// ten years ahead.
    Planned,
}

/// The earliest instant any window allows: 2000-01-01T00:00:00Z.
pub const EARLIEST_SECS: i64 = 946_684_800;

impl TimeWindow {
    /// How far ahead of `now` the window reaches.
    pub fn ahead(self) -> chrono::Duration {
        match self {
            Self::Reported => chrono::Duration::days(2 * 365),
            Self::Scheduled => chrono::Duration::days(365),
            Self::Planned => chrono::Duration::days(10 * 365),
        }
    }

    fn ahead_words(self) -> &'static str {
        match self {
            Self::Reported => "two years",
            Self::Scheduled => "one year",
            Self::Planned => "ten years",
        }
    }

    /// `[earliest, latest]` at `now`.
    pub fn bounds(self, now: Timestamp) -> (Timestamp, Timestamp) {
        let earliest = chrono::DateTime::from_timestamp(EARLIEST_SECS, 0).unwrap_or(now);
        (earliest, now + self.ahead())
    }

    /// Checks `t` against the window at `now`, naming `field` when outside.
    pub fn check(self, field: &str, t: Timestamp, now: Timestamp) -> Result<Timestamp, FieldError> {
        let (lo, hi) = self.bounds(now);
        if t < lo || t > hi {
            return Err(FieldError::new(
                field,
                format!(
                    "must be between 2000-01-01T00:00:00Z and {} ({} from now)",
                    hi.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    self.ahead_words()
                ),
            ));
        }
        Ok(t)
    }
}

/// A non-negative number no larger than `max`.
pub fn non_negative(field: &str, value: f64, max: f64) -> Result<f64, FieldError> {
    if !value.is_finite() || value < 0.0 || value > max {
        return Err(FieldError::new(field, format!("must be a number between 0 and {max}")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_limits_name_the_field() {
        assert!(json_object("customerContext", &json!({"a": 1})).is_ok());
        assert_eq!(json_object("metadata", &json!([1])).unwrap_err().field, "metadata");
        let deep = (0..20).fold(json!(1), |acc, _| json!({ "a": acc }));
        assert!(json_object("metadata", &deep).unwrap_err().reason.contains("nest"));
        let big = json!({ "a": "x".repeat(MAX_JSON_BYTES) });
        assert!(json_object("metadata", &big).unwrap_err().reason.contains("bytes"));
    }

    #[test]
    fn time_windows_refuse_the_extremes_and_name_the_field() {
        let now: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
        let at = |s: &str| -> Timestamp { s.parse().unwrap() };
        for w in [TimeWindow::Reported, TimeWindow::Scheduled, TimeWindow::Planned] {
            for bad in ["0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"] {
                let e = w.check("initiatedAt", at(bad), now).unwrap_err();
                assert_eq!(e.field, "initiatedAt");
                assert!(e.reason.contains("2000-01-01"), "{}", e.reason);
            }
            assert!(w.check("t", at("2000-01-01T00:00:00Z"), now).is_ok());
            assert!(w.check("t", now, now).is_ok());
        }
        // Scheduled calls reach one year ahead, reported times two.
        let in_18_months = now + chrono::Duration::days(548);
        assert!(TimeWindow::Scheduled.check("scheduled", in_18_months, now).is_err());
        assert!(TimeWindow::Reported.check("endedAt", in_18_months, now).is_ok());
        assert!(
            TimeWindow::Reported
                .check("endedAt", now + chrono::Duration::days(731), now)
                .is_err()
        );
    }

    #[test]
    fn nul_characters_are_refused() {
        assert!(text("name", "a\0b", 10).is_err());
        assert!(json_object("metadata", &json!({"k": "a\u{0}b"})).is_err());
    }

    #[test]
    fn labels_are_trimmed_and_deduplicated() {
        let l = labels("tags", &[" vip ".into(), "vip".into(), "customer".into()]).unwrap();
        assert_eq!(l, vec!["vip", "customer"]);
        assert_eq!(labels("tags", &["".into()]).unwrap_err().field, "tags[0]");
    }

    #[test]
    fn emails_and_urls() {
        assert!(email("email", "john.smith@example.com").is_ok());
        for bad in ["john", "@x.com", "a@b", "a b@c.com"] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
        assert!(url("recordingUrl", "https://s3.amazonaws.com/r.mp3").is_ok());
        assert!(url("recordingUrl", "ftp://x").is_err());
    }
}
