//! The UI's own files under `/pkg/` (the WASM modules, their JavaScript glue, the stylesheet).
//!
//! `cargo xtask build` writes them to `pkg/<version>/` in the site directory, the version being
//! a hash of their contents, with brotli and gzip copies beside each file, and names the current
//! version in `site.json`. A versioned file never changes, so it is answered as immutable (a
//! browser keeps it for a year without asking again) in the encoding the request prefers, from
//! memory, without compressing anything. Files straight under `/pkg/` (a site built some other
//! way) are answered with `no-cache` and revalidated by ETag; a file without compressed copies
//! is compressed by the response layer like any other answer.

use super::AppState;
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::SystemTime,
};
use tokio::sync::OnceCell;

/// The file in the site directory that names the current version of the UI.
pub const SITE_MANIFEST: &str = "site.json";
/// Where the UI's files are, relative to the site directory, when no manifest names a version.
const UNVERSIONED: &str = "pkg";
/// How long a browser may keep a versioned file (a year, the longest caches honour).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub fn router() -> Router<AppState> {
    Router::new().route("/pkg/{*path}", get(get_asset))
}

/// The directory, relative to `site_root`, of the UI this portal serves: `pkg/<version>` as
/// `site.json` names it, else `pkg`.
pub fn current_pkg_dir(site_root: &std::path::Path) -> String {
    let named = std::fs::read(site_root.join(SITE_MANIFEST))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|manifest| manifest.get("pkg")?.as_str().map(str::to_owned))
        .filter(|pkg| {
            pkg.strip_prefix("pkg/")
                .is_some_and(|version| is_safe_segment(version) && site_root.join(pkg).is_dir())
        });
    named.unwrap_or_else(|| UNVERSIONED.to_string())
}

/// One file with the encodings the build stored beside it (shared with each answer, never
/// copied).
struct Asset {
    content_type: &'static str,
    etag: HeaderValue,
    identity: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
}

/// Which version of a file an entry was made from.
type Stamp = (u64, Option<SystemTime>);

/// An asset being read or ready; concurrent first requests wait for the same one.
type Slot = Arc<OnceCell<Arc<Asset>>>;

/// The files read so far, by path; an entry is replaced when its file changes.
#[derive(Default)]
pub struct AssetCache {
    entries: Mutex<HashMap<String, (Stamp, Slot)>>,
}

impl AssetCache {
    /// The entry for `name` at version `stamp`; concurrent first requests share one read.
    fn entry(&self, name: &str, stamp: Stamp) -> Slot {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(name) {
            Some((s, cell)) if *s == stamp => cell.clone(),
            _ => {
                let cell = Arc::new(OnceCell::new());
                entries.insert(name.to_string(), (stamp, cell.clone()));
                cell
            }
        }
    }
}

fn content_type(name: &str) -> Option<&'static str> {
    Some(match name.rsplit_once('.')?.1 {
        "wasm" => "application/wasm",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        _ => return None,
    })
}

/// A path segment the build could have written: no dot first (no `..`, no hidden files), no
/// separators, nothing outside `[A-Za-z0-9._-]`.
fn is_safe_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= 128
        && !segment.starts_with('.')
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `path` (below `/pkg/`) as the segments of a file the UI may have, or `None`.
fn checked_path(path: &str) -> Option<Vec<&str>> {
    let segments: Vec<&str> = path.split('/').collect();
    (segments.len() <= 4 && segments.iter().all(|s| is_safe_segment(s))).then_some(segments)
}

/// The best encoding of `asset` the request accepts: brotli, then gzip, else none.
fn pick_encoding(headers: &HeaderMap, asset: &Asset) -> Option<&'static str> {
    let accepted: Vec<(String, bool)> = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (coding, !refused)
        })
        .collect();
    let stored = |coding: &str| match coding {
        "br" => asset.brotli.is_some(),
        _ => asset.gzip.is_some(),
    };
    ["br", "gzip"]
        .into_iter()
        .find(|c| stored(c) && accepted.iter().any(|(coding, ok)| coding == c && *ok))
}

/// The current UI's files, read ahead of the first page load; runs once at start-up.
pub async fn warm(state: AppState) {
    let dir = PathBuf::from(state.leptos_options.site_root.as_ref())
        .join(state.leptos_options.site_pkg_dir.as_ref());
    let prefix = state
        .leptos_options
        .site_pkg_dir
        .strip_prefix(UNVERSIONED)
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();
    let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        if let Some(name) = entry.file_name().to_str() {
            let path = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            if let Err(e) = load(&state, &path).await {
                tracing::warn!(file = name, error = %e, "failed to read a UI file");
            }
        }
    }
}

