//! The portal's build: `cargo xtask build [--release]` makes the server binary and the site it
//! serves (the UI's WASM split by route, its JS glue and the stylesheet, in a directory named
//! after its contents, each file precompressed); `cargo xtask watch` rebuilds on every change,
//! restarts the portal and reloads the open pages; `cargo xtask sizes` prints what a first visit
//! downloads. See docs/build.md for why the build is put together this way.

mod cargo;
mod reload;
mod site;
mod watch;

use anyhow::{bail, Context, Result};
use std::{
    path::{Path, PathBuf},
    time::Instant,
};

/// The two ways to build: `Debug` for the watch loop (quick, unoptimised, uncompressed),
/// `Release` for running and testing the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

/// Where the workspace is and where its builds go.
/// The workspace this xtask runs for: the manifest directory `cargo run` names at run time, or
/// the nearest directory upwards from here with `xtask/Cargo.toml`. Never the directory it was
/// compiled in: clones share a build directory, and cargo reuses this binary for a clone
/// elsewhere as long as its sources are the same.
fn workspace_root() -> Result<PathBuf> {
    let is_root = |dir: &Path| dir.join("xtask/Cargo.toml").is_file();
    if let Some(manifest) = std::env::var_os("CARGO_MANIFEST_DIR") {
        if let Some(root) = Path::new(&manifest).parent().filter(|d| is_root(d)) {
            return Ok(root.to_path_buf());
        }
    }
    let here = std::env::current_dir().context("the current directory")?;
    here.ancestors()
        .find(|d| is_root(d))
        .map(Path::to_path_buf)
        .context("run the xtask inside the portal's workspace (no xtask/Cargo.toml above here)")
}

#[derive(Debug, Clone)]
pub struct Paths {
    /// The workspace root (where `Cargo.toml` and `style/` are).
    pub root: PathBuf,
    /// Cargo's target directory (`CARGO_TARGET_DIR`, `~/.cache/portal-target` under `make`).
    pub target: PathBuf,
}

impl Paths {
    fn discover() -> Result<Self> {
        let root = workspace_root()?;
        let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => root.join(dir),
            None => root.join("target"),
        };
        Ok(Self { root, target })
    }

    /// The directory the portal serves its UI from (`PORTAL_SITE_ROOT` points here).
    pub fn site(&self) -> PathBuf {
        self.target.join("site")
    }

    /// The portal binary of `profile`.
    pub fn server_binary(&self, profile: Profile) -> PathBuf {
        self.target.join(profile.name()).join("portal")
    }
}

const USAGE: &str = "\
usage: cargo xtask <command>

  build [--release] [--site-only]   the server binary and the site (debug unless --release)
  watch                             build (debug), run the portal, rebuild and restart it on
                                    every change under app/ frontend/ server/ style/ public/
                                    migrations/, and reload the open pages
  sizes                             what the current site's first page downloads, file by file
";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let paths = Paths::discover()?;
    match args.first().map(String::as_str) {
        Some("build") => {
            let mut profile = Profile::Debug;
            let mut site_only = false;
            for arg in &args[1..] {
                match arg.as_str() {
                    "--release" => profile = Profile::Release,
                    "--site-only" => site_only = true,
                    other => bail!("unknown option {other:?} for build\n\n{USAGE}"),
                }
            }
            let started = Instant::now();
            build(&paths, profile, !site_only)?;
            log(&format!(
                "{} build finished in {:.1} s",
                profile.name(),
                started.elapsed().as_secs_f64()
            ));
            Ok(())
        }
        Some("watch") => watch::run(&paths),
        Some("sizes") => site::print_sizes(&paths.site()),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

/// Builds the server (unless `with_server` is false) and the WASM half side by side, and
/// assembles the site from the WASM as soon as it is built, while the server still compiles.
pub fn build(paths: &Paths, profile: Profile, with_server: bool) -> Result<()> {
    let mut builds = cargo::Builds::start(paths, profile, with_server)?;
    let wasm = builds.wasm()?;
    site::assemble(paths, profile, &wasm)?;
    builds.server()
}

/// A progress line on standard error, in the same colour as the Makefile's tool installs.
pub fn log(message: &str) {
    eprintln!("\x1b[1;34m[build]\x1b[0m {message}");
}
