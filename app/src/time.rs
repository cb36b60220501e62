//! Time ranges as people and URLs write them: `now-1h`, `now/d`, RFC 3339 or epoch milliseconds,
//! durations like `1h30m`, and refresh intervals. Shared by the UI and the server.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Parses a Prometheus-style duration (`500ms`, `15s`, `5m`, `1h30m`, `7d`, `2w`, `1y`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let bytes = text.as_bytes();
    let mut total_ms: i64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(format!("expected a number in duration \"{text}\""));
        }
        let number: i64 = text[start..i]
            .parse()
            .map_err(|_| format!("number too large in duration \"{text}\""))?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit_ms: i64 = match &text[unit_start..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            "" => {
                return Err(format!(
                    "missing unit in duration \"{text}\" (use ms, s, m, h, d, w or y)"
                ))
            }
            other => {
                return Err(format!(
                    "unknown unit \"{other}\" in duration \"{text}\" (use ms, s, m, h, d, w or y)"
                ))
            }
        };
        total_ms = number
            .checked_mul(unit_ms)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| format!("duration \"{text}\" is too large"))?;
    }
    Ok(Duration::milliseconds(total_ms))
}

/// Writes a duration in the shortest Prometheus form (`90m` becomes `1h30m`).
pub fn format_duration(duration: Duration) -> String {
    let mut ms = duration.num_milliseconds();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
        ms = -ms;
    }
    for (unit, size) in [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// A unit that `now/<unit>` rounds down to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl RoundUnit {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "m" => Self::Minute,
            "h" => Self::Hour,
            "d" => Self::Day,
            "w" => Self::Week,
            "M" => Self::Month,
            "y" => Self::Year,
            _ => return None,
        })
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Minute => "m",
            Self::Hour => "h",
            Self::Day => "d",
            Self::Week => "w",
            Self::Month => "M",
            Self::Year => "y",
        }
    }

    /// Returns the start of the unit that contains `at` (weeks start on Monday, all in UTC).
    fn floor(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let day = Utc
            .with_ymd_and_hms(at.year(), at.month(), at.day(), 0, 0, 0)
            .single()
            .unwrap_or(at);
        match self {
            Self::Minute => at
                .with_second(0)
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(at),
            Self::Hour => day + Duration::hours(at.hour().into()),
            Self::Day => day,
            Self::Week => day - Duration::days(at.weekday().num_days_from_monday().into()),
            Self::Month => Utc
                .with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
                .single()
                .unwrap_or(day),
            Self::Year => Utc
                .with_ymd_and_hms(at.year(), 1, 1, 0, 0, 0)
                .single()
                .unwrap_or(day),
        }
    }
}

/// One end of a time range: relative to now, or an absolute instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeExpr {
    /// `now`, `now-6h`, `now+5m`, `now/d`, `now-1d/d`.
    Relative {
        offset: Duration,
        round: Option<RoundUnit>,
    },
    Absolute(DateTime<Utc>),
}

impl TimeExpr {
    pub fn now() -> Self {
        Self::Relative {
            offset: Duration::zero(),
            round: None,
        }
    }

