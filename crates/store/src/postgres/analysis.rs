//! Call analyses, the analysis cursor, intelligence settings and intents
//! on PostgreSQL (see [`crate::analysis`]). A claim inserts the call's row
//! if it has none, then holds it (`FOR UPDATE`) while it decides, so
//! nodes claiming the same call at once take turns and exactly one wins.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchboard_domain::{CallId, DomainEvent, OrgId, Timestamp};

use super::PgStore;
use super::rows::*;
use crate::analysis::{ANALYSIS_COMPLETE, AnalysisClaim, AnalysisStore, ClaimRow, Claimed, IntentRecord, StoredAnalysis, decide};
use crate::{Result, StoreError};

const CURSOR: &str = "analysis";
const NAME_TAKEN: &str = "an intent with this name already exists";
const INTENT_COLUMNS: &str = "id, org_id, name, examples, created_at, updated_at";

fn millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

fn from_millis(v: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_millis(v).unwrap_or_default()
}

fn intent_from_row(r: &PgRow) -> Result<IntentRecord> {
    let examples: Value = r.try_get("examples")?;
    Ok(IntentRecord {
        id: r.try_get("id")?,
        org_id: OrgId::from_trusted(r.try_get("org_id")?),
        name: r.try_get("name")?,
        examples: serde_json::from_value(examples)?,
        created_at: from_millis(r.try_get("created_at")?),
        updated_at: from_millis(r.try_get("updated_at")?),
    })
}

async fn load_intent(c: &mut sqlx::PgConnection, org: &OrgId, id: &str) -> Result<IntentRecord> {
    let row = sqlx::query(&format!("SELECT {INTENT_COLUMNS} FROM intents WHERE id = $1 AND org_id = $2"))
        .bind(id)
        .bind(org.as_str())
        .fetch_optional(&mut *c)
        .await?
        .ok_or(StoreError::NotFound("intent"))?;
    intent_from_row(&row)
}

// finish_analysis takes the claim, the result and its event in one call.
#[allow(clippy::too_many_arguments)]
#[async_trait]
impl AnalysisStore for PgStore {
    #[tracing::instrument(skip_all)]
    async fn claim_analysis(&self, cl: AnalysisClaim) -> Result<Claimed> {
        let mut tx = self.begin().await?;
        load_call(&mut tx, &cl.org, cl.call.as_str(), Lock::None)
            .await?
            .ok_or(StoreError::NotFound("call"))?;
        sqlx::query(
            "INSERT INTO call_analyses (call_id, org_id, state, updated_at) VALUES ($1, $2, 'idle', $3) ON CONFLICT (call_id) DO NOTHING",
        )
        .bind(cl.call.as_str())
        .bind(cl.org.as_str())
        .bind(millis(cl.now))
        .execute(&mut *tx)
        .await?;
        let r = sqlx::query("SELECT state, fingerprint, owner, lease_until FROM call_analyses WHERE call_id = $1 FOR UPDATE")
            .bind(cl.call.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let row = ClaimRow {
            state: r.try_get("state")?,
            fingerprint: r.try_get("fingerprint")?,
            owner: r.try_get("owner")?,
            lease_until: r.try_get("lease_until")?,
        };
        let out = decide(&row, &cl);
        if out == Claimed::Claimed {
            sqlx::query(
                "UPDATE call_analyses SET state = 'running', fingerprint = $2, owner = $3, lease_until = $4, updated_at = $5 WHERE call_id = $1",
            )
            .bind(cl.call.as_str())
            .bind(&cl.fingerprint)
            .bind(&cl.owner)
            .bind(millis(cl.now + cl.lease))
            .bind(millis(cl.now))
            .execute(&mut *tx)
            .await?;
        }
        self.commit(tx, &[]).await?;
        Ok(out)
    }

    #[tracing::instrument(skip_all)]
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
        let mut tx = self.begin().await?;
        // The call's row lock orders this against the call's deletion.
        if load_call(&mut tx, org, call.as_str(), Lock::ForUpdate).await?.is_none() {
            return Ok(false);
        }
        let n = sqlx::query(
            "UPDATE call_analyses SET state = 'done', status = $4, result = $5, lease_until = NULL, analysed_at = $6, updated_at = $6 \
             WHERE call_id = $1 AND org_id = $2 AND owner = $3 AND state = 'running'",
        )
        .bind(call.as_str())
        .bind(org.as_str())
        .bind(owner)
        .bind(status)
        .bind(&result)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        self.commit(tx, &[DomainEvent::new(org, ANALYSIS_COMPLETE, event, now)]).await?;
        Ok(true)
    }

