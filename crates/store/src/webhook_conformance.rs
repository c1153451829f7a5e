//! Conformance checks of [`crate::WebhookStore`], run with the rest of the
//! suite on SQLite and PostgreSQL: subscriptions, exact fan-out, leases that
//! never overlap, the attempt log, the 5-day disable rule, replays.

use std::collections::HashSet;

use chrono::TimeDelta;
use switchboard_domain::webhook::{Attempt, DeliveryStatus, WebhookPatch};
use switchboard_domain::{
    AttemptId, Call, CallStatus, Direction, OrgId, Organisation, SignatureScheme, Timestamp, Webhook, WebhookId, WebhookSecret,
};

pub use crate::conformance::Check;
use crate::{AttemptOutcome, Claim, ClaimedBatch, DynStore, Finished, NextStep, Page, StoreError};

pub const WEBHOOK_CHECKS: &[(&str, Check)] = &[
    ("webhooks_crud_and_rotation", |s| Box::pin(webhooks_crud_and_rotation(s))),
    ("webhook_fan_out_exact", |s| Box::pin(webhook_fan_out_exact(s))),
    ("webhook_claims_lease_in_order", |s| Box::pin(webhook_claims_lease_in_order(s))),
    ("webhook_attempts_and_disable", |s| Box::pin(webhook_attempts_and_disable(s))),
    ("webhook_replay_and_redeliver", |s| Box::pin(webhook_replay_and_redeliver(s))),
    ("webhook_concurrent_nodes", |s| Box::pin(webhook_concurrent_nodes(s))),
    ("webhook_log_pruning", |s| Box::pin(webhook_log_pruning(s))),
    ("outbox_pruning", |s| Box::pin(outbox_pruning(s))),
];

const PAGE: Page = Page { page: 1, limit: 1000 };

fn now() -> Timestamp {
    switchboard_domain::now()
}

async fn org(s: &DynStore, slug: &str) -> OrgId {
    s.create_org(Organisation::new(slug, slug, now())).await.unwrap().id
}

fn hook(org: &OrgId, events: &[&str]) -> Webhook {
    let at = now() - TimeDelta::seconds(1);
    Webhook {
        id: WebhookId::new(),
        org_id: org.clone(),
        url: "https://hooks.example.com/in".into(),
        events: events.iter().map(|e| e.to_string()).collect(),
        description: Some("CRM".into()),
        enabled: true,
        scheme: SignatureScheme::Standard,
        secret: WebhookSecret::from_random([1; 24]),
        previous_secret: None,
        previous_secret_expires_at: None,
        failing_since: None,
        disabled_reason: None,
        created_at: at,
        updated_at: at,
    }
}

/// Creates a queued call (one `call.queued` event).
async fn call(s: &DynStore, org: &OrgId) {
    call_at(s, org, now()).await;
}

async fn call_at(s: &DynStore, org: &OrgId, at: Timestamp) {
    s.create_call(Call::new(org.clone(), Direction::Outbound, CallStatus::Queued, at), None)
        .await
        .unwrap();
}

fn claim(owner: &str, at: Timestamp, max: u32) -> Claim {
    Claim {
        owner: owner.into(),
        now: at,
        lease: TimeDelta::seconds(60),
        max_webhooks: max,
        per_webhook: 100,
    }
}

async fn finish(s: &DynStore, owner: &str, webhook: &WebhookId, outcomes: Vec<AttemptOutcome>) {
    s.finish_deliveries(
        owner,
        vec![Finished {
            webhook: webhook.clone(),
            outcomes,
        }],
    )
    .await
    .unwrap();
}

fn outcome(b: &ClaimedBatch, i: usize, ok: bool, at: Timestamp, next: NextStep) -> AttemptOutcome {
    let j = &b.jobs[i];
    AttemptOutcome {
        attempt: Attempt {
            id: AttemptId::new(),
            org_id: b.webhook.org_id.clone(),
            webhook_id: b.webhook.id.clone(),
            delivery_id: j.delivery_id.clone(),
            event_id: j.event.id.clone(),
            event_type: j.event.event_type.clone(),
            attempt: j.attempts + 1,
            succeeded: ok,
            status_code: Some(if ok { 200 } else { 503 }),
            latency_ms: 7,
            response_body: Some(if ok { "ok".into() } else { "busy".into() }),
            error: None,
            created_at: at,
        },
        next,
    }
}

