//! Queries over an organisation's table: one filtered scan that groups
//! calls by a dimension and adds up [`Stats`] per group.

use chrono_tz::Tz;
use serde::Serialize;
use switchboard_domain::{CallStatus, Direction};

use crate::stats::{Stats, class};
use crate::table::{FreeKeys, OrgTable};
use crate::time;

/// Which calls count. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Unix seconds, inclusive.
    pub start: Option<i64>,
    /// Unix seconds, exclusive.
    pub end: Option<i64>,
    /// Any of these campaigns.
    pub campaigns: Vec<String>,
    pub agent: Option<String>,
    pub call_type: Option<String>,
    pub direction: Option<Direction>,
    /// One customer (their CRM id, else their number), as `Dim::Customer` keys them.
    pub customer: Option<String>,
}

/// The most groups one answer may hold. A breakdown that would answer more
/// (a daily series over decades, a group-by over every customer without a
/// limit) is refused with [`QueryError::TooManyGroups`] before the work is
/// done, so every query's cost is bounded by what it may answer.
pub const MAX_GROUPS: usize = 10_000;

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The answer would hold more than [`MAX_GROUPS`] groups; `time` tells
    /// whether they are time buckets (narrow the range or coarsen the
    /// granularity) or named groups (filter, or ask for a `limit`).
    #[error("the answer would hold {groups} groups, more than the {max} allowed")]
    TooManyGroups { groups: u64, max: usize, time: bool },
}

fn too_many(groups: u64, time: bool) -> QueryError {
    QueryError::TooManyGroups {
        groups,
        max: MAX_GROUPS,
        time,
    }
}

/// What to group by.
#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    /// Everything in one group.
    All,
    Hour,
    DayOfWeek,
    Date,
    Week,
    Month,
    CallType,
    Direction,
    Status,
    Outcome,
    Agent,
    Campaign,
    DurationBucket,
    Customer,
    Context(String),
    Metadata(String),
}

impl Dim {
    /// Reads `by=` values: `hour`, `dayOfWeek`, `date`, `week`, `month`,
    /// `callType`, `direction`, `status`, `outcome`, `agent`, `campaign`,
    /// `duration`, `customer`, `context.<key>`, `metadata.<key>`.
    pub fn parse(s: &str) -> Option<Dim> {
        if let Some(k) = s.strip_prefix("context.").filter(|k| !k.is_empty()) {
            return Some(Dim::Context(k.to_owned()));
        }
        if let Some(k) = s.strip_prefix("metadata.").filter(|k| !k.is_empty()) {
            return Some(Dim::Metadata(k.to_owned()));
        }
        Some(match s {
            "hour" | "hourOfDay" => Dim::Hour,
            "dayOfWeek" | "dow" => Dim::DayOfWeek,
            "date" | "day" => Dim::Date,
            "week" => Dim::Week,
            "month" => Dim::Month,
            "callType" => Dim::CallType,
            "direction" => Dim::Direction,
            "status" => Dim::Status,
            "outcome" => Dim::Outcome,
            "agent" => Dim::Agent,
            "campaign" => Dim::Campaign,
            "duration" | "durationBucket" => Dim::DurationBucket,
            "customer" => Dim::Customer,
            _ => return None,
        })
    }

    pub const NAMES: &'static str = "hour, dayOfWeek, date, week, month, callType, direction, status, outcome, agent, campaign, duration, customer, context.<key>, metadata.<key>";
}

/// How numeric context values are grouped.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Bins {
    /// Every distinct value is its own group.
    #[default]
    None,
    /// About ten equal, rounded ranges over the values present.
    Auto,
    /// Ranges between ascending edges: `[e0, e1)`, ..., plus below and above.
    Edges(Vec<f64>),
}

/// The duration buckets of the dashboards, in seconds: `[lower, upper)`.
/// They hold calls with talk time only: a call that reported no duration,
/// or 0 seconds (it never connected), is in none of them but in the group
/// with `key: null` ("no talk time") that follows them.
pub const DURATION_BUCKETS: [(&str, u32, u32); 5] = [
    ("0-30s", 0, 30),
    ("30s-1m", 30, 60),
    ("1m-3m", 60, 180),
    ("3m-5m", 180, 300),
    ("5m+", 300, u32::MAX),
];

