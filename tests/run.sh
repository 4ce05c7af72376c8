#!/usr/bin/env bash
# Runs the end-to-end suite: builds the proxy, prepares a Python venv with the real Sentry SDK
# and the test dependencies, and runs pytest (arguments are passed on). Expects the extension
# installed (release build): scripts/test does that first.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS=${CRASHCACHE_SDK_HARNESS:-$REPO/../shared/sdk-harness}
VENV=${CRASHCACHE_TEST_VENV:-$REPO/target/pytest-venv}

cargo build --release -q -p ingest-proxy --manifest-path "$REPO/Cargo.toml"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check \
    -r "$HARNESS/py/requirements.txt" -r "$REPO/tests/requirements.txt"

export CRASHCACHE_SDK_HARNESS="$HARNESS" CRASHCACHE_SDK_PYTHON="$VENV/bin/python"
cd "$REPO/tests"
set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
# pytest says 5 when it collected no test: that is a failure here, not a pass.
if [ "$status" -eq 5 ]; then
    echo "no end-to-end test was collected" >&2
    exit 1
fi
exit "$status"
