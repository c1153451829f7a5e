//! SQLite rows of the campaign aggregate: templates, contact lists,
//! campaigns and do-not-call entries.

use rusqlite::{Connection, OptionalExtension, Row, params};
use switchboard_domain::campaign::{CallSettings, CampaignStatus, DncEntry, Schedule};
use switchboard_domain::template::Step;
use switchboard_domain::{Campaign, CampaignId, ContactList, ContactListId, OrgId, Template, TemplateId};

use super::rows::{json_text, ms, ts};
use crate::{Result, StoreError};

fn json_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

fn json_col<T: serde::de::DeserializeOwned>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    serde_json::from_str(&s).map_err(json_err)
}

pub(super) const TEMPLATE_COLUMNS: &str = "id, org_id, name, description, industry, steps, variables, usage_count, created_at, updated_at";

pub(super) fn template_from_row(r: &Row<'_>) -> rusqlite::Result<Template> {
    Ok(Template {
        id: TemplateId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        name: r.get(2)?,
        description: r.get(3)?,
        industry: r.get(4)?,
        steps: json_col::<Vec<Step>>(r, 5)?,
        variables: json_col(r, 6)?,
        usage_count: r.get(7)?,
        created_at: ts(r.get(8)?),
        updated_at: ts(r.get(9)?),
    })
}

pub(super) fn insert_template(c: &Connection, t: &Template) -> Result<()> {
    c.prepare_cached(&format!(
        "INSERT INTO templates ({TEMPLATE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?
    .execute(params![
        t.id.as_str(),
        t.org_id.as_str(),
        t.name,
        t.description,
        t.industry,
        serde_json::to_string(&t.steps)?,
        serde_json::to_string(&t.variables)?,
        t.usage_count,
        ms(t.created_at),
        ms(t.updated_at)
    ])?;
    Ok(())
}

pub(super) fn load_template(c: &Connection, org: &OrgId, id: &str) -> Result<Option<Template>> {
    Ok(
        c.prepare_cached(&format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE id = ?1 AND org_id = ?2"))?
            .query_row(params![id, org.as_str()], template_from_row)
            .optional()?,
    )
}

pub(super) const LIST_COLUMNS: &str = "id, org_id, name, description, created_at, updated_at, \
     (SELECT COUNT(*) FROM contact_list_members m WHERE m.list_id = contact_lists.id)";

pub(super) fn list_from_row(r: &Row<'_>) -> rusqlite::Result<ContactList> {
    Ok(ContactList {
        id: ContactListId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        name: r.get(2)?,
        description: r.get(3)?,
        created_at: ts(r.get(4)?),
        updated_at: ts(r.get(5)?),
        member_count: r.get(6)?,
    })
}

pub(super) fn load_list(c: &Connection, org: &OrgId, id: &str) -> Result<Option<ContactList>> {
    Ok(
        c.prepare_cached(&format!("SELECT {LIST_COLUMNS} FROM contact_lists WHERE id = ?1 AND org_id = ?2"))?
            .query_row(params![id, org.as_str()], list_from_row)
            .optional()?,
    )
}

pub(super) const CAMPAIGN_COLUMNS: &str = "id, org_id, name, description, status, template_id, schedule, settings, variables, \
     contact_list_ids, total_contacts, created_at, updated_at, started_at, last_run_at, completed_at";

pub(super) fn campaign_from_row(r: &Row<'_>) -> rusqlite::Result<Campaign> {
    let status: String = r.get(4)?;
    let variables: Option<String> = r.get(8)?;
    Ok(Campaign {
        id: CampaignId::from_trusted(r.get(0)?),
        org_id: OrgId::from_trusted(r.get(1)?),
        name: r.get(2)?,
        description: r.get(3)?,
        status: CampaignStatus::parse(&status).unwrap_or(CampaignStatus::Cancelled),
        template_id: TemplateId::from_trusted(r.get(5)?),
        schedule: json_col::<Schedule>(r, 6)?,
        settings: json_col::<CallSettings>(r, 7)?,
        variables: variables.map(|v| serde_json::from_str(&v)).transpose().map_err(json_err)?,
        contact_list_ids: json_col(r, 9)?,
        total_contacts: r.get(10)?,
        created_at: ts(r.get(11)?),
        updated_at: ts(r.get(12)?),
        started_at: r.get::<_, Option<i64>>(13)?.map(ts),
        last_run_at: r.get::<_, Option<i64>>(14)?.map(ts),
        completed_at: r.get::<_, Option<i64>>(15)?.map(ts),
    })
}

pub(super) fn insert_campaign(c: &Connection, k: &Campaign) -> Result<()> {
    c.prepare_cached(&format!(
        "INSERT INTO campaigns ({CAMPAIGN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    ))?
    .execute(params![
        k.id.as_str(),
        k.org_id.as_str(),
        k.name,
        k.description,
        k.status.as_str(),
        k.template_id.as_str(),
        serde_json::to_string(&k.schedule)?,
        serde_json::to_string(&k.settings)?,
        json_text(&k.variables),
        serde_json::to_string(&k.contact_list_ids)?,
        k.total_contacts,
        ms(k.created_at),
        ms(k.updated_at),
        k.started_at.map(ms),
        k.last_run_at.map(ms),
        k.completed_at.map(ms)
    ])
    .map_err(super::rows::conflict("a campaign with this id already exists"))?;
    Ok(())
}

/// Saves the fields a campaign changes after creation.
pub(super) fn update_campaign(c: &Connection, k: &Campaign) -> Result<()> {
    c.prepare_cached(
        "UPDATE campaigns SET status = ?3, updated_at = ?4, started_at = ?5, last_run_at = ?6, completed_at = ?7 WHERE id = ?1 AND org_id = ?2",
    )?
    .execute(params![
        k.id.as_str(),
        k.org_id.as_str(),
        k.status.as_str(),
        ms(k.updated_at),
        k.started_at.map(ms),
        k.last_run_at.map(ms),
        k.completed_at.map(ms)
    ])?;
    Ok(())
}

pub(super) fn load_campaign(c: &Connection, org: &OrgId, id: &str) -> Result<Campaign> {
    c.prepare_cached(&format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ?1 AND org_id = ?2"))?
        .query_row(params![id, org.as_str()], campaign_from_row)
        .optional()?
        .ok_or(StoreError::NotFound("campaign"))
}

pub(super) fn dnc_from_row(r: &Row<'_>) -> rusqlite::Result<DncEntry> {
    Ok(DncEntry {
        phone: r.get(0)?,
        reason: r.get(1)?,
        created_at: ts(r.get(2)?),
    })
}
