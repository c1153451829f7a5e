//! Passwords (argon2id) and brute-force defence by throttling, never by
//! locking: after a few failures, each further attempt must wait a delay
//! that doubles with every failure, up to a ceiling, counted
//!
//! - per account (the e-mail given, known or not — so the answer never
//!   tells whether an account exists): a modest ceiling (a minute by
//!   default), so that no one can keep a user out for longer than that
//!   while still holding a guesser spread over many addresses to about one
//!   guess a minute;
//! - per client address: a high ceiling (15 minutes), which stops one
//!   address trying password after password across many accounts;
//! - per (account, address) pair: few free failures and the high ceiling,
//!   which slows one address guessing one account hardest without
//!   touching the account's owner elsewhere.
//!
//! An attempt is counted as a failure *before* the password is checked
//! and the count is given back on success, in one atomic step per attempt,
//! so a burst of parallel guesses cannot slip through between the check
//! and the count. Counters live in Redis when one is configured (shared
//! by every node) and in each node's memory otherwise.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use redis::aio::ConnectionManager;
use switchboard_domain::Timestamp;

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

/// Why an attempt may not be made yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub until: Timestamp,
}

/// One throttled subject's rule: failures allowed before delays start, and
/// the longest delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub free: u32,
    pub max_delay_ms: i64,
}

/// The delay owed after `failures` failures under `rule`, starting at
/// `base_ms` and doubling.
pub fn delay_ms(rule: Rule, base_ms: i64, failures: u32) -> i64 {
    if failures < rule.free || base_ms <= 0 {
        return 0;
    }
    let doublings = (failures - rule.free).min(40);
    base_ms.saturating_mul(1i64 << doublings).min(rule.max_delay_ms)
}

/// A claimed attempt: give it back with [`LoginGuard::succeeded`] when
/// the password was right.
#[derive(Debug, Clone)]
pub struct Attempt {
    account: String,
    address: String,
    pair: String,
}

/// Counters: failures and the last failure's time (ms) per key.
#[derive(Debug, Default, Clone, Copy)]
struct Counter {
    failures: u32,
    last_ms: i64,
}

pub struct LoginGuard {
    base_ms: i64,
    account: Rule,
    address: Rule,
    pair: Rule,
    memory: Mutex<HashMap<String, Counter>>,
    redis: Option<ConnectionManager>,
}

/// Checks every key's delay and, when none is owed, counts a failure on
/// each: atomically, so parallel attempts see each other.
/// KEYS: the counters; ARGV: now_ms, base_ms, ttl_ms, then free and max per key.
const CLAIM: &str = r#"
local now = tonumber(ARGV[1]); local base = tonumber(ARGV[2]); local ttl = tonumber(ARGV[3])
local wait_until = 0
for i, key in ipairs(KEYS) do
  local free = tonumber(ARGV[2 + i * 2]); local max = tonumber(ARGV[3 + i * 2])
  local f = tonumber(redis.call('HGET', key, 'f') or '0'); local last = tonumber(redis.call('HGET', key, 't') or '0')
  if f >= free and base > 0 then
    local d = base * math.pow(2, math.min(f - free, 40)); if d > max then d = max end
    if last + d > now and last + d > wait_until then wait_until = last + d end
  end
end
if wait_until > 0 then return wait_until end
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'f', 1); redis.call('HSET', key, 't', now); redis.call('PEXPIRE', key, ttl)
end
return 0
"#;

impl LoginGuard {
    pub fn new(cfg: &Config) -> Self {
        let free = cfg.login_free_attempts.max(1);
        let account_max = (cfg.login_account_max_delay_secs as i64).saturating_mul(1000);
        let address_max = (cfg.login_address_max_delay_secs as i64).saturating_mul(1000);
        LoginGuard {
            base_ms: cfg.login_delay_ms as i64,
            account: Rule {
                free,
                max_delay_ms: account_max,
            },
            address: Rule {
                free: free.saturating_mul(4),
                max_delay_ms: address_max,
            },
            pair: Rule {
                free: free.min(3),
                max_delay_ms: address_max,
            },
            memory: Mutex::new(HashMap::new()),
            redis: None,
        }
    }

    /// Counts in Redis, shared by every node using it.
    pub fn shared(mut self, redis: Option<ConnectionManager>) -> Self {
        self.redis = redis;
        self
    }

    fn rules(&self) -> [Rule; 3] {
        [self.account, self.address, self.pair]
    }

    /// How long a key is remembered after its last failure: long enough
    /// that the longest delay is still owed.
    fn ttl_ms(&self) -> i64 {
        self.account.max_delay_ms.max(self.address.max_delay_ms) + 86_400_000
    }

    /// Claims one attempt at `email` from `ip`: refused while a delay is
    /// owed on the account, the address or the pair (nothing is counted
    /// then); else counted as a failure until [`Self::succeeded`] gives it back.
    pub async fn attempt(&self, email: &str, ip: IpAddr, now: Timestamp) -> Result<Attempt, Throttled> {
        let attempt = Attempt {
            account: format!("switchboard:login:account:{email}"),
            address: format!("switchboard:login:address:{ip}"),
            pair: format!("switchboard:login:pair:{ip}:{email}"),
        };
        let keys = [&attempt.account, &attempt.address, &attempt.pair];
        let now_ms = now.timestamp_millis();
        let wait_until = match &self.redis {
            Some(conn) => {
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(CLAIM)
                    .arg(keys.len())
                    .arg(&keys[..])
                    .arg(now_ms)
                    .arg(self.base_ms)
                    .arg(self.ttl_ms());
                for r in self.rules() {
                    cmd.arg(r.free).arg(r.max_delay_ms);
                }
                match cmd.query_async::<i64>(&mut conn.clone()).await {
                    Ok(until) => until,
                    Err(e) => {
                        // A missing Redis must not lock everyone out: fall
                        // back to this node's own counters.
                        tracing::warn!(error = %e, "login counter store unreachable; counting on this node");
                        self.claim_in_memory(&keys, now_ms)
                    }
                }
            }
            None => self.claim_in_memory(&keys, now_ms),
        };
        match chrono::DateTime::from_timestamp_millis(wait_until) {
            Some(until) if wait_until > 0 => Err(Throttled { until }),
            _ => Ok(attempt),
        }
    }

