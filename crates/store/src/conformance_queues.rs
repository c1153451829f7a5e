//! Conformance checks of departments and queues: CRUD, references that
//! must exist, overflow loops refused (directly, through a chain, and when
//! two writers would close one together), and deletes refused while
//! something points at the row. Run on both backends with the rest.

use chrono::{TimeZone as _, Utc};
use switchboard_domain::agents::{AgentPatch, Skills};
use switchboard_domain::id::{DepartmentId, QueueId};
use switchboard_domain::queues::{BusinessHours, Department, Overflow, Queue};
use switchboard_domain::{DomainError, Organisation, Timestamp};

use crate::conformance_campaigns::Check;
use crate::{DynStore, Page, StoreError};

pub const QUEUE_CHECKS: &[(&str, Check)] = &[
    ("departments_and_queues", |s| Box::pin(departments_and_queues(s))),
    ("queue_overflow_loops", |s| Box::pin(queue_overflow_loops(s))),
    ("queue_overflow_loop_race", |s| Box::pin(queue_overflow_loop_race(s))),
];

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 5, 21, 14, 0, 0).unwrap()
}

const PAGE: Page = Page { page: 1, limit: 50 };

async fn org(s: &DynStore, slug: &str) -> Organisation {
    s.create_org(Organisation::new(slug, slug, t0())).await.unwrap()
}

fn department(org: &Organisation, name: &str) -> Department {
    Department {
        id: DepartmentId::new(),
        org_id: org.id.clone(),
        name: name.into(),
        description: Some(format!("{name} team")),
        created_at: t0(),
        updated_at: t0(),
    }
}

