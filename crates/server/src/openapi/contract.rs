//! Makes the generated document say what the server does, for every route
//! at once (so a new route conforms by being routed and annotated):
//!
//! - **security** from the guard's table: public routes none; every other
//!   route both schemes (`Authorization: Bearer` and `x-api-key`), which
//!   the server accepts everywhere;
//! - **status codes** every route can answer, with the error body: 400
//!   (bad parameter or body), 401/403/429 (credentials, permission, rate
//!   limit), 404 (an id in the path), 413/415 (bodies), 409/422 (the
//!   `Idempotency-Key` every authenticated POST takes);
//! - **parameters** by name: the same parameter means the same thing on
//!   every route (`page`, `limit`, `startDate`, `tz`, `direction`, ...), so
//!   one table gives each its type, bounds, enum or format;
//! - **strict bodies**: the native API refuses unknown fields
//!   (`additionalProperties: false`) unless `Prefer: handling=lenient`;
//! - **links** from each create to the routes that take the id it answers;
//! - unique `operationId`s (handlers of different dialects share names).

use axum::http::Method;
use serde_json::{Map, Value, json};

use crate::identity::guard::{Required, required};

/// The largest page size per route where it is not the default 100.
const LIMITS: &[(&str, u64)] = &[
    ("/api/ribbon/customer/{customerId}/calls", 500),
    ("/api/ribbon/analytics", 100),
    ("/v1/analytics/breakdown", 1000),
];

/// Status code → what it means, for responses the table adds.
fn meaning(code: &str) -> &'static str {
    match code {
        "400" => "A parameter or the body is invalid: `details.field` names it, `details.reason` says the rule",
        "401" => "Missing or invalid credentials",
        "403" => "The credentials lack the permission this route needs (`details.permission`)",
        "404" => "No such resource in the caller's organisation",
        "409" => "Conflicts with the resource's state, or a request with this Idempotency-Key is in progress",
        "413" => "The body is larger than the server's limit",
        "415" => "The body's Content-Type is not one this route reads",
        "422" => "This Idempotency-Key was used with a different request",
        "429" => "Rate limit or login throttle: retry after `Retry-After` seconds",
        _ => "Error",
    }
}

