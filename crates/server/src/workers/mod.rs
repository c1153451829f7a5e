//! Background workers that run inside the server process, each switchable
//! and each with a `run_once()` for tests.

pub mod dialer;
