"""Small builders for hand-constructed rating inputs (shared by the ratings tests)."""

from __future__ import annotations

from whatworks.ratings import RatingInputs, StudyFacts, SynthesisNumbers


def study(label: str = "S", *, design: str = "rct", n: int = 300, rob: str = "low",
          direction: str | None = "increase", significant: bool | None = True, **rest) -> StudyFacts:
    if "estimate" in rest:
        direction = significant = None
    return StudyFacts(label=label, design=design, n=n, risk_of_bias=rob, direction=direction,
                      significant=significant, **rest)


def studies(k: int, *, n: int = 300, **kw) -> tuple[StudyFacts, ...]:
    return tuple(study(f"S{i + 1}", n=n, **kw) for i in range(k))


def smd(estimate: float, lo: float, hi: float, *, k: int = 5, pi: tuple[float, float] | None = None,
        tau2: float | None = None, i2: float | None = None, measure: str = "SMD",
        **rest) -> SynthesisNumbers:
    pl, pu = pi if pi is not None else (None, None)
    return SynthesisNumbers(measure=measure, k=k, estimate=estimate, ci_lower=lo, ci_upper=hi,
                            pi_lower=pl, pi_upper=pu, tau2=tau2, i2=i2, **rest)


def meta_inputs(synthesis: SynthesisNumbers, *, outcome: str = "family-functioning",
                n: int = 300, **kw) -> RatingInputs:
    """A meta-analysis with ``synthesis.k`` low-risk RCTs of ``n`` participants each."""
    return RatingInputs(outcome=outcome, studies=studies(synthesis.k, n=n), synthesis=synthesis, **kw)


def rate(inputs: RatingInputs, scheme=None):
    """``whatworks.ratings.rate`` under version 1.0 unless told otherwise: the tests that import
    this check 1.0's rules (kept reproducible); version 2.0's are in test_scheme_v2.py."""
    from whatworks.ratings import SCHEME_V1
    from whatworks.ratings import rate as _rate

    return _rate(inputs, SCHEME_V1 if scheme is None else scheme)
