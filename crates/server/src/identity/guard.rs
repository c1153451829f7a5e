//! The gate every route passes: who is calling (authentication), whether
//! they may (the route's declared permission), and whether they are within
//! their plan's request rate. Each route declares its permission in
//! [`required`]; a route that declares none is refused.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{ApiError, ErrorKind};
use crate::identity::auth::{Auth, authenticate};
use crate::state::AppState;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// No credentials (health, documents, login).
    Public,
    /// Any valid credentials.
    Authenticated,
    Permission(&'static str),
    /// The route declares nothing: refused.
    Undeclared,
}

/// The permission each route needs: one table for the whole API.
pub fn required(method: &Method, path: &str) -> Required {
    use Required::*;
    let read = method == Method::GET;
    let family = |view: &'static str, manage: &'static str| Permission(if read { view } else { manage });
    match (method.as_str(), path) {
        ("GET", "/health" | "/openapi.json" | "/ribbon/v1/ribbon.js" | "/ribbon/v1/ribbon.css") => Public,
        // Prometheus scrapes without credentials: figures only, no data (restrict it at the network).
        ("GET", "/metrics") => Public,
        ("POST", "/v1/auth/login" | "/v1/auth/refresh") => Public,
        // Carriers fetch synthesised prompts by a signed, expiring link, checked by the handler.
        ("GET", "/v1/audio/public/{file}") => Public,
        // Twilio authenticates its callbacks with X-Twilio-Signature, checked by the handler.
        ("POST", "/v1/carriers/twilio/status" | "/v1/carriers/twilio/gather" | "/v1/carriers/twilio/voice") => Public,
        ("POST", "/v1/auth/logout") => Authenticated,
        ("GET" | "PATCH", "/v1/users/me") => Authenticated,
        ("POST", "/v1/calls") => Permission("calls.create"),
        ("GET", "/v1/calls" | "/v1/calls/{id}" | "/v1/calls/{id}/transcript") => Permission("calls.view"),
        ("POST", "/v1/calls/{id}/actions") => Permission("calls.update"),
        // Live: streams and the wallboard. The WebSocket authenticates in
        // its handler, so that a failure is a close code (4401), not a 401
        // before the upgrade.
        ("GET", "/v1/stream" | "/v1/calls/{id}/stream" | "/v1/calls/active" | "/v1/calls/active/stream") => Permission("calls.view"),
        ("GET", "/v1/metrics/realtime") => Permission("analytics.view"),
        ("GET", "/v1/ws") => Public,
        ("GET", "/v1/calls/export") => Permission("calls.export"),
        ("DELETE", "/v1/calls/{id}") => Permission("calls.delete"),
        ("POST", "/v1/calls/{id}/cancel" | "/v1/calls/{id}/events" | "/v1/calls/events" | "/v1/calls/{id}/recording") => {
            Permission("calls.update")
        }
        ("GET", "/v1/calls/{id}/recording") => Permission("calls.view"),
        // Conversation intelligence: reading an analysis is viewing the
        // call; re-running it updates the call; ad-hoc analysis stores nothing.
        ("GET", "/v1/calls/{id}/analysis") | ("POST", "/v1/analysis") => Permission("calls.view"),
        ("POST", "/v1/calls/{id}/analyze") => Permission("calls.update"),
        ("GET", "/v1/org/intelligence") => Permission("org.view"),
        ("PUT", "/v1/org/intelligence") => Permission("org.update"),
        // Speech: synthesising is part of placing calls; listening is viewing them.
        ("POST", "/v1/speech") => Permission("calls.create"),
        ("GET", "/v1/voices" | "/v1/audio/{file}") => Permission("calls.view"),
        ("POST", "/v1/contacts") => Permission("contacts.create"),
        ("GET", "/v1/contacts" | "/v1/contacts/{id}") => Permission("contacts.view"),
        ("PATCH", "/v1/contacts/{id}") => Permission("contacts.update"),
        ("DELETE", "/v1/contacts/{id}") => Permission("contacts.delete"),
        ("GET", p) if p.starts_with("/v1/analytics/") => Permission("analytics.view"),
        ("GET", "/v1/org") => Permission("org.view"),
        ("PATCH", "/v1/org") => Permission("org.update"),
        ("PUT", "/v1/org/plan") => Permission("org.plan"),
        ("GET", "/v1/usage") => Permission("usage.view"),
        ("GET", "/v1/audit") => Permission("audit.view"),
        ("POST", "/v1/users") | ("PATCH", "/v1/users/{id}") => Permission("users.manage"),
        ("GET", "/v1/users" | "/v1/users/{id}") => Permission("users.view"),
        ("GET", "/v1/keys") => Permission("keys.view"),
        ("POST", "/v1/keys" | "/v1/keys/{id}/rotate") | ("DELETE", "/v1/keys/{id}") => Permission("keys.manage"),
        // Callmind: backends report calls (creating them on first sight).
        ("POST", "/api/call-history" | "/api/webhooks/calls/started" | "/api/webhooks/calls/completed") => Permission("calls.create"),
        ("PATCH", "/api/call-history/{id}/status") => Permission("calls.update"),
        ("GET", "/api/call-history" | "/api/call-history/{id}") => Permission("calls.view"),
        // Call Ribbon backend.
        ("GET", "/api/ribbon/call-logs" | "/api/ribbon/customer/{customerId}/calls") => Permission("calls.view"),
        ("GET", "/api/ribbon/analytics" | "/api/ribbon/analytics/detailed") => Permission("analytics.view"),
        ("GET", "/api/ribbon/export/calls") => Permission("calls.export"),
        ("POST", "/api/ribbon/calls") => Permission("calls.create"),
        ("GET", "/api/ribbon/calls/{id}") => Permission("calls.view"),
        ("POST", "/api/ribbon/calls/{id}/actions") => Permission("calls.update"),
        ("GET", "/v1/agents" | "/v1/agents/{id}") => Permission("agents.view"),
        ("PATCH", "/v1/agents/{id}") => Permission("agents.manage"),
        // An agent sets their own status; another's needs agents.manage (checked by the handler).
        ("PUT", "/v1/agents/{id}/status") | ("POST", "/v1/agents/{id}/accept") => Permission("agents.view"),
        (_, p) if p.starts_with("/v1/departments") || p.starts_with("/v1/queues") => family("queues.view", "queues.manage"),
        // Vocelio.
        ("POST", "/api/auth/login" | "/auth/login" | "/api/auth/refresh" | "/auth/refresh") => Public,
        ("GET" | "PUT", "/api/users/me") => Authenticated,
        ("GET", "/api/users") => Permission("users.view"),
        ("POST", "/api/users") | ("PUT", "/api/users/{user_id}") => Permission("users.manage"),
        ("GET", "/api/voice/voices" | "/api/voices" | "/api/voice/clone/{voice_id}/status" | "/api/voices/preview/{file}") => {
            Permission("calls.view")
        }
        ("POST", "/api/voice/generate" | "/api/voices/generate" | "/api/voice/clone" | "/api/voices/clone") => Permission("calls.create"),
        ("POST", "/api/calls") => Permission("calls.create"),
        ("GET", p) if p.starts_with("/api/calls") => Permission("calls.view"),
        ("PUT", "/api/calls/{call_id}") | ("POST", "/api/calls/{call_id}/hangup" | "/api/calls/{call_id}/hold") => {
            Permission("calls.update")
        }
        ("POST", "/api/calls/dnc-check") => Permission("dnc.view"),
        (_, p) if p.starts_with("/api/campaigns") => family("campaigns.view", "campaigns.manage"),
        ("GET", p) if p.starts_with("/api/analytics/") => Permission("analytics.view"),
        ("POST", "/api/webhooks") => Permission("webhooks.manage"),
        (_, p) if p.starts_with("/v1/webhooks") || p.starts_with("/v1/events") => family("webhooks.view", "webhooks.manage"),
        (_, p) if p.starts_with("/v1/templates") => family("templates.view", "templates.manage"),
        // An organisation's intents belong with its scripts.
        (_, p) if p.starts_with("/v1/intents") => family("templates.view", "templates.manage"),
        (_, p) if p.starts_with("/v1/campaigns") => family("campaigns.view", "campaigns.manage"),
        (_, p) if p.starts_with("/v1/contact-lists") => family("lists.view", "lists.manage"),
        (_, p) if p.starts_with("/v1/dnc") => family("dnc.view", "dnc.manage"),
        _ => Undeclared,
    }
}

