//! The dialer against the simulator on a clock the tests move: a
//! 10,000-contact campaign across time zones runs to completion and every
//! rule is checked against the stored call records; pause, rate cap and
//! several nodes on one PostgreSQL are checked on their own.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{Datelike, Duration, Timelike};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::{Call, CallStatus, OrgId, TimeZone, Timestamp};
use switchboard_server::workers::dialer::{Dialer, DialerOptions};
use switchboard_store::{CallCursor, CallFilter, DynStore};
use switchboard_telephony::simulator::{SimSettings, Simulator};
use switchboard_telephony::{ManualClock, TimeSource};

use crate::campaigns::new_list;
use crate::support::{Client, TestServer};
use crate::templates::new_template;

/// Wednesday 2025-05-21 00:00 UTC.
fn start() -> Timestamp {
    "2025-05-21T00:00:00Z".parse().unwrap()
}

const ZONES: [&str; 5] = [
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Sydney",
];

/// A callee: number, own zone (if any), and the zone the rules use.
struct Callee {
    phone: String,
    own: Option<&'static str>,
    zone: &'static str,
}

fn callees(n: usize) -> Vec<Callee> {
    (0..n)
        .map(|i| match i % 8 {
            // Numbers without a zone: the zone comes from the number's region.
            5 => Callee {
                phone: format!("+91987{i:07}"),
                own: None,
                zone: "Asia/Kolkata",
            },
            6 => Callee {
                phone: format!("+4420794{i:05}"),
                own: None,
                zone: "Europe/London",
            },
            7 => Callee {
                phone: format!("+1212555{i:04}"),
                own: None,
                zone: "America/New_York",
            },
            k => Callee {
                phone: format!("+1555{i:07}"),
                own: Some(ZONES[k]),
                zone: ZONES[k],
            },
        })
        .collect()
}

async fn import(c: &Client, list: &str, people: &[Callee]) {
    let mut csv = String::from("phone,name,timeZone\n");
    for (i, p) in people.iter().enumerate() {
        csv.push_str(&format!("{},Person {i},{}\n", p.phone, p.own.unwrap_or("")));
    }
    let r = c
        .raw(
            Method::POST,
            &format!("/v1/contact-lists/{list}/import"),
            csv.into_bytes(),
            "text/csv",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["imported"], people.len() as u64, "{}", r.body);
}

