//! What a client sends to create a campaign, and how it is checked: the
//! schedule, call settings and contact ids, each refused by field name; and
//! the copy of the campaign's contacts (with their calling zones) into the
//! store.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::campaign::{CallSettings, MAX_ATTEMPTS, MAX_CONCURRENT, RETRYABLE, RetrySettings, Schedule, parse_hhmm};
use switchboard_domain::{CallStatus, Campaign, Contact, ContactId, Organisation, TimeZone};
use switchboard_store::{StagedContact, StoreError};
use utoipa::ToSchema;

use crate::api::fields;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Most contact ids (and list ids) named in one request.
const MAX_IDS: usize = 10_000;
/// Contacts read and staged per batch while a campaign is created.
const STAGE_BATCH: u32 = 5_000;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallHoursIn {
    /// `HH:MM`, callee local time.
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleIn {
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    /// Zone for callees whose own zone is unknown [default: the organisation's].
    pub time_zone: Option<String>,
    /// [default: 09:00–17:00]
    pub call_hours: Option<CallHoursIn>,
    /// 1 = Monday ... 7 = Sunday (0 also means Sunday) [default: 1–5].
    pub days_of_week: Option<Vec<u8>>,
    /// Allows call hours outside 08:00–21:00 callee local time.
    pub override_quiet_hours: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryIn {
    /// Attempts per contact, the first included (1 to 10) [default: 1].
    pub max_attempts: Option<u32>,
    /// Minutes from an attempt's end to the next attempt (1 to 10080) [default: 60].
    pub retry_interval: Option<u32>,
    /// Final statuses to retry: `busy`, `no-answer`, `failed`, `voicemail` [default: busy, no-answer, failed].
    pub retry_on: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallSettingsIn {
    /// Lines the campaign may hold at once (1 to 10000) [default: 10].
    pub max_concurrent_calls: Option<u32>,
    pub caller_id: Option<String>,
    /// A dial-rate cap below the organisation's.
    pub calls_per_second: Option<u32>,
    pub retry_settings: Option<RetryIn>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignIn {
    pub name: Option<String>,
    pub description: Option<String>,
    pub template_id: Option<String>,
    /// Contact ids.
    pub contacts: Option<Vec<String>>,
    pub contact_list_ids: Option<Vec<String>>,
    /// Values for the template's variables shared by every call (contact
    /// fields such as contactName, firstName, company come from each contact).
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Value>,
    pub schedule: Option<ScheduleIn>,
    pub call_settings: Option<CallSettingsIn>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusIn {
    /// `active` (start), `paused`, `resume` or `cancelled`.
    pub status: Option<String>,
}

pub(super) fn parse_schedule(input: Option<&ScheduleIn>, org: &Organisation) -> ApiResult<Schedule> {
    let empty = ScheduleIn::default();
    let s = input.unwrap_or(&empty);
    let hours = s.call_hours.as_ref();
    let start = match hours.and_then(|h| h.start.as_deref()) {
        Some(v) => parse_hhmm("schedule.callHours.start", v)?,
        None => 9 * 60,
    };
    let end = match hours.and_then(|h| h.end.as_deref()) {
        Some(v) => parse_hhmm("schedule.callHours.end", v)?,
        None => 17 * 60,
    };
    let mut days: Vec<u8> = s
        .days_of_week
        .clone()
        .unwrap_or_else(|| vec![1, 2, 3, 4, 5])
        .into_iter()
        .map(|d| if d == 0 { 7 } else { d })
        .collect();
    days.sort_unstable();
    days.dedup();
    let schedule = Schedule {
        start_date: fields::planned("schedule.startDate", s.start_date.as_deref())?,
        end_date: fields::planned("schedule.endDate", s.end_date.as_deref())?,
        time_zone: fields::time_zone("schedule.timeZone", s.time_zone.as_deref())?.unwrap_or(org.time_zone),
        call_start: start,
        call_end: end,
        days_of_week: days,
        override_quiet_hours: s.override_quiet_hours.unwrap_or(false),
    };
    schedule.check()?;
    Ok(schedule)
}

pub(super) fn parse_settings(input: Option<&CallSettingsIn>, org: &Organisation) -> ApiResult<CallSettings> {
    let empty = CallSettingsIn::default();
    let s = input.unwrap_or(&empty);
    let max = s.max_concurrent_calls.unwrap_or(10);
    if !(1..=MAX_CONCURRENT).contains(&max) {
        return Err(ApiError::field(
            "callSettings.maxConcurrentCalls",
            format!("must be from 1 to {MAX_CONCURRENT}"),
        ));
    }
    if s.calls_per_second.is_some_and(|c| !(1..=10_000).contains(&c)) {
        return Err(ApiError::field("callSettings.callsPerSecond", "must be from 1 to 10000"));
    }
    let r = s.retry_settings.as_ref();
    let d = RetrySettings::default();
    let max_attempts = r.and_then(|r| r.max_attempts).unwrap_or(d.max_attempts);
    if !(1..=MAX_ATTEMPTS).contains(&max_attempts) {
        return Err(ApiError::field(
            "callSettings.retrySettings.maxAttempts",
            format!("must be from 1 to {MAX_ATTEMPTS}"),
        ));
    }
    let interval = r.and_then(|r| r.retry_interval).unwrap_or(d.retry_interval_mins);
    if !(1..=10_080).contains(&interval) {
        return Err(ApiError::field(
            "callSettings.retrySettings.retryInterval",
            "must be from 1 to 10080 minutes",
        ));
    }
    let retry_on = match r.and_then(|r| r.retry_on.as_ref()) {
        None => d.retry_on,
        Some(list) => {
            let mut out = Vec::new();
            for (i, v) in list.iter().enumerate() {
                let s = CallStatus::parse(v).filter(|s| RETRYABLE.contains(s)).ok_or_else(|| {
                    ApiError::field(
                        format!("callSettings.retrySettings.retryOn[{i}]"),
                        "must be busy, no-answer, failed or voicemail (answered calls are never retried)",
                    )
                })?;
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            out
        }
    };
    Ok(CallSettings {
        max_concurrent_calls: max,
        caller_id: fields::opt_phone("callSettings.callerId", s.caller_id.as_deref(), org)?,
        retry: RetrySettings {
            max_attempts,
            retry_interval_mins: interval,
            retry_on,
        },
        calls_per_second: s.calls_per_second,
    })
}

pub(super) fn parse_ids<T: std::str::FromStr>(field: &str, ids: Option<&Vec<String>>) -> ApiResult<Vec<T>> {
    let ids = ids.map(Vec::as_slice).unwrap_or_default();
    if ids.len() > MAX_IDS {
        return Err(ApiError::field(field, format!("must list at most {MAX_IDS} ids")));
    }
    ids.iter()
        .enumerate()
        .map(|(i, s)| {
            s.trim()
                .parse()
                .map_err(|_| ApiError::field(format!("{field}[{i}]"), "is not a valid id"))
        })
        .collect()
}

/// Picks each contact's calling zone, remembering regions by number prefix
/// (parsing a number's region is the slow part).
struct Zones {
    fallback: TimeZone,
    by_prefix: HashMap<String, String>,
}

impl Zones {
    fn zone(&mut self, c: &Contact) -> String {
        if let Some(tz) = c.time_zone {
            return tz.name().to_owned();
        }
        let key: String = c.phone.as_str().chars().take(7).collect();
        if let Some(z) = self.by_prefix.get(&key) {
            return z.clone();
        }
        let z = switchboard_domain::zones::callee_zone(None, &c.phone, self.fallback)
            .name()
            .to_owned();
        self.by_prefix.insert(key, z.clone());
        z
    }
}

/// Copies the campaign's contacts, with their zones, into the store.
pub(super) async fn stage(state: &AppState, org: &Organisation, c: &Campaign, explicit: Vec<Contact>) -> Result<(), StoreError> {
    let mut zones = Zones {
        fallback: c.schedule.time_zone,
        by_prefix: HashMap::new(),
    };
    let rows = |zones: &mut Zones, contacts: &[Contact]| -> Vec<StagedContact> {
        contacts
            .iter()
            .map(|ct| StagedContact {
                contact_id: ct.id.clone(),
                phone: ct.phone.to_string(),
                zone: zones.zone(ct),
            })
            .collect()
    };
    for chunk in explicit.chunks(STAGE_BATCH as usize) {
        state.store.stage_campaign_contacts(&org.id, &c.id, rows(&mut zones, chunk)).await?;
    }
    if c.contact_list_ids.is_empty() {
        return Ok(());
    }
    let mut after: Option<ContactId> = None;
    loop {
        let page = state
            .store
            .contacts_of_lists(&org.id, &c.contact_list_ids, after.clone(), STAGE_BATCH)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        state.store.stage_campaign_contacts(&org.id, &c.id, rows(&mut zones, &page)).await?;
    }
    Ok(())
}
