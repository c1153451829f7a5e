//! `GET /v1/calls/export`: every call matching the list filters as CSV or
//! JSON, streamed page by page so memory stays flat however many rows.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono_tz::Tz;
use futures::stream;
use switchboard_domain::Call;
use switchboard_store::{CallCursor, CallFilter};

use super::ErrorBody;
use super::analytics::request_tz;
use super::calls::{CallOut, call_filter, native_status};
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryMap;
use crate::identity::auth::Auth;
use crate::state::AppState;

/// Rows fetched per round trip.
const PAGE: u32 = 1000;

/// The Call Ribbon spec's columns first, then every other call field.
pub const CSV_HEADER: [&str; 32] = [
    "Session ID",
    "Customer Name",
    "Phone Number",
    "Direction",
    "Start Time",
    "End Time",
    "Duration (s)",
    "Customer ID",
    "Status",
    "Outcome",
    "Call Type",
    "Agent ID",
    "Agent Name",
    "Campaign ID",
    "Contact ID",
    "From",
    "To",
    "Scheduled At",
    "Answered At",
    "Created At",
    "Template ID",
    "External ID",
    "Sentiment",
    "Topics",
    "Summary",
    "Notes",
    "Recording URL",
    "Transcript",
    "Cost",
    "Customer Context",
    "Metadata",
    "Collected Data",
];

