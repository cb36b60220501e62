//! PromQL functions: range-vector functions (rate and the `*_over_time` family), element-wise
//! math, label manipulation, histograms, time and date functions.

use super::{
    drop_metric_name,
    eval::{average, kahan_sum, quantile, variance, Engine},
    eval_error, label_value, set_label, EvalResult, Labels, Sample, Value,
};
use chrono::{DateTime, Datelike, Timelike};
use promql_parser::parser::Expr;
use std::collections::BTreeMap;

type Args = [Box<Expr>];

fn arg<'a>(args: &'a Args, i: usize, name: &str) -> EvalResult<&'a Expr> {
    args.get(i)
        .map(|a| a.as_ref())
        .ok_or_else(|| super::EvalError(format!("{name}: missing argument {}", i + 1)))
}

/// Calls function `name` at `t`.
pub(super) fn call(engine: &Engine<'_>, name: &str, args: &Args, t: i64) -> EvalResult<Value> {
    match name {
        "rate" | "increase" | "delta" => range_fn(engine, name, args, t, |points, range_ms, at| {
            extrapolated_rate(points, range_ms, at, name != "delta", name == "rate")
        }),
        "irate" | "idelta" => range_fn(engine, name, args, t, |points, _, _| {
            instant_delta(points, name == "irate")
        }),
        "deriv" => range_fn(engine, name, args, t, |points, _, _| {
            (points.len() >= 2).then(|| linear_regression(points, points[0].0).0)
        }),
        "predict_linear" => {
            let seconds =
                engine.eval_scalar(arg(args, 1, name)?, t, "the duration of predict_linear")?;
            range_fn(engine, name, args, t, |points, _, at| {
                (points.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(points, at);
                    slope * seconds + intercept
                })
            })
        }
        "resets" => range_fn(engine, name, args, t, |points, _, _| {
            Some(points.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64)
        }),
        "changes" => range_fn(engine, name, args, t, |points, _, _| {
            Some(
                points
                    .windows(2)
                    .filter(|w| !(w[1].1 == w[0].1 || (w[1].1.is_nan() && w[0].1.is_nan())))
                    .count() as f64,
            )
        }),
        "avg_over_time" => over_time(engine, name, args, t, average),
        "sum_over_time" => over_time(engine, name, args, t, kahan_sum),
        "count_over_time" => over_time(engine, name, args, t, |v| v.len() as f64),
        "min_over_time" => over_time(engine, name, args, t, |v| {
            v.iter()
                .copied()
                .fold(f64::NAN, |a, x| if a.is_nan() || x < a { x } else { a })
        }),
        "max_over_time" => over_time(engine, name, args, t, |v| {
            v.iter()
                .copied()
                .fold(f64::NAN, |a, x| if a.is_nan() || x > a { x } else { a })
        }),
        "stddev_over_time" => over_time(engine, name, args, t, |v| variance(v).sqrt()),
        "stdvar_over_time" => over_time(engine, name, args, t, variance),
        "mad_over_time" => over_time(engine, name, args, t, |v| {
            let median = quantile(0.5, v.to_vec());
            quantile(0.5, v.iter().map(|x| (x - median).abs()).collect())
        }),
        "present_over_time" => over_time(engine, name, args, t, |_| 1.0),
        "quantile_over_time" => {
            let phi = engine.eval_scalar(arg(args, 0, name)?, t, "φ")?;
            let matrix =
                engine.eval_matrix(arg(args, 1, name)?, t, "the range of quantile_over_time")?;
            Ok(Value::Vector(
                matrix
                    .into_iter()
                    .map(|s| Sample {
                        labels: drop_metric_name(&s.labels),
                        value: quantile(phi, s.points.iter().map(|p| p.1).collect()),
                    })
                    .collect(),
            ))
        }
        "last_over_time" => {
            let matrix =
                engine.eval_matrix(arg(args, 0, name)?, t, "the range of last_over_time")?;
            Ok(Value::Vector(
                matrix
                    .into_iter()
                    .filter_map(|s| {
                        s.points.last().map(|p| Sample {
                            labels: s.labels.clone(),
                            value: p.1,
                        })
                    })
                    .collect(),
            ))
        }
        "absent_over_time" => {
            let matrix =
                engine.eval_matrix(arg(args, 0, name)?, t, "the range of absent_over_time")?;
            Ok(Value::Vector(if matrix.is_empty() {
                vec![Sample {
                    labels: absent_labels(arg(args, 0, name)?),
                    value: 1.0,
                }]
            } else {
                vec![]
            }))
        }
        "absent" => {
            let vector = engine.eval_vector(arg(args, 0, name)?, t, "the argument of absent")?;
            Ok(Value::Vector(if vector.is_empty() {
                vec![Sample {
                    labels: absent_labels(arg(args, 0, name)?),
                    value: 1.0,
                }]
            } else {
                vec![]
            }))
        }
        "abs" => elementwise(engine, name, args, t, f64::abs),
        "ceil" => elementwise(engine, name, args, t, f64::ceil),
        "floor" => elementwise(engine, name, args, t, f64::floor),
        "exp" => elementwise(engine, name, args, t, f64::exp),
        "ln" => elementwise(engine, name, args, t, f64::ln),
        "log2" => elementwise(engine, name, args, t, f64::log2),
        "log10" => elementwise(engine, name, args, t, f64::log10),
        "sqrt" => elementwise(engine, name, args, t, f64::sqrt),
        "sgn" => elementwise(engine, name, args, t, |v| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        }),
        "sin" => elementwise(engine, name, args, t, f64::sin),
        "cos" => elementwise(engine, name, args, t, f64::cos),
        "tan" => elementwise(engine, name, args, t, f64::tan),
        "asin" => elementwise(engine, name, args, t, f64::asin),
        "acos" => elementwise(engine, name, args, t, f64::acos),
        "atan" => elementwise(engine, name, args, t, f64::atan),
        "sinh" => elementwise(engine, name, args, t, f64::sinh),
        "cosh" => elementwise(engine, name, args, t, f64::cosh),
        "tanh" => elementwise(engine, name, args, t, f64::tanh),
        "asinh" => elementwise(engine, name, args, t, f64::asinh),
        "acosh" => elementwise(engine, name, args, t, f64::acosh),
        "atanh" => elementwise(engine, name, args, t, f64::atanh),
        "deg" => elementwise(engine, name, args, t, f64::to_degrees),
        "rad" => elementwise(engine, name, args, t, f64::to_radians),
        "pi" => Ok(Value::Scalar(std::f64::consts::PI)),
        "round" => {
            let to = match args.get(1) {
                Some(a) => engine.eval_scalar(a, t, "the precision of round")?,
                None => 1.0,
            };
            let inverse = 1.0 / to;
            elementwise(engine, name, args, t, move |v| {
                (v * inverse + 0.5).floor() / inverse
            })
        }
        "clamp" => {
            let min = engine.eval_scalar(arg(args, 1, name)?, t, "min")?;
            let max = engine.eval_scalar(arg(args, 2, name)?, t, "max")?;
            if max < min {
                return Ok(Value::Vector(vec![]));
            }
            elementwise(engine, name, args, t, move |v| {
                nan_max(min, nan_min(max, v))
            })
        }
        "clamp_min" => {
            let min = engine.eval_scalar(arg(args, 1, name)?, t, "min")?;
            elementwise(engine, name, args, t, move |v| nan_max(min, v))
        }
        "clamp_max" => {
            let max = engine.eval_scalar(arg(args, 1, name)?, t, "max")?;
            elementwise(engine, name, args, t, move |v| nan_min(max, v))
        }
        "timestamp" => timestamp(engine, args, t),
        "time" => Ok(Value::Scalar(t as f64 / 1000.0)),
        "scalar" => {
            let v = engine.eval_vector(arg(args, 0, name)?, t, "the argument of scalar")?;
            Ok(Value::Scalar(if v.len() == 1 {
                v[0].value
            } else {
                f64::NAN
            }))
        }
        "vector" => {
            let v = engine.eval_scalar(arg(args, 0, name)?, t, "the argument of vector")?;
            Ok(Value::Vector(vec![Sample {
                labels: Labels::new(),
                value: v,
            }]))
        }
        "sort" | "sort_desc" => {
            let mut v = engine.eval_vector(arg(args, 0, name)?, t, "the argument of sort")?;
            v.sort_by(|a, b| super::cmp_nan_last(a.value, b.value, name == "sort_desc"));
            Ok(Value::Vector(v))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut v =
                engine.eval_vector(arg(args, 0, name)?, t, "the argument of sort_by_label")?;
            let names: Vec<String> = args[1..]
                .iter()
                .map(|a| engine.eval_string(a, t, "label"))
                .collect::<EvalResult<_>>()?;
            v.sort_by(|a, b| {
                let order = names
                    .iter()
                    .map(|n| natural_cmp(label_value(&a.labels, n), label_value(&b.labels, n)))
                    .find(|o| o.is_ne())
                    .unwrap_or_else(|| a.labels.cmp(&b.labels));
                if name == "sort_by_label_desc" {
                    order.reverse()
                } else {
                    order
                }
            });
            Ok(Value::Vector(v))
        }
        "label_replace" => label_replace(engine, args, t),
        "label_join" => label_join(engine, args, t),
        "histogram_quantile" => histogram_quantile(engine, args, t),
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => date_fn(engine, name, args, t),
        other => eval_error(format!("function {other}() is not supported yet")),
    }
}

