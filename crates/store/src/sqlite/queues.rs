//! Departments and queues on SQLite (see [`crate::queues`]). The single
//! writer makes each overflow check see every committed queue.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use switchboard_domain::id::{DepartmentId, QueueId};
use switchboard_domain::queues::{Department, Overflow, Queue, overflow_loop};
use switchboard_domain::{FieldError, OrgId};

use super::SqliteStore;
use super::rows::{conflict, ms, ts};
use crate::queues::QueueStore;
use crate::{Page, Result, StoreError};

const DEPARTMENT_COLUMNS: &str = "id, org_id, name, description, created_at, updated_at";
pub(super) const QUEUE_COLUMNS: &str =
    "id, org_id, name, department_id, skills, priority, max_wait_secs, hours, overflow_type, overflow_target, created_at, updated_at";

fn department_from_row(r: &Row<'_>) -> rusqlite::Result<Department> {
    Ok(Department {
        id: DepartmentId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        name: r.get(2)?,
        description: r.get(3)?,
        created_at: ts(r.get(4)?),
        updated_at: ts(r.get(5)?),
    })
}

pub(super) fn overflow_from_parts(kind: Option<&str>, target: Option<String>) -> Option<Overflow> {
    match (kind, target) {
        (Some("queue"), Some(t)) => Some(Overflow::Queue(QueueId::from_trusted(t))),
        (Some("voicemail"), _) => Some(Overflow::Voicemail),
        (Some("number"), Some(t)) => Some(Overflow::Number(t)),
        _ => None,
    }
}

pub(super) fn queue_from_row(r: &Row<'_>) -> rusqlite::Result<Queue> {
    let skills: String = r.get(4)?;
    let hours: Option<String> = r.get(7)?;
    let kind: Option<String> = r.get(8)?;
    Ok(Queue {
        id: QueueId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        name: r.get(2)?,
        department_id: r.get::<_, Option<String>>(3)?.map(DepartmentId::from_trusted),
        skills: serde_json::from_str(&skills).unwrap_or_default(),
        priority: r.get(5)?,
        max_wait_secs: r.get(6)?,
        hours: hours.and_then(|h| serde_json::from_str(&h).ok()),
        overflow: overflow_from_parts(kind.as_deref(), r.get(9)?),
        created_at: ts(r.get(10)?),
        updated_at: ts(r.get(11)?),
    })
}

fn load_queue(c: &Connection, org: &OrgId, id: &str) -> Result<Option<Queue>> {
    Ok(
        c.prepare_cached(&format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE id = ?1 AND org_id = ?2"))?
            .query_row(params![id, org.as_str()], queue_from_row)
            .optional()?,
    )
}

/// The references a queue makes exist, and its overflow closes no loop.
fn check_queue(c: &Connection, q: &Queue) -> Result<()> {
    if let Some(d) = &q.department_id {
        let found: bool = c
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM departments WHERE id = ?1 AND org_id = ?2)")?
            .query_row(params![d.as_str(), q.org_id.as_str()], |r| r.get(0))?;
        if !found {
            return Err(FieldError::new("departmentId", "no such department").into());
        }
    }
    if let Some(Overflow::Queue(target)) = &q.overflow
        && target != &q.id
        && load_queue(c, &q.org_id, target.as_str())?.is_none()
    {
        return Err(FieldError::new("overflow.target", "no such queue").into());
    }
    let overflow_of: HashMap<QueueId, QueueId> = c
        .prepare_cached("SELECT id, overflow_target FROM queues WHERE org_id = ?1 AND overflow_type = 'queue' AND id <> ?2")?
        .query_map(params![q.org_id.as_str(), q.id.as_str()], |r| {
            Ok((QueueId::from_trusted(r.get(0)?), QueueId::from_trusted(r.get(1)?)))
        })?
        .collect::<rusqlite::Result<_>>()?;
    if let Some(path) = overflow_loop(&q.id, q.overflow.as_ref(), &overflow_of) {
        let names: Vec<String> = path.iter().map(|p| p.to_string()).collect();
        return Err(FieldError::new(
            "overflow.target",
            format!("overflow would loop back to this queue: {}", names.join(" → ")),
        )
        .into());
    }
    Ok(())
}

