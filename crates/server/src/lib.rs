//! The Switchboard server: HTTP API, admin commands and benchmarks.
//!
//! [`run`] serves an [`AppState`] on a listener until a shutdown signal;
//! [`router`] builds the routes (and the OpenAPI document from them).

pub mod api;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod error;
pub mod eval;
pub mod extract;
pub mod idempotency;
pub mod identity;
pub mod in_flight;
pub mod live;
pub mod llm;
pub mod logs;
pub mod openapi;
pub mod speech;
pub mod state;
pub mod telemetry;
pub mod workers;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use switchboard_domain::Organisation;
use switchboard_store::DynStore;
use switchboard_store::sqlite::{SqliteOptions, SqliteStore};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::compat::vocelio;
use crate::api::compat::{callmind, ribbon, ribbon_calls};
use crate::api::v1::analysis as analysis_routes;
use crate::api::v1::intents;
use crate::api::v1::recordings;
use crate::api::v1::speech as speech_routes;
use crate::api::v1::{agents, campaigns, contact_lists, departments, dnc, queues, templates, twilio};
use crate::api::v1::{analytics, auth as auth_routes, call_actions, calls, contacts, export, keys, org, usage, users};
use crate::api::v1::{stream as live_routes, webhook_ops, webhooks, ws};
use crate::config::{Config, Durability};
use crate::error::{ApiError, ErrorKind};
pub use crate::state::AppState;

/// Opens the configured store: PostgreSQL when a URL is set, else the
/// SQLite file `switchboard.db` in the data folder.
pub async fn open_store(cfg: &Config) -> anyhow::Result<DynStore> {
    if let Some(url) = &cfg.database_url {
        let store = switchboard_store::postgres::PgStore::connect_with(
            url.expose(),
            switchboard_store::postgres::PgOptions {
                max_connections: cfg.pg_max_connections,
                ..Default::default()
            },
        )
        .await
        .context("cannot open the PostgreSQL database")?;
        return Ok(Arc::new(store));
    }
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| format!("cannot create data folder {}", cfg.data_dir.display()))?;
    let path = cfg.data_dir.join("switchboard.db");
    let durability = match cfg.durability {
        Durability::Full => switchboard_store::sqlite::Durability::Full,
        Durability::Normal => switchboard_store::sqlite::Durability::Normal,
    };
    let store = SqliteStore::open(
        &path,
        SqliteOptions {
            durability,
            readers: cfg.sqlite_readers,
        },
    )
    .with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
    Ok(Arc::new(store))
}

/// On an empty database, creates the default organisation and its first
/// API key; answers the key (to print once) when it did.
pub async fn bootstrap(store: &DynStore, cfg: &Config) -> anyhow::Result<Option<String>> {
    if !store.list_orgs().await?.is_empty() {
        return Ok(None);
    }
    let mut org = Organisation::new("default", "Default organisation", switchboard_domain::now());
    org.plan = cfg.bootstrap_plan.clone();
    org.default_region = cfg.default_region.clone().map(|r| r.to_ascii_uppercase());
    let (secret, key, hash) = identity::auth::generate_key(&org, "bootstrap");
    Ok(store.bootstrap(org, key, hash).await?.then_some(secret))
}

#[derive(Clone, Default)]
struct TimeOrderedRequestId;

impl MakeRequestId for TimeOrderedRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&format!("req_{}", switchboard_domain::id::new_body()))
            .ok()
            .map(RequestId::new)
    }
}

/// The longest request id a client may choose.
pub const MAX_REQUEST_ID: usize = 64;

/// Is this a request id we echo: 1 to 64 characters of `[A-Za-z0-9._-]`?
pub fn is_safe_request_id(v: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&v.len()) && v.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Drops a client's `X-Request-Id` unless it is one short safe id, so
/// that the server issues its own instead of echoing (and logging) any
/// length or character a client sends.
async fn screen_request_id(mut req: Request<axum::body::Body>) -> Request<axum::body::Body> {
    let ids = req.headers().get_all("x-request-id");
    let mut iter = ids.iter();
    let keep = matches!((iter.next(), iter.next()), (Some(v), None) if is_safe_request_id(v.as_bytes()));
    if !keep {
        req.headers_mut().remove("x-request-id");
    }
    req
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::internal().into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "No such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorKind::MethodNotAllowed, "This route does not accept this method")
}

