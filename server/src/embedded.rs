//! The embedded PostgreSQL (ARCHITECTURE decision 4): with no `DATABASE_URL` the portal runs a
//! private cluster from the installed PostgreSQL binaries. It initialises the data directory on
//! first start, reuses it afterwards, listens only on a Unix socket in a private directory, runs
//! as an unprivileged user when the portal runs as root, and stops when the portal stops: on
//! request, or by the kernel's parent-death signal if the portal dies.
//!
//! It is supervised: once it has been ready, a PostgreSQL that dies (killed, out of memory) is
//! started again, with waits from half a second doubling up to five, until it runs or the
//! portal stops. Meanwhile requests that need the database answer 503 with Retry-After and the
//! pool reconnects by itself. A portal started right after another was killed waits for the
//! orphaned PostgreSQL (which the parent-death signal is already shutting down) to finish,
//! instead of refusing as it does when another portal really uses the data directory.

use anyhow::{anyhow, bail, Context};
use sqlx::{
    postgres::{PgConnectOptions, PgConnection},
    Connection,
};
use std::{
    ffi::CString,
    fs,
    io::{Read, Seek, SeekFrom},
    os::unix::{
        fs::{MetadataExt, PermissionsExt},
        process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicI32, Ordering},
        mpsc, Arc, Mutex,
    },
    time::{Duration, Instant},
};
use tracing::{error, info, warn};

/// The port number only names the socket file; the cluster listens on no TCP port.
const SOCKET_PORT: u16 = 5432;
/// The role initdb creates and the portal connects as.
const SUPERUSER: &str = "postgres";
/// sun_path is 108 bytes; the socket file name takes 16 of them.
const MAX_SOCKET_DIR_LEN: usize = 90;
/// How long a PostgreSQL left by a portal that died may take to finish its shutdown.
const ORPHAN_SHUTDOWN_WAIT: Duration = Duration::from_secs(60);
/// How long a running PostgreSQL that is not shutting down is watched before it is taken for
/// another portal's: the parent-death signal of a portal killed a moment ago may not have been
/// handled yet.
const ORPHAN_GRACE: Duration = Duration::from_secs(1);
/// The first and the longest wait before starting a PostgreSQL that died again.
const RESTART_BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(5));

/// How to run the embedded cluster.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Holds `postgres/` (the cluster), `postgres.log` and, when the path is short enough,
    /// `postgres-run/` (the socket).
    pub data_dir: PathBuf,
    /// Directory with `initdb` and `postgres`; found automatically when `None`.
    pub bin_dir: Option<PathBuf>,
    /// Who runs PostgreSQL when the portal runs as root (PostgreSQL refuses to run as root).
    pub user: String,
}

/// A running private PostgreSQL cluster.
pub struct EmbeddedPostgres {
    data_dir: PathBuf,
    socket_dir: PathBuf,
    supervised: Arc<Supervised>,
    /// Reports the last child's exit once the supervisor thread ends; a Mutex only to make the
    /// handle shareable.
    exited: Mutex<mpsc::Receiver<std::io::Result<std::process::ExitStatus>>>,
    stopped: bool,
}

/// What the handle and the supervisor thread share.
#[derive(Default)]
struct Supervised {
    /// The running postmaster's pid; 0 between a death and the next start.
    pid: AtomicI32,
    /// Set once the first start was ready: from then on a death means a restart.
    restart: AtomicBool,
    /// Set when the portal asks it to stop: a death then ends the supervision.
    stopping: AtomicBool,
}

/// The account PostgreSQL runs under.
#[derive(Debug, Clone, Copy)]
struct Account {
    uid: u32,
    gid: u32,
}

