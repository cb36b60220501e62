//! The Prometheus text exposition format (0.0.4, and the OpenMetrics text a target may send
//! instead): `# HELP`, `# TYPE`, and `name{label="value",…} value [timestamp]` lines.

use crate::labels::{is_valid_label_name, is_valid_metric_name};

/// One sample line.
#[derive(Debug, PartialEq)]
pub struct Sample {
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// Milliseconds, when the target gave one.
    pub timestamp: Option<i64>,
}

/// What a `# HELP` / `# TYPE` line says about a metric family.
#[derive(Debug, Default, PartialEq)]
pub struct Family {
    pub name: String,
    pub kind: String,
    pub help: String,
}

#[derive(Debug, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<Sample>,
    pub families: Vec<Family>,
}

/// Parses a whole exposition; the error names the line and what is wrong with it.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut out = Exposition::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() {
            continue;
        }
        let result = if let Some(comment) = line.strip_prefix('#') {
            parse_comment(comment, &mut out.families);
            Ok(())
        } else {
            parse_sample(line).map(|s| out.samples.push(s))
        };
        result.map_err(|e| format!("line {}: {e}", n + 1))?;
    }
    Ok(out)
}

fn family<'a>(families: &'a mut Vec<Family>, name: &str) -> &'a mut Family {
    match families.iter().position(|f| f.name == name) {
        Some(i) => &mut families[i],
        None => {
            families.push(Family {
                name: name.to_string(),
                ..Default::default()
            });
            families.last_mut().expect("just pushed")
        }
    }
}

fn parse_comment(comment: &str, families: &mut Vec<Family>) {
    let mut parts = comment.trim_start().splitn(3, [' ', '\t']);
    let (Some(keyword), Some(name)) = (parts.next(), parts.next()) else {
        return;
    };
    let rest = parts.next().unwrap_or("").trim();
    match keyword {
        "HELP" => family(families, name).help = unescape(rest, false),
        "TYPE" => family(families, name).kind = rest.to_ascii_lowercase(),
        _ => {}
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let metric = &line[..name_end];
    if !is_valid_metric_name(metric) {
        return Err(format!("invalid metric name {metric:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("{metric} has no value"))?;
    let value = parse_value(value).ok_or_else(|| format!("{metric}: invalid value {value:?}"))?;
    let timestamp = match fields.next() {
        None => None,
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| format!("{metric}: invalid timestamp {t:?}"))?,
        ),
    };
    Ok(Sample {
        metric: metric.to_string(),
        labels,
        value,
        timestamp,
    })
}

/// Parses `a="1",b="2"}` and returns what follows the closing brace.
fn parse_labels<'a>(mut s: &'a str, labels: &mut Vec<(String, String)>) -> Result<&'a str, String> {
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok(after);
        }
        let eq = s.find('=').ok_or("label without '='")?;
        let name = s[..eq].trim();
        if !is_valid_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        s = s[eq + 1..].trim_start();
        s = s.strip_prefix('"').ok_or("label value must be quoted")?;
        // The closing quote is the first one not escaped.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("unterminated label value")?;
        labels.push((name.to_string(), unescape(&s[..end], true)));
        s = s[end + 1..].trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

fn unescape(s: &str, quotes: bool) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') if quotes => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_families_samples_escapes_and_timestamps() {
        let text = r#"
# HELP http_requests_total The total number of "requests".\nSecond line
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{ method = "get", path="C:\\dir\"x\"" , } 3
# A comment
process_start_time_seconds 1.7e9
up_ratio NaN
temp{le="+Inf"} -Inf
# EOF
"#;
        let e = parse(text).unwrap();
        assert_eq!(e.families[0].kind, "counter");
        assert_eq!(
            e.families[0].help,
            "The total number of \"requests\".\nSecond line"
        );
        assert_eq!(e.samples.len(), 5);
        assert_eq!(e.samples[0].timestamp, Some(1_395_066_363_000));
        assert_eq!(
            e.samples[1].labels,
            vec![
                ("method".into(), "get".into()),
                ("path".into(), r#"C:\dir"x""#.into())
            ]
        );
        assert_eq!(e.samples[2].value, 1.7e9);
        assert!(e.samples[3].value.is_nan());
        assert_eq!(e.samples[4].value, f64::NEG_INFINITY);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("ok 1\nbad-name 2").unwrap_err(),
            "line 2: invalid metric name \"bad-name\""
        );
        assert!(parse("x{a=1} 2").unwrap_err().contains("quoted"));
        assert!(parse("x{a=\"1} 2").unwrap_err().contains("unterminated"));
        assert!(parse("x one").unwrap_err().contains("invalid value"));
    }
}
