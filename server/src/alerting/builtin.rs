//! The built-in "Agent fleet" group: the thresholds agent fleets are watched with, made in the
//! "Agents" folder when the demo runs (or on request) and then the user's to change.

use super::Alerting;
use crate::{error::ApiError, store::alerting as db};
use app::api::alerting::{Aggregation, Condition, Rule, RuleGroup, RuleSource, SimpleQuery};
use std::collections::BTreeMap;

pub const FOLDER: &str = "Agents";
pub const GROUP: &str = "Agent fleet";

fn simple(metric: &str, aggregation: Aggregation, window: &str, group_by: &[&str]) -> SimpleQuery {
    SimpleQuery {
        metric: metric.into(),
        filter: String::new(),
        aggregation,
        window: window.into(),
        group_by: group_by.iter().map(|s| s.to_string()).collect(),
    }
}

#[allow(clippy::too_many_arguments)]
fn rule(
    name: &str,
    query: Option<SimpleQuery>,
    promql: &str,
    condition: Condition,
    for_duration: &str,
    severity: &str,
    summary: &str,
    description: &str,
) -> Rule {
    let query_text = query
        .as_ref()
        .map(SimpleQuery::promql)
        .unwrap_or_else(|| promql.into());
    Rule {
        uid: format!("fleet-{}", name.to_lowercase()),
        name: name.into(),
        query: query_text,
        condition,
        for_duration: for_duration.into(),
        labels: BTreeMap::from([
            ("severity".into(), severity.into()),
            ("team".into(), "agents".into()),
        ]),
        annotations: BTreeMap::from([
            ("summary".into(), summary.into()),
            ("description".into(), description.into()),
            (
                "dashboard_url".into(),
                "{{ $externalURL }}/d/agent-overview".into(),
            ),
        ]),
        simple: query,
        ..Rule::default()
    }
}

/// The group's rules: the eight thresholds of an agent fleet.
pub fn agent_fleet() -> RuleGroup {
    use Aggregation::*;
    RuleGroup {
        folder: FOLDER.into(),
        name: GROUP.into(),
        interval: "30s".into(),
        source: RuleSource::BuiltIn,
        rules: vec![
            rule(
                "AgentTaskFailures",
                Some(simple("agent_task_failure_total", Increase, "5m", &["agent_id"])),
                "",
                Condition::Above { threshold: 5.0 },
                "0s",
                "warning",
                "{{ $labels.agent_id }} failed {{ $value | humanize }} tasks in 5 minutes",
                "More than 5 task failures in 5 minutes.",
            ),
            rule(
                "QueueDepthHigh",
                Some(simple("agent_queue_depth", Max, "5m", &["queue_name"])),
                "",
                Condition::Above { threshold: 100.0 },
                "2m",
                "warning",
                "Queue {{ $labels.queue_name }} holds {{ $value }} tasks",
                "Queue depth above 100 for 2 minutes.",
            ),
            rule(
                "TaskDurationP95High",
                Some(simple("agent_task_duration_seconds_bucket", P95, "5m", &["agent_id"])),
                "",
                Condition::Above { threshold: 60.0 },
                "10m",
                "warning",
                "p95 task duration of {{ $labels.agent_id }} is {{ $value | humanizeDuration }}",
                "p95 task duration above 60 s for 10 minutes.",
            ),
            rule(
                "ApiLatencyP95High",
                Some(simple("portal_http_request_duration_seconds_bucket", P95, "5m", &[])),
                "",
                Condition::Above { threshold: 0.5 },
                "5m",
                "warning",
                "API p95 latency is {{ $value | humanizeDuration }}",
                "API p95 above 500 ms for 5 minutes.",
            ),
            rule(
                "AgentMemoryHigh",
                Some(simple("agent_memory_usage_bytes", Max, "5m", &["agent_id"])),
                "",
                Condition::Above { threshold: 34.5e6 },
                "5m",
                "warning",
                "{{ $labels.agent_id }} uses {{ $value | humanize }}B of memory",
                "Memory per agent above 34.5 MB for 5 minutes.",
            ),
            rule(
                "AgentDown",
                None,
                "up",
                Condition::Equal { value: 0.0 },
                "1m",
                "critical",
                "{{ $labels.job }} at {{ $labels.instance }} is down",
                "A target has not answered its scrapes for 1 minute.",
            ),
            rule(
                "AgentErrorRateHigh",
                None,
                "sum by (agent_id) (rate(agent_task_failure_total[5m])) / (sum by (agent_id) (rate(agent_task_success_total[5m])) + sum by (agent_id) (rate(agent_task_failure_total[5m])))",
                Condition::Above { threshold: 0.05 },
                "5m",
                "warning",
                "{{ $labels.agent_id }} fails {{ $value | humanizePercentage }} of its tasks",
                "Error rate above 5 % for 5 minutes.",
            ),
            rule(
                "LlmDailyBudgetExceeded",
                Some(simple("llm_cost_usd_total", Increase, "1d", &["agent_id"])),
                "",
                Condition::Above { threshold: 10.0 },
                "0s",
                "warning",
                "{{ $labels.agent_id }} spent ${{ printf \"%.2f\" $value }} on LLM calls in the last day",
                "LLM spend above the daily budget of $10 per agent.",
            ),
        ],
    }
}

impl Alerting {
    /// Makes the "Agent fleet" group unless it exists (it is then the user's: their changes
    /// stay).
    pub async fn ensure_built_in(&self) -> Result<bool, ApiError> {
        if db::select_group(&self.pool, FOLDER, GROUP).await?.is_some() {
            return Ok(false);
        }
        self.put_group(agent_fleet(), None).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_built_in_rule_is_valid() {
        let group = super::agent_fleet();
        assert!(group.validate().is_empty());
        assert_eq!(group.rules.len(), 8);
        for rule in &group.rules {
            assert_eq!(rule.validate(), vec![], "{}", rule.name);
            promql_parser::parser::parse(&rule.query).expect(&rule.name);
            for text in rule.annotations.values() {
                super::super::template::check(text).expect(text);
            }
        }
    }
}
