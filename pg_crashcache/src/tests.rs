//! `#[pg_test]`s of the SQL functions (each runs in a transaction that is rolled back) and
//! plain `#[test]`s of the digest workers against the running test cluster.

use pgrx::prelude::*;

#[pg_test]
fn create_project_prints_a_dsn() {
    let dsn = Spi::get_one::<String>("SELECT dsn FROM crashcache.create_project('demo', 'abc123')")
        .unwrap()
        .unwrap();
    assert!(dsn.starts_with("http://abc123@127.0.0.1:3000/"), "{dsn}");
}
