//! An optional language model: any OpenAI-compatible chat-completions
//! endpoint (`[intelligence] llm_url`, `llm_model`, `llm_key`). The
//! conversation runtime's `agent` steps take turns with it, calling the
//! tools `transfer`, `hangup`, `collect` and `goto`; every request has a
//! timeout, and nothing requires a model to be configured.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::conversation::{ModelReply, ToolCall};
use switchboard_domain::script::TransferMode;
use switchboard_domain::transcript::{Segment, Speaker};

use crate::config::Secret;

/// Where the model is and how long a turn may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmSettings {
    /// The endpoint base (`…/v1`) or the full `…/chat/completions` URL.
    pub url: String,
    pub model: String,
    pub key: Option<Secret>,
    pub timeout_ms: u64,
}

/// The `[intelligence]` table of `switchboard.toml`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelligenceFile {
    pub llm_url: Option<String>,
    pub llm_model: Option<String>,
    pub llm_key: Option<Secret>,
    pub llm_timeout_ms: Option<u64>,
}

impl IntelligenceFile {
    /// The model settings, when a URL is configured.
    pub fn llm(&self) -> anyhow::Result<Option<LlmSettings>> {
        let Some(url) = &self.llm_url else { return Ok(None) };
        let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("intelligence.llm_url is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            anyhow::bail!("intelligence.llm_url must be http or https");
        }
        let timeout_ms = self.llm_timeout_ms.unwrap_or(4_000);
        if !(100..=60_000).contains(&timeout_ms) {
            anyhow::bail!("intelligence.llm_timeout_ms must be 100 to 60000");
        }
        Ok(Some(LlmSettings {
            url: url.clone(),
            model: self.llm_model.clone().unwrap_or_else(|| "gpt-4o-mini".into()),
            key: self.llm_key.clone(),
            timeout_ms,
        }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model did not answer within {0} ms")]
    Timeout(u64),
    #[error("the model could not be reached: {0}")]
    Unreachable(String),
    #[error("the model answered {0}")]
    Status(u16),
    #[error("the model's answer was not understood: {0}")]
    Malformed(String),
}

/// What the model is asked when it summarises a call.
pub const SUMMARY_INSTRUCTIONS: &str = "Summarise this phone call between an agent and a customer in at most three sentences: \
what the customer wanted, what was agreed, and any follow-up. Use only what was said.";

pub struct Llm {
    settings: LlmSettings,
    http: reqwest::Client,
}

/// The tools an agent step offers the model, as the chat-completions API declares them.
pub fn agent_tools() -> Value {
    let f = |name: &str, description: &str, props: Value, required: &[&str]| {
        json!({"type": "function", "function": {"name": name, "description": description,
            "parameters": {"type": "object", "properties": props, "required": required}}})
    };
    json!([
        f(
            "transfer",
            "Transfer the caller to a number, queue or agent.",
            json!({"to": {"type": "string"}, "mode": {"type": "string", "enum": ["cold", "warm"]}}),
            &["to"]
        ),
        f("hangup", "End the call.", json!({"outcome": {"type": "string"}}), &[]),
        f(
            "collect",
            "Record a piece of information the caller gave.",
            json!({"field": {"type": "string"}, "value": {}}),
            &["field", "value"]
        ),
        f(
            "goto",
            "Continue the call's script at another step.",
            json!({"step": {"type": "string"}}),
            &["step"]
        ),
    ])
}

/// The chat messages of an agent step's turn: its instructions, then the
/// call so far (our side as the assistant, the callee as the user).
pub fn agent_messages(instructions: &str, context: &Value, transcript: &[Segment]) -> Value {
    let mut system = instructions.to_owned();
    if context.as_object().is_some_and(|m| !m.is_empty()) {
        system.push_str(&format!("\n\nWhat we know about the call: {context}"));
    }
    let mut messages = vec![json!({"role": "system", "content": system})];
    for s in transcript {
        let role = match s.speaker {
            Speaker::Agent => "assistant",
            Speaker::Customer => "user",
        };
        messages.push(json!({"role": role, "content": s.text}));
    }
    Value::Array(messages)
}

/// Reads a chat-completions answer into the model's turn.
pub fn parse_reply(body: &Value) -> Result<ModelReply, LlmError> {
    let message = body
        .pointer("/choices/0/message")
        .ok_or_else(|| LlmError::Malformed("no choices[0].message".into()))?;
    let say = message["content"]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let mut tools = Vec::new();
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let name = call.pointer("/function/name").and_then(Value::as_str).unwrap_or("");
        let args: Value = match call.pointer("/function/arguments") {
            Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| LlmError::Malformed(format!("arguments of {name}: {e}")))?,
            Some(v) => v.clone(),
            None => json!({}),
        };
        let text = |k: &str| args[k].as_str().map(str::to_owned);
        let tool = match name {
            "transfer" => ToolCall::Transfer {
                to: text("to").ok_or_else(|| LlmError::Malformed("transfer without 'to'".into()))?,
                mode: text("mode").as_deref().and_then(TransferMode::parse).unwrap_or_default(),
            },
            "hangup" => ToolCall::Hangup { outcome: text("outcome") },
            "collect" => ToolCall::Collect {
                field: text("field").ok_or_else(|| LlmError::Malformed("collect without 'field'".into()))?,
                value: args["value"].clone(),
            },
            "goto" => ToolCall::Goto {
                step: text("step").ok_or_else(|| LlmError::Malformed("goto without 'step'".into()))?,
            },
            other => return Err(LlmError::Malformed(format!("unknown tool '{other}'"))),
        };
        tools.push(tool);
    }
    Ok(ModelReply { say, tools })
}

impl Llm {
    pub fn new(settings: LlmSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .build()
            .unwrap_or_default();
        Self { settings, http }
    }

    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    fn endpoint(&self) -> String {
        let u = self.settings.url.trim_end_matches('/');
        if u.ends_with("/chat/completions") {
            u.to_owned()
        } else {
            format!("{u}/chat/completions")
        }
    }

