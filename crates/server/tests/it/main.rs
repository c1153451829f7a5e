//! Integration tests: the real server on 127.0.0.1:0 with a temporary
//! SQLite file, driven over HTTP.

mod agents;
mod analysis;
mod analytics;
mod auth;
mod bad_input;
mod callmind;
mod calls;
mod campaigns;
mod cli;
mod contact_lists;
mod contacts;
mod contract;
mod conversations;
mod crash;
mod dialer;
mod dialer_restart;
mod hardening;
mod identity;
mod live;
mod metrics;
mod openapi;
mod receiver;
mod ribbon;
mod speech;
mod support;
mod templates;
mod tenancy;
mod twilio;
mod vocelio;
mod webhook_crash;
mod webhook_delivery;
mod webhooks;
mod widget;
