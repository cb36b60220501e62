//! A runner for Prometheus' own PromQL test files (`server/tests/promql-testdata/*.test`, from
//! Prometheus v2.53.5): it loads their series into a [`MemorySource`], evaluates every `eval`
//! and compares with the expected result, and reports passes per file.

use super::{evaluate_instant, MemorySource, Series, Value};
use crate::labels::is_valid_label_name;
use promql_parser::parser::{self, Expr};
use std::path::Path;

enum Expected {
    Fail,
    Scalar(f64),
    Vector(Vec<(Vec<(String, String)>, f64)>),
}

/// Parses a PromQL duration such as `5m` or `1h30m` to milliseconds.
fn duration_ms(text: &str) -> Result<i64, String> {
    app::time::parse_duration(text).map(|d| d.num_milliseconds())
}

fn parse_number(text: &str) -> Result<f64, String> {
    match text {
        "Inf" | "+Inf" | "inf" | "+inf" => Ok(f64::INFINITY),
        "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
        "NaN" | "nan" => Ok(f64::NAN),
        _ => {
            if let Some(hex) = text.strip_prefix("0x") {
                return i64::from_str_radix(hex, 16)
                    .map(|v| v as f64)
                    .map_err(|e| e.to_string());
            }
            text.parse::<f64>().map_err(|e| format!("{text}: {e}"))
        }
    }
}

/// Expands the values of a `load` line: `1 2 _ stale 0+10x5 1x3 _x2`.
fn expand_values(tokens: &[&str]) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for token in tokens {
        if *token == "_" {
            out.push(None);
            continue;
        }
        if *token == "stale" {
            out.push(Some(f64::from_bits(super::STALE_NAN_BITS)));
            continue;
        }
        if let Some((head, count)) = token.rsplit_once('x') {
            if let Ok(n) = count.parse::<usize>() {
                if head == "_" {
                    out.extend(std::iter::repeat_n(None, n));
                    continue;
                }
                // Split "a+b" or "a-b" at the sign that is not the leading one or an exponent's.
                let bytes = head.as_bytes();
                let split = (1..bytes.len()).find(|&i| {
                    (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E')
                });
                let (start, step) = match split {
                    Some(i) => (parse_number(&head[..i])?, parse_number(&head[i..])?),
                    None => (parse_number(head)?, 0.0),
                };
                for k in 0..=n {
                    out.push(Some(start + step * k as f64));
                }
                continue;
            }
        }
        out.push(Some(parse_number(token)?));
    }
    Ok(out)
}

/// Splits `metric{a="b c"} rest` after the selector.
fn split_selector(line: &str) -> (&str, &str) {
    let line = line.trim();
    let mut in_quotes = false;
    let mut escaped = false;
    let mut depth = 0;
    for (i, c) in line.char_indices() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = false;
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return (&line[..=i], line[i + 1..].trim());
                }
            }
            c if c.is_whitespace() && depth == 0 => return (&line[..i], line[i..].trim()),
            _ => {}
        }
    }
    (line, "")
}

fn selector_labels(text: &str) -> Result<Vec<(String, String)>, String> {
    if text == "{}" {
        return Ok(Vec::new());
    }
    let Expr::VectorSelector(vs) = parser::parse(text)? else {
        return Err(format!("{text} is not a series"));
    };
    let mut labels: Vec<(String, String)> = vs
        .matchers
        .matchers
        .iter()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    if let Some(name) = vs.name {
        labels.push(("__name__".into(), name));
    }
    labels.retain(|(n, v)| !v.is_empty() && (n == "__name__" || is_valid_label_name(n)));
    labels.sort();
    Ok(labels)
}

fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 1e-6;
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if (a.is_nan() && b.is_nan()) || a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

fn check(actual: Result<Value, String>, expected: &Expected, ordered: bool) -> Result<(), String> {
    match (actual, expected) {
        (Err(_), Expected::Fail) => Ok(()),
        (Ok(_), Expected::Fail) => Err("expected an error".into()),
        (Err(e), _) => Err(e),
        (Ok(Value::Scalar(v)), Expected::Scalar(want)) => {
            if almost_equal(v, *want) {
                Ok(())
            } else {
                Err(format!("got {v}, want {want}"))
            }
        }
        (Ok(Value::Vector(samples)), Expected::Vector(want)) => {
            if samples.len() != want.len() {
                return Err(format!(
                    "got {} samples, want {}",
                    samples.len(),
                    want.len()
                ));
            }
            let mut used = vec![false; samples.len()];
            for (i, (labels, value)) in want.iter().enumerate() {
                let found = if ordered {
                    (*samples[i].labels == *labels && almost_equal(samples[i].value, *value))
                        .then_some(i)
                } else {
                    (0..samples.len()).find(|&j| {
                        !used[j]
                            && *samples[j].labels == *labels
                            && almost_equal(samples[j].value, *value)
                    })
                };
                match found {
                    Some(j) => used[j] = true,
                    None => return Err(format!("missing {labels:?} {value}")),
                }
            }
            Ok(())
        }
        (Ok(other), _) => Err(format!("got a {}", other.type_name())),
    }
}

