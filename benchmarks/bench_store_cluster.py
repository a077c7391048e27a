"""The Evidence Store under load as deployed on several hosts: two ``whatworks serve`` processes
(two "hosts" on two loopback ports, each with a data directory of its own) sharing ONE PostgreSQL
database and ONE Redis cache (``WHATWORKS_CACHE_URL``). Issue 10's target: p95 under 100 ms at 50
clients, including uncached pages; the server time of an uncached intervention page under 50 ms;
an edit made through one process shown by the other at once.

For each store (the demo content, and a generated store of 1,000 interventions, 20,000 studies and
100,000 findings; ``--quick``: 100 / 2,000 / 10,000) it:

1. creates the PostgreSQL database afresh and empties its Redis database; loads the store; starts
   server A and server B (``--workers`` x ``--threads`` each) with ``WHATWORKS_SERVER_TIMING=1``,
   so every answer says how long Django took, how many queries it made and whether the page cache
   answered (``Server-Timing``);
2. **server time**: one client, one request at a time, alternating A and B, every URL new (an
   unseen query string), for each kind of page; the time inside the server is read from
   ``Server-Timing`` (app: wall time; cpu: the serving thread's CPU time, less disturbed by other
   processes on a busy machine), next to the client's latency on loopback;
3. **cross-process invalidation**: rounds of: the page is cached on the reading process (checked:
   ``cache;desc=hit``), an administrator's API edit (``PATCH /api/interventions/<slug>``, the write
   service, then ``POST /api/interventions/<slug>/publish``) is made on the other process, and the
   reading process is asked for the page as soon as the edit's answer arrives: it must show the
   new text at once (A edits / B reads, then B / A);
4. **warm-up**: every cacheable URL once (the cache is shared, so once is enough for both);
5. **measured mixed load**: ``--connections`` closed-loop clients (half on A, half on B) for
   ``--duration`` seconds, each request a random kind of page by weight (intervention page, list
   page, filtered or search list, compare, API list); ``--uncached`` of them (default 10%) made
   unique with an unseen query string so that no cache can answer; and meanwhile an editor changes
   an intervention through the API every ``--edit-every`` seconds (alternately on A and B), which
   renews, for both processes, the cached pages showing it (its own, the lists that show it or
   search text), and reads the page back from the other process.
   Reported: p50/p95/p99 per scenario, requests within 1 s after an edit, throughput, errors,
   the page cache's answers (hit/miss from ``Server-Timing``) and the load average.

Latency is from sending the request to the last byte of the body (the client from bench_store.py:
asyncio, keep-alive, loopback only). Non-200 answers, truncated pages, broken connections and 10 s
timeouts are errors.

    .venv/bin/python benchmarks/bench_store_cluster.py            # demo + 1,000 interventions
    .venv/bin/python benchmarks/bench_store_cluster.py --quick    # under 2 minutes

The PostgreSQL database named in ``--postgres-url`` (default .../whatworks_bench_cluster) is dropped
and created afresh, and the Redis database in ``--redis-url`` (default redis://127.0.0.1:6379/12) is
emptied (FLUSHDB): point neither at anything you need.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import numpy as np
from bench_store import (
    QUICK,
    ROOT,
    Connection,
    Server,
    _run,
    api_list_paths,
    index_paths,
    intervention_paths,
    postgres_version,
    prepare_postgres,
)

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/whatworks_bench_cluster"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
TARGET_P95_MS = 100.0
TARGET_SERVER_MS = 50.0
FULL = dict(interventions=1000, studies=20000, findings=100000)
#: the mix of a reader's pages (weights)
MIX = {"intervention page": 0.35, "list page": 0.10, "filtered/search list": 0.20,
       "compare": 0.10, "API list": 0.25}
AFTER_EDIT_S = 1.0
TIMING = re.compile(r"app;dur=([\d.]+).*?cpu;[^,]*?dur=([\d.]+).*?db;desc=\"(\d+) queries\";"
                    r"dur=([\d.]+).*?cache;desc=(\w+)")


# ----------------------------------------------------------------------------- servers

def flush_redis(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    return client.info("server")["redis_version"]


def admin_token(env) -> str:
    env = dict(env, WHATWORKS_PASSWORD="bench-admin-" + uuid.uuid4().hex)
    _, out = _run([sys.executable, "-m", "whatworks.cli", "user", "bench-admin", "--role",
                   "admin"], env, "whatworks user")
    return out.split()[-1]


# ----------------------------------------------------------------------------- the pages

def page_sets(port: int, seed: int) -> dict[str, list[str]]:
    interventions = intervention_paths(port)
    slugs = [p.split("/")[2] for p in interventions]
    pages = max(1, -(-len(slugs) // 25))  # the index shows 25 a page
    lists = ["/", "/outcomes/"] + [f"/interventions/?page={k}" for k in range(1, pages + 1)]
    lists += [f"/interventions/?sort={s}&page={k}" for s in ("-name", "updated", "cost")
              for k in range(1, min(pages, 4) + 1)]
    rng = random.Random(seed)
    compare = sorted({"/compare/?" + urllib.parse.urlencode(
        [("i", s) for s in rng.sample(slugs, min(len(slugs), rng.randint(2, 3)))])
        for _ in range(200)})
    return {"intervention page": interventions, "list page": lists,
            "filtered/search list": index_paths(port, seed=seed),
            "compare": compare, "API list": api_list_paths(port, seed=seed)}


def bust(path: str, tag: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}bust={tag}"


def _ok(path: str, status: int, body: bytes) -> str | None:
    if status != 200:
        return f"HTTP {status}"
    if not body.rstrip().endswith(b"]" if path.startswith("/api/") else b"</html>"):
        return f"truncated ({len(body)} bytes)"
    return None


def _timing(headers: dict) -> dict:
    """The server's own figures (``Server-Timing``): app and cpu ms, queries, db ms, cache."""
    found = TIMING.search(headers.get("server-timing", ""))
    if not found:
        return {"cache": "?"}
    return {"app": float(found[1]), "cpu": float(found[2]), "queries": int(found[3]),
            "db": float(found[4]), "cache": found[5]}