pub async fn webhooks_crud_and_rotation(s: DynStore) {
    let (a, b) = (org(&s, "a").await, org(&s, "b").await);
    let w = s.create_webhook(hook(&a, &["call.*"]), None).await.unwrap();
    assert_eq!(s.get_webhook(&a, &w.id).await.unwrap(), w);
    assert!(matches!(s.get_webhook(&b, &w.id).await, Err(StoreError::NotFound(_))));
    let w2 = s.create_webhook(hook(&a, &["*"]), None).await.unwrap();
    let (list, total) = s.list_webhooks(&a, PAGE).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        list.iter().map(|w| w.id.clone()).collect::<Vec<_>>(),
        vec![w2.id.clone(), w.id.clone()]
    );
    assert_eq!(s.list_webhooks(&b, PAGE).await.unwrap().1, 0);
    let patch = WebhookPatch {
        url: Some("https://other.example.com/x".into()),
        events: Some(vec!["contact.created".into()]),
        description: Some(None),
        enabled: Some(false),
        scheme: Some(SignatureScheme::Saas),
    };
    assert!(matches!(
        s.update_webhook(&b, &w.id, patch.clone()).await,
        Err(StoreError::NotFound(_))
    ));
    let u = s.update_webhook(&a, &w.id, patch).await.unwrap();
    assert_eq!(
        (u.url.as_str(), u.enabled, u.scheme, u.description.clone()),
        ("https://other.example.com/x", false, SignatureScheme::Saas, None)
    );
    assert_eq!(s.get_webhook(&a, &w.id).await.unwrap(), u);
    let at = now();
    let new = WebhookSecret::from_random([2; 24]);
    let r = s.rotate_webhook_secret(&a, &w.id, new.clone(), at, None).await.unwrap();
    assert_eq!(r.secret, new);
    assert_eq!(r.previous_secret, Some(w.secret.clone()));
    assert_eq!(r.previous_secret_expires_at, Some(at + TimeDelta::hours(24)));
    assert_eq!(s.get_webhook(&a, &w.id).await.unwrap(), r);
    assert!(matches!(s.delete_webhook(&b, &w.id).await, Err(StoreError::NotFound(_))));
    s.delete_webhook(&a, &w.id).await.unwrap();
    assert!(matches!(s.get_webhook(&a, &w.id).await, Err(StoreError::NotFound(_))));
}

pub async fn webhook_fan_out_exact(s: DynStore) {
    let (a, b) = (org(&s, "a").await, org(&s, "b").await);
    // Events before any subscription go nowhere.
    call_at(&s, &a, now() - TimeDelta::seconds(10)).await;
    let all = s.create_webhook(hook(&a, &["*"]), None).await.unwrap();
    let calls = s.create_webhook(hook(&a, &["call.queued"]), None).await.unwrap();
    let contacts = s.create_webhook(hook(&a, &["contact.*"]), None).await.unwrap();
    let mut off = hook(&a, &["*"]);
    off.enabled = false;
    let off = s.create_webhook(off, None).await.unwrap();
    let other = s.create_webhook(hook(&b, &["*"]), None).await.unwrap();
    let first = s.fan_out(1000).await.unwrap();
    assert_eq!(first.deliveries, 0, "the event predates every subscription");
    for _ in 0..3 {
        call(&s, &a).await;
    }
    call(&s, &b).await;
    // 3 calls of a to `*` and `call.queued`, 1 call of b to its own.
    let f = s.fan_out(2).await.unwrap();
    assert_eq!(f.events, 2);
    let rest = s.fan_out(1000).await.unwrap();
    assert_eq!(rest.events, 2);
    assert_eq!(f.deliveries + rest.deliveries, 7);
    assert_eq!(s.fan_out(1000).await.unwrap().events, 0, "the cursor moved past every event");
    let count = |w: WebhookId, o: OrgId| {
        let s = s.clone();
        async move { s.list_deliveries(&o, &w, PAGE).await.unwrap().0 }
    };
    let d = count(all.id.clone(), a.clone()).await;
    assert_eq!(d.len(), 3);
    assert!(d.windows(2).all(|p| p[0].seq < p[1].seq), "listed in event order");
    assert!(
        d.iter()
            .all(|x| x.status == DeliveryStatus::Pending && x.attempts == 0 && x.event_type == "call.queued")
    );
    assert_eq!(count(calls.id.clone(), a.clone()).await.len(), 3);
    assert_eq!(count(contacts.id.clone(), a.clone()).await.len(), 0);
    assert_eq!(count(off.id.clone(), a.clone()).await.len(), 0);
    assert_eq!(count(other.id.clone(), b.clone()).await.len(), 1);
    assert!(matches!(s.list_deliveries(&b, &all.id, PAGE).await, Err(StoreError::NotFound(_))));
}

