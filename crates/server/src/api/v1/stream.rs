//! Live routes over server-sent events: `/v1/stream` (an organisation's
//! events), `/v1/calls/{id}/stream` (one call's), `/v1/calls/active` and its
//! stream (the wallboard), and `/v1/metrics/realtime`. Every route reads
//! from [`crate::live::Streams`]; an SSE `id` is the outbox sequence number,
//! and `Last-Event-ID` resumes right after it.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::stream::{self, Stream};
use serde_json::{Value, json};
use switchboard_domain::CallId;

use super::ErrorBody;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{QueryMap, path_id};
use crate::identity::auth::Auth;
use crate::live::filter::{TypeFilter, valid_patterns};
use crate::live::{Filter, Item, StreamEvent, SubscribeError, Subscription};
use crate::state::AppState;

/// Most bytes written to a subscriber in one chunk.
const CHUNK: usize = 64 * 1024;

/// Parses `types`: unknown patterns answer 400 with the valid ones.
pub fn parse_types(list: Option<&str>) -> ApiResult<TypeFilter> {
    TypeFilter::parse(list).map_err(|bad| {
        ApiError::new(
            ErrorKind::InvalidParameter,
            format!("types: '{}' is not a known event type or pattern", bad.0),
        )
        .with_details(json!({ "field": "types", "rule": "known event type or pattern", "validPatterns": valid_patterns() }))
    })
}

/// The resume position: `Last-Event-ID` (header) or `lastEventId` (query,
/// for clients that cannot set headers).
pub fn parse_last_event_id(headers: &HeaderMap, q: &QueryMap) -> ApiResult<Option<i64>> {
    let (field, raw) = match headers.get("last-event-id") {
        Some(v) => ("Last-Event-ID", v.to_str().unwrap_or("\u{fffd}").trim().to_owned()),
        None => match q.get("lastEventId") {
            Some(v) => ("lastEventId", v.to_owned()),
            None => return Ok(None),
        },
    };
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        _ => Err(ApiError::field(field, "must be an event id (a non-negative integer)")),
    }
}

pub fn subscribe_error(e: SubscribeError) -> ApiError {
    match e {
        SubscribeError::Ahead { after, head } => ApiError::field(
            "Last-Event-ID",
            format!("{after} is beyond the newest event id ({head}); resume from an id this server gave"),
        ),
        SubscribeError::Store(e) => e.into(),
    }
}

/// `id:`/`event:`/`data:` of one outbox event.
pub fn sse_frame(out: &mut Vec<u8>, e: &StreamEvent) {
    out.extend_from_slice(format!("id: {}\nevent: {}\ndata: ", e.seq, e.event_type).as_bytes());
    out.extend_from_slice(&e.json);
    out.extend_from_slice(b"\n\n");
}

fn control_frame(out: &mut Vec<u8>, id: Option<i64>, kind: &str, data: Value) {
    if let Some(id) = id {
        out.extend_from_slice(format!("id: {id}\n").as_bytes());
    }
    let body = json!({ "type": kind, "data": data });
    out.extend_from_slice(format!("event: {kind}\ndata: {body}\n\n").as_bytes());
}

/// The control message an item other than an event becomes (`stream.gap`,
/// `stream.cutoff`), with its id: shared by SSE and WebSocket.
pub fn control_of(item: &Item, limits: &crate::live::Limits) -> Option<(Option<i64>, &'static str, Value)> {
    match item {
        Item::Event(_) => None,
        Item::Gap {
            after,
            resume_after,
            oldest,
        } => Some((
            Some(*resume_after),
            "stream.gap",
            json!({ "lastEventId": after, "resumeAfter": resume_after, "oldestAvailableId": oldest,
                    "message": "Events after lastEventId up to resumeAfter were removed by the outbox retention" }),
        )),
        Item::CutOff { resume_after } => Some((
            None,
            "stream.cutoff",
            json!({ "resumeAfter": resume_after, "reason": "slow_consumer",
                    "message": format!("This subscriber fell more than {} events or {} bytes behind; reconnect with Last-Event-ID {resume_after}",
                        limits.buffer_events, limits.buffer_bytes) }),
        )),
    }
}

fn write_item(out: &mut Vec<u8>, item: &Item, limits: &crate::live::Limits) -> bool {
    match item {
        Item::Event(e) => {
            sse_frame(out, e);
            false
        }
        other => {
            let Some((id, kind, data)) = control_of(other, limits) else {
                return false;
            };
            control_frame(out, id, kind, data);
            matches!(other, Item::CutOff { .. })
        }
    }
}

