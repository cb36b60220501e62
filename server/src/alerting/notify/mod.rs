//! Notifications: contact points (webhook with Alertmanager's payload, Slack, PagerDuty, email),
//! the routing tree that sends each alert to them, aggregation groups with Alertmanager's
//! `group_wait`, `group_interval` and `repeat_interval` ([`dispatch`]), the messages and their
//! delivery with retries ([`send`]), and signed links to a chart of the alert ([`image`]).

pub mod dispatch;
pub mod image;
pub mod send;

use super::Alerting;
use crate::{accounts::FolderAccess, error::ApiError, store::alerting as db};
use app::api::accounts::FolderKind;
use app::api::alerting::{
    duration_field, ContactPoint, LabelMatcher, MatchOp, NotificationPolicy, NotificationRecord,
    Route,
};
use std::collections::BTreeMap;

/// Most nodes of a routing tree, and how deep it may nest.
pub const MAX_ROUTES: usize = 1_000;
pub const MAX_ROUTE_DEPTH: usize = 16;

/// A route an alert reached, with the settings it inherited; its `path` is its place in the
/// tree (`0`, `0.2`, `0.2.1`).
pub use app::api::alerting::RouteMatch as Matched;

/// Whether `labels` satisfy `m`. Regular expressions are anchored, as in Alertmanager.
pub fn matcher_holds(m: &LabelMatcher, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&m.name).map(String::as_str).unwrap_or("");
    match m.op {
        MatchOp::Equal => value == m.value,
        MatchOp::NotEqual => value != m.value,
        MatchOp::Regex | MatchOp::NotRegex => {
            let hit = with_regex(&m.value, |re| re.is_some_and(|re| re.is_match(value)));
            (m.op == MatchOp::Regex) == hit
        }
    }
}

/// A matcher's expression as Alertmanager reads it: anchored at both ends, and bounded in size.
fn anchored(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
}

/// How many compiled matcher expressions each thread keeps.
const REGEX_CACHE: usize = 1_000;

thread_local! {
    static REGEXES: std::cell::RefCell<std::collections::HashMap<String, Option<regex::Regex>>> =
        std::cell::RefCell::default();
}

/// Calls `f` with the anchored expression `pattern` compiled (None when it does not compile),
/// compiling each pattern once per thread: every pass matches every alert against the same
/// silences, routes and inhibition rules.
fn with_regex<T>(pattern: &str, f: impl FnOnce(Option<&regex::Regex>) -> T) -> T {
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(pattern) {
            if cache.len() >= REGEX_CACHE {
                cache.clear();
            }
            let re = anchored(pattern).ok();
            cache.insert(pattern.to_string(), re);
        }
        f(cache.get(pattern).and_then(Option::as_ref))
    })
}

/// The routes an alert takes: straight to its rule's contact point when the rule names one,
/// else down the tree; routes without a receiver are left out.
pub fn routes_of(
    root: &Route,
    rule: Option<&app::api::alerting::Rule>,
    rule_uid: &str,
    labels: &BTreeMap<String, String>,
) -> Vec<Matched> {
    let all = match rule.and_then(|r| r.contact_point.as_deref()) {
        Some(point) => vec![direct(root, rule_uid, point)],
        None => route(root, labels),
    };
    all.into_iter().filter(|m| !m.receiver.is_empty()).collect()
}

/// The labels an alert's aggregation group is known by on route `m`: its `group_by` labels
/// (all of them with `...`).
pub fn group_labels(m: &Matched, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    match &m.group_by {
        None => labels.clone(),
        Some(names) => names
            .iter()
            .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
            .collect(),
    }
}

/// The one route of alerts whose rule names its contact point: the default route's grouping
/// and timing, to that contact point.
pub fn direct(root: &Route, rule_uid: &str, contact_point: &str) -> Matched {
    let mut m = route(
        &Route {
            routes: Vec::new(),
            ..root.clone()
        },
        &BTreeMap::new(),
    )
    .remove(0);
    m.path = format!("rule/{rule_uid}");
    m.receiver = contact_point.to_string();
    m
}

/// Checks that the regular expressions of `matchers` compile; an error names
/// `<field>[i].value`.
pub fn check_matchers(matchers: &[LabelMatcher], field: &str) -> Result<(), ApiError> {
    for (i, m) in matchers.iter().enumerate() {
        if matches!(m.op, MatchOp::Regex | MatchOp::NotRegex) {
            anchored(&m.value).map_err(|e| {
                ApiError::invalid(
                    format!("{field}[{i}].value"),
                    format!("bad regular expression: {e}"),
                )
            })?;
        }
    }
    Ok(())
}