/// One group of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The group's value (`"collections"`, `"2025-05-20"`, `"9"`, `"30-60"`), or null for calls without one.
    pub key: Option<String>,
    /// A display name where the key is an id (agent and customer names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(flatten)]
    pub stats: Stats,
}

/// How groups are ordered before a limit applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// The dimension's own order: time, hour, bucket, status; named groups by calls.
    #[default]
    Natural,
    /// Most calls first.
    Calls,
    /// Most talk time first.
    Duration,
}

/// A breakdown request.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filter: Filter,
    pub dim: Dim,
    pub tz: Tz,
    pub bins: Bins,
    pub order: Order,
    pub limit: Option<usize>,
}

impl Query {
    pub fn new(filter: Filter, dim: Dim, tz: Tz) -> Self {
        Query {
            filter,
            dim,
            tz,
            bins: Bins::None,
            order: Order::Natural,
            limit: None,
        }
    }
}

/// A filter with its text replaced by dictionary ids.
struct Resolved {
    start: i64,
    end: i64,
    /// Allowed campaign ids, indexed by id; empty when every campaign is allowed.
    campaigns: Vec<bool>,
    agent: Option<u32>,
    call_type: Option<u32>,
    customer: Option<u32>,
    /// Required value of the inbound bit, if any.
    inbound: Option<u8>,
    /// Nothing but liveness to check: scans read no filter columns.
    trivial: bool,
}

/// Resolves a filter; `None` when it cannot match any call.
fn resolve(t: &OrgTable, f: &Filter) -> Option<Resolved> {
    let mut campaigns = Vec::new();
    if !f.campaigns.is_empty() {
        campaigns = vec![false; t.campaigns.len()];
        let mut any = false;
        for c in &f.campaigns {
            if let Some(id) = t.campaigns.find(c) {
                campaigns[id as usize] = true;
                any = true;
            }
        }
        if !any {
            return None;
        }
    }
    let agent = match &f.agent {
        Some(a) => Some(t.agents.find(a)?),
        None => None,
    };
    let call_type = match &f.call_type {
        Some(c) => Some(t.call_types.find(c)?),
        None => None,
    };
    let customer = match &f.customer {
        Some(c) => Some(t.customers.find(c)?),
        None => None,
    };
    let trivial = f.start.is_none()
        && f.end.is_none()
        && campaigns.is_empty()
        && agent.is_none()
        && call_type.is_none()
        && customer.is_none()
        && f.direction.is_none();
    Some(Resolved {
        start: f.start.unwrap_or(i64::MIN),
        end: f.end.unwrap_or(i64::MAX),
        campaigns,
        agent,
        call_type,
        customer,
        inbound: f.direction.map(|d| if d == Direction::Inbound { class::INBOUND } else { 0 }),
        trivial,
    })
}

#[inline(always)]
fn passes(t: &OrgTable, f: &Resolved, row: usize) -> bool {
    let c = t.class[row];
    if c & class::LIVE == 0 {
        return false;
    }
    let ts = t.ts[row];
    if ts < f.start || ts >= f.end {
        return false;
    }
    if !f.campaigns.is_empty() && !f.campaigns[t.campaign[row] as usize] {
        return false;
    }
    if f.agent.is_some_and(|a| t.agent[row] != a)
        || f.call_type.is_some_and(|x| t.call_type[row] != x)
        || f.customer.is_some_and(|x| t.customer[row] != x)
    {
        return false;
    }
    f.inbound.is_none_or(|i| c & class::INBOUND == i)
}

/// Counts calls per (group, class) and adds talk time per group.
struct Acc {
    counts: Vec<u32>,
    duration: Vec<u64>,
    completed_duration: Vec<u64>,
}

/// Status index of `completed` in a class byte.
pub(crate) const COMPLETED_INDEX: u8 = 5;

impl Acc {
    fn new(groups: usize) -> Self {
        Acc {
            counts: vec![0; groups * class::COUNT],
            duration: vec![0; groups],
            completed_duration: vec![0; groups],
        }
    }

