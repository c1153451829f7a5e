//! The Call Ribbon backend: every endpoint of its spec, with the fields,
//! nesting and types the spec's responses show.

use serde_json::{Value, json};

use crate::support::TestServer;

/// A call as the ribbon widget records it, from the spec's use cases.
fn ribbon_call(i: usize) -> Value {
    json!({
        "phone": "+919876543210", "customerName": "Rajesh Kumar", "customerId": if i.is_multiple_of(3) { "LOAN002" } else { "LOAN001" },
        "customerContext": {"loanType": "Business Loan", "outstandingBalance": 150000, "daysOverdue": 45},
        "callType": "collections", "agentId": "AGT001", "agentName": "Suresh Kumar",
        "metadata": {"campaign": "overdue_45days"}, "direction": if i.is_multiple_of(4) { "inbound" } else { "outbound" },
        "status": if i.is_multiple_of(5) { "no-answer" } else { "completed" }, "duration": if i.is_multiple_of(5) { 0 } else { 60 * (i as i64 + 1) },
        "initiatedAt": format!("2024-10-{:02}T10:30:00Z", 10 + i), "answeredAt": format!("2024-10-{:02}T10:30:15Z", 10 + i)
    })
}

#[tokio::test]
async fn every_endpoint_in_the_spec_shape() {
    let t = TestServer::start().await;
    let c = &t.a;
    for i in 0..6 {
        c.new_call(ribbon_call(i)).await;
    }
    // The ribbon authenticates with x-api-key.
    let http = reqwest::Client::new();
    let get = |path: String| {
        let (http, base, key) = (http.clone(), t.base.clone(), c.key.clone());
        async move { crate::support::into_resp(http.get(format!("{base}{path}")).header("x-api-key", key).send().await.unwrap()).await }
    };
    // 1. Call logs.
    let r = get("/api/ribbon/call-logs?pageSize=4&page=1".into()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut pagination = r.body["pagination"].clone();
    assert!(pagination["nextCursor"].is_string(), "{pagination}");
    pagination.as_object_mut().unwrap().remove("nextCursor");
    assert_eq!(pagination, json!({"page": 1, "pageSize": 4, "total": 6, "totalPages": 2}));
    let log = &r.body["logs"][0];
    for (k, kind) in [
        ("session_id", "s"),
        ("customer_name", "s"),
        ("customer_phone", "s"),
        ("customer_id_external", "s"),
        ("customer_context", "o"),
        ("call_type", "s"),
        ("call_status", "s"),
        ("duration", "n"),
        ("initiated_at", "s"),
        ("ended_at", "s"),
        ("agent_name", "s"),
        ("metadata", "o"),
    ] {
        let ok = match kind {
            "s" => log[k].is_string(),
            "o" => log[k].is_object(),
            _ => log[k].is_number(),
        };
        assert!(ok, "{k} in {log}");
    }
    assert_eq!(log["customer_context"]["loanType"], "Business Loan");
    assert_eq!(
        get("/api/ribbon/call-logs?customerId=LOAN002".into()).await.body["pagination"]["total"],
        2
    );
    assert_eq!(
        get("/api/ribbon/call-logs?callDirection=inbound".into()).await.body["pagination"]["total"],
        2
    );
    assert_eq!(
        get("/api/ribbon/call-logs?startDate=2024-10-12&endDate=2024-10-13".into())
            .await
            .body["pagination"]["total"],
        2
    );
    // 2. A customer's calls.
    let r = get("/api/ribbon/customer/LOAN001/calls?limit=2".into()).await;
    assert_eq!(
        (
            r.body["customerId"].as_str(),
            r.body["totalCalls"].as_u64(),
            r.body["calls"].as_array().unwrap().len()
        ),
        (Some("LOAN001"), Some(4), 2)
    );
    assert_eq!(r.body["totalDuration"], 60 * (2 + 3 + 5));
    // 3. Summary analytics.
    let r = get("/api/ribbon/analytics?limit=3".into()).await;
    let s = &r.body["summary"];
    assert_eq!(
        (
            s["totalCalls"].as_u64(),
            s["inboundCalls"].as_u64(),
            s["outboundCalls"].as_u64(),
            s["missedCalls"].as_u64()
        ),
        (Some(6), Some(2), Some(4), Some(2))
    );
    assert_eq!(s["totalDuration"], 60 * (2 + 3 + 4 + 5));
    assert_eq!(s["avgDuration"], (60 * 14 + 3) / 6);
    assert_eq!(r.body["callsByDate"]["2024-10-12"], 1);
    assert_eq!(r.body["recentCalls"].as_array().unwrap().len(), 3);
    assert!(
        r.body["usage"]["callsThisMonth"].is_number()
            && r.body["usage"].get("limit").is_some()
            && r.body["usage"].get("remaining").is_some()
    );
    // 4. Detailed analytics, with the spec's string-typed counts.
    let r = get("/api/ribbon/analytics/detailed".into()).await;
    assert_eq!(r.body["callsByHour"]["10"], 6);
    let dow: u64 = r.body["callsByDayOfWeek"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(dow, 6);
    let top = &r.body["topCustomers"][0];
    assert_eq!(
        (
            top["customer_id_external"].as_str(),
            top["call_count"].as_str(),
            top["total_duration"].as_str()
        ),
        (Some("LOAN001"), Some("4"), Some("600"))
    );
    assert_eq!(top["customer_name"], "Rajesh Kumar");
    let order: Vec<&String> = r.body["durationBuckets"].as_object().unwrap().keys().collect();
    assert_eq!(order, ["0-30s", "30s-1m", "1m-3m", "3m-5m", "5m+"]);
    // The two no-answer calls (0 s) had no talk time: in no bucket.
    assert_eq!(
        r.body["durationBuckets"],
        json!({"0-30s": 0, "30s-1m": 0, "1m-3m": 1, "3m-5m": 2, "5m+": 1})
    );
    assert!(r.body["recentActivity"].is_array());
    // 5. Export: the CSV header exactly as the spec shows.
    let csv = reqwest::Client::new()
        .get(format!("{}/api/ribbon/export/calls?format=csv&tz=UTC", t.base))
        .header("x-api-key", &c.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("Session ID,Customer Name,Phone Number,Direction,Start Time,End Time,Duration (s),Customer ID")
    );
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        (first[1], first[2], first[3], first[4], first[7]),
        ("Rajesh Kumar", "+919876543210", "inbound", "2024-10-10 10:30:00", "LOAN002")
    );
    assert_eq!(csv.lines().count(), 7);
    let json: Vec<Value> = reqwest::Client::new()
        .get(format!("{}/api/ribbon/export/calls", t.base))
        .header("x-api-key", &c.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json.len(), 6);
    // Health, as the spec's status check.
    assert_eq!(reqwest::get(format!("{}/health", t.base)).await.unwrap().status(), 200);
    // Bad input and isolation.
    c.get("/api/ribbon/call-logs?pageSize=0").await.assert_field_error("pageSize");
    c.get("/api/ribbon/call-logs?callDirection=sideways")
        .await
        .assert_field_error("callDirection");
    c.get("/api/ribbon/export/calls?format=xml").await.assert_field_error("format");
    assert_eq!(t.b.get("/api/ribbon/call-logs").await.body["pagination"]["total"], 0);
    let anon = reqwest::get(format!("{}/api/ribbon/call-logs", t.base)).await.unwrap();
    assert_eq!(anon.status(), 401);
}

/// One meaning of "missed" (rang out, busy or cancelled) in every figure
/// and label, and calls without talk time in no duration bucket.
#[tokio::test]
async fn missed_and_talk_time_mean_one_thing_everywhere() {
    let t = TestServer::start().await;
    let c = &t.a;
    let call = |status: &str, duration: Option<i64>| {
        let mut b = json!({"phone": "+14155550100", "direction": "outbound", "status": status,
            "customerId": "CUST1", "initiatedAt": "2024-10-10T10:30:00Z"});
        if let Some(d) = duration {
            b["duration"] = json!(d);
        }
        b
    };
    c.new_call(call("completed", Some(45))).await;
    c.new_call(call("completed", Some(400))).await;
    c.new_call(call("no-answer", None)).await;
    c.new_call(call("busy", Some(0))).await;
    // A call cancelled before it was dialled.
    let scheduled = c
        .new_call(json!({"phone": "+14155550101", "direction": "outbound", "status": "scheduled",
            "customerId": "CUST1", "scheduled": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339()}))
        .await;
    let r = c.post(&format!("/v1/calls/{scheduled}/cancel"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Labels: the ribbon's call logs and Callmind's records.
    let logs = c.get("/api/ribbon/call-logs?pageSize=50").await;
    let labelled = logs.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["call_status"] == "missed")
        .count();
    assert_eq!(labelled, 3, "{}", logs.body);
    let cm = c.get("/api/call-history?status=missed").await;
    assert_eq!(cm.body["pagination"]["total"], 3, "{}", cm.body);
    // Figures: the native summary, the ribbon's summaries, a breakdown.
    assert_eq!(c.get("/v1/analytics/summary").await.body["missedCalls"], 3);
    assert_eq!(c.get("/v1/analytics/calls").await.body["missedCalls"], 3);
    assert_eq!(c.get("/api/ribbon/analytics").await.body["summary"]["missedCalls"], 3);
    let by = c.get("/v1/analytics/breakdown?by=direction").await;
    assert_eq!(by.body["groups"][0]["missed"], 3, "{}", by.body);

    // Durations: two calls talked; three did not and are in no bucket.
    let d = c.get("/api/ribbon/analytics/detailed").await;
    assert_eq!(
        d.body["durationBuckets"],
        json!({"0-30s": 0, "30s-1m": 1, "1m-3m": 0, "3m-5m": 0, "5m+": 1}),
        "{}",
        d.body
    );
    let b = c.get("/v1/analytics/breakdown?by=duration").await;
    let groups: Vec<(Value, Value)> = b.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].clone(), g["calls"].clone()))
        .collect();
    assert_eq!(
        groups,
        [
            (json!("0-30s"), json!(0)),
            (json!("30s-1m"), json!(1)),
            (json!("1m-3m"), json!(0)),
            (json!("3m-5m"), json!(0)),
            (json!("5m+"), json!(1)),
            (Value::Null, json!(3)),
        ]
    );
}

