//! Saved searches: a log search kept by name and shared by everyone who reads logs. A name is
//! unique (saving under a name again replaces its search); a search is checked as a search is.

use super::{query, LogsError, LogsService};
use crate::store::logs as db;
use app::api::logs::{SaveSearch, SavedSearch};

/// Most searches kept.
pub const MAX_SAVED: i64 = 1000;
const MAX_NAME_CHARS: usize = 200;
const MAX_QUERY_BYTES: usize = 4096;

fn invalid(field: &str, message: impl Into<String>) -> LogsError {
    LogsError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn saved_of(row: db::SavedSearchRow) -> SavedSearch {
    SavedSearch {
        id: row.id,
        name: row.name,
        query: row.query,
        created_by: row.created_by,
        created_at: Some(row.created_at),
    }
}

impl LogsService {
    /// Every saved search, by name.
    pub async fn saved_searches(&self) -> Result<Vec<SavedSearch>, LogsError> {
        Ok(db::saved_searches(&self.0.pool)
            .await?
            .into_iter()
            .map(saved_of)
            .collect())
    }

    /// Saves `request` (replacing the search of its name); checks the name and the search.
    pub async fn save_search(
        &self,
        request: SaveSearch,
        by: &str,
    ) -> Result<SavedSearch, LogsError> {
        let name = request.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(invalid(
                "name",
                format!("must be 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if request.query.len() > MAX_QUERY_BYTES {
            return Err(invalid(
                "query",
                format!("must be at most {MAX_QUERY_BYTES} bytes"),
            ));
        }
        query::parse(&request.query)?;
        match db::save_search(&self.0.pool, name, request.query.trim(), by, MAX_SAVED).await? {
            Some(row) => Ok(saved_of(row)),
            None => Err(invalid(
                "name",
                format!("at most {MAX_SAVED} searches are kept; delete one first"),
            )),
        }
    }

    /// Deletes the saved search `id`.
    pub async fn delete_saved_search(&self, id: i64) -> Result<(), LogsError> {
        if db::delete_saved_search(&self.0.pool, id).await? {
            Ok(())
        } else {
            Err(LogsError::NotFound(format!("no saved search {id}")))
        }
    }

    /// One saved search.
    pub async fn saved_search(&self, id: i64) -> Result<SavedSearch, LogsError> {
        db::saved_search(&self.0.pool, id)
            .await?
            .map(saved_of)
            .ok_or_else(|| LogsError::NotFound(format!("no saved search {id}")))
    }
}
