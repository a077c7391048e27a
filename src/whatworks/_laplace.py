"""Maximum likelihood for generalised linear mixed models by the Laplace approximation.

Shared by :mod:`whatworks.places.multilevel` (authorities within regions) and
:mod:`whatworks.trials.analyse` (units within randomised clusters): the optimiser (bounded
L-BFGS-B on the Laplace deviance, then Newton steps), finite-difference derivatives, and a
random-intercept GLMM for binomial (logit), Poisson (log) and negative binomial (NB2, log) outcomes
with an offset.

The random-intercept model: ``g(E[y_ij | b_j]) = x_ij' beta + offset_ij + b_j``, ``b_j = sigma u_j``,
``u_j ~ N(0, 1)``. For given ``(sigma, beta[, theta])`` each cluster's conditional mode ``u_j`` is found
by Fisher scoring (penalised iteratively reweighted least squares); the Laplace deviance is

``-2 sum log p(y | u) + sum u_j^2 + sum log(1 + sigma^2 sum_i w_ij)``

at the modes, with ``w`` the working (expected-information) weights, as lme4's ``glmer(nAGQ = 1)``.
It is minimised over ``sigma >= 0``, ``beta`` (and ``log theta`` for the negative binomial, as
``glmer.nb``). Standard errors: the inverse of the finite-difference Hessian of the deviance in
``(sigma, beta)`` (lme4's default; ``theta`` held at its estimate, as ``glmer.nb``'s final fit).

References
----------
Breslow NE, Clayton DG (1993). Approximate inference in generalized linear mixed models. J Am
    Stat Assoc 88:9-25.
Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models using lme4.
    J Stat Softw 67(1):1-48.
Reference implementation tested against: lme4 1.1 ``glmer`` / ``glmer.nb``
(tests/reference/make_trials.R, tests/reference/make_places.R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from .errors import ConvergenceError

GLMM_FAMILIES = ("binomial", "poisson", "negbin")


def gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient."""
    g = np.empty(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def minimise(f, x0: np.ndarray, n_var: int, *, newton_steps: int = 20) -> tuple[np.ndarray, float]:
    """L-BFGS-B (the first ``n_var`` parameters >= 0), then Newton steps while they stay inside."""
    bounds = [(0.0, None)] * n_var + [(None, None)] * (len(x0) - n_var)
    res = optimize.minimize(f, x0, jac=lambda x: gradient(f, np.maximum(x, [1e-5] * n_var
                                                                        + [-np.inf] * (len(x) - n_var))),
                            method="L-BFGS-B", bounds=bounds,
                            options={"ftol": 1e-15, "gtol": 1e-8, "maxiter": 5000})
    x, fx = res.x, float(res.fun)
    if not np.isfinite(fx):
        raise ConvergenceError(f"the multilevel model did not converge ({res.message})")
    for _ in range(newton_steps):
        if np.any(x[:n_var] < 1e-4):
            break  # on the boundary: keep the bounded solution
        g = gradient(f, x)
        try:
            step = np.linalg.solve(hessian(f, x), g)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-4 and not f(x - t * step) <= fx:
            t /= 2
        if t <= 1e-4:
            break
        x, fx = x - t * step, f(x - t * step)
        if np.max(np.abs(t * step)) < 1e-10:
            break
    return x, fx


def hessian(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian."""
    k = len(x)
    out = np.empty((k, k))
    f0 = f(x)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h
        out[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h ** 2
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = h
            out[i, j] = out[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                                     + f(x - ei - ej)) / (4 * h ** 2)
    return out


def _family_terms(family: str, y: np.ndarray, eta: np.ndarray, theta: float | None):
    """Per-observation log density, score d loglik / d eta, and working weight."""
    if family == "poisson":
        mu = np.exp(eta)
        return special.xlogy(y, mu) - mu - special.gammaln(y + 1), y - mu, mu, mu
    if family == "binomial":
        p = special.expit(eta)
        ll = y * eta - np.logaddexp(0.0, eta)
        return ll, y - p, p * (1 - p), p
    mu = np.exp(eta)  # NB2: var = mu + mu^2 / theta
    ll = (special.gammaln(y + theta) - special.gammaln(theta) - special.gammaln(y + 1)
          + theta * np.log(theta / (theta + mu)) + special.xlogy(y, mu / (theta + mu)))
    return ll, (y - mu) * theta / (theta + mu), mu * theta / (theta + mu), mu


@dataclass(frozen=True)
class GLMMFit:
    family: str
    beta: np.ndarray
    cov: np.ndarray            # fixed effects, from the Hessian of the Laplace deviance
    cov_conditional: np.ndarray
    sigma: float               # SD of the cluster random intercept
    theta: float | None        # NB2 size (negbin)
    loglik: float
    deviance: float
    modes: np.ndarray          # conditional modes b_j = sigma u_j, in cluster order
    n_clusters: int


class RandomInterceptGLMM:
    """The Laplace deviance of a random-intercept GLMM for fixed data (``groups``: 0..J-1)."""

    def __init__(self, y, X, offset, groups, family: str):
        if family not in GLMM_FAMILIES:
            raise ValueError(family)
        self.y, self.X = np.asarray(y, float), np.asarray(X, float)
        self.offset = np.asarray(offset, float)
        self.g = np.asarray(groups)
        self.J = int(self.g.max()) + 1
        self.family = family
        self._u = np.zeros(self.J)

    def _penalised(self, fixed, s, u, theta):
        ll, score, w, mu = _family_terms(self.family, self.y, fixed + s * u[self.g], theta)
        obj = np.bincount(self.g, ll, self.J) - 0.5 * u ** 2
        return obj, score, w

    def mode(self, s: float, beta: np.ndarray, theta: float | None):
        """Conditional modes u (spherical) and the Laplace deviance."""
        fixed = self.X @ beta + self.offset
        u = self._u.copy()
        obj, score, w = self._penalised(fixed, s, u, theta)
        for _ in range(200):
            grad = s * np.bincount(self.g, score, self.J) - u
            info = s ** 2 * np.bincount(self.g, w, self.J) + 1.0
            step = grad / info
            t = np.ones(self.J)
            for _ in range(40):
                new_obj, new_score, new_w = self._penalised(fixed, s, u + t * step, theta)
                worse = new_obj < obj - 1e-13 * np.abs(obj)
                if not worse.any():
                    break
                t = np.where(worse, t / 2, t)
            u = u + t * step
            obj, score, w = new_obj, new_score, new_w
            if np.max(np.abs(t * step)) < 1e-10:
                break
        else:
            raise ConvergenceError("the random effects' conditional modes did not converge")
        self._u = u
        info = s ** 2 * np.bincount(self.g, w, self.J) + 1.0
        loglik = float(np.sum(obj) - 0.5 * np.sum(np.log(info)))
        return u, w, info, loglik

    def deviance(self, params: np.ndarray, theta: float | None = None) -> float:
        s, beta = params[0], params[1:1 + self.X.shape[1]]
        if self.family == "negbin" and theta is None:
            theta = float(np.exp(params[-1]))
        if s < 0:
            return np.inf
        try:
            with np.errstate(over="raise", invalid="raise"):
                return -2 * self.mode(s, beta, theta)[3]
        except (ConvergenceError, FloatingPointError):
            return np.inf

    def conditional_cov(self, s, beta, theta) -> np.ndarray:
        """(X'WX - sum_j C_j C_j' / H_j)^-1 at the modes, C_j = sigma sum_i w_ij x_ij."""
        _, w, info, _ = self.mode(s, beta, theta)
        X = self.X
        C = s * np.stack([np.bincount(self.g, w * X[:, k], self.J) for k in range(X.shape[1])], 1)
        return np.linalg.inv((X.T * w) @ X - (C.T / info) @ C)


def _start(y, X, offset, family):
    """Fixed-effect start values: the GLM without random effects (a few IRLS steps)."""
    beta = np.zeros(X.shape[1])
    if family == "binomial":
        beta[0] = special.logit(np.clip(y.mean(), 0.01, 0.99))
    else:
        beta[0] = np.log(max(y.sum(), 0.5) / np.exp(offset).sum())
    for _ in range(25):
        eta = X @ beta + offset
        _, score, w, _ = _family_terms("poisson" if family == "negbin" else family, y, eta, None)
        w = np.maximum(w, 1e-10)
        try:
            beta = beta + np.linalg.solve((X.T * w) @ X, X.T @ score)
        except np.linalg.LinAlgError:
            break
    return beta


def _scaling(X: np.ndarray) -> np.ndarray:
    """``M`` with ``X @ M`` the covariates centred and scaled to SD 1 (centred only when ``X`` has an
    intercept column of ones): the fixed effects are then ``beta = M @ gamma``. On raw scales (a rate
    per 1,000 beside a percentage) the optimiser can stop at its start values after one step."""
    p = X.shape[1]
    M = np.eye(p)
    ones = [j for j in range(p) if np.all(X[:, j] == 1.0)]
    k0 = ones[0] if ones else None
    for j in range(p):
        if j == k0:
            continue
        sd = float(X[:, j].std())
        if not np.isfinite(sd) or sd <= 0:
            continue
        M[j, j] = 1 / sd
        if k0 is not None:
            M[k0, j] = -float(X[:, j].mean()) / sd
    return M


def fit_random_intercept(y, X, offset, groups, family: str, *, newton_steps: int = 0) -> GLMMFit:
    """Fit ``family`` with a random intercept per group by Laplace maximum likelihood."""
    M = _scaling(np.asarray(X, float))
    prob = RandomInterceptGLMM(y, np.asarray(X, float) @ M, offset, groups, family)
    beta0 = _start(prob.y, prob.X, prob.offset, family)
    p = X.shape[1]
    if family == "negbin":
        x0 = np.concatenate([[0.5], beta0, [np.log(5.0)]])
    else:
        x0 = np.concatenate([[0.5], beta0])
    x, fx = minimise(prob.deviance, x0, 1, newton_steps=newton_steps)
    s, beta = float(x[0]), x[1:1 + p]
    theta = float(np.exp(x[-1])) if family == "negbin" else None
    f_sb = (lambda v: prob.deviance(v, theta)) if family == "negbin" else prob.deviance
    x_sb = x[:1 + p]
    cov_c = prob.conditional_cov(s, beta, theta)
    try:
        cov = 2 * np.linalg.inv(hessian(f_sb, x_sb))[1:, 1:]
        if not np.all(np.isfinite(np.diag(cov))) or np.any(np.diag(cov) <= 0):
            cov = cov_c
    except np.linalg.LinAlgError:
        cov = cov_c
    u, _, _, loglik = prob.mode(s, beta, theta)
    beta, cov, cov_c = M @ beta, M @ cov @ M.T, M @ cov_c @ M.T  # back to the covariates' scales
    return GLMMFit(family=family, beta=beta, cov=cov, cov_conditional=cov_c, sigma=s, theta=theta,
                   loglik=loglik, deviance=-2 * loglik, modes=s * u, n_clusters=prob.J)
