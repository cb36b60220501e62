//! The layering of `docs/architecture.md`, checked on the source: arrows point down (`http` →
//! domain services → `tsdb` → `store` → SQL), nothing below `http` sees it or its state, the UI
//! crate knows nothing of the server, and the server's top-level modules have no import cycles.
//! A forbidden import fails this test with the file and the import that broke the rule.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// The top-level modules of `server/src` each file's code refers to.
struct SourceFile {
    /// Path relative to `server/src`, e.g. `http/dashboards.rs`.
    path: String,
    /// The module it belongs to, e.g. `http` (the file name for top-level files).
    module: String,
    /// Top-level modules it refers to through `crate::` (or `super::` from a top-level file).
    uses: BTreeSet<String>,
    text: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code without comments (doc comments mention modules they do not import) and without
/// its unit tests (which may read fixtures and reach anywhere).
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| match line.find("//") {
            // Not inside a string such as "http://": a comment starts the line or follows code.
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first identifiers of each item of a `{ … }` group starting at `text[0] == '{'`.
fn group_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_item_start = true;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    at_item_start = true;
                    continue;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    if at_item_start && !current.is_empty() {
                        heads.push(std::mem::take(&mut current));
                    }
                    break;
                }
            }
            ',' if depth == 1 => {
                at_item_start = true;
                continue;
            }
            _ => {}
        }
        if depth == 1 && at_item_start {
            if c.is_alphanumeric() || c == '_' {
                current.push(c);
            } else if !current.is_empty() {
                heads.push(std::mem::take(&mut current));
                at_item_start = false;
            }
        }
    }
    heads
}

/// Every top-level module named after `prefix` (`crate::`) in `code`.
fn referenced(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices(prefix) {
        let rest = &code[i + prefix.len()..];
        if rest.starts_with('{') {
            out.extend(group_heads(rest));
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                out.insert(ident);
            }
        }
    }
    out
}

fn server_files() -> Vec<SourceFile> {
    files_of(&crate::helpers::manifest_dir().join("src"))
}

fn app_files() -> Vec<SourceFile> {
    files_of(&crate::helpers::manifest_dir().join("../app/src"))
}

fn files_of(root: &Path) -> Vec<SourceFile> {
    let root = root.to_path_buf();
    let mut paths = Vec::new();
    rust_files(&root, &mut paths);
    paths
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let module = rel
                .split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = code_of(&text);
            let mut uses = referenced(&code, "crate::");
            if !rel.contains('/') {
                // In a top-level file, `super::` is the crate root.
                uses.extend(referenced(&code, "super::"));
            }
            uses.remove(&module);
            SourceFile {
                path: rel,
                module,
                uses,
                text: code,
            }
        })
        .collect()
}

#[test]
fn nothing_outside_http_imports_http_or_its_state() {
    let allowed = ["http", "startup", "main"];
    let offenders: Vec<String> = server_files()
        .into_iter()
        .filter(|f| !allowed.contains(&f.module.as_str()))
        .filter(|f| f.uses.contains("http") || f.text.contains("AppState"))
        .map(|f| f.path)
        .collect();
    assert!(
        offenders.is_empty(),
        "these files reach up into http: {offenders:?}"
    );
}

/// What the SQL layer never imports: every domain service and what runs them.
const STORE_FORBIDS: &[&str] = &[
    "accounts",
    "admission",
    "logs",
    "otlp",
    "tsdb",
    "ingest",
    "query",
    "dashboards",
    "alerting",
    "scrape",
    "workers",
    "render",
    "demo",
    "startup",
];

