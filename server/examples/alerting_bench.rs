//! Alerting benchmarks in one process on an embedded PostgreSQL (see `bench/alerting.sh`):
//!
//! - evaluation: groups of 10 and 50 rules, each over 1,000 series, evaluated at successive
//!   slots (query, condition, state machine, instances and changes saved): rules × series per
//!   second;
//! - the preview of a rule over 24 hours of 1,000 series at a 1-minute interval;
//! - the history of a rule and the rule list (fired in 7 days) with 1,000,000 state changes
//!   stored: median and 95th percentile.

use app::api::alerting::{Condition, PreviewRequest, Rule, RuleGroup, RuleSource};
use server::{
    admission::ReadAdmission,
    alerting::{scheduler, Alerting},
    embedded::{EmbeddedOptions, EmbeddedPostgres},
    ingest::{IncomingSeries, IngestLimits, Ingester},
    labels::SeriesKey,
    logs::{LogsService, Scrubber},
    portal_metrics::PortalMetrics,
    query::{QueryLimits, QueryRange, QueryService},
    store::{self, alerting as db},
    tsdb::Storage,
};
use sqlx::postgres::PgPoolOptions;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

const SERIES: usize = 1_000;
const MINUTE: i64 = 60_000;

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

/// Depth of queue `i` at minute `m`: a slow wave per queue; about one in ten crosses 100 at
/// its peaks.
fn depth(i: usize, m: i64) -> f64 {
    let phase = i as f64 * 0.37;
    let amplitude = if i.is_multiple_of(10) { 80.0 } else { 40.0 };
    50.0 + amplitude * ((m as f64) / 90.0 + phase).sin()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let pg = EmbeddedPostgres::start(
        &EmbeddedOptions {
            data_dir: dir.path().join("data"),
            bin_dir: None,
            user: "postgres".into(),
        },
        "portal",
    )
    .await?;
    let result = run(&pg).await;
    pg.stop().await?;
    result
}

