//! The Vocelio API (`/api/auth`, `/api/users`, `/api/voice(s)`, `/api/calls`,
//! ...): its envelope `{success, data, meta}`, its error codes
//! (`AUTH_001`, `VALIDATION_002`, ...) mapped from the core's error table in
//! [`code`], its pagination and its hourly rate limits. Handlers turn
//! requests into core commands and render core results; no business rule
//! lives here. One file per resource.

pub mod analytics;
pub mod auth;
pub mod call_events;
pub mod calls;
pub mod campaigns;
pub mod users;
pub mod voices;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;

/// The version every envelope names.
pub const VERSION: &str = "v1";

/// Does this path belong to the Vocelio dialect? (The Callmind and Call
/// Ribbon routes under `/api/` keep their own envelopes.)
pub fn serves(path: &str) -> bool {
    if path.starts_with("/auth/") {
        return true;
    }
    path.starts_with("/api/")
        && !path.starts_with("/api/call-history")
        && !path.starts_with("/api/ribbon/")
        && !path.starts_with("/api/webhooks/calls/")
}

/// Requests per hour by plan (the reference's table; the core's unlimited
/// plan has none).
pub fn hourly_limit(plan: &str) -> Option<u64> {
    match plan {
        "standard" => Some(1_000),
        "professional" => Some(5_000),
        "enterprise" => Some(25_000),
        _ => None,
    }
}

/// The Vocelio code for a core error: the one mapping of the dialect.
pub fn code(e: &ApiError) -> &'static str {
    use ErrorKind::*;
    match e.kind {
        InvalidParameter => {
            let reason = e.details.as_ref().and_then(|d| d["reason"].as_str()).unwrap_or_default();
            if reason.starts_with("is required") {
                "VALIDATION_001"
            } else if [
                "at most", "at least", "from ", "between", "before", "after", "too long", "too many", "ahead",
            ]
            .iter()
            .any(|w| reason.contains(w))
            {
                "VALIDATION_003"
            } else {
                "VALIDATION_002"
            }
        }
        InvalidJson | UnsupportedMediaType => "VALIDATION_002",
        PayloadTooLarge | RangeNotSatisfiable => "VALIDATION_003",
        MissingVariables => "VALIDATION_001",
        Unauthorized => "AUTH_001",
        Forbidden => "AUTH_003",
        NotFound => "RESOURCE_001",
        Conflict | IdempotencyKeyReused => "RESOURCE_002",
        IllegalTransition | MethodNotAllowed => "RESOURCE_003",
        QuotaExceeded | TooManyLiveCalls | RateLimited => "SERVICE_002",
        Unavailable => "SERVICE_001",
        Internal => "SYSTEM_001",
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioMeta)]
pub struct Meta {
    pub timestamp: String,
    pub request_id: String,
    pub version: &'static str,
}

/// The request's id and the moment of the answer, for `meta`.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
}

impl Ctx {
    pub fn meta(&self) -> Meta {
        Meta {
            timestamp: chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            request_id: self.request_id.clone(),
            version: VERSION,
        }
    }

    /// `{success: true, data, meta}` with `status`.
    pub fn ok<T: Serialize>(&self, status: StatusCode, data: T) -> Response {
        (status, axum::Json(json!({"success": true, "data": data, "meta": self.meta()}))).into_response()
    }

    /// `{success: true, data: [...], pagination, meta}`.
    pub fn list<T: Serialize>(&self, data: Vec<T>, total: u64, page: &Paging) -> Response {
        axum::Json(json!({
            "success": true,
            "data": data,
            "pagination": Pagination::new(total, page),
            "meta": self.meta(),
        }))
        .into_response()
    }
}

