//! Typed settings: command-line flags, `PORTAL_*` environment variables and an optional TOML
//! file, in that order of precedence, with the defaults filled in last.

use anyhow::{bail, Context};
use clap::{Args, Parser, ValueEnum};
use serde::{Deserialize, Deserializer};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

const AFTER_HELP: &str = "\
Every flag can also be set by the environment variable shown beside it, or by the same
name in snake_case in the TOML file given with --config (for example `body_limit = \"16MiB\"`).
Flags win over environment variables, which win over the file.

With no DATABASE_URL the portal runs its own PostgreSQL in <data-dir>/postgres, reached only
through a Unix socket in a private directory, and stops it when the portal stops.";

/// The portal's command line.
#[derive(Parser, Debug, Clone)]
#[command(name = "portal", version, about = "A self-hosted observability portal: metrics, logs, traces and alerts over PostgreSQL", after_help = AFTER_HELP)]
pub struct Cli {
    /// A TOML file with settings (keys as the flag names in snake_case)
    #[arg(long, env = "PORTAL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub settings: SettingsInput,
}

/// Settings as given; every one optional so that flags, environment and file can be merged.
#[derive(Args, Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// Address and port to serve the UI and the API on [default: 127.0.0.1:3000]
    #[arg(long, env = "PORTAL_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// PostgreSQL to use, e.g. postgres://user:pass@host/db; when unset the portal runs an embedded PostgreSQL
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Where the embedded PostgreSQL keeps its data [default: /var/lib/portal as root, else ~/.local/share/portal]
    #[arg(long, env = "PORTAL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Directory with initdb and postgres for the embedded database [default: newest /usr/lib/postgresql/*/bin, or pg_config --bindir]
    #[arg(long, env = "PORTAL_POSTGRES_BIN", value_name = "DIR")]
    pub postgres_bin: Option<PathBuf>,

    /// Unprivileged user that runs the embedded PostgreSQL when the portal runs as root [default: postgres]
    #[arg(long, env = "PORTAL_POSTGRES_USER", value_name = "USER")]
    pub postgres_user: Option<String>,

    /// Most connections the portal opens to PostgreSQL [default: 16]
    #[arg(long, env = "PORTAL_DB_MAX_CONNECTIONS", value_name = "N")]
    pub db_max_connections: Option<u32>,

    /// Most series one metric name may have; new series beyond it are refused [default: 50000]
    #[arg(long, env = "PORTAL_MAX_SERIES_PER_METRIC", value_name = "N")]
    pub max_series_per_metric: Option<i64>,

    /// Largest request body accepted, e.g. 16MiB; larger ones get 413 [default: 16MiB]
    #[arg(long, env = "PORTAL_BODY_LIMIT", value_name = "SIZE")]
    pub body_limit: Option<ByteSize>,

    /// Longest a request may take before it is answered 503 [default: 60s]
    #[arg(long, env = "PORTAL_REQUEST_TIMEOUT", value_name = "DURATION")]
    pub request_timeout: Option<HumanDuration>,

    /// How long in-flight requests may finish after a stop signal [default: 20s]
    #[arg(long, env = "PORTAL_SHUTDOWN_TIMEOUT", value_name = "DURATION")]
    pub shutdown_timeout: Option<HumanDuration>,

    /// Log format on standard error [default: json]
    #[arg(long, env = "PORTAL_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Log filter in tracing's syntax, e.g. info or info,sqlx=warn [default: info]
    #[arg(long, env = "PORTAL_LOG", value_name = "FILTER")]
    pub log: Option<String>,

    /// Directory with the built UI (pkg/ with the WASM, JS and CSS) [default: the one the build wrote]
    #[arg(long, env = "PORTAL_SITE_ROOT", value_name = "DIR")]
    pub site_root: Option<PathBuf>,

    /// Scrape the portal's own /metrics (job "portal") [default: true]
    #[arg(long, env = "PORTAL_SCRAPE_SELF", value_name = "BOOL")]
    pub scrape_self: Option<bool>,

    /// How often targets are scraped unless their job says otherwise [default: 15s]
    #[arg(long, env = "PORTAL_SCRAPE_INTERVAL", value_name = "DURATION")]
    pub scrape_interval: Option<HumanDuration>,

    /// How long samples are kept; older ones are dropped a partition at a time [default: 30d]
    #[arg(long, env = "PORTAL_RETENTION", value_name = "DURATION")]
    pub retention: Option<HumanDuration>,

    /// Feed the portal demo telemetry of a fleet of LLM agents [default: false]
    #[arg(long, env = "PORTAL_DEMO", value_name = "BOOL")]
    pub demo: Option<bool>,

    /// A directory of dashboard JSON files (the portal's model or Grafana's) kept in sync with the database
    #[arg(long, env = "PORTAL_DASHBOARDS_DIR", value_name = "DIR")]
    pub dashboards_dir: Option<PathBuf>,

    /// A TrueType font file panel images are drawn with [default: DejaVu Sans from fonts-dejavu-core]
    #[arg(long, env = "PORTAL_FONT", value_name = "FILE")]
    pub font: Option<PathBuf>,

    /// The URL people reach the portal at, e.g. https://portal.example.com; absolute links (link previews) start with it [default: http://<listen>]
    #[arg(long, env = "PORTAL_EXTERNAL_URL", value_name = "URL")]
    pub external_url: Option<String>,

    /// Deepest a PromQL query may nest, and most operators it may have; deeper ones get 400 [default: 500]
    #[arg(long, env = "PORTAL_QUERY_MAX_DEPTH", value_name = "N")]
    pub query_max_depth: Option<usize>,

    /// Most samples one query may load and hold at once; more get 422 [default: 50000000]
    #[arg(long, env = "PORTAL_QUERY_MAX_SAMPLES", value_name = "N")]
    pub query_max_samples: Option<usize>,

    /// Longest one query may take, its wait for a slot included; longer ones stop and get 503 [default: 2m]
    #[arg(long, env = "PORTAL_QUERY_TIMEOUT", value_name = "DURATION")]
    pub query_timeout: Option<HumanDuration>,

    /// Queries evaluated at once; more wait in a queue [default: 20]
    #[arg(long, env = "PORTAL_QUERY_MAX_CONCURRENCY", value_name = "N")]
    pub query_max_concurrency: Option<usize>,

    /// Queries that may wait for a slot; more get 503 with Retry-After [default: 100]
    #[arg(long, env = "PORTAL_QUERY_MAX_QUEUED", value_name = "N")]
    pub query_max_queued: Option<usize>,

    /// How often a replica tries to take over a one-replica job (compaction) whose holder is gone [default: 2s]
    #[arg(long, env = "PORTAL_WORKER_LOCK_RETRY", value_name = "DURATION")]
    pub worker_lock_retry: Option<HumanDuration>,

    /// Prometheus targets to scrape; only in the file, as `[[scrape]]` tables
    #[arg(skip)]
    #[serde(default)]
    pub scrape: Vec<ScrapeInput>,
}

