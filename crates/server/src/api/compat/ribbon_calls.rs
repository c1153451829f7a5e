//! The Call Ribbon widget: its script and style sheet, and the routes it
//! calls from the CRM's page — place a call through the configured carrier
//! carrying the customer context, follow its status, and act on it (hang up,
//! mute, hold).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::{CallId, Direction};
use utoipa::ToSchema;

use super::ribbon::LogOut;
use crate::api::fields;
use crate::api::v1::{ErrorBody, respond};
use crate::core::calls::NewCall;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{JsonBody, path_id};
use crate::identity::auth::Auth;
use crate::state::AppState;
use switchboard_telephony::LiveAction;

const SCRIPT: &str = include_str!("../../../../../web/ribbon/ribbon.js");
const STYLE: &str = include_str!("../../../../../web/ribbon/ribbon.css");

#[utoipa::path(get, path = "/ribbon/v1/ribbon.js", tag = "call-ribbon", responses((status = 200, description = "The widget script", content_type = "application/javascript")))]
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        SCRIPT,
    )
        .into_response()
}

#[utoipa::path(get, path = "/ribbon/v1/ribbon.css", tag = "call-ribbon", responses((status = 200, description = "The widget style sheet", content_type = "text/css")))]
pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        STYLE,
    )
        .into_response()
}

/// What `setCustomer` gave the widget.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RibbonCallIn {
    pub phone_number: Option<String>,
    pub name: Option<String>,
    pub customer_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub call_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

fn required(field: &str, v: Option<&str>) -> ApiResult<String> {
    fields::short(field, v)?.ok_or_else(|| ApiError::field(field, "is required"))
}

#[utoipa::path(post, path = "/api/ribbon/calls", tag = "call-ribbon", request_body = RibbonCallIn,
    responses((status = 201, body = LogOut), (status = 400, body = ErrorBody), (status = 402, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)), security(("apiKey" = [])))]
pub async fn place(State(state): State<AppState>, auth: Auth, body: JsonBody<RibbonCallIn>) -> ApiResult<Response> {
    let b = body.value;
    let phone = fields::phone("phoneNumber", &required("phoneNumber", b.phone_number.as_deref())?, &auth.org)?;
    let spec = NewCall {
        direction: Direction::Outbound,
        require_number: true,
        customer_number: Some(phone.to_string()),
        customer_name: Some(required("name", b.name.as_deref())?),
        customer_external_id: Some(required("customerId", b.customer_id.as_deref())?),
        customer_context: fields::object("context", b.context.as_ref())?,
        call_type: fields::short("callType", b.call_type.as_deref())?,
        agent_id: fields::short("agentId", b.agent_id.as_deref())?,
        agent_name: fields::short("agentName", b.agent_name.as_deref())?,
        metadata: fields::object("metadata", b.metadata.as_ref())?,
        ..Default::default()
    };
    // The widget's click-to-call goes through the one dial path: placed at
    // once when the do-not-call list, the calling window and the caps allow.
    let call = crate::core::dial::place_now(&state, &auth.org, spec, "phoneNumber", Default::default()).await?;
    if call.outcome.as_deref() == Some("carrier_error") {
        return Err(ApiError::new(ErrorKind::Unavailable, "The carrier did not place the call"));
    }
    Ok(respond(StatusCode::CREATED, false, &LogOut::from_call(&call)))
}

#[utoipa::path(get, path = "/api/ribbon/calls/{id}", tag = "call-ribbon", params(("id" = String, Path)),
    responses((status = 200, body = LogOut), (status = 404, body = ErrorBody)), security(("apiKey" = [])))]
pub async fn status(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let call = state.store.get_call(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &LogOut::from_call(&call)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ActionIn {
    /// hangup, mute, unmute, hold or unhold.
    pub action: Option<String>,
}

#[utoipa::path(post, path = "/api/ribbon/calls/{id}/actions", tag = "call-ribbon", params(("id" = String, Path)), request_body = ActionIn,
    responses((status = 200, body = LogOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("apiKey" = [])))]
pub async fn act(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, body: JsonBody<ActionIn>) -> ApiResult<Response> {
    let id: CallId = path_id(&id, "call")?;
    let action = body.value.action.as_deref().map(str::trim).unwrap_or("");
    if !["hangup", "mute", "unmute", "hold", "unhold"].contains(&action) {
        return Err(ApiError::field("action", "must be one of hangup, mute, unmute, hold, unhold"));
    }
    let live = match action {
        "hangup" => LiveAction::Hangup,
        "mute" => LiveAction::Mute,
        "unmute" => LiveAction::Unmute,
        "hold" => LiveAction::Hold,
        _ => LiveAction::Unhold,
    };
    let call = state.store.get_call(&auth.org.id, &id).await?;
    if call.status.is_terminal() {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            format!("The call has already ended ({})", call.status),
        ));
    }
    crate::api::v1::call_actions::act(&state, &call, live).await?;
    let call = state.store.get_call(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &LogOut::from_call(&call)))
}
