"""Meta-analysis: common-effect, random-effects and mixed-effects models and their diagnostics.

Each function cites its method and is tested against R (metafor 3.8, clubSandwich, robumeta); see
``docs/methods/``.

The names below are loaded on first use (PEP 562), so ``whatworks meta`` pays only for the modules
it runs (the univariate model does not need scipy.stats, the robust or multilevel code).
"""

import sys
import types
from importlib import import_module

#: Public name -> the module (in this package) that defines it.
_EXPORTS = {
    "BatchMetaAnalysis": "batch", "meta_analysis_batch": "batch",
    "MantelHaenszelResult": "mantel_haenszel", "PetoResult": "mantel_haenszel",
    "mantel_haenszel": "mantel_haenszel", "peto": "mantel_haenszel",
    "Coefficient": "model", "MetaAnalysis": "model", "meta_analysis": "model",
    "MultilevelResult": "multilevel", "multilevel": "multilevel",
    "RobumetaResult": "robumeta", "robumeta": "robumeta",
    "RobustResult": "robust", "WaldTest": "robust", "cr2_coef_test": "robust", "robust": "robust",
    "TAU2_ESTIMATORS": "tau2", "Control": "tau2",
    "CHEResult": "che", "che": "che",
    "BlockCovariance": "covariance", "constant_correlation": "covariance",
}

__all__ = [
    "TAU2_ESTIMATORS", "BatchMetaAnalysis", "BlockCovariance", "CHEResult", "Coefficient",
    "Control", "MantelHaenszelResult", "MetaAnalysis", "MultilevelResult", "PetoResult",
    "RobumetaResult", "RobustResult", "WaldTest", "che", "constant_correlation", "cr2_coef_test",
    "mantel_haenszel", "meta_analysis", "meta_analysis_batch", "multilevel", "peto", "robumeta",
    "robust",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """Five public functions share their name with the module that defines them (``multilevel``,
    ``robust``, ``robumeta``, ``mantel_haenszel``, ``che``). Importing such a module, from anywhere,
    makes the import system set the package attribute to the module, which would shadow the lazily
    loaded function; reading the attribute through this class gives the function again, so
    ``from whatworks.synthesis import multilevel`` is the function whatever was imported before."""

    def __getattribute__(self, name: str):
        value = super().__getattribute__(name)
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
            return getattr(value, name)
        return value


sys.modules[__name__].__class__ = _Package
