//! The Vocelio dialect: the reference's example requests with the fields
//! and types of its responses, what the client apps depend on (both login
//! shapes, `atob` on the token, top-level `active_calls`, the SSE message
//! types read by a real SSE client), bad input answered with a
//! `VALIDATION_` code naming the field and nothing changed, and tenant
//! isolation.

use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use serde_json::{Value, json};
use switchboard_domain::Role;

use crate::support::{Client, Resp, TestServer};

const PASSWORD: &str = "Correct-horse-9";
const WAIT: Duration = Duration::from_secs(10);

/// A test server on SQLite, or on a fresh PostgreSQL schema when
/// `SWITCHBOARD_TEST_DATABASE_URL` is set.
async fn server(tune: impl FnOnce(&mut switchboard_server::config::Config)) -> TestServer {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        return TestServer::start_with(tune).await;
    };
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let schema = format!("it_vocelio_{}_{n}", std::process::id());
    switchboard_store::postgres::PgStore::connect_fresh_schema(&url, &schema)
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    TestServer::start_with(move |c| {
        c.database_url = Some(switchboard_server::config::Secret::new(db));
        tune(c);
    })
    .await
}

fn is_str(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

/// The success envelope: `success: true`, `meta {timestamp, request_id, version}`.
#[track_caller]
fn ok(r: &Resp, status: u16) -> &Value {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.body["success"], true, "{}", r.body);
    let meta = &r.body["meta"];
    assert!(is_str(&meta["timestamp"]) && is_str(&meta["request_id"]), "{}", r.body);
    assert_eq!(meta["version"], "v1");
    &r.body["data"]
}

/// The error envelope with `code`; answers `details.field`.
#[track_caller]
fn err(r: &Resp, status: u16, code: &str) -> Option<String> {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.body["success"], false, "{}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    assert!(is_str(&r.body["error"]["message"]), "{}", r.body);
    assert!(r.body["error"]["details"].is_object(), "{}", r.body);
    assert!(
        is_str(&r.body["meta"]["request_id"]) && is_str(&r.body["meta"]["timestamp"]),
        "{}",
        r.body
    );
    r.body["error"]["details"]["field"].as_str().map(str::to_owned)
}

async fn put(c: &Client, path: &str, body: Value) -> Resp {
    c.send(reqwest::Method::PUT, path, Some(body), &[]).await
}

/// A user of `role` in `c`'s organisation; answers the Vocelio login body.
async fn user_login(c: &Client, email: &str, role: Role) -> Value {
    let r = c
        .post(
            "/api/users",
            json!({"email": email, "name": "Test User", "password": PASSWORD, "role": role.as_str()}),
        )
        .await;
    ok(&r, 201);
    let r = c.post("/api/auth/login", json!({"email": email, "password": PASSWORD})).await;
    ok(&r, 200);
    r.body
}

