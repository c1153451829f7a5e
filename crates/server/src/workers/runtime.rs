//! The conversation runtime: runs a call's script on the answered call.
//!
//! Carriers hand it what the callee did ([`Conversations::on_event`]); it
//! applies the event to the call's place in its script (the pure state
//! machine in `switchboard_domain::conversation`), asks the language model
//! for `agent` steps' turns, checks transfer targets, and writes in one
//! report per event: the transcript segments spoken and heard, the path
//! taken (timeline), the answers (`collectedData`), the outcome and the
//! call's new place in its script — so any node can carry the call on.
//! It answers the carrier's next actions.
//!
//! Events of one call are handled one at a time (a lock per live call);
//! calls run in parallel. Reaction times are kept for `bench conversations`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use switchboard_domain::call::CallReport;
use switchboard_domain::conversation::{self, Action, Effect, Event, State, Understand};
use switchboard_domain::script::Step;
use switchboard_domain::transcript::{Segment, Speaker};
use switchboard_domain::{CallId, OrgId, Template, TemplateId, TimelineEntry, Timestamp};
use switchboard_store::{CallTarget, DynStore, StoreError};
use switchboard_telephony::simulator::speaking_ms;
use switchboard_telephony::{CallRef, Conversations};

use crate::llm::Llm;

/// A call whose script is running.
struct Live {
    org: OrgId,
    steps: Arc<Vec<Step>>,
    state: State,
    /// Time zero of the call's transcript.
    answered_at: Option<Timestamp>,
    collected: Map<String, Value>,
    variables: Value,
}

/// The most reaction times kept for the benchmark.
const MAX_SAMPLES: usize = 1_000_000;

pub struct ConversationRuntime {
    store: DynStore,
    nlu: Arc<dyn Understand + Send + Sync>,
    llm: Option<Llm>,
    /// Speaks prompts whose step names one of the platform's voices.
    speech: Option<Arc<crate::speech::SpeechService>>,
    templates: Mutex<HashMap<TemplateId, Arc<Template>>>,
    live: Mutex<HashMap<CallId, Arc<tokio::sync::Mutex<Option<Live>>>>>,
    reactions_us: Mutex<Vec<u32>>,
    /// Organisations' intent models: when set, `intent` branches read
    /// through them, `nlu` answering what they cannot tell.
    org_intents: std::sync::OnceLock<Arc<crate::workers::analysis::IntentModels>>,
}

impl ConversationRuntime {
    pub fn new(
        store: DynStore,
        nlu: Arc<dyn Understand + Send + Sync>,
        llm: Option<Llm>,
        speech: Option<Arc<crate::speech::SpeechService>>,
    ) -> Self {
        Self {
            store,
            nlu,
            llm,
            speech,
            templates: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            reactions_us: Mutex::new(Vec::new()),
            org_intents: std::sync::OnceLock::new(),
        }
    }

    /// Reads callers through each organisation's intent model from now on.
    pub fn use_org_intents(&self, models: Arc<crate::workers::analysis::IntentModels>) {
        let _ = self.org_intents.set(models);
    }

    /// How `org`'s calls are understood.
    async fn understanding(&self, org: &switchboard_domain::OrgId) -> Arc<dyn Understand + Send + Sync> {
        let Some(models) = self.org_intents.get() else {
            return self.nlu.clone();
        };
        match models.for_org(&self.store, org).await {
            Ok(model) => Arc::new(crate::workers::analysis::ModelUnderstand::new(model, self.nlu.clone())),
            Err(e) => {
                tracing::warn!(%org, error = %e, "cannot load the organisation's intents; using the phrase rules");
                self.nlu.clone()
            }
        }
    }

    /// Calls with a script running on this node.
    pub fn live_calls(&self) -> usize {
        self.live.lock().expect("runtime lock").len()
    }

    /// Reaction times so far (µs, event in → actions out, the write included), and clears them.
    pub fn take_reaction_times(&self) -> Vec<u32> {
        std::mem::take(&mut *self.reactions_us.lock().expect("runtime lock"))
    }

    async fn template(&self, org: &OrgId, id: &TemplateId) -> Result<Arc<Template>, StoreError> {
        if let Some(t) = self.templates.lock().expect("runtime lock").get(id) {
            return Ok(t.clone());
        }
        // Templates never change once created: caching them is safe.
        let t = Arc::new(self.store.get_template(org, id).await?);
        self.templates.lock().expect("runtime lock").insert(id.clone(), t.clone());
        Ok(t)
    }

