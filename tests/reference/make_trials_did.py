"""Reference numbers for whatworks.trials.did, made with moderndid (a Python port of R's did).

R's did is not packaged for Debian, so the peer here is moderndid 0.2 in a throwaway virtualenv
(never a dependency of whatworks):
    python -m venv /tmp/didref && /tmp/didref/bin/pip install moderndid==0.2.0
    /tmp/didref/bin/python tests/reference/make_trials_did.py
Writes tests/reference/trials_did.json: a simulated staggered-adoption panel (120 authorities,
2014-2020, adoption in 2016, 2017 or 2019, or never) with heterogeneous, growing effects, and
moderndid's att_gt (unconditional, analytic standard errors) with never-treated and not-yet-treated
controls, and its simple, dynamic and group aggregations.
"""

import json

import moderndid
import numpy as np
import polars as pl

rng = np.random.default_rng(2021)
n, years = 120, np.arange(2014, 2021)
first = rng.choice([0, 2016, 2017, 2019], size=n, p=[0.4, 0.2, 0.2, 0.2])
unit_eff = rng.normal(0, 1, n)
rows = []
for i in range(n):
    for t in years:
        effect = 0.0 if first[i] == 0 or t < first[i] else -0.05 * (1 + t - first[i]) * (
            1 + (first[i] == 2016))
        y = 3 + unit_eff[i] + 0.1 * (t - 2014) + effect + rng.normal(0, 0.2)
        rows.append({"la": i + 1, "year": int(t), "first": int(first[i]), "rate": round(y, 6)})
data = pl.DataFrame(rows)
out = {"data": {k: data[k].to_list() for k in data.columns}, "moderndid": moderndid.__version__}
for control in ("nevertreated", "notyettreated"):
    mp = moderndid.att_gt(data, yname="rate", tname="year", idname="la", gname="first",
                          est_method="reg", control_group=control, boot=False, cband=False)
    res = {"group": [float(g) for g in mp.groups], "time": [float(t) for t in mp.times],
           "att": [float(a) for a in mp.att_gt], "se": [float(s) for s in mp.se_gt]}
    res["aggregate"] = {}
    for kind in ("simple", "dynamic", "group"):
        agg = moderndid.aggte(mp, type=kind, boot=False, cband=False)
        res["aggregate"][kind] = {"att": float(agg.overall_att), "se": float(agg.overall_se)}
        if kind == "dynamic":
            res["event_time"] = [float(e) for e in agg.event_times]
            res["event_att"] = [float(a) for a in agg.att_by_event]
            res["event_se"] = [float(s) for s in agg.se_by_event]
    out["never" if control == "nevertreated" else "notyet"] = res
with open("tests/reference/trials_did.json", "w") as fh:
    json.dump(out, fh)
