//! Identity and limits: who is calling ([`auth`], [`caller`]), users'
//! logins and tokens ([`login`], [`tokens`]), the per-route guard
//! ([`guard`]), rate limits ([`ratelimit`]) and the audit log ([`audit`]).

pub mod audit;
pub mod auth;
pub mod caller;
pub mod guard;
pub mod login;
pub mod ratelimit;
pub mod tokens;
