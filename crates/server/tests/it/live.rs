//! Live streams over real sockets: SSE read with reqwest's byte stream,
//! WebSocket with tokio-tungstenite; resume by id, slow consumers, tenant
//! isolation, two nodes on one PostgreSQL, active calls and metrics.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Client, TestServer};

const WAIT: Duration = Duration::from_secs(10);

/// One server-sent event.
#[derive(Debug, Clone)]
struct SseEvent {
    id: Option<i64>,
    event: String,
    data: Value,
}

/// An SSE connection read frame by frame.
struct Sse {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    buf: Vec<u8>,
}

impl Sse {
    async fn open(c: &Client, path: &str, last_id: Option<i64>) -> Sse {
        let mut req = reqwest::Client::new()
            .get(format!("{}{path}", c.base))
            .header("authorization", format!("Bearer {}", c.key));
        if let Some(id) = last_id {
            req = req.header("last-event-id", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}: {:?}", resp.text().await);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        Sse {
            body: Box::pin(resp.bytes_stream()),
            buf: Vec::new(),
        }
    }

    /// The next event (comments and `retry:` skipped), or panics after [`WAIT`].
    async fn next(&mut self) -> SseEvent {
        tokio::time::timeout(WAIT, self.next_inner()).await.expect("no event in time")
    }

    async fn next_inner(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8(frame).unwrap();
                if std::env::var("SSE_DEBUG").is_ok() {
                    eprintln!("FRAME {text:?}");
                }
                let (mut id, mut event, mut data) = (None, None, None);
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.parse::<i64>().unwrap());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str::<Value>(v).unwrap());
                    }
                }
                if let (Some(event), Some(data)) = (event, data) {
                    return SseEvent { id, event, data };
                }
                continue;
            }
            let chunk = self.body.next().await.expect("stream ended").unwrap();
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Events until one of type `until` (included).
    async fn until(&mut self, until: &str) -> Vec<SseEvent> {
        let mut out = Vec::new();
        loop {
            let e = self.next().await;
            let done = e.event == until;
            out.push(e);
            if done {
                return out;
            }
        }
    }
}