pub async fn webhook_claims_lease_in_order(s: DynStore) {
    let a = org(&s, "a").await;
    let w = s.create_webhook(hook(&a, &["*"]), None).await.unwrap();
    for _ in 0..5 {
        call(&s, &a).await;
    }
    s.fan_out(1000).await.unwrap();
    let t0 = now();
    let got = s.claim_deliveries(claim("n1", t0, 10)).await.unwrap();
    assert_eq!(got.len(), 1);
    let b = &got[0];
    assert_eq!(b.webhook.id, w.id);
    assert_eq!(b.webhook.secrets, vec![w.secret.clone()]);
    assert_eq!(b.jobs.len(), 5);
    assert!(b.jobs.windows(2).all(|p| p[0].event.seq < p[1].event.seq), "oldest event first");
    assert_eq!(b.jobs[0].event.event_type, "call.queued");
    assert!(b.jobs[0].event.data.is_object());
    // Leased: nobody else gets it, even with deliveries due.
    assert!(s.claim_deliveries(claim("n2", t0, 10)).await.unwrap().is_empty());
    // 2 delivered, the 3rd failed (retry in 5 min), the rest untouched.
    let retry_at = t0 + TimeDelta::minutes(5);
    let outcomes = vec![
        outcome(b, 0, true, t0, NextStep::Succeeded),
        outcome(b, 1, true, t0, NextStep::Succeeded),
        outcome(b, 2, false, t0, NextStep::RetryAt(retry_at)),
    ];
    finish(&s, "n1", &w.id, outcomes).await;
    let wh = s.get_webhook(&a, &w.id).await.unwrap();
    assert_eq!(wh.failing_since, Some(t0));
    // Released: the two untouched deliveries are due; the failed one is not.
    let again = s.claim_deliveries(claim("n2", t0, 10)).await.unwrap();
    assert_eq!(again.len(), 1);
    let ids: Vec<_> = again[0].jobs.iter().map(|j| j.delivery_id.clone()).collect();
    assert_eq!(ids, vec![b.jobs[3].delivery_id.clone(), b.jobs[4].delivery_id.clone()]);
    // Its lease expires: another node may take over.
    let later = t0 + TimeDelta::seconds(61);
    let taken = s.claim_deliveries(claim("n3", later, 10)).await.unwrap();
    assert_eq!(taken.len(), 1);
    let out = vec![
        outcome(&taken[0], 0, true, later, NextStep::Succeeded),
        outcome(&taken[0], 1, true, later, NextStep::Succeeded),
    ];
    finish(&s, "n3", &w.id, out).await;
    assert_eq!(
        s.get_webhook(&a, &w.id).await.unwrap().failing_since,
        None,
        "a success ends the failing run"
    );
    // After the retry time the failed one comes back, with its attempt count.
    let at = retry_at + TimeDelta::seconds(1);
    let retry = s.claim_deliveries(claim("n1", at, 10)).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].jobs.len(), 1);
    assert_eq!(retry[0].jobs[0].delivery_id, b.jobs[2].delivery_id);
    assert_eq!(retry[0].jobs[0].attempts, 1);
    assert_eq!(retry[0].jobs[0].event.id, b.jobs[2].event.id, "same event id on every retry");
    finish(&s, "n1", &w.id, vec![outcome(&retry[0], 0, false, at, NextStep::GiveUp)]).await;
    let (d, _) = s.list_deliveries(&a, &w.id, PAGE).await.unwrap();
    let statuses: Vec<_> = d.iter().map(|x| (x.status, x.attempts)).collect();
    use DeliveryStatus::*;
    assert_eq!(
        statuses,
        vec![(Succeeded, 1), (Succeeded, 1), (Dead, 2), (Succeeded, 1), (Succeeded, 1)]
    );
    assert!(
        s.claim_deliveries(claim("n1", at + TimeDelta::days(30), 10))
            .await
            .unwrap()
            .is_empty()
    );
    // A rotated-out secret signs beside the new one for 24 h.
    s.rotate_webhook_secret(&a, &w.id, WebhookSecret::from_random([9; 24]), at, None)
        .await
        .unwrap();
    call(&s, &a).await;
    s.fan_out(1000).await.unwrap();
    let b = s.claim_deliveries(claim("n1", now(), 10)).await.unwrap();
    assert_eq!(b[0].webhook.secrets, vec![WebhookSecret::from_random([9; 24]), w.secret.clone()]);
}

