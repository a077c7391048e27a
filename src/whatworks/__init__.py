"""whatworks: the evidence system of a What Works centre for children's social care.

Domain core (no Django): :mod:`whatworks.effects` (effect sizes), :mod:`whatworks.synthesis`
(meta-analysis). See ``docs/architecture.md``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("whatworks")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
