//! The conversation runtime's state machine: events from a live call in,
//! actions for the carrier and effects for the call record out. Pure: the
//! runtime worker feeds it what the carrier heard and executes what it
//! answers, on the simulator, on Twilio or over SIP alike.
//!
//! One [`react`] call takes the script (rendered steps), the call's
//! [`State`] (serialisable, so another node can carry the call on) and one
//! [`Event`]; it runs steps until the call must wait for the callee (a
//! question, a pause, a model's reply) or ends, and answers the
//! [`Reaction`]: carrier [`Action`]s in order and record [`Effect`]s
//! (steps entered, answers heard, data collected, the outcome).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::script::{self, InputMode, Step, StepType, TransferMode};

/// Reads what a callee meant. The built-in [`KeywordIntents`] matches
/// phrases; the intelligence crate's classifier replaces it.
pub trait Understand {
    /// The best intent for `text` and its confidence (0..1), or `None` when
    /// unsure ("unknown" is never dressed up as an answer).
    fn intent(&self, text: &str) -> Option<(String, f32)>;
}

/// What happened on the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// A person answered.
    Answered,
    /// An answering machine answered (or was detected later).
    MachineDetected,
    /// The callee spoke.
    Speech {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<f32>,
        #[serde(default = "yes")]
        is_final: bool,
    },
    /// The callee pressed keys.
    Dtmf { digits: String },
    /// The wait for an answer timed out.
    Silence,
    /// A pause step's time is up.
    PauseDone,
    /// The language model answered an `agent` step's turn.
    Model(ModelReply),
    /// The model did not answer in time, or is not configured.
    ModelFailed { reason: String },
    /// The transfer target could not take the call.
    TransferFailed { reason: String },
    /// The callee hung up.
    Hangup,
}

fn yes() -> bool {
    true
}

/// A model's turn: words to say and tools it called.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelReply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolCall>,
}

/// The tools an `agent` step's model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "tool", rename_all = "camelCase")]
pub enum ToolCall {
    Transfer {
        to: String,
        #[serde(default)]
        mode: TransferMode,
    },
    Hangup {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<String>,
    },
    Collect {
        field: String,
        value: Value,
    },
    Goto {
        step: String,
    },
}

/// What the carrier must do, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Action {
    Say {
        step: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        voice: Option<String>,
    },
    /// Speak `prompt` (if any) and wait for an answer.
    Gather {
        step: String,
        prompt: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        voice: Option<String>,
        input: InputMode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        num_digits: Option<u8>,
        timeout_secs: u32,
    },
    Pause {
        step: String,
        secs: u32,
    },
    Transfer {
        step: String,
        to: String,
        mode: TransferMode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    Hangup {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
    },
    /// Ask the language model for its turn (the runtime sends the transcript).
    AskModel {
        step: String,
        instructions: String,
        turn: u32,
    },
}

impl Action {
    /// Does the call wait for the callee (or the model) after this action?
    pub fn waits(&self) -> bool {
        matches!(self, Self::Gather { .. } | Self::Pause { .. } | Self::AskModel { .. })
    }

    /// Does the conversation end with this action?
    pub fn ends(&self) -> bool {
        matches!(self, Self::Transfer { .. } | Self::Hangup { .. })
    }

    /// Text this action speaks to the callee.
    pub fn spoken(&self) -> Option<&str> {
        match self {
            Self::Say { text, .. } => Some(text),
            Self::Gather { prompt, .. } if !prompt.is_empty() => Some(prompt),
            _ => None,
        }
    }
}

/// What the call record gains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "camelCase")]
pub enum Effect {
    /// The script entered a step (the path taken).
    Entered {
        step: String,
        kind: StepType,
    },
    /// An answer to a step, how it was read and where it led.
    Heard {
        step: String,
        /// `speech`, `dtmf` or `silence`.
        via: String,
        answer: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intent: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<f32>,
        /// `digits:1`, `intent:interested`, `keywords`, `default`, `noInput`, `retry` or `next`.
        matched: String,
    },
    Collect {
        key: String,
        value: Value,
    },
    Outcome {
        outcome: String,
    },
    /// The conversation is over and why.
    Ended {
        reason: String,
    },
}

