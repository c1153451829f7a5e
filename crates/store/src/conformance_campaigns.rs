//! Conformance checks of the campaign store: templates, contact lists and
//! imports, the do-not-call list, campaign status changes and the dialer's
//! pass. Run on both backends with the rest of the suite.

use std::future::Future;
use std::pin::Pin;

use chrono::{Duration, TimeZone as _, Utc};
use serde_json::json;
use switchboard_domain::call::CallReport;
use switchboard_domain::campaign::{CallSettings, CampaignAction, DncEntry, RetrySettings, Schedule};
use switchboard_domain::template::{Step, StepType};
use switchboard_domain::{
    Call, CallStatus, Campaign, CampaignId, CampaignStatus, Contact, ContactId, ContactList, ContactListId, Direction, DomainError,
    Organisation, PhoneNumber, Template, TemplateId, TimeZone, Timestamp,
};

use crate::{CallTarget, DialParams, DynStore, Page, StagedContact, StoreError, TemplateFilter};

pub type Check = fn(DynStore) -> Pin<Box<dyn Future<Output = ()> + Send>>;

pub const CAMPAIGN_CHECKS: &[(&str, Check)] = &[
    ("templates", |s| Box::pin(templates(s))),
    ("contact_lists_and_imports", |s| Box::pin(contact_lists_and_imports(s))),
    ("dnc_list", |s| Box::pin(dnc_list(s))),
    ("campaign_status_changes", |s| Box::pin(campaign_status_changes(s))),
    ("dialer_pass_rules", |s| Box::pin(dialer_pass_rules(s))),
    ("dialer_caps_hold_under_concurrency", |s| {
        Box::pin(dialer_caps_hold_under_concurrency(s))
    }),
    ("dialer_fails_calls_never_placed", |s| Box::pin(dialer_fails_calls_never_placed(s))),
    ("campaign_completes_at_its_end_date", |s| {
        Box::pin(campaign_completes_at_its_end_date(s))
    }),
    ("plan_live_cap_holds", |s| Box::pin(plan_live_cap_holds(s))),
    ("org_rate_cap_lowers_the_servers", |s| Box::pin(org_rate_cap_lowers_the_servers(s))),
];

/// Wednesday 2025-05-21 14:00 UTC: 10:00 in New York.
fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 5, 21, 14, 0, 0).unwrap()
}

const PAGE: Page = Page { page: 1, limit: 100 };

async fn org(s: &DynStore, slug: &str) -> Organisation {
    s.create_org(Organisation::new(slug, slug, t0())).await.unwrap()
}

