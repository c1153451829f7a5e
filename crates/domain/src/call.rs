//! Calls: the status state machine, the call record and how reported
//! events change it.
//!
//! Status flow: `scheduled → queued → initiated → ringing → in_progress →`
//! a terminal status (`completed | busy | no_answer | failed | canceled |
//! voicemail`). Forward moves may skip steps; a terminal status may be
//! reported from any non-terminal one. Events that arrive late (a `ringing`
//! after `in_progress`) or twice change nothing. Replacing one terminal
//! status by another is illegal unless the report says it is a correction.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Timestamp;
use crate::error::{DomainError, FieldError};
use crate::id::{CallId, ContactId, OrgId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Scheduled,
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
    Voicemail,
}

/// What applying a reported status does to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The status moves forward.
    Apply,
    /// One terminal status replaces another, as an explicit correction.
    Correct,
    /// The call already has this status.
    Repeat,
    /// The report is older than what the call already knows.
    Late,
}

impl CallStatus {
    pub const ALL: [CallStatus; 11] = [
        Self::Scheduled,
        Self::Queued,
        Self::Initiated,
        Self::Ringing,
        Self::InProgress,
        Self::Completed,
        Self::Busy,
        Self::NoAnswer,
        Self::Failed,
        Self::Canceled,
        Self::Voicemail,
    ];

    /// The core (snake_case) name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Queued => "queued",
            Self::Initiated => "initiated",
            Self::Ringing => "ringing",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::NoAnswer => "no_answer",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Voicemail => "voicemail",
        }
    }

    /// Reads a status name, accepting the spellings clients use
    /// (`in-progress`, `no-answer`, `cancelled`, any case).
    pub fn parse(s: &str) -> Option<Self> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        Some(match norm.as_str() {
            "scheduled" => Self::Scheduled,
            "queued" => Self::Queued,
            "initiated" => Self::Initiated,
            "ringing" => Self::Ringing,
            "in_progress" | "inprogress" | "answered" => Self::InProgress,
            "completed" => Self::Completed,
            "busy" => Self::Busy,
            "no_answer" | "noanswer" => Self::NoAnswer,
            "failed" => Self::Failed,
            "canceled" | "cancelled" => Self::Canceled,
            "voicemail" => Self::Voicemail,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        self.rank() == 5
    }

    /// The statuses of a **missed** call: it never reached anyone — it rang
    /// out (`no_answer`), the line was busy, or it was cancelled before it
    /// connected. The one definition of "missed": analytics
    /// (`missedCalls`, `missed`), the dialects' status words (ribbon and
    /// Callmind label these `missed`), their `status=missed` filters and
    /// the exports all use it (docs/analytics.md).
    pub const MISSED: [CallStatus; 3] = [Self::NoAnswer, Self::Busy, Self::Canceled];

    /// Is this a missed call (see [`CallStatus::MISSED`])?
    pub fn is_missed(self) -> bool {
        Self::MISSED.contains(&self)
    }

    /// Was the call answered (a person or machine picked up)?
    pub fn was_answered(self) -> bool {
        matches!(self, Self::InProgress | Self::Completed | Self::Voicemail)
    }

    fn rank(self) -> u8 {
        match self {
            Self::Scheduled => 0,
            Self::Queued => 1,
            Self::Initiated => 2,
            Self::Ringing => 3,
            Self::InProgress => 4,
            _ => 5,
        }
    }

    /// Checks a status reported by a carrier or backend against this one.
    pub fn transition(self, to: CallStatus, correction: bool) -> Result<Transition, DomainError> {
        if self == to {
            return Ok(Transition::Repeat);
        }
        match (self.is_terminal(), to.is_terminal()) {
            (true, false) => Ok(Transition::Late),
            (true, true) if correction => Ok(Transition::Correct),
            (true, true) => Err(self.illegal(to)),
            (false, _) if to.rank() > self.rank() => Ok(Transition::Apply),
            (false, _) => Ok(Transition::Late),
        }
    }

    /// Checks a user's request to cancel: only calls not yet dialled can be
    /// cancelled; cancelling a cancelled call changes nothing.
    pub fn cancel(self) -> Result<Transition, DomainError> {
        match self {
            Self::Canceled => Ok(Transition::Repeat),
            Self::Scheduled | Self::Queued => Ok(Transition::Apply),
            other => Err(other.illegal(Self::Canceled)),
        }
    }

    fn illegal(self, to: CallStatus) -> DomainError {
        DomainError::IllegalTransition {
            from: self.as_str(),
            to: to.as_str(),
        }
    }

    /// The domain event type announcing that a call reached this status.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Scheduled => "call.scheduled",
            Self::Queued => "call.queued",
            Self::Initiated => "call.initiated",
            Self::Ringing => "call.ringing",
            Self::InProgress => "call.answered",
            Self::Completed | Self::Voicemail => "call.completed",
            Self::Busy | Self::NoAnswer | Self::Failed => "call.failed",
            Self::Canceled => "call.canceled",
        }
    }
}

