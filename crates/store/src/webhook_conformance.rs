//! Conformance checks of [`crate::WebhookStore`]; run with the rest of the
//! suite on both backends.

pub use crate::conformance::Check;

pub const WEBHOOK_CHECKS: &[(&str, Check)] = &[];
