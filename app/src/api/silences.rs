//! Silences: label matchers and a window during which the notifications of every alert they
//! match are muted (the alerts still show, marked silenced). Shared by the portal's own API and
//! its Alertmanager v2 API.

use super::alerting::{LabelMatcher, MatchOp};
use super::dashboard::{is_label_name, ModelError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest a silence may last unless the portal is configured otherwise.
pub const DEFAULT_MAX_DURATION_DAYS: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SilenceState {
    Active,
    Pending,
    Expired,
}

impl SilenceState {
    /// The state of a silence from `starts` to `ends` at `now`, as Alertmanager reckons it.
    pub fn at(starts: DateTime<Utc>, ends: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if ends <= now {
            Self::Expired
        } else if starts > now {
            Self::Pending
        } else {
            Self::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Expired => "expired",
        }
    }
}

/// When a recurring maintenance window is open: on the days its filters select (all of them
/// together; an empty filter selects every day), from `start_time` to `end_time` on the clock
/// of `time_zone` (an end at or before the start is on the next day).
///
/// An occurrence is one continuous span, from the first moment the clock shows its start to
/// the last moment it shows its end: a start the clock skips (spring forward) begins when the
/// clock jumps, and a time the clock shows twice (fall back) is covered both times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// An IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// `HH:MM`, 24-hour clock.
    pub start_time: String,
    pub end_time: String,
    /// Days of the week (`Mon` … `Sun`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weekdays: Vec<chrono::Weekday>,
    /// Which of a month's weekdays: 1 (the first) to 5, or -1 (the last). With `weekdays`
    /// [`Mon`] and [1] a window opens on the first Monday of each month.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weeks_of_month: Vec<i8>,
    /// Days of the month: 1 to 31, or -1 (the last) to -31.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days_of_month: Vec<i8>,
    /// Months, 1 to 12.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub months: Vec<u8>,
    /// Every n-th week, counted from the week of `from` (weeks start on Monday).
    #[serde(default = "one")]
    pub every_weeks: u32,
    /// The first day a window may open, in the time zone.
    pub from: chrono::NaiveDate,
    /// The last day a window may open; none: it recurs until expired.
    #[serde(default)]
    pub until: Option<chrono::NaiveDate>,
}

fn one() -> u32 {
    1
}

/// One span of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// A stored silence. For a recurring window, `starts_at`/`ends_at` span the whole series (the
/// end is far away when it recurs until expired) and `occurrences` lists the one running now
/// and the next ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<LabelMatcher>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    pub comment: String,
    pub updated_at: DateTime<Utc>,
    pub state: SilenceState,
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// The window running now (first, when one is) and the next ones; a one-off silence's own.
    #[serde(default)]
    pub occurrences: Vec<Window>,
    /// A contact point told when the silence (each window) starts and shortly before it ends.
    #[serde(default)]
    pub notify: String,
}

impl Silence {
    /// The window running at `now`, if any.
    pub fn running(&self, now: DateTime<Utc>) -> Option<Window> {
        self.occurrences
            .iter()
            .find(|w| w.starts_at <= now && now < w.ends_at)
            .copied()
    }
}

/// Create a silence (no id) or change one (its id). A recurring window has a `schedule` and no
/// `starts_at`/`ends_at` (its schedule decides them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SaveSilence {
    #[serde(default)]
    pub id: String,
    pub matchers: Vec<LabelMatcher>,
    #[serde(default)]
    pub starts_at: DateTime<Utc>,
    #[serde(default)]
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub schedule: Option<Schedule>,
    #[serde(default)]
    pub notify: String,
}

/// While an alert matching `source_matchers` fires, alerts matching `target_matchers` whose
/// `equal` labels have the same values (both missing counts as equal) are muted: an
/// agent-down alert mutes that agent's task-failure alerts. An alert never inhibits itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InhibitRule {
    pub source_matchers: Vec<LabelMatcher>,
    pub target_matchers: Vec<LabelMatcher>,
    #[serde(default)]
    pub equal: Vec<String>,
    #[serde(default)]
    pub comment: String,
}

impl InhibitRule {
    /// Every problem, each naming its field under `prefix` (regular expressions are checked by
    /// the server).
    pub fn validate(&self, prefix: &str) -> Vec<ModelError> {
        let mut errors = Vec::new();
        for (field, list) in [
            ("source_matchers", &self.source_matchers),
            ("target_matchers", &self.target_matchers),
        ] {
            if list.is_empty() {
                errors.push(error(
                    format!("{prefix}.{field}"),
                    "at least one matcher: an empty list would match every alert",
                ));
            }
            if list.len() > 50 {
                errors.push(error(format!("{prefix}.{field}"), "at most 50 matchers"));
            }
            for (i, m) in list.iter().enumerate() {
                if !is_label_name(&m.name) {
                    errors.push(error(
                        format!("{prefix}.{field}[{i}].name"),
                        "a label name is letters, digits and '_', not starting with a digit",
                    ));
                }
            }
        }
        for (i, name) in self.equal.iter().enumerate() {
            if !is_label_name(name) {
                errors.push(error(format!("{prefix}.equal[{i}]"), "not a label name"));
            }
        }
        if self.comment.len() > 1_000 {
            errors.push(error(
                format!("{prefix}.comment"),
                "at most 1,000 characters",
            ));
        }
        errors
    }
}

