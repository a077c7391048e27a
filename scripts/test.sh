#!/usr/bin/env bash
# Set up ./.venv with the test tools and run the whole test suite (lint, then pytest).
# Anything that cannot run here is reported loudly; under CI=true nothing may be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
echo "== ruff"
.venv/bin/ruff check .
echo "== pytest"
if [ "${CI:-}" = "true" ]; then
  export WHATWORKS_NO_SKIP=1
fi
exec .venv/bin/python -m pytest "$@"
