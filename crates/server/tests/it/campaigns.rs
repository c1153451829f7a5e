//! /v1/campaigns as in the SaaS spec: create, read with progress, list,
//! status changes; bad input refused by field with nothing stored.

use serde_json::{Value, json};

use crate::support::{Client, TestServer};
use crate::templates::{new_template, spec_template};

pub async fn new_list(c: &Client, name: &str) -> String {
    let r = c.post("/v1/contact-lists", json!({"name": name})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

fn spec_campaign(tpl: &str, contacts: Value, lists: Value) -> Value {
    json!({
        "name": "Summer Promotion",
        "description": "Outreach for summer sale",
        "templateId": tpl,
        "contacts": contacts,
        "contactListIds": lists,
        "variables": {"companyName": "Acme Inc", "productName": "Premium Widget"},
        "schedule": {
            "startDate": "2025-05-20T09:00:00Z",
            "endDate": "2025-05-25T17:00:00Z",
            "timeZone": "America/New_York",
            "callHours": {"start": "09:00", "end": "17:00"},
            "daysOfWeek": [1, 2, 3, 4, 5]
        },
        "callSettings": {
            "maxConcurrentCalls": 10,
            "callerId": "+15559876543",
            "retrySettings": {"maxAttempts": 3, "retryInterval": 60}
        }
    })
}

#[tokio::test]
async fn create_read_list_and_change_status_as_in_the_spec() {
    let t = TestServer::start().await;
    let tpl = new_template(&t.a, spec_template()).await;
    let c1 = t.a.new_contact(json!({"name": "John Smith", "phone": "+15551234567"})).await;
    let c2 = t.a.new_contact(json!({"name": "Jane Doe", "phone": "+15551234568"})).await;
    let c3 = t.a.new_contact(json!({"name": "Raj Kumar", "phone": "+919876543210"})).await;
    let list = new_list(&t.a, "Leads").await;
    let r =
        t.a.post(&format!("/v1/contact-lists/{list}/members"), json!({"contactIds": [c2, c3]}))
            .await;
    assert_eq!(r.body["added"], 2, "{}", r.body);

    let r = t.a.post("/v1/campaigns", spec_campaign(&tpl, json!([c1, c2]), json!([list]))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let b = &r.body;
    let id = b["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cmp_"));
    assert_eq!(b["status"], "scheduled");
    // c2 is named and in the list: counted once.
    assert_eq!(b["totalContacts"], 3);
    assert_eq!(b["schedule"]["callHours"], json!({"start": "09:00", "end": "17:00"}));
    assert_eq!(b["schedule"]["daysOfWeek"], json!([1, 2, 3, 4, 5]));
    assert_eq!(b["schedule"]["startDate"], "2025-05-20T09:00:00Z");
    assert_eq!(
        b["callSettings"]["retrySettings"],
        json!({"maxAttempts": 3, "retryInterval": 60, "retryOn": ["busy", "no-answer", "failed"]})
    );
    assert_eq!(b["callSettings"]["callerId"], "+15559876543");

    let got = t.a.get(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["completedCalls"], 0);
    assert_eq!(got.body["successfulCalls"], 0);
    assert_eq!(got.body["progress"], 0.0);
    assert!(got.body.get("startedAt").is_none());
    assert_eq!(t.a.get(&format!("/v1/templates/{tpl}")).await.body["usageCount"], 1);

    // Status changes, checked.
    let s = t.a.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "paused"})).await;
    s.assert_error(409, "illegal_transition");
    assert_eq!(s.body["error"]["details"], json!({"from": "scheduled", "to": "paused"}));
    assert!(s.body["error"]["message"].as_str().unwrap().contains("campaign"));
    let s = t.a.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "active"})).await;
    assert_eq!(
        s.body,
        json!({"id": id, "status": "active", "message": "Campaign successfully started"})
    );
    assert!(t.a.get(&format!("/v1/campaigns/{id}")).await.body["startedAt"].is_string());
    let s = t.a.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "paused"})).await;
    assert_eq!(s.body["message"], "Campaign successfully paused");
    let s = t.a.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "resume"})).await;
    assert_eq!(
        (s.body["status"].clone(), s.body["message"].clone()),
        (json!("active"), json!("Campaign successfully resumed"))
    );
    let s =
        t.a.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "cancelled"}))
            .await;
    assert_eq!(s.body["status"], "cancelled");
    let s = t.a.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "active"})).await;
    s.assert_error(409, "illegal_transition");
    assert_eq!(s.body["error"]["details"], json!({"from": "cancelled", "to": "active"}));
    t.a.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "exploded"}))
        .await
        .assert_field_error("status");

    let events: Vec<String> = t
        .store
        .org_events_after(&t.a.org.id, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .filter(|e| e.starts_with("campaign."))
        .collect();
    assert_eq!(
        events,
        vec![
            "campaign.created",
            "campaign.started",
            "campaign.paused",
            "campaign.resumed",
            "campaign.canceled"
        ]
    );
    // The audit log names who changed the status, once per change.
    let audit: Vec<(String, String)> = t.a.get("/v1/audit?limit=100").await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().is_some_and(|a| a.starts_with("campaign.")))
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["target"].as_str().unwrap().to_owned()))
        .collect();
    let mut actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        ["campaign.canceled", "campaign.paused", "campaign.resumed", "campaign.started"]
    );
    assert!(audit.iter().all(|(_, target)| target == &id));

    // List with a status filter.
    t.a.post("/v1/campaigns", spec_campaign(&tpl, json!([c1]), json!([]))).await;
    let all = t.a.get("/v1/campaigns").await;
    assert_eq!(all.body["pagination"]["total"], 2);
    let cancelled = t.a.get("/v1/campaigns?status=cancelled").await;
    assert_eq!(cancelled.body["pagination"]["total"], 1);
    assert_eq!(cancelled.body["data"][0]["id"], id.as_str());
    assert_eq!(cancelled.body["data"][0]["totalContacts"], 3);
    t.a.get("/v1/campaigns?status=bogus").await.assert_field_error("status");

    // Tenancy.
    t.b.get(&format!("/v1/campaigns/{id}")).await.assert_error(404, "not_found");
    t.b.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "active"}))
        .await
        .assert_error(404, "not_found");
    assert_eq!(t.b.get("/v1/campaigns").await.body["pagination"]["total"], 0);
    t.b.post("/v1/campaigns", spec_campaign(&tpl, json!([c1]), json!([])))
        .await
        .assert_field_error("templateId");
}

