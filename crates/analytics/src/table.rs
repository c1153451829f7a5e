//! One organisation's calls as columns: a row per call, updated in place,
//! with low-cardinality text (agents, campaigns, outcomes, context values)
//! replaced by dictionary ids.

use std::collections::HashMap;

use serde_json::Value;
use switchboard_domain::{CallId, CallStatus, Direction};
use switchboard_store::CallFacts;

use crate::stats::{class, class_of};

/// Text ↔ id; id 0 means "none".
#[derive(Debug, Default)]
pub(crate) struct Dict {
    pub(crate) values: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Dict {
    pub(crate) fn id(&mut self, v: Option<&str>) -> u32 {
        let Some(v) = v else { return 0 };
        if let Some(id) = self.ids.get(v) {
            return *id;
        }
        self.values.push(v.to_owned());
        let id = self.values.len() as u32;
        self.ids.insert(v.to_owned(), id);
        id
    }

    pub(crate) fn find(&self, v: &str) -> Option<u32> {
        self.ids.get(v).copied()
    }

    pub(crate) fn name(&self, id: u32) -> Option<&str> {
        id.checked_sub(1).and_then(|i| self.values.get(i as usize)).map(String::as_str)
    }

    /// Number of ids including "none".
    pub(crate) fn len(&self) -> usize {
        self.values.len() + 1
    }
}

/// Values of one customer-context or metadata key, by row (0 = absent).
#[derive(Debug, Default)]
pub(crate) struct KeyColumn {
    pub(crate) vals: Vec<u32>,
}

impl KeyColumn {
    #[inline]
    pub(crate) fn get(&self, row: usize) -> u32 {
        self.vals.get(row).copied().unwrap_or(0)
    }

    fn set(&mut self, row: usize, v: u32) {
        if v == 0 && row >= self.vals.len() {
            return;
        }
        if row >= self.vals.len() {
            self.vals.resize(row + 1, 0);
        }
        self.vals[row] = v;
    }
}

/// The most keys taken from one call's context or metadata.
const MAX_KEYS_PER_CALL: usize = 64;
/// How deep nested objects are flattened into dotted keys.
const MAX_DEPTH: usize = 3;

/// Flattens a JSON object into (dotted key, scalar text, number).
fn flatten(prefix: &str, v: &Value, depth: usize, out: &mut Vec<(String, String, Option<f64>)>) {
    if out.len() >= MAX_KEYS_PER_CALL {
        return;
    }
    match v {
        Value::Object(map) if depth < MAX_DEPTH => {
            for (k, child) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, child, depth + 1, out);
            }
        }
        Value::Null => {}
        Value::String(s) => out.push((prefix.to_owned(), s.clone(), None)),
        Value::Number(n) => out.push((prefix.to_owned(), n.to_string(), n.as_f64())),
        Value::Bool(b) => out.push((prefix.to_owned(), b.to_string(), None)),
        other => out.push((prefix.to_owned(), other.to_string(), None)),
    }
}

/// A set of free keys (customer context, or metadata) and their values.
#[derive(Debug, Default)]
pub(crate) struct FreeKeys {
    pub(crate) columns: HashMap<String, KeyColumn>,
    pub(crate) values: Dict,
    /// The number behind each value id, when the value is a JSON number.
    pub(crate) numbers: Vec<Option<f64>>,
}

impl FreeKeys {
    fn set_row(&mut self, row: usize, v: Option<&Value>) {
        for col in self.columns.values_mut() {
            col.set(row, 0);
        }
        let Some(v) = v else { return };
        let mut flat = Vec::new();
        flatten("", v, 0, &mut flat);
        for (key, text, num) in flat {
            if key.is_empty() {
                continue;
            }
            let id = self.values.id(Some(&text));
            if self.numbers.len() < self.values.len() {
                self.numbers.resize(self.values.len(), None);
            }
            self.numbers[id as usize] = num;
            self.columns.entry(key).or_default().set(row, id);
        }
    }
}

/// Sorted call ids with their rows; ids made later sort later, so new calls
/// append, and the rare out-of-order id goes to a side map.
#[derive(Debug, Default)]
struct IdMap {
    sorted: Vec<u128>,
    rows: Vec<u32>,
    other: HashMap<u128, u32>,
}

impl IdMap {
    fn get(&self, id: u128) -> Option<u32> {
        match self.sorted.binary_search(&id) {
            Ok(i) => Some(self.rows[i]),
            Err(_) => self.other.get(&id).copied(),
        }
    }

    fn insert(&mut self, id: u128, row: u32) {
        if self.sorted.last().is_none_or(|last| *last < id) {
            self.sorted.push(id);
            self.rows.push(row);
        } else {
            self.other.insert(id, row);
        }
    }
}

