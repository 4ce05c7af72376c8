//! The command line: the settings (shared by every subcommand) and the subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Settings;

/// Sentry's HTTP ingest protocol in front of pg_crashcache: each request becomes one call of
/// crashcache.ingest(). Without a subcommand it serves.
#[derive(Debug, Parser)]
#[command(name = "ingest-proxy", version, about, args_override_self = true)]
pub struct Cli {
    /// Settings; each flag falls back to its environment variable (and `.env`).
    #[command(flatten)]
    pub settings: Settings,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve Sentry's ingest endpoints (the default).
    Serve,
    /// Create, list and delete projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Move stored payloads between servers as JSON Lines.
    #[command(subcommand)]
    Archive(ArchiveCommand),
    /// Create, list and revoke tokens of the Web API (/api/0/).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create a user of the web UI (as UI_DATABASE_URL's role). The password is read from
    /// standard input (its first line), or asked for when that is a terminal.
    CreateUser {
        /// Their email address, what they sign in with.
        #[arg(long)]
        email: String,
        /// Their name, as the UI shows it.
        #[arg(long)]
        name: String,
        /// They may create projects, keys and users.
        #[arg(long)]
        admin: bool,
        /// Do nothing when the UI has a user already (scripts/run's first admin).
        #[arg(long)]
        if_no_users: bool,
    },
    /// Rebuild everything derived from the stored payloads (crashcache.ruminate).
    Ruminate {
        /// Only this project.
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        project: Option<i32>,
    },
}

/// `project …`.
#[derive(Debug, Clone, Subcommand)]
pub enum ProjectCommand {
    /// Create a project with one key and print its DSN (for PUBLIC_URL).
    Create {
        /// The project's name.
        #[arg(long, default_value = "default")]
        name: String,
        /// Its public key (1-64 of A-Z a-z 0-9 _ -); 32 random hex digits when omitted.
        #[arg(long)]
        key: Option<String>,
    },
    /// List projects with their DSNs.
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a project and everything stored for it.
    Delete {
        /// The project's id.
        #[arg(value_parser = clap::value_parser!(i32).range(1..))]
        id: i32,
    },
}

/// `token …`.
#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (it cannot be read again: only its hash is kept).
    Create {
        /// A name for it, unique (who did what, in an issue's activity).
        #[arg(long)]
        name: String,
        /// Its scopes, comma-separated, as Sentry names them.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "org:read,project:read,event:read,event:write,comment:write"
        )]
        scopes: Vec<String>,
    },
    /// List the tokens (names and scopes, never the secrets).
    List,
    /// Revoke a token: requests with it are refused from then on.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// `archive …`.
#[derive(Debug, Clone, Subcommand)]
pub enum ArchiveCommand {
    /// Write every stored payload as JSON Lines (one archive per line).
    Export {
        /// File to write; standard output when omitted or `-`.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Only this project's archives.
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        project: Option<i32>,
    },
    /// Add the archives of a JSON Lines export and enqueue them for digestion.
    Import {
        /// File to read; standard input when omitted or `-`.
        #[arg(short, long)]
        input: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::{ArchiveCommand, Cli, Command, ProjectCommand, TokenCommand};
    use clap::{CommandFactory, Parser};

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_parse() {
        let cli = Cli::try_parse_from(["ingest-proxy"]).unwrap();
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from([
            "ingest-proxy",
            "project",
            "create",
            "--name",
            "web",
            "--key",
            "k",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Project(ProjectCommand::Create { name, key: Some(key) })) if name == "web" && key == "k"
        ));
        let cli = Cli::try_parse_from(["ingest-proxy", "project", "delete", "7"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Project(ProjectCommand::Delete { id: 7 }))
        ));
        assert!(Cli::try_parse_from(["ingest-proxy", "project", "delete", "0"]).is_err());
        let cli = Cli::try_parse_from([
            "ingest-proxy",
            "token",
            "create",
            "--name",
            "mcp",
            "--scopes",
            "org:read,event:read",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Token(TokenCommand::Create { name, scopes })) if name == "mcp" && scopes == ["org:read", "event:read"]
        ));
        let cli =
            Cli::try_parse_from(["ingest-proxy", "archive", "export", "-o", "out.jsonl"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Archive(ArchiveCommand::Export {
                output: Some(_),
                project: None
            }))
        ));
        let cli =
            Cli::try_parse_from(["ingest-proxy", "archive", "import", "-i", "in.jsonl"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Archive(ArchiveCommand::Import { input: Some(_) }))
        ));
        let cli = Cli::try_parse_from([
            "ingest-proxy",
            "create-user",
            "--email",
            "a@example.com",
            "--name",
            "A",
            "--admin",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::CreateUser { email, name, admin: true, if_no_users: false }) if email == "a@example.com" && name == "A"
        ));
        let cli = Cli::try_parse_from(["ingest-proxy", "ruminate", "--project", "3"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Ruminate { project: Some(3) })
        ));
        // Settings are accepted after a subcommand too.
        let cli =
            Cli::try_parse_from(["ingest-proxy", "project", "list", "--port", "4000"]).unwrap();
        assert_eq!(cli.settings.port, "4000");
    }
}
