//! /v1/contact-lists with CSV imports (column mapping, rejected rows with
//! line numbers, one `lead.imported` event), and the /v1/dnc list.

use reqwest::Method;
use serde_json::json;

use crate::campaigns::new_list;
use crate::support::TestServer;

fn csv_path(list: &str, mapping: Option<&str>) -> String {
    match mapping {
        Some(m) => format!("/v1/contact-lists/{list}/import?mapping={}", urlencode(m)),
        None => format!("/v1/contact-lists/{list}/import"),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn csv_import_maps_columns_and_reports_rejected_lines() {
    let t = TestServer::start().await;
    let list = new_list(&t.a, "Spring leads").await;
    let existing = t.a.new_contact(json!({"name": "Known", "phone": "+15550001111"})).await;
    let csv = "full_name,phone_number,mail,segment,tz\n\
               Ann Lee,+15550002222,ann@example.com,gold,America/Chicago\n\
               Bad Phone,12,bp@example.com,,\n\
               Known Again,+15550001111,,,\n\
               \"Quoted, Name\",+15550003333,,silver,\n\
               No Mail,+15550004444,not-an-email,,\n\
               Bad Zone,+15550005555,,,Mars/Base\n";
    let mapping = r#"{"phone":"phone_number","name":"full_name","email":"mail","customFields.segment":"segment","timeZone":"tz"}"#;
    let r =
        t.a.raw(Method::POST, &csv_path(&list, Some(mapping)), csv.as_bytes().to_vec(), "text/csv")
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalRows"], 6);
    assert_eq!(r.body["imported"], 2);
    assert_eq!(r.body["matched"], 1);
    assert_eq!(r.body["rejected"], 3);
    assert_eq!(r.body["truncated"], false);
    let errors = r.body["errors"].as_array().unwrap();
    let lines: Vec<(u64, &str)> = errors
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, vec![(3, "phone"), (6, "email"), (7, "timeZone")]);
    assert!(errors[0]["reason"].as_str().unwrap().contains("phone"));

    let members = t.a.get(&format!("/v1/contact-lists/{list}/members?limit=100")).await;
    assert_eq!(members.body["pagination"]["total"], 3, "{}", members.body);
    let names: Vec<&str> = members.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Quoted, Name") && names.contains(&"Known"));
    assert!(
        members.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == existing.as_str())
    );
    let ann = members.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "Ann Lee")
        .unwrap();
    assert_eq!(ann["timeZone"], "America/Chicago");
    let full = t.a.get(&format!("/v1/contacts/{}", ann["id"].as_str().unwrap())).await;
    assert_eq!(full.body["customFields"], json!({"segment": "gold"}));
    assert_eq!(t.a.get(&format!("/v1/contact-lists/{list}")).await.body["memberCount"], 3);

    let events = t.store.org_events_after(&t.a.org.id, 0, 1000).await.unwrap();
    let imported: Vec<_> = events.iter().filter(|e| e.event_type == "lead.imported").collect();
    assert_eq!(imported.len(), 1, "one event per import");
    assert_eq!(imported[0].data["imported"], 2);
    assert_eq!(imported[0].data["rejected"], 3);
    assert_eq!(imported[0].data["contactListId"], list.as_str());
}

