//! API key authentication.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestServer, into_resp};

#[tokio::test]
async fn keys_are_required_and_checked() {
    let t = TestServer::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/calls", t.base);
    let none = into_resp(http.get(&url).send().await.unwrap()).await;
    none.assert_error(401, "unauthorized");
    let wrong = into_resp(http.get(&url).bearer_auth("sbk_not-a-real-key").send().await.unwrap()).await;
    wrong.assert_error(401, "unauthorized");
    let basic = into_resp(
        http.get(&url)
            .header("authorization", format!("Basic {}", t.a.key))
            .send()
            .await
            .unwrap(),
    )
    .await;
    basic.assert_error(401, "unauthorized");
    // Both header styles work.
    assert_eq!(http.get(&url).bearer_auth(&t.a.key).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        http.get(&url).header("x-api-key", &t.a.key).send().await.unwrap().status(),
        StatusCode::OK
    );
    // Writes are refused without a key and leave nothing behind.
    let r = into_resp(http.post(&url).json(&json!({"phone": "+15551234567"})).send().await.unwrap()).await;
    r.assert_error(401, "unauthorized");
    assert_eq!(t.a.get("/v1/calls").await.body["pagination"]["total"], 0);
    // Health needs no key.
    assert_eq!(
        http.get(format!("{}/health", t.base)).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoked_keys_stop_working() {
    let t = TestServer::start().await;
    assert_eq!(t.a.get("/v1/calls").await.status, 200);
    let key = t
        .store
        .key_by_hash(&switchboard_server::identity::auth::hash_key(&t.a.key))
        .await
        .unwrap()
        .unwrap();
    t.store.revoke_key(&t.a.org.id, &key.id, switchboard_domain::now()).await.unwrap();
    t.a.get("/v1/calls").await.assert_error(401, "unauthorized");
    // The other organisation's key is untouched.
    assert_eq!(t.b.get("/v1/calls").await.status, 200);
}

#[tokio::test]
async fn keys_are_stored_hashed() {
    let t = TestServer::start().await;
    assert!(t.a.key.starts_with("sbk_") && t.a.key.len() == 44);
    let by_secret = t.store.key_by_hash(&t.a.key).await.unwrap();
    assert!(by_secret.is_none(), "the secret itself must not be a lookup key");
    let key = t
        .store
        .key_by_hash(&switchboard_server::identity::auth::hash_key(&t.a.key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.prefix, &t.a.key[..12]);
}