/// Every step entered, as one reaction's actions and effects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reaction {
    pub actions: Vec<Action>,
    pub effects: Vec<Effect>,
}

impl Reaction {
    fn say(&mut self, step: &Step, text: &str) {
        if !text.trim().is_empty() {
            self.actions.push(Action::Say {
                step: step.id.clone(),
                text: text.to_owned(),
                voice: step.voice.clone(),
            });
        }
    }
}

/// What the conversation waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Waiting {
    /// Not answered yet.
    #[default]
    Start,
    Answer,
    Pause,
    Model,
    /// Handed over; a failed transfer is still reported.
    Transfer,
    Done,
}

/// A call's place in its script.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Index of the current step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    pub waiting: Waiting,
    /// Re-asks of the current question so far.
    #[serde(default)]
    pub retries: u32,
    /// Model turns of the current agent step so far.
    #[serde(default)]
    pub turns: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

impl State {
    /// The script has nothing more to do on the call.
    pub fn ended(&self) -> bool {
        matches!(self.waiting, Waiting::Done | Waiting::Transfer)
    }

    /// The id of the current step.
    pub fn step_id<'a>(&self, steps: &'a [Step]) -> Option<&'a str> {
        self.step.and_then(|i| steps.get(i)).map(|s| s.id.as_str())
    }
}

/// Most steps one reaction may run (a guard; `script::check` refuses loops
/// that never wait).
const MAX_STEPS_PER_REACTION: usize = 200;

/// Applies `ev` to the conversation; see the module docs.
pub fn react(steps: &[Step], state: &mut State, ev: Event, nlu: &dyn Understand) -> Reaction {
    let mut r = Reaction::default();
    let transfer_news = state.waiting == Waiting::Transfer && matches!(ev, Event::TransferFailed { .. } | Event::Hangup);
    if (state.ended() && !transfer_news) || steps.is_empty() {
        return r;
    }
    match ev {
        Event::Hangup => end(state, &mut r, "the callee hung up"),
        Event::MachineDetected => voicemail(steps, state, &mut r),
        Event::Answered if state.waiting == Waiting::Start => run_from(steps, state, &mut r, script::first(steps)),
        Event::PauseDone if state.waiting == Waiting::Pause => {
            let next = state.step.and_then(|i| script::after(steps, &script::index(steps), i));
            run_from(steps, state, &mut r, next);
        }
        Event::Speech { is_final: false, .. } => {}
        Event::Speech { .. } | Event::Dtmf { .. } | Event::Silence if state.waiting == Waiting::Answer => {
            answer(steps, state, &mut r, ev, nlu)
        }
        Event::Model(reply) if state.waiting == Waiting::Model => model_reply(steps, state, &mut r, reply),
        Event::ModelFailed { reason } if state.waiting == Waiting::Model => {
            let i = state.step.unwrap_or(0);
            r.effects.push(Effect::Heard {
                step: steps[i].id.clone(),
                via: "model".into(),
                answer: reason,
                intent: None,
                confidence: None,
                matched: "default".into(),
            });
            leave_by(steps, state, &mut r, i, |s| s.default_branch());
        }
        Event::TransferFailed { reason } if state.waiting == Waiting::Transfer => {
            set_outcome(state, &mut r, "transfer_failed");
            r.actions.push(Action::Hangup {
                step: state.step_id(steps).map(str::to_owned),
            });
            end(state, &mut r, &format!("the transfer failed: {reason}"));
        }
        // Events that do not fit the moment (late, repeated) change nothing.
        _ => {}
    }
    r
}

fn end(state: &mut State, r: &mut Reaction, reason: &str) {
    state.waiting = Waiting::Done;
    r.effects.push(Effect::Ended { reason: reason.to_owned() });
}

