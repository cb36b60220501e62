//! Dashboards as code: the built-in dashboards, made once on first start, and a directory of
//! JSON files (the portal's model or Grafana's) kept in sync with the database.

use super::{grafana, save, Origin, HOME_KEY};
use crate::{error::ApiError, store::dashboards as db};
use app::api::dashboard::{Dashboard, SaveDashboard};
use sqlx::PgPool;
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

/// The built-in dashboards, as their JSON files.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "agent-overview",
        include_str!("../../dashboards/agent-overview.json"),
    ),
    (
        "portal-self",
        include_str!("../../dashboards/portal-self.json"),
    ),
];

/// Which built-ins were made once (a deleted one is not made again).
const BUILT_IN_KEY: &str = "built_in_dashboards";

/// Makes each built-in dashboard the first time the portal starts with it, and makes the first
/// one home when no home is set.
pub async fn ensure_built_in(pool: &PgPool) -> Result<(), ApiError> {
    let done: BTreeSet<String> = db::select_preference(pool, BUILT_IN_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut now_done = done.clone();
    for (uid, text) in BUILT_IN {
        if done.contains(*uid) {
            continue;
        }
        let dashboard: Dashboard = serde_json::from_str(text)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("built-in {uid}: {e}")))?;
        if db::select_dashboard(pool, uid).await?.is_none() {
            save(
                pool,
                SaveDashboard {
                    dashboard,
                    version: None,
                    message: "Built-in dashboard".into(),
                    overwrite: false,
                },
                Origin {
                    by: "portal",
                    file: None,
                },
            )
            .await?;
        }
        now_done.insert(uid.to_string());
    }
    if now_done != done {
        db::upsert_preference(pool, BUILT_IN_KEY, &serde_json::json!(now_done)).await?;
    }
    if db::select_preference(pool, HOME_KEY).await?.is_none() {
        db::upsert_preference(pool, HOME_KEY, &serde_json::json!(BUILT_IN[0].0)).await?;
    }
    Ok(())
}

/// Reads a provisioning file: the portal's model, or a Grafana dashboard (converted).
pub fn read_file(path: &Path) -> Result<Dashboard, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let mut dashboard = if grafana::looks_like_grafana(&value) {
        grafana::convert(&value).map(|(d, _)| d)?
    } else {
        serde_json::from_value::<Dashboard>(value).map_err(|e| e.to_string())?
    };
    if dashboard.uid.is_empty() {
        // A file without a uid is named by its file name.
        dashboard.uid = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
    }
    dashboard
        .validate()
        .map_err(|e| format!("{}: {}", e.field, e.message))?;
    Ok(dashboard)
}

/// Brings the database in line with `dir`: new and changed files are saved (as provisioned),
/// dashboards whose file is gone are deleted. Bad files are logged and skipped.
pub async fn sync_directory(pool: &PgPool, dir: &Path) -> Result<usize, ApiError> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read the dashboards directory");
            return Ok(0);
        }
    };
    files.sort();
    let mut seen = BTreeSet::new();
    let mut saved = 0;
    for file in &files {
        let name = file.display().to_string();
        let dashboard = match read_file(file) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(file = %name, error = %e, "dashboard file skipped");
                continue;
            }
        };
        if !seen.insert(dashboard.uid.clone()) {
            tracing::warn!(file = %name, uid = %dashboard.uid, "another file already provisions this uid; skipped");
            continue;
        }
        let before = db::select_dashboard(pool, &dashboard.uid).await?;
        let result = save(
            pool,
            SaveDashboard {
                dashboard,
                version: None,
                message: format!("Provisioned from {name}"),
                overwrite: true,
            },
            Origin {
                by: "provisioning",
                file: Some(&name),
            },
        )
        .await;
        match result {
            Ok(record) if before.as_ref().is_none_or(|b| b.version != record.version) => {
                saved += 1;
                tracing::info!(file = %name, uid = %record.dashboard.uid, version = record.version, "dashboard provisioned");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(file = %name, error = %e, "dashboard file not saved"),
        }
    }
    let dir_text = dir.display().to_string();
    for (uid, file) in db::select_provisioned(pool).await? {
        if file.starts_with(&dir_text) && !seen.contains(&uid) && !Path::new(&file).exists() {
            db::delete_dashboard(pool, &uid).await?;
            tracing::info!(file = %file, uid = %uid, "provisioning file removed; dashboard deleted");
        }
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_dashboards_are_valid() {
        for (uid, text) in BUILT_IN {
            let d: Dashboard = serde_json::from_str(text).unwrap();
            assert_eq!(d.uid, *uid);
            d.validate().unwrap_or_else(|e| panic!("{uid}: {e:?}"));
            assert!(d.panels.len() >= 8, "{uid}");
        }
    }
}
