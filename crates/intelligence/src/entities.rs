//! Entities: e-mails, phone numbers (E.164), money with its currency,
//! dates and times resolved against the call's instant and time zone
//! ("next Tuesday at 3", "tomorrow morning", "the 15th"), order, account
//! and ticket numbers, and a name given after "my name is".
//!
//! Dates resolve forward: a weekday or a day of the month means the next
//! one to come ("Tuesday" and "next Tuesday" on a Sunday are both two days
//! on; on a Tuesday, a week on); a bare hour between 1 and 7 is in the
//! afternoon, 8 to 11 in the morning, unless "am"/"pm" or "in the
//! morning" says otherwise; a time alone is today if still to come, else
//! tomorrow. Times are local wall-clock times in the zone, so "tomorrow
//! at 3pm" across a DST change keeps 15:00 with the new offset; a time
//! that a spring-forward gap skips moves an hour on.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Days, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _, Utc, Weekday};
use chrono_tz::Tz;
use regex::Regex;
use serde::{Deserialize, Serialize};
use switchboard_domain::phone::Region;

use crate::redaction::{PiiHit, PiiKind};
use crate::text::{Evidence, Token, spoken_number};

/// What kind of thing an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Email,
    Phone,
    Money,
    DateTime,
    OrderNumber,
    AccountNumber,
    TicketNumber,
    PersonName,
}

/// Whether a date-time entity names a day or a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    Day,
    Time,
}

/// One entity: its kind, its normalised value (`+14155552671`,
/// `a@b.com`, `50.00 USD`, `2026-12-08T15:00:00-05:00`, `2026-12-08`),
/// and where it was said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    pub kind: EntityKind,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grain: Option<Grain>,
    pub evidence: Evidence,
}

/// What entity extraction resolves against.
#[derive(Debug, Clone)]
pub struct EntityOptions {
    /// The instant relative dates count from (the call's start).
    pub reference: DateTime<Utc>,
    /// The zone the speakers live in.
    pub zone: Tz,
    /// Region for national-format phone numbers and for reading 12/05 as
    /// December 5th (`US`, `CA`, `PH`) or 12 May (elsewhere).
    pub region: Option<Region>,
    /// Currency of a bare "$" (ISO 4217).
    pub dollar: String,
}

impl Default for EntityOptions {
    fn default() -> Self {
        Self {
            reference: Utc::now(),
            zone: chrono_tz::UTC,
            region: None,
            dollar: "USD".into(),
        }
    }
}

/// Extracts the entities of one segment. `pii` are the PII hits found in
/// it (e-mails and phones come from there).
pub fn extract(text: &str, toks: &[Token], pii: &[PiiHit], segment: usize, opts: &EntityOptions) -> Vec<Entity> {
    let mut out = Vec::new();
    for h in pii {
        let kind = match h.kind {
            PiiKind::Email => EntityKind::Email,
            PiiKind::Phone => EntityKind::Phone,
            _ => continue,
        };
        if let Some(v) = &h.value {
            out.push(entity(kind, v.clone(), Evidence::from_bytes(segment, text, h.start, h.end)));
        }
    }
    money(text, toks, segment, opts, &mut out);
    dates(text, toks, segment, opts, &mut out);
    identifiers(text, segment, &mut out);
    person_name(text, toks, segment, &mut out);
    out.sort_by_key(|e| e.evidence.start);
    out
}

fn entity(kind: EntityKind, value: String, evidence: Evidence) -> Entity {
    Entity {
        kind,
        value,
        amount: None,
        currency: None,
        grain: None,
        evidence,
    }
}

// ---------------------------------------------------------------- money

fn currency_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "dollar" | "dollars" | "bucks" | "usd" => "USD",
        "euro" | "euros" | "eur" => "EUR",
        "pound" | "pounds" | "quid" | "gbp" => "GBP",
        "rupee" | "rupees" | "rs" | "inr" => "INR",
        "yen" | "jpy" => "JPY",
        "cad" => "CAD",
        "aud" => "AUD",
        _ => return None,
    })
}