fn set_outcome(state: &mut State, r: &mut Reaction, outcome: &str) {
    if state.outcome.as_deref() != Some(outcome) {
        state.outcome = Some(outcome.to_owned());
        r.effects.push(Effect::Outcome {
            outcome: outcome.to_owned(),
        });
    }
}

fn voicemail(steps: &[Step], state: &mut State, r: &mut Reaction) {
    let vm = steps.iter().position(|s| s.kind == StepType::Voicemail);
    if let Some(i) = vm {
        enter(steps, state, r, i);
        r.say(&steps[i], &steps[i].content);
    }
    set_outcome(state, r, "voicemail");
    r.actions.push(Action::Hangup {
        step: vm.map(|i| steps[i].id.clone()),
    });
    end(state, r, "an answering machine answered");
}

fn enter(steps: &[Step], state: &mut State, r: &mut Reaction, i: usize) {
    let s = &steps[i];
    state.step = Some(i);
    state.retries = 0;
    state.turns = 0;
    r.effects.push(Effect::Entered {
        step: s.id.clone(),
        kind: s.kind,
    });
    if let Some(o) = &s.outcome {
        set_outcome(state, r, o);
    }
}

/// Runs steps from `from` until the call waits or ends.
fn run_from(steps: &[Step], state: &mut State, r: &mut Reaction, mut from: Option<usize>) {
    let idx = script::index(steps);
    for _ in 0..MAX_STEPS_PER_REACTION {
        let Some(i) = from else {
            r.actions.push(Action::Hangup { step: None });
            end(state, r, "the script finished");
            return;
        };
        enter(steps, state, r, i);
        let s = &steps[i];
        match s.kind {
            StepType::Question => {
                r.actions.push(gather(s, &s.content));
                state.waiting = Waiting::Answer;
                return;
            }
            StepType::Pause => {
                r.say(s, &s.content);
                r.actions.push(Action::Pause {
                    step: s.id.clone(),
                    secs: s.secs.unwrap_or(1),
                });
                state.waiting = Waiting::Pause;
                return;
            }
            StepType::Agent => {
                r.actions.push(Action::AskModel {
                    step: s.id.clone(),
                    instructions: s.content.clone(),
                    turn: 0,
                });
                state.waiting = Waiting::Model;
                return;
            }
            StepType::Transfer => {
                r.say(s, &s.content);
                if s.outcome.is_none() {
                    set_outcome(state, r, "transferred");
                }
                r.actions.push(Action::Transfer {
                    step: s.id.clone(),
                    to: s.to.clone().unwrap_or_default(),
                    mode: s.mode.unwrap_or_default(),
                    note: None,
                });
                end(state, r, "transferred");
                state.waiting = Waiting::Transfer;
                return;
            }
            StepType::Hangup | StepType::Voicemail => {
                r.say(s, &s.content);
                r.actions.push(Action::Hangup { step: Some(s.id.clone()) });
                end(state, r, "the script hung up");
                return;
            }
            StepType::Greeting | StepType::Information | StepType::Response | StepType::Closing => {
                r.say(s, &s.content);
                from = script::after(steps, &idx, i);
            }
        }
    }
    r.actions.push(Action::Hangup { step: None });
    end(state, r, "the script ran too many steps without waiting");
}

fn gather(s: &Step, prompt: &str) -> Action {
    Action::Gather {
        step: s.id.clone(),
        prompt: prompt.to_owned(),
        voice: s.voice.clone(),
        input: if s.kind == StepType::Agent {
            InputMode::Speech
        } else {
            s.input.unwrap_or_default()
        },
        num_digits: s.num_digits,
        timeout_secs: s.timeout(),
    }
}

/// Goes where `pick` says, else to the step after.
fn leave_by(steps: &[Step], state: &mut State, r: &mut Reaction, i: usize, pick: impl Fn(&Step) -> Option<&script::Branch>) {
    let idx = script::index(steps);
    let next = match pick(&steps[i]) {
        Some(b) => idx.get(b.goto.as_str()).copied(),
        None => script::after(steps, &idx, i),
    };
    run_from(steps, state, r, next);
}

