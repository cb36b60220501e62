//! Message patterns: the lines of a search (the newest 20,000) clustered into templates as
//! Drain does (He et al., "Drain: An Online Log Parsing Approach with Fixed Depth Tree",
//! ICWS 2017). Each line's first line is masked first (ids, numbers, quoted values, hex and
//! UUIDs become placeholders, as error fingerprints do) and split into tokens; lines of the same
//! length and first token are compared with that leaf's templates position by position, and a
//! line at least half equal to the best template joins it (the positions that differ become
//! `<_>`), otherwise it starts a template of its own. Templates that end up equal are merged,
//! so every line sampled is counted in exactly one pattern: the counts add up to the lines
//! sampled, with the patterns past the first 500 counted together as `others`.

use super::{errors::normalise, query, LogsError, LogsService, Search};
use app::api::logs::{LogLine, LogPattern, LogPatterns};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most lines one clustering reads, the newest first.
pub const MAX_PATTERN_LINES: i64 = 20_000;
/// Most patterns answered; the rest are counted as `others`.
pub const MAX_PATTERNS: usize = 500;
/// Buckets of a pattern's trend over the range.
pub const TREND_BUCKETS: usize = 24;
/// The share of equal tokens a line needs to join a template.
const SIMILARITY: f64 = 0.5;
/// Most tokens compared; the rest of a long line is one token.
const MAX_TOKENS: usize = 64;
/// Templates a leaf keeps; past it, a line joins its most similar template.
const MAX_PER_LEAF: usize = 200;
pub const WILDCARD: &str = "<_>";

struct Cluster {
    tokens: Vec<String>,
    count: u64,
    trend: Vec<u64>,
    levels: BTreeMap<String, u64>,
    services: BTreeSet<String>,
    /// The newest line (lines come newest first).
    example: LogLine,
    first: chrono::DateTime<chrono::Utc>,
    last: chrono::DateTime<chrono::Utc>,
}

/// Fields a structured line (JSON, logfmt) keeps its message in.
const MESSAGE_FIELDS: [&str; 5] = ["message", "msg", "event", "log", "error"];

/// What a line says: the message field of a structured line (`{"msg": …}`, `msg=…`), otherwise
/// its text.
fn message_of(line: &LogLine) -> &str {
    MESSAGE_FIELDS
        .iter()
        .find_map(|k| line.fields.get(*k).and_then(|v| v.as_str()))
        .filter(|m| !m.is_empty())
        .unwrap_or(&line.body)
}

fn tokens_of(text: &str) -> Vec<String> {
    let masked = normalise(text);
    let mut tokens: Vec<String> = masked.split_whitespace().map(str::to_string).collect();
    if tokens.len() > MAX_TOKENS {
        let rest = tokens.split_off(MAX_TOKENS - 1).join(" ");
        tokens.push(rest);
    }
    if tokens.is_empty() {
        tokens.push("<empty>".into());
    }
    tokens
}

/// The share of positions where `line` equals `template` (a wildcard counts as unequal, so a
/// template made of wildcards does not swallow everything).
fn similarity(template: &[String], line: &[String]) -> f64 {
    let equal = template
        .iter()
        .zip(line)
        .filter(|(t, l)| t.as_str() != WILDCARD && t == l)
        .count();
    equal as f64 / template.len().max(1) as f64
}

/// The leaf a line belongs to: its length and first token (a first token that is a placeholder
/// or has a digit is any first token).
fn leaf_key(tokens: &[String]) -> (usize, String) {
    let first = &tokens[0];
    let key = if first.starts_with('<') || first.bytes().any(|b| b.is_ascii_digit()) {
        WILDCARD.to_string()
    } else {
        first.clone()
    };
    (tokens.len(), key)
}

