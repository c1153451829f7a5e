//! Conformance checks of the analysis store: claims (one winner among
//! concurrent claimers, a transcript analysed once, forced re-runs, expired
//! leases), finishing with exactly one `analysis.complete`, deletion with
//! the call, the cursor, settings and intents. Run on both backends.

use chrono::{Duration, TimeZone as _, Utc};
use serde_json::json;
use switchboard_domain::{Call, CallId, CallStatus, Direction, OrgId, Organisation, Timestamp};

use crate::analysis::{ANALYSIS_COMPLETE, AnalysisClaim, Claimed, IntentRecord};
use crate::conformance_campaigns::Check;
use crate::{DynStore, StoreError};

pub const ANALYSIS_CHECKS: &[(&str, Check)] = &[
    ("analysis_claims_and_results", |s| Box::pin(analysis_claims_and_results(s))),
    ("analysis_claimed_once_under_contention", |s| {
        Box::pin(analysis_claimed_once_under_contention(s))
    }),
    ("analysis_cursor_settings_and_intents", |s| {
        Box::pin(analysis_cursor_settings_and_intents(s))
    }),
];

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 5, 21, 14, 0, 0).unwrap()
}

async fn org_and_call(s: &DynStore, slug: &str) -> (Organisation, CallId) {
    let o = s.create_org(Organisation::new(slug, slug, t0())).await.unwrap();
    let call = Call::new(o.id.clone(), Direction::Outbound, CallStatus::Completed, t0());
    let call = s.create_call(call, None).await.unwrap();
    (o, call.id)
}

fn claim(org: &OrgId, call: &CallId, fp: &str, owner: &str, now: Timestamp, force: bool) -> AnalysisClaim {
    AnalysisClaim {
        org: org.clone(),
        call: call.clone(),
        fingerprint: fp.into(),
        force,
        owner: owner.into(),
        now,
        lease: Duration::seconds(60),
    }
}

async fn completes(s: &DynStore, org: &OrgId) -> usize {
    s.org_events_after(org, 0, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event_type == ANALYSIS_COMPLETE)
        .count()
}

async fn analysis_claims_and_results(s: DynStore) {
    let (o, call) = org_and_call(&s, "an-claims").await;
    let (other, _) = org_and_call(&s, "an-other").await;
    let now = t0();
    // Not another organisation's call.
    let err = s.claim_analysis(claim(&other.id, &call, "f1", "w1", now, false)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound("call")), "{err:?}");
    assert!(s.get_analysis(&o.id, &call).await.unwrap().is_none());

    assert_eq!(
        s.claim_analysis(claim(&o.id, &call, "f1", "w1", now, false)).await.unwrap(),
        Claimed::Claimed
    );
    // Running, no result yet.
    let running = s.get_analysis(&o.id, &call).await.unwrap().unwrap();
    assert!(running.running);
    assert!(running.result.is_none());
    // Another worker for the same transcript: already being done.
    assert_eq!(
        s.claim_analysis(claim(&o.id, &call, "f1", "w2", now, false)).await.unwrap(),
        Claimed::Done
    );
    // A forced run or a new transcript while the lease lives: busy.
    assert_eq!(
        s.claim_analysis(claim(&o.id, &call, "f1", "w2", now, true)).await.unwrap(),
        Claimed::Busy
    );
    assert_eq!(
        s.claim_analysis(claim(&o.id, &call, "f2", "w2", now, false)).await.unwrap(),
        Claimed::Busy
    );
    // Only the holder finishes; the other organisation cannot.
    let result = json!({"status": "completed", "engine": "builtin"});
    let event = json!({"callId": call, "status": "completed"});
    assert!(
        !s.finish_analysis(&o.id, &call, "w2", "completed", result.clone(), event.clone(), now)
            .await
            .unwrap()
    );
    assert!(
        !s.finish_analysis(&other.id, &call, "w1", "completed", result.clone(), event.clone(), now)
            .await
            .unwrap()
    );
    assert_eq!(completes(&s, &o.id).await, 0);
    assert!(
        s.finish_analysis(&o.id, &call, "w1", "completed", result.clone(), event.clone(), now)
            .await
            .unwrap()
    );
    // Finishing twice writes nothing more.
    assert!(
        !s.finish_analysis(&o.id, &call, "w1", "completed", result.clone(), event.clone(), now)
            .await
            .unwrap()
    );
    assert_eq!(completes(&s, &o.id).await, 1);
    let done = s.get_analysis(&o.id, &call).await.unwrap().unwrap();
    assert!(!done.running);
    assert_eq!(done.result, Some(result.clone()));
    assert_eq!(done.analysed_at, Some(now));
    assert!(s.get_analysis(&other.id, &call).await.unwrap().is_none());
    let ev = s.org_events_after(&o.id, 0, 100).await.unwrap();
    let ev = ev.iter().find(|e| e.event_type == ANALYSIS_COMPLETE).unwrap();
    assert_eq!(ev.data, event);

    // The same transcript again: done; a new one or a forced run: claimed.
    assert_eq!(
        s.claim_analysis(claim(&o.id, &call, "f1", "w2", now, false)).await.unwrap(),
        Claimed::Done
    );
    assert_eq!(
        s.claim_analysis(claim(&o.id, &call, "f1", "w2", now, true)).await.unwrap(),
        Claimed::Claimed
    );
    // The earlier result stays readable while the re-run runs.
    let rerun = s.get_analysis(&o.id, &call).await.unwrap().unwrap();
    assert!(rerun.running);
    assert_eq!(rerun.result, Some(result));

    // w2 dies: after its lease nobody holds it, the sweep finds it, and a
    // new claim takes it over (the dead worker can no longer finish).
    assert!(s.expired_analyses(now + Duration::seconds(30), 10).await.unwrap().is_empty());
    let later = now + Duration::seconds(61);
    assert_eq!(s.expired_analyses(later, 10).await.unwrap(), vec![(o.id.clone(), call.clone())]);
    assert_eq!(
        s.claim_analysis(claim(&o.id, &call, "f1", "w3", later, false)).await.unwrap(),
        Claimed::Claimed
    );
    assert!(
        !s.finish_analysis(&o.id, &call, "w2", "failed", json!({}), json!({}), later)
            .await
            .unwrap()
    );
    assert!(
        s.finish_analysis(&o.id, &call, "w3", "skipped", json!({"status": "skipped"}), json!({}), later)
            .await
            .unwrap()
    );
    assert_eq!(completes(&s, &o.id).await, 2);

    // Deleted with its call.
    s.delete_call(&o.id, &call).await.unwrap();
    assert!(s.get_analysis(&o.id, &call).await.unwrap().is_none());
    assert!(
        !s.finish_analysis(&o.id, &call, "w3", "completed", json!({}), json!({}), later)
            .await
            .unwrap()
    );
}

