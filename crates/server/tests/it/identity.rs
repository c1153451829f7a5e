//! Users, logins, roles, scoped keys, rate limits, plans and the audit log.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_domain::Role;

use crate::support::{Client, TestServer};

const PASSWORD: &str = "Correct-horse-9";

/// Creates a user with `role` in `c`'s organisation (as `c`) and logs in;
/// answers a client using the user's access token, and the login body.
async fn user_client(c: &Client, email: &str, role: Role) -> (Client, Value) {
    let r = c
        .post(
            "/v1/users",
            json!({"email": email, "name": "Test User", "password": PASSWORD, "role": role.as_str()}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let login = c.post("/v1/auth/login", json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(login.status, 200, "{}", login.body);
    (c.with_key(login.body["token"].as_str().unwrap()), login.body)
}

#[tokio::test]
async fn login_refresh_rotation_reuse_and_logout() {
    let t = TestServer::start().await;
    let (agent, login) = user_client(&t.a, "agent@alpha.example", Role::Agent).await;
    assert_eq!(login["tokenType"], "Bearer");
    assert_eq!(login["expiresIn"], 900);
    assert_eq!(login["user"]["role"], "agent");
    assert!(login["refreshToken"].as_str().unwrap().starts_with("sbr_"));
    // The JWT works wherever an API key does.
    assert_eq!(agent.get("/v1/calls").await.status, 200);
    assert_eq!(agent.post("/v1/calls", json!({"phone": "+15551234567"})).await.status, 201);
    let me = agent.get("/v1/users/me").await;
    assert_eq!(
        (me.body["email"].as_str(), me.body["organizationId"].as_str()),
        (Some("agent@alpha.example"), Some(t.a.org.id.as_str()))
    );
    // Preferences, including a time zone.
    let p = agent
        .patch(
            "/v1/users/me",
            json!({"name": "Suresh", "preferences": {"timeZone": "Asia/Kolkata"}}),
        )
        .await;
    assert_eq!(
        (p.body["name"].as_str(), p.body["preferences"]["timeZone"].as_str()),
        (Some("Suresh"), Some("Asia/Kolkata"))
    );
    agent
        .patch("/v1/users/me", json!({"preferences": {"timeZone": "Mars/Base"}}))
        .await
        .assert_field_error("preferences.timeZone");
    let r = agent.patch("/v1/users/me", json!({"role": "owner"})).await;
    r.assert_error(403, "forbidden");
    // Refresh rotates: the new pair works, the old refresh token is spent.
    let r1 = login["refreshToken"].as_str().unwrap().to_owned();
    let refreshed = t.a.post("/v1/auth/refresh", json!({"refreshToken": r1})).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let r2 = refreshed.body["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    // Reusing the spent token revokes the whole family, including r2.
    t.a.post("/v1/auth/refresh", json!({"refreshToken": r1}))
        .await
        .assert_error(401, "unauthorized");
    t.a.post("/v1/auth/refresh", json!({"refreshToken": r2}))
        .await
        .assert_error(401, "unauthorized");
    // ... and its access tokens.
    let stolen = refreshed.body["token"].as_str().unwrap();
    t.a.with_key(stolen).get("/v1/calls").await.assert_error(401, "unauthorized");
    // A fresh login, then logout ends its refresh and access tokens, and
    // only that login's.
    let login_as = || {
        t.a.post("/v1/auth/login", json!({"email": "agent@alpha.example", "password": PASSWORD}))
    };
    let (again, other) = (login_as().await, login_as().await);
    let token = again.body["token"].as_str().unwrap();
    let r3 = again.body["refreshToken"].as_str().unwrap();
    assert_eq!(t.a.with_key(token).get("/v1/calls").await.status, 200);
    assert_eq!(t.a.with_key(token).post("/v1/auth/logout", json!({})).await.status, 204);
    t.a.post("/v1/auth/refresh", json!({"refreshToken": r3}))
        .await
        .assert_error(401, "unauthorized");
    t.a.with_key(token).get("/v1/calls").await.assert_error(401, "unauthorized");
    let other = other.body["token"].as_str().unwrap();
    assert_eq!(t.a.with_key(other).get("/v1/calls").await.status, 200);
    t.a.post("/v1/auth/refresh", json!({})).await.assert_field_error("refreshToken");
}

#[tokio::test]
async fn expired_and_tampered_tokens_are_refused() {
    let t = TestServer::start().await;
    let (agent, _) = user_client(&t.a, "exp@alpha.example", Role::Viewer).await;
    assert_eq!(agent.get("/v1/calls").await.status, 200);
    let mut bad = agent.key.clone().into_bytes();
    let i = bad.len() - 5;
    bad[i] = if bad[i] == b'x' { b'y' } else { b'x' };
    t.a.with_key(std::str::from_utf8(&bad).unwrap())
        .get("/v1/calls")
        .await
        .assert_error(401, "unauthorized");
    // A token signed with another secret.
    let forged = switchboard_server::identity::tokens::JwtKeys::from_secret(b"not-the-secret");
    let user = t.store.user_by_email("exp@alpha.example", None).await.unwrap().unwrap().0;
    let token = forged.issue(&user, &switchboard_domain::id::SessionId::new(), switchboard_domain::now());
    t.a.with_key(&token).get("/v1/calls").await.assert_error(401, "unauthorized");
    // Sixteen minutes on, the access token has expired.
    t.state.clock.advance(chrono::Duration::minutes(16));
    agent.get("/v1/calls").await.assert_error(401, "unauthorized");
    // A disabled user's token stops working at once.
    let (viewer, _) = user_client(&t.a, "disabled@alpha.example", Role::Viewer).await;
    let id = viewer.get("/v1/users/me").await.body["id"].as_str().unwrap().to_owned();
    t.a.patch(&format!("/v1/users/{id}"), json!({"status": "disabled"})).await;
    viewer.get("/v1/calls").await.assert_error(401, "unauthorized");
}

/// A client bound to another loopback address, to log in "from elsewhere".
fn from_address(addr: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(addr.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login_from(http: &reqwest::Client, base: &str, email: &str, password: &str) -> (u16, Option<i64>) {
    let r = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    (r.status().as_u16(), retry)
}

#[tokio::test]
async fn failed_logins_are_throttled_never_locked() {
    let t = TestServer::start_with(|c| {
        c.login_delay_ms = 1000;
        c.login_free_attempts = 3;
        c.login_account_max_delay_secs = 60;
        c.login_address_max_delay_secs = 900;
    })
    .await;
    user_client(&t.a, "lock@alpha.example", Role::Agent).await;
    let (attacker, owner) = (from_address("127.0.0.1"), from_address("127.0.0.2"));
    let email = "lock@alpha.example";
    for _ in 0..3 {
        assert_eq!(login_from(&attacker, &t.base, email, "Wrong-password-1").await.0, 401);
    }
    // The fourth attempt must wait a second, even with the right password;
    // a refused attempt counts nothing, so a second later it succeeds.
    assert_eq!(login_from(&attacker, &t.base, email, PASSWORD).await, (429, Some(1)));
    t.state.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(login_from(&attacker, &t.base, email, PASSWORD).await.0, 200);
    // An attacker who keeps guessing waits longer and longer (doubling, up
    // to 15 minutes for their address) ...
    let mut waits = Vec::new();
    for _ in 0..3 {
        assert_eq!(login_from(&attacker, &t.base, email, "Wrong-password-1").await.0, 401);
    }
    for _ in 0..12 {
        let (status, retry) = login_from(&attacker, &t.base, email, "Wrong-password-1").await;
        assert_eq!(status, 429);
        let wait = retry.unwrap();
        waits.push(wait);
        t.state.clock.advance(chrono::Duration::seconds(wait));
        assert_eq!(login_from(&attacker, &t.base, email, "Wrong-password-1").await.0, 401);
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
    // ... while the account's owner, from their own address, waits at most
    // the account's minute, then logs in.
    let (status, retry) = login_from(&owner, &t.base, email, PASSWORD).await;
    assert_eq!((status, retry), (429, Some(60)));
    t.state.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(login_from(&owner, &t.base, email, PASSWORD).await.0, 200);
    // An unknown e-mail is throttled exactly like a known one.
    let third = from_address("127.0.0.3");
    let mut seen = Vec::new();
    for who in ["agent2@alpha.example", "nobody@alpha.example"] {
        let mut answers = Vec::new();
        for _ in 0..4 {
            answers.push(login_from(&third, &t.base, who, "Wrong-password-1").await);
        }
        seen.push(answers);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].last().unwrap(), &(429, Some(1)));
    let audit = t.a.get("/v1/audit?limit=100").await;
    let actions: Vec<&str> = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"auth.login_failed") && actions.contains(&"auth.login") && actions.contains(&"auth.login_refused"),
        "{actions:?}"
    );
}

/// E-mails are unique per organisation: creating one never tells whether
/// another organisation uses it; a login may name its organisation.
#[tokio::test]
async fn an_email_used_elsewhere_is_not_revealed() {
    let t = TestServer::start().await;
    let other_password = "a different long passphrase";
    let r =
        t.a.post("/v1/users", json!({"email": "Sam@Shared.example", "password": PASSWORD}))
            .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Another organisation creates the same address: an ordinary 201.
    let r =
        t.b.post("/v1/users", json!({"email": "sam@shared.example", "password": other_password}))
            .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["organizationId"], t.b.org.id.as_str());
    // Twice in one organisation is a conflict (its admins see its users anyway).
    t.b.post("/v1/users", json!({"email": "SAM@shared.example", "password": other_password}))
        .await
        .assert_error(409, "conflict");
    // Logging in: the first account, unless the organisation is named.
    let login = |body: Value| t.a.post("/v1/auth/login", body);
    let first = login(json!({"email": "sam@shared.example", "password": PASSWORD})).await;
    assert_eq!(first.body["user"]["organizationId"], t.a.org.id.as_str(), "{}", first.body);
    let named = login(json!({"email": "sam@shared.example", "password": other_password, "organization": "bravo"})).await;
    assert_eq!(named.body["user"]["organizationId"], t.b.org.id.as_str(), "{}", named.body);
    let by_id = login(json!({"email": "sam@shared.example", "password": other_password, "organization": t.b.org.id.as_str()})).await;
    assert_eq!(by_id.status, 200, "{}", by_id.body);
    // The other organisation's password, a wrong organisation or an unknown
    // one: one and the same answer.
    let wrong = [
        login(json!({"email": "sam@shared.example", "password": other_password})).await,
        login(json!({"email": "sam@shared.example", "password": PASSWORD, "organization": "bravo"})).await,
        login(json!({"email": "sam@shared.example", "password": PASSWORD, "organization": "no-such-org"})).await,
        login(json!({"email": "nobody@shared.example", "password": PASSWORD})).await,
    ];
    for w in &wrong {
        w.assert_error(401, "unauthorized");
        assert_eq!(w.body, wrong[0].body);
    }
}

#[tokio::test]
async fn login_input_is_checked() {
    let t = TestServer::start().await;
    t.a.post("/v1/auth/login", json!({"password": "x"}))
        .await
        .assert_field_error("email");
    t.a.post("/v1/auth/login", json!({"email": "a@b.co"}))
        .await
        .assert_field_error("password");
    t.a.post("/v1/users", json!({"email": "weak@alpha.example", "password": "password"}))
        .await
        .assert_field_error("password");
    t.a.post("/v1/users", json!({"email": "not-an-email", "password": PASSWORD}))
        .await
        .assert_field_error("email");
    t.a.post(
        "/v1/users",
        json!({"email": "r@alpha.example", "password": PASSWORD, "role": "root"}),
    )
    .await
    .assert_field_error("role");
    user_client(&t.a, "dup@alpha.example", Role::Agent).await;
    t.a.post("/v1/users", json!({"email": "DUP@alpha.example", "password": PASSWORD}))
        .await
        .assert_error(409, "conflict");
    // Another organisation's users are invisible.
    let id = t.a.get("/v1/users?search=dup").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.b.get(&format!("/v1/users/{id}")).await.assert_error(404, "not_found");
    t.b.patch(&format!("/v1/users/{id}"), json!({"role": "viewer"}))
        .await
        .assert_error(404, "not_found");
    assert_eq!(t.b.get("/v1/users").await.body["pagination"]["total"], 0);
    let filtered = t.a.get("/v1/users?role=agent&status=active").await;
    assert_eq!(filtered.body["pagination"]["total"], 1);
    t.a.get("/v1/users?role=emperor").await.assert_field_error("role");
}

/// Every route of the API with a sample request body, ids filled in later.
fn routes() -> Vec<(Method, &'static str, Option<Value>)> {
    let no = None;
    vec![
        (Method::POST, "/v1/calls", Some(json!({"phone": "+15551234567"}))),
        (Method::GET, "/v1/calls", no.clone()),
        (Method::GET, "/v1/calls/{call}", no.clone()),
        (Method::DELETE, "/v1/calls/{call}", no.clone()),
        (Method::POST, "/v1/calls/{call}/cancel", Some(json!({}))),
        (Method::POST, "/v1/calls/{call}/events", Some(json!({"event": "note"}))),
        (
            Method::POST,
            "/v1/calls/events",
            Some(json!({"externalId": "CA-matrix", "status": "ringing"})),
        ),
        (Method::GET, "/v1/calls/export?format=json&callType=none", no.clone()),
        (Method::POST, "/v1/contacts", Some(json!({"phone": "+15551234567"}))),
        (Method::GET, "/v1/contacts", no.clone()),
        (Method::GET, "/v1/contacts/{contact}", no.clone()),
        (Method::PATCH, "/v1/contacts/{contact}", Some(json!({"name": "x"}))),
        (Method::DELETE, "/v1/contacts/{contact}", no.clone()),
        (Method::GET, "/v1/analytics/calls", no.clone()),
        (Method::GET, "/v1/analytics/campaigns", no.clone()),
        (Method::GET, "/v1/analytics/agents", no.clone()),
        (Method::GET, "/v1/analytics/breakdown?by=hour", no.clone()),
        (Method::GET, "/v1/analytics/summary", no.clone()),
        (Method::GET, "/v1/org", no.clone()),
        (Method::PATCH, "/v1/org", Some(json!({"name": "Alpha"}))),
        (Method::PUT, "/v1/org/plan", Some(json!({"plan": "unlimited"}))),
        (Method::GET, "/v1/usage", no.clone()),
        (Method::GET, "/v1/audit", no.clone()),
        (
            Method::POST,
            "/v1/users",
            Some(json!({"email": "new-{n}@alpha.example", "password": PASSWORD, "role": "viewer"})),
        ),
        (Method::GET, "/v1/users", no.clone()),
        (Method::GET, "/v1/users/{user}", no.clone()),
        (Method::PATCH, "/v1/users/{user}", Some(json!({"name": "Renamed"}))),
        (Method::GET, "/v1/keys", no.clone()),
        (Method::POST, "/v1/keys", Some(json!({"name": "k", "scopes": ["calls.view"]}))),
        (Method::DELETE, "/v1/keys/{key}", no.clone()),
        (Method::POST, "/v1/keys/{key}/rotate", Some(json!({}))),
    ]
}

#[tokio::test]
async fn every_route_with_every_role() {
    let t = TestServer::start().await;
    let mut clients = Vec::new();
    for role in Role::ALL {
        let (c, _) = user_client(&t.a, &format!("{}@matrix.example", role.as_str()), role).await;
        clients.push((role, c));
    }
    let mut n = 0;
    for (role, c) in &clients {
        for (method, template, body) in routes() {
            n += 1;
            // Fresh targets for each request: deletes must find something.
            let call =
                t.a.new_call(json!({"phone": "+15551234567", "scheduled": crate::support::days_ahead(30)}))
                    .await;
            let contact = t.a.new_contact(json!({"phone": "+15551234567"})).await;
            let user =
                t.a.post(
                    "/v1/users",
                    json!({"email": format!("target-{n}@matrix.example"), "password": PASSWORD, "role": "viewer"}),
                )
                .await
                .body["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            let key = t.a.post("/v1/keys", json!({"name": "target", "scopes": ["calls.view"]})).await.body["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let path = template
                .replace("{call}", &call)
                .replace("{contact}", &contact)
                .replace("{user}", &user)
                .replace("{key}", &key);
            let body = body.map(|b| serde_json::from_str::<Value>(&b.to_string().replace("{n}", &n.to_string())).unwrap());
            let r = c.send(method.clone(), &path, body, &[]).await;
            let route = template
                .split('?')
                .next()
                .unwrap()
                .replace("{call}", "{id}")
                .replace("{contact}", "{id}")
                .replace("{user}", "{id}")
                .replace("{key}", "{id}");
            let route = route.as_str();
            let allowed = match switchboard_server::identity::guard::required(&method, route) {
                switchboard_server::identity::guard::Required::Permission(p) => role.allows(p),
                other => panic!("{method} {route} should declare a permission, not {other:?}"),
            };
            assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{role} {method} {path}: {}", r.body);
            if allowed {
                assert_ne!(r.status, StatusCode::FORBIDDEN, "{role} may {method} {route}: {}", r.body);
                assert!(r.status.is_success(), "{role} {method} {path}: {} {}", r.status, r.body);
            } else {
                r.assert_error(403, "forbidden");
                assert!(r.body["error"]["details"]["permission"].is_string());
            }
        }
    }
    // Every documented route, including ones added later: each role is
    // refused exactly where its permissions say (an empty body and an
    // unknown id reach the handler, which may then refuse them itself).
    let doc: Value = reqwest::get(format!("{}/openapi.json", t.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let m: Method = method.to_uppercase().parse().unwrap();
            let switchboard_server::identity::guard::Required::Permission(p) = switchboard_server::identity::guard::required(&m, path)
            else {
                continue;
            };
            let concrete = path.replace("{id}", "x_unknown").replace("{key}", "x_unknown");
            let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
            for (role, c) in &clients {
                let r = c.send(m.clone(), &concrete, body.clone(), &[]).await;
                if role.allows(p) {
                    assert!(
                        r.status != StatusCode::FORBIDDEN && r.status != StatusCode::UNAUTHORIZED,
                        "{role} may {method} {path}: {} {}",
                        r.status,
                        r.body
                    );
                } else {
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{role} may not {method} {path}: {}", r.body);
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 5 * 30, "{checked}");
}

#[tokio::test]
async fn api_key_scopes_expiry_and_rotation() {
    let t = TestServer::start().await;
    let r =
        t.a.post("/v1/keys", json!({"name": "reporting", "scopes": ["calls.view", "analytics.view"]}))
            .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (key_id, secret) = (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["key"].as_str().unwrap().to_owned(),
    );
    let scoped = t.a.with_key(&secret);
    assert_eq!(scoped.get("/v1/calls").await.status, 200);
    let denied = scoped.post("/v1/calls", json!({"phone": "+15551234567"})).await;
    denied.assert_error(403, "forbidden");
    assert_eq!(denied.body["error"]["details"]["permission"], "calls.create");
    // A key cannot hand out more than it holds.
    scoped.post("/v1/keys", json!({"name": "x"})).await.assert_error(403, "forbidden");
    let (agent, _) = user_client(&t.a, "keys@alpha.example", Role::Admin).await;
    agent
        .post("/v1/keys", json!({"name": "x", "scopes": ["org.plan"]}))
        .await
        .assert_error(403, "forbidden");
    agent
        .post("/v1/keys", json!({"name": "x", "scopes": ["calls.fly"]}))
        .await
        .assert_field_error("scopes[0]");
    agent
        .post("/v1/keys", json!({"name": "x", "scopes": []}))
        .await
        .assert_field_error("scopes");
    agent
        .post("/v1/keys", json!({"name": "x", "expiresAt": "2001-01-01T00:00:00Z"}))
        .await
        .assert_field_error("expiresAt");
    // Lists show prefixes, never secrets.
    let list = t.a.get("/v1/keys").await;
    let text = list.body.to_string();
    assert!(!text.contains(&secret) && text.contains(&secret[..12]));
    // Expiry.
    let soon = (switchboard_domain::now() + chrono::Duration::hours(1)).to_rfc3339();
    let e = t.a.post("/v1/keys", json!({"name": "temp", "expiresAt": soon})).await;
    let temp = t.a.with_key(e.body["key"].as_str().unwrap());
    assert_eq!(temp.get("/v1/calls").await.status, 200);
    // Rotation: both keys work during the overlap, then only the new one.
    let rot = t.a.post(&format!("/v1/keys/{key_id}/rotate"), json!({"overlapSeconds": 600})).await;
    assert_eq!(rot.status, 201, "{}", rot.body);
    let new = t.a.with_key(rot.body["key"].as_str().unwrap());
    assert_eq!(rot.body["scopes"], json!(["calls.view", "analytics.view"]));
    assert_eq!(scoped.get("/v1/calls").await.status, 200);
    assert_eq!(new.get("/v1/calls").await.status, 200);
    t.state.clock.advance(chrono::Duration::minutes(61));
    scoped.get("/v1/calls").await.assert_error(401, "unauthorized");
    temp.get("/v1/calls").await.assert_error(401, "unauthorized");
    assert_eq!(new.get("/v1/calls").await.status, 200);
    // Revocation is immediate; another organisation cannot touch the key.
    let new_id = rot.body["id"].as_str().unwrap();
    t.b.delete(&format!("/v1/keys/{new_id}")).await.assert_error(404, "not_found");
    assert_eq!(t.a.delete(&format!("/v1/keys/{new_id}")).await.status, 200);
    new.get("/v1/calls").await.assert_error(401, "unauthorized");
    let actions: Vec<String> = t.a.get("/v1/audit?limit=100").await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for a in ["key.created", "key.rotated", "key.revoked"] {
        assert!(actions.iter().any(|x| x == a), "{a} missing from {actions:?}");
    }
}

async fn set_plan(t: &TestServer, plan: &str) {
    let r = t.a.send(Method::PUT, "/v1/org/plan", Some(json!({"plan": plan})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn rate_limits_answer_429_with_headers() {
    let t = TestServer::start().await;
    // Unlimited (the self-hosted default): no limit, no headers.
    let r = t.a.get("/v1/calls").await;
    assert!(r.headers.get("x-ratelimit-limit").is_none());
    set_plan(&t, "standard").await;
    let mut remaining = Vec::new();
    for _ in 0..100 {
        let r = t.a.get("/v1/calls?limit=1").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["x-ratelimit-limit"], "100");
        remaining.push(r.headers["x-ratelimit-remaining"].to_str().unwrap().parse::<u64>().unwrap());
        assert!(r.headers.contains_key("x-ratelimit-reset"));
    }
    assert!(remaining.windows(2).all(|w| w[1] < w[0]), "{remaining:?}");
    let over = t.a.get("/v1/calls").await;
    over.assert_error(429, "rate_limited");
    let retry: i64 = over.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(over.headers["x-ratelimit-remaining"], "0");
    // Another key of the same organisation has its own count.
    let other = t.a.post("/v1/keys", json!({"name": "second"})).await;
    assert_eq!(other.status, 429, "the first key is still limited");
    let fresh = switchboard_server::identity::auth::generate_key(&t.a.org, "second");
    t.store.create_key(fresh.1, fresh.2).await.unwrap();
    assert_eq!(t.a.with_key(&fresh.0).get("/v1/calls").await.status, 200);
    // The next window lets the first key through again.
    t.state.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(t.a.get("/v1/calls").await.status, 200);
    // The other organisation (unlimited) was never throttled.
    assert_eq!(t.b.get("/v1/calls").await.status, 200);
}

#[tokio::test]
async fn two_servers_sharing_redis_share_one_limit() {
    let url = "redis://127.0.0.1:6379";
    let t = TestServer::start().await;
    set_plan(&t, "standard").await;
    // A second server on the same database, both counting in Redis.
    let mut servers = Vec::new();
    for _ in 0..2 {
        let limiter = switchboard_server::identity::ratelimit::RateLimiter::redis(url)
            .await
            .expect("Redis must run on 127.0.0.1:6379");
        let state = switchboard_server::AppState::with_limiter(t.store.clone(), (*t.state.cfg).clone(), limiter);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(switchboard_server::run(state, listener, std::future::pending()));
        servers.push(base);
    }
    // A fresh key, so no earlier test's count applies.
    let (secret, key, hash) = switchboard_server::identity::auth::generate_key(&t.a.org, "redis");
    t.store.create_key(key, hash).await.unwrap();
    let http = reqwest::Client::new();
    let mut ok = 0;
    for i in 0..130 {
        let r = http
            .get(format!("{}/v1/usage", servers[i % 2]))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => ok += 1,
            429 => {}
            s => panic!("unexpected {s}"),
        }
    }
    // Window edges may split the burst; within one window the two servers allow 100 together.
    assert!(ok == 100 || (100..=130).contains(&ok) && ok < 130, "{ok} allowed");
    assert!(ok < 200, "each server counted on its own: {ok}");
}

#[tokio::test]
async fn two_servers_sharing_redis_share_the_login_throttle() {
    let url = "redis://127.0.0.1:6379";
    let t = TestServer::start_with(|c| {
        c.login_delay_ms = 1000;
        c.login_free_attempts = 2;
    })
    .await;
    user_client(&t.a, "shared@alpha.example", Role::Agent).await;
    // These requests come from 127.0.0.4 (no other test uses it): start clean.
    let address = "127.0.0.4";
    let mut redis = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("Redis must run on 127.0.0.1:6379");
    let clear = || {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(format!("switchboard:login:address:{address}"))
            .arg("switchboard:login:account:shared@alpha.example")
            .arg(format!("switchboard:login:pair:{address}:shared@alpha.example"));
        for i in 0..8 {
            cmd.arg(format!("switchboard:login:account:nobody{i}@x.example"))
                .arg(format!("switchboard:login:pair:{address}:nobody{i}@x.example"));
        }
        cmd
    };
    let _: () = clear().query_async(&mut redis).await.unwrap();
    let mut servers = Vec::new();
    for _ in 0..2 {
        let limiter = switchboard_server::identity::ratelimit::RateLimiter::redis(url).await.unwrap();
        let state = switchboard_server::AppState::with_limiter(t.store.clone(), (*t.state.cfg).clone(), limiter);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(switchboard_server::run(state, listener, std::future::pending()));
        servers.push(base);
    }
    let http = from_address(address);
    // The address may fail four times the account's free attempts (8),
    // four on each server (unknown e-mails: no account reaches its own).
    for i in 0..8 {
        let (status, _) = login_from(&http, &servers[i % 2], &format!("nobody{i}@x.example"), "Wrong-password-1").await;
        assert_eq!(status, 401);
    }
    // Both servers now hold the address back, even with the right password.
    for server in &servers {
        let (status, retry) = login_from(&http, server, "shared@alpha.example", PASSWORD).await;
        assert_eq!((status, retry), (429, Some(1)));
    }
    // A server counting in memory never saw those failures.
    assert_eq!(login_from(&http, &t.base, "shared@alpha.example", PASSWORD).await.0, 200);
    let _: () = clear().query_async(&mut redis).await.unwrap();
    assert_eq!(login_from(&http, &servers[0], "shared@alpha.example", PASSWORD).await.0, 200);
    let _: () = clear().query_async(&mut redis).await.unwrap();
}

#[tokio::test]
async fn monthly_quota_is_exact_under_concurrency() {
    let t = TestServer::start().await;
    set_plan(&t, "standard").await;
    // Stay within the request rate: a second, unlimited organisation's
    // store is not involved; use direct store writes for the first 80.
    for _ in 0..80 {
        let mut c = switchboard_domain::Call::new(
            t.a.org.id.clone(),
            switchboard_domain::Direction::Outbound,
            switchboard_domain::CallStatus::Queued,
            switchboard_domain::now(),
        );
        c.to = Some("+15551234567".into());
        t.store.create_call(c, None).await.unwrap();
    }
    let mut keys = Vec::new();
    for i in 0..5 {
        let (secret, key, hash) = switchboard_server::identity::auth::generate_key(&t.a.org, &format!("k{i}"));
        t.store.create_key(key, hash).await.unwrap();
        keys.push(secret);
    }
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = t.a.with_key(&keys[i % 5]);
        tasks.push(tokio::spawn(
            async move { c.post("/v1/calls", json!({"phone": "+15551234567"})).await },
        ));
    }
    let (mut created, mut refused) = (0, 0);
    for task in tasks {
        let r = task.await.unwrap();
        match r.status.as_u16() {
            201 => created += 1,
            402 => {
                r.assert_error(402, "quota_exceeded");
                assert_eq!(r.body["error"]["details"]["limit"], 100);
                refused += 1;
            }
            s => panic!("{s}: {}", r.body),
        }
    }
    assert_eq!((created, refused), (20, 30));
    let u = t.a.with_key(&keys[0]).get("/v1/usage").await;
    assert_eq!(
        (
            u.body["callsThisMonth"].as_u64(),
            u.body["limit"].as_u64(),
            u.body["remaining"].as_u64()
        ),
        (Some(100), Some(100), Some(0))
    );
    assert_eq!(u.body["plan"], "standard");
}

#[tokio::test]
async fn plan_changes_are_for_owners_and_audited() {
    let t = TestServer::start().await;
    let (admin, _) = user_client(&t.a, "admin@alpha.example", Role::Admin).await;
    let (owner, _) = user_client(&t.a, "owner@alpha.example", Role::Owner).await;
    admin
        .send(Method::PUT, "/v1/org/plan", Some(json!({"plan": "enterprise"})), &[])
        .await
        .assert_error(403, "forbidden");
    owner
        .send(Method::PUT, "/v1/org/plan", Some(json!({"plan": "gold"})), &[])
        .await
        .assert_field_error("plan");
    let r = owner
        .send(Method::PUT, "/v1/org/plan", Some(json!({"plan": "enterprise"})), &[])
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["plan"].as_str(), r.body["monthlyCallLimit"].as_u64()),
        (200, Some("enterprise"), Some(20_000))
    );
    // An admin cannot make an owner; an owner can.
    let target = admin
        .post("/v1/users", json!({"email": "u1@alpha.example", "password": PASSWORD}))
        .await;
    let id = target.body["id"].as_str().unwrap();
    admin
        .patch(&format!("/v1/users/{id}"), json!({"role": "owner"}))
        .await
        .assert_error(403, "forbidden");
    assert_eq!(
        owner.patch(&format!("/v1/users/{id}"), json!({"role": "manager"})).await.body["role"],
        "manager"
    );
    t.a.get("/v1/calls/export?format=csv").await;
    let audit = t.a.get("/v1/audit?limit=100").await;
    let actions: Vec<&str> = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "org.plan_changed",
        "user.created",
        "user.role_changed",
        "calls.exported",
        "auth.login",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert_eq!(t.b.get("/v1/audit").await.body["pagination"]["total"], 0);
}

#[tokio::test]
async fn idempotency_keys_cover_every_post() {
    let t = TestServer::start().await;
    let body = json!({"name": "crm-sync", "scopes": ["calls.view"]});
    let key = [("idempotency-key", "key-once")];
    let first = t.a.send(Method::POST, "/v1/keys", Some(body.clone()), &key).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = t.a.send(Method::POST, "/v1/keys", Some(body.clone()), &key).await;
    assert_eq!(
        (
            again.status.as_u16(),
            again.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap())
        ),
        (201, Some("true"))
    );
    assert_eq!(again.body, first.body, "the same key, shown once, is answered again");
    let other = t.a.send(Method::POST, "/v1/keys", Some(json!({"name": "other"})), &key).await;
    other.assert_error(422, "idempotency_key_reused");
    // Concurrent requests with one key create one user.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = t.a.clone();
        tasks.push(tokio::spawn(async move {
            c.send(
                Method::POST,
                "/v1/users",
                Some(json!({"email": "once@alpha.example", "password": PASSWORD})),
                &[("idempotency-key", "user-once")],
            )
            .await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let r = task.await.unwrap();
        assert_eq!(r.status, 201, "{}", r.body);
        ids.insert(r.body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    let names: Vec<Value> = t.a.get("/v1/keys").await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].clone())
        .collect();
    assert_eq!(names.iter().filter(|n| *n == "crm-sync").count(), 1);
    // Refusals are not stored: the same key can carry the corrected request.
    let bad =
        t.a.send(
            Method::POST,
            "/v1/users",
            Some(json!({"email": "weak@alpha.example", "password": "weak"})),
            &[("idempotency-key", "fix-me")],
        )
        .await;
    bad.assert_field_error("password");
    let fixed =
        t.a.send(
            Method::POST,
            "/v1/users",
            Some(json!({"email": "weak@alpha.example", "password": PASSWORD})),
            &[("idempotency-key", "fix-me")],
        )
        .await;
    assert_eq!(fixed.status, 201, "{}", fixed.body);
}
