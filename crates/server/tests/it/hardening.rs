//! The classes of defect an outside probe found, each closed as a class:
//! times outside a sane window, unbounded analytics answers, CSV formula
//! injection, times out of order, unknown fields, unsafe request ids,
//! refresh-token reuse on a caching node, password rules.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::{Call, CallStatus, Direction};

use crate::support::{TestServer, days_ahead};

/// Every route that takes a time, with a body placing `{t}` in one field;
/// each must refuse year 1 and year 9999 naming that field.
fn timed_bodies(call: &str) -> Vec<(Method, String, &'static str, Value)> {
    let calls = "/v1/calls".to_owned();
    vec![
        (
            Method::POST,
            calls.clone(),
            "initiatedAt",
            json!({"phone": "+15551234567", "status": "completed", "initiatedAt": "{t}"}),
        ),
        (
            Method::POST,
            calls.clone(),
            "answeredAt",
            json!({"phone": "+15551234567", "status": "completed", "answeredAt": "{t}"}),
        ),
        (
            Method::POST,
            calls.clone(),
            "endedAt",
            json!({"phone": "+15551234567", "status": "completed", "endedAt": "{t}"}),
        ),
        (
            Method::POST,
            calls.clone(),
            "scheduled",
            json!({"phone": "+15551234567", "scheduled": "{t}"}),
        ),
        (
            Method::POST,
            format!("/v1/calls/{call}/events"),
            "timestamp",
            json!({"status": "ringing", "timestamp": "{t}"}),
        ),
        (
            Method::POST,
            format!("/v1/calls/{call}/events"),
            "answeredAt",
            json!({"answeredAt": "{t}"}),
        ),
        (
            Method::POST,
            "/v1/calls/events".into(),
            "timestamp",
            json!({"externalId": "CA-t", "status": "completed", "timestamp": "{t}"}),
        ),
        (
            Method::POST,
            "/v1/calls/events".into(),
            "answeredAt",
            json!({"externalId": "CA-t", "status": "completed", "answeredAt": "{t}"}),
        ),
        (
            Method::POST,
            "/api/call-history".into(),
            "startedAt",
            json!({"status": "in-progress", "callSid": "CM-t", "startedAt": "{t}"}),
        ),
        (
            Method::POST,
            "/api/call-history".into(),
            "endedAt",
            json!({"status": "completed", "callSid": "CM-t", "endedAt": "{t}"}),
        ),
        (
            Method::PATCH,
            format!("/api/call-history/{call}/status"),
            "endedAt",
            json!({"status": "completed", "endedAt": "{t}"}),
        ),
        (
            Method::POST,
            "/api/webhooks/calls/started".into(),
            "startedAt",
            json!({"callSid": "CM-w", "startedAt": "{t}"}),
        ),
        (
            Method::POST,
            "/api/webhooks/calls/completed".into(),
            "endedAt",
            json!({"callSid": "CM-w", "endedAt": "{t}"}),
        ),
        (
            Method::POST,
            "/v1/keys".into(),
            "expiresAt",
            json!({"name": "k", "expiresAt": "{t}"}),
        ),
        (
            Method::POST,
            "/v1/campaigns".into(),
            "schedule.startDate",
            json!({"name": "c", "templateId": switchboard_domain::TemplateId::new().to_string(), "schedule": {"startDate": "{t}"}}),
        ),
    ]
}

