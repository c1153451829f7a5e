//! Live events: the outbox, tailed once per node and fanned out in memory.
//!
//! [`Streams`] runs one tailer per node. It reads the outbox after its
//! position whenever the store's outbox bell rings (this process's commits
//! at once; other nodes' through PostgreSQL `LISTEN/NOTIFY`), or after a
//! slow poll as a safety net. Each batch first updates the [`board`]
//! (active calls and real-time metrics), then is appended to the ring of
//! every organisation that has subscribers ([`Feed`]): one shared, bounded
//! buffer of `Arc`'d events per organisation, serialised once.
//!
//! A [`Subscription`] is a position in its organisation's outbox. It reads
//! from the ring when the ring still holds what follows its position, and
//! from the store (`org_events_after`) otherwise — when it resumes from an
//! older id. A subscriber that stops reading never slows the tailer or the
//! others: the ring drops its oldest events past its bounds (events and
//! bytes), and a subscriber whose next event was dropped is cut off with
//! the id to resume after. Memory is therefore bounded by the ring per
//! organisation with subscribers, whatever the subscribers do.

pub mod agents;
pub mod board;
pub mod filter;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};
use switchboard_domain::{DomainEvent, OrgId, Timestamp};
use switchboard_store::{DynStore, StoreError};
use tokio::sync::{OnceCell, watch};

pub use agents::StoredAgents;
pub use board::{AgentCounts, AgentSource, Board};
pub use filter::{Filter, TypeFilter};

/// Bounds and timings of the live streams.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most events an organisation's ring holds (a subscriber further
    /// behind is cut off).
    pub buffer_events: usize,
    /// Most bytes (serialised) an organisation's ring holds.
    pub buffer_bytes: usize,
    /// The safety-net poll of the outbox, for notifications lost.
    pub poll: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            buffer_events: 10_000,
            buffer_bytes: 8 << 20,
            poll: Duration::from_secs(2),
        }
    }
}

/// Events read from the outbox per round trip.
const TAIL_PAGE: u32 = 1000;
/// Events a replaying subscriber reads from the store per round trip.
const REPLAY_PAGE: u32 = 500;
/// Events a subscriber copies out of the ring at once.
const TAKE: usize = 256;
/// Bytes a subscriber copies out of the ring at once.
const TAKE_BYTES: usize = 64 * 1024;

/// One outbox event as streams carry it, serialised once for everyone.
#[derive(Debug)]
pub struct StreamEvent {
    /// The outbox sequence number: the SSE `id`, the resume position.
    pub seq: i64,
    pub org_id: OrgId,
    pub event_type: String,
    pub call_id: Option<String>,
    pub created_at: Timestamp,
    pub data: Value,
    /// `{"id":…,"type":…,"createdAt":…,"data":…}`.
    pub json: Bytes,
}

impl StreamEvent {
    pub fn from_domain(e: DomainEvent) -> StreamEvent {
        let call_id = e.data.get("callId").and_then(Value::as_str).map(str::to_owned);
        let wire = json!({ "id": e.seq, "type": e.event_type, "createdAt": e.created_at, "data": e.data });
        let json = Bytes::from(serde_json::to_vec(&wire).unwrap_or_default());
        StreamEvent {
            seq: e.seq,
            org_id: e.org_id,
            event_type: e.event_type,
            call_id,
            created_at: e.created_at,
            data: e.data,
            json,
        }
    }

    /// What the event costs the ring.
    fn size(&self) -> usize {
        self.json.len()
    }
}

/// What a subscription yields.
#[derive(Debug, Clone)]
pub enum Item {
    Event(Arc<StreamEvent>),
    /// Events after `after` up to `resume_after` were pruned from the
    /// outbox (retention) before the subscriber asked for them; the stream
    /// continues after `resume_after`. `oldest` is the oldest id still held.
    Gap {
        after: i64,
        resume_after: i64,
        oldest: Option<i64>,
    },
    /// The subscriber fell further behind than the buffer holds and is cut
    /// off: resume after `resume_after` (the last id it was given).
    CutOff {
        resume_after: i64,
    },
}

