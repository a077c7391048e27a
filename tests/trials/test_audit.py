"""The allocation log: intact logs verify; any edit, deletion, insertion or reordering is caught."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whatworks.errors import InputError
from whatworks.trials.audit import AllocationLog, entry_hash, verify_log, write_log
from whatworks.trials.randomise import Minimiser, cluster_covariates, randomise


def units(n=40):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"school": [f"S{i:02d}" for i in range(n)],
                         "la": [f"LA{i % 4}" for i in range(n)],
                         "size": rng.integers(200, 900, n).astype(float)})


@pytest.fixture
def log(tmp_path):
    alloc = randomise(units(), method="block-cluster", seed=20201, unit="school", block="la",
                      cluster="school")
    path = tmp_path / "log.jsonl"
    head = write_log(path, alloc)
    return path, head


def lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def write(path, rows):
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_an_untouched_log_is_intact_and_replays(log):
    path, head = log
    res = verify_log(path, head=head)
    assert res.ok and res.sealed and res.replayed and res.n_allocations == 40 and res.head == head


@pytest.mark.parametrize("method,kw", [
    ("simple", {}), ("complete", {}), ("blocks", {"strata": ["la"]}),
    ("stratified", {"strata": ["la"]}), ("cluster", {"cluster": "la"}),
    ("minimisation", {"factors": ["la"]})])
def test_every_method_replays_from_its_log(tmp_path, method, kw):
    alloc = randomise(units(), method=method, seed=5, unit="school", **kw)
    write_log(tmp_path / "l.jsonl", alloc)
    assert verify_log(tmp_path / "l.jsonl").replayed


def test_a_constrained_allocation_replays_from_its_log(tmp_path):
    u = units(10)
    alloc = randomise(u, method="constrained", seed=5, cluster="school", covariates=["size"])
    write_log(tmp_path / "l.jsonl", alloc, covariates=cluster_covariates(u, "school", ["size"]))
    assert verify_log(tmp_path / "l.jsonl").replayed


def test_an_edited_arm_is_caught_at_its_line(log):
    path, _ = log
    rows = lines(path)
    entry = json.loads(rows[3])
    entry["arm"] = "treatment" if entry["arm"] == "control" else "control"
    rows[3] = json.dumps(entry)
    write(path, rows)
    res = verify_log(path)
    assert not res.ok and res.line == 4 and "edited" in res.reason


def test_an_edit_with_the_chain_rebuilt_is_caught_by_replaying_the_seed(log):
    path, head = log
    rows = [json.loads(r) for r in lines(path)]
    rows[5]["arm"] = "treatment" if rows[5]["arm"] == "control" else "control"
    rows[-1]["counts"] = {}  # whatever: the forger rebuilds every hash after the edit
    prev = rows[4]["hash"]
    for r in rows[5:]:
        r["prev"] = prev
        r["hash"] = entry_hash(r)
        prev = r["hash"]
    write(path, [json.dumps(r) for r in rows])
    res = verify_log(path)
    assert not res.ok and res.line == 6 and "seed gives" in res.reason
    assert not verify_log(path, head=head, replay=False).ok   # and the recorded head differs


def test_a_deleted_entry_is_caught(log):
    path, _ = log
    rows = lines(path)
    del rows[10]
    write(path, rows)
    res = verify_log(path)
    assert not res.ok and res.line == 11 and "deleted" in res.reason


def test_cutting_entries_off_the_end_is_caught(log):
    path, _ = log
    write(path, lines(path)[:-3])
    res = verify_log(path)
    assert not res.ok and "without its seal" in res.reason


def test_reordered_entries_are_caught(log):
    path, _ = log
    rows = lines(path)
    rows[7], rows[8] = rows[8], rows[7]
    write(path, rows)
    res = verify_log(path)
    assert not res.ok and res.line == 8


def test_an_inserted_entry_is_caught_even_with_a_valid_hash(log):
    path, _ = log
    rows = lines(path)
    fake = json.loads(rows[4])
    fake["unit"] = "S99"
    fake["hash"] = entry_hash(fake)
    rows.insert(5, json.dumps(fake))
    write(path, rows)
    res = verify_log(path)
    assert not res.ok and res.line == 6


def test_an_entry_after_the_seal_is_caught(log):
    path, _ = log
    rows = lines(path)
    extra = json.loads(rows[-1])
    extra.update(index=len(rows), prev=extra["hash"], type="allocation")
    extra["hash"] = entry_hash(extra)
    write(path, rows + [json.dumps(extra)])
    res = verify_log(path)
    assert not res.ok and "after the seal" in res.reason


def test_a_log_is_never_overwritten(log):
    path, _ = log
    with pytest.raises(InputError, match="never overwritten"):
        AllocationLog.create(path, {"method": "complete"})


def test_minimisation_appends_one_unit_at_a_time_and_reopens(tmp_path):
    path = tmp_path / "min.jsonl"
    m = Minimiser(factors=["sex"], seed=3)
    header = {"method": "minimisation", "seed": 3, "algorithm": "whatworks-hmac-sha256/1",
              "arms": ["control", "treatment"], "ratio": [1, 1], "n_units": None,
              "options": {"factors": ["sex"], "weights": [1.0], "p_best": 0.8, "unit": "unit"}}
    AllocationLog.create(path, header)
    for i, sex in enumerate("fmffmmf"):
        log = AllocationLog(path)           # a new session each time
        log.append("allocation", {"unit": f"u{i}", "sex": sex,
                                  "arm": m.assign(f"u{i}", {"sex": sex})})
    res = verify_log(path)
    assert res.ok and not res.sealed and res.replayed and res.n_allocations == 7


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_tampering_is_detected(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("log") / "log.jsonl"
    alloc = randomise(units(12), method="complete", seed=data.draw(st.integers(0, 10 ** 6)),
                      unit="school")
    write_log(path, alloc)
    rows = lines(path)
    kind = data.draw(st.sampled_from(["edit", "delete", "swap", "duplicate"]))
    i = data.draw(st.integers(0, len(rows) - 1))
    if kind == "edit":
        entry = json.loads(rows[i])
        key = data.draw(st.sampled_from(sorted(k for k in entry if k != "hash")))
        entry[key] = "tampered"
        rows[i] = json.dumps(entry)
    elif kind == "delete":
        del rows[i]
    elif kind == "swap":
        j = data.draw(st.integers(0, len(rows) - 1).filter(lambda j: j != i))
        rows[i], rows[j] = rows[j], rows[i]
    else:
        rows.insert(i, rows[i])
    write(path, rows)
    assert not verify_log(path).ok


def test_a_sampled_constrained_allocation_within_blocks_replays_from_its_log(tmp_path):
    u = units(24)
    alloc = randomise(u, method="constrained", seed=8, cluster="school", block="la",
                      covariates=["size"], max_enumerate=100, n_candidates=500)
    assert not alloc.constrained.enumerated
    write_log(tmp_path / "l.jsonl", alloc, covariates=cluster_covariates(u, "school", ["size"]))
    res = verify_log(tmp_path / "l.jsonl")
    assert res.ok and res.replayed
