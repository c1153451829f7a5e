//! The native API (the SaaS v1 dialect): plain JSON, lists as
//! `{data, pagination{total,page,limit,pages}}`, errors as
//! `{error{code,message,details}}`.

pub mod agents;
pub mod analysis;
pub mod analytics;
pub mod auth;
pub mod call_actions;
pub mod calls;
pub mod campaign_input;
pub mod campaigns;
pub mod contact_lists;
pub mod contacts;
pub mod csv_import;
pub mod departments;
pub mod dnc;
pub mod export;
pub mod intents;
pub mod keys;
pub mod org;
pub mod queues;
pub mod recordings;
pub mod routing;
pub mod speech;
pub mod stream;
pub mod templates;
pub mod twilio;
pub mod usage;
pub mod users;
pub mod webhook_ops;
pub mod webhooks;
pub mod ws;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Largest page size on list routes.
pub const MAX_LIMIT: u32 = 100;
pub const DEFAULT_LIMIT: u32 = 20;

#[derive(Serialize, ToSchema)]
pub struct Pagination {
    pub total: u64,
    pub page: u32,
    pub limit: u32,
    pub pages: u64,
    /// Lists read by cursor (calls): pass it as `cursor` for the next page;
    /// absent on the last page.
    #[serde(rename = "nextCursor", skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl Pagination {
    pub fn new(total: u64, page: switchboard_store::Page) -> Self {
        Self {
            total,
            page: page.page,
            limit: page.limit,
            pages: total.div_ceil(u64::from(page.limit.max(1))),
            next_cursor: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ListOut<T: ToSchema> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// The error envelope, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code (`invalid_parameter`, `not_found`, ...).
    pub code: String,
    pub message: String,
    /// `{field, reason}` for bad input; `{from, to}` for illegal transitions.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// A JSON response, marked when it replays an earlier idempotent one.
/// `200` with one page of a list: `{data, pagination}`.
pub fn respond_list<T: Serialize + ToSchema>(data: Vec<T>, total: u64, page: switchboard_store::Page) -> Response {
    respond(
        StatusCode::OK,
        false,
        &ListOut {
            data,
            pagination: Pagination::new(total, page),
        },
    )
}

pub fn respond<T: Serialize>(status: StatusCode, replayed: bool, body: &T) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    if replayed {
        resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}
