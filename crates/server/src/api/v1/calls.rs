//! `/v1/calls`: create, read, list, cancel, delete, and the event routes
//! telephony backends report through.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_domain::call::CallReport;
use switchboard_domain::{Call, CallId, CallStatus, Organisation, TimelineEntry};
use switchboard_store::{CallFilter, ReportOutcome};
use utoipa::ToSchema;

use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, Pagination, respond};
use crate::api::fields;
use crate::core::call_list;
use crate::core::calls::{self as core, NewCall};
use crate::core::dial::{self, DialOptions};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryMap, check_range, path_id};
use crate::idempotency;
use crate::identity::auth::Auth;
use crate::state::AppState;

/// The native spelling of each status (the SaaS spec writes `in-progress`
/// and `cancelled`). Inputs accept every spelling.
pub fn native_status(s: CallStatus) -> &'static str {
    match s {
        CallStatus::Scheduled => "scheduled",
        CallStatus::Queued => "queued",
        CallStatus::Initiated => "initiated",
        CallStatus::Ringing => "ringing",
        CallStatus::InProgress => "in-progress",
        CallStatus::Completed => "completed",
        CallStatus::Busy => "busy",
        CallStatus::NoAnswer => "no-answer",
        CallStatus::Failed => "failed",
        CallStatus::Canceled => "cancelled",
        CallStatus::Voicemail => "voicemail",
    }
}

/// A call to create. `phone` is the customer's number; on outbound calls
/// it is dialled from `callerId`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallIn {
    /// The customer's number (E.164, or national in the organisation's region). Required unless `contactId` is given.
    pub phone: Option<String>,
    /// Our number: the caller id shown on outbound calls.
    pub caller_id: Option<String>,
    /// `outbound` (default) or `inbound`.
    pub direction: Option<String>,
    pub contact_id: Option<String>,
    pub template_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Value>,
    /// When to place the call (ISO 8601); the call starts as `scheduled`.
    pub scheduled: Option<String>,
    /// Record a call that already happened in this status.
    pub status: Option<String>,
    pub customer_name: Option<String>,
    /// Your CRM's id for the customer.
    pub customer_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub customer_context: Option<Value>,
    pub call_type: Option<String>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub campaign_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// The carrier's id for the call (unique per organisation).
    pub external_id: Option<String>,
    pub initiated_at: Option<String>,
    pub answered_at: Option<String>,
    pub ended_at: Option<String>,
    pub duration: Option<i64>,
    pub outcome: Option<String>,
    pub notes: Option<String>,
    /// Recording URL.
    pub recording: Option<String>,
    pub transcript: Option<String>,
    pub sentiment: Option<String>,
    pub topics: Option<Vec<String>>,
    pub summary: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub collected_data: Option<Value>,
    pub cost: Option<f64>,
    /// Dial even outside the callee's 08:00-21:00 calling window (your responsibility).
    pub override_quiet_hours: Option<bool>,
    /// Simulator only: `{persona, answers}` pins the simulated callee (personas: interested,
    /// not_interested, callback, wants_human, wrong_number, angry, silent, voicemail; answers in order:
    /// digits are key presses, "" is silence, "<hangup>" hangs up, other text is speech).
    #[schema(value_type = Option<Object>)]
    pub simulation: Option<Value>,
    /// Inbound calls only: put the call in a queue for an agent, named by
    /// exactly one of `queue`, `department` or `skills`. The answer then
    /// carries `queue` with the estimated wait.
    pub route: Option<super::routing::RouteIn>,
}

impl CallIn {
    /// A call to place (not one being logged after the fact): no reported
    /// status, outbound, no carrier id and no times of its own.
    fn asks_to_dial(&self) -> bool {
        self.status.is_none()
            && self.direction.as_deref().is_none_or(|d| !d.trim().eq_ignore_ascii_case("inbound"))
            && self.external_id.is_none()
            && self.initiated_at.is_none()
            && self.answered_at.is_none()
            && self.ended_at.is_none()
            && self.duration.is_none()
    }
}

