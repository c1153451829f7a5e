//! The wallboard: active calls and real-time metrics per organisation,
//! kept in memory on each node from the same outbox tail as the streams.
//!
//! Each organisation's board is seeded once from the store (its live calls
//! and the calls created today in its time zone, plus running campaigns),
//! then every outbox event after the seed's position updates it. A call's
//! contribution to the counters is a function of its tracked state, so an
//! update subtracts the old contribution and adds the new one: O(1) per
//! event, never a scan of calls. A call's state only moves forward (each
//! call remembers the outbox position it reflects), so events older than
//! the seed are ignored. Day boundaries are checked once a second.
//!
//! Only organisations someone asked about (active calls, metrics) have a
//! board; the others cost nothing. A board holds the organisation's live
//! calls and the calls created today, a few hundred bytes each.
//!
//! Agents' figures come from an [`AgentSource`]; until an agents feature
//! provides one, they are zero.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use switchboard_domain::call::CallStatus;
use switchboard_domain::{Call, Direction, OrgId, Timestamp};
use switchboard_store::{CallCursor, CallFilter, DynStore, Page, StoreError};
use tokio::sync::watch;

use super::StreamEvent;

/// A call answered within this many seconds of its creation meets the
/// service level.
pub const SERVICE_LEVEL_SECS: i64 = 20;

/// Most live calls whose timeline a seed reads back (for the script step).
const MAX_TIMELINES_READ: usize = 10_000;

/// Agents' presence, from whatever feature knows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentCounts {
    pub online: u64,
    pub available: u64,
    pub on_call: u64,
    pub after_call_work: u64,
}

/// Where agents' figures come from. The board asks once a second per
/// organisation watched, so an implementation answers from memory.
pub trait AgentSource: Send + Sync {
    fn agents(&self, org: &OrgId) -> AgentCounts;
}

/// The source until an agents feature installs its own: nobody is online.
pub struct NoAgents;

impl AgentSource for NoAgents {
    fn agents(&self, _: &OrgId) -> AgentCounts {
        AgentCounts::default()
    }
}

/// One call as the board tracks it.
#[derive(Debug, Clone)]
struct Tracked {
    id: String,
    status: CallStatus,
    direction: Direction,
    /// When it entered the system (unknown for a call first seen mid-life
    /// on an organisation seeded without it: then it is not today's).
    created_at: Option<Timestamp>,
    /// When this node first saw it live (for the duration of calls whose
    /// start it did not see).
    first_seen: Timestamp,
    answered_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    duration: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    customer_name: Option<String>,
    campaign_id: Option<String>,
    agent_id: Option<String>,
    step: Option<Value>,
    last_segment: Option<Value>,
    sentiment: Option<String>,
    /// The outbox position this state reflects.
    seq: i64,
}

impl Tracked {
    fn live(&self) -> bool {
        matches!(self.status, CallStatus::Initiated | CallStatus::Ringing | CallStatus::InProgress)
    }

    fn answered(&self) -> bool {
        self.answered_at.is_some() || self.status == CallStatus::InProgress || self.status.was_answered()
    }

    fn from_call(c: &Call, seq: i64) -> Tracked {
        Tracked {
            id: c.id.to_string(),
            status: c.status,
            direction: c.direction,
            created_at: Some(c.created_at),
            first_seen: c.initiated_at.unwrap_or(c.created_at),
            answered_at: c.answered_at,
            ended_at: c.ended_at,
            duration: c.duration,
            from: c.from.clone(),
            to: c.to.clone(),
            customer_name: c.customer_name.clone(),
            campaign_id: c.campaign_id.clone(),
            agent_id: c.agent_id.clone(),
            step: None,
            last_segment: c
                .transcript
                .as_deref()
                .and_then(|t| switchboard_domain::transcript::split_text(t).pop())
                .and_then(|s| serde_json::to_value(s).ok()),
            sentiment: c.sentiment.map(|s| s.as_str().to_owned()),
            seq,
        }
    }