fn error_response(code: &str, path: &str) -> Value {
    // Vocelio's routes answer errors in its own envelope.
    let schema = if crate::api::compat::vocelio::serves(path) {
        "VocelioErrorBody"
    } else {
        "ErrorBody"
    };
    let mut r = json!({
        "description": meaning(code),
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
    });
    if code == "429" {
        r["headers"] = json!({"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}});
    }
    r
}

/// The characters Rust's `trim` removes (Unicode White_Space), for patterns.
const WS: &str = "\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// Text as `validate::text` takes it: not blank, no NUL, at most `max`
/// characters (surrounding white space is trimmed).
fn text(max: u64) -> Value {
    json!({"type": "string", "maxLength": max, "pattern": format!("^[^\\u0000]*[^{WS}\\u0000][^\\u0000]*$")})
}

/// A short text filter, as `fields::short` reads it.
fn short_text() -> Value {
    text(256)
}

/// A date (`2025-05-20`, a whole local day) or an instant (RFC 3339).
fn date_or_instant() -> Value {
    json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"})
}

/// A whole number from `lo` to `hi` written as text, or empty (the
/// dialects read an empty parameter as absent).
fn dialect_int(lo: u64, hi: u64) -> Value {
    let pattern = match (lo, hi) {
        (1, 100) => "^(|[1-9][0-9]?|100)$",
        (1, 500) => "^(|[1-9][0-9]?|[1-4][0-9]{2}|500)$",
        _ => "^(|[1-9][0-9]{0,5}|1000000)$",
    };
    json!({"type": "string", "pattern": pattern})
}

/// On dialect routes an empty parameter means absent: the schema allows it.
fn or_empty(schema: Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => {
            let (lo, hi) = (
                schema["minimum"].as_u64().unwrap_or(1),
                schema["maximum"].as_u64().unwrap_or(1_000_000),
            );
            dialect_int(lo, hi)
        }
        _ => json!({"anyOf": [schema, {"type": "string", "enum": [""]}]}),
    }
}

/// The schema of a query parameter, by its name (and route for `limit`).
fn query_schema(path: &str, name: &str) -> Option<Value> {
    const STATUSES: &str = "scheduled|queued|initiated|ringing|in-progress|in_progress|answered|completed|busy|no-answer|no_answer|failed|canceled|cancelled|voicemail";
    if crate::api::compat::vocelio::serves(path)
        && let Some(schema) = vocelio_query_schema(path, name)
    {
        return Some(schema);
    }
    Some(match name {
        "page" => json!({"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}),
        "limit" => {
            let max = LIMITS.iter().find(|(p, _)| *p == path).map_or(100, |(_, m)| *m);
            json!({"type": "integer", "minimum": 1, "maximum": max})
        }
        "pageSize" => json!({"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
        "startDate" | "endDate" | "since" => date_or_instant(),
        "tz" => json!({"$ref": "#/components/schemas/TimeZoneName"}),
        "direction" | "callDirection" => json!({"type": "string", "enum": ["inbound", "outbound"]}),
        "status" if path.starts_with("/api/call-history") => {
            json!({"type": "string", "enum": ["in-progress", "completed", "missed", "failed"]})
        }
        "status" if path == "/v1/campaigns" => {
            json!({"type": "string", "enum": ["scheduled", "active", "paused", "completed", "cancelled"]})
        }
        "status" if path == "/v1/users" => json!({"type": "string", "enum": ["active", "disabled"]}),
        "status" if path == "/v1/agents" => {
            json!({"type": "string", "enum": ["offline", "available", "on_call", "after_call_work", "break", "missed"]})
        }
        "skill" => json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"}),
        "status" => json!({"type": "string", "pattern": format!("^({STATUSES})(,({STATUSES}))*$")}),
        "format" if path.ends_with("/transcript") => json!({"type": "string", "enum": ["json", "txt"]}),
        "format" => json!({"type": "string", "enum": ["json", "csv"]}),
        "groupBy" => json!({"type": "string", "enum": ["day", "week", "month"]}),
        "by" => json!({"anyOf": [
            {"type": "string", "enum": ["hour", "hourOfDay", "dayOfWeek", "dow", "date", "day", "week", "month", "callType", "direction", "status", "outcome", "agent", "campaign", "duration", "durationBucket", "customer"]},
            {"type": "string", "pattern": "^(context|metadata)\\.[^\\u0000]{1,200}$"}
        ]}),
        "bins" => json!({"type": "string", "pattern": "^(auto|-?[0-9]{1,9}(\\.[0-9]{1,6})?(,-?[0-9]{1,9}(\\.[0-9]{1,6})?){0,99})$"}),
        "sort" => json!({"type": "string", "enum": ["calls", "duration"]}),
        "role" => json!({"type": "string", "enum": ["owner", "admin", "manager", "agent", "viewer"]}),
        "agentId" | "campaignId" | "campaignIds" | "callType" | "customerId" | "contactId" | "search" | "tag" | "industry"
        | "department" | "departmentId" => short_text(),
        _ => return None,
    })
}

/// Vocelio's query parameters (its own words for statuses and dates).
fn vocelio_query_schema(path: &str, name: &str) -> Option<Value> {
    Some(match name {
        "status" if path == "/api/users" => json!({"type": "string", "enum": ["active", "inactive"]}),
        "status" if path.starts_with("/api/campaigns") => {
            json!({"type": "string", "enum": ["draft", "active", "paused", "completed", "cancelled"]})
        }
        "status" => {
            json!({"type": "string", "enum": ["queued", "initiated", "ringing", "answered", "in_progress", "completed", "failed", "busy", "no_answer", "voicemail"]})
        }
        "sort" => json!({"type": "string", "enum": ["created_at"]}),
        "granularity" => json!({"type": "string", "enum": ["hour", "day", "week"]}),
        "order" => json!({"type": "string", "enum": ["asc", "desc"]}),
        "gender" => json!({"type": "string", "enum": ["male", "female", "neutral"]}),
        "category" => json!({"type": "string", "enum": ["professional", "conversational", "narrative"]}),
        "date_from" | "date_to" => date_or_instant(),
        "provider" | "language" | "campaign_id" | "agent_id" | "campaign_type" => short_text(),
        _ => return None,
    })
}

const CALL_STATUSES: &[&str] = &[
    "scheduled",
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "in_progress",
    "answered",
    "completed",
    "busy",
    "no-answer",
    "no_answer",
    "failed",
    "canceled",
    "cancelled",
    "voicemail",
];

/// The schema of a request-body property, by body and property name: the
/// field-level rules the server applies (types, enums, bounds, formats).
/// Rules across fields (a call's times in order, a phone number dialable
/// in its region, an id that exists) are in the descriptions and answer
/// 400 naming the fields.
fn body_property(body: &str, prop: &str) -> Option<Value> {
    let call = matches!(body, "CallIn" | "CallEventIn" | "ExternalEventIn");
    Some(match prop {
        "answeredAt" | "endedAt" | "initiatedAt" | "scheduled" | "timestamp" | "startedAt" | "expiresAt" | "startDate" | "endDate" => {
            json!({"type": "string", "format": "date-time", "description": "RFC 3339; reported times 2000-01-01 to two years ahead, scheduled calls at most one year ahead, plans and expiries ten"})
        }
        "notes" | "summary" | "description" => text(65_536),
        "transcript" => text(1_048_576),
        "recording" | "recordingUrl" | "url" => {
            json!({"type": "string", "maxLength": 2048, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/\\s][^\\s]*$"})
        }
        "duration" => json!({"type": "integer", "minimum": 0, "maximum": 604_800}),
        "cost" => json!({"type": "number", "minimum": 0, "maximum": 1_000_000}),
        "direction" => json!({"type": "string", "enum": ["inbound", "outbound", "in", "out"]}),
        "sentiment" if body == "CallmindIn" => json!({"type": "string", "enum": ["positive", "negative", "neutral"]}),
        "sentiment" => json!({"type": "string", "enum": ["positive", "negative", "neutral", "mixed"]}),
        "status" if call => json!({"type": "string", "enum": CALL_STATUSES}),
        "status" if body == "CallmindIn" => {
            let mut all: Vec<&str> = CALL_STATUSES.to_vec();
            all.push("missed");
            json!({"type": "string", "enum": all})
        }
        "status" if body == "StatusIn" => json!({"type": "string", "enum": ["active", "paused", "resume", "cancelled"]}),
        "status" if body == "UserPatchIn" => json!({"type": "string", "enum": ["active", "disabled"]}),
        "role" => json!({"type": "string", "enum": ["owner", "admin", "manager", "agent", "viewer"]}),
        "plan" => json!({"type": "string", "enum": ["standard", "professional", "enterprise", "unlimited"]}),
        "action" if body == "RibbonActionIn" => json!({"type": "string", "enum": ["hangup", "mute", "unmute", "hold", "unhold"]}),
        "action" => {
            json!({"type": "string", "enum": ["hangup", "hold", "unhold", "mute", "unmute", "dtmf", "say", "play", "gather", "transfer"]})
        }
        "input" => json!({"type": "string", "enum": ["dtmf", "speech", "both"]}),
        "mode" => json!({"type": "string", "enum": ["cold", "warm"]}),
        "numDigits" => json!({"type": "integer", "minimum": 1, "maximum": 20}),
        "timeoutSecs" => json!({"type": "integer", "minimum": 1, "maximum": 60}),
        "phoneCheck" => json!({"type": "string", "enum": ["possible", "strict"]}),
        "signatureScheme" => json!({"type": "string", "enum": ["standard", "saas", "ringez"]}),
        "timeZone" => json!({"$ref": "#/components/schemas/TimeZoneName"}),
        "topics" | "tags" => json!({"type": "array", "maxItems": 100, "items": text(256)}),
        "customerContext" | "metadata" | "collectedData" | "data" | "context" | "customFields" | "preferences" => json!({"type": "object"}),
        "variables" if body != "TemplateIn" => json!({"type": "object"}),
        "email" => {
            json!({"type": "string", "maxLength": 256, "pattern": "^[^@\\s\\u0000]+@[^@\\s.\\u0000][^@\\s\\u0000]*\\.[^@\\s\\u0000]*[^@\\s.\\u0000]$"})
        }
        "password" => json!({"type": "string", "minLength": 15, "maxLength": 256}),
        "correction" | "enabled" => json!({"type": "boolean"}),
        "agentId" | "agentName" | "callType" | "campaignId" | "customerId" | "customerName" | "externalId" | "outcome" | "event"
        | "templateId" | "contactId" | "name" | "company" | "userId" | "orgId" | "callSid" | "callerName" | "reason" | "industry"
        | "organization" | "phone" | "callerId" | "callerNumber" | "phoneNumber" => text(256),
        _ => return None,
    })
}

/// Fields a body cannot do without (others that are needed only together,
/// such as a call's `phone` or `contactId`, are said in the descriptions).
fn body_required(body: &str) -> &'static [&'static str] {
    match body {
        "LoginIn" => &["email", "password"],
        "RefreshIn" => &["refreshToken"],
        "ExternalEventIn" => &["externalId"],
        "KeyIn" => &["name"],
        "UserIn" => &["email", "password"],
        "ContactIn" | "DncIn" => &["phone"],
        "PlanIn" => &["plan"],
        "StatusIn" => &["status"],
        "ActionIn" => &["action"],
        "RibbonCallIn" => &["phoneNumber", "name", "customerId"],
        "CampaignIn" => &["name", "templateId"],
        _ => &[],
    }
}

/// Applies [`body_property`] and [`body_required`] to a body's schema
/// (properties that already carry constraints from their annotations keep them).
fn shape_body(name: &str, schema: &mut Value) {
    let required = body_required(name);
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (prop, s) in props.iter_mut() {
            let nullable = !required.contains(&prop.as_str());
            if let Some(rule) = body_property(name, prop) {
                *s = if nullable {
                    json!({"oneOf": [{"type": "null"}, rule]})
                } else {
                    rule
                };
            }
        }
    }
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
}

/// A response link: (operation, status, id expression, [(link name, target operation)]).
type Link = (&'static str, &'static str, &'static str, &'static [(&'static str, &'static str)]);

/// Response links: from a create to the routes taking the id it answers.
/// A new route that takes an id joins here to be reached by stateful tests.
const LINKS: &[Link] = &[
    // (operation, status, id expression, [(link name, target operation)])
    (
        "create_call",
        "201",
        "$response.body#/id",
        &[
            ("GetCall", "get_call"),
            ("CancelCall", "cancel_call"),
            ("ReportEvent", "report_event"),
            ("CallAction", "call_action"),
            ("CallTranscript", "transcript"),
            ("DeleteCall", "delete_call"),
        ],
    ),
    (
        "create_contact",
        "201",
        "$response.body#/id",
        &[
            ("GetContact", "get_contact"),
            ("UpdateContact", "update_contact"),
            ("DeleteContact", "delete_contact"),
        ],
    ),
    ("create_template", "201", "$response.body#/id", &[("GetTemplate", "get_template")]),
    (
        "create_list",
        "201",
        "$response.body#/id",
        &[
            ("GetList", "get_list"),
            ("ListMembers", "list_members"),
            ("AddMembers", "add_members"),
        ],
    ),
    (
        "create_campaign",
        "201",
        "$response.body#/id",
        &[("GetCampaign", "get_campaign"), ("SetCampaignStatus", "set_status")],
    ),
    (
        "create_webhook",
        "201",
        "$response.body#/id",
        &[
            ("GetWebhook", "get_webhook"),
            ("UpdateWebhook", "update_webhook"),
            ("ListAttempts", "list_attempts"),
            ("ListDeliveries", "list_deliveries"),
            ("DeleteWebhook", "delete_webhook"),
        ],
    ),
    (
        "create_user",
        "201",
        "$response.body#/id",
        &[("GetUser", "get_user"), ("UpdateUser", "update_user")],
    ),
    (
        "callmind_create",
        "201",
        "$response.body#/id",
        &[("GetCallRecord", "callmind_get"), ("UpdateCallStatus", "callmind_update_status")],
    ),
    (
        "call_ribbon_place",
        "201",
        "$response.body#/session_id",
        &[("RibbonCallStatus", "call_ribbon_status"), ("RibbonCallAction", "call_ribbon_act")],
    ),
];

/// Applies the contract to a document (see the module's header); answers
/// it as JSON, as served.
pub fn apply(doc: utoipa::openapi::OpenApi) -> Value {
    let mut v = serde_json::to_value(&doc).unwrap_or_default();
    add_components(&mut v);
    let (bodies, strict_bodies) = each_operation(&mut v);
    for name in &bodies {
        if let Some(s) = v.pointer_mut(&format!("/components/schemas/{name}")) {
            shape_body(name, s);
        }
    }
    // A strict body refuses unknown fields at every depth.
    let mut todo = strict_bodies;
    let mut done = std::collections::HashSet::new();
    while let Some(name) = todo.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        let Some(s) = v.pointer_mut(&format!("/components/schemas/{name}")).and_then(Value::as_object_mut) else {
            continue;
        };
        s.insert("additionalProperties".into(), Value::Bool(false));
        let text = Value::Object(s.clone()).to_string();
        for part in text.split("#/components/schemas/").skip(1) {
            if let Some(nested) = part.split('"').next() {
                todo.push(nested.to_owned());
            }
        }
    }
    unique_operation_ids(&mut v);
    add_links(&mut v);
    v
}

fn add_components(v: &mut Value) {
    let zones: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
    if let Some(schemas) = v.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        schemas.insert(
            "TimeZoneName".into(),
            json!({"type": "string", "description": "An IANA time zone name", "enum": zones}),
        );
    }
}

/// Fills in each operation; answers the component schemas of JSON bodies,
/// and of the strict ones.
fn each_operation(v: &mut Value) -> (Vec<String>, Vec<String>) {
    let (mut bodies, mut strict) = (Vec::new(), Vec::new());
    let Some(paths) = v.get_mut("paths").and_then(Value::as_object_mut) else {
        return (bodies, strict);
    };
    for (path, ops) in paths.iter_mut() {
        let Some(ops) = ops.as_object_mut() else { continue };
        for (method, op) in ops.iter_mut() {
            let Ok(m) = method.to_uppercase().parse::<Method>() else { continue };
            let Some(op) = op.as_object_mut() else { continue };
            if let Some(r) = op
                .get("requestBody")
                .and_then(|b| b.pointer("/content/application~1json/schema/$ref"))
                .and_then(Value::as_str)
            {
                bodies.extend(r.rsplit('/').next().map(str::to_owned));
            }
            if let Some(name) = operation(path, &m, op) {
                strict.push(name);
            }
        }
    }
    bodies.sort();
    bodies.dedup();
    (bodies, strict)
}

fn operation(path: &str, method: &Method, op: &mut Map<String, Value>) -> Option<String> {
    let need = required(method, path);
    let authed = !matches!(need, Required::Public);
    if authed {
        op.insert("security".into(), json!([{"bearer": []}, {"apiKey": []}]));
    } else {
        op.remove("security");
    }
    // Parameters.
    let params = op.entry("parameters").or_insert_with(|| json!([]));
    let mut has_query = false;
    if let Some(list) = params.as_array_mut() {
        for p in list.iter_mut() {
            let (Some(name), Some(place)) = (p["name"].as_str().map(str::to_owned), p["in"].as_str().map(str::to_owned)) else {
                continue;
            };
            match place.as_str() {
                "query" => {
                    has_query = true;
                    if let Some(schema) = query_schema(path, &name) {
                        p["schema"] = if path.starts_with("/v1/") { schema } else { or_empty(schema) };
                    }
                }
                "path" => {
                    p["schema"] = json!({"type": "string", "minLength": 1, "maxLength": 256});
                }
                "header" if name.eq_ignore_ascii_case("Idempotency-Key") => {
                    p["schema"] = idempotency_key_schema();
                }
                _ => {}
            }
        }
        if *method == Method::POST && authed && !list.iter().any(|p| p["name"] == "Idempotency-Key") {
            list.push(json!({
                "name": "Idempotency-Key", "in": "header", "required": false,
                "description": "Makes the request safe to retry: the same key with the same request replays the first answer",
                "schema": idempotency_key_schema()
            }));
        }
    }
    let body = op.get("requestBody").cloned();
    let json_body = body
        .as_ref()
        .and_then(|b| b.pointer("/content/application~1json/schema/$ref"))
        .and_then(Value::as_str);
    let mut strict = None;
    if let Some(r) = json_body
        && path.starts_with("/v1/")
        && !path.starts_with("/v1/carriers/")
    {
        strict = r.rsplit('/').next().map(str::to_owned);
        if let Some(list) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            list.push(json!({
                "name": "Prefer", "in": "header", "required": false,
                "description": "`handling=lenient` has unknown body fields ignored instead of refused",
                "schema": {"type": "string"}
            }));
        }
    }
    if op.get("parameters").and_then(Value::as_array).is_some_and(Vec::is_empty) {
        op.remove("parameters");
    }
    // Responses.
    let mut codes: Vec<&str> = Vec::new();
    if body.is_some() || has_query {
        codes.push("400");
    }
    if authed {
        codes.extend(["401", "403", "429"]);
    }
    if path == "/v1/auth/login" || path.ends_with("/auth/login") {
        codes.push("429");
    }
    if path.contains('{') {
        codes.push("404");
    }
    if body.is_some() {
        codes.extend(["413", "415"]);
    }
    if *method == Method::POST && authed {
        codes.extend(["400", "409", "422"]);
    }
    let responses = op.entry("responses").or_insert_with(|| json!({}));
    if let Some(r) = responses.as_object_mut() {
        for code in codes {
            r.entry(code.to_owned()).or_insert_with(|| error_response(code, path));
        }
        // Every error answer carries the error body.
        for (code, resp) in r.iter_mut() {
            if code.starts_with('4') && resp.get("content").is_none() {
                *resp = error_response(code, path);
            }
        }
    }
    strict
}

fn idempotency_key_schema() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"})
}

