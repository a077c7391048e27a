"""Simulation-based power for trials without a formula: simulate the trial as designed, fit the analysis
actually planned, and count.

A *scenario* says how to simulate one trial (the data-generating model and the randomisation) and how
it will be analysed; :func:`simulate_power` runs it ``replications`` times through
:func:`whatworks.compute.map_tasks` (in-process, a local process pool or a Dask cluster; the results
are identical on every backend because each chunk of replications carries its own seed from
:func:`whatworks.compute.task_seeds`) and reports, with Monte Carlo standard errors (Morris, White &
Crowther 2019, Table 6):

* power: the share of replications whose test rejects at ``alpha`` (MCSE ``sqrt(P(1-P)/R)``);
* bias: mean estimate minus the true value (MCSE: the empirical SE over ``sqrt(R)``);
* RMSE: ``sqrt(mean((estimate - truth)²))`` (MCSE by the delta method);
* coverage of the ``level`` confidence interval (MCSE ``sqrt(C(1-C)/R)``);
* the empirical SE of the estimates and the mean model SE.

Scenarios:

* :class:`ThreeLevelContinuous` — individuals in level-2 units in level-3 units, treatment assigned to
  level-3 units (PowerUp!'s CRA3_3r, with random effects drawn from ``rho2``/``rho3``), analysed by
  the t test on level-3 means (optionally adjusted for a level-3 covariate explaining ``r23``): for a
  balanced design the same test as the REML mixed model, with df ``K - 2 - g3``. This one has a
  formula; the tests check the simulation against it.
* :class:`ClusterCounts` — counts with exposure in clusters (e.g. section 47 enquiries per pupil-year
  in schools) within blocks (local authorities), cluster sizes varying with coefficient of variation
  ``size_cv``, between-cluster gamma heterogeneity with CV ``k`` (overdispersion), randomised within
  blocks; analysed by a Poisson GLM with a log link, exposure offset and block fixed effects, with
  cluster-robust (sandwich) standard errors and a t reference on ``clusters - parameters`` df
  (``analysis="poisson-robust"``), or by the cluster-level t test of log rates adjusted for blocks
  (``analysis="cluster-level"``, Hayes & Moulton 2017 ch. 9). The estimand is the log rate ratio.
* :class:`ClusterBinary` — a binary outcome in clusters of unequal size within blocks (beta-binomial
  clusters with a given ICC), analysed by a logistic GLM with block fixed effects and cluster-robust
  SEs (log odds ratio) or by the cluster-level regression of cluster proportions (risk difference).

References
----------
Morris TP, White IR, Crowther MJ (2019). Using simulation studies to evaluate statistical methods.
    Stat Med 38:2074-2102. (performance measures and their Monte Carlo SEs)
Arnold BF, Hogan DR, Colford JM, Hubbard AE (2011). Simulation methods to estimate design power: an
    overview for applied research. BMC Med Res Methodol 11:94.
Hayes RJ, Moulton LH (2017). Cluster Randomised Trials, 2nd ed. CRC. (cluster-level analyses)
Bell RM, McCaffrey DF (2002). Bias reduction in standard errors for linear regression with multi-stage
    samples. Survey Methodology 28:169-181. (CR2)
Mancl LA, DeRouen TA (2001). A covariance estimator for GEE with improved small-sample properties.
    Biometrics 57:126-134. (MD)
Dong N, Maynard RA (2013). J Res Educ Effectiveness 6:24-67. (the CRA3_3r formula checked against)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._results import Result, fmt
from .design import DesignError

__all__ = ["ANALYSES", "BINARY_ANALYSES", "ROBUST_SE", "ClusterBinary", "ClusterCounts", "SimulationResult",
           "ThreeLevelContinuous", "simulate_power"]

#: Analyses available for :class:`ClusterCounts`.
ANALYSES = {
    "poisson-robust": "Poisson GLM, log link, exposure offset, block fixed effects; cluster-robust SE",
    "cluster-level": "OLS of log((events + 0.5) / exposure) per cluster on arm and blocks; t test",
}


# --------------------------------------------------------------------------------------------------
# batched least squares and Poisson regression (a leading axis of replications)

def _ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Coefficient 1 (treatment) and its classical SE for each replication; X (R, C, p), y (R, C)."""
    xtx = np.einsum("rcp,rcq->rpq", X, X)
    xty = np.einsum("rcp,rc->rp", X, y)
    beta = np.linalg.solve(xtx, xty[..., None])[..., 0]
    resid = y - np.einsum("rcp,rp->rc", X, beta)
    df = X.shape[1] - X.shape[2]
    s2 = np.einsum("rc,rc->r", resid, resid) / df
    inv = np.linalg.inv(xtx)
    return beta[:, 1], np.sqrt(s2 * inv[:, 1, 1]), df