pub async fn webhook_attempts_and_disable(s: DynStore) {
    let (a, b) = (org(&s, "a").await, org(&s, "b").await);
    let w = s.create_webhook(hook(&a, &["call.queued"]), None).await.unwrap();
    let watcher = s.create_webhook(hook(&a, &["webhook.disabled"]), None).await.unwrap();
    call(&s, &a).await;
    s.fan_out(1000).await.unwrap();
    let t0 = now();
    let mut t = t0;
    // Fail for 5 days (minus a second): still enabled.
    for step in [TimeDelta::zero(), TimeDelta::days(2), TimeDelta::days(3) - TimeDelta::seconds(1)] {
        t += step;
        let got = s.claim_deliveries(claim("n1", t, 10)).await.unwrap();
        assert_eq!(got.len(), 1, "due at {t}");
        finish(&s, "n1", &w.id, vec![outcome(&got[0], 0, false, t, NextStep::RetryAt(t))]).await;
        assert!(s.get_webhook(&a, &w.id).await.unwrap().enabled);
    }
    t += TimeDelta::seconds(1);
    let got = s.claim_deliveries(claim("n1", t, 10)).await.unwrap();
    finish(&s, "n1", &w.id, vec![outcome(&got[0], 0, false, t, NextStep::RetryAt(t))]).await;
    let off = s.get_webhook(&a, &w.id).await.unwrap();
    assert!(!off.enabled, "5 days of failures disable the endpoint");
    assert_eq!(off.failing_since, Some(t0));
    assert!(off.disabled_reason.as_deref().unwrap().contains("failed"));
    let events = s.org_events_after(&a, 0, 1000).await.unwrap();
    let disabled: Vec<_> = events.iter().filter(|e| e.event_type == "webhook.disabled").collect();
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].data["webhookId"], w.id.as_str());
    // The event itself is delivered to subscriptions that take it.
    s.fan_out(1000).await.unwrap();
    let (d, _) = s.list_deliveries(&a, &watcher.id, PAGE).await.unwrap();
    assert_eq!(
        d.iter().map(|x| x.event_id.clone()).collect::<Vec<_>>(),
        vec![disabled[0].id.clone()]
    );
    // Disabled subscriptions are not served.
    let served: Vec<WebhookId> = s
        .claim_deliveries(claim("n1", t + TimeDelta::days(1), 10))
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.webhook.id)
        .collect();
    assert_eq!(served, vec![watcher.id.clone()]);
    // The attempt log, newest first, scoped to the organisation.
    let (log, total) = s.list_attempts(&a, &w.id, PAGE).await.unwrap();
    assert_eq!(total, 4);
    assert_eq!(log[0].created_at, t);
    assert_eq!(log[3].created_at, t0);
    assert_eq!(log[0].status_code, Some(503));
    assert_eq!(log[0].response_body.as_deref(), Some("busy"));
    assert_eq!(log[0].latency_ms, 7);
    assert!(!log[0].succeeded);
    assert_eq!(s.list_attempts(&a, &w.id, Page { page: 2, limit: 3 }).await.unwrap().0.len(), 1);
    assert!(matches!(s.list_attempts(&b, &w.id, PAGE).await, Err(StoreError::NotFound(_))));
    // Enabling again forgets the failures.
    let on = s
        .update_webhook(
            &a,
            &w.id,
            WebhookPatch {
                enabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(on.enabled && on.failing_since.is_none() && on.disabled_reason.is_none());
}

/// Pruning forgets old attempts and finished deliveries, in batches, and
/// never a delivery still due.
pub async fn webhook_log_pruning(s: DynStore) {
    let a = org(&s, "a").await;
    let w = s.create_webhook(hook(&a, &["call.queued"]), None).await.unwrap();
    for _ in 0..3 {
        call(&s, &a).await;
    }
    s.fan_out(1000).await.unwrap();
    let t0 = now();
    let old = t0 - TimeDelta::days(40);
    let got = s.claim_deliveries(claim("n1", t0, 10)).await.unwrap();
    assert_eq!(got[0].jobs.len(), 3);
    let outcomes = vec![
        outcome(&got[0], 0, true, old, NextStep::Succeeded),
        outcome(&got[0], 1, false, old, NextStep::RetryAt(t0 + TimeDelta::hours(1))),
        outcome(&got[0], 2, false, old, NextStep::GiveUp),
    ];
    finish(&s, "n1", &w.id, outcomes).await;
    let recent = t0 + TimeDelta::hours(2);
    let got = s.claim_deliveries(claim("n1", recent, 10)).await.unwrap();
    assert_eq!(got[0].jobs.len(), 1, "the retried delivery");
    finish(&s, "n1", &w.id, vec![outcome(&got[0], 0, true, recent, NextStep::Succeeded)]).await;
    call(&s, &a).await;
    s.fan_out(1000).await.unwrap();
    let statuses = |s: DynStore| {
        let (a, w) = (a.clone(), w.id.clone());
        async move {
            let (d, _) = s.list_deliveries(&a, &w, PAGE).await.unwrap();
            d.into_iter().map(|d| d.status).collect::<Vec<_>>()
        }
    };
    use DeliveryStatus::*;
    assert_eq!(statuses(s.clone()).await, vec![Succeeded, Succeeded, Dead, Pending]);

    // Older than 30 days, two rows of each kind per call: the three old
    // attempts and the two deliveries that finished then.
    let cutoff = t0 - TimeDelta::days(30);
    assert_eq!(s.prune_webhook_log(cutoff, 2).await.unwrap(), 4);
    assert_eq!(s.prune_webhook_log(cutoff, 2).await.unwrap(), 1);
    assert_eq!(s.prune_webhook_log(cutoff, 2).await.unwrap(), 0);
    let (log, total) = s.list_attempts(&a, &w.id, PAGE).await.unwrap();
    assert_eq!((total, log[0].created_at), (1, recent));
    assert_eq!(statuses(s.clone()).await, vec![Succeeded, Pending]);

    // A cutoff past everything still leaves the due delivery, deliverable.
    assert_eq!(s.prune_webhook_log(recent + TimeDelta::days(1), 100).await.unwrap(), 2);
    assert_eq!(statuses(s.clone()).await, vec![Pending]);
    let got = s.claim_deliveries(claim("n1", now(), 10)).await.unwrap();
    assert_eq!(got[0].jobs.len(), 1);
}

pub async fn webhook_replay_and_redeliver(s: DynStore) {
    let (a, b) = (org(&s, "a").await, org(&s, "b").await);
    let start = now() - TimeDelta::seconds(5);
    for _ in 0..3 {
        call_at(&s, &a, now() - TimeDelta::seconds(3)).await;
    }
    let w = s.create_webhook(hook(&a, &["call.queued"]), None).await.unwrap();
    let contacts = s.create_webhook(hook(&a, &["contact.created"]), None).await.unwrap();
    s.fan_out(1000).await.unwrap();
    assert_eq!(s.list_deliveries(&a, &w.id, PAGE).await.unwrap().1, 0);
    // A replay reaches back before the subscription existed.
    assert_eq!(s.replay_webhook(&a, &w.id, start, now(), None).await.unwrap(), 3);
    assert_eq!(s.replay_webhook(&a, &contacts.id, start, now(), None).await.unwrap(), 0);
    assert_eq!(
        s.replay_webhook(&a, &w.id, now() + TimeDelta::days(1), now(), None).await.unwrap(),
        0
    );
    assert!(matches!(
        s.replay_webhook(&b, &w.id, start, now(), None).await,
        Err(StoreError::NotFound(_))
    ));
    let got = s.claim_deliveries(claim("n1", now(), 10)).await.unwrap();
    assert_eq!(got[0].jobs.len(), 3);
    let t = now();
    let outs = (0..3).map(|i| outcome(&got[0], i, true, t, NextStep::Succeeded)).collect();
    finish(&s, "n1", &w.id, outs).await;
    // Redeliver one delivered event: its delivery is pending again, same id.
    let event = got[0].jobs[1].event.clone();
    assert_eq!(s.redeliver_event(&a, &event.id, now(), None).await.unwrap(), 1);
    assert!(matches!(
        s.redeliver_event(&b, &event.id, now(), None).await,
        Err(StoreError::NotFound(_))
    ));
    let again = s.claim_deliveries(claim("n1", now(), 10)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].jobs.len(), 1);
    assert_eq!(again[0].jobs[0].event.id, event.id);
    assert_eq!(
        again[0].jobs[0].delivery_id, got[0].jobs[1].delivery_id,
        "one delivery per (subscription, event)"
    );
    assert_eq!(s.list_deliveries(&a, &w.id, PAGE).await.unwrap().1, 3);
}

