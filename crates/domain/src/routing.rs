//! Routing: which agent a waiting call is offered to, and how long a new
//! caller should expect to wait. Pure functions, no I/O.
//!
//! The order: an agent must be available with a free line and meet every
//! skill the queue requires at its minimum proficiency; among those, the
//! highest proficiency on the required skills wins (their sum), then the
//! agent idle the longest, then the lowest id (so the choice is the same
//! on every node).

use crate::Timestamp;
use crate::agents::{AgentStatus, Skills};

/// An agent as the router sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<Id> {
    pub id: Id,
    pub skills: Skills,
    pub status: AgentStatus,
    /// Since when the agent has been idle (in `available`).
    pub idle_since: Timestamp,
    /// Calls the agent holds or has been offered now.
    pub active_calls: u32,
    pub max_calls: u32,
}

impl<Id> Candidate<Id> {
    /// Can take a call needing `required` now? Available, or on a call
    /// with another line free.
    pub fn eligible(&self, required: &Skills) -> bool {
        (self.status == AgentStatus::Available || (self.status == AgentStatus::OnCall && self.max_calls > 1))
            && self.active_calls < self.max_calls
            && required
                .iter()
                .all(|(skill, min)| self.skills.get(skill).is_some_and(|level| level >= min))
    }

    /// Proficiency on the required skills (their sum; 0 when none are required).
    pub fn proficiency(&self, required: &Skills) -> u32 {
        required.keys().map(|k| u32::from(self.skills.get(k).copied().unwrap_or(0))).sum()
    }
}

/// The index of the agent to offer a call needing `required` to, if any.
pub fn choose<Id: Ord>(required: &Skills, candidates: &[Candidate<Id>]) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.eligible(required))
        .min_by(|(_, a), (_, b)| {
            b.proficiency(required)
                .cmp(&a.proficiency(required))
                .then(a.idle_since.cmp(&b.idle_since))
                .then(a.id.cmp(&b.id))
        })
        .map(|(i, _)| i)
}

/// Erlang C: the probability that a caller waits, with `agents` agents
/// and an offered load of `erlangs` (arrival rate × mean handle time).
/// 1 when the agents cannot keep up.
pub fn erlang_c(agents: u32, erlangs: f64) -> f64 {
    let n = f64::from(agents);
    if agents == 0 || erlangs >= n {
        return 1.0;
    }
    if erlangs <= 0.0 {
        return 0.0;
    }
    // Erlang B by its stable recursion, then C from B.
    let mut b = 1.0;
    for k in 1..=agents {
        b = erlangs * b / (f64::from(k) + erlangs * b);
    }
    n * b / (n - erlangs * (1.0 - b))
}

