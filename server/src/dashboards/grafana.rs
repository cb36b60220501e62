//! Import of Grafana dashboard JSON: panels whose queries are Prometheus queries become portal
//! panels; everything that cannot be mapped is listed with its JSON path and the reason.

use app::api::dashboard::{
    Dashboard, GridPos, LegendOptions, Panel, PanelKind, PanelOptions, Target, Threshold, TimeSpec,
    ValueMapping, Variable, VariableSource, GRID_COLUMNS,
};
use app::dashboard::ALL_VALUE as ALL;
use serde_json::Value;
use std::collections::BTreeSet;

/// Whether `value` is a Grafana dashboard rather than the portal's model.
pub fn looks_like_grafana(value: &Value) -> bool {
    let v = value.get("dashboard").unwrap_or(value);
    v.get("schemaVersion").is_some()
        || v.get("templating").is_some()
        || v.get("panels").and_then(Value::as_array).is_some_and(|ps| {
            ps.iter()
                .any(|p| p.get("fieldConfig").is_some() || p.get("datasource").is_some())
        })
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A Grafana panel's targets, numbered.
fn targets_of(panel: &Value) -> impl Iterator<Item = (usize, &Value)> {
    panel
        .get("targets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// Whether a datasource reference points to something other than Prometheus.
fn foreign_datasource(ds: Option<&Value>) -> Option<String> {
    match ds {
        Some(Value::Object(o)) => {
            let kind = text(o.get("type"));
            (!kind.is_empty() && kind != "prometheus" && kind != "datasource").then_some(kind)
        }
        _ => None,
    }
}

fn unit(grafana: &str) -> Option<&'static str> {
    Some(match grafana {
        "" | "short" => "short",
        "none" => "none",
        "percent" => "percent",
        "percentunit" => "percentunit",
        "s" | "dtdurations" => "s",
        "ms" => "ms",
        "bytes" | "decbytes" => "bytes",
        "Bps" | "binBps" => "bps",
        "reqps" | "ops" | "rps" => "reqps",
        "currencyUSD" => "currencyUSD",
        _ => return None,
    })
}

fn reducer(calc: &str) -> &'static str {
    match calc {
        "mean" | "avg" => "mean",
        "max" => "max",
        "min" => "min",
        "sum" | "total" => "sum",
        "first" | "firstNotNull" => "first",
        _ => "last",
    }
}

fn color(grafana: &str) -> String {
    let c = grafana.trim();
    let named = [
        ("green", "green"),
        ("yellow", "yellow"),
        ("orange", "orange"),
        ("red", "red"),
        ("blue", "blue"),
        ("purple", "purple"),
    ];
    if let Some((_, n)) = named.iter().find(|(k, _)| c.contains(k)) {
        return n.to_string();
    }
    if c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit()) {
        return c.to_lowercase();
    }
    if let Some(rgb) = c.strip_prefix("rgb(").or_else(|| c.strip_prefix("rgba(")) {
        let parts: Vec<u8> = rgb
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        if let [r, g, b] = parts[..] {
            return format!("#{r:02x}{g:02x}{b:02x}");
        }
    }
    "text".into()
}