async fn run(pg: &EmbeddedPostgres) -> anyhow::Result<()> {
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(pg.connect_options("portal"))
        .await?;
    store::MIGRATOR.run(&pool).await?;
    let metrics = PortalMetrics::new();
    let storage = Arc::new(Storage::new(pool.clone(), Default::default()));
    let ingester = Arc::new(Ingester::new(
        pool.clone(),
        storage.clone(),
        IngestLimits::default(),
        metrics.clone(),
    ));
    let reads = Arc::new(ReadAdmission::new(4, 100, metrics.clone()));
    let logs = LogsService::new(
        pool.clone(),
        Default::default(),
        Scrubber::default(),
        reads.clone(),
    );
    let queries = QueryService::new(
        pool.clone(),
        storage,
        QueryLimits {
            max_depth: 500,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            max_concurrent: 4,
            max_queued: 100,
        },
        reads,
        metrics,
    );
    let alerting = Alerting::new(
        pool.clone(),
        queries.clone(),
        logs,
        ingester.clone(),
        "http://127.0.0.1:3000".into(),
    );

    // 24 hours of 1,000 queues, one sample a minute (1.44 M samples).
    let now = chrono::Utc::now().timestamp_millis() / MINUTE * MINUTE;
    let start = now - 24 * 60 * MINUTE;
    let loading = Instant::now();
    for hour in 0..24 {
        let batch: Vec<IncomingSeries> = (0..SERIES)
            .map(|i| IncomingSeries {
                key: SeriesKey::from_pairs([
                    ("__name__", "bench_queue_depth".to_string()),
                    ("queue", format!("q{i:04}")),
                ])
                .expect("valid labels"),
                samples: (0..60)
                    .map(|m| {
                        let minute = hour * 60 + m;
                        (start + minute * MINUTE, depth(i, minute))
                    })
                    .collect(),
            })
            .collect();
        ingester.write("bench", batch).await?;
    }
    println!(
        "loaded {} series × 24 h at 1 min in {:.1} s",
        SERIES,
        loading.elapsed().as_secs_f64()
    );

    println!("\n## Evaluation (each rule over {SERIES} series; a tenth of them alerting)\n");
    println!("| rules in the group | evaluations | median per group | rules × series per second |");
    println!("|---|---|---|---|");
    for rules in [10usize, 50] {
        let group = RuleGroup {
            folder: "bench".into(),
            name: format!("g{rules}"),
            interval: "1m".into(),
            source: RuleSource::Api,
            rules: (0..rules)
                .map(|r| Rule {
                    name: format!("QueueDeep{r}"),
                    query: "max by (queue) (bench_queue_depth)".into(),
                    condition: Condition::Above {
                        threshold: 95.0 + r as f64 * 0.01,
                    },
                    for_duration: "2m".into(),
                    ..Rule::default()
                })
                .collect(),
        };
        alerting
            .put_group(group, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let row = db::select_group(&pool, "bench", &format!("g{rules}"))
            .await?
            .expect("the group exists");
        let mut times = Vec::new();
        // Twenty evaluations over the last twenty minutes of data: alerts come and go.
        for k in (0..20).rev() {
            let t = Instant::now();
            scheduler::evaluate_group(&alerting, &row, now - k * MINUTE).await?;
            times.push(t.elapsed().as_secs_f64());
        }
        let median = percentile(&mut times, 0.5);
        println!(
            "| {rules} | 20 | {:.0} ms | {:.0} |",
            median * 1000.0,
            (rules * SERIES) as f64 / median
        );
    }

    println!("\n## Preview: 24 h of {SERIES} series at a 1-minute interval (1,441 evaluations)\n");
    let rule = Rule {
        name: "QueueDeep".into(),
        query: "max by (queue) (bench_queue_depth)".into(),
        condition: Condition::Above { threshold: 100.0 },
        for_duration: "10m".into(),
        ..Rule::default()
    };
    let mut times = Vec::new();
    let mut alerts = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let preview = alerting
            .preview(PreviewRequest {
                rule: rule.clone(),
                interval: "1m".into(),
                start: Some(now - 24 * 60 * MINUTE),
                end: Some(now),
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64());
        alerts = preview.alerts;
    }
    println!(
        "median {:.0} ms, p95 {:.0} ms over 5 runs; it would have sent {alerts} alerts",
        percentile(&mut times.clone(), 0.5) * 1000.0,
        percentile(&mut times, 0.95) * 1000.0
    );
    let mut query_times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let expr = queries.parse(&rule.query)?;
        queries
            .range(
                expr,
                QueryRange::new(now - 24 * 60 * MINUTE, now, MINUTE)
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?,
            )
            .await?;
        query_times.push(t.elapsed().as_secs_f64());
    }
    println!(
        "of which the range query alone: median {:.0} ms",
        percentile(&mut query_times, 0.5) * 1000.0
    );

    println!("\n## History with 1,000,000 state changes (100 rules × 1,000 alerts × 10 changes over 7 days)\n");
    let uid = db::select_rules(&pool)
        .await?
        .first()
        .expect("a rule")
        .uid
        .clone();
    let filling = Instant::now();
    sqlx::query(
        "insert into alert_state_change (rule_uid, fingerprint, labels, at, from_state, to_state, value)
         select case when r = 0 then $1 else 'bench-' || r end, f,
                jsonb_build_object('alertname', 'QueueDeep', 'queue', 'q' || f),
                now() - interval '7 days' + (c * interval '16 hours') + (f * interval '1 second'),
                case c % 3 when 0 then 'inactive' when 1 then 'pending' else 'firing' end,
                case c % 3 when 0 then 'pending' when 1 then 'firing' else 'inactive' end,
                100 + c
         from generate_series(0, 99) r, generate_series(0, 999) f, generate_series(0, 9) c",
    )
    .bind(&uid)
    .execute(&pool)
    .await?;
    sqlx::query("analyze alert_state_change")
        .execute(&pool)
        .await?;
    println!("inserted in {:.1} s\n", filling.elapsed().as_secs_f64());
    println!("| query | median | p95 |");
    println!("|---|---|---|");
    let end = chrono::Utc::now();
    for (label, days) in [
        ("a rule's history, 7 days (10,000 changes, 5,000 listed)", 7),
        ("a rule's history, 1 day", 1),
    ] {
        let mut times = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            alerting
                .history(&uid, end - chrono::Duration::days(days), end)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(t.elapsed().as_secs_f64());
        }
        println!(
            "| {label} | {:.1} ms | {:.1} ms |",
            percentile(&mut times.clone(), 0.5) * 1000.0,
            percentile(&mut times, 0.95) * 1000.0
        );
    }
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        alerting.rules().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64());
    }
    println!(
        "| the rule list with fired-in-7-days counts (60 rules, 1 M changes) | {:.1} ms | {:.1} ms |",
        percentile(&mut times.clone(), 0.5) * 1000.0,
        percentile(&mut times, 0.95) * 1000.0
    );
    let plan: Vec<(String,)> = sqlx::query_as(
        "explain analyze select rule_uid, labels, at, from_state, to_state, value from alert_state_change
         where rule_uid = $1 and at >= now() - interval '7 days' and at <= now() order by at desc limit 5001",
    )
    .bind(&uid)
    .fetch_all(&pool)
    .await?;
    println!("\nEXPLAIN ANALYZE of a rule's 7-day history:\n");
    for (line,) in plan {
        println!("    {line}");
    }
    muting(&alerting).await
}

