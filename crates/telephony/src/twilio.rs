//! The Twilio carrier: places and controls calls through Twilio's REST API
//! (`POST /2010-04-01/Accounts/{sid}/Calls.json`, and `Calls/{CallSid}.json`
//! to modify a live call), with the call's TwiML inline and a
//! StatusCallback pointing at `/v1/carriers/twilio/status` on our public
//! URL. The callback route (`api/v1/twilio.rs`) checks the signature and
//! maps Twilio's statuses with [`map_status`].

use async_trait::async_trait;
use switchboard_domain::CallStatus;

use super::{CallRef, Carrier, CarrierError, LiveAction, PlaceCall, twiml};
use crate::secret::Secret;

/// Twilio's API version path segment.
const API: &str = "2010-04-01";

/// What the Twilio carrier needs; the token is a [`Secret`] and never logged.
#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: Secret,
    /// `https://api.twilio.com`, or a stand-in in tests.
    pub base_url: String,
    /// Our own base URL as Twilio reaches it (for StatusCallback).
    pub public_url: String,
    /// Caller id for calls whose campaign names none.
    pub from_number: Option<String>,
    /// Ask Twilio to tell machines from people (voicemail detection).
    pub machine_detection: bool,
}

/// Twilio's call statuses mapped onto ours. `completed` on a call a
/// machine answered (`AnsweredBy=machine_*`) is `voicemail`.
pub const STATUS_MAP: &[(&str, CallStatus)] = &[
    ("queued", CallStatus::Queued),
    ("initiated", CallStatus::Initiated),
    ("ringing", CallStatus::Ringing),
    ("in-progress", CallStatus::InProgress),
    ("answered", CallStatus::InProgress),
    ("completed", CallStatus::Completed),
    ("busy", CallStatus::Busy),
    ("no-answer", CallStatus::NoAnswer),
    ("failed", CallStatus::Failed),
    ("canceled", CallStatus::Canceled),
];

/// Our status for a Twilio `CallStatus` (and `AnsweredBy`).
pub fn map_status(call_status: &str, answered_by: Option<&str>) -> Option<CallStatus> {
    let s = STATUS_MAP.iter().find(|(t, _)| *t == call_status).map(|(_, s)| *s)?;
    let machine = answered_by.is_some_and(|a| a.starts_with("machine") || a == "fax");
    Some(if s == CallStatus::Completed && machine {
        CallStatus::Voicemail
    } else {
        s
    })
}

pub struct Twilio {
    settings: TwilioSettings,
    http: reqwest::Client,
}

impl std::fmt::Debug for Twilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Twilio").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Twilio {
    pub fn new(settings: TwilioSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Self { settings, http }
    }

    fn calls_url(&self) -> String {
        format!(
            "{}/{API}/Accounts/{}/Calls.json",
            self.settings.base_url.trim_end_matches('/'),
            self.settings.account_sid
        )
    }

    fn call_url(&self, sid: &str) -> String {
        format!(
            "{}/{API}/Accounts/{}/Calls/{sid}.json",
            self.settings.base_url.trim_end_matches('/'),
            self.settings.account_sid
        )
    }

    /// The StatusCallback URL of one call: our organisation and call ids
    /// ride in the query string, which the signature covers.
    pub fn status_callback(&self, call: &CallRef) -> String {
        self.callback("status", call)
    }

    /// Where a call's `<Gather>` posts what the callee pressed or said.
    pub fn gather_action(&self, call: &CallRef) -> String {
        self.callback("gather", call)
    }

    /// Where Twilio asks what to do when a scripted call is answered (and
    /// after a hold or an action, to resume the script).
    pub fn voice_url(&self, call: &CallRef) -> String {
        self.callback("voice", call)
    }

    fn callback(&self, route: &str, call: &CallRef) -> String {
        callback_url(&self.settings.public_url, route, &call.org_id, &call.call_id)
    }

    async fn post(&self, url: String, form: &[(&str, String)]) -> Result<serde_json::Value, CarrierError> {
        let resp = self
            .http
            .post(url)
            .basic_auth(&self.settings.account_sid, Some(self.settings.auth_token.expose()))
            .form(form)
            .send()
            .await
            .map_err(|e| CarrierError::Unavailable(e.without_url().to_string()))?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        if status.is_success() {
            return Ok(body);
        }
        let msg = body["message"].as_str().unwrap_or("no message").to_owned();
        if status.is_server_error() {
            Err(CarrierError::Unavailable(format!("Twilio answered {status}: {msg}")))
        } else {
            Err(CarrierError::Refused(format!("Twilio answered {status}: {msg}")))
        }
    }

    fn sid<'a>(&self, call: &'a CallRef) -> Result<&'a str, CarrierError> {
        call.external_id
            .as_deref()
            .ok_or_else(|| CarrierError::UnknownCall(call.call_id.to_string()))
    }

    async fn modify(&self, call: &CallRef, form: &[(&str, String)]) -> Result<(), CarrierError> {
        let sid = self.sid(call)?;
        self.post(self.call_url(sid), form).await.map(|_| ())
    }
}