    #[inline(always)]
    fn add(&mut self, g: usize, c: u8, d: u32) {
        self.counts[g * class::COUNT + usize::from(c & 0x7f)] += 1;
        let d = u64::from(d);
        self.duration[g] += d;
        self.completed_duration[g] += d * u64::from(c & 0x0f == COMPLETED_INDEX);
    }

    fn merge(&mut self, o: Acc) {
        self.counts.iter_mut().zip(o.counts).for_each(|(a, b)| *a += b);
        self.duration.iter_mut().zip(o.duration).for_each(|(a, b)| *a += b);
        self.completed_duration
            .iter_mut()
            .zip(o.completed_duration)
            .for_each(|(a, b)| *a += b);
    }

    fn groups(&self) -> usize {
        self.duration.len()
    }

    fn stats(&self, g: usize) -> Stats {
        let mut s = Stats::default();
        for (c, n) in self.counts[g * class::COUNT..(g + 1) * class::COUNT].iter().enumerate() {
            if *n > 0 {
                s.add_class(c as u8, u64::from(*n));
            }
        }
        s.total_duration = self.duration[g];
        s.completed_duration = self.completed_duration[g];
        s
    }
}

/// Runs `key` over the matching rows on every core and adds each row to
/// its group (`key` answers `None` to skip a row).
fn accumulate<K>(t: &OrgTable, f: &Resolved, groups: usize, key: K) -> Acc
where
    K: Fn(usize) -> Option<usize> + Sync,
{
    let rows = t.rows();
    let threads = if rows < 200_000 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
    };
    let chunk = rows.div_ceil(threads.max(1));
    let (classes, duration) = (&t.class[..rows], &t.duration[..rows]);
    let run = |from: usize, to: usize| {
        let mut acc = Acc::new(groups);
        if f.trivial {
            // The common dashboard case: no filter columns to read.
            for (i, (c, d)) in classes[from..to].iter().zip(&duration[from..to]).enumerate() {
                if c & class::LIVE != 0
                    && let Some(g) = key(from + i)
                {
                    acc.add(g, *c, *d);
                }
            }
        } else {
            for row in from..to {
                if passes(t, f, row)
                    && let Some(g) = key(row)
                {
                    acc.add(g, classes[row], duration[row]);
                }
            }
        }
        acc
    };
    if threads <= 1 {
        return run(0, rows);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let run = &run;
                s.spawn(move || run(i * chunk, ((i + 1) * chunk).min(rows)))
            })
            .collect();
        let mut total: Option<Acc> = None;
        for h in handles {
            let acc = h.join().unwrap_or_else(|_| Acc::new(groups));
            match &mut total {
                Some(t) => t.merge(acc),
                None => total = Some(acc),
            }
        }
        total.unwrap_or_else(|| Acc::new(groups))
    })
}

/// Talk time and calls per group, cheaply: for ranking many groups.
fn rank<K>(t: &OrgTable, f: &Resolved, groups: usize, key: K) -> (Vec<u32>, Vec<u64>)
where
    K: Fn(usize) -> usize,
{
    let (mut calls, mut dur) = (vec![0u32; groups], vec![0u64; groups]);
    for row in 0..t.rows() {
        if passes(t, f, row) {
            let g = key(row);
            calls[g] += 1;
            dur[g] += u64::from(t.duration[row]);
        }
    }
    (calls, dur)
}

/// Totals of the calls matching `filter`.
pub fn totals(t: &OrgTable, filter: &Filter) -> Stats {
    let Some(f) = resolve(t, filter) else { return Stats::default() };
    accumulate(t, &f, 1, |_| Some(0)).stats(0)
}

fn group(key: Option<String>, stats: Stats) -> Group {
    Group {
        key,
        name: None,
        phone: None,
        stats,
    }
}

