//! Evaluation of a parsed expression at one instant, and of a range query step by step.

use super::{
    drop_metric_name, eval_error, format_labels, functions, is_stale_marker, label_value,
    set_label, Budget, EvalError, EvalResult, Labels, Sample, Series, Source, Value,
};
use promql_parser::{
    label::{MatchOp, Matcher},
    parser::{
        AggregateExpr, AtModifier, BinaryExpr, Expr, LabelModifier, Offset, SubqueryExpr,
        VectorMatchCardinality, VectorSelector,
    },
};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::{Duration, SystemTime},
};

/// Prometheus' default lookback for instant vector selectors.
pub const DEFAULT_LOOKBACK_MS: i64 = 5 * 60 * 1000;
/// The step of a subquery that names none (Prometheus' default evaluation interval).
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60 * 1000;

/// Evaluates expressions over one source for a query that spans `start..=end`.
pub struct Engine<'a> {
    source: &'a dyn Source,
    budget: &'a Budget,
    lookback: i64,
    /// The query's own start and end, which `@ start()` and `@ end()` refer to.
    start: i64,
    end: i64,
}

/// The stack of each thread that evaluates a query: deep expressions recurse, and the depth a
/// query may have is bounded by the query service to fit in it with room to spare.
pub const EVAL_STACK_BYTES: usize = 8 << 20;

/// Evaluates `expr` at `t` (milliseconds) within `budget`.
pub fn evaluate_instant(
    source: &dyn Source,
    expr: &Expr,
    t: i64,
    budget: &Budget,
) -> EvalResult<Value> {
    super::forget_derived();
    budget.check()?;
    Engine {
        source,
        budget,
        lookback: DEFAULT_LOOKBACK_MS,
        start: t,
        end: t,
    }
    .eval(expr, t)
}

/// Evaluates `expr` at every step from `start` to `end` and returns a matrix (series ordered by
/// labels). Steps are independent, so long ranges are split across the machine's cores.
pub fn evaluate_range(
    source: &dyn Source,
    expr: &Expr,
    start: i64,
    end: i64,
    step: i64,
    budget: &Budget,
) -> EvalResult<Vec<Series>> {
    if step <= 0 {
        return eval_error("step must be positive");
    }
    let steps = (end - start).div_euclid(step) + 1;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
        .min((steps / MIN_STEPS_PER_THREAD).max(1) as usize) as i64;
    let per_thread = (steps + threads - 1) / threads.max(1);
    let parts: Vec<EvalResult<StepSeries>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let first = start + k * per_thread * step;
                let last = (first + (per_thread - 1) * step).min(end);
                std::thread::Builder::new()
                    .name("query-eval".into())
                    .stack_size(EVAL_STACK_BYTES)
                    .spawn_scoped(scope, move || {
                        evaluate_steps(source, expr, (start, end), first, last, step, budget)
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| eval_error("query evaluation panicked")),
                Err(e) => eval_error(format!("no thread for the query: {e}")),
            })
            .collect()
    });
    let mut out: super::FastMap<Labels, Vec<(i64, f64)>> = super::FastMap::default();
    for part in parts {
        // Parts are in step order, so each series' points stay in time order.
        for (labels, points) in part? {
            out.entry(labels).or_default().extend(points);
        }
    }
    let mut series: Vec<Series> = out
        .into_iter()
        .map(|(labels, points)| Series { labels, points })
        .collect();
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(series)
}

/// Fewer steps than this per thread are not worth a thread.
const MIN_STEPS_PER_THREAD: i64 = 60;

type StepSeries = super::FastMap<Labels, Vec<(i64, f64)>>;

/// Evaluates the steps from `first` to `last` of a range query over `query` (its start, end).
fn evaluate_steps(
    source: &dyn Source,
    expr: &Expr,
    query: (i64, i64),
    first: i64,
    last: i64,
    step: i64,
    budget: &Budget,
) -> EvalResult<StepSeries> {
    super::forget_derived();
    let engine = Engine {
        source,
        budget,
        lookback: DEFAULT_LOOKBACK_MS,
        start: query.0,
        end: query.1,
    };
    let mut out = StepSeries::default();
    let mut t = first;
    while t <= last {
        budget.check()?;
        match engine.eval(expr, t)? {
            Value::Scalar(v) => {
                budget.keep(1)?;
                out.entry(Labels::new()).or_default().push((t, v))
            }
            Value::Vector(samples) => {
                budget.keep(samples.len())?;
                for s in samples {
                    out.entry(s.labels).or_default().push((t, s.value));
                }
            }
            other => {
                return eval_error(format!(
                    "range query must return a vector or a scalar, got {}",
                    other.type_name()
                ))
            }
        }
        t += step;
    }
    super::forget_derived();
    Ok(out)
}