/// Alerts received through Alertmanager's API and what mutes them: 10,000 alerts posted at
/// once; then each pass's work (every alert held, its silences, windows, inhibitions and
/// routes) with 100 silences (half of them regular expressions), 20 recurring windows and 10
/// inhibition rules.
async fn muting(alerting: &Alerting) -> anyhow::Result<()> {
    use app::api::{
        alerting::parse_matchers,
        silences::{InhibitRule, SaveSilence, Schedule},
    };
    use server::alerting::muting::PostedAlert;
    const ALERTS: usize = 10_000;
    let err = |e: server::error::ApiError| anyhow::anyhow!("{e}");
    println!("\n## Received alerts and muting ({ALERTS} alerts)\n");
    let posted: Vec<PostedAlert> = (0..ALERTS)
        .map(|i| {
            let labels = [
                (
                    "alertname",
                    if i % 10 == 0 {
                        "AgentDown"
                    } else {
                        "AgentTaskFailures"
                    }
                    .to_string(),
                ),
                ("agent_id", format!("agent-{}", i / 10)),
                ("team", format!("team-{}", i % 50)),
                (
                    "severity",
                    if i % 3 == 0 { "critical" } else { "warning" }.to_string(),
                ),
            ];
            serde_json::from_value(serde_json::json!({
                "labels": labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                "annotations": {"summary": "bench"},
                "generatorURL": "http://prometheus:9090/graph",
            }))
            .expect("a posted alert")
        })
        .collect();
    let t = Instant::now();
    alerting.receive(posted.clone()).await.map_err(err)?;
    let first = t.elapsed();
    let t = Instant::now();
    alerting.receive(posted).await.map_err(err)?;
    println!(
        "| step | time |\n|---|---|\n| one post of {ALERTS} new alerts | {:.0} ms |\n| the same {ALERTS} again (merged) | {:.0} ms |",
        first.as_secs_f64() * 1000.0,
        t.elapsed().as_secs_f64() * 1000.0
    );
    let now = chrono::Utc::now();
    for i in 0..100 {
        let matchers = if i % 2 == 0 {
            format!("team=\"team-{i}\", severity=\"warning\"")
        } else {
            format!("team=~\"team-{i}|none\", agent_id=~\"agent-.*\"")
        };
        alerting
            .save_silence(SaveSilence {
                id: String::new(),
                matchers: parse_matchers(&matchers).expect("matchers"),
                starts_at: now,
                ends_at: now + chrono::Duration::hours(2),
                created_by: "bench".into(),
                comment: String::new(),
                schedule: None,
                notify: String::new(),
            })
            .await
            .map_err(err)?;
    }
    for i in 0..20 {
        alerting
            .save_silence(SaveSilence {
                id: String::new(),
                matchers: parse_matchers(&format!("team=\"team-{}\"", 20 + i)).expect("matchers"),
                starts_at: now,
                ends_at: now,
                created_by: "bench".into(),
                comment: String::new(),
                schedule: Some(Schedule {
                    time_zone: "Europe/Berlin".into(),
                    start_time: "00:00".into(),
                    end_time: "00:00".into(),
                    weekdays: Vec::new(),
                    weeks_of_month: Vec::new(),
                    days_of_month: Vec::new(),
                    months: Vec::new(),
                    every_weeks: 1,
                    from: (now - chrono::Duration::days(2)).date_naive(),
                    until: None,
                }),
                notify: String::new(),
            })
            .await
            .map_err(err)?;
    }
    alerting
        .put_inhibit_rules(
            (0..10)
                .map(|i| InhibitRule {
                    source_matchers: parse_matchers("alertname=\"AgentDown\"").expect("matchers"),
                    target_matchers: parse_matchers(&format!(
                        "alertname=\"AgentTaskFailures\", severity=~\"warning|critical|x{i}\""
                    ))
                    .expect("matchers"),
                    equal: vec!["agent_id".into()],
                    comment: String::new(),
                })
                .collect(),
        )
        .await
        .map_err(err)?;
    let mut times = Vec::new();
    let mut suppressed = 0;
    for _ in 0..10 {
        let t = Instant::now();
        let firing = alerting
            .firing(&server::accounts::FolderAccess::unrestricted())
            .await
            .map_err(err)?;
        times.push(t.elapsed().as_secs_f64());
        suppressed = firing
            .iter()
            .filter(|a| !a.silenced_by.is_empty() || !a.inhibited_by.is_empty())
            .count();
    }
    println!(
        "| every alert with its silences, windows, inhibitions and routes (what a pass and `GET /api/v2/alerts` do; {suppressed} suppressed) | median {:.0} ms, p95 {:.0} ms |",
        percentile(&mut times.clone(), 0.5) * 1000.0,
        percentile(&mut times, 0.95) * 1000.0
    );
    Ok(())
}
