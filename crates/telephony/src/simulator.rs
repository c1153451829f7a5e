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

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Timelike;
use futures::StreamExt;
use switchboard_domain::call::CallReport;
use switchboard_domain::{CallId, CallStatus, OrgId, TimeZone, Timestamp};
use switchboard_store::{CallTarget, DynStore, LiveCall};

use super::{CallRef, Carrier, CarrierError, Media, PlaceCall, TimeSource};

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
fn hash(seed: u64, parts: &[&[u8]]) -> u64 {
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
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> f64 {
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
    let u = d.next();
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
    if d.next() >= s.answer_rate * shape {
        out.push(step(1_000 + s.ring_timeout_secs * 1_000, CallStatus::NoAnswer));
        return out;
    }
    let answered = 1_000 + 3_000 + (d.next() * 17_000.0) as i64;
    out.push(step(answered, CallStatus::InProgress));
    let (talk, end) = if d.next() < s.voicemail_rate {
        (15 + (d.next() * 30.0) as i64, CallStatus::Voicemail)
    } else {
        let t = -s.talk_mean_secs * (1.0 - d.next()).ln();
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

#[derive(Debug, Clone)]
struct Pending {
    status: CallStatus,
    duration: Option<i64>,
}

struct LiveState {
    org: OrgId,
    generation: u32,
    answered: bool,
    /// Reports not yet sent, by (generation, seq).
    steps: HashMap<u64, Pending>,
}

/// One call's due reports: (organisation, call, [(at ms, report)]).
type CallReports = (OrgId, CallId, Vec<(i64, Pending)>);

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Due>>,
    live: HashMap<CallId, LiveState>,
    seq: u64,
}

/// The simulated carrier. Reports go straight to the store; [`Simulator::pump`]
/// sends those that are due by the clock.
pub struct Simulator {
    settings: SimSettings,
    store: DynStore,
    clock: Arc<dyn TimeSource>,
    queue: Mutex<Queue>,
}

impl Simulator {
    pub fn new(settings: SimSettings, store: DynStore, clock: Arc<dyn TimeSource>) -> Arc<Self> {
        Arc::new(Self {
            settings,
            store,
            clock,
            queue: Mutex::new(Queue::default()),
        })
    }

    pub fn settings(&self) -> &SimSettings {
        &self.settings
    }

    /// Calls the simulator is still handling.
    pub fn live_calls(&self) -> usize {
        self.queue.lock().expect("simulator lock").live.len()
    }

    fn schedule(&self, org: &OrgId, call: &CallId, placed: Timestamp, steps: Vec<Step>) {
        let mut q = self.queue.lock().expect("simulator lock");
        let generation = q.live.get(call).map_or(0, |l| l.generation + 1);
        let mut pending = HashMap::new();
        for s in steps {
            q.seq += 1;
            let seq = q.seq;
            pending.insert(
                seq,
                Pending {
                    status: s.status,
                    duration: s.duration,
                },
            );
            q.heap.push(Reverse(Due {
                at_ms: placed.timestamp_millis() + s.offset_ms,
                seq,
                call: call.clone(),
                generation,
            }));
        }
        q.live.insert(
            call.clone(),
            LiveState {
                org: org.clone(),
                generation,
                answered: false,
                steps: pending,
            },
        );
    }

    /// Takes the calls that were live when the process stopped and carries
    /// them on as the carrier would have: their scripts are recomputed from
    /// when they were placed; reports already stored change nothing.
    pub fn resume(&self, live: &[LiveCall]) -> usize {
        let mut n = 0;
        for c in live {
            if !c.external_id.as_deref().is_some_and(|e| e.starts_with(ID_PREFIX)) {
                continue;
            }
            let steps = script(&self.settings, &c.to, c.attempt, &c.zone, c.created_at);
            self.schedule(&c.org_id, &c.call_id, c.created_at, steps);
            n += 1;
        }
        n
    }

    /// Sends every report due by the clock: calls in parallel, each call's
    /// reports in order. Answers how many were sent.
    pub async fn pump(&self) -> Result<usize, CarrierError> {
        let now_ms = self.clock.now().timestamp_millis();
        let mut by_call: Vec<CallReports> = Vec::new();
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
                if p.status == CallStatus::InProgress {
                    live.answered = true;
                }
                let org = live.org.clone();
                if p.status.is_terminal() {
                    q.live.remove(&due.call);
                }
                let i = *index.entry(due.call.clone()).or_insert_with(|| {
                    by_call.push((org, due.call.clone(), Vec::new()));
                    by_call.len() - 1
                });
                by_call[i].2.push((due.at_ms, p));
            }
        }
        let sent: usize = by_call.iter().map(|(_, _, r)| r.len()).sum();
        let store = self.store.clone();
        let results: Vec<Result<(), CarrierError>> = futures::stream::iter(by_call)
            .map(|(org, call, reports)| {
                let store = store.clone();
                async move {
                    for (at_ms, p) in reports {
                        let report = CallReport {
                            status: Some(p.status),
                            at: chrono::DateTime::from_timestamp_millis(at_ms),
                            duration: p.duration,
                            carrier_clock: true,
                            ..Default::default()
                        };
                        match store.report_call(&org, CallTarget::Id(call.clone()), report, None).await {
                            // A call deleted meanwhile: nothing to report to.
                            Ok(_) | Err(switchboard_store::StoreError::NotFound(_)) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    Ok(())
                }
            })
            .buffer_unordered(256)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(sent)
    }

    /// Replaces a live call's remaining reports by one final status now.
    fn finish(&self, call: &CallRef, status: impl Fn(bool) -> Option<CallStatus>) -> Result<(), CarrierError> {
        let now = self.clock.now();
        let answered = {
            let q = self.queue.lock().expect("simulator lock");
            let live = q
                .live
                .get(&call.call_id)
                .ok_or_else(|| CarrierError::UnknownCall(call.call_id.to_string()))?;
            live.answered
        };
        let Some(status) = status(answered) else {
            return Err(CarrierError::Refused("the call was already answered; hang it up instead".into()));
        };
        self.schedule(
            &call.org_id,
            &call.call_id,
            now,
            vec![Step {
                offset_ms: 0,
                status,
                duration: None,
            }],
        );
        Ok(())
    }

    async fn event(&self, call: &CallRef, kind: &str, data: serde_json::Value) -> Result<(), CarrierError> {
        if !self.queue.lock().expect("simulator lock").live.contains_key(&call.call_id) {
            return Err(CarrierError::UnknownCall(call.call_id.to_string()));
        }
        let report = CallReport {
            event: Some(kind.to_owned()),
            event_data: Some(data),
            at: Some(self.clock.now()),
            carrier_clock: true,
            ..Default::default()
        };
        self.store
            .report_call(&call.org_id, CallTarget::Id(call.call_id.clone()), report, None)
            .await?;
        Ok(())
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
        // Calls the dialer named up front are placed at their creation (the
        // time `resume` recomputes them from); others, now.
        let now = self.clock.now();
        let placed = match &req.call.external_id {
            Some(e) if e.starts_with(ID_PREFIX) && req.call.created_at <= now => req.call.created_at,
            _ => now,
        };
        let steps = script(&self.settings, &to, req.attempt, &req.zone, placed);
        self.schedule(&req.call.org_id, &req.call.id, placed, steps);
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

    async fn transfer(&self, call: &CallRef, to: &str) -> Result<(), CarrierError> {
        self.event(call, "transfer", serde_json::json!({ "to": to })).await
    }

    async fn play(&self, call: &CallRef, media: &Media) -> Result<(), CarrierError> {
        let data = match media {
            Media::Speech(text) => serde_json::json!({ "say": text }),
            Media::Audio(url) => serde_json::json!({ "play": url }),
        };
        self.event(call, "play", data).await
    }

    async fn collect_dtmf(&self, call: &CallRef, prompt: &str, digits: u8) -> Result<(), CarrierError> {
        // The simulated callee presses keys chosen by the seed.
        let mut d = Draws(hash(self.settings.seed, &[call.call_id.as_str().as_bytes(), prompt.as_bytes()]));
        let pressed: String = (0..digits.max(1)).map(|_| char::from(b'0' + (d.next() * 10.0) as u8)).collect();
        self.event(call, "dtmf", serde_json::json!({ "prompt": prompt, "digits": pressed }))
            .await
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
