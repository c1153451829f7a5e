//! Agents on SQLite (see [`crate::agents`]). The single writer serialises
//! status changes, so each is checked against the status it replaces.

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use switchboard_domain::agents::{Agent, AgentPatch, AgentStatus};
use switchboard_domain::{OrgId, Timestamp, UserId};

use super::SqliteStore;
use super::rows::{insert_events, ms, static_sql, ts};
use crate::agents::{AgentFilter, AgentStore};
use crate::{Page, Result, StoreError};

/// Users joined with their profile; a missing profile reads as defaults.
const AGENT_SELECT: &str = "SELECT u.id, u.org_id, u.email, u.name, u.created_at, a.skills, a.languages, a.department, \
     a.max_concurrent_calls, a.status, a.break_reason, a.status_since, a.status_ms, a.created_at, a.updated_at, a.active_calls \
     FROM users u LEFT JOIN agents a ON a.user_id = u.id";

fn agent_from_row(r: &Row<'_>) -> rusqlite::Result<Agent> {
    let created: i64 = r.get(4)?;
    let skills: Option<String> = r.get(5)?;
    let languages: Option<String> = r.get(6)?;
    let status: Option<String> = r.get(9)?;
    let status_ms: Option<String> = r.get(12)?;
    let json =
        |s: Option<String>, default: &str| serde_json::from_str::<serde_json::Value>(s.as_deref().unwrap_or(default)).unwrap_or_default();
    Ok(Agent {
        id: UserId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        email: r.get(2)?,
        name: r.get(3)?,
        skills: serde_json::from_value(json(skills, "{}")).unwrap_or_default(),
        languages: serde_json::from_value(json(languages, "[]")).unwrap_or_default(),
        department: r.get(7)?,
        max_concurrent_calls: r.get::<_, Option<u32>>(8)?.unwrap_or(1),
        active_calls: r.get::<_, Option<u32>>(15)?.unwrap_or(0),
        status: status.as_deref().and_then(AgentStatus::parse).unwrap_or(AgentStatus::Offline),
        break_reason: r.get(10)?,
        status_since: ts(r.get::<_, Option<i64>>(11)?.unwrap_or(created)),
        status_ms: Agent::status_ms_from_json(&json(status_ms, "{}")),
        created_at: ts(r.get::<_, Option<i64>>(13)?.unwrap_or(created)),
        updated_at: ts(r.get::<_, Option<i64>>(14)?.unwrap_or(created)),
    })
}

pub(super) fn load_agent(c: &Connection, org: &OrgId, id: &UserId) -> Result<Agent> {
    c.prepare_cached(static_sql!("{AGENT_SELECT} WHERE u.id = ?1 AND u.org_id = ?2 AND u.role = 'agent'"))?
        .query_row(params![id.as_str(), org.as_str()], agent_from_row)
        .optional()?
        .ok_or(StoreError::NotFound("agent"))
}

pub(super) fn save_agent(c: &Connection, a: &Agent) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO agents (user_id, org_id, skills, languages, department, max_concurrent_calls, status, break_reason, status_since, \
         status_ms, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
         ON CONFLICT (user_id) DO UPDATE SET skills = excluded.skills, languages = excluded.languages, department = excluded.department, \
         max_concurrent_calls = excluded.max_concurrent_calls, status = excluded.status, break_reason = excluded.break_reason, \
         status_since = excluded.status_since, status_ms = excluded.status_ms, updated_at = excluded.updated_at",
    )?
    .execute(params![
        a.id.as_str(),
        a.org_id.as_str(),
        serde_json::to_string(&a.skills)?,
        serde_json::to_string(&a.languages)?,
        a.department,
        a.max_concurrent_calls,
        a.status.as_str(),
        a.break_reason,
        ms(a.status_since),
        a.status_ms_json().to_string(),
        ms(a.created_at),
        ms(a.updated_at)
    ])?;
    Ok(())
}

#[async_trait]
impl AgentStore for SqliteStore {
    async fn get_agent(&self, org: &OrgId, id: &UserId) -> Result<Agent> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| load_agent(c, &org, &id)).await
    }

    async fn list_agents(&self, org: &OrgId, filter: &AgentFilter, page: Page) -> Result<(Vec<Agent>, u64)> {
        let mut cond = String::from("u.org_id = ? AND u.role = 'agent'");
        let mut args = vec![SqlValue::Text(org.to_string())];
        if let Some(d) = &filter.department {
            cond.push_str(" AND a.department = ?");
            args.push(SqlValue::Text(d.clone()));
        }
        if let Some(s) = filter.status {
            cond.push_str(" AND COALESCE(a.status, 'offline') = ?");
            args.push(SqlValue::Text(s.as_str().into()));
        }
        if let Some(k) = &filter.skill {
            // Skill names are letters, digits, '_' and '-' only (checked by the domain).
            cond.push_str(" AND json_extract(a.skills, '$.\"' || ? || '\"') IS NOT NULL");
            args.push(SqlValue::Text(k.clone()));
        }
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached(&format!(
                    "SELECT COUNT(*) FROM users u LEFT JOIN agents a ON a.user_id = u.id WHERE {cond}"
                ))?
                .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
            args.push(SqlValue::Integer(i64::from(page.limit)));
            args.push(SqlValue::Integer(page.offset() as i64));
            let rows = c
                .prepare_cached(&format!("{AGENT_SELECT} WHERE {cond} ORDER BY u.created_at, u.id LIMIT ? OFFSET ?"))?
                .query_map(params_from_iter(args.iter()), agent_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn update_agent(&self, org: &OrgId, id: &UserId, patch: AgentPatch, at: Timestamp) -> Result<Agent> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let mut a = load_agent(c, &org, &id)?;
            a.apply(patch, at);
            save_agent(c, &a)?;
            Ok(a)
        })
        .await
    }

    async fn agent_status_counts(&self) -> Result<Vec<(OrgId, AgentStatus, u64)>> {
        self.read(|c| {
            let rows: Vec<(String, String, i64)> = c
                .prepare_cached(
                    "SELECT a.org_id, a.status, COUNT(*) FROM agents a JOIN users u ON u.id = a.user_id AND u.role = 'agent' \
                     GROUP BY a.org_id, a.status",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows
                .into_iter()
                .filter_map(|(o, s, n)| Some((OrgId::from_trusted(o), AgentStatus::parse(&s)?, n.max(0) as u64)))
                .collect())
        })
        .await
    }

    async fn set_agent_status(&self, org: &OrgId, id: &UserId, to: AgentStatus, reason: Option<String>, at: Timestamp) -> Result<Agent> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let mut a = load_agent(c, &org, &id)?;
            let change = a.change_status(to, reason, at)?;
            save_agent(c, &a)?;
            if let Some(change) = change {
                insert_events(c, &[a.status_event(&change)])?;
            }
            Ok(a)
        })
        .await
    }
}
