"""`whatworks trial mdes|power|mrss|designs`: the exact contract, and bad input exiting 2 with one line."""

import json

import pytest

from whatworks.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_mdes_prints_the_published_value_as_json(capsys):
    code, out, _ = run(capsys, "trial", "mdes", "--design", "CRA2_2r", "--rho2", "0.2", "--n", "60",
                       "--J", "40", "--r21", "0.5", "--r22", "0.5", "--g2", "1", "--format", "json")
    assert code == 0
    got = json.loads(out)
    assert got["mdes"] == pytest.approx(0.297201, abs=5e-7)
    assert got["df"] == 37 and got["design"] == "CRA2_2r"


def test_power_prints_the_published_value_as_json(capsys):
    code, out, _ = run(capsys, "trial", "power", "--design", "CRA3_3r", "--es", "0.23", "--rho2", ".06",
                       "--rho3", ".18", "--g3", "1", "--r21", ".55", "--r22", ".50", "--r23", ".45",
                       "--p", ".40", "--n", "10", "--J", "2", "--K", "83", "--format", "json")
    assert code == 0
    assert json.loads(out)["power"] == pytest.approx(0.799818, abs=5e-7)


def test_mrss_reports_the_solved_size_under_its_powerup_name(capsys):
    code, out, _ = run(capsys, "trial", "mrss", "--design", "CRA2_2r", "--es", "0.25", "--rho2", "0.2",
                       "--n", "4", "--format", "json")
    assert code == 0
    assert json.loads(out)["J"] == 203
    code, out, _ = run(capsys, "trial", "mrss", "--design", "CRA3_3r", "--es", "0.3", "--rho2", "0.1",
                       "--rho3", "0.05", "--n", "20", "--J", "3", "--format", "json")
    assert "K" in json.loads(out)


def test_one_tailed_alpha_and_p_reach_the_core(capsys):
    base = ["trial", "mdes", "--design", "IRA", "--n", "400", "--format", "json"]
    two = json.loads(run(capsys, *base)[1])["mdes"]
    one = json.loads(run(capsys, *base, "--one-tailed")[1])["mdes"]
    skew = json.loads(run(capsys, *base, "--p", "0.3")[1])["mdes"]
    assert one < two < skew


def test_designs_lists_the_registry(capsys):
    from whatworks.trials.design import DESIGNS

    code, out, _ = run(capsys, "trial", "designs", "--format", "json")
    assert code == 0 and [r["design"] for r in json.loads(out)] == list(DESIGNS)


