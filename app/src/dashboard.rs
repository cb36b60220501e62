//! What a dashboard means, shared by the browser and the server's renderer: variable queries and
//! `$variable` substitution, legend names, reducing a series to one value, units, thresholds,
//! value mappings and the grid layout with collapsible rows.

use crate::api::dashboard::{GridPos, Panel, PanelKind, Threshold, ValueMapping};
use crate::api::endpoints::paths;
use crate::api::prometheus::QueryRange;
use std::collections::BTreeMap;

/// How "All" of a variable is spelled in URLs (`var-agent=$__all`) and in saved selections,
/// as Grafana spells it.
pub const ALL_VALUE: &str = "$__all";

pub use crate::api::dashboard::{is_label_name, split_list, VariableQuery};
pub use crate::format::{color_rgb, format_unit};

/// Escapes regular-expression characters, as a multi-value selection is written `(a|b)`.
pub fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// How a selection is written in a query: one value as it is, several as `(a|b)` for `=~`.
pub fn format_selection(values: &[String]) -> String {
    match values {
        [one] => one.clone(),
        [] => String::new(),
        many => format!(
            "({})",
            many.iter()
                .map(|v| regex_escape(v))
                .collect::<Vec<_>>()
                .join("|")
        ),
    }
}

/// The built-in variables of a query run over `range_ms` at `step_ms`.
pub fn builtins(range_ms: i64, step_ms: i64) -> BTreeMap<String, Vec<String>> {
    let secs = |ms: i64| format!("{}s", (ms / 1000).max(1));
    // Grafana's $__rate_interval: four scrape intervals (15 s assumed), or a step plus one.
    let rate = (step_ms + 15_000).max(60_000);
    [
        ("__interval", secs(step_ms)),
        ("__interval_ms", step_ms.to_string()),
        ("__rate_interval", secs(rate)),
        ("__range", secs(range_ms)),
        ("__range_s", (range_ms / 1000).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), vec![v]))
    .collect()
}

/// Replaces `$name`, `${name}` and `[[name]]` with the variables' selections; unknown names are
/// left as they are (PromQL then says where).
pub fn interpolate(text: &str, values: &BTreeMap<String, Vec<String>>) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    while i < bytes.len() {
        let (name_range, end) = if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            match text[i + 2..].find('}') {
                Some(close) => (Some((i + 2, i + 2 + close)), i + 3 + close),
                None => (None, i + 1),
            }
        } else if bytes[i] == b'$' {
            let mut j = i + 1;
            while j < bytes.len() && is_ident(bytes[j]) {
                j += 1;
            }
            (Some((i + 1, j)), j)
        } else if bytes[i] == b'[' && bytes.get(i + 1) == Some(&b'[') {
            match text[i + 2..].find("]]") {
                Some(close) => (Some((i + 2, i + 2 + close)), i + 4 + close),
                None => (None, i + 1),
            }
        } else {
            (None, i + 1)
        };
        match name_range.and_then(|(a, b)| values.get(&text[a..b])) {
            Some(selection) => {
                out.push_str(&format_selection(selection));
                i = end;
            }
            None => {
                let next = text[i..]
                    .char_indices()
                    .nth(1)
                    .map_or(text.len(), |(n, _)| i + n);
                out.push_str(&text[i..next]);
                i = next;
            }
        }
    }
    out
}

/// [`interpolate`] for text people read (titles): several values are listed, `a, b`.
pub fn interpolate_text(text: &str, values: &BTreeMap<String, Vec<String>>) -> String {
    let listed: BTreeMap<String, Vec<String>> = values
        .iter()
        .map(|(k, v)| (k.clone(), vec![v.join(", ")]))
        .collect();
    interpolate(text, &listed)
}

/// The names of the variables `text` uses, to know which variables depend on which.
pub fn referenced(text: &str, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| {
            let probe: BTreeMap<String, Vec<String>> =
                [((*n).clone(), vec!["\u{1}".to_string()])].into();
            interpolate(text, &probe).contains('\u{1}')
        })
        .cloned()
        .collect()
}