fn local(t: Option<switchboard_domain::Timestamp>, tz: Tz) -> String {
    t.map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn csv_row(c: &Call, tz: Tz) -> [String; 32] {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let j = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    let outbound = c.direction == switchboard_domain::Direction::Outbound;
    [
        c.id.to_string(),
        s(&c.customer_name),
        c.customer_phone
            .clone()
            .or_else(|| if outbound { c.to.clone() } else { c.from.clone() })
            .unwrap_or_default(),
        c.direction.as_str().to_owned(),
        local(Some(c.initiated_at.unwrap_or_else(|| c.occurred_at())), tz),
        local(c.ended_at, tz),
        c.duration.map(|d| d.to_string()).unwrap_or_default(),
        s(&c.customer_external_id),
        native_status(c.status).to_owned(),
        s(&c.outcome),
        s(&c.call_type),
        s(&c.agent_id),
        s(&c.agent_name),
        s(&c.campaign_id),
        c.contact_id.as_ref().map(|v| v.to_string()).unwrap_or_default(),
        s(&c.from),
        s(&c.to),
        local(c.scheduled_at, tz),
        local(c.answered_at, tz),
        local(Some(c.created_at), tz),
        s(&c.template_id),
        s(&c.external_id),
        c.sentiment.map(|v| v.as_str().to_owned()).unwrap_or_default(),
        c.topics.as_ref().map(|t| t.join("; ")).unwrap_or_default(),
        s(&c.summary),
        s(&c.notes),
        s(&c.recording_url),
        s(&c.transcript),
        c.cost.map(|v| v.to_string()).unwrap_or_default(),
        j(&c.customer_context),
        j(&c.metadata),
        j(&c.collected_data),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

struct Cursor {
    after: Option<CallCursor>,
    header_sent: bool,
    rows: u64,
    done: bool,
}

/// A streamed body of every call matching `filter` in (start time, id)
/// order: `header`, then each call as `render(call, is_first)` makes it,
/// then `footer`. Pages of calls are read one at a time.
pub fn paged_body<F>(
    state: AppState,
    org: switchboard_domain::OrgId,
    filter: CallFilter,
    header: Vec<u8>,
    footer: Vec<u8>,
    render: F,
) -> Body
where
    F: Fn(&Call, bool) -> Vec<u8> + Send + Sync + 'static,
{
    let render = std::sync::Arc::new(render);
    let start = Cursor {
        after: None,
        header_sent: false,
        rows: 0,
        done: false,
    };
    let s = stream::unfold(start, move |mut cur| {
        let (state, org, filter, render, header, footer) = (
            state.clone(),
            org.clone(),
            filter.clone(),
            render.clone(),
            header.clone(),
            footer.clone(),
        );
        async move {
            if cur.done {
                return None;
            }
            let page = match state.store.calls_after(&org, &filter, cur.after.clone(), PAGE).await {
                Ok(p) => p,
                Err(e) => {
                    // The status line is gone; cutting the body short tells the client.
                    tracing::error!(error = %e, "export stopped");
                    cur.done = true;
                    return Some((Err(std::io::Error::other("export failed")), cur));
                }
            };
            let mut out = Vec::new();
            if !cur.header_sent {
                out.extend_from_slice(&header);
                cur.header_sent = true;
            }
            for c in &page {
                out.extend_from_slice(&render(c, cur.rows == 0));
                cur.rows += 1;
            }
            if let Some(c) = page.last() {
                cur.after = Some(CallCursor {
                    occurred_at: c.occurred_at(),
                    id: c.id.clone(),
                });
            }
            if page.len() < PAGE as usize {
                out.extend_from_slice(&footer);
                cur.done = true;
            }
            Some((Ok::<Bytes, std::io::Error>(Bytes::from(out)), cur))
        }
    });
    Body::from_stream(s)
}

/// One CSV record, quoted as RFC 4180 wants, every cell passed through
/// [`neutralise`]. Every CSV the server writes is made of these records.
pub fn csv_record<I: IntoIterator<Item = S>, S: AsRef<str>>(fields: I) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(fields.into_iter().map(|f| neutralise(f.as_ref()).into_owned()));
    w.into_inner().unwrap_or_default()
}

/// Characters a spreadsheet may read as the start of a formula (ASCII and
/// their full-width forms), and the control characters OWASP lists.
const FORMULA_START: &[char] = &['=', '+', '-', '@', '\t', '\r', '\n', '＝', '＋', '－', '＠'];

/// Makes a CSV cell safe to open in a spreadsheet (OWASP's advice against
/// CSV injection): a cell whose first character — or first character after
/// leading spaces, which some spreadsheets drop — could start a formula
/// (`=`, `+`, `-`, `@`, tab, CR, LF) gets a `'` in front, so it is shown
/// as the text it is. A plain number (`-12`, `+15551234567`, `3.5`) is
/// left as it is: it can only ever read as that number.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    let first = cell.chars().next();
    let after_spaces = cell.trim_start_matches(' ').chars().next();
    let risky = first.is_some_and(|c| FORMULA_START.contains(&c)) || after_spaces.is_some_and(|c| FORMULA_START.contains(&c));
    if risky && !is_plain_number(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// An optional sign, digits, and at most one decimal point between digits.
fn is_plain_number(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let frac = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Streams every call matching `filter` as the native CSV or JSON.
pub fn export_stream(state: AppState, org: switchboard_domain::OrgId, filter: CallFilter, format: Format, tz: Tz) -> Body {
    match format {
        Format::Csv => paged_body(state, org, filter, csv_record(CSV_HEADER), Vec::new(), move |c, _| {
            csv_record(csv_row(c, tz))
        }),
        Format::Json => paged_body(state, org, filter, b"[".to_vec(), b"]".to_vec(), |c, first| {
            json_element(&CallOut::from_call(c, false), first)
        }),
    }
}

#[utoipa::path(get, path = "/v1/calls/export", tag = "calls",
    params(("format" = Option<String>, Query, description = "csv or json (default)"), ("status" = Option<String>, Query), ("contactId" = Option<String>, Query),
        ("campaignId" = Option<String>, Query), ("agentId" = Option<String>, Query), ("callType" = Option<String>, Query), ("direction" = Option<String>, Query),
        ("customerId" = Option<String>, Query), ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query),
        ("tz" = Option<String>, Query, description = "Zone of the CSV's times; default the organisation's")),
    responses((status = 200, description = "CSV (text/csv) or a JSON array of calls, streamed"), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn export_calls(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let format = match q.get("format").unwrap_or("json") {
        "csv" => Format::Csv,
        "json" => Format::Json,
        _ => return Err(ApiError::field("format", "must be 'csv' or 'json'")),
    };
    let tz = request_tz(&q, &auth.org)?;
    let filter = call_filter(&q, &auth.org)?;
    let (content_type, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "calls.csv"),
        Format::Json => ("application/json", "calls.json"),
    };
    crate::identity::audit::by(&state, &auth, "calls.exported", None, Some(serde_json::json!({"format": name}))).await;
    let body = export_stream(state, auth.org.id.clone(), filter, format, tz.0);
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response())
}

/// A JSON array element: a comma before all but the first.
pub fn json_element<T: serde::Serialize>(value: &T, first: bool) -> Vec<u8> {
    let mut out = if first { Vec::new() } else { vec![b','] };
    out.extend_from_slice(&serde_json::to_vec(value).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_neutralised_and_numbers_kept() {
        for (cell, want) in [
            (
                "=HYPERLINK(\"http://evil.example\",\"x\")",
                "'=HYPERLINK(\"http://evil.example\",\"x\")",
            ),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(1,2)", "'@SUM(1,2)"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "'\r=1+1"),
            ("\n=1+1", "'\n=1+1"),
            ("   =1+1", "'   =1+1"),
            ("＝1+1", "'＝1+1"),
            ("John Smith", "John Smith"),
            ("a=b", "a=b"),
            ("", ""),
            ("+15551234567", "+15551234567"),
            ("-12", "-12"),
            ("3.25", "3.25"),
            ("-", "'-"),
            ("+1 555", "'+1 555"),
        ] {
            assert_eq!(neutralise(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn records_are_neutralised_and_quoted() {
        let rec = csv_record(["=1+1", "plain", "a,b"]);
        assert_eq!(String::from_utf8(rec).unwrap(), "'=1+1,plain,\"a,b\"\n");
    }
}
