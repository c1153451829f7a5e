//! `POST /v1/carriers/twilio/status`: Twilio's StatusCallback. Twilio
//! sends no API key; the `X-Twilio-Signature` over our public URL and the
//! parameters is the proof, checked before anything is read. The query
//! string (covered by the signature) names our organisation and call.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use switchboard_domain::call::CallReport;
use switchboard_domain::{CallId, OrgId};
use switchboard_store::{CallTarget, StoreError};

use super::ErrorBody;
use crate::carriers::{signature, twilio};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::body_bytes;
use crate::state::AppState;

fn forbidden() -> ApiError {
    ApiError::new(ErrorKind::Forbidden, "The X-Twilio-Signature does not match this request")
}

#[utoipa::path(post, path = "/v1/carriers/twilio/status", tag = "carriers",
    params(("org" = String, Query), ("call" = String, Query), ("X-Twilio-Signature" = String, Header)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's status callback parameters (CallSid, CallStatus, CallDuration, AnsweredBy, ...)"),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn status_callback(State(state): State<AppState>, req: Request) -> ApiResult<StatusCode> {
    let Some(tw) = state.cfg.telephony.twilio.clone() else {
        return Err(ApiError::new(ErrorKind::NotFound, "Twilio is not configured on this server"));
    };
    let sig = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(forbidden)?;
    let json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"));
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let query = req.uri().query().unwrap_or("").to_owned();
    let url = format!("{}{}", tw.public_url, path_and_query);
    let body = body_bytes(req, &state).await?;
    let token = tw.auth_token.expose();
    let params: Vec<(String, String)> = if json {
        if !signature::validate_json(token, &url, &body, &sig) {
            return Err(forbidden());
        }
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| ApiError::new(ErrorKind::InvalidJson, "The body is not valid JSON"))?;
        v.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        let params: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&body).map_err(|_| ApiError::new(ErrorKind::InvalidParameter, "The body is not form-encoded"))?;
        if !signature::validate_form(token, &url, &params, &sig) {
            return Err(forbidden());
        }
        params
    };
    let q: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap_or_default();
    let get_q = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let org: OrgId = get_q("org")
        .and_then(|o| o.parse().ok())
        .ok_or_else(|| ApiError::field("org", "must name an organisation"))?;
    let call: CallId = get_q("call")
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| ApiError::field("call", "must name a call"))?;
    let raw_status = get("CallStatus").ok_or_else(|| ApiError::field("CallStatus", "is required"))?;
    let status = twilio::map_status(&raw_status, get("AnsweredBy").as_deref())
        .ok_or_else(|| ApiError::field("CallStatus", format!("'{raw_status}' is not a Twilio call status")))?;
    let at = get("Timestamp")
        .and_then(|t| chrono::DateTime::parse_from_rfc2822(&t).ok())
        .map(|t| switchboard_domain::truncate(t.with_timezone(&chrono::Utc)));
    let duration = get("CallDuration").and_then(|d| d.parse::<i64>().ok());
    if let Some(sid) = get("CallSid") {
        match state.store.set_call_external_id(&org, &call, &sid).await {
            Ok(()) => {}
            Err(StoreError::NotFound(_)) => return Err(ApiError::not_found("call")),
            Err(e) => return Err(e.into()),
        }
    }
    let report = CallReport {
        status: Some(status),
        at,
        duration: duration.filter(|_| status.is_terminal()),
        ..Default::default()
    };
    state.store.report_call(&org, CallTarget::Id(call), report, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
