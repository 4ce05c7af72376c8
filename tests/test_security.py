"""Least privilege, tried as an attacker on the same machine would: no local OS user but the
cluster's owner can connect at all (no trust authentication, a socket directory only postgres
can enter), the proxy's role can ingest and read the health figures and is refused everything
else, and the proxy really connects as that role."""
import os
import shutil
import subprocess
import time

import psycopg
import pytest

from e2e import PG_BIN, Sql, envelope, new_event_id

PROXY_ROLE = "crashcache_proxy"


RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


def psql_as_nobody(*args: str) -> subprocess.CompletedProcess:
    if os.geteuid() != 0:
        pytest.skip("trying another OS user needs root (CI runs as root)")
    return subprocess.run([RUNUSER, "-u", "nobody", "--", str(PG_BIN / "psql"), "-X", "-w", *args,
                           "-c", "SELECT 1"], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("role", ["postgres", PROXY_ROLE, "crashcache_reader", "nobody"])
def test_nobody_cannot_connect_over_tcp(cluster, role):
    p = psql_as_nobody("-h", "127.0.0.1", "-p", str(cluster.port), "-U", role, "-d", "crashcache")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "fe_sendauth: no password supplied" in p.stderr, p.stderr


def test_nobody_cannot_reach_the_socket(cluster):
    p = psql_as_nobody("-h", str(cluster.dir), "-p", str(cluster.port), "-U", "postgres", "-d", "crashcache")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Permission denied" in p.stderr, p.stderr


def test_a_wrong_password_is_refused(cluster):
    url = cluster.url(role=PROXY_ROLE).replace(cluster.passwords[PROXY_ROLE], "wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url).close()


@pytest.fixture
def as_proxy(cluster):
    s = Sql(cluster.url(role=PROXY_ROLE))
    yield s
    s.close()


def test_the_proxy_role_can_ingest_and_read_health(as_proxy, sql, project, wait_digested):
    eid = new_event_id()
    body = envelope({"event_id": eid}, ({"type": "event"}, {"message": "as the proxy"}))
    r = as_proxy.one("SELECT * FROM crashcache.ingest(%s, %s, %s)", (project.id, project.key, body))
    assert (r["status"], r["outcome"], r["event_id"]) == (200, "accepted", eid), r
    assert as_proxy.one("SELECT queued, errors FROM crashcache.stats()") is not None
    wait_digested(project.id)
    assert sql.event(project.id, eid) is not None


REFUSED = [
    ("SELECT * FROM crashcache.project_key", "permission denied for table project_key"),
    ("SELECT * FROM crashcache.archive", "permission denied for table archive"),
    ("SELECT * FROM crashcache.event", "permission denied for table event"),
    ("SELECT * FROM crashcache.issues", "permission denied for view issues"),
    ("INSERT INTO crashcache.queue (archive_id) VALUES (1)", "permission denied for table queue"),
    ("DELETE FROM crashcache.queue", "permission denied for table queue"),
    ("SELECT * FROM crashcache.create_project('intruder')", "permission denied for table project"),
    ("SELECT * FROM crashcache.list_projects()", "permission denied for table project"),
    ("SELECT crashcache.delete_project(1)", "permission denied for table"),
    ("SELECT crashcache.ruminate()", "permission denied for"),
    ("SELECT crashcache.event_json(1, gen_random_uuid())", "permission denied for function event_json"),
    ("SELECT crashcache.api_organizations()", "permission denied for function api_organizations"),
    ("SELECT crashcache.create_api_token('mine', ARRAY['org:read'])", "permission denied for table api_token"),
    ("CREATE TABLE crashcache.mine (x int)", "permission denied for schema crashcache"),
    ("CREATE TABLE public.mine (x int)", "permission denied for schema public"),
    ("COPY (SELECT 1) TO PROGRAM 'id'", "COPY to or from an external program"),
]


@pytest.mark.parametrize("statement,refusal", REFUSED, ids=[s for s, _ in REFUSED])
def test_the_proxy_role_is_refused_the_rest(as_proxy, statement, refusal):
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refusal):
        as_proxy.rows(statement)


def test_the_proxy_role_is_no_superuser(sql):
    r = sql.one("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = %s",
                (PROXY_ROLE,))
    assert r == {"rolsuper": False, "rolcreaterole": False, "rolcreatedb": False, "rolbypassrls": False}


def test_the_proxy_connects_as_its_role(proxy, sql, http, project):
    deadline = time.monotonic() + 10
    while http.get(proxy.url + "/health", timeout=5).status_code != 200:  # its pool is connected
        assert time.monotonic() < deadline, "the proxy's health check never reached the database"
        time.sleep(0.1)
    users = {r["usename"] for r in sql.rows(
        "SELECT usename FROM pg_stat_activity WHERE application_name = 'ingest-proxy'")}
    assert users == {PROXY_ROLE}, users
