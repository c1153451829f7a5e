//! `/api/campaigns` over the core campaigns: get (with progress and
//! performance), list, `PUT` of the status, start, pause and stats.
//!
//! Statuses: the core's `scheduled` (created, not started) is Vocelio's
//! `draft`; `active`, `paused`, `completed` and `cancelled` keep their names.
//! Performance, in percent: `success_rate` = campaign calls a person
//! answered ÷ campaign calls dialled; `conversion_rate` = calls with a
//! success outcome ÷ the same; `roi` = (revenue − cost) ÷ cost, null
//! while no cost is known.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_analytics::query::{self, Filter};
use switchboard_domain::campaign::CampaignAction;
use switchboard_domain::{Campaign, CampaignId, CampaignStatus};
use switchboard_store::CampaignStats;
use utoipa::ToSchema;

use super::{Ctx, Envelope, ListEnvelope, Paging, VocelioErrorBody};
use crate::api::fields;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{JsonBody, Lenient, QueryMap, path_id};
use crate::identity::auth::Auth;
use crate::state::AppState;

pub fn status_out(s: CampaignStatus) -> &'static str {
    match s {
        CampaignStatus::Scheduled => "draft",
        other => other.as_str(),
    }
}

fn status_in(field: &str, v: &str) -> ApiResult<CampaignStatus> {
    match v.trim() {
        "draft" | "scheduled" => Ok(CampaignStatus::Scheduled),
        other => {
            CampaignStatus::parse(other).ok_or_else(|| ApiError::field(field, "must be one of draft, active, paused, completed, cancelled"))
        }
    }
}

fn pct(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        (n as f64 * 1000.0 / d as f64).round() / 10.0
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioProgress)]
pub struct Progress {
    pub total_prospects: i64,
    /// Prospects the dialer is done with.
    pub contacted: i64,
    pub progress_percentage: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioPerformance)]
pub struct Performance {
    pub success_rate: f64,
    pub conversion_rate: f64,
    pub roi: Option<f64>,
    pub revenue: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VocelioCampaign {
    pub campaign_id: String,
    pub name: String,
    pub description: Option<String>,
    /// draft, active, paused, completed or cancelled.
    pub status: &'static str,
    pub progress: Progress,
    pub performance: Performance,
    #[schema(value_type = Object)]
    pub settings: Value,
    #[schema(value_type = Object)]
    pub schedule: Value,
    pub created_at: String,
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn render(state: &AppState, auth: &Auth, c: &Campaign) -> ApiResult<VocelioCampaign> {
    let s: CampaignStats = state.store.campaign_stats(&auth.org.id, &c.id).await?;
    let f = Filter {
        campaigns: vec![c.id.to_string()],
        ..Filter::default()
    };
    let t = state.analytics.query(&auth.org.id, move |t| query::totals(t, &f)).await?;
    let revenue = (t.successful as f64 * state.cfg.conversion_value * 100.0).round() / 100.0;
    let progress = if s.total_contacts == 0 {
        0.0
    } else {
        (s.done_contacts as f64 * 1000.0 / s.total_contacts as f64).round() / 10.0
    };
    Ok(VocelioCampaign {
        campaign_id: c.id.to_string(),
        name: c.name.clone(),
        description: c.description.clone(),
        status: status_out(c.status),
        progress: Progress {
            total_prospects: s.total_contacts,
            contacted: s.done_contacts,
            progress_percentage: progress,
        },
        performance: Performance {
            success_rate: pct(t.answered, t.attempted),
            conversion_rate: pct(t.successful, t.attempted),
            roi: None,
            revenue,
        },
        settings: json!({
            "max_attempts_per_prospect": c.settings.retry.max_attempts,
            "max_concurrent_calls": c.settings.max_concurrent_calls,
        }),
        schedule: json!({
            "start_date": c.schedule.start_date.map(ts),
            "end_date": c.schedule.end_date.map(ts),
            "timezone": c.schedule.time_zone.name(),
        }),
        created_at: ts(c.created_at),
    })
}

#[utoipa::path(get, operation_id = "vocelio_campaigns_get", path = "/api/campaigns/{campaign_id}", tag = "vocelio", params(("campaign_id" = String, Path)),
    responses((status = 200, body = Envelope<VocelioCampaign>), (status = 404, body = VocelioErrorBody)))]