fn number_bins(keys: &FreeKeys, bins: &Bins, present: &[bool]) -> Option<(Vec<f64>, Vec<String>)> {
    let edges = match bins {
        Bins::None => return None,
        Bins::Edges(e) => e.clone(),
        Bins::Auto => {
            let nums = keys
                .numbers
                .iter()
                .enumerate()
                .filter(|(i, _)| present.get(*i).copied().unwrap_or(false))
                .filter_map(|(_, n)| *n);
            let (lo, hi) = nums.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), n| (lo.min(n), hi.max(n)));
            if !lo.is_finite() {
                return None;
            }
            auto_edges(lo, hi)
        }
    };
    let fmt = |v: f64| {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{}", v as i64)
        } else {
            format!("{v}")
        }
    };
    let mut labels = vec![format!("<{}", fmt(edges[0]))];
    labels.extend(edges.windows(2).map(|w| format!("{}-{}", fmt(w[0]), fmt(w[1]))));
    labels.push(format!("{}+", fmt(*edges.last().unwrap_or(&0.0))));
    Some((edges, labels))
}

/// About ten equal-width ranges with round edges covering `[lo, hi]`.
pub fn auto_edges(lo: f64, hi: f64) -> Vec<f64> {
    if hi <= lo {
        return vec![lo, lo + 1.0];
    }
    let raw = (hi - lo) / 10.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor() * step;
    let mut edges = vec![start];
    while edges.last().is_some_and(|e| *e <= hi) {
        let next = edges.last().copied().unwrap_or(start) + step;
        edges.push(next);
    }
    edges
}

fn bin_of(edges: &[f64], v: f64) -> usize {
    edges.partition_point(|e| *e <= v)
}

/// Groups with more values than this are ranked cheaply first, and only
/// the groups returned get full counters.
const WIDE: usize = 4096;

/// Groups the calls matching the query's filter by its dimension. Refuses
/// (before scanning) a zero-filled time series over a range of more than
/// [`MAX_GROUPS`] buckets, and any answer of more groups than that without
/// a `limit`; work and memory follow the groups that hold calls.
pub fn breakdown(t: &OrgTable, q: &Query) -> Result<Vec<Group>, QueryError> {
    check_range(q)?;
    let Some(f) = resolve(t, &q.filter) else { return Ok(vec![]) };
    let mut groups = match &q.dim {
        Dim::All => vec![group(None, accumulate(t, &f, 1, |_| Some(0)).stats(0))],
        Dim::Hour | Dim::DayOfWeek | Dim::Date | Dim::Week | Dim::Month => time_breakdown(t, &f, q)?,
        Dim::Context(key) | Dim::Metadata(key) => {
            let keys = if matches!(q.dim, Dim::Context(_)) {
                &t.context
            } else {
                &t.metadata
            };
            free_breakdown(t, &f, keys, key, q)?
        }
        _ => fixed_breakdown(t, &f, q)?,
    };
    if q.limit.is_none() && groups.len() > MAX_GROUPS {
        return Err(too_many(groups.len() as u64, false));
    }
    match q.order {
        Order::Natural => {}
        Order::Calls => groups.sort_by(|a, b| b.stats.calls.cmp(&a.stats.calls).then_with(|| a.key.cmp(&b.key))),
        Order::Duration => groups.sort_by(|a, b| b.stats.total_duration.cmp(&a.stats.total_duration).then_with(|| a.key.cmp(&b.key))),
    }
    if let Some(l) = q.limit {
        groups.truncate(l);
    }
    Ok(groups)
}

/// The time buckets a zero-filled series over the query's whole range
/// holds (both ends given), or 0 for other queries.
pub fn range_buckets(q: &Query) -> u64 {
    let (Some(start), Some(end)) = (q.filter.start, q.filter.end) else {
        return 0;
    };
    if end <= start {
        return 0;
    }
    let (a, b) = (time::local_of(q.tz, start), time::local_of(q.tz, end - 1));
    let span = match q.dim {
        Dim::Date => i64::from(b.day) - i64::from(a.day) + 1,
        Dim::Week => (i64::from(b.week) - i64::from(a.week)) / 7 + 1,
        Dim::Month => i64::from(b.month) - i64::from(a.month) + 1,
        _ => return 0,
    };
    span.max(0) as u64
}

/// Refuses a series whose asked range alone holds too many buckets.
fn check_range(q: &Query) -> Result<(), QueryError> {
    let n = range_buckets(q);
    if n > MAX_GROUPS as u64 {
        return Err(too_many(n, true));
    }
    Ok(())
}

