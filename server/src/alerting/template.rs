//! Annotation and message templates in the subset of Go's text/template that Prometheus rule
//! files use: `{{ $labels.agent_id }}`, `{{ $value }}`, `{{ .Labels.x }}`, `{{ .Value }}`,
//! pipelines into `humanize`, `humanize1024`, `humanizeDuration`, `humanizePercentage`,
//! `humanizeTimestamp`, `printf "%.2f"`, `toUpper`, `toLower` and `title`, and `$externalURL`.
//! Anything else is refused when the rule is saved, naming what is not understood.

use std::collections::BTreeMap;

/// What a template can refer to.
pub struct Context<'a> {
    pub labels: &'a BTreeMap<String, String>,
    pub value: f64,
    pub external_url: &'a str,
    /// Further `$name` variables (message templates: `$status`, `$alerts`, …).
    pub vars: &'a BTreeMap<&'a str, String>,
}

/// Expands `text`; an error names the part that cannot be read.
pub fn expand(text: &str, ctx: &Context<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let mut before = &rest[..open];
        let after_open = &rest[open + 2..];
        let close = after_open
            .find("}}")
            .ok_or_else(|| "a \"{{\" is never closed with \"}}\"".to_string())?;
        let mut inner = &after_open[..close];
        if let Some(trimmed) = inner.strip_prefix('-') {
            before = before.trim_end();
            inner = trimmed;
        }
        let trim_after = inner.ends_with('-') && inner.len() > 1;
        if trim_after {
            inner = &inner[..inner.len() - 1];
        }
        out.push_str(before);
        out.push_str(&action(inner.trim(), ctx)?);
        rest = &after_open[close + 2..];
        if trim_after {
            rest = rest.trim_start();
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Checks that `text` only uses what [`expand`] understands.
pub fn check(text: &str) -> Result<(), String> {
    check_with(text, &[])
}

/// Like [`check`], with the variables `vars` known as well (`$status` in messages).
pub fn check_with(text: &str, vars: &[&str]) -> Result<(), String> {
    let labels = BTreeMap::new();
    let vars: BTreeMap<&str, String> = vars.iter().map(|v| (*v, String::new())).collect();
    expand(
        text,
        &Context {
            labels: &labels,
            value: 0.0,
            external_url: "",
            vars: &vars,
        },
    )
    .map(|_| ())
}

#[derive(Clone)]
enum Val {
    Num(f64),
    Str(String),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Self::Num(v) => format_float(*v),
            Self::Str(s) => s.clone(),
        }
    }

    fn num(&self) -> Result<f64, String> {
        match self {
            Self::Num(v) => Ok(*v),
            Self::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("\"{s}\" is not a number")),
        }
    }
}

fn action(inner: &str, ctx: &Context<'_>) -> Result<String, String> {
    if inner.starts_with("/*") {
        return Ok(String::new());
    }
    let mut stages = split_pipeline(inner).into_iter();
    let first = stages.next().unwrap_or_default();
    let words = split_words(&first)?;
    let mut value = match words.as_slice() {
        [] => return Err("an empty {{ }}".into()),
        [single] => operand(single, ctx)?,
        [func, args @ ..] => {
            let args: Vec<Val> = args
                .iter()
                .map(|a| operand(a, ctx))
                .collect::<Result<_, _>>()?;
            call(func, &args, None)?
        }
    };
    for stage in stages {
        let words = split_words(&stage)?;
        let (func, args) = words
            .split_first()
            .ok_or_else(|| "an empty stage after \"|\"".to_string())?;
        let args: Vec<Val> = args
            .iter()
            .map(|a| operand(a, ctx))
            .collect::<Result<_, _>>()?;
        value = call(func, &args, Some(value))?;
    }
    Ok(value.text())
}

fn split_pipeline(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if quoted {
            parts.last_mut().expect("one part").push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                parts.last_mut().expect("one part").push(c);
            }
            '|' => parts.push(String::new()),
            c => parts.last_mut().expect("one part").push(c),
        }
    }
    parts.into_iter().map(|p| p.trim().to_string()).collect()
}

fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            let mut w = String::from('"');
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                w.push(c);
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        w.push(n);
                    }
                } else if c == '"' {
                    closed = true;
                    break;
                }
            }
            if !closed {
                return Err(format!("unclosed string in \"{text}\""));
            }
            words.push(w);
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
            words.push(w);
        }
    }
    Ok(words)
}