/// What a telephony backend, agent or analysis reports about a call. Every
/// field is optional; reports may repeat and arrive out of order.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallEventIn {
    /// The status reached (`ringing`, `in-progress`/`answered`, `completed`, `failed`, `no-answer`, `busy`, ...).
    pub status: Option<String>,
    /// Allows one final status to replace another.
    pub correction: Option<bool>,
    /// When it happened (ISO 8601); defaults to now.
    pub timestamp: Option<String>,
    pub duration: Option<i64>,
    pub outcome: Option<String>,
    pub notes: Option<String>,
    pub recording: Option<String>,
    pub transcript: Option<String>,
    pub sentiment: Option<String>,
    pub topics: Option<Vec<String>>,
    pub summary: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub collected_data: Option<Value>,
    pub cost: Option<f64>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub answered_at: Option<String>,
    /// An in-call event for the timeline: `mute`, `unmute`, `hold`, `unhold`, `transfer`, `dtmf`, `note`, ...
    pub event: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// A report keyed by the carrier's call id: creates the call the first time.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalEventIn {
    /// The carrier's id for the call (Twilio CallSid, ...).
    pub external_id: Option<String>,
    pub direction: Option<String>,
    /// The customer's number.
    pub phone: Option<String>,
    /// Our number.
    pub caller_id: Option<String>,
    pub customer_name: Option<String>,
    pub customer_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub customer_context: Option<Value>,
    pub call_type: Option<String>,
    pub campaign_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    // What any report carries, as in `CallEventIn` (spelt out rather than
    // flattened, so that unknown fields are seen and refused).
    pub status: Option<String>,
    pub correction: Option<bool>,
    pub timestamp: Option<String>,
    pub duration: Option<i64>,
    pub outcome: Option<String>,
    pub notes: Option<String>,
    pub recording: Option<String>,
    pub transcript: Option<String>,
    pub sentiment: Option<String>,
    pub topics: Option<Vec<String>>,
    pub summary: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub collected_data: Option<Value>,
    pub cost: Option<f64>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub answered_at: Option<String>,
    pub event: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

