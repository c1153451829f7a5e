//! Users, refresh tokens, the audit log, usage counters and server secrets on SQLite.

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use switchboard_domain::id::{AuditId, SessionId};
use switchboard_domain::{AuditEntry, OrgId, Role, Timestamp, User, UserId, UserStatus};

use super::SqliteStore;
use super::rows::{conflict, ms, opt_ms, opt_ts, parse_json, static_sql, ts};
use crate::{IdentityStore, Page, RefreshToken, Result, Spent, StoreError, UserFilter};

const USER_COLUMNS: &str =
    "id, org_id, email, name, role, status, preferences, failed_logins, locked_until, last_login_at, created_at, updated_at";

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(4)?;
    let status: String = r.get(5)?;
    Ok(User {
        id: UserId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        email: r.get(2)?,
        name: r.get(3)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        status: UserStatus::parse(&status).unwrap_or(UserStatus::Disabled),
        preferences: parse_json(r.get(6)?)?.unwrap_or_default(),
        failed_logins: r.get(7)?,
        locked_until: opt_ts(r.get(8)?),
        last_login_at: opt_ts(r.get(9)?),
        created_at: ts(r.get(10)?),
        updated_at: ts(r.get(11)?),
    })
}

fn audit_from_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: AuditId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        detail: parse_json(r.get(5)?)?,
        ip: r.get(6)?,
        created_at: ts(r.get(7)?),
    })
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn create_user(&self, user: User, password_hash: String) -> Result<User> {
        self.write(move |c| {
            c.prepare_cached(static_sql!(
                "INSERT INTO users ({USER_COLUMNS}, password_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ))?
            .execute(params![
                user.id.as_str(),
                user.org_id.as_str(),
                user.email,
                user.name,
                user.role.as_str(),
                user.status.as_str(),
                user.preferences.to_string(),
                user.failed_logins,
                opt_ms(user.locked_until),
                opt_ms(user.last_login_at),
                ms(user.created_at),
                ms(user.updated_at),
                password_hash
            ])
            .map_err(conflict("a user with this e-mail already exists in this organisation"))?;
            Ok(user)
        })
        .await
    }

    async fn get_user(&self, org: &OrgId, id: &UserId) -> Result<User> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| {
            c.prepare_cached(static_sql!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1 AND org_id = ?2"))?
                .query_row(params![id.as_str(), org.as_str()], user_from_row)
                .optional()?
                .ok_or(StoreError::NotFound("user"))
        })
        .await
    }

    async fn user_by_email(&self, email: &str, org: Option<&OrgId>) -> Result<Option<(User, String)>> {
        let (email, org) = (email.to_owned(), org.map(|o| o.to_string()));
        self.read(move |c| {
            Ok(c.prepare_cached(static_sql!(
                "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?1 AND (?2 IS NULL OR org_id = ?2) \
                 ORDER BY created_at, id LIMIT 1"
            ))?
            .query_row(params![email, org], |r| Ok((user_from_row(r)?, r.get(12)?)))
            .optional()?)
        })
        .await
    }

    async fn update_user(&self, user: User, password_hash: Option<String>) -> Result<User> {
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE users SET email = ?3, name = ?4, role = ?5, status = ?6, preferences = ?7, failed_logins = ?8, locked_until = ?9, \
                     last_login_at = ?10, updated_at = ?11, password_hash = COALESCE(?12, password_hash) WHERE id = ?1 AND org_id = ?2",
                )?
                .execute(params![
                    user.id.as_str(),
                    user.org_id.as_str(),
                    user.email,
                    user.name,
                    user.role.as_str(),
                    user.status.as_str(),
                    user.preferences.to_string(),
                    user.failed_logins,
                    opt_ms(user.locked_until),
                    opt_ms(user.last_login_at),
                    ms(user.updated_at),
                    password_hash
                ])
                .map_err(conflict("a user with this e-mail already exists in this organisation"))?;
            if n == 0 {
                return Err(StoreError::NotFound("user"));
            }
            Ok(user)
        })
        .await
    }

    async fn list_users(&self, org: &OrgId, filter: &UserFilter, page: Page) -> Result<(Vec<User>, u64)> {
        let mut cond = String::from("org_id = ?");
        let mut args = vec![SqlValue::Text(org.to_string())];
        if let Some(r) = filter.role {
            cond.push_str(" AND role = ?");
            args.push(SqlValue::Text(r.as_str().into()));
        }
        if let Some(s) = filter.status {
            cond.push_str(" AND status = ?");
            args.push(SqlValue::Text(s.as_str().into()));
        }
        if let Some(q) = &filter.search {
            let pattern = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            cond.push_str(" AND (name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\')");
            args.extend([SqlValue::Text(pattern.clone()), SqlValue::Text(pattern)]);
        }
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM users WHERE {cond}"))?
                .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
            args.push(SqlValue::Integer(i64::from(page.limit)));
            args.push(SqlValue::Integer(page.offset() as i64));
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {cond} ORDER BY created_at, id LIMIT ? OFFSET ?");
            let rows = c
                .prepare_cached(&sql)?
                .query_map(params_from_iter(args.iter()), user_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn save_refresh_token(&self, t: RefreshToken) -> Result<()> {
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO refresh_tokens (hash, session_id, user_id, org_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                t.hash,
                t.session.as_str(),
                t.user_id.as_str(),
                t.org_id.as_str(),
                ms(t.created_at),
                ms(t.expires_at)
            ])?;
            Ok(())
        })
        .await
    }

    async fn spend_refresh_token(&self, hash: &str, now: Timestamp) -> Result<Spent> {
        let hash = hash.to_owned();
        self.write(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT session_id, user_id, org_id, created_at, expires_at, used_at, revoked_at FROM refresh_tokens WHERE hash = ?1",
                )?
                .query_row([&hash], |r| {
                    Ok((
                        RefreshToken {
                            hash: hash.clone(),
                            session: SessionId::from_trusted(r.get(0)?),
                            user_id: UserId::from_trusted(r.get(1)?),
                            org_id: OrgId::from_trusted(r.get(2)?),
                            created_at: ts(r.get(3)?),
                            expires_at: ts(r.get(4)?),
                        },
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                    ))
                })
                .optional()?;
            let Some((token, used, revoked)) = row else {
                return Ok(Spent::Invalid);
            };
            if used.is_some() {
                // A spent token came back: someone holds a copy. End the whole login.
                c.prepare_cached("UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE session_id = ?1")?
                    .execute(params![token.session.as_str(), ms(now)])?;
                return Ok(Spent::Reused(token.session));
            }
            if revoked.is_some() || token.expires_at <= now {
                return Ok(Spent::Invalid);
            }
            c.prepare_cached("UPDATE refresh_tokens SET used_at = ?2 WHERE hash = ?1")?
                .execute(params![hash, ms(now)])?;
            Ok(Spent::Fresh(token))
        })
        .await
    }

    async fn revoke_session(&self, session: &SessionId, now: Timestamp) -> Result<()> {
        let session = session.clone();
        self.write(move |c| {
            c.prepare_cached("UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE session_id = ?1")?
                .execute(params![session.as_str(), ms(now)])?;
            Ok(())
        })
        .await
    }

    async fn session_revoked(&self, session: &SessionId) -> Result<bool> {
        let session = session.clone();
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT EXISTS(SELECT 1 FROM refresh_tokens WHERE session_id = ?1 AND revoked_at IS NOT NULL)")?
                    .query_row([session.as_str()], |r| r.get(0))?,
            )
        })
        .await
    }

    async fn append_audit(&self, e: AuditEntry) -> Result<()> {
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO audit_log (id, org_id, actor, action, target, detail, ip, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                e.id.as_str(),
                e.org_id.as_str(),
                e.actor,
                e.action,
                e.target,
                e.detail.as_ref().map(|d| d.to_string()),
                e.ip,
                ms(e.created_at)
            ])?;
            Ok(())
        })
        .await
    }

    async fn list_audit(&self, org: &OrgId, page: Page) -> Result<(Vec<AuditEntry>, u64)> {
        let org = org.clone();
        self.read(move |c| {
            let total: i64 = c.prepare_cached("SELECT COUNT(*) FROM audit_log WHERE org_id = ?1")?.query_row([org.as_str()], |r| r.get(0))?;
            let rows = c
                .prepare_cached("SELECT id, org_id, actor, action, target, detail, ip, created_at FROM audit_log WHERE org_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3")?
                .query_map(params![org.as_str(), page.limit, page.offset() as i64], audit_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn calls_in_month(&self, org: &OrgId, month: &str, from: Timestamp, to: Timestamp) -> Result<u64> {
        let (org, month) = (org.clone(), month.to_owned());
        self.read(move |c| {
            let counted: Option<i64> = c
                .prepare_cached("SELECT calls FROM usage_months WHERE org_id = ?1 AND month = ?2")?
                .query_row(params![org.as_str(), month], |r| r.get(0))
                .optional()?;
            if let Some(n) = counted {
                return Ok(n as u64);
            }
            let n: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM calls WHERE org_id = ?1 AND created_at >= ?2 AND created_at < ?3")?
                .query_row(params![org.as_str(), ms(from), ms(to)], |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    async fn server_secret(&self, name: &str, candidate: String) -> Result<String> {
        let name = name.to_owned();
        self.write(move |c| {
            c.prepare_cached("INSERT INTO server_settings (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING")?
                .execute(params![name, candidate])?;
            Ok(c.prepare_cached("SELECT value FROM server_settings WHERE name = ?1")?
                .query_row([name], |r| r.get(0))?)
        })
        .await
    }
}
