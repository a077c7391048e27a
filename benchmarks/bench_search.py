"""Server time of store searches (``/api/interventions?q=``), in process, on SQLite or PostgreSQL.

Builds a fresh database (SQLite in a temporary directory, or the PostgreSQL database named by
``--postgres-url``, dropped and created afresh), loads the demo store or an illustrative store of
``--interventions`` interventions (``generate_store``), then times each query through Django's test
client: the first call (index build, model load) and the median of ``--repeats`` further calls.
The page cache is bypassed (the API is not page-cached), so these are uncached server times.

    .venv/bin/python benchmarks/bench_search.py                       # demo store, SQLite
    .venv/bin/python benchmarks/bench_search.py --interventions 1000  # generated store
    .venv/bin/python benchmarks/bench_search.py --postgres-url postgresql://postgres@127.0.0.1:5432/x
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["FGC", "family group conferencing", "famly group conference", "entry to care",
           "help for teenagers on the edge of care", "training for foster parents", "Mockingjay"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interventions", type=int, default=0, help="0: the demo store")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--postgres-url", default="")
    ap.add_argument("--profile", default="", help="a query to profile (cProfile, 5 calls)")
    args = ap.parse_args(argv)
    os.environ["WHATWORKS_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-search-")
    if args.postgres_url:
        os.environ["DATABASE_URL"] = args.postgres_url
        import psycopg

        base, _, name = args.postgres_url.rpartition("/")
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatworks.web.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    if args.interventions:
        from whatworks.web.store.management.commands.generate_store import generate_store

        generate_store(interventions=args.interventions, studies=args.interventions * 2,
                       findings=args.interventions * 10, seed=20261123)
    else:
        from whatworks.web.store.demo import load_demo

        load_demo()
    client = Client()
    print(f"database: {connection.vendor}; interventions: "
          f"{'demo store' if not args.interventions else args.interventions}")
    from whatworks.web.store.queries import Filters, search_interventions, visible_interventions

    def search_only(q):
        qs, _ = search_interventions(visible_interventions(None), Filters.from_query({"q": q}))
        return list(qs.values_list("pk", flat=True))

    print("| query | results | API first call (ms) | API median of next (ms) | search alone, median (ms) |")
    print("|---|---|---|---|---|")
    for q in ["", *QUERIES]:
        t0 = time.perf_counter()
        r = client.get("/api/interventions", {"q": q})
        first = (time.perf_counter() - t0) * 1000
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            client.get("/api/interventions", {"q": q})
            times.append((time.perf_counter() - t0) * 1000)
        alone = []
        for _ in range(args.repeats if q else 0):
            t0 = time.perf_counter()
            search_only(q)
            alone.append((time.perf_counter() - t0) * 1000)
        print(f"| {q or '(no search: first page of 100)'} | {r.headers.get('X-Total-Count')} | {first:.0f} | "
              f"{statistics.median(times):.1f} | {statistics.median(alone) if alone else 0:.1f} |")
    if args.profile:
        import cProfile
        import pstats

        out = str(Path(tempfile.gettempdir()) / "search.prof")
        cProfile.runctx("for _ in range(5): search_only(args.profile)", globals(), locals(), out)
        pstats.Stats(out).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
