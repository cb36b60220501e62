//! Silences: label matchers and a window during which the notifications of every alert they
//! match are muted (the alerts still show, marked silenced). Shared by the portal's own API and
//! its Alertmanager v2 API.

use super::alerting::{LabelMatcher, MatchOp};
use super::dashboard::ModelError;
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

/// A stored silence.
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
}

/// Create a silence (no id) or change one (its id).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SaveSilence {
    #[serde(default)]
    pub id: String,
    pub matchers: Vec<LabelMatcher>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
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
        if self.matchers.is_empty() {
            errors.push(error("matchers", "a silence needs at least one matcher"));
        }
        if self.matchers.len() > 50 {
            errors.push(error("matchers", "at most 50 matchers"));
        }
        for (i, m) in self.matchers.iter().enumerate() {
            let valid_name = {
                let mut b = m.name.bytes();
                matches!(b.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
                    && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
            };
            if !valid_name {
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
        if self.ends_at <= self.starts_at {
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