fn by_calls(mut groups: Vec<Group>) -> Vec<Group> {
    groups.sort_by(|a, b| b.stats.calls.cmp(&a.stats.calls).then_with(|| a.key.cmp(&b.key)));
    groups
}

/// Full counters for the groups a query returns, ranking wide dimensions first.
fn counted<K, L>(t: &OrgTable, f: &Resolved, q: &Query, size: usize, key: K, label: L) -> Result<Vec<Group>, QueryError>
where
    K: Fn(usize) -> usize + Sync,
    L: Fn(usize, Stats) -> Group,
{
    if size <= WIDE || q.limit.is_none() && q.order == Order::Natural && size <= 16 * WIDE {
        let acc = accumulate(t, f, size, |r| Some(key(r)));
        return Ok((0..acc.groups())
            .map(|g| (g, acc.stats(g)))
            .filter(|(_, s)| s.calls > 0)
            .map(|(g, s)| label(g, s))
            .collect());
    }
    // Rank cheaply, keep the groups asked for, then count only those.
    let (calls, dur) = rank(t, f, size, &key);
    let mut order: Vec<usize> = (0..size).filter(|g| calls[*g] > 0).collect();
    match q.order {
        Order::Duration => order.sort_by(|a, b| dur[*b].cmp(&dur[*a]).then(a.cmp(b))),
        _ => order.sort_by(|a, b| calls[*b].cmp(&calls[*a]).then(a.cmp(b))),
    }
    match q.limit {
        Some(l) => order.truncate(l),
        // Full counters only for an answer that may be given.
        None if order.len() > MAX_GROUPS => return Err(too_many(order.len() as u64, false)),
        None => {}
    }
    let mut slot = vec![u32::MAX; size];
    for (i, g) in order.iter().enumerate() {
        slot[*g] = i as u32;
    }
    let acc = accumulate(t, f, order.len(), |r| {
        let s = slot[key(r)];
        (s != u32::MAX).then_some(s as usize)
    });
    Ok(order.iter().enumerate().map(|(i, g)| label(*g, acc.stats(i))).collect())
}

fn fixed_breakdown(t: &OrgTable, f: &Resolved, q: &Query) -> Result<Vec<Group>, QueryError> {
    let text = |d: &crate::table::Dict, i: usize| d.name(i as u32).map(str::to_owned);
    Ok(match &q.dim {
        Dim::CallType => by_calls(counted(
            t,
            f,
            q,
            t.call_types.len(),
            |r| t.call_type[r] as usize,
            |i, s| group(text(&t.call_types, i), s),
        )?),
        Dim::Campaign => by_calls(counted(
            t,
            f,
            q,
            t.campaigns.len(),
            |r| t.campaign[r] as usize,
            |i, s| group(text(&t.campaigns, i), s),
        )?),
        Dim::Outcome => by_calls(counted(
            t,
            f,
            q,
            t.outcomes.len(),
            |r| t.outcome[r] as usize,
            |i, s| group(text(&t.outcomes, i), s),
        )?),
        Dim::Agent => by_calls(counted(
            t,
            f,
            q,
            t.agents.len(),
            |r| t.agent[r] as usize,
            |i, s| Group {
                name: t.agent_names.get(i).cloned().flatten(),
                ..group(text(&t.agents, i), s)
            },
        )?),
        Dim::Customer => {
            let groups = counted(
                t,
                f,
                q,
                t.customers.len(),
                |r| t.customer[r] as usize,
                |i, s| {
                    let (name, phone) = t.customer_info.get(i).cloned().unwrap_or_default();
                    Group {
                        name,
                        phone,
                        ..group(text(&t.customers, i), s)
                    }
                },
            )?;
            if t.customers.len() <= WIDE { by_calls(groups) } else { groups }
        }
        Dim::Direction => counted(
            t,
            f,
            q,
            2,
            |r| usize::from(t.class[r] & class::INBOUND != 0),
            |i, s| group(Some(if i == 1 { "inbound" } else { "outbound" }.to_owned()), s),
        )?,
        Dim::Status => counted(
            t,
            f,
            q,
            CallStatus::ALL.len(),
            |r| usize::from(t.class[r] & 0x0f),
            |i, s| group(Some(CallStatus::ALL[i].as_str().to_owned()), s),
        )?,
        _ => {
            // The last group holds the calls without talk time.
            let none = DURATION_BUCKETS.len();
            let acc = accumulate(t, f, none + 1, |r| {
                let d = t.duration[r];
                if d == 0 {
                    return Some(none);
                }
                Some(DURATION_BUCKETS.iter().position(|(_, lo, hi)| d >= *lo && d < *hi).unwrap_or(0))
            });
            let mut groups: Vec<Group> = DURATION_BUCKETS
                .iter()
                .enumerate()
                .map(|(i, (name, _, _))| group(Some((*name).to_owned()), acc.stats(i)))
                .collect();
            let untalked = acc.stats(none);
            if untalked.calls > 0 {
                groups.push(group(None, untalked));
            }
            groups
        }
    })
}

