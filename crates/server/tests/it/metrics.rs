//! Operability: Prometheus metrics at `/metrics`, the Grafana dashboard
//! that charts them, logs as JSON when no terminal reads them, shell
//! completions.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::cli::BIN;
use crate::support::TestServer;

/// The value of the sample line that starts with `prefix` (a metric name
/// and its labels).
fn sample(body: &str, prefix: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(t: &TestServer) -> String {
    let r = reqwest::get(format!("{}/metrics", t.base)).await.unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain"), "{ct}");
    r.text().await.unwrap()
}

/// Requests are counted and timed per route template and status (never per
/// raw path), and the queue and lag gauges are there, without credentials.
#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let t = TestServer::start().await;
    let id = t.a.new_call(json!({"phone": "+15551234567", "status": "queued"})).await;
    for _ in 0..3 {
        assert_eq!(t.a.get("/v1/calls").await.status, 200);
    }
    assert_eq!(t.a.get(&format!("/v1/calls/{id}")).await.status, 200);
    assert_eq!(t.a.get("/v1/calls/call_00000000000000000000000000").await.status, 404);
    let body = scrape(&t).await;
    let get_calls = r#"switchboard_http_requests_total{method="GET",route="/v1/calls",status="200"}"#;
    assert!(sample(&body, get_calls).unwrap_or(0.0) >= 3.0, "{body}");
    let by_id = r#"switchboard_http_requests_total{method="GET",route="/v1/calls/{id}",status="404"}"#;
    assert!(sample(&body, by_id).unwrap_or(0.0) >= 1.0, "{body}");
    assert!(!body.contains(&format!("route=\"/v1/calls/{id}\"")), "a raw path became a label");
    let bucket = r#"switchboard_http_request_duration_seconds_bucket{method="GET",route="/v1/calls",status="200",le="+Inf"}"#;
    assert!(sample(&body, bucket).unwrap_or(0.0) >= 3.0, "{body}");
    for gauge in [
        r#"switchboard_outbox_lag_events{consumer="analytics"}"#,
        r#"switchboard_outbox_lag_events{consumer="webhooks"}"#,
        "switchboard_webhook_queue_depth ",
        "switchboard_live_calls ",
        "switchboard_outbox_head ",
    ] {
        assert!(sample(&body, gauge).is_some(), "{gauge} missing:\n{body}");
    }
    // The store's own figure, as the gauge reads it.
    assert_eq!(t.store.gauges().await.unwrap().live_calls, 1);
}

/// The metric names (`switchboard_...`) a PromQL expression mentions.
fn metric_names(expr: &str) -> Vec<String> {
    expr.match_indices("switchboard_")
        .map(|(i, _)| {
            expr[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        })
        .collect()
}

/// Every panel of docs/grafana-dashboard.json queries metrics the server
/// exports, and each of them shows up in a scrape.
#[tokio::test]
async fn every_dashboard_panel_queries_an_exported_metric() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exported: BTreeSet<&str> = switchboard_server::telemetry::METRICS.iter().copied().collect();
    let t = TestServer::start().await;
    t.a.get("/v1/calls").await;
    let body = scrape(&t).await;
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 8);
    for panel in panels {
        let title = panel["title"].as_str().unwrap();
        let exprs: Vec<&str> = panel["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["expr"].as_str().unwrap())
            .collect();
        assert!(!exprs.is_empty(), "{title}: no query");
        for expr in exprs {
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{title}: {expr} names no metric");
            for name in names.iter().map(String::as_str) {
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|b| exported.contains(b)))
                    .unwrap_or(name);
                assert!(exported.contains(base), "{title}: {name} is not exported");
                // Dialer counters appear once the dialer has placed or held calls.
                if !base.starts_with("switchboard_dialer_") {
                    assert!(body.contains(&format!("\n{name}")), "{title}: {name} not in a scrape");
                }
            }
        }
    }
}

/// Without a terminal on stderr, `serve` logs JSON lines, with no colour codes.
#[test]
fn logs_are_json_when_no_terminal_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("SWITCHBOARD_LOG", "info")
        .env_remove("SWITCHBOARD_LOG_FORMAT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .next()
        .expect("a log line")
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(!line.contains('\u{1b}'), "colour codes in a log file: {line}");
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert!(v["level"].is_string() && v["fields"]["message"].is_string(), "{v}");
}

/// `switchboard completions <shell>` prints a script naming the commands.
#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(BIN).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["switchboard", "serve", "bench", "completions"] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
    let bad = Command::new(BIN).args(["completions", "cmd.exe"]).output().unwrap();
    assert!(!bad.status.success());
}
