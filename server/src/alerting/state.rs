//! The alert state machine, one instance per rule and series: inactive → pending → firing →
//! resolved, with `for` and `keep firing for` as Prometheus 2.42 applies them. The live
//! evaluator and the preview both step it, so the preview shows what evaluation would do.

use app::api::alerting::AlertState;
use std::collections::{BTreeMap, HashMap};

/// An alert's labels: the series' labels (without `__name__`), the rule's labels, `alertname`.
pub type AlertLabels = BTreeMap<String, String>;

/// A stable 64-bit fingerprint of a label set.
pub fn fingerprint(labels: &AlertLabels) -> i64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for (n, v) in labels {
        h.update(n.as_bytes());
        h.update(&[0xff]);
        h.update(v.as_bytes());
        h.update(&[0xfe]);
    }
    h.digest() as i64
}

/// One alert instance as evaluation keeps it (times in ms).
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub labels: AlertLabels,
    pub annotations: BTreeMap<String, String>,
    /// `Inactive` is a resolved alert kept until its resolution is notified.
    pub state: AlertState,
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub last_active_at: i64,
    pub keep_firing_since: Option<i64>,
    pub resolved_at: Option<i64>,
    pub value: f64,
}

/// One series for which the rule's condition holds at an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Active {
    pub labels: AlertLabels,
    pub value: f64,
}

impl Active {
    /// The alert a rule raises for itself (no data, a failing query): no series, no value.
    pub fn without_value(labels: AlertLabels) -> Self {
        Self {
            labels,
            value: f64::NAN,
        }
    }
}

/// The rule's timing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing {
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
}

/// A state change of one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub fingerprint: i64,
    pub labels: AlertLabels,
    pub from: AlertState,
    pub to: AlertState,
    pub at: i64,
    pub value: f64,
}

/// The instances of one rule, by fingerprint.
pub type Instances = HashMap<i64, Instance>;

/// Advances `instances` by one evaluation at `at` where `active` are the series the condition
/// holds for, and returns the state changes. Pending alerts whose condition stops holding are
/// removed; firing ones become `Inactive` (resolved) and stay until [`forget_resolved`].
pub fn advance(
    instances: &mut Instances,
    active: Vec<Active>,
    at: i64,
    timing: Timing,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut seen = std::collections::HashSet::with_capacity(active.len());
    for Active { labels, value } in active {
        let fp = fingerprint(&labels);
        if !seen.insert(fp) {
            continue;
        }
        match instances.get_mut(&fp) {
            Some(i) if matches!(i.state, AlertState::Pending | AlertState::Firing) => {
                i.value = value;
                i.last_active_at = at;
                i.keep_firing_since = None;
                if i.state == AlertState::Pending && at - i.active_at >= timing.for_ms {
                    i.state = AlertState::Firing;
                    i.fired_at = Some(at);
                    changes.push(change(fp, i, AlertState::Pending, at));
                }
            }
            existing => {
                let from = existing.map_or(AlertState::Inactive, |i| i.state);
                let state = if timing.for_ms == 0 {
                    AlertState::Firing
                } else {
                    AlertState::Pending
                };
                let instance = Instance {
                    labels,
                    annotations: BTreeMap::new(),
                    state,
                    active_at: at,
                    fired_at: (state == AlertState::Firing).then_some(at),
                    last_active_at: at,
                    keep_firing_since: None,
                    resolved_at: None,
                    value,
                };
                changes.push(change(fp, &instance, from, at));
                instances.insert(fp, instance);
            }
        }
    }
    let mut gone = Vec::new();
    for (&fp, i) in instances.iter_mut() {
        if seen.contains(&fp) {
            continue;
        }
        match i.state {
            AlertState::Pending => {
                gone.push(fp);
                let mut c = change(fp, i, AlertState::Pending, at);
                c.to = AlertState::Inactive;
                changes.push(c);
            }
            AlertState::Firing => {
                if timing.keep_firing_for_ms > 0 {
                    let since = *i.keep_firing_since.get_or_insert(at);
                    if since + timing.keep_firing_for_ms > at {
                        continue;
                    }
                }
                i.state = AlertState::Inactive;
                i.resolved_at = Some(at);
                i.keep_firing_since = None;
                changes.push(change(fp, i, AlertState::Firing, at));
            }
            AlertState::NoData => {
                gone.push(fp);
                let mut c = change(fp, i, AlertState::NoData, at);
                c.to = AlertState::Inactive;
                changes.push(c);
            }
            AlertState::Inactive => {}
        }
    }
    for fp in gone {
        instances.remove(&fp);
    }
    changes
}

