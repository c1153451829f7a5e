//! The campaign store on PostgreSQL: templates, contact lists, imports, the
//! do-not-call list and campaigns. The dialer's pass is in `dialer.rs`.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder, Row};
use switchboard_domain::campaign::{CampaignAction, DncEntry};
use switchboard_domain::{
    CallId, CallStatus, Campaign, CampaignId, CampaignStatus, Contact, ContactId, ContactList, ContactListId, DomainEvent, OrgId, Template,
    TemplateId, Timestamp,
};

use super::PgStore;
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

fn lim(page: Page) -> (i64, i64) {
    (i64::from(page.limit), i64::try_from(page.offset()).unwrap_or(i64::MAX))
}

#[async_trait]
impl CampaignStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn create_template(&self, t: Template, idem: Option<IdemKey>) -> Result<Template> {
        let mut tx = self.begin().await?;
        insert_template(&mut tx, &t).await?;
        insert_idem(&mut tx, &t.org_id, &idem, &t).await?;
        let data = serde_json::json!({ "templateId": t.id, "name": t.name });
        self.commit(tx, &[DomainEvent::new(&t.org_id, "template.created", data, t.created_at)])
            .await?;
        Ok(t)
    }

    #[tracing::instrument(skip_all)]
    async fn get_template(&self, org: &OrgId, id: &TemplateId) -> Result<Template> {
        row_in_org(
            &self.pool,
            ("templates", TEMPLATE_COLUMNS),
            org,
            id.as_str(),
            Lock::None,
            template_from_row,
        )
        .await?
        .ok_or(StoreError::NotFound("template"))
    }

    #[tracing::instrument(skip_all)]
    async fn list_templates(&self, org: &OrgId, filter: &TemplateFilter, page: Page) -> Result<(Vec<Template>, u64)> {
        let pattern = filter.search.as_deref().map(like);
        let push_where = |q: &mut QueryBuilder<'_, Postgres>| {
            q.push(" WHERE org_id = ").push_bind(org.as_str().to_owned());
            if let Some(i) = &filter.industry {
                q.push(" AND lower(industry) = lower(").push_bind(i.clone()).push(")");
            }
            if let Some(p) = &pattern {
                q.push(" AND (name ILIKE ")
                    .push_bind(p.clone())
                    .push(" OR description ILIKE ")
                    .push_bind(p.clone())
                    .push(")");
            }
        };
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM templates");
        push_where(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut select = QueryBuilder::new(format!("SELECT {TEMPLATE_COLUMNS} FROM templates"));
        push_where(&mut select);
        let (limit, offset) = lim(page);
        select
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
        let rows = select.build().fetch_all(&self.pool).await?;
        Ok((rows.iter().map(template_from_row).collect::<Result<_>>()?, total as u64))
    }

    #[tracing::instrument(skip_all)]
    async fn use_template(&self, org: &OrgId, id: &TemplateId) -> Result<()> {
        sqlx::query("UPDATE templates SET usage_count = usage_count + 1 WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2")
            .bind(id.as_str())
            .bind(org.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn create_contact_list(&self, list: ContactList, idem: Option<IdemKey>) -> Result<ContactList> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO contact_lists (id, org_id, name, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(list.id.as_str())
            .bind(list.org_id.as_str())
            .bind(&list.name)
            .bind(&list.description)
            .bind(ms(list.created_at))
            .bind(ms(list.updated_at))
            .execute(&mut *tx)
            .await?;
        insert_idem(&mut tx, &list.org_id, &idem, &list).await?;
        let data = serde_json::json!({ "contactListId": list.id, "name": list.name });
        self.commit(tx, &[DomainEvent::new(&list.org_id, "contact_list.created", data, list.created_at)])
            .await?;
        Ok(list)
    }

    #[tracing::instrument(skip_all)]
    async fn get_contact_list(&self, org: &OrgId, id: &ContactListId) -> Result<ContactList> {
        let mut c = self.pool.acquire().await?;
        load_list(&mut c, org, id.as_str()).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_contact_lists(&self, org: &OrgId, page: Page) -> Result<(Vec<ContactList>, u64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contact_lists WHERE org_id = $1")
            .bind(org.as_str())
            .fetch_one(&self.pool)
            .await?;
        let (limit, offset) = lim(page);
        let rows = sqlx::query(&format!(
            "SELECT {LIST_COLUMNS} FROM contact_lists WHERE org_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(org.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.iter().map(list_from_row).collect::<Result<_>>()?, total as u64))
    }

    #[tracing::instrument(skip_all)]
    async fn add_list_members(&self, org: &OrgId, list: &ContactListId, contacts: Vec<ContactId>) -> Result<u64> {
        let mut tx = self.begin().await?;
        load_list(&mut tx, org, list.as_str()).await?;
        let ids: Vec<&str> = contacts.iter().map(ContactId::as_str).collect();
        let known: Vec<String> = sqlx::query_scalar("SELECT id FROM contacts WHERE org_id = $1 AND id = ANY($2)")
            .bind(org.as_str())
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
        if let Some(i) = ids.iter().position(|id| !known.iter().any(|k| k == id)) {
            return Err(switchboard_domain::FieldError::new(format!("contactIds[{i}]"), "no contact with this id").into());
        }
        let added = sqlx::query(
            "INSERT INTO contact_list_members (list_id, contact_id, org_id, added_at) \
             SELECT $1, unnest($2::text[]), $3, $4 ON CONFLICT DO NOTHING",
        )
        .bind(list.as_str())
        .bind(&ids)
        .bind(org.as_str())
        .bind(ms(now()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.commit(tx, &[]).await?;
        Ok(added)
    }

    #[tracing::instrument(skip_all)]
    async fn list_members(&self, org: &OrgId, list: &ContactListId, page: Page) -> Result<(Vec<Contact>, u64)> {
        let mut c = self.pool.acquire().await?;
        load_list(&mut c, org, list.as_str()).await?;
        let cond = "org_id = $1 AND id IN (SELECT contact_id FROM contact_list_members WHERE list_id = $2)";
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM contacts WHERE {cond}"))
            .bind(org.as_str())
            .bind(list.as_str())
            .fetch_one(&mut *c)
            .await?;
        let (limit, offset) = lim(page);
        let rows = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE {cond} ORDER BY id LIMIT $3 OFFSET $4"
        ))
        .bind(org.as_str())
        .bind(list.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *c)
        .await?;
        Ok((rows.iter().map(contact_from_row).collect::<Result<_>>()?, total as u64))
    }

    /// Set-based: two lookups for the batch's known external ids and
    /// numbers, one multi-row insert of the new contacts, one of the list
    /// memberships. Rows match, in order, a contact with their external id,
    /// else one with their number (earlier rows of the batch included).
    #[tracing::instrument(skip_all)]
    async fn import_contacts(&self, org: &OrgId, list: Option<ContactListId>, contacts: Vec<Contact>) -> Result<ImportCounts> {
        let mut tx = self.begin().await?;
        let exts: Vec<&str> = contacts.iter().filter_map(|c| c.external_id.as_deref()).collect();
        let phones: Vec<&str> = contacts.iter().map(|c| c.phone.as_str()).collect();
        let mut by_ext: HashMap<String, String> =
            sqlx::query_as::<_, (String, String)>("SELECT external_id, id FROM contacts WHERE org_id = $1 AND external_id = ANY($2)")
                .bind(org.as_str())
                .bind(&exts)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        let mut by_phone: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(
            "SELECT DISTINCT ON (phone) phone, id FROM contacts WHERE org_id = $1 AND phone = ANY($2) ORDER BY phone, id",
        )
        .bind(org.as_str())
        .bind(&phones)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut counts = ImportCounts::default();
        let mut fresh: Vec<&Contact> = Vec::new();
        let mut members: Vec<String> = Vec::with_capacity(contacts.len());
        for c in &contacts {
            let found = c
                .external_id
                .as_ref()
                .and_then(|e| by_ext.get(e))
                .or_else(|| by_phone.get(c.phone.as_str()))
                .cloned();
            let id = match found {
                Some(id) => {
                    counts.matched += 1;
                    id
                }
                None => {
                    counts.created += 1;
                    let id = c.id.to_string();
                    if let Some(e) = &c.external_id {
                        by_ext.insert(e.clone(), id.clone());
                    }
                    by_phone.entry(c.phone.to_string()).or_insert_with(|| id.clone());
                    fresh.push(c);
                    id
                }
            };
            members.push(id);
        }
        if !fresh.is_empty() {
            let col = |f: fn(&Contact) -> Option<String>| fresh.iter().map(|c| f(c)).collect::<Vec<Option<String>>>();
            sqlx::query(&format!(
                "INSERT INTO contacts ({CONTACT_COLUMNS}) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                 $6::text[], $7::jsonb[], $8::jsonb[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[])"
            ))
            .bind(col(|c| Some(c.id.to_string())))
            .bind(col(|c| Some(c.org_id.to_string())))
            .bind(col(|c| c.name.clone()))
            .bind(col(|c| Some(c.phone.to_string())))
            .bind(col(|c| c.email.clone()))
            .bind(col(|c| c.company.clone()))
            .bind(fresh.iter().map(|c| serde_json::json!(c.tags)).collect::<Vec<Value>>())
            .bind(fresh.iter().map(|c| c.custom_fields.clone()).collect::<Vec<Option<Value>>>())
            .bind(col(|c| c.external_id.clone()))
            .bind(col(|c| c.time_zone.map(|t| t.name().to_owned())))
            .bind(fresh.iter().map(|c| ms(c.created_at)).collect::<Vec<_>>())
            .bind(fresh.iter().map(|c| ms(c.updated_at)).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .map_err(conflict("a contact with this externalId already exists"))?;
        }
        if let Some(list) = &list {
            sqlx::query(
                "INSERT INTO contact_list_members (list_id, contact_id, org_id, added_at) \
                 SELECT $1, unnest($2::text[]), $3, $4 ON CONFLICT DO NOTHING",
            )
            .bind(list.as_str())
            .bind(&members)
            .bind(org.as_str())
            .bind(ms(now()))
            .execute(&mut *tx)
            .await?;
        }
        self.commit(tx, &[]).await?;
        Ok(counts)
    }

    #[tracing::instrument(skip_all)]
    async fn finish_import(&self, org: &OrgId, data: Value) -> Result<()> {
        let tx = self.begin().await?;
        self.commit(tx, &[DomainEvent::new(org, "lead.imported", data, now())]).await
    }

    #[tracing::instrument(skip_all)]
    async fn contacts_of_lists(&self, org: &OrgId, lists: &[ContactListId], after: Option<ContactId>, limit: u32) -> Result<Vec<Contact>> {
        let lists: Vec<&str> = lists.iter().map(ContactListId::as_str).collect();
        let after = after.as_ref().map_or("", ContactId::as_str);
        let rows = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE org_id = $1 AND id IN \
             (SELECT DISTINCT contact_id FROM contact_list_members WHERE list_id = ANY($2) AND contact_id > $3 ORDER BY contact_id LIMIT $4) \
             ORDER BY id"
        ))
        .bind(org.as_str())
        .bind(&lists)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(contact_from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn contacts_by_ids(&self, org: &OrgId, ids: &[ContactId]) -> Result<Vec<Contact>> {
        let ids: Vec<&str> = ids.iter().map(ContactId::as_str).collect();
        let rows = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE org_id = $1 AND id = ANY($2)"
        ))
        .bind(org.as_str())
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(contact_from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn add_dnc(&self, org: &OrgId, entries: Vec<DncEntry>) -> Result<u64> {
        let mut tx = self.begin().await?;
        let mut added = 0;
        for e in &entries {
            added += sqlx::query("INSERT INTO dnc (org_id, phone, reason, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                .bind(org.as_str())
                .bind(&e.phone)
                .bind(&e.reason)
                .bind(ms(e.created_at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        let events = if added > 0 {
            vec![DomainEvent::new(org, "dnc.added", serde_json::json!({ "added": added }), now())]
        } else {
            vec![]
        };
        self.commit(tx, &events).await?;
        Ok(added)
    }

    #[tracing::instrument(skip_all)]
    async fn remove_dnc(&self, org: &OrgId, phone: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM dnc WHERE org_id = $1 AND phone = $2")
            .bind(org.as_str())
            .bind(phone)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let events = if n > 0 {
            vec![DomainEvent::new(org, "dnc.removed", serde_json::json!({ "phone": phone }), now())]
        } else {
            vec![]
        };
        self.commit(tx, &events).await?;
        Ok(n > 0)
    }

    #[tracing::instrument(skip_all)]
    async fn list_dnc(&self, org: &OrgId, page: Page) -> Result<(Vec<DncEntry>, u64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dnc WHERE org_id = $1")
            .bind(org.as_str())
            .fetch_one(&self.pool)
            .await?;
        let (limit, offset) = lim(page);
        let rows = sqlx::query("SELECT phone, reason, created_at FROM dnc WHERE org_id = $1 ORDER BY phone LIMIT $2 OFFSET $3")
            .bind(org.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        Ok((rows.iter().map(dnc_from_row).collect::<Result<_>>()?, total as u64))
    }

    async fn dnc_entry(&self, org: &OrgId, phone: &str) -> Result<Option<DncEntry>> {
        let row = sqlx::query("SELECT phone, reason, created_at FROM dnc WHERE org_id = $1 AND phone = $2")
            .bind(org.as_str())
            .bind(phone)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(dnc_from_row).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn stage_campaign_contacts(&self, org: &OrgId, campaign: &CampaignId, rows: Vec<StagedContact>) -> Result<()> {
        let ids: Vec<&str> = rows.iter().map(|r| r.contact_id.as_str()).collect();
        let phones: Vec<&str> = rows.iter().map(|r| r.phone.as_str()).collect();
        let zones: Vec<&str> = rows.iter().map(|r| r.zone.as_str()).collect();
        sqlx::query(
            "INSERT INTO campaign_contacts (campaign_id, contact_id, org_id, phone, zone) \
             SELECT $1, c, $2, p, z FROM unnest($3::text[], $4::text[], $5::text[]) AS t(c, p, z) ON CONFLICT DO NOTHING",
        )
        .bind(campaign.as_str())
        .bind(org.as_str())
        .bind(&ids)
        .bind(&phones)
        .bind(&zones)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn create_campaign(&self, mut k: Campaign, idem: Option<IdemKey>) -> Result<Campaign> {
        let mut tx = self.begin().await?;
        k.total_contacts = sqlx::query_scalar("SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = $1")
            .bind(k.id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        insert_campaign(&mut tx, &k).await?;
        sqlx::query(
            "UPDATE campaigns SET zones = (SELECT COALESCE(jsonb_agg(DISTINCT zone), '[]'::jsonb) FROM campaign_contacts WHERE campaign_id = $1) WHERE id = $1",
        )
        .bind(k.id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE templates SET usage_count = usage_count + 1 WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2")
            .bind(k.template_id.as_str())
            .bind(k.org_id.as_str())
            .execute(&mut *tx)
            .await?;
        insert_idem(&mut tx, &k.org_id, &idem, &k).await?;
        self.commit(tx, &[campaign_event("campaign.created", &k, k.created_at)]).await?;
        Ok(k)
    }

    #[tracing::instrument(skip_all)]
    async fn get_campaign(&self, org: &OrgId, id: &CampaignId) -> Result<Campaign> {
        let mut c = self.pool.acquire().await?;
        load_campaign(&mut c, org, id.as_str(), Lock::None).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_campaigns(&self, org: &OrgId, status: Option<CampaignStatus>, page: Page) -> Result<(Vec<Campaign>, u64)> {
        let status = status.map(|s| s.as_str());
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM campaigns WHERE org_id = $1 AND ($2::text IS NULL OR status = $2)")
            .bind(org.as_str())
            .bind(status)
            .fetch_one(&self.pool)
            .await?;
        let (limit, offset) = lim(page);
        let rows = sqlx::query(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE org_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(org.as_str())
        .bind(status)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.iter().map(campaign_from_row).collect::<Result<_>>()?, total as u64))
    }

    #[tracing::instrument(skip_all)]
    async fn campaign_stats(&self, org: &OrgId, id: &CampaignId) -> Result<CampaignStats> {
        let r = sqlx::query(&format!(
            "SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE state = {DONE}) AS done FROM campaign_contacts WHERE campaign_id = $1 AND org_id = $2"
        ))
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_one(&self.pool)
        .await?;
        let k = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE status IN ('completed','busy','no_answer','failed','canceled','voicemail')) AS completed, \
             COUNT(*) FILTER (WHERE status = 'completed') AS successful, \
             COUNT(*) FILTER (WHERE status IN ('scheduled','queued','initiated','ringing','in_progress')) AS live \
             FROM calls WHERE org_id = $1 AND campaign_id = $2",
        )
        .bind(org.as_str())
        .bind(id.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(CampaignStats {
            total_contacts: r.try_get("total")?,
            done_contacts: r.try_get("done")?,
            completed_calls: k.try_get("completed")?,
            successful_calls: k.try_get("successful")?,
            live_calls: k.try_get("live")?,
        })
    }

    #[tracing::instrument(skip_all)]
    async fn set_campaign_status(
        &self,
        org: &OrgId,
        id: &CampaignId,
        action: CampaignAction,
        at: Timestamp,
        idem: Option<IdemKey>,
    ) -> Result<Campaign> {
        let mut tx = self.begin().await?;
        let mut k = load_campaign(&mut tx, org, id.as_str(), Lock::ForUpdate).await?;
        let mut events = Vec::new();
        if let Some((to, event)) = k.status.apply(action)? {
            k.status = to;
            k.updated_at = at;
            if to == CampaignStatus::Active && k.started_at.is_none() {
                k.started_at = Some(at);
            }
            if to == CampaignStatus::Cancelled {
                k.completed_at = Some(at);
            }
            update_campaign(&mut tx, &k).await?;
            events.push(campaign_event(event, &k, at));
        }
        insert_idem(&mut tx, org, &idem, &k).await?;
        self.commit(tx, &events).await?;
        Ok(k)
    }

    #[tracing::instrument(skip_all)]
    async fn active_campaigns(&self) -> Result<Vec<(OrgId, CampaignId)>> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT org_id, id FROM campaigns WHERE status = 'active' ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(o, c)| (OrgId::from_trusted(o), CampaignId::from_trusted(c)))
            .collect())
    }

    #[tracing::instrument(skip_all)]
    async fn dial(&self, org: &OrgId, id: &CampaignId, params: DialParams) -> Result<DialOutcome> {
        super::dialer::dial(self, org, id, &params).await
    }

    #[tracing::instrument(skip_all)]
    async fn live_campaign_calls(&self) -> Result<Vec<LiveCall>> {
        let rows = sqlx::query(&format!(
            "SELECT cl.org_id, cl.id, cl.external_id, cc.phone, cc.attempts, cc.zone, cl.status, cl.created_at \
             FROM campaign_contacts cc JOIN calls cl ON cl.id = cc.last_call_id \
             WHERE cc.state = {LIVE} AND cl.status IN ('queued','initiated','ringing','in_progress') \
             UNION ALL SELECT cl.org_id, cl.id, cl.external_id, d.phone, 1, d.zone, cl.status, to_timestamp(d.claimed_at / 1000.0) \
             FROM dial_requests d JOIN calls cl ON cl.id = d.call_id \
             WHERE d.state = 1 AND cl.status IN ('queued','initiated','ringing','in_progress') ORDER BY 2"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                Ok(LiveCall {
                    org_id: OrgId::from_trusted(r.try_get("org_id")?),
                    call_id: CallId::from_trusted(r.try_get("id")?),
                    external_id: r.try_get("external_id")?,
                    to: r.try_get("phone")?,
                    attempt: r.try_get::<i32, _>("attempts")? as u32,
                    zone: r.try_get("zone")?,
                    status: CallStatus::parse(&status).unwrap_or(CallStatus::Queued),
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn set_call_external_id(&self, org: &OrgId, id: &CallId, external_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut call = load_call(&mut tx, org, id.as_str(), Lock::ForUpdate)
            .await?
            .ok_or(StoreError::NotFound("call"))?;
        if call.external_id.as_deref() == Some(external_id) {
            return Ok(());
        }
        call.external_id = Some(external_id.to_owned());
        call.updated_at = now();
        update_call(&mut tx, &call).await?;
        let event = DomainEvent::new(org, "call.updated", call.event_data(), call.updated_at);
        self.commit(tx, &[event]).await
    }
}
