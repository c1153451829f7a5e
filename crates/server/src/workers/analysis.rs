//! The analysis worker: tails the outbox and, after `call.completed` (or a
//! `transcription.complete` of a call that has ended), analyses the call's
//! transcript segments with `switchboard-intelligence` and stores the
//! result with the call, announcing it with `analysis.complete`.
//!
//! Its place in the outbox is kept in the database (`analysis_cursor`).
//! Each call is claimed before it is analysed (see
//! `switchboard_store::analysis`): the claim names the transcript it saw
//! (a fingerprint of its segments), so nodes reading the same events
//! analyse each transcript once, and a claim whose worker died is taken
//! over once its lease runs out. A call another node is analysing for an
//! older transcript is tried again on the next round.
//!
//! The analysis uses the organisation's settings ([`IntelSettings`]): its
//! own intents beside the built-in ones, its recording-disclosure
//! phrases, PII redaction (evidence and summary then never carry what was
//! redacted) and whether a callee who asks not to be called again goes
//! onto the do-not-call list. Entities go into the call's `collectedData`
//! under keys nobody set yet.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use switchboard_domain::call::CallReport;
use switchboard_domain::campaign::DncEntry;
use switchboard_domain::conversation::Understand;
use switchboard_domain::phone::Region;
use switchboard_domain::transcript::Segment;
use switchboard_domain::{Call, CallId, OrgId, Organisation};
use switchboard_intelligence::{Analysis, AnalysisType, AnalyzeOptions, Input, IntentModel};
use switchboard_store::{AnalysisClaim, CallTarget, Claimed, DynStore, StoreError};

use crate::llm::{Llm, LlmSettings};
use tokio::sync::watch;

/// An organisation's intelligence settings (`/v1/org/intelligence`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct IntelSettings {
    /// Redact card numbers, national ids, e-mails and phone numbers from
    /// transcripts before they are stored or sent (off by default).
    pub redact_pii: bool,
    /// Put the number of a callee who asks not to be called again onto the
    /// do-not-call list (on by default).
    pub dnc_on_request: bool,
    /// Phrases that count as the recording disclosure (empty: the built-in ones).
    pub disclosure_phrases: Vec<String>,
    /// The organisation's topics: a name and the keywords that reveal it
    /// (automatic topics are found besides them).
    pub topics: Vec<Topic>,
}

/// One of an organisation's topics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Topic {
    pub name: String,
    pub keywords: Vec<String>,
}

impl Default for IntelSettings {
    fn default() -> Self {
        Self {
            redact_pii: false,
            dnc_on_request: true,
            disclosure_phrases: Vec::new(),
            topics: Vec::new(),
        }
    }
}

/// How long a node trusts an organisation's settings it read (every write
/// path reads them, for redaction): a change made through this node applies
/// at once ([`forget_settings`]); one made through another node within this.
pub const SETTINGS_TTL: Duration = Duration::from_secs(2);
/// Organisations whose settings are kept at most (the cache is emptied past it).
const SETTINGS_CACHED: usize = 10_000;

type SettingsCache = Mutex<HashMap<OrgId, (Instant, IntelSettings)>>;

fn settings_cache() -> &'static SettingsCache {
    static CACHE: std::sync::OnceLock<SettingsCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The organisation's settings (the defaults when it saved none), read
/// through a short per-node cache.
pub async fn settings(store: &DynStore, org: &OrgId) -> Result<IntelSettings, StoreError> {
    if let Some((at, s)) = settings_cache().lock().expect("settings cache").get(org)
        && at.elapsed() < SETTINGS_TTL
    {
        return Ok(s.clone());
    }
    let s: IntelSettings = store
        .intelligence_settings(org)
        .await?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut cache = settings_cache().lock().expect("settings cache");
    if cache.len() >= SETTINGS_CACHED {
        cache.clear();
    }
    cache.insert(org.clone(), (Instant::now(), s.clone()));
    Ok(s)
}

