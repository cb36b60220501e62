//! Scraping: the portal pulls Prometheus text-format metrics from the targets in its
//! configuration (and, unless told not to, from itself) the way Prometheus does. Each target
//! gets `job` and `instance` labels (a target's own are kept as `exported_job`/
//! `exported_instance`) plus its configured labels; each scrape also records `up`,
//! `scrape_duration_seconds`, `scrape_samples_scraped` and `scrape_series_added`. Series that
//! vanish from a target, or all of them when it goes down or the portal stops, get staleness
//! markers so PromQL stops showing them at once instead of five minutes later.

pub mod text;

use crate::{
    config::ScrapeJob,
    ingest::{remote_write::MetadataEntry, IncomingSeries, Ingester},
    labels::SeriesKey,
    store,
    tsdb::STALE_NAN_BITS,
};
use chrono::Utc;
use sqlx::PgPool;
use std::{
    collections::{BTreeMap, HashSet},
    net::SocketAddr,
    sync::Arc,
    time::Duration,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// One endpoint to scrape.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub job: String,
    pub instance: String,
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub labels: Vec<(String, String)>,
    /// The portal scraping itself: every replica scrapes its own; one replica scrapes the rest.
    pub own: bool,
}

/// The targets of the configured jobs, and the portal itself at `own_address` when asked.
pub fn targets(jobs: &[ScrapeJob], own: Option<(SocketAddr, Duration)>) -> Vec<Target> {
    let mut out: Vec<Target> = jobs
        .iter()
        .flat_map(|job| {
            job.targets.iter().map(|instance| Target {
                job: job.job.clone(),
                instance: instance.clone(),
                url: format!("http://{instance}{}", job.path),
                interval: job.interval,
                timeout: job.timeout,
                labels: job.labels.clone(),
                own: false,
            })
        })
        .collect();
    if let Some((mut address, interval)) = own {
        if address.ip().is_unspecified() {
            address.set_ip([127, 0, 0, 1].into());
        }
        out.push(Target {
            job: "portal".into(),
            instance: address.to_string(),
            url: format!("http://{address}/metrics"),
            interval,
            timeout: interval.min(Duration::from_secs(10)),
            labels: Vec::new(),
            own: true,
        });
    }
    out
}

/// The HTTP client every scrape loop shares.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("portal/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client without TLS builds")
}

/// Scrapes `target` every interval until `stop` is cancelled, then marks its series stale.
pub async fn run(
    target: Target,
    client: reqwest::Client,
    ingester: Arc<Ingester>,
    pool: PgPool,
    max_body: u64,
    stop: CancellationToken,
) {
    let scraper = Scraper {
        target,
        client,
        ingester,
        pool,
        max_body,
        previous: HashSet::new(),
    };
    scraper.run(stop).await
}

struct Scraper {
    target: Target,
    client: reqwest::Client,
    ingester: Arc<Ingester>,
    pool: PgPool,
    max_body: u64,
    /// The series the last scrape stored, to mark the ones that vanish as stale.
    previous: HashSet<SeriesKey>,
}

/// What one scrape produced.
struct Scraped {
    series: BTreeMap<SeriesKey, (i64, f64)>,
    metadata: Vec<MetadataEntry>,
}

