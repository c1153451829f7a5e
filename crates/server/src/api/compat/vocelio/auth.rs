//! `POST /api/auth/login` (and `/auth/login`), `POST /api/auth/refresh`
//! (and `/auth/refresh`) over the core login: the tokens both nested in
//! `data` (the reference) and at the top level (what the client apps read).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::VocelioUser;
use super::{Ctx, Meta, VocelioErrorBody};
use crate::api::v1::auth::{LoginIn, TokensOut, renew, sign_in};
use crate::error::ApiResult;
use crate::extract::{JsonBody, Lenient};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = VocelioLoginIn)]
pub struct LoginBody {
    pub email: Option<String>,
    pub password: Option<String>,
    /// The organisation (slug or id) for an e-mail with accounts in several.
    pub organization: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioTokenData)]
pub struct TokenData {
    pub token: String,
    pub refresh_token: String,
    #[serde(rename = "refreshToken")]
    pub refresh_token_camel: String,
    /// Seconds until `token` expires.
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<VocelioUser>,
}

/// The tokens in `data` and again at the top level.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VocelioTokensEnvelope)]
pub struct TokensEnvelope {
    pub success: bool,
    pub data: TokenData,
    pub token: String,
    #[serde(rename = "refreshToken")]
    pub refresh_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<VocelioUser>,
    pub meta: Meta,
}

fn render(ctx: &Ctx, t: TokensOut, with_user: bool) -> Response {
    let user = with_user.then(|| VocelioUser::from_out(&t.user));
    let body = TokensEnvelope {
        success: true,
        data: TokenData {
            token: t.token.clone(),
            refresh_token: t.refresh_token.clone(),
            refresh_token_camel: t.refresh_token.clone(),
            expires_in: t.expires_in,
            user: user.clone(),
        },
        token: t.token,
        refresh_token: t.refresh_token,
        user,
        meta: ctx.meta(),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn do_login(state: AppState, ctx: Ctx, peer: SocketAddr, b: LoginBody) -> ApiResult<Response> {
    let input = LoginIn {
        email: b.email,
        password: b.password,
        organization: b.organization,
    };
    match sign_in(&state, peer.ip(), &input).await {
        Ok(t) => Ok(render(&ctx, t, true)),
        Err(r) => Ok(r.into_response(state.clock.now())),
    }
}

#[utoipa::path(post, operation_id = "vocelio_auth_login", path = "/api/auth/login", tag = "vocelio", request_body = LoginBody,
    responses((status = 200, body = TokensEnvelope), (status = 400, body = VocelioErrorBody), (status = 401, body = VocelioErrorBody), (status = 429, body = VocelioErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ctx: Ctx,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: JsonBody<LoginBody, Lenient>,
) -> ApiResult<Response> {
    do_login(state, ctx, peer, body.value).await
}

#[utoipa::path(post, operation_id = "vocelio_auth_login_short", path = "/auth/login", tag = "vocelio", request_body = LoginBody,
    responses((status = 200, body = TokensEnvelope), (status = 400, body = VocelioErrorBody), (status = 401, body = VocelioErrorBody), (status = 429, body = VocelioErrorBody)))]
pub async fn login_short(
    State(state): State<AppState>,
    ctx: Ctx,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: JsonBody<LoginBody, Lenient>,
) -> ApiResult<Response> {
    do_login(state, ctx, peer, body.value).await
}

/// `{refreshToken}` (the clients) or `{refresh_token}` (the reference's naming).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = VocelioRefreshIn)]
pub struct RefreshBody {
    #[serde(rename = "refreshToken")]
    pub refresh_token_camel: Option<String>,
    pub refresh_token: Option<String>,
}

async fn do_refresh(state: AppState, ctx: Ctx, b: RefreshBody) -> ApiResult<Response> {
    let token = b.refresh_token_camel.or(b.refresh_token);
    let t = renew(&state, token.as_deref(), "refreshToken").await?;
    Ok(render(&ctx, t, false))
}

#[utoipa::path(post, operation_id = "vocelio_auth_refresh", path = "/api/auth/refresh", tag = "vocelio", request_body = RefreshBody,
    responses((status = 200, body = TokensEnvelope), (status = 400, body = VocelioErrorBody), (status = 401, body = VocelioErrorBody)))]
pub async fn refresh(State(state): State<AppState>, ctx: Ctx, body: JsonBody<RefreshBody, Lenient>) -> ApiResult<Response> {
    do_refresh(state, ctx, body.value).await
}

#[utoipa::path(post, operation_id = "vocelio_auth_refresh_short", path = "/auth/refresh", tag = "vocelio", request_body = RefreshBody,
    responses((status = 200, body = TokensEnvelope), (status = 400, body = VocelioErrorBody), (status = 401, body = VocelioErrorBody)))]
pub async fn refresh_short(State(state): State<AppState>, ctx: Ctx, body: JsonBody<RefreshBody, Lenient>) -> ApiResult<Response> {
    do_refresh(state, ctx, body.value).await
}