fn operand(word: &str, ctx: &Context<'_>) -> Result<Val, String> {
    if let Some(s) = word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        return Ok(Val::Str(s.replace("\\\"", "\"").replace("\\n", "\n")));
    }
    if let Ok(n) = word.parse::<f64>() {
        return Ok(Val::Num(n));
    }
    let label = |name: &str| Val::Str(ctx.labels.get(name).cloned().unwrap_or_default());
    match word {
        "$value" | ".Value" | "$.Value" => return Ok(Val::Num(ctx.value)),
        "$externalURL" | ".ExternalURL" => return Ok(Val::Str(ctx.external_url.to_string())),
        "$labels" | ".Labels" => {
            let text = ctx
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ");
            return Ok(Val::Str(format!("{{{text}}}")));
        }
        _ => {}
    }
    for prefix in ["$labels.", ".Labels.", "$.Labels."] {
        if let Some(name) = word.strip_prefix(prefix) {
            return Ok(label(name));
        }
    }
    if let Some(name) = word.strip_prefix('$') {
        if let Some(v) = ctx.vars.get(name) {
            return Ok(Val::Str(v.clone()));
        }
    }
    Err(format!(
        "\"{word}\" is not something a template knows (use $labels.<name>, $value or a quoted string)"
    ))
}

fn call(func: &str, args: &[Val], piped: Option<Val>) -> Result<Val, String> {
    let mut all: Vec<Val> = args.to_vec();
    all.extend(piped);
    let one = |all: &[Val]| -> Result<Val, String> {
        match all {
            [v] => Ok(v.clone()),
            _ => Err(format!("{func} takes one value")),
        }
    };
    Ok(match func {
        "humanize" => Val::Str(humanize(one(&all)?.num()?)),
        "humanize1024" => Val::Str(humanize_1024(one(&all)?.num()?)),
        "humanizeDuration" => Val::Str(humanize_duration(one(&all)?.num()?)),
        "humanizePercentage" => Val::Str(format!("{}%", format_g(one(&all)?.num()? * 100.0, 4))),
        "humanizeTimestamp" => {
            let secs = one(&all)?.num()?;
            Val::Str(
                chrono::DateTime::from_timestamp_millis((secs * 1000.0) as i64)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f +0000 UTC").to_string())
                    .unwrap_or_else(|| format_float(secs)),
            )
        }
        "toUpper" => Val::Str(one(&all)?.text().to_uppercase()),
        "toLower" => Val::Str(one(&all)?.text().to_lowercase()),
        "title" => Val::Str(
            one(&all)?
                .text()
                .split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or_default()
                })
                .collect::<Vec<String>>()
                .join(" "),
        ),
        "printf" => {
            let (format, rest) = all
                .split_first()
                .ok_or_else(|| "printf needs a format".to_string())?;
            Val::Str(printf(&format.text(), rest)?)
        }
        other => {
            return Err(format!(
                "unknown function \"{other}\" (known: humanize, humanize1024, humanizeDuration, humanizePercentage, humanizeTimestamp, printf, toUpper, toLower, title)"
            ))
        }
    })
}

/// Go's `%v` for a float: the shortest form that reads back.
fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v == v.trunc() && v.abs() < 1e21 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Go's `%.<digits>g`: `digits` significant digits, trailing zeros dropped, exponent form for
/// very large and very small values.
pub fn format_g(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return format_float(v);
    }
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    let rounded: f64 = format!("{:.*e}", digits.saturating_sub(1), v)
        .parse()
        .unwrap_or(v);
    let exp = if rounded.abs() >= 10f64.powi(exp + 1) {
        exp + 1
    } else {
        exp
    };
    if exp < -4 || exp >= digits as i32 {
        let s = format!("{:.*e}", digits.saturating_sub(1), v);
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = trim_zeros(mantissa);
        let e: i32 = e.parse().unwrap_or(0);
        format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else {
        let decimals = (digits as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}"))
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Prometheus' `humanize`: SI prefixes, four significant digits.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_g(v, 4);
    }
    if v.abs() >= 1.0 {
        let prefixes = ["", "k", "M", "G", "T", "P", "E", "Z", "Y"];
        let mut v = v;
        let mut i = 0;
        while v.abs() >= 1000.0 && i < prefixes.len() - 1 {
            v /= 1000.0;
            i += 1;
        }
        format!("{}{}", format_g(v, 4), prefixes[i])
    } else {
        let prefixes = ["", "m", "u", "n", "p", "f", "a", "z", "y"];
        let mut v = v;
        let mut i = 0;
        while v.abs() < 1.0 && i < prefixes.len() - 1 {
            v *= 1000.0;
            i += 1;
        }
        format!("{}{}", format_g(v, 4), prefixes[i])
    }
}

fn humanize_1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return format_g(v, 4);
    }
    let prefixes = ["", "ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"];
    let mut v = v;
    let mut i = 0;
    while v.abs() >= 1024.0 && i < prefixes.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", format_g(v, 4), prefixes[i])
}

