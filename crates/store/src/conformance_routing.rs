//! Conformance checks of the router's store: offers by skill, proficiency
//! and idle time, an offer not taken moving on (agent → `missed`),
//! accepting, abandoned calls counted, the queue's figures, and two routers
//! at once never offering one call twice nor two calls to a single-line
//! agent. Run on both backends with the rest (concurrently on PostgreSQL).

use std::collections::HashSet;

use chrono::{Duration, TimeZone as _, Utc};
use serde_json::json;
use switchboard_domain::agents::{AgentPatch, AgentStatus, Skills};
use switchboard_domain::call::CallReport;
use switchboard_domain::id::QueueId;
use switchboard_domain::queues::Queue;
use switchboard_domain::{Call, CallId, CallStatus, Direction, Organisation, Role, Timestamp, User, UserId, UserStatus};

use crate::conformance_campaigns::Check;
use crate::routing::WaitState;
use crate::{CallTarget, DynStore, StoreError};

pub const ROUTING_CHECKS: &[(&str, Check)] = &[
    ("routing_offers_accepts_and_misses", |s| {
        Box::pin(routing_offers_accepts_and_misses(s))
    }),
    ("routing_abandoned_calls_and_figures", |s| {
        Box::pin(routing_abandoned_calls_and_figures(s))
    }),
    ("routing_two_routers_at_once", |s| Box::pin(routing_two_routers_at_once(s))),
    ("routing_overflow_after_max_wait_and_out_of_hours", |s| {
        Box::pin(routing_overflow_after_max_wait_and_out_of_hours(s))
    }),
];

fn t(secs: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2025, 5, 21, 14, 0, 0).unwrap() + Duration::seconds(secs)
}

async fn org(s: &DynStore, slug: &str) -> Organisation {
    s.create_org(Organisation::new(slug, slug, t(0))).await.unwrap()
}

/// An available agent with `skills`, available since `since`, on `lines` lines.
async fn agent(s: &DynStore, o: &Organisation, email: &str, skills: &[(&str, u8)], since: Timestamp, lines: u32) -> UserId {
    let u = User {
        id: UserId::new(),
        org_id: o.id.clone(),
        email: email.into(),
        name: None,
        role: Role::Agent,
        status: UserStatus::Active,
        preferences: json!({}),
        created_at: t(-3600),
        updated_at: t(-3600),
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
    };
    let id = s.create_user(u, "hash".into()).await.unwrap().id;
    let patch = AgentPatch {
        skills: Some(skills.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()),
        max_concurrent_calls: Some(lines),
        ..Default::default()
    };
    s.update_agent(&o.id, &id, patch, since).await.unwrap();
    s.set_agent_status(&o.id, &id, AgentStatus::Available, None, since).await.unwrap();
    id
}

async fn queue(s: &DynStore, o: &Organisation, name: &str, skills: &[(&str, u8)], priority: u8) -> QueueId {
    let q = Queue {
        id: QueueId::new(),
        org_id: o.id.clone(),
        name: name.into(),
        department_id: None,
        skills: skills.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect::<Skills>(),
        priority,
        max_wait_secs: 300,
        hours: None,
        overflow: None,
        created_at: t(0),
        updated_at: t(0),
    };
    s.create_queue(q).await.unwrap().id
}

/// An inbound call put in `queue` at `at`.
async fn waiting_call(s: &DynStore, o: &Organisation, queue: &QueueId, at: Timestamp) -> CallId {
    let mut call = Call::new(o.id.clone(), Direction::Inbound, CallStatus::InProgress, at);
    call.from = Some("+15551234567".into());
    let call = s.create_call(call, None).await.unwrap();
    s.enqueue_call(&o.id, &call.id, queue, at).await.unwrap();
    call.id
}

async fn hang_up(s: &DynStore, o: &Organisation, call: &CallId, at: Timestamp) {
    let report = CallReport {
        status: Some(CallStatus::Completed),
        at: Some(at),
        ..Default::default()
    };
    s.report_call(&o.id, CallTarget::Id(call.clone()), report, None).await.unwrap();
}

