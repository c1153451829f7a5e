//! Crash safety: SIGKILL the server in the middle of a stream of writes,
//! restart it on the same data, and find every acknowledged write.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use tokio::sync::{Mutex, Notify};

use crate::cli::serve;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(dir.path(), &[]);
    let key = server.bootstrap_key.clone().unwrap();
    let http = reqwest::Client::new();
    let created: Arc<Mutex<Vec<String>>> = Arc::default();
    let completed: Arc<Mutex<Vec<String>>> = Arc::default();
    let acked = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let mut writers = Vec::new();
    for w in 0..8 {
        let (http, key, base) = (http.clone(), key.clone(), server.base.clone());
        let (created, completed, acked, enough) = (created.clone(), completed.clone(), acked.clone(), enough.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let body = json!({"phone": "+15551234567", "externalId": format!("w{w}-{i}"), "customerName": "Crash Test"});
                let Ok(r) = http.post(format!("{base}/v1/calls")).bearer_auth(&key).json(&body).send().await else {
                    return;
                };
                if r.status() != 201 {
                    return;
                }
                let Ok(v) = r.json::<serde_json::Value>().await else { return };
                let id = v["id"].as_str().unwrap().to_owned();
                created.lock().await.push(id.clone());
                let ev = json!({"status": "completed", "duration": 42});
                let Ok(r) = http
                    .post(format!("{base}/v1/calls/{id}/events"))
                    .bearer_auth(&key)
                    .json(&ev)
                    .send()
                    .await
                else {
                    return;
                };
                if r.status() != 200 {
                    return;
                }
                completed.lock().await.push(id);
                if acked.fetch_add(2, Ordering::SeqCst) + 2 >= 400 {
                    enough.notify_one();
                }
            }
        }));
    }
    enough.notified().await;
    // Kill mid-stream: writers are still sending.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let created = created.lock().await.clone();
    let completed = completed.lock().await.clone();
    assert!(created.len() >= 200, "only {} writes acknowledged", created.len());

    let restarted = serve(dir.path(), &[]);
    for id in &created {
        let r = http
            .get(format!("{}/v1/calls/{id}", restarted.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged call {id} lost");
    }
    for id in &completed {
        let v: serde_json::Value = http
            .get(format!("{}/v1/calls/{id}", restarted.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["status"], "completed", "acknowledged completion of {id} lost");
        assert_eq!(v["duration"], 42);
    }
    // And the database is consistent: at least everything acknowledged, at most one in-flight write more per writer.
    let v: serde_json::Value = http
        .get(format!("{}/v1/calls?limit=1", restarted.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let total = v["pagination"]["total"].as_u64().unwrap() as usize;
    assert!(
        total >= created.len() && total <= created.len() + 8,
        "total {total}, acknowledged {}",
        created.len()
    );
}
