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

/// The cargo builds under way; dropping it stops the ones still running.
pub struct Builds {
    front: Option<Child>,
    server: Option<Child>,
    wasm: PathBuf,
}

impl Builds {
    /// Starts the WASM build and, when `with_server`, the server build beside it.
    pub fn start(paths: &Paths, profile: Profile, with_server: bool) -> Result<Self> {
        log(&format!(
            "compiling {} ({})",
            if with_server {
                "the server and the UI's WASM side by side"
            } else {
                "the UI's WASM"
            },
            profile.name()
        ));
        let mut builds = Self {
            front: Some(spawn("UI's WASM", frontend_command(paths, profile))?),
            server: None,
            wasm: frontend_output(paths, profile),
        };
        if with_server {
            builds.server = Some(spawn("server", server_command(paths, profile))?);
        }
        Ok(builds)
    }

    /// Waits for the WASM and returns its path; a server build that fails meanwhile stops it
    /// (the first failure is what the developer needs to see).
    pub fn wasm(&mut self) -> Result<PathBuf> {
        loop {
            if finished("UI's WASM", &mut self.front)? {
                return Ok(self.wasm.clone());
            }
            finished("server", &mut self.server)?;
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Waits for the server build, if there is one.
    pub fn server(&mut self) -> Result<()> {
        while !finished("server", &mut self.server)? {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(())
    }
}

impl Drop for Builds {
    fn drop(&mut self) {
        for child in [&mut self.front, &mut self.server].into_iter().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether the build in `slot` is over (true when there is none); an error if it failed.
fn finished(what: &str, slot: &mut Option<Child>) -> Result<bool> {
    let Some(child) = slot else {
        return Ok(true);
    };
    match child
        .try_wait()
        .with_context(|| format!("failed to wait for the {what} build"))?
    {
        None => Ok(false),
        Some(status) => {
            *slot = None;
            if !status.success() {
                bail!("the {what} build failed ({status})");
            }
            Ok(true)
        }
    }
}
