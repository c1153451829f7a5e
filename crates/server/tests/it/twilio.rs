//! The Twilio carrier against a local stand-in for Twilio's REST API, and
//! our StatusCallback route against requests signed by Twilio's own
//! Python helper library (`twilio` on PyPI, installed by .ci/run; these
//! tests fail when it is missing).

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use base64::Engine as _;
use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::script::{InputMode, TransferMode};
use switchboard_domain::{CallId, CallStatus};
use switchboard_server::config::Secret;
use switchboard_server::workers::dialer::{Dialer, DialerOptions};
use switchboard_telephony::twilio::{Twilio, TwilioSettings};
use switchboard_telephony::{CallRef, Carrier, CarrierError, LiveAction, ManualClock, PlaceCall, signature};

use crate::support::TestServer;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "f00dfeedc0ffee0123456789abcdef01";
const PUBLIC: &str = "https://sb.example.com";

/// One request the stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: String,
    form: Vec<(String, String)>,
}

impl Seen {
    fn get(&self, k: &str) -> Option<&str> {
        self.form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    fn all(&self, k: &str) -> Vec<&str> {
        self.form.iter().filter(|(n, _)| n == k).map(|(_, v)| v.as_str()).collect()
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn calls_json(State(log): State<Log>, Path(account): Path<String>, headers: HeaderMap, body: String) -> axum::response::Response {
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let refused = form.iter().any(|(k, v)| k == "To" && v == "+15550000000");
    let n = {
        let mut log = log.lock().unwrap();
        log.push(Seen {
            path: format!("/2010-04-01/Accounts/{account}"),
            authorization: headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            form,
        });
        log.len()
    };
    if refused {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"code": 21211, "message": "The 'To' number is not valid."})),
        )
            .into_response();
    }
    (
        axum::http::StatusCode::CREATED,
        axum::Json(json!({"sid": format!("CA{n:032}"), "status": "queued"})),
    )
        .into_response()
}

async fn call_json(
    State(log): State<Log>,
    Path((account, sid)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> axum::Json<Value> {
    log.lock().unwrap().push(Seen {
        path: format!("/2010-04-01/Accounts/{account}/Calls/{sid}"),
        authorization: headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default(),
        form: serde_urlencoded::from_str(&body).unwrap(),
    });
    axum::Json(json!({"sid": sid.trim_end_matches(".json")}))
}

/// A stand-in for api.twilio.com on 127.0.0.1:0.
async fn stand_in() -> (String, Log) {
    let log: Log = Arc::default();
    let app = axum::Router::new()
        .route("/2010-04-01/Accounts/{account}/Calls.json", axum::routing::post(calls_json))
        .route("/2010-04-01/Accounts/{account}/Calls/{sid}", axum::routing::post(call_json))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, log)
}

fn settings(base: &str) -> TwilioSettings {
    TwilioSettings {
        account_sid: SID.into(),
        auth_token: Secret::new(TOKEN),
        base_url: base.into(),
        public_url: PUBLIC.into(),
        from_number: Some("+15550009999".into()),
        machine_detection: true,
    }
}

/// Runs a Python snippet with Twilio's helper library; `input` goes to stdin as JSON.
fn python(code: &str, input: &Value) -> Value {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(code)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed for the Twilio signature tests");
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the official twilio Python package is needed (pip install twilio): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const SIGN: &str = r#"
import json, sys
from twilio.request_validator import RequestValidator
req = json.load(sys.stdin)
v = RequestValidator(req["token"])
out = []
for r in req["requests"]:
    if "body" in r:
        out.append(v.compute_signature(r["url"], {}))
    else:
        out.append(v.compute_signature(r["url"], dict(r["params"])))
print(json.dumps(out))
"#;

const VALIDATE: &str = r#"
import json, sys
from twilio.request_validator import RequestValidator
from urllib.parse import parse_qs
req = json.load(sys.stdin)
v = RequestValidator(req["auth_token"])
out = []
for vec in req["vectors"]:
    if "body" in vec:
        out.append(v.validate(vec["url"], vec["body"], vec["signature"]))
    else:
        params = {}
        for k, val in vec["params"]:
            params.setdefault(k, []).append(val)
        class Multi(dict):
            def getall(self, k):
                return self[k]
        m = Multi(params)
        out.append(v.validate(vec["url"], m, vec["signature"]))
print(json.dumps(out))
"#;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../data/twilio-signature-vectors.json")).unwrap()
}