/// A `[[scrape]]` table: a job and the `host:port` targets it scrapes.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScrapeInput {
    pub job: String,
    pub targets: Vec<String>,
    /// Defaults to the global scrape interval.
    pub interval: Option<HumanDuration>,
    /// Defaults to the interval, at most 10s.
    pub timeout: Option<HumanDuration>,
    /// Defaults to `/metrics`.
    pub path: Option<String>,
    /// Labels added to every series of the job's targets.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A scrape job with its defaults filled in and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeJob {
    pub job: String,
    pub targets: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub path: String,
    pub labels: Vec<(String, String)>,
}

impl ScrapeInput {
    fn resolve(self, n: usize, default_interval: Duration) -> anyhow::Result<ScrapeJob> {
        let at = format!("scrape[{n}]");
        if self.job.trim().is_empty() {
            bail!("{at}.job: must not be empty");
        }
        if self.targets.is_empty() {
            bail!("{at}.targets: list at least one host:port");
        }
        for (i, target) in self.targets.iter().enumerate() {
            let ok = target
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok || target.contains('/') {
                bail!("{at}.targets[{i}]: \"{target}\" is not host:port");
            }
        }
        let interval = self.interval.map_or(default_interval, |d| d.0);
        if interval < Duration::from_secs(1) {
            bail!("{at}.interval: must be at least 1s");
        }
        let timeout = self
            .timeout
            .map_or(interval.min(Duration::from_secs(10)), |d| d.0);
        if timeout.is_zero() || timeout > interval {
            bail!("{at}.timeout: must be more than 0 and at most the interval ({interval:?})");
        }
        let path = self.path.unwrap_or_else(|| "/metrics".into());
        if !path.starts_with('/') {
            bail!("{at}.path: must start with /");
        }
        for name in self.labels.keys() {
            if !crate::labels::is_valid_label_name(name) || name == "job" || name == "instance" {
                bail!("{at}.labels: \"{name}\" is not a label name a job may set");
            }
        }
        Ok(ScrapeJob {
            job: self.job,
            targets: self.targets,
            interval,
            timeout,
            path,
            labels: self.labels.into_iter().collect(),
        })
    }
}

