"""The roles of sql/roles.sql other than the proxy's (test_security.py has that one): each can do
its job and is refused the rest. Metabase and an operator log in over TCP with their password
as they would; pg_cron's role, which has no password, is taken on with SET ROLE."""
import psycopg
import pytest

from e2e import Sql, as_uuid, assert_accepted, create_project, envelope, new_event_id, new_session
from test_envelopes import post

METABASE, OPERATOR = "crashcache_metabase", "e2e_operator"


@pytest.fixture(scope="module")
def as_metabase(cluster):
    cluster.set_password(METABASE)
    s = Sql(cluster.url(role=METABASE))
    yield s
    s.close()


@pytest.fixture(scope="module")
def as_operator(cluster, sql):
    """A person's own login, given the admin group, as an operator would be."""
    sql.rows(f"DROP ROLE IF EXISTS {OPERATOR}")
    sql.rows(f"CREATE ROLE {OPERATOR} LOGIN IN ROLE crashcache_admin")
    cluster.set_password(OPERATOR)
    s = Sql(cluster.url(role=OPERATOR))
    yield s
    s.close()


@pytest.fixture
def as_maintenance(cluster):
    s = Sql(cluster.url())
    s.rows("SET ROLE crashcache_maintenance")
    yield s
    s.close()


@pytest.fixture(scope="module")
def digested_event(proxy, sql):
    project = create_project(sql, "roles")
    eid = new_event_id()
    body = envelope({"event_id": eid}, ({"type": "event"}, {"message": "seen by a reader", "level": "error"}))
    assert_accepted(post(new_session(), proxy, project, body), eid)
    sql.wait_digested(project.id)
    return project, eid


def test_metabase_reads_every_curated_view(as_metabase, sql, digested_event):
    project, eid = digested_event
    views = [r["viewname"] for r in sql.rows(
        "SELECT viewname FROM pg_views WHERE schemaname = 'crashcache' ORDER BY 1")]
    assert {"issues", "events", "projects", "logs", "retention_policies"} <= set(views), views
    for view in views:
        as_metabase.rows(f"SELECT * FROM crashcache.{view} LIMIT 1")
    issue = as_metabase.one("SELECT title, event_count FROM crashcache.issues WHERE project_id = %s", (project.id,))
    assert issue == {"title": "seen by a reader", "event_count": 1}
    full = as_metabase.scalar("SELECT crashcache.event_json(%s, %s)", (project.id, as_uuid(eid)))
    assert full["message"] == "seen by a reader" or full.get("logentry", {}).get("message") == "seen by a reader", full
    assert as_metabase.one("SELECT queued FROM crashcache.stats()") is not None


READER_REFUSED = [
    ("SELECT * FROM crashcache.archive", "permission denied for table archive"),
    ("SELECT body FROM crashcache.archive LIMIT 1", "permission denied for table archive"),
    ("SELECT * FROM crashcache.project_key", "permission denied for table project_key"),
    ("SELECT * FROM crashcache.event", "permission denied for table event"),
    ("SELECT * FROM crashcache.list_projects()", "permission denied for table project"),
    ("SELECT crashcache.archive_payload(1)", "permission denied for table archive"),
    ("SELECT * FROM crashcache.ingest(1, 'k', 'x'::bytea)", "permission denied for function ingest"),
    ("SELECT * FROM crashcache.create_project('mine')", "permission denied for table project"),
    ("INSERT INTO crashcache.projects (name) VALUES ('mine')", "permission denied for view projects"),
    ("SELECT crashcache.set_issue_status(1, 'resolved')", "permission denied for table issue"),
    ("SELECT crashcache.set_retention(1)", "permission denied for table retention"),
    ("SELECT crashcache.schedule_maintenance()", "permission denied for function schedule_maintenance"),
    ("CREATE TABLE crashcache.mine (x int)", "permission denied for schema crashcache"),
    ("SELECT crashcache.api_issues('crashcache')", "permission denied for function api_issues"),
    ("SELECT * FROM crashcache.list_api_tokens()", "permission denied for table api_token"),
]


