"""Meta-analysis: common-effect, random-effects and mixed-effects models and their diagnostics.

Each function cites its method and is tested against R (metafor 3.8, clubSandwich, robumeta); see
``docs/methods/``.
"""

from .batch import BatchMetaAnalysis, meta_analysis_batch
from .che import CHEResult, che
from .covariance import BlockCovariance, constant_correlation
from .mantel_haenszel import MantelHaenszelResult, PetoResult, mantel_haenszel, peto
from .model import Coefficient, MetaAnalysis, meta_analysis
from .multilevel import MultilevelResult, multilevel
from .robumeta import RobumetaResult, robumeta
from .robust import RobustResult, WaldTest, cr2_coef_test, robust
from .tau2 import TAU2_ESTIMATORS, Control

__all__ = [
    "TAU2_ESTIMATORS", "BatchMetaAnalysis", "BlockCovariance", "CHEResult", "Coefficient",
    "Control", "MantelHaenszelResult", "MetaAnalysis", "MultilevelResult", "PetoResult",
    "RobumetaResult", "RobustResult", "WaldTest", "che", "constant_correlation", "cr2_coef_test",
    "mantel_haenszel", "meta_analysis", "meta_analysis_batch", "multilevel", "peto", "robumeta",
    "robust",
]