async fn analysis_claimed_once_under_contention(s: DynStore) {
    let (o, call) = org_and_call(&s, "an-race").await;
    let now = t0();
    let claims: Vec<_> = (0..8)
        .map(|i| {
            let (s, o, call) = (s.clone(), o.id.clone(), call.clone());
            tokio::spawn(async move {
                s.claim_analysis(claim(&o, &call, "fp", &format!("w{i}"), now, false))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for c in claims {
        match c.await.unwrap() {
            Claimed::Claimed => won += 1,
            Claimed::Done => {}
            Claimed::Busy => panic!("the same transcript is never busy"),
        }
    }
    assert_eq!(won, 1, "exactly one claimer analyses the call");
}

async fn analysis_cursor_settings_and_intents(s: DynStore) {
    assert_eq!(s.analysis_cursor().await.unwrap(), None);
    s.save_analysis_cursor(5).await.unwrap();
    assert_eq!(s.analysis_cursor().await.unwrap(), Some(5));
    s.save_analysis_cursor(3).await.unwrap();
    assert_eq!(s.analysis_cursor().await.unwrap(), Some(5), "the cursor never moves back");
    s.save_analysis_cursor(9).await.unwrap();
    assert_eq!(s.analysis_cursor().await.unwrap(), Some(9));

    let (o, _) = org_and_call(&s, "an-settings").await;
    let (p, _) = org_and_call(&s, "an-settings-2").await;
    assert_eq!(s.intelligence_settings(&o.id).await.unwrap(), None);
    let settings = json!({"redactPii": true, "disclosurePhrases": ["this call is recorded"]});
    s.save_intelligence_settings(&o.id, settings.clone(), t0()).await.unwrap();
    assert_eq!(s.intelligence_settings(&o.id).await.unwrap(), Some(settings));
    assert_eq!(s.intelligence_settings(&p.id).await.unwrap(), None);
    s.save_intelligence_settings(&o.id, json!({"redactPii": false}), t0())
        .await
        .unwrap();
    assert_eq!(s.intelligence_settings(&o.id).await.unwrap(), Some(json!({"redactPii": false})));

    let intent = |id: &str, org: &OrgId, name: &str| IntentRecord {
        id: id.into(),
        org_id: org.clone(),
        name: name.into(),
        examples: vec!["I want to upgrade".into(), "move me to premium".into()],
        created_at: t0(),
        updated_at: t0(),
    };
    let a = s.create_intent(intent("int_a", &o.id, "upgrade")).await.unwrap();
    assert_eq!(a, intent("int_a", &o.id, "upgrade"));
    let err = s.create_intent(intent("int_b", &o.id, "upgrade")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // Another organisation may use the name.
    s.create_intent(intent("int_c", &p.id, "upgrade")).await.unwrap();
    s.create_intent(intent("int_d", &o.id, "appointment")).await.unwrap();
    let names: Vec<String> = s.list_intents(&o.id).await.unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(names, ["appointment", "upgrade"]);
    assert_eq!(s.get_intent(&o.id, "int_a").await.unwrap(), a);
    assert!(matches!(
        s.get_intent(&p.id, "int_a").await.unwrap_err(),
        StoreError::NotFound("intent")
    ));

    let mut changed = intent("int_a", &o.id, "upsell");
    changed.examples = vec!["premium please".into()];
    changed.updated_at = t0() + Duration::seconds(5);
    changed.created_at = t0() + Duration::days(1);
    let saved = s.update_intent(changed.clone()).await.unwrap();
    assert_eq!(saved.created_at, t0(), "creation time stays");
    assert_eq!(s.get_intent(&o.id, "int_a").await.unwrap(), saved);
    assert_eq!(saved.examples, ["premium please"]);
    let mut clash = changed.clone();
    clash.name = "appointment".into();
    assert!(matches!(s.update_intent(clash).await.unwrap_err(), StoreError::Conflict(_)));
    let mut foreign = changed.clone();
    foreign.org_id = p.id.clone();
    assert!(matches!(
        s.update_intent(foreign).await.unwrap_err(),
        StoreError::NotFound("intent")
    ));

    assert!(matches!(
        s.delete_intent(&p.id, "int_a").await.unwrap_err(),
        StoreError::NotFound("intent")
    ));
    s.delete_intent(&o.id, "int_a").await.unwrap();
    assert!(matches!(
        s.get_intent(&o.id, "int_a").await.unwrap_err(),
        StoreError::NotFound("intent")
    ));
    assert_eq!(s.list_intents(&o.id).await.unwrap().len(), 1);
}