/// Why a subscription could not start.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// The resume id is beyond the newest event.
    #[error("Last-Event-ID {after} is beyond the newest event ({head})")]
    Ahead { after: i64, head: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a subscriber's state looks like from outside (tests, benchmarks).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriberInfo {
    pub id: u64,
    pub org_id: String,
    /// The last id it was given (or passed over).
    pub position: i64,
    /// Events of its organisation buffered after its position.
    pub buffered_events: usize,
    pub buffered_bytes: usize,
    pub cut_off: bool,
    pub delivered: u64,
}

/// Hub-wide figures.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubStats {
    /// The outbox position the tailer has published.
    pub position: i64,
    pub subscribers: Vec<SubscriberInfo>,
    /// Subscribers cut off since start.
    pub cut_offs: u64,
    /// Events held in all rings, and their bytes.
    pub ring_events: usize,
    pub ring_bytes: usize,
}

/// An organisation's shared buffer.
struct Ring {
    events: VecDeque<Arc<StreamEvent>>,
    bytes: usize,
    /// Every event of the organisation after this position is in `events`
    /// or will be appended; what is at or below it may only be in the store.
    covered_after: i64,
}

struct SubState {
    id: u64,
    pos: AtomicI64,
    cut_off: AtomicBool,
    delivered: AtomicU64,
}

/// One organisation's live feed; exists while it has subscribers.
struct Feed {
    org: OrgId,
    ring: RwLock<Ring>,
    /// The newest seq appended (wakes subscribers).
    head: watch::Sender<i64>,
    subs: Mutex<Vec<Weak<SubState>>>,
}

struct Hub {
    store: DynStore,
    limits: Limits,
    feeds: Mutex<HashMap<OrgId, Weak<Feed>>>,
    /// The position up to which every event has been published.
    published: AtomicI64,
    started: OnceCell<()>,
    board: Arc<Board>,
    cut_offs: AtomicU64,
    next_sub: AtomicU64,
}

/// The live-stream service of a node. Cheap to clone.
#[derive(Clone)]
pub struct Streams {
    hub: Arc<Hub>,
}

impl Streams {
    pub fn new(store: DynStore, limits: Limits) -> Streams {
        let board = Arc::new(Board::new(store.clone()));
        Streams {
            hub: Arc::new(Hub {
                store,
                limits,
                feeds: Mutex::new(HashMap::new()),
                published: AtomicI64::new(0),
                started: OnceCell::new(),
                board,
                cut_offs: AtomicU64::new(0),
                next_sub: AtomicU64::new(1),
            }),
        }
    }

    pub fn limits(&self) -> Limits {
        self.hub.limits
    }

    /// Active calls and metrics, kept by the same tailer.
    pub fn board(&self) -> &Arc<Board> {
        &self.hub.board
    }

    /// Starts the tailer (once): from the outbox head at this moment.
    pub async fn ensure_started(&self) -> Result<(), StoreError> {
        self.hub
            .started
            .get_or_try_init(|| async {
                // The bell first: every commit after the head is read rings it.
                let bell = self.hub.store.outbox_bell().await?;
                let head = self.hub.store.outbox_head().await?;
                self.hub.published.store(head, Ordering::SeqCst);
                self.hub.board.set_position(head);
                tokio::spawn(tail(Arc::downgrade(&self.hub), bell, head));
                tokio::spawn(board::tick(Arc::downgrade(&self.hub.board)));
                Ok::<(), StoreError>(())
            })
            .await
            .map(|_| ())
    }

    /// The position up to which this node has published events.
    pub fn position(&self) -> i64 {
        self.hub.published.load(Ordering::SeqCst)
    }