@pytest.mark.parametrize("statement,refusal", READER_REFUSED, ids=[s for s, _ in READER_REFUSED])
def test_metabase_is_refused_the_rest(as_metabase, statement, refusal):
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refusal):
        as_metabase.rows(statement)


def test_an_operator_manages_projects_and_retention(cluster, as_operator, digested_event):
    project, eid = digested_event
    made = as_operator.one("SELECT * FROM crashcache.create_project('made by an operator')")
    key = as_operator.scalar("SELECT crashcache.create_project_key(%s)", (made["id"],))
    assert key.endswith(f"/{made['id']}")
    assert as_operator.scalar("SELECT crashcache.revoke_project_key(%s)", (made["key"],)) is True
    listed = {p["id"]: p for p in as_operator.rows("SELECT * FROM crashcache.list_projects()")}
    assert len(listed[made["id"]]["public_keys"]) == 1
    issue = as_operator.scalar("SELECT id FROM crashcache.issue WHERE project_id = %s", (project.id,))
    assert as_operator.scalar("SELECT crashcache.set_issue_status(%s, 'ignored')", (issue,)) is True
    as_operator.scalar("SELECT crashcache.set_retention(90, 500, %s)", (made["id"],))
    with psycopg.connect(cluster.url(role=OPERATOR), autocommit=True) as conn:
        conn.execute("CALL crashcache.run_retention()")
    assert as_operator.scalar("SELECT count(*) FROM crashcache.archive WHERE project_id = %s", (project.id,)) == 1
    assert len(list(as_operator.rows("SELECT * FROM crashcache.export_archives(%s)", (project.id,)))) == 1
    assert as_operator.scalar("SELECT crashcache.retry_errors(%s)", (project.id,)) == 0
    assert as_operator.scalar("SELECT crashcache.delete_project(%s)", (made["id"],)) is True


OPERATOR_REFUSED = [
    ("CREATE TABLE crashcache.mine (x int)", "permission denied for schema crashcache"),
    ("DROP TABLE crashcache.event", "must be owner of table event"),
    ("ALTER TABLE crashcache.archive DROP COLUMN body", "must be owner of table archive"),
    ("TRUNCATE crashcache.event", "permission denied for table event"),
    ("CREATE ROLE intruder", "permission denied to create role"),
    ("COPY (SELECT 1) TO PROGRAM 'id'", "COPY to or from an external program"),
]


@pytest.mark.parametrize("statement,refusal", OPERATOR_REFUSED, ids=[s for s, _ in OPERATOR_REFUSED])
def test_an_operator_cannot_change_the_schema(as_operator, statement, refusal):
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refusal):
        as_operator.rows(statement)


def test_maintenance_runs_its_jobs(cluster, as_maintenance):
    as_maintenance.rows("CALL crashcache.run_retention()")
    # NULL (too few payloads for a dictionary) or the id of a new one.
    as_maintenance.scalar("SELECT crashcache.retrain_dictionary()")


MAINTENANCE_REFUSED = [
    ("SELECT * FROM crashcache.archive", "permission denied for table archive"),
    ("SELECT * FROM crashcache.issues", "permission denied for view issues"),
    ("SELECT * FROM crashcache.create_project('mine')", "permission denied for table project"),
    ("SELECT crashcache.event_json(1, gen_random_uuid())", "permission denied for function event_json"),
    ("SELECT crashcache.ruminate()", "permission denied for"),
    ("SELECT crashcache.set_retention(1)", "permission denied for table retention"),
]


@pytest.mark.parametrize("statement,refusal", MAINTENANCE_REFUSED, ids=[s for s, _ in MAINTENANCE_REFUSED])
def test_maintenance_is_refused_the_rest(as_maintenance, statement, refusal):
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refusal):
        as_maintenance.rows(statement)


def test_maintenance_cannot_log_in(cluster):
    with pytest.raises(psycopg.OperationalError, match="no password supplied|password authentication failed"):
        psycopg.connect(f"postgres://crashcache_maintenance@127.0.0.1:{cluster.port}/crashcache").close()


