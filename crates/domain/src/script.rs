//! The script format: a template's steps, what each one does on a live
//! call, where it goes next, and the checks that make a script runnable.
//!
//! A linear template (steps with a type and content only) runs in order:
//! prompts are spoken, questions wait for an answer, and the call hangs up
//! after the last step. Optional fields turn it into a branching script:
//! step `id`s, `branches` on questions (by DTMF digits, by intent, by
//! keywords, `default`, `noInput`), `next` on any step, `saveAs`, the step
//! types `transfer`, `hangup`, `voicemail`, `pause` and `agent` (a language
//! model holds the turn), retries with a no-input prompt, and `outcome`.
//!
//! [`check`] refuses what the runtime could not follow: unknown goto
//! targets, unreachable steps, loops that never wait for the callee.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Most steps in one template.
pub const MAX_STEPS: usize = 50;
/// Longest step text.
pub const MAX_STEP_CHARS: usize = 4_000;
/// Most branches on one step.
pub const MAX_BRANCHES: usize = 20;
/// Longest pause step.
pub const MAX_PAUSE_SECS: u32 = 60;
/// Longest wait for an answer.
pub const MAX_TIMEOUT_SECS: u32 = 60;
/// Most re-asks of a question.
pub const MAX_RETRIES: u32 = 5;
/// Most model turns of an `agent` step.
pub const MAX_MODEL_TURNS: u32 = 20;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepType {
    Greeting,
    #[default]
    Information,
    Question,
    Response,
    Closing,
    /// Hands the call to a number, a queue or an agent.
    Transfer,
    /// Ends the call (after saying its content, if any).
    Hangup,
    /// What to say to an answering machine; entered only when one answers.
    Voicemail,
    /// Waits `secs` seconds.
    Pause,
    /// A language model holds the conversation with the step's content as its instructions.
    Agent,
}

impl StepType {
    pub const ALL: [StepType; 10] = [
        Self::Greeting,
        Self::Information,
        Self::Question,
        Self::Response,
        Self::Closing,
        Self::Transfer,
        Self::Hangup,
        Self::Voicemail,
        Self::Pause,
        Self::Agent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Greeting => "greeting",
            Self::Information => "information",
            Self::Question => "question",
            Self::Response => "response",
            Self::Closing => "closing",
            Self::Transfer => "transfer",
            Self::Hangup => "hangup",
            Self::Voicemail => "voicemail",
            Self::Pause => "pause",
            Self::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Steps that wait for the callee (and so may sit in a loop).
    pub fn waits(self) -> bool {
        matches!(self, Self::Question | Self::Agent)
    }

    /// Steps whose content may be empty.
    fn content_optional(self) -> bool {
        matches!(self, Self::Transfer | Self::Hangup | Self::Pause)
    }
}

/// How a question may be answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputMode {
    Dtmf,
    Speech,
    #[default]
    Both,
}

impl InputMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dtmf => "dtmf",
            Self::Speech => "speech",
            Self::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "dtmf" => Self::Dtmf,
            "speech" => Self::Speech,
            "both" | "speech dtmf" | "dtmf speech" => Self::Both,
            _ => return None,
        })
    }
}

/// Cold: the call is handed over at once. Warm: the receiving side gets the
/// context (a note, the summary) before the caller joins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransferMode {
    #[default]
    Cold,
    Warm,
}

impl TransferMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cold => "cold",
            Self::Warm => "warm",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "cold" => Self::Cold,
            "warm" => Self::Warm,
            _ => return None,
        })
    }
}

/// Where an answer leads. Exactly one matcher: `digits`, `intent`,
/// `keywords`, `default` or `noInput`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Branch {
    /// Key presses that select this branch (exact, e.g. `"1"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digits: Option<String>,
    /// An intent name (built-in or the organisation's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Words or phrases, any of which in the answer selects this branch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Taken when no other branch matched an answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Taken when the callee said nothing after every retry.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_input: bool,
    /// The step to go to.
    pub goto: String,
}

impl Branch {
    fn matchers(&self) -> usize {
        usize::from(self.digits.is_some())
            + usize::from(self.intent.is_some())
            + usize::from(!self.keywords.is_empty())
            + usize::from(self.default)
            + usize::from(self.no_input)
    }
}

