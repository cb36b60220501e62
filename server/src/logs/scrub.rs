//! Personal data and secrets taken out of lines before they are stored: e-mail addresses,
//! bearer and basic credentials, API keys (by their well-known prefixes, and `key=…` pairs
//! whose name says secret), payment card numbers (digits that pass the Luhn check), and any
//! regular expressions the operator adds. Each match is replaced by a marker saying what was
//! there (`[email]`, `[token]`, `[api-key]`, `[card]`, `[redacted]`), in the body and in every
//! string field.

use regex::{Captures, Regex, RegexSet, RegexSetBuilder};
use serde_json::Value;
use std::borrow::Cow;

/// The built-in rules, by the names settings and the API use.
pub const BUILT_IN: [(&str, &str); 4] = [
    ("email", "e-mail addresses"),
    (
        "token",
        "bearer and basic credentials in Authorization-like text",
    ),
    (
        "api_key",
        "API keys (sk-…, ghp_…, xox…-, AKIA…, AIza…) and secret=… pairs",
    ),
    ("card", "payment card numbers that pass the Luhn check"),
];

/// A rule: what it finds and what it puts in its place.
#[derive(Clone, Debug)]
struct Rule {
    name: String,
    pattern: Regex,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The whole match becomes the marker.
    Replace(&'static str),
    /// The first group is kept, the rest becomes the marker (`Bearer [token]`, `password=[redacted]`).
    KeepName(&'static str),
    /// Digits that pass the Luhn check become `[card]`.
    Card,
}

/// The rules in force; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Scrubber {
    rules: Vec<Rule>,
    /// Every rule's pattern in one automaton: most texts match none, and one pass over them
    /// says so (a pass per rule was a tenth of the portal's work on each line written).
    any: Option<RegexSet>,
}

/// What the scrubbing settings say, in a form the UI shows.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScrubRule {
    pub name: String,
    pub description: String,
    pub pattern: Option<String>,
}

/// Most bytes a custom pattern's compiled program may take: a hostile or careless pattern is
/// refused at start-up rather than slowing every write.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

