//! The site: what the portal serves under `/pkg/`, made from the WASM cargo built.
//!
//! 1. **Split** the WASM at leptos' `#[lazy]` points (each page is one), so a first visit loads
//!    the frame and its page, not every page.
//! 2. **Bind** the main module with wasm-bindgen (the JS glue `portal.js`, `portal_bg.wasm`).
//! 3. **Optimise** every module with wasm-opt `-Oz` (release), two at a time.
//! 4. **Stylesheet** through lightningcss (minified in release).
//! 5. **Version**: the files go to `pkg/<hash of their contents>/`, so a name never changes its
//!    content and the server answers them as immutable; `site.json` names the current version.
//!    The two versions before it stay, for pages still open from an earlier build.
//! 6. **Precompress** (release): brotli (quality 11) and gzip (level 9) beside each file, so
//!    the server never compresses them.
//!
//! A build whose inputs (the WASM, the stylesheet, the profile) are those of the current site
//! reuses it: a second `make run` with nothing changed costs the cargo checks only.

use crate::{log, Paths, Profile};
use anyhow::{bail, Context, Result};
use std::{
    collections::BTreeMap,
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

/// The name of the JS glue, the main WASM (`<name>_bg.wasm`) and the stylesheet, as leptos'
/// `HydrationScripts` and the shell expect them (`app::OUTPUT_NAME`).
const OUTPUT_NAME: &str = "portal";
/// The module the split WASM imports its loaders from; leptos preloads it by this name.
const SPLIT_LINK_NAME: &str = "__wasm_split.______________________.js";
/// The prefetch map (`split point → modules`) leptos reads to preload a page's modules.
const SPLIT_MANIFEST: &str = "__wasm_split_manifest.json";
/// The manifest the server reads at start-up to find the current version.
pub const SITE_MANIFEST: &str = "site.json";
/// Bumped whenever this pipeline changes what it makes from the same inputs.
const PIPELINE_VERSION: u64 = 1;
/// Versions kept in `pkg/` besides the current one.
const KEEP_PREVIOUS: usize = 2;

/// Builds the site from `wasm` into `paths.site()`.
pub fn assemble(paths: &Paths, profile: Profile, wasm: &Path) -> Result<()> {
    let started = Instant::now();
    let site = paths.site();
    fs::create_dir_all(site.join("pkg"))?;
    copy_public(&paths.root.join("public"), &site)?;

    let wasm_bytes =
        fs::read(wasm).with_context(|| format!("failed to read {}", wasm.display()))?;
    let stylesheet = paths.root.join("style").join("main.css");
    let css_source = fs::read(&stylesheet)
        .with_context(|| format!("failed to read {}", stylesheet.display()))?;
    let input = input_hash(profile, &wasm_bytes, &css_source);
    if let Some(current) = read_manifest(&site) {
        let same_input = current.get("input").and_then(|v| v.as_str()) == Some(input.as_str());
        let dir = current.get("pkg").and_then(|v| v.as_str()).unwrap_or("");
        if same_input && !dir.is_empty() && site.join(dir).is_dir() {
            log(&format!("site unchanged ({dir})"));
            return Ok(());
        }
    }

    let staging = paths.target.join("site-staging");
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    fs::create_dir_all(&staging)?;

    let split_started = Instant::now();
    let main_split = staging.join(format!("{OUTPUT_NAME}_split.wasm"));
    let chunks = split(&wasm_bytes, &staging, &main_split)?;
    log(&format!(
        "split the WASM into a main module and {} lazily loaded ones in {:.1} s",
        chunks.len(),
        split_started.elapsed().as_secs_f64()
    ));
    drop(wasm_bytes);

    let bind_started = Instant::now();
    bind(&main_split, &staging)?;
    fs::remove_file(&main_split)?;
    log(&format!(
        "generated the JS glue in {:.1} s",
        bind_started.elapsed().as_secs_f64()
    ));

    if profile == Profile::Release {
        let opt_started = Instant::now();
        let mut modules = vec![staging.join(format!("{OUTPUT_NAME}_bg.wasm"))];
        modules.extend(chunks.iter().cloned());
        optimise(paths, &modules)?;
        log(&format!(
            "optimised {} WASM modules with wasm-opt in {:.1} s",
            modules.len(),
            opt_started.elapsed().as_secs_f64()
        ));
    }

    stylesheet_to(
        paths,
        profile,
        &stylesheet,
        &staging.join(format!("{OUTPUT_NAME}.css")),
    )?;

    let files = list_files(&staging)?;
    let version = version_of(&staging, &files)?;
    let pkg = format!("pkg/{version}");
    let dest = site.join(&pkg);
    if !dest.is_dir() {
        if profile == Profile::Release {
            let compress_started = Instant::now();
            precompress(&staging, &files)?;
            log(&format!(
                "precompressed {} files (brotli, gzip) in {:.1} s",
                files.len(),
                compress_started.elapsed().as_secs_f64()
            ));
        }
        fs::rename(&staging, &dest)
            .with_context(|| format!("failed to move the site to {}", dest.display()))?;
    } else {
        fs::remove_dir_all(&staging)?;
    }

    let sizes = sizes_of(&dest, &files)?;
    let manifest = serde_json::json!({
        "pkg": pkg,
        "profile": profile.name(),
        "input": input,
        "files": sizes,
    });
    write_atomically(
        &site.join(SITE_MANIFEST),
        serde_json::to_vec_pretty(&manifest)?.as_slice(),
    )?;
    prune(&site.join("pkg"), &version)?;
    log(&format!(
        "site {pkg} ready in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    print_table(&site, &manifest);
    Ok(())
}

/// Files under `public/` are served from the site root as they are (the favicon).
fn copy_public(public: &Path, site: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(public) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let to = site.join(entry.file_name());
            let bytes = fs::read(entry.path())?;
            if fs::read(&to).ok().as_deref() != Some(bytes.as_slice()) {
                fs::write(&to, bytes)?;
            }
        }
    }
    Ok(())
}

fn input_hash(profile: Profile, wasm: &[u8], css: &[u8]) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&PIPELINE_VERSION.to_le_bytes());
    hasher.update(profile.name().as_bytes());
    hasher.update(&(wasm.len() as u64).to_le_bytes());
    hasher.update(wasm);
    hasher.update(css);
    format!("{:032x}", hasher.digest128())
}

