//! `/api/users`: the current user (`me`), the organisation's users, on the
//! core users. Vocelio's `inactive` is the core's `disabled`; its
//! `preferences.timezone` is the core's `preferences.timeZone`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_domain::{User, UserId, UserStatus};
use switchboard_store::UserFilter;
use utoipa::ToSchema;

use super::{Ctx, Envelope, ListEnvelope, Paging, VocelioErrorBody};
use crate::api::fields;
use crate::api::v1::users::{self as core, UserIn, UserOut, UserPatchIn};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Lenient, QueryMap, path_id};
use crate::identity::auth::Auth;
use crate::state::AppState;

/// A Vocelio user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VocelioUser {
    pub user_id: String,
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    /// owner, admin, manager, agent or viewer.
    pub role: String,
    /// active or inactive.
    pub status: &'static str,
    pub organization_id: String,
    /// `campaigns.create`, `calls.view`, ... from the role.
    pub permissions: Vec<String>,
    /// `timezone` (IANA), `notifications` (default true) and any others stored.
    #[schema(value_type = Object)]
    pub preferences: Value,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

fn status_out(s: &str) -> &'static str {
    if s == "active" { "active" } else { "inactive" }
}

fn preferences_out(p: &Value) -> Value {
    let mut out = match p {
        Value::Object(m) => m.clone(),
        _ => Default::default(),
    };
    if let Some(tz) = out.remove("timeZone") {
        out.insert("timezone".into(), tz);
    }
    out.entry("notifications").or_insert(json!(true));
    Value::Object(out)
}

/// The role's permissions in Vocelio's words: each core `x.manage` is also
/// listed as `x.create`, `x.update` and `x.delete` (what it grants).
fn permissions(core: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for p in core {
        out.push((*p).to_owned());
        if let Some(family) = p.strip_suffix(".manage") {
            for verb in ["create", "update", "delete"] {
                let named = format!("{family}.{verb}");
                if !core.contains(&named.as_str()) {
                    out.push(named);
                }
            }
        }
    }
    out
}

impl VocelioUser {
    pub fn from_out(u: &UserOut) -> Self {
        VocelioUser {
            user_id: u.id.clone(),
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.to_owned(),
            status: status_out(u.status),
            organization_id: u.organization_id.clone(),
            permissions: permissions(&u.permissions),
            preferences: preferences_out(&u.preferences),
            created_at: u.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            last_login_at: u.last_login_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        }
    }

    pub fn from_user(u: &User) -> Self {
        Self::from_out(&UserOut::from_user(u))
    }
}

/// What `PUT /api/users/me` and `PUT /api/users/{id}` take.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VocelioUserPatch {
    pub name: Option<String>,
    /// owner, admin, manager, agent or viewer.
    pub role: Option<String>,
    /// active or inactive.
    pub status: Option<String>,
    pub password: Option<String>,
    /// Merged into the stored ones; `timezone` must be an IANA zone.
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<Value>,
}

/// Vocelio's preferences in the core's names.
fn preferences_in(v: Option<Value>) -> ApiResult<Option<Value>> {
    let Some(p) = fields::object("preferences", v.as_ref())? else {
        return Ok(None);
    };
    let mut p = match p {
        Value::Object(m) => m,
        _ => return Err(ApiError::field("preferences", "must be an object")),
    };
    if let Some(tz) = p.remove("timezone") {
        let name = tz
            .as_str()
            .ok_or_else(|| ApiError::field("preferences.timezone", "must be a string"))?;
        fields::time_zone("preferences.timezone", Some(name))?;
        p.insert("timeZone".into(), tz);
    }
    if let Some(n) = p.get("notifications")
        && !n.is_boolean()
    {
        return Err(ApiError::field("preferences.notifications", "must be true or false"));
    }
    Ok(Some(Value::Object(p)))
}

fn status_in(v: Option<&str>) -> ApiResult<Option<String>> {
    v.map(|s| match s.trim() {
        "active" => Ok("active".to_owned()),
        "inactive" | "disabled" => Ok("disabled".to_owned()),
        _ => Err(ApiError::field("status", "must be 'active' or 'inactive'")),
    })
    .transpose()
}

fn patch_in(b: VocelioUserPatch) -> ApiResult<UserPatchIn> {
    Ok(UserPatchIn {
        name: b.name,
        role: b.role,
        status: status_in(b.status.as_deref())?,
        password: b.password,
        preferences: preferences_in(b.preferences)?,
    })
}

