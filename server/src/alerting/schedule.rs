//! The windows of a recurring maintenance window: which local days its filters select, and
//! each day's span on the zone's clock made into instants, with daylight-saving changes taken
//! as [`Schedule`] documents them (a skipped start begins when the clock jumps; a time shown
//! twice is covered both times).

use crate::error::ApiError;
use app::api::silences::{parse_clock, Schedule, Window};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// How far ahead a schedule is searched for its next window: long enough for "the fifth
/// Monday in February every 52 weeks" to be found or known never to come.
const HORIZON_DAYS: i64 = 366 * 8;

/// A schedule checked and ready to compute with.
#[derive(Clone, Debug)]
pub struct Compiled {
    schedule: Schedule,
    tz: Tz,
    start: chrono::NaiveTime,
    end: chrono::NaiveTime,
}

pub fn time_zone(name: &str) -> Option<Tz> {
    name.trim().parse().ok()
}

impl Compiled {
    /// The schedule made ready, or the first problem with its field under `prefix`.
    pub fn new(schedule: &Schedule, prefix: &str) -> Result<Self, ApiError> {
        if let Some(e) = schedule.validate(prefix).into_iter().next() {
            return Err(ApiError::invalid(e.field, e.message));
        }
        let tz = time_zone(&schedule.time_zone).ok_or_else(|| {
            ApiError::invalid(
                format!("{prefix}.time_zone"),
                format!(
                    "\"{}\" is not a time zone; use an IANA name such as Europe/Berlin, America/New_York or UTC",
                    schedule.time_zone
                ),
            )
        })?;
        let clock = |t: &str| parse_clock(t).unwrap_or_default();
        Ok(Self {
            tz,
            start: clock(&schedule.start_time),
            end: clock(&schedule.end_time),
            schedule: schedule.clone(),
        })
    }

