//! `/api/analytics/dashboard` (from the core analytics index, trends
//! against the previous period of equal length) and
//! `/api/analytics/realtime` (from the live board).
//!
//! Rates, in percent with one decimal: `success_rate` = calls a person
//! answered ÷ calls dialled or logged; `conversion_rate` = calls whose
//! outcome is a success outcome ÷ the same. Revenue = successful calls ×
//! the configured value per conversion.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use switchboard_analytics::query::{self, Filter};
use switchboard_analytics::stats::Stats;
use switchboard_domain::CampaignStatus;
use switchboard_store::Page;
use utoipa::ToSchema;

use super::{Ctx, Envelope, VocelioErrorBody};
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::identity::auth::Auth;
use crate::state::AppState;

fn pct(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        (n as f64 * 1000.0 / d as f64).round() / 10.0
    }
}

/// `+12.5%` / `-3.0%` against the previous value; null when there was none.
fn trend(now: f64, before: f64) -> Option<String> {
    if before == 0.0 {
        return None;
    }
    let change = (now - before) * 100.0 / before;
    Some(format!("{}{:.1}%", if change >= 0.0 { "+" } else { "-" }, change.abs()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardSummary {
    pub total_calls: u64,
    pub success_rate: f64,
    pub conversion_rate: f64,
    pub total_revenue: f64,
    pub active_campaigns: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Trends {
    pub calls_trend: Option<String>,
    pub success_rate_trend: Option<String>,
    pub revenue_trend: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopCampaign {
    pub campaign_id: String,
    pub name: String,
    /// Successful calls ÷ finished calls of the campaign, on a 0–5 scale.
    pub performance: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub summary: DashboardSummary,
    pub trends: Trends,
    pub top_campaigns: Vec<TopCampaign>,
    pub date_from: String,
    pub date_to: String,
}

async fn totals(state: &AppState, auth: &Auth, start: i64, end: i64) -> ApiResult<Stats> {
    let f = Filter {
        start: Some(start),
        end: Some(end),
        ..Filter::default()
    };
    Ok(state.analytics.query(&auth.org.id, move |t| query::totals(t, &f)).await?)
}

#[utoipa::path(get, operation_id = "vocelio_analytics_dashboard", path = "/api/analytics/dashboard", tag = "vocelio",
    params(("date_from" = Option<String>, Query, description = "Default: 30 days before date_to"), ("date_to" = Option<String>, Query, description = "Default: now")),
    responses((status = 200, body = Envelope<Dashboard>), (status = 400, body = VocelioErrorBody)))]
pub async fn dashboard(State(state): State<AppState>, ctx: Ctx, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let tz = crate::api::v1::analytics::request_tz(&q, &auth.org)?;
    // Default: up to and including the current second.
    let end = q
        .end("date_to", tz)?
        .unwrap_or_else(|| state.clock.now() + chrono::Duration::seconds(1));
    let start = q.start("date_from", tz)?.unwrap_or(end - chrono::Duration::days(30));
    if start >= end {
        return Err(ApiError::field("date_from", "must be before date_to"));
    }
    let len = end - start;
    let now = totals(&state, &auth, start.timestamp(), end.timestamp()).await?;
    let before = totals(&state, &auth, (start - len).timestamp(), start.timestamp()).await?;
    let value = state.cfg.conversion_value;
    let revenue = |s: &Stats| (s.successful as f64 * value * 100.0).round() / 100.0;
    let (_, active) = state
        .store
        .list_campaigns(&auth.org.id, Some(CampaignStatus::Active), Page { page: 1, limit: 1 })
        .await?;
    let (campaigns, _) = state.store.list_campaigns(&auth.org.id, None, Page { page: 1, limit: 100 }).await?;
    let mut top = Vec::new();
    for c in campaigns {
        let s = state.store.campaign_stats(&auth.org.id, &c.id).await?;
        if s.completed_calls > 0 {
            let share = s.successful_calls as f64 / s.completed_calls as f64;
            top.push(TopCampaign {
                campaign_id: c.id.to_string(),
                name: c.name,
                performance: (share * 50.0).round() / 10.0,
            });
        }
    }
    top.sort_by(|a, b| b.performance.total_cmp(&a.performance));
    top.truncate(5);
    let out = Dashboard {
        summary: DashboardSummary {
            total_calls: now.calls,
            success_rate: pct(now.answered, now.attempted),
            conversion_rate: pct(now.successful, now.attempted),
            total_revenue: revenue(&now),
            active_campaigns: active,
        },
        trends: Trends {
            calls_trend: trend(now.calls as f64, before.calls as f64),
            success_rate_trend: trend(pct(now.answered, now.attempted), pct(before.answered, before.attempted)),
            revenue_trend: trend(revenue(&now), revenue(&before)),
        },
        top_campaigns: top,
        date_from: start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        date_to: end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    Ok(ctx.ok(StatusCode::OK, out))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Realtime {
    pub active_calls: i64,
    pub calls_today: i64,
    /// Answered ÷ decided calls today, percent.
    pub success_rate_today: f64,
    pub queue_size: i64,
    pub agents_online: u64,
    pub waiting_calls: i64,
    /// Seconds the oldest queued call has waited.
    pub longest_wait_time: i64,
    pub available_agents: u64,
    pub busy_agents: u64,
    /// Share of today's answered calls answered within the service-level time, percent.
    pub service_level: Option<f64>,
    pub answer_rate: Option<f64>,
    pub abandonment_rate: Option<f64>,
    /// Seconds.
    pub average_handle_time: Option<f64>,
}

#[utoipa::path(get, operation_id = "vocelio_analytics_realtime", path = "/api/analytics/realtime", tag = "vocelio",
    responses((status = 200, body = Envelope<Realtime>)))]
pub async fn realtime(State(state): State<AppState>, ctx: Ctx, auth: Auth) -> ApiResult<Response> {
    state.streams.ensure_started().await?;
    let m = state.streams.board().metrics(&auth.org.id).await?;
    let i = |k: &str| m[k].as_i64().unwrap_or(0);
    let percent = |k: &str| m[k].as_f64().map(|r| (r * 1000.0).round() / 10.0);
    let agents = |k: &str| m["agents"][k].as_u64().unwrap_or(0);
    let out = Realtime {
        active_calls: i("activeCalls"),
        calls_today: i("callsToday"),
        success_rate_today: percent("answerRate").unwrap_or(0.0),
        queue_size: i("queueSize"),
        agents_online: agents("online"),
        waiting_calls: i("queueSize"),
        longest_wait_time: i("oldestWaitSeconds"),
        available_agents: agents("available"),
        busy_agents: agents("onCall"),
        service_level: percent("serviceLevel"),
        answer_rate: percent("answerRate"),
        abandonment_rate: percent("abandonmentRate"),
        average_handle_time: m["averageHandleTime"].as_f64().map(|s| s.round()),
    };
    Ok(ctx.ok(StatusCode::OK, out))
}
