//! The dialer: turns active campaigns into calls.
//!
//! Each pass ([`Dialer::run_once`]) asks the store for one dial transaction
//! per active campaign (`CampaignStore::dial`: settle finished calls by the
//! retry rules, then start calls for due contacts whose calling window is
//! open, within the campaign's free lines and the organisation's
//! calls-per-second cap), then hands the new calls to the carrier. Pacing
//! is progressive: each pass starts one call per free line, no more.
//! [`run`] repeats passes every `dialer_tick_ms` until shutdown, pumping
//! the simulator's reports first when it is the carrier.

use std::sync::Arc;

use futures::StreamExt;
use switchboard_domain::call::CallReport;
use switchboard_domain::{Call, CallStatus, CampaignId};
use switchboard_store::{CallTarget, DialParams, DynStore, StoreError};

use switchboard_telephony::{CallRef, Carrier, PlaceCall, Simulation, TimeSource};

/// The dialer's knobs (see docs/campaigns.md).
#[derive(Debug, Clone)]
pub struct DialerOptions {
    /// New calls per second of the dialer's clock, per organisation.
    pub calls_per_second: u32,
    /// Most calls one pass starts per campaign.
    pub batch: u32,
    /// Calls left `queued` without a carrier id this long are failed.
    pub stale_queued_secs: i64,
}

