"""Server time of the places pages: the first view of an authority, and warm views.

Each run is a fresh Python process (``--runs`` of them) that starts the site the way a server does
(``import whatworks.web.wsgi``, timed as "start-up") and then, through Django's test client (server
time only: no network, no browser), asks for

- the first view of an authority page, the first request the process serves;
- the first view of each of ``--authorities`` other authorities (each page's first view);
- the same pages again (warm views);
- the three charts (SVG) of one authority, first render.

Target (issue 10): an authority page under 300 ms on its first view.

    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/bench_places.py
    PYTHONPATH=/path/to/older/src .venv/bin/python benchmarks/bench_places.py --label before

The child processes use the same ``PYTHONPATH``, so pointing it at another checkout's ``src``
measures that code with the same script.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CODES = ["E06000001", "E08000025", "E09000002", "E10000016", "E06000047", "E08000037",
         "E09000033", "E10000030", "E06000018", "E08000003", "E06000052"]
TARGET_MS = 300.0

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatworks.web.settings")
import whatworks.web.wsgi  # noqa: F401  (what a server imports; warms the places data if it can)
startup = time.perf_counter() - t0
from django.test import Client
c = Client()
codes = json.loads(sys.argv[1])

def get(path):
    t = time.perf_counter()
    r = c.get(path)
    assert r.status_code == 200, (path, r.status_code)
    return (time.perf_counter() - t) * 1000

first = get(f"/places/{codes[0]}/")
others = [get(f"/places/{code}/") for code in codes[1:]]
warm = [get(f"/places/{code}/") for code in codes]
charts = {k: get(f"/places/{codes[-1]}/{k}.svg") for k in ("trend", "funnel", "deprivation")}
print(json.dumps({"startup_s": startup, "first_ms": first, "others_ms": others, "warm_ms": warm,
                  "charts_ms": charts}))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="fresh processes (default 3)")
    ap.add_argument("--authorities", type=int, default=10,
                    help="other authorities viewed after the first (default 10)")
    ap.add_argument("--label", default="this tree")
    args = ap.parse_args(argv)
    codes = CODES[: args.authorities + 1]
    runs = []
    for _ in range(args.runs):
        env = dict(os.environ, WHATWORKS_DATA_DIR=tempfile.mkdtemp(prefix="bench-places-"))
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(codes)], env=env,
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = statistics.median
    first = [r["first_ms"] for r in runs]
    others = [x for r in runs for x in r["others_ms"]]
    warm = [x for r in runs for x in r["warm_ms"]]
    print(f"places pages, {args.label}: {args.runs} fresh processes, Django test client "
          "(server time)")
    print(f"  start-up (import whatworks.web.wsgi): median {med(r['startup_s'] for r in runs):.2f} s")
    print(f"  first request of the process (authority page): median {med(first):.0f} ms, "
          f"max {max(first):.0f} ms")
    print(f"  first view of {len(others)} other authority pages: median {med(others):.0f} ms, "
          f"max {max(others):.0f} ms")
    print(f"  warm views ({len(warm)}): median {med(warm):.1f} ms, max {max(warm):.1f} ms")
    for kind in ("trend", "funnel", "deprivation"):
        xs = [r["charts_ms"][kind] for r in runs]
        print(f"  {kind}.svg first render: median {med(xs):.0f} ms, max {max(xs):.0f} ms")
    worst = max(first + others)
    print(f"  worst first view {worst:.0f} ms: {'under' if worst < TARGET_MS else 'OVER'} the "
          f"{TARGET_MS:.0f} ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
