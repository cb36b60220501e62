//! Numbers written for people: durations and byte sizes.

/// Writes seconds as at most the two largest non-zero units: `3d 4h`, `5m 12s`, `1h`, `42s`.
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
