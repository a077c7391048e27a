"""docs/worked-example-review.md cannot drift: its script runs end to end in a temporary folder and
every console block on the page is what the script prints (about 3 CPU-seconds)."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs/worked-example-review.md"
SCRIPT = ROOT / "docs/examples/review_flow.py"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("review") / "example"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, str(SCRIPT), str(work)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return work, done.stdout


def test_every_console_block_in_the_doc_is_what_the_script_prints(run):
    _, out = run
    blocks = re.findall(r"```console\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 7
    for block in blocks:
        assert block.strip("\n") in out, f"the doc says:\n{block}\nthe script printed:\n{out[-4000:]}"


def test_the_files_agree_with_what_the_doc_says(run):
    work, _ = run
    table = list(csv.DictReader(open(work / "dedup.csv", encoding="utf-8")))
    assert sum(r["kept"] == "False" for r in table) == 45
    decisions = list(csv.DictReader(open(work / "decisions.csv", encoding="utf-8")))
    assert len(decisions) == 50 and sum(r["label"] == "include" for r in decisions) == 15
    assert (work / "prisma.svg").read_text().lstrip().startswith("<?xml")
    assert "R79 (entry to care, 12 months)" in (work / "rob2.svg").read_text()
    assert (work / "forest.svg").read_text().count('id="risk-of-bias') == 10 * 6
    text = DOC.read_text(encoding="utf-8")
    for command in ("review import", "review dedup", "review screen", "review agree", "review prisma",
                    "review rob2", "meta effects.csv"):
        assert f"$ whatworks {command}" in text, command
    assert "worked-example-review.md" in (ROOT / "README.md").read_text(encoding="utf-8")
