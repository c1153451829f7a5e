//! The Call Ribbon backend API (`/api/ribbon/...`): call logs, a customer's
//! calls, analytics and exports, in the spec's snake_case shapes. Figures
//! come from the core analytics index.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use switchboard_analytics::query::{self, Dim, Filter, Order, Query, QueryError};
use switchboard_domain::{Call, CallStatus};
use switchboard_store::{CallFilter, Page};
use utoipa::ToSchema;

use crate::api::fields;
use crate::api::v1::analytics::{analytics_filter, refused, request_tz, summary_of};
use crate::api::v1::export::{csv_record, json_element, paged_body};
use crate::api::v1::{ErrorBody, respond};
use crate::core::call_list;
use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryMap, check_range};
use crate::identity::auth::Auth;
use crate::state::AppState;

/// The ribbon's call status words.
pub fn status_out(s: CallStatus) -> &'static str {
    match s {
        s if s.is_missed() => "missed",
        CallStatus::Completed | CallStatus::Voicemail => "completed",
        CallStatus::Failed => "failed",
        CallStatus::InProgress => "connected",
        CallStatus::Ringing => "ringing",
        // Scheduled, queued, initiated.
        _ => "initiated",
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogOut {
    pub session_id: String,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub customer_id_external: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub customer_context: Option<Value>,
    pub call_type: Option<String>,
    pub call_status: &'static str,
    pub call_direction: &'static str,
    pub duration: i64,
    pub initiated_at: Option<DateTime<Utc>>,
    pub connected_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

impl LogOut {
    pub fn from_call(c: &Call) -> Self {
        let outbound = c.direction == switchboard_domain::Direction::Outbound;
        LogOut {
            session_id: c.id.to_string(),
            customer_name: c.customer_name.clone(),
            customer_phone: c
                .customer_phone
                .clone()
                .or_else(|| if outbound { c.to.clone() } else { c.from.clone() }),
            customer_id_external: c.customer_external_id.clone(),
            customer_context: c.customer_context.clone(),
            call_type: c.call_type.clone(),
            call_status: status_out(c.status),
            call_direction: c.direction.as_str(),
            duration: c.duration.unwrap_or(0),
            initiated_at: Some(c.initiated_at.unwrap_or_else(|| c.occurred_at())),
            connected_at: c.answered_at,
            ended_at: c.ended_at,
            agent_id: c.agent_id.clone(),
            agent_name: c.agent_name.clone(),
            metadata: c.metadata.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogsPagination {
    pub page: u32,
    pub page_size: u32,
    pub total: u64,
    pub total_pages: u64,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LogsOut {
    pub logs: Vec<LogOut>,
    pub pagination: LogsPagination,
}

fn ribbon_filter(q: &QueryMap, auth: &Auth) -> ApiResult<CallFilter> {
    let tz = request_tz(q, &auth.org)?;
    let start = q.start("startDate", tz)?;
    let end = q.end("endDate", tz)?;
    check_range(start, end, "startDate")?;
    Ok(CallFilter {
        customer_external_id: fields::short("customerId", q.get("customerId"))?,
        direction: fields::direction("callDirection", q.get("callDirection"))?,
        start,
        end,
        ..Default::default()
    })
}

#[utoipa::path(get, path = "/api/ribbon/call-logs", tag = "call-ribbon",
    params(("page" = Option<u32>, Query), ("pageSize" = Option<u32>, Query, description = "1 to 500, default 50"), ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query),
        ("customerId" = Option<String>, Query), ("callDirection" = Option<String>, Query),
        ("cursor" = Option<String>, Query, description = "`pagination.nextCursor` of the previous page; (page - 1) × pageSize may reach 10,000 rows, deeper pages need the cursor")),
    responses((status = 200, body = LogsOut), (status = 400, body = ErrorBody)), security(("apiKey" = [])))]
pub async fn call_logs(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let filter = ribbon_filter(&q, &auth)?;
    let page = Page {
        page: q.int("page", 1, 1, 1_000_000)?,
        limit: q.int("pageSize", 50, 1, 500)?,
    };
    let cursor = q.get("cursor").map(|c| call_list::parse_cursor("cursor", c)).transpose()?;
    let out = call_list::page(&state, &auth.org.id, &filter, cursor, page, "page").await?;
    let total = out.total;
    let out = LogsOut {
        logs: out.calls.iter().map(LogOut::from_call).collect(),
        pagination: LogsPagination {
            page: page.page,
            page_size: page.limit,
            total,
            total_pages: total.div_ceil(u64::from(page.limit)),
            next_cursor: out.next_cursor,
        },
    };
    Ok(respond(StatusCode::OK, false, &out))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerCallsOut {
    pub customer_id: String,
    pub calls: Vec<LogOut>,
    pub total_calls: u64,
    pub total_duration: u64,
}

#[utoipa::path(get, path = "/api/ribbon/customer/{customerId}/calls", tag = "call-ribbon", params(("customerId" = String, Path), ("limit" = Option<u32>, Query, description = "1 to 500, default 50")),
    responses((status = 200, body = CustomerCallsOut), (status = 400, body = ErrorBody)), security(("apiKey" = [])))]
pub async fn customer_calls(State(state): State<AppState>, auth: Auth, Path(customer): Path<String>, q: QueryMap) -> ApiResult<Response> {
    let customer = fields::short("customerId", Some(&customer))?.unwrap_or_default();
    let limit = q.int("limit", 50, 1, 500)?;
    let filter = CallFilter {
        customer_external_id: Some(customer.clone()),
        ..Default::default()
    };
    let calls = state.store.calls_page(&auth.org.id, &filter, None, 0, limit).await?;
    let f = Filter {
        customer: Some(customer.clone()),
        ..Filter::default()
    };
    let stats = state.analytics.query(&auth.org.id, move |t| query::totals(t, &f)).await?;
    let out = CustomerCallsOut {
        customer_id: customer,
        calls: calls.iter().map(LogOut::from_call).collect(),
        total_calls: stats.calls,
        total_duration: stats.total_duration,
    };
    Ok(respond(StatusCode::OK, false, &out))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RibbonSummary {
    pub total_calls: u64,
    pub total_duration: u64,
    /// Talk time per call over every call, seconds (as the spec computes it).
    pub avg_duration: u64,
    pub inbound_calls: u64,
    pub outbound_calls: u64,
    pub missed_calls: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RibbonUsage {
    pub calls_this_month: u64,
    /// The plan's monthly quota; null when unlimited.
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RibbonAnalyticsOut {
    pub summary: RibbonSummary,
    pub calls_by_date: BTreeMap<String, u64>,
    pub recent_calls: Vec<LogOut>,
    pub usage: RibbonUsage,
}

async fn summary_and_usage(
    state: &AppState,
    auth: &Auth,
    q: &QueryMap,
) -> ApiResult<(RibbonSummary, RibbonUsage, Filter, switchboard_domain::TimeZone)> {
    let tz = request_tz(q, &auth.org)?;
    let filter = analytics_filter(q, tz)?;
    let s = summary_of(state, &auth.org, filter.clone(), tz.0).await?;
    let avg = switchboard_analytics::stats::div_round(s.total_duration, s.total_calls);
    let summary = RibbonSummary {
        total_calls: s.total_calls,
        total_duration: s.total_duration,
        avg_duration: avg,
        inbound_calls: s.inbound_calls,
        outbound_calls: s.outbound_calls,
        missed_calls: s.missed_calls,
    };
    Ok((
        summary,
        RibbonUsage {
            calls_this_month: s.calls_this_month,
            limit: s.plan_limit,
            remaining: s.remaining,
        },
        filter,
        tz,
    ))
}

async fn recent(state: &AppState, auth: &Auth, q: &QueryMap, limit: u32) -> ApiResult<Vec<LogOut>> {
    let filter = ribbon_filter(q, auth)?;
    // The newest calls only: nothing to count.
    let calls = state.store.calls_page(&auth.org.id, &filter, None, 0, limit).await?;
    Ok(calls.iter().map(LogOut::from_call).collect())
}

#[utoipa::path(get, path = "/api/ribbon/analytics", tag = "call-ribbon",
    params(("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query), ("limit" = Option<u32>, Query, description = "Recent calls to include, 1 to 100, default 10")),
    responses((status = 200, body = RibbonAnalyticsOut), (status = 400, body = ErrorBody)), security(("apiKey" = [])))]
pub async fn analytics(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let limit = q.int("limit", 10, 1, 100)?;
    let (summary, usage, filter, tz) = summary_and_usage(&state, &auth, &q).await?;
    let by_date = state
        .analytics
        .query(&auth.org.id, move |t| query::breakdown(t, &Query::new(filter, Dim::Date, tz.0)))
        .await?
        .map_err(|e| refused(e, "startDate"))?;
    let out = RibbonAnalyticsOut {
        summary,
        calls_by_date: by_date
            .into_iter()
            .filter(|g| g.stats.calls > 0)
            .filter_map(|g| Some((g.key?, g.stats.calls)))
            .collect(),
        recent_calls: recent(&state, &auth, &q, limit).await?,
        usage,
    };
    Ok(respond(StatusCode::OK, false, &out))
}

#[derive(Serialize, ToSchema)]
pub struct TopCustomer {
    pub customer_id_external: Option<String>,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    /// A decimal string, as in the spec.
    pub call_count: String,
    /// Seconds, a decimal string, as in the spec.
    pub total_duration: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RibbonDetailedOut {
    pub summary: RibbonSummary,
    /// Calls by local hour of day ("0" to "23").
    #[schema(value_type = Object)]
    pub calls_by_hour: serde_json::Map<String, Value>,
    /// Calls by day of week ("0" = Sunday).
    #[schema(value_type = Object)]
    pub calls_by_day_of_week: serde_json::Map<String, Value>,
    pub top_customers: Vec<TopCustomer>,
    #[schema(value_type = Object)]
    pub duration_buckets: serde_json::Map<String, Value>,
    pub recent_activity: Vec<LogOut>,
}

#[utoipa::path(get, path = "/api/ribbon/analytics/detailed", tag = "call-ribbon",
    params(("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query)),
    responses((status = 200, body = RibbonDetailedOut), (status = 400, body = ErrorBody)), security(("apiKey" = [])))]
pub async fn detailed(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let (summary, _, filter, tz) = summary_and_usage(&state, &auth, &q).await?;
    let (hours, days, customers, buckets) = state
        .analytics
        .query(&auth.org.id, move |t| {
            let q = |dim| Query::new(filter.clone(), dim, tz.0);
            let top = Query {
                order: Order::Calls,
                limit: Some(10),
                ..q(Dim::Customer)
            };
            Ok::<_, QueryError>((
                query::breakdown(t, &q(Dim::Hour))?,
                query::breakdown(t, &q(Dim::DayOfWeek))?,
                query::breakdown(t, &top)?,
                query::breakdown(t, &q(Dim::DurationBucket))?,
            ))
        })
        .await?
        .map_err(|e| refused(e, "startDate"))?;
    // In the dimension's own order (hours, days, buckets), as the spec shows them.
    let counts = |groups: Vec<query::Group>| {
        groups
            .into_iter()
            .filter_map(|g| Some((g.key?, Value::from(g.stats.calls))))
            .collect::<serde_json::Map<_, _>>()
    };
    let out = RibbonDetailedOut {
        summary,
        calls_by_hour: counts(hours.into_iter().filter(|g| g.stats.calls > 0).collect()),
        calls_by_day_of_week: counts(days.into_iter().filter(|g| g.stats.calls > 0).collect()),
        top_customers: customers
            .into_iter()
            .filter(|g| g.key.is_some())
            .map(|g| TopCustomer {
                customer_id_external: g.key,
                customer_name: g.name,
                customer_phone: g.phone,
                call_count: g.stats.calls.to_string(),
                total_duration: g.stats.total_duration.to_string(),
            })
            .collect(),
        duration_buckets: counts(buckets),
        recent_activity: recent(&state, &auth, &q, 10).await?,
    };
    Ok(respond(StatusCode::OK, false, &out))
}

/// The spec's export header, exactly.
pub const CSV_HEADER: &str = "Session ID,Customer Name,Phone Number,Direction,Start Time,End Time,Duration (s),Customer ID";

#[utoipa::path(get, path = "/api/ribbon/export/calls", tag = "call-ribbon",
    params(("format" = Option<String>, Query, description = "json (default) or csv"), ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query)),
    responses((status = 200, description = "The calls as a JSON array or CSV, streamed"), (status = 400, body = ErrorBody)), security(("apiKey" = [])))]
pub async fn export(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let csv = match q.get("format").unwrap_or("json") {
        "csv" => true,
        "json" => false,
        _ => return Err(ApiError::field("format", "must be 'json' or 'csv'")),
    };
    let tz = request_tz(&q, &auth.org)?;
    let filter = ribbon_filter(&q, &auth)?;
    crate::identity::audit::by(
        &state,
        &auth,
        "calls.exported",
        None,
        Some(serde_json::json!({"format": if csv { "csv" } else { "json" }, "dialect": "call-ribbon"})),
    )
    .await;
    let local = move |t: Option<switchboard_domain::Timestamp>| {
        t.map(|t| t.with_timezone(&tz.0).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let org = auth.org.id.clone();
    let body = if csv {
        paged_body(
            state,
            org,
            filter,
            format!("{CSV_HEADER}\n").into_bytes(),
            Vec::new(),
            move |c, _| {
                let log = LogOut::from_call(c);
                csv_record([
                    log.session_id,
                    log.customer_name.unwrap_or_default(),
                    log.customer_phone.unwrap_or_default(),
                    log.call_direction.to_owned(),
                    local(log.initiated_at),
                    local(log.ended_at),
                    log.duration.to_string(),
                    log.customer_id_external.unwrap_or_default(),
                ])
            },
        )
    } else {
        paged_body(state, org, filter, b"[".to_vec(), b"]".to_vec(), |c, first| {
            json_element(&LogOut::from_call(c), first)
        })
    };
    let content_type = if csv { "text/csv; charset=utf-8" } else { "application/json" };
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}
