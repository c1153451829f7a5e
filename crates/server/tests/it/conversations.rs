//! The conversation runtime end to end on the simulator: calls asked for
//! through `POST /v1/calls` are dialled through the compliance rules, and a
//! branching script runs on each answered call with a pinned persona —
//! the exact path, the transcript, the collected answers and the outcome,
//! on SQLite and (when configured) PostgreSQL. Also: scheduled calls,
//! calling windows, the do-not-call list, two nodes dialling one call, and
//! an `agent` step taking turns with a stand-in language model.

use std::sync::{Arc, Mutex};

use chrono::Duration;
use serde_json::{Value, json};
use switchboard_domain::{CallId, CallStatus, Timestamp};
use switchboard_server::config::Secret;
use switchboard_telephony::ManualClock;
use switchboard_telephony::simulator::SimSettings;

use crate::support::{Client, TestServer};

/// Wednesday 2025-05-21 15:00 UTC: 11:00 in New York.
fn midday() -> Timestamp {
    "2025-05-21T15:00:00Z".parse().unwrap()
}

/// Every call is answered by a person (the persona decides the rest).
fn answering() -> SimSettings {
    SimSettings {
        failed_rate: 0.0,
        busy_rate: 0.0,
        answer_rate: 1.0,
        voicemail_rate: 0.0,
        answer_by_hour: false,
        ..Default::default()
    }
}

const RENEWAL: &str = r#"{"name": "Renewal", "variables": ["firstName"], "steps": [
 {"id": "hello", "type": "greeting", "content": "Hi {firstName}, this is Acme about your plan renewal."},
 {"id": "ask", "type": "question", "content": "Would you like to renew today? Press 1 for yes or 2 for no.", "saveAs": "renew",
  "maxRetries": 1, "noInputPrompt": "Sorry, I did not hear you. Would you like to renew?",
  "branches": [
    {"digits": "1", "goto": "yes"}, {"intent": "interested", "goto": "yes"},
    {"digits": "2", "goto": "no"}, {"intent": "not_interested", "goto": "no"},
    {"intent": "callback_request", "goto": "later"},
    {"intent": "transfer_request", "goto": "human"},
    {"intent": "wrong_number", "goto": "wrong"},
    {"intent": "do_not_call", "goto": "dnc"},
    {"noInput": true, "goto": "silent"},
    {"default": true, "goto": "no"}]},
 {"id": "yes", "type": "hangup", "content": "Great, your plan is renewed.", "outcome": "successful"},
 {"id": "no", "type": "hangup", "content": "No problem, goodbye.", "outcome": "refused"},
 {"id": "later", "type": "question", "content": "When should we call you back?", "saveAs": "callbackTime", "next": "later_bye"},
 {"id": "later_bye", "type": "hangup", "content": "We will call you then.", "outcome": "callback"},
 {"id": "human", "type": "transfer", "content": "Connecting you to a colleague.", "to": "+15550001111"},
 {"id": "wrong", "type": "hangup", "content": "Sorry for the trouble.", "outcome": "wrong_number"},
 {"id": "dnc", "type": "hangup", "content": "We will not call again.", "outcome": "do_not_call"},
 {"id": "silent", "type": "hangup", "content": "We will try another time.", "outcome": "no_response"},
 {"id": "vm", "type": "voicemail", "content": "Hi {firstName}, please call Acme back."}
]}"#;

async fn renewal(c: &Client) -> String {
    crate::templates::new_template(c, serde_json::from_str(RENEWAL).unwrap()).await
}

/// Pumps the simulator on a moving clock until every call in `ids` has ended.
async fn run_until_done(t: &TestServer, clock: &ManualClock, ids: &[String]) {
    let sim = t.simulator();
    for _ in 0..400 {
        t.state.dialer.run_once().await.unwrap();
        sim.pump().await.unwrap();
        let mut done = true;
        for id in ids {
            let c = t.store.get_call(&t.a.org.id, &id.parse().unwrap()).await.unwrap();
            done &= c.status.is_terminal();
        }
        if done {
            return;
        }
        clock.advance(Duration::seconds(3));
    }
    panic!("the calls did not end");
}

fn path(call: &switchboard_domain::Call) -> Vec<String> {
    call.timeline
        .iter()
        .filter(|e| e.kind == "script.step")
        .map(|e| e.data.as_ref().unwrap()["step"].as_str().unwrap().to_owned())
        .collect()
}