/// Single spoken digits read as key presses ("one" → "1").
fn spoken_digits(text: &str) -> Option<String> {
    let words: Vec<String> = words(text);
    if words.is_empty() || words.len() > 3 {
        return None;
    }
    let map: HashMap<&str, char> = [
        ("zero", '0'),
        ("oh", '0'),
        ("one", '1'),
        ("two", '2'),
        ("three", '3'),
        ("four", '4'),
        ("five", '5'),
        ("six", '6'),
        ("seven", '7'),
        ("eight", '8'),
        ("nine", '9'),
    ]
    .into_iter()
    .collect();
    let digits: Option<String> = words
        .iter()
        .filter(|w| !matches!(w.as_str(), "press" | "pressed" | "number" | "option"))
        .map(|w| {
            map.get(w.as_str())
                .copied()
                .or_else(|| (w.len() == 1).then(|| w.chars().next()).flatten().filter(|c| c.is_ascii_digit()))
        })
        .collect();
    digits.filter(|d| !d.is_empty())
}

/// Lower-case words of `text` (letters, digits and apostrophes).
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Does `phrase` occur in `text` as whole words?
pub fn has_phrase(text_words: &[String], phrase: &str) -> bool {
    let p = words(phrase);
    !p.is_empty() && text_words.windows(p.len()).any(|w| w == p.as_slice())
}

fn answer(steps: &[Step], state: &mut State, r: &mut Reaction, ev: Event, nlu: &dyn Understand) {
    let i = state.step.unwrap_or(0);
    let s = &steps[i];
    if s.kind == StepType::Agent {
        // The callee answered the model: its next turn.
        let heard = match &ev {
            Event::Speech { text, .. } => text.clone(),
            Event::Dtmf { digits } => digits.clone(),
            _ => String::new(),
        };
        state.turns += 1;
        r.effects.push(Effect::Heard {
            step: s.id.clone(),
            via: via(&ev).into(),
            answer: heard,
            intent: None,
            confidence: None,
            matched: "model".into(),
        });
        if state.turns >= s.turns() {
            return leave_by(steps, state, r, i, |s| s.default_branch());
        }
        r.actions.push(Action::AskModel {
            step: s.id.clone(),
            instructions: s.content.clone(),
            turn: state.turns,
        });
        state.waiting = Waiting::Model;
        return;
    }
    let (text, digits) = match &ev {
        Event::Speech { text, .. } => (text.trim().to_owned(), spoken_digits(text)),
        Event::Dtmf { digits } => (digits.clone(), Some(digits.clone())),
        _ => (String::new(), None),
    };
    if text.is_empty() {
        // Nothing heard: ask again, then the noInput branch, the default, or on.
        if state.retries < s.retries() {
            state.retries += 1;
            r.effects.push(heard(s, &ev, "", None, "retry"));
            let prompt = s.no_input_prompt.clone().unwrap_or_else(|| s.content.clone());
            r.actions.push(gather(s, &prompt));
            return;
        }
        let branch = s.no_input_branch().or_else(|| s.default_branch());
        r.effects.push(heard(
            s,
            &ev,
            "",
            None,
            branch.map_or("next", |b| if b.no_input { "noInput" } else { "default" }),
        ));
        return leave_by(steps, state, r, i, |s| s.no_input_branch().or_else(|| s.default_branch()));
    }
    let intent = match &ev {
        Event::Speech { .. } if s.branches.iter().any(|b| b.intent.is_some()) => nlu.intent(&text),
        _ => None,
    };
    let text_words = words(&text);
    let matched = s.branches.iter().find(|b| {
        if let Some(d) = &b.digits {
            digits.as_deref() == Some(d.as_str())
        } else if let Some(want) = &b.intent {
            intent.as_ref().is_some_and(|(got, _)| got == want)
        } else if !b.keywords.is_empty() {
            matches!(ev, Event::Speech { .. }) && b.keywords.iter().any(|k| has_phrase(&text_words, k))
        } else {
            false
        }
    });
    let how = match matched {
        Some(b) if b.digits.is_some() => format!("digits:{}", b.digits.as_deref().unwrap_or("")),
        Some(b) if b.intent.is_some() => format!("intent:{}", b.intent.as_deref().unwrap_or("")),
        Some(_) => "keywords".to_owned(),
        None if s.default_branch().is_some() => "default".to_owned(),
        None if s.branches.iter().any(|b| !b.no_input) && state.retries < s.retries() => "retry".to_owned(),
        None => "next".to_owned(),
    };
    r.effects.push(heard(s, &ev, &text, intent.clone(), &how));
    if how == "retry" {
        state.retries += 1;
        let prompt = s.no_input_prompt.clone().unwrap_or_else(|| s.content.clone());
        r.actions.push(gather(s, &prompt));
        return;
    }
    let value = match &ev {
        Event::Dtmf { digits } => Value::String(digits.clone()),
        _ => Value::String(text.clone()),
    };
    r.effects.push(Effect::Collect {
        key: s.answer_key().to_owned(),
        value,
    });
    let goto = matched.or_else(|| s.default_branch()).map(|b| b.goto.clone());
    let idx = script::index(steps);
    let next = match goto {
        Some(g) => idx.get(g.as_str()).copied(),
        None => script::after(steps, &idx, i),
    };
    run_from(steps, state, r, next);
}

