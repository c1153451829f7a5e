//! Happy paths of every /v1/calls route, checked on bodies and stored state.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::{CallStatus, Direction};

use crate::support::TestServer;

#[tokio::test]
async fn create_call_as_in_the_spec() {
    let t = TestServer::start().await;
    let body = json!({
        "phone": "+15551234567",
        "templateId": "60a2e7f3b9c1a83e94d8f2b2",
        "variables": {"companyName": "Acme Inc", "productName": "Premium Widget"},
        "scheduled": "2025-05-20T15:30:00Z",
        "callerId": "+15559876543"
    });
    let r = t.a.post("/v1/calls", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let b = &r.body;
    assert!(b["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(b["status"], "scheduled");
    assert_eq!(b["phone"], "+15551234567");
    assert_eq!(b["callerId"], "+15559876543");
    assert_eq!(b["templateId"], "60a2e7f3b9c1a83e94d8f2b2");
    assert_eq!(b["scheduled"], "2025-05-20T15:30:00Z");
    assert!(b["createdAt"].as_str().is_some());
    let stored = t
        .store
        .get_call(&t.a.org.id, &b["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.status, CallStatus::Scheduled);
    assert_eq!(stored.to.as_deref(), Some("+15551234567"));
    assert_eq!(stored.from.as_deref(), Some("+15559876543"));
    assert_eq!(
        stored.variables,
        Some(json!({"companyName": "Acme Inc", "productName": "Premium Widget"}))
    );
    let events = t.store.org_events_after(&t.a.org.id, 0, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(),
        vec!["call.scheduled"]
    );
}

#[tokio::test]
async fn create_call_with_every_core_field_and_read_it_back() {
    let t = TestServer::start().await;
    let contact =
        t.a.new_contact(json!({"name": "Rajesh Kumar", "phone": "+919876543210", "externalId": "LOAN001"}))
            .await;
    let id =
        t.a.new_call(json!({
            "contactId": contact,
            "direction": "outbound",
            "callerId": "+14155550100",
            "callType": "collections",
            "agentId": "AGT001",
            "agentName": "Suresh Kumar",
            "campaignId": "overdue_45days",
            "customerContext": {"loanType": "Business Loan", "outstandingBalance": 150000},
            "metadata": {"campaign": "overdue_45days", "attempt": 4},
            "externalId": "CA-42",
            "status": "completed",
            "initiatedAt": "2024-10-12T10:30:00Z",
            "answeredAt": "2024-10-12T10:30:15Z",
            "endedAt": "2024-10-12T10:34:45Z",
            "outcome": "successful",
            "notes": "Promised to pay",
            "recording": "https://rec.example.com/42.mp3",
            "transcript": "Agent: Hello",
            "sentiment": "positive",
            "topics": ["payment", "payment", "schedule"],
            "summary": "Will pay Friday",
            "collectedData": {"promiseDate": "2024-10-18"},
            "cost": 0.12
        }))
        .await;
    let r = t.a.get(&format!("/v1/calls/{id}")).await;
    assert_eq!(r.status, 200);
    let b = &r.body;
    // Customer details come from the contact.
    assert_eq!(b["phone"], "+919876543210");
    assert_eq!(b["customerName"], "Rajesh Kumar");
    assert_eq!(b["customerId"], "LOAN001");
    assert_eq!(b["contactId"], contact);
    assert_eq!(b["status"], "completed");
    assert_eq!(b["duration"], 270);
    assert_eq!(b["startedAt"], "2024-10-12T10:30:15Z");
    assert_eq!(b["endedAt"], "2024-10-12T10:34:45Z");
    assert_eq!(b["topics"], json!(["payment", "schedule"]));
    assert_eq!(b["sentiment"], "positive");
    assert_eq!(b["cost"], 0.12);
    assert_eq!(b["externalId"], "CA-42");
    assert_eq!(b["customerContext"]["outstandingBalance"], 150000);
    assert_eq!(b["metadata"]["attempt"], 4);
    assert_eq!(b["agentName"], "Suresh Kumar");
    assert_eq!(b["events"][0]["kind"], "status.completed");
    // The contact's history shows the call.
    let c = t.a.get(&format!("/v1/contacts/{contact}")).await;
    assert_eq!(c.body["callHistory"][0]["id"], id);
    assert_eq!(c.body["callHistory"][0]["duration"], 270);
    assert_eq!(c.body["callHistory"][0]["outcome"], "successful");
}

#[tokio::test]
async fn national_numbers_use_the_org_region() {
    let t = TestServer::start().await;
    let r = t.a.post("/v1/calls", json!({"phone": "(415) 867-5309"})).await;
    // The test organisations have no default region: a national number is ambiguous.
    r.assert_field_error("phone");
    // Set the region for the organisation; national numbers now read as US.
    let r =
        t.a.patch("/v1/org", json!({"defaultRegion": "us", "timeZone": "America/Los_Angeles"}))
            .await;
    assert_eq!((r.status.as_u16(), r.body["defaultRegion"].as_str()), (200, Some("US")));
    let id = t.a.new_call(json!({"phone": "(415) 867-5309"})).await;
    assert_eq!(t.a.get(&format!("/v1/calls/{id}")).await.body["phone"], "+14158675309");
    // The other organisation is unaffected.
    t.b.post("/v1/calls", json!({"phone": "(415) 867-5309"}))
        .await
        .assert_field_error("phone");
    // Strict checking refuses the fictional 555 range.
    t.a.patch("/v1/org", json!({"phoneCheck": "strict"})).await;
    t.a.post("/v1/calls", json!({"phone": "+15551234567"}))
        .await
        .assert_field_error("phone");
    assert_eq!(t.a.get("/v1/org").await.body["phoneCheck"], "strict");
    for (body, field) in [
        (json!({"defaultRegion": "XX"}), "defaultRegion"),
        (json!({"timeZone": "Nope/Nope"}), "timeZone"),
        (json!({"phoneCheck": "lax"}), "phoneCheck"),
        (json!({"name": ""}), "name"),
    ] {
        let before = t.a.get("/v1/org").await.body;
        t.a.patch("/v1/org", body).await.assert_field_error(field);
        assert_eq!(t.a.get("/v1/org").await.body, before);
    }
}

#[tokio::test]
async fn the_organisations_dialer_rate_cap_is_set_through_the_api() {
    let t = TestServer::start().await;
    assert_eq!(t.a.get("/v1/org").await.body["callsPerSecond"], Value::Null);
    let r = t.a.patch("/v1/org", json!({"callsPerSecond": 3})).await;
    assert_eq!((r.status.as_u16(), r.body["callsPerSecond"].as_u64()), (200, Some(3)));
    let stored = t.store.get_org(&t.a.org.id).await.unwrap();
    assert_eq!(stored.calls_per_second, Some(3));
    assert_eq!(t.store.get_org(&t.b.org.id).await.unwrap().calls_per_second, None);
    for bad in [json!(0), json!(10_001), json!(-1), json!("fast")] {
        let before = t.a.get("/v1/org").await.body;
        t.a.patch("/v1/org", json!({"callsPerSecond": bad}))
            .await
            .assert_field_error("callsPerSecond");
        assert_eq!(t.a.get("/v1/org").await.body, before);
    }
    // Leaving it out keeps it; null clears it.
    t.a.patch("/v1/org", json!({"name": "Alpha"})).await;
    assert_eq!(t.a.get("/v1/org").await.body["callsPerSecond"], 3);
    let r = t.a.patch("/v1/org", json!({"callsPerSecond": null})).await;
    assert_eq!(r.body["callsPerSecond"], Value::Null);
    assert_eq!(t.store.get_org(&t.a.org.id).await.unwrap().calls_per_second, None);
}

#[tokio::test]
async fn list_calls_filters_and_paginates() {
    let t = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let id =
            t.a.new_call(json!({
                "phone": "+15551234567",
                "campaignId": if i % 2 == 0 { "cmp-even" } else { "cmp-odd" },
                "initiatedAt": format!("2025-05-{:02}T10:00:00Z", i + 1),
                "status": if i % 5 == 0 { "completed" } else { "initiated" },
            }))
            .await;
        ids.push(id);
    }
    t.b.new_call(json!({"phone": "+15551234567"})).await;
    let r = t.a.get("/v1/calls?page=2&limit=10").await;
    assert_eq!(r.status, 200);
    let mut pagination = r.body["pagination"].clone();
    assert!(pagination["nextCursor"].is_string(), "{pagination}");
    pagination.as_object_mut().unwrap().remove("nextCursor");
    assert_eq!(pagination, json!({"total": 25, "page": 2, "limit": 10, "pages": 3}));
    let got: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = ids.iter().rev().skip(10).take(10).map(String::as_str).collect();
    assert_eq!(got, want);
    assert_eq!(t.a.get("/v1/calls").await.body["pagination"]["limit"], 20);
    assert_eq!(t.a.get("/v1/calls?status=completed").await.body["pagination"]["total"], 5);
    assert_eq!(
        t.a.get("/v1/calls?status=completed,initiated").await.body["pagination"]["total"],
        25
    );
    assert_eq!(t.a.get("/v1/calls?campaignId=cmp-even").await.body["pagination"]["total"], 13);
    // Dates are whole days; the end date is included.
    assert_eq!(
        t.a.get("/v1/calls?startDate=2025-05-03&endDate=2025-05-07").await.body["pagination"]["total"],
        5
    );
    assert_eq!(
        t.a.get("/v1/calls?startDate=2025-05-03T10:00:00Z&endDate=2025-05-07T10:00:00Z")
            .await
            .body["pagination"]["total"],
        4
    );
    let cnt = t.a.new_contact(json!({"phone": "+15550001111"})).await;
    t.a.new_call(json!({"contactId": cnt})).await;
    assert_eq!(t.a.get(&format!("/v1/calls?contactId={cnt}")).await.body["pagination"]["total"], 1);
}

/// Ids of a list page, and its next cursor.
fn page_ids(body: &serde_json::Value, list: &str) -> (Vec<String>, Option<String>) {
    let ids = body[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().or(c["session_id"].as_str()).unwrap().to_owned())
        .collect();
    (ids, body["pagination"]["nextCursor"].as_str().map(str::to_owned))
}

/// Cursor pages read every call once, newest first, ties on the same
/// instant included; `pagination.total` is right for every filter without
/// counting the table; offset pages are bounded and say how to go deeper.
#[tokio::test]
async fn list_calls_by_cursor_reads_every_call_once() {
    cursor_pages_read_every_call_once(TestServer::start().await).await;
}

/// The same on PostgreSQL.
#[tokio::test]
async fn list_calls_by_cursor_reads_every_call_once_on_postgres() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the PostgreSQL cursor test");
        return;
    };
    let schema = format!("it_cursor_{}", std::process::id());
    switchboard_store::postgres::PgStore::connect_fresh_schema(&url, &schema)
        .await
        .unwrap();
    let sep = if url.contains('?') { "&" } else { "?" };
    let base = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let t = TestServer::start_with(move |c| c.database_url = Some(switchboard_server::config::Secret::new(base))).await;
    cursor_pages_read_every_call_once(t).await;
    let _ = switchboard_store::postgres::PgStore::drop_schema(&url, &schema).await;
}

async fn cursor_pages_read_every_call_once(t: TestServer) {
    for i in 0..23 {
        t.a.new_call(json!({
            "phone": "+15551234567",
            // Three calls share each instant: the cursor must break ties by id.
            "initiatedAt": format!("2025-05-{:02}T10:00:00Z", i / 3 + 1),
            "status": if i % 4 == 0 { "busy" } else { "completed" },
            "agentId": if i % 2 == 0 { "AGT1" } else { "AGT2" },
            "customerId": if i % 5 == 0 { "CUST5" } else { "CUST1" },
            "direction": if i % 3 == 0 { "inbound" } else { "outbound" },
        }))
        .await;
    }
    t.b.new_call(json!({"phone": "+15551234567"})).await;
    for (query, total) in [
        ("", 23),
        ("status=busy", 6),
        ("status=busy,completed", 23),
        ("agentId=AGT1", 12),
        ("customerId=CUST5", 5),
        ("direction=inbound", 8),
        ("agentId=AGT2&status=busy", 0),
        ("startDate=2025-05-02&endDate=2025-05-03", 6),
        ("startDate=2025-05-02T10:00:00.500Z", 17),
    ] {
        let all = t.a.get(&format!("/v1/calls?limit=100&{query}")).await;
        assert_eq!(all.body["pagination"]["total"], total, "{query}: {}", all.body);
        let (want, none) = page_ids(&all.body, "data");
        assert_eq!((want.len(), none), (total, None), "{query}");
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                None => format!("/v1/calls?limit=4&{query}"),
                Some(c) => format!("/v1/calls?limit=4&cursor={c}&{query}"),
            };
            let r = t.a.get(&path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            assert_eq!(r.body["pagination"]["total"], total, "{path}");
            let (ids, next) = page_ids(&r.body, "data");
            got.extend(ids);
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
            assert!(got.len() <= total, "{query}: the cursor went round");
        }
        assert_eq!(got, want, "{query}");
    }
    // The ribbon's call logs and Callmind's list follow the same cursors.
    let first = t.a.get("/api/ribbon/call-logs?pageSize=10").await;
    let (a, next) = page_ids(&first.body, "logs");
    let second =
        t.a.get(&format!("/api/ribbon/call-logs?pageSize=10&cursor={}", next.unwrap()))
            .await;
    let (b, _) = page_ids(&second.body, "logs");
    let page2 = t.a.get("/api/ribbon/call-logs?pageSize=10&page=2").await;
    assert_eq!(page_ids(&page2.body, "logs").0, b);
    assert!(a.iter().all(|id| !b.contains(id)));
    let cm = t.a.get("/api/call-history?limit=5").await;
    assert!(cm.body["pagination"]["nextCursor"].is_string(), "{}", cm.body);
    // Offset pages reach row 10,000; deeper ones are refused with the way on.
    assert_eq!(t.a.get("/v1/calls?page=1001&limit=10").await.status, 200);
    let deep = t.a.get("/v1/calls?page=1002&limit=10").await;
    deep.assert_field_error("page");
    assert!(deep.body["error"]["message"].as_str().unwrap().contains("cursor"), "{}", deep.body);
    t.a.get("/api/ribbon/call-logs?page=202&pageSize=50")
        .await
        .assert_field_error("page");
    t.a.get("/api/call-history?page=1002&limit=10").await.assert_field_error("page");
    // Bad cursors name the parameter.
    t.a.get("/v1/calls?cursor=nonsense").await.assert_field_error("cursor");
    t.a.get("/v1/calls?cursor=12.call_x").await.assert_field_error("cursor");
    let c = page_ids(&t.a.get("/v1/calls?limit=2").await.body, "data").1.unwrap();
    t.a.get(&format!("/v1/calls?cursor={c}&page=2")).await.assert_field_error("page");
    // Another organisation's list is its own.
    assert_eq!(t.b.get("/v1/calls").await.body["pagination"]["total"], 1);
}

#[tokio::test]
async fn cancel_a_scheduled_call() {
    let t = TestServer::start().await;
    let id =
        t.a.new_call(json!({"phone": "+15551234567", "scheduled": crate::support::days_ahead(30)}))
            .await;
    let r = t.a.post(&format!("/v1/calls/{id}/cancel"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"id": id, "status": "cancelled", "message": "Call successfully cancelled"})
    );
    assert_eq!(t.a.get(&format!("/v1/calls/{id}")).await.body["status"], "cancelled");
    // A call already being dialled cannot be cancelled: 409 naming both states.
    let live = t.a.new_call(json!({"phone": "+15551234567"})).await;
    t.a.post(&format!("/v1/calls/{live}/events"), json!({"status": "ringing"})).await;
    let r = t.a.post(&format!("/v1/calls/{live}/cancel"), json!({})).await;
    r.assert_error(409, "illegal_transition");
    assert_eq!(r.body["error"]["details"], json!({"from": "ringing", "to": "canceled"}));
    assert_eq!(t.a.get(&format!("/v1/calls/{live}")).await.body["status"], "ringing");
}