/// Drops the cached settings of `org` (after they were saved).
pub fn forget_settings(org: &OrgId) {
    settings_cache().lock().expect("settings cache").remove(org);
}

/// Intent models built from organisations' own intents, kept until their
/// intents change on this node, or for [`MODEL_TTL`] (another node may
/// have changed them).
#[derive(Default)]
pub struct IntentModels {
    models: Mutex<HashMap<OrgId, (Instant, Arc<IntentModel>)>>,
}

/// How long a node keeps an organisation's intent model.
pub const MODEL_TTL: Duration = Duration::from_secs(30);

impl IntentModels {
    /// The built-in intents plus the organisation's own.
    pub async fn for_org(&self, store: &DynStore, org: &OrgId) -> Result<Arc<IntentModel>, StoreError> {
        if let Some((at, m)) = self.models.lock().expect("intent models").get(org)
            && at.elapsed() < MODEL_TTL
        {
            return Ok(m.clone());
        }
        let custom: Vec<(String, Vec<String>)> = store.list_intents(org).await?.into_iter().map(|i| (i.name, i.examples)).collect();
        let model = if custom.is_empty() {
            IntentModel::builtin()
        } else {
            match IntentModel::new(custom) {
                Ok(m) => Arc::new(m),
                Err(e) => {
                    tracing::warn!(%org, error = %e, "the organisation's intents do not build a model; using the built-in ones");
                    IntentModel::builtin()
                }
            }
        };
        self.models
            .lock()
            .expect("intent models")
            .insert(org.clone(), (Instant::now(), model.clone()));
        Ok(model)
    }

    /// Forgets an organisation's model (its intents changed).
    pub fn forget(&self, org: &OrgId) {
        self.models.lock().expect("intent models").remove(org);
    }
}

/// Script `intent` branches read through an organisation's intent model
/// (built-in plus its own intents); what the model cannot tell (`unknown`)
/// falls back to the phrase rules, so their intent names keep working.
pub struct ModelUnderstand {
    model: Arc<IntentModel>,
    fallback: Arc<dyn Understand + Send + Sync>,
}

impl ModelUnderstand {
    pub fn new(model: Arc<IntentModel>, fallback: Arc<dyn Understand + Send + Sync>) -> Self {
        Self { model, fallback }
    }
}

impl Understand for ModelUnderstand {
    fn intent(&self, text: &str) -> Option<(String, f32)> {
        let p = self.model.classify(text);
        if p.name != switchboard_intelligence::intent::UNKNOWN {
            return Some((p.name, p.confidence as f32));
        }
        self.fallback.intent(text)
    }
}

/// Reads each live segment of a report as it arrives (sentiment and intent,
/// with the organisation's intents), for its `transcript.updated` event.
/// Evidence offsets point into the segment's own text (`segment` 0). Best
/// effort: without the organisation or its model the events go without.
pub async fn annotate_segments(store: &DynStore, models: &IntentModels, org: &OrgId, report: &mut CallReport) {
    if report.segments.is_empty() {
        return;
    }
    let (Ok(o), Ok(model)) = (store.get_org(org).await, models.for_org(store, org).await) else {
        return;
    };
    let entities = switchboard_intelligence::EntityOptions {
        reference: report.at.unwrap_or_else(switchboard_domain::now),
        zone: o.time_zone.0,
        region: o.default_region.as_deref().and_then(|r| Region::parse(r).ok()),
        ..Default::default()
    };
    report.segment_analysis = report
        .segments
        .iter()
        .map(|s| serde_json::to_value(switchboard_intelligence::analyze_live(&s.text, 0, &model, &entities)).unwrap_or(Value::Null))
        .collect();
}

