//! Queries over an organisation's table: one filtered scan that groups
//! calls by a dimension and adds up [`Stats`] per group.

use chrono_tz::Tz;
use serde::Serialize;
use switchboard_domain::{CallStatus, Direction};

use crate::stats::{Stats, flag};
use crate::table::{FreeKeys, OrgTable};
use crate::time::{self, SlotTable};

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

fn matches(t: &OrgTable, row: usize, f: &Resolved) -> bool {
    let fl = t.flags[row];
    if fl & flag::LIVE == 0 {
        return false;
    }
    let ts = t.ts[row];
    if f.start.is_some_and(|s| ts < s) || f.end.is_some_and(|e| ts >= e) {
        return false;
    }
    if !f.campaigns.is_empty() && !f.campaigns.contains(&t.campaign[row]) {
        return false;
    }
    if f.agent.is_some_and(|a| t.agent[row] != a) || f.call_type.is_some_and(|c| t.call_type[row] != c) {
        return false;
    }
    if let Some(d) = f.direction {
        let inbound = fl & flag::INBOUND != 0;
        if inbound != (d == Direction::Inbound) {
            return false;
        }
    }
    true
}

/// A filter with its text replaced by dictionary ids; `None` when it cannot match.
struct Resolved {
    start: Option<i64>,
    end: Option<i64>,
    campaigns: Vec<u32>,
    agent: Option<u32>,
    call_type: Option<u32>,
    direction: Option<Direction>,
}

fn resolve(t: &OrgTable, f: &Filter) -> Option<Resolved> {
    let campaigns: Vec<u32> = f.campaigns.iter().filter_map(|c| t.campaigns.find(c)).collect();
    if !f.campaigns.is_empty() && campaigns.is_empty() {
        return None;
    }
    let agent = match &f.agent {
        Some(a) => Some(t.agents.find(a)?),
        None => None,
    };
    let call_type = match &f.call_type {
        Some(c) => Some(t.call_types.find(c)?),
        None => None,
    };
    Some(Resolved {
        start: f.start,
        end: f.end,
        campaigns,
        agent,
        call_type,
        direction: f.direction,
    })
}

/// Scans the rows matching `filter`, calling `each(row)`.
fn scan(t: &OrgTable, filter: &Filter, mut each: impl FnMut(usize)) {
    let Some(f) = resolve(t, filter) else { return };
    for row in 0..t.rows() {
        if matches(t, row, &f) {
            each(row);
        }
    }
}

/// Totals of the calls matching `filter`.
pub fn totals(t: &OrgTable, filter: &Filter) -> Stats {
    let mut s = Stats::default();
    scan(t, filter, |row| s.add(t.flags[row], t.duration[row]));
    s
}

fn number_bins(keys: &FreeKeys, bins: &Bins, present: &[bool]) -> Option<(Vec<f64>, Vec<String>)> {
    let edges = match bins {
        Bins::None => return None,
        Bins::Edges(e) => e.clone(),
        Bins::Auto => {
            let nums: Vec<f64> = keys
                .numbers
                .iter()
                .enumerate()
                .filter(|(i, _)| present.get(*i).copied().unwrap_or(false))
                .filter_map(|(_, n)| *n)
                .collect();
            let (lo, hi) = nums
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), n| (lo.min(*n), hi.max(*n)));
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
    while *edges.last().unwrap_or(&hi) <= hi {
        let next = edges.last().unwrap_or(&start) + step;
        edges.push(next);
    }
    edges
}

fn bin_of(edges: &[f64], v: f64) -> usize {
    edges.partition_point(|e| *e <= v)
}

/// Groups the calls matching `filter` by `dim`; groups come in the
/// dimension's natural order (time, hour, bucket) or by calls, most first.
pub fn breakdown(t: &OrgTable, filter: &Filter, dim: &Dim, tz: Tz, bins: &Bins) -> Vec<Group> {
    match dim {
        Dim::All => vec![Group {
            key: None,
            name: None,
            phone: None,
            stats: totals(t, filter),
        }],
        Dim::Hour | Dim::DayOfWeek | Dim::Date | Dim::Week | Dim::Month => time_breakdown(t, filter, dim, tz),
        Dim::Context(key) | Dim::Metadata(key) => {
            let keys = if matches!(dim, Dim::Context(_)) { &t.context } else { &t.metadata };
            free_breakdown(t, filter, keys, key, bins)
        }
        _ => fixed_breakdown(t, filter, dim),
    }
}