/// A written amount starting at token `i` ("1,250.50", "40"): value and tokens used.
fn written_amount(text: &str, toks: &[Token], i: usize) -> Option<(f64, usize)> {
    if !toks[i].numeric {
        return None;
    }
    let mut s = toks[i].lower.clone();
    let mut used = 1;
    // Thousands groups: ",ddd".
    while let Some(n) = toks.get(i + used) {
        if &text[toks[i + used - 1].end..n.start] == "," && n.numeric && n.lower.len() == 3 {
            s.push_str(&n.lower);
            used += 1;
        } else {
            break;
        }
    }
    if let Some(n) = toks.get(i + used)
        && &text[toks[i + used - 1].end..n.start] == "."
        && n.numeric
        && n.lower.len() <= 2
    {
        s.push('.');
        s.push_str(&n.lower);
        used += 1;
    }
    Some((s.parse().ok()?, used))
}

fn money(text: &str, toks: &[Token], segment: usize, opts: &EntityOptions, out: &mut Vec<Entity>) {
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        // A symbol or code before the number.
        let mut found: Option<(f64, &str, usize, usize)> = None; // amount, currency, first byte, tokens used from i
        if let Some((amount, used)) = written_amount(text, toks, i) {
            let sym = text[..t.start].chars().next_back();
            let cur = match sym {
                Some('$') => Some(opts.dollar.as_str()),
                Some('€') => Some("EUR"),
                Some('£') => Some("GBP"),
                Some('₹') => Some("INR"),
                Some('¥') => Some("JPY"),
                _ => None,
            };
            if let Some(c) = cur {
                found = Some((amount, c, t.start - sym.map_or(0, char::len_utf8), used));
            } else if i > 0
                && let Some(c) = currency_word(&toks[i - 1].lower)
                && text[toks[i - 1].end..t.start]
                    .trim_matches(|c: char| c == '.' || c.is_whitespace())
                    .is_empty()
            {
                found = Some((amount, c, toks[i - 1].start, used));
            } else if let Some(n) = toks.get(i + used)
                && let Some(c) = currency_word(&n.lower)
            {
                found = Some((amount, c, t.start, used + 1));
            }
        } else if starts_number(&t.lower) {
            let words: Vec<&str> = toks[i..toks.len().min(i + 8)].iter().map(|t| t.lower.as_str()).collect();
            if let Some((v, used)) = spoken_number(&words)
                && let Some(n) = toks.get(i + used)
                && let Some(c) = currency_word(&n.lower)
            {
                found = Some((v as f64, c, t.start, used + 1));
            }
        }
        let Some((mut amount, currency, start, mut used)) = found else {
            i += 1;
            continue;
        };
        // "... dollars and fifty cents"
        if toks.get(i + used).is_some_and(|t| t.lower == "and") {
            let words: Vec<&str> = toks[i + used + 1..toks.len().min(i + used + 5)]
                .iter()
                .map(|t| t.lower.as_str())
                .collect();
            let cents = spoken_number(&words).or_else(|| words.first().and_then(|w| w.parse().ok()).map(|v| (v, 1)));
            if let Some((c, n)) = cents
                && toks.get(i + used + 1 + n).is_some_and(|t| t.lower == "cents")
                && c < 100
            {
                amount += c as f64 / 100.0;
                used += n + 2;
            }
        }
        let end = toks[i + used - 1].end;
        out.push(Entity {
            kind: EntityKind::Money,
            value: format!("{amount:.2} {currency}"),
            amount: Some(amount),
            currency: Some(currency.to_owned()),
            grain: None,
            evidence: Evidence::from_bytes(segment, text, start, end),
        });
        i += used;
    }
}

/// Could a spoken number start with this word? (A cheap test before parsing.)
fn starts_number(w: &str) -> bool {
    matches!(
        w,
        "a" | "one"
            | "two"
            | "three"
            | "four"
            | "five"
            | "six"
            | "seven"
            | "eight"
            | "nine"
            | "ten"
            | "eleven"
            | "twelve"
            | "thirteen"
            | "fourteen"
            | "fifteen"
            | "sixteen"
            | "seventeen"
            | "eighteen"
            | "nineteen"
            | "twenty"
            | "thirty"
            | "forty"
            | "fifty"
            | "sixty"
            | "seventy"
            | "eighty"
            | "ninety"
            | "zero"
    )
}

// ---------------------------------------------------------------- dates

fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" => Weekday::Mon,
        "tuesday" | "tues" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" | "thurs" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn month(w: &str) -> Option<u32> {
    Some(match w {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sept" | "sep" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    })
}

/// A day of the month written as an ordinal ("15th", "fifteenth", "twenty first").
fn ordinal(toks: &[Token], i: usize) -> Option<(u32, usize)> {
    let w = toks[i].lower.as_str();
    for suf in ["st", "nd", "rd", "th"] {
        if let Some(n) = w.strip_suffix(suf)
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
        {
            return n.parse().ok().filter(|d| (1..=31).contains(d)).map(|d| (d, 1));
        }
    }
    const ORD: [&str; 20] = [
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
        "twentieth",
    ];
    if let Some(p) = ORD.iter().position(|o| *o == w) {
        return Some((p as u32 + 1, 1));
    }
    if w == "thirtieth" {
        return Some((30, 1));
    }
    let tens = match w {
        "twenty" => 20,
        "thirty" => 30,
        _ => return None,
    };
    let next = toks.get(i + 1)?;
    let p = ORD[..9].iter().position(|o| *o == next.lower)?;
    let d = tens + p as u32 + 1;
    (d <= 31).then_some((d, 2))
}

fn plain_number(toks: &[Token], i: usize) -> Option<(u32, usize)> {
    let t = toks.get(i)?;
    if t.numeric {
        return t.lower.parse().ok().map(|v| (v, 1));
    }
    if !starts_number(&t.lower) {
        return None;
    }
    let words: Vec<&str> = toks[i..toks.len().min(i + 3)].iter().map(|t| t.lower.as_str()).collect();
    spoken_number(&words).and_then(|(v, n)| u32::try_from(v).ok().map(|v| (v, n)))
}

fn add_months_clamped(d: NaiveDate, months: u32, day: u32) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1)?.checked_add_months(Months::new(months))?;
    NaiveDate::from_ymd_opt(first.year(), first.month(), day)
}

