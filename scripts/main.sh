#!/usr/bin/env bash
# The main job: set up ./.venv and run the Evidence Store web platform on embedded SQLite, with the
# demo content, at http://127.0.0.1:8000 (database and secret key in ./var).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/whatworks serve --host 127.0.0.1 --port 8000