async fn campaign(c: &Client, list: &str, extra: Value) -> String {
    let tpl = new_template(
        c,
        json!({"name": "Reminder", "steps": [{"type": "greeting", "content": "Hi {firstName}, {companyName} here."}, {"type": "question", "content": "Press 1 to confirm."}], "variables": ["firstName", "companyName"]}),
    )
    .await;
    let mut body = json!({
        "name": "Across zones",
        "templateId": tpl,
        "contactListIds": [list],
        "variables": {"companyName": "Acme"},
        "schedule": {"timeZone": "UTC", "callHours": {"start": "09:00", "end": "17:00"}, "daysOfWeek": [1, 2, 3, 4, 5]},
        "callSettings": {"maxConcurrentCalls": 200, "callerId": "+15559876543",
            "retrySettings": {"maxAttempts": 3, "retryInterval": 30, "retryOn": ["busy", "no-answer"]}}
    });
    merge(&mut body, extra);
    let r = c.post("/v1/campaigns", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let s = c.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "active"})).await;
    assert_eq!(s.status, 200, "{}", s.body);
    id
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Every call of a campaign, with its timeline for a sample.
async fn campaign_calls(store: &DynStore, org: &OrgId, campaign: &str) -> Vec<Call> {
    let filter = CallFilter {
        campaign_id: Some(campaign.to_owned()),
        ..Default::default()
    };
    let mut out: Vec<Call> = Vec::new();
    let mut after = None;
    loop {
        let page = store.calls_after(org, &filter, after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(CallCursor {
            occurred_at: last.occurred_at(),
            id: last.id.clone(),
        });
        out.extend(page);
    }
    out
}

struct Rig {
    clock: Arc<ManualClock>,
    sim: Arc<Simulator>,
    dialer: Dialer,
}

fn rig(store: &DynStore, cps: u32, seed: u64) -> Rig {
    let clock = ManualClock::new(start());
    let sim = Simulator::new(
        SimSettings {
            seed,
            ..Default::default()
        },
        store.clone(),
        clock.clone() as Arc<dyn TimeSource>,
    );
    let dialer = Dialer::new(
        store.clone(),
        sim.clone(),
        clock.clone(),
        DialerOptions {
            calls_per_second: cps,
            batch: 500,
            stale_queued_secs: 120,
        },
    );
    Rig { clock, sim, dialer }
}

fn attempt(c: &Call) -> u64 {
    c.metadata
        .as_ref()
        .and_then(|m| m["attempt"].as_u64())
        .expect("campaign calls carry their attempt")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_contacts_across_zones_follow_every_rule() {
    const N: usize = 10_000;
    const MAX: usize = 200;
    const CPS: usize = 100;
    let t = TestServer::start_with(|c| {
        c.durability = switchboard_server::config::Durability::Normal;
        c.body_limit = 1 << 20;
    })
    .await;
    let people = callees(N);
    let list = new_list(&t.a, "Everyone").await;
    import(&t.a, &list, &people).await;
    // Some numbers are on the do-not-call list, one added after the campaign starts.
    let dnc: Vec<String> = people.iter().step_by(97).map(|p| p.phone.clone()).collect();
    t.a.post("/v1/dnc/bulk", json!({"phones": dnc[1..]})).await;
    let id = campaign(&t.a, &list, json!({})).await;
    t.a.post("/v1/dnc", json!({"phone": dnc[0]})).await;

    let rig = rig(&t.store, CPS as u32, 7);
    let mut passes = 0;
    loop {
        rig.sim.pump().await.unwrap();
        let pass = rig.dialer.run_once().await.unwrap();
        if !pass.completed.is_empty() {
            break;
        }
        passes += 1;
        assert!(passes < 20_000, "the campaign did not finish");
        // Quiet while no call is live and nothing was started: jump ahead.
        let step = if pass.dialed == 0 && rig.sim.live_calls() == 0 { 300 } else { 15 };
        rig.clock.advance(Duration::seconds(step));
    }
    let finished = rig.clock.now();
    assert!(finished - start() < Duration::days(3), "took until {finished}");

    let calls = campaign_calls(&t.store, &t.a.org.id, &id).await;
    let zone_of: HashMap<&str, &str> = people.iter().map(|p| (p.phone.as_str(), p.zone)).collect();
    let dnc: HashSet<&str> = dnc.iter().map(String::as_str).collect();
    assert!(calls.len() >= N - dnc.len(), "{} calls", calls.len());

    // Every call is final and was dialled inside its callee's window.
    for c in &calls {
        assert!(c.status.is_terminal(), "{} is {}", c.id, c.status);
        let to = c.to.as_deref().unwrap();
        assert!(!dnc.contains(to), "dialled {to}, which is on the do-not-call list");
        let zone = TimeZone::parse("tz", zone_of[to]).unwrap();
        let dialled = c.initiated_at.expect("dialled calls have initiatedAt");
        let local = dialled.with_timezone(&zone.0);
        let minute = local.hour() * 60 + local.minute();
        assert!((9 * 60..17 * 60).contains(&minute), "{to} dialled at {local}");
        assert!((8 * 60..21 * 60).contains(&minute));
        assert!(local.weekday().number_from_monday() <= 5, "{to} dialled on {local}");
        assert_eq!(c.from.as_deref(), Some("+15559876543"));
        assert!(c.external_id.as_deref().unwrap().starts_with("SIM"));
    }

    // Never more than MAX live calls, never more than CPS new calls in a second.
    let mut edges: Vec<(Timestamp, i32)> = Vec::new();
    let mut per_second: BTreeMap<i64, usize> = BTreeMap::new();
    for c in &calls {
        edges.push((c.initiated_at.unwrap(), 1));
        edges.push((c.ended_at.unwrap(), -1));
        *per_second.entry(c.initiated_at.unwrap().timestamp()).or_default() += 1;
    }
    edges.sort();
    let (mut live, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        live += d;
        peak = peak.max(live);
    }
    assert!(peak as usize <= MAX, "{peak} calls live at once");
    assert!(peak as usize > MAX / 2, "lines were used ({peak})");
    assert!(per_second.values().all(|n| *n <= CPS), "rate cap broken");

    // Retries exactly per the settings; answered contacts never again.
    let mut by_contact: HashMap<String, Vec<&Call>> = HashMap::new();
    for c in &calls {
        by_contact.entry(c.contact_id.as_ref().unwrap().to_string()).or_default().push(c);
    }
    assert_eq!(by_contact.len() + dnc.len(), N, "every contact not on the DNC list was called");
    let retry_on = [CallStatus::Busy, CallStatus::NoAnswer];
    let mut retried = 0;
    for (contact, mut cs) in by_contact {
        cs.sort_by_key(|c| attempt(c));
        let attempts: Vec<u64> = cs.iter().map(|c| attempt(c)).collect();
        assert_eq!(
            attempts,
            (1..=cs.len() as u64).collect::<Vec<_>>(),
            "{contact}: attempts {attempts:?}"
        );
        assert!(cs.len() <= 3);
        for w in cs.windows(2) {
            assert!(retry_on.contains(&w[0].status), "{contact}: retried after {}", w[0].status);
            assert!(w[1].initiated_at.unwrap() >= w[0].ended_at.unwrap() + Duration::minutes(30));
            retried += 1;
        }
        let last = cs.last().unwrap();
        if retry_on.contains(&last.status) {
            assert_eq!(cs.len(), 3, "{contact}: stopped after {} attempts ending {}", cs.len(), last.status);
        }
    }
    assert!(retried > 100, "retries happened ({retried})");

    // Status sequences are a carrier's, and the campaign reports itself done.
    for c in calls.iter().step_by(200) {
        let full = t.store.get_call(&t.a.org.id, &c.id).await.unwrap();
        let seq: Vec<&str> = full.timeline.iter().filter_map(|e| e.kind.strip_prefix("status.")).collect();
        let ok = matches!(
            seq.as_slice(),
            ["queued", "initiated", "failed"]
                | ["queued", "initiated", "busy"]
                | ["queued", "initiated", "ringing", "no_answer"]
                | ["queued", "initiated", "ringing", "in_progress", "completed"]
                | ["queued", "initiated", "ringing", "in_progress", "voicemail"]
        );
        assert!(ok, "{seq:?}");
    }
    let got = t.a.get(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(got.body["status"], "completed");
    assert_eq!(got.body["progress"], 100.0);
    assert_eq!(got.body["totalContacts"], N as u64);
    assert_eq!(got.body["completedCalls"], calls.len() as u64);
    let successful = calls.iter().filter(|c| c.status == CallStatus::Completed).count();
    assert_eq!(got.body["successfulCalls"], successful as u64);
    // Campaign calls are ordinary calls.
    let listed = t.a.get(&format!("/v1/calls?campaignId={id}&limit=1")).await;
    assert_eq!(listed.body["pagination"]["total"], calls.len() as u64);
    let kinds: Vec<String> = t
        .store
        .org_events_after(&t.a.org.id, 0, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    for k in [
        "campaign.started",
        "campaign.completed",
        "lead.imported",
        "call.answered",
        "call.completed",
        "call.failed",
    ] {
        assert!(kinds.iter().any(|e| e == k), "no {k} event");
    }
}

#[tokio::test]
async fn pause_stops_dialing_and_resume_continues() {
    let t = TestServer::start().await;
    let people = callees(30);
    let list = new_list(&t.a, "Few").await;
    import(&t.a, &list, &people[..30]).await;
    let id = campaign(
        &t.a,
        &list,
        json!({"schedule": {"callHours": {"start": "00:00", "end": "24:00"}, "overrideQuietHours": true, "daysOfWeek": [1,2,3,4,5,6,7]},
               "callSettings": {"maxConcurrentCalls": 5}}),
    )
    .await;
    let rig = rig(&t.store, 100, 1);
    assert_eq!(rig.dialer.run_once().await.unwrap().dialed, 5);
    t.a.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "paused"})).await;
    for _ in 0..20 {
        rig.clock.advance(Duration::seconds(60));
        rig.sim.pump().await.unwrap();
        assert_eq!(rig.dialer.run_once().await.unwrap().dialed, 0, "a paused campaign dials nothing");
    }
    let calls = campaign_calls(&t.store, &t.a.org.id, &id).await;
    assert_eq!(calls.len(), 5);
    assert!(calls.iter().all(|c| c.status.is_terminal()), "calls already placed finish");
    t.a.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "resume"})).await;
    assert_eq!(rig.dialer.run_once().await.unwrap().dialed, 5);
    let got = t.a.get(&format!("/v1/campaigns/{id}")).await;
    assert!(got.body["lastRunAt"].is_string());
    assert_eq!(got.body["completedCalls"], 5);
}

