//! The simulator's callees: a persona per answered call (chosen by the seed
//! or pinned by the caller) that answers each question of a script in
//! plain English, or with key presses when only those are asked for, with
//! human delays. Every persona reaches a different branch of a typical
//! sales or collections script, so a branching script runs end to end
//! offline.

use std::collections::VecDeque;

use switchboard_domain::conversation::{Event, words};
use switchboard_domain::script::InputMode;

use crate::simulator::Draws;

/// The personas by name.
pub const PERSONAS: [&str; 8] = [
    "interested",
    "not_interested",
    "callback",
    "wants_human",
    "wrong_number",
    "angry",
    "silent",
    "voicemail",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persona {
    Interested,
    NotInterested,
    /// Asks to be called back at a time.
    Callback,
    WantsHuman,
    WrongNumber,
    /// Complains, then hangs up at the second question.
    Angry,
    /// Never answers.
    Silent,
    /// An answering machine picks up.
    Voicemail,
}

impl Persona {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "interested" => Self::Interested,
            "not_interested" => Self::NotInterested,
            "callback" => Self::Callback,
            "wants_human" => Self::WantsHuman,
            "wrong_number" => Self::WrongNumber,
            "angry" => Self::Angry,
            "silent" => Self::Silent,
            "voicemail" => Self::Voicemail,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interested => "interested",
            Self::NotInterested => "not_interested",
            Self::Callback => "callback",
            Self::WantsHuman => "wants_human",
            Self::WrongNumber => "wrong_number",
            Self::Angry => "angry",
            Self::Silent => "silent",
            Self::Voicemail => "voicemail",
        }
    }

    /// A person's persona from a uniform draw (voicemail is decided by the
    /// carrier's voicemail rate, not here).
    pub fn draw(u: f64) -> Self {
        const WEIGHTS: [(Persona, f64); 7] = [
            (Persona::Interested, 0.28),
            (Persona::NotInterested, 0.22),
            (Persona::Callback, 0.16),
            (Persona::WantsHuman, 0.12),
            (Persona::WrongNumber, 0.08),
            (Persona::Angry, 0.08),
            (Persona::Silent, 0.06),
        ];
        let mut acc = 0.0;
        for (p, w) in WEIGHTS {
            acc += w;
            if u < acc {
                return p;
            }
        }
        Persona::Interested
    }

    fn lines(self) -> &'static [&'static str] {
        match self {
            Self::Interested => &[
                "Yes, that sounds good.",
                "Sure, I'm interested. Tell me more.",
                "Yes please, go ahead.",
                "Okay, sign me up.",
            ],
            Self::NotInterested => &["No thanks, I'm not interested.", "No, I don't need that.", "Not for me, thank you."],
            Self::Callback => &[
                "I'm busy right now, can you call me back tomorrow at 3 pm?",
                "This isn't a good time. Could you call back later this afternoon?",
            ],
            Self::WantsHuman => &["Can I speak to a real person please?", "I'd like to talk to a human agent."],
            Self::WrongNumber => &[
                "Sorry, you have the wrong number.",
                "There's nobody here by that name, wrong number.",
            ],
            Self::Angry => &[
                "Stop calling me, this is ridiculous!",
                "I'm sick of these calls, take me off your list!",
            ],
            Self::Silent | Self::Voicemail => &[],
        }
    }

    /// Words in a key-press option that this persona would choose.
    fn leanings(self) -> &'static [&'static str] {
        match self {
            Self::Interested => &[
                "yes",
                "confirm",
                "interested",
                "continue",
                "accept",
                "agree",
                "pay",
                "more",
                "sales",
                "buy",
            ],
            Self::NotInterested | Self::WrongNumber => &["no", "not", "cancel", "decline", "stop", "remove", "opt"],
            Self::Callback => &["later", "callback", "call", "back", "schedule"],
            Self::WantsHuman => &["agent", "representative", "human", "operator", "person", "speak", "talk"],
            Self::Angry | Self::Silent | Self::Voicemail => &[],
        }
    }
}

/// What a simulated callee does when asked something.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Speech { text: String, confidence: f32 },
    Dtmf(String),
    Silence,
    HangUp,
}

impl Reply {
    /// How long the callee takes to start answering and to say it (ms).
    pub fn duration_ms(&self, d: &mut Draws) -> i64 {
        let react = 400 + (d.uniform() * 1_100.0) as i64;
        match self {
            Reply::Speech { text, .. } => react + words(text).len() as i64 * 330,
            Reply::Dtmf(digits) => react + digits.len() as i64 * 250,
            Reply::HangUp => react,
            Reply::Silence => 0,
        }
    }

    pub fn event(&self) -> Event {
        match self {
            Reply::Speech { text, confidence } => Event::Speech {
                text: text.clone(),
                confidence: Some(*confidence),
                is_final: true,
            },
            Reply::Dtmf(d) => Event::Dtmf { digits: d.clone() },
            Reply::Silence => Event::Silence,
            Reply::HangUp => Event::Hangup,
        }
    }
}

/// A simulated callee on one call.
#[derive(Debug, Clone)]
pub struct Callee {
    pub persona: Persona,
    /// Pinned answers still to give.
    pub answers: VecDeque<String>,
    /// Questions asked so far.
    pub asked: u32,
    pub draws: Draws,
}

