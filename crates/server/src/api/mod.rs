//! HTTP routes: the native `/v1` API, health and the OpenAPI document.
//! Dialect adapters for the other products live beside it.

pub mod compat;
pub mod fields;
pub mod health;
pub mod v1;
