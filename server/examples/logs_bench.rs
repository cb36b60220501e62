//! Log benchmarks against a running portal on loopback (see `bench/logs.sh`).
//!
//! ```text
//! logs_bench ingest    URL LINES_PER_REQUEST SENDERS SECONDS   Loki-push throughput, lines of now
//! logs_bench load      URL LINES HOURS                         LINES over the last HOURS, oldest first
//! logs_bench search    URL QUERY FROM RUNS                     /api/logs/search latency (100 lines)
//! logs_bench histogram URL QUERY FROM RUNS                     /api/logs/histogram latency
//! ```
//! Lines are an agent fleet's: 50 streams (`service_name` × `instance`), half JSON with fields
//! (agent, task, tool, tokens, duration), half plain text; 1 % carry "timeout", one in 100,000
//! "kerberos". Only acknowledged lines (2xx) count. `BENCH_TOKEN` is sent as a bearer token.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    sync::Arc,
    time::{Duration, Instant},
};

fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(token) = std::env::var("BENCH_TOKEN") {
        let value = format!("Bearer {token}")
            .parse()
            .expect("BENCH_TOKEN as a header value");
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("a client")
}

/// A small, fast generator (xorshift), seeded per sender.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const TOOLS: [&str; 6] = ["search", "browse", "python", "shell", "editor", "retrieve"];
const SERVICES: [&str; 5] = ["planner", "coder", "reviewer", "researcher", "tester"];

fn line(rng: &mut Rng, seq: u64) -> String {
    let agent = rng.below(40);
    let tool = TOOLS[rng.below(6) as usize];
    let ms = rng.below(5000);
    let task = rng.below(1_000_000);
    let roll = rng.below(100_000);
    let words = if roll == 0 {
        "kerberos ticket expired for the tool proxy"
    } else if roll < 1000 {
        "upstream timeout after 30s, retrying"
    } else if roll < 5000 {
        "rate limited by the model provider, backing off"
    } else {
        [
            "tool call finished",
            "task step planned",
            "context window trimmed",
            "memory stored",
        ][(roll % 4) as usize]
    };
    if seq.is_multiple_of(2) {
        let level = if roll < 1000 {
            "error"
        } else if roll < 5000 {
            "warn"
        } else {
            "info"
        };
        format!(
            r#"{{"level":"{level}","msg":"{words}","agent_id":"agent-{agent}","task_id":"t-{task}","tool":"{tool}","duration_ms":{ms},"tokens":{}}}"#,
            rng.below(8000)
        )
    } else {
        format!("{words}: agent-{agent} task t-{task} tool={tool} took {ms} ms")
    }
}

