//! Creating calls and applying reports to them.

use switchboard_domain::call::CallReport;
use switchboard_domain::{Call, CallId, CallStatus, ContactId, Direction, FieldError, Organisation, Timestamp};
use switchboard_store::{CallTarget, IdemKey, ReportOutcome, StoreError};

use crate::state::AppState;

/// Everything needed to create a call, already parsed and validated field
/// by field by the dialect that received it.
#[derive(Debug, Clone, Default)]
pub struct NewCall {
    pub direction: Direction,
    /// Refuse the call when no customer number is known (true when we are
    /// asked to dial; false when a backend reports a call it saw).
    pub require_number: bool,
    /// The customer's number (E.164 when we dial it).
    pub customer_number: Option<String>,
    /// Our number: the caller id on outbound calls, the number dialled on inbound ones.
    pub our_number: Option<String>,
    pub contact_id: Option<ContactId>,
    /// The field name the contact id came in, for errors.
    pub contact_field: &'static str,
    pub scheduled_at: Option<Timestamp>,
    /// A status to record straight away (logging a call that already happened).
    pub status: Option<CallStatus>,
    pub customer_name: Option<String>,
    pub customer_external_id: Option<String>,
    pub customer_context: Option<serde_json::Value>,
    pub call_type: Option<String>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub campaign_id: Option<String>,
    pub template_id: Option<String>,
    pub variables: Option<serde_json::Value>,
    pub metadata: Option<serde_json::Value>,
    pub external_id: Option<String>,
    pub initiated_at: Option<Timestamp>,
    /// Outcome, duration, recording and the rest, applied on creation.
    pub report: CallReport,
}

/// Builds the call record: fills customer details from the contact, sets
/// the first status, then applies whatever was reported with it.
pub async fn build(state: &AppState, org: &Organisation, spec: NewCall, phone_field: &str) -> Result<Call, StoreError> {
    let now = switchboard_domain::now();
    let contact = match &spec.contact_id {
        Some(id) => Some(state.store.get_contact(&org.id, id).await.map_err(|e| match e {
            StoreError::NotFound(_) => StoreError::Invalid(FieldError::new(spec.contact_field, "no contact with this id")),
            other => other,
        })?),
        None => None,
    };
    let customer_number = spec
        .customer_number
        .clone()
        .or_else(|| contact.as_ref().map(|c| c.phone.to_string()));
    if customer_number.is_none() && spec.require_number {
        return Err(FieldError::new(phone_field, "is required (or give a contactId whose contact has a phone)").into());
    }
    let first = if spec.scheduled_at.is_some() || spec.status == Some(CallStatus::Scheduled) {
        CallStatus::Scheduled
    } else {
        CallStatus::Queued
    };
    let mut call = Call::new(org.id.clone(), spec.direction, first, now);
    let (from, to) = match spec.direction {
        Direction::Outbound => (spec.our_number.clone(), customer_number.clone()),
        Direction::Inbound => (customer_number.clone(), spec.our_number.clone()),
    };
    call.from = from;
    call.to = to;
    call.customer_phone = customer_number;
    call.contact_id = spec.contact_id.clone();
    call.customer_name = spec.customer_name.clone().or_else(|| contact.as_ref().and_then(|c| c.name.clone()));
    call.customer_external_id = spec
        .customer_external_id
        .clone()
        .or_else(|| contact.as_ref().and_then(|c| c.external_id.clone()));
    call.customer_context = spec.customer_context.clone();
    call.call_type = spec.call_type.clone();
    call.agent_id = spec.agent_id.clone();
    call.agent_name = spec.agent_name.clone();
    call.campaign_id = spec.campaign_id.clone();
    call.template_id = spec.template_id.clone();
    call.variables = spec.variables.clone();
    call.metadata = spec.metadata.clone();
    call.external_id = spec.external_id.clone();
    call.scheduled_at = spec.scheduled_at;
    call.initiated_at = spec.initiated_at;
    let mut report = spec.report.clone();
    report.status = spec.status.filter(|s| *s != first);
    if report.status.is_some() && report.at.is_none() {
        // A call logged after the fact ends when it started plus its talk time.
        let start = report.answered_at.or(spec.initiated_at);
        report.at = Some(match (start, report.status.is_some_and(|s| s.is_terminal())) {
            (Some(s), true) => s + chrono::Duration::seconds(report.duration.unwrap_or(0)),
            (Some(s), false) => s,
            (None, _) => now,
        });
    }
    call.apply(&report, now, &[])?;
    call.timeline.clear();
    if let Some(red) = super::redact::for_org(&state.store, org).await? {
        red.call(&mut call);
    }
    Ok(call)
}

