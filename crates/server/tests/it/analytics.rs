//! Analytics endpoints against a brute-force recomputation from the raw
//! call rows, for random call sets that cross midnights and DST changes in
//! +05:30, +05:45 and DST zones; plus corrections, deletes, concurrency,
//! bad input and exports.

use std::collections::BTreeMap;

use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use switchboard_domain::{Call, CallStatus, Direction};

use crate::support::{Client, TestServer};

const ZONES: [&str; 6] = [
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "UTC",
];
const STATUSES: [&str; 10] = [
    "completed",
    "completed",
    "completed",
    "no-answer",
    "busy",
    "failed",
    "voicemail",
    "in-progress",
    "queued",
    "canceled",
];
const OUTCOMES: [Option<&str>; 4] = [Some("successful"), Some("refused"), Some("callback"), None];

/// A call to create, chosen at random.
#[derive(Debug, Clone)]
struct Spec {
    /// Seconds from a base instant near a DST change.
    offset: i64,
    status: usize,
    outcome: usize,
    duration: i64,
    agent: u8,
    campaign: u8,
    call_type: u8,
    inbound: bool,
    loan: u8,
    days_overdue: Option<u16>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        // Around midnights, across two weeks either side of 2025-03-09/03-30 and 2025-11-02 DST changes.
        prop_oneof![
            -1_209_600i64..1_209_600,
            (-20i64..20).prop_map(|d| d * 86_400 + 18 * 3600 + 30 * 60 - 60)
        ],
        0..STATUSES.len(),
        0..OUTCOMES.len(),
        0i64..700,
        0u8..4,
        0u8..3,
        0u8..3,
        any::<bool>(),
        0u8..3,
        proptest::option::of(0u16..200),
    )
        .prop_map(
            |(offset, status, outcome, duration, agent, campaign, call_type, inbound, loan, days_overdue)| Spec {
                offset,
                status,
                outcome,
                duration,
                agent,
                campaign,
                call_type,
                inbound,
                loan,
                days_overdue,
            },
        )
}

/// 2025-03-09T00:00:00Z, the day the US springs forward; sets span it and
/// the end of March (Europe) by their offsets.
const BASE: i64 = 1_741_478_400;

fn body(s: &Spec) -> Value {
    let at = chrono::DateTime::from_timestamp(BASE + s.offset, 0).unwrap();
    let call_type = ["collections", "sales", "support"][s.call_type as usize];
    let loan_type = ["Business", "Home", "Gold"][s.loan as usize];
    let mut b = json!({
        "phone": format!("+1415555{:04}", s.agent as u32 * 100 + s.loan as u32),
        "direction": if s.inbound { "inbound" } else { "outbound" },
        "status": STATUSES[s.status],
        "initiatedAt": at.to_rfc3339(),
        "agentId": format!("AGT{}", s.agent),
        "agentName": format!("Agent {}", s.agent),
        "campaignId": format!("cmp{}", s.campaign),
        "callType": call_type,
        "customerId": format!("CUST{}", s.loan),
        "customerName": format!("Customer {}", s.loan),
        "customerContext": {"loanType": loan_type},
        "metadata": {"campaign": format!("meta{}", s.campaign)},
    });
    if let Some(d) = s.days_overdue {
        b["customerContext"]["daysOverdue"] = json!(d);
    }
    if !["queued", "in-progress", "canceled"].contains(&STATUSES[s.status]) {
        b["duration"] = json!(s.duration);
    }
    if let Some(o) = OUTCOMES[s.outcome] {
        b["outcome"] = json!(o);
    }
    b
}

/// The raw rows, straight from the store.
async fn rows(t: &TestServer, c: &Client) -> Vec<Call> {
    let page = switchboard_store::Page { page: 1, limit: 100_000 };
    t.store.list_calls(&c.org.id, &Default::default(), page).await.unwrap().0
}

/// Brute-force counters over the rows in a window, written independently
/// of the analytics crate from the definitions in docs/analytics.md.
#[derive(Default, Debug, Clone, PartialEq)]
struct Brute {
    calls: u64,
    completed: u64,
    answered: u64,
    missed: u64,
    successful: u64,
    attempted: u64,
    inbound: u64,
    total_duration: u64,
    completed_duration: u64,
    completed_with_duration: u64,
}

