//! Bad input on every POST and PATCH: a 4xx in the error shape that names
//! the field, and nothing stored changes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestServer;

/// Sends `body` and checks the refusal; the organisation's stored state
/// must be identical before and after.
async fn refused(t: &TestServer, method: Method, path: &str, body: Value, status: u16, code: &str, field: Option<&str>) {
    let c = &t.a;
    let before = t.snapshot(&c.org).await;
    let r = c.send(method.clone(), path, Some(body.clone()), &[]).await;
    let got = r.assert_error(status, code);
    if let Some(f) = field {
        assert_eq!(got.as_deref(), Some(f), "{method} {path} {body} → {}", r.body);
    }
    assert_eq!(t.snapshot(&c.org).await, before, "{method} {path} {body} changed stored state");
}

#[tokio::test]
async fn create_call_rejections() {
    let t = TestServer::start().await;
    let c = &t.a;
    let p = "/v1/calls";
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "phone"),
        (json!({"phone": "not a number"}), "phone"),
        (json!({"phone": "+1234567890"}), "phone"),
        (json!({"phone": 15551234567u64}), "phone"),
        (json!({"phone": "+15551234567", "callerId": "12"}), "callerId"),
        (json!({"phone": "+15551234567", "scheduled": "tomorrow"}), "scheduled"),
        (json!({"phone": "+15551234567", "scheduled": "2025-05-20"}), "scheduled"),
        (json!({"phone": "+15551234567", "direction": "sideways"}), "direction"),
        (json!({"phone": "+15551234567", "status": "dancing"}), "status"),
        (json!({"phone": "+15551234567", "duration": -5}), "duration"),
        (json!({"phone": "+15551234567", "duration": "long"}), "duration"),
        (json!({"phone": "+15551234567", "cost": -1.0}), "cost"),
        (json!({"phone": "+15551234567", "sentiment": "ecstatic"}), "sentiment"),
        (json!({"phone": "+15551234567", "recording": "not a url"}), "recording"),
        (json!({"phone": "+15551234567", "customerContext": "vip"}), "customerContext"),
        (json!({"phone": "+15551234567", "metadata": [1, 2]}), "metadata"),
        (json!({"phone": "+15551234567", "variables": 3}), "variables"),
        (json!({"phone": "+15551234567", "topics": "billing"}), "topics"),
        (json!({"phone": "+15551234567", "topics": ["ok", ""]}), "topics[1]"),
        (json!({"phone": "+15551234567", "agentName": "x".repeat(300)}), "agentName"),
        (json!({"phone": "+15551234567", "contactId": "cnt_nope"}), "contactId"),
        (json!({"contactId": "cnt_01m809negmevtamc5qp1755v68"}), "contactId"),
        (
            json!({"phone": "+15551234567", "customerContext": (0..12).fold(json!(1), |a, _| json!({"k": a}))}),
            "customerContext",
        ),
    ];
    for (body, field) in cases {
        refused(&t, Method::POST, p, body, 400, "invalid_parameter", Some(field)).await;
    }
    // A taken external id is a conflict.
    c.new_call(json!({"phone": "+15551234567", "externalId": "CA-1"})).await;
    refused(
        &t,
        Method::POST,
        p,
        json!({"phone": "+15551234567", "externalId": "CA-1"}),
        409,
        "conflict",
        None,
    )
    .await;
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let t = TestServer::start().await;
    let c = &t.a;
    let id = c.new_call(json!({"phone": "+15551234567"})).await;
    let contact = c.new_contact(json!({"phone": "+15551234567"})).await;
    let routes = [
        (Method::POST, "/v1/calls".to_owned()),
        (Method::POST, format!("/v1/calls/{id}/events")),
        (Method::POST, "/v1/calls/events".to_owned()),
        (Method::POST, "/v1/contacts".to_owned()),
        (Method::PATCH, format!("/v1/contacts/{contact}")),
    ];
    let big = format!("{{\"notes\": \"{}\"}}", "x".repeat(t.body_limit + 10));
    for (m, p) in &routes {
        let before = t.snapshot(&c.org).await;
        c.raw(m.clone(), p, b"{\"phone\": ".to_vec(), "application/json")
            .await
            .assert_error(400, "invalid_json");
        c.raw(m.clone(), p, b"[1,2]".to_vec(), "application/json")
            .await
            .assert_error(400, "invalid_json");
        c.raw(m.clone(), p, b"".to_vec(), "application/json")
            .await
            .assert_error(400, "invalid_json");
        c.raw(m.clone(), p, b"phone=1".to_vec(), "application/x-www-form-urlencoded")
            .await
            .assert_error(415, "unsupported_media_type");
        c.raw(m.clone(), p, big.clone().into_bytes(), "application/json")
            .await
            .assert_error(413, "payload_too_large");
        assert_eq!(t.snapshot(&c.org).await, before, "{m} {p}");
    }
}

