//! `create-user`: a user of the web UI, made as UI_DATABASE_URL's role (`ui_create_user`).
//! The password is hashed here (argon2id): the database never sees it.

use std::io::{BufRead, IsTerminal};

use crate::commands::CommandError;
use crate::config::Config;
use crate::db::{self, DbError};
use crate::web_ui::password;

/// Creates the user and prints their id; with `if_no_users`, only when the UI has none yet.
pub async fn create_user(
    config: &Config,
    email: &str,
    name: &str,
    admin: bool,
    if_no_users: bool,
) -> Result<(), CommandError> {
    let settings = config.ui_pool_settings().ok_or_else(|| {
        CommandError::User("create-user needs UI_DATABASE_URL (the web UI's database role)".into())
    })?;
    let pool = db::pool(settings).map_err(CommandError::Serve)?;
    let result = async {
        let client = pool.get().await.map_err(DbError::from)?;
        if if_no_users {
            let row = client
                .query_one("SELECT crashcache.ui_has_users()", &[])
                .await
                .map_err(DbError::from)?;
            if row.get::<_, bool>(0) {
                eprintln!("the web UI has users already: none created");
                return Ok(());
            }
        }
        let secret = read_password()?;
        let hash = password::hash_blocking(secret)
            .await
            .map_err(|err| CommandError::User(err.to_string()))?;
        let row = client
            .query_one(
                "SELECT crashcache.ui_create_user($1, $2, $3, $4)->>'email'",
                &[&email, &name, &hash, &admin],
            )
            .await
            .map_err(DbError::from)?;
        let created: String = row.get(0);
        let role = if admin { "an admin" } else { "a user" };
        eprintln!("created {role}: {created}");
        Ok(())
    }
    .await;
    pool.close();
    result
}

/// The password: asked twice on a terminal, else the first line of standard input.
fn read_password() -> Result<String, CommandError> {
    let io = |source| CommandError::Io {
        what: "cannot read the password".into(),
        source,
    };
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(io)?;
        let again = rpassword::prompt_password("Again: ").map_err(io)?;
        if first != again {
            return Err(CommandError::User("the passwords differ".into()));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(io)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
