//! Call lists at any size, shared by the native list and the dialects'
//! call logs: keyset pages (`cursor` → `nextCursor`), bounded `page=N`
//! pages for the specs' clients, and a total that does not count the table
//! on every request. The rules are the ones docs/api.md ("Lists at any size") states.

use switchboard_analytics::query::{self, Dim, Filter, Query};
use switchboard_domain::{Call, CallId, OrgId, Timestamp};
use switchboard_store::{CallCursor, CallFilter, Page};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The deepest row a `page`/`limit` request may start at (page × limit
/// beyond it is refused with a hint to follow `nextCursor`): offset pages
/// cost a walk over every skipped index entry, cursor pages do not.
pub const MAX_OFFSET: u64 = 10_000;

/// One page of calls and how to go on.
pub struct CallPage {
    pub calls: Vec<Call>,
    /// Every call matching the filter (see [`total`]).
    pub total: u64,
    /// The cursor of the page after this one; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The opaque cursor that continues a list after `c`.
pub fn cursor_of(c: &Call) -> String {
    format!("{}.{}", c.occurred_at().timestamp_millis(), c.id)
}

/// Reads a cursor a list answered with (`nextCursor`).
pub fn parse_cursor(field: &str, v: &str) -> ApiResult<CallCursor> {
    let bad = || ApiError::field(field, "is not a cursor this list answered with (pass nextCursor as it came)");
    let (at, id) = v.trim().split_once('.').ok_or_else(bad)?;
    let at: i64 = at.parse().map_err(|_| bad())?;
    let occurred_at = Timestamp::from_timestamp_millis(at).ok_or_else(bad)?;
    let id: CallId = id.parse().map_err(|_| bad())?;
    Ok(CallCursor { occurred_at, id })
}

/// Refuses an offset page deeper than [`MAX_OFFSET`], naming `field`.
pub fn check_depth(page: Page, field: &str) -> ApiResult<()> {
    if page.offset() > MAX_OFFSET {
        return Err(ApiError::field(
            field,
            format!(
                "starts beyond row {MAX_OFFSET}: follow nextCursor with the cursor parameter to read further (page × limit may reach {MAX_OFFSET})"
            ),
        )
        .with_details(serde_json::json!({"field": field, "reason": "too deep", "maxOffset": MAX_OFFSET, "hint": "cursor"})));
    }
    Ok(())
}

/// A page of `filter`'s calls, newest first: after `cursor` when given,
/// else page `page.page` (refused beyond [`MAX_OFFSET`], naming `page_field`).
pub async fn page(
    state: &AppState,
    org: &OrgId,
    filter: &CallFilter,
    cursor: Option<CallCursor>,
    page: Page,
    page_field: &str,
) -> ApiResult<CallPage> {
    let offset = match cursor {
        Some(_) => 0,
        None => {
            check_depth(page, page_field)?;
            page.offset()
        }
    };
    // One more than asked tells whether another page follows.
    let mut calls = state
        .store
        .calls_page(org, filter, cursor, offset, page.limit.saturating_add(1))
        .await?;
    let more = calls.len() > page.limit as usize;
    calls.truncate(page.limit as usize);
    let next_cursor = if more { calls.last().map(cursor_of) } else { None };
    let total = total(state, org, filter).await?;
    Ok(CallPage { calls, total, next_cursor })
}

/// How many calls match `filter`, without counting the table: the analytics
/// index (kept exact — it applies every committed change before answering)
/// counts every filter it holds; a filter on one contact or one customer,
/// or a time bound with a fraction of a second, is counted exactly over
/// its own index (a contact's or a customer's calls: cheap).
pub async fn total(state: &AppState, org: &OrgId, filter: &CallFilter) -> ApiResult<u64> {
    let subsec = |t: &Option<Timestamp>| t.is_some_and(|t| t.timestamp_subsec_nanos() != 0);
    if filter.contact_id.is_some() || filter.customer_external_id.is_some() || subsec(&filter.start) || subsec(&filter.end) {
        return Ok(state.store.count_calls(org, filter).await?);
    }
    let f = Filter {
        start: filter.start.map(|t| t.timestamp()),
        end: filter.end.map(|t| t.timestamp()),
        campaigns: filter.campaign_id.iter().cloned().collect(),
        agent: filter.agent_id.clone(),
        call_type: filter.call_type.clone(),
        direction: filter.direction,
        customer: None,
    };
    let statuses: Vec<&'static str> = filter.statuses.iter().map(|s| s.as_str()).collect();
    let n = state
        .analytics
        .query(org, move |t| {
            if statuses.is_empty() {
                return query::totals(t, &f).calls;
            }
            // Calls per status, summed over the asked ones.
            let by = Query::new(f, Dim::Status, chrono_tz::UTC);
            query::breakdown(t, &by)
                .map(|groups| {
                    groups
                        .iter()
                        .filter(|g| g.key.as_deref().is_some_and(|k| statuses.contains(&k)))
                        .map(|g| g.stats.calls)
                        .sum()
                })
                .unwrap_or(0)
        })
        .await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_position_it_names() {
        let mut c = Call::new(
            OrgId::new(),
            switchboard_domain::Direction::Outbound,
            switchboard_domain::CallStatus::Completed,
            switchboard_domain::now(),
        );
        c.initiated_at = Some("2024-10-10T10:30:00.123Z".parse().unwrap());
        let cur = parse_cursor("cursor", &cursor_of(&c)).unwrap();
        assert_eq!((cur.occurred_at, &cur.id), (c.occurred_at(), &c.id));
        for bad in ["", "12", "x.call_1", "12.notanid", "99999999999999999999.x"] {
            assert!(parse_cursor("cursor", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn offset_pages_are_bounded() {
        assert!(check_depth(Page { page: 101, limit: 100 }, "page").is_ok());
        let e = check_depth(Page { page: 102, limit: 100 }, "page").unwrap_err();
        assert!(format!("{e:?}").contains("cursor"), "{e:?}");
    }
}