    /// The view `GET /v1/calls/active` shows.
    fn view(&self, now: Timestamp) -> Value {
        let since = self.answered_at.or(self.created_at).unwrap_or(self.first_seen);
        json!({
            "callId": self.id,
            "status": crate::api::v1::calls::native_status(self.status),
            "direction": self.direction.as_str(),
            "from": self.from,
            "to": self.to,
            "customerName": self.customer_name,
            "campaignId": self.campaign_id,
            "agentId": self.agent_id,
            "startedAt": self.created_at.unwrap_or(self.first_seen),
            "answeredAt": self.answered_at,
            "durationSoFar": (now - since).num_seconds().max(0),
            "currentStep": self.step,
            "lastSegment": self.last_segment,
            "sentiment": self.sentiment,
        })
    }
}

/// Counters a set of calls adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sums {
    active: i64,
    queued: i64,
    calls_today: i64,
    answered_today: i64,
    /// Today's calls answered, or ended unanswered after being dialled.
    decided_today: i64,
    handle_secs: i64,
    handled: i64,
    within_service_level: i64,
    inbound_ended: i64,
    inbound_abandoned: i64,
}

impl Sums {
    fn add(&mut self, o: &Sums, sign: i64) {
        self.active += sign * o.active;
        self.queued += sign * o.queued;
        self.calls_today += sign * o.calls_today;
        self.answered_today += sign * o.answered_today;
        self.decided_today += sign * o.decided_today;
        self.handle_secs += sign * o.handle_secs;
        self.handled += sign * o.handled;
        self.within_service_level += sign * o.within_service_level;
        self.inbound_ended += sign * o.inbound_ended;
        self.inbound_abandoned += sign * o.inbound_abandoned;
    }
}

/// What one call adds to the counters, for the day `[start, end)`.
fn contribution(t: &Tracked, start: Timestamp, end: Timestamp) -> Sums {
    let mut s = Sums {
        active: i64::from(t.live()),
        queued: i64::from(t.status == CallStatus::Queued),
        ..Default::default()
    };
    let today = t.created_at.is_some_and(|c| c >= start && c < end);
    if !today {
        return s;
    }
    let answered = t.answered();
    let ended = t.status.is_terminal();
    s.calls_today = 1;
    s.answered_today = i64::from(answered);
    s.decided_today = i64::from(answered || (ended && t.status != CallStatus::Canceled));
    if let (Some(c), Some(a)) = (t.created_at, t.answered_at) {
        s.within_service_level = i64::from((a - c).num_seconds() <= SERVICE_LEVEL_SECS);
    }
    if ended
        && answered
        && let Some(d) = t.duration
    {
        s.handle_secs = d.max(0);
        s.handled = 1;
    }
    if ended && t.direction == Direction::Inbound {
        s.inbound_ended = 1;
        s.inbound_abandoned = i64::from(!answered);
    }
    s
}

