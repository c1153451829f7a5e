//! Local-time bucketing that is right in every zone and across DST.
//!
//! Every zone's offset (+05:30, +05:45, -03:30, DST shifts) is a multiple of
//! 15 minutes, and zones change offset only on such boundaries. So each
//! 15-minute UTC slot lies inside one local hour, day, week and month; a
//! table from slot to local buckets, built once per zone and time span,
//! turns bucketing a call into one lookup. Zones with odd historical offsets
//! fall back to converting each call.

use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::Tz;

pub const SLOT: i64 = 900;
/// The longest span a table covers (about 20 years of slots).
const MAX_SLOTS: i64 = 20 * 366 * 96;

/// Where an instant falls in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Local {
    /// Days since 1970-01-01 of the local date.
    pub day: i32,
    pub hour: u8,
    /// 0 = Sunday ... 6 = Saturday.
    pub dow: u8,
    /// Day number of the local week's Monday.
    pub week: i32,
    /// year * 12 + month - 1.
    pub month: i32,
}

pub fn local_of(tz: Tz, ts: i64) -> Local {
    let t = tz.timestamp_opt(ts, 0).single().unwrap_or_else(|| tz.timestamp_opt(0, 0).unwrap());
    let date = t.date_naive();
    let day = date.num_days_from_ce() - 719_163;
    let dow = date.weekday().num_days_from_sunday() as u8;
    let from_monday = date.weekday().num_days_from_monday() as i32;
    Local {
        day,
        hour: t.hour() as u8,
        dow,
        week: day - from_monday,
        month: date.year() * 12 + date.month0() as i32,
    }
}

pub fn date_label(day: i32) -> String {
    NaiveDate::from_num_days_from_ce_opt(day + 719_163)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

pub fn month_label(month: i32) -> String {
    format!("{:04}-{:02}-01", month.div_euclid(12), month.rem_euclid(12) + 1)
}

/// Tables are built for spans widened to this grid, so one table serves
/// every query (and every new call) within it.
const SPAN_GRID: i64 = 32 * 86_400;

/// Recently built tables, by zone and span.
static CACHE: std::sync::LazyLock<std::sync::Mutex<Vec<std::sync::Arc<SlotTable>>>> = std::sync::LazyLock::new(Default::default);
const CACHE_SIZE: usize = 16;

/// A table covering `[from, to]` in `tz`, built once and shared.
pub fn slot_table(tz: Tz, from: i64, to: i64) -> std::sync::Arc<SlotTable> {
    let (lo, hi) = (from.div_euclid(SPAN_GRID) * SPAN_GRID, (to.div_euclid(SPAN_GRID) + 1) * SPAN_GRID);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = cache.iter().find(|t| t.tz == tz && t.first_slot * SLOT <= lo && t.end() >= hi) {
        return t.clone();
    }
    let table = std::sync::Arc::new(SlotTable::new(tz, lo, hi));
    if cache.len() >= CACHE_SIZE {
        cache.remove(0);
    }
    cache.push(table.clone());
    table
}

/// Local buckets for every 15-minute slot of a span.
pub struct SlotTable {
    tz: Tz,
    first_slot: i64,
    slots: Vec<Local>,
    /// False when some offset in the span is not a multiple of 15 minutes.
    exact: bool,
}

impl SlotTable {
    /// Covers `[from, to]` (unix seconds) in `tz`.
    pub fn new(tz: Tz, from: i64, to: i64) -> Self {
        let first_slot = from.div_euclid(SLOT);
        let last_slot = to.div_euclid(SLOT).min(first_slot + MAX_SLOTS);
        let mut exact = true;
        let slots = (first_slot..=last_slot)
            .map(|s| {
                let ts = s * SLOT;
                let offset = tz.offset_from_utc_datetime(&chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default().naive_utc());
                use chrono::Offset;
                if offset.fix().local_minus_utc() % SLOT as i32 != 0 {
                    exact = false;
                }
                local_of(tz, ts)
            })
            .collect();
        SlotTable {
            tz,
            first_slot,
            slots,
            exact,
        }
    }

    /// The first instant after the span.
    fn end(&self) -> i64 {
        (self.first_slot + self.slots.len() as i64) * SLOT
    }

    #[inline]
    pub fn local(&self, ts: i64) -> Local {
        if self.exact {
            let i = ts.div_euclid(SLOT) - self.first_slot;
            if i >= 0 && (i as usize) < self.slots.len() {
                return self.slots[i as usize];
            }
        }
        local_of(self.tz, ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tz(name: &str) -> Tz {
        name.parse().unwrap()
    }

    #[test]
    fn quarter_hour_zones() {
        // 2025-05-19T18:15:00Z is 00:00 on the 20th in Kathmandu (+05:45).
        let ktm = local_of(tz("Asia/Kathmandu"), 1_747_678_500);
        assert_eq!((date_label(ktm.day), ktm.hour), ("2025-05-20".to_owned(), 0));
        let just_before = local_of(tz("Asia/Kathmandu"), 1_747_678_499);
        assert_eq!((date_label(just_before.day), just_before.hour), ("2025-05-19".to_owned(), 23));
    }

    #[test]
    fn dst_days_have_23_and_25_hours() {
        let ny = tz("America/New_York");
        // 2025-03-09 (spring forward): 23 local hours; 2025-11-02: 25.
        let count = |date: &str| {
            let table = SlotTable::new(ny, 1_741_000_000, 1_763_000_000);
            let want = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap().num_days_from_ce() - 719_163;
            (1_741_000_000..1_763_000_000)
                .step_by(3600)
                .filter(|t| table.local(*t).day == want)
                .count()
        };
        assert_eq!(count("2025-03-09"), 23);
        assert_eq!(count("2025-11-02"), 25);
        assert_eq!(count("2025-06-01"), 24);
    }

    #[test]
    fn weeks_start_on_monday_and_months_label_their_first_day() {
        let l = local_of(tz("UTC"), 1_747_742_400); // Tuesday 2025-05-20 12:00
        assert_eq!(
            (l.dow, date_label(l.week), month_label(l.month)),
            (2, "2025-05-19".to_owned(), "2025-05-01".to_owned())
        );
    }

    proptest! {
        /// The slot table answers what converting each instant answers.
        #[test]
        fn table_matches_direct_conversion(
            zone in proptest::sample::select(vec!["Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "Europe/London", "Australia/Lord_Howe", "America/St_Johns", "Pacific/Chatham", "UTC"]),
            ts in 1_700_000_000i64..1_800_000_000,
        ) {
            let z = tz(zone);
            let table = SlotTable::new(z, ts - 86_400 * 30, ts + 86_400 * 30);
            prop_assert_eq!(table.local(ts), local_of(z, ts));
        }
    }
}
