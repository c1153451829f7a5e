//! Tenant isolation on every route: another organisation's ids answer 404
//! and change nothing; lists never show another organisation's rows.

use reqwest::Method;
use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn every_route_is_scoped_to_the_callers_organisation() {
    let t = TestServer::start().await;
    let contact =
        t.a.new_contact(json!({"name": "A's contact", "phone": "+15551234567", "tags": ["mine"]}))
            .await;
    let call = t
        .a
        .new_call(json!({"contactId": contact, "externalId": "CA-A", "campaignId": "cmp-a", "scheduled": crate::support::days_ahead(30)}))
        .await;
    let before = t.snapshot(&t.a.org).await;

    let by_id: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/v1/calls/{call}"), None),
        (Method::DELETE, format!("/v1/calls/{call}"), None),
        (Method::POST, format!("/v1/calls/{call}/cancel"), Some(json!({}))),
        (Method::POST, format!("/v1/calls/{call}/events"), Some(json!({"status": "ringing"}))),
        (Method::GET, format!("/v1/contacts/{contact}"), None),
        (Method::PATCH, format!("/v1/contacts/{contact}"), Some(json!({"name": "stolen"}))),
        (Method::DELETE, format!("/v1/contacts/{contact}"), None),
    ];
    for (m, p, body) in by_id {
        let r = t.b.send(m.clone(), &p, body, &[]).await;
        r.assert_error(404, "not_found");
    }
    // Referring to A's contact when creating a call in B is refused.
    t.b.post("/v1/calls", json!({"contactId": contact}))
        .await
        .assert_field_error("contactId");
    // Lists and filters only see B's own rows.
    for p in [
        "/v1/calls",
        "/v1/calls?campaignId=cmp-a",
        &format!("/v1/calls?contactId={contact}"),
        "/v1/contacts",
        "/v1/contacts?tag=mine",
        "/v1/contacts?search=A's",
    ] {
        let r = t.b.get(p).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["pagination"]["total"], 0, "{p}");
    }
    // B reporting on the same carrier id makes B's own call, leaving A's alone.
    let r =
        t.b.post(
            "/v1/calls/events",
            json!({"externalId": "CA-A", "status": "completed", "duration": 9}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_ne!(r.body["call"]["id"], call);
    // B's Idempotency-Key namespace is its own.
    let k = [("idempotency-key", "shared")];
    let a1 =
        t.a.send(Method::POST, "/v1/contacts", Some(json!({"phone": "+15550000001"})), &k)
            .await;
    let b1 =
        t.b.send(Method::POST, "/v1/contacts", Some(json!({"phone": "+15550000001"})), &k)
            .await;
    assert_ne!(a1.body["id"], b1.body["id"]);

    let after = t.snapshot(&t.a.org).await;
    assert_eq!(after["calls"], before["calls"]);
    assert_eq!(after["contacts"].as_array().unwrap().len(), 2);
    assert_eq!(t.a.get(&format!("/v1/calls/{call}")).await.body["status"], "scheduled");
    assert_eq!(t.a.get(&format!("/v1/contacts/{contact}")).await.body["name"], "A's contact");
}
