//! The typed contract between the digest's rows and SQL.
//!
//! Each row type lists its columns once, in [`SqlRow::write`]: name, type and value, in the
//! order of the composite type that mirrors it in the schema (`crashcache._event_row`, …).
//! A batch of rows becomes one typed array per column ([`Columns`]), which the worker binds
//! as parameters and unnests into that composite type, so a column of the wrong type or in
//! the wrong place fails the statement instead of storing NULL; the extension's contract test
//! compares every list with its composite type. The same listing also yields the dimension
//! values a row refers to ([`dimension_values`]), so nothing is listed twice.

use serde::Serialize;

use super::dimension::{Dimension, DimensionValue};
use crate::json_repair;
use crate::timestamp::EpochMicros;

/// A column's type, spelled as PostgreSQL's `format_type` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    Int4,
    Int8,
    Float8,
    Text,
    Jsonb,
    Uuid,
    Timestamptz,
    Level,
}

impl SqlType {
    pub fn name(self) -> &'static str {
        match self {
            SqlType::Int4 => "integer",
            SqlType::Int8 => "bigint",
            SqlType::Float8 => "double precision",
            SqlType::Text => "text",
            SqlType::Jsonb => "jsonb",
            SqlType::Uuid => "uuid",
            SqlType::Timestamptz => "timestamp with time zone",
            SqlType::Level => "crashcache.level",
        }
    }
}

/// One column's values for a batch of rows. Text carries the columns whose values PostgreSQL
/// reads from text (jsonb, uuid, the level enum): the statement casts the array.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Int4(Vec<Option<i32>>),
    Int8(Vec<Option<i64>>),
    Float8(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Time(Vec<Option<EpochMicros>>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: &'static str,
    pub sql_type: SqlType,
    pub values: Values,
}

/// The facts of the payload a row came from that are not in the row itself: what the
/// archive knows about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub archive_id: i64,
    pub project_id: i32,
    pub received_at: EpochMicros,
    /// The address the request came from, when known.
    pub client_ip: Option<&'a str>,
}

impl Origin<'_> {
    /// For reading a row's columns without a payload.
    const NONE: Origin<'static> = Origin {
        archive_id: 0,
        project_id: 0,
        received_at: 0,
        client_ip: None,
    };
}

