//! Queued calls and the router's offers on PostgreSQL (see
//! [`crate::routing`]). Every claim is its own short transaction of two
//! conditional UPDATEs, the call's row first and the agent's second, in
//! that order on every node: a router waiting on another's row re-checks
//! the condition once it commits, so a call is offered once and an agent
//! never gets more calls than lines, and no two routers deadlock.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use switchboard_domain::agents::{Agent, AgentStatus, Skills};
use switchboard_domain::id::QueueId;
use switchboard_domain::queues::Overflow;
use switchboard_domain::routing::{Candidate, choose};
use switchboard_domain::{CallId, DomainEvent, OrgId, Timestamp, UserId};

use super::PgStore;
use super::agents::{load_agent, save_agent};
use super::queues::{QUEUE_COLUMNS, queue_from_row};
use super::rows::{conflict, ms};
use crate::routing::{QueueFigures, QueuedCall, RoutePass, RoutingStore, WaitState};
use crate::{Result, StoreError};

const TERMINAL: &str = "('completed', 'busy', 'no_answer', 'failed', 'canceled', 'voicemail')";
const QUEUED_COLUMNS: &str = "call_id, org_id, queue_id, priority, state, agent_id, enqueued_at, offer_expires_at, missed";

fn queued_from_row(r: &PgRow) -> Result<QueuedCall> {
    let state: String = r.try_get("state")?;
    let priority: i32 = r.try_get("priority")?;
    let missed: i32 = r.try_get("missed")?;
    Ok(QueuedCall {
        call_id: CallId::from_trusted(r.try_get("call_id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        queue_id: QueueId::from_trusted(r.try_get("queue_id")?),
        priority: priority.clamp(0, 255) as u8,
        state: WaitState::parse(&state).unwrap_or(WaitState::Done),
        agent_id: r.try_get::<Option<String>, _>("agent_id")?.map(UserId::from_trusted),
        enqueued_at: r.try_get("enqueued_at")?,
        offer_expires_at: r.try_get("offer_expires_at")?,
        missed: missed.max(0) as u32,
    })
}

async fn release_line(c: &mut PgConnection, agent: &str) -> Result<()> {
    sqlx::query("UPDATE agents SET active_calls = GREATEST(active_calls - 1, 0) WHERE user_id = $1")
        .bind(agent)
        .execute(&mut *c)
        .await?;
    Ok(())
}

impl PgStore {
    async fn settle_ended(&self, org: &OrgId, now: Timestamp, out: &mut RoutePass) -> Result<()> {
        let ended: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT q.call_id FROM queue_calls q JOIN calls cl ON cl.id = q.call_id \
             WHERE q.org_id = $1 AND q.state IN ('waiting', 'offered', 'connected') AND cl.status IN {TERMINAL}"
        ))
        .bind(org.as_str())
        .fetch_all(&self.pool)
        .await?;
        for (call,) in ended {
            let mut tx = self.begin().await?;
            // Re-read under the row lock: another router may have settled it.
            let row: Option<(String, Option<String>)> = sqlx::query_as(
                "SELECT state, agent_id FROM queue_calls WHERE call_id = $1 AND state IN ('waiting', 'offered', 'connected') FOR UPDATE",
            )
            .bind(&call)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((state, agent)) = row else { continue };
            let to = if state == "connected" { "done" } else { "abandoned" };
            sqlx::query("UPDATE queue_calls SET state = $2, ended_at = $3 WHERE call_id = $1")
                .bind(&call)
                .bind(to)
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
            if let Some(a) = agent.filter(|_| state != "waiting") {
                release_line(&mut tx, &a).await?;
            }
            self.commit(tx, &[]).await?;
            if to == "abandoned" {
                out.abandoned.push(CallId::from_trusted(call));
            }
        }
        Ok(())
    }

    async fn expire_offers(&self, org: &OrgId, now: Timestamp, out: &mut RoutePass) -> Result<()> {
        let expired: Vec<(String, String)> =
            sqlx::query_as("SELECT call_id, agent_id FROM queue_calls WHERE org_id = $1 AND state = 'offered' AND offer_expires_at <= $2")
                .bind(org.as_str())
                .bind(ms(now))
                .fetch_all(&self.pool)
                .await?;
        for (call, agent) in expired {
            let mut tx = self.begin().await?;
            let n = sqlx::query(
                "UPDATE queue_calls SET state = 'waiting', agent_id = NULL, offered_at = NULL, offer_expires_at = NULL, missed = missed + 1 \
                 WHERE call_id = $1 AND state = 'offered' AND agent_id = $2 AND offer_expires_at <= $3",
            )
            .bind(&call)
            .bind(&agent)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                continue;
            }
            release_line(&mut tx, &agent).await?;
            let agent_id = UserId::from_trusted(agent);
            let mut events = Vec::new();
            if let Ok(mut a) = load_agent(&mut tx, org, &agent_id, true).await
                && a.status == AgentStatus::Available
                && let Some(change) = a.change_status(AgentStatus::Missed, None, now)?
            {
                save_agent(&mut tx, &a).await?;
                events.push(a.status_event(&change));
            }
            self.commit(tx, &events).await?;
            out.missed.push((CallId::from_trusted(call), agent_id));
        }
        Ok(())
    }

    /// See the SQLite store's `overflow_calls`: one conditional UPDATE per
    /// queue, so routers on several nodes move each call once.
    async fn overflow_calls(&self, org: &OrgId, now: Timestamp, out: &mut RoutePass) -> Result<()> {
        let rows = sqlx::query(&format!(
            "SELECT {QUEUE_COLUMNS} FROM queues WHERE org_id = $1 AND overflow_type = 'queue'"
        ))
        .bind(org.as_str())
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            let q = queue_from_row(r)?;
            let Some(Overflow::Queue(target)) = &q.overflow else { continue };
            let Some(priority): Option<i32> = sqlx::query_scalar("SELECT priority FROM queues WHERE id = $1")
                .bind(target.as_str())
                .fetch_optional(&self.pool)
                .await?
            else {
                continue;
            };
            let closed = !q.is_open(now);
            let cutoff = ms(now - chrono::Duration::seconds(i64::from(q.max_wait_secs)));
            let n = sqlx::query(
                "UPDATE queue_calls SET queue_id = $3, priority = $4, enqueued_at = $5 \
                 WHERE org_id = $1 AND queue_id = $2 AND state = 'waiting' AND ($6 OR enqueued_at <= $7)",
            )
            .bind(org.as_str())
            .bind(q.id.as_str())
            .bind(target.as_str())
            .bind(priority)
            .bind(ms(now))
            .bind(closed)
            .bind(cutoff)
            .execute(&self.pool)
            .await?
            .rows_affected();
            out.overflowed += n as u32;
        }
        Ok(())
    }

    async fn candidates(&self, org: &OrgId) -> Result<Vec<Candidate<UserId>>> {
        let rows = sqlx::query(
            "SELECT a.user_id, a.skills, a.status, a.status_since, a.active_calls, a.max_concurrent_calls FROM agents a \
             JOIN users u ON u.id = a.user_id AND u.role = 'agent' \
             WHERE a.org_id = $1 AND a.status IN ('available', 'on_call') AND a.active_calls < a.max_concurrent_calls",
        )
        .bind(org.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| -> Result<Candidate<UserId>> {
                let status: String = r.try_get("status")?;
                let active: i32 = r.try_get("active_calls")?;
                let max: i32 = r.try_get("max_concurrent_calls")?;
                Ok(Candidate {
                    id: UserId::from_trusted(r.try_get("user_id")?),
                    skills: serde_json::from_value(r.try_get("skills")?).unwrap_or_default(),
                    status: AgentStatus::parse(&status).unwrap_or(AgentStatus::Offline),
                    idle_since: r.try_get("status_since")?,
                    active_calls: active.max(0) as u32,
                    max_calls: max.max(0) as u32,
                })
            })
            .collect()
    }

    async fn offer_calls(&self, org: &OrgId, now: Timestamp, offer_secs: u32, out: &mut RoutePass) -> Result<()> {
        let waiting: Vec<(String, String)> = sqlx::query_as(
            "SELECT call_id, queue_id FROM queue_calls WHERE org_id = $1 AND state = 'waiting' ORDER BY priority DESC, enqueued_at, call_id LIMIT 500",
        )
        .bind(org.as_str())
        .fetch_all(&self.pool)
        .await?;
        if waiting.is_empty() {
            return Ok(());
        }
        let mut pool = self.candidates(org).await?;
        let mut skills: HashMap<String, Skills> = HashMap::new();
        let expires = ms(now + chrono::Duration::seconds(i64::from(offer_secs)));
        for (call, queue) in waiting {
            if pool.is_empty() {
                break;
            }
            out.decisions += 1;
            if !skills.contains_key(&queue) {
                let s: Option<serde_json::Value> = sqlx::query_scalar("SELECT skills FROM queues WHERE id = $1")
                    .bind(&queue)
                    .fetch_optional(&self.pool)
                    .await?;
                skills.insert(queue.clone(), s.and_then(|s| serde_json::from_value(s).ok()).unwrap_or_default());
            }
            let Some(i) = choose(&skills[&queue], &pool) else { continue };
            let agent = pool[i].id.clone();
            let mut tx = self.begin().await?;
            let claimed = sqlx::query(
                "UPDATE queue_calls SET state = 'offered', agent_id = $2, offered_at = $3, offer_expires_at = $4 \
                 WHERE call_id = $1 AND state = 'waiting'",
            )
            .bind(&call)
            .bind(agent.as_str())
            .bind(ms(now))
            .bind(expires)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 0 {
                // Another router offered it first.
                continue;
            }
            let line = sqlx::query(
                "UPDATE agents SET active_calls = active_calls + 1 WHERE user_id = $1 AND active_calls < max_concurrent_calls \
                 AND (status = 'available' OR (status = 'on_call' AND max_concurrent_calls > 1))",
            )
            .bind(agent.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if line == 0 {
                // The agent's lines were taken meanwhile: the call stays waiting.
                drop(tx);
                pool.remove(i);
                continue;
            }
            let event = DomainEvent::new(
                org,
                "agent.offered",
                serde_json::json!({"agentId": agent, "callId": call, "queueId": queue, "expiresAt": expires}),
                now,
            );
            self.commit(tx, &[event]).await?;
            pool[i].active_calls += 1;
            if pool[i].active_calls >= pool[i].max_calls {
                pool.remove(i);
            }
            out.offered.push((CallId::from_trusted(call), agent));
        }
        Ok(())
    }
}

