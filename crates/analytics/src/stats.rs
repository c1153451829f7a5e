//! The counters every group carries and what each call adds to them. The
//! definitions here are the ones docs/analytics.md states.

use serde::Serialize;
use switchboard_domain::CallStatus;

/// A call's class: everything the counters need, in 7 bits (status index
/// in bits 0-3, inbound, successful outcome, duration reported). Computed
/// once when a call enters the index; scans count calls per class and
/// derive [`Stats`] from the counts at the end.
pub(crate) mod class {
    pub const INBOUND: u8 = 1 << 4;
    pub const SUCCESSFUL: u8 = 1 << 5;
    pub const HAS_DURATION: u8 = 1 << 6;
    /// Set on every call that exists (cleared when deleted); not part of the class.
    pub const LIVE: u8 = 1 << 7;
    /// Number of distinct classes.
    pub const COUNT: usize = 128;
}

/// Business outcomes that count as a success (compared case-insensitively).
pub const SUCCESS_OUTCOMES: &[&str] = &[
    "successful",
    "success",
    "converted",
    "sale",
    "sold",
    "interested",
    "paid",
    "promise_to_pay",
    "resolved",
];

pub fn is_success(outcome: Option<&str>) -> bool {
    outcome.is_some_and(|o| SUCCESS_OUTCOMES.iter().any(|s| s.eq_ignore_ascii_case(o.trim())))
}

/// The class byte of a live call.
pub(crate) fn class_of(status: CallStatus, inbound: bool, outcome: Option<&str>, has_duration: bool) -> u8 {
    let status = CallStatus::ALL.iter().position(|x| *x == status).unwrap_or(0) as u8;
    let mut c = status | class::LIVE;
    if inbound {
        c |= class::INBOUND;
    }
    if is_success(outcome) {
        c |= class::SUCCESSFUL;
    }
    if has_duration {
        c |= class::HAS_DURATION;
    }
    c
}

pub(crate) fn status_of(class: u8) -> CallStatus {
    CallStatus::ALL
        .get(usize::from(class & 0x0f))
        .copied()
        .unwrap_or(CallStatus::Failed)
}

/// Counters over a set of calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Every call in the set, whatever its status.
    pub calls: u64,
    /// Status `completed`.
    pub completed: u64,
    /// Picked up by a person: `in_progress` or `completed`.
    pub answered: u64,
    /// Missed: `no_answer`, `busy` or `canceled` ([`CallStatus::MISSED`]).
    pub missed: u64,
    pub failed: u64,
    pub voicemail: u64,
    /// Outcome in [`SUCCESS_OUTCOMES`].
    pub successful: u64,
    pub inbound: u64,
    pub outbound: u64,
    /// Dialled or logged (not `scheduled`, `queued` or `canceled`).
    pub attempted: u64,
    /// Reached a final status.
    pub finished: u64,
    /// Sum of talk time (seconds) over every call.
    pub total_duration: u64,
    /// Sum of talk time over completed calls.
    pub completed_duration: u64,
    /// Completed calls that reported a duration.
    pub completed_with_duration: u64,
}

impl Stats {
    /// Adds `n` calls of class `c` (talk time is added separately).
    pub(crate) fn add_class(&mut self, c: u8, n: u64) {
        use CallStatus::*;
        let st = status_of(c);
        let on = |b: bool| if b { n } else { 0 };
        self.calls += n;
        self.completed += on(st == Completed);
        self.answered += on(matches!(st, InProgress | Completed));
        self.missed += on(st.is_missed());
        self.failed += on(st == Failed);
        self.voicemail += on(st == Voicemail);
        self.successful += on(c & class::SUCCESSFUL != 0);
        self.inbound += on(c & class::INBOUND != 0);
        self.outbound += on(c & class::INBOUND == 0);
        self.attempted += on(!matches!(st, Scheduled | Queued | Canceled));
        self.finished += on(st.is_terminal());
        self.completed_with_duration += on(st == Completed && c & class::HAS_DURATION != 0);
    }

