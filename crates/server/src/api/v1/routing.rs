//! Inbound calls into queues: the `route` of `POST /v1/calls` (a queue, a
//! department or skills), what a queued call shows (its queue, state and
//! the estimated wait), and `POST /v1/agents/{id}/accept`, by which an
//! agent takes a call the router offered.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_domain::id::{DepartmentId, QueueId};
use switchboard_domain::routing::estimated_wait_secs;
use switchboard_domain::{CallId, OrgId, UserId, agents};
use switchboard_store::routing::QueuedCall;
use switchboard_store::{Page, StoreError};
use utoipa::ToSchema;

use super::agents::AgentOut;
use super::{ErrorBody, respond};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{JsonBody, path_id};
use crate::identity::auth::Auth;
use crate::identity::caller::Actor;
use crate::state::AppState;

/// Mean handle time assumed for a queue with no finished calls yet (seconds).
const DEFAULT_HANDLE_SECS: f64 = 180.0;

/// Where an inbound call waits: exactly one of the three.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteIn {
    /// A queue id.
    pub queue: Option<String>,
    /// A department id: its highest-priority queue.
    pub department: Option<String>,
    /// Skill name → proficiency: the highest-priority queue whose required
    /// skills are all among these, at these levels or below.
    #[schema(value_type = Option<Object>, example = json!({"spanish": 3}))]
    pub skills: Option<serde_json::Map<String, Value>>,
}

/// A queued call's place.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuedOut {
    pub queue_id: String,
    /// `waiting`, `offered`, `connected`, `done` or `abandoned`.
    pub state: &'static str,
    /// Calls waiting in the queue (this one included while it waits).
    pub waiting: u32,
    /// Agents online with the queue's skills.
    pub staffed: u32,
    /// Erlang C's average wait for a new caller, from the queue's arrivals
    /// in the last hour, its recent handle times and the agents staffed;
    /// absent when the agents staffed cannot keep up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_wait_seconds: Option<u64>,
}

/// The queue an inbound call's `route` names (400 naming `route.*` when
/// it names none of the organisation's).
pub async fn resolve(state: &AppState, org: &OrgId, r: &RouteIn) -> ApiResult<QueueId> {
    let given = [r.queue.is_some(), r.department.is_some(), r.skills.is_some()]
        .iter()
        .filter(|g| **g)
        .count();
    if given != 1 {
        return Err(ApiError::field("route", "must name exactly one of queue, department or skills"));
    }
    if let Some(q) = &r.queue {
        let id: QueueId = q
            .trim()
            .parse()
            .map_err(|_| ApiError::field("route.queue", "must be a queue id (que_...)"))?;
        return match state.store.get_queue(org, &id).await {
            Ok(q) => Ok(q.id),
            Err(StoreError::NotFound(_)) => Err(ApiError::field("route.queue", "no such queue")),
            Err(e) => Err(e.into()),
        };
    }
    // Queues come highest priority first.
    let all = Page { page: 1, limit: 1000 };
    if let Some(d) = &r.department {
        let id: DepartmentId = d
            .trim()
            .parse()
            .map_err(|_| ApiError::field("route.department", "must be a department id (dep_...)"))?;
        let (queues, _) = state.store.list_queues(org, Some(&id), Page { page: 1, limit: 1 }).await?;
        return queues
            .into_iter()
            .next()
            .map(|q| q.id)
            .ok_or_else(|| ApiError::field("route.department", "no queue belongs to this department"));
    }
    let have = agents::parse_skills("route.skills", r.skills.as_ref().expect("one of the three is given"))?;
    let (queues, _) = state.store.list_queues(org, None, all).await?;
    queues
        .into_iter()
        .find(|q| !q.skills.is_empty() && q.skills.iter().all(|(k, min)| have.get(k).is_some_and(|l| l >= min)))
        .map(|q| q.id)
        .ok_or_else(|| ApiError::field("route.skills", "no queue requires only these skills"))
}

/// What a queued call shows, with the estimated wait now.
pub async fn queued_view(state: &AppState, q: &QueuedCall) -> ApiResult<QueuedOut> {
    let f = state.store.queue_figures(&q.org_id, &q.queue_id, state.clock.now()).await?;
    let arrivals = f64::from(f.arrivals_last_hour.max(1)) / 3600.0;
    let wait = estimated_wait_secs(arrivals, f.mean_handle_secs.unwrap_or(DEFAULT_HANDLE_SECS), f.staffed);
    Ok(QueuedOut {
        queue_id: q.queue_id.to_string(),
        state: q.state.as_str(),
        waiting: f.waiting,
        staffed: f.staffed,
        estimated_wait_seconds: wait.map(|w| w.ceil() as u64),
    })
}

/// The queue view of a call, if it was ever queued.
pub async fn view_of(state: &AppState, org: &OrgId, call: &CallId) -> ApiResult<Option<QueuedOut>> {
    match state.store.queued_call(org, call).await? {
        Some(q) => Ok(Some(queued_view(state, &q).await?)),
        None => Ok(None),
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptIn {
    /// The offered call.
    pub call_id: Option<String>,
}

#[utoipa::path(post, path = "/v1/agents/{id}/accept", tag = "agents", params(("id" = String, Path, description = "The agent's user id")),
    request_body = AcceptIn,
    responses((status = 200, description = "The agent, now on the call", body = AgentOut), (status = 400, body = ErrorBody),
        (status = 403, description = "Another agent's offer, without agents.manage", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "No open offer of this call to this agent", body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn accept(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, body: JsonBody<AcceptIn>) -> ApiResult<Response> {
    let id: UserId = path_id(&id, "agent")?;
    let call: CallId = body
        .value
        .call_id
        .as_deref()
        .ok_or_else(|| ApiError::field("callId", "is required"))?
        .trim()
        .parse()
        .map_err(|_| ApiError::field("callId", "must be a call id (call_...)"))?;
    state.store.get_agent(&auth.org.id, &id).await?;
    let own = matches!(&*auth.actor, Actor::User { id: me, .. } if *me == id);
    if !own && !auth.allows("agents.manage") {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            "Accepting for another agent requires the 'agents.manage' permission",
        )
        .with_details(json!({ "permission": "agents.manage" })));
    }
    let a = state.store.accept_offer(&auth.org.id, &id, &call, state.clock.now()).await?;
    Ok(respond(StatusCode::OK, false, &AgentOut::from_agent(&a, state.clock.now())))
}
