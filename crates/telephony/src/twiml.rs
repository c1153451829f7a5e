//! TwiML generated from a template's filled-in script: a `<Say>` per step,
//! question steps inside a `<Gather>` that collects a key press, and a
//! `<Dial>` when the call transfers.
//!
//! A `<Gather>` posts what the callee pressed or said to its `action` URL,
//! and Twilio then runs the document that URL answers instead of the rest
//! of this one; so each question's action names its step, and our answer
//! (`POST /v1/carriers/twilio/gather`) is the script from the next step on.
//! Without input Twilio falls through to the next verb here, as before.

use switchboard_domain::template::{Step, StepType};

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

/// The TwiML document for a call's script from step `first` on; question
/// steps gather to `action` with `&step=N` appended (see the module docs).
pub fn script(steps: &[Step], first: usize, transfer_to: Option<&str>, action: Option<&str>) -> String {
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
    for (i, step) in steps.iter().enumerate().skip(first) {
        let text = &step.content;
        if step.kind == StepType::Question {
            out.push_str(r#"<Gather input="dtmf speech" numDigits="1" timeout="5""#);
            if let Some(action) = action {
                out.push_str(&format!(r#" action="{}""#, escape(&format!("{action}&step={i}"))));
            }
            out.push('>');
            out.push_str(&say(text));
            out.push_str("</Gather>");
        } else {
            out.push_str(&say(text));
        }
    }
    if let Some(to) = transfer_to {
        out.push_str(&dial(to));
    }
    out.push_str("</Response>");
    out
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

    #[test]
    fn steps_become_say_and_gather_and_dial() {
        let doc = script(
            &[
                Step::new("", StepType::Greeting, "Hello Ann & <Bob>"),
                Step::new("", StepType::Question, "Press 1?"),
                Step::new("", StepType::Closing, "Bye"),
            ],
            0,
            Some("+15550001111"),
            Some("https://sb.example/g?org=o&call=c"),
        );
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Hello Ann &amp; &lt;Bob&gt;</Say>\
             <Gather input=\"dtmf speech\" numDigits=\"1\" timeout=\"5\" action=\"https://sb.example/g?org=o&amp;call=c&amp;step=1\">\
             <Say>Press 1?</Say></Gather><Say>Bye</Say><Dial>+15550001111</Dial></Response>"
        );
        // The rest of the script after the question, for the gather's answer.
        let steps = [Step::new("", StepType::Question, "Q"), Step::new("", StepType::Closing, "Bye")];
        assert_eq!(
            script(&steps, 1, None, None),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Bye</Say></Response>"
        );
        assert!(gather("Enter", 4, "https://x/g?a=1&b=2").contains("numDigits=\"4\" timeout=\"10\" action=\"https://x/g?a=1&amp;b=2\""));
        assert!(play("https://x/a.mp3?a=1&b=2").contains("a=1&amp;b=2"));
    }
}
