//! Webhook subscriptions, their deliveries and attempts, and the delivery
//! policy (retry schedule, when an endpoint is disabled, how long a rotated
//! secret keeps signing). No I/O: the store keeps these, the server's
//! webhook worker sends them.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::id::{AttemptId, DeliveryId, EventId, OrgId, WebhookId};
use crate::{Timestamp, webhook_events};

/// Delays before the 2nd, 3rd, ... attempt (the 1st is immediate): the
/// schedule of the best webhook services. Jitter is applied by the worker.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// Attempts per delivery before it is given up (`dead`).
pub const MAX_ATTEMPTS: u32 = RETRY_SCHEDULE.len() as u32 + 1;

/// An endpoint failing without a single success for this long is disabled.
pub const DISABLE_AFTER: chrono::TimeDelta = chrono::TimeDelta::days(5);

/// How long a rotated-out secret keeps signing beside the new one.
pub const PREVIOUS_SECRET_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Longest `Retry-After` honoured; a larger one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Most bytes of a response body kept in the attempt log.
pub const MAX_LOGGED_BODY: usize = 4096;

/// Prefix of Standard Webhooks secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// The delay before the next attempt after `attempts_done` failed attempts,
/// or `None` when the delivery is given up. `jitter` in `[-1, 1]` moves the
/// delay by up to ±10 %; a `Retry-After` longer than the schedule wins.
pub fn next_retry(attempts_done: u32, retry_after: Option<Duration>, jitter: f64) -> Option<Duration> {
    if attempts_done == 0 {
        return Some(Duration::ZERO);
    }
    let base = *RETRY_SCHEDULE.get(attempts_done as usize - 1)?;
    let jittered = base.mul_f64(1.0 + 0.1 * jitter.clamp(-1.0, 1.0));
    Some(match retry_after {
        Some(ra) => jittered.max(ra.min(MAX_RETRY_AFTER)),
        None => jittered,
    })
}

/// How deliveries to a subscription are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SignatureScheme {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
    #[default]
    Standard,
    /// The SaaS spec: `X-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    Saas,
    /// Ringez: `X-Ringez-Signature: <hex HMAC-SHA256 of the body>`.
    Ringez,
}

impl SignatureScheme {
    pub const ALL: [SignatureScheme; 3] = [Self::Standard, Self::Saas, Self::Ringez];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Saas => "saas",
            Self::Ringez => "ringez",
        }
    }

    pub fn parse(field: &str, v: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(v.trim()))
            .ok_or_else(|| FieldError::new(field, "must be 'standard', 'saas' or 'ringez'"))
    }
}

/// A signing secret. Never printed by Debug.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookSecret(String);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl WebhookSecret {
    /// A fresh `whsec_` secret from 24 random bytes (the caller supplies
    /// them: the domain does no I/O).
    pub fn from_random(bytes: [u8; 24]) -> Self {
        Self(format!(
            "{SECRET_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ))
    }

    /// A secret given by a client. Standard Webhooks needs `whsec_` and the
    /// base64 of 24 to 64 bytes; the other schemes take any 16 to 256
    /// printable characters.
    pub fn parse(field: &str, v: &str, scheme: SignatureScheme) -> Result<Self, FieldError> {
        let s = Self(v.to_owned());
        if scheme == SignatureScheme::Standard {
            return match s.standard_key() {
                Some(k) if (24..=64).contains(&k.len()) => Ok(s),
                _ => Err(FieldError::new(
                    field,
                    "must be 'whsec_' followed by the base64 of 24 to 64 random bytes (or omit it to have one generated)",
                )),
            };
        }
        if !(16..=256).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(FieldError::new(
                field,
                "must be 16 to 256 printable ASCII characters without spaces",
            ));
        }
        Ok(s)
    }

    /// Wraps a value read back from our own store.
    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The HMAC key of the Standard Webhooks scheme: the base64-decoded
    /// part after `whsec_`.
    pub fn standard_key(&self) -> Option<Vec<u8>> {
        let b64 = self.0.strip_prefix(SECRET_PREFIX)?;
        base64::engine::general_purpose::STANDARD.decode(b64).ok()
    }
}

/// Which event types a subscription receives: exact types, `*` for all, or
/// `category.*` (e.g. `call.*`).
pub fn parse_event_filter(field: &str, events: &[String]) -> Result<Vec<String>, FieldError> {
    if events.is_empty() {
        return Err(FieldError::new(field, "must list at least one event type, or \"*\" for all"));
    }
    if events.len() > 100 {
        return Err(FieldError::new(field, "must have at most 100 items"));
    }
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        let e = e.trim();
        let known = e == "*" || webhook_events::is_known(e) || e.strip_suffix(".*").is_some_and(webhook_events::is_known_category);
        if !known {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                format!("unknown event type '{e}'; GET /v1/webhooks/event-types lists them"),
            ));
        }
        if !out.iter().any(|o| o == e) {
            out.push(e.to_owned());
        }
    }
    Ok(out)
}