fn free_breakdown(t: &OrgTable, f: &Resolved, keys: &FreeKeys, key: &str, q: &Query) -> Result<Vec<Group>, QueryError> {
    let Some(col) = keys.columns.get(key) else {
        // No call has this key: everything falls in the "none" group.
        let stats = accumulate(t, f, 1, |_| Some(0)).stats(0);
        return Ok(if stats.calls > 0 { vec![group(None, stats)] } else { vec![] });
    };
    let size = keys.values.len();
    let value_text = |id: usize| {
        if id == 0 {
            None
        } else {
            keys.values.name(id as u32).map(str::to_owned)
        }
    };
    if q.bins == Bins::None {
        let groups = counted(t, f, q, size, |r| col.get(r) as usize, |i, s| group(value_text(i), s))?;
        return Ok(if size <= WIDE { by_calls(groups) } else { groups });
    }
    // Which values occur decides automatic edges; then count per bin.
    let (calls, _) = rank(t, f, size, |r| col.get(r) as usize);
    let present: Vec<bool> = calls.iter().map(|c| *c > 0).collect();
    let Some((edges, labels)) = number_bins(keys, &q.bins, &present) else {
        return Ok(by_calls(counted(
            t,
            f,
            q,
            size,
            |r| col.get(r) as usize,
            |i, s| group(value_text(i), s),
        )?));
    };
    // Bins first, then one group per non-numeric value (and "none").
    let bin_count = labels.len();
    // Counters only for the values present; absent ones go nowhere.
    let mut target: Vec<usize> = Vec::with_capacity(size);
    let mut others: Vec<usize> = Vec::new();
    for (id, here) in present.iter().enumerate().take(size) {
        match keys.numbers.get(id).copied().flatten() {
            Some(n) if id > 0 => target.push(bin_of(&edges, n)),
            _ if !here => target.push(usize::MAX),
            _ => {
                target.push(bin_count + others.len());
                others.push(id);
            }
        }
    }
    if q.limit.is_none() && others.len() > MAX_GROUPS {
        return Err(too_many((bin_count + others.len()) as u64, false));
    }
    let acc = accumulate(t, f, bin_count + others.len(), |r| {
        Some(target[col.get(r) as usize]).filter(|g| *g != usize::MAX)
    });
    let mut out: Vec<Group> = labels
        .into_iter()
        .enumerate()
        .map(|(i, l)| group(Some(l), acc.stats(i)))
        .filter(|g| g.stats.calls > 0)
        .collect();
    let rest = others
        .iter()
        .enumerate()
        .map(|(i, id)| group(value_text(*id), acc.stats(bin_count + i)))
        .filter(|g| g.stats.calls > 0)
        .collect();
    out.extend(by_calls(rest));
    Ok(out)
}