fn queue(org: &Organisation, name: &str, priority: u8, overflow: Option<Overflow>) -> Queue {
    Queue {
        id: QueueId::new(),
        org_id: org.id.clone(),
        name: name.into(),
        department_id: None,
        skills: Skills::new(),
        priority,
        max_wait_secs: 120,
        hours: None,
        overflow,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn field_of(e: &StoreError) -> Option<&str> {
    match e {
        StoreError::Invalid(f) | StoreError::Domain(DomainError::Invalid(f)) => Some(f.field.as_str()),
        _ => None,
    }
}

async fn departments_and_queues(s: DynStore) {
    let o = org(&s, "queues-a").await;
    let other = org(&s, "queues-b").await;
    let support = s.create_department(department(&o, "Support")).await.unwrap();
    assert_eq!(s.get_department(&o.id, &support.id).await.unwrap(), support);
    assert!(matches!(
        s.create_department(department(&o, "Support")).await,
        Err(StoreError::Conflict(_))
    ));
    s.create_department(department(&other, "Support")).await.unwrap();
    assert!(matches!(
        s.get_department(&other.id, &support.id).await,
        Err(StoreError::NotFound("department"))
    ));
    let mut renamed = support.clone();
    renamed.name = "Customer care".into();
    s.update_department(renamed.clone()).await.unwrap();
    assert_eq!(s.get_department(&o.id, &support.id).await.unwrap().name, "Customer care");
    let (all, total) = s.list_departments(&o.id, PAGE).await.unwrap();
    assert_eq!((all.len(), total), (1, 1));

    let mut billing = queue(&o, "Billing", 10, Some(Overflow::Voicemail));
    billing.department_id = Some(support.id.clone());
    billing.skills = [("billing".to_owned(), 3u8)].into_iter().collect();
    billing.hours = Some(BusinessHours::parse("businessHours", "America/New_York", &[1, 2, 3, 4, 5], "09:00", "17:00").unwrap());
    let billing = s.create_queue(billing).await.unwrap();
    assert_eq!(s.get_queue(&o.id, &billing.id).await.unwrap(), billing);
    let vip = s
        .create_queue(queue(&o, "VIP", 90, Some(Overflow::Number("+15551230000".into()))))
        .await
        .unwrap();
    assert_eq!(
        s.get_queue(&o.id, &vip.id).await.unwrap().overflow,
        Some(Overflow::Number("+15551230000".into()))
    );
    // Highest priority first; filtered by department.
    let (rows, total) = s.list_queues(&o.id, None, PAGE).await.unwrap();
    assert_eq!(
        (rows.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(), total),
        (vec!["VIP", "Billing"], 2)
    );
    let (rows, total) = s.list_queues(&o.id, Some(&support.id), PAGE).await.unwrap();
    assert_eq!((rows.len(), total, rows[0].id.clone()), (1, 1, billing.id.clone()));
    assert!(s.list_queues(&other.id, None, PAGE).await.unwrap().0.is_empty());

    // References must exist (in this organisation).
    let mut orphan = queue(&o, "Orphan", 5, None);
    orphan.department_id = Some(DepartmentId::new());
    assert_eq!(field_of(&s.create_queue(orphan).await.unwrap_err()), Some("departmentId"));
    let nowhere = queue(&o, "Nowhere", 5, Some(Overflow::Queue(QueueId::new())));
    assert_eq!(field_of(&s.create_queue(nowhere).await.unwrap_err()), Some("overflow.target"));
    let theirs = queue(&other, "Theirs", 5, Some(Overflow::Queue(billing.id.clone())));
    assert_eq!(field_of(&s.create_queue(theirs).await.unwrap_err()), Some("overflow.target"));
    assert!(matches!(
        s.create_queue(queue(&o, "Billing", 5, None)).await,
        Err(StoreError::Conflict(_))
    ));

    // Deletes refused while something points at the row.
    let mut overflow_to_billing = vip.clone();
    overflow_to_billing.overflow = Some(Overflow::Queue(billing.id.clone()));
    s.update_queue(overflow_to_billing).await.unwrap();
    assert!(matches!(s.delete_queue(&o.id, &billing.id).await, Err(StoreError::Conflict(_))));
    assert!(matches!(
        s.delete_department(&o.id, &support.id).await,
        Err(StoreError::Conflict(_))
    ));
    s.delete_queue(&o.id, &vip.id).await.unwrap();
    s.delete_queue(&o.id, &billing.id).await.unwrap();
    assert!(matches!(s.get_queue(&o.id, &billing.id).await, Err(StoreError::NotFound("queue"))));
    // An agent in the department holds it too.
    let agent = switchboard_domain::User {
        id: switchboard_domain::UserId::new(),
        org_id: o.id.clone(),
        email: "dept-agent@q.example".into(),
        name: None,
        role: switchboard_domain::Role::Agent,
        status: switchboard_domain::UserStatus::Active,
        preferences: serde_json::json!({}),
        created_at: t0(),
        updated_at: t0(),
        failed_logins: 0,
        locked_until: None,
        last_login_at: None,
    };
    let agent = s.create_user(agent, "hash".into()).await.unwrap();
    let patch = |d: Option<String>| AgentPatch {
        department: Some(d),
        ..Default::default()
    };
    s.update_agent(&o.id, &agent.id, patch(Some(support.id.to_string())), t0())
        .await
        .unwrap();
    assert!(matches!(
        s.delete_department(&o.id, &support.id).await,
        Err(StoreError::Conflict(_))
    ));
    s.update_agent(&o.id, &agent.id, patch(None), t0()).await.unwrap();
    s.delete_department(&o.id, &support.id).await.unwrap();
    assert!(matches!(
        s.delete_department(&o.id, &support.id).await,
        Err(StoreError::NotFound("department"))
    ));
}

async fn queue_overflow_loops(s: DynStore) {
    let o = org(&s, "queues-loops").await;
    // Into itself, directly: on create and on update.
    let mut a = queue(&o, "A", 10, None);
    a.overflow = Some(Overflow::Queue(a.id.clone()));
    assert_eq!(field_of(&s.create_queue(a.clone()).await.unwrap_err()), Some("overflow.target"));
    a.overflow = None;
    let a = s.create_queue(a).await.unwrap();
    let mut self_loop = a.clone();
    self_loop.overflow = Some(Overflow::Queue(a.id.clone()));
    assert_eq!(field_of(&s.update_queue(self_loop).await.unwrap_err()), Some("overflow.target"));
    // A → B → C, then C → A closes a loop.
    let c = s.create_queue(queue(&o, "C", 10, None)).await.unwrap();
    let b = s
        .create_queue(queue(&o, "B", 10, Some(Overflow::Queue(c.id.clone()))))
        .await
        .unwrap();
    let mut a2 = a.clone();
    a2.overflow = Some(Overflow::Queue(b.id.clone()));
    s.update_queue(a2).await.unwrap();
    let mut c2 = c.clone();
    c2.overflow = Some(Overflow::Queue(a.id.clone()));
    let err = s.update_queue(c2).await.unwrap_err();
    assert_eq!(field_of(&err), Some("overflow.target"), "{err:?}");
    assert_eq!(s.get_queue(&o.id, &c.id).await.unwrap().overflow, None);
    // C → voicemail is fine.
    let mut c3 = c.clone();
    c3.overflow = Some(Overflow::Voicemail);
    s.update_queue(c3).await.unwrap();
}

/// Two writers each add one half of a loop (X → Y and Y → X) at once:
/// exactly one succeeds.
async fn queue_overflow_loop_race(s: DynStore) {
    let o = org(&s, "queues-race").await;
    for round in 0..10 {
        let x = s.create_queue(queue(&o, &format!("X{round}"), 10, None)).await.unwrap();
        let y = s.create_queue(queue(&o, &format!("Y{round}"), 10, None)).await.unwrap();
        let mut x2 = x.clone();
        x2.overflow = Some(Overflow::Queue(y.id.clone()));
        let mut y2 = y.clone();
        y2.overflow = Some(Overflow::Queue(x.id.clone()));
        let a = tokio::spawn({
            let s = s.clone();
            async move { s.update_queue(x2).await }
        });
        let b = tokio::spawn({
            let s = s.clone();
            async move { s.update_queue(y2).await }
        });
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert!(a.is_ok() != b.is_ok(), "round {round}: {a:?} / {b:?}");
    }
}
