"""docs/worked-example-swis.md cannot drift: its script runs end to end in a temporary directory and
every console block on the page is what the script prints.

The script runs once per test session (about 15 CPU-seconds: a negative binomial GLMM, 1,000
simulated trials, a Django migrate into a temporary SQLite store)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs/worked-example-swis.md"
SCRIPT = ROOT / "docs/examples/swis_trial.py"
HASH = re.compile(r"\b[0-9a-f]{64}\b")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("swis") / "example"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, str(SCRIPT), str(work)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return work, done.stdout


def _blocks(text: str) -> list[str]:
    return re.findall(r"```console\n(.*?)```", text, flags=re.S)


def test_every_console_block_in_the_doc_is_what_the_script_prints(run):
    _, out = run
    out = HASH.sub("<sha256>", out)
    blocks = _blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    for block in blocks:
        for part in block.split("...\n"):  # "..." leaves lines out; each part is verbatim
            assert part.strip("\n") in out, f"the doc says:\n{part}\nthe script printed:\n{out[-4000:]}"


def test_the_doc_shows_every_step_the_issue_asks_for():
    text = DOC.read_text(encoding="utf-8")
    for command in ("trial clusters", "trial mdes --design BCRA3_2r", "trial simulate", "trial randomise",
                    "--method block-cluster", "trial verify", "trial analyse", "--family negbin",
                    "trial consort", "trial report", "manage publish_trial"):
        assert f"$ whatworks {command}" in text or command in text, command
    assert "(examples/swis_trial.py)" in text
    for page in (ROOT / "README.md", ROOT / "docs/methods/trial_reporting.md"):
        assert "worked-example-swis.md" in page.read_text(encoding="utf-8"), page


def test_the_files_agree_with_what_the_doc_says(run):
    work, out = run
    record = json.loads((work / "record.json").read_text())
    result = record["results"][0]
    analysis = json.loads((work / "analysis.json").read_text())
    assert result["ratio"] == analysis["ratio"]  # the record's result is the analysis as printed
    ratio = result["ratio"]
    assert f"rate ratio {ratio['estimate']:.3f} [{ratio['ci_lower']:.3f}, {ratio['ci_upper']:.3f}]" in out
    assert ratio["ci_lower"] < 1.055 < ratio["ci_upper"]  # the simulation's truth is inside the CI
    assert (work / "report.html").stat().st_size > 10_000
    assert (work / "report.pdf").read_bytes()[:4] == b"%PDF"
    assert "<svg" in (work / "flow.svg").read_text()
    flow = record["flow"]["arms"]
    assert flow["intervention"]["allocated"]["clusters"] + flow["control"]["allocated"]["clusters"] == 268
    assert "swis-example: the store already holds exactly this publication" in out
    assert "not published: the Evidence Store already holds this trial as study 'swis-westlake2023'" in out


def test_the_negbin_fit_does_not_depend_on_the_scale_of_the_covariates(run):
    """On this data the fit on raw scales once stopped at its start values (SD 0.5, theta 5) and
    reported a rate ratio of 1.024; scaled internally, raw and z-scored covariates give one fit."""
    import pandas as pd

    from whatworks.trials.analyse import analyse

    work, _ = run
    data = pd.read_csv(work / "outcomes.csv")
    kw = dict(outcome="s47", treatment="arm", treated="social worker", cluster="school", block="la",
              exposure="pupil_years", family="negbin", unconditional=False)
    raw = analyse(data, covariates=["baseline_rate", "pupils_100", "fsm"], **kw)
    z = analyse(data, covariates=["baseline_rate_z", "pupils_z", "fsm_z"], **kw)
    # the same model reparametrised: equal up to the optimiser's tolerance
    assert raw.estimate == pytest.approx(z.estimate, abs=1e-4)
    assert raw.se == pytest.approx(z.se, rel=1e-3)
    assert raw.theta == pytest.approx(z.theta, rel=1e-2)
    assert raw.theta != pytest.approx(5.0, abs=1e-3)