/// What each persona should get through the renewal script.
struct Expect {
    persona: &'static str,
    path: &'static [&'static str],
    outcome: &'static str,
    status: CallStatus,
    /// The collected keys.
    collected: &'static [&'static str],
}

const EXPECT: &[Expect] = &[
    Expect {
        persona: "interested",
        path: &["hello", "ask", "yes"],
        outcome: "successful",
        status: CallStatus::Completed,
        collected: &["renew"],
    },
    Expect {
        persona: "not_interested",
        path: &["hello", "ask", "no"],
        outcome: "refused",
        status: CallStatus::Completed,
        collected: &["renew"],
    },
    Expect {
        persona: "callback",
        path: &["hello", "ask", "later", "later_bye"],
        outcome: "callback",
        status: CallStatus::Completed,
        collected: &["renew", "callbackTime"],
    },
    Expect {
        persona: "wants_human",
        path: &["hello", "ask", "human"],
        outcome: "transferred",
        status: CallStatus::Completed,
        collected: &["renew"],
    },
    Expect {
        persona: "wrong_number",
        path: &["hello", "ask", "wrong"],
        outcome: "wrong_number",
        status: CallStatus::Completed,
        collected: &["renew"],
    },
    Expect {
        persona: "angry",
        path: &["hello", "ask", "dnc"],
        outcome: "do_not_call",
        status: CallStatus::Completed,
        collected: &["renew"],
    },
    Expect {
        persona: "silent",
        path: &["hello", "ask", "silent"],
        outcome: "no_response",
        status: CallStatus::Completed,
        collected: &[],
    },
    Expect {
        persona: "voicemail",
        path: &["vm"],
        outcome: "voicemail",
        status: CallStatus::Voicemail,
        collected: &[],
    },
];