/// An SSE response over a byte stream.
fn sse_response(body: impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static) -> Response {
    let mut resp = Response::new(Body::from_stream(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

enum Step {
    Item(Result<Option<Item>, switchboard_store::StoreError>),
    Metrics(bool),
    Beat,
}

struct SseState {
    sub: Subscription,
    metrics: Option<tokio::sync::watch::Receiver<std::sync::Arc<Value>>>,
    beat: tokio::time::Interval,
    limits: crate::live::Limits,
    done: bool,
    first: bool,
}

/// The bytes of an event stream: events as they come, batched up to
/// [`CHUNK`]; metrics when they change; a comment as heartbeat.
fn event_stream(st: SseState) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        let mut out = Vec::new();
        if st.first {
            st.first = false;
            out.extend_from_slice(b": connected\nretry: 2000\n\n");
            return Some((Ok(Bytes::from(out)), st));
        }
        let step = {
            let metrics = async {
                match st.metrics.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = st.sub.recv() => Step::Item(r),
                ok = metrics => Step::Metrics(ok),
                _ = st.beat.tick() => Step::Beat,
            }
        };
        match step {
            Step::Item(Ok(Some(item))) => {
                let mut ended = write_item(&mut out, &item, &st.limits);
                while !ended && out.len() < CHUNK {
                    let Some(item) = st.sub.try_recv() else { break };
                    ended = write_item(&mut out, &item, &st.limits);
                }
                st.done = ended;
            }
            Step::Item(Ok(None)) => return None,
            Step::Item(Err(e)) => {
                tracing::warn!(error = %e, "live stream cannot read the outbox");
                control_frame(
                    &mut out,
                    None,
                    "stream.error",
                    json!({ "message": "The event store is unavailable; reconnect with Last-Event-ID", "resumeAfter": st.sub.position() }),
                );
                st.done = true;
            }
            Step::Metrics(true) => {
                if let Some(rx) = st.metrics.as_mut() {
                    let m = rx.borrow_and_update().clone();
                    control_frame(&mut out, None, "metrics", (*m).clone());
                }
            }
            Step::Metrics(false) => st.metrics = None,
            Step::Beat => out.extend_from_slice(b": heartbeat\n\n"),
        }
        Some((Ok(Bytes::from(out)), st))
    })
}