impl Default for DialerOptions {
    fn default() -> Self {
        Self {
            calls_per_second: 10,
            batch: 200,
            stale_queued_secs: 120,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    pub dialed: usize,
    pub settled: usize,
    pub blocked: usize,
    /// Campaigns this pass completed.
    pub completed: Vec<CampaignId>,
    /// Campaigns skipped because another node held their organisation.
    pub busy: usize,
    /// Calls the carrier refused (reported as failed).
    pub carrier_errors: usize,
    /// Single calls moved to the next opening of their calling window.
    pub deferred: usize,
    /// Due single calls left for a later pass by a cap.
    pub held: usize,
}

pub struct Dialer {
    store: DynStore,
    carrier: Arc<dyn Carrier>,
    clock: Arc<dyn TimeSource>,
    opts: DialerOptions,
}

impl Dialer {
    pub fn new(store: DynStore, carrier: Arc<dyn Carrier>, clock: Arc<dyn TimeSource>, opts: DialerOptions) -> Self {
        Self {
            store,
            carrier,
            clock,
            opts,
        }
    }

    fn params(&self, now: switchboard_domain::Timestamp) -> DialParams {
        DialParams {
            now,
            org_calls_per_second: self.opts.calls_per_second,
            batch: self.opts.batch,
            external_prefix: self.carrier.id_prefix(),
            stale_queued_secs: self.opts.stale_queued_secs,
        }
    }

    /// One pass over every active campaign.
    pub async fn run_once(&self) -> Result<Pass, StoreError> {
        let mut pass = Pass::default();
        let now = self.clock.now();
        for (org, id) in self.store.active_campaigns().await? {
            let out = match self.store.dial(&org, &id, self.params(now)).await {
                Ok(out) => out,
                // Deleted or cancelled between the listing and the pass.
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            pass.settled += out.settled as usize;
            pass.blocked += out.blocked as usize;
            pass.busy += usize::from(out.busy);
            if out.completed {
                pass.completed.push(id.clone());
            }
            if out.dialed.is_empty() {
                continue;
            }
            pass.dialed += out.dialed.len();
            let placed = out.dialed.into_iter().map(|d| (d.call, d.attempt, d.zone, None));
            pass.carrier_errors += self.place_all(placed.collect()).await?;
        }
        for org in self.store.orgs_with_due_calls(now).await? {
            let out = self.store.dial_calls(&org, self.params(now), None).await?;
            pass.busy += usize::from(out.busy);
            pass.blocked += out.blocked as usize;
            pass.deferred += out.deferred as usize;
            pass.held += out.held as usize;
            pass.dialed += out.placed.len();
            let placed = out.placed.into_iter().map(|p| (p.call, 1, p.zone, p.options));
            pass.carrier_errors += self.place_all(placed.collect()).await?;
        }
        crate::telemetry::refusals("blocked", pass.blocked);
        crate::telemetry::refusals("deferred", pass.deferred);
        crate::telemetry::refusals("held", pass.held);
        Ok(pass)
    }

    /// Claims these single calls of `org` now (when the rules allow) and
    /// places them: the widget's click-to-call. Answers what the claim did.
    pub async fn place_now(
        &self,
        org: &switchboard_domain::OrgId,
        ids: Vec<switchboard_domain::CallId>,
    ) -> Result<switchboard_store::SingleDialOutcome, StoreError> {
        let mut out = self.store.dial_calls(org, self.params(self.clock.now()), Some(ids)).await?;
        let placed = std::mem::take(&mut out.placed);
        let again = placed.clone();
        self.place_all(placed.into_iter().map(|p| (p.call, 1, p.zone, p.options)).collect())
            .await?;
        out.placed = again;
        Ok(out)
    }

    /// Places claimed calls, many at once; answers how many the carrier refused.
    async fn place_all(&self, calls: Vec<(Call, u32, String, Option<serde_json::Value>)>) -> Result<usize, StoreError> {
        let results = futures::stream::iter(calls)
            .map(|(call, attempt, zone, options)| self.place(call, attempt, zone, options))
            .buffer_unordered(256)
            .collect::<Vec<Result<bool, StoreError>>>()
            .await;
        let mut errors = 0;
        for r in results {
            if !r? {
                errors += 1;
            }
        }
        Ok(errors)
    }

    /// Places one claimed call; a refusal fails the call (its attempt counts).
    async fn place(&self, call: Call, attempt: u32, zone: String, options: Option<serde_json::Value>) -> Result<bool, StoreError> {
        let (org, call_id, known) = (call.org_id.clone(), call.id.clone(), call.external_id.clone());
        let simulation = options
            .as_ref()
            .and_then(|o| o.get("simulation"))
            .and_then(|v| serde_json::from_value::<Simulation>(v.clone()).ok());
        let req = PlaceCall {
            conversation: call.template_id.as_deref().is_some_and(|t| t.starts_with("tpl_")),
            call,
            attempt,
            zone,
            placed_at: self.clock.now(),
            simulation,
        };
        match self.carrier.place(req).await {
            Ok(sid) => {
                crate::telemetry::placement("placed");
                if known.as_deref() != Some(sid.as_str()) {
                    self.store.set_call_external_id(&org, &call_id, &sid).await?;
                }
                Ok(true)
            }
            Err(e) => {
                crate::telemetry::placement("carrier_error");
                tracing::warn!(call = %call_id, error = %e, "carrier did not place the call");
                let report = CallReport {
                    status: Some(CallStatus::Failed),
                    outcome: Some("carrier_error".into()),
                    at: Some(self.clock.now()),
                    carrier_clock: true,
                    ..Default::default()
                };
                self.store.report_call(&org, CallTarget::Id(call_id), report, None).await?;
                Ok(false)
            }
        }
    }

    /// Hands a carrier call control for a live call (used by tests and tools).
    pub fn call_ref(call: &switchboard_domain::Call) -> CallRef {
        CallRef {
            org_id: call.org_id.clone(),
            call_id: call.id.clone(),
            external_id: call.external_id.clone(),
        }
    }
}

/// A sped-up clock starts again from the real time when the process
/// restarts; moves it past the last dialer pass and the newest live call so
/// simulated time never runs backwards across a restart.
async fn catch_up(state: &crate::AppState, clock: &dyn TimeSource) {
    let mut latest: Option<switchboard_domain::Timestamp> = None;
    if let Ok(live) = state.store.live_campaign_calls().await {
        latest = live.iter().map(|c| c.created_at).max();
    }
    if let Ok(active) = state.store.active_campaigns().await {
        for (org, id) in active {
            if let Ok(c) = state.store.get_campaign(&org, &id).await {
                latest = latest.max(c.last_run_at);
            }
        }
    }
    if let Some(t) = latest {
        clock.catch_up(t);
    }
}

/// Runs the telephony workers of `serve` until `stop` turns true: resumes
/// the simulator's live calls, then pumps its reports and runs dialer
/// passes every tick.
pub async fn run(state: crate::AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let rt = state.telephony.clone();
    let t = &state.cfg.telephony;
    if let Some(sim) = &rt.simulator {
        catch_up(&state, rt.clock.as_ref()).await;
        match state.store.live_campaign_calls().await {
            Ok(live) => {
                let n = sim.resume(&live).await;
                if n > 0 {
                    tracing::info!(calls = n, "simulator resumed live calls");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read live calls to resume"),
        }
    }
    let dialer = t.dialer.then(|| state.dialer.clone());
    let tick = std::time::Duration::from_millis(t.dialer_tick_ms);
    loop {
        if let Some(sim) = &rt.simulator
            && let Err(e) = sim.pump().await
        {
            tracing::error!(error = %e, "simulator could not report");
        }
        if let Some(d) = &dialer
            && let Err(e) = d.run_once().await
        {
            tracing::error!(error = %e, "dialer pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = state.dialer_wake.notified() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}
