"""The plans of the ingest and digest paths, as an operator checks them with auto_explain, at
three table sizes: an empty fresh database; the same after a benchmark's million rows were
bulk-loaded and never analyzed (autovacuum is off); and after ANALYZE.

Why: on a fresh cluster after a benchmark, ingest fell to 64 envelopes/s until autovacuum had
analyzed the tables: each call spent 85 ms compiling JIT code for generic plans whose estimates
(unnest's 10,000 rows, a never-analyzed table's 1,110) put them above jit_above_cost.

The cluster logs every statement with its plan (auto_explain: log_min_duration 0, nested
statements too, JSON plans) to its JSON server log, whose lines name the role and the backend
type: the proxy's backends log in as crashcache_proxy, the digest worker is a background worker
of type "pg_crashcache digest". Real payloads go through the real proxy and are digested by the
real worker. For every plan of theirs: no JIT (a JSON plan has a "JIT" key when JIT ran), and
no sequential scan of a table that holds more than BIG_TABLE rows at that point. A failure
names each statement, the phase and what is wrong, and prints those plans.
"""
import dataclasses
import json
import time
import uuid

import pytest

from e2e import Cluster, Sql, create_project, start_proxy
from test_retention import DIGESTED_TABLES, rows_per_table, send_event, send_one_of_each

BIG_TABLE = 10_000  # rows: a sequential scan of a larger table is a finding
# Payload rounds per phase, each digested before the next: more than the five custom plans
# PL/pgSQL makes of a statement before it may switch to a generic one.
ROUNDS = 7
# What the benchmark left: rows of the big tables.
BENCH_ISSUES, BENCH_ARCHIVES = 100_000, 1_000_000  # and one event per archive
PROXY_ROLE = "crashcache_proxy"
WORKER_TYPE = "pg_crashcache digest"
LOG_FILE = "plans.log"  # in pgdata/log; jsonlog writes plans.json beside it

SETTINGS = {
    "auto_explain.log_min_duration": 0,
    "auto_explain.log_nested_statements": "on",
    "auto_explain.log_format": "json",
    "auto_explain.log_analyze": "off",
    "logging_collector": "on",
    "log_destination": "jsonlog",
    "log_directory": "log",
    "log_filename": LOG_FILE,
    "log_rotation_size": 0,
    "log_rotation_age": 0,
    # Nothing analyzes the tables but the test itself.
    "autovacuum": "off",
    # Room for the bulk load, which plans do not depend on.
    "shared_buffers": "512MB",
    "checkpoint_timeout": "15min",
    "max_wal_size": "4GB",
}


# --------------------------------------------------------------------------- the log and its plans
@dataclasses.dataclass(frozen=True)
class Plan:
    who: str    # "proxy" or "digest worker"
    where: str  # the function and line it ran at, or "top level"
    doc: dict   # auto_explain's JSON: "Query Text", "Plan", and "JIT" when JIT ran

    @property
    def statement(self) -> str:
        return f"{self.where}: {' '.join(self.doc['Query Text'].split())[:160]}"


def who_ran(entry: dict) -> str | None:
    if entry.get("backend_type") == WORKER_TYPE:
        return "digest worker"
    if entry.get("backend_type") == "client backend" and entry.get("user") == PROXY_ROLE:
        return "proxy"
    return None


def where_it_ran(context: str | None) -> str:
    """The innermost function of a log line's context, with its line or statement number."""
    for line in (context or "").splitlines():
        if line.startswith(("PL/pgSQL function", "SQL function")):
            return line
    return "top level"


class ServerLog:
    """The cluster's JSON server log, one JSON object a line."""

    def __init__(self, cluster: Cluster):
        self.path = cluster.pgdata / "log" / LOG_FILE.replace(".log", ".json")

    def end(self) -> int:
        return self.path.stat().st_size

    def entries(self, start: int) -> list[dict]:
        with open(self.path, "rb") as f:
            f.seek(start)
            text = f.read()
        # Only whole lines: the logger may be writing the last one.
        return [json.loads(line) for line in text[:text.rfind(b"\n") + 1].splitlines() if line.strip()]

    def flush(self, sql: Sql, start: int, timeout: float = 10.0) -> None:
        """Waits until what was logged before now is in the file: a statement of ours is
        logged after it, and the logger writes in order."""
        token = uuid.uuid4().hex
        sql.rows(f"SELECT 'plans-marker-{token}'")
        deadline = time.monotonic() + timeout
        while not any(token in entry.get("message", "") for entry in self.entries(start)):
            assert time.monotonic() < deadline, f"marker {token} not in {self.path} after {timeout}s"
            time.sleep(0.1)

    def plans(self, start: int) -> list[Plan]:
        """The plans the proxy's backends and the digest worker logged from `start` on."""
        out = []
        for entry in self.entries(start):
            who = who_ran(entry)
            head, found, body = entry.get("message", "").partition(" plan:\n")
            if who and found and head.startswith("duration:"):
                out.append(Plan(who, where_it_ran(entry.get("context")), json.loads(body)))
        return out


