//! Twilio's callbacks: `POST /v1/carriers/twilio/status` (StatusCallback),
//! `POST /v1/carriers/twilio/voice` (a scripted call was answered: the
//! script's first turn) and `POST /v1/carriers/twilio/gather` (what a
//! `<Gather>` heard: the next turn). The conversation runtime decides the
//! turns; this adapter renders them as TwiML. Twilio sends no API key; the `X-Twilio-Signature` over our
//! public URL and the parameters is the proof, checked before anything is
//! read. The query string (covered by the signature) names our organisation
//! and call.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use switchboard_domain::call::CallReport;
use switchboard_domain::conversation::{Action, Event, Spoken};
use switchboard_domain::{CallId, OrgId};
use switchboard_store::{CallTarget, StoreError};
use switchboard_telephony::{CallRef, Conversations};

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
    // An unsigned request is refused before anything else is told.
    let sig = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(forbidden)?;
    let Some(tw) = state.cfg.telephony.twilio.clone() else {
        return Err(ApiError::new(ErrorKind::NotFound, "Twilio is not configured on this server"));
    };
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
        .map(|t| switchboard_domain::truncate(t.with_timezone(&chrono::Utc)))
        .map(|t| switchboard_domain::validate::TimeWindow::Reported.check("Timestamp", t, switchboard_domain::now()))
        .transpose()?;
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
        // Twilio's clock, to the second: a moment behind ours is no error.
        carrier_clock: true,
        ..Default::default()
    };
    state.store.report_call(&org, CallTarget::Id(call), report, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The conversation's next turn as TwiML: prompts in one of our voices are
/// played from our audio (signed links valid for an hour), others Twilio speaks.
async fn answer_turn(state: &AppState, s: &Signed, event: Option<Event>) -> ApiResult<Response> {
    let call = CallRef {
        org_id: s.org.clone(),
        call_id: s.call.clone(),
        external_id: s.param("CallSid"),
    };
    let now = switchboard_domain::now();
    let actions = match event {
        Some(ev) => state.conversations.on_event(&call, ev, now).await,
        None => state.conversations.resume(&call, now).await,
    };
    let gather = twilio::callback_url(&s.public_url, "gather", &s.org, &s.call);
    let voice = twilio::callback_url(&s.public_url, "voice", &s.org, &s.call);
    // Our own synthesised prompts: Twilio fetches them by signed links.
    let voiced = actions
        .iter()
        .any(|a| matches!(a, Action::Say { audio: Some(_), .. } | Action::Gather { audio: Some(_), .. }));
    let key = if voiced {
        state.speech.link_key(&state.store).await?.to_vec()
    } else {
        Vec::new()
    };
    let link = |a: &Spoken| {
        let file = format!("{}.{}", a.audio_id, a.format);
        let expires = switchboard_domain::now().timestamp() + 3_600;
        let sig = crate::speech::link_signature(&key, &file, expires);
        format!(
            "{}/v1/audio/public/{file}?expires={expires}&sig={sig}",
            s.public_url.trim_end_matches('/')
        )
    };
    let doc = twiml::turn(
        &actions,
        twiml::Urls {
            gather: &gather,
            voice: &voice,
        },
        &link,
    );
    Ok(([(axum::http::header::CONTENT_TYPE, "text/xml")], doc).into_response())
}

fn known_call(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound(_) => ApiError::not_found("call"),
        other => other.into(),
    }
}

#[utoipa::path(post, path = "/v1/carriers/twilio/voice", tag = "carriers",
    params(("org" = String, Query), ("call" = String, Query), ("resume" = Option<String>, Query, description = "Return to where the script waits (after a hold or an action)"), ("X-Twilio-Signature" = String, Header)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's voice request parameters (CallSid, AnsweredBy, ...)"),
    responses((status = 200, content_type = "text/xml", description = "TwiML: the script's first turn"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn voice(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let s = signed(&state, req).await?;
    state.store.get_call(&s.org, &s.call).await.map_err(known_call)?;
    if s.query("resume").is_some() {
        return answer_turn(&state, &s, None).await;
    }
    let machine = s.param("AnsweredBy").is_some_and(|a| a.starts_with("machine") || a == "fax");
    let ev = if machine { Event::MachineDetected } else { Event::Answered };
    answer_turn(&state, &s, Some(ev)).await
}

#[utoipa::path(post, path = "/v1/carriers/twilio/gather", tag = "carriers",
    params(("org" = String, Query), ("call" = String, Query), ("step" = Option<String>, Query, description = "The script step whose question gathered"),
        ("event" = Option<String>, Query, description = "`pause` when a pause step's time is up"), ("X-Twilio-Signature" = String, Header)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's Gather parameters (CallSid, Digits, SpeechResult, Confidence, ...)"),
    responses((status = 200, content_type = "text/xml", description = "TwiML: the script's next turn"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn gather(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let s = signed(&state, req).await?;
    state.store.get_call(&s.org, &s.call).await.map_err(known_call)?;
    if s.query("event").as_deref() == Some("pause") {
        return answer_turn(&state, &s, Some(Event::PauseDone)).await;
    }
    let digits = s.param("Digits").filter(|d| !d.trim().is_empty());
    let speech = s.param("SpeechResult").filter(|d| !d.trim().is_empty());
    let confidence = s
        .param("Confidence")
        .and_then(|c| c.parse::<f32>().ok())
        .filter(|c| (0.0..=1.0).contains(c));
    let ev = match (digits, speech) {
        (Some(d), _) => Event::Dtmf { digits: d },
        (None, Some(text)) => Event::Speech {
            text,
            confidence,
            is_final: true,
        },
        (None, None) => Event::Silence,
    };
    if s.query("step").as_deref() == Some("adhoc") {
        // An answer to a live-call gather action: it lands on the timeline,
        // then the script (if any) goes on where it waits.
        let data = match &ev {
            Event::Dtmf { digits } => serde_json::json!({ "digits": digits }),
            Event::Speech { text, confidence, .. } => serde_json::json!({ "speech": text, "confidence": confidence }),
            _ => serde_json::json!({ "silence": true }),
        };
        let mut report = CallReport {
            event: Some("gathered".into()),
            event_data: Some(data),
            at: Some(switchboard_domain::now()),
            carrier_clock: true,
            ..Default::default()
        };
        crate::core::redact::report(&state.store, &s.org, &mut report).await?;
        state
            .store
            .report_call(&s.org, CallTarget::Id(s.call.clone()), report, None)
            .await?;
        return answer_turn(&state, &s, None).await;
    }
    answer_turn(&state, &s, Some(ev)).await
}