#[tokio::test]
async fn bad_imports_are_refused_and_store_nothing() {
    let t = TestServer::start().await;
    let list = new_list(&t.a, "Leads").await;
    let before = t.snapshot(&t.a.org).await;
    let body = b"name,phone\nA,+15550002222\n".to_vec();
    let r =
        t.a.raw(
            Method::POST,
            &csv_path(&list, Some(r#"{"phone":"mobile"}"#)),
            body.clone(),
            "text/csv",
        )
        .await;
    r.assert_field_error("mapping.phone");
    let r =
        t.a.raw(
            Method::POST,
            &csv_path(&list, Some(r#"{"telephone":"phone"}"#)),
            body.clone(),
            "text/csv",
        )
        .await;
    r.assert_field_error("mapping.telephone");
    let r =
        t.a.raw(Method::POST, &csv_path(&list, Some("not json")), body.clone(), "text/csv")
            .await;
    r.assert_field_error("mapping");
    let r =
        t.a.raw(Method::POST, &csv_path(&list, None), b"name,email\nA,a@b.co\n".to_vec(), "text/csv")
            .await;
    r.assert_field_error("mapping.phone");
    let r =
        t.a.raw(Method::POST, &csv_path(&list, None), body.clone(), "application/json")
            .await;
    r.assert_error(415, "unsupported_media_type");
    let r = t.b.raw(Method::POST, &csv_path(&list, None), body.clone(), "text/csv").await;
    r.assert_error(404, "not_found");
    assert_eq!(before, t.snapshot(&t.a.org).await);
    // Without a mapping, columns named like the fields are used.
    let r = t.a.raw(Method::POST, &csv_path(&list, None), body, "text/csv").await;
    assert_eq!(r.body["imported"], 1, "{}", r.body);
}

/// A large CSV streamed from a generator: every row lands and the answer
/// arrives without the server holding the file (the body is far above the
/// JSON body limit, which does not apply to the stream).
#[tokio::test]
async fn a_large_csv_streams_in_batches() {
    let t = TestServer::start_with(|c| c.durability = switchboard_server::config::Durability::Normal).await;
    let list = new_list(&t.a, "Big").await;
    const ROWS: usize = 50_000;
    let chunks = (0..ROWS / 1000).map(|c| {
        let mut s = if c == 0 { String::from("phone,name\n") } else { String::new() };
        for i in c * 1000..(c + 1) * 1000 {
            s.push_str(&format!("+1555{i:07},Person {i}\n"));
        }
        Ok::<_, std::io::Error>(s)
    });
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let resp = reqwest::Client::new()
        .post(format!("{}{}", t.base, csv_path(&list, None)))
        .bearer_auth(&t.a.key)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let r = crate::support::into_resp(resp).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["imported"], ROWS as u64);
    assert_eq!(r.body["rejected"], 0);
    assert_eq!(t.a.get(&format!("/v1/contact-lists/{list}")).await.body["memberCount"], ROWS as u64);
}

#[tokio::test]
async fn import_limits_truncate_and_say_so() {
    let t = TestServer::start_with(|c| c.telephony.import_max_rows = 3).await;
    let list = new_list(&t.a, "Capped").await;
    let csv: String = std::iter::once("phone\n".to_owned())
        .chain((0..5).map(|i| format!("+1555000{i:04}\n")))
        .collect();
    let r = t.a.raw(Method::POST, &csv_path(&list, None), csv.into_bytes(), "text/csv").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["imported"].clone(), r.body["truncated"].clone()), (json!(3), json!(true)));
}

#[tokio::test]
async fn contact_lists_members_and_tenancy() {
    let t = TestServer::start().await;
    let c1 = t.a.new_contact(json!({"name": "A", "phone": "+15550000001"})).await;
    let list = new_list(&t.a, "VIP").await;
    let before = t.snapshot(&t.a.org).await;
    t.a.post(
        &format!("/v1/contact-lists/{list}/members"),
        json!({"contactIds": [c1, "cnt_01jb0000000000000000000000"]}),
    )
    .await
    .assert_field_error("contactIds[1]");
    t.a.post(&format!("/v1/contact-lists/{list}/members"), json!({"contactIds": []}))
        .await
        .assert_field_error("contactIds");
    t.a.post("/v1/contact-lists", json!({"description": "no name"}))
        .await
        .assert_field_error("name");
    assert_eq!(before, t.snapshot(&t.a.org).await);
    let r =
        t.a.post(&format!("/v1/contact-lists/{list}/members"), json!({"contactIds": [c1]}))
            .await;
    assert_eq!(r.body, json!({"added": 1, "memberCount": 1}));
    let lists = t.a.get("/v1/contact-lists").await;
    assert_eq!(lists.body["data"][0]["memberCount"], 1);
    t.b.get(&format!("/v1/contact-lists/{list}")).await.assert_error(404, "not_found");
    t.b.get(&format!("/v1/contact-lists/{list}/members"))
        .await
        .assert_error(404, "not_found");
    // Another organisation's contact cannot join.
    let other = t.b.new_contact(json!({"name": "B", "phone": "+15550000002"})).await;
    t.a.post(&format!("/v1/contact-lists/{list}/members"), json!({"contactIds": [other]}))
        .await
        .assert_field_error("contactIds[0]");
}

#[tokio::test]
async fn dnc_add_bulk_list_remove() {
    let t = TestServer::start().await;
    let r = t.a.post("/v1/dnc", json!({"phone": "+1 (555) 000-1111", "reason": "asked"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["added"], 1);
    let r =
        t.a.post("/v1/dnc/bulk", json!({"phones": ["+15550001111", "+15550002222", "+15550003333"]}))
            .await;
    assert_eq!(r.body, json!({"added": 2, "received": 3}));
    let list = t.a.get("/v1/dnc").await;
    assert_eq!(list.body["pagination"]["total"], 3);
    assert_eq!(
        list.body["data"][0],
        json!({"phone": "+15550001111", "reason": "asked", "createdAt": list.body["data"][0]["createdAt"]})
    );
    let before = t.snapshot(&t.a.org).await;
    t.a.post("/v1/dnc", json!({"phone": "12"})).await.assert_field_error("phone");
    t.a.post("/v1/dnc/bulk", json!({"phones": ["+15550004444", "nope"]}))
        .await
        .assert_field_error("phones[1]");
    t.a.post("/v1/dnc/bulk", json!({"phones": []})).await.assert_field_error("phones");
    assert_eq!(before, t.snapshot(&t.a.org).await);
    assert_eq!(t.a.get("/v1/dnc").await.body["pagination"]["total"], 3);
    assert_eq!(t.b.get("/v1/dnc").await.body["pagination"]["total"], 0);
    t.b.delete("/v1/dnc/%2B15550002222").await.assert_error(404, "not_found");
    let r = t.a.delete("/v1/dnc/%2B15550002222").await;
    assert_eq!(r.status, 204);
    t.a.delete("/v1/dnc/%2B15550002222").await.assert_error(404, "not_found");
    assert_eq!(t.a.get("/v1/dnc").await.body["pagination"]["total"], 2);
}