impl Brute {
    fn add(&mut self, c: &Call) {
        let st = c.status;
        self.calls += 1;
        self.completed += u64::from(st == CallStatus::Completed);
        self.answered += u64::from(matches!(st, CallStatus::Completed | CallStatus::InProgress));
        // Missed: rang out, busy or cancelled (docs/analytics.md).
        self.missed += u64::from(matches!(st, CallStatus::NoAnswer | CallStatus::Busy | CallStatus::Canceled));
        self.successful += u64::from(c.outcome.as_deref() == Some("successful"));
        self.attempted += u64::from(!matches!(st, CallStatus::Queued | CallStatus::Scheduled | CallStatus::Canceled));
        self.inbound += u64::from(c.direction == Direction::Inbound);
        let d = c.duration.unwrap_or(0) as u64;
        self.total_duration += d;
        if st == CallStatus::Completed {
            self.completed_duration += d;
            self.completed_with_duration += u64::from(c.duration.is_some());
        }
    }
    fn pct(n: u64, d: u64) -> f64 {
        if d == 0 {
            0.0
        } else {
            (n as f64 * 1000.0 / d as f64).round() / 10.0
        }
    }
    fn avg(n: u64, d: u64) -> u64 {
        (n + d / 2).checked_div(d).unwrap_or(0)
    }
}

fn outcome_label(c: &Call) -> Option<String> {
    if let Some(o) = &c.outcome {
        return Some(o.clone());
    }
    Some(
        match c.status {
            CallStatus::Completed => "completed",
            CallStatus::NoAnswer => "noAnswer",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
            CallStatus::Voicemail => "voicemail",
            CallStatus::Canceled => "canceled",
            _ => return None,
        }
        .to_owned(),
    )
}

fn local(c: &Call, tz: Tz) -> chrono::DateTime<Tz> {
    c.occurred_at().with_timezone(&tz)
}

/// calls, completed, missed, total duration, average duration, success rate.
type Row = (u64, u64, u64, u64, u64, f64);

