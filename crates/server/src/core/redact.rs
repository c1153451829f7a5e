//! PII redaction before anything is stored: for an organisation that turned
//! `redactPii` on (see `/v1/org/intelligence`), card numbers (Luhn-checked),
//! national ids, e-mails, phone numbers and digits spoken as words are
//! replaced by tags (`[CARD]`, `[EMAIL]`, ...) in what a call carries as
//! free text — its transcript and segments, notes, summary, collected data,
//! in-call event data and conversation state — before the store writes it.
//! Outbox events (and so webhooks and live streams) are made from what is
//! stored, so the unredacted text is never written nor sent.

use serde_json::Value;
use switchboard_domain::call::CallReport;
use switchboard_domain::phone::Region;
use switchboard_domain::transcript::Segment;
use switchboard_domain::{Call, OrgId, Organisation};
use switchboard_intelligence::redaction;
use switchboard_store::{DynStore, StoreError};

/// Redacts for one organisation.
#[derive(Debug, Clone)]
pub struct Redactor {
    region: Option<Region>,
}

impl Redactor {
    pub fn text(&self, text: &str) -> String {
        redaction::redact(text, self.region).text
    }

    fn opt(&self, text: &mut Option<String>) {
        if let Some(t) = text {
            *t = self.text(t);
        }
    }

    /// Every string inside a JSON value (keys stay).
    pub fn value(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.text(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.value(x)),
            Value::Object(m) => m.values_mut().for_each(|x| self.value(x)),
            _ => {}
        }
    }

    fn opt_value(&self, v: &mut Option<Value>) {
        if let Some(v) = v {
            self.value(v);
        }
    }

    pub fn segments(&self, segs: &mut [Segment]) {
        for s in segs {
            s.text = self.text(&s.text);
        }
    }

    pub fn report(&self, r: &mut CallReport) {
        self.opt(&mut r.transcript);
        self.opt(&mut r.notes);
        self.opt(&mut r.summary);
        self.opt_value(&mut r.collected_data);
        self.opt_value(&mut r.event_data);
        self.opt_value(&mut r.conversation);
        for e in &mut r.timeline {
            self.opt_value(&mut e.data);
        }
        self.segments(&mut r.segments);
    }

    pub fn call(&self, c: &mut Call) {
        self.opt(&mut c.transcript);
        self.opt(&mut c.notes);
        self.opt(&mut c.summary);
        self.opt_value(&mut c.collected_data);
        for e in &mut c.timeline {
            self.opt_value(&mut e.data);
        }
    }
}

fn region(org: &Organisation) -> Option<Region> {
    org.default_region.as_deref().and_then(|r| Region::parse(r).ok())
}

/// The organisation's redactor when it redacts PII.
pub async fn for_org(store: &DynStore, org: &Organisation) -> Result<Option<Redactor>, StoreError> {
    let s = crate::workers::analysis::settings(store, &org.id).await?;
    Ok(s.redact_pii.then(|| Redactor { region: region(org) }))
}

/// As [`for_org`], by id.
pub async fn for_org_id(store: &DynStore, org: &OrgId) -> Result<Option<Redactor>, StoreError> {
    let s = crate::workers::analysis::settings(store, org).await?;
    if !s.redact_pii {
        return Ok(None);
    }
    let org = store.get_org(org).await?;
    Ok(Some(Redactor { region: region(&org) }))
}

/// Redacts a report in place when the organisation redacts PII.
pub async fn report(store: &DynStore, org: &OrgId, r: &mut CallReport) -> Result<(), StoreError> {
    if let Some(red) = for_org_id(store, org).await? {
        red.report(r);
    }
    Ok(())
}
