//! What the PromQL editor can complete at the cursor: a metric or function name, a label name
//! (inside `{…}` or a `by (…)` clause), or a label value (inside the quotes after `label=`).

/// What the text before the cursor is in the middle of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    Metric,
    LabelName {
        metric: Option<String>,
    },
    LabelValue {
        metric: Option<String>,
        label: String,
    },
}

/// What to complete, from which byte `start` to the cursor, and the text typed so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub want: Want,
    pub start: usize,
    pub prefix: String,
}

/// PromQL's functions and aggregations, offered beside metric names.
pub const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "avg",
    "avg_over_time",
    "bottomk",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "count",
    "count_over_time",
    "count_values",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "delta",
    "deriv",
    "exp",
    "floor",
    "group",
    "histogram_quantile",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max",
    "max_over_time",
    "min",
    "min_over_time",
    "minute",
    "month",
    "predict_linear",
    "present_over_time",
    "quantile",
    "quantile_over_time",
    "rate",
    "resets",
    "round",
    "scalar",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev",
    "stddev_over_time",
    "stdvar",
    "stdvar_over_time",
    "sum",
    "sum_over_time",
    "time",
    "timestamp",
    "topk",
    "vector",
    "year",
];

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The identifier that ends at byte `end` of `text`.
fn ident_before(text: &str, end: usize) -> &str {
    let head = &text[..end];
    let start = head
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_ident(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    &head[start..]
}

/// Works out what can be completed with the cursor at byte `cursor` of `text`.
pub fn context(text: &str, cursor: usize) -> Option<Context> {
    let cursor = cursor.min(text.len());
    if !text.is_char_boundary(cursor) {
        return None;
    }
    let head = &text[..cursor];
    // One pass over what is before the cursor: open braces, brackets, parentheses and strings.
    let mut brace: Option<usize> = None;
    let mut in_bracket = false;
    let mut string: Option<(char, usize)> = None;
    let mut parens: Vec<usize> = Vec::new();
    let mut escaped = false;
    for (i, c) in head.char_indices() {
        if let Some((quote, _)) = string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == quote => string = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => string = Some((c, i)),
            '{' => brace = Some(i),
            '}' => brace = None,
            '[' => in_bracket = true,
            ']' => in_bracket = false,
            '(' => parens.push(i),
            ')' => {
                parens.pop();
            }
            _ => {}
        }
    }
    let metric_before = |at: usize| {
        let m = ident_before(text, at);
        (!m.is_empty()).then(|| m.to_string())
    };
    if let Some((_, quote_at)) = string {
        let open = brace?;
        let before_quote = text[..quote_at].trim_end();
        let op_len = ["=~", "!~", "!=", "="]
            .iter()
            .find(|op| before_quote.ends_with(*op))
            .map(|op| op.len())?;
        let name_end = before_quote[..before_quote.len() - op_len].trim_end().len();
        let label = ident_before(before_quote, name_end).to_string();
        return Some(Context {
            want: Want::LabelValue {
                metric: metric_before(open),
                label,
            },
            start: quote_at + 1,
            prefix: head[quote_at + 1..].to_string(),
        });
    }
    if in_bracket {
        return None;
    }
    let prefix = ident_before(text, cursor);
    let start = cursor - prefix.len();
    let before = text[..start].trim_end();
    if let Some(open) = brace {
        return (before.ends_with('{') || before.ends_with(',')).then(|| Context {
            want: Want::LabelName {
                metric: metric_before(open),
            },
            start,
            prefix: prefix.to_string(),
        });
    }
    if let Some(&open) = parens.last() {
        let keyword = ident_before(text, text[..open].trim_end().len());
        let grouping = matches!(
            keyword,
            "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
        );
        if grouping && (before.ends_with('(') || before.ends_with(',')) {
            return Some(Context {
                want: Want::LabelName { metric: None },
                start,
                prefix: prefix.to_string(),
            });
        }
    }
    (!prefix.is_empty() && !prefix.starts_with(|c: char| c.is_ascii_digit())).then(|| Context {
        want: Want::Metric,
        start,
        prefix: prefix.to_string(),
    })
}

