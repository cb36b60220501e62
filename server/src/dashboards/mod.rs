//! Dashboards: saving with version history and optimistic concurrency, diffs and restores,
//! provisioning from a directory and the built-in dashboards, Grafana import, variable options,
//! and the queries a panel runs (for public links and rendered images).

pub mod grafana;
pub mod image;
pub mod links;
pub mod provision;
pub mod query;

use crate::{error::ApiError, store::dashboards as db};
use app::api::dashboard::{
    Change, Dashboard, DashboardRecord, DashboardSummary, ImportReport, PanelKind, SaveDashboard,
    VersionSummary,
};
pub use db::ListFilter;
use rand::Rng;
use sqlx::PgPool;

/// The preference that names the home dashboard.
pub const HOME_KEY: &str = "home_dashboard";

/// A random identifier of `len` letters and digits.
pub fn random_code(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn to_model(dashboard: &Dashboard) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(dashboard).map_err(|e| ApiError::Internal(e.into()))
}

/// Reads a stored model; a model that no longer parses is an internal error, not the client's.
fn from_model(model: serde_json::Value) -> Result<Dashboard, ApiError> {
    serde_json::from_value(model)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored dashboard does not parse: {e}")))
}

/// Where a save comes from.
pub struct Origin<'a> {
    pub by: &'a str,
    /// The provisioning file, for dashboards as code.
    pub file: Option<&'a str>,
}

/// Creates or updates a dashboard and records the new version. An update must name the version
/// it was edited from (409 otherwise); provisioned dashboards change only through their file.
pub async fn save(
    pool: &PgPool,
    request: SaveDashboard,
    origin: Origin<'_>,
) -> Result<DashboardRecord, ApiError> {
    let SaveDashboard {
        mut dashboard,
        version,
        message,
        overwrite,
    } = request;
    dashboard
        .validate()
        .map_err(|e| ApiError::invalid(format!("dashboard.{}", e.field), e.message))?;
    for tag in &mut dashboard.tags {
        *tag = tag.trim().to_string();
    }
    dashboard.tags.sort();
    dashboard.tags.dedup();
    if dashboard.uid.is_empty() {
        dashboard.uid = random_code(12);
    }
    let mut tx = pool.begin().await?;
    let existing = db::lock_dashboard(&mut tx, &dashboard.uid).await?;
    let current = existing.as_ref().map(|r| r.version);
    if let (Some(row), None) = (&existing, origin.file) {
        if let Some(file) = &row.provisioned_from {
            return Err(ApiError::Conflict(format!(
                "dashboard \"{}\" is provisioned from {file}; change the file instead",
                dashboard.uid
            )));
        }
    }
    let next = match (current, version, overwrite) {
        (Some(now), _, true) => now + 1,
        (Some(now), Some(from), false) if from == now => now + 1,
        (Some(now), Some(from), false) => {
            return Err(ApiError::Conflict(format!(
                "dashboard \"{}\" was saved by someone else since version {from} (it is at version {now}); reload it, or save with overwrite",
                dashboard.uid
            )))
        }
        (Some(_), None, false) => {
            return Err(ApiError::Conflict(format!(
                "a dashboard with uid \"{}\" exists; give the version you edited to update it, or overwrite",
                dashboard.uid
            )))
        }
        (None, Some(_), false) => {
            return Err(ApiError::not_found(format!(
                "no dashboard \"{}\" to update",
                dashboard.uid
            )))
        }
        (None, _, _) => 1,
    };
    let model = to_model(&dashboard)?;
    if let Some(row) = &existing {
        if row.model == model && origin.file.is_some() {
            // Provisioning an unchanged file writes no new version.
            tx.rollback().await?;
            return record(row, &dashboard);
        }
    }
    let updated_at = db::write_version(
        &mut tx,
        &db::NewVersion {
            uid: &dashboard.uid,
            title: &dashboard.title,
            folder: &dashboard.folder,
            tags: &dashboard.tags,
            model: &model,
            version: next,
            by: origin.by,
            message: &message,
            provisioned_from: origin.file,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(DashboardRecord {
        version: next,
        created_at: existing.as_ref().map_or(updated_at, |r| r.created_at),
        updated_at,
        updated_by: origin.by.to_string(),
        starred: existing.as_ref().is_some_and(|r| r.starred),
        provisioned: origin.file.is_some(),
        dashboard,
    })
}

fn record(row: &db::DashboardRow, dashboard: &Dashboard) -> Result<DashboardRecord, ApiError> {
    Ok(DashboardRecord {
        dashboard: dashboard.clone(),
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        updated_by: row.updated_by.clone(),
        starred: row.starred,
        provisioned: row.provisioned_from.is_some(),
    })
}

/// The stored dashboard `uid`, or 404.
pub async fn get(pool: &PgPool, uid: &str) -> Result<DashboardRecord, ApiError> {
    let row = db::select_dashboard(pool, uid)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no dashboard \"{uid}\"")))?;
    let dashboard = from_model(row.model.clone())?;
    record(&row, &dashboard)
}

