//! Passwords (argon2id) and brute-force defence: failed logins are slowed,
//! then locked out for a while, per account (stored with the user, so every
//! node sees it) and per client IP (in Redis when one is configured, so
//! every node sees it too; else in memory on each node).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use redis::aio::ConnectionManager;
use switchboard_domain::{Timestamp, User};

use crate::config::Config;

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A hash of nothing, verified against when the e-mail is unknown so that
/// unknown and known accounts answer equally slowly.
static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash_password("decoy-password-for-timing"));

pub fn verify_decoy(password: &str) {
    let _ = verify_password(password, &DECOY);
}

#[derive(Debug, Default, Clone, Copy)]
struct IpRecord {
    failures: u32,
    locked_until: Option<Timestamp>,
}

pub struct LoginGuard {
    lockout_after: u32,
    lockout: chrono::Duration,
    delay_ms: u64,
    ips: Mutex<HashMap<IpAddr, IpRecord>>,
    redis: Option<ConnectionManager>,
}

/// Why a login may not even be tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub until: Timestamp,
}

impl LoginGuard {
    pub fn new(cfg: &Config) -> Self {
        LoginGuard {
            lockout_after: cfg.login_lockout_after,
            lockout: chrono::Duration::seconds(cfg.login_lockout_secs as i64),
            delay_ms: cfg.login_delay_ms,
            ips: Mutex::new(HashMap::new()),
            redis: None,
        }
    }

    /// Counts client IPs in Redis, shared by every node using it.
    pub fn shared(mut self, redis: Option<ConnectionManager>) -> Self {
        self.redis = redis;
        self
    }

    fn ip_limit(&self) -> u32 {
        self.lockout_after * 4
    }

    /// Refuses an IP that failed too often recently.
    pub async fn check_ip(&self, ip: IpAddr, now: Timestamp) -> Result<(), Locked> {
        let until = match &self.redis {
            Some(conn) => {
                let got: redis::RedisResult<Option<i64>> = redis::cmd("GET").arg(ip_key(ip, "locked")).query_async(&mut conn.clone()).await;
                got.unwrap_or_else(|e| {
                    // A missing Redis must not lock everyone out (or in): the account lock still holds.
                    tracing::warn!(error = %e, "login counter store unreachable");
                    None
                })
                .and_then(chrono::DateTime::from_timestamp_millis)
            }
            None => {
                let ips = self.ips.lock().unwrap_or_else(|e| e.into_inner());
                ips.get(&ip).and_then(|r| r.locked_until)
            }
        };
        match until {
            Some(until) if until > now => Err(Locked { until }),
            _ => Ok(()),
        }
    }

    /// Counts a failure from `ip`, locking it at the limit.
    async fn ip_failed(&self, ip: IpAddr, now: Timestamp) {
        if let Some(conn) = &self.redis {
            let secs = self.lockout.num_seconds().max(1);
            let failures = ip_key(ip, "failures");
            let mut conn = conn.clone();
            let counted: redis::RedisResult<(u32, i64)> = redis::pipe()
                .atomic()
                .incr(&failures, 1u32)
                .expire(&failures, secs)
                .query_async(&mut conn)
                .await;
            match counted {
                Ok((n, _)) if n >= self.ip_limit() => {
                    let until = (now + self.lockout).timestamp_millis();
                    let locked: redis::RedisResult<()> = redis::pipe()
                        .atomic()
                        .set_ex(ip_key(ip, "locked"), until, secs as u64)
                        .del(&failures)
                        .query_async(&mut conn)
                        .await;
                    if let Err(e) = locked {
                        tracing::warn!(error = %e, "login counter store unreachable");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "login counter store unreachable"),
            }
            return;
        }
        let mut ips = self.ips.lock().unwrap_or_else(|e| e.into_inner());
        if ips.len() > 100_000 {
            ips.retain(|_, r| r.locked_until.is_some_and(|u| u > now) || r.failures > 0);
        }
        let r = ips.entry(ip).or_default();
        if r.locked_until.is_some_and(|u| u <= now) {
            *r = IpRecord::default();
        }
        r.failures += 1;
        if r.failures >= self.ip_limit() {
            r.locked_until = Some(now + self.lockout);
            r.failures = 0;
        }
    }

    /// Refuses an account that failed too often recently.
    pub fn check_user(&self, user: &User, now: Timestamp) -> Result<(), Locked> {
        match user.locked_until {
            Some(until) if until > now => Err(Locked { until }),
            _ => Ok(()),
        }
    }

    /// Records a failure from `ip` (and on `user`, when the e-mail was known);
    /// answers how long to hold the response back.
    pub async fn failed(&self, ip: IpAddr, user: Option<&mut User>, now: Timestamp) -> std::time::Duration {
        self.ip_failed(ip, now).await;
        let mut streak = 0;
        if let Some(u) = user {
            if u.locked_until.is_some_and(|l| l <= now) {
                u.locked_until = None;
                u.failed_logins = 0;
            }
            u.failed_logins += 1;
            streak = u.failed_logins;
            if u.failed_logins >= self.lockout_after {
                u.locked_until = Some(now + self.lockout);
                u.failed_logins = 0;
            }
        }
        // Slow down from the third failure in a row, doubling, up to 4 s.
        if streak >= 3 && self.delay_ms > 0 {
            std::time::Duration::from_millis((self.delay_ms << (streak - 3).min(8)).min(4000))
        } else {
            std::time::Duration::ZERO
        }
    }

    /// Clears an account's failure streak after a good password.
    pub fn succeeded(&self, user: &mut User, now: Timestamp) {
        user.failed_logins = 0;
        user.locked_until = None;
        user.last_login_at = Some(now);
    }
}

/// The Redis key of one of an IP's login counters.
fn ip_key(ip: IpAddr, what: &str) -> String {
    format!("switchboard:login:{ip}:{what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let h = hash_password("Correct-horse-9");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Correct-horse-9", &h));
        assert!(!verify_password("correct-horse-9", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
