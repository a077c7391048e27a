"""Speed of whatworks' meta-analysis engine against PyMARE and R's metafor, on the same data.

Run from the repository root:

    .venv/bin/python benchmarks/bench_synthesis.py            # full run (~5-10 minutes)
    .venv/bin/python benchmarks/bench_synthesis.py --quick    # smaller sizes (< 1 minute)

See benchmarks/README.md for what each case measures. Needs threadpoolctl (a benchmark-only
dependency) and, for the metafor column, Rscript with metafor installed.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - message for people running the script
    sys.exit("benchmarks need threadpoolctl: .venv/bin/pip install threadpoolctl")

import pymare.estimators as pm_est

from whatworks.synthesis import meta_analysis
from whatworks.synthesis.batch import meta_analysis_batch

HERE = Path(__file__).resolve().parent
R_SCRIPT = HERE / "bench_metafor.R"


@dataclass(frozen=True)
class Config:
    ks: tuple[int, ...]
    metafor_ks: tuple[int, ...]
    batch_n: int
    batch_k: int
    metareg_k: int
    n_mods: int
    r_min_reps: int
    r_loop: int            # metafor loops over this many of the batch's meta-analyses ...
    r_loop_all_limit: float  # ... and over all of them if that would take less (seconds)
    budget: float          # seconds of repeats per case (after the warm-up)
    min_reps: int
    max_reps: int          # a call slower than SLOW seconds is repeated once only (after warm-up)
    memory_k: int


FULL = Config(ks=(10, 1_000, 3_000, 100_000, 1_000_000), metafor_ks=(10, 1_000, 3_000),
              batch_n=10_000, batch_k=20, metareg_k=100_000, n_mods=5, r_min_reps=3, r_loop=1_000,
              r_loop_all_limit=60.0, budget=3.0, min_reps=3, max_reps=50, memory_k=1_000_000)
QUICK = Config(ks=(10, 1_000, 100_000), metafor_ks=(10, 1_000), batch_n=2_000, batch_k=20,
               metareg_k=5_000, n_mods=5, r_min_reps=1, r_loop=100, r_loop_all_limit=0.0,
               budget=0.3, min_reps=3, max_reps=20, memory_k=100_000)

SLOW = 10.0
TARGET_SECONDS_1E6 = 0.5
TARGET_BYTES_1E6 = 1024**3


# ---------------------------------------------------------------------------------------- data

def simulate_single(k: int, rng: np.random.Generator, tau2: float = 0.05):
    """Standardised mean differences: n per study 20..400, v = 4/n, true effect 0.3."""
    n = rng.integers(20, 400, k)
    vi = 4.0 / n
    yi = rng.normal(0.3, np.sqrt(tau2 + vi))
    return yi, vi


def simulate_batch(n_meta: int, k: int, rng: np.random.Generator):
    """Meta-analyses with true tau² drawn from {0, 0.01, 0.05, 0.2} (some at the boundary)."""
    tau2 = rng.choice([0.0, 0.01, 0.05, 0.2], size=(n_meta, 1))
    vi = 4.0 / rng.integers(20, 400, (n_meta, k))
    yi = rng.normal(0.3, np.sqrt(tau2 + vi))
    return yi, vi


def simulate_metareg(k: int, p: int, rng: np.random.Generator):
    X = rng.normal(size=(k, p))
    beta = np.array([0.1, -0.05, 0.2, 0.0, 0.05][:p] + [0.0] * max(0, p - 5))
    vi = 4.0 / rng.integers(20, 400, k)
    yi = rng.normal(0.3 + X @ beta, np.sqrt(0.05 + vi))
    return yi, vi, X


def write_csv(path: Path, **cols) -> None:
    pd.DataFrame(cols).to_csv(path, index=False, float_format="%.17g")


# -------------------------------------------------------------------------------------- timing

def bench(fn, cfg: Config):
    """Warm-up call, then the median of repeats (at least ``min_reps``, filling ``budget``)."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    reps = int(np.clip(np.ceil(cfg.budget / max(first, 1e-6)), cfg.min_reps, cfg.max_reps))
    if first > SLOW:
        reps = 1
    times, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"median": float(np.median(times)), "min": float(min(times)), "reps": reps,
            "cpu": float(np.median(cpu))}, out


