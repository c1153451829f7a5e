//! Conversation intelligence in the server: the analysis worker stores a
//! completed call's analysis once (on SQLite, on PostgreSQL, and with two
//! nodes racing), `GET /v1/calls/{id}/analysis`, re-runs, ad-hoc analysis
//! and its bad input, and PII redaction per organisation (the raw card
//! number never reaches the database file nor a webhook).

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_server::config::Secret;
use switchboard_server::workers::analysis::AnalysisWorker;

use crate::support::{Client, TestServer};

const TRANSCRIPT: &str = "Agent: Hello, this is Maya from Acme Energy. This call is recorded for quality purposes.\n\
Customer: Hi Maya, my name is John Carter. I am really unhappy, you charged me twice this month.\n\
Agent: I am sorry about that. Let me look at your account.\n\
Customer: You can email me at john.carter@example.com with the details.\n\
Agent: I see the double charge and I will refund it today.\n\
Customer: Thank you, that's great. I will pay the remaining 50 dollars on Friday.";

fn worker(t: &TestServer) -> Arc<AnalysisWorker> {
    AnalysisWorker::new(t.store.clone(), t.state.intent_models.clone())
}

async fn events(t: &TestServer, c: &Client, event_type: &str) -> Vec<Value> {
    t.store
        .org_events_after(&c.org.id, 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == event_type)
        .map(|e| e.data)
        .collect()
}

async fn completed_call(c: &Client, transcript: Option<&str>, collected: Option<Value>) -> String {
    let mut body = json!({"phone": "+14155550123", "status": "completed", "duration": 120});
    if let Some(t) = transcript {
        body["transcript"] = json!(t);
    }
    if let Some(d) = collected {
        body["collectedData"] = d;
    }
    c.new_call(body).await
}