/// Where [`SqlRow::write`] puts a row's values. Every row writes the same columns in the same
/// order, whatever its values: no call may be conditional.
pub trait Sink {
    fn int4(&mut self, name: &'static str, value: Option<i32>);
    fn int8(&mut self, name: &'static str, value: Option<i64>);
    fn float8(&mut self, name: &'static str, value: Option<f64>);
    fn text(&mut self, name: &'static str, value: Option<&str>);
    fn uuid(&mut self, name: &'static str, value: Option<&str>);
    fn level(&mut self, name: &'static str, value: &str);
    fn time(&mut self, name: &'static str, value: Option<EpochMicros>);
    fn json<T: Serialize + ?Sized>(&mut self, name: &'static str, value: Option<&T>);
    /// The id of `dimension`'s value `name`/`version` (`version` empty when it has none).
    fn dimension(
        &mut self,
        name: &'static str,
        dimension: Dimension,
        value: Option<&str>,
        version: &str,
    );
}

/// A row the digest stores: `SQL_TYPE` is the composite type its columns mirror.
pub trait SqlRow {
    const SQL_TYPE: &'static str;
    fn write<S: Sink>(&self, origin: &Origin<'_>, sink: &mut S);
}

/// Resolves dimension values to ids while a batch's columns are built.
pub trait DimensionIds {
    fn id(&self, dimension: Dimension, name: &str, version: &str) -> Option<i32>;
}

/// Knows no dimension value.
pub struct NoIds;

impl DimensionIds for NoIds {
    fn id(&self, _: Dimension, _: &str, _: &str) -> Option<i32> {
        None
    }
}

/// The columns of a batch of rows of one type.
#[derive(Debug, Default)]
pub struct Columns {
    columns: Vec<Column>,
    rows: usize,
}

impl Columns {
    /// The rows' columns; empty when there are no rows.
    pub fn of<'r, R: SqlRow + 'r>(
        rows: impl IntoIterator<Item = (&'r Origin<'r>, &'r R)>,
        ids: &impl DimensionIds,
    ) -> Self {
        let mut columns = Columns::default();
        for (origin, row) in rows {
            let mut builder = Builder {
                columns: &mut columns.columns,
                first: columns.rows == 0,
                cursor: 0,
                ids,
            };
            row.write(origin, &mut builder);
            columns.rows += 1;
        }
        columns
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn into_columns(self) -> Vec<Column> {
        self.columns
    }
}

struct Builder<'c, 'i, I> {
    columns: &'c mut Vec<Column>,
    first: bool,
    cursor: usize,
    ids: &'i I,
}

/// Appends to the column of its type at the cursor (made on the first row).
macro_rules! push {
    ($self:ident, $name:expr, $sql_type:expr, $variant:ident, $value:expr) => {{
        if $self.first {
            $self.columns.push(Column {
                name: $name,
                sql_type: $sql_type,
                values: Values::$variant(Vec::new()),
            });
        }
        match &mut $self.columns[$self.cursor].values {
            Values::$variant(values) => values.push($value),
            other => unreachable!("column {} changed type to {:?}", $name, other),
        }
        $self.cursor += 1;
    }};
}

/// PostgreSQL's text refuses U+0000, which JSON strings may hold.
fn pg_text(value: &str) -> String {
    if value.contains('\0') {
        value.replace('\0', "\u{fffd}")
    } else {
        value.to_string()
    }
}

impl<I: DimensionIds> Sink for Builder<'_, '_, I> {
    fn int4(&mut self, name: &'static str, value: Option<i32>) {
        push!(self, name, SqlType::Int4, Int4, value)
    }
    fn int8(&mut self, name: &'static str, value: Option<i64>) {
        push!(self, name, SqlType::Int8, Int8, value)
    }
    fn float8(&mut self, name: &'static str, value: Option<f64>) {
        push!(self, name, SqlType::Float8, Float8, value)
    }
    fn text(&mut self, name: &'static str, value: Option<&str>) {
        push!(self, name, SqlType::Text, Text, value.map(pg_text))
    }
    fn uuid(&mut self, name: &'static str, value: Option<&str>) {
        push!(self, name, SqlType::Uuid, Text, value.map(str::to_string))
    }
    fn level(&mut self, name: &'static str, value: &str) {
        push!(self, name, SqlType::Level, Text, Some(value.to_string()))
    }
    fn time(&mut self, name: &'static str, value: Option<EpochMicros>) {
        push!(self, name, SqlType::Timestamptz, Time, value)
    }
    fn json<T: Serialize + ?Sized>(&mut self, name: &'static str, value: Option<&T>) {
        // Serialising a serde_json value cannot fail (its keys are strings).
        let text = value
            .and_then(|v| serde_json::to_string(v).ok())
            .map(json_repair::replace_nul_escapes);
        push!(self, name, SqlType::Jsonb, Text, text)
    }
    fn dimension(
        &mut self,
        name: &'static str,
        dimension: Dimension,
        value: Option<&str>,
        version: &str,
    ) {
        let id = value.and_then(|v| self.ids.id(dimension, v, version));
        push!(self, name, SqlType::Int4, Int4, id)
    }
}

/// Appends the dimension values the rows refer to, but for those `known` says it has.
pub fn dimension_values<'r, R: SqlRow + 'r>(
    rows: impl IntoIterator<Item = &'r R>,
    known: &impl DimensionIds,
    out: &mut Vec<DimensionValue>,
) {
    let mut collector = DimensionCollector { known, out };
    for row in rows {
        row.write(&Origin::NONE, &mut collector);
    }
}

struct DimensionCollector<'k, 'o, K> {
    known: &'k K,
    out: &'o mut Vec<DimensionValue>,
}

impl<K: DimensionIds> Sink for DimensionCollector<'_, '_, K> {
    fn int4(&mut self, _: &'static str, _: Option<i32>) {}
    fn int8(&mut self, _: &'static str, _: Option<i64>) {}
    fn float8(&mut self, _: &'static str, _: Option<f64>) {}
    fn text(&mut self, _: &'static str, _: Option<&str>) {}
    fn uuid(&mut self, _: &'static str, _: Option<&str>) {}
    fn level(&mut self, _: &'static str, _: &str) {}
    fn time(&mut self, _: &'static str, _: Option<EpochMicros>) {}
    fn json<T: Serialize + ?Sized>(&mut self, _: &'static str, _: Option<&T>) {}
    fn dimension(
        &mut self,
        _: &'static str,
        dimension: Dimension,
        value: Option<&str>,
        version: &str,
    ) {
        if let Some(name) = value {
            if self.known.id(dimension, name, version).is_none() {
                self.out.push(DimensionValue {
                    dimension,
                    name: name.to_string(),
                    version: version.to_string(),
                });
            }
        }
    }
}

/// The names and types of a row type's columns, read from one of its rows.
pub fn describe<R: SqlRow>(row: &R) -> Vec<(&'static str, SqlType)> {
    Columns::of([(&Origin::NONE, row)], &NoIds)
        .into_columns()
        .into_iter()
        .map(|c| (c.name, c.sql_type))
        .collect()
}
