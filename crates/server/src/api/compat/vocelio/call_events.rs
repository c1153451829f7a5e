//! The portal's two server-sent event streams, over the live module:
//!
//! - `GET /api/calls/{call_id}/events`: `call_status_update {status,
//!   duration}` on connect and on each change, then `call_ended
//!   {timestamp, total_duration}` when the call ends (the stream closes);
//! - `GET /api/calls/active/events`: `active_calls_update {active_calls}`
//!   on connect and whenever a call starts or ends, `call_update {call_id,
//!   updates}` when a live call changes.
//!
//! Messages are unnamed SSE `data:` lines (what `EventSource.onmessage`
//! reads) with the outbox id as `id:`. The transfer messages
//! (`transfer_initiated`, ...) are never sent: the core has no transfers.

use std::collections::HashSet;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::stream::{self, Stream};
use serde_json::{Value, json};
use switchboard_domain::{CallId, CallStatus};

use super::VocelioErrorBody;
use super::calls::{active_call, status_out};
use crate::error::ApiResult;
use crate::extract::path_id;
use crate::identity::auth::Auth;
use crate::live::filter::TypeFilter;
use crate::live::{Filter, Item};
use crate::state::AppState;

fn frame(out: &mut Vec<u8>, id: Option<i64>, msg: &Value) {
    if let Some(id) = id {
        out.extend_from_slice(format!("id: {id}\n").as_bytes());
    }
    out.extend_from_slice(format!("data: {msg}\n\n").as_bytes());
}

fn sse(body: impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static) -> Response {
    let mut resp = Response::new(Body::from_stream(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

fn heartbeat(state: &AppState) -> tokio::time::Interval {
    let every = Duration::from_secs(state.cfg.stream_heartbeat_secs.max(1));
    let mut i = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The messages one call's status event makes; answers whether it ended.
fn status_messages(out: &mut Vec<u8>, id: Option<i64>, status: CallStatus, duration: i64, at: Option<String>) -> bool {
    frame(
        out,
        id,
        &json!({"type": "call_status_update", "status": status_out(status), "duration": duration}),
    );
    if status.is_terminal() {
        frame(
            out,
            None,
            &json!({"type": "call_ended", "timestamp": at.unwrap_or_else(now), "total_duration": duration}),
        );
        return true;
    }
    false
}

#[utoipa::path(get, operation_id = "vocelio_call_events_call_events", path = "/api/calls/{call_id}/events", tag = "vocelio", params(("call_id" = String, Path)),
    responses((status = 200, description = "text/event-stream: call_status_update, call_ended", content_type = "text/event-stream"),
        (status = 404, body = VocelioErrorBody)))]
pub async fn call_events(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    state.streams.ensure_started().await?;
    // Subscribe first, then read the call: no change falls between the two.
    let types = TypeFilter::parse(Some("call.*")).unwrap_or_else(|_| TypeFilter::all());
    let sub = state
        .streams
        .subscribe(&auth.org.id, Filter::new(types, Some(id.to_string())), None)
        .await
        .map_err(crate::api::v1::stream::subscribe_error)?;
    let call = state.store.get_call(&auth.org.id, &id).await?;
    let mut first = b": connected\nretry: 2000\n\n".to_vec();
    let ended = status_messages(
        &mut first,
        None,
        call.status,
        call.duration.unwrap_or(0),
        call.ended_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    let head = stream::once(async move { Ok::<_, std::convert::Infallible>(Bytes::from(first)) });
    let beat = heartbeat(&state);
    let rest = stream::unfold((sub, beat, ended), |(mut sub, mut beat, done)| async move {
        if done {
            return None;
        }
        let mut out = Vec::new();
        let mut ended = false;
        tokio::select! {
            r = sub.recv() => match r {
                Ok(Some(Item::Event(e))) => {
                    if let Some(status) = e.data["status"].as_str().and_then(CallStatus::parse) {
                        let at = e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                        ended = status_messages(&mut out, Some(e.seq), status, e.data["duration"].as_i64().unwrap_or(0), Some(at));
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            },
            _ = beat.tick() => out.extend_from_slice(b": heartbeat\n\n"),
        }
        Some((Ok(Bytes::from(out)), (sub, beat, ended)))
    });
    Ok(sse(futures::StreamExt::chain(head, rest)))
}

#[utoipa::path(get, operation_id = "vocelio_call_events_active_events", path = "/api/calls/active/events", tag = "vocelio",
    responses((status = 200, description = "text/event-stream: active_calls_update, call_update", content_type = "text/event-stream")))]
pub async fn active_events(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let (position, views, sub) = crate::api::v1::stream::active_subscription(&state, &auth.org.id).await?;
    let board = state.streams.board().clone();
    let org = auth.org.id.clone();
    let calls: Vec<_> = views.iter().map(active_call).collect();
    let mut first = b": connected\nretry: 2000\n\n".to_vec();
    frame(
        &mut first,
        Some(position),
        &json!({"type": "active_calls_update", "active_calls": calls}),
    );
    let shown: HashSet<String> = calls.iter().map(|c| c.call_id.clone()).collect();
    let head = stream::once(async move { Ok::<_, std::convert::Infallible>(Bytes::from(first)) });
    let beat = heartbeat(&state);
    let rest = stream::unfold((sub, beat, shown), move |(mut sub, mut beat, mut shown)| {
        let board = board.clone();
        let org = org.clone();
        async move {
            let mut out = Vec::new();
            tokio::select! {
                r = sub.recv() => match r {
                    Ok(Some(Item::Event(e))) => {
                        if let Some(call_id) = e.call_id.as_deref() {
                            match board.call_view(&org, call_id) {
                                Some(v) if v["live"] == true && shown.contains(call_id) => {
                                    let c = active_call(&v);
                                    frame(&mut out, Some(e.seq), &json!({"type": "call_update", "call_id": call_id, "updates": c}));
                                }
                                Some(v) if v["live"] == true => {
                                    shown.insert(call_id.to_owned());
                                    let (_, views) = board.active_now(&org);
                                    let calls: Vec<_> = views.iter().map(active_call).collect();
                                    frame(&mut out, Some(e.seq), &json!({"type": "active_calls_update", "active_calls": calls}));
                                }
                                _ => {
                                    if shown.remove(call_id) {
                                        let (_, views) = board.active_now(&org);
                                        let calls: Vec<_> = views.iter().map(active_call).collect();
                                        frame(&mut out, Some(e.seq), &json!({"type": "active_calls_update", "active_calls": calls}));
                                    }
                                }
                            }
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => return None,
                },
                _ = beat.tick() => out.extend_from_slice(b": heartbeat\n\n"),
            }
            Some((Ok(Bytes::from(out)), (sub, beat, shown)))
        }
    });
    Ok(sse(futures::StreamExt::chain(head, rest)))
}
