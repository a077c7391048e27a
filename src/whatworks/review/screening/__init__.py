"""Screening records with active learning: prioritisation, stopping rules and simulation.

- :mod:`.features`: TF-IDF word and character n-grams, extracted once per review.
- :mod:`.models`: the classifiers (registry ``MODELS``), balanced training.
- :mod:`.session`: :class:`ScreeningSession`, the labels so far, the model and what to show next.
- :mod:`.stopping`: recall estimates with confidence intervals and combinable stopping rules
  (Callaghan & Müller-Hansen 2020; consecutive irrelevant; the SAFE procedure's phases).
- :mod:`.metrics`: WSS@r, RRF@x, ATD and recall curves.
- :mod:`.simulate`: replaying a labelled review over many seeds through ``whatworks.compute``.
- :mod:`.screen`: a review in progress -- the team's decisions in, the next records to screen out
  (``screen.screen``; the function is not re-exported here, where the name is the module's).
- :mod:`.agreement`: two screeners' agreement (Cohen's kappa with its interval, PABAK, the records
  decided differently).
- :mod:`.registry`: the names of the models and feature extractors (plain dicts, no imports), so
  the command line can offer them without importing numpy, scipy or scikit-learn.

The names below are imported on first use (``whatworks review --help`` builds its parser from
:mod:`.registry` alone); scikit-learn is imported inside the functions that need it.
"""

from __future__ import annotations

import importlib

_WHERE = {"Records": "data", "load_records": "data", "atd": "metrics", "recall_curve": "metrics",
          "rrf": "metrics", "wss": "metrics", "ScreeningSession": "session",
          "SimulationResult": "simulate", "simulate": "simulate", "ScreenResult": "screen",
          "read_decisions": "screen", "agreement": "agreement", "Agreement": "agreement"}

__all__ = ["Agreement", "Records", "ScreenResult", "ScreeningSession", "SimulationResult", "agreement",
           "atd", "load_records", "read_decisions", "recall_curve", "rrf", "simulate", "wss"]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