/// Ask for the next windows of a schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OccurrencesRequest {
    pub schedule: Schedule,
    #[serde(default = "five")]
    pub count: usize,
}

fn five() -> usize {
    5
}

/// How a time of day is written: `HH:MM`.
pub fn parse_clock(text: &str) -> Option<chrono::NaiveTime> {
    let (h, m) = text.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    chrono::NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

impl Schedule {
    /// Every problem of the fields a browser can check (the time zone is checked by the
    /// server), each naming its field under `prefix`.
    pub fn validate(&self, prefix: &str) -> Vec<ModelError> {
        let mut errors = Vec::new();
        let f = |name: &str| format!("{prefix}.{name}");
        if self.time_zone.trim().is_empty() || self.time_zone.len() > 64 {
            errors.push(error(
                f("time_zone"),
                "name a time zone, e.g. Europe/Berlin or UTC",
            ));
        }
        for (field, day) in [("from", Some(self.from)), ("until", self.until)] {
            if day.is_some_and(|d| !(2000..=9999).contains(&chrono::Datelike::year(&d))) {
                errors.push(error(f(field), "a day between the years 2000 and 9999"));
            }
        }
        for (field, text) in [
            ("start_time", &self.start_time),
            ("end_time", &self.end_time),
        ] {
            if parse_clock(text).is_none() {
                errors.push(error(f(field), "a time of day as HH:MM, e.g. 02:00"));
            }
        }
        if self.weeks_of_month.iter().any(|w| !matches!(w, 1..=5 | -1)) {
            errors.push(error(f("weeks_of_month"), "1 to 5, or -1 for the last"));
        }
        if !self.weeks_of_month.is_empty() && self.weekdays.is_empty() {
            errors.push(error(
                f("weekdays"),
                "say which weekday of the month, e.g. Mon for the first Monday",
            ));
        }
        if self
            .days_of_month
            .iter()
            .any(|d| *d == 0 || !(-31..=31).contains(d))
        {
            errors.push(error(
                f("days_of_month"),
                "1 to 31, or -1 (the last) to -31",
            ));
        }
        if self.months.iter().any(|m| !(1..=12).contains(m)) {
            errors.push(error(f("months"), "1 to 12"));
        }
        if !(1..=52).contains(&self.every_weeks) {
            errors.push(error(f("every_weeks"), "1 (every week) to 52"));
        }
        if self.until.is_some_and(|u| u < self.from) {
            errors.push(error(f("until"), "must not be before the first day"));
        }
        errors
    }

    /// The window in words: "Sun 02:00–04:00 Europe/Berlin", "first Mon of the month …".
    pub fn describe(&self) -> String {
        let mut days = Vec::new();
        if self.every_weeks > 1 {
            days.push(format!("every {} weeks", self.every_weeks));
        }
        if !self.weeks_of_month.is_empty() {
            let nth: Vec<&str> = self
                .weeks_of_month
                .iter()
                .map(|w| match w {
                    1 => "first",
                    2 => "second",
                    3 => "third",
                    4 => "fourth",
                    5 => "fifth",
                    _ => "last",
                })
                .collect();
            days.push(format!("the {}", nth.join(", ")));
        }
        if self.weekdays.is_empty() && self.days_of_month.is_empty() {
            days.push("daily".into());
        }
        if !self.weekdays.is_empty() {
            let names: Vec<String> = self.weekdays.iter().map(|d| d.to_string()).collect();
            days.push(names.join(", "));
        }
        if !self.weeks_of_month.is_empty() {
            days.push("of the month".into());
        }
        if !self.days_of_month.is_empty() {
            let list: Vec<String> = self
                .days_of_month
                .iter()
                .map(|d| {
                    if *d == -1 {
                        "last".into()
                    } else {
                        d.to_string()
                    }
                })
                .collect();
            days.push(format!("day {}", list.join(", ")));
        }
        if !self.months.is_empty() {
            const NAMES: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let list: Vec<&str> = self
                .months
                .iter()
                .filter_map(|m| NAMES.get((*m as usize).wrapping_sub(1)).copied())
                .collect();
            days.push(format!("in {}", list.join(", ")));
        }
        let mut text = format!(
            "{} {}–{} {}",
            days.join(" "),
            self.start_time,
            self.end_time,
            self.time_zone
        );
        match self.until {
            Some(until) => text.push_str(&format!(", {} to {until}", self.from)),
            None => text.push_str(&format!(", from {}", self.from)),
        }
        text
    }
}

/// Ask what a silence with these matchers would mute.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SilencePreviewRequest {
    pub matchers: Vec<LabelMatcher>,
}

