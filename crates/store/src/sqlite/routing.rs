//! Queued calls and the router's offers on SQLite (see
//! [`crate::routing`]). A routing pass is one write: the single writer
//! makes it exclusive, and the claims are the same conditional UPDATEs as
//! on PostgreSQL.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use switchboard_domain::agents::{Agent, AgentStatus, Skills};
use switchboard_domain::id::QueueId;
use switchboard_domain::queues::{Overflow, Queue};
use switchboard_domain::routing::{Candidate, choose};
use switchboard_domain::{CallId, DomainEvent, OrgId, Timestamp, UserId};

use super::SqliteStore;
use super::agents::{load_agent, save_agent};
use super::queues::{QUEUE_COLUMNS, queue_from_row};
use super::rows::{conflict, insert_events, ms, ts};
use crate::routing::{QueueFigures, QueuedCall, RoutePass, RoutingStore, WaitState};
use crate::{Result, StoreError};

/// Call statuses after which a call is over.
pub(super) const TERMINAL: &str = "('completed', 'busy', 'no_answer', 'failed', 'canceled', 'voicemail')";
const QUEUED_COLUMNS: &str = "call_id, org_id, queue_id, priority, state, agent_id, enqueued_at, offer_expires_at, missed";

fn queued_from_row(r: &Row<'_>) -> rusqlite::Result<QueuedCall> {
    let state: String = r.get(4)?;
    Ok(QueuedCall {
        call_id: CallId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        queue_id: QueueId::from_trusted(r.get(2)?),
        priority: r.get(3)?,
        state: WaitState::parse(&state).unwrap_or(WaitState::Done),
        agent_id: r.get::<_, Option<String>>(5)?.map(UserId::from_trusted),
        enqueued_at: ts(r.get(6)?),
        offer_expires_at: r.get::<_, Option<i64>>(7)?.map(ts),
        missed: r.get(8)?,
    })
}

fn release_line(c: &Connection, agent: &str) -> Result<()> {
    c.prepare_cached("UPDATE agents SET active_calls = MAX(active_calls - 1, 0) WHERE user_id = ?1")?
        .execute([agent])?;
    Ok(())
}

