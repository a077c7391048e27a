"""Meta-analysis: common-effect, random-effects and mixed-effects models and their diagnostics."""

from .model import Coefficient, MetaAnalysis, meta_analysis
from .tau2 import TAU2_ESTIMATORS, Control

__all__ = ["Coefficient", "Control", "MetaAnalysis", "TAU2_ESTIMATORS", "meta_analysis"]