/// One step of a script.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Given, or assigned "1", "2", ... by position.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: StepType,
    /// Text spoken (for `agent`: the model's instructions).
    #[serde(default)]
    pub content: String,
    /// The key the answer is stored under in `collectedData` (default: the step id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<Branch>,
    /// The step after this one (default: the next in order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The call's outcome once this step is reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// One of the platform's voices for this step's prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    /// Questions: how the callee may answer (default both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputMode>,
    /// Questions: key presses to wait for (default: until `#` or a pause).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_digits: Option<u8>,
    /// Questions: seconds to wait for an answer (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u32>,
    /// Questions: how often to ask again after no (usable) answer (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Questions: what to say when asking again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_input_prompt: Option<String>,
    /// Transfers: a number (E.164), a queue id or an agent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<TransferMode>,
    /// Pauses: seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secs: Option<u32>,
    /// Agent steps: most model turns before the `default` branch (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_turns: Option<u32>,
}

impl Step {
    /// A step of `kind` saying `content`.
    pub fn new(id: impl Into<String>, kind: StepType, content: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind,
            content: content.into(),
            ..Default::default()
        }
    }

    /// Every text of the step that is spoken (and may hold `{variables}`), with its field name.
    pub fn texts(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("content", self.content.as_str())];
        if let Some(p) = &self.no_input_prompt {
            out.push(("noInputPrompt", p.as_str()));
        }
        if let Some(t) = &self.to {
            out.push(("to", t.as_str()));
        }
        out
    }

    /// The key the step's answer is stored under.
    pub fn answer_key(&self) -> &str {
        self.save_as.as_deref().unwrap_or(&self.id)
    }

    pub fn timeout(&self) -> u32 {
        self.timeout_secs.unwrap_or(5)
    }

    pub fn retries(&self) -> u32 {
        self.max_retries.unwrap_or(1)
    }

    pub fn turns(&self) -> u32 {
        self.max_turns.unwrap_or(8)
    }

    pub fn default_branch(&self) -> Option<&Branch> {
        self.branches.iter().find(|b| b.default)
    }

    pub fn no_input_branch(&self) -> Option<&Branch> {
        self.branches.iter().find(|b| b.no_input)
    }
}

/// Is `id` a usable step id (1–64 of letters, digits, `_`, `-`, `.`)?
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Gives every step without an id its position ("1", "2", ...).
pub fn assign_ids(steps: &mut [Step]) {
    for (i, s) in steps.iter_mut().enumerate() {
        if s.id.trim().is_empty() {
            s.id = (i + 1).to_string();
        }
    }
}

/// The index of each step id.
pub fn index(steps: &[Step]) -> HashMap<&str, usize> {
    steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect()
}

/// The step after `i` in order, skipping voicemail steps (entered only on
/// an answering machine).
pub fn following(steps: &[Step], i: usize) -> Option<usize> {
    (i + 1..steps.len()).find(|&j| steps[j].kind != StepType::Voicemail)
}

/// Where the script starts: the first step that is not a voicemail step.
pub fn first(steps: &[Step]) -> Option<usize> {
    steps.iter().position(|s| s.kind != StepType::Voicemail)
}

/// The step `next` names, else the following one.
pub fn after(steps: &[Step], idx: &HashMap<&str, usize>, i: usize) -> Option<usize> {
    match &steps[i].next {
        Some(n) => idx.get(n.as_str()).copied(),
        None => following(steps, i),
    }
}

/// Steps a step can lead to.
fn successors(steps: &[Step], idx: &HashMap<&str, usize>, i: usize) -> Vec<usize> {
    let s = &steps[i];
    let mut out: Vec<usize> = s.branches.iter().filter_map(|b| idx.get(b.goto.as_str()).copied()).collect();
    match s.kind {
        StepType::Transfer | StepType::Hangup | StepType::Voicemail => {}
        StepType::Question | StepType::Agent => {
            // Without a default, an answer no branch matched (or silence)
            // falls through to the step after.
            if s.default_branch().is_none() || s.no_input_branch().is_none() {
                out.extend(after(steps, idx, i));
            }
        }
        _ => out.extend(after(steps, idx, i)),
    }
    out
}

