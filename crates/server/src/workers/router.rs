//! The router: offers calls waiting in queues to agents. Each pass, per
//! organisation with queued calls, settles calls that ended (a caller who
//! hung up while waiting is abandoned), moves offers not accepted within
//! [`OFFER_SECS`] on (the agent goes to `missed`), and offers waiting calls
//! to the best available agent (see `switchboard_domain::routing`). Claims
//! are conditional UPDATEs in the store, so routers on several nodes share
//! the work safely. `run_once()` drives one pass (tests call it directly).

use switchboard_store::routing::RoutePass;

use crate::state::AppState;

/// How long an agent has to accept an offered call.
pub const OFFER_SECS: u32 = 20;
/// Pause between passes.
const TICK: std::time::Duration = std::time::Duration::from_millis(500);

/// One pass over every organisation with queued calls; answers what it did, summed.
pub async fn run_once(state: &AppState) -> switchboard_store::Result<RoutePass> {
    let now = state.clock.now();
    // The wallboard's agent figures first: they cost one grouped count.
    state.agents.refresh(&state.store).await?;
    let mut total = RoutePass::default();
    for org in state.store.orgs_with_queued_calls().await? {
        let pass = state.store.route_calls(&org, now, OFFER_SECS).await?;
        total.offered.extend(pass.offered);
        total.missed.extend(pass.missed);
        total.abandoned.extend(pass.abandoned);
        total.decisions += pass.decisions;
        total.overflowed += pass.overflowed;
    }
    Ok(total)
}

/// Runs passes until `stop` turns true.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = run_once(&state).await {
            tracing::error!(error = %e, "routing pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}