def nodes(node: dict, parent: dict | None = None):
    """Every node of a plan tree with its parent."""
    yield node, parent
    for child in node.get("Plans", []):
        yield from nodes(child, node)


def full_scans(plan: Plan) -> set[str]:
    """The tables a plan reads whole: every Seq Scan but one a Limit right above stops early
    (it has no Filter, so it reads no more rows than the Limit passes on)."""
    return {n["Relation Name"] for n, parent in nodes(plan.doc["Plan"])
            if n["Node Type"] == "Seq Scan"
            and not (parent and parent["Node Type"] == "Limit" and "Filter" not in n)}


def written_tables(plan: Plan) -> set[str]:
    return {n["Relation Name"] for n, _ in nodes(plan.doc["Plan"]) if n["Node Type"] == "ModifyTable"}


def outline(node: dict, depth: int = 0) -> str:
    """A plan as EXPLAIN's text shows it, briefly: node, table or index, estimates, conditions."""
    what = node["Operation"] if node["Node Type"] == "ModifyTable" else node["Node Type"]
    for key, word in (("Relation Name", "on"), ("Index Name", "using"), ("Function Name", "on"),
                      ("CTE Name", "on")):
        if key in node:
            what += f" {word} {node[key]}"
    if "Subplan Name" in node:
        what = f"{node['Subplan Name']}: {what}"
    text = f"{'  ' * depth}-> {what}  (cost={node['Total Cost']} rows={node['Plan Rows']})"
    for key in ("Index Cond", "Hash Cond", "Join Filter", "Filter"):
        if key in node:
            text += f"\n{'  ' * depth}     {key}: {node[key]}"
    return "\n".join([text] + [outline(c, depth + 1) for c in node.get("Plans", [])])


# --------------------------------------------------------------------------- the tracker
@pytest.fixture
def tracker(workdir):
    """A cluster of this test's own, with one digest worker: every batch is its, so each
    statement runs often enough in one session to reach its generic plan."""
    cluster = Cluster("plans", workers=1, preload=("auto_explain",), settings=SETTINGS).init()
    sql = Sql(cluster.url())
    yield cluster, sql
    sql.close()
    cluster.destroy()


