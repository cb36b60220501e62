//! Faults on loopback: the database going away under ingest and coming back. Writes answer
//! 503 with Retry-After while it is away (what Prometheus and OpenTelemetry senders retry on),
//! `/readyz` says so, and the portal recovers by itself when the database returns; nothing it
//! acknowledged is lost.

use crate::alerting::{gauge, now_ms};
use crate::helpers::{scratch_dir, spawn_app_on, spawn_app_with, TestApp};
use server::{
    config::SettingsInput,
    embedded::{EmbeddedOptions, EmbeddedPostgres},
};
use std::time::{Duration, Instant};

/// Remote-writes one sample of `reliability_marker`; the status, Retry-After and body.
async fn write_marker(app: &TestApp, t: i64, value: f64) -> (u16, Option<String>, String) {
    let series = [gauge(
        "reliability_marker",
        &[("job", "fault")],
        vec![(t, value)],
    )];
    let response = app
        .client
        .post(app.url("/api/v1/write"))
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .body(server::ingest::remote_write::encode(&series, &[]))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("the portal answers");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let status = response.status().as_u16();
    (
        status,
        retry_after,
        response.text().await.unwrap_or_default(),
    )
}

/// A sender of one new sample per request that remembers what was acknowledged.
struct Writer {
    next: i64,
    base: i64,
    acknowledged: Vec<(i64, f64)>,
}

impl Writer {
    fn new() -> Self {
        Self {
            next: 0,
            base: now_ms() - 20 * 60_000,
            acknowledged: Vec::new(),
        }
    }

    async fn write(&mut self, app: &TestApp) -> (u16, Option<String>) {
        let (t, v) = (self.base + self.next * 10, self.next as f64);
        self.next += 1;
        let (status, retry_after, body) = write_marker(app, t, v).await;
        if status == 204 {
            self.acknowledged.push((t, v));
        }
        assert!(
            status == 204 || status == 503,
            "a write either lands or is refused with 503: {status} {body}"
        );
        (status, retry_after)
    }

