//! `/v1/usage`, `/v1/audit` and `/v1/org/plan`: the plan's limits, this
//! month's calls against them, changing plans, and the audit log.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::org::OrgOut;
use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryMap};
use crate::identity::audit;
use crate::identity::auth::Auth;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageOut {
    pub plan: String,
    /// `YYYY-MM` in the organisation's zone.
    pub month: String,
    pub calls_this_month: u64,
    /// The plan's monthly call quota; null when unlimited.
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// API requests per minute per key and per user; null when unlimited.
    pub requests_per_minute: Option<u64>,
    /// Calls live at once; null when unlimited.
    pub concurrent_calls: Option<u64>,
}

#[utoipa::path(get, path = "/v1/usage", tag = "organisation", responses((status = 200, body = UsageOut)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn usage(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let org = state.store.get_org(&auth.org.id).await?;
    let now = state.clock.now();
    let (from, to) = switchboard_domain::org::month_bounds(org.time_zone, now);
    let month = org.month_of(now);
    let calls = state.store.calls_in_month(&org.id, &month, from, to).await?;
    let plan = switchboard_domain::org::plan(&org.plan);
    let limit = plan.and_then(|p| p.monthly_calls);
    let out = UsageOut {
        plan: org.plan.clone(),
        month,
        calls_this_month: calls,
        limit,
        remaining: limit.map(|l| l.saturating_sub(calls)),
        requests_per_minute: plan.and_then(|p| p.requests_per_minute),
        concurrent_calls: plan.and_then(|p| p.concurrent_calls),
    };
    Ok(respond(StatusCode::OK, false, &out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PlanIn {
    /// standard, professional, enterprise or unlimited.
    pub plan: Option<String>,
}

/// Checks a plan name.
pub fn plan_name(v: Option<&str>) -> ApiResult<String> {
    let p = v.ok_or_else(|| ApiError::field("plan", "is required"))?;
    switchboard_domain::org::plan(p)
        .map(|p| p.name.to_owned())
        .ok_or_else(|| ApiError::field("plan", "must be one of standard, professional, enterprise, unlimited"))
}

#[utoipa::path(put, path = "/v1/org/plan", tag = "organisation", request_body = PlanIn,
    responses((status = 200, body = OrgOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn set_plan(State(state): State<AppState>, auth: Auth, body: JsonBody<PlanIn>) -> ApiResult<Response> {
    let plan = plan_name(body.value.plan.as_deref())?;
    let mut org = state.store.get_org(&auth.org.id).await?;
    let before = std::mem::replace(&mut org.plan, plan);
    let org = state.store.update_org(org).await?;
    state.keys.clear();
    audit::by(
        &state,
        &auth,
        "org.plan_changed",
        Some(org.id.to_string()),
        Some(json!({"from": before, "to": org.plan})),
    )
    .await;
    Ok(respond(StatusCode::OK, false, &OrgOut::from_org(&org)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditOut {
    pub id: String,
    /// `usr_...`, `key_...` or `system`.
    pub actor: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "organisation", params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = ListOut<AuditOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_audit(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (entries, total) = state.store.list_audit(&auth.org.id, page).await?;
    let data = entries
        .into_iter()
        .map(|e| AuditOut {
            id: e.id.to_string(),
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail,
            ip: e.ip,
            created_at: e.created_at,
        })
        .collect();
    Ok(respond_list(data, total, page))
}