impl Scrubber {
    /// The built-in rules named in `names` (comma-separated; `all` or `none`), then one rule per
    /// non-empty line of `custom`.
    pub fn new(names: &str, custom: Option<&str>) -> Result<Self, String> {
        let mut rules = Vec::new();
        let wanted: Vec<&str> = names
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        let all = wanted.contains(&"all");
        for name in &wanted {
            if !matches!(*name, "all" | "none") && !BUILT_IN.iter().any(|(n, _)| n == name) {
                return Err(format!(
                    "\"{name}\" is not a scrubbing rule; the rules are all, none, {}",
                    BUILT_IN.map(|(n, _)| n).join(", ")
                ));
            }
        }
        let on = |name: &str| all || wanted.contains(&name);
        let built_in = |name: &str, pattern: &str, kind| Rule {
            name: name.into(),
            pattern: Regex::new(pattern).expect("built-in patterns compile"),
            kind,
        };
        if on("email") {
            rules.push(built_in(
                "email",
                r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
                Kind::Replace("[email]"),
            ));
        }
        if on("token") {
            rules.push(built_in(
                "token",
                r"(?i)(\b(?:bearer|basic|token)\s+)[A-Za-z0-9\-._~+/]{8,}=*",
                Kind::KeepName("[token]"),
            ));
        }
        if on("api_key") {
            rules.push(built_in(
                "api_key",
                r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,})",
                Kind::Replace("[api-key]"),
            ));
            rules.push(built_in(
                "api_key",
                r#"(?i)(\b(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|secret|password|passwd|pwd)["']?\s*[=:]\s*["']?)[^\s"',;&]{3,}"#,
                Kind::KeepName("[redacted]"),
            ));
        }
        if on("card") {
            rules.push(built_in("card", r"\b\d(?:[ -]?\d){12,18}\b", Kind::Card));
        }
        for (i, line) in custom
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let pattern = regex::RegexBuilder::new(line)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map_err(|e| format!("pattern {} ({line:?}) does not compile: {e}", i + 1))?;
            rules.push(Rule {
                name: format!("custom {}", i + 1),
                pattern,
                kind: Kind::Replace("[redacted]"),
            });
        }
        let any = if rules.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(rules.iter().map(|r| r.pattern.as_str()))
                    .size_limit(PATTERN_SIZE_LIMIT * (rules.len() + 8))
                    .build()
                    .map_err(|e| format!("the scrubbing patterns do not compile together: {e}"))?,
            )
        };
        Ok(Self { rules, any })
    }

    /// The rules in force, for the UI and the API.
    pub fn rules(&self) -> Vec<ScrubRule> {
        let mut out: Vec<ScrubRule> = Vec::new();
        for rule in &self.rules {
            if out.iter().any(|r| r.name == rule.name) {
                continue;
            }
            let built_in = BUILT_IN.iter().find(|(n, _)| *n == rule.name);
            out.push(ScrubRule {
                name: rule.name.clone(),
                description: built_in.map_or("operator's pattern".into(), |(_, d)| d.to_string()),
                pattern: built_in
                    .is_none()
                    .then(|| rule.pattern.as_str().to_string()),
            });
        }
        out
    }

    /// `text` with every match replaced; borrowed when nothing matched.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        if !self.any.as_ref().is_some_and(|any| any.is_match(text)) {
            return out;
        }
        for rule in &self.rules {
            if !rule.pattern.is_match(&out) {
                continue;
            }
            let replaced = match rule.kind {
                Kind::Replace(marker) => rule.pattern.replace_all(&out, marker).into_owned(),
                Kind::KeepName(marker) => rule
                    .pattern
                    .replace_all(&out, |c: &Captures| format!("{}{marker}", &c[1]))
                    .into_owned(),
                Kind::Card => rule
                    .pattern
                    .replace_all(&out, |c: &Captures| {
                        if luhn(&c[0]) {
                            "[card]".to_string()
                        } else {
                            c[0].to_string()
                        }
                    })
                    .into_owned(),
            };
            out = Cow::Owned(replaced);
        }
        out
    }

    /// Scrubs every string inside `value` (objects and arrays included), keys left as they are.
    pub fn value(&self, value: &mut Value) {
        if self.rules.is_empty() {
            return;
        }
        // Iterative, so a deeply nested value cannot exhaust the stack.
        let mut stack = vec![value];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) => {
                    if let Cow::Owned(clean) = self.text(s) {
                        *s = clean;
                    }
                }
                Value::Array(items) => stack.extend(items.iter_mut()),
                Value::Object(map) => stack.extend(map.values_mut()),
                _ => {}
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Whether the digits of `text` (separators ignored) pass the Luhn check.
fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let d = d * 2;
                if d > 9 {
                    d - 9
                } else {
                    d
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Scrubber {
        Scrubber::new("all", Some("order-\\d{6}")).unwrap()
    }

    #[test]
    fn personal_data_and_secrets_become_markers() {
        let s = all();
        assert_eq!(s.text("mail ada@example.co.uk now"), "mail [email] now");
        assert_eq!(
            s.text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc"),
            "Authorization: Bearer [token]"
        );
        assert_eq!(
            s.text("using sk-proj-abcdefghijklmnop1234 for calls"),
            "using [api-key] for calls"
        );
        assert_eq!(
            s.text("password=hunter2; user=x"),
            "password=[redacted]; user=x"
        );
        assert_eq!(s.text("paid with 4111 1111 1111 1111"), "paid with [card]");
        // Digits that fail the Luhn check are not cards (ids, timestamps).
        assert_eq!(s.text("request 1234567890123"), "request 1234567890123");
        assert_eq!(s.text("order-123456 shipped"), "[redacted] shipped");
        assert!(matches!(s.text("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn fields_are_scrubbed_however_deep_and_rules_can_be_chosen() {
        let mut v = serde_json::json!({"user": {"emails": ["a@b.io"]}, "n": 1});
        all().value(&mut v);
        assert_eq!(v["user"]["emails"][0], "[email]");
        let only_cards = Scrubber::new("card", None).unwrap();
        assert_eq!(only_cards.text("a@b.io"), "a@b.io");
        assert!(Scrubber::new("none", None).unwrap().is_empty());
        assert!(Scrubber::new("emails", None)
            .unwrap_err()
            .contains("not a scrubbing rule"));
        assert!(Scrubber::new("all", Some("(unclosed")).is_err());
        assert_eq!(all().rules().len(), 5);
    }
}
