//! Silences: saved with Alertmanager's rules for changes (a silence that can be changed in
//! place keeps its id; otherwise the old one is expired and a new one made), listed by state,
//! and consulted by the dispatcher: an alert that an active silence matches is not notified.

use super::{
    notify::{check_matchers, matcher_holds},
    schedule::Compiled,
    Alerting,
};
use crate::{accounts::FolderAccess, error::ApiError, store::silences as db};
use app::api::{
    alerting::{LabelMatcher, RuleKind},
    silences::{RuleRef, SaveSilence, Schedule, Silence, SilencePreview, SilenceState, Window},
};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// The labels every alert of a rule has: its own (templates left out) and `alertname`.
fn known_labels(rule: &app::api::alerting::Rule) -> BTreeMap<String, String> {
    let mut known: BTreeMap<String, String> = rule
        .labels
        .iter()
        .filter(|(_, v)| !v.contains("{{"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    known.insert(app::api::alerting::ALERTNAME.into(), rule.name.clone());
    known
}

/// Whether every matcher of `matchers` holds for `labels`.
pub fn matches(matchers: &[LabelMatcher], labels: &BTreeMap<String, String>) -> bool {
    matchers.iter().all(|m| matcher_holds(m, labels))
}

/// How many upcoming windows of a recurring silence are listed.
const LISTED_WINDOWS: usize = 5;

/// Where a window that recurs until expired ends.
fn far_future() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_214_400, 0).unwrap_or_default() // 9999-12-31
}

fn silence_of(row: db::SilenceRow, now: DateTime<Utc>) -> Silence {
    let schedule: Option<Schedule> = row.schedule.and_then(|s| serde_json::from_value(s).ok());
    let compiled = schedule
        .as_ref()
        .and_then(|s| Compiled::new(s, "schedule").ok());
    let (state, occurrences) = match &compiled {
        None => (
            SilenceState::at(row.starts_at, row.ends_at, now),
            vec![Window {
                starts_at: row.starts_at,
                ends_at: row.ends_at,
            }],
        ),
        Some(c) => {
            // Expiring a series ends its running window and every later one.
            let windows: Vec<Window> = c
                .next(now, LISTED_WINDOWS)
                .into_iter()
                .filter(|w| w.starts_at < row.ends_at)
                .map(|w| Window {
                    starts_at: w.starts_at,
                    ends_at: w.ends_at.min(row.ends_at),
                })
                .collect();
            let state = if row.ends_at <= now {
                SilenceState::Expired
            } else if windows.first().is_some_and(|w| w.starts_at <= now) {
                SilenceState::Active
            } else if windows.is_empty() {
                SilenceState::Expired
            } else {
                SilenceState::Pending
            };
            (state, windows)
        }
    };
    Silence {
        state,
        matchers: serde_json::from_value(row.matchers).unwrap_or_default(),
        id: row.id,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        created_by: row.created_by,
        comment: row.comment,
        updated_at: row.updated_at,
        schedule,
        occurrences,
        notify: row.notify,
    }
}

/// Whether `old` can take `new` in place (Alertmanager's `canUpdate`): same matchers; a
/// running silence keeps its start and does not end in the past; a pending one does not start
/// in the past; an expired one never.
/// A recurring window keeps its id through any change until it has ended.
fn can_update(old: &Silence, new: &SaveSilence, now: DateTime<Utc>) -> bool {
    if old.schedule.is_some() || new.schedule.is_some() {
        return old.state != SilenceState::Expired;
    }
    if old.matchers != new.matchers {
        return false;
    }
    match SilenceState::at(old.starts_at, old.ends_at, now) {
        SilenceState::Active => {
            new.starts_at.timestamp() == old.starts_at.timestamp() && new.ends_at >= now
        }
        SilenceState::Pending => new.starts_at >= now,
        SilenceState::Expired => false,
    }
}

impl Alerting {
    /// Silences that have not ended, or all of them with `expired`.
    pub async fn silences(&self, expired: bool) -> Result<Vec<Silence>, ApiError> {
        let now = Utc::now();
        let since = (!expired).then_some(now);
        Ok(db::select_silences(&self.pool, since)
            .await?
            .into_iter()
            .map(|r| silence_of(r, now))
            .collect())
    }