/// One of our Twilio callback URLs (`status`, `gather`) for a call: our
/// organisation and call ids ride in the query string, which the signature
/// covers.
pub fn callback_url(public_url: &str, route: &str, org: &switchboard_domain::OrgId, call: &switchboard_domain::CallId) -> String {
    format!(
        "{}/v1/carriers/twilio/{route}?org={org}&call={call}",
        public_url.trim_end_matches('/')
    )
}

#[async_trait]
impl Carrier for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn id_prefix(&self) -> Option<String> {
        None
    }

    async fn place(&self, req: PlaceCall) -> Result<String, CarrierError> {
        let call = CallRef {
            org_id: req.call.org_id.clone(),
            call_id: req.call.id.clone(),
            external_id: None,
        };
        let to = req
            .call
            .to
            .clone()
            .ok_or_else(|| CarrierError::Refused("the call has no number to dial".into()))?;
        let from = req
            .call
            .from
            .clone()
            .or_else(|| self.settings.from_number.clone())
            .ok_or_else(|| CarrierError::Refused("no caller id: set the campaign's callerId or twilio_from_number".into()))?;
        let mut form: Vec<(&str, String)> = vec![("To", to), ("From", from)];
        if req.conversation {
            // The script runs turn by turn: Twilio asks our voice route on answer.
            form.push(("Url", self.voice_url(&call)));
            form.push(("Method", "POST".into()));
        } else {
            form.push(("Twiml", twiml::empty()));
        }
        form.push(("StatusCallback", self.status_callback(&call)));
        form.push(("StatusCallbackMethod", "POST".into()));
        for event in ["initiated", "ringing", "answered", "completed"] {
            form.push(("StatusCallbackEvent", event.into()));
        }
        if self.settings.machine_detection {
            form.push(("MachineDetection", "Enable".into()));
        }
        let body = self.post(self.calls_url(), &form).await?;
        body["sid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| CarrierError::Unavailable("Twilio's answer carried no call sid".into()))
    }

    async fn cancel(&self, call: &CallRef) -> Result<(), CarrierError> {
        self.modify(call, &[("Status", "canceled".into())]).await
    }

    async fn hang_up(&self, call: &CallRef) -> Result<(), CarrierError> {
        self.modify(call, &[("Status", "completed".into())]).await
    }

    async fn act(&self, call: &CallRef, action: &LiveAction) -> Result<(), CarrierError> {
        let voice = self.voice_url(call);
        let doc = match action {
            LiveAction::Hangup => return self.hang_up(call).await,
            // Mute belongs to an agent's audio leg, which a call we place
            // through Twilio does not have: the timeline records it.
            LiveAction::Mute | LiveAction::Unmute => return Ok(()),
            LiveAction::Hold => twiml::then_resume(r#"<Pause length="600"/>"#, &voice),
            LiveAction::Unhold => twiml::then_resume("", &voice),
            LiveAction::Dtmf { digits } => twiml::then_resume(&twiml::digits(digits), &voice),
            LiveAction::Say { text, .. } => twiml::then_resume(&twiml::say_element(text), &voice),
            LiveAction::Play { url } => twiml::then_resume(&format!("<Play>{}</Play>", twiml::escape(url)), &voice),
            LiveAction::Gather {
                input,
                num_digits,
                timeout_secs,
            } => twiml::turn(
                &[switchboard_domain::conversation::Action::Gather {
                    step: "adhoc".into(),
                    prompt: String::new(),
                    voice: None,
                    input: *input,
                    num_digits: *num_digits,
                    timeout_secs: *timeout_secs,
                }],
                twiml::Urls {
                    gather: &self.gather_action(call),
                    voice: &voice,
                },
                &|_, _| None,
            ),
            LiveAction::Transfer { to, .. } => twiml::transfer(to),
        };
        self.modify(call, &[("Twiml", doc)]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_twilio_status_maps() {
        use CallStatus::*;
        let expect = [
            ("queued", None, Queued),
            ("initiated", None, Initiated),
            ("ringing", None, Ringing),
            ("in-progress", None, InProgress),
            ("completed", Some("human"), Completed),
            ("completed", Some("machine_end_beep"), Voicemail),
            ("completed", None, Completed),
            ("busy", None, Busy),
            ("no-answer", None, NoAnswer),
            ("failed", None, Failed),
            ("canceled", None, Canceled),
        ];
        for (t, by, ours) in expect {
            assert_eq!(map_status(t, by), Some(ours), "{t} {by:?}");
        }
        assert_eq!(map_status("exploded", None), None);
    }

    #[test]
    fn the_token_never_prints() {
        let t = Twilio::new(TwilioSettings {
            account_sid: "AC1".into(),
            auth_token: Secret::new("hunter2"),
            base_url: "http://127.0.0.1:1".into(),
            public_url: "https://sb.example.com".into(),
            from_number: None,
            machine_detection: false,
        });
        assert!(!format!("{t:?}").contains("hunter2"));
    }
}
