"""pg_cron runs the tracker's maintenance (pg_crashcache/sql/maintenance.sql) in a real cluster
with pg_cron preloaded (scripts/cluster.conf): schedule_maintenance() registers the jobs once,
a job really runs, as crashcache_maintenance, and does its work; unschedule_maintenance()
removes them; without pg_cron the functions say what is missing."""
import time

import psycopg
import pytest

from e2e import Sql, assert_accepted, create_project, envelope, new_event_id
from test_envelopes import post

JOBS = ("SELECT jobid, jobname, schedule, command, database, username, active FROM cron.job"
        " WHERE jobname LIKE 'crashcache-%%' ORDER BY jobname")


@pytest.fixture
def with_pg_cron(sql):
    sql.rows("CREATE EXTENSION IF NOT EXISTS pg_cron")
    yield
    sql.rows("SELECT crashcache.unschedule_maintenance()")


def test_jobs_are_scheduled_once_run_as_their_role_and_removed(with_pg_cron, sql, proxy, http):
    first = sql.rows("SELECT * FROM crashcache.schedule_maintenance()")
    assert [j["job_name"] for j in first] == ["crashcache-retention", "crashcache-dictionary",
                                              "crashcache-cron-history"]
    jobs = sql.rows(JOBS)
    assert {(j["username"], j["database"], j["active"]) for j in jobs} == {("crashcache_maintenance", "crashcache", True)}
    # A second call changes nothing.
    sql.rows("SELECT * FROM crashcache.schedule_maintenance()")
    assert sql.rows(JOBS) == jobs

    # A payload past its project's age, and the retention job made to run at the next minute.
    project = create_project(sql, "cron")
    sql.scalar("SELECT crashcache.set_retention(1, project_id => %s)", (project.id,))
    eid = new_event_id()
    assert_accepted(post(http, proxy, project, envelope({"event_id": eid}, ({"type": "event"}, {"message": "old"}))), eid)
    sql.wait_digested(project.id)
    sql.rows("UPDATE crashcache.archive SET received_at = now() - interval '2 days' WHERE project_id = %s",
             (project.id,))
    retention = next(j["jobid"] for j in jobs if j["jobname"] == "crashcache-retention")
    sql.rows("SELECT cron.alter_job(%s, schedule => '* * * * *')", (retention,))

    deadline = time.monotonic() + 90
    while True:
        run = sql.one("SELECT status, return_message, username FROM cron.job_run_details"
                      " WHERE jobid = %s AND status IN ('succeeded', 'failed') ORDER BY runid DESC LIMIT 1",
                      (retention,))
        if run:
            break
        assert time.monotonic() < deadline, "pg_cron did not run the retention job within 90 s"
        time.sleep(1)
    assert run == {"status": "succeeded", "return_message": "CALL", "username": "crashcache_maintenance"}, run
    assert sql.scalar("SELECT count(*) FROM crashcache.archive WHERE project_id = %s", (project.id,)) == 0
    assert sql.scalar("SELECT count(*) FROM crashcache.event WHERE project_id = %s", (project.id,)) == 0

    # Scheduling again puts back the schedule that was changed, in the same job.
    sql.rows("SELECT * FROM crashcache.schedule_maintenance()")
    assert sql.rows(JOBS) == jobs

    assert sql.scalar("SELECT crashcache.unschedule_maintenance()") == 3
    assert sql.rows(JOBS) == []
    assert sql.scalar("SELECT crashcache.unschedule_maintenance()") == 0


def test_without_pg_cron_it_says_what_is_missing(cluster):
    cluster.psql("postgres", "DROP DATABASE IF EXISTS without_cron")
    cluster.psql("postgres", "CREATE DATABASE without_cron")
    try:
        cluster.psql("without_cron", "CREATE EXTENSION pg_crashcache")
        s = Sql(cluster.url(db="without_cron"))
        for call in ("SELECT crashcache.schedule_maintenance()", "SELECT crashcache.unschedule_maintenance()"):
            with pytest.raises(psycopg.errors.FeatureNotSupported) as refused:
                s.rows(call)
            assert refused.value.diag.message_primary == "pg_cron is not installed in database without_cron"
            assert "CREATE EXTENSION pg_cron" in refused.value.diag.message_hint
        s.close()
    finally:
        cluster.psql("postgres", "DROP DATABASE without_cron WITH (FORCE)")
