//! Finding series by PromQL selectors (`up{job=~"agent.*"}`): the dictionary narrows the
//! candidates in SQL with what an index can serve (metric name, label equality, the days the
//! series has samples on), then every matcher is applied exactly, with Prometheus' semantics
//! (`label=""` matches a missing label; regular expressions are anchored, RE2 syntax).

use super::promql::selector_matchers;
use crate::store::series::{select_series_candidates, SeriesFilter, SeriesRow};
use chrono::{DateTime, Utc};
use promql_parser::{
    label::{MatchOp, Matcher},
    parser::{Expr, VectorSelector},
};
use sqlx::PgExecutor;

/// A parsed `match[]` selector.
#[derive(Debug, Clone)]
pub struct Selector {
    matchers: Vec<Matcher>,
}

impl Selector {
    /// Parses a series selector such as `up`, `{job="x"}` or `http_requests{code=~"5.."}`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expr =
            super::guard::syntax(text).map_err(|e| format!("invalid selector \"{text}\": {e}"))?;
        let Expr::VectorSelector(vs) = expr else {
            return Err(format!("\"{text}\" is not a series selector"));
        };
        if vs.offset.is_some() || vs.at.is_some() {
            return Err(format!(
                "\"{text}\": offset and @ are not allowed in a series selector"
            ));
        }
        if !vs.matchers.or_matchers.is_empty() {
            return Err(format!(
                "\"{text}\": \"or\" inside a selector is not supported"
            ));
        }
        let matchers = selector_matchers(&vs);
        if matchers.iter().all(|m| m.is_match("")) {
            return Err(format!(
                "\"{text}\": at least one matcher must not match the empty string"
            ));
        }
        Ok(Self { matchers })
    }

    /// The selector of a parsed query (the parser has already checked it).
    pub fn from_vector_selector(vs: &VectorSelector) -> Self {
        Self {
            matchers: selector_matchers(vs),
        }
    }

    /// Returns whether a series with this name and these labels is selected.
    pub fn matches(
        &self,
        metric: &str,
        labels: &serde_json::Map<String, serde_json::Value>,
    ) -> bool {
        self.matchers.iter().all(|m| {
            let value = if m.name == "__name__" {
                Some(metric)
            } else {
                labels.get(&m.name).and_then(|v| v.as_str())
            };
            m.is_match(value.unwrap_or(""))
        })
    }

    /// What SQL can narrow by: the metric name and label equalities with non-empty values.
    fn filter(&self, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> SeriesFilter {
        let mut filter = SeriesFilter {
            metric: None,
            labels: serde_json::Map::new(),
            start,
            end,
        };
        for m in &self.matchers {
            if !matches!(m.op, MatchOp::Equal) || m.value.is_empty() {
                continue;
            }
            if m.name == "__name__" {
                filter.metric = Some(m.value.clone());
            } else {
                filter
                    .labels
                    .insert(m.name.clone(), serde_json::Value::String(m.value.clone()));
            }
        }
        filter
    }
}

/// Returns the series any of `selectors` selects that have samples between `start` and `end`
/// (to the day), without duplicates, ordered by id.
pub async fn find_series<'c>(
    db: impl PgExecutor<'c> + Copy,
    selectors: &[Selector],
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> sqlx::Result<Vec<SeriesRow>> {
    let mut found: std::collections::BTreeMap<i64, SeriesRow> = std::collections::BTreeMap::new();
    for selector in selectors {
        for row in select_series_candidates(db, &selector.filter(start, end)).await? {
            if selector.matches(&row.metric_name, &row.labels) {
                found.insert(row.series_id, row);
            }
        }
    }
    Ok(found.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn selectors_match_as_prometheus_does() {
        let l = labels(json!({"job": "agents", "code": "503"}));
        let cases = [
            ("up", true),
            ("down", false),
            (r#"{__name__="up", job="agents"}"#, true),
            (r#"up{code=~"5.."}"#, true),
            (r#"up{code=~"5"}"#, false),
            (r#"up{code!~"2.."}"#, true),
            (r#"up{job!="agents"}"#, false),
            (r#"up{missing=""}"#, true),
            (r#"up{job=""}"#, false),
            (r#"{__name__=~"u.*"}"#, true),
        ];
        for (text, expected) in cases {
            assert_eq!(
                Selector::parse(text).unwrap().matches("up", &l),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn selectors_that_would_match_everything_or_are_not_selectors_are_refused() {
        for (text, needle) in [
            (r#"{job=~".*"}"#, "non-empty matcher"),
            ("sum(up)", "not a series selector"),
            ("up offset 5m", "offset"),
            ("up{", "invalid selector"),
        ] {
            let err = Selector::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn only_non_empty_equalities_reach_sql() {
        let s = Selector::parse(r#"up{job="agents", code=~"5..", zone=""}"#).unwrap();
        let f = s.filter(None, None);
        assert_eq!(f.metric.as_deref(), Some("up"));
        assert_eq!(
            serde_json::Value::Object(f.labels),
            json!({"job": "agents"})
        );
    }
}