def pymare_fit(y2d, v2d, X):
    # The estimator's own vectorised entry point: y, v are (k, n_datasets), X is (k, p). "wald"
    # gives plain model-based standard errors, as whatworks' default test="z" and metafor do.
    est = pm_est.VarianceBasedLikelihoodEstimator(method="REML", small_sample_correction="wald")
    return est.fit(y2d, v2d, X)


def ww_estimates(res):
    beta = np.array([c.estimate for c in res.coefficients]) if hasattr(res, "coefficients") \
        else np.atleast_1d(res.estimate)
    return np.atleast_1d(res.tau2), beta


def pm_estimates(est):
    return est.params_["tau2"].ravel(), est.params_["fe_params"].ravel()


def run_python(cfg: Config, data: dict) -> dict:
    """Every whatworks and PyMARE case under one BLAS thread setting; returns times and fits."""
    out = {}
    for k in cfg.ks:
        yi, vi = data[f"reml_{k}"]
        X1 = np.ones((k, 1))
        y2, v2 = yi[:, None], vi[:, None]
        out[f"reml_{k}"] = {
            "whatworks": bench(partial(meta_analysis, yi, vi, method="REML"), cfg),
            "PyMARE": bench(partial(pymare_fit, y2, v2, X1), cfg),
        }
    Y, V = data["batch"]
    Yt, Vt = np.ascontiguousarray(Y.T), np.ascontiguousarray(V.T)
    Xb = np.ones((Y.shape[1], 1))
    out["batch"] = {"whatworks": bench(lambda: meta_analysis_batch(Y, V, method="REML"), cfg),
                    "PyMARE": bench(lambda: pymare_fit(Yt, Vt, Xb), cfg)}
    yi, vi, X = data["metareg"]
    Xi = np.column_stack([np.ones(len(yi)), X])
    out["metareg"] = {"whatworks": bench(lambda: meta_analysis(yi, vi, mods=X, method="REML"), cfg),
                      "PyMARE": bench(lambda: pymare_fit(yi[:, None], vi[:, None], Xi), cfg)}
    return out


# ------------------------------------------------------------------------------------- metafor

def run_metafor(cfg: Config, data: dict, workdir: Path) -> dict | None:
    if shutil.which("Rscript") is None:
        print("Rscript not found: no metafor column")
        return None
    names = [f"reml_{k}" for k in cfg.metafor_ks]
    for name in names:
        yi, vi = data[name]
        write_csv(workdir / f"{name}.csv", yi=yi, vi=vi)
    pd.DataFrame({"name": names, "file": [f"{n}.csv" for n in names]}).to_csv(
        workdir / "cases.csv", index=False)
    Y, V = data["batch"]
    n, k = Y.shape
    write_csv(workdir / "batch.csv", id=np.repeat(np.arange(1, n + 1), k), yi=Y.ravel(),
              vi=V.ravel())
    cmd = ["Rscript", str(R_SCRIPT), str(workdir), str(cfg.budget), str(cfg.r_min_reps),
           str(cfg.max_reps), str(cfg.r_loop), str(cfg.r_loop_all_limit)]
    print("running metafor:", " ".join(cmd[:2]), "...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print("metafor run failed:\n" + proc.stderr[-2000:])
        return None
    times = pd.read_csv(workdir / "r_times.csv").set_index("name")
    out = {"info": pd.read_csv(workdir / "r_info.csv").iloc[0].to_dict(), "cases": {}}
    for name in names:
        est = pd.read_csv(workdir / f"r_est_{name}.csv")
        row = times.loc[name]
        out["cases"][name] = {"median": float(row["median"]), "min": float(row["min"]),
                              "cpu": float(row["cpu"]), "reps": int(row["reps"]),
                              "tau2": est["tau2"].to_numpy(),
                              "beta": est["beta"].to_numpy()}
    row = times.loc["loop"]
    est = pd.read_csv(workdir / "r_loop_est.csv")
    fits = int(row["fits"])
    out["cases"]["batch"] = {"median": float(row["median"]) * n / fits,
                             "cpu": float(row["cpu"]) * n / fits, "measured": float(row["median"]),
                             "fits": fits, "n": n, "failed": int(row["failed"]),
                             "tau2": est["tau2"].to_numpy(), "beta": est["beta"].to_numpy()}
    return out


# -------------------------------------------------------------------------------------- memory

MEMORY_CHILD = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
from whatworks.synthesis import meta_analysis

def status(key):  # VmRSS / VmHWM of this process in bytes (Linux)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

d = np.load(sys.argv[1])
yi, vi = d["yi"], d["vi"]
meta_analysis(yi[:1000], vi[:1000])                      # imports and first-call set-up
try:  # reset the peak (VmHWM) so that it covers the fit only, not imports or byte-compiling
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
before = status("VmRSS")
t0 = time.perf_counter()
meta_analysis(yi, vi)
seconds = time.perf_counter() - t0
peak = status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tracemalloc.start()
meta_analysis(yi, vi)
traced = tracemalloc.get_traced_memory()[1]
print(json.dumps({"rss_before": before, "rss_peak": peak, "peak_reset": reset,
                  "traced_peak": traced, "input_bytes": yi.nbytes + vi.nbytes,
                  "seconds": seconds}))
"""


def measure_memory(cfg: Config, data: dict, workdir: Path) -> dict:
    """Peak RSS of a fresh process fitting k = memory_k, and tracemalloc's peak during the fit."""
    yi, vi = data[f"reml_{cfg.memory_k}"] if f"reml_{cfg.memory_k}" in data else \
        simulate_single(cfg.memory_k, np.random.default_rng(7))
    path = workdir / "memory.npz"
    np.savez(path, yi=yi, vi=vi)
    proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(path)], capture_output=True,
                          text=True, check=True)
    return {"k": cfg.memory_k, **json.loads(proc.stdout.strip().splitlines()[-1])}


