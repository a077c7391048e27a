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
echo "== pytest (SQLite)"
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [[ "$services" == *"postgres=yes"* ]]; then
  echo "== pytest (PostgreSQL: the web tests again)"
  DATABASE_URL="postgresql://postgres@127.0.0.1:5432/whatworks" \
    .venv/bin/python -m pytest tests/web -m "not browser" "$@" || status=$?
else
  echo "!! SKIPPED: the PostgreSQL run of the web tests (no server on 127.0.0.1:5432)" >&2
  if [ "${CI:-}" = "true" ]; then status=1; fi
fi
exit $status