# --------------------------------------------------------------------------- the web UI's role
@pytest.fixture(scope="module")
def as_ui(cluster):
    """The web UI's login, as the proxy's UI_DATABASE_URL connects."""
    s = Sql(cluster.url(role="crashcache_ui_proxy"))
    yield s
    s.close()


def test_the_ui_calls_its_functions_and_the_apis(as_ui, digested_event):
    project, _ = digested_event
    slug = as_ui.scalar("SELECT crashcache.ui_project(%s)->>'slug'", (str(project.id),))
    assert slug == project.name
    assert project.name in [p["name"] for p in as_ui.scalar("SELECT crashcache.ui_projects()")]
    listed = as_ui.scalar("SELECT crashcache.ui_issue_list(%s, '', 'all', 'date', '', '24h', 25)", (slug,))
    assert [i["title"] for i in listed["items"]] == ["seen by a reader"]
    assert sum(listed["items"][0]["spark"]) == 1
    issues = as_ui.scalar("SELECT crashcache.api_issues(current_setting('crashcache.organization_slug'), %s,"
                          " NULL, '')", (slug,))
    assert [i["title"] for i in issues["items"]] == ["seen by a reader"]
    assert as_ui.scalar("SELECT crashcache.ui_session(sha256('no such token'::bytea))") is None
    assert as_ui.scalar("SELECT crashcache.ui_has_users()") in (True, False)


UI_REFUSED = [
    ("SELECT * FROM crashcache.ui_user", "permission denied for table ui_user"),
    ("SELECT * FROM crashcache.ui_session", "permission denied for table ui_session"),
    ("SELECT * FROM crashcache.ui_sign_in_failure", "permission denied for table ui_sign_in_failure"),
    ("SELECT * FROM crashcache.event", "permission denied for table event"),
    ("SELECT * FROM crashcache.archive", "permission denied for table archive"),
    ("SELECT * FROM crashcache.project_key", "permission denied for table project_key"),
    ("SELECT * FROM crashcache.issues", "permission denied for view issues"),
    ("SELECT * FROM crashcache.ingest(1, 'k', 'x'::bytea)", "permission denied for function ingest"),
    ("SELECT * FROM crashcache.ingest_batch('{1}', '{k}', '{x}', '{json}', '{envelope}', '{127.0.0.1}', 1, 1)",
     "permission denied for function ingest_batch"),
    ("SELECT * FROM crashcache.create_project('mine')", "permission denied for table project"),
    ("SELECT crashcache.create_project_key(1)", "permission denied for table project_key"),
    ("SELECT crashcache.delete_project(1)", "permission denied for table"),
    ("SELECT * FROM crashcache.create_api_token('mine', '{org:read}')", "permission denied for"),
    ("SELECT crashcache._ui_check_admin(1)", "permission denied for table ui_user"),
    ("CREATE TABLE crashcache.mine (x int)", "permission denied for schema crashcache"),
]


@pytest.mark.parametrize("statement,refusal", UI_REFUSED, ids=[s for s, _ in UI_REFUSED])
def test_the_ui_is_refused_tables_ingest_and_administration(as_ui, statement, refusal):
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refusal):
        as_ui.rows(statement)


def test_only_admins_administer_through_the_ui(as_ui, sql):
    """ui_* functions that change projects check the acting user is an admin."""
    sql.rows("INSERT INTO crashcache.ui_user (email, name, password_hash) VALUES"
             " ('roles-user@example.com', 'Plain', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA')"
             " ON CONFLICT (email) DO NOTHING")
    plain = sql.scalar("SELECT id FROM crashcache.ui_user WHERE email = 'roles-user@example.com'")
    for statement in ("SELECT crashcache.ui_create_project(%s, 'nope')",
                      "SELECT crashcache.ui_create_project_key(%s, '1')",
                      "SELECT crashcache.ui_revoke_project_key(%s, '1', 'k')",
                      "SELECT crashcache.ui_create_user(%s, 'x@example.com', 'X', '$argon2id$x', true)"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="Only an admin may do this"):
            as_ui.rows(statement, (plain,))