    /// Subscribes to `org`'s events that pass `filter`, after outbox
    /// position `after` (from now when `None`). Events come in outbox
    /// order, each once; a resume older than the outbox's retention starts
    /// with [`Item::Gap`].
    pub async fn subscribe(&self, org: &OrgId, filter: Filter, after: Option<i64>) -> Result<Subscription, SubscribeError> {
        self.ensure_started().await?;
        let hub = &self.hub;
        if let Some(after) = after
            && after > hub.published.load(Ordering::SeqCst)
        {
            let head = hub.store.outbox_head().await?;
            if after > head {
                return Err(SubscribeError::Ahead { after, head });
            }
        }
        let (feed, now) = {
            let mut feeds = hub.feeds.lock().expect("feeds lock");
            let now = hub.published.load(Ordering::SeqCst);
            let feed = match feeds.get(org).and_then(Weak::upgrade) {
                Some(f) => f,
                None => {
                    let f = Arc::new(Feed {
                        org: org.clone(),
                        ring: RwLock::new(Ring {
                            events: VecDeque::new(),
                            bytes: 0,
                            covered_after: now,
                        }),
                        head: watch::channel(now).0,
                        subs: Mutex::new(Vec::new()),
                    });
                    feeds.insert(org.clone(), Arc::downgrade(&f));
                    f
                }
            };
            (feed, now)
        };
        let pos = after.unwrap_or(now);
        let state = Arc::new(SubState {
            id: hub.next_sub.fetch_add(1, Ordering::Relaxed),
            pos: AtomicI64::new(pos),
            cut_off: AtomicBool::new(false),
            delivered: AtomicU64::new(0),
        });
        {
            let mut subs = feed.subs.lock().expect("subs lock");
            subs.retain(|s| s.strong_count() > 0);
            subs.push(Arc::downgrade(&state));
        }
        let replaying = pos < feed.ring.read().expect("ring lock").covered_after;
        Ok(Subscription {
            store: hub.store.clone(),
            wake: feed.head.subscribe(),
            feed,
            filter,
            pos,
            replaying,
            checked_gap: false,
            pending: VecDeque::new(),
            ended: false,
            state,
        })
    }

    /// Figures about every subscriber and ring (for tests and benchmarks).
    pub fn stats(&self) -> HubStats {
        let feeds: Vec<Arc<Feed>> = self
            .hub
            .feeds
            .lock()
            .expect("feeds lock")
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        let mut out = HubStats {
            position: self.position(),
            subscribers: Vec::new(),
            cut_offs: self.hub.cut_offs.load(Ordering::Relaxed),
            ring_events: 0,
            ring_bytes: 0,
        };
        for feed in feeds {
            let ring = feed.ring.read().expect("ring lock");
            out.ring_events += ring.events.len();
            out.ring_bytes += ring.bytes;
            for s in feed.subs.lock().expect("subs lock").iter().filter_map(Weak::upgrade) {
                let pos = s.pos.load(Ordering::Relaxed);
                let from = ring.events.partition_point(|e| e.seq <= pos);
                out.subscribers.push(SubscriberInfo {
                    id: s.id,
                    org_id: feed.org.to_string(),
                    position: pos,
                    buffered_events: ring.events.len() - from,
                    buffered_bytes: ring.events.iter().skip(from).map(|e| e.size()).sum(),
                    cut_off: s.cut_off.load(Ordering::Relaxed),
                    delivered: s.delivered.load(Ordering::Relaxed),
                });
            }
        }
        out.subscribers.sort_by_key(|s| s.id);
        out
    }
}