fn template(org: &Organisation, name: &str, industry: &str) -> Template {
    Template {
        id: TemplateId::new(),
        org_id: org.id.clone(),
        name: name.into(),
        description: Some(format!("{name} calls")),
        industry: Some(industry.into()),
        steps: vec![Step::new("1", StepType::Greeting, "Hello {contactName}")],
        variables: vec!["contactName".into()],
        usage_count: 0,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn contact(org: &Organisation, i: usize) -> Contact {
    Contact {
        id: ContactId::new(),
        org_id: org.id.clone(),
        name: Some(format!("Person {i}")),
        phone: PhoneNumber::from_trusted(format!("+1555000{i:04}")),
        email: None,
        company: None,
        tags: vec![],
        custom_fields: None,
        external_id: None,
        time_zone: Some(TimeZone::parse("tz", "America/New_York").unwrap()),
        created_at: t0(),
        updated_at: t0(),
    }
}

fn list(org: &Organisation) -> ContactList {
    ContactList {
        id: ContactListId::new(),
        org_id: org.id.clone(),
        name: "Leads".into(),
        description: None,
        created_at: t0(),
        updated_at: t0(),
        member_count: 0,
    }
}

fn campaign(org: &Organisation, template: &TemplateId, max: u32, retry: RetrySettings) -> Campaign {
    Campaign {
        id: CampaignId::new(),
        org_id: org.id.clone(),
        name: "Spring".into(),
        description: None,
        status: CampaignStatus::Scheduled,
        template_id: template.clone(),
        schedule: Schedule {
            start_date: None,
            end_date: None,
            time_zone: TimeZone::UTC,
            call_start: 9 * 60,
            call_end: 17 * 60,
            days_of_week: vec![1, 2, 3, 4, 5],
            override_quiet_hours: false,
        },
        settings: CallSettings {
            max_concurrent_calls: max,
            caller_id: Some("+15559876543".into()),
            retry,
            calls_per_second: None,
        },
        variables: Some(json!({"companyName": "Acme"})),
        contact_list_ids: vec![],
        total_contacts: 0,
        created_at: t0(),
        updated_at: t0(),
        started_at: None,
        last_run_at: None,
        completed_at: None,
    }
}

fn params(now: Timestamp) -> DialParams {
    DialParams {
        now,
        org_calls_per_second: 100,
        batch: 100,
        external_prefix: Some("SIM".into()),
        stale_queued_secs: 120,
    }
}

async fn events(s: &DynStore, org: &Organisation) -> Vec<String> {
    s.org_events_after(&org.id, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

/// A running campaign over `n` fresh contacts.
async fn running(s: &DynStore, o: &Organisation, n: usize, max: u32, retry: RetrySettings) -> (Campaign, Vec<Contact>) {
    let t = s.create_template(template(o, "Sales", "sales"), None).await.unwrap();
    let contacts: Vec<Contact> = (0..n).map(|i| contact(o, i)).collect();
    s.import_contacts(&o.id, None, contacts.clone()).await.unwrap();
    let c = campaign(o, &t.id, max, retry);
    let rows = contacts
        .iter()
        .map(|ct| StagedContact {
            contact_id: ct.id.clone(),
            phone: ct.phone.to_string(),
            zone: "America/New_York".into(),
        })
        .collect();
    s.stage_campaign_contacts(&o.id, &c.id, rows).await.unwrap();
    let c = s.create_campaign(c, None).await.unwrap();
    let c = s
        .set_campaign_status(&o.id, &c.id, CampaignAction::Start, t0(), None)
        .await
        .unwrap();
    (c, contacts)
}

pub async fn templates(s: DynStore) {
    let (a, b) = (org(&s, "a").await, org(&s, "b").await);
    let sales = s.create_template(template(&a, "Sales Outreach", "sales"), None).await.unwrap();
    s.create_template(template(&a, "Collections", "finance"), None).await.unwrap();
    assert_eq!(s.get_template(&a.id, &sales.id).await.unwrap(), sales);
    assert!(matches!(s.get_template(&b.id, &sales.id).await, Err(StoreError::NotFound(_))));
    let by_industry = TemplateFilter {
        industry: Some("SALES".into()),
        search: None,
    };
    let (rows, total) = s.list_templates(&a.id, &by_industry, PAGE).await.unwrap();
    assert_eq!((rows.len(), total), (1, 1));
    let search = TemplateFilter {
        industry: None,
        search: Some("collect".into()),
    };
    let (rows, _) = s.list_templates(&a.id, &search, PAGE).await.unwrap();
    assert_eq!(rows[0].name, "Collections");
    assert_eq!(s.list_templates(&b.id, &TemplateFilter::default(), PAGE).await.unwrap().1, 0);
    s.use_template(&a.id, &sales.id).await.unwrap();
    s.use_template(&b.id, &sales.id).await.unwrap();
    assert_eq!(s.get_template(&a.id, &sales.id).await.unwrap().usage_count, 1);
    assert!(events(&s, &a).await.contains(&"template.created".to_owned()));
}

pub async fn contact_lists_and_imports(s: DynStore) {
    let (a, b) = (org(&s, "a").await, org(&s, "b").await);
    let l = s.create_contact_list(list(&a), None).await.unwrap();
    let mut batch: Vec<Contact> = (0..5).map(|i| contact(&a, i)).collect();
    // The same number twice in one batch, and one external id.
    batch.push(contact(&a, 0));
    batch[1].external_id = Some("EXT1".into());
    let counts = s.import_contacts(&a.id, Some(l.id.clone()), batch).await.unwrap();
    assert_eq!((counts.created, counts.matched), (5, 1));
    // A later row with a known external id but a new number matches by id.
    let mut again = contact(&a, 77);
    again.external_id = Some("EXT1".into());
    let counts = s.import_contacts(&a.id, Some(l.id.clone()), vec![again]).await.unwrap();
    assert_eq!((counts.created, counts.matched), (0, 1));
    assert_eq!(s.get_contact_list(&a.id, &l.id).await.unwrap().member_count, 5);
    let (members, total) = s.list_members(&a.id, &l.id, PAGE).await.unwrap();
    assert_eq!((members.len(), total), (5, 5));
    assert!(matches!(s.get_contact_list(&b.id, &l.id).await, Err(StoreError::NotFound(_))));
    // Paging distinct contacts of lists.
    let first = s.contacts_of_lists(&a.id, std::slice::from_ref(&l.id), None, 3).await.unwrap();
    let rest = s
        .contacts_of_lists(&a.id, std::slice::from_ref(&l.id), Some(first[2].id.clone()), 3)
        .await
        .unwrap();
    assert_eq!((first.len(), rest.len()), (3, 2));
    assert!(first.windows(2).all(|w| w[0].id < w[1].id) && first[2].id < rest[0].id);
    // Members: an unknown contact refuses the whole request.
    let l2 = s.create_contact_list(list(&a), None).await.unwrap();
    let err = s
        .add_list_members(&a.id, &l2.id, vec![members[0].id.clone(), ContactId::new()])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(ref f) if f.field == "contactIds[1]"), "{err:?}");
    assert_eq!(s.get_contact_list(&a.id, &l2.id).await.unwrap().member_count, 0);
    let added = s
        .add_list_members(&a.id, &l2.id, vec![members[0].id.clone(), members[0].id.clone()])
        .await
        .unwrap();
    assert_eq!(added, 1);
    s.finish_import(&a.id, json!({"imported": 5})).await.unwrap();
    assert!(events(&s, &a).await.contains(&"lead.imported".to_owned()));
}

pub async fn dnc_list(s: DynStore) {
    let (a, b) = (org(&s, "a").await, org(&s, "b").await);
    let e = |p: &str| DncEntry {
        phone: p.into(),
        reason: Some("asked".into()),
        created_at: t0(),
    };
    assert_eq!(
        s.add_dnc(&a.id, vec![e("+15550000001"), e("+15550000002"), e("+15550000001")])
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.list_dnc(&a.id, PAGE).await.unwrap().1, 2);
    assert_eq!(s.list_dnc(&b.id, PAGE).await.unwrap().1, 0);
    let found = s.dnc_entry(&a.id, "+15550000002").await.unwrap().unwrap();
    assert_eq!((found.phone.as_str(), found.reason.as_deref()), ("+15550000002", Some("asked")));
    assert!(s.dnc_entry(&b.id, "+15550000002").await.unwrap().is_none(), "per organisation");
    assert!(s.dnc_entry(&a.id, "+15550000009").await.unwrap().is_none());
    assert!(!s.remove_dnc(&b.id, "+15550000001").await.unwrap());
    assert!(s.remove_dnc(&a.id, "+15550000001").await.unwrap());
    let (rows, _) = s.list_dnc(&a.id, PAGE).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.phone.as_str()).collect::<Vec<_>>(), vec!["+15550000002"]);
}

