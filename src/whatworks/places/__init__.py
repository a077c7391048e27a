"""Places: rates of children looked after across England's local authorities.

Loaders for the DfE files (:mod:`.io`), the authority x year panel (:mod:`.panel`), boundary
changes (:mod:`.boundaries`), funnel plots (:mod:`.funnel`), trends (:mod:`.trends`), GLMs
(:mod:`.models`) and a multilevel model (:mod:`.multilevel`). Methods and citations:
docs/methods/places.md.
"""

from .boundaries import BOUNDARY_CHANGES
from .funnel import FunnelResult, funnel, funnel_from_counts
from .io import MEASURES, SYMBOLS, read_cla, read_imd, read_tidy, read_wide
from .models import ExpectedRates, RateModel, expected_rates, rate_model
from .multilevel import MultilevelModel, multilevel_model
from .panel import load_areas, load_panel, national_series, resolve_code
from .trends import (
    TrendResult,
    poisson_rate_ci,
    similar_authorities,
    statistical_neighbours,
    trend,
)

__all__ = ["BOUNDARY_CHANGES", "MEASURES", "SYMBOLS", "ExpectedRates", "FunnelResult",
           "MultilevelModel", "RateModel", "TrendResult", "expected_rates", "funnel",
           "funnel_from_counts", "load_areas", "load_panel", "multilevel_model",
           "national_series", "poisson_rate_ci", "rate_model", "read_cla", "read_imd",
           "read_tidy", "read_wide", "resolve_code", "similar_authorities",
           "statistical_neighbours", "trend"]
