//! TwiML generated from a template's filled-in script: a `<Say>` per step,
//! question steps inside a `<Gather>` that collects a key press, and a
//! `<Dial>` when the call transfers.

use switchboard_domain::template::StepType;

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

/// The TwiML document for a call's script.
pub fn script(steps: &[(StepType, String)], transfer_to: Option<&str>) -> String {
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
    for (kind, text) in steps {
        if *kind == StepType::Question {
            out.push_str(r#"<Gather input="dtmf speech" numDigits="1" timeout="5">"#);
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

/// A document that asks for `digits` key presses.
pub fn gather(prompt: &str, digits: u8) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="{}" timeout="10">{}</Gather></Response>"#,
        digits.max(1),
        say(prompt)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_become_say_and_gather_and_dial() {
        let doc = script(
            &[
                (StepType::Greeting, "Hello Ann & <Bob>".into()),
                (StepType::Question, "Press 1?".into()),
                (StepType::Closing, "Bye".into()),
            ],
            Some("+15550001111"),
        );
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Hello Ann &amp; &lt;Bob&gt;</Say>\
             <Gather input=\"dtmf speech\" numDigits=\"1\" timeout=\"5\"><Say>Press 1?</Say></Gather>\
             <Say>Bye</Say><Dial>+15550001111</Dial></Response>"
        );
        assert!(gather("Enter", 4).contains("numDigits=\"4\""));
        assert!(play("https://x/a.mp3?a=1&b=2").contains("a=1&amp;b=2"));
    }
}
