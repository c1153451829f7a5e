//! Departments and queues on PostgreSQL (see [`crate::queues`]). Writes
//! that could close an overflow loop take a transaction-scoped advisory
//! lock per organisation first, so concurrent ones are checked in turn.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use switchboard_domain::id::{DepartmentId, QueueId};
use switchboard_domain::queues::{Department, Overflow, Queue, overflow_loop};
use switchboard_domain::{FieldError, OrgId};

use super::PgStore;
use super::rows::{conflict, ms};
use crate::queues::QueueStore;
use crate::{Page, Result, StoreError};

const DEPARTMENT_COLUMNS: &str = "id, org_id, name, description, created_at, updated_at";
pub(super) const QUEUE_COLUMNS: &str =
    "id, org_id, name, department_id, skills, priority, max_wait_secs, hours, overflow_type, overflow_target, created_at, updated_at";

fn department_from_row(r: &PgRow) -> Result<Department> {
    Ok(Department {
        id: DepartmentId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub(super) fn queue_from_row(r: &PgRow) -> Result<Queue> {
    let skills: serde_json::Value = r.try_get("skills")?;
    let hours: Option<serde_json::Value> = r.try_get("hours")?;
    let kind: Option<String> = r.try_get("overflow_type")?;
    let target: Option<String> = r.try_get("overflow_target")?;
    let priority: i32 = r.try_get("priority")?;
    let wait: i32 = r.try_get("max_wait_secs")?;
    Ok(Queue {
        id: QueueId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        name: r.try_get("name")?,
        department_id: r.try_get::<Option<String>, _>("department_id")?.map(DepartmentId::from_trusted),
        skills: serde_json::from_value(skills).unwrap_or_default(),
        priority: priority.clamp(0, 255) as u8,
        max_wait_secs: wait.max(0) as u32,
        hours: hours.and_then(|h| serde_json::from_value(h).ok()),
        overflow: match (kind.as_deref(), target) {
            (Some("queue"), Some(t)) => Some(Overflow::Queue(QueueId::from_trusted(t))),
            (Some("voicemail"), _) => Some(Overflow::Voicemail),
            (Some("number"), Some(t)) => Some(Overflow::Number(t)),
            _ => None,
        },
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn lock_queues(c: &mut PgConnection, org: &OrgId) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('queues:' || $1, 0))")
        .bind(org.as_str())
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn load_queue(c: &mut PgConnection, org: &OrgId, id: &str) -> Result<Option<Queue>> {
    sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE id = $1 AND org_id = $2"))
        .bind(id)
        .bind(org.as_str())
        .fetch_optional(&mut *c)
        .await?
        .as_ref()
        .map(queue_from_row)
        .transpose()
}

/// The references a queue makes exist, and its overflow closes no loop
/// (run with the organisation's queue lock held).
async fn check_queue(c: &mut PgConnection, q: &Queue) -> Result<()> {
    if let Some(d) = &q.department_id {
        let found: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM departments WHERE id = $1 AND org_id = $2)")
            .bind(d.as_str())
            .bind(q.org_id.as_str())
            .fetch_one(&mut *c)
            .await?;
        if !found {
            return Err(FieldError::new("departmentId", "no such department").into());
        }
    }
    if let Some(Overflow::Queue(target)) = &q.overflow
        && target != &q.id
        && load_queue(c, &q.org_id, target.as_str()).await?.is_none()
    {
        return Err(FieldError::new("overflow.target", "no such queue").into());
    }
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, overflow_target FROM queues WHERE org_id = $1 AND overflow_type = 'queue' AND id <> $2")
            .bind(q.org_id.as_str())
            .bind(q.id.as_str())
            .fetch_all(&mut *c)
            .await?;
    let overflow_of: HashMap<QueueId, QueueId> = rows
        .into_iter()
        .map(|(a, b)| (QueueId::from_trusted(a), QueueId::from_trusted(b)))
        .collect();
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

fn bind_queue<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    v: &Queue,
) -> Result<sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>> {
    Ok(q.bind(v.id.to_string())
        .bind(v.org_id.to_string())
        .bind(v.name.clone())
        .bind(v.department_id.as_ref().map(|d| d.to_string()))
        .bind(serde_json::to_value(&v.skills)?)
        .bind(i32::from(v.priority))
        .bind(v.max_wait_secs as i32)
        .bind(v.hours.as_ref().map(serde_json::to_value).transpose()?)
        .bind(v.overflow.as_ref().map(|o| o.kind().to_owned()))
        .bind(v.overflow.as_ref().and_then(Overflow::target))
        .bind(ms(v.created_at))
        .bind(ms(v.updated_at)))
}

#[async_trait]
impl QueueStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn create_department(&self, d: Department) -> Result<Department> {
        sqlx::query(&format!(
            "INSERT INTO departments ({DEPARTMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(d.id.as_str())
        .bind(d.org_id.as_str())
        .bind(&d.name)
        .bind(&d.description)
        .bind(ms(d.created_at))
        .bind(ms(d.updated_at))
        .execute(&self.pool)
        .await
        .map_err(conflict("a department with this name already exists"))?;
        Ok(d)
    }

    #[tracing::instrument(skip_all)]
    async fn get_department(&self, org: &OrgId, id: &DepartmentId) -> Result<Department> {
        sqlx::query(&format!(
            "SELECT {DEPARTMENT_COLUMNS} FROM departments WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(department_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("department"))
    }

    #[tracing::instrument(skip_all)]
    async fn list_departments(&self, org: &OrgId, page: Page) -> Result<(Vec<Department>, u64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM departments WHERE org_id = $1")
            .bind(org.as_str())
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT {DEPARTMENT_COLUMNS} FROM departments WHERE org_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
        ))
        .bind(org.as_str())
        .bind(i64::from(page.limit))
        .bind(page.offset() as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.iter().map(department_from_row).collect::<Result<_>>()?, total as u64))
    }

    #[tracing::instrument(skip_all)]
    async fn update_department(&self, d: Department) -> Result<Department> {
        let n = sqlx::query("UPDATE departments SET name = $3, description = $4, updated_at = $5 WHERE id = $1 AND org_id = $2")
            .bind(d.id.as_str())
            .bind(d.org_id.as_str())
            .bind(&d.name)
            .bind(&d.description)
            .bind(ms(d.updated_at))
            .execute(&self.pool)
            .await
            .map_err(conflict("a department with this name already exists"))?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("department"));
        }
        Ok(d)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_department(&self, org: &OrgId, id: &DepartmentId) -> Result<()> {
        let mut tx = self.begin().await?;
        lock_queues(&mut tx, org).await?;
        let queues: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queues WHERE org_id = $1 AND department_id = $2")
            .bind(org.as_str())
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let agents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agents WHERE org_id = $1 AND department = $2")
            .bind(org.as_str())
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if queues + agents > 0 {
            return Err(StoreError::Conflict(format!(
                "the department still has {queues} queue(s) and {agents} agent(s)"
            )));
        }
        let n = sqlx::query("DELETE FROM departments WHERE id = $1 AND org_id = $2")
            .bind(id.as_str())
            .bind(org.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("department"));
        }
        self.commit(tx, &[]).await
    }

    #[tracing::instrument(skip_all)]
    async fn create_queue(&self, q: Queue) -> Result<Queue> {
        let mut tx = self.begin().await?;
        lock_queues(&mut tx, &q.org_id).await?;
        check_queue(&mut tx, &q).await?;
        let sql = format!("INSERT INTO queues ({QUEUE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
        bind_queue(sqlx::query(&sql), &q)?
            .execute(&mut *tx)
            .await
            .map_err(conflict("a queue with this name already exists"))?;
        self.commit(tx, &[]).await?;
        Ok(q)
    }

    #[tracing::instrument(skip_all)]
    async fn get_queue(&self, org: &OrgId, id: &QueueId) -> Result<Queue> {
        let mut c = self.pool.acquire().await?;
        load_queue(&mut c, org, id.as_str()).await?.ok_or(StoreError::NotFound("queue"))
    }

    #[tracing::instrument(skip_all)]
    async fn list_queues(&self, org: &OrgId, department: Option<&DepartmentId>, page: Page) -> Result<(Vec<Queue>, u64)> {
        let department = department.map(|d| d.to_string());
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queues WHERE org_id = $1 AND ($2::text IS NULL OR department_id = $2)")
            .bind(org.as_str())
            .bind(&department)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT {QUEUE_COLUMNS} FROM queues WHERE org_id = $1 AND ($2::text IS NULL OR department_id = $2) \
             ORDER BY priority DESC, created_at, id LIMIT $3 OFFSET $4"
        ))
        .bind(org.as_str())
        .bind(&department)
        .bind(i64::from(page.limit))
        .bind(page.offset() as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.iter().map(queue_from_row).collect::<Result<_>>()?, total as u64))
    }

    #[tracing::instrument(skip_all)]
    async fn update_queue(&self, q: Queue) -> Result<Queue> {
        let mut tx = self.begin().await?;
        lock_queues(&mut tx, &q.org_id).await?;
        if load_queue(&mut tx, &q.org_id, q.id.as_str()).await?.is_none() {
            return Err(StoreError::NotFound("queue"));
        }
        check_queue(&mut tx, &q).await?;
        let sql = "UPDATE queues SET name = $3, department_id = $4, skills = $5, priority = $6, max_wait_secs = $7, hours = $8, \
                   overflow_type = $9, overflow_target = $10, created_at = $11, updated_at = $12 WHERE id = $1 AND org_id = $2";
        bind_queue(sqlx::query(sql), &q)?
            .execute(&mut *tx)
            .await
            .map_err(conflict("a queue with this name already exists"))?;
        self.commit(tx, &[]).await?;
        Ok(q)
    }

    #[tracing::instrument(skip_all)]
    async fn delete_queue(&self, org: &OrgId, id: &QueueId) -> Result<()> {
        let mut tx = self.begin().await?;
        lock_queues(&mut tx, org).await?;
        let feeding: Option<String> = sqlx::query_scalar(
            "SELECT id FROM queues WHERE org_id = $1 AND overflow_type = 'queue' AND overflow_target = $2 AND id <> $2 LIMIT 1",
        )
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(f) = feeding {
            return Err(StoreError::Conflict(format!("queue {f} overflows into this queue")));
        }
        let n = sqlx::query("DELETE FROM queues WHERE id = $1 AND org_id = $2")
            .bind(id.as_str())
            .bind(org.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("queue"));
        }
        self.commit(tx, &[]).await
    }
}