#[tokio::test]
async fn events_drive_the_state_machine_idempotently() {
    let t = TestServer::start().await;
    let id = t.a.new_call(json!({"phone": "+15551234567"})).await;
    let path = format!("/v1/calls/{id}/events");
    let r =
        t.a.post(&path, json!({"status": "ringing", "timestamp": "2025-05-20T15:30:00Z"}))
            .await;
    assert_eq!((r.status.as_u16(), r.body["transition"].as_str()), (200, Some("apply")));
    t.a.post(&path, json!({"status": "answered", "timestamp": "2025-05-20T15:30:02Z"}))
        .await;
    t.a.post(
        &path,
        json!({"event": "hold", "timestamp": "2025-05-20T15:31:00Z", "data": {"reason": "lookup"}}),
    )
    .await;
    t.a.post(
        &path,
        json!({"event": "hold", "timestamp": "2025-05-20T15:31:00Z", "data": {"reason": "lookup"}}),
    )
    .await;
    let done = json!({"status": "completed", "timestamp": "2025-05-20T15:33:45Z", "recording": "https://r.example.com/1.mp3", "outcome": "successful"});
    let r = t.a.post(&path, done.clone()).await;
    assert_eq!(r.body["call"]["duration"], 223);
    assert_eq!(r.body["call"]["startedAt"], "2025-05-20T15:30:02Z");
    // Retried and late events change nothing.
    let again = t.a.post(&path, done).await;
    assert_eq!(
        (again.body["transition"].as_str(), again.body["changed"].as_bool()),
        (Some("repeat"), Some(false))
    );
    let late = t.a.post(&path, json!({"status": "ringing"})).await;
    assert_eq!(
        (late.body["transition"].as_str(), late.body["call"]["status"].as_str()),
        (Some("late"), Some("completed"))
    );
    // Illegal: completed → busy.
    t.a.post(&path, json!({"status": "busy"}))
        .await
        .assert_error(409, "illegal_transition");
    // A correction is allowed when said so.
    let fix = t.a.post(&path, json!({"status": "failed", "correction": true})).await;
    assert_eq!(fix.body["call"]["status"], "failed");
    let call = t.store.get_call(&t.a.org.id, &id.parse().unwrap()).await.unwrap();
    let kinds: Vec<&str> = call.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "status.queued",
            "status.ringing",
            "status.in_progress",
            "hold",
            "status.completed",
            "status.failed"
        ]
    );
    let types: Vec<String> = t
        .store
        .org_events_after(&t.a.org.id, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        vec![
            "call.queued",
            "call.ringing",
            "call.answered",
            "call.event",
            "call.completed",
            "recording.ready",
            "call.failed"
        ]
    );
}

