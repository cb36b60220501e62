//! The one supervisor of every background job. Each job is registered once, runs under a
//! cancellation token, is awaited on shutdown, and reports its health in `/metrics`
//! (`portal_worker_up`, `portal_worker_runs_total`, `portal_worker_last_run_timestamp_seconds`).
//! Jobs that must run on one replica only hold a PostgreSQL advisory lock on a connection of
//! their own: the lock goes with the connection, so when the holder stops (or dies, and its
//! connection with it) another replica takes the job over at its next try.

use crate::portal_metrics::PortalMetrics;
use sqlx::{postgres::PgConnectOptions, Connection, PgConnection};
use std::{future::Future, time::Duration};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often a replica without the lock of a one-replica job tries to take it, and how often
/// the holder checks that its lock connection is alive.
pub const DEFAULT_LOCK_RETRY: Duration = Duration::from_secs(2);

/// What a job is given: the token that says when to stop, and a way to report its passes.
#[derive(Clone)]
pub struct JobContext {
    name: &'static str,
    stop: CancellationToken,
    metrics: PortalMetrics,
}

impl JobContext {
    /// Completes when the portal is shutting down.
    pub async fn stopped(&self) {
        self.stop.cancelled().await
    }

    pub fn is_stopped(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// The token, for jobs that hand it on.
    pub fn token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Records one pass of the job and its outcome.
    pub fn ran(&self, result: &anyhow::Result<()>) {
        if let Err(e) = result {
            warn!(worker = self.name, error = %format!("{e:#}"), "background pass failed; it will be tried again");
        }
        self.metrics.observe_worker_run(self.name, result.is_ok());
    }
}

/// Starts, tracks and stops the background jobs.
pub struct Supervisor {
    stop: CancellationToken,
    metrics: PortalMetrics,
    lock_options: PgConnectOptions,
    lock_retry: Duration,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl Supervisor {
    /// A supervisor whose one-replica jobs lock through connections made with `lock_options`.
    pub fn new(
        metrics: PortalMetrics,
        lock_options: PgConnectOptions,
        lock_retry: Duration,
    ) -> Self {
        Self {
            stop: CancellationToken::new(),
            metrics,
            lock_options,
            lock_retry,
            tasks: Vec::new(),
        }
    }

    /// A token cancelled when the portal stops, for work a job hands off (deliveries).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.child_token()
    }

    fn context(&self, name: &'static str) -> JobContext {
        JobContext {
            name,
            stop: self.stop.child_token(),
            metrics: self.metrics.clone(),
        }
    }

    /// Runs `job` until it returns or the portal stops (it must watch its context).
    pub fn spawn<F, Fut>(&mut self, name: &'static str, job: F)
    where
        F: FnOnce(JobContext) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let context = self.context(name);
        let metrics = self.metrics.clone();
        let run = job(context);
        // Up from registration, so a job that has not been polled yet never reads as done.
        metrics.set_worker_up(name, true);
        self.tasks.push((
            name,
            tokio::spawn(async move {
                run.await;
                metrics.set_worker_up(name, false);
            }),
        ));
    }

    /// Runs `pass` every `interval` until the portal stops, the first one interval from now
    /// (start-up has done whatever must be done before serving).
    pub fn every<F, Fut>(&mut self, name: &'static str, interval: Duration, pass: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let first = tokio::time::Instant::now() + interval;
        self.spawn(name, move |ctx| run_every(ctx, first, interval, pass));
    }

    /// Like [`Supervisor::every`], on exactly one of the replicas sharing the database (see
    /// [`Supervisor::spawn_on_one_replica`]); the first pass runs as soon as it has the job.
    pub fn every_on_one_replica<F, Fut>(&mut self, name: &'static str, interval: Duration, pass: F)
    where
        F: FnMut() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.spawn_on_one_replica(name, move |ctx| {
            run_every(ctx, tokio::time::Instant::now(), interval, pass.clone())
        });
    }

