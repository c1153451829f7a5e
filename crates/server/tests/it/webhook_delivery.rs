//! Webhook delivery to a real receiver on a local port, driven step by step
//! with the worker's `run_once`: signatures (Standard Webhooks checked by
//! the official Python package, the other schemes by an independent HMAC),
//! retries while the receiver is down, ordering, Retry-After, giving up,
//! disabling after 5 days, redirects, capped bodies, send-time SSRF checks,
//! replay and redelivery.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_server::workers::webhooks::{WebhookWorker, WorkerConfig};

use crate::receiver::{Answer, Receiver};
use crate::support::{Client, TestServer};
use crate::webhooks::private_ok;

const WAIT: Duration = Duration::from_secs(10);

fn worker(t: &TestServer, allow_private: bool) -> Arc<WebhookWorker> {
    worker_with(
        t,
        WorkerConfig {
            allow_private,
            ..WorkerConfig::default()
        },
    )
}

fn worker_with(t: &TestServer, cfg: WorkerConfig) -> Arc<WebhookWorker> {
    WebhookWorker::new(t.store.clone(), cfg).unwrap()
}

/// Subscribes; answers (id, secret).
async fn subscribe(c: &Client, body: Value) -> (String, String) {
    let r = c.post("/v1/webhooks", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["secret"].as_str().unwrap().to_owned(),
    )
}

/// Ids of an organisation's events of one type, in outbox order.
async fn event_ids(t: &TestServer, c: &Client, event_type: &str) -> Vec<String> {
    t.store
        .org_events_after(&c.org.id, 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == event_type)
        .map(|e| e.id.to_string())
        .collect()
}

/// Verifies with the official `standardwebhooks` package (pip install standardwebhooks).
fn python_verify(secret: &str, r: &crate::receiver::Received) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("webhook.json");
    let headers: serde_json::Map<String, Value> = ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .iter()
        .map(|h| (h.to_string(), json!(r.header(h))))
        .collect();
    let doc = json!({"secret": secret, "body": String::from_utf8(r.body.to_vec()).unwrap(), "headers": headers});
    std::fs::write(&file, doc.to_string()).unwrap();
    let script = "import json, sys\nfrom standardwebhooks import Webhook\nd = json.load(open(sys.argv[1]))\nWebhook(d['secret']).verify(d['body'], d['headers'])\nprint('verified')";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&file)
        .output()
        .expect("python3 must be installed (.ci/run installs standardwebhooks)");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("verified"),
        "standardwebhooks refused the signature: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn hmac_sha256(key: &[u8], body: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

