//! /v1/templates as in the SaaS spec, and templates' variables checked
//! when a call names one.

use serde_json::{Value, json};

use crate::support::{Client, TestServer};

pub fn spec_template() -> Value {
    json!({
        "name": "Sales Outreach",
        "description": "Template for initial sales calls",
        "industry": "sales",
        "steps": [
            {"type": "greeting", "content": "Hello, this is {companyName}. Am I speaking with {contactName}?"},
            {"type": "information", "content": "I'm calling to tell you about our new {productName} that I think would be perfect for your business."},
            {"type": "question", "content": "Do you have a few minutes to discuss how this could benefit your company?"},
            {"type": "response", "content": "Great! Let me tell you about our key features..."},
            {"type": "closing", "content": "Thank you for your time. Would you like to schedule a follow-up call with one of our specialists?"}
        ],
        "variables": ["companyName", "contactName", "productName"]
    })
}

pub async fn new_template(c: &Client, body: Value) -> String {
    let r = c.post("/v1/templates", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn create_get_and_list_templates_as_in_the_spec() {
    let t = TestServer::start().await;
    let r = t.a.post("/v1/templates", spec_template()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("tpl_"));
    assert_eq!(
        r.body["steps"][0],
        json!({"id": "1", "type": "greeting", "content": "Hello, this is {companyName}. Am I speaking with {contactName}?"})
    );
    assert_eq!(r.body["steps"][4]["id"], "5");
    assert_eq!(r.body["variables"], json!(["companyName", "contactName", "productName"]));
    assert_eq!(r.body["usageCount"], 0);

    let got = t.a.get(&format!("/v1/templates/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["industry"], "sales");
    assert!(got.body["updatedAt"].is_string());

    let mut other = spec_template();
    other["name"] = json!("Collections reminder");
    other["industry"] = json!("finance");
    other["description"] = json!("Overdue payments");
    new_template(&t.a, other).await;
    let list = t.a.get("/v1/templates?industry=sales").await;
    assert_eq!(list.body["pagination"]["total"], 1, "{}", list.body);
    assert_eq!(list.body["data"][0]["stepCount"], 5);
    assert!(list.body["data"][0].get("steps").is_none());
    let search = t.a.get("/v1/templates?search=overdue").await;
    assert_eq!(search.body["data"][0]["name"], "Collections reminder");
    let all = t.a.get("/v1/templates?page=1&limit=1").await;
    assert_eq!(all.body["pagination"], json!({"total": 2, "page": 1, "limit": 1, "pages": 2}));

    // Another organisation sees none of it.
    t.b.get(&format!("/v1/templates/{id}")).await.assert_error(404, "not_found");
    assert_eq!(t.b.get("/v1/templates").await.body["pagination"]["total"], 0);
}

#[tokio::test]
async fn bad_templates_are_refused_by_field_and_store_nothing() {
    let t = TestServer::start().await;
    let before = t.snapshot(&t.a.org).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"steps": [{"type": "greeting", "content": "Hi"}]}), "name"),
        (json!({"name": "x"}), "steps"),
        (json!({"name": "x", "steps": []}), "steps"),
        (
            json!({"name": "x", "steps": [{"type": "greeting", "content": "Hi"}, {"type": "chitchat", "content": "Yo"}]}),
            "steps[1].type",
        ),
        (
            json!({"name": "x", "steps": [{"type": "greeting", "content": "  "}]}),
            "steps[0].content",
        ),
        (
            json!({"name": "x", "steps": [{"type": "greeting", "content": "Hi {who}"}], "variables": []}),
            "steps[0].content",
        ),
        (
            json!({"name": "x", "steps": [{"type": "greeting", "content": "Hi"}], "variables": ["1bad"]}),
            "variables[0]",
        ),
        (json!({"name": "x", "steps": "greeting"}), "steps"),
    ];
    for (body, field) in cases {
        t.a.post("/v1/templates", body.clone()).await.assert_field_error(field);
    }
    assert_eq!(t.a.get("/v1/templates").await.body["pagination"]["total"], 0);
    assert_eq!(before, t.snapshot(&t.a.org).await);
}

#[tokio::test]
async fn a_call_naming_a_template_needs_its_variables() {
    let t = TestServer::start().await;
    let tpl = new_template(&t.a, spec_template()).await;
    let before = t.snapshot(&t.a.org).await;
    let r =
        t.a.post(
            "/v1/calls",
            json!({"phone": "+15551234567", "templateId": tpl, "variables": {"companyName": "Acme"}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "missing_variables");
    assert_eq!(r.body["error"]["details"]["missing"], json!(["contactName", "productName"]));
    assert!(r.body["error"]["message"].as_str().unwrap().contains("productName"));
    // An unknown template of ours is a bad field.
    t.a.post(
        "/v1/calls",
        json!({"phone": "+15551234567", "templateId": "tpl_01jb0000000000000000000000"}),
    )
    .await
    .assert_field_error("templateId");
    assert_eq!(before, t.snapshot(&t.a.org).await, "refused calls store nothing");

    // With a contact, the contact's fields fill contactName.
    let contact = t.a.new_contact(json!({"name": "Ann Lee", "phone": "+15551230000"})).await;
    t.a.new_call(json!({"contactId": contact, "templateId": tpl, "variables": {"companyName": "Acme", "productName": "Widget"}}))
        .await;
    t.a.new_call(json!({"phone": "+15551234567", "templateId": tpl, "variables": {"companyName": "Acme", "productName": "Widget", "contactName": "Bo"}}))
        .await;
    assert_eq!(t.a.get(&format!("/v1/templates/{tpl}")).await.body["usageCount"], 2);
    // Other organisations cannot use it.
    t.b.post("/v1/calls", json!({"phone": "+15551234567", "templateId": tpl}))
        .await
        .assert_field_error("templateId");
}