impl fmt::Display for CallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    #[default]
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "inbound" | "in" => Some(Self::Inbound),
            "outbound" | "out" => Some(Self::Outbound),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sentiment {
    Positive,
    Negative,
    Neutral,
    Mixed,
}

impl Sentiment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Positive => "positive",
            Self::Negative => "negative",
            Self::Neutral => "neutral",
            Self::Mixed => "mixed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "positive" => Some(Self::Positive),
            "negative" => Some(Self::Negative),
            "neutral" => Some(Self::Neutral),
            "mixed" => Some(Self::Mixed),
            _ => None,
        }
    }
}

/// One entry of a call's timeline: a status reached, or an in-call event
/// (mute, hold, transfer, dtmf, note, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub kind: String,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// A call record with everything the dialects put on one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub id: CallId,
    pub org_id: OrgId,
    pub direction: Direction,
    pub status: CallStatus,
    /// Caller id: the number the call comes from.
    pub from: Option<String>,
    /// The number called.
    pub to: Option<String>,
    pub contact_id: Option<ContactId>,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    /// The CRM's own id for the customer.
    pub customer_external_id: Option<String>,
    pub customer_context: Option<Value>,
    pub call_type: Option<String>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub campaign_id: Option<String>,
    pub template_id: Option<String>,
    pub variables: Option<Value>,
    pub metadata: Option<Value>,
    pub scheduled_at: Option<Timestamp>,
    pub initiated_at: Option<Timestamp>,
    pub ringing_at: Option<Timestamp>,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// Talk time in seconds.
    pub duration: Option<i64>,
    pub outcome: Option<String>,
    pub notes: Option<String>,
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    pub sentiment: Option<Sentiment>,
    pub topics: Option<Vec<String>>,
    pub summary: Option<String>,
    pub collected_data: Option<Value>,
    pub cost: Option<f64>,
    /// The carrier's id for the call (Twilio CallSid, ...), unique per organisation.
    pub external_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Filled when a single call is read; empty in lists.
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
}

impl Call {
    /// A call with only its identity, status and direction set.
    pub fn new(org_id: OrgId, direction: Direction, status: CallStatus, now: Timestamp) -> Self {
        Call {
            id: CallId::new(),
            org_id,
            direction,
            status,
            from: None,
            to: None,
            contact_id: None,
            customer_name: None,
            customer_phone: None,
            customer_external_id: None,
            customer_context: None,
            call_type: None,
            agent_id: None,
            agent_name: None,
            campaign_id: None,
            template_id: None,
            variables: None,
            metadata: None,
            scheduled_at: None,
            initiated_at: None,
            ringing_at: None,
            answered_at: None,
            ended_at: None,
            duration: None,
            outcome: None,
            notes: None,
            recording_url: None,
            transcript: None,
            sentiment: None,
            topics: None,
            summary: None,
            collected_data: None,
            cost: None,
            external_id: None,
            created_at: now,
            updated_at: now,
            timeline: vec![],
        }
    }

    /// When the call happened, for filtering and bucketing: when it was
    /// dialled or started, else when it was scheduled for, else created.
    pub fn occurred_at(&self) -> Timestamp {
        self.initiated_at
            .or(self.answered_at)
            .or(self.ended_at)
            .or(self.scheduled_at)
            .unwrap_or(self.created_at)
    }