async fn every_persona_takes_its_branch(t: TestServer, clock: Arc<ManualClock>) {
    let tpl = renewal(&t.a).await;
    let mut ids = Vec::new();
    for (i, e) in EXPECT.iter().enumerate() {
        let r =
            t.a.post(
                "/v1/calls",
                json!({"phone": format!("+1212555{i:04}"), "templateId": tpl, "variables": {"firstName": "Ann"},
                       "callerId": "+15559876543", "simulation": {"persona": e.persona}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["status"], "queued");
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    run_until_done(&t, &clock, &ids).await;
    for (e, id) in EXPECT.iter().zip(&ids) {
        let call = t.store.get_call(&t.a.org.id, &id.parse().unwrap()).await.unwrap();
        assert_eq!(path(&call), e.path, "{}", e.persona);
        assert_eq!(call.outcome.as_deref(), Some(e.outcome), "{}", e.persona);
        assert_eq!(call.status, e.status, "{}", e.persona);
        let collected = call.collected_data.clone().unwrap_or(json!({}));
        let keys: Vec<&str> = collected.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, e.collected, "{}", e.persona);
        // The transcript, in order: the platform's prompts and what the callee said.
        let t_json = t.a.get(&format!("/v1/calls/{id}/transcript")).await;
        assert_eq!(t_json.status, 200);
        let segs = t_json.body["segments"].as_array().unwrap();
        let said: Vec<(&str, &str)> = segs
            .iter()
            .map(|s| (s["speaker"].as_str().unwrap(), s["text"].as_str().unwrap()))
            .collect();
        assert!(
            segs.windows(2)
                .all(|w| w[0]["startMs"].as_i64().unwrap() <= w[1]["startMs"].as_i64().unwrap()),
            "{said:?}"
        );
        if e.persona == "voicemail" {
            assert_eq!(said, vec![("agent", "Hi Ann, please call Acme back.")]);
            continue;
        }
        assert_eq!(said[0], ("agent", "Hi Ann, this is Acme about your plan renewal."), "{}", e.persona);
        assert_eq!(said[1], ("agent", "Would you like to renew today? Press 1 for yes or 2 for no."));
        if e.persona == "silent" {
            assert_eq!(
                said[2..].to_vec(),
                vec![
                    ("agent", "Sorry, I did not hear you. Would you like to renew?"),
                    ("agent", "We will try another time.")
                ]
            );
            continue;
        }
        // The answer heard is what was collected.
        assert_eq!(said[2].0, "customer", "{}", e.persona);
        assert_eq!(collected["renew"], said[2].1, "{}", e.persona);
        let conf = segs[2]["confidence"].as_f64().unwrap();
        assert!((0.8..=1.0).contains(&conf), "{conf}");
        // The call's `transcript` is the transcript's URL, as the SaaS spec shows.
        let view = t.a.get(&format!("/v1/calls/{id}")).await;
        assert_eq!(view.body["transcript"], format!("/v1/calls/{id}/transcript"));
        assert_eq!(view.body["outcome"], e.outcome);
    }
    // Every segment is an outbox event, and the text form reads as a dialogue.
    let events = t.store.org_events_after(&t.a.org.id, 0, 100_000).await.unwrap();
    let total_segments: usize = {
        let mut n = 0;
        for id in &ids {
            n += t.store.transcript(&t.a.org.id, &id.parse().unwrap()).await.unwrap().len();
        }
        n
    };
    assert_eq!(
        events.iter().filter(|e| e.event_type == "transcript.updated").count(),
        total_segments
    );
    let txt = t.a.get(&format!("/v1/calls/{}/transcript?format=txt", ids[0])).await;
    assert!(
        txt.body.as_str().unwrap().starts_with("Agent: Hi Ann, this is Acme"),
        "{}",
        txt.body
    );
    assert!(txt.body.as_str().unwrap().contains("\nCustomer: "), "{}", txt.body);
    // Each call was placed exactly once.
    let placed = t.simulator().placements();
    assert_eq!(placed.len(), ids.len());
}

#[tokio::test]
async fn a_branching_script_runs_for_every_persona() {
    let clock = ManualClock::new(midday());
    let t = TestServer::start_simulated(clock.clone(), answering(), |_| {}).await;
    every_persona_takes_its_branch(t, clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_branching_script_runs_for_every_persona_on_postgres() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the PostgreSQL conversation test");
        return;
    };
    let schema = format!("it_conv_{}", std::process::id());
    switchboard_store::postgres::PgStore::connect_fresh_schema(&url, &schema)
        .await
        .unwrap();
    let base = format!(
        "{url}{}options=-c%20search_path%3D{schema}",
        if url.contains('?') { "&" } else { "?" }
    );
    let clock = ManualClock::new(midday());
    let t = TestServer::start_simulated(clock.clone(), answering(), move |c| c.database_url = Some(Secret::new(base))).await;
    every_persona_takes_its_branch(t, clock).await;
    let _ = switchboard_store::postgres::PgStore::drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn single_calls_go_through_the_compliance_rules() {
    // 00:30 in New York: outside the calling window.
    let night: Timestamp = "2025-05-21T04:30:00Z".parse().unwrap();
    let clock = ManualClock::new(night);
    let t = TestServer::start_simulated(clock.clone(), answering(), |_| {}).await;
    let sim = t.simulator();
    // The SaaS spec's own example body: a call to place.
    let contact = t.a.new_contact(json!({"name": "Ann Lee", "phone": "+12125550101"})).await;
    let asked =
        t.a.post(
            "/v1/calls",
            json!({"phone": "+12125550101", "contactId": contact, "callerId": "+15559876543"}),
        )
        .await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    assert_eq!(asked.body["status"], "queued");
    // It waits for 08:00 New York and says so.
    assert_eq!(asked.body["nextAttemptAt"], "2025-05-21T12:00:00Z");
    let late_id = asked.body["id"].as_str().unwrap().to_owned();
    // One asked to dial anyway, overriding the window.
    let now_id = t.a.new_call(json!({"phone": "+12125550102", "overrideQuietHours": true})).await;
    // One to a number on the do-not-call list: never reaches the carrier.
    t.a.post("/v1/dnc", json!({"phone": "+12125550103"})).await;
    let dnc_id = t.a.new_call(json!({"phone": "+12125550103", "overrideQuietHours": true})).await;
    // One scheduled for 13:00 UTC (09:00 New York).
    let sched =
        t.a.post("/v1/calls", json!({"phone": "+12125550104", "scheduled": "2025-05-21T13:00:00Z"}))
            .await;
    assert_eq!(sched.body["status"], "scheduled");
    let sched_id = sched.body["id"].as_str().unwrap().to_owned();
    // One cancelled before the dialer gets it.
    let gone = t.a.new_call(json!({"phone": "+12125550105", "overrideQuietHours": true})).await;
    let r = t.a.post(&format!("/v1/calls/{gone}/cancel"), json!({})).await;
    assert_eq!(r.body["status"], "cancelled");
    // A call logged after the fact is never dialled.
    let logged =
        t.a.new_call(json!({"phone": "+12125550106", "status": "completed", "duration": 30, "initiatedAt": "2025-05-20T10:00:00Z"}))
            .await;
    let inbound = t.a.new_call(json!({"phone": "+12125550107", "direction": "inbound"})).await;

    let pass = t.state.dialer.run_once().await.unwrap();
    // The night call is not due yet: it waits for its window, untouched.
    assert_eq!((pass.dialed, pass.blocked), (1, 1), "{pass:?}");
    let placed: Vec<String> = sim.placements().iter().map(|p| p.call_id.to_string()).collect();
    assert_eq!(placed, vec![now_id.clone()]);
    let dnc = t.a.get(&format!("/v1/calls/{dnc_id}")).await;
    assert_eq!(
        (dnc.body["status"].as_str(), dnc.body["outcome"].as_str()),
        (Some("failed"), Some("dnc"))
    );
    // At 09:00 New York both the waiting and the scheduled call go.
    clock.set("2025-05-21T13:00:00Z".parse().unwrap());
    let pass = t.state.dialer.run_once().await.unwrap();
    assert_eq!(pass.dialed, 2, "{pass:?}");
    let mut placed: Vec<String> = sim.placements().iter().map(|p| p.call_id.to_string()).collect();
    placed.sort();
    let mut want = vec![now_id.clone(), late_id.clone(), sched_id.clone()];
    want.sort();
    assert_eq!(placed, want);
    // Nothing more is ever placed: not the cancelled, logged, inbound or blocked calls.
    for _ in 0..5 {
        clock.advance(Duration::minutes(10));
        sim.pump().await.unwrap();
        t.state.dialer.run_once().await.unwrap();
    }
    assert_eq!(sim.placements().len(), 3);
    for id in [&gone, &logged, &inbound] {
        assert!(t.store.dial_request(&t.a.org.id, &id.parse().unwrap()).await.unwrap().is_none());
    }
    let late = t.a.get(&format!("/v1/calls/{late_id}")).await;
    assert!(late.body["status"].as_str().unwrap() != "queued", "{}", late.body);
    assert!(late.body.get("nextAttemptAt").is_none());
    // Cancelling once the carrier has the call is refused, naming both states.
    t.a.post(&format!("/v1/calls/{late_id}/cancel"), json!({}))
        .await
        .assert_error(409, "illegal_transition");
    // Bad input changes nothing.
    let before = t.snapshot(&t.a.org).await;
    t.a.post("/v1/calls", json!({"phone": "+12125550109", "simulation": {"persona": "chatty"}}))
        .await
        .assert_field_error("simulation.persona");
    t.a.post("/v1/calls", json!({"phone": "+12125550109", "simulation": 7}))
        .await
        .assert_field_error("simulation");
    t.a.post(
        "/v1/calls",
        json!({"phone": "+12125550109", "status": "completed", "simulation": {}}),
    )
    .await
    .assert_field_error("simulation");
    assert_eq!(before, t.snapshot(&t.a.org).await);
}

/// Two nodes with their own stores on one PostgreSQL database run dialer
/// passes at the same time over a scheduled call: it is placed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_place_a_scheduled_call_once() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the two-node single-call test");
        return;
    };
    let schema = format!("it_single_{}", std::process::id());
    switchboard_store::postgres::PgStore::connect_fresh_schema(&url, &schema)
        .await
        .unwrap();
    let base = format!(
        "{url}{}options=-c%20search_path%3D{schema}",
        if url.contains('?') { "&" } else { "?" }
    );
    let clock = ManualClock::new(midday());
    let t = TestServer::start_simulated(clock.clone(), answering(), {
        let base = base.clone();
        move |c| c.database_url = Some(Secret::new(base))
    })
    .await;
    let node_b: switchboard_store::DynStore = Arc::new(switchboard_store::postgres::PgStore::connect(&base).await.unwrap());
    let sim = t.simulator();
    let b = switchboard_server::workers::dialer::Dialer::new(
        node_b,
        sim.clone(),
        clock.clone(),
        switchboard_server::workers::dialer::DialerOptions::default(),
    );
    let mut ids = Vec::new();
    for i in 0..20 {
        let r =
            t.a.post(
                "/v1/calls",
                json!({"phone": format!("+1212555{i:04}"), "scheduled": "2025-05-21T15:10:00Z"}),
            )
            .await;
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    for _ in 0..20 {
        let (pa, pb) = tokio::join!(t.state.dialer.run_once(), b.run_once());
        pa.unwrap();
        pb.unwrap();
        clock.advance(Duration::seconds(40));
    }
    let mut placed: Vec<String> = sim.placements().iter().map(|p| p.call_id.to_string()).collect();
    placed.sort();
    ids.sort();
    assert_eq!(placed, ids, "each scheduled call placed exactly once across two nodes");
    drop(t);
    let _ = switchboard_store::postgres::PgStore::drop_schema(&url, &schema).await;
}

/// A stand-in chat-completions endpoint: records every request and
/// answers the scripted replies in order.
async fn model_stand_in(replies: Vec<Value>) -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let replies = Arc::new(Mutex::new(replies.into_iter()));
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post({
            let seen = seen.clone();
            move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                let seen = seen.clone();
                let replies = replies.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default();
                    seen.lock().unwrap().push((auth, body.0));
                    let next = replies.lock().unwrap().next().unwrap_or(json!({"choices": []}));
                    axum::Json(next)
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

#[tokio::test]
async fn an_agent_step_takes_turns_with_the_language_model() {
    let reply_text = json!({"choices": [{"message": {"role": "assistant", "content": "Which day would suit you for a demo?"}}]});
    let reply_tools = json!({"choices": [{"message": {"role": "assistant", "content": "Booked for Tuesday, thank you!", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "collect", "arguments": "{\"field\": \"demoDay\", \"value\": \"Tuesday\"}"}},
        {"id": "c2", "type": "function", "function": {"name": "hangup", "arguments": "{\"outcome\": \"successful\"}"}}]}}]});
    let (llm, seen) = model_stand_in(vec![reply_text, reply_tools]).await;
    let clock = ManualClock::new(midday());
    let t = TestServer::start_simulated(clock.clone(), answering(), move |c| {
        c.llm = Some(switchboard_server::llm::LlmSettings {
            url: llm,
            model: "demo-model".into(),
            key: Some(Secret::new("sk-test")),
            timeout_ms: 2_000,
        })
    })
    .await;
    let tpl = crate::templates::new_template(
        &t.a,
        json!({"name": "Demo", "variables": ["firstName"], "steps": [
            {"id": "hi", "type": "greeting", "content": "Hi {firstName}, this is Acme."},
            {"id": "ai", "type": "agent", "content": "Book a product demo. Be brief.", "maxTurns": 3, "branches": [{"default": true, "goto": "bye"}]},
            {"id": "bye", "type": "hangup", "content": "Thanks for your time."}
        ]}),
    )
    .await;
    let id =
        t.a.new_call(
            json!({"phone": "+12125550199", "templateId": tpl, "variables": {"firstName": "Ann"},
                         "simulation": {"persona": "interested", "answers": ["Tuesday works for me"]}}),
        )
        .await;
    run_until_done(&t, &clock, std::slice::from_ref(&id)).await;
    let call = t.store.get_call(&t.a.org.id, &id.parse().unwrap()).await.unwrap();
    assert_eq!(call.outcome.as_deref(), Some("successful"));
    assert_eq!(call.collected_data, Some(json!({"demoDay": "Tuesday"})));
    assert_eq!(path(&call), vec!["hi", "ai"]);
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|(auth, _)| auth == "Bearer sk-test"));
    let first = &requests[0].1;
    assert_eq!(first["model"], "demo-model");
    assert_eq!(
        first["messages"],
        json!([
            {"role": "system", "content": "Book a product demo. Be brief.\n\nWhat we know about the call: {\"firstName\":\"Ann\"}"},
            {"role": "assistant", "content": "Hi Ann, this is Acme."}
        ])
    );
    let tools: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, vec!["transfer", "hangup", "collect", "goto"]);
    assert_eq!(
        requests[1].1["messages"].as_array().unwrap()[2..].to_vec(),
        vec![
            json!({"role": "assistant", "content": "Which day would suit you for a demo?"}),
            json!({"role": "user", "content": "Tuesday works for me"})
        ]
    );
    let said: Vec<(String, String)> = t
        .store
        .transcript(&t.a.org.id, &call.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.speaker.as_str().to_owned(), s.text))
        .collect();
    assert_eq!(
        said,
        vec![
            ("agent".into(), "Hi Ann, this is Acme.".into()),
            ("agent".into(), "Which day would suit you for a demo?".into()),
            ("customer".into(), "Tuesday works for me".into()),
            ("agent".into(), "Booked for Tuesday, thank you!".into()),
        ]
    );
}

