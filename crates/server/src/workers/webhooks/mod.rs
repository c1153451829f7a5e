//! The webhook worker: fans outbox events out into deliveries and sends
//! them, signed, with retries.
//!
//! Three loops share one worker. The dispatcher moves the database's
//! dispatch cursor over the outbox (see `WebhookStore::fan_out`). The
//! deliverer leases subscriptions that have due deliveries and serves each
//! leased subscription in one task: its due deliveries in event order, one
//! request at a time, stopping at the first failure (the failed delivery is
//! rescheduled; later ones are served on the next lease, so a retrying
//! delivery never blocks the ones after it). Different subscriptions are
//! served concurrently, up to `max_webhooks` at once per node. The finisher
//! records what every task sent and releases its lease, gathering whatever
//! tasks finished meanwhile into one transaction. The pruner forgets, once
//! an hour, attempts and finished deliveries older than their retention,
//! and outbox events older than theirs that no delivery waits on.

pub mod send;
pub mod sign;
pub mod ssrf;

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_domain::webhook::{Attempt, MAX_ATTEMPTS, next_retry};
use switchboard_domain::{AttemptId, Timestamp};
use switchboard_store::{AttemptOutcome, Claim, ClaimedBatch, DynStore, Finished, NextStep};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;

use self::send::Sender;
use crate::config::Config;

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Send to loopback/private/link-local targets (tests, private networks).
    pub allow_private: bool,
    /// How long a node holds a subscription before others may take it over.
    pub lease: Duration,
    /// Subscriptions served at once by this node.
    pub max_webhooks: u32,
    /// Deliveries taken per subscription per lease.
    pub per_webhook: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How often idle loops look for work nobody announced.
    pub poll: Duration,
    /// Outbox events fanned out per transaction.
    pub fanout_batch: u32,
    /// How long attempts and finished deliveries are kept (`None`: forever).
    pub retention: Option<chrono::TimeDelta>,
    /// How long outbox events are kept once delivered (`None`: forever).
    pub outbox_retention: Option<chrono::TimeDelta>,
}

/// Runs one pruning step until a step removes less than a full batch,
/// letting other work write between batches; answers the rows removed.
async fn prune_in_batches<F, Fut>(mut step: F) -> anyhow::Result<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = switchboard_store::Result<u64>>,
{
    let mut total = 0;
    loop {
        let n = step().await?;
        total += n;
        if n < u64::from(PRUNE_BATCH) {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// A retention in days; 0 keeps forever.
fn days(n: u32) -> Option<chrono::TimeDelta> {
    (n > 0).then(|| chrono::TimeDelta::days(n.into()))
}

/// How often the pruner runs, and the rows it deletes per transaction.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const PRUNE_BATCH: u32 = 5_000;

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            lease: Duration::from_secs(60),
            max_webhooks: 128,
            per_webhook: 64,
            timeout: Duration::from_secs(15),
            poll: Duration::from_millis(250),
            fanout_batch: 1000,
            retention: Some(chrono::TimeDelta::days(30)),
            outbox_retention: Some(chrono::TimeDelta::days(30)),
        }
    }
}

impl WorkerConfig {
    pub fn from_config(cfg: &Config) -> Self {
        Self {
            allow_private: cfg.allow_private_webhook_targets,
            lease: Duration::from_millis(cfg.webhook_lease_ms),
            max_webhooks: cfg.webhook_concurrency,
            retention: days(cfg.webhook_log_retention_days),
            outbox_retention: days(cfg.outbox_retention_days),
            ..Self::default()
        }
    }
}

/// What a round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Outbox events fanned out and deliveries they made.
    pub events: u64,
    pub deliveries: u64,
    /// Requests sent and how many succeeded.
    pub attempts: u64,
    pub succeeded: u64,
}

pub struct WebhookWorker {
    store: DynStore,
    cfg: WorkerConfig,
    sender: Sender,
    /// This worker's lease owner name.
    owner: String,
}

impl WebhookWorker {
    pub fn new(store: DynStore, cfg: WorkerConfig) -> anyhow::Result<Arc<Self>> {
        let sender = Sender::new(cfg.timeout, cfg.allow_private)?;
        let owner = format!("node-{}-{}", std::process::id(), &switchboard_domain::id::new_body()[14..]);
        Ok(Arc::new(Self { store, cfg, sender, owner }))
    }