/// Compares every endpoint with the brute force for one zone and window.
async fn check_all(t: &TestServer, c: &Client, zone: &str, window: Option<(i64, i64)>) {
    let tz: Tz = zone.parse().unwrap();
    let all = rows(t, c).await;
    let in_window: Vec<&Call> = all
        .iter()
        .filter(|r| window.is_none_or(|(s, e)| (s..e).contains(&r.occurred_at().timestamp())))
        .collect();
    let range = window
        .map(|(s, e)| {
            let f = |v: i64| {
                chrono::DateTime::from_timestamp(v, 0)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    .replace('+', "%2B")
            };
            format!("&startDate={}&endDate={}", f(s), f(e))
        })
        .unwrap_or_default();
    let q = |path: &str| format!("{path}?tz={zone}{range}");

    // Totals.
    let mut b = Brute::default();
    in_window.iter().for_each(|r| b.add(r));
    let r = c.get(&q("/v1/analytics/calls")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalCalls"], b.calls, "{zone}");
    assert_eq!(r.body["completedCalls"], b.completed);
    assert_eq!(r.body["answeredCalls"], b.answered);
    assert_eq!(r.body["missedCalls"], b.missed);
    assert_eq!(r.body["avgDuration"], Brute::avg(b.completed_duration, b.completed_with_duration));
    assert_eq!(r.body["successRate"].as_f64().unwrap(), Brute::pct(b.successful, b.completed));
    assert_eq!(r.body["answerRate"].as_f64().unwrap(), Brute::pct(b.answered, b.attempted));
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for r in &in_window {
        if let Some(l) = outcome_label(r) {
            *outcomes.entry(l).or_default() += 1;
        }
    }
    assert_eq!(
        serde_json::from_value::<BTreeMap<String, u64>>(r.body["callsByOutcome"].clone()).unwrap(),
        outcomes
    );
    // Days, weeks, months in the zone.
    for (group, key) in [("day", "%Y-%m-%d"), ("week", "W"), ("month", "%Y-%m-01")] {
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for r in &in_window {
            let l = local(r, tz);
            let label = match key {
                "W" => (l.date_naive() - chrono::Duration::days(l.weekday().num_days_from_monday() as i64))
                    .format("%Y-%m-%d")
                    .to_string(),
                k => l.format(k).to_string(),
            };
            *want.entry(label).or_default() += 1;
        }
        let r = c.get(&format!("{}&groupBy={group}", q("/v1/analytics/calls"))).await;
        let got: BTreeMap<String, u64> = r.body["callsByTime"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["calls"].as_u64().unwrap() > 0)
            .map(|p| (p["date"].as_str().unwrap().to_owned(), p["calls"].as_u64().unwrap()))
            .collect();
        assert_eq!(got, want, "{zone} groupBy={group}");
    }
    // Breakdowns by every dimension.
    type KeyFn = Box<dyn Fn(&Call) -> Option<String>>;
    let tzc = tz;
    let dims: Vec<(&str, KeyFn)> = vec![
        ("hour", Box::new(move |r| Some(local(r, tzc).hour().to_string()))),
        (
            "dayOfWeek",
            Box::new(move |r| Some(local(r, tzc).weekday().num_days_from_sunday().to_string())),
        ),
        ("date", Box::new(move |r| Some(local(r, tzc).format("%Y-%m-%d").to_string()))),
        ("callType", Box::new(|r| r.call_type.clone())),
        ("direction", Box::new(|r| Some(r.direction.as_str().to_owned()))),
        ("status", Box::new(|r| Some(r.status.as_str().to_owned()))),
        ("outcome", Box::new(outcome_label)),
        ("agent", Box::new(|r| r.agent_id.clone())),
        ("campaign", Box::new(|r| r.campaign_id.clone())),
        (
            "customer",
            Box::new(|r| r.customer_external_id.clone().or_else(|| r.customer_phone.clone())),
        ),
        (
            "duration",
            Box::new(|r| {
                // Calls without talk time are in no bucket: the null group.
                let d = r.duration.filter(|d| *d > 0)?;
                Some(
                    ["0-30s", "30s-1m", "1m-3m", "3m-5m", "5m+"][[30, 60, 180, 300, i64::MAX].iter().position(|e| d < *e).unwrap()]
                        .to_owned(),
                )
            }),
        ),
        (
            "context.loanType",
            Box::new(|r| r.customer_context.as_ref().and_then(|c| c["loanType"].as_str().map(str::to_owned))),
        ),
        (
            "context.daysOverdue",
            Box::new(|r| {
                r.customer_context
                    .as_ref()
                    .and_then(|c| c["daysOverdue"].as_u64().map(|v| v.to_string()))
            }),
        ),
        (
            "metadata.campaign",
            Box::new(|r| r.metadata.as_ref().and_then(|c| c["campaign"].as_str().map(str::to_owned))),
        ),
    ];
    for (by, key) in dims {
        let mut want: BTreeMap<Option<String>, Brute> = BTreeMap::new();
        for r in &in_window {
            want.entry(key(r)).or_default().add(r);
        }
        let r = c.get(&format!("{}&by={by}", q("/v1/analytics/breakdown"))).await;
        assert_eq!(r.status, 200, "{by}: {}", r.body);
        let got: BTreeMap<Option<String>, Row> = r.body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["calls"].as_u64().unwrap() > 0)
            .map(|g| {
                (
                    g["key"].as_str().map(str::to_owned),
                    (
                        g["calls"].as_u64().unwrap(),
                        g["completed"].as_u64().unwrap(),
                        g["missed"].as_u64().unwrap(),
                        g["totalDuration"].as_u64().unwrap(),
                        g["avgDuration"].as_u64().unwrap(),
                        g["successRate"].as_f64().unwrap(),
                    ),
                )
            })
            .collect();
        let want: BTreeMap<Option<String>, Row> = want
            .into_iter()
            .map(|(k, b)| {
                (
                    k,
                    (
                        b.calls,
                        b.completed,
                        b.missed,
                        b.total_duration,
                        Brute::avg(b.completed_duration, b.completed_with_duration),
                        Brute::pct(b.successful, b.completed),
                    ),
                )
            })
            .collect();
        assert_eq!(got, want, "{zone} by={by}");
    }
    // Binned numeric context.
    let r = c
        .get(&format!(
            "{}&by=context.daysOverdue&bins=0,50,100,150",
            q("/v1/analytics/breakdown")
        ))
        .await;
    let mut want: BTreeMap<Option<String>, u64> = BTreeMap::new();
    for r in &in_window {
        let k = r.customer_context.as_ref().and_then(|c| c["daysOverdue"].as_u64()).map(|d| {
            ["<0", "0-50", "50-100", "100-150", "150+"][[0, 50, 100, 150, u64::MAX].iter().position(|e| d < *e).unwrap()].to_owned()
        });
        *want.entry(k).or_default() += 1;
    }
    let got: BTreeMap<Option<String>, u64> = r.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().map(str::to_owned), g["calls"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, want, "bins");
    // Campaigns and agents.
    let r = c.get(&q("/v1/analytics/campaigns")).await;
    for camp in r.body["campaigns"].as_array().unwrap() {
        let mut b = Brute::default();
        in_window
            .iter()
            .filter(|r| r.campaign_id.as_deref() == camp["id"].as_str())
            .for_each(|r| b.add(r));
        assert_eq!(camp["totalCalls"], b.calls);
        assert_eq!(camp["successfulCalls"], b.successful);
        assert_eq!(camp["conversionRate"].as_f64().unwrap(), Brute::pct(b.successful, b.calls));
        assert_eq!(camp["avgDuration"], Brute::avg(b.completed_duration, b.completed_with_duration));
    }
    assert_eq!(
        r.body["overall"]["totalCalls"],
        in_window.iter().filter(|r| r.campaign_id.is_some()).count()
    );
    let r = c.get(&q("/v1/analytics/agents")).await;
    for a in r.body["agents"].as_array().unwrap() {
        let mut b = Brute::default();
        in_window
            .iter()
            .filter(|r| r.agent_id.as_deref() == a["agentId"].as_str())
            .for_each(|r| b.add(r));
        assert_eq!(
            (a["calls"].as_u64(), a["talkTime"].as_u64(), a["avgHandleTime"].as_u64()),
            (
                Some(b.calls),
                Some(b.total_duration),
                Some(Brute::avg(b.total_duration, b.answered))
            )
        );
    }
    // Summary.
    let r = c.get(&q("/v1/analytics/summary")).await;
    assert_eq!(
        (
            r.body["totalCalls"].as_u64(),
            r.body["inboundCalls"].as_u64(),
            r.body["outboundCalls"].as_u64()
        ),
        (Some(b.calls), Some(b.inbound), Some(b.calls - b.inbound))
    );
    assert_eq!(r.body["totalDuration"], b.total_duration);
}