pub async fn campaign_status_changes(s: DynStore) {
    let a = org(&s, "a").await;
    let (c, _) = running(&s, &a, 3, 2, RetrySettings::default()).await;
    assert_eq!(c.total_contacts, 3);
    assert_eq!(c.status, CampaignStatus::Active);
    assert_eq!(c.started_at, Some(t0()));
    let later = t0() + Duration::minutes(5);
    let paused = s
        .set_campaign_status(&a.id, &c.id, CampaignAction::Pause, later, None)
        .await
        .unwrap();
    assert_eq!(paused.status, CampaignStatus::Paused);
    // Pausing again changes nothing.
    s.set_campaign_status(&a.id, &c.id, CampaignAction::Pause, later, None)
        .await
        .unwrap();
    s.set_campaign_status(&a.id, &c.id, CampaignAction::Resume, later, None)
        .await
        .unwrap();
    let cancelled = s
        .set_campaign_status(&a.id, &c.id, CampaignAction::Cancel, later, None)
        .await
        .unwrap();
    assert_eq!(cancelled.completed_at, Some(later));
    let err = s
        .set_campaign_status(&a.id, &c.id, CampaignAction::Resume, later, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Domain(DomainError::IllegalTransition {
            from: "cancelled",
            to: "active"
        })
    ));
    let kinds: Vec<String> = events(&s, &a).await.into_iter().filter(|e| e.starts_with("campaign.")).collect();
    assert_eq!(
        kinds,
        vec![
            "campaign.created",
            "campaign.started",
            "campaign.paused",
            "campaign.resumed",
            "campaign.canceled"
        ]
    );
    let (rows, total) = s.list_campaigns(&a.id, Some(CampaignStatus::Cancelled), PAGE).await.unwrap();
    assert_eq!((rows.len(), total), (1, 1));
    assert_eq!(s.list_campaigns(&a.id, Some(CampaignStatus::Active), PAGE).await.unwrap().1, 0);
    assert!(s.active_campaigns().await.unwrap().is_empty());
}

