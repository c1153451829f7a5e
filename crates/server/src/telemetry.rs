//! Prometheus metrics at `GET /metrics`: request counts and latency per
//! route and status (recorded by [`track`]), dialer placements and
//! refusals (recorded where they happen), and, read at scrape time, outbox
//! lag per consumer, the webhook queue and live calls. docs/operations.md
//! lists every metric; docs/grafana-dashboard.json charts them.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

pub const HTTP_REQUESTS: &str = "switchboard_http_requests_total";
pub const HTTP_DURATION: &str = "switchboard_http_request_duration_seconds";
pub const OUTBOX_HEAD: &str = "switchboard_outbox_head";
pub const OUTBOX_LAG: &str = "switchboard_outbox_lag_events";
pub const WEBHOOK_QUEUE: &str = "switchboard_webhook_queue_depth";
pub const LIVE_CALLS: &str = "switchboard_live_calls";
pub const DIALER_PLACEMENTS: &str = "switchboard_dialer_placements_total";
pub const DIALER_REFUSALS: &str = "switchboard_dialer_refusals_total";
pub const ANALYTICS_CALLS: &str = "switchboard_analytics_indexed_calls";

/// Every metric the server exports.
pub const METRICS: &[&str] = &[
    HTTP_REQUESTS,
    HTTP_DURATION,
    OUTBOX_HEAD,
    OUTBOX_LAG,
    WEBHOOK_QUEUE,
    LIVE_CALLS,
    DIALER_PLACEMENTS,
    DIALER_REFUSALS,
    ANALYTICS_CALLS,
];

/// Latency buckets (seconds): 1 ms to 10 s.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use (one per process: every
/// server in it shares the counters).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows only what this one records");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by method, route template and status");
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request latency, by method, route template and status"
    );
    metrics::describe_gauge!(OUTBOX_HEAD, "Newest outbox position");
    metrics::describe_gauge!(OUTBOX_LAG, "Outbox events a consumer has not applied yet, by consumer");
    metrics::describe_gauge!(WEBHOOK_QUEUE, "Webhook deliveries waiting for a first or next attempt");
    metrics::describe_gauge!(LIVE_CALLS, "Calls in a live status (queued, initiated, ringing, in progress)");
    metrics::describe_counter!(DIALER_PLACEMENTS, "Calls handed to the carrier, by outcome (placed, carrier_error)");
    metrics::describe_counter!(DIALER_REFUSALS, "Calls the dialer held back, by rule (blocked, deferred, held)");
    metrics::describe_gauge!(ANALYTICS_CALLS, "Calls in the analytics index");
}

/// Counts and times every request by its route template (never the raw
/// path: ids would make a series per call), method and status.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    handle();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = next.run(req).await;
    let labels = [("method", method), ("route", route), ("status", resp.status().as_u16().to_string())];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
    resp
}

/// Records a dialer placement (`placed` or `carrier_error`).
pub fn placement(outcome: &'static str) {
    metrics::counter!(DIALER_PLACEMENTS, "outcome" => outcome).increment(1);
}

/// Records calls the dialer held back under `rule`.
pub fn refusals(rule: &'static str, n: usize) {
    if n > 0 {
        metrics::counter!(DIALER_REFUSALS, "rule" => rule).increment(n as u64);
    }
}

#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text exposition format (version 0.0.4)", content_type = "text/plain", body = String),
        (status = 503, description = "The database did not answer", content_type = "text/plain", body = String)))]
pub async fn metrics_route(State(state): State<AppState>) -> Response {
    let h = handle();
    match state.store.gauges().await {
        Ok(g) => {
            let analytics = state.analytics.size();
            metrics::gauge!(OUTBOX_HEAD).set(g.outbox_head as f64);
            metrics::gauge!(OUTBOX_LAG, "consumer" => "analytics").set((g.outbox_head - analytics.head).max(0) as f64);
            metrics::gauge!(OUTBOX_LAG, "consumer" => "webhooks").set((g.outbox_head - g.webhook_dispatched_through).max(0) as f64);
            metrics::gauge!(WEBHOOK_QUEUE).set(g.webhook_queued as f64);
            metrics::gauge!(LIVE_CALLS).set(g.live_calls as f64);
            metrics::gauge!(ANALYTICS_CALLS).set(analytics.calls as f64);
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics: database unreachable");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response();
        }
    }
    h.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], h.render()).into_response()
}
