//! Campaigns: their status machine, calling windows and retry rules.
//!
//! Status flow: `scheduled → active ⇄ paused`, then `completed` (by the
//! dialer, when every contact is done or the end date passed) or
//! `cancelled` (by a user, from any non-final status). Asking for the
//! status a campaign already has changes nothing.

use chrono::{Datelike, Timelike};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{DomainError, FieldError};
use crate::id::{CampaignId, ContactListId, OrgId, TemplateId};
use crate::{CallStatus, TimeZone, Timestamp};

/// Earliest local time (minutes after midnight) a callee may be called
/// unless a campaign overrides the quiet hours.
pub const LEGAL_START: u16 = 8 * 60;
/// Latest local time (exclusive) a callee may be called.
pub const LEGAL_END: u16 = 21 * 60;
/// Most attempts per contact.
pub const MAX_ATTEMPTS: u32 = 10;
/// Most lines one campaign may hold.
pub const MAX_CONCURRENT: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignStatus {
    Scheduled,
    Active,
    Paused,
    Completed,
    Cancelled,
}

/// What a user asks of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignAction {
    Start,
    Pause,
    Resume,
    Cancel,
}

impl CampaignAction {
    /// Reads the status a client asks for: `active`/`start`, `paused`/`pause`,
    /// `resume`/`resumed`, `cancelled`/`canceled`/`cancel`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "active" | "start" | "started" => Self::Start,
            "paused" | "pause" => Self::Pause,
            "resume" | "resumed" => Self::Resume,
            "cancelled" | "canceled" | "cancel" => Self::Cancel,
            _ => return None,
        })
    }

    pub fn target(self) -> CampaignStatus {
        match self {
            Self::Start | Self::Resume => CampaignStatus::Active,
            Self::Pause => CampaignStatus::Paused,
            Self::Cancel => CampaignStatus::Cancelled,
        }
    }
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "scheduled" => Self::Scheduled,
            "active" => Self::Active,
            "paused" => Self::Paused,
            "completed" => Self::Completed,
            "cancelled" | "canceled" => Self::Cancelled,
            _ => return None,
        })
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }

    /// Checks a user's request; answers the new status and the event type
    /// announcing it, or `None` when the campaign already has that status.
    pub fn apply(self, action: CampaignAction) -> Result<Option<(CampaignStatus, &'static str)>, DomainError> {
        use CampaignAction::*;
        use CampaignStatus::*;
        let to = action.target();
        if self == to {
            return Ok(None);
        }
        let event = match (self, action) {
            (Scheduled, Start) => "campaign.started",
            (Paused, Start | Resume) => "campaign.resumed",
            (Active, Pause) => "campaign.paused",
            (Scheduled | Active | Paused, Cancel) => "campaign.canceled",
            _ => {
                return Err(DomainError::IllegalTransition {
                    from: self.as_str(),
                    to: to.as_str(),
                });
            }
        };
        Ok(Some((to, event)))
    }
}

/// Minutes after local midnight, `HH:MM`.
pub fn parse_hhmm(field: &str, s: &str) -> Result<u16, FieldError> {
    let bad = || FieldError::new(field, "must be a time of day HH:MM, e.g. 09:00");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

pub fn format_hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// When a campaign may dial, in each callee's own local time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub start_date: Option<Timestamp>,
    pub end_date: Option<Timestamp>,
    /// Zone for callees whose zone is unknown.
    pub time_zone: TimeZone,
    /// Local call hours, minutes after midnight: `[start, end)`.
    pub call_start: u16,
    pub call_end: u16,
    /// ISO weekdays, 1 = Monday ... 7 = Sunday.
    pub days_of_week: Vec<u8>,
    /// Lets call hours reach outside 08:00–21:00 local time.
    pub override_quiet_hours: bool,
}

impl Schedule {
    /// Checks the call hours against the legal window and the dates.
    pub fn check(&self) -> Result<(), FieldError> {
        if self.call_start >= self.call_end {
            return Err(FieldError::new("schedule.callHours.start", "must be before callHours.end"));
        }
        if !self.override_quiet_hours {
            if self.call_start < LEGAL_START {
                return Err(FieldError::new(
                    "schedule.callHours.start",
                    "must be 08:00 or later (callee local time) unless schedule.overrideQuietHours is true",
                ));
            }
            if self.call_end > LEGAL_END {
                return Err(FieldError::new(
                    "schedule.callHours.end",
                    "must be 21:00 or earlier (callee local time) unless schedule.overrideQuietHours is true",
                ));
            }
        }
        if self.days_of_week.is_empty() || self.days_of_week.iter().any(|d| !(1..=7).contains(d)) {
            return Err(FieldError::new(
                "schedule.daysOfWeek",
                "must list days 1 (Monday) to 7 (Sunday); 0 also means Sunday",
            ));
        }
        if let (Some(s), Some(e)) = (self.start_date, self.end_date)
            && s >= e
        {
            return Err(FieldError::new("schedule.startDate", "must be before schedule.endDate"));
        }
        Ok(())
    }

