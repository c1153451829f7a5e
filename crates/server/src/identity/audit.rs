//! Writing the audit log: who did what and when. Audit writes never fail
//! the request they describe; a failure is logged.

use std::net::IpAddr;

use serde_json::Value;
use switchboard_domain::id::AuditId;
use switchboard_domain::{AuditEntry, OrgId};

use crate::identity::auth::Auth;
use crate::state::AppState;

/// Records `action` by `actor` on `target`.
pub async fn record(
    state: &AppState,
    org: &OrgId,
    actor: &str,
    action: &str,
    target: Option<String>,
    detail: Option<Value>,
    ip: Option<IpAddr>,
) {
    let entry = AuditEntry {
        id: AuditId::new(),
        org_id: org.clone(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target,
        detail,
        ip: ip.map(|i| i.to_string()),
        created_at: state.clock.now(),
    };
    if let Err(e) = state.store.append_audit(entry).await {
        tracing::error!(error = %e, action, "cannot write the audit log");
    }
}

/// Records `action` by the authenticated caller.
pub async fn by(state: &AppState, auth: &Auth, action: &str, target: Option<String>, detail: Option<Value>) {
    record(state, &auth.org.id, &auth.actor_id(), action, target, detail, None).await;
}
