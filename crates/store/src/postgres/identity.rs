//! Users, refresh tokens, the audit log, usage counters and server secrets on PostgreSQL.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use switchboard_domain::id::{AuditId, SessionId};
use switchboard_domain::{AuditEntry, OrgId, Role, Timestamp, User, UserId, UserStatus};

use super::PgStore;
use super::rows::{Lock, conflict, ms, opt_ms, row_in_org};
use crate::{IdentityStore, Page, RefreshToken, Result, Spent, StoreError, UserFilter};

const USER_COLUMNS: &str =
    "id, org_id, email, name, role, status, preferences, failed_logins, locked_until, last_login_at, created_at, updated_at";

fn user_from_row(r: &PgRow) -> Result<User> {
    let role: String = r.try_get("role")?;
    let status: String = r.try_get("status")?;
    let failed: i32 = r.try_get("failed_logins")?;
    Ok(User {
        id: UserId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        status: UserStatus::parse(&status).unwrap_or(UserStatus::Disabled),
        preferences: r.try_get("preferences")?,
        failed_logins: failed.max(0) as u32,
        locked_until: r.try_get("locked_until")?,
        last_login_at: r.try_get("last_login_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn audit_from_row(r: &PgRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: AuditId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        detail: r.try_get("detail")?,
        ip: r.try_get("ip")?,
        created_at: r.try_get("created_at")?,
    })
}

#[async_trait]
impl IdentityStore for PgStore {
    async fn create_user(&self, user: User, password_hash: String) -> Result<User> {
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}, password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(user.id.as_str())
        .bind(user.org_id.as_str())
        .bind(&user.email)
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(user.status.as_str())
        .bind(&user.preferences)
        .bind(user.failed_logins as i32)
        .bind(opt_ms(user.locked_until))
        .bind(opt_ms(user.last_login_at))
        .bind(ms(user.created_at))
        .bind(ms(user.updated_at))
        .bind(password_hash)
        .execute(&self.pool)
        .await
        .map_err(conflict("a user with this e-mail already exists in this organisation"))?;
        Ok(user)
    }

    async fn get_user(&self, org: &OrgId, id: &UserId) -> Result<User> {
        row_in_org(&self.pool, ("users", USER_COLUMNS), org, id.as_str(), Lock::None, user_from_row)
            .await?
            .ok_or(StoreError::NotFound("user"))
    }

    async fn user_by_email(&self, email: &str, org: Option<&OrgId>) -> Result<Option<(User, String)>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1 AND ($2::TEXT IS NULL OR org_id = $2) \
             ORDER BY created_at, id LIMIT 1"
        ))
        .bind(email)
        .bind(org.map(|o| o.as_str()))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(|r| Ok((user_from_row(r)?, r.try_get("password_hash")?)))
            .transpose()
    }

    async fn update_user(&self, user: User, password_hash: Option<String>) -> Result<User> {
        let done = sqlx::query(
            "UPDATE users SET email = $3, name = $4, role = $5, status = $6, preferences = $7, failed_logins = $8, locked_until = $9, \
             last_login_at = $10, updated_at = $11, password_hash = COALESCE($12, password_hash) WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2",
        )
        .bind(user.id.as_str())
        .bind(user.org_id.as_str())
        .bind(&user.email)
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(user.status.as_str())
        .bind(&user.preferences)
        .bind(user.failed_logins as i32)
        .bind(opt_ms(user.locked_until))
        .bind(opt_ms(user.last_login_at))
        .bind(ms(user.updated_at))
        .bind(password_hash)
        .execute(&self.pool)
        .await
        .map_err(conflict("a user with this e-mail already exists in this organisation"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(user)
    }

    async fn list_users(&self, org: &OrgId, filter: &UserFilter, page: Page) -> Result<(Vec<User>, u64)> {
        let build = |select: &str| {
            let mut q: QueryBuilder<Postgres> = QueryBuilder::new(select);
            q.push(" FROM users WHERE org_id = ").push_bind(org.to_string());
            if let Some(r) = filter.role {
                q.push(" AND role = ").push_bind(r.as_str());
            }
            if let Some(s) = filter.status {
                q.push(" AND status = ").push_bind(s.as_str());
            }
            if let Some(search) = &filter.search {
                let pattern = format!("%{}%", search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
                q.push(" AND (name ILIKE ")
                    .push_bind(pattern.clone())
                    .push(" OR email ILIKE ")
                    .push_bind(pattern)
                    .push(")");
            }
            q
        };
        let total: i64 = build("SELECT COUNT(*)").build_query_scalar().fetch_one(&self.pool).await?;
        let mut q = build(&format!("SELECT {USER_COLUMNS}"));
        q.push(" ORDER BY created_at, id LIMIT ")
            .push_bind(i64::from(page.limit))
            .push(" OFFSET ")
            .push_bind(page.offset() as i64);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok((rows.iter().map(user_from_row).collect::<Result<_>>()?, total as u64))
    }

    async fn save_refresh_token(&self, t: RefreshToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, session_id, user_id, org_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.hash)
        .bind(t.session.as_str())
        .bind(t.user_id.as_str())
        .bind(t.org_id.as_str())
        .bind(ms(t.created_at))
        .bind(ms(t.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn spend_refresh_token(&self, hash: &str, now: Timestamp) -> Result<Spent> {
        let mut tx = self.pool.begin().await?;
        // The row lock makes two concurrent uses of one token see each other.
        let row = sqlx::query("SELECT session_id, user_id, org_id, created_at, expires_at, used_at, revoked_at FROM refresh_tokens WHERE hash = $1 FOR UPDATE")
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(Spent::Invalid) };
        let token = RefreshToken {
            hash: hash.to_owned(),
            session: SessionId::from_trusted(row.try_get("session_id")?),
            user_id: UserId::from_trusted(row.try_get("user_id")?),
            org_id: OrgId::from_trusted(row.try_get("org_id")?),
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        };
        let used: Option<Timestamp> = row.try_get("used_at")?;
        let revoked: Option<Timestamp> = row.try_get("revoked_at")?;
        if used.is_some() {
            // A spent token came back: someone holds a copy. End the whole login.
            sqlx::query("UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE session_id = $1")
                .bind(token.session.as_str())
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Spent::Reused(token.session));
        }
        if revoked.is_some() || token.expires_at <= now {
            return Ok(Spent::Invalid);
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1")
            .bind(hash)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Spent::Fresh(token))
    }

    async fn revoke_session(&self, session: &SessionId, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE session_id = $1")
            .bind(session.as_str())
            .bind(ms(now))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session_revoked(&self, session: &SessionId) -> Result<bool> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM refresh_tokens WHERE session_id = $1 AND revoked_at IS NOT NULL)")
                .bind(session.as_str())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn append_audit(&self, e: AuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (id, org_id, actor, action, target, detail, ip, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(e.id.as_str())
        .bind(e.org_id.as_str())
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.detail)
        .bind(&e.ip)
        .bind(ms(e.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_audit(&self, org: &OrgId, page: Page) -> Result<(Vec<AuditEntry>, u64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE org_id = $1")
            .bind(org.as_str())
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query("SELECT id, org_id, actor, action, target, detail, ip, created_at FROM audit_log WHERE org_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3")
            .bind(org.as_str())
            .bind(i64::from(page.limit))
            .bind(page.offset() as i64)
            .fetch_all(&self.pool)
            .await?;
        Ok((rows.iter().map(audit_from_row).collect::<Result<_>>()?, total as u64))
    }

    async fn calls_in_month(&self, org: &OrgId, month: &str, from: Timestamp, to: Timestamp) -> Result<u64> {
        let counted: Option<i64> = sqlx::query_scalar("SELECT calls FROM usage_months WHERE org_id = $1 AND month = $2")
            .bind(org.as_str())
            .bind(month)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(n) = counted {
            return Ok(n as u64);
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calls WHERE org_id = $1 AND created_at >= $2 AND created_at < $3")
            .bind(org.as_str())
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    async fn server_secret(&self, name: &str, candidate: String) -> Result<String> {
        sqlx::query("INSERT INTO server_settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_scalar("SELECT value FROM server_settings WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?)
    }
}
