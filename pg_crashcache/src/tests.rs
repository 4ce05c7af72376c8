//! Tests against a real PostgreSQL: `#[pg_test]`s of the SQL functions (each runs inside a
//! transaction that is rolled back) and, in [`workers`], plain `#[test]`s that ingest real SDK
//! captures and wait for the digest workers of the running test cluster.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn one<T: pgrx::datum::FromDatum + pgrx::datum::IntoDatum>(sql: &str) -> T {
        Spi::get_one::<T>(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: NULL"))
    }

    fn project(key: &str) -> i32 {
        one(&format!(
            "SELECT id FROM crashcache.create_project('test', '{key}')"
        ))
    }

    /// Status and outcome of one ingest call.
    fn ingest(sql_args: &str) -> (i32, String) {
        let sql = format!("SELECT status, outcome FROM crashcache.ingest({sql_args})");
        match Spi::get_two::<i32, String>(&sql) {
            Ok((Some(status), Some(outcome))) => (status, outcome),
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[pg_test]
    fn create_project_returns_key_and_dsn() {
        let dsn = one::<String>("SELECT dsn FROM crashcache.create_project('demo', 'abc123')");
        assert!(dsn.starts_with("http://abc123@127.0.0.1:3000/"), "{dsn}");
        let random = one::<String>("SELECT key FROM crashcache.create_project('demo2')");
        assert_eq!(random.len(), 32);
        assert!(random.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM crashcache.list_projects() WHERE name LIKE 'demo%'"),
            2
        );
    }

    #[pg_test]
    fn delete_project_removes_its_data() {
        let id = project("deleteme");
        let (status, _) = ingest(&format!(
            "{id}, 'deleteme', convert_to('{{\"message\":\"x\"}}', 'UTF8'), NULL, 'store'"
        ));
        assert_eq!(status, 200);
        Spi::run(&format!("INSERT INTO crashcache.queue_error (archive_id, project_id, reason) SELECT id, project_id, 'test' FROM crashcache.archive WHERE project_id = {id} ON CONFLICT DO NOTHING")).unwrap();
        assert!(one::<bool>(&format!(
            "SELECT crashcache.delete_project({id})"
        )));
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM crashcache.archive WHERE project_id = {id}"
            )),
            0
        );
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM crashcache.queue_error WHERE project_id = {id}"
            )),
            0
        );
        assert!(!one::<bool>(&format!(
            "SELECT crashcache.delete_project({id})"
        )));
    }

    #[pg_test]
    fn ingest_checks_the_key() {
        let id = project("goodkey");
        let other = project("otherkey");
        let body = "convert_to('{}', 'UTF8')";
        assert_eq!(
            ingest(&format!("{id}, NULL, {body}")),
            (401, "missing_key".into())
        );
        assert_eq!(
            ingest(&format!("{id}, 'nosuchkey', {body}")),
            (403, "unknown_key".into())
        );
        assert_eq!(
            ingest(&format!("{id}, 'otherkey', {body}")),
            (403, "wrong_project".into())
        );
        Spi::run("SELECT crashcache.revoke_project_key('goodkey')").unwrap();
        assert_eq!(
            ingest(&format!("{id}, 'goodkey', {body}")),
            (403, "unknown_key".into())
        );
        // The legacy /api/store/ sends no project id: the key decides.
        let (status, _) = ingest(&format!("NULL, 'otherkey', {body}"));
        assert_eq!(status, 200);
        assert_eq!(
            one::<i32>(
                "SELECT (crashcache.ingest(NULL, 'otherkey', convert_to('{}', 'UTF8'))).project_id"
            ),
            other
        );
    }

    /// The first ingest of a session, with no key and nothing decoded yet (a regression: PL/pgSQL
    /// read the fields of a record not yet assigned).
    #[pg_test]
    fn store_request_without_a_key_is_401() {
        let id = project("neverused");
        assert_eq!(
            ingest(&format!(
                "{id}, NULL, convert_to('{{}}', 'UTF8'), NULL, 'store'"
            )),
            (401, "missing_key".into())
        );
    }

    #[pg_test]
    fn ingest_takes_the_key_from_the_envelope_dsn() {
        let id = project("tunnelkey");
        let body = format!(
            r#"convert_to(E'{{"dsn":"http://tunnelkey@127.0.0.1:3000/{id}"}}\n{{"type":"event"}}\n{{"message":"x"}}\n', 'UTF8')"#
        );
        assert_eq!(
            ingest(&format!("{id}, NULL, {body}")),
            (200, "accepted".into())
        );
        let no_dsn = r#"convert_to(E'{}\n{"type":"event"}\n{"message":"y"}\n', 'UTF8')"#;
        assert_eq!(
            ingest(&format!("{id}, NULL, {no_dsn}")),
            (401, "missing_key".into())
        );
        assert_eq!(
            ingest(&format!("{id}, NULL, {no_dsn}, NULL, 'store'")),
            (401, "missing_key".into())
        );
    }

    #[pg_test]
    fn archives_export_and_import_round_trip() {
        let id = project("exportme");
        for n in 0..3 {
            let args = format!(
                "{id}, 'exportme', convert_to('{{\"message\":\"m{n}\"}}', 'UTF8'), NULL, 'store'"
            );
            assert_eq!(ingest(&args).0, 200);
        }
        Spi::run(&format!(
            "CREATE TEMP TABLE exported AS SELECT doc FROM crashcache.export_archives({id}) doc"
        ))
        .unwrap();
        Spi::run(&format!("DELETE FROM crashcache.archive WHERE project_id = {id} AND raw_size < 100 AND body IS NOT NULL AND id = (SELECT min(id) FROM crashcache.archive WHERE project_id = {id})")).unwrap();
        let added = one::<i64>(
            "SELECT count(*) FILTER (WHERE crashcache.import_archive(doc)) FROM exported",
        );
        assert_eq!(added, 1, "only the deleted archive is imported again");
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM crashcache.archive WHERE project_id = {id}"
            )),
            3
        );
        assert_eq!(one::<i64>(&format!("SELECT count(*) FROM crashcache.queue q JOIN crashcache.archive a ON a.id = q.archive_id WHERE a.project_id = {id}")), 3);
    }

    #[pg_test(error = "archive 00 does not match its content hash")]
    fn import_refuses_a_body_that_does_not_match_its_hash() {
        Spi::run(r#"SELECT crashcache.import_archive('{"project_id":1,"content_hash":"00","kind":"store","raw_size":2,"codec":0,"body":"e30="}')"#).unwrap();
    }

    #[pg_test]
    fn many_requests_are_ingested_in_one_call_in_order() {
        let id = project("batchkey");
        let sql = format!(
            "SELECT string_agg(status || ':' || outcome, ',') FROM crashcache.ingest_batch(
                ARRAY[{id}, {id}, {id}, NULL]::int[],
                ARRAY['batchkey', 'batchkey', 'nosuchkey', 'batchkey'],
                ARRAY[convert_to('{{\"message\":\"a\"}}', 'UTF8'), convert_to('{{\"message\":\"a\"}}', 'UTF8'),
                      convert_to('{{}}', 'UTF8'), convert_to('{{\"message\":\"b\"}}', 'UTF8')],
                ARRAY[NULL, NULL, NULL, NULL]::text[],
                ARRAY['store', 'store', 'store', 'store'],
                ARRAY[NULL, NULL, NULL, '192.0.2.1']::inet[])"
        );
        assert_eq!(
            one::<String>(&sql),
            "200:accepted,200:duplicate,403:unknown_key,200:accepted"
        );
    }

    #[pg_test]
    fn a_trained_dictionary_packs_new_payloads() {
        let id = project("dictkey");
        let event = |n: &str| {
            format!(
                "convert_to('{{\"message\":\"checkout failed for user ' || {n} || '\",\"level\":\"error\",\"platform\":\"python\",\"tags\":{{\"release\":\"shop@1.2\"}}}}', 'UTF8')"
            )
        };
        Spi::run(&format!(
            "SELECT crashcache.ingest({id}, 'dictkey', {}, NULL, 'store') FROM generate_series(1, 150) g",
            event("g")
        ))
        .unwrap();
        let dictionary: i32 = one("SELECT crashcache.train_dictionary(200, 8192)");
        assert!(dictionary >= 32768, "{dictionary}");
        assert_eq!(
            ingest(&format!(
                "{id}, 'dictkey', {}, NULL, 'store'",
                event("9999")
            )),
            (200, "accepted".into())
        );
        let latest =
            format!("(SELECT max(a.id) FROM crashcache.archive a WHERE a.project_id = {id})");
        assert_eq!(
            one::<i16>(&format!(
                "SELECT codec FROM crashcache.archive WHERE id = {latest}"
            )),
            2
        );
        assert!(one::<String>(&format!(
            "SELECT convert_from(crashcache.archive_payload({latest}), 'UTF8')"
        ))
        .contains("user 9999"));
        // Exported as sent, since another server has no such dictionary.
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM crashcache.export_archives({id}) d WHERE (d->>'codec')::int = 2"
            )),
            0
        );
    }

    #[pg_test]
    fn ingest_maps_bad_bodies_to_statuses() {
        let id = project("badbodies");
        let cases = [
            ("'\\x1f8b0000'::bytea, 'gzip'", 400, "undecodable"),
            (
                "convert_to('{}', 'UTF8'), 'compress'",
                415,
                "unsupported_encoding",
            ),
            (
                "convert_to(E'{}\\n{\"type\":\"event\",\"length\":50}\\n{}', 'UTF8'), NULL",
                400,
                "malformed",
            ),
            (
                "convert_to('not json', 'UTF8'), NULL, 'store'",
                400,
                "malformed",
            ),
            (
                "convert_to(repeat('x', 5000), 'UTF8'), NULL, 'envelope', 4096",
                413,
                "too_large",
            ),
        ];
        for (args, status, outcome) in cases {
            assert_eq!(
                ingest(&format!("{id}, 'badbodies', {args}")),
                (status, outcome.to_string()),
                "{args}"
            );
        }
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM crashcache.archive WHERE project_id = {id}"
            )),
            0
        );
    }

    #[pg_test]
    fn identical_payloads_are_stored_once() {
        let id = project("dedupe");
        let args = format!("{id}, 'dedupe', convert_to('{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"message\":\"x\"}}', 'UTF8'), NULL, 'store'");
        assert_eq!(ingest(&args), (200, "accepted".into()));
        assert_eq!(ingest(&args), (200, "duplicate".into()));
        assert_eq!(
            one::<String>(&format!("SELECT (crashcache.ingest({args})).event_id")),
            "9ec79c33ec9942ab8353589fcb2e04dc"
        );
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM crashcache.archive WHERE project_id = {id}"
            )),
            1
        );
        assert_eq!(one::<i64>(&format!("SELECT count(*) FROM crashcache.queue q JOIN crashcache.archive a ON a.id = q.archive_id WHERE a.project_id = {id}")), 1);
    }

    #[pg_test]
    fn store_event_without_id_gets_a_stable_one() {
        let id = project("noid");
        let args =
            format!("{id}, 'noid', convert_to('{{\"message\":\"raw\"}}', 'UTF8'), NULL, 'store'");
        let first = one::<String>(&format!("SELECT (crashcache.ingest({args})).event_id"));
        let again = one::<String>(&format!("SELECT (crashcache.ingest({args})).event_id"));
        assert_eq!(first.len(), 32);
        assert_eq!(first, again);
    }

    #[pg_test]
    fn fingerprint_in_sql_matches_the_core() {
        let event = r#"{"exception":{"values":[{"type":"ValueError","value":"bad 42","stacktrace":{"frames":[{"module":"app","function":"run","lineno":3,"in_app":true}]}}]}}"#;
        let sql_hash = one::<String>(&format!("SELECT crashcache.fingerprint('{event}'::jsonb)"));
        let rust_hash =
            crashcache_core::fingerprint::fingerprint(&serde_json::from_str(event).unwrap()).hash;
        assert_eq!(sql_hash, rust_hash);
        let method = one::<String>(&format!(
            "SELECT crashcache.grouping('{event}'::jsonb)->>'method'"
        ));
        assert_eq!(method, "stacktrace");
        let moved = event.replace("\"lineno\":3", "\"lineno\":99");
        assert_eq!(
            one::<String>(&format!("SELECT crashcache.fingerprint('{moved}'::jsonb)")),
            sql_hash
        );
    }

    #[pg_test]
    fn normalise_and_digest_payload_explain_an_event() {
        let facts = one::<pgrx::JsonB>(r#"SELECT crashcache.normalise_event('{"level":"warn","release":"r1","tags":[["a","b"]],"user":{"email":"x@y.z"}}')"#).0;
        assert_eq!(facts["level"], "warning");
        assert_eq!(facts["release"], "r1");
        assert_eq!(facts["tags"]["a"], "b");
        assert_eq!(facts["user_key"], "x@y.z");
        let rows = one::<pgrx::JsonB>(r#"SELECT crashcache.digest_payload(convert_to(E'{}\n{"type":"session"}\n{"sid":"a","status":"ok","attrs":{"release":"r1"}}\n', 'UTF8'))"#).0;
        assert_eq!(rows["sessions"][0]["release"], "r1");
    }

    /// A worker retrying payloads one at a time asks for the oldest queued one until there is
    /// none: an empty queue is an answer, not an error (it once was, and the worker stayed in
    /// that mode, logging an error every second).
    #[pg_test]
    fn the_oldest_queued_payload_of_an_empty_queue_is_none() {
        use crate::digest::batch::oldest_queued;
        Spi::run("DELETE FROM crashcache.queue").unwrap();
        assert_eq!(oldest_queued().unwrap(), None);
        project("0123456789abcdef0123456789abcdef");
        let (status, _) = ingest(
            "NULL, '0123456789abcdef0123456789abcdef', convert_to('{\"message\":\"q\"}', 'UTF8'), NULL, 'store'",
        );
        assert_eq!(status, 200);
        let queued: i64 = one("SELECT archive_id FROM crashcache.queue");
        assert_eq!(oldest_queued().unwrap(), Some(queued));
    }
}

#[cfg(any(test, feature = "pg_test"))]
mod contract;

#[cfg(test)]
mod workers;
