//! The catalogue of event types a webhook can subscribe to, each with a
//! description and an example of its `data`. Every type the outbox emits is
//! here, and so are the ones later features will emit (campaigns, leads,
//! balance), so subscriptions can name them today.

use serde_json::{Value, json};

/// Every event type, with what it announces.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("call.scheduled", "A call was scheduled for later"),
    ("call.queued", "A call was created and waits to be dialled"),
    ("call.initiated", "A call is being dialled"),
    ("call.ringing", "The callee's phone is ringing"),
    ("call.answered", "The call was answered (in progress)"),
    ("call.completed", "The call ended normally (completed or voicemail)"),
    ("call.failed", "The call ended without a conversation: failed, busy or no answer"),
    ("call.canceled", "A call that had not been dialled was cancelled"),
    ("call.updated", "Fields of a call changed without a status change"),
    ("call.event", "An in-call event: mute, hold, transfer ..."),
    ("call.deleted", "A call was deleted"),
    ("calls.imported", "A batch of calls was imported"),
    ("recording.ready", "A call's recording is available"),
    ("transcription.complete", "A call's transcript is available"),
    (
        "transcript.updated",
        "A call's transcript gained a segment (live, as it is spoken or heard)",
    ),
    (
        "analysis.complete",
        "A call's conversation analysis is stored (sentiment, intent, keywords, summary, entities, compliance)",
    ),
    ("contact.created", "A contact was created"),
    ("contact.updated", "A contact changed"),
    ("contact.deleted", "A contact was deleted"),
    ("campaign.started", "A campaign started dialling"),
    ("campaign.paused", "A campaign was paused"),
    ("campaign.completed", "A campaign finished"),
    (
        "agent.status_changed",
        "An agent's status changed (offline, available, on_call, after_call_work, break, missed)",
    ),
    (
        "agent.offered",
        "The router offered a queued call to an agent, who must accept it before it expires",
    ),
    ("lead.imported", "Leads were imported into a campaign"),
    ("balance.low", "The account's balance fell below its threshold"),
    ("webhook.disabled", "A webhook endpoint was disabled after failing for 5 days"),
];

pub fn is_known(event_type: &str) -> bool {
    EVENT_TYPES.iter().any(|(t, _)| *t == event_type)
}

/// Whether `category` (`call`, `contact`, ...) starts some event type.
pub fn is_known_category(category: &str) -> bool {
    EVENT_TYPES
        .iter()
        .any(|(t, _)| t.split_once('.').is_some_and(|(c, _)| c == category))
}

fn call(status: &str, extra: &[(&str, Value)]) -> Value {
    let mut v = json!({
        "callId": "call_0696bc5xqk7ht3g6s9bb8qjv2r",
        "status": status,
        "direction": "outbound",
        "from": "+14155550100",
        "to": "+15551234567",
        "contactId": "cnt_0696bc4zq3c5sd0a2w1y8x6f7e",
        "campaignId": "cmp_0696bc2m1a9qv8x3j6t0n4r5s2",
        "customerId": "LOAN4521",
        "customerName": "Rajesh Kumar",
        "callType": "collections",
        "agentId": "AGT12",
        "externalId": "CA5f1b0c9d8e7f6a5b4c3d2e1f0a9b8c7",
        "duration": null,
        "outcome": null,
        "recording": null,
        "sentiment": null
    });
    for (k, val) in extra {
        v[*k] = val.clone();
    }
    v
}

fn contact() -> Value {
    json!({
        "contactId": "cnt_0696bc4zq3c5sd0a2w1y8x6f7e",
        "name": "John Smith",
        "phone": "+15551234567",
        "email": "john.smith@example.com",
        "company": "Acme Inc",
        "tags": ["customer", "vip"],
        "externalId": "CRM-1001"
    })
}

fn campaign(status: &str) -> Value {
    json!({
        "campaignId": "cmp_0696bc2m1a9qv8x3j6t0n4r5s2",
        "name": "Overdue 45 days",
        "status": status,
        "totalContacts": 152,
        "completedCalls": if status == "completed" { 152 } else { 0 }
    })
}