/// Converts a Grafana dashboard (or `{"dashboard": …}` as the Grafana API wraps it).
pub fn convert(value: &Value) -> Result<(Dashboard, Vec<String>), String> {
    let g = value.get("dashboard").unwrap_or(value);
    let Some(obj) = g.as_object() else {
        return Err("the JSON is not an object".into());
    };
    let mut skipped = Vec::new();
    let title = text(obj.get("title"));
    let mut d = Dashboard::new(if title.trim().is_empty() {
        "Imported dashboard".to_string()
    } else {
        title
    });
    let uid = text(obj.get("uid"));
    if app::api::dashboard::is_uid(&uid) {
        d.uid = uid;
    }
    d.description = text(obj.get("description"));
    d.tags = obj
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .map(|x| text(Some(x)))
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(time) = obj.get("time") {
        let spec = TimeSpec {
            from: text(time.get("from")),
            to: text(time.get("to")),
        };
        if app::time::TimeRange::parse(&spec.from, &spec.to, chrono::Utc::now()).is_ok() {
            d.time = spec;
        } else {
            skipped.push(format!(
                "time: \"{}\" to \"{}\" is not understood; using the last 6 hours",
                spec.from, spec.to
            ));
        }
    }
    let refresh = text(obj.get("refresh"));
    if app::time::Refresh::parse(&refresh).is_ok() {
        d.refresh = refresh;
    }
    let vars = obj
        .get("templating")
        .and_then(|t| t.get("list"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, v) in vars.iter().enumerate() {
        match variable(v) {
            Ok(var) => d.variables.push(var),
            Err(why) => skipped.push(format!(
                "templating.list[{i}] ({}): {why}",
                text(v.get("name"))
            )),
        }
    }
    let mut flat = Vec::new();
    let panels = obj
        .get("panels")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, p) in panels.iter().enumerate() {
        flat.push((format!("panels[{i}]"), p.clone()));
        if let Some(children) = p.get("panels").and_then(Value::as_array) {
            for (j, c) in children.iter().enumerate() {
                flat.push((format!("panels[{i}].panels[{j}]"), c.clone()));
            }
        }
    }
    if obj.get("rows").is_some() && panels.is_empty() {
        skipped.push("rows: dashboards of Grafana's schema before version 16 (rows of panels without gridPos) are not imported; save them in a recent Grafana first".into());
    }
    let mut ids = BTreeSet::new();
    let mut next_id = 1 + flat
        .iter()
        .filter_map(|(_, p)| p.get("id").and_then(Value::as_u64))
        .max()
        .unwrap_or(0) as u32;
    for (path, p) in flat {
        match panel(&p, &path, &mut skipped) {
            Ok(mut panel) => {
                if panel.id == 0 || !ids.insert(panel.id) {
                    panel.id = next_id;
                    ids.insert(next_id);
                    next_id += 1;
                }
                d.panels.push(panel);
            }
            Err(why) => skipped.push(format!("{path} ({}): {why}", text(p.get("title")))),
        }
    }
    d.panels.sort_by_key(|p| (p.grid.y, p.grid.x));
    if let Err(e) = d.validate() {
        return Err(format!(
            "the converted dashboard is not valid: {}: {}",
            e.field, e.message
        ));
    }
    Ok((d, skipped))
}

fn variable(v: &Value) -> Result<Variable, String> {
    let name = text(v.get("name"));
    if !app::api::dashboard::is_variable_name(&name) {
        return Err(format!("\"{name}\" is not a usable variable name"));
    }
    let kind = text(v.get("type"));
    let query = match v.get("query") {
        Some(Value::Object(q)) => text(q.get("query")),
        other => text(other),
    };
    let source = match kind.as_str() {
        "query" => {
            if let Some(ds) = foreign_datasource(v.get("datasource")) {
                return Err(format!("queries a {ds} data source, not Prometheus"));
            }
            app::dashboard::VariableQuery::parse(&query)
                .map_err(|e| format!("query \"{query}\": {e}"))?;
            let regex = text(v.get("regex"));
            let regex = regex
                .strip_prefix('/')
                .and_then(|r| r.rsplit_once('/'))
                .map_or(regex.clone(), |(r, _flags)| r.to_string());
            VariableSource::Query { query, regex }
        }
        "custom" => {
            // Grafana allows `text : value` pairs; the value is what queries use.
            let values: Vec<String> = query
                .split(',')
                .map(|p| p.rsplit(" : ").next().unwrap_or(p).trim().to_string())
                .filter(|p| !p.is_empty())
                .collect();
            VariableSource::Custom {
                values: values.join(","),
            }
        }
        "constant" | "textbox" => VariableSource::Custom { values: query },
        "interval" => VariableSource::Interval {
            values: query
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty() && !s.starts_with('$'))
                .collect::<Vec<_>>()
                .join(","),
        },
        other => return Err(format!("variables of type \"{other}\" are not supported")),
    };
    let current = match v.get("current").and_then(|c| c.get("value")) {
        Some(Value::Array(a)) => a.iter().map(|x| text(Some(x))).collect(),
        Some(x) => vec![text(Some(x))],
        None => Vec::new(),
    };
    let current: Vec<String> = current
        .into_iter()
        .filter(|c| !c.is_empty() && c != ALL)
        .collect();
    let multi = v.get("multi").and_then(Value::as_bool).unwrap_or(false);
    Ok(Variable {
        name,
        label: text(v.get("label")),
        source,
        multi,
        include_all: v
            .get("includeAll")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        current: if multi {
            current
        } else {
            current.into_iter().take(1).collect()
        },
    })
}

