"""Agreement between two screeners: Cohen's kappa with its interval, PABAK, and the conflicts.

Systematic reviews screen titles and abstracts in duplicate, or check a sample in duplicate, and
report how well the two screeners agreed before resolving their disagreements. For the records both
screeners decided, :func:`agreement` gives the 2 x 2 table, the observed and chance agreement,
Cohen's kappa (Cohen 1960) with its large-sample standard error (Fleiss, Cohen & Everitt 1969,
computed by statsmodels' ``cohens_kappa``) and a normal interval (cut to kappa's range, -1 to 1:
with few records it can reach past them), and the prevalence- and
bias-adjusted kappa PABAK = 2 p_o - 1 (Byrt, Bishop & Carlin 1993). Screening is lopsided (most
records are excluded by both), and then kappa can be low while the screeners agree on nearly every
record, so the two are given side by side. The records decided differently are listed, to resolve.

Kappa is undefined when chance agreement is 1 (both screeners gave one and the same label to every
record): it is then None, and ``note`` says why, never a number standing for it.

References
----------
Cohen J (1960). A coefficient of agreement for nominal scales. Educational and Psychological
Measurement 20:37-46.
Fleiss JL, Cohen J, Everitt BS (1969). Large sample standard errors of kappa and weighted kappa.
Psychological Bulletin 72:323-327.
Byrt T, Bishop J, Carlin JB (1993). Bias, prevalence and kappa. Journal of Clinical Epidemiology
46:423-429.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from whatworks.errors import ParameterError

__all__ = ["CONFLICT_RULES", "Agreement", "MergedDecision", "agreement", "merge_decisions"]


@dataclass(frozen=True)
class Agreement:
    """Two screeners' agreement on the records both decided (see the module docstring).

    ``table[i][j]`` counts records the first screener labelled ``1 - i`` and the second ``1 - j``
    (row and column 0: include). ``conflicts`` lists dicts with ``id``, ``title``, ``first`` and
    ``second`` (1 include, 0 exclude), in the records' table order.
    """

    both: int
    only_first: int
    only_second: int
    table: tuple[tuple[int, int], tuple[int, int]]
    observed: float | None
    chance: float | None
    kappa: float | None
    kappa_se: float | None
    kappa_lower: float | None
    kappa_upper: float | None
    pabak: float | None
    level: float
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        (ii, ie), (ei, ee) = self.table
        return {"both": self.both, "only_first": self.only_first, "only_second": self.only_second,
                "table": {"include_include": ii, "include_exclude": ie, "exclude_include": ei,
                          "exclude_exclude": ee},
                "observed_agreement": self.observed, "chance_agreement": self.chance,
                "kappa": self.kappa, "kappa_se": self.kappa_se,
                "kappa_ci": None if self.kappa_lower is None else [self.kappa_lower, self.kappa_upper],
                "level": self.level, "pabak": self.pabak, "conflicts": self.conflicts,
                "note": self.note}


def agreement(ids: Sequence[str], titles: Sequence[str], first, second, *,
              level: float = 0.95) -> Agreement:
    """Agreement between two screeners' decisions (each a sequence of
    :class:`~.screen.Decision`, as :func:`~.screen.read_decisions` reads them) on ``ids``' records.
    ``level`` is the kappa interval's confidence level (between 0 and 1)."""
    import numpy as np
    from scipy import stats

    if not 0 < level < 1:
        raise ParameterError("level", level, "a confidence level between 0 and 1, e.g. 0.95")
    a = {d.index: int(d.label) for d in first}
    b = {d.index: int(d.label) for d in second}
    shared = sorted(set(a) & set(b))
    counts = np.zeros((2, 2), dtype=np.int64)
    conflicts = []
    for i in shared:
        counts[1 - a[i], 1 - b[i]] += 1
        if a[i] != b[i]:
            conflicts.append({"id": ids[i], "title": titles[i], "first": a[i], "second": b[i]})
    table = ((int(counts[0, 0]), int(counts[0, 1])), (int(counts[1, 0]), int(counts[1, 1])))
    n = len(shared)
    base = {"both": n, "only_first": len(a) - n, "only_second": len(b) - n, "table": table,
            "level": float(level), "conflicts": conflicts}
    none = dict.fromkeys(("kappa", "kappa_se", "kappa_lower", "kappa_upper"))
    if n == 0:
        return Agreement(observed=None, chance=None, pabak=None, **none, **base,
                         note="no record was decided by both screeners")
    p = counts / n
    observed = float(np.trace(p))
    chance = float(p.sum(axis=1) @ p.sum(axis=0))
    pabak = 2 * observed - 1
    if chance >= 1 - 1e-12:
        label = "include" if table[0][0] else "exclude"
        return Agreement(observed=observed, chance=chance, pabak=pabak, **none, **base,
                         note=f"kappa is undefined: both screeners labelled every shared record "
                              f"{label}, so chance agreement is 1")
    from statsmodels.stats.inter_rater import cohens_kappa

    with np.errstate(invalid="ignore", divide="ignore"):  # its z statistic, unused, can be 0/0
        fit = cohens_kappa(counts)
    kappa, var = float(fit.kappa), float(fit.var_kappa)
    if not np.isfinite(var) or var < -1e-12:  # pragma: no cover - a variance is never negative
        raise ArithmeticError(f"kappa's variance came out as {var} for the table {table}")
    se = math.sqrt(max(var, 0.0))  # rounding leaves -1e-16 where it is 0
    z = float(stats.norm.isf((1 - level) / 2))
    one_sided = [who for who, margin in (("first", counts.sum(axis=1)), ("second", counts.sum(axis=0)))
                 if (margin == 0).any()]
    note = None
    if one_sided:
        note = (f"the {one_sided[0]} screener gave every shared record the same label, so kappa is 0 "
                "whatever the other did, and its standard error is 0; PABAK and the table say more")
    return Agreement(observed=observed, chance=chance, kappa=kappa, kappa_se=se,
                     kappa_lower=max(-1.0, kappa - z * se), kappa_upper=min(1.0, kappa + z * se),
                     pabak=pabak, note=note, **base)


