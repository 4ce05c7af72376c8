//! The pages' database calls: one SQL function call each, returning one jsonb value (or a
//! scalar). SQL errors the functions raise on purpose become 4xx pages by their SQLSTATE,
//! like the Web API's; connection trouble is 503; anything else is a 500 with the cause logged.

use deadpool_postgres::Pool;
use serde_json::Value;
use tokio_postgres::types::{FromSqlOwned, ToSql};

use crate::db::DbError;
use crate::web_ui::error::UiError;

/// The one value of a statement returning one row and one column (a jsonb, typically); a NULL
/// is `NotFound`.
pub async fn one_json(
    pool: &Pool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Value, UiError> {
    optional_json(pool, sql, params)
        .await?
        .ok_or_else(|| UiError::NotFound("There is nothing here.".to_string()))
}

/// The one value of a statement returning one row and one column, NULL as None.
pub async fn optional_json(
    pool: &Pool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Value>, UiError> {
    one_value::<Option<Value>>(pool, sql, params).await
}

/// The one value, of any type, of a statement returning one row and one column.
pub async fn one_value<T: FromSqlOwned>(
    pool: &Pool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<T, UiError> {
    let client = pool.get().await.map_err(|err| from_db(err.into()))?;
    let row = client.query_one(sql, params).await.map_err(from_postgres)?;
    row.try_get(0)
        .map_err(|err| UiError::Internal(format!("unexpected result of {sql}: {err}")))
}

/// The rows of a statement.
pub async fn rows(
    pool: &Pool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, UiError> {
    let client = pool.get().await.map_err(|err| from_db(err.into()))?;
    client.query(sql, params).await.map_err(from_postgres)
}

/// What a SQLSTATE raised on purpose means for a page; None for the rest.
pub fn status_of(code: &str, message: &str) -> Option<UiError> {
    let message = message.to_string();
    match code {
        "P0002" => Some(UiError::NotFound(message)),
        "42501" => Some(UiError::Forbidden(message)),
        "23505" => Some(UiError::BadRequest(message)),
        _ if code.starts_with("22") => Some(UiError::BadRequest(message)),
        _ => None,
    }
}

fn from_postgres(err: tokio_postgres::Error) -> UiError {
    if let Some(db) = err.as_db_error() {
        let mut message = db.message().to_string();
        if let Some(hint) = db.hint() {
            message.push_str(&format!(" (one of: {hint})"));
        }
        if let Some(known) = status_of(db.code().code(), &message) {
            return known;
        }
    }
    from_db(err.into())
}

fn from_db(err: DbError) -> UiError {
    match err {
        DbError::Unavailable(what) => UiError::Unavailable(what),
        DbError::Failed(what) => UiError::Internal(what),
    }
}

#[cfg(test)]
mod tests {
    use super::status_of;
    use axum::http::StatusCode;

    #[test]
    fn sqlstates_to_pages() {
        let status = |code| status_of(code, "m").map(|e| e.status());
        assert_eq!(status("P0002"), Some(StatusCode::NOT_FOUND));
        assert_eq!(status("42501"), Some(StatusCode::FORBIDDEN));
        assert_eq!(status("22023"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status("22P02"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status("23505"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status("XX000"), None);
    }
}
