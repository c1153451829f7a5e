//! The counters every group carries and what each call adds to them. The
//! definitions here are the ones docs/analytics.md states.

use serde::Serialize;
use switchboard_domain::CallStatus;

/// Per-call class bits, computed once when a call enters the index.
pub(crate) mod flag {
    pub const COMPLETED: u16 = 1;
    pub const ANSWERED: u16 = 1 << 1;
    pub const MISSED: u16 = 1 << 2;
    pub const FAILED: u16 = 1 << 3;
    pub const VOICEMAIL: u16 = 1 << 4;
    pub const SUCCESSFUL: u16 = 1 << 5;
    pub const INBOUND: u16 = 1 << 6;
    pub const ATTEMPTED: u16 = 1 << 7;
    pub const FINISHED: u16 = 1 << 8;
    pub const HAS_DURATION: u16 = 1 << 9;
    /// Set on every call that exists (cleared when deleted).
    pub const LIVE: u16 = 1 << 15;
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

/// The class bits of a call.
pub(crate) fn flags(status: CallStatus, inbound: bool, outcome: Option<&str>, has_duration: bool) -> u16 {
    use CallStatus::*;
    let mut f = flag::LIVE;
    let set = |f: &mut u16, bit: u16, on: bool| {
        if on {
            *f |= bit;
        }
    };
    set(&mut f, flag::COMPLETED, status == Completed);
    set(&mut f, flag::ANSWERED, matches!(status, InProgress | Completed));
    set(&mut f, flag::MISSED, matches!(status, NoAnswer | Busy));
    set(&mut f, flag::FAILED, status == Failed);
    set(&mut f, flag::VOICEMAIL, status == Voicemail);
    set(&mut f, flag::SUCCESSFUL, is_success(outcome));
    set(&mut f, flag::INBOUND, inbound);
    set(&mut f, flag::ATTEMPTED, !matches!(status, Scheduled | Queued | Canceled));
    set(&mut f, flag::FINISHED, status.is_terminal());
    set(&mut f, flag::HAS_DURATION, has_duration);
    f
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
    /// Rang out or busy: `no_answer` or `busy`.
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
    #[inline]
    pub(crate) fn add(&mut self, f: u16, duration: u32) {
        let bit = |b: u16| u64::from(f & b != 0);
        self.calls += 1;
        self.completed += bit(flag::COMPLETED);
        self.answered += bit(flag::ANSWERED);
        self.missed += bit(flag::MISSED);
        self.failed += bit(flag::FAILED);
        self.voicemail += bit(flag::VOICEMAIL);
        self.successful += bit(flag::SUCCESSFUL);
        self.inbound += bit(flag::INBOUND);
        self.outbound += 1 - bit(flag::INBOUND);
        self.attempted += bit(flag::ATTEMPTED);
        self.finished += bit(flag::FINISHED);
        let d = u64::from(duration);
        self.total_duration += d;
        let completed = bit(flag::COMPLETED);
        self.completed_duration += d * completed;
        self.completed_with_duration += completed * bit(flag::HAS_DURATION);
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
        s.add(flags(CallStatus::Completed, true, Some("Successful"), true), 120);
        s.add(flags(CallStatus::NoAnswer, false, None, false), 0);
        s.add(flags(CallStatus::Queued, false, None, false), 0);
        assert_eq!((s.calls, s.completed, s.answered, s.missed, s.successful), (3, 1, 1, 1, 1));
        assert_eq!((s.inbound, s.outbound, s.attempted, s.finished), (1, 2, 2, 2));
        assert_eq!((s.total_duration, s.completed_duration, s.completed_with_duration), (120, 120, 1));
    }
}
