//! Alerting over HTTP: rules and groups, the preview, alerts and their history, Prometheus
//! rule files in and out, contact points, the routing tree and the notification log under
//! `/api/alerting/…`; Prometheus' `GET /api/v1/rules` and `GET /api/v1/alerts` (so Grafana's
//! Prometheus data source lists the portal's rules and alerts); and the signed chart images
//! notifications link to, which open without signing in.

use super::{
    access::Folders,
    params::{json_body, Params},
    prometheus::PromError,
    AppState,
};
use crate::{
    alerting::{
        notify::{check_matchers, matcher_holds},
        Alerting,
    },
    error::ApiError,
};
use app::api::{
    accounts::{FolderKind, Permission},
    alerting::{
        parse_matchers, Alert, AlertState, ContactPoint, ImportSummary, LabelMatcher,
        NotificationPolicy, NotificationRecord, Preview, PreviewRequest, RouteMatch, RouteQuery,
        RuleGroup, RuleHealth, RuleHistory, RuleKind, RuleSummary, SaveRule, TestOutcome,
    },
    prometheus::PromResponse,
};
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use chrono::{Duration, Utc};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/alerting/rules", get(list_rules).post(create_rule))
        .route(
            "/api/alerting/rules/{uid}",
            get(get_rule).put(update_rule).delete(delete_rule),
        )
        .route("/api/alerting/rules/{uid}/pause", post(pause_rule))
        .route("/api/alerting/rules/{uid}/resume", post(resume_rule))
        .route("/api/alerting/rules/{uid}/history", get(rule_history))
        .route("/api/alerting/preview", post(preview))
        .route("/api/alerting/groups", get(list_groups).put(put_group))
        .route(
            "/api/alerting/groups/{folder}/{name}",
            axum::routing::delete(delete_group),
        )
        .route("/api/alerting/alerts", get(list_alerts))
        .route("/api/alerting/import", post(import_rules))
        .route("/api/alerting/export", get(export_rules))
        .route(
            "/api/alerting/contact-points",
            get(list_contact_points).post(save_contact_point),
        )
        .route(
            "/api/alerting/contact-points/test",
            post(test_unsaved_contact_point),
        )
        .route(
            "/api/alerting/contact-points/{name}",
            get(get_contact_point)
                .put(put_contact_point)
                .delete(delete_contact_point),
        )
        .route(
            "/api/alerting/contact-points/{name}/test",
            post(test_contact_point),
        )
        .route("/api/alerting/policy", get(get_policy).put(put_policy))
        .route("/api/alerting/policy/route", post(route_labels))
        .route("/api/alerting/notifications", get(list_notifications))
        .route("/api/v1/rules", get(prometheus_rules))
        .route("/api/v1/alerts", get(prometheus_alerts))
}

/// The chart images of notifications: reached by signed, expiring links only.
pub fn public_router() -> Router<AppState> {
    Router::new().route("/api/alerting/images/{file}", get(alert_image))
}

fn matchers_param(params: &Params) -> Result<Vec<LabelMatcher>, ApiError> {
    let mut all = Vec::new();
    for text in params.all("matcher").chain(params.all("matchers")) {
        all.extend(parse_matchers(text).map_err(|e| ApiError::bad_request("matcher", e))?);
    }
    check_matchers(&all, "matcher")?;
    Ok(all)
}

fn state_param(params: &Params) -> Result<Option<AlertState>, ApiError> {
    params
        .get("state")
        .filter(|s| !s.is_empty())
        .map(|s| {
            AlertState::parse(s).ok_or_else(|| {
                ApiError::bad_request("state", "must be firing, pending, inactive or nodata")
            })
        })
        .transpose()
}

