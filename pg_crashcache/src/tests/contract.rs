//! The typed contract between the digest's Rust rows and SQL: every row type's columns are
//! its composite type's, name for name and type for type, and a sample that fills every field
//! comes out of the store functions with every destination column set.

// pgrx-tests call each test as tests.<name>: the schema must be called tests.
#[pgrx::pg_schema]
mod tests {
    use crashcache_core::digest::columns::{self, Origin, SqlRow};
    use crashcache_core::digest::sample::full_digest;
    use crashcache_core::digest::{self, TableVisitor};
    use pgrx::prelude::*;

    use crate::digest::dimensions::{self, BatchIds, Ids};
    use crate::digest::session::Statements;
    use crate::digest::store::Store;

    /// Compares each visited row type with its composite type.
    struct CompareTypes(Vec<String>);

    impl<'b> TableVisitor<'b> for CompareTypes {
        fn visit<R: SqlRow>(&mut self, _: &'static str, rows: Vec<(&'b Origin<'b>, &'b R)>) {
            let Some((_, row)) = rows.first() else {
                self.0
                    .push(format!("{}: the sample has no row", R::SQL_TYPE));
                return;
            };
            let rust: Vec<(String, String)> = columns::describe(*row)
                .into_iter()
                .map(|(name, ty)| (name.to_string(), ty.name().to_string()))
                .collect();
            let sql: Vec<(String, String)> = Spi::connect(|client| {
                client
                    .select(
                        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
                         FROM pg_attribute a
                         WHERE a.attrelid = (SELECT typrelid FROM pg_type WHERE oid = $1::regtype)
                           AND a.attnum > 0 AND NOT a.attisdropped
                         ORDER BY a.attnum",
                        None,
                        &[R::SQL_TYPE.into()],
                    )
                    .unwrap()
                    .map(|r| {
                        (
                            r.get::<String>(1).unwrap().unwrap(),
                            r.get::<String>(2).unwrap().unwrap(),
                        )
                    })
                    .collect()
            });
            if rust != sql {
                self.0
                    .push(format!("{}:\n  Rust {rust:?}\n  SQL  {sql:?}", R::SQL_TYPE));
            }
        }
    }

    fn sample_batch(project_id: i32, archive_id: i64) -> Vec<(Origin<'static>, digest::Digest)> {
        let origin = Origin {
            archive_id,
            project_id,
            received_at: digest::sample::SAMPLE_TIME_US + 1_000_000,
            client_ip: Some("192.0.2.7"),
        };
        vec![(origin, full_digest())]
    }

    #[pg_test]
    fn every_row_type_is_its_composite_type() {
        let batch = sample_batch(0, 0);
        let mut compare = CompareTypes(Vec::new());
        digest::visit_tables(&batch, &mut compare);
        assert!(compare.0.is_empty(), "{}", compare.0.join("\n"));
    }

    #[pg_test]
    fn a_full_sample_fills_every_destination_column() {
        let project_id =
            Spi::get_one::<i32>("SELECT id FROM crashcache.create_project('contract')")
                .unwrap()
                .unwrap();
        let archive_id = 900_000_001_i64;
        let batch = sample_batch(project_id, archive_id);
        let known = Ids::default();
        Spi::connect_mut(|client| {
            let unknown = digest::unknown_dimension_values(&batch, &known);
            let mut statements = Statements::default();
            let learned = dimensions::learn(client, &mut statements, unknown).unwrap();
            let ids = BatchIds {
                known: &known,
                learned: &learned,
            };
            let mut store = Store::new(client, &mut statements, &ids);
            digest::visit_tables(&batch, &mut store);
            store.finish().unwrap();
        });
        let empty: Vec<String> = Spi::connect(|client| {
            let tables: Vec<String> = client
                .select(
                    "SELECT t::text FROM crashcache._digested_tables() t",
                    None,
                    &[],
                )
                .unwrap()
                .map(|r| r.get::<String>(1).unwrap().unwrap())
                .collect();
            let mut empty = Vec::new();
            for table in tables {
                let nulls = client
                    .select(
                        &format!(
                            "SELECT count(*) OVER () AS rows, j.key::text
                             FROM {table} t LEFT JOIN LATERAL jsonb_each(to_jsonb(t)) j ON j.value = 'null'
                             WHERE t.archive_id = $1"
                        ),
                        None,
                        &[archive_id.into()],
                    )
                    .unwrap();
                if nulls.is_empty() {
                    empty.push(format!("{table}: no row stored"));
                }
                for row in nulls {
                    if let Some(column) = row.get::<String>(2).unwrap() {
                        empty.push(format!("{table}.{column} is NULL"));
                    }
                }
            }
            empty
        });
        assert!(empty.is_empty(), "{}", empty.join("\n"));
        // The rules that need the arrival: the client's address for {{auto}}, event time kept.
        let (ip, key) = Spi::get_two::<String, String>(&format!(
            "SELECT user_data->>'ip_address', user_key FROM crashcache.event WHERE archive_id = {archive_id}"
        ))
        .unwrap();
        assert_eq!(ip.as_deref(), Some("192.0.2.7"));
        // The sample's event names no user key: the address stands in, as the user asked.
        assert_eq!(key.as_deref(), Some("192.0.2.7"));
    }
}