pub async fn get(State(state): State<AppState>, ctx: Ctx, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CampaignId = path_id(&id, "campaign")?;
    let c = state.store.get_campaign(&auth.org.id, &id).await?;
    Ok(ctx.ok(StatusCode::OK, render(&state, &auth, &c).await?))
}

#[utoipa::path(get, operation_id = "vocelio_campaigns_list", path = "/api/campaigns", tag = "vocelio",
    params(("status" = Option<String>, Query, description = "draft, active, paused, completed or cancelled"),
        ("campaign_type" = Option<String>, Query, description = "Our campaigns have no type: any value matches none"),
        ("search" = Option<String>, Query, description = "In the name or description (this page)"),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query), ("sort" = Option<String>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListEnvelope<VocelioCampaign>), (status = 400, body = VocelioErrorBody)))]
pub async fn list(State(state): State<AppState>, ctx: Ctx, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let paging = Paging::read(&q, &["created_at"])?;
    let status = q.get("status").map(|s| status_in("status", s)).transpose()?;
    let search = fields::short("search", q.get("search"))?.map(|s| s.to_lowercase());
    let typed = fields::short("campaign_type", q.get("campaign_type"))?.is_some();
    let (mut rows, total) = state.store.list_campaigns(&auth.org.id, status, paging.page).await?;
    rows.sort_by_key(|c| c.created_at);
    if paging.descending {
        rows.reverse();
    }
    let mut data = Vec::new();
    for c in rows.iter().filter(|_| !typed).filter(|c| {
        search
            .as_deref()
            .is_none_or(|s| c.name.to_lowercase().contains(s) || c.description.as_deref().is_some_and(|d| d.to_lowercase().contains(s)))
    }) {
        data.push(render(&state, &auth, c).await?);
    }
    let total = if typed || search.is_some() { data.len() as u64 } else { total };
    Ok(ctx.list(data, total, &paging))
}

async fn change(state: &AppState, auth: &Auth, id: &CampaignId, action: CampaignAction) -> ApiResult<Campaign> {
    let at = state.telephony.clock.now();
    let c = state
        .store
        .set_campaign_status(&auth.org.id, id, action, at, None)
        .await
        .map_err(|e| {
            let e: ApiError = e.into();
            match (e.kind, e.details.clone()) {
                (ErrorKind::IllegalTransition, Some(d)) => {
                    let (from, to) = (d["from"].as_str().unwrap_or("?"), d["to"].as_str().unwrap_or("?"));
                    ApiError::new(
                        ErrorKind::IllegalTransition,
                        format!("A campaign cannot move from '{from}' to '{to}'"),
                    )
                    .with_details(d)
                }
                _ => e,
            }
        })?;
    let verb = match action {
        CampaignAction::Start => "started",
        CampaignAction::Resume => "resumed",
        CampaignAction::Pause => "paused",
        CampaignAction::Cancel => "canceled",
    };
    crate::identity::audit::by(
        state,
        auth,
        &format!("campaign.{verb}"),
        Some(c.id.to_string()),
        Some(json!({ "name": c.name })),
    )
    .await;
    Ok(c)
}