impl Scraper {
    async fn run(mut self, stop: CancellationToken) {
        // Targets are spread over the interval (by a hash of the URL), as Prometheus does.
        let interval = self.target.interval;
        let spread = xxhash_rust::xxh3::xxh3_64(self.target.url.as_bytes())
            % interval.as_millis().max(1) as u64;
        let mut ticker =
            tokio::time::interval_at(Instant::now() + Duration::from_millis(spread), interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.cancelled() => break,
            }
            self.scrape_once().await;
        }
        // The portal is stopping: whatever this target had is stale from now on.
        let now = Utc::now().timestamp_millis();
        let stale: Vec<IncomingSeries> = self
            .previous
            .drain()
            .map(|key| IncomingSeries {
                key,
                samples: vec![(now, f64::from_bits(STALE_NAN_BITS))],
            })
            .collect();
        if let Err(e) = self.ingester.write("scrape", stale).await {
            warn!(target = %self.target.url, error = %e, "could not mark the target's series stale");
        }
    }

    async fn scrape_once(&mut self) {
        let started = Utc::now();
        let clock = Instant::now();
        let ts = started.timestamp_millis();
        let result = match self.fetch().await {
            Ok(body) => self.translate(&body, ts),
            Err(e) => Err(e),
        };
        let duration = clock.elapsed().as_secs_f64();
        let (scraped, up) = match result {
            Ok(scraped) => (scraped, 1.0),
            Err(e) => {
                warn!(job = %self.target.job, target = %self.target.url, error = %e, "scrape failed");
                (
                    Scraped {
                        series: BTreeMap::new(),
                        metadata: Vec::new(),
                    },
                    0.0,
                )
            }
        };
        let current: HashSet<SeriesKey> = scraped.series.keys().cloned().collect();
        let added = current.difference(&self.previous).count();
        let mut batch: Vec<IncomingSeries> = Vec::with_capacity(current.len() + 8);
        let samples_scraped = scraped.series.len();
        for (key, (t, v)) in scraped.series {
            batch.push(IncomingSeries {
                key,
                samples: vec![(t, v)],
            });
        }
        for key in self.previous.difference(&current) {
            batch.push(IncomingSeries {
                key: key.clone(),
                samples: vec![(ts, f64::from_bits(STALE_NAN_BITS))],
            });
        }
        for (name, value) in [
            ("up", up),
            ("scrape_duration_seconds", duration),
            ("scrape_samples_scraped", samples_scraped as f64),
            ("scrape_series_added", added as f64),
        ] {
            batch.push(IncomingSeries {
                key: self.key(name, Vec::new()),
                samples: vec![(ts, value)],
            });
        }
        if let Err(e) = store::metadata::upsert_metadata(&self.pool, &scraped.metadata).await {
            warn!(target = %self.target.url, error = %e, "could not store scraped metadata");
        }
        match self.ingester.write("scrape", batch).await {
            Ok(outcome) => {
                if let Some(message) = outcome.refusal_message(self.ingester.limits()) {
                    warn!(target = %self.target.url, %message, "scraped samples refused");
                }
                debug!(target = %self.target.url, samples = outcome.samples_written, "scraped");
                self.previous = current;
            }
            Err(e) => warn!(target = %self.target.url, error = %e, "could not store a scrape"),
        }
    }

    /// Fetches the target's exposition, within the timeout and the size limit.
    async fn fetch(&self) -> Result<String, String> {
        let timeout = self.target.timeout;
        let request = self
            .client
            .get(&self.target.url)
            .header(
                reqwest::header::ACCEPT,
                "text/plain;version=0.0.4;q=1,*/*;q=0.1",
            )
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", timeout.as_secs_f64()),
            )
            .timeout(timeout);
        let fetch = async {
            let mut response = request.send().await.map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("the target answered {}", response.status()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
                body.extend_from_slice(&chunk);
                if body.len() as u64 > self.max_body {
                    return Err(format!(
                        "the exposition is larger than the body limit of {} bytes",
                        self.max_body
                    ));
                }
            }
            String::from_utf8(body).map_err(|_| "the exposition is not UTF-8".to_string())
        };
        tokio::time::timeout(timeout, fetch)
            .await
            .map_err(|_| format!("no answer within {timeout:?}"))?
    }

    /// Parses an exposition and gives every sample the target's labels.
    fn translate(&self, body: &str, ts: i64) -> Result<Scraped, String> {
        let exposition = text::parse(body)?;
        let mut series = BTreeMap::new();
        for sample in exposition.samples {
            let mut labels: Vec<(String, String)> = Vec::with_capacity(sample.labels.len() + 2);
            for (name, value) in sample.labels {
                let taken = name == "job"
                    || name == "instance"
                    || self.target.labels.iter().any(|(n, _)| *n == name);
                labels.push(match taken {
                    true => (format!("exported_{name}"), value),
                    false => (name, value),
                });
            }
            let key = self.key(&sample.metric, labels);
            if let Some(w) = key.labels.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(format!("{} has the label {} twice", sample.metric, w[0].0));
            }
            // A repeated series keeps its last sample, as the target's latest word.
            series.insert(key, (sample.timestamp.unwrap_or(ts), sample.value));
        }
        let metadata = exposition
            .families
            .into_iter()
            .filter(|f| crate::labels::is_valid_metric_name(&f.name))
            .map(|f| MetadataEntry {
                metric: f.name,
                kind: match f.kind.as_str() {
                    "counter" => "counter",
                    "gauge" => "gauge",
                    "histogram" => "histogram",
                    "summary" => "summary",
                    _ => "unknown",
                },
                help: f.help,
                unit: String::new(),
            })
            .collect();
        Ok(Scraped { series, metadata })
    }

    /// A series of this target: `labels` (none of them the target's) plus the target's `job`,
    /// `instance` and configured labels.
    fn key(&self, metric: &str, mut labels: Vec<(String, String)>) -> SeriesKey {
        labels.retain(|(_, value)| !value.is_empty());
        labels.extend(self.target.labels.iter().cloned());
        labels.push(("job".into(), self.target.job.clone()));
        labels.push(("instance".into(), self.target.instance.clone()));
        labels.sort();
        SeriesKey {
            metric: metric.to_string(),
            labels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portal_scrapes_itself_on_loopback_when_bound_to_every_address() {
        let t = targets(
            &[],
            Some(("0.0.0.0:3000".parse().unwrap(), Duration::from_secs(15))),
        );
        assert_eq!(t[0].url, "http://127.0.0.1:3000/metrics");
        assert_eq!(
            (t[0].job.as_str(), t[0].instance.as_str()),
            ("portal", "127.0.0.1:3000")
        );
    }
}
