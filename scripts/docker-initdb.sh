#!/bin/sh
# The setup of scripts/run for containers: the extension, pg_cron and its maintenance jobs, a
# first project and the roles (sql/setup.sql), then the passwords of the proxy's roles
# (ingest, the Web API, the web UI and alert delivery) and Metabase's. Safe to run again. Two callers
# (Dockerfile.postgres): the postgres image's entrypoint on an empty data directory, over
# its socket, and docker-compose.yml's `setup`
# service on every start, over TCP (PGHOST, PGPASSWORD), so that a new image's extension update
# and new roles reach a volume made by an earlier one.
# The passwords come from the environment (.env), never from a default, and reach psql with
# \getenv, never on a command line.
set -eu
: "${CRASHCACHE_PROXY_PASSWORD:?set CRASHCACHE_PROXY_PASSWORD (see .env.example)}"
: "${CRASHCACHE_METABASE_PASSWORD:?set CRASHCACHE_METABASE_PASSWORD (see .env.example)}"
: "${CRASHCACHE_API_PASSWORD:?set CRASHCACHE_API_PASSWORD (see .env.example)}"
: "${CRASHCACHE_UI_PASSWORD:?set CRASHCACHE_UI_PASSWORD (see .env.example)}"
: "${CRASHCACHE_ALERTS_PASSWORD:?set CRASHCACHE_ALERTS_PASSWORD (see .env.example)}"
crashcache_psql() {
    psql -X -q -v ON_ERROR_STOP=1 -U "${POSTGRES_USER:-postgres}" -d "${POSTGRES_DB:-crashcache}" "$@"
}
crashcache_psql -f /usr/local/share/crashcache/sql/setup.sql
crashcache_psql <<'SQL'
\getenv proxy_password CRASHCACHE_PROXY_PASSWORD
\getenv metabase_password CRASHCACHE_METABASE_PASSWORD
\getenv api_password CRASHCACHE_API_PASSWORD
\getenv ui_password CRASHCACHE_UI_PASSWORD
\getenv alerts_password CRASHCACHE_ALERTS_PASSWORD
ALTER ROLE crashcache_proxy PASSWORD :'proxy_password';
ALTER ROLE crashcache_metabase PASSWORD :'metabase_password';
ALTER ROLE crashcache_api_proxy PASSWORD :'api_password';
ALTER ROLE crashcache_ui_proxy PASSWORD :'ui_password';
ALTER ROLE crashcache_alerts_proxy PASSWORD :'alerts_password';
SQL