    /// Runs `job` on exactly one of the replicas sharing the database: the one that holds the
    /// advisory lock named after the job. The others try again every `lock_retry` and take over
    /// when the holder's connection goes away; a holder that loses its lock connection stops
    /// the job (its context is cancelled) and tries for the lock again like the others.
    pub fn spawn_on_one_replica<F, Fut>(&mut self, name: &'static str, mut job: F)
    where
        F: FnMut(JobContext) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let options = self.lock_options.clone();
        let retry = self.lock_retry;
        let ctx = self.context(name);
        let metrics = self.metrics.clone();
        self.tasks.push((
            name,
            tokio::spawn(async move {
                metrics.set_worker_up(name, false);
                while !ctx.is_stopped() {
                    match hold_lock(&options, name, &ctx).await {
                        Ok(Some(mut lock)) => {
                            info!(worker = name, "this replica runs the job");
                            metrics.set_worker_up(name, true);
                            let held = JobContext {
                                name,
                                stop: ctx.stop.child_token(),
                                metrics: metrics.clone(),
                            };
                            run_while_held(&mut lock, retry, &held, job(held.clone())).await;
                            metrics.set_worker_up(name, false);
                            release(lock, name).await;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            warn!(worker = name, error = %e, "could not try the job's lock")
                        }
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(retry) => {}
                        _ = ctx.stopped() => {}
                    }
                }
            }),
        ));
    }

    /// Stops every job and waits up to `grace` for each to finish.
    pub async fn shutdown(self, grace: Duration) {
        self.stop.cancel();
        for (name, task) in self.tasks {
            match tokio::time::timeout(grace, task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => warn!(worker = name, error = %e, "background job ended abnormally"),
                Err(_) => {
                    warn!(worker = name, timeout = ?grace, "background job did not stop in time")
                }
            }
        }
    }
}

/// The advisory lock key of a job: a stable 64-bit hash of its name.
pub fn lock_key(name: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64(format!("portal-worker:{name}").as_bytes()) as i64
}

/// Opens a connection and tries the job's lock on it: `Some` with the connection when taken.
async fn hold_lock(
    options: &PgConnectOptions,
    name: &str,
    ctx: &JobContext,
) -> sqlx::Result<Option<PgConnection>> {
    let options = options
        .clone()
        .application_name(&format!("portal worker {name}"));
    let mut conn = tokio::select! {
        c = PgConnection::connect_with(&options) => c?,
        _ = ctx.stopped() => return Ok(None),
    };
    let taken: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(lock_key(name))
        .fetch_one(&mut conn)
        .await?;
    if taken {
        Ok(Some(conn))
    } else {
        conn.close().await.ok();
        Ok(None)
    }
}

/// Runs `run` while the lock's connection lives, checking it every `check`; when the connection
/// is lost, stops the job (`held`'s token) and waits for it to finish.
async fn run_while_held(
    lock: &mut PgConnection,
    check: Duration,
    held: &JobContext,
    run: impl Future<Output = ()>,
) {
    tokio::pin!(run);
    let mut alive = tokio::time::interval_at(tokio::time::Instant::now() + check, check);
    loop {
        tokio::select! {
            _ = &mut run => return,
            _ = alive.tick() => {
                if let Err(e) = lock.ping().await {
                    warn!(worker = held.name, error = %e, "lost the job's lock connection; another replica may take over");
                    held.stop.cancel();
                    run.await;
                    return;
                }
            }
        }
    }
}

/// Runs `pass` at `first` and every `interval` after, until the job's context stops.
async fn run_every<F, Fut>(
    ctx: JobContext,
    first: tokio::time::Instant,
    interval: Duration,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut ticker = tokio::time::interval_at(first, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = ctx.stopped() => return,
        }
        let result = tokio::select! {
            r = pass() => r,
            _ = ctx.stopped() => return,
        };
        ctx.ran(&result);
    }
}

async fn release(mut lock: PgConnection, name: &str) {
    let _ = sqlx::query("select pg_advisory_unlock($1)")
        .bind(lock_key(name))
        .execute(&mut lock)
        .await;
    lock.close().await.ok();
}

#[cfg(test)]
mod tests {
    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(super::lock_key("compactor"), super::lock_key("compactor"));
        assert_ne!(super::lock_key("compactor"), super::lock_key("evaluator"));
    }
}
