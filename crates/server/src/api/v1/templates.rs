//! `/v1/templates`: call scripts of typed steps with `{variables}`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::script::{Branch, InputMode, Step, StepType, TransferMode};
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

/// Where an answer leads: exactly one of `digits`, `intent`, `keywords`, `default`, `noInput`, with `goto`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BranchIn {
    /// Key presses that select this branch, e.g. "1".
    pub digits: Option<String>,
    /// An intent name (built-in, e.g. `interested`, `callback_request`, or one of the organisation's own).
    pub intent: Option<String>,
    /// Words or phrases, any of which in a spoken answer selects this branch.
    pub keywords: Option<Vec<String>>,
    /// Taken when no other branch matched an answer.
    pub default: Option<bool>,
    /// Taken when the callee said nothing after every retry.
    pub no_input: Option<bool>,
    /// The id of the step to go to.
    pub goto: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepIn {
    /// Optional; assigned "1", "2", ... by position when absent.
    pub id: Option<String>,
    /// `greeting`, `information`, `question`, `response`, `closing`, `transfer`, `hangup`, `voicemail`, `pause` or `agent`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Text spoken; `{name}` placeholders must be listed in `variables`. For `agent` steps: the model's instructions.
    pub content: Option<String>,
    /// The key the answer is stored under in the call's `collectedData` (default: the step id).
    pub save_as: Option<String>,
    pub branches: Option<Vec<BranchIn>>,
    /// The step after this one (default: the next in order).
    pub next: Option<String>,
    /// The call's outcome once this step is reached (`successful`, `callback`, `refused`, ...).
    pub outcome: Option<String>,
    /// One of the platform's voices for this step's prompts.
    pub voice: Option<String>,
    /// Questions: `dtmf`, `speech` or `both` (default).
    pub input: Option<String>,
    pub num_digits: Option<u8>,
    /// Questions: seconds to wait for an answer (1-60, default 5).
    pub timeout_secs: Option<u32>,
    /// Questions: how often to ask again after no usable answer (0-5, default 1).
    pub max_retries: Option<u32>,
    pub no_input_prompt: Option<String>,
    /// Transfers: a number (E.164), a queue id or an agent id.
    pub to: Option<String>,
    /// Transfers: `cold` (default) or `warm`.
    pub mode: Option<String>,
    /// Pauses: seconds (1-60).
    pub secs: Option<u32>,
    /// Agent steps: most model turns (1-20, default 8).
    pub max_turns: Option<u32>,
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
#[serde(rename_all = "camelCase")]
pub struct TemplateOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// The steps as stored (optional fields omitted when unset).
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Step>,
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
            steps: t.steps.clone(),
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

fn parse_branch(field: &str, b: &BranchIn) -> ApiResult<Branch> {
    Ok(Branch {
        digits: b.digits.as_deref().map(|d| d.trim().to_owned()),
        intent: b.intent.as_deref().map(|d| d.trim().to_owned()),
        keywords: b.keywords.clone().unwrap_or_default(),
        default: b.default.unwrap_or(false),
        no_input: b.no_input.unwrap_or(false),
        goto: b
            .goto
            .as_deref()
            .map(|g| g.trim().to_owned())
            .ok_or_else(|| ApiError::field(format!("{field}.goto"), "is required"))?,
    })
}

fn parse_step(i: usize, s: &StepIn) -> ApiResult<Step> {
    let f = |name: &str| format!("steps[{i}].{name}");
    let kind = s.kind.as_deref().ok_or_else(|| ApiError::field(f("type"), "is required"))?;
    let kind = StepType::parse(kind).ok_or_else(|| {
        let all: Vec<&str> = StepType::ALL.iter().map(|t| t.as_str()).collect();
        ApiError::field(f("type"), format!("must be one of {}", all.join(", ")))
    })?;
    let content = match (&s.content, kind) {
        (Some(c), _) => c.trim().to_owned(),
        (None, StepType::Transfer | StepType::Hangup | StepType::Pause) => String::new(),
        (None, _) => return Err(ApiError::field(f("content"), "is required")),
    };
    let input = s
        .input
        .as_deref()
        .map(|v| InputMode::parse(v).ok_or_else(|| ApiError::field(f("input"), "must be dtmf, speech or both")))
        .transpose()?;
    let mode = s
        .mode
        .as_deref()
        .map(|v| TransferMode::parse(v).ok_or_else(|| ApiError::field(f("mode"), "must be cold or warm")))
        .transpose()?;
    let branches = s
        .branches
        .iter()
        .flatten()
        .enumerate()
        .map(|(j, b)| parse_branch(&f(&format!("branches[{j}]")), b))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Step {
        id: s.id.as_deref().map(|v| v.trim().to_owned()).unwrap_or_default(),
        kind,
        content,
        save_as: s.save_as.as_deref().map(|v| v.trim().to_owned()),
        branches,
        next: s.next.as_deref().map(|v| v.trim().to_owned()),
        outcome: fields::short(&f("outcome"), s.outcome.as_deref())?,
        voice: fields::short(&f("voice"), s.voice.as_deref())?,
        input,
        num_digits: s.num_digits,
        timeout_secs: s.timeout_secs,
        max_retries: s.max_retries,
        no_input_prompt: s.no_input_prompt.as_deref().map(|v| v.trim().to_owned()),
        to: s.to.as_deref().map(|v| v.trim().to_owned()),
        mode,
        secs: s.secs,
        max_turns: s.max_turns,
    })
}

fn parse_template(input: &TemplateIn, org: &Organisation) -> ApiResult<Template> {
    let name = fields::short("name", input.name.as_deref())?.ok_or_else(|| ApiError::field("name", "is required"))?;
    let Some(steps_in) = &input.steps else {
        return Err(ApiError::field("steps", "is required"));
    };
    if steps_in.len() > switchboard_domain::template::MAX_STEPS {
        return Err(ApiError::field(
            "steps",
            format!("must have at most {} steps", switchboard_domain::template::MAX_STEPS),
        ));
    }
    let mut steps = steps_in
        .iter()
        .enumerate()
        .map(|(i, s)| parse_step(i, s))
        .collect::<ApiResult<Vec<Step>>>()?;
    switchboard_domain::script::assign_ids(&mut steps);
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