/// Creates a call (idempotently when `idem` is given).
pub async fn create(
    state: &AppState,
    org: &Organisation,
    spec: NewCall,
    phone_field: &str,
    idem: Option<IdemKey>,
) -> Result<Call, StoreError> {
    let call = build(state, org, spec, phone_field).await?;
    state.store.create_call(call, idem).await
}

/// Applies a report to a call found by id.
pub async fn report(
    state: &AppState,
    org: &Organisation,
    id: &CallId,
    mut report: CallReport,
    idem: Option<IdemKey>,
) -> Result<ReportOutcome, StoreError> {
    super::redact::report(&state.store, &org.id, &mut report).await?;
    state.store.report_call(&org.id, CallTarget::Id(id.clone()), report, idem).await
}

/// Applies a report to the call with this carrier id, creating the call
/// from `spec` when no call has that id yet.
pub async fn report_external(
    state: &AppState,
    org: &Organisation,
    external_id: String,
    spec: NewCall,
    phone_field: &str,
    mut report: CallReport,
    idem: Option<IdemKey>,
) -> Result<ReportOutcome, StoreError> {
    super::redact::report(&state.store, &org.id, &mut report).await?;
    let template = match state.store.call_by_external_id(&org.id, &external_id).await? {
        // Known already: the template is never used, skip building it.
        Some(existing) => existing,
        None => {
            let mut spec = spec;
            spec.external_id = Some(external_id.clone());
            // The report carries the status; the new call starts before it.
            spec.status = None;
            build(state, org, spec, phone_field).await?
        }
    };
    let target = CallTarget::External {
        external_id,
        create: Box::new(template),
    };
    match state.store.report_call(&org.id, target.clone(), report.clone(), idem.clone()).await {
        // Lost a race to create the same carrier id: the call exists now.
        Err(StoreError::Conflict(_)) => state.store.report_call(&org.id, target, report, idem).await,
        other => other,
    }
}

/// Checks the template a call names: when `templateId` is one of ours
/// (`tpl_…`), it must exist and every variable it declares needs a value,
/// from `variables` or (with a contact) from the contact's fields; a 422
/// lists those missing. Ids in other formats are opaque references to a
/// client's own scripts and are stored unchecked.
pub async fn check_template(state: &AppState, org: &Organisation, spec: &NewCall) -> Result<(), crate::error::ApiError> {
    use crate::error::ApiError;
    let Some(raw) = &spec.template_id else { return Ok(()) };
    if !raw.starts_with("tpl_") {
        return Ok(());
    }
    let id: switchboard_domain::TemplateId = raw.parse().map_err(|_| ApiError::field("templateId", "no template with this id"))?;
    let template = state.store.get_template(&org.id, &id).await.map_err(|e| match e {
        StoreError::NotFound(_) => ApiError::field("templateId", "no template with this id"),
        other => other.into(),
    })?;
    let implied: std::collections::BTreeSet<&str> = if spec.contact_id.is_some() {
        switchboard_store::campaigns::CONTACT_VARIABLES.into_iter().collect()
    } else {
        Default::default()
    };
    let missing = switchboard_domain::template::missing_from(&template.variables, spec.variables.as_ref(), &implied);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(crate::api::v1::templates::missing_variables(&missing))
    }
}

/// Counts a use of the call's template (ours only); a failure is logged,
/// not returned: the call is already stored.
pub async fn count_template_use(state: &AppState, call: &Call) {
    if let Some(id) = call
        .template_id
        .as_deref()
        .filter(|t| t.starts_with("tpl_"))
        .and_then(|t| t.parse().ok())
        && let Err(e) = state.store.use_template(&call.org_id, &id).await
    {
        tracing::warn!(error = %e, "cannot count a template use");
    }
}