#[test]
fn signature_vectors_validate_here_and_in_twilios_library() {
    let v = vectors();
    let token = v["auth_token"].as_str().unwrap();
    for vec in v["vectors"].as_array().unwrap() {
        let url = vec["url"].as_str().unwrap();
        let sig = vec["signature"].as_str().unwrap();
        if let Some(body) = vec["body"].as_str() {
            assert_eq!(signature::body_sha256(body.as_bytes()), vec["body_sha256"].as_str().unwrap());
            assert!(signature::validate_json(token, url, body.as_bytes(), sig), "{url}");
            assert!(!signature::validate_json(token, url, b"{\"property\": \"other\"}", sig));
            continue;
        }
        let params: Vec<(String, String)> = vec["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
            .collect();
        assert!(signature::validate_form(token, url, &params, sig), "{url} {params:?}");
        let mut tampered = params.clone();
        tampered[0].1.push('x');
        assert!(!signature::validate_form(token, url, &tampered, sig));
        assert!(!signature::validate_form("54321", url, &params, sig));
    }
    // The official library agrees with every vector.
    let verdicts = python(VALIDATE, &v);
    assert_eq!(verdicts.as_array().unwrap().len(), v["vectors"].as_array().unwrap().len());
    assert!(verdicts.as_array().unwrap().iter().all(|x| x == true), "{verdicts}");
}

#[tokio::test]
async fn the_carrier_sends_exactly_what_twilio_expects() {
    let (base, log) = stand_in().await;
    let tw = Twilio::new(settings(&base));
    let t = TestServer::start().await;
    let id = t.a.new_call(json!({"phone": "+15551234567", "callerId": "+15559876543"})).await;
    let call = t.store.get_call(&t.a.org.id, &id.parse().unwrap()).await.unwrap();
    let sid = tw
        .place(PlaceCall {
            call: call.clone(),
            attempt: 1,
            zone: "UTC".into(),
            placed_at: switchboard_domain::now(),
            conversation: true,
            simulation: None,
        })
        .await
        .unwrap();
    assert_eq!(sid, format!("CA{:032}", 1));
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(seen.path, format!("/2010-04-01/Accounts/{SID}"));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    assert_eq!(seen.authorization, format!("Basic {basic}"));
    assert_eq!(seen.get("To"), Some("+15551234567"));
    assert_eq!(seen.get("From"), Some("+15559876543"));
    // A scripted call asks our voice route for its first turn on answer.
    assert_eq!(
        seen.get("Url"),
        Some(format!("{PUBLIC}/v1/carriers/twilio/voice?org={}&call={id}", t.a.org.id).as_str())
    );
    assert_eq!(seen.get("Method"), Some("POST"));
    assert_eq!(seen.get("Twiml"), None);
    assert_eq!(
        seen.get("StatusCallback"),
        Some(format!("{PUBLIC}/v1/carriers/twilio/status?org={}&call={id}", t.a.org.id).as_str())
    );
    assert_eq!(seen.get("StatusCallbackMethod"), Some("POST"));
    assert_eq!(
        seen.all("StatusCallbackEvent"),
        vec!["initiated", "ringing", "answered", "completed"]
    );
    assert_eq!(seen.get("MachineDetection"), Some("Enable"));
    assert_eq!(seen.form.len(), 11, "{:?}", seen.form);

    // Controlling the live call.
    let live = CallRef {
        org_id: call.org_id.clone(),
        call_id: call.id.clone(),
        external_id: Some(sid.clone()),
    };
    let acts = [
        LiveAction::Say {
            text: "One moment".into(),
            voice: None,
        },
        LiveAction::Play {
            url: "https://x.example/hold.mp3".into(),
        },
        LiveAction::Gather {
            input: InputMode::Dtmf,
            num_digits: Some(4),
            timeout_secs: 10,
        },
        LiveAction::Transfer {
            to: "+15550004321".into(),
            mode: TransferMode::Cold,
            note: None,
        },
        LiveAction::Dtmf { digits: "1w2".into() },
        LiveAction::Hold,
    ];
    for a in &acts {
        tw.act(&live, a).await.unwrap();
    }
    tw.act(&live, &LiveAction::Mute).await.unwrap();
    tw.hang_up(&live).await.unwrap();
    tw.cancel(&live).await.unwrap();
    let log = log.lock().unwrap().clone();
    let modify = &log[1..];
    assert_eq!(modify.len(), 8, "mute sends nothing to Twilio");
    assert!(
        modify
            .iter()
            .all(|s| s.path == format!("/2010-04-01/Accounts/{SID}/Calls/{sid}.json"))
    );
    assert!(modify.iter().all(|s| s.authorization == format!("Basic {basic}")));
    let voice = format!("{PUBLIC}/v1/carriers/twilio/voice?org={}&amp;call={id}&amp;resume=1", t.a.org.id);
    assert_eq!(
        modify[0].form,
        vec![(
            "Twiml".to_owned(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>One moment</Say><Redirect method=\"POST\">{voice}</Redirect></Response>"
            )
        )]
    );
    assert!(modify[1].get("Twiml").unwrap().contains("<Play>https://x.example/hold.mp3</Play>"));
    assert!(modify[2].get("Twiml").unwrap().contains(&format!(
        "<Gather input=\"dtmf\" numDigits=\"4\" timeout=\"10\" speechTimeout=\"auto\" actionOnEmptyResult=\"true\" \
                 action=\"{PUBLIC}/v1/carriers/twilio/gather?org={}&amp;call={id}&amp;step=adhoc\"></Gather>",
        t.a.org.id
    )));
    assert!(modify[3].get("Twiml").unwrap().contains("<Dial>+15550004321</Dial>"));
    assert!(modify[4].get("Twiml").unwrap().contains("<Play digits=\"1w2\"/>"));
    assert!(modify[5].get("Twiml").unwrap().contains("<Pause length=\"600\"/>"));
    assert_eq!(modify[6].form, vec![("Status".to_owned(), "completed".to_owned())]);
    assert_eq!(modify[7].form, vec![("Status".to_owned(), "canceled".to_owned())]);

    // A refusal carries Twilio's reason and never the token.
    let mut bad = call.clone();
    bad.to = Some("+15550000000".into());
    let err = tw
        .place(PlaceCall {
            call: bad,
            attempt: 1,
            zone: "UTC".into(),
            placed_at: switchboard_domain::now(),
            conversation: false,
            simulation: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(&err, CarrierError::Refused(m) if m.contains("not valid")), "{err}");
    assert!(!err.to_string().contains(TOKEN));
    let no_sid = CallRef { external_id: None, ..live };
    assert!(matches!(tw.hang_up(&no_sid).await, Err(CarrierError::UnknownCall(_))));
}

async fn post_callback(t: &TestServer, url: &str, form: &[(&str, &str)], signature: &str) -> crate::support::Resp {
    let path = url.strip_prefix(PUBLIC).unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", t.base))
        .header("x-twilio-signature", signature)
        .form(form)
        .send()
        .await
        .unwrap();
    crate::support::into_resp(resp).await
}

#[tokio::test]
async fn status_callbacks_signed_by_twilios_library_drive_the_call() {
    let (base, _log) = stand_in().await;
    let t = TestServer::start_with(|c| c.telephony.twilio = Some(settings(&base))).await;
    let id = t.a.new_call(json!({"phone": "+15551234567"})).await;
    let call_id: CallId = id.parse().unwrap();
    let url = format!("{PUBLIC}/v1/carriers/twilio/status?org={}&call={id}", t.a.org.id);
    let steps: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("CallSid", "CA42"),
            ("AccountSid", SID),
            ("CallStatus", "ringing"),
            ("To", "+15551234567"),
        ],
        vec![
            ("CallSid", "CA42"),
            ("AccountSid", SID),
            ("CallStatus", "in-progress"),
            ("AnsweredBy", "human"),
        ],
        vec![
            ("CallSid", "CA42"),
            ("AccountSid", SID),
            ("CallStatus", "completed"),
            ("CallDuration", "42"),
            ("AnsweredBy", "human"),
        ],
    ];
    let requests: Vec<Value> = steps.iter().map(|p| json!({"url": url, "params": p})).collect();
    let sigs = python(SIGN, &json!({"token": TOKEN, "requests": requests}));

    // A forged or tampered request changes nothing.
    let before = t.snapshot(&t.a.org).await;
    let forged = signature::compute("not-the-token", &url, &[("CallStatus".into(), "completed".into())]);
    post_callback(&t, &url, &[("CallSid", "CA42"), ("CallStatus", "completed")], &forged)
        .await
        .assert_error(403, "forbidden");
    let mut tampered = steps[2].clone();
    tampered[3] = ("CallDuration", "4200");
    post_callback(&t, &url, &tampered, sigs[2].as_str().unwrap())
        .await
        .assert_error(403, "forbidden");
    let other_call = url.replace(&id, "call_01jb0000000000000000000000");
    post_callback(&t, &other_call, &steps[0], sigs[0].as_str().unwrap())
        .await
        .assert_error(403, "forbidden");
    assert_eq!(before, t.snapshot(&t.a.org).await);

    for (form, sig) in steps.iter().zip(sigs.as_array().unwrap()) {
        let r = post_callback(&t, &url, form, sig.as_str().unwrap()).await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let call = t.store.get_call(&t.a.org.id, &call_id).await.unwrap();
    assert_eq!(call.status, CallStatus::Completed);
    assert_eq!(call.duration, Some(42));
    assert_eq!(call.external_id.as_deref(), Some("CA42"));
    let kinds: Vec<&str> = call.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["status.queued", "status.ringing", "status.in_progress", "status.completed"]
    );
    // Repeated callbacks change nothing.
    let r = post_callback(&t, &url, &steps[2], sigs[2].as_str().unwrap()).await;
    assert_eq!(r.status, 204);
    assert_eq!(t.store.get_call(&t.a.org.id, &call_id).await.unwrap().timeline.len(), 4);

    // The JSON-body variant: the URL carries bodySHA256 and alone is signed.
    let id2 = t.a.new_call(json!({"phone": "+15551234568"})).await;
    let body = json!({"CallSid": "CA43", "CallStatus": "busy"}).to_string();
    let json_url = format!(
        "{PUBLIC}/v1/carriers/twilio/status?org={}&call={id2}&bodySHA256={}",
        t.a.org.id,
        signature::body_sha256(body.as_bytes())
    );
    let sig = python(SIGN, &json!({"token": TOKEN, "requests": [{"url": json_url, "body": body}]}));
    let send = |b: String, s: String| {
        let path = json_url.strip_prefix(PUBLIC).unwrap().to_owned();
        let base = t.base.clone();
        async move {
            let resp = reqwest::Client::new()
                .post(format!("{base}{path}"))
                .header("x-twilio-signature", s)
                .header("content-type", "application/json")
                .body(b)
                .send()
                .await
                .unwrap();
            crate::support::into_resp(resp).await
        }
    };
    let sig = sig[0].as_str().unwrap().to_owned();
    send(json!({"CallSid": "CA43", "CallStatus": "completed"}).to_string(), sig.clone())
        .await
        .assert_error(403, "forbidden");
    assert_eq!(send(body, sig).await.status, 204);
    let call2 = t.store.get_call(&t.a.org.id, &id2.parse().unwrap()).await.unwrap();
    assert_eq!(call2.status, CallStatus::Busy);

    // Without Twilio configured the route does not exist for callers.
    let plain = TestServer::start().await;
    let r = reqwest::Client::new()
        .post(format!("{}/v1/carriers/twilio/status?org=x&call=y", plain.base))
        .header("x-twilio-signature", "x")
        .form(&[("CallStatus", "ringing")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Posts a signed callback (signed by Twilio's own library) and answers the TwiML.
async fn twiml_callback(t: &TestServer, url: &str, form: &[(&str, &str)]) -> String {
    let sig = python(SIGN, &json!({"token": TOKEN, "requests": [{"url": url, "params": form}]}));
    let resp = reqwest::Client::new()
        .post(format!("{}{}", t.base, url.strip_prefix(PUBLIC).unwrap()))
        .header("x-twilio-signature", sig[0].as_str().unwrap())
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/xml");
    resp.text().await.unwrap()
}

#[tokio::test]
async fn the_script_runs_turn_by_turn_on_twilio() {
    let (base, _log) = stand_in().await;
    let t = TestServer::start_with(|c| c.telephony.twilio = Some(settings(&base))).await;
    let tpl = crate::templates::new_template(
        &t.a,
        json!({"name": "Confirm", "steps": [
            {"type": "greeting", "content": "Hello {firstName}"},
            {"id": "ask", "type": "question", "content": "Press 1 to confirm your {item}, or say agent.", "saveAs": "confirmed",
             "branches": [{"digits": "1", "goto": "yes"}, {"intent": "transfer_request", "goto": "human"}, {"default": true, "goto": "bye"}]},
            {"id": "yes", "type": "hangup", "content": "Thank you {firstName}", "outcome": "successful"},
            {"id": "human", "type": "transfer", "to": "+15550001234"},
            {"id": "bye", "type": "hangup", "content": "Goodbye"}
        ], "variables": ["firstName", "item"]}),
    )
    .await;
    let id =
        t.a.new_call(json!({"phone": "+15551234567", "templateId": tpl, "variables": {"firstName": "Ann", "item": "visit"}}))
            .await;
    let call_id: CallId = id.parse().unwrap();
    let voice = format!("{PUBLIC}/v1/carriers/twilio/voice?org={}&call={id}", t.a.org.id);
    let gather = format!("{PUBLIC}/v1/carriers/twilio/gather?org={}&call={id}&step=ask", t.a.org.id);

    // Forged: refused, nothing recorded.
    let before = t.snapshot(&t.a.org).await;
    let forged = signature::compute("not-the-token", &gather, &[("Digits".into(), "1".into())]);
    post_callback(&t, &gather, &[("Digits", "1")], &forged)
        .await
        .assert_error(403, "forbidden");
    assert_eq!(before, t.snapshot(&t.a.org).await);

    // Answered: the greeting and the question, gathering both ways to the step.
    let first = twiml_callback(&t, &voice, &[("CallSid", "CA42"), ("AccountSid", SID), ("AnsweredBy", "human")]).await;
    assert_eq!(
        first,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Hello Ann</Say>\
             <Gather input=\"dtmf speech\" timeout=\"5\" speechTimeout=\"auto\" actionOnEmptyResult=\"true\" \
             action=\"{PUBLIC}/v1/carriers/twilio/gather?org={}&amp;call={id}&amp;step=ask\">\
             <Say>Press 1 to confirm your visit, or say agent.</Say></Gather></Response>",
            t.a.org.id
        )
    );
    // The key press takes the "1" branch: thanks, hang up.
    let next = twiml_callback(&t, &gather, &[("CallSid", "CA42"), ("AccountSid", SID), ("Digits", "1")]).await;
    assert_eq!(
        next,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Thank you Ann</Say><Hangup/></Response>"
    );
    let call = t.store.get_call(&t.a.org.id, &call_id).await.unwrap();
    assert_eq!(call.collected_data, Some(json!({"confirmed": "1"})));
    assert_eq!(call.outcome.as_deref(), Some("successful"));
    let path: Vec<String> = call
        .timeline
        .iter()
        .filter(|e| e.kind == "script.step")
        .map(|e| e.data.as_ref().unwrap()["step"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(path, vec!["1", "ask", "yes"]);
    let transcript = t.a.get(&format!("/v1/calls/{id}/transcript?format=txt")).await;
    assert_eq!(
        transcript.body,
        json!("Agent: Hello Ann\nAgent: Press 1 to confirm your visit, or say agent.\nCustomer: [pressed 1]\nAgent: Thank you Ann\n")
    );

    // A second call: speech asks for a person, the script transfers (a <Dial>).
    let id2 =
        t.a.new_call(json!({"phone": "+15551234568", "templateId": tpl, "variables": {"firstName": "Bo", "item": "visit"}}))
            .await;
    let voice2 = format!("{PUBLIC}/v1/carriers/twilio/voice?org={}&call={id2}", t.a.org.id);
    let gather2 = format!("{PUBLIC}/v1/carriers/twilio/gather?org={}&call={id2}&step=ask", t.a.org.id);
    twiml_callback(&t, &voice2, &[("CallSid", "CA43"), ("AnsweredBy", "human")]).await;
    let next = twiml_callback(
        &t,
        &gather2,
        &[
            ("CallSid", "CA43"),
            ("SpeechResult", "Can I talk to a real person"),
            ("Confidence", "0.91"),
        ],
    )
    .await;
    assert_eq!(
        next,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial>+15550001234</Dial></Response>"
    );
    let c2 = t.store.get_call(&t.a.org.id, &id2.parse().unwrap()).await.unwrap();
    assert_eq!(c2.outcome.as_deref(), Some("transferred"));
    let segs = t.store.transcript(&t.a.org.id, &c2.id).await.unwrap();
    let heard = segs.iter().find(|s| s.text == "Can I talk to a real person").unwrap();
    assert_eq!(heard.confidence, Some(0.91));

    // An answering machine gets the end of the script at once.
    let id3 =
        t.a.new_call(json!({"phone": "+15551234569", "templateId": tpl, "variables": {"firstName": "Cy", "item": "visit"}}))
            .await;
    let voice3 = format!("{PUBLIC}/v1/carriers/twilio/voice?org={}&call={id3}", t.a.org.id);
    let vm = twiml_callback(&t, &voice3, &[("CallSid", "CA44"), ("AnsweredBy", "machine_end_beep")]).await;
    assert_eq!(vm, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>");
    let c3 = t.store.get_call(&t.a.org.id, &id3.parse().unwrap()).await.unwrap();
    assert_eq!(c3.outcome.as_deref(), Some("voicemail"));

    // An ad-hoc gather (a live-call action) lands on the timeline.
    let adhoc = format!("{PUBLIC}/v1/carriers/twilio/gather?org={}&call={id}&step=adhoc", t.a.org.id);
    twiml_callback(&t, &adhoc, &[("CallSid", "CA42"), ("Digits", "4321")]).await;
    let call = t.store.get_call(&t.a.org.id, &call_id).await.unwrap();
    let last = call.timeline.last().unwrap();
    assert_eq!((last.kind.as_str(), &last.data), ("gathered", &Some(json!({"digits": "4321"}))));

    // Unknown call: 404.
    let other = gather.replace(&id, "call_01jb0000000000000000000000");
    let sig = signature::compute(TOKEN, &other, &[]);
    post_callback(&t, &other, &[], &sig).await.assert_error(404, "not_found");
}

#[tokio::test]
async fn the_dialer_places_campaign_calls_through_twilio() {
    let (base, log) = stand_in().await;
    let t = TestServer::start_with(|c| c.telephony.twilio = Some(settings(&base))).await;
    let list = crate::campaigns::new_list(&t.a, "Twilio").await;
    let csv = "phone,name\n+15551110001,Ann Lee\n+15551110002,Bo Chen\n+15551110003,Cy Diaz\n";
    let r =
        t.a.raw(
            Method::POST,
            &format!("/v1/contact-lists/{list}/import"),
            csv.as_bytes().to_vec(),
            "text/csv",
        )
        .await;
    assert_eq!(r.body["imported"], 3);
    let tpl = crate::templates::new_template(
        &t.a,
        json!({"name": "T", "steps": [{"type": "greeting", "content": "Hello {firstName} from {companyName}"}], "variables": ["firstName", "companyName"]}),
    )
    .await;
    let r =
        t.a.post(
            "/v1/campaigns",
            json!({"name": "Tw", "templateId": tpl, "contactListIds": [list], "variables": {"companyName": "Acme"},
                   "schedule": {"callHours": {"start": "00:00", "end": "24:00"}, "overrideQuietHours": true, "daysOfWeek": [1,2,3,4,5,6,7]},
                   "callSettings": {"maxConcurrentCalls": 2, "callerId": "+15559876543"}}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    t.a.post(&format!("/v1/campaigns/{id}/status"), json!({"status": "active"})).await;
    let clock = ManualClock::new("2025-05-21T12:00:00Z".parse().unwrap());
    let dialer = Dialer::new(
        t.store.clone(),
        Arc::new(Twilio::new(settings(&base))),
        clock.clone(),
        DialerOptions::default(),
    );
    let pass = dialer.run_once().await.unwrap();
    assert_eq!(pass.dialed, 2);
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].get("To"), Some("+15551110001"));
    assert!(seen[0].get("Url").unwrap().contains("/v1/carriers/twilio/voice?"), "{:?}", seen[0]);
    // Each call now carries Twilio's sid as its external id.
    let (calls, _) = t
        .store
        .list_calls(
            &t.a.org.id,
            &switchboard_store::CallFilter {
                campaign_id: Some(id.clone()),
                ..Default::default()
            },
            switchboard_store::Page { page: 1, limit: 10 },
        )
        .await
        .unwrap();
    let mut sids: Vec<String> = calls.iter().map(|c| c.external_id.clone().unwrap()).collect();
    sids.sort();
    assert_eq!(sids, vec![format!("CA{:032}", 1), format!("CA{:032}", 2)]);
    // No free line until a callback ends a call.
    clock.advance(Duration::seconds(5));
    assert_eq!(dialer.run_once().await.unwrap().dialed, 0);
    let c = &calls[0];
    let url = format!("{PUBLIC}/v1/carriers/twilio/status?org={}&call={}", t.a.org.id, c.id);
    let form = [("CallSid", c.external_id.as_deref().unwrap()), ("CallStatus", "no-answer")];
    let sig = signature::compute(
        TOKEN,
        &url,
        &form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>(),
    );
    assert_eq!(post_callback(&t, &url, &form, &sig).await.status, 204);
    clock.advance(Duration::seconds(5));
    assert_eq!(dialer.run_once().await.unwrap().dialed, 1);
    assert_eq!(log.lock().unwrap()[2].get("To"), Some("+15551110003"));
}