/// A day expression at token `i`: the date and the tokens it took.
fn parse_day(text: &str, toks: &[Token], i: usize, today: NaiveDate, us_order: bool) -> Option<(NaiveDate, usize)> {
    let w = toks[i].lower.as_str();
    let next = |k: usize| toks.get(i + k).map(|t| t.lower.as_str());
    match w {
        "today" | "tonight" => return Some((today, 1)),
        "tomorrow" => return Some((today + Days::new(1), 1)),
        "day" if next(1) == Some("after") && next(2) == Some("tomorrow") => return Some((today + Days::new(2), 3)),
        "next" if next(1) == Some("week") => return Some((today + Days::new(7), 2)),
        "next" if next(1) == Some("month") => return Some((today.checked_add_months(Months::new(1))?, 2)),
        "in" => {
            let (n, used) = if next(1) == Some("a") { (1, 1) } else { plain_number(toks, i + 1)? };
            let unit = next(1 + used)?;
            let days = match unit {
                "day" | "days" => n as u64,
                "week" | "weeks" => 7 * n as u64,
                _ => return None,
            };
            return (n <= 366).then(|| (today + Days::new(days), 2 + used));
        }
        "this" | "next" | "coming" | "on" => {
            if let Some(wd) = next(1).and_then(weekday) {
                let ahead = (wd.num_days_from_monday() + 7 - today.weekday().num_days_from_monday()) % 7;
                let ahead = if ahead == 0 && w != "this" { 7 } else { ahead };
                return Some((today + Days::new(ahead as u64), 2));
            }
        }
        _ => {}
    }
    if let Some(wd) = weekday(w) {
        let ahead = (wd.num_days_from_monday() + 7 - today.weekday().num_days_from_monday()) % 7;
        return Some((today + Days::new(if ahead == 0 { 7 } else { ahead } as u64), 1));
    }
    // "the 15th (of March)", "15th", "March 15(th)", "15 March"
    let the = w == "the";
    let at = if the { i + 1 } else { i };
    if at < toks.len() {
        if let Some((day, used)) = ordinal(toks, at) {
            let spoken_ordinal = !toks[at].lower.as_bytes()[0].is_ascii_digit();
            let mut n = (at - i) + used;
            let mut m = None;
            if toks.get(i + n).is_some_and(|t| t.lower == "of")
                && let Some(mm) = toks.get(i + n + 1).and_then(|t| month(&t.lower))
            {
                m = Some(mm);
                n += 2;
            } else if let Some(mm) = toks.get(i + n).and_then(|t| month(&t.lower)) {
                m = Some(mm);
                n += 1;
            }
            if spoken_ordinal && !the && m.is_none() {
                return None;
            }
            return resolve_day_month(today, day, m, year_after(toks, i + n)).map(|d| (d, n + year_used(toks, i + n)));
        }
        if let Some(mm) = month(w)
            && let Some(next_tok) = toks.get(i + 1)
        {
            let j = if next_tok.lower == "the" { i + 2 } else { i + 1 };
            let day = toks
                .get(j)
                .and_then(|t| {
                    if t.numeric {
                        t.lower.parse().ok().map(|d: u32| (d, 1))
                    } else {
                        None
                    }
                })
                .or_else(|| ordinal(toks, j).filter(|_| j < toks.len()));
            if let Some((day, used)) = day.filter(|(d, _)| (1..=31).contains(d)) {
                let n = j - i + used;
                return resolve_day_month(today, day, Some(mm), year_after(toks, i + n)).map(|d| (d, n + year_used(toks, i + n)));
            }
        }
        if toks[i].numeric
            && toks[i].lower.len() <= 2
            && let Some(mm) = toks.get(i + 1).and_then(|t| month(&t.lower))
        {
            let day: u32 = toks[i].lower.parse().ok()?;
            return resolve_day_month(today, day, Some(mm), year_after(toks, i + 2)).map(|d| (d, 2 + year_used(toks, i + 2)));
        }
    }
    // Numeric: 2026-12-15, 12/15, 15/12/2026.
    if toks[i].numeric {
        let sep = |k: usize| toks.get(i + k).map(|t| &text[toks[i + k - 1].end..t.start]);
        if toks[i].lower.len() == 4 && sep(1) == Some("-") && sep(2) == Some("-") {
            let y = toks[i].lower.parse().ok()?;
            let m = toks[i + 1].lower.parse().ok()?;
            let d = toks[i + 2].lower.parse().ok()?;
            return NaiveDate::from_ymd_opt(y, m, d).map(|x| (x, 3));
        }
        if toks[i].lower.len() <= 2 && sep(1) == Some("/") && toks[i + 1].numeric && toks[i + 1].lower.len() <= 2 {
            let a: u32 = toks[i].lower.parse().ok()?;
            let b: u32 = toks[i + 1].lower.parse().ok()?;
            let (m, d) = if us_order { (a, b) } else { (b, a) };
            if sep(2) == Some("/") && toks[i + 2].numeric {
                let mut y: i32 = toks[i + 2].lower.parse().ok()?;
                if y < 100 {
                    y += 2000;
                }
                return NaiveDate::from_ymd_opt(y, m, d).map(|x| (x, 3));
            }
            return resolve_day_month(today, d, Some(m), None).map(|x| (x, 2));
        }
    }
    None
}

fn year_after(toks: &[Token], j: usize) -> Option<i32> {
    toks.get(j)
        .filter(|t| t.numeric && t.lower.len() == 4)
        .and_then(|t| t.lower.parse().ok())
        .filter(|y| (1900..=2200).contains(y))
}

fn year_used(toks: &[Token], j: usize) -> usize {
    usize::from(year_after(toks, j).is_some())
}

fn resolve_day_month(today: NaiveDate, day: u32, month: Option<u32>, year: Option<i32>) -> Option<NaiveDate> {
    match (month, year) {
        (Some(m), Some(y)) => NaiveDate::from_ymd_opt(y, m, day),
        (Some(m), None) => {
            let this = NaiveDate::from_ymd_opt(today.year(), m, day);
            match this {
                Some(d) if d >= today => Some(d),
                _ => NaiveDate::from_ymd_opt(today.year() + 1, m, day),
            }
        }
        (None, _) => {
            if day >= today.day()
                && let Some(d) = NaiveDate::from_ymd_opt(today.year(), today.month(), day)
            {
                return Some(d);
            }
            (1..=12).find_map(|k| add_months_clamped(today, k, day))
        }
    }
}