async fn report(c: &Client, call: &str, body: Value) {
    let r = c.post(&format!("/v1/calls/{call}/events"), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// A scripted call, step by step: each step writes one or more events.
fn script() -> Vec<Value> {
    vec![
        json!({"status": "ringing"}),
        json!({"status": "answered", "agentId": "AGT7"}),
        json!({"event": "script.step", "data": {"step": "greeting"}}),
        json!({"transcript": "Agent: Hello, this is Sam.\nCustomer: Hi Sam."}),
        json!({"event": "script.step", "data": {"step": "offer"}}),
        json!({"transcript": "Agent: Hello, this is Sam.\nCustomer: Hi Sam.\nCustomer: I'm interested.", "sentiment": "positive"}),
        json!({"status": "completed", "duration": 42}),
    ]
}

/// The outbox's events of `org` after `after` that pass `types` (a prefix list).
async fn outbox(t: &TestServer, org: &switchboard_domain::OrgId, after: i64, prefixes: &[&str]) -> Vec<(i64, String)> {
    t.store
        .org_events_after(org, after, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| prefixes.iter().any(|p| e.event_type.starts_with(p)))
        .map(|e| (e.seq, e.event_type))
        .collect()
}

async fn head(t: &TestServer) -> i64 {
    t.store.outbox_head().await.unwrap()
}

/// A subscriber gets every event of a scripted call in outbox order; one
/// that disconnects half-way and resumes with the last id gets the rest:
/// together exactly the outbox, no duplicates.
#[tokio::test]
async fn sse_delivers_a_call_in_order_and_resumes_without_gap_or_duplicate() {
    let t = TestServer::start().await;
    let start = head(&t).await;
    let types = "/v1/stream?types=call.*,transcript.*,transcription.*";
    let mut whole = Sse::open(&t.a, types, None).await;
    let mut first = Sse::open(&t.a, types, None).await;
    let call = t.a.new_call(json!({"phone": "+15551230001", "status": "initiated"})).await;
    let steps = script();
    for s in &steps[..3] {
        report(&t.a, &call, s.clone()).await;
    }
    // The half-way subscriber reads what came so far and hangs up.
    let expected_so_far = outbox(&t, &t.a.org.id, start, &["call.", "transcript"]).await;
    let mut got: Vec<SseEvent> = Vec::new();
    while got.len() < expected_so_far.len() {
        got.push(first.next().await);
    }
    drop(first);
    let last = got.last().unwrap().id.unwrap();
    for s in &steps[3..] {
        report(&t.a, &call, s.clone()).await;
    }
    let mut resumed = Sse::open(&t.a, types, Some(last)).await;
    got.extend(resumed.until("call.completed").await);
    let all = whole.until("call.completed").await;
    let want = outbox(&t, &t.a.org.id, start, &["call.", "transcript"]).await;
    assert!(want.len() > steps.len(), "{want:?}");
    let ids = |v: &[SseEvent]| v.iter().map(|e| (e.id.unwrap(), e.event.clone())).collect::<Vec<_>>();
    assert_eq!(ids(&all), want, "the uninterrupted subscriber");
    assert_eq!(ids(&got), want, "the resumed subscriber: union equals the outbox, no duplicate");
    // Every event's data is the outbox's, and ids grow.
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    assert!(
        all.iter()
            .all(|e| e.data["data"]["callId"] == call.as_str() && e.data["id"] == json!(e.id))
    );
    assert_eq!(all[0].event, "call.initiated");
    let steps_seen: Vec<&Value> = all
        .iter()
        .filter(|e| e.event == "call.event")
        .map(|e| &e.data["data"]["event"]["data"]["step"])
        .collect();
    assert_eq!(steps_seen, [&json!("greeting"), &json!("offer")]);
    // The per-call stream from the start of the outbox replays the same.
    let mut per_call = Sse::open(&t.a, &format!("/v1/calls/{call}/stream"), Some(start)).await;
    let replayed = per_call.until("call.completed").await;
    assert_eq!(ids(&replayed), want);
}

async fn ws_connect(
    base: &str,
    query: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!("{}/v1/ws{query}", base.replace("http://", "ws://"));
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON text message (pings skipped).
async fn ws_next(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no message in time")
            .expect("closed")
            .unwrap();
        match m {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => continue,
        }
    }
}

async fn ws_send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The same over a WebSocket: the `resume` message picks up after the last
/// id, and a per-call transcript subscription brings that call's
/// transcripts whatever the type filter.
/// A plain GET of the WebSocket route (no handshake) gets the API's JSON
/// error naming what is missing, as every other route answers.
#[tokio::test]
async fn websocket_route_without_a_handshake_answers_json_400() {
    let t = TestServer::start().await;
    let r = t.a.get("/v1/ws").await;
    let field = r.assert_error(400, "invalid_parameter");
    assert_eq!(field.as_deref(), Some("Upgrade"), "{}", r.body);
}

#[tokio::test]
async fn websocket_delivers_a_call_in_order_and_resumes() {
    let t = TestServer::start().await;
    let start = head(&t).await;
    let mut ws = ws_connect(&t.base, &format!("?token={}", t.a.key)).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "types": ["call.*", "transcript.*", "transcription.*"]}),
    )
    .await;
    let ok = ws_next(&mut ws).await;
    assert_eq!(ok["type"], "subscribed", "{ok}");
    let call = t.a.new_call(json!({"phone": "+15551230002", "status": "initiated"})).await;
    let steps = script();
    for s in &steps[..3] {
        report(&t.a, &call, s.clone()).await;
    }
    let so_far = outbox(&t, &t.a.org.id, start, &["call.", "transcript"]).await;
    let mut got = Vec::new();
    while got.len() < so_far.len() {
        got.push(ws_next(&mut ws).await);
    }
    ws.close(None).await.unwrap();
    let last = got.last().unwrap()["id"].as_i64().unwrap();
    for s in &steps[3..] {
        report(&t.a, &call, s.clone()).await;
    }
    // Header credentials this time.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
        "{}/v1/ws",
        t.base.replace("http://", "ws://")
    ))
    .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {}", t.a.key).parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "types": "call.*,transcript.*,transcription.*"}),
    )
    .await;
    assert_eq!(ws_next(&mut ws).await["type"], "subscribed");
    ws_send(&mut ws, json!({"type": "resume", "lastEventId": last})).await;
    assert_eq!(ws_next(&mut ws).await["after"], last);
    loop {
        let m = ws_next(&mut ws).await;
        let done = m["type"] == "call.completed";
        got.push(m);
        if done {
            break;
        }
    }
    let want = outbox(&t, &t.a.org.id, start, &["call.", "transcript"]).await;
    let ids: Vec<(i64, String)> = got
        .iter()
        .map(|m| (m["id"].as_i64().unwrap(), m["type"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(ids, want);

    // Transcripts of one call, on a connection that asked for contacts only.
    ws_send(&mut ws, json!({"type": "subscribe", "types": "contact.*"})).await;
    assert_eq!(ws_next(&mut ws).await["type"], "subscribed");
    let other = t.a.new_call(json!({"phone": "+15551230003", "status": "in_progress"})).await;
    ws_send(&mut ws, json!({"type": "transcripts.subscribe", "callId": other})).await;
    assert_eq!(ws_next(&mut ws).await["transcripts"], json!([other]));
    report(&t.a, &call, json!({"transcript": "Customer: not followed"})).await;
    report(&t.a, &other, json!({"transcript": "Customer: followed"})).await;
    // The whole transcript, then its one segment: both of the followed call.
    let m = ws_next(&mut ws).await;
    assert_eq!(m["type"], "transcription.complete");
    assert_eq!(m["data"]["callId"], other.as_str(), "only the followed call's transcript: {m}");
    let m = ws_next(&mut ws).await;
    assert_eq!(m["type"], "transcript.updated");
    assert_eq!(m["data"]["callId"], other.as_str(), "only the followed call's transcript: {m}");
    assert_eq!(m["data"]["segment"]["text"], "followed");
    ws_send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(ws_next(&mut ws).await["type"], "pong", "nothing else came in between");
}

/// Bad credentials close with 4401; bad messages get an error naming the
/// problem and the connection stays usable.
#[tokio::test]
async fn websocket_refuses_bad_credentials_and_bad_messages() {
    let t = TestServer::start().await;
    let mut ws = ws_connect(&t.base, "?token=sk_live_not_a_key&types=call.*").await;
    let m = tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
    match m {
        Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 4401),
        other => panic!("expected a 4401 close, got {other:?}"),
    }
    let mut ws = ws_connect(&t.base, "").await;
    let m = tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
    assert!(matches!(m, Message::Close(Some(f)) if u16::from(f.code) == 4401));

    let mut ws = ws_connect(&t.base, &format!("?token={}", t.a.key)).await;
    ws_send(&mut ws, json!({"type": "subscribe", "types": "call.*,bogus.*"})).await;
    let e = ws_next(&mut ws).await;
    assert_eq!((e["type"].as_str(), e["field"].as_str()), (Some("error"), Some("types")), "{e}");
    assert!(e["validPatterns"].as_array().unwrap().contains(&json!("transcript.*")));
    ws.send(Message::Text("not json".into())).await.unwrap();
    assert_eq!(ws_next(&mut ws).await["type"], "error");
    ws_send(&mut ws, json!({"type": "resume"})).await;
    assert!(ws_next(&mut ws).await["message"].as_str().unwrap().contains("lastEventId"));
    ws_send(&mut ws, json!({"type": "transcripts.subscribe", "callId": "call_nope"})).await;
    assert_eq!(ws_next(&mut ws).await["type"], "error");
    let theirs = t.b.new_call(json!({"phone": "+15551230004"})).await;
    ws_send(&mut ws, json!({"type": "transcripts.subscribe", "callId": theirs})).await;
    assert_eq!(ws_next(&mut ws).await["message"], "no such call", "another organisation's call");
    ws_send(&mut ws, json!({"type": "subscribe", "lastEventId": 1_000_000})).await;
    assert_eq!(ws_next(&mut ws).await["field"], "lastEventId");
    ws_send(&mut ws, json!({"type": "launch"})).await;
    assert!(ws_next(&mut ws).await["message"].as_str().unwrap().contains("launch"));
    ws_send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(ws_next(&mut ws).await["type"], "pong");
}

/// Bad SSE input: 400s naming the field and the valid patterns; no
/// credentials, 401; another organisation's call, 404.
#[tokio::test]
async fn sse_bad_input_is_refused_by_name() {
    let t = TestServer::start().await;
    let r = t.a.get("/v1/stream?types=call.*,calls.nope").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("calls.nope"));
    let valid = r.body["error"]["details"]["validPatterns"].as_array().unwrap();
    for p in ["call.*", "transcript.*", "agent.*", "metrics", "*"] {
        assert!(valid.contains(&json!(p)), "{p} missing from {valid:?}");
    }
    let r =
        t.a.send(reqwest::Method::GET, "/v1/stream", None, &[("last-event-id", "yesterday")])
            .await;
    r.assert_field_error("Last-Event-ID");
    let r = t.a.get("/v1/stream?lastEventId=-4").await;
    r.assert_field_error("lastEventId");
    let r = t.a.get("/v1/stream?lastEventId=999999").await;
    r.assert_field_error("Last-Event-ID");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("beyond"));
    let r = t.a.get("/v1/stream?callId=nope").await;
    r.assert_field_error("callId");
    let r = t.a.with_key("sk_live_wrong").get("/v1/stream").await;
    assert_eq!(r.status, 401);
    let theirs = t.b.new_call(json!({"phone": "+15551230005"})).await;
    let r = t.a.get(&format!("/v1/calls/{theirs}/stream")).await;
    r.assert_error(404, "not_found");
    let r = t.a.get("/v1/calls/call_nope/stream?types=zzz").await;
    assert_eq!(r.status, 400, "types are checked first: {}", r.body);
}

