//! Request extractors that turn malformed input into errors naming the
//! field and the rule: JSON bodies (with the path of a mistyped field),
//! query strings, pagination and dates.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use chrono::{NaiveDate, TimeZone as _};
use serde::de::DeserializeOwned;
use switchboard_domain::{TimeZone, Timestamp};
use switchboard_store::Page;

use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;

/// A JSON body, parsed strictly, with its raw bytes kept for idempotency.
///
/// By default ([`Strict`]) a field the type does not know (`custmerName`,
/// a misspelt `scheduledAt`) is refused with 400 naming it, so a client's
/// typo never silently drops data; a client that must send extras opts out
/// per request with `Prefer: handling=lenient` (RFC 7240). Dialect routes,
/// whose clients send fields of their own products, take
/// `JsonBody<T, Lenient>`.
pub struct JsonBody<T, M = Strict> {
    pub value: T,
    pub raw: Bytes,
    _mode: std::marker::PhantomData<M>,
}

/// Unknown fields are refused (unless the request prefers lenient handling).
pub struct Strict;
/// Unknown fields are ignored.
pub struct Lenient;

/// How a [`JsonBody`] treats fields its type does not know.
pub trait UnknownFields {
    const REFUSE: bool;
}

impl UnknownFields for Strict {
    const REFUSE: bool = true;
}

impl UnknownFields for Lenient {
    const REFUSE: bool = false;
}

/// The request header that turns unknown-field refusal off for one request.
pub const PREFER_LENIENT: &str = "handling=lenient";

/// Does the request ask for lenient handling (`Prefer: handling=lenient`)?
pub fn prefers_lenient(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .any(|p| p.trim().eq_ignore_ascii_case(PREFER_LENIENT))
}

/// Parses JSON like [`parse_json`], and refuses the first field that `T`
/// does not know, naming it (every unknown one is listed in `details.unknown`).
pub fn parse_json_strict<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return parse_json(raw);
    }
    let mut unknown: Vec<String> = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(raw);
    let parsed: Result<T, _> = serde_ignored::deserialize(&mut de, |path| unknown.push(field_path(&path)));
    let value = match parsed.and_then(|v| de.end().map(|_| v)) {
        Ok(v) => v,
        // A refused body is parsed again to name the field at fault.
        Err(_) => return parse_json(raw),
    };
    match unknown.first() {
        None => Ok(value),
        Some(first) => Err(ApiError::field(
            first.clone(),
            "is not a field of this request (check its spelling; send 'Prefer: handling=lenient' to have unknown fields ignored)",
        )
        .with_details(serde_json::json!({
            "field": first,
            "reason": "unknown field",
            "unknown": unknown,
        }))),
    }
}

/// Reads a body, mapping an oversize one to 413 in our error shape.
pub async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rej| {
        if rej.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorKind::PayloadTooLarge,
                format!("The request body is larger than the limit of {} bytes", state.cfg.body_limit),
            )
        } else {
            ApiError::new(ErrorKind::InvalidJson, format!("The request body could not be read: {rej}"))
        }
    })
}

/// Parses JSON, naming the path of the first bad field.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(ErrorKind::InvalidJson, "The request body must be a JSON object"));
    }
    // Well-formed bodies parse without path tracking; only a refused one is
    // parsed again to name the field at fault.
    if let Ok(v) = serde_json::from_slice(raw) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::new(ErrorKind::InvalidJson, format!("The request body is not valid JSON: {inner}"))
        } else if path == "." || path.is_empty() {
            let msg = inner.to_string();
            match msg.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
                Some(field) => ApiError::field(field, "is required"),
                None => ApiError::new(ErrorKind::InvalidJson, format!("The request body has the wrong shape: {msg}")),
            }
        } else {
            ApiError::field(path, strip_position(&inner.to_string()))
        }
    })
}

/// A field's path as errors name it: `schedule.callHours.start`, `steps[2].say`.
fn field_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", field_path(parent)),
        Path::Map { parent, key } => {
            let p = field_path(parent);
            if p.is_empty() { key.clone() } else { format!("{p}.{key}") }
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => field_path(parent),
    }
}

/// serde_json appends "at line 1 column 17"; the field name says more.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

impl<T: DeserializeOwned + Send, M: UnknownFields + Send> FromRequest<AppState> for JsonBody<T, M> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let strict = M::REFUSE && !prefers_lenient(req.headers());
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        if let Some(ct) = &content_type
            && !ct.starts_with("application/json")
            && !ct.contains("+json")
        {
            return Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                format!("Content-Type must be application/json, not '{ct}'"),
            ));
        }
        let raw = body_bytes(req, state).await?;
        let value = if strict { parse_json_strict(&raw)? } else { parse_json(&raw)? };
        Ok(JsonBody {
            value,
            raw,
            _mode: std::marker::PhantomData,
        })
    }
}

