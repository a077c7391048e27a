"""Single-group proportions (PR, PLN, PLO, PAS, PFT) and event rates (IR, IRLN, IRR).

Proportions take ``xi`` events and ``mi`` non-events (``mi = ni - xi``). With ``to="only0"``
the continuity correction ``add`` goes to ``xi`` and ``mi`` of studies where either is 0;
for PAS and PFT metafor's default ``add`` is 0 (the transformations handle zeros), which the
dispatcher applies. Rates take ``xi`` events over ``ti`` person-time; ``add`` goes to the
event counts.

Tested against metafor 3.8 ``escalc`` on ``dat.pritz1997`` and ``dat.hart1999`` and constructed
data with zero counts: ``tests/reference/make_effects.R``.

References
----------
Fleiss, J. L., & Berlin, J. A. (2009). Effect sizes for dichotomous data. In H. Cooper,
L. V. Hedges, & J. C. Valentine (Eds.), *The handbook of research synthesis and meta-analysis*
(2nd ed., pp. 237-253). New York: Russell Sage Foundation.
Rothman, K. J., Greenland, S., & Lash, T. L. (2008). *Modern epidemiology* (3rd ed.).
Philadelphia: Lippincott Williams & Wilkins.
"""

from __future__ import annotations

import numpy as np

from whatworks.effects.binary import continuity_correction


def _counts(xi, mi, add, to):
    x, m = continuity_correction((xi, mi), add=add, to=to)
    return x, m, x + m


def proportion(xi, mi, *, add: float = 0.5, to: str = "only0"):
    """Raw proportion p = x/n with variance p(1-p)/n.

    References
    ----------
    Fleiss & Berlin (2009); tested against metafor 3.8 ``escalc(measure="PR")``.
    """
    x, _, n = _counts(xi, mi, add, to)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        return p, p * (1 - p) / n


def log_proportion(xi, mi, *, add: float = 0.5, to: str = "only0"):
    """Log proportion log(x/n) with variance 1/x - 1/n.

    References
    ----------
    Fleiss & Berlin (2009); tested against metafor 3.8 ``escalc(measure="PLN")``.
    """
    x, _, n = _counts(xi, mi, add, to)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x / n), 1 / x - 1 / n


def logit_proportion(xi, mi, *, add: float = 0.5, to: str = "only0"):
    """Log odds log(x/m) with variance 1/x + 1/m.

    References
    ----------
    Fleiss & Berlin (2009); tested against metafor 3.8 ``escalc(measure="PLO")``.
    """
    x, m, _ = _counts(xi, mi, add, to)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x / m), 1 / x + 1 / m


def arcsine_proportion(xi, mi, *, add: float = 0.0, to: str = "only0"):
    """Angular transformation arcsin(sqrt(p)) with variance 1/(4n).

    References
    ----------
    Fleiss & Berlin (2009); tested against metafor 3.8 ``escalc(measure="PAS")``.
    """
    x, _, n = _counts(xi, mi, add, to)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.arcsin(np.sqrt(x / n)), 1 / (4 * n)


def freeman_tukey_proportion(xi, mi, *, add: float = 0.0, to: str = "only0"):
    """Freeman-Tukey double arcsine ½[arcsin√(x/(n+1)) + arcsin√((x+1)/(n+1))], variance 1/(4n+2).

    References
    ----------
    Freeman, M. F., & Tukey, J. W. (1950). Transformations related to the angular and the
    square root. *Annals of Mathematical Statistics*, 21(4), 607-611.
    Fleiss & Berlin (2009); tested against metafor 3.8 ``escalc(measure="PFT")``.
    """
    x, _, n = _counts(xi, mi, add, to)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
        return yi, 1 / (4 * n + 2)


def incidence_rate(xi, ti, *, add: float = 0.5, to: str = "only0"):
    """Incidence rate x/t with variance x/t².

    References
    ----------
    Rothman et al. (2008); tested against metafor 3.8 ``escalc(measure="IR")``.
    """
    (x,) = continuity_correction((xi,), add=add, to=to)
    with np.errstate(divide="ignore", invalid="ignore"):
        return x / ti, x / ti**2


def log_incidence_rate(xi, ti, *, add: float = 0.5, to: str = "only0"):
    """Log incidence rate log(x/t) with variance 1/x.

    References
    ----------
    Rothman et al. (2008); tested against metafor 3.8 ``escalc(measure="IRLN")``.
    """
    (x,) = continuity_correction((xi,), add=add, to=to)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x / ti), 1 / x


def log_incidence_rate_ratio(x1i, x2i, t1i, t2i, *, add: float = 0.5, to: str = "only0",
                             drop00: bool = False):
    """Log incidence rate ratio log((x1/t1)/(x2/t2)) with variance 1/x1 + 1/x2.

    ``drop00=True`` sets studies with no events in either group to ``NaN``.

    References
    ----------
    Rothman, K. J., Greenland, S., & Lash, T. L. (2008). *Modern epidemiology* (3rd ed.).
    Philadelphia: Lippincott Williams & Wilkins.
    Bagos, P. G., & Nikolopoulos, G. K. (2009). Mixed-effects Poisson regression models for
    meta-analysis of follow-up studies with constant or varying durations. *The International
    Journal of Biostatistics*, 5(1). Tested against metafor 3.8 ``escalc(measure="IRR")``.
    """
    drop = (x1i == 0) & (x2i == 0) if drop00 else np.zeros(np.shape(x1i), dtype=bool)
    x1, x2 = continuity_correction((x1i, x2i), add=add, to=to)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log((x1 / t1i) / (x2 / t2i))
        vi = 1 / x1 + 1 / x2
    return np.where(drop, np.nan, yi), np.where(drop, np.nan, vi)




def incidence_rate_difference(x1i, x2i, t1i, t2i, *, add: float = 0.5, to: str = "only0"):
    """Incidence rate difference x1/t1 - x2/t2 with variance x1/t1² + x2/t2².

    References
    ----------
    Rothman, Greenland & Lash (2008), as for :func:`log_incidence_rate_ratio`. Tested against
    metafor 3.8 ``escalc(measure="IRD")``.
    """
    x1, x2 = continuity_correction((x1i, x2i), add=add, to=to)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = x1 / t1i - x2 / t2i
        vi = x1 / t1i**2 + x2 / t2i**2
    return yi, vi
