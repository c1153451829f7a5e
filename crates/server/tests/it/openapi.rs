//! The OpenAPI document lists every route the server answers.

use crate::support::TestServer;

/// Every route of the native API, as (method, path).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("post", "/v1/calls"),
    ("get", "/v1/calls"),
    ("get", "/v1/calls/{id}"),
    ("delete", "/v1/calls/{id}"),
    ("post", "/v1/calls/{id}/cancel"),
    ("post", "/v1/calls/{id}/events"),
    ("post", "/v1/calls/events"),
    ("get", "/v1/calls/export"),
    ("get", "/v1/analytics/calls"),
    ("get", "/v1/analytics/campaigns"),
    ("get", "/v1/analytics/agents"),
    ("get", "/v1/analytics/breakdown"),
    ("get", "/v1/analytics/summary"),
    ("get", "/v1/org"),
    ("patch", "/v1/org"),
    ("put", "/v1/org/plan"),
    ("get", "/v1/usage"),
    ("get", "/v1/audit"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/refresh"),
    ("post", "/v1/auth/logout"),
    ("post", "/v1/users"),
    ("get", "/v1/users"),
    ("get", "/v1/users/me"),
    ("patch", "/v1/users/me"),
    ("get", "/v1/users/{id}"),
    ("patch", "/v1/users/{id}"),
    ("post", "/v1/keys"),
    ("get", "/v1/keys"),
    ("delete", "/v1/keys/{id}"),
    ("post", "/v1/keys/{id}/rotate"),
    ("get", "/v1/campaigns"),
    ("post", "/v1/campaigns"),
    ("get", "/v1/campaigns/{id}"),
    ("post", "/v1/campaigns/{id}/status"),
    ("post", "/v1/carriers/twilio/status"),
    ("post", "/v1/carriers/twilio/gather"),
    ("get", "/v1/contact-lists"),
    ("post", "/v1/contact-lists"),
    ("get", "/v1/contact-lists/{id}"),
    ("post", "/v1/contact-lists/{id}/import"),
    ("get", "/v1/contact-lists/{id}/members"),
    ("post", "/v1/contact-lists/{id}/members"),
    ("get", "/v1/dnc"),
    ("post", "/v1/dnc"),
    ("post", "/v1/dnc/bulk"),
    ("delete", "/v1/dnc/{phone}"),
    ("get", "/v1/templates"),
    ("post", "/v1/templates"),
    ("get", "/v1/templates/{id}"),
    ("post", "/api/call-history"),
    ("get", "/api/call-history"),
    ("get", "/api/call-history/{id}"),
    ("patch", "/api/call-history/{id}/status"),
    ("post", "/api/webhooks/calls/started"),
    ("post", "/api/webhooks/calls/completed"),
    ("get", "/api/ribbon/call-logs"),
    ("get", "/api/ribbon/customer/{customerId}/calls"),
    ("get", "/api/ribbon/analytics"),
    ("get", "/api/ribbon/analytics/detailed"),
    ("get", "/api/ribbon/export/calls"),
    ("get", "/ribbon/v1/ribbon.js"),
    ("get", "/ribbon/v1/ribbon.css"),
    ("post", "/api/ribbon/calls"),
    ("get", "/api/ribbon/calls/{id}"),
    ("post", "/api/ribbon/calls/{id}/actions"),
    ("post", "/v1/contacts"),
    ("get", "/v1/contacts"),
    ("get", "/v1/contacts/{id}"),
    ("patch", "/v1/contacts/{id}"),
    ("delete", "/v1/contacts/{id}"),
    ("post", "/v1/webhooks"),
    ("get", "/v1/webhooks"),
    ("get", "/v1/webhooks/{id}"),
    ("patch", "/v1/webhooks/{id}"),
    ("delete", "/v1/webhooks/{id}"),
    ("post", "/v1/webhooks/{id}/rotate-secret"),
    ("get", "/v1/webhooks/event-types"),
    ("get", "/v1/webhooks/{id}/attempts"),
    ("get", "/v1/webhooks/{id}/deliveries"),
    ("post", "/v1/webhooks/{id}/replay"),
    ("post", "/v1/events/{id}/redeliver"),
    ("get", "/v1/stream"),
    ("get", "/v1/calls/{id}/stream"),
    ("get", "/v1/calls/active"),
    ("get", "/v1/calls/active/stream"),
    ("get", "/v1/metrics/realtime"),
    ("get", "/v1/ws"),
    ("get", "/v1/voices"),
    ("post", "/v1/speech"),
    ("get", "/v1/audio/{file}"),
    ("post", "/v1/calls/{id}/recording"),
    ("get", "/v1/calls/{id}/recording"),
    ("post", "/v1/calls/{id}/actions"),
    ("get", "/v1/calls/{id}/transcript"),
    ("post", "/v1/carriers/twilio/voice"),
    ("get", "/v1/audio/public/{file}"),
    ("get", "/v1/calls/{id}/analysis"),
    ("post", "/v1/calls/{id}/analyze"),
    ("post", "/v1/analysis"),
    ("get", "/v1/org/intelligence"),
    ("put", "/v1/org/intelligence"),
    ("post", "/v1/intents"),
    ("get", "/v1/intents"),
    ("get", "/v1/intents/{id}"),
    ("patch", "/v1/intents/{id}"),
    ("delete", "/v1/intents/{id}"),
    ("get", "/v1/agents"),
    ("get", "/v1/agents/{id}"),
    ("patch", "/v1/agents/{id}"),
    ("put", "/v1/agents/{id}/status"),
    ("post", "/v1/agents/{id}/accept"),
    ("post", "/v1/departments"),
    ("get", "/v1/departments"),
    ("get", "/v1/departments/{id}"),
    ("patch", "/v1/departments/{id}"),
    ("delete", "/v1/departments/{id}"),
    ("post", "/v1/queues"),
    ("get", "/v1/queues"),
    ("get", "/v1/queues/{id}"),
    ("patch", "/v1/queues/{id}"),
    ("delete", "/v1/queues/{id}"),
    ("get", "/metrics"),
    // Vocelio.
    ("post", "/api/auth/login"),
    ("post", "/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/auth/refresh"),
    ("get", "/api/users/me"),
    ("put", "/api/users/me"),
    ("get", "/api/users"),
    ("post", "/api/users"),
    ("put", "/api/users/{user_id}"),
    ("get", "/api/voice/voices"),
    ("get", "/api/voices"),
    ("post", "/api/voice/generate"),
    ("post", "/api/voices/generate"),
    ("post", "/api/voice/clone"),
    ("post", "/api/voices/clone"),
    ("get", "/api/voices/preview/{file}"),
    ("post", "/api/calls"),
    ("get", "/api/calls"),
    ("get", "/api/calls/{call_id}"),
    ("put", "/api/calls/{call_id}"),
    ("get", "/api/calls/active"),
    ("get", "/api/calls/logs"),
    ("post", "/api/calls/{call_id}/hangup"),
    ("post", "/api/calls/{call_id}/hold"),
    ("post", "/api/calls/dnc-check"),
    ("get", "/api/calls/{call_id}/events"),
    ("get", "/api/calls/active/events"),
    ("get", "/api/analytics/dashboard"),
    ("get", "/api/analytics/realtime"),
    ("get", "/api/analytics/calls"),
    ("get", "/api/analytics/agents"),
    ("get", "/api/campaigns"),
    ("get", "/api/campaigns/{campaign_id}"),
    ("put", "/api/campaigns/{campaign_id}"),
    ("post", "/api/campaigns/{campaign_id}/start"),
    ("post", "/api/campaigns/{campaign_id}/pause"),
    ("get", "/api/campaigns/{campaign_id}/stats"),
];

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_answers() {
    let t = TestServer::start().await;
    let doc: serde_json::Value = reqwest::get(format!("{}/openapi.json", t.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} missing from /openapi.json"
        );
    }
    // Nothing documented that is not listed here (so the list stays whole).
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "documented routes: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    // Every documented route is served (not the 404 fallback).
    let http = reqwest::Client::new();
    for (method, path) in ROUTES {
        let url = format!("{}{}", t.base, path.replace("{id}", "x"));
        let resp = http
            .request(method.to_uppercase().parse().unwrap(), &url)
            .header("x-api-key", &t.a.key)
            .send()
            .await
            .unwrap();
        // A live stream never ends: its headers say it is served.
        if resp.headers().get("content-type").is_some_and(|v| v == "text/event-stream") {
            continue;
        }
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        assert_ne!(body["error"]["message"], "No such route", "{method} {path}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