/// The plan's concurrent-call cap on the widget's call route: a standard
/// organisation (five live calls) is refused the sixth with 429, and
/// nothing is stored; hanging one up frees its line.
#[tokio::test]
async fn placing_beyond_the_plans_live_cap_is_refused() {
    // Simulated callees never fail or find the line busy at once, so calls
    // stay live until hung up.
    let srv = TestServer::start_with(|cfg| {
        cfg.telephony.sim.failed_rate = 0.0;
        cfg.telephony.sim.busy_rate = 0.0;
    })
    .await;
    let mut org = srv.a.org.clone();
    org.plan = "standard".into();
    srv.store.update_org(org).await.unwrap();
    let customer = json!({"phoneNumber": "+919876543210", "name": "Rajesh Kumar", "customerId": "LOAN001"});
    let mut ids = Vec::new();
    for _ in 0..5 {
        let r = srv.a.post("/api/ribbon/calls", customer.clone()).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
        ids.push(r.body["session_id"].as_str().unwrap().to_owned());
    }
    let before = srv.snapshot(&srv.a.org).await;
    let r = srv.a.post("/api/ribbon/calls", customer.clone()).await;
    r.assert_error(429, "concurrent_calls_exceeded");
    assert_eq!(r.body["error"]["details"], json!({"limit": 5, "live": 5}));
    assert_eq!(srv.snapshot(&srv.a.org).await, before, "a refused call leaves nothing");
    // Another organisation's calls do not count.
    assert_eq!(srv.b.post("/api/ribbon/calls", customer.clone()).await.status.as_u16(), 201);

    let r = srv
        .a
        .post(&format!("/api/ribbon/calls/{}/actions", ids[0]), json!({"action": "hangup"}))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    let sim = srv
        .state
        .telephony
        .simulator
        .as_ref()
        .expect("the simulator is the default carrier");
    sim.pump().await.unwrap();
    assert_eq!(
        srv.a.get(&format!("/api/ribbon/calls/{}", ids[0])).await.body["call_status"],
        "missed"
    );
    let r = srv.a.post("/api/ribbon/calls", customer.clone()).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    srv.a
        .post("/api/ribbon/calls", customer)
        .await
        .assert_error(429, "concurrent_calls_exceeded");
}
