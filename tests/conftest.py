"""Shared fixtures of the end-to-end suite (the helpers they use live in e2e.py).

Everything here drives the real system: a PostgreSQL 15 cluster made with initdb in a temporary
directory, with pg_crashcache preloaded and its digest workers running; the real `ingest-proxy`
binary on free loopback ports; real clients. Nothing is mocked.

Fixtures:
  cluster        session-wide cluster (database `crashcache` with the extension)
  sql            SQL helper on that cluster (psycopg, autocommit)
  proxy          a proxy with the default settings, shared by the session
  proxy_factory  starts extra proxies with environment overrides; stops them after the test
  make_project   creates a project (fresh name, fresh key) and returns a Project
  project        one fresh project
  wait_digested  waits until no queued payload of a project is left
  http           a requests session that ignores proxy settings of the environment
"""
import shutil
import tempfile
from pathlib import Path

import pytest

from e2e import PROXY_VARS, Cluster, Proxy, Project, Sql, create_project, new_session, start_proxy

# The web UI's browser fixtures (tests/ui.py), registered once for every module: a session
# fixture imported into two modules would start two Playwright drivers, and the second fails.
pytest_plugins = ["ui"]


# --------------------------------------------------------------------------- pytest plumbing
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


@pytest.fixture(scope="session")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="crashcache-e2e-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster():
    c = Cluster("main")
    try:
        c.init()
    except Exception:
        c.destroy()
        raise
    yield c
    c.destroy()


@pytest.fixture(scope="session")
def sql(cluster):
    s = Sql(cluster.url())
    yield s
    s.close()


@pytest.fixture(scope="session")
def proxy(cluster, workdir):
    p = start_proxy(cluster, workdir)
    yield p
    p.stop()


@pytest.fixture
def proxy_factory(cluster, workdir, request):
    started: list[Proxy] = []

    def factory(**overrides) -> Proxy:
        p = start_proxy(cluster, workdir, **overrides)
        started.append(p)
        return p

    yield factory
    for p in started:
        if _failed(request):
            settings = {k: v for k, v in p.env.items() if k in PROXY_VARS}
            print(f"--- ingest-proxy {p.url} {settings} ---")
            print(p.log_text())
        p.stop()


@pytest.fixture
def make_project(sql):
    def factory(prefix: str = "e2e") -> Project:
        return create_project(sql, prefix)
    return factory


@pytest.fixture
def project(make_project) -> Project:
    return make_project()


@pytest.fixture
def wait_digested(sql):
    return sql.wait_digested


@pytest.fixture
def http():
    s = new_session()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _show_logs_on_failure(request):
    yield
    p = request.node.funcargs.get("proxy") if hasattr(request.node, "funcargs") else None
    if _failed(request) and isinstance(p, Proxy):
        print(f"--- shared ingest-proxy {p.url} ---\n{p.log_text(40)}")
