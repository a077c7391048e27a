"""The README's main job: the demo meta-analysis end to end."""

import json

import numpy as np
import pandas as pd
import pytest

from whatworks.cli import main
from whatworks.demo import demo_data
from whatworks.effects import escalc
from whatworks.synthesis import meta_analysis


def test_the_demo_writes_table_json_and_forest_plot(tmp_path, capsys):
    assert main(["demo", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Random-effects model (k = 10" in out and "ILLUSTRATIVE DATA" in out
    result = json.loads((tmp_path / "result.json").read_text())
    effects = pd.read_csv(tmp_path / "effects.csv")
    fit = meta_analysis(effects["yi"], effects["vi"], method="REML", test="knha")
    assert result["estimate"] == pytest.approx(fit.estimate)
    assert result["k"] == 10
    svg = (tmp_path / "forest.svg").read_text()
    assert "Illustrative study A" in svg
    assert (tmp_path / "forest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_demo_row_is_marked_illustrative():
    data = demo_data()
    assert (data["note"] == "illustrative").all()
    es = escalc("RR", data, ai="placed_ifps", n1i="n_ifps", ci="placed_control", n2i="n_control")
    assert np.isfinite(es["yi"]).all()
