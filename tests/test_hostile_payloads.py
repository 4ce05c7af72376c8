"""Payloads that are odd but reach a tracker in real life: NUL characters in messages (binary
data in a Python exception), lone UTF-16 surrogates (the JavaScript SDK truncates long strings
without caring for surrogate pairs, and JSON.stringify writes the half as "\\ud83d"), bytes that
are not UTF-8, deep nesting, huge numbers, very long values.

The rule checked: an answer of 200 is a promise. Either the proxy refuses the payload with a
clear 4xx, or the event is digested; a payload acknowledged with 200 that then lands in
crashcache.queue_error is an event lost without the sender knowing."""
import json
import os

import pytest

from e2e import assert_sentry_error, new_event_id



def event(eid: str, message: str, **extra_fields) -> bytes:
    return json.dumps({"event_id": eid, "message": message, **extra_fields}).encode()


def raw(eid: str, fragment: bytes) -> bytes:
    return b'{"event_id":"' + eid.encode() + b'","message":"hostile",' + fragment + b"}"


CASES = [
    pytest.param(lambda e: event(e, "nul in a message: a\x00b"), id="nul_in_message"),
    pytest.param(lambda e: event(e, "nul in a tag", tags={"k": "a\x00b"}), id="nul_in_tag"),
    pytest.param(lambda e: event(e, "nul in the user", user={"id": "a\x00b"}), id="nul_in_user"),
    pytest.param(lambda e: event(e, "nul in extra", extra={"k": "a\x00b"}), id="nul_in_extra"),
    pytest.param(lambda e: raw(e, b'"extra":{"k":"cut emoji \\ud83d"}'), id="lone_surrogate_in_extra"),
    pytest.param(lambda e: raw(e, b'"logentry":{"message":"cut emoji \\ud83d"}'), id="lone_surrogate_in_message"),
    pytest.param(lambda e: raw(e, b'"culprit":"caf\xe9"'), id="latin1_bytes"),
    pytest.param(lambda e: raw(e, b'"extra":{"a":' + b"[" * 200 + b"]" * 200 + b"}"), id="nesting_200_deep"),
    pytest.param(lambda e: raw(e, b'"extra":{"a":1e400}'), id="number_out_of_range"),
    pytest.param(lambda e: raw(e, b'"message":"duplicate key"'), id="duplicate_keys"),
    pytest.param(lambda e: event(e, "emoji \U0001F600 and \u00e9", tags={"\u00e9t\u00e9": "\U0001F600"}), id="unicode"),
    pytest.param(lambda e: event(e, "long values", release=os.urandom(5000).hex(), environment=os.urandom(5000).hex(),
                                 server_name=os.urandom(5000).hex(), transaction=os.urandom(5000).hex(),
                                 tags={os.urandom(3000).hex(): os.urandom(30000).hex()},
                                 user={"id": os.urandom(5000).hex()}), id="long_values"),
    pytest.param(lambda e: event(e, "long message " + os.urandom(100_000).hex()), id="long_message"),
    pytest.param(lambda e: raw(e, b'"timestamp":"yesterday","level":"critical"'), id="odd_timestamp_and_level"),
]


@pytest.mark.parametrize("make_body", CASES)
def test_acknowledged_means_digested(proxy, sql, project, http, wait_digested, make_body):
    eid = new_event_id()
    r = http.post(f"{proxy.url}/api/{project.id}/store/", data=make_body(eid), timeout=10,
                  headers={"Content-Type": "application/json", **project.auth_header()})
    if r.status_code != 200:
        assert_sentry_error(r, 400, 413)
        return
    assert r.json() == {"id": eid}
    wait_digested(project.id)
    errors = sql.queue_errors(project.id)
    assert errors == [], f"answered 200, then failed to digest: {[e['reason'] for e in errors]}"
    assert sql.event(project.id, eid) is not None
