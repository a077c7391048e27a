"""The power calculator's curve: power across the design's top sample size, around the values given."""

from __future__ import annotations

import io

from whatworks.trials.curve import power_curve
from whatworks.trials.design import DesignError, get_design, solve


def curve_svg(calc: dict) -> bytes:
    """SVG of power against the top-level sample size at the effect size given (or solved for)."""
    import matplotlib

    d = get_design(calc["design"])
    res = solve(**calc)
    es = calc["es"] if calc["es"] is not None else res.mdes
    params = {k: v for k, v in calc.items() if k not in ("design", "es", "power", "alpha", "two_tailed")}
    size = params.pop(d.top, None) or getattr(res, "size", None)
    if size is None:
        raise DesignError(f"give {d.top} to draw the curve")
    lo = 2 if d.top != "n" else 4
    values = sorted({max(lo, round(size * f)) for f in (0.25, 0.4, 0.55, 0.7, 0.85, 1, 1.2, 1.45, 1.7, 2)})
    curve = power_curve(
        d.name,
        es=es,
        values=values,
        vary=d.top,
        alpha=calc["alpha"],
        two_tailed=calc["two_tailed"],
        target=calc["power"] or 0.8,
        **params,
    )
    fig = curve.plot_power()
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "whatworks"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None}, facecolor="white")
    return buf.getvalue().encode()
