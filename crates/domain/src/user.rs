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
    "agents.view",
    "agents.manage",
    "queues.view",
    "queues.manage",
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
                        || p.starts_with("agents.")
                        || p.starts_with("queues.")
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

/// Shortest password accepted. Logins here are single-factor, for which
/// NIST SP 800-63B-4 (§3.1.1.2) asks for at least 15 characters.
pub const MIN_PASSWORD_CHARS: usize = 15;
/// Longest password accepted (NIST asks that at least 64 be allowed).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The common-password list (see `data/README.md`): lower-cased, one a line.
static COMMON: std::sync::LazyLock<std::collections::HashSet<&'static str>> = std::sync::LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Is `lower` (lower-cased) on the common-password list?
pub fn is_common_password(lower: &str) -> bool {
    COMMON.contains(lower)
}

/// Checks a new password as NIST SP 800-63B asks: a length of 15 to 256
/// characters (any characters, spaces included; no rules about classes of
/// character), and not a password that is easy to guess — one on the
/// common-password list (also with digits or symbols added around it), one
/// short pattern repeated, a run of consecutive characters, or containing
/// the e-mail's name or the service's. The error says which.
pub fn check_password(password: &str, email: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "must be at least {MIN_PASSWORD_CHARS} characters (it has {chars}); a few unrelated words make a password that is long and easy to remember"
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    if password.contains('\0') {
        return Err("must not contain NUL characters".into());
    }
    let lower = password.to_lowercase();
    if is_common_password(&lower) {
        return Err("is one of the most common passwords, found in breached-password lists; choose another".into());
    }
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    if core.chars().count() >= 4 && core != lower && is_common_password(core) {
        return Err(format!(
            "is a common password ('{core}', found in breached-password lists) with digits or symbols added; choose another"
        ));
    }
    if let Some(unit) = repeated_unit(&lower) {
        return Err(format!("repeats '{unit}' over and over; choose something less predictable"));
    }
    if is_sequence(&lower) {
        return Err("is a run of consecutive characters (like 123456… or abcdef…); choose something less predictable".into());
    }
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if local.chars().count() >= 3 && lower.contains(&local) {
        return Err("must not contain your e-mail name".into());
    }
    if lower.contains("switchboard") {
        return Err("must not contain the name of this service".into());
    }
    Ok(())
}

/// The unit a password repeats (`abcabcabc…` → `abc`), when it is only
/// that unit over and over (twice at least).
fn repeated_unit(s: &str) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    (1..=n / 2)
        .find(|len| n.is_multiple_of(*len) && chars.chunks(*len).all(|c| c == &chars[..*len]))
        .map(|len| chars[..len].iter().collect())
}

/// Every character one above (or one below) the one before it; digits
/// wrap around (`…7890123…`).
fn is_sequence(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let next = |a: char, b: char, d: i64| {
        let diff = i64::from(u32::from(b)) - i64::from(u32::from(a));
        diff == d || a.is_ascii_digit() && b.is_ascii_digit() && diff.rem_euclid(10) == d.rem_euclid(10)
    };
    [1, -1].iter().any(|d| chars.windows(2).all(|w| next(w[0], w[1], *d)))
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
        // NIST SP 800-63B: length and a breached list, no composition rules.
        assert!(
            check_password("my cat sleeps on the warm rug", "a@b.co").is_ok(),
            "a lower-case passphrase"
        );
        assert!(check_password("Correct-horse-9", "a@b.co").is_ok());
        assert!(check_password("ünïcödé wörds äré fïné", "a@b.co").is_ok());
        let why = |p: &str| check_password(p, "priya.sharma@x.com").expect_err(p);
        assert!(why("Password1!").contains("at least 15 characters (it has 10)"));
        assert!(why("short1A").contains("at least 15"));
        assert!(why(&"x".repeat(257)).contains("at most 256"));
        assert!(check_password(&"x".repeat(256), "a@b.co").unwrap_err().contains("repeats 'x'"));
        // On the list (which holds 15-character ones too), or a listed word with digits and symbols added.
        let listed = COMMON.iter().find(|p| p.chars().count() >= 15).unwrap();
        assert!(why(listed).contains("most common passwords"), "{listed}");
        assert!(why("Password123456789!").contains("'password'"));
        assert!(why("!!qwertyuiop2024!!").contains("'qwertyuiop'"));
        assert!(why("passwordpassword").contains("repeats 'password'"));
        assert!(why("abcabcabcabcabcabc").contains("repeats 'abc'"));
        assert!(why("123456789012345").contains("consecutive"), "digits wrap around");
        assert!(why("987654321098765").contains("consecutive"));
        assert!(why("abcdefghijklmnopq").contains("consecutive"));
        assert!(why("zyxwvutsrqponmlkj").contains("consecutive"));
        assert!(why("Priya.sharma-2025-spring").contains("e-mail name"));
        assert!(why("my switchboard login!").contains("service"));
    }

    #[test]
    fn scopes() {
        assert!(grants(&["*".into()], "calls.view"));
        assert!(grants(&["calls.view".into()], "calls.view"));
        assert!(!grants(&["calls.view".into()], "calls.create"));
    }
}