/// One organisation's calls.
#[derive(Debug, Default)]
pub struct OrgTable {
    ids: IdMap,
    pub(crate) ts: Vec<i64>,
    pub(crate) duration: Vec<u32>,
    /// Class byte per row (see [`crate::stats::class`]); 0 for deleted calls.
    pub(crate) class: Vec<u8>,
    pub(crate) outcome: Vec<u32>,
    pub(crate) call_type: Vec<u32>,
    pub(crate) agent: Vec<u32>,
    pub(crate) campaign: Vec<u32>,
    pub(crate) customer: Vec<u32>,
    pub(crate) outcomes: Dict,
    pub(crate) call_types: Dict,
    pub(crate) agents: Dict,
    pub(crate) agent_names: Vec<Option<String>>,
    pub(crate) campaigns: Dict,
    pub(crate) customers: Dict,
    /// Latest (name, phone) of each customer id.
    pub(crate) customer_info: Vec<(Option<String>, Option<String>)>,
    pub(crate) context: FreeKeys,
    pub(crate) metadata: FreeKeys,
    /// Earliest and latest instant of any call, for sizing time tables.
    pub(crate) span: Option<(i64, i64)>,
    pub(crate) live: usize,
}

/// The label a call counts under in outcome breakdowns: its business
/// outcome when one was set, else what its final status says.
pub(crate) fn outcome_label(f: &CallFacts) -> Option<String> {
    if let Some(o) = f.outcome.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
        return Some(o.to_owned());
    }
    let label = match f.status {
        CallStatus::Completed => "completed",
        CallStatus::NoAnswer => "noAnswer",
        CallStatus::Busy => "busy",
        CallStatus::Failed => "failed",
        CallStatus::Voicemail => "voicemail",
        CallStatus::Canceled => "canceled",
        _ => return None,
    };
    Some(label.to_owned())
}

impl OrgTable {
    pub(crate) fn upsert(&mut self, f: &CallFacts) {
        let key = f.id.bits();
        let row = match self.ids.get(key) {
            Some(r) => r as usize,
            None => {
                let r = self.ts.len();
                self.ids.insert(key, r as u32);
                self.ts.push(0);
                self.duration.push(0);
                self.class.push(0);
                self.outcome.push(0);
                self.call_type.push(0);
                self.agent.push(0);
                self.campaign.push(0);
                self.customer.push(0);
                r
            }
        };
        if self.class[row] & class::LIVE == 0 {
            self.live += 1;
        }
        let ts = f.occurred_at.timestamp();
        self.span = Some(match self.span {
            None => (ts, ts),
            Some((lo, hi)) => (lo.min(ts), hi.max(ts)),
        });
        let outcome = outcome_label(f);
        self.ts[row] = ts;
        self.duration[row] = f.duration.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32;
        self.class[row] = class_of(
            f.status,
            f.direction == Direction::Inbound,
            f.outcome.as_deref(),
            f.duration.is_some(),
        );
        self.outcome[row] = self.outcomes.id(outcome.as_deref());
        self.call_type[row] = self.call_types.id(f.call_type.as_deref());
        let agent = self.agents.id(f.agent_id.as_deref());
        if agent as usize >= self.agent_names.len() {
            self.agent_names.resize(agent as usize + 1, None);
        }
        if f.agent_name.is_some() {
            self.agent_names[agent as usize] = f.agent_name.clone();
        }
        self.agent[row] = agent;
        self.campaign[row] = self.campaigns.id(f.campaign_id.as_deref());
        let customer_key = f.customer_external_id.as_deref().or(f.customer_phone.as_deref());
        let customer = self.customers.id(customer_key);
        if customer as usize >= self.customer_info.len() {
            self.customer_info.resize(customer as usize + 1, (None, None));
        }
        let info = &mut self.customer_info[customer as usize];
        if f.customer_name.is_some() {
            info.0 = f.customer_name.clone();
        }
        if f.customer_phone.is_some() {
            info.1 = f.customer_phone.clone();
        }
        self.customer[row] = customer;
        self.context.set_row(row, f.customer_context.as_ref());
        self.metadata.set_row(row, f.metadata.as_ref());
    }

    pub(crate) fn remove(&mut self, id: &CallId) {
        if let Some(row) = self.ids.get(id.bits()) {
            let row = row as usize;
            if self.class[row] & class::LIVE != 0 {
                self.live -= 1;
            }
            self.class[row] = 0;
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.ts.len()
    }

    /// Bytes held by the columns (approximate), for reporting.
    pub(crate) fn bytes(&self) -> usize {
        let n = self.rows();
        let free = |k: &FreeKeys| {
            k.columns.values().map(|c| c.vals.capacity() * 4).sum::<usize>() + k.values.values.iter().map(|v| v.len() + 40).sum::<usize>()
        };
        n * (8 + 4 + 1 + 4 * 5)
            + self.ids.sorted.capacity() * 16
            + self.ids.rows.capacity() * 4
            + free(&self.context)
            + free(&self.metadata)
    }
}
