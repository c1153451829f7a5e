//! Conformance checks of the agent store: profiles read through users with
//! the `agent` role, patches, list filters, checked status changes with
//! their time kept and their outbox events, and exactly-one-wins when two
//! writers move one agent at once. Run on both backends with the rest.

use chrono::{Duration, TimeZone as _, Utc};
use serde_json::json;
use switchboard_domain::agents::{AgentPatch, AgentStatus, Skills};
use switchboard_domain::{DomainError, Organisation, Role, Timestamp, User, UserId, UserStatus};

use crate::conformance_campaigns::Check;
use crate::{AgentFilter, DynStore, Page, StoreError};

pub const AGENT_CHECKS: &[(&str, Check)] = &[
    ("agent_profiles_and_filters", |s| Box::pin(agent_profiles_and_filters(s))),
    ("agent_status_changes", |s| Box::pin(agent_status_changes(s))),
    ("agent_status_changes_race", |s| Box::pin(agent_status_changes_race(s))),
];

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 5, 21, 14, 0, 0).unwrap()
}

async fn org(s: &DynStore, slug: &str) -> Organisation {
    s.create_org(Organisation::new(slug, slug, t0())).await.unwrap()
}

async fn user(s: &DynStore, org: &Organisation, email: &str, role: Role, at: Timestamp) -> UserId {
    let u = User {
        id: UserId::new(),
        org_id: org.id.clone(),
        email: email.into(),
        name: Some(format!("Name of {email}")),
        role,
        status: UserStatus::Active,
        preferences: json!({}),
        created_at: at,
        updated_at: at,
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
    };
    s.create_user(u, "hash".into()).await.unwrap().id
}

