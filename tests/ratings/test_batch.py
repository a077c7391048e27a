"""Re-rating a store in one batch gives exactly what rating each body of evidence alone gives."""

import math

import numpy as np
import pandas as pd
import pytest

from whatworks.ratings import rate_evidence
from whatworks.ratings.batch import rate_evidence_batch

OUTCOMES = ("entry-to-care", "family-functioning", "placement-stability")


def store(seed: int, n_interventions: int = 30) -> pd.DataFrame:
    """A generated store: bodies of 1-12 studies, some with several effects or time points,
    some of ineligible designs or unknown size."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_interventions):
        for outcome in OUTCOMES[: 1 + i % 3]:
            measure = "RR" if outcome == "entry-to-care" else "SMD"
            centre = rng.normal(-0.2 if measure == "RR" else 0.2, 0.2)
            for s in range(int(rng.integers(1, 13))):
                design = rng.choice(["rct", "cluster-rct", "qed", "pre-post"], p=[.5, .2, .2, .1])
                n = None if rng.random() < 0.1 else int(rng.integers(40, 2000))
                rob = rng.choice(["low", "high", ""])
                effect = centre + rng.normal(0, 0.15)
                for e in range(1 + int(rng.random() < 0.15)):
                    for months in ((12,) if rng.random() < 0.8 else (6, 24)):
                        rows.append(dict(intervention=f"i{i}", outcome=outcome, study=f"s{s}",
                                         design=design, n=n, risk_of_bias=rob,
                                         measure=measure, yi=effect + rng.normal(0, 0.05),
                                         vi=float(rng.uniform(0.005, 0.1)), es_id=f"e{e}",
                                         months=months))
    return pd.DataFrame(rows)


def _same(a, b):
    da, db = a.to_dict(), b.to_dict()
    for part in ("synthesis", "small_study"):      # numbers agree to rounding, the rest exactly
        sa, sb = da.pop(part), db.pop(part)
        assert (sa is None) == (sb is None)
        if sa is not None:
            for name, value in sa.items():
                if isinstance(value, float):
                    assert math.isclose(value, sb[name], rel_tol=1e-9, abs_tol=1e-12), name
                else:
                    assert value == sb[name], name
    assert da == db


@pytest.mark.parametrize("scheme", ["whatworks-2026@1.0", "whatworks-2026@2.0"])
def test_a_batch_rates_every_body_of_evidence_as_rate_evidence_does(scheme):
    table = store(7)
    batch = rate_evidence_batch(table, scheme=scheme)
    assert len(batch) == table.groupby(["intervention", "outcome"]).ngroups
    paths = set()
    for (intervention, outcome), result in batch.items():
        alone = table[(table.intervention == intervention) & (table.outcome == outcome)]
        _same(result, rate_evidence(alone.drop(columns=["intervention", "outcome"]),
                                    outcome=outcome, scheme=scheme))
        paths.add((result.rating.path, (result.synthesis or {}).get("method")))
    assert ("meta-analysis", "REML") in paths and ("vote-count", None) in paths
    if scheme.endswith("2.0"):
        assert ("meta-analysis", "REML CHE (rho = 0.6) + CR2") in paths


def test_identical_effects_are_reported_in_a_batch_as_alone():
    rows = pd.DataFrame([dict(intervention="a", outcome="family-functioning", study=s, design="rct",
                              n=300, risk_of_bias="low", measure="SMD", yi=0.2, vi=0.04)
                         for s in "ABC"])
    (result,) = rate_evidence_batch(rows).values()
    assert "knha test is undefined" in result.rating.explanation


def test_the_batched_egger_tests_equal_the_one_by_one_check():
    from whatworks.ratings import SCHEME_V2
    from whatworks.ratings.batch import _egger_group
    from whatworks.ratings.pipeline import _rows, _small_study_check, prepare

    table = store(11, n_interventions=40)
    p = SCHEME_V2.parameters
    members = []
    for key, g in table.groupby(["intervention", "outcome"]):
        prep = prepare(_rows(g.drop(columns=["intervention", "outcome"]), None), p)
        if prep.poolable and len(prep.pooled) >= 10:
            members.append((key, prep))
    assert len(members) >= 5
    batch = _egger_group(members, p)
    for key, prep in members:
        alone = _small_study_check([prep.effects[s][0] for s in prep.pooled],
                                   [prep.effects[s][1] for s in prep.pooled], p)
        assert batch[key]["p_value"] == pytest.approx(alone["p_value"], rel=1e-9, abs=1e-12)
        assert batch[key]["suspected"] == alone["suspected"]