#[utoipa::path(get, operation_id = "vocelio_users_get_me", path = "/api/users/me", tag = "vocelio",
    responses((status = 200, body = Envelope<VocelioUser>), (status = 404, description = "An API key has no user profile", body = VocelioErrorBody)))]
pub async fn get_me(State(state): State<AppState>, ctx: Ctx, auth: Auth) -> ApiResult<Response> {
    let user = state.store.get_user(&auth.org.id, &core::me(&auth)?).await?;
    Ok(ctx.ok(StatusCode::OK, VocelioUser::from_user(&user)))
}

#[utoipa::path(put, operation_id = "vocelio_users_update_me", path = "/api/users/me", tag = "vocelio", request_body = VocelioUserPatch,
    responses((status = 200, body = Envelope<VocelioUser>), (status = 400, body = VocelioErrorBody), (status = 403, body = VocelioErrorBody),
        (status = 404, description = "An API key has no user profile", body = VocelioErrorBody)))]
pub async fn update_me(
    State(state): State<AppState>,
    ctx: Ctx,
    auth: Auth,
    body: JsonBody<VocelioUserPatch, Lenient>,
) -> ApiResult<Response> {
    let patch = patch_in(body.value)?;
    let user = state.store.get_user(&auth.org.id, &core::me(&auth)?).await?;
    let user = core::patch(&state, &auth, user, patch, false).await?;
    Ok(ctx.ok(StatusCode::OK, VocelioUser::from_user(&user)))
}

#[utoipa::path(get, operation_id = "vocelio_users_list", path = "/api/users", tag = "vocelio",
    params(("role" = Option<String>, Query), ("status" = Option<String>, Query, description = "active or inactive"), ("search" = Option<String>, Query),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query), ("sort" = Option<String>, Query, description = "created_at (the only order kept)"), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListEnvelope<VocelioUser>), (status = 400, body = VocelioErrorBody)))]
pub async fn list(State(state): State<AppState>, ctx: Ctx, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let paging = Paging::read(&q, &["created_at"])?;
    let filter = UserFilter {
        role: core::role("role", q.get("role"))?,
        status: status_in(q.get("status"))?.and_then(|s| UserStatus::parse(&s)),
        search: fields::short("search", q.get("search"))?,
    };
    let (mut users, total) = state.store.list_users(&auth.org.id, &filter, paging.page).await?;
    users.sort_by_key(|u| u.created_at);
    if paging.descending {
        users.reverse();
    }
    let data = users.iter().map(VocelioUser::from_user).collect();
    Ok(ctx.list(data, total, &paging))
}

/// What `POST /api/users` takes.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VocelioUserIn {
    pub email: Option<String>,
    pub name: Option<String>,
    /// owner, admin, manager, agent (default) or viewer.
    pub role: Option<String>,
    /// 15 to 256 characters; not a common or breached password.
    pub password: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<Value>,
}

#[utoipa::path(post, operation_id = "vocelio_users_create", path = "/api/users", tag = "vocelio", request_body = VocelioUserIn,
    responses((status = 201, body = Envelope<VocelioUser>), (status = 400, body = VocelioErrorBody), (status = 409, body = VocelioErrorBody)))]
pub async fn create(State(state): State<AppState>, ctx: Ctx, auth: Auth, body: JsonBody<VocelioUserIn, Lenient>) -> ApiResult<Response> {
    let b = body.value;
    let input = UserIn {
        email: b.email,
        name: b.name,
        password: b.password,
        role: b.role,
        preferences: preferences_in(b.preferences)?,
    };
    let user = core::create(&state, &auth, input).await?;
    Ok(ctx.ok(StatusCode::CREATED, VocelioUser::from_user(&user)))
}

#[utoipa::path(put, operation_id = "vocelio_users_update", path = "/api/users/{user_id}", tag = "vocelio", params(("user_id" = String, Path)), request_body = VocelioUserPatch,
    responses((status = 200, body = Envelope<VocelioUser>), (status = 400, body = VocelioErrorBody), (status = 403, body = VocelioErrorBody), (status = 404, body = VocelioErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<VocelioUserPatch, Lenient>,
) -> ApiResult<Response> {
    let id: UserId = path_id(&id, "user")?;
    let patch = patch_in(body.value)?;
    let user = state.store.get_user(&auth.org.id, &id).await?;
    let user = core::patch(&state, &auth, user, patch, true).await?;
    Ok(ctx.ok(StatusCode::OK, VocelioUser::from_user(&user)))
}
