//! The campaign store on SQLite: templates, contact lists, imports, the
//! do-not-call list and campaigns. The dialer's pass is in `dialer.rs`.

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, params, params_from_iter};
use serde_json::Value;
use switchboard_domain::campaign::{CampaignAction, DncEntry};
use switchboard_domain::{
    CallId, Campaign, CampaignId, CampaignStatus, Contact, ContactId, ContactList, ContactListId, DomainEvent, OrgId, Template, TemplateId,
    Timestamp,
};

use super::SqliteStore;
use super::campaign_rows::*;
use super::rows::*;
use crate::campaigns::{DONE, LIVE, campaign_event};
use crate::logic::now;
use crate::{
    CampaignStats, CampaignStore, DialOutcome, DialParams, IdemKey, ImportCounts, LiveCall, Page, Result, StagedContact, StoreError,
    TemplateFilter,
};

fn like(q: &str) -> String {
    format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

fn page_args(args: &mut Vec<SqlValue>, page: Page) {
    args.push(SqlValue::Integer(i64::from(page.limit)));
    args.push(SqlValue::Integer(page.offset() as i64));
}

#[async_trait]
impl CampaignStore for SqliteStore {
    async fn create_template(&self, t: Template, idem: Option<IdemKey>) -> Result<Template> {
        self.write(move |c| {
            insert_template(c, &t)?;
            let data = serde_json::json!({ "templateId": t.id, "name": t.name });
            insert_events(c, &[DomainEvent::new(&t.org_id, "template.created", data, t.created_at)])?;
            insert_idem(c, &t.org_id, &idem, &t)?;
            Ok(t)
        })
        .await
    }

    async fn get_template(&self, org: &OrgId, id: &TemplateId) -> Result<Template> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| load_template(c, &org, id.as_str())?.ok_or(StoreError::NotFound("template")))
            .await
    }

    async fn list_templates(&self, org: &OrgId, filter: &TemplateFilter, page: Page) -> Result<(Vec<Template>, u64)> {
        let mut cond = String::from("org_id = ?");
        let mut args = vec![SqlValue::Text(org.to_string())];
        if let Some(i) = &filter.industry {
            cond.push_str(" AND industry = ? COLLATE NOCASE");
            args.push(SqlValue::Text(i.clone()));
        }
        if let Some(q) = &filter.search {
            cond.push_str(" AND (name LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')");
            args.extend(std::iter::repeat_n(SqlValue::Text(like(q)), 2));
        }
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM templates WHERE {cond}"))?
                .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
            page_args(&mut args, page);
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE {cond} ORDER BY id DESC LIMIT ? OFFSET ?"
                ))?
                .query_map(params_from_iter(args.iter()), template_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn use_template(&self, org: &OrgId, id: &TemplateId) -> Result<()> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            c.prepare_cached("UPDATE templates SET usage_count = usage_count + 1 WHERE id = ?1 AND org_id = ?2")?
                .execute(params![id.as_str(), org.as_str()])?;
            Ok(())
        })
        .await
    }

    async fn create_contact_list(&self, list: ContactList, idem: Option<IdemKey>) -> Result<ContactList> {
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO contact_lists (id, org_id, name, description, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                list.id.as_str(),
                list.org_id.as_str(),
                list.name,
                list.description,
                ms(list.created_at),
                ms(list.updated_at)
            ])?;
            let data = serde_json::json!({ "contactListId": list.id, "name": list.name });
            insert_events(c, &[DomainEvent::new(&list.org_id, "contact_list.created", data, list.created_at)])?;
            insert_idem(c, &list.org_id, &idem, &list)?;
            Ok(list)
        })
        .await
    }

    async fn get_contact_list(&self, org: &OrgId, id: &ContactListId) -> Result<ContactList> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| load_list(c, &org, id.as_str())?.ok_or(StoreError::NotFound("contact list")))
            .await
    }

    async fn list_contact_lists(&self, org: &OrgId, page: Page) -> Result<(Vec<ContactList>, u64)> {
        let org = org.clone();
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM contact_lists WHERE org_id = ?1")?
                .query_row([org.as_str()], |r| r.get(0))?;
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {LIST_COLUMNS} FROM contact_lists WHERE org_id = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
                ))?
                .query_map(params![org.as_str(), page.limit, page.offset() as i64], list_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn add_list_members(&self, org: &OrgId, list: &ContactListId, contacts: Vec<ContactId>) -> Result<u64> {
        let (org, list) = (org.clone(), list.clone());
        let contacts = std::sync::Arc::new(contacts);
        self.write(move |c| {
            load_list(c, &org, list.as_str())?.ok_or(StoreError::NotFound("contact list"))?;
            let mut exists = c.prepare_cached("SELECT 1 FROM contacts WHERE id = ?1 AND org_id = ?2")?;
            for (i, id) in contacts.iter().enumerate() {
                if exists
                    .query_row(params![id.as_str(), org.as_str()], |_| Ok(()))
                    .optional()?
                    .is_none()
                {
                    return Err(switchboard_domain::FieldError::new(format!("contactIds[{i}]"), "no contact with this id").into());
                }
            }
            let mut add = c.prepare_cached(
                "INSERT OR IGNORE INTO contact_list_members (list_id, contact_id, org_id, added_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let at = ms(now());
            let mut added = 0;
            for id in contacts.iter() {
                added += add.execute(params![list.as_str(), id.as_str(), org.as_str(), at])? as u64;
            }
            Ok(added)
        })
        .await
    }

    async fn list_members(&self, org: &OrgId, list: &ContactListId, page: Page) -> Result<(Vec<Contact>, u64)> {
        let (org, list) = (org.clone(), list.clone());
        self.read(move |c| {
            load_list(c, &org, list.as_str())?.ok_or(StoreError::NotFound("contact list"))?;
            let cond = "org_id = ?1 AND id IN (SELECT contact_id FROM contact_list_members WHERE list_id = ?2)";
            let total: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM contacts WHERE {cond}"))?
                .query_row(params![org.as_str(), list.as_str()], |r| r.get(0))?;
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {CONTACT_COLUMNS} FROM contacts WHERE {cond} ORDER BY id LIMIT ?3 OFFSET ?4"
                ))?
                .query_map(
                    params![org.as_str(), list.as_str(), page.limit, page.offset() as i64],
                    contact_from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn import_contacts(&self, org: &OrgId, list: Option<ContactListId>, contacts: Vec<Contact>) -> Result<ImportCounts> {
        let org = org.clone();
        let contacts = std::sync::Arc::new(contacts);
        self.write(move |c| {
            let mut counts = ImportCounts::default();
            let mut by_ext = c.prepare_cached("SELECT id FROM contacts WHERE org_id = ?1 AND external_id = ?2")?;
            let mut by_phone = c.prepare_cached("SELECT id FROM contacts WHERE org_id = ?1 AND phone = ?2 LIMIT 1")?;
            let mut insert = c.prepare_cached(static_sql!(
                "INSERT INTO contacts ({CONTACT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?;
            let mut member = c.prepare_cached(
                "INSERT OR IGNORE INTO contact_list_members (list_id, contact_id, org_id, added_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let at = ms(now());
            for contact in contacts.iter() {
                let found: Option<String> = match &contact.external_id {
                    Some(ext) => by_ext.query_row(params![org.as_str(), ext], |r| r.get(0)).optional()?,
                    None => None,
                };
                let found = match found {
                    Some(id) => Some(id),
                    None => by_phone
                        .query_row(params![org.as_str(), contact.phone.as_str()], |r| r.get(0))
                        .optional()?,
                };
                let id = match found {
                    Some(id) => {
                        counts.matched += 1;
                        id
                    }
                    None => {
                        insert.execute(params_from_iter(contact_values(contact)))?;
                        counts.created += 1;
                        contact.id.to_string()
                    }
                };
                if let Some(list) = &list {
                    member.execute(params![list.as_str(), id, org.as_str(), at])?;
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn finish_import(&self, org: &OrgId, data: Value) -> Result<()> {
        let org = org.clone();
        self.write(move |c| insert_events(c, &[DomainEvent::new(&org, "lead.imported", data, now())]))
            .await
    }

    async fn contacts_of_lists(&self, org: &OrgId, lists: &[ContactListId], after: Option<ContactId>, limit: u32) -> Result<Vec<Contact>> {
        let org = org.clone();
        let lists: Vec<String> = lists.iter().map(|l| l.to_string()).collect();
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        self.read(move |c| {
            let marks = vec!["?"; lists.len()].join(", ");
            let sql = format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE org_id = ? AND id IN \
                 (SELECT DISTINCT contact_id FROM contact_list_members WHERE list_id IN ({marks}) AND contact_id > ? ORDER BY contact_id LIMIT ?) \
                 ORDER BY id"
            );
            let mut args = vec![SqlValue::Text(org.to_string())];
            args.extend(lists.into_iter().map(SqlValue::Text));
            args.push(SqlValue::Text(after));
            args.push(SqlValue::Integer(i64::from(limit)));
            Ok(c.prepare(&sql)?
                .query_map(params_from_iter(args.iter()), contact_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn contacts_by_ids(&self, org: &OrgId, ids: &[ContactId]) -> Result<Vec<Contact>> {
        let org = org.clone();
        let ids: Vec<ContactId> = ids.to_vec();
        self.read(move |c| {
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(contact) = load_contact(c, &org, id.as_str())? {
                    out.push(contact);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn add_dnc(&self, org: &OrgId, entries: Vec<DncEntry>) -> Result<u64> {
        let org = org.clone();
        let entries = std::sync::Arc::new(entries);
        self.write(move |c| {
            let mut stmt = c.prepare_cached("INSERT OR IGNORE INTO dnc (org_id, phone, reason, created_at) VALUES (?1, ?2, ?3, ?4)")?;
            let mut added = 0;
            for e in entries.iter() {
                added += stmt.execute(params![org.as_str(), e.phone, e.reason, ms(e.created_at)])? as u64;
            }
            if added > 0 {
                let data = serde_json::json!({ "added": added });
                insert_events(c, &[DomainEvent::new(&org, "dnc.added", data, now())])?;
            }
            Ok(added)
        })
        .await
    }

    async fn remove_dnc(&self, org: &OrgId, phone: &str) -> Result<bool> {
        let (org, phone) = (org.clone(), phone.to_owned());
        self.write(move |c| {
            let n = c
                .prepare_cached("DELETE FROM dnc WHERE org_id = ?1 AND phone = ?2")?
                .execute(params![org.as_str(), phone])?;
            if n > 0 {
                let data = serde_json::json!({ "phone": phone });
                insert_events(c, &[DomainEvent::new(&org, "dnc.removed", data, now())])?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn list_dnc(&self, org: &OrgId, page: Page) -> Result<(Vec<DncEntry>, u64)> {
        let org = org.clone();
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM dnc WHERE org_id = ?1")?
                .query_row([org.as_str()], |r| r.get(0))?;
            let rows = c
                .prepare_cached("SELECT phone, reason, created_at FROM dnc WHERE org_id = ?1 ORDER BY phone LIMIT ?2 OFFSET ?3")?
                .query_map(params![org.as_str(), page.limit, page.offset() as i64], dnc_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn dnc_entry(&self, org: &OrgId, phone: &str) -> Result<Option<DncEntry>> {
        let (org, phone) = (org.clone(), phone.to_owned());
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT phone, reason, created_at FROM dnc WHERE org_id = ?1 AND phone = ?2")?
                    .query_row(params![org.as_str(), phone], dnc_from_row)
                    .optional()?,
            )
        })
        .await
    }

    async fn stage_campaign_contacts(&self, org: &OrgId, campaign: &CampaignId, rows: Vec<StagedContact>) -> Result<()> {
        let (org, campaign) = (org.clone(), campaign.clone());
        let rows = std::sync::Arc::new(rows);
        self.write(move |c| {
            let mut stmt = c.prepare_cached(
                "INSERT OR IGNORE INTO campaign_contacts (campaign_id, contact_id, org_id, phone, zone) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in rows.iter() {
                stmt.execute(params![campaign.as_str(), r.contact_id.as_str(), org.as_str(), r.phone, r.zone])?;
            }
            Ok(())
        })
        .await
    }

    async fn create_campaign(&self, mut k: Campaign, idem: Option<IdemKey>) -> Result<Campaign> {
        self.write(move |c| {
            k.total_contacts = c
                .prepare_cached("SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = ?1")?
                .query_row([k.id.as_str()], |r| r.get(0))?;
            insert_campaign(c, &k)?;
            c.prepare_cached(
                "UPDATE campaigns SET zones = (SELECT json_group_array(zone) FROM (SELECT DISTINCT zone FROM campaign_contacts WHERE campaign_id = ?1)) WHERE id = ?1",
            )?
            .execute([k.id.as_str()])?;
            c.prepare_cached("UPDATE templates SET usage_count = usage_count + 1 WHERE id = ?1 AND org_id = ?2")?
                .execute(params![k.template_id.as_str(), k.org_id.as_str()])?;
            insert_events(c, &[campaign_event("campaign.created", &k, k.created_at)])?;
            insert_idem(c, &k.org_id, &idem, &k)?;
            Ok(k)
        })
        .await
    }

    async fn get_campaign(&self, org: &OrgId, id: &CampaignId) -> Result<Campaign> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| load_campaign(c, &org, id.as_str())).await
    }

    async fn list_campaigns(&self, org: &OrgId, status: Option<CampaignStatus>, page: Page) -> Result<(Vec<Campaign>, u64)> {
        let mut cond = String::from("org_id = ?");
        let mut args = vec![SqlValue::Text(org.to_string())];
        if let Some(s) = status {
            cond.push_str(" AND status = ?");
            args.push(SqlValue::Text(s.as_str().into()));
        }
        self.read(move |c| {
            let total: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM campaigns WHERE {cond}"))?
                .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
            page_args(&mut args, page);
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE {cond} ORDER BY id DESC LIMIT ? OFFSET ?"
                ))?
                .query_map(params_from_iter(args.iter()), campaign_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total as u64))
        })
        .await
    }

    async fn campaign_stats(&self, org: &OrgId, id: &CampaignId) -> Result<CampaignStats> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| {
            let (total, done): (i64, i64) = c
                .prepare_cached(&format!(
                    "SELECT COUNT(*), COALESCE(SUM(state = {DONE}), 0) FROM campaign_contacts WHERE campaign_id = ?1 AND org_id = ?2"
                ))?
                .query_row(params![id.as_str(), org.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let (completed, successful, live): (i64, i64, i64) = c
                .prepare_cached(
                    "SELECT COALESCE(SUM(status IN ('completed','busy','no_answer','failed','canceled','voicemail')), 0), \
                     COALESCE(SUM(status = 'completed'), 0), \
                     COALESCE(SUM(status IN ('scheduled','queued','initiated','ringing','in_progress')), 0) \
                     FROM calls WHERE org_id = ?1 AND campaign_id = ?2",
                )?
                .query_row(params![org.as_str(), id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(CampaignStats {
                total_contacts: total,
                done_contacts: done,
                completed_calls: completed,
                successful_calls: successful,
                live_calls: live,
            })
        })
        .await
    }

    async fn set_campaign_status(
        &self,
        org: &OrgId,
        id: &CampaignId,
        action: CampaignAction,
        at: Timestamp,
        idem: Option<IdemKey>,
    ) -> Result<Campaign> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| {
            let mut k = load_campaign(c, &org, id.as_str())?;
            if let Some((to, event)) = k.status.apply(action)? {
                k.status = to;
                k.updated_at = at;
                if to == CampaignStatus::Active && k.started_at.is_none() {
                    k.started_at = Some(at);
                }
                if to == CampaignStatus::Cancelled {
                    k.completed_at = Some(at);
                }
                update_campaign(c, &k)?;
                insert_events(c, &[campaign_event(event, &k, at)])?;
            }
            insert_idem(c, &org, &idem, &k)?;
            Ok(k)
        })
        .await
    }

    async fn active_campaigns(&self) -> Result<Vec<(OrgId, CampaignId)>> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT org_id, id FROM campaigns WHERE status = 'active' ORDER BY id")?
                    .query_map([], |r| Ok((OrgId::from_trusted(r.get(0)?), CampaignId::from_trusted(r.get(1)?))))?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            )
        })
        .await
    }

    async fn dial(&self, org: &OrgId, id: &CampaignId, params: DialParams) -> Result<DialOutcome> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| super::dialer::dial(c, &org, &id, &params)).await
    }

    async fn live_campaign_calls(&self) -> Result<Vec<LiveCall>> {
        self.read(|c| {
            let sql = format!(
                "SELECT cl.org_id, cl.id, cl.external_id, cc.phone, cc.attempts, cc.zone, cl.status, cl.created_at \
                 FROM campaign_contacts cc JOIN calls cl ON cl.id = cc.last_call_id \
                 WHERE cc.state = {LIVE} AND cl.status IN ('queued','initiated','ringing','in_progress') \
                 UNION ALL SELECT cl.org_id, cl.id, cl.external_id, d.phone, 1, d.zone, cl.status, d.claimed_at \
                 FROM dial_requests d JOIN calls cl ON cl.id = d.call_id \
                 WHERE d.state = 1 AND cl.status IN ('queued','initiated','ringing','in_progress') ORDER BY 2"
            );
            Ok(c.prepare(&sql)?
                .query_map([], |r| {
                    let status: String = r.get(6)?;
                    Ok(LiveCall {
                        org_id: OrgId::from_trusted(r.get(0)?),
                        call_id: CallId::from_trusted(r.get(1)?),
                        external_id: r.get(2)?,
                        to: r.get(3)?,
                        attempt: r.get(4)?,
                        zone: r.get(5)?,
                        status: switchboard_domain::CallStatus::parse(&status).unwrap_or(switchboard_domain::CallStatus::Queued),
                        created_at: ts(r.get(7)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn set_call_external_id(&self, org: &OrgId, id: &CallId, external_id: &str) -> Result<()> {
        let (org, id, ext) = (org.clone(), id.clone(), external_id.to_owned());
        self.write(move |c| {
            let mut call = load_call(c, &org, id.as_str())?.ok_or(StoreError::NotFound("call"))?;
            if call.external_id.as_deref() == Some(ext.as_str()) {
                return Ok(());
            }
            call.external_id = Some(ext.clone());
            call.updated_at = now();
            update_call(c, &call)?;
            insert_events(c, &[DomainEvent::new(&org, "call.updated", call.event_data(), call.updated_at)])?;
            Ok(())
        })
        .await
    }
}