fn field(i: usize, name: &str) -> String {
    format!("steps[{i}].{name}")
}

/// Checks the shape of each step and the graph they form. Placeholders are
/// checked by the template (see [`crate::template::Template::check`]).
pub fn check(steps: &[Step]) -> Result<(), FieldError> {
    if steps.is_empty() {
        return Err(FieldError::new("steps", "must have at least one step"));
    }
    if steps.len() > MAX_STEPS {
        return Err(FieldError::new("steps", format!("must have at most {MAX_STEPS} steps")));
    }
    let mut seen = HashSet::new();
    for (i, s) in steps.iter().enumerate() {
        check_step(i, s)?;
        if !seen.insert(s.id.as_str()) {
            return Err(FieldError::new(field(i, "id"), format!("'{}' is used by an earlier step", s.id)));
        }
    }
    let idx = index(steps);
    for (i, s) in steps.iter().enumerate() {
        if let Some(n) = &s.next
            && !idx.contains_key(n.as_str())
        {
            return Err(FieldError::new(field(i, "next"), format!("no step has the id '{n}'")));
        }
        for (j, b) in s.branches.iter().enumerate() {
            if !idx.contains_key(b.goto.as_str()) {
                return Err(FieldError::new(
                    field(i, &format!("branches[{j}].goto")),
                    format!("no step has the id '{}'", b.goto),
                ));
            }
        }
    }
    let Some(start) = first(steps) else {
        return Err(FieldError::new("steps", "must have a step that is not a voicemail step"));
    };
    // Reachability from the start (voicemail steps are entries of their own).
    let mut reached = vec![false; steps.len()];
    let mut stack: Vec<usize> = vec![start];
    stack.extend(
        steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == StepType::Voicemail)
            .map(|(i, _)| i),
    );
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut reached[i], true) {
            continue;
        }
        stack.extend(successors(steps, &idx, i));
    }
    if let Some(i) = reached.iter().position(|r| !r) {
        return Err(FieldError::new(
            format!("steps[{i}]"),
            format!("step '{}' can never be reached: no step leads to it", steps[i].id),
        ));
    }
    // Loops must wait for the callee somewhere, or the call would spin.
    if let Some(i) = spinning_loop(steps, &idx) {
        return Err(FieldError::new(
            format!("steps[{i}]"),
            format!(
                "step '{}' is in a loop with no question or agent step in it; the call would never wait for an answer",
                steps[i].id
            ),
        ));
    }
    Ok(())
}

/// A step on a cycle made only of steps that do not wait, if any.
fn spinning_loop(steps: &[Step], idx: &HashMap<&str, usize>) -> Option<usize> {
    // Colours: 0 new, 1 on the path, 2 done.
    let mut colour = vec![0u8; steps.len()];
    for root in 0..steps.len() {
        if colour[root] != 0 || steps[root].kind.waits() {
            continue;
        }
        let mut stack: Vec<(usize, Vec<usize>)> = vec![(root, successors(steps, idx, root))];
        colour[root] = 1;
        while let Some((node, rest)) = stack.last_mut() {
            match rest.pop() {
                Some(n) if steps[n].kind.waits() => {}
                Some(n) if colour[n] == 1 => return Some(n),
                Some(n) if colour[n] == 0 => {
                    colour[n] = 1;
                    let next = successors(steps, idx, n);
                    stack.push((n, next));
                }
                Some(_) => {}
                None => {
                    colour[*node] = 2;
                    stack.pop();
                }
            }
        }
    }
    None
}