    /// Fans out every event in the outbox; answers (events, deliveries).
    pub async fn fan_out_all(&self) -> anyhow::Result<(u64, u64)> {
        let (mut events, mut deliveries) = (0, 0);
        loop {
            let f = self.store.fan_out(self.cfg.fanout_batch).await?;
            events += f.events;
            deliveries += f.deliveries;
            if f.events < u64::from(self.cfg.fanout_batch) {
                return Ok((events, deliveries));
            }
        }
    }

    /// One step for tests: fans out the whole outbox, then serves every
    /// subscription with deliveries due now, and waits for the results.
    pub async fn run_once(&self) -> anyhow::Result<Round> {
        self.round(None).await
    }

    /// Like [`run_once`](Self::run_once) as if the clock read `now`: due
    /// times, attempt times and the 5-day rule use it (requests are still
    /// signed with the real time), so tests can step through the schedule.
    pub async fn run_once_at(&self, now: Timestamp) -> anyhow::Result<Round> {
        self.round(Some(now)).await
    }

    async fn round(&self, at: Option<Timestamp>) -> anyhow::Result<Round> {
        let (events, deliveries) = self.fan_out_all().await?;
        let mut round = Round {
            events,
            deliveries,
            ..Round::default()
        };
        let batches = self.claim(self.cfg.max_webhooks, at).await?;
        let finished = futures::future::join_all(batches.into_iter().map(|b| self.serve(b, at, None))).await;
        for f in &finished {
            round.attempts += f.outcomes.len() as u64;
            round.succeeded += f.outcomes.iter().filter(|o| o.attempt.succeeded).count() as u64;
        }
        self.store.finish_deliveries(&self.owner, finished).await?;
        Ok(round)
    }

    async fn claim(&self, max: u32, at: Option<Timestamp>) -> anyhow::Result<Vec<ClaimedBatch>> {
        Ok(self
            .store
            .claim_deliveries(Claim {
                owner: self.owner.clone(),
                now: at.unwrap_or_else(switchboard_domain::now),
                lease: chrono::TimeDelta::from_std(self.cfg.lease)?,
                max_webhooks: max,
                per_webhook: self.cfg.per_webhook,
            })
            .await?)
    }

