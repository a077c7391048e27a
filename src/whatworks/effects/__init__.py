"""Effect sizes and sampling variances from reported statistics; conversions; cluster adjustment.

>>> from whatworks.effects import escalc, MEASURES
>>> escalc("OR", ai=[4], bi=[119], ci=[11], di=[128]).round(4)
       yi      vi
0 -0.9387  0.3571

``escalc`` follows R's metafor 3.8 ``escalc`` (argument names, defaults, results); the formulas
and their sources are in ``docs/methods/effects.md``.
"""

from whatworks.effects._warnings import WhatWorksWarning
from whatworks.effects.cluster import (
    adjust_for_clustering,
    design_effect,
    hedges2007_smd,
    inflate_variance,
)
from whatworks.effects.convert import (
    Effects,
    lnor_to_smd,
    r_to_smd,
    smd_to_lnor,
    smd_to_r,
)
from whatworks.effects.escalc import EFFECT_ARGUMENTS, MEASURES, Measure, escalc, required_arguments

__all__ = [
    "EFFECT_ARGUMENTS",
    "MEASURES",
    "Effects",
    "Measure",
    "WhatWorksWarning",
    "adjust_for_clustering",
    "design_effect",
    "escalc",
    "hedges2007_smd",
    "inflate_variance",
    "lnor_to_smd",
    "r_to_smd",
    "required_arguments",
    "smd_to_lnor",
    "smd_to_r",
]
