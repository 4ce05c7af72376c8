//! Tests of [`fingerprint`](super::fingerprint) as a whole: which events group together.

use serde_json::{json, Value};

use super::*;
use crate::test_fixtures::python_event;

fn frame(function: &str, lineno: u32, in_app: bool) -> Value {
    json!({"filename": "app/views.py", "module": "app.views", "function": function,
           "lineno": lineno, "colno": lineno * 3, "in_app": in_app})
}

fn exception_event(frames: Vec<Value>) -> Value {
    json!({"exception": {"values": [{"type": "KeyError", "value": "'user 42'",
           "stacktrace": {"frames": frames}}]}})
}

#[test]
fn hash_shape() {
    let fp = fingerprint(&json!({}));
    assert_eq!(fp.method, "fallback");
    assert_eq!(fp.hash.len(), 32);
    assert!(fp
        .hash
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    // The separator is unambiguous.
    assert_ne!(
        build("x", vec!["ab".into(), "c".into()]).hash,
        build("x", vec!["a".into(), "bc".into()]).hash
    );
}

#[test]
fn line_numbers_do_not_matter() {
    let a = exception_event(vec![frame("main", 10, true), frame("handle", 20, true)]);
    let b = exception_event(vec![frame("main", 11, true), frame("handle", 95, true)]);
    let (fa, fb) = (fingerprint(&a), fingerprint(&b));
    assert_eq!(fa.method, "stacktrace");
    assert_eq!(fa.hash, fb.hash);
    assert_eq!(
        fa.components,
        [
            "type:KeyError",
            "frame:app.views|main",
            "frame:app.views|handle"
        ]
    );
}

#[test]
fn different_function_splits() {
    let a = exception_event(vec![frame("main", 10, true), frame("handle", 20, true)]);
    let b = exception_event(vec![frame("main", 10, true), frame("render", 20, true)]);
    assert_ne!(fingerprint(&a).hash, fingerprint(&b).hash);
}

#[test]
fn library_frames_are_ignored() {
    let a = exception_event(vec![frame("main", 10, true), frame("handle", 20, true)]);
    let b = exception_event(vec![
        frame("bootstrap", 1, false),
        frame("main", 10, true),
        json!({"module": "django.core", "function": "dispatch", "in_app": false}),
        json!({"module": "lib", "function": "unknown_in_app"}),
        frame("handle", 20, true),
        frame("json_loads", 400, false),
    ]);
    assert_eq!(fingerprint(&a).hash, fingerprint(&b).hash);
}

#[test]
fn recursion_depth_does_not_matter() {
    let a = exception_event(vec![frame("walk", 1, true), frame("walk", 1, true)]);
    let b = exception_event(vec![frame("walk", 1, true); 50]);
    assert_eq!(fingerprint(&a).hash, fingerprint(&b).hash);
}

#[test]
fn chained_exceptions_all_count() {
    let chain = |inner: &str| {
        json!({"exception": {"values": [
            {"type": inner, "stacktrace": {"frames": [frame("connect", 5, true)]}},
            {"type": "DatabaseError", "stacktrace": {"frames": [frame("query", 9, true)]}}
        ]}})
    };
    let a = fingerprint(&chain("TimeoutError"));
    assert_eq!(
        a.components,
        [
            "type:TimeoutError",
            "frame:app.views|connect",
            "type:DatabaseError",
            "frame:app.views|query"
        ]
    );
    assert_ne!(a.hash, fingerprint(&chain("ConnectionRefused")).hash);
    // A bare array of exceptions is read the same way.
    let bare = json!({"exception": chain("TimeoutError")["exception"]["values"].clone()});
    assert_eq!(fingerprint(&bare).hash, a.hash);
}

#[test]
fn thread_stacks_when_the_exception_has_none() {
    let event = json!({
        "exception": {"values": [{"type": "SIGSEGV", "value": "Segfault at 0x0"}]},
        "threads": {"values": [
            {"id": 1, "stacktrace": {"frames": [frame("idle", 1, true)]}},
            {"id": 2, "crashed": true, "stacktrace": {"frames": [
                {"filename": "src/render.c", "function": "draw+0x1f", "in_app": true},
            ]}}
        ]}
    });
    let fp = fingerprint(&event);
    assert_eq!(fp.method, "stacktrace");
    assert_eq!(fp.components, ["type:SIGSEGV", "frame:src/render.c|draw"]);
}

#[test]
fn exception_without_in_app_frames() {
    let event = |addr: &str| {
        json!({"exception": {"values": [{"type": "ConnectionError",
            "value": format!("connect to {addr} failed after 3 tries"),
            "stacktrace": {"frames": [frame("urlopen", 3, false)]}}]}})
    };
    let a = fingerprint(&event("10.0.0.1:5432"));
    assert_eq!(a.method, "exception");
    assert_eq!(
        a.components,
        [
            "type:ConnectionError",
            "value:connect to <ip>:<int> failed after <int> tries"
        ]
    );
    assert_eq!(a.hash, fingerprint(&event("10.20.30.40:6543")).hash);
    assert_ne!(
        a.hash,
        fingerprint(&json!({"exception": {"values": [{"type": "OtherError",
            "value": "connect to 10.0.0.1:5432 failed after 3 tries"}]}}))
        .hash
    );
}

#[test]
fn synthetic_exception_groups_by_message() {
    // What @sentry/node's captureMessage sends with attachStacktrace.
    let node = |message: &str, function: &str| {
        json!({
            "message": message, "level": "info", "platform": "node",
            "timestamp": 1795331739.294,
            "exception": {"values": [{"value": message,
                "mechanism": {"type": "generic", "handled": true, "synthetic": true},
                "stacktrace": {"frames": [{"filename": "/app/send.js", "function": function,
                    "lineno": 12, "in_app": true}]}}]}
        })
    };
    let a = fingerprint(&node("harness message run-1", "main"));
    assert_eq!(a.method, "message");
    assert_eq!(a.components, ["message:harness message run-<int>"]);
    assert_eq!(
        a.hash,
        fingerprint(&node("harness message run-2", "other")).hash
    );
    assert_ne!(a.hash, fingerprint(&node("another message", "main")).hash);
}

#[test]
fn messages_differing_in_variables_group() {
    let m = |s: &str| fingerprint(&json!({"message": s}));
    assert_eq!(
        m("order 17 failed for 9ec79c33-ec99-42ab-8353-589fcb2e04dc").hash,
        m("order 4242 failed for 00000000-1111-2222-3333-444444444444").hash
    );
    assert_eq!(m("timeout after 30s").hash, m("timeout after 45s").hash);
    assert_ne!(m("timeout after 30s").hash, m("timeout after 30ms").hash);
    assert_eq!(m("x").method, "message");
}

#[test]
fn logentry_template_wins_over_formatted() {
    let event = |user: &str| {
        json!({"logentry": {"message": "login failed for %s", "params": [user],
               "formatted": format!("login failed for {user}")},
               "message": format!("login failed for {user}")})
    };
    let a = fingerprint(&event("alice"));
    assert_eq!(a.components, ["message:login failed for %s"]);
    assert_eq!(a.hash, fingerprint(&event("bob")).hash);
    let formatted_only = json!({"logentry": {"formatted": "login failed for alice"}});
    assert_eq!(
        fingerprint(&formatted_only).components,
        ["message:login failed for alice"]
    );
    let object_message = json!({"message": {"message": "disk %d%% full", "formatted": "x"}});
    assert_eq!(
        fingerprint(&object_message).components,
        ["message:disk %d%% full"]
    );
}

#[test]
fn custom_fingerprints() {
    let base = exception_event(vec![frame("main", 10, true)]);
    let default = fingerprint(&base);

    let mut only_default = base.clone();
    only_default["fingerprint"] = json!(["{{ default }}"]);
    assert_eq!(fingerprint(&only_default), default);
    only_default["fingerprint"] = json!(["{{DEFAULT}}"]);
    assert_eq!(fingerprint(&only_default), default);

    let mut extended = base.clone();
    extended["fingerprint"] = json!(["{{default}}", "tenant-a"]);
    let fp = fingerprint(&extended);
    assert_eq!(fp.method, "custom");
    let mut expected = default.components.clone();
    expected.push("tenant-a".into());
    assert_eq!(fp.components, expected);
    assert_ne!(fp.hash, default.hash);

    let mut replaced = base.clone();
    replaced["fingerprint"] = json!(["database-down", 42, true, null, {"x": 1}]);
    let fp = fingerprint(&replaced);
    assert_eq!(fp.method, "custom");
    assert_eq!(fp.components, ["database-down", "42", "true"]);
    let other = json!({"message": "unrelated", "fingerprint": ["database-down", 42, true]});
    assert_eq!(fingerprint(&other).hash, fp.hash);

    // An empty or malformed fingerprint is no fingerprint.
    for junk in [json!([]), json!("database-down"), json!([null, {}])] {
        let mut event = base.clone();
        event["fingerprint"] = junk;
        assert_eq!(fingerprint(&event), default);
    }
}

#[test]
fn fingerprint_variables() {
    let event = json!({
        "transaction": "/api/orders", "level": "WARN", "logger": "orders",
        "tags": [["region", "eu-1"]],
        "logentry": {"message": "tmpl %s", "formatted": "tmpl x"},
        "exception": {"values": [{"type": "ValueError", "value": "bad 7",
            "stacktrace": {"frames": [frame("outer", 1, true), frame("inner", 2, true),
                                      frame("lib", 3, false)]}}]},
        "fingerprint": ["{{ transaction }}", "{{error.type}}", "{{ Error.Value }}",
                        "{{ stack.function }}", "{{ stack.module }}", "{{ level }}",
                        "{{ logger }}", "{{ tags.region }}", "{{ tags.missing }}",
                        "{{ message }}", "{{ unknown }}", "{{tags.}}"]
    });
    assert_eq!(
        fingerprint(&event).components,
        [
            "/api/orders",
            "ValueError",
            "bad 7",
            "inner",
            "app.views",
            "warning",
            "orders",
            "eu-1",
            "<no-tag>",
            "tmpl x",
            "{{ unknown }}",
            "<no-tag>"
        ]
    );
    let empty = json!({"fingerprint": ["{{ transaction }}", "{{ error.type }}",
        "{{ error.value }}", "{{ stack.function }}", "{{ stack.module }}", "{{ level }}",
        "{{ logger }}", "{{ message }}"]});
    assert_eq!(
        fingerprint(&empty).components,
        [
            "<no-transaction>",
            "<no-type>",
            "<no-value>",
            "<no-function>",
            "<no-module>",
            "error",
            "<no-logger>",
            "<no-message>"
        ]
    );
}

#[test]
fn fallbacks() {
    let tx = fingerprint(&json!({"transaction": "GET /"}));
    assert_eq!(
        (tx.method, tx.components),
        ("fallback", vec!["transaction:GET /".into()])
    );
    let logger = fingerprint(&json!({"logger": "app", "level": "warn"}));
    assert_eq!(logger.components, ["logger:app", "level:warning"]);
    // A raw log-shipper event still groups by its message.
    let raw = json!({"@timestamp": "2026-11-22T07:15:22.455Z", "message": "disk 91% full",
                     "host": "h", "tags": ["harness_run:x"]});
    let fp = fingerprint(&raw);
    assert_eq!(
        (fp.method, fp.components),
        ("message", vec!["message:disk <int>% full".into()])
    );
}

#[test]
fn python_captures() {
    for (name, method) in [
        ("event", "stacktrace"),
        ("event.case-exception", "stacktrace"),
        ("event.case-attachment", "stacktrace"),
        ("event.case-message", "message"),
        ("event.case-user_event", "message"),
        ("transaction.case-transaction", "fallback"),
    ] {
        assert_eq!(fingerprint(&python_event(name)).method, method, "{name}");
    }
    let fp = fingerprint(&python_event("event.case-exception"));
    assert_eq!(
        fp.components,
        [
            "type:ValueError",
            "frame:__main__|<module>",
            "frame:__main__|outer",
            "frame:__main__|middle",
            "frame:__main__|inner"
        ]
    );
    assert_eq!(fp.hash, fingerprint(&python_event("event")).hash);
    assert_eq!(
        fingerprint(&python_event("event.case-message")).components,
        ["message:harness message capture-python-<int>"]
    );
}

#[test]
fn odd_shapes_do_not_panic() {
    let shapes = [
        json!(null),
        json!([1, 2]),
        json!("event"),
        json!({"exception": 5}),
        json!({"exception": {"values": "x"}}),
        json!({"exception": {"values": [null, 1, {"stacktrace": 3}]}}),
        json!({"exception": {"values": [{"stacktrace": {"frames": [null, 1, {"in_app": true}]}}]}}),
        json!({"exception": {"values": [{"mechanism": {"synthetic": "yes"}, "type": 1}]}}),
        json!({"threads": 1}),
        json!({"threads": [{"crashed": true, "stacktrace": []}]}),
        json!({"stacktrace": {"frames": [{"function": "0x1234", "in_app": true}]}}),
        json!({"fingerprint": ["{{", "}}", "{{}}", "{{ tags.é }}", "{{ TAGS.ü }}"]}),
        json!({"message": ["a"], "logentry": 3, "transaction": 7, "logger": {}}),
        json!({"message": "ü".repeat(3000)}),
        json!({"exception": {"type": "Legacy", "value": "old raven"}}),
    ];
    for shape in shapes {
        let fp = fingerprint(&shape);
        assert_eq!(fp.hash.len(), 32, "{shape}");
    }
    let legacy = json!({"exception": {"type": "Legacy", "value": "old raven"}});
    assert_eq!(fingerprint(&legacy).method, "exception");
}
