//! A representative time zone per phone-number region, for callees whose
//! own zone is unknown. Countries that span several zones get the zone of
//! their most populous area (the US gets America/New_York, India
//! Asia/Kolkata, Russia Europe/Moscow, Australia Australia/Sydney, Brazil
//! America/Sao_Paulo, Canada America/Toronto, Mexico America/Mexico_City,
//! Indonesia Asia/Jakarta). Regions not listed fall back to the campaign's
//! time zone. docs/campaigns.md carries this table.

use crate::phone::Region;
use crate::{PhoneNumber, TimeZone};

/// (ISO 3166-1 region, IANA zone).
pub const REPRESENTATIVE_ZONES: &[(&str, &str)] = &[
    ("AE", "Asia/Dubai"),
    ("AR", "America/Argentina/Buenos_Aires"),
    ("AT", "Europe/Vienna"),
    ("AU", "Australia/Sydney"),
    ("BD", "Asia/Dhaka"),
    ("BE", "Europe/Brussels"),
    ("BR", "America/Sao_Paulo"),
    ("CA", "America/Toronto"),
    ("CH", "Europe/Zurich"),
    ("CL", "America/Santiago"),
    ("CN", "Asia/Shanghai"),
    ("CO", "America/Bogota"),
    ("CZ", "Europe/Prague"),
    ("DE", "Europe/Berlin"),
    ("DK", "Europe/Copenhagen"),
    ("EG", "Africa/Cairo"),
    ("ES", "Europe/Madrid"),
    ("FI", "Europe/Helsinki"),
    ("FR", "Europe/Paris"),
    ("GB", "Europe/London"),
    ("GR", "Europe/Athens"),
    ("HK", "Asia/Hong_Kong"),
    ("ID", "Asia/Jakarta"),
    ("IE", "Europe/Dublin"),
    ("IL", "Asia/Jerusalem"),
    ("IN", "Asia/Kolkata"),
    ("IT", "Europe/Rome"),
    ("JP", "Asia/Tokyo"),
    ("KE", "Africa/Nairobi"),
    ("KR", "Asia/Seoul"),
    ("MX", "America/Mexico_City"),
    ("MY", "Asia/Kuala_Lumpur"),
    ("NG", "Africa/Lagos"),
    ("NL", "Europe/Amsterdam"),
    ("NO", "Europe/Oslo"),
    ("NP", "Asia/Kathmandu"),
    ("NZ", "Pacific/Auckland"),
    ("PE", "America/Lima"),
    ("PH", "Asia/Manila"),
    ("PK", "Asia/Karachi"),
    ("PL", "Europe/Warsaw"),
    ("PT", "Europe/Lisbon"),
    ("RU", "Europe/Moscow"),
    ("SA", "Asia/Riyadh"),
    ("SE", "Europe/Stockholm"),
    ("SG", "Asia/Singapore"),
    ("TH", "Asia/Bangkok"),
    ("TR", "Europe/Istanbul"),
    ("TW", "Asia/Taipei"),
    ("UA", "Europe/Kyiv"),
    ("US", "America/New_York"),
    ("VN", "Asia/Ho_Chi_Minh"),
    ("ZA", "Africa/Johannesburg"),
];

/// The representative zone of a region, when the table has one.
pub fn representative_zone(region: &Region) -> Option<TimeZone> {
    let code = region.code();
    REPRESENTATIVE_ZONES
        .binary_search_by(|(r, _)| (*r).cmp(code.as_str()))
        .ok()
        .and_then(|i| TimeZone::parse("timeZone", REPRESENTATIVE_ZONES[i].1).ok())
}

/// The zone a callee is dialled in: their own, else their number's
/// region's representative zone, else `fallback`.
pub fn callee_zone(own: Option<TimeZone>, phone: &PhoneNumber, fallback: TimeZone) -> TimeZone {
    own.or_else(|| phone.region().or_else(|| main_region(phone)).and_then(|r| representative_zone(&r)))
        .unwrap_or(fallback)
}

