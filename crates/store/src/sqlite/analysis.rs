//! Call analyses, the analysis cursor, intelligence settings and intents
//! on SQLite (see [`crate::analysis`]). The single writer makes each claim
//! exclusive.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use switchboard_domain::{CallId, DomainEvent, OrgId, Timestamp};

use super::SqliteStore;
use super::rows::*;
use crate::analysis::{ANALYSIS_COMPLETE, AnalysisClaim, AnalysisStore, ClaimRow, Claimed, IntentRecord, StoredAnalysis, decide};
use crate::{Result, StoreError};

const CURSOR: &str = "analysis";

fn claim(c: &Connection, cl: &AnalysisClaim) -> Result<Claimed> {
    load_call(c, &cl.org, cl.call.as_str())?.ok_or(StoreError::NotFound("call"))?;
    let row = c
        .prepare_cached("SELECT state, fingerprint, owner, lease_until FROM call_analyses WHERE call_id = ?1")?
        .query_row([cl.call.as_str()], |r| {
            Ok(ClaimRow {
                state: r.get(0)?,
                fingerprint: r.get(1)?,
                owner: r.get(2)?,
                lease_until: r.get(3)?,
            })
        })
        .optional()?
        .unwrap_or(ClaimRow {
            state: "idle".into(),
            fingerprint: None,
            owner: None,
            lease_until: None,
        });
    let out = decide(&row, cl);
    if out == Claimed::Claimed {
        c.prepare_cached(
            "INSERT INTO call_analyses (call_id, org_id, state, fingerprint, owner, lease_until, updated_at) \
             VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6) \
             ON CONFLICT (call_id) DO UPDATE SET state = 'running', fingerprint = excluded.fingerprint, owner = excluded.owner, \
             lease_until = excluded.lease_until, updated_at = excluded.updated_at",
        )?
        .execute(params![
            cl.call.as_str(),
            cl.org.as_str(),
            cl.fingerprint,
            cl.owner,
            ms(cl.now + cl.lease),
            ms(cl.now)
        ])?;
    }
    Ok(out)
}

fn intent_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IntentRecord> {
    let examples: String = r.get(3)?;
    Ok(IntentRecord {
        id: r.get(0)?,
        org_id: OrgId::from_trusted(r.get(1)?),
        name: r.get(2)?,
        examples: serde_json::from_str(&examples).unwrap_or_default(),
        created_at: ts(r.get(4)?),
        updated_at: ts(r.get(5)?),
    })
}

const INTENT_COLUMNS: &str = "id, org_id, name, examples, created_at, updated_at";

fn load_intent(c: &Connection, org: &OrgId, id: &str) -> Result<IntentRecord> {
    c.prepare_cached(&format!("SELECT {INTENT_COLUMNS} FROM intents WHERE id = ?1 AND org_id = ?2"))?
        .query_row(params![id, org.as_str()], intent_from_row)
        .optional()?
        .ok_or(StoreError::NotFound("intent"))
}

const NAME_TAKEN: &str = "an intent with this name already exists";

// finish_analysis takes the claim, the result and its event in one call.
#[allow(clippy::too_many_arguments)]
#[async_trait]
impl AnalysisStore for SqliteStore {
    async fn claim_analysis(&self, cl: AnalysisClaim) -> Result<Claimed> {
        self.write(move |c| claim(c, &cl)).await
    }

    async fn finish_analysis(
        &self,
        org: &OrgId,
        call: &CallId,
        owner: &str,
        status: &str,
        result: Value,
        event: Value,
        now: Timestamp,
    ) -> Result<bool> {
        let (org, call, owner, status) = (org.clone(), call.clone(), owner.to_owned(), status.to_owned());
        self.write(move |c| {
            if load_call(c, &org, call.as_str())?.is_none() {
                return Ok(false);
            }
            let n = c
                .prepare_cached(
                    "UPDATE call_analyses SET state = 'done', status = ?4, result = ?5, lease_until = NULL, analysed_at = ?6, updated_at = ?6 \
                     WHERE call_id = ?1 AND org_id = ?2 AND owner = ?3 AND state = 'running'",
                )?
                .execute(params![call.as_str(), org.as_str(), owner, status, result.to_string(), ms(now)])?;
            if n == 0 {
                return Ok(false);
            }
            insert_events(c, &[DomainEvent::new(&org, ANALYSIS_COMPLETE, event.clone(), now)])?;
            Ok(true)
        })
        .await
    }

