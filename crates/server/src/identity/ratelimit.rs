//! Request rate limits: fixed one-minute windows per caller (API key or
//! user). Counted in memory on one node, or in Redis when a Redis URL is
//! configured so that every node shares one count.

use std::collections::HashMap;
use std::sync::Mutex;

use redis::aio::ConnectionManager;

/// Length of a rate window, in seconds.
pub const WINDOW_SECS: i64 = 60;

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Unix time at which the window ends.
    pub reset: i64,
}

enum Backend {
    Memory(Mutex<HashMap<String, (i64, u64)>>),
    Redis(ConnectionManager),
}

pub struct RateLimiter {
    backend: Backend,
}

impl RateLimiter {
    pub fn memory() -> Self {
        RateLimiter {
            backend: Backend::Memory(Mutex::new(HashMap::new())),
        }
    }

    pub async fn redis(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let manager = ConnectionManager::new(client).await?;
        Ok(RateLimiter {
            backend: Backend::Redis(manager),
        })
    }

    /// The Redis connection, when limits are counted there (other shared
    /// counters use it too).
    pub fn redis_connection(&self) -> Option<ConnectionManager> {
        match &self.backend {
            Backend::Redis(c) => Some(c.clone()),
            Backend::Memory(_) => None,
        }
    }

    /// Counts one request by `subject` against `limit` per window.
    pub async fn hit(&self, subject: &str, limit: u64, now: i64) -> Decision {
        self.hit_in(subject, limit, now, WINDOW_SECS).await
    }

    /// Counts one request by `subject` against `limit` per window of `secs`.
    pub async fn hit_in(&self, subject: &str, limit: u64, now: i64, secs: i64) -> Decision {
        let secs = secs.max(1);
        let window = now.div_euclid(secs);
        let reset = (window + 1) * secs;
        let count = match &self.backend {
            Backend::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
                if map.len() > 100_000 {
                    map.retain(|_, (w, _)| *w >= window);
                }
                let entry = map.entry(subject.to_owned()).or_insert((window, 0));
                if entry.0 != window {
                    *entry = (window, 0);
                }
                entry.1 += 1;
                entry.1
            }
            Backend::Redis(conn) => {
                let key = format!("switchboard:rl:{subject}:{window}");
                let mut conn = conn.clone();
                let counted: redis::RedisResult<(u64, i64)> = redis::pipe()
                    .atomic()
                    .incr(&key, 1u64)
                    .expire(&key, secs * 2)
                    .query_async(&mut conn)
                    .await;
                match counted {
                    Ok((n, _)) => n,
                    Err(e) => {
                        // A missing Redis must not take the API down: count nothing.
                        tracing::warn!(error = %e, "rate limit store unreachable; request not counted");
                        0
                    }
                }
            }
        };
        Decision {
            allowed: count <= limit,
            limit,
            remaining: limit.saturating_sub(count),
            reset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn windows_count_and_reset() {
        let rl = RateLimiter::memory();
        let t = 1_700_000_040;
        for i in 1..=3 {
            let d = rl.hit("key_a", 3, t).await;
            assert!(d.allowed);
            assert_eq!(d.remaining, 3 - i);
        }
        let over = rl.hit("key_a", 3, t).await;
        assert!(!over.allowed);
        assert_eq!(over.reset, 1_700_000_100);
        assert!(rl.hit("key_b", 3, t).await.allowed, "limits are per caller");
        assert!(rl.hit("key_a", 3, t + 60).await.allowed, "a new window starts over");
    }
}
