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
            created_at: now,
        }
    }

    pub fn region(&self) -> Option<Region> {
        self.default_region.as_deref().and_then(|r| Region::parse(r).ok())
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

/// Monthly call quotas of the built-in plans (the Call Ribbon spec's
/// tiers); unknown and `unlimited` plans have none.
pub fn plan_call_limit(plan: &str) -> Option<u64> {
    match plan {
        "standard" => Some(100),
        "professional" => Some(5_000),
        "enterprise" => Some(20_000),
        _ => None,
    }
}

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
}
