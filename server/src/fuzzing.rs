//! What the fuzz targets in `fuzz/` drive, one function per decoder or parser that takes bytes
//! from the network, and what the corpus test replays on every `cargo test`. Each takes any
//! bytes and must return: no panic, no unbounded allocation, no endless loop. Errors are the
//! expected answer to most inputs and are dropped.

use crate::{
    alerting::{muting, promfile},
    dashboards,
    ingest::{otlp, remote_write},
    otlp::{decode, Encoding},
    query::{guard, promql},
    scrape,
};
use std::time::{Duration, Instant};

/// Called once before a fuzz target's first input: puts the ordinary panic hook back in place
/// of libFuzzer's, which aborts at every panic, even one the code under test catches on purpose
/// (the PromQL parser's, see `query::guard::syntax`). A panic nothing catches still ends the run:
/// libFuzzer's entry point aborts when one reaches it.
pub fn init() {
    let _ = std::panic::take_hook();
}

/// What a target does with one input.
pub type Target = fn(&[u8]);

/// Every target by the name its fuzz target and corpus directory have.
pub const TARGETS: &[(&str, Target)] = &[
    ("remote_write", remote_write_body),
    ("otlp_metrics", otlp_metrics_body),
    ("exposition", exposition_text),
    ("promql", promql_query),
    ("dashboard_json", dashboard_json),
    ("rule_file", rule_file),
    ("alertmanager_alerts", alertmanager_alerts),
    ("silence", silence_body),
];

/// A remote-write request body (snappy-compressed protobuf), decoded as the write handler does.
pub fn remote_write_body(data: &[u8]) {
    let _ = remote_write::decode(data, 32 << 20, |f| vec![None; f.len()]);
}

/// An OTLP/HTTP metrics body, as protobuf and as JSON, decoded and translated into series.
pub fn otlp_metrics_body(data: &[u8]) {
    let totals = otlp::DeltaTotals::default();
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        if let Ok(request) = decode(data, encoding, "metrics request") {
            let _ = otlp::translate(&request, &totals);
        }
    }
}

/// A scraped page in the Prometheus text format.
pub fn exposition_text(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = scrape::text::parse(text);
    }
}

/// A PromQL query: parsed under the default depth limit, then evaluated at one instant and over
/// ten steps against a few series (a counter with a reset, a gauge ended by a staleness marker),
/// under a one-second deadline and a sample limit, as the query service runs it.
pub fn promql_query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = guard::parse(text, 500) else {
        return;
    };
    let source = sample_source();
    let budget = || {
        promql::Budget::new(
            Default::default(),
            Some(Instant::now() + Duration::from_secs(1)),
            200_000,
            0,
        )
    };
    let end = 600_000;
    let _ = promql::evaluate_range(&source, &expr, 0, end, 60_000, &budget());
    let _ = on_eval_stack(|| promql::evaluate_instant(&source, &expr, end, &budget()));
}

/// Runs `work` on a thread with the evaluator's stack, as the query service does, and passes on
/// a panic it raised to the caller (the fuzzer's entry point), which a discarded join would
/// hide.
fn on_eval_stack<T: Send>(work: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .stack_size(promql::EVAL_STACK_BYTES)
            .spawn_scoped(scope, work)
            .ok()?;
        match handle.join() {
            Ok(out) => Some(out),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn sample_source() -> promql::MemorySource {
    let labels = |pairs: &[(&str, &str)]| -> promql::Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into()
    };
    let counter: Vec<(i64, f64)> = (0..=40)
        .map(|i| {
            (
                i * 15_000,
                if i < 20 {
                    i as f64 * 3.0
                } else {
                    (i - 20) as f64
                },
            )
        })
        .collect();
    let mut gauge: Vec<(i64, f64)> = (0..20).map(|i| (i * 15_000, (i % 7) as f64)).collect();
    gauge.push((300_000, f64::from_bits(promql::STALE_NAN_BITS)));
    promql::MemorySource::new(vec![
        promql::Series {
            labels: labels(&[("__name__", "requests_total"), ("job", "a"), ("le", "0.5")]),
            points: counter.clone(),
        },
        promql::Series {
            labels: labels(&[("__name__", "requests_total"), ("job", "b"), ("le", "+Inf")]),
            points: counter.iter().map(|&(t, v)| (t, v * 2.0)).collect(),
        },
        promql::Series {
            labels: labels(&[("__name__", "depth"), ("job", "a")]),
            points: gauge,
        },
    ])
}

/// A dashboard import: the portal's JSON or Grafana's.
pub fn dashboard_json(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok((dashboard, _)) = dashboards::parse_import(value, None) {
            let _ = dashboard.validate();
        }
    }
}

/// A Prometheus rule file.
pub fn rule_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = promfile::parse(text, "fuzz");
    }
}

/// The body of Alertmanager's `POST /api/v2/alerts`.
pub fn alertmanager_alerts(data: &[u8]) {
    if let Ok(posted) = serde_json::from_slice::<Vec<muting::PostedAlert>>(data) {
        let _ = muting::check_received(posted, chrono::Utc::now());
    }
}

/// A silence or maintenance window as the API takes it, with its matchers and schedule checked.
pub fn silence_body(data: &[u8]) {
    if let Ok(silence) = serde_json::from_slice::<app::api::silences::SaveSilence>(data) {
        let _ = silence.validate(chrono::Duration::days(30));
        let _ = crate::alerting::notify::check_matchers(&silence.matchers, "matchers");
        if let Some(schedule) = &silence.schedule {
            if let Ok(compiled) = crate::alerting::schedule::Compiled::new(schedule, "schedule") {
                let _ = compiled.span();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// A panic in the evaluation thread reaches the fuzzer instead of vanishing in a join.
    #[test]
    fn a_panic_on_the_evaluation_thread_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| super::on_eval_stack(|| panic!("in evaluation")));
        assert!(caught.is_err());
        assert_eq!(super::on_eval_stack(|| 7), Some(7));
    }
}
