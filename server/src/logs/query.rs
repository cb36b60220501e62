//! The logs query language, for people typing into a search box:
//!
//! - `timeout` a word anywhere in the line; `time*` a word starting so; `"connection reset"`
//!   the text itself
//! - `service:api`, `agent_id:coder-1`, `status:500` a field or label equal to a value;
//!   `path:/api/*` one starting so; `agent_id:*` one present; `msg:/time(out|d)/i` one
//!   matching a regular expression; `/panic|fatal/` the line matching one
//! - `level>=warn`, `level:error`; `duration_ms>500` numeric comparisons (`<`, `<=`, `>`, `>=`)
//! - `-word`, `NOT x`, `!=`: negation; terms side by side (or `AND`) must all hold; `OR`
//!   between them either; parentheses group
//!
//! Errors name the position and what was expected. A query is bounded: its length, its terms
//! and its nesting.

use crate::store::logs::{Condition, Field, Op};

pub const MAX_QUERY_BYTES: usize = 4096;
pub const MAX_TERMS: usize = 64;
pub const MAX_DEPTH: usize = 16;

/// Why a query could not be read: where (a character offset) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {position}: {message}")]
pub struct QueryError {
    pub position: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Regex {
        pattern: String,
        insensitive: bool,
    },
    /// `field` followed by an operator (`:`, `=`, `!=`, `>`, `>=`, `<`, `<=`).
    FieldOp(String, String),
    Open,
    Close,
    Minus,
    And,
    Or,
    Not,
}

fn error(position: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        position,
        message: message.into(),
    }
}

fn tokens(text: &str) -> Result<Vec<(usize, Token)>, QueryError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((at, Token::Open));
                i += 1;
            }
            ')' => {
                out.push((at, Token::Close));
                i += 1;
            }
            '-' | '!' if i + 1 < chars.len() && !chars[i + 1].1.is_whitespace() => {
                out.push((at, Token::Minus));
                i += 1;
            }
            '"' => {
                let (value, next) = quoted(&chars, i)?;
                out.push((at, Token::Quoted(value)));
                i = next;
            }
            '/' if regex(&chars, i).is_some() => {
                let (pattern, insensitive, next) = regex(&chars, i).unwrap_or_default();
                check_regex(&pattern, at)?;
                out.push((
                    at,
                    Token::Regex {
                        pattern,
                        insensitive,
                    },
                ));
                i = next;
            }
            _ => {
                let start = i;
                let ends_word = |i: usize| {
                    let c = chars[i].1;
                    c.is_whitespace()
                        || matches!(c, '(' | ')' | '"' | ':' | '=' | '<' | '>')
                        || (c == '!' && chars.get(i + 1).is_some_and(|c| c.1 == '='))
                };
                while i < chars.len() && !ends_word(i) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().map(|c| c.1).collect();
                // A field name right before an operator.
                let op_start = i;
                let mut op = String::new();
                while i < chars.len()
                    && matches!(chars[i].1, ':' | '=' | '<' | '>' | '!')
                    && op.len() < 2
                {
                    op.push(chars[i].1);
                    i += 1;
                }
                if !op.is_empty() {
                    if word.is_empty() {
                        return Err(error(at, format!("{op:?} needs a field name before it")));
                    }
                    if !matches!(
                        op.as_str(),
                        ":" | "=" | "!=" | ">" | ">=" | "<" | "<=" | ":="
                    ) {
                        return Err(error(
                            chars[op_start].0,
                            format!("{op:?} is not an operator; use :, !=, >, >=, < or <="),
                        ));
                    }
                    out.push((at, Token::FieldOp(word, op)));
                    continue;
                }
                if word.is_empty() {
                    return Err(error(at, format!("unexpected {c:?}")));
                }
                let token = match word.as_str() {
                    "AND" | "&&" => Token::And,
                    "OR" | "||" => Token::Or,
                    "NOT" => Token::Not,
                    _ => Token::Word(word),
                };
                out.push((at, token));
            }
        }
    }
    Ok(out)
}

fn quoted(chars: &[(usize, char)], start: usize) -> Result<(String, usize), QueryError> {
    let mut value = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i].1 {
            '\\' if i + 1 < chars.len() => {
                value.push(chars[i + 1].1);
                i += 2;
            }
            '"' => return Ok((value, i + 1)),
            c => {
                value.push(c);
                i += 1;
            }
        }
    }
    Err(error(
        chars[start].0,
        "the quoted text is not closed with \"",
    ))
}

