"""How long one intention-to-treat analysis takes, by family and size: the basis of the trials
pages' in-request limit (WHATWORKS_TRIAL_ANALYSIS_MAX_ROWS). One fit of each, with one covariate,
treatment by cluster, simulated random intercepts; CPU seconds (time.process_time, this process)
and wall seconds. Usage: python benchmarks/bench_trial_web_analysis.py [ROWS:CLUSTERS ...]
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

from whatworks.trials.analyse import analyse


def data(n: int, clusters: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    c = rng.integers(0, clusters, n)
    t = (c % 2).astype(float)
    u = rng.normal(0, .3, clusters)
    d = pd.DataFrame({"c": c, "t": t, "x": rng.normal(size=n)})
    d["y"] = .2 * t + u[c] + rng.normal(size=n)
    d["k"] = rng.poisson(np.exp(.5 + .1 * t + u[c]))
    d["b"] = (rng.random(n) < 1 / (1 + np.exp(-(u[c] + .2 * t)))).astype(float)
    return d


def main(sizes: list[str]) -> None:
    print(json.dumps({"load_average_before": os.getloadavg()}))
    for size in sizes:
        n, clusters = (int(v) for v in size.split(":"))
        d = data(n, clusters)
        for family, y in (("gaussian", "y"), ("binomial", "b"), ("poisson", "k"), ("negbin", "k")):
            wall, cpu = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                analyse(d, outcome=y, treatment="t", cluster="c", covariates=["x"], family=family)
            print(json.dumps({"rows": n, "clusters": clusters, "family": family,
                              "cpu_s": round(time.process_time() - cpu, 2),
                              "wall_s": round(time.perf_counter() - wall, 2)}), flush=True)
    print(json.dumps({"load_average_after": os.getloadavg()}))


if __name__ == "__main__":
    main(sys.argv[1:] or ["2000:100", "10000:200", "20000:200"])
