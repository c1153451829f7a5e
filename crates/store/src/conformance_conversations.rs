//! Conformance checks of the conversation store: single calls waiting to
//! be dialled and the dialer's claims on them (do-not-call, calling window,
//! schedule, rate cap, exactly-once claims, calls never placed), transcript
//! segments and conversation state. Run on both backends with the rest.

use chrono::{Duration, TimeZone as _, Utc};
use serde_json::json;
use switchboard_domain::call::CallReport;
use switchboard_domain::campaign::DncEntry;
use switchboard_domain::transcript::{Segment, Speaker};
use switchboard_domain::{Call, CallId, CallStatus, Direction, Organisation, Timestamp};

use crate::conformance_campaigns::Check;
use crate::{CallTarget, DialParams, DialRequest, DynStore};

pub const CONVERSATION_CHECKS: &[(&str, Check)] = &[
    ("single_calls_are_claimed_once", |s| Box::pin(single_calls_are_claimed_once(s))),
    ("single_calls_follow_the_rules", |s| Box::pin(single_calls_follow_the_rules(s))),
    ("single_calls_rate_cap_and_stale_claims", |s| {
        Box::pin(single_calls_rate_cap_and_stale_claims(s))
    }),
    ("transcript_segments_and_state", |s| Box::pin(transcript_segments_and_state(s))),
];

/// Wednesday 2025-05-21 14:00 UTC: 10:00 in New York.
fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 5, 21, 14, 0, 0).unwrap()
}

async fn org(s: &DynStore, slug: &str) -> Organisation {
    s.create_org(Organisation::new(slug, slug, t0())).await.unwrap()
}

fn params(now: Timestamp, prefix: Option<&str>) -> DialParams {
    DialParams {
        now,
        org_calls_per_second: 100,
        batch: 100,
        external_prefix: prefix.map(str::to_owned),
        stale_queued_secs: 120,
    }
}

/// A call to place to `phone` in `zone`, due at `due` (scheduled when later than now).
async fn request(s: &DynStore, o: &Organisation, phone: &str, zone: &str, due: Timestamp, scheduled: bool) -> CallId {
    let status = if scheduled { CallStatus::Scheduled } else { CallStatus::Queued };
    let mut call = Call::new(o.id.clone(), Direction::Outbound, status, switchboard_domain::now());
    call.to = Some(phone.into());
    call.customer_phone = Some(phone.into());
    call.scheduled_at = scheduled.then_some(due);
    let req = DialRequest {
        call_id: call.id.clone(),
        org_id: o.id.clone(),
        phone: phone.into(),
        zone: zone.into(),
        due_at: due,
        override_window: false,
        claimed: false,
        options: Some(json!({"simulation": {"persona": "interested"}})),
        immediate: false,
    };
    s.create_dial_call(call, req, None).await.unwrap().id
}

