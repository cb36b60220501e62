//! The embedded PostgreSQL (ARCHITECTURE decision 4): with no `DATABASE_URL` the portal runs a
//! private cluster from the installed PostgreSQL binaries. It initialises the data directory on
//! first start, reuses it afterwards, listens only on a Unix socket in a private directory, runs
//! as an unprivileged user when the portal runs as root, and stops when the portal stops: on
//! request, or by the kernel's parent-death signal if the portal dies.

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
    sync::{mpsc, Mutex},
    time::{Duration, Instant},
};
use tracing::{info, warn};

/// The port number only names the socket file; the cluster listens on no TCP port.
const SOCKET_PORT: u16 = 5432;
/// The role initdb creates and the portal connects as.
const SUPERUSER: &str = "postgres";
/// sun_path is 108 bytes; the socket file name takes 16 of them.
const MAX_SOCKET_DIR_LEN: usize = 90;

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
    pid: i32,
    /// Reports the child's exit; a Mutex only to make the handle shareable.
    exited: Mutex<mpsc::Receiver<std::io::Result<std::process::ExitStatus>>>,
    stopped: bool,
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
            bail!(
                "PostgreSQL (pid {pid}) is already running on {}: is another portal using this data directory? Stop it or choose another PORTAL_DATA_DIR",
                cluster_dir.display()
            );
        }

        let log_path = data_dir.join("postgres.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("failed to open {}", log_path.display()))?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);

        let mut command = Command::new(bin_dir.join("postgres"));
        command
            .arg("-D")
            .arg(&cluster_dir)
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
            .arg("checkpoint_timeout=15min")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .env_remove("PGDATA")
            .current_dir(&data_dir)
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

        // The parent-death signal fires when the thread that forked the child ends, so a thread
        // that lives exactly as long as the child does the forking and the waiting.
        let (pid_tx, pid_rx) = mpsc::channel();
        let (exit_tx, exit_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("embedded-postgres".into())
            .spawn(move || match command.spawn() {
                Ok(mut child) => {
                    let _ = pid_tx.send(Ok(child.id() as i32));
                    let _ = exit_tx.send(child.wait());
                }
                Err(e) => {
                    let _ = pid_tx.send(Err(e));
                }
            })?;
        let pid = pid_rx
            .recv()
            .map_err(|_| anyhow!("the embedded PostgreSQL supervisor ended early"))?
            .context("failed to start postgres")?;

        let mut pg = Self {
            data_dir,
            socket_dir,
            pid,
            exited: Mutex::new(exit_rx),
            stopped: false,
        };
        info!(pid, data_dir = %pg.data_dir.display(), "embedded postgresql starting");
        if let Err(e) = pg.wait_until_ready(&log_path, log_start).await {
            pg.stop().await.ok();
            return Err(e);
        }
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

    pub fn pid(&self) -> i32 {
        self.pid
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
                    if running_postmaster(&self.data_dir.join("postgres")) == Some(self.pid) =>
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
        // SAFETY: kill has no memory-safety preconditions; the pid is our own child's, which
        // cannot be reaped (and so reused) before the supervisor thread reports its exit.
        unsafe { libc::kill(self.pid, libc::SIGINT) };
        let started = Instant::now();
        loop {
            match self.try_exit() {
                Ok(_) | Err(mpsc::TryRecvError::Disconnected) => {
                    info!(pid = self.pid, "embedded postgresql stopped");
                    return Ok(());
                }
                Err(mpsc::TryRecvError::Empty) => {}
            }
            if started.elapsed() > Duration::from_secs(30) {
                warn!(
                    pid = self.pid,
                    "embedded postgresql did not stop in 30s, sending immediate shutdown"
                );
                // SAFETY: as above.
                unsafe { libc::kill(self.pid, libc::SIGQUIT) };
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
            // SAFETY: as in stop_inner.
            unsafe { libc::kill(self.pid, libc::SIGINT) };
        }
    }
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
}
