//! The UI's own files under `/pkg/` (the WASM module, its JavaScript glue, the stylesheet),
//! compressed once with brotli and gzip and then served from memory.
//!
//! Compressing the 2 MB WASM module on the fly took about 300 ms of a cold page load on two
//! cores; answering from memory takes a few milliseconds. A file is read and compressed on its
//! first request and again only when its size or modification time changes (a rebuilt UI is
//! picked up without a restart). Answers carry an ETag, so a browser that has the file gets 304.

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
    io::Write,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::SystemTime,
};
use tokio::sync::OnceCell;

pub fn router() -> Router<AppState> {
    Router::new().route("/pkg/{file}", get(get_asset))
}

/// One file in its three encodings (shared with each answer, never copied).
struct Asset {
    content_type: &'static str,
    etag: HeaderValue,
    identity: Bytes,
    gzip: Bytes,
    brotli: Bytes,
}

/// Which version of a file an entry was made from.
type Stamp = (u64, Option<SystemTime>);

/// An asset being compressed or ready; concurrent first requests wait for the same one.
type Slot = Arc<OnceCell<Arc<Asset>>>;

/// The files compressed so far, by name; an entry is replaced when its file changes.
#[derive(Default)]
pub struct AssetCache {
    entries: Mutex<HashMap<String, (Stamp, Slot)>>,
}

impl AssetCache {
    /// The entry for `name` at version `stamp`; concurrent first requests share one compression.
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

fn compress(content_type: &'static str, identity: Vec<u8>) -> std::io::Result<Asset> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&identity)?;
    let gzip = gzip.finish()?;
    let mut brotli = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 9,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut identity.as_slice(), &mut brotli, &params)?;
    let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&identity));
    Ok(Asset {
        content_type,
        etag: HeaderValue::from_str(&etag).expect("hex is a valid header value"),
        identity: identity.into(),
        gzip: gzip.into(),
        brotli: brotli.into(),
    })
}

/// The best encoding the request accepts: brotli, then gzip, else none.
fn pick_encoding(headers: &HeaderMap) -> Option<&'static str> {
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
    ["br", "gzip"]
        .into_iter()
        .find(|c| accepted.iter().any(|(coding, ok)| coding == c && *ok))
}

/// The UI files, read and compressed ahead of the first page load; runs once at start-up.
pub async fn warm(state: AppState) {
    let dir = pkg_dir(&state);
    let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        if let Some(name) = entry.file_name().to_str() {
            if let Err(e) = load(&state, name).await {
                tracing::warn!(file = name, error = %e, "failed to read a UI file");
            }
        }
    }
}

fn pkg_dir(state: &AppState) -> PathBuf {
    PathBuf::from(state.leptos_options.site_root.as_ref())
        .join(state.leptos_options.site_pkg_dir.as_ref())
}

/// The file `name` of the UI, compressed; `None` when there is no such file to serve.
async fn load(state: &AppState, name: &str) -> std::io::Result<Option<Arc<Asset>>> {
    let Some(kind) = content_type(name) else {
        return Ok(None);
    };
    if name.starts_with('.') || name.contains(['/', '\\']) {
        return Ok(None);
    }
    let path = pkg_dir(state).join(name);
    let Ok(meta) = tokio::fs::metadata(&path).await else {
        return Ok(None);
    };
    let cell = state.assets.entry(name, (meta.len(), meta.modified().ok()));
    let asset = cell
        .get_or_try_init(|| async {
            let bytes = tokio::fs::read(&path).await?;
            tokio::task::spawn_blocking(move || compress(kind, bytes))
                .await
                .map_err(std::io::Error::other)?
                .map(Arc::new)
        })
        .await?;
    Ok(Some(asset.clone()))
}

async fn get_asset(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let asset = match load(&state, &file).await {
        Ok(Some(asset)) => asset,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such file").into_response(),
        Err(e) => {
            tracing::warn!(file, error = %e, "failed to read a UI file");
            return (StatusCode::NOT_FOUND, "no such file").into_response();
        }
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag == asset.etag)
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (body, encoding) = match pick_encoding(&headers) {
            Some("br") => (asset.brotli.clone(), Some("br")),
            Some("gzip") => (asset.gzip.clone(), Some("gzip")),
            _ => (asset.identity.clone(), None),
        };
        let mut response = body.into_response();
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
    // The names do not change between builds: browsers keep the file and ask whether it did.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
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

    #[test]
    fn prefers_brotli_then_gzip_and_honours_refusals() {
        assert_eq!(
            pick_encoding(&accept("gzip, deflate, br, zstd")),
            Some("br")
        );
        assert_eq!(pick_encoding(&accept("gzip")), Some("gzip"));
        assert_eq!(pick_encoding(&accept("br;q=0, gzip;q=0.5")), Some("gzip"));
        assert_eq!(pick_encoding(&accept("identity")), None);
        assert_eq!(pick_encoding(&HeaderMap::new()), None);
    }

    #[test]
    fn every_encoding_holds_the_same_bytes() {
        use std::io::Read;
        let text: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let asset = compress("text/css; charset=utf-8", text.clone()).unwrap();
        let mut gunzipped = Vec::new();
        flate2::read::GzDecoder::new(asset.gzip.as_ref())
            .read_to_end(&mut gunzipped)
            .unwrap();
        assert_eq!(gunzipped, text);
        let mut unbrotlied = Vec::new();
        brotli::BrotliDecompress(&mut asset.brotli.as_ref(), &mut unbrotlied).unwrap();
        assert_eq!(unbrotlied, text);
        assert!(asset.brotli.len() < text.len() / 4 && asset.gzip.len() < text.len() / 4);
    }
}
