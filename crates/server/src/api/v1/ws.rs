//! `GET /v1/ws`: the live events over a WebSocket, for clients that want
//! one connection both ways (per-call transcript subscriptions, resume
//! without reconnecting).
//!
//! Credentials: the `Authorization` (or `x-api-key`) header, or `?token=`
//! for browsers, which cannot set headers on a WebSocket. The connection is
//! accepted first and then closed with a code, so that every client sees
//! why:
//!
//! | code | meaning |
//! |---|---|
//! | 4401 | no or invalid credentials |
//! | 4403 | the credentials lack `calls.view` (or `analytics.view` for metrics) |
//! | 4408 | slow consumer: cut off; reconnect and `resume` from the id in the last `stream.cutoff` message |
//! | 4500 | the event store failed; resume later |
//!
//! Client messages (JSON text frames):
//! - `{"type":"subscribe","types":"call.*,transcript.*","callId":…,"lastEventId":…}` starts (or restarts) the stream;
//! - `{"type":"resume","lastEventId":N}` restarts it right after N with the same filter;
//! - `{"type":"transcripts.subscribe","callId":…}` / `{"type":"transcripts.unsubscribe","callId":…}`
//!   add or drop one call's `transcript.*` and `transcription.*` events whatever the filter;
//! - `{"type":"ping"}` → `{"type":"pong"}`.
//!
//! Server messages: events as `{"id":N,"type":"call.answered","createdAt":…,"data":{…}}` (as the SSE
//! `data`), and control messages `subscribed`, `stream.gap`, `stream.cutoff`, `metrics`, `error`, `pong`.
//! With `?types=` on the URL the stream starts at once (as `subscribe`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use switchboard_domain::CallId;

use super::stream::{control_of, parse_types};
use crate::error::ApiError;
use crate::extract::QueryMap;
use crate::identity::auth::{Auth, authenticate};
use crate::live::{Filter, Item, SubscribeError, Subscription};
use crate::state::AppState;

/// Close code: no or invalid credentials.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// Close code: the credentials lack a permission.
pub const CLOSE_FORBIDDEN: u16 = 4403;
/// Close code: the subscriber fell too far behind and was cut off.
pub const CLOSE_SLOW_CONSUMER: u16 = 4408;
/// Close code: the event store failed.
pub const CLOSE_STORE: u16 = 4500;

/// Largest client message.
const MAX_MESSAGE: usize = 16 * 1024;
/// A send that takes longer than this (the client stopped reading and the
/// socket is full) ends the connection.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Most calls one connection follows transcripts of.
const MAX_TRANSCRIPT_CALLS: usize = 100;

#[utoipa::path(get, path = "/v1/ws", tag = "live",
    params(("token" = Option<String>, Query, description = "API key or access token, for clients that cannot set headers"),
        ("types" = Option<String>, Query, description = "Start at once with these patterns (as `subscribe`)"),
        ("callId" = Option<String>, Query), ("lastEventId" = Option<i64>, Query)),
    responses((status = 101, description = "WebSocket; see docs/live.md for messages and close codes"),
        (status = 400, description = "Not a WebSocket handshake", body = super::ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn ws(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: QueryMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // A request that is no WebSocket handshake gets the JSON error envelope.
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => {
            return crate::error::ApiError::new(
                crate::error::ErrorKind::InvalidParameter,
                format!("This route speaks WebSocket: {e}"),
            )
            .into_response();
        }
    };
    let mut headers = headers;
    if crate::identity::auth::presented(&headers).is_none()
        && let Some(token) = q.get("token").or(q.get("access_token"))
        && let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        headers.insert(axum::http::header::AUTHORIZATION, v);
    }
    let auth = authenticate(&state, &headers).await;
    let start = q.get("types").is_some() || q.get("lastEventId").is_some();
    let initial = json!({ "type": "subscribe", "types": q.get("types"), "callId": q.get("callId"),
                          "lastEventId": q.get("lastEventId").and_then(|v| v.parse::<i64>().ok()) });
    upgrade
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| run(state, auth, socket, start.then_some(initial)))
}

async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_owned()),
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

struct Conn {
    state: AppState,
    auth: Auth,
    sub: Option<Subscription>,
    filter: Filter,
    metrics: Option<tokio::sync::watch::Receiver<Arc<Value>>>,
}