/// Clusters lines (newest first) over a range (µs) into patterns.
pub fn cluster(lines: Vec<LogLine>, (from_us, to_us): (i64, i64), complete: bool) -> LogPatterns {
    let width = ((to_us - from_us) / TREND_BUCKETS as i64).max(1);
    let sampled = lines.len() as u64;
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut leaves: HashMap<(usize, String), Vec<usize>> = HashMap::new();
    for line in lines {
        let tokens = tokens_of(message_of(&line));
        let leaf = leaves.entry(leaf_key(&tokens)).or_default();
        let best = leaf
            .iter()
            .map(|&i| (i, similarity(&clusters[i].tokens, &tokens)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let at = match best {
            Some((i, s)) if s >= SIMILARITY || leaf.len() >= MAX_PER_LEAF => {
                let template = &mut clusters[i].tokens;
                for (t, l) in template.iter_mut().zip(&tokens) {
                    if t != l {
                        *t = WILDCARD.to_string();
                    }
                }
                i
            }
            _ => {
                clusters.push(Cluster {
                    tokens,
                    count: 0,
                    trend: vec![0; TREND_BUCKETS],
                    levels: BTreeMap::new(),
                    services: BTreeSet::new(),
                    example: line.clone(),
                    first: line.time,
                    last: line.time,
                });
                leaf.push(clusters.len() - 1);
                clusters.len() - 1
            }
        };
        let c = &mut clusters[at];
        let bucket = (((line.time.timestamp_micros() - from_us) / width)
            .clamp(0, TREND_BUCKETS as i64 - 1)) as usize;
        c.count += 1;
        c.trend[bucket] += 1;
        *c.levels.entry(line.level.clone()).or_default() += 1;
        c.services.insert(line.service.clone());
        c.first = c.first.min(line.time);
        c.last = c.last.max(line.time);
    }
    // Templates that became equal as they widened are one pattern.
    let mut merged: BTreeMap<String, LogPattern> = BTreeMap::new();
    for c in clusters {
        let pattern = c.tokens.join(" ");
        match merged.get_mut(&pattern) {
            Some(p) => {
                p.count += c.count;
                for (slot, n) in p.trend.iter_mut().zip(&c.trend) {
                    *slot += n;
                }
                for (level, n) in c.levels {
                    *p.levels.entry(level).or_default() += n;
                }
                for s in c.services {
                    if !p.services.contains(&s) {
                        p.services.push(s);
                    }
                }
                if c.last > p.last_seen {
                    p.example = c.example;
                }
                p.first_seen = p.first_seen.min(c.first);
                p.last_seen = p.last_seen.max(c.last);
            }
            None => {
                merged.insert(
                    pattern.clone(),
                    LogPattern {
                        pattern,
                        count: c.count,
                        trend: c.trend,
                        levels: c.levels,
                        services: c.services.into_iter().collect(),
                        example: c.example,
                        first_seen: c.first,
                        last_seen: c.last,
                    },
                );
            }
        }
    }
    let mut patterns: Vec<LogPattern> = merged.into_values().collect();
    patterns.sort_by(|a, b| b.count.cmp(&a.count).then(a.pattern.cmp(&b.pattern)));
    let others = patterns
        .iter()
        .skip(MAX_PATTERNS)
        .map(|p| p.count)
        .sum::<u64>();
    patterns.truncate(MAX_PATTERNS);
    for p in &mut patterns {
        p.services.sort();
    }
    LogPatterns {
        patterns,
        others,
        sampled,
        complete,
        trend_step_ms: width / 1000,
    }
}

impl LogsService {
    /// The lines matching a search, clustered into patterns, the most frequent first.
    pub async fn patterns(&self, search: &Search<'_>) -> Result<LogPatterns, LogsError> {
        let condition = query::parse(search.query)?;
        let (lines, complete) = self
            .newest_lines(condition, search, MAX_PATTERN_LINES)
            .await?;
        Ok(cluster(lines, (search.from_us, search.to_us), complete))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn line(body: &str, second: i64, level: &str) -> LogLine {
        LogLine {
            cursor: String::new(),
            time: chrono::Utc
                .timestamp_opt(1_700_000_000 + second, 0)
                .unwrap(),
            service: "agents".into(),
            level: level.into(),
            severity: 9,
            body: body.into(),
            labels: BTreeMap::new(),
            fields: serde_json::Map::new(),
            trace_id: None,
            span_id: None,
        }
    }

    #[test]
    fn lines_cluster_into_templates_whose_counts_add_up() {
        let mut lines = Vec::new();
        for i in 0..30 {
            let agent = ["coder", "planner", "reviewer"][i % 3];
            lines.push(line(
                &format!("task t-{i:04} started by {agent}"),
                i as i64,
                "info",
            ));
            lines.push(line(
                &format!("tool web_search took {} ms", 100 + i),
                i as i64,
                "info",
            ));
            if i % 10 == 0 {
                lines.push(line("connection reset by peer", i as i64, "error"));
            }
        }
        lines.reverse();
        let total = lines.len() as u64;
        let p = cluster(lines, (1_700_000_000_000_000, 1_700_000_030_000_000), true);
        let by: BTreeMap<&str, u64> = p
            .patterns
            .iter()
            .map(|p| (p.pattern.as_str(), p.count))
            .collect();
        assert_eq!(
            by,
            BTreeMap::from([
                ("task <id> started by <_>", 30),
                ("tool web_search took <number> ms", 30),
                ("connection reset by peer", 3),
            ])
        );
        assert_eq!(
            p.patterns.iter().map(|p| p.count).sum::<u64>() + p.others,
            total
        );
        assert_eq!(p.sampled, total);
        let reset = p
            .patterns
            .iter()
            .find(|p| p.pattern.starts_with("connection"))
            .unwrap();
        assert_eq!(reset.levels["error"], 3);
        assert_eq!(reset.trend.iter().sum::<u64>(), 3);
    }

    #[test]
    fn structured_lines_are_clustered_by_their_message() {
        let mut json = line(
            r#"{"msg":"tool web_search returned in 905 ms","agent_id":"a1"}"#,
            1,
            "info",
        );
        json.fields
            .insert("msg".into(), "tool web_search returned in 905 ms".into());
        let plain = line("tool web_search returned in 12 ms", 2, "info");
        let p = cluster(
            vec![plain, json],
            (1_700_000_000_000_000, 1_700_000_010_000_000),
            true,
        );
        assert_eq!(p.patterns.len(), 1);
        assert_eq!(
            p.patterns[0].pattern,
            "tool web_search returned in <number> ms"
        );
    }

    #[test]
    fn a_line_unlike_the_others_keeps_its_own_pattern() {
        let lines = vec![
            line("user alice signed in from the web", 1, "info"),
            line("user bob signed in from the web", 2, "info"),
            line("user carol deleted the project atlas", 3, "warn"),
        ];
        let p = cluster(lines, (1_700_000_000_000_000, 1_700_000_010_000_000), true);
        let patterns: Vec<&str> = p.patterns.iter().map(|p| p.pattern.as_str()).collect();
        assert_eq!(
            patterns,
            [
                "user <_> signed in from the web",
                "user carol deleted the project atlas"
            ]
        );
    }
}