    /// Parses `now[±duration][/unit]`, an RFC 3339 time, `YYYY-MM-DD HH:MM[:SS]` (UTC),
    /// or epoch milliseconds as Grafana writes them in URLs.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty time".into());
        }
        if let Some(rest) = text.strip_prefix("now") {
            let (offset_part, round) = match rest.split_once('/') {
                Some((offset, unit)) => (
                    offset,
                    Some(RoundUnit::parse(unit).ok_or_else(|| {
                        format!("unknown rounding unit \"/{unit}\" (use /m, /h, /d, /w, /M or /y)")
                    })?),
                ),
                None => (rest, None),
            };
            let offset = if offset_part.is_empty() {
                Duration::zero()
            } else if let Some(d) = offset_part.strip_prefix('-') {
                -parse_duration(d)?
            } else if let Some(d) = offset_part.strip_prefix('+') {
                parse_duration(d)?
            } else {
                return Err(format!(
                    "expected now-<duration> or now+<duration>, got \"{text}\""
                ));
            };
            return Ok(Self::Relative { offset, round });
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            let ms: i64 = text
                .parse()
                .map_err(|_| format!("invalid timestamp \"{text}\""))?;
            return Utc
                .timestamp_millis_opt(ms)
                .single()
                .map(Self::Absolute)
                .ok_or_else(|| format!("timestamp \"{text}\" is out of range"));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self::Absolute(t.with_timezone(&Utc)));
        }
        for format in [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
                return Ok(Self::Absolute(t.and_utc()));
            }
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Self::Absolute(
                d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            ));
        }
        Err(format!(
            "\"{text}\" is not a time: use now-1h, now/d, 2026-01-31 12:00:00 or RFC 3339"
        ))
    }

    /// Returns the instant this expression names when the clock reads `now`.
    pub fn resolve(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Absolute(t) => *t,
            Self::Relative { offset, round } => {
                let t = now + *offset;
                match round {
                    Some(unit) => unit.floor(t),
                    None => t,
                }
            }
        }
    }

    pub fn is_relative(&self) -> bool {
        matches!(self, Self::Relative { .. })
    }
}

impl fmt::Display for TimeExpr {
    /// Writes the URL form: `now-1h`, `now/d`, or epoch milliseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absolute(t) => write!(f, "{}", t.timestamp_millis()),
            Self::Relative { offset, round } => {
                f.write_str("now")?;
                if *offset < Duration::zero() {
                    write!(f, "-{}", format_duration(-*offset))?;
                } else if *offset > Duration::zero() {
                    write!(f, "+{}", format_duration(*offset))?;
                }
                if let Some(unit) = round {
                    write!(f, "/{}", unit.symbol())?;
                }
                Ok(())
            }
        }
    }
}

/// A time range as the URL carries it (`from`, `to`), valid when `from` resolves before `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub from: TimeExpr,
    pub to: TimeExpr,
}

/// A quick range offered by the time picker.
pub struct QuickRange {
    pub from: &'static str,
    pub to: &'static str,
    pub label: &'static str,
}

/// The quick ranges of the time picker, shortest first.
pub const QUICK_RANGES: &[QuickRange] = &[
    QuickRange {
        from: "now-5m",
        to: "now",
        label: "Last 5 minutes",
    },
    QuickRange {
        from: "now-15m",
        to: "now",
        label: "Last 15 minutes",
    },
    QuickRange {
        from: "now-30m",
        to: "now",
        label: "Last 30 minutes",
    },
    QuickRange {
        from: "now-1h",
        to: "now",
        label: "Last 1 hour",
    },
    QuickRange {
        from: "now-3h",
        to: "now",
        label: "Last 3 hours",
    },
    QuickRange {
        from: "now-6h",
        to: "now",
        label: "Last 6 hours",
    },
    QuickRange {
        from: "now-12h",
        to: "now",
        label: "Last 12 hours",
    },
    QuickRange {
        from: "now-24h",
        to: "now",
        label: "Last 24 hours",
    },
    QuickRange {
        from: "now-2d",
        to: "now",
        label: "Last 2 days",
    },
    QuickRange {
        from: "now-7d",
        to: "now",
        label: "Last 7 days",
    },
    QuickRange {
        from: "now-30d",
        to: "now",
        label: "Last 30 days",
    },
    QuickRange {
        from: "now/d",
        to: "now",
        label: "Today so far",
    },
    QuickRange {
        from: "now-1d/d",
        to: "now/d",
        label: "Yesterday",
    },
    QuickRange {
        from: "now/w",
        to: "now",
        label: "This week so far",
    },
];

impl Default for TimeRange {
    /// The last hour, as in Grafana.
    fn default() -> Self {
        Self {
            from: TimeExpr::Relative {
                offset: Duration::hours(-1),
                round: None,
            },
            to: TimeExpr::now(),
        }
    }
}