/// The text that replaces the typed prefix when `choice` is picked, and the cursor after it.
pub fn apply(
    text: &str,
    cursor: usize,
    ctx: &Context,
    choice: &str,
    is_function: bool,
) -> (String, usize) {
    let cursor = cursor.min(text.len());
    let insert = match &ctx.want {
        Want::Metric if is_function => format!("{choice}("),
        Want::Metric => choice.to_string(),
        Want::LabelName { metric: Some(_) } => format!("{choice}=\""),
        Want::LabelName { metric: None } => choice.to_string(),
        Want::LabelValue { .. } if text[cursor..].starts_with('"') => choice.to_string(),
        Want::LabelValue { .. } => format!("{}\"", escape_value(choice)),
    };
    let mut out = String::with_capacity(text.len() + insert.len());
    out.push_str(&text[..ctx.start]);
    out.push_str(&insert);
    let after = ctx.start + insert.len();
    out.push_str(&text[cursor..]);
    (out, after)
}

fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text_with_cursor: &str) -> Option<Context> {
        let cursor = text_with_cursor.find('|').unwrap();
        let text = text_with_cursor.replace('|', "");
        context(&text, cursor)
    }

    #[test]
    fn metric_names_at_the_start_and_inside_functions() {
        let c = at("agent_ta|").unwrap();
        assert_eq!(
            (c.want, c.start, c.prefix.as_str()),
            (Want::Metric, 0, "agent_ta")
        );
        let c = at("sum(rate(agent_t|").unwrap();
        assert_eq!((c.want, c.start), (Want::Metric, 9));
        assert_eq!(at("rate(x[5|"), None);
        assert_eq!(at("x > 5|"), None);
    }

    #[test]
    fn label_names_inside_braces_and_grouping() {
        let c = at("agent_task_success_total{ag|").unwrap();
        let metric = Some("agent_task_success_total".to_string());
        assert_eq!(
            c.want,
            Want::LabelName {
                metric: metric.clone()
            }
        );
        assert_eq!(c.prefix, "ag");
        let c = at("agent_task_success_total{job=\"a\", |").unwrap();
        assert_eq!(c.want, Want::LabelName { metric });
        let c = at("sum by (agent_|) (rate(x[5m]))").unwrap();
        assert_eq!(c.want, Want::LabelName { metric: None });
        assert_eq!(at("x{job=|"), None);
    }

    #[test]
    fn label_values_inside_quotes() {
        let c = at("agent_queue_depth{queue_name=\"tri|").unwrap();
        assert_eq!(
            c.want,
            Want::LabelValue {
                metric: Some("agent_queue_depth".into()),
                label: "queue_name".into()
            }
        );
        assert_eq!(c.prefix, "tri");
        let c = at("{job =~ \"|").unwrap();
        assert_eq!(
            c.want,
            Want::LabelValue {
                metric: None,
                label: "job".into()
            }
        );
    }

    #[test]
    fn applying_a_choice_replaces_the_prefix() {
        let text = "sum(agent_t)";
        let ctx = context(text, 11).unwrap();
        assert_eq!(
            apply(text, 11, &ctx, "agent_task_success_total", false),
            ("sum(agent_task_success_total)".into(), 28)
        );
        let text = "x{queue_name=\"tr";
        let ctx = context(text, text.len()).unwrap();
        assert_eq!(
            apply(text, text.len(), &ctx, "triage", false).0,
            "x{queue_name=\"triage\""
        );
        let text = "x{que";
        let ctx = context(text, text.len()).unwrap();
        assert_eq!(
            apply(text, text.len(), &ctx, "queue_name", false).0,
            "x{queue_name=\""
        );
        let text = "ra";
        let ctx = context(text, 2).unwrap();
        assert_eq!(apply(text, 2, &ctx, "rate", true).0, "rate(");
    }
}
