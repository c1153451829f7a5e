//! Restart safety: the real binary dials a campaign through the simulator
//! at 200× speed, is killed with SIGKILL mid-campaign, restarts on the same
//! data and finishes the campaign; no contact is dialled twice for one
//! attempt and every call ends.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::serve;

async fn get(http: &reqwest::Client, base: &str, key: &str, path: &str) -> Value {
    http.get(format!("{base}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn post(http: &reqwest::Client, base: &str, key: &str, path: &str, body: Value) -> Value {
    let r = http
        .post(format!("{base}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

/// Waits (bounded) until `done` says the server reached a state.
async fn until<F, Fut>(what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_survives_sigkill_and_resumes() {
    const N: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let env = [("SWITCHBOARD_SIM_TIME_SCALE", "200"), ("SWITCHBOARD_DIALER_CPS", "50")];
    let mut first = serve(dir.path(), &env);
    let key = first.bootstrap_key.clone().unwrap();
    let http = reqwest::Client::new();
    let base = first.base.clone();
    let tpl = post(
        &http,
        &base,
        &key,
        "/v1/templates",
        json!({"name": "R", "steps": [{"type": "greeting", "content": "Hi {firstName}"}], "variables": ["firstName"]}),
    )
    .await;
    let list = post(&http, &base, &key, "/v1/contact-lists", json!({"name": "L"})).await;
    let list = list["id"].as_str().unwrap();
    let csv: String = std::iter::once("phone,name\n".to_owned())
        .chain((0..N).map(|i| format!("+1555{i:07},Person {i}\n")))
        .collect();
    let r = http
        .post(format!("{base}/v1/contact-lists/{list}/import"))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c = post(
        &http,
        &base,
        &key,
        "/v1/campaigns",
        json!({"name": "Restart", "templateId": tpl["id"], "contactListIds": [list],
               "schedule": {"callHours": {"start": "00:00", "end": "24:00"}, "overrideQuietHours": true, "daysOfWeek": [1,2,3,4,5,6,7]},
               "callSettings": {"maxConcurrentCalls": 10}}),
    )
    .await;
    let id = c["id"].as_str().unwrap().to_owned();
    post(
        &http,
        &base,
        &key,
        &format!("/v1/campaigns/{id}/status"),
        json!({"status": "active"}),
    )
    .await;
    let calls_path = format!("/v1/calls?campaignId={id}&limit=1");
    until("the first calls", Duration::from_secs(60), || async {
        get(&http, &base, &key, &calls_path).await["pagination"]["total"].as_u64().unwrap() >= 20
    })
    .await;
    // SIGKILL mid-campaign.
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let second = serve(dir.path(), &env);
    let base = second.base.clone();
    let campaign_path = format!("/v1/campaigns/{id}");
    until("the campaign to complete after the restart", Duration::from_secs(180), || async {
        get(&http, &base, &key, &campaign_path).await["status"] == "completed"
    })
    .await;
    let mut calls: Vec<Value> = Vec::new();
    for page in 1.. {
        let p = get(&http, &base, &key, &format!("/v1/calls?campaignId={id}&limit=100&page={page}")).await;
        let data = p["data"].as_array().unwrap().clone();
        if data.is_empty() {
            break;
        }
        calls.extend(data);
    }
    let mut seen = HashSet::new();
    for c in &calls {
        let status = c["status"].as_str().unwrap();
        assert!(
            ["completed", "busy", "no-answer", "failed", "voicemail"].contains(&status),
            "call {} left {status}",
            c["id"]
        );
        let attempt = c["metadata"]["attempt"].as_u64().unwrap();
        assert!(
            seen.insert((c["contactId"].as_str().unwrap().to_owned(), attempt)),
            "a contact was dialled twice for one attempt"
        );
    }
    // One attempt each (the default): every contact exactly once.
    assert_eq!(calls.len(), N);
    // The line cap holds across the restart too (simulated time went on
    // from where the killed process left it).
    let at = |c: &Value, k: &str| chrono::DateTime::parse_from_rfc3339(c[k].as_str().unwrap()).unwrap();
    let mut edges: Vec<_> = calls
        .iter()
        .flat_map(|c| [(at(c, "initiatedAt"), 1), (at(c, "endedAt"), -1)])
        .collect();
    edges.sort();
    let mut live = 0;
    for (_, d) in edges {
        live += d;
        assert!(live <= 10, "{live} calls live at once");
    }
    let got = get(&http, &base, &key, &campaign_path).await;
    assert_eq!(got["progress"], 100.0);
}

/// Single calls asked for through `POST /v1/calls`, with the real binary
/// SIGKILLed while the dialer claims and places them: after the restart
/// every call ends, and the simulator's placement log (appended by each
/// process, so it survives the kill) names no call twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_calls_survive_sigkill_and_are_never_dialled_twice() {
    const N: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("placements.log");
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!("[telephony]\nsim_placement_log = {:?}\n", log.display().to_string()),
    )
    .unwrap();
    let config = config.display().to_string();
    // Real time first, so the rate cap (40 calls a second) spreads the
    // placements over seconds; then fast, so the calls end quickly.
    let slow = [
        ("SWITCHBOARD_SIM_TIME_SCALE", "1"),
        ("SWITCHBOARD_DIALER_CPS", "40"),
        ("SWITCHBOARD_CONFIG", config.as_str()),
    ];
    let fast = [
        ("SWITCHBOARD_SIM_TIME_SCALE", "200"),
        ("SWITCHBOARD_DIALER_CPS", "40"),
        ("SWITCHBOARD_CONFIG", config.as_str()),
    ];
    // The calls are asked for with the dialer off, then placed by a second process.
    let off = [("SWITCHBOARD_DIALER", "off"), ("SWITCHBOARD_CONFIG", config.as_str())];
    let mut asking = serve(dir.path(), &off);
    let key = asking.bootstrap_key.clone().unwrap();
    let http = reqwest::Client::new();
    let base = asking.base.clone();
    let mut ids = Vec::new();
    for i in 0..N {
        let c = post(
            &http,
            &base,
            &key,
            "/v1/calls",
            json!({"phone": format!("+1555{i:07}"), "overrideQuietHours": true}),
        )
        .await;
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    asking.child.kill().unwrap();
    asking.child.wait().unwrap();
    assert!(!log.exists(), "nothing is placed with the dialer off");
    let mut first = serve(dir.path(), &slow);
    // Kill while placements are under way (the rate cap spreads them over seconds).
    until("the first placements", Duration::from_secs(60), || async {
        std::fs::read_to_string(&log).map(|s| s.lines().count()).unwrap_or(0) >= 20
    })
    .await;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let before_restart = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!(before_restart < N, "the kill came after every placement; the test proves nothing");

    let second = serve(dir.path(), &fast);
    let base = second.base.clone();
    until("every call to end after the restart", Duration::from_secs(240), || async {
        let p = get(&http, &base, &key, "/v1/calls?status=queued,initiated,ringing,in-progress&limit=1").await;
        p["pagination"]["total"].as_u64() == Some(0)
    })
    .await;
    let text = std::fs::read_to_string(&log).unwrap();
    let mut seen = HashSet::new();
    for line in text.lines() {
        let id = line.split_whitespace().next().unwrap().to_owned();
        assert!(seen.insert(id.clone()), "call {id} was placed twice");
    }
    // Placed once each: by the first process, or after the restart; a call
    // claimed but not yet placed when the process died is resumed by the
    // simulator, which never places it again.
    assert!(seen.len() <= N);
    for id in &ids {
        let c = get(&http, &base, &key, &format!("/v1/calls/{id}")).await;
        let status = c["status"].as_str().unwrap();
        assert!(
            ["completed", "busy", "no-answer", "failed", "voicemail"].contains(&status),
            "call {id} left {status}"
        );
    }
    eprintln!(
        "single calls across SIGKILL: {before_restart} placed before the kill, {} in all, {} resumed or settled without a second placement",
        seen.len(),
        N - seen.len()
    );
}