/// The action that takes a campaign to `target` (a paused one resumes).
fn action_to(c: &Campaign, target: CampaignStatus) -> ApiResult<CampaignAction> {
    Ok(match target {
        CampaignStatus::Active if c.status == CampaignStatus::Paused => CampaignAction::Resume,
        CampaignStatus::Active => CampaignAction::Start,
        CampaignStatus::Paused => CampaignAction::Pause,
        CampaignStatus::Cancelled | CampaignStatus::Completed => CampaignAction::Cancel,
        CampaignStatus::Scheduled => {
            return Err(ApiError::field("status", "a started campaign cannot return to draft"));
        }
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = VocelioCampaignUpdate)]
pub struct CampaignUpdateIn {
    /// active, paused, completed or cancelled.
    pub status: Option<String>,
    /// Not changeable here: a campaign's settings are fixed at creation.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

#[utoipa::path(put, operation_id = "vocelio_campaigns_update", path = "/api/campaigns/{campaign_id}", tag = "vocelio", params(("campaign_id" = String, Path)), request_body = CampaignUpdateIn,
    responses((status = 200, body = Envelope<VocelioCampaign>), (status = 400, body = VocelioErrorBody), (status = 404, body = VocelioErrorBody), (status = 409, body = VocelioErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<CampaignUpdateIn, Lenient>,
) -> ApiResult<Response> {
    let id: CampaignId = path_id(&id, "campaign")?;
    let b = body.value;
    let target = b.status.as_deref().map(|s| status_in("status", s)).transpose()?;
    if let Some(Value::Object(m)) = &b.settings
        && let Some(k) = m.keys().next()
    {
        return Err(ApiError::field(
            format!("settings.{k}"),
            "cannot be changed on this server (campaign settings are fixed at creation)",
        ));
    }
    let mut c = state.store.get_campaign(&auth.org.id, &id).await?;
    if let Some(target) = target
        && target != c.status
    {
        c = change(&state, &auth, &id, action_to(&c, target)?).await?;
    }
    Ok(ctx.ok(StatusCode::OK, render(&state, &auth, &c).await?))
}

#[utoipa::path(post, operation_id = "vocelio_campaigns_start", path = "/api/campaigns/{campaign_id}/start", tag = "vocelio", params(("campaign_id" = String, Path)),
    responses((status = 200, body = Envelope<VocelioCampaign>), (status = 404, body = VocelioErrorBody), (status = 409, body = VocelioErrorBody)))]
pub async fn start(State(state): State<AppState>, ctx: Ctx, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CampaignId = path_id(&id, "campaign")?;
    let c = state.store.get_campaign(&auth.org.id, &id).await?;
    let c = change(&state, &auth, &id, action_to(&c, CampaignStatus::Active)?).await?;
    Ok(ctx.ok(StatusCode::OK, render(&state, &auth, &c).await?))
}

#[utoipa::path(post, operation_id = "vocelio_campaigns_pause", path = "/api/campaigns/{campaign_id}/pause", tag = "vocelio", params(("campaign_id" = String, Path)),
    responses((status = 200, body = Envelope<VocelioCampaign>), (status = 404, body = VocelioErrorBody), (status = 409, body = VocelioErrorBody)))]
pub async fn pause(State(state): State<AppState>, ctx: Ctx, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CampaignId = path_id(&id, "campaign")?;
    let c = change(&state, &auth, &id, CampaignAction::Pause).await?;
    Ok(ctx.ok(StatusCode::OK, render(&state, &auth, &c).await?))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioCampaignStatsOut)]
pub struct CampaignStatsOut {
    pub campaign_id: String,
    pub total_prospects: i64,
    pub contacted: i64,
    pub completed_calls: i64,
    pub successful_calls: i64,
    pub live_calls: i64,
    pub success_rate: f64,
    pub conversion_rate: f64,
}

#[utoipa::path(get, operation_id = "vocelio_campaigns_stats", path = "/api/campaigns/{campaign_id}/stats", tag = "vocelio", params(("campaign_id" = String, Path)),
    responses((status = 200, body = Envelope<CampaignStatsOut>), (status = 404, body = VocelioErrorBody)))]
pub async fn stats(State(state): State<AppState>, ctx: Ctx, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CampaignId = path_id(&id, "campaign")?;
    let c = state.store.get_campaign(&auth.org.id, &id).await?;
    let v = render(&state, &auth, &c).await?;
    let s = state.store.campaign_stats(&auth.org.id, &id).await?;
    Ok(ctx.ok(
        StatusCode::OK,
        CampaignStatsOut {
            campaign_id: v.campaign_id,
            total_prospects: s.total_contacts,
            contacted: s.done_contacts,
            completed_calls: s.completed_calls,
            successful_calls: s.successful_calls,
            live_calls: s.live_calls,
            success_rate: v.performance.success_rate,
            conversion_rate: v.performance.conversion_rate,
        },
    ))
}