impl ExternalEventIn {
    /// The report part, as `/v1/calls/{id}/events` takes it.
    fn report(&self) -> CallEventIn {
        CallEventIn {
            status: self.status.clone(),
            correction: self.correction,
            timestamp: self.timestamp.clone(),
            duration: self.duration,
            outcome: self.outcome.clone(),
            notes: self.notes.clone(),
            recording: self.recording.clone(),
            transcript: self.transcript.clone(),
            sentiment: self.sentiment.clone(),
            topics: self.topics.clone(),
            summary: self.summary.clone(),
            collected_data: self.collected_data.clone(),
            cost: self.cost,
            agent_id: self.agent_id.clone(),
            agent_name: self.agent_name.clone(),
            answered_at: self.answered_at.clone(),
            event: self.event.clone(),
            data: self.data.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineOut {
    /// `status.ringing`, `hold`, `transfer`, ...
    pub kind: String,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// A call as the native API shows it. Absent values are omitted.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallOut {
    pub id: String,
    pub status: &'static str,
    pub direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub customer_context: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiated_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ringing_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    /// When the conversation started (answered, else dialled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Talk time in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Recording URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub collected_data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// When a call waiting to be dialled will be (its schedule, or the next opening of the callee's calling window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Calls routed to a queue: the queue, the call's state there and the estimated wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<super::routing::QueuedOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The call's timeline (single-call reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<TimelineOut>>,
}

impl CallOut {
    /// The call with its links: the transcript URL (as the SaaS spec shows)
    /// once the call has a transcript or was answered.
    pub fn with_links(c: &Call, with_timeline: bool, cfg: &crate::config::Config) -> Self {
        let mut out = Self::from_call(c, with_timeline);
        if c.transcript.is_some() || c.answered_at.is_some() {
            out.transcript = Some(cfg.link(&format!("/v1/calls/{}/transcript", c.id)));
        }
        out
    }

    pub fn from_call(c: &Call, with_timeline: bool) -> Self {
        let outbound = c.direction == switchboard_domain::Direction::Outbound;
        CallOut {
            id: c.id.to_string(),
            status: native_status(c.status),
            direction: c.direction.as_str(),
            phone: c
                .customer_phone
                .clone()
                .or_else(|| if outbound { c.to.clone() } else { c.from.clone() }),
            caller_id: if outbound { c.from.clone() } else { c.to.clone() },
            from: c.from.clone(),
            to: c.to.clone(),
            contact_id: c.contact_id.as_ref().map(|v| v.to_string()),
            customer_name: c.customer_name.clone(),
            customer_id: c.customer_external_id.clone(),
            customer_context: c.customer_context.clone(),
            call_type: c.call_type.clone(),
            agent_id: c.agent_id.clone(),
            agent_name: c.agent_name.clone(),
            campaign_id: c.campaign_id.clone(),
            template_id: c.template_id.clone(),
            variables: c.variables.clone(),
            metadata: c.metadata.clone(),
            scheduled: c.scheduled_at,
            initiated_at: c.initiated_at,
            ringing_at: c.ringing_at,
            answered_at: c.answered_at,
            started_at: c.answered_at.or(c.initiated_at),
            ended_at: c.ended_at,
            duration: c.duration,
            outcome: c.outcome.clone(),
            notes: c.notes.clone(),
            recording: c.recording_url.clone(),
            transcript: None,
            sentiment: c.sentiment.map(|s| s.as_str()),
            topics: c.topics.clone(),
            summary: c.summary.clone(),
            collected_data: c.collected_data.clone(),
            cost: c.cost,
            external_id: c.external_id.clone(),
            next_attempt_at: None,
            queue: None,
            created_at: c.created_at,
            updated_at: c.updated_at,
            events: with_timeline.then(|| c.timeline.iter().map(timeline_out).collect()),
        }
    }
}

fn timeline_out(e: &TimelineEntry) -> TimelineOut {
    TimelineOut {
        kind: e.kind.clone(),
        at: e.at,
        data: e.data.clone(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CancelOut {
    pub id: String,
    pub status: &'static str,
    pub message: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    pub call: CallOut,
    /// `apply`, `correct`, `repeat` (already known) or `late` (older than what is known); absent when no status was reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition: Option<String>,
    /// Whether the report changed anything.
    pub changed: bool,
    /// Whether the report created the call.
    pub created: bool,
}

impl EventOut {
    fn from_outcome(o: &ReportOutcome) -> Self {
        EventOut {
            call: CallOut::from_call(&o.call, true),
            transition: o.transition.clone(),
            changed: o.changed,
            created: o.created,
        }
    }
}

/// Parses the fields every report carries.
fn parse_report(e: &CallEventIn) -> ApiResult<CallReport> {
    Ok(CallReport {
        status: fields::status("status", e.status.as_deref())?,
        correction: e.correction.unwrap_or(false),
        at: fields::reported("timestamp", e.timestamp.as_deref())?,
        duration: fields::duration("duration", e.duration)?,
        outcome: fields::short("outcome", e.outcome.as_deref())?,
        notes: fields::long("notes", e.notes.as_deref())?,
        recording_url: fields::url("recording", e.recording.as_deref())?,
        transcript: fields::transcript("transcript", e.transcript.as_deref())?,
        sentiment: fields::sentiment("sentiment", e.sentiment.as_deref())?,
        topics: fields::labels("topics", e.topics.as_deref())?,
        summary: fields::long("summary", e.summary.as_deref())?,
        collected_data: fields::object("collectedData", e.collected_data.as_ref())?,
        cost: fields::cost("cost", e.cost)?,
        agent_id: fields::short("agentId", e.agent_id.as_deref())?,
        agent_name: fields::short("agentName", e.agent_name.as_deref())?,
        answered_at: fields::reported("answeredAt", e.answered_at.as_deref())?,
        event: fields::short("event", e.event.as_deref())?,
        event_data: fields::object("data", e.data.as_ref())?,
        ..Default::default()
    })
}

fn parse_new_call(input: &CallIn, org: &Organisation) -> ApiResult<NewCall> {
    let report = CallReport {
        at: fields::reported("endedAt", input.ended_at.as_deref())?,
        duration: fields::duration("duration", input.duration)?,
        outcome: fields::short("outcome", input.outcome.as_deref())?,
        notes: fields::long("notes", input.notes.as_deref())?,
        recording_url: fields::url("recording", input.recording.as_deref())?,
        transcript: fields::transcript("transcript", input.transcript.as_deref())?,
        sentiment: fields::sentiment("sentiment", input.sentiment.as_deref())?,
        topics: fields::labels("topics", input.topics.as_deref())?,
        summary: fields::long("summary", input.summary.as_deref())?,
        collected_data: fields::object("collectedData", input.collected_data.as_ref())?,
        cost: fields::cost("cost", input.cost)?,
        answered_at: fields::reported("answeredAt", input.answered_at.as_deref())?,
        ..Default::default()
    };
    Ok(NewCall {
        direction: fields::direction("direction", input.direction.as_deref())?.unwrap_or_default(),
        require_number: true,
        customer_number: fields::opt_phone("phone", input.phone.as_deref(), org)?,
        our_number: fields::opt_phone("callerId", input.caller_id.as_deref(), org)?,
        contact_id: input
            .contact_id
            .as_deref()
            .map(|c| c.parse().map_err(|_| ApiError::field("contactId", "no contact with this id")))
            .transpose()?,
        contact_field: "contactId",
        scheduled_at: fields::scheduled("scheduled", input.scheduled.as_deref())?,
        status: fields::status("status", input.status.as_deref())?,
        customer_name: fields::short("customerName", input.customer_name.as_deref())?,
        customer_external_id: fields::short("customerId", input.customer_id.as_deref())?,
        customer_context: fields::object("customerContext", input.customer_context.as_ref())?,
        call_type: fields::short("callType", input.call_type.as_deref())?,
        agent_id: fields::short("agentId", input.agent_id.as_deref())?,
        agent_name: fields::short("agentName", input.agent_name.as_deref())?,
        campaign_id: fields::short("campaignId", input.campaign_id.as_deref())?,
        template_id: fields::short("templateId", input.template_id.as_deref())?,
        variables: fields::object("variables", input.variables.as_ref())?,
        metadata: fields::object("metadata", input.metadata.as_ref())?,
        external_id: fields::short("externalId", input.external_id.as_deref())?,
        initiated_at: fields::reported("initiatedAt", input.initiated_at.as_deref())?,
        report,
    })
}

/// An inbound call with a `route`: stored as a logged call, then put in
/// its queue; the answer shows the queue and the estimated wait.
async fn create_routed_call(
    state: &AppState,
    auth: &Auth,
    (method, uri, headers): (&Method, &Uri, &HeaderMap),
    body: &JsonBody<CallIn>,
    spec: NewCall,
    route: &super::routing::RouteIn,
) -> ApiResult<Response> {
    if spec.direction != switchboard_domain::Direction::Inbound {
        return Err(ApiError::field(
            "route",
            "only inbound calls are routed to a queue (direction: inbound)",
        ));
    }
    if spec.status.is_some_and(|s| s.is_terminal()) {
        return Err(ApiError::field("route", "an ended call cannot wait in a queue"));
    }
    let queue = super::routing::resolve(state, &auth.org.id, route).await?;
    let out = idempotency::run(state, auth, headers, (method, uri.path(), &body.raw), StatusCode::CREATED, |idem| {
        core::create(state, &auth.org, spec, "phone", idem)
    })
    .await?;
    let queued = match state.store.queued_call(&auth.org.id, &out.value.id).await? {
        Some(q) => q,
        None => {
            state
                .store
                .enqueue_call(&auth.org.id, &out.value.id, &queue, state.clock.now())
                .await?
        }
    };
    let mut view = CallOut::with_links(&out.value, false, &state.cfg);
    view.queue = Some(super::routing::queued_view(state, &queued).await?);
    Ok(respond(out.status, out.replayed, &view))
}

#[utoipa::path(post, path = "/v1/calls", tag = "calls", request_body = CallIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = CallOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn create_call(
    State(state): State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody<CallIn>,
) -> ApiResult<Response> {
    let spec = parse_new_call(&body.value, &auth.org)?;
    core::check_template(&state, &auth.org, &spec).await?;
    if let Some(route) = &body.value.route {
        return create_routed_call(&state, &auth, (&method, &uri, &headers), &body, spec, route).await;
    }
    if body.value.asks_to_dial() {
        let opts = DialOptions {
            override_window: body.value.override_quiet_hours.unwrap_or(false),
            simulation: dial::simulation("simulation", body.value.simulation.as_ref())?,
            immediate: false,
        };
        let now = state.telephony.clock.now();
        let out = idempotency::run(
            &state,
            &auth,
            &headers,
            (&method, uri.path(), &body.raw),
            StatusCode::CREATED,
            |idem| async {
                let r = dial::request(&state, &auth.org, spec, "phone", opts, idem).await?;
                Ok(r.call)
            },
        )
        .await?;
        if !out.replayed {
            core::count_template_use(&state, &out.value).await;
        }
        let mut view = CallOut::with_links(&out.value, false, &state.cfg);
        view.next_attempt_at = dial::next_attempt(&state, &out.value).await?.filter(|t| *t > now);
        return Ok(respond(out.status, out.replayed, &view));
    }
    if body.value.simulation.is_some() {
        return Err(ApiError::field(
            "simulation",
            "only applies to calls the platform places (no status, outbound)",
        ));
    }
    let out = idempotency::run(
        &state,
        &auth,
        &headers,
        (&method, uri.path(), &body.raw),
        StatusCode::CREATED,
        |idem| core::create(&state, &auth.org, spec, "phone", idem),
    )
    .await?;
    if !out.replayed {
        core::count_template_use(&state, &out.value).await;
    }
    Ok(respond(
        out.status,
        out.replayed,
        &CallOut::with_links(&out.value, false, &state.cfg),
    ))
}

#[utoipa::path(get, path = "/v1/calls/{id}", tag = "calls", params(("id" = String, Path)),
    responses((status = 200, body = CallOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_call(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let call = state.store.get_call(&auth.org.id, &id).await?;
    let mut view = CallOut::with_links(&call, true, &state.cfg);
    view.next_attempt_at = dial::next_attempt(&state, &call).await?;
    if call.direction == switchboard_domain::Direction::Inbound {
        view.queue = super::routing::view_of(&state, &auth.org.id, &id).await?;
    }
    Ok(respond(StatusCode::OK, false, &view))
}

/// Reads the call-list filters shared with exports and analytics.
pub fn call_filter(q: &QueryMap, org: &Organisation) -> ApiResult<CallFilter> {
    let statuses = match q.get("status") {
        None => vec![],
        Some(list) => list
            .split(',')
            .map(|s| fields::status("status", Some(s)))
            .collect::<ApiResult<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect(),
    };
    let start = q.start("startDate", org.time_zone)?;
    let end = q.end("endDate", org.time_zone)?;
    check_range(start, end, "startDate")?;
    Ok(CallFilter {
        statuses,
        contact_id: fields::short("contactId", q.get("contactId"))?,
        campaign_id: fields::short("campaignId", q.get("campaignId"))?,
        agent_id: fields::short("agentId", q.get("agentId"))?,
        call_type: fields::short("callType", q.get("callType"))?,
        direction: fields::direction("direction", q.get("direction"))?,
        customer_external_id: fields::short("customerId", q.get("customerId"))?,
        start,
        end,
    })
}

#[utoipa::path(get, path = "/v1/calls", tag = "calls",
    params(("status" = Option<String>, Query, description = "One status or a comma-separated list"), ("contactId" = Option<String>, Query), ("campaignId" = Option<String>, Query),
        ("agentId" = Option<String>, Query), ("callType" = Option<String>, Query), ("direction" = Option<String>, Query), ("customerId" = Option<String>, Query),
        ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query),
        ("cursor" = Option<String>, Query, description = "`pagination.nextCursor` of the previous page: the next page, at the same cost however deep"),
        ("page" = Option<u32>, Query, description = "Offset pages: (page - 1) × limit may reach 10,000 rows; deeper pages are refused (400 naming `page`): follow `nextCursor`"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListOut<CallOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_calls(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let filter = call_filter(&q, &auth.org)?;
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = q.get("cursor").map(|c| call_list::parse_cursor("cursor", c)).transpose()?;
    if cursor.is_some() && q.get("page").is_some() {
        return Err(ApiError::field(
            "page",
            "cannot be combined with cursor: a cursor already names the page",
        ));
    }
    let out = call_list::page(&state, &auth.org.id, &filter, cursor, page, "page").await?;
    let data = out.calls.iter().map(|c| CallOut::with_links(c, false, &state.cfg)).collect();
    let mut pagination = Pagination::new(out.total, page);
    pagination.next_cursor = out.next_cursor;
    Ok(respond(StatusCode::OK, false, &ListOut { data, pagination }))
}

#[utoipa::path(post, path = "/v1/calls/{id}/cancel", tag = "calls", params(("id" = String, Path)),
    responses((status = 200, body = CancelOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn cancel_call(
    State(state): State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let out = idempotency::run(&state, &auth, &headers, (&method, uri.path(), b""), StatusCode::OK, |idem| {
        let (store, org) = (state.store.clone(), auth.org.id.clone());
        async move { store.cancel_call(&org, &id, idem).await }
    })
    .await?;
    let o: ReportOutcome = out.value;
    Ok(respond(
        out.status,
        out.replayed,
        &CancelOut {
            id: o.call.id.to_string(),
            status: native_status(o.call.status),
            message: "Call successfully cancelled",
        },
    ))
}

#[utoipa::path(delete, path = "/v1/calls/{id}", tag = "calls", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn delete_call(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id: CallId = path_id(&id, "call")?;
    state.store.delete_call(&auth.org.id, &id).await?;
    crate::workers::recordings::delete_for_call(&state, &auth.org.id, &id).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/calls/{id}/events", tag = "calls", params(("id" = String, Path)), request_body = CallEventIn,
    responses((status = 200, body = EventOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn report_event(
    State(state): State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody<CallEventIn>,
) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let report = parse_report(&body.value)?;
    let out = idempotency::run(&state, &auth, &headers, (&method, uri.path(), &body.raw), StatusCode::OK, |idem| {
        core::report(&state, &auth.org, &id, report, idem)
    })
    .await?;
    Ok(respond(out.status, out.replayed, &EventOut::from_outcome(&out.value)))
}

#[utoipa::path(post, path = "/v1/calls/events", tag = "calls", request_body = ExternalEventIn,
    responses((status = 200, body = EventOut), (status = 201, body = EventOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn report_external_event(
    State(state): State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody<ExternalEventIn>,
) -> ApiResult<Response> {
    let input = &body.value;
    let Some(external_id) = fields::short("externalId", input.external_id.as_deref())? else {
        return Err(ApiError::field("externalId", "is required"));
    };
    let report = parse_report(&input.report())?;
    let spec = NewCall {
        direction: fields::direction("direction", input.direction.as_deref())?.unwrap_or_default(),
        customer_number: input
            .phone
            .as_deref()
            .map(|p| switchboard_domain::PhoneNumber::normalise_reported(p, auth.org.region())),
        our_number: input
            .caller_id
            .as_deref()
            .map(|p| switchboard_domain::PhoneNumber::normalise_reported(p, auth.org.region())),
        customer_name: fields::short("customerName", input.customer_name.as_deref())?,
        customer_external_id: fields::short("customerId", input.customer_id.as_deref())?,
        customer_context: fields::object("customerContext", input.customer_context.as_ref())?,
        call_type: fields::short("callType", input.call_type.as_deref())?,
        campaign_id: fields::short("campaignId", input.campaign_id.as_deref())?,
        metadata: fields::object("metadata", input.metadata.as_ref())?,
        agent_id: report.agent_id.clone(),
        agent_name: report.agent_name.clone(),
        ..Default::default()
    };
    for (field, v) in [("phone", &spec.customer_number), ("callerId", &spec.our_number)] {
        fields::short(field, v.as_deref())?;
    }
    let out = idempotency::run(&state, &auth, &headers, (&method, uri.path(), &body.raw), StatusCode::OK, |idem| {
        core::report_external(&state, &auth.org, external_id, spec, "phone", report, idem)
    })
    .await?;
    let status = if out.value.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(respond(status, out.replayed, &EventOut::from_outcome(&out.value)))
}