/// Why a time range was refused, naming the URL field at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl TimeRange {
    /// Parses and checks a range; `now` is needed to tell whether `from` comes before `to`.
    pub fn parse(from: &str, to: &str, now: DateTime<Utc>) -> Result<Self, RangeError> {
        let from = TimeExpr::parse(from).map_err(|message| RangeError {
            field: "from",
            message,
        })?;
        let to = TimeExpr::parse(to).map_err(|message| RangeError {
            field: "to",
            message,
        })?;
        let range = Self { from, to };
        let (start, end) = range.resolve(now);
        if start >= end {
            return Err(RangeError {
                field: "from",
                message: "the start of the range must be before its end".into(),
            });
        }
        Ok(range)
    }

    /// Reads the range from optional URL parameters, falling back to the default for missing
    /// or invalid ones (a shared link with a typo still opens).
    pub fn from_query(from: Option<&str>, to: Option<&str>, now: DateTime<Utc>) -> Self {
        let default = Self::default();
        Self::parse(
            from.unwrap_or(&default.from.to_string()),
            to.unwrap_or(&default.to.to_string()),
            now,
        )
        .unwrap_or(default)
    }

    pub fn resolve(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.from.resolve(now), self.to.resolve(now))
    }

    /// Returns a label for the picker button: a quick range's name, or the two ends.
    pub fn label(&self) -> String {
        let (from, to) = (self.from.to_string(), self.to.to_string());
        if let Some(quick) = QUICK_RANGES.iter().find(|q| q.from == from && q.to == to) {
            return quick.label.to_string();
        }
        if let (
            TimeExpr::Relative {
                offset,
                round: None,
            },
            true,
        ) = (&self.from, self.to == TimeExpr::now())
        {
            return format!("Last {}", format_duration(-*offset));
        }
        format!("{} to {}", describe(&self.from), describe(&self.to))
    }

    /// Returns the same span with both ends fixed at the instants they name now, for a link that
    /// shows exactly what is on screen.
    pub fn to_absolute(&self, now: DateTime<Utc>) -> Self {
        let (from, to) = self.resolve(now);
        Self {
            from: TimeExpr::Absolute(from),
            to: TimeExpr::Absolute(to),
        }
    }

    /// Returns the range moved by `factor` times its own length (negative: earlier), as absolute
    /// times, the way the back/forward buttons of Grafana move.
    pub fn shifted(&self, factor: f64, now: DateTime<Utc>) -> Self {
        let (from, to) = self.resolve(now);
        let span_ms = (to - from).num_milliseconds() as f64;
        let delta = Duration::milliseconds((span_ms * factor).round() as i64);
        Self {
            from: TimeExpr::Absolute(from + delta),
            to: TimeExpr::Absolute(to + delta),
        }
    }

    /// Returns the range widened to twice its length around the same centre; a range that ends
    /// at `now` keeps ending at `now`.
    pub fn zoomed_out(&self, now: DateTime<Utc>) -> Self {
        let (from, to) = self.resolve(now);
        let span = to - from;
        if self.to == TimeExpr::now() {
            return Self {
                from: TimeExpr::Relative {
                    offset: -(span * 2),
                    round: None,
                },
                to: TimeExpr::now(),
            };
        }
        let half = Duration::milliseconds(span.num_milliseconds() / 2);
        Self {
            from: TimeExpr::Absolute(from - half),
            to: TimeExpr::Absolute(to + half),
        }
    }
}

/// Writes one end of a range for people: `now-1h` stays as it is, instants become UTC dates.
pub fn describe(expr: &TimeExpr) -> String {
    match expr {
        TimeExpr::Absolute(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        relative => relative.to_string(),
    }
}

/// Round intervals people read easily, in milliseconds: query steps and axis ticks use them.
#[rustfmt::skip]
pub const NICE_STEPS_MS: &[i64] = &[
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
    1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
    172_800_000, 604_800_000, 1_209_600_000, 2_592_000_000,
];

/// The smallest round interval of at least `ms` (whole days beyond the list).
pub fn nice_step_at_least(ms: i64) -> i64 {
    NICE_STEPS_MS
        .iter()
        .copied()
        .find(|&s| s >= ms)
        .unwrap_or_else(|| (ms + 86_399_999) / 86_400_000 * 86_400_000)
}

/// The step for a range of `span_ms` drawn `width_px` wide: about one point per three pixels,
/// rounded up to a nice step, and never more than Prometheus' 11,000 points.
pub fn auto_step_ms(span_ms: i64, width_px: u32) -> i64 {
    let points = i64::from(width_px / 3).clamp(50, 11_000);
    nice_step_at_least((span_ms / points).max(span_ms / 11_000).max(1))
}

/// How often a view reloads its data; `Off` when absent from the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Refresh {
    #[default]
    Off,
    Every(i64),
}