/// Marks the rule as without data: one `NoData` instance with `labels`, replacing the rest.
pub fn no_data(instances: &mut Instances, labels: AlertLabels, at: i64) -> Vec<Change> {
    let fp = fingerprint(&labels);
    if instances
        .get(&fp)
        .is_some_and(|i| i.state == AlertState::NoData)
    {
        return Vec::new();
    }
    let mut changes = advance(instances, Vec::new(), at, Timing::default());
    let instance = Instance {
        labels,
        annotations: BTreeMap::new(),
        state: AlertState::NoData,
        active_at: at,
        fired_at: None,
        last_active_at: at,
        keep_firing_since: None,
        resolved_at: None,
        value: f64::NAN,
    };
    changes.push(change(fp, &instance, AlertState::Inactive, at));
    instances.insert(fp, instance);
    changes
}

fn change(fingerprint: i64, i: &Instance, from: AlertState, at: i64) -> Change {
    Change {
        fingerprint,
        labels: i.labels.clone(),
        from,
        to: i.state,
        at,
        value: i.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(agent: &str, value: f64) -> Active {
        Active {
            labels: AlertLabels::from([("agent".into(), agent.into())]),
            value,
        }
    }

    fn states(instances: &Instances) -> Vec<AlertState> {
        let mut s: Vec<_> = instances.values().map(|i| i.state).collect();
        s.sort();
        s
    }

    #[test]
    fn pending_then_firing_after_for_then_resolved() {
        let timing = Timing {
            for_ms: 120_000,
            keep_firing_for_ms: 0,
        };
        let mut inst = Instances::new();
        let c = advance(&mut inst, vec![series("a", 150.0)], 0, timing);
        assert_eq!(
            (c[0].from, c[0].to),
            (AlertState::Inactive, AlertState::Pending)
        );
        assert!(advance(&mut inst, vec![series("a", 150.0)], 60_000, timing).is_empty());
        let c = advance(&mut inst, vec![series("a", 160.0)], 120_000, timing);
        assert_eq!(
            (c[0].from, c[0].to),
            (AlertState::Pending, AlertState::Firing)
        );
        assert_eq!(c[0].value, 160.0);
        let c = advance(&mut inst, vec![], 180_000, timing);
        assert_eq!(
            (c[0].from, c[0].to),
            (AlertState::Firing, AlertState::Inactive)
        );
        assert_eq!(states(&inst), vec![AlertState::Inactive]);
        // It comes back: a new pending alert over the resolved one.
        let c = advance(&mut inst, vec![series("a", 150.0)], 240_000, timing);
        assert_eq!(
            (c[0].from, c[0].to),
            (AlertState::Inactive, AlertState::Pending)
        );
    }

    #[test]
    fn pending_that_stops_holding_goes_away() {
        let timing = Timing {
            for_ms: 120_000,
            keep_firing_for_ms: 0,
        };
        let mut inst = Instances::new();
        advance(&mut inst, vec![series("a", 1.0)], 0, timing);
        let c = advance(&mut inst, vec![], 60_000, timing);
        assert_eq!(
            (c[0].from, c[0].to),
            (AlertState::Pending, AlertState::Inactive)
        );
        assert!(inst.is_empty());
    }

    #[test]
    fn zero_for_fires_at_once_and_keep_firing_for_holds_it() {
        let timing = Timing {
            for_ms: 0,
            keep_firing_for_ms: 120_000,
        };
        let mut inst = Instances::new();
        let c = advance(&mut inst, vec![series("a", 1.0)], 0, timing);
        assert_eq!(c[0].to, AlertState::Firing);
        // Kept firing for two minutes counted from the first evaluation without it.
        assert!(advance(&mut inst, vec![], 60_000, timing).is_empty());
        assert!(advance(&mut inst, vec![], 120_000, timing).is_empty());
        let c = advance(&mut inst, vec![], 180_000, timing);
        assert_eq!(c[0].to, AlertState::Inactive);
    }

    #[test]
    fn no_data_replaces_alerts_and_clears_when_data_returns() {
        let mut inst = Instances::new();
        advance(&mut inst, vec![series("a", 1.0)], 0, Timing::default());
        let c = no_data(&mut inst, AlertLabels::new(), 60_000);
        assert_eq!(c.len(), 2);
        assert_eq!(
            states(&inst),
            vec![AlertState::Inactive, AlertState::NoData]
        );
        assert!(no_data(&mut inst, AlertLabels::new(), 120_000).is_empty());
        let c = advance(
            &mut inst,
            vec![series("a", 1.0)],
            180_000,
            Timing::default(),
        );
        assert!(c
            .iter()
            .any(|c| c.from == AlertState::NoData && c.to == AlertState::Inactive));
    }
}