pub fn duration_ms(d: &Duration) -> i64 {
    d.as_millis() as i64
}

pub fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => -duration_ms(d),
        None => 0,
    }
}

pub fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// The matchers of a selector, its metric name included.
pub fn selector_matchers(vs: &VectorSelector) -> Vec<Matcher> {
    let mut matchers = vs.matchers.matchers.clone();
    if let Some(name) = &vs.name {
        if !matchers.iter().any(|m| m.name == "__name__") {
            matchers.push(Matcher::new(MatchOp::Equal, "__name__", name));
        }
    }
    matchers
}

/// A key naming the values of some labels.
fn signature(
    labels: &Labels,
    modifier: Option<&LabelModifier>,
    drop_name_by_default: bool,
) -> String {
    let mut key = String::new();
    let mut push = |n: &str, v: &str| {
        key.push_str(n);
        key.push('\u{1}');
        key.push_str(v);
        key.push('\u{2}');
    };
    match modifier {
        Some(LabelModifier::Include(on)) => {
            let mut names: Vec<&String> = on.labels.iter().collect();
            names.sort();
            names.dedup();
            for n in names {
                push(n, label_value(labels, n));
            }
        }
        Some(LabelModifier::Exclude(ignoring)) => {
            for (n, v) in labels {
                if n != "__name__" && !ignoring.labels.contains(n) {
                    push(n, v);
                }
            }
        }
        None => {
            for (n, v) in labels {
                if !(drop_name_by_default && n == "__name__") {
                    push(n, v);
                }
            }
        }
    }
    key
}

