//! Agents on PostgreSQL (see [`crate::agents`]). A change locks the user's
//! row first, so concurrent status changes of one agent (from several
//! nodes) are checked one after the other.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use switchboard_domain::agents::{Agent, AgentPatch, AgentStatus};
use switchboard_domain::{OrgId, Timestamp, UserId};

use super::PgStore;
use super::rows::ms;
use crate::agents::{AgentFilter, AgentStore};
use crate::{Page, Result, StoreError};

/// Users joined with their profile; a missing profile reads as defaults.
const AGENT_SELECT: &str = "SELECT u.id, u.org_id, u.email, u.name, u.created_at AS user_created_at, a.skills, a.languages, a.department, \
     a.max_concurrent_calls, a.status, a.break_reason, a.status_since, a.status_ms, a.created_at, a.updated_at, a.active_calls \
     FROM users u LEFT JOIN agents a ON a.user_id = u.id";

fn agent_from_row(r: &PgRow) -> Result<Agent> {
    let created: Timestamp = r.try_get("user_created_at")?;
    let skills: Option<serde_json::Value> = r.try_get("skills")?;
    let languages: Option<serde_json::Value> = r.try_get("languages")?;
    let status: Option<String> = r.try_get("status")?;
    let status_ms: Option<serde_json::Value> = r.try_get("status_ms")?;
    let max: Option<i32> = r.try_get("max_concurrent_calls")?;
    Ok(Agent {
        id: UserId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        skills: skills.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
        languages: languages.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
        department: r.try_get("department")?,
        max_concurrent_calls: max.map(|m| m.max(0) as u32).unwrap_or(1),
        active_calls: r.try_get::<Option<i32>, _>("active_calls")?.map(|n| n.max(0) as u32).unwrap_or(0),
        status: status.as_deref().and_then(AgentStatus::parse).unwrap_or(AgentStatus::Offline),
        break_reason: r.try_get("break_reason")?,
        status_since: r.try_get::<Option<Timestamp>, _>("status_since")?.unwrap_or(created),
        status_ms: status_ms.map(|v| Agent::status_ms_from_json(&v)).unwrap_or_default(),
        created_at: r.try_get::<Option<Timestamp>, _>("created_at")?.unwrap_or(created),
        updated_at: r.try_get::<Option<Timestamp>, _>("updated_at")?.unwrap_or(created),
    })
}

pub(super) async fn load_agent(c: &mut PgConnection, org: &OrgId, id: &UserId, lock: bool) -> Result<Agent> {
    if lock {
        // Its own statement: the read below then takes its snapshot after
        // the lock is held, and so sees what the previous holder committed.
        sqlx::query("SELECT 1 FROM users WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2 FOR UPDATE")
            .bind(id.as_str())
            .bind(org.as_str())
            .execute(&mut *c)
            .await?;
    }
    sqlx::query(&format!("{AGENT_SELECT} WHERE u.id = $1 AND u.org_id = $2 AND u.role = 'agent'"))
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut *c)
        .await?
        .as_ref()
        .map(agent_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("agent"))
}

pub(super) async fn save_agent(c: &mut PgConnection, a: &Agent) -> Result<()> {
    sqlx::query(
        "INSERT INTO agents (user_id, org_id, skills, languages, department, max_concurrent_calls, status, break_reason, status_since, \
         status_ms, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (user_id) DO UPDATE SET skills = excluded.skills, languages = excluded.languages, department = excluded.department, \
         max_concurrent_calls = excluded.max_concurrent_calls, status = excluded.status, break_reason = excluded.break_reason, \
         status_since = excluded.status_since, status_ms = excluded.status_ms, updated_at = excluded.updated_at",
    )
    .bind(a.id.as_str())
    .bind(a.org_id.as_str())
    .bind(serde_json::to_value(&a.skills)?)
    .bind(serde_json::to_value(&a.languages)?)
    .bind(&a.department)
    .bind(a.max_concurrent_calls as i32)
    .bind(a.status.as_str())
    .bind(&a.break_reason)
    .bind(ms(a.status_since))
    .bind(a.status_ms_json())
    .bind(ms(a.created_at))
    .bind(ms(a.updated_at))
    .execute(&mut *c)
    .await?;
    Ok(())
}

#[async_trait]
impl AgentStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn get_agent(&self, org: &OrgId, id: &UserId) -> Result<Agent> {
        let mut c = self.pool.acquire().await?;
        load_agent(&mut c, org, id, false).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_agents(&self, org: &OrgId, filter: &AgentFilter, page: Page) -> Result<(Vec<Agent>, u64)> {
        let push_where = |q: &mut QueryBuilder<'_, Postgres>| {
            q.push(" WHERE u.org_id = ")
                .push_bind(org.as_str().to_owned())
                .push(" AND u.role = 'agent'");
            if let Some(d) = &filter.department {
                q.push(" AND a.department = ").push_bind(d.clone());
            }
            if let Some(s) = filter.status {
                q.push(" AND COALESCE(a.status, 'offline') = ").push_bind(s.as_str());
            }
            if let Some(k) = &filter.skill {
                q.push(" AND jsonb_exists(a.skills, ").push_bind(k.clone()).push(")");
            }
        };
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM users u LEFT JOIN agents a ON a.user_id = u.id");
        push_where(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut q = QueryBuilder::new(AGENT_SELECT);
        push_where(&mut q);
        q.push(" ORDER BY u.created_at, u.id LIMIT ")
            .push_bind(i64::from(page.limit))
            .push(" OFFSET ")
            .push_bind(page.offset() as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        let agents = rows.iter().map(agent_from_row).collect::<Result<Vec<_>>>()?;
        Ok((agents, total as u64))
    }

    #[tracing::instrument(skip_all)]
    async fn update_agent(&self, org: &OrgId, id: &UserId, patch: AgentPatch, at: Timestamp) -> Result<Agent> {
        let mut tx = self.begin().await?;
        let mut a = load_agent(&mut tx, org, id, true).await?;
        a.apply(patch, at);
        save_agent(&mut tx, &a).await?;
        self.commit(tx, &[]).await?;
        Ok(a)
    }

    #[tracing::instrument(skip_all)]
    async fn agent_status_counts(&self) -> Result<Vec<(OrgId, AgentStatus, u64)>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT a.org_id, a.status, COUNT(*) FROM agents a JOIN users u ON u.id = a.user_id AND u.role = 'agent' GROUP BY a.org_id, a.status",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(o, s, n)| Some((OrgId::from_trusted(o), AgentStatus::parse(&s)?, n.max(0) as u64)))
            .collect())
    }

    #[tracing::instrument(skip_all)]
    async fn set_agent_status(&self, org: &OrgId, id: &UserId, to: AgentStatus, reason: Option<String>, at: Timestamp) -> Result<Agent> {
        let mut tx = self.begin().await?;
        let mut a = load_agent(&mut tx, org, id, true).await?;
        let change = a.change_status(to, reason, at)?;
        save_agent(&mut tx, &a).await?;
        let events: Vec<_> = change.iter().map(|c| a.status_event(c)).collect();
        self.commit(tx, &events).await?;
        Ok(a)
    }
}
