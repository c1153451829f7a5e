//! Departments and queues. A queue is where an inbound call or a transfer
//! waits for an agent: it requires skills (each at a minimum proficiency),
//! has a priority (1–99, higher first), a longest wait, business hours in
//! an IANA zone, and an overflow (another queue, voicemail or a number)
//! taken after the longest wait or outside hours. Overflow between queues
//! never loops: a queue overflowing into itself, directly or through
//! others, is refused. No I/O.

use std::collections::HashMap;

use chrono::{Datelike, Timelike};
use serde::{Deserialize, Serialize};

use crate::agents::Skills;
use crate::campaign::{format_hhmm, parse_hhmm};
use crate::error::FieldError;
use crate::id::{DepartmentId, OrgId, QueueId};
use crate::{TimeZone, Timestamp};

pub const MIN_PRIORITY: u8 = 1;
pub const MAX_PRIORITY: u8 = 99;
/// Longest `maxWaitSeconds` a queue may have (one day).
pub const MAX_WAIT_SECS: u32 = 86_400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Department {
    pub id: DepartmentId,
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// When a queue takes calls, in its own zone: the same hours on each listed day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessHours {
    pub time_zone: TimeZone,
    /// ISO weekdays, 1 = Monday ... 7 = Sunday.
    pub days: Vec<u8>,
    /// Minutes after local midnight: open in `[open, close)`.
    pub open: u16,
    pub close: u16,
}

impl BusinessHours {
    /// Parses hours from their parts, naming `field.<part>` when one is wrong.
    pub fn parse(field: &str, zone: &str, days: &[u8], open: &str, close: &str) -> Result<Self, FieldError> {
        let time_zone = TimeZone::parse(&format!("{field}.timeZone"), zone)?;
        let open = parse_hhmm(&format!("{field}.open"), open)?;
        let close = parse_hhmm(&format!("{field}.close"), close)?;
        if open >= close {
            return Err(FieldError::new(format!("{field}.open"), "must be before close"));
        }
        if days.is_empty() || days.iter().any(|d| !(1..=7).contains(d)) {
            return Err(FieldError::new(format!("{field}.days"), "must list days 1 (Monday) to 7 (Sunday)"));
        }
        let mut days = days.to_vec();
        days.sort_unstable();
        days.dedup();
        Ok(BusinessHours {
            time_zone,
            days,
            open,
            close,
        })
    }

    /// Is the queue open at `now` (its local weekday and time of day)?
    pub fn is_open(&self, now: Timestamp) -> bool {
        let local = now.with_timezone(&self.time_zone.0);
        let day = local.weekday().number_from_monday() as u8;
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.days.contains(&day) && minute >= self.open && minute < self.close
    }

    pub fn open_hhmm(&self) -> String {
        format_hhmm(self.open)
    }

    pub fn close_hhmm(&self) -> String {
        format_hhmm(self.close)
    }
}

/// Where a call goes after the longest wait or outside hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "target", rename_all = "lowercase")]
pub enum Overflow {
    Queue(QueueId),
    Voicemail,
    /// A number (E.164).
    Number(String),
}

