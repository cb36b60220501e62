//! Which paths the portal sends a browser to: the one check behind every redirect, on the
//! server (short links, when made and when followed) and in the UI (where sign-in goes next).

/// The longest path a short link or a redirect keeps.
pub const MAX_PATH_CHARS: usize = 8_000;

/// `text` when it is a path on this portal, and why not otherwise.
///
/// A browser resolves `//host`, `/\host` and their percent-encoded or tab-split spellings
/// (`/%5Chost`, `/%2F/host`, `/\t/host`) to another site, and `javascript:` runs code: a path
/// must start with one `/`, have no backslash, control character or encoded slash at its start,
/// and nothing that decodes to one of them in its path part.
pub fn local_path(text: &str) -> Result<&str, &'static str> {
    if text.is_empty() {
        return Err("is empty");
    }
    if text.chars().count() > MAX_PATH_CHARS {
        return Err("must be at most 8,000 characters");
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    if !text.starts_with('/') {
        return Err("must be a path on this portal, starting with '/'");
    }
    let path = text.split(['?', '#']).next().unwrap_or("");
    // Decoded as a browser or a proxy may decode it, twice for doubly encoded text.
    let once = percent_decoded(path);
    let twice = percent_decoded(&once);
    for form in [path, once.as_str(), twice.as_str()] {
        if form.contains('\\') {
            return Err("must not contain a backslash in its path");
        }
        if form.starts_with("//") {
            return Err("must start with a single '/', not name another host");
        }
        if form.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
    }
    Ok(text)
}

/// `text` with its `%XX` escapes decoded (bytes that are not UTF-8 become U+FFFD).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where to send a browser that asked for `next`: the path when it is local, else the start.
pub fn local_or_home(next: Option<&str>) -> String {
    next.and_then(|n| local_path(n).ok())
        .unwrap_or("/")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_on_this_portal_pass() {
        for ok in [
            "/",
            "/d/agent-overview?from=now-6h&to=now&var-agent=a%2Fb",
            "/explore?query=rate(x%5B5m%5D)",
            "/alerting/rules#top",
            "/d/x?q=a\\b",
        ] {
            assert_eq!(local_path(ok), Ok(ok), "{ok}");
        }
    }

    #[test]
    fn other_sites_and_scripts_are_refused() {
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%252F%252Fevil.example",
            "/%255Cevil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/x\u{0}y",
            "/x\u{7f}",
            "javascript:alert(1)",
            "https://evil.example/",
            "evil.example",
            " /x",
        ] {
            assert!(local_path(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(local_path(&format!("/{}", "a".repeat(MAX_PATH_CHARS))).is_err());
        assert_eq!(local_or_home(Some("//evil.example")), "/");
        assert_eq!(local_or_home(None), "/");
        assert_eq!(local_or_home(Some("/d/x")), "/d/x");
    }

    #[test]
    fn percent_decoding_stops_at_what_is_not_an_escape() {
        assert_eq!(percent_decoded("/a%2Fb%zz%4"), "/a/b%zz%4");
        assert_eq!(percent_decoded("%"), "%");
    }
}