/// Prometheus' `humanizeDuration`: `1d 2h 3m 4s`, or milliseconds and smaller below a second.
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return format_g(v, 4);
    }
    if v.abs() < 1.0 {
        return if v == 0.0 {
            "0s".into()
        } else {
            let (scaled, unit) = if v.abs() >= 1e-3 {
                (v * 1e3, "ms")
            } else if v.abs() >= 1e-6 {
                (v * 1e6, "us")
            } else {
                (v * 1e9, "ns")
            };
            format!("{}{unit}", format_g(scaled, 4))
        };
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let v = v.abs();
    let seconds = v.trunc() as i64 % 60;
    let minutes = (v / 60.0).trunc() as i64 % 60;
    let hours = (v / 3600.0).trunc() as i64 % 24;
    let days = (v / 86400.0).trunc() as i64;
    let frac = v - v.trunc();
    if days > 0 {
        format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
    } else if hours > 0 {
        format!("{sign}{hours}h {minutes}m {seconds}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m {seconds}s")
    } else {
        format!("{sign}{}s", format_g(seconds as f64 + frac, 4))
    }
}

/// The `printf` verbs rule files use: `%s`, `%v`, `%d`, `%f`/`%.Nf`, `%g`/`%.Ng`, `%%`.
fn printf(format: &str, args: &[Val]) -> Result<String, String> {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision = String::new();
        let mut spec = String::new();
        while let Some(&n) = chars.peek() {
            chars.next();
            if n.is_ascii_digit() || n == '.' {
                precision.push(n);
            } else {
                spec.push(n);
                break;
            }
        }
        if spec == "%" {
            out.push('%');
            continue;
        }
        let arg = args
            .next()
            .ok_or_else(|| format!("printf \"{format}\" has more verbs than values"))?;
        let digits: Option<usize> = precision.strip_prefix('.').and_then(|p| p.parse().ok());
        match spec.as_str() {
            "s" | "v" | "q" => out.push_str(&arg.text()),
            "d" => out.push_str(&format!("{}", arg.num()?.trunc() as i64)),
            "f" => out.push_str(&format!("{:.*}", digits.unwrap_or(6), arg.num()?)),
            "g" => out.push_str(&format_g(arg.num()?, digits.unwrap_or(17))),
            "e" => out.push_str(&format!("{:.*e}", digits.unwrap_or(6), arg.num()?)),
            other => return Err(format!("printf verb \"%{other}\" is not supported")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, value: f64) -> Result<String, String> {
        let labels = BTreeMap::from([("agent_id".to_string(), "coder-1".to_string())]);
        let vars = BTreeMap::from([("status", "firing".to_string())]);
        expand(
            text,
            &Context {
                labels: &labels,
                value,
                external_url: "http://portal",
                vars: &vars,
            },
        )
    }

    #[test]
    fn expands_what_prometheus_rule_files_write() {
        assert_eq!(
            run(
                "Agent {{ $labels.agent_id }} uses {{ $value | humanize1024 }}B",
                36_175_872.0
            )
            .unwrap(),
            "Agent coder-1 uses 34.5MiB"
        );
        assert_eq!(run("{{ $value | humanize }}", 1234567.0).unwrap(), "1.235M");
        assert_eq!(run("{{ $value | humanize }}", 0.0123).unwrap(), "12.3m");
        assert_eq!(run("{{ humanize $value }}", 5.0).unwrap(), "5");
        assert_eq!(
            run("{{ $value | humanizePercentage }}", 0.0512).unwrap(),
            "5.12%"
        );
        assert_eq!(
            run("{{ $value | humanizeDuration }}", 3723.0).unwrap(),
            "1h 2m 3s"
        );
        assert_eq!(
            run("{{ $value | humanizeDuration }}", 0.25).unwrap(),
            "250ms"
        );
        assert_eq!(
            run("{{ printf \"%.2f\" $value }}", 2.0 / 3.0).unwrap(),
            "0.67"
        );
        assert_eq!(
            run("{{ .Labels.agent_id }}={{ .Value }}", 3.0).unwrap(),
            "coder-1=3"
        );
        assert_eq!(run("{{ $status | toUpper }}", 0.0).unwrap(), "FIRING");
        assert_eq!(run("a  {{- $value -}}  b", 1.5).unwrap(), "a1.5b");
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        assert!(check("{{ if $value }}x{{ end }}").is_err());
        assert!(check("{{ $value | shout }}").unwrap_err().contains("shout"));
        assert!(check("{{ $value").is_err());
        assert!(check("plain {{ $labels.x }} text").is_ok());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_g(123456.0, 4), "1.235e+05");
        assert_eq!(format_g(0.00001234, 4), "1.234e-05");
        assert_eq!(format_g(99.99, 4), "99.99");
        assert_eq!(format_g(9999.6, 4), "1e+04");
    }
}