/// Nodes sharing a database: fan-outs racing make each delivery once, and
/// claims racing never lease one subscription twice.
pub async fn webhook_concurrent_nodes(s: DynStore) {
    let a = org(&s, "a").await;
    let mut hooks = Vec::new();
    for _ in 0..12 {
        hooks.push(s.create_webhook(hook(&a, &["*"]), None).await.unwrap().id);
    }
    for _ in 0..10 {
        call(&s, &a).await;
    }
    let fanners: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut n = 0;
                loop {
                    let f = s.fan_out(3).await.unwrap();
                    n += f.deliveries;
                    if f.events == 0 {
                        return n;
                    }
                }
            })
        })
        .collect();
    let mut made = 0;
    for f in fanners {
        made += f.await.unwrap();
    }
    assert_eq!(made, 120, "every (subscription, event) once");
    let at = now();
    let claimers: Vec<_> = (0..6)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.claim_deliveries(claim(&format!("n{i}"), at, 3)).await.unwrap() })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut jobs = 0;
    for (i, c) in claimers.into_iter().enumerate() {
        let batches = c.await.unwrap();
        let mut finished = Vec::new();
        for b in &batches {
            assert!(seen.insert(b.webhook.id.clone()), "subscription {} leased twice", b.webhook.id);
            jobs += b.jobs.len();
            let outcomes = (0..b.jobs.len()).map(|j| outcome(b, j, true, at, NextStep::Succeeded)).collect();
            finished.push(Finished {
                webhook: b.webhook.id.clone(),
                outcomes,
            });
        }
        // One write for every subscription a node served.
        s.finish_deliveries(&format!("n{i}"), finished).await.unwrap();
    }
    assert_eq!(seen.len(), 12);
    assert_eq!(jobs, 120);
    for h in &hooks {
        let (d, _) = s.list_deliveries(&a, h, PAGE).await.unwrap();
        assert!(d.iter().all(|x| x.status == DeliveryStatus::Succeeded), "{h}");
        assert_eq!(s.list_attempts(&a, h, PAGE).await.unwrap().1, 10);
    }
    assert!(
        s.claim_deliveries(claim("n9", at, 100)).await.unwrap().is_empty(),
        "nothing left, every lease released"
    );
    call(&s, &a).await;
    s.fan_out(1000).await.unwrap();
    assert_eq!(s.claim_deliveries(claim("n9", now(), 100)).await.unwrap().len(), 12);
}