def row_count(sql: Sql, table: str) -> int:
    """The exact number of rows of a table a plan names (the tracker's, else a catalog)."""
    name = sql.scalar("SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                      " WHERE c.relname = %s ORDER BY n.nspname <> 'crashcache' LIMIT 1", (table,))
    return sql.scalar(f"SELECT count(*) FROM {name}")


def analyzed_tables(sql: Sql) -> list[str]:
    return [r["relname"] for r in sql.rows(
        "SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'crashcache'"
        " AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL) ORDER BY relname")]


def load_benchmark(sql: Sql) -> None:
    """What a benchmark leaves behind: a project with BENCH_ISSUES issues and BENCH_ARCHIVES
    payloads, each digested to one event. The rows are consistent by construction, so the
    foreign keys' per-row checks are skipped (session_replication_role = replica)."""
    bench = create_project(sql, "bench")
    sql.rows(f"""
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO crashcache.issue (project_id, fingerprint, grouping_method, title, culprit, level,
                              first_seen, last_seen, event_count, user_count, short_id)
SELECT {bench.id}, md5('bench issue ' || n), 'message', 'bench issue ' || n, 'bench.py', 'error',
       now() - interval '30 days', now() - n * interval '1 second', {BENCH_ARCHIVES // BENCH_ISSUES}, 0, n
FROM generate_series(1, {BENCH_ISSUES}) n;
UPDATE crashcache.project SET last_short_id = {BENCH_ISSUES} WHERE id = {bench.id};
INSERT INTO crashcache.archive (project_id, content_hash, kind, received_at, raw_size, codec, body)
SELECT {bench.id}, sha256(b.body), 'envelope', now() - n * interval '1 second', length(b.body), 0, b.body
FROM generate_series(1, {BENCH_ARCHIVES}) n
CROSS JOIN LATERAL (SELECT convert_to(
    '{{"event_id":"' || lpad(to_hex(n), 32, '0') || '"}}' || chr(10) || '{{"type":"event"}}' || chr(10)
    || '{{"message":"bench issue ' || n %% {BENCH_ISSUES} + 1 || '","level":"error"}}' || chr(10), 'UTF8') AS body) b;
INSERT INTO crashcache.event (project_id, event_id, issue_id, archive_id, timestamp, received_at, level, title)
SELECT a.project_id, lpad(to_hex(a.id - f.archive), 32, '0')::uuid, f.issue + (a.id - f.archive) %% {BENCH_ISSUES},
       a.id, a.received_at, a.received_at, 'error', 'bench issue ' || (a.id - f.archive) %% {BENCH_ISSUES} + 1
FROM crashcache.archive a,
     (SELECT (SELECT min(id) FROM crashcache.issue WHERE project_id = {bench.id}) AS issue,
             (SELECT min(id) - 1 FROM crashcache.archive WHERE project_id = {bench.id}) AS archive) f
WHERE a.project_id = {bench.id};
COMMIT""")


def send_traffic(sql: Sql, proxy, http, project, phase: str) -> None:
    """ROUNDS rounds of every kind of payload (errors, a transaction with spans, sessions, a
    check-in, logs, a client report, feedback, an attachment), each digested before the next."""
    for i in range(ROUNDS):
        now = time.time()
        send_one_of_each(http, proxy, project, now, f"{phase} {i}")
        send_event(http, proxy, project, "checkout failed", now, f"user {i}")
        sql.wait_digested(project.id, timeout=30)


@dataclasses.dataclass
class Phase:
    name: str
    plans: list[Plan]
    rows: dict[str, int]  # rows of each table the plans scan whole, at the end of the phase


def run_phase(cluster: Cluster, sql: Sql, workdir, http, project, name: str) -> Phase:
    """Fresh sessions (a new proxy; the worker's after a restart) plan at this size: the
    traffic goes through them, and their plans are read from the log."""
    log = ServerLog(cluster)
    start = log.end()
    proxy = start_proxy(cluster, workdir)
    try:
        before = rows_per_table(sql, project.id)
        send_traffic(sql, proxy, http, project, name)
        log.flush(sql, start)
    except BaseException:
        print(f"--- ingest-proxy ---\n{proxy.log_text(40)}")
        raise
    finally:
        proxy.stop()
    after = rows_per_table(sql, project.id)
    assert sql.queue_errors(project.id) == [], name
    assert [t for t in DIGESTED_TABLES if after[t] <= before[t]] == [], (name, before, after)
    plans = log.plans(start)
    # The log holds both paths: the proxy stored the payloads, the worker wrote the rows.
    written = {who: set().union(*(written_tables(p) for p in plans if p.who == who))
               for who in ("proxy", "digest worker")}
    assert {"archive", "queue"} <= written["proxy"], (name, written)
    assert set(DIGESTED_TABLES) <= written["digest worker"], (name, written)
    scanned = set().union(*(full_scans(p) for p in plans))
    return Phase(name, plans, {table: row_count(sql, table) for table in scanned})


def findings(phase: Phase) -> dict[str, Plan]:
    """What an operator would flag in a phase's plans, each with the first plan showing it."""
    found = {}
    for plan in phase.plans:
        prefix = f"{phase.name}: {plan.who}: {plan.statement}"
        if "JIT" in plan.doc:
            found.setdefault(f"{prefix}: JIT ({plan.doc['JIT'].get('Functions')} functions,"
                             f" plan cost {plan.doc['Plan']['Total Cost']})", plan)
        for table in sorted(full_scans(plan)):
            if phase.rows[table] > BIG_TABLE:
                found.setdefault(f"{prefix}: Seq Scan on {table} ({phase.rows[table]:,} rows)", plan)
    return found


def test_ingest_and_digest_plans_have_no_jit_and_no_big_seq_scan(tracker, workdir, http):
    cluster, sql = tracker
    assert sql.scalar("SELECT pg_jit_available()"), "no JIT here: a plan could not show it"
    project = create_project(sql, "plans")
    timings, phases = {}, []

    t = time.monotonic()
    phases.append(run_phase(cluster, sql, workdir, http, project, "empty"))
    timings["empty"] = time.monotonic() - t

    t = time.monotonic()
    load_benchmark(sql)
    timings["bulk load"] = time.monotonic() - t
    # A restart gives the worker new sessions, which plan for the tables as they are now.
    cluster.restart()
    assert analyzed_tables(sql) == []
    t = time.monotonic()
    phases.append(run_phase(cluster, sql, workdir, http, project, "never analyzed"))
    timings["never analyzed"] = time.monotonic() - t

    t = time.monotonic()
    sql.rows("ANALYZE")
    cluster.restart()
    assert {"archive", "event", "issue"} <= set(analyzed_tables(sql))
    phases.append(run_phase(cluster, sql, workdir, http, project, "analyzed"))
    timings["analyzed"] = time.monotonic() - t

    found = {}
    for phase in phases:
        statements = {(p.who, p.statement) for p in phase.plans}
        print(f"{phase.name}: {len(phase.plans)} plans of {len(statements)} statements")
        found.update(findings(phase))
    print("seconds:", {k: round(v, 1) for k, v in timings.items()})
    for problem, plan in found.items():
        print(f"\n=== {problem}\n{plan.where}\n{plan.doc['Query Text']}\n{outline(plan.doc['Plan'])}")
        if "JIT" in plan.doc:
            print(f"JIT: {json.dumps(plan.doc['JIT'])}")
    assert not found, "plans an operator would flag:\n" + "\n".join(found)