    fn claim_in_memory(&self, keys: &[&String; 3], now_ms: i64) -> i64 {
        let mut map = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let ttl = self.ttl_ms();
            map.retain(|_, c| c.last_ms + ttl > now_ms);
        }
        let mut wait_until = 0;
        for (key, rule) in keys.iter().zip(self.rules()) {
            let c = map.get(*key).copied().unwrap_or_default();
            let d = delay_ms(rule, self.base_ms, c.failures);
            if d > 0 && c.last_ms + d > now_ms {
                wait_until = wait_until.max(c.last_ms + d);
            }
        }
        if wait_until == 0 {
            for key in keys {
                let c = map.entry((*key).clone()).or_default();
                c.failures += 1;
                c.last_ms = now_ms;
            }
        }
        wait_until
    }

    /// The password was right: the account's and the pair's counts start
    /// over, and the address's failure counted for this attempt is given
    /// back (its earlier failures stay: logging into one's own account must
    /// not wash away guesses at others).
    pub async fn succeeded(&self, attempt: &Attempt) {
        if let Some(conn) = &self.redis {
            let done: redis::RedisResult<()> = redis::pipe()
                .atomic()
                .del(&attempt.account)
                .del(&attempt.pair)
                .hincr(&attempt.address, "f", -1)
                .query_async(&mut conn.clone())
                .await;
            match done {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "login counter store unreachable"),
            }
        }
        let mut map = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&attempt.account);
        map.remove(&attempt.pair);
        if let Some(c) = map.get_mut(&attempt.address) {
            c.failures = c.failures.saturating_sub(1);
        }
    }
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

    #[test]
    fn delays_double_from_the_free_failures_up_to_the_ceiling() {
        let rule = Rule {
            free: 3,
            max_delay_ms: 60_000,
        };
        let got: Vec<i64> = (0..12).map(|f| delay_ms(rule, 1000, f)).collect();
        assert_eq!(got, [0, 0, 0, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
        assert_eq!(delay_ms(rule, 1000, u32::MAX), 60_000, "no overflow");
        assert_eq!(delay_ms(rule, 0, 10), 0, "a zero base turns throttling off");
    }

    fn guard() -> LoginGuard {
        let cfg = Config {
            login_delay_ms: 1000,
            login_free_attempts: 2,
            login_account_max_delay_secs: 60,
            login_address_max_delay_secs: 900,
            ..Config::default()
        };
        LoginGuard::new(&cfg)
    }

    #[tokio::test]
    async fn an_attacker_slows_only_themselves_and_the_account_a_little() {
        let g = guard();
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let (attacker, owner): (IpAddr, IpAddr) = ("203.0.113.9".parse().unwrap(), "198.51.100.7".parse().unwrap());
        // Two free failures from the attacker (the pair allows 2 here).
        for _ in 0..2 {
            g.attempt("victim@x.example", attacker, t0).await.unwrap();
        }
        // Now the attacker owes a second; so does the account, for everyone.
        let e = g.attempt("victim@x.example", attacker, t0).await.unwrap_err();
        assert_eq!(e.until, t0 + chrono::Duration::seconds(1));
        let e = g.attempt("victim@x.example", owner, t0).await.unwrap_err();
        assert_eq!(e.until, t0 + chrono::Duration::seconds(1), "the account's delay");
        // A refused attempt counts nothing: waiting the second is enough.
        let t1 = t0 + chrono::Duration::seconds(1);
        let a = g.attempt("victim@x.example", owner, t1).await.unwrap();
        g.succeeded(&a).await;
        // However long the attacker keeps failing, the owner waits at most the account's minute.
        let mut t = t1;
        for _ in 0..30 {
            match g.attempt("victim@x.example", attacker, t).await {
                Ok(_) => {}
                Err(e) => t = e.until,
            }
        }
        let wait = match g.attempt("victim@x.example", owner, t).await {
            Ok(_) => chrono::Duration::zero(),
            Err(e) => e.until - t,
        };
        assert!(wait <= chrono::Duration::seconds(60), "{wait}");
        // While the attacker's address is held back for up to 15 minutes.
        let e = g.attempt("other@x.example", attacker, t).await;
        assert!(e.is_err() || g.attempt("other@x.example", attacker, t).await.is_err());
    }

    #[tokio::test]
    async fn unknown_and_known_accounts_are_throttled_alike() {
        let g = guard();
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        for email in ["exists@x.example", "nobody@x.example"] {
            let outcomes: Vec<bool> = {
                let mut v = Vec::new();
                for _ in 0..4 {
                    v.push(g.attempt(email, ip, t0).await.is_ok());
                }
                v
            };
            assert_eq!(outcomes, [true, true, false, false], "{email}");
        }
    }
}
