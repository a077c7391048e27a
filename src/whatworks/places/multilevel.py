"""A multilevel model of authorities within regions: a Poisson-lognormal GLMM.

``count_ij ~ Poisson(mu_ij)``, ``log mu_ij = log(population_ij) + b0 + b1 * imd_ij / 10 + u_j + e_ij``
with ``u_j ~ N(0, sd_region^2)`` for region ``j`` and ``e_ij ~ N(0, sd_authority^2)`` for
authority ``i``: children within authorities within regions. The authority effect absorbs the
between-authority (extra-Poisson) variation, so the region variance is not inflated by it.

Fitted by maximum likelihood with the Laplace approximation, as ``lme4::glmer(count ~ imd10 +
(1 | region) + (1 | authority), offset = log(population), family = poisson, nAGQ = 1)``: for given
variance and fixed parameters the random effects' conditional mode is found by penalised
iteratively reweighted least squares, and the approximate deviance
``-2 log p(y | mode) + |u|^2 + log det(Lambda' Z' W Z Lambda + I)`` (spherical random effects
``u``, ``b = Lambda u``) is minimised over (``sd_region``, ``sd_authority``, ``b``). The block
structure (each authority in one region) makes every step O(n).

Standard errors: ``se`` from the finite-difference Hessian of that deviance in all parameters
(lme4's default for ``summary``), ``se_conditional`` from the penalised information at the
variance estimates (lme4's ``vcov(use.hessian = FALSE)``).

References
----------
Breslow NE, Clayton DG (1993). Approximate inference in generalized linear mixed models. J Am
    Stat Assoc 88:9-25.
Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models using lme4.
    J Stat Softw 67(1):1-48 (the penalised least squares formulation used here).
Harrison XA (2014). Using observation-level random effects to model overdispersion in count data
    in ecology and evolution. PeerJ 2:e616.
Reference implementation tested against: lme4 1.1 ``glmer`` (tests/reference/make_places.R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from .._laplace import hessian as _hessian
from .._laplace import minimise as _minimise
from .._results import Result, fmt, fmt_p, jsonable
from ..errors import ConvergenceError, ParameterError
from .models import IMD_TERM, PER, _glm, model_frame


@dataclass(frozen=True)
class _Mode:
    u: np.ndarray        # spherical region effects (R)
    v: np.ndarray        # spherical authority effects (n)
    mu: np.ndarray
    deviance: float      # Laplace: -2 log p(y|mode) + |u|^2 + log det H
    schur: np.ndarray    # R x R Schur complement of H
    d: np.ndarray        # diagonal block of H (authorities)


class _Problem:
    """The Laplace deviance of the Poisson-lognormal model for fixed data."""

    def __init__(self, y, X, offset, region_index, n_regions, authority_effect=True):
        self.y, self.X, self.offset = y, X, offset
        self.r, self.R = region_index, n_regions
        self.olre = authority_effect
        self.const = float(np.sum(special.gammaln(y + 1)))
        self._last = (np.zeros(n_regions), np.zeros(len(y)))

    def mode(self, s_r: float, s_a: float, beta: np.ndarray, *, tol: float = 1e-12) -> _Mode:
        y, r, R = self.y, self.r, self.R
        s_a = s_a if self.olre else 0.0
        fixed = self.X @ beta + self.offset
        u, v = (a.copy() for a in self._last)

        def penalised(u, v):
            eta = fixed + s_r * u[r] + s_a * v
            mu = np.exp(eta)
            return float(np.sum(mu - y * eta) + 0.5 * (u @ u + v @ v)), mu

        obj, mu = penalised(u, v)
        for _ in range(200):
            resid = y - mu
            g_u = s_r * np.bincount(r, resid, R) - u
            g_v = s_a * resid - v
            a = s_r ** 2 * np.bincount(r, mu, R) + 1.0   # diagonal of A
            d = s_a ** 2 * mu + 1.0                         # diagonal of D
            bw = s_r * s_a * mu                             # B = Z_r' (bw) (R x n, sparse)
            # Schur complement S = A - B D^-1 B' (diagonal: each authority in one region)
            s = a - np.bincount(r, bw ** 2 / d, R)
            rhs = g_u - np.bincount(r, bw * g_v / d, R)
            du = rhs / s
            dv = (g_v - bw * du[r]) / d
            step = 1.0
            for _ in range(40):
                new_obj, new_mu = penalised(u + step * du, v + step * dv)
                if new_obj <= obj + 1e-13 * abs(obj):
                    break
                step /= 2
            u, v = u + step * du, v + step * dv
            change = obj - new_obj
            obj, mu = new_obj, new_mu
            if (abs(change) <= tol * (abs(obj) + 1)
                    and max(np.max(np.abs(du)), np.max(np.abs(dv), initial=0)) < 1e-10):
                break
        else:
            raise ConvergenceError("the random effects' conditional modes did not converge")
        a = s_r ** 2 * np.bincount(r, mu, R) + 1.0
        d = s_a ** 2 * mu + 1.0
        bw = s_r * s_a * mu
        s = a - np.bincount(r, bw ** 2 / d, R)
        self._last = (u, v)
        loglik_y = float(np.sum(special.xlogy(y, mu) - mu)) - self.const
        dev = -2 * loglik_y + u @ u + v @ v + float(np.sum(np.log(d)) + np.sum(np.log(s)))
        return _Mode(u, v, mu, dev, s, d)

    def deviance(self, params: np.ndarray) -> float:
        s_r, s_a, beta = params[0], params[1], params[2:]
        if s_r < 0 or s_a < 0:
            return np.inf
        try:
            return self.mode(s_r, s_a, beta).deviance
        except (ConvergenceError, FloatingPointError):
            return np.inf

    def conditional_cov(self, s_r, s_a, beta) -> np.ndarray:
        """(X'WX - X'W Z Lambda H^-1 Lambda Z'W X)^-1 at the conditional mode."""
        m = self.mode(s_r, s_a, beta)
        X, r, R, mu = self.X, self.r, self.R, m.mu
        s_a = s_a if self.olre else 0.0
        # C = Lambda Z' W X, split into region rows (R x p) and authority rows (n x p)
        c_u = s_r * np.stack([np.bincount(r, mu * X[:, j], R) for j in range(X.shape[1])], 1)
        c_v = (s_a * mu)[:, None] * X
        bw = s_r * s_a * mu
        # H^-1 C by block elimination
        rhs = c_u - np.stack([np.bincount(r, bw * c_v[:, j] / m.d, R)
                              for j in range(X.shape[1])], 1)
        h_u = rhs / m.schur[:, None]
        h_v = (c_v - bw[:, None] * h_u[r]) / m.d[:, None]
        info = (X.T * mu) @ X - (c_u.T @ h_u + c_v.T @ h_v)
        return np.linalg.inv(info)


@dataclass(frozen=True, repr=False)
class MultilevelModel(Result):
    """Poisson-lognormal GLMM: region and authority random intercepts, deprivation fixed."""

    year: int | None
    n: int
    n_regions: int
    level: float
    terms: tuple[str, ...]
    estimate: np.ndarray
    se: np.ndarray
    se_conditional: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    sd_region: float
    sd_authority: float
    region_share: float
    loglik: float
    aic: float
    deviance: float
    regions: tuple[str, ...]
    region_effect: np.ndarray
    codes: tuple[str, ...]
    names: tuple[str, ...]
    authority_region: tuple[str, ...]
    count: np.ndarray
    population: np.ndarray
    authority_effect: np.ndarray
    expected: np.ndarray

    _skip_in_dict = ("terms", "estimate", "se", "se_conditional", "statistic", "p_value",
                     "ci_lower", "ci_upper", "regions", "region_effect", "codes", "names",
                     "authority_region", "count", "population", "authority_effect", "expected")

    def to_frame(self) -> pd.DataFrame:
        """Fixed effects (log scale) with rate ratios."""
        return pd.DataFrame({
            "term": list(self.terms), "estimate": self.estimate, "se": self.se,
            "se_conditional": self.se_conditional, "statistic": self.statistic,
            "p_value": self.p_value, "ci_lower": self.ci_lower, "ci_upper": self.ci_upper,
            "rate_ratio": np.exp(self.estimate), "rr_ci_lower": np.exp(self.ci_lower),
            "rr_ci_upper": np.exp(self.ci_upper)})

    def region_frame(self) -> pd.DataFrame:
        """Each region's effect (conditional mode) and its rate ratio to a typical region."""
        return pd.DataFrame({"region": list(self.regions), "effect": self.region_effect,
                             "rate_ratio": np.exp(self.region_effect)})

    def authorities(self) -> pd.DataFrame:
        """Observed counts against those expected for the authority's deprivation alone
        (fixed part, random effects at zero), and the authority's own effect."""
        return pd.DataFrame({
            "code": list(self.codes), "name": list(self.names),
            "region": list(self.authority_region), "count": self.count,
            "population": self.population, "rate": self.count / self.population * PER,
            "expected": self.expected, "expected_rate": self.expected / self.population * PER,
            "ratio": self.count / self.expected, "authority_effect": self.authority_effect})

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["coefficients"] = jsonable(self.to_frame().to_dict(orient="records"))
        out["regions"] = jsonable(self.region_frame().to_dict(orient="records"))
        return out

    def summary_text(self) -> str:
        lines = [f"Poisson-lognormal multilevel model (Laplace), authorities within regions"
                 f"{'' if self.year is None else f', {self.year}'} (n = {self.n}, "
                 f"{self.n_regions} regions)",
                 f"  sd(region) = {fmt(self.sd_region)}, sd(authority) = {fmt(self.sd_authority)};"
                 f" {100 * self.region_share:.1f}% of the between-authority variance in log rates "
                 f"lies between regions"]
        for _, r in self.to_frame().iterrows():
            if r["term"] == "intercept":  # the rate of a typical authority at IMD score 0
                lines.append(f"  baseline rate per 10,000 (IMD 0) {fmt(r['rate_ratio'] * PER, 2)} "
                             f"[{fmt(r['rr_ci_lower'] * PER, 2)}, "
                             f"{fmt(r['rr_ci_upper'] * PER, 2)}]")
                continue
            lines.append(f"  {r['term']:<20} rate ratio {fmt(r['rate_ratio'], 3)} "
                         f"[{fmt(r['rr_ci_lower'], 3)}, {fmt(r['rr_ci_upper'], 3)}], "
                         f"p {fmt_p(r['p_value'])}")
        lines.append(f"  log-likelihood {fmt(self.loglik, 2)}, AIC {fmt(self.aic, 2)}")
        return "\n".join(lines)


def fit_multilevel(count, population, X, names, region, *, level: float = 95.0,
                   year: int | None = None, codes=None, labels=None) -> MultilevelModel:
    """Fit the Poisson-lognormal GLMM to arrays (``region``: a label per authority)."""
    if not 0 < level < 100:
        raise ParameterError("level", level, "a confidence level between 0 and 100")
    y = np.asarray(count, float)
    n = np.asarray(population, float)
    X = np.asarray(X, float)
    region = np.asarray(region, dtype=object)
    regions, r_index = np.unique(region, return_inverse=True)
    offset = np.log(n)
    prob = _Problem(y, X, offset, r_index, len(regions))
    start_beta = _glm(y, X, offset, "poisson").beta
    x0 = np.concatenate([[0.2, 0.3], start_beta])
    x, _ = _minimise(prob.deviance, x0, 2)
    s_r, s_a, beta = float(x[0]), float(x[1]), x[2:]
    m = prob.mode(s_r, s_a, beta)
    p = len(beta)
    cov_c = prob.conditional_cov(s_r, s_a, beta)
    hess = _hessian(prob.deviance, x)
    try:
        cov = 2 * np.linalg.inv(hess)[2:, 2:]
        se = np.sqrt(np.diag(cov))
    except np.linalg.LinAlgError:
        se = np.full(p, np.nan)
    if not np.all(np.isfinite(se)):
        se = np.sqrt(np.diag(cov_c))
    z = stats.norm.ppf(1 - (1 - level / 100) / 2)
    loglik = -m.deviance / 2
    codes = tuple(str(c) for c in (codes if codes is not None else range(1, len(y) + 1)))
    return MultilevelModel(
        year=year, n=len(y), n_regions=len(regions), level=level, terms=tuple(names),
        estimate=beta, se=se, se_conditional=np.sqrt(np.diag(cov_c)), statistic=beta / se,
        p_value=2 * stats.norm.sf(np.abs(beta / se)), ci_lower=beta - z * se,
        ci_upper=beta + z * se, sd_region=s_r, sd_authority=s_a,
        region_share=s_r ** 2 / (s_r ** 2 + s_a ** 2) if s_r + s_a > 0 else np.nan,
        loglik=loglik, aic=-2 * loglik + 2 * (p + 2), deviance=m.deviance,
        regions=tuple(str(g) for g in regions), region_effect=s_r * m.u, codes=codes,
        names=tuple(str(c) for c in (labels if labels is not None else codes)),
        authority_region=tuple(str(g) for g in region), count=y, population=n,
        authority_effect=s_a * m.v, expected=np.exp(X @ beta + offset))


def multilevel_model(panel: pd.DataFrame, *, year: int, level: float = 95.0) -> MultilevelModel:
    """Authorities within regions for one year of a panel: deprivation fixed, region and
    authority random intercepts (see the module notes)."""
    rows = model_frame(panel, year=year)
    X = np.column_stack([np.ones(len(rows)), rows["imd_score"].to_numpy(float) / 10])
    return fit_multilevel(rows["count"], rows["population"], X, ["intercept", IMD_TERM],
                          rows["region"].to_numpy(), level=level, year=int(year),
                          codes=rows["code"].tolist(), labels=rows["name"].tolist())
