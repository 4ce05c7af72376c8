//! The subcommands: each a thin call of one SQL function, printing its result.
//!
//! Results go to standard output (so that they can be piped), counts and notes to standard
//! error.

use std::path::{Path, PathBuf};

use deadpool_postgres::Pool;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};

use crate::cli::{ArchiveCommand, Command, ProjectCommand, TokenCommand};
use crate::config::Config;
use crate::db::{self, admin, DbError};
use crate::server;

mod users;

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The database refused or could not be reached.
    #[error("{0}")]
    Db(#[from] DbError),
    /// Reading or writing a file or a standard stream failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The failure.
        source: std::io::Error,
    },
    /// `project delete` of a project that does not exist.
    #[error("there is no project {0}")]
    NoSuchProject(i32),
    /// `token revoke` of a token that does not exist.
    #[error("there is no token {0}")]
    NoSuchToken(String),
    /// `archive import` stopped at a line the database refused.
    #[error("line {line}: {source} (before it: {added} added, {skipped} skipped)")]
    Import {
        /// 1-based line number.
        line: usize,
        /// Archives added before.
        added: u64,
        /// Archives that existed before.
        skipped: u64,
        /// The refusal.
        source: DbError,
    },
    /// `create-user` without `UI_DATABASE_URL`, or with an unusable password.
    #[error("{0}")]
    User(String),
    /// `serve` could not start or stopped with an error.
    #[error("{0}")]
    Serve(String),
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CommandError {
    let what = what.into();
    move |source| CommandError::Io { what, source }
}

/// Runs one subcommand.
pub async fn run(command: Command, config: Config) -> Result<(), CommandError> {
    if let Command::Serve = command {
        return server::serve(config).await.map_err(CommandError::Serve);
    }
    if let Command::CreateUser {
        email,
        name,
        admin,
        if_no_users,
    } = command
    {
        return users::create_user(&config, &email, &name, admin, if_no_users).await;
    }
    let pool = db::pool(config.pool_settings()).map_err(CommandError::Serve)?;
    let result = match command {
        Command::Serve | Command::CreateUser { .. } => Ok(()),
        Command::Project(ProjectCommand::Create { name, key }) => {
            create_project(&pool, &config.public_url, &name, key.as_deref()).await
        }
        Command::Project(ProjectCommand::List { json }) => {
            list_projects(&pool, &config.public_url, json).await
        }
        Command::Project(ProjectCommand::Delete { id }) => delete_project(&pool, id).await,
        Command::Archive(ArchiveCommand::Export { output, project }) => {
            export(&pool, output.as_deref(), project).await
        }
        Command::Archive(ArchiveCommand::Import { input }) => import(&pool, input).await,
        Command::Token(TokenCommand::Create { name, scopes }) => {
            let token = admin::create_api_token(&pool, &config.public_url, &name, &scopes).await?;
            eprintln!(
                "created token {name} ({}); it is shown only now",
                scopes.join(", ")
            );
            print(&format!("{token}\n")).await
        }
        Command::Token(TokenCommand::List) => {
            let mut out = String::new();
            for (name, scopes, created_at, revoked) in admin::list_api_tokens(&pool).await? {
                let state = if revoked { "revoked" } else { "active" };
                out.push_str(&format!(
                    "{name}\t{state}\t{created_at}\t{}\n",
                    scopes.join(",")
                ));
            }
            print(&out).await
        }
        Command::Token(TokenCommand::Revoke { name }) => {
            if admin::revoke_api_token(&pool, &name).await? {
                eprintln!("revoked token {name}");
                Ok(())
            } else {
                Err(CommandError::NoSuchToken(name))
            }
        }
        Command::Ruminate { project } => ruminate(&pool, project).await,
    };
    pool.close();
    result
}

async fn print(text: &str) -> Result<(), CommandError> {
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(text.as_bytes())
        .await
        .map_err(io_error("cannot write to standard output"))?;
    stdout
        .flush()
        .await
        .map_err(io_error("cannot write to standard output"))
}