/// The file at `path` below `/pkg/` with its stored encodings; `None` when there is no such
/// file to serve.
async fn load(state: &AppState, path: &str) -> std::io::Result<Option<Arc<Asset>>> {
    let Some(segments) = checked_path(path) else {
        return Ok(None);
    };
    let Some(kind) = segments.last().and_then(|name| content_type(name)) else {
        return Ok(None);
    };
    let mut file = PathBuf::from(state.leptos_options.site_root.as_ref()).join(UNVERSIONED);
    file.extend(&segments);
    let Ok(meta) = tokio::fs::metadata(&file).await else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Ok(None);
    }
    let cell = state.assets.entry(path, (meta.len(), meta.modified().ok()));
    let asset = cell
        .get_or_try_init(|| async {
            let identity = tokio::fs::read(&file).await?;
            let sibling = |suffix: &str| {
                let mut name = file.clone().into_os_string();
                name.push(suffix);
                tokio::fs::read(PathBuf::from(name))
            };
            let (brotli, gzip) = (sibling(".br").await.ok(), sibling(".gz").await.ok());
            let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&identity));
            Ok::<_, std::io::Error>(Arc::new(Asset {
                content_type: kind,
                etag: HeaderValue::from_str(&etag).expect("hex is a valid header value"),
                identity: identity.into(),
                gzip: gzip.map(Bytes::from),
                brotli: brotli.map(Bytes::from),
            }))
        })
        .await?;
    Ok(Some(asset.clone()))
}

async fn get_asset(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let asset = match load(&state, &path).await {
        Ok(Some(asset)) => asset,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such file").into_response(),
        Err(e) => {
            tracing::warn!(path, error = %e, "failed to read a UI file");
            return (StatusCode::NOT_FOUND, "no such file").into_response();
        }
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag == asset.etag)
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (body, encoding) = match pick_encoding(&headers, &asset) {
            Some("br") => (asset.brotli.clone(), Some("br")),
            Some("gzip") => (asset.gzip.clone(), Some("gzip")),
            _ => (None, None),
        };
        let mut response = body
            .unwrap_or_else(|| asset.identity.clone())
            .into_response();
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        if let Some(encoding) = encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, asset.etag.clone());
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    // A versioned name never changes its content; other names are asked about each time.
    let versioned = path.contains('/');
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if versioned { IMMUTABLE } else { "no-cache" }),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    fn asset(gzip: bool, brotli: bool) -> Asset {
        Asset {
            content_type: "text/css; charset=utf-8",
            etag: HeaderValue::from_static("\"0\""),
            identity: Bytes::from_static(b"body{}"),
            gzip: gzip.then(|| Bytes::from_static(b"gz")),
            brotli: brotli.then(|| Bytes::from_static(b"br")),
        }
    }

    #[test]
    fn prefers_brotli_then_gzip_and_honours_refusals() {
        let both = asset(true, true);
        assert_eq!(
            pick_encoding(&accept("gzip, deflate, br, zstd"), &both),
            Some("br")
        );
        assert_eq!(pick_encoding(&accept("gzip"), &both), Some("gzip"));
        assert_eq!(
            pick_encoding(&accept("br;q=0, gzip;q=0.5"), &both),
            Some("gzip")
        );
        assert_eq!(pick_encoding(&accept("identity"), &both), None);
        assert_eq!(pick_encoding(&HeaderMap::new(), &both), None);
    }

    #[test]
    fn only_encodings_the_build_stored_are_offered() {
        assert_eq!(
            pick_encoding(&accept("br, gzip"), &asset(true, false)),
            Some("gzip")
        );
        assert_eq!(
            pick_encoding(&accept("br, gzip"), &asset(false, false)),
            None
        );
    }

    #[test]
    fn paths_outside_the_built_files_are_refused() {
        assert!(checked_path("portal.css").is_some());
        assert!(checked_path("0123abcd/portal_bg.wasm").is_some());
        assert!(checked_path("0123abcd/snippets/web-sys-1a2b/inline0.js").is_some());
        for hostile in [
            "../Cargo.toml",
            "v/../../etc/passwd",
            ".hidden.js",
            "v/.site.json",
            "",
            "v//portal.js",
            "v/por tal.js",
            "v\\portal.js",
            "a/b/c/d/e.js",
        ] {
            assert!(checked_path(hostile).is_none(), "{hostile:?} was accepted");
        }
    }
}
