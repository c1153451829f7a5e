//! Dialect adapters: the HTTP APIs of other products, translated into core
//! commands and rendered in their own shapes. No business rule lives here.

pub mod callmind;
pub mod ribbon;
pub mod ribbon_calls;
pub mod vocelio;
