//! The OpenAPI document, generated from the route annotations and served
//! at `/openapi.json`.

pub mod contract;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard API", description = "Self-hosted AI call-center platform: calls, contacts, campaigns, analytics and webhooks."),
    modifiers(&Security),
    tags(
        (name = "calls", description = "Calls and the events telephony backends report"),
        (name = "contacts", description = "The people a call center calls"),
        (name = "analytics", description = "Dashboards over every call: totals, rates, time series and group-bys"),
        (name = "webhooks", description = "Signed, retried event deliveries to your endpoints"),
        (name = "live", description = "Live events (SSE and WebSocket, resumable by outbox id), active calls, real-time metrics"),
        (name = "organisation", description = "The caller's organisation and its settings"),
        (name = "auth", description = "Logging in: access tokens and rotating refresh tokens"),
        (name = "users", description = "The people who log in, their roles and preferences"),
        (name = "keys", description = "API keys with scopes, expiry and rotation"),
        (name = "templates", description = "Call scripts: typed steps with {variables}"),
        (name = "campaigns", description = "Outbound campaigns the dialer places calls for"),
        (name = "contact-lists", description = "Named sets of contacts, CSV imports"),
        (name = "dnc", description = "The do-not-call list"),
        (name = "carriers", description = "Callbacks from carriers (Twilio status)"),
        (name = "callmind", description = "The Callmind call-history API, served unchanged"),
        (name = "call-ribbon", description = "The Call Ribbon backend API, served unchanged"),
        (name = "agents", description = "Agents: skills, departments and a checked status (available, on call, break ...)"),
        (name = "queues", description = "Departments and queues: required skills, priority, business hours, overflow"),
        (name = "vocelio", description = "The Vocelio API (reference and client apps), served unchanged"),
        (name = "speech", description = "Text to speech on the box: voices, synthesis, cached audio"),
        (name = "health", description = "Liveness and database health"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme("apiKey", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))));
    }
}