    /// Whether a window opens on local day `day`.
    fn selects(&self, day: NaiveDate) -> bool {
        let s = &self.schedule;
        if day < s.from || s.until.is_some_and(|u| day > u) {
            return false;
        }
        if !s.weekdays.is_empty() && !s.weekdays.contains(&day.weekday()) {
            return false;
        }
        if !s.months.is_empty() && !s.months.contains(&(day.month() as u8)) {
            return false;
        }
        let days_in_month = {
            let (y, m) = (day.year(), day.month());
            let next = if m == 12 {
                NaiveDate::from_ymd_opt(y + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(y, m + 1, 1)
            };
            next.map_or(31, |n| n.pred_opt().map_or(31, |d| d.day()))
        } as i32;
        let d = day.day() as i32;
        if !s.days_of_month.is_empty()
            && !s.days_of_month.iter().any(|&n| {
                let n = n as i32;
                if n > 0 {
                    n == d
                } else {
                    days_in_month + 1 + n == d
                }
            })
        {
            return false;
        }
        if !s.weeks_of_month.is_empty()
            && !s.weeks_of_month.iter().any(|&w| {
                if w > 0 {
                    (d - 1) / 7 + 1 == w as i32
                } else {
                    d + 7 > days_in_month
                }
            })
        {
            return false;
        }
        if s.every_weeks > 1 {
            let monday =
                |x: NaiveDate| x - Duration::days(x.weekday().num_days_from_monday() as i64);
            let weeks = (monday(day) - monday(s.from)).num_days() / 7;
            if weeks.rem_euclid(s.every_weeks as i64) != 0 {
                return false;
            }
        }
        true
    }

    /// The first instant the zone's clock shows `local` or later: the earlier of two when the
    /// clock shows it twice, the jump when the clock skips it.
    fn first_at(&self, local: NaiveDateTime) -> DateTime<Utc> {
        self.at(local, true)
    }

    /// The last instant the zone's clock shows `local` (the later of two), or the jump.
    fn last_at(&self, local: NaiveDateTime) -> DateTime<Utc> {
        self.at(local, false)
    }

    fn at(&self, local: NaiveDateTime, earliest: bool) -> DateTime<Utc> {
        use chrono::LocalResult;
        // Gaps are at most a few hours; the first minute after one exists.
        for minutes in 0..=24 * 60 {
            match self
                .tz
                .from_local_datetime(&(local + Duration::minutes(minutes)))
            {
                LocalResult::Single(t) => return t.with_timezone(&Utc),
                LocalResult::Ambiguous(a, b) if minutes == 0 => {
                    return if earliest { a } else { b }.with_timezone(&Utc)
                }
                LocalResult::Ambiguous(a, _) => return a.with_timezone(&Utc),
                LocalResult::None => {}
            }
        }
        Utc.from_utc_datetime(&local)
    }

    /// The window opening on local day `day`.
    fn window_on(&self, day: NaiveDate) -> Window {
        let start = self.first_at(day.and_time(self.start));
        let end_day = if self.end <= self.start {
            day.succ_opt().unwrap_or(day)
        } else {
            day
        };
        let ends_at = self.last_at(end_day.and_time(self.end));
        Window {
            starts_at: start,
            // A window wholly inside a skipped hour would be empty; it opens for a minute.
            ends_at: ends_at.max(start + Duration::minutes(1)),
        }
    }

    fn local_day(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// The windows that have not ended at `now`, soonest first, at most `count`.
    pub fn next(&self, now: DateTime<Utc>, count: usize) -> Vec<Window> {
        let mut out = Vec::new();
        // A window opened yesterday may still run (it spans midnight).
        let mut day = self.local_day(now) - Duration::days(1);
        let last = day + Duration::days(HORIZON_DAYS);
        while out.len() < count && day <= last {
            if self.schedule.until.is_some_and(|u| day > u) {
                break;
            }
            if self.selects(day) {
                let w = self.window_on(day);
                if w.ends_at > now {
                    out.push(w);
                }
            }
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        out
    }

    /// The start of the first window and the end of the last (none: it recurs without end),
    /// or `None` when no window ever opens.
    pub fn span(&self) -> Option<(DateTime<Utc>, Option<DateTime<Utc>>)> {
        let from = self.first_at(self.schedule.from.and_hms_opt(0, 0, 0)?);
        let first = self.next(from, 1).into_iter().next()?;
        let last = match self.schedule.until {
            None => None,
            Some(until) => {
                let mut day = until;
                loop {
                    if self.selects(day) {
                        break Some(self.window_on(day).ends_at);
                    }
                    if day <= self.schedule.from {
                        break Some(first.ends_at);
                    }
                    day = day.pred_opt()?;
                }
            }
        };
        Some((first.starts_at, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn schedule(zone: &str, start: &str, end: &str, from: &str) -> Schedule {
        Schedule {
            time_zone: zone.into(),
            start_time: start.into(),
            end_time: end.into(),
            weekdays: Vec::new(),
            weeks_of_month: Vec::new(),
            days_of_month: Vec::new(),
            months: Vec::new(),
            every_weeks: 1,
            from: from.parse().unwrap(),
            until: None,
        }
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// The window running at `now`, if one is.
    fn running(c: &Compiled, now: DateTime<Utc>) -> Option<Window> {
        c.next(now, 1).into_iter().find(|w| w.starts_at <= now)
    }

    fn first(s: &Schedule, at: &str) -> Window {
        Compiled::new(s, "schedule").unwrap().next(utc(at), 1)[0]
    }

    #[test]
    fn a_sunday_window_in_berlin_follows_summer_time() {
        let mut s = schedule("Europe/Berlin", "02:00", "04:00", "2026-01-01");
        s.weekdays = vec![Weekday::Sun];
        // Winter: UTC+1.
        let w = first(&s, "2026-01-05T00:00:00Z");
        assert_eq!(w.starts_at, utc("2026-01-11T01:00:00Z"));
        assert_eq!(w.ends_at, utc("2026-01-11T03:00:00Z"));
        // 29 March 2026: the clock jumps from 02:00 to 03:00; the window opens at the jump
        // and closes at 04:00 summer time: one hour long.
        let w = first(&s, "2026-03-23T00:00:00Z");
        assert_eq!(w.starts_at, utc("2026-03-29T01:00:00Z"));
        assert_eq!(w.ends_at, utc("2026-03-29T02:00:00Z"));
        // Summer: UTC+2.
        let w = first(&s, "2026-04-01T00:00:00Z");
        assert_eq!(w.starts_at, utc("2026-04-05T00:00:00Z"));
        assert_eq!(w.ends_at, utc("2026-04-05T02:00:00Z"));
        // 25 October 2026: 02:00–03:00 is shown twice; the window covers both: three hours.
        let w = first(&s, "2026-10-20T00:00:00Z");
        assert_eq!(w.starts_at, utc("2026-10-25T00:00:00Z"));
        assert_eq!(w.ends_at, utc("2026-10-25T03:00:00Z"));
    }

    #[test]
    fn a_skipped_start_opens_at_the_jump_and_a_repeated_one_at_its_first_showing() {
        // New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
        let s = schedule("America/New_York", "02:30", "03:30", "2026-03-08");
        let w = first(&s, "2026-03-08T00:00:00Z");
        assert_eq!(w.starts_at, utc("2026-03-08T07:00:00Z"));
        assert_eq!(w.ends_at, utc("2026-03-08T07:30:00Z"));
        // 1 November 2026: 01:00–02:00 is shown in EDT (05:00–06:00 UTC) and again in EST
        // (06:00–07:00 UTC). A 01:30–01:45 window runs from the first 01:30 to the last 01:45.
        let s = schedule("America/New_York", "01:30", "01:45", "2026-11-01");
        let w = first(&s, "2026-11-01T00:00:00Z");
        assert_eq!(w.starts_at, utc("2026-11-01T05:30:00Z"));
        assert_eq!(w.ends_at, utc("2026-11-01T06:45:00Z"));
        // The next day is an ordinary one: fifteen minutes, EST.
        let w = first(&s, "2026-11-01T12:00:00Z");
        assert_eq!(w.starts_at, utc("2026-11-02T06:30:00Z"));
        assert_eq!(w.ends_at, utc("2026-11-02T06:45:00Z"));
    }

    #[test]
    fn the_southern_hemisphere_changes_the_other_way() {
        // Sydney: summer time ends 5 April 2026 (03:00 AEDT → 02:00 AEST) and starts
        // 4 October 2026 (02:00 AEST → 03:00 AEDT).
        let s = schedule("Australia/Sydney", "02:15", "02:45", "2026-04-05");
        let w = first(&s, "2026-04-04T00:00:00Z");
        // First 02:15 is AEDT (UTC+11) = 15:15 UTC on the 4th; last 02:45 is AEST = 16:45.
        assert_eq!(w.starts_at, utc("2026-04-04T15:15:00Z"));
        assert_eq!(w.ends_at, utc("2026-04-04T16:45:00Z"));
        let w = first(&s, "2026-10-03T00:00:00Z");
        let jump = utc("2026-10-03T16:00:00Z");
        assert_eq!(
            w.starts_at, jump,
            "02:15 is skipped; the window opens at the jump"
        );
        assert_eq!(w.ends_at, jump + Duration::minutes(1), "and lasts a minute");
    }

    #[test]
    fn weekday_nights_span_midnight_and_run_into_the_weekend() {
        let mut s = schedule("UTC", "22:00", "06:00", "2026-12-01");
        s.weekdays = vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ];
        let c = Compiled::new(&s, "schedule").unwrap();
        // Friday 4 December 23:00: the Friday night window runs until Saturday 06:00.
        let w = running(&c, utc("2026-12-04T23:00:00Z")).unwrap();
        assert_eq!(w.starts_at, utc("2026-12-04T22:00:00Z"));
        assert_eq!(w.ends_at, utc("2026-12-05T06:00:00Z"));
        assert!(running(&c, utc("2026-12-05T05:59:59Z")).is_some());
        assert!(running(&c, utc("2026-12-05T06:00:00Z")).is_none());
        // Saturday night and Sunday night are quiet; Monday 22:00 is the next.
        assert!(running(&c, utc("2026-12-06T23:00:00Z")).is_none());
        assert_eq!(
            c.next(utc("2026-12-05T07:00:00Z"), 1)[0].starts_at,
            utc("2026-12-07T22:00:00Z")
        );
        // Equal start and end: a whole day.
        let s = schedule("UTC", "08:00", "08:00", "2026-12-01");
        let w = first(&s, "2026-12-01T00:00:00Z");
        assert_eq!(w.ends_at - w.starts_at, Duration::hours(24));
    }

    #[test]
    fn monthly_and_every_nth_week_schedules() {
        let mut s = schedule("Europe/Berlin", "06:00", "07:00", "2026-01-01");
        s.weekdays = vec![Weekday::Mon];
        s.weeks_of_month = vec![1];
        let c = Compiled::new(&s, "schedule").unwrap();
        let days: Vec<String> = c
            .next(utc("2026-01-01T00:00:00Z"), 3)
            .iter()
            .map(|w| w.starts_at.date_naive().to_string())
            .collect();
        assert_eq!(days, ["2026-01-05", "2026-02-02", "2026-03-02"]);
        s.weeks_of_month = vec![-1];
        let c = Compiled::new(&s, "schedule").unwrap();
        assert_eq!(
            c.next(utc("2026-01-01T00:00:00Z"), 1)[0]
                .starts_at
                .date_naive(),
            "2026-01-26".parse::<NaiveDate>().unwrap()
        );
        // Every third week from the week of Wednesday 2 December 2026, on Thursdays.
        let mut s = schedule("UTC", "10:00", "11:00", "2026-12-02");
        s.weekdays = vec![Weekday::Thu];
        s.every_weeks = 3;
        let c = Compiled::new(&s, "schedule").unwrap();
        let days: Vec<String> = c
            .next(utc("2026-12-01T00:00:00Z"), 3)
            .iter()
            .map(|w| w.starts_at.date_naive().to_string())
            .collect();
        assert_eq!(days, ["2026-12-03", "2026-12-24", "2027-01-14"]);
        // The last day of each month, within a date range.
        let mut s = schedule("UTC", "23:00", "23:30", "2027-01-01");
        s.days_of_month = vec![-1];
        s.until = Some("2027-03-31".parse().unwrap());
        let c = Compiled::new(&s, "schedule").unwrap();
        let days: Vec<String> = c
            .next(utc("2027-01-01T00:00:00Z"), 5)
            .iter()
            .map(|w| w.starts_at.date_naive().to_string())
            .collect();
        assert_eq!(days, ["2027-01-31", "2027-02-28", "2027-03-31"]);
        let (first, last) = c.span().unwrap();
        assert_eq!(first, utc("2027-01-31T23:00:00Z"));
        assert_eq!(last, Some(utc("2027-03-31T23:30:00Z")));
    }

    #[test]
    fn bad_schedules_name_their_field() {
        let field = |s: &Schedule| Compiled::new(s, "schedule").unwrap_err().body().error.field;
        let s = schedule("Mars/Olympus", "02:00", "04:00", "2026-01-01");
        assert_eq!(field(&s).as_deref(), Some("schedule.time_zone"));
        let s = schedule("UTC", "25:00", "04:00", "2026-01-01");
        assert_eq!(field(&s).as_deref(), Some("schedule.start_time"));
        let mut s = schedule("UTC", "02:00", "04:00", "2026-01-01");
        s.weeks_of_month = vec![1];
        assert_eq!(field(&s).as_deref(), Some("schedule.weekdays"));
        // February 30th never comes.
        let mut s = schedule("UTC", "02:00", "04:00", "2026-01-01");
        s.days_of_month = vec![30];
        s.months = vec![2];
        assert!(Compiled::new(&s, "schedule").unwrap().span().is_none());
    }
}
