//! The test server and an HTTP client bound to one organisation's key.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use switchboard_domain::Organisation;
use switchboard_server::AppState;
use switchboard_server::config::Config;
use switchboard_server::identity::ratelimit::RateLimiter;
use switchboard_store::DynStore;
use switchboard_telephony::simulator::{SimSettings, Simulator};
use switchboard_telephony::{ManualClock, TimeSource};
use tokio::sync::oneshot;

pub struct TestServer {
    pub base: String,
    pub store: DynStore,
    pub state: AppState,
    pub a: Client,
    pub b: Client,
    pub body_limit: usize,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

/// A client that sends one organisation's API key.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub key: String,
    pub org: Organisation,
    http: reqwest::Client,
}

/// A second server on the same database (see [`TestServer::another_node`]).
pub struct Node {
    pub state: AppState,
    pub a: Client,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// Asserts the error envelope and its code; answers the details' field.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> Option<String> {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
        assert!(
            self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "message missing: {}",
            self.body
        );
        self.body["error"]["details"]["field"].as_str().map(str::to_owned)
    }

    #[track_caller]
    pub fn assert_field_error(&self, field: &str) {
        let got = self.assert_error(400, "invalid_parameter");
        assert_eq!(got.as_deref(), Some(field), "body: {}", self.body);
    }
}

impl Client {
    /// The same organisation with another credential (a user's token, a scoped key).
    pub fn with_key(&self, key: &str) -> Client {
        Client {
            key: key.to_owned(),
            ..self.clone()
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("authorization", format!("Bearer {}", self.key));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request failed");
        into_resp(resp).await
    }

    pub async fn raw(&self, method: Method, path: &str, body: Vec<u8>, content_type: &str) -> Resp {
        let resp = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request failed");
        into_resp(resp).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// Creates a call and answers its id.
    pub async fn new_call(&self, body: Value) -> String {
        let r = self.post("/v1/calls", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn new_contact(&self, body: Value) -> String {
        let r = self.post("/v1/contacts", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }
}

pub async fn into_resp(resp: reqwest::Response) -> Resp {
    let status = resp.status();
    let headers = resp.headers().clone();
    // A live event stream never ends: answer with its headers only.
    if headers.get("content-type").is_some_and(|v| v == "text/event-stream") {
        return Resp {
            status,
            headers,
            body: Value::String("<event stream>".into()),
        };
    }
    let bytes = resp.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Resp { status, headers, body }
}

/// An instant `days` from now, as RFC 3339 (for scheduled calls, which may
/// be at most a year ahead).
pub fn days_ahead(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Creates an organisation with a key on `store`; answers (org, secret).
pub async fn org_with_key(store: &DynStore, slug: &str) -> (Organisation, String) {
    let org = store
        .create_org(Organisation::new(slug, slug, switchboard_domain::now()))
        .await
        .unwrap();
    let (secret, key, hash) = switchboard_server::identity::auth::generate_key(&org, "tests");
    store.create_key(key, hash).await.unwrap();
    (org, secret)
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_on(tune, None).await
    }

    /// A server whose carrier is the simulator on `clock` (moved by the
    /// test), with `sim` callee behaviour. Workers run only when the test
    /// calls them (`state.dialer.run_once()`, `simulator().pump()`).
    pub async fn start_simulated(clock: Arc<ManualClock>, sim: SimSettings, tune: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_on(tune, Some((clock, sim))).await
    }

    pub fn simulator(&self) -> Arc<Simulator> {
        self.state.telephony.simulator.clone().expect("the simulator is the carrier")
    }

    async fn start_on(tune: impl FnOnce(&mut Config), simulated: Option<(Arc<ManualClock>, SimSettings)>) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            data_dir: dir.path().to_owned(),
            auth_cache_ttl_ms: 0,
            body_limit: 65_536,
            login_delay_ms: 0,
            ..Config::default()
        };
        tune(&mut cfg);
        let store = switchboard_server::open_store(&cfg).await.unwrap();
        let (org_a, key_a) = org_with_key(&store, "alpha").await;
        let (org_b, key_b) = org_with_key(&store, "bravo").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let body_limit = cfg.body_limit;
        let state = match simulated {
            Some((clock, sim)) => {
                let rt = switchboard_telephony::Runtime::simulated(sim, store.clone(), clock as Arc<dyn TimeSource>);
                AppState::assemble(store.clone(), cfg, RateLimiter::memory(), Arc::new(rt))
            }
            None => AppState::new(store.clone(), cfg),
        };
        let served = state.clone();
        tokio::spawn(async move {
            switchboard_server::run(served, listener, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let http = reqwest::Client::new();
        let client = |org: Organisation, key: String| Client {
            base: base.clone(),
            key,
            org,
            http: http.clone(),
        };
        TestServer {
            a: client(org_a, key_a),
            b: client(org_b, key_b),
            store,
            state,
            base: base.clone(),
            body_limit,
            _stop: stop,
            _dir: dir,
        }
    }

    /// Another node on the same database (PostgreSQL): its own store,
    /// state and listener, answering the same organisations' keys.
    pub async fn another_node(&self, tune: impl FnOnce(&mut Config)) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            data_dir: dir.path().to_owned(),
            auth_cache_ttl_ms: 0,
            body_limit: self.body_limit,
            login_delay_ms: 0,
            ..Config::default()
        };
        tune(&mut cfg);
        let store = switchboard_server::open_store(&cfg).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let state = AppState::new(store, cfg);
        let served = state.clone();
        tokio::spawn(async move {
            switchboard_server::run(served, listener, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let rebase = |c: &Client| Client {
            base: base.clone(),
            ..c.clone()
        };
        Node {
            a: rebase(&self.a),
            state,
            _stop: stop,
            _dir: dir,
        }
    }

    /// Everything an organisation has stored, to compare before and after
    /// a refused request: calls, contacts and outbox events.
    pub async fn snapshot(&self, org: &Organisation) -> Value {
        let s = &self.store;
        let page = switchboard_store::Page { page: 1, limit: 1000 };
        let (calls, _) = s.list_calls(&org.id, &Default::default(), page).await.unwrap();
        let mut full = Vec::new();
        for c in calls {
            full.push(serde_json::to_value(s.get_call(&org.id, &c.id).await.unwrap()).unwrap());
        }
        let (contacts, _) = s.list_contacts(&org.id, &Default::default(), page).await.unwrap();
        let events = s.org_events_after(&org.id, 0, 100_000).await.unwrap();
        serde_json::json!({
            "calls": full,
            "contacts": serde_json::to_value(contacts).unwrap(),
            "events": events.iter().map(|e| e.id.to_string()).collect::<Vec<_>>(),
        })
    }
}
