//! The portal's HTTP API as the UI calls it: one function per endpoint, with the request and
//! response types the server's handlers use, so that renaming a route or a field breaks the
//! build rather than a page. [`paths`] writes every API URL; nothing else in the UI does.

use super::{
    client::{get_json, get_prom, send_json},
    dashboard::{
        Change, CreatePublicLink, CreateShortLink, Dashboard, DashboardRecord, DashboardSummary,
        HomePreference, ImportReport, PublicLink, ResolveVariable, SaveDashboard, ShortLink,
        VariableOptions, VersionSummary,
    },
    prometheus::{QueryData, QueryRange},
    ClientError, PortalStatus,
};

/// The URLs of the API, for the calls below and for links (`href`, `<img src>`).
pub mod paths {
    use crate::api::prometheus::QueryRange;
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

    pub fn public_link(uid: &str, token: &str) -> String {
        format!("{}/{}", public_links(uid), escape(token))
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

pub async fn instant_query(expr: &str, at_ms: i64) -> PromResult<QueryData> {
    get_prom(&paths::instant_query(expr, at_ms)).await
}

pub async fn range_query(expr: &str, range: QueryRange) -> PromResult<QueryData> {
    get_prom(&paths::range_query(expr, range)).await
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

pub async fn revoke_public_link(uid: &str, token: &str) -> Result<(), ClientError> {
    send_json::<(), ()>("DELETE", &paths::public_link(uid, token), None).await
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
    }
}