/// Key-press options a prompt offers: "press 1 to confirm", "2 for billing".
fn options(prompt: &str) -> Vec<(String, Vec<String>)> {
    let w = words(prompt);
    let mut out = Vec::new();
    for (i, word) in w.iter().enumerate() {
        if word.len() == 1 && word.chars().all(|c| c.is_ascii_digit()) {
            let label: Vec<String> = w[i + 1..]
                .iter()
                .take_while(|x| !(x.len() == 1 && x.chars().all(|c| c.is_ascii_digit())))
                .take(6)
                .cloned()
                .collect();
            if !label.is_empty() {
                out.push((word.clone(), label));
            }
        }
    }
    out
}

impl Callee {
    pub fn new(persona: Persona, answers: Vec<String>, draws: Draws) -> Self {
        Self {
            persona,
            answers: answers.into(),
            asked: 0,
            draws,
        }
    }

    /// The answer to a question asked with `prompt`.
    pub fn answer(&mut self, prompt: &str, input: InputMode) -> Reply {
        self.asked += 1;
        if let Some(pinned) = self.answers.pop_front() {
            let p = pinned.trim();
            return if p.is_empty() {
                Reply::Silence
            } else if p.eq_ignore_ascii_case("<hangup>") {
                Reply::HangUp
            } else if p.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#') {
                Reply::Dtmf(p.to_owned())
            } else {
                Reply::Speech {
                    text: p.to_owned(),
                    confidence: 0.93,
                }
            };
        }
        match self.persona {
            Persona::Silent | Persona::Voicemail => return Reply::Silence,
            Persona::Angry if self.asked > 1 => return Reply::HangUp,
            _ => {}
        }
        let confidence = 0.85 + (self.draws.uniform() * 0.12) as f32;
        if input == InputMode::Dtmf {
            let opts = options(prompt);
            let lean = self.persona.leanings();
            let pick = opts
                .iter()
                .find(|(_, label)| label.iter().any(|w| lean.contains(&w.as_str())))
                .map(|(d, _)| d.clone());
            return match (pick, self.persona) {
                (Some(d), _) => Reply::Dtmf(d),
                (None, Persona::Angry) => Reply::HangUp,
                (None, Persona::Interested) => Reply::Dtmf("1".into()),
                (None, _) => Reply::Dtmf(opts.get(1).map_or("2".to_owned(), |(d, _)| d.clone())),
            };
        }
        let lines = self.persona.lines();
        let text = lines[(self.draws.uniform() * lines.len() as f64) as usize % lines.len()];
        Reply::Speech {
            text: text.to_owned(),
            confidence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::conversation::{KeywordIntents, Understand};

    fn callee(p: Persona) -> Callee {
        Callee::new(p, vec![], Draws(7))
    }

    #[test]
    fn spoken_answers_carry_each_personas_intent() {
        let k = KeywordIntents::default();
        let expect = [
            (Persona::Interested, Some("interested")),
            (Persona::NotInterested, Some("not_interested")),
            (Persona::Callback, Some("callback_request")),
            (Persona::WantsHuman, Some("transfer_request")),
            (Persona::WrongNumber, Some("wrong_number")),
            (Persona::Angry, Some("do_not_call")),
        ];
        for (p, intent) in expect {
            for _ in 0..20 {
                let Reply::Speech { text, .. } = callee(p).answer("Would you like to hear more?", InputMode::Both) else {
                    panic!("{p:?} did not speak");
                };
                let got = k.intent(&text).map(|(n, _)| n);
                assert_eq!(got.as_deref(), intent, "{p:?}: {text}");
            }
        }
        assert_eq!(callee(Persona::Silent).answer("Hello?", InputMode::Both), Reply::Silence);
    }

    #[test]
    fn key_presses_follow_the_prompts_options() {
        let prompt = "Press 1 to confirm your payment, 2 to speak to an agent, or 3 to cancel.";
        assert_eq!(callee(Persona::Interested).answer(prompt, InputMode::Dtmf), Reply::Dtmf("1".into()));
        assert_eq!(callee(Persona::WantsHuman).answer(prompt, InputMode::Dtmf), Reply::Dtmf("2".into()));
        assert_eq!(
            callee(Persona::NotInterested).answer(prompt, InputMode::Dtmf),
            Reply::Dtmf("3".into())
        );
    }

    #[test]
    fn pinned_answers_come_first_then_the_persona() {
        let mut c = Callee::new(
            Persona::Silent,
            vec!["1".into(), "".into(), "call me later".into(), "<hangup>".into()],
            Draws(1),
        );
        assert_eq!(c.answer("q", InputMode::Both), Reply::Dtmf("1".into()));
        assert_eq!(c.answer("q", InputMode::Both), Reply::Silence);
        assert!(matches!(c.answer("q", InputMode::Both), Reply::Speech { text, .. } if text == "call me later"));
        assert_eq!(c.answer("q", InputMode::Both), Reply::HangUp);
        assert_eq!(c.answer("q", InputMode::Both), Reply::Silence);
    }

    #[test]
    fn angry_callers_hang_up_at_the_second_question() {
        let mut c = callee(Persona::Angry);
        assert!(matches!(c.answer("q", InputMode::Both), Reply::Speech { .. }));
        assert_eq!(c.answer("q", InputMode::Both), Reply::HangUp);
    }
}