fn check_step(i: usize, s: &Step) -> Result<(), FieldError> {
    if !valid_id(&s.id) {
        return Err(FieldError::new(field(i, "id"), "must be 1 to 64 letters, digits, '_', '-' or '.'"));
    }
    for (name, text) in s.texts() {
        if text.chars().count() > MAX_STEP_CHARS {
            return Err(FieldError::new(
                field(i, name),
                format!("must be at most {MAX_STEP_CHARS} characters"),
            ));
        }
    }
    if s.content.trim().is_empty() && !s.kind.content_optional() {
        return Err(FieldError::new(field(i, "content"), "must not be empty"));
    }
    if let Some(k) = &s.save_as
        && !crate::template::valid_variable(k)
    {
        return Err(FieldError::new(
            field(i, "saveAs"),
            "must be a name of letters, digits, '_', '.' or '-' starting with a letter",
        ));
    }
    if s.branches.len() > MAX_BRANCHES {
        return Err(FieldError::new(
            field(i, "branches"),
            format!("must have at most {MAX_BRANCHES} branches"),
        ));
    }
    if !s.branches.is_empty() && !s.kind.waits() {
        return Err(FieldError::new(field(i, "branches"), "only question and agent steps branch"));
    }
    let mut digits_seen = HashSet::new();
    for (j, b) in s.branches.iter().enumerate() {
        let bf = field(i, &format!("branches[{j}]"));
        if b.matchers() != 1 {
            return Err(FieldError::new(
                bf,
                "must have exactly one of digits, intent, keywords, default or noInput",
            ));
        }
        if let Some(d) = &b.digits {
            if d.is_empty() || d.len() > 20 || !d.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#') {
                return Err(FieldError::new(format!("{bf}.digits"), "must be 1 to 20 of 0-9, * and #"));
            }
            if !digits_seen.insert(d.as_str()) {
                return Err(FieldError::new(
                    format!("{bf}.digits"),
                    format!("'{d}' is used by an earlier branch"),
                ));
            }
        }
        if let Some(n) = &b.intent
            && !crate::template::valid_variable(n)
        {
            return Err(FieldError::new(
                format!("{bf}.intent"),
                "must be an intent name (letters, digits, '_')",
            ));
        }
        if b.keywords.len() > 50 || b.keywords.iter().any(|k| k.trim().is_empty() || k.len() > 100) {
            return Err(FieldError::new(
                format!("{bf}.keywords"),
                "must be at most 50 non-empty words or phrases of at most 100 characters",
            ));
        }
    }
    if s.branches.iter().filter(|b| b.default).count() > 1 || s.branches.iter().filter(|b| b.no_input).count() > 1 {
        return Err(FieldError::new(field(i, "branches"), "may have one default and one noInput branch"));
    }
    if let Some(n) = s.num_digits
        && !(1..=20).contains(&n)
    {
        return Err(FieldError::new(field(i, "numDigits"), "must be 1 to 20"));
    }
    if let Some(t) = s.timeout_secs
        && !(1..=MAX_TIMEOUT_SECS).contains(&t)
    {
        return Err(FieldError::new(field(i, "timeoutSecs"), format!("must be 1 to {MAX_TIMEOUT_SECS}")));
    }
    if s.max_retries.is_some_and(|r| r > MAX_RETRIES) {
        return Err(FieldError::new(field(i, "maxRetries"), format!("must be 0 to {MAX_RETRIES}")));
    }
    if s.max_turns.is_some_and(|t| !(1..=MAX_MODEL_TURNS).contains(&t)) {
        return Err(FieldError::new(field(i, "maxTurns"), format!("must be 1 to {MAX_MODEL_TURNS}")));
    }
    match s.kind {
        StepType::Transfer if s.to.as_deref().is_none_or(|t| t.trim().is_empty()) => {
            return Err(FieldError::new(
                field(i, "to"),
                "is required on a transfer step (a number, queue id or agent id)",
            ));
        }
        StepType::Pause if !s.secs.is_some_and(|x| (1..=MAX_PAUSE_SECS).contains(&x)) => {
            return Err(FieldError::new(
                field(i, "secs"),
                format!("must be 1 to {MAX_PAUSE_SECS} on a pause step"),
            ));
        }
        _ => {}
    }
    if s.kind != StepType::Transfer && (s.to.is_some() || s.mode.is_some()) {
        return Err(FieldError::new(field(i, "to"), "only transfer steps have a target"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(id: &str, branches: Vec<Branch>) -> Step {
        Step {
            branches,
            ..Step::new(id, StepType::Question, "Yes or no?")
        }
    }

    fn go(goto: &str) -> Branch {
        Branch {
            default: true,
            goto: goto.into(),
            ..Default::default()
        }
    }

    fn digit(d: &str, goto: &str) -> Branch {
        Branch {
            digits: Some(d.into()),
            goto: goto.into(),
            ..Default::default()
        }
    }

    #[test]
    fn linear_scripts_pass() {
        let mut steps = vec![
            Step::new("", StepType::Greeting, "Hi"),
            Step::new("", StepType::Question, "Press 1"),
            Step::new("", StepType::Closing, "Bye"),
        ];
        assign_ids(&mut steps);
        assert_eq!(steps.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
        check(&steps).unwrap();
    }

    #[test]
    fn branching_script_passes_and_voicemail_is_an_entry() {
        let steps = vec![
            Step::new("hello", StepType::Greeting, "Hi"),
            q("ask", vec![digit("1", "yes"), go("no")]),
            Step {
                outcome: Some("successful".into()),
                ..Step::new("yes", StepType::Hangup, "Great")
            },
            Step::new("no", StepType::Hangup, "Ok"),
            Step::new("vm", StepType::Voicemail, "Call us back"),
        ];
        check(&steps).unwrap();
    }

    #[test]
    fn unknown_targets_are_named() {
        let steps = vec![q("a", vec![digit("1", "nowhere")]), Step::new("b", StepType::Hangup, "")];
        let e = check(&steps).unwrap_err();
        assert_eq!(e.field, "steps[0].branches[0].goto");
        assert!(e.reason.contains("nowhere"));
        let steps = vec![Step {
            next: Some("x".into()),
            ..Step::new("a", StepType::Greeting, "hi")
        }];
        assert_eq!(check(&steps).unwrap_err().field, "steps[0].next");
    }

    #[test]
    fn unreachable_steps_are_named() {
        let steps = vec![
            Step::new("a", StepType::Greeting, "hi"),
            Step::new("b", StepType::Hangup, "bye"),
            Step::new("orphan", StepType::Information, "never"),
        ];
        let e = check(&steps).unwrap_err();
        assert_eq!(e.field, "steps[2]");
        assert!(e.reason.contains("orphan"), "{}", e.reason);
    }

    #[test]
    fn loops_without_a_question_are_refused_and_with_one_accepted() {
        let spin = vec![
            Step {
                next: Some("b".into()),
                ..Step::new("a", StepType::Greeting, "hi")
            },
            Step {
                next: Some("a".into()),
                ..Step::new("b", StepType::Information, "again")
            },
        ];
        let e = check(&spin).unwrap_err();
        assert!(e.reason.contains("loop"), "{}", e.reason);
        let ok = vec![
            Step::new("a", StepType::Greeting, "hi"),
            q("b", vec![digit("9", "a"), go("c")]),
            Step::new("c", StepType::Hangup, "bye"),
        ];
        check(&ok).unwrap();
    }

    #[test]
    fn step_shapes_are_checked() {
        let bad = [
            (
                Step {
                    branches: vec![Branch {
                        digits: Some("1".into()),
                        default: true,
                        goto: "a".into(),
                        ..Default::default()
                    }],
                    ..Step::new("a", StepType::Question, "q")
                },
                "steps[0].branches[0]",
            ),
            (Step::new("a", StepType::Transfer, ""), "steps[0].to"),
            (Step::new("a", StepType::Pause, ""), "steps[0].secs"),
            (Step::new("a b", StepType::Greeting, "x"), "steps[0].id"),
            (
                Step {
                    branches: vec![go("a")],
                    ..Step::new("a", StepType::Greeting, "x")
                },
                "steps[0].branches",
            ),
            (
                Step {
                    timeout_secs: Some(0),
                    ..Step::new("a", StepType::Question, "x")
                },
                "steps[0].timeoutSecs",
            ),
        ];
        for (step, f) in bad {
            assert_eq!(check(&[step]).unwrap_err().field, f);
        }
        let dup = vec![Step::new("a", StepType::Greeting, "x"), Step::new("a", StepType::Hangup, "")];
        assert_eq!(check(&dup).unwrap_err().field, "steps[1].id");
    }

    #[test]
    fn old_stored_steps_still_read() {
        let s: Step = serde_json::from_str(r#"{"id":"1","type":"greeting","content":"Hi"}"#).unwrap();
        assert_eq!(s, Step::new("1", StepType::Greeting, "Hi"));
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"id":"1","type":"greeting","content":"Hi"}"#);
    }
}
