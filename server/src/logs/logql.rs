//! The common subset of LogQL, so that Grafana's Loki data source, `logcli` and the alert
//! rules people already have work against the portal:
//!
//! - stream selectors `{app="api", env=~"prod|staging", team!="x", pod!~"test-.*"}`;
//! - line filters `|= "text"`, `!= "text"`, `|~ "regex"`, `!~ "regex"`, chained;
//! - the `json` and `logfmt` parsers (lines are parsed when they are stored, so these only
//!   make the parsed fields labels of the result), `drop`, and label filters
//!   `| status >= 500`, `| level = "error" or level = "warn"`, `| __error__ = ""`;
//! - `count_over_time`, `rate`, `bytes_over_time`, `bytes_rate` over `[range]`, and
//!   `sum`, `count`, `min`, `max`, `avg`, `topk`, `bottomk` with `by (…)` or `without (…)`.
//!
//! Anything else (other stages, binary operators, `unwrap`) is refused with a message that
//! names it and where it starts. A query is bounded in length and nesting.

use crate::store::logs::{Condition, Field};

pub const MAX_QUERY_BYTES: usize = 16 * 1024;
const MAX_DEPTH: usize = 16;
/// The longest `[range]`.
const MAX_RANGE_MS: i64 = 366 * 86_400_000;

/// Why a query could not be read, and where (a character offset from 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse error at col {}: {message}", position + 1)]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

/// A log query: the stream selector and the pipeline, made one condition.
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    pub condition: Condition,
    /// Whether a parser stage makes the lines' fields labels of the result.
    pub parsed: bool,
    /// Labels the pipeline drops from the result.
    pub dropped: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeFunction {
    CountOverTime,
    Rate,
    BytesOverTime,
    BytesRate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Sum,
    Count,
    Min,
    Max,
    Avg,
    Topk(usize),
    Bottomk(usize),
}

/// `by (…)` or `without (…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricExpr {
    Range {
        function: RangeFunction,
        query: LogQuery,
        range_ms: i64,
    },
    Aggregate {
        op: Aggregation,
        grouping: Option<Grouping>,
        inner: Box<MetricExpr>,
    },
}

impl MetricExpr {
    /// The range expression at the bottom.
    pub fn range(&self) -> (RangeFunction, &LogQuery, i64) {
        match self {
            MetricExpr::Range {
                function,
                query,
                range_ms,
            } => (*function, query, *range_ms),
            MetricExpr::Aggregate { inner, .. } => inner.range(),
        }
    }

