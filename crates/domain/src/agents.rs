//! Agents: the people who take calls. A user with the `agent` role has an
//! agent profile (skills with a proficiency, languages, department, how many
//! calls at once) and a status that moves through a checked state machine:
//!
//! ```text
//! offline → available ⇄ on_call → after_call_work → available
//!           available / after_call_work / missed → break {reason} → available
//!           available → missed (an offer not taken) → available
//! ```
//!
//! The time spent in each status is kept (occupancy, the wallboard). No I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{DomainError, FieldError};
use crate::id::{OrgId, UserId};
use crate::{Timestamp, User};

/// Lowest and highest proficiency of a skill.
pub const MIN_PROFICIENCY: u8 = 1;
pub const MAX_PROFICIENCY: u8 = 5;
/// Most skills on one agent (or required by one queue).
pub const MAX_SKILLS: usize = 50;
/// Most languages on one agent.
pub const MAX_LANGUAGES: usize = 20;
/// Most calls one agent can hold at once.
pub const MAX_CONCURRENT_CALLS: u32 = 10;
/// Longest break reason.
pub const MAX_REASON_CHARS: usize = 200;

/// Skill name → proficiency (1–5).
pub type Skills = BTreeMap<String, u8>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Offline,
    Available,
    OnCall,
    AfterCallWork,
    Break,
    /// Did not take an offered call in time; out of routing until back.
    Missed,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 6] = [
        AgentStatus::Offline,
        AgentStatus::Available,
        AgentStatus::OnCall,
        AgentStatus::AfterCallWork,
        AgentStatus::Break,
        AgentStatus::Missed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Offline => "offline",
            AgentStatus::Available => "available",
            AgentStatus::OnCall => "on_call",
            AgentStatus::AfterCallWork => "after_call_work",
            AgentStatus::Break => "break",
            AgentStatus::Missed => "missed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The comma-separated list of every status, for error messages.
    pub fn names() -> String {
        Self::ALL.map(|s| s.as_str()).join(", ")
    }

    /// Whether an agent may move from `self` to `to` (a different status).
    pub fn can_move_to(self, to: AgentStatus) -> bool {
        use AgentStatus::*;
        matches!(
            (self, to),
            (Offline, Available)
                | (Available, OnCall | Break | Offline | Missed)
                | (OnCall, AfterCallWork | Available)
                | (AfterCallWork, Available | Break | Offline)
                | (Break, Available | Offline)
                | (Missed, Available | Break | Offline)
        )
    }

    /// Counted as logged in (every status but offline).
    pub fn is_online(self) -> bool {
        self != AgentStatus::Offline
    }
}

/// Checks a skill name: 1–40 characters of lower-case letters, digits, `_` and `-`.
pub fn skill_name(field: &str, name: &str) -> Result<String, FieldError> {
    let n = name.trim().to_lowercase();
    if n.is_empty() || n.chars().count() > 40 {
        return Err(FieldError::new(field, "a skill name must have 1 to 40 characters"));
    }
    if !n
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(FieldError::new(field, "a skill name may hold only letters, digits, '_' and '-'"));
    }
    Ok(n)
}

/// Checks a map of skills (`{"billing": 5}`) from JSON: names as in
/// [`skill_name`], proficiencies whole numbers 1–5. `field` is the map's name.
pub fn parse_skills(field: &str, v: &serde_json::Map<String, Value>) -> Result<Skills, FieldError> {
    if v.len() > MAX_SKILLS {
        return Err(FieldError::new(field, format!("at most {MAX_SKILLS} skills")));
    }
    let mut out = Skills::new();
    for (k, p) in v {
        let f = format!("{field}.{k}");
        let name = skill_name(&f, k)?;
        let level = p
            .as_u64()
            .filter(|l| (u64::from(MIN_PROFICIENCY)..=u64::from(MAX_PROFICIENCY)).contains(l))
            .ok_or_else(|| {
                FieldError::new(
                    &f,
                    format!("proficiency must be a whole number from {MIN_PROFICIENCY} to {MAX_PROFICIENCY}"),
                )
            })?;
        out.insert(name, level as u8);
    }
    Ok(out)
}

/// Checks a list of language tags (`en`, `es-MX`): 2–35 characters of
/// letters, digits and `-`; duplicates dropped.
pub fn parse_languages(field: &str, v: &[String]) -> Result<Vec<String>, FieldError> {
    if v.len() > MAX_LANGUAGES {
        return Err(FieldError::new(field, format!("at most {MAX_LANGUAGES} languages")));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, l) in v.iter().enumerate() {
        let l = l.trim();
        if !(2..=35).contains(&l.len()) || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                "must be a language tag such as 'en' or 'es-MX'",
            ));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(l)) {
            out.push(l.to_owned());
        }
    }
    Ok(out)
}

/// What a patch of an agent's profile changes; absent fields stay.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentPatch {
    pub skills: Option<Skills>,
    pub languages: Option<Vec<String>>,
    /// `Some(None)` clears the department.
    pub department: Option<Option<String>>,
    pub max_concurrent_calls: Option<u32>,
}