#[async_trait]
impl RoutingStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn enqueue_call(&self, org: &OrgId, call: &CallId, queue: &QueueId, at: Timestamp) -> Result<QueuedCall> {
        let priority: i32 = sqlx::query_scalar("SELECT priority FROM queues WHERE id = $1 AND org_id = $2")
            .bind(queue.as_str())
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("queue"))?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM calls WHERE id = $1 AND org_id = $2)")
            .bind(call.as_str())
            .bind(org.as_str())
            .fetch_one(&self.pool)
            .await?;
        if !exists {
            return Err(StoreError::NotFound("call"));
        }
        sqlx::query(
            "INSERT INTO queue_calls (call_id, org_id, queue_id, priority, state, enqueued_at) VALUES ($1, $2, $3, $4, 'waiting', $5)",
        )
        .bind(call.as_str())
        .bind(org.as_str())
        .bind(queue.as_str())
        .bind(priority)
        .bind(ms(at))
        .execute(&self.pool)
        .await
        .map_err(conflict("the call is already in a queue"))?;
        Ok(QueuedCall {
            call_id: call.clone(),
            org_id: org.clone(),
            queue_id: queue.clone(),
            priority: priority.clamp(0, 255) as u8,
            state: WaitState::Waiting,
            agent_id: None,
            enqueued_at: ms(at),
            offer_expires_at: None,
            missed: 0,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn queued_call(&self, org: &OrgId, call: &CallId) -> Result<Option<QueuedCall>> {
        sqlx::query(&format!(
            "SELECT {QUEUED_COLUMNS} FROM queue_calls WHERE call_id = $1 AND org_id = $2"
        ))
        .bind(call.as_str())
        .bind(org.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(queued_from_row)
        .transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn orgs_with_queued_calls(&self) -> Result<Vec<OrgId>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT org_id FROM queue_calls WHERE state IN ('waiting', 'offered', 'connected')")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(o,)| OrgId::from_trusted(o)).collect())
    }

    #[tracing::instrument(skip_all)]
    async fn route_calls(&self, org: &OrgId, now: Timestamp, offer_secs: u32) -> Result<RoutePass> {
        let mut out = RoutePass::default();
        self.settle_ended(org, now, &mut out).await?;
        self.expire_offers(org, now, &mut out).await?;
        self.overflow_calls(org, now, &mut out).await?;
        self.offer_calls(org, now, offer_secs, &mut out).await?;
        Ok(out)
    }

    #[tracing::instrument(skip_all)]
    async fn accept_offer(&self, org: &OrgId, agent: &UserId, call: &CallId, at: Timestamp) -> Result<Agent> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE queue_calls SET state = 'connected', connected_at = $4 WHERE call_id = $1 AND org_id = $2 AND agent_id = $3 AND state = 'offered'",
        )
        .bind(call.as_str())
        .bind(org.as_str())
        .bind(agent.as_str())
        .bind(ms(at))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict("no open offer of this call to this agent".into()));
        }
        let mut a = load_agent(&mut tx, org, agent, true).await?;
        let mut events = Vec::new();
        if let Some(change) = a.change_status(AgentStatus::OnCall, None, at)? {
            save_agent(&mut tx, &a).await?;
            events.push(a.status_event(&change));
        }
        self.commit(tx, &events).await?;
        Ok(a)
    }

    #[tracing::instrument(skip_all)]
    async fn queue_figures(&self, org: &OrgId, queue: &QueueId, now: Timestamp) -> Result<QueueFigures> {
        let skills: serde_json::Value = sqlx::query_scalar("SELECT skills FROM queues WHERE id = $1 AND org_id = $2")
            .bind(queue.as_str())
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("queue"))?;
        let required: Skills = serde_json::from_value(skills).unwrap_or_default();
        let r = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE state IN ('waiting', 'offered')) AS waiting, COUNT(*) FILTER (WHERE enqueued_at >= $3) AS arrivals, \
             COUNT(*) FILTER (WHERE state = 'abandoned') AS abandoned, MIN(enqueued_at) FILTER (WHERE state IN ('waiting', 'offered')) AS oldest \
             FROM queue_calls WHERE org_id = $1 AND queue_id = $2",
        )
        .bind(org.as_str())
        .bind(queue.as_str())
        .bind(now - chrono::Duration::hours(1))
        .fetch_one(&self.pool)
        .await?;
        let handle: Option<f64> = sqlx::query_scalar(
            "SELECT AVG(d)::float8 FROM (SELECT EXTRACT(EPOCH FROM ended_at - connected_at)::float8 AS d FROM queue_calls \
             WHERE org_id = $1 AND queue_id = $2 AND state = 'done' AND connected_at IS NOT NULL ORDER BY ended_at DESC LIMIT 100) t",
        )
        .bind(org.as_str())
        .bind(queue.as_str())
        .fetch_one(&self.pool)
        .await?;
        let online: Vec<(serde_json::Value,)> = sqlx::query_as(
            "SELECT a.skills FROM agents a JOIN users u ON u.id = a.user_id AND u.role = 'agent' WHERE a.org_id = $1 AND a.status <> 'offline'",
        )
        .bind(org.as_str())
        .fetch_all(&self.pool)
        .await?;
        let staffed = online
            .into_iter()
            .filter(|(s,)| {
                let have: Skills = serde_json::from_value(s.clone()).unwrap_or_default();
                required.iter().all(|(k, min)| have.get(k).is_some_and(|l| l >= min))
            })
            .count() as u32;
        let count = |name: &str| -> Result<u32> { Ok(r.try_get::<i64, _>(name)?.max(0) as u32) };
        Ok(QueueFigures {
            waiting: count("waiting")?,
            arrivals_last_hour: count("arrivals")?,
            mean_handle_secs: handle,
            staffed,
            abandoned: count("abandoned")?,
            oldest_wait_since: r.try_get("oldest")?,
        })
    }
}