impl EmbeddedPostgres {
    /// Starts the cluster (initialising it on first use), waits until it accepts connections,
    /// and creates `database` in it when missing.
    pub async fn start(options: &EmbeddedOptions, database: &str) -> anyhow::Result<Self> {
        let bin_dir = match &options.bin_dir {
            Some(dir) => dir.clone(),
            None => find_bin_dir()?,
        };
        for tool in ["initdb", "postgres"] {
            if !bin_dir.join(tool).is_file() {
                bail!(
                    "{} not found in {}: install PostgreSQL or set PORTAL_POSTGRES_BIN",
                    tool,
                    bin_dir.display()
                );
            }
        }
        let account = account_for(&options.user)?;
        let data_dir = absolute(&options.data_dir)?;
        fs::create_dir_all(&data_dir).with_context(|| {
            format!("failed to create the data directory {}", data_dir.display())
        })?;
        if account.is_some() {
            fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o755))?;
            check_reachable_by_others(&data_dir, &options.user)?;
        }
        let cluster_dir = data_dir.join("postgres");
        let socket_dir = socket_dir_for(&data_dir);
        make_private_dir(&socket_dir, account)?;

        if !cluster_dir.join("PG_VERSION").is_file() {
            initdb(&bin_dir, &cluster_dir, account)?;
        } else if let Some(pid) = running_postmaster(&cluster_dir) {
            if !previous_shut_down(&cluster_dir, pid).await {
                bail!(
                    "PostgreSQL (pid {pid}) is already running on {}: is another portal using this data directory? Stop it or choose another PORTAL_DATA_DIR",
                    cluster_dir.display()
                );
            }
        }

        let log_path = data_dir.join("postgres.log");
        let log_start = fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
        let make_command = {
            let (bin_dir, cluster_dir, socket_dir, data_dir, log_path) = (
                bin_dir.clone(),
                cluster_dir.clone(),
                socket_dir.clone(),
                data_dir.clone(),
                log_path.clone(),
            );
            move || {
                postgres_command(
                    &bin_dir,
                    &cluster_dir,
                    &socket_dir,
                    &data_dir,
                    &log_path,
                    account,
                )
            }
        };
        // Fails early on a log that cannot be opened, with the reason.
        make_command()?;

        // The parent-death signal fires when the thread that forked the child ends, so a thread
        // that lives exactly as long as the children does the forking, the waiting and the
        // restarting.
        let supervised = Arc::new(Supervised::default());
        let (pid_tx, pid_rx) = mpsc::channel();
        let (exit_tx, exit_rx) = mpsc::channel();
        {
            let supervised = supervised.clone();
            std::thread::Builder::new()
                .name("embedded-postgres".into())
                .spawn(move || supervise(make_command, &supervised, pid_tx, exit_tx))?;
        }
        let pid = pid_rx
            .recv()
            .map_err(|_| anyhow!("the embedded PostgreSQL supervisor ended early"))?
            .context("failed to start postgres")?;

        let mut pg = Self {
            data_dir,
            socket_dir,
            supervised,
            exited: Mutex::new(exit_rx),
            stopped: false,
        };
        info!(pid, data_dir = %pg.data_dir.display(), "embedded postgresql starting");
        if let Err(e) = pg.wait_until_ready(&log_path, log_start).await {
            pg.stop().await.ok();
            return Err(e);
        }
        pg.supervised.restart.store(true, Ordering::SeqCst);
        pg.create_database(database).await?;
        info!(socket_dir = %pg.socket_dir.display(), "embedded postgresql ready");
        Ok(pg)
    }

    /// Returns options that connect to `database` in this cluster.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(SOCKET_PORT)
            .username(SUPERUSER)
            .database(database)
    }

    /// Returns a URL for `database` in this cluster, for tools that take URLs (psql, sqlx).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{SOCKET_PORT}/{database}?host={}",
            self.socket_dir.display()
        )
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The running postmaster's pid (0 while a restart is pending).
    pub fn pid(&self) -> i32 {
        self.supervised.pid.load(Ordering::SeqCst)
    }

    fn try_exit(&self) -> Result<std::io::Result<std::process::ExitStatus>, mpsc::TryRecvError> {
        self.exited
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_recv()
    }

    async fn wait_until_ready(&mut self, log_path: &Path, log_start: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(status) = self.try_exit() {
                self.stopped = true;
                let tail = read_log_since(log_path, log_start);
                bail!(
                    "embedded postgres exited during start-up ({}):\n{tail}",
                    status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|e| e.to_string())
                );
            }
            match PgConnection::connect_with(&self.connect_options("postgres")).await {
                // Only our own server counts: another one on the same socket must not pass for it.
                Ok(conn)
                    if running_postmaster(&self.data_dir.join("postgres")) == Some(self.pid()) =>
                {
                    conn.close().await.ok();
                    return Ok(());
                }
                Ok(conn) => {
                    conn.close().await.ok();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(anyhow!(e)
                        .context("embedded postgres did not accept connections within 60s"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
            if Instant::now() > deadline {
                bail!(
                    "embedded postgres did not become ready within 60s; see {}",
                    log_path.display()
                );
            }
        }
    }

    async fn create_database(&self, database: &str) -> anyhow::Result<()> {
        let mut conn = PgConnection::connect_with(&self.connect_options("postgres")).await?;
        let exists: bool =
            sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                .bind(database)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            let quoted = database.replace('"', "\"\"");
            sqlx::query(&format!("create database \"{quoted}\""))
                .execute(&mut conn)
                .await
                .with_context(|| format!("failed to create database {database}"))?;
            info!(database, "created database");
        }
        conn.close().await.ok();
        Ok(())
    }

    /// Stops the cluster with a fast shutdown (sessions ended, a checkpoint written) and waits
    /// for it to exit; falls back to an immediate shutdown after 30 seconds.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop_inner().await
    }

    async fn stop_inner(&mut self) -> anyhow::Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        self.supervised.stopping.store(true, Ordering::SeqCst);
        let mut signalled = self.pid();
        signal(signalled, libc::SIGINT);
        let started = Instant::now();
        let mut escalated = false;
        loop {
            // A restart that was under way when the stop came is stopped too.
            let pid = self.pid();
            if pid != signalled {
                signal(pid, libc::SIGINT);
                signalled = pid;
            }
            match self.try_exit() {
                Ok(_) | Err(mpsc::TryRecvError::Disconnected) => {
                    info!("embedded postgresql stopped");
                    return Ok(());
                }
                Err(mpsc::TryRecvError::Empty) => {}
            }
            if started.elapsed() > Duration::from_secs(30) && !escalated {
                warn!(
                    pid = self.pid(),
                    "embedded postgresql did not stop in 30s, sending immediate shutdown"
                );
                signal(self.pid(), libc::SIGQUIT);
                escalated = true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for EmbeddedPostgres {
    /// Asks PostgreSQL to shut down when the handle is dropped without `stop` (an error path);
    /// the parent-death signal covers a portal that dies outright.
    fn drop(&mut self) {
        if !self.stopped {
            self.supervised.stopping.store(true, Ordering::SeqCst);
            signal(self.pid(), libc::SIGINT);
        }
    }
}

/// Sends `signal` to a postmaster of ours; nothing when none runs.
fn signal(pid: i32, signal: libc::c_int) {
    if pid > 0 {
        // SAFETY: kill has no memory-safety preconditions; the pid is our own child's, cleared
        // by the supervisor thread as soon as it has reaped it.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Memory this machine (or its container's limit, if lower) has, in bytes; `None` if unknown.
fn machine_memory() -> Option<u64> {
    let total = fs::read_to_string("/proc/meminfo").ok().and_then(|info| {
        info.lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    })?;
    let limit = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|path| fs::read_to_string(path).ok()?.trim().parse::<u64>().ok());
    Some(limit.map_or(total, |limit| limit.min(total)))
}

/// The cluster's memory settings for a machine of `memory` bytes: a quarter for shared buffers
/// (at most 8 GiB), the planner told half is cache, index builds a thirty-second (64 MiB to
/// 1 GiB). PostgreSQL's own defaults where the memory is unknown or small.
fn memory_settings(memory: Option<u64>) -> Vec<(&'static str, String)> {
    const MIB: u64 = 1024 * 1024;
    let Some(memory) = memory.filter(|m| *m >= 1024 * MIB) else {
        return Vec::new();
    };
    let mb = |bytes: u64| format!("{}MB", bytes / MIB);
    vec![
        ("shared_buffers", mb((memory / 4).min(8 * 1024 * MIB))),
        ("effective_cache_size", mb(memory / 2)),
        (
            "maintenance_work_mem",
            mb((memory / 32).clamp(64 * MIB, 1024 * MIB)),
        ),
    ]
}

/// The command that runs the cluster, its output appended to `log_path`.
fn postgres_command(
    bin_dir: &Path,
    cluster_dir: &Path,
    socket_dir: &Path,
    data_dir: &Path,
    log_path: &Path,
    account: Option<Account>,
) -> anyhow::Result<Command> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .with_context(|| format!("failed to open {}", log_path.display()))?;
    let mut command = Command::new(bin_dir.join("postgres"));
    command
        .arg("-D")
        .arg(cluster_dir)
        .arg("-p")
        .arg(SOCKET_PORT.to_string())
        .arg("-c")
        .arg("listen_addresses=")
        .arg("-c")
        .arg(format!("unix_socket_directories={}", socket_dir.display()))
        .arg("-c")
        .arg("unix_socket_permissions=0700")
        // Ingest writes WAL fast: fewer, spread-out checkpoints keep commits from stalling
        // behind checkpoint flushes (durability is unchanged: every commit is still synced).
        .arg("-c")
        .arg("max_wal_size=4GB")
        .arg("-c")
        .arg("checkpoint_timeout=15min");
    // PostgreSQL's defaults (128 MB of buffers) suit a shared server; this cluster is the
    // portal's own. A day's log indexes outgrow 128 MB within hours and every insert then
    // evicts and rereads pages: half the ingest rate on a full day (measured, docs/performance.md).
    for (name, value) in memory_settings(machine_memory()) {
        command.arg("-c").arg(format!("{name}={value}"));
    }
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .env_remove("PGDATA")
        .current_dir(data_dir)
        // Its own process group: Ctrl-C in a terminal reaches the portal, which then drains
        // its requests before stopping the database, instead of reaching both at once.
        .process_group(0);
    if let Some(account) = account {
        command.uid(account.uid).gid(account.gid);
    }
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // SIGINT is PostgreSQL's fast shutdown: it ends sessions and writes a checkpoint.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() == 1 {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    Ok(command)
}

type ExitReport = std::io::Result<std::process::ExitStatus>;

/// The supervisor thread: starts PostgreSQL, reports the first pid, and after each death starts
/// it again (once it has been ready and unless the portal is stopping it); reports the last
/// exit when it ends.
fn supervise(
    make_command: impl Fn() -> anyhow::Result<Command>,
    supervised: &Supervised,
    pid_tx: mpsc::Sender<std::io::Result<i32>>,
    exit_tx: mpsc::Sender<ExitReport>,
) {
    let mut first = Some(pid_tx);
    let mut backoff = RESTART_BACKOFF.0;
    loop {
        let spawned = make_command().and_then(|mut c| c.spawn().map_err(anyhow::Error::from));
        let status = match spawned {
            Ok(mut child) => {
                supervised.pid.store(child.id() as i32, Ordering::SeqCst);
                if let Some(tx) = first.take() {
                    let _ = tx.send(Ok(child.id() as i32));
                } else {
                    info!(pid = child.id(), "embedded postgresql started again");
                }
                let ran_since = Instant::now();
                let status = child.wait();
                supervised.pid.store(0, Ordering::SeqCst);
                if ran_since.elapsed() > RESTART_BACKOFF.1 * 2 {
                    backoff = RESTART_BACKOFF.0;
                }
                status
            }
            Err(e) => {
                if let Some(tx) = first.take() {
                    let _ = tx.send(Err(std::io::Error::other(format!("{e:#}"))));
                    return;
                }
                Err(std::io::Error::other(format!("{e:#}")))
            }
        };
        if supervised.stopping.load(Ordering::SeqCst) || !supervised.restart.load(Ordering::SeqCst)
        {
            let _ = exit_tx.send(status);
            return;
        }
        error!(
            status = %status.as_ref().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
            retry_in = ?backoff,
            "embedded postgresql died; starting it again (requests that need the database answer 503 meanwhile)"
        );
        // A postmaster that was killed outright leaves its backends to notice and exit; a new
        // one refuses to start until they have. The waits cover that.
        let wake = Instant::now() + backoff;
        while Instant::now() < wake {
            if supervised.stopping.load(Ordering::SeqCst) {
                let _ = exit_tx.send(status);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        backoff = (backoff * 2).min(RESTART_BACKOFF.1);
    }
}

/// Waits for a PostgreSQL found running on the cluster to go away when it is one a portal that
/// died left behind: the parent-death signal has put it in fast shutdown ("stopping" in its
/// `postmaster.pid`). True when it is gone; false when it runs on, as another portal's does.
async fn previous_shut_down(cluster_dir: &Path, pid: i32) -> bool {
    let seen = Instant::now();
    let mut stopping_since = None;
    loop {
        if running_postmaster(cluster_dir) != Some(pid) {
            if stopping_since.is_some() {
                info!(
                    pid,
                    "the previous portal's postgresql has finished shutting down"
                );
            }
            return true;
        }
        if stopping_since.is_none() && postmaster_status(cluster_dir).as_deref() == Some("stopping")
        {
            info!(
                pid,
                "waiting for the previous portal's postgresql to finish shutting down"
            );
            stopping_since = Some(Instant::now());
        }
        match stopping_since {
            Some(since) if since.elapsed() > ORPHAN_SHUTDOWN_WAIT => return false,
            None if seen.elapsed() > ORPHAN_GRACE => return false,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The postmaster's state as its lock file says: "starting", "ready" or "stopping".
fn postmaster_status(cluster_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(cluster_dir.join("postmaster.pid")).ok()?;
    Some(text.lines().nth(7)?.trim().to_string())
}

/// Returns the PID in the cluster's `postmaster.pid` when that process is alive.
fn running_postmaster(cluster_dir: &Path) -> Option<i32> {
    let text = fs::read_to_string(cluster_dir.join("postmaster.pid")).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    // SAFETY: signal 0 only checks that the process exists.
    (pid > 0 && unsafe { libc::kill(pid, 0) } == 0).then_some(pid)
}

/// Finds the newest `/usr/lib/postgresql/<version>/bin`, else asks `pg_config`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    bail!("no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and pg_config --bindir): install PostgreSQL, set PORTAL_POSTGRES_BIN, or set DATABASE_URL")
}

/// The unprivileged account to run as when we are root; `None` when we are not root.
fn account_for(user: &str) -> anyhow::Result<Option<Account>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = CString::new(user).context("invalid user name")?;
    // SAFETY: getpwnam returns null or a pointer to static storage, read at once, before any
    // other call could overwrite it.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        bail!(
            "the portal runs as root, and PostgreSQL refuses to: it needs an unprivileged user \"{user}\" to run the embedded database (create it with `useradd --system {user}`, or set PORTAL_POSTGRES_USER)"
        );
    }
    // SAFETY: entry is non-null and points to a valid passwd record.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    if uid == 0 {
        bail!("PORTAL_POSTGRES_USER must not be root");
    }
    Ok(Some(Account { uid, gid }))
}

/// The database user must be able to walk down to the data directory.
fn check_reachable_by_others(dir: &Path, user: &str) -> anyhow::Result<()> {
    for ancestor in dir.ancestors().skip(1) {
        if let Ok(meta) = fs::metadata(ancestor) {
            if meta.mode() & 0o001 == 0 {
                bail!(
                    "the database user \"{user}\" cannot reach {}: {} is not searchable by other users; choose another PORTAL_DATA_DIR",
                    dir.display(),
                    ancestor.display()
                );
            }
        }
    }
    Ok(())
}

/// Creates a directory only the database user may enter.
fn make_private_dir(dir: &Path, account: Option<Account>) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    if let Some(account) = account {
        std::os::unix::fs::chown(dir, Some(account.uid), Some(account.gid))
            .with_context(|| format!("failed to hand {} to the database user", dir.display()))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// `<data>/postgres-run`, or a directory under /tmp named after the data directory when that
/// path is too long for a Unix socket.
fn socket_dir_for(data_dir: &Path) -> PathBuf {
    let preferred = data_dir.join("postgres-run");
    if preferred.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
        return preferred;
    }
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    data_dir.hash(&mut hasher);
    std::env::temp_dir().join(format!("portal-pg-{:016x}", hasher.finish()))
}

/// Initialises a cluster in a scratch directory and moves it into place, so an interrupted
/// initdb never leaves a half-made cluster behind.
fn initdb(bin_dir: &Path, cluster_dir: &Path, account: Option<Account>) -> anyhow::Result<()> {
    let scratch = cluster_dir.with_file_name("postgres.initdb");
    if scratch.exists() {
        fs::remove_dir_all(&scratch)?;
    }
    make_private_dir(&scratch, account)?;
    info!(dir = %cluster_dir.display(), "initialising embedded postgresql cluster");
    let mut command = Command::new(bin_dir.join("initdb"));
    command
        .arg("-D")
        .arg(&scratch)
        .args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-instructions",
        ])
        .stdin(Stdio::null())
        .env_remove("PGDATA");
    if let Some(account) = account {
        command.uid(account.uid).gid(account.gid);
    }
    let output = command.output().context("failed to run initdb")?;
    if !output.status.success() {
        bail!(
            "initdb failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    fs::rename(&scratch, cluster_dir).context("failed to move the new cluster into place")?;
    Ok(())
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}

fn read_log_since(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = fs::File::open(path) {
        let _ = file.seek(SeekFrom::Start(offset));
        let _ = file.take(8192).read_to_string(&mut text);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_data_paths_put_the_socket_in_a_short_directory() {
        let short = socket_dir_for(Path::new("/var/lib/portal"));
        assert_eq!(short, Path::new("/var/lib/portal/postgres-run"));
        let long_path = PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
        let long = socket_dir_for(&long_path);
        assert!(
            long.as_os_str().len() <= MAX_SOCKET_DIR_LEN,
            "{}",
            long.display()
        );
        assert_eq!(
            long,
            socket_dir_for(&long_path),
            "the same data directory gets the same socket directory"
        );
    }

    #[test]
    fn memory_settings_follow_the_machine_within_bounds() {
        const GIB: u64 = 1024 * 1024 * 1024;
        let get = |memory: Option<u64>, name: &str| {
            memory_settings(memory)
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v)
        };
        assert_eq!(
            get(Some(24 * GIB), "shared_buffers").as_deref(),
            Some("6144MB")
        );
        assert_eq!(
            get(Some(24 * GIB), "effective_cache_size").as_deref(),
            Some("12288MB")
        );
        assert_eq!(
            get(Some(24 * GIB), "maintenance_work_mem").as_deref(),
            Some("768MB")
        );
        assert_eq!(
            get(Some(256 * GIB), "shared_buffers").as_deref(),
            Some("8192MB")
        );
        assert_eq!(
            get(Some(256 * GIB), "maintenance_work_mem").as_deref(),
            Some("1024MB")
        );
        assert_eq!(
            get(Some(GIB), "maintenance_work_mem").as_deref(),
            Some("64MB")
        );
        assert!(memory_settings(Some(512 * 1024 * 1024)).is_empty());
        assert!(memory_settings(None).is_empty());
    }
}