/// A subscriber of organisation A never sees organisation B's events, even
/// when it names B's call.
#[tokio::test]
async fn subscribers_see_only_their_organisation() {
    let t = TestServer::start().await;
    let start = head(&t).await;
    let mut a = Sse::open(&t.a, "/v1/stream", None).await;
    let b_call = t.b.new_call(json!({"phone": "+15551230006"})).await;
    let a_snoop = Sse::open(&t.a, &format!("/v1/stream?callId={b_call}"), None).await;
    let mut b = Sse::open(&t.b, "/v1/stream", None).await;
    for i in 0..5 {
        t.b.new_call(json!({"phone": format!("+1555124000{i}")})).await;
        report(&t.b, &b_call, json!({"event": "note", "data": {"i": i}})).await;
        t.a.new_call(json!({"phone": format!("+1555125000{i}")})).await;
    }
    t.a.new_contact(json!({"name": "Last", "phone": "+15551259999"})).await;
    let got = a.until("contact.created").await;
    let want = outbox(&t, &t.a.org.id, start, &[""]).await;
    assert_eq!(
        got.iter().map(|e| e.id.unwrap()).collect::<Vec<_>>(),
        want.iter().map(|w| w.0).collect::<Vec<_>>()
    );
    assert_eq!(got.len(), 6);
    assert!(got.iter().all(|e| e.data["data"]["callId"] != b_call.as_str()));
    // B saw its own 10 events.
    let b_got: Vec<SseEvent> = {
        let mut v = Vec::new();
        while v.len() < 10 {
            v.push(b.next().await);
        }
        v
    };
    assert!(b_got.iter().all(|e| !want.iter().any(|w| Some(w.0) == e.id)));
    // The subscriber of A that named B's call passed over every event of
    // its organisation and was given none.
    let last = want.last().unwrap().0;
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = t.state.streams.stats();
        let of_a: Vec<_> = stats.subscribers.iter().filter(|s| s.org_id == t.a.org.id.to_string()).collect();
        assert_eq!(of_a.len(), 2);
        if let Some(snoop) = of_a.iter().find(|s| s.delivered == 0)
            && snoop.position >= last
        {
            break;
        }
        assert!(Instant::now() < deadline, "the snooping subscriber never caught up: {stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(a_snoop);
}

/// A subscriber that never reads is cut off once its organisation's buffer
/// passes it; the one that reads gets everything; the buffer stays within
/// its bound; the cut-off one learns where to resume and gets the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_cut_off_and_others_keep_up() {
    const BUFFER: usize = 40;
    let t = TestServer::start_with(|c| c.stream_buffer_events = BUFFER).await;
    let start = head(&t).await;
    let mut reader = Sse::open(&t.a, "/v1/stream?types=transcription.*", None).await;
    // A raw client with a small receive buffer that sends its request and
    // then reads nothing.
    let addr = t.base.trim_start_matches("http://").to_owned();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut idle = sock.connect(addr.parse().unwrap()).await.unwrap();
    idle.write_all(
        format!(
            "GET /v1/stream?types=transcription.* HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\r\n",
            t.a.key
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let call = t.a.new_call(json!({"phone": "+15551230007", "status": "in_progress"})).await;
    // Wait until both subscribers are registered.
    let deadline = Instant::now() + WAIT;
    while t.state.streams.stats().subscribers.len() < 2 {
        assert!(Instant::now() < deadline, "the idle subscriber never registered");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let chunk = "x".repeat(30_000);
    let mut written = 0;
    let mut received = Vec::new();
    // Writes continue until the idle subscriber is cut off (the socket
    // buffers fill first); the reader keeps pace all along.
    loop {
        report(&t.a, &call, json!({"transcript": format!("Customer: {written} {chunk}")})).await;
        written += 1;
        received.push(reader.next().await);
        let stats = t.state.streams.stats();
        assert!(stats.ring_events <= BUFFER, "the buffer exceeded its bound: {}", stats.ring_events);
        for s in &stats.subscribers {
            assert!(s.buffered_events <= BUFFER);
        }
        if stats.subscribers.iter().any(|s| s.cut_off) {
            let idle_sub = stats.subscribers.iter().find(|s| s.cut_off).unwrap();
            let reader_sub = stats.subscribers.iter().find(|s| !s.cut_off).expect("the reader was cut off too");
            assert_eq!(stats.cut_offs, 1);
            assert!(reader_sub.position >= received.last().unwrap().id.unwrap());
            assert!(idle_sub.position < reader_sub.position);
            break;
        }
        assert!(written < 1000, "the idle subscriber was never cut off");
    }
    let want = outbox(&t, &t.a.org.id, start, &["transcription."]).await;
    assert_eq!(
        received.iter().map(|e| e.id.unwrap()).collect::<Vec<_>>(),
        want.iter().map(|w| w.0).collect::<Vec<_>>()
    );
    println!("idle subscriber cut off after {written} events of ~30 KB");
    // The idle client now reads: its stream ends with a cut-off message
    // telling where to resume, and resuming from there gives the rest.
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 65536];
    let read_all = async {
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut idle, &mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            // The cut-off message, then the end of the chunked body.
            if raw.ends_with(b"0\r\n\r\n") && raw[raw.len().saturating_sub(2000)..].windows(14).any(|w| w == b"stream.cutoff\n") {
                break;
            }
        }
    };
    let outcome = tokio::time::timeout(WAIT, read_all).await;
    if outcome.is_err() {
        let tail = String::from_utf8_lossy(&raw[raw.len().saturating_sub(600)..]).into_owned();
        panic!(
            "no cut-off message; read {} bytes, ending {tail:?}; {:?}",
            raw.len(),
            t.state.streams.stats()
        );
    }
    let text = String::from_utf8_lossy(&raw);
    let ids: Vec<i64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|v| v.parse().unwrap())
        .collect();
    let cut = text.lines().rev().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let cut: Value = serde_json::from_str(cut.trim()).unwrap();
    assert_eq!(cut["type"], "stream.cutoff");
    let resume = cut["data"]["resumeAfter"].as_i64().unwrap();
    // At or after the last id it was given (it may have passed over
    // events its filter does not want); the union check below proves
    // nothing wanted lies between.
    assert!(resume >= *ids.last().unwrap_or(&start), "resume {resume} before the last id given");
    let mut again = Sse::open(&t.a, "/v1/stream?types=transcription.*", Some(resume)).await;
    let mut union: Vec<i64> = ids.clone();
    while union.len() < want.len() {
        union.push(again.next().await.id.unwrap());
    }
    assert_eq!(union, want.iter().map(|w| w.0).collect::<Vec<_>>());
}

