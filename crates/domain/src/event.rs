//! Domain events, written to the outbox in the same transaction as the
//! state change they announce.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Timestamp;
use crate::id::{EventId, OrgId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    pub id: EventId,
    pub org_id: OrgId,
    /// `call.completed`, `contact.created`, ...
    pub event_type: String,
    pub created_at: Timestamp,
    pub data: Value,
    /// Position in the outbox, assigned by the store (0 until stored).
    #[serde(default)]
    pub seq: i64,
}

impl DomainEvent {
    pub fn new(org_id: &OrgId, event_type: impl Into<String>, data: Value, at: Timestamp) -> Self {
        Self {
            id: EventId::new(),
            org_id: org_id.clone(),
            event_type: event_type.into(),
            created_at: at,
            data,
            seq: 0,
        }
    }
}