/// Whether a filter made by [`parse_event_filter`] takes `event_type`.
pub fn filter_matches(filter: &[String], event_type: &str) -> bool {
    filter.iter().any(|f| {
        f == "*"
            || f == event_type
            || f.strip_suffix('*')
                .is_some_and(|prefix| prefix.ends_with('.') && event_type.starts_with(prefix))
    })
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: WebhookId,
    pub org_id: OrgId,
    pub url: String,
    /// Event types, `*` or `category.*`.
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub scheme: SignatureScheme,
    pub secret: WebhookSecret,
    /// The secret before the last rotation, still signing until
    /// `previous_secret_expires_at`.
    pub previous_secret: Option<WebhookSecret>,
    pub previous_secret_expires_at: Option<Timestamp>,
    /// Start of the current run of failed attempts (none since the last success).
    pub failing_since: Option<Timestamp>,
    /// Why it was disabled automatically, when it was.
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Webhook {
    pub fn matches(&self, event_type: &str) -> bool {
        filter_matches(&self.events, event_type)
    }

    /// The secrets that sign a request sent at `now`: the current one, and
    /// the previous one during the 24 h after a rotation.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<WebhookSecret> {
        let mut out = vec![self.secret.clone()];
        if let (Some(prev), Some(until)) = (&self.previous_secret, self.previous_secret_expires_at)
            && now < until
        {
            out.push(prev.clone());
        }
        out
    }
}

/// A change to a subscription: absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    /// Enabling also forgets the failure history and the disable reason.
    pub enabled: Option<bool>,
    pub scheme: Option<SignatureScheme>,
}

impl WebhookPatch {
    /// Applies the patch; answers whether anything changed. Refuses
    /// switching to Standard Webhooks while the secret is not a `whsec_` one.
    pub fn apply(&self, w: &mut Webhook, now: Timestamp) -> Result<bool, FieldError> {
        let before = w.clone();
        if let Some(u) = &self.url {
            w.url = u.clone();
        }
        if let Some(e) = &self.events {
            w.events = e.clone();
        }
        if let Some(d) = &self.description {
            w.description = d.clone();
        }
        if let Some(s) = self.scheme {
            if s == SignatureScheme::Standard && w.secret.standard_key().is_none() {
                return Err(FieldError::new(
                    "signatureScheme",
                    "'standard' needs a whsec_ secret: rotate the secret first (POST /v1/webhooks/{id}/rotate-secret)",
                ));
            }
            w.scheme = s;
        }
        if let Some(en) = self.enabled {
            if en && !w.enabled {
                w.failing_since = None;
                w.disabled_reason = None;
            }
            w.enabled = en;
        }
        let changed = *w != before;
        if changed {
            w.updated_at = now;
        }
        Ok(changed)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not attempted yet.
    Pending,
    /// The last attempt failed; another is scheduled.
    Failed,
    Succeeded,
    /// Every attempt failed; given up.
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Failed, Self::Succeeded, Self::Dead]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// One event's delivery to one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub org_id: OrgId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub event_type: String,
    /// The event's outbox position: deliveries are attempted in this order.
    pub seq: i64,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_status_code: Option<u16>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One HTTP request made for a delivery, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub id: AttemptId,
    pub org_id: OrgId,
    pub webhook_id: WebhookId,
    pub delivery_id: DeliveryId,
    pub event_id: EventId,
    pub event_type: String,
    /// 1 for the first attempt of the delivery.
    pub attempt: u32,
    pub succeeded: bool,
    /// The HTTP status, when a response came.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// The first 4 KiB of the response body.
    pub response_body: Option<String>,
    /// Why no response came (timeout, refused, blocked address ...).
    pub error: Option<String>,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_immediate_then_backs_off_then_gives_up() {
        assert_eq!(next_retry(0, None, 0.0), Some(Duration::ZERO));
        assert_eq!(next_retry(1, None, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(next_retry(2, None, 0.0), Some(Duration::from_secs(300)));
        assert_eq!(next_retry(7, None, 0.0), Some(Duration::from_secs(36_000)));
        assert_eq!(next_retry(8, None, 0.0), None);
        let j = next_retry(3, None, 1.0).unwrap();
        assert_eq!(j, Duration::from_secs(1980));
        assert_eq!(next_retry(1, Some(Duration::from_secs(120)), 0.0), Some(Duration::from_secs(120)));
        assert_eq!(next_retry(3, Some(Duration::from_secs(1)), 0.0), Some(Duration::from_secs(1800)));
        assert_eq!(next_retry(1, Some(Duration::from_secs(10 * 86400)), 0.0), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn filters() {
        let f = parse_event_filter("events", &["call.completed".into(), "contact.*".into()]).unwrap();
        assert!(filter_matches(&f, "call.completed"));
        assert!(filter_matches(&f, "contact.updated"));
        assert!(!filter_matches(&f, "call.failed"));
        assert!(filter_matches(&["*".into()], "balance.low"));
        assert_eq!(parse_event_filter("events", &[]).unwrap_err().field, "events");
        assert_eq!(parse_event_filter("events", &["call.x".into()]).unwrap_err().field, "events[0]");
        assert!(parse_event_filter("events", &["nope.*".into()]).is_err());
    }

    #[test]
    fn secrets() {
        let s = WebhookSecret::from_random([7; 24]);
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(s.standard_key().unwrap(), vec![7; 24]);
        assert_eq!(format!("{s:?}"), "***");
        assert!(WebhookSecret::parse("secret", s.expose(), SignatureScheme::Standard).is_ok());
        assert!(WebhookSecret::parse("secret", "whsec_short", SignatureScheme::Standard).is_err());
        assert!(WebhookSecret::parse("secret", "my-shared-secret-123", SignatureScheme::Saas).is_ok());
        assert!(WebhookSecret::parse("secret", "short", SignatureScheme::Ringez).is_err());
    }
}