/// `/pattern/` or `/pattern/i` ending at a space, a `)` or the end: the pattern, whether
/// case is ignored, and where the text goes on. Anything else starting with `/` (a path such
/// as `/api/*`) is a plain value.
fn regex(chars: &[(usize, char)], start: usize) -> Option<(String, bool, usize)> {
    let mut pattern = String::new();
    let mut i = start + 1;
    let ends = |at: usize| {
        chars
            .get(at)
            .is_none_or(|c| c.1.is_whitespace() || c.1 == ')')
    };
    while i < chars.len() {
        match chars[i].1 {
            '\\' if chars.get(i + 1).is_some_and(|c| c.1 == '/') => {
                pattern.push('/');
                i += 2;
            }
            // The first unescaped / closes it, and must end the term.
            '/' if ends(i + 1) => return Some((pattern, false, i + 1)),
            '/' if chars.get(i + 1).is_some_and(|c| c.1 == 'i') && ends(i + 2) => {
                return Some((pattern, true, i + 2))
            }
            '/' => return None,
            c => {
                pattern.push(c);
                i += 1;
            }
        }
    }
    None
}

/// PostgreSQL's regular expressions are close to Rust's for what people write; checking with
/// Rust's first turns a bad pattern into a clear error instead of a database error.
fn check_regex(pattern: &str, position: usize) -> Result<(), QueryError> {
    if pattern.is_empty() {
        return Err(error(position, "the regular expression is empty"));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map(|_| ())
        .map_err(|e| error(position, format!("not a regular expression: {e}")))
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    end: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|t| &t.1)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |t| t.0)
    }

    fn or(&mut self, depth: usize) -> Result<Condition, QueryError> {
        let mut parts = vec![self.and(depth)?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Condition::All)
        } else {
            Condition::Or(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Condition, QueryError> {
        let mut parts = vec![self.unary(depth)?];
        loop {
            match self.peek() {
                None | Some(Token::Or) | Some(Token::Close) => break,
                Some(Token::And) => {
                    self.at += 1;
                }
                _ => {}
            }
            parts.push(self.unary(depth)?);
        }
        Ok(merge_words(parts))
    }

    fn unary(&mut self, depth: usize) -> Result<Condition, QueryError> {
        match self.peek() {
            Some(Token::Minus) | Some(Token::Not) => {
                self.at += 1;
                Ok(Condition::Not(Box::new(self.unary(depth)?)))
            }
            _ => self.primary(depth),
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Condition, QueryError> {
        let position = self.position();
        let Some(token) = self.tokens.get(self.at).map(|t| t.1.clone()) else {
            return Err(error(position, "expected a word, a field filter or ( here"));
        };
        self.at += 1;
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(error(
                position,
                format!("a query has at most {MAX_TERMS} terms"),
            ));
        }
        match token {
            Token::Open => {
                if depth >= MAX_DEPTH {
                    return Err(error(
                        position,
                        format!("parentheses nest at most {MAX_DEPTH} deep"),
                    ));
                }
                let inner = self.or(depth + 1)?;
                if self.peek() != Some(&Token::Close) {
                    return Err(error(self.position(), "expected ) to close the ( here"));
                }
                self.at += 1;
                Ok(inner)
            }
            Token::Word(word) => Ok(Condition::Words(vec![word.to_lowercase()])),
            Token::Quoted(text) => Ok(Condition::Phrase(text)),
            Token::Regex {
                pattern,
                insensitive,
            } => Ok(Condition::Regex {
                field: Field::Body,
                pattern,
                case_insensitive: insensitive,
            }),
            Token::FieldOp(name, op) => self.field(position, &name, &op),
            Token::Close => Err(error(position, "a ) without its (")),
            Token::And | Token::Or => Err(error(position, "AND and OR go between two terms")),
            Token::Minus | Token::Not => Err(error(position, "expected a term after the negation")),
        }
    }

    fn field(&mut self, position: usize, name: &str, op: &str) -> Result<Condition, QueryError> {
        let value_position = self.position();
        let value = match self.tokens.get(self.at).map(|t| t.1.clone()) {
            Some(Token::Word(w)) => Value::Plain(w),
            Some(Token::Quoted(q)) => Value::Quoted(q),
            Some(Token::Regex {
                pattern,
                insensitive,
            }) => Value::Regex(pattern, insensitive),
            _ => {
                return Err(error(
                    value_position,
                    format!("expected a value after {name}{op}"),
                ))
            }
        };
        self.at += 1;
        let field = match name.to_ascii_lowercase().as_str() {
            "level" | "severity" | "lvl" => Field::Severity,
            "service" | "service_name" => Field::Service,
            "trace_id" | "traceid" | "trace" => Field::TraceId,
            "span_id" | "spanid" => Field::SpanId,
            "body" | "line" | "_" => Field::Body,
            _ => Field::Named(name.to_string()),
        };
        if field == Field::Severity {
            return severity(value_position, op, &value);
        }
        let condition = match (op, value) {
            (":" | "=" | ":=" | "!=", Value::Regex(pattern, insensitive)) => Condition::Regex {
                field,
                pattern,
                case_insensitive: insensitive,
            },
            (":" | "=" | ":=" | "!=", Value::Plain(w)) if w == "*" => Condition::Exists(field),
            (":" | "=" | ":=" | "!=", Value::Plain(w)) if w.ends_with('*') && w.len() > 1 => {
                Condition::Prefix {
                    field,
                    prefix: w[..w.len() - 1].to_string(),
                }
            }
            (":" | "=" | ":=" | "!=", Value::Plain(v) | Value::Quoted(v)) => {
                if field == Field::Body {
                    Condition::Phrase(v)
                } else {
                    Condition::Equals { field, value: v }
                }
            }
            (_, Value::Plain(v) | Value::Quoted(v)) => {
                let number: f64 = v.parse().map_err(|_| {
                    error(
                        value_position,
                        format!("{name}{op} compares numbers; {v:?} is not one"),
                    )
                })?;
                if !matches!(field, Field::Named(_)) {
                    return Err(error(
                        position,
                        format!("{name} is not a number to compare"),
                    ));
                }
                Condition::Compare {
                    field,
                    op: compare_op(op),
                    value: number,
                }
            }
            (_, Value::Regex(..)) => {
                return Err(error(
                    value_position,
                    format!("{name}{op} compares numbers, not a regular expression"),
                ))
            }
        };
        Ok(if op == "!=" {
            Condition::Not(Box::new(condition))
        } else {
            condition
        })
    }
}

enum Value {
    Plain(String),
    Quoted(String),
    Regex(String, bool),
}

fn compare_op(op: &str) -> Op {
    match op {
        ">" => Op::Gt,
        ">=" => Op::Ge,
        "<" => Op::Lt,
        _ => Op::Le,
    }
}

/// `level:warn` (that level), `level>=warn` (that or worse), `level!=debug`.
fn severity(position: usize, op: &str, value: &Value) -> Result<Condition, QueryError> {
    let (Value::Plain(name) | Value::Quoted(name)) = value else {
        return Err(error(
            position,
            "a level is a name such as warn, not a regular expression",
        ));
    };
    let low = app::api::logs::level_severity(name).ok_or_else(|| {
        error(position, format!("{name:?} is not a level; the levels are trace, debug, info, warn, error, fatal, unknown"))
    })? as f64;
    let high = if low == 0.0 { 0.0 } else { low + 3.0 };
    let compare = |op, value| Condition::Compare {
        field: Field::Severity,
        op,
        value,
    };
    let exactly = Condition::And(vec![compare(Op::Ge, low), compare(Op::Le, high)]);
    Ok(match op {
        ":" | "=" | ":=" => exactly,
        "!=" => Condition::Not(Box::new(exactly)),
        ">" => compare(Op::Gt, high),
        ">=" => compare(Op::Ge, low),
        "<" => compare(Op::Lt, low),
        _ => compare(Op::Le, high),
    })
}

/// Words side by side become one word search (one index look-up).
fn merge_words(parts: Vec<Condition>) -> Condition {
    let mut words = Vec::new();
    let mut rest = Vec::new();
    for part in parts {
        match part {
            Condition::Words(w) => words.extend(w),
            other => rest.push(other),
        }
    }
    if !words.is_empty() {
        rest.insert(0, Condition::Words(words));
    }
    if rest.len() == 1 {
        rest.pop().unwrap_or(Condition::All)
    } else {
        Condition::And(rest)
    }
}

/// Reads a query; an empty one matches every line.
pub fn parse(text: &str) -> Result<Condition, QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(error(
            0,
            format!("a query is at most {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let tokens = tokens(text)?;
    if tokens.is_empty() {
        return Ok(Condition::All);
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        end: text.len(),
        terms: 0,
    };
    let condition = parser.or(0)?;
    if let Some(token) = parser.tokens.get(parser.at) {
        return Err(error(
            token.0,
            match token.1 {
                Token::Close => "a ) without its (".to_string(),
                _ => "unexpected text here".to_string(),
            },
        ));
    }
    Ok(condition)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(n: &str) -> Field {
        Field::Named(n.into())
    }

    #[test]
    fn words_phrases_and_fields() {
        assert_eq!(parse("").unwrap(), Condition::All);
        assert_eq!(
            parse("Timeout tool*").unwrap(),
            Condition::Words(vec!["timeout".into(), "tool*".into()])
        );
        assert_eq!(
            parse(r#"service:api "connection reset" agent_id:coder-1"#).unwrap(),
            Condition::And(vec![
                Condition::Equals {
                    field: Field::Service,
                    value: "api".into()
                },
                Condition::Phrase("connection reset".into()),
                Condition::Equals {
                    field: named("agent_id"),
                    value: "coder-1".into()
                },
            ])
        );
        assert_eq!(
            parse("path:/api/* agent_id:* msg:/time(out|d)/i").unwrap(),
            Condition::And(vec![
                Condition::Prefix {
                    field: named("path"),
                    prefix: "/api/".into()
                },
                Condition::Exists(named("agent_id")),
                Condition::Regex {
                    field: named("msg"),
                    pattern: "time(out|d)".into(),
                    case_insensitive: true
                },
            ])
        );
    }

    #[test]
    fn levels_numbers_negation_and_grouping() {
        assert_eq!(
            parse("level>=warn").unwrap(),
            Condition::Compare {
                field: Field::Severity,
                op: Op::Ge,
                value: 13.0
            }
        );
        assert_eq!(
            parse("duration_ms>500").unwrap(),
            Condition::Compare {
                field: named("duration_ms"),
                op: Op::Gt,
                value: 500.0
            }
        );
        assert_eq!(
            parse("-debug status!=200").unwrap(),
            Condition::And(vec![
                Condition::Not(Box::new(Condition::Words(vec!["debug".into()]))),
                Condition::Not(Box::new(Condition::Equals {
                    field: named("status"),
                    value: "200".into()
                })),
            ])
        );
        assert_eq!(
            parse("(error OR fatal) AND /time(out|d)/i").unwrap(),
            Condition::And(vec![
                Condition::Or(vec![
                    Condition::Words(vec!["error".into()]),
                    Condition::Words(vec!["fatal".into()]),
                ]),
                Condition::Regex {
                    field: Field::Body,
                    pattern: "time(out|d)".into(),
                    case_insensitive: true
                },
            ])
        );
    }

    #[test]
    fn errors_say_where_and_what() {
        let e = parse("(error").unwrap_err();
        assert_eq!(e.position, 6);
        assert!(e.message.contains("expected )"), "{e}");
        assert!(parse("level>=loud")
            .unwrap_err()
            .message
            .contains("not a level"));
        assert!(parse("ms>abc")
            .unwrap_err()
            .message
            .contains("compares numbers"));
        assert!(parse("\"open").unwrap_err().message.contains("not closed"));
        assert!(parse("/(/")
            .unwrap_err()
            .message
            .contains("not a regular expression"));
        assert!(parse("//").unwrap_err().message.contains("empty"));
        assert!(parse("a OR")
            .unwrap_err()
            .message
            .contains("expected a word"));
        assert!(parse("x:")
            .unwrap_err()
            .message
            .contains("expected a value"));
        assert!(parse(")").unwrap_err().message.contains("without its ("));
        assert!(parse(&"(".repeat(40))
            .unwrap_err()
            .message
            .contains("nest at most"));
        assert!(parse(&"w ".repeat(100))
            .unwrap_err()
            .message
            .contains("at most 64 terms"));
        assert!(parse(&"w".repeat(5000)).is_err());
    }
}