async fn create_project(
    pool: &Pool,
    public_url: &str,
    name: &str,
    key: Option<&str>,
) -> Result<(), CommandError> {
    let project = admin::create_project(pool, public_url, name, key).await?;
    eprintln!(
        "created project {} ({name}) with key {}",
        project.id, project.key
    );
    print(&format!("{}\n", project.dsn)).await
}

async fn list_projects(pool: &Pool, public_url: &str, json: bool) -> Result<(), CommandError> {
    let projects = admin::list_projects(pool, public_url).await?;
    let mut out = String::new();
    if json {
        for project in &projects {
            let line = serde_json::to_string(project).map_err(|err| CommandError::Io {
                what: "cannot write JSON".into(),
                source: err.into(),
            })?;
            out.push_str(&line);
            out.push('\n');
        }
    } else {
        out.push_str("ID\tNAME\tCREATED\tDSN\n");
        for project in &projects {
            let dsns = if project.dsns.is_empty() {
                "-".to_owned()
            } else {
                project.dsns.join(" ")
            };
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\n",
                project.id, project.name, project.created_at, dsns
            ));
        }
    }
    print(&out).await
}

async fn delete_project(pool: &Pool, id: i32) -> Result<(), CommandError> {
    if !admin::delete_project(pool, id).await? {
        return Err(CommandError::NoSuchProject(id));
    }
    print(&format!("deleted project {id}\n")).await
}

async fn ruminate(pool: &Pool, project: Option<i32>) -> Result<(), CommandError> {
    let enqueued = admin::ruminate(pool, project).await?;
    print(&format!("enqueued {enqueued} payloads for digestion\n")).await
}

/// `-` or nothing means the standard stream.
fn named_file(path: Option<&Path>) -> Option<&Path> {
    path.filter(|path| path.as_os_str() != "-")
}

async fn export(
    pool: &Pool,
    output: Option<&Path>,
    project: Option<i32>,
) -> Result<(), CommandError> {
    // The query starts first, so that a database error leaves no empty file behind.
    let mut archives = admin::export_archives(pool, project).await?;
    let (sink, what): (Box<dyn AsyncWrite + Unpin + Send>, String) = match named_file(output) {
        Some(path) => {
            let file = tokio::fs::File::create(path)
                .await
                .map_err(io_error(format!("cannot create {}", path.display())))?;
            (Box::new(file), format!("cannot write {}", path.display()))
        }
        None => (
            Box::new(tokio::io::stdout()),
            "cannot write to standard output".to_owned(),
        ),
    };
    let mut sink = BufWriter::new(sink);
    let mut count: u64 = 0;
    while let Some(document) = archives.next().await? {
        sink.write_all(document.as_bytes())
            .await
            .map_err(io_error(what.clone()))?;
        sink.write_all(b"\n")
            .await
            .map_err(io_error(what.clone()))?;
        count += 1;
    }
    sink.flush().await.map_err(io_error(what))?;
    eprintln!("exported {count} archives");
    Ok(())
}

async fn import(pool: &Pool, input: Option<PathBuf>) -> Result<(), CommandError> {
    let (source, what): (Box<dyn AsyncRead + Unpin + Send>, String) =
        match named_file(input.as_deref()) {
            Some(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(io_error(format!("cannot open {}", path.display())))?;
                (Box::new(file), format!("cannot read {}", path.display()))
            }
            None => (
                Box::new(tokio::io::stdin()),
                "cannot read standard input".to_owned(),
            ),
        };
    let mut lines = BufReader::new(source).lines();
    let (mut added, mut skipped, mut number) = (0u64, 0u64, 0usize);
    while let Some(line) = lines.next_line().await.map_err(io_error(what.clone()))? {
        number += 1;
        let document = line.trim();
        if document.is_empty() {
            continue;
        }
        match admin::import_archive(pool, document).await {
            Ok(true) => added += 1,
            Ok(false) => skipped += 1,
            Err(source) => {
                return Err(CommandError::Import {
                    line: number,
                    added,
                    skipped,
                    source,
                })
            }
        }
    }
    print(&format!(
        "added {added}, skipped {skipped} (already there)\n"
    ))
    .await
}