fn sorted_by_calls(mut groups: Vec<Group>) -> Vec<Group> {
    groups.sort_by(|a, b| b.stats.calls.cmp(&a.stats.calls).then_with(|| a.key.cmp(&b.key)));
    groups
}

fn fixed_breakdown(t: &OrgTable, filter: &Filter, dim: &Dim) -> Vec<Group> {
    let size = match dim {
        Dim::CallType => t.call_types.len(),
        Dim::Agent => t.agents.len(),
        Dim::Campaign => t.campaigns.len(),
        Dim::Outcome => t.outcomes.len(),
        Dim::Customer => t.customers.len(),
        Dim::Direction => 2,
        Dim::Status => CallStatus::ALL.len(),
        _ => DURATION_BUCKETS.len(),
    };
    let mut acc = vec![Stats::default(); size];
    let key_of: Box<dyn Fn(usize) -> usize + '_> = match dim {
        Dim::CallType => Box::new(|r| t.call_type[r] as usize),
        Dim::Agent => Box::new(|r| t.agent[r] as usize),
        Dim::Campaign => Box::new(|r| t.campaign[r] as usize),
        Dim::Outcome => Box::new(|r| t.outcome[r] as usize),
        Dim::Customer => Box::new(|r| t.customer[r] as usize),
        Dim::Direction => Box::new(|r| usize::from(t.flags[r] & flag::INBOUND != 0)),
        Dim::Status => Box::new(|r| t.status[r] as usize),
        _ => Box::new(|r| {
            DURATION_BUCKETS
                .iter()
                .position(|(_, lo, hi)| t.duration[r] >= *lo && t.duration[r] < *hi)
                .unwrap_or(0)
        }),
    };
    scan(t, filter, |row| acc[key_of(row)].add(t.flags[row], t.duration[row]));
    let label = |i: usize| -> (Option<String>, Option<String>, Option<String>) {
        match dim {
            Dim::CallType => (t.call_types.name(i as u32).map(str::to_owned), None, None),
            Dim::Agent => (
                t.agents.name(i as u32).map(str::to_owned),
                t.agent_names.get(i).cloned().flatten(),
                None,
            ),
            Dim::Campaign => (t.campaigns.name(i as u32).map(str::to_owned), None, None),
            Dim::Outcome => (t.outcomes.name(i as u32).map(str::to_owned), None, None),
            Dim::Customer => {
                let (name, phone) = t.customer_info.get(i).cloned().unwrap_or_default();
                (t.customers.name(i as u32).map(str::to_owned), name, phone)
            }
            Dim::Direction => (Some(if i == 1 { "inbound" } else { "outbound" }.to_owned()), None, None),
            Dim::Status => (Some(CallStatus::ALL[i].as_str().to_owned()), None, None),
            _ => (Some(DURATION_BUCKETS[i].0.to_owned()), None, None),
        }
    };
    let groups = acc.into_iter().enumerate().filter(|(_, s)| s.calls > 0).map(|(i, stats)| {
        let (key, name, phone) = label(i);
        Group { key, name, phone, stats }
    });
    if matches!(dim, Dim::DurationBucket | Dim::Status | Dim::Direction) {
        // Natural order; every bucket shown.
        let mut all: Vec<Group> = groups.collect();
        if matches!(dim, Dim::DurationBucket) {
            all = DURATION_BUCKETS
                .iter()
                .map(|(name, _, _)| {
                    all.iter().find(|g| g.key.as_deref() == Some(name)).cloned().unwrap_or(Group {
                        key: Some((*name).to_owned()),
                        name: None,
                        phone: None,
                        stats: Stats::default(),
                    })
                })
                .collect();
        }
        all
    } else {
        sorted_by_calls(groups.collect())
    }
}