#[tokio::test]
async fn times_outside_a_sane_window_are_refused_on_every_route_naming_the_field() {
    let t = TestServer::start().await;
    let call = t.a.new_call(json!({"phone": "+15551234567"})).await;
    let before = t.snapshot(&t.a.org).await;
    for extreme in ["0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"] {
        for (method, path, field, body) in timed_bodies(&call) {
            let body: Value = serde_json::from_str(&body.to_string().replace("{t}", extreme)).unwrap();
            let r = t.a.send(method.clone(), &path, Some(body), &[]).await;
            assert_eq!(r.status, 400, "{method} {path} {field}={extreme}: {}", r.body);
            assert_eq!(r.body["error"]["details"]["field"], field, "{method} {path}: {}", r.body);
            assert!(r.body["error"]["message"].as_str().unwrap().contains("2000-01-01"), "{}", r.body);
        }
    }
    assert_eq!(t.snapshot(&t.a.org).await, before, "nothing stored");
    // A scheduled call may be a year ahead, not more; a reported time two.
    t.a.post("/v1/calls", json!({"phone": "+15551234567", "scheduled": days_ahead(400)}))
        .await
        .assert_field_error("scheduled");
    assert_eq!(
        t.a.post("/v1/calls", json!({"phone": "+15551234567", "scheduled": days_ahead(300)}))
            .await
            .status,
        201
    );
    assert_eq!(
        t.a.post(
            "/v1/calls",
            json!({"phone": "+15551234567", "status": "completed", "initiatedAt": "2000-01-01T00:00:00Z"})
        )
        .await
        .status,
        201
    );
}