    /// Sends one leased subscription's deliveries in order until one fails,
    /// the lease runs short or the worker stops; answers what happened, to
    /// record (which also releases the lease).
    async fn serve(&self, batch: ClaimedBatch, at: Option<Timestamp>, stop: Option<&watch::Receiver<bool>>) -> Finished {
        let started = Instant::now();
        let mut outcomes = Vec::with_capacity(batch.jobs.len());
        for job in &batch.jobs {
            // Hand the subscription back with half the lease to spare for
            // the request under way (a 60 s lease outlasts 30 s + a 15 s request).
            let late = started.elapsed() > self.cfg.lease / 2;
            if (late && !outcomes.is_empty()) || stop.is_some_and(|s| *s.borrow()) {
                break;
            }
            let sent = self.sender.send(&batch.webhook, job).await;
            let now = at.unwrap_or_else(switchboard_domain::now);
            let attempt_no = job.attempts + 1;
            let succeeded = sent.succeeded();
            let next = if succeeded {
                NextStep::Succeeded
            } else {
                let jitter = rand::random::<f64>() * 2.0 - 1.0;
                match next_retry(attempt_no, sent.retry_after, jitter).filter(|_| attempt_no < MAX_ATTEMPTS) {
                    Some(delay) => NextStep::RetryAt(now + chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::zero())),
                    None => NextStep::GiveUp,
                }
            };
            outcomes.push(AttemptOutcome {
                attempt: Attempt {
                    id: AttemptId::new(),
                    org_id: batch.webhook.org_id.clone(),
                    webhook_id: batch.webhook.id.clone(),
                    delivery_id: job.delivery_id.clone(),
                    event_id: job.event.id.clone(),
                    event_type: job.event.event_type.clone(),
                    attempt: attempt_no,
                    succeeded,
                    status_code: sent.status,
                    latency_ms: sent.latency_ms,
                    response_body: sent.body,
                    error: sent.error,
                    created_at: now,
                },
                next,
            });
            if !succeeded {
                break;
            }
        }
        Finished {
            webhook: batch.webhook.id,
            outcomes,
        }
    }

    /// Records finished batches as they come, many per transaction, until
    /// every sender is gone; pokes `released` after each write.
    async fn finisher(&self, mut rx: mpsc::UnboundedReceiver<Finished>, released: Arc<Notify>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < 1024 {
                match rx.try_recv() {
                    Ok(f) => batch.push(f),
                    Err(_) => break,
                }
            }
            if let Err(e) = self.store.finish_deliveries(&self.owner, batch).await {
                // The leases run out and the deliveries are sent again: at least once.
                tracing::error!(error = %e, "cannot record webhook attempts");
            }
            released.notify_one();
        }
    }

    /// Forgets attempts and finished deliveries older than the retention
    /// as of `now`, in small transactions; answers the rows removed.
    pub async fn prune_log(&self, now: Timestamp) -> anyhow::Result<u64> {
        let Some(keep) = self.cfg.retention else { return Ok(0) };
        prune_in_batches(|| self.store.prune_webhook_log(now - keep, PRUNE_BATCH)).await
    }

    /// Forgets outbox events older than their retention as of `now` that
    /// fan-out has passed and no delivery waits on; answers how many.
    pub async fn prune_outbox(&self, now: Timestamp) -> anyhow::Result<u64> {
        let Some(keep) = self.cfg.outbox_retention else { return Ok(0) };
        prune_in_batches(|| self.store.prune_outbox(now - keep, PRUNE_BATCH)).await
    }

    /// Runs the loops until `stop` turns true; in-flight requests finish
    /// and are recorded first. `wake` is poked when something may have
    /// written to the outbox.
    pub async fn run(self: Arc<Self>, wake: Arc<Notify>, stop: watch::Receiver<bool>) {
        let work = Arc::new(Notify::new());
        let dispatcher = {
            let (me, work, mut stop) = (self.clone(), work.clone(), stop.clone());
            async move {
                while !*stop.borrow() {
                    match me.fan_out_all().await {
                        Ok((_, d)) if d > 0 => work.notify_one(),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "webhook fan-out failed"),
                    }
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(me.cfg.poll) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        };
        let (done_tx, done_rx) = mpsc::unbounded_channel::<Finished>();
        let finisher = {
            let (me, work) = (self.clone(), work.clone());
            async move { me.finisher(done_rx, work).await }
        };
        let deliverer = {
            let (me, mut stop) = (self.clone(), stop.clone());
            async move {
                let mut inflight: JoinSet<()> = JoinSet::new();
                while !*stop.borrow() {
                    let free = me.cfg.max_webhooks.saturating_sub(inflight.len() as u32);
                    if free > 0 {
                        match me.claim(free, None).await {
                            Ok(batches) => {
                                for b in batches {
                                    let (me, stop, done) = (me.clone(), stop.clone(), done_tx.clone());
                                    inflight.spawn(async move {
                                        let _ = done.send(me.serve(b, None, Some(&stop)).await);
                                    });
                                }
                            }
                            Err(e) => tracing::error!(error = %e, "claiming webhook deliveries failed"),
                        }
                    }
                    tokio::select! {
                        Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
                        _ = work.notified() => {}
                        _ = tokio::time::sleep(me.cfg.poll) => {}
                        _ = stop.changed() => {}
                    }
                }
                while inflight.join_next().await.is_some() {}
                // The finisher records the last batches and ends.
                drop(done_tx);
            }
        };
        let pruner = {
            let (me, mut stop) = (self.clone(), stop.clone());
            async move {
                while !*stop.borrow() {
                    let now = switchboard_domain::now();
                    match me.prune_log(now).await {
                        Ok(n) if n > 0 => tracing::info!(rows = n, "pruned the webhook log"),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "pruning the webhook log failed"),
                    }
                    match me.prune_outbox(now).await {
                        Ok(n) if n > 0 => tracing::info!(events = n, "pruned the outbox"),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "pruning the outbox failed"),
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(PRUNE_EVERY) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        };
        tokio::join!(dispatcher, deliverer, finisher, pruner);
        tracing::info!("webhook worker stopped");
    }
}