impl Engine<'_> {
    /// The time an `@` modifier pins evaluation to; `t` without one.
    pub(super) fn at_time(&self, at: &Option<AtModifier>, t: i64) -> i64 {
        match at {
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
            Some(AtModifier::At(time)) => system_time_ms(time),
            None => t,
        }
    }

    /// Evaluates `expr` at `t`.
    pub fn eval(&self, expr: &Expr, t: i64) -> EvalResult<Value> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(samples) => Ok(Value::Vector(
                    samples
                        .into_iter()
                        .map(|s| Sample {
                            labels: drop_metric_name(&s.labels),
                            value: -s.value,
                        })
                        .collect(),
                )),
                other => eval_error(format!(
                    "unary minus is not defined on a {}",
                    other.type_name()
                )),
            },
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.eval_vector_selector(vs, t))),
            Expr::MatrixSelector(ms) => {
                let base = self.at_time(&ms.vs.at, t) - offset_ms(&ms.vs.offset);
                let range = duration_ms(&ms.range);
                Ok(Value::Matrix(self.select_range(&ms.vs, base - range, base)))
            }
            Expr::Subquery(sq) => Ok(Value::Matrix(self.eval_subquery(sq, t)?)),
            Expr::Aggregate(agg) => self.eval_aggregate(agg, t),
            Expr::Binary(b) => self.eval_binary(b, t),
            Expr::Call(call) => match functions::call(self, call.func.name, &call.args.args, t)? {
                Value::Vector(samples) => unique(samples),
                other => Ok(other),
            },
            Expr::Extension(_) => eval_error("extension expressions are not supported"),
        }
    }

    /// Returns the latest sample of each selected series within the lookback window.
    fn eval_vector_selector(&self, vs: &VectorSelector, t: i64) -> Vec<Sample> {
        let mut out = Vec::new();
        self.for_each_latest(vs, t, &mut |labels, _, value| {
            out.push(Sample {
                labels: labels.clone(),
                value,
            })
        });
        out
    }

    /// Calls `f` with the labels, time and value of each selected series' latest sample within
    /// the lookback window at `t`; a series whose latest sample is a staleness marker has ended
    /// and is skipped.
    pub(super) fn for_each_latest(
        &self,
        vs: &VectorSelector,
        t: i64,
        f: &mut dyn FnMut(&Labels, i64, f64),
    ) {
        let base = self.at_time(&vs.at, t) - offset_ms(&vs.offset);
        let matchers = selector_matchers(vs);
        self.source.for_each(
            &matchers,
            base - self.lookback,
            base,
            &mut |labels, points| {
                if let Some(&(at, value)) = points.last() {
                    if !is_stale_marker(value) {
                        f(labels, at, value);
                    }
                }
            },
        );
    }

    /// Returns the points of each selected series in `[from, to]`, staleness markers removed.
    /// Calls `f` with each series' points in the window of matrix selector `ms` at `t`, without
    /// staleness markers, skipping series with none; the points are lent, not copied.
    pub(super) fn for_each_window(
        &self,
        ms: &promql_parser::parser::MatrixSelector,
        t: i64,
        f: &mut super::Visit<'_>,
    ) {
        let base = self.at_time(&ms.vs.at, t) - offset_ms(&ms.vs.offset);
        let range = duration_ms(&ms.range);
        let mut filtered = Vec::new();
        self.source.for_each(
            &selector_matchers(&ms.vs),
            base - range,
            base,
            &mut |labels, points| {
                let points = if points.iter().any(|p| is_stale_marker(p.1)) {
                    filtered.clear();
                    filtered.extend(points.iter().filter(|p| !is_stale_marker(p.1)));
                    filtered.as_slice()
                } else {
                    points
                };
                if !points.is_empty() {
                    f(labels, points);
                }
            },
        );
    }

    fn select_range(&self, vs: &VectorSelector, from: i64, to: i64) -> Vec<Series> {
        self.source
            .select(&selector_matchers(vs), from, to)
            .into_iter()
            .map(|mut s| {
                s.points.retain(|(_, v)| !is_stale_marker(*v));
                s
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    }

    fn eval_subquery(&self, sq: &SubqueryExpr, t: i64) -> EvalResult<Vec<Series>> {
        let base = self.at_time(&sq.at, t) - offset_ms(&sq.offset);
        let range = duration_ms(&sq.range);
        let step = sq
            .step
            .as_ref()
            .map(duration_ms)
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_SUBQUERY_STEP_MS);
        let from = base - range;
        let mut first = from.div_euclid(step) * step;
        if first < from {
            first += step;
        }
        // Each step holds at least a sample's worth: a subquery with billions of steps is
        // refused at once instead of being walked until the deadline.
        let steps = usize::try_from((base - first).div_euclid(step) + 1).unwrap_or(0);
        self.budget.fits(steps)?;
        let inner = Engine {
            source: self.source,
            budget: self.budget,
            lookback: self.lookback,
            start: self.start,
            end: self.end,
        };
        let mut out: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        let mut at = first;
        let mut held = 0usize;
        while at <= base {
            self.budget.check()?;
            match inner.eval(&sq.expr, at)? {
                Value::Vector(samples) => {
                    held += samples.len();
                    self.budget.fits(held.max(steps))?;
                    for s in samples {
                        out.entry(s.labels).or_default().push((at, s.value));
                    }
                }
                Value::Scalar(v) => out.entry(Labels::new()).or_default().push((at, v)),
                other => {
                    return eval_error(format!(
                        "subquery needs an instant vector, got {}",
                        other.type_name()
                    ))
                }
            }
            at += step;
        }
        Ok(out
            .into_iter()
            .map(|(labels, points)| Series { labels, points })
            .collect())
    }

    /// Evaluates an argument that must be a scalar.
    pub(super) fn eval_scalar(&self, expr: &Expr, t: i64, what: &str) -> EvalResult<f64> {
        match self.eval(expr, t)? {
            Value::Scalar(v) => Ok(v),
            other => eval_error(format!(
                "{what} must be a scalar, got {}",
                other.type_name()
            )),
        }
    }

    pub(super) fn eval_vector(&self, expr: &Expr, t: i64, what: &str) -> EvalResult<Vec<Sample>> {
        match self.eval(expr, t)? {
            Value::Vector(v) => Ok(v),
            other => eval_error(format!(
                "{what} must be an instant vector, got {}",
                other.type_name()
            )),
        }
    }

    pub(super) fn eval_matrix(&self, expr: &Expr, t: i64, what: &str) -> EvalResult<Vec<Series>> {
        match self.eval(expr, t)? {
            Value::Matrix(m) => Ok(m),
            other => eval_error(format!(
                "{what} must be a range vector, got {}",
                other.type_name()
            )),
        }
    }

    pub(super) fn eval_string(&self, expr: &Expr, t: i64, what: &str) -> EvalResult<String> {
        match self.eval(expr, t)? {
            Value::String(s) => Ok(s),
            other => eval_error(format!(
                "{what} must be a string, got {}",
                other.type_name()
            )),
        }
    }

    fn eval_aggregate(&self, agg: &AggregateExpr, t: i64) -> EvalResult<Value> {
        let op = agg.op.to_string().to_lowercase();
        let samples = self.eval_vector(&agg.expr, t, &format!("the argument of {op}"))?;
        let modifier = agg.modifier.as_ref();
        let group_labels = |labels: &Labels| -> Labels {
            match modifier {
                Some(LabelModifier::Include(by)) => labels
                    .iter()
                    .filter(|(n, _)| by.labels.contains(n))
                    .cloned()
                    .collect(),
                Some(LabelModifier::Exclude(without)) => labels
                    .iter()
                    .filter(|(n, _)| n != "__name__" && !without.labels.contains(n))
                    .cloned()
                    .collect(),
                None => Labels::new(),
            }
        };
        // The grouping of a shared label set is the same at every step: made once. Groups
        // are found by hash and then ordered by their labels.
        let kind = agg as *const AggregateExpr as usize;
        let mut index: super::FastMap<Labels, usize> = super::FastMap::default();
        let mut groups: Vec<(Labels, Vec<Sample>)> = Vec::new();
        for s in samples {
            let group = super::derived(kind, &s.labels, group_labels);
            match index.get(&group) {
                Some(&i) => groups[i].1.push(s),
                None => {
                    index.insert(group.clone(), groups.len());
                    groups.push((group, vec![s]));
                }
            }
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let param = agg.param.as_deref();
        let out: Vec<Sample> = match op.as_str() {
            "topk" | "bottomk" => {
                let k = self.eval_scalar(
                    param.ok_or_else(|| EvalError(format!("{op} needs a parameter")))?,
                    t,
                    "k",
                )?;
                if k.is_nan() {
                    return eval_error(format!("parameter of {op} must not be NaN"));
                }
                let k = if k < 1.0 { 0 } else { k.min(1e9) as usize };
                let mut out = Vec::new();
                for (_, mut members) in groups {
                    // Largest (topk) or smallest (bottomk) first, NaN always last.
                    members.sort_by(|a, b| super::cmp_nan_last(a.value, b.value, op == "topk"));
                    out.extend(members.into_iter().take(k));
                }
                out
            }
            "count_values" => {
                let label = self.eval_string(
                    param.ok_or_else(|| EvalError("count_values needs a label name".into()))?,
                    t,
                    "label",
                )?;
                if !crate::labels::is_valid_label_name(&label) {
                    return eval_error(format!("invalid label name \"{label}\""));
                }
                let mut out: BTreeMap<Labels, f64> = BTreeMap::new();
                for (group, members) in groups {
                    for s in members {
                        let mut labels = group.clone();
                        set_label(&mut labels, &label, &format_value(s.value));
                        *out.entry(labels).or_default() += 1.0;
                    }
                }
                out.into_iter()
                    .map(|(labels, value)| Sample { labels, value })
                    .collect()
            }
            _ => {
                let phi = match op.as_str() {
                    "quantile" => Some(self.eval_scalar(
                        param.ok_or_else(|| EvalError("quantile needs φ".into()))?,
                        t,
                        "φ",
                    )?),
                    _ => None,
                };
                let mut out = Vec::with_capacity(groups.len());
                for (labels, members) in groups {
                    let values: Vec<f64> = members.iter().map(|s| s.value).collect();
                    let value = match op.as_str() {
                        "sum" => kahan_sum(&values),
                        "avg" => average(&values),
                        "min" => values.iter().copied().fold(f64::NAN, |acc, v| {
                            if acc.is_nan() || v < acc {
                                v
                            } else {
                                acc
                            }
                        }),
                        "max" => values.iter().copied().fold(f64::NAN, |acc, v| {
                            if acc.is_nan() || v > acc {
                                v
                            } else {
                                acc
                            }
                        }),
                        "count" => values.len() as f64,
                        "group" => 1.0,
                        "stddev" => variance(&values).sqrt(),
                        "stdvar" => variance(&values),
                        "quantile" => quantile(phi.unwrap_or(f64::NAN), values),
                        other => {
                            return eval_error(format!("aggregation {other} is not supported"))
                        }
                    };
                    out.push(Sample { labels, value });
                }
                out
            }
        };
        Ok(Value::Vector(out))
    }

    fn eval_binary(&self, b: &BinaryExpr, t: i64) -> EvalResult<Value> {
        let op = b.op.to_string();
        let return_bool = b.return_bool();
        let lhs = self.eval(&b.lhs, t)?;
        let rhs = self.eval(&b.rhs, t)?;
        let comparison = is_comparison(&op);
        match (lhs, rhs) {
            (Value::Scalar(l), Value::Scalar(r)) => {
                let (value, keep) = scalar_binop(&op, l, r)?;
                if comparison && !return_bool {
                    return eval_error("comparisons between scalars must use bool");
                }
                Ok(Value::Scalar(if comparison {
                    f64::from(u8::from(keep))
                } else {
                    value
                }))
            }
            (Value::Vector(v), Value::Scalar(s)) => {
                Ok(Value::Vector(vector_scalar(&op, v, s, false, return_bool)?))
            }
            (Value::Scalar(s), Value::Vector(v)) => {
                Ok(Value::Vector(vector_scalar(&op, v, s, true, return_bool)?))
            }
            (Value::Vector(l), Value::Vector(r)) => Ok(Value::Vector(self.vector_vector(
                b,
                &op,
                l,
                r,
                return_bool,
            )?)),
            (l, r) => eval_error(format!(
                "binary {op} is not defined between {} and {}",
                l.type_name(),
                r.type_name()
            )),
        }
    }

    fn vector_vector(
        &self,
        b: &BinaryExpr,
        op: &str,
        lhs: Vec<Sample>,
        rhs: Vec<Sample>,
        return_bool: bool,
    ) -> EvalResult<Vec<Sample>> {
        let modifier = b.modifier.as_ref();
        let matching = modifier.and_then(|m| m.matching.as_ref());
        let sig = |labels: &Labels| signature(labels, matching, true);
        match op {
            "and" => {
                let right: HashSet<String> = rhs.iter().map(|s| sig(&s.labels)).collect();
                return Ok(lhs
                    .into_iter()
                    .filter(|s| right.contains(&sig(&s.labels)))
                    .collect());
            }
            "unless" => {
                let right: HashSet<String> = rhs.iter().map(|s| sig(&s.labels)).collect();
                return Ok(lhs
                    .into_iter()
                    .filter(|s| !right.contains(&sig(&s.labels)))
                    .collect());
            }
            "or" => {
                let left: HashSet<String> = lhs.iter().map(|s| sig(&s.labels)).collect();
                let mut out = lhs;
                out.extend(rhs.into_iter().filter(|s| !left.contains(&sig(&s.labels))));
                return Ok(out);
            }
            _ => {}
        }
        let card = modifier.map(|m| &m.card);
        let (many, one, swapped) = match card {
            Some(VectorMatchCardinality::OneToMany(_)) => (rhs, lhs, true),
            _ => (lhs, rhs, false),
        };
        let include: Vec<String> = match card {
            Some(VectorMatchCardinality::ManyToOne(ls))
            | Some(VectorMatchCardinality::OneToMany(ls)) => ls.labels.clone(),
            _ => Vec::new(),
        };
        let one_to_one = !matches!(
            card,
            Some(VectorMatchCardinality::ManyToOne(_)) | Some(VectorMatchCardinality::OneToMany(_))
        );
        let mut right: HashMap<String, &Sample> = HashMap::new();
        for s in &one {
            if right.insert(sig(&s.labels), s).is_some() {
                let side = if swapped { "left" } else { "right" };
                return eval_error(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: many-to-many matching not allowed: matching labels must be unique on one side",
                    format_labels(&s.labels)
                ));
            }
        }
        let comparison = is_comparison(op);
        let drop_name = !comparison || return_bool;
        let mut matched: HashSet<String> = HashSet::new();
        let mut seen: HashSet<Labels> = HashSet::new();
        let mut out = Vec::new();
        for s in many {
            let key = sig(&s.labels);
            let Some(other) = right.get(&key) else {
                continue;
            };
            if one_to_one && !matched.insert(key) {
                return eval_error(format!(
                    "multiple matches for labels {}: many-to-one matching must be explicit (group_left/group_right)",
                    format_labels(&s.labels)
                ));
            }
            let (l, r) = if swapped {
                (other.value, s.value)
            } else {
                (s.value, other.value)
            };
            let (value, keep) = scalar_binop(op, l, r)?;
            let (value, keep) = if return_bool {
                (f64::from(u8::from(keep)), true)
            } else {
                (value, keep)
            };
            if !keep {
                continue;
            }
            let mut labels = if drop_name {
                drop_metric_name(&s.labels)
            } else {
                s.labels.clone()
            };
            if one_to_one {
                match matching {
                    Some(LabelModifier::Include(on)) => {
                        labels.retain(|(n, _)| on.labels.contains(n))
                    }
                    Some(LabelModifier::Exclude(ignoring)) => {
                        labels.retain(|(n, _)| !ignoring.labels.contains(n))
                    }
                    None => {}
                }
            }
            for name in &include {
                set_label(&mut labels, name, label_value(&other.labels, name));
            }
            if !seen.insert(labels.clone()) {
                return eval_error(format!(
                    "multiple matches for labels {}: grouping labels must ensure unique matches",
                    format_labels(&labels)
                ));
            }
            out.push(Sample { labels, value });
        }
        Ok(out)
    }
}