/// One Loki push request: `lines` lines over the 50 streams, times from `time_ns` (each line
/// one nanosecond apart within its stream, so no two are equal).
fn push_body(
    rng: &mut Rng,
    lines: usize,
    time_of: &mut dyn FnMut(&mut Rng) -> i64,
    seq: &mut u64,
) -> String {
    let mut streams: Vec<Vec<(i64, String)>> = vec![Vec::new(); 50];
    for _ in 0..lines {
        let s = rng.below(50) as usize;
        let t = time_of(rng);
        *seq += 1;
        streams[s].push((t, line(rng, *seq)));
    }
    let streams: Vec<serde_json::Value> = streams
        .into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(i, mut values)| {
            values.sort();
            serde_json::json!({
                "stream": {"service_name": SERVICES[i % 5], "instance": format!("worker-{}", i / 5)},
                "values": values.into_iter().map(|(t, l)| serde_json::json!([t.to_string(), l])).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({ "streams": streams }).to_string()
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// Senders push until `stop` says so (time or lines); acknowledged lines a second.
async fn run(
    url: &str,
    per_request: usize,
    senders: usize,
    until: Instant,
    max_lines: u64,
    spread_ns: i64,
) -> (u64, f64, u64) {
    let acked = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    // A spread load replays the span oldest first, each request the next slice of it, as a
    // shipper catching up sends them (`requests` numbers the slices across senders).
    let requests = Arc::new(AtomicU64::new(0));
    let slices = (max_lines / per_request as u64).max(1) as i64;
    let start_ns = now_ns() - spread_ns;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for sender in 0..senders {
        let (acked, refused, requests) = (acked.clone(), refused.clone(), requests.clone());
        let url = format!("{url}/loki/api/v1/push");
        tasks.push(tokio::spawn(async move {
            let client = client();
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((sender as u64 + 1) * 7919));
            let mut seq = 0;
            while Instant::now() < until && acked.load(Ordering::Relaxed) < max_lines {
                let base = now_ns();
                let slice_ns = (spread_ns / slices).max(1);
                let from_ns = start_ns + requests.fetch_add(1, Ordering::Relaxed) as i64 * slice_ns;
                let mut time_of = |rng: &mut Rng| {
                    if spread_ns > 0 {
                        (from_ns + (rng.next() % slice_ns as u64) as i64).min(base)
                    } else {
                        base - (rng.below(1_000_000) as i64)
                    }
                };
                let body = push_body(&mut rng, per_request, &mut time_of, &mut seq);
                match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        acked.fetch_add(per_request as u64, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        let retry = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()?.parse().ok())
                            .unwrap_or(1);
                        tokio::time::sleep(Duration::from_secs(retry)).await;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let n = acked.load(Ordering::Relaxed);
    (
        n,
        n as f64 / started.elapsed().as_secs_f64(),
        refused.load(Ordering::Relaxed),
    )
}

async fn latency(url: &str, path: &str, query: &str, from: &str, runs: usize) {
    let client = client();
    let mut times = Vec::new();
    let mut last = String::new();
    for _ in 0..runs {
        let started = Instant::now();
        let response = client
            .get(format!("{url}{path}"))
            .query(&[
                ("query", query),
                ("from", from),
                ("to", "now"),
                ("limit", "100"),
            ])
            .send()
            .await
            .expect("the portal answers");
        let status = response.status();
        last = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{status}: {last}");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let found = serde_json::from_str::<serde_json::Value>(&last)
        .ok()
        .map(|v| {
            v["lines"]
                .as_array()
                .map(|l| l.len().to_string())
                .or_else(|| v["total"].as_u64().map(|t| t.to_string()))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    println!(
        "{path} {query:?} from {from}: p50 {:.1} ms, p90 {:.1} ms, min {:.1} ms ({runs} runs; answered {found})",
        times[times.len() / 2],
        times[times.len() * 9 / 10],
        times[0]
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = |i: usize| -> u64 { args[i].parse().expect("a number") };
    match args.first().map(String::as_str) {
        Some("ingest") if args.len() == 5 => {
            let until = Instant::now() + Duration::from_secs(n(4));
            let (lines, rate, refused) =
                run(&args[1], n(2) as usize, n(3) as usize, until, u64::MAX, 0).await;
            println!("ingest: {lines} lines acknowledged, {rate:.0} lines/s ({refused} requests refused)");
        }
        Some("load") if args.len() == 4 => {
            let spread = n(3) as i64 * 3_600_000_000_000;
            let until = Instant::now() + Duration::from_secs(3600);
            let (lines, rate, refused) = run(&args[1], 2000, 4, until, n(2), spread).await;
            println!(
                "load: {lines} lines over {} h, {rate:.0} lines/s ({refused} requests refused)",
                n(3)
            );
        }
        Some("search") if args.len() == 5 => {
            latency(
                &args[1],
                "/api/logs/search",
                &args[2],
                &args[3],
                n(4) as usize,
            )
            .await
        }
        Some("histogram") if args.len() == 5 => {
            latency(
                &args[1],
                "/api/logs/histogram",
                &args[2],
                &args[3],
                n(4) as usize,
            )
            .await
        }
        _ => {
            eprintln!("usage: logs_bench ingest URL LINES_PER_REQUEST SENDERS SECONDS | load URL LINES HOURS | search URL QUERY FROM RUNS | histogram URL QUERY FROM RUNS");
            std::process::exit(2);
        }
    }
}
