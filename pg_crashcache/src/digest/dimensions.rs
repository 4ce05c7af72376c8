//! A digest worker's dimension ids. A dimension row never changes and is never deleted, so an
//! id, once committed, is good for the worker's life: after the first few batches the digest
//! asks the database for none. Ids learned in a batch are kept only once it commits (a
//! rolled-back batch may have made them).

use std::collections::HashMap;

use crashcache_core::digest::columns::DimensionIds;
use crashcache_core::digest::dimension::{Dimension, DimensionValue};
use pgrx::pg_sys::PgBuiltInOids;
use pgrx::prelude::*;
use pgrx::spi::{self, SpiClient};
use pgrx::PgOid;

use super::session::Statements;
use crate::errors;

/// Beyond this many, the worker forgets them all and learns again (release and transaction
/// names have no bound).
const MAX_KNOWN: usize = 100_000;

/// Ids by dimension, name and version.
#[derive(Debug, Default)]
pub struct Ids {
    by_dimension: HashMap<Dimension, HashMap<String, HashMap<String, i32>>>,
    len: usize,
}

impl Ids {
    fn insert(&mut self, value: DimensionValue, id: i32) {
        let versions = self
            .by_dimension
            .entry(value.dimension)
            .or_default()
            .entry(value.name)
            .or_default();
        if versions.insert(value.version, id).is_none() {
            self.len += 1;
        }
    }

    /// Keeps what a committed batch learned.
    pub fn remember(&mut self, learned: Ids) {
        if self.len + learned.len > MAX_KNOWN {
            *self = Ids::default();
        }
        for (dimension, names) in learned.by_dimension {
            for (name, versions) in names {
                for (version, id) in versions {
                    self.insert(
                        DimensionValue {
                            dimension,
                            name: name.clone(),
                            version,
                        },
                        id,
                    );
                }
            }
        }
    }
}

impl DimensionIds for Ids {
    fn id(&self, dimension: Dimension, name: &str, version: &str) -> Option<i32> {
        self.by_dimension
            .get(&dimension)?
            .get(name)?
            .get(version)
            .copied()
    }
}

/// The worker's ids, then a batch's.
pub struct BatchIds<'k> {
    pub known: &'k Ids,
    pub learned: &'k Ids,
}

impl DimensionIds for BatchIds<'_> {
    fn id(&self, dimension: Dimension, name: &str, version: &str) -> Option<i32> {
        self.known
            .id(dimension, name, version)
            .or_else(|| self.learned.id(dimension, name, version))
    }
}

/// The ids of `values`, inserting the new ones (`crashcache._dimension_ids`).
pub fn learn(
    client: &mut SpiClient<'_>,
    statements: &mut Statements,
    values: Vec<DimensionValue>,
) -> Result<Ids, spi::Error> {
    let mut learned = Ids::default();
    if values.is_empty() {
        return Ok(learned);
    }
    let tables: Vec<&str> = values.iter().map(|v| v.dimension.table()).collect();
    let names: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
    let versions: Vec<&str> = values.iter().map(|v| v.version.as_str()).collect();
    let text_array = PgOid::BuiltIn(PgBuiltInOids::TEXTARRAYOID);
    let prepared = statements.get(
        client,
        "dimension-ids",
        || "SELECT n, id FROM crashcache._dimension_ids($1, $2, $3)".to_string(),
        &[text_array, text_array, text_array],
    )?;
    let rows = client.update(
        prepared,
        None,
        &[tables.into(), names.into(), versions.into()],
    )?;
    let mut slots: Vec<Option<DimensionValue>> = values.into_iter().map(Some).collect();
    for row in rows {
        let n = row.get::<i64>(1)?.unwrap_or(0);
        let id = row.get::<i32>(2)?;
        let slot = usize::try_from(n - 1).ok().and_then(|i| slots.get_mut(i));
        if let (Some(value), Some(id)) = (slot.and_then(Option::take), id) {
            learned.insert(value, id);
        }
    }
    if let Some(missing) = slots.into_iter().flatten().next() {
        errors::raise(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!(
                "crashcache._dimension_ids returned no id for {} {:?} {:?}",
                missing.dimension.table(),
                missing.name,
                missing.version
            ),
        );
    }
    Ok(learned)
}