@pytest.mark.parametrize("argv, message", [
    (["mdes", "--design", "CRA9", "--rho2", ".2", "--n", "4", "--J", "10"],
     "unknown design 'CRA9'; the designs are: IRA, BIRA2_1c"),
    (["mdes", "--design", "CRA2_2r", "--n", "4", "--J", "10"], "CRA2_2r needs rho2"),
    (["mdes", "--design", "CRA3_3r", "--rho2", ".6", "--rho3", ".5", "--n", "4", "--J", "2", "--K", "30"],
     "the ICCs sum above 1 (rho2=0.6 + rho3=0.5 = 1.1)"),
    (["power", "--design", "CRA2_2r", "--es", ".2", "--rho2", "1.2", "--n", "4", "--J", "10"],
     "rho2=1.2 is out of range"),
    (["mdes", "--design", "CRA2_2r", "--rho2", ".2", "--n", "4", "--J", "10", "--alpha", "0"],
     "alpha=0.0 is out of range"),
    (["mrss", "--design", "CRA2_2r", "--es", ".25", "--rho2", ".2", "--n", "4", "--J", "10"],
     "leave J out"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, "trial", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_trial_alone_prints_its_help(capsys):
    code, out, _ = run(capsys, "trial")
    assert code == 0 and "mdes" in out and "mrss" in out


def test_clusters_gives_hayes_bennett_power_and_design_effect_clusters(capsys):
    from whatworks.trials.cluster import hayes_bennett, icc_cluster_trial

    code, out, _ = run(capsys, "trial", "clusters", "--outcome", "rate", "--control", "0.08",
                       "--intervention", "0.0844", "--size", "1000", "--k", "0.3", "--clusters", "134",
                       "--format", "json")
    assert code == 0
    want = hayes_bennett("rate", control=.08, intervention=.0844, size=1000, k=.3, clusters=134)
    assert json.loads(out)["power"] == pytest.approx(want.power, rel=1e-12)
    code, out, _ = run(capsys, "trial", "clusters", "--outcome", "binary", "--p0", ".3", "--p1", ".2",
                       "--m", "30", "--icc", ".05", "--cv", ".6", "--attrition", ".2", "--format", "json")
    want = icc_cluster_trial("binary", p0=.3, p1=.2, m=30, icc=.05, cv=.6, attrition=.2)
    assert json.loads(out)["clusters_per_arm"] == want.clusters_per_arm


def test_simulate_runs_the_scenario_with_its_seed(capsys):
    argv = ["trial", "simulate", "--scenario", "three-level", "--es", ".3", "--rho2", ".06", "--rho3", ".18",
            "--n", "4", "--J", "2", "--K", "20", "--seed", "9", "--replications", "50", "--backend", "serial",
            "--format", "json"]
    code, out, _ = run(capsys, *argv)
    first = json.loads(out)
    assert code == 0 and first["seed"] == 9 and first["replications"] == 50
    assert json.loads(run(capsys, *argv)[1])["power"] == first["power"]


@pytest.mark.parametrize("argv, message", [
    (["clusters", "--outcome", "rate", "--control", ".08"], "--outcome rate needs --size"),
    (["clusters", "--outcome", "rate", "--control", ".08", "--size", "100", "--k", ".2"],
     "--outcome rate needs --intervention"),
    (["clusters", "--outcome", "binary", "--p0", ".3", "--p1", ".2", "--m", "20"], "needs --icc"),
    (["simulate", "--scenario", "counts", "--rate0", ".08", "--seed", "1"], "needs --rate-ratio"),
    (["simulate", "--scenario", "binary", "--p0", ".3", "--p1", ".2", "--m", "30", "--icc", ".05",
      "--blocks", "4", "--clusters-per-block", "8", "--analysis", "poisson-robust", "--seed", "1"],
     "poisson-robust is for counts"),
    (["simulate", "--scenario", "three-level", "--es", ".3", "--rho2", ".6", "--rho3", ".6", "--n", "4",
      "--J", "2", "--K", "20", "--seed", "1"], "summing to at most 1"),
])
def test_clusters_and_simulate_refuse_bad_input_in_one_line(capsys, argv, message):
    code, out, err = run(capsys, "trial", *argv)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_simulate_binary_reports_the_log_odds_ratio(capsys):
    code, out, _ = run(capsys, "trial", "simulate", "--scenario", "binary", "--p0", ".3", "--p1", ".2",
                       "--m", "20", "--icc", ".05", "--blocks", "2", "--clusters-per-block", "10",
                       "--size-cv", ".5", "--seed", "3", "--replications", "40", "--backend", "serial",
                       "--format", "json")
    got = json.loads(out)
    assert code == 0 and got["truth"] == pytest.approx(-0.5389965007)  # logit(.2) - logit(.3)
    assert got["inputs"]["type"] == "ClusterBinary"


def test_clusters_without_intervention_solves_for_the_detectable_value(capsys):
    code, out, _ = run(capsys, "trial", "clusters", "--outcome", "rate", "--control", "0.017", "--size",
                       "2000", "--k", "0.3", "--clusters", "134", "--format", "json")
    got = json.loads(out)
    assert code == 0 and got["solved_for"] == "effect"
    assert got["detectable"] / 0.017 == pytest.approx(1.12541, abs=1e-5)
    assert got["power"] == pytest.approx(0.8)


def test_consort_prints_the_checklist_and_writes_the_flow_diagram(capsys, tmp_path):
    from pathlib import Path

    record = Path(__file__).resolve().parents[2] / "src/whatworks/data/programme/swis-trial.json"
    svg = tmp_path / "flow.svg"
    code, out, _ = run(capsys, "trial", "consort", str(record), "--svg", str(svg), "--format", "json")
    assert code == 0
    got = json.loads(out)
    assert got["trial"] == "swis-trial" and got["total"] == len(got["items"]) == 58
    assert got["flow"]["randomised"] == {"clusters": 268, "individuals": 267000}
    assert "n = 268 schools; n = 267,000 pupils" in svg.read_text()
    code, out, _ = run(capsys, "trial", "consort", str(record))
    assert code == 0 and "items answered" in out


def test_report_writes_html(capsys, tmp_path):
    from pathlib import Path

    record = Path(__file__).resolve().parents[2] / "src/whatworks/data/programme/swis-trial.json"
    out_file = tmp_path / "report.html"
    code, out, _ = run(capsys, "trial", "report", str(record), "--out", str(out_file))
    assert code == 0 and out_file.read_text().startswith("<!doctype html>")


def test_programme_lists_projects_and_which_earned_a_trial(capsys):
    code, out, _ = run(capsys, "trial", "programme", "--format", "json")
    assert code == 0
    rows = {p["project"]: p for p in json.loads(out)["projects"]}
    assert rows["social-workers-in-schools"]["earned_trial"] is True
    assert rows["devolved-budgets"]["earned_trial"] is False
    code, out, _ = run(capsys, "trial", "programme")
    assert code == 0 and "Lambeth, Southampton, Stockport" in out


def test_a_missing_record_exits_2_with_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "trial", "consort", str(tmp_path / "nope.json"))
    assert code == 2 and "nope.json: file not found" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "x", "title": "y", "flow": {"arms": {"intervention": {}}}}')
    code, _, err = run(capsys, "trial", "consort", str(bad), "--svg", str(tmp_path / "f.svg"))
    assert code == 2 and "needs its 'allocated' counts" in err


def test_a_bad_programme_file_exits_2_naming_the_file_and_criterion(capsys, tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"projects": [{"slug": "x", "name": "X", "partners": ["A"], "stage": "pilot",
                                           "criteria": [{"measure": "m", "green": 1, "red": 5}]}]}))
    code, _, err = run(capsys, "trial", "programme", "--file", str(f))
    assert code == 2 and "p.json" in err and "criteria.m" in err and "swap them" in err
