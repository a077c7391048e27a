import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

REFERENCE = Path(__file__).parent / "reference"

# Hypothesis draws new examples on every local run, so the suite keeps looking for counterexamples
# (sessions found two that way). Under CI (CI=true) the draws are derandomized: a run lands or not
# on the code, not on the luck of the draw, and a failure there reproduces exactly.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


def load_reference(name: str):
    """Load a committed fixture from tests/reference (made by the R script beside it)."""
    with open(REFERENCE / name) as fh:
        return json.load(fh)


def vec(x):
    """A fixture value as a float array (jsonlite unboxes length-1 vectors; null is NaN)."""
    return np.array([np.nan if v is None else v for v in np.atleast_1d(x)], dtype=float)


@pytest.fixture
def reference():
    return load_reference


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI (WHATWORKS_NO_SKIP=1) a skipped test is a failure: nothing may be skipped there."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("WHATWORKS_NO_SKIP") == "1" and report.skipped and not hasattr(
            report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI (nothing may be skipped there): {report.longrepr}"


@pytest.fixture(autouse=True)
def _cache_in_the_test_folder(monkeypatch, tmp_path_factory):
    """Caches that default to the user's home (``review screen``'s features) go to the test run's
    own folder instead."""
    monkeypatch.setenv("WHATWORKS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
