//! Stores a batch's rows: each kind's columns bound as typed arrays and unnested into its
//! composite type by one statement, `SELECT crashcache._store_<kind>(ARRAY(...))`.

use crashcache_core::digest::columns::{Column, Columns, DimensionIds, Origin, SqlRow, Values};
use crashcache_core::digest::TableVisitor;
use crashcache_core::timestamp::EpochMicros;
use pgrx::datum::{DatumWithOid, TimestampWithTimeZone};
use pgrx::pg_sys::PgBuiltInOids;
use pgrx::spi::{self, SpiClient};
use pgrx::PgOid;

use super::session::Statements;

/// From the Unix epoch to PostgreSQL's (2000-01-01), in microseconds.
const POSTGRES_EPOCH_US: i64 = 946_684_800_000_000;

pub fn to_timestamptz(us: EpochMicros) -> Option<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(us.checked_sub(POSTGRES_EPOCH_US)?).ok()
}

pub fn from_timestamptz(at: TimestampWithTimeZone) -> EpochMicros {
    at.into_inner().saturating_add(POSTGRES_EPOCH_US)
}

/// Visits a batch's kinds of rows, storing each with a statement prepared once per worker;
/// the first error stops the rest.
pub struct Store<'c, 'a, I> {
    client: &'c mut SpiClient<'a>,
    statements: &'c mut Statements,
    ids: &'c I,
    result: Result<(), spi::Error>,
}

impl<'c, 'a, I: DimensionIds> Store<'c, 'a, I> {
    pub fn new(client: &'c mut SpiClient<'a>, statements: &'c mut Statements, ids: &'c I) -> Self {
        Self {
            client,
            statements,
            ids,
            result: Ok(()),
        }
    }

    pub fn finish(self) -> Result<(), spi::Error> {
        self.result
    }
}

impl<'b, I: DimensionIds> TableVisitor<'b> for Store<'_, '_, I> {
    fn visit<R: SqlRow>(&mut self, store: &'static str, rows: Vec<(&'b Origin<'b>, &'b R)>) {
        if rows.is_empty() || self.result.is_err() {
            return;
        }
        let columns = Columns::of(rows, self.ids).into_columns();
        let types: Vec<PgOid> = columns.iter().map(array_type).collect();
        let prepared = match self.statements.get(
            self.client,
            store,
            || statement(store, R::SQL_TYPE, &columns),
            &types,
        ) {
            Ok(prepared) => prepared,
            Err(e) => {
                self.result = Err(e);
                return;
            }
        };
        let args: Vec<DatumWithOid<'_>> = columns.into_iter().map(datum).collect();
        self.result = self.client.update(prepared, None, &args).map(|_| ());
    }
}

/// The type of the array a column is bound as.
fn array_type(column: &Column) -> PgOid {
    PgOid::BuiltIn(match column.values {
        Values::Int4(_) => PgBuiltInOids::INT4ARRAYOID,
        Values::Int8(_) => PgBuiltInOids::INT8ARRAYOID,
        Values::Float8(_) => PgBuiltInOids::FLOAT8ARRAYOID,
        Values::Text(_) => PgBuiltInOids::TEXTARRAYOID,
        Values::Time(_) => PgBuiltInOids::TIMESTAMPTZARRAYOID,
    })
}

/// `SELECT store(ARRAY(SELECT ROW(c.*)::row_type FROM unnest($1::t1[], ...) AS c))`.
fn statement(store: &str, row_type: &str, columns: &[Column]) -> String {
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}[]", i + 1, c.sql_type.name()))
        .collect();
    format!(
        "SELECT {store}(ARRAY(SELECT ROW(c.*)::{row_type} FROM unnest({}) AS c))",
        arrays.join(", ")
    )
}

fn datum(column: Column) -> DatumWithOid<'static> {
    match column.values {
        Values::Int4(v) => v.into(),
        Values::Int8(v) => v.into(),
        Values::Float8(v) => v.into(),
        Values::Text(v) => v.into(),
        Values::Time(v) => v
            .into_iter()
            .map(|us| us.and_then(to_timestamptz))
            .collect::<Vec<_>>()
            .into(),
    }
}
