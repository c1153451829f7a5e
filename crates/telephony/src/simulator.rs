//! The simulated carrier: places calls nowhere, and reports for each the
//! status sequence a real carrier would send, at simulated times.
//!
//! Every call's fate is a pure function of the seed, the number, the
//! attempt, the callee's local hour and the time it was placed, so a run
//! is reproducible and a restarted simulator can resume the calls that
//! were live when the process died ([`Simulator::resume`]).
//!
//! Sequences: `initiated → ringing → in_progress → completed`; an answered
//! call may instead end as `voicemail`; `initiated → busy`,
//! `initiated → ringing → no_answer`, `initiated → failed`.
//!
//! A call that runs a script is handed to the conversation runtime when it
//! is answered: the simulated callee (a [`Persona`], see
//! [`crate::personas`]) answers each question after a human delay, prompts
//! take their spoken time, and the call ends when the script or the callee
//! hangs up. Every placement is recorded ([`Simulator::placements`], and a
//! log file when configured) so tests can prove a call was dialled once.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Timelike;
use futures::StreamExt;
use switchboard_domain::call::CallReport;
use switchboard_domain::{CallId, CallStatus, OrgId, TimeZone, Timestamp};
use switchboard_store::{CallTarget, DynStore, LiveCall};

use super::{CallRef, Carrier, CarrierError, Conversations, LiveAction, PlaceCall, TimeSource};
pub use crate::personas::PERSONAS;
use crate::personas::{Callee, Persona, Reply};
use switchboard_domain::conversation::{Action, Event};

/// Prefix of the simulator's call ids.
pub const ID_PREFIX: &str = "SIM";

/// How the simulated callees behave.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSettings {
    pub seed: u64,
    /// Share of calls the network fails outright.
    pub failed_rate: f64,
    /// Share of calls that find the line busy.
    pub busy_rate: f64,
    /// Chance a ringing phone is answered at the best hour of the day;
    /// [`hour_factor`] shapes it over the callee's local day. Calls not
    /// answered end as `no_answer`.
    pub answer_rate: f64,
    /// Share of answered calls that reach voicemail.
    pub voicemail_rate: f64,
    /// Mean talk time of answered calls (exponentially distributed, 5 s to 30 min).
    pub talk_mean_secs: f64,
    /// How long an unanswered phone rings before `no_answer`.
    pub ring_timeout_secs: i64,
    /// Shape the answer rate by the callee's local hour ([`hour_factor`]);
    /// off, every hour answers at `answer_rate`.
    pub answer_by_hour: bool,
    /// Appends a line `call_id external_id to` per placement (tests read it
    /// across restarts).
    pub placement_log: Option<std::path::PathBuf>,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            seed: 1,
            failed_rate: 0.02,
            busy_rate: 0.08,
            answer_rate: 0.7,
            voicemail_rate: 0.15,
            talk_mean_secs: 90.0,
            ring_timeout_secs: 30,
            answer_by_hour: true,
            placement_log: None,
        }
    }
}

/// How likely a callee is to pick up at a local hour, relative to the best
/// hour (late morning and early evening).
pub fn hour_factor(hour: u32) -> f64 {
    match hour {
        0..=6 => 0.15,
        7 => 0.4,
        8 => 0.7,
        9..=11 => 1.0,
        12..=13 => 0.8,
        14..=16 => 0.9,
        17..=19 => 1.0,
        20 => 0.7,
        _ => 0.4,
    }
}

/// FNV-1a, then splitmix64: a stable, seedable hash (std's hasher may
/// change between Rust releases).
pub fn hash(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
    }
    splitmix(h)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Uniform draws in [0, 1) from one seed.
#[derive(Debug, Clone)]
pub struct Draws(pub u64);

