//! The Call Ribbon widget in a real browser: the spec's "Example Integration
//! (Complete)" page, served from its own origin with only our URLs and key
//! put in, drives a call through the real server and its simulator carrier.
//! Needs node with playwright-core (crates/server/tests/browser) and
//! Chromium (/usr/bin/chromium); `.ci/run` installs both.

use std::path::{Path, PathBuf};

use axum::response::Html;
use serde_json::Value;

use crate::cli::serve;

/// The CRM's own functions the example page calls but does not define.
const CRM_STUBS: &str = r#"<script>
  window.crmUpdates = [];
  function getCustomerFromCRM(loanId) {
    return { phone: '+919876543210', name: 'Rajesh Kumar', loanId: loanId, loanType: 'Business Loan',
             loanAmount: 500000, outstanding: 150000, daysOverdue: 45, emiAmount: 15000, callAttempts: 3 };
  }
  function getCurrentAgent() { return { id: 'AGT001', name: 'Suresh Kumar' }; }
  function updateCRM(customerId, what, extra) { window.crmUpdates.push({ customerId: customerId, what: what, extra: extra || null }); }
</script>
"#;

fn page(base: &str, key: &str) -> String {
    let html = include_str!("../fixtures/ribbon_example.html")
        .replace("https://cdn.callribbon.intalksai.com/v1/", &format!("{base}/ribbon/v1/"))
        .replace("your-api-key-here", key)
        .replace("https://api.callribbon.intalksai.com", base);
    html.replacen("    <script src=", &format!("{CRM_STUBS}    <script src="), 1)
}

/// Serves `html` at /crm.html on its own port (another origin than the API).
async fn page_server(html: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/crm.html", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/crm.html", axum::routing::get(move || async move { Html(html) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn drive(url: &str, shots: &Path, mode: &str) -> Value {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "run `npm install` in {} (the CI script does)",
        dir.display()
    );
    let out = std::process::Command::new("node")
        .arg("ribbon.mjs")
        .arg(url)
        .arg(shots)
        .arg(mode)
        .current_dir(&dir)
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn events(run: &Value) -> Vec<String> {
    run["console"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .filter_map(|t| t.strip_prefix("Call Event: "))
        .map(|t| t.split(' ').next().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_example_page_places_a_call_through_the_ribbon() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("switchboard.toml");
    // Every callee answers and stays on the line until the agent hangs up.
    std::fs::write(
        &cfg,
        "[telephony]\nsim_failed_rate = 0.0\nsim_busy_rate = 0.0\nsim_answer_rate = 1.0\nsim_answer_by_hour = false\nsim_voicemail_rate = 0.0\nsim_talk_mean_secs = 3600.0\n",
    )
    .unwrap();
    let served = serve(
        dir.path(),
        &[("SWITCHBOARD_CONFIG", cfg.to_str().unwrap()), ("SWITCHBOARD_SIM_TIME_SCALE", "4")],
    );
    let key = served.bootstrap_key.clone().unwrap();
    let url = page_server(page(&served.base, &key)).await;
    let shots = match std::env::var("SWITCHBOARD_UPDATE_DOCS") {
        Ok(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs"),
        Err(_) => dir.path().to_owned(),
    };
    let run = tokio::task::spawn_blocking({
        let (url, shots) = (url.clone(), shots.clone());
        move || drive(&url, &shots, "call")
    })
    .await
    .unwrap();
    assert!(run["errors"].as_array().unwrap().is_empty(), "page errors: {}", run["errors"]);
    let ev = events(&run);
    let pos = |e: &str| ev.iter().position(|x| x == e).unwrap_or_else(|| panic!("no {e} event in {ev:?}"));
    assert!(
        pos("initiated") < pos("connected") && pos("connected") < pos("muted") && pos("muted") < pos("callEnded"),
        "{ev:?}"
    );
    // The ribbon's visible state during and after the call.
    assert_eq!(run["during"]["name"], "Rajesh Kumar");
    assert_eq!(run["during"]["phone"], "+919876543210");
    assert_eq!(run["during"]["state"], "Connected");
    assert_ne!(run["during"]["timer"], "00:00");
    assert_eq!(run["during"]["hangupEnabled"], true);
    assert_eq!(run["muteLabel"], "Unmute");
    assert_eq!(
        (run["after"]["state"].as_str(), run["after"]["callEnabled"].as_bool()),
        (Some("Call ended"), Some(true))
    );
    assert!(shots.join("ribbon-during-call.png").exists() && shots.join("ribbon-after-call.png").exists());
    // The page's own handler saw connected and callEnded with a duration.
    let crm = run["crm"].as_array().unwrap();
    assert_eq!(
        (crm[0]["customerId"].as_str(), crm[0]["what"].as_str()),
        (Some("LOAN001"), Some("call_connected"))
    );
    assert_eq!(crm[1]["what"], "call_ended");
    assert!(crm[1]["extra"]["duration"].is_number());
    // The stored call carries the customer context, agent, call type and metadata.
    let id = run["sessionId"].as_str().unwrap();
    let http = reqwest::Client::new();
    let call: Value = http
        .get(format!("{}/v1/calls/{id}", served.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (call["status"].as_str(), call["customerId"].as_str(), call["customerName"].as_str()),
        (Some("completed"), Some("LOAN001"), Some("Rajesh Kumar"))
    );
    assert_eq!(
        (call["agentId"].as_str(), call["agentName"].as_str(), call["callType"].as_str()),
        (Some("AGT001"), Some("Suresh Kumar"), Some("collections"))
    );
    assert_eq!(call["customerContext"]["loanType"], "Business Loan");
    assert_eq!(call["customerContext"]["daysOverdue"], 45);
    assert_eq!(
        call["metadata"],
        serde_json::json!({"campaign": "overdue_campaign_q4", "attempt": 4})
    );
    assert_eq!(call["duration"], crm[1]["extra"]["duration"]);
    let kinds: Vec<&str> = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"action.mute") && kinds.contains(&"status.in_progress"), "{kinds:?}");
    // It shows up in the ribbon's call logs and analytics.
    let logs: Value = http
        .get(format!("{}/api/ribbon/call-logs", served.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logs["logs"][0]["session_id"], id);
    assert_eq!(logs["logs"][0]["customer_context"]["loanType"], "Business Loan");
    let stats: Value = http
        .get(format!("{}/api/ribbon/analytics", served.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["summary"]["totalCalls"], 1);

    // Missing required customer fields: an error event and console error, no call.
    let run = tokio::task::spawn_blocking(move || drive(&url, &shots, "missing")).await.unwrap();
    let ev = events(&run);
    assert!(ev.contains(&"error".to_owned()) && !ev.contains(&"initiated".to_owned()), "{ev:?}");
    assert!(
        run["console"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["type"] == "error" && m["text"].as_str().unwrap().contains("name, customerId")),
        "{}",
        run["console"]
    );
    assert_eq!(run["state"], "Error");
    let logs: Value = http
        .get(format!("{}/api/ribbon/call-logs", served.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logs["pagination"]["total"], 1, "no second call was placed");
}