    /// The webhook-facing summary of a call, used as domain event data.
    pub fn event_data(&self) -> Value {
        serde_json::json!({
            "callId": self.id,
            "status": self.status.as_str(),
            "direction": self.direction.as_str(),
            "from": self.from,
            "to": self.to,
            "contactId": self.contact_id,
            "campaignId": self.campaign_id,
            "customerId": self.customer_external_id,
            "customerName": self.customer_name,
            "callType": self.call_type,
            "agentId": self.agent_id,
            "externalId": self.external_id,
            "duration": self.duration,
            "outcome": self.outcome,
            "recording": self.recording_url,
            "sentiment": self.sentiment.map(|s| s.as_str()),
        })
    }
}

/// What a carrier, backend or agent reports about a call. Every field is
/// optional; present fields overwrite, absent ones are left alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallReport {
    pub status: Option<CallStatus>,
    /// Allows one terminal status to replace another.
    #[serde(default)]
    pub correction: bool,
    /// When the reported event happened (defaults to now).
    pub at: Option<Timestamp>,
    pub duration: Option<i64>,
    pub outcome: Option<String>,
    pub notes: Option<String>,
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    pub sentiment: Option<Sentiment>,
    pub topics: Option<Vec<String>>,
    pub summary: Option<String>,
    pub collected_data: Option<Value>,
    pub cost: Option<f64>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub from: Option<String>,
    pub customer_name: Option<String>,
    pub customer_context: Option<Value>,
    pub metadata: Option<Value>,
    pub call_type: Option<String>,
    pub answered_at: Option<Timestamp>,
    /// An in-call event for the timeline (`mute`, `hold`, `transfer`, ...).
    pub event: Option<String>,
    pub event_data: Option<Value>,
    /// The times come from a clock not our own request's client (a
    /// carrier's, the simulator's, the dialer's): a status time earlier
    /// than one the call already holds is moved up to it instead of being
    /// refused. Clients' reports leave it false and are held to the order.
    #[serde(default)]
    pub carrier_clock: bool,
    /// More timeline entries (the conversation runtime's path through its
    /// script), appended in order after `event`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelineEntry>,
    /// Transcript segments heard or spoken live, appended to the call's
    /// transcript (a `transcript` text instead replaces the transcript by
    /// its segments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<crate::transcript::Segment>,
    /// What was read in each of `segments` as it arrived (sentiment and
    /// intent), in the same order: sent with its `transcript.updated` event.
    /// Set by the server, never read from a client.
    #[serde(skip)]
    pub segment_analysis: Vec<Value>,
    /// The call's place in its script, stored with the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Value>,
}

/// What applying a report changed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Applied {
    /// `(from, to)` when the status changed.
    pub status: Option<(CallStatus, CallStatus)>,
    /// Some field other than the status changed.
    pub fields: bool,
    /// Timeline entries to append (already deduplicated against the call's own).
    pub timeline: Vec<TimelineEntry>,
    pub transition: Option<Transition>,
}

impl Applied {
    pub fn changed(&self) -> bool {
        self.status.is_some() || self.fields || !self.timeline.is_empty()
    }
}

fn set<T: PartialEq + Clone>(slot: &mut Option<T>, value: &Option<T>, changed: &mut bool) {
    if let Some(v) = value
        && slot.as_ref() != Some(v)
    {
        *slot = Some(v.clone());
        *changed = true;
    }
}