/// Go's math.Max: NaN wins.
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's math.Min: NaN wins.
fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Applies `f` to the points of each series of the range argument (the first argument that is a
/// range vector); labels lose the metric name.
fn range_fn(
    engine: &Engine<'_>,
    name: &str,
    args: &Args,
    t: i64,
    f: impl Fn(&[(i64, f64)], i64, i64) -> Option<f64>,
) -> EvalResult<Value> {
    let expr = arg(args, 0, name)?;
    let (range_ms, at) = range_window(engine, expr, t);
    // A plain selector's windows are read in place; anything else is evaluated to a matrix.
    let mut inner = expr;
    while let Expr::Paren(p) = inner {
        inner = &p.expr;
    }
    if let Expr::MatrixSelector(ms) = inner {
        let mut out = Vec::new();
        engine.for_each_window(ms, t, &mut |labels, points| {
            if let Some(value) = f(points, range_ms, at) {
                out.push(Sample {
                    labels: drop_metric_name(labels),
                    value,
                });
            }
        });
        return Ok(Value::Vector(out));
    }
    let matrix = engine.eval_matrix(expr, t, &format!("the argument of {name}"))?;
    Ok(Value::Vector(
        matrix
            .into_iter()
            .filter_map(|s| {
                f(&s.points, range_ms, at).map(|value| Sample {
                    labels: drop_metric_name(&s.labels),
                    value,
                })
            })
            .collect(),
    ))
}

/// The window length and its end for a range argument, after `@` (a time, `start()` or
/// `end()`) and `offset`.
fn range_window(engine: &Engine<'_>, expr: &Expr, t: i64) -> (i64, i64) {
    let (range, offset, at) = match expr {
        Expr::Paren(p) => return range_window(engine, &p.expr, t),
        Expr::MatrixSelector(ms) => (ms.range, &ms.vs.offset, &ms.vs.at),
        Expr::Subquery(sq) => (sq.range, &sq.offset, &sq.at),
        _ => return (0, t),
    };
    (
        super::duration_ms(&range),
        engine.at_time(at, t) - super::offset_ms(offset),
    )
}

fn over_time(
    engine: &Engine<'_>,
    name: &str,
    args: &Args,
    t: i64,
    f: impl Fn(&[f64]) -> f64,
) -> EvalResult<Value> {
    range_fn(engine, name, args, t, |points, _, _| {
        let values: Vec<f64> = points.iter().map(|p| p.1).collect();
        (!values.is_empty()).then(|| f(&values))
    })
}

/// Prometheus' extrapolatedRate: the increase over the window, extrapolated to its edges.
fn extrapolated_rate(
    points: &[(i64, f64)],
    range_ms: i64,
    end: i64,
    counter: bool,
    per_second: bool,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let start = end - range_ms;
    let (first_t, first_v) = points[0];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - first_v;
    if counter {
        for w in points.windows(2) {
            if w[1].1 < w[0].1 {
                result += w[0].1;
            }
        }
    }
    let mut to_start = (first_t - start) as f64 / 1000.0;
    let mut to_end = (end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average_gap = sampled / (points.len() - 1) as f64;
    // Extrapolate to an edge only when it is about one sample gap away, else by half a gap.
    let threshold = average_gap * 1.1;
    if to_start >= threshold {
        to_start = average_gap / 2.0;
    }
    if to_end >= threshold {
        to_end = average_gap / 2.0;
    }
    // A counter cannot go below zero: never extrapolate past the point where it would.
    if counter && result > 0.0 && first_v >= 0.0 {
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let interval = sampled + to_start + to_end;
    result *= interval / sampled;
    if per_second {
        result /= range_ms as f64 / 1000.0;
    }
    Some(result)
}

fn instant_delta(points: &[(i64, f64)], per_second: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (prev_t, prev_v) = points[points.len() - 2];
    let (last_t, last_v) = points[points.len() - 1];
    let mut delta = last_v - prev_v;
    if per_second {
        if last_v < prev_v {
            delta = last_v; // a counter reset
        }
        let seconds = (last_t - prev_t) as f64 / 1000.0;
        if seconds == 0.0 {
            return None;
        }
        delta /= seconds;
    }
    Some(delta)
}

/// Least-squares slope (per second) and the value at `intercept_time`.
fn linear_regression(points: &[(i64, f64)], intercept_time: i64) -> (f64, f64) {
    let n = points.len() as f64;
    let (mut sum_x, mut sum_y, mut sum_xy, mut sum_x2) = (0.0, 0.0, 0.0, 0.0);
    let mut constant_y = true;
    let first_y = points[0].1;
    for &(t, v) in points {
        if v != first_y {
            constant_y = false;
        }
        let x = (t - intercept_time) as f64 / 1000.0;
        sum_x += x;
        sum_y += v;
        sum_xy += x * v;
        sum_x2 += x * x;
    }
    if constant_y {
        return (0.0, first_y);
    }
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// Compares strings with runs of digits taken as numbers (`cpu2` before `cpu10`).
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, _) => return std::cmp::Ordering::Less,
            (_, None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (&a[..da], &b[..db]);
                let trim = |n: &[u8]| -> usize { n.iter().take_while(|c| **c == b'0').count() };
                let (ta, tb) = (&na[trim(na)..], &nb[trim(nb)..]);
                let order = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if order.is_ne() {
                    return order;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn elementwise(
    engine: &Engine<'_>,
    name: &str,
    args: &Args,
    t: i64,
    f: impl Fn(f64) -> f64,
) -> EvalResult<Value> {
    let v = engine.eval_vector(arg(args, 0, name)?, t, &format!("the argument of {name}"))?;
    Ok(Value::Vector(
        v.into_iter()
            .map(|s| Sample {
                labels: drop_metric_name(&s.labels),
                value: f(s.value),
            })
            .collect(),
    ))
}

fn timestamp(engine: &Engine<'_>, args: &Args, t: i64) -> EvalResult<Value> {
    // The timestamp of the sample a selector picked, not the evaluation time.
    let mut expr = arg(args, 0, "timestamp")?;
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    if let Expr::VectorSelector(vs) = expr {
        let mut out = Vec::new();
        engine.for_each_latest(vs, t, &mut |labels, at, _| {
            out.push(Sample {
                labels: drop_metric_name(labels),
                value: at as f64 / 1000.0,
            })
        });
        return Ok(Value::Vector(out));
    }
    let v = engine.eval_vector(expr, t, "the argument of timestamp")?;
    Ok(Value::Vector(
        v.into_iter()
            .map(|s| Sample {
                labels: drop_metric_name(&s.labels),
                value: t as f64 / 1000.0,
            })
            .collect(),
    ))
}

/// The labels `absent` reports: the equality matchers of the selector.
fn absent_labels(expr: &Expr) -> Labels {
    use promql_parser::label::MatchOp;
    let vs = match expr {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::new(),
    };
    let mut labels = Labels::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &vs.matchers.matchers {
        *seen.entry(m.name.as_str()).or_default() += 1;
    }
    for m in &vs.matchers.matchers {
        if matches!(m.op, MatchOp::Equal) && m.name != "__name__" && seen[m.name.as_str()] == 1 {
            set_label(&mut labels, &m.name, &m.value);
        }
    }
    labels
}

fn label_replace(engine: &Engine<'_>, args: &Args, t: i64) -> EvalResult<Value> {
    let v = engine.eval_vector(
        arg(args, 0, "label_replace")?,
        t,
        "the argument of label_replace",
    )?;
    let dst = engine.eval_string(arg(args, 1, "label_replace")?, t, "dst_label")?;
    let replacement = engine.eval_string(arg(args, 2, "label_replace")?, t, "replacement")?;
    let src = engine.eval_string(arg(args, 3, "label_replace")?, t, "src_label")?;
    let pattern = engine.eval_string(arg(args, 4, "label_replace")?, t, "regex")?;
    let regex = regex::Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| {
        super::EvalError(format!(
            "invalid regular expression in label_replace(): {pattern}: {e}"
        ))
    })?;
    if !crate::labels::is_valid_label_name(&dst) && dst != "__name__" {
        return eval_error(format!(
            "invalid destination label name in label_replace(): {dst}"
        ));
    }
    let mut out = Vec::with_capacity(v.len());
    let mut seen = std::collections::HashSet::new();
    for mut s in v {
        let value = label_value(&s.labels, &src).to_string();
        if let Some(caps) = regex.captures(&value) {
            let mut result = String::new();
            caps.expand(&replacement, &mut result);
            set_label(&mut s.labels, &dst, &result);
        }
        if !seen.insert(s.labels.clone()) {
            return eval_error("vector cannot contain metrics with the same labelset");
        }
        out.push(s);
    }
    Ok(Value::Vector(out))
}

fn label_join(engine: &Engine<'_>, args: &Args, t: i64) -> EvalResult<Value> {
    let v = engine.eval_vector(arg(args, 0, "label_join")?, t, "the argument of label_join")?;
    let dst = engine.eval_string(arg(args, 1, "label_join")?, t, "dst_label")?;
    let separator = engine.eval_string(arg(args, 2, "label_join")?, t, "separator")?;
    let sources: Vec<String> = args[3..]
        .iter()
        .map(|a| engine.eval_string(a, t, "src_label"))
        .collect::<EvalResult<_>>()?;
    if !crate::labels::is_valid_label_name(&dst) && dst != "__name__" {
        return eval_error(format!(
            "invalid destination label name in label_join(): {dst}"
        ));
    }
    Ok(Value::Vector(
        v.into_iter()
            .map(|mut s| {
                let joined: Vec<&str> = sources
                    .iter()
                    .map(|src| label_value(&s.labels, src))
                    .collect();
                let joined = joined.join(&separator);
                set_label(&mut s.labels, &dst, &joined);
                s
            })
            .collect(),
    ))
}

/// histogram_quantile over classic buckets (`le` labels), as Prometheus' bucketQuantile.
fn histogram_quantile(engine: &Engine<'_>, args: &Args, t: i64) -> EvalResult<Value> {
    let phi = engine.eval_scalar(arg(args, 0, "histogram_quantile")?, t, "φ")?;
    let v = engine.eval_vector(arg(args, 1, "histogram_quantile")?, t, "the buckets")?;
    let mut groups: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    for s in v {
        let le = label_value(&s.labels, "le");
        // Rust reads "+Inf" as Go does.
        let Ok(upper) = le.parse::<f64>() else {
            continue;
        };
        let labels: Labels = drop_metric_name(&s.labels)
            .into_iter()
            .filter(|(n, _)| n != "le")
            .collect();
        groups.entry(labels).or_default().push((upper, s.value));
    }
    Ok(Value::Vector(
        groups
            .into_iter()
            .map(|(labels, buckets)| Sample {
                labels,
                value: bucket_quantile(phi, buckets),
            })
            .collect(),
    ))
}

fn bucket_quantile(phi: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.len() < 2 || buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
        return f64::NAN;
    }
    // Merge buckets with the same bound and make counts monotonic.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (upper, count) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == upper => last.1 += count,
            _ => merged.push((upper, count)),
        }
    }
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        if b.1 < max {
            b.1 = max;
        } else {
            max = b.1;
        }
    }
    let total = merged[merged.len() - 1].1;
    if total == 0.0 || total.is_nan() {
        return f64::NAN;
    }
    let rank = phi * total;
    let index = merged
        .iter()
        .position(|b| b.1 >= rank)
        .unwrap_or(merged.len() - 1);
    if index == merged.len() - 1 {
        return merged[merged.len() - 2].0;
    }
    if index == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (bucket_start, count_before) = if index == 0 {
        (0.0, 0.0)
    } else {
        (merged[index - 1].0, merged[index - 1].1)
    };
    let bucket_end = merged[index].0;
    let count_in = merged[index].1 - count_before;
    let rank_in = rank - count_before;
    bucket_start + (bucket_end - bucket_start) * (rank_in / count_in)
}

