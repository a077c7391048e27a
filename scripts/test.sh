#!/usr/bin/env bash
# Set up ./.venv with the test tools and run the whole test suite: lint, then pytest on SQLite,
# then the web tests again on PostgreSQL. Installs PostgreSQL and chromium with apt-get when missing
# (as root). Says loudly what it skipped and why; under CI=true nothing may be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
services="$(bash scripts/services.sh | tail -1)"
echo "== services: $services"
export WHATWORKS_DATA_DIR="${WHATWORKS_DATA_DIR:-$(mktemp -d)}"
if [ "${CI:-}" = "true" ]; then
  export WHATWORKS_NO_SKIP=1
fi
echo "== ruff"
.venv/bin/ruff check .
# The PostgreSQL run of the web tests goes alongside the SQLite run (each is one Python process, and
# the machine has two cores or more), with its own data folder and pytest cache off; its output is
# printed when both are done. WHATWORKS_TEST_SERIAL=1 runs them one after the other instead.
# (The Redis cache tests are safe side by side: each run uses a key prefix of its own.)
status=0
pg_pid=""
pg_url="postgresql://postgres@127.0.0.1:5432/whatworks"
pg_run() {
  WHATWORKS_DATA_DIR="$(mktemp -d)" DATABASE_URL="$pg_url" \
    .venv/bin/python -m pytest tests/web -m "not browser" -p no:cacheprovider "$@"
}
if [[ "$services" == *"postgres=yes"* ]]; then
  if [ "${WHATWORKS_TEST_SERIAL:-}" != "1" ]; then
    pg_log="$(mktemp)"
    echo "== pytest (PostgreSQL: the web tests again), alongside the SQLite run; its output follows it"
    pg_run "$@" >"$pg_log" 2>&1 &
    pg_pid=$!
  fi
else
  echo "!! SKIPPED: the PostgreSQL run of the web tests (no server on 127.0.0.1:5432)" >&2
  if [ "${CI:-}" = "true" ]; then status=1; fi
fi
echo "== pytest (SQLite)"
.venv/bin/python -m pytest "$@" || status=$?
if [[ "$services" == *"postgres=yes"* ]]; then
  echo "== pytest (PostgreSQL: the web tests again)"
  if [ -n "$pg_pid" ]; then
    pg_status=0
    wait "$pg_pid" || pg_status=$?
    cat "$pg_log"
    rm -f "$pg_log"
    if [ "$pg_status" != 0 ]; then status=$pg_status; fi
  else
    pg_run "$@" || status=$?
  fi
fi
exit $status