/// The expected wait (seconds) of a new caller: Erlang C's average speed
/// of answer, from calls arriving per second, the mean handle time and the
/// agents staffed. `None` when the agents cannot keep up (the queue grows
/// without bound) or none are staffed.
pub fn estimated_wait_secs(arrivals_per_sec: f64, mean_handle_secs: f64, agents: u32) -> Option<f64> {
    let erlangs = arrivals_per_sec * mean_handle_secs;
    let n = f64::from(agents);
    if agents == 0 || erlangs >= n {
        return None;
    }
    Some(erlang_c(agents, erlangs) * mean_handle_secs / (n - erlangs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone as _, Utc};

    fn t(mins: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2025, 5, 21, 14, 0, 0).unwrap() + Duration::minutes(mins)
    }

    fn skills(pairs: &[(&str, u8)]) -> Skills {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    fn agent(id: &'static str, s: &[(&str, u8)], idle_mins_ago: i64) -> Candidate<&'static str> {
        Candidate {
            id,
            skills: skills(s),
            status: AgentStatus::Available,
            idle_since: t(-idle_mins_ago),
            active_calls: 0,
            max_calls: 1,
        }
    }

    #[test]
    fn routing_picks_by_skill_then_proficiency_then_idle_time() {
        let busy = |mut c: Candidate<&'static str>| {
            c.active_calls = 1;
            c
        };
        let status = |mut c: Candidate<&'static str>, s| {
            c.status = s;
            c
        };
        let two_lines = |mut c: Candidate<&'static str>| {
            c.active_calls = 1;
            c.max_calls = 2;
            c
        };
        // (case, required skills, agents, the agent chosen)
        type Case = (&'static str, Skills, Vec<Candidate<&'static str>>, Option<&'static str>);
        let cases: Vec<Case> = vec![
            ("no agents", skills(&[]), vec![], None),
            (
                "skill missing",
                skills(&[("billing", 1)]),
                vec![agent("a", &[("sales", 5)], 10)],
                None,
            ),
            (
                "skill below the minimum",
                skills(&[("billing", 3)]),
                vec![agent("a", &[("billing", 2)], 10), agent("b", &[("billing", 3)], 1)],
                Some("b"),
            ),
            (
                "every required skill needed",
                skills(&[("billing", 1), ("spanish", 1)]),
                vec![agent("a", &[("billing", 5)], 10), agent("b", &[("billing", 1), ("spanish", 1)], 1)],
                Some("b"),
            ),
            (
                "higher proficiency beats longer idle",
                skills(&[("billing", 1)]),
                vec![agent("a", &[("billing", 3)], 60), agent("b", &[("billing", 5)], 1)],
                Some("b"),
            ),
            (
                "proficiency summed over required skills only",
                skills(&[("billing", 1), ("spanish", 1)]),
                vec![
                    agent("a", &[("billing", 5), ("spanish", 1), ("sales", 5)], 60),
                    agent("b", &[("billing", 3), ("spanish", 4)], 1),
                ],
                Some("b"),
            ),
            (
                "equal proficiency: longest idle",
                skills(&[("billing", 1)]),
                vec![
                    agent("a", &[("billing", 4)], 5),
                    agent("b", &[("billing", 4)], 30),
                    agent("c", &[("billing", 4)], 10),
                ],
                Some("b"),
            ),
            (
                "no skills required: longest idle",
                skills(&[]),
                vec![agent("a", &[], 5), agent("b", &[("x", 5)], 1), agent("c", &[], 9)],
                Some("c"),
            ),
            (
                "all equal: lowest id",
                skills(&[]),
                vec![agent("b", &[], 5), agent("a", &[], 5)],
                Some("a"),
            ),
            (
                "unavailable agents skipped",
                skills(&[]),
                vec![
                    status(agent("a", &[], 90), AgentStatus::Break),
                    status(agent("b", &[], 80), AgentStatus::OnCall),
                    status(agent("c", &[], 70), AgentStatus::Missed),
                    status(agent("d", &[], 60), AgentStatus::Offline),
                    agent("e", &[], 1),
                ],
                Some("e"),
            ),
            (
                "a single-line agent with a call is full",
                skills(&[]),
                vec![busy(agent("a", &[], 90)), agent("b", &[], 1)],
                Some("b"),
            ),
            (
                "a two-line agent with one call has room",
                skills(&[]),
                vec![two_lines(agent("a", &[], 90)), agent("b", &[], 1)],
                Some("a"),
            ),
        ];
        for (name, required, agents, want) in cases {
            let got = choose(&required, &agents).map(|i| agents[i].id);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn erlang_c_matches_published_values() {
        // The textbook example: 10 agents, 8 erlangs → P(wait) ≈ 0.409.
        assert!((erlang_c(10, 8.0) - 0.4092).abs() < 0.001, "{}", erlang_c(10, 8.0));
        // One agent: P(wait) = load.
        assert!((erlang_c(1, 0.5) - 0.5).abs() < 1e-9);
        assert_eq!(erlang_c(5, 5.0), 1.0);
        assert_eq!(erlang_c(0, 0.1), 1.0);
        assert_eq!(erlang_c(3, 0.0), 0.0);
        // 100 calls/hour, 180 s each = 5 erlangs on 7 agents: P(wait) ≈ 0.324,
        // ASA ≈ 0.324 × 180 / 2 ≈ 29.2 s.
        let w = estimated_wait_secs(100.0 / 3600.0, 180.0, 7).unwrap();
        assert!((w - 29.17).abs() < 0.1, "{w}");
        // More agents, shorter wait; too few, none.
        assert!(estimated_wait_secs(100.0 / 3600.0, 180.0, 8).unwrap() < w);
        assert_eq!(estimated_wait_secs(100.0 / 3600.0, 180.0, 5), None);
        assert_eq!(estimated_wait_secs(0.0, 180.0, 0), None);
        assert_eq!(estimated_wait_secs(0.0, 180.0, 2), Some(0.0));
    }
}