fn date_fn(engine: &Engine<'_>, name: &str, args: &Args, t: i64) -> EvalResult<Value> {
    let samples = match args.first() {
        Some(a) => engine.eval_vector(a, t, &format!("the argument of {name}"))?,
        None => vec![Sample {
            labels: Labels::new(),
            value: t as f64 / 1000.0,
        }],
    };
    let f = |v: f64| -> f64 {
        if !v.is_finite() {
            return f64::NAN;
        }
        let Some(d) = DateTime::from_timestamp(v.floor() as i64, 0) else {
            return f64::NAN;
        };
        match name {
            "day_of_month" => d.day() as f64,
            "day_of_week" => d.weekday().num_days_from_sunday() as f64,
            "day_of_year" => d.ordinal() as f64,
            "days_in_month" => {
                let (y, m) = (d.year(), d.month());
                let next = if m == 12 {
                    chrono::NaiveDate::from_ymd_opt(y + 1, 1, 1)
                } else {
                    chrono::NaiveDate::from_ymd_opt(y, m + 1, 1)
                };
                next.and_then(|n| n.pred_opt())
                    .map_or(f64::NAN, |last| last.day() as f64)
            }
            "hour" => d.hour() as f64,
            "minute" => d.minute() as f64,
            "month" => d.month() as f64,
            _ => d.year() as f64,
        }
    };
    Ok(Value::Vector(
        samples
            .into_iter()
            .map(|s| Sample {
                labels: drop_metric_name(&s.labels),
                value: f(s.value),
            })
            .collect(),
    ))
}