#[tokio::test]
async fn bad_campaigns_are_refused_by_field_and_store_nothing() {
    let t = TestServer::start().await;
    let tpl = new_template(&t.a, spec_template()).await;
    let c1 = t.a.new_contact(json!({"name": "John Smith", "phone": "+15551234567"})).await;
    let before = t.snapshot(&t.a.org).await;
    let good = spec_campaign(&tpl, json!([c1]), json!([]));
    let with = |path: &[&str], v: Value| {
        let mut b = good.clone();
        let mut slot = &mut b;
        for p in &path[..path.len() - 1] {
            slot = &mut slot[*p];
        }
        slot[path[path.len() - 1]] = v;
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(&["name"], Value::Null), "name"),
        (with(&["templateId"], Value::Null), "templateId"),
        (with(&["templateId"], json!("tpl_01jb0000000000000000000000")), "templateId"),
        (with(&["contacts"], json!([])), "contacts"),
        (with(&["contacts"], json!(["cnt_01jb0000000000000000000000"])), "contacts[0]"),
        (with(&["contacts"], json!(["nope"])), "contacts[0]"),
        (
            with(&["contactListIds"], json!(["lst_01jb0000000000000000000000"])),
            "contactListIds[0]",
        ),
        (
            with(&["schedule", "callHours", "start"], json!("07:00")),
            "schedule.callHours.start",
        ),
        (with(&["schedule", "callHours", "end"], json!("21:30")), "schedule.callHours.end"),
        (with(&["schedule", "callHours", "start"], json!("9am")), "schedule.callHours.start"),
        (with(&["schedule", "callHours", "end"], json!("08:00")), "schedule.callHours.start"),
        (with(&["schedule", "daysOfWeek"], json!([1, 9])), "schedule.daysOfWeek"),
        (with(&["schedule", "timeZone"], json!("Mars/Base")), "schedule.timeZone"),
        (
            with(&["schedule", "startDate"], json!("2025-06-01T00:00:00Z")),
            "schedule.startDate",
        ),
        (
            with(&["callSettings", "maxConcurrentCalls"], json!(0)),
            "callSettings.maxConcurrentCalls",
        ),
        (
            with(&["callSettings", "maxConcurrentCalls"], json!("ten")),
            "callSettings.maxConcurrentCalls",
        ),
        (with(&["callSettings", "callerId"], json!("12")), "callSettings.callerId"),
        (
            with(&["callSettings", "retrySettings", "maxAttempts"], json!(11)),
            "callSettings.retrySettings.maxAttempts",
        ),
        (
            with(&["callSettings", "retrySettings", "retryInterval"], json!(0)),
            "callSettings.retrySettings.retryInterval",
        ),
        (
            with(&["callSettings", "retrySettings", "retryOn"], json!(["busy", "completed"])),
            "callSettings.retrySettings.retryOn[1]",
        ),
    ];
    for (body, field) in cases {
        t.a.post("/v1/campaigns", body).await.assert_field_error(field);
    }
    // Template variables neither the campaign nor the contacts supply.
    let r =
        t.a.post("/v1/campaigns", with(&["variables"], json!({"companyName": "Acme"})))
            .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["details"]["missing"], json!(["productName"]));
    // Quiet hours may be overridden explicitly.
    let mut night = with(&["schedule", "callHours", "start"], json!("07:00"));
    night["schedule"]["overrideQuietHours"] = json!(true);
    t.a.post("/v1/campaigns", night.clone()).await;
    assert_eq!(t.a.get("/v1/campaigns").await.body["pagination"]["total"], 1);
    let mut snapshot_now = t.snapshot(&t.a.org).await;
    // Only the accepted campaign's event differs.
    snapshot_now["events"].as_array_mut().unwrap().pop();
    assert_eq!(before, snapshot_now);
}
