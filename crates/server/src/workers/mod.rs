//! Background workers that run inside the server process. Each can be
//! switched off, claims its work with leases so several nodes can share one
//! database, exposes `run_once()` for tests and stops cleanly on shutdown.

pub mod analysis;
pub mod dialer;
pub mod recordings;
pub mod router;
pub mod runtime;
pub mod webhooks;