/// Pruning the outbox takes only old events that fan-out has passed and no
/// delivery waits on, oldest first, never the newest, and marks how far it
/// went.
pub async fn outbox_pruning(s: DynStore) {
    let a = org(&s, "a").await;
    let w = s.create_webhook(hook(&a, &["call.queued"]), None).await.unwrap();
    for _ in 0..5 {
        call(&s, &a).await;
    }
    let future = now() + TimeDelta::days(1);
    let seqs = |s: DynStore| async move {
        s.events_after(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.seq)
            .collect::<Vec<i64>>()
    };
    let all = seqs(s.clone()).await;
    assert_eq!(all.len(), 5);
    assert_eq!(s.outbox_pruned_through().await.unwrap(), 0);
    assert_eq!(s.prune_outbox(future, 100).await.unwrap(), 0, "not fanned out yet");
    s.fan_out(1000).await.unwrap();
    assert_eq!(s.prune_outbox(future, 100).await.unwrap(), 0, "deliveries wait on every event");
    // Three delivered, the fourth failed and waits for its retry, the fifth
    // not tried.
    let t = now();
    let got = s.claim_deliveries(claim("n1", t, 10)).await.unwrap();
    let mut outcomes: Vec<AttemptOutcome> = (0..3).map(|i| outcome(&got[0], i, true, t, NextStep::Succeeded)).collect();
    outcomes.push(outcome(&got[0], 3, false, t, NextStep::RetryAt(t + TimeDelta::hours(1))));
    finish(&s, "n1", &w.id, outcomes).await;
    assert_eq!(
        s.prune_outbox(t - TimeDelta::days(1), 100).await.unwrap(),
        0,
        "younger than the cutoff"
    );
    assert_eq!(s.prune_outbox(future, 2).await.unwrap(), 2);
    assert_eq!(s.outbox_pruned_through().await.unwrap(), all[1]);
    assert_eq!(s.prune_outbox(future, 2).await.unwrap(), 1);
    assert_eq!(s.prune_outbox(future, 2).await.unwrap(), 0);
    assert_eq!(s.outbox_pruned_through().await.unwrap(), all[2]);
    assert_eq!(seqs(s.clone()).await, all[3..].to_vec());
    assert!(s.outbox_head().await.unwrap() >= all[4]);
    // Both delivered: the fourth goes, the newest stays.
    let later = t + TimeDelta::hours(2);
    let got = s.claim_deliveries(claim("n1", later, 10)).await.unwrap();
    let outcomes = (0..2).map(|i| outcome(&got[0], i, true, later, NextStep::Succeeded)).collect();
    finish(&s, "n1", &w.id, outcomes).await;
    assert_eq!(s.prune_outbox(future, 100).await.unwrap(), 1);
    assert_eq!(seqs(s.clone()).await, vec![all[4]]);
    assert_eq!(s.outbox_pruned_through().await.unwrap(), all[3]);
    // New events number on from the newest.
    call(&s, &a).await;
    let after = seqs(s.clone()).await;
    assert!(after.len() == 2 && after[1] > all[4], "{after:?}");
}