/// Every documented route; the OpenAPI document is generated from it.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(api::health::health))
        .routes(routes!(telemetry::metrics_route))
        .routes(routes!(calls::create_call, calls::list_calls))
        .routes(routes!(calls::get_call, calls::delete_call))
        .routes(routes!(calls::cancel_call))
        .routes(routes!(calls::report_event))
        .routes(routes!(calls::report_external_event))
        .routes(routes!(live_routes::stream))
        .routes(routes!(live_routes::call_stream))
        .routes(routes!(live_routes::active_calls))
        .routes(routes!(live_routes::active_stream))
        .routes(routes!(live_routes::realtime))
        .routes(routes!(ws::ws))
        .routes(routes!(call_actions::call_action))
        .routes(routes!(call_actions::transcript))
        .routes(routes!(export::export_calls))
        .routes(routes!(analytics::call_stats))
        .routes(routes!(analytics::campaign_stats))
        .routes(routes!(analytics::agent_stats))
        .routes(routes!(analytics::breakdown))
        .routes(routes!(analytics::summary))
        .routes(routes!(callmind::create, callmind::list))
        .routes(routes!(callmind::get))
        .routes(routes!(callmind::update_status))
        .routes(routes!(callmind::started))
        .routes(routes!(callmind::completed))
        .routes(routes!(ribbon::call_logs))
        .routes(routes!(ribbon::customer_calls))
        .routes(routes!(ribbon::analytics))
        .routes(routes!(ribbon::detailed))
        .routes(routes!(ribbon::export))
        .routes(routes!(ribbon_calls::script))
        .routes(routes!(ribbon_calls::style))
        .routes(routes!(ribbon_calls::place))
        .routes(routes!(ribbon_calls::status))
        .routes(routes!(ribbon_calls::act))
        .routes(routes!(vocelio::auth::login))
        .routes(routes!(vocelio::auth::login_short))
        .routes(routes!(vocelio::auth::refresh))
        .routes(routes!(vocelio::auth::refresh_short))
        .routes(routes!(vocelio::users::get_me, vocelio::users::update_me))
        .routes(routes!(vocelio::users::list, vocelio::users::create))
        .routes(routes!(vocelio::users::update))
        .routes(routes!(vocelio::voices::list))
        .routes(routes!(vocelio::voices::list_plural))
        .routes(routes!(vocelio::voices::generate))
        .routes(routes!(vocelio::voices::generate_plural))
        .routes(routes!(vocelio::voices::clone))
        .routes(routes!(vocelio::voices::clone_plural))
        .routes(routes!(vocelio::voices::preview))
        .routes(routes!(vocelio::calls::initiate, vocelio::calls::list))
        .routes(routes!(vocelio::calls::get, vocelio::calls::update))
        .routes(routes!(vocelio::calls::active))
        .routes(routes!(vocelio::calls::logs))
        .routes(routes!(vocelio::calls::hangup))
        .routes(routes!(vocelio::calls::hold))
        .routes(routes!(vocelio::calls::dnc_check))
        .routes(routes!(vocelio::call_events::call_events))
        .routes(routes!(vocelio::call_events::active_events))
        .routes(routes!(vocelio::analytics::dashboard))
        .routes(routes!(vocelio::analytics::realtime))
        .routes(routes!(vocelio::analytics::calls))
        .routes(routes!(vocelio::analytics::agents))
        .routes(routes!(vocelio::campaigns::list))
        .routes(routes!(vocelio::campaigns::get, vocelio::campaigns::update))
        .routes(routes!(vocelio::campaigns::start))
        .routes(routes!(vocelio::campaigns::pause))
        .routes(routes!(vocelio::campaigns::stats))
        .routes(routes!(org::get_org, org::update_org))
        .routes(routes!(usage::set_plan))
        .routes(routes!(usage::usage))
        .routes(routes!(usage::list_audit))
        .routes(routes!(auth_routes::login))
        .routes(routes!(auth_routes::refresh))
        .routes(routes!(auth_routes::logout))
        .routes(routes!(users::create_user, users::list_users))
        .routes(routes!(users::get_me, users::update_me))
        .routes(routes!(users::get_user, users::update_user))
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(keys::rotate_key))
        .routes(routes!(contacts::create_contact, contacts::list_contacts))
        .routes(routes!(contacts::get_contact, contacts::update_contact, contacts::delete_contact))
        .routes(routes!(templates::create_template, templates::list_templates))
        .routes(routes!(templates::get_template))
        .routes(routes!(campaigns::create_campaign, campaigns::list_campaigns))
        .routes(routes!(campaigns::get_campaign))
        .routes(routes!(campaigns::set_status))
        .routes(routes!(contact_lists::create_list, contact_lists::list_lists))
        .routes(routes!(contact_lists::get_list))
        .routes(routes!(contact_lists::add_members, contact_lists::list_members))
        .routes(routes!(contact_lists::import_csv))
        .routes(routes!(dnc::add, dnc::list))
        .routes(routes!(dnc::bulk))
        .routes(routes!(dnc::remove))
        .routes(routes!(twilio::status_callback))
        .routes(routes!(twilio::gather))
        .routes(routes!(twilio::voice))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(webhooks::get_webhook, webhooks::update_webhook, webhooks::delete_webhook))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhook_ops::event_types))
        .routes(routes!(webhook_ops::list_attempts))
        .routes(routes!(webhook_ops::list_deliveries))
        .routes(routes!(webhook_ops::replay))
        .routes(routes!(webhook_ops::redeliver))
        .routes(routes!(speech_routes::list_voices))
        .routes(routes!(speech_routes::synthesize))
        .routes(routes!(speech_routes::get_audio))
        .routes(routes!(speech_routes::get_public_audio))
        .routes(routes!(recordings::upload, recordings::download))
        .routes(routes!(analysis_routes::get_analysis))
        .routes(routes!(analysis_routes::analyze_call))
        .routes(routes!(analysis_routes::analyze))
        .routes(routes!(analysis_routes::get_settings, analysis_routes::put_settings))
        .routes(routes!(intents::create_intent, intents::list_intents))
        .routes(routes!(intents::get_intent, intents::update_intent, intents::delete_intent))
        .routes(routes!(agents::list_agents))
        .routes(routes!(agents::get_agent, agents::update_agent))
        .routes(routes!(agents::set_status))
        .routes(routes!(crate::api::v1::routing::accept))
        .routes(routes!(departments::create_department, departments::list_departments))
        .routes(routes!(
            departments::get_department,
            departments::update_department,
            departments::delete_department
        ))
        .routes(routes!(queues::create_queue, queues::list_queues))
        .routes(routes!(queues::get_queue, queues::update_queue, queues::delete_queue))
}