impl Draws {
    pub fn uniform(&mut self) -> f64 {
        self.0 = splitmix(self.0);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One status report the simulator will send, `at_ms` after placing.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub offset_ms: i64,
    pub status: CallStatus,
    /// Talk time, on the final step of an answered call.
    pub duration: Option<i64>,
}

/// The whole status sequence of one call.
pub fn script(s: &SimSettings, phone: &str, attempt: u32, zone: &str, placed: Timestamp) -> Vec<Step> {
    let tz = TimeZone::parse("zone", zone).unwrap_or(TimeZone::UTC);
    let hour = placed.with_timezone(&tz.0).hour();
    let mut d = Draws(hash(s.seed, &[phone.as_bytes(), &attempt.to_le_bytes()]));
    let step = |ms: i64, status: CallStatus| Step {
        offset_ms: ms,
        status,
        duration: None,
    };
    let mut out = vec![step(0, CallStatus::Initiated)];
    let u = d.uniform();
    if u < s.failed_rate {
        out.push(step(1_000, CallStatus::Failed));
        return out;
    }
    if u < s.failed_rate + s.busy_rate {
        out.push(step(2_000, CallStatus::Busy));
        return out;
    }
    out.push(step(1_000, CallStatus::Ringing));
    let shape = if s.answer_by_hour { hour_factor(hour) } else { 1.0 };
    if d.uniform() >= s.answer_rate * shape {
        out.push(step(1_000 + s.ring_timeout_secs * 1_000, CallStatus::NoAnswer));
        return out;
    }
    let answered = 1_000 + 3_000 + (d.uniform() * 17_000.0) as i64;
    out.push(step(answered, CallStatus::InProgress));
    let (talk, end) = if d.uniform() < s.voicemail_rate {
        (15 + (d.uniform() * 30.0) as i64, CallStatus::Voicemail)
    } else {
        let t = -s.talk_mean_secs * (1.0 - d.uniform()).ln();
        (t.clamp(5.0, 1_800.0) as i64, CallStatus::Completed)
    };
    out.push(Step {
        offset_ms: answered + talk * 1_000,
        status: end,
        duration: Some(talk),
    });
    out
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at_ms: i64,
    seq: u64,
    call: CallId,
    generation: u32,
}

/// Something the simulator will do at a time.
#[derive(Debug, Clone)]
enum Pending {
    /// A status report to the store.
    Status { status: CallStatus, duration: Option<i64> },
    /// The callee did something: the conversation runtime hears it.
    Callee(Event),
    /// A live-call action to write on the timeline.
    Timeline { kind: String, data: serde_json::Value },
}

struct LiveState {
    org: OrgId,
    external_id: Option<String>,
    generation: u32,
    /// When a person or machine answered (ms), once it has.
    answered_at: Option<i64>,
    /// Things not yet done, by seq.
    steps: HashMap<u64, Pending>,
    /// The callee of a scripted call.
    callee: Option<Callee>,
    /// An answering machine answered.
    machine: bool,
    /// The call will end at this time (ms); nothing after it happens.
    ending_at: Option<i64>,
}

/// One call's due work: (organisation, call, [(at ms, what)]).
type CallWork = (OrgId, CallId, Option<String>, Vec<(i64, Pending)>);

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Due>>,
    live: HashMap<CallId, LiveState>,
    seq: u64,
}

impl Queue {
    fn push(&mut self, call: &CallId, at_ms: i64, p: Pending) {
        let Some(live) = self.live.get_mut(call) else { return };
        if live.ending_at.is_some_and(|end| at_ms > end) {
            return;
        }
        self.seq += 1;
        live.steps.insert(self.seq, p);
        let generation = live.generation;
        self.heap.push(Reverse(Due {
            at_ms,
            seq: self.seq,
            call: call.clone(),
            generation,
        }));
    }
}

/// What the simulator will do with a placed call.
struct Plan {
    steps: Vec<Step>,
    callee: Option<Callee>,
    machine: bool,
}

/// One placement the simulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub call_id: CallId,
    pub external_id: String,
    pub to: String,
}

/// How long saying `text` takes (150 words a minute, at least half a second).
pub fn speaking_ms(text: &str) -> i64 {
    (switchboard_domain::conversation::words(text).len() as i64 * 400).max(500)
}

/// The simulated carrier. Reports go straight to the store; [`Simulator::pump`]
/// sends those that are due by the clock.
pub struct Simulator {
    settings: SimSettings,
    store: DynStore,
    clock: Arc<dyn TimeSource>,
    queue: Mutex<Queue>,
    conversations: std::sync::OnceLock<Arc<dyn Conversations>>,
    placements: Mutex<Vec<Placement>>,
}

impl Simulator {
    pub fn new(settings: SimSettings, store: DynStore, clock: Arc<dyn TimeSource>) -> Arc<Self> {
        Arc::new(Self {
            settings,
            store,
            clock,
            queue: Mutex::new(Queue::default()),
            conversations: std::sync::OnceLock::new(),
            placements: Mutex::new(Vec::new()),
        })
    }