pub async fn dialer_pass_rules(s: DynStore) {
    let a = org(&s, "a").await;
    let retry = RetrySettings {
        max_attempts: 2,
        retry_interval_mins: 30,
        retry_on: vec![CallStatus::Busy],
    };
    let (c, contacts) = running(&s, &a, 4, 2, retry).await;
    s.add_dnc(
        &a.id,
        vec![DncEntry {
            phone: contacts[3].phone.to_string(),
            reason: None,
            created_at: t0(),
        }],
    )
    .await
    .unwrap();
    // 06:00 in New York: outside the window, nothing happens.
    let early = t0() - Duration::hours(4);
    assert!(s.dial(&a.id, &c.id, params(early)).await.unwrap().dialed.is_empty());
    // Two lines: two calls, carrying the campaign and the attempt.
    let first = s.dial(&a.id, &c.id, params(t0())).await.unwrap();
    assert_eq!(first.dialed.len(), 2);
    let d = &first.dialed[0];
    assert_eq!(d.attempt, 1);
    assert_eq!(d.call.campaign_id.as_deref(), Some(c.id.as_str()));
    assert_eq!(d.call.status, CallStatus::Queued);
    assert!(d.call.external_id.as_deref().unwrap().starts_with("SIM"));
    assert_eq!(d.call.variables.as_ref().unwrap()["companyName"], "Acme");
    assert_eq!(d.call.variables.as_ref().unwrap()["firstName"], "Person");
    // Lines full: nothing more.
    assert!(s.dial(&a.id, &c.id, params(t0())).await.unwrap().dialed.is_empty());
    // One busy, one completed.
    let report = |status| CallReport {
        status: Some(status),
        at: Some(t0() + Duration::minutes(1)),
        ..Default::default()
    };
    let (busy, done) = (&first.dialed[0], &first.dialed[1]);
    s.report_call(&a.id, CallTarget::Id(busy.call.id.clone()), report(CallStatus::Busy), None)
        .await
        .unwrap();
    s.report_call(&a.id, CallTarget::Id(done.call.id.clone()), report(CallStatus::Completed), None)
        .await
        .unwrap();
    let second = s.dial(&a.id, &c.id, params(t0() + Duration::minutes(2))).await.unwrap();
    assert_eq!(second.settled, 2);
    // The third contact is dialled; the fourth is on the DNC list; the busy one waits 30 minutes.
    assert_eq!(second.blocked, 1);
    assert_eq!(second.dialed.len(), 1);
    assert_eq!(second.dialed[0].contact_id, contacts[2].id);
    s.report_call(
        &a.id,
        CallTarget::Id(second.dialed[0].call.id.clone()),
        report(CallStatus::NoAnswer),
        None,
    )
    .await
    .unwrap();
    // After 30 minutes the busy contact gets attempt 2; the no-answer is not retried.
    let retry = s.dial(&a.id, &c.id, params(t0() + Duration::minutes(32))).await.unwrap();
    assert_eq!(retry.dialed.len(), 1);
    assert_eq!(
        (retry.dialed[0].contact_id.clone(), retry.dialed[0].attempt),
        (busy.contact_id.clone(), 2)
    );
    s.report_call(
        &a.id,
        CallTarget::Id(retry.dialed[0].call.id.clone()),
        report(CallStatus::Busy),
        None,
    )
    .await
    .unwrap();
    // Out of attempts: the campaign completes.
    let last = s.dial(&a.id, &c.id, params(t0() + Duration::hours(2))).await.unwrap();
    assert!(last.completed && last.dialed.is_empty());
    let stats = s.campaign_stats(&a.id, &c.id).await.unwrap();
    assert_eq!(
        (
            stats.total_contacts,
            stats.done_contacts,
            stats.completed_calls,
            stats.successful_calls
        ),
        (4, 4, 4, 1)
    );
    assert_eq!(s.get_campaign(&a.id, &c.id).await.unwrap().status, CampaignStatus::Completed);
    assert!(events(&s, &a).await.contains(&"campaign.completed".to_owned()));
    // Not dialled again once complete.
    assert!(
        s.dial(&a.id, &c.id, params(t0() + Duration::hours(3)))
            .await
            .unwrap()
            .dialed
            .is_empty()
    );
}

