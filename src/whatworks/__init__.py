"""whatworks: the evidence system of a What Works centre for children's social care.

Domain core (no Django): :mod:`whatworks.effects` (effect sizes), :mod:`whatworks.synthesis`
(meta-analysis). See ``docs/architecture.md``.
"""

__all__ = ["__version__"]


def __getattr__(name: str):
    # the version is looked up on first use: importlib.metadata costs a command ~0.05 s
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("whatworks")
        except PackageNotFoundError:  # running from a source tree without installation
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