/// Handlers of different dialects share names (`list`, `get`, `status`):
/// a dialect's, or any shared one, is prefixed with its tag.
fn unique_operation_ids(v: &mut Value) {
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    let Some(paths) = v.get("paths").and_then(Value::as_object) else {
        return;
    };
    for ops in paths.values() {
        for op in ops.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(id) = op["operationId"].as_str() {
                *seen.entry(id.to_owned()).or_default() += 1;
            }
        }
    }
    let Some(paths) = v.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for ops in paths.values_mut() {
        for op in ops.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            let Some(id) = op["operationId"].as_str().map(str::to_owned) else {
                continue;
            };
            let tag = op["tags"][0].as_str().unwrap_or("api").replace('-', "_");
            let dialect = matches!(tag.as_str(), "callmind" | "call_ribbon" | "vocelio");
            if seen.get(&id).copied().unwrap_or(0) > 1 || dialect && !id.starts_with(&tag) {
                op["operationId"] = json!(format!("{tag}_{id}"));
            }
        }
    }
}

fn add_links(v: &mut Value) {
    let Some(paths) = v.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let ids: std::collections::HashSet<String> = paths
        .values()
        .flat_map(|ops| ops.as_object().into_iter().flat_map(|o| o.values()))
        .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
        .collect();
    for ops in paths.values_mut() {
        for op in ops.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            let Some(id) = op["operationId"].as_str().map(str::to_owned) else {
                continue;
            };
            for (from, status, expr, targets) in LINKS {
                if *from != id {
                    continue;
                }
                let Some(resp) = op.pointer_mut(&format!("/responses/{status}")).and_then(Value::as_object_mut) else {
                    continue;
                };
                let links = resp.entry("links").or_insert_with(|| json!({}));
                for (name, target) in targets.iter().filter(|(_, t)| ids.contains(*t)) {
                    links[*name] = json!({"operationId": target, "parameters": {"id": expr}});
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_names_operations_that_exist() {
        let v = crate::openapi_document();
        let ids: Vec<&str> = v["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|ops| ops.as_object().unwrap().values())
            .filter_map(|op| op["operationId"].as_str())
            .collect();
        assert!(v["components"]["schemas"]["TimeZoneName"]["enum"].as_array().unwrap().len() > 400);
        assert_eq!(
            v["paths"]["/api/call-history"]["post"]["security"],
            json!([{"bearer": []}, {"apiKey": []}])
        );
        assert!(v["paths"]["/health"]["get"].get("security").is_none());
        assert_eq!(v["components"]["schemas"]["CallIn"]["additionalProperties"], json!(false));
        assert!(
            v["components"]["schemas"]["CallmindIn"].get("additionalProperties").is_none(),
            "dialects stay lenient"
        );
        let unique: std::collections::HashSet<&&str> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "operationIds are unique");
        for (from, _, _, targets) in LINKS {
            assert!(ids.contains(from), "{from}");
            for (_, to) in targets.iter() {
                assert!(ids.contains(to), "{to}");
            }
        }
    }
}
