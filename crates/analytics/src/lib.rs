//! Analytics over every call, answered from memory in milliseconds.
//!
//! [`Analytics`] keeps an in-memory column index of calls per organisation
//! ([`table::OrgTable`]): one row per call, dictionary-encoded, with its
//! customer context and metadata flattened into columns. It is built from
//! the store at start and kept in step by tailing the store's outbox; every
//! query first catches up to the outbox head, so answers are exact (they
//! include every write committed before the query began), also across
//! several nodes sharing one PostgreSQL. An index that fell behind events
//! since pruned from the outbox (a node idle past the outbox retention) is
//! rebuilt from the store instead. A query is one filtered scan over
//! compact columns: O(calls of the organisation) with a few nanoseconds per
//! call, and local-time bucketing by table lookup ([`time`]).

pub mod query;
pub mod stats;
pub mod table;
pub mod time;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use switchboard_domain::{CallId, DomainEvent, OrgId};
use switchboard_store::{DynStore, StoreError};
use tokio::sync::{Mutex, OnceCell};

pub use query::{Bins, Dim, Filter, Group, Order, Query};
pub use stats::Stats;
pub use table::OrgTable;

/// Facts loaded per round trip while building or catching up.
const PAGE: u32 = 20_000;

#[derive(Default)]
struct Index {
    orgs: HashMap<OrgId, OrgTable>,
    /// The outbox sequence number the index reflects.
    head: i64,
}

impl Index {
    fn table(&mut self, org: &OrgId) -> &mut OrgTable {
        self.orgs.entry(org.clone()).or_default()
    }
}

/// The analytics service.
pub struct Analytics {
    store: DynStore,
    index: Arc<RwLock<Index>>,
    /// One catch-up at a time.
    syncing: Mutex<()>,
    loaded: OnceCell<()>,
}

/// What the index holds, for logs and benchmarks.
#[derive(Debug, Clone, Copy)]
pub struct IndexSize {
    pub organisations: usize,
    pub calls: usize,
    pub bytes: usize,
    pub head: i64,
}

impl Analytics {
    pub fn new(store: DynStore) -> Arc<Self> {
        Arc::new(Analytics {
            store,
            index: Arc::default(),
            syncing: Mutex::new(()),
            loaded: OnceCell::new(),
        })
    }

    /// Builds the index from the store (once); later calls return at once.
    pub async fn ensure_loaded(&self) -> Result<(), StoreError> {
        self.loaded.get_or_try_init(|| self.load()).await.map(|_| ())
    }

    async fn load(&self) -> Result<(), StoreError> {
        let _guard = self.syncing.lock().await;
        let index = self.build().await?;
        *self.index.write().expect("analytics index lock") = index;
        Ok(())
    }

    /// A fresh index of every call in the store.
    async fn build(&self) -> Result<Index, StoreError> {
        let started = std::time::Instant::now();
        // Read the head first: every change at or below it is in the rows
        // read next, and later changes are replayed from the outbox.
        let head = self.store.outbox_head().await?;
        let mut index = Index {
            head,
            ..Default::default()
        };
        // The store reads (and decodes) the next pages while this task
        // indexes the last one: two cores, both busy.
        let (pages, mut next) = tokio::sync::mpsc::channel(2);
        let store = self.store.clone();
        let reader = tokio::spawn(async move {
            let mut after: Option<CallId> = None;
            loop {
                let page = store.call_facts_page(after.clone(), PAGE).await?;
                let Some(last) = page.last() else { break };
                after = Some(last.id.clone());
                if pages.send(page).await.is_err() {
                    break;
                }
            }
            Ok::<(), StoreError>(())
        });
        while let Some(page) = next.recv().await {
            for f in &page {
                index.table(&f.org_id).upsert(f);
            }
        }
        reader
            .await
            .map_err(|e| StoreError::Backend(format!("analytics index reader failed: {e}")))??;
        let calls: usize = index.orgs.values().map(|t| t.live).sum();
        tracing::info!(calls, ms = started.elapsed().as_millis() as u64, "analytics index built");
        Ok(index)
    }

    /// Applies every outbox event committed since the index was last brought
    /// up to date.
    pub async fn sync(&self) -> Result<(), StoreError> {
        self.ensure_loaded().await?;
        let _guard = self.syncing.lock().await;
        let mut head = self.index.read().expect("analytics index lock").head;
        loop {
            let events = self.store.events_after(head, PAGE).await?;
            // Read after the events: a prune that removed any of the ones
            // wanted has committed its mark by now.
            if self.store.outbox_pruned_through().await? > head {
                tracing::info!(head, "analytics index behind the pruned outbox; rebuilding");
                let index = self.build().await?;
                *self.index.write().expect("analytics index lock") = index;
                return Ok(());
            }
            let Some(last) = events.last() else { break };
            head = last.seq;
            let touched = touched_calls(&events);
            if touched.is_empty() {
                self.index.write().expect("analytics index lock").head = head;
                continue;
            }
            let ids: Vec<CallId> = touched.iter().map(|(_, id)| id.clone()).collect();
            let mut facts: HashMap<CallId, _> = HashMap::new();
            for chunk in ids.chunks(1000) {
                for f in self.store.call_facts(chunk).await? {
                    facts.insert(f.id.clone(), f);
                }
            }
            let mut index = self.index.write().expect("analytics index lock");
            for (org, id) in &touched {
                match facts.get(id) {
                    Some(f) => index.table(&f.org_id).upsert(f),
                    None => index.table(org).remove(id),
                }
            }
            index.head = head;
        }
        Ok(())
    }

    /// Brings the index up to date, then runs `f` over the organisation's
    /// table on a blocking thread (scans take milliseconds).
    pub async fn query<R, F>(&self, org: &OrgId, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&OrgTable) -> R + Send + 'static,
    {
        self.sync().await?;
        let index = self.index.clone();
        let org = org.clone();
        tokio::task::spawn_blocking(move || {
            let index = index.read().expect("analytics index lock");
            match index.orgs.get(&org) {
                Some(t) => f(t),
                None => f(&OrgTable::default()),
            }
        })
        .await
        .map_err(|e| StoreError::Backend(format!("analytics query failed: {e}")))
    }

    pub fn size(&self) -> IndexSize {
        let index = self.index.read().expect("analytics index lock");
        IndexSize {
            organisations: index.orgs.len(),
            calls: index.orgs.values().map(|t| t.live).sum(),
            bytes: index.orgs.values().map(|t| t.bytes()).sum(),
            head: index.head,
        }
    }
}

/// The calls a batch of events changed, with their organisation.
fn touched_calls(events: &[DomainEvent]) -> BTreeSet<(OrgId, CallId)> {
    let mut out = BTreeSet::new();
    for e in events {
        let ids: Vec<&serde_json::Value> = if e.event_type == "calls.imported" {
            e.data["callIds"].as_array().map(|a| a.iter().collect()).unwrap_or_default()
        } else if e.event_type.starts_with("call.") {
            vec![&e.data["callId"]]
        } else {
            continue;
        };
        for id in ids.into_iter().filter_map(|v| v.as_str()).filter_map(|s| s.parse::<CallId>().ok()) {
            out.insert((e.org_id.clone(), id));
        }
    }
    out
}