/// The routes `labels` reach, walking the tree as Alertmanager does: the first matching child
/// (and the ones after it while `continue` is set), the deepest match wins; the root always
/// matches.
pub fn route(root: &Route, labels: &BTreeMap<String, String>) -> Vec<Matched> {
    let inherited = Matched {
        path: "0".into(),
        receiver: root.receiver.clone(),
        group_by: group_by_of(root.group_by.as_ref())
            .unwrap_or(Some(vec![app::api::alerting::ALERTNAME.into()])),
        group_wait_ms: ms(root.group_wait.as_deref()).unwrap_or(30_000),
        group_interval_ms: ms(root.group_interval.as_deref()).unwrap_or(300_000),
        repeat_interval_ms: ms(root.repeat_interval.as_deref()).unwrap_or(4 * 3_600_000),
    };
    let mut out = Vec::new();
    walk(root, &inherited, labels, &mut out);
    out
}

fn group_by_of(group_by: Option<&Vec<String>>) -> Option<Option<Vec<String>>> {
    group_by.map(|g| {
        if g.iter().any(|l| l == "...") {
            None
        } else {
            Some(g.clone())
        }
    })
}

fn ms(text: Option<&str>) -> Option<i64> {
    text.and_then(|t| duration_field("", t).ok())
}

fn walk(
    node: &Route,
    settings: &Matched,
    labels: &BTreeMap<String, String>,
    out: &mut Vec<Matched>,
) {
    let mut matched_child = false;
    for (i, child) in node.routes.iter().enumerate() {
        if !child.matchers.iter().all(|m| matcher_holds(m, labels)) {
            continue;
        }
        let mut s = settings.clone();
        s.path = format!("{}.{i}", settings.path);
        if !child.receiver.is_empty() {
            s.receiver = child.receiver.clone();
        }
        if let Some(g) = group_by_of(child.group_by.as_ref()) {
            s.group_by = g;
        }
        if let Some(v) = ms(child.group_wait.as_deref()) {
            s.group_wait_ms = v;
        }
        if let Some(v) = ms(child.group_interval.as_deref()) {
            s.group_interval_ms = v;
        }
        if let Some(v) = ms(child.repeat_interval.as_deref()) {
            s.repeat_interval_ms = v;
        }
        walk(child, &s, labels, out);
        matched_child = true;
        if !child.continue_matching {
            break;
        }
    }
    if !matched_child {
        out.push(settings.clone());
    }
}

impl Alerting {
    /// The contact points with their secrets, for sending; what is shown is
    /// [`Alerting::contact_points_shown`].
    pub async fn contact_points(&self) -> Result<Vec<ContactPoint>, ApiError> {
        Ok(db::select_contact_points(&self.pool)
            .await?
            .into_iter()
            .filter_map(|(_, spec)| serde_json::from_value(spec).ok())
            .collect())
    }