    /// Has the campaign's date range begun and not yet ended at `now`?
    pub fn in_dates(&self, now: Timestamp) -> bool {
        self.start_date.is_none_or(|s| now >= s) && self.end_date.is_none_or(|e| now < e)
    }

    pub fn ended(&self, now: Timestamp) -> bool {
        self.end_date.is_some_and(|e| now >= e)
    }

    /// May a callee in `zone` be dialled at `now`? The campaign's days and
    /// hours in the callee's local time, within the legal window unless
    /// overridden, within the campaign's dates.
    pub fn is_open(&self, zone: TimeZone, now: Timestamp) -> bool {
        if !self.in_dates(now) {
            return false;
        }
        let local = now.with_timezone(&zone.0);
        let day = local.weekday().number_from_monday() as u8;
        if !self.days_of_week.contains(&day) {
            return false;
        }
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let (mut start, mut end) = (self.call_start, self.call_end);
        if !self.override_quiet_hours {
            start = start.max(LEGAL_START);
            end = end.min(LEGAL_END);
        }
        minute >= start && minute < end
    }
}

/// Which finished calls are tried again, how often, and after how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrySettings {
    /// Attempts per contact in all, the first included.
    pub max_attempts: u32,
    /// Minutes between an attempt's end and the next attempt.
    pub retry_interval_mins: u32,
    /// Final statuses that earn another attempt (`busy`, `no_answer`,
    /// `failed`, `voicemail`). A call a person answered is never retried.
    pub retry_on: Vec<CallStatus>,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_attempts: 1,
            retry_interval_mins: 60,
            retry_on: vec![CallStatus::Busy, CallStatus::NoAnswer, CallStatus::Failed],
        }
    }
}

/// Statuses a campaign may retry.
pub const RETRYABLE: [CallStatus; 4] = [CallStatus::Busy, CallStatus::NoAnswer, CallStatus::Failed, CallStatus::Voicemail];

impl RetrySettings {
    /// After attempt number `attempts` ended in `status` at `ended`: when to
    /// try again, or `None` when the contact is done.
    pub fn next_attempt(&self, status: CallStatus, attempts: u32, ended: Timestamp) -> Option<Timestamp> {
        let retry = status != CallStatus::Completed
            && status != CallStatus::InProgress
            && self.retry_on.contains(&status)
            && attempts < self.max_attempts;
        retry.then(|| ended + chrono::Duration::minutes(i64::from(self.retry_interval_mins)))
    }
}

/// How a campaign uses its lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSettings {
    pub max_concurrent_calls: u32,
    /// Our number shown to callees (E.164).
    pub caller_id: Option<String>,
    pub retry: RetrySettings,
    /// A per-campaign dial rate cap below the organisation's.
    pub calls_per_second: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub status: CampaignStatus,
    pub template_id: TemplateId,
    pub schedule: Schedule,
    pub settings: CallSettings,
    /// Values for the template's variables shared by every call.
    pub variables: Option<Value>,
    /// The contact lists it was created from.
    pub contact_list_ids: Vec<ContactListId>,
    pub total_contacts: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub last_run_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
}

impl Campaign {
    pub fn event_data(&self) -> Value {
        serde_json::json!({
            "campaignId": self.id,
            "name": self.name,
            "status": self.status.as_str(),
            "templateId": self.template_id,
            "totalContacts": self.total_contacts,
        })
    }
}

/// A named set of contacts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactList {
    pub id: ContactListId,
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Filled when read.
    #[serde(default)]
    pub member_count: i64,
}