#[tokio::test]
async fn reports_by_external_id_upsert_one_call() {
    let t = TestServer::start().await;
    let start = json!({"externalId": "CA-unique-1", "direction": "inbound", "phone": "+1234567890", "callerId": "+14155550100", "status": "in-progress", "agentId": "agent_12345"});
    let r = t.a.post("/v1/calls/events", start.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["call"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["call"]["direction"], "inbound");
    // An unparseable caller id is kept as reported.
    assert_eq!(r.body["call"]["from"], "+1234567890");
    assert_eq!(r.body["call"]["agentId"], "agent_12345");
    // The same webhook retried three times: still one call.
    for _ in 0..3 {
        let again = t.a.post("/v1/calls/events", start.clone()).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.body["call"]["id"], id);
    }
    let end = t.a.post("/v1/calls/events", json!({"externalId": "CA-unique-1", "status": "completed", "duration": 245, "transcript": "Agent: Hi", "sentiment": "positive"})).await;
    assert_eq!(end.body["call"]["id"], id);
    assert_eq!(end.body["call"]["status"], "completed");
    assert_eq!(t.a.get("/v1/calls").await.body["pagination"]["total"], 1);
    let stored = t.store.call_by_external_id(&t.a.org.id, "CA-unique-1").await.unwrap().unwrap();
    assert_eq!(
        (stored.direction, stored.duration, stored.transcript.as_deref()),
        (Direction::Inbound, Some(245), Some("Agent: Hi"))
    );
    // Concurrent first reports for one new carrier id make one call.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = t.a.clone();
        tasks.push(tokio::spawn(async move {
            c.post("/v1/calls/events", json!({"externalId": "CA-race", "status": "ringing"}))
                .await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let r = task.await.unwrap();
        assert!(r.status.is_success(), "{}", r.body);
        ids.insert(r.body["call"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn delete_a_call() {
    let t = TestServer::start().await;
    let id = t.a.new_call(json!({"phone": "+15551234567"})).await;
    let r = t.a.delete(&format!("/v1/calls/{id}")).await;
    assert_eq!(r.status, 204);
    t.a.get(&format!("/v1/calls/{id}")).await.assert_error(404, "not_found");
    t.a.delete(&format!("/v1/calls/{id}")).await.assert_error(404, "not_found");
}

#[tokio::test]
async fn idempotency_keys_replay_without_a_second_effect() {
    let t = TestServer::start().await;
    let body = json!({"phone": "+15551234567", "customerName": "Priya"});
    let key = [("idempotency-key", "order-77")];
    let first = t.a.send(Method::POST, "/v1/calls", Some(body.clone()), &key).await;
    assert_eq!(first.status, 201);
    let second = t.a.send(Method::POST, "/v1/calls", Some(body.clone()), &key).await;
    assert_eq!(second.status, 201);
    assert_eq!(second.body, first.body);
    assert_eq!(second.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(t.a.get("/v1/calls").await.body["pagination"]["total"], 1);
    // Same key, different body: refused, nothing created.
    let other =
        t.a.send(Method::POST, "/v1/calls", Some(json!({"phone": "+15557654321"})), &key)
            .await;
    other.assert_error(422, "idempotency_key_reused");
    assert_eq!(t.a.get("/v1/calls").await.body["pagination"]["total"], 1);
    // Another organisation may use the same key.
    assert_eq!(t.b.send(Method::POST, "/v1/calls", Some(body.clone()), &key).await.status, 201);
    // Concurrent requests with one key create one call.
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let c = t.a.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            c.send(Method::POST, "/v1/calls", Some(body), &[("idempotency-key", "burst")]).await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let r = task.await.unwrap();
        assert_eq!(r.status, 201, "{}", r.body);
        ids.insert(r.body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(t.a.get("/v1/calls").await.body["pagination"]["total"], 2);
    // Events and cancels honour keys too.
    let id = first.body["id"].as_str().unwrap();
    let ev = [("idempotency-key", "ev-1")];
    let e1 =
        t.a.send(
            Method::POST,
            &format!("/v1/calls/{id}/events"),
            Some(json!({"event": "note", "data": {"text": "hi"}})),
            &ev,
        )
        .await;
    let e2 =
        t.a.send(
            Method::POST,
            &format!("/v1/calls/{id}/events"),
            Some(json!({"event": "note", "data": {"text": "hi"}})),
            &ev,
        )
        .await;
    assert_eq!(e1.body, e2.body);
    let call = t.store.get_call(&t.a.org.id, &id.parse().unwrap()).await.unwrap();
    assert_eq!(call.timeline.iter().filter(|e| e.kind == "note").count(), 1);
}

#[tokio::test]
async fn health_checks_the_database() {
    let t = TestServer::start().await;
    let r = reqwest::get(format!("{}/health", t.base)).await.unwrap();
    assert_eq!(r.status(), 200);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (b["status"].as_str(), b["database"].as_str(), b["backend"].as_str()),
        (Some("ok"), Some("ok"), Some("sqlite"))
    );
}
