//! `/v1/campaigns`: create (from contacts and contact lists, with a
//! schedule and call settings), read with progress, list, and status
//! changes (start, pause, resume, cancel).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use switchboard_domain::campaign::{CampaignAction, format_hhmm};
use switchboard_domain::{CallStatus, Campaign, CampaignId, CampaignStatus, ContactId, ContactListId, TemplateId};
use switchboard_store::{CampaignStats, StoreError};
use utoipa::ToSchema;

use super::campaign_input::{CampaignIn, StatusIn, parse_ids, parse_schedule, parse_settings, stage};
use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::api::fields;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{JsonBody, QueryMap, path_id};
use crate::idempotency;
use crate::identity::auth::Auth;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct CallHoursOut {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<DateTime<Utc>>,
    pub time_zone: String,
    pub call_hours: CallHoursOut,
    pub days_of_week: Vec<u8>,
    pub override_quiet_hours: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryOut {
    pub max_attempts: u32,
    pub retry_interval: u32,
    pub retry_on: Vec<&'static str>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallSettingsOut {
    pub max_concurrent_calls: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_per_second: Option<u32>,
    pub retry_settings: RetryOut,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: &'static str,
    pub template_id: String,
    pub total_contacts: i64,
    pub completed_calls: i64,
    pub successful_calls: i64,
    /// Share of contacts the dialer is done with, in percent.
    pub progress: f64,
    pub schedule: ScheduleOut,
    pub call_settings: CallSettingsOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Value>,
    pub contact_list_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

/// A campaign in a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignSummaryOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: &'static str,
    pub total_contacts: i64,
    pub completed_calls: i64,
    pub progress: f64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusOut {
    pub id: String,
    pub status: &'static str,
    pub message: String,
}

fn progress(s: &CampaignStats) -> f64 {
    if s.total_contacts == 0 {
        return 0.0;
    }
    (s.done_contacts as f64 * 1000.0 / s.total_contacts as f64).round() / 10.0
}

/// The native spelling of a retryable status.
fn status_name(s: CallStatus) -> &'static str {
    super::calls::native_status(s)
}

impl CampaignOut {
    pub fn from_campaign(c: &Campaign, s: &CampaignStats) -> Self {
        let r = &c.settings.retry;
        CampaignOut {
            id: c.id.to_string(),
            name: c.name.clone(),
            description: c.description.clone(),
            status: c.status.as_str(),
            template_id: c.template_id.to_string(),
            total_contacts: c.total_contacts,
            completed_calls: s.completed_calls,
            successful_calls: s.successful_calls,
            progress: progress(s),
            schedule: ScheduleOut {
                start_date: c.schedule.start_date,
                end_date: c.schedule.end_date,
                time_zone: c.schedule.time_zone.name().to_owned(),
                call_hours: CallHoursOut {
                    start: format_hhmm(c.schedule.call_start),
                    end: format_hhmm(c.schedule.call_end),
                },
                days_of_week: c.schedule.days_of_week.clone(),
                override_quiet_hours: c.schedule.override_quiet_hours,
            },
            call_settings: CallSettingsOut {
                max_concurrent_calls: c.settings.max_concurrent_calls,
                caller_id: c.settings.caller_id.clone(),
                calls_per_second: c.settings.calls_per_second,
                retry_settings: RetryOut {
                    max_attempts: r.max_attempts,
                    retry_interval: r.retry_interval_mins,
                    retry_on: r.retry_on.iter().map(|s| status_name(*s)).collect(),
                },
            },
            variables: c.variables.clone(),
            contact_list_ids: c.contact_list_ids.iter().map(|l| l.to_string()).collect(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            started_at: c.started_at,
            last_run_at: c.last_run_at,
            completed_at: c.completed_at,
        }
    }
}

#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns", request_body = CampaignIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = CampaignOut), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn create_campaign(
    State(state): State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody<CampaignIn>,
) -> ApiResult<Response> {
    let input = &body.value;
    let org = auth.org.clone();
    let name = fields::short("name", input.name.as_deref())?.ok_or_else(|| ApiError::field("name", "is required"))?;
    let template_id: TemplateId = input
        .template_id
        .as_deref()
        .ok_or_else(|| ApiError::field("templateId", "is required"))?
        .parse()
        .map_err(|_| ApiError::field("templateId", "no template with this id"))?;
    let schedule = parse_schedule(input.schedule.as_ref(), &org)?;
    let settings = parse_settings(input.call_settings.as_ref(), &org)?;
    let variables = fields::object("variables", input.variables.as_ref())?;
    let contact_ids: Vec<ContactId> = parse_ids("contacts", input.contacts.as_ref())?;
    let list_ids: Vec<ContactListId> = parse_ids("contactListIds", input.contact_list_ids.as_ref())?;
    if contact_ids.is_empty() && list_ids.is_empty() {
        return Err(ApiError::field("contacts", "a campaign needs contacts or contactListIds"));
    }
    let template = state.store.get_template(&org.id, &template_id).await.map_err(|e| match e {
        StoreError::NotFound(_) => ApiError::field("templateId", "no template with this id"),
        other => other.into(),
    })?;
    let implied: BTreeSet<&str> = switchboard_store::campaigns::CONTACT_VARIABLES.into_iter().collect();
    let missing = switchboard_domain::template::missing_from(&template.variables, variables.as_ref(), &implied);
    if !missing.is_empty() {
        return Err(super::templates::missing_variables(&missing));
    }
    for (i, l) in list_ids.iter().enumerate() {
        state.store.get_contact_list(&org.id, l).await.map_err(|e| match e {
            StoreError::NotFound(_) => ApiError::field(format!("contactListIds[{i}]"), "no contact list with this id"),
            other => other.into(),
        })?;
    }
    let explicit = state.store.contacts_by_ids(&org.id, &contact_ids).await?;
    if let Some(i) = contact_ids.iter().position(|id| !explicit.iter().any(|c| &c.id == id)) {
        return Err(ApiError::field(format!("contacts[{i}]"), "no contact with this id"));
    }
    let now = switchboard_domain::now();
    let campaign = Campaign {
        id: CampaignId::new(),
        org_id: org.id.clone(),
        name,
        description: fields::long("description", input.description.as_deref())?,
        status: CampaignStatus::Scheduled,
        template_id,
        schedule,
        settings,
        variables,
        contact_list_ids: list_ids,
        total_contacts: 0,
        created_at: now,
        updated_at: now,
        started_at: None,
        last_run_at: None,
        completed_at: None,
    };
    let out = idempotency::run(
        &state,
        &auth,
        &headers,
        (&method, uri.path(), &body.raw),
        StatusCode::CREATED,
        |idem| {
            let state = state.clone();
            async move {
                stage(&state, &org, &campaign, explicit).await?;
                state.store.create_campaign(campaign, idem).await
            }
        },
    )
    .await?;
    let stats = CampaignStats {
        total_contacts: out.value.total_contacts,
        ..Default::default()
    };
    Ok(respond(out.status, out.replayed, &CampaignOut::from_campaign(&out.value, &stats)))
}

#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, body = CampaignOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_campaign(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CampaignId = path_id(&id, "campaign")?;
    let c = state.store.get_campaign(&auth.org.id, &id).await?;
    let stats = state.store.campaign_stats(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &CampaignOut::from_campaign(&c, &stats)))
}

