//! Contacts: the people a call center calls.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::{ContactId, OrgId};
use crate::{PhoneNumber, TimeZone, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub org_id: OrgId,
    pub name: Option<String>,
    pub phone: PhoneNumber,
    pub email: Option<String>,
    pub company: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: Option<Value>,
    /// The CRM's own id for this person.
    pub external_id: Option<String>,
    pub time_zone: Option<TimeZone>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A change to a contact: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactPatch {
    pub name: Option<Option<String>>,
    pub phone: Option<PhoneNumber>,
    pub email: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub custom_fields: Option<Option<Value>>,
    pub external_id: Option<Option<String>>,
    pub time_zone: Option<Option<TimeZone>>,
}

impl ContactPatch {
    pub fn is_empty(&self) -> bool {
        *self == ContactPatch::default()
    }

    /// Applies the patch; answers whether anything changed.
    pub fn apply(&self, c: &mut Contact, now: Timestamp) -> bool {
        let before = c.clone();
        if let Some(v) = &self.name {
            c.name = v.clone();
        }
        if let Some(v) = &self.phone {
            c.phone = v.clone();
        }
        if let Some(v) = &self.email {
            c.email = v.clone();
        }
        if let Some(v) = &self.company {
            c.company = v.clone();
        }
        if let Some(v) = &self.tags {
            c.tags = v.clone();
        }
        if let Some(v) = &self.custom_fields {
            c.custom_fields = v.clone();
        }
        if let Some(v) = &self.external_id {
            c.external_id = v.clone();
        }
        if let Some(v) = &self.time_zone {
            c.time_zone = *v;
        }
        let changed = *c != before;
        if changed {
            c.updated_at = now;
        }
        changed
    }
}

impl Contact {
    pub fn event_data(&self) -> Value {
        serde_json::json!({
            "contactId": self.id,
            "name": self.name,
            "phone": self.phone,
            "email": self.email,
            "company": self.company,
            "tags": self.tags,
            "externalId": self.external_id,
        })
    }
}