/// Refuses a vector in which two samples have the same labels (after a function or an operator
/// dropped the metric name), as Prometheus does.
fn unique(samples: Vec<Sample>) -> EvalResult<Value> {
    let mut seen: std::collections::HashSet<
        &Labels,
        std::hash::BuildHasherDefault<super::FastHasher>,
    > = std::collections::HashSet::with_capacity_and_hasher(samples.len(), Default::default());
    for s in &samples {
        if !seen.insert(&s.labels) {
            return eval_error("vector cannot contain metrics with the same labelset");
        }
    }
    Ok(Value::Vector(samples))
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// Applies an arithmetic or comparison operator: (value, keep). Comparisons keep the left value.
pub(super) fn scalar_binop(op: &str, l: f64, r: f64) -> EvalResult<(f64, bool)> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => return eval_error(format!("operator {other} is not defined between numbers")),
    })
}

fn vector_scalar(
    op: &str,
    samples: Vec<Sample>,
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
) -> EvalResult<Vec<Sample>> {
    if matches!(op, "and" | "or" | "unless") {
        return eval_error(format!(
            "set operator {op} is not allowed between a vector and a scalar"
        ));
    }
    let comparison = is_comparison(op);
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        let (l, r) = if scalar_on_left {
            (scalar, s.value)
        } else {
            (s.value, scalar)
        };
        let (mut value, mut keep) = scalar_binop(op, l, r)?;
        if comparison && scalar_on_left {
            value = s.value;
        }
        if return_bool {
            value = f64::from(u8::from(keep));
            keep = true;
        }
        if keep {
            let labels = if !comparison || return_bool {
                drop_metric_name(&s.labels)
            } else {
                s.labels
            };
            out.push(Sample { labels, value });
        }
    }
    Ok(out)
}