#: How :func:`merge_decisions` settles a record the two screeners decided differently.
CONFLICT_RULES = {
    "resolve": "each conflict takes the label given for it in the resolutions (discussion, or a "
               "third screener); a conflict without one is an error",
    "include": "a record either screener included is included (over-inclusive, as is usual at "
               "title and abstract: the full text decides); resolutions given still take "
               "precedence",
}


@dataclass(frozen=True)
class MergedDecision:
    """One record's final decision: its index, label, source (from the screener whose row comes
    first; None to be worked out), how it was reached (``agreed``, ``resolved``, ``either
    included``, ``first only``, ``second only``) and each screener's label (None: not decided)."""

    index: int
    label: int
    source: str | None
    how: str
    first: int | None
    second: int | None


def merge_decisions(first, second, resolved=(), *, conflicts: str = "resolve",
                    ids: Sequence[str] | None = None) -> list[MergedDecision]:
    """Two screeners' decisions merged into one decisions list, one row per record either decided.

    The first screener's rows come first, in their order, then the records only the second decided,
    in theirs; a record the second screener decided as a prior keeps no source (priors must come
    before every other row). ``resolved`` holds decisions on conflicts (:class:`~.screen.Decision`;
    see :data:`CONFLICT_RULES` for ``conflicts``). A resolution on a record the screeners agreed
    on, or that only one decided, is an error (``ids`` names the records in messages).
    """
    from whatworks.errors import InputError

    if conflicts not in CONFLICT_RULES:
        raise ParameterError("conflicts", conflicts, ", ".join(CONFLICT_RULES))
    a = {d.index: d for d in first}
    b = {d.index: d for d in second}
    fix = {d.index: d for d in resolved}

    def name(i: int) -> str:
        return repr(ids[i]) if ids is not None else str(i)

    for i, d in fix.items():
        if not (i in a and i in b and a[i].label != b[i].label):
            what = ("both screeners gave it the same label" if i in a and i in b and
                    a[i].label == b[i].label else "only one screener decided it" if i in a or i in b
                    else "neither screener decided it")
            raise InputError(f"line {d.line}: record {name(i)} is not a conflict ({what}); resolve "
                             "only the records decided differently", column="id")
    unresolved = [i for i in a if i in b and a[i].label != b[i].label and i not in fix]
    if unresolved and conflicts == "resolve":
        shown = ", ".join(name(i) for i in unresolved[:5]) + (" ..." if len(unresolved) > 5 else "")
        raise InputError(f"{len(unresolved)} record(s) decided differently have no resolution "
                         f"({shown}); give them in a resolutions file (id, label; `whatworks review "
                         "agree --format csv` lists them), or settle them by a rule: --conflicts "
                         "include")
    out: list[MergedDecision] = []
    for i, d in a.items():
        other = b.get(i)
        if other is None:
            label, how = d.label, "first only"
        elif other.label == d.label:
            label, how = d.label, "agreed"
        elif i in fix:
            label, how = fix[i].label, "resolved"
        else:
            label, how = 1, "either included"
        out.append(MergedDecision(i, int(label), d.source, how, int(d.label),
                                  None if other is None else int(other.label)))
    for i, d in b.items():
        if i not in a:
            out.append(MergedDecision(i, int(d.label), None if d.source == "prior" else d.source,
                                      "second only", None, int(d.label)))
    return out