/// Ends the queue life of calls that are over: abandoned while waiting or
/// offered, done once connected.
fn settle_ended(c: &Connection, org: &OrgId, now: Timestamp, out: &mut RoutePass) -> Result<()> {
    let ended: Vec<(String, String, Option<String>)> = c
        .prepare_cached(&format!(
            "SELECT q.call_id, q.state, q.agent_id FROM queue_calls q JOIN calls cl ON cl.id = q.call_id \
             WHERE q.org_id = ?1 AND q.state IN ('waiting', 'offered', 'connected') AND cl.status IN {TERMINAL}"
        ))?
        .query_map([org.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (call, state, agent) in ended {
        let to = if state == "connected" { "done" } else { "abandoned" };
        c.prepare_cached("UPDATE queue_calls SET state = ?2, ended_at = ?3 WHERE call_id = ?1")?
            .execute(params![call, to, ms(now)])?;
        if let Some(a) = agent.filter(|_| state != "waiting") {
            release_line(c, &a)?;
        }
        if to == "abandoned" {
            out.abandoned.push(CallId::from_trusted(call));
        }
    }
    Ok(())
}

/// Offers past their deadline: the call waits again, the agent is `missed`.
fn expire_offers(c: &Connection, org: &OrgId, now: Timestamp, out: &mut RoutePass) -> Result<Vec<DomainEvent>> {
    let expired: Vec<(String, String)> = c
        .prepare_cached("SELECT call_id, agent_id FROM queue_calls WHERE org_id = ?1 AND state = 'offered' AND offer_expires_at <= ?2")?
        .query_map(params![org.as_str(), ms(now)], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut events = Vec::new();
    for (call, agent) in expired {
        c.prepare_cached(
            "UPDATE queue_calls SET state = 'waiting', agent_id = NULL, offered_at = NULL, offer_expires_at = NULL, missed = missed + 1 \
             WHERE call_id = ?1 AND state = 'offered'",
        )?
        .execute([&call])?;
        release_line(c, &agent)?;
        let agent_id = UserId::from_trusted(agent);
        if let Ok(mut a) = load_agent(c, org, &agent_id)
            && a.status == AgentStatus::Available
            && let Some(change) = a.change_status(AgentStatus::Missed, None, now)?
        {
            save_agent(c, &a)?;
            events.push(a.status_event(&change));
        }
        out.missed.push((CallId::from_trusted(call), agent_id));
    }
    Ok(events)
}

fn candidates(c: &Connection, org: &OrgId) -> Result<Vec<Candidate<UserId>>> {
    let rows: Vec<(String, String, String, i64, u32, u32)> = c
        .prepare_cached(
            "SELECT a.user_id, a.skills, a.status, a.status_since, a.active_calls, a.max_concurrent_calls FROM agents a \
             JOIN users u ON u.id = a.user_id AND u.role = 'agent' \
             WHERE a.org_id = ?1 AND a.status IN ('available', 'on_call') AND a.active_calls < a.max_concurrent_calls",
        )?
        .query_map([org.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows
        .into_iter()
        .map(|(id, skills, status, since, active, max)| Candidate {
            id: UserId::from_trusted(id),
            skills: serde_json::from_str(&skills).unwrap_or_default(),
            status: AgentStatus::parse(&status).unwrap_or(AgentStatus::Offline),
            idle_since: ts(since),
            active_calls: active,
            max_calls: max,
        })
        .collect())
}

/// Moves waiting calls past their queue's longest wait, or in a closed
/// queue, to the queue it overflows into. (Overflow to voicemail or a
/// number is not acted on yet: those calls keep waiting.)
fn overflow_calls(c: &Connection, org: &OrgId, now: Timestamp, out: &mut RoutePass) -> Result<()> {
    let queues: Vec<Queue> = c
        .prepare_cached(&format!(
            "SELECT {QUEUE_COLUMNS} FROM queues WHERE org_id = ?1 AND overflow_type = 'queue'"
        ))?
        .query_map([org.as_str()], queue_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    for q in queues {
        let Some(Overflow::Queue(target)) = &q.overflow else { continue };
        let Some(priority): Option<u8> = c
            .prepare_cached("SELECT priority FROM queues WHERE id = ?1")?
            .query_row([target.as_str()], |r| r.get(0))
            .optional()?
        else {
            continue;
        };
        let closed = !q.is_open(now);
        let cutoff = now - chrono::Duration::seconds(i64::from(q.max_wait_secs));
        let n = c
            .prepare_cached(
                "UPDATE queue_calls SET queue_id = ?3, priority = ?4, enqueued_at = ?5 \
                 WHERE org_id = ?1 AND queue_id = ?2 AND state = 'waiting' AND (?6 OR enqueued_at <= ?7)",
            )?
            .execute(params![
                org.as_str(),
                q.id.as_str(),
                target.as_str(),
                priority,
                ms(now),
                closed,
                ms(cutoff)
            ])?;
        out.overflowed += n as u32;
    }
    Ok(())
}

/// Offers waiting calls, highest priority and longest waiting first.
fn offer_calls(c: &Connection, org: &OrgId, now: Timestamp, offer_secs: u32, out: &mut RoutePass) -> Result<Vec<DomainEvent>> {
    let waiting: Vec<(String, String)> = c
        .prepare_cached(
            "SELECT call_id, queue_id FROM queue_calls WHERE org_id = ?1 AND state = 'waiting' ORDER BY priority DESC, enqueued_at, call_id LIMIT 500",
        )?
        .query_map([org.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if waiting.is_empty() {
        return Ok(Vec::new());
    }
    let mut pool = candidates(c, org)?;
    let mut skills: HashMap<String, Skills> = HashMap::new();
    let mut events = Vec::new();
    let expires = now + chrono::Duration::seconds(i64::from(offer_secs));
    for (call, queue) in waiting {
        if pool.is_empty() {
            break;
        }
        out.decisions += 1;
        if !skills.contains_key(&queue) {
            let s: Option<String> = c
                .prepare_cached("SELECT skills FROM queues WHERE id = ?1")?
                .query_row([&queue], |r| r.get(0))
                .optional()?;
            skills.insert(queue.clone(), s.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default());
        }
        let Some(i) = choose(&skills[&queue], &pool) else { continue };
        let agent = pool[i].id.clone();
        let claimed = c
            .prepare_cached(
                "UPDATE queue_calls SET state = 'offered', agent_id = ?2, offered_at = ?3, offer_expires_at = ?4 \
                 WHERE call_id = ?1 AND state = 'waiting'",
            )?
            .execute(params![call, agent.as_str(), ms(now), ms(expires)])?;
        if claimed == 0 {
            continue;
        }
        let line = c
            .prepare_cached(
                "UPDATE agents SET active_calls = active_calls + 1 WHERE user_id = ?1 AND active_calls < max_concurrent_calls \
                 AND (status = 'available' OR (status = 'on_call' AND max_concurrent_calls > 1))",
            )?
            .execute([agent.as_str()])?;
        if line == 0 {
            c.prepare_cached(
                "UPDATE queue_calls SET state = 'waiting', agent_id = NULL, offered_at = NULL, offer_expires_at = NULL WHERE call_id = ?1",
            )?
            .execute([&call])?;
            pool.remove(i);
            continue;
        }
        pool[i].active_calls += 1;
        if pool[i].active_calls >= pool[i].max_calls {
            pool.remove(i);
        }
        events.push(DomainEvent::new(
            org,
            "agent.offered",
            serde_json::json!({"agentId": agent, "callId": call, "queueId": queue, "expiresAt": expires}),
            now,
        ));
        out.offered.push((CallId::from_trusted(call), agent));
    }
    Ok(events)
}

#[async_trait]
impl RoutingStore for SqliteStore {
    async fn enqueue_call(&self, org: &OrgId, call: &CallId, queue: &QueueId, at: Timestamp) -> Result<QueuedCall> {
        let (org, call, queue) = (org.clone(), call.clone(), queue.clone());
        self.write(move |c| {
            let priority: u8 = c
                .prepare_cached("SELECT priority FROM queues WHERE id = ?1 AND org_id = ?2")?
                .query_row(params![queue.as_str(), org.as_str()], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::NotFound("queue"))?;
            let exists: bool = c
                .prepare_cached("SELECT EXISTS(SELECT 1 FROM calls WHERE id = ?1 AND org_id = ?2)")?
                .query_row(params![call.as_str(), org.as_str()], |r| r.get(0))?;
            if !exists {
                return Err(StoreError::NotFound("call"));
            }
            c.prepare_cached(
                "INSERT INTO queue_calls (call_id, org_id, queue_id, priority, state, enqueued_at) VALUES (?1, ?2, ?3, ?4, 'waiting', ?5)",
            )?
            .execute(params![call.as_str(), org.as_str(), queue.as_str(), priority, ms(at)])
            .map_err(conflict("the call is already in a queue"))?;
            Ok(QueuedCall {
                call_id: call,
                org_id: org,
                queue_id: queue,
                priority,
                state: WaitState::Waiting,
                agent_id: None,
                enqueued_at: switchboard_domain::truncate(at),
                offer_expires_at: None,
                missed: 0,
            })
        })
        .await
    }

    async fn queued_call(&self, org: &OrgId, call: &CallId) -> Result<Option<QueuedCall>> {
        let (org, call) = (org.clone(), call.clone());
        self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {QUEUED_COLUMNS} FROM queue_calls WHERE call_id = ?1 AND org_id = ?2"
            ))?
            .query_row(params![call.as_str(), org.as_str()], queued_from_row)
            .optional()?)
        })
        .await
    }

    async fn orgs_with_queued_calls(&self) -> Result<Vec<OrgId>> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT DISTINCT org_id FROM queue_calls WHERE state IN ('waiting', 'offered', 'connected')")?
                    .query_map([], |r| Ok(OrgId::from_trusted(r.get(0)?)))?
                    .collect::<rusqlite::Result<_>>()?,
            )
        })
        .await
    }

    async fn route_calls(&self, org: &OrgId, now: Timestamp, offer_secs: u32) -> Result<RoutePass> {
        let org = org.clone();
        self.write(move |c| {
            let mut out = RoutePass::default();
            settle_ended(c, &org, now, &mut out)?;
            let mut events = expire_offers(c, &org, now, &mut out)?;
            overflow_calls(c, &org, now, &mut out)?;
            events.extend(offer_calls(c, &org, now, offer_secs, &mut out)?);
            insert_events(c, &events)?;
            Ok(out)
        })
        .await
    }

    async fn accept_offer(&self, org: &OrgId, agent: &UserId, call: &CallId, at: Timestamp) -> Result<Agent> {
        let (org, agent, call) = (org.clone(), agent.clone(), call.clone());
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE queue_calls SET state = 'connected', connected_at = ?4 \
                     WHERE call_id = ?1 AND org_id = ?2 AND agent_id = ?3 AND state = 'offered'",
                )?
                .execute(params![call.as_str(), org.as_str(), agent.as_str(), ms(at)])?;
            if n == 0 {
                return Err(StoreError::Conflict("no open offer of this call to this agent".into()));
            }
            let mut a = load_agent(c, &org, &agent)?;
            if let Some(change) = a.change_status(AgentStatus::OnCall, None, at)? {
                save_agent(c, &a)?;
                insert_events(c, &[a.status_event(&change)])?;
            }
            Ok(a)
        })
        .await
    }

    async fn queue_figures(&self, org: &OrgId, queue: &QueueId, now: Timestamp) -> Result<QueueFigures> {
        let (org, queue) = (org.clone(), queue.clone());
        self.read(move |c| {
            let skills: String = c
                .prepare_cached("SELECT skills FROM queues WHERE id = ?1 AND org_id = ?2")?
                .query_row(params![queue.as_str(), org.as_str()], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::NotFound("queue"))?;
            let required: Skills = serde_json::from_str(&skills).unwrap_or_default();
            let (waiting, arrivals, abandoned, oldest): (u32, u32, u32, Option<i64>) = c
                .prepare_cached(
                    "SELECT COALESCE(SUM(state IN ('waiting', 'offered')), 0), COALESCE(SUM(enqueued_at >= ?3), 0), \
                     COALESCE(SUM(state = 'abandoned'), 0), MIN(CASE WHEN state IN ('waiting', 'offered') THEN enqueued_at END) \
                     FROM queue_calls WHERE org_id = ?1 AND queue_id = ?2",
                )?
                .query_row(params![org.as_str(), queue.as_str(), ms(now) - 3_600_000], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?;
            let handle: Option<f64> = c
                .prepare_cached(
                    "SELECT AVG(d) FROM (SELECT (ended_at - connected_at) / 1000.0 AS d FROM queue_calls \
                     WHERE org_id = ?1 AND queue_id = ?2 AND state = 'done' AND connected_at IS NOT NULL ORDER BY ended_at DESC LIMIT 100)",
                )?
                .query_row(params![org.as_str(), queue.as_str()], |r| r.get(0))?;
            let online: Vec<String> = c
                .prepare_cached(
                    "SELECT a.skills FROM agents a JOIN users u ON u.id = a.user_id AND u.role = 'agent' WHERE a.org_id = ?1 AND a.status <> 'offline'",
                )?
                .query_map([org.as_str()], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let staffed = online
                .iter()
                .filter(|s| {
                    let have: Skills = serde_json::from_str(s).unwrap_or_default();
                    required.iter().all(|(k, min)| have.get(k).is_some_and(|l| l >= min))
                })
                .count() as u32;
            Ok(QueueFigures {
                waiting,
                arrivals_last_hour: arrivals,
                mean_handle_secs: handle,
                staffed,
                abandoned,
                oldest_wait_since: oldest.map(ts),
            })
        })
        .await
    }
}