fn heartbeat(state: &AppState) -> tokio::time::Interval {
    let every = Duration::from_secs(state.cfg.stream_heartbeat_secs.max(1));
    let mut i = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

async fn open(state: &AppState, auth: &Auth, filter: Filter, after: Option<i64>) -> ApiResult<Response> {
    if filter.types.wants_metrics() && !auth.allows("analytics.view") {
        return Err(
            ApiError::new(ErrorKind::Forbidden, "The metrics event requires the 'analytics.view' permission")
                .with_details(json!({ "permission": "analytics.view" })),
        );
    }
    let metrics = if filter.types.wants_metrics() {
        Some(state.streams.board().watch_metrics(&auth.org.id).await?)
    } else {
        None
    };
    let sub = state
        .streams
        .subscribe(&auth.org.id, filter, after)
        .await
        .map_err(subscribe_error)?;
    Ok(sse_response(event_stream(SseState {
        sub,
        metrics,
        beat: heartbeat(state),
        limits: state.streams.limits(),
        done: false,
        first: true,
    })))
}

/// An organisation's events as they are committed.
#[utoipa::path(get, path = "/v1/stream", tag = "live",
    params(
        ("types" = Option<String>, Query, description = "Comma-separated patterns: `*`, `call.*`, `transcript.*`, `agent.*`, an exact type, `metrics`. Default: every outbox event."),
        ("callId" = Option<String>, Query, description = "Only this call's events"),
        ("lastEventId" = Option<i64>, Query, description = "Resume after this id (as the Last-Event-ID header)"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this id"),
    ),
    responses((status = 200, description = "text/event-stream; each event's id is its outbox sequence number", content_type = "text/event-stream"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn stream(State(state): State<AppState>, auth: Auth, headers: HeaderMap, q: QueryMap) -> ApiResult<Response> {
    let types = parse_types(q.get("types"))?;
    let after = parse_last_event_id(&headers, &q)?;
    let call_id = match q.get("callId") {
        Some(id) => Some(path_id::<CallId>(id, "call").map_err(|_| ApiError::field("callId", "must be a call id (call_…)"))?),
        None => None,
    };
    open(&state, &auth, Filter::new(types, call_id.map(|c| c.to_string())), after).await
}

/// One call's events (default: `call.*`, `transcript.*`, `transcription.*`, `recording.*`).
#[utoipa::path(get, path = "/v1/calls/{id}/stream", tag = "live",
    params(("id" = String, Path), ("types" = Option<String>, Query), ("Last-Event-ID" = Option<i64>, Header)),
    responses((status = 200, description = "text/event-stream of the call's events", content_type = "text/event-stream"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn call_stream(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: QueryMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let types = match q.get("types") {
        Some(list) => parse_types(Some(list))?,
        None => parse_types(Some("call.*,transcript.*,transcription.*,recording.*"))?,
    };
    let id: CallId = path_id(&id, "call")?;
    let after = parse_last_event_id(&headers, &q)?;
    // Another organisation's call is a 404, like every read.
    state.store.get_call(&auth.org.id, &id).await?;
    open(&state, &auth, Filter::new(types, Some(id.to_string())), after).await
}

/// The organisation's live calls: duration so far, script step, last
/// transcript segment, sentiment, agent.
#[utoipa::path(get, path = "/v1/calls/active", tag = "live",
    responses((status = 200, description = "`{data: [active call], position}`", body = Object), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn active_calls(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    state.streams.ensure_started().await?;
    let board = state.streams.board();
    board.ensure_seeded(&auth.org.id).await?;
    let (position, calls) = board.active_now(&auth.org.id);
    Ok(super::respond(
        StatusCode::OK,
        false,
        &json!({ "data": calls, "position": position }),
    ))
}

/// The organisation's live calls now (at outbox `position`) and a
/// subscription to the call events from there on, so no change is missed
/// between the snapshot and the updates. Shared by every active-calls stream.
pub(crate) async fn active_subscription(state: &AppState, org: &switchboard_domain::OrgId) -> ApiResult<(i64, Vec<Value>, Subscription)> {
    state.streams.ensure_started().await?;
    let board = state.streams.board();
    board.ensure_seeded(org).await?;
    let (position, calls) = board.active_now(org);
    let filter = Filter::new(TypeFilter::categories_of(&["call", "transcript", "transcription"]), None);
    let sub = state
        .streams
        .subscribe(org, filter, Some(position))
        .await
        .map_err(subscribe_error)?;
    Ok((position, calls, sub))
}

/// The live calls as a stream: `active.snapshot` first, then
/// `active.updated` (a call's new view) and `active.ended`.
#[utoipa::path(get, path = "/v1/calls/active/stream", tag = "live",
    responses((status = 200, description = "text/event-stream: active.snapshot, then active.updated / active.ended", content_type = "text/event-stream"),
        (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn active_stream(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let (position, calls, sub) = active_subscription(&state, &auth.org.id).await?;
    let board = state.streams.board().clone();
    let org = auth.org.id.clone();
    let mut first = Vec::new();
    first.extend_from_slice(b": connected\nretry: 2000\n\n");
    control_frame(
        &mut first,
        Some(position),
        "active.snapshot",
        json!({ "calls": calls, "position": position }),
    );
    let limits = state.streams.limits();
    let beat = heartbeat(&state);
    let head = stream::once(async move { Ok::<_, std::convert::Infallible>(Bytes::from(first)) });
    // Calls this subscriber was shown as live: only they can end for it.
    let shown: std::collections::HashSet<String> = calls.iter().filter_map(|c| c["callId"].as_str().map(str::to_owned)).collect();
    let rest = stream::unfold((sub, beat, shown, false), move |(mut sub, mut beat, mut shown, done)| {
        let board = board.clone();
        let org = org.clone();
        async move {
            if done {
                return None;
            }
            let mut out = Vec::new();
            let mut ended = false;
            tokio::select! {
                r = sub.recv() => match r {
                    Ok(Some(Item::Event(e))) => {
                        let mut items = vec![Item::Event(e)];
                        while items.len() < 256 {
                            let Some(more) = sub.try_recv() else { break };
                            items.push(more);
                        }
                        for item in items {
                            let e = match item {
                                Item::Event(e) => e,
                                other => {
                                    ended = write_item(&mut out, &other, &limits);
                                    continue;
                                }
                            };
                            let Some(call_id) = e.call_id.as_deref() else { continue };
                            match board.call_view(&org, call_id) {
                                Some(v) if v["live"] == true => {
                                    shown.insert(call_id.to_owned());
                                    control_frame(&mut out, Some(e.seq), "active.updated", v);
                                }
                                _ => {
                                    if shown.remove(call_id) {
                                        control_frame(&mut out, Some(e.seq), "active.ended", json!({ "callId": call_id }));
                                    }
                                }
                            }
                        }
                    }
                    Ok(Some(other)) => {
                        ended = write_item(&mut out, &other, &limits);
                    }
                    Ok(None) | Err(_) => return None,
                },
                _ = beat.tick() => out.extend_from_slice(b": heartbeat\n\n"),
            }
            Some((Ok(Bytes::from(out)), (sub, beat, shown, ended)))
        }
    });
    Ok(sse_response(futures::StreamExt::chain(head, rest)))
}

/// The organisation's real-time figures.
#[utoipa::path(get, path = "/v1/metrics/realtime", tag = "live",
    responses((status = 200, description = "Active calls, today's counts and rates, queue, agents, campaigns running", body = Object),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn realtime(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    state.streams.ensure_started().await?;
    let m = state.streams.board().metrics(&auth.org.id).await?;
    Ok(super::respond(StatusCode::OK, false, &m))
}