#[derive(ValueEnum, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for log collectors
    Json,
    /// Human-readable lines
    Text,
}

/// The settings in force, defaults filled in.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub postgres_bin: Option<PathBuf>,
    pub postgres_user: String,
    pub db_max_connections: u32,
    pub body_limit: u64,
    pub max_series_per_metric: i64,
    pub request_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub log_format: LogFormat,
    pub log: String,
    pub site_root: PathBuf,
    pub scrape_self: bool,
    pub scrape_interval: Duration,
    pub scrape: Vec<ScrapeJob>,
    pub demo: bool,
    pub retention: Duration,
    pub dashboards_dir: Option<PathBuf>,
    pub external_url: String,
    pub font: Option<PathBuf>,
    pub query: crate::query::QueryLimits,
    pub worker_lock_retry: Duration,
}

impl Settings {
    /// Reads the command line and the environment, then the file they name, and merges them.
    pub fn load() -> anyhow::Result<Self> {
        let cli = Cli::parse();
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => SettingsInput::default(),
        };
        Self::merge(cli.settings, file)
    }

    /// Merges two inputs (the first wins) and fills in the defaults.
    pub fn merge(first: SettingsInput, second: SettingsInput) -> anyhow::Result<Self> {
        let db_max_connections = first
            .db_max_connections
            .or(second.db_max_connections)
            .unwrap_or(16);
        if db_max_connections == 0 {
            bail!("db_max_connections: must be at least 1");
        }
        let body_limit = first
            .body_limit
            .or(second.body_limit)
            .map_or(16 << 20, |b| b.0);
        if body_limit < 1024 {
            bail!("body_limit: must be at least 1KiB, got {body_limit} bytes");
        }
        let max_series_per_metric = first
            .max_series_per_metric
            .or(second.max_series_per_metric)
            .unwrap_or(50_000);
        if max_series_per_metric < 1 {
            bail!("max_series_per_metric: must be at least 1");
        }
        let retention = first
            .retention
            .or(second.retention)
            .map_or(Duration::from_secs(30 * 86_400), |d| d.0);
        if retention < Duration::from_secs(86_400) {
            bail!("retention: must be at least 1d");
        }
        let scrape_interval = first
            .scrape_interval
            .or(second.scrape_interval)
            .map_or(Duration::from_secs(15), |d| d.0);
        if scrape_interval < Duration::from_secs(1) {
            bail!("scrape_interval: must be at least 1s");
        }
        let scrape_inputs = if first.scrape.is_empty() {
            second.scrape
        } else {
            first.scrape
        };
        let scrape = scrape_inputs
            .into_iter()
            .enumerate()
            .map(|(n, job)| job.resolve(n, scrape_interval))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let listen = first
            .listen
            .or(second.listen)
            .unwrap_or_else(|| ([127, 0, 0, 1], 3000).into());
        let external_url = match first.external_url.or(second.external_url) {
            Some(url) => {
                let url = url.trim().trim_end_matches('/').to_string();
                if !(url.starts_with("http://") || url.starts_with("https://"))
                    || url.contains(char::is_whitespace)
                {
                    bail!("external_url: must be an http:// or https:// URL, got \"{url}\"");
                }
                url
            }
            None => format!("http://{listen}"),
        };
        let defaults = crate::query::QueryLimits::default();
        let query = crate::query::QueryLimits {
            max_depth: first
                .query_max_depth
                .or(second.query_max_depth)
                .unwrap_or(defaults.max_depth),
            max_samples: first
                .query_max_samples
                .or(second.query_max_samples)
                .unwrap_or(defaults.max_samples),
            timeout: first
                .query_timeout
                .or(second.query_timeout)
                .map_or(defaults.timeout, |d| d.0),
            max_concurrent: first
                .query_max_concurrency
                .or(second.query_max_concurrency)
                .unwrap_or(defaults.max_concurrent),
            max_queued: first
                .query_max_queued
                .or(second.query_max_queued)
                .unwrap_or(defaults.max_queued),
        };
        if query.max_depth < 8 {
            bail!("query_max_depth: must be at least 8");
        }
        if query.max_samples < 1000 {
            bail!("query_max_samples: must be at least 1000");
        }
        if query.timeout < Duration::from_secs(1) {
            bail!("query_timeout: must be at least 1s");
        }
        if query.max_concurrent < 1 {
            bail!("query_max_concurrency: must be at least 1");
        }
        let worker_lock_retry = first
            .worker_lock_retry
            .or(second.worker_lock_retry)
            .map_or(crate::workers::DEFAULT_LOCK_RETRY, |d| d.0);
        if worker_lock_retry < Duration::from_millis(100) {
            bail!("worker_lock_retry: must be at least 100ms");
        }
        Ok(Self {
            font: first.font.or(second.font),
            external_url,
            query,
            worker_lock_retry,
            scrape_self: first.scrape_self.or(second.scrape_self).unwrap_or(true),
            scrape_interval,
            scrape,
            demo: first.demo.or(second.demo).unwrap_or(false),
            retention,
            dashboards_dir: first.dashboards_dir.or(second.dashboards_dir),
            max_series_per_metric,
            listen,
            database_url: first
                .database_url
                .or(second.database_url)
                .filter(|u| !u.trim().is_empty()),
            data_dir: first
                .data_dir
                .or(second.data_dir)
                .unwrap_or_else(default_data_dir),
            postgres_bin: first.postgres_bin.or(second.postgres_bin),
            postgres_user: first
                .postgres_user
                .or(second.postgres_user)
                .unwrap_or_else(|| "postgres".into()),
            db_max_connections,
            body_limit,
            request_timeout: first
                .request_timeout
                .or(second.request_timeout)
                .map_or(Duration::from_secs(60), |d| d.0),
            shutdown_timeout: first
                .shutdown_timeout
                .or(second.shutdown_timeout)
                .map_or(Duration::from_secs(20), |d| d.0),
            log_format: first
                .log_format
                .or(second.log_format)
                .unwrap_or(LogFormat::Json),
            log: first.log.or(second.log).unwrap_or_else(|| "info".into()),
            site_root: first
                .site_root
                .or(second.site_root)
                .unwrap_or_else(default_site_root),
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<SettingsInput> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the configuration file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid configuration file {}", path.display()))
}

/// `/var/lib/portal` as root (reachable by the unprivileged database user), else the user's
/// data directory.
fn default_data_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/portal");
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("portal");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/portal"),
        None => PathBuf::from(".portal"),
    }
}

