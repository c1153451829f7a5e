//! Organisations (tenants) and their API keys.

use serde::{Deserialize, Serialize};

use crate::id::{ApiKeyId, OrgId};
use crate::phone::{Region, Strictness};
use crate::{TimeZone, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: OrgId,
    /// Short unique name used on the command line (`acme`).
    pub slug: String,
    pub name: String,
    /// Region used to read phone numbers written without a country code.
    pub default_region: Option<String>,
    /// Zone used for time bucketing when a request names none.
    pub time_zone: TimeZone,
    pub phone_strictness: Strictness,
    pub plan: String,
    /// The organisation's own cap on new dialer calls per second, below the
    /// server's (`None`: the server's alone).
    pub calls_per_second: Option<u32>,
    pub created_at: Timestamp,
}

impl Organisation {
    /// A new organisation with the embedded defaults: UTC, no default
    /// region, `possible` phone checks, the `unlimited` plan.
    pub fn new(slug: &str, name: &str, now: Timestamp) -> Self {
        Organisation {
            id: OrgId::new(),
            slug: slug.to_owned(),
            name: name.to_owned(),
            default_region: None,
            time_zone: TimeZone::UTC,
            phone_strictness: Strictness::Possible,
            plan: "unlimited".to_owned(),
            calls_per_second: None,
            created_at: now,
        }
    }

    pub fn region(&self) -> Option<Region> {
        self.default_region.as_deref().and_then(|r| Region::parse(r).ok())
    }

    /// The calendar month (`YYYY-MM`) of `t` in the organisation's zone:
    /// the period call quotas count in.
    pub fn month_of(&self, t: Timestamp) -> String {
        month_key(self.time_zone, t)
    }

    /// The plan's monthly call quota; `None` is unlimited.
    pub fn monthly_call_limit(&self) -> Option<u64> {
        plan_call_limit(&self.plan)
    }

    /// Slugs are lower-case letters, digits and dashes, 1 to 64 long.
    pub fn valid_slug(slug: &str) -> bool {
        !slug.is_empty()
            && slug.len() <= 64
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }
}

/// The calendar month (`YYYY-MM`) of `t` in `tz`.
pub fn month_key(tz: TimeZone, t: Timestamp) -> String {
    t.with_timezone(&tz.0).format("%Y-%m").to_string()
}

/// The first instant of `t`'s month in `tz` and of the month after.
pub fn month_bounds(tz: TimeZone, t: Timestamp) -> (Timestamp, Timestamp) {
    use chrono::{Datelike, NaiveDate, TimeZone as _};
    let local = t.with_timezone(&tz.0);
    let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or_default();
    let next = if local.month() == 12 {
        NaiveDate::from_ymd_opt(local.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(local.year(), local.month() + 1, 1)
    }
    .unwrap_or_default();
    let at = |d: NaiveDate| {
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        tz.0.from_local_datetime(&midnight)
            .earliest()
            .map(|x| x.with_timezone(&chrono::Utc))
            .unwrap_or_else(|| chrono::Utc.from_utc_datetime(&midnight))
    };
    (at(first), at(next))
}

/// A plan's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub name: &'static str,
    /// Calls an organisation may create per calendar month.
    pub monthly_calls: Option<u64>,
    /// API requests per minute, per key and per user.
    pub requests_per_minute: Option<u64>,
    /// Calls live at once.
    pub concurrent_calls: Option<u64>,
}

/// The built-in plans: the Call Ribbon spec's tiers and the SaaS spec's
/// request rate. Self-hosted installations default to `unlimited`.
pub const PLANS: [Plan; 4] = [
    Plan {
        name: "standard",
        monthly_calls: Some(100),
        requests_per_minute: Some(100),
        concurrent_calls: Some(5),
    },
    Plan {
        name: "professional",
        monthly_calls: Some(5_000),
        requests_per_minute: Some(600),
        concurrent_calls: Some(50),
    },
    Plan {
        name: "enterprise",
        monthly_calls: Some(20_000),
        requests_per_minute: Some(3_000),
        concurrent_calls: Some(200),
    },
    Plan {
        name: "unlimited",
        monthly_calls: None,
        requests_per_minute: None,
        concurrent_calls: None,
    },
];

pub fn plan(name: &str) -> Option<Plan> {
    PLANS.iter().copied().find(|p| p.name == name)
}

/// Monthly call quota of a plan; unknown plans are unlimited.
pub fn plan_call_limit(name: &str) -> Option<u64> {
    plan(name).and_then(|p| p.monthly_calls)
}

/// Calls a plan lets the platform have live at once; unknown plans are
/// unlimited.
pub fn plan_live_cap(name: &str) -> Option<u64> {
    plan(name).and_then(|p| p.concurrent_calls)
}

/// A call still queued, ringing or in progress this long after it was
/// created is taken as lost (its carrier never reported the end) and no
/// longer counts against the concurrent-call cap, so one lost report
/// cannot lock an organisation out of calling.
pub const LIVE_WINDOW_SECS: i64 = 4 * 3600;

/// The statuses that count as live for the concurrent-call cap, as stored.
pub const LIVE_STATUSES: &str = "('queued','initiated','ringing','in_progress')";

/// An API key as stored: never the secret, only its hash and a prefix
/// for recognising it in lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: String,
    pub prefix: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// Permissions the key grants (`*` for all).
    #[serde(default = "all_scopes")]
    pub scopes: Vec<String>,
    pub expires_at: Option<Timestamp>,
}

fn all_scopes() -> Vec<String> {
    vec![crate::user::ALL.to_owned()]
}

impl ApiKey {
    /// A key valid at `now`: not revoked, not expired.
    pub fn usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none_or(|r| r > now) && self.expires_at.is_none_or(|e| e > now)
    }
}
