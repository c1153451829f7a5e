//! The conformance suite every store implementation must pass. Each check
//! takes a fresh, empty store; `tests/conformance.rs` runs every check on
//! SQLite and, when `SWITCHBOARD_TEST_DATABASE_URL` is set, on PostgreSQL.

use std::future::Future;
use std::pin::Pin;

use chrono::{Duration, TimeZone as _, Utc};
use serde_json::json;
use switchboard_domain::call::{CallReport, Sentiment};
use switchboard_domain::contact::ContactPatch;
use switchboard_domain::{
    ApiKey, ApiKeyId, Call, CallId, CallStatus, Contact, ContactId, Direction, DomainError, OrgId, Organisation, PhoneNumber, TimeZone,
    Timestamp,
};

use crate::{CallCursor, CallFacts, CallFilter, CallTarget, ContactFilter, DynStore, IdemKey, Page, StoreError};

pub type Check = fn(DynStore) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("orgs", |s| Box::pin(orgs(s))),
    ("bootstrap_once", |s| Box::pin(bootstrap_once(s))),
    ("keys", |s| Box::pin(keys(s))),
    ("call_create_and_get", |s| Box::pin(call_create_and_get(s))),
    ("call_external_id_unique_per_org", |s| Box::pin(call_external_id_unique_per_org(s))),
    ("call_list_filters_and_pages", |s| Box::pin(call_list_filters_and_pages(s))),
    ("gauges_count_live_calls_and_the_outbox", |s| {
        Box::pin(gauges_count_live_calls_and_the_outbox(s))
    }),
    ("call_reports_follow_state_machine", |s| {
        Box::pin(call_reports_follow_state_machine(s))
    }),
    ("call_report_upsert_by_external_id", |s| {
        Box::pin(call_report_upsert_by_external_id(s))
    }),
    ("call_cancel", |s| Box::pin(call_cancel(s))),
    ("call_delete", |s| Box::pin(call_delete(s))),
    ("call_media_events", |s| Box::pin(call_media_events(s))),
    ("contacts_crud", |s| Box::pin(contacts_crud(s))),
    ("contacts_list_tag_and_search", |s| Box::pin(contacts_list_tag_and_search(s))),
    ("idempotency_in_same_transaction", |s| Box::pin(idempotency_in_same_transaction(s))),
    ("outbox_order_and_scope", |s| Box::pin(outbox_order_and_scope(s))),
    ("outbox_bell_rings_after_commit", |s| Box::pin(outbox_bell_rings_after_commit(s))),
    ("tenant_isolation", |s| Box::pin(tenant_isolation(s))),
    ("concurrent_writes_all_land", |s| Box::pin(concurrent_writes_all_land(s))),
    ("analytics_facts", |s| Box::pin(analytics_facts(s))),
    ("import_calls_in_bulk", |s| Box::pin(import_calls_in_bulk(s))),
    ("calls_after_cursor", |s| Box::pin(calls_after_cursor(s))),
    ("users_and_logins", |s| Box::pin(users_and_logins(s))),
    ("refresh_tokens_rotate_and_detect_reuse", |s| {
        Box::pin(refresh_tokens_rotate_and_detect_reuse(s))
    }),
    ("audit_usage_and_secrets", |s| Box::pin(audit_usage_and_secrets(s))),
    ("quota_exact_under_concurrency", |s| Box::pin(quota_exact_under_concurrency(s))),
];

fn at(secs: i64) -> Timestamp {
    Utc.timestamp_opt(1_747_000_000 + secs, 0).unwrap()
}

/// The monitoring figures follow what is stored.
async fn gauges_count_live_calls_and_the_outbox(s: DynStore) {
    let before = s.gauges().await.unwrap();
    let org = new_org(&s, "gauges").await;
    let now = switchboard_domain::now();
    for status in [CallStatus::Queued, CallStatus::Ringing, CallStatus::Completed] {
        s.create_call(Call::new(org.id.clone(), Direction::Outbound, status, now), None)
            .await
            .unwrap();
    }
    let after = s.gauges().await.unwrap();
    assert_eq!(after.live_calls, before.live_calls + 2);
    assert!(after.outbox_head >= before.outbox_head + 3, "{before:?} → {after:?}");
    assert_eq!(after.outbox_head, s.outbox_head().await.unwrap());
    assert!(after.webhook_dispatched_through <= after.outbox_head);
    assert_eq!(after.webhook_queued, 0, "no subscriptions, nothing queued");
}

async fn new_org(s: &DynStore, slug: &str) -> Organisation {
    s.create_org(Organisation::new(slug, &format!("Org {slug}"), at(0))).await.unwrap()
}

fn call(org: &Organisation, created: i64) -> Call {
    let mut c = Call::new(org.id.clone(), Direction::Outbound, CallStatus::Queued, at(created));
    c.to = Some("+15551234567".into());
    c.customer_name = Some("Rajesh Kumar".into());
    c.customer_context = Some(json!({"loanType": "Business Loan", "daysOverdue": 45}));
    c
}

fn contact(org: &Organisation, name: &str, phone: &str) -> Contact {
    Contact {
        id: ContactId::new(),
        org_id: org.id.clone(),
        name: Some(name.into()),
        phone: PhoneNumber::from_trusted(phone.into()),
        email: Some(format!("{}@example.com", name.to_lowercase().replace(' ', "."))),
        company: Some("Acme Inc".into()),
        tags: vec!["customer".into()],
        custom_fields: Some(json!({"industry": "Technology"})),
        external_id: None,
        time_zone: Some(TimeZone::parse("tz", "Asia/Kolkata").unwrap()),
        created_at: at(0),
        updated_at: at(0),
    }
}

fn report(status: CallStatus, t: i64) -> CallReport {
    CallReport {
        status: Some(status),
        at: Some(at(t)),
        ..Default::default()
    }
}