/// A series' name from a legend template (`{{agent_id}} p95`), or all its labels.
pub fn legend_name(template: &str, labels: &BTreeMap<String, String>) -> String {
    if template.trim().is_empty() {
        return crate::api::prometheus::series_name(labels);
    }
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        match rest[open + 2..].find("}}") {
            Some(close) => {
                let name = rest[open + 2..open + 2 + close].trim();
                out.push_str(labels.get(name).map(String::as_str).unwrap_or(""));
                rest = &rest[open + 4 + close..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Reduces a series' values to one (`last`, `mean`, `max`, `min`, `sum`, `first`), ignoring
/// NaN; `None` without values.
pub fn reduce(points: &[(i64, f64)], how: &str) -> Option<f64> {
    let mut values = points.iter().map(|p| p.1).filter(|v| !v.is_nan());
    match how {
        "first" => values.next(),
        "max" => values.reduce(f64::max),
        "min" => values.reduce(f64::min),
        "sum" => values.reduce(|a, b| a + b),
        "mean" => {
            let (n, sum) = values.fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
            (n > 0).then(|| sum / n as f64)
        }
        _ => values.next_back(),
    }
}

/// The colour the thresholds give `value`: the last step at or below it, else the base step.
pub fn threshold_color(value: f64, thresholds: &[Threshold]) -> Option<&str> {
    thresholds
        .iter()
        .rev()
        .find(|t| t.value.is_none_or(|step| value >= step))
        .map(|t| t.color.as_str())
}

/// The text (and colour) a mapping gives `value`, if one applies.
pub fn map_value(value: f64, mappings: &[ValueMapping]) -> Option<&ValueMapping> {
    mappings.iter().find(|m| match (&m.value, m.from, m.to) {
        (Some(exact), _, _) => exact.parse::<f64>().is_ok_and(|e| e == value),
        (None, from, to) => from.is_none_or(|f| value >= f) && to.is_none_or(|t| value <= t),
    })
}

/// Where each shown panel goes: rows' collapsed panels are left out and what follows moves up
/// by the height they took. Returns (index into `panels`, position).
pub fn layout(panels: &[Panel]) -> Vec<(usize, GridPos)> {
    let mut out = Vec::with_capacity(panels.len());
    let mut lift = 0u32;
    let mut hiding: Option<u32> = None; // the y just below the collapsed row
    let mut hidden_bottom = 0u32;
    for (i, p) in panels.iter().enumerate() {
        if p.kind == PanelKind::Row {
            if let Some(top) = hiding.take() {
                lift += hidden_bottom.saturating_sub(top);
            }
            if p.collapsed {
                hiding = Some(p.grid.y + p.grid.h);
                hidden_bottom = p.grid.y + p.grid.h;
            }
            let mut g = p.grid;
            g.y = g.y.saturating_sub(lift);
            out.push((i, g));
            continue;
        }
        if hiding.is_some() {
            hidden_bottom = hidden_bottom.max(p.grid.y + p.grid.h);
            continue;
        }
        let mut g = p.grid;
        g.y = g.y.saturating_sub(lift);
        out.push((i, g));
    }
    out
}

fn overlaps(a: GridPos, b: GridPos) -> bool {
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

/// After panel `moved` was moved or resized, pushes every panel it now covers (and any they then
/// cover) down, keeping the others where they are; the list ends in reading order.
pub fn settle(panels: &mut [Panel], moved: u32) {
    let mut order: Vec<usize> = (0..panels.len()).collect();
    // The moved panel keeps its place; the rest follow in reading order.
    order.sort_by_key(|&i| (panels[i].id != moved, panels[i].grid.y, panels[i].grid.x));
    let mut placed: Vec<GridPos> = Vec::with_capacity(panels.len());
    for i in order {
        let mut g = panels[i].grid;
        while let Some(block) = placed.iter().find(|p| overlaps(**p, g)) {
            g.y = block.y + block.h;
        }
        panels[i].grid = g;
        placed.push(g);
    }
    panels.sort_by_key(|p| (p.grid.y, p.grid.x));
}

/// The first free place for a panel `w`×`h` below everything, for "add panel".
pub fn place_below(panels: &[Panel], w: u32, h: u32) -> GridPos {
    let y = panels
        .iter()
        .map(|p| p.grid.y + p.grid.h)
        .max()
        .unwrap_or(0);
    GridPos { x: 0, y, w, h }
}

/// Where a dashboard's data comes from: the query API directly, or a public link, which runs
/// only the dashboard's stored queries with the variable values given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    Direct,
    Public(String),
}

/// The selected values of every variable; `all` names the variables on "All".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub values: BTreeMap<String, Vec<String>>,
    pub all: std::collections::BTreeSet<String>,
}

impl Selection {
    /// The pairs of [`Selection::url_pairs`] as `&k=v…`, to append to a query string.
    pub fn url_tail(&self) -> String {
        self.url_pairs()
            .iter()
            .map(|(k, v)| format!("&{}={}", escape(k), escape(v)))
            .collect()
    }

    /// `var-<name>=<value>` pairs as the URL carries them (`$__all` for All).
    pub fn url_pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, values) in &self.values {
            if self.all.contains(name) {
                out.push((format!("var-{name}"), ALL_VALUE.to_string()));
            } else {
                out.extend(values.iter().map(|v| (format!("var-{name}"), v.clone())));
            }
        }
        out
    }
}

/// The step and aligned start of a panel `width_px` wide over `from`..`to` (ms).
pub fn panel_step(from: i64, to: i64, width_px: u32) -> (i64, i64) {
    let step = crate::time::auto_step_ms(to - from, width_px);
    (from / step * step, step)
}

fn escape(text: &str) -> String {
    crate::format::escape_query_part(text)
}

/// The URL that runs query `index` of `panel` over `start`..`end` at `step` (ms).
pub fn target_url(
    source: &DataSource,
    panel: &Panel,
    index: usize,
    selection: &Selection,
    range: QueryRange,
) -> String {
    let QueryRange { start, end, step } = range;
    let target = &panel.targets[index];
    match source {
        DataSource::Direct => {
            let mut values = selection.values.clone();
            values.extend(builtins(end - start, step));
            let expr = interpolate(&target.expr, &values);
            if target.instant {
                paths::instant_query(&expr, end)
            } else {
                paths::range_query(&expr, range)
            }
        }
        DataSource::Public(token) => {
            paths::public_range_query(token, panel.id, index, range, &selection.url_tail())
        }
    }
}

/// The image URL of a panel for a time range and selection.
pub fn image_url(
    source: &DataSource,
    uid: &str,
    panel: u32,
    (from, to): (&str, &str),
    selection: &Selection,
    ext: &str,
) -> String {
    let token = match source {
        DataSource::Direct => None,
        DataSource::Public(token) => Some(token.as_str()),
    };
    let base = paths::panel_image(token, uid, panel, ext);
    let vars = selection.url_tail();
    format!(
        "{base}?from={}&to={}&width=1000&height=500{vars}",
        escape(from),
        escape(to)
    )
}

/// The options a variable offers and what is selected, from the values the URL asks for
/// (`$__all` for All): values that are not options are dropped, and with none asked for the
/// saved `current` values apply, else All (when offered) or the first option.
pub fn choose(
    variable: &crate::api::dashboard::Variable,
    options: &[String],
    asked: Option<&Vec<String>>,
) -> (Vec<String>, bool) {
    let asked = asked.filter(|a| !a.is_empty());
    let wants_all = asked.is_some_and(|a| a.iter().any(|v| v == ALL_VALUE)) && variable.include_all;
    if wants_all {
        return (options.to_vec(), true);
    }
    let mut chosen: Vec<String> = asked
        .unwrap_or(&variable.current)
        .iter()
        .filter(|v| options.contains(v))
        .cloned()
        .collect();
    if !variable.multi {
        chosen.truncate(1);
    }
    if chosen.is_empty() {
        if variable.include_all && asked.is_none() {
            return (options.to_vec(), true);
        }
        chosen = options.iter().take(1).cloned().collect();
    }
    (chosen, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn variables_are_substituted_in_every_syntax() {
        let v = vars(&[
            ("agent", &["a1"]),
            ("agent_id", &["x"]),
            ("q", &["a.b", "c"]),
        ]);
        assert_eq!(
            interpolate(
                r#"up{agent="$agent",id="${agent_id}",q=~"[[q]]"} $agentx"#,
                &v
            ),
            r#"up{agent="a1",id="x",q=~"(a\.b|c)"} $agentx"#
        );
        assert_eq!(
            interpolate("rate(x[$__rate_interval]) é $", &v),
            "rate(x[$__rate_interval]) é $"
        );
        let b = builtins(3_600_000, 30_000);
        assert_eq!(interpolate("rate(x[$__rate_interval])", &b), "rate(x[60s])");
        assert_eq!(interpolate("$__range", &b), "3600s");
        assert_eq!(
            referenced("up{a=\"$agent\"}", &["agent".into(), "q".into()]),
            vec!["agent".to_string()]
        );
    }

    #[test]
    fn variable_queries_parse_like_grafana() {
        assert_eq!(
            VariableQuery::parse("label_values(agent_id)").unwrap(),
            VariableQuery::LabelValues {
                selector: None,
                label: "agent_id".into()
            }
        );
        assert_eq!(
            VariableQuery::parse(r#"label_values(up{job="a,b"}, instance)"#).unwrap(),
            VariableQuery::LabelValues {
                selector: Some(r#"up{job="a,b"}"#.into()),
                label: "instance".into()
            }
        );
        assert!(VariableQuery::parse("label_values(, x)").is_err());
        assert!(VariableQuery::parse("label_values(a-b)")
            .unwrap_err()
            .contains("a-b"));
        assert!(VariableQuery::parse("up").is_err());
        assert_eq!(
            VariableQuery::parse("query_result(topk(3, up))").unwrap(),
            VariableQuery::QueryResult {
                expr: "topk(3, up)".into()
            }
        );
    }

    #[test]
    fn legends_take_labels() {
        let labels: BTreeMap<String, String> = [
            ("agent".to_string(), "a1".to_string()),
            ("__name__".into(), "up".into()),
        ]
        .into();
        assert_eq!(
            legend_name("{{agent}} p95 {{ missing }}", &labels),
            "a1 p95 "
        );
        assert_eq!(legend_name("", &labels), r#"up{agent="a1"}"#);
    }

    #[test]
    fn reducers_skip_nan() {
        let p = [(1, 2.0), (2, f64::NAN), (3, 4.0)];
        assert_eq!(reduce(&p, "last"), Some(4.0));
        assert_eq!(reduce(&p, "first"), Some(2.0));
        assert_eq!(reduce(&p, "mean"), Some(3.0));
        assert_eq!(reduce(&p, "sum"), Some(6.0));
        assert_eq!(reduce(&p, "max"), Some(4.0));
        assert_eq!(reduce(&[], "last"), None);
    }

    #[test]
    fn units_read_naturally() {
        assert_eq!(format_unit(0.953, "percentunit", None), "95.3%");
        assert_eq!(format_unit(1536.0, "bytes", None), "1.5 KiB");
        assert_eq!(format_unit(0.25, "s", None), "250 ms");
        assert_eq!(format_unit(90.0, "s", None), "1.5 min");
        assert_eq!(format_unit(1.5, "currencyUSD", None), "$1.50");
        assert_eq!(format_unit(0.0123, "currencyUSD", None), "$0.0123");
        assert_eq!(format_unit(3400.0, "short", None), "3.4k");
        assert_eq!(format_unit(12.345, "none", Some(1)), "12.3");
    }

    #[test]
    fn thresholds_and_mappings_pick_the_step() {
        let t = vec![
            Threshold {
                value: None,
                color: "green".into(),
            },
            Threshold {
                value: Some(80.0),
                color: "red".into(),
            },
        ];
        assert_eq!(threshold_color(10.0, &t), Some("green"));
        assert_eq!(threshold_color(80.0, &t), Some("red"));
        let m = vec![
            ValueMapping {
                value: Some("1".into()),
                from: None,
                to: None,
                text: "up".into(),
                color: "green".into(),
            },
            ValueMapping {
                value: None,
                from: Some(2.0),
                to: Some(5.0),
                text: "busy".into(),
                color: String::new(),
            },
        ];
        assert_eq!(map_value(1.0, &m).unwrap().text, "up");
        assert_eq!(map_value(3.0, &m).unwrap().text, "busy");
        assert!(map_value(0.0, &m).is_none());
        assert_eq!(color_rgb("#ff0010"), Some((255, 0, 16)));
    }

    fn panel(id: u32, kind: PanelKind, y: u32, h: u32, collapsed: bool) -> Panel {
        Panel {
            collapsed,
            ..Panel::new(id, kind, GridPos { x: 0, y, w: 24, h })
        }
    }

    #[test]
    fn collapsed_rows_hide_their_panels_and_lift_the_rest() {
        let panels = vec![
            panel(1, PanelKind::Row, 0, 1, true),
            panel(2, PanelKind::Timeseries, 1, 8, false),
            panel(3, PanelKind::Row, 9, 1, false),
            panel(4, PanelKind::Stat, 10, 4, false),
        ];
        let l = layout(&panels);
        assert_eq!(l.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![0, 2, 3]);
        assert_eq!(l[1].1.y, 1);
        assert_eq!(l[2].1.y, 2);
        assert_eq!(place_below(&panels, 12, 8).y, 14);
    }

    #[test]
    fn target_urls_write_variables_in_or_pass_them_along() {
        let panel = panel_with_target(r#"rate(x{a=~"$agent"}[$__rate_interval])"#);
        let mut sel = Selection::default();
        sel.values
            .insert("agent".into(), vec!["a1".into(), "a2".into()]);
        let direct = target_url(
            &DataSource::Direct,
            &panel,
            0,
            &sel,
            QueryRange {
                start: 0,
                end: 3_600_000,
                step: 30_000,
            },
        );
        assert_eq!(
            direct,
            "/api/v1/query_range?query=rate(x%7Ba%3D~%22(a1%7Ca2)%22%7D%5B60s%5D)&start=0&end=3600&step=30"
        );
        sel.all.insert("agent".into());
        let public = target_url(
            &DataSource::Public("tok".into()),
            &panel,
            0,
            &sel,
            QueryRange {
                start: 0,
                end: 3_600_000,
                step: 30_000,
            },
        );
        assert_eq!(public, "/api/public/tok/panels/7/targets/0/query_range?start=0&end=3600&step=30&var-agent=$__all");
    }

    #[test]
    fn choices_fall_back_like_the_server() {
        use crate::api::dashboard::{Variable, VariableSource};
        let mut v = Variable {
            name: "a".into(),
            label: String::new(),
            source: VariableSource::Custom {
                values: "x,y,z".into(),
            },
            multi: true,
            include_all: true,
            current: vec![],
        };
        let options: Vec<String> = ["x", "y", "z"].iter().map(|s| s.to_string()).collect();
        assert_eq!(choose(&v, &options, None), (options.clone(), true));
        assert_eq!(
            choose(&v, &options, Some(&vec!["y".into(), "q".into()])),
            (vec!["y".to_string()], false)
        );
        v.include_all = false;
        v.multi = false;
        assert_eq!(
            choose(&v, &options, Some(&vec!["$__all".into()])),
            (vec!["x".to_string()], false)
        );
        v.current = vec!["z".into()];
        assert_eq!(choose(&v, &options, None), (vec!["z".to_string()], false));
    }

    fn panel_with_target(expr: &str) -> Panel {
        let mut p = panel(7, PanelKind::Timeseries, 0, 8, false);
        p.targets.push(crate::api::dashboard::Target {
            expr: expr.into(),
            legend: String::new(),
            instant: false,
        });
        p
    }

    #[test]
    fn moved_panels_push_what_they_cover_down() {
        let mut a = panel(1, PanelKind::Stat, 0, 4, false);
        a.grid = GridPos {
            x: 0,
            y: 0,
            w: 12,
            h: 4,
        };
        let mut b = panel(2, PanelKind::Stat, 0, 4, false);
        b.grid = GridPos {
            x: 12,
            y: 0,
            w: 12,
            h: 4,
        };
        let mut c = panel(3, PanelKind::Stat, 4, 4, false);
        c.grid = GridPos {
            x: 12,
            y: 4,
            w: 12,
            h: 4,
        };
        let mut panels = vec![a, b, c];
        panels[0].grid.x = 8; // dragged onto b
        settle(&mut panels, 1);
        let at = |id: u32| panels.iter().find(|p| p.id == id).unwrap().grid;
        assert_eq!(
            at(1),
            GridPos {
                x: 8,
                y: 0,
                w: 12,
                h: 4
            }
        );
        assert_eq!(at(2).y, 4, "b moves below a");
        assert_eq!(at(3).y, 8, "c moves below b");
        assert_eq!(
            panels.iter().map(|p| p.id).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }
}
