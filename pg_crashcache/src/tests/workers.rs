//! The digest workers end to end: real SDK captures go in through `crashcache.ingest` on an
//! autocommit connection, and the test polls (bounded) until the workers have digested them.

use std::io::Write;
use std::time::{Duration, Instant};

use postgres::Client;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crashcache-core/tests/fixtures"
);
const DIGEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to the test cluster, booting it (with the workers preloaded) on first use.
fn connect() -> Client {
    pgrx_tests::run_test(
        "create_project_returns_key_and_dsn",
        None,
        crate::pg_test::postgresql_conf_options(),
    )
    .expect("test cluster starts");
    pgrx_tests::client()
        .expect("connects to the test cluster")
        .0
}

fn new_project(client: &mut Client, name: &str) -> (i32, String) {
    let row = client
        .query_one(
            "SELECT id, key FROM crashcache.create_project($1)",
            &[&name],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

struct Answer {
    status: i32,
    outcome: String,
    event_id: Option<String>,
}

fn ingest(
    client: &mut Client,
    project: i32,
    key: &str,
    body: &[u8],
    encoding: Option<&str>,
    kind: &str,
) -> Answer {
    let row = client
        .query_one(
            "SELECT status, outcome, event_id FROM crashcache.ingest($1, $2, $3, $4, $5)",
            &[&project, &key, &body, &encoding, &kind],
        )
        .unwrap();
    Answer {
        status: row.get(0),
        outcome: row.get(1),
        event_id: row.get(2),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Waits until none of the project's payloads is queued.
fn wait_digested(client: &mut Client, project: i32) {
    let start = Instant::now();
    loop {
        let queued: i64 = client
            .query_one(
                "SELECT count(*) FROM crashcache.queue q JOIN crashcache.archive a ON a.id = q.archive_id WHERE a.project_id = $1",
                &[&project],
            )
            .unwrap()
            .get(0);
        if queued == 0 {
            return;
        }
        assert!(
            start.elapsed() < DIGEST_TIMEOUT,
            "{queued} payloads still queued after {DIGEST_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Rows of a `crashcache` table that belong to the project.
fn project_rows(client: &mut Client, table: &str, project: i32) -> i64 {
    let sql = format!("SELECT count(*) FROM crashcache.{table} WHERE project_id = $1");
    count(client, &sql, project)
}

fn count(client: &mut Client, sql: &str, project: i32) -> i64 {
    client
        .query_one(sql, &[&project])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

#[test]
fn python_captures_become_events_issues_and_the_rest() {
    let mut client = connect();
    let (project, key) = new_project(&mut client, "python captures");
    for name in [
        "event",
        "attachment",
        "transaction",
        "session",
        "sessions",
        "check_in",
        "client_report",
        "log",
    ] {
        let body = gzip(&fixture(&format!("python/{name}.envelope.txt")));
        let answer = ingest(&mut client, project, &key, &body, Some("gzip"), "envelope");
        assert_eq!(
            (answer.status, answer.outcome.as_str()),
            (200, "accepted"),
            "{name}"
        );
    }
    // The four error events of the capture run, sent the legacy way (one JSON event each);
    // the exception case is the same event as event.envelope.txt and must not count twice.
    for case in ["exception", "message", "user_event", "attachment"] {
        let body = fixture(&format!("python/event.case-{case}.payload.json"));
        let answer = ingest(&mut client, project, &key, &body, None, "store");
        assert_eq!(answer.status, 200, "{case}");
        assert_eq!(answer.event_id.map(|id| id.len()), Some(32));
    }
    wait_digested(&mut client, project);

    assert_eq!(project_rows(&mut client, "queue_error", project), 0);
    let rows = client
        .query(
            "SELECT e.tags->>'harness_case', e.release, e.environment, e.runtime, e.sdk, e.level::text, i.title, i.event_count
             FROM crashcache.events e JOIN crashcache.issue i ON i.id = e.issue_id
             WHERE e.project_id = $1 ORDER BY 1",
            &[&project],
        )
        .unwrap();
    let cases: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(cases, ["attachment", "exception", "message", "user_event"]);
    for row in &rows {
        assert_eq!(
            row.get::<_, String>(1),
            "sdkharness-python@1.0.0+capture-python-1"
        );
        assert_eq!(row.get::<_, String>(2), "harness");
        assert_eq!(row.get::<_, String>(3), "CPython 3.11.7");
        assert_eq!(row.get::<_, String>(4), "sentry.python 2.75.0");
        assert_eq!(row.get::<_, i64>(7), 1, "one event per issue");
    }
    assert_eq!(
        rows[1].get::<_, String>(6),
        "ValueError: invalid literal for int() with base 10: 'not-a-number'"
    );
    assert_eq!(rows[2].get::<_, String>(5), "warning");
    assert_eq!(
        count(
            &mut client,
            "SELECT count(DISTINCT issue_id) FROM crashcache.event WHERE project_id = $1",
            project
        ),
        4
    );

    let user = client
        .query_one(
            "SELECT e.user_key, e.tags->>'color', e.user_data->>'email', i.user_count
             FROM crashcache.event e JOIN crashcache.issue i ON i.id = e.issue_id
             WHERE e.project_id = $1 AND e.tags->>'harness_case' = 'user_event'",
            &[&project],
        )
        .unwrap();
    assert_eq!(user.get::<_, String>(0), "harness-capture-python-1");
    assert_eq!(user.get::<_, String>(1), "blue");
    assert_eq!(user.get::<_, String>(2), "harness@example.com");
    assert_eq!(user.get::<_, i64>(3), 1);

    let tx = client
        .query_one("SELECT transaction, op, span_count, duration_ms > 0 FROM crashcache.transactions WHERE project_id = $1", &[&project])
        .unwrap();
    assert_eq!(
        tx.get::<_, String>(0),
        "harness-transaction capture-python-1"
    );
    assert_eq!(tx.get::<_, String>(1), "harness.run");
    assert_eq!(tx.get::<_, i32>(2), 2);
    assert!(tx.get::<_, bool>(3));
    assert_eq!(project_rows(&mut client, "span", project), 2);

    let session = client
        .query_one(
            "SELECT status, errors, did FROM crashcache.session WHERE project_id = $1",
            &[&project],
        )
        .unwrap();
    assert_eq!(session.get::<_, String>(0), "exited");
    assert_eq!(session.get::<_, i64>(1), 2);
    assert_eq!(session.get::<_, String>(2), "harness-capture-python-1");
    let health = client
        .query_one("SELECT sessions::bigint, crashed::bigint FROM crashcache.release_health WHERE project_id = $1 AND release = 'probe-request-sessions@1'", &[&project])
        .unwrap();
    assert_eq!((health.get::<_, i64>(0), health.get::<_, i64>(1)), (4, 1));

    let monitor = client
        .query_one(
            "SELECT slug, last_status FROM crashcache.monitors WHERE project_id = $1",
            &[&project],
        )
        .unwrap();
    assert_eq!(monitor.get::<_, String>(0), "harness-capture-python-1");
    assert_eq!(monitor.get::<_, String>(1), "ok");
    assert_eq!(count(&mut client, "SELECT count(*) FROM crashcache.log WHERE project_id = $1 AND body = 'harness log capture-python-1'", project), 1);
    assert_eq!(count(&mut client, "SELECT sum(quantity)::bigint FROM crashcache.client_outcome WHERE project_id = $1 AND category = 'attachment'", project), 44);
    assert_eq!(count(&mut client, "SELECT count(*) FROM crashcache.attachment WHERE project_id = $1 AND filename LIKE 'harness-%.txt'", project), 1);
    assert_eq!(count(&mut client, "SELECT count(*) FROM crashcache.dim_runtime WHERE name = 'CPython' AND version = '3.11.7' AND $1 > 0", project), 1);

    // The full event reads back from the archive.
    let breadcrumbs: i32 = client
        .query_one(
            "SELECT jsonb_array_length(crashcache.event_json($1, '241ef582-432a-485b-976e-2d63b712cdd3')->'breadcrumbs'->'values')",
            &[&project],
        )
        .unwrap()
        .get(0);
    assert!(breadcrumbs >= 1);
}

/// An error event raised in `function` at `line`, with a message that carries a number.
fn error_event(event_id: &str, function: &str, line: u32, value: &str, user: &str) -> Vec<u8> {
    serde_json::json!({
        "event_id": event_id,
        "timestamp": 1795331640.5,
        "platform": "python",
        "level": "error",
        "user": {"id": user},
        "exception": {"values": [{
            "type": "KeyError",
            "value": value,
            "stacktrace": {"frames": [
                {"module": "django.core", "function": "dispatch", "lineno": 10, "in_app": false},
                {"module": "shop.views", "function": "checkout", "lineno": line, "in_app": true},
                {"module": "shop.cart", "function": function, "lineno": line + 7, "in_app": true}
            ]}
        }]}
    })
    .to_string()
    .into_bytes()
}

#[test]
fn same_bug_makes_one_issue_and_different_bugs_two() {
    let mut client = connect();
    let (project, key) = new_project(&mut client, "grouping");
    let events = [
        error_event(
            "11111111111111111111111111111111",
            "total",
            40,
            "item 1234 missing",
            "alice",
        ),
        // The same bug after the code moved and with another item: same issue.
        error_event(
            "22222222222222222222222222222222",
            "total",
            73,
            "item 98 missing",
            "bob",
        ),
        error_event(
            "33333333333333333333333333333333",
            "total",
            12,
            "item 5 missing",
            "alice",
        ),
        // Another function: another bug.
        error_event(
            "44444444444444444444444444444444",
            "discount",
            40,
            "item 1234 missing",
            "alice",
        ),
    ];
    for body in &events {
        assert_eq!(
            ingest(&mut client, project, &key, body, None, "store").status,
            200
        );
    }
    wait_digested(&mut client, project);
    let issues = client
        .query("SELECT event_count, user_count, culprit FROM crashcache.issue WHERE project_id = $1 ORDER BY event_count DESC", &[&project])
        .unwrap();
    let counts: Vec<(i64, i64)> = issues.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(counts, [(3, 2), (1, 1)]);
}

#[test]
fn garbage_goes_to_queue_error_and_keeps_its_archive() {
    let mut client = connect();
    let (project, key) = new_project(&mut client, "garbage");
    // Framed correctly, so ingest takes it; its event is not JSON, so digest cannot.
    let garbage = b"{\"event_id\":\"55555555555555555555555555555555\"}\n{\"type\":\"event\"}\nthis is not json\n";
    let answer = ingest(&mut client, project, &key, garbage, None, "envelope");
    assert_eq!(
        (answer.status, answer.event_id.as_deref()),
        (200, Some("55555555555555555555555555555555"))
    );
    let good = error_event(
        "66666666666666666666666666666666",
        "total",
        1,
        "fine",
        "carol",
    );
    assert_eq!(
        ingest(&mut client, project, &key, &good, None, "store").status,
        200
    );
    wait_digested(&mut client, project);

    let reason: String = client
        .query_one(
            "SELECT reason FROM crashcache.queue_error WHERE project_id = $1",
            &[&project],
        )
        .unwrap()
        .get(0);
    assert!(reason.contains("not valid JSON"), "{reason}");
    assert_eq!(project_rows(&mut client, "archive", project), 2);
    assert_eq!(project_rows(&mut client, "event", project), 1);
}

#[test]
fn identical_payload_is_stored_and_digested_once() {
    let mut client = connect();
    let (project, key) = new_project(&mut client, "twice");
    let body = gzip(&fixture("python/event.envelope.txt"));
    assert_eq!(
        ingest(&mut client, project, &key, &body, Some("gzip"), "envelope").outcome,
        "accepted"
    );
    wait_digested(&mut client, project);
    // Sent again, plain this time: the same payload, so the same archive.
    let again = ingest(
        &mut client,
        project,
        &key,
        &fixture("python/event.envelope.txt"),
        None,
        "envelope",
    );
    assert_eq!((again.status, again.outcome.as_str()), (200, "duplicate"));
    assert_eq!(
        again.event_id.as_deref(),
        Some("f86061c800e640538b67067ad209a674")
    );
    wait_digested(&mut client, project);
    assert_eq!(project_rows(&mut client, "archive", project), 1);
    assert_eq!(
        count(
            &mut client,
            "SELECT event_count FROM crashcache.issue WHERE project_id = $1",
            project
        ),
        1
    );
}

#[test]
fn ruminate_rebuilds_and_keeps_triage() {
    let mut client = connect();
    let (project, key) = new_project(&mut client, "ruminate");
    for (i, body) in [
        error_event("77777777777777777777777777777777", "total", 1, "a", "dave"),
        error_event("88888888888888888888888888888888", "total", 2, "b", "erin"),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            ingest(&mut client, project, &key, body, None, "store").status,
            200,
            "{i}"
        );
    }
    for name in ["session", "transaction"] {
        let body = fixture(&format!("python/{name}.envelope.txt"));
        assert_eq!(
            ingest(&mut client, project, &key, &body, None, "envelope").status,
            200
        );
    }
    wait_digested(&mut client, project);
    let issue: i64 = client
        .query_one(
            "SELECT id FROM crashcache.issue WHERE project_id = $1",
            &[&project],
        )
        .unwrap()
        .get(0);
    client
        .execute(
            "SELECT crashcache.set_issue_status($1, 'resolved')",
            &[&issue],
        )
        .unwrap();

    let enqueued: i64 = client
        .query_one("SELECT crashcache.ruminate($1)", &[&project])
        .unwrap()
        .get(0);
    assert_eq!(enqueued, 4);
    wait_digested(&mut client, project);
    let row = client
        .query_one("SELECT id, status::text, event_count, user_count FROM crashcache.issue WHERE project_id = $1", &[&project])
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, String>(1)),
        (issue, "resolved".to_string())
    );
    assert_eq!((row.get::<_, i64>(2), row.get::<_, i64>(3)), (2, 2));
    assert_eq!(project_rows(&mut client, "session", project), 1);
    assert_eq!(project_rows(&mut client, "transaction", project), 1);

    // A new event after the issue was resolved reopens it.
    let later = error_event("99999999999999999999999999999999", "total", 3, "c", "dave");
    assert_eq!(
        ingest(&mut client, project, &key, &later, None, "store").status,
        200
    );
    wait_digested(&mut client, project);
    let status: String = client
        .query_one(
            "SELECT status::text FROM crashcache.issue WHERE id = $1",
            &[&issue],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "unresolved");
}

#[test]
fn an_event_is_queryable_soon_after_ingest() {
    let mut client = connect();
    let (project, key) = new_project(&mut client, "latency");
    // Let the workers settle (first start waits for the database and the extension).
    let warmup = error_event("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0", "warm", 1, "up", "x");
    ingest(&mut client, project, &key, &warmup, None, "store");
    wait_digested(&mut client, project);

    let mut latencies = Vec::new();
    for i in 1..=20 {
        let body = error_event(
            &format!("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa{i:02}"),
            "lat",
            i,
            "x",
            "y",
        );
        let start = Instant::now();
        ingest(&mut client, project, &key, &body, None, "store");
        let id = format!("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa{i:02}");
        loop {
            let found = client
                .query_one(
                    "SELECT EXISTS (SELECT FROM crashcache.event WHERE project_id = $1 AND event_id = $2::text::uuid)",
                    &[&project, &id],
                )
                .unwrap()
                .get::<_, bool>(0);
            if found {
                break;
            }
            assert!(start.elapsed() < DIGEST_TIMEOUT);
            std::thread::sleep(Duration::from_millis(1));
        }
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let max = latencies[latencies.len() - 1];
    eprintln!("ingest to queryable on an idle server: p50 {p50:?}, max {max:?}");
    // Woken on commit, not by the idle timer (5 s).
    assert!(max < Duration::from_secs(1), "max {max:?}");
}

#[test]
fn gzip_bomb_costs_only_an_error() {
    let mut client = connect();
    let (project, key) = new_project(&mut client, "bomb");
    // 64 MiB of zeros in about 64 KiB of gzip, against a 1 MiB decompression limit.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 100 << 10);
    let max: i32 = 1 << 20;
    let row = client
        .query_one(
            "SELECT status, outcome, detail FROM crashcache.ingest($1, $2, $3, 'gzip', 'envelope', NULL, $4)",
            &[&project, &key, &bomb, &max],
        )
        .unwrap();
    assert_eq!(
        (row.get::<_, i32>(0), row.get::<_, String>(1)),
        (413, "too_large".to_string())
    );
    assert!(row.get::<_, String>(2).contains("1048576"));
    assert_eq!(project_rows(&mut client, "archive", project), 0);
}

#[test]
fn auto_ip_addresses_become_the_senders_address() {
    let mut client = connect();
    let (project, key) = new_project(&mut client, "auto ip");
    let body = br#"{}
{"type":"session"}
{"sid":"0123456789abcdef0123456789abcdef","status":"exited","started":"2026-11-22T07:14:00Z","attrs":{"release":"r@1","ip_address":"{{auto}}"}}
{"type":"event"}
{"event_id":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","message":"hello","user":{"ip_address":"{{auto}}"}}
"#;
    let row = client
        .query_one(
            "SELECT status FROM crashcache.ingest($1, $2, $3, NULL, 'envelope', NULL, NULL, '192.0.2.7')",
            &[&project, &key, &body.as_slice()],
        )
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 200);
    wait_digested(&mut client, project);
    let ip: String = client
        .query_one(
            "SELECT ip_address FROM crashcache.session WHERE project_id = $1",
            &[&project],
        )
        .unwrap()
        .get(0);
    assert_eq!(ip, "192.0.2.7");
    let user = client
        .query_one(
            "SELECT user_data->>'ip_address', user_key FROM crashcache.event WHERE project_id = $1",
            &[&project],
        )
        .unwrap();
    assert_eq!(
        (user.get::<_, String>(0), user.get::<_, String>(1)),
        ("192.0.2.7".into(), "192.0.2.7".into())
    );
}