    /// The labels the outermost `by` groups on, when the result needs no others: the store
    /// can then count per those labels alone instead of per stream.
    pub fn only_labels(&self) -> Option<&[String]> {
        match self {
            MetricExpr::Aggregate {
                grouping:
                    Some(Grouping {
                        without: false,
                        labels,
                    }),
                op,
                ..
            } if !matches!(op, Aggregation::Topk(_) | Aggregation::Bottomk(_)) => Some(labels),
            MetricExpr::Aggregate {
                grouping: None, op, ..
            } if !matches!(op, Aggregation::Topk(_) | Aggregation::Bottomk(_)) => Some(&[]),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Log(LogQuery),
    Metric(MetricExpr),
}

/// Reads a LogQL query.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(error(
            0,
            format!("a query is at most {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let mut p = Parser {
        chars: text.chars().collect(),
        at: 0,
    };
    p.skip_space();
    let expr = if p.peek() == Some('{') {
        Expr::Log(p.log_query()?)
    } else {
        Expr::Metric(p.metric(0)?)
    };
    p.skip_space();
    if p.at < p.chars.len() {
        return Err(p.error_here("unexpected text after the end of the query"));
    }
    Ok(expr)
}

/// Reads a stream selector alone (`{…}`), as the `match[]` and `query` parameters of the
/// label and series APIs carry.
pub fn parse_selector(text: &str) -> Result<Condition, ParseError> {
    let mut p = Parser {
        chars: text.chars().take(MAX_QUERY_BYTES).collect(),
        at: 0,
    };
    let parts = p.selector()?;
    p.skip_space();
    if p.at < p.chars.len() {
        return Err(p.error_here("expected a stream selector alone, such as {app=\"api\"}"));
    }
    Ok(and(parts))
}

fn error(position: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        position,
        message: message.into(),
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn error_here(&self, message: impl Into<String>) -> ParseError {
        error(self.at, message)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// Consumes `text` (after spaces) if it comes next.
    fn eat(&mut self, text: &str) -> bool {
        self.skip_space();
        let n = text.chars().count();
        if self.chars.len() >= self.at + n
            && self.chars[self.at..self.at + n]
                .iter()
                .copied()
                .eq(text.chars())
        {
            self.at += n;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, text: &str, what: &str) -> Result<(), ParseError> {
        if self.eat(text) {
            Ok(())
        } else {
            Err(self.error_here(format!("expected {what}")))
        }
    }

    fn identifier(&mut self) -> Option<String> {
        self.skip_space();
        let start = self.at;
        while let Some(c) = self.peek() {
            let ok = c.is_ascii_alphabetic()
                || c == '_'
                || (self.at > start && (c.is_ascii_digit() || c == '.'));
            if !ok {
                break;
            }
            self.at += 1;
        }
        (self.at > start).then(|| self.chars[start..self.at].iter().collect())
    }

    /// A `"…"` string with Go escapes, or a `` `…` `` raw one.
    fn string(&mut self) -> Result<String, ParseError> {
        self.skip_space();
        let start = self.at;
        match self.peek() {
            Some('`') => {
                self.at += 1;
                let from = self.at;
                while self.peek().is_some_and(|c| c != '`') {
                    self.at += 1;
                }
                if self.peek().is_none() {
                    return Err(error(start, "a `raw string` is not closed"));
                }
                let s = self.chars[from..self.at].iter().collect();
                self.at += 1;
                Ok(s)
            }
            Some('"') => {
                self.at += 1;
                let mut out = String::new();
                loop {
                    match self.peek() {
                        None => return Err(error(start, "a \"string\" is not closed")),
                        Some('"') => {
                            self.at += 1;
                            return Ok(out);
                        }
                        Some('\\') => {
                            self.at += 1;
                            let c = self
                                .peek()
                                .ok_or_else(|| error(start, "a \"string\" is not closed"))?;
                            self.at += 1;
                            out.push(match c {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                other => other,
                            });
                        }
                        Some(c) => {
                            self.at += 1;
                            out.push(c);
                        }
                    }
                }
            }
            _ => Err(self.error_here("expected a \"string\"")),
        }
    }

    fn log_query(&mut self) -> Result<LogQuery, ParseError> {
        let mut parts = self.selector()?;
        let mut parsed = false;
        let mut dropped = Vec::new();
        loop {
            self.skip_space();
            let position = self.at;
            let line_filter = [("|=", 0), ("!=", 1), ("|~", 2), ("!~", 3)]
                .into_iter()
                .find(|(op, _)| self.eat(op));
            if let Some((_, kind)) = line_filter {
                let text = self.string()?;
                let condition = match kind {
                    0 | 1 => Condition::Contains(text),
                    _ => {
                        check_regex(&text, position)?;
                        Condition::Regex {
                            field: Field::Body,
                            pattern: text,
                            case_insensitive: false,
                        }
                    }
                };
                parts.push(if kind % 2 == 1 {
                    Condition::Not(Box::new(condition))
                } else {
                    condition
                });
                continue;
            }
            if !self.eat("|") {
                break;
            }
            self.skip_space();
            let stage_at = self.at;
            let Some(stage) = self.identifier() else {
                return Err(self.error_here("expected a stage after |"));
            };
            match stage.as_str() {
                "json" | "logfmt" => {
                    self.skip_space();
                    if self
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '-')
                    {
                        return Err(self.error_here(format!(
                            "`{stage}` with parameters is not supported; use `| {stage}` alone"
                        )));
                    }
                    parsed = true;
                }
                "drop" => loop {
                    let Some(name) = self.identifier() else {
                        return Err(self.error_here("expected a label name after drop"));
                    };
                    dropped.push(name);
                    if !self.eat(",") {
                        break;
                    }
                },
                "decolorize" => {}
                "line_format" | "label_format" | "unwrap" | "pattern" | "regexp" | "unpack"
                | "keep" | "distinct" => {
                    return Err(error(
                        stage_at,
                        format!("the `{stage}` stage is not supported"),
                    ));
                }
                _ => {
                    self.at = stage_at;
                    parts.push(self.label_filters()?);
                }
            }
        }
        Ok(LogQuery {
            condition: and(parts),
            parsed,
            dropped,
        })
    }

    fn selector(&mut self) -> Result<Vec<Condition>, ParseError> {
        self.expect("{", "{ to start a stream selector")?;
        let mut out = Vec::new();
        if self.eat("}") {
            return Ok(out);
        }
        loop {
            let position = self.at;
            let Some(name) = self.identifier() else {
                return Err(self.error_here("expected a label name"));
            };
            let op = ["=~", "!~", "!=", "="]
                .into_iter()
                .find(|op| self.eat(op))
                .ok_or_else(|| self.error_here("expected =, !=, =~ or !~"))?;
            let value = self.string()?;
            out.push(label_matcher(position, &name, op, value)?);
            if self.eat("}") {
                return Ok(out);
            }
            self.expect(",", ", or }")?;
        }
    }

    /// `a = "x" and b > 5 or c != "y"`: `and` (or `,`, or a space) binds tighter than `or`.
    fn label_filters(&mut self) -> Result<Condition, ParseError> {
        let mut alternatives = Vec::new();
        let mut all = vec![self.label_filter()?];
        loop {
            let before = self.at;
            if self.eat(",") || self.eat("and ") {
                all.push(self.label_filter()?);
            } else if self.eat("or ") {
                alternatives.push(and(std::mem::take(&mut all)));
                all.push(self.label_filter()?);
            } else {
                self.skip_space();
                if self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                {
                    all.push(self.label_filter()?);
                } else {
                    self.at = before;
                    break;
                }
            }
        }
        alternatives.push(and(all));
        Ok(if alternatives.len() == 1 {
            alternatives.pop().unwrap_or(Condition::All)
        } else {
            Condition::Or(alternatives)
        })
    }

    fn label_filter(&mut self) -> Result<Condition, ParseError> {
        self.skip_space();
        let position = self.at;
        let Some(name) = self.identifier() else {
            return Err(self.error_here("expected a label filter such as status >= 500"));
        };
        let op = ["==", "=~", "!~", "!=", ">=", "<=", "=", ">", "<"]
            .into_iter()
            .find(|op| self.eat(op))
            .ok_or_else(|| {
                self.error_here(format!(
                    "expected an operator after {name}: =, !=, =~, !~, >, >=, <, <="
                ))
            })?;
        self.skip_space();
        if matches!(self.peek(), Some('"' | '`')) {
            let value = self.string()?;
            return field_filter(position, &name, op, value);
        }
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        {
            self.at += 1;
        }
        let text: String = self.chars[start..self.at].iter().collect();
        let number: f64 = text.parse().map_err(|_| {
            if text.is_empty() {
                error(start, format!("expected a value after {name} {op}"))
            } else {
                error(
                    start,
                    format!("{text:?} is not a number (durations and byte sizes are not supported in label filters)"),
                )
            }
        })?;
        numeric_filter(position, &name, op, number)
    }

    fn metric(&mut self, depth: usize) -> Result<MetricExpr, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error_here(format!("nested more than {MAX_DEPTH} deep")));
        }
        self.skip_space();
        let position = self.at;
        let Some(name) = self.identifier() else {
            return Err(self.error_here(
                "expected a stream selector {…} or a function such as count_over_time",
            ));
        };
        let function = match name.as_str() {
            "count_over_time" => Some(RangeFunction::CountOverTime),
            "rate" => Some(RangeFunction::Rate),
            "bytes_over_time" => Some(RangeFunction::BytesOverTime),
            "bytes_rate" => Some(RangeFunction::BytesRate),
            _ => None,
        };
        if let Some(function) = function {
            self.expect("(", &format!("( after {name}"))?;
            let query = self.log_query()?;
            self.expect("[", "[range] after the log query, such as [5m]")?;
            let start = self.at;
            while self.peek().is_some_and(|c| c != ']') {
                self.at += 1;
            }
            let text: String = self.chars[start..self.at].iter().collect();
            let range = app::time::parse_duration(&text)
                .map_err(|e| error(start, format!("{text:?} is not a duration: {e}")))?;
            let range_ms = range.num_milliseconds();
            if range_ms <= 0 || range_ms > MAX_RANGE_MS {
                return Err(error(
                    start,
                    "a range must be longer than 0 and at most 366d",
                ));
            }
            self.expect("]", "]")?;
            self.expect(")", ")")?;
            return Ok(MetricExpr::Range {
                function,
                query,
                range_ms,
            });
        }
        let op = match name.as_str() {
            "sum" => Aggregation::Sum,
            "count" => Aggregation::Count,
            "min" => Aggregation::Min,
            "max" => Aggregation::Max,
            "avg" => Aggregation::Avg,
            "topk" => Aggregation::Topk(0),
            "bottomk" => Aggregation::Bottomk(0),
            _ => {
                return Err(error(
                    position,
                    format!("`{name}` is not supported; the functions are count_over_time, rate, bytes_over_time, bytes_rate, sum, count, min, max, avg, topk, bottomk"),
                ))
            }
        };
        let mut grouping = self.grouping()?;
        self.expect("(", &format!("( after {name}"))?;
        let op = match op {
            Aggregation::Topk(_) | Aggregation::Bottomk(_) => {
                self.skip_space();
                let start = self.at;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
                let k: usize = self.chars[start..self.at]
                    .iter()
                    .collect::<String>()
                    .parse()
                    .ok()
                    .filter(|k| *k > 0)
                    .ok_or_else(|| {
                        error(start, format!("{name} takes a whole number above 0 first"))
                    })?;
                self.expect(",", ", after the number")?;
                if matches!(op, Aggregation::Topk(_)) {
                    Aggregation::Topk(k)
                } else {
                    Aggregation::Bottomk(k)
                }
            }
            op => op,
        };
        let inner = self.metric(depth + 1)?;
        self.expect(")", ")")?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        Ok(MetricExpr::Aggregate {
            op,
            grouping,
            inner: Box::new(inner),
        })
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
        let before = self.at;
        let without = match self.identifier().as_deref() {
            Some("by") => false,
            Some("without") => true,
            _ => {
                self.at = before;
                return Ok(None);
            }
        };
        self.expect("(", "( after by or without")?;
        let mut labels = Vec::new();
        if !self.eat(")") {
            loop {
                let Some(name) = self.identifier() else {
                    return Err(self.error_here("expected a label name"));
                };
                labels.push(name);
                if self.eat(")") {
                    break;
                }
                self.expect(",", ", or )")?;
            }
        }
        Ok(Some(Grouping { without, labels }))
    }
}