/// The calendar day of `now` in `tz`: `[start, end)`.
fn day_bounds(tz: chrono_tz::Tz, now: Timestamp) -> (Timestamp, Timestamp) {
    let local = now.with_timezone(&tz).date_naive();
    let at = |d: chrono::NaiveDate| {
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        tz.from_local_datetime(&midnight)
            .earliest()
            .map(|x| x.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
    };
    (at(local), at(local.succ_opt().unwrap_or(local)))
}

struct OrgBoard {
    /// Events at or below this position are in the seed; `None` until seeded.
    seeded_through: Option<i64>,
    tz: chrono_tz::Tz,
    day: (Timestamp, Timestamp),
    calls: HashMap<String, Tracked>,
    queued: BTreeSet<(Timestamp, String)>,
    sums: Sums,
    campaigns: HashSet<String>,
    /// Bumped on every change (for "send when changed").
    version: u64,
    metrics: Option<watch::Sender<Arc<Value>>>,
}

impl OrgBoard {
    fn new(now: Timestamp) -> OrgBoard {
        OrgBoard {
            seeded_through: None,
            tz: chrono_tz::UTC,
            day: day_bounds(chrono_tz::UTC, now),
            calls: HashMap::new(),
            queued: BTreeSet::new(),
            sums: Sums::default(),
            campaigns: HashSet::new(),
            version: 0,
            metrics: None,
        }
    }

    fn queue_key(t: &Tracked) -> (Timestamp, String) {
        (t.created_at.unwrap_or(t.first_seen), t.id.clone())
    }

    /// Puts `t` in place of the call's current state, keeping the counters.
    fn put(&mut self, t: Tracked) {
        let (start, end) = self.day;
        if let Some(old) = self.calls.remove(&t.id) {
            self.sums.add(&contribution(&old, start, end), -1);
            if old.status == CallStatus::Queued {
                self.queued.remove(&Self::queue_key(&old));
            }
        }
        self.sums.add(&contribution(&t, start, end), 1);
        if t.status == CallStatus::Queued {
            self.queued.insert(Self::queue_key(&t));
        }
        let today = t.created_at.is_some_and(|c| c >= start && c < end);
        // Calls neither live nor today's weigh nothing: forget them.
        if today || !t.status.is_terminal() {
            self.calls.insert(t.id.clone(), t);
        }
        self.version += 1;
    }

    fn remove(&mut self, id: &str) {
        if let Some(old) = self.calls.remove(id) {
            let (start, end) = self.day;
            self.sums.add(&contribution(&old, start, end), -1);
            if old.status == CallStatus::Queued {
                self.queued.remove(&Self::queue_key(&old));
            }
            self.version += 1;
        }
    }

    /// Recomputes every counter for a new day (or time zone).
    fn rebase(&mut self, day: (Timestamp, Timestamp)) {
        self.day = day;
        let calls: Vec<Tracked> = self.calls.drain().map(|(_, t)| t).collect();
        self.sums = Sums::default();
        self.queued.clear();
        for t in calls {
            self.put(t);
        }
        self.version += 1;
    }

    fn apply(&mut self, e: &StreamEvent) {
        if self.seeded_through.is_some_and(|s| e.seq <= s) {
            return;
        }
        let d = &e.data;
        if e.event_type.starts_with("campaign.") {
            if let Some(id) = d["campaignId"].as_str() {
                if d["status"] == "active" {
                    self.campaigns.insert(id.to_owned());
                } else {
                    self.campaigns.remove(id);
                }
                self.version += 1;
            }
            return;
        }
        let Some(call_id) = e.call_id.as_deref() else { return };
        if e.event_type == "call.deleted" {
            self.remove(call_id);
            return;
        }
        let is_call = e.event_type.starts_with("call.");
        let is_text = e.event_type == "transcript.updated" || e.event_type == "transcription.complete";
        if !is_call && !is_text {
            return;
        }
        let mut t = match self.calls.get(call_id) {
            Some(t) if t.seq >= e.seq => return,
            Some(t) => t.clone(),
            None => {
                // A call's first event without `previousStatus` is its
                // creation; any other first sight is of an older call.
                let created =
                    is_call && e.event_type != "call.updated" && e.event_type != "call.event" && d.get("previousStatus").is_none();
                Tracked {
                    id: call_id.to_owned(),
                    status: CallStatus::Queued,
                    direction: Direction::Outbound,
                    created_at: created.then_some(e.created_at),
                    first_seen: e.created_at,
                    answered_at: None,
                    ended_at: None,
                    duration: None,
                    from: None,
                    to: None,
                    customer_name: None,
                    campaign_id: None,
                    agent_id: None,
                    step: None,
                    last_segment: None,
                    sentiment: None,
                    seq: 0,
                }
            }
        };
        t.seq = e.seq;
        if is_call {
            if let Some(s) = d["status"].as_str().and_then(CallStatus::parse) {
                if s == CallStatus::InProgress && t.answered_at.is_none() {
                    t.answered_at = Some(e.created_at);
                }
                if s.is_terminal() && t.ended_at.is_none() {
                    t.ended_at = Some(e.created_at);
                }
                t.status = s;
            }
            if let Some(dir) = d["direction"].as_str().and_then(Direction::parse) {
                t.direction = dir;
            }
            let text = |k: &str| d[k].as_str().map(str::to_owned);
            t.from = text("from").or(t.from);
            t.to = text("to").or(t.to);
            t.customer_name = text("customerName").or(t.customer_name);
            t.campaign_id = text("campaignId").or(t.campaign_id);
            t.agent_id = text("agentId").or(t.agent_id);
            t.sentiment = text("sentiment").or(t.sentiment);
            t.duration = d["duration"].as_i64().or(t.duration);
            if e.event_type == "call.event" && d["event"]["kind"] == "script.step" {
                let step = &d["event"]["data"]["step"];
                if !step.is_null() {
                    t.step = Some(step.clone());
                }
            }
        } else if e.event_type == "transcript.updated" {
            if d["segment"].is_object() {
                t.last_segment = Some(d["segment"].clone());
            }
            if let Some(s) = d["sentiment"].as_str() {
                t.sentiment = Some(s.to_owned());
            }
        } else {
            if let Some(last) = d["transcript"]
                .as_str()
                .and_then(|text| switchboard_domain::transcript::split_text(text).pop())
            {
                t.last_segment = serde_json::to_value(last).ok();
            }
            if let Some(s) = d["sentiment"].as_str() {
                t.sentiment = Some(s.to_owned());
            }
        }
        self.put(t);
    }

    fn metrics(&self, agents: AgentCounts, now: Timestamp) -> Value {
        let s = &self.sums;
        let ratio = |n: i64, d: i64| if d > 0 { Some(n as f64 / d as f64) } else { None };
        let oldest = self.queued.iter().next().map(|(at, _)| (now - *at).num_seconds().max(0));
        json!({
            "activeCalls": s.active,
            "callsToday": s.calls_today,
            "answeredToday": s.answered_today,
            "answerRate": ratio(s.answered_today, s.decided_today),
            "averageHandleTime": ratio(s.handle_secs, s.handled),
            "queueSize": s.queued,
            "oldestWaitSeconds": oldest,
            "agents": agents,
            "serviceLevel": ratio(s.within_service_level, s.answered_today),
            "serviceLevelSeconds": SERVICE_LEVEL_SECS,
            "abandonmentRate": ratio(s.inbound_abandoned, s.inbound_ended),
            "campaignsRunning": self.campaigns.len(),
            "day": self.day.0.with_timezone(&self.tz).date_naive().to_string(),
            "timeZone": self.tz.name(),
        })
    }
}

/// Active calls and metrics of every organisation this node watches.
pub struct Board {
    store: DynStore,
    orgs: Mutex<HashMap<OrgId, OrgBoard>>,
    agents: RwLock<Arc<dyn AgentSource>>,
    /// The outbox position applied.
    position: std::sync::atomic::AtomicI64,
    /// One seed at a time per organisation.
    seeding: tokio::sync::Mutex<()>,
}

impl Board {
    pub fn new(store: DynStore) -> Board {
        Board {
            store,
            orgs: Mutex::new(HashMap::new()),
            agents: RwLock::new(Arc::new(NoAgents)),
            position: std::sync::atomic::AtomicI64::new(0),
            seeding: tokio::sync::Mutex::new(()),
        }
    }

    /// Installs the source of agents' figures (the agents feature calls this).
    pub fn set_agent_source(&self, source: Arc<dyn AgentSource>) {
        *self.agents.write().expect("agents lock") = source;
    }

    pub(super) fn set_position(&self, pos: i64) {
        self.position.store(pos, std::sync::atomic::Ordering::SeqCst);
    }

    /// The outbox position the board reflects.
    pub fn position(&self) -> i64 {
        self.position.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Applies a batch from the tailer to the organisations watched (the
    /// others cost nothing).
    pub(super) fn apply(&self, events: &[Arc<StreamEvent>]) {
        let mut orgs = self.orgs.lock().expect("board lock");
        for e in events {
            if let Some(b) = orgs.get_mut(&e.org_id) {
                b.apply(e);
            }
        }
        if let Some(last) = events.last() {
            self.set_position(last.seq);
        }
    }

    /// Forgets every board (after the tailer lost events): each is seeded
    /// again on its next use.
    pub(super) fn reset(&self) {
        self.orgs.lock().expect("board lock").clear();
    }

    /// Seeds `org`'s board from the store unless it is seeded already.
    pub async fn ensure_seeded(&self, org: &OrgId) -> Result<(), StoreError> {
        let seeded = |b: &Board| {
            b.orgs
                .lock()
                .expect("board lock")
                .get(org)
                .is_some_and(|o| o.seeded_through.is_some())
        };
        if seeded(self) {
            return Ok(());
        }
        let _one = self.seeding.lock().await;
        if seeded(self) {
            return Ok(());
        }
        let record = self.store.get_org(org).await?;
        let tz = record.time_zone.0;
        // Watch first: from here on the tailer applies the organisation's
        // events, and every event it applied before is at or below the head
        // read next.
        self.orgs
            .lock()
            .expect("board lock")
            .entry(org.clone())
            .or_insert_with(|| OrgBoard::new(switchboard_domain::now()));
        // The head next: every change at or below it is in the rows read after.
        let head = match self.store.outbox_head().await {
            Ok(h) => h,
            Err(e) => {
                self.orgs.lock().expect("board lock").remove(org);
                return Err(e);
            }
        };
        let now = switchboard_domain::now();
        let day = day_bounds(tz, now);
        let since = day
            .0
            .min(now - chrono::Duration::seconds(switchboard_domain::org::LIVE_WINDOW_SECS));
        let filter = CallFilter {
            start: Some(since),
            ..Default::default()
        };
        let mut rows: Vec<Tracked> = Vec::new();
        let mut cursor: Option<CallCursor> = None;
        loop {
            let page = self.store.calls_after(org, &filter, cursor.clone(), 1000).await?;
            let Some(last) = page.last() else { break };
            cursor = Some(CallCursor {
                occurred_at: last.occurred_at(),
                id: last.id.clone(),
            });
            let full = page.len() == 1000;
            for c in &page {
                let today = c.created_at >= day.0 && c.created_at < day.1;
                if today || !c.status.is_terminal() {
                    rows.push(Tracked::from_call(c, head));
                }
            }
            if !full {
                break;
            }
        }
        // A live call's script step is in its timeline (bounded by the
        // plan's cap on live calls).
        for t in rows.iter_mut().filter(|t| t.live()).take(MAX_TIMELINES_READ) {
            let Ok(id) = t.id.parse() else { continue };
            if let Ok(call) = self.store.get_call(org, &id).await {
                t.step = call
                    .timeline
                    .iter()
                    .rev()
                    .find(|e| e.kind == "script.step")
                    .and_then(|e| e.data.as_ref())
                    .map(|d| d["step"].clone())
                    .filter(|s| !s.is_null());
            }
        }
        let mut campaigns = HashSet::new();
        let mut page = 1;
        loop {
            let (list, total) = self
                .store
                .list_campaigns(
                    org,
                    Some(switchboard_domain::campaign::CampaignStatus::Active),
                    Page { page, limit: 100 },
                )
                .await?;
            campaigns.extend(list.iter().map(|c| c.id.to_string()));
            if list.is_empty() || u64::from(page) * 100 >= total {
                break;
            }
            page += 1;
        }
        let mut orgs = self.orgs.lock().expect("board lock");
        let board = orgs.entry(org.clone()).or_insert_with(|| OrgBoard::new(now));
        board.tz = tz;
        // What the tailer saw after the head is newer than the rows; what it
        // saw before is older, and the rows replace it.
        let newer: HashMap<String, Tracked> = board.calls.drain().filter(|(_, t)| t.seq > head).collect();
        board.queued.clear();
        board.sums = Sums::default();
        board.day = day;
        for mut t in rows {
            if let Some(n) = newer.get(&t.id) {
                let created = t.created_at;
                t = n.clone();
                t.created_at = t.created_at.or(created);
            }
            board.put(t);
        }
        for (id, t) in newer {
            if !board.calls.contains_key(&id) {
                board.put(t);
            }
        }
        if board.seeded_through.is_none() {
            board.campaigns = campaigns;
        }
        board.seeded_through = Some(head);
        board.version += 1;
        Ok(())
    }

    /// The organisation's live calls (dialling, ringing or talking), oldest first.
    pub async fn active_calls(&self, org: &OrgId) -> Result<Vec<Value>, StoreError> {
        self.ensure_seeded(org).await?;
        Ok(self.active_now(org).1)
    }

    /// The live calls with the position they reflect, taken at once.
    pub fn active_now(&self, org: &OrgId) -> (i64, Vec<Value>) {
        let now = switchboard_domain::now();
        let orgs = self.orgs.lock().expect("board lock");
        let position = self.position();
        let Some(b) = orgs.get(org) else { return (position, Vec::new()) };
        let mut live: Vec<&Tracked> = b.calls.values().filter(|t| t.live()).collect();
        live.sort_by(|a, b| (a.created_at.unwrap_or(a.first_seen), &a.id).cmp(&(b.created_at.unwrap_or(b.first_seen), &b.id)));
        (position, live.iter().map(|t| t.view(now)).collect())
    }

    /// One call's current view, live or not (`None` when not tracked).
    pub fn call_view(&self, org: &OrgId, call_id: &str) -> Option<Value> {
        let now = switchboard_domain::now();
        let orgs = self.orgs.lock().expect("board lock");
        let t = orgs.get(org)?.calls.get(call_id)?;
        let mut v = t.view(now);
        v["live"] = json!(t.live());
        Some(v)
    }

    /// The organisation's real-time figures now.
    pub async fn metrics(&self, org: &OrgId) -> Result<Value, StoreError> {
        self.ensure_seeded(org).await?;
        let agents = self.agents.read().expect("agents lock").agents(org);
        let orgs = self.orgs.lock().expect("board lock");
        Ok(orgs
            .get(org)
            .map(|b| b.metrics(agents, switchboard_domain::now()))
            .unwrap_or(Value::Null))
    }

    /// A receiver of the organisation's figures, sent once a second when
    /// they changed (the current figures first).
    pub async fn watch_metrics(&self, org: &OrgId) -> Result<watch::Receiver<Arc<Value>>, StoreError> {
        let current = Arc::new(self.metrics(org).await?);
        let mut orgs = self.orgs.lock().expect("board lock");
        let b = orgs.get_mut(org).ok_or(StoreError::NotFound("organisation"))?;
        Ok(match &b.metrics {
            Some(tx) => {
                let mut rx = tx.subscribe();
                rx.mark_changed();
                rx
            }
            None => {
                let (tx, mut rx) = watch::channel(current);
                rx.mark_changed();
                b.metrics = Some(tx);
                rx
            }
        })
    }

    /// Once a second: moves boards into a new day and sends changed
    /// figures to watchers.
    fn tick_once(&self) {
        let now = switchboard_domain::now();
        let source = self.agents.read().expect("agents lock").clone();
        let mut orgs = self.orgs.lock().expect("board lock");
        for (org, b) in orgs.iter_mut() {
            if now >= b.day.1 {
                b.rebase(day_bounds(b.tz, now));
            }
            let Some(tx) = &b.metrics else { continue };
            if tx.receiver_count() == 0 {
                b.metrics = None;
                continue;
            }
            let figures = b.metrics(source.agents(org), now);
            if **tx.borrow() != figures {
                tx.send_replace(Arc::new(figures));
            }
        }
    }
}

/// Runs [`Board::tick_once`] every second until the board is dropped.
pub(super) async fn tick(board: Weak<Board>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        let Some(b) = board.upgrade() else { return };
        b.tick_once();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: i64, kind: &str, data: Value, secs: i64) -> StreamEvent {
        let org = OrgId::from_trusted("org_t".into());
        let at = Utc.timestamp_opt(1_764_547_200 + secs, 0).unwrap();
        let mut e = switchboard_domain::DomainEvent::new(&org, kind, data, at);
        e.seq = seq;
        StreamEvent::from_domain(e)
    }

    #[test]
    fn counters_follow_a_call_and_never_double_count() {
        let day = day_bounds(chrono_tz::UTC, Utc.timestamp_opt(1_764_547_200 + 3600, 0).unwrap());
        let mut b = OrgBoard::new(day.0);
        b.day = day;
        b.seeded_through = Some(0);
        let call = |status: &str, extra: Value| {
            let mut d = json!({"callId": "call_1", "status": status, "direction": "inbound"});
            if let (Value::Object(m), Value::Object(x)) = (&mut d, extra) {
                m.extend(x);
            }
            d
        };
        b.apply(&ev(1, "call.ringing", call("ringing", json!({})), 10));
        assert_eq!((b.sums.active, b.sums.calls_today), (1, 1));
        b.apply(&ev(
            2,
            "call.answered",
            call("in_progress", json!({"previousStatus": "ringing"})),
            25,
        ));
        b.apply(&ev(
            2,
            "call.answered",
            call("in_progress", json!({"previousStatus": "ringing"})),
            25,
        ));
        assert_eq!(b.sums.answered_today, 1);
        assert_eq!(b.sums.within_service_level, 1, "answered 15 s after creation");
        b.apply(&ev(
            3,
            "call.event",
            json!({"callId": "call_1", "event": {"kind": "script.step", "data": {"step": "greeting"}}}),
            26,
        ));
        assert_eq!(b.calls["call_1"].step, Some(json!("greeting")));
        b.apply(&ev(
            4,
            "call.completed",
            call("completed", json!({"duration": 90, "previousStatus": "in_progress"})),
            120,
        ));
        assert_eq!((b.sums.active, b.sums.handled, b.sums.handle_secs), (0, 1, 90));
        assert_eq!((b.sums.inbound_ended, b.sums.inbound_abandoned), (1, 0));
        // An old event replayed changes nothing.
        b.apply(&ev(2, "call.answered", call("in_progress", json!({})), 25));
        assert_eq!(b.sums.active, 0);
        // Next day: the call is no longer today's.
        b.rebase((day.1, day.1 + chrono::Duration::days(1)));
        assert_eq!(b.sums, Sums::default());
        assert!(b.calls.is_empty());
    }

    #[test]
    fn events_before_the_seed_are_ignored_and_unknown_calls_are_not_today() {
        let day = day_bounds(chrono_tz::UTC, Utc.timestamp_opt(1_764_547_200, 0).unwrap());
        let mut b = OrgBoard::new(day.0);
        b.day = day;
        b.seeded_through = Some(10);
        b.apply(&ev(5, "call.queued", json!({"callId": "call_x", "status": "queued"}), 1));
        assert!(b.calls.is_empty());
        b.apply(&ev(
            11,
            "call.answered",
            json!({"callId": "call_y", "status": "in_progress", "previousStatus": "ringing"}),
            2,
        ));
        assert_eq!((b.sums.active, b.sums.calls_today), (1, 0));
    }
}
