#!/usr/bin/env bash
# The main job: set up ./.venv and run the demo meta-analysis end to end
# (a CSV of studies in; a summary table, JSON and a forest plot out in ./demo-output).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/whatworks demo --output-dir demo-output
