#!/usr/bin/env bash
# Installs what building and running pg_crashcache needs on Debian 12, idempotently:
# PostgreSQL 15 with its server headers and pg_cron, clang for bindgen, sudo for pgrx's --runas,
# cargo-pgrx 0.18.0, and pgrx's configuration. Sourced by run and test.
set -euo pipefail

export PATH="$HOME/.cargo/bin:$PATH"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGRX_VERSION=0.18.0

need_apt=()
for pkg in sudo postgresql-15 postgresql-15-cron postgresql-server-dev-15 libclang-dev clang; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
    echo "==> installing ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
    echo "==> installing cargo-pgrx $PGRX_VERSION (a few minutes on 2 cores)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

if ! grep -qs "pg15" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
    cargo pgrx init --pg15 "$PG_CONFIG"
fi
