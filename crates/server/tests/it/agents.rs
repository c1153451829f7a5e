//! Agents over HTTP: profiles of users with the `agent` role, checked
//! status changes (an agent sets their own; another's needs
//! `agents.manage`), list filters, bad input naming the field, and the
//! `agent.status_changed` events on the outbox.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::UserId;
use switchboard_domain::agents::AgentStatus;

use crate::support::{Client, TestServer};

const PASSWORD: &str = "Correct-horse-9";

/// Creates a user with `role` (as `c`) and logs in; answers the user's id
/// and a client using the user's access token.
async fn user(c: &Client, email: &str, role: &str) -> (String, Client) {
    let r = c
        .post(
            "/v1/users",
            json!({"email": email, "name": "Agent Person", "password": PASSWORD, "role": role}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let login = c.post("/v1/auth/login", json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(login.status, 200, "{}", login.body);
    (id, c.with_key(login.body["token"].as_str().unwrap()))
}

/// Creates a department named `name`; answers its id.
async fn department(c: &Client, name: &str) -> String {
    let r = c.post("/v1/departments", json!({"name": name})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn put_status(c: &Client, id: &str, body: Value) -> crate::support::Resp {
    c.send(Method::PUT, &format!("/v1/agents/{id}/status"), Some(body), &[]).await
}

#[tokio::test]
async fn agent_profiles_are_patched_and_checked() {
    let t = TestServer::start().await;
    let (ana, _) = user(&t.a, "ana@agents.example", "agent").await;
    let (boss, _) = user(&t.a, "boss@agents.example", "manager").await;
    let support = department(&t.a, "Support").await;
    let theirs = department(&t.b, "Support").await;

    let r = t.a.get(&format!("/v1/agents/{ana}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "offline");
    assert_eq!(r.body["email"], "ana@agents.example");
    assert_eq!(r.body["maxConcurrentCalls"], 1);
    assert_eq!(r.body["skills"], json!({}));
    // A manager is not an agent; another organisation's agent is not found.
    t.a.get(&format!("/v1/agents/{boss}")).await.assert_error(404, "not_found");
    t.b.get(&format!("/v1/agents/{ana}")).await.assert_error(404, "not_found");
    t.a.get("/v1/agents/usr_nope").await.assert_error(404, "not_found");

    let r =
        t.a.patch(
            &format!("/v1/agents/{ana}"),
            json!({"skills": {"billing": 5, "Spanish": 3}, "languages": ["en", "es"], "department": support, "maxConcurrentCalls": 2}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["skills"], json!({"billing": 5, "spanish": 3}));
    let stored = t.store.get_agent(&t.a.org.id, &ana.parse::<UserId>().unwrap()).await.unwrap();
    assert_eq!(stored.skills["spanish"], 3);
    assert_eq!(stored.languages, vec!["en", "es"]);
    assert_eq!(
        (stored.department.as_deref(), stored.max_concurrent_calls),
        (Some(support.as_str()), 2)
    );

    // Bad input names the field and changes nothing.
    let path = format!("/v1/agents/{ana}");
    for (body, field) in [
        (json!({"skills": {"billing": 6}}), "skills.billing"),
        (json!({"skills": {"billing": 0}}), "skills.billing"),
        (json!({"skills": {"billing": "high"}}), "skills.billing"),
        (json!({"skills": {"two words": 2}}), "skills.two words"),
        (json!({"maxConcurrentCalls": 0}), "maxConcurrentCalls"),
        (json!({"maxConcurrentCalls": 11}), "maxConcurrentCalls"),
        (json!({"languages": ["x"]}), "languages[0]"),
        (json!({"department": ""}), "department"),
        (json!({"department": "support"}), "department"),
        (json!({"department": theirs}), "department"),
        (json!({"department": "dep_0696bc8a1b2c3d4e5f6g7h8j9k"}), "department"),
        (json!({"skils": {}}), "skils"),
    ] {
        t.a.patch(&path, body).await.assert_field_error(field);
    }
    let after = t.store.get_agent(&t.a.org.id, &ana.parse::<UserId>().unwrap()).await.unwrap();
    assert_eq!(after, stored);
    // null clears the department.
    let r = t.a.patch(&path, json!({"department": null})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("department").is_none(), "{}", r.body);
}

#[tokio::test]
async fn agents_move_through_their_states() {
    let t = TestServer::start().await;
    let (ana, ana_c) = user(&t.a, "ana@states.example", "agent").await;
    let (ben, ben_c) = user(&t.a, "ben@states.example", "agent").await;

    // An agent sets their own status, not another's.
    let r = put_status(&ana_c, &ana, json!({"status": "available"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "available");
    put_status(&ben_c, &ana, json!({"status": "break", "reason": "lunch"}))
        .await
        .assert_error(403, "forbidden");
    // A manager (here the owner's key) sets anyone's.
    let r = put_status(&t.a, &ben, json!({"status": "available"})).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let r = put_status(&ana_c, &ana, json!({"status": "on_call"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // on_call → offline while the call is live: 409 naming the field and both states.
    let r = put_status(&ana_c, &ana, json!({"status": "offline"})).await;
    assert_eq!(r.assert_error(409, "illegal_transition").as_deref(), Some("status"));
    assert_eq!(
        (
            r.body["error"]["details"]["from"].as_str(),
            r.body["error"]["details"]["to"].as_str()
        ),
        (Some("on_call"), Some("offline"))
    );
    put_status(&ana_c, &ana, json!({"status": "lunch"}))
        .await
        .assert_field_error("status");
    put_status(&ana_c, &ana, json!({})).await.assert_field_error("status");
    let r = put_status(&ana_c, &ana, json!({"status": "after_call_work"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    put_status(&ana_c, &ana, json!({"status": "break"}))
        .await
        .assert_field_error("reason");
    put_status(&ana_c, &ana, json!({"status": "available", "reason": "back"}))
        .await
        .assert_field_error("reason");
    let r = put_status(&ana_c, &ana, json!({"status": "break", "reason": "lunch"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["breakReason"], "lunch");
    for s in ["offline", "available", "on_call", "after_call_work", "break", "missed"] {
        assert!(r.body["secondsInStatus"][s].is_i64(), "{s}: {}", r.body);
    }
    let stored = t.store.get_agent(&t.a.org.id, &ana.parse::<UserId>().unwrap()).await.unwrap();
    assert_eq!(stored.status, AgentStatus::Break);

    // Every move is an event, in order; refused ones are not.
    let moves: Vec<String> = t
        .store
        .org_events_after(&t.a.org.id, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "agent.status_changed" && e.data["agentId"] == ana.as_str())
        .map(|e| {
            format!(
                "{}>{}",
                e.data["previousStatus"].as_str().unwrap(),
                e.data["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            "offline>available",
            "available>on_call",
            "on_call>after_call_work",
            "after_call_work>break"
        ]
    );
    // The event type is in the webhook catalogue.
    let types = t.a.get("/v1/webhooks/event-types").await;
    assert_eq!(types.status, 200, "{}", types.body);
    assert!(types.body.to_string().contains("agent.status_changed"), "{}", types.body);
}

#[tokio::test]
async fn agents_are_listed_by_department_status_and_skill() {
    let t = TestServer::start().await;
    let (ana, _) = user(&t.a, "ana@list.example", "agent").await;
    let (ben, _) = user(&t.a, "ben@list.example", "agent").await;
    let (cy, _) = user(&t.a, "cy@list.example", "agent").await;
    user(&t.a, "viewer@list.example", "viewer").await;
    let (support, sales) = (department(&t.a, "Support").await, department(&t.a, "Sales").await);
    let r =
        t.a.patch(
            &format!("/v1/agents/{ana}"),
            json!({"skills": {"billing": 5}, "department": support}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r =
        t.a.patch(
            &format!("/v1/agents/{ben}"),
            json!({"skills": {"billing": 2, "spanish": 4}, "department": sales}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    put_status(&t.a, &ben, json!({"status": "available"})).await;

    let ids = |r: &crate::support::Resp| -> Vec<String> {
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_sales = format!("?department={sales}");
    let cases: [(&str, Vec<&String>); 7] = [
        ("", vec![&ana, &ben, &cy]),
        (by_sales.as_str(), vec![&ben]),
        ("?status=offline", vec![&ana, &cy]),
        ("?status=available", vec![&ben]),
        ("?skill=billing", vec![&ana, &ben]),
        ("?skill=spanish&status=available", vec![&ben]),
        ("?skill=french", vec![]),
    ];
    for (q, want) in cases {
        let r = t.a.get(&format!("/v1/agents{q}")).await;
        assert_eq!(ids(&r), want.into_iter().cloned().collect::<Vec<_>>(), "{q}");
        assert_eq!(r.body["pagination"]["total"], r.body["data"].as_array().unwrap().len(), "{q}");
    }
    t.a.get("/v1/agents?status=asleep").await.assert_field_error("status");
    t.a.get("/v1/agents?skill=no%20way").await.assert_field_error("skill");
    // The other organisation sees none of them.
    assert!(ids(&t.b.get("/v1/agents").await).is_empty());
}

#[tokio::test]
async fn departments_and_queues_with_overflow_checks() {
    let t = TestServer::start().await;
    let support = department(&t.a, "Support").await;
    t.a.post("/v1/departments", json!({"name": "Support"}))
        .await
        .assert_error(409, "conflict");
    t.a.post("/v1/departments", json!({})).await.assert_field_error("name");

    let r =
        t.a.post(
            "/v1/queues",
            json!({
                "name": "Billing", "departmentId": support, "skills": {"billing": 3}, "priority": 80, "maxWaitSeconds": 120,
                "businessHours": {"timeZone": "America/New_York", "days": [1, 2, 3, 4, 5], "open": "09:00", "close": "17:00"},
                "overflow": {"type": "voicemail"}
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let billing = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["businessHours"]["timeZone"], "America/New_York");
    assert_eq!(r.body["overflow"], json!({"type": "voicemail"}));
    assert!(r.body["openNow"].is_boolean());
    let stored = t.store.get_queue(&t.a.org.id, &billing.parse().unwrap()).await.unwrap();
    assert_eq!((stored.priority, stored.max_wait_secs, stored.skills["billing"]), (80, 120, 3));

    // Defaults; a number overflow is checked as a phone number.
    let r =
        t.a.post(
            "/v1/queues",
            json!({"name": "General", "overflow": {"type": "number", "target": "+1 415 555 0100"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let general = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (r.body["priority"].as_u64(), r.body["maxWaitSeconds"].as_u64()),
        (Some(50), Some(300))
    );
    assert_eq!(r.body["overflow"]["target"], "+14155550100");

    // Bad input names the field.
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": "Q", "priority": 0}), "priority"),
        (json!({"name": "Q", "priority": 100}), "priority"),
        (json!({"name": "Q", "maxWaitSeconds": 0}), "maxWaitSeconds"),
        (json!({"name": "Q", "skills": {"billing": 9}}), "skills.billing"),
        (json!({"name": "Q", "departmentId": "sales"}), "departmentId"),
        (
            json!({"name": "Q", "departmentId": "dep_0696bc8a1b2c3d4e5f6g7h8j9k"}),
            "departmentId",
        ),
        (
            json!({"name": "Q", "businessHours": {"timeZone": "Mars/Base", "days": [1], "open": "09:00", "close": "17:00"}}),
            "businessHours.timeZone",
        ),
        (
            json!({"name": "Q", "businessHours": {"timeZone": "UTC", "days": [0], "open": "09:00", "close": "17:00"}}),
            "businessHours.days",
        ),
        (
            json!({"name": "Q", "businessHours": {"timeZone": "UTC", "days": [1], "open": "18:00", "close": "17:00"}}),
            "businessHours.open",
        ),
        (json!({"name": "Q", "overflow": {"type": "elsewhere"}}), "overflow.type"),
        (json!({"name": "Q", "overflow": {"type": "queue"}}), "overflow.target"),
        (
            json!({"name": "Q", "overflow": {"type": "queue", "target": "que_0696bc8a1b2c3d4e5f6g7h8j9k"}}),
            "overflow.target",
        ),
        (
            json!({"name": "Q", "overflow": {"type": "number", "target": "call me"}}),
            "overflow.target",
        ),
        (
            json!({"name": "Q", "overflow": {"type": "voicemail", "target": "+14155550100"}}),
            "overflow.target",
        ),
    ] {
        t.a.post("/v1/queues", body.clone()).await.assert_field_error(field);
    }

    // Overflow loops: into itself, and Billing → General → Billing.
    let r =
        t.a.patch(
            &format!("/v1/queues/{billing}"),
            json!({"overflow": {"type": "queue", "target": billing}}),
        )
        .await;
    r.assert_field_error("overflow.target");
    let r =
        t.a.patch(
            &format!("/v1/queues/{billing}"),
            json!({"overflow": {"type": "queue", "target": general}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r =
        t.a.patch(
            &format!("/v1/queues/{general}"),
            json!({"overflow": {"type": "queue", "target": billing}}),
        )
        .await;
    r.assert_field_error("overflow.target");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("loop"), "{}", r.body);
    let g = t.store.get_queue(&t.a.org.id, &general.parse().unwrap()).await.unwrap();
    assert_eq!(
        g.overflow,
        Some(switchboard_domain::queues::Overflow::Number("+14155550100".into()))
    );

    // Lists: by priority, by department; another organisation sees nothing.
    let r = t.a.get("/v1/queues").await;
    let names: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Billing", "General"]);
    let r = t.a.get(&format!("/v1/queues?departmentId={support}")).await;
    assert_eq!(r.body["pagination"]["total"], 1, "{}", r.body);
    assert_eq!(t.a.get("/v1/queues?departmentId=nope").await.body["pagination"]["total"], 0);
    assert_eq!(t.b.get("/v1/queues").await.body["pagination"]["total"], 0);
    t.b.get(&format!("/v1/queues/{billing}")).await.assert_error(404, "not_found");

    // Deletes refused while something points at the row.
    t.a.delete(&format!("/v1/queues/{general}")).await.assert_error(409, "conflict");
    t.a.delete(&format!("/v1/departments/{support}"))
        .await
        .assert_error(409, "conflict");
    let r =
        t.a.patch(&format!("/v1/queues/{billing}"), json!({"overflow": null, "departmentId": null}))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.get("overflow").is_none() && r.body.get("departmentId").is_none(),
        "{}",
        r.body
    );
    assert_eq!(t.a.delete(&format!("/v1/queues/{general}")).await.status, 204);
    assert_eq!(t.a.delete(&format!("/v1/departments/{support}")).await.status, 204);
    t.a.get(&format!("/v1/departments/{support}")).await.assert_error(404, "not_found");
}

#[tokio::test]
async fn inbound_calls_are_queued_offered_accepted_missed_and_abandoned() {
    inbound_routing(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbound_calls_are_routed_on_postgres() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the PostgreSQL routing test");
        return;
    };
    let schema = format!("it_agents_{}", std::process::id());
    switchboard_store::postgres::PgStore::connect_fresh_schema(&url, &schema)
        .await
        .unwrap();
    let base = format!(
        "{url}{}options=-c%20search_path%3D{schema}",
        if url.contains('?') { "&" } else { "?" }
    );
    let t = TestServer::start_with(move |c| c.database_url = Some(switchboard_server::config::Secret::new(base))).await;
    inbound_routing(t).await;
    let _ = switchboard_store::postgres::PgStore::drop_schema(&url, &schema).await;
}

async fn inbound_routing(t: TestServer) {
    let (ana, ana_c) = user(&t.a, "ana@route.example", "agent").await;
    let (ben, ben_c) = user(&t.a, "ben@route.example", "agent").await;
    let sales = department(&t.a, "Sales").await;
    let r =
        t.a.post("/v1/queues", json!({"name": "Billing", "skills": {"billing": 2}, "priority": 70}))
            .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let billing = r.body["id"].as_str().unwrap().to_owned();
    for (id, level) in [(&ana, 5), (&ben, 3)] {
        let r = t.a.patch(&format!("/v1/agents/{id}"), json!({"skills": {"billing": level}})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(put_status(&t.a, id, json!({"status": "available"})).await.status, 200);
    }

    // Logged inbound calls without a route are as before: no queue.
    let plain =
        t.a.post("/v1/calls", json!({"phone": "+15551234567", "direction": "inbound"}))
            .await;
    assert_eq!(plain.status, 201, "{}", plain.body);
    assert!(plain.body.get("queue").is_none(), "{}", plain.body);
    assert_eq!(plain.body["status"], "queued");
    let plain_id: switchboard_domain::CallId = plain.body["id"].as_str().unwrap().parse().unwrap();
    assert!(t.store.queued_call(&t.a.org.id, &plain_id).await.unwrap().is_none());

    // Bad routes name the field.
    let inbound = |route: Value| json!({"phone": "+15551234567", "direction": "inbound", "route": route});
    for (body, field) in [
        (json!({"phone": "+15551234567", "route": {"queue": billing}}), "route"),
        (inbound(json!({})), "route"),
        (inbound(json!({"queue": billing, "department": sales})), "route"),
        (inbound(json!({"queue": "billing"})), "route.queue"),
        (inbound(json!({"queue": "que_0696bc8a1b2c3d4e5f6g7h8j9k"})), "route.queue"),
        (inbound(json!({"department": sales})), "route.department"),
        (inbound(json!({"skills": {"french": 5}})), "route.skills"),
        (inbound(json!({"skills": {"billing": 9}})), "route.skills.billing"),
    ] {
        t.a.post("/v1/calls", body).await.assert_field_error(field);
    }

    // Queued by skills: the estimated wait comes back.
    let r = t.a.post("/v1/calls", inbound(json!({"skills": {"billing": 3}}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let c1 = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["queue"]["queueId"], billing.as_str());
    assert_eq!(r.body["queue"]["state"], "waiting");
    assert_eq!(
        (r.body["queue"]["waiting"].as_u64(), r.body["queue"]["staffed"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(r.body["queue"]["estimatedWaitSeconds"].is_u64(), "{}", r.body);

    // The router offers it to Ana (higher proficiency); Ben cannot take it.
    let pass = switchboard_server::workers::router::run_once(&t.state).await.unwrap();
    assert_eq!(pass.offered.len(), 1);
    assert_eq!(pass.offered[0].1.to_string(), ana);
    let accept = |c: &Client, agent: &str, call: &str| {
        let (c, agent, call) = (c.clone(), agent.to_owned(), call.to_owned());
        async move { c.post(&format!("/v1/agents/{agent}/accept"), json!({"callId": call})).await }
    };
    accept(&ben_c, &ben, &c1).await.assert_error(409, "conflict");
    accept(&ben_c, &ana, &c1).await.assert_error(403, "forbidden");
    accept(&ana_c, &ana, "nope").await.assert_field_error("callId");
    let r = accept(&ana_c, &ana, &c1).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "on_call");
    let r = t.a.get(&format!("/v1/calls/{c1}")).await;
    assert_eq!(r.body["queue"]["state"], "connected", "{}", r.body);

    // Ana is busy: the next call goes to Ben, who lets the offer run out.
    let r = t.a.post("/v1/calls", inbound(json!({"queue": billing}))).await;
    let c2 = r.body["id"].as_str().unwrap().to_owned();
    let pass = switchboard_server::workers::router::run_once(&t.state).await.unwrap();
    assert_eq!(
        pass.offered.iter().map(|(c, a)| (c.to_string(), a.to_string())).collect::<Vec<_>>(),
        vec![(c2.clone(), ben.clone())]
    );
    t.state.clock.advance(chrono::Duration::seconds(
        i64::from(switchboard_server::workers::router::OFFER_SECS) + 1,
    ));
    let pass = switchboard_server::workers::router::run_once(&t.state).await.unwrap();
    assert_eq!(pass.missed.len(), 1);
    assert!(pass.offered.is_empty(), "nobody else is free: {pass:?}");
    assert_eq!(t.a.get(&format!("/v1/agents/{ben}")).await.body["status"], "missed");
    assert_eq!(t.a.get(&format!("/v1/calls/{c2}")).await.body["queue"]["state"], "waiting");

    // The caller hangs up while waiting: abandoned, counted.
    let r = t.a.post(&format!("/v1/calls/{c2}/events"), json!({"status": "completed"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let pass = switchboard_server::workers::router::run_once(&t.state).await.unwrap();
    assert_eq!(pass.abandoned.iter().map(|c| c.to_string()).collect::<Vec<_>>(), vec![c2.clone()]);
    assert_eq!(t.a.get(&format!("/v1/calls/{c2}")).await.body["queue"]["state"], "abandoned");
    let f = t
        .store
        .queue_figures(&t.a.org.id, &billing.parse().unwrap(), t.state.clock.now())
        .await
        .unwrap();
    assert_eq!((f.abandoned, f.waiting), (1, 0));
}

/// A script's transfer step naming a queue puts the answered call in it;
/// the caller hanging up before an agent takes it is an abandoned call.
#[tokio::test]
async fn a_transfer_step_to_a_queue_puts_the_call_in_it() {
    let midday: switchboard_domain::Timestamp = "2025-05-21T15:00:00Z".parse().unwrap();
    let clock = switchboard_telephony::ManualClock::new(midday);
    let sim = switchboard_telephony::simulator::SimSettings {
        failed_rate: 0.0,
        busy_rate: 0.0,
        answer_rate: 1.0,
        voicemail_rate: 0.0,
        answer_by_hour: false,
        ..Default::default()
    };
    let t = TestServer::start_simulated(clock.clone(), sim, |_| {}).await;
    let r = t.a.post("/v1/queues", json!({"name": "Billing"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let queue = r.body["id"].as_str().unwrap().to_owned();
    let tpl = crate::templates::new_template(
        &t.a,
        json!({"name": "To billing", "steps": [
            {"id": "hi", "type": "greeting", "content": "One moment, a colleague will take your call."},
            {"id": "go", "type": "transfer", "to": queue}
        ]}),
    )
    .await;
    let id = t.a.new_call(json!({"phone": "+12125550197", "templateId": tpl})).await;
    let call_id: switchboard_domain::CallId = id.parse().unwrap();
    let simulator = t.simulator();
    let mut queued = None;
    for _ in 0..400 {
        t.state.dialer.run_once().await.unwrap();
        simulator.pump().await.unwrap();
        let c = t.store.get_call(&t.a.org.id, &call_id).await.unwrap();
        if queued.is_none() {
            queued = t.store.queued_call(&t.a.org.id, &call_id).await.unwrap();
        }
        if c.status.is_terminal() {
            break;
        }
        clock.advance(chrono::Duration::seconds(3));
    }
    let q = queued.expect("the call was put in the queue");
    assert_eq!(q.queue_id.to_string(), queue);
    let call = t.store.get_call(&t.a.org.id, &call_id).await.unwrap();
    assert_eq!(call.outcome.as_deref(), Some("transferred"));
    assert!(call.timeline.iter().any(|e| e.kind == "transfer"), "{:?}", call.timeline);
    // Nobody was staffed: the caller hung up waiting.
    let pass = switchboard_server::workers::router::run_once(&t.state).await.unwrap();
    assert_eq!(pass.abandoned, vec![call_id.clone()]);
    // A transfer to a queue that does not exist still fails clearly.
    let tpl = crate::templates::new_template(
        &t.a,
        json!({"name": "Nowhere", "steps": [{"id": "go", "type": "transfer", "to": "que_0696bc8a1b2c3d4e5f6g7h8j9k"}]}),
    )
    .await;
    let id = t.a.new_call(json!({"phone": "+12125550196", "templateId": tpl})).await;
    let call_id: switchboard_domain::CallId = id.parse().unwrap();
    for _ in 0..400 {
        t.state.dialer.run_once().await.unwrap();
        simulator.pump().await.unwrap();
        if t.store.get_call(&t.a.org.id, &call_id).await.unwrap().status.is_terminal() {
            break;
        }
        clock.advance(chrono::Duration::seconds(3));
    }
    let call = t.store.get_call(&t.a.org.id, &call_id).await.unwrap();
    assert_eq!(call.outcome.as_deref(), Some("transfer_failed"));
}

/// The real-time metrics count agents by status (refreshed by the router).
#[tokio::test]
async fn realtime_metrics_count_agents_by_status() {
    let t = TestServer::start().await;
    let (ana, _) = user(&t.a, "ana@metrics.example", "agent").await;
    let (ben, _) = user(&t.a, "ben@metrics.example", "agent").await;
    let (cy, _) = user(&t.a, "cy@metrics.example", "agent").await;
    for (id, moves) in [
        (&ana, &["available"][..]),
        (&ben, &["available", "on_call"][..]),
        (&cy, &["available", "on_call", "after_call_work"][..]),
    ] {
        for m in moves {
            assert_eq!(put_status(&t.a, id, json!({"status": m})).await.status, 200);
        }
    }
    switchboard_server::workers::router::run_once(&t.state).await.unwrap();
    let r = t.a.get("/v1/metrics/realtime").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["agents"],
        json!({"online": 3, "available": 1, "onCall": 1, "afterCallWork": 1}),
        "{}",
        r.body
    );
    let r = t.b.get("/v1/metrics/realtime").await;
    assert_eq!(r.body["agents"]["online"], 0, "{}", r.body);
    // Logging off is counted at the next pass.
    assert_eq!(put_status(&t.a, &ana, json!({"status": "offline"})).await.status, 200);
    switchboard_server::workers::router::run_once(&t.state).await.unwrap();
    let r = t.a.get("/v1/metrics/realtime").await;
    assert_eq!(
        (r.body["agents"]["online"].as_u64(), r.body["agents"]["available"].as_u64()),
        (Some(2), Some(0))
    );
}