    fn slot(&self, call: &CallId) -> Arc<tokio::sync::Mutex<Option<Live>>> {
        self.live.lock().expect("runtime lock").entry(call.clone()).or_default().clone()
    }

    /// The call's script and its place in it; `None` for calls without one.
    async fn load(&self, call: &CallRef) -> Result<Option<Live>, StoreError> {
        let c = self.store.get_call(&call.org_id, &call.call_id).await?;
        let Some(tpl) = c
            .template_id
            .as_deref()
            .filter(|t| t.starts_with("tpl_"))
            .and_then(|t| t.parse::<TemplateId>().ok())
        else {
            return Ok(None);
        };
        let template = match self.template(&call.org_id, &tpl).await {
            Ok(t) => t,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let variables = c.variables.clone().unwrap_or_else(|| json!({}));
        let state = match self.store.conversation(&call.org_id, &call.call_id).await? {
            Some(v) => serde_json::from_value(v).unwrap_or_default(),
            None => State::default(),
        };
        Ok(Some(Live {
            org: call.org_id.clone(),
            steps: Arc::new(template.render(&variables)),
            state,
            answered_at: c.answered_at,
            collected: match c.collected_data {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            },
            variables,
        }))
    }

    /// Puts the call in the queue a transfer names; answers why it cannot.
    async fn transfer_to_queue(&self, call: &CallRef, queue: &switchboard_domain::id::QueueId, at: Timestamp) -> Option<String> {
        match self.store.enqueue_call(&call.org_id, &call.call_id, queue, at).await {
            Ok(_) => None,
            Err(StoreError::NotFound(_)) => Some(format!("'{queue}' is not one of the organisation's queues")),
            Err(StoreError::Conflict(_)) => Some("the call already waits in a queue".into()),
            Err(e) => Some(format!("the queue could not take the call: {e}")),
        }
    }

    /// Whether a transfer target can take the call: a number in E.164.
    /// (Queue ids are handled by [`Self::transfer_to_queue`]; agent ids are
    /// refused.)
    fn transfer_problem(to: &str) -> Option<String> {
        if to.starts_with('+') && switchboard_domain::PhoneNumber::parse("to", to, None, Default::default()).is_ok() {
            None
        } else {
            Some(format!("'{to}' is not a number this carrier can dial, nor a known queue or agent"))
        }
    }

    /// Runs the machine on `ev` and everything it leads to (model turns,
    /// refused transfers); answers the carrier's actions and the effects.
    /// `heard` is what the callee said with `ev`, for the model's transcript.
    async fn run(&self, call: &CallRef, live: &mut Live, ev: Event, heard: Option<&Segment>, at: Timestamp) -> (Vec<Action>, Vec<Effect>) {
        let (mut actions, mut effects): (Vec<Action>, Vec<Effect>) = (Vec::new(), Vec::new());
        let mut next = Some(ev);
        let nlu = self.understanding(&live.org).await;
        while let Some(ev) = next.take() {
            let r = conversation::react(&live.steps, &mut live.state, ev, nlu.as_ref());
            effects.extend(r.effects);
            for a in r.actions {
                match a {
                    Action::AskModel { instructions, .. } => {
                        // What was said in this reaction is not stored yet: the model hears it too.
                        let mut pending: Vec<Segment> = heard.into_iter().cloned().collect();
                        pending.extend(
                            actions
                                .iter()
                                .filter_map(Action::spoken)
                                .map(|t| Segment::new(Speaker::Agent, t, 0, 0)),
                        );
                        next = Some(self.model_turn(call, live, &instructions, &pending).await);
                        break;
                    }
                    Action::Transfer { ref to, .. } => match match to.trim().parse::<switchboard_domain::id::QueueId>() {
                        // A queue: the call waits there for an agent (the carrier holds it).
                        Ok(queue) => self.transfer_to_queue(call, &queue, at).await,
                        Err(_) => Self::transfer_problem(to),
                    } {
                        Some(reason) => {
                            // The hand-over did not happen after all.
                            effects.retain(|e| {
                                !matches!(e, Effect::Ended { reason } if reason.starts_with("transferred"))
                                    && !matches!(e, Effect::Outcome { outcome } if outcome == "transferred")
                            });
                            next = Some(Event::TransferFailed { reason });
                            break;
                        }
                        None => actions.push(a),
                    },
                    other => actions.push(other),
                }
            }
        }
        (actions, effects)
    }

    async fn model_turn(&self, call: &CallRef, live: &Live, instructions: &str, pending: &[Segment]) -> Event {
        let Some(llm) = &self.llm else {
            return Event::ModelFailed {
                reason: "no language model is configured".into(),
            };
        };
        let transcript = match self.store.transcript(&call.org_id, &call.call_id).await {
            Ok(mut t) => {
                t.extend_from_slice(pending);
                t
            }
            Err(e) => return Event::ModelFailed { reason: e.to_string() },
        };
        match llm.agent_turn(instructions, &live.variables, &transcript).await {
            Ok(reply) => Event::Model(reply),
            Err(e) => Event::ModelFailed { reason: e.to_string() },
        }
    }

    /// Synthesises the prompts whose step names one of the platform's
    /// voices (µ-law WAV, cached), so the carrier plays our audio and knows
    /// its length. A voice we do not have, or no engine, leaves the prompt
    /// to the carrier's own speech.
    async fn give_voice(&self, org: &OrgId, actions: &mut [Action]) {
        let Some(speech) = &self.speech else { return };
        for a in actions.iter_mut() {
            let (text, voice, audio) = match a {
                Action::Say {
                    text,
                    voice: Some(v),
                    audio,
                    ..
                } => (text.clone(), v.clone(), audio),
                Action::Gather {
                    prompt,
                    voice: Some(v),
                    audio,
                    ..
                } if !prompt.is_empty() => (prompt.clone(), v.clone(), audio),
                _ => continue,
            };
            let Ok(voice) = speech.engines.voice(Some(&voice)) else { continue };
            let (speech, owner) = (speech.clone(), org.to_string());
            let format = switchboard_speech::AudioFormat::WavUlaw;
            let made =
                tokio::task::spawn_blocking(move || speech.synthesize_cached(&owner, &text, &voice, &Default::default(), format)).await;
            match made {
                Ok(Ok((meta, _, _))) => {
                    *audio = Some(switchboard_domain::conversation::Spoken {
                        audio_id: meta.id,
                        format: meta.format.extension().to_owned(),
                        duration_ms: (meta.duration_secs * 1000.0).round() as u32,
                    });
                }
                Ok(Err(e)) => tracing::warn!(error = %e.message, "cannot synthesise a prompt; the carrier speaks it"),
                Err(e) => tracing::warn!(error = %e, "synthesis task failed; the carrier speaks the prompt"),
            }
        }
    }

    /// The report of one event: segments, path, answers, outcome, state.
    fn report(live: &mut Live, heard: Option<Segment>, actions: &[Action], effects: &[Effect], at: Timestamp) -> CallReport {
        let zero = *live.answered_at.get_or_insert(at);
        let mut report = CallReport {
            at: Some(at),
            carrier_clock: true,
            ..Default::default()
        };
        report.segments.extend(heard);
        let mut t = (at - zero).num_milliseconds().max(0);
        for a in actions {
            if let Some(text) = a.spoken() {
                let d = match a {
                    Action::Say { audio: Some(s), .. } | Action::Gather { audio: Some(s), .. } => i64::from(s.duration_ms),
                    _ => speaking_ms(text),
                };
                report.segments.push(Segment::new(Speaker::Agent, text, t, t + d));
                t += d;
            }
            if let Action::Transfer { to, mode, .. } = a {
                report.timeline.push(TimelineEntry {
                    kind: "transfer".into(),
                    at,
                    data: Some(json!({ "to": to, "mode": mode.as_str() })),
                });
            }
        }
        let mut collected = false;
        for e in effects {
            let (kind, data) = match e {
                Effect::Entered { step, kind } => ("script.step", json!({ "step": step, "type": kind.as_str() })),
                Effect::Heard {
                    step,
                    via,
                    answer,
                    intent,
                    confidence,
                    matched,
                } => (
                    "script.answer",
                    json!({ "step": step, "via": via, "answer": answer, "intent": intent, "confidence": confidence, "matched": matched }),
                ),
                Effect::Collect { key, value } => {
                    live.collected.insert(key.clone(), value.clone());
                    collected = true;
                    continue;
                }
                Effect::Outcome { outcome } => {
                    report.outcome = Some(outcome.clone());
                    continue;
                }
                Effect::Ended { reason } => ("script.end", json!({ "reason": reason, "outcome": live.state.outcome })),
            };
            report.timeline.push(TimelineEntry {
                kind: kind.into(),
                at,
                data: Some(data),
            });
        }
        if collected {
            report.collected_data = Some(Value::Object(live.collected.clone()));
        }
        report.conversation = serde_json::to_value(&live.state).ok();
        report
    }

    async fn handle(&self, call: &CallRef, ev: Event, at: Timestamp) -> Result<Vec<Action>, StoreError> {
        let started = Instant::now();
        let slot = self.slot(&call.call_id);
        let mut guard = slot.lock().await;
        if guard.is_none() {
            *guard = self.load(call).await?;
        }
        let Some(live) = guard.as_mut() else {
            drop(guard);
            self.live.lock().expect("runtime lock").remove(&call.call_id);
            return Ok(Vec::new());
        };
        let heard = match &ev {
            Event::Speech {
                text,
                confidence,
                is_final: true,
            } => {
                let end = (at - *live.answered_at.get_or_insert(at)).num_milliseconds().max(0);
                let start = (end - speaking_ms(text)).max(0);
                Some(Segment {
                    confidence: *confidence,
                    ..Segment::new(Speaker::Customer, text.clone(), start, end)
                })
            }
            Event::Dtmf { digits } => {
                let end = (at - *live.answered_at.get_or_insert(at)).num_milliseconds().max(0);
                Some(Segment::new(Speaker::Customer, format!("[pressed {digits}]"), end, end))
            }
            _ => None,
        };
        let (mut actions, effects) = self.run(call, live, ev, heard.as_ref(), at).await;
        self.give_voice(&live.org, &mut actions).await;
        if effects.is_empty() && actions.is_empty() && heard.is_none() {
            return Ok(Vec::new());
        }
        let mut report = Self::report(live, heard, &actions, &effects, at);
        let ended = live.state.ended();
        let org = live.org.clone();
        crate::core::redact::report(&self.store, &org, &mut report).await?;
        if let Some(models) = self.org_intents.get() {
            crate::workers::analysis::annotate_segments(&self.store, models, &org, &mut report).await;
        }
        match self
            .store
            .report_call(&org, CallTarget::Id(call.call_id.clone()), report, None)
            .await
        {
            Ok(_) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        if ended {
            *guard = None;
            drop(guard);
            self.live.lock().expect("runtime lock").remove(&call.call_id);
        }
        let us = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        let mut samples = self.reactions_us.lock().expect("runtime lock");
        if samples.len() < MAX_SAMPLES {
            samples.push(us);
        }
        Ok(actions)
    }
}

#[async_trait]
impl Conversations for ConversationRuntime {
    async fn on_event(&self, call: &CallRef, event: Event, at: Timestamp) -> Vec<Action> {
        match self.handle(call, event, at).await {
            Ok(actions) => actions,
            Err(e) => {
                // The carrier cannot be left waiting: end the call.
                tracing::error!(call = %call.call_id, error = %e, "the conversation runtime failed; hanging up");
                vec![Action::Hangup { step: None }]
            }
        }
    }

    async fn resume(&self, call: &CallRef, at: Timestamp) -> Vec<Action> {
        let slot = self.slot(&call.call_id);
        let mut guard = slot.lock().await;
        if guard.is_none() {
            match self.load(call).await {
                Ok(l) => *guard = l,
                Err(e) => {
                    tracing::error!(call = %call.call_id, error = %e, "cannot load a conversation to resume");
                    return Vec::new();
                }
            }
        }
        let Some(live) = guard.as_mut() else { return Vec::new() };
        let actions = conversation::resume_actions(&live.steps, &live.state);
        // A model turn is taken now, as any other.
        if let Some(Action::AskModel { instructions, .. }) = actions.first() {
            let instructions = instructions.clone();
            let ev = self.model_turn(call, live, &instructions, &[]).await;
            let (actions, _) = self.run(call, live, ev, None, at).await;
            return actions;
        }
        actions
    }

    async fn scripted(&self, call: &CallRef) -> bool {
        matches!(self.load(call).await, Ok(Some(_)))
    }
}