async fn completed_call_is_analysed_once(t: TestServer) {
    let id = completed_call(&t.a, Some(TRANSCRIPT), Some(json!({"email": "set-by-client@example.com"}))).await;
    let quiet = completed_call(&t.a, None, None).await;
    // Not analysed yet.
    let r = t.a.get(&format!("/v1/calls/{id}/analysis")).await;
    r.assert_error(404, "not_found");

    let round = worker(&t).run_once().await.unwrap();
    assert_eq!(round.analysed, 2, "{round:?}");
    let r = t.a.get(&format!("/v1/calls/{id}/analysis")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = &r.body;
    assert_eq!(a["callId"], id.as_str());
    assert_eq!(a["status"], "completed");
    assert_eq!(a["engine"], "builtin");
    assert_eq!(a["running"], false);
    assert!(a["analysedAt"].is_string());
    assert!(a["sentiment"]["score"].is_number(), "{a}");
    assert!(a["sentiment"]["bySpeaker"].is_object(), "{a}");
    assert!(a["keywords"].as_array().is_some_and(|k| !k.is_empty()), "{a}");
    assert!(a["summary"]["text"].as_str().is_some_and(|s| !s.is_empty()), "{a}");
    assert_eq!(a["compliance"]["recordingDisclosure"]["value"], true, "{a}");
    assert!(a.get("redacted").is_none(), "redaction is off by default: {a}");
    let kinds: Vec<&str> = a["entities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"email"), "{kinds:?}");
    assert!(kinds.contains(&"person_name"), "{kinds:?}");
    // Evidence points at the words it came from in the stored segments.
    let segs = t.a.get(&format!("/v1/calls/{id}/transcript")).await.body["segments"].clone();
    let email = a["entities"].as_array().unwrap().iter().find(|e| e["kind"] == "email").unwrap();
    let ev = &email["evidence"];
    let text: Vec<char> = segs[ev["segment"].as_u64().unwrap() as usize]["text"]
        .as_str()
        .unwrap()
        .chars()
        .collect();
    let said: String = text[ev["start"].as_u64().unwrap() as usize..ev["end"].as_u64().unwrap() as usize]
        .iter()
        .collect();
    assert_eq!(said, "john.carter@example.com");

    // Entities went into collectedData without overwriting the client's.
    let call = t.a.get(&format!("/v1/calls/{id}")).await.body;
    assert_eq!(call["collectedData"]["email"], "set-by-client@example.com", "{call}");
    assert_eq!(call["collectedData"]["person_name"], "John Carter", "{call}");

    // The call without a transcript: skipped, saying why.
    let r = t.a.get(&format!("/v1/calls/{quiet}/analysis")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "skipped");
    assert_eq!(r.body["reason"], "no transcript");

    // Exactly one analysis.complete per call; another worker (another
    // node reading the same outbox) finds nothing left to do.
    assert_eq!(worker(&t).run_once().await.unwrap().analysed, 0);
    let done = events(&t, &t.a, "analysis.complete").await;
    let for_call: Vec<&Value> = done.iter().filter(|e| e["callId"] == id.as_str()).collect();
    assert_eq!(for_call.len(), 1, "{done:?}");
    assert_eq!(for_call[0]["status"], "completed");
    assert_eq!(for_call[0]["analysis"]["intent"], a["intent"]);
    assert_eq!(done.len(), 2);

    // Another organisation sees nothing of it.
    t.b.get(&format!("/v1/calls/{id}/analysis")).await.assert_error(404, "not_found");
    t.b.post(&format!("/v1/calls/{id}/analyze"), json!({}))
        .await
        .assert_error(404, "not_found");

    // A re-run stores again and announces it again.
    let r = t.a.post(&format!("/v1/calls/{id}/analyze"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "completed");
    assert_eq!(r.body["intent"], a["intent"]);
    assert_eq!(events(&t, &t.a, "analysis.complete").await.len(), 3);

    // A new transcript is analysed again.
    let r =
        t.a.post(
            &format!("/v1/calls/{quiet}/events"),
            json!({"transcript": "Customer: Please do not call me again. Remove my number from your list."}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(worker(&t).run_once().await.unwrap().analysed, 1);
    let r = t.a.get(&format!("/v1/calls/{quiet}/analysis")).await;
    assert_eq!(r.body["status"], "completed", "{}", r.body);
    assert_eq!(r.body["compliance"]["doNotCall"]["value"], true, "{}", r.body);
    // The callee asked: the number is on the do-not-call list (on by default).
    let dnc = t.a.get("/v1/dnc").await;
    assert!(dnc.body.to_string().contains("+14155550123"), "{}", dnc.body);
}

#[tokio::test]
async fn a_completed_call_is_analysed_once() {
    completed_call_is_analysed_once(TestServer::start().await).await;
}

fn pg_base(url: &str, schema: &str) -> String {
    format!(
        "{url}{}options=-c%20search_path%3D{schema}",
        if url.contains('?') { "&" } else { "?" }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_completed_call_is_analysed_once_on_postgres() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the PostgreSQL analysis test");
        return;
    };
    let schema = format!("it_analysis_{}", std::process::id());
    switchboard_store::postgres::PgStore::connect_fresh_schema(&url, &schema)
        .await
        .unwrap();
    let base = pg_base(&url, &schema);
    let t = TestServer::start_with(move |c| c.database_url = Some(Secret::new(base))).await;
    completed_call_is_analysed_once(t).await;
    let _ = switchboard_store::postgres::PgStore::drop_schema(&url, &schema).await;
}

/// Two nodes on one PostgreSQL database read the same events at once:
/// every call is analysed by exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_never_analyse_a_call_twice() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the two-node analysis test");
        return;
    };
    let schema = format!("it_analysis2_{}", std::process::id());
    switchboard_store::postgres::PgStore::connect_fresh_schema(&url, &schema)
        .await
        .unwrap();
    let base = pg_base(&url, &schema);
    let b2 = base.clone();
    let t = TestServer::start_with(move |c| c.database_url = Some(Secret::new(base))).await;
    let node = t.another_node(move |c| c.database_url = Some(Secret::new(b2))).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(completed_call(&t.a, Some(TRANSCRIPT), None).await);
    }
    let one = worker(&t);
    let two = AnalysisWorker::new(node.state.store.clone(), node.state.intent_models.clone());
    let (r1, r2) = tokio::join!(one.run_once(), two.run_once());
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    // A call the other node held is retried by the next round, and is then done.
    let (r3, r4) = tokio::join!(one.run_once(), two.run_once());
    let total = r1.analysed + r2.analysed + r3.unwrap().analysed + r4.unwrap().analysed;
    assert_eq!(total, 6, "{r1:?} {r2:?}");
    let done = events(&t, &t.a, "analysis.complete").await;
    assert_eq!(done.len(), 6);
    for id in &ids {
        assert_eq!(done.iter().filter(|e| e["callId"] == id.as_str()).count(), 1, "{id}");
    }
    drop(node);
    let _ = switchboard_store::postgres::PgStore::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn ad_hoc_analysis_answers_the_types_asked_for() {
    let t = TestServer::start_with(|c| c.body_limit = 4 << 20).await;
    let r =
        t.a.post(
            "/v1/analysis",
            json!({"text": "I want to cancel my account, this is terrible service.", "types": ["sentiment", "intent"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "completed");
    assert_eq!(r.body["sentiment"]["label"], "negative", "{}", r.body);
    assert_eq!(r.body["intent"]["name"], "cancel_service", "{}", r.body);
    for absent in ["keywords", "summary", "entities", "redacted", "topics", "compliance"] {
        assert!(r.body[absent].is_null(), "{absent}: {}", r.body);
    }

    // Segments, with redaction asked for: the card is gone from every result.
    let r =
        t.a.post(
            "/v1/analysis",
            json!({"segments": [
                {"speaker": "agent", "text": "Can I have the card number please?"},
                {"speaker": "customer", "text": "Sure, it is 4111 1111 1111 1111 and my email is ann@example.com"}
            ], "types": ["redaction", "keywords", "summary"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.body.to_string();
    assert!(!body.contains("4111 1111 1111 1111"), "{body}");
    assert!(!body.contains("ann@example.com"), "{body}");
    assert!(r.body["redacted"]["segments"][1].as_str().unwrap().contains("[CARD]"), "{body}");

    // Bad input names the field.
    let r =
        t.a.post("/v1/analysis", json!({"text": "hello there", "types": ["sentiment", "mood"]}))
            .await;
    r.assert_field_error("types[1]");
    let r = t.a.post("/v1/analysis", json!({"types": ["sentiment"]})).await;
    r.assert_field_error("text");
    let r = t.a.post("/v1/analysis", json!({"text": "a", "segments": []})).await;
    r.assert_field_error("text");
    let r =
        t.a.post("/v1/analysis", json!({"segments": [{"speaker": "robot", "text": "hi"}]}))
            .await;
    r.assert_field_error("segments[0].speaker");
    let many: Vec<Value> = (0..10_001).map(|_| json!({"text": "ok"})).collect();
    let r = t.a.post("/v1/analysis", json!({ "segments": many })).await;
    r.assert_field_error("segments");
    let big = "word ".repeat((1 << 20) / 5 + 1);
    let r = t.a.post("/v1/analysis", json!({ "text": big })).await;
    r.assert_field_error("text");
}

/// Every byte of every file in `dir` (the database, its WAL, recordings).
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(all_bytes(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.extend(b);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_redacting_org_never_stores_or_sends_the_raw_card_number() {
    use crate::receiver::Receiver;
    use switchboard_server::workers::webhooks::{WebhookWorker, WorkerConfig};

    let t = TestServer::start_with(|c| c.allow_private_webhook_targets = true).await;
    // Off by default.
    let r = t.a.get("/v1/org/intelligence").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["redactPii"], false);
    assert_eq!(r.body["dncOnRequest"], true);
    let r = t.a.patch("/v1/org/intelligence", json!({"redactPii": true})).await;
    assert_eq!(r.status, 405, "{}", r.body);
    let r =
        t.a.send(reqwest::Method::PUT, "/v1/org/intelligence", Some(json!({"redactPii": true})), &[])
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["redactPii"], true);
    let r =
        t.a.send(
            reqwest::Method::PUT,
            "/v1/org/intelligence",
            Some(json!({"disclosurePhrases": [""]})),
            &[],
        )
        .await;
    r.assert_field_error("disclosurePhrases[0]");

    let mut rx = Receiver::start().await;
    let hook = t.a.post("/v1/webhooks", json!({"url": rx.url(), "events": ["*"]})).await;
    assert_eq!(hook.status, 201, "{}", hook.body);

    // Organisation A redacts; B does not (and shows the search finds a raw number).
    let a_card = "4111 1111 1111 1111";
    let b_card = "5555 5555 5555 4444";
    let said = |card: &str| {
        format!("Agent: How would you like to pay?\nCustomer: By card, the number is {card}, expiry next May. Email me at pat@example.com.")
    };
    let id = completed_call(&t.a, Some(&said(a_card)), None).await;
    let other = completed_call(&t.b, Some(&said(b_card)), None).await;
    // A later report carrying the card in notes and a new transcript.
    let r =
        t.a.post(
            &format!("/v1/calls/{id}/events"),
            json!({"notes": format!("card {a_card}"), "transcript": said(a_card)}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    // A spoken card is redacted too.
    let spoken = "Customer: it is four one one one one one one one one one one one one one one one";
    let spoken_id = completed_call(&t.a, Some(spoken), None).await;

    let segs = t.a.get(&format!("/v1/calls/{id}/transcript")).await.body;
    assert!(segs.to_string().contains("[CARD]"), "{segs}");
    assert!(!segs.to_string().contains(a_card), "{segs}");
    let call = t.a.get(&format!("/v1/calls/{id}")).await.body;
    assert!(!call.to_string().contains(a_card), "{call}");
    let spoken_segs = t.a.get(&format!("/v1/calls/{spoken_id}/transcript")).await.body;
    assert!(!spoken_segs.to_string().contains("four one one one one"), "{spoken_segs}");

    let analysed = worker(&t).run_once().await.unwrap();
    assert_eq!(analysed.analysed, 3, "{analysed:?}");
    let a = t.a.get(&format!("/v1/calls/{id}/analysis")).await.body;
    assert!(a["redacted"]["text"].as_str().unwrap().contains("[CARD]"), "{a}");
    assert!(!a.to_string().contains(a_card));
    let b = t.b.get(&format!("/v1/calls/{other}/analysis")).await.body;
    assert!(b.get("redacted").is_none(), "{b}");

    let hooks = WebhookWorker::new(
        t.store.clone(),
        WorkerConfig {
            allow_private: true,
            ..WorkerConfig::default()
        },
    )
    .unwrap();
    let round = hooks.run_once().await.unwrap();
    assert!(round.succeeded >= 5, "{round:?}");
    let mut bodies = Vec::new();
    while let Ok(r) = rx.rx.try_recv() {
        bodies.push(String::from_utf8_lossy(&r.body).into_owned());
    }
    assert_eq!(bodies.len() as u64, round.succeeded);
    let all = bodies.join("\n");
    assert!(all.contains("analysis.complete"), "{all}");
    assert!(all.contains("transcription.complete"), "{all}");
    assert!(all.contains("[CARD]"), "{all}");
    for raw in [a_card, "4111111111111111", "pat@example.com"] {
        assert!(!all.contains(raw), "{raw} left in a webhook: {all}");
    }

    // The database files: A's card is nowhere, B's (not redacted) is there.
    let bytes = all_bytes(&t.state.cfg.data_dir);
    assert!(contains(&bytes, b_card), "the search finds an unredacted number");
    assert!(!contains(&bytes, a_card), "the raw card number was written to disk");
    assert!(!contains(&bytes, "4111111111111111"));
}

#[tokio::test]
async fn organisations_teach_their_own_intents() {
    use switchboard_domain::conversation::{KeywordIntents, Understand};
    use switchboard_server::workers::analysis::ModelUnderstand;

    let t = TestServer::start().await;
    // Bad input names the field.
    t.a.post("/v1/intents", json!({"name": "upgrade_plan", "examples": []}))
        .await
        .assert_field_error("examples");
    t.a.post("/v1/intents", json!({"name": "upgrade_plan"}))
        .await
        .assert_field_error("examples");
    t.a.post("/v1/intents", json!({"name": "Upgrade Plan!", "examples": ["x"]}))
        .await
        .assert_field_error("name");
    t.a.post("/v1/intents", json!({"name": "upgrade_plan", "examples": ["ok", "  "]}))
        .await
        .assert_field_error("examples[1]");

    let examples = json!([
        "I want to upgrade my plan",
        "move me to the premium tier",
        "can I switch to the premium package",
        "I'd like the bigger plan with more minutes"
    ]);
    let r = t.a.post("/v1/intents", json!({"name": "upgrade_plan", "examples": examples})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("int_"));
    assert_eq!(r.body["examples"], examples);
    t.a.post("/v1/intents", json!({"name": "upgrade_plan", "examples": ["more"]}))
        .await
        .assert_error(409, "conflict");
    let list = t.a.get("/v1/intents").await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1, "{}", list.body);
    assert_eq!(t.a.get(&format!("/v1/intents/{id}")).await.body["name"], "upgrade_plan");
    t.b.get(&format!("/v1/intents/{id}")).await.assert_error(404, "not_found");
    assert_eq!(t.b.get("/v1/intents").await.body["data"], json!([]));

    // Analysis and scripts of A know it; B's do not.
    let said = "Hi, could you move me up to the premium tier please";
    let r = t.a.post("/v1/analysis", json!({"text": said, "types": ["intent"]})).await;
    assert_eq!(r.body["intent"]["name"], "upgrade_plan", "{}", r.body);
    let r = t.b.post("/v1/analysis", json!({"text": said, "types": ["intent"]})).await;
    assert_ne!(r.body["intent"]["name"], "upgrade_plan", "{}", r.body);
    let model = t.state.intent_models.for_org(&t.store, &t.a.org.id).await.unwrap();
    let nlu = ModelUnderstand::new(model, Arc::new(KeywordIntents::default()));
    assert_eq!(nlu.intent(said).map(|(n, _)| n).as_deref(), Some("upgrade_plan"));
    // The phrase rules' intent names still come out.
    for (text, want) in [
        ("yes", "interested"),
        ("please stop calling me", "do_not_call"),
        ("can I talk to a real person", "transfer_request"),
        ("you have the wrong number", "wrong_number"),
    ] {
        assert_eq!(nlu.intent(text).map(|(n, _)| n).as_deref(), Some(want), "{text}");
    }
    assert_eq!(nlu.intent("purple elephant trombone"), None);

    // Renamed, then deleted: the model follows at once.
    let r = t.a.patch(&format!("/v1/intents/{id}"), json!({"name": "premium_upgrade"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["examples"], examples);
    let r = t.a.post("/v1/analysis", json!({"text": said, "types": ["intent"]})).await;
    assert_eq!(r.body["intent"]["name"], "premium_upgrade", "{}", r.body);
    t.a.patch(&format!("/v1/intents/{id}"), json!({"examples": []}))
        .await
        .assert_field_error("examples");
    assert_eq!(t.a.delete(&format!("/v1/intents/{id}")).await.status, 204);
    t.a.get(&format!("/v1/intents/{id}")).await.assert_error(404, "not_found");
    let r = t.a.post("/v1/analysis", json!({"text": said, "types": ["intent"]})).await;
    assert_ne!(r.body["intent"]["name"], "premium_upgrade", "{}", r.body);
}

const UPSELL: &str = r#"{"name": "Upsell", "steps": [
 {"id": "ask", "type": "question", "content": "Is there anything we can do for you today?", "saveAs": "answer",
  "branches": [
    {"intent": "upgrade_plan", "goto": "up"},
    {"intent": "interested", "goto": "yes"},
    {"default": true, "goto": "no"}]},
 {"id": "up", "type": "hangup", "content": "Moving you to premium.", "outcome": "upgrade"},
 {"id": "yes", "type": "hangup", "content": "Great.", "outcome": "successful"},
 {"id": "no", "type": "hangup", "content": "Goodbye.", "outcome": "refused"}
]}"#;

/// A script's intent branches use the organisation's own intents and the
/// built-in ones; every live segment's event carries its sentiment and intent.
#[tokio::test]
async fn scripts_branch_on_org_intents_and_live_segments_carry_their_reading() {
    use chrono::Duration;
    use switchboard_telephony::ManualClock;
    use switchboard_telephony::simulator::SimSettings;

    let clock = ManualClock::new("2025-05-21T15:00:00Z".parse().unwrap());
    let sim = SimSettings {
        failed_rate: 0.0,
        busy_rate: 0.0,
        answer_rate: 1.0,
        voicemail_rate: 0.0,
        answer_by_hour: false,
        ..Default::default()
    };
    let t = TestServer::start_simulated(clock.clone(), sim, |_| {}).await;
    let r =
        t.a.post(
            "/v1/intents",
            json!({"name": "upgrade_plan", "examples": ["I want to upgrade my plan", "move me to the premium tier", "switch me to the premium package"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let tpl = crate::templates::new_template(&t.a, serde_json::from_str(UPSELL).unwrap()).await;
    let mut ids = Vec::new();
    for answer in ["Could you move me up to the premium tier please", "yes", "purple elephant trombone"] {
        let r =
            t.a.post(
                "/v1/calls",
                json!({"phone": "+12125550100", "templateId": tpl, "callerId": "+15559876543",
                       "simulation": {"persona": "interested", "answers": [answer]}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let simulator = t.simulator();
    let mut done = false;
    for _ in 0..400 {
        t.state.dialer.run_once().await.unwrap();
        simulator.pump().await.unwrap();
        let mut all = true;
        for id in &ids {
            all &= t
                .store
                .get_call(&t.a.org.id, &id.parse().unwrap())
                .await
                .unwrap()
                .status
                .is_terminal();
        }
        if all {
            done = true;
            break;
        }
        clock.advance(Duration::seconds(3));
    }
    assert!(done, "the calls did not end");
    let outcomes: Vec<String> = {
        let mut v = Vec::new();
        for id in &ids {
            let c = t.store.get_call(&t.a.org.id, &id.parse().unwrap()).await.unwrap();
            v.push(c.outcome.unwrap_or_default());
        }
        v
    };
    assert_eq!(outcomes, ["upgrade", "successful", "refused"]);

    // Every customer segment's event says what was read in it.
    let updates = events(&t, &t.a, "transcript.updated").await;
    let heard: Vec<&Value> = updates.iter().filter(|e| e["segment"]["speaker"] == "customer").collect();
    assert_eq!(heard.len(), 3, "{updates:?}");
    let by_text = |text: &str| heard.iter().find(|e| e["segment"]["text"] == text).copied().unwrap();
    let up = by_text("Could you move me up to the premium tier please");
    assert_eq!(up["analysis"]["intent"]["name"], "upgrade_plan", "{up}");
    assert!(up["analysis"]["sentiment"]["label"].is_string(), "{up}");
    let ev = &up["analysis"]["intent"]["evidence"][0];
    assert_eq!(ev["segment"], 0);
    assert!(ev["text"].as_str().is_some_and(|s| s.contains("premium")), "{up}");
    assert_eq!(by_text("purple elephant trombone")["analysis"]["intent"]["name"], "unknown");
    // The platform's own prompts are analysed too.
    assert!(updates.iter().all(|e| e["analysis"]["sentiment"].is_object()), "{updates:?}");
}

/// `switchboard eval` and `switchboard bench analysis` run the crate's
/// evaluation and benchmark from the binary.
#[test]
fn eval_and_bench_commands_report_their_numbers() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(crate::cli::BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let red = run(&["eval", "redaction"]);
    let card = red.lines().find(|l| l.starts_with("[CARD]")).unwrap_or_default();
    assert!(card.contains("100.0%"), "{red}");
    assert!(red.contains("false positives"), "{red}");
    let intent = run(&["eval", "intent"]);
    assert!(intent.contains("held-out accuracy") && intent.contains("macro-F1"), "{intent}");
    let bench = run(&["bench", "analysis", "--seconds", "0.2"]);
    assert!(bench.contains("peak RSS"), "{bench}");
    // An unknown kind is refused.
    let out = std::process::Command::new(crate::cli::BIN).args(["eval", "mood"]).output().unwrap();
    assert!(!out.status.success());
}

/// A chat-completions stand-in: answers `replies` in turn (or fails with
/// 500 once they run out) and keeps every request body.
async fn model_stand_in(replies: Vec<Value>) -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    let seen: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
    let replies = Arc::new(std::sync::Mutex::new(replies.into_iter()));
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post({
            let seen = seen.clone();
            move |body: axum::Json<Value>| {
                let (seen, replies) = (seen.clone(), replies.clone());
                async move {
                    seen.lock().unwrap().push(body.0);
                    match replies.lock().unwrap().next() {
                        Some(r) => (axum::http::StatusCode::OK, axum::Json(r)),
                        None => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({}))),
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

/// With a model configured the summary is the model's and says so; the
/// exact request is checked; when the model fails the built-in summary stays.
#[tokio::test]
async fn a_configured_model_writes_the_summary_with_fallback() {
    let reply = json!({"choices": [{"message": {"role": "assistant", "content": " John was double charged; a refund is due today and he pays 50 dollars on Friday. "}}]});
    let (url, seen) = model_stand_in(vec![reply]).await;
    let settings = switchboard_server::llm::LlmSettings {
        url,
        model: "demo-model".into(),
        key: None,
        timeout_ms: 2_000,
    };
    let t = TestServer::start_with(|_| {}).await;
    let id = completed_call(&t.a, Some(TRANSCRIPT), None).await;
    let w = AnalysisWorker::with_llm(t.store.clone(), t.state.intent_models.clone(), Some(settings));
    assert_eq!(w.run_once().await.unwrap().analysed, 1);
    let a = t.a.get(&format!("/v1/calls/{id}/analysis")).await.body;
    assert_eq!(a["summary"]["engine"], "llm:demo-model", "{a}");
    assert_eq!(
        a["summary"]["text"],
        "John was double charged; a refund is due today and he pays 50 dollars on Friday."
    );
    // The extractive sentences stay as the summary's evidence.
    assert!(a["summary"]["sentences"].as_array().is_some_and(|s| !s.is_empty()), "{a}");
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req["model"], "demo-model");
    assert_eq!(req["messages"][0]["role"], "system");
    assert_eq!(req["messages"][0]["content"], switchboard_server::llm::SUMMARY_INSTRUCTIONS);
    assert_eq!(req["messages"][1]["role"], "user");
    assert!(
        req["messages"][1]["content"]
            .as_str()
            .unwrap()
            .starts_with("Agent: Hello, this is Maya"),
        "{req}"
    );
    assert!(req.get("tools").is_none());

    // The stand-in now fails: the re-run keeps the built-in summary.
    let second = completed_call(&t.a, Some(TRANSCRIPT), None).await;
    assert_eq!(w.run_once().await.unwrap().analysed, 1);
    let b = t.a.get(&format!("/v1/calls/{second}/analysis")).await.body;
    assert_eq!(b["status"], "completed");
    assert_eq!(b["summary"]["engine"], "builtin", "{b}");
    assert!(b["summary"]["text"].as_str().is_some_and(|s| s.contains("Acme Energy")), "{b}");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

/// An organisation's own topics (`/v1/org/intelligence` `topics`) are found
/// in what is analysed, with evidence, beside the automatic ones; bad topic
/// sets are refused by field and change nothing.
#[tokio::test]
async fn org_topics_are_found_with_their_evidence() {
    let t = TestServer::start().await;
    let put = |body: serde_json::Value| t.a.send(reqwest::Method::PUT, "/v1/org/intelligence", Some(body), &[]);
    let text = "Agent: Thanks for calling.\nCustomer: My solar panels stopped feeding the inverter since Monday and the battery is flat.";
    // Before: no organisation topic.
    let before = t.a.post("/v1/analysis", json!({"text": text, "types": ["topics"]})).await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert!(
        !before.body["topics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "Solar install"),
        "{}",
        before.body
    );
    for (body, field) in [
        (json!({"topics": [{"name": "", "keywords": ["a"]}]}), "topics[0].name"),
        (json!({"topics": [{"name": "x", "keywords": []}]}), "topics[0].keywords"),
        (
            json!({"topics": [{"name": "x", "keywords": ["a"]}, {"name": "X", "keywords": ["b"]}]}),
            "topics[1].name",
        ),
        (json!({"topics": [{"name": "x", "keywords": ["  "]}]}), "topics[0].keywords[0]"),
    ] {
        put(body).await.assert_field_error(field);
    }
    assert_eq!(t.a.get("/v1/org/intelligence").await.body["topics"], json!([]));
    let r = put(json!({"topics": [{"name": "Solar install", "keywords": ["solar panels", "inverter"]}]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["topics"][0]["keywords"], json!(["solar panels", "inverter"]));
    let after = t.a.post("/v1/analysis", json!({"text": text, "types": ["topics"]})).await;
    assert_eq!(after.status, 200, "{}", after.body);
    let topic = after.body["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "Solar install")
        .unwrap_or_else(|| panic!("org topic missing: {}", after.body))
        .clone();
    assert_eq!(topic["source"], "org", "{topic}");
    assert_eq!(topic["mentions"], 2, "{topic}");
    // Another organisation does not see A's topics.
    let other = t.b.post("/v1/analysis", json!({"text": text, "types": ["topics"]})).await;
    assert!(
        !other.body["topics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "Solar install"),
        "{}",
        other.body
    );
}