impl Overflow {
    pub fn kind(&self) -> &'static str {
        match self {
            Overflow::Queue(_) => "queue",
            Overflow::Voicemail => "voicemail",
            Overflow::Number(_) => "number",
        }
    }

    pub fn target(&self) -> Option<String> {
        match self {
            Overflow::Queue(q) => Some(q.to_string()),
            Overflow::Voicemail => None,
            Overflow::Number(n) => Some(n.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub id: QueueId,
    pub org_id: OrgId,
    pub name: String,
    pub department_id: Option<DepartmentId>,
    /// Skills an agent needs, each at least at this proficiency.
    pub skills: Skills,
    /// 1–99; a higher priority's calls are offered first.
    pub priority: u8,
    /// Longest wait before the overflow is taken.
    pub max_wait_secs: u32,
    /// Always open when absent.
    pub hours: Option<BusinessHours>,
    pub overflow: Option<Overflow>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Queue {
    /// Is the queue taking calls at `now`?
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.hours.as_ref().is_none_or(|h| h.is_open(now))
    }
}

/// Checks that `queue` overflowing as it says closes no loop among the
/// organisation's queues (`overflow_of` maps each other queue to the queue
/// it overflows into). Answers the loop, starting and ending at `queue`.
pub fn overflow_loop(queue: &QueueId, overflow: Option<&Overflow>, overflow_of: &HashMap<QueueId, QueueId>) -> Option<Vec<QueueId>> {
    let Some(Overflow::Queue(first)) = overflow else {
        return None;
    };
    let mut path = vec![queue.clone()];
    let mut at = first.clone();
    // Every other queue is visited at most once: a loop not through `queue`
    // (already stored, so impossible) still ends the walk.
    for _ in 0..=overflow_of.len() {
        path.push(at.clone());
        if &at == queue {
            return Some(path);
        }
        match overflow_of.get(&at) {
            Some(next) => at = next.clone(),
            None => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone as _, Utc};

    #[test]
    fn business_hours_follow_the_zone_across_dst() {
        // New York, weekdays 09:00–17:00. On Friday 2025-03-07 New York is
        // on EST (UTC-5); on Monday 2025-03-10, after the switch on the 9th,
        // on EDT (UTC-4).
        let h = BusinessHours::parse("businessHours", "America/New_York", &[1, 2, 3, 4, 5], "09:00", "17:00").unwrap();
        let at = |y, m, d, hh, mm| Utc.with_ymd_and_hms(y, m, d, hh, mm, 0).unwrap();
        let cases = [
            (at(2025, 3, 7, 13, 59), false),  // 08:59 EST
            (at(2025, 3, 7, 14, 0), true),    // 09:00 EST
            (at(2025, 3, 7, 21, 59), true),   // 16:59 EST
            (at(2025, 3, 7, 22, 0), false),   // 17:00 EST
            (at(2025, 3, 10, 12, 59), false), // 08:59 EDT
            (at(2025, 3, 10, 13, 0), true),   // 09:00 EDT (14:00 UTC a week before)
            (at(2025, 3, 10, 20, 59), true),  // 16:59 EDT
            (at(2025, 3, 10, 21, 0), false),  // 17:00 EDT
            (at(2025, 3, 8, 15, 0), false),   // Saturday
            // Back in November: Monday 2025-11-03 is EST again.
            (at(2025, 11, 3, 13, 30), false), // 08:30 EST
            (at(2025, 11, 3, 14, 0), true),
        ];
        for (t, open) in cases {
            assert_eq!(h.is_open(t), open, "{t}");
        }
        // Across midnight UTC: Sydney Monday 08:00–10:00 is Sunday UTC.
        let syd = BusinessHours::parse("h", "Australia/Sydney", &[1], "08:00", "10:00").unwrap();
        assert!(syd.is_open(at(2025, 6, 1, 22, 30))); // Monday 08:30 AEST
        assert!(!syd.is_open(at(2025, 6, 2, 22, 30))); // Tuesday
    }

    #[test]
    fn bad_hours_name_their_part() {
        let e = |z: &str, d: &[u8], o: &str, c: &str| BusinessHours::parse("businessHours", z, d, o, c).unwrap_err().field;
        assert_eq!(e("Mars/Base", &[1], "09:00", "17:00"), "businessHours.timeZone");
        assert_eq!(e("UTC", &[8], "09:00", "17:00"), "businessHours.days");
        assert_eq!(e("UTC", &[], "09:00", "17:00"), "businessHours.days");
        assert_eq!(e("UTC", &[1], "9am", "17:00"), "businessHours.open");
        assert_eq!(e("UTC", &[1], "17:00", "09:00"), "businessHours.open");
        assert_eq!(e("UTC", &[1], "09:00", "25:00"), "businessHours.close");
    }

    #[test]
    fn overflow_loops_are_found() {
        let (a, b, c, d) = (QueueId::new(), QueueId::new(), QueueId::new(), QueueId::new());
        let mut of = HashMap::new();
        // Itself, directly.
        assert_eq!(
            overflow_loop(&a, Some(&Overflow::Queue(a.clone())), &of),
            Some(vec![a.clone(), a.clone()])
        );
        // b → c → a, so a → b closes a loop.
        of.insert(b.clone(), c.clone());
        of.insert(c.clone(), a.clone());
        assert_eq!(
            overflow_loop(&a, Some(&Overflow::Queue(b.clone())), &of),
            Some(vec![a.clone(), b.clone(), c.clone(), a.clone()])
        );
        // a → d (which goes nowhere), voicemail, a number: no loop.
        assert_eq!(overflow_loop(&a, Some(&Overflow::Queue(d.clone())), &of), None);
        assert_eq!(overflow_loop(&a, Some(&Overflow::Voicemail), &of), None);
        assert_eq!(overflow_loop(&a, None, &of), None);
        // A chain that ends elsewhere: c → a is replaced by c → d.
        of.insert(c.clone(), d.clone());
        assert_eq!(overflow_loop(&a, Some(&Overflow::Queue(b.clone())), &of), None);
    }
}
