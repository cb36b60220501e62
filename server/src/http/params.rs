//! Request parameters as the Prometheus API reads them (the query string and a form body
//! together), with its time, duration and range formats; shared by every handler that takes
//! query-string parameters.

use crate::{error::ApiError, query::QueryRange};
use chrono::{DateTime, Utc};

/// The request's parameters, from the query string and a form-encoded body together.
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn new(query: Option<String>, body: &[u8]) -> Self {
        let mut pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        pairs.extend(form_urlencoded::parse(body).into_owned());
        Self(pairs)
    }

    /// The last value of `key` (a form body's wins over the query string's).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The required `start`, `end` and `step` of a range query, checked.
    pub fn range(&self) -> Result<QueryRange, ApiError> {
        let time = |key: &'static str| -> Result<i64, ApiError> {
            Ok(self
                .time(key)?
                .ok_or_else(|| ApiError::bad_request(key, format!("no {key} parameter provided")))?
                .timestamp_millis())
        };
        let (start, end) = (time("start")?, time("end")?);
        let step_text = self
            .get("step")
            .ok_or_else(|| ApiError::bad_request("step", "no step parameter provided"))?;
        let step = parse_step(step_text).map_err(|e| ApiError::bad_request("step", e))?;
        Ok(QueryRange::new(start, end, step)?)
    }

    /// An optional time parameter.
    pub fn time(&self, key: &'static str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(key)
            .map(|v| parse_time(v).map_err(|e| ApiError::bad_request(key, e)))
            .transpose()
    }
}

/// Parses a Prometheus API time: Unix seconds (fractions allowed) or RFC 3339.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            if let Some(t) = DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64) {
                return Ok(t);
            }
        }
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("cannot parse \"{text}\" to a valid timestamp"))
}

/// Parses a step: a duration (`15s`) or seconds (`15`, `0.5`).
pub fn parse_step(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            return Ok((seconds * 1000.0).round() as i64);
        }
    }
    app::time::parse_duration(text)
        .map(|d| d.num_milliseconds())
        .map_err(|_| format!("cannot parse \"{text}\" to a valid duration"))
}

/// Reads a JSON body, or answers 400 saying why it cannot be read.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("body", format!("not a valid request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_times_are_unix_seconds_or_rfc3339() {
        let expected = DateTime::parse_from_rfc3339("2026-01-31T12:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_time("1769860800.5").unwrap(), expected);
        assert_eq!(parse_time("2026-01-31T12:00:00.5Z").unwrap(), expected);
        assert!(parse_time("yesterday")
            .unwrap_err()
            .contains("cannot parse"));
        assert!(parse_time("NaN").is_err());
    }

    #[test]
    fn parameters_come_from_the_query_and_the_form_body() {
        let params = Params::new(Some("match[]=up&start=1".into()), b"match[]=down&start=2");
        assert_eq!(params.all("match[]").count(), 2);
        assert_eq!(
            params.get("start"),
            Some("2"),
            "the body wins, as it comes last"
        );
    }

    #[test]
    fn ranges_are_checked() {
        let params = Params::new(Some("start=10&end=5&step=1".into()), b"");
        assert!(params.range().is_err());
        let params = Params::new(Some("start=0&end=60&step=15s".into()), b"");
        assert_eq!(
            params.range().unwrap(),
            QueryRange::new(0, 60_000, 15_000).unwrap()
        );
    }
}