/// Calls planted at year 1 and 9999 straight into the store (as a store
/// written before the window existed could hold them) cost what two
/// buckets cost; a closed range too wide for its granularity is refused.
#[tokio::test]
async fn analytics_answers_stay_bounded_with_calls_at_the_ends_of_time() {
    let t = TestServer::start().await;
    let mut planted = Vec::new();
    for at in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
        let at: switchboard_domain::Timestamp = at.parse().unwrap();
        let mut c = Call::new(t.a.org.id.clone(), Direction::Outbound, CallStatus::Completed, at);
        c.initiated_at = Some(at);
        c.ended_at = Some(at);
        c.duration = Some(60);
        planted.push(c);
    }
    t.store.import_calls(planted).await.unwrap();
    for by in ["week", "date", "month"] {
        let r = t.a.get(&format!("/v1/analytics/breakdown?by={by}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["groups"].as_array().unwrap().len(), 2, "{by}: {}", r.body);
        assert!(r.body.to_string().len() < 2_000, "{by}: {} bytes", r.body.to_string().len());
    }
    for group_by in ["day", "week", "month"] {
        let r = t.a.get(&format!("/v1/analytics/calls?groupBy={group_by}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["callsByTime"].as_array().unwrap().len(), 2);
        assert_eq!(r.body["totalCalls"], 2);
    }
    // The probe's request: a daily series from year 1 to 9999 would be
    // 3.65 million buckets. Refused up front, naming groupBy and the count.
    let r =
        t.a.get("/v1/analytics/calls?groupBy=day&startDate=0001-01-01&endDate=9999-12-31")
            .await;
    r.assert_field_error("groupBy");
    assert_eq!(r.body["error"]["details"]["groups"], 3_652_059);
    assert_eq!(r.body["error"]["details"]["max"], 10_000);
    assert!(r.body.to_string().len() < 1_000);
    t.a.get("/v1/analytics/breakdown?by=date&startDate=2000-01-01&endDate=2030-12-31")
        .await
        .assert_field_error("by");
    // The same range by month is 372 buckets, zero-filled between the calls in it (none).
    let months =
        t.a.get("/v1/analytics/breakdown?by=month&startDate=2000-01-01&endDate=2030-12-31")
            .await;
    assert_eq!(months.status, 200, "{}", months.body);
    assert!(months.body["groups"].as_array().unwrap().len() <= 372);
    // The ribbon's dashboard, which a key in a web page can reach, too.
    let r = t.a.get("/api/ribbon/analytics?startDate=0001-01-01&endDate=9999-12-31").await;
    r.assert_field_error("startDate");
    let r = t.a.get("/api/ribbon/analytics").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["callsByDate"].as_object().unwrap().len(), 2);
    let r = t.a.get("/api/ribbon/analytics/detailed").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn csv_cells_that_could_run_as_formulas_are_neutralised_and_json_stays_exact() {
    let t = TestServer::start().await;
    let names = [
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "\t=1+1",
        "\r=1+1",
        "@SUM(1,2)",
        "-2+3",
        "+cmd|' /C calc'!A0",
        "Plain Name",
    ];
    for (i, name) in names.iter().enumerate() {
        // A name that starts with a tab or CR is kept as given (not trimmed away).
        let r = t
            .a
            .post(
                "/v1/calls",
                json!({"phone": "+15551234567", "customerName": format!("{name}"), "customerId": format!("c{i}"), "notes": "=cmd", "status": "completed"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let stored: Vec<String> = {
        let r = t.a.get("/v1/calls/export?format=json").await;
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["customerName"].as_str().unwrap().to_owned())
            .collect()
    };
    for export in ["/v1/calls/export?format=csv", "/api/ribbon/export/calls?format=csv"] {
        let raw = reqwest::Client::new()
            .get(format!("{}{export}", t.base))
            .bearer_auth(&t.a.key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut rdr = csv::Reader::from_reader(raw.as_bytes());
        let headers = rdr.headers().unwrap().clone();
        let name_col = headers.iter().position(|h| h == "Customer Name").unwrap();
        let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), names.len());
        for row in &rows {
            for cell in row.iter() {
                let first = cell.trim_start_matches(' ').chars().next();
                assert!(
                    !matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')) || cell.parse::<f64>().is_ok(),
                    "{export}: cell {cell:?} could run as a formula"
                );
            }
            // What the CSV shows is the stored value (JSON's), with a quote
            // in front when it could start a formula.
            let shown = &row[name_col];
            let original = shown.strip_prefix('\'').unwrap_or(shown);
            assert!(stored.iter().any(|s| s == original), "{export}: {shown:?} not in {stored:?}");
            assert_eq!(shown.starts_with('\''), original != "Plain Name", "{shown:?}");
        }
    }
    // JSON exports keep every value exactly as stored (text fields are
    // trimmed on the way in, so "\t=1+1" is stored as "=1+1").
    let mut want: Vec<String> = names.iter().map(|s| s.trim().to_string()).collect();
    let mut got = stored.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let ribbon = t.a.get("/api/ribbon/export/calls?format=json").await;
    let mut got: Vec<String> = ribbon
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customer_name"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn times_out_of_order_are_refused_naming_both_fields() {
    let t = TestServer::start().await;
    let before = t.snapshot(&t.a.org).await;
    let r = t
        .a
        .post(
            "/v1/calls",
            json!({"phone": "+15551234567", "status": "completed", "initiatedAt": "2025-05-20T10:00:00Z", "endedAt": "2025-05-20T09:00:00Z"}),
        )
        .await;
    r.assert_field_error("endedAt");
    assert_eq!(r.body["error"]["details"]["related"], "initiatedAt");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("endedAt") && msg.contains("initiatedAt"), "{msg}");
    let r = t
        .a
        .post(
            "/v1/calls",
            json!({"phone": "+15551234567", "status": "in-progress", "initiatedAt": "2025-05-20T10:00:00Z", "answeredAt": "2025-05-20T09:59:00Z"}),
        )
        .await;
    r.assert_field_error("answeredAt");
    assert_eq!(r.body["error"]["details"]["related"], "initiatedAt");
    // Callmind: in one body, and against what the call already holds.
    let r =
        t.a.post(
            "/api/call-history",
            json!({"status": "completed", "callSid": "CM-1", "startedAt": "2025-05-20T10:00:00Z", "endedAt": "2025-05-20T09:00:00Z"}),
        )
        .await;
    r.assert_field_error("endedAt");
    assert_eq!(r.body["error"]["details"]["related"], "startedAt");
    assert_eq!(t.snapshot(&t.a.org).await, before, "nothing stored");
    let id =
        t.a.new_call(json!({"phone": "+15551234567", "status": "initiated", "initiatedAt": "2025-05-20T10:00:00Z"}))
            .await;
    let stored = t.snapshot(&t.a.org).await;
    let r =
        t.a.post(
            &format!("/v1/calls/{id}/events"),
            json!({"status": "completed", "timestamp": "2025-05-20T09:30:00Z"}),
        )
        .await;
    r.assert_field_error("endedAt");
    assert_eq!(r.body["error"]["details"]["related"], "initiatedAt");
    let r =
        t.a.patch(
            &format!("/api/call-history/{id}/status"),
            json!({"status": "completed", "endedAt": "2025-05-20T09:30:00Z"}),
        )
        .await;
    r.assert_field_error("endedAt");
    assert_eq!(r.body["error"]["details"]["related"], "startedAt");
    assert_eq!(t.snapshot(&t.a.org).await, stored, "the call is unchanged");
    // In order, it ends; a talk time longer than the call never puts the answer before the dial.
    let r =
        t.a.post(
            &format!("/v1/calls/{id}/events"),
            json!({"status": "completed", "timestamp": "2025-05-20T10:01:00Z", "duration": 900}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let call = &r.body["call"];
    assert!(
        call["answeredAt"].as_str().unwrap() >= call["initiatedAt"].as_str().unwrap(),
        "{call}"
    );
}

#[tokio::test]
async fn callmind_create_requires_a_status() {
    let t = TestServer::start().await;
    let before = t.snapshot(&t.a.org).await;
    for body in [json!({}), json!({"callSid": "CM-9", "agentId": "a"})] {
        let r = t.a.post("/api/call-history", body).await;
        r.assert_field_error("status");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("in-progress"));
    }
    assert_eq!(t.snapshot(&t.a.org).await, before);
    assert_eq!(t.a.post("/api/call-history", json!({"status": "in-progress"})).await.status, 201);
}

#[tokio::test]
async fn unknown_fields_are_refused_on_the_native_api_unless_the_client_prefers_lenience() {
    let t = TestServer::start().await;
    let before = t.snapshot(&t.a.org).await;
    for (field, body) in [
        ("custmerName", json!({"phone": "+15551234567", "custmerName": "John"})),
        ("scheduledAt", json!({"phone": "+15551234567", "scheduledAt": days_ahead(1)})),
    ] {
        let r = t.a.post("/v1/calls", body).await;
        r.assert_field_error(field);
        assert_eq!(r.body["error"]["details"]["unknown"], json!([field]));
        assert!(r.body["error"]["message"].as_str().unwrap().contains("Prefer: handling=lenient"));
    }
    // Every unknown one is listed; nested ones by their path.
    let r =
        t.a.post(
            "/v1/calls/events",
            json!({"externalId": "CA-u", "statuz": "ringing", "phoen": "+1"}),
        )
        .await;
    assert_eq!(r.body["error"]["details"]["unknown"], json!(["statuz", "phoen"]), "{}", r.body);
    let r =
        t.a.post(
            "/v1/campaigns",
            json!({"name": "c", "schedule": {"strtDate": "2026-01-01T00:00:00Z"}}),
        )
        .await;
    r.assert_field_error("schedule.strtDate");
    let r = t.a.patch("/v1/contacts/cnt_x", json!({"nmae": "x"})).await;
    r.assert_field_error("nmae");
    assert_eq!(t.snapshot(&t.a.org).await, before, "nothing stored");
    // A lenient client says so and its extras are ignored.
    let r =
        t.a.send(
            Method::POST,
            "/v1/calls",
            Some(json!({"phone": "+15551234567", "custmerName": "John", "customerName": "Jane"})),
            &[("prefer", "handling=lenient")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["customerName"], "Jane");
    // Query parameters too: a misspelt filter is refused, not ignored.
    let r = t.a.get("/v1/calls?statsu=completed").await;
    r.assert_field_error("statsu");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("status"), "{}", r.body);
    let r =
        t.a.send(Method::GET, "/v1/calls?statsu=completed", None, &[("prefer", "handling=lenient")])
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    t.a.get("/v1/calls?startDate=").await.assert_field_error("startDate");
    assert_eq!(t.a.get("/api/ribbon/call-logs?startDate=&utm_source=crm").await.status, 200);
    // Dialects stay lenient: their clients send fields of their own products.
    let r =
        t.a.post(
            "/api/call-history",
            json!({"status": "in-progress", "callSid": "CM-x", "clerkSession": "s"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn request_ids_are_echoed_only_when_short_and_safe() {
    let t = TestServer::start().await;
    let http = reqwest::Client::new();
    let id_for = |given: Option<String>| {
        let mut req = http.get(format!("{}/health", t.base));
        if let Some(g) = given {
            req = req.header("x-request-id", g);
        }
        async move { req.send().await.unwrap().headers()["x-request-id"].to_str().unwrap().to_owned() }
    };
    for safe in ["abc.DEF_123-x", &"a".repeat(64)] {
        assert_eq!(id_for(Some(safe.to_owned())).await, safe);
    }
    for unsafe_id in [
        "a".repeat(65),
        "x".repeat(7_000),
        "has space".into(),
        "semi;colon".into(),
        "<script>".into(),
    ] {
        let got = id_for(Some(unsafe_id.clone())).await;
        assert_ne!(got, unsafe_id);
        assert!(got.starts_with("req_") && got.len() <= 64, "{got}");
    }
    assert!(id_for(None).await.starts_with("req_"));
}

#[tokio::test]
async fn refresh_token_reuse_ends_the_login_at_once_on_a_caching_node() {
    // Checked credentials are cached for a minute here: without clearing
    // the cache, the revoked login's access token would go on working.
    let t = TestServer::start_with(|c| c.auth_cache_ttl_ms = 60_000).await;
    let password = "a long and quiet passphrase";
    let r =
        t.a.post("/v1/users", json!({"email": "reuse@alpha.example", "password": password}))
            .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let login =
        t.a.post("/v1/auth/login", json!({"email": "reuse@alpha.example", "password": password}))
            .await;
    let access = t.a.with_key(login.body["token"].as_str().unwrap());
    assert_eq!(access.get("/v1/calls").await.status, 200, "now cached");
    let r1 = login.body["refreshToken"].as_str().unwrap();
    let refreshed = t.a.post("/v1/auth/refresh", json!({"refreshToken": r1})).await;
    let newer = t.a.with_key(refreshed.body["token"].as_str().unwrap());
    assert_eq!(newer.get("/v1/calls").await.status, 200, "cached too");
    // The spent token comes back (stolen): the whole login ends, now.
    t.a.post("/v1/auth/refresh", json!({"refreshToken": r1}))
        .await
        .assert_error(401, "unauthorized");
    access.get("/v1/calls").await.assert_error(401, "unauthorized");
    newer.get("/v1/calls").await.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn passwords_follow_nist_800_63b() {
    let t = TestServer::start().await;
    let create = |email: &str, password: &str| t.a.post("/v1/users", json!({"email": email, "password": password}));
    // A long lower-case passphrase is fine; so is any character.
    assert_eq!(create("p1@alpha.example", "the owls are not what they seem").await.status, 201);
    assert_eq!(create("p2@alpha.example", "sphinx of black quartz").await.status, 201);
    for (password, why) in [
        ("Password1!", "at least 15 characters"),
        ("Password123456789!", "common password"),
        ("1q2w3e4r5t6y7u8i9o0p", "most common passwords"),
        ("1234567890123456", "consecutive"),
        ("abababababababab", "repeats"),
    ] {
        let r = create("p3@alpha.example", password).await;
        r.assert_field_error("password");
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(why), "{password}: {msg}");
    }
    let long = "x".repeat(40) + &"y ".repeat(100);
    assert_eq!(create("p4@alpha.example", &long[..240]).await.status, 201, "up to 256 characters");
}
