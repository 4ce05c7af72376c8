//! What a digest worker keeps from one batch to the next: the dimension ids it has learned and
//! its prepared statements. Both belong to one installation of the extension, so they are
//! dropped when `pg_crashcache` is installed again (`DROP EXTENSION` and `CREATE EXTENSION`,
//! or a restore: new ids for the same values), and the statements after any failed batch (an
//! `ALTER EXTENSION … UPDATE` may have replaced what they call).

use std::collections::HashMap;

use pgrx::spi::{self, OwnedPreparedStatement, SpiClient};
use pgrx::PgOid;

use super::dimensions::Ids;

/// Which installation, and whether its schema takes typed rows (0.1.3 on) or JSON.
const INSTALLATION: &str = "SELECT e.oid::bigint, to_regtype('crashcache._event_row') IS NOT NULL
                            FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_crashcache'";

#[derive(Default)]
pub struct Session {
    /// The extension's oid when the ids and statements were made.
    installation: Option<i64>,
    pub dimensions: Ids,
    pub statements: Statements,
}

impl Session {
    /// Looks at the installation at the start of a batch; forgets everything made for another.
    /// Returns whether its schema takes typed rows.
    pub fn begin_batch(&mut self, client: &mut SpiClient<'_>) -> Result<bool, spi::Error> {
        let check = self
            .statements
            .get(client, "installation", || INSTALLATION.into(), &[])?;
        let rows = client.select(check, Some(1), &[])?;
        let (installation, typed) = if rows.is_empty() {
            (None, false)
        } else {
            let row = rows.first();
            (row.get::<i64>(1)?, row.get::<bool>(2)?.unwrap_or(false))
        };
        if installation != self.installation {
            self.dimensions = Ids::default();
            self.statements.forget();
            self.installation = installation;
        }
        Ok(typed)
    }
}

/// Prepared statements kept for the worker's life, by a name for each.
#[derive(Default)]
pub struct Statements(HashMap<&'static str, OwnedPreparedStatement>);

impl Statements {
    /// The statement `name`, prepared from `sql()` with `types` on first use.
    pub fn get(
        &mut self,
        client: &SpiClient<'_>,
        name: &'static str,
        sql: impl FnOnce() -> String,
        types: &[PgOid],
    ) -> Result<&OwnedPreparedStatement, spi::Error> {
        if !self.0.contains_key(name) {
            let prepared = client.prepare_mut(sql().as_str(), types)?.keep();
            self.0.insert(name, prepared);
        }
        Ok(&self.0[name])
    }

    pub fn forget(&mut self) {
        self.0.clear();
    }
}
