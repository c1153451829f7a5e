//! `/v1/analytics/...`: dashboards computed by the analytics index. The
//! metric definitions are in docs/analytics.md.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Datelike;
use chrono_tz::Tz;
use serde::Serialize;
use switchboard_analytics::Stats;
use switchboard_analytics::query::{self, Bins, Dim, Filter, Group, Order, Query, QueryError};
use switchboard_domain::{Organisation, TimeZone};
use utoipa::ToSchema;

use super::{ErrorBody, respond};
use crate::api::fields;
use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryMap, check_range};
use crate::identity::auth::Auth;
use crate::state::AppState;

/// The time zone of a request: `tz`, else the organisation's.
pub fn request_tz(q: &QueryMap, org: &Organisation) -> ApiResult<TimeZone> {
    Ok(fields::time_zone("tz", q.get("tz"))?.unwrap_or(org.time_zone))
}

/// The filters every analytics route takes.
pub fn analytics_filter(q: &QueryMap, tz: TimeZone) -> ApiResult<Filter> {
    let start = q.start("startDate", tz)?;
    let end = q.end("endDate", tz)?;
    check_range(start, end, "startDate")?;
    let mut campaigns: Vec<String> = Vec::new();
    if let Some(c) = fields::short("campaignId", q.get("campaignId"))? {
        campaigns.push(c);
    }
    if let Some(list) = q.get("campaignIds") {
        for c in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            campaigns.push(fields::short("campaignIds", Some(c))?.unwrap_or_default());
        }
    }
    Ok(Filter {
        start: start.map(|t| t.timestamp()),
        end: end.map(|t| t.timestamp()),
        campaigns,
        agent: fields::short("agentId", q.get("agentId"))?,
        call_type: fields::short("callType", q.get("callType"))?,
        direction: fields::direction("direction", q.get("direction"))?,
        customer: None,
    })
}

/// A query refused for its size, naming the parameter that shapes it
/// (`groupBy`/`by`) and what to change.
pub fn refused(e: QueryError, field: &str) -> ApiError {
    let QueryError::TooManyGroups { groups, max, time } = e;
    let advice = if time {
        "narrow startDate..endDate or use a coarser granularity"
    } else {
        "filter the calls or ask for fewer groups with limit"
    };
    ApiError::field(
        field,
        format!("would answer {groups} groups, more than the {max} one answer may hold: {advice}"),
    )
    .with_details(serde_json::json!({"field": field, "reason": "too many groups", "groups": groups, "max": max}))
}

async fn run<R: Send + 'static>(
    state: &AppState,
    org: &Organisation,
    f: impl FnOnce(&switchboard_analytics::OrgTable) -> R + Send + 'static,
) -> ApiResult<R> {
    Ok(state.analytics.query(&org.id, f).await?)
}