/// An agent: a user with the `agent` role and their profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// The user's id.
    pub id: UserId,
    pub org_id: OrgId,
    pub email: String,
    pub name: Option<String>,
    pub skills: Skills,
    pub languages: Vec<String>,
    pub department: Option<String>,
    pub max_concurrent_calls: u32,
    /// Calls the agent holds or has been offered now (kept by the router).
    pub active_calls: u32,
    pub status: AgentStatus,
    /// Why the agent is on a break (only while on one).
    pub break_reason: Option<String>,
    /// When the current status began.
    pub status_since: Timestamp,
    /// Milliseconds spent in each earlier status (the current one not included).
    pub status_ms: BTreeMap<AgentStatus, i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A status change that happened: what the outbox announces.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub from: AgentStatus,
    pub to: AgentStatus,
    /// How long the agent was in `from`.
    pub ms_in_previous: i64,
    pub at: Timestamp,
}

impl Agent {
    /// The profile of an agent who never set one: offline since the user was created.
    pub fn new(user: &User) -> Self {
        Agent {
            id: user.id.clone(),
            org_id: user.org_id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            skills: Skills::new(),
            languages: Vec::new(),
            department: None,
            max_concurrent_calls: 1,
            active_calls: 0,
            status: AgentStatus::Offline,
            break_reason: None,
            status_since: user.created_at,
            status_ms: BTreeMap::new(),
            created_at: user.created_at,
            updated_at: user.created_at,
        }
    }

    pub fn apply(&mut self, patch: AgentPatch, at: Timestamp) {
        if let Some(s) = patch.skills {
            self.skills = s;
        }
        if let Some(l) = patch.languages {
            self.languages = l;
        }
        if let Some(d) = patch.department {
            self.department = d;
        }
        if let Some(m) = patch.max_concurrent_calls {
            self.max_concurrent_calls = m;
        }
        self.updated_at = at;
    }

    /// Moves the agent to `to` at `at`. A break needs a reason and only a
    /// break takes one. Staying in the same status changes nothing (a new
    /// break reason replaces the old one) and answers `None`; a move the
    /// state machine does not allow is an error naming both statuses.
    pub fn change_status(&mut self, to: AgentStatus, reason: Option<String>, at: Timestamp) -> Result<Option<StatusChange>, DomainError> {
        let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        match (&reason, to) {
            (None, AgentStatus::Break) => return Err(FieldError::new("reason", "is required for a break").into()),
            (Some(_), t) if t != AgentStatus::Break => {
                return Err(FieldError::new("reason", "is only taken with the status 'break'").into());
            }
            (Some(r), _) if r.chars().count() > MAX_REASON_CHARS => {
                return Err(FieldError::new("reason", format!("must have at most {MAX_REASON_CHARS} characters")).into());
            }
            _ => {}
        }
        if to == self.status {
            if to == AgentStatus::Break && reason != self.break_reason {
                self.break_reason = reason;
                self.updated_at = at;
            }
            return Ok(None);
        }
        if !self.status.can_move_to(to) {
            return Err(DomainError::IllegalAgentTransition {
                from: self.status.as_str(),
                to: to.as_str(),
            });
        }
        let spent = (at - self.status_since).num_milliseconds().max(0);
        *self.status_ms.entry(self.status).or_insert(0) += spent;
        let change = StatusChange {
            from: self.status,
            to,
            ms_in_previous: spent,
            at,
        };
        self.status = to;
        self.break_reason = reason;
        self.status_since = at;
        self.updated_at = at;
        Ok(Some(change))
    }