fn via(ev: &Event) -> &'static str {
    match ev {
        Event::Speech { .. } => "speech",
        Event::Dtmf { .. } => "dtmf",
        _ => "silence",
    }
}

fn heard(s: &Step, ev: &Event, text: &str, intent: Option<(String, f32)>, matched: &str) -> Effect {
    let (intent, confidence) = match intent {
        Some((n, c)) => (Some(n), Some(c)),
        None => (None, None),
    };
    Effect::Heard {
        step: s.id.clone(),
        via: via(ev).into(),
        answer: text.to_owned(),
        intent,
        confidence,
        matched: matched.to_owned(),
    }
}

fn model_reply(steps: &[Step], state: &mut State, r: &mut Reaction, reply: ModelReply) {
    let i = state.step.unwrap_or(0);
    let s = &steps[i];
    let idx = script::index(steps);
    for tool in &reply.tools {
        if let ToolCall::Collect { field, value } = tool {
            r.effects.push(Effect::Collect {
                key: field.clone(),
                value: value.clone(),
            });
        }
    }
    if let Some(text) = &reply.say {
        r.say(s, text);
    }
    for tool in reply.tools {
        match tool {
            ToolCall::Transfer { to, mode } => {
                set_outcome(state, r, "transferred");
                r.actions.push(Action::Transfer {
                    step: s.id.clone(),
                    to,
                    mode,
                    note: None,
                });
                end(state, r, "transferred by the model");
                state.waiting = Waiting::Transfer;
                return;
            }
            ToolCall::Hangup { outcome } => {
                if let Some(o) = outcome {
                    set_outcome(state, r, &o);
                }
                r.actions.push(Action::Hangup { step: Some(s.id.clone()) });
                return end(state, r, "the model hung up");
            }
            ToolCall::Goto { step } => {
                if let Some(&j) = idx.get(step.as_str()) {
                    return run_from(steps, state, r, Some(j));
                }
            }
            ToolCall::Collect { .. } => {}
        }
    }
    if reply.say.as_deref().is_none_or(|t| t.trim().is_empty()) {
        // Nothing to say and nowhere to go: the step is done.
        return leave_by(steps, state, r, i, |s| s.default_branch());
    }
    // The model spoke: hear the callee's reply.
    if let Some(Action::Say { .. }) = r.actions.last() {
        r.actions.pop();
    }
    r.actions.push(gather(s, reply.say.as_deref().unwrap_or("")));
    state.waiting = Waiting::Answer;
}

