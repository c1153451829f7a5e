//! Streaming CSV import of contacts (the leads upload): the body is read
//! chunk by chunk, parsed on a blocking thread, checked row by row and
//! stored in batches, so a million-row file needs no more memory than a
//! few batches. Rows that fail a check are reported with their line
//! number and reason; the others are stored.
//!
//! The column mapping names, for each contact field, the CSV column it
//! comes from (`{"phone": "phone_number", "name": "full_name"}`, as the
//! Vocelio leads upload); without one, columns named like the fields are used.

use std::collections::HashMap;
use std::io::Read;

use axum::body::{Body, Bytes};
use futures::StreamExt;
use serde::Serialize;
use switchboard_domain::{Contact, ContactId, ContactListId, Organisation, PhoneNumber, TimeZone};
use tokio::sync::mpsc;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;

/// Rows stored per transaction.
const BATCH: usize = 1_000;
/// Rejected rows listed in the answer (all are counted).
const MAX_LISTED_ERRORS: usize = 1_000;

/// Contact fields a column can map to (`customFields.<name>` too).
pub const FIELDS: [&str; 9] = [
    "phone",
    "name",
    "firstName",
    "lastName",
    "email",
    "company",
    "tags",
    "externalId",
    "timeZone",
];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// Line in the file (the header is line 1).
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub reason: String,
}

#[derive(Debug, Default, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportOut {
    /// Data rows read.
    pub total_rows: u64,
    /// Rows stored as new contacts.
    pub imported: u64,
    /// Rows whose number (or externalId) matched an existing contact, which joined the list.
    pub matched: u64,
    pub rejected: u64,
    /// The first rejected rows, with reasons.
    pub errors: Vec<RowError>,
    /// The file went past the row or size limit; rows after it were not read.
    pub truncated: bool,
}

/// Reads the mapping parameter: contact field → column name.
pub fn parse_mapping(raw: Option<&str>) -> Result<Option<HashMap<String, String>>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let map: HashMap<String, String> =
        serde_json::from_str(raw).map_err(|_| ApiError::field("mapping", "must be a JSON object of field name to column name"))?;
    for k in map.keys() {
        if !FIELDS.contains(&k.as_str()) && k.strip_prefix("customFields.").is_none_or(|n| n.is_empty()) {
            return Err(ApiError::field(
                format!("mapping.{k}"),
                "is not a contact field (phone, name, firstName, lastName, email, company, tags, externalId, timeZone, customFields.<name>)",
            ));
        }
    }
    Ok(Some(map))
}

/// The column index of each mapped field, from the header.
fn columns(header: &csv::StringRecord, mapping: &Option<HashMap<String, String>>) -> Result<Vec<(String, usize)>, ApiError> {
    let find = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name.trim()));
    let mut out = Vec::new();
    match mapping {
        Some(m) => {
            for (field, col) in m {
                let i = find(col)
                    .ok_or_else(|| ApiError::field(format!("mapping.{field}"), format!("column '{col}' is not in the CSV header")))?;
                out.push((field.clone(), i));
            }
        }
        None => {
            for f in FIELDS {
                if let Some(i) = find(f) {
                    out.push((f.to_owned(), i));
                }
            }
        }
    }
    if !out.iter().any(|(f, _)| f == "phone") {
        return Err(ApiError::field(
            "mapping.phone",
            "the file needs a phone column (map one with mapping={\"phone\":\"<column>\"})",
        ));
    }
    Ok(out)
}

