//! The portal's HTTP API as the UI calls it: one function per endpoint, with the request and
//! response types the server's handlers use, so that renaming a route or a field breaks the
//! build rather than a page. [`paths`] writes every API URL; nothing else in the UI does.

use super::{
    accounts::{
        Account, ApiToken, CreateToken, CreatedToken, FolderGrants, FolderKind, FolderPermissions,
        NewAccount, PasswordChange, SaveTeam, SignIn, Team, UpdateAccount,
    },
    alerting::{
        Alert, ContactPoint, ImportSummary, NotificationPolicy, NotificationRecord, Preview,
        PreviewRequest, RouteMatch, RouteQuery, RuleHistory, RuleSummary, SaveRule, TestOutcome,
    },
    audit::AuditPage,
    client::{get_json, get_prom, send_json, send_text},
    dashboard::{
        Change, CreatePublicLink, CreateShortLink, Dashboard, DashboardRecord, DashboardSummary,
        HomePreference, ImportReport, PublicLink, ResolveVariable, SaveDashboard, ShortLink,
        VariableOptions, VersionSummary,
    },
    logs::{
        ErrorGroupState, ErrorGroups, ErrorStatus, LogContext, LogFacets, LogHistogram, LogPage,
        LogPatterns, SaveSearch, SavedSearch,
    },
    prometheus::{QueryData, QueryRange},
    silences::{
        InhibitRule, OccurrencesRequest, SaveSilence, Silence, SilencePreview,
        SilencePreviewRequest, Window,
    },
    ClientError, PortalStatus,
};

/// The URLs of the API, for the calls below and for links (`href`, `<img src>`).
pub mod paths {
    use crate::api::{accounts::FolderKind, prometheus::QueryRange};
    use crate::format::escape_query_part as escape;

    fn secs(ms: i64) -> f64 {
        ms as f64 / 1000.0
    }

