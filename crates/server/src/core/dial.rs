//! Calls to place: every dialect's "make a call" lands here. The call is
//! stored with a dial request in one transaction; the dialer claims it
//! under the same rules as campaign calls (do-not-call list, the callee's
//! calling window, the organisation's rate cap, the plan's live-call cap,
//! the monthly quota counted at creation) and the carrier places it.

use serde_json::Value;
use switchboard_domain::{Call, CallStatus, Organisation, PhoneNumber, Timestamp};
use switchboard_store::{DialRequest, IdemKey, StoreError};
use switchboard_telephony::Simulation;

use super::calls::{self, NewCall};
use crate::state::AppState;

/// How a call is to be placed.
#[derive(Debug, Clone, Default)]
pub struct DialOptions {
    /// Dial outside the legal calling window (the caller takes responsibility).
    pub override_window: bool,
    /// The simulated callee's behaviour (simulator only).
    pub simulation: Option<Simulation>,
    /// Placed at once (click-to-call): refused beyond the live-call cap
    /// instead of waiting for room.
    pub immediate: bool,
}

/// A stored call to place and when it will be dialled (after its
/// schedule, at the next opening of the callee's calling window).
#[derive(Debug, Clone)]
pub struct Requested {
    pub call: Call,
    pub next_attempt_at: Timestamp,
}

/// Stores a call to place with its dial request and wakes the dialer.
pub async fn request(
    state: &AppState,
    org: &Organisation,
    spec: NewCall,
    phone_field: &str,
    opts: DialOptions,
    idem: Option<IdemKey>,
) -> Result<Requested, StoreError> {
    let mut call = calls::build(state, org, spec, phone_field).await?;
    let Some(to) = call.to.clone() else {
        return Err(switchboard_domain::FieldError::new(phone_field, "is required to place a call").into());
    };
    let contact = match &call.contact_id {
        Some(id) => Some(state.store.get_contact(&org.id, id).await?),
        None => None,
    };
    // A script's contact variables come from the contact, as on campaign calls.
    if let Some(c) = &contact
        && call.template_id.as_deref().is_some_and(|t| t.starts_with("tpl_"))
    {
        let given = call.variables.take();
        call.variables = Some(switchboard_store::campaigns::call_variables(
            given.as_ref(),
            c.id.as_str(),
            c.name.as_deref(),
            c.phone.as_str(),
            c.email.as_deref(),
            c.company.as_deref(),
        ));
    }
    let phone = PhoneNumber::parse(phone_field, &to, org.region(), Default::default())?;
    let zone = switchboard_domain::zones::callee_zone(contact.as_ref().and_then(|c| c.time_zone), &phone, org.time_zone);
    let now = state.telephony.clock.now();
    let mut due = call.scheduled_at.map_or(now, |s| s.max(now));
    if !opts.override_window {
        due = switchboard_domain::zones::next_window_open(zone, due);
    }
    let options = opts.simulation.as_ref().map(|s| serde_json::json!({ "simulation": s }));
    let req = DialRequest {
        call_id: call.id.clone(),
        org_id: org.id.clone(),
        phone: phone.as_str().to_owned(),
        zone: zone.name().to_owned(),
        due_at: due,
        override_window: opts.override_window,
        claimed: false,
        options,
        immediate: opts.immediate,
    };
    let call = state.store.create_dial_call(call, req, idem).await?;
    if due <= now {
        state.dialer_wake.notify_one();
    }
    Ok(Requested {
        call,
        next_attempt_at: due,
    })
}

/// Stores a call to place and places it at once when the rules allow (the
/// widget's click-to-call): answers the call as it stands after.
pub async fn place_now(
    state: &AppState,
    org: &Organisation,
    spec: NewCall,
    phone_field: &str,
    opts: DialOptions,
) -> Result<Call, StoreError> {
    let opts = DialOptions { immediate: true, ..opts };
    let r = request(state, org, spec, phone_field, opts, None).await?;
    state.dialer.place_now(&org.id, vec![r.call.id.clone()]).await?;
    state.store.get_call(&org.id, &r.call.id).await
}

/// When a call still waiting to be dialled will be: its dial request's due
/// time, for calls not yet claimed.
pub async fn next_attempt(state: &AppState, call: &Call) -> Result<Option<Timestamp>, StoreError> {
    if !matches!(call.status, CallStatus::Scheduled | CallStatus::Queued) {
        return Ok(None);
    }
    Ok(state
        .store
        .dial_request(&call.org_id, &call.id)
        .await?
        .filter(|r| !r.claimed)
        .map(|r| r.due_at))
}

/// Reads `simulation` as `POST /v1/calls` takes it.
pub fn simulation(field: &str, v: Option<&Value>) -> Result<Option<Simulation>, switchboard_domain::FieldError> {
    let Some(v) = v else { return Ok(None) };
    let s: Simulation = serde_json::from_value(v.clone())
        .map_err(|e| switchboard_domain::FieldError::new(field, format!("must be {{persona, answers}}: {e}")))?;
    if let Some(p) = &s.persona
        && !switchboard_telephony::simulator::PERSONAS.contains(&p.as_str())
    {
        return Err(switchboard_domain::FieldError::new(
            format!("{field}.persona"),
            format!("must be one of {}", switchboard_telephony::simulator::PERSONAS.join(", ")),
        ));
    }
    if s.answers.len() > 50 || s.answers.iter().any(|a| a.chars().count() > 1_000) {
        return Err(switchboard_domain::FieldError::new(
            format!("{field}.answers"),
            "must be at most 50 answers of at most 1000 characters",
        ));
    }
    Ok(Some(s))
}
