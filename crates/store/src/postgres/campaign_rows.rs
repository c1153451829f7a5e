//! PostgreSQL rows of the campaign aggregate: templates, contact lists,
//! campaigns and do-not-call entries.

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgConnection, Row};
use switchboard_domain::campaign::{CallSettings, CampaignStatus, DncEntry, Schedule};
use switchboard_domain::template::Step;
use switchboard_domain::{Campaign, CampaignId, ContactList, ContactListId, OrgId, Template, TemplateId};

use super::rows::{Lock, conflict, ms, row_in_org};
use crate::{Result, StoreError};

fn json<T: serde::de::DeserializeOwned>(r: &PgRow, col: &str) -> Result<T> {
    let v: Value = r.try_get(col)?;
    Ok(serde_json::from_value(v)?)
}

pub(super) const TEMPLATE_COLUMNS: &str = "id, org_id, name, description, industry, steps, variables, usage_count, created_at, updated_at";

pub(super) fn template_from_row(r: &PgRow) -> Result<Template> {
    Ok(Template {
        id: TemplateId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        industry: r.try_get("industry")?,
        steps: json::<Vec<Step>>(r, "steps")?,
        variables: json(r, "variables")?,
        usage_count: r.try_get("usage_count")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub(super) async fn insert_template(c: &mut PgConnection, t: &Template) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO templates ({TEMPLATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(t.id.as_str())
    .bind(t.org_id.as_str())
    .bind(&t.name)
    .bind(&t.description)
    .bind(&t.industry)
    .bind(Json(&t.steps))
    .bind(Json(&t.variables))
    .bind(t.usage_count)
    .bind(ms(t.created_at))
    .bind(ms(t.updated_at))
    .execute(c)
    .await?;
    Ok(())
}

pub(super) const LIST_COLUMNS: &str = "id, org_id, name, description, created_at, updated_at, \
     (SELECT COUNT(*) FROM contact_list_members m WHERE m.list_id = contact_lists.id) AS member_count";

pub(super) fn list_from_row(r: &PgRow) -> Result<ContactList> {
    Ok(ContactList {
        id: ContactListId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        member_count: r.try_get("member_count")?,
    })
}

pub(super) async fn load_list(c: &mut PgConnection, org: &OrgId, id: &str) -> Result<ContactList> {
    row_in_org(c, ("contact_lists", LIST_COLUMNS), org, id, Lock::None, list_from_row)
        .await?
        .ok_or(StoreError::NotFound("contact list"))
}

pub(super) const CAMPAIGN_COLUMNS: &str = "id, org_id, name, description, status, template_id, schedule, settings, variables, \
     contact_list_ids, total_contacts, created_at, updated_at, started_at, last_run_at, completed_at";

pub(super) fn campaign_from_row(r: &PgRow) -> Result<Campaign> {
    let status: String = r.try_get("status")?;
    Ok(Campaign {
        id: CampaignId::from_trusted(r.try_get("id")?),
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        status: CampaignStatus::parse(&status).unwrap_or(CampaignStatus::Cancelled),
        template_id: TemplateId::from_trusted(r.try_get("template_id")?),
        schedule: json::<Schedule>(r, "schedule")?,
        settings: json::<CallSettings>(r, "settings")?,
        variables: r.try_get("variables")?,
        contact_list_ids: json(r, "contact_list_ids")?,
        total_contacts: r.try_get("total_contacts")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        started_at: r.try_get("started_at")?,
        last_run_at: r.try_get("last_run_at")?,
        completed_at: r.try_get("completed_at")?,
    })
}

pub(super) async fn insert_campaign(c: &mut PgConnection, k: &Campaign) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO campaigns ({CAMPAIGN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(k.id.as_str())
    .bind(k.org_id.as_str())
    .bind(&k.name)
    .bind(&k.description)
    .bind(k.status.as_str())
    .bind(k.template_id.as_str())
    .bind(Json(&k.schedule))
    .bind(Json(&k.settings))
    .bind(k.variables.as_ref())
    .bind(Json(&k.contact_list_ids))
    .bind(k.total_contacts)
    .bind(ms(k.created_at))
    .bind(ms(k.updated_at))
    .bind(k.started_at.map(ms))
    .bind(k.last_run_at.map(ms))
    .bind(k.completed_at.map(ms))
    .execute(c)
    .await
    .map_err(conflict("a campaign with this id already exists"))?;
    Ok(())
}

pub(super) async fn update_campaign(c: &mut PgConnection, k: &Campaign) -> Result<()> {
    sqlx::query(
        "UPDATE campaigns SET status = $3, updated_at = $4, started_at = $5, last_run_at = $6, completed_at = $7 WHERE id = $1 AND org_id IS NOT DISTINCT FROM $2",
    )
    .bind(k.id.as_str())
    .bind(k.org_id.as_str())
    .bind(k.status.as_str())
    .bind(ms(k.updated_at))
    .bind(k.started_at.map(ms))
    .bind(k.last_run_at.map(ms))
    .bind(k.completed_at.map(ms))
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn load_campaign(c: &mut PgConnection, org: &OrgId, id: &str, lock: Lock) -> Result<Campaign> {
    row_in_org(c, ("campaigns", CAMPAIGN_COLUMNS), org, id, lock, campaign_from_row)
        .await?
        .ok_or(StoreError::NotFound("campaign"))
}

pub(super) fn dnc_from_row(r: &PgRow) -> Result<DncEntry> {
    Ok(DncEntry {
        phone: r.try_get("phone")?,
        reason: r.try_get("reason")?,
        created_at: r.try_get("created_at")?,
    })
}
