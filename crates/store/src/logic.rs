//! What both backends write besides the entity itself: timeline entries and
//! the domain events announcing a change. Kept here so SQLite and PostgreSQL
//! emit exactly the same outbox.

use serde_json::{Value, json};
use switchboard_domain::call::Applied;
use switchboard_domain::{Call, Contact, DomainEvent, TimelineEntry, Timestamp};

/// The first timeline entry of a new call.
pub(crate) fn created_entry(call: &Call) -> TimelineEntry {
    TimelineEntry {
        kind: format!("status.{}", call.status.as_str()),
        at: call.created_at,
        data: None,
    }
}

fn with(mut data: Value, key: &str, value: Value) -> Value {
    if let Value::Object(map) = &mut data {
        map.insert(key.to_owned(), value);
    }
    data
}

/// Events for a call just stored.
pub(crate) fn call_created_events(call: &Call) -> Vec<DomainEvent> {
    let mut out = vec![DomainEvent::new(
        &call.org_id,
        call.status.event_type(),
        call.event_data(),
        call.created_at,
    )];
    out.extend(artefact_events(None, call, call.created_at));
    out
}

/// Events for a call changed by a report: the status reached, or
/// `call.updated` when only fields changed, plus artefacts that appeared.
pub(crate) fn call_changed_events(before: &Call, after: &Call, applied: &Applied, now: Timestamp) -> Vec<DomainEvent> {
    let mut out = Vec::new();
    if let Some((from, to)) = applied.status {
        let data = with(after.event_data(), "previousStatus", json!(from.as_str()));
        out.push(DomainEvent::new(&after.org_id, to.event_type(), data, now));
    } else if applied.fields {
        out.push(DomainEvent::new(&after.org_id, "call.updated", after.event_data(), now));
    }
    for entry in applied.timeline.iter().filter(|e| !e.kind.starts_with("status.")) {
        let data = with(
            after.event_data(),
            "event",
            json!({ "kind": entry.kind, "at": entry.at, "data": entry.data }),
        );
        out.push(DomainEvent::new(&after.org_id, "call.event", data, now));
    }
    out.extend(artefact_events(Some(before), after, now));
    out
}

/// `recording.ready` and `transcription.complete` when a call gains (or
/// changes) its recording or transcript.
fn artefact_events(before: Option<&Call>, after: &Call, now: Timestamp) -> Vec<DomainEvent> {
    let mut out = Vec::new();
    if after.recording_url.is_some() && before.map(|b| &b.recording_url) != Some(&after.recording_url) {
        let data = json!({ "callId": after.id, "recordingUrl": after.recording_url, "duration": after.duration });
        out.push(DomainEvent::new(&after.org_id, "recording.ready", data, now));
    }
    if after.transcript.is_some() && before.map(|b| &b.transcript) != Some(&after.transcript) {
        let data = json!({ "callId": after.id, "transcript": after.transcript, "sentiment": after.sentiment.map(|s| s.as_str()), "summary": after.summary });
        out.push(DomainEvent::new(&after.org_id, "transcription.complete", data, now));
    }
    out
}

/// One event for a batch of imported calls of one organisation.
pub(crate) fn calls_imported_event(org: &switchboard_domain::OrgId, ids: &[&switchboard_domain::CallId], now: Timestamp) -> DomainEvent {
    DomainEvent::new(org, "calls.imported", json!({ "count": ids.len(), "callIds": ids }), now)
}

pub(crate) fn call_deleted_event(call: &Call, now: Timestamp) -> DomainEvent {
    DomainEvent::new(&call.org_id, "call.deleted", call.event_data(), now)
}

pub(crate) fn contact_event(kind: &str, contact: &Contact, now: Timestamp) -> DomainEvent {
    DomainEvent::new(&contact.org_id, kind, contact.event_data(), now)
}

pub(crate) fn now() -> Timestamp {
    switchboard_domain::now()
}

/// How a report changes a call's transcript segments.
pub(crate) enum SegmentWrite {
    Nothing,
    /// Live segments after the ones stored.
    Append(Vec<switchboard_domain::transcript::Segment>),
    /// A transcript sent as text: its segments replace the stored ones.
    Replace(Vec<switchboard_domain::transcript::Segment>),
}

/// What `report` does to the transcript of a call that went from
/// `before` (None when new) to `after`: a changed text transcript is split
/// into segments by its speaker prefixes; live segments are appended.
pub(crate) fn segment_write(before: Option<&Call>, after: &Call, live: &[switchboard_domain::transcript::Segment]) -> SegmentWrite {
    use switchboard_domain::transcript::{MAX_SEGMENTS, split_text};
    let text_changed = after.transcript.is_some() && before.map(|b| &b.transcript) != Some(&after.transcript);
    if text_changed {
        let mut segs = split_text(after.transcript.as_deref().unwrap_or(""));
        segs.truncate(MAX_SEGMENTS);
        return SegmentWrite::Replace(segs);
    }
    if live.is_empty() {
        SegmentWrite::Nothing
    } else {
        SegmentWrite::Append(live.to_vec())
    }
}

/// `transcript.updated` for one stored segment.
/// `analysis` is what was read in the segment as it arrived, when known.
pub(crate) fn segment_event(
    call: &Call,
    seq: i64,
    seg: &switchboard_domain::transcript::Segment,
    analysis: Option<&Value>,
    now: Timestamp,
) -> DomainEvent {
    let mut data = json!({ "callId": call.id, "seq": seq, "segment": seg });
    if let Some(a) = analysis {
        data["analysis"] = a.clone();
    }
    DomainEvent::new(&call.org_id, "transcript.updated", data, now)
}

/// The bounds of a keyset page: with a cursor before the filter's end bound,
/// the end bound is implied by the cursor and left out, so that the index
/// seek starts at the cursor rather than at the end bound (answers whether
/// to keep the end bound, and the cursor to seek from). A cursor at or past
/// the end bound says nothing and is dropped.
pub(crate) fn seek_bounds<'c>(f: &crate::CallFilter, before: Option<&'c crate::CallCursor>) -> (bool, Option<&'c crate::CallCursor>) {
    match (before, f.end) {
        (Some(b), Some(end)) if b.occurred_at >= end => (true, None),
        (Some(b), _) => (false, Some(b)),
        (None, _) => (true, None),
    }
}