pub async fn single_calls_are_claimed_once(s: DynStore) {
    let o = org(&s, "single-once").await;
    let id = request(&s, &o, "+15550100001", "America/New_York", t0(), false).await;
    let live = s.call_facts(std::slice::from_ref(&id)).await.unwrap();
    assert_eq!(live.len(), 1);
    assert!(s.orgs_with_due_calls(t0()).await.unwrap().contains(&o.id));
    let out = s.dial_calls(&o.id, params(t0(), Some("SIM")), None).await.unwrap();
    assert_eq!(out.placed.len(), 1, "{out:?}");
    let placed = &out.placed[0];
    assert_eq!(placed.call.id, id);
    assert_eq!(placed.zone, "America/New_York");
    assert_eq!(placed.options, Some(json!({"simulation": {"persona": "interested"}})));
    let ext = placed.call.external_id.clone().unwrap();
    assert!(ext.starts_with("SIM"), "{ext}");
    let req = s.dial_request(&o.id, &id).await.unwrap().unwrap();
    assert!(req.claimed);
    // Claimed calls are never claimed again; carriers find them to resume.
    let again = s
        .dial_calls(&o.id, params(t0() + Duration::seconds(5), Some("SIM")), None)
        .await
        .unwrap();
    assert!(again.placed.is_empty(), "{again:?}");
    let resumable = s.live_campaign_calls().await.unwrap();
    assert!(
        resumable
            .iter()
            .any(|l| l.call_id == id && l.to == "+15550100001" && l.created_at == t0()),
        "{resumable:?}"
    );
    // Once final, the claim is forgotten.
    let done = CallReport {
        status: Some(CallStatus::Completed),
        ..Default::default()
    };
    s.report_call(&o.id, CallTarget::Id(id.clone()), done, None).await.unwrap();
    s.dial_calls(&o.id, params(t0() + Duration::seconds(9), Some("SIM")), None)
        .await
        .unwrap();
    assert!(s.dial_request(&o.id, &id).await.unwrap().is_none());
    // Another organisation sees none of it.
    let other = org(&s, "single-other").await;
    assert!(s.dial_request(&other.id, &id).await.unwrap().is_none());
    assert!(s.dial_calls(&other.id, params(t0(), None), None).await.unwrap().placed.is_empty());
}

pub async fn single_calls_follow_the_rules(s: DynStore) {
    let o = org(&s, "single-rules").await;
    s.add_dnc(
        &o.id,
        vec![DncEntry {
            phone: "+15550100009".into(),
            reason: Some("asked".into()),
            created_at: t0(),
        }],
    )
    .await
    .unwrap();
    let blocked = request(&s, &o, "+15550100009", "America/New_York", t0(), false).await;
    // 03:30 in Kolkata at t0 + 8 h: outside the window.
    let night = request(&s, &o, "+919876543210", "Asia/Kolkata", t0() + Duration::hours(8), false).await;
    let later = request(&s, &o, "+15550100002", "America/New_York", t0() + Duration::hours(1), true).await;
    let cancelled = request(&s, &o, "+15550100003", "America/New_York", t0(), false).await;
    s.cancel_call(&o.id, &cancelled, None).await.unwrap();

    let out = s.dial_calls(&o.id, params(t0(), None), None).await.unwrap();
    assert!(out.placed.is_empty(), "{out:?}");
    assert_eq!(out.blocked, 1);
    let b = s.get_call(&o.id, &blocked).await.unwrap();
    assert_eq!((b.status, b.outcome.as_deref()), (CallStatus::Failed, Some("dnc")));
    assert!(s.dial_request(&o.id, &cancelled).await.unwrap().is_none());

    // The night call waits for 08:00 Kolkata (02:30 UTC next day).
    let at_night = t0() + Duration::hours(8);
    let out = s.dial_calls(&o.id, params(at_night, None), None).await.unwrap();
    assert_eq!(out.deferred, 1, "{out:?}");
    // The scheduled one was due at 15:00 UTC and placed in this pass.
    assert_eq!(
        out.placed.iter().map(|p| p.call.id.clone()).collect::<Vec<_>>(),
        vec![later.clone()]
    );
    assert_eq!(
        out.placed[0].call.status,
        CallStatus::Queued,
        "scheduled calls are queued when claimed"
    );
    let waiting = s.dial_request(&o.id, &night).await.unwrap().unwrap();
    let opens = Utc.with_ymd_and_hms(2025, 5, 22, 2, 30, 0).unwrap();
    assert_eq!(waiting.due_at, opens);
    assert!(!waiting.claimed);
    let out = s.dial_calls(&o.id, params(opens, None), None).await.unwrap();
    assert_eq!(out.placed.len(), 1);
    assert_eq!(out.placed[0].call.id, night);
}