#[tokio::test]
async fn without_a_model_an_agent_step_falls_back_to_its_default() {
    let clock = ManualClock::new(midday());
    let t = TestServer::start_simulated(clock.clone(), answering(), |_| {}).await;
    let tpl = crate::templates::new_template(
        &t.a,
        json!({"name": "Demo", "steps": [
            {"id": "ai", "type": "agent", "content": "Book a demo.", "branches": [{"default": true, "goto": "bye"}]},
            {"id": "bye", "type": "hangup", "content": "We will email you.", "outcome": "follow_up"}
        ]}),
    )
    .await;
    let id =
        t.a.new_call(json!({"phone": "+12125550198", "templateId": tpl, "simulation": {"persona": "interested"}}))
            .await;
    run_until_done(&t, &clock, std::slice::from_ref(&id)).await;
    let call = t.store.get_call(&t.a.org.id, &id.parse::<CallId>().unwrap()).await.unwrap();
    assert_eq!(path(&call), vec!["ai", "bye"]);
    assert_eq!(call.outcome.as_deref(), Some("follow_up"));
    let answer = call.timeline.iter().find(|e| e.kind == "script.answer").unwrap();
    assert!(
        answer.data.as_ref().unwrap()["answer"]
            .as_str()
            .unwrap()
            .contains("no language model"),
        "{:?}",
        answer.data
    );
}

