//! Prometheus rule files (YAML) in and out: import into a folder, export that `promtool check
//! rules` accepts, and a directory of rule files kept in sync like provisioned dashboards (the
//! folder is the file's name; a removed file removes its groups).

use super::Alerting;
use crate::{error::ApiError, store::alerting as db};
use app::api::alerting::{
    duration_text, Condition, ImportSummary, Rule, RuleGroup, RuleKind, RuleSource, Signal,
};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::Path};

/// Most bytes of one rule file.
pub const MAX_FILE_BYTES: usize = 4 << 20;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub groups: Vec<FileGroup>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGroup {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default)]
    pub rules: Vec<FileRule>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub expr: String,
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Reads a rule file into groups of `folder`; errors name the group and rule at fault.
pub fn parse(text: &str, folder: &str) -> Result<Vec<RuleGroup>, ApiError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ApiError::invalid(
            "file",
            format!("a rule file may have at most {MAX_FILE_BYTES} bytes"),
        ));
    }
    let file: RuleFile = serde_yaml::from_str(text)
        .map_err(|e| ApiError::invalid("file", format!("not a Prometheus rule file: {e}")))?;
    let mut seen = std::collections::HashSet::new();
    let mut groups = Vec::new();
    for (gi, group) in file.groups.into_iter().enumerate() {
        if !seen.insert(group.name.clone()) {
            return Err(ApiError::invalid(
                format!("groups[{gi}].name"),
                format!("group \"{}\" appears twice", group.name),
            ));
        }
        let mut rules = Vec::new();
        for (ri, r) in group.rules.into_iter().enumerate() {
            let field = |f: &str| format!("groups[{gi}].rules[{ri}].{f}");
            let (kind, name) = match (r.alert, r.record) {
                (Some(a), None) => (RuleKind::Alerting, a),
                (None, Some(r)) => (RuleKind::Recording, r),
                _ => {
                    return Err(ApiError::invalid(
                        field("alert"),
                        "a rule has exactly one of \"alert\" and \"record\"",
                    ))
                }
            };
            if kind == RuleKind::Recording
                && (r.for_duration.is_some()
                    || r.keep_firing_for.is_some()
                    || !r.annotations.is_empty())
            {
                return Err(ApiError::invalid(
                    field("record"),
                    "a recording rule has no for, keep_firing_for or annotations",
                ));
            }
            rules.push(Rule {
                kind,
                name,
                query: r.expr,
                condition: Condition::Any,
                for_duration: r.for_duration.unwrap_or_else(|| "0s".into()),
                keep_firing_for: r.keep_firing_for.unwrap_or_else(|| "0s".into()),
                labels: r.labels,
                annotations: r.annotations,
                ..Rule::default()
            });
        }
        groups.push(RuleGroup {
            folder: folder.into(),
            name: group.name,
            interval: group.interval.unwrap_or_else(|| "1m".into()),
            rules,
            source: RuleSource::Api,
        });
    }
    Ok(groups)
}