    pub fn merge(&mut self, o: &Stats) {
        self.calls += o.calls;
        self.completed += o.completed;
        self.answered += o.answered;
        self.missed += o.missed;
        self.failed += o.failed;
        self.voicemail += o.voicemail;
        self.successful += o.successful;
        self.inbound += o.inbound;
        self.outbound += o.outbound;
        self.attempted += o.attempted;
        self.finished += o.finished;
        self.total_duration += o.total_duration;
        self.completed_duration += o.completed_duration;
        self.completed_with_duration += o.completed_with_duration;
    }

    /// Successful calls per completed call, in percent with one decimal.
    pub fn success_rate(&self) -> f64 {
        pct(self.successful, self.completed)
    }

    /// Answered calls per attempted call, in percent with one decimal.
    pub fn answer_rate(&self) -> f64 {
        pct(self.answered, self.attempted)
    }

    /// Successful calls per call, in percent with one decimal.
    pub fn conversion_rate(&self) -> f64 {
        pct(self.successful, self.calls)
    }

    /// Average talk time of completed calls that reported one, in whole seconds.
    pub fn avg_completed_duration(&self) -> u64 {
        div_round(self.completed_duration, self.completed_with_duration)
    }

    /// Talk time per call over every call, in whole seconds.
    pub fn avg_duration_per_call(&self) -> u64 {
        div_round(self.total_duration, self.calls)
    }

    /// Talk time per answered call (average handle time), in whole seconds.
    pub fn avg_handle_time(&self) -> u64 {
        div_round(self.total_duration, self.answered)
    }
}

/// `num / den` in percent, rounded to one decimal; 0 when `den` is 0.
pub fn pct(num: u64, den: u64) -> f64 {
    if den == 0 {
        return 0.0;
    }
    (num as f64 * 1000.0 / den as f64).round() / 10.0
}

/// `num / den` rounded half up; 0 when `den` is 0.
pub fn div_round(num: u64, den: u64) -> u64 {
    (num + den / 2).checked_div(den).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_match_the_spec_examples() {
        // SaaS spec: 884 successful of 1156 completed = 76.5%.
        assert_eq!(pct(884, 1156), 76.5);
        // SaaS spec: campaign 112 successful of 152 calls = 73.7%.
        assert_eq!(pct(112, 152), 73.7);
        // Call Ribbon: 335600 s over 1250 calls = 268 s.
        assert_eq!(div_round(335_600, 1250), 268);
        assert_eq!(pct(1, 0), 0.0);
    }

    #[test]
    fn a_call_adds_to_the_right_counters() {
        let mut s = Stats::default();
        s.add_class(class_of(CallStatus::Completed, true, Some("Successful"), true), 1);
        s.add_class(class_of(CallStatus::NoAnswer, false, None, false), 2);
        s.add_class(class_of(CallStatus::Queued, false, None, false), 1);
        assert_eq!((s.calls, s.completed, s.answered, s.missed, s.successful), (4, 1, 1, 2, 1));
        assert_eq!(
            (s.inbound, s.outbound, s.attempted, s.finished, s.completed_with_duration),
            (1, 3, 3, 3, 1)
        );
        assert_eq!(
            class_of(CallStatus::Completed, false, None, false) & 0x0f,
            crate::query::COMPLETED_INDEX
        );
        assert_eq!(status_of(class_of(CallStatus::Voicemail, true, None, true)), CallStatus::Voicemail);
    }

    #[test]
    fn missed_is_rang_out_busy_or_cancelled() {
        let mut s = Stats::default();
        for st in CallStatus::ALL {
            s.add_class(class_of(st, false, None, false), 1);
        }
        assert_eq!(s.missed, 3);
        let mut c = Stats::default();
        c.add_class(class_of(CallStatus::Canceled, false, None, false), 1);
        assert_eq!(c.missed, 1, "a cancelled call is a missed call");
    }
}