/// A number on an organisation's do-not-call list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DncEntry {
    pub phone: String,
    pub reason: Option<String>,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use proptest::prelude::*;

    fn sched() -> Schedule {
        Schedule {
            start_date: None,
            end_date: None,
            time_zone: TimeZone::UTC,
            call_start: 9 * 60,
            call_end: 17 * 60,
            days_of_week: vec![1, 2, 3, 4, 5],
            override_quiet_hours: false,
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
        chrono::Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn windows_are_in_the_callee_zone() {
        let s = sched();
        let ny = TimeZone::parse("tz", "America/New_York").unwrap();
        let kolkata = TimeZone::parse("tz", "Asia/Kolkata").unwrap();
        // Wednesday 2025-05-21 14:00 UTC = 10:00 New York, 19:30 Kolkata.
        let t = utc(2025, 5, 21, 14, 0);
        assert!(s.is_open(ny, t));
        assert!(!s.is_open(kolkata, t));
        // 16:59 local is in, 17:00 is out.
        assert!(s.is_open(ny, utc(2025, 5, 21, 20, 59)));
        assert!(!s.is_open(ny, utc(2025, 5, 21, 21, 0)));
        // Saturday is not a listed day.
        assert!(!s.is_open(ny, utc(2025, 5, 24, 14, 0)));
    }

    #[test]
    fn quiet_hours_need_an_override() {
        let mut s = sched();
        s.call_start = 7 * 60;
        assert_eq!(s.check().unwrap_err().field, "schedule.callHours.start");
        s.override_quiet_hours = true;
        assert!(s.check().is_ok());
        s.days_of_week = vec![8];
        assert_eq!(s.check().unwrap_err().field, "schedule.daysOfWeek");
    }

    #[test]
    fn campaign_transitions_are_checked() {
        use CampaignAction::*;
        use CampaignStatus::*;
        assert_eq!(Scheduled.apply(Start).unwrap(), Some((Active, "campaign.started")));
        assert_eq!(Active.apply(Pause).unwrap(), Some((Paused, "campaign.paused")));
        assert_eq!(Paused.apply(Resume).unwrap(), Some((Active, "campaign.resumed")));
        assert_eq!(Active.apply(Start).unwrap(), None);
        assert!(matches!(
            Completed.apply(Start),
            Err(DomainError::IllegalTransition {
                from: "completed",
                to: "active"
            })
        ));
        assert!(Scheduled.apply(Pause).is_err());
        assert!(Cancelled.apply(Resume).is_err());
    }

    #[test]
    fn retries_follow_settings_and_never_repeat_an_answered_call() {
        let r = RetrySettings {
            max_attempts: 3,
            retry_interval_mins: 30,
            retry_on: vec![CallStatus::Busy, CallStatus::NoAnswer, CallStatus::Voicemail],
        };
        let t = utc(2025, 5, 21, 14, 0);
        assert_eq!(r.next_attempt(CallStatus::Busy, 1, t), Some(t + chrono::Duration::minutes(30)));
        assert_eq!(r.next_attempt(CallStatus::Busy, 3, t), None);
        assert_eq!(r.next_attempt(CallStatus::Failed, 1, t), None);
        assert_eq!(r.next_attempt(CallStatus::Completed, 1, t), None);
    }

    #[test]
    fn hhmm_parses_strictly() {
        assert_eq!(parse_hhmm("f", "09:30").unwrap(), 570);
        assert_eq!(parse_hhmm("f", "24:00").unwrap(), 1440);
        for bad in ["9:30", "25:00", "12:60", "noon", "24:01"] {
            assert!(parse_hhmm("f", bad).is_err(), "{bad}");
        }
        assert_eq!(format_hhmm(570), "09:30");
    }

    proptest! {
        /// Whatever the hours and zone, an un-overridden schedule never
        /// opens outside 08:00–21:00 local time.
        #[test]
        fn never_open_in_quiet_hours(start in 0u16..1440, len in 1u16..1440, secs in 0i64..(86_400 * 400), zi in 0usize..5) {
            let zones = ["America/New_York", "Asia/Kolkata", "Australia/Sydney", "Europe/London", "Pacific/Chatham"];
            let zone = TimeZone::parse("tz", zones[zi]).unwrap();
            let s = Schedule { call_start: start, call_end: (start + len).min(1440), days_of_week: vec![1,2,3,4,5,6,7], ..sched() };
            let t = utc(2025, 1, 1, 0, 0) + chrono::Duration::seconds(secs);
            if s.is_open(zone, t) {
                let local = t.with_timezone(&zone.0);
                let m = (local.hour() * 60 + local.minute()) as u16;
                prop_assert!((LEGAL_START..LEGAL_END).contains(&m));
                prop_assert!(m >= s.call_start && m < s.call_end);
            }
        }
    }
}