#[test]
fn endpoints_equal_brute_force_over_random_call_sets() {
    let mut runner = TestRunner::new(Config {
        cases: 6,
        ..Config::default()
    });
    let strategy = (
        proptest::collection::vec(spec(), 20..120),
        proptest::sample::select(ZONES.to_vec()),
        0i64..20,
        1i64..40,
    );
    runner
        .run(&strategy, |(specs, zone, from_day, days)| {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let t = TestServer::start().await;
                for s in &specs {
                    t.a.new_call(body(s)).await;
                }
                check_all(&t, &t.a, zone, None).await;
                let start = BASE - 14 * 86_400 + from_day * 86_400 + 5 * 3600 + 45 * 60;
                check_all(&t, &t.a, zone, Some((start, start + days * 86_400))).await;
                // The other organisation sees none of it.
                assert_eq!(t.b.get("/v1/analytics/calls").await.body["totalCalls"], 0);
            });
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn corrections_deletes_and_concurrent_writes_stay_exact() {
    let t = TestServer::start().await;
    let c = &t.a;
    // Warm the index, then change things under it.
    c.get("/v1/analytics/calls").await;
    let id = c
        .new_call(json!({"phone": "+15551230001", "agentId": "A", "status": "failed", "initiatedAt": "2025-05-20T10:00:00Z"}))
        .await;
    let r = c.get("/v1/analytics/calls").await;
    assert_eq!((r.body["totalCalls"].as_u64(), r.body["failedCalls"].as_u64()), (Some(1), Some(1)));
    // First reported failed, then corrected to completed.
    c.post(
        &format!("/v1/calls/{id}/events"),
        json!({"status": "completed", "correction": true, "duration": 60, "outcome": "successful"}),
    )
    .await;
    let r = c.get("/v1/analytics/calls").await;
    assert_eq!(
        (
            r.body["failedCalls"].as_u64(),
            r.body["completedCalls"].as_u64(),
            r.body["successRate"].as_f64()
        ),
        (Some(0), Some(1), Some(100.0))
    );
    // Deleted calls leave every figure.
    c.delete(&format!("/v1/calls/{id}")).await;
    assert_eq!(c.get("/v1/analytics/calls").await.body["totalCalls"], 0);
    assert_eq!(c.get("/v1/analytics/breakdown?by=agent").await.body["groups"], json!([]));
    // Concurrent writers while readers query.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let id = c
                    .new_call(json!({"phone": "+15551230002", "agentId": format!("W{w}"), "initiatedAt": "2025-05-21T10:00:00Z"}))
                    .await;
                if i % 2 == 0 {
                    c.post(&format!("/v1/calls/{id}/events"), json!({"status": "completed", "duration": 10}))
                        .await;
                }
                c.get("/v1/analytics/summary").await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    check_all(&t, c, "Asia/Kathmandu", None).await;
    let r = c.get("/v1/analytics/calls").await;
    assert_eq!(
        (r.body["totalCalls"].as_u64(), r.body["completedCalls"].as_u64()),
        (Some(200), Some(104))
    );
}

#[tokio::test]
async fn index_rebuilds_from_the_store() {
    let t = TestServer::start().await;
    for i in 0..30 {
        t.a.new_call(json!({"phone": "+15551230003", "status": "completed", "duration": i, "initiatedAt": "2025-05-21T10:00:00Z"}))
            .await;
    }
    // A fresh service over the same store starts from the rows.
    let fresh = switchboard_analytics::Analytics::new(t.store.clone());
    let org = t.a.org.id.clone();
    let totals = fresh
        .query(&org, |tab| switchboard_analytics::query::totals(tab, &Default::default()))
        .await
        .unwrap();
    assert_eq!((totals.calls, totals.total_duration), (30, (0..30).sum::<u64>()));
    assert_eq!(fresh.size().calls, 30);
}

#[tokio::test]
async fn an_index_behind_the_pruned_outbox_rebuilds_and_stays_exact() {
    let t = TestServer::start().await;
    let org = t.a.org.id.clone();
    let totals = |a: std::sync::Arc<switchboard_analytics::Analytics>| {
        let org = org.clone();
        async move {
            let r = a
                .query(&org, |tab| switchboard_analytics::query::totals(tab, &Default::default()))
                .await
                .unwrap();
            (r.calls, r.total_duration)
        }
    };
    let call = |i: u64| json!({"phone": "+15551230003", "status": "completed", "duration": i, "initiatedAt": "2025-05-21T10:00:00Z"});
    for i in 0..5 {
        t.a.new_call(call(i)).await;
    }
    // An index up to date with the first five calls, then left alone.
    let idle = switchboard_analytics::Analytics::new(t.store.clone());
    assert_eq!(totals(idle.clone()).await, (5, 10));
    // Meanwhile: more calls, one deleted, and every event of them pruned.
    let mut last = String::new();
    for i in 5..10 {
        last = t.a.new_call(call(i)).await;
    }
    assert_eq!(t.a.delete(&format!("/v1/calls/{last}")).await.status, 204);
    let worker = switchboard_server::workers::webhooks::WebhookWorker::new(t.store.clone(), Default::default()).unwrap();
    worker.run_once().await.unwrap();
    let pruned = worker
        .prune_outbox(switchboard_domain::now() + chrono::TimeDelta::days(31))
        .await
        .unwrap();
    assert!(pruned >= 5, "{pruned}");
    // The idle index cannot replay what is gone: it rebuilds, exactly.
    assert_eq!(totals(idle.clone()).await, (9, (0..9).sum::<u64>()));
    // And goes on tailing the outbox from there.
    t.a.new_call(call(100)).await;
    assert_eq!(totals(idle).await, (10, (0..9).sum::<u64>() + 100));
}

#[tokio::test]
async fn bad_analytics_parameters() {
    let t = TestServer::start().await;
    for (path, field) in [
        ("/v1/analytics/breakdown", "by"),
        ("/v1/analytics/breakdown?by=shoeSize", "by"),
        ("/v1/analytics/breakdown?by=context.", "by"),
        ("/v1/analytics/breakdown?by=hour&tz=Mars/Olympus", "tz"),
        ("/v1/analytics/calls?tz=EST5EDTX", "tz"),
        ("/v1/analytics/calls?startDate=2025-06-01&endDate=2025-05-01", "startDate"),
        ("/v1/analytics/calls?startDate=yesterday", "startDate"),
        ("/v1/analytics/agents?endDate=2025-02-30", "endDate"),
        ("/v1/analytics/calls?groupBy=fortnight", "groupBy"),
        ("/v1/analytics/breakdown?by=context.days&bins=30,10", "bins"),
        ("/v1/analytics/breakdown?by=context.days&bins=1,x", "bins"),
        ("/v1/analytics/breakdown?by=hour&bins=1,2", "bins"),
        ("/v1/analytics/breakdown?by=customer&limit=0", "limit"),
        ("/v1/analytics/breakdown?by=customer&sort=size", "sort"),
        ("/v1/analytics/summary?direction=sideways", "direction"),
        ("/v1/calls/export?format=xml", "format"),
        ("/v1/calls/export?tz=Nowhere", "tz"),
    ] {
        t.a.get(path).await.assert_field_error(field);
    }
}

#[tokio::test]
async fn top_customers_and_summary_usage() {
    let t = TestServer::start().await;
    for (cust, n, d) in [("LOAN1", 3, 10), ("LOAN2", 1, 500), ("LOAN3", 2, 20)] {
        for _ in 0..n {
            t.a.new_call(json!({"phone": "+15551230004", "customerId": cust, "customerName": format!("Name {cust}"), "status": "completed", "duration": d})).await;
        }
    }
    let by_calls = t.a.get("/v1/analytics/breakdown?by=customer&limit=2").await;
    let keys: Vec<&str> = by_calls.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["LOAN1", "LOAN3"]);
    assert_eq!(by_calls.body["groups"][0]["name"], "Name LOAN1");
    let by_duration = t.a.get("/v1/analytics/breakdown?by=customer&sort=duration&limit=1").await;
    assert_eq!(by_duration.body["groups"][0]["key"], "LOAN2");
    let s = t.a.get("/v1/analytics/summary").await;
    assert_eq!(
        (
            s.body["callsThisMonth"].as_u64(),
            s.body["planLimit"].clone(),
            s.body["plan"].as_str()
        ),
        (Some(6), Value::Null, Some("unlimited"))
    );
}