#[tokio::test]
async fn a_transfer_target_that_cannot_take_the_call_ends_it_clearly() {
    let clock = ManualClock::new(midday());
    let t = TestServer::start_simulated(clock.clone(), answering(), |_| {}).await;
    let tpl = crate::templates::new_template(
        &t.a,
        json!({"name": "Hand over", "steps": [
            {"id": "hi", "type": "greeting", "content": "One moment."},
            {"id": "go", "type": "transfer", "to": "queue_billing"}
        ]}),
    )
    .await;
    let id = t.a.new_call(json!({"phone": "+12125550197", "templateId": tpl})).await;
    run_until_done(&t, &clock, std::slice::from_ref(&id)).await;
    let call = t.store.get_call(&t.a.org.id, &id.parse::<CallId>().unwrap()).await.unwrap();
    assert_eq!(call.status, CallStatus::Completed);
    assert_eq!(call.outcome.as_deref(), Some("transfer_failed"));
    let end = call.timeline.iter().find(|e| e.kind == "script.end").unwrap();
    assert!(
        end.data.as_ref().unwrap()["reason"].as_str().unwrap().contains("queue_billing"),
        "{:?}",
        end.data
    );
}

#[tokio::test]
async fn scripts_the_runtime_could_not_follow_are_refused_naming_the_step() {
    let t = TestServer::start().await;
    let cases = [
        (
            json!([{"id": "a", "type": "question", "content": "Q?", "branches": [{"digits": "1", "goto": "nowhere"}]}]),
            "steps[0].branches[0].goto",
        ),
        (
            json!([{"type": "greeting", "content": "Hi"}, {"type": "hangup"}, {"type": "information", "content": "never said"}]),
            "steps[2]",
        ),
        (
            json!([{"id": "a", "type": "greeting", "content": "Hi", "next": "b"}, {"id": "b", "type": "information", "content": "again", "next": "a"}]),
            "steps[0]",
        ),
        (json!([{"type": "transfer"}]), "steps[0].to"),
        (json!([{"type": "dance", "content": "x"}]), "steps[0].type"),
        (
            json!([{"type": "question", "content": "Q?", "branches": [{"goto": "x"}]}]),
            "steps[0].branches[0]",
        ),
    ];
    for (steps, field) in cases {
        let before = t.snapshot(&t.a.org).await;
        let r = t.a.post("/v1/templates", json!({"name": "Bad", "steps": steps})).await;
        r.assert_field_error(field);
        assert_eq!(before, t.snapshot(&t.a.org).await);
    }
}