/// Runs one file; returns (passed, total, failures).
fn run_file(text: &str) -> (usize, usize, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut source = MemorySource::default();
    let (mut passed, mut total, mut failures) = (0, 0, Vec::new());
    let mut i = 0;
    let block = |i: &mut usize| -> Vec<&str> {
        let mut body = Vec::new();
        while *i < lines.len() && (lines[*i].starts_with(' ') || lines[*i].starts_with('\t')) {
            body.push(lines[*i].trim());
            *i += 1;
        }
        body
    };
    while i < lines.len() {
        let line = lines[i].trim_end();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "clear" {
            source = MemorySource::default();
            continue;
        }
        if let Some(interval) = line.strip_prefix("load ") {
            let step = duration_ms(interval.trim()).unwrap_or(60_000);
            for series_line in block(&mut i) {
                let (selector, values) = split_selector(series_line);
                let (Ok(labels), Ok(values)) = (
                    selector_labels(selector),
                    expand_values(&values.split_whitespace().collect::<Vec<_>>()),
                ) else {
                    continue;
                };
                let points: Vec<(i64, f64)> = values
                    .into_iter()
                    .enumerate()
                    .filter_map(|(k, v)| v.map(|v| (k as i64 * step, v)))
                    .collect();
                match source.series.iter_mut().find(|s| *s.labels == labels) {
                    Some(existing) => {
                        existing.points.extend(points);
                        existing.points.sort_by_key(|p| p.0);
                    }
                    None => source.series.push(Series {
                        labels: labels.into(),
                        points,
                    }),
                }
            }
            continue;
        }
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        if !kind.starts_with("eval") {
            continue;
        }
        let Some(rest) = rest.strip_prefix("instant at ") else {
            continue;
        };
        let (at, expr) = rest.split_once(' ').unwrap_or((rest, ""));
        let body = block(&mut i);
        total += 1;
        let expected = if kind == "eval_fail" {
            Expected::Fail
        } else if body.len() == 1 && parse_number(body[0]).is_ok() {
            Expected::Scalar(parse_number(body[0]).unwrap_or(f64::NAN))
        } else {
            let mut want = Vec::new();
            for l in &body {
                let (selector, value) = split_selector(l);
                match (selector_labels(selector), parse_number(value)) {
                    (Ok(labels), Ok(v)) => want.push((labels, v)),
                    _ => want.push((vec![("unparsed".into(), l.to_string())], f64::NAN)),
                }
            }
            Expected::Vector(want)
        };
        let at_ms = duration_ms(at).unwrap_or(0);
        let actual = parser::parse(expr).and_then(|e| {
            evaluate_instant(&source, &e, at_ms, &super::Budget::unlimited()).map_err(|e| e.0)
        });
        match check(actual, &expected, kind == "eval_ordered") {
            Ok(()) => passed += 1,
            Err(why) => failures.push(format!("line {}: {expr}: {why}", i - body.len())),
        }
    }
    (passed, total, failures)
}

/// Runs every upstream file and returns (file, passed, total, failures).
pub fn run_all(dir: &Path) -> Vec<(String, usize, usize, Vec<String>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the upstream PromQL test files are in the repository")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable test file");
            let (passed, total, failures) = run_file(&text);
            (
                path.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                passed,
                total,
                failures,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The share of upstream cases that pass must not fall below what docs/promql.md records.
    const MIN_PASSING: usize = 546;

    #[test]
    fn values_expand_as_the_test_language_says() {
        let v = expand_values(&["0+10x3", "_", "1x2", "-2-1x1", "_x2", "1e3"]).unwrap();
        let v: Vec<Option<f64>> = v;
        assert_eq!(
            v,
            vec![
                Some(0.0),
                Some(10.0),
                Some(20.0),
                Some(30.0),
                None,
                Some(1.0),
                Some(1.0),
                Some(1.0),
                Some(-2.0),
                Some(-3.0),
                None,
                None,
                Some(1000.0)
            ]
        );
    }

    #[test]
    fn selectors_split_from_their_values() {
        assert_eq!(
            split_selector(r#"m{a="x y", b="}"} 1 2"#),
            (r#"m{a="x y", b="}"}"#, "1 2")
        );
        assert_eq!(split_selector("m 1 2"), ("m", "1 2"));
    }

    #[test]
    fn upstream_promql_test_files_pass_at_the_recorded_rate() {
        // At run time: a test binary may be reused by a clone elsewhere (a shared build
        // directory), where the directory it was compiled in no longer holds the data.
        let manifest =
            std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into());
        let dir = Path::new(&manifest).join("tests/promql-testdata");
        let results = run_all(&dir);
        let (mut passed, mut total) = (0, 0);
        for (file, p, t, failures) in &results {
            println!("{file}: {p}/{t}");
            for f in failures.iter().take(50) {
                println!("    {f}");
            }
            passed += p;
            total += t;
        }
        println!("total: {passed}/{total}");
        assert!(total > 500, "the upstream files hold over 500 cases");
        assert!(
            passed >= MIN_PASSING,
            "{passed} of {total} upstream cases pass; at least {MIN_PASSING} did before"
        );
    }
}