    pub async fn contact_point(&self, name: &str) -> Result<ContactPoint, ApiError> {
        self.contact_points()
            .await?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ApiError::not_found(format!("no contact point \"{name}\"")))
    }

    /// The contact points as anyone sees them: secrets never shown once saved.
    pub async fn contact_points_shown(&self) -> Result<Vec<ContactPoint>, ApiError> {
        Ok(self
            .contact_points()
            .await?
            .into_iter()
            .map(ContactPoint::masked)
            .collect())
    }

    pub async fn contact_point_shown(&self, name: &str) -> Result<ContactPoint, ApiError> {
        Ok(self.contact_point(name).await?.masked())
    }

    /// `point` with the secrets it leaves blank taken from the saved point of its name.
    pub async fn with_saved_secrets(
        &self,
        mut point: ContactPoint,
    ) -> Result<ContactPoint, ApiError> {
        match self.contact_point(&point.name).await {
            Ok(stored) => point.keep_secrets_of(&stored),
            Err(_) => point.configured.clear(),
        }
        Ok(point)
    }

    /// Saves a contact point (secrets left blank keep the saved ones) and answers it as shown.
    pub async fn save_contact_point(&self, point: ContactPoint) -> Result<ContactPoint, ApiError> {
        let point = self.with_saved_secrets(point).await?;
        if let Some(e) = point.validate().into_iter().next() {
            return Err(ApiError::invalid(e.field, e.message));
        }
        for (field, text) in [
            ("title_template", &point.title_template),
            ("body_template", &point.body_template),
        ] {
            super::template::check_with(text, &send::MESSAGE_VARS)
                .map_err(|e| ApiError::invalid(field, e))?;
        }
        let spec = serde_json::to_value(&point).map_err(anyhow::Error::from)?;
        db::upsert_contact_point(&self.pool, &point.name, &spec).await?;
        Ok(point.masked())
    }

    /// Deletes a contact point no route uses.
    pub async fn delete_contact_point(&self, name: &str) -> Result<(), ApiError> {
        let policy = self.policy().await?;
        let mut used = false;
        visit(&policy.root, &mut |r| used |= r.receiver == name);
        if used {
            return Err(ApiError::Conflict(format!(
                "contact point \"{name}\" is used by the routing tree; change the routes first"
            )));
        }
        let rules: Vec<String> = db::select_rules(&self.pool)
            .await?
            .iter()
            .map(super::rule_of)
            .filter(|r| r.contact_point.as_deref() == Some(name))
            .map(|r| r.name)
            .collect();
        if !rules.is_empty() {
            return Err(ApiError::Conflict(format!(
                "contact point \"{name}\" is where these rules send: {}; change them first",
                rules.join(", ")
            )));
        }
        if !db::delete_contact_point(&self.pool, name).await? {
            return Err(ApiError::not_found(format!("no contact point \"{name}\"")));
        }
        Ok(())
    }

    /// The routing tree (a root without receiver until one is set).
    pub async fn policy(&self) -> Result<NotificationPolicy, ApiError> {
        Ok(match db::select_policy(&self.pool).await? {
            Some(spec) => serde_json::from_value(spec).unwrap_or_default(),
            None => NotificationPolicy::default(),
        })
    }

    /// Replaces the routing tree after checking every route: receivers exist, matchers and
    /// durations read, the tree is not too large or deep.
    pub async fn save_policy(
        &self,
        policy: NotificationPolicy,
    ) -> Result<NotificationPolicy, ApiError> {
        let names: Vec<String> = self
            .contact_points()
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        check_route(&policy.root, "root", 0, &names, &mut 0)?;
        let spec = serde_json::to_value(&policy).map_err(anyhow::Error::from)?;
        db::upsert_policy(&self.pool, &spec).await?;
        Ok(policy)
    }

    /// Where alerts with `labels` would be notified.
    pub async fn routes_for(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<Matched>, ApiError> {
        let policy = self.policy().await?;
        Ok(route(&policy.root, labels)
            .into_iter()
            .filter(|m| !m.receiver.is_empty())
            .collect())
    }

    /// The newest entries of the notification log.
    /// Forgets the notifications older than the retention; how many went.
    pub async fn prune_notifications(&self) -> Result<u64, ApiError> {
        Ok(db::delete_notifications_before(
            &self.pool,
            chrono::Utc::now() - self.notification_retention,
        )
        .await?)
    }

    /// The latest `limit` notifications, less those that carried alerts of rules in folders
    /// `folders` may not see.
    pub async fn notifications(
        &self,
        limit: i64,
        folders: &FolderAccess,
    ) -> Result<Vec<NotificationRecord>, ApiError> {
        let shown = super::Shown::new(self, folders).await?;
        let sees_every = folders.sees_every(FolderKind::Rules);
        Ok(db::select_notifications(&self.pool, limit.clamp(1, 1_000))
            .await?
            .into_iter()
            .filter(|r| match &r.rule_uids {
                Some(uids) => uids.iter().all(|uid| shown.alert_of(uid)),
                None => sees_every,
            })
            .map(|r| NotificationRecord {
                id: r.id,
                receiver: r.receiver,
                group_key: r.group_key,
                status: r.status,
                alerts: r.alerts.max(0) as u32,
                created_at: r.created_at,
                delivered_at: r.delivered_at,
                attempts: r.attempts.max(0) as u32,
                outcome: r.outcome,
                response: r.response,
            })
            .collect())
    }
}

fn visit(route: &Route, f: &mut impl FnMut(&Route)) {
    f(route);
    for child in &route.routes {
        visit(child, f);
    }
}