async def fetch(conn: Connection, method: str, path: str, body: bytes = b"",
                headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request, retried once on a new connection when a kept-alive one had been closed while
    idle (gunicorn closes idle keep-alive connections after 2 s)."""
    reused = conn.writer is not None and conn.used
    try:
        return await conn.request(method, path, body, headers)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        conn.close()
        if not reused or getattr(exc, "partial", b""):
            raise
    return await conn.request(method, path, body, headers)


def summarise(ms: list[float]) -> dict:
    a = np.array(ms) if ms else np.array([np.nan])
    return {"n": len(ms), "p50_ms": float(np.percentile(a, 50)),
            "p95_ms": float(np.percentile(a, 95)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(np.max(a))}


# ----------------------------------------------------------------------------- 2. server time

async def server_time(ports, sets, n, seed) -> list[dict]:
    conns = [Connection(p) for p in ports]
    rng = random.Random(seed)
    out = []
    try:
        for kind, paths in sets.items():
            client, app, cpu, queries, errors, caches = [], [], [], [], [], {}
            for i in range(n):
                path = bust(rng.choice(paths), f"st{seed}-{i}")
                conn = conns[i % 2]
                start = time.perf_counter()
                try:
                    status, headers, body = await fetch(conn, "GET", path)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    conn.close()
                    errors.append(f"{path}: {type(exc).__name__}")
                    continue
                elapsed = (time.perf_counter() - start) * 1000
                problem = _ok(path, status, body)
                timing = _timing(headers)
                if problem or "app" not in timing:
                    errors.append(f"{path}: {problem or 'no Server-Timing header'}")
                    continue
                client.append(elapsed)
                app.append(timing["app"])
                cpu.append(timing["cpu"])
                queries.append(timing["queries"])
                caches[timing["cache"]] = caches.get(timing["cache"], 0) + 1
            out.append({"page": kind, "server": summarise(app), "cpu": summarise(cpu),
                        "client": summarise(client),
                        "queries_median": float(np.median(queries)) if queries else None,
                        "queries_max": max(queries) if queries else None,
                        "cache": caches, "errors": len(errors), "error_examples": errors[:3]})
    finally:
        for c in conns:
            c.close()
    return out


# ----------------------------------------------------------------------------- 3. invalidation

class Editor:
    """An administrator editing interventions through the API (the write service) on a process."""

    def __init__(self, token: str):
        self.token = token
        self.originals: dict[str, str] = {}
        #: interventions publishing refuses (nothing to show: no finding with an effect size, as
        #: two of the demo's evidence-gap pages); edits go to others, since they test the cache
        self.refused: set[str] = set()

    def choose(self, rng: random.Random, slugs: list[str]) -> str:
        return rng.choice([s for s in slugs if s not in self.refused])

    async def edit(self, conn: Connection, slug: str, marker: str) -> tuple[int, float]:
        auth = {"Authorization": f"Token {self.token}"}
        if slug not in self.originals:
            status, _, body = await fetch(conn, "GET", f"/api/interventions/{slug}", headers=auth)
            self.originals[slug] = json.loads(body)["summary"] if status == 200 else ""
        summary = f"{self.originals[slug]} (Checked {marker}.)".strip()
        payload = json.dumps({"summary": summary}).encode()
        start = time.perf_counter()
        status, _, _ = await fetch(conn, "PATCH", f"/api/interventions/{slug}", payload,
                                   {**auth, "Content-Type": "application/json"})
        if status == 200:  # an administrator publishes what was changed (a draft revision, once
            # the editorial workflow keeps an editor's changes from the public until published)
            status, _, _ = await fetch(conn, "POST", f"/api/interventions/{slug}/publish",
                                       headers=auth)
            if status == 400:
                self.refused.add(slug)
        return status, (time.perf_counter() - start) * 1000


async def invalidation_check(ports, slugs, token, rounds, seed) -> dict:
    editor = Editor(token)
    rng = random.Random(seed)
    conns = [Connection(p) for p in ports]
    results = []
    try:
        r = 0
        while len(results) < rounds:
            writer, reader = (0, 1) if r % 2 == 0 else (1, 0)
            r += 1
            slug = editor.choose(rng, slugs)
            page = f"/interventions/{slug}/"
            await fetch(conns[reader], "GET", page)
            _, headers, _ = await fetch(conns[reader], "GET", page)
            warm = _timing(headers)["cache"]
            marker = f"bench{seed}x{r}x{uuid.uuid4().hex[:8]}"
            status, edit_ms = await editor.edit(conns[writer], slug, marker)
            if slug in editor.refused:
                continue  # not publishable: nothing was published, so nothing to show; next one
            edited = time.perf_counter()
            rstatus, rheaders, body = await fetch(conns[reader], "GET", page)
            read_ms = (time.perf_counter() - edited) * 1000
            results.append({"writer": "AB"[writer], "reader": "AB"[reader], "slug": slug,
                            "cached_before": warm, "edit_status": status,
                            "edit_ms": round(edit_ms, 1), "read_status": rstatus,
                            "read_cache": _timing(rheaders)["cache"],
                            "shown": marker.encode() in body, "read_ms": round(read_ms, 1)})
    finally:
        for c in conns:
            c.close()
    shown = sum(r["shown"] for r in results)
    return {"rounds": len(results), "shown_at_once": shown,
            "cached_before": sum(r["cached_before"] == "hit" for r in results),
            "max_read_ms": max((r["read_ms"] for r in results), default=float("nan")),
            "median_edit_ms": float(np.median([r["edit_ms"] for r in results])) if results else None,
            "failures": [r for r in results if not r["shown"] or r["edit_status"] != 200][:5]}


# ----------------------------------------------------------------------------- 4-5. the load

async def warm_up(ports, paths, connections) -> int:
    queue = list(paths)
    errors = 0

    async def client(port):
        nonlocal errors
        conn = Connection(port)
        try:
            while queue:
                path = queue.pop()
                try:
                    status, _, body = await fetch(conn, "GET", path)
                    errors += _ok(path, status, body) is not None
                except (OSError, asyncio.IncompleteReadError):
                    conn.close()
                    errors += 1
        finally:
            conn.close()
    await asyncio.gather(*(client(ports[c % 2]) for c in range(connections)))
    return errors


async def mixed_load(ports, sets, token, args, seed) -> dict:
    kinds, weights = list(MIX), np.array(list(MIX.values()))
    cum = np.cumsum(weights / weights.sum())
    records = []  # (scenario, port index, start, latency ms, error or None, cache)
    edits = []    # (commit time, result dict)
    state = {"sent": 0, "last_edit": -1e9, "busted": 0}
    start = time.perf_counter()
    deadline = start + args.duration

    async def client(c):
        rng = random.Random(seed * 1000 + c)
        which = c % 2
        conn = Connection(ports[which])
        try:
            while time.perf_counter() < deadline:
                kind = kinds[int(np.searchsorted(cum, rng.random(), side="right"))]
                kind = kind if kind in sets else "intervention page"
                path = rng.choice(sets[kind])
                uncached = rng.random() < args.uncached
                if uncached:
                    state["busted"] += 1
                    path = bust(path, f"load{seed}-{state['busted']}")
                t0 = time.perf_counter()
                error, cache = None, "?"
                try:
                    async with asyncio.timeout(10.0):
                        status, headers, body = await fetch(conn, "GET", path)
                    error = _ok(path, status, body)
                    cache = _timing(headers)["cache"]
                except TimeoutError:
                    conn.close()
                    error = "timeout after 10 s"
                except (OSError, asyncio.IncompleteReadError) as exc:
                    conn.close()
                    error = type(exc).__name__
                records.append((kind + (", uncached" if uncached else ""), which, t0,
                                (time.perf_counter() - t0) * 1000, error and f"{path}: {error}",
                                cache))
        finally:
            conn.close()

    async def editor_loop():
        editor = Editor(token)
        rng = random.Random(seed)
        conns = [Connection(p) for p in ports]
        slugs = [p.split("/")[2] for p in sets["intervention page"]]
        n = 0
        try:
            while True:
                await asyncio.sleep(args.edit_every)
                if time.perf_counter() > deadline - 1:
                    return
                writer = n % 2
                slug = editor.choose(rng, slugs)
                marker = f"load{seed}x{n}x{uuid.uuid4().hex[:6]}"
                status, edit_ms = await editor.edit(conns[writer], slug, marker)
                if slug in editor.refused:
                    continue  # not publishable (see Editor.refused): try another next time
                committed = time.perf_counter()
                state["last_edit"] = committed
                _, _, body = await fetch(conns[1 - writer], "GET", f"/interventions/{slug}/")
                edits.append({"writer": "AB"[writer], "status": status, "edit_ms": round(edit_ms, 1),
                              "shown_by_other": marker.encode() in body,
                              "read_ms": round((time.perf_counter() - committed) * 1000, 1),
                              "at": committed})
                n += 1
        finally:
            for c in conns:
                c.close()

    load_before = os.getloadavg()
    cpu = time.process_time()
    tasks = [client(c) for c in range(args.connections)]
    if args.edit_every > 0:
        tasks.append(editor_loop())
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    edit_times = np.array(sorted(e["at"] for e in edits))

    def after_edit(t0):
        if not len(edit_times):
            return False
        i = np.searchsorted(edit_times, t0, side="right") - 1
        return i >= 0 and t0 - edit_times[i] <= AFTER_EDIT_S

    groups: dict[str, list] = {}
    for rec in records:
        groups.setdefault(rec[0], []).append(rec)
        groups.setdefault("all requests", []).append(rec)
        groups.setdefault(f"all requests, server {'AB'[rec[1]]}", []).append(rec)
        if after_edit(rec[2]):
            groups.setdefault(f"within {AFTER_EDIT_S:g} s after an edit", []).append(rec)
    order = [name for kind in MIX for name in (kind, f"{kind}, uncached")]
    order += ["within 1 s after an edit", "all requests, server A", "all requests, server B",
              "all requests"]
    rows = []
    for name in order:
        recs = groups.get(name)
        if not recs:
            continue
        ok = [r[3] for r in recs if r[4] is None]
        errors = [r[4] for r in recs if r[4] is not None]
        caches = {}
        for r in recs:
            caches[r[5]] = caches.get(r[5], 0) + 1
        rows.append({"scenario": name, "requests": len(recs), "rps": round(len(recs) / wall, 1),
                     **summarise(ok), "errors": len(errors),
                     "error_examples": sorted(set(errors))[:3], "cache": caches})
    for e in edits:
        e.pop("at")
    return {"rows": rows, "seconds": round(wall, 1), "client_cpu_share": round(cpu / wall, 2),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()], "edits": edits}


# ----------------------------------------------------------------------------- one store

def bench_store(store: str, args, sizes: dict, workdir: Path) -> dict:
    base = dict(os.environ, DATABASE_URL=args.postgres_url, WHATWORKS_CACHE_URL=args.redis_url,
                WHATWORKS_SERVER_TIMING="1", WHATWORKS_API_ANON_RATE="off",
                WHATWORKS_API_USER_RATE="off", WHATWORKS_LOG_LEVEL="ERROR",
                WHATWORKS_SECRET_KEY="bench-" + uuid.uuid4().hex,
                DJANGO_SETTINGS_MODULE="whatworks.web.settings",
                PYTHONPATH=str(ROOT / "src"))
    envs = [dict(base, WHATWORKS_DATA_DIR=str(workdir / f"{store}-{h}")) for h in "ab"]
    prepare_postgres(args.postgres_url)
    info = {"store": store, "postgres": postgres_version(args.postgres_url),
            "redis": flush_redis(args.redis_url)}
    started = time.perf_counter()
    servers = []
    try:
        if store == "generated":
            _run([sys.executable, "-m", "django", "migrate", "-v", "0"], envs[0], "migrate")
            _, out = _run([sys.executable, "-m", "django", "generate_store",
                           *[f"--{k}={v}" for k, v in sizes.items()], f"--seed={args.seed}"],
                          envs[0], "generate_store")
            info["generated"] = out.strip().splitlines()[-1]
            print(f"[{store}] {info['generated']} in {time.perf_counter() - started:.0f} s",
                  flush=True)
        servers.append(Server(envs[0], name="server A", workers=args.workers, threads=args.threads,
                              demo=store == "demo", log_path=workdir / f"{store}-a.log"))
        servers[0].wait_ready()  # A migrates and loads the demo; then B starts on the same database
        servers.append(Server(envs[1], name="server B", workers=args.workers, threads=args.threads,
                              demo=False, log_path=workdir / f"{store}-b.log"))
        servers[1].wait_ready()
        info["load_seconds"] = round(time.perf_counter() - started, 1)
        ports = [s.port for s in servers]
        token = admin_token(envs[0])
        sets = page_sets(ports[0], args.seed)
        info["distinct_urls"] = {k: len(v) for k, v in sets.items()}
        print(f"[{store}] loaded in {info['load_seconds']:.0f} s; "
              f"{info['distinct_urls']['intervention page']} interventions; servers on "
              f"{ports[0]} and {ports[1]}", flush=True)
        info["server_time"] = asyncio.run(server_time(ports, sets, args.server_time_requests,
                                                      args.seed))
        st = info["server_time"][0]
        print(f"[{store}] server time, uncached intervention page: p95 "
              f"{st['server']['p95_ms']:.1f} ms inside the server (CPU p95 {st['cpu']['p95_ms']:.1f}"
              f" ms), {st['client']['p95_ms']:.1f} ms at the client; {st['queries_median']:.0f} "
              "queries", flush=True)
        slugs = [p.split("/")[2] for p in sets["intervention page"]]
        info["invalidation"] = asyncio.run(invalidation_check(ports, slugs, token,
                                                              args.invalidation_rounds, args.seed))
        inv = info["invalidation"]
        print(f"[{store}] cross-process invalidation: {inv['shown_at_once']}/{inv['rounds']} shown "
              f"by the other process on its first read (max {inv['max_read_ms']:.0f} ms after the "
              f"edit's answer)", flush=True)
        every = [p for paths in sets.values() for p in paths]
        info["warm_up_errors"] = asyncio.run(warm_up(ports, every, args.connections))
        info["load"] = asyncio.run(mixed_load(ports, sets, token, args, args.seed))
        row = info["load"]["rows"][-1]
        print(f"[{store}] mixed load: {row['requests']:,} requests in "
              f"{info['load']['seconds']:.0f} s, p95 {row['p95_ms']:.1f} ms, "
              f"{row['errors']} errors", flush=True)
    finally:
        for s in servers:
            s.stop()
        if not args.keep:
            prepare_postgres(args.postgres_url, create=False)
            flush_redis(args.redis_url)
    return info


# ----------------------------------------------------------------------------- report

def _f(ms: float) -> str:
    return "-" if ms != ms else (f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}")


def print_report(runs: list[dict]) -> bool:
    met = True
    for run in runs:
        load = run["load"]
        print(f"\n### {run['store']} store ({run['distinct_urls']['intervention page']} "
              f"interventions; PostgreSQL {run['postgres']}, Redis {run['redis']})\n")
        print(f"Mixed load: {load['seconds']:.0f} s, load average before {load['load_before']}, "
              f"after {load['load_after']}; {len(load['edits'])} edits during it; client used "
              f"{load['client_cpu_share']:.2f} of a core.\n")
        print("| scenario | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | "
              "page cache hit/miss | target p95 < 100 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for r in load["rows"]:
            ok = r["p95_ms"] < TARGET_P95_MS and r["errors"] == 0
            met &= ok
            cache = f"{r['cache'].get('hit', 0):,}/{r['cache'].get('miss', 0):,}"
            print(f"| {r['scenario']} | {r['requests']:,} | {r['rps']:,.0f} | {_f(r['p50_ms'])} | "
                  f"{_f(r['p95_ms'])} | {_f(r['p99_ms'])} | {_f(r['max_ms'])} | {r['errors']} | "
                  f"{cache} | {'met' if ok else 'MISSED'} |")
            for example in r["error_examples"]:
                print(f"    error: {example}")
        edits = load["edits"]
        if edits:
            shown = sum(e["shown_by_other"] and e["status"] == 200 for e in edits)
            met &= shown == len(edits)
            print(f"\nEdits during the load: {shown}/{len(edits)} shown by the other process on its "
                  f"first read; edit (PATCH) median {np.median([e['edit_ms'] for e in edits]):.0f}"
                  f" ms; read-back max {max(e['read_ms'] for e in edits):.0f} ms.")
        print("\nServer time, every URL new (one client, one request at a time, A and B in turn):\n")
        print("| page | requests | server p50 ms | server p95 ms | server p99 ms | CPU p50 ms | "
              "CPU p95 ms | client p95 ms | queries (median/max) | errors | target |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|")
        for r in run["server_time"]:
            target = "-"
            if r["page"] == "intervention page":
                ok = r["server"]["p95_ms"] < TARGET_SERVER_MS and r["errors"] == 0
                met &= ok
                target = "met" if ok else "MISSED"
            s = r["server"]
            print(f"| {r['page']} | {s['n']} | {_f(s['p50_ms'])} | {_f(s['p95_ms'])} | "
                  f"{_f(s['p99_ms'])} | {_f(r['cpu']['p50_ms'])} | {_f(r['cpu']['p95_ms'])} | "
                  f"{_f(r['client']['p95_ms'])} | {r['queries_median']:.0f}/"
                  f"{r['queries_max']} | {r['errors']} | {target} |")
        inv = run["invalidation"]
        ok = inv["shown_at_once"] == inv["rounds"] and inv["rounds"] > 0
        met &= ok
        print(f"\nCross-process invalidation: {inv['shown_at_once']}/{inv['rounds']} edits shown by "
              f"the other process on its first read ({inv['cached_before']} of those pages were "
              f"cache hits just before the edit); read answered at most {inv['max_read_ms']:.0f} ms"
              f" after the edit's answer; edit median {inv['median_edit_ms']:.0f} ms: "
              f"{'met' if ok else 'MISSED'}.")
        for failure in inv["failures"]:
            print(f"    failure: {failure}")
    return met


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="generated store of 100 interventions; 10 s of load; under 2 minutes")
    p.add_argument("--stores", default="demo,generated",
                   help="comma-separated: demo, generated (default both)")
    p.add_argument("--postgres-url", default=os.environ.get("WHATWORKS_BENCH_CLUSTER_POSTGRES_URL",
                                                            DEFAULT_PG))
    p.add_argument("--redis-url", default=DEFAULT_REDIS)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--duration", type=float, default=None,
                   help="seconds of mixed load per store (default 30; --quick 10)")
    p.add_argument("--uncached", type=float, default=0.10,
                   help="share of requests made unique so no cache answers (default 0.10)")
    p.add_argument("--edit-every", type=float, default=None,
                   help="seconds between API edits during the load (0: none; default 5, --quick 3)")
    p.add_argument("--workers", type=int, default=1, help="gunicorn workers per server (default 1)")
    p.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    p.add_argument("--server-time-requests", type=int, default=None,
                   help="uncached requests per kind of page, one at a time (default 200; quick 40)")
    p.add_argument("--invalidation-rounds", type=int, default=None,
                   help="edit-then-read rounds across the processes (default 20; quick 6)")
    p.add_argument("--seed", type=int, default=20261130)
    p.add_argument("--json", type=Path, help="also write the figures as JSON here")
    p.add_argument("--keep", action="store_true",
                   help="keep the database, the Redis keys and the server logs")
    args = p.parse_args(argv)
    if not 2 <= args.connections <= 1000:
        p.error("--connections must be 2..1000")
    if not 0 <= args.uncached <= 1:
        p.error("--uncached must be between 0 and 1")
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if not stores or set(stores) - {"demo", "generated"}:
        p.error("--stores takes demo, generated or both")
    for url in (args.postgres_url, args.redis_url):
        if urllib.parse.urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
            p.error(f"{url}: loopback only")
    quick = args.quick
    args.duration = args.duration or (10.0 if quick else 30.0)
    args.edit_every = args.edit_every if args.edit_every is not None else (3.0 if quick else 5.0)
    args.server_time_requests = args.server_time_requests or (40 if quick else 200)
    args.invalidation_rounds = args.invalidation_rounds or (6 if quick else 20)
    sizes = QUICK if quick else FULL

    workdir = Path(tempfile.mkdtemp(prefix="whatworks-cluster-"))
    started = time.time()
    env_info = {"python": platform.python_version(), "cpus": os.cpu_count(),
                "load_at_start": [round(x, 2) for x in os.getloadavg()],
                "servers": 2, "workers": args.workers, "threads": args.threads,
                "connections": args.connections, "duration_s": args.duration,
                "uncached": args.uncached, "edit_every_s": args.edit_every, "sizes": sizes,
                "seed": args.seed, "mix": MIX}
    print(f"bench_store_cluster: 2 servers x {args.workers} workers x {args.threads} threads on "
          f"PostgreSQL + Redis; {args.connections} clients, {args.duration:g} s, "
          f"{args.uncached:.0%} uncached, an edit every {args.edit_every:g} s; "
          f"{os.cpu_count()} CPUs, load {env_info['load_at_start']}", flush=True)
    runs = []
    try:
        for store in stores:
            runs.append(bench_store(store, args, sizes, workdir))
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    met = print_report(runs)
    env_info.update(total_seconds=round(time.time() - started, 1),
                    load_at_end=[round(x, 2) for x in os.getloadavg()])
    print(f"\ntargets (p95 < {TARGET_P95_MS:g} ms, no errors, server time < {TARGET_SERVER_MS:g} "
          f"ms, edits shown at once): {'met' if met else 'MISSED'}; total "
          f"{env_info['total_seconds']:.0f} s; load average at start {env_info['load_at_start']},"
          f" at end {env_info['load_at_end']}")
    if args.json:
        args.json.write_text(json.dumps({"environment": env_info, "runs": runs}, indent=1))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
