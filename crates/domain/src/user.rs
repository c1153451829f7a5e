//! Users, roles and permissions.
//!
//! A role is a fixed set of permission strings (`calls.view`,
//! `campaigns.manage`, ...). API keys carry scopes from the same set; `*`
//! grants everything.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Timestamp;
use crate::id::{AuditId, OrgId, UserId};

/// Every permission, as declared by routes.
pub const PERMISSIONS: &[&str] = &[
    "calls.view",
    "calls.create",
    "calls.update",
    "calls.delete",
    "calls.export",
    "contacts.view",
    "contacts.create",
    "contacts.update",
    "contacts.delete",
    "analytics.view",
    "campaigns.view",
    "campaigns.manage",
    "templates.view",
    "templates.manage",
    "lists.view",
    "lists.manage",
    "dnc.view",
    "dnc.manage",
    "webhooks.view",
    "webhooks.manage",
    "users.view",
    "users.manage",
    "keys.view",
    "keys.manage",
    "org.view",
    "org.update",
    "org.plan",
    "audit.view",
    "usage.view",
];

/// The grant that covers every permission.
pub const ALL: &str = "*";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Agent,
    Manager,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Owner, Role::Admin, Role::Manager, Role::Agent, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The permissions this role holds.
    pub fn permissions(self) -> Vec<&'static str> {
        let view = |p: &&str| p.ends_with(".view") && !matches!(*p, "users.view" | "keys.view" | "audit.view");
        PERMISSIONS
            .iter()
            .copied()
            .filter(|p| match self {
                Role::Owner => true,
                // Everything but the plan, which stays with the owner.
                Role::Admin => *p != "org.plan",
                // Runs the floor: campaigns, templates, lists, contacts, calls, exports.
                Role::Manager => {
                    view(p)
                        || p.starts_with("calls.")
                        || p.starts_with("contacts.")
                        || p.starts_with("campaigns.")
                        || p.starts_with("templates.")
                        || p.starts_with("lists.")
                        || p.starts_with("dnc.")
                        || *p == "users.view"
                }
                // Works calls and the contacts on them.
                Role::Agent => {
                    view(p) && *p != "webhooks.view"
                        || matches!(*p, "calls.create" | "calls.update" | "contacts.create" | "contacts.update")
                }
                Role::Viewer => view(p) && *p != "webhooks.view",
            })
            .collect()
    }

    pub fn allows(self, permission: &str) -> bool {
        self.permissions().contains(&permission)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Do `scopes` (an API key's, or a role's list) grant `permission`?
pub fn grants(scopes: &[String], permission: &str) -> bool {
    scopes.iter().any(|s| s == ALL || s == permission)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(UserStatus::Active),
            "disabled" => Some(UserStatus::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    /// Lower-case; unique across the installation (it is the login).
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub status: UserStatus,
    /// Free settings: `timeZone`, `language`, ...
    pub preferences: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Consecutive failed logins.
    pub failed_logins: u32,
    pub locked_until: Option<Timestamp>,
    pub last_login_at: Option<Timestamp>,
}

/// Who did what, when: logins, key and role changes, campaign starts, exports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: AuditId,
    pub org_id: OrgId,
    /// `usr_...`, `key_...` or `system`.
    pub actor: String,
    /// `auth.login`, `auth.login_failed`, `key.created`, `key.revoked`, `user.role_changed`, ...
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<Value>,
    pub ip: Option<String>,
    pub created_at: Timestamp,
}

/// Passwords must be at least 10 characters and mix at least three of:
/// lower case, upper case, digits, other characters; and must not contain
/// the e-mail's local part.
pub fn check_password(password: &str, email: &str) -> Result<(), &'static str> {
    if password.chars().count() < 10 {
        return Err("must be at least 10 characters");
    }
    if password.len() > 256 {
        return Err("must be at most 256 bytes");
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|c| **c).count() < 3 {
        return Err("must mix at least three of: lower case, upper case, digits, symbols");
    }
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if local.len() >= 3 && password.to_lowercase().contains(&local) {
        return Err("must not contain your e-mail name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest() {
        for p in Role::Viewer.permissions() {
            assert!(Role::Agent.allows(p), "{p}");
        }
        for p in Role::Agent.permissions() {
            assert!(Role::Manager.allows(p), "{p}");
        }
        for p in Role::Manager.permissions() {
            assert!(Role::Admin.allows(p), "{p}");
        }
        assert!(!Role::Admin.allows("org.plan") && Role::Owner.allows("org.plan"));
        assert!(!Role::Viewer.allows("calls.create") && Role::Agent.allows("calls.create"));
        assert!(!Role::Agent.allows("campaigns.manage") && Role::Manager.allows("campaigns.manage"));
        assert!(!Role::Manager.allows("users.manage") && Role::Admin.allows("users.manage"));
        assert!(Role::parse("ADMIN") == Some(Role::Admin) && Role::parse("root").is_none());
    }

    #[test]
    fn password_rule() {
        assert!(check_password("short1A", "a@b.co").is_err());
        assert!(check_password("alllowercaseletters", "a@b.co").is_err());
        assert!(check_password("Correct-horse-9", "a@b.co").is_ok());
        assert!(check_password("Priya.sharma-2025", "priya.sharma@x.com").is_err());
    }

    #[test]
    fn scopes() {
        assert!(grants(&["*".into()], "calls.view"));
        assert!(grants(&["calls.view".into()], "calls.view"));
        assert!(!grants(&["calls.view".into()], "calls.create"));
    }
}
