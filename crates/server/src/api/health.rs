//! `GET /health`: answers 200 when the database answers, 503 otherwise.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct HealthOut {
    /// `ok` or `error`.
    pub status: &'static str,
    /// `ok` or `unreachable`.
    pub database: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    pub version: &'static str,
}

#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = HealthOut), (status = 503, body = HealthOut)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthOut>) {
    let ok = match state.store.ping().await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            false
        }
    };
    let body = HealthOut {
        status: if ok { "ok" } else { "error" },
        database: if ok { "ok" } else { "unreachable" },
        backend: state.store.backend(),
        version: env!("CARGO_PKG_VERSION"),
    };
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
