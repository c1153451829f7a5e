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
#[schema(as = VocelioDashboardSummary)]
pub struct DashboardSummary {
    pub total_calls: u64,
    pub success_rate: f64,
    pub conversion_rate: f64,
    pub total_revenue: f64,
    pub active_campaigns: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioTrends)]
pub struct Trends {
    pub calls_trend: Option<String>,
    pub success_rate_trend: Option<String>,
    pub revenue_trend: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioTopCampaign)]
pub struct TopCampaign {
    pub campaign_id: String,
    pub name: String,
    /// Successful calls ÷ finished calls of the campaign, on a 0–5 scale.
    pub performance: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioDashboard)]
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
#[schema(as = VocelioRealtime)]
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

/// The analytics filter of a Vocelio query: `campaign_id`, `agent_id`,
/// `date_from`, `date_to`.
fn filter(q: &QueryMap, tz: switchboard_domain::TimeZone) -> ApiResult<Filter> {
    let start = q.start("date_from", tz)?;
    let end = q.end("date_to", tz)?;
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        return Err(ApiError::field("date_from", "must be before date_to"));
    }
    Ok(Filter {
        start: start.map(|t| t.timestamp()),
        end: end.map(|t| t.timestamp()),
        campaigns: crate::api::fields::short("campaign_id", q.get("campaign_id"))?
            .into_iter()
            .collect(),
        agent: crate::api::fields::short("agent_id", q.get("agent_id"))?,
        ..Filter::default()
    })
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioCallsSummary)]
pub struct CallsSummary {
    pub total_calls: u64,
    pub answered_calls: u64,
    pub completed_calls: u64,
    pub success_rate: f64,
    pub conversion_rate: f64,
    /// Seconds of talk over every call.
    pub total_duration: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioCallsPoint)]
pub struct CallsPoint {
    /// The bucket: a date (`day`), a week's first day (`week`), or an hour of the day 0-23 (`hour`).
    pub timestamp: Option<String>,
    pub calls: u64,
    pub success_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioCallsAnalytics)]
pub struct CallsAnalytics {
    pub summary: CallsSummary,
    pub time_series: Vec<CallsPoint>,
    pub granularity: String,
}

fn summary_of(s: &Stats) -> CallsSummary {
    CallsSummary {
        total_calls: s.calls,
        answered_calls: s.answered,
        completed_calls: s.completed,
        success_rate: pct(s.answered, s.attempted),
        conversion_rate: pct(s.successful, s.attempted),
        total_duration: s.total_duration,
    }
}

#[utoipa::path(get, path = "/api/analytics/calls", tag = "vocelio", operation_id = "vocelio_analytics_calls",
    params(("campaign_id" = Option<String>, Query), ("agent_id" = Option<String>, Query), ("date_from" = Option<String>, Query), ("date_to" = Option<String>, Query),
        ("granularity" = Option<String>, Query, description = "day (default), week, or hour (the hour of the day)")),
    responses((status = 200, body = Envelope<CallsAnalytics>), (status = 400, body = VocelioErrorBody)))]
pub async fn calls(State(state): State<AppState>, ctx: Ctx, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let tz = crate::api::v1::analytics::request_tz(&q, &auth.org)?;
    let f = filter(&q, tz)?;
    let granularity = q.get("granularity").unwrap_or("day").to_owned();
    let dim = match granularity.as_str() {
        "day" => query::Dim::Date,
        "week" => query::Dim::Week,
        "hour" => query::Dim::Hour,
        _ => return Err(ApiError::field("granularity", "must be 'hour', 'day' or 'week'")),
    };
    let (totals, groups) = state
        .analytics
        .query(&auth.org.id, move |t| {
            let groups = query::breakdown(t, &query::Query::new(f.clone(), dim, tz.0))
                .map_err(|e| crate::api::v1::analytics::refused(e, "granularity"))?;
            Ok::<_, ApiError>((query::totals(t, &f), groups))
        })
        .await??;
    let out = CallsAnalytics {
        summary: summary_of(&totals),
        time_series: groups
            .into_iter()
            .map(|g| CallsPoint {
                timestamp: g.key,
                calls: g.stats.calls,
                success_rate: pct(g.stats.answered, g.stats.attempted),
            })
            .collect(),
        granularity,
    };
    Ok(ctx.ok(StatusCode::OK, out))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioAgentRow)]
pub struct AgentRow {
    pub agent_id: String,
    pub name: Option<String>,
    pub calls: u64,
    pub success_rate: f64,
    pub conversion_rate: f64,
    /// Conversions per dialled call on a 0-5 scale.
    pub performance_score: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioAgentsSummary)]
pub struct AgentsSummary {
    pub total_agents: usize,
    pub average_performance: f64,
    pub top_performer: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioAgentsAnalytics)]
pub struct AgentsAnalytics {
    pub agents: Vec<AgentRow>,
    pub summary: AgentsSummary,
}

#[utoipa::path(get, path = "/api/analytics/agents", tag = "vocelio", operation_id = "vocelio_analytics_agents",
    params(("campaign_id" = Option<String>, Query), ("date_from" = Option<String>, Query), ("date_to" = Option<String>, Query)),
    responses((status = 200, body = Envelope<AgentsAnalytics>), (status = 400, body = VocelioErrorBody)))]
pub async fn agents(State(state): State<AppState>, ctx: Ctx, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let tz = crate::api::v1::analytics::request_tz(&q, &auth.org)?;
    let f = filter(&q, tz)?;
    let groups = state
        .analytics
        .query(&auth.org.id, move |t| {
            query::breakdown(t, &query::Query::new(f, query::Dim::Agent, tz.0))
                .map_err(|e| crate::api::v1::analytics::refused(e, "date_from"))
        })
        .await??;
    let mut agents: Vec<AgentRow> = groups
        .into_iter()
        .filter_map(|g| {
            let id = g.key?;
            let conversion = pct(g.stats.successful, g.stats.attempted);
            Some(AgentRow {
                agent_id: id,
                name: g.name,
                calls: g.stats.calls,
                success_rate: pct(g.stats.answered, g.stats.attempted),
                conversion_rate: conversion,
                performance_score: (conversion / 2.0).round() / 10.0,
            })
        })
        .collect();
    agents.sort_by(|a, b| b.performance_score.total_cmp(&a.performance_score).then(b.calls.cmp(&a.calls)));
    let average = if agents.is_empty() {
        0.0
    } else {
        (agents.iter().map(|a| a.performance_score).sum::<f64>() * 10.0 / agents.len() as f64).round() / 10.0
    };
    let summary = AgentsSummary {
        total_agents: agents.len(),
        average_performance: average,
        top_performer: agents.first().map(|a| a.agent_id.clone()),
    };
    Ok(ctx.ok(StatusCode::OK, AgentsAnalytics { agents, summary }))
}
