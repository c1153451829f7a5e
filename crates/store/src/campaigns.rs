//! The campaign aggregate: templates, contact lists, the do-not-call list,
//! campaigns and the dialer's claims on them.
//!
//! A campaign's contacts are copied into `campaign_contacts` (with the
//! callee's resolved time zone) when it is created. The dialer works one
//! campaign per transaction ([`CampaignStore::dial`]): it settles finished
//! calls (retry or done), then creates new calls for due contacts within
//! the line and rate caps, recording each attempt in the same transaction
//! as its call. On PostgreSQL the transaction holds the organisation's
//! dialer row (`FOR UPDATE SKIP LOCKED`), so nodes sharing a database dial
//! an organisation one at a time and the caps stay exact.

use async_trait::async_trait;
use serde_json::Value;
use switchboard_domain::campaign::{CampaignAction, DncEntry};
use switchboard_domain::{
    Call, CallId, CallStatus, Campaign, CampaignId, CampaignStatus, Contact, ContactId, ContactList, ContactListId, OrgId, Template,
    TemplateId, Timestamp,
};

use crate::{IdemKey, Page, Result};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateFilter {
    pub industry: Option<String>,
    /// Case-insensitive substring of name or description.
    pub search: Option<String>,
}

/// A campaign's contact, ready to dial: where to call and in which zone.
#[derive(Debug, Clone, PartialEq)]
pub struct StagedContact {
    pub contact_id: ContactId,
    pub phone: String,
    /// IANA zone the calling window is checked in.
    pub zone: String,
}

/// Counts behind a campaign's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignStats {
    pub total_contacts: i64,
    /// Contacts the dialer is finished with.
    pub done_contacts: i64,
    /// Campaign calls that reached a final status.
    pub completed_calls: i64,
    /// Campaign calls a person answered and completed.
    pub successful_calls: i64,
    /// Campaign calls not yet final.
    pub live_calls: i64,
}

/// What an import batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// New contacts stored.
    pub created: u64,
    /// Rows whose phone number matched an existing contact (added to the list only).
    pub matched: u64,
}

/// The dialer's limits for one pass over one campaign.
#[derive(Debug, Clone)]
pub struct DialParams {
    /// The dialer's clock (the simulator's time when it runs faster).
    pub now: Timestamp,
    /// The organisation's cap on new calls per second of `now`.
    pub org_calls_per_second: u32,
    /// Most calls one pass creates.
    pub batch: u32,
    /// Carriers that name calls before placing them give a prefix; the
    /// call's external id is the prefix and the call id's body.
    pub external_prefix: Option<String>,
    /// Calls still `queued` without a carrier id after this long were never
    /// placed (a node died in between): they are failed, which counts as
    /// their attempt.
    pub stale_queued_secs: i64,
}