/// The site's `site.json`, when there is one.
fn read_manifest(site: &Path) -> Option<serde_json::Value> {
    let bytes = fs::read(site.join(SITE_MANIFEST)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Splits the WASM at its `#[lazy]` points: writes the main module to `main_out`, the lazily
/// loaded modules, the JS that loads them and the prefetch map to `dir`; returns the modules.
fn split(wasm: &[u8], dir: &Path, main_out: &Path) -> Result<Vec<PathBuf>> {
    let main_module = format!("./{OUTPUT_NAME}.js");
    let link_name = format!("./{SPLIT_LINK_NAME}");
    let mut options = wasm_split_cli_support::Options::new(wasm);
    options.output_dir = dir;
    options.main_out_path = main_out;
    options.main_module = &main_module;
    options.link_name = &link_name;
    let split = wasm_split_cli_support::transform(options)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("failed to split the WASM at its lazy-loading points")?;
    let prefetch: BTreeMap<_, _> = split.prefetch_map.into_iter().collect();
    fs::write(dir.join(SPLIT_MANIFEST), serde_json::to_vec(&prefetch)?)?;
    Ok(split.split_modules)
}

/// Runs wasm-bindgen on the main module: `portal.js` and `portal_bg.wasm` in `dir`.
fn bind(main_module: &Path, dir: &Path) -> Result<()> {
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen
        .input_path(main_module)
        .out_name(OUTPUT_NAME)
        .web(true)
        .context("wasm-bindgen refused the web target")?
        // The split modules call the main one through the linker's exports and names.
        .keep_lld_exports(true)
        .demangle(false)
        .typescript(false)
        .generate(dir)
        .context("wasm-bindgen failed")?;
    Ok(())
}

/// A tool from `xtask/node_modules/.bin` (installed by `.ci/tools.sh`), else from `PATH`.
fn node_tool(paths: &Paths, name: &str) -> PathBuf {
    let local = paths
        .root
        .join("xtask")
        .join("node_modules")
        .join(".bin")
        .join(name);
    if local.exists() {
        local
    } else {
        PathBuf::from(name)
    }
}

/// `wasm-opt -Oz` on every module, as many at once as there are cores.
fn optimise(paths: &Paths, modules: &[PathBuf]) -> Result<()> {
    let wasm_opt = node_tool(paths, "wasm-opt");
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    // The largest first, so the small ones fill in beside it.
    let mut queue: Vec<&PathBuf> = modules.iter().collect();
    queue.sort_by_key(|m| std::cmp::Reverse(fs::metadata(m).map(|m| m.len()).unwrap_or(0)));
    for batch in queue.chunks(parallel) {
        let mut children = Vec::new();
        for module in batch {
            let child = Command::new(&wasm_opt)
                .args([
                    "-Oz",
                    "--enable-bulk-memory",
                    "--enable-nontrapping-float-to-int",
                ])
                .arg(module)
                .arg("-o")
                .arg(module)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .with_context(|| {
                    format!(
                        "failed to start {} (installed by .ci/tools.sh)",
                        wasm_opt.display()
                    )
                })?;
            children.push((module, child));
        }
        for (module, child) in children {
            let output = child.wait_with_output()?;
            // The splitter keeps a names subsection binaryen does not know and reports once
            // per module; it is dropped from the output like the rest of the names.
            for line in String::from_utf8_lossy(&output.stderr).lines() {
                if !line.starts_with("warning: unknown name subsection") {
                    eprintln!("{line}");
                }
            }
            if !output.status.success() {
                bail!(
                    "wasm-opt failed on {} ({})",
                    module.display(),
                    output.status
                );
            }
        }
    }
    Ok(())
}

/// The stylesheet for the browsers of browserslist's `defaults`, minified in release.
fn stylesheet_to(paths: &Paths, profile: Profile, source: &Path, out: &Path) -> Result<()> {
    let lightningcss = node_tool(paths, "lightningcss");
    let mut cmd = Command::new(&lightningcss);
    cmd.args(["--targets", "defaults"]);
    if profile == Profile::Release {
        cmd.arg("--minify");
    }
    let status = cmd
        .arg(source)
        .arg("-o")
        .arg(out)
        .status()
        .with_context(|| {
            format!(
                "failed to start {} (installed by .ci/tools.sh)",
                lightningcss.display()
            )
        })?;
    if !status.success() {
        bail!("lightningcss failed on {} ({status})", source.display());
    }
    Ok(())
}

/// Every file under `dir`, as paths relative to it, sorted.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(base, &path, out)?;
            } else {
                out.push(path.strip_prefix(base)?.to_path_buf());
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    Ok(files)
}

/// The version: a hash of every file's name and contents.
fn version_of(dir: &Path, files: &[PathBuf]) -> Result<String> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for file in files {
        let bytes = fs::read(dir.join(file))?;
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(format!("{:016x}", hasher.digest()))
}

/// Writes `<file>.br` and `<file>.gz` beside every file, one thread per core.
fn precompress(dir: &Path, files: &[PathBuf]) -> Result<()> {
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..parallel)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(file) = files.get(i) else {
                            return Ok(());
                        };
                        let path = dir.join(file);
                        let bytes = fs::read(&path)?;
                        let (br, gz) = compress(&bytes)?;
                        fs::write(with_suffix(&path, "br"), br)?;
                        fs::write(with_suffix(&path, "gz"), gz)?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a compression thread panicked"))
            .collect::<Result<Vec<()>>>()
    })?;
    Ok(())
}