#[tokio::test]
async fn standard_webhooks_signatures_verify_with_the_official_library() {
    let t = private_ok().await;
    let mut rx = Receiver::start().await;
    let (id, secret) = subscribe(&t.a, json!({"url": rx.url(), "events": ["call.queued"]})).await;
    let call = t.a.new_call(json!({"phone": "+15551234567", "customerName": "Ann"})).await;
    let w = worker(&t, true);
    let round = w.run_once().await.unwrap();
    assert_eq!((round.attempts, round.succeeded), (1, 1));
    let r = rx.next(WAIT).await;
    assert_eq!(r.path, "/hooks");
    assert_eq!(r.header("content-type"), "application/json");
    let body = r.json();
    let ids = event_ids(&t, &t.a, "call.queued").await;
    assert_eq!(body["id"], ids[0]);
    assert_eq!(r.header("webhook-id"), ids[0]);
    assert_eq!(body["type"], "call.queued");
    assert_eq!(body["data"]["callId"], call);
    assert!(chrono::DateTime::parse_from_rfc3339(body["created"].as_str().unwrap()).is_ok());
    assert!(r.header("webhook-signature").starts_with("v1,"));
    python_verify(&secret, &r);
    // A wrong secret must fail, or the check above proves nothing.
    let wrong = format!(
        "whsec_{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [5u8; 24])
    );
    let result = std::panic::catch_unwind(|| python_verify(&wrong, &r));
    assert!(result.is_err(), "a wrong secret verified");

    // After a rotation both secrets sign, for 24 h.
    let rot = t.a.post(&format!("/v1/webhooks/{id}/rotate-secret"), json!({})).await;
    let new_secret = rot.body["secret"].as_str().unwrap().to_owned();
    t.a.new_call(json!({"phone": "+15551234567"})).await;
    w.run_once().await.unwrap();
    let r = rx.next(WAIT).await;
    assert_eq!(
        r.header("webhook-signature").split(' ').count(),
        2,
        "{}",
        r.header("webhook-signature")
    );
    python_verify(&new_secret, &r);
    python_verify(&secret, &r);
    let attempts = t.a.get(&format!("/v1/webhooks/{id}/attempts")).await;
    assert_eq!(attempts.body["pagination"]["total"], 2);
    let a = &attempts.body["data"][0];
    assert_eq!((a["status"].as_str(), a["statusCode"].as_u64()), (Some("succeeded"), Some(200)));
    assert_eq!(a["responseBody"], r#"{"received":true}"#);
    assert!(a["latencyMs"].is_u64());
}

#[tokio::test]
async fn saas_and_ringez_signatures_match_an_independent_hmac() {
    let t = private_ok().await;
    let mut saas_rx = Receiver::start().await;
    let mut ringez_rx = Receiver::start().await;
    let (_, saas_secret) = subscribe(
        &t.a,
        json!({"url": saas_rx.url(), "events": ["contact.created"], "signatureScheme": "saas"}),
    )
    .await;
    let (ringez_id, ringez_secret) = subscribe(
        &t.a,
        json!({"url": ringez_rx.url(), "events": ["contact.*"], "signatureScheme": "ringez", "secret": "whsec_your_ringez_secret"}),
    )
    .await;
    assert_eq!(ringez_secret, "whsec_your_ringez_secret");
    t.a.new_contact(json!({"phone": "+15551234567", "name": "Bob"})).await;
    worker(&t, true).run_once().await.unwrap();
    let r = saas_rx.next(WAIT).await;
    assert_eq!(
        r.header("x-signature"),
        format!("sha256={}", hmac_sha256(saas_secret.as_bytes(), &r.body))
    );
    assert_eq!(r.json()["type"], "contact.created");
    assert!(r.headers.get("webhook-signature").is_none());
    let r = ringez_rx.next(WAIT).await;
    assert_eq!(r.header("x-ringez-signature"), hmac_sha256(b"whsec_your_ringez_secret", &r.body));
    assert_eq!(r.header("webhook-id"), r.id());
    // Rotation: the new signature first, the old beside it.
    t.a.post(
        &format!("/v1/webhooks/{ringez_id}/rotate-secret"),
        json!({"secret": "a-brand-new-ringez-secret"}),
    )
    .await;
    t.a.new_contact(json!({"phone": "+15551234568"})).await;
    worker(&t, true).run_once().await.unwrap();
    let r = ringez_rx.next(WAIT).await;
    let want = format!(
        "{} {}",
        hmac_sha256(b"a-brand-new-ringez-secret", &r.body),
        hmac_sha256(b"whsec_your_ringez_secret", &r.body)
    );
    assert_eq!(r.header("x-ringez-signature"), want);
}

#[tokio::test]
async fn receiver_down_then_up_gets_every_event_in_order_with_stable_ids() {
    let t = private_ok().await;
    let mut rx = Receiver::start().await;
    let (id, _) = subscribe(&t.a, json!({"url": rx.url(), "events": ["call.queued"]})).await;
    let w = worker(&t, true);
    // Up: 30 events arrive in event order.
    for i in 0..30 {
        t.a.new_call(json!({"phone": "+15551234567", "externalId": format!("up-{i}")}))
            .await;
    }
    w.run_once().await.unwrap();
    let got: Vec<String> = rx.drain().iter().map(|r| r.id()).collect();
    assert_eq!(got, event_ids(&t, &t.a, "call.queued").await, "delivered in event order");

    // Down: every attempt fails; each round tries the oldest due delivery.
    let addr = rx.stop().await;
    for i in 0..10 {
        t.a.new_call(json!({"phone": "+15551234567", "externalId": format!("down-{i}")}))
            .await;
    }
    // A fixed clock: no retry (5 s later) comes due between rounds.
    let t1 = switchboard_domain::now();
    for _ in 0..10 {
        let r = w.run_once_at(t1).await.unwrap();
        assert_eq!((r.attempts, r.succeeded), (1, 0));
    }
    assert_eq!(w.run_once_at(t1).await.unwrap().attempts, 0, "every delivery waits for its retry");
    let d = t.a.get(&format!("/v1/webhooks/{id}/deliveries?limit=100")).await;
    let failed: Vec<&Value> = d.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 10);
    assert!(failed.iter().all(|x| x["attempts"] == 1));
    let attempts = t.a.get(&format!("/v1/webhooks/{id}/attempts?limit=1")).await;
    assert_eq!(attempts.body["data"][0]["status"], "failed");
    assert!(attempts.body["data"][0]["statusCode"].is_null());
    assert!(!attempts.body["data"][0]["error"].as_str().unwrap().is_empty());
    assert_eq!(t.a.get(&format!("/v1/webhooks/{id}")).await.body["status"], "failing");

    // Up again on the same port: at the retry time every event arrives, in order.
    let mut rx = Receiver::start_on(addr).await;
    let r = w.run_once_at(switchboard_domain::now() + TimeDelta::seconds(10)).await.unwrap();
    assert_eq!((r.attempts, r.succeeded), (10, 10));
    let got: Vec<Value> = rx.drain().iter().map(|r| r.json()).collect();
    let all = event_ids(&t, &t.a, "call.queued").await;
    assert_eq!(
        got.iter().map(|g| g["id"].as_str().unwrap()).collect::<Vec<_>>(),
        all[30..].to_vec()
    );
    let ext: Vec<&str> = got.iter().map(|g| g["data"]["externalId"].as_str().unwrap()).collect();
    assert_eq!(ext, (0..10).map(|i| format!("down-{i}")).collect::<Vec<_>>());
    assert_eq!(t.a.get(&format!("/v1/webhooks/{id}")).await.body["status"], "active");
    // The same event id as the failed attempts.
    let attempts = t.a.get(&format!("/v1/webhooks/{id}/attempts?limit=100")).await;
    let log = attempts.body["data"].as_array().unwrap();
    for e in &all[30..] {
        let tries: Vec<&str> = log
            .iter()
            .filter(|a| a["eventId"] == *e)
            .map(|a| a["status"].as_str().unwrap())
            .collect();
        assert_eq!(tries, vec!["succeeded", "failed"], "event {e}");
    }
}