/// A message that ends the connection with this close code and reason.
enum Outcome {
    Close(u16, &'static str),
}

async fn send(socket: &mut WebSocket, text: String) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await,
        Ok(Ok(()))
    )
}

async fn run(state: AppState, auth: Result<Auth, ApiError>, mut socket: WebSocket, initial: Option<Value>) {
    let auth = match auth {
        Ok(a) => a,
        Err(_) => return close(socket, CLOSE_UNAUTHORIZED, "invalid or missing credentials").await,
    };
    if !auth.allows("calls.view") {
        return close(socket, CLOSE_FORBIDDEN, "requires the calls.view permission").await;
    }
    let mut conn = Conn {
        state,
        auth,
        sub: None,
        filter: Filter::default(),
        metrics: None,
    };
    if let Some(msg) = initial {
        match conn.handle(msg).await {
            Ok(reply) => {
                if !send(&mut socket, reply.to_string()).await {
                    return;
                }
            }
            Err(Outcome::Close(code, why)) => return close(socket, code, why).await,
        }
    }
    loop {
        enum Step {
            Client(Option<Result<Message, axum::Error>>),
            Item(Result<Option<Item>, switchboard_store::StoreError>),
            Metrics(bool),
        }
        let step = {
            let sub = async {
                match conn.sub.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            let metrics = async {
                match conn.metrics.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                m = socket.recv() => Step::Client(m),
                i = sub => Step::Item(i),
                ok = metrics => Step::Metrics(ok),
            }
        };
        match step {
            Step::Client(None) | Step::Client(Some(Err(_))) => return,
            Step::Client(Some(Ok(Message::Close(_)))) => return,
            Step::Client(Some(Ok(Message::Text(t)))) => {
                let reply = match serde_json::from_str::<Value>(t.as_str()) {
                    Ok(msg) if msg.is_object() => conn.handle(msg).await,
                    _ => Ok(error("messages are JSON objects with a 'type'")),
                };
                match reply {
                    Ok(v) => {
                        if !send(&mut socket, v.to_string()).await {
                            return;
                        }
                    }
                    Err(Outcome::Close(code, why)) => return close(socket, code, why).await,
                }
            }
            Step::Client(Some(Ok(Message::Binary(_)))) => {
                if !send(&mut socket, error("binary messages are not understood; send JSON text").to_string()).await {
                    return;
                }
            }
            Step::Client(Some(Ok(_))) => {}
            Step::Item(Ok(Some(item))) => {
                let limits = conn.state.streams.limits();
                let mut batch = vec![item];
                while batch.len() < 256 {
                    let Some(more) = conn.sub.as_mut().and_then(Subscription::try_recv) else {
                        break;
                    };
                    batch.push(more);
                }
                for item in batch {
                    let text = match &item {
                        Item::Event(e) => String::from_utf8_lossy(&e.json).into_owned(),
                        other => match control_of(other, &limits) {
                            Some((id, kind, data)) => json!({ "type": kind, "id": id, "data": data }).to_string(),
                            None => continue,
                        },
                    };
                    if !send(&mut socket, text).await {
                        return;
                    }
                    if matches!(item, Item::CutOff { .. }) {
                        return close(socket, CLOSE_SLOW_CONSUMER, "slow consumer: resume from the last stream.cutoff id").await;
                    }
                }
            }
            Step::Item(Ok(None)) => conn.sub = None,
            Step::Item(Err(e)) => {
                tracing::warn!(error = %e, "WebSocket stream cannot read the outbox");
                return close(socket, CLOSE_STORE, "the event store is unavailable; resume later").await;
            }
            Step::Metrics(true) => {
                let m = conn.metrics.as_mut().map(|rx| rx.borrow_and_update().clone());
                if let Some(m) = m
                    && !send(&mut socket, json!({ "type": "metrics", "data": *m }).to_string()).await
                {
                    return;
                }
            }
            Step::Metrics(false) => conn.metrics = None,
        }
    }
}

fn error(message: &str) -> Value {
    json!({ "type": "error", "message": message })
}

impl Conn {
    /// Handles one client message; answers the reply to send.
    async fn handle(&mut self, msg: Value) -> Result<Value, Outcome> {
        let kind = msg["type"].as_str().unwrap_or("");
        match kind {
            "ping" => Ok(json!({ "type": "pong" })),
            "subscribe" => {
                let types = match &msg["types"] {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    Value::Array(a) if a.iter().all(Value::is_string) => {
                        Some(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
                    }
                    _ => return Ok(error("types: a comma-separated string or an array of strings")),
                };
                let types = match parse_types(types.as_deref()) {
                    Ok(t) => t,
                    Err(e) => {
                        return Ok(
                            json!({ "type": "error", "field": "types", "message": e.native_body()["error"]["message"], "validPatterns": crate::live::filter::valid_patterns() }),
                        );
                    }
                };
                let call_id = match msg["callId"].as_str() {
                    Some(id) => match id.parse::<CallId>() {
                        Ok(c) => Some(c.to_string()),
                        Err(_) => return Ok(error("callId: must be a call id (call_…)")),
                    },
                    None => None,
                };
                let transcripts = std::mem::take(&mut self.filter.transcripts);
                self.filter = Filter::new(types, call_id);
                self.filter.transcripts = transcripts;
                self.start(&msg["lastEventId"]).await
            }
            "resume" => {
                if msg["lastEventId"].as_i64().is_none() {
                    return Ok(error("lastEventId: required, the id of the last event received"));
                }
                self.start(&msg["lastEventId"]).await
            }
            "transcripts.subscribe" | "transcripts.unsubscribe" => {
                let Some(id) = msg["callId"].as_str().and_then(|s| s.parse::<CallId>().ok()) else {
                    return Ok(error("callId: must be a call id (call_…)"));
                };
                if kind == "transcripts.subscribe" {
                    if self.filter.transcripts.len() >= MAX_TRANSCRIPT_CALLS {
                        return Ok(error("at most 100 calls' transcripts per connection"));
                    }
                    // Another organisation's call is unknown here.
                    if self.state.store.get_call(&self.auth.org.id, &id).await.is_err() {
                        return Ok(json!({ "type": "error", "field": "callId", "message": "no such call" }));
                    }
                    self.filter.transcripts.insert(id.to_string());
                } else {
                    self.filter.transcripts.remove(&id.to_string());
                }
                if let Some(sub) = self.sub.as_mut() {
                    sub.filter = self.filter.clone();
                } else {
                    // Transcripts alone: a stream of nothing else, from now.
                    self.filter.types = crate::live::TypeFilter::categories_of(&[]);
                    self.start(&Value::Null).await?;
                }
                Ok(json!({ "type": "subscribed", "transcripts": self.filter.transcripts }))
            }
            "" => Ok(error("type: required")),
            other => Ok(json!({ "type": "error", "message": format!("unknown message type '{other}'"),
                                "validTypes": ["subscribe", "resume", "transcripts.subscribe", "transcripts.unsubscribe", "ping"] })),
        }
    }

    async fn start(&mut self, last: &Value) -> Result<Value, Outcome> {
        let after = match last {
            Value::Null => None,
            v => match v.as_i64() {
                Some(n) if n >= 0 => Some(n),
                _ => return Ok(error("lastEventId: must be a non-negative integer")),
            },
        };
        if self.filter.types.wants_metrics() {
            if !self.auth.allows("analytics.view") {
                return Err(Outcome::Close(CLOSE_FORBIDDEN, "metrics require the analytics.view permission"));
            }
            self.metrics = match self.state.streams.board().watch_metrics(&self.auth.org.id).await {
                Ok(rx) => Some(rx),
                Err(_) => return Err(Outcome::Close(CLOSE_STORE, "the event store is unavailable")),
            };
        } else {
            self.metrics = None;
        }
        self.sub = None;
        match self.state.streams.subscribe(&self.auth.org.id, self.filter.clone(), after).await {
            Ok(sub) => {
                let position = sub.position();
                self.sub = Some(sub);
                Ok(json!({ "type": "subscribed", "after": position }))
            }
            Err(SubscribeError::Ahead { after, head }) => Ok(json!({ "type": "error", "field": "lastEventId",
                "message": format!("{after} is beyond the newest event id ({head})") })),
            Err(SubscribeError::Store(_)) => Err(Outcome::Close(CLOSE_STORE, "the event store is unavailable")),
        }
    }
}