#: Small-sample versions of the cluster-robust (sandwich) variance for one-row clusters.
ROBUST_SE = {
    "CR1": "residuals as they are, times C / (C - p) (Stata's default)",
    "CR2": "residuals / sqrt(1 - h), h the GLM leverage (Bell & McCaffrey 2002)",
    "MD": "residuals / (1 - h) (Mancl & DeRouen 2001)",
}


def _sandwich(X: np.ndarray, resid: np.ndarray, w: np.ndarray, kind: str) -> np.ndarray:
    """Cluster-robust covariance of a GLM's coefficients, one row per cluster: ``resid`` the raw
    residuals y - mu, ``w`` the IRLS weights (the leverage is h = w x' (X'WX)^-1 x)."""
    C, p = X.shape[1], X.shape[2]
    bread = np.linalg.inv(np.einsum("rcp,rc,rcq->rpq", X, w, X))
    if kind == "CR1":
        adj, factor = resid, C / (C - p)
    else:
        h = np.clip(w * np.einsum("rcp,rpq,rcq->rc", X, bread, X), 0.0, 1 - 1e-12)
        adj = resid / (np.sqrt(1 - h) if kind == "CR2" else (1 - h))
        factor = 1.0
    score = X * adj[..., None]
    meat = np.einsum("rcp,rcq->rpq", score, score)
    return bread @ meat @ bread * factor