fn check_route(
    route: &Route,
    at: &str,
    depth: usize,
    receivers: &[String],
    count: &mut usize,
) -> Result<(), ApiError> {
    *count += 1;
    if *count > MAX_ROUTES {
        return Err(ApiError::invalid(
            at,
            format!("at most {MAX_ROUTES} routes"),
        ));
    }
    if depth > MAX_ROUTE_DEPTH {
        return Err(ApiError::invalid(
            at,
            format!("routes nest at most {MAX_ROUTE_DEPTH} deep"),
        ));
    }
    if depth == 0 && route.receiver.is_empty() && !route.routes.is_empty() {
        return Err(ApiError::invalid(
            "root.receiver",
            "the default route needs a contact point",
        ));
    }
    if depth == 0 && !route.matchers.is_empty() {
        return Err(ApiError::invalid(
            "root.matchers",
            "the default route matches every alert",
        ));
    }
    if !route.receiver.is_empty() && !receivers.contains(&route.receiver) {
        return Err(ApiError::invalid(
            format!("{at}.receiver"),
            format!("no contact point \"{}\"", route.receiver),
        ));
    }
    check_matchers(&route.matchers, &format!("{at}.matchers"))?;
    for (field, value) in [
        ("group_wait", &route.group_wait),
        ("group_interval", &route.group_interval),
        ("repeat_interval", &route.repeat_interval),
    ] {
        if let Some(text) = value {
            let ms = duration_field(field, text)
                .map_err(|e| ApiError::invalid(format!("{at}.{field}"), e.message))?;
            if field != "group_wait" && ms < 1_000 {
                return Err(ApiError::invalid(
                    format!("{at}.{field}"),
                    "must be at least 1s",
                ));
            }
        }
    }
    for (i, child) in route.routes.iter().enumerate() {
        check_route(
            child,
            &format!("{at}.routes[{i}]"),
            depth + 1,
            receivers,
            count,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::alerting::parse_matchers;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn routes_like_alertmanager() {
        let root = Route {
            receiver: "default".into(),
            routes: vec![
                Route {
                    receiver: "pager".into(),
                    matchers: parse_matchers("severity=\"critical\"").unwrap(),
                    continue_matching: true,
                    group_by: None,
                    group_wait: None,
                    group_interval: None,
                    repeat_interval: Some("1h".into()),
                    routes: vec![],
                },
                Route {
                    receiver: "team-a".into(),
                    matchers: parse_matchers("team=~\"a|agents\"").unwrap(),
                    group_by: Some(vec!["...".into()]),
                    ..Route::default()
                },
                Route {
                    receiver: "never".into(),
                    ..Route::default()
                },
            ],
            ..Route::default()
        };
        let hits = route(
            &root,
            &labels(&[("severity", "critical"), ("team", "agents")]),
        );
        let receivers: Vec<&str> = hits.iter().map(|m| m.receiver.as_str()).collect();
        assert_eq!(receivers, ["pager", "team-a"]);
        assert_eq!(hits[0].repeat_interval_ms, 3_600_000);
        assert_eq!(hits[0].group_wait_ms, 30_000, "inherited");
        assert_eq!(hits[1].group_by, None);
        // The empty-matcher child matches what the others did not.
        let hits = route(&root, &labels(&[("team", "other")]));
        assert_eq!(hits[0].receiver, "never");
        // Regular expressions are anchored.
        let hits = route(&root, &labels(&[("team", "agentsx")]));
        assert_eq!(hits[0].receiver, "never");
        // No children: the root.
        let bare = Route {
            receiver: "default".into(),
            ..Route::default()
        };
        assert_eq!(route(&bare, &labels(&[]))[0].path, "0");
    }
}

#[cfg(test)]
mod matcher_tests {
    use super::*;
    use app::api::alerting::parse_matchers;

    fn holds(matchers: &str, labels: &[(&str, &str)]) -> bool {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_matchers(matchers)
            .unwrap()
            .iter()
            .all(|m| matcher_holds(m, &labels))
    }

    #[test]
    fn empty_values_stand_for_a_missing_label() {
        assert!(holds(r#"team="""#, &[("a", "b")]));
        assert!(!holds(r#"team="""#, &[("team", "x")]));
        assert!(holds(r#"team!="""#, &[("team", "x")]));
        assert!(!holds(r#"team!="""#, &[]));
        assert!(holds(r#"team=~"x|""#, &[]));
        assert!(!holds(r#"team!~".*""#, &[]));
    }

    #[test]
    fn regular_expressions_are_anchored() {
        assert!(!holds(r#"queue=~"cod""#, &[("queue", "coding")]));
        assert!(holds(r#"queue=~"cod.*""#, &[("queue", "coding")]));
        assert!(!holds(r#"queue=~"ding""#, &[("queue", "coding")]));
        assert!(holds(r#"queue!~"cod""#, &[("queue", "coding")]));
        // Alternatives are anchored as a whole, not just the first and last.
        assert!(!holds(r#"queue=~"a|coding|b""#, &[("queue", "xcoding")]));
    }

    #[test]
    fn quoted_values_keep_commas_quotes_and_escapes() {
        let m =
            parse_matchers(r#"{msg="a, b", q="say \"hi\"", path=~"C:\\\\x", bare=word}"#).unwrap();
        let values: Vec<&str> = m.iter().map(|m| m.value.as_str()).collect();
        assert_eq!(values, ["a, b", "say \"hi\"", "C:\\\\x", "word"]);
        assert!(holds(
            r#"msg="a, b", q="say \"hi\"""#,
            &[("msg", "a, b"), ("q", "say \"hi\"")]
        ));
        assert!(holds(r#"path=~"C:\\\\x""#, &[("path", "C:\\x")]));
        assert!(parse_matchers(r#"a="unclosed"#).is_err());
        assert!(parse_matchers(r#"1a="x""#).is_err());
    }
}
