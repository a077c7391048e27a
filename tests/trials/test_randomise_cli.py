"""`whatworks trial randomise` and `verify`: the contract, exit codes and one-line errors."""

import json

import numpy as np
import pandas as pd
import pytest

from whatworks.cli import main


@pytest.fixture
def units_csv(tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"school": [f"S{i:03d}" for i in range(60)],
                          "la": [f"LA{i % 6:02d}" for i in range(60)],
                          "size": rng.integers(300, 1500, 60), "urn": [f"0{i}" for i in range(60)]})
    path = tmp_path / "units.csv"
    frame.to_csv(path, index=False)
    return path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_randomise_writes_the_list_and_a_log_that_verifies(units_csv, tmp_path, capsys):
    out, log = tmp_path / "allocation.csv", tmp_path / "allocation-log.jsonl"
    code, text, _ = run(["trial", "randomise", units_csv, "--method", "block-cluster", "--block",
                         "la", "--cluster", "school", "--seed", 20201, "--out", out, "--log", log,
                         "--format", "json"], capsys)
    assert code == 0
    result = json.loads(text)
    alloc = pd.read_csv(out, dtype=str)
    assert list(alloc.columns) == ["school", "la", "size", "urn", "arm"]
    assert alloc["urn"].iloc[0] == "00"          # the user's text is written back untouched
    assert (alloc.groupby("la")["arm"].apply(lambda s: (s == "treatment").sum()) == 5).all()
    assert result["counts"] == {"control": 30, "treatment": 30} and result["seed"] == 20201
    code, text, _ = run(["trial", "verify", log, "--head", result["head"]], capsys)
    assert code == 0 and "intact" in text
    # the same seed again gives the same list
    again = tmp_path / "again.csv"
    run(["trial", "randomise", units_csv, "--method", "block-cluster", "--block", "la",
         "--cluster", "school", "--seed", 20201, "--out", again], capsys)
    assert pd.read_csv(again)["arm"].tolist() == alloc["arm"].tolist()


def test_verify_exits_1_with_the_first_broken_entry(units_csv, tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    run(["trial", "randomise", units_csv, "--method", "complete", "--seed", 1, "--out",
         tmp_path / "a.csv", "--log", log], capsys)
    rows = log.read_text().splitlines()
    del rows[4]
    log.write_text("\n".join(rows) + "\n")
    code, text, _ = run(["trial", "verify", log], capsys)
    assert code == 1 and "line 5" in text


def test_constrained_reports_the_allowed_set_and_balance(units_csv, tmp_path, capsys):
    small = pd.read_csv(units_csv).head(12)
    small.to_csv(tmp_path / "small.csv", index=False)
    code, text, _ = run(["trial", "randomise", tmp_path / "small.csv", "--method", "constrained",
                         "--cluster", "school", "--covariates", "size", "--seed", 4, "--out",
                         tmp_path / "a.csv", "--log", tmp_path / "l.jsonl", "--balance", "size",
                         "--format", "json"], capsys)
    assert code == 0
    res = json.loads(text)
    assert res["constrained"]["n_allocations"] == 924 and res["constrained"]["enumerated"]
    assert abs(res["balance"][0]["std_diff"]) < 0.2
    assert run(["trial", "verify", tmp_path / "l.jsonl"], capsys)[0] == 0


@pytest.mark.parametrize("argv,message", [
    (["--method", "urn"], "--method='urn' is not allowed; expected one of simple, complete"),
    (["--method", "block-cluster", "--cluster", "school"], "needs --block"),
    (["--method", "block-cluster", "--block", "region", "--cluster", "school"],
     "column 'region': no such column (given as --block); the columns are school, la, size, urn"),
    (["--method", "constrained", "--cluster", "school", "--covariates", "size", "--metric", "l3"],
     "--metric='l3' is not allowed; expected one of l2, l1"),
    (["--method", "blocks", "--block-sizes", "3"], "multiples of the ratio's sum"),
])
def test_bad_input_exits_2_with_one_line(units_csv, tmp_path, capsys, argv, message):
    code, _, err = run(["trial", "randomise", units_csv, "--seed", 1, "--out",
                        tmp_path / "a.csv", *argv], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_an_existing_log_is_not_overwritten(units_csv, tmp_path, capsys):
    log = tmp_path / "l.jsonl"
    log.write_text("keep me\n")
    code, _, err = run(["trial", "randomise", units_csv, "--method", "complete", "--seed", 1,
                        "--out", tmp_path / "a.csv", "--log", log], capsys)
    assert code == 2 and "never overwritten" in err and log.read_text() == "keep me\n"


def test_verify_of_a_missing_file_exits_2(tmp_path, capsys):
    code, _, err = run(["trial", "verify", tmp_path / "nope.jsonl"], capsys)
    assert code == 2 and "no such file" in err


def _ids_strategy():
    from hypothesis import strategies as st

    numeric_looking = st.one_of(
        st.integers(-10**6, 10**9).map(str), st.from_regex(r"\A0[0-9]{1,5}\Z"),
        st.sampled_from(["1e3", "1E3", "-0", "+5", "0.10", "3.0", "NaN", "NA", "None", ".", "inf"]))
    # whitespace-free text in any script (no separators or control characters)
    words = st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=8)
    return st.lists(st.one_of(numeric_looking, words), min_size=2, max_size=12, unique=True)


def _write_units(path, ids):
    import csv

    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "x"])
        w.writerows([u, i] for i, u in enumerate(ids))


def _run_quiet(argv):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main([str(a) for a in argv])
    return code, out.getvalue()


def test_ids_survive_randomise_allocation_csv_log_and_verify_exactly_as_written():
    import csv
    import tempfile
    from pathlib import Path

    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None)
    @given(ids=_ids_strategy(), method=st.sampled_from(["complete", "simple", "cluster"]),
           seed=st.integers(0, 2**31))
    def check(ids, method, seed):
        with tempfile.TemporaryDirectory() as tmp:
            units, out, log = Path(tmp) / "units.csv", Path(tmp) / "a.csv", Path(tmp) / "log.jsonl"
            _write_units(units, ids)
            option = "--cluster" if method == "cluster" else "--unit"
            code, text = _run_quiet(["trial", "randomise", units, "--method", method, option, "id",
                                     "--seed", seed, "--out", out, "--log", log, "--format", "json"])
            assert code == 0, text
            with open(out, encoding="utf-8", newline="") as fh:
                assert [row["id"] for row in csv.DictReader(fh)] == ids
            entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
            key = "cluster" if method == "cluster" else "unit"
            assert [e[key] for e in entries if e["type"] == "allocation"] == ids
            code, text = _run_quiet(["trial", "verify", log, "--head", json.loads(text)["head"]])
            assert code == 0 and "intact" in text

    check()


def test_a_decimal_id_column_from_a_python_caller_is_refused_not_rewritten():
    from whatworks.errors import InputError
    from whatworks.trials.randomise import randomise

    with pytest.raises(InputError, match="read the id column as text"):
        randomise(pd.DataFrame({"id": [101.0, 102.0]}), method="complete", seed=1, unit="id")
    alloc = randomise(pd.DataFrame({"id": [101, 7]}), method="complete", seed=1, unit="id")
    assert sorted(alloc.table["unit"]) == ["101", "7"]