fn queue_values(q: &Queue) -> Result<Vec<SqlValue>> {
    let text = |s: Option<String>| s.map_or(SqlValue::Null, SqlValue::Text);
    Ok(vec![
        SqlValue::Text(q.id.to_string()),
        SqlValue::Text(q.org_id.to_string()),
        SqlValue::Text(q.name.clone()),
        text(q.department_id.as_ref().map(|d| d.to_string())),
        SqlValue::Text(serde_json::to_string(&q.skills)?),
        SqlValue::Integer(i64::from(q.priority)),
        SqlValue::Integer(i64::from(q.max_wait_secs)),
        text(q.hours.as_ref().map(serde_json::to_string).transpose()?),
        text(q.overflow.as_ref().map(|o| o.kind().to_owned())),
        text(q.overflow.as_ref().and_then(Overflow::target)),
        SqlValue::Integer(ms(q.created_at)),
        SqlValue::Integer(ms(q.updated_at)),
    ])
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn create_department(&self, d: Department) -> Result<Department> {
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO departments ({DEPARTMENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?
            .execute(params![
                d.id.as_str(),
                d.org_id.as_str(),
                d.name,
                d.description,
                ms(d.created_at),
                ms(d.updated_at)
            ])
            .map_err(conflict("a department with this name already exists"))?;
            Ok(d)
        })
        .await
    }

    async fn get_department(&self, org: &OrgId, id: &DepartmentId) -> Result<Department> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {DEPARTMENT_COLUMNS} FROM departments WHERE id = ?1 AND org_id = ?2"
            ))?
            .query_row(params![id.as_str(), org.as_str()], department_from_row)
            .optional()?
            .ok_or(StoreError::NotFound("department"))
        })
        .await
    }

    async fn list_departments(&self, org: &OrgId, page: Page) -> Result<(Vec<Department>, u64)> {
        let org = org.clone();
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM departments WHERE org_id = ?1")?
                .query_row([org.as_str()], |r| r.get(0))?;
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {DEPARTMENT_COLUMNS} FROM departments WHERE org_id = ?1 ORDER BY created_at, id LIMIT ?2 OFFSET ?3"
                ))?
                .query_map(
                    params![org.as_str(), i64::from(page.limit), page.offset() as i64],
                    department_from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn update_department(&self, d: Department) -> Result<Department> {
        self.write(move |c| {
            let n = c
                .prepare_cached("UPDATE departments SET name = ?3, description = ?4, updated_at = ?5 WHERE id = ?1 AND org_id = ?2")?
                .execute(params![d.id.as_str(), d.org_id.as_str(), d.name, d.description, ms(d.updated_at)])
                .map_err(conflict("a department with this name already exists"))?;
            if n == 0 {
                return Err(StoreError::NotFound("department"));
            }
            Ok(d)
        })
        .await
    }

    async fn delete_department(&self, org: &OrgId, id: &DepartmentId) -> Result<()> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let queues: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM queues WHERE org_id = ?1 AND department_id = ?2")?
                .query_row(params![org.as_str(), id.as_str()], |r| r.get(0))?;
            let agents: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM agents WHERE org_id = ?1 AND department = ?2")?
                .query_row(params![org.as_str(), id.as_str()], |r| r.get(0))?;
            if queues + agents > 0 {
                return Err(StoreError::Conflict(format!(
                    "the department still has {queues} queue(s) and {agents} agent(s)"
                )));
            }
            let n = c
                .prepare_cached("DELETE FROM departments WHERE id = ?1 AND org_id = ?2")?
                .execute(params![id.as_str(), org.as_str()])?;
            if n == 0 {
                return Err(StoreError::NotFound("department"));
            }
            Ok(())
        })
        .await
    }

    async fn create_queue(&self, q: Queue) -> Result<Queue> {
        self.write(move |c| {
            check_queue(c, &q)?;
            c.prepare_cached(&format!(
                "INSERT INTO queues ({QUEUE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?
            .execute(params_from_iter(queue_values(&q)?))
            .map_err(conflict("a queue with this name already exists"))?;
            Ok(q)
        })
        .await
    }

    async fn get_queue(&self, org: &OrgId, id: &QueueId) -> Result<Queue> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| load_queue(c, &org, id.as_str())?.ok_or(StoreError::NotFound("queue")))
            .await
    }

    async fn list_queues(&self, org: &OrgId, department: Option<&DepartmentId>, page: Page) -> Result<(Vec<Queue>, u64)> {
        let (org, department) = (org.clone(), department.map(|d| d.to_string()));
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM queues WHERE org_id = ?1 AND (?2 IS NULL OR department_id = ?2)")?
                .query_row(params![org.as_str(), department], |r| r.get(0))?;
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {QUEUE_COLUMNS} FROM queues WHERE org_id = ?1 AND (?2 IS NULL OR department_id = ?2) \
                     ORDER BY priority DESC, created_at, id LIMIT ?3 OFFSET ?4"
                ))?
                .query_map(
                    params![org.as_str(), department, i64::from(page.limit), page.offset() as i64],
                    queue_from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn update_queue(&self, q: Queue) -> Result<Queue> {
        self.write(move |c| {
            if load_queue(c, &q.org_id, q.id.as_str())?.is_none() {
                return Err(StoreError::NotFound("queue"));
            }
            check_queue(c, &q)?;
            let v = queue_values(&q)?;
            c.prepare_cached(
                "UPDATE queues SET name = ?3, department_id = ?4, skills = ?5, priority = ?6, max_wait_secs = ?7, hours = ?8, \
                 overflow_type = ?9, overflow_target = ?10, updated_at = ?12 WHERE id = ?1 AND org_id = ?2",
            )?
            .execute(params_from_iter(v))
            .map_err(conflict("a queue with this name already exists"))?;
            Ok(q)
        })
        .await
    }

    async fn delete_queue(&self, org: &OrgId, id: &QueueId) -> Result<()> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let feeding: Option<String> = c
                .prepare_cached(
                    "SELECT id FROM queues WHERE org_id = ?1 AND overflow_type = 'queue' AND overflow_target = ?2 AND id <> ?2 LIMIT 1",
                )?
                .query_row(params![org.as_str(), id.as_str()], |r| r.get(0))
                .optional()?;
            if let Some(f) = feeding {
                return Err(StoreError::Conflict(format!("queue {f} overflows into this queue")));
            }
            let n = c
                .prepare_cached("DELETE FROM queues WHERE id = ?1 AND org_id = ?2")?
                .execute(params![id.as_str(), org.as_str()])?;
            if n == 0 {
                return Err(StoreError::NotFound("queue"));
            }
            Ok(())
        })
        .await
    }
}