    /// `?k=v&…` from pairs (empty without any).
    fn query(pairs: &[(String, String)]) -> String {
        crate::format::query_string(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    pub fn portal_status() -> String {
        "/api/portal/status".into()
    }

    /// A log search's query and time range (epoch milliseconds) as parameters.
    fn log_params(query: &str, from_ms: i64, to_ms: i64) -> Vec<(String, String)> {
        vec![
            ("query".into(), query.into()),
            ("from".into(), from_ms.to_string()),
            ("to".into(), to_ms.to_string()),
        ]
    }

    pub fn log_search(
        query_text: &str,
        (from_ms, to_ms): (i64, i64),
        before: Option<&str>,
        limit: u32,
    ) -> String {
        let mut p = log_params(query_text, from_ms, to_ms);
        p.push(("limit".into(), limit.to_string()));
        if let Some(b) = before {
            p.push(("before".into(), b.into()));
        }
        format!("/api/logs/search{}", query(&p))
    }

    pub fn log_histogram(query_text: &str, (from_ms, to_ms): (i64, i64), buckets: u32) -> String {
        let mut p = log_params(query_text, from_ms, to_ms);
        p.push(("buckets".into(), buckets.to_string()));
        format!("/api/logs/histogram{}", query(&p))
    }

    pub fn log_errors(query_text: &str, (from_ms, to_ms): (i64, i64)) -> String {
        format!(
            "/api/logs/errors{}",
            query(&log_params(query_text, from_ms, to_ms))
        )
    }

    pub fn log_patterns(query_text: &str, (from_ms, to_ms): (i64, i64)) -> String {
        format!(
            "/api/logs/patterns{}",
            query(&log_params(query_text, from_ms, to_ms))
        )
    }

    pub fn saved_searches() -> String {
        "/api/logs/saved-searches".into()
    }

    pub fn saved_search(id: i64) -> String {
        format!("/api/logs/saved-searches/{id}")
    }

    pub fn log_error_group(fingerprint: &str) -> String {
        format!("/api/logs/errors/{}", escape(fingerprint))
    }

    pub fn log_facets(query_text: &str, (from_ms, to_ms): (i64, i64)) -> String {
        format!(
            "/api/logs/facets{}",
            query(&log_params(query_text, from_ms, to_ms))
        )
    }

    pub fn log_context(cursor: &str, before: u32, after: u32) -> String {
        format!(
            "/api/logs/context?cursor={}&before={before}&after={after}",
            escape(cursor)
        )
    }

    /// The export of a search, as a file (`ndjson` or `csv`).
    pub fn log_export(query_text: &str, (from_ms, to_ms): (i64, i64), format: &str) -> String {
        let mut p = log_params(query_text, from_ms, to_ms);
        p.push(("format".into(), format.into()));
        format!("/api/logs/export{}", query(&p))
    }

    /// The live tail (server-sent events) of a query, from a time (a relative one such as
    /// `now-1m` or epoch milliseconds).
    pub fn log_tail(query_text: &str, from: &str) -> String {
        format!(
            "/api/logs/tail{}",
            query(&[
                ("query".into(), query_text.into()),
                ("from".into(), from.into())
            ])
        )
    }

    pub fn instant_query(expr: &str, at_ms: i64) -> String {
        format!("/api/v1/query?query={}&time={}", escape(expr), secs(at_ms))
    }

    pub fn range_query(expr: &str, range: QueryRange) -> String {
        let QueryRange { start, end, step } = range;
        format!(
            "/api/v1/query_range?query={}&start={}&end={}&step={}",
            escape(expr),
            secs(start),
            secs(end),
            secs(step)
        )
    }

    /// A LogQL metric query over a range (Loki's `query_range`, answered like Prometheus').
    pub fn loki_range_query(expr: &str, range: QueryRange) -> String {
        let QueryRange { start, end, step } = range;
        format!(
            "/loki/api/v1/query_range?query={}&start={}&end={}&step={}",
            escape(expr),
            secs(start),
            secs(end),
            secs(step)
        )
    }

    /// Label names, of the series `selector` picks when given.
    pub fn label_names(selector: Option<&str>) -> String {
        format!("/api/v1/labels{}", matching(selector))
    }

    /// The values of label `name` (`__name__` for metric names).
    pub fn label_values(name: &str, selector: Option<&str>) -> String {
        format!(
            "/api/v1/label/{}/values{}",
            escape(name),
            matching(selector)
        )
    }

    fn matching(selector: Option<&str>) -> String {
        selector
            .map(|s| format!("?match[]={}", escape(s)))
            .unwrap_or_default()
    }

    /// The dashboards list, narrowed by a search, a tag and stars.
    pub fn dashboards(search: &str, tag: Option<&str>, starred: bool) -> String {
        let mut path = format!("/api/dashboards?query={}", escape(search));
        if let Some(t) = tag {
            path.push_str(&format!("&tag={}", escape(t)));
        }
        if starred {
            path.push_str("&starred=true");
        }
        path
    }

    pub fn dashboard(uid: &str) -> String {
        format!("/api/dashboards/{}", escape(uid))
    }

    pub fn new_dashboard() -> String {
        "/api/dashboards".into()
    }

    pub fn import_dashboard(overwrite: bool, folder: Option<&str>) -> String {
        let mut path = format!("/api/dashboards/import?overwrite={overwrite}");
        if let Some(f) = folder {
            path.push_str(&format!("&folder={}", escape(f)));
        }
        path
    }

    /// The dashboard's JSON as a download.
    pub fn export_dashboard(uid: &str) -> String {
        format!("{}/export", dashboard(uid))
    }

    pub fn star(uid: &str) -> String {
        format!("{}/star", dashboard(uid))
    }

    pub fn versions(uid: &str) -> String {
        format!("{}/versions", dashboard(uid))
    }

    pub fn restore_version(uid: &str, version: i32) -> String {
        format!("{}/versions/{version}/restore", dashboard(uid))
    }

    pub fn diff(uid: &str, from: i32, to: i32) -> String {
        format!("{}/diff?from={from}&to={to}", dashboard(uid))
    }

    pub fn home() -> String {
        "/api/preferences/home".into()
    }

    pub fn variable_options() -> String {
        "/api/variables/options".into()
    }

    pub fn short_links() -> String {
        "/api/short-links".into()
    }

    pub fn public_links(uid: &str) -> String {
        format!("{}/public-links", dashboard(uid))
    }

    pub fn public_link(uid: &str, id: i64) -> String {
        format!("{}/{id}", public_links(uid))
    }

    pub fn public_dashboard(token: &str) -> String {
        format!("/api/public/{}/dashboard", escape(token))
    }

    /// The options of variable `name` of a public dashboard, the others' values as `var-` pairs.
    pub fn public_variable_options(token: &str, name: &str, vars: &[(String, String)]) -> String {
        format!(
            "/api/public/{}/variables/{}/options{}",
            escape(token),
            escape(name),
            query(vars)
        )
    }

    /// Query `index` of panel `panel` of a public dashboard over a range.
    pub fn public_range_query(
        token: &str,
        panel: u32,
        index: usize,
        range: QueryRange,
        vars_tail: &str,
    ) -> String {
        let QueryRange { start, end, step } = range;
        format!(
            "/api/public/{}/panels/{panel}/targets/{index}/query_range?start={}&end={}&step={}{vars_tail}",
            escape(token),
            secs(start),
            secs(end),
            secs(step)
        )
    }

    /// A panel's image (`ext` png or svg), of a dashboard or of a public link's dashboard.
    /// The rule list, narrowed by state, folder, words and label matchers.
    pub fn alert_rules(state: &str, folder: &str, search: &str, matchers: &str) -> String {
        let mut pairs = Vec::new();
        for (k, v) in [
            ("state", state),
            ("folder", folder),
            ("query", search),
            ("matcher", matchers),
        ] {
            if !v.trim().is_empty() {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
        format!("/api/alerting/rules{}", query(&pairs))
    }

    pub fn alert_rule(uid: &str) -> String {
        format!("/api/alerting/rules/{}", escape(uid))
    }

    pub fn new_alert_rule() -> String {
        "/api/alerting/rules".into()
    }

    pub fn pause_alert_rule(uid: &str, paused: bool) -> String {
        let action = if paused { "pause" } else { "resume" };
        format!("/api/alerting/rules/{}/{action}", escape(uid))
    }

    pub fn alert_rule_history(uid: &str, start_ms: i64, end_ms: i64) -> String {
        format!(
            "/api/alerting/rules/{}/history?start={}&end={}",
            escape(uid),
            secs(start_ms),
            secs(end_ms)
        )
    }

    pub fn alert_preview() -> String {
        "/api/alerting/preview".into()
    }

    pub fn alerts(matchers: &str) -> String {
        let pairs: Vec<(String, String)> = if matchers.trim().is_empty() {
            Vec::new()
        } else {
            vec![("matcher".into(), matchers.to_string())]
        };
        format!("/api/alerting/alerts{}", query(&pairs))
    }

    pub fn import_rules(folder: &str) -> String {
        format!(
            "/api/alerting/import{}",
            query(&[("folder".into(), folder.to_string())])
        )
    }

    /// The rule file download (`folder` empty: every folder).
    pub fn export_rules(folder: &str) -> String {
        let pairs: Vec<(String, String)> = if folder.is_empty() {
            Vec::new()
        } else {
            vec![("folder".into(), folder.to_string())]
        };
        format!("/api/alerting/export{}", query(&pairs))
    }

    pub fn contact_points() -> String {
        "/api/alerting/contact-points".into()
    }

    pub fn contact_point(name: &str) -> String {
        format!("/api/alerting/contact-points/{}", escape(name))
    }

    pub fn test_contact_point() -> String {
        "/api/alerting/contact-points/test".into()
    }

    pub fn notification_policy() -> String {
        "/api/alerting/policy".into()
    }

    pub fn route_labels() -> String {
        "/api/alerting/policy/route".into()
    }

    pub fn notifications(limit: u32) -> String {
        format!("/api/alerting/notifications?limit={limit}")
    }

    /// Silences; expired ones too with `expired`.
    pub fn silences(expired: bool) -> String {
        if expired {
            "/api/alerting/silences".into()
        } else {
            "/api/alerting/silences?state=active".into()
        }
    }

    pub fn silence(id: &str) -> String {
        format!("/api/alerting/silences/{}", escape(id))
    }

    pub fn silence_preview() -> String {
        "/api/alerting/silences/preview".into()
    }

    pub fn silences_matching() -> String {
        "/api/alerting/silences/matching".into()
    }

    pub fn silence_occurrences() -> String {
        "/api/alerting/silences/occurrences".into()
    }

    pub fn time_zones() -> String {
        "/api/alerting/time-zones".into()
    }

    pub fn inhibit_rules() -> String {
        "/api/alerting/inhibit-rules".into()
    }

    pub fn sign_in() -> String {
        "/api/auth/sign-in".into()
    }

    pub fn sign_out() -> String {
        "/api/auth/sign-out".into()
    }

    pub fn me() -> String {
        "/api/auth/me".into()
    }

    pub fn password() -> String {
        "/api/auth/password".into()
    }

    pub fn users() -> String {
        "/api/auth/users".into()
    }

    pub fn user(id: i64) -> String {
        format!("/api/auth/users/{id}")
    }

    pub fn tokens() -> String {
        "/api/auth/tokens".into()
    }

    pub fn token(id: i64) -> String {
        format!("/api/auth/tokens/{id}")
    }

    pub fn teams() -> String {
        "/api/auth/teams".into()
    }

    pub fn team(id: i64) -> String {
        format!("/api/auth/teams/{id}")
    }

    pub fn folder_permissions() -> String {
        "/api/auth/folders".into()
    }

    pub fn folder(kind: FolderKind, folder: &str) -> String {
        // A path segment: a folder's `/` is escaped too.
        let segment = escape(folder).replace('/', "%2F");
        format!("/api/auth/folders/{}/{segment}", kind.as_str())
    }

    /// The audit log, newest first, filtered by actor and text, older than `before`.
    pub fn audit(actor: &str, text: &str, before: Option<i64>) -> String {
        let mut pairs = Vec::new();
        if !actor.is_empty() {
            pairs.push(("actor".to_string(), actor.to_string()));
        }
        if !text.is_empty() {
            pairs.push(("q".to_string(), text.to_string()));
        }
        if let Some(before) = before {
            pairs.push(("before".to_string(), before.to_string()));
        }
        format!("/api/audit{}", query(&pairs))
    }

    pub fn panel_image(public_token: Option<&str>, uid: &str, panel: u32, ext: &str) -> String {
        match public_token {
            None => format!("{}/panels/{panel}.{ext}", dashboard(uid)),
            Some(token) => format!("/api/public/{}/panels/{panel}.{ext}", escape(token)),
        }
    }
}

/// A Prometheus-API answer, or the API's message (which for a bad query says where and why).
pub type PromResult<T> = Result<T, String>;

pub async fn get_portal_status() -> Result<PortalStatus, ClientError> {
    get_json(&paths::portal_status()).await
}

pub async fn search_logs(
    query: &str,
    range: (i64, i64),
    before: Option<&str>,
    limit: u32,
) -> Result<LogPage, ClientError> {
    get_json(&paths::log_search(query, range, before, limit)).await
}

pub async fn log_histogram(
    query: &str,
    range: (i64, i64),
    buckets: u32,
) -> Result<LogHistogram, ClientError> {
    get_json(&paths::log_histogram(query, range, buckets)).await
}

pub async fn log_errors(query: &str, range: (i64, i64)) -> Result<ErrorGroups, ClientError> {
    get_json(&paths::log_errors(query, range)).await
}

pub async fn log_patterns(query: &str, range: (i64, i64)) -> Result<LogPatterns, ClientError> {
    get_json(&paths::log_patterns(query, range)).await
}

pub async fn saved_searches() -> Result<Vec<SavedSearch>, ClientError> {
    get_json(&paths::saved_searches()).await
}

/// Saves a search by name (replacing the search of that name).
pub async fn save_search(request: &SaveSearch) -> Result<SavedSearch, ClientError> {
    send_json("POST", &paths::saved_searches(), Some(request)).await
}

pub async fn delete_saved_search(id: i64) -> Result<(), ClientError> {
    send_json::<(), ()>("DELETE", &paths::saved_search(id), None).await
}

/// Marks an error group open, resolved or ignored.
pub async fn set_error_status(
    fingerprint: &str,
    status: ErrorStatus,
) -> Result<ErrorGroupState, ClientError> {
    let body = serde_json::json!({ "status": status.as_str() });
    send_json("PUT", &paths::log_error_group(fingerprint), Some(&body)).await
}

pub async fn log_facets(query: &str, range: (i64, i64)) -> Result<LogFacets, ClientError> {
    get_json(&paths::log_facets(query, range)).await
}

pub async fn log_context(cursor: &str, before: u32, after: u32) -> Result<LogContext, ClientError> {
    get_json(&paths::log_context(cursor, before, after)).await
}

pub async fn instant_query(expr: &str, at_ms: i64) -> PromResult<QueryData> {
    get_prom(&paths::instant_query(expr, at_ms)).await
}

pub async fn range_query(expr: &str, range: QueryRange) -> PromResult<QueryData> {
    get_prom(&paths::range_query(expr, range)).await
}

/// A log rule's LogQL counted over a range.
pub async fn loki_range_query(expr: &str, range: QueryRange) -> PromResult<QueryData> {
    get_prom(&paths::loki_range_query(expr, range)).await
}

/// Runs a query given by its URL (from [`paths`], e.g. a public dashboard's stored query).
pub async fn query_at(path: &str) -> PromResult<QueryData> {
    get_prom(path).await
}

pub async fn list_label_names(selector: Option<&str>) -> PromResult<Vec<String>> {
    get_prom(&paths::label_names(selector)).await
}

pub async fn list_label_values(name: &str, selector: Option<&str>) -> PromResult<Vec<String>> {
    get_prom(&paths::label_values(name, selector)).await
}

pub async fn list_dashboards(
    search: &str,
    tag: Option<&str>,
    starred: bool,
) -> Result<Vec<DashboardSummary>, ClientError> {
    get_json(&paths::dashboards(search, tag, starred)).await
}

pub async fn get_dashboard(uid: &str) -> Result<DashboardRecord, ClientError> {
    get_json(&paths::dashboard(uid)).await
}

pub async fn create_dashboard(request: &SaveDashboard) -> Result<DashboardRecord, ClientError> {
    send_json("POST", &paths::new_dashboard(), Some(request)).await
}

pub async fn update_dashboard(
    uid: &str,
    request: &SaveDashboard,
) -> Result<DashboardRecord, ClientError> {
    send_json("PUT", &paths::dashboard(uid), Some(request)).await
}

pub async fn import_dashboard(
    body: &serde_json::Value,
    overwrite: bool,
    folder: Option<&str>,
) -> Result<ImportReport, ClientError> {
    send_json(
        "POST",
        &paths::import_dashboard(overwrite, folder),
        Some(body),
    )
    .await
}

pub async fn set_starred(uid: &str, starred: bool) -> Result<(), ClientError> {
    let method = if starred { "PUT" } else { "DELETE" };
    send_json::<(), ()>(method, &paths::star(uid), None).await
}

pub async fn list_versions(uid: &str) -> Result<Vec<VersionSummary>, ClientError> {
    get_json(&paths::versions(uid)).await
}

pub async fn diff_versions(uid: &str, from: i32, to: i32) -> Result<Vec<Change>, ClientError> {
    get_json(&paths::diff(uid, from, to)).await
}

pub async fn restore_version(uid: &str, version: i32) -> Result<DashboardRecord, ClientError> {
    send_json::<(), _>("POST", &paths::restore_version(uid, version), None).await
}

pub async fn set_home(uid: Option<String>) -> Result<HomePreference, ClientError> {
    send_json("PUT", &paths::home(), Some(&HomePreference { uid })).await
}

pub async fn list_variable_options(
    request: &ResolveVariable,
) -> Result<VariableOptions, ClientError> {
    send_json("POST", &paths::variable_options(), Some(request)).await
}

pub async fn list_public_variable_options(
    token: &str,
    name: &str,
    vars: &[(String, String)],
) -> Result<VariableOptions, ClientError> {
    get_json(&paths::public_variable_options(token, name, vars)).await
}

pub async fn get_public_dashboard(token: &str) -> Result<Dashboard, ClientError> {
    get_json(&paths::public_dashboard(token)).await
}

pub async fn create_short_link(path: &str) -> Result<ShortLink, ClientError> {
    let request = CreateShortLink {
        path: path.to_string(),
    };
    send_json("POST", &paths::short_links(), Some(&request)).await
}

pub async fn list_public_links(uid: &str) -> Result<Vec<PublicLink>, ClientError> {
    get_json(&paths::public_links(uid)).await
}

pub async fn create_public_link(
    uid: &str,
    request: &CreatePublicLink,
) -> Result<PublicLink, ClientError> {
    send_json("POST", &paths::public_links(uid), Some(request)).await
}

pub async fn revoke_public_link(uid: &str, id: i64) -> Result<(), ClientError> {
    send_json::<(), ()>("DELETE", &paths::public_link(uid, id), None).await
}

pub async fn list_alert_rules(
    state: &str,
    folder: &str,
    search: &str,
    matchers: &str,
) -> Result<Vec<RuleSummary>, ClientError> {
    get_json(&paths::alert_rules(state, folder, search, matchers)).await
}

pub async fn get_alert_rule(uid: &str) -> Result<RuleSummary, ClientError> {
    get_json(&paths::alert_rule(uid)).await
}

/// Creates the rule (no uid) or saves it over the one with its uid.
pub async fn save_alert_rule(request: &SaveRule) -> Result<RuleSummary, ClientError> {
    if request.rule.uid.is_empty() {
        send_json("POST", &paths::new_alert_rule(), Some(request)).await
    } else {
        send_json("PUT", &paths::alert_rule(&request.rule.uid), Some(request)).await
    }
}

pub async fn delete_alert_rule(uid: &str) -> Result<(), ClientError> {
    send_json::<(), ()>("DELETE", &paths::alert_rule(uid), None).await
}

pub async fn set_alert_rule_paused(uid: &str, paused: bool) -> Result<RuleSummary, ClientError> {
    send_json::<(), _>("POST", &paths::pause_alert_rule(uid, paused), None).await
}

pub async fn get_rule_history(
    uid: &str,
    start_ms: i64,
    end_ms: i64,
) -> Result<RuleHistory, ClientError> {
    get_json(&paths::alert_rule_history(uid, start_ms, end_ms)).await
}

pub async fn preview_alert_rule(request: &PreviewRequest) -> Result<Preview, ClientError> {
    send_json("POST", &paths::alert_preview(), Some(request)).await
}

pub async fn list_alerts(matchers: &str) -> Result<Vec<Alert>, ClientError> {
    get_json(&paths::alerts(matchers)).await
}

pub async fn import_rules(folder: &str, yaml: &str) -> Result<ImportSummary, ClientError> {
    send_text(
        "POST",
        &paths::import_rules(folder),
        "application/yaml",
        yaml,
    )
    .await
}

pub async fn list_contact_points() -> Result<Vec<ContactPoint>, ClientError> {
    get_json(&paths::contact_points()).await
}

/// Creates a contact point, or saves over the one of its name when `existing`.
pub async fn save_contact_point(
    point: &ContactPoint,
    existing: bool,
) -> Result<ContactPoint, ClientError> {
    if existing {
        send_json("PUT", &paths::contact_point(&point.name), Some(point)).await
    } else {
        send_json("POST", &paths::contact_points(), Some(point)).await
    }
}

pub async fn delete_contact_point(name: &str) -> Result<(), ClientError> {
    send_json::<(), ()>("DELETE", &paths::contact_point(name), None).await
}

/// Sends a test notification to a contact point as the form holds it (saved or not).
pub async fn test_contact_point(point: &ContactPoint) -> Result<TestOutcome, ClientError> {
    send_json("POST", &paths::test_contact_point(), Some(point)).await
}

pub async fn get_notification_policy() -> Result<NotificationPolicy, ClientError> {
    get_json(&paths::notification_policy()).await
}

pub async fn save_notification_policy(
    policy: &NotificationPolicy,
) -> Result<NotificationPolicy, ClientError> {
    send_json("PUT", &paths::notification_policy(), Some(policy)).await
}

pub async fn route_labels(query: &RouteQuery) -> Result<Vec<RouteMatch>, ClientError> {
    send_json("POST", &paths::route_labels(), Some(query)).await
}

pub async fn list_notifications(limit: u32) -> Result<Vec<NotificationRecord>, ClientError> {
    get_json(&paths::notifications(limit)).await
}

/// The next windows of a schedule.
pub async fn silence_occurrences(request: &OccurrencesRequest) -> Result<Vec<Window>, ClientError> {
    send_json("POST", &paths::silence_occurrences(), Some(request)).await
}

pub async fn time_zones() -> Result<Vec<String>, ClientError> {
    get_json(&paths::time_zones()).await
}

pub async fn inhibit_rules() -> Result<Vec<InhibitRule>, ClientError> {
    get_json(&paths::inhibit_rules()).await
}

/// Replaces the inhibition rules; returns them as stored.
pub async fn save_inhibit_rules(rules: &[InhibitRule]) -> Result<Vec<InhibitRule>, ClientError> {
    send_json("PUT", &paths::inhibit_rules(), Some(&rules.to_vec())).await
}

pub async fn list_silences(expired: bool) -> Result<Vec<Silence>, ClientError> {
    get_json(&paths::silences(expired)).await
}

/// Creates the silence (no id) or changes the one with its id; returns what holds it now.
pub async fn save_silence(request: &SaveSilence) -> Result<Silence, ClientError> {
    if request.id.is_empty() {
        send_json("POST", &paths::silences(true), Some(request)).await
    } else {
        send_json("PUT", &paths::silence(&request.id), Some(request)).await
    }
}

pub async fn expire_silence(id: &str) -> Result<(), ClientError> {
    send_json::<(), ()>("DELETE", &paths::silence(id), None).await
}

pub async fn preview_silence(
    request: &SilencePreviewRequest,
) -> Result<SilencePreview, ClientError> {
    send_json("POST", &paths::silence_preview(), Some(request)).await
}

/// The silences that could mute alerts with these labels.
pub async fn silences_matching(query: &RouteQuery) -> Result<Vec<Silence>, ClientError> {
    send_json("POST", &paths::silences_matching(), Some(query)).await
}

pub async fn sign_in(request: &SignIn) -> Result<Account, ClientError> {
    send_json("POST", &paths::sign_in(), Some(request)).await
}

pub async fn sign_out() -> Result<(), ClientError> {
    send_json::<(), ()>("POST", &paths::sign_out(), None).await
}

pub async fn get_me() -> Result<Account, ClientError> {
    get_json(&paths::me()).await
}

pub async fn change_password(change: &PasswordChange) -> Result<(), ClientError> {
    send_json("PUT", &paths::password(), Some(change)).await
}

pub async fn list_users() -> Result<Vec<Account>, ClientError> {
    get_json(&paths::users()).await
}

pub async fn create_user(request: &NewAccount) -> Result<Account, ClientError> {
    send_json("POST", &paths::users(), Some(request)).await
}

pub async fn update_user(id: i64, request: &UpdateAccount) -> Result<Account, ClientError> {
    send_json("PUT", &paths::user(id), Some(request)).await
}

pub async fn delete_user(id: i64) -> Result<(), ClientError> {
    send_json::<(), ()>("DELETE", &paths::user(id), None).await
}

pub async fn list_tokens() -> Result<Vec<ApiToken>, ClientError> {
    get_json(&paths::tokens()).await
}

pub async fn create_token(request: &CreateToken) -> Result<CreatedToken, ClientError> {
    send_json("POST", &paths::tokens(), Some(request)).await
}

pub async fn revoke_token(id: i64) -> Result<(), ClientError> {
    send_json::<(), ()>("DELETE", &paths::token(id), None).await
}

pub async fn list_teams() -> Result<Vec<Team>, ClientError> {
    get_json(&paths::teams()).await
}

/// Makes a team (`id` none) or sets a team's name and members.
pub async fn save_team(id: Option<i64>, team: &SaveTeam) -> Result<Team, ClientError> {
    match id {
        None => send_json("POST", &paths::teams(), Some(team)).await,
        Some(id) => send_json("PUT", &paths::team(id), Some(team)).await,
    }
}

pub async fn delete_team(id: i64) -> Result<(), ClientError> {
    send_json::<(), ()>("DELETE", &paths::team(id), None).await
}

/// Every folder that has grants.
pub async fn list_folder_permissions() -> Result<Vec<FolderPermissions>, ClientError> {
    get_json(&paths::folder_permissions()).await
}

/// Sets a folder's grants; none opens it to every role again.
pub async fn save_folder_permissions(
    kind: FolderKind,
    folder: &str,
    grants: &FolderGrants,
) -> Result<FolderPermissions, ClientError> {
    send_json("PUT", &paths::folder(kind, folder), Some(grants)).await
}

pub async fn list_audit(
    actor: &str,
    text: &str,
    before: Option<i64>,
) -> Result<AuditPage, ClientError> {
    get_json(&paths::audit(actor, text, before)).await
}

#[cfg(test)]
mod tests {
    use super::paths;

    #[test]
    fn paths_escape_what_they_carry() {
        assert_eq!(
            paths::range_query(
                "rate(x[5m])",
                crate::api::prometheus::QueryRange {
                    start: 0,
                    end: 3_600_000,
                    step: 30_000
                }
            ),
            "/api/v1/query_range?query=rate(x%5B5m%5D)&start=0&end=3600&step=30"
        );
        assert_eq!(
            paths::label_values("agent_id", Some("up{job=\"a\"}")),
            "/api/v1/label/agent_id/values?match[]=up%7Bjob%3D%22a%22%7D"
        );
        assert_eq!(
            paths::dashboards("cpu use", Some("k8s"), true),
            "/api/dashboards?query=cpu%20use&tag=k8s&starred=true"
        );
        assert_eq!(
            paths::import_dashboard(false, Some("Team A")),
            "/api/dashboards/import?overwrite=false&folder=Team%20A"
        );
        assert_eq!(
            paths::panel_image(Some("tok"), "u", 3, "png"),
            "/api/public/tok/panels/3.png"
        );
        assert_eq!(paths::diff("u", 1, 2), "/api/dashboards/u/diff?from=1&to=2");
        assert_eq!(
            paths::folder(crate::api::accounts::FolderKind::Rules, "Team A/alerts"),
            "/api/auth/folders/rules/Team%20A%2Falerts"
        );
    }
}
