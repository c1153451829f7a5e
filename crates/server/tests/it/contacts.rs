//! Happy paths of every /v1/contacts route.

use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn contact_lifecycle_as_in_the_spec() {
    let t = TestServer::start().await;
    let body = json!({
        "name": "John Smith",
        "phone": "+15551234567",
        "email": "john.smith@example.com",
        "company": "Acme Inc",
        "tags": ["customer", "vip"],
        "customFields": {"industry": "Technology", "lastPurchase": "2025-04-15"},
        "timeZone": "America/New_York"
    });
    let r = t.a.post("/v1/contacts", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cnt_"));
    for (k, v) in [
        ("name", json!("John Smith")),
        ("phone", json!("+15551234567")),
        ("company", json!("Acme Inc")),
        ("tags", json!(["customer", "vip"])),
        ("timeZone", json!("America/New_York")),
    ] {
        assert_eq!(r.body[k], v, "{k}");
    }
    let g = t.a.get(&format!("/v1/contacts/{id}")).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body["customFields"]["lastPurchase"], "2025-04-15");
    assert_eq!(g.body["callHistory"], json!([]));
    assert!(g.body["updatedAt"].as_str().is_some());

    // PATCH: absent fields stay, null clears, values replace.
    let p =
        t.a.patch(
            &format!("/v1/contacts/{id}"),
            json!({"email": null, "tags": ["vip"], "phone": "+15557654321"}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["name"], "John Smith");
    assert!(p.body.get("email").is_none());
    assert_eq!(p.body["tags"], json!(["vip"]));
    assert_eq!(p.body["phone"], "+15557654321");
    let stored = t.store.get_contact(&t.a.org.id, &id.parse().unwrap()).await.unwrap();
    assert_eq!((stored.email, stored.phone.as_str().to_owned()), (None, "+15557654321".to_owned()));

    let d = t.a.delete(&format!("/v1/contacts/{id}")).await;
    assert_eq!(d.status, 204);
    t.a.get(&format!("/v1/contacts/{id}")).await.assert_error(404, "not_found");
    let types: Vec<String> = t
        .store
        .org_events_after(&t.a.org.id, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(types, vec!["contact.created", "contact.updated", "contact.deleted"]);
}

#[tokio::test]
async fn list_contacts_by_tag_search_and_page() {
    let t = TestServer::start().await;
    t.a.new_contact(json!({"name": "Priya Sharma", "phone": "+918765432109", "tags": ["lead"]}))
        .await;
    t.a.new_contact(json!({"name": "Venkatesh Iyer", "phone": "+917654321098", "email": "venky@corp.example", "tags": ["customer"]}))
        .await;
    t.a.new_contact(json!({"name": "Meena Iyer", "phone": "+917654321099", "tags": ["customer", "vip"]}))
        .await;
    t.b.new_contact(json!({"name": "Iyer Elsewhere", "phone": "+917654321000"})).await;
    let r = t.a.get("/v1/contacts").await;
    assert_eq!(r.body["pagination"], json!({"total": 3, "page": 1, "limit": 20, "pages": 1}));
    assert!(r.body["data"][0].get("callHistory").is_none());
    assert_eq!(t.a.get("/v1/contacts?tag=customer").await.body["pagination"]["total"], 2);
    assert_eq!(t.a.get("/v1/contacts?search=iyer").await.body["pagination"]["total"], 2);
    assert_eq!(t.a.get("/v1/contacts?search=corp.example").await.body["pagination"]["total"], 1);
    assert_eq!(t.a.get("/v1/contacts?search=8765432").await.body["pagination"]["total"], 1);
    assert_eq!(
        t.a.get("/v1/contacts?tag=vip&search=meena").await.body["data"][0]["name"],
        "Meena Iyer"
    );
    let p = t.a.get("/v1/contacts?limit=2&page=2").await;
    assert_eq!(p.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(p.body["pagination"]["pages"], 2);
}
