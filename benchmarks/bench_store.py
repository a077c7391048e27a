"""Load benchmark of the Evidence Store: public pages under concurrent clients on loopback.

For each database (SQLite, PostgreSQL) it generates an illustrative store (``generate_store``:
1,000 interventions, 20,000 studies, 100,000 findings; ``--quick``: 100, 2,000 and 10,000), starts
``whatworks serve`` (gunicorn, gthread) as a subprocess, and drives two kinds of page with 50
concurrent keep-alive connections for a fixed time each:

- the intervention page of a random intervention (``/interventions/<slug>/``);
- a filtered index: a random one of 200 seeded filter combinations (outcome + strength,
  outcome + effectiveness, domain + cost band, free-text search, design + UK evidence, sorting,
  later pages);
- the API list ``/api/interventions`` (every page of it, and filtered lists).

Then, one client at a time, the server time of intervention pages and API lists that no cache can
answer (each URL made unique): target (issue 7) p95 < 50 ms for the intervention page.

Every request's latency is measured (send to last byte of the body); non-200 answers, broken or
truncated responses and timeouts are errors. The client is a small asyncio HTTP/1.1 client written
here (no dependency; ``wrk`` is not assumed). Target (issue 3): p95 < 100 ms and no errors.

    .venv/bin/python benchmarks/bench_store.py                      # both databases, full size
    .venv/bin/python benchmarks/bench_store.py --quick              # smoke run, under 2 minutes
    .venv/bin/python benchmarks/bench_store.py --database sqlite    # one database only

PostgreSQL: ``--postgres-url`` (default ``$WHATWORKS_BENCH_POSTGRES_URL`` or
postgresql://postgres@127.0.0.1:5432/whatworks_bench); the database named there is dropped and
created afresh, so do not point it at a database you need.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/whatworks_bench"
TARGET_P95_MS = 100.0
TARGET_SERVER_MS = 50.0  # issue 7: an uncached intervention page's server time
FULL = dict(interventions=1000, studies=20000, findings=100000)
QUICK = dict(interventions=100, studies=2000, findings=10000)
MAX_REQUESTS = 1_000_000  # a hard bound on any one scenario, whatever the duration


# ----------------------------------------------------------------------------- the load client

class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None
        self.used = False

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.used = False

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self, path: str) -> tuple[int, bytes]:
        status, _, body = await self.request("GET", path)
        return status, body

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict | None = None) -> tuple[int, dict, bytes]:
        """One request: the status, the response headers (lower-case names) and the body."""
        if self.writer is None:
            await self.open()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        if body or method not in ("GET", "HEAD"):
            extra += f"Content-Length: {len(body)}\r\n"
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                          "User-Agent: whatworks-bench\r\n"
                          f"Accept: text/html,application/json;q=0.9\r\n{extra}\r\n".encode()
                          + body)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:  # body until the server closes
            body = await self.reader.read()
            headers["connection"] = "close"
        self.used = True
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    async def _chunked(self) -> bytes:
        parts = []
        for _ in range(1_000_000):
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                break
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        return b"".join(parts)


async def _client(port, next_path, deadline, latencies, errors, counters, timeout):
    conn = Connection(port)
    try:
        while time.perf_counter() < deadline and counters["sent"] < MAX_REQUESTS:
            path = next_path()
            if path is None:
                break
            counters["sent"] += 1
            start = time.perf_counter()  # a retried request's latency includes the failed try
            for attempt in (0, 1):  # one retry, only when a kept-alive connection was closed idle
                reused = conn.writer is not None and conn.used
                try:
                    async with asyncio.timeout(timeout):  # no extra task per request
                        status, body = await conn.get(path)
                except (asyncio.IncompleteReadError, ConnectionError) as exc:
                    conn.close()
                    if reused and attempt == 0 and not getattr(exc, "partial", b""):
                        counters["reconnects"] += 1
                        continue
                    errors.append(f"{path}: {type(exc).__name__}")
                    break
                except TimeoutError:
                    conn.close()
                    errors.append(f"{path}: timeout after {timeout} s")
                    break
                except OSError as exc:
                    conn.close()
                    errors.append(f"{path}: {exc}")
                    break
                elapsed = time.perf_counter() - start
                if status != 200:
                    errors.append(f"{path}: HTTP {status}")
                elif not body.rstrip().endswith(b"]" if path.startswith("/api/") else b"</html>"):
                    errors.append(f"{path}: truncated page ({len(body)} bytes)")
                else:
                    latencies.append(elapsed)
                    counters["bytes"] += len(body)
                break
    finally:
        conn.close()


async def _load(port, paths, *, connections, duration, seed, passes, timeout):
    latencies, errors = [], []
    counters = {"sent": 0, "reconnects": 0, "bytes": 0}
    if passes:  # every path ``passes`` times, in a seeded random order, shared by the clients
        queue = [p for _ in range(passes) for p in paths]
        random.Random(seed).shuffle(queue)
        queue.reverse()

        def pick(rng):
            return queue.pop() if queue else None
    else:  # random paths until the time is up
        def pick(rng):
            return paths[rng.randrange(len(paths))]
    start = time.perf_counter()
    deadline = start + duration
    rngs = [random.Random(seed * 1000 + c) for c in range(connections)]
    await asyncio.gather(*(
        _client(port, functools.partial(pick, rng), deadline, latencies, errors, counters,
                timeout) for rng in rngs))
    return latencies, errors, counters, time.perf_counter() - start


def run_load(port, paths, *, connections, duration, seed, passes=0, timeout=10.0) -> dict:
    """Closed loop: ``connections`` clients each send a request as soon as the last one ends,
    for ``duration`` seconds (random paths) or until every path was requested ``passes`` times."""
    cpu = time.process_time()
    latencies, errors, counters, wall = asyncio.run(_load(
        port, paths, connections=connections, duration=duration, seed=seed, passes=passes,
        timeout=timeout))
    cpu = time.process_time() - cpu
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    done = len(latencies) + len(errors)
    return {"requests": done, "ok": len(latencies), "errors": len(errors),
            "error_examples": sorted(set(errors))[:5], "reconnects": counters["reconnects"],
            "seconds": round(wall, 2), "rps": round(done / wall, 1),
            "mean_kb": round(counters["bytes"] / max(1, len(latencies)) / 1024, 1),
            "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(np.max(ms)),
            "mean_ms": float(np.mean(ms)),
            "client_cpu_share": round(cpu / wall, 2)}


# ----------------------------------------------------------------------------- the server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd, env, what):
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench_store: {what} failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - started, proc.stdout


def _fetch_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 - loopback only
        return json.loads(r.read())


def prepare_postgres(url: str, *, create: bool = True) -> None:
    """Drop (and create afresh) the benchmark database named in ``url``, through the server's
    'postgres' database."""
    import psycopg
    from psycopg import sql

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("bench_store: --postgres-url must name a database on 127.0.0.1")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


class Server:
    """``whatworks serve`` in its own process group, stopped with SIGTERM (SIGKILL after 20 s).

    ``bench_store_cluster.py`` runs two of these as two "hosts" (``name``, ``demo``)."""

    def __init__(self, env, *, workers, threads, log_path, demo=False, name="the server"):
        self.name, self.port = name, _free_port()
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", "whatworks.cli", "serve", "--host", "127.0.0.1", "--port",
               str(self.port), "--workers", str(workers), "--threads", str(threads)]
        self.proc = subprocess.Popen(cmd + ([] if demo else ["--no-demo"]), env=env, cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout=300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early (see {self.log.name})")
            try:
                with urllib.request.urlopen(  # noqa: S310 - loopback only
                        f"http://127.0.0.1:{self.port}/api/outcomes", timeout=5):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


# ----------------------------------------------------------------------------- the pages

def intervention_paths(port: int) -> list[str]:
    slugs = []
    for page in range(1, 101):
        url = f"http://127.0.0.1:{port}/api/interventions?page_size=500&page={page}"
        try:
            batch = _fetch_json(url)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # past the last page
                break
            raise
        slugs += [i["slug"] for i in batch]
        if len(batch) < 500:
            break
    return [f"/interventions/{slug}/" for slug in slugs]


SEARCH_WORDS = ["family", "school", "kinship", "neglect", "mentoring", "adolescents", "court",
                "domestic abuse", "trauma", "care leavers", "foster", "parenting programme"]


def api_list_paths(port: int, *, n=200, seed=11) -> list[str]:
    """``n`` API list URLs (seeded): every page of /api/interventions and filtered lists."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/interventions", timeout=60) as r:
        total, per_page = int(r.headers["X-Total-Count"]), max(1, len(json.loads(r.read())))
    pages = max(1, -(-total // per_page))  # the default page size, whatever it is
    paths = ["/api/interventions"] + [f"/api/interventions?page={k}" for k in range(2, pages + 1)]
    filtered = [p.replace("/interventions/?", "/api/interventions?") for p in
                index_paths(port, n=n, seed=seed) if "page=" not in p]
    return (paths + filtered)[:n]


def uncached(paths: list[str], n: int, seed: int) -> list[str]:
    """``n`` of these URLs, each made unique so that no page cache can answer it."""
    rng = random.Random(seed)
    return [f"{p}{'&' if '?' in p else '?'}uncached={i}" for i, p in
            enumerate(rng.choice(paths) for _ in range(n))]


def index_paths(port: int, *, n=200, seed=7) -> list[str]:
    """``n`` filtered index URLs (seeded): the filters readers combine most."""
    outcomes = _fetch_json(f"http://127.0.0.1:{port}/api/outcomes?page_size=500")
    slugs = [o["slug"] for o in outcomes]
    domains = sorted({o["domain"] if isinstance(o["domain"], str) else o["domain"]["slug"]
                      for o in outcomes if o.get("domain")})
    rng = random.Random(seed)
    paths = []
    for i in range(n):
        kind = i % 6
        if kind == 0:
            q = {"outcome": rng.choice(slugs), "strength": rng.randint(0, 4)}
        elif kind == 1:
            q = {"outcome": rng.choice(slugs), "effectiveness": rng.choice(["1", "2", "0", "-1"]),
                 "sort": rng.choice(["name", "cost", "updated"])}
        elif kind == 2:
            q = {"q": rng.choice(SEARCH_WORDS)}
        elif kind == 3:
            q = {"domain": rng.choice(domains) if domains else "", "cost_band": rng.randint(1, 5)}
        elif kind == 4:
            q = {"design": rng.choice(["rct", "cluster-rct", "qed"]), "uk": "1",
                 "q": rng.choice(SEARCH_WORDS)}
        else:
            q = {"outcome": rng.choice(slugs), "page": rng.randint(1, 3), "sort": "-name"}
        paths.append("/interventions/?" + urllib.parse.urlencode(q))
    return paths


# ----------------------------------------------------------------------------- one database

def bench_database(db: str, args, sizes: dict, workdir: Path) -> dict:
    env = dict(os.environ, WHATWORKS_DATA_DIR=str(workdir / db), WHATWORKS_LOG_LEVEL="ERROR",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(workdir)]))
    env.pop("DATABASE_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "whatworks.web.settings"
    # one address sends thousands of requests a second here: the API throttle would answer 429
    env["WHATWORKS_API_ANON_RATE"] = "off"
    if args.page_cache == "off":  # the same settings with the page cache turned off
        (workdir / "bench_settings_nocache.py").write_text(
            "from whatworks.web.settings import *  # noqa: F403\n"
            "WHATWORKS_PAGE_CACHE_SECONDS = 0\n")
        env["DJANGO_SETTINGS_MODULE"] = "bench_settings_nocache"
    info = {"database": db}
    if db == "postgres":
        prepare_postgres(args.postgres_url)
        env["DATABASE_URL"] = args.postgres_url
        info["server"] = f"PostgreSQL {postgres_version(args.postgres_url)}"
    else:
        import sqlite3

        info["server"] = f"SQLite {sqlite3.sqlite_version}"
    manage = [sys.executable, "-m", "django"]
    _run(manage + ["migrate", "-v", "0"], env, "migrate")
    print(f"[{db}] generating {sizes['interventions']:,} interventions, {sizes['studies']:,} "
          f"studies, {sizes['findings']:,} findings ...", flush=True)
    seconds, out = _run(manage + ["generate_store", *[f"--{k}={v}" for k, v in sizes.items()],
                                  f"--seed={args.seed}"], env, "generate_store")
    info["generate_seconds"] = round(seconds, 1)
    info["generated"] = out.strip().splitlines()[-1]
    print(f"[{db}] {info['generated']} in {seconds:.0f} s", flush=True)

    server = Server(env, workers=args.workers, threads=args.threads,
                    log_path=workdir / f"server-{db}.log")
    results, cold = [], []
    try:
        server.wait_ready()
        pages = {"intervention page": intervention_paths(server.port),
                 "filtered index": index_paths(server.port),
                 "/api/interventions": api_list_paths(server.port)}
        for name, paths in pages.items():
            if name not in args.scenarios:
                continue
            load = dict(connections=args.connections, duration=600.0)
            # first visit to every URL since the server started (every page rendered afresh)
            first = run_load(server.port, paths, seed=args.seed + 1, passes=1, **load)
            first.update(page=name, database=db, distinct_urls=len(paths))
            cold.append(first)
            if args.warmup_passes > 0:  # so that every worker process has seen every URL
                run_load(server.port, paths, seed=args.seed + 2, passes=args.warmup_passes,
                         **load)
            load_before = os.getloadavg()[0]
            r = run_load(server.port, paths, connections=args.connections,
                         duration=args.duration, seed=args.seed)
            r.update(page=name, database=db, load_before=round(load_before, 2),
                     load_after=round(os.getloadavg()[0], 2), distinct_urls=len(paths))
            results.append(r)
            print(f"[{db}] {name}: {r['requests']:,} requests in {r['seconds']:.0f} s, p95 "
                  f"{r['p95_ms']:.1f} ms, {r['errors']} errors (first visits: p95 "
                  f"{first['p95_ms']:.1f} ms, {first['errors']} errors)", flush=True)
        # server time of a page no cache can answer: one client, one request at a time
        server_time = []
        for name, paths in (("intervention page, uncached", pages["intervention page"]),
                            ("/api/interventions, uncached", pages["/api/interventions"])):
            if "server time" not in args.scenarios:
                continue
            r = run_load(server.port, uncached(paths, args.server_time_requests, args.seed),
                         connections=1, duration=600.0, seed=args.seed, passes=1)
            r.update(page=name, database=db)
            server_time.append(r)
            print(f"[{db}] {name}, one client: p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, "
                  f"{r['errors']} errors", flush=True)
        info["server_time"] = server_time
    finally:
        server.stop()
        if db == "postgres" and not args.keep:
            prepare_postgres(args.postgres_url, create=False)
    info["results"] = results
    info["first_visits"] = cold
    return info


def _fmt(ms: float) -> str:
    return f"{ms:.1f}" if ms < 1000 else f"{ms:,.0f}"


def _row(run, r, target) -> str:
    return (f"| {run['server']} | {r['page']} | {r['requests']:,} | {r['rps']:,.0f} | "
            f"{_fmt(r['p50_ms'])} | {_fmt(r['p95_ms'])} | {_fmt(r['p99_ms'])} | "
            f"{_fmt(r['max_ms'])} | {r['errors']} |" + (f" {target} |" if target else ""))


def print_tables(runs: list[dict]) -> bool:
    head = "| database | page | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors |"
    print("\nMeasured (random URLs, fixed duration, after warm-up):\n")
    print(head + " target |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    ok_all = True
    for run in runs:
        for r in run["results"]:
            ok = r["p95_ms"] < TARGET_P95_MS and r["errors"] == 0
            ok_all &= ok
            print(_row(run, r, "met" if ok else "MISSED"))
            for example in r["error_examples"]:
                print(f"    error: {example}")
    print(f"\nServer time without any cache (one client, every URL new; target p95 < "
          f"{TARGET_SERVER_MS:g} ms for the intervention page):\n")
    print(head + " target |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for run in runs:
        for r in run.get("server_time", []):
            target = ""
            if r["page"].startswith("intervention"):
                ok = r["p95_ms"] < TARGET_SERVER_MS and r["errors"] == 0
                ok_all &= ok
                target = "met" if ok else "MISSED"
            print(_row(run, r, target or "-"))
    print("\nFirst visit to every URL after the server started (not the target; cold caches):\n")
    print(head)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        for r in run["first_visits"]:
            print(_row(run, r, ""))
    return ok_all


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="100 interventions, 2,000 studies, 10,000 findings; 8 s per page")
    p.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--postgres-url", default=os.environ.get("WHATWORKS_BENCH_POSTGRES_URL",
                                                            DEFAULT_PG))
    p.add_argument("--connections", type=int, default=50, help="concurrent clients (default 50)")
    p.add_argument("--duration", type=float, default=None,
                   help="seconds of measured load per page (default 30; --quick 8)")
    p.add_argument("--warmup-passes", type=int, default=5,
                   help="unmeasured passes over every URL after the first visits (default 5)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    p.add_argument("--page-cache", choices=["on", "off"], default="on",
                   help="off: serve with WHATWORKS_PAGE_CACHE_SECONDS=0 (every page rendered)")
    p.add_argument("--server-time-requests", type=int, default=300,
                   help="uncached requests (one client) per page for the server time (default 300)")
    p.add_argument("--only", action="append", dest="scenarios",
                   choices=["intervention page", "filtered index", "/api/interventions",
                            "server time"],
                   help="run only this scenario (repeatable; default: all)")
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--json", type=Path, help="also write the figures as JSON here")
    p.add_argument("--keep", action="store_true",
                   help="keep the SQLite files, the PostgreSQL database and the server logs")
    args = p.parse_args(argv)
    if not 1 <= args.connections <= 1000:
        p.error("--connections must be 1..1000")
    args.duration = args.duration or (8.0 if args.quick else 30.0)
    args.scenarios = args.scenarios or ["intervention page", "filtered index",
                                        "/api/interventions", "server time"]
    sizes = QUICK if args.quick else FULL
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]

    workdir = Path(tempfile.mkdtemp(prefix="whatworks-bench-"))
    started = time.time()
    env_info = {"python": platform.python_version(), "cpus": os.cpu_count(),
                "load_at_start": [round(x, 2) for x in os.getloadavg()],
                "workers": args.workers, "threads": args.threads, "page_cache": args.page_cache,
                "connections": args.connections, "duration_s": args.duration,
                "warmup_passes": args.warmup_passes, "sizes": sizes, "seed": args.seed}
    print(f"bench_store: {args.connections} connections, {args.duration:g} s per page after "
          f"{args.warmup_passes} warm-up passes; gunicorn {args.workers} workers x "
          f"{args.threads} threads; page cache {args.page_cache}; {os.cpu_count()} CPUs, load "
          f"{env_info['load_at_start']}", flush=True)
    runs = []
    try:
        for db in databases:
            runs.append(bench_database(db, args, sizes, workdir))
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    met = print_tables(runs)
    env_info.update(total_seconds=round(time.time() - started, 1),
                    load_at_end=[round(x, 2) for x in os.getloadavg()])
    print(f"\ntarget p95 < {TARGET_P95_MS:g} ms with no errors: {'met' if met else 'MISSED'}; "
          f"total {env_info['total_seconds']:.0f} s; load at end {env_info['load_at_end']}")
    if args.json:
        args.json.write_text(json.dumps({"environment": env_info, "runs": runs}, indent=1))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