    #[tracing::instrument(skip_all)]
    async fn get_analysis(&self, org: &OrgId, call: &CallId) -> Result<Option<StoredAnalysis>> {
        let row = sqlx::query("SELECT state, result, analysed_at FROM call_analyses WHERE call_id = $1 AND org_id = $2")
            .bind(call.as_str())
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let state: String = r.try_get("state")?;
            Ok(StoredAnalysis {
                call_id: call.clone(),
                org_id: org.clone(),
                running: state == "running",
                result: r.try_get("result")?,
                analysed_at: r.try_get::<Option<i64>, _>("analysed_at")?.map(from_millis),
            })
        })
        .transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn expired_analyses(&self, now: Timestamp, limit: u32) -> Result<Vec<(OrgId, CallId)>> {
        let rows = sqlx::query(
            "SELECT org_id, call_id FROM call_analyses WHERE state = 'running' AND lease_until < $1 ORDER BY lease_until LIMIT $2",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    OrgId::from_trusted(r.try_get("org_id")?),
                    CallId::from_trusted(r.try_get("call_id")?),
                ))
            })
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn analysis_cursor(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT seq FROM analysis_cursor WHERE name = $1")
            .bind(CURSOR)
            .fetch_optional(&self.pool)
            .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn save_analysis_cursor(&self, seq: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO analysis_cursor (name, seq) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET seq = GREATEST(analysis_cursor.seq, excluded.seq)",
        )
        .bind(CURSOR)
        .bind(seq)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn intelligence_settings(&self, org: &OrgId) -> Result<Option<Value>> {
        Ok(sqlx::query_scalar("SELECT settings FROM org_intelligence WHERE org_id = $1")
            .bind(org.as_str())
            .fetch_optional(&self.pool)
            .await?)
    }

    #[tracing::instrument(skip_all)]
    async fn save_intelligence_settings(&self, org: &OrgId, settings: Value, now: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO org_intelligence (org_id, settings, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (org_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
        )
        .bind(org.as_str())
        .bind(&settings)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn create_intent(&self, intent: IntentRecord) -> Result<IntentRecord> {
        sqlx::query(&format!("INSERT INTO intents ({INTENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
            .bind(&intent.id)
            .bind(intent.org_id.as_str())
            .bind(&intent.name)
            .bind(serde_json::to_value(&intent.examples)?)
            .bind(millis(intent.created_at))
            .bind(millis(intent.updated_at))
            .execute(&self.pool)
            .await
            .map_err(conflict(NAME_TAKEN))?;
        Ok(IntentRecord {
            created_at: ms(intent.created_at),
            updated_at: ms(intent.updated_at),
            ..intent
        })
    }

    #[tracing::instrument(skip_all)]
    async fn list_intents(&self, org: &OrgId) -> Result<Vec<IntentRecord>> {
        let rows = sqlx::query(&format!("SELECT {INTENT_COLUMNS} FROM intents WHERE org_id = $1 ORDER BY name"))
            .bind(org.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(intent_from_row).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn get_intent(&self, org: &OrgId, id: &str) -> Result<IntentRecord> {
        let mut c = self.pool.acquire().await?;
        load_intent(&mut c, org, id).await
    }

    #[tracing::instrument(skip_all)]
    async fn update_intent(&self, intent: IntentRecord) -> Result<IntentRecord> {
        let mut tx = self.begin().await?;
        let before = load_intent(&mut tx, &intent.org_id, &intent.id).await?;
        sqlx::query("UPDATE intents SET name = $3, examples = $4, updated_at = $5 WHERE id = $1 AND org_id = $2")
            .bind(&intent.id)
            .bind(intent.org_id.as_str())
            .bind(&intent.name)
            .bind(serde_json::to_value(&intent.examples)?)
            .bind(millis(intent.updated_at))
            .execute(&mut *tx)
            .await
            .map_err(conflict(NAME_TAKEN))?;
        self.commit(tx, &[]).await?;
        Ok(IntentRecord {
            created_at: before.created_at,
            updated_at: ms(intent.updated_at),
            ..intent
        })
    }

    #[tracing::instrument(skip_all)]
    async fn delete_intent(&self, org: &OrgId, id: &str) -> Result<()> {
        let n = sqlx::query("DELETE FROM intents WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("intent"));
        }
        Ok(())
    }
}