# ----------------------------------------------------------------------------------- reporting

def max_abs(a, b) -> float:
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.max(np.abs(a[ok] - b[ok]))) if ok.any() else float("nan")


def case_label(name: str, cfg: Config) -> str:
    if name.startswith("reml_"):
        return f"REML, k = {int(name[5:]):,}"
    if name == "batch":
        return f"batch: {cfg.batch_n:,} x k = {cfg.batch_k}"
    return f"meta-regression, {cfg.n_mods} moderators, k = {cfg.metareg_k:,}"


def fmt_s(x) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x * 1e3:.2f} ms" if x < 1 else f"{x:.2f} s"


def fmt_ratio(peer, ours) -> str:
    if peer is None or not np.isfinite(peer):
        return "–"
    return f"{peer / ours:.1f}x"


def timing_table(results: dict, r: dict | None, cfg: Config, key: str = "median") -> str:
    """Times (``key`` "median" wall clock, or "cpu": median process CPU time) and ratios."""
    lines = ["| case | whatworks | PyMARE | metafor | PyMARE / whatworks | metafor / whatworks "
             "| repeats |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, res in results.items():
        ww, pmr = res["whatworks"][0][key], res["PyMARE"][0][key]
        mf = r["cases"][name][key] if r and name in r["cases"] else None
        note, r_reps = "", "–"
        if mf is not None:
            c = r["cases"][name]
            r_reps = "loop" if name == "batch" else str(c["reps"])
            if name == "batch":
                note = " (all)" if c["fits"] == c["n"] else f" (scaled from {c['fits']:,})"
        reps = f"{res['whatworks'][0]['reps']}/{res['PyMARE'][0]['reps']}/{r_reps}"
        lines.append(f"| {case_label(name, cfg)} | {fmt_s(ww)} | {fmt_s(pmr)} | {fmt_s(mf)}{note} "
                     f"| {fmt_ratio(pmr, ww)} | {fmt_ratio(mf, ww)} | {reps} |")
    return "\n".join(lines)


def agreement_table(results: dict, r: dict | None, cfg: Config) -> str:
    lines = ["| case | tau² ww vs PyMARE | tau² ww vs metafor | beta ww vs PyMARE "
             "| beta ww vs metafor |", "|---|---:|---:|---:|---:|"]
    for name, res in results.items():
        t_ww, b_ww = ww_estimates(res["whatworks"][1])
        t_pm, b_pm = pm_estimates(res["PyMARE"][1])
        cells = [max_abs(t_ww, t_pm), None, max_abs(b_ww, b_pm), None]
        if r and name in r["cases"]:
            m = r["cases"][name]
            n = len(m["tau2"])
            cells[1] = max_abs(t_ww[:n], m["tau2"])
            cells[3] = max_abs(b_ww[:n], m["beta"])
        lines.append(f"| {case_label(name, cfg)} | " + " | ".join(
            "–" if c is None else f"{c:.1e}" for c in cells) + " |")
    return "\n".join(lines)


def profile(fn, top: int = 15, seconds: float = 1.0) -> str:
    """cProfile of ``fn`` called often enough to fill about ``seconds``; by own time."""
    t0 = time.perf_counter()
    fn()
    calls = int(np.clip(seconds / max(time.perf_counter() - t0, 1e-6), 1, 500))
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime").print_stats(top)
    text = buf.getvalue()
    return text[text.find("   ncalls"):].rstrip()


def check_targets(runs: dict, memory: dict, cfg: Config) -> list[tuple[str, bool, str, str]]:
    """(target, met, detail, case to profile) for each target in the issue."""
    out = []
    for label, res in runs.items():
        slower = [n for n, c in res.items()
                  if n.startswith("reml_") and c["whatworks"][0]["median"] >= c["PyMARE"][0]["median"]]
        out.append((f"REML faster than PyMARE at every k ({label})", not slower,
                    "slower at " + ", ".join(slower) if slower else "yes", slower[0] if slower else ""))
    big = f"reml_{cfg.memory_k}"
    for label, res in runs.items():
        if big in res:
            t = res[big]["whatworks"][0]["median"]
            out.append((f"k = {cfg.memory_k:,} in < {TARGET_SECONDS_1E6} s ({label})",
                        t < TARGET_SECONDS_1E6, fmt_s(t), big if t >= TARGET_SECONDS_1E6 else ""))
    out.append((f"k = {memory['k']:,} in < 1 GB", memory["rss_peak"] < TARGET_BYTES_1E6,
                f"peak RSS {memory['rss_peak'] / 2**20:.0f} MiB", ""))
    for name, what in (("batch", "batch faster than PyMARE's vectorised call"),
                       ("metareg", "meta-regression faster than PyMARE")):
        for label, res in runs.items():
            ww, pmr = res[name]["whatworks"][0]["median"], res[name]["PyMARE"][0]["median"]
            out.append((f"{what} ({label})", ww < pmr, f"{fmt_s(ww)} vs {fmt_s(pmr)}",
                        name if ww >= pmr else ""))
    return out


def environment() -> dict:
    import pymare
    import scipy
    try:
        ww_version = metadata.version("whatworks")
    except metadata.PackageNotFoundError:
        ww_version = "?"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"), "cpu": cpu,
        "cores": os.cpu_count(), "load_average": os.getloadavg(),
        "python": platform.python_version(), "whatworks": ww_version,
        "pymare": pymare.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "blas": [{k: d.get(k) for k in ("internal_api", "prefix", "version", "architecture",
                                          "num_threads", "threading_layer")}
                 for d in threadpool_info()],
    }


