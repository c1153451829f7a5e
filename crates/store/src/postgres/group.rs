//! Group commit for the hot writes (call creation and reports), as the
//! SQLite writer does: a few writer lanes each take every write queued
//! while their previous commit ran and commit them as one transaction —
//! one commit (one WAL flush) and one hold of each organisation's quota
//! row for the whole group instead of one per write.
//!
//! Writes run one after the other on the lane's connection without
//! savepoints. When any write of a group fails, or the transaction does,
//! the group is rolled back and every write in it is answered "alone": its
//! caller runs it in a transaction of its own, exactly as without grouping,
//! so each request's outcome (its error, its idempotency record, its quota
//! count) is the one it would have had by itself.

use std::any::Any;
use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};
use switchboard_domain::DomainEvent;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::Bell;
use crate::Result;

/// Most writes one group commits.
const MAX_GROUP: usize = 256;
/// Writer lanes (connections committing groups at once).
const LANES: usize = 4;

/// A write: runs on the group's connection, adds its outbox events, answers its value.
pub(crate) type Work =
    Box<dyn for<'c> FnOnce(&'c mut PgConnection, &'c mut Vec<DomainEvent>) -> BoxFuture<'c, Result<Box<dyn Any + Send>>> + Send>;

struct Job {
    work: Work,
    /// `Some(value)` once committed; `None`: run it alone.
    reply: oneshot::Sender<Option<Box<dyn Any + Send>>>,
}

#[derive(Clone)]
pub(crate) struct GroupWriter {
    jobs: mpsc::Sender<Job>,
}

impl GroupWriter {
    pub(crate) fn start(pool: PgPool, bell: Arc<Bell>) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>(8192);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..LANES {
            tokio::spawn(lane(pool.clone(), bell.clone(), rx.clone()));
        }
        Self { jobs }
    }

    /// Runs `work` in a group; `None` when the caller must run it alone
    /// (the group failed, or the writer has stopped).
    pub(crate) async fn run<T: Send + 'static>(&self, work: Work) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { work, reply }).await.ok()?;
        let value = answer.await.ok()??;
        value.downcast::<T>().ok().map(|v| *v)
    }
}

async fn lane(pool: PgPool, bell: Arc<Bell>, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let mut jobs = Vec::new();
        {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            jobs.push(first);
            while jobs.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
        }
        commit_group(&pool, &bell, jobs).await;
    }
}

async fn commit_group(pool: &PgPool, bell: &Bell, jobs: Vec<Job>) {
    let mut replies = Vec::with_capacity(jobs.len());
    let mut values = Vec::with_capacity(jobs.len());
    let mut failed = false;
    let mut events = Vec::new();
    match pool.begin().await {
        Ok(mut tx) => {
            for job in jobs {
                replies.push(job.reply);
                if failed {
                    continue;
                }
                match (job.work)(&mut tx, &mut events).await {
                    Ok(v) => values.push(v),
                    Err(_) => failed = true,
                }
            }
            if !failed {
                match super::rows::insert_events(&mut tx, &events).await {
                    Ok(pos) => match tx.commit().await {
                        Ok(()) => {
                            if let Some(pos) = pos {
                                bell.rang(pos);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "group commit failed; its writes run alone");
                            failed = true;
                        }
                    },
                    Err(_) => failed = true,
                }
            }
            // On failure the transaction is dropped: rolled back.
        }
        Err(e) => {
            tracing::warn!(error = %e, "group commit could not begin; its writes run alone");
            replies.extend(jobs.into_iter().map(|j| j.reply));
            failed = true;
        }
    }
    if failed {
        for r in replies {
            let _ = r.send(None);
        }
    } else {
        for (r, v) in replies.into_iter().zip(values) {
            let _ = r.send(Some(v));
        }
    }
}