/// A resume older than the outbox's retention starts with `stream.gap`
/// giving the oldest id still held; nothing is skipped silently.
#[tokio::test]
async fn resuming_before_the_retention_starts_with_a_gap() {
    let t = TestServer::start().await;
    let start = head(&t).await;
    for i in 0..5 {
        t.a.new_call(json!({"phone": format!("+1555126000{i}")})).await;
    }
    t.store.fan_out(1000).await.unwrap();
    let future = switchboard_domain::now() + chrono::Duration::days(1);
    assert!(t.store.prune_outbox(future, 3).await.unwrap() > 0);
    let pruned = t.store.outbox_pruned_through().await.unwrap();
    let left = outbox(&t, &t.a.org.id, pruned, &[""]).await;
    let mut s = Sse::open(&t.a, "/v1/stream", Some(start)).await;
    let gap = s.next().await;
    assert_eq!(gap.event, "stream.gap");
    assert_eq!(gap.id, Some(pruned));
    assert_eq!(gap.data["data"]["lastEventId"], start);
    assert_eq!(gap.data["data"]["oldestAvailableId"], left[0].0);
    for (seq, _) in &left {
        assert_eq!(s.next().await.id, Some(*seq));
    }
}

/// Active calls: duration so far, script step, last segment, sentiment and
/// agent, fed from events; the stream sends a snapshot then updates; a new
/// node rebuilds the view from the store.
#[tokio::test]
async fn active_calls_follow_events_and_survive_a_restart() {
    let t = TestServer::start().await;
    let queued = t.a.new_call(json!({"phone": "+15551230010"})).await;
    let live =
        t.a.new_call(json!({"phone": "+15551230011", "status": "ringing", "agentId": "AGT1"}))
            .await;
    t.b.new_call(json!({"phone": "+15551230012", "status": "in_progress"})).await;
    let r = t.a.get("/v1/calls/active").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["callId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [live.as_str()], "queued calls and other organisations' calls are not active");
    let mut s = Sse::open(&t.a, "/v1/calls/active/stream", None).await;
    let snap = s.next().await;
    assert_eq!(snap.event, "active.snapshot");
    assert_eq!(snap.data["data"]["calls"][0]["callId"], live.as_str());
    report(&t.a, &live, json!({"status": "answered"})).await;
    report(&t.a, &live, json!({"event": "script.step", "data": {"step": "verify_identity"}})).await;
    report(
        &t.a,
        &live,
        json!({"transcript": "Agent: Can you confirm your date of birth?\nCustomer: Sure, it's in May.", "sentiment": "positive"}),
    )
    .await;
    let mut last = Value::Null;
    while last["lastSegment"]["text"] != "Sure, it's in May." {
        let e = s.next().await;
        assert_eq!(e.event, "active.updated");
        last = e.data["data"].clone();
    }
    assert_eq!(last["callId"], live.as_str());
    assert_eq!(last["status"], "in-progress");
    assert_eq!(last["currentStep"], "verify_identity");
    assert_eq!(last["sentiment"], "positive");
    assert_eq!(last["agentId"], "AGT1");
    assert_eq!(last["lastSegment"]["speaker"], "customer");
    assert!(last["durationSoFar"].as_i64().unwrap() >= 0);
    report(&t.a, &queued, json!({"status": "ringing"})).await;
    let mut e = s.next().await;
    while e.data["data"]["callId"] == live.as_str() {
        e = s.next().await;
    }
    assert_eq!((e.event.as_str(), &e.data["data"]["callId"]), ("active.updated", &json!(queued)));
    report(&t.a, &live, json!({"status": "completed", "duration": 30})).await;
    let mut e = s.next().await;
    while e.event == "active.updated" {
        e = s.next().await;
    }
    assert_eq!((e.event.as_str(), &e.data["data"]["callId"]), ("active.ended", &json!(live)));
    let r = t.a.get("/v1/calls/active").await;
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["callId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [queued.as_str()]);

    // A fresh node on the same store sees the same live call, with the
    // script step read back from its timeline.
    report(&t.a, &queued, json!({"status": "answered"})).await;
    report(&t.a, &queued, json!({"event": "script.step", "data": {"step": "offer"}})).await;
    let fresh = switchboard_server::AppState::new(t.store.clone(), t.state.cfg.as_ref().clone());
    fresh.streams.ensure_started().await.unwrap();
    let calls = fresh.streams.board().active_calls(&t.a.org.id).await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["callId"], queued.as_str());
    assert_eq!(calls[0]["currentStep"], "offer");
}

/// Real-time metrics follow the calls: counts, rates, queue, and a
/// `metrics` event on the stream when they change.
#[tokio::test]
async fn realtime_metrics_count_today_and_stream_changes() {
    let t = TestServer::start().await;
    let m = t.a.get("/v1/metrics/realtime").await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.body["callsToday"], 0);
    assert_eq!(
        m.body["agents"],
        json!({"online": 0, "available": 0, "onCall": 0, "afterCallWork": 0})
    );
    let mut s = Sse::open(&t.a, "/v1/stream?types=metrics", None).await;
    let first = s.next().await;
    assert_eq!(first.event, "metrics");
    assert_eq!(first.id, None, "metrics carry no outbox id");
    assert_eq!(first.data["data"]["activeCalls"], 0);
    let a =
        t.a.new_call(json!({"phone": "+15551230020", "status": "ringing", "direction": "inbound"}))
            .await;
    let b =
        t.a.new_call(json!({"phone": "+15551230021", "status": "ringing", "direction": "inbound"}))
            .await;
    t.a.new_call(json!({"phone": "+15551230022"})).await;
    report(&t.a, &a, json!({"status": "answered"})).await;
    report(&t.a, &a, json!({"status": "completed", "duration": 60})).await;
    report(&t.a, &b, json!({"status": "no-answer"})).await;
    t.b.new_call(json!({"phone": "+15551230023", "status": "in_progress"})).await;
    let mut m = s.next().await.data["data"].clone();
    while m["callsToday"] != 3 || m["answerRate"] != 0.5 {
        m = s.next().await.data["data"].clone();
    }
    assert_eq!(m["activeCalls"], 0);
    assert_eq!(m["answeredToday"], 1);
    assert_eq!(m["averageHandleTime"], 60.0);
    assert_eq!(m["queueSize"], 1);
    assert!(m["oldestWaitSeconds"].as_i64().is_some());
    assert_eq!(m["serviceLevel"], 1.0);
    assert_eq!(m["abandonmentRate"], 0.5);
    assert_eq!(m["campaignsRunning"], 0);
    let r = t.a.get("/v1/metrics/realtime").await;
    assert_eq!(r.body["callsToday"], 3);
    // A scoped key without analytics.view may not read metrics.
    let k = t.a.post("/v1/keys", json!({"name": "calls only", "scopes": ["calls.view"]})).await;
    assert_eq!(k.status, 201, "{}", k.body);
    let narrow = t.a.with_key(k.body["key"].as_str().unwrap());
    assert_eq!(narrow.get("/v1/metrics/realtime").await.status, 403);
    assert_eq!(narrow.get("/v1/stream?types=metrics").await.status, 403);
}