/// A call the dialer created and the carrier must now place.
#[derive(Debug, Clone, PartialEq)]
pub struct Dialed {
    pub call: Call,
    pub campaign_id: CampaignId,
    pub contact_id: ContactId,
    pub attempt: u32,
    pub zone: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DialOutcome {
    pub dialed: Vec<Dialed>,
    /// Finished calls settled by this pass.
    pub settled: u32,
    /// Contacts skipped because their number is on the do-not-call list.
    pub blocked: u32,
    /// The campaign completed in this pass.
    pub completed: bool,
    /// The pass found the organisation held by another node and did nothing.
    pub busy: bool,
}

/// A campaign call not yet final, for a carrier that restarts.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCall {
    pub org_id: OrgId,
    pub call_id: CallId,
    pub external_id: Option<String>,
    pub to: String,
    pub attempt: u32,
    pub zone: String,
    pub status: CallStatus,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait CampaignStore: Send + Sync {
    // Templates.
    async fn create_template(&self, t: Template, idem: Option<IdemKey>) -> Result<Template>;
    async fn get_template(&self, org: &OrgId, id: &TemplateId) -> Result<Template>;
    async fn list_templates(&self, org: &OrgId, filter: &TemplateFilter, page: Page) -> Result<(Vec<Template>, u64)>;
    /// Counts one more use (a call placed with it outside a campaign).
    async fn use_template(&self, org: &OrgId, id: &TemplateId) -> Result<()>;

    // Contact lists.
    async fn create_contact_list(&self, list: ContactList, idem: Option<IdemKey>) -> Result<ContactList>;
    async fn get_contact_list(&self, org: &OrgId, id: &ContactListId) -> Result<ContactList>;
    async fn list_contact_lists(&self, org: &OrgId, page: Page) -> Result<(Vec<ContactList>, u64)>;
    /// Adds existing contacts to a list; unknown contact ids are refused
    /// (nothing added). Answers how many were new members.
    async fn add_list_members(&self, org: &OrgId, list: &ContactListId, contacts: Vec<ContactId>) -> Result<u64>;
    async fn list_members(&self, org: &OrgId, list: &ContactListId, page: Page) -> Result<(Vec<Contact>, u64)>;
    /// Stores a batch of imported contacts (reusing a contact with the same
    /// phone number) and adds them to `list`. No event per contact: the
    /// import announces itself once with [`CampaignStore::finish_import`].
    async fn import_contacts(&self, org: &OrgId, list: Option<ContactListId>, contacts: Vec<Contact>) -> Result<ImportCounts>;
    /// Writes the `lead.imported` event of a finished import.
    async fn finish_import(&self, org: &OrgId, data: Value) -> Result<()>;
    /// Distinct contacts of these lists with ids above `after`, in id order.
    async fn contacts_of_lists(&self, org: &OrgId, lists: &[ContactListId], after: Option<ContactId>, limit: u32) -> Result<Vec<Contact>>;
    /// These contacts (unknown ids are absent).
    async fn contacts_by_ids(&self, org: &OrgId, ids: &[ContactId]) -> Result<Vec<Contact>>;

    // Do-not-call list.
    /// Adds numbers (already E.164); answers how many were new.
    async fn add_dnc(&self, org: &OrgId, entries: Vec<DncEntry>) -> Result<u64>;
    /// Removes a number; answers whether it was listed.
    async fn remove_dnc(&self, org: &OrgId, phone: &str) -> Result<bool>;
    async fn list_dnc(&self, org: &OrgId, page: Page) -> Result<(Vec<DncEntry>, u64)>;
    /// The number's entry, when it is listed (already E.164).
    async fn dnc_entry(&self, org: &OrgId, phone: &str) -> Result<Option<DncEntry>>;

    // Campaigns.
    /// Stores a batch of a campaign's contacts before the campaign itself
    /// (duplicates ignored). Rows of a campaign never created are inert.
    async fn stage_campaign_contacts(&self, org: &OrgId, campaign: &CampaignId, rows: Vec<StagedContact>) -> Result<()>;
    /// Stores the campaign with its staged contacts' count, counts a use
    /// of its template, and writes `campaign.created`.
    async fn create_campaign(&self, c: Campaign, idem: Option<IdemKey>) -> Result<Campaign>;
    async fn get_campaign(&self, org: &OrgId, id: &CampaignId) -> Result<Campaign>;
    async fn list_campaigns(&self, org: &OrgId, status: Option<CampaignStatus>, page: Page) -> Result<(Vec<Campaign>, u64)>;
    async fn campaign_stats(&self, org: &OrgId, id: &CampaignId) -> Result<CampaignStats>;
    /// Applies a user's status request (checked), writing its event.
    async fn set_campaign_status(
        &self,
        org: &OrgId,
        id: &CampaignId,
        action: CampaignAction,
        at: Timestamp,
        idem: Option<IdemKey>,
    ) -> Result<Campaign>;

    // The dialer.
    /// Active campaigns of every organisation, oldest first.
    async fn active_campaigns(&self) -> Result<Vec<(OrgId, CampaignId)>>;
    /// One dialer pass over one campaign (see the module docs).
    async fn dial(&self, org: &OrgId, id: &CampaignId, params: DialParams) -> Result<DialOutcome>;
    /// Placed calls not yet final (every organisation; campaign calls and
    /// claimed single calls, whose `created_at` is their claim time), for a
    /// carrier resuming after a restart.
    async fn live_campaign_calls(&self) -> Result<Vec<LiveCall>>;
    /// Records the carrier's id of a call placed without one; writes `call.updated`.
    async fn set_call_external_id(&self, org: &OrgId, id: &CallId, external_id: &str) -> Result<()>;
}

/// Variables every campaign call gets from its contact.
pub const CONTACT_VARIABLES: [&str; 7] = ["contactName", "firstName", "lastName", "phone", "email", "company", "contactId"];

/// The variables of one campaign call: the contact's, then the campaign's
/// (which win).
pub fn call_variables(
    campaign: Option<&Value>,
    contact_id: &str,
    name: Option<&str>,
    phone: &str,
    email: Option<&str>,
    company: Option<&str>,
) -> Value {
    let mut vars = serde_json::Map::new();
    let name = name.unwrap_or("");
    let mut parts = name.split_whitespace();
    let first = parts.next().unwrap_or("");
    let last: Vec<&str> = parts.collect();
    vars.insert("contactName".into(), name.into());
    vars.insert("firstName".into(), first.into());
    vars.insert("lastName".into(), last.join(" ").into());
    vars.insert("phone".into(), phone.into());
    vars.insert("email".into(), email.unwrap_or("").into());
    vars.insert("company".into(), company.unwrap_or("").into());
    vars.insert("contactId".into(), contact_id.into());
    if let Some(Value::Object(c)) = campaign {
        for (k, v) in c {
            vars.insert(k.clone(), v.clone());
        }
    }
    Value::Object(vars)
}

/// Dialer states of a campaign contact.
pub(crate) const WAITING: i64 = 0;
pub(crate) const LIVE: i64 = 1;
pub(crate) const DONE: i64 = 2;

/// `campaign.<kind>` announcing a campaign's change.
pub(crate) fn campaign_event(kind: &str, c: &Campaign, at: Timestamp) -> switchboard_domain::DomainEvent {
    switchboard_domain::DomainEvent::new(&c.org_id, kind, c.event_data(), at)
}

/// What becomes of a contact whose call ended: `(state, next attempt at (ms), last status)`.
pub(crate) fn settle(c: &Campaign, status: CallStatus, attempts: u32, ended: Timestamp) -> (i64, i64, &'static str) {
    match c.settings.retry.next_attempt(status, attempts, ended) {
        Some(at) => (WAITING, at.timestamp_millis(), status.as_str()),
        None => (DONE, 0, status.as_str()),
    }
}

/// A new campaign call for one contact's attempt.
#[allow(clippy::too_many_arguments)]
pub(crate) fn campaign_call(
    c: &Campaign,
    params: &DialParams,
    contact_id: &str,
    phone: &str,
    name: Option<String>,
    email: Option<String>,
    company: Option<String>,
    attempt: u32,
) -> Call {
    let mut call = Call::new(
        c.org_id.clone(),
        switchboard_domain::Direction::Outbound,
        CallStatus::Queued,
        params.now,
    );
    call.to = Some(phone.to_owned());
    call.from = c.settings.caller_id.clone();
    call.customer_phone = Some(phone.to_owned());
    call.contact_id = Some(ContactId::from_trusted(contact_id.to_owned()));
    call.variables = Some(call_variables(
        c.variables.as_ref(),
        contact_id,
        name.as_deref(),
        phone,
        email.as_deref(),
        company.as_deref(),
    ));
    call.customer_name = name;
    call.campaign_id = Some(c.id.to_string());
    call.template_id = Some(c.template_id.to_string());
    call.call_type = Some("campaign".into());
    call.metadata = Some(serde_json::json!({ "attempt": attempt }));
    if let Some(prefix) = &params.external_prefix {
        let body = call.id.as_str().trim_start_matches("call_");
        call.external_id = Some(format!("{prefix}{body}"));
    }
    call
}

/// The campaign's rate cap: the server's per-organisation cap, lowered by
/// the organisation's own (`org_own`) and by the campaign's.
pub(crate) fn rate_cap(c: &Campaign, params: &DialParams, org_own: Option<u32>) -> u32 {
    [c.settings.calls_per_second, org_own]
        .into_iter()
        .flatten()
        .fold(params.org_calls_per_second, u32::min)
}