impl Call {
    /// Applies a report. `known` tells which timeline entries the call already
    /// has (kind + time), so repeated in-call events are not stored twice.
    pub fn apply(&mut self, report: &CallReport, now: Timestamp, known: &[TimelineEntry]) -> Result<Applied, DomainError> {
        let at = report.at.unwrap_or(now);
        let before = self.times();
        let mut applied = Applied::default();
        let mut changed = false;

        if let Some(to) = report.status {
            let t = self.status.transition(to, report.correction)?;
            applied.transition = Some(t);
            if matches!(t, Transition::Apply | Transition::Correct) {
                let from = self.status;
                self.status = to;
                applied.status = Some((from, to));
                // A time we stamped ourselves, or one from a carrier's clock,
                // never goes before what the call already knows.
                let stamp_at = match self.floor(to) {
                    Some(floor) if (report.at.is_none() || report.carrier_clock) && at < floor => floor,
                    _ => at,
                };
                self.stamp(to, stamp_at);
                applied.timeline.push(TimelineEntry {
                    kind: format!("status.{}", to.as_str()),
                    at,
                    data: None,
                });
            }
        }

        set(&mut self.duration, &report.duration, &mut changed);
        set(&mut self.outcome, &report.outcome, &mut changed);
        set(&mut self.notes, &report.notes, &mut changed);
        set(&mut self.recording_url, &report.recording_url, &mut changed);
        set(&mut self.transcript, &report.transcript, &mut changed);
        set(&mut self.sentiment, &report.sentiment, &mut changed);
        set(&mut self.topics, &report.topics, &mut changed);
        set(&mut self.summary, &report.summary, &mut changed);
        set(&mut self.collected_data, &report.collected_data, &mut changed);
        set(&mut self.cost, &report.cost, &mut changed);
        set(&mut self.agent_id, &report.agent_id, &mut changed);
        set(&mut self.agent_name, &report.agent_name, &mut changed);
        set(&mut self.from, &report.from, &mut changed);
        set(&mut self.customer_name, &report.customer_name, &mut changed);
        set(&mut self.customer_context, &report.customer_context, &mut changed);
        set(&mut self.metadata, &report.metadata, &mut changed);
        set(&mut self.call_type, &report.call_type, &mut changed);
        set(&mut self.answered_at, &report.answered_at, &mut changed);

        // A terminal report with a duration but no answer time: the call was
        // answered `duration` seconds before it ended.
        if self.status.was_answered()
            && self.answered_at.is_none()
            && let (Some(end), Some(d)) = (self.ended_at, self.duration)
        {
            // Derived, not reported: a talk time longer than the call keeps
            // the answer no earlier than the dial.
            let derived = end - chrono::Duration::seconds(d);
            self.answered_at = Some(match self.floor(CallStatus::InProgress) {
                Some(floor) if derived < floor => floor.min(end),
                _ => derived,
            });
            changed = true;
        }
        // A call that ended without a known start started when it rang or
        // was answered, else when it ended (a cancelled one never started).
        if self.status.is_terminal() && self.initiated_at.is_none() && self.status != CallStatus::Canceled {
            self.initiated_at = self.ringing_at.or(self.answered_at).or(self.ended_at);
            changed |= self.initiated_at.is_some();
        }
        // A completed call without a reported duration: measure it.
        if self.status.is_terminal()
            && self.duration.is_none()
            && let (Some(start), Some(end)) = (self.answered_at, self.ended_at)
        {
            self.duration = Some((end - start).num_seconds().max(0));
            changed = true;
        }

        if let Some(kind) = &report.event {
            let entry = TimelineEntry {
                kind: kind.clone(),
                at,
                data: report.event_data.clone(),
            };
            if !known.contains(&entry) {
                applied.timeline.push(entry);
            }
        }
        applied
            .timeline
            .extend(report.timeline.iter().filter(|e| !known.contains(e)).cloned());
        applied.fields = changed;
        if applied.changed() {
            self.updated_at = now;
        }
        self.check_order(&before)?;
        Ok(applied)
    }