/// The brotli (quality 11) and gzip (level 9) encodings of `bytes`.
fn compress(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut br = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 24,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut br, &params)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    Ok((br, gz.finish()?))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Each file's size as it is and as stored brotli- and gzip-compressed beside it (a debug build
/// stores no compressed copies: only the size as it is).
fn sizes_of(dir: &Path, files: &[PathBuf]) -> Result<serde_json::Value> {
    let mut out = serde_json::Map::new();
    for file in files {
        let path = dir.join(file);
        let mut size = serde_json::Map::new();
        size.insert("raw".into(), fs::metadata(&path)?.len().into());
        for (key, suffix) in [("gzip", "gz"), ("brotli", "br")] {
            if let Ok(meta) = fs::metadata(with_suffix(&path, suffix)) {
                size.insert(key.into(), meta.len().into());
            }
        }
        out.insert(file.to_string_lossy().into_owned(), size.into());
    }
    Ok(serde_json::Value::Object(out))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = with_suffix(path, "tmp");
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// Removes all but the current version and the `KEEP_PREVIOUS` newest before it.
fn prune(pkg: &Path, current: &str) -> Result<()> {
    let mut others: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(pkg)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != current)
        .map(|e| {
            let modified = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (modified, e.path())
        })
        .collect();
    others.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    for (_, old) in others.into_iter().skip(KEEP_PREVIOUS) {
        fs::remove_dir_all(&old)
            .with_context(|| format!("failed to remove the old site {}", old.display()))?;
    }
    Ok(())
}