/// Writes groups as a Prometheus rule file. Conditions become comparisons in the expression;
/// baseline rules have no Prometheus form and are left out with a comment saying so.
pub fn render(groups: &[RuleGroup]) -> String {
    let mut skipped = Vec::new();
    let file = RuleFile {
        groups: groups
            .iter()
            .map(|g| FileGroup {
                name: if groups.iter().filter(|o| o.name == g.name).count() > 1 {
                    format!("{}/{}", g.folder, g.name)
                } else {
                    g.name.clone()
                },
                interval: Some(g.interval.clone()),
                limit: None,
                rules: g
                    .rules
                    .iter()
                    .filter_map(|r| match export_expr(r) {
                        Some(expr) => Some(file_rule(r, expr)),
                        None => {
                            skipped.push((format!("{}/{}", g.name, r.name), r.signal));
                            None
                        }
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut out =
        String::from("# Exported from the portal; `promtool check rules` accepts this file.\n");
    for (s, signal) in skipped {
        out.push_str(&match signal {
            Signal::Logs => format!(
                "# Left out: {s} counts log lines (LogQL), which a Prometheus rule cannot express.\n"
            ),
            Signal::Metrics => format!(
                "# Left out: {s} compares values with their own history (a baseline), which a Prometheus rule cannot express.\n"
            ),
        });
    }
    out.push_str(&serde_yaml::to_string(&file).unwrap_or_default());
    out
}

fn export_expr(rule: &Rule) -> Option<String> {
    if rule.kind == RuleKind::Recording {
        return Some(rule.query.clone());
    }
    if rule.baseline.is_some() || rule.signal == Signal::Logs {
        return None;
    }
    Some(
        rule.condition
            .promql(&rule.query)
            .unwrap_or_else(|| rule.query.clone()),
    )
}

fn file_rule(rule: &Rule, expr: String) -> FileRule {
    let duration = |text: &str| {
        let ms = app::api::alerting::duration_field("", text).unwrap_or(0);
        (ms > 0).then(|| duration_text(ms))
    };
    let alerting = rule.kind == RuleKind::Alerting;
    FileRule {
        record: (!alerting).then(|| rule.name.clone()),
        alert: alerting.then(|| rule.name.clone()),
        expr,
        for_duration: if alerting {
            duration(&rule.for_duration)
        } else {
            None
        },
        keep_firing_for: if alerting {
            duration(&rule.keep_firing_for)
        } else {
            None
        },
        labels: rule.labels.clone(),
        annotations: if alerting {
            rule.annotations.clone()
        } else {
            BTreeMap::new()
        },
    }
}

impl Alerting {
    /// Imports a rule file into `folder`; groups of the same name there are replaced.
    pub async fn import(&self, text: &str, folder: &str) -> Result<ImportSummary, ApiError> {
        let groups = parse(text, folder)?;
        // Every group is checked before any is saved.
        for (gi, g) in groups.iter().enumerate() {
            if let Some(e) = g.validate().into_iter().next() {
                return Err(ApiError::invalid(
                    format!("groups[{gi}].{}", e.field),
                    e.message,
                ));
            }
            for (ri, r) in g.rules.iter().enumerate() {
                self.check_rule(r)
                    .map_err(|e| super::prefixed(e, &format!("groups[{gi}].rules[{ri}].")))?;
            }
        }
        let mut summary = ImportSummary::default();
        for g in groups {
            summary.groups += 1;
            summary.rules += g.rules.len() as u32;
            self.put_group(g, None).await?;
        }
        Ok(summary)
    }

    /// Every group (or those of `folder`) as a Prometheus rule file.
    /// The rule groups `folders` may see (of `folder` only, when given) as a Prometheus rule
    /// file.
    pub async fn export(
        &self,
        folder: Option<&str>,
        folders: &crate::accounts::FolderAccess,
    ) -> Result<String, ApiError> {
        let shown = super::Shown::new(self, folders).await?;
        let groups: Vec<RuleGroup> = self
            .groups()
            .await?
            .into_iter()
            .filter(|(g, _)| folder.is_none_or(|f| g.folder == f) && shown.folder(&g.folder))
            .map(|(g, rules)| Self::group_model(&g, rules))
            .collect();
        Ok(render(&groups))
    }

    /// Makes the groups of the rule files in `dir` (`*.yml`, `*.yaml`) what the files say; a
    /// file that cannot be read is reported and its groups left as they were.
    pub async fn sync_directory(&self, dir: &Path) -> Result<u32, ApiError> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("cannot read {}: {e}", dir.display())))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
            .collect();
        entries.sort();
        let mut wanted: Vec<(String, String)> = Vec::new();
        let mut failed_folders = Vec::new();
        let mut synced = 0;
        for path in entries {
            let folder = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("rules")
                .to_string();
            let result = async {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| ApiError::invalid("file", e.to_string()))?;
                let groups = parse(&text, &folder)?;
                for mut g in groups {
                    g.source = RuleSource::Provisioned;
                    wanted.push((g.folder.clone(), g.name.clone()));
                    self.put_group(g, Some(&path.display().to_string())).await?;
                    synced += 1;
                }
                Ok::<_, ApiError>(())
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(file = %path.display(), error = %e, "rule file not provisioned");
                failed_folders.push(folder);
            }
        }
        for g in db::select_groups(&self.pool).await? {
            let keep = wanted.iter().any(|(f, n)| *f == g.folder && *n == g.name)
                || failed_folders.contains(&g.folder);
            if g.source == "provisioned" && !keep {
                db::delete_group(&self.pool, g.id).await?;
            }
        }
        Ok(synced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
groups:
  - name: fleet
    interval: 30s
    rules:
      - alert: QueueDeep
        expr: max by (queue_name) (agent_queue_depth) > 100
        for: 2m
        labels: {severity: warning}
        annotations:
          summary: "Queue {{ $labels.queue_name }} holds {{ $value }}"
      - record: queue:depth:max
        expr: max by (queue_name) (agent_queue_depth)
"#;

    #[test]
    fn reads_and_writes_prometheus_rule_files() {
        let groups = parse(FILE, "Imported").unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].interval, "30s");
        assert_eq!(groups[0].rules[0].for_duration, "2m");
        assert_eq!(groups[0].rules[1].kind, RuleKind::Recording);
        let text = render(&groups);
        let again = parse(&text, "Imported").unwrap();
        assert_eq!(again[0].rules[0].query, groups[0].rules[0].query);
        assert_eq!(again[0].rules[0].for_duration, "2m");
        assert!(!text.contains("keep_firing_for"));
    }

    #[test]
    fn conditions_become_comparisons_on_export() {
        let rule = Rule {
            name: "X".into(),
            query: "agent_queue_depth".into(),
            condition: Condition::Outside {
                low: 1.0,
                high: 5.0,
            },
            ..Rule::default()
        };
        assert_eq!(
            export_expr(&rule).unwrap(),
            "(agent_queue_depth) < 1 or (agent_queue_depth) > 5"
        );
    }

    #[test]
    fn log_rules_are_left_out_of_the_prometheus_export_saying_why() {
        let group = RuleGroup {
            folder: "Agents".into(),
            name: "errors".into(),
            interval: "1m".into(),
            rules: vec![Rule {
                name: "Timeouts".into(),
                signal: Signal::Logs,
                query: "sum(count_over_time({} |= \"timeout\" [5m]))".into(),
                condition: Condition::Above { threshold: 3.0 },
                ..Rule::default()
            }],
            source: RuleSource::Api,
        };
        let text = render(&[group]);
        assert!(
            text.contains("# Left out: errors/Timeouts counts log lines"),
            "{text}"
        );
        assert!(!text.contains("count_over_time"), "{text}");
    }

    #[test]
    fn refuses_alias_bombs_quickly() {
        let mut bomb =
            String::from("a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
        for (i, prev) in ('b'..='j').zip('a'..='i') {
            bomb.push_str(&format!(
                "{i}: &{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
        }
        bomb.push_str("groups: []\n");
        let started = std::time::Instant::now();
        assert!(parse(&bomb, "f").is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn refuses_what_is_not_a_rule_file() {
        assert!(parse("groups: [{name: a, rules: [{expr: up}]}]", "f").is_err());
        assert!(parse("groups: [{name: a, bogus: 1}]", "f").is_err());
        assert!(parse("groups: [{name: a}, {name: a}]", "f").is_err());
    }
}
