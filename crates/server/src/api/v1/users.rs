//! `/v1/users`: the people who log in, their roles and preferences.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_domain::user::check_password;
use switchboard_domain::{Role, User, UserId, UserStatus};
use switchboard_store::UserFilter;
use utoipa::ToSchema;

use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::api::fields;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{JsonBody, QueryMap, path_id};
use crate::identity::audit;
use crate::identity::auth::{Actor, Auth};
use crate::identity::login::hash_password;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserOut {
    pub id: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// owner, admin, manager, agent or viewer.
    pub role: &'static str,
    /// active or disabled.
    pub status: &'static str,
    #[schema(value_type = Object)]
    pub preferences: Value,
    pub organization_id: String,
    pub permissions: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserOut {
    pub fn from_user(u: &User) -> Self {
        UserOut {
            id: u.id.to_string(),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.as_str(),
            status: u.status.as_str(),
            preferences: u.preferences.clone(),
            organization_id: u.org_id.to_string(),
            permissions: u.role.permissions(),
            last_login_at: u.last_login_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserIn {
    pub email: Option<String>,
    pub name: Option<String>,
    /// 15 to 256 characters of any kind (NIST SP 800-63B); not a common or breached password.
    pub password: Option<String>,
    /// owner, admin, manager, agent (default) or viewer.
    pub role: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<Value>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserPatchIn {
    pub name: Option<String>,
    pub role: Option<String>,
    /// active or disabled.
    pub status: Option<String>,
    pub password: Option<String>,
    /// Merged into the stored preferences; `timeZone` must be an IANA zone.
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<Value>,
}

pub(crate) fn role(field: &str, v: Option<&str>) -> ApiResult<Option<Role>> {
    v.map(|r| Role::parse(r).ok_or_else(|| ApiError::field(field, "must be one of owner, admin, manager, agent, viewer")))
        .transpose()
}

/// Checks preferences: an object; `timeZone`, when present, an IANA zone.
fn preferences(v: Option<&Value>) -> ApiResult<Option<Value>> {
    let Some(p) = fields::object("preferences", v)? else {
        return Ok(None);
    };
    if let Some(tz) = p.get("timeZone") {
        let name = tz
            .as_str()
            .ok_or_else(|| ApiError::field("preferences.timeZone", "must be a string"))?;
        fields::time_zone("preferences.timeZone", Some(name))?;
    }
    Ok(Some(p))
}

fn password(v: &str, email: &str) -> ApiResult<String> {
    check_password(v, email).map_err(|r| ApiError::field("password", r))?;
    Ok(hash_password(v))
}

/// Only an owner may make or change owners; nobody may hand out a role above their own.
fn may_assign(auth: &Auth, role: Role) -> ApiResult<()> {
    let own = match &*auth.actor {
        Actor::User { role, .. } => *role,
        Actor::Key { .. } => {
            if auth.allows("org.plan") {
                Role::Owner
            } else {
                Role::Admin
            }
        }
    };
    if role > own {
        return Err(
            ApiError::new(ErrorKind::Forbidden, format!("Your role cannot grant the role '{role}'")).with_details(json!({"field": "role"})),
        );
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = UserIn,
    responses((status = 201, body = UserOut), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn create_user(State(state): State<AppState>, auth: Auth, body: JsonBody<UserIn>) -> ApiResult<Response> {
    let user = create(&state, &auth, body.value).await?;
    Ok(respond(StatusCode::CREATED, false, &UserOut::from_user(&user)))
}

/// Creates a user in the caller's organisation (audited).
pub(crate) async fn create(state: &AppState, auth: &Auth, input: UserIn) -> ApiResult<User> {
    let email = fields::email("email", input.email.as_deref())?
        .ok_or_else(|| ApiError::field("email", "is required"))?
        .to_lowercase();
    let pw = input
        .password
        .as_deref()
        .ok_or_else(|| ApiError::field("password", "is required"))?;
    let role = role("role", input.role.as_deref())?.unwrap_or(Role::Agent);
    may_assign(auth, role)?;
    let hash = password(pw, &email)?;
    let now = state.clock.now();
    let user = User {
        id: UserId::new(),
        org_id: auth.org.id.clone(),
        email,
        name: fields::short("name", input.name.as_deref())?,
        role,
        status: UserStatus::Active,
        preferences: preferences(input.preferences.as_ref())?.unwrap_or_else(|| json!({})),
        created_at: now,
        updated_at: now,
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
    };
    let user = state.store.create_user(user, hash).await?;
    audit::by(
        state,
        auth,
        "user.created",
        Some(user.id.to_string()),
        Some(json!({"role": role.as_str(), "email": user.email})),
    )
    .await;
    Ok(user)
}

#[utoipa::path(get, path = "/v1/users", tag = "users",
    params(("role" = Option<String>, Query), ("status" = Option<String>, Query), ("search" = Option<String>, Query), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = ListOut<UserOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_users(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let filter = UserFilter {
        role: role("role", q.get("role"))?,
        status: q
            .get("status")
            .map(|s| UserStatus::parse(s).ok_or_else(|| ApiError::field("status", "must be 'active' or 'disabled'")))
            .transpose()?,
        search: fields::short("search", q.get("search"))?,
    };
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (users, total) = state.store.list_users(&auth.org.id, &filter, page).await?;
    let data = users.iter().map(UserOut::from_user).collect();
    Ok(respond_list(data, total, page))
}

#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_user(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: UserId = path_id(&id, "user")?;
    let user = state.store.get_user(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &UserOut::from_user(&user)))
}

/// Applies a patch; `admin_fields` allows role and status changes.
pub(crate) async fn patch(state: &AppState, auth: &Auth, mut user: User, p: UserPatchIn, admin_fields: bool) -> ApiResult<User> {
    if !admin_fields && (p.role.is_some() || p.status.is_some()) {
        let field = if p.role.is_some() { "role" } else { "status" };
        return Err(
            ApiError::new(ErrorKind::Forbidden, format!("You cannot change your own {field}")).with_details(json!({"field": field}))
        );
    }
    let before_role = user.role;
    if let Some(n) = fields::short("name", p.name.as_deref())? {
        user.name = Some(n);
    }
    if let Some(r) = role("role", p.role.as_deref())? {
        may_assign(auth, r)?;
        may_assign(auth, user.role)?;
        user.role = r;
    }
    if let Some(s) = p.status.as_deref() {
        user.status = UserStatus::parse(s).ok_or_else(|| ApiError::field("status", "must be 'active' or 'disabled'"))?;
    }
    let hash = p.password.as_deref().map(|pw| password(pw, &user.email)).transpose()?;
    if let Some(prefs) = preferences(p.preferences.as_ref())?
        && let (Value::Object(stored), Value::Object(new)) = (&mut user.preferences, prefs)
    {
        stored.extend(new);
    }
    user.updated_at = state.clock.now();
    let user = state.store.update_user(user, hash).await?;
    // Cached logins carry the role: drop them so the change applies at once.
    state.keys.clear();
    if user.role != before_role {
        audit::by(
            state,
            auth,
            "user.role_changed",
            Some(user.id.to_string()),
            Some(json!({"from": before_role.as_str(), "to": user.role.as_str()})),
        )
        .await;
    }
    Ok(user)
}

#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", params(("id" = String, Path)), request_body = UserPatchIn,
    responses((status = 200, body = UserOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<UserPatchIn>,
) -> ApiResult<Response> {
    let id: UserId = path_id(&id, "user")?;
    let user = state.store.get_user(&auth.org.id, &id).await?;
    let user = patch(&state, &auth, user, body.value, true).await?;
    Ok(respond(StatusCode::OK, false, &UserOut::from_user(&user)))
}

pub(crate) fn me(auth: &Auth) -> ApiResult<UserId> {
    match &*auth.actor {
        Actor::User { id, .. } => Ok(id.clone()),
        Actor::Key { .. } => Err(ApiError::new(
            ErrorKind::NotFound,
            "API keys have no user profile; log in as a user",
        )),
    }
}

#[utoipa::path(get, path = "/v1/users/me", tag = "users",
    responses((status = 200, body = UserOut), (status = 404, description = "An API key has no user profile", body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_me(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let user = state.store.get_user(&auth.org.id, &me(&auth)?).await?;
    Ok(respond(StatusCode::OK, false, &UserOut::from_user(&user)))
}

#[utoipa::path(patch, path = "/v1/users/me", tag = "users", request_body = UserPatchIn,
    responses((status = 200, body = UserOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "An API key has no user profile", body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_me(State(state): State<AppState>, auth: Auth, body: JsonBody<UserPatchIn>) -> ApiResult<Response> {
    let user = state.store.get_user(&auth.org.id, &me(&auth)?).await?;
    let user = patch(&state, &auth, user, body.value, false).await?;
    Ok(respond(StatusCode::OK, false, &UserOut::from_user(&user)))
}