def _poisson_robust(X: np.ndarray, y: np.ndarray, offset: np.ndarray, *, robust_se: str = "CR1",
                    maxiter: int = 50, tol: float = 1e-10
                    ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Poisson GLM by IRLS for each replication; treatment coefficient, CR1 sandwich SE, df, converged."""
    R, C, p = X.shape
    rate = y.sum(axis=1) / np.exp(offset).sum(axis=1)
    beta = np.zeros((R, p))
    beta[:, 0] = np.log(np.maximum(rate, 1e-12))
    converged = np.zeros(R, dtype=bool)
    for _ in range(maxiter):
        eta = np.einsum("rcp,rp->rc", X, beta) + offset
        mu = np.exp(eta)
        z = eta - offset + (y - mu) / mu
        xtwx = np.einsum("rcp,rc,rcq->rpq", X, mu, X)
        xtwz = np.einsum("rcp,rc,rc->rp", X, mu, z)
        new = np.linalg.solve(xtwx, xtwz[..., None])[..., 0]
        step = np.max(np.abs(new - beta), axis=1)
        beta = new
        converged = step < tol
        if converged.all():
            break
    mu = np.exp(np.einsum("rcp,rp->rc", X, beta) + offset)
    cov = _sandwich(X, y - mu, mu, robust_se)
    return beta[:, 1], np.sqrt(cov[:, 1, 1]), C - p, converged & np.isfinite(beta).all(axis=1)


def _logistic_robust(X: np.ndarray, y: np.ndarray, m: np.ndarray, *, robust_se: str = "CR1",
                     maxiter: int = 50, tol: float = 1e-10
                     ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Binomial GLM (logit) of y events out of m by IRLS for each replication; treatment coefficient,
    CR1 sandwich SE (clusters are the rows), df, converged (separation leaves it False)."""
    R, C, p = X.shape
    pbar = np.clip(y.sum(axis=1) / m.sum(axis=1), 1e-6, 1 - 1e-6)
    beta = np.zeros((R, p))
    beta[:, 0] = np.log(pbar / (1 - pbar))
    converged = np.zeros(R, dtype=bool)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for _ in range(maxiter):
            eta = np.einsum("rcp,rp->rc", X, beta)
            pr = 1 / (1 + np.exp(-eta))
            w = np.maximum(m * pr * (1 - pr), 1e-300)
            z = eta + (y - m * pr) / w
            xtwx = np.einsum("rcp,rc,rcq->rpq", X, w, X)
            xtwz = np.einsum("rcp,rc,rc->rp", X, w, z)
            try:
                new = np.linalg.solve(xtwx, xtwz[..., None])[..., 0]
            except np.linalg.LinAlgError:
                new = np.full_like(beta, np.nan)
            step = np.max(np.abs(new - beta), axis=1)
            beta = new
            converged = step < tol
            if converged.all() or not np.isfinite(beta).all():
                break
        ok = converged & np.isfinite(beta).all(axis=1) & (np.abs(beta[:, 1]) < 15)
        beta[~ok] = 0.0  # failed fits (separation) are left out by the caller; keep the algebra finite
        pr = 1 / (1 + np.exp(-np.einsum("rcp,rp->rc", X, beta)))
    cov = _sandwich(X, y - m * pr, m * pr * (1 - pr), robust_se)
    return beta[:, 1], np.sqrt(cov[:, 1, 1]), C - p, ok


def _block_design(rng, reps: int, blocks: int, per_block: int, p: float):
    """Randomisation within blocks: treatment indicators (reps, C), block of each cluster, dummies."""
    C = blocks * per_block
    t = round(p * per_block)
    treat = np.zeros((reps, blocks, per_block))
    for r in range(reps):
        for b in range(blocks):
            treat[r, b, rng.choice(per_block, t, replace=False)] = 1.0
    treat = treat.reshape(reps, C)
    block = np.repeat(np.arange(blocks), per_block)
    dummies = [np.broadcast_to((block == b).astype(float), (reps, C)) for b in range(1, blocks)]
    X = np.stack([np.ones((reps, C)), treat, *dummies], axis=2)
    return treat, block, X


def _check_robust(kind: str) -> None:
    if kind not in ROBUST_SE:
        raise DesignError(f"robust_se={kind!r} is not known; expected one of: {', '.join(ROBUST_SE)}")


def _check_blocks(blocks, per_block, p) -> None:
    for name, v in (("blocks", blocks), ("clusters_per_block", per_block)):
        if not isinstance(v, int | np.integer) or v < 1:
            raise DesignError(f"{name}={v!r} must be a whole number, 1 or more")
    t = round(p * per_block)
    if t < 1 or t >= per_block:
        raise DesignError(f"p={p} of {per_block} clusters per block leaves an arm empty within blocks")
    if blocks * per_block - (blocks + 1) < 1:
        raise DesignError("too few clusters for the block fixed effects and the treatment effect")


# --------------------------------------------------------------------------------------------------
# scenarios

@dataclass(frozen=True)
class ThreeLevelContinuous:
    """A three-level cluster trial with treatment at level 3 (CRA3_3r) and a continuous outcome.

    Outcome variance 1, split ``rho3`` between level-3 units, ``rho2`` between level-2 units, the rest
    within; a level-3 covariate explains ``r23`` of the level-3 variance when ``g3 = 1``. ``round(p K)``
    level-3 units are treated. The true effect ``es`` is in SD units.
    """

    es: float
    rho2: float
    rho3: float
    n: int
    J: int
    K: int
    p: float = 0.5
    r23: float = 0.0
    g3: int = 0

    name = "three-level cluster trial (CRA3_3r), t test on level-3 means"

    def check(self) -> None:
        if self.rho2 < 0 or self.rho3 < 0 or self.rho2 + self.rho3 > 1:
            raise DesignError(f"rho2={self.rho2} and rho3={self.rho3} must be proportions summing to "
                              "at most 1")
        for name in ("n", "J", "K"):
            v = getattr(self, name)
            if not isinstance(v, int | np.integer) or v < 1:
                raise DesignError(f"{name}={v!r} must be a whole number of units, 1 or more")
        k1 = round(self.p * self.K)
        if k1 < 1 or self.K - k1 < 1 or self.K - 2 - self.g3 < 1:
            raise DesignError(f"K={self.K} with p={self.p} leaves an arm empty or no df; add level-3 units")
        if self.g3 not in (0, 1):
            raise DesignError(f"g3={self.g3!r}: the simulation adjusts for at most one level-3 covariate")

    @property
    def truth(self) -> float:
        return self.es

    def run(self, rng: np.random.Generator, reps: int) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
        K, J, n = self.K, self.J, self.n
        k1 = round(self.p * self.K)
        treat = np.zeros((reps, K))
        for r in range(reps):  # complete randomisation of the level-3 units
            treat[r, rng.choice(K, k1, replace=False)] = 1.0
        # level-3 effects: a covariate part (explaining r23) and a residual part
        x3 = rng.standard_normal((reps, K))
        u3 = (math.sqrt(self.rho3 * self.r23) * x3
              + math.sqrt(self.rho3 * (1 - self.r23)) * rng.standard_normal((reps, K)))
        u2 = math.sqrt(self.rho2) * rng.standard_normal((reps, K, J))
        e = math.sqrt(1 - self.rho2 - self.rho3) * rng.standard_normal((reps, K, J, n))
        y = self.es * treat[..., None, None] + u3[..., None, None] + u2[..., None] + e
        means = y.mean(axis=(2, 3))
        cols = [np.ones((reps, K)), treat] + ([x3] if self.g3 else [])
        X = np.stack(cols, axis=2)
        est, se, df = _ols(X, means)
        return est, se, df, np.ones(reps, dtype=bool)


@dataclass(frozen=True)
class ClusterCounts:
    """Counts with exposure in clusters within blocks, randomised within blocks (e.g. the social workers
    in schools trial: schools within local authorities, section 47 enquiries per pupil-year).

    ``clusters_per_block`` clusters in each of ``blocks`` blocks, ``round(p * clusters_per_block)``
    treated in each; exposure per cluster gamma with mean ``exposure`` and CV ``size_cv`` (0: equal);
    cluster rates ``rate0 * rate_ratio^treated * u * v`` with ``u`` gamma (mean 1, CV ``k``) between
    clusters and ``v`` gamma (mean 1, CV ``block_cv``) between blocks; counts Poisson.
    """

    rate0: float
    rate_ratio: float
    exposure: float
    blocks: int
    clusters_per_block: int
    k: float = 0.0
    size_cv: float = 0.0
    block_cv: float = 0.0
    p: float = 0.5
    analysis: str = "poisson-robust"
    robust_se: str = "CR1"

    @property
    def name(self) -> str:
        se = f" ({self.robust_se})" if self.analysis == "poisson-robust" else ""
        return f"cluster counts with exposure, {ANALYSES[self.analysis]}{se}"

    def check(self) -> None:
        if self.analysis not in ANALYSES:
            raise DesignError(f"analysis={self.analysis!r} is not known; expected one of: "
                              f"{', '.join(ANALYSES)}")
        _check_robust(self.robust_se)
        for name in ("rate0", "rate_ratio", "exposure"):
            if not getattr(self, name) > 0:
                raise DesignError(f"{name}={getattr(self, name)!r} must be above 0")
        for name in ("k", "size_cv", "block_cv"):
            if not getattr(self, name) >= 0:
                raise DesignError(f"{name}={getattr(self, name)!r} must be 0 or more")
        _check_blocks(self.blocks, self.clusters_per_block, self.p)

    @property
    def truth(self) -> float:
        return math.log(self.rate_ratio)

    @staticmethod
    def _gamma(rng, cv: float, shape: tuple[int, ...], mean: float = 1.0) -> np.ndarray:
        if cv == 0:
            return np.full(shape, mean)
        a = 1 / cv ** 2
        return rng.gamma(a, mean / a, size=shape)

    def run(self, rng: np.random.Generator, reps: int) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
        B, C = self.blocks, self.blocks * self.clusters_per_block
        treat, block, X = _block_design(rng, reps, B, self.clusters_per_block, self.p)
        exposure = self._gamma(rng, self.size_cv, (reps, C), self.exposure)
        u = self._gamma(rng, self.k, (reps, C))
        v = self._gamma(rng, self.block_cv, (reps, B))[:, block]
        mu = self.rate0 * self.rate_ratio ** treat * u * v * exposure
        y = rng.poisson(mu).astype(float)
        if self.analysis == "poisson-robust":
            return _poisson_robust(X, y, np.log(exposure), robust_se=self.robust_se)
        est, se, df = _ols(X, np.log((y + 0.5) / exposure))
        return est, se, df, np.ones(reps, dtype=bool)


#: Analyses available for :class:`ClusterBinary`.
BINARY_ANALYSES = {
    "logistic-robust": "binomial GLM, logit link, block fixed effects; cluster-robust SE (log odds ratio)",
    "cluster-level": "OLS of the cluster proportions on arm and blocks; t test (risk difference)",
}


@dataclass(frozen=True)
class ClusterBinary:
    """A binary outcome in clusters within blocks, randomised within blocks, with unequal clusters.

    Cluster sizes are gamma with mean ``m`` and CV ``size_cv`` (rounded, at least 1); each cluster's
    true proportion is beta with mean ``p0`` (control) or ``p1`` (intervention) and intraclass
    correlation ``icc`` (beta parameters summing to ``(1 - icc) / icc``); events binomial. The
    estimand is the log odds ratio ``logit(p1) - logit(p0)`` for ``"logistic-robust"`` and the risk
    difference ``p1 - p0`` for ``"cluster-level"`` (cluster proportions weighted equally).
    """

    p0: float
    p1: float
    m: float
    icc: float
    blocks: int
    clusters_per_block: int
    size_cv: float = 0.0
    p: float = 0.5
    analysis: str = "logistic-robust"
    robust_se: str = "CR1"

    @property
    def name(self) -> str:
        se = f" ({self.robust_se})" if self.analysis == "logistic-robust" else ""
        return f"binary outcome in clusters, {BINARY_ANALYSES[self.analysis]}{se}"

    def check(self) -> None:
        if self.analysis not in BINARY_ANALYSES:
            raise DesignError(f"analysis={self.analysis!r} is not known; expected one of: "
                              f"{', '.join(BINARY_ANALYSES)}")
        _check_robust(self.robust_se)
        for name in ("p0", "p1"):
            if not 0 < getattr(self, name) < 1:
                raise DesignError(f"{name}={getattr(self, name)!r} must be a proportion in (0, 1)")
        if not 0 < self.icc < 1:
            raise DesignError(f"icc={self.icc!r} must be in (0, 1) (beta-binomial clusters)")
        if not self.m >= 1 or not self.size_cv >= 0:
            raise DesignError(f"m={self.m!r} must be 1 or more and size_cv={self.size_cv!r} 0 or more")
        _check_blocks(self.blocks, self.clusters_per_block, self.p)

    @property
    def truth(self) -> float:
        if self.analysis == "cluster-level":
            return self.p1 - self.p0
        return math.log(self.p1 / (1 - self.p1)) - math.log(self.p0 / (1 - self.p0))

    def run(self, rng: np.random.Generator, reps: int) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
        C = self.blocks * self.clusters_per_block
        treat, _, X = _block_design(rng, reps, self.blocks, self.clusters_per_block, self.p)
        if self.size_cv == 0:
            sizes = np.full((reps, C), float(round(self.m)))
        else:
            a = 1 / self.size_cv ** 2
            sizes = np.maximum(1.0, np.round(rng.gamma(a, self.m / a, size=(reps, C))))
        mean = np.where(treat == 1, self.p1, self.p0)
        total = (1 - self.icc) / self.icc
        prob = rng.beta(mean * total, (1 - mean) * total)
        y = rng.binomial(sizes.astype(np.int64), prob).astype(float)
        if self.analysis == "logistic-robust":
            return _logistic_robust(X, y, sizes, robust_se=self.robust_se)
        est, se, df = _ols(X, y / sizes)
        return est, se, df, np.ones(reps, dtype=bool)


SCENARIOS = (ThreeLevelContinuous, ClusterCounts, ClusterBinary)


# --------------------------------------------------------------------------------------------------
# running

def _run_chunk(task: tuple[Any, int, int, float, float]) -> dict[str, np.ndarray]:
    """One chunk of replications (a module-level function so every compute backend can run it)."""
    from scipy import stats

    scenario, seed, reps, alpha, level = task
    rng = np.random.default_rng(seed)
    est, se, df, ok = scenario.run(rng, reps)
    t = est / se
    crit = stats.t.ppf(1 - alpha / 2, df)
    half = stats.t.ppf(0.5 + level / 2, df) * se
    truth = scenario.truth
    return {"estimate": est, "se": se, "reject": np.abs(t) > crit,
            "covered": (est - half <= truth) & (truth <= est + half), "ok": ok & np.isfinite(se)}


@dataclass(frozen=True, repr=False)
class SimulationResult(Result):
    """Power, bias, RMSE and coverage of a simulated trial, each with its Monte Carlo SE."""

    scenario: str
    power: float
    power_mcse: float
    bias: float
    bias_mcse: float
    rmse: float
    rmse_mcse: float
    coverage: float
    coverage_mcse: float
    empirical_se: float
    mean_se: float
    truth: float
    replications: int
    failed: int
    seed: int
    alpha: float
    level: float
    inputs: dict[str, Any]
    compute: dict[str, Any] = field(default_factory=dict)

    def summary_text(self) -> str:
        return (f"{self.scenario}: power {fmt(self.power)} (MCSE {fmt(self.power_mcse)}), bias "
                f"{fmt(self.bias)} ({fmt(self.bias_mcse)}), RMSE {fmt(self.rmse)} ({fmt(self.rmse_mcse)}), "
                f"coverage {fmt(self.coverage)} ({fmt(self.coverage_mcse)}); {self.replications} "
                f"replications, {self.failed} failed, seed {self.seed}")


def simulate_power(scenario, *, replications: int = 1000, seed: int, alpha: float = 0.05,
                   level: float = 0.95, chunk: int = 100, backend: str | None = None,
                   workers: int | None = None, scheduler: str | None = None, client=None,
                   progress: bool | None = None) -> SimulationResult:
    """Simulate ``scenario`` ``replications`` times and report power, bias, RMSE and coverage.

    Replications run in chunks of ``chunk``; chunk ``i`` gets seed ``task_seeds(seed, n_chunks)[i]``,
    so the result depends on ``seed`` and ``chunk`` only, never on the backend or the workers.
    Replications whose fit failed (a Poisson fit that did not converge) are counted in ``failed`` and
    left out of every measure; the result says how many.

    References
    ----------
    Morris TP, White IR, Crowther MJ (2019). Stat Med 38:2074-2102.
    """
    from ..compute import map_tasks, plan, task_seeds

    if not isinstance(scenario, SCENARIOS):
        raise DesignError(f"scenario must be one of: {', '.join(s.__name__ for s in SCENARIOS)}")
    scenario.check()
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 2:
        raise DesignError(f"replications={replications!r} must be a whole number, 2 or more")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise DesignError(f"chunk={chunk!r} must be a whole number, 1 or more")
    if not 0 < alpha < 1 or not 0 < level < 1:
        raise DesignError(f"alpha={alpha!r} and level={level!r} must be between 0 and 1")
    sizes = [chunk] * (replications // chunk) + ([replications % chunk] if replications % chunk else [])
    seeds = task_seeds(seed, len(sizes))
    tasks = [(scenario, s, r, alpha, level) for s, r in zip(seeds, sizes, strict=True)]
    chosen = plan(len(tasks), backend=backend if client is None else "dask", workers=workers,
                  scheduler=scheduler)
    parts = map_tasks(_run_chunk, tasks, backend=backend, workers=workers, scheduler=scheduler,
                      client=client, progress=progress, description="replications")
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ok = out["ok"]
    R = int(ok.sum())
    if R < 2:
        raise DesignError(f"only {R} of {replications} replications could be analysed")
    est, se = out["estimate"][ok], out["se"][ok]
    power_ = float(out["reject"][ok].mean())
    cover = float(out["covered"][ok].mean())
    err = est - scenario.truth
    emp_se = float(est.std(ddof=1))
    mse = float(np.mean(err ** 2))
    rmse = math.sqrt(mse)
    rmse_mcse = float(np.std(err ** 2, ddof=1) / math.sqrt(R) / (2 * rmse)) if rmse > 0 else 0.0
    return SimulationResult(
        scenario=scenario.name, power=power_, power_mcse=math.sqrt(power_ * (1 - power_) / R),
        bias=float(err.mean()), bias_mcse=emp_se / math.sqrt(R), rmse=rmse, rmse_mcse=rmse_mcse,
        coverage=cover, coverage_mcse=math.sqrt(cover * (1 - cover) / R), empirical_se=emp_se,
        mean_se=float(se.mean()), truth=scenario.truth, replications=R, failed=replications - R,
        seed=seed, alpha=alpha, level=level,
        inputs={"type": type(scenario).__name__, **asdict(scenario), "chunk": chunk},
        compute=chosen.to_dict())