/// Decodes a JWT's payload as the browser's `atob` does: the standard
/// alphabet only (a `-` or `_` fails), padding optional.
fn atob_payload(token: &str) -> Value {
    let seg = token.split('.').nth(1).expect("three segments");
    assert!(!seg.contains(['-', '_']), "atob refuses {seg}");
    let mut padded = seg.to_owned();
    while !padded.len().is_multiple_of(4) {
        padded.push('=');
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(padded).expect("atob decodes");
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn login_answers_both_shapes_with_atob_safe_tokens_and_refreshes() {
    let t = server(|_| {}).await;
    let http = reqwest::Client::new();
    let login = user_login(&t.a, "user@example.com", Role::Admin).await;
    // The reference's nested shape.
    let d = &login["data"];
    assert!(is_str(&d["token"]) && is_str(&d["refresh_token"]), "{login}");
    assert!(d["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(d["user"]["email"], "user@example.com");
    assert!(is_str(&d["user"]["id"]) && d["user"]["organization_id"] == t.a.org.id.to_string());
    // The clients' top-level shape.
    assert_eq!(login["token"], d["token"]);
    assert_eq!(login["refreshToken"], d["refresh_token"]);
    assert_eq!(login["user"]["email"], "user@example.com");
    // The portal's check: atob on the middle segment, exp against now.
    let token = login["token"].as_str().unwrap().to_owned();
    let claims = atob_payload(&token);
    assert!(claims["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    // `/auth/login` (the clients' other path), many tokens: every one decodes.
    for _ in 0..5 {
        let r =
            t.a.post("/auth/login", json!({"email": "user@example.com", "password": PASSWORD}))
                .await;
        ok(&r, 200);
        atob_payload(r.body["token"].as_str().unwrap());
    }
    // The token works as a Bearer on the dialect.
    let me = t.a.with_key(&token).get("/api/users/me").await;
    let u = ok(&me, 200);
    assert_eq!((u["email"].as_str(), u["role"].as_str()), (Some("user@example.com"), Some("admin")));
    assert!(u["permissions"].as_array().unwrap().contains(&json!("campaigns.create")));
    assert!(u["permissions"].as_array().unwrap().contains(&json!("calls.view")));
    assert_eq!(u["preferences"]["notifications"], true);
    // Refresh: `{refreshToken}` on /auth/refresh → top level and in data.
    let r =
        t.a.post("/auth/refresh", json!({"refreshToken": login["refreshToken"].clone()}))
            .await;
    ok(&r, 200);
    assert!(is_str(&r.body["token"]) && is_str(&r.body["refreshToken"]));
    assert_eq!(r.body["data"]["token"], r.body["token"]);
    atob_payload(r.body["token"].as_str().unwrap());
    // `{refresh_token}` on /api/auth/refresh; the spent one is refused.
    let again =
        t.a.post("/api/auth/refresh", json!({"refresh_token": r.body["refreshToken"].clone()}))
            .await;
    ok(&again, 200);
    let spent =
        t.a.post("/api/auth/refresh", json!({"refreshToken": login["refreshToken"].clone()}))
            .await;
    err(&spent, 401, "AUTH_001");
    // Wrong password, missing field.
    let r = into(
        http.post(format!("{}/api/auth/login", t.base))
            .json(&json!({"email": "user@example.com", "password": "wrong-password-123"}))
            .send()
            .await,
    )
    .await;
    err(&r, 401, "AUTH_001");
    let r = into(
        http.post(format!("{}/api/auth/login", t.base))
            .json(&json!({"email": "user@example.com"}))
            .send()
            .await,
    )
    .await;
    assert_eq!(err(&r, 400, "VALIDATION_001").as_deref(), Some("password"));
    // An expired (correctly signed) token is AUTH_002; a forged one AUTH_001.
    let user_id: switchboard_domain::UserId = u["user_id"].as_str().unwrap().parse().unwrap();
    let user = t.store.get_user(&t.a.org.id, &user_id).await.unwrap();
    let old = t.state.jwt().await.unwrap().issue(
        &user,
        &switchboard_domain::id::SessionId::new(),
        chrono::Utc::now() - chrono::Duration::hours(2),
    );
    err(&t.a.with_key(&old).get("/api/users/me").await, 401, "AUTH_002");
    let forged = format!("{}x", &token[..token.len() - 1]);
    err(&t.a.with_key(&forged).get("/api/users/me").await, 401, "AUTH_001");
}

async fn into(r: reqwest::Result<reqwest::Response>) -> Resp {
    crate::support::into_resp(r.unwrap()).await
}

#[tokio::test]
async fn errors_use_the_envelope_and_limits_are_per_hour_by_plan() {
    let t = server(|_| {}).await;
    let http = reqwest::Client::new();
    let r = into(http.get(format!("{}/api/calls", t.base)).send().await).await;
    err(&r, 401, "AUTH_001");
    // The organisation's plan sets the hourly limit (the reference's table).
    for (plan, limit) in [("standard", "1000"), ("professional", "5000"), ("enterprise", "25000")] {
        let mut org = t.store.get_org(&t.a.org.id).await.unwrap();
        org.plan = plan.into();
        t.store.update_org(org).await.unwrap();
        let r = t.a.get("/api/calls").await;
        ok(&r, 200);
        assert_eq!(r.headers["x-ratelimit-limit"], limit, "{plan}");
        let remaining: u64 = r.headers["x-ratelimit-remaining"].to_str().unwrap().parse().unwrap();
        let reset: i64 = r.headers["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
        assert!(remaining < limit.parse::<u64>().unwrap());
        assert_eq!(reset % 3600, 0, "the window is the hour");
        let next = t.a.get("/api/calls").await;
        let after: u64 = next.headers["x-ratelimit-remaining"].to_str().unwrap().parse().unwrap();
        assert_eq!(after, remaining - 1);
    }
    // The native API keeps its own per-minute limit.
    let r = t.a.get("/v1/calls").await;
    assert_eq!(r.headers["x-ratelimit-limit"], "3000");
    // Pagination fields on a list; sort/order checked.
    let r = t.a.get("/api/calls?page=1&limit=20&sort=created_at&order=desc").await;
    ok(&r, 200);
    let p = &r.body["pagination"];
    assert_eq!(
        (p["page"].as_u64(), p["limit"].as_u64(), p["total"].as_u64()),
        (Some(1), Some(20), Some(0))
    );
    assert_eq!(
        (p["pages"].as_u64(), p["has_next"].as_bool(), p["has_prev"].as_bool()),
        (Some(0), Some(false), Some(false))
    );
    assert_eq!(
        err(&t.a.get("/api/calls?order=sideways").await, 400, "VALIDATION_002").as_deref(),
        Some("order")
    );
    assert_eq!(
        err(&t.a.get("/api/calls?limit=1000").await, 400, "VALIDATION_003").as_deref(),
        Some("limit")
    );
    // Unknown id → RESOURCE_001; the Callmind and ribbon routes keep their envelopes.
    err(&t.a.get("/api/calls/call_01JNOSUCHCALL00000000000000").await, 404, "RESOURCE_001");
    let r = t.a.get("/api/call-history/nope").await;
    r.assert_error(404, "not_found");
}

#[tokio::test]
async fn users_me_list_create_update_with_checked_input() {
    let t = server(|_| {}).await;
    // An API key has no profile.
    err(&t.a.get("/api/users/me").await, 404, "RESOURCE_001");
    let login = user_login(&t.a, "john@example.com", Role::Admin).await;
    let me = t.a.with_key(login["token"].as_str().unwrap());
    // The reference's PUT /api/users/me.
    let r = put(
        &me,
        "/api/users/me",
        json!({"name": "John Updated", "preferences": {"timezone": "America/Los_Angeles"}}),
    )
    .await;
    let u = ok(&r, 200);
    assert_eq!(u["name"], "John Updated");
    assert_eq!(u["preferences"]["timezone"], "America/Los_Angeles");
    // Bad input names the field; nothing changes.
    let r = put(
        &me,
        "/api/users/me",
        json!({"name": "Other", "preferences": {"timezone": "Mars/Olympus"}}),
    )
    .await;
    assert_eq!(err(&r, 400, "VALIDATION_002").as_deref(), Some("preferences.timezone"));
    let r = me.get("/api/users/me").await;
    assert_eq!(
        (r.body["data"]["name"].as_str(), r.body["data"]["preferences"]["timezone"].as_str()),
        (Some("John Updated"), Some("America/Los_Angeles"))
    );
    // The reference's create (its "temp_password" is below our minimum).
    let example = json!({"email": "newuser@example.com", "name": "New User", "role": "agent", "password": "temp_password"});
    let r = me.post("/api/users", example.clone()).await;
    assert_eq!(err(&r, 400, "VALIDATION_003").as_deref(), Some("password"));
    let r = me.post("/api/users", json!({"name": "No Email", "password": PASSWORD})).await;
    assert_eq!(err(&r, 400, "VALIDATION_001").as_deref(), Some("email"));
    let mut good = example.clone();
    good["password"] = json!(PASSWORD);
    let r = me.post("/api/users", good.clone()).await;
    let created = ok(&r, 201).clone();
    assert_eq!(
        (created["role"].as_str(), created["status"].as_str()),
        (Some("agent"), Some("active"))
    );
    err(&me.post("/api/users", good).await, 409, "RESOURCE_002");
    // The reference's PUT /api/users/{id}.
    let id = created["user_id"].as_str().unwrap();
    let r = put(&me, &format!("/api/users/{id}"), json!({"role": "manager", "status": "active"})).await;
    assert_eq!(ok(&r, 200)["role"], "manager");
    let r = put(&me, &format!("/api/users/{id}"), json!({"status": "inactive"})).await;
    assert_eq!(ok(&r, 200)["status"], "inactive");
    let r = put(&me, &format!("/api/users/{id}"), json!({"status": "asleep", "role": "agent"})).await;
    assert_eq!(err(&r, 400, "VALIDATION_002").as_deref(), Some("status"));
    // List with filters.
    let r = me.get("/api/users?role=manager").await;
    let list = ok(&r, 200).as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["email"], "newuser@example.com");
    let r = me.get("/api/users?status=inactive").await;
    assert_eq!(ok(&r, 200).as_array().unwrap().len(), 1);
    let r = me.get("/api/users?search=john").await;
    assert_eq!(r.body["pagination"]["total"], 1);
    // Tenant isolation: the other organisation sees none of them.
    err(
        &put(&t.b, &format!("/api/users/{id}"), json!({"role": "agent"})).await,
        404,
        "RESOURCE_001",
    );
    assert_eq!(t.b.get("/api/users").await.body["pagination"]["total"], 0);
    // An agent may not manage users.
    let agent = user_login(&t.a, "agent@example.com", Role::Agent).await;
    let agent = t.a.with_key(agent["token"].as_str().unwrap());
    err(&agent.get("/api/users").await, 403, "AUTH_003");
}

#[tokio::test]
async fn voices_list_generate_clone_and_preview() {
    let t = server(|_| {}).await;
    // Without an engine: SERVICE_001.
    err(&t.a.get("/api/voice/voices").await, 503, "SERVICE_001");
    if std::process::Command::new("espeak-ng").arg("--version").output().is_err() {
        eprintln!("espeak-ng is not installed: synthesis not checked");
        return;
    }
    let t = server(|c| {
        c.speech = switchboard_speech::SpeechSettings {
            tts: vec![switchboard_speech::TtsEngine::Espeak],
            ..Default::default()
        };
        c.speech_price_per_character = 0.0001;
    })
    .await;
    for path in ["/api/voice/voices", "/api/voices"] {
        let r = t.a.get(path).await;
        let voices = ok(&r, 200)["voices"].as_array().unwrap().clone();
        assert!(!voices.is_empty());
        let v = &voices[0];
        for k in ["id", "voice_id", "name", "provider", "language", "gender", "sample_url"] {
            assert!(is_str(&v[k]), "{k}: {v}");
        }
        assert!(v["settings"].is_object());
    }
    let r = t.a.get("/api/voice/voices?language=en&gender=male").await;
    let some = ok(&r, 200)["voices"].as_array().unwrap().len();
    assert!(some > 0);
    assert!(
        ok(&t.a.get("/api/voice/voices?provider=elevenlabs").await, 200)["voices"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        err(&t.a.get("/api/voice/voices?gender=robot").await, 400, "VALIDATION_002").as_deref(),
        Some("gender")
    );
    // The reference's generate (its voice id is not ours: named).
    let example = json!({"text": "Hello, this is a test message", "voice_id": "voice_12345", "settings": {"stability": 0.6, "similarity_boost": 0.8}});
    let r = t.a.post("/api/voice/generate", example.clone()).await;
    assert_eq!(err(&r, 400, "VALIDATION_002").as_deref(), Some("voice_id"));
    let mut body = example;
    body["voice_id"] = json!("espeak-en-us");
    let r = t.a.post("/api/voices/generate", body).await;
    let d = ok(&r, 200).clone();
    assert_eq!(d["characters_used"], 29);
    assert!((d["cost"].as_f64().unwrap() - 0.0029).abs() < 1e-9, "{d}");
    assert!(d["duration"].as_f64().unwrap() > 0.5);
    assert!(d["not_applicable"].as_array().unwrap().contains(&json!("stability")));
    let url = d["audio_url"].as_str().unwrap();
    let path = url.find("/v1/").map(|i| &url[i..]).unwrap();
    let audio = reqwest::Client::new()
        .get(format!("{}{path}", t.base))
        .bearer_auth(&t.a.key)
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status(), 200);
    assert_eq!(
        err(
            &t.a.post("/api/voice/generate", json!({"voice_id": "espeak-en-us"})).await,
            400,
            "VALIDATION_001"
        )
        .as_deref(),
        Some("text")
    );
    // Preview plays the voice's sample.
    let r = reqwest::Client::new()
        .get(format!("{}/api/voices/preview/espeak-en-us.mp3", t.base))
        .bearer_auth(&t.a.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    assert!(r.bytes().await.unwrap().starts_with(b"RIFF"));
    // Clone: an honest refusal.
    let r =
        t.a.raw(
            reqwest::Method::POST,
            "/api/voices/clone",
            b"--x\r\nContent-Disposition: form-data; name=\"audio_file\"; filename=\"v.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n--x\r\nContent-Disposition: form-data; name=\"voice_name\"\r\n\r\nMy Custom Voice\r\n--x--\r\n".to_vec(),
            "multipart/form-data; boundary=x",
        )
        .await;
    let d = ok(&r, 202);
    assert_eq!(d["status"], "failed");
    assert_eq!(d["voice_id"], Value::Null);
    assert!(d["reason"].as_str().unwrap().contains("not available"));
    let r =
        t.a.raw(
            reqwest::Method::POST,
            "/api/voice/clone",
            b"--x\r\nContent-Disposition: form-data; name=\"voice_name\"\r\n\r\nNo audio\r\n--x--\r\n".to_vec(),
            "multipart/form-data; boundary=x",
        )
        .await;
    assert_eq!(err(&r, 400, "VALIDATION_001").as_deref(), Some("audio_file"));
}

/// One SSE connection read message by message (`data:` lines).
struct Sse {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    buf: Vec<u8>,
}

impl Sse {
    async fn open(c: &Client, path: &str) -> Sse {
        let resp = reqwest::Client::new()
            .get(format!("{}{path}", c.base))
            .bearer_auth(&c.key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        Sse {
            body: Box::pin(resp.bytes_stream()),
            buf: Vec::new(),
        }
    }

    /// The next message (comments skipped); None when the stream ends.
    async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                    let frame: Vec<u8> = self.buf.drain(..end + 2).collect();
                    let text = String::from_utf8(frame).unwrap();
                    assert!(!text.lines().any(|l| l.starts_with("event:")), "unnamed messages: {text}");
                    if let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
                        return Some(serde_json::from_str(data).unwrap());
                    }
                    continue;
                }
                match self.body.next().await {
                    Some(chunk) => self.buf.extend_from_slice(&chunk.unwrap()),
                    None => return None,
                }
            }
        })
        .await
        .expect("no message in time")
    }
}

#[tokio::test]
async fn calls_initiate_get_list_update_active_hangup_and_streams() {
    let t = server(|_| {}).await;
    // The reference's initiate, placed through the core dial path.
    let example = json!({
        "campaign_id": "campaign_12345", "phone_number": "+14155550123", "agent_id": "agent_67890",
        "settings": {"recording": true, "transcription": true, "max_duration": 1800}
    });
    let r = t.a.post("/api/calls", example.clone()).await;
    let d = ok(&r, 201).clone();
    let id = d["call_id"].as_str().unwrap().to_owned();
    assert!(is_str(&d["status"]) && is_str(&d["created_at"]));
    assert!(d.get("twilio_call_sid").is_some());
    // Get: the reference's fields.
    let r = t.a.get(&format!("/api/calls/{id}")).await;
    let c = ok(&r, 200).clone();
    assert_eq!(
        (c["call_id"].as_str(), c["phone_number"].as_str()),
        (Some(id.as_str()), Some("+14155550123"))
    );
    assert_eq!(
        (c["campaign_id"].as_str(), c["agent_id"].as_str()),
        (Some("campaign_12345"), Some("agent_67890"))
    );
    assert!(c["duration"].is_i64());
    for k in ["cost", "recording_url", "transcription"] {
        assert!(c.get(k).is_some(), "{k}");
    }
    for k in ["sentiment", "conversion", "quality_score"] {
        assert!(c["analysis"].get(k).is_some(), "{k}");
    }
    // Bad input: named, nothing stored.
    let before = t.snapshot(&t.a.org).await;
    let mut bad = example.clone();
    bad["settings"]["max_duration"] = json!("long");
    assert_eq!(
        err(&t.a.post("/api/calls", bad).await, 400, "VALIDATION_002").as_deref(),
        Some("settings.max_duration")
    );
    let mut bad = example.clone();
    bad["settings"]["max_duration"] = json!(999_999);
    assert_eq!(
        err(&t.a.post("/api/calls", bad).await, 400, "VALIDATION_003").as_deref(),
        Some("settings.max_duration")
    );
    let mut bad = example.clone();
    bad.as_object_mut().unwrap().remove("phone_number");
    assert_eq!(
        err(&t.a.post("/api/calls", bad).await, 400, "VALIDATION_001").as_deref(),
        Some("phone_number")
    );
    let mut bad = example.clone();
    bad["phone_number"] = json!("not a number");
    assert_eq!(
        err(&t.a.post("/api/calls", bad).await, 400, "VALIDATION_002").as_deref(),
        Some("phone_number")
    );
    assert_eq!(t.snapshot(&t.a.org).await, before, "refused requests change nothing");

    // The call's stream: the current status on connect.
    let mut events = Sse::open(&t.a, &format!("/api/calls/{id}/events")).await;
    let first = events.next().await.unwrap();
    assert_eq!(first["type"], "call_status_update", "{first}");
    assert!(first["status"].is_string() && first["duration"].is_i64());
    let mut active_events = Sse::open(&t.a, "/api/calls/active/events").await;
    let first = active_events.next().await.unwrap();
    assert_eq!(first["type"], "active_calls_update", "{first}");
    assert!(first["active_calls"].is_array());

    // A live inbound call (reported through the native API).
    let live =
        t.a.new_call(json!({"phone": "+14155550999", "direction": "inbound", "status": "ringing"}))
            .await;
    let r = t.a.post(&format!("/v1/calls/{live}/events"), json!({"status": "answered"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The active stream shows it answered (the board follows the outbox).
    let mut seen = false;
    for _ in 0..20 {
        let m = active_events.next().await.unwrap();
        assert!(["active_calls_update", "call_update"].contains(&m["type"].as_str().unwrap()), "{m}");
        let calls = if m["type"] == "active_calls_update" {
            m["active_calls"].clone()
        } else {
            json!([m["updates"].clone()])
        };
        if calls
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["call_id"] == live.as_str() && c["status"] == "in_progress")
        {
            if m["type"] == "call_update" {
                assert_eq!(m["call_id"], live.as_str());
            }
            seen = true;
            break;
        }
    }
    assert!(seen, "the active stream shows the new call");
    // Active: nested (reference) and top level (portal).
    let r = t.a.get("/api/calls/active").await;
    let d = ok(&r, 200).clone();
    let nested: Vec<&str> = d["active_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_id"].as_str().unwrap())
        .collect();
    assert!(nested.contains(&live.as_str()), "{d}");
    assert_eq!(r.body["active_calls"], d["active_calls"]);
    assert!(d["summary"]["total_active"].as_u64().unwrap() >= 1);
    assert!(d["summary"]["average_duration"].is_i64());
    let one = d["active_calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["call_id"] == live.as_str())
        .unwrap();
    assert_eq!(one["status"], "in_progress");
    assert!(one["duration"].is_i64() && one.get("quality_score").is_some());

    // The reference's PUT; the call-center service's fields.
    let r = put(
        &t.a,
        &format!("/api/calls/{live}"),
        json!({"status": "completed", "disposition": "interested", "customer_satisfaction": 4.5, "agent_notes": "Customer interested in premium package"}),
    )
    .await;
    let c = ok(&r, 200).clone();
    assert_eq!(
        (c["status"].as_str(), c["disposition"].as_str()),
        (Some("completed"), Some("interested"))
    );
    assert_eq!(c["customer_satisfaction"], 4.5);
    assert_eq!(c["agent_notes"], "Customer interested in premium package");
    let r = put(
        &t.a,
        &format!("/api/calls/{live}"),
        json!({"customer_data": {"plan": "premium"}, "agent_id": "AGT9", "notes": "Called back"}),
    )
    .await;
    let c = ok(&r, 200).clone();
    assert_eq!(
        (c["agent_id"].as_str(), c["agent_notes"].as_str()),
        (Some("AGT9"), Some("Called back"))
    );
    assert_eq!(c["customer_data"]["plan"], "premium");
    let before = t.snapshot(&t.a.org).await;
    let r = put(
        &t.a,
        &format!("/api/calls/{live}"),
        json!({"customer_satisfaction": 9, "disposition": "callback"}),
    )
    .await;
    assert_eq!(err(&r, 400, "VALIDATION_003").as_deref(), Some("customer_satisfaction"));
    let r = put(&t.a, &format!("/api/calls/{live}"), json!({"status": "dancing"})).await;
    assert_eq!(err(&r, 400, "VALIDATION_002").as_deref(), Some("status"));
    assert_eq!(t.snapshot(&t.a.org).await, before, "refused updates change nothing");

    // List with filters; logs.
    let r = t.a.get("/api/calls?status=completed").await;
    let ids: Vec<&str> = ok(&r, 200)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [live.as_str()]);
    let r = t.a.get("/api/calls?campaign_id=campaign_12345").await;
    assert_eq!(r.body["pagination"]["total"], 1);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let r = t.a.get(&format!("/api/calls?date_from={today}&date_to={today}")).await;
    assert_eq!(r.body["pagination"]["total"], 2);
    assert_eq!(
        err(&t.a.get("/api/calls?date_from=yesterday").await, 400, "VALIDATION_002").as_deref(),
        Some("date_from")
    );
    assert_eq!(t.a.get("/api/calls/logs").await.body["pagination"]["total"], 2);

    // Hang up the placed call: its stream ends with call_ended.
    let r = t.a.post(&format!("/api/calls/{id}/hangup"), json!({})).await;
    ok(&r, 200);
    if let Some(sim) = t.state.telephony.simulator.as_ref() {
        sim.pump().await.unwrap();
    }
    let mut types = Vec::new();
    while let Some(m) = events.next().await {
        types.push(m["type"].as_str().unwrap().to_owned());
        assert!(
            ["call_status_update", "call_ended"].contains(&types.last().unwrap().as_str()),
            "{m}"
        );
        if m["type"] == "call_ended" {
            assert!(is_str(&m["timestamp"]) && m["total_duration"].is_i64(), "{m}");
            break;
        }
    }
    assert_eq!(types.last().map(String::as_str), Some("call_ended"), "{types:?}");
    err(
        &t.a.post(&format!("/api/calls/{live}/hangup"), json!({})).await,
        409,
        "RESOURCE_003",
    );

    // The do-not-call check, per organisation.
    let r = t.a.post("/v1/dnc", json!({"phone": "+14155550777", "reason": "asked"})).await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = t.a.post("/api/calls/dnc-check", json!({"phone_number": "+1 415 555 0777"})).await;
    let d = ok(&r, 200);
    assert_eq!(
        (d["phone_number"].as_str(), d["on_dnc_list"].as_bool(), d["can_call"].as_bool()),
        (Some("+14155550777"), Some(true), Some(false))
    );
    assert_eq!(d["reason"], "asked");
    let r = t.b.post("/api/calls/dnc-check", json!({"phone_number": "+14155550777"})).await;
    assert_eq!(ok(&r, 200)["on_dnc_list"], false);
    assert_eq!(
        err(&t.a.post("/api/calls/dnc-check", json!({})).await, 400, "VALIDATION_001").as_deref(),
        Some("phone_number")
    );
    assert_eq!(
        err(
            &t.a.post("/api/calls/dnc-check", json!({"phone_number": "12"})).await,
            400,
            "VALIDATION_002"
        )
        .as_deref(),
        Some("phone_number")
    );
    // Tenant isolation on every call route.
    err(&t.b.get(&format!("/api/calls/{id}")).await, 404, "RESOURCE_001");
    err(
        &put(&t.b, &format!("/api/calls/{live}"), json!({"disposition": "callback"})).await,
        404,
        "RESOURCE_001",
    );
    err(&t.b.post(&format!("/api/calls/{id}/hangup"), json!({})).await, 404, "RESOURCE_001");
    assert_eq!(t.b.get("/api/calls").await.body["pagination"]["total"], 0);
    assert_eq!(t.b.get("/api/calls/logs").await.body["pagination"]["total"], 0);
    assert_eq!(t.b.get("/api/calls/active").await.body["active_calls"], json!([]));
    let r = reqwest::Client::new()
        .get(format!("{}/api/calls/{id}/events", t.base))
        .bearer_auth(&t.b.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn campaigns_and_analytics_over_the_core() {
    let t = server(|c| c.conversion_value = 250.0).await;
    let tpl = crate::templates::new_template(&t.a, crate::templates::spec_template()).await;
    let c1 = t.a.new_contact(json!({"name": "John Smith", "phone": "+15551234567"})).await;
    let c2 = t.a.new_contact(json!({"name": "Jane Doe", "phone": "+15551234568"})).await;
    let r =
        t.a.post(
            "/v1/campaigns",
            json!({
                "name": "Q1 Product Launch", "description": "Launch outreach", "templateId": tpl, "contacts": [c1, c2],
                "variables": {"companyName": "Acme Inc", "productName": "Premium Widget"},
                "callSettings": {"retrySettings": {"maxAttempts": 3}}
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    // Get: the reference's fields.
    let r = t.a.get(&format!("/api/campaigns/{id}")).await;
    let c = ok(&r, 200).clone();
    assert_eq!(
        (c["campaign_id"].as_str(), c["name"].as_str(), c["status"].as_str()),
        (Some(id.as_str()), Some("Q1 Product Launch"), Some("draft"))
    );
    assert_eq!(c["progress"]["total_prospects"], 2);
    assert_eq!(c["progress"]["contacted"], 0);
    assert!(c["progress"]["progress_percentage"].is_f64());
    for k in ["success_rate", "conversion_rate"] {
        assert!(c["performance"][k].is_f64(), "{k}");
    }
    assert!(c["performance"].get("roi").is_some());
    assert_eq!(c["settings"]["max_attempts_per_prospect"], 3);
    // List with filters.
    let r = t.a.get("/api/campaigns?status=draft&search=launch").await;
    assert_eq!(ok(&r, 200).as_array().unwrap().len(), 1);
    assert_eq!(r.body["pagination"]["total"], 1);
    assert!(
        ok(&t.a.get("/api/campaigns?search=winter").await, 200)
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        ok(&t.a.get("/api/campaigns?campaign_type=outbound_sales").await, 200)
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        err(&t.a.get("/api/campaigns?status=sleeping").await, 400, "VALIDATION_002").as_deref(),
        Some("status")
    );
    // The reference's PUT: its settings cannot change here; nothing changes.
    let r = put(
        &t.a,
        &format!("/api/campaigns/{id}"),
        json!({"status": "paused", "settings": {"max_calls_per_day": 750}}),
    )
    .await;
    assert_eq!(err(&r, 400, "VALIDATION_002").as_deref(), Some("settings.max_calls_per_day"));
    assert_eq!(t.a.get(&format!("/api/campaigns/{id}")).await.body["data"]["status"], "draft");
    // Start, pause, resume through PUT, stats.
    assert_eq!(
        ok(&t.a.post(&format!("/api/campaigns/{id}/start"), json!({})).await, 200)["status"],
        "active"
    );
    assert_eq!(
        ok(&t.a.post(&format!("/api/campaigns/{id}/pause"), json!({})).await, 200)["status"],
        "paused"
    );
    let r = put(&t.a, &format!("/api/campaigns/{id}"), json!({"status": "active"})).await;
    assert_eq!(ok(&r, 200)["status"], "active");
    assert_eq!(
        err(
            &put(&t.a, &format!("/api/campaigns/{id}"), json!({"status": "draft"})).await,
            400,
            "VALIDATION_002"
        )
        .as_deref(),
        Some("status")
    );
    let r = t.a.get(&format!("/api/campaigns/{id}/stats")).await;
    let s = ok(&r, 200);
    assert_eq!(s["total_prospects"], 2);
    assert!(s["completed_calls"].is_i64() && s["success_rate"].is_f64());
    // Tenant isolation.
    for path in [format!("/api/campaigns/{id}"), format!("/api/campaigns/{id}/stats")] {
        err(&t.b.get(&path).await, 404, "RESOURCE_001");
    }
    err(
        &t.b.post(&format!("/api/campaigns/{id}/pause"), json!({})).await,
        404,
        "RESOURCE_001",
    );
    err(
        &put(&t.b, &format!("/api/campaigns/{id}"), json!({"status": "cancelled"})).await,
        404,
        "RESOURCE_001",
    );
    assert_eq!(t.b.get("/api/campaigns").await.body["pagination"]["total"], 0);

    // Dashboard: three calls, two answered, one converted.
    for (status, outcome) in [("completed", Some("converted")), ("completed", None), ("no_answer", None)] {
        let mut body = json!({"phone": "+15551230001", "direction": "inbound", "status": status, "agentId": "AGT1"});
        if let Some(o) = outcome {
            body["outcome"] = json!(o);
        }
        t.a.new_call(body).await;
    }
    let r = t.a.get("/api/analytics/dashboard").await;
    let d = ok(&r, 200).clone();
    assert_eq!(d["summary"]["total_calls"], 3, "{d}");
    assert_eq!(d["summary"]["success_rate"], 66.7);
    assert_eq!(d["summary"]["conversion_rate"], 33.3);
    assert_eq!(d["summary"]["total_revenue"], 250.0);
    assert_eq!(d["summary"]["active_campaigns"], 1);
    // Nothing in the previous 30 days: no trend to report.
    assert_eq!(d["trends"]["calls_trend"], Value::Null);
    assert!(d["top_campaigns"].is_array());
    assert_eq!(
        err(&t.a.get("/api/analytics/dashboard?date_from=soon").await, 400, "VALIDATION_002").as_deref(),
        Some("date_from")
    );
    let r = t.b.get("/api/analytics/dashboard").await;
    assert_eq!(ok(&r, 200)["summary"]["total_calls"], 0);
    // Call analytics: summary and a daily series; agents.
    let r = t.a.get("/api/analytics/calls?granularity=day&agent_id=AGT1").await;
    let d = ok(&r, 200).clone();
    assert_eq!(d["summary"]["total_calls"], 3, "{d}");
    assert_eq!(d["summary"]["conversion_rate"], 33.3);
    let series = d["time_series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(
        (series[0]["calls"].as_u64(), series[0]["success_rate"].as_f64()),
        (Some(3), Some(66.7))
    );
    assert!(is_str(&series[0]["timestamp"]));
    assert_eq!(
        ok(&t.a.get("/api/analytics/calls?agent_id=nobody").await, 200)["summary"]["total_calls"],
        0
    );
    assert_eq!(
        err(&t.a.get("/api/analytics/calls?granularity=month").await, 400, "VALIDATION_002").as_deref(),
        Some("granularity")
    );
    let r = t.a.get("/api/analytics/agents").await;
    let d = ok(&r, 200).clone();
    let agent = &d["agents"][0];
    assert_eq!(
        (agent["agent_id"].as_str(), agent["calls"].as_u64()),
        (Some("AGT1"), Some(3)),
        "{d}"
    );
    assert_eq!(
        (agent["success_rate"].as_f64(), agent["conversion_rate"].as_f64()),
        (Some(66.7), Some(33.3))
    );
    assert_eq!(agent["performance_score"], 1.7);
    assert_eq!(d["summary"]["top_performer"], "AGT1");
    assert_eq!(d["summary"]["total_agents"], 1);
    assert_eq!(ok(&t.b.get("/api/analytics/agents").await, 200)["agents"], json!([]));
    // Real-time figures.
    let r = t.a.get("/api/analytics/realtime").await;
    let m = ok(&r, 200);
    for k in ["active_calls", "calls_today", "queue_size", "agents_online"] {
        assert!(m[k].is_i64() || m[k].is_u64(), "{k}: {m}");
    }
    assert!(m["success_rate_today"].is_f64());
    assert_eq!(m["calls_today"], 3);
    // A cancelled campaign cannot start again.
    let r = put(&t.a, &format!("/api/campaigns/{id}"), json!({"status": "cancelled"})).await;
    assert_eq!(ok(&r, 200)["status"], "cancelled");
    err(
        &t.a.post(&format!("/api/campaigns/{id}/start"), json!({})).await,
        409,
        "RESOURCE_003",
    );
}