#[derive(Serialize, ToSchema)]
pub struct TimePoint {
    /// The first day of the bucket (YYYY-MM-DD) in the requested zone.
    pub date: String,
    pub calls: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallStatsOut {
    pub total_calls: u64,
    pub completed_calls: u64,
    pub answered_calls: u64,
    pub missed_calls: u64,
    pub failed_calls: u64,
    /// Average talk time of completed calls, in seconds.
    pub avg_duration: u64,
    pub total_duration: u64,
    /// Successful outcomes per completed call, percent.
    pub success_rate: f64,
    /// Answered per attempted call, percent.
    pub answer_rate: f64,
    /// Finished calls by outcome (the business outcome, else what the final status says: `noAnswer`, `voicemail`, `busy`, `failed`, `completed`).
    pub calls_by_outcome: BTreeMap<String, u64>,
    pub calls_by_time: Vec<TimePoint>,
    pub time_zone: String,
}

#[utoipa::path(get, path = "/v1/analytics/calls", tag = "analytics",
    params(("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query), ("campaignId" = Option<String>, Query), ("agentId" = Option<String>, Query),
        ("callType" = Option<String>, Query), ("direction" = Option<String>, Query), ("groupBy" = Option<String>, Query, description = "day (default), week or month"),
        ("tz" = Option<String>, Query, description = "IANA zone for days, weeks and months; default the organisation's")),
    responses((status = 200, body = CallStatsOut), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn call_stats(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let tz = request_tz(&q, &auth.org)?;
    let filter = analytics_filter(&q, tz)?;
    let dim = match q.get("groupBy").unwrap_or("day") {
        "day" => Dim::Date,
        "week" => Dim::Week,
        "month" => Dim::Month,
        _ => return Err(ApiError::field("groupBy", "must be 'day', 'week' or 'month'")),
    };
    let (totals, outcomes, by_time) = run(&state, &auth.org, move |t| {
        let by_time = query::breakdown(t, &Query::new(filter.clone(), dim, tz.0)).map_err(|e| refused(e, "groupBy"))?;
        let outcomes = query::breakdown(t, &Query::new(filter.clone(), Dim::Outcome, tz.0)).map_err(|e| refused(e, "startDate"))?;
        // Every call in the window falls in one time bucket.
        let mut totals = switchboard_analytics::Stats::default();
        by_time.iter().for_each(|g| totals.merge(&g.stats));
        Ok::<_, ApiError>((totals, outcomes, by_time))
    })
    .await??;
    let out = CallStatsOut {
        total_calls: totals.calls,
        completed_calls: totals.completed,
        answered_calls: totals.answered,
        missed_calls: totals.missed,
        failed_calls: totals.failed,
        avg_duration: totals.avg_completed_duration(),
        total_duration: totals.total_duration,
        success_rate: totals.success_rate(),
        answer_rate: totals.answer_rate(),
        calls_by_outcome: outcomes.into_iter().filter_map(|g| g.key.map(|k| (k, g.stats.calls))).collect(),
        calls_by_time: by_time
            .into_iter()
            .map(|g| TimePoint {
                date: g.key.unwrap_or_default(),
                calls: g.stats.calls,
            })
            .collect(),
        time_zone: tz.name().to_owned(),
    };
    Ok(respond(StatusCode::OK, false, &out))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignStatsOut {
    pub id: String,
    pub name: String,
    pub total_calls: u64,
    pub completed_calls: u64,
    pub successful_calls: u64,
    /// Successful per call, percent.
    pub conversion_rate: f64,
    /// Average talk time of completed calls, seconds.
    pub avg_duration: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignOverallOut {
    pub total_campaigns: u64,
    pub total_calls: u64,
    /// Mean of the campaigns' conversion rates, percent.
    pub avg_conversion_rate: f64,
    /// Average talk time of completed calls over all campaigns, seconds.
    pub avg_duration: u64,
}

#[derive(Serialize, ToSchema)]
pub struct CampaignsOut {
    pub campaigns: Vec<CampaignStatsOut>,
    pub overall: CampaignOverallOut,
}

#[utoipa::path(get, path = "/v1/analytics/campaigns", tag = "analytics",
    params(("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query), ("campaignIds" = Option<String>, Query, description = "Comma-separated campaign ids"),
        ("agentId" = Option<String>, Query), ("callType" = Option<String>, Query), ("direction" = Option<String>, Query), ("tz" = Option<String>, Query)),
    responses((status = 200, body = CampaignsOut), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn campaign_stats(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let tz = request_tz(&q, &auth.org)?;
    let filter = analytics_filter(&q, tz)?;
    let groups = run(&state, &auth.org, move |t| {
        query::breakdown(t, &Query::new(filter, Dim::Campaign, tz.0))
    })
    .await?
    .map_err(|e| refused(e, "campaignIds"))?;
    let campaigns: Vec<CampaignStatsOut> = groups
        .into_iter()
        .filter_map(|g| {
            let id = g.key?;
            Some(CampaignStatsOut {
                name: id.clone(),
                id,
                total_calls: g.stats.calls,
                completed_calls: g.stats.completed,
                successful_calls: g.stats.successful,
                conversion_rate: g.stats.conversion_rate(),
                avg_duration: g.stats.avg_completed_duration(),
            })
        })
        .collect();
    let mut all = Stats::default();
    let mut rates = 0.0;
    for c in &campaigns {
        all.calls += c.total_calls;
        rates += c.conversion_rate;
    }
    let (completed_duration, completed_with) = (
        campaigns.iter().map(|c| c.avg_duration * c.completed_calls).sum::<u64>(),
        campaigns.iter().map(|c| c.completed_calls).sum::<u64>(),
    );
    let overall = CampaignOverallOut {
        total_campaigns: campaigns.len() as u64,
        total_calls: all.calls,
        avg_conversion_rate: if campaigns.is_empty() {
            0.0
        } else {
            (rates / campaigns.len() as f64 * 10.0).round() / 10.0
        },
        avg_duration: switchboard_analytics::stats::div_round(completed_duration, completed_with),
    };
    Ok(respond(StatusCode::OK, false, &CampaignsOut { campaigns, overall }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatsOut {
    pub agent_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    pub calls: u64,
    pub completed: u64,
    pub answered: u64,
    pub successful: u64,
    /// Successful per completed call, percent.
    pub success_rate: f64,
    /// Talk time per answered call, seconds.
    pub avg_handle_time: u64,
    /// Total talk time, seconds.
    pub talk_time: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentSummaryOut {
    pub total_agents: u64,
    pub total_calls: u64,
    /// Most successful calls (ties: higher success rate, then more calls).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_performer: Option<AgentStatsOut>,
}

#[derive(Serialize, ToSchema)]
pub struct AgentsOut {
    pub agents: Vec<AgentStatsOut>,
    pub summary: AgentSummaryOut,
}

fn agent_out(g: &Group) -> Option<AgentStatsOut> {
    Some(AgentStatsOut {
        agent_id: g.key.clone()?,
        agent_name: g.name.clone(),
        calls: g.stats.calls,
        completed: g.stats.completed,
        answered: g.stats.answered,
        successful: g.stats.successful,
        success_rate: g.stats.success_rate(),
        avg_handle_time: g.stats.avg_handle_time(),
        talk_time: g.stats.total_duration,
    })
}

#[utoipa::path(get, path = "/v1/analytics/agents", tag = "analytics",
    params(("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query), ("campaignId" = Option<String>, Query), ("callType" = Option<String>, Query),
        ("direction" = Option<String>, Query), ("tz" = Option<String>, Query)),
    responses((status = 200, body = AgentsOut), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn agent_stats(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let tz = request_tz(&q, &auth.org)?;
    let filter = analytics_filter(&q, tz)?;
    let groups = run(&state, &auth.org, move |t| {
        query::breakdown(t, &Query::new(filter, Dim::Agent, tz.0))
    })
    .await?
    .map_err(|e| refused(e, "agentId"))?;
    let agents: Vec<AgentStatsOut> = groups.iter().filter_map(agent_out).collect();
    let top = groups
        .iter()
        .filter(|g| g.key.is_some())
        .max_by(|a, b| {
            (a.stats.successful, a.stats.success_rate(), a.stats.calls)
                .partial_cmp(&(b.stats.successful, b.stats.success_rate(), b.stats.calls))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| b.key.cmp(&a.key))
        })
        .and_then(agent_out);
    let summary = AgentSummaryOut {
        total_agents: agents.len() as u64,
        total_calls: agents.iter().map(|a| a.calls).sum(),
        top_performer: top,
    };
    Ok(respond(StatusCode::OK, false, &AgentsOut { agents, summary }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupOut {
    /// The group's value; null for calls without one.
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub calls: u64,
    pub completed: u64,
    pub answered: u64,
    pub missed: u64,
    pub successful: u64,
    /// Successful per completed call, percent.
    pub success_rate: f64,
    pub total_duration: u64,
    /// Average talk time of completed calls, seconds.
    pub avg_duration: u64,
}

impl GroupOut {
    pub fn from_group(g: Group) -> Self {
        GroupOut {
            success_rate: g.stats.success_rate(),
            avg_duration: g.stats.avg_completed_duration(),
            calls: g.stats.calls,
            completed: g.stats.completed,
            answered: g.stats.answered,
            missed: g.stats.missed,
            successful: g.stats.successful,
            total_duration: g.stats.total_duration,
            key: g.key,
            name: g.name,
            phone: g.phone,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakdownOut {
    pub by: String,
    pub time_zone: String,
    pub groups: Vec<GroupOut>,
}

/// Parses `bins`: `auto`, or ascending numbers separated by commas.
pub fn parse_bins(q: &QueryMap) -> ApiResult<Bins> {
    let Some(raw) = q.get("bins") else { return Ok(Bins::None) };
    if raw == "auto" {
        return Ok(Bins::Auto);
    }
    let edges: Vec<f64> = raw
        .split(',')
        .map(|v| v.trim().parse::<f64>().ok().filter(|n| n.is_finite()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::field("bins", "must be 'auto' or numbers separated by commas, e.g. 0,30,60,90"))?;
    if edges.is_empty() || edges.len() > 100 || edges.windows(2).any(|w| w[0] >= w[1]) {
        return Err(ApiError::field("bins", "must be 1 to 100 strictly ascending numbers"));
    }
    Ok(Bins::Edges(edges))
}

#[utoipa::path(get, path = "/v1/analytics/breakdown", tag = "analytics",
    params(("by" = String, Query, description = "hour, dayOfWeek, date, week, month, callType, direction, status, outcome, agent, campaign, duration, customer, context.<key>, metadata.<key>"),
        ("bins" = Option<String>, Query, description = "For numeric context keys: 'auto' or ascending edges like 0,30,60,90"),
        ("sort" = Option<String>, Query, description = "calls (default for named groups) or duration"), ("limit" = Option<u32>, Query, description = "Most groups returned (1 to 1000)"),
        ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query), ("campaignId" = Option<String>, Query), ("agentId" = Option<String>, Query),
        ("callType" = Option<String>, Query), ("direction" = Option<String>, Query), ("tz" = Option<String>, Query)),
    responses((status = 200, body = BreakdownOut), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn breakdown(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let tz = request_tz(&q, &auth.org)?;
    let filter = analytics_filter(&q, tz)?;
    let by = q
        .get("by")
        .ok_or_else(|| ApiError::field("by", format!("is required: one of {}", Dim::NAMES)))?
        .to_owned();
    let dim = Dim::parse(&by).ok_or_else(|| ApiError::field("by", format!("must be one of {}", Dim::NAMES)))?;
    let bins = parse_bins(&q)?;
    if bins != Bins::None && !matches!(dim, Dim::Context(_) | Dim::Metadata(_)) {
        return Err(ApiError::field("bins", "applies only to context.<key> and metadata.<key>"));
    }
    let order = match q.get("sort") {
        None => Order::Natural,
        Some("calls") => Order::Calls,
        Some("duration") => Order::Duration,
        Some(_) => return Err(ApiError::field("sort", "must be 'calls' or 'duration'")),
    };
    let limit = q.get("limit").map(|_| q.int("limit", 0, 1, 1000)).transpose()?.map(|l| l as usize);
    let query = Query {
        filter,
        dim,
        tz: tz.0,
        bins,
        order,
        limit,
    };
    let groups = run(&state, &auth.org, move |t| query::breakdown(t, &query))
        .await?
        .map_err(|e| refused(e, "by"))?;
    let out = BreakdownOut {
        by,
        time_zone: tz.name().to_owned(),
        groups: groups.into_iter().map(GroupOut::from_group).collect(),
    };
    Ok(respond(StatusCode::OK, false, &out))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryOut {
    pub total_calls: u64,
    /// Total talk time, seconds.
    pub total_duration: u64,
    /// Average talk time of completed calls, seconds.
    pub avg_duration: u64,
    pub inbound_calls: u64,
    pub outbound_calls: u64,
    pub missed_calls: u64,
    pub answered_calls: u64,
    /// Answered per attempted call, percent.
    pub answer_rate: f64,
    /// Calls this calendar month (in the requested zone), whatever the filters.
    pub calls_this_month: u64,
    /// The plan's monthly call quota; null when unlimited.
    pub plan_limit: Option<u64>,
    pub remaining: Option<u64>,
    pub plan: String,
}

/// The summary block: the filtered totals plus this month's usage.
pub async fn summary_of(state: &AppState, org: &Organisation, filter: Filter, tz: Tz) -> ApiResult<SummaryOut> {
    let now = chrono::Utc::now().with_timezone(&tz);
    let first_day = chrono::NaiveDate::from_ymd_opt(now.year(), now.month(), 1).and_then(|d| d.and_hms_opt(0, 0, 0));
    let month_from = first_day
        .and_then(|d| chrono::TimeZone::from_local_datetime(&tz, &d).earliest())
        .map(|d| d.timestamp());
    let month_filter = Filter {
        start: month_from,
        ..Filter::default()
    };
    let (totals, month) = run(state, org, move |t| {
        (query::totals(t, &filter), query::totals(t, &month_filter).calls)
    })
    .await?;
    let limit = org.monthly_call_limit();
    Ok(SummaryOut {
        total_calls: totals.calls,
        total_duration: totals.total_duration,
        avg_duration: totals.avg_completed_duration(),
        inbound_calls: totals.inbound,
        outbound_calls: totals.outbound,
        missed_calls: totals.missed,
        answered_calls: totals.answered,
        answer_rate: totals.answer_rate(),
        calls_this_month: month,
        plan_limit: limit,
        remaining: limit.map(|l| l.saturating_sub(month)),
        plan: org.plan.clone(),
    })
}

#[utoipa::path(get, path = "/v1/analytics/summary", tag = "analytics",
    params(("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query), ("campaignId" = Option<String>, Query), ("agentId" = Option<String>, Query),
        ("callType" = Option<String>, Query), ("direction" = Option<String>, Query), ("tz" = Option<String>, Query)),
    responses((status = 200, body = SummaryOut), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn summary(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let tz = request_tz(&q, &auth.org)?;
    let filter = analytics_filter(&q, tz)?;
    let out = summary_of(&state, &auth.org, filter, tz.0).await?;
    Ok(respond(StatusCode::OK, false, &out))
}