/// The actions that put a call back where its script waits (after a hold,
/// an interruption or a carrier restart): the current question asked
/// again, the pause again, the model asked again; nothing before the
/// answer or after the end.
pub fn resume_actions(steps: &[Step], state: &State) -> Vec<Action> {
    let Some(s) = state.step.and_then(|i| steps.get(i)) else {
        return Vec::new();
    };
    match state.waiting {
        Waiting::Answer if s.kind == StepType::Agent => vec![gather(s, "")],
        Waiting::Answer => vec![gather(s, s.no_input_prompt.as_deref().unwrap_or(&s.content))],
        Waiting::Pause => vec![Action::Pause {
            step: s.id.clone(),
            secs: s.secs.unwrap_or(1),
        }],
        Waiting::Model => vec![Action::AskModel {
            step: s.id.clone(),
            instructions: s.content.clone(),
            turn: state.turns,
        }],
        Waiting::Start | Waiting::Transfer | Waiting::Done => Vec::new(),
    }
}

/// Call-centre intents read from phrases: the fallback understanding when
/// no classifier is configured.
pub struct KeywordIntents {
    rules: Vec<(&'static str, Vec<&'static str>)>,
}

impl Default for KeywordIntents {
    fn default() -> Self {
        // Earlier rules win: the more specific meanings come first.
        let rules = vec![
            (
                "wrong_number",
                vec![
                    "wrong number",
                    "wrong person",
                    "no one here by that name",
                    "nobody here by that name",
                    "doesn't live here",
                    "does not live here",
                    "you have the wrong",
                ],
            ),
            (
                "do_not_call",
                vec![
                    "stop calling",
                    "don't call",
                    "do not call",
                    "remove me",
                    "take me off",
                    "never call",
                ],
            ),
            (
                "transfer_request",
                vec![
                    "real person",
                    "human",
                    "speak to someone",
                    "talk to someone",
                    "representative",
                    "operator",
                    "manager",
                    "speak to an agent",
                    "talk to an agent",
                    "live agent",
                    "supervisor",
                ],
            ),
            (
                "callback_request",
                vec![
                    "call me back",
                    "call back",
                    "callback",
                    "another time",
                    "later",
                    "busy right now",
                    "not a good time",
                    "tomorrow",
                ],
            ),
            (
                "not_interested",
                vec![
                    "not interested",
                    "no thanks",
                    "no thank you",
                    "not for me",
                    "don't need",
                    "do not need",
                    "don't want",
                    "no",
                ],
            ),
            (
                "interested",
                vec![
                    "interested",
                    "yes",
                    "yeah",
                    "sure",
                    "sounds good",
                    "tell me more",
                    "sign me up",
                    "okay",
                    "ok",
                    "absolutely",
                    "of course",
                    "go ahead",
                ],
            ),
        ];
        Self { rules }
    }
}

