//! `/v1/webhooks` over HTTP: the subscription lifecycle, secrets shown once,
//! bad input refused by field with nothing stored, SSRF refusal, tenant
//! isolation of every route, and the event-type catalogue.

use serde_json::{Value, json};
use switchboard_store::Page;

use crate::support::TestServer;

pub async fn private_ok() -> TestServer {
    TestServer::start_with(|c| c.allow_private_webhook_targets = true).await
}

/// Every subscription an organisation has, as stored.
async fn stored(t: &TestServer, org: &switchboard_domain::Organisation) -> Value {
    let (hooks, _) = t.store.list_webhooks(&org.id, Page { page: 1, limit: 100 }).await.unwrap();
    serde_json::to_value(hooks).unwrap()
}

#[tokio::test]
async fn lifecycle_and_secret_shown_once() {
    let t = private_ok().await;
    let r =
        t.a.post(
            "/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/hooks", "events": ["call.completed", "contact.*"], "description": "CRM"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("wh_"));
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    let key = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, secret.strip_prefix("whsec_").unwrap()).unwrap();
    assert_eq!(key.len(), 24);
    assert_eq!(r.body["signatureScheme"], "standard");
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["enabled"], true);
    let stored_hook = t.store.get_webhook(&t.a.org.id, &id.parse().unwrap()).await.unwrap();
    assert_eq!(stored_hook.secret.expose(), secret);
    assert_eq!(stored_hook.events, vec!["call.completed", "contact.*"]);

    let got = t.a.get(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(got.status, 200);
    assert!(got.body.get("secret").is_none(), "reads never show the secret: {}", got.body);
    assert_eq!(got.body["description"], "CRM");
    let list = t.a.get("/v1/webhooks").await;
    assert_eq!(list.body["pagination"]["total"], 1);
    assert!(list.body["data"][0].get("secret").is_none());
    assert!(!list.body.to_string().contains(&secret));

    let p =
        t.a.patch(
            &format!("/v1/webhooks/{id}"),
            json!({"events": ["*"], "description": null, "signatureScheme": "ringez", "enabled": false}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["events"], json!(["*"]));
    assert!(p.body.get("description").is_none());
    assert_eq!(p.body["signatureScheme"], "ringez");
    assert_eq!(p.body["status"], "disabled");
    assert!(p.body.get("secret").is_none());

    let rot = t.a.post(&format!("/v1/webhooks/{id}/rotate-secret"), json!({})).await;
    assert_eq!(rot.status, 200, "{}", rot.body);
    let new_secret = rot.body["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert!(rot.body["previousSecretExpiresAt"].is_string());
    let after = t.store.get_webhook(&t.a.org.id, &id.parse().unwrap()).await.unwrap();
    assert_eq!(after.secret.expose(), new_secret);
    assert_eq!(after.previous_secret.unwrap().expose(), secret);
    // A chosen secret; an empty body generates one.
    let rot =
        t.a.post(
            &format!("/v1/webhooks/{id}/rotate-secret"),
            json!({"secret": "my-own-shared-secret-1"}),
        )
        .await;
    assert_eq!(rot.body["secret"], "my-own-shared-secret-1");
    let rot =
        t.a.raw(
            reqwest::Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            vec![],
            "application/json",
        )
        .await;
    assert_eq!(rot.status, 200, "{}", rot.body);

    assert_eq!(t.a.delete(&format!("/v1/webhooks/{id}")).await.status, 204);
    t.a.get(&format!("/v1/webhooks/{id}")).await.assert_error(404, "not_found");
    assert_eq!(stored(&t, &t.a.org).await, json!([]));
}

#[tokio::test]
async fn create_is_idempotent_with_a_key() {
    let t = private_ok().await;
    let body = json!({"url": "http://127.0.0.1:9/x", "events": ["*"]});
    let first =
        t.a.send(
            reqwest::Method::POST,
            "/v1/webhooks",
            Some(body.clone()),
            &[("idempotency-key", "wh-1")],
        )
        .await;
    let again =
        t.a.send(reqwest::Method::POST, "/v1/webhooks", Some(body), &[("idempotency-key", "wh-1")])
            .await;
    assert_eq!(first.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(t.a.get("/v1/webhooks").await.body["pagination"]["total"], 1);
}

#[tokio::test]
async fn bad_input_is_refused_by_field_and_nothing_is_stored() {
    let t = private_ok().await;
    let ok =
        t.a.post(
            "/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "signatureScheme": "saas", "secret": "shared-secret-0123456789"}),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let id = ok.body["id"].as_str().unwrap().to_owned();
    let before = stored(&t, &t.a.org).await;
    let events_before = t.snapshot(&t.a.org).await;
    let cases = [
        (json!({"events": ["*"]}), "url"),
        (json!({"url": "not a url", "events": ["*"]}), "url"),
        (json!({"url": "ftp://example.com/x", "events": ["*"]}), "url"),
        (json!({"url": "http://", "events": ["*"]}), "url"),
        (json!({"url": "http://127.0.0.1:9/x"}), "events"),
        (json!({"url": "http://127.0.0.1:9/x", "events": []}), "events"),
        (json!({"url": "http://127.0.0.1:9/x", "events": ["call.exploded"]}), "events[0]"),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["call.completed", "nope.*"]}),
            "events[1]",
        ),
        (json!({"url": "http://127.0.0.1:9/x", "events": "call.completed"}), "events"),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "signatureScheme": "md5"}),
            "signatureScheme",
        ),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "secret": "whsec_tooshort"}),
            "secret",
        ),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "signatureScheme": "saas", "secret": "short"}),
            "secret",
        ),
        (json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "enabled": "yes"}), "enabled"),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "description": "x".repeat(300)}),
            "description",
        ),
    ];
    for (body, field) in cases {
        let r = t.a.post("/v1/webhooks", body.clone()).await;
        assert_eq!(
            r.assert_error(400, "invalid_parameter").as_deref(),
            Some(field),
            "{body} → {}",
            r.body
        );
    }
    let patches = [
        (json!({"url": "gopher://x"}), "url"),
        (json!({"events": []}), "events"),
        (json!({"events": ["call.nope"]}), "events[0]"),
        (json!({"signatureScheme": "plain"}), "signatureScheme"),
        // The saas secret is no whsec_ secret: Standard Webhooks cannot sign with it.
        (json!({"signatureScheme": "standard"}), "signatureScheme"),
        (json!({"secret": "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}), "secret"),
    ];
    for (body, field) in patches {
        let r = t.a.patch(&format!("/v1/webhooks/{id}"), body.clone()).await;
        r.assert_field_error(field);
    }
    let r =
        t.a.post(&format!("/v1/webhooks/{id}/rotate-secret"), json!({"secret": "tiny"}))
            .await;
    r.assert_field_error("secret");
    t.a.post(&format!("/v1/webhooks/{id}/replay"), json!({}))
        .await
        .assert_field_error("since");
    t.a.post(&format!("/v1/webhooks/{id}/replay?since=yesterday"), json!({}))
        .await
        .assert_field_error("since");
    t.a.get("/v1/webhooks?limit=1000").await.assert_field_error("limit");
    t.a.get(&format!("/v1/webhooks/{id}/attempts?page=0"))
        .await
        .assert_field_error("page");
    let r =
        t.a.raw(reqwest::Method::POST, "/v1/webhooks", b"{not json".to_vec(), "application/json")
            .await;
    r.assert_error(400, "invalid_json");
    assert_eq!(stored(&t, &t.a.org).await, before, "a refused request changes nothing");
    assert_eq!(t.snapshot(&t.a.org).await, events_before);
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let t = TestServer::start().await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost:8080/x",
        "http://10.0.0.1/x",
        "http://172.16.5.4/x",
        "http://192.168.1.10/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[fd00::1]/x",
        "http://0.0.0.0/x",
    ] {
        let r = t.a.post("/v1/webhooks", json!({"url": url, "events": ["*"]})).await;
        r.assert_field_error("url");
        assert!(
            r.body["error"]["details"]["reason"].as_str().unwrap().contains("private"),
            "{}",
            r.body
        );
    }
    // A public address is accepted (nothing is sent until an event happens).
    let ok =
        t.a.post("/v1/webhooks", json!({"url": "http://203.0.114.10/hooks", "events": ["*"]}))
            .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let id = ok.body["id"].as_str().unwrap();
    t.a.patch(&format!("/v1/webhooks/{id}"), json!({"url": "http://127.0.0.1/x"}))
        .await
        .assert_field_error("url");
    let (hooks, total) = t.store.list_webhooks(&t.a.org.id, Page { page: 1, limit: 100 }).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(hooks[0].url, "http://203.0.114.10/hooks");
}

#[tokio::test]
async fn another_organisations_ids_are_not_found() {
    let t = private_ok().await;
    let r =
        t.a.post("/v1/webhooks", json!({"url": "http://127.0.0.1:9/x", "events": ["*"]}))
            .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    t.a.new_contact(json!({"phone": "+15551234567", "name": "Ann"})).await;
    let event = t.store.org_events_after(&t.a.org.id, 0, 10).await.unwrap().remove(0);
    let before = stored(&t, &t.a.org).await;
    let b = &t.b;
    b.get(&format!("/v1/webhooks/{id}")).await.assert_error(404, "not_found");
    b.patch(&format!("/v1/webhooks/{id}"), json!({"enabled": false}))
        .await
        .assert_error(404, "not_found");
    b.delete(&format!("/v1/webhooks/{id}")).await.assert_error(404, "not_found");
    b.post(&format!("/v1/webhooks/{id}/rotate-secret"), json!({}))
        .await
        .assert_error(404, "not_found");
    b.get(&format!("/v1/webhooks/{id}/attempts")).await.assert_error(404, "not_found");
    b.get(&format!("/v1/webhooks/{id}/deliveries")).await.assert_error(404, "not_found");
    b.post(&format!("/v1/webhooks/{id}/replay?since=2020-01-01"), json!({}))
        .await
        .assert_error(404, "not_found");
    b.post(&format!("/v1/events/{}/redeliver", event.id), json!({}))
        .await
        .assert_error(404, "not_found");
    assert_eq!(b.get("/v1/webhooks").await.body["pagination"]["total"], 0);
    // The owner still sees it, unchanged; unknown ids are 404 too.
    assert_eq!(stored(&t, &t.a.org).await, before);
    assert_eq!(t.a.post(&format!("/v1/events/{}/redeliver", event.id), json!({})).await.status, 202);
    t.a.get("/v1/webhooks/wh_nope").await.assert_error(404, "not_found");
    t.a.post("/v1/events/evt_nope/redeliver", json!({}))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn event_types_list_every_type_with_an_example() {
    let t = TestServer::start().await;
    let r = t.a.get("/v1/webhooks/event-types").await;
    assert_eq!(r.status, 200);
    let data = r.body["data"].as_array().unwrap();
    let names: Vec<&str> = data.iter().map(|d| d["type"].as_str().unwrap()).collect();
    for want in [
        "call.scheduled",
        "call.initiated",
        "call.ringing",
        "call.answered",
        "call.completed",
        "call.failed",
        "call.updated",
        "campaign.started",
        "campaign.paused",
        "campaign.completed",
        "contact.created",
        "contact.updated",
        "lead.imported",
        "recording.ready",
        "transcription.complete",
        "balance.low",
        "webhook.disabled",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for d in data {
        let ex = &d["example"];
        assert_eq!(ex["type"], d["type"]);
        assert!(ex["id"].as_str().unwrap().starts_with("evt_"));
        assert!(ex["created"].is_string() && ex["data"].is_object(), "{d}");
        assert!(!d["description"].as_str().unwrap().is_empty());
    }
    // Without a key: 401.
    let anon = reqwest::get(format!("{}/v1/webhooks/event-types", t.base)).await.unwrap();
    assert_eq!(anon.status(), 401);
}