fn header(v: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&v.to_string()).unwrap_or(HeaderValue::from_static("0"))
}

/// The middleware: authenticate, authorise, rate-limit, then run the route.
pub async fn guard(State(state): State<AppState>, matched: Option<MatchedPath>, mut req: Request, next: Next) -> Response {
    let path = matched
        .as_ref()
        .map(MatchedPath::as_str)
        .unwrap_or_else(|| req.uri().path())
        .to_owned();
    let need = required(req.method(), &path);
    if need == Required::Public {
        return next.run(req).await;
    }
    if need == Required::Undeclared {
        tracing::error!(method = %req.method(), %path, "route declares no permission");
        return ApiError::new(ErrorKind::Forbidden, "This route declares no permission and is closed").into_response();
    }
    let auth: Auth = match authenticate(&state, req.headers()).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    if let Required::Permission(p) = need
        && !auth.allows(p)
    {
        return ApiError::new(ErrorKind::Forbidden, format!("This requires the '{p}' permission"))
            .with_details(json!({ "permission": p }))
            .into_response();
    }
    // Vocelio's routes count per hour with its plan table; the rest per minute.
    let vocelio = crate::api::compat::vocelio::serves(&path);
    let (limit, window, per) = if vocelio {
        (crate::api::compat::vocelio::hourly_limit(&auth.org.plan), 3_600, "hour")
    } else {
        (
            switchboard_domain::org::plan(&auth.org.plan).and_then(|p| p.requests_per_minute),
            crate::identity::ratelimit::WINDOW_SECS,
            "minute",
        )
    };
    let subject = if vocelio {
        format!("{}:hour", auth.actor_id())
    } else {
        auth.actor_id()
    };
    let decision = match limit {
        Some(limit) => Some(state.limiter.hit_in(&subject, limit, state.clock.now().timestamp(), window).await),
        None => None,
    };
    let mut resp = match decision {
        Some(d) if !d.allowed => {
            let wait = (d.reset - state.clock.now().timestamp()).max(1);
            let mut r = ApiError::new(
                ErrorKind::RateLimited,
                format!("Rate limit of {} requests per {per} exceeded; retry in {wait} s", d.limit),
            )
            .with_details(json!({ "limit": d.limit, "retryAfter": wait }))
            .into_response();
            r.headers_mut().insert("retry-after", header(wait));
            r
        }
        _ => {
            req.extensions_mut().insert(auth.clone());
            if req.method() == Method::POST {
                crate::idempotency::at_the_edge(&state, &auth, req, next).await
            } else {
                next.run(req).await
            }
        }
    };
    if let Some(d) = decision {
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", header(d.limit));
        h.insert("x-ratelimit-remaining", header(d.remaining));
        h.insert("x-ratelimit-reset", header(d.reset));
    }
    resp
}