    async fn get_analysis(&self, org: &OrgId, call: &CallId) -> Result<Option<StoredAnalysis>> {
        let (org, call) = (org.clone(), call.clone());
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT state, result, analysed_at FROM call_analyses WHERE call_id = ?1 AND org_id = ?2")?
                    .query_row(params![call.as_str(), org.as_str()], |r| {
                        let state: String = r.get(0)?;
                        Ok(StoredAnalysis {
                            call_id: call.clone(),
                            org_id: org.clone(),
                            running: state == "running",
                            result: parse_json(r.get(1)?)?,
                            analysed_at: opt_ts(r.get(2)?),
                        })
                    })
                    .optional()?,
            )
        })
        .await
    }

    async fn expired_analyses(&self, now: Timestamp, limit: u32) -> Result<Vec<(OrgId, CallId)>> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT org_id, call_id FROM call_analyses WHERE state = 'running' AND lease_until < ?1 ORDER BY lease_until LIMIT ?2",
            )?
            .query_map(params![ms(now), limit], |r| {
                Ok((OrgId::from_trusted(r.get(0)?), CallId::from_trusted(r.get(1)?)))
            })?
            .collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn analysis_cursor(&self) -> Result<Option<i64>> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT seq FROM analysis_cursor WHERE name = ?1")?
                .query_row([CURSOR], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn save_analysis_cursor(&self, seq: i64) -> Result<()> {
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO analysis_cursor (name, seq) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            )?
            .execute(params![CURSOR, seq])?;
            Ok(())
        })
        .await
    }

    async fn intelligence_settings(&self, org: &OrgId) -> Result<Option<Value>> {
        let org = org.clone();
        self.read(move |c| {
            let text: Option<String> = c
                .prepare_cached("SELECT settings FROM org_intelligence WHERE org_id = ?1")?
                .query_row([org.as_str()], |r| r.get(0))
                .optional()?;
            Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
        })
        .await
    }

    async fn save_intelligence_settings(&self, org: &OrgId, settings: Value, now: Timestamp) -> Result<()> {
        let org = org.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO org_intelligence (org_id, settings, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (org_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
            )?
            .execute(params![org.as_str(), settings.to_string(), ms(now)])?;
            Ok(())
        })
        .await
    }

    async fn create_intent(&self, intent: IntentRecord) -> Result<IntentRecord> {
        self.write(move |c| {
            c.prepare_cached(&format!("INSERT INTO intents ({INTENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"))?
                .execute(params![
                    intent.id,
                    intent.org_id.as_str(),
                    intent.name,
                    serde_json::to_string(&intent.examples)?,
                    ms(intent.created_at),
                    ms(intent.updated_at)
                ])
                .map_err(conflict(NAME_TAKEN))?;
            Ok(IntentRecord {
                created_at: ts(ms(intent.created_at)),
                updated_at: ts(ms(intent.updated_at)),
                ..intent.clone()
            })
        })
        .await
    }

    async fn list_intents(&self, org: &OrgId) -> Result<Vec<IntentRecord>> {
        let org = org.clone();
        self.read(move |c| {
            Ok(
                c.prepare_cached(&format!("SELECT {INTENT_COLUMNS} FROM intents WHERE org_id = ?1 ORDER BY name"))?
                    .query_map([org.as_str()], intent_from_row)?
                    .collect::<rusqlite::Result<_>>()?,
            )
        })
        .await
    }

    async fn get_intent(&self, org: &OrgId, id: &str) -> Result<IntentRecord> {
        let (org, id) = (org.clone(), id.to_owned());
        self.read(move |c| load_intent(c, &org, &id)).await
    }

    async fn update_intent(&self, intent: IntentRecord) -> Result<IntentRecord> {
        self.write(move |c| {
            let before = load_intent(c, &intent.org_id, &intent.id)?;
            c.prepare_cached("UPDATE intents SET name = ?3, examples = ?4, updated_at = ?5 WHERE id = ?1 AND org_id = ?2")?
                .execute(params![
                    intent.id,
                    intent.org_id.as_str(),
                    intent.name,
                    serde_json::to_string(&intent.examples)?,
                    ms(intent.updated_at)
                ])
                .map_err(conflict(NAME_TAKEN))?;
            Ok(IntentRecord {
                created_at: before.created_at,
                updated_at: ts(ms(intent.updated_at)),
                ..intent.clone()
            })
        })
        .await
    }

    async fn delete_intent(&self, org: &OrgId, id: &str) -> Result<()> {
        let (org, id) = (org.clone(), id.to_owned());
        self.write(move |c| {
            let n = c
                .prepare_cached("DELETE FROM intents WHERE id = ?1 AND org_id = ?2")?
                .execute(params![id, org.as_str()])?;
            if n == 0 {
                return Err(StoreError::NotFound("intent"));
            }
            Ok(())
        })
        .await
    }
}