fn and(mut parts: Vec<Condition>) -> Condition {
    match parts.len() {
        0 => Condition::All,
        1 => parts.pop().unwrap_or(Condition::All),
        _ => Condition::And(parts),
    }
}

fn check_regex(pattern: &str, position: usize) -> Result<(), ParseError> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map(|_| ())
        .map_err(|e| error(position, format!("not a regular expression: {e}")))
}

/// Whether a regular expression matches the empty text (then it also matches a missing label).
fn matches_empty(pattern: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|r| r.is_match(""))
}

/// A stream-selector matcher: on the stream's labels only. A missing label is the empty text.
fn label_matcher(
    position: usize,
    name: &str,
    op: &str,
    value: String,
) -> Result<Condition, ParseError> {
    let field = Field::Label(name.to_string());
    let missing = || Condition::Not(Box::new(Condition::Exists(field.clone())));
    let condition = match op {
        "=" | "!=" => {
            let equal = if value.is_empty() {
                missing()
            } else {
                Condition::Equals {
                    field: field.clone(),
                    value,
                }
            };
            if op == "=" {
                equal
            } else {
                Condition::Not(Box::new(equal))
            }
        }
        _ => {
            check_regex(&value, position)?;
            let empty = matches_empty(&value);
            let matching = Condition::Regex {
                field: field.clone(),
                pattern: format!("^(?:{value})$"),
                case_insensitive: false,
            };
            let matching = if empty {
                Condition::Or(vec![missing(), matching])
            } else {
                matching
            };
            if op == "=~" {
                matching
            } else {
                Condition::Not(Box::new(matching))
            }
        }
    };
    Ok(condition)
}