async fn event_types(s: &DynStore, org: &OrgId) -> Vec<String> {
    s.org_events_after(org, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

pub async fn orgs(s: DynStore) {
    let a = new_org(&s, "acme").await;
    assert_eq!(s.get_org(&a.id).await.unwrap(), a);
    assert_eq!(s.org_by_slug("acme").await.unwrap(), Some(a.clone()));
    assert_eq!(s.org_by_slug("nobody").await.unwrap(), None);
    let dup = s.create_org(Organisation::new("acme", "Again", at(1))).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert!(matches!(s.get_org(&OrgId::new()).await, Err(StoreError::NotFound(_))));
    let b = new_org(&s, "bravo").await;
    let all: Vec<OrgId> = s.list_orgs().await.unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(all, vec![a.id.clone(), b.id]);
    let mut changed = a.clone();
    changed.name = "Acme Collections".into();
    changed.default_region = Some("IN".into());
    changed.time_zone = TimeZone::parse("tz", "Asia/Kolkata").unwrap();
    changed.phone_strictness = switchboard_domain::phone::Strictness::Strict;
    changed.plan = "professional".into();
    s.update_org(changed.clone()).await.unwrap();
    assert_eq!(s.get_org(&a.id).await.unwrap(), changed);
    assert!(matches!(
        s.update_org(Organisation::new("ghost", "Ghost", at(0))).await,
        Err(StoreError::NotFound(_))
    ));
}

fn key(org: &Organisation, name: &str) -> ApiKey {
    ApiKey {
        id: ApiKeyId::new(),
        org_id: org.id.clone(),
        name: name.into(),
        prefix: "sbk_abcd".into(),
        created_at: at(1),
        revoked_at: None,
        scopes: vec!["calls.view".into(), "calls.create".into()],
        expires_at: Some(at(86_400)),
    }
}

pub async fn bootstrap_once(s: DynStore) {
    let org = Organisation::new("default", "Default", at(0));
    assert!(s.bootstrap(org.clone(), key(&org, "bootstrap"), "h1".into()).await.unwrap());
    let other = Organisation::new("other", "Other", at(0));
    assert!(!s.bootstrap(other.clone(), key(&other, "bootstrap"), "h2".into()).await.unwrap());
    assert_eq!(s.list_orgs().await.unwrap().len(), 1);
    assert_eq!(s.key_by_hash("h1").await.unwrap().unwrap().org_id, org.id);
    assert!(s.key_by_hash("h2").await.unwrap().is_none());
}

pub async fn keys(s: DynStore) {
    let a = new_org(&s, "a").await;
    let b = new_org(&s, "b").await;
    let k1 = s.create_key(key(&a, "ci"), "hash-1".into()).await.unwrap();
    let k2 = s.create_key(key(&a, "crm"), "hash-2".into()).await.unwrap();
    assert!(matches!(
        s.create_key(key(&a, "dup"), "hash-1".into()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.key_by_hash("hash-2").await.unwrap(), Some(k2.clone()));
    assert_eq!(s.list_keys(&a.id).await.unwrap(), vec![k1.clone(), k2.clone()]);
    assert!(s.list_keys(&b.id).await.unwrap().is_empty());
    assert!(matches!(s.revoke_key(&b.id, &k1.id, at(5)).await, Err(StoreError::NotFound(_))));
    // A revocation in the future (rotation overlap) can be brought forward, never pushed back.
    let later = s.revoke_key(&a.id, &k1.id, at(500)).await.unwrap();
    assert_eq!(later.revoked_at, Some(at(500)));
    assert!(later.usable(at(499)) && !later.usable(at(500)));
    let revoked = s.revoke_key(&a.id, &k1.id, at(5)).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(at(5)));
    let again = s.revoke_key(&a.id, &k1.id, at(50)).await.unwrap();
    assert_eq!(again.revoked_at, Some(at(5)));
    assert!(s.key_by_hash("hash-1").await.unwrap().unwrap().revoked_at.is_some());
}

pub async fn call_create_and_get(s: DynStore) {
    let org = new_org(&s, "acme").await;
    let mut c = call(&org, 10);
    c.external_id = Some("CA123".into());
    c.metadata = Some(json!({"campaign": "overdue_45days", "attempt": 4}));
    c.topics = Some(vec!["billing".into()]);
    c.sentiment = Some(Sentiment::Positive);
    c.cost = Some(0.15);
    c.scheduled_at = Some(at(100));
    let stored = s.create_call(c.clone(), None).await.unwrap();
    assert_eq!(stored.timeline.len(), 1);
    assert_eq!(stored.timeline[0].kind, "status.queued");
    let got = s.get_call(&org.id, &c.id).await.unwrap();
    assert_eq!(got, stored);
    let mut without_timeline = got.clone();
    without_timeline.timeline.clear();
    assert_eq!(without_timeline, c);
    assert_eq!(
        s.call_by_external_id(&org.id, "CA123").await.unwrap().map(|c| c.id),
        Some(c.id.clone())
    );
    assert!(s.call_by_external_id(&org.id, "CA999").await.unwrap().is_none());
    assert_eq!(event_types(&s, &org.id).await, vec!["call.queued"]);
    assert!(matches!(s.get_call(&org.id, &CallId::new()).await, Err(StoreError::NotFound(_))));
}

pub async fn call_external_id_unique_per_org(s: DynStore) {
    let a = new_org(&s, "a").await;
    let b = new_org(&s, "b").await;
    let mut c1 = call(&a, 1);
    c1.external_id = Some("CA1".into());
    s.create_call(c1, None).await.unwrap();
    let mut c2 = call(&a, 2);
    c2.external_id = Some("CA1".into());
    assert!(matches!(s.create_call(c2.clone(), None).await, Err(StoreError::Conflict(_))));
    // Nothing of the refused call was kept, not even its event.
    assert!(matches!(s.get_call(&a.id, &c2.id).await, Err(StoreError::NotFound(_))));
    assert_eq!(event_types(&s, &a.id).await.len(), 1);
    let mut c3 = call(&b, 3);
    c3.external_id = Some("CA1".into());
    s.create_call(c3, None).await.unwrap();
}

pub async fn call_list_filters_and_pages(s: DynStore) {
    let org = new_org(&s, "acme").await;
    let other = new_org(&s, "other").await;
    let cnt = ContactId::new();
    let mut ids = Vec::new();
    for i in 0..25 {
        let mut c = call(&org, i * 3600);
        c.initiated_at = Some(at(i * 3600));
        c.campaign_id = Some(if i % 2 == 0 { "cmp-even".into() } else { "cmp-odd".into() });
        c.agent_id = Some(format!("AGT{}", i % 3));
        c.call_type = Some("collections".into());
        c.direction = if i % 5 == 0 { Direction::Inbound } else { Direction::Outbound };
        c.customer_external_id = Some(format!("LOAN{}", i % 4));
        if i < 4 {
            c.contact_id = Some(cnt.clone());
        }
        if i % 4 == 0 {
            c.status = CallStatus::Completed;
        }
        ids.push(c.id.clone());
        s.create_call(c, None).await.unwrap();
    }
    s.create_call(call(&other, 0), None).await.unwrap();
    let all = CallFilter::default();
    let (page1, total) = s.list_calls(&org.id, &all, Page { page: 1, limit: 10 }).await.unwrap();
    assert_eq!(total, 25);
    let newest_first: Vec<CallId> = ids.iter().rev().take(10).cloned().collect();
    assert_eq!(page1.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), newest_first);
    let (page3, _) = s.list_calls(&org.id, &all, Page { page: 3, limit: 10 }).await.unwrap();
    assert_eq!(page3.len(), 5);
    assert_eq!(page3.last().unwrap().id, ids[0]);
    let (beyond, total) = s.list_calls(&org.id, &all, Page { page: 9, limit: 10 }).await.unwrap();
    assert!(beyond.is_empty());
    assert_eq!(total, 25);

    let count = |f: CallFilter| {
        let s = s.clone();
        let org = org.id.clone();
        async move { s.list_calls(&org, &f, Page { page: 1, limit: 100 }).await.unwrap().1 }
    };
    assert_eq!(
        count(CallFilter {
            statuses: vec![CallStatus::Completed],
            ..Default::default()
        })
        .await,
        7
    );
    assert_eq!(
        count(CallFilter {
            statuses: vec![CallStatus::Completed, CallStatus::Queued],
            ..Default::default()
        })
        .await,
        25
    );
    assert_eq!(
        count(CallFilter {
            campaign_id: Some("cmp-even".into()),
            ..Default::default()
        })
        .await,
        13
    );
    assert_eq!(
        count(CallFilter {
            contact_id: Some(cnt.to_string()),
            ..Default::default()
        })
        .await,
        4
    );
    assert_eq!(
        count(CallFilter {
            agent_id: Some("AGT1".into()),
            ..Default::default()
        })
        .await,
        8
    );
    assert_eq!(
        count(CallFilter {
            direction: Some(Direction::Inbound),
            ..Default::default()
        })
        .await,
        5
    );
    assert_eq!(
        count(CallFilter {
            customer_external_id: Some("LOAN3".into()),
            ..Default::default()
        })
        .await,
        6
    );
    assert_eq!(
        count(CallFilter {
            call_type: Some("sales".into()),
            ..Default::default()
        })
        .await,
        0
    );
    // Start inclusive, end exclusive.
    let window = CallFilter {
        start: Some(at(5 * 3600)),
        end: Some(at(10 * 3600)),
        ..Default::default()
    };
    assert_eq!(count(window).await, 5);
}

pub async fn call_reports_follow_state_machine(s: DynStore) {
    let org = new_org(&s, "acme").await;
    let c = s.create_call(call(&org, 0), None).await.unwrap();
    let by_id = || CallTarget::Id(c.id.clone());
    let r = s.report_call(&org.id, by_id(), report(CallStatus::Ringing, 5), None).await.unwrap();
    assert_eq!(
        (r.call.status, r.transition.as_deref(), r.changed),
        (CallStatus::Ringing, Some("apply"), true)
    );
    s.report_call(&org.id, by_id(), report(CallStatus::InProgress, 8), None)
        .await
        .unwrap();
    // A late ringing changes nothing.
    let late = s.report_call(&org.id, by_id(), report(CallStatus::Ringing, 6), None).await.unwrap();
    assert_eq!(
        (late.call.status, late.transition.as_deref(), late.changed),
        (CallStatus::InProgress, Some("late"), false)
    );
    let done = CallReport {
        duration: Some(223),
        recording_url: Some("https://rec.example.com/1.mp3".into()),
        transcript: Some("Agent: Hello".into()),
        sentiment: Some(Sentiment::Positive),
        outcome: Some("successful".into()),
        ..report(CallStatus::Completed, 231)
    };
    let r = s.report_call(&org.id, by_id(), done.clone(), None).await.unwrap();
    assert_eq!(r.call.status, CallStatus::Completed);
    assert_eq!(r.call.duration, Some(223));
    assert_eq!(r.call.answered_at, Some(at(8)));
    assert_eq!(r.call.ended_at, Some(at(231)));
    // The same completion again: no change, no new event.
    let before = event_types(&s, &org.id).await;
    let again = s.report_call(&org.id, by_id(), done, None).await.unwrap();
    assert!(!again.changed);
    assert_eq!(event_types(&s, &org.id).await, before);
    assert_eq!(
        before,
        vec![
            "call.queued",
            "call.ringing",
            "call.answered",
            "call.completed",
            "recording.ready",
            "transcription.complete",
            "transcript.updated"
        ]
    );
    // Completed → failed is illegal and changes nothing.
    let err = s
        .report_call(&org.id, by_id(), report(CallStatus::Failed, 300), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Domain(DomainError::IllegalTransition {
                from: "completed",
                to: "failed"
            })
        ),
        "{err:?}"
    );
    let stored = s.get_call(&org.id, &c.id).await.unwrap();
    assert_eq!(stored.status, CallStatus::Completed);
    let kinds: Vec<&str> = stored.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["status.queued", "status.ringing", "status.in_progress", "status.completed"]
    );
    // An explicit correction is allowed.
    let fix = CallReport {
        correction: true,
        ..report(CallStatus::Failed, 301)
    };
    assert_eq!(
        s.report_call(&org.id, by_id(), fix, None).await.unwrap().call.status,
        CallStatus::Failed
    );
    // In-call events join the timeline once.
    let hold = CallReport {
        event: Some("hold".into()),
        at: Some(at(100)),
        event_data: Some(json!({"by": "agent"})),
        ..Default::default()
    };
    s.report_call(&org.id, by_id(), hold.clone(), None).await.unwrap();
    s.report_call(&org.id, by_id(), hold, None).await.unwrap();
    let stored = s.get_call(&org.id, &c.id).await.unwrap();
    assert_eq!(stored.timeline.iter().filter(|e| e.kind == "hold").count(), 1);
    assert!(matches!(
        s.report_call(&org.id, CallTarget::Id(CallId::new()), report(CallStatus::Ringing, 1), None)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn call_report_upsert_by_external_id(s: DynStore) {
    let org = new_org(&s, "acme").await;
    let template = |sid: &str| {
        let mut c = call(&org, 0);
        c.external_id = Some(sid.into());
        c.direction = Direction::Inbound;
        CallTarget::External {
            external_id: sid.into(),
            create: Box::new(c),
        }
    };
    let first = s
        .report_call(&org.id, template("CA-1"), report(CallStatus::InProgress, 1), None)
        .await
        .unwrap();
    assert!(first.created);
    let second = s
        .report_call(
            &org.id,
            template("CA-1"),
            CallReport {
                duration: Some(60),
                ..report(CallStatus::Completed, 61)
            },
            None,
        )
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.call.id, first.call.id);
    assert_eq!(second.call.status, CallStatus::Completed);
    // Many concurrent reports for one new carrier id make one call.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        let org_id = org.id.clone();
        let target = template("CA-race");
        tasks.push(tokio::spawn(async move {
            s.report_call(&org_id, target, report(CallStatus::Ringing, i), None).await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(o) => {
                ids.insert(o.call.id);
            }
            // A backend may refuse a racing insert; it must say so as a conflict.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ids.len(), 1);
    let (_, total) = s
        .list_calls(
            &org.id,
            &CallFilter {
                direction: Some(Direction::Inbound),
                ..Default::default()
            },
            Page { page: 1, limit: 100 },
        )
        .await
        .unwrap();
    assert_eq!(total, 2);
}

pub async fn call_cancel(s: DynStore) {
    let org = new_org(&s, "acme").await;
    let mut sched = call(&org, 0);
    sched.status = CallStatus::Scheduled;
    sched.scheduled_at = Some(at(3600));
    let sched = s.create_call(sched, None).await.unwrap();
    let r = s.cancel_call(&org.id, &sched.id, None).await.unwrap();
    assert_eq!(r.call.status, CallStatus::Canceled);
    assert!(r.call.ended_at.is_some());
    let again = s.cancel_call(&org.id, &sched.id, None).await.unwrap();
    assert!(!again.changed);
    let live = s.create_call(call(&org, 0), None).await.unwrap();
    s.report_call(&org.id, CallTarget::Id(live.id.clone()), report(CallStatus::Ringing, 1), None)
        .await
        .unwrap();
    let err = s.cancel_call(&org.id, &live.id, None).await.unwrap_err();
    assert!(matches!(
        err,
        StoreError::Domain(DomainError::IllegalTransition {
            from: "ringing",
            to: "canceled"
        })
    ));
    assert_eq!(s.get_call(&org.id, &live.id).await.unwrap().status, CallStatus::Ringing);
    assert!(event_types(&s, &org.id).await.contains(&"call.canceled".to_owned()));
}

pub async fn call_delete(s: DynStore) {
    let org = new_org(&s, "acme").await;
    let other = new_org(&s, "other").await;
    let c = s.create_call(call(&org, 0), None).await.unwrap();
    assert!(matches!(s.delete_call(&other.id, &c.id).await, Err(StoreError::NotFound(_))));
    s.delete_call(&org.id, &c.id).await.unwrap();
    assert!(matches!(s.get_call(&org.id, &c.id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.delete_call(&org.id, &c.id).await, Err(StoreError::NotFound(_))));
    assert_eq!(event_types(&s, &org.id).await, vec!["call.queued", "call.deleted"]);
}

pub async fn call_media_events(s: DynStore) {
    use crate::MediaEvent;
    let org = new_org(&s, "acme").await;
    let other = new_org(&s, "other").await;
    let c = s.create_call(call(&org, 0), None).await.unwrap();
    s.record_media_event(
        &org.id,
        &c.id,
        MediaEvent::RecordingReady,
        json!({"callId": c.id.to_string(), "duration": 12.5}),
    )
    .await
    .unwrap();
    s.record_media_event(
        &org.id,
        &c.id,
        MediaEvent::TranscriptionComplete,
        json!({"callId": c.id.to_string(), "transcript": "Agent: hi\n"}),
    )
    .await
    .unwrap();
    // Another organisation's call, and a deleted call, are not found; nothing is written.
    assert!(matches!(
        s.record_media_event(&other.id, &c.id, MediaEvent::RecordingReady, json!({})).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(event_types(&s, &other.id).await.is_empty());
    let events = s.org_events_after(&org.id, 0, 100).await.unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, vec!["call.queued", "recording.ready", "transcription.complete"]);
    assert_eq!(events[1].data["duration"], json!(12.5));
    s.delete_call(&org.id, &c.id).await.unwrap();
    assert!(matches!(
        s.record_media_event(&org.id, &c.id, MediaEvent::RecordingReady, json!({})).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn contacts_crud(s: DynStore) {
    let org = new_org(&s, "acme").await;
    let mut john = contact(&org, "John Smith", "+15551234567");
    john.external_id = Some("CRM-1".into());
    let stored = s.create_contact(john.clone(), None).await.unwrap();
    assert_eq!(stored, john);
    assert_eq!(s.get_contact(&org.id, &john.id).await.unwrap(), john);
    let mut dup = contact(&org, "Other", "+15550000000");
    dup.external_id = Some("CRM-1".into());
    assert!(matches!(s.create_contact(dup, None).await, Err(StoreError::Conflict(_))));
    let patch = ContactPatch {
        name: Some(Some("John Q. Smith".into())),
        email: Some(None),
        tags: Some(vec!["vip".into()]),
        ..Default::default()
    };
    let updated = s.update_contact(&org.id, &john.id, patch).await.unwrap();
    assert_eq!(updated.name.as_deref(), Some("John Q. Smith"));
    assert_eq!(updated.email, None);
    assert_eq!(updated.tags, vec!["vip"]);
    assert_eq!(updated.company.as_deref(), Some("Acme Inc"));
    assert_eq!(s.get_contact(&org.id, &john.id).await.unwrap(), updated);
    // Calls with the contact, newest first.
    for i in 0..3 {
        let mut c = call(&org, i);
        c.contact_id = Some(john.id.clone());
        c.initiated_at = Some(at(i));
        s.create_call(c, None).await.unwrap();
    }
    let calls = s.contact_calls(&org.id, &john.id, 2).await.unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].initiated_at, Some(at(2)));
    s.delete_contact(&org.id, &john.id).await.unwrap();
    assert!(matches!(s.get_contact(&org.id, &john.id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(
        s.update_contact(&org.id, &john.id, ContactPatch::default()).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        event_types(&s, &org.id)
            .await
            .iter()
            .filter(|t| t.starts_with("contact."))
            .cloned()
            .collect::<Vec<_>>(),
        vec!["contact.created", "contact.updated", "contact.deleted"]
    );
}

pub async fn contacts_list_tag_and_search(s: DynStore) {
    let org = new_org(&s, "acme").await;
    let other = new_org(&s, "other").await;
    let mut vip = contact(&org, "Priya Sharma", "+918765432109");
    vip.tags = vec!["vip".into(), "customer".into()];
    s.create_contact(vip.clone(), None).await.unwrap();
    s.create_contact(contact(&org, "Venkatesh Iyer", "+917654321098"), None)
        .await
        .unwrap();
    s.create_contact(contact(&org, "100% Real_Name", "+917654321000"), None)
        .await
        .unwrap();
    s.create_contact(contact(&other, "Priya Other", "+918765432100"), None)
        .await
        .unwrap();
    let list = |f: ContactFilter| {
        let s = s.clone();
        let org = org.id.clone();
        async move { s.list_contacts(&org, &f, Page { page: 1, limit: 10 }).await.unwrap() }
    };
    let (all, total) = list(ContactFilter::default()).await;
    assert_eq!((all.len(), total), (3, 3));
    let (tagged, _) = list(ContactFilter {
        tag: Some("vip".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(tagged.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), vec![vip.id.clone()]);
    assert_eq!(
        list(ContactFilter {
            search: Some("priya".into()),
            ..Default::default()
        })
        .await
        .1,
        1
    );
    assert_eq!(
        list(ContactFilter {
            search: Some("876543".into()),
            ..Default::default()
        })
        .await
        .1,
        1
    );
    assert_eq!(
        list(ContactFilter {
            search: Some("venkatesh.iyer@".into()),
            ..Default::default()
        })
        .await
        .1,
        1
    );
    // LIKE wildcards in the search text are literal.
    assert_eq!(
        list(ContactFilter {
            search: Some("100%".into()),
            ..Default::default()
        })
        .await
        .1,
        1
    );
    assert_eq!(
        list(ContactFilter {
            search: Some("%".into()),
            ..Default::default()
        })
        .await
        .1,
        1
    );
    assert_eq!(
        list(ContactFilter {
            search: Some("a_e".into()),
            ..Default::default()
        })
        .await
        .1,
        0
    );
    let (p2, total) = s
        .list_contacts(&org.id, &ContactFilter::default(), Page { page: 2, limit: 2 })
        .await
        .unwrap();
    assert_eq!((p2.len(), total), (1, 3));
}

pub async fn idempotency_in_same_transaction(s: DynStore) {
    let org = new_org(&s, "acme").await;
    let idem = IdemKey {
        key: "k-1".into(),
        fingerprint: "fp".into(),
        status: 201,
    };
    let first = s.create_call(call(&org, 0), Some(idem.clone())).await.unwrap();
    let rec = s.idempotent_result(&org.id, "k-1").await.unwrap().unwrap();
    assert_eq!((rec.fingerprint.as_str(), rec.status), ("fp", 201));
    let replayed: Call = serde_json::from_str(&rec.body).unwrap();
    assert_eq!(replayed, first);
    // A second write under the same key is refused and leaves nothing behind.
    let second = call(&org, 1);
    let err = s.create_call(second.clone(), Some(idem.clone())).await.unwrap_err();
    assert!(matches!(err, StoreError::IdempotencyKeyTaken), "{err:?}");
    assert!(matches!(s.get_call(&org.id, &second.id).await, Err(StoreError::NotFound(_))));
    assert_eq!(event_types(&s, &org.id).await.len(), 1);
    // Outcomes stored after the fact keep the first one.
    let late = IdemKey {
        key: "k-late".into(),
        fingerprint: "fp2".into(),
        status: 200,
    };
    s.save_idempotent_result(&org.id, late.clone(), "{\"a\":1}".into()).await.unwrap();
    s.save_idempotent_result(&org.id, IdemKey { status: 500, ..late }, "{\"a\":2}".into())
        .await
        .unwrap();
    let rec = s.idempotent_result(&org.id, "k-late").await.unwrap().unwrap();
    assert_eq!((rec.status, rec.body.as_str()), (200, "{\"a\":1}"));
    // Keys are per organisation.
    let other = new_org(&s, "other").await;
    s.create_call(call(&other, 0), Some(idem)).await.unwrap();
    assert!(s.idempotent_result(&org.id, "k-2").await.unwrap().is_none());
}

pub async fn outbox_order_and_scope(s: DynStore) {
    let a = new_org(&s, "a").await;
    let b = new_org(&s, "b").await;
    for i in 0..5 {
        s.create_call(call(if i % 2 == 0 { &a } else { &b }, i), None).await.unwrap();
    }
    let all = s.events_after(0, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let tail = s.events_after(all[2].seq, 100).await.unwrap();
    assert_eq!(
        tail.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        all[3..].iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    );
    assert_eq!(s.events_after(0, 2).await.unwrap().len(), 2);
    let only_b = s.org_events_after(&b.id, 0, 100).await.unwrap();
    assert_eq!(only_b.len(), 2);
    assert!(only_b.iter().all(|e| e.org_id == b.id));
    assert_eq!(only_b[0].data["status"], "queued");
}

/// The outbox bell rings after a commit that wrote events, and by then the
/// events are readable.
pub async fn outbox_bell_rings_after_commit(s: DynStore) {
    let a = new_org(&s, "a").await;
    let mut bell = s.outbox_bell().await.unwrap();
    bell.borrow_and_update();
    let head = s.outbox_head().await.unwrap();
    let c = s.create_call(call(&a, 0), None).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), bell.changed())
        .await
        .expect("the bell did not ring after a commit")
        .expect("the bell's sender is gone");
    let after = s.events_after(head, 10).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].data["callId"], c.id.to_string());
}

pub async fn tenant_isolation(s: DynStore) {
    let a = new_org(&s, "a").await;
    let b = new_org(&s, "b").await;
    let c = s.create_call(call(&a, 0), None).await.unwrap();
    let k = contact(&a, "John", "+15551234567");
    s.create_contact(k.clone(), None).await.unwrap();
    assert!(matches!(s.get_call(&b.id, &c.id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(
        s.report_call(&b.id, CallTarget::Id(c.id.clone()), report(CallStatus::Ringing, 1), None)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(s.cancel_call(&b.id, &c.id, None).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.get_contact(&b.id, &k.id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(
        s.update_contact(
            &b.id,
            &k.id,
            ContactPatch {
                name: Some(None),
                ..Default::default()
            }
        )
        .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(s.delete_contact(&b.id, &k.id).await, Err(StoreError::NotFound(_))));
    assert_eq!(
        s.list_calls(&b.id, &CallFilter::default(), Page { page: 1, limit: 10 })
            .await
            .unwrap()
            .1,
        0
    );
    assert_eq!(
        s.list_contacts(&b.id, &ContactFilter::default(), Page { page: 1, limit: 10 })
            .await
            .unwrap()
            .1,
        0
    );
    // The real owner still sees everything unchanged.
    assert_eq!(s.get_call(&a.id, &c.id).await.unwrap().status, CallStatus::Queued);
    assert_eq!(s.get_contact(&a.id, &k.id).await.unwrap(), k);
}

pub async fn concurrent_writes_all_land(s: DynStore) {
    let org = new_org(&s, "acme").await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = s.clone();
        let c = call(&org, i);
        tasks.push(tokio::spawn(async move {
            let stored = s.create_call(c, None).await.unwrap();
            s.report_call(
                &stored.org_id,
                CallTarget::Id(stored.id.clone()),
                CallReport {
                    duration: Some(i),
                    ..report(CallStatus::Completed, i + 60)
                },
                None,
            )
            .await
            .unwrap();
            stored.id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let (_, total) = s
        .list_calls(
            &org.id,
            &CallFilter {
                statuses: vec![CallStatus::Completed],
                ..Default::default()
            },
            Page { page: 1, limit: 1 },
        )
        .await
        .unwrap();
    assert_eq!(total, 200);
    assert_eq!(s.org_events_after(&org.id, 0, 10_000).await.unwrap().len(), 400);
    let _ = Duration::zero();
}

pub async fn analytics_facts(s: DynStore) {
    assert_eq!(s.outbox_head().await.unwrap(), 0);
    let a = new_org(&s, "a").await;
    let b = new_org(&s, "b").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut c = call(if i % 2 == 0 { &a } else { &b }, i);
        c.agent_id = Some(format!("AGT{i}"));
        c.metadata = Some(json!({"campaign": "q4"}));
        ids.push(s.create_call(c, None).await.unwrap().id);
    }
    s.report_call(
        &a.id,
        CallTarget::Id(ids[0].clone()),
        CallReport {
            duration: Some(90),
            outcome: Some("successful".into()),
            ..report(CallStatus::Completed, 100)
        },
        None,
    )
    .await
    .unwrap();
    s.delete_call(&b.id, &ids[1]).await.unwrap();
    let events = s.events_after(0, 1000).await.unwrap();
    assert_eq!(s.outbox_head().await.unwrap(), events.last().unwrap().seq);
    // Paging over every organisation's calls in id order.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.call_facts_page(after.clone(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().id.clone());
        seen.extend(page);
    }
    let mut want: Vec<CallId> = ids.iter().filter(|i| **i != ids[1]).cloned().collect();
    want.sort();
    assert_eq!(seen.iter().map(|f| f.id.clone()).collect::<Vec<_>>(), want);
    for f in &seen {
        let org = if f.org_id == a.id { &a.id } else { &b.id };
        assert_eq!(*f, CallFacts::from_call(&s.get_call(org, &f.id).await.unwrap()));
    }
    let some = s.call_facts(&[ids[0].clone(), ids[1].clone(), CallId::new()]).await.unwrap();
    assert_eq!(some.len(), 1);
    assert_eq!(
        (some[0].status, some[0].duration, some[0].outcome.as_deref()),
        (CallStatus::Completed, Some(90), Some("successful"))
    );
}

pub async fn import_calls_in_bulk(s: DynStore) {
    let a = new_org(&s, "a").await;
    let b = new_org(&s, "b").await;
    let calls: Vec<Call> = (0..250)
        .map(|i| {
            let mut c = call(if i % 5 == 0 { &b } else { &a }, i);
            c.status = CallStatus::Completed;
            c.initiated_at = Some(at(i * 60));
            c.duration = Some(i);
            c
        })
        .collect();
    assert_eq!(s.import_calls(calls.clone()).await.unwrap(), 250);
    let total = |org: OrgId| {
        let s = s.clone();
        async move {
            s.list_calls(&org, &CallFilter::default(), Page { page: 1, limit: 1 })
                .await
                .unwrap()
                .1
        }
    };
    assert_eq!(total(a.id.clone()).await, 200);
    assert_eq!(total(b.id.clone()).await, 50);
    let got = s.get_call(&a.id, &calls[1].id).await.unwrap();
    assert_eq!(got.duration, Some(1));
    let events = s.org_events_after(&b.id, 0, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "calls.imported");
    assert_eq!(events[0].data["count"], 50);
    assert_eq!(events[0].data["callIds"][0], calls[0].id.to_string());
    // A refused import (a taken external id) stores nothing.
    let mut dup = vec![call(&a, 1), call(&a, 2)];
    dup[0].external_id = Some("X".into());
    dup[1].external_id = Some("X".into());
    assert!(matches!(s.import_calls(dup).await, Err(StoreError::Conflict(_))));
    assert_eq!(total(a.id.clone()).await, 200);
}

pub async fn calls_after_cursor(s: DynStore) {
    let org = new_org(&s, "acme").await;
    let other = new_org(&s, "other").await;
    let mut want = Vec::new();
    for i in 0..23 {
        let mut c = call(&org, i);
        // Pairs share an instant, so the id breaks ties.
        c.initiated_at = Some(at((i / 2) * 60));
        c.campaign_id = Some(if i % 3 == 0 { "x".into() } else { "y".into() });
        let c = s.create_call(c, None).await.unwrap();
        if i % 3 == 0 {
            want.push(c.id);
        }
    }
    s.create_call(call(&other, 0), None).await.unwrap();
    let filter = CallFilter {
        campaign_id: Some("x".into()),
        ..Default::default()
    };
    let mut got = Vec::new();
    let mut after = None;
    loop {
        let page = s.calls_after(&org.id, &filter, after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some(CallCursor {
            occurred_at: last.occurred_at(),
            id: last.id.clone(),
        });
        got.extend(page.into_iter().map(|c| c.id));
    }
    assert_eq!(got, want);
}

fn user(org: &Organisation, email: &str, role: switchboard_domain::Role) -> switchboard_domain::User {
    switchboard_domain::User {
        id: switchboard_domain::UserId::new(),
        org_id: org.id.clone(),
        email: email.into(),
        name: Some(format!("Name of {email}")),
        role,
        status: switchboard_domain::UserStatus::Active,
        preferences: json!({"timeZone": "Asia/Kolkata"}),
        created_at: at(0),
        updated_at: at(0),
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
    }
}

pub async fn users_and_logins(s: DynStore) {
    use switchboard_domain::{Role, UserStatus};
    let a = new_org(&s, "a").await;
    let b = new_org(&s, "b").await;
    let priya = s
        .create_user(user(&a, "priya@acme.example", Role::Admin), "hash-1".into())
        .await
        .unwrap();
    s.create_user(user(&a, "rahul@acme.example", Role::Agent), "hash-2".into())
        .await
        .unwrap();
    s.create_user(user(&b, "meena@other.example", Role::Viewer), "hash-3".into())
        .await
        .unwrap();
    // An e-mail is unique within an organisation only.
    assert!(matches!(
        s.create_user(user(&a, "priya@acme.example", Role::Agent), "x".into()).await,
        Err(StoreError::Conflict(_))
    ));
    let mut later = user(&b, "priya@acme.example", Role::Agent);
    later.created_at = at(10);
    later.updated_at = at(10);
    let priya_b = s.create_user(later, "hash-b".into()).await.unwrap();
    assert_eq!(s.get_user(&a.id, &priya.id).await.unwrap(), priya);
    assert!(matches!(s.get_user(&b.id, &priya.id).await, Err(StoreError::NotFound(_))));
    // Without an organisation, the e-mail's oldest account; with one, that organisation's.
    let (found, hash) = s.user_by_email("priya@acme.example", None).await.unwrap().unwrap();
    assert_eq!((found.id, hash.as_str()), (priya.id.clone(), "hash-1"));
    let (found, hash) = s.user_by_email("priya@acme.example", Some(&b.id)).await.unwrap().unwrap();
    assert_eq!((found.id, hash.as_str()), (priya_b.id.clone(), "hash-b"));
    assert!(s.user_by_email("rahul@acme.example", Some(&b.id)).await.unwrap().is_none());
    assert!(s.user_by_email("nobody@acme.example", None).await.unwrap().is_none());
    let mut changed = priya.clone();
    changed.role = Role::Manager;
    changed.failed_logins = 3;
    changed.locked_until = Some(at(900));
    changed.preferences = json!({"timeZone": "UTC"});
    s.update_user(changed.clone(), Some("hash-9".into())).await.unwrap();
    assert_eq!(s.get_user(&a.id, &priya.id).await.unwrap(), changed);
    assert_eq!(
        s.user_by_email("priya@acme.example", Some(&a.id)).await.unwrap().unwrap().1,
        "hash-9"
    );
    s.update_user(changed.clone(), None).await.unwrap();
    assert_eq!(s.user_by_email("priya@acme.example", None).await.unwrap().unwrap().1, "hash-9");
    let page = Page { page: 1, limit: 10 };
    let list = |f: crate::UserFilter| {
        let s = s.clone();
        let org = a.id.clone();
        async move { s.list_users(&org, &f, page).await.unwrap().1 }
    };
    assert_eq!(list(Default::default()).await, 2);
    assert_eq!(
        list(crate::UserFilter {
            role: Some(Role::Agent),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        list(crate::UserFilter {
            search: Some("RAHUL".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        list(crate::UserFilter {
            status: Some(UserStatus::Disabled),
            ..Default::default()
        })
        .await,
        0
    );
}

pub async fn refresh_tokens_rotate_and_detect_reuse(s: DynStore) {
    use crate::{RefreshToken, Spent};
    use switchboard_domain::id::SessionId;
    let org = new_org(&s, "a").await;
    let u = s
        .create_user(user(&org, "u@acme.example", switchboard_domain::Role::Agent), "h".into())
        .await
        .unwrap();
    let session = SessionId::new();
    let token = |hash: &str| RefreshToken {
        hash: hash.into(),
        session: session.clone(),
        user_id: u.id.clone(),
        org_id: org.id.clone(),
        created_at: at(0),
        expires_at: at(1000),
    };
    s.save_refresh_token(token("r1")).await.unwrap();
    assert_eq!(s.spend_refresh_token("r1", at(10)).await.unwrap(), Spent::Fresh(token("r1")));
    assert!(!s.session_revoked(&session).await.unwrap(), "rotation keeps the session");
    s.save_refresh_token(token("r2")).await.unwrap();
    // The old token comes back: the whole session dies, the new one too.
    assert_eq!(s.spend_refresh_token("r1", at(11)).await.unwrap(), Spent::Reused(session.clone()));
    assert_eq!(s.spend_refresh_token("r2", at(12)).await.unwrap(), Spent::Invalid);
    assert_eq!(s.spend_refresh_token("nope", at(12)).await.unwrap(), Spent::Invalid);
    assert!(s.session_revoked(&session).await.unwrap());
    // Expired and logged-out tokens are refused.
    let other = SessionId::new();
    let t = RefreshToken {
        hash: "r3".into(),
        session: other.clone(),
        user_id: u.id.clone(),
        org_id: org.id.clone(),
        created_at: at(0),
        expires_at: at(100),
    };
    s.save_refresh_token(t.clone()).await.unwrap();
    assert_eq!(s.spend_refresh_token("r3", at(100)).await.unwrap(), Spent::Invalid);
    let t4 = RefreshToken {
        hash: "r4".into(),
        expires_at: at(1000),
        ..t
    };
    s.save_refresh_token(t4).await.unwrap();
    assert!(!s.session_revoked(&other).await.unwrap());
    s.revoke_session(&other, at(50)).await.unwrap();
    assert!(s.session_revoked(&other).await.unwrap());
    assert!(!s.session_revoked(&SessionId::new()).await.unwrap());
    assert_eq!(s.spend_refresh_token("r4", at(60)).await.unwrap(), Spent::Invalid);
}

pub async fn audit_usage_and_secrets(s: DynStore) {
    use switchboard_domain::AuditEntry;
    use switchboard_domain::id::AuditId;
    let a = new_org(&s, "a").await;
    let b = new_org(&s, "b").await;
    for (i, action) in ["auth.login", "key.created", "export"].iter().enumerate() {
        let e = AuditEntry {
            id: AuditId::new(),
            org_id: a.id.clone(),
            actor: "usr_x".into(),
            action: (*action).into(),
            target: Some("t".into()),
            detail: Some(json!({"i": i})),
            ip: Some("127.0.0.1".into()),
            created_at: at(i as i64),
        };
        s.append_audit(e).await.unwrap();
    }
    let (entries, total) = s.list_audit(&a.id, Page { page: 1, limit: 2 }).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        entries.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["export", "key.created"]
    );
    assert_eq!(entries[0].detail, Some(json!({"i": 2})));
    assert_eq!(s.list_audit(&b.id, Page { page: 1, limit: 10 }).await.unwrap().1, 0);
    // Usage of an unlimited plan is counted from the calls created in the month.
    for i in 0..3 {
        s.create_call(call(&a, 40 * 86_400 + i), None).await.unwrap();
    }
    s.create_call(call(&a, 0), None).await.unwrap();
    let (from, to) = (at(40 * 86_400 - 10), at(41 * 86_400));
    assert_eq!(s.calls_in_month(&a.id, "2025-06", from, to).await.unwrap(), 3);
    assert_eq!(s.calls_in_month(&b.id, "2025-06", from, to).await.unwrap(), 0);
    // A server secret is stored once; later candidates get the first.
    assert_eq!(s.server_secret("jwt", "first".into()).await.unwrap(), "first");
    assert_eq!(s.server_secret("jwt", "second".into()).await.unwrap(), "first");
}

pub async fn quota_exact_under_concurrency(s: DynStore) {
    let mut org = new_org(&s, "standard").await;
    org.plan = "standard".into();
    let org = s.update_org(org).await.unwrap();
    let now = switchboard_domain::now();
    let fresh = |org: &Organisation| {
        let mut c = call(org, 0);
        c.created_at = now;
        c.updated_at = now;
        c
    };
    for _ in 0..80 {
        s.create_call(fresh(&org), None).await.unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (s, c) = (s.clone(), fresh(&org));
        tasks.push(tokio::spawn(async move { s.create_call(c, None).await }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::QuotaExceeded { limit: 100, used: 100 }) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((ok, refused), (20, 30));
    assert_eq!(
        s.list_calls(&org.id, &CallFilter::default(), Page { page: 1, limit: 1 })
            .await
            .unwrap()
            .1,
        100
    );
    let (from, to) = switchboard_domain::org::month_bounds(org.time_zone, now);
    assert_eq!(s.calls_in_month(&org.id, &org.month_of(now), from, to).await.unwrap(), 100);
    // Carrier reports that would create a call are refused too, and leave nothing.
    let mut c = fresh(&org);
    c.external_id = Some("CA-over".into());
    let r = s
        .report_call(
            &org.id,
            CallTarget::External {
                external_id: "CA-over".into(),
                create: Box::new(c),
            },
            report(CallStatus::Ringing, 1),
            None,
        )
        .await;
    assert!(matches!(r, Err(StoreError::QuotaExceeded { .. })), "{r:?}");
    assert!(s.call_by_external_id(&org.id, "CA-over").await.unwrap().is_none());
}