/// Appends a batch to the rings of the organisations that have
/// subscribers, evicting past the bounds, and wakes their subscribers.
fn publish(hub: &Hub, events: &[Arc<StreamEvent>], last: i64) {
    let mut feeds = hub.feeds.lock().expect("feeds lock");
    feeds.retain(|_, f| f.strong_count() > 0);
    let mut touched: Vec<Arc<Feed>> = Vec::new();
    for e in events {
        let Some(feed) = feeds.get(&e.org_id).and_then(Weak::upgrade) else {
            continue;
        };
        {
            let mut ring = feed.ring.write().expect("ring lock");
            ring.bytes += e.size();
            ring.events.push_back(e.clone());
            let mut evicted = false;
            while ring.events.len() > hub.limits.buffer_events || (ring.bytes > hub.limits.buffer_bytes && ring.events.len() > 1) {
                let Some(old) = ring.events.pop_front() else { break };
                ring.bytes -= old.size();
                ring.covered_after = old.seq;
                evicted = true;
            }
            if evicted {
                let covered = ring.covered_after;
                for s in feed.subs.lock().expect("subs lock").iter().filter_map(Weak::upgrade) {
                    if s.pos.load(Ordering::Relaxed) < covered && !s.cut_off.swap(true, Ordering::Relaxed) {
                        hub.cut_offs.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        if !touched.iter().any(|f| Arc::ptr_eq(f, &feed)) {
            touched.push(feed);
        }
    }
    hub.published.store(last, Ordering::SeqCst);
    drop(feeds);
    for feed in touched {
        feed.head.send_replace(last);
    }
}

/// The tailer: reads the outbox after `pos` whenever the bell rings (or
/// the poll runs out), until the hub is dropped.
async fn tail(hub: Weak<Hub>, mut bell: switchboard_store::OutboxBell, mut pos: i64) {
    let mut failures = 0u32;
    loop {
        let Some(h) = hub.upgrade() else { return };
        bell.borrow_and_update();
        let poll = h.limits.poll;
        let read = h.store.events_after(pos, TAIL_PAGE).await;
        let pruned = match &read {
            Ok(events) if events.is_empty() => Ok(0),
            Ok(_) => h.store.outbox_pruned_through().await,
            Err(_) => Ok(0),
        };
        match (read, pruned) {
            (Ok(events), Ok(pruned)) if !events.is_empty() => {
                failures = 0;
                if pruned > pos {
                    // This node stalled past the retention: events were lost
                    // to it. Subscribers behind are cut off (and resume with
                    // a gap); the board is rebuilt from the store.
                    tracing::warn!(pos, pruned, "live tailer behind the pruned outbox");
                    h.board.reset();
                    cut_all_behind(&h, pruned);
                }
                let last = events.last().map_or(pos, |e| e.seq);
                let full = events.len() as u32 == TAIL_PAGE;
                let events: Vec<Arc<StreamEvent>> = events.into_iter().map(|e| Arc::new(StreamEvent::from_domain(e))).collect();
                h.board.apply(&events);
                publish(&h, &events, last);
                pos = last;
                if full {
                    continue;
                }
            }
            (Ok(_), Ok(_)) => failures = 0,
            (Err(e), _) | (_, Err(e)) => {
                failures += 1;
                tracing::warn!(error = %e, "live tailer cannot read the outbox");
                drop(h);
                tokio::time::sleep(Duration::from_millis(200 * u64::from(failures.min(10)))).await;
                continue;
            }
        }
        drop(h);
        tokio::select! {
            changed = bell.changed() => {
                if changed.is_err() {
                    // The store is gone: fall back to polling.
                    tokio::time::sleep(poll).await;
                }
            }
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Marks every ring as covering only what follows `pruned`.
fn cut_all_behind(hub: &Hub, pruned: i64) {
    let feeds: Vec<Arc<Feed>> = hub.feeds.lock().expect("feeds lock").values().filter_map(Weak::upgrade).collect();
    for feed in feeds {
        let mut ring = feed.ring.write().expect("ring lock");
        if ring.covered_after < pruned {
            ring.covered_after = pruned;
        }
    }
}

/// A subscriber's position in its organisation's outbox.
pub struct Subscription {
    store: DynStore,
    feed: Arc<Feed>,
    wake: watch::Receiver<i64>,
    /// What the subscriber wants; may be changed between reads.
    pub filter: Filter,
    /// The last seq given out or passed over.
    pos: i64,
    /// Reading from the store, not yet from the ring.
    replaying: bool,
    checked_gap: bool,
    pending: VecDeque<Item>,
    ended: bool,
    state: Arc<SubState>,
}

impl Subscription {
    /// The next item; `None` after a cut-off.
    pub async fn recv(&mut self) -> Result<Option<Item>, StoreError> {
        loop {
            if let Some(item) = self.pop() {
                return Ok(Some(item));
            }
            if self.ended {
                return Ok(None);
            }
            if self.replaying {
                self.replay().await?;
                continue;
            }
            self.wake.borrow_and_update();
            if self.take_from_ring() {
                continue;
            }
            if self.wake.changed().await.is_err() {
                // The feed is gone only when the hub is: end quietly.
                return Ok(None);
            }
        }
    }

    /// An item already at hand, without waiting (reads the ring, never the store).
    pub fn try_recv(&mut self) -> Option<Item> {
        if self.pending.is_empty() && !self.ended && !self.replaying {
            self.take_from_ring();
        }
        self.pop()
    }

    /// The last position given out or passed over.
    pub fn position(&self) -> i64 {
        self.pos
    }

    fn pop(&mut self) -> Option<Item> {
        let item = self.pending.pop_front()?;
        match &item {
            Item::Event(_) => {
                self.state.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Item::CutOff { .. } => self.ended = true,
            Item::Gap { .. } => {}
        }
        Some(item)
    }

    fn accept(&mut self, e: &Arc<StreamEvent>) {
        if self.filter.matches(&e.event_type, e.call_id.as_deref()) {
            self.pending.push_back(Item::Event(e.clone()));
        }
    }

    fn advance(&mut self, to: i64) {
        self.pos = to;
        self.state.pos.store(to, Ordering::Relaxed);
    }

    /// Copies what follows the position out of the ring; answers whether
    /// anything happened (events passed or a cut-off).
    fn take_from_ring(&mut self) -> bool {
        let ring = self.feed.ring.read().expect("ring lock");
        if self.pos < ring.covered_after {
            let resume_after = self.pos;
            drop(ring);
            self.pending.push_back(Item::CutOff { resume_after });
            self.ended = true;
            self.state.cut_off.store(true, Ordering::Relaxed);
            return true;
        }
        let from = ring.events.partition_point(|e| e.seq <= self.pos);
        // A bounded copy: at most TAKE events or TAKE_BYTES (one event at least).
        let mut bytes = 0;
        let batch: Vec<Arc<StreamEvent>> = ring
            .events
            .iter()
            .skip(from)
            .take(TAKE)
            .take_while(|e| {
                let first = bytes == 0;
                bytes += e.size();
                first || bytes <= TAKE_BYTES
            })
            .cloned()
            .collect();
        drop(ring);
        let Some(last) = batch.last().map(|e| e.seq) else { return false };
        for e in &batch {
            self.accept(e);
        }
        self.advance(last);
        true
    }

    /// Reads the next page from the store; switches to the ring once the
    /// ring holds what follows.
    async fn replay(&mut self) -> Result<(), StoreError> {
        // Every await comes before any change, so a reader that drops this
        // future half-way (a `select!`) loses nothing.
        let org = self.feed.org.clone();
        let covered = self.feed.ring.read().expect("ring lock").covered_after;
        let page = self.store.org_events_after(&org, self.pos, REPLAY_PAGE).await?;
        let mut gap = None;
        if !self.checked_gap {
            // Read after the page: a prune that took events wanted has
            // committed its mark by now.
            let pruned = self.store.outbox_pruned_through().await?;
            if pruned > self.pos {
                let oldest = match page.iter().find(|e| e.seq > pruned) {
                    Some(e) => Some(e.seq),
                    None => self.store.events_after(pruned, 1).await?.first().map(|e| e.seq),
                };
                gap = Some((pruned, oldest));
            }
        }
        self.checked_gap = true;
        if let Some((pruned, oldest)) = gap {
            self.pending.push_back(Item::Gap {
                after: self.pos,
                resume_after: pruned,
                oldest,
            });
            self.advance(pruned);
        }
        let short = (page.len() as u32) < REPLAY_PAGE;
        for e in page {
            if e.seq <= self.pos {
                continue;
            }
            let seq = e.seq;
            let e = Arc::new(StreamEvent::from_domain(e));
            self.accept(&e);
            self.advance(seq);
        }
        if short {
            // Every event of the organisation up to `covered` was committed
            // before the page was read, so the page held them all.
            if covered > self.pos {
                self.advance(covered);
            }
            if self.pos >= self.feed.ring.read().expect("ring lock").covered_after {
                self.replaying = false;
            }
        }
        Ok(())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.feed
            .subs
            .lock()
            .expect("subs lock")
            .retain(|s| s.strong_count() > 0 && !std::ptr::eq(s.as_ptr(), Arc::as_ptr(&self.state)));
    }
}