/// The lines whose label `name` is `value`, as a label of a metric query's result means it
/// (`level` is the line's level; `agent_id` also finds `agent.id`).
pub fn label_equals(name: &str, value: &str) -> Condition {
    field_filter(0, name, "=", value.to_string()).unwrap_or(Condition::All)
}

/// The field a label filter looks at: `level` and `detected_level` are the line's level;
/// a name with `_` also finds the attribute spelled with dots (`agent_id` is `agent.id`).
fn filter_fields(name: &str) -> Vec<Field> {
    let mut out = vec![Field::Named(name.to_string())];
    if name.contains('_') && !name.starts_with('_') {
        out.push(Field::Named(name.replace('_', ".")));
    }
    out
}

fn any(fields: Vec<Field>, make: impl Fn(Field) -> Condition) -> Condition {
    let mut parts: Vec<Condition> = fields.into_iter().map(make).collect();
    if parts.len() == 1 {
        parts.pop().unwrap_or(Condition::All)
    } else {
        Condition::Or(parts)
    }
}

fn field_filter(
    position: usize,
    name: &str,
    op: &str,
    value: String,
) -> Result<Condition, ParseError> {
    if name == "__error__" || name == "__error_details__" {
        // Lines are parsed when stored: no line carries a parse error.
        return Ok(match (op, value.is_empty()) {
            ("=" | "==", true) | ("!=", false) => Condition::All,
            _ => Condition::Not(Box::new(Condition::All)),
        });
    }
    if name == "level" || name == "detected_level" {
        if let ("=" | "==" | "!=", Some(level)) = (op, crate::logs::severity_of_text(&value)) {
            let class = level_class(level);
            return Ok(if op == "!=" {
                Condition::Not(Box::new(class))
            } else {
                class
            });
        }
        if matches!(op, "=~" | "!~") {
            // The levels whose names match, as severity ranges.
            check_regex(&value, position)?;
            let re = regex::Regex::new(&format!("(?i)^(?:{value})$"))
                .map_err(|e| error(position, format!("not a regular expression: {e}")))?;
            let classes: Vec<Condition> = app::api::logs::LEVELS
                .iter()
                .filter(|(name, _)| re.is_match(name))
                .map(|(_, severity)| level_class(*severity))
                .collect();
            let matching = Condition::Or(classes);
            return Ok(if op == "!~" {
                Condition::Not(Box::new(matching))
            } else {
                matching
            });
        }
    }
    let fields = filter_fields(name);
    Ok(match op {
        "=" | "==" | "!=" => {
            let equal = if value.is_empty() {
                Condition::Not(Box::new(any(fields, Condition::Exists)))
            } else {
                any(fields, |field| Condition::Equals {
                    field,
                    value: value.clone(),
                })
            };
            if op == "!=" {
                Condition::Not(Box::new(equal))
            } else {
                equal
            }
        }
        "=~" | "!~" => {
            check_regex(&value, position)?;
            let matching = any(fields, |field| Condition::Regex {
                field,
                pattern: format!("^(?:{value})$"),
                case_insensitive: false,
            });
            if op == "!~" {
                Condition::Not(Box::new(matching))
            } else {
                matching
            }
        }
        _ => {
            let number: f64 = value.parse().map_err(|_| {
                error(
                    position,
                    format!("{name} {op} compares numbers; {value:?} is not one"),
                )
            })?;
            return numeric_filter(position, name, op, number);
        }
    })
}

