//! `/v1/org`: the caller's organisation and its settings (name, default
//! phone region, time zone, phone check, dialer rate cap).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use switchboard_domain::Organisation;
use switchboard_domain::phone::{Region, Strictness};
use utoipa::ToSchema;

use super::{ErrorBody, respond};
use crate::api::fields;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::identity::auth::Auth;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgOut {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// ISO region used to read phone numbers written without a country code.
    pub default_region: Option<String>,
    /// IANA zone used for analytics when a request names none.
    pub time_zone: String,
    /// `possible` (length fits the country's plan) or `strict` (assigned range).
    pub phone_check: &'static str,
    pub plan: String,
    /// The plan's monthly call quota; null when unlimited.
    pub monthly_call_limit: Option<u64>,
    /// The organisation's own cap on new dialer calls per second (below the
    /// server's `dialer_cps`); null when only the server's applies.
    pub calls_per_second: Option<u32>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl OrgOut {
    pub fn from_org(o: &Organisation) -> Self {
        OrgOut {
            id: o.id.to_string(),
            slug: o.slug.clone(),
            name: o.name.clone(),
            default_region: o.default_region.clone(),
            time_zone: o.time_zone.name().to_owned(),
            phone_check: match o.phone_strictness {
                Strictness::Strict => "strict",
                Strictness::Possible => "possible",
            },
            plan: o.plan.clone(),
            monthly_call_limit: o.monthly_call_limit(),
            calls_per_second: o.calls_per_second,
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgPatchIn {
    pub name: Option<String>,
    /// ISO 3166 region code (`US`, `IN`); null clears it.
    #[serde(default, deserialize_with = "super::contacts::double")]
    #[schema(value_type = Option<String>)]
    pub default_region: Option<Option<String>>,
    pub time_zone: Option<String>,
    /// `possible` or `strict`.
    pub phone_check: Option<String>,
    /// New dialer calls per second for the whole organisation, 1 to 10,000
    /// (never above the server's `dialer_cps`); null clears it.
    #[serde(default, deserialize_with = "super::contacts::double")]
    #[schema(value_type = Option<u32>)]
    pub calls_per_second: Option<Option<u32>>,
}

/// Applies settings to an organisation, checking each (shared with the CLI).
pub fn apply_settings(
    org: &mut Organisation,
    name: Option<&str>,
    region: Option<Option<&str>>,
    tz: Option<&str>,
    check: Option<&str>,
) -> ApiResult<()> {
    if let Some(n) = fields::short("name", name)? {
        org.name = n;
    }
    match region {
        Some(Some(r)) => org.default_region = Some(Region::parse(r).map_err(|e| ApiError::field("defaultRegion", e))?.code()),
        Some(None) => org.default_region = None,
        None => {}
    }
    if let Some(t) = fields::time_zone("timeZone", tz)? {
        org.time_zone = t;
    }
    match check {
        Some("strict") => org.phone_strictness = Strictness::Strict,
        Some("possible") => org.phone_strictness = Strictness::Possible,
        Some(_) => return Err(ApiError::field("phoneCheck", "must be 'possible' or 'strict'")),
        None => {}
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/org", tag = "organisation", responses((status = 200, body = OrgOut)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_org(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let org = state.store.get_org(&auth.org.id).await?;
    Ok(respond(StatusCode::OK, false, &OrgOut::from_org(&org)))
}

#[utoipa::path(patch, path = "/v1/org", tag = "organisation", request_body = OrgPatchIn,
    responses((status = 200, body = OrgOut), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn update_org(State(state): State<AppState>, auth: Auth, body: JsonBody<OrgPatchIn>) -> ApiResult<Response> {
    let p = body.value;
    let mut org = state.store.get_org(&auth.org.id).await?;
    apply_settings(
        &mut org,
        p.name.as_deref(),
        p.default_region.as_ref().map(|r| r.as_deref()),
        p.time_zone.as_deref(),
        p.phone_check.as_deref(),
    )?;
    match p.calls_per_second {
        Some(Some(n)) if !(1..=10_000).contains(&n) => return Err(ApiError::field("callsPerSecond", "must be from 1 to 10000")),
        Some(cps) => org.calls_per_second = cps,
        None => {}
    }
    let org = state.store.update_org(org).await?;
    // Cached lookups carry the organisation: drop them so the change applies at once.
    state.keys.clear();
    Ok(respond(StatusCode::OK, false, &OrgOut::from_org(&org)))
}
