//! Background jobs across replicas: two real portal processes on one database run a
//! one-replica job (compaction) on exactly one of them, and when that one is killed with
//! SIGKILL the other takes the job over.

use crate::helpers::{fresh_database, url_of};
use std::{
    process::Stdio,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

const JOB: &str = "portal_worker_up{worker=\"compactor\"}";

/// A portal process serving on a port of its own against `database_url`.
pub struct Portal {
    pub child: Child,
    pub url: String,
    /// A client with an admin token for this portal's database.
    pub client: reqwest::Client,
}

pub async fn start_portal(database_url: &str) -> Portal {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("PORTAL_LISTEN", "127.0.0.1:0")
        .env("PORTAL_DATA_DIR", crate::helpers::scratch_dir())
        .env("PORTAL_SCRAPE_SELF", "false")
        .env("PORTAL_WORKER_LOCK_RETRY", "300ms")
        .env("PORTAL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the portal binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix("Portal is running at ") {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("the portal exited before serving");
    })
    .await
    .expect("the portal serves within a minute");
    let pool = sqlx::PgPool::connect(database_url).await.unwrap();
    let token =
        crate::helpers::make_token(&pool, "replica tests", &[app::api::accounts::Scope::Admin])
            .await;
    pool.close().await;
    Portal {
        child,
        url,
        client: crate::helpers::client_with(Some(&token)),
    }
}

/// Whether `portal` runs the compactor now (None when it does not answer).
async fn runs_job(portal: &Portal) -> Option<bool> {
    runs_worker(portal, JOB).await
}

/// Whether `portal` reports `gauge` (a `portal_worker_up{…}` series) at 1.
pub async fn runs_worker(portal: &Portal, gauge: &str) -> Option<bool> {
    let text = reqwest::get(format!("{}/metrics", portal.url))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    Some(text.lines().any(|l| l == format!("{gauge} 1")))
}

/// Waits until `check` holds, up to `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_one_replica_job_runs_on_one_portal_and_moves_when_that_portal_is_killed() {
    let database_url = url_of(&fresh_database().await);
    let mut a = start_portal(&database_url).await;
    let mut b = start_portal(&database_url).await;

    // Exactly one runs the job, and it stays that way.
    let (ra, rb) = (&a, &b);
    assert!(
        eventually(Duration::from_secs(10), || async move {
            let (x, y) = (runs_job(ra).await, runs_job(rb).await);
            matches!(
                (x, y),
                (Some(true), Some(false)) | (Some(false), Some(true))
            )
        })
        .await,
        "one portal takes the job"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let a_runs = runs_job(&a).await.unwrap();
    assert_ne!(
        Some(a_runs),
        runs_job(&b).await,
        "never both, never neither"
    );

    // Kill the holder as a crash would: its lock connection goes with it.
    let (holder, other) = if a_runs { (&mut a, &b) } else { (&mut b, &a) };
    holder.child.start_kill().unwrap();
    holder.child.wait().await.unwrap();
    let killed_at = Instant::now();

    assert!(
        eventually(Duration::from_secs(10), || async move {
            runs_job(other).await == Some(true)
        })
        .await,
        "the other portal takes the job over"
    );
    assert!(killed_at.elapsed() < Duration::from_secs(10));
    for portal in [&mut a, &mut b] {
        if let Some(pid) = portal.child.id() {
            // SAFETY: sends SIGINT to a child this test started.
            unsafe { libc::kill(pid as i32, libc::SIGINT) };
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), portal.child.wait()).await;
    }
}