/// Imports the portal's JSON or Grafana's (`{"dashboard": …}` too) as a new version by `by`,
/// filed in `folder` when given; `overwrite` replaces a dashboard with the same uid. The report
/// lists what of a Grafana dashboard could not be mapped.
/// The dashboard an import would save (the portal's JSON or Grafana's, filed in `folder` when
/// given), and what of Grafana's could not be kept.
pub fn parse_import(
    value: serde_json::Value,
    folder: Option<&str>,
) -> Result<(Dashboard, Vec<String>), ApiError> {
    let (mut dashboard, skipped) = if grafana::looks_like_grafana(&value) {
        grafana::convert(&value).map_err(|e| ApiError::invalid("dashboard", e))?
    } else {
        let inner = value.get("dashboard").cloned().unwrap_or(value);
        let d: Dashboard = serde_json::from_value(inner)
            .map_err(|e| ApiError::bad_request("dashboard", e.to_string()))?;
        (d, Vec::new())
    };
    if let Some(folder) = folder {
        dashboard.folder = folder.to_string();
    }
    Ok((dashboard, skipped))
}

pub async fn import(
    pool: &PgPool,
    value: serde_json::Value,
    overwrite: bool,
    folder: Option<&str>,
    by: &str,
) -> Result<ImportReport, ApiError> {
    let (dashboard, skipped) = parse_import(value, folder)?;
    let panels_imported = dashboard
        .panels
        .iter()
        .filter(|p| p.kind != PanelKind::Row)
        .count();
    let record = save(
        pool,
        SaveDashboard {
            dashboard,
            version: None,
            message: "Imported".into(),
            overwrite,
        },
        Origin { by, file: None },
    )
    .await?;
    Ok(ImportReport {
        uid: record.dashboard.uid.clone(),
        version: record.version,
        title: record.dashboard.title.clone(),
        panels_imported,
        skipped,
    })
}

/// Deletes dashboard `uid` unless it is provisioned from a file, in one statement: the check
/// and the delete cannot be separated by a provisioning pass.
pub async fn delete(pool: &PgPool, uid: &str) -> Result<(), ApiError> {
    match db::delete_unprovisioned_dashboard(pool, uid).await? {
        db::Deleted::Yes => Ok(()),
        db::Deleted::Provisioned => Err(ApiError::Conflict(format!(
            "dashboard \"{uid}\" is provisioned from a file; remove the file instead"
        ))),
        db::Deleted::Missing => Err(ApiError::not_found(format!("no dashboard \"{uid}\""))),
    }
}

/// Stars or unstars dashboard `uid`.
pub async fn set_starred(pool: &PgPool, uid: &str, starred: bool) -> Result<(), ApiError> {
    if db::set_starred(pool, uid, starred).await? {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no dashboard \"{uid}\"")))
    }
}

/// Sets (or with `None` clears) the home dashboard; it must exist.
pub async fn set_home(pool: &PgPool, uid: Option<&str>) -> Result<(), ApiError> {
    if let Some(uid) = uid {
        get(pool, uid)
            .await
            .map_err(|_| ApiError::invalid("uid", format!("no dashboard \"{uid}\"")))?;
    }
    db::upsert_preference(pool, HOME_KEY, &serde_json::json!(uid)).await?;
    Ok(())
}