fn skills(pairs: &[(&str, u8)]) -> Skills {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

const PAGE: Page = Page { page: 1, limit: 50 };

async fn agent_profiles_and_filters(s: DynStore) {
    let o = org(&s, "agents-a").await;
    let other = org(&s, "agents-b").await;
    let ana = user(&s, &o, "ana@a.example", Role::Agent, t0()).await;
    let ben = user(&s, &o, "ben@a.example", Role::Agent, t0() + Duration::seconds(1)).await;
    let boss = user(&s, &o, "boss@a.example", Role::Manager, t0()).await;
    let elsewhere = user(&s, &other, "eve@b.example", Role::Agent, t0()).await;

    // An agent without a stored profile: offline, empty, since the user was made.
    let a = s.get_agent(&o.id, &ana).await.unwrap();
    assert_eq!(a.status, AgentStatus::Offline);
    assert_eq!(a.status_since, t0());
    assert!(a.skills.is_empty() && a.languages.is_empty() && a.department.is_none());
    assert_eq!(a.max_concurrent_calls, 1);
    assert_eq!(a.email, "ana@a.example");
    // Not an agent, or another organisation's: not found.
    for (org, id) in [(&o, &boss), (&o, &elsewhere), (&other, &ana)] {
        assert!(matches!(s.get_agent(&org.id, id).await, Err(StoreError::NotFound("agent"))));
    }

    let at = t0() + Duration::minutes(1);
    let patch = AgentPatch {
        skills: Some(skills(&[("billing", 5), ("spanish", 3)])),
        languages: Some(vec!["en".into(), "es".into()]),
        department: Some(Some("dep_support".into())),
        max_concurrent_calls: Some(2),
    };
    let a = s.update_agent(&o.id, &ana, patch, at).await.unwrap();
    assert_eq!(a.skills["billing"], 5);
    let stored = s.get_agent(&o.id, &ana).await.unwrap();
    assert_eq!(stored, a);
    assert_eq!(stored.updated_at, at);
    assert_eq!(stored.max_concurrent_calls, 2);
    // A partial patch keeps the rest; a cleared department goes.
    let a = s
        .update_agent(
            &o.id,
            &ana,
            AgentPatch {
                department: Some(None),
                ..Default::default()
            },
            at,
        )
        .await
        .unwrap();
    assert_eq!((a.department.as_deref(), a.languages.len()), (None, 2));
    s.update_agent(
        &o.id,
        &ben,
        AgentPatch {
            skills: Some(skills(&[("billing", 2)])),
            department: Some(Some("dep_sales".into())),
            ..Default::default()
        },
        at,
    )
    .await
    .unwrap();
    assert!(matches!(
        s.update_agent(&o.id, &boss, AgentPatch::default(), at).await,
        Err(StoreError::NotFound("agent"))
    ));
    s.set_agent_status(&o.id, &ben, AgentStatus::Available, None, at).await.unwrap();

    let ids = |rows: Vec<switchboard_domain::agents::Agent>| rows.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let (all, total) = s.list_agents(&o.id, &AgentFilter::default(), PAGE).await.unwrap();
    assert_eq!((ids(all), total), (vec![ana.clone(), ben.clone()], 2));
    let f = |department: Option<&str>, status: Option<AgentStatus>, skill: Option<&str>| AgentFilter {
        department: department.map(str::to_owned),
        status,
        skill: skill.map(str::to_owned),
    };
    let cases = [
        (f(Some("dep_sales"), None, None), vec![ben.clone()]),
        (f(Some("dep_none"), None, None), vec![]),
        (f(None, Some(AgentStatus::Offline), None), vec![ana.clone()]),
        (f(None, Some(AgentStatus::Available), None), vec![ben.clone()]),
        (f(None, None, Some("spanish")), vec![ana.clone()]),
        (f(None, None, Some("billing")), vec![ana.clone(), ben.clone()]),
        (f(None, Some(AgentStatus::Available), Some("spanish")), vec![]),
    ];
    for (filter, want) in cases {
        let (rows, total) = s.list_agents(&o.id, &filter, PAGE).await.unwrap();
        assert_eq!(total, want.len() as u64, "{filter:?}");
        assert_eq!(ids(rows), want, "{filter:?}");
    }
    let (page2, total) = s
        .list_agents(&o.id, &AgentFilter::default(), Page { page: 2, limit: 1 })
        .await
        .unwrap();
    assert_eq!((ids(page2), total), (vec![ben.clone()], 2));
    let (theirs, _) = s.list_agents(&other.id, &AgentFilter::default(), PAGE).await.unwrap();
    assert_eq!(ids(theirs), vec![elsewhere]);
}

async fn agent_status_changes(s: DynStore) {
    let o = org(&s, "agents-status").await;
    let id = user(&s, &o, "ana@s.example", Role::Agent, t0()).await;
    let head = s.org_events_after(&o.id, 0, 1000).await.unwrap().len();
    let t = |secs: i64| t0() + Duration::seconds(secs);

    let a = s.set_agent_status(&o.id, &id, AgentStatus::Available, None, t(600)).await.unwrap();
    assert_eq!((a.status, a.status_since), (AgentStatus::Available, t(600)));
    s.set_agent_status(&o.id, &id, AgentStatus::OnCall, None, t(630)).await.unwrap();
    // Illegal: nothing changes, no event.
    let err = s
        .set_agent_status(&o.id, &id, AgentStatus::Offline, None, t(640))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Domain(DomainError::IllegalAgentTransition {
            from: "on_call",
            to: "offline"
        })
    ));
    let err = s.set_agent_status(&o.id, &id, AgentStatus::Break, None, t(640)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Domain(DomainError::Invalid(ref f)) if f.field == "reason"),
        "{err:?}"
    );
    s.set_agent_status(&o.id, &id, AgentStatus::AfterCallWork, None, t(750))
        .await
        .unwrap();
    s.set_agent_status(&o.id, &id, AgentStatus::Break, Some("lunch".into()), t(770))
        .await
        .unwrap();
    // Same status: stored reason replaced, no event.
    s.set_agent_status(&o.id, &id, AgentStatus::Break, Some("training".into()), t(780))
        .await
        .unwrap();

    let a = s.get_agent(&o.id, &id).await.unwrap();
    assert_eq!(
        (a.status, a.break_reason.as_deref(), a.status_since),
        (AgentStatus::Break, Some("training"), t(770))
    );
    let secs = a.seconds_in_status(t(800));
    assert_eq!(
        (
            secs["offline"],
            secs["available"],
            secs["on_call"],
            secs["after_call_work"],
            secs["break"]
        ),
        (600, 30, 120, 20, 30)
    );

    let events: Vec<_> = s.org_events_after(&o.id, 0, 1000).await.unwrap().into_iter().skip(head).collect();
    let moves: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.event_type == "agent.status_changed")
        .map(|e| {
            assert_eq!(e.data["agentId"], id.to_string());
            (
                e.data["previousStatus"].as_str().unwrap().to_owned(),
                e.data["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("offline", "available"),
        ("available", "on_call"),
        ("on_call", "after_call_work"),
        ("after_call_work", "break"),
    ];
    assert_eq!(moves, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
    let last = events.iter().rfind(|e| e.event_type == "agent.status_changed").unwrap();
    assert_eq!(
        (last.data["reason"].as_str(), last.data["secondsInPrevious"].as_i64()),
        (Some("lunch"), Some(20))
    );
}

/// Two writers move one available agent to different statuses at once:
/// exactly the moves the state machine allows in some order succeed.
async fn agent_status_changes_race(s: DynStore) {
    let o = org(&s, "agents-race").await;
    for round in 0..10 {
        let id = user(&s, &o, &format!("r{round}@race.example"), Role::Agent, t0()).await;
        s.set_agent_status(&o.id, &id, AgentStatus::Available, None, t0()).await.unwrap();
        // on_call then offline is illegal, offline then on_call too: one wins.
        let a = tokio::spawn({
            let (s, org, id) = (s.clone(), o.id.clone(), id.clone());
            async move { s.set_agent_status(&org, &id, AgentStatus::OnCall, None, t0()).await }
        });
        let b = tokio::spawn({
            let (s, org, id) = (s.clone(), o.id.clone(), id.clone());
            async move { s.set_agent_status(&org, &id, AgentStatus::Offline, None, t0()).await }
        });
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert!(a.is_ok() != b.is_ok(), "round {round}: {a:?} / {b:?}");
        let now = s.get_agent(&o.id, &id).await.unwrap().status;
        assert_eq!(now, if a.is_ok() { AgentStatus::OnCall } else { AgentStatus::Offline });
    }
}