fn time_breakdown(t: &OrgTable, f: &Resolved, q: &Query) -> Result<Vec<Group>, QueryError> {
    let Some((lo, hi)) = t.span else { return Ok(vec![]) };
    let (lo, hi) = (f.start.max(lo), f.end.saturating_sub(1).min(hi));
    if lo > hi {
        return Ok(vec![]);
    }
    let table = time::slot_table(q.tz, lo, hi);
    if matches!(q.dim, Dim::Hour | Dim::DayOfWeek) {
        let hours = matches!(q.dim, Dim::Hour);
        let acc = accumulate(t, f, if hours { 24 } else { 7 }, |r| {
            let l = table.local(t.ts[r]);
            Some(usize::from(if hours { l.hour } else { l.dow }))
        });
        return Ok((0..acc.groups()).map(|i| group(Some(i.to_string()), acc.stats(i))).collect());
    }
    // Bucket keys: the local day, the day of the week's Monday (so 7
    // apart), or the month; `step` apart from one bucket to the next.
    let key = |ts: i64| {
        let l = table.local(ts);
        match q.dim {
            Dim::Date => l.day,
            Dim::Week => l.week,
            _ => l.month,
        }
    };
    let step = if matches!(q.dim, Dim::Week) { 7 } else { 1 };
    let label = |k: i32| {
        if matches!(q.dim, Dim::Month) {
            time::month_label(k)
        } else {
            time::date_label(k)
        }
    };
    let (first, last) = (key(lo), key(hi));
    let span = (i64::from(last) - i64::from(first)) / i64::from(step) + 1;
    // Zero-filled between the first and last call when the range is closed
    // (its size was checked against MAX_GROUPS before the scan).
    let bounded = q.filter.start.is_some() && q.filter.end.is_some();
    if span <= MAX_GROUPS as i64 {
        let acc = accumulate(t, f, span.max(0) as usize, |r| usize::try_from((key(t.ts[r]) - first) / step).ok());
        return Ok((0..acc.groups())
            .map(|i| (i, acc.stats(i)))
            .filter(|(_, s)| s.calls > 0 || bounded)
            .map(|(i, s)| group(Some(label(first + i as i32 * step)), s))
            .collect());
    }
    // Calls spread over more buckets than an answer may hold: find the
    // buckets that hold calls first (refusing when too many), then count
    // into those only — memory follows the buckets with data, not the span.
    let mut present = std::collections::BTreeSet::new();
    for row in 0..t.rows() {
        if passes(t, f, row) {
            present.insert(key(t.ts[row]));
            if present.len() > MAX_GROUPS {
                return Err(too_many(present.len() as u64, true));
            }
        }
    }
    let present: Vec<i32> = present.into_iter().collect();
    let acc = accumulate(t, f, present.len(), |r| present.binary_search(&key(t.ts[r])).ok());
    Ok(present
        .iter()
        .enumerate()
        .map(|(i, k)| group(Some(label(*k)), acc.stats(i)))
        .filter(|g| g.stats.calls > 0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::{Call, CallStatus, Direction, OrgId, Timestamp};
    use switchboard_store::CallFacts;

    fn table_of(calls: impl IntoIterator<Item = (Timestamp, Option<&'static str>)>) -> OrgTable {
        let org = OrgId::new();
        let mut t = OrgTable::default();
        for (at, customer) in calls {
            let mut c = Call::new(org.clone(), Direction::Outbound, CallStatus::Completed, at);
            c.initiated_at = Some(at);
            c.customer_external_id = customer.map(str::to_owned);
            t.upsert(&CallFacts::from_call(&c));
        }
        t
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn q(dim: Dim, start: Option<&str>, end: Option<&str>) -> Query {
        let filter = Filter {
            start: start.map(|s| at(s).timestamp()),
            end: end.map(|s| at(s).timestamp()),
            ..Default::default()
        };
        Query::new(filter, dim, chrono_tz::UTC)
    }

    /// Calls planted at the ends of time (by a store written before times
    /// were checked) cost what their two buckets cost, not the span between.
    #[test]
    fn calls_at_the_ends_of_time_make_two_buckets() {
        let t = table_of([(at("0001-01-01T00:00:00Z"), None), (at("9999-12-31T23:59:59Z"), None)]);
        for dim in [Dim::Date, Dim::Week, Dim::Month] {
            let groups = breakdown(&t, &q(dim.clone(), None, None)).unwrap();
            assert_eq!(groups.len(), 2, "{dim:?}: {groups:?}");
            assert_eq!(groups.iter().map(|g| g.stats.calls).sum::<u64>(), 2);
        }
        let weeks = breakdown(&t, &q(Dim::Week, None, None)).unwrap();
        assert_eq!(
            weeks[0].key.as_deref(),
            Some("0001-01-01"),
            "weeks start on a Monday (as 0001-01-01 was)"
        );
        // A closed range over the span asks for millions of zero-filled
        // buckets: refused before any scan, saying how many.
        let e = breakdown(&t, &q(Dim::Date, Some("0001-01-01T00:00:00Z"), Some("9999-12-31T23:59:59Z"))).unwrap_err();
        assert_eq!(
            e,
            QueryError::TooManyGroups {
                groups: 3_652_059,
                max: MAX_GROUPS,
                time: true
            }
        );
        // Coarser buckets over the same range fit.
        let months = breakdown(&t, &q(Dim::Month, Some("2020-01-01T00:00:00Z"), Some("2030-01-01T00:00:00Z"))).unwrap();
        assert_eq!(
            (months.len(), months.iter().map(|g| g.stats.calls).sum::<u64>()),
            (120, 0),
            "zero-filled, no call in the range"
        );
        // Hours and days of the week are 24 and 7, whatever the span.
        assert_eq!(breakdown(&t, &q(Dim::Hour, None, None)).unwrap().len(), 24);
    }

    #[test]
    fn a_closed_range_is_zero_filled_up_to_the_limit() {
        let t = table_of([(at("2025-01-01T12:00:00Z"), None), (at("2025-12-31T12:00:00Z"), None)]);
        let days = breakdown(&t, &q(Dim::Date, Some("2025-01-01T00:00:00Z"), Some("2026-01-01T00:00:00Z"))).unwrap();
        assert_eq!(days.len(), 365);
        assert_eq!(days.iter().filter(|g| g.stats.calls > 0).count(), 2);
        // 10,000 days fit; 10,001 do not.
        let ok = q(Dim::Date, Some("2000-01-01T00:00:00Z"), Some("2027-05-19T00:00:00Z"));
        assert_eq!(range_buckets(&ok), 10_000);
        assert!(breakdown(&t, &ok).is_ok());
        let too_wide = q(Dim::Date, Some("2000-01-01T00:00:00Z"), Some("2027-05-20T00:00:00Z"));
        assert!(matches!(
            breakdown(&t, &too_wide),
            Err(QueryError::TooManyGroups { groups: 10_001, .. })
        ));
    }

    #[test]
    fn an_open_range_refuses_more_buckets_with_data_than_an_answer_holds() {
        let day = 86_400;
        let base = at("2000-01-01T12:00:00Z");
        let t = table_of((0..=MAX_GROUPS as i64).map(|i| (base + chrono::Duration::seconds(i * day), None)));
        assert!(matches!(
            breakdown(&t, &q(Dim::Date, None, None)),
            Err(QueryError::TooManyGroups { time: true, .. })
        ));
        // By week the same calls fit.
        assert_eq!(breakdown(&t, &q(Dim::Week, None, None)).unwrap().len(), 1430);
    }

    #[test]
    fn named_groups_beyond_the_limit_need_a_limit_and_one_customer_can_be_asked_for() {
        let names: Vec<&'static str> = (0..=MAX_GROUPS)
            .map(|i| &*Box::leak(format!("cust-{i}").into_boxed_str()))
            .collect();
        let t = table_of(names.iter().map(|n| (at("2025-05-20T10:00:00Z"), Some(*n))));
        assert!(matches!(
            breakdown(&t, &q(Dim::Customer, None, None)),
            Err(QueryError::TooManyGroups { time: false, .. })
        ));
        let top = Query {
            limit: Some(10),
            order: Order::Calls,
            ..q(Dim::Customer, None, None)
        };
        assert_eq!(breakdown(&t, &top).unwrap().len(), 10);
        let one = Filter {
            customer: Some("cust-42".into()),
            ..Default::default()
        };
        assert_eq!(totals(&t, &one).calls, 1);
        let nobody = Filter {
            customer: Some("nobody".into()),
            ..Default::default()
        };
        assert_eq!(totals(&t, &nobody).calls, 0);
    }
}
