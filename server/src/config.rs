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

/// Declares every setting once: its doc comment is the `--help` text, its name the flag
/// (`--body-limit`) and the file key (`body_limit`), then the type as given and the type in
/// force, the flag's attributes (environment variable, value name), the default and a check.
/// From the one list come `SettingsInput` (what flags, environment or file say), `Settings`
/// (what is in force) and the merge that fills in defaults and checks each value.
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident: $input:ty => $out:ty [$($arg:tt)*]
            $(check |$v:ident| $cond:expr => $msg:literal)?
            $(default $default:expr)?
        ;
    )+) => {
        /// Settings as given; every one optional so that flags, environment and file can be merged.
        #[derive(Args, Deserialize, Debug, Clone, Default)]
        #[serde(deny_unknown_fields)]
        pub struct SettingsInput {
            $(
                $(#[doc = $doc])+
                #[arg(long, $($arg)*)]
                pub $name: Option<$input>,
            )+
            /// Prometheus targets to scrape; only in the file, as `[[scrape]]` tables
            #[arg(skip)]
            #[serde(default)]
            pub scrape: Vec<ScrapeInput>,
        }

        /// The settings in force, defaults filled in.
        #[derive(Debug, Clone)]
        pub struct Settings {
            $( $(#[doc = $doc])+ pub $name: $out, )+
            pub scrape: Vec<ScrapeJob>,
        }

        impl Settings {
            /// The declared settings of two inputs (the first wins), defaults filled in, each
            /// checked; the scrape jobs are left to [`Settings::merge`].
            fn merge_declared(first: &SettingsInput, second: &SettingsInput) -> anyhow::Result<Self> {
                $(
                    let $name: $out = settings!(@value first.$name.clone().or(second.$name.clone()) $(, $default)?);
                    $(
                        let $v = &$name;
                        if !($cond) {
                            bail!("{}: {}", stringify!($name), $msg);
                        }
                    )?
                )+
                Ok(Self { $($name,)+ scrape: Vec::new() })
            }
        }
    };
    (@value $given:expr, $default:expr) => { $given.map(Into::into).unwrap_or_else(|| $default) };
    (@value $given:expr) => { $given.map(Into::into) };
}

settings! {
    /// Address and port to serve the UI and the API on [default: 127.0.0.1:3000]
    listen: SocketAddr => SocketAddr [env = "PORTAL_LISTEN", value_name = "ADDR"]
        default ([127, 0, 0, 1], 3000).into();
    /// PostgreSQL to use, e.g. postgres://user:pass@host/db; when unset the portal runs an embedded PostgreSQL
    database_url: String => Option<String> [env = "DATABASE_URL", value_name = "URL", hide_env_values = true];
    /// Where the embedded PostgreSQL keeps its data [default: /var/lib/portal as root, else ~/.local/share/portal]
    data_dir: PathBuf => PathBuf [env = "PORTAL_DATA_DIR", value_name = "DIR"]
        default default_data_dir();
    /// Directory with initdb and postgres for the embedded database [default: newest /usr/lib/postgresql/*/bin, or pg_config --bindir]
    postgres_bin: PathBuf => Option<PathBuf> [env = "PORTAL_POSTGRES_BIN", value_name = "DIR"];
    /// Unprivileged user that runs the embedded PostgreSQL when the portal runs as root [default: postgres]
    postgres_user: String => String [env = "PORTAL_POSTGRES_USER", value_name = "USER"]
        default "postgres".into();
    /// Most connections the portal opens to PostgreSQL [default: 16]
    db_max_connections: u32 => u32 [env = "PORTAL_DB_MAX_CONNECTIONS", value_name = "N"]
        check |n| *n >= 1 => "must be at least 1"
        default 16;
    /// Most series one metric name may have; new series beyond it are refused [default: 50000]
    max_series_per_metric: i64 => i64 [env = "PORTAL_MAX_SERIES_PER_METRIC", value_name = "N"]
        check |n| *n >= 1 => "must be at least 1"
        default 50_000;
    /// Largest request body accepted, e.g. 16MiB; larger ones get 413 [default: 16MiB]
    body_limit: ByteSize => u64 [env = "PORTAL_BODY_LIMIT", value_name = "SIZE"]
        check |b| *b >= 1024 => "must be at least 1KiB"
        default 16 << 20;
    /// Most bytes of write bodies (remote-write, OTLP) received and decoded at once; a write past it gets 503 with Retry-After before its body is read [default: 256MiB]
    ingest_max_inflight: ByteSize => u64 [env = "PORTAL_INGEST_MAX_INFLIGHT", value_name = "SIZE"]
        check |b| *b >= 1024 => "must be at least 1KiB"
        default 256 << 20;
    /// Most write requests (remote-write, OTLP) admitted at once; one past it gets 503 with Retry-After before its body is read [default: 64]
    ingest_max_inflight_requests: u64 => u64 [env = "PORTAL_INGEST_MAX_INFLIGHT_REQUESTS", value_name = "N"]
        check |n| *n >= 1 => "must be at least 1"
        default 64;
    /// Most samples of blocks old enough to compact (a back-fill) held in memory before writes into such blocks get 503 with Retry-After until the compactor catches up; live blocks do not count and live writes are never refused by it [default: 20000000]
    head_max_samples: u64 => u64 [env = "PORTAL_HEAD_MAX_SAMPLES", value_name = "N"]
        check |n| *n >= 1000 => "must be at least 1000"
        default 20_000_000;
    /// Longest a request may take before it is answered 503 [default: 60s]
    request_timeout: HumanDuration => Duration [env = "PORTAL_REQUEST_TIMEOUT", value_name = "DURATION"]
        check |d| !d.is_zero() => "must be more than 0"
        default Duration::from_secs(60);
    /// How long in-flight requests may finish after a stop signal [default: 20s]
    shutdown_timeout: HumanDuration => Duration [env = "PORTAL_SHUTDOWN_TIMEOUT", value_name = "DURATION"]
        default Duration::from_secs(20);
    /// Log format on standard error [default: json]
    log_format: LogFormat => LogFormat [env = "PORTAL_LOG_FORMAT", value_name = "FORMAT"]
        default LogFormat::Json;
    /// Log filter in tracing's syntax, e.g. info or info,sqlx=warn [default: info]
    log: String => String [env = "PORTAL_LOG", value_name = "FILTER"]
        default "info".into();
    /// Directory with the built UI (pkg/ with the WASM, JS and CSS) [default: the one the build wrote]
    site_root: PathBuf => PathBuf [env = "PORTAL_SITE_ROOT", value_name = "DIR"]
        default default_site_root();
    /// Scrape the portal's own /metrics (job "portal") [default: true]
    scrape_self: bool => bool [env = "PORTAL_SCRAPE_SELF", value_name = "BOOL"]
        default true;
    /// How often targets are scraped unless their job says otherwise [default: 15s]
    scrape_interval: HumanDuration => Duration [env = "PORTAL_SCRAPE_INTERVAL", value_name = "DURATION"]
        check |d| *d >= Duration::from_secs(1) => "must be at least 1s"
        default Duration::from_secs(15);
    /// How long samples are kept; older ones are dropped a partition at a time [default: 30d]
    retention: HumanDuration => Duration [env = "PORTAL_RETENTION", value_name = "DURATION"]
        check |d| *d >= Duration::from_secs(86_400) => "must be at least 1d"
        default Duration::from_secs(30 * 86_400);
    /// Feed the portal demo telemetry of a fleet of LLM agents [default: false]
    demo: bool => bool [env = "PORTAL_DEMO", value_name = "BOOL"]
        default false;
    /// A directory of dashboard JSON files (the portal's model or Grafana's) kept in sync with the database
    dashboards_dir: PathBuf => Option<PathBuf> [env = "PORTAL_DASHBOARDS_DIR", value_name = "DIR"];
    /// The longest a silence may last; longer ones are refused [default: 30d]
    silence_max_duration: HumanDuration => Duration [env = "PORTAL_SILENCE_MAX_DURATION", value_name = "DURATION"]
        check |d| *d >= Duration::from_secs(60) => "must be at least 1m"
        default Duration::from_secs(30 * 86_400);
    /// A directory of Prometheus rule files (*.yml, *.yaml) kept in sync with the database; each file is a folder of rule groups
    rules_dir: PathBuf => Option<PathBuf> [env = "PORTAL_RULES_DIR", value_name = "DIR"];
    /// A TrueType font file panel images are drawn with [default: DejaVu Sans from fonts-dejavu-core]
    font: PathBuf => Option<PathBuf> [env = "PORTAL_FONT", value_name = "FILE"];
    /// The URL people reach the portal at, e.g. https://portal.example.com; absolute links (link previews) start with it [default: http://<listen>]
    external_url: String => Option<String> [env = "PORTAL_EXTERNAL_URL", value_name = "URL"]
        check |url| url.as_deref().is_none_or(is_http_url) => "must be an http:// or https:// URL";
    /// Deepest a PromQL query may nest, and most operators it may have; deeper ones get 400 [default: 500]
    query_max_depth: usize => usize [env = "PORTAL_QUERY_MAX_DEPTH", value_name = "N"]
        check |n| *n >= 8 => "must be at least 8"
        default 500;
    /// Most samples one query may load and hold at once; more get 422 [default: 50000000]
    query_max_samples: usize => usize [env = "PORTAL_QUERY_MAX_SAMPLES", value_name = "N"]
        check |n| *n >= 1000 => "must be at least 1000"
        default 50_000_000;
    /// Longest one query may take, its wait for a slot included; longer ones stop and get 503 [default: 2m]
    query_timeout: HumanDuration => Duration [env = "PORTAL_QUERY_TIMEOUT", value_name = "DURATION"]
        check |d| *d >= Duration::from_secs(1) => "must be at least 1s"
        default Duration::from_secs(120);
    /// Queries evaluated at once; more wait in a queue [default: 20]
    query_max_concurrency: usize => usize [env = "PORTAL_QUERY_MAX_CONCURRENCY", value_name = "N"]
        check |n| *n >= 1 => "must be at least 1"
        default 20;
    /// Queries that may wait for a slot; more get 503 with Retry-After [default: 100]
    query_max_queued: usize => usize [env = "PORTAL_QUERY_MAX_QUEUED", value_name = "N"]
        default 100;
    /// Ask /metrics for a read token or a session, as every other route does; open by default, as Prometheus targets are [default: false]
    metrics_auth: bool => bool [env = "PORTAL_METRICS_AUTH", value_name = "BOOL"]
        default false;
    /// Reverse-proxy sign-in: the request header a trusted proxy names the signed-in user in, e.g. X-WEBAUTH-USER
    auth_proxy_header: String => Option<String> [env = "PORTAL_AUTH_PROXY_HEADER", value_name = "HEADER"]
        check |h| h.as_deref().is_none_or(|h| axum::http::HeaderName::from_bytes(h.as_bytes()).is_ok()) => "must be a header name";
    /// Addresses (IPs or CIDR ranges, comma-separated) whose user header is believed [default: 127.0.0.1,::1]
    auth_proxy_trusted: String => String [env = "PORTAL_AUTH_PROXY_TRUSTED", value_name = "ADDRS"]
        check |t| crate::accounts::parse_networks(t).is_ok() => "must be IP addresses or CIDR ranges separated by commas"
        default "127.0.0.1,::1".into();
    /// The role of an account a proxy names for the first time: viewer, editor or admin [default: viewer]
    auth_proxy_role: String => String [env = "PORTAL_AUTH_PROXY_ROLE", value_name = "ROLE"]
        check |r| app::api::accounts::Role::parse(r).is_some() => "must be viewer, editor or admin"
        default "viewer".into();
    /// How long the notification log keeps what was sent [default: 30d]
    notification_retention: HumanDuration => Duration [env = "PORTAL_NOTIFICATION_RETENTION", value_name = "DURATION"]
        check |d| *d >= Duration::from_secs(86_400) => "must be at least 1d"
        default Duration::from_secs(30 * 86_400);
    /// How long audit events are kept [default: 90d]
    audit_retention: HumanDuration => Duration [env = "PORTAL_AUDIT_RETENTION", value_name = "DURATION"]
        check |d| *d >= Duration::from_secs(86_400) => "must be at least 1d"
        default Duration::from_secs(90 * 86_400);
    /// How often a replica tries to take over a one-replica job (compaction) whose holder is gone [default: 2s]
    worker_lock_retry: HumanDuration => Duration [env = "PORTAL_WORKER_LOCK_RETRY", value_name = "DURATION"]
        check |d| *d >= Duration::from_millis(100) => "must be at least 100ms"
        default crate::workers::DEFAULT_LOCK_RETRY;
    /// How long log lines are kept; older ones are dropped a day's partition at a time [default: 30d]
    logs_retention: HumanDuration => Duration [env = "PORTAL_LOGS_RETENTION", value_name = "DURATION"]
        check |d| *d >= Duration::from_secs(86_400) => "must be at least 1d"
        default Duration::from_secs(30 * 86_400);
    /// A directory a day's log lines are archived to (gzipped NDJSON) before they pass the retention and are dropped; unset: dropped without an archive
    logs_archive_dir: PathBuf => Option<PathBuf> [env = "PORTAL_LOGS_ARCHIVE_DIR", value_name = "DIR"];
    /// Announce each new error group, and each resolved one seen again, as a line of the stream {service_name="portal", portal_event=...} that log alert rules can count [default: true]
    logs_announce_error_groups: bool => bool [env = "PORTAL_LOGS_ANNOUNCE_ERROR_GROUPS", value_name = "BOOL"]
        default true;
    /// Longest log line stored; longer ones are refused with the reason [default: 256KiB]
    logs_max_line: ByteSize => u64 [env = "PORTAL_LOGS_MAX_LINE", value_name = "SIZE"]
        check |b| *b >= 1024 => "must be at least 1KiB"
        default 256 << 10;
    /// Most log streams (distinct label sets) the store keeps; writes making more get 429 [default: 100000]
    logs_max_streams: u64 => u64 [env = "PORTAL_LOGS_MAX_STREAMS", value_name = "N"]
        check |n| *n >= 1 => "must be at least 1"
        default 100_000;
    /// Bytes a second one log stream may send (bursts of four times that pass); faster writes get 429 with Retry-After [default: 8MiB]
    logs_stream_rate: ByteSize => u64 [env = "PORTAL_LOGS_STREAM_RATE", value_name = "SIZE"]
        check |b| *b >= 1024 => "must be at least 1KiB"
        default 8 << 20;
    /// Personal data taken out of log lines before they are stored: all, none, or some of email, token, api_key, card separated by commas [default: all]
    logs_scrub: String => String [env = "PORTAL_LOGS_SCRUB", value_name = "RULES"]
        check |r| crate::logs::Scrubber::new(r, None).is_ok() => "must be all, none, or some of email, token, api_key, card separated by commas"
        default "all".into();
    /// More patterns to take out of log lines, one regular expression per line; each match becomes [redacted]
    logs_scrub_patterns: String => Option<String> [env = "PORTAL_LOGS_SCRUB_PATTERNS", value_name = "REGEXES"]
        check |p| crate::logs::Scrubber::new("none", p.as_deref()).is_ok() => "must be regular expressions, one per line";
}

fn is_http_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://"))
        && !url.contains(char::is_whitespace)
}

impl From<ByteSize> for u64 {
    fn from(size: ByteSize) -> Self {
        size.0
    }
}

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Self {
        d.0
    }
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

    /// Merges two inputs (the first wins), fills in the defaults and checks every value.
    pub fn merge(first: SettingsInput, second: SettingsInput) -> anyhow::Result<Self> {
        let mut settings = Self::merge_declared(&first, &second)?;
        settings.database_url = settings.database_url.filter(|u| !u.trim().is_empty());
        let scrape_inputs = if first.scrape.is_empty() {
            second.scrape
        } else {
            first.scrape
        };
        settings.scrape = scrape_inputs
            .into_iter()
            .enumerate()
            .map(|(n, job)| job.resolve(n, settings.scrape_interval))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(settings)
    }

    /// Where people reach the portal, without a trailing slash: `external_url`, else the
    /// address the listener is `bound` to (which, with port 0, is only known once bound).
    pub fn external_url(&self, bound: SocketAddr) -> String {
        match &self.external_url {
            Some(url) => url.trim().trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        }
    }

    /// The limits every query runs under.
    pub fn log_limits(&self) -> crate::logs::LogLimits {
        crate::logs::LogLimits {
            max_line_bytes: usize::try_from(self.logs_max_line).unwrap_or(usize::MAX),
            retention: chrono::Duration::from_std(self.logs_retention)
                .unwrap_or(chrono::Duration::days(30)),
            max_streams: i64::try_from(self.logs_max_streams).unwrap_or(i64::MAX),
            stream_rate_bytes: self.logs_stream_rate,
            stream_burst_bytes: self.logs_stream_rate.saturating_mul(4),
            // A search stops in the database before the request's own time limit answers for
            // it, so it never runs on after its client has been told to retry.
            query_timeout: self.query_timeout.min(self.request_timeout.mul_f64(0.9)),
            archive_dir: self.logs_archive_dir.clone(),
            announce_error_groups: self.logs_announce_error_groups,
            ..crate::logs::LogLimits::default()
        }
    }

    pub fn query_limits(&self) -> crate::query::QueryLimits {
        crate::query::QueryLimits {
            max_depth: self.query_max_depth,
            max_samples: self.query_max_samples,
            timeout: self.query_timeout,
            max_concurrent: self.query_max_concurrency,
            max_queued: self.query_max_queued,
        }
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

/// The site `cargo xtask build` writes beside the binary's own directory
/// (`$CARGO_TARGET_DIR/site` for `$CARGO_TARGET_DIR/release/portal`).
fn default_site_root() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("site")))
        .unwrap_or_else(|| PathBuf::from("site"))
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
        let url = SettingsInput {
            external_url: Some("portal.example.com".into()),
            ..Default::default()
        };
        let err = Settings::merge(url, SettingsInput::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("external_url"), "{err}");
    }

    #[test]
    fn the_external_url_defaults_to_the_listen_address_and_loses_its_trailing_slash() {
        let s = Settings::merge(SettingsInput::default(), SettingsInput::default()).unwrap();
        assert_eq!(s.external_url(s.listen), "http://127.0.0.1:3000");
        let given = SettingsInput {
            external_url: Some("https://portal.example.com/".into()),
            ..Default::default()
        };
        let s = Settings::merge(given, SettingsInput::default()).unwrap();
        assert_eq!(s.external_url(s.listen), "https://portal.example.com");
        assert_eq!(s.query_limits().max_depth, 500);
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
            "PORTAL_EXTERNAL_URL",
            "PORTAL_FONT",
            "PORTAL_QUERY_MAX_DEPTH",
            "PORTAL_QUERY_MAX_SAMPLES",
            "PORTAL_QUERY_TIMEOUT",
            "PORTAL_QUERY_MAX_CONCURRENCY",
            "PORTAL_QUERY_MAX_QUEUED",
            "PORTAL_WORKER_LOCK_RETRY",
        ] {
            assert!(help.contains(var), "--help lacks {var}");
        }
    }
}