    pub async fn silence(&self, id: &str) -> Result<Silence, ApiError> {
        db::select_silence(&self.pool, id)
            .await?
            .map(|r| silence_of(r, Utc::now()))
            .ok_or_else(|| ApiError::not_found(format!("no silence \"{id}\"")))
    }

    /// Creates a silence, or changes the one with the request's id: in place when Alertmanager
    /// would, else by expiring it and making a new one. Returns the id that now holds it.
    pub async fn save_silence(&self, mut request: SaveSilence) -> Result<String, ApiError> {
        let now = Utc::now();
        if let Some(e) = request.validate(self.max_silence).into_iter().next() {
            return Err(ApiError::invalid(e.field, e.message));
        }
        check_matchers(&request.matchers, "matchers")?;
        if matches(&request.matchers, &BTreeMap::new()) {
            return Err(ApiError::invalid(
                "matchers",
                "at least one matcher must not match the empty string: this silence would mute every alert",
            ));
        }
        if let Some(schedule) = &request.schedule {
            let (first, last) = Compiled::new(schedule, "schedule")?.span().ok_or_else(|| {
                ApiError::invalid(
                    "schedule",
                    "no window ever opens on these days: check the days, weeks and months",
                )
            })?;
            request.starts_at = first;
            request.ends_at = last.unwrap_or_else(far_future);
        }
        if request.ends_at <= now {
            let field = match request.schedule {
                Some(_) => "schedule.until",
                None => "ends_at",
            };
            return Err(ApiError::invalid(field, "must be in the future"));
        }
        request.notify = request.notify.trim().to_string();
        if !request.notify.is_empty()
            && !self
                .contact_points()
                .await?
                .iter()
                .any(|p| p.name == request.notify)
        {
            return Err(ApiError::invalid(
                "notify",
                format!("no contact point \"{}\"", request.notify),
            ));
        }
        let mut tx = self.pool.begin().await?;
        if !request.id.is_empty() {
            let old = db::select_silence(&mut *tx, &request.id)
                .await?
                .map(|r| silence_of(r, now))
                .ok_or_else(|| ApiError::not_found(format!("no silence \"{}\"", request.id)))?;
            if !can_update(&old, &request, now) {
                if old.state != SilenceState::Expired {
                    db::expire_silence(&mut *tx, &old.id).await?;
                }
                request.id = String::new();
            }
        }
        if request.id.is_empty() {
            request.id = uuid::Uuid::new_v4().to_string();
        }
        let schedule = match &request.schedule {
            Some(s) => {
                let mut s = s.clone();
                s.time_zone = s.time_zone.trim().to_string();
                Some(serde_json::to_value(s).map_err(anyhow::Error::from)?)
            }
            None => None,
        };
        db::upsert_silence(
            &mut *tx,
            &db::SilenceRow {
                id: request.id.clone(),
                matchers: serde_json::to_value(&request.matchers).map_err(anyhow::Error::from)?,
                starts_at: if schedule.is_some() {
                    request.starts_at
                } else {
                    request.starts_at.max(now - Duration::seconds(1))
                },
                ends_at: request.ends_at,
                created_by: request.created_by.trim().to_string(),
                comment: request.comment.clone(),
                updated_at: now,
                schedule,
                notify: request.notify.clone(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(request.id)
    }

    /// Ends a silence now.
    pub async fn expire_silence(&self, id: &str) -> Result<(), ApiError> {
        let silence = self.silence(id).await?;
        if silence.state == SilenceState::Expired {
            return Err(ApiError::invalid("id", "the silence has already ended"));
        }
        db::expire_silence(&self.pool, id).await?;
        Ok(())
    }

    /// The ids of the active silences that match `labels`, from `active` (see
    /// [`Self::active_silences`]).
    pub fn silenced_by(active: &[Silence], labels: &BTreeMap<String, String>) -> Vec<String> {
        active
            .iter()
            .filter(|s| matches(&s.matchers, labels))
            .map(|s| s.id.clone())
            .collect()
    }

    /// What a silence with `matchers` would mute: the live alerts now, and the alerting rules
    /// whose alerts it could match (by their own labels and name; a matcher on a label the rule
    /// does not set depends on its series).
    pub async fn silence_preview(
        &self,
        matchers: &[LabelMatcher],
        folders: &FolderAccess,
    ) -> Result<SilencePreview, ApiError> {
        let alerts = self
            .alerts(folders)
            .await?
            .into_iter()
            .filter(|a| matches(matchers, &a.labels))
            .collect();
        let rows = crate::store::alerting::select_rules(&self.pool).await?;
        let groups = crate::store::alerting::select_groups(&self.pool).await?;
        let shown = super::Shown::of(folders, &groups, &rows);
        let rules = rows
            .iter()
            .filter(|row| shown.alert_of(&row.uid))
            .map(super::rule_of)
            .filter(|r| r.kind == RuleKind::Alerting)
            .filter_map(|rule| {
                let known = known_labels(&rule);
                let decided: Vec<&LabelMatcher> = matchers
                    .iter()
                    .filter(|m| known.contains_key(&m.name))
                    .collect();
                decided
                    .iter()
                    .all(|m| matcher_holds(m, &known))
                    .then(|| RuleRef {
                        uid: rule.uid.clone(),
                        name: rule.name.clone(),
                        certain: decided.len() == matchers.len(),
                    })
            })
            .collect();
        Ok(SilencePreview { alerts, rules })
    }

    /// The silences, running or upcoming, that could mute alerts with `labels` (a rule's own
    /// labels and name): each matcher on one of those labels holds.
    pub async fn silences_for(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<Silence>, ApiError> {
        Ok(self
            .silences(false)
            .await?
            .into_iter()
            .filter(|s| {
                s.matchers
                    .iter()
                    .filter(|m| labels.contains_key(&m.name))
                    .all(|m| matcher_holds(m, labels))
            })
            .collect())
    }

    /// The silences running now.
    pub async fn active_silences(&self) -> Result<Vec<Silence>, ApiError> {
        Ok(self
            .silences(false)
            .await?
            .into_iter()
            .filter(|s| s.state == SilenceState::Active)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::alerting::parse_matchers;

    fn existing(starts: DateTime<Utc>, ends: DateTime<Utc>) -> Silence {
        Silence {
            id: "s".into(),
            matchers: parse_matchers("a=\"b\"").unwrap(),
            starts_at: starts,
            ends_at: ends,
            created_by: "ops".into(),
            comment: String::new(),
            updated_at: starts,
            state: SilenceState::Active,
            schedule: None,
            occurrences: Vec::new(),
            notify: String::new(),
        }
    }

    fn change(starts: DateTime<Utc>, ends: DateTime<Utc>, matchers: &str) -> SaveSilence {
        SaveSilence {
            id: "s".into(),
            matchers: parse_matchers(matchers).unwrap(),
            starts_at: starts,
            ends_at: ends,
            created_by: "ops".into(),
            comment: String::new(),
            schedule: None,
            notify: String::new(),
        }
    }

    #[test]
    fn running_silences_change_in_place_only_as_alertmanager_allows() {
        let now = Utc::now();
        let h = Duration::hours(1);
        let running = existing(now - h, now + h);
        assert!(
            can_update(&running, &change(now - h, now + h * 3, "a=\"b\""), now),
            "extended"
        );
        assert!(
            !can_update(&running, &change(now, now + h, "a=\"b\""), now),
            "moved start"
        );
        assert!(
            !can_update(&running, &change(now - h, now + h, "a=\"c\""), now),
            "new matchers"
        );
        let pending = existing(now + h, now + h * 2);
        assert!(can_update(
            &pending,
            &change(now + h * 2, now + h * 3, "a=\"b\""),
            now
        ));
        assert!(!can_update(
            &pending,
            &change(now - h, now + h * 3, "a=\"b\""),
            now
        ));
        let over = existing(now - h * 2, now - h);
        assert!(!can_update(
            &over,
            &change(now - h * 2, now + h, "a=\"b\""),
            now
        ));
    }
}
