//! An organisation's own intents (`/v1/intents`): a name and the example
//! phrases that mean it. They join the built-in call-centre intents in the
//! classifier that script `intent` branches and call analysis use; an
//! intent named like a built-in one adds its examples to it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchboard_intelligence::IntentModel;
use switchboard_intelligence::intent::{MAX_EXAMPLE_CHARS, MAX_EXAMPLES, MAX_INTENTS};
use switchboard_store::IntentRecord;
use utoipa::ToSchema;

use super::{ErrorBody, ListOut, respond, respond_list};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::identity::auth::Auth;
use crate::state::AppState;

/// Longest intent name.
const MAX_NAME: usize = 64;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntentOut {
    pub id: String,
    pub name: String,
    pub examples: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<IntentRecord> for IntentOut {
    fn from(i: IntentRecord) -> Self {
        Self {
            id: i.id,
            name: i.name,
            examples: i.examples,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntentIn {
    /// 1 to 64 lower-case letters, digits or `_` (`upgrade_plan`).
    pub name: Option<String>,
    /// At least one phrase that means it (at most 1,000, of at most 500 characters).
    pub examples: Option<Vec<String>>,
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name != switchboard_intelligence::intent::UNKNOWN;
    if !ok {
        return Err(ApiError::field(
            "name",
            "must be 1 to 64 lower-case letters, digits or '_' (and not 'unknown')",
        ));
    }
    Ok(name.to_owned())
}

fn check_examples(examples: &[String]) -> Result<Vec<String>, ApiError> {
    if examples.is_empty() {
        return Err(ApiError::field("examples", "must list at least one phrase"));
    }
    if examples.len() > MAX_EXAMPLES {
        return Err(ApiError::field("examples", format!("at most {MAX_EXAMPLES} phrases")));
    }
    examples
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let t = e.trim();
            if t.is_empty() || t.chars().count() > MAX_EXAMPLE_CHARS || !t.chars().any(char::is_alphanumeric) {
                Err(ApiError::field(
                    format!("examples[{i}]"),
                    format!("must be 1 to {MAX_EXAMPLE_CHARS} characters with a word in it"),
                ))
            } else {
                Ok(t.to_owned())
            }
        })
        .collect()
}

/// Checks that the organisation's intents, with `changed` in place of its
/// stored version, still make a model.
async fn check_model(state: &AppState, auth: &Auth, changed: &IntentRecord) -> Result<(), ApiError> {
    let mut all: Vec<(String, Vec<String>)> = state
        .store
        .list_intents(&auth.org.id)
        .await?
        .into_iter()
        .filter(|i| i.id != changed.id)
        .map(|i| (i.name, i.examples))
        .collect();
    if all.len() >= MAX_INTENTS {
        return Err(ApiError::field(
            "name",
            format!("an organisation has at most {MAX_INTENTS} intents"),
        ));
    }
    all.push((changed.name.clone(), changed.examples.clone()));
    tokio::task::spawn_blocking(move || IntentModel::new(all).map(|_| ()))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| ApiError::field("examples", e.to_string()))
}

#[utoipa::path(post, path = "/v1/intents", tag = "templates", request_body = IntentIn,
    responses((status = 201, body = IntentOut), (status = 400, body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn create_intent(State(state): State<AppState>, auth: Auth, body: JsonBody<IntentIn>) -> ApiResult<Response> {
    let body = body.value;
    let name = check_name(body.name.as_deref().ok_or_else(|| ApiError::field("name", "is required"))?)?;
    let examples = check_examples(body.examples.as_deref().ok_or_else(|| ApiError::field("examples", "is required"))?)?;
    let now = switchboard_domain::truncate(switchboard_domain::now());
    let intent = IntentRecord {
        id: format!("int_{}", switchboard_domain::id::new_body()),
        org_id: auth.org.id.clone(),
        name,
        examples,
        created_at: now,
        updated_at: now,
    };
    check_model(&state, &auth, &intent).await?;
    let saved = state.store.create_intent(intent).await?;
    state.intent_models.forget(&auth.org.id);
    Ok(respond(StatusCode::CREATED, false, &IntentOut::from(saved)))
}

#[utoipa::path(get, path = "/v1/intents", tag = "templates",
    responses((status = 200, description = "The organisation's own intents, by name", body = ListOut<IntentOut>)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_intents(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let all: Vec<IntentOut> = state
        .store
        .list_intents(&auth.org.id)
        .await?
        .into_iter()
        .map(IntentOut::from)
        .collect();
    let total = all.len() as u64;
    Ok(respond_list(
        all,
        total,
        switchboard_store::Page {
            page: 1,
            limit: MAX_INTENTS as u32,
        },
    ))
}

#[utoipa::path(get, path = "/v1/intents/{id}", tag = "templates", params(("id" = String, Path)),
    responses((status = 200, body = IntentOut), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_intent(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let i = state.store.get_intent(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &IntentOut::from(i)))
}

#[utoipa::path(patch, path = "/v1/intents/{id}", tag = "templates", params(("id" = String, Path)), request_body = IntentIn,
    responses((status = 200, body = IntentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn update_intent(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: JsonBody<IntentIn>,
) -> ApiResult<Response> {
    let body = body.value;
    let mut i = state.store.get_intent(&auth.org.id, &id).await?;
    if let Some(name) = body.name.as_deref() {
        i.name = check_name(name)?;
    }
    if let Some(examples) = body.examples.as_deref() {
        i.examples = check_examples(examples)?;
    }
    i.updated_at = switchboard_domain::truncate(switchboard_domain::now());
    check_model(&state, &auth, &i).await?;
    let saved = state.store.update_intent(i).await?;
    state.intent_models.forget(&auth.org.id);
    Ok(respond(StatusCode::OK, false, &IntentOut::from(saved)))
}

#[utoipa::path(delete, path = "/v1/intents/{id}", tag = "templates", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn delete_intent(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    state.store.delete_intent(&auth.org.id, &id).await?;
    state.intent_models.forget(&auth.org.id);
    Ok(StatusCode::NO_CONTENT.into_response())
}