/// The files of the site with their sizes, then what a first visit downloads: the main module
/// with its glue and the stylesheet for the pages in it, and that plus a group's modules for
/// the lazily loaded pages.
fn print_table(site: &Path, manifest: &serde_json::Value) {
    let Some(files) = manifest.get("files").and_then(|f| f.as_object()) else {
        return;
    };
    let pkg = manifest.get("pkg").and_then(|p| p.as_str()).unwrap_or("");
    let size = |name: &str, key: &str| {
        files
            .get(name)
            .and_then(|s| s.get(key))
            .and_then(|v| v.as_u64())
    };
    let cell = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let row = |name: &str, names: &[String]| {
        let sum = |key: &str| names.iter().map(|n| size(n, key)).sum::<Option<u64>>();
        eprintln!(
            "  {name:<58} {:>9} {:>9} {:>9}",
            cell(sum("raw")),
            cell(sum("gzip")),
            cell(sum("brotli"))
        );
    };
    eprintln!("  {pkg:<58} {:>9} {:>9} {:>9}", "raw", "gzip", "brotli");
    for name in files.keys() {
        row(name, std::slice::from_ref(name));
    }
    row("all files", &files.keys().cloned().collect::<Vec<_>>());

    let main: Vec<String> = [
        format!("{OUTPUT_NAME}.js"),
        format!("{OUTPUT_NAME}_bg.wasm"),
        format!("{OUTPUT_NAME}.css"),
        SPLIT_LINK_NAME.to_string(),
    ]
    .into_iter()
    .filter(|name| files.contains_key(name))
    .collect();
    eprintln!("  a first visit downloads:");
    row(
        &format!("the start page or sign-in ({} files)", main.len()),
        &main,
    );
    let prefetch: BTreeMap<String, Vec<String>> = fs::read(site.join(pkg).join(SPLIT_MANIFEST))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    for (split, modules) in &prefetch {
        let mut names = main.clone();
        names.extend(modules.iter().map(|m| format!("{m}.wasm")));
        let group = split.rsplit_once('_').map_or(split.as_str(), |(g, _)| g);
        row(
            &format!("a page of {group} ({} files)", names.len()),
            &names,
        );
    }
}

/// `cargo xtask sizes`: the current site's files and sizes.
pub fn print_sizes(site: &Path) -> Result<()> {
    let Some(manifest) = read_manifest(site) else {
        bail!(
            "no site at {} (run `cargo xtask build` first)",
            site.display()
        );
    };
    print_table(site, &manifest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_follows_names_and_contents() {
        let dir = tempdir();
        fs::write(dir.join("a.js"), b"one").unwrap();
        fs::write(dir.join("b.wasm"), b"two").unwrap();
        let files = list_files(&dir).unwrap();
        let first = version_of(&dir, &files).unwrap();
        assert_eq!(first, version_of(&dir, &files).unwrap());
        fs::write(dir.join("b.wasm"), b"three").unwrap();
        let changed = version_of(&dir, &files).unwrap();
        assert_ne!(first, changed);
        fs::rename(dir.join("b.wasm"), dir.join("c.wasm")).unwrap();
        let renamed = version_of(&dir, &list_files(&dir).unwrap()).unwrap();
        assert_ne!(changed, renamed);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn both_encodings_give_back_the_file() {
        use std::io::Read;
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let (br, gz) = compress(&text).unwrap();
        let mut from_gz = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut from_gz)
            .unwrap();
        let mut from_br = Vec::new();
        brotli::BrotliDecompress(&mut br.as_slice(), &mut from_br).unwrap();
        assert_eq!(from_gz, text);
        assert_eq!(from_br, text);
        assert!(br.len() < text.len() / 4);
    }

    #[test]
    fn pruning_keeps_the_current_version_and_the_newest_before_it() {
        let dir = tempdir();
        for (i, name) in ["v1", "v2", "v3", "v4", "current"].iter().enumerate() {
            let path = dir.join(name);
            fs::create_dir(&path).unwrap();
            let file = fs::File::create(path.join("f")).unwrap();
            let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000 + i as u64);
            file.set_modified(when).unwrap();
            fs::File::open(&path).unwrap().set_modified(when).unwrap();
        }
        prune(&dir, "current").unwrap();
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["current", "v3", "v4"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "xtask-test-{}-{:x}",
            std::process::id(),
            xxhash_rust::xxh3::xxh3_64(format!("{:?}", std::thread::current().id()).as_bytes())
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
