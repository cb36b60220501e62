//! `cargo xtask watch`: the developer loop. Builds the debug portal and site, runs the portal,
//! and on every saved change under the watched folders builds again, restarts the portal and
//! reloads the open pages. A failed build leaves the last good portal running.

use crate::{build, log, reload::Reloader, Paths, Profile};
use anyhow::{Context, Result};
use std::{
    collections::BTreeMap,
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command},
    thread,
    time::{Duration, Instant, SystemTime},
};

/// The folders whose changes rebuild the portal.
const WATCHED: &[&str] = &[
    "app",
    "frontend",
    "server/src",
    "server/dashboards",
    "style",
    "public",
    "migrations",
];
/// How often the folders are looked at.
const POLL: Duration = Duration::from_millis(400);
/// Where the reload script connects (leptos' default `reload_port`).
const RELOAD_ADDRESS: &str = "127.0.0.1:3001";

pub fn run(paths: &Paths) -> Result<()> {
    let reloader = Reloader::listen(RELOAD_ADDRESS)?;
    let listen = std::env::var("PORTAL_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let mut seen = snapshot(&paths.root);
    let mut portal: Option<Child> = None;
    let mut first = true;
    loop {
        if first || wait_for_change(&paths.root, &mut seen) {
            first = false;
            match build(paths, Profile::Debug, true) {
                Ok(()) => {
                    if let Some(child) = portal.take() {
                        stop(child);
                    }
                    portal = Some(start(paths)?);
                    if wait_until_ready(&listen, Duration::from_secs(60)) {
                        log(&format!(
                            "portal running at http://{listen}; watching for changes"
                        ));
                        reloader.reload_all();
                    } else {
                        log("the portal did not answer /healthz within 60 s");
                    }
                }
                Err(e) => log(&format!("build failed, keeping the last portal: {e:#}")),
            }
            // Changes made during the build are picked up by the next round.
            seen = snapshot(&paths.root);
        }
    }
}

/// Every watched file's modification time.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, SystemTime> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, SystemTime>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => walk(&path, out),
                Ok(_) => {
                    if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                        out.insert(path, modified);
                    }
                }
                Err(_) => {}
            }
        }
    }
    let mut out = BTreeMap::new();
    for dir in WATCHED {
        walk(&root.join(dir), &mut out);
    }
    out
}

/// Blocks until a watched file changes, then waits for the burst of saves to settle.
fn wait_for_change(root: &Path, seen: &mut BTreeMap<PathBuf, SystemTime>) -> bool {
    loop {
        thread::sleep(POLL);
        let now = snapshot(root);
        if now != *seen {
            thread::sleep(POLL);
            *seen = snapshot(root);
            return true;
        }
    }
}

fn start(paths: &Paths) -> Result<Child> {
    Command::new(paths.server_binary(Profile::Debug))
        .env("PORTAL_SITE_ROOT", paths.site())
        // Makes the shell include leptos' live-reload script.
        .env("LEPTOS_WATCH", "true")
        .spawn()
        .context("failed to start the portal")
}

/// Stops the portal as Ctrl-C does and waits for it (and its PostgreSQL) to finish.
fn stop(mut child: Child) {
    // SAFETY: kill only sends a signal to the process this loop started.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether `/healthz` answers 200 within `limit`.
fn wait_until_ready(listen: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(listen) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let request = format!("GET /healthz HTTP/1.0\r\nHost: {listen}\r\n\r\n");
            let mut answer = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut answer).is_ok()
                && answer.starts_with("HTTP/1.1 200")
            {
                return true;
            }
        }
        thread::sleep(Duration::from_millis(200));
    }
    false
}
