//! The Callmind dialect: every endpoint of its spec with the spec's example
//! bodies, deduplication by callSid, status codes, and the spec's Node.js
//! and Python examples run unchanged against the server.

use serde_json::{Value, json};
use switchboard_domain::{CallStatus, Direction};

use crate::support::{Client, TestServer};

fn is_str(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

#[tokio::test]
async fn spec_examples_on_every_endpoint() {
    let t = TestServer::start().await;
    let c = &t.a;
    // 1. Create (when the call starts), the spec's request body.
    let start = json!({
        "agentId": "agent_12345", "userId": "user_67890", "orgId": "org_abc123",
        "callSid": "CA-unique-call-id-from-phone-system", "direction": "inbound",
        "callerNumber": "+1234567890", "callerName": "John Doe", "status": "in-progress",
        "startedAt": "2025-01-17T10:30:00Z"
    });
    let r = c.post("/api/call-history", start.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(is_str(&r.body["id"]) && is_str(&r.body["createdAt"]));
    assert_eq!(
        (r.body["agentId"].as_str(), r.body["status"].as_str()),
        (Some("agent_12345"), Some("in-progress"))
    );
    let id = r.body["id"].as_str().unwrap().to_owned();
    // Retried three times: still one record.
    for _ in 0..3 {
        let again = c.post("/api/call-history", start.clone()).await;
        assert_eq!((again.status.as_u16(), again.body["id"].as_str()), (200, Some(id.as_str())));
    }
    // 2. Update status (when the call ends), the spec's body.
    let end = json!({
        "status": "completed", "duration": 245,
        "recordingUrl": "https://s3.amazonaws.com/recordings/call-123.mp3",
        "transcript": "Agent: Hello, thank you for calling...\nCaller: Hi, I need help with...",
        "sentiment": "positive", "topics": ["support", "billing"],
        "summary": "Customer called about billing issue, successfully resolved",
        "collectedData": {"name": "John Smith", "email": "john@example.com", "accountNumber": "ACC-12345"},
        "cost": 0.15
    });
    let r = c.patch(&format!("/api/call-history/{id}/status"), end).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["duration"].as_i64(), r.body["sentiment"].as_str()),
        (Some("completed"), Some(245), Some("positive"))
    );
    assert_eq!(r.body["topics"], json!(["support", "billing"]));
    // Repeatable: later updates merge.
    let r = c
        .patch(
            &format!("/api/call-history/{id}/status"),
            json!({"status": "completed", "summary": "Resolved; follow-up booked"}),
        )
        .await;
    assert_eq!(
        (r.body["summary"].as_str(), r.body["duration"].as_i64(), r.body["cost"].as_f64()),
        (Some("Resolved; follow-up booked"), Some(245), Some(0.15))
    );
    // GET one and the list.
    let g = c.get(&format!("/api/call-history/{id}")).await;
    assert_eq!(g.status, 200);
    for k in [
        "id",
        "callSid",
        "agentId",
        "userId",
        "orgId",
        "direction",
        "callerNumber",
        "callerName",
        "status",
        "recordingUrl",
        "transcript",
        "summary",
    ] {
        assert!(is_str(&g.body[k]), "{k}: {}", g.body);
    }
    assert_eq!(g.body["collectedData"]["accountNumber"], "ACC-12345");
    let l = c.get("/api/call-history?agentId=agent_12345").await;
    assert_eq!(l.body["pagination"]["total"], 1);
    // 3. The webhook endpoints: started then completed make one call.
    let s = c
        .post(
            "/api/webhooks/calls/started",
            json!({"callSid": "CA-unique-call-id", "agentId": "agent_12345", "direction": "inbound", "callerNumber": "+1234567890"}),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.body);
    let done = c.post("/api/webhooks/calls/completed", json!({"callSid": "CA-unique-call-id", "duration": 245, "recordingUrl": "https://storage.example.com/r.mp3", "transcript": "Full text...", "sentiment": "positive", "summary": "Customer asked about pricing"})).await;
    assert_eq!(
        (done.status.as_u16(), done.body["id"].as_str(), done.body["status"].as_str()),
        (200, s.body["id"].as_str(), Some("completed"))
    );
    let stored = t.store.call_by_external_id(&c.org.id, "CA-unique-call-id").await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.direction, stored.duration),
        (CallStatus::Completed, Direction::Inbound, Some(245))
    );
    // Completed webhook for a call never started creates it.
    let only = c
        .post("/api/webhooks/calls/completed", json!({"callSid": "CA-late", "duration": 30}))
        .await;
    assert_eq!((only.status.as_u16(), only.body["status"].as_str()), (201, Some("completed")));
    // 4. Create-and-complete in one POST.
    let one = c.post("/api/call-history", json!({"agentId": "test-agent", "userId": "test-user", "callSid": "TEST-123", "direction": "inbound", "callerNumber": "+1234567890", "status": "completed", "duration": 60, "summary": "Test call completed"})).await;
    assert_eq!(
        (one.status.as_u16(), one.body["status"].as_str(), one.body["duration"].as_i64()),
        (201, Some("completed"), Some(60))
    );
    assert_eq!(c.get("/api/call-history").await.body["pagination"]["total"], 4);
}