#[tokio::test]
async fn event_rejections() {
    let t = TestServer::start().await;
    let c = &t.a;
    let id = c.new_call(json!({"phone": "+15551234567"})).await;
    let p = format!("/v1/calls/{id}/events");
    for (body, field) in [
        (json!({"status": "teleported"}), "status"),
        (json!({"timestamp": "yesterday"}), "timestamp"),
        (json!({"duration": 10_000_000}), "duration"),
        (json!({"sentiment": 5}), "sentiment"),
        (json!({"collectedData": "x"}), "collectedData"),
        (json!({"correction": "yes"}), "correction"),
        (json!({"topics": [1]}), "topics[0]"),
    ] {
        refused(&t, Method::POST, &p, body, 400, "invalid_parameter", Some(field)).await;
    }
    refused(
        &t,
        Method::POST,
        "/v1/calls/events",
        json!({"status": "ringing"}),
        400,
        "invalid_parameter",
        Some("externalId"),
    )
    .await;
    refused(
        &t,
        Method::POST,
        "/v1/calls/events",
        json!({"externalId": "CA-9", "direction": "up"}),
        400,
        "invalid_parameter",
        Some("direction"),
    )
    .await;
    refused(
        &t,
        Method::POST,
        "/v1/calls/call_01m809negmevtamc5qp1755v68/events",
        json!({"status": "ringing"}),
        404,
        "not_found",
        None,
    )
    .await;
    refused(
        &t,
        Method::POST,
        "/v1/calls/garbage/events",
        json!({"status": "ringing"}),
        404,
        "not_found",
        None,
    )
    .await;
    refused(
        &t,
        Method::POST,
        "/v1/calls/call_01m809negmevtamc5qp1755v68/cancel",
        json!({}),
        404,
        "not_found",
        None,
    )
    .await;
    // Illegal transitions change nothing either.
    c.post(&p, json!({"status": "completed", "duration": 5})).await;
    refused(
        &t,
        Method::POST,
        &p,
        json!({"status": "no-answer"}),
        409,
        "illegal_transition",
        None,
    )
    .await;
}

#[tokio::test]
async fn contact_rejections() {
    let t = TestServer::start().await;
    let c = &t.a;
    for (body, field) in [
        (json!({"name": "No Phone"}), "phone"),
        (json!({"phone": "+1 (555) abc"}), "phone"),
        (json!({"phone": "+15551234567", "email": "nope"}), "email"),
        (json!({"phone": "+15551234567", "tags": "vip"}), "tags"),
        (json!({"phone": "+15551234567", "tags": vec!["a"; 101]}), "tags"),
        (json!({"phone": "+15551234567", "customFields": []}), "customFields"),
        (json!({"phone": "+15551234567", "timeZone": "Mars/Base"}), "timeZone"),
        (json!({"phone": "+15551234567", "name": 42}), "name"),
    ] {
        refused(&t, Method::POST, "/v1/contacts", body, 400, "invalid_parameter", Some(field)).await;
    }
    let id = c.new_contact(json!({"phone": "+15551234567", "externalId": "CRM-1"})).await;
    refused(
        &t,
        Method::POST,
        "/v1/contacts",
        json!({"phone": "+15551234568", "externalId": "CRM-1"}),
        409,
        "conflict",
        None,
    )
    .await;
    let p = format!("/v1/contacts/{id}");
    for (body, field) in [
        (json!({"phone": "abc"}), "phone"),
        (json!({"phone": null}), "phone"),
        (json!({"email": "x@"}), "email"),
        (json!({"timeZone": "Nowhere"}), "timeZone"),
        (json!({"customFields": 1}), "customFields"),
    ] {
        let before = t.snapshot(&c.org).await;
        let r = c.patch(&p, body.clone()).await;
        assert_eq!(r.status, 400, "{body} → {}", r.body);
        assert_eq!(r.body["error"]["details"]["field"], field, "{body} → {}", r.body);
        assert_eq!(t.snapshot(&c.org).await, before);
    }
    let other = c.new_contact(json!({"phone": "+15551234569"})).await;
    refused(
        &t,
        Method::PATCH,
        &format!("/v1/contacts/{other}"),
        json!({"externalId": "CRM-1"}),
        409,
        "conflict",
        None,
    )
    .await;
    refused(
        &t,
        Method::PATCH,
        "/v1/contacts/cnt_01m809negmevtamc5qp1755v68",
        json!({"name": "x"}),
        404,
        "not_found",
        None,
    )
    .await;
}

#[tokio::test]
async fn query_parameters_out_of_range() {
    let t = TestServer::start().await;
    for (path, field) in [
        ("/v1/calls?limit=0", "limit"),
        ("/v1/calls?limit=101", "limit"),
        ("/v1/calls?limit=ten", "limit"),
        ("/v1/calls?page=0", "page"),
        ("/v1/calls?page=-1", "page"),
        ("/v1/calls?status=lost", "status"),
        ("/v1/calls?startDate=2025-13-01", "startDate"),
        ("/v1/calls?endDate=soon", "endDate"),
        ("/v1/calls?startDate=2025-05-10&endDate=2025-05-01", "startDate"),
        ("/v1/calls?direction=up", "direction"),
        ("/v1/contacts?limit=1000", "limit"),
        ("/v1/contacts?page=abc", "page"),
    ] {
        t.a.get(path).await.assert_field_error(field);
    }
    t.a.get("/v1/calls/not-an-id").await.assert_error(404, "not_found");
    t.a.get("/v1/contacts/cnt_01m809negmevtamc5qp1755v68")
        .await
        .assert_error(404, "not_found");
    t.a.get("/v1/nowhere").await.assert_error(404, "not_found");
    let r = t.a.send(Method::PUT, "/v1/calls", Some(json!({})), &[]).await;
    r.assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn bad_idempotency_keys() {
    let t = TestServer::start().await;
    let long = "k".repeat(300);
    let before = t.snapshot(&t.a.org).await;
    let r =
        t.a.send(
            Method::POST,
            "/v1/calls",
            Some(json!({"phone": "+15551234567"})),
            &[("idempotency-key", &long)],
        )
        .await;
    assert_eq!(r.assert_error(400, "invalid_parameter").as_deref(), Some("Idempotency-Key"));
    assert_eq!(t.snapshot(&t.a.org).await, before);
}
