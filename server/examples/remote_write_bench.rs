//! Remote-write ingest benchmark: sends batches of agent counters to a running portal (or any
//! remote-write receiver) on loopback for a fixed time and reports committed samples per second.
//!
//! `cargo run --release -p server --example remote_write_bench -- [URL] [SERIES] [SAMPLES_PER_SERIES] [SENDERS] [SECONDS]`
//! defaults: http://127.0.0.1:3000/api/v1/write 1000 2 4 20

use server::{
    ingest::{remote_write::encode, IncomingSeries},
    labels::SeriesKey,
};
use std::{
    sync::atomic::{AtomicU64, Ordering},
    sync::Arc,
    time::{Duration, Instant},
};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let url = arg(0, "http://127.0.0.1:3000/api/v1/write");
    let series: usize = arg(1, "1000").parse().expect("SERIES is a number");
    let per_series: usize = arg(2, "2").parse().expect("SAMPLES_PER_SERIES is a number");
    let senders: usize = arg(3, "4").parse().expect("SENDERS is a number");
    let seconds: u64 = arg(4, "20").parse().expect("SECONDS is a number");
    assert!(
        url.contains("127.0.0.1") || url.contains("localhost"),
        "the benchmark only targets loopback"
    );

    let keys: Arc<Vec<SeriesKey>> = Arc::new(
        (0..series)
            .map(|i| {
                let agent = format!("agent-{i:05}");
                SeriesKey::from_pairs([
                    ("__name__", "agent_task_success_total"),
                    ("agent_id", agent.as_str()),
                    ("job", "bench"),
                ])
                .unwrap()
            })
            .collect(),
    );
    let samples = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    // Timestamps start an hour back and advance 10 ms per sample, so a long run stays inside the
    // accepted window (a real scrape is slower; the store does not care about the spacing).
    let start_ms = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let clock = Arc::new(AtomicU64::new(0));

    let started = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (keys, samples, requests, failures, client, url, clock) = (
                keys.clone(),
                samples.clone(),
                requests.clone(),
                failures.clone(),
                client.clone(),
                url.clone(),
                clock.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let tick = clock.fetch_add(per_series as u64, Ordering::Relaxed) as i64;
                    let batch: Vec<IncomingSeries> = keys
                        .iter()
                        .map(|key| IncomingSeries {
                            key: key.clone(),
                            samples: (0..per_series as i64)
                                .map(|k| (start_ms + (tick + k) * 10, (tick + k) as f64))
                                .collect(),
                        })
                        .collect();
                    let body = encode(&batch, &[]);
                    match client
                        .post(&url)
                        .header("content-encoding", "snappy")
                        .body(body)
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => {
                            samples.fetch_add((keys.len() * per_series) as u64, Ordering::Relaxed);
                            requests.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("sender task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = samples.load(Ordering::Relaxed);
    println!(
        "{total} samples in {} requests over {elapsed:.1}s: {:.0} samples/s ({} failed requests; {series} series x {per_series} samples per request, {senders} senders)",
        requests.load(Ordering::Relaxed),
        total as f64 / elapsed,
        failures.load(Ordering::Relaxed),
    );
}