fn free_breakdown(t: &OrgTable, filter: &Filter, keys: &FreeKeys, key: &str, bins: &Bins) -> Vec<Group> {
    let Some(col) = keys.columns.get(key) else {
        // No call has this key: everything falls in the "none" group.
        let stats = totals(t, filter);
        return if stats.calls > 0 {
            vec![Group {
                key: None,
                name: None,
                phone: None,
                stats,
            }]
        } else {
            vec![]
        };
    };
    let mut acc = vec![Stats::default(); keys.values.len()];
    scan(t, filter, |row| acc[col.get(row) as usize].add(t.flags[row], t.duration[row]));
    let present: Vec<bool> = acc.iter().map(|s| s.calls > 0).collect();
    if let Some((edges, labels)) = number_bins(keys, bins, &present) {
        let mut binned = vec![Stats::default(); labels.len()];
        let mut other: Vec<Group> = Vec::new();
        for (id, s) in acc.iter().enumerate().filter(|(_, s)| s.calls > 0) {
            match keys.numbers.get(id).copied().flatten() {
                Some(n) if id > 0 => binned[bin_of(&edges, n)].merge(s),
                _ => other.push(Group {
                    key: if id == 0 {
                        None
                    } else {
                        keys.values.name(id as u32).map(str::to_owned)
                    },
                    name: None,
                    phone: None,
                    stats: *s,
                }),
            }
        }
        let mut out: Vec<Group> = labels
            .into_iter()
            .zip(binned)
            .filter(|(_, s)| s.calls > 0)
            .map(|(l, stats)| Group {
                key: Some(l),
                name: None,
                phone: None,
                stats,
            })
            .collect();
        out.extend(sorted_by_calls(other));
        return out;
    }
    let groups = acc.into_iter().enumerate().filter(|(_, s)| s.calls > 0).map(|(id, stats)| Group {
        key: if id == 0 {
            None
        } else {
            keys.values.name(id as u32).map(str::to_owned)
        },
        name: None,
        phone: None,
        stats,
    });
    sorted_by_calls(groups.collect())
}

fn time_breakdown(t: &OrgTable, filter: &Filter, dim: &Dim, tz: Tz) -> Vec<Group> {
    let Some((lo, hi)) = t.span else { return vec![] };
    let (lo, hi) = (filter.start.map_or(lo, |s| s.max(lo)), filter.end.map_or(hi, |e| (e - 1).min(hi)));
    if lo > hi {
        return vec![];
    }
    let table = SlotTable::new(tz, lo, hi);
    match dim {
        Dim::Hour | Dim::DayOfWeek => {
            let n = if matches!(dim, Dim::Hour) { 24 } else { 7 };
            let mut acc = vec![Stats::default(); n];
            scan(t, filter, |row| {
                let l = table.local(t.ts[row]);
                let k = if matches!(dim, Dim::Hour) { l.hour } else { l.dow } as usize;
                acc[k].add(t.flags[row], t.duration[row]);
            });
            acc.into_iter()
                .enumerate()
                .map(|(i, stats)| Group {
                    key: Some(i.to_string()),
                    name: None,
                    phone: None,
                    stats,
                })
                .collect()
        }
        _ => {
            let key = |ts: i64| {
                let l = table.local(ts);
                match dim {
                    Dim::Date => l.day,
                    Dim::Week => l.week,
                    _ => l.month,
                }
            };
            let (first, last) = (key(lo), key(hi));
            let mut acc = vec![Stats::default(); (last - first + 1).max(0) as usize];
            scan(t, filter, |row| {
                let k = key(t.ts[row]) - first;
                if let Some(s) = acc.get_mut(k as usize) {
                    s.add(t.flags[row], t.duration[row]);
                }
            });
            let label = |k: i32| {
                if matches!(dim, Dim::Month) {
                    time::month_label(k)
                } else {
                    time::date_label(k)
                }
            };
            let step = if matches!(dim, Dim::Week) { 7 } else { 1 };
            acc.into_iter()
                .enumerate()
                .filter(|(i, s)| s.calls > 0 || (*i as i32) % step == 0)
                .filter(|(_, s)| s.calls > 0 || filter.start.is_some() && filter.end.is_some())
                .map(|(i, stats)| Group {
                    key: Some(label(first + i as i32)),
                    name: None,
                    phone: None,
                    stats,
                })
                .collect()
        }
    }
}