#[tokio::test]
async fn a_retrying_delivery_does_not_block_later_ones() {
    let t = private_ok().await;
    let mut rx = Receiver::start().await;
    subscribe(&t.a, json!({"url": rx.url(), "events": ["call.queued"]})).await;
    rx.answer(Answer {
        fail_if_contains: Some("poison".into()),
        ..Answer::default()
    });
    for ext in ["first", "poison", "third", "fourth"] {
        t.a.new_call(json!({"phone": "+15551234567", "externalId": ext})).await;
    }
    let w = worker(&t, true);
    let t1 = switchboard_domain::now();
    let r = w.run_once_at(t1).await.unwrap();
    // In order: "first" succeeds, "poison" fails and ends the round.
    assert_eq!((r.attempts, r.succeeded), (2, 1));
    let r = w.run_once_at(t1).await.unwrap();
    assert_eq!(
        (r.attempts, r.succeeded),
        (2, 2),
        "later deliveries go on while the failed one waits"
    );
    rx.answer(Answer::default());
    w.run_once_at(t1 + TimeDelta::seconds(10)).await.unwrap();
    let order: Vec<String> = rx
        .drain()
        .iter()
        .map(|r| r.json()["data"]["externalId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, ["first", "poison", "third", "fourth", "poison"]);
}

#[tokio::test]
async fn retry_after_is_honoured_and_deliveries_give_up_after_the_schedule() {
    let t = private_ok().await;
    let mut rx = Receiver::start().await;
    let (id, _) = subscribe(&t.a, json!({"url": rx.url(), "events": ["call.queued"]})).await;
    rx.answer(Answer {
        status: 429,
        retry_after: Some("3600".into()),
        ..Answer::default()
    });
    t.a.new_call(json!({"phone": "+15551234567"})).await;
    let w = worker(&t, true);
    let t0 = switchboard_domain::now();
    assert_eq!(w.run_once_at(t0).await.unwrap().attempts, 1);
    // The schedule says 5 s; the receiver asked for an hour.
    assert_eq!(w.run_once_at(t0 + TimeDelta::minutes(30)).await.unwrap().attempts, 0);
    assert_eq!(w.run_once_at(t0 + TimeDelta::minutes(61)).await.unwrap().attempts, 1);
    rx.answer(Answer {
        status: 500,
        ..Answer::default()
    });
    // 8 attempts in all, then the delivery is dead.
    let mut at = t0 + TimeDelta::minutes(61);
    for _ in 0..6 {
        at += TimeDelta::hours(12);
        assert_eq!(w.run_once_at(at).await.unwrap().attempts, 1);
    }
    assert_eq!(w.run_once_at(at + TimeDelta::days(2)).await.unwrap().attempts, 0);
    let d = t.a.get(&format!("/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(d.body["data"][0]["status"], "dead");
    assert_eq!(d.body["data"][0]["attempts"], 8);
    assert_eq!(d.body["data"][0]["lastStatusCode"], 500);
    assert_eq!(rx.drain().len(), 8);
    let ids: std::collections::HashSet<String> = t.a.get(&format!("/v1/webhooks/{id}/attempts?limit=100")).await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["eventId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "every retry carries the same event id");
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled_and_an_event_says_so() {
    let t = private_ok().await;
    let mut bad = Receiver::start().await;
    let mut watcher = Receiver::start().await;
    bad.answer(Answer {
        status: 503,
        ..Answer::default()
    });
    let (bad_id, _) = subscribe(&t.a, json!({"url": bad.url(), "events": ["contact.created"]})).await;
    subscribe(&t.a, json!({"url": watcher.url(), "events": ["webhook.disabled"]})).await;
    let w = worker(&t, true);
    t.a.new_contact(json!({"phone": "+15551234567"})).await;
    let t0 = switchboard_domain::now();
    assert_eq!(w.run_once_at(t0).await.unwrap().attempts, 1);
    t.a.new_contact(json!({"phone": "+15551234568"})).await;
    // Four days later it still fails, but has not failed for 5 days yet.
    let r = w.run_once_at(t0 + TimeDelta::days(4)).await.unwrap();
    assert_eq!((r.attempts, r.succeeded), (1, 0));
    assert_eq!(t.a.get(&format!("/v1/webhooks/{bad_id}")).await.body["enabled"], true);
    let r = w.run_once_at(t0 + TimeDelta::days(5) + TimeDelta::minutes(1)).await.unwrap();
    assert_eq!(r.succeeded, 0);
    let hook = t.a.get(&format!("/v1/webhooks/{bad_id}")).await.body;
    assert_eq!(
        (hook["enabled"].as_bool(), hook["status"].as_str()),
        (Some(false), Some("disabled"))
    );
    assert!(hook["disabledReason"].is_string());
    // The next round fans out `webhook.disabled` to the watcher.
    w.run_once().await.unwrap();
    let r = watcher.next(WAIT).await;
    assert_eq!(r.json()["type"], "webhook.disabled");
    assert_eq!(r.json()["data"]["webhookId"], bad_id);
    let before = bad.drain().len();
    assert_eq!(
        w.run_once_at(t0 + TimeDelta::days(9)).await.unwrap().attempts,
        0,
        "a disabled endpoint gets nothing"
    );
    assert!(bad.drain().is_empty(), "had {before} before");
}

#[tokio::test]
async fn redirects_are_not_followed_bodies_are_capped_and_slow_endpoints_time_out() {
    let t = private_ok().await;
    let mut target = Receiver::start().await;
    let mut redirecting = Receiver::start().await;
    redirecting.answer(Answer {
        status: 307,
        location: Some(target.url()),
        ..Answer::default()
    });
    let chatty = Receiver::start().await;
    chatty.answer(Answer {
        body: "x".repeat(10_000),
        ..Answer::default()
    });
    let slow = Receiver::start().await;
    slow.answer(Answer {
        delay: Duration::from_secs(5),
        ..Answer::default()
    });
    let (redirect_id, _) = subscribe(&t.a, json!({"url": redirecting.url(), "events": ["*"]})).await;
    let (chatty_id, _) = subscribe(&t.a, json!({"url": chatty.url(), "events": ["*"]})).await;
    let (slow_id, _) = subscribe(&t.a, json!({"url": slow.url(), "events": ["*"]})).await;
    t.a.new_contact(json!({"phone": "+15551234567"})).await;
    let w = worker_with(
        &t,
        WorkerConfig {
            allow_private: true,
            timeout: Duration::from_millis(500),
            ..WorkerConfig::default()
        },
    );
    let r = w.run_once().await.unwrap();
    assert_eq!((r.attempts, r.succeeded), (3, 1));
    redirecting.next(WAIT).await;
    assert!(target.drain().is_empty(), "the redirect was followed");
    let a = t.a.get(&format!("/v1/webhooks/{redirect_id}/attempts")).await.body;
    assert_eq!(
        (a["data"][0]["status"].as_str(), a["data"][0]["statusCode"].as_u64()),
        (Some("failed"), Some(307))
    );
    let a = t.a.get(&format!("/v1/webhooks/{chatty_id}/attempts")).await.body;
    assert_eq!(a["data"][0]["status"], "succeeded");
    assert_eq!(a["data"][0]["responseBody"].as_str().unwrap().len(), 4096);
    let a = t.a.get(&format!("/v1/webhooks/{slow_id}/attempts")).await.body;
    assert_eq!(a["data"][0]["status"], "failed");
    assert!(a["data"][0]["error"].as_str().unwrap().contains("timed out"), "{}", a["data"][0]);
}

#[tokio::test]
async fn private_targets_are_refused_again_at_send_time() {
    // The API allowed it; a worker that does not allow private targets refuses to send.
    let t = private_ok().await;
    let mut rx = Receiver::start().await;
    let (id, _) = subscribe(&t.a, json!({"url": rx.url(), "events": ["*"]})).await;
    let (named, _) = subscribe(
        &t.a,
        json!({"url": format!("http://localhost:{}/hooks", rx.addr.port()), "events": ["*"]}),
    )
    .await;
    t.a.new_contact(json!({"phone": "+15551234567"})).await;
    let r = worker(&t, false).run_once().await.unwrap();
    assert_eq!((r.attempts, r.succeeded), (2, 0));
    assert!(rx.drain().is_empty(), "a request reached a loopback address");
    for hook in [id, named] {
        let a = t.a.get(&format!("/v1/webhooks/{hook}/attempts")).await.body;
        assert!(a["data"][0]["error"].as_str().unwrap().contains("refused"), "{}", a["data"][0]);
    }
}

#[tokio::test]
async fn replay_and_redeliver_send_the_same_events_again() {
    let t = private_ok().await;
    let mut rx = Receiver::start().await;
    let since = switchboard_domain::now() - TimeDelta::seconds(1);
    let (id, _) = subscribe(&t.a, json!({"url": rx.url(), "events": ["contact.created"]})).await;
    for p in ["+15551234567", "+15551234568", "+15551234569"] {
        t.a.new_contact(json!({"phone": p})).await;
    }
    let w = worker(&t, true);
    w.run_once().await.unwrap();
    let first: Vec<String> = rx.drain().iter().map(|r| r.id()).collect();
    assert_eq!(first.len(), 3);
    let r = t.a.post(&format!("/v1/events/{}/redeliver", first[1]), json!({})).await;
    assert_eq!((r.status.as_u16(), r.body["enqueued"].as_u64()), (202, Some(1)));
    w.run_once().await.unwrap();
    assert_eq!(rx.drain().iter().map(|r| r.id()).collect::<Vec<_>>(), vec![first[1].clone()]);
    let r =
        t.a.post(
            &format!(
                "/v1/webhooks/{id}/replay?since={}",
                since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
            json!({}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.body["enqueued"].as_u64()), (202, Some(3)), "{}", r.body);
    w.run_once().await.unwrap();
    assert_eq!(rx.drain().iter().map(|r| r.id()).collect::<Vec<_>>(), first);
    let future = t.a.post(&format!("/v1/webhooks/{id}/replay?since=2999-01-01"), json!({})).await;
    assert_eq!(future.body["enqueued"], 0);
}

#[tokio::test]
async fn the_attempt_log_is_pruned_after_the_retention() {
    let t = private_ok().await;
    let mut rx = Receiver::start().await;
    let (id, _) = subscribe(&t.a, json!({"url": rx.url(), "events": ["contact.created"]})).await;
    for p in ["+15551234567", "+15551234568"] {
        t.a.new_contact(json!({"phone": p})).await;
    }
    let w = worker(&t, true);
    w.run_once().await.unwrap();
    assert_eq!(rx.drain().len(), 2);
    let count = |path: String| {
        let c = &t.a;
        async move { c.get(&path).await.body["pagination"]["total"].as_u64().unwrap() }
    };
    let (attempts, deliveries) = (format!("/v1/webhooks/{id}/attempts"), format!("/v1/webhooks/{id}/deliveries"));
    assert_eq!((count(attempts.clone()).await, count(deliveries.clone()).await), (2, 2));
    // Within the retention (30 days by default) nothing goes.
    let now = switchboard_domain::now();
    assert_eq!(w.prune_log(now + TimeDelta::days(29)).await.unwrap(), 0);
    assert_eq!(count(attempts.clone()).await, 2);
    // Kept forever when the retention is off.
    let keep = worker_with(
        &t,
        WorkerConfig {
            allow_private: true,
            retention: None,
            ..WorkerConfig::default()
        },
    );
    assert_eq!(keep.prune_log(now + TimeDelta::days(365)).await.unwrap(), 0);
    // Past it, the attempts and the finished deliveries go.
    assert_eq!(w.prune_log(now + TimeDelta::days(31)).await.unwrap(), 4);
    assert_eq!((count(attempts).await, count(deliveries).await), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_one_database_never_send_the_same_attempt() {
    let t = private_ok().await;
    let mut rx = Receiver::start().await;
    for _ in 0..6 {
        subscribe(&t.a, json!({"url": rx.url(), "events": ["contact.created"]})).await;
    }
    for i in 0..20 {
        t.a.new_contact(json!({"phone": "+15551234567", "externalId": format!("c{i}")}))
            .await;
    }
    // Small leases of few deliveries each, so the two workers interleave.
    let cfg = WorkerConfig {
        allow_private: true,
        per_webhook: 3,
        max_webhooks: 2,
        ..WorkerConfig::default()
    };
    let (w1, w2) = (worker_with(&t, cfg.clone()), worker_with(&t, cfg));
    loop {
        let (a, b) = tokio::join!(w1.run_once(), w2.run_once());
        let (a, b) = (a.unwrap(), b.unwrap());
        if a.attempts + b.attempts == 0 {
            break;
        }
    }
    let mut seen = std::collections::HashMap::new();
    for r in rx.drain() {
        *seen.entry((r.path.clone(), r.id(), r.header("webhook-signature"))).or_insert(0) += 1;
    }
    // Six subscriptions with their own secrets: 120 distinct signed requests, each once.
    assert_eq!(seen.len(), 120);
    assert!(seen.values().all(|n| *n == 1), "an attempt was sent twice: {seen:?}");
}
