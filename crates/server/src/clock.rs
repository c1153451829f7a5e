//! The server's clock. Time-based rules (token expiry, lockouts, rate
//! windows) read it, so tests can move time forward instead of waiting.

use std::sync::atomic::{AtomicI64, Ordering};

use switchboard_domain::Timestamp;

#[derive(Debug, Default)]
pub struct Clock {
    /// Milliseconds added to the real time (tests only).
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        switchboard_domain::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms.fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}
