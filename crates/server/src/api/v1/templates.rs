//! `/v1/templates`: call scripts of typed steps with `{variables}`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::template::{Step, StepType};
use switchboard_domain::{Organisation, Template, TemplateId};
use switchboard_store::TemplateFilter;
use utoipa::ToSchema;

use super::{DEFAULT_LIMIT, ErrorBody, ListOut, MAX_LIMIT, respond, respond_list};
use crate::api::fields;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryMap, path_id};
use crate::idempotency;
use crate::identity::auth::Auth;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepIn {
    /// `greeting`, `information`, `question`, `response` or `closing`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Text spoken; `{name}` placeholders must be listed in `variables`.
    pub content: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateIn {
    pub name: Option<String>,
    pub description: Option<String>,
    pub industry: Option<String>,
    pub steps: Option<Vec<StepIn>>,
    pub variables: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepOut {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub content: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    pub steps: Vec<StepOut>,
    pub variables: Vec<String>,
    pub usage_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TemplateOut {
    pub fn from_template(t: &Template) -> Self {
        TemplateOut {
            id: t.id.to_string(),
            name: t.name.clone(),
            description: t.description.clone(),
            industry: t.industry.clone(),
            steps: t
                .steps
                .iter()
                .map(|s| StepOut {
                    id: s.id.clone(),
                    kind: s.kind.as_str(),
                    content: s.content.clone(),
                })
                .collect(),
            variables: t.variables.clone(),
            usage_count: t.usage_count,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A template in a list: its steps counted, not shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSummaryOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    pub step_count: usize,
    pub usage_count: i64,
    pub created_at: DateTime<Utc>,
}

fn parse_template(input: &TemplateIn, org: &Organisation) -> ApiResult<Template> {
    let name = fields::short("name", input.name.as_deref())?.ok_or_else(|| ApiError::field("name", "is required"))?;
    let Some(steps_in) = &input.steps else {
        return Err(ApiError::field("steps", "is required"));
    };
    let mut steps = Vec::with_capacity(steps_in.len());
    for (i, s) in steps_in.iter().enumerate() {
        let kind = s
            .kind
            .as_deref()
            .ok_or_else(|| ApiError::field(format!("steps[{i}].type"), "is required"))?;
        let kind = StepType::parse(kind).ok_or_else(|| {
            ApiError::field(
                format!("steps[{i}].type"),
                "must be one of greeting, information, question, response, closing",
            )
        })?;
        let content = s
            .content
            .clone()
            .ok_or_else(|| ApiError::field(format!("steps[{i}].content"), "is required"))?;
        steps.push(Step {
            id: (i + 1).to_string(),
            kind,
            content: content.trim().to_owned(),
        });
    }
    let mut variables: Vec<String> = Vec::new();
    for v in input.variables.iter().flatten() {
        let v = v.trim().to_owned();
        if !variables.contains(&v) {
            variables.push(v);
        }
    }
    Template::check(&steps, &variables)?;
    let now = switchboard_domain::now();
    Ok(Template {
        id: TemplateId::new(),
        org_id: org.id.clone(),
        name,
        description: fields::long("description", input.description.as_deref())?,
        industry: fields::short("industry", input.industry.as_deref())?,
        steps,
        variables,
        usage_count: 0,
        created_at: now,
        updated_at: now,
    })
}

#[utoipa::path(post, path = "/v1/templates", tag = "templates", request_body = TemplateIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 201, body = TemplateOut), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("apiKey" = [])))]
pub async fn create_template(
    State(state): State<AppState>,
    auth: Auth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: JsonBody<TemplateIn>,
) -> ApiResult<Response> {
    let template = parse_template(&body.value, &auth.org)?;
    let out = idempotency::run(
        &state,
        &auth,
        &headers,
        (&method, uri.path(), &body.raw),
        StatusCode::CREATED,
        |idem| {
            let store = state.store.clone();
            async move { store.create_template(template, idem).await }
        },
    )
    .await?;
    Ok(respond(out.status, out.replayed, &TemplateOut::from_template(&out.value)))
}

#[utoipa::path(get, path = "/v1/templates/{id}", tag = "templates", params(("id" = String, Path)),
    responses((status = 200, body = TemplateOut), (status = 404, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn get_template(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Response> {
    let id: TemplateId = path_id(&id, "template")?;
    let t = state.store.get_template(&auth.org.id, &id).await?;
    Ok(respond(StatusCode::OK, false, &TemplateOut::from_template(&t)))
}

#[utoipa::path(get, path = "/v1/templates", tag = "templates",
    params(("industry" = Option<String>, Query), ("search" = Option<String>, Query, description = "Substring of name or description"),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListOut<TemplateSummaryOut>), (status = 400, body = ErrorBody)), security(("bearer" = []), ("apiKey" = [])))]
pub async fn list_templates(State(state): State<AppState>, auth: Auth, q: QueryMap) -> ApiResult<Response> {
    let filter = TemplateFilter {
        industry: fields::short("industry", q.get("industry"))?,
        search: fields::short("search", q.get("search"))?,
    };
    let page = q.page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let (rows, total) = state.store.list_templates(&auth.org.id, &filter, page).await?;
    let data = rows
        .iter()
        .map(|t| TemplateSummaryOut {
            id: t.id.to_string(),
            name: t.name.clone(),
            description: t.description.clone(),
            industry: t.industry.clone(),
            step_count: t.steps.len(),
            usage_count: t.usage_count,
            created_at: t.created_at,
        })
        .collect();
    Ok(respond_list(data, total, page))
}

/// A 422 listing the template variables a call lacks.
pub fn missing_variables(missing: &[String]) -> ApiError {
    ApiError::new(
        crate::error::ErrorKind::MissingVariables,
        format!("The template needs values for: {}", missing.join(", ")),
    )
    .with_details(serde_json::json!({ "field": "variables", "reason": "missing template variables", "missing": missing }))
}
