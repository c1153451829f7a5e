//! Call templates: typed script steps with `{variable}` placeholders, and
//! the rules for filling them in at call time.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Timestamp;
use crate::error::FieldError;
use crate::id::{OrgId, TemplateId};

pub use crate::script::{MAX_STEP_CHARS, MAX_STEPS, Step, StepType};

/// Most declared variables.
pub const MAX_VARIABLES: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub id: TemplateId,
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub industry: Option<String>,
    pub steps: Vec<Step>,
    pub variables: Vec<String>,
    /// Campaigns and calls that used this template.
    pub usage_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Is `name` a usable variable name (letters, digits, `_`, `.`, `-`; starts with a letter or `_`)?
pub fn valid_variable(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 64
}

/// The `{name}` placeholders in `content`, in order of first use. Braces
/// around anything that is not a variable name are left as text.
pub fn placeholders(content: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = content;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                if valid_variable(name) && !out.iter().any(|n| n == name) {
                    out.push(name.to_owned());
                }
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    out
}

/// Text of a variable value: strings as they are, other JSON as JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Fills every `{name}` of `content` that `vars` has; leaves the others.
pub fn render(content: &str, vars: &Value) -> String {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match vars.get(name) {
                    Some(v) if valid_variable(name) => out.push_str(&value_text(v)),
                    _ => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Template {
    /// Checks steps (their shape and the graph they form, see
    /// [`crate::script::check`]) and declared variables; every placeholder
    /// must be declared.
    pub fn check(steps: &[Step], variables: &[String]) -> Result<(), FieldError> {
        if variables.len() > MAX_VARIABLES {
            return Err(FieldError::new("variables", format!("must have at most {MAX_VARIABLES} names")));
        }
        for (i, v) in variables.iter().enumerate() {
            if !valid_variable(v) {
                return Err(FieldError::new(
                    format!("variables[{i}]"),
                    "must be a name of letters, digits, '_', '.' or '-' starting with a letter",
                ));
            }
        }
        crate::script::check(steps)?;
        for (i, s) in steps.iter().enumerate() {
            for (name, text) in s.texts() {
                if let Some(undeclared) = placeholders(text).into_iter().find(|p| !variables.contains(p)) {
                    return Err(FieldError::new(
                        format!("steps[{i}].{name}"),
                        format!("uses {{{undeclared}}}, which is not listed in variables"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Declared variables that `vars` does not supply (absent, null or empty).
    pub fn missing(&self, vars: Option<&Value>) -> Vec<String> {
        missing_from(&self.variables, vars, &BTreeSet::new())
    }

    /// The steps with `vars` filled in (content, no-input prompt, transfer target).
    pub fn render(&self, vars: &Value) -> Vec<Step> {
        self.steps
            .iter()
            .map(|s| Step {
                content: render(&s.content, vars),
                no_input_prompt: s.no_input_prompt.as_deref().map(|p| render(p, vars)),
                to: s.to.as_deref().map(|t| render(t, vars)),
                ..s.clone()
            })
            .collect()
    }
}

/// Names in `required` that neither `vars` nor `implied` supplies.
pub fn missing_from(required: &[String], vars: Option<&Value>, implied: &BTreeSet<&str>) -> Vec<String> {
    required
        .iter()
        .filter(|name| {
            if implied.contains(name.as_str()) {
                return false;
            }
            match vars.and_then(|v| v.get(name.as_str())) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.trim().is_empty(),
                Some(_) => false,
            }
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn step(kind: StepType, content: &str) -> Step {
        Step::new("", kind, content)
    }

    #[test]
    fn placeholders_are_found_once_in_order() {
        let p = placeholders("Hello {contactName}, this is {companyName}. {contactName}? {not a var} {");
        assert_eq!(p, vec!["contactName", "companyName"]);
    }

    #[test]
    fn render_fills_known_and_keeps_unknown() {
        let vars = json!({"companyName": "Acme", "n": 3});
        assert_eq!(
            render("Hi from {companyName} ({n}) {other} {x", &vars),
            "Hi from Acme (3) {other} {x"
        );
    }

    #[test]
    fn undeclared_placeholders_and_bad_names_are_refused() {
        let mut steps = vec![step(StepType::Greeting, "Hi {a}"), step(StepType::Closing, "Bye {b}")];
        crate::script::assign_ids(&mut steps);
        let e = Template::check(&steps, &["a".into()]).unwrap_err();
        assert_eq!(e.field, "steps[1].content");
        assert!(e.reason.contains("{b}"));
        assert_eq!(
            Template::check(&steps, &["a".into(), "9x".into()]).unwrap_err().field,
            "variables[1]"
        );
        assert!(Template::check(&steps, &["a".into(), "b".into()]).is_ok());
        assert_eq!(Template::check(&[], &[]).unwrap_err().field, "steps");
    }

    #[test]
    fn missing_lists_absent_and_empty_values() {
        let req: Vec<String> = vec!["a".into(), "b".into(), "c".into(), "d".into()];
        let implied: BTreeSet<&str> = ["d"].into_iter().collect();
        let m = missing_from(&req, Some(&json!({"a": "x", "b": "  ", "c": null})), &implied);
        assert_eq!(m, vec!["b", "c"]);
    }

    proptest! {
        #[test]
        fn rendering_without_braces_is_identity(s in "[^{}]{0,80}") {
            prop_assert_eq!(render(&s, &json!({"a": 1})), s);
        }

        #[test]
        fn every_declared_placeholder_renders(name in "[a-z][a-zA-Z0-9_]{0,10}", val in "[a-z ]{0,10}") {
            let content = format!("x {{{name}}} y");
            let out = render(&content, &json!({ name.clone(): val.clone() }));
            prop_assert_eq!(out, format!("x {val} y"));
        }
    }
}