/// The site directory cargo-leptos wrote when it built this binary; relative paths are taken
/// from the workspace root.
fn default_site_root() -> PathBuf {
    let built = PathBuf::from(option_env!("LEPTOS_SITE_ROOT").unwrap_or("target/site"));
    if built.is_absolute() {
        built
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(built)
    }
}

/// A byte count written as `1048576`, `512KiB`, `16MiB`, `1GiB` (or KB/MB/GB, powers of ten).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("\"{text}\" is not a size like 16MiB"))?;
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            other => {
                return Err(format!(
                    "unknown size unit \"{other}\" (use B, KiB, MiB, GiB, KB, MB or GB)"
                ))
            }
        };
        number
            .checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| format!("size \"{text}\" is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A duration written as Prometheus writes them: `500ms`, `30s`, `5m`, `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl std::str::FromStr for HumanDuration {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let parsed = app::time::parse_duration(text)?;
        let ms = u64::try_from(parsed.num_milliseconds())
            .map_err(|_| format!("duration \"{text}\" is negative"))?;
        Ok(HumanDuration(Duration::from_millis(ms)))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_binary_and_decimal_units() {
        for (text, bytes) in [
            ("1024", 1024),
            ("512KiB", 512 << 10),
            ("16MiB", 16 << 20),
            ("1GiB", 1 << 30),
            ("2MB", 2_000_000),
        ] {
            assert_eq!(text.parse::<ByteSize>().unwrap(), ByteSize(bytes), "{text}");
        }
        assert!("16 parsecs"
            .parse::<ByteSize>()
            .unwrap_err()
            .contains("unknown size unit"));
        assert!("big".parse::<ByteSize>().is_err());
    }

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let flags = SettingsInput {
            listen: Some("127.0.0.1:4000".parse().unwrap()),
            ..Default::default()
        };
        let file: SettingsInput = toml::from_str(
            "listen = \"0.0.0.0:5000\"\nbody_limit = \"1MiB\"\nrequest_timeout = \"5s\"\nlog_format = \"text\"",
        )
        .unwrap();
        let settings = Settings::merge(flags, file).unwrap();
        assert_eq!(settings.listen.port(), 4000);
        assert_eq!(settings.body_limit, 1 << 20);
        assert_eq!(settings.request_timeout, Duration::from_secs(5));
        assert_eq!(settings.log_format, LogFormat::Text);
        assert_eq!(settings.db_max_connections, 16);
        assert_eq!(settings.database_url, None);
    }

    #[test]
    fn scrape_jobs_come_from_the_file_with_defaults_filled_in() {
        let file: SettingsInput = toml::from_str(
            r#"
scrape_interval = "30s"
[[scrape]]
job = "agents"
targets = ["127.0.0.1:9100", "worker:9100"]
labels = { env = "prod" }
[[scrape]]
job = "fast"
targets = ["127.0.0.1:9200"]
interval = "5s"
path = "/custom"
"#,
        )
        .unwrap();
        let s = Settings::merge(SettingsInput::default(), file).unwrap();
        assert_eq!(s.scrape[0].interval, Duration::from_secs(30));
        assert_eq!(s.scrape[0].timeout, Duration::from_secs(10));
        assert_eq!(s.scrape[0].labels, vec![("env".into(), "prod".into())]);
        assert_eq!(
            (s.scrape[1].interval, s.scrape[1].timeout),
            (Duration::from_secs(5), Duration::from_secs(5))
        );
        assert_eq!(s.scrape[1].path, "/custom");
        assert!(s.scrape_self);
    }

    #[test]
    fn bad_scrape_jobs_are_refused_by_field() {
        let refuse = |text: &str| {
            let file: SettingsInput = toml::from_str(text).unwrap();
            Settings::merge(SettingsInput::default(), file)
                .unwrap_err()
                .to_string()
        };
        assert!(
            refuse("[[scrape]]\njob = \"a\"\ntargets = [\"http://x:1/metrics\"]")
                .starts_with("scrape[0].targets[0]")
        );
        assert!(refuse(
            "[[scrape]]\njob = \"a\"\ntargets = [\"x:1\"]\ninterval = \"5s\"\ntimeout = \"10s\""
        )
        .starts_with("scrape[0].timeout"));
        assert!(
            refuse("[[scrape]]\njob = \"a\"\ntargets = [\"x:1\"]\nlabels = { job = \"b\" }")
                .starts_with("scrape[0].labels")
        );
    }

    #[test]
    fn unknown_or_bad_file_keys_are_refused_by_name() {
        let err = toml::from_str::<SettingsInput>("listne = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listne"), "{err}");
        let err = toml::from_str::<SettingsInput>("body_limit = \"lots\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("body_limit") || err.contains("lots"), "{err}");
    }

    #[test]
    fn impossible_values_are_refused_with_the_setting_named() {
        let zero = SettingsInput {
            db_max_connections: Some(0),
            ..Default::default()
        };
        let err = Settings::merge(zero, SettingsInput::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("db_max_connections"), "{err}");
    }

    #[test]
    fn the_command_line_help_lists_every_environment_variable() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        for var in [
            "PORTAL_LISTEN",
            "DATABASE_URL",
            "PORTAL_DATA_DIR",
            "PORTAL_BODY_LIMIT",
            "PORTAL_LOG_FORMAT",
            "PORTAL_CONFIG",
        ] {
            assert!(help.contains(var), "--help lacks {var}");
        }
    }
}