# ---------------------------------------------------------------------------------------- main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    parser.add_argument("--threads", type=int, default=None,
                        help="run only with this many BLAS threads (default: 1 and the default)")
    parser.add_argument("--no-r", action="store_true", help="skip metafor")
    parser.add_argument("--no-profile", action="store_true", help="skip profiles of missed targets")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    started = time.perf_counter()

    env = environment()
    print(f"# whatworks synthesis benchmarks ({'quick' if args.quick else 'full'})\n")
    print(f"{env['date']}; {env['cpu']}, {env['cores']} cores; load average {env['load_average']}")
    print(f"whatworks {env['whatworks']}, PyMARE {env['pymare']}, numpy {env['numpy']}, "
          f"scipy {env['scipy']}, Python {env['python']}")
    for b in env["blas"]:
        print(f"BLAS: {b['internal_api']} {b['version']} ({b['prefix']}), kernel "
              f"{b['architecture']}, {b['num_threads']} threads by default")
    if env["OPENBLAS_CORETYPE"] or env["OPENBLAS_L2_SIZE"]:
        print(f"NOTE: OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} OPENBLAS_L2_SIZE="
              f"{env['OPENBLAS_L2_SIZE']} force an older kernel; for a benchmark of the current "
              "one run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...`")

    rng = np.random.default_rng(20240601)
    data = {f"reml_{k}": simulate_single(k, rng) for k in sorted(set(cfg.ks) | set(cfg.metafor_ks))}
    data["batch"] = simulate_batch(cfg.batch_n, cfg.batch_k, rng)
    data["metareg"] = simulate_metareg(cfg.metareg_k, cfg.n_mods, rng)

    settings = ([(f"{args.threads} BLAS thread(s)", args.threads)] if args.threads else
                [("1 BLAS thread", 1), ("default BLAS threads", None)])
    runs = {}
    for label, limit in settings:
        print(f"\ntiming whatworks and PyMARE with {label} ...", flush=True)
        if limit is None:
            runs[label] = run_python(cfg, data)
        else:
            with threadpool_limits(limits=limit, user_api="blas"):
                runs[label] = run_python(cfg, data)

    with tempfile.TemporaryDirectory(prefix="ww-bench-") as tmp:
        r = None if args.no_r else run_metafor(cfg, data, Path(tmp))
        memory = measure_memory(cfg, data, Path(tmp))

    print("\n(times are medians over the repeats shown as whatworks/PyMARE/metafor, each after one "
          "warm-up call; ratios above 1 mean whatworks is faster)")
    for label, res in runs.items():
        print(f"\n## Times with {label} (median wall-clock time per call)\n")
        print(timing_table(res, r, cfg))
        if label.startswith("1 "):
            print(f"\n## CPU time with {label} (median process CPU time per call; less "
                  "sensitive to other load on the machine than wall-clock time)\n")
            print(timing_table(res, r, cfg, key="cpu"))
    if r:
        c = r["cases"]["batch"]
        print(f"\nmetafor: {r['info']['R']}, metafor {r['info']['metafor']}, BLAS {r['info']['blas']} "
              "(single-threaded; the BLAS thread setting does not apply to it). Batch: rma() looped "
              f"over {c['fits']:,} of {c['n']:,} meta-analyses in {c['measured']:.1f} s"
              + ("" if c["fits"] == c["n"] else ", scaled to all") + f"; {c['failed']} failed.")
    last = list(runs.values())[-1]
    print("\n## Agreement (max abs difference; metafor at its default convergence threshold)\n")
    print(agreement_table(last, r, cfg))
    print(f"\n## Memory of whatworks at k = {memory['k']:,} (fresh process)\n")
    print(f"peak RSS of the process during the fit {memory['rss_peak'] / 2**20:.0f} MiB "
          f"({'' if memory['peak_reset'] else 'since start-up, '}RSS just before the fit "
          f"{memory['rss_before'] / 2**20:.0f} MiB, of which inputs "
          f"{memory['input_bytes'] / 2**20:.0f} MiB); peak traced by tracemalloc during the fit "
          f"{memory['traced_peak'] / 2**20:.0f} MiB; time of that single first fit "
          f"{fmt_s(memory['seconds'])}")

    targets = check_targets(runs, memory, cfg)
    print("\n## Targets\n\n| target | met | measured |\n|---|---|---|")
    for what, met, detail, _ in targets:
        print(f"| {what} | {'yes' if met else 'NO'} | {detail} |")
    missed = sorted({case for *_, case in targets if case})
    if missed and not args.no_profile:
        print("\n## Profiles of whatworks cases that miss a target (cProfile, by own time)")
        for name in missed:
            if name.startswith("reml_"):
                fn = partial(meta_analysis, *data[name])
            elif name == "batch":
                fn = partial(meta_analysis_batch, *data["batch"])
            else:
                fn = partial(meta_analysis, data["metareg"][0], data["metareg"][1],
                             mods=data["metareg"][2])
            print(f"\n### {case_label(name, cfg)} (default BLAS threads)\n\n```\n{profile(fn)}\n```")
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s; load average now "
          f"{os.getloadavg()}")

    if args.json:
        def plain(x):
            if isinstance(x, np.ndarray):
                return x.tolist()
            if isinstance(x, (np.floating, np.integer)):
                return x.item()
            return str(x)
        raw = {"env": env, "config": cfg.__dict__, "memory": memory, "metafor": r,
               "times": {lab: {n: {tool: c[tool][0] for tool in c} for n, c in res.items()}
                         for lab, res in runs.items()},
               "targets": [t[:3] for t in targets]}
        args.json.write_text(json.dumps(raw, indent=1, default=plain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
