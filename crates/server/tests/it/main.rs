//! Integration tests: the real server on 127.0.0.1:0 with a temporary
//! SQLite file, driven over HTTP.

mod analytics;
mod auth;
mod bad_input;
mod calls;
mod cli;
mod contacts;
mod crash;
mod openapi;
mod receiver;
mod support;
mod tenancy;
mod webhook_crash;
mod webhook_delivery;
mod webhooks;
