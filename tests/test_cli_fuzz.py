"""The whatworks command on generated CSV files: a valid JSON result, or exit 2 with one line naming
the file; never a traceback, never a silently shifted column.

The oracle reads each file with the csv module and a strict idea of a number (ASCII digits, finite)
and, for the common-effect model, computes the inverse-variance mean itself: a column shifted by an
extra field, or a cell read as a number it is not, changes k or the estimate.
"""

import contextlib
import csv
import io
import json
import math
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whatworks.cli import main

NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
MISSING = {"", "na", "nan", "null", "none", "."}
TRICKY = ["١٢", "１２", "1_000", "1e309", "-1e309", "inf", "-inf", "Infinity", "NaN", "NA", "",
          ".", "none", "0x10", "1,5", "abc", "TRUE", " 0.5 ", "1e-400", "0", "-0.0", "1e308",
          "5e-324", "+.5", "1.", '"0.3"', "′", "0.2\t"]
numbers = st.floats(min_value=-5, max_value=5, allow_nan=False).map(lambda x: f"{x:.4g}")
variances = st.floats(min_value=1e-4, max_value=2, allow_nan=False).map(lambda x: f"{x:.4g}")
cell = st.one_of(numbers, variances, st.sampled_from(TRICKY))


@st.composite
def csv_files(draw):
    header = ["study", "yi", "vi"]
    n = draw(st.integers(min_value=0, max_value=6))
    rows = []
    for i in range(n):
        row = [f"s{i}", draw(st.one_of(numbers, cell)), draw(st.one_of(variances, cell))]
        if draw(st.integers(0, 9)) == 0:
            row.append(draw(cell))  # more fields than the header
        elif draw(st.integers(0, 14)) == 0:
            row = row[:2]  # fewer: the last cell is missing
        rows.append(row)
    return header, rows


def expected(header, rows):
    """(refuse, k, common-effect estimate) as a careful reader of the file would have them."""
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    parsed = list(csv.reader(io.StringIO(text), skipinitialspace=True))
    body = [r for r in parsed[1:] if r]
    if any(len(r) > len(header) for r in body):
        return "refuse", None, None
    ys, vs = [], []
    for r in body:
        r = r + [""] * (len(header) - len(r))
        cells = [r[1].strip(), r[2].strip()]
        if any(c.lower() in MISSING for c in cells):
            continue
        if not all(NUMBER.fullmatch(c) and math.isfinite(float(c)) for c in cells):
            return "refuse", None, None
        ys.append(float(cells[0]))
        vs.append(float(cells[1]))
    return "fit", ys, vs


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files(), st.sampled_from(["FE", "REML", "DL"]),
       st.sampled_from([[], ["--test", "knha"], ["--influence"], ["--leave-one-out"],
                        ["--bias"], ["--robust", "study"]]))
def test_meta_gives_json_or_one_line_naming_the_file(case, method, extra):
    header, rows = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.csv"
        path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
        code, out, err = run(["meta", str(path), "--yi", "yi", "--vi", "vi", "--method", method,
                              "--format", "json", *extra])
    kind, ys, vs = expected(header, rows)
    assert code in (0, 2), err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"whatworks: error: {path}"), err
        return
    assert kind == "fit", f"accepted a file a careful reader refuses: {rows}"
    result = json.loads(out)
    assert result["k"] == len(ys)
    if method == "FE" and all(v > 0 for v in vs):
        w = [1 / v for v in vs]
        mean = sum(wi * yi for wi, yi in zip(w, ys, strict=True)) / sum(w)
        assert result["estimate"] == pytest.approx(mean, rel=1e-9, abs=1e-12)


@st.composite
def gen_files(draw):
    n = draw(st.integers(min_value=1, max_value=5))
    rows = []
    for _ in range(n):
        row = [draw(cell), draw(cell), draw(cell)]
        if draw(st.integers(0, 9)) == 0:
            row.append(draw(cell))
        rows.append(row)
    return ["est", "lo", "hi"], rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen_files(), st.sampled_from([[], ["--scale", "log"], ["--ci-level", "90"]]))
def test_effects_gives_json_or_one_line_naming_the_file(case, extra):
    header, rows = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gen.csv"
        path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
        code, out, err = run(["effects", str(path), "--measure", "GEN", "--estimate", "est",
                              "--ci-lower", "lo", "--ci-upper", "hi", "--format", "json", *extra])
    assert code in (0, 2), err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"whatworks: error: {path}"), err
        return
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    body = [r for r in list(csv.reader(io.StringIO(text), skipinitialspace=True))[1:] if r]
    assert all(len(r) <= len(header) for r in body), "accepted a row longer than the header"
    for r in body:
        for value in r:
            value = value.strip()
            assert value.lower() in MISSING or (NUMBER.fullmatch(value)
                                                and math.isfinite(float(value))), value
    assert len(json.loads(out)) == len(body)


counts = st.sampled_from(["0", "1", "3", "0.5", "17", "250", "1e9", "1e12", "1e-6", "2e-6",
                          "0.001", "1e15", "1e308", "1e-300", "-1", "", "x"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(counts, min_size=4, max_size=4), min_size=1, max_size=4),
       st.sampled_from([("MH", "OR"), ("MH", "RR"), ("MH", "RD"), ("PETO", "OR")]))
def test_mantel_haenszel_gives_json_or_one_line_naming_the_file(tables, method_measure):
    method, measure = method_measure
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tables.csv"
        path.write_text("ai,bi,ci,di\n" + "\n".join(",".join(t) for t in tables) + "\n")
        code, out, err = run(["meta", str(path), "--ai", "ai", "--bi", "bi", "--ci", "ci", "--di",
                              "di", "--method", method, "--measure", measure, "--format", "json"])
    assert code in (0, 2), err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"whatworks: error: {path}"), err
    else:
        json.loads(out)