/// The refresh intervals the picker offers, in seconds.
pub const REFRESH_CHOICES: &[i64] = &[5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 86400];

impl Refresh {
    /// Parses `off`, an empty value, or a duration of at least one second.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() || text == "off" {
            return Ok(Self::Off);
        }
        let duration = parse_duration(text)?;
        if duration < Duration::seconds(1) {
            return Err(format!("refresh interval \"{text}\" is shorter than 1s"));
        }
        Ok(Self::Every(duration.num_seconds()))
    }

    /// The URL value, or `None` when the view does not refresh.
    pub fn to_query(self) -> Option<String> {
        match self {
            Self::Off => None,
            Self::Every(seconds) => Some(format_duration(Duration::seconds(seconds))),
        }
    }

    pub fn label(self) -> String {
        self.to_query().unwrap_or_else(|| "Off".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_adapt_to_the_range_and_stay_round() {
        let hour = 3_600_000;
        assert_eq!(auto_step_ms(5 * 60_000, 1000), 1_000);
        assert_eq!(auto_step_ms(hour, 1000), 15_000);
        assert_eq!(auto_step_ms(6 * hour, 1000), 120_000);
        assert_eq!(auto_step_ms(30 * 24 * hour, 1000), 3 * hour);
        assert!(30 * 24 * hour / auto_step_ms(30 * 24 * hour, 100_000) <= 11_000);
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn durations_parse_in_prometheus_units() {
        let cases = [
            ("500ms", 500),
            ("15s", 15_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("7d", 604_800_000),
            ("2w", 1_209_600_000),
            ("1y", 31_536_000_000),
        ];
        for (text, ms) in cases {
            assert_eq!(
                parse_duration(text).unwrap().num_milliseconds(),
                ms,
                "{text}"
            );
        }
    }

    #[test]
    fn bad_durations_say_why() {
        for (text, needle) in [
            ("", "empty"),
            ("5", "missing unit"),
            ("5x", "unknown unit \"x\""),
            ("m", "expected a number"),
            ("99999999999999999999s", "too large"),
        ] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn durations_format_in_the_shortest_form() {
        for (ms, text) in [
            (5_400_000, "1h30m"),
            (0, "0s"),
            (1_500, "1s500ms"),
            (86_400_000, "1d"),
        ] {
            assert_eq!(format_duration(Duration::milliseconds(ms)), text);
        }
    }

    #[test]
    fn relative_times_resolve_against_now() {
        let now = at("2026-11-18T13:47:12Z"); // a Wednesday
        let cases = [
            ("now", "2026-11-18T13:47:12Z"),
            ("now-1h", "2026-11-18T12:47:12Z"),
            ("now+5m", "2026-11-18T13:52:12Z"),
            ("now/m", "2026-11-18T13:47:00Z"),
            ("now/h", "2026-11-18T13:00:00Z"),
            ("now/d", "2026-11-18T00:00:00Z"),
            ("now-1d/d", "2026-11-17T00:00:00Z"),
            ("now/w", "2026-11-16T00:00:00Z"),
            ("now/M", "2026-11-01T00:00:00Z"),
            ("now/y", "2026-01-01T00:00:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                TimeExpr::parse(text).unwrap().resolve(now),
                at(expected),
                "{text}"
            );
        }
    }

    #[test]
    fn absolute_times_accept_the_usual_spellings() {
        let expected = at("2026-01-31T12:00:00Z");
        for text in [
            "2026-01-31T12:00:00Z",
            "2026-01-31T13:00:00+01:00",
            "2026-01-31 12:00:00",
            "2026-01-31 12:00",
            "1769860800000",
        ] {
            assert_eq!(
                TimeExpr::parse(text).unwrap(),
                TimeExpr::Absolute(expected),
                "{text}"
            );
        }
    }

    #[test]
    fn time_expressions_round_trip_through_the_url_form() {
        for text in [
            "now",
            "now-1h",
            "now-1h30m",
            "now+5m",
            "now/d",
            "now-1d/d",
            "1769860800000",
        ] {
            assert_eq!(TimeExpr::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn bad_times_are_refused_with_a_reason() {
        for (text, needle) in [
            ("now-", "empty duration"),
            ("now/q", "rounding unit"),
            ("now*2", "expected now-"),
            ("yesterday", "is not a time"),
        ] {
            let err = TimeExpr::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn a_range_must_start_before_it_ends() {
        let now = at("2026-11-18T13:47:12Z");
        let err = TimeRange::parse("now", "now-1h", now).unwrap_err();
        assert_eq!(err.field, "from");
        let err = TimeRange::parse("now-1h", "later", now).unwrap_err();
        assert_eq!(err.field, "to");
        assert!(TimeRange::parse("now-1h", "now", now).is_ok());
    }

    #[test]
    fn a_broken_url_range_falls_back_to_the_last_hour() {
        let now = at("2026-11-18T13:47:12Z");
        assert_eq!(
            TimeRange::from_query(Some("garbage"), None, now),
            TimeRange::default()
        );
        assert_eq!(TimeRange::from_query(None, None, now), TimeRange::default());
        let six = TimeRange::from_query(Some("now-6h"), Some("now"), now);
        assert_eq!(six.label(), "Last 6 hours");
    }

    #[test]
    fn labels_name_quick_ranges_and_spell_out_the_rest() {
        let now = at("2026-11-18T13:47:12Z");
        assert_eq!(
            TimeRange::parse("now-1d/d", "now/d", now).unwrap().label(),
            "Yesterday"
        );
        assert_eq!(
            TimeRange::parse("now-90m", "now", now).unwrap().label(),
            "Last 1h30m"
        );
        assert_eq!(
            TimeRange::parse("2026-11-18 10:00", "2026-11-18 11:00", now)
                .unwrap()
                .label(),
            "2026-11-18 10:00:00 to 2026-11-18 11:00:00"
        );
    }

    #[test]
    fn shifting_and_zooming_move_by_the_range_length() {
        let now = at("2026-11-18T13:00:00Z");
        let last_hour = TimeRange::default();
        let back = last_hour.shifted(-0.5, now);
        assert_eq!(
            back.resolve(now),
            (at("2026-11-18T11:30:00Z"), at("2026-11-18T12:30:00Z"))
        );
        assert_eq!(last_hour.zoomed_out(now).from.to_string(), "now-2h");
        let fixed = TimeRange::parse("2026-11-18 10:00", "2026-11-18 11:00", now).unwrap();
        assert_eq!(
            fixed.zoomed_out(now).resolve(now),
            (at("2026-11-18T09:30:00Z"), at("2026-11-18T11:30:00Z"))
        );
        assert_eq!(
            last_hour.to_absolute(now).resolve(now),
            last_hour.resolve(now)
        );
    }

    #[test]
    fn refresh_intervals_parse_and_print() {
        assert_eq!(Refresh::parse("off").unwrap(), Refresh::Off);
        assert_eq!(Refresh::parse("").unwrap(), Refresh::Off);
        assert_eq!(Refresh::parse("30s").unwrap(), Refresh::Every(30));
        assert_eq!(
            Refresh::parse("1m").unwrap().to_query().as_deref(),
            Some("1m")
        );
        assert!(Refresh::parse("100ms")
            .unwrap_err()
            .contains("shorter than 1s"));
        assert!(Refresh::parse("soon").is_err());
    }
}