/// A fingerprint of a transcript: what a claim names.
pub fn fingerprint(segments: &[Segment]) -> String {
    let mut h = Sha256::new();
    for s in segments {
        h.update(s.speaker.as_str().as_bytes());
        h.update([0]);
        h.update(s.text.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}

/// Options for analysing a call of `org`: dates against the call's start
/// in the organisation's zone, its phone region, its settings and intents.
pub fn options_for(
    org: &Organisation,
    reference: switchboard_domain::Timestamp,
    s: &IntelSettings,
    model: Arc<IntentModel>,
) -> AnalyzeOptions {
    let region = org.default_region.as_deref().and_then(|r| Region::parse(r).ok());
    let mut opts = AnalyzeOptions::at(reference, org.time_zone.0, region);
    opts.disclosure_phrases = s.disclosure_phrases.clone();
    opts.topics = s
        .topics
        .iter()
        .map(|t| switchboard_intelligence::TopicSet {
            name: t.name.clone(),
            keywords: t.keywords.clone(),
        })
        .collect();
    opts.intents = Some(model);
    opts.types = AnalysisType::ALL
        .into_iter()
        .filter(|t| *t != AnalysisType::Redaction || s.redact_pii)
        .collect();
    opts
}

/// The status of an analysis, as stored.
fn status_name(a: &Analysis) -> &'static str {
    match a.status {
        switchboard_intelligence::Status::Completed => "completed",
        switchboard_intelligence::Status::Skipped { .. } => "skipped",
        switchboard_intelligence::Status::Failed { .. } => "failed",
    }
}

/// What analysing one call came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Analysed and stored: the stored analysis.
    Stored(Value),
    /// This transcript was analysed already (or is being analysed).
    AlreadyDone,
    /// Another worker holds the call.
    Busy,
    /// The call is gone.
    Gone,
}

#[allow(clippy::too_many_arguments)]
/// Analyses a call and stores the result (see the module docs). `force`
/// analyses again a transcript already analysed; `only_ended` leaves calls
/// that have not completed alone (answered `Gone`).
pub async fn analyse_call(
    store: &DynStore,
    models: &IntentModels,
    org: &Organisation,
    id: &CallId,
    owner: &str,
    force: bool,
    only_ended: bool,
    llm: Option<&Llm>,
) -> Result<Outcome, StoreError> {
    let call = match store.get_call(&org.id, id).await {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => return Ok(Outcome::Gone),
        Err(e) => return Err(e),
    };
    if only_ended && call.status.event_type() != "call.completed" {
        return Ok(Outcome::Gone);
    }
    let segments = match store.transcript(&org.id, id).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return Ok(Outcome::Gone),
        Err(e) => return Err(e),
    };
    let now = switchboard_domain::now();
    let claim = AnalysisClaim {
        org: org.id.clone(),
        call: id.clone(),
        fingerprint: fingerprint(&segments),
        force,
        owner: owner.to_owned(),
        now,
        lease: chrono::TimeDelta::seconds(LEASE_SECS),
    };
    match store.claim_analysis(claim).await {
        Ok(Claimed::Claimed) => {}
        Ok(Claimed::Done) => return Ok(Outcome::AlreadyDone),
        Ok(Claimed::Busy) => return Ok(Outcome::Busy),
        Err(StoreError::NotFound(_)) => return Ok(Outcome::Gone),
        Err(e) => return Err(e),
    }
    let s = settings(store, &org.id).await?;
    let model = models.for_org(store, &org.id).await?;
    let reference = call.answered_at.or(call.initiated_at).unwrap_or(call.created_at);
    let opts = options_for(org, reference, &s, model);
    let mut analysis = if segments.is_empty() {
        Analysis::skipped("no transcript")
    } else {
        let segs = segments.clone();
        match tokio::task::spawn_blocking(move || switchboard_intelligence::analyze(Input::Segments(&segs), &opts)).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => Analysis::failed(e.to_string()),
            Err(e) => {
                tracing::error!(call = %id, error = %e, "analysis panicked");
                Analysis::failed("the analysis stopped unexpectedly")
            }
        }
    };
    if let (Some(llm), Some(summary)) = (llm, analysis.summary.as_mut()) {
        // The model reads what was stored (redacted when the organisation redacts).
        match llm.summarise(&segments).await {
            Ok(text) => {
                summary.text = text;
                summary.engine = format!("llm:{}", llm.settings().model);
            }
            Err(e) => tracing::warn!(call = %id, error = %e, "the language model gave no summary; keeping the built-in one"),
        }
    }
    apply_to_call(store, org, &call, &analysis, &s).await;
    let result = serde_json::to_value(&analysis).unwrap_or_else(|_| json!({"status": "failed", "reason": "unserialisable"}));
    let status = status_name(&analysis);
    let mut event = json!({ "callId": id, "status": status, "analysis": result });
    if let Some(reason) = result.get("reason") {
        event["reason"] = reason.clone();
    }
    if store
        .finish_analysis(&org.id, id, owner, status, result.clone(), event, switchboard_domain::now())
        .await?
    {
        Ok(Outcome::Stored(result))
    } else {
        Ok(Outcome::Busy)
    }
}