pub async fn single_calls_rate_cap_and_stale_claims(s: DynStore) {
    let o = org(&s, "single-rate").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(request(&s, &o, &format!("+1555010100{i}"), "America/New_York", t0(), false).await);
    }
    let mut p = params(t0(), None);
    p.org_calls_per_second = 2;
    let first = s.dial_calls(&o.id, p.clone(), None).await.unwrap();
    assert_eq!(first.placed.len(), 2);
    assert_eq!(first.held, 3);
    // The same second: nothing more.
    let same = s.dial_calls(&o.id, p.clone(), None).await.unwrap();
    assert!(same.placed.is_empty());
    // `only` claims just the calls named.
    p.now = t0() + Duration::seconds(1);
    let only = s.dial_calls(&o.id, p.clone(), Some(vec![ids[4].clone()])).await.unwrap();
    assert_eq!(
        only.placed.iter().map(|x| x.call.id.clone()).collect::<Vec<_>>(),
        vec![ids[4].clone()]
    );
    // Claimed calls never given a carrier id are failed after the stale time.
    p.now = t0() + Duration::seconds(200);
    let later = s.dial_calls(&o.id, p, None).await.unwrap();
    assert_eq!(later.stale, 3, "{later:?}");
    let c = s.get_call(&o.id, &first.placed[0].call.id).await.unwrap();
    assert_eq!((c.status, c.outcome.as_deref()), (CallStatus::Failed, Some("not_placed")));
}

pub async fn transcript_segments_and_state(s: DynStore) {
    let o = org(&s, "transcripts").await;
    let mut call = Call::new(o.id.clone(), Direction::Inbound, CallStatus::Queued, t0());
    call.transcript = Some("Agent: Hello, Acme here.\nCaller: Hi, I want to pay my bill.".into());
    let call = s.create_call(call, None).await.unwrap();
    let segs = s.transcript(&o.id, &call.id).await.unwrap();
    assert_eq!(
        segs.iter().map(|x| (x.speaker, x.text.as_str())).collect::<Vec<_>>(),
        vec![
            (Speaker::Agent, "Hello, Acme here."),
            (Speaker::Customer, "Hi, I want to pay my bill.")
        ]
    );
    // Live segments are appended; a new text replaces them all.
    let live = CallReport {
        segments: vec![Segment {
            confidence: Some(0.8),
            ..Segment::new(Speaker::Customer, "By card please", 5_000, 6_200)
        }],
        conversation: Some(json!({"step": 2, "waiting": "answer"})),
        ..Default::default()
    };
    let out = s.report_call(&o.id, CallTarget::Id(call.id.clone()), live, None).await.unwrap();
    assert!(out.changed);
    let segs = s.transcript(&o.id, &call.id).await.unwrap();
    assert_eq!(segs.len(), 3);
    assert_eq!(segs[2].text, "By card please");
    assert_eq!((segs[2].start_ms, segs[2].end_ms, segs[2].confidence), (5_000, 6_200, Some(0.8)));
    assert_eq!(
        s.conversation(&o.id, &call.id).await.unwrap(),
        Some(json!({"step": 2, "waiting": "answer"}))
    );
    let events = s.org_events_after(&o.id, 0, 1000).await.unwrap();
    let updates: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e.event_type == "transcript.updated")
        .map(|e| &e.data)
        .collect();
    assert_eq!(updates.len(), 3);
    assert_eq!(updates[2]["seq"], 3);
    assert_eq!(updates[2]["segment"]["text"], "By card please");
    let replace = CallReport {
        transcript: Some("Customer: one line".into()),
        ..Default::default()
    };
    s.report_call(&o.id, CallTarget::Id(call.id.clone()), replace, None).await.unwrap();
    assert_eq!(s.transcript(&o.id, &call.id).await.unwrap().len(), 1);
    // Other organisations cannot read it; deleting the call removes it.
    let other = org(&s, "transcripts-other").await;
    assert!(s.transcript(&other.id, &call.id).await.is_err());
    assert_eq!(s.conversation(&other.id, &call.id).await.unwrap(), None);
    s.delete_call(&o.id, &call.id).await.unwrap();
    assert!(s.transcript(&o.id, &call.id).await.is_err());
    assert_eq!(s.conversation(&o.id, &call.id).await.unwrap(), None);
}