fn panel(p: &Value, path: &str, skipped: &mut Vec<String>) -> Result<Panel, String> {
    let kind = match text(p.get("type")).as_str() {
        "timeseries" | "graph" => PanelKind::Timeseries,
        "stat" | "singlestat" => PanelKind::Stat,
        "gauge" => PanelKind::Gauge,
        "bargauge" | "barchart" => PanelKind::Bar,
        "table" | "table-old" => PanelKind::Table,
        "heatmap" => PanelKind::Heatmap,
        "text" => PanelKind::Text,
        "alertlist" => PanelKind::AlertList,
        "logs" => PanelKind::Logs,
        "row" => PanelKind::Row,
        other => return Err(format!("panels of type \"{other}\" are not supported")),
    };
    let grid = p.get("gridPos");
    let n = |k: &str, default: u32| {
        grid.and_then(|g| g.get(k))
            .and_then(Value::as_u64)
            .map_or(default, |v| v as u32)
    };
    let w = n("w", 12).clamp(1, GRID_COLUMNS);
    let grid = GridPos {
        x: n("x", 0).min(GRID_COLUMNS - w),
        y: n("y", 0),
        w,
        h: n("h", if kind == PanelKind::Row { 1 } else { 8 }).clamp(1, 100),
    };
    let title = text(p.get("title"));
    let mut options = PanelOptions::default();
    let mut targets = Vec::new();
    if kind.queries() {
        let panel_foreign = foreign_datasource(p.get("datasource"));
        for (i, t) in targets_of(p) {
            let at = format!("{path}.targets[{i}]");
            if let Some(ds) = foreign_datasource(t.get("datasource")).or(panel_foreign.clone()) {
                skipped.push(format!("{at}: queries a {ds} data source, not Prometheus"));
                continue;
            }
            if t.get("hide").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let expr = text(t.get("expr"));
            if expr.trim().is_empty() {
                skipped.push(format!("{at}: has no PromQL expression"));
                continue;
            }
            targets.push(Target {
                expr,
                legend: text(t.get("legendFormat")).replace("__auto", ""),
                instant: t.get("instant").and_then(Value::as_bool).unwrap_or(false)
                    && kind == PanelKind::Table,
            });
        }
        if targets.is_empty() {
            return Err("no Prometheus query to import".into());
        }
    }
    if kind == PanelKind::Logs {
        // Grafana's logs panels query Loki in LogQL; the portal's logs panel searches in its own
        // language, so the panel comes over listing every line until a search is set.
        for (i, t) in targets_of(p) {
            let expr = text(t.get("expr"));
            if !expr.trim().is_empty() {
                skipped.push(format!(
                    "{path}.targets[{i}]: the LogQL query {expr:?} was not carried over; set the panel's log search (it lists every line until then)"
                ));
            }
        }
    }
    let defaults = p.get("fieldConfig").and_then(|f| f.get("defaults"));
    let d = |k: &str| defaults.and_then(|x| x.get(k));
    let grafana_unit = text(d("unit").or_else(|| p.get("format")));
    match unit(&grafana_unit) {
        Some(u) => options.unit = u.into(),
        None => skipped.push(format!(
            "{path}.fieldConfig.defaults.unit: unit \"{grafana_unit}\" is shown as a plain number"
        )),
    }
    options.decimals = d("decimals")
        .and_then(Value::as_u64)
        .map(|x| x.min(10) as u32);
    options.min = num(d("min"));
    options.max = num(d("max"));
    if let (Some(a), Some(b)) = (options.min, options.max) {
        if a >= b {
            options.max = None;
        }
    }
    if let Some(steps) = d("thresholds")
        .and_then(|t| t.get("steps"))
        .and_then(Value::as_array)
    {
        let mut last = f64::NEG_INFINITY;
        for (i, s) in steps.iter().enumerate() {
            let value = num(s.get("value"));
            if i > 0 && value.is_none_or(|v| v < last) {
                continue;
            }
            if let Some(v) = value {
                last = v;
            }
            options.thresholds.push(Threshold {
                value: if i == 0 { None } else { value },
                color: color(&text(s.get("color"))),
            });
        }
    }
    for (i, m) in d("mappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let opts = m.get("options");
        match text(m.get("type")).as_str() {
            "value" => {
                for (value, result) in opts.and_then(Value::as_object).into_iter().flatten() {
                    options.mappings.push(ValueMapping {
                        value: Some(value.clone()),
                        from: None,
                        to: None,
                        text: text(result.get("text")),
                        color: result.get("color").map(|c| color(&text(Some(c)))).filter(|c| c != "text").unwrap_or_default(),
                    });
                }
            }
            "range" => {
                let result = opts.and_then(|o| o.get("result"));
                options.mappings.push(ValueMapping {
                    value: None,
                    from: num(opts.and_then(|o| o.get("from"))),
                    to: num(opts.and_then(|o| o.get("to"))),
                    text: text(result.and_then(|r| r.get("text"))),
                    color: result.and_then(|r| r.get("color")).map(|c| color(&text(Some(c)))).filter(|c| c != "text").unwrap_or_default(),
                });
            }
            other => skipped.push(format!("{path}.fieldConfig.defaults.mappings[{i}]: mappings of type \"{other}\" are not supported")),
        }
    }
    options
        .mappings
        .retain(|m| m.value.is_some() || m.from.is_some() || m.to.is_some());
    let custom = d("custom");
    match custom
        .and_then(|c| c.get("drawStyle"))
        .map(|s| text(Some(s)))
        .as_deref()
    {
        Some("bars") => options.draw = "bars".into(),
        Some("points") => options.draw = "points".into(),
        _ => {
            let fill = custom
                .and_then(|c| num(c.get("fillOpacity")))
                .unwrap_or(0.0);
            if fill > 0.0
                || p.get("fill").and_then(Value::as_u64).unwrap_or(0) > 0
                    && text(p.get("type")) == "graph"
                    && p.get("stack").and_then(Value::as_bool) == Some(true)
            {
                options.draw = "area".into();
            }
        }
    }
    let stacking = custom
        .and_then(|c| c.get("stacking"))
        .and_then(|s| s.get("mode"))
        .map(|m| text(Some(m)));
    options.stack = matches!(stacking.as_deref(), Some("normal"))
        || p.get("stack").and_then(Value::as_bool) == Some(true);
    if let Some(mode) = custom
        .and_then(|c| c.get("thresholdsStyle"))
        .and_then(|s| s.get("mode"))
    {
        options.threshold_style = match text(Some(mode)).as_str() {
            "line" | "dashed" | "line+area" => "line",
            "area" => "area",
            _ => "off",
        }
        .into();
    }
    let o = p.get("options");
    if let Some(legend) = o.and_then(|o| o.get("legend")) {
        options.legend = LegendOptions {
            show: legend
                .get("showLegend")
                .and_then(Value::as_bool)
                .unwrap_or(text(legend.get("displayMode")) != "hidden"),
            values: legend
                .get("calcs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| reducer(&text(Some(c))).to_string())
                .filter(|c| matches!(c.as_str(), "min" | "max" | "mean" | "last"))
                .collect(),
        };
    }
    if let Some(calc) = o
        .and_then(|o| o.get("reduceOptions"))
        .and_then(|r| r.get("calcs"))
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    {
        options.reduce = reducer(&text(Some(calc))).into();
    }
    if let Some(spark) = o.and_then(|o| o.get("graphMode")) {
        options.sparkline = text(Some(spark)) != "none";
    }
    if kind == PanelKind::Text {
        options.text = text(
            o.and_then(|o| o.get("content"))
                .or_else(|| p.get("content")),
        );
        if text(o.and_then(|o| o.get("mode"))) == "html" {
            skipped.push(format!(
                "{path}.options.mode: HTML text is shown as Markdown source"
            ));
        }
    }
    Ok(Panel {
        id: p.get("id").and_then(Value::as_u64).unwrap_or(0) as u32,
        kind,
        title,
        description: text(p.get("description")),
        grid,
        targets,
        options,
        collapsed: p.get("collapsed").and_then(Value::as_bool).unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn grafana_panels_map_and_the_rest_is_reported() {
        let g = json!({
            "uid": "abc", "title": "Service", "tags": ["x"], "schemaVersion": 39,
            "time": {"from": "now-1h", "to": "now"}, "refresh": "10s",
            "templating": {"list": [
                {"name": "job", "type": "query", "datasource": {"type": "prometheus", "uid": "p"},
                 "query": {"query": "label_values(up, job)"}, "multi": true, "includeAll": true,
                 "current": {"value": [ALL]}},
                {"name": "ds", "type": "datasource", "query": "prometheus"}
            ]},
            "panels": [
                {"id": 1, "type": "timeseries", "title": "Rate", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
                 "datasource": {"type": "prometheus"},
                 "targets": [{"expr": "rate(x{job=~\"$job\"}[5m])", "legendFormat": "{{job}}"}],
                 "fieldConfig": {"defaults": {"unit": "reqps", "thresholds": {"steps": [
                     {"value": null, "color": "green"}, {"value": 80, "color": "red"}]},
                     "custom": {"fillOpacity": 10, "stacking": {"mode": "normal"}}}},
                 "options": {"legend": {"showLegend": true, "calcs": ["mean", "lastNotNull"]}}},
                {"id": 2, "type": "nodeGraph", "title": "Calls", "gridPos": {"x": 12, "y": 0, "w": 12, "h": 8}},
                {"id": 3, "type": "row", "title": "More", "collapsed": true, "gridPos": {"x": 0, "y": 8, "w": 24, "h": 1},
                 "panels": [{"id": 4, "type": "stat", "title": "Up", "gridPos": {"x": 0, "y": 9, "w": 6, "h": 4},
                   "targets": [{"expr": "sum(up)"}, {"expr": "x", "datasource": {"type": "loki"}}],
                   "fieldConfig": {"defaults": {"unit": "weird", "mappings": [
                       {"type": "value", "options": {"1": {"text": "UP", "color": "green"}}}]}},
                   "options": {"reduceOptions": {"calcs": ["max"]}, "graphMode": "none"}}]}
            ]
        });
        let (d, skipped) = convert(&g).unwrap();
        assert_eq!(d.uid, "abc");
        assert_eq!(d.refresh, "10s");
        assert_eq!(d.variables.len(), 1);
        assert!(d.variables[0].current.is_empty() && d.variables[0].include_all);
        assert_eq!(d.panels.len(), 3);
        let ts = &d.panels[0];
        assert_eq!(ts.options.unit, "reqps");
        assert!(ts.options.stack);
        assert_eq!(ts.options.draw, "area");
        assert_eq!(ts.options.legend.values, vec!["mean", "last"]);
        assert_eq!(ts.options.thresholds[1].value, Some(80.0));
        let stat = &d.panels[2];
        assert_eq!(stat.targets.len(), 1);
        assert_eq!(stat.options.reduce, "max");
        assert!(!stat.options.sparkline);
        assert_eq!(stat.options.mappings[0].text, "UP");
        let report = skipped.join("\n");
        assert!(report.contains("templating.list[1] (ds)"), "{report}");
        assert!(
            report.contains("panels[1] (Calls): panels of type \"nodeGraph\""),
            "{report}"
        );
        assert!(
            report.contains("panels[2].panels[0].targets[1]: queries a loki"),
            "{report}"
        );
        assert!(report.contains("unit \"weird\""), "{report}");
    }
}
