"""Screening records with active learning: prioritisation, stopping rules and simulation.

- :mod:`.features`: TF-IDF word and character n-grams, extracted once per review.
- :mod:`.models`: the classifiers (registry ``MODELS``: svm, logistic, nb), balanced training.
- :mod:`.session`: :class:`ScreeningSession`, the labels so far, the model and what to show next.
- :mod:`.stopping`: recall estimates with confidence intervals and combinable stopping rules
  (Callaghan & Müller-Hansen 2020; consecutive irrelevant; the SAFE procedure's phases).
- :mod:`.metrics`: WSS@r, RRF@x, ATD and recall curves.
- :mod:`.simulate`: replaying a labelled review over many seeds through ``whatworks.compute``.

scikit-learn is imported inside the functions that need it.
"""

from .data import Records, load_records
from .metrics import atd, recall_curve, rrf, wss
from .session import ScreeningSession
from .simulate import SimulationResult, simulate

__all__ = ["Records", "ScreeningSession", "SimulationResult", "atd", "load_records", "recall_curve", "rrf",
           "simulate", "wss"]