/// What an analysis changes on the call: entities into `collectedData`
/// (keys already set stay), and the callee onto the do-not-call list when
/// they asked and the organisation wants it.
async fn apply_to_call(store: &DynStore, org: &Organisation, call: &Call, a: &Analysis, s: &IntelSettings) {
    if let Some(entities) = a.entities.as_ref().filter(|e| !e.is_empty()) {
        let mut data = match &call.collected_data {
            Some(Value::Object(m)) => m.clone(),
            Some(_) => Map::new(),
            None => Map::new(),
        };
        let keep_existing = matches!(call.collected_data, Some(Value::Object(_)) | None);
        let mut added = false;
        if keep_existing {
            for e in entities {
                let key = serde_json::to_value(e.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                if !key.is_empty() && !data.contains_key(&key) {
                    data.insert(key, Value::String(e.value.clone()));
                    added = true;
                }
            }
        }
        if added {
            let report = CallReport {
                collected_data: Some(Value::Object(data)),
                ..Default::default()
            };
            if let Err(e) = store.report_call(&org.id, CallTarget::Id(call.id.clone()), report, None).await {
                tracing::warn!(call = %call.id, error = %e, "cannot store the call's entities");
            }
        }
    }
    let asked = a.compliance.as_ref().is_some_and(|c| c.do_not_call.value);
    if asked && s.dnc_on_request {
        let phone = call
            .customer_phone
            .clone()
            .or_else(|| match call.direction {
                switchboard_domain::Direction::Outbound => call.to.clone(),
                _ => call.from.clone(),
            })
            .filter(|p| p.starts_with('+'));
        if let Some(phone) = phone {
            let entry = DncEntry {
                phone,
                reason: Some(format!("asked not to be called again (call {})", call.id)),
                created_at: switchboard_domain::now(),
            };
            if let Err(e) = store.add_dnc(&org.id, vec![entry]).await {
                tracing::warn!(call = %call.id, error = %e, "cannot add the callee to the do-not-call list");
            }
        }
    }
}

/// How long a claim holds a call.
const LEASE_SECS: i64 = 120;
/// Outbox events read per step.
const BATCH: u32 = 500;

/// What a round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Outbox events read.
    pub events: u64,
    /// Calls analysed and stored by this worker.
    pub analysed: u64,
}

pub struct AnalysisWorker {
    store: DynStore,
    models: Arc<IntentModels>,
    owner: String,
    /// Calls another worker held (for an older transcript): tried again.
    retry: Mutex<BTreeSet<(String, String)>>,
    poll: Duration,
    /// Writes summaries when a model is configured (the built-in one otherwise, or when it fails).
    llm: Option<Llm>,
}