/// A time expression at token `i`: the time and the tokens it took.
fn parse_time(text: &str, toks: &[Token], i: usize) -> Option<(NaiveTime, usize)> {
    let w = toks[i].lower.as_str();
    let next = |k: usize| toks.get(i + k).map(|t| t.lower.as_str());
    let part = |w: &str| match w {
        "morning" => Some(9),
        "afternoon" => Some(14),
        "evening" => Some(18),
        "tonight" | "night" => Some(20),
        "noon" | "midday" | "lunchtime" => Some(12),
        _ => None,
    };
    if let Some(h) = part(w) {
        return Some((NaiveTime::from_hms_opt(h, 0, 0)?, 1));
    }
    if w == "in"
        && next(1) == Some("the")
        && let Some(h) = next(2).and_then(part)
    {
        return Some((NaiveTime::from_hms_opt(h, 0, 0)?, 3));
    }
    let lead = matches!(w, "at" | "around" | "by" | "after" | "before" | "about");
    let at = if lead { i + 1 } else { i };
    let t = toks.get(at)?;
    // "3pm", "11am"
    let (hour, mut used, mut meridiem) = if let Some(h) = t
        .lower
        .strip_suffix("pm")
        .or_else(|| t.lower.strip_suffix("am"))
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()))
    {
        (h.parse::<u32>().ok()?, 1, Some(t.lower.ends_with("pm")))
    } else if t.numeric {
        (t.lower.parse::<u32>().ok()?, 1, None)
    } else {
        // A spoken hour is one word ("three"); minutes may follow ("three thirty").
        let (h, _) = spoken_number(&[t.lower.as_str()])?;
        (u32::try_from(h).ok()?, 1, None)
    };
    if let Some(n) = toks.get(at + used)
        && matches!(&text[toks[at + used - 1].end..n.start], "/" | "-" | ".")
    {
        return None; // a date (12/24) or a decimal, not a time
    }
    let mut minute = 0;
    // ":30" or "30pm"
    if let Some(m) = toks.get(at + used)
        && &text[toks[at + used - 1].end..m.start] == ":"
    {
        let digits = m.lower.trim_end_matches("pm").trim_end_matches("am");
        if digits.len() == 2 && digits.bytes().all(|b| b.is_ascii_digit()) {
            minute = digits.parse().ok()?;
            if m.lower.ends_with("pm") || m.lower.ends_with("am") {
                meridiem = Some(m.lower.ends_with("pm"));
            }
            used += 1;
        }
    } else if !t.numeric && meridiem.is_none() && used == 1 {
        // "three thirty"
        let words: Vec<&str> = toks[at + 1..toks.len().min(at + 3)].iter().map(|t| t.lower.as_str()).collect();
        if let Some((m, n)) = spoken_number(&words).filter(|(m, _)| (10..60).contains(m)) {
            minute = m as u32;
            used += n;
        }
    }
    let after = |used: usize, k: usize| toks.get(at + used + k).map(|t| t.lower.as_str());
    if meridiem.is_none() {
        match (after(used, 0), after(used, 1)) {
            (Some("pm" | "p"), _) => {
                meridiem = Some(true);
                used += if after(used, 0) == Some("p") && after(used, 1) == Some("m") {
                    2
                } else {
                    1
                };
            }
            (Some("am" | "a"), Some("m")) | (Some("am"), _) => {
                meridiem = Some(false);
                used += if after(used, 0) == Some("a") { 2 } else { 1 };
            }
            (Some("o'clock"), _) => used += 1,
            _ => {}
        }
    }
    let explicit = meridiem.is_some() || minute > 0 || lead || toks[at + used - 1].lower == "o'clock";
    if !explicit || hour > 23 || minute > 59 || (meridiem.is_some() && !(1..=12).contains(&hour)) {
        return None;
    }
    // "at 8 in the evening"
    if meridiem.is_none() && after(used, 0) == Some("in") && after(used, 1) == Some("the") {
        match after(used, 2) {
            Some("morning") => meridiem = Some(false),
            Some("afternoon" | "evening") => meridiem = Some(true),
            _ => {}
        }
        if meridiem.is_some() {
            used += 3;
        }
    }
    let h24 = match meridiem {
        Some(true) if hour < 12 => hour + 12,
        Some(false) if hour == 12 => 0,
        Some(_) => hour,
        None if (1..=7).contains(&hour) => hour + 12,
        None => hour,
    };
    Some((NaiveTime::from_hms_opt(h24, minute, 0)?, at - i + used))
}