    /// The call's times in the order they must keep, with their API names.
    fn times(&self) -> [(&'static str, Option<Timestamp>); 4] {
        [
            ("initiatedAt", self.initiated_at),
            ("ringingAt", self.ringing_at),
            ("answeredAt", self.answered_at),
            ("endedAt", self.ended_at),
        ]
    }

    /// The latest time the call holds that must come before reaching `status`.
    fn floor(&self, status: CallStatus) -> Option<Timestamp> {
        let rank = match status {
            CallStatus::Initiated => 0,
            CallStatus::Ringing => 1,
            CallStatus::InProgress => 2,
            s if s.is_terminal() => 3,
            _ => return None,
        };
        self.times()[..rank].iter().filter_map(|(_, t)| *t).max()
    }

    /// A call's times run `initiatedAt ≤ ringingAt ≤ answeredAt ≤ endedAt`.
    /// Only pairs that this change touched are checked, so a record stored
    /// before the rule existed still takes reports that do not touch them.
    fn check_order(&self, before: &[(&'static str, Option<Timestamp>); 4]) -> Result<(), DomainError> {
        let now = self.times();
        for i in 0..now.len() {
            for j in i + 1..now.len() {
                let ((early_name, early), (late_name, late)) = (now[i], now[j]);
                let touched = early != before[i].1 || late != before[j].1;
                if let (Some(e), Some(l)) = (early, late)
                    && touched
                    && l < e
                {
                    let fmt = |t: Timestamp| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    return Err(FieldError::pair(
                        late_name,
                        early_name,
                        format!(
                            "({}) must not be before {early_name} ({}): a call's times run initiatedAt, ringingAt, answeredAt, endedAt",
                            fmt(l),
                            fmt(e)
                        ),
                    )
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Records when the call reached `status`, keeping the first time seen.
    fn stamp(&mut self, status: CallStatus, at: Timestamp) {
        let slot = match status {
            CallStatus::Initiated => &mut self.initiated_at,
            CallStatus::Ringing => &mut self.ringing_at,
            CallStatus::InProgress => &mut self.answered_at,
            s if s.is_terminal() => &mut self.ended_at,
            _ => return,
        };
        if slot.is_none() || status.is_terminal() {
            *slot = Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status() -> impl Strategy<Value = CallStatus> {
        proptest::sample::select(CallStatus::ALL.to_vec())
    }

    fn t0() -> Timestamp {
        "2025-05-20T15:30:00Z".parse().unwrap()
    }

    pub(crate) fn blank_call(status: CallStatus) -> Call {
        let mut c = Call::new(OrgId::new(), Direction::Outbound, status, t0());
        c.to = Some("+15551234567".into());
        c
    }

    #[test]
    fn spellings_are_accepted() {
        assert_eq!(CallStatus::parse("in-progress"), Some(CallStatus::InProgress));
        assert_eq!(CallStatus::parse("CANCELLED"), Some(CallStatus::Canceled));
        assert_eq!(CallStatus::parse("no-answer"), Some(CallStatus::NoAnswer));
        assert_eq!(CallStatus::parse("dancing"), None);
    }

    #[test]
    fn terminal_to_other_terminal_is_illegal_and_names_both() {
        let err = CallStatus::Completed.transition(CallStatus::Failed, false).unwrap_err();
        assert_eq!(
            err,
            DomainError::IllegalTransition {
                from: "completed",
                to: "failed"
            }
        );
        assert_eq!(
            CallStatus::Failed.transition(CallStatus::Completed, true).unwrap(),
            Transition::Correct
        );
    }

    #[test]
    fn late_and_repeated_events_are_no_ops() {
        assert_eq!(
            CallStatus::InProgress.transition(CallStatus::Ringing, false).unwrap(),
            Transition::Late
        );
        assert_eq!(
            CallStatus::Completed.transition(CallStatus::Ringing, false).unwrap(),
            Transition::Late
        );
        assert_eq!(
            CallStatus::Ringing.transition(CallStatus::Ringing, false).unwrap(),
            Transition::Repeat
        );
    }

    #[test]
    fn cancel_only_before_dialling() {
        assert_eq!(CallStatus::Scheduled.cancel().unwrap(), Transition::Apply);
        assert_eq!(CallStatus::Canceled.cancel().unwrap(), Transition::Repeat);
        assert_eq!(
            CallStatus::Ringing.cancel().unwrap_err(),
            DomainError::IllegalTransition {
                from: "ringing",
                to: "canceled"
            }
        );
    }

    #[test]
    fn completion_with_duration_fills_answer_time() {
        let mut call = blank_call(CallStatus::Queued);
        let end: Timestamp = "2025-05-20T15:33:45Z".parse().unwrap();
        let r = CallReport {
            status: Some(CallStatus::Completed),
            at: Some(end),
            duration: Some(223),
            ..Default::default()
        };
        let applied = call.apply(&r, end, &[]).unwrap();
        assert_eq!(applied.status, Some((CallStatus::Queued, CallStatus::Completed)));
        assert_eq!(call.answered_at, Some("2025-05-20T15:30:02Z".parse().unwrap()));
        assert_eq!(call.ended_at, Some(end));
    }

    #[test]
    fn duration_is_measured_when_not_reported() {
        let mut call = blank_call(CallStatus::Queued);
        let a: Timestamp = "2025-05-20T15:30:02Z".parse().unwrap();
        let b: Timestamp = "2025-05-20T15:31:02Z".parse().unwrap();
        call.apply(
            &CallReport {
                status: Some(CallStatus::InProgress),
                at: Some(a),
                ..Default::default()
            },
            a,
            &[],
        )
        .unwrap();
        call.apply(
            &CallReport {
                status: Some(CallStatus::Completed),
                at: Some(b),
                ..Default::default()
            },
            b,
            &[],
        )
        .unwrap();
        assert_eq!(call.duration, Some(60));
        assert_eq!(call.initiated_at, Some(a));
    }

    #[test]
    fn repeated_report_changes_nothing() {
        let mut call = blank_call(CallStatus::Queued);
        let r = CallReport {
            status: Some(CallStatus::Completed),
            duration: Some(10),
            transcript: Some("hi".into()),
            event: Some("hold".into()),
            at: Some(t0()),
            ..Default::default()
        };
        let first = call.apply(&r, t0(), &[]).unwrap();
        assert!(first.changed());
        let known = first.timeline.clone();
        let before = call.clone();
        let second = call.apply(&r, t0(), &known).unwrap();
        assert!(!second.changed(), "{second:?}");
        assert_eq!(call, before);
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_reported_end_before_the_start_is_refused_naming_both() {
        let mut call = blank_call(CallStatus::Queued);
        call.initiated_at = Some(at("2025-05-20T10:00:00Z"));
        let r = CallReport {
            status: Some(CallStatus::Completed),
            at: Some(at("2025-05-20T09:00:00Z")),
            ..Default::default()
        };
        match call.clone().apply(&r, t0(), &[]) {
            Err(DomainError::Invalid(e)) => {
                assert_eq!((e.field.as_str(), e.related.as_deref()), ("endedAt", Some("initiatedAt")));
                assert!(
                    e.reason.contains("2025-05-20T09:00:00.000Z") && e.reason.contains("2025-05-20T10:00:00.000Z"),
                    "{}",
                    e.reason
                );
            }
            other => panic!("{other:?}"),
        }
        // An answer time before the dial, reported directly.
        let r = CallReport {
            status: Some(CallStatus::InProgress),
            answered_at: Some(at("2025-05-20T09:59:59Z")),
            ..Default::default()
        };
        match call.clone().apply(&r, t0(), &[]) {
            Err(DomainError::Invalid(e)) => assert_eq!((e.field.as_str(), e.related.as_deref()), ("answeredAt", Some("initiatedAt"))),
            other => panic!("{other:?}"),
        }
        // In order, all is well.
        let r = CallReport {
            status: Some(CallStatus::Completed),
            answered_at: Some(at("2025-05-20T10:00:05Z")),
            at: Some(at("2025-05-20T10:03:05Z")),
            ..Default::default()
        };
        let mut ok = call.clone();
        ok.apply(&r, t0(), &[]).unwrap();
        assert_eq!(ok.duration, Some(180));
    }

    #[test]
    fn times_we_stamp_or_a_carrier_reports_never_go_backwards() {
        // A call dialled "in the future" (a clock ahead of ours) ends now:
        // the end is stamped no earlier than the dial.
        let mut call = blank_call(CallStatus::Queued);
        let dialled = t0() + chrono::Duration::minutes(5);
        call.initiated_at = Some(dialled);
        let r = CallReport {
            status: Some(CallStatus::Busy),
            ..Default::default()
        };
        call.apply(&r, t0(), &[]).unwrap();
        assert_eq!(call.ended_at, Some(dialled));
        // A carrier's second-precision clock a moment behind ours.
        let mut call = blank_call(CallStatus::Queued);
        call.initiated_at = Some(at("2025-05-20T10:00:00.500Z"));
        let r = CallReport {
            status: Some(CallStatus::Ringing),
            at: Some(at("2025-05-20T10:00:00Z")),
            carrier_clock: true,
            ..Default::default()
        };
        call.apply(&r, t0(), &[]).unwrap();
        assert_eq!(call.ringing_at, Some(at("2025-05-20T10:00:00.500Z")));
        // A talk time longer than the call: the derived answer stays after the dial.
        let mut call = blank_call(CallStatus::Queued);
        call.initiated_at = Some(at("2025-05-20T10:00:00Z"));
        let r = CallReport {
            status: Some(CallStatus::Completed),
            at: Some(at("2025-05-20T10:01:00Z")),
            duration: Some(600),
            ..Default::default()
        };
        call.apply(&r, t0(), &[]).unwrap();
        assert_eq!(call.answered_at, Some(at("2025-05-20T10:00:00Z")));
    }

    proptest! {
        /// Whatever reports arrive, an accepted one leaves the call's times
        /// in order (initiated ≤ ringing ≤ answered ≤ ended).
        #[test]
        fn accepted_reports_keep_times_in_order(
            steps in proptest::collection::vec((status(), proptest::option::of(0i64..7200), proptest::option::of(0i64..7200), proptest::option::of(0i64..900), any::<bool>()), 1..8)
        ) {
            let mut call = blank_call(CallStatus::Queued);
            for (to, at_s, answered_s, duration, carrier) in steps {
                let r = CallReport {
                    status: Some(to),
                    at: at_s.map(|s| t0() + chrono::Duration::seconds(s)),
                    answered_at: answered_s.map(|s| t0() + chrono::Duration::seconds(s)),
                    duration,
                    carrier_clock: carrier,
                    ..Default::default()
                };
                let mut next = call.clone();
                if next.apply(&r, t0() + chrono::Duration::seconds(3600), &[]).is_ok() {
                    call = next;
                }
                let times: Vec<Timestamp> = call.times().iter().filter_map(|(_, t)| *t).collect();
                prop_assert!(times.windows(2).all(|w| w[0] <= w[1]), "{:?}", call.times());
            }
        }
    }

    proptest! {
        /// Whatever sequence of statuses arrives, a call never leaves a
        /// terminal status without a correction, never moves backwards, and
        /// each accepted move is forward.
        #[test]
        fn statuses_only_move_forward(seq in proptest::collection::vec(status(), 1..20)) {
            let mut call = blank_call(CallStatus::Scheduled);
            for to in seq {
                let before = call.status;
                let r = CallReport { status: Some(to), ..Default::default() };
                match call.apply(&r, t0(), &[]) {
                    Ok(applied) => {
                        if let Some((from, now)) = applied.status {
                            prop_assert_eq!(from, before);
                            prop_assert!(!from.is_terminal());
                            prop_assert!(now.rank() > from.rank());
                        } else {
                            prop_assert_eq!(call.status, before);
                        }
                    }
                    Err(DomainError::IllegalTransition { from, to: t }) => {
                        prop_assert!(before.is_terminal() && to.is_terminal() && before != to);
                        prop_assert_eq!(from, before.as_str());
                        prop_assert_eq!(t, to.as_str());
                        prop_assert_eq!(call.status, before);
                    }
                    Err(e) => prop_assert!(false, "unexpected {e:?}"),
                }
            }
        }

        /// Delivering the same set of reports twice ends in the same call as
        /// delivering it once (carrier retries are harmless).
        #[test]
        fn duplicate_delivery_is_idempotent(seq in proptest::collection::vec(status(), 1..10)) {
            let reports: Vec<CallReport> = seq.iter().map(|s| CallReport { status: Some(*s), at: Some(t0()), ..Default::default() }).collect();
            let mut once = blank_call(CallStatus::Queued);
            let mut twice = blank_call(CallStatus::Queued);
            let mut known = vec![];
            for r in &reports {
                let _ = once.apply(r, t0(), &[]);
                for _ in 0..2 {
                    if let Ok(a) = twice.apply(r, t0(), &known) { known.extend(a.timeline); }
                }
            }
            prop_assert_eq!(once.status, twice.status);
        }
    }
}
