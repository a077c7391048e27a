"""The demo: a CSV of studies in; a summary table, JSON and a forest plot out.

The data are ILLUSTRATIVE (made up for the demo, shaped like trials of intensive family preservation
services): children placed out of home within 12 months, intervention against usual services.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ._results import jsonable


def demo_data() -> pd.DataFrame:
    """The illustrative demo studies shipped with whatworks."""
    with resources.files("whatworks.data").joinpath("demo_family_preservation.csv").open() as fh:
        return pd.read_csv(fh)


def run_demo(output_dir: str | Path = "demo-output") -> dict:
    """Compute log risk ratios, fit a REML random-effects model, write table, JSON and plot."""
    from .effects import escalc
    from .synthesis import meta_analysis
    from .synthesis.plots import forest_plot, save_figure

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    studies = demo_data()
    data = escalc("RR", studies, ai="placed_ifps", n1i="n_ifps", ci="placed_control",
                  n2i="n_control")
    data.to_csv(out / "effects.csv", index=False)
    fit = meta_analysis("yi", "vi", data=data, method="REML", test="knha",
                        labels=data["study"].tolist())
    summary = fit.summary_text()
    rr = np.exp([fit.estimate, fit.ci_lower, fit.ci_upper, fit.pi_lower, fit.pi_upper])
    summary += (f"\n\nPooled risk ratio {rr[0]:.2f} (95% CI {rr[1]:.2f} to {rr[2]:.2f}; "
                f"prediction interval {rr[3]:.2f} to {rr[4]:.2f}). ILLUSTRATIVE DATA.")
    (out / "summary.txt").write_text(summary + "\n", encoding="utf-8")
    result = fit.to_dict()
    (out / "result.json").write_text(json.dumps(jsonable(result), indent=2) + "\n",
                                     encoding="utf-8")
    fig = forest_plot(fit, transform=np.exp, xlabel="Risk ratio (placement within 12 months)")
    save_figure(fig, out / "forest.svg")
    save_figure(fig, out / "forest.png")
    print(summary)
    print(f"\nwrote {out / 'effects.csv'}, {out / 'result.json'}, {out / 'summary.txt'}, "
          f"{out / 'forest.svg'}, {out / 'forest.png'}")
    return result