#[tokio::test]
async fn lines_and_the_rate_cap_are_exact() {
    let t = TestServer::start().await;
    let people = callees(40);
    let list = new_list(&t.a, "Forty").await;
    import(&t.a, &list, &people).await;
    let all_day = json!({"schedule": {"callHours": {"start": "00:00", "end": "24:00"}, "overrideQuietHours": true, "daysOfWeek": [1,2,3,4,5,6,7]},
        "callSettings": {"maxConcurrentCalls": 7}});
    let id = campaign(&t.a, &list, all_day).await;
    let rig = rig(&t.store, 3, 1);
    // Three per second however often the dialer runs in that second.
    let mut n = 0;
    for _ in 0..5 {
        n += rig.dialer.run_once().await.unwrap().dialed;
    }
    assert_eq!(n, 3);
    rig.clock.advance(Duration::milliseconds(1000));
    n += rig.dialer.run_once().await.unwrap().dialed;
    rig.clock.advance(Duration::milliseconds(1000));
    n += rig.dialer.run_once().await.unwrap().dialed;
    // Seven lines: the third second starts one more, not three.
    assert_eq!(n, 7);
    let calls = campaign_calls(&t.store, &t.a.org.id, &id).await;
    assert_eq!(calls.len(), 7);
    let stats = t.a.get(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(stats.body["completedCalls"], 0);
}

/// Two nodes on one PostgreSQL database, each with its own connection pool
/// and dialer, run passes at the same time: no contact is dialled twice
/// for an attempt and the line cap holds across both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_postgres_share_a_campaign() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the two-node dialer test");
        return;
    };
    let schema = format!("it_dialer_{}", std::process::id());
    let node_a: DynStore = Arc::new(
        switchboard_store::postgres::PgStore::connect_fresh_schema(&url, &schema)
            .await
            .unwrap(),
    );
    let base = format!(
        "{url}{}options=-c%20search_path%3D{schema}",
        if url.contains('?') { "&" } else { "?" }
    );
    let node_b: DynStore = Arc::new(switchboard_store::postgres::PgStore::connect(&base).await.unwrap());
    let t = TestServer::start_with({
        let url = base.clone();
        move |c| c.database_url = Some(switchboard_server::config::Secret::new(url))
    })
    .await;
    let people = callees(300);
    let list = new_list(&t.a, "Shared").await;
    import(&t.a, &list, &people).await;
    let id = campaign(
        &t.a,
        &list,
        json!({"schedule": {"callHours": {"start": "00:00", "end": "24:00"}, "overrideQuietHours": true, "daysOfWeek": [1,2,3,4,5,6,7]},
               "callSettings": {"maxConcurrentCalls": 20, "retrySettings": {"maxAttempts": 2, "retryInterval": 5}}}),
    )
    .await;
    let clock = ManualClock::new(start());
    let sim = Simulator::new(SimSettings::default(), node_a.clone(), clock.clone() as Arc<dyn TimeSource>);
    let opts = DialerOptions {
        calls_per_second: 50,
        batch: 50,
        stale_queued_secs: 120,
    };
    let a = Dialer::new(node_a.clone(), sim.clone(), clock.clone(), opts.clone());
    let b = Dialer::new(node_b.clone(), sim.clone(), clock.clone(), opts);
    let mut done = false;
    let mut busy = 0;
    for _ in 0..5_000 {
        sim.pump().await.unwrap();
        let (pa, pb) = tokio::join!(a.run_once(), b.run_once());
        let (pa, pb) = (pa.unwrap(), pb.unwrap());
        busy += pa.busy + pb.busy;
        if !pa.completed.is_empty() || !pb.completed.is_empty() {
            done = true;
            break;
        }
        clock.advance(Duration::seconds(10));
    }
    assert!(done, "the campaign did not finish");
    let calls = campaign_calls(&node_b, &t.a.org.id, &id).await;
    let mut seen = HashSet::new();
    for c in &calls {
        assert!(
            seen.insert((c.contact_id.clone().unwrap(), attempt(c))),
            "contact dialled twice for one attempt"
        );
        assert!(c.status.is_terminal());
    }
    let contacts: HashSet<_> = calls.iter().map(|c| c.contact_id.clone()).collect();
    assert_eq!(contacts.len(), 300);
    let mut edges: Vec<(Timestamp, i32)> = calls
        .iter()
        .flat_map(|c| [(c.initiated_at.unwrap(), 1), (c.ended_at.unwrap(), -1)])
        .collect();
    edges.sort();
    let mut live = 0;
    for (_, d) in edges {
        live += d;
        assert!(live <= 20, "{live} calls live across two nodes");
    }
    eprintln!(
        "two nodes: {} calls, {busy} passes found the organisation held by the other node",
        calls.len()
    );
    drop(t);
    let _ = switchboard_store::postgres::PgStore::drop_schema(&url, &schema).await;
}

