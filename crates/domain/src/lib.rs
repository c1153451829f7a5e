//! Switchboard's domain: identifiers, the call state machine, contacts,
//! organisations, domain events and input validation. No I/O lives here.

pub mod agents;
pub mod call;
pub mod campaign;
pub mod contact;
pub mod conversation;
pub mod error;
pub mod event;
pub mod id;
pub mod org;
pub mod phone;
pub mod queues;
pub mod routing;
pub mod script;
pub mod template;
pub mod transcript;
pub mod tz;
pub mod user;
pub mod validate;
pub mod webhook;
pub mod webhook_events;
pub mod zones;

pub use call::{Call, CallStatus, Direction, TimelineEntry, Transition};
pub use campaign::{Campaign, CampaignStatus, ContactList};
pub use contact::Contact;
pub use error::{DomainError, FieldError};
pub use event::DomainEvent;
pub use id::{
    ApiKeyId, AttemptId, CallId, CampaignId, ContactId, ContactListId, DeliveryId, EventId, OrgId, TemplateId, UserId, WebhookId,
};
pub use org::{ApiKey, Organisation};
pub use phone::PhoneNumber;
pub use template::Template;
pub use tz::TimeZone;
pub use user::{AuditEntry, Role, User, UserStatus};
pub use webhook::{SignatureScheme, Webhook, WebhookSecret};

/// Timestamps are UTC instants everywhere in the domain.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// The current instant at the millisecond precision the stores keep.
pub fn now() -> Timestamp {
    truncate(chrono::Utc::now())
}

/// Drops sub-millisecond precision, which the stores do not keep.
pub fn truncate(t: Timestamp) -> Timestamp {
    chrono::DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}