    /// One chat-completions request: the raw answer body.
    pub async fn complete(&self, messages: Value, tools: Option<Value>) -> Result<Value, LlmError> {
        let mut body = json!({"model": self.settings.model, "messages": messages, "temperature": 0.2, "max_tokens": 300});
        if let Some(t) = tools {
            body["tools"] = t;
            body["tool_choice"] = json!("auto");
        }
        let mut req = self.http.post(self.endpoint()).json(&body);
        if let Some(k) = &self.settings.key {
            req = req.bearer_auth(k.expose());
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                LlmError::Timeout(self.settings.timeout_ms)
            } else {
                LlmError::Unreachable(e.without_url().to_string())
            }
        })?;
        if !resp.status().is_success() {
            return Err(LlmError::Status(resp.status().as_u16()));
        }
        resp.json().await.map_err(|e| {
            if e.is_timeout() {
                LlmError::Timeout(self.settings.timeout_ms)
            } else {
                LlmError::Malformed(e.without_url().to_string())
            }
        })
    }

    /// A short summary of a call's transcript (the text the model wrote).
    pub async fn summarise(&self, transcript: &[Segment]) -> Result<String, LlmError> {
        let messages = json!([
            {"role": "system", "content": SUMMARY_INSTRUCTIONS},
            {"role": "user", "content": switchboard_domain::transcript::to_text(transcript)}
        ]);
        let body = self.complete(messages, None).await?;
        body.pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| LlmError::Malformed("no summary in choices[0].message.content".into()))
    }

    /// An agent step's turn.
    pub async fn agent_turn(&self, instructions: &str, context: &Value, transcript: &[Segment]) -> Result<ModelReply, LlmError> {
        let body = self
            .complete(agent_messages(instructions, context, transcript), Some(agent_tools()))
            .await?;
        parse_reply(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_with_text_and_tool_calls_are_read() {
        let body = json!({"choices": [{"message": {"role": "assistant", "content": " Sure. ",
        "tool_calls": [
            {"id": "1", "type": "function", "function": {"name": "collect", "arguments": "{\"field\":\"day\",\"value\":\"Tuesday\"}"}},
            {"id": "2", "type": "function", "function": {"name": "transfer", "arguments": "{\"to\":\"+15550001111\",\"mode\":\"warm\"}"}}
        ]}}]});
        let r = parse_reply(&body).unwrap();
        assert_eq!(r.say.as_deref(), Some("Sure."));
        assert_eq!(
            r.tools,
            vec![
                ToolCall::Collect {
                    field: "day".into(),
                    value: json!("Tuesday")
                },
                ToolCall::Transfer {
                    to: "+15550001111".into(),
                    mode: TransferMode::Warm
                }
            ]
        );
        assert!(parse_reply(&json!({"choices": []})).is_err());
        let bad = json!({"choices": [{"message": {"tool_calls": [{"function": {"name": "launch", "arguments": "{}"}}]}}]});
        assert!(matches!(parse_reply(&bad), Err(LlmError::Malformed(m)) if m.contains("launch")));
    }

    #[test]
    fn settings_need_a_web_url_and_a_sane_timeout() {
        let f = IntelligenceFile {
            llm_url: Some("ftp://x".into()),
            ..Default::default()
        };
        assert!(f.llm().is_err());
        assert_eq!(IntelligenceFile::default().llm().unwrap(), None);
        let ok = IntelligenceFile {
            llm_url: Some("http://127.0.0.1:9/v1".into()),
            ..Default::default()
        };
        assert_eq!(ok.llm().unwrap().unwrap().timeout_ms, 4_000);
    }
}