#[test]
fn lower_layers_never_import_the_layers_above_them() {
    // Module → what it must never import.
    let rules: &[(&str, &[&str])] = &[
        ("store", STORE_FORBIDS),
        (
            "tsdb",
            &[
                "ingest",
                "query",
                "dashboards",
                "alerting",
                "scrape",
                "render",
                "demo",
                "startup",
            ],
        ),
        (
            "query",
            &[
                "ingest",
                "dashboards",
                "alerting",
                "scrape",
                "render",
                "demo",
                "startup",
            ],
        ),
        (
            "ingest",
            &["query", "dashboards", "alerting", "render", "startup"],
        ),
        (
            "dashboards",
            &["ingest", "scrape", "demo", "startup", "workers", "alerting"],
        ),
        // Alerting evaluates through the query service and writes recorded series through the
        // ingester; it is scheduled by the supervisor, never the other way round.
        ("alerting", &["scrape", "demo", "startup", "workers"]),
        ("workers", &["startup"]),
        // Accounts keep to themselves: credentials and sessions, over their own tables.
        ("accounts", &STORE_FORBIDS[1..]),
        (
            "portal_metrics",
            &[
                "ingest",
                "query",
                "tsdb",
                "store",
                "dashboards",
                "alerting",
                "logs",
            ],
        ),
        // Signals are wings beside each other: logs (and traces) share the OTLP front door,
        // admission, accounts and the supervisor, and never reach into the metric engine.
        (
            "logs",
            &[
                "tsdb",
                "ingest",
                "query",
                "scrape",
                "http",
                "dashboards",
                "render",
                "demo",
                "startup",
                "traces",
            ],
        ),
        (
            "traces",
            &[
                "tsdb",
                "ingest",
                "query",
                "scrape",
                "http",
                "dashboards",
                "render",
                "demo",
                "startup",
                "logs",
            ],
        ),
        // The shared front door and admission know no signal.
        (
            "otlp",
            &[
                "tsdb", "ingest", "query", "logs", "traces", "store", "http", "alerting",
            ],
        ),
        (
            "admission",
            &[
                "tsdb", "ingest", "query", "logs", "traces", "store", "http", "alerting",
            ],
        ),
        // The error sits under every service and names none of them. The settings build the
        // services' limits and check a few values with the functions that will read them, but
        // never reach storage, the engine or the web.
        (
            "error",
            &[
                "ingest",
                "query",
                "logs",
                "traces",
                "tsdb",
                "dashboards",
                "alerting",
                "accounts",
                "http",
                "startup",
            ],
        ),
        (
            "config",
            &[
                "ingest",
                "tsdb",
                "dashboards",
                "alerting",
                "http",
                "startup",
                "store",
            ],
        ),
        ("instance", &["http", "ingest", "query", "tsdb", "logs"]),
    ];
    let mut broken = Vec::new();
    for file in server_files() {
        for (module, forbidden) in rules {
            if file.module == *module {
                for used in &file.uses {
                    if forbidden.contains(&used.as_str()) {
                        broken.push(format!("{} imports crate::{used}", file.path));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "layering broken: {broken:#?}");
}

/// Only `http` speaks HTTP: no status codes below it, and the shared error knows no web
/// framework; the services answer with their own errors, which `http::error` maps.
#[test]
fn only_http_speaks_http_status() {
    let mut broken = Vec::new();
    for file in server_files() {
        if matches!(
            file.module.as_str(),
            "http" | "startup" | "main" | "telemetry"
        ) {
            continue;
        }
        for word in ["StatusCode", "IntoResponse", "axum::response"] {
            if file.text.contains(word) {
                broken.push(format!("{} uses {word}", file.path));
            }
        }
        if file.module == "error" && file.text.contains("axum") {
            broken.push(format!("{} uses axum", file.path));
        }
    }
    assert!(broken.is_empty(), "HTTP below http: {broken:#?}");
}

/// Handlers reach storage only through the services: no `store::` and no SQL in `http`.
#[test]
fn handlers_reach_storage_only_through_services() {
    let mut broken = Vec::new();
    for file in server_files() {
        if file.module != "http" {
            continue;
        }
        if file.uses.contains("store") {
            broken.push(format!("{} imports crate::store", file.path));
        }
        if file.text.contains("sqlx::query") {
            broken.push(format!("{} runs SQL", file.path));
        }
    }
    assert!(broken.is_empty(), "http reaches storage: {broken:#?}");
}

#[test]
fn the_servers_top_level_modules_have_no_import_cycles() {
    let cycles = cycles_among(&server_files());
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

#[test]
fn the_ui_crates_top_level_modules_have_no_import_cycles() {
    let cycles = cycles_among(&app_files());
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

/// The import cycles between the top-level modules of `files`, each as its path.
fn cycles_among(files: &[SourceFile]) -> Vec<String> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let modules: BTreeSet<String> = files.iter().map(|f| f.module.clone()).collect();
    for file in files {
        let edges = graph.entry(file.module.clone()).or_default();
        edges.extend(file.uses.iter().filter(|u| modules.contains(*u)).cloned());
    }
    // Depth-first search; a back edge is a cycle, reported with its path.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_string());
            cycles.push(cycle.join(" → "));
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done, cycles);
        }
        stack.pop();
        done.insert(node.to_string());
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    cycles
}

#[test]
fn the_ui_crate_knows_nothing_of_the_server() {
    let root = crate::helpers::manifest_dir().join("../app/src");
    let mut paths = Vec::new();
    rust_files(&root, &mut paths);
    // Leptos' own server integration (`leptos_axum`, behind the `ssr` feature) is how a page
    // sets its status code; the server's crates and its machine access are not.
    let forbidden = [
        "server::",
        "sqlx",
        "axum::",
        "tokio::",
        "std::env::var",
        "std::fs::",
    ];
    let mut broken = Vec::new();
    for path in paths {
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        for word in forbidden {
            let as_word = code.match_indices(word).any(|(i, _)| {
                code[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            });
            if as_word {
                broken.push(format!("{} uses {word}", path.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "the UI crate reaches into the server: {broken:#?}"
    );
}

#[test]
fn the_checker_sees_grouped_and_plain_imports() {
    let code = "use crate::{error::ApiError, query::{QueryService, QueryRange}, store};\nlet x = crate::tsdb::BLOCK_MS;";
    let found = referenced(code, "crate::");
    let expected: BTreeSet<String> = ["error", "query", "store", "tsdb"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, expected);
    assert_eq!(code_of("let a = 1; // crate::http"), "let a = 1; ");
}