/// The main region of the number's country code (`GB` for any +44 number),
/// for numbers whose exact region the metadata cannot tell.
fn main_region(phone: &PhoneNumber) -> Option<Region> {
    let digits = phone.as_str().strip_prefix('+')?;
    (1..=3.min(digits.len())).find_map(|n| {
        let code: u16 = digits[..n].parse().ok()?;
        let metas = phonenumber::metadata::DATABASE.by_code(&code)?;
        let main = metas.iter().find(|m| m.is_main_country_for_code()).or_else(|| metas.first())?;
        Region::parse(main.id()).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_every_zone_parses() {
        assert!(REPRESENTATIVE_ZONES.windows(2).all(|w| w[0].0 < w[1].0));
        for (r, z) in REPRESENTATIVE_ZONES {
            assert!(TimeZone::parse("tz", z).is_ok(), "{z}");
            assert!(Region::parse(r).is_ok(), "{r}");
        }
    }

    #[test]
    fn zones_come_from_the_contact_then_the_number() {
        let ny = TimeZone::parse("tz", "America/New_York").unwrap();
        let utc = TimeZone::UTC;
        let india = PhoneNumber::from_trusted("+919876543210".into());
        assert_eq!(callee_zone(None, &india, utc).name(), "Asia/Kolkata");
        assert_eq!(callee_zone(Some(ny), &india, utc).name(), "America/New_York");
        let uk = PhoneNumber::from_trusted("+442079460123".into());
        assert_eq!(callee_zone(None, &uk, utc).name(), "Europe/London");
        let unknown = PhoneNumber::from_trusted("+8821234567".into());
        assert_eq!(callee_zone(None, &unknown, ny).name(), "America/New_York");
    }
}

/// Is `now` inside the legal calling window (08:00–21:00 local) in `zone`?
pub fn window_open(zone: TimeZone, now: crate::Timestamp) -> bool {
    use chrono::Timelike;
    let local = now.with_timezone(&zone.0);
    let minute = (local.hour() * 60 + local.minute()) as u16;
    (crate::campaign::LEGAL_START..crate::campaign::LEGAL_END).contains(&minute)
}

/// The first instant at or after `now` inside the legal calling window in
/// `zone` (`now` itself when open). DST-safe: a local 08:00 that does not
/// exist that day becomes the first minute after it that does.
pub fn next_window_open(zone: TimeZone, now: crate::Timestamp) -> crate::Timestamp {
    use chrono::{Duration, TimeZone as _, Timelike};
    if window_open(zone, now) {
        return now;
    }
    let local = now.with_timezone(&zone.0);
    let day = if (local.hour() * 60 + local.minute()) as u16 >= crate::campaign::LEGAL_END {
        local.date_naive() + Duration::days(1)
    } else {
        local.date_naive()
    };
    let start = u32::from(crate::campaign::LEGAL_START);
    for extra in 0..180 {
        let naive = day.and_hms_opt(start / 60, start % 60, 0).expect("valid time") + Duration::minutes(extra);
        if let Some(t) = zone.0.from_local_datetime(&naive).earliest() {
            return t.with_timezone(&chrono::Utc);
        }
    }
    now + Duration::hours(12)
}

#[cfg(test)]
mod window_tests {
    use super::*;

    fn at(s: &str) -> crate::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_window_is_local_eight_to_nine() {
        let ny = TimeZone::parse("z", "America/New_York").unwrap();
        assert!(!window_open(ny, at("2025-05-21T11:59:00Z"))); // 07:59 EDT
        assert!(window_open(ny, at("2025-05-21T12:00:00Z"))); // 08:00
        assert!(window_open(ny, at("2025-05-22T00:59:00Z"))); // 20:59
        assert!(!window_open(ny, at("2025-05-22T01:00:00Z"))); // 21:00
        assert_eq!(next_window_open(ny, at("2025-05-21T03:00:00Z")), at("2025-05-21T12:00:00Z"));
        assert_eq!(next_window_open(ny, at("2025-05-22T02:00:00Z")), at("2025-05-22T12:00:00Z"));
        let now = at("2025-05-21T15:00:00Z");
        assert_eq!(next_window_open(ny, now), now);
    }

    #[test]
    fn next_open_crosses_dst_and_half_hour_zones() {
        // The night before the US spring-forward (2025-03-09): 08:00 EDT = 12:00 UTC.
        let ny = TimeZone::parse("z", "America/New_York").unwrap();
        assert_eq!(next_window_open(ny, at("2025-03-09T03:00:00Z")), at("2025-03-09T12:00:00Z"));
        let kolkata = TimeZone::parse("z", "Asia/Kolkata").unwrap();
        assert_eq!(next_window_open(kolkata, at("2025-05-21T16:00:00Z")), at("2025-05-22T02:30:00Z"));
    }
}
