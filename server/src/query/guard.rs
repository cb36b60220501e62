//! Bounds on how deep a query may nest, checked before and after parsing, so that no request can
//! make a recursive walk (the parser's own type checks, evaluation, dropping the tree) run out of
//! stack. The check before parsing reads the text only: the parser's checks are recursive and
//! take time quadratic in a chain of operators, so a query is refused before it reaches them.

use promql_parser::parser::Expr;

/// Why a query's text was refused before or after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep(pub String);

/// Refuses text whose brackets nest deeper than `max_depth`, or that has more than `max_depth`
/// operators outside label matchers (a chain of operators nests as deep as it is long). String
/// literals and comments are skipped. Together these bound the depth of any tree the parser can
/// build from the text to about three times `max_depth`.
pub fn check_text(text: &str, max_depth: usize) -> Result<(), TooDeep> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut braces = 0usize;
    let mut operators = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' => {
                // Skip the literal; backslash escapes apply except in backquotes.
                i += 1;
                while i < bytes.len() && bytes[i] != c {
                    if bytes[i] == b'\\' && c != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return Err(TooDeep(format!(
                        "the query nests brackets more than {max_depth} levels deep"
                    )));
                }
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            b'{' => braces += 1,
            b'}' => braces = braces.saturating_sub(1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'<' | b'>' | b'=' | b'!' if braces == 0 => {
                // A two-character operator (==, !=, <=, >=) counts once.
                if matches!(bytes.get(i + 1), Some(b'=')) && matches!(c, b'=' | b'!' | b'<' | b'>')
                {
                    i += 1;
                }
                operators += 1;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let start = i;
                while i + 1 < bytes.len()
                    && (bytes[i + 1].is_ascii_alphanumeric() || bytes[i + 1] == b'_')
                {
                    i += 1;
                }
                let word = &text[start..=i];
                if braces == 0
                    && ["and", "or", "unless", "atan2"]
                        .iter()
                        .any(|op| word.eq_ignore_ascii_case(op))
                {
                    operators += 1;
                }
            }
            _ => {}
        }
        if operators > max_depth {
            return Err(TooDeep(format!(
                "the query has more than {max_depth} operators"
            )));
        }
        i += 1;
    }
    Ok(())
}

/// The depth of a parsed expression, walked without recursion.
pub fn depth(expr: &Expr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(expr, 1usize)];
    while let Some((e, d)) = stack.pop() {
        deepest = deepest.max(d);
        let d = d + 1;
        match e {
            Expr::Aggregate(a) => {
                stack.push((&a.expr, d));
                if let Some(p) = &a.param {
                    stack.push((p, d));
                }
            }
            Expr::Unary(u) => stack.push((&u.expr, d)),
            Expr::Binary(b) => {
                stack.push((&b.lhs, d));
                stack.push((&b.rhs, d));
            }
            Expr::Paren(p) => stack.push((&p.expr, d)),
            Expr::Subquery(s) => stack.push((&s.expr, d)),
            Expr::Call(c) => stack.extend(c.args.args.iter().map(|a| (a.as_ref(), d))),
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_)
            | Expr::Extension(_) => {}
        }
    }
    deepest
}

/// The PromQL parser's answer for `text`. The parser panics on some input (a duration too large
/// for a `Duration`, as in `x[99999999999999999999y]`); that is an invalid query like any other,
/// never a failed request.
pub fn syntax(text: &str) -> Result<Expr, String> {
    std::panic::catch_unwind(|| promql_parser::parser::parse(text)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("the parser failed");
        Err(format!("invalid query: {why}"))
    })
}

/// Parses `text` after checking it, and refuses a tree deeper than `max_depth`.
pub fn parse(text: &str, max_depth: usize) -> Result<Expr, ParseError> {
    check_text(text, max_depth).map_err(|e| ParseError::TooDeep(e.0))?;
    let expr = syntax(text).map_err(ParseError::Syntax)?;
    let found = depth(&expr);
    if found > max_depth {
        return Err(ParseError::TooDeep(format!(
            "the query nests {found} levels deep; the most allowed is {max_depth}"
        )));
    }
    Ok(expr)
}

/// Why a query could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Syntax(String),
    TooDeep(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Syntax(m) | Self::TooDeep(m) => f.write_str(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_the_parser_panics_on_is_an_invalid_query() {
        // A range too long for a Duration: the parser's own conversion panics.
        let e = syntax("quantv[099999999999999999990000]n").unwrap_err();
        assert!(e.starts_with("invalid query"), "{e}");
        assert!(matches!(
            parse("up[99999999999999999999y]", 500),
            Err(ParseError::Syntax(_))
        ));
    }

    #[test]
    fn ordinary_queries_pass_the_text_check() {
        for q in [
            "up",
            "sum by (agent_id) (rate(agent_task_success_total{status!=\"ok\"}[5m]))",
            "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) > 60",
            "a and b or c unless d",
            "label_replace(up, \"x\", \"((((\", \"job\", \"(.*)\")",
            "# a comment with ((((( and +++\nup",
        ] {
            assert_eq!(check_text(q, 10), Ok(()), "{q}");
        }
    }

    #[test]
    fn deep_brackets_and_long_operator_chains_are_refused_before_parsing() {
        let parens = format!("{}1{}", "(".repeat(50_000), ")".repeat(50_000));
        assert!(check_text(&parens, 1000)
            .unwrap_err()
            .0
            .contains("brackets"));
        let chain = vec!["up"; 5_000].join(" + ");
        assert!(check_text(&chain, 1000)
            .unwrap_err()
            .0
            .contains("operators"));
        let words = vec!["up"; 2_000].join(" or ");
        assert!(check_text(&words, 1000).is_err());
        // Operators inside matchers and strings do not count.
        let matchers = format!("up{{{}}}", vec!["a!=\"-+-\""; 50].join(","));
        assert_eq!(check_text(&matchers, 10), Ok(()));
    }

    #[test]
    fn the_depth_of_a_tree_is_measured_without_recursion() {
        let expr = promql_parser::parser::parse("sum(rate(up[5m])) + (1 - 2)").unwrap();
        // Binary → Paren → Binary → NumberLiteral.
        assert_eq!(depth(&expr), 4);
        let chain = vec!["up"; 300].join(" + ");
        assert_eq!(parse(&chain, 1000).map(|e| depth(&e)), Ok(300));
        assert!(matches!(parse(&chain, 100), Err(ParseError::TooDeep(_))));
        assert!(matches!(parse("sum(", 100), Err(ParseError::Syntax(_))));
    }
}