async fn routing_offers_accepts_and_misses(s: DynStore) {
    let o = org(&s, "routing-a").await;
    let billing = queue(&s, &o, "Billing", &[("billing", 2)], 50).await;
    let vip = queue(&s, &o, "VIP", &[], 90).await;
    // Ana: billing 5, idle since t(-60); Ben: billing 5, idle longer; Cy: billing 1 (below the minimum).
    let ana = agent(&s, &o, "ana@r.example", &[("billing", 5)], t(-60), 1).await;
    let ben = agent(&s, &o, "ben@r.example", &[("billing", 5)], t(-600), 1).await;
    let cy = agent(&s, &o, "cy@r.example", &[("billing", 1)], t(-6000), 1).await;

    // The VIP call (higher priority) is offered first, to the longest idle
    // of all (Cy: the queue requires nothing); the billing call to Ben
    // (same proficiency as Ana, idle longer).
    let c1 = waiting_call(&s, &o, &billing, t(0)).await;
    let c2 = waiting_call(&s, &o, &vip, t(1)).await;
    let pass = s.route_calls(&o.id, t(2), 20).await.unwrap();
    assert_eq!(pass.offered, vec![(c2.clone(), cy.clone()), (c1.clone(), ben.clone())]);
    let q1 = s.queued_call(&o.id, &c1).await.unwrap().unwrap();
    assert_eq!((q1.state, q1.agent_id.as_ref()), (WaitState::Offered, Some(&ben)));
    // Offered calls are not offered again; nothing left to do.
    let again = s.route_calls(&o.id, t(3), 20).await.unwrap();
    assert!(again.offered.is_empty(), "{again:?}");
    // Cy takes the VIP call; Ben lets his offer run out.
    assert_eq!(s.accept_offer(&o.id, &cy, &c2, t(5)).await.unwrap().status, AgentStatus::OnCall);

    // Ben does not answer in 20 s: he is missed, the call goes to Ana.
    let pass = s.route_calls(&o.id, t(22), 20).await.unwrap();
    assert_eq!(pass.missed, vec![(c1.clone(), ben.clone())]);
    assert_eq!(pass.offered, vec![(c1.clone(), ana.clone())]);
    assert_eq!(s.get_agent(&o.id, &ben).await.unwrap().status, AgentStatus::Missed);
    assert_eq!(s.queued_call(&o.id, &c1).await.unwrap().unwrap().missed, 1);
    // Only the agent offered can accept, once.
    assert!(matches!(
        s.accept_offer(&o.id, &ben, &c1, t(23)).await,
        Err(StoreError::Conflict(_))
    ));
    let a = s.accept_offer(&o.id, &ana, &c1, t(23)).await.unwrap();
    assert_eq!(a.status, AgentStatus::OnCall);
    assert!(matches!(
        s.accept_offer(&o.id, &ana, &c1, t(24)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.queued_call(&o.id, &c1).await.unwrap().unwrap().state, WaitState::Connected);
    let events: Vec<String> = s
        .org_events_after(&o.id, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "agent.offered" || e.event_type == "agent.status_changed")
        .map(|e| {
            format!(
                "{} {} {}",
                e.event_type,
                e.data["agentId"].as_str().unwrap(),
                e.data["status"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(events.contains(&format!("agent.status_changed {ben} missed")), "{events:?}");
    assert!(events.contains(&format!("agent.status_changed {ana} on_call")), "{events:?}");
    assert_eq!(events.iter().filter(|e| e.starts_with("agent.offered")).count(), 3, "{events:?}");

    // The call ends: the line is free again, the call done, not abandoned.
    hang_up(&s, &o, &c1, t(200)).await;
    let pass = s.route_calls(&o.id, t(201), 20).await.unwrap();
    assert!(pass.abandoned.is_empty());
    assert_eq!(s.queued_call(&o.id, &c1).await.unwrap().unwrap().state, WaitState::Done);
    assert_eq!(s.get_agent(&o.id, &ana).await.unwrap().active_calls, 0);
    let figures = s.queue_figures(&o.id, &billing, t(202)).await.unwrap();
    assert_eq!(figures.mean_handle_secs.map(|h| h.round() as i64), Some(178));
}

async fn routing_abandoned_calls_and_figures(s: DynStore) {
    let o = org(&s, "routing-b").await;
    let q = queue(&s, &o, "Sales", &[("sales", 1)], 50).await;
    let c1 = waiting_call(&s, &o, &q, t(0)).await;
    let c2 = waiting_call(&s, &o, &q, t(5)).await;
    // Nobody staffed: nothing offered.
    let pass = s.route_calls(&o.id, t(6), 20).await.unwrap();
    assert!(pass.offered.is_empty());
    let f = s.queue_figures(&o.id, &q, t(6)).await.unwrap();
    assert_eq!((f.waiting, f.arrivals_last_hour, f.staffed, f.abandoned), (2, 2, 0, 0));
    assert_eq!(f.oldest_wait_since, Some(t(0)));
    // The first caller hangs up while waiting: abandoned, counted.
    hang_up(&s, &o, &c1, t(30)).await;
    let pass = s.route_calls(&o.id, t(31), 20).await.unwrap();
    assert_eq!(pass.abandoned, vec![c1.clone()]);
    assert_eq!(s.queued_call(&o.id, &c1).await.unwrap().unwrap().state, WaitState::Abandoned);
    // An agent without the skill does not count as staffed; one with it does.
    agent(&s, &o, "nosales@r.example", &[("billing", 5)], t(0), 1).await;
    let seller = agent(&s, &o, "seller@r.example", &[("sales", 3)], t(0), 1).await;
    let f = s.queue_figures(&o.id, &q, t(40)).await.unwrap();
    assert_eq!((f.waiting, f.staffed, f.abandoned, f.oldest_wait_since), (1, 1, 1, Some(t(5))));
    // Offered, then the caller hangs up: abandoned too, the agent's line freed.
    let pass = s.route_calls(&o.id, t(41), 20).await.unwrap();
    assert_eq!(pass.offered, vec![(c2.clone(), seller.clone())]);
    assert_eq!(s.get_agent(&o.id, &seller).await.unwrap().active_calls, 1);
    hang_up(&s, &o, &c2, t(45)).await;
    let pass = s.route_calls(&o.id, t(46), 20).await.unwrap();
    assert_eq!(pass.abandoned, vec![c2.clone()]);
    assert_eq!(s.get_agent(&o.id, &seller).await.unwrap().active_calls, 0);
    assert_eq!(s.queue_figures(&o.id, &q, t(47)).await.unwrap().abandoned, 2);
    // A call cannot be queued twice, nor in an unknown queue.
    let c3 = waiting_call(&s, &o, &q, t(50)).await;
    assert!(matches!(s.enqueue_call(&o.id, &c3, &q, t(51)).await, Err(StoreError::Conflict(_))));
    assert!(matches!(
        s.enqueue_call(&o.id, &c3, &QueueId::new(), t(51)).await,
        Err(StoreError::NotFound("queue"))
    ));
}

/// Two routers pass over one organisation at once, many times: every call
/// is offered to at most one agent, and no single-line agent holds two.
async fn routing_two_routers_at_once(s: DynStore) {
    let o = org(&s, "routing-race").await;
    let q = queue(&s, &o, "Race", &[], 50).await;
    let mut agents = Vec::new();
    for i in 0..6 {
        agents.push(agent(&s, &o, &format!("a{i}@race.example"), &[], t(-i), 1).await);
    }
    let two_lines = agent(&s, &o, "two@race.example", &[], t(-100), 2).await;
    let mut calls = Vec::new();
    for i in 0..20 {
        calls.push(waiting_call(&s, &o, &q, t(i)).await);
    }
    let a = tokio::spawn({
        let (s, org) = (s.clone(), o.id.clone());
        async move { s.route_calls(&org, t(30), 20).await }
    });
    let b = tokio::spawn({
        let (s, org) = (s.clone(), o.id.clone());
        async move { s.route_calls(&org, t(30), 20).await }
    });
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    let offered: Vec<_> = a.offered.iter().chain(&b.offered).cloned().collect();
    // 6 single lines + 2 lines = 8 offers, each call once.
    assert_eq!(offered.len(), 8, "{offered:?}");
    let distinct: HashSet<&CallId> = offered.iter().map(|(c, _)| c).collect();
    assert_eq!(distinct.len(), 8, "a call was offered twice: {offered:?}");
    for id in &agents {
        let n = offered.iter().filter(|(_, a)| a == id).count();
        assert_eq!(n, 1, "{id} got {n} offers");
        assert_eq!(s.get_agent(&o.id, id).await.unwrap().active_calls, 1);
    }
    assert_eq!(offered.iter().filter(|(_, a)| *a == two_lines).count(), 2);
    // The stored state agrees: 8 offered, 12 waiting.
    let mut states = Vec::new();
    for c in &calls {
        states.push(s.queued_call(&o.id, c).await.unwrap().unwrap().state);
    }
    assert_eq!(states.iter().filter(|s| **s == WaitState::Offered).count(), 8);
    assert_eq!(states.iter().filter(|s| **s == WaitState::Waiting).count(), 12);
}

/// Waiting calls past the longest wait, or in a closed queue, move to the
/// queue it overflows into and wait there from then on.
async fn routing_overflow_after_max_wait_and_out_of_hours(s: DynStore) {
    use switchboard_domain::queues::{BusinessHours, Overflow};
    let o = org(&s, "routing-overflow").await;
    let backup = queue(&s, &o, "Backup", &[], 30).await;
    let mut q = s
        .get_queue(&o.id, &queue(&s, &o, "Front", &[("nobody", 5)], 60).await)
        .await
        .unwrap();
    q.max_wait_secs = 60;
    q.overflow = Some(Overflow::Queue(backup.clone()));
    let front = s.update_queue(q).await.unwrap().id;
    // Open only on Mondays; t(0) is a Wednesday.
    let mut q = s.get_queue(&o.id, &queue(&s, &o, "Mondays", &[], 60).await).await.unwrap();
    q.hours = Some(BusinessHours::parse("h", "America/New_York", &[1], "09:00", "17:00").unwrap());
    q.overflow = Some(Overflow::Queue(backup.clone()));
    let mondays = s.update_queue(q).await.unwrap().id;
    let waiting = waiting_call(&s, &o, &front, t(0)).await;
    let closed = waiting_call(&s, &o, &mondays, t(0)).await;
    // At 30 s: only the closed queue's call moves.
    let pass = s.route_calls(&o.id, t(30), 20).await.unwrap();
    assert_eq!(pass.overflowed, 1);
    let c = s.queued_call(&o.id, &closed).await.unwrap().unwrap();
    assert_eq!((c.queue_id.clone(), c.priority, c.enqueued_at), (backup.clone(), 30, t(30)));
    assert_eq!(s.queued_call(&o.id, &waiting).await.unwrap().unwrap().queue_id, front);
    // At 60 s the front queue's call has waited its longest: it moves too.
    let pass = s.route_calls(&o.id, t(60), 20).await.unwrap();
    assert_eq!(pass.overflowed, 1);
    assert_eq!(s.queued_call(&o.id, &waiting).await.unwrap().unwrap().queue_id, backup);
    // An agent with no skills takes backup calls; the overflowed calls are offered.
    let a = agent(&s, &o, "backup@r.example", &[], t(0), 2).await;
    let pass = s.route_calls(&o.id, t(61), 20).await.unwrap();
    assert_eq!(pass.overflowed, 0);
    assert_eq!(pass.offered.len(), 2);
    assert!(pass.offered.iter().all(|(_, x)| *x == a));
}
