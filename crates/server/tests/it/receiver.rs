//! A webhook receiver: a tiny axum server on 127.0.0.1 that forwards every
//! request it gets over a channel and answers as the test tells it to.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("header {name} missing"))
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// The event id of the payload.
    pub fn id(&self) -> String {
        self.json()["id"].as_str().unwrap().to_owned()
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
    pub location: Option<String>,
    /// Answer 500 to bodies containing this text (and `status` to the rest).
    pub fail_if_contains: Option<String>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Default for Answer {
    fn default() -> Self {
        Self {
            status: 200,
            retry_after: None,
            body: r#"{"received":true}"#.into(),
            location: None,
            fail_if_contains: None,
            delay: Duration::ZERO,
        }
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub rx: mpsc::UnboundedReceiver<Received>,
    answer: Arc<Mutex<Answer>>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts on `addr` (to come back up on the port it had).
    pub async fn start_on(addr: SocketAddr) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let answer = Arc::new(Mutex::new(Answer::default()));
        let app = {
            let answer = answer.clone();
            axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let (tx, answer) = (tx.clone(), answer.lock().unwrap().clone());
                async move {
                    if !answer.delay.is_zero() {
                        tokio::time::sleep(answer.delay).await;
                    }
                    let failing = answer
                        .fail_if_contains
                        .as_ref()
                        .is_some_and(|m| String::from_utf8_lossy(&body).contains(m.as_str()));
                    let _ = tx.send(Received {
                        path: uri.path().to_owned(),
                        headers,
                        body,
                    });
                    let status = if failing { 500 } else { answer.status };
                    let mut resp: Response = (StatusCode::from_u16(status).unwrap(), answer.body).into_response();
                    if let Some(ra) = answer.retry_after {
                        resp.headers_mut().insert("retry-after", ra.parse().unwrap());
                    }
                    if let Some(l) = answer.location {
                        resp.headers_mut().insert("location", l.parse().unwrap());
                    }
                    resp
                }
            })
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Receiver {
            addr,
            rx,
            answer,
            stop: Some(stop),
            done: Some(done),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn answer(&self, a: Answer) {
        *self.answer.lock().unwrap() = a;
    }

    /// Stops listening and closes every connection; answers the address to
    /// come back on.
    pub async fn stop(mut self) -> SocketAddr {
        let _ = self.stop.take().unwrap().send(());
        self.done.take().unwrap().await.unwrap();
        self.addr
    }

    /// The next request, waiting at most `within`.
    pub async fn next(&mut self, within: Duration) -> Received {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .expect("no webhook arrived in time")
            .expect("receiver stopped")
    }

    /// Everything received so far (nothing is in flight once a worker's
    /// `run_once` has returned).
    pub fn drain(&mut self) -> Vec<Received> {
        let mut out = Vec::new();
        while let Ok(r) = self.rx.try_recv() {
            out.push(r);
        }
        out
    }
}