fn request_id(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Ctx {
            request_id: request_id(&parts.headers),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T: ToSchema> {
    pub success: bool,
    pub data: T,
    pub meta: Meta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListEnvelope<T: ToSchema> {
    pub success: bool,
    pub data: Vec<T>,
    pub pagination: Pagination,
    pub meta: Meta,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioPagination)]
pub struct Pagination {
    pub page: u32,
    pub limit: u32,
    pub total: u64,
    pub pages: u64,
    pub has_next: bool,
    pub has_prev: bool,
}

impl Pagination {
    pub fn new(total: u64, p: &Paging) -> Self {
        let pages = total.div_ceil(u64::from(p.page.limit.max(1)));
        Pagination {
            page: p.page.page,
            limit: p.page.limit,
            total,
            pages,
            has_next: u64::from(p.page.page) < pages,
            has_prev: p.page.page > 1,
        }
    }
}

/// `page`, `limit`, `sort` and `order` of a list route.
#[derive(Debug, Clone)]
pub struct Paging {
    pub page: switchboard_store::Page,
    pub sort: Option<String>,
    pub descending: bool,
}

impl Paging {
    /// Reads the parameters; `sort` must be one of `sortable`.
    pub fn read(q: &crate::extract::QueryMap, sortable: &[&str]) -> Result<Self, ApiError> {
        let page = q.page(20, 100)?;
        let sort = q
            .get("sort")
            .map(|s| {
                sortable
                    .iter()
                    .find(|k| **k == s)
                    .map(|k| (*k).to_owned())
                    .ok_or_else(|| ApiError::field("sort", format!("must be one of {}", sortable.join(", "))))
            })
            .transpose()?;
        let descending = match q.get("order") {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(_) => return Err(ApiError::field("order", "must be 'asc' or 'desc'")),
        };
        Ok(Paging { page, sort, descending })
    }
}

/// The error envelope, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct VocelioErrorBody {
    /// Always false.
    pub success: bool,
    pub error: VocelioError,
    pub meta: Meta,
}

#[derive(Serialize, ToSchema)]
pub struct VocelioError {
    /// AUTH_001..003, VALIDATION_001..003, RESOURCE_001..003, SERVICE_001..003, SYSTEM_001..003.
    pub code: String,
    pub message: String,
    /// `{field, reason}` for bad input, plus the core's `core_code`.
    #[schema(value_type = Object)]
    pub details: Value,
}

/// Renders core errors on Vocelio routes in Vocelio's envelope (every
/// error: the guard's, the extractors' and the handlers'). `AUTH_002` is
/// a correctly signed access token whose expiry has passed.
pub async fn render(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !serves(req.uri().path()) {
        return next.run(req).await;
    }
    let rid = request_id(req.headers());
    let bearer = crate::identity::auth::presented(req.headers()).map(str::to_owned);
    let resp = next.run(req).await;
    let Some(e) = resp.extensions().get::<ApiError>().cloned() else {
        return resp;
    };
    let mut code = code(&e);
    if e.kind == ErrorKind::Unauthorized
        && let Some(t) = bearer.filter(|t| crate::identity::tokens::looks_like_jwt(t))
        && let Ok(keys) = state.jwt().await
        && keys.expired(&t, state.clock.now())
    {
        code = "AUTH_002";
    }
    let mut details = match e.details.clone() {
        Some(Value::Object(m)) => Value::Object(m),
        Some(other) => json!({ "info": other }),
        None => json!({}),
    };
    details["core_code"] = json!(e.code());
    let body = json!({
        "success": false,
        "error": {"code": code, "message": e.message, "details": details},
        "meta": Ctx { request_id: rid }.meta(),
    });
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

/// Required text: absent or blank is `VALIDATION_001` naming the field.
pub fn required(field: &str, v: Option<&str>) -> Result<String, ApiError> {
    crate::api::fields::short(field, v)?.ok_or_else(|| ApiError::field(field, "is required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_core_kinds() {
        assert_eq!(code(&ApiError::field("email", "is required")), "VALIDATION_001");
        assert_eq!(code(&ApiError::field("email", "must be an e-mail address")), "VALIDATION_002");
        assert_eq!(
            code(&ApiError::field("limit", "must be an integer from 1 to 100")),
            "VALIDATION_003"
        );
        assert_eq!(code(&ApiError::not_found("call")), "RESOURCE_001");
        assert_eq!(code(&ApiError::new(ErrorKind::Forbidden, "no")), "AUTH_003");
        assert_eq!(code(&ApiError::internal()), "SYSTEM_001");
        assert!(serves("/api/calls/active") && serves("/auth/refresh") && serves("/api/webhooks"));
        assert!(!serves("/api/call-history") && !serves("/api/ribbon/calls") && !serves("/api/webhooks/calls/started"));
        assert!(!serves("/v1/calls"));
    }
}