/// Builds a contact from one row, or says why the row is refused.
fn contact(org: &Organisation, record: &csv::StringRecord, cols: &[(String, usize)]) -> Result<Contact, (Option<String>, String)> {
    let get = |f: &str| {
        cols.iter()
            .find(|(k, _)| k == f)
            .and_then(|(_, i)| record.get(*i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let bad = |f: &str, e: switchboard_domain::FieldError| (Some(f.to_owned()), e.reason);
    let phone = get("phone").ok_or((Some("phone".to_owned()), "is required".to_owned()))?;
    let phone = PhoneNumber::parse("phone", phone, org.region(), org.phone_strictness).map_err(|e| bad("phone", e))?;
    let text = |f: &str| -> Result<Option<String>, (Option<String>, String)> {
        get(f)
            .map(|v| switchboard_domain::validate::text(f, v, switchboard_domain::validate::MAX_SHORT_TEXT))
            .transpose()
            .map_err(|e| bad(f, e))
    };
    let name = match text("name")? {
        Some(n) => Some(n),
        None => {
            let parts: Vec<String> = [text("firstName")?, text("lastName")?].into_iter().flatten().collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        }
    };
    let email = get("email")
        .map(|v| switchboard_domain::validate::email("email", v))
        .transpose()
        .map_err(|e| bad("email", e))?;
    let time_zone = get("timeZone")
        .map(|v| TimeZone::parse("timeZone", v))
        .transpose()
        .map_err(|e| bad("timeZone", e))?;
    let tags: Vec<String> = get("tags")
        .map(|t| {
            t.split([';', ',', '|'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let tags = switchboard_domain::validate::labels("tags", &tags).map_err(|e| bad("tags", e))?;
    let mut custom = serde_json::Map::new();
    for (f, i) in cols {
        if let Some(name) = f.strip_prefix("customFields.")
            && let Some(v) = record.get(*i).map(str::trim).filter(|v| !v.is_empty())
        {
            custom.insert(name.to_owned(), v.into());
        }
    }
    let now = switchboard_domain::now();
    Ok(Contact {
        id: ContactId::new(),
        org_id: org.id.clone(),
        name,
        phone,
        email,
        company: text("company")?,
        tags,
        custom_fields: (!custom.is_empty()).then_some(serde_json::Value::Object(custom)),
        external_id: text("externalId")?,
        time_zone,
        created_at: now,
        updated_at: now,
    })
}

/// A blocking reader over body chunks arriving on a channel.
struct ChunkReader {
    rx: mpsc::Receiver<Bytes>,
    buf: Bytes,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.buf = b,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

enum Msg {
    /// The header was read (or refused).
    Header(Result<(), ApiError>),
    Batch(Vec<Contact>, Vec<RowError>, u64),
    /// The file cannot be read past this line.
    Fatal(u64, String),
    /// Reading stopped at the row limit.
    Truncated,
}

fn parse(org: Organisation, mapping: Option<HashMap<String, String>>, rx: mpsc::Receiver<Bytes>, tx: mpsc::Sender<Msg>, max_rows: u64) {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(ChunkReader { rx, buf: Bytes::new() });
    let cols = match rdr
        .headers()
        .map_err(|e| ApiError::new(ErrorKind::InvalidParameter, format!("The CSV header cannot be read: {e}")))
    {
        Ok(h) => columns(h, &mapping),
        Err(e) => Err(e),
    };
    let cols = match cols {
        Ok(c) => {
            let _ = tx.blocking_send(Msg::Header(Ok(())));
            c
        }
        Err(e) => {
            let _ = tx.blocking_send(Msg::Header(Err(e)));
            return;
        }
    };
    let (mut batch, mut errors, mut rows) = (Vec::with_capacity(BATCH), Vec::new(), 0u64);
    let mut record = csv::StringRecord::new();
    let mut total = 0u64;
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                total += 1;
                if total > max_rows {
                    let _ = tx.blocking_send(Msg::Batch(std::mem::take(&mut batch), std::mem::take(&mut errors), rows));
                    let _ = tx.blocking_send(Msg::Truncated);
                    return;
                }
                rows += 1;
                let line = record.position().map_or(line, |p| p.line());
                match contact(&org, &record, &cols) {
                    Ok(c) => batch.push(c),
                    Err((field, reason)) => errors.push(RowError { line, field, reason }),
                }
            }
            Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                total += 1;
                rows += 1;
                let line = e.position().map_or(line, |p| p.line());
                errors.push(RowError {
                    line,
                    field: None,
                    reason: "is not valid UTF-8".into(),
                });
            }
            Err(e) => {
                let _ = tx.blocking_send(Msg::Batch(std::mem::take(&mut batch), std::mem::take(&mut errors), rows));
                let _ = tx.blocking_send(Msg::Fatal(line, format!("the CSV cannot be read past this line: {e}")));
                return;
            }
        }
        if batch.len() + errors.len() >= BATCH {
            if tx
                .blocking_send(Msg::Batch(std::mem::take(&mut batch), std::mem::take(&mut errors), rows))
                .is_err()
            {
                return;
            }
            rows = 0;
        }
    }
    let _ = tx.blocking_send(Msg::Batch(batch, errors, rows));
}

/// Imports a CSV body into the organisation's contacts (and `list`).
pub async fn import(
    state: &AppState,
    org: &Organisation,
    list: Option<ContactListId>,
    mapping: Option<HashMap<String, String>>,
    body: Body,
) -> Result<ImportOut, ApiError> {
    let t = &state.cfg.telephony;
    let (chunk_tx, chunk_rx) = mpsc::channel::<Bytes>(4);
    let (msg_tx, mut msg_rx) = mpsc::channel::<Msg>(2);
    let (org2, max_rows) = (org.clone(), t.import_max_rows);
    let parser = tokio::task::spawn_blocking(move || parse(org2, mapping, chunk_rx, msg_tx, max_rows));
    let max_bytes = t.import_max_bytes;
    let feeder = tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut seen = 0u64;
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { return false };
            seen += chunk.len() as u64;
            if seen > max_bytes {
                return true;
            }
            if chunk_tx.send(chunk).await.is_err() {
                return false;
            }
        }
        false
    });
    let mut out = ImportOut::default();
    let mut started = false;
    let mut fatal = None;
    while let Some(msg) = msg_rx.recv().await {
        match msg {
            Msg::Header(Err(e)) => return Err(e),
            Msg::Header(Ok(())) => started = true,
            Msg::Batch(contacts, errors, rows) => {
                out.total_rows += rows;
                out.rejected += errors.len() as u64;
                let room = MAX_LISTED_ERRORS.saturating_sub(out.errors.len());
                out.errors.extend(errors.into_iter().take(room));
                if !contacts.is_empty() {
                    let counts = state.store.import_contacts(&org.id, list.clone(), contacts).await?;
                    out.imported += counts.created;
                    out.matched += counts.matched;
                }
            }
            Msg::Truncated => out.truncated = true,
            Msg::Fatal(line, reason) => {
                // Rows before it are kept; the answer says where reading stopped.
                out.truncated = true;
                out.rejected += 1;
                out.errors.push(RowError {
                    line,
                    field: None,
                    reason: reason.clone(),
                });
                fatal = Some(ApiError::new(ErrorKind::InvalidParameter, format!("Line {line}: {reason}")));
            }
        }
    }
    let _ = parser.await;
    if feeder.await.unwrap_or(false) {
        out.truncated = true;
    }
    if !started {
        return Err(ApiError::new(ErrorKind::InvalidParameter, "The CSV body is empty"));
    }
    if let Some(e) = fatal
        && out.imported + out.matched == 0
    {
        return Err(e);
    }
    let data = serde_json::json!({
        "contactListId": list,
        "totalRows": out.total_rows,
        "imported": out.imported,
        "matched": out.matched,
        "rejected": out.rejected,
        "truncated": out.truncated,
    });
    state.store.finish_import(&org.id, data).await?;
    Ok(out)
}