/// Wakes the webhook worker after a request that may have written events,
/// so deliveries start at once instead of at the next poll.
async fn wake_webhooks(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response {
    let writes = req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD;
    let resp = next.run(req).await;
    if writes && resp.status().is_success() {
        state.webhook_wake.notify_one();
    }
    resp
}

/// The OpenAPI document of every route.
pub fn openapi_document() -> serde_json::Value {
    openapi::contract::apply(api_routes().split_for_parts().1)
}

/// Browsers may call the API from any page (the ribbon widget runs on the
/// CRM's origin): credentials travel in headers, never cookies, so no origin
/// gains anything it could not do with the key alone.
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, Method};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("prefer"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderName::from_static("retry-after"),
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// The routes with their OpenAPI document.
pub fn router(state: AppState) -> (Router, serde_json::Value) {
    let body_limit = state.cfg.body_limit;
    let (router, doc) = api_routes().split_for_parts();
    let doc = openapi::contract::apply(doc);
    let known = Arc::new(documented_query_parameters(&doc));
    // Every matched route passes the guard: credentials, permission, rate
    // limit; then, on the native API, its query parameters are checked.
    let router = router
        .route_layer(axum::middleware::from_fn(move |req, next| {
            let known = known.clone();
            async move { refuse_unknown_query(&known, req, next).await }
        }))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), identity::guard::guard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), wake_webhooks))
        .layer(axum::middleware::from_fn_with_state(state.clone(), vocelio::render))
        .with_state(state);
    let doc_json = Arc::new(serde_json::to_string_pretty(&doc).unwrap_or_default());
    let router = router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc_json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], (*doc).clone()) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(telemetry::track))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(TimeOrderedRequestId))
        .layer(axum::middleware::map_request(screen_request_id))
        .layer(cors());
    (router, doc)
}

/// The query parameters each route documents, by (method, path template).
type KnownQuery = std::collections::HashMap<(axum::http::Method, String), std::collections::HashSet<String>>;

fn documented_query_parameters(doc: &serde_json::Value) -> KnownQuery {
    let mut known = KnownQuery::new();
    for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in ops.as_object().into_iter().flatten() {
            let Ok(m) = method.to_uppercase().parse() else { continue };
            let names = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            known.insert((m, path.clone()), names);
        }
    }
    known
}

/// On the native API a query parameter the route does not take (a
/// misspelt `statsu=`) is refused naming it, as unknown body fields are;
/// `Prefer: handling=lenient` lets it pass. The routes' documented
/// parameters are the list, so a new route adopts this by documenting its own.
async fn refuse_unknown_query(known: &KnownQuery, req: Request<axum::body::Body>, next: axum::middleware::Next) -> Response {
    let matched = req.extensions().get::<axum::extract::MatchedPath>().map(|m| m.as_str().to_owned());
    // Carrier callbacks speak the carrier's protocol (Twilio adds `bodySHA256`).
    if let Some(path) = matched.filter(|p| p.starts_with("/v1/") && !p.starts_with("/v1/carriers/"))
        && !extract::prefers_lenient(req.headers())
        && let Some(names) = known.get(&(req.method().clone(), path))
        && let Some(q) = req.uri().query()
    {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap_or_default();
        if let Some((name, _)) = pairs.iter().find(|(n, _)| !names.contains(n)) {
            let mut taken: Vec<&String> = names.iter().collect();
            taken.sort();
            let list = taken.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
            let reason = if list.is_empty() {
                "is not a parameter of this route (it takes none)".to_owned()
            } else {
                format!(
                    "is not a parameter of this route (it takes {list}); send 'Prefer: handling=lenient' to have unknown parameters ignored"
                )
            };
            return ApiError::field(name.clone(), reason).into_response();
        }
    }
    next.run(req).await
}

/// Serves `state` on `listener` until `shutdown` resolves.
pub async fn run(state: AppState, listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let (app, _) = router(state);
    // Live streams write many small frames: without TCP_NODELAY one can wait
    // for the client's delayed acknowledgement of the one before.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .context("server failed")
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