/// Two servers on one PostgreSQL: a subscriber on node B sees a call
/// created on node A (woken by LISTEN/NOTIFY, not the slow poll).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_on_one_node_sees_a_call_made_on_another() {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_DATABASE_URL") else {
        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set; skipping the two-node stream test");
        return;
    };
    let schema = format!("it_live_{}", std::process::id());
    switchboard_store::postgres::PgStore::connect_fresh_schema(&url, &schema)
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    // A poll far slower than the bound asserted: only a notification can
    // deliver in time.
    let tune = |c: &mut switchboard_server::config::Config| {
        c.database_url = Some(switchboard_server::config::Secret::new(db.clone()));
        c.stream_poll_ms = 60_000;
    };
    let node_a = TestServer::start_with(&tune).await;
    let node_b = node_a.another_node(tune).await;
    let mut sub = Sse::open(&node_b.a, "/v1/stream?types=call.*", None).await;
    let mut latencies = Vec::new();
    for i in 0..5 {
        let sent = Instant::now();
        let id = node_a.a.new_call(json!({"phone": format!("+1555127000{i}")})).await;
        let e = sub.next().await;
        latencies.push(sent.elapsed());
        assert_eq!(e.data["data"]["callId"], id.as_str());
    }
    println!("cross-node delivery (create on A → event on B's SSE): {latencies:?}");
    assert!(latencies.iter().all(|l| *l < Duration::from_secs(5)));
    // Node B served them from its own tail of the shared outbox.
    assert!(node_b.state.streams.position() >= e_last_seq(&node_a).await);
    drop(sub);
    drop(node_b);
    drop(node_a);
    switchboard_store::postgres::PgStore::drop_schema(&url, &schema).await.unwrap();
}

async fn e_last_seq(t: &TestServer) -> i64 {
    t.store.outbox_head().await.unwrap()
}