fn triggers(event_type: &str) -> bool {
    matches!(event_type, "call.completed" | "transcription.complete")
}

impl AnalysisWorker {
    pub fn new(store: DynStore, models: Arc<IntentModels>) -> Arc<Self> {
        Self::with_llm(store, models, None)
    }

    /// A worker whose summaries come from the language model when one is configured.
    pub fn with_llm(store: DynStore, models: Arc<IntentModels>, llm: Option<LlmSettings>) -> Arc<Self> {
        let owner = format!("analysis-{}-{}", std::process::id(), &switchboard_domain::id::new_body()[14..]);
        Arc::new(Self {
            store,
            models,
            owner,
            retry: Mutex::new(BTreeSet::new()),
            poll: Duration::from_millis(500),
            llm: llm.map(Llm::new),
        })
    }

    /// Reads the outbox up to its end, analysing every call it triggers,
    /// then takes over claims whose worker died.
    pub async fn run_once(&self) -> anyhow::Result<Round> {
        let mut round = Round::default();
        let mut cursor = self.store.analysis_cursor().await?.unwrap_or(0);
        let mut todo: Vec<(String, String)> = std::mem::take(&mut *self.retry.lock().expect("retry set")).into_iter().collect();
        loop {
            let events = self.store.events_after(cursor, BATCH).await?;
            let Some(last) = events.last().map(|e| e.seq) else { break };
            round.events += events.len() as u64;
            for e in &events {
                if !triggers(&e.event_type) {
                    continue;
                }
                let Some(call) = e.data.get("callId").and_then(Value::as_str) else {
                    continue;
                };
                let key = (e.org_id.to_string(), call.to_owned());
                if !todo.contains(&key) {
                    todo.push(key);
                }
            }
            round.analysed += self.analyse_all(std::mem::take(&mut todo)).await?;
            self.store.save_analysis_cursor(last).await?;
            cursor = last;
        }
        round.analysed += self.analyse_all(todo).await?;
        let expired = self.store.expired_analyses(switchboard_domain::now(), 100).await?;
        let expired = expired.into_iter().map(|(o, c)| (o.to_string(), c.to_string())).collect();
        round.analysed += self.analyse_all(expired).await?;
        Ok(round)
    }

    async fn analyse_all(&self, calls: Vec<(String, String)>) -> anyhow::Result<u64> {
        let mut done = 0;
        let mut orgs: HashMap<String, Option<Organisation>> = HashMap::new();
        for (org_id, call_id) in calls {
            let org = match orgs.get(&org_id) {
                Some(o) => o.clone(),
                None => {
                    let o = match self.store.get_org(&OrgId::from_trusted(org_id.clone())).await {
                        Ok(o) => Some(o),
                        Err(StoreError::NotFound(_)) => None,
                        Err(e) => return Err(e.into()),
                    };
                    orgs.insert(org_id.clone(), o.clone());
                    o
                }
            };
            let Some(org) = org else { continue };
            let id = CallId::from_trusted(call_id.clone());
            // Only calls that ended normally: a transcript of a live call
            // is analysed once the call completes.
            match analyse_call(&self.store, &self.models, &org, &id, &self.owner, false, true, self.llm.as_ref()).await? {
                Outcome::Stored(_) => done += 1,
                Outcome::Busy => {
                    self.retry.lock().expect("retry set").insert((org_id, call_id));
                }
                Outcome::AlreadyDone | Outcome::Gone => {}
            }
        }
        Ok(done)
    }

    /// Runs rounds whenever the outbox moves (and every poll interval)
    /// until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut bell = match self.store.outbox_bell().await {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(error = %e, "the analysis worker polls: no outbox bell");
                None
            }
        };
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = self.run_once().await {
                tracing::error!(error = %e, "analysis round failed");
            }
            let rang = async {
                match bell.as_mut() {
                    Some(b) => {
                        if b.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = stop.changed() => {}
                _ = rang => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}