/// An example `data` object for `event_type` (`null` for unknown types).
pub fn example_data(event_type: &str) -> Value {
    match event_type {
        "call.scheduled" => call("scheduled", &[("scheduledAt", json!("2025-05-21T10:00:00Z"))]),
        "call.queued" => call("queued", &[]),
        "call.initiated" => call("initiated", &[("previousStatus", json!("queued"))]),
        "call.ringing" => call("ringing", &[("previousStatus", json!("initiated"))]),
        "call.answered" => call("in-progress", &[("previousStatus", json!("ringing"))]),
        "call.completed" => call(
            "completed",
            &[
                ("previousStatus", json!("in-progress")),
                ("duration", json!(223)),
                ("outcome", json!("successful")),
                (
                    "recording",
                    json!("https://recordings.example.com/call_0696bc5xqk7ht3g6s9bb8qjv2r.mp3"),
                ),
                ("sentiment", json!("positive")),
            ],
        ),
        "call.failed" => call("no-answer", &[("previousStatus", json!("ringing"))]),
        "call.canceled" => call("cancelled", &[("previousStatus", json!("scheduled"))]),
        "call.updated" => call("in-progress", &[("outcome", json!("callback"))]),
        "call.event" => call(
            "in-progress",
            &[(
                "event",
                json!({"kind": "hold", "at": "2025-05-20T15:31:02Z", "data": {"seconds": 30}}),
            )],
        ),
        "call.deleted" => call("completed", &[("duration", json!(223))]),
        "calls.imported" => json!({"count": 2, "callIds": ["call_0696bc5xqk7ht3g6s9bb8qjv2r", "call_0696bc5xqk7ht3g6s9bb8qjv2s"]}),
        "recording.ready" => json!({
            "callId": "call_0696bc5xqk7ht3g6s9bb8qjv2r",
            "recordingUrl": "https://recordings.example.com/call_0696bc5xqk7ht3g6s9bb8qjv2r.mp3",
            "duration": 223
        }),
        "transcription.complete" => json!({
            "callId": "call_0696bc5xqk7ht3g6s9bb8qjv2r",
            "transcript": "Agent: Hello, am I speaking with Rajesh? Customer: Yes ...",
            "sentiment": "positive",
            "summary": "Customer agreed to pay the overdue amount on Friday."
        }),
        "transcript.updated" => json!({
            "callId": "call_0696bc5xqk7ht3g6s9bb8qjv2r",
            "seq": 3,
            "segment": {"speaker": "customer", "text": "Can you call me back tomorrow at 3?", "startMs": 8200, "endMs": 10400, "confidence": 0.92, "isFinal": true}
        }),
        "analysis.complete" => json!({
            "callId": "call_0696bc5xqk7ht3g6s9bb8qjv2r",
            "status": "completed",
            "analysis": {
                "status": "completed",
                "engine": "builtin",
                "sentiment": {"label": "positive", "score": 0.42},
                "intent": {"name": "payment_promise", "confidence": 0.91, "evidence": [{"segment": 3, "start": 0, "end": 24}]},
                "summary": {"text": "I will pay the 50 dollars on Friday.", "engine": "builtin", "sentences": [{"speaker": "customer", "evidence": {"segment": 3, "start": 0, "end": 36}}]},
                "entities": [{"kind": "money", "value": "50.00 USD", "amount": 50.0, "currency": "USD", "evidence": {"segment": 3, "start": 15, "end": 25}}]
            }
        }),
        "contact.created" | "contact.updated" | "contact.deleted" => contact(),
        "campaign.started" => campaign("active"),
        "campaign.paused" => campaign("paused"),
        "campaign.completed" => campaign("completed"),
        "agent.status_changed" => json!({
            "agentId": "usr_0696bc7k2m4n6p8r0t2v4x6z8a",
            "status": "break",
            "previousStatus": "available",
            "reason": "lunch",
            "secondsInPrevious": 1260,
            "department": "dep_0696bc8a1b2c3d4e5f6g7h8j9k",
            "at": "2025-05-20T12:31:02Z"
        }),
        "agent.offered" => json!({
            "agentId": "usr_0696bc7k2m4n6p8r0t2v4x6z8a",
            "callId": "call_0696bc5xqk7ht3g6s9bb8qjv2r",
            "queueId": "que_0696bc9a1b2c3d4e5f6g7h8j9k",
            "expiresAt": "2025-05-20T12:31:22Z"
        }),
        "lead.imported" => json!({
            "campaignId": "cmp_0696bc2m1a9qv8x3j6t0n4r5s2",
            "imported": 150,
            "rejected": 2,
            "source": "csv"
        }),
        "balance.low" => json!({
            "balance": {"amount": 4.5, "currency": "USD", "minutes": 30},
            "threshold": {"amount": 10.0, "currency": "USD"}
        }),
        "webhook.disabled" => json!({
            "webhookId": "wh_0696bc1r8m3n2q5t7v9x0z1a2b",
            "url": "https://crm.example.com/hooks/switchboard",
            "failingSince": "2025-05-15T15:33:45Z",
            "reason": "every attempt failed for 5 days"
        }),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_an_example_and_a_category() {
        for (t, d) in EVENT_TYPES {
            assert!(example_data(t).is_object(), "{t}");
            assert!(!d.is_empty());
            assert!(is_known_category(t.split('.').next().unwrap()));
        }
        assert!(!is_known("call.nope"));
        assert!(!is_known_category("nope"));
    }

    #[test]
    fn every_call_status_event_is_listed() {
        use crate::CallStatus::*;
        for s in [
            Scheduled, Queued, Initiated, Ringing, InProgress, Completed, Busy, NoAnswer, Failed, Canceled, Voicemail,
        ] {
            assert!(is_known(s.event_type()), "{}", s.event_type());
        }
    }
}