/// Live-call control through `POST /v1/calls/{id}/actions` on the
/// simulator: hang up before answer (a cancel), then say, key presses,
/// hold, mute and transfer on an answered call, each on the timeline; bad
/// actions are refused naming the field; a finished call answers 409.
#[tokio::test]
async fn live_call_actions_on_the_simulator() {
    use switchboard_telephony::{Carrier, CarrierError};
    let clock = ManualClock::new(start() + Duration::hours(14));
    let t = TestServer::start_simulated(
        clock.clone(),
        SimSettings {
            failed_rate: 0.0,
            busy_rate: 0.0,
            answer_rate: 1.0,
            voicemail_rate: 0.0,
            answer_by_hour: false,
            ..Default::default()
        },
        |_| {},
    )
    .await;
    let sim = t.simulator();
    let a = t.a.new_call(json!({"phone": "+15551230001"})).await;
    let b = t.a.new_call(json!({"phone": "+15551230002"})).await;
    assert_eq!(t.state.dialer.run_once().await.unwrap().dialed, 2);
    clock.advance(Duration::seconds(2));
    sim.pump().await.unwrap();
    // Ringing: the carrier has it, so cancel no longer applies; hang up does.
    t.a.post(&format!("/v1/calls/{a}/cancel"), json!({}))
        .await
        .assert_error(409, "illegal_transition");
    let r =
        t.a.post(&format!("/v1/calls/{a}/actions"), json!({"action": "say", "text": "hi"}))
            .await;
    r.assert_error(409, "conflict");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("ringing"), "{}", r.body);
    let r = t.a.post(&format!("/v1/calls/{a}/actions"), json!({"action": "hangup"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The other is answered (within 21 s), then controlled.
    clock.advance(Duration::seconds(25));
    sim.pump().await.unwrap();
    let answered = t.store.get_call(&t.a.org.id, &b.parse().unwrap()).await.unwrap();
    assert_eq!(answered.status, CallStatus::InProgress);
    for bad in [
        (json!({"action": "dance"}), "action"),
        (json!({}), "action"),
        (json!({"action": "dtmf", "digits": "12x"}), "digits"),
        (json!({"action": "say", "text": "x".repeat(4001)}), "text"),
        (json!({"action": "transfer"}), "to"),
        (json!({"action": "transfer", "to": "+15550001111", "mode": "lukewarm"}), "mode"),
        (json!({"action": "gather", "timeoutSecs": 0}), "timeoutSecs"),
        (json!({"action": "play", "url": "not a url"}), "url"),
    ] {
        let before = t.snapshot(&t.a.org).await;
        t.a.post(&format!("/v1/calls/{b}/actions"), bad.0).await.assert_field_error(bad.1);
        assert_eq!(before, t.snapshot(&t.a.org).await);
    }
    let listed = t.a.post(&format!("/v1/calls/{b}/actions"), json!({"action": "dance"})).await;
    assert!(
        listed.body["error"]["message"].as_str().unwrap().contains("hangup, hold, unhold"),
        "{}",
        listed.body
    );
    for body in [
        json!({"action": "say", "text": "Please hold"}),
        json!({"action": "dtmf", "digits": "12w#"}),
        json!({"action": "hold"}),
        json!({"action": "unhold"}),
        json!({"action": "mute"}),
        json!({"action": "unmute"}),
        json!({"action": "gather", "input": "dtmf", "numDigits": 2}),
        json!({"action": "transfer", "to": "+15550001111", "mode": "warm", "note": "Wants a refund"}),
    ] {
        let r = t.a.post(&format!("/v1/calls/{b}/actions"), body.clone()).await;
        assert_eq!(r.status, 200, "{body} {}", r.body);
        assert_eq!(r.body["action"], body["action"]);
    }
    let r = t.a.post(&format!("/v1/calls/{b}/actions"), json!({"action": "hangup"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    sim.pump().await.unwrap();
    let ca = t.store.get_call(&t.a.org.id, &a.parse().unwrap()).await.unwrap();
    assert_eq!(ca.status, CallStatus::Canceled);
    let cb = t.store.get_call(&t.a.org.id, &b.parse().unwrap()).await.unwrap();
    assert_eq!(cb.status, CallStatus::Completed);
    let kinds: Vec<&str> = cb.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "status.queued",
            "status.initiated",
            "status.ringing",
            "status.in_progress",
            "action.say",
            "action.dtmf",
            "action.hold",
            "action.unhold",
            "action.mute",
            "action.unmute",
            "action.gather",
            "action.transfer",
            "action.hangup",
            "status.completed"
        ]
    );
    let transfer = cb.timeline.iter().find(|e| e.kind == "action.transfer").unwrap();
    assert_eq!(
        transfer.data,
        Some(json!({"to": "+15550001111", "mode": "warm", "note": "Wants a refund"}))
    );
    // Every action is an outbox event too.
    let events = t.store.org_events_after(&t.a.org.id, 0, 1000).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "call.event" && e.data["callId"] == b.as_str())
            .count(),
        9
    );
    // A finished call: 409 naming its status; nothing more arrives.
    let r = t.a.post(&format!("/v1/calls/{b}/actions"), json!({"action": "mute"})).await;
    r.assert_error(409, "conflict");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("completed"), "{}", r.body);
    clock.advance(Duration::hours(1));
    sim.pump().await.unwrap();
    assert_eq!(sim.live_calls(), 0);
    let r = switchboard_telephony::CallRef {
        org_id: t.a.org.id.clone(),
        call_id: b.parse().unwrap(),
        external_id: None,
    };
    assert!(matches!(sim.hang_up(&r).await, Err(CarrierError::UnknownCall(_))));
    // Another organisation's call is not found.
    t.b.post(&format!("/v1/calls/{b}/actions"), json!({"action": "hangup"}))
        .await
        .assert_error(404, "not_found");
}