/// The query string as name → value (the last value wins).
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let map: HashMap<String, String> = serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .map(|pairs| pairs.into_iter().collect())
            .map_err(|e| ApiError::new(ErrorKind::InvalidParameter, format!("The query string is malformed: {e}")))?;
        // The native API takes a parameter left empty for a mistake; the
        // dialects, whose clients send `?startDate=` for "any", read it as absent.
        if parts.uri.path().starts_with("/v1/")
            && let Some((name, _)) = map.iter().find(|(_, v)| v.is_empty())
        {
            return Err(ApiError::field(name.clone(), "must not be empty (leave the parameter out instead)"));
        }
        Ok(QueryMap(map))
    }
}

impl QueryMap {
    /// A parameter, trimmed; an empty one is absent (a blank one is an
    /// empty value, which every parameter's rule refuses).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).filter(|s| !s.is_empty()).map(|s| s.trim())
    }

    /// An integer parameter within `min..=max`.
    pub fn int(&self, name: &str, default: u32, min: u32, max: u32) -> Result<u32, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::field(name, format!("must be an integer from {min} to {max}"))),
            },
        }
    }

    /// `page` (≥ 1) and `limit` (1..=max_limit, default `default_limit`).
    pub fn page(&self, default_limit: u32, max_limit: u32) -> Result<Page, ApiError> {
        Ok(Page {
            page: self.int("page", 1, 1, 1_000_000)?,
            limit: self.int("limit", default_limit, 1, max_limit)?,
        })
    }

    /// A start bound: an RFC 3339 instant, or a date meaning its first instant in `tz`.
    pub fn start(&self, name: &str, tz: TimeZone) -> Result<Option<Timestamp>, ApiError> {
        self.get(name).map(|v| parse_instant(name, v, tz, false)).transpose()
    }

    /// An end bound (exclusive): an RFC 3339 instant, or a date meaning the
    /// whole of that day in `tz`.
    pub fn end(&self, name: &str, tz: TimeZone) -> Result<Option<Timestamp>, ApiError> {
        self.get(name).map(|v| parse_instant(name, v, tz, true)).transpose()
    }
}

/// Reads an instant (RFC 3339) or a calendar date (YYYY-MM-DD) in `tz`;
/// with `end_of_day`, a date means the start of the next day.
pub fn parse_instant(field: &str, v: &str, tz: TimeZone, end_of_day: bool) -> Result<Timestamp, ApiError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(switchboard_domain::truncate(t.with_timezone(&chrono::Utc)));
    }
    let bad = || ApiError::field(field, "must be an ISO 8601 date (2025-05-20) or date-time (2025-05-20T15:30:00Z)");
    let date = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| bad())?;
    let date = if end_of_day { date.succ_opt().ok_or_else(bad)? } else { date };
    let midnight = date.and_hms_opt(0, 0, 0).ok_or_else(bad)?;
    // The first instant of the local day (a DST gap at midnight moves it later).
    let local =
        tz.0.from_local_datetime(&midnight)
            .earliest()
            .or_else(|| tz.0.from_local_datetime(&(midnight + chrono::Duration::hours(1))).earliest())
            .ok_or_else(bad)?;
    Ok(local.with_timezone(&chrono::Utc))
}

/// Checks `start < end` when both are given.
pub fn check_range(start: Option<Timestamp>, end: Option<Timestamp>, start_name: &str) -> Result<(), ApiError> {
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        return Err(ApiError::field(start_name, "must be before endDate"));
    }
    Ok(())
}

/// Parses a path id of type `T`; an id that cannot exist is simply not found.
pub fn path_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_local_days() {
        let kolkata = TimeZone::parse("tz", "Asia/Kolkata").unwrap();
        let s = parse_instant("startDate", "2025-05-20", kolkata, false).unwrap();
        assert_eq!(s.to_rfc3339(), "2025-05-19T18:30:00+00:00");
        let e = parse_instant("endDate", "2025-05-20", kolkata, true).unwrap();
        assert_eq!(e.to_rfc3339(), "2025-05-20T18:30:00+00:00");
        assert!(parse_instant("endDate", "20-05-2025", kolkata, true).is_err());
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        struct In {
            #[allow(dead_code)]
            duration: Option<i64>,
            #[allow(dead_code)]
            inner: Option<Inner>,
        }
        #[derive(serde::Deserialize, Debug)]
        struct Inner {
            #[allow(dead_code)]
            n: u8,
        }
        let e = parse_json::<In>(br#"{"duration": "long"}"#).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "duration");
        let e = parse_json::<In>(br#"{"inner": {"n": 300}}"#).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "inner.n");
        let e = parse_json::<In>(br#"{"inner": {}}"#).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "inner");
        let e = parse_json::<In>(b"{nope").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidJson);
        let e = parse_json::<In>(b"[1]").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidJson);
    }
}