pub async fn dialer_caps_hold_under_concurrency(s: DynStore) {
    let a = org(&s, "a").await;
    let (c, _) = running(&s, &a, 40, 5, RetrySettings::default()).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (s, org, id) = (s.clone(), a.id.clone(), c.id.clone());
        tasks.push(tokio::spawn(async move {
            let mut p = params(t0());
            p.org_calls_per_second = 3;
            s.dial(&org, &id, p).await.unwrap().dialed.len()
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    // Three per second of the clock, whatever ran concurrently.
    assert_eq!(total, 3);
    let mut p = params(t0() + Duration::seconds(1));
    p.org_calls_per_second = 100;
    // Five lines in all.
    assert_eq!(s.dial(&a.id, &c.id, p).await.unwrap().dialed.len(), 2);
}

/// A node that died between creating calls and placing them (no carrier id
/// recorded) leaves them `queued`; a later pass fails them as `not_placed`,
/// which counts as their attempt, and the retry rules go on.
pub async fn dialer_fails_calls_never_placed(s: DynStore) {
    let a = org(&s, "a").await;
    let retry = RetrySettings {
        max_attempts: 2,
        retry_interval_mins: 1,
        retry_on: vec![CallStatus::Failed],
    };
    let (c, _) = running(&s, &a, 1, 1, retry).await;
    let mut p = params(t0());
    p.external_prefix = None;
    let first = s.dial(&a.id, &c.id, p.clone()).await.unwrap();
    assert_eq!(first.dialed.len(), 1);
    assert!(first.dialed[0].call.external_id.is_none());
    // Within the grace period nothing happens.
    p.now = t0() + Duration::seconds(60);
    assert_eq!(s.dial(&a.id, &c.id, p.clone()).await.unwrap().settled, 0);
    p.now = t0() + Duration::seconds(200);
    let later = s.dial(&a.id, &c.id, p.clone()).await.unwrap();
    assert_eq!(later.settled, 1);
    let call = s.get_call(&a.id, &first.dialed[0].call.id).await.unwrap();
    assert_eq!((call.status, call.outcome.as_deref()), (CallStatus::Failed, Some("not_placed")));
    p.now = t0() + Duration::seconds(300);
    let retried = s.dial(&a.id, &c.id, p).await.unwrap();
    assert_eq!(retried.dialed.len(), 1);
    assert_eq!(retried.dialed[0].attempt, 2);
}

/// Past `endDate` a campaign dials nobody new and completes once its live
/// calls have ended, contacts still waiting or not.
pub async fn campaign_completes_at_its_end_date(s: DynStore) {
    let a = org(&s, "a").await;
    let t = s.create_template(template(&a, "Sales", "sales"), None).await.unwrap();
    let contacts: Vec<Contact> = (0..3).map(|i| contact(&a, i)).collect();
    s.import_contacts(&a.id, None, contacts.clone()).await.unwrap();
    let mut c = campaign(&a, &t.id, 1, RetrySettings::default());
    c.schedule.end_date = Some(t0() + Duration::hours(1));
    let rows = contacts
        .iter()
        .map(|ct| StagedContact {
            contact_id: ct.id.clone(),
            phone: ct.phone.to_string(),
            zone: "America/New_York".into(),
        })
        .collect();
    s.stage_campaign_contacts(&a.id, &c.id, rows).await.unwrap();
    let c = s.create_campaign(c, None).await.unwrap();
    s.set_campaign_status(&a.id, &c.id, CampaignAction::Start, t0(), None)
        .await
        .unwrap();
    let first = s.dial(&a.id, &c.id, params(t0())).await.unwrap();
    assert_eq!(first.dialed.len(), 1);
    // Past the end with a call still live: nothing new, not complete yet.
    let late = t0() + Duration::hours(2);
    let out = s.dial(&a.id, &c.id, params(late)).await.unwrap();
    assert!(out.dialed.is_empty() && !out.completed);
    let done = CallReport {
        status: Some(CallStatus::Completed),
        at: Some(late),
        ..Default::default()
    };
    s.report_call(&a.id, CallTarget::Id(first.dialed[0].call.id.clone()), done, None)
        .await
        .unwrap();
    let out = s.dial(&a.id, &c.id, params(late + Duration::minutes(1))).await.unwrap();
    assert!(out.completed && out.dialed.is_empty());
    let stats = s.campaign_stats(&a.id, &c.id).await.unwrap();
    assert_eq!((stats.total_contacts, stats.completed_calls), (3, 1));
    assert_eq!(s.get_campaign(&a.id, &c.id).await.unwrap().status, CampaignStatus::Completed);
}

fn placed(o: &Organisation, at: Timestamp) -> Call {
    let mut c = Call::new(o.id.clone(), Direction::Outbound, CallStatus::Queued, at);
    c.to = Some("+15551230000".into());
    c
}

async fn on_plan(s: &DynStore, slug: &str, plan: &str) -> Organisation {
    let mut o = org(s, slug).await;
    o.plan = plan.into();
    s.update_org(o).await.unwrap()
}

/// The plan's concurrent-call cap: placing is refused beyond it (exactly,
/// under concurrency), a call that ends frees its line, a call live longer
/// than the live window stops counting, unlimited plans have no cap, and
/// the dialer fills only the room the organisation has left.
pub async fn plan_live_cap_holds(s: DynStore) {
    let a = on_plan(&s, "a", "standard").await;
    let now = t0();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (s, c) = (s.clone(), placed(&a, now));
        tasks.push(tokio::spawn(async move { s.create_placed_call(c, now).await }));
    }
    let (mut ok, mut refused) = (Vec::new(), 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(c) => ok.push(c),
            Err(StoreError::TooManyLiveCalls { limit: 5, live: 5 }) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((ok.len(), refused), (5, 7));
    assert_eq!(
        s.list_calls(&a.id, &Default::default(), PAGE).await.unwrap().1,
        5,
        "refused calls leave nothing"
    );

    // One ends: one line is free again, and only one.
    let ended = CallReport {
        status: Some(CallStatus::Completed),
        at: Some(now + Duration::seconds(30)),
        ..Default::default()
    };
    s.report_call(&a.id, CallTarget::Id(ok[0].id.clone()), ended, None).await.unwrap();
    let later = now + Duration::seconds(31);
    s.create_placed_call(placed(&a, later), later).await.unwrap();
    let r = s.create_placed_call(placed(&a, later), later).await;
    assert!(matches!(r, Err(StoreError::TooManyLiveCalls { limit: 5, live: 5 })), "{r:?}");

    // Calls never reported ended stop counting after the live window.
    let much_later = now + Duration::seconds(switchboard_domain::org::LIVE_WINDOW_SECS + 1);
    s.create_placed_call(placed(&a, much_later), much_later).await.unwrap();

    // No cap on unlimited plans.
    let u = on_plan(&s, "u", "unlimited").await;
    for _ in 0..8 {
        s.create_placed_call(placed(&u, now), now).await.unwrap();
    }

    // The dialer fills the room left: 5 - 2 live = 3, though the campaign
    // has 20 lines.
    let b = on_plan(&s, "b", "standard").await;
    for _ in 0..2 {
        s.create_placed_call(placed(&b, now), now).await.unwrap();
    }
    let (c, _) = running(&s, &b, 10, 20, RetrySettings::default()).await;
    assert_eq!(s.dial(&b.id, &c.id, params(now)).await.unwrap().dialed.len(), 3);
    assert_eq!(
        s.dial(&b.id, &c.id, params(now + Duration::seconds(1))).await.unwrap().dialed.len(),
        0
    );
    let r = s.create_placed_call(placed(&b, now), now).await;
    assert!(matches!(r, Err(StoreError::TooManyLiveCalls { limit: 5, live: 5 })), "{r:?}");
}

/// An organisation's own calls-per-second cap is stored with it and holds
/// below the server's; cleared, the server's applies again.
pub async fn org_rate_cap_lowers_the_servers(s: DynStore) {
    let mut a = org(&s, "a").await;
    a.calls_per_second = Some(2);
    let a = s.update_org(a).await.unwrap();
    assert_eq!(s.get_org(&a.id).await.unwrap().calls_per_second, Some(2));
    let (c, _) = running(&s, &a, 30, 20, RetrySettings::default()).await;
    let now = t0();
    assert_eq!(s.dial(&a.id, &c.id, params(now)).await.unwrap().dialed.len(), 2);
    assert_eq!(s.dial(&a.id, &c.id, params(now)).await.unwrap().dialed.len(), 0, "same second");
    let next = now + Duration::seconds(1);
    assert_eq!(s.dial(&a.id, &c.id, params(next)).await.unwrap().dialed.len(), 2);
    // Cleared: the server's 100 per second, so the 16 lines left fill.
    let mut a = s.get_org(&a.id).await.unwrap();
    a.calls_per_second = None;
    s.update_org(a.clone()).await.unwrap();
    assert_eq!(s.get_org(&a.id).await.unwrap().calls_per_second, None);
    let later = now + Duration::seconds(2);
    assert_eq!(s.dial(&a.id, &c.id, params(later)).await.unwrap().dialed.len(), 16);
}
