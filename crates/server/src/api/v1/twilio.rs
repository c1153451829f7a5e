//! Twilio's callbacks: `POST /v1/carriers/twilio/status` (StatusCallback)
//! and `POST /v1/carriers/twilio/gather` (where a `<Gather>` posts the key
//! pressed). Twilio sends no API key; the `X-Twilio-Signature` over our
//! public URL and the parameters is the proof, checked before anything is
//! read. The query string (covered by the signature) names our organisation
//! and call.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use switchboard_domain::call::CallReport;
use switchboard_domain::{CallId, OrgId, TemplateId};
use switchboard_store::{CallTarget, StoreError};

use super::ErrorBody;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::body_bytes;
use crate::state::AppState;
use switchboard_telephony::{signature, twilio, twiml};

fn forbidden() -> ApiError {
    ApiError::new(ErrorKind::Forbidden, "The X-Twilio-Signature does not match this request")
}

/// A callback whose signature matched: its parameters and query.
struct Signed {
    params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    public_url: String,
    org: OrgId,
    call: CallId,
}

impl Signed {
    fn param(&self, k: &str) -> Option<String> {
        self.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    fn query(&self, k: &str) -> Option<String> {
        self.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }
}

/// Checks `X-Twilio-Signature` (form or JSON body) and reads the request.
async fn signed(state: &AppState, req: Request) -> ApiResult<Signed> {
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
    let body = body_bytes(req, state).await?;
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
    let query: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap_or_default();
    let get_q = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let org: OrgId = get_q("org")
        .and_then(|o| o.parse().ok())
        .ok_or_else(|| ApiError::field("org", "must name an organisation"))?;
    let call: CallId = get_q("call")
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| ApiError::field("call", "must name a call"))?;
    Ok(Signed {
        params,
        query,
        public_url: tw.public_url.clone(),
        org,
        call,
    })
}

#[utoipa::path(post, path = "/v1/carriers/twilio/status", tag = "carriers",
    params(("org" = String, Query), ("call" = String, Query), ("X-Twilio-Signature" = String, Header)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's status callback parameters (CallSid, CallStatus, CallDuration, AnsweredBy, ...)"),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn status_callback(State(state): State<AppState>, req: Request) -> ApiResult<StatusCode> {
    let s = signed(&state, req).await?;
    let (org, call) = (s.org.clone(), s.call.clone());
    let get = |k: &str| s.param(k);
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

#[utoipa::path(post, path = "/v1/carriers/twilio/gather", tag = "carriers",
    params(("org" = String, Query), ("call" = String, Query), ("step" = Option<u32>, Query, description = "The script step whose question gathered"), ("X-Twilio-Signature" = String, Header)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's Gather parameters (CallSid, Digits, SpeechResult, ...)"),
    responses((status = 200, content_type = "text/xml", description = "TwiML: the script from the next step on"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn gather(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let s = signed(&state, req).await?;
    let step: Option<usize> = s
        .query("step")
        .map(|v| v.parse().map_err(|_| ApiError::field("step", "must be a step number")))
        .transpose()?;
    let call = match state.store.get_call(&s.org, &s.call).await {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => return Err(ApiError::not_found("call")),
        Err(e) => return Err(e.into()),
    };
    // The script as placed: the call's template filled with its variables.
    let script = match call.template_id.as_deref().and_then(|t| t.parse::<TemplateId>().ok()) {
        Some(t) => match state.store.get_template(&s.org, &t).await {
            Ok(t) => t.render(&call.variables.clone().unwrap_or_default()),
            Err(StoreError::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        },
        None => Vec::new(),
    };
    let (digits, speech) = (s.param("Digits").filter(|d| !d.is_empty()), s.param("SpeechResult"));
    if digits.is_some() || speech.is_some() {
        let mut data = serde_json::Map::new();
        if let Some(i) = step {
            // Template step ids count from 1; `step` in the URL from 0.
            data.insert("step".into(), (i + 1).into());
            if let Some(step) = script.get(i) {
                data.insert("prompt".into(), step.content.clone().into());
            }
        }
        // The answer to a script question also lands in collectedData, under
        // the template step's id ("step2" for the second step).
        let collected = step.map(|i| {
            let mut c = match &call.collected_data {
                Some(serde_json::Value::Object(m)) => m.clone(),
                _ => serde_json::Map::new(),
            };
            let answer = digits.clone().or_else(|| speech.clone()).unwrap_or_default();
            c.insert(format!("step{}", i + 1), answer.into());
            serde_json::Value::Object(c)
        });
        if let Some(d) = digits {
            data.insert("digits".into(), d.into());
        }
        if let Some(sp) = speech {
            data.insert("speech".into(), sp.into());
        }
        let report = CallReport {
            event: Some("dtmf".into()),
            event_data: Some(data.into()),
            collected_data: collected,
            at: Some(switchboard_domain::now()),
            ..Default::default()
        };
        state
            .store
            .report_call(&s.org, CallTarget::Id(s.call.clone()), report, None)
            .await?;
    }
    let action = twilio::callback_url(&s.public_url, "gather", &s.org, &s.call);
    let doc = match step {
        Some(i) => twiml::script(&script, i + 1, None, Some(&action)),
        None => twiml::empty(),
    };
    Ok(([(axum::http::header::CONTENT_TYPE, "text/xml")], doc).into_response())
}