#[tokio::test]
async fn status_codes_as_in_the_spec_table() {
    let t = TestServer::start().await;
    let c = &t.a;
    let id = c
        .post("/api/call-history", json!({"callSid": "CA-1", "status": "in-progress"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = format!("/api/call-history/{id}/status");
    c.patch(&p, json!({"status": "teleported"})).await.assert_field_error("status");
    c.patch(&p, json!({"status": "completed", "sentiment": "ecstatic"}))
        .await
        .assert_field_error("sentiment");
    c.patch(&p, json!({"status": "completed", "sentiment": "mixed"}))
        .await
        .assert_field_error("sentiment");
    c.patch(&p, json!({"duration": 5})).await.assert_field_error("status");
    c.post("/api/call-history", json!({"status": "sleeping"}))
        .await
        .assert_field_error("status");
    c.post("/api/webhooks/calls/started", json!({"agentId": "a"}))
        .await
        .assert_field_error("callSid");
    c.patch(
        "/api/call-history/call_01m809negmevtamc5qp1755v68/status",
        json!({"status": "completed"}),
    )
    .await
    .assert_error(404, "not_found");
    c.get("/api/call-history/nope").await.assert_error(404, "not_found");
    let anonymous = reqwest::Client::new()
        .post(format!("{}/api/call-history", t.base))
        .json(&json!({"status": "completed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    // Nothing changed by the refusals.
    let stored = t.store.call_by_external_id(&c.org.id, "CA-1").await.unwrap().unwrap();
    assert_eq!(stored.status, CallStatus::InProgress);
    // Another organisation cannot see or change the call.
    t.b.get(&format!("/api/call-history/{id}")).await.assert_error(404, "not_found");
    t.b.patch(&p, json!({"status": "failed"})).await.assert_error(404, "not_found");
    // Missed maps both ways.
    let m = c.patch(&p, json!({"status": "missed"})).await;
    assert_eq!(m.body["status"], "missed");
    assert_eq!(
        t.store.call_by_external_id(&c.org.id, "CA-1").await.unwrap().unwrap().status,
        CallStatus::NoAnswer
    );
}

/// Runs `program` on `source` with the spec's base URL and token replaced.
fn run_example(program: &str, source: &str, ext: &str, base: &str, token: &str) {
    let code = source
        .replace("https://your-callmind-api.com/api", &format!("{base}/api"))
        .replace("your-clerk-jwt-token", token);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("example.{ext}"));
    std::fs::write(&file, code).unwrap();
    let out = std::process::Command::new(program)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed: {e}"));
    assert!(
        out.status.success(),
        "{program} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn check_example_call(c: &Client, t: &TestServer) {
    let call = t
        .store
        .call_by_external_id(&c.org.id, "CA-unique-id")
        .await
        .unwrap()
        .expect("the example's call exists");
    assert_eq!(
        (call.status, call.duration, call.agent_id.as_deref()),
        (CallStatus::Completed, Some(180), Some("agent_123"))
    );
    assert_eq!(call.transcript.as_deref(), Some("Full conversation..."));
    assert_eq!(call.sentiment.map(|s| s.as_str()), Some("positive"));
    assert_eq!(call.metadata.as_ref().unwrap()["userId"], "user_456");
    assert_eq!(c.get("/api/call-history").await.body["pagination"]["total"], 1);
}

#[tokio::test]
async fn the_specs_node_and_python_examples_run_unchanged() {
    let t = TestServer::start().await;
    let base = t.base.clone();
    let (node_key, py_key) = (t.a.key.clone(), t.b.key.clone());
    let b = base.clone();
    tokio::task::spawn_blocking(move || run_example("node", include_str!("../fixtures/callmind_example.mjs"), "mjs", &b, &node_key))
        .await
        .unwrap();
    check_example_call(&t.a, &t).await;
    tokio::task::spawn_blocking(move || run_example("python3", include_str!("../fixtures/callmind_example.py"), "py", &base, &py_key))
        .await
        .unwrap();
    check_example_call(&t.b, &t).await;
}