/// The lines of a level: its four severity numbers.
fn level_class(severity: u8) -> Condition {
    let low = f64::from(severity.saturating_sub(1) / 4 * 4 + 1);
    Condition::And(vec![
        Condition::Compare {
            field: Field::Severity,
            op: crate::store::logs::Op::Ge,
            value: low,
        },
        Condition::Compare {
            field: Field::Severity,
            op: crate::store::logs::Op::Le,
            value: low + 3.0,
        },
    ])
}

fn numeric_filter(
    position: usize,
    name: &str,
    op: &str,
    number: f64,
) -> Result<Condition, ParseError> {
    use crate::store::logs::Op;
    let compare = |op| {
        move |field| Condition::Compare {
            field,
            op,
            value: number,
        }
    };
    let fields = filter_fields(name);
    Ok(match op {
        ">" => any(fields, compare(Op::Gt)),
        ">=" => any(fields, compare(Op::Ge)),
        "<" => any(fields, compare(Op::Lt)),
        "<=" => any(fields, compare(Op::Le)),
        "=" | "==" | "!=" => {
            let equal = any(fields, |field| {
                Condition::And(vec![compare(Op::Ge)(field.clone()), compare(Op::Le)(field)])
            });
            if op == "!=" {
                Condition::Not(Box::new(equal))
            } else {
                equal
            }
        }
        _ => return Err(error(position, format!("{op} does not compare numbers"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::logs::Op;

    fn label(n: &str) -> Field {
        Field::Label(n.into())
    }

    fn log(text: &str) -> LogQuery {
        match parse(text).unwrap() {
            Expr::Log(q) => q,
            other => panic!("not a log query: {other:?}"),
        }
    }

    #[test]
    fn selectors_and_line_filters() {
        let q = log(
            r#"{app="api", env=~"prod|dev", team!="", pod!~`test-.*`} |= "timeout" != "retry" |~ "5\\d\\d""#,
        );
        assert_eq!(
            q.condition,
            Condition::And(vec![
                Condition::Equals {
                    field: label("app"),
                    value: "api".into()
                },
                Condition::Regex {
                    field: label("env"),
                    pattern: "^(?:prod|dev)$".into(),
                    case_insensitive: false
                },
                Condition::Not(Box::new(Condition::Not(Box::new(Condition::Exists(
                    label("team")
                ))))),
                Condition::Not(Box::new(Condition::Regex {
                    field: label("pod"),
                    pattern: "^(?:test-.*)$".into(),
                    case_insensitive: false
                })),
                Condition::Contains("timeout".into()),
                Condition::Not(Box::new(Condition::Contains("retry".into()))),
                Condition::Regex {
                    field: Field::Body,
                    pattern: "5\\d\\d".into(),
                    case_insensitive: false
                },
            ])
        );
        assert!(!q.parsed);
        // A regex that matches the empty text also matches streams without the label.
        assert_eq!(
            log(r#"{app=~".*"}"#).condition,
            Condition::Or(vec![
                Condition::Not(Box::new(Condition::Exists(label("app")))),
                Condition::Regex {
                    field: label("app"),
                    pattern: "^(?:.*)$".into(),
                    case_insensitive: false
                }
            ])
        );
    }

    #[test]
    fn parsers_and_label_filters() {
        let q = log(
            r#"{app="api"} | json | status >= 500 and method="GET" or level="error" | drop __error__, x | __error__="""#,
        );
        assert!(q.parsed);
        assert_eq!(q.dropped, vec!["__error__", "x"]);
        let Condition::And(parts) = &q.condition else {
            panic!("{:?}", q.condition)
        };
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], Condition::All);
        let Condition::Or(alternatives) = &parts[1] else {
            panic!("{:?}", parts[1])
        };
        assert_eq!(
            alternatives[0],
            Condition::And(vec![
                Condition::Compare {
                    field: Field::Named("status".into()),
                    op: Op::Ge,
                    value: 500.0
                },
                Condition::Equals {
                    field: Field::Named("method".into()),
                    value: "GET".into()
                }
            ])
        );
        // `level` is the line's level: error is 17..=20.
        assert_eq!(
            alternatives[1],
            Condition::And(vec![
                Condition::Compare {
                    field: Field::Severity,
                    op: Op::Ge,
                    value: 17.0
                },
                Condition::Compare {
                    field: Field::Severity,
                    op: Op::Le,
                    value: 20.0
                }
            ])
        );
        // agent_id also finds the OTLP attribute agent.id.
        assert_eq!(
            log(r#"{a="b"} | agent_id="coder-1""#).condition,
            Condition::And(vec![
                Condition::Equals {
                    field: label("a"),
                    value: "b".into()
                },
                Condition::Or(vec![
                    Condition::Equals {
                        field: Field::Named("agent_id".into()),
                        value: "coder-1".into()
                    },
                    Condition::Equals {
                        field: Field::Named("agent.id".into()),
                        value: "coder-1".into()
                    }
                ])
            ])
        );
    }

    #[test]
    fn metric_queries() {
        let Expr::Metric(m) =
            parse(r#"sum by (level) (count_over_time({app="api"} |= "x" [5m]))"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(m.only_labels(), Some(&["level".to_string()][..]));
        let (function, query, range) = m.range();
        assert_eq!(function, RangeFunction::CountOverTime);
        assert_eq!(range, 300_000);
        assert!(!query.parsed);
        let Expr::Metric(m) =
            parse(r#"topk(3, sum(rate({app="api"} | logfmt [1m])) by (path))"#).unwrap()
        else {
            panic!()
        };
        let MetricExpr::Aggregate { op, inner, .. } = &m else {
            panic!()
        };
        assert_eq!(*op, Aggregation::Topk(3));
        assert!(
            matches!(&**inner, MetricExpr::Aggregate { grouping: Some(g), .. } if g.labels == ["path"])
        );
        assert_eq!(m.only_labels(), None);
    }

    #[test]
    fn errors_say_where_and_what() {
        for (query, position, words) in [
            ("{app=\"api\"", 10, "expected , or }"),
            (
                "{app=\"api\"} | line_format \"x\"",
                14,
                "`line_format` stage is not supported",
            ),
            ("rate({app=\"x\"}[5x])", 15, "not a duration"),
            ("rate({app=\"x\"}[400d])", 15, "at most 366d"),
            ("quantile_over_time(0.9, {a=\"b\"}[1m])", 0, "not supported"),
            ("{a=\"b\"} |~ \"(\"", 8, "not a regular expression"),
            ("{a=\"b\"} | n > 10s", 14, "not a number"),
            ("{a=\"b\"} x", 8, "unexpected text"),
            ("topk(0, rate({a=\"b\"}[1m]))", 5, "above 0"),
        ] {
            let e = parse(query).unwrap_err();
            assert!(e.message.contains(words), "{query}: {e}");
            assert_eq!(e.position, position, "{query}: {e}");
        }
        let deep = format!(
            "{}count_over_time({{a=\"b\"}}[1m]){}",
            "sum(".repeat(40),
            ")".repeat(40)
        );
        assert!(parse(&deep).unwrap_err().message.contains("nested"));
        assert!(parse(&"{a=\"b\"}".repeat(10_000)).is_err());
    }
}