    /// Hands answered scripted calls to `runtime` (set once, at start).
    pub fn set_conversations(&self, runtime: Arc<dyn Conversations>) {
        let _ = self.conversations.set(runtime);
    }

    pub fn settings(&self) -> &SimSettings {
        &self.settings
    }

    /// Calls the simulator is still handling.
    pub fn live_calls(&self) -> usize {
        self.queue.lock().expect("simulator lock").live.len()
    }

    /// Every placement this process received, in order.
    pub fn placements(&self) -> Vec<Placement> {
        self.placements.lock().expect("simulator lock").clone()
    }

    fn record(&self, p: Placement) {
        if let Some(path) = &self.settings.placement_log {
            use std::io::Write;
            let line = format!("{} {} {}\n", p.call_id, p.external_id, p.to);
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes()));
            if let Err(e) = written {
                tracing::warn!(error = %e, "cannot append to the simulator's placement log");
            }
        }
        self.placements.lock().expect("simulator lock").push(p);
    }

    /// Starts (or restarts, replacing what was pending) a call's schedule.
    fn schedule(&self, org: &OrgId, call: &CallId, external: Option<String>, placed: Timestamp, plan: Plan) {
        let Plan { steps, callee, machine } = plan;
        let mut q = self.queue.lock().expect("simulator lock");
        let generation = q.live.get(call).map_or(0, |l| l.generation + 1);
        let scripted = callee.is_some();
        q.live.insert(
            call.clone(),
            LiveState {
                org: org.clone(),
                external_id: external,
                generation,
                answered_at: None,
                steps: HashMap::new(),
                callee,
                machine,
                ending_at: None,
            },
        );
        let base = placed.timestamp_millis();
        for s in steps {
            let answered = s.status == CallStatus::InProgress;
            q.push(
                call,
                base + s.offset_ms,
                Pending::Status {
                    status: s.status,
                    duration: s.duration,
                },
            );
            if answered && scripted {
                let ev = if machine { Event::MachineDetected } else { Event::Answered };
                q.push(call, base + s.offset_ms + 1, Pending::Callee(ev));
            }
        }
    }

    /// The status script of a call, with the end of an answered scripted
    /// call left to the conversation; and whether a machine answers.
    fn plan_call(&self, to: &str, attempt: u32, zone: &str, placed: Timestamp, sim: Option<&super::Simulation>, scripted: bool) -> Plan {
        let mut steps = script(&self.settings, to, attempt, zone, placed);
        if !scripted || self.conversations.get().is_none() || !steps.iter().any(|s| s.status == CallStatus::InProgress) {
            return Plan {
                steps,
                callee: None,
                machine: false,
            };
        }
        let end = steps.pop().map(|s| s.status);
        let mut d = Draws(hash(self.settings.seed, &[to.as_bytes(), &attempt.to_le_bytes(), b"persona"]));
        let pinned = sim.and_then(|s| s.persona.as_deref()).and_then(Persona::parse);
        let persona = pinned.unwrap_or_else(|| {
            if end == Some(CallStatus::Voicemail) {
                Persona::Voicemail
            } else {
                Persona::draw(d.uniform())
            }
        });
        let answers = sim.map(|s| s.answers.clone()).unwrap_or_default();
        Plan {
            steps,
            callee: Some(Callee::new(persona, answers, d)),
            machine: persona == Persona::Voicemail,
        }
    }

    /// Takes the calls that were live when the process stopped and carries
    /// them on as the carrier would have: their scripts are recomputed from
    /// when they were placed; reports already stored change nothing. A
    /// scripted call already answered picks its conversation up where the
    /// runtime says it waits.
    pub async fn resume(&self, live: &[LiveCall]) -> usize {
        let mut n = 0;
        for c in live {
            if !c.external_id.as_deref().is_some_and(|e| e.starts_with(ID_PREFIX)) {
                continue;
            }
            let r = CallRef {
                org_id: c.org_id.clone(),
                call_id: c.call_id.clone(),
                external_id: c.external_id.clone(),
            };
            let scripted = match self.conversations.get() {
                Some(conv) => conv.scripted(&r).await,
                None => false,
            };
            let plan = self.plan_call(&c.to, c.attempt, &c.zone, c.created_at, None, scripted);
            self.schedule(&c.org_id, &c.call_id, c.external_id.clone(), c.created_at, plan);
            if scripted && c.status == CallStatus::InProgress {
                let now = self.clock.now();
                if let Some(conv) = self.conversations.get() {
                    let actions = conv.resume(&r, now).await;
                    let mut q = self.queue.lock().expect("simulator lock");
                    if let Some(live) = q.live.get_mut(&c.call_id) {
                        live.answered_at = Some(c.created_at.timestamp_millis());
                        live.steps
                            .retain(|_, p| !matches!(p, Pending::Callee(Event::Answered | Event::MachineDetected)));
                    }
                    execute(&mut q, &c.call_id, now.timestamp_millis(), &actions);
                }
            }
            n += 1;
        }
        n
    }

    /// Does everything due by the clock: calls in parallel, each call's
    /// work in order, until nothing more is due (work a callee's answer
    /// schedules may itself be due). Answers how many things were done.
    pub async fn pump(&self) -> Result<usize, CarrierError> {
        let mut done = 0;
        for _ in 0..64 {
            let n = self.pump_round().await?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    async fn pump_round(&self) -> Result<usize, CarrierError> {
        let now_ms = self.clock.now().timestamp_millis();
        let mut by_call: Vec<CallWork> = Vec::new();
        {
            let mut q = self.queue.lock().expect("simulator lock");
            let mut index: HashMap<CallId, usize> = HashMap::new();
            while q.heap.peek().is_some_and(|Reverse(d)| d.at_ms <= now_ms) {
                let Reverse(due) = q.heap.pop().expect("peeked");
                let Some(live) = q.live.get_mut(&due.call) else { continue };
                if live.generation != due.generation {
                    continue;
                }
                let Some(p) = live.steps.remove(&due.seq) else { continue };
                let terminal = match &p {
                    Pending::Status { status, .. } => {
                        if *status == CallStatus::InProgress {
                            live.answered_at = Some(due.at_ms);
                        }
                        status.is_terminal()
                    }
                    _ => false,
                };
                let (org, ext) = (live.org.clone(), live.external_id.clone());
                if terminal {
                    q.live.remove(&due.call);
                }
                let i = *index.entry(due.call.clone()).or_insert_with(|| {
                    by_call.push((org, due.call.clone(), ext, Vec::new()));
                    by_call.len() - 1
                });
                by_call[i].3.push((due.at_ms, p));
            }
        }
        let done: usize = by_call.iter().map(|(_, _, _, r)| r.len()).sum();
        let results: Vec<Result<(), CarrierError>> = futures::stream::iter(by_call)
            .map(|(org, call, ext, work)| self.work_on(org, call, ext, work))
            .buffer_unordered(256)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(done)
    }

    async fn work_on(&self, org: OrgId, call: CallId, external_id: Option<String>, work: Vec<(i64, Pending)>) -> Result<(), CarrierError> {
        let r = CallRef {
            org_id: org.clone(),
            call_id: call.clone(),
            external_id,
        };
        for (at_ms, p) in work {
            let at = chrono::DateTime::from_timestamp_millis(at_ms);
            let report = match p {
                Pending::Status { status, duration } => CallReport {
                    status: Some(status),
                    at,
                    duration,
                    ..Default::default()
                },
                Pending::Timeline { kind, data } => CallReport {
                    event: Some(kind),
                    event_data: Some(data),
                    at,
                    ..Default::default()
                },
                Pending::Callee(ev) => {
                    let Some(conv) = self.conversations.get() else { continue };
                    let actions = conv.on_event(&r, ev, at.unwrap_or_default()).await;
                    let mut q = self.queue.lock().expect("simulator lock");
                    execute(&mut q, &call, at_ms, &actions);
                    continue;
                }
            };
            match self.store.report_call(&org, CallTarget::Id(call.clone()), report, None).await {
                // A call deleted meanwhile: nothing to report to.
                Ok(_) | Err(switchboard_store::StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Replaces a live call's remaining work by one final status now.
    fn finish(&self, call: &CallRef, status: impl Fn(bool) -> Option<CallStatus>) -> Result<(), CarrierError> {
        let now = self.clock.now().timestamp_millis();
        let mut q = self.queue.lock().expect("simulator lock");
        let live = q
            .live
            .get_mut(&call.call_id)
            .ok_or_else(|| CarrierError::UnknownCall(call.call_id.to_string()))?;
        let Some(status) = status(live.answered_at.is_some()) else {
            return Err(CarrierError::Refused("the call was already answered; hang it up instead".into()));
        };
        let duration = live.answered_at.map(|a| (now - a).max(0) / 1000);
        live.generation += 1;
        live.steps.clear();
        live.ending_at = None;
        q.push(&call.call_id, now, Pending::Status { status, duration });
        if let Some(live) = q.live.get_mut(&call.call_id) {
            live.ending_at = Some(now);
        }
        Ok(())
    }

    fn live(&self, call: &CallRef) -> Result<(), CarrierError> {
        if self.queue.lock().expect("simulator lock").live.contains_key(&call.call_id) {
            Ok(())
        } else {
            Err(CarrierError::UnknownCall(call.call_id.to_string()))
        }
    }
}

/// Schedules what the carrier does for `actions`, from `at_ms` on: prompts
/// take their spoken time, the callee answers questions, the call ends on
/// a hang-up or after the transfer.
fn execute(q: &mut Queue, call: &CallId, at_ms: i64, actions: &[Action]) {
    let mut t = at_ms;
    for a in actions {
        let Some(live) = q.live.get_mut(call) else { return };
        if live.ending_at.is_some() {
            return;
        }
        match a {
            Action::Say { text, .. } => t += speaking_ms(text),
            Action::Gather {
                prompt,
                input,
                timeout_secs,
                ..
            } => {
                if !prompt.is_empty() {
                    t += speaking_ms(prompt);
                }
                let Some(callee) = live.callee.as_mut() else { return };
                let reply = callee.answer(prompt, *input);
                let when = match reply {
                    Reply::Silence => t + i64::from(*timeout_secs) * 1000,
                    ref r => t + r.duration_ms(&mut callee.draws),
                };
                let hang = reply == Reply::HangUp;
                q.push(call, when, Pending::Callee(reply.event()));
                if hang {
                    end_at(q, call, when + 1, CallStatus::Completed);
                }
                return;
            }
            Action::Pause { secs, .. } => {
                q.push(call, t + i64::from(*secs) * 1000, Pending::Callee(Event::PauseDone));
                return;
            }
            Action::Transfer { .. } => {
                // The callee talks to whoever took the transfer, then hangs up.
                let talk = live
                    .callee
                    .as_mut()
                    .map_or(60_000, |c| 30_000 + (c.draws.uniform() * 150_000.0) as i64);
                end_at(q, call, t + talk, CallStatus::Completed);
                return;
            }
            Action::Hangup { .. } => {
                let status = if live.machine {
                    CallStatus::Voicemail
                } else {
                    CallStatus::Completed
                };
                end_at(q, call, t.max(at_ms + 1), status);
                return;
            }
            Action::AskModel { .. } => return,
        }
    }
}

/// Ends a live call at `at_ms` with `status` (its talk time measured from the answer).
fn end_at(q: &mut Queue, call: &CallId, at_ms: i64, status: CallStatus) {
    let Some(live) = q.live.get_mut(call) else { return };
    let duration = live.answered_at.map(|a| (at_ms - a).max(0) / 1000);
    q.push(call, at_ms, Pending::Status { status, duration });
    if let Some(live) = q.live.get_mut(call) {
        live.ending_at = Some(at_ms);
    }
}

#[async_trait]
impl Carrier for Simulator {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn id_prefix(&self) -> Option<String> {
        Some(ID_PREFIX.to_owned())
    }

    async fn place(&self, req: PlaceCall) -> Result<String, CarrierError> {
        let external = req
            .call
            .external_id
            .clone()
            .unwrap_or_else(|| format!("{ID_PREFIX}{}", req.call.id.as_str().trim_start_matches("call_")));
        let to = req.call.to.clone().unwrap_or_default();
        let plan = self.plan_call(
            &to,
            req.attempt,
            &req.zone,
            req.placed_at,
            req.simulation.as_ref(),
            req.conversation,
        );
        self.record(Placement {
            call_id: req.call.id.clone(),
            external_id: external.clone(),
            to,
        });
        self.schedule(&req.call.org_id, &req.call.id, Some(external.clone()), req.placed_at, plan);
        Ok(external)
    }

    async fn cancel(&self, call: &CallRef) -> Result<(), CarrierError> {
        self.finish(call, |answered| (!answered).then_some(CallStatus::Canceled))
    }

    async fn hang_up(&self, call: &CallRef) -> Result<(), CarrierError> {
        self.finish(call, |answered| {
            Some(if answered { CallStatus::Completed } else { CallStatus::Canceled })
        })
    }

    async fn act(&self, call: &CallRef, action: &LiveAction) -> Result<(), CarrierError> {
        if *action == LiveAction::Hangup {
            return self.hang_up(call).await;
        }
        self.live(call)?;
        let now = self.clock.now().timestamp_millis();
        let mut q = self.queue.lock().expect("simulator lock");
        match action {
            LiveAction::Gather {
                input,
                timeout_secs,
                num_digits,
            } => {
                // The callee answers an ad-hoc question too; scripted calls
                // hear it as an answer, others get it on the timeline.
                let scripted = q.live.get(&call.call_id).is_some_and(|l| l.callee.is_some());
                let g = Action::Gather {
                    step: "adhoc".into(),
                    prompt: String::new(),
                    voice: None,
                    input: *input,
                    num_digits: *num_digits,
                    timeout_secs: *timeout_secs,
                };
                if scripted {
                    execute(&mut q, &call.call_id, now, &[g]);
                } else {
                    let mut d = Draws(hash(self.settings.seed, &[call.call_id.as_str().as_bytes(), b"gather"]));
                    let digits: String = (0..num_digits.unwrap_or(1).max(1))
                        .map(|_| char::from(b'0' + (d.uniform() * 10.0) as u8))
                        .collect();
                    q.push(
                        &call.call_id,
                        now + 1_500,
                        Pending::Timeline {
                            kind: "gathered".into(),
                            data: serde_json::json!({ "digits": digits }),
                        },
                    );
                }
            }
            LiveAction::Transfer { to, .. } => {
                execute(
                    &mut q,
                    &call.call_id,
                    now,
                    &[Action::Transfer {
                        step: "action".into(),
                        to: to.clone(),
                        mode: Default::default(),
                        note: None,
                    }],
                );
            }
            // Prompts, key presses, hold and mute happen in the audio: the
            // call's timeline (written by the caller of `act`) records them.
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(h: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2025, 5, 21, h, 0, 0).unwrap()
    }

    #[test]
    fn scripts_are_deterministic_and_follow_carrier_sequences() {
        let s = SimSettings::default();
        let mut ends: HashMap<CallStatus, usize> = HashMap::new();
        for i in 0..2000 {
            let phone = format!("+1555{i:07}");
            let a = script(&s, &phone, 1, "UTC", at(14));
            assert_eq!(a, script(&s, &phone, 1, "UTC", at(14)));
            let seq: Vec<CallStatus> = a.iter().map(|s| s.status).collect();
            use CallStatus::*;
            let ok = matches!(
                seq.as_slice(),
                [Initiated, Failed]
                    | [Initiated, Busy]
                    | [Initiated, Ringing, NoAnswer]
                    | [Initiated, Ringing, InProgress, Completed]
                    | [Initiated, Ringing, InProgress, Voicemail]
            );
            assert!(ok, "{seq:?}");
            assert!(a.windows(2).all(|w| w[0].offset_ms < w[1].offset_ms));
            *ends.entry(*seq.last().unwrap()).or_default() += 1;
        }
        // Rates land near the settings.
        let share = |s: CallStatus| ends.get(&s).copied().unwrap_or(0) as f64 / 2000.0;
        assert!((share(CallStatus::Busy) - 0.08).abs() < 0.03, "{ends:?}");
        assert!((share(CallStatus::Failed) - 0.02).abs() < 0.015, "{ends:?}");
        assert!(share(CallStatus::Completed) > 0.4, "{ends:?}");
    }

    #[test]
    fn callees_answer_less_at_night_and_seeds_differ() {
        let s = SimSettings::default();
        let answered = |h: u32, s: &SimSettings| {
            (0..2000)
                .filter(|i| {
                    script(s, &format!("+1555{i:07}"), 1, "UTC", at(h))
                        .iter()
                        .any(|st| st.status == CallStatus::InProgress)
                })
                .count()
        };
        assert!(answered(3, &s) * 3 < answered(10, &s));
        let other = SimSettings { seed: 2, ..s.clone() };
        let a: Vec<_> = (0..50).map(|i| script(&s, &format!("+1{i}"), 1, "UTC", at(10))).collect();
        let b: Vec<_> = (0..50).map(|i| script(&other, &format!("+1{i}"), 1, "UTC", at(10))).collect();
        assert_ne!(a, b);
    }
}