/// Can a date or time expression start at this token? (A cheap test
/// that spares the parsers most words.)
fn could_start_date(t: &Token) -> bool {
    static TRIGGERS: LazyLock<crate::text::FxMap<&'static str, ()>> = LazyLock::new(|| {
        [
            "today",
            "tonight",
            "tomorrow",
            "day",
            "next",
            "in",
            "this",
            "coming",
            "on",
            "the",
            "at",
            "around",
            "by",
            "after",
            "before",
            "about",
            "morning",
            "afternoon",
            "evening",
            "night",
            "noon",
            "midday",
            "lunchtime",
            "monday",
            "tuesday",
            "tues",
            "wednesday",
            "thursday",
            "thurs",
            "friday",
            "saturday",
            "sunday",
            "january",
            "jan",
            "february",
            "feb",
            "march",
            "mar",
            "april",
            "apr",
            "may",
            "june",
            "jun",
            "july",
            "jul",
            "august",
            "aug",
            "september",
            "sept",
            "sep",
            "october",
            "oct",
            "november",
            "nov",
            "december",
            "dec",
            "first",
            "second",
            "third",
            "fourth",
            "fifth",
            "sixth",
            "seventh",
            "eighth",
            "ninth",
            "tenth",
            "eleventh",
            "twelfth",
            "thirteenth",
            "fourteenth",
            "fifteenth",
            "sixteenth",
            "seventeenth",
            "eighteenth",
            "nineteenth",
            "twentieth",
            "thirtieth",
            "twenty",
            "thirty",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        ]
        .into_iter()
        .map(|w| (w, ()))
        .collect()
    });
    t.lower.as_bytes().first().is_some_and(u8::is_ascii_digit) || TRIGGERS.contains_key(t.lower.as_str())
}

/// Local wall-clock time in `zone`, moved an hour on when a DST gap skips it.
pub fn localize(zone: Tz, ndt: NaiveDateTime) -> Option<DateTime<Tz>> {
    zone.from_local_datetime(&ndt)
        .earliest()
        .or_else(|| zone.from_local_datetime(&(ndt + Duration::hours(1))).earliest())
}

fn dates(text: &str, toks: &[Token], segment: usize, opts: &EntityOptions, out: &mut Vec<Entity>) {
    let local_now = opts.reference.with_timezone(&opts.zone);
    let today = local_now.date_naive();
    let us_order = opts.region.is_some_and(|r| matches!(r.code().as_str(), "US" | "CA" | "PH"));
    let mut i = 0;
    while i < toks.len() {
        if !could_start_date(&toks[i]) {
            i += 1;
            continue;
        }
        let day = parse_day(text, toks, i, today, us_order);
        let (date, time, used) = if let Some((d, n)) = day {
            // "tonight" carries its own time.
            let mut time = (toks[i].lower == "tonight").then(|| NaiveTime::from_hms_opt(20, 0, 0)).flatten();
            let mut used = n;
            for skip in 0..=1 {
                if time.is_some() || i + n + skip >= toks.len() || (skip == 1 && toks[i + n].lower != ",") {
                    break;
                }
                if let Some((t, m)) = parse_time(text, toks, i + n + skip) {
                    time = Some(t);
                    used = n + skip + m;
                }
            }
            (d, time, used)
        } else if let Some((t, n)) = parse_time(text, toks, i) {
            // A time, maybe followed by its day ("at 3 on Tuesday", "9am tomorrow").
            let j = if toks.get(i + n).is_some_and(|t| t.lower == "on") {
                i + n + 1
            } else {
                i + n
            };
            match (j < toks.len()).then(|| parse_day(text, toks, j, today, us_order)).flatten() {
                Some((d, m)) => (d, Some(t), j - i + m),
                None => {
                    let d = if t > local_now.time() { today } else { today + Days::new(1) };
                    (d, Some(t), n)
                }
            }
        } else if toks[i].lower == "in"
            && let Some((n, used)) =
                plain_number(toks, i + 1).or_else(|| (toks.get(i + 1).is_some_and(|t| t.lower == "an" || t.lower == "a")).then_some((1, 1)))
            && let Some(unit) = toks.get(i + 1 + used).map(|t| t.lower.as_str())
            && let Some(mins) = match unit {
                "minute" | "minutes" => Some(n as i64),
                "hour" | "hours" => Some(60 * n as i64),
                _ => None,
            }
        {
            let at = local_now + Duration::minutes(mins);
            let ev = Evidence::from_bytes(segment, text, toks[i].start, toks[i + 1 + used].end);
            out.push(Entity {
                kind: EntityKind::DateTime,
                value: at.with_timezone(&opts.zone).format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                amount: None,
                currency: None,
                grain: Some(Grain::Time),
                evidence: ev,
            });
            i += 2 + used;
            continue;
        } else {
            i += 1;
            continue;
        };
        let ev = Evidence::from_bytes(segment, text, toks[i].start, toks[i + used - 1].end);
        let (value, grain) = match time {
            Some(t) => match localize(opts.zone, date.and_time(t)) {
                Some(dt) => (dt.format("%Y-%m-%dT%H:%M:%S%:z").to_string(), Grain::Time),
                None => (date.to_string(), Grain::Day),
            },
            None => (date.to_string(), Grain::Day),
        };
        out.push(Entity {
            kind: EntityKind::DateTime,
            value,
            amount: None,
            currency: None,
            grain: Some(grain),
            evidence: ev,
        });
        i += used;
    }
}

