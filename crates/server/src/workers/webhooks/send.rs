//! One webhook request: build the payload, sign it, POST it without
//! following redirects, read at most 4 KiB of the answer, and say what
//! happened.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_domain::webhook::MAX_LOGGED_BODY;
use switchboard_store::{DeliveryJob, WebhookTarget};

use super::{sign, ssrf};

/// What one request gave.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    pub status: Option<u16>,
    pub body: Option<String>,
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
    pub latency_ms: u64,
}

impl Sent {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The HTTP side of the worker: one pooled client for every request.
pub struct Sender {
    http: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    pub fn new(timeout: Duration, allow_private: bool) -> anyhow::Result<Self> {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Proxies from the environment would bypass the address checks.
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(64)
            .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            b = b.dns_resolver(Arc::new(ssrf::GuardedResolver));
        }
        Ok(Self {
            http: b.build()?,
            allow_private,
        })
    }

    /// The JSON body of an event: `{id, type, created, data}`, the same on
    /// every attempt.
    pub fn payload(job: &DeliveryJob) -> Vec<u8> {
        let e = &job.event;
        serde_json::to_vec(&json!({
            "id": e.id,
            "type": e.event_type,
            "created": e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": e.data,
        }))
        .unwrap_or_default()
    }

    pub async fn send(&self, target: &WebhookTarget, job: &DeliveryJob) -> Sent {
        let started = Instant::now();
        let mut out = self.try_send(target, job).await;
        out.latency_ms = started.elapsed().as_millis() as u64;
        out
    }

    async fn try_send(&self, target: &WebhookTarget, job: &DeliveryJob) -> Sent {
        let fail = |error: String| Sent {
            error: Some(error),
            ..Default::default()
        };
        let url = match reqwest::Url::parse(&target.url) {
            Ok(u) => u,
            Err(e) => return fail(format!("invalid URL: {e}")),
        };
        if !self.allow_private
            && let Some(ip) = ssrf::literal_forbidden(&url)
        {
            return fail(format!("refused: {ip} is a loopback, private or link-local address"));
        }
        let body = Self::payload(job);
        let timestamp = chrono::Utc::now().timestamp();
        let mut req = self.http.post(url).header("content-type", "application/json");
        for (name, value) in sign::headers(target.scheme, &target.secrets, job.event.id.as_str(), timestamp, &body) {
            req = req.header(name, value);
        }
        let mut resp = match req.body(body).send().await {
            Ok(r) => r,
            Err(e) => return fail(error_chain(&e)),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let mut buf: Vec<u8> = Vec::new();
        let mut error = None;
        // Read at most 4 KiB: an endpoint cannot make us buffer more.
        while buf.len() < MAX_LOGGED_BODY {
            match resp.chunk().await {
                Ok(Some(chunk)) => buf.extend_from_slice(&chunk[..chunk.len().min(MAX_LOGGED_BODY - buf.len())]),
                Ok(None) => break,
                Err(e) => {
                    error = Some(error_chain(&e));
                    break;
                }
            }
        }
        Sent {
            status: Some(status),
            body: (!buf.is_empty()).then(|| String::from_utf8_lossy(&buf).into_owned()),
            error,
            retry_after,
            latency_ms: 0,
        }
    }
}

/// The error and its causes, which name what really failed (refused,
/// timed out, blocked address ...).
fn error_chain(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() { "timed out".to_owned() } else { e.to_string() };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg.chars().take(1000).collect()
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        let later = (chrono::Utc::now() + chrono::TimeDelta::seconds(600)).to_rfc2822();
        let d = parse_retry_after(&later).unwrap();
        assert!(d > Duration::from_secs(590) && d <= Duration::from_secs(600), "{d:?}");
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("soon"), None);
    }
}