    /// Writes until one is refused with 503; asserts its Retry-After.
    async fn until_refused(&mut self, app: &TestApp) {
        let start = Instant::now();
        loop {
            let (status, retry_after) = self.write(app).await;
            if status == 503 {
                let seconds: u64 = retry_after
                    .expect("a 503 carries Retry-After")
                    .parse()
                    .unwrap();
                assert!((1..=30).contains(&seconds), "Retry-After {seconds}");
                return;
            }
            assert_eq!(status, 204, "a write either lands or is refused with 503");
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "writes are refused soon after the database goes away"
            );
        }
    }

    /// Writes until one lands again; how long that took.
    async fn until_accepted(&mut self, app: &TestApp, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let (status, _) = self.write(app).await;
            if status == 204 {
                return start.elapsed();
            }
            assert_eq!(status, 503, "while recovering, writes are refused with 503");
            assert!(
                start.elapsed() < limit,
                "the portal recovers within {limit:?} of the database's return"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every acknowledged sample is there.
    async fn assert_nothing_lost(&self, app: &TestApp) {
        let result = app.instant("reliability_marker[1h]").await;
        let stored: Vec<(i64, f64)> = result
            .iter()
            .flat_map(|s| s["values"].as_array().unwrap().clone())
            .map(|p| {
                (
                    (p[0].as_f64().unwrap() * 1000.0).round() as i64,
                    p[1].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        let lost: Vec<_> = self
            .acknowledged
            .iter()
            .filter(|s| !stored.contains(s))
            .collect();
        assert!(
            lost.is_empty(),
            "{} of {} acknowledged samples lost: {lost:?}",
            lost.len(),
            self.acknowledged.len()
        );
    }
}

/// The pid in the cluster's lock file, when a postmaster that is alive holds it.
fn postmaster_pid(data_dir: &std::path::Path) -> Option<i32> {
    let lock = std::fs::read_to_string(data_dir.join("postgres/postmaster.pid")).ok()?;
    let pid: i32 = lock.lines().next()?.trim().parse().ok()?;
    // SAFETY: signal 0 only checks that the process exists.
    (unsafe { libc::kill(pid, 0) } == 0).then_some(pid)
}

async fn readiness(app: &TestApp) -> u16 {
    app.get("/readyz").await.status().as_u16()
}

#[tokio::test]
async fn an_external_postgresql_stopped_and_started_again_costs_503s_and_no_sample() {
    // A server of its own, reached through DATABASE_URL like any external one.
    let options = EmbeddedOptions {
        data_dir: scratch_dir().join("external"),
        bin_dir: None,
        user: "postgres".into(),
    };
    let pg = EmbeddedPostgres::start(&options, "portal").await.unwrap();
    let app = spawn_app_on(pg.connect_options("portal"), SettingsInput::default()).await;
    let mut writer = Writer::new();
    for _ in 0..5 {
        assert_eq!(writer.write(&app).await.0, 204);
    }

    pg.stop().await.unwrap();
    writer.until_refused(&app).await;
    assert_eq!(
        readiness(&app).await,
        503,
        "/readyz says the database is away"
    );

    let pg = EmbeddedPostgres::start(&options, "portal").await.unwrap();
    let took = writer.until_accepted(&app, Duration::from_secs(15)).await;
    eprintln!("the external database is back; writes land again {took:?} later");
    assert_eq!(readiness(&app).await, 200);
    for _ in 0..5 {
        assert_eq!(writer.write(&app).await.0, 204);
    }
    writer.assert_nothing_lost(&app).await;
    app.stop().await;
    pg.stop().await.unwrap();
}

#[tokio::test]
async fn an_embedded_postgresql_that_is_killed_is_started_again() {
    let data_dir = scratch_dir();
    let app = spawn_app_with(SettingsInput {
        data_dir: Some(data_dir.clone()),
        ..SettingsInput::default()
    })
    .await;
    let mut writer = Writer::new();
    for _ in 0..5 {
        assert_eq!(writer.write(&app).await.0, 204);
    }
    let postmaster = postmaster_pid(&data_dir).unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(postmaster, libc::SIGKILL) }, 0);

    // The portal starts a new PostgreSQL at once; a write meanwhile waits for a connection (up
    // to the pool's 5 s) or is refused with 503, and none is lost.
    let killed = Instant::now();
    let mut longest = Duration::ZERO;
    let restarted = loop {
        let sent = Instant::now();
        let (status, _) = writer.write(&app).await;
        longest = longest.max(sent.elapsed());
        let now_running = postmaster_pid(&data_dir).filter(|&pid| pid != postmaster);
        if let (204, Some(pid)) = (status, now_running) {
            break pid;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "writes land again within 30 s of the kill"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "postmaster {postmaster} killed; {restarted} serves writes {:?} later; the longest write took {longest:?}",
        killed.elapsed()
    );
    assert_eq!(readiness(&app).await, 200);
    for _ in 0..5 {
        assert_eq!(writer.write(&app).await.0, 204);
    }
    writer.assert_nothing_lost(&app).await;
    app.stop().await;
}

/// A remote-write body of `n` series with distinct labels (so it does not compress away).
fn wide_body(n: usize, t: i64) -> Vec<u8> {
    let series: Vec<_> = (0..n)
        .map(|i| {
            let id = format!("{:x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            gauge("shed_marker", &[("id", &id)], vec![(t, i as f64)])
        })
        .collect();
    server::ingest::remote_write::encode(&series, &[])
}

/// With `input`'s limit, a slow sender holds what it was admitted with while its body trickles
/// in; the next write is shed at once with 503, Retry-After and `message`, counted under
/// `reason`; when the slow one completes it is stored and writes fit again.
/// A slow sender holds its share of the budget while its body arrives; a write sent meanwhile is
/// shed before its body is read. With `byte_budget`, the budget is what the slow write takes
/// once decoded (its body and what that decodes to), so one write fits and the one sent
/// meanwhile, announcing more than is left, does not.
async fn shed_while_a_slow_sender_holds(
    mut input: SettingsInput,
    byte_budget: bool,
    reason: &str,
    message_part: &str,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = now_ms();
    let body = wide_body(600, t);
    assert!((10 << 10..16 << 10).contains(&body.len()), "{}", body.len());
    let decoded = snap::raw::decompress_len(&body).unwrap();
    let budget = body.len() + decoded + 4096;
    if byte_budget {
        input.ingest_max_inflight = Some(server::config::ByteSize(budget as u64));
    }
    let app = crate::helpers::spawn_one_app_on(crate::helpers::fresh_database().await, input).await;

    // A sender that announces its body and sends it slowly holds its share meanwhile.
    let address = app.address.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/write HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\ncontent-encoding: snappy\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
        app.token,
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body[..100]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let post = || {
        app.client
            .post(app.url("/api/v1/write"))
            .header("content-encoding", "snappy")
            .header("content-type", "application/x-protobuf")
            .body(body.clone())
            .send()
    };
    let announced = if byte_budget {
        vec![0u8; budget]
    } else {
        body.clone()
    };
    let shed = app
        .client
        .post(app.url("/api/v1/write"))
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .body(announced)
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    let message = shed.text().await.unwrap();
    assert!(message.contains(message_part), "{message}");

    // The slow one completes and is stored; then there is room again.
    slow.write_all(&body[100..]).await.unwrap();
    let mut answer = vec![0u8; 64];
    let n = slow.read(&mut answer).await.unwrap();
    let status_line = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(status_line.starts_with("HTTP/1.1 204"), "{status_line}");
    assert_eq!(post().await.unwrap().status(), 204);

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(&format!(
            "portal_ingest_requests_shed_total{{reason=\"{reason}\"}} 1"
        )),
        "{metrics}"
    );
    assert_eq!(
        app.instant("count(shed_marker)").await[0]["value"][1],
        "600"
    );
    app.stop().await;
}

#[tokio::test]
async fn writes_past_the_in_flight_byte_budget_are_shed_with_503_before_their_bodies_are_read() {
    shed_while_a_slow_sender_holds(
        SettingsInput::default(),
        true,
        "inflight_bytes",
        "in flight",
    )
    .await;
}

#[tokio::test]
async fn writes_past_the_in_flight_request_limit_are_shed_with_503_before_their_bodies_are_read() {
    let input = SettingsInput {
        ingest_max_inflight_requests: Some(1),
        ..SettingsInput::default()
    };
    shed_while_a_slow_sender_holds(input, false, "inflight_requests", "writes in progress").await;
}

/// The in-flight budget counts what a body decodes to, before it is decoded: a small compressed
/// body that inflates past the whole budget is refused (413) where it was once taken whole,
/// and one that fits is stored.
#[tokio::test]
async fn the_in_flight_budget_counts_decoded_bytes() {
    let app = spawn_app_with(SettingsInput {
        ingest_max_inflight: Some(server::config::ByteSize(512 << 10)),
        ..SettingsInput::default()
    })
    .await;
    let gzip = |text: &str| {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    };
    let otlp = |padding: usize| {
        let body = gzip(&format!(
            "{{\"resourceMetrics\": []{}}}",
            " ".repeat(padding)
        ));
        app.client
            .post(app.url("/v1/metrics"))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(body)
            .send()
    };
    let r = otlp(1 << 20).await.unwrap();
    assert_eq!(r.status(), 413, "1 MiB decoded, a few KiB sent");
    let r = otlp(64 << 10).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Remote write: snappy says the size before decompressing.
    let raw = vec![0u8; 1 << 20];
    let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
    assert!(body.len() < 64 << 10);
    let r = app
        .client
        .post(app.url("/api/v1/write"))
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    app.stop().await;
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = scratch_dir().join("small-disk");
        std::fs::create_dir_all(&dir).unwrap();
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0777"),
                "tmpfs",
            ])
            .arg(&dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mounting a tmpfs on {}", dir.display());
        Self(dir)
    }

    /// Fills the disk to the last page; the filler file is returned to free it again.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        for block in [1 << 20, 4096] {
            let zeros = vec![0u8; block];
            while file.write_all(&zeros).is_ok() {}
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_keeps_reads_and_recovers_when_space_returns() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test mounts a small disk, which takes root: run the suite as root, as CI does"
    );
    let disk = SmallDisk::mount("160m");
    let app = spawn_app_with(SettingsInput {
        data_dir: Some(disk.0.clone()),
        ..SettingsInput::default()
    })
    .await;
    let mut writer = Writer::new();
    for _ in 0..5 {
        assert_eq!(writer.write(&app).await.0, 204);
    }
    let filler = disk.fill();

    // Writes go on while the pages PostgreSQL has already allocated have room, then one is
    // refused with 503, Retry-After and a message that says why; it stores nothing.
    writer.until_refused(&app).await;
    let (status, retry_after, body) = write_marker(&app, now_ms(), -1.0).await;
    assert_eq!(status, 503, "{body}");
    assert!(retry_after.is_some());
    assert!(body.contains("disk is full"), "{body}");
    // Reads go on: queries, the series list, the pages' data.
    writer.assert_nothing_lost(&app).await;
    let series = app.get("/api/v1/series?match[]=reliability_marker").await;
    assert_eq!(series.status(), 200);
    assert_eq!(readiness(&app).await, 200);

    // Space returns: the portal takes writes again without a restart, and nothing it
    // acknowledged before, during or after is lost.
    std::fs::remove_file(filler).unwrap();
    let recovered = writer.until_accepted(&app, Duration::from_secs(10)).await;
    eprintln!("writes land again {recovered:?} after space returned");
    for _ in 0..5 {
        assert_eq!(writer.write(&app).await.0, 204);
    }
    writer.assert_nothing_lost(&app).await;
    // …and nothing refused was stored.
    let count = app.instant("count_over_time(reliability_marker[1h])").await;
    assert_eq!(count[0]["value"][1], writer.acknowledged.len().to_string());
    app.stop().await;
}

/// A connection given back inside a transaction (what a request abandoned during its `BEGIN`
/// leaves, sqlx#4393) is closed rather than lent again: the next borrower starts outside any
/// transaction, and its own transaction works.
#[tokio::test]
async fn a_connection_left_in_a_transaction_is_not_lent_again() {
    let pool = server::store::connect(crate::helpers::fresh_database().await, 1)
        .await
        .expect("a pool");
    let mut conn = pool.acquire().await.expect("a connection");
    let first: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    // A transaction the driver does not count, as a cancelled BEGIN leaves.
    sqlx::raw_sql("begin").execute(&mut *conn).await.unwrap();
    drop(conn);

    let mut conn = pool.acquire().await.expect("a connection");
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_ne!(pid, first, "the session left in a transaction was closed");
    let before = sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>("select now()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let after = sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>("select now()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert!(
        after > before,
        "the new session runs each statement in its own transaction"
    );
    drop(conn);

    // A connection given back clean is lent again.
    let mut tx = pool.begin().await.expect("a transaction begins");
    sqlx::query("select 1").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let again: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(again, pid, "a clean connection stays in the pool");
}