/// Formats a value as Prometheus' strconv.FormatFloat(v, 'f', -1, 64) does for label values.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// Sums with Kahan-Babuška compensation, as Prometheus does.
pub(super) fn kahan_sum(values: &[f64]) -> f64 {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for &v in values {
        let t = sum + v;
        if t.is_infinite() {
            c = 0.0;
        } else if sum.abs() >= v.abs() {
            c += (sum - t) + v;
        } else {
            c += (v - t) + sum;
        }
        sum = t;
    }
    if sum.is_infinite() {
        sum
    } else {
        sum + c
    }
}

pub(super) fn average(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let sum = kahan_sum(values);
    if sum.is_finite() {
        return sum / values.len() as f64;
    }
    // Overflow or infinities: an incremental mean keeps finite inputs finite.
    let mut mean = 0.0f64;
    for (i, &v) in values.iter().enumerate() {
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) != (v > 0.0) {
                return f64::NAN;
            }
            continue;
        }
        mean += v / (i + 1) as f64 - mean / (i + 1) as f64;
    }
    mean
}

/// Population variance, as stdvar computes it.
pub(super) fn variance(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let (mut count, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
    for &v in values {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        m2 += delta * (v - mean);
    }
    m2 / count
}

/// The φ-quantile with linear interpolation, as Prometheus' quantile aggregation.
pub(super) fn quantile(phi: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = values.len() as f64;
    let rank = phi * (n - 1.0);
    let lower = rank.floor().max(0.0) as usize;
    let upper = (lower + 1).min(values.len() - 1);
    let weight = rank - rank.floor();
    values[lower] * (1.0 - weight) + values[upper] * weight
}