/// The changes from version `from` to version `to` (the latest when `None`).
pub async fn diff_versions(
    pool: &PgPool,
    uid: &str,
    from: i32,
    to: Option<i32>,
) -> Result<Vec<Change>, ApiError> {
    let to = match to {
        Some(v) => v,
        None => get(pool, uid).await?.version,
    };
    let before = serde_json::to_value(version(pool, uid, from).await?)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let after = serde_json::to_value(version(pool, uid, to).await?)
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(diff(&before, &after))
}

/// The list, narrowed by `filter`, with the home dashboard marked.
pub async fn list(
    pool: &PgPool,
    filter: &db::ListFilter<'_>,
) -> Result<Vec<DashboardSummary>, ApiError> {
    let home = home_uid(pool).await?;
    let rows = db::select_dashboards(pool, filter).await?;
    Ok(rows
        .into_iter()
        .map(|r| DashboardSummary {
            home: home.as_deref() == Some(r.uid.as_str()),
            uid: r.uid,
            title: r.title,
            tags: r.tags,
            folder: r.folder,
            version: r.version,
            updated_at: r.updated_at,
            starred: r.starred,
        })
        .collect())
}

/// The home dashboard's uid, if one is set and still exists.
pub async fn home_uid(pool: &PgPool) -> Result<Option<String>, ApiError> {
    let value = db::select_preference(pool, HOME_KEY).await?;
    Ok(value.and_then(|v| v.as_str().map(str::to_owned)))
}

pub async fn versions(pool: &PgPool, uid: &str) -> Result<Vec<VersionSummary>, ApiError> {
    let rows = db::select_versions(pool, uid).await?;
    if rows.is_empty() {
        return Err(ApiError::not_found(format!("no dashboard \"{uid}\"")));
    }
    Ok(rows
        .into_iter()
        .map(|r| VersionSummary {
            version: r.version,
            created_at: r.created_at,
            created_by: r.created_by,
            message: r.message,
        })
        .collect())
}

pub async fn version(pool: &PgPool, uid: &str, version: i32) -> Result<Dashboard, ApiError> {
    let model = db::select_version_model(pool, uid, version)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("dashboard \"{uid}\" has no version {version}"))
        })?;
    from_model(model)
}

/// Saves version `version` again as the newest one.
pub async fn restore(
    pool: &PgPool,
    uid: &str,
    version: i32,
    by: &str,
) -> Result<DashboardRecord, ApiError> {
    let old = self::version(pool, uid, version).await?;
    let current = get(pool, uid).await?;
    save(
        pool,
        SaveDashboard {
            dashboard: old,
            version: Some(current.version),
            message: format!("Restored from version {version}"),
            overwrite: false,
        },
        Origin { by, file: None },
    )
    .await
}

/// Every difference between two JSON documents, as paths like `panels[2].title`.
pub fn diff(before: &serde_json::Value, after: &serde_json::Value) -> Vec<Change> {
    fn walk(
        path: &str,
        a: Option<&serde_json::Value>,
        b: Option<&serde_json::Value>,
        out: &mut Vec<Change>,
    ) {
        use serde_json::Value;
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(&p, x.get(k), y.get(k), out);
                }
            }
            (Some(Value::Array(x)), Some(Value::Array(y))) => {
                for i in 0..x.len().max(y.len()) {
                    walk(&format!("{path}[{i}]"), x.get(i), y.get(i), out);
                }
            }
            (a, b) if a != b => out.push(Change {
                path: path.to_string(),
                before: a.cloned(),
                after: b.cloned(),
            }),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", Some(before), Some(after), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diffs_name_paths() {
        let a = json!({"title": "A", "panels": [{"id": 1, "title": "x"}], "tags": ["a"]});
        let b =
            json!({"title": "B", "panels": [{"id": 1, "title": "y"}, {"id": 2}], "tags": ["a"]});
        let d = diff(&a, &b);
        let paths: Vec<&str> = d.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["panels[0].title", "panels[1]", "title"]);
        assert_eq!(d[2].before, Some(json!("A")));
        assert_eq!(d[1].before, None);
    }

    #[test]
    fn codes_are_long_and_varied() {
        let a = random_code(32);
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_code(32));
    }
}
