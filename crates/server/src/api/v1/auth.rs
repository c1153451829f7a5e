//! `/v1/auth`: log in with e-mail and password for a short-lived access
//! token (a JWT, accepted wherever an API key is) and a refresh token;
//! rotate the refresh token; log out.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_domain::id::SessionId;
use switchboard_domain::{User, UserStatus};
use switchboard_store::{RefreshToken, Spent};
use utoipa::ToSchema;

use super::users::UserOut;
use super::{ErrorBody, respond};
use crate::api::fields;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::JsonBody;
use crate::identity::audit;
use crate::identity::auth::{Actor, Auth, hash_key};
use crate::identity::login::{Throttled, verify_decoy, verify_password};
use crate::identity::tokens::{ACCESS_TTL_SECS, REFRESH_TTL_SECS, new_refresh_token};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LoginIn {
    pub email: Option<String>,
    pub password: Option<String>,
    /// The organisation to log into (its slug or id), for an e-mail with
    /// accounts in several; without it, the e-mail's first account.
    pub organization: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokensOut {
    /// The access token (a JWT): send it as `Authorization: Bearer <token>`.
    pub token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until `token` expires.
    pub expires_in: i64,
    pub user: UserOut,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshIn {
    pub refresh_token: Option<String>,
}

fn throttled(l: Throttled, now: switchboard_domain::Timestamp) -> Response {
    let wait = ((l.until - now).num_milliseconds() + 999).div_euclid(1000).max(1);
    let mut r = ApiError::new(ErrorKind::RateLimited, format!("Too many failed logins; try again in {wait} s"))
        .with_details(json!({ "retryAfter": wait }))
        .into_response();
    r.headers_mut().insert(
        "retry-after",
        wait.to_string().parse().unwrap_or(axum::http::HeaderValue::from_static("60")),
    );
    r
}

/// Issues an access token and a new refresh token in `session`.
async fn issue(state: &AppState, user: &User, session: SessionId) -> ApiResult<TokensOut> {
    let now = state.clock.now();
    let refresh = new_refresh_token();
    state
        .store
        .save_refresh_token(RefreshToken {
            hash: hash_key(&refresh),
            session: session.clone(),
            user_id: user.id.clone(),
            org_id: user.org_id.clone(),
            created_at: now,
            expires_at: now + chrono::Duration::seconds(REFRESH_TTL_SECS),
        })
        .await?;
    let token = state.jwt().await?.issue(user, &session, now);
    Ok(TokensOut {
        token,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        user: UserOut::from_user(user),
    })
}

fn bad_login() -> ApiError {
    ApiError::new(
        ErrorKind::Unauthorized,
        "Wrong e-mail or password (an e-mail with accounts in several organisations logs into its first unless 'organization' names one)",
    )
}

/// The organisation a login names, if it exists.
async fn named_org(state: &AppState, name: Option<&str>) -> ApiResult<Option<Option<switchboard_domain::OrgId>>> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(Some(None));
    };
    if let Some(org) = state.store.org_by_slug(name).await? {
        return Ok(Some(Some(org.id)));
    }
    match name.parse::<switchboard_domain::OrgId>() {
        Ok(id) => match state.store.get_org(&id).await {
            Ok(org) => Ok(Some(Some(org.id))),
            Err(switchboard_store::StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        },
        Err(_) => Ok(None),
    }
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginIn,
    responses((status = 200, body = TokensOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: JsonBody<LoginIn>,
) -> ApiResult<Response> {
    match sign_in(&state, peer.ip(), &body.value).await {
        Ok(out) => Ok(respond(StatusCode::OK, false, &out)),
        Err(Refused::Throttled(t)) => Ok(throttled(t, state.clock.now())),
        Err(Refused::Error(e)) => Err(e),
    }
}

/// Why a login was refused.
pub enum Refused {
    /// Too many failures: try again at the time it says.
    Throttled(Throttled),
    Error(ApiError),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Refused::Error(e)
    }
}

impl From<switchboard_store::StoreError> for Refused {
    fn from(e: switchboard_store::StoreError) -> Self {
        Refused::Error(e.into())
    }
}

impl Refused {
    /// The refusal as a response (a throttle carries `Retry-After`).
    pub fn into_response(self, now: switchboard_domain::Timestamp) -> Response {
        match self {
            Refused::Throttled(t) => throttled(t, now),
            Refused::Error(e) => e.into_response(),
        }
    }
}

/// Logs a user in from `ip`: throttled, audited; answers the tokens.
pub async fn sign_in(state: &AppState, ip: std::net::IpAddr, body: &LoginIn) -> Result<TokensOut, Refused> {
    let (Some(email), Some(password)) = (body.email.as_deref(), body.password.as_deref()) else {
        return Err(ApiError::field(if body.email.is_none() { "email" } else { "password" }, "is required").into());
    };
    fields::short("organization", body.organization.as_deref())?;
    let email = email.trim().to_lowercase();
    let now = state.clock.now();
    // Throttled by the e-mail given, known or not, so that the answer
    // never tells whether an account exists.
    let attempt = match state.logins.attempt(&email, ip, now).await {
        Ok(a) => a,
        Err(t) => {
            if let Some((user, _)) = state.store.user_by_email(&email, None).await? {
                audit::record(
                    state,
                    &user.org_id,
                    &user.id.to_string(),
                    "auth.login_refused",
                    Some(user.id.to_string()),
                    Some(json!({"reason": "throttled"})),
                    Some(ip),
                )
                .await;
            }
            return Err(Refused::Throttled(t));
        }
    };
    let found = match named_org(state, body.organization.as_deref()).await? {
        Some(org) => state.store.user_by_email(&email, org.as_ref()).await?,
        None => None,
    };
    let Some((mut user, hash)) = found else {
        verify_decoy(password);
        return Err(bad_login().into());
    };
    if !verify_password(password, &hash) || user.status != UserStatus::Active {
        audit::record(
            state,
            &user.org_id,
            &user.id.to_string(),
            "auth.login_failed",
            Some(user.id.to_string()),
            None,
            Some(ip),
        )
        .await;
        return Err(bad_login().into());
    }
    state.logins.succeeded(&attempt).await;
    user.failed_logins = 0;
    user.locked_until = None;
    user.last_login_at = Some(now);
    let user = state.store.update_user(user, None).await?;
    let out = issue(state, &user, SessionId::new()).await?;
    audit::record(
        state,
        &user.org_id,
        &user.id.to_string(),
        "auth.login",
        Some(user.id.to_string()),
        None,
        Some(ip),
    )
    .await;
    Ok(out)
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshIn,
    responses((status = 200, body = TokensOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn refresh(State(state): State<AppState>, body: JsonBody<RefreshIn>) -> ApiResult<Response> {
    let out = renew(&state, body.value.refresh_token.as_deref(), "refreshToken").await?;
    Ok(respond(StatusCode::OK, false, &out))
}

/// Spends a refresh token (named `field` in errors) for new tokens.
pub async fn renew(state: &AppState, token: Option<&str>, field: &str) -> ApiResult<TokensOut> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(ApiError::field(field, "is required"));
    };
    let invalid = || ApiError::new(ErrorKind::Unauthorized, "The refresh token is invalid, expired or already used");
    match state.store.spend_refresh_token(&hash_key(token), state.clock.now()).await? {
        Spent::Fresh(t) => {
            let user = match state.store.get_user(&t.org_id, &t.user_id).await {
                Ok(u) if u.status == UserStatus::Active => u,
                _ => return Err(invalid()),
            };
            issue(state, &user, t.session).await
        }
        Spent::Reused(session) => {
            // The store revoked the login; its access tokens stop working
            // here at once, as after a logout (other nodes: within the auth
            // cache's time).
            state.keys.clear();
            tracing::warn!(%session, "refresh token reused: session revoked");
            Err(invalid())
        }
        Spent::Invalid => Err(invalid()),
    }
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let Actor::User { session, .. } = &*auth.actor else {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            "Only a user's access token can log out; revoke API keys instead",
        ));
    };
    state.store.revoke_session(session, state.clock.now()).await?;
    // Its access tokens stop working here at once, on other nodes within
    // the auth cache's time.
    state.keys.clear();
    audit::by(&state, &auth, "auth.logout", None, None).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