    /// Seconds spent in each status up to `now`, the current one included;
    /// every status is listed.
    pub fn seconds_in_status(&self, now: Timestamp) -> BTreeMap<&'static str, i64> {
        AgentStatus::ALL
            .into_iter()
            .map(|s| {
                let mut ms = self.status_ms.get(&s).copied().unwrap_or(0);
                if s == self.status {
                    ms += (now - self.status_since).num_milliseconds().max(0);
                }
                (s.as_str(), ms / 1000)
            })
            .collect()
    }

    /// The outbox event announcing `change`.
    pub fn status_event(&self, change: &StatusChange) -> crate::DomainEvent {
        crate::DomainEvent::new(
            &self.org_id,
            "agent.status_changed",
            json!({
                "agentId": self.id,
                "status": change.to.as_str(),
                "previousStatus": change.from.as_str(),
                "reason": self.break_reason,
                "secondsInPrevious": change.ms_in_previous / 1000,
                "department": self.department,
                "at": change.at,
            }),
            change.at,
        )
    }

    /// `status_ms` as stored: status name → milliseconds.
    pub fn status_ms_json(&self) -> Value {
        Value::Object(self.status_ms.iter().map(|(k, v)| (k.as_str().to_owned(), json!(v))).collect())
    }

    /// Reads `status_ms` as stored (unknown names are dropped).
    pub fn status_ms_from_json(v: &Value) -> BTreeMap<AgentStatus, i64> {
        v.as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((AgentStatus::parse(k)?, v.as_i64()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Role, UserStatus};
    use chrono::{Duration, TimeZone as _, Utc};

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2025, 5, 21, 14, 0, 0).unwrap()
    }

    fn agent() -> Agent {
        let user = User {
            id: UserId::new(),
            org_id: OrgId::new(),
            email: "a@example.com".into(),
            name: None,
            role: Role::Agent,
            status: UserStatus::Active,
            preferences: json!({}),
            created_at: t0(),
            updated_at: t0(),
            failed_logins: 0,
            locked_until: None,
            last_login_at: None,
        };
        Agent::new(&user)
    }

    #[test]
    fn the_state_machine_allows_the_documented_moves_only() {
        use AgentStatus::*;
        let allowed = [
            (Offline, Available),
            (Available, OnCall),
            (Available, Break),
            (Available, Offline),
            (Available, Missed),
            (OnCall, AfterCallWork),
            (OnCall, Available),
            (AfterCallWork, Available),
            (AfterCallWork, Break),
            (AfterCallWork, Offline),
            (Break, Available),
            (Break, Offline),
            (Missed, Available),
            (Missed, Break),
            (Missed, Offline),
        ];
        for from in AgentStatus::ALL {
            for to in AgentStatus::ALL {
                if from != to {
                    assert_eq!(from.can_move_to(to), allowed.contains(&(from, to)), "{from:?} → {to:?}");
                }
            }
        }
        assert!(!OnCall.can_move_to(Offline));
        assert!(!Offline.can_move_to(OnCall));
    }

    #[test]
    fn time_in_each_status_is_kept() {
        let mut a = agent();
        let t = t0() + Duration::minutes(10);
        let c = a.change_status(AgentStatus::Available, None, t).unwrap().unwrap();
        assert_eq!(
            (c.from, c.to, c.ms_in_previous),
            (AgentStatus::Offline, AgentStatus::Available, 600_000)
        );
        a.change_status(AgentStatus::OnCall, None, t + Duration::seconds(30)).unwrap();
        a.change_status(AgentStatus::AfterCallWork, None, t + Duration::seconds(150))
            .unwrap();
        a.change_status(AgentStatus::Available, None, t + Duration::seconds(170)).unwrap();
        let secs = a.seconds_in_status(t + Duration::seconds(200));
        assert_eq!(secs["offline"], 600);
        assert_eq!(secs["available"], 30 + 30);
        assert_eq!(secs["on_call"], 120);
        assert_eq!(secs["after_call_work"], 20);
        assert_eq!(secs["break"], 0);
        assert_eq!(Agent::status_ms_from_json(&a.status_ms_json()), a.status_ms);
    }

    #[test]
    fn illegal_moves_and_reasons_are_refused() {
        let mut a = agent();
        let err = a.change_status(AgentStatus::OnCall, None, t0()).unwrap_err();
        assert_eq!(
            err,
            DomainError::IllegalAgentTransition {
                from: "offline",
                to: "on_call"
            }
        );
        a.change_status(AgentStatus::Available, None, t0()).unwrap();
        a.change_status(AgentStatus::OnCall, None, t0()).unwrap();
        assert!(matches!(
            a.change_status(AgentStatus::Offline, None, t0()),
            Err(DomainError::IllegalAgentTransition { from: "on_call", .. })
        ));
        a.change_status(AgentStatus::Available, None, t0()).unwrap();
        assert!(matches!(a.change_status(AgentStatus::Break, None, t0()), Err(DomainError::Invalid(f)) if f.field == "reason"));
        assert!(
            matches!(a.change_status(AgentStatus::Offline, Some("lunch".into()), t0()), Err(DomainError::Invalid(f)) if f.field == "reason")
        );
        a.change_status(AgentStatus::Break, Some("lunch".into()), t0()).unwrap();
        assert_eq!(a.break_reason.as_deref(), Some("lunch"));
        // Same status: no change announced, the reason replaced.
        assert!(
            a.change_status(AgentStatus::Break, Some("training".into()), t0())
                .unwrap()
                .is_none()
        );
        assert_eq!(a.break_reason.as_deref(), Some("training"));
        a.change_status(AgentStatus::Available, None, t0()).unwrap();
        assert_eq!(a.break_reason, None);
    }

    #[test]
    fn skills_and_languages_are_checked() {
        let ok = json!({"billing": 5, "Spanish": 3});
        let s = parse_skills("skills", ok.as_object().unwrap()).unwrap();
        assert_eq!(s["spanish"], 3);
        for bad in [
            json!({"billing": 0}),
            json!({"billing": 6}),
            json!({"billing": 2.5}),
            json!({"billing": "5"}),
        ] {
            let e = parse_skills("skills", bad.as_object().unwrap()).unwrap_err();
            assert_eq!(e.field, "skills.billing");
        }
        assert!(parse_skills("skills", json!({"bad name": 1}).as_object().unwrap()).is_err());
        assert_eq!(
            parse_languages("languages", &["en".into(), "es-MX".into(), "EN".into()]).unwrap(),
            vec!["en", "es-MX"]
        );
        assert_eq!(parse_languages("languages", &["e".into()]).unwrap_err().field, "languages[0]");
    }
}
