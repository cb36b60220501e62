//! The two cargo builds: the server binary (native) and the UI's WASM (wasm32). They run at
//! the same time, each in a target directory of its own (cargo locks a target directory per
//! build): most of a large crate's compile is one thread, so on two cores the other build fills
//! the idle one.

use crate::{log, Paths, Profile};
use anyhow::{bail, Context, Result};
use std::{
    path::PathBuf,
    process::{Child, Command},
};

/// The profile the browser's WASM is built with in release: small rather than fast.
const WASM_RELEASE_PROFILE: &str = "wasm-release";

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `cargo build` of the portal binary.
pub fn server_command(paths: &Paths, profile: Profile) -> Command {
    let mut cmd = cargo();
    cmd.current_dir(&paths.root)
        .args(["build", "--package", "server", "--bin", "portal"])
        .arg("--target-dir")
        .arg(&paths.target);
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    cmd
}

/// The target directory of the WASM half, beside the server's.
fn front_target(paths: &Paths) -> PathBuf {
    paths.target.join("front")
}

/// `cargo build` of the hydrating WASM; its flags (type-erased views, relocations kept for the
/// splitter) come from `[target.wasm32-unknown-unknown]` in `.cargo/config.toml`, which clippy
/// reads too.
fn frontend_command(paths: &Paths, profile: Profile) -> Command {
    let mut cmd = cargo();
    cmd.current_dir(&paths.root)
        .args([
            "build",
            "--package",
            "frontend",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .arg("--target-dir")
        .arg(front_target(paths));
    if profile == Profile::Release {
        cmd.args(["--profile", WASM_RELEASE_PROFILE]);
    }
    cmd
}

/// The WASM file `frontend_command` writes.
fn frontend_output(paths: &Paths, profile: Profile) -> PathBuf {
    let dir = match profile {
        Profile::Debug => "debug",
        Profile::Release => WASM_RELEASE_PROFILE,
    };
    front_target(paths)
        .join("wasm32-unknown-unknown")
        .join(dir)
        .join("frontend.wasm")
}

fn spawn(what: &str, mut cmd: Command) -> Result<Child> {
    cmd.spawn()
        .with_context(|| format!("failed to start cargo for the {what}"))
}

/// Builds the WASM and, when `with_server`, the server at the same time; returns the WASM's path.
pub fn build_both(paths: &Paths, profile: Profile, with_server: bool) -> Result<PathBuf> {
    log(&format!(
        "compiling {} ({})",
        if with_server {
            "the server and the UI's WASM side by side"
        } else {
            "the UI's WASM"
        },
        profile.name()
    ));
    let mut builds = vec![(
        "UI's WASM",
        spawn("UI's WASM", frontend_command(paths, profile))?,
    )];
    if with_server {
        match spawn("server", server_command(paths, profile)) {
            Ok(child) => builds.push(("server", child)),
            Err(e) => {
                kill_all(&mut builds);
                return Err(e);
            }
        }
    }
    // The first build to fail stops the other: its errors are what the developer needs.
    while !builds.is_empty() {
        let mut i = 0;
        while i < builds.len() {
            match builds[i].1.try_wait() {
                Ok(Some(status)) => {
                    let (what, _) = builds.remove(i);
                    if !status.success() {
                        kill_all(&mut builds);
                        bail!("the {what} build failed ({status})");
                    }
                }
                Ok(None) => i += 1,
                Err(e) => {
                    kill_all(&mut builds);
                    return Err(e).context("failed to wait for cargo");
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(frontend_output(paths, profile))
}

fn kill_all(builds: &mut Vec<(&str, Child)>) {
    for (_, child) in builds.iter_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    builds.clear();
}
