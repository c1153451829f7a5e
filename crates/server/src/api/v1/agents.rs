//! `/v1/agents`: the agent profile of every user with the `agent` role
//! (skills, languages, department, calls at once) and the agent's status,
//! moved through the domain's state machine (`offline → available ⇄
//! on_call → after_call_work → available`, `break {reason}`, `missed`).
//! An agent may set their own status; setting anyone else's, or changing a
//! profile, needs `agents.manage`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_domain::UserId;
use switchboard_domain::agents::{self, Agent, AgentPatch, AgentStatus, MAX_CONCURRENT_CALLS};
use switchboard_domain::id::DepartmentId;
use switchboard_store::AgentFilter;
use utoipa::ToSchema;

use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::api::fields;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{JsonBody, QueryMap, path_id};
use crate::identity::auth::Auth;
use crate::identity::caller::Actor;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentOut {
    /// The user's id.
    pub id: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Skill name → proficiency (1–5).
    #[schema(value_type = Object, example = json!({"billing": 5, "spanish": 3}))]
    pub skills: BTreeMap<String, u8>,
    pub languages: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub max_concurrent_calls: u32,
    /// Calls held or offered now.
    pub active_calls: u32,
    /// `offline`, `available`, `on_call`, `after_call_work`, `break` or `missed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_reason: Option<String>,
    pub status_since: DateTime<Utc>,
    /// Seconds spent in each status, the current one up to now included.
    #[schema(value_type = Object, example = json!({"offline": 600, "available": 1200, "on_call": 3400, "after_call_work": 300, "break": 900, "missed": 0}))]
    pub seconds_in_status: BTreeMap<&'static str, i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AgentOut {
    pub fn from_agent(a: &Agent, now: DateTime<Utc>) -> Self {
        AgentOut {
            id: a.id.to_string(),
            email: a.email.clone(),
            name: a.name.clone(),
            skills: a.skills.clone(),
            languages: a.languages.clone(),
            department: a.department.clone(),
            max_concurrent_calls: a.max_concurrent_calls,
            active_calls: a.active_calls,
            status: a.status.as_str().to_owned(),
            break_reason: a.break_reason.clone(),
            status_since: a.status_since,
            seconds_in_status: a.seconds_in_status(now),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentPatchIn {
    /// Skill name → proficiency, a whole number from 1 to 5; replaces every skill.
    #[schema(value_type = Option<Object>, example = json!({"billing": 5, "spanish": 3}))]
    pub skills: Option<serde_json::Map<String, Value>>,
    /// Language tags (`en`, `es-MX`); replaces the list.
    pub languages: Option<Vec<String>>,
    /// The id of the agent's department; null clears it.
    #[serde(default, deserialize_with = "super::contacts::double")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
    /// Calls the agent can hold at once, 1 to 10.
    pub max_concurrent_calls: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatusIn {
    /// `offline`, `available`, `on_call`, `after_call_work`, `break` or `missed`.
    pub status: Option<String>,
    /// Why: required with `break`, refused with any other status.
    pub reason: Option<String>,
}

fn status(field: &str, v: Option<&str>) -> ApiResult<Option<AgentStatus>> {
    v.map(|s| AgentStatus::parse(s.trim()).ok_or_else(|| ApiError::field(field, format!("must be one of {}", AgentStatus::names()))))
        .transpose()
}

#[utoipa::path(get, path = "/v1/agents", tag = "agents",
    params(("department" = Option<String>, Query), ("status" = Option<String>, Query, description = "offline, available, on_call, after_call_work, break or missed"),
        ("skill" = Option<String>, Query, description = "Agents having this skill"),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListOut<AgentOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_agents(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let filter = AgentFilter {
        department: fields::short("department", q.get("department"))?,
        status: status("status", q.get("status"))?,
        skill: q.get("skill").map(|s| agents::skill_name("skill", s)).transpose()?,
    };
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (rows, total) = state.store.list_agents(&auth.org.id, &filter, page).await?;
    let now = state.clock.now();
    let data = rows.iter().map(|a| AgentOut::from_agent(a, now)).collect();
    Ok(respond_list(data, total, page))
}

#[utoipa::path(get, path = "/v1/agents/{id}", tag = "agents", params(("id" = String, Path, description = "The agent's user id")),
    responses((status = 200, body = AgentOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_agent(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: UserId = path_id(&id, "agent")?;
    let a = state.store.get_agent(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &AgentOut::from_agent(&a, state.clock.now())))
}

fn parse_patch(p: &AgentPatchIn) -> ApiResult<AgentPatch> {
    let max = p
        .max_concurrent_calls
        .map(|m| {
            u32::try_from(m)
                .ok()
                .filter(|m| (1..=MAX_CONCURRENT_CALLS).contains(m))
                .ok_or_else(|| ApiError::field("maxConcurrentCalls", format!("must be from 1 to {MAX_CONCURRENT_CALLS}")))
        })
        .transpose()?;
    let department = match &p.department {
        Some(Some(d)) => {
            let id: DepartmentId = d
                .trim()
                .parse()
                .map_err(|_| ApiError::field("department", "must be a department id (dep_...)"))?;
            Some(Some(id.to_string()))
        }
        Some(None) => Some(None),
        None => None,
    };
    Ok(AgentPatch {
        skills: p.skills.as_ref().map(|s| agents::parse_skills("skills", s)).transpose()?,
        languages: p
            .languages
            .as_deref()
            .map(|l| agents::parse_languages("languages", l))
            .transpose()?,
        department,
        max_concurrent_calls: max,
    })
}

#[utoipa::path(patch, path = "/v1/agents/{id}", tag = "agents", params(("id" = String, Path, description = "The agent's user id")),
    request_body = AgentPatchIn,
    responses((status = 200, body = AgentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn update_agent(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<AgentPatchIn>,
) -> ApiResult<Response> {
    let id: UserId = path_id(&id, "agent")?;
    let patch = parse_patch(&body.value)?;
    if let Some(Some(d)) = &patch.department {
        let id: DepartmentId = path_id(d, "department")?;
        match state.store.get_department(&auth.org.id, &id).await {
            Err(switchboard_store::StoreError::NotFound(_)) => return Err(ApiError::field("department", "no such department")),
            other => other?,
        };
    }
    let a = state.store.update_agent(&auth.org.id, &id, patch, state.clock.now()).await?;
    Ok(respond(StatusCode::OK, false, &AgentOut::from_agent(&a, state.clock.now())))
}

#[utoipa::path(put, path = "/v1/agents/{id}/status", tag = "agents", operation_id = "set_agent_status", params(("id" = String, Path, description = "The agent's user id")),
    request_body = AgentStatusIn,
    responses((status = 200, body = AgentOut), (status = 400, body = ErrorBody),
        (status = 403, description = "Another agent's status, without agents.manage", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The state machine does not allow this move (details name the field, from and to)", body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn set_status(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<AgentStatusIn>,
) -> ApiResult<Response> {
    let id: UserId = path_id(&id, "agent")?;
    let to = status("status", body.value.status.as_deref())?.ok_or_else(|| ApiError::field("status", "is required"))?;
    // Found first: an unknown agent is a 404 to everyone.
    state.store.get_agent(&auth.org.id, &id).await?;
    let own = matches!(&*auth.actor, Actor::User { id: me, .. } if *me == id);
    if !own && !auth.allows("agents.manage") {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            "Setting another agent's status requires the 'agents.manage' permission",
        )
        .with_details(json!({ "permission": "agents.manage" })));
    }
    let a = state
        .store
        .set_agent_status(&auth.org.id, &id, to, body.value.reason.clone(), state.clock.now())
        .await?;
    Ok(respond(StatusCode::OK, false, &AgentOut::from_agent(&a, state.clock.now())))
}