/// A rule whose alerts a silence could match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleRef {
    pub uid: String,
    pub name: String,
    /// True when the rule's own labels decide it; false when it depends on its series' labels.
    pub certain: bool,
}

/// What a silence would mute: the alerts now, and the rules whose alerts it could match (so a
/// silence can be set before a planned change, before anything fires).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SilencePreview {
    pub alerts: Vec<super::alerting::Alert>,
    pub rules: Vec<RuleRef>,
}

fn error(field: impl Into<String>, message: impl Into<String>) -> ModelError {
    ModelError {
        field: field.into(),
        message: message.into(),
    }
}

impl SaveSilence {
    /// Every problem, each naming its field. Regular expressions are checked by the server.
    pub fn validate(&self, max_duration: chrono::Duration) -> Vec<ModelError> {
        let mut errors = Vec::new();
        if let Some(schedule) = &self.schedule {
            errors.extend(schedule.validate("schedule"));
        }
        if self.matchers.is_empty() {
            errors.push(error("matchers", "a silence needs at least one matcher"));
        }
        if self.matchers.len() > 50 {
            errors.push(error("matchers", "at most 50 matchers"));
        }
        for (i, m) in self.matchers.iter().enumerate() {
            if !is_label_name(&m.name) {
                errors.push(error(
                    format!("matchers[{i}].name"),
                    "a label name is letters, digits and '_', not starting with a digit",
                ));
            }
            if m.value.len() > 1_000 {
                errors.push(error(
                    format!("matchers[{i}].value"),
                    "at most 1,000 characters",
                ));
            }
        }
        // Alertmanager refuses silences that would match every alert.
        let matches_empty = self.matchers.iter().all(|m| match m.op {
            MatchOp::Equal => m.value.is_empty(),
            MatchOp::NotEqual => !m.value.is_empty(),
            MatchOp::Regex | MatchOp::NotRegex => false,
        });
        if !self.matchers.is_empty() && matches_empty {
            errors.push(error(
                "matchers",
                "at least one matcher must not match the empty string: this silence would mute every alert",
            ));
        }
        if self.schedule.is_some() {
            // The schedule decides the windows; each is at most a day.
        } else if self.ends_at <= self.starts_at {
            errors.push(error("ends_at", "must be after the start"));
        } else if self.ends_at - self.starts_at > max_duration {
            errors.push(error(
                "ends_at",
                format!(
                    "a silence lasts at most {} days here",
                    max_duration.num_days().max(1)
                ),
            ));
        }
        if self.created_by.trim().is_empty() {
            errors.push(error("created_by", "say who is silencing"));
        }
        if self.created_by.len() > 200 || self.comment.len() > 10_000 {
            errors.push(error("comment", "at most 10,000 characters"));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::alerting::parse_matchers;

    fn silence(matchers: &str, hours: i64) -> SaveSilence {
        let now = Utc::now();
        SaveSilence {
            id: String::new(),
            matchers: parse_matchers(matchers).unwrap(),
            starts_at: now,
            ends_at: now + chrono::Duration::hours(hours),
            created_by: "ops".into(),
            comment: String::new(),
            schedule: None,
            notify: String::new(),
        }
    }

    #[test]
    fn states_follow_the_clock() {
        let now = Utc::now();
        let h = chrono::Duration::hours(1);
        assert_eq!(
            SilenceState::at(now - h, now + h, now),
            SilenceState::Active
        );
        assert_eq!(
            SilenceState::at(now + h, now + h * 2, now),
            SilenceState::Pending
        );
        assert_eq!(
            SilenceState::at(now - h * 2, now, now),
            SilenceState::Expired
        );
    }

    #[test]
    fn silences_that_mute_everything_or_too_long_are_refused() {
        let max = chrono::Duration::days(30);
        assert!(silence("severity=\"critical\"", 2).validate(max).is_empty());
        let fields = |s: SaveSilence| -> Vec<String> {
            s.validate(max).into_iter().map(|e| e.field).collect()
        };
        assert_eq!(fields(silence("team=\"\"", 2)), ["matchers"]);
        assert_eq!(fields(silence("team!=\"x\"", 2)), ["matchers"]);
        assert_eq!(fields(silence("a=\"b\"", 24 * 31)), ["ends_at"]);
        assert_eq!(fields(silence("a=\"b\"", 0)), ["ends_at"]);
    }
}