#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns",
    params(("status" = Option<String>, Query, description = "scheduled, active, paused, completed or cancelled"),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListOut<CampaignSummaryOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_campaigns(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let status = q
        .get("status")
        .map(|s| {
            CampaignStatus::parse(s)
                .ok_or_else(|| ApiError::field("status", "must be one of scheduled, active, paused, completed, cancelled"))
        })
        .transpose()?;
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (rows, total) = state.store.list_campaigns(&auth.org.id, status, page).await?;
    let mut data = Vec::with_capacity(rows.len());
    for c in &rows {
        let s = state.store.campaign_stats(&auth.org.id, &c.id).await?;
        data.push(CampaignSummaryOut {
            id: c.id.to_string(),
            name: c.name.clone(),
            description: c.description.clone(),
            status: c.status.as_str(),
            total_contacts: c.total_contacts,
            completed_calls: s.completed_calls,
            progress: progress(&s),
            created_at: c.created_at,
        });
    }
    Ok(respond_list(data, total, page))
}

#[utoipa::path(post, path = "/v1/campaigns/{id}/status", tag = "campaigns", params(("id" = String, Path)), request_body = StatusIn,
    responses((status = 200, body = StatusOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn set_status(
    State(state): State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody<StatusIn>,
) -> ApiResult<Response> {
    let id: CampaignId = path_id(&id, "campaign")?;
    let raw = body
        .value
        .status
        .as_deref()
        .ok_or_else(|| ApiError::field("status", "is required"))?;
    let action =
        CampaignAction::parse(raw).ok_or_else(|| ApiError::field("status", "must be 'active', 'paused', 'resume' or 'cancelled'"))?;
    let at = state.telephony.clock.now();
    let out = idempotency::run(&state, &auth, &headers, (&method, uri.path(), &body.raw), StatusCode::OK, |idem| {
        let (store, org) = (state.store.clone(), auth.org.id.clone());
        async move { store.set_campaign_status(&org, &id, action, at, idem).await }
    })
    .await
    .map_err(|e| {
        // The generic transition error speaks of calls; this one is a campaign's.
        if e.kind == ErrorKind::IllegalTransition
            && let Some(d) = &e.details
        {
            let (from, to) = (d["from"].as_str().unwrap_or("?"), d["to"].as_str().unwrap_or("?"));
            return ApiError::new(
                ErrorKind::IllegalTransition,
                format!("A campaign cannot move from '{from}' to '{to}'"),
            )
            .with_details(d.clone());
        }
        e
    })?;
    let c: Campaign = out.value;
    let verb = match c.status {
        CampaignStatus::Active if action == CampaignAction::Start => "started",
        CampaignStatus::Active => "resumed",
        CampaignStatus::Paused => "paused",
        CampaignStatus::Cancelled => "cancelled",
        CampaignStatus::Completed => "completed",
        CampaignStatus::Scheduled => "scheduled",
    };
    if !out.replayed {
        // Named as the campaign's event is (`campaign.canceled`).
        let action = if c.status == CampaignStatus::Cancelled { "canceled" } else { verb };
        crate::identity::audit::by(
            &state,
            &auth,
            &format!("campaign.{action}"),
            Some(c.id.to_string()),
            Some(serde_json::json!({ "name": c.name })),
        )
        .await;
    }
    Ok(respond(
        out.status,
        out.replayed,
        &StatusOut {
            id: c.id.to_string(),
            status: c.status.as_str(),
            message: format!("Campaign successfully {verb}"),
        },
    ))
}