async fn list_rules(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<RuleSummary>>, ApiError> {
    let params = Params::new(query, &[]);
    let matchers = matchers_param(&params)?;
    let state = state_param(&params)?;
    let folder = params.get("folder").filter(|f| !f.is_empty());
    let words: Vec<String> = params
        .get("query")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let rules = alerting.rules().await?;
    Ok(Json(
        rules
            .into_iter()
            .filter(|r| state.is_none_or(|s| r.state == s))
            .filter(|r| folder.is_none_or(|f| r.folder == f))
            .filter(|r| folders.allows(FolderKind::Rules, &r.folder, Permission::View))
            .filter(|r| {
                let text = format!("{} {} {}", r.rule.name, r.group, r.rule.query).to_lowercase();
                words.iter().all(|w| text.contains(w))
            })
            .filter(|r| matchers.iter().all(|m| matcher_holds(m, &r.rule.labels)))
            .collect(),
    ))
}

async fn create_rule(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    body: Bytes,
) -> Result<(StatusCode, Json<RuleSummary>), ApiError> {
    let mut request: SaveRule = json_body(&body)?;
    folders.check(FolderKind::Rules, &request.folder, Permission::Edit)?;
    if !request.rule.uid.is_empty() && alerting.rule(&request.rule.uid).await.is_ok() {
        return Err(ApiError::Conflict(format!(
            "a rule with uid \"{}\" exists; PUT /api/alerting/rules/{} changes it",
            request.rule.uid, request.rule.uid
        )));
    }
    request.rule.name = request.rule.name.trim().to_string();
    Ok((
        StatusCode::CREATED,
        Json(alerting.save_rule(request).await?),
    ))
}

async fn get_rule(
    State(alerting): State<Alerting>,
    Path(uid): Path<String>,
) -> Result<Json<RuleSummary>, ApiError> {
    Ok(Json(alerting.rule(&uid).await?))
}

async fn update_rule(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    Path(uid): Path<String>,
    body: Bytes,
) -> Result<Json<RuleSummary>, ApiError> {
    let mut request: SaveRule = json_body(&body)?;
    // The access layer checked the folder it is in; this is the one it moves to.
    folders.check(FolderKind::Rules, &request.folder, Permission::Edit)?;
    alerting.rule(&uid).await?;
    if !request.rule.uid.is_empty() && request.rule.uid != uid {
        return Err(ApiError::invalid(
            "rule.uid",
            "must match the uid in the URL",
        ));
    }
    request.rule.uid = uid;
    Ok(Json(alerting.save_rule(request).await?))
}

async fn delete_rule(
    State(alerting): State<Alerting>,
    Path(uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    alerting.delete_rule(&uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn pause_rule(
    State(alerting): State<Alerting>,
    Path(uid): Path<String>,
) -> Result<Json<RuleSummary>, ApiError> {
    Ok(Json(alerting.set_paused(&uid, true).await?))
}

async fn resume_rule(
    State(alerting): State<Alerting>,
    Path(uid): Path<String>,
) -> Result<Json<RuleSummary>, ApiError> {
    Ok(Json(alerting.set_paused(&uid, false).await?))
}

async fn rule_history(
    State(alerting): State<Alerting>,
    Path(uid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<RuleHistory>, ApiError> {
    let params = Params::new(query, &[]);
    let end = params.time("end")?.unwrap_or_else(Utc::now);
    let start = params.time("start")?.unwrap_or(end - Duration::days(7));
    Ok(Json(alerting.history(&uid, start, end).await?))
}

async fn preview(State(alerting): State<Alerting>, body: Bytes) -> Result<Json<Preview>, ApiError> {
    let request: PreviewRequest = json_body(&body)?;
    Ok(Json(alerting.preview(request).await?))
}

async fn list_groups(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
) -> Result<Json<Vec<RuleGroup>>, ApiError> {
    Ok(Json(
        alerting
            .groups()
            .await?
            .into_iter()
            .filter(|(g, _)| folders.allows(FolderKind::Rules, &g.folder, Permission::View))
            .map(|(g, rules)| Alerting::group_model(&g, rules))
            .collect(),
    ))
}

async fn put_group(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    body: Bytes,
) -> Result<Json<RuleGroup>, ApiError> {
    let mut group: RuleGroup = json_body(&body)?;
    folders.check(FolderKind::Rules, &group.folder, Permission::Edit)?;
    if group.source == app::api::alerting::RuleSource::Provisioned {
        return Err(ApiError::invalid(
            "source",
            "provisioned groups come from rule files, not from the API",
        ));
    }
    group.folder = group.folder.trim().to_string();
    group.name = group.name.trim().to_string();
    Ok(Json(alerting.put_group(group, None).await?))
}

async fn delete_group(
    State(alerting): State<Alerting>,
    Path((folder, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    alerting.delete_group(&folder, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_alerts(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let params = Params::new(query, &[]);
    let matchers = matchers_param(&params)?;
    let state = state_param(&params)?;
    Ok(Json(
        alerting
            .alerts(&folders)
            .await?
            .into_iter()
            .filter(|a| state.is_none_or(|s| a.state == s))
            .filter(|a| matchers.iter().all(|m| matcher_holds(m, &a.labels)))
            .collect(),
    ))
}

async fn import_rules(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<(StatusCode, Json<ImportSummary>), ApiError> {
    let params = Params::new(query, &[]);
    let folder = params
        .get("folder")
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .unwrap_or("Imported");
    folders.check(FolderKind::Rules, folder, Permission::Edit)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("file", "a rule file is UTF-8 text"))?;
    Ok((
        StatusCode::CREATED,
        Json(alerting.import(text, folder).await?),
    ))
}

async fn export_rules(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::new(query, &[]);
    let text = alerting
        .export(params.get("folder").filter(|f| !f.is_empty()), &folders)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/yaml; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"rules.yml\"",
            ),
        ],
        text,
    )
        .into_response())
}

async fn list_contact_points(
    State(alerting): State<Alerting>,
) -> Result<Json<Vec<ContactPoint>>, ApiError> {
    Ok(Json(alerting.contact_points_shown().await?))
}

async fn save_contact_point(
    State(alerting): State<Alerting>,
    body: Bytes,
) -> Result<(StatusCode, Json<ContactPoint>), ApiError> {
    let point: ContactPoint = json_body(&body)?;
    if alerting.contact_point(&point.name).await.is_ok() {
        return Err(ApiError::Conflict(format!(
            "contact point \"{}\" exists; PUT changes it",
            point.name
        )));
    }
    Ok((
        StatusCode::CREATED,
        Json(alerting.save_contact_point(point).await?),
    ))
}

async fn get_contact_point(
    State(alerting): State<Alerting>,
    Path(name): Path<String>,
) -> Result<Json<ContactPoint>, ApiError> {
    Ok(Json(alerting.contact_point_shown(&name).await?))
}

async fn put_contact_point(
    State(alerting): State<Alerting>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<ContactPoint>, ApiError> {
    let point: ContactPoint = json_body(&body)?;
    if point.name != name {
        return Err(ApiError::invalid("name", "must match the name in the URL"));
    }
    Ok(Json(alerting.save_contact_point(point).await?))
}

async fn delete_contact_point(
    State(alerting): State<Alerting>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    alerting.delete_contact_point(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test_contact_point(
    State(alerting): State<Alerting>,
    Path(name): Path<String>,
) -> Result<Json<TestOutcome>, ApiError> {
    let point = alerting.contact_point(&name).await?;
    Ok(Json(alerting.test_contact_point(&point).await?))
}

async fn test_unsaved_contact_point(
    State(alerting): State<Alerting>,
    body: Bytes,
) -> Result<Json<TestOutcome>, ApiError> {
    let point = alerting.with_saved_secrets(json_body(&body)?).await?;
    Ok(Json(alerting.test_contact_point(&point).await?))
}

async fn get_policy(
    State(alerting): State<Alerting>,
) -> Result<Json<NotificationPolicy>, ApiError> {
    Ok(Json(alerting.policy().await?))
}

async fn put_policy(
    State(alerting): State<Alerting>,
    body: Bytes,
) -> Result<Json<NotificationPolicy>, ApiError> {
    let policy: NotificationPolicy = json_body(&body)?;
    Ok(Json(alerting.save_policy(policy).await?))
}

async fn route_labels(
    State(alerting): State<Alerting>,
    body: Bytes,
) -> Result<Json<Vec<RouteMatch>>, ApiError> {
    let query: RouteQuery = json_body(&body)?;
    Ok(Json(alerting.routes_for(&query.labels).await?))
}

async fn list_notifications(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<NotificationRecord>>, ApiError> {
    let params = Params::new(query, &[]);
    let limit = match params.get("limit") {
        None | Some("") => 100,
        Some(text) => text
            .parse()
            .map_err(|_| ApiError::bad_request("limit", "must be a whole number"))?,
    };
    Ok(Json(alerting.notifications(limit, &folders).await?))
}

async fn alert_image(
    State(alerting): State<Alerting>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let bytes = alerting.image(&file).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        bytes,
    )
        .into_response())
}

/// Prometheus' `%e`-free float text for alert values (`strconv.FormatFloat(v, 'e', -1, 64)`).
fn go_exponent(v: f64) -> String {
    if !v.is_finite() {
        return crate::query::promql::format_value(v);
    }
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!(
        "{mantissa}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn prom_alert(a: &Alert) -> Value {
    json!({
        "labels": a.labels,
        "annotations": a.annotations,
        "state": match a.state { AlertState::Firing => "firing", _ => "pending" },
        "activeAt": rfc3339(a.active_at),
        "value": go_exponent(a.value),
    })
}

async fn prometheus_rules(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
    RawQuery(query): RawQuery,
) -> Result<Json<PromResponse<Value>>, PromError> {
    let params = Params::new(query, &[]);
    let kind = match params.get("type") {
        None | Some("") => None,
        Some("alert") => Some(RuleKind::Alerting),
        Some("record") => Some(RuleKind::Recording),
        Some(_) => return Err(ApiError::bad_request("type", "must be alert or record").into()),
    };
    let names: Vec<&str> = params.all("rule_name[]").collect();
    let summaries = alerting.rules().await?;
    let alerts = alerting.alerts(&folders).await?;
    let mut groups: Vec<Value> = Vec::new();
    for (group, rules) in alerting.groups().await? {
        if !folders.allows(FolderKind::Rules, &group.folder, Permission::View) {
            continue;
        }
        let mut out = Vec::new();
        for rule in rules {
            if kind.is_some_and(|k| k != rule.kind)
                || (!names.is_empty() && !names.contains(&rule.name.as_str()))
            {
                continue;
            }
            let Some(summary) = summaries.iter().find(|s| s.rule.uid == rule.uid) else {
                continue;
            };
            let health = match summary.health {
                RuleHealth::Ok => "ok",
                RuleHealth::Error => "err",
                RuleHealth::Unknown => "unknown",
            };
            let last = summary
                .last_evaluation
                .map(rfc3339)
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
            let seconds = summary.evaluation_ms.unwrap_or(0.0) / 1000.0;
            let query = rule
                .condition
                .promql(&rule.query)
                .unwrap_or_else(|| rule.query.clone());
            out.push(match rule.kind {
                RuleKind::Alerting => {
                    let mine: Vec<Value> = alerts
                        .iter()
                        .filter(|a| a.rule_uid == rule.uid && a.state != AlertState::NoData)
                        .map(prom_alert)
                        .collect();
                    json!({
                        "state": match summary.state {
                            AlertState::Firing => "firing",
                            AlertState::Pending => "pending",
                            _ => "inactive",
                        },
                        "name": rule.name,
                        "query": query,
                        "duration": rule.for_ms() / 1000,
                        "keepFiringFor": rule.keep_firing_for_ms() / 1000,
                        "labels": rule.labels,
                        "annotations": rule.annotations,
                        "alerts": mine,
                        "health": health,
                        "lastError": summary.last_error.clone().unwrap_or_default(),
                        "evaluationTime": seconds,
                        "lastEvaluation": last,
                        "type": "alerting",
                    })
                }
                RuleKind::Recording => json!({
                    "name": rule.name,
                    "query": rule.query,
                    "labels": rule.labels,
                    "health": health,
                    "lastError": summary.last_error.clone().unwrap_or_default(),
                    "evaluationTime": seconds,
                    "lastEvaluation": last,
                    "type": "recording",
                }),
            });
        }
        if out.is_empty() && (kind.is_some() || !names.is_empty()) {
            continue;
        }
        groups.push(json!({
            "name": group.name,
            "file": group.folder,
            "rules": out,
            "interval": group.interval_ms as f64 / 1000.0,
            "limit": 0,
            "evaluationTime": 0,
            "lastEvaluation": group.last_slot_ms
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(rfc3339)
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        }));
    }
    Ok(Json(PromResponse::Success {
        data: json!({ "groups": groups }),
        warnings: Vec::new(),
    }))
}

async fn prometheus_alerts(
    State(alerting): State<Alerting>,
    Folders(folders): Folders,
) -> Result<Json<PromResponse<Value>>, PromError> {
    let alerts: Vec<Value> = alerting
        .alerts(&folders)
        .await?
        .iter()
        .filter(|a| matches!(a.state, AlertState::Firing | AlertState::Pending))
        .map(prom_alert)
        .collect();
    Ok(Json(PromResponse::Success {
        data: json!({ "alerts": alerts }),
        warnings: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_are_written_like_prometheus() {
        assert_eq!(super::go_exponent(100.0), "1e+02");
        assert_eq!(super::go_exponent(0.05), "5e-02");
        assert_eq!(super::go_exponent(123.5), "1.235e+02");
    }
}