#[tokio::test]
async fn exports_stream_every_row_with_correct_quoting() {
    let t = TestServer::start().await;
    let tricky = "Kumar, \"Raj\"\nÜnïcödé 山田";
    t.a.new_call(json!({"phone": "+919876543210", "customerName": tricky, "customerId": "LOAN001", "status": "completed", "duration": 270,
        "initiatedAt": "2024-10-12T10:30:00Z", "answeredAt": "2024-10-12T10:30:15Z", "endedAt": "2024-10-12T10:34:45Z", "customerContext": {"note": "a,b"}})).await;
    for i in 0..2345 {
        t.a.new_call(
            json!({"phone": "+15551230005", "customerId": format!("C{i}"), "callType": if i % 2 == 0 { "sales" } else { "support" }}),
        )
        .await;
    }
    t.b.new_call(json!({"phone": "+15551230006"})).await;
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/v1/calls/export?format=csv&tz=UTC", t.base))
        .bearer_auth(&t.a.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        &header[..8],
        &[
            "Session ID",
            "Customer Name",
            "Phone Number",
            "Direction",
            "Start Time",
            "End Time",
            "Duration (s)",
            "Customer ID"
        ]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 2346);
    let first = &records[0];
    assert_eq!(&first[1], tricky);
    assert_eq!(
        (&first[2], &first[3], &first[4], &first[5], &first[6], &first[7]),
        (
            "+919876543210",
            "outbound",
            "2024-10-12 10:30:00",
            "2024-10-12 10:34:45",
            "270",
            "LOAN001"
        )
    );
    assert!(first.iter().any(|f| f == r#"{"note":"a,b"}"#));
    // Filters apply; JSON is one array.
    let json_text = http
        .get(format!("{}/v1/calls/export?format=json&callType=sales", t.base))
        .bearer_auth(&t.a.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let arr: Vec<Value> = serde_json::from_str(&json_text).unwrap();
    assert_eq!(arr.len(), 1173);
    assert!(arr.iter().all(|c| c["callType"] == "sales"));
    let empty: Vec<Value> = serde_json::from_str(
        &http
            .get(format!("{}/v1/calls/export?callType=none", t.base))
            .bearer_auth(&t.a.key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(empty.is_empty());
    let _ = chrono_tz::UTC.timestamp_opt(0, 0);
}
