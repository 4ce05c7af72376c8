//! The SQL functions behind the command line: projects, Web API tokens, rumination, archive
//! export and import.

use std::pin::Pin;

use deadpool_postgres::{Object, Pool};
use futures_util::TryStreamExt;
use tokio_postgres::RowStream;

use super::DbError;

/// A project as `crashcache.create_project` made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedProject {
    /// Its id.
    pub id: i32,
    /// Its public key.
    pub key: String,
    /// The DSN for SDKs.
    pub dsn: String,
}

/// A row of `crashcache.list_projects()`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Project {
    /// Its id.
    pub id: i32,
    /// Its name.
    pub name: String,
    /// When it was created, RFC 3339 in UTC.
    pub created_at: String,
    /// Its active keys.
    pub public_keys: Vec<String>,
    /// The DSNs of those keys.
    pub dsns: Vec<String>,
}

/// A connection whose DSNs point at `public_url` (the setting lasts for the session).
async fn with_public_url(pool: &Pool, public_url: &str) -> Result<Object, DbError> {
    let client = pool.get().await?;
    client
        .execute(
            "SELECT set_config('crashcache.public_url', $1::text, false)",
            &[&public_url],
        )
        .await?;
    Ok(client)
}

/// `crashcache.create_project(name, public_key)`.
pub async fn create_project(
    pool: &Pool,
    public_url: &str,
    name: &str,
    public_key: Option<&str>,
) -> Result<CreatedProject, DbError> {
    let client = with_public_url(pool, public_url).await?;
    let row = client
        .query_one(
            "SELECT id, key, dsn FROM crashcache.create_project($1::text, $2::text)",
            &[&name, &public_key],
        )
        .await?;
    Ok(CreatedProject {
        id: row.try_get(0)?,
        key: row.try_get(1)?,
        dsn: row.try_get(2)?,
    })
}

/// `crashcache.list_projects()`.
pub async fn list_projects(pool: &Pool, public_url: &str) -> Result<Vec<Project>, DbError> {
    let client = with_public_url(pool, public_url).await?;
    let rows = client
        .query(
            "SELECT id, name, \
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                    public_keys, dsns \
             FROM crashcache.list_projects()",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Project {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                created_at: row.try_get(2)?,
                public_keys: row.try_get(3)?,
                dsns: row.try_get(4)?,
            })
        })
        .collect()
}

/// `crashcache.delete_project(project_id)`: whether it existed.
pub async fn delete_project(pool: &Pool, project_id: i32) -> Result<bool, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_one("SELECT crashcache.delete_project($1::int)", &[&project_id])
        .await?;
    Ok(row.try_get(0)?)
}

/// `crashcache.ruminate(project_id)`: how many payloads were enqueued again.
pub async fn ruminate(pool: &Pool, project_id: Option<i32>) -> Result<i64, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_one("SELECT crashcache.ruminate($1::int)", &[&project_id])
        .await?;
    Ok(row.try_get(0)?)
}

/// The documents of `crashcache.export_archives(project_id)`, read as they arrive.
pub struct Archives {
    // Holds the connection for as long as rows are read from it.
    _client: Object,
    rows: Pin<Box<RowStream>>,
}

impl Archives {
    /// The next archive as one line of JSON, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<String>, DbError> {
        match self.rows.try_next().await? {
            Some(row) => Ok(Some(row.try_get(0)?)),
            None => Ok(None),
        }
    }
}

/// Starts `crashcache.export_archives(project_id)`.
pub async fn export_archives(pool: &Pool, project_id: Option<i32>) -> Result<Archives, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query_raw(
            "SELECT doc::text FROM crashcache.export_archives($1::int) AS doc",
            [project_id],
        )
        .await?;
    Ok(Archives {
        _client: client,
        rows: Box::pin(rows),
    })
}

/// `crashcache.import_archive(doc)` for one JSON document: whether it was added (false when
/// it existed already).
pub async fn import_archive(pool: &Pool, document: &str) -> Result<bool, DbError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("SELECT crashcache.import_archive($1::text::jsonb)")
        .await?;
    let row = client.query_one(&statement, &[&document]).await?;
    Ok(row.try_get(0)?)
}

/// `crashcache.create_api_token(name, scopes)`: the token, whose claims name `public_url`.
pub async fn create_api_token(
    pool: &Pool,
    public_url: &str,
    name: &str,
    scopes: &[String],
) -> Result<String, DbError> {
    let client = with_public_url(pool, public_url).await?;
    let row = client
        .query_one(
            "SELECT crashcache.create_api_token($1::text, $2::text[])",
            &[&name, &scopes],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// `crashcache.list_api_tokens()`: name, scopes, created (RFC 3339), whether revoked.
pub async fn list_api_tokens(
    pool: &Pool,
) -> Result<Vec<(String, Vec<String>, String, bool)>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT name, scopes, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    revoked_at IS NOT NULL
             FROM crashcache.list_api_tokens()",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect()
}

/// `crashcache.revoke_api_token(name)`: whether it existed.
pub async fn revoke_api_token(pool: &Pool, name: &str) -> Result<bool, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_one("SELECT crashcache.revoke_api_token($1::text)", &[&name])
        .await?;
    Ok(row.try_get(0)?)
}
