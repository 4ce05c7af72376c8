#!/bin/sh
# Run once by the postgres image's entrypoint, on an empty data directory: the extension, a
# first project and the roles (sql/setup.sql), then the proxy's password. The same steps as
# scripts/run; the password comes from the environment (.env), never from a default.
set -eu
: "${CRASHCACHE_PROXY_PASSWORD:?set CRASHCACHE_PROXY_PASSWORD (see .env.example)}"
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f /docker-entrypoint-initdb.d/crashcache/setup.sql
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -v pw="$CRASHCACHE_PROXY_PASSWORD" <<'SQL'
ALTER ROLE crashcache_proxy PASSWORD :'pw';
SQL