// ---------------------------------------------------------------- ids, names

static ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(order|account|acct|ticket|case|reference|ref|confirmation|invoice|tracking)(?:\s+(?:number|no\.?|num|id))?(?:\s+(?:is|was))?\s*[:#]?\s*#?\s*([A-Z0-9][A-Z0-9-]{2,}[A-Z0-9])\b",
    )
    .expect("id regex")
});

fn identifiers(text: &str, segment: usize, out: &mut Vec<Entity>) {
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return;
    }
    for c in ID.captures_iter(text) {
        let id = c.get(2).expect("group");
        if !id.as_str().bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        let kind = match c[1].to_ascii_lowercase().as_str() {
            "order" | "invoice" | "tracking" => EntityKind::OrderNumber,
            "account" | "acct" => EntityKind::AccountNumber,
            _ => EntityKind::TicketNumber,
        };
        out.push(entity(
            kind,
            id.as_str().to_ascii_uppercase(),
            Evidence::from_bytes(segment, text, id.start(), id.end()),
        ));
    }
}

fn person_name(text: &str, toks: &[Token], segment: usize, out: &mut Vec<Entity>) {
    for i in 0..toks.len() {
        let after = if toks[i].lower == "name's" && i >= 1 && toks[i - 1].lower == "my" {
            i + 1
        } else if toks[i].lower == "name" && i >= 1 && toks[i - 1].lower == "my" && toks.get(i + 1).is_some_and(|t| t.lower == "is") {
            i + 2
        } else {
            continue;
        };
        let mut end = after;
        while end < toks.len()
            && end < after + 3
            && !toks[end].break_before
            && !toks[end].numeric
            && !crate::text::is_stop_word(&toks[end].lower)
            && !matches!(toks[end].lower.as_str(), "calling" | "from" | "speaking" | "here")
        {
            end += 1;
        }
        if end > after {
            let value: Vec<String> = toks[after..end]
                .iter()
                .map(|t| {
                    let w = &text[t.start..t.end];
                    let mut c = w.chars();
                    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
                })
                .collect();
            out.push(entity(
                EntityKind::PersonName,
                value.join(" "),
                Evidence::from_bytes(segment, text, toks[after].start, toks[end - 1].end),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokens;

    fn opts(reference: &str, zone: &str) -> EntityOptions {
        EntityOptions {
            reference: DateTime::parse_from_rfc3339(reference).expect("rfc3339").with_timezone(&Utc),
            zone: zone.parse().expect("zone"),
            region: Region::parse("US").ok(),
            dollar: "USD".into(),
        }
    }

    fn ents(text: &str, o: &EntityOptions) -> Vec<Entity> {
        let toks = tokens(text);
        let pii = crate::redaction::find_pii(text, &toks, o.region);
        extract(text, &toks, &pii, 0, o)
    }

    fn values(text: &str, o: &EntityOptions, kind: EntityKind) -> Vec<String> {
        ents(text, o).into_iter().filter(|e| e.kind == kind).map(|e| e.value).collect()
    }

    // 2026-12-06 is a Sunday.
    const SUNDAY_NOON_NY: &str = "2026-12-06T17:00:00Z";

    #[test]
    fn relative_days_and_times() {
        let o = opts(SUNDAY_NOON_NY, "America/New_York");
        let d = |t: &str| values(t, &o, EntityKind::DateTime);
        assert_eq!(d("call me next Tuesday at 3"), ["2026-12-08T15:00:00-05:00"]);
        assert_eq!(d("tomorrow morning works"), ["2026-12-07T09:00:00-05:00"]);
        assert_eq!(d("I'll pay on the 15th"), ["2026-12-15"]);
        assert_eq!(d("I'll pay on the 3rd"), ["2027-01-03"]);
        assert_eq!(d("at 10:30am on Friday"), ["2026-12-11T10:30:00-05:00"]);
        assert_eq!(d("March 3rd 2027"), ["2027-03-03"]);
        assert_eq!(d("by 12/24"), ["2026-12-24"]);
        assert_eq!(d("call me at 9"), ["2026-12-07T09:00:00-05:00"]);
        assert_eq!(d("in 2 hours"), ["2026-12-06T14:00:00-05:00"]);
        assert_eq!(d("at three thirty tomorrow"), ["2026-12-07T15:30:00-05:00"]);
        assert!(d("I have 3 kids").is_empty());
    }

    #[test]
    fn dates_across_dst_keep_wall_clock_time() {
        // 2026-11-01: New York falls back from -04:00 to -05:00 at 02:00.
        let o = opts("2026-10-31T16:00:00Z", "America/New_York");
        assert_eq!(values("tomorrow at 3pm", &o, EntityKind::DateTime), ["2026-11-01T15:00:00-05:00"]);
        assert_eq!(values("today at 5pm", &o, EntityKind::DateTime), ["2026-10-31T17:00:00-04:00"]);
        // 2027-03-14: spring forward; 02:30 does not exist and moves to 03:30.
        let o = opts("2027-03-13T16:00:00Z", "America/New_York");
        assert_eq!(
            values("tomorrow at 2:30am", &o, EntityKind::DateTime),
            ["2027-03-14T03:30:00-04:00"]
        );
        // Kolkata has no DST and a half-hour offset.
        let o = opts("2026-10-31T16:00:00Z", "Asia/Kolkata");
        assert_eq!(values("tomorrow at 3pm", &o, EntityKind::DateTime), ["2026-11-01T15:00:00+05:30"]);
    }

    #[test]
    fn money_and_ids_and_names() {
        let o = opts(SUNDAY_NOON_NY, "America/New_York");
        assert_eq!(values("I can pay $1,250.50 now", &o, EntityKind::Money), ["1250.50 USD"]);
        assert_eq!(values("fifty dollars and twenty five cents", &o, EntityKind::Money), ["50.25 USD"]);
        assert_eq!(
            values("Rs. 500 or 20 euros or £7", &o, EntityKind::Money),
            ["500.00 INR", "20.00 EUR", "7.00 GBP"]
        );
        assert_eq!(values("my order number is AB-12345", &o, EntityKind::OrderNumber), ["AB-12345"]);
        assert_eq!(values("ticket #98765", &o, EntityKind::TicketNumber), ["98765"]);
        assert_eq!(
            values("Hi, my name is maria lopez, calling about", &o, EntityKind::PersonName),
            ["Maria Lopez"]
        );
        assert_eq!(values("reach me at 415 555 2671", &o, EntityKind::Phone), ["+14155552671"]);
        assert_eq!(values("it's j.doe@example.org", &o, EntityKind::Email), ["j.doe@example.org"]);
    }

    #[test]
    fn evidence_slices_the_text() {
        let o = opts(SUNDAY_NOON_NY, "America/New_York");
        let t = "Ça va — I’ll pay €40 next Friday at 4pm, my name is José";
        let es = ents(t, &o);
        assert_eq!(es.len(), 3, "{es:?}");
        for e in &es {
            assert_eq!(e.evidence.slice(t), Some(e.evidence.text.as_str()));
        }
    }
}
