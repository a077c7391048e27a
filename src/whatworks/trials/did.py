"""Difference-in-differences with staggered adoption (Callaway & Sant'Anna 2021), for pilots that
were not randomised (authorities that started at different times, compared with those that had not).

Balanced panel of units ``i`` over periods ``t``; ``group`` is the first period a unit is treated
(0 = never treated). Without covariates (unconditional parallel trends) each group-time effect is a
two-by-two comparison of mean changes,

``ATT(g, t) = mean_{G = g}(Y_t - Y_b) - mean_{C}(Y_t - Y_b)``,

with base period ``b = g - 1`` for ``t >= g`` and ``b = t - 1`` before (the "varying" base period,
so pre-period estimates test parallel trends period by period), and controls ``C`` the never
treated (``control="never"``) or those not yet treated by ``max(t, b)`` (``control="notyet"``).
Groups treated in the first period have no pre-period and are left out (with a warning).

Inference from influence functions: for the subset of the group and its controls (sizes ``n_g``,
``n_c``), the 2x2's influence function gives ``se = sqrt(SS_g / n_g^2 + SS_c / n_c^2)`` (``SS`` the
sums of squared deviations of the changes). Aggregations weight ``ATT(g, t)`` by the groups'
shares ``P(G = g)``, normalised over the cells kept; their influence function adds the weights'
own, ``IF(w_k) = IF(pi_k) / S - pi_k sum_j IF(pi_j) / S^2`` with ``IF(pi_k) = 1{G = g_k} - pi_k``,
``S = sum_j pi_j``: ``simple`` (all post-treatment cells), ``dynamic`` (event time ``e = t - g``,
the event study; its overall is the mean over ``e >= 0``) and ``group``. Standard errors are
analytic (no bootstrap); intervals pointwise normal.

References
----------
Callaway B, Sant'Anna PHC (2021). Difference-in-differences with multiple time periods. J
    Econometrics 225:200-230.
Sant'Anna PHC, Zhao J (2020). Doubly robust difference-in-differences estimators. J Econometrics
    219:101-122 (the influence functions).
Reference implementation tested against: moderndid (a Python port of R's ``did``), via
tests/reference/make_trials_did.py.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._results import Result, fmt
from ..errors import InputError, ParameterError, WhatWorksWarning

CONTROLS = ("never", "notyet")
AGGREGATIONS = ("simple", "dynamic", "group")


@dataclass(frozen=True, repr=False)
class StaggeredDiD(Result):
    """Group-time effects and their aggregations."""

    control: str
    n_units: int
    level: float
    att_gt: pd.DataFrame = field(compare=False)        # group, time, att, se, ci, post
    overall: dict = field(compare=False)                # aggregation -> {att, se, ci_lower, ci_upper}
    event_study: pd.DataFrame = field(compare=False)   # event_time, att, se, ci
    _influence: dict = field(compare=False, default_factory=dict)

    _skip_in_dict = ("att_gt", "event_study", "_influence")

    def to_dict(self) -> dict:
        out = super().to_dict()
        from .._results import jsonable
        out["att_gt"] = jsonable(self.att_gt.to_dict(orient="records"))
        out["event_study"] = jsonable(self.event_study.to_dict(orient="records"))
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.att_gt.copy()

    def summary_text(self) -> str:
        lines = [f"Callaway-Sant'Anna DiD ({self.control} treated as controls), {self.n_units} units"]
        for name, r in self.overall.items():
            lines.append(f"  {name:<8} ATT {fmt(r['att'])} (SE {fmt(r['se'])}) "
                         f"[{fmt(r['ci_lower'])}, {fmt(r['ci_upper'])}]")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary_text()

    def plot_event_study(self, ax=None):
        """Event-study plot: effect by periods since adoption with pointwise intervals."""
        if ax is None:
            from whatworks.synthesis.plots import new_figure  # no pyplot: nothing kept

            ax = new_figure(6, 3.5).add_subplot()
        es = self.event_study
        pre = es["event_time"] < 0
        for mask, colour, label in ((pre, "#888888", "before"), (~pre, "#1f5fa8", "after")):
            sub = es[mask]
            ax.errorbar(sub["event_time"], sub["att"],
                        yerr=[sub["att"] - sub["ci_lower"], sub["ci_upper"] - sub["att"]],
                        fmt="o", color=colour, capsize=3, label=label)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xlabel("periods since adoption")
        ax.set_ylabel("ATT")
        ax.legend(frameon=False)
        return ax


def staggered_did(data: pd.DataFrame, *, outcome: str, unit: str, time: str, group: str,
                  control: str = "never", level: float = 95.0,
                  file: str | None = None) -> StaggeredDiD:
    """Callaway & Sant'Anna group-time ATTs and their aggregations (see the module notes)."""
    if control not in CONTROLS:
        raise ParameterError("control", control, f"one of {', '.join(CONTROLS)}")
    for c in (outcome, unit, time, group):
        if c not in data.columns:
            raise InputError(f"no such column; the columns are {', '.join(map(str, data.columns))}",
                             file=file, column=c)
    d = data[[unit, time, group, outcome]].dropna()
    if len(d) < len(data):
        raise InputError(f"{len(data) - len(d)} rows have missing values; the panel must be "
                         "complete", file=file)
    wide = d.pivot_table(index=unit, columns=time, values=outcome, aggfunc="count")
    if (wide != 1).any().any():
        raise InputError("the panel is not balanced (each unit needs exactly one row per period)",
                         file=file, column=unit)
    Y = d.pivot(index=unit, columns=time, values=outcome)
    G = d.groupby(unit)[group].agg(["min", "max"])
    if (G["min"] != G["max"]).any():
        raise InputError("a unit's first-treatment period changes over time; it must be constant",
                         file=file, column=group)
    G = G["min"].reindex(Y.index).to_numpy(float)
    periods = np.array(sorted(Y.columns), dtype=float)
    Ym = Y[sorted(Y.columns)].to_numpy(float)
    n = len(G)
    first = periods[0]
    early = (G > 0) & (G <= first)
    if early.any():
        warnings.warn(f"{int(early.sum())} units treated in the first period have no pre-period "
                      "and are left out", WhatWorksWarning, stacklevel=2)
    keep = ~early
    G, Ym = G[keep], Ym[keep]
    n = len(G)
    groups = np.array(sorted(set(G[G > 0])))
    z = stats.norm.ppf(1 - (1 - level / 100) / 2)
    rows, infl = [], []
    col = {p: k for k, p in enumerate(periods)}
    for g in groups:
        for t in periods[1:]:
            b = g - 1 if t >= g else t - 1
            if b not in col:
                continue
            treated = G == g
            if control == "never":
                ctrl = G == 0
            else:
                ctrl = (G == 0) | ((G > max(t, b)) & (G != g))
            if not ctrl.any():
                continue
            dy = Ym[:, col[t]] - Ym[:, col[b]]
            m1, m0 = dy[treated].mean(), dy[ctrl].mean()
            n1, n0 = treated.sum(), ctrl.sum()
            inf = np.zeros(n)
            # the full-sample influence function (scaled so that se = sqrt(sum inf^2) / n)
            inf[treated] = n * (dy[treated] - m1) / n1
            inf[ctrl] = -n * (dy[ctrl] - m0) / n0
            att = m1 - m0
            se = np.sqrt(np.sum(inf ** 2)) / n
            rows.append({"group": g, "time": t, "att": att, "se": se, "ci_lower": att - z * se,
                         "ci_upper": att + z * se, "post": bool(t >= g)})
            infl.append(inf)
    if not rows:
        raise InputError("no group-time effect can be estimated: check that some units are never "
                         "(or not yet) treated and that treated groups have a pre-period",
                         file=file, column=group)
    table = pd.DataFrame(rows)
    IF = np.column_stack(infl)
    pg = np.array([np.mean(G == g) for g in table["group"]])
    share = {g: np.mean(G == g) for g in groups}

    def aggregate(cells: np.ndarray, weights_raw: np.ndarray, cell_groups: np.ndarray):
        w = weights_raw / weights_raw.sum()
        att = float(w @ table["att"].to_numpy()[cells])
        S = weights_raw.sum()
        ind = np.column_stack([(G == g).astype(float) for g in cell_groups])
        if_pi = ind - weights_raw
        wif = if_pi / S - np.outer(if_pi.sum(axis=1), weights_raw) / S ** 2
        inf = IF[:, cells] @ w + wif @ table["att"].to_numpy()[cells]
        return att, inf

    def summary(att, inf):
        se = float(np.sqrt(np.sum(inf ** 2)) / n)
        return {"att": att, "se": se, "ci_lower": att - z * se, "ci_upper": att + z * se}

    overall = {}
    post = np.flatnonzero(table["post"].to_numpy())
    if len(post):
        att, inf = aggregate(post, pg[post], table["group"].to_numpy()[post])
        overall["simple"] = summary(att, inf)
    # event study
    e_all = (table["time"] - table["group"]).to_numpy()
    es_rows, es_inf = [], {}
    for e in sorted(set(e_all)):
        cells = np.flatnonzero(e_all == e)
        att, inf = aggregate(cells, pg[cells], table["group"].to_numpy()[cells])
        es_rows.append({"event_time": int(e), **summary(att, inf)})
        es_inf[e] = (att, inf)
    event_study = pd.DataFrame(es_rows)
    post_e = [e for e in es_inf if e >= 0]
    if post_e:
        att = float(np.mean([es_inf[e][0] for e in post_e]))
        inf = np.mean([es_inf[e][1] for e in post_e], axis=0)
        overall["dynamic"] = summary(att, inf)
    # by group: each group's mean post-treatment effect, weighted by group shares
    g_att, g_inf, g_list = [], [], []
    for g in groups:
        cells = np.flatnonzero((table["group"].to_numpy() == g) & table["post"].to_numpy())
        if len(cells):
            g_att.append(float(table["att"].to_numpy()[cells].mean()))
            g_inf.append(IF[:, cells].mean(axis=1))
            g_list.append(g)
    if g_list:
        raw = np.array([share[g] for g in g_list])
        w = raw / raw.sum()
        S = raw.sum()
        ind = np.column_stack([(G == g).astype(float) for g in g_list])
        if_pi = ind - raw
        wif = if_pi / S - np.outer(if_pi.sum(axis=1), raw) / S ** 2
        inf = np.column_stack(g_inf) @ w + wif @ np.array(g_att)
        overall["group"] = summary(float(w @ np.array(g_att)), inf)
    return StaggeredDiD(control=control, n_units=n, level=level, att_gt=table, overall=overall,
                        event_study=event_study, _influence={"att_gt": IF})