impl Understand for KeywordIntents {
    fn intent(&self, text: &str) -> Option<(String, f32)> {
        let w = words(text);
        self.rules
            .iter()
            .find(|(_, phrases)| phrases.iter().any(|p| has_phrase(&w, p)))
            .map(|(name, _)| ((*name).to_owned(), 0.6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Branch;

    fn b_digits(d: &str, goto: &str) -> Branch {
        Branch {
            digits: Some(d.into()),
            goto: goto.into(),
            ..Default::default()
        }
    }

    fn b_intent(i: &str, goto: &str) -> Branch {
        Branch {
            intent: Some(i.into()),
            goto: goto.into(),
            ..Default::default()
        }
    }

    fn b_default(goto: &str) -> Branch {
        Branch {
            default: true,
            goto: goto.into(),
            ..Default::default()
        }
    }

    fn sales() -> Vec<Step> {
        vec![
            Step::new("hi", StepType::Greeting, "Hi, this is Acme."),
            Step {
                branches: vec![
                    b_digits("1", "yes"),
                    b_intent("interested", "yes"),
                    b_intent("callback_request", "later"),
                    b_intent("transfer_request", "human"),
                    b_default("no"),
                ],
                save_as: Some("interest".into()),
                ..Step::new(
                    "ask",
                    StepType::Question,
                    "Would you like to hear about our offer? Press 1 for yes.",
                )
            },
            Step {
                outcome: Some("successful".into()),
                ..Step::new("yes", StepType::Hangup, "Great, we'll send details.")
            },
            Step {
                outcome: Some("callback".into()),
                ..Step::new("later", StepType::Hangup, "We'll call back.")
            },
            Step {
                to: Some("+15550001111".into()),
                ..Step::new("human", StepType::Transfer, "Connecting you.")
            },
            Step {
                outcome: Some("refused".into()),
                ..Step::new("no", StepType::Hangup, "Sorry to bother you.")
            },
            Step::new("vm", StepType::Voicemail, "Please call Acme back."),
        ]
    }

    fn run(steps: &[Step], events: Vec<Event>) -> (State, Vec<Reaction>) {
        crate::script::check(steps).unwrap();
        let mut st = State::default();
        let nlu = KeywordIntents::default();
        let rs = events.into_iter().map(|e| react(steps, &mut st, e, &nlu)).collect();
        (st, rs)
    }

    fn speech(t: &str) -> Event {
        Event::Speech {
            text: t.into(),
            confidence: Some(0.9),
            is_final: true,
        }
    }

    #[test]
    fn answered_call_speaks_then_asks() {
        let (st, rs) = run(&sales(), vec![Event::Answered]);
        assert_eq!(st.waiting, Waiting::Answer);
        assert!(matches!(&rs[0].actions[0], Action::Say { text, .. } if text == "Hi, this is Acme."));
        assert!(matches!(&rs[0].actions[1], Action::Gather { step, .. } if step == "ask"));
    }

    #[test]
    fn each_branch_is_taken_for_its_answer() {
        let cases = [
            (Event::Dtmf { digits: "1".into() }, "successful", "yes"),
            (speech("yes I'm interested"), "successful", "yes"),
            (speech("can you call me back tomorrow"), "callback", "later"),
            (speech("let me speak to a real person"), "transferred", "human"),
            (speech("no thanks"), "refused", "no"),
            (speech("one"), "successful", "yes"),
        ];
        for (ev, outcome, last) in cases {
            let (st, rs) = run(&sales(), vec![Event::Answered, ev.clone()]);
            assert!(st.ended(), "{ev:?}");
            assert_eq!(st.outcome.as_deref(), Some(outcome), "{ev:?}");
            assert_eq!(st.step_id(&sales()), Some(last));
            assert!(rs[1].actions.last().unwrap().ends());
            assert!(
                rs[1]
                    .effects
                    .iter()
                    .any(|e| matches!(e, Effect::Collect { key, .. } if key == "interest"))
            );
        }
    }

    #[test]
    fn silence_is_retried_then_defaults() {
        let (st, rs) = run(&sales(), vec![Event::Answered, Event::Silence, Event::Silence]);
        assert!(matches!(&rs[1].actions[..], [Action::Gather { .. }]));
        assert_eq!(st.outcome.as_deref(), Some("refused"));
        assert!(st.ended());
    }

    #[test]
    fn machines_get_the_voicemail_step() {
        let (st, rs) = run(&sales(), vec![Event::MachineDetected, Event::Answered]);
        assert_eq!(st.outcome.as_deref(), Some("voicemail"));
        assert!(matches!(&rs[0].actions[0], Action::Say { text, .. } if text == "Please call Acme back."));
        assert!(rs[1].actions.is_empty(), "events after the end change nothing");
    }

    #[test]
    fn linear_templates_run_in_order_and_hang_up() {
        let mut steps = vec![
            Step::new("", StepType::Greeting, "Hello"),
            Step::new("", StepType::Question, "Press 1 to confirm"),
            Step::new("", StepType::Closing, "Bye"),
        ];
        crate::script::assign_ids(&mut steps);
        let (st, rs) = run(&steps, vec![Event::Answered, Event::Dtmf { digits: "1".into() }]);
        assert!(st.ended());
        assert!(matches!(&rs[1].actions[..], [Action::Say { text, .. }, Action::Hangup { .. }] if text == "Bye"));
        assert!(rs[1].effects.contains(&Effect::Collect {
            key: "2".into(),
            value: Value::String("1".into())
        }));
    }

    #[test]
    fn agent_steps_take_model_turns_and_tools() {
        let steps = vec![
            Step {
                max_turns: Some(3),
                branches: vec![b_default("bye")],
                ..Step::new("ai", StepType::Agent, "Book a demo.")
            },
            Step::new("bye", StepType::Hangup, "Goodbye."),
        ];
        let reply = |say: &str, tools: Vec<ToolCall>| {
            Event::Model(ModelReply {
                say: Some(say.into()),
                tools,
            })
        };
        let (st, rs) = run(
            &steps,
            vec![
                Event::Answered,
                reply("When suits you?", vec![]),
                speech("Tuesday"),
                reply(
                    "Booked.",
                    vec![
                        ToolCall::Collect {
                            field: "demoDay".into(),
                            value: "Tuesday".into(),
                        },
                        ToolCall::Hangup {
                            outcome: Some("successful".into()),
                        },
                    ],
                ),
            ],
        );
        assert!(matches!(&rs[0].actions[..], [Action::AskModel { turn: 0, .. }]));
        assert!(matches!(&rs[1].actions[..], [Action::Gather { prompt, .. }] if prompt == "When suits you?"));
        assert!(matches!(&rs[2].actions[..], [Action::AskModel { turn: 1, .. }]));
        assert!(matches!(&rs[3].actions[..], [Action::Say { .. }, Action::Hangup { .. }]));
        assert_eq!(st.outcome.as_deref(), Some("successful"));
        // A model that fails falls back to the default branch.
        let (st, rs) = run(&steps, vec![Event::Answered, Event::ModelFailed { reason: "timeout".into() }]);
        assert_eq!(st.step_id(&steps), Some("bye"));
        assert!(matches!(rs[1].actions.last(), Some(Action::Hangup { .. })));
    }

    #[test]
    fn failed_transfers_end_the_call_with_a_clear_outcome() {
        let (st, rs) = run(
            &sales(),
            vec![
                Event::Answered,
                speech("get me a human"),
                Event::TransferFailed { reason: "gone".into() },
            ],
        );
        assert_eq!(st.outcome.as_deref(), Some("transfer_failed"));
        assert!(matches!(&rs[2].actions[..], [Action::Hangup { .. }]));
    }

    #[test]
    fn state_survives_serialisation_mid_call() {
        let steps = sales();
        let nlu = KeywordIntents::default();
        let mut st = State::default();
        react(&steps, &mut st, Event::Answered, &nlu);
        let mut copy: State = serde_json::from_str(&serde_json::to_string(&st).unwrap()).unwrap();
        let a = react(&steps, &mut st, speech("no thanks"), &nlu);
        let b = react(&steps, &mut copy, speech("no thanks"), &nlu);
        assert_eq!(a, b);
        assert_eq!(st, copy);
    }

    #[test]
    fn resume_asks_the_waiting_question_again() {
        let steps = sales();
        let nlu = KeywordIntents::default();
        let mut st = State::default();
        assert!(resume_actions(&steps, &st).is_empty());
        react(&steps, &mut st, Event::Answered, &nlu);
        assert!(matches!(&resume_actions(&steps, &st)[..], [Action::Gather { step, .. }] if step == "ask"));
        react(&steps, &mut st, Event::Hangup, &nlu);
        assert!(resume_actions(&steps, &st).is_empty());
    }

    #[test]
    fn keyword_intents_prefer_specific_meanings() {
        let k = KeywordIntents::default();
        let i = |t: &str| k.intent(t).map(|(n, _)| n);
        assert_eq!(i("No, you have the wrong number").as_deref(), Some("wrong_number"));
        assert_eq!(i("no, stop calling me").as_deref(), Some("do_not_call"));
        assert_eq!(i("I'm not interested").as_deref(), Some("not_interested"));
        assert_eq!(i("the weather is nice").as_deref(), None);
    }
}
