//! What a dashboard's variables and panels query: the options of a variable (given the others),
//! a checked selection of every variable, and a panel's series over a time range.

use crate::{
    error::ApiError,
    query::{promql, series::Selector, QueryRange, QueryService},
};
use app::{
    api::dashboard::{Dashboard, Panel, Variable, VariableSource},
    dashboard::{builtins, interpolate, split_list, VariableQuery},
};
use std::collections::{BTreeMap, BTreeSet};

/// Variable selections by name; "All" is spelled [`ALL`] in URLs and expanded here.
pub type Selection = BTreeMap<String, Vec<String>>;

pub use app::dashboard::ALL_VALUE as ALL;

/// Most options a variable offers.
const MAX_OPTIONS: usize = 10_000;

/// The options of `variable`, its query written with the `values` of the variables before it.
pub async fn variable_options(
    queries: &QueryService,
    variable: &Variable,
    values: &Selection,
) -> Result<Vec<String>, ApiError> {
    let (query, regex) = match &variable.source {
        VariableSource::Custom { values } | VariableSource::Interval { values } => {
            return Ok(split_list(values))
        }
        VariableSource::Query { query, regex } => (query, regex),
    };
    let text = interpolate(query, values);
    let parsed = VariableQuery::parse(&text).map_err(|e| ApiError::invalid("query", e))?;
    let mut ordered = false;
    let found: Vec<String> = match parsed {
        VariableQuery::LabelValues {
            selector: None,
            label,
        } => queries.label_values(&label, &[], None, None).await?,
        VariableQuery::LabelValues {
            selector: Some(selector),
            label,
        } => {
            let selector = Selector::parse(&selector)
                .map_err(|e| ApiError::invalid("query", format!("label_values(): {e}")))?;
            queries
                .label_values(&label, &[selector], None, None)
                .await?
        }
        VariableQuery::LabelNames => {
            let mut names = queries.label_names(&[], None, None).await?;
            names.retain(|n| n != "__name__");
            names
        }
        VariableQuery::Metrics { regex } => {
            let re = anchored(&regex)?;
            queries
                .label_values("__name__", &[], None, None)
                .await?
                .into_iter()
                .filter(|m| re.is_match(m))
                .collect()
        }
        VariableQuery::QueryResult { expr } => {
            ordered = true;
            let at = chrono::Utc::now().timestamp_millis();
            let value = queries.instant(queries.parse(&expr)?, at).await?;
            match value {
                promql::Value::Vector(samples) => samples
                    .into_iter()
                    .map(|s| format!("{} {} {at}", promql::format_labels(&s.labels), s.value))
                    .collect(),
                promql::Value::Scalar(v) => vec![format!("{v} {at}")],
                other => {
                    return Err(ApiError::invalid(
                        "query",
                        format!(
                            "query_result() needs an instant vector or scalar, not {}",
                            other.type_name()
                        ),
                    ))
                }
            }
        }
    };
    let mut out = if regex.is_empty() {
        found
    } else {
        let re = regex::Regex::new(regex)
            .map_err(|e| ApiError::invalid("regex", format!("not a regular expression: {e}")))?;
        found
            .into_iter()
            .filter_map(|v| {
                let caps = re.captures(&v)?;
                Some(caps.get(1).or(caps.get(0))?.as_str().to_string())
            })
            .collect()
    };
    if !ordered {
        out.sort();
    }
    let mut seen = BTreeSet::new();
    out.retain(|v| seen.insert(v.clone()));
    out.truncate(MAX_OPTIONS);
    Ok(out)
}

fn anchored(regex: &str) -> Result<regex::Regex, ApiError> {
    let body = regex.trim().trim_matches('/');
    regex::Regex::new(&format!(
        "^(?:{})$",
        if body.is_empty() { ".*" } else { body }
    ))
    .map_err(|e| ApiError::invalid("query", format!("metrics(): {e}")))
}

/// The selection of every variable of `dashboard`, in order (so chained variables see the ones
/// before them): each requested value must be one of the variable's options (or `$__all`);
/// variables not requested take their saved `current` values, else the first option (or All).
/// With `strict`, a value that is not an option is refused with 422 naming `var-<name>`;
/// otherwise it is dropped (a stale link still opens).
pub async fn resolve_selection(
    queries: &QueryService,
    dashboard: &Dashboard,
    requested: &Selection,
    strict: bool,
) -> Result<Selection, ApiError> {
    let mut out = Selection::new();
    for v in &dashboard.variables {
        let options = variable_options(queries, v, &out).await?;
        let asked = requested.get(&v.name);
        if strict {
            if let Some(bad) = asked
                .into_iter()
                .flatten()
                .find(|value| !(options.contains(value) || value.as_str() == ALL && v.include_all))
            {
                return Err(ApiError::invalid(
                    format!("var-{}", v.name),
                    format!("\"{bad}\" is not one of the variable's values"),
                ));
            }
        }
        let (chosen, _all) = app::dashboard::choose(v, &options, asked);
        out.insert(v.name.clone(), chosen);
    }
    Ok(out)
}

/// Reads `var-<name>` parameters (repeated for several values).
pub fn requested_selection(pairs: &[(String, String)]) -> Selection {
    let mut out = Selection::new();
    for (k, v) in pairs {
        if let Some(name) = k.strip_prefix("var-") {
            out.entry(name.to_string()).or_default().push(v.clone());
        }
    }
    out
}

/// One series of a panel: its legend name and points (ms, value).
pub struct PanelSeries {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(i64, f64)>,
}

/// The PromQL target `index` of `panel` runs, with variables and built-ins written in.
pub fn target_expr(
    panel: &Panel,
    index: usize,
    selection: &Selection,
    range: QueryRange,
) -> Result<String, ApiError> {
    let target = panel
        .targets
        .get(index)
        .ok_or_else(|| ApiError::not_found(format!("panel {} has no query {index}", panel.id)))?;
    let mut values = selection.clone();
    values.extend(builtins(range.span_ms(), range.step));
    Ok(interpolate(&target.expr, &values))
}

/// Runs query `index` of `panel` over `range`.
pub async fn run_target(
    queries: &QueryService,
    panel: &Panel,
    index: usize,
    selection: &Selection,
    range: QueryRange,
) -> Result<Vec<promql::Series>, ApiError> {
    let expr = target_expr(panel, index, selection, range)?;
    let parsed = queries.parse(&expr)?;
    if panel.targets[index].instant {
        return Ok(queries.instant_series(parsed, range.end).await?);
    }
    Ok(queries.range(parsed, range).await?)
}

/// Every series of every query of `panel`, named by the queries' legends.
pub async fn panel_series(
    queries: &QueryService,
    panel: &Panel,
    selection: &Selection,
    range: QueryRange,
) -> Result<Vec<PanelSeries>, ApiError> {
    let mut out = Vec::new();
    for (i, target) in panel.targets.iter().enumerate() {
        for s in run_target(queries, panel, i, selection, range).await? {
            let labels: BTreeMap<String, String> = s.labels.into_iter().collect();
            out.push(PanelSeries {
                name: app::dashboard::legend_name(&target.legend, &labels),
                labels,
                points: s.points,
            });
        }
    }
    Ok(out)
}
