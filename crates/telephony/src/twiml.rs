//! TwiML: the conversation runtime's turns ([`turn`]) and the documents of
//! live-call actions.
//!
//! A `<Gather>` posts what the callee pressed or said (or, with
//! `actionOnEmptyResult`, that they said nothing) to its `action` URL, and
//! Twilio then runs the document that URL answers: the next turn.

use switchboard_domain::conversation::Action;
use switchboard_domain::script::InputMode;

/// Escapes text for an XML element or attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newlines are not XML.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn say(text: &str) -> String {
    format!("<Say>{}</Say>", escape(text))
}

/// Where a conversation's TwiML sends Twilio back: the signed gather
/// route (answers, silence, pause ends) and the voice route (answer,
/// resume after hold).
#[derive(Debug, Clone, Copy)]
pub struct Urls<'a> {
    pub gather: &'a str,
    pub voice: &'a str,
}

fn redirect(url: &str) -> String {
    format!(r#"<Redirect method="POST">{}</Redirect>"#, escape(url))
}

/// One turn of a conversation as a TwiML document: prompts as `<Say>` (or
/// `<Play>` of our audio when `audio` gives a URL for the voice and text),
/// a question as `<Gather>` posting to the gather route with the step id
/// (also on silence, `actionOnEmptyResult`), a pause as `<Pause>` then a
/// redirect announcing its end, a transfer as `<Dial>`, a hang-up as
/// `<Hangup/>`.
pub fn turn(actions: &[Action], urls: Urls<'_>, audio: &dyn Fn(Option<&str>, &str) -> Option<String>) -> String {
    let speak = |voice: Option<&str>, text: &str| match audio(voice, text) {
        Some(url) => format!("<Play>{}</Play>", escape(&url)),
        None => say(text),
    };
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
    for a in actions {
        match a {
            Action::Say { text, voice, .. } => out.push_str(&speak(voice.as_deref(), text)),
            Action::Gather {
                step,
                prompt,
                voice,
                input,
                num_digits,
                timeout_secs,
            } => {
                let kind = match input {
                    InputMode::Dtmf => "dtmf",
                    InputMode::Speech => "speech",
                    InputMode::Both => "dtmf speech",
                };
                out.push_str(&format!(r#"<Gather input="{kind}""#));
                if let Some(n) = num_digits {
                    out.push_str(&format!(r#" numDigits="{n}""#));
                }
                out.push_str(&format!(
                    r#" timeout="{timeout_secs}" speechTimeout="auto" actionOnEmptyResult="true" action="{}">"#,
                    escape(&format!("{}&step={step}", urls.gather))
                ));
                if !prompt.is_empty() {
                    out.push_str(&speak(voice.as_deref(), prompt));
                }
                out.push_str("</Gather>");
            }
            Action::Pause { step, secs } => {
                out.push_str(&format!(r#"<Pause length="{secs}"/>"#));
                out.push_str(&redirect(&format!("{}&step={step}&event=pause", urls.gather)));
            }
            Action::Transfer { to, .. } => out.push_str(&dial(to)),
            Action::Hangup { .. } => out.push_str("<Hangup/>"),
            Action::AskModel { .. } => {}
        }
    }
    out.push_str("</Response>");
    out
}

/// A document that does `inner`, then returns to the conversation where it waits.
pub fn then_resume(inner: &str, voice_url: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response>{inner}{}</Response>"#,
        redirect(&format!("{voice_url}&resume=1"))
    )
}

/// Key presses sent into the call (`w` waits half a second).
pub fn digits(d: &str) -> String {
    format!(r#"<Play digits="{}"/>"#, escape(d))
}

/// A `<Say>` element.
pub fn say_element(text: &str) -> String {
    say(text)
}

fn dial(to: &str) -> String {
    format!("<Dial>{}</Dial>", escape(to))
}

/// A document that only transfers the call.
pub fn transfer(to: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{}</Response>"#, dial(to))
}

/// A document that speaks a text.
pub fn speak(text: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{}</Response>"#, say(text))
}

/// A document that plays an audio file.
pub fn play(url: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Play>{}</Play></Response>"#,
        escape(url)
    )
}

/// A document that asks for `digits` key presses, posted to `action`.
pub fn gather(prompt: &str, digits: u8, action: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="{}" timeout="10" action="{}">{}</Gather></Response>"#,
        digits.max(1),
        escape(action),
        say(prompt)
    )
}

/// A document that does nothing more (the call ends).
pub fn empty() -> String {
    r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::script::TransferMode;

    #[test]
    fn turns_become_say_gather_pause_dial_and_hangup() {
        let urls = Urls {
            gather: "https://sb.example/v1/carriers/twilio/gather?org=o&call=c",
            voice: "https://sb.example/v1/carriers/twilio/voice?org=o&call=c",
        };
        let actions = vec![
            Action::Say {
                step: "hi".into(),
                text: "Hello Ann & <Bob>".into(),
                voice: None,
            },
            Action::Gather {
                step: "ask".into(),
                prompt: "Press 1?".into(),
                voice: None,
                input: InputMode::Both,
                num_digits: Some(1),
                timeout_secs: 5,
            },
        ];
        let none = |_: Option<&str>, _: &str| None;
        assert_eq!(
            turn(&actions, urls, &none),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Hello Ann &amp; &lt;Bob&gt;</Say>\
             <Gather input=\"dtmf speech\" numDigits=\"1\" timeout=\"5\" speechTimeout=\"auto\" actionOnEmptyResult=\"true\" \
             action=\"https://sb.example/v1/carriers/twilio/gather?org=o&amp;call=c&amp;step=ask\"><Say>Press 1?</Say></Gather></Response>"
        );
        let end = vec![
            Action::Pause { step: "p".into(), secs: 3 },
            Action::Transfer {
                step: "t".into(),
                to: "+15550001111".into(),
                mode: TransferMode::Cold,
                note: None,
            },
            Action::Hangup { step: None },
        ];
        let doc = turn(&end, urls, &|_, _| Some("https://sb.example/v1/audio/a1.wav".into()));
        assert!(doc.contains("<Pause length=\"3\"/><Redirect method=\"POST\">https://sb.example/v1/carriers/twilio/gather?org=o&amp;call=c&amp;step=p&amp;event=pause</Redirect>"), "{doc}");
        assert!(doc.contains("<Dial>+15550001111</Dial><Hangup/>"), "{doc}");
        let said = turn(&actions[..1], urls, &|_, _| Some("https://sb.example/v1/audio/a1.wav".into()));
        assert!(said.contains("<Play>https://sb.example/v1/audio/a1.wav</Play>"), "{said}");
        assert!(then_resume(&digits("1w2"), urls.voice).contains("<Play digits=\"1w2\"/><Redirect method=\"POST\">https://sb.example/v1/carriers/twilio/voice?org=o&amp;call=c&amp;resume=1</Redirect>"));
        assert!(gather("Enter", 4, "https://x/g?a=1&b=2").contains("numDigits=\"4\" timeout=\"10\" action=\"https://x/g?a=1&amp;b=2\""));
        assert!(play("https://x/a.mp3?a=1&b=2").contains("a=1&amp;b=2"));
    }
}
