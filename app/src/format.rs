//! Numbers and text written for people and links: durations, byte sizes, values in a panel's
//! unit, colours by name, query-string escaping. The bottom of the UI crate: it imports nothing
//! of it.

/// Writes seconds as at most the two largest non-zero units: `3d 4h`, `5m 12s`, `1h`, `42s`.
/// A time as Alertmanager's API and its webhooks write it: RFC 3339 in UTC with milliseconds
/// (`2026-12-07T04:00:00.123Z`).
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn human_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (name, size) in units {
        if rest >= size || (name == "s" && parts.is_empty()) {
            parts.push(format!("{}{name}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

/// Writes a byte count in binary units: `512 B`, `1.5 KiB`, `32 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Formats an axis value compactly: `0.25`, `12`, `3.4k`, `1.2M`.
pub fn format_value(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e12 {
        (v / 1e12, "T")
    } else if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = if scaled == 0.0 {
        "0".to_string()
    } else if scaled.abs() >= 100.0 {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 10.0 {
        format!("{scaled:.1}")
    } else if scaled.abs() >= 0.01 {
        format!("{scaled:.2}")
    } else {
        format!("{scaled:.1e}")
    };
    let text = if text.contains('.') && !text.contains('e') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{suffix}")
}

fn trim_number(text: String) -> String {
    if text.contains('.') && !text.contains('e') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn fixed(v: f64, decimals: Option<u32>) -> String {
    match decimals {
        Some(d) => format!("{v:.*}", d as usize),
        None => {
            let a = v.abs();
            let d = if a == 0.0 || a >= 100.0 {
                0
            } else if a >= 10.0 {
                1
            } else if a >= 0.01 {
                2
            } else {
                return format_value(v);
            };
            trim_number(format!("{v:.d$}"))
        }
    }
}

/// Scales by powers of `base` through `units`, as `1.5 KiB` or `3.2k`.
fn scaled(v: f64, base: f64, units: &[&str], decimals: Option<u32>, sep: &str) -> String {
    let mut value = v;
    let mut i = 0;
    while value.abs() >= base && i + 1 < units.len() {
        value /= base;
        i += 1;
    }
    let unit = units[i];
    if unit.is_empty() {
        fixed(value, decimals)
    } else {
        format!("{}{sep}{unit}", fixed(value, decimals))
    }
}

/// Writes a value in a panel's unit (see `PanelOptions::unit`).
pub fn format_unit(v: f64, unit: &str, decimals: Option<u32>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    match unit {
        "none" => fixed(v, decimals),
        "percent" => format!("{}%", fixed(v, decimals)),
        "percentunit" => format!("{}%", fixed(v * 100.0, decimals)),
        "bytes" => scaled(
            v,
            1024.0,
            &["B", "KiB", "MiB", "GiB", "TiB", "PiB"],
            decimals,
            " ",
        ),
        "bps" => scaled(
            v,
            1024.0,
            &["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"],
            decimals,
            " ",
        ),
        "reqps" => format!(
            "{} req/s",
            scaled(v, 1000.0, &["", "k", "M", "G"], decimals, "")
        ),
        "currencyUSD" => {
            let d = decimals.unwrap_or(if v.abs() < 1.0 { 4 } else { 2 });
            if v < 0.0 {
                format!("-${:.*}", d as usize, -v)
            } else {
                format!("${v:.*}", d as usize)
            }
        }
        "s" | "ms" => {
            let secs = if unit == "ms" { v / 1000.0 } else { v };
            let a = secs.abs();
            if a == 0.0 {
                "0 s".into()
            } else if a < 1e-3 {
                format!("{} µs", fixed(secs * 1e6, decimals))
            } else if a < 1.0 {
                format!("{} ms", fixed(secs * 1e3, decimals))
            } else if a < 60.0 {
                format!("{} s", fixed(secs, decimals))
            } else if a < 3600.0 {
                format!("{} min", fixed(secs / 60.0, decimals))
            } else if a < 86_400.0 {
                format!("{} hour", fixed(secs / 3600.0, decimals))
            } else {
                format!("{} day", fixed(secs / 86_400.0, decimals))
            }
        }
        _ => match decimals {
            Some(_) => scaled(v, 1000.0, &["", "k", "M", "G", "T"], decimals, " "),
            None => format_value(v),
        },
    }
}

/// The RGB of a named colour or `#rrggbb`; `None` for `text` (the page's own colour).
pub fn color_rgb(color: &str) -> Option<(u8, u8, u8)> {
    Some(match color {
        "green" => (0x73, 0xbf, 0x69),
        "yellow" => (0xfa, 0xde, 0x2a),
        "orange" => (0xff, 0x98, 0x30),
        "red" => (0xf2, 0x49, 0x5c),
        "blue" => (0x57, 0x94, 0xf2),
        "purple" => (0xb8, 0x77, 0xd9),
        hex if hex.len() == 7 && hex.starts_with('#') => {
            let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
            (c(1)?, c(3)?, c(5)?)
        }
        _ => return None,
    })
}

/// Escapes `text` for use as one query-string value.
pub fn escape_query_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'/'
            | b':'
            | b'@'
            | b','
            | b'$'
            | b'!'
            | b'*'
            | b'('
            | b')'
            | b'\''
            | b';' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Writes `?key=value&…`, escaping only what a query value must escape, so that links stay
/// readable (`from=now-6h`, `to=now/d`) when people copy them.
pub fn query_string<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let pairs: Vec<String> = params
        .into_iter()
        .map(|(key, value)| format!("{}={}", escape_query_part(key), escape_query_part(value)))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_show_the_two_largest_units() {
        for (seconds, text) in [
            (0, "0s"),
            (42, "42s"),
            (312, "5m 12s"),
            (3_600, "1h"),
            (3_630, "1h 30s"),
            (273_600, "3d 4h"),
            (-5, "0s"),
        ] {
            assert_eq!(human_duration(seconds), text, "{seconds}");
        }
    }

    #[test]
    fn byte_sizes_use_binary_units() {
        for (bytes, text) in [
            (512, "512 B"),
            (1536, "1.5 KiB"),
            (33_554_432, "32 MiB"),
            (10 * 1024 * 1024 * 1024, "10 GiB"),
        ] {
            assert_eq!(human_bytes(bytes), text, "{bytes}");
        }
    }
}
