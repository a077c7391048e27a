"""Randomising a trial on its page (every method of the core, a preview of the balance, confirm once)
with its append-only, hash-chained audit log that the page and `whatworks trial verify` check; units
enrolled one at a time by minimisation."""

import hashlib
import io

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whatworks.cli import main as cli
from whatworks.trials.audit import verify_log
from whatworks.trials.randomise import METHODS, randomise
from whatworks.web.trials.models import (
    AllocationLogEntry,
    AppendOnlyError,
    Trial,
    TrialAllocation,
    TrialUpload,
)

pytestmark = pytest.mark.django_db
URL = "/trials/t1/randomise/"


def units_csv(n_la=4, per_la=4) -> str:
    """Schools within local authorities, with baseline covariates."""
    rng = np.random.default_rng(7)
    rows = []
    for la in range(n_la):
        for s in range(per_la):
            rows.append({"school": f"S{la}{s}", "la": f"LA{la}", "fsm": round(rng.uniform(.1, .5), 3),
                         "size": int(rng.integers(400, 1600)), "sex": "fm"[s % 2],
                         "age": ["young", "old"][(s // 2) % 2]})
    return pd.DataFrame(rows).to_csv(index=False)


UNITS = units_csv()


@pytest.fixture
def trial(db):
    return Trial.objects.create(slug="t1", title="Trial one", record={"id": "t1", "title": "Trial one"})


def _client(user):
    c = Client()
    c.force_login(user)
    return c


def upload_id(c, text=UNITS):
    f = io.BytesIO(text.encode())
    f.name = "units.csv"
    r = c.post(URL, {"step": "upload", "file": f})
    assert r.status_code == 302, r.content.decode()[:2000]
    return int(r["Location"].split("upload=")[1])


OPTIONS = {
    "simple": {},
    "complete": {},
    "blocks": {"block_sizes": "2 4"},
    "stratified": {"strata": ["la"]},
    "cluster": {"cluster": "la"},
    "block-cluster": {"block": "la", "cluster": "school"},
    "constrained": {"cluster": "school", "covariates": ["fsm", "size"], "cutoff": "0.2"},
    "minimisation": {"factors": ["sex", "age"]},
}
DEFAULTS = {"arms": "control treatment", "metric": "l2", "cutoff": "0.1", "max_enumerate": "100000",
            "n_candidates": "50000", "samearmhi": "0.75", "samearmlo": "0.25", "p_best": "0.8"}


def form(upload, method, seed=20201, **extra):
    data = {**DEFAULTS, "upload": upload, "method": method, "seed": seed, "unit": "school",
            "balance": ["fsm", "size"], **OPTIONS[method], **extra}
    return data


def randomised(c, method="block-cluster", seed=20201, **extra):
    up = upload_id(c)
    r = c.post(URL, {"step": "preview", **form(up, method, seed, **extra)})
    assert r.status_code == 200, r.content.decode()[:3000]
    fp = r.context["preview"].fingerprint
    r = c.post(URL, {"step": "confirm", "fingerprint": fp, **form(up, method, seed, **extra)})
    assert r.status_code == 302, r.content.decode()[:3000]
    return r


def test_only_editors_and_admins_randomise(client, trial, outsider, editor, admin):
    assert client.get(URL).status_code == 302 and "/accounts/sign-in/" in client.get(URL)["Location"]
    assert _client(outsider).get(URL).status_code == 403
    assert _client(editor).get(URL).status_code == 200
    assert _client(admin).get(URL).status_code == 200
    html = client.get("/trials/t1/").content.decode()
    assert "Not randomised here." in html and "Randomise this trial" not in html
    assert "Randomise this trial" in _client(editor).get("/trials/t1/").content.decode()


def test_the_column_choices_come_from_the_file_and_a_seed_is_drawn_and_shown(trial, editor):
    c = _client(editor)
    up = upload_id(c)
    r = c.get(f"{URL}?upload={up}")
    f = r.context["form"]
    assert [v for v, _ in f.fields["block"].choices] == ["", "school", "la", "fsm", "size", "sex", "age"]
    seed = f.initial["seed"]
    assert isinstance(seed, int) and f'value="{seed}"' in r.content.decode()
    assert {m for m, _ in f.fields["method"].choices} == set(METHODS)


def test_an_editor_previews_then_confirms_and_the_list_is_the_cores(trial, editor):
    c = _client(editor)
    up = upload_id(c)
    r = c.post(URL, {"step": "preview", **form(up, "block-cluster")})
    html = r.content.decode()
    assert "Preview (not yet saved)" in html and "Standardised difference" in html
    assert not TrialAllocation.objects.exists() and not AllocationLogEntry.objects.exists()
    r = c.post(URL, {"step": "confirm", "fingerprint": r.context["preview"].fingerprint,
                     **form(up, "block-cluster")})
    assert r.status_code == 302
    a = TrialAllocation.objects.get(trial=trial)
    frame = pd.read_csv(io.StringIO(UNITS))
    expected = randomise(frame, method="block-cluster", seed=20201, unit="school", block="la",
                         cluster="school")
    assert [row["arm"] for row in a.rows] == list(expected.table["arm"])
    assert a.seed == 20201 and a.units_sha256 == hashlib.sha256(UNITS.encode()).hexdigest()
    assert set(a.software) >= {"whatworks", "python", "numpy", "pandas"}
    assert [b["covariate"] for b in a.balance] == ["fsm", "size"]
    # header, one entry per unit, the seal
    assert AllocationLogEntry.objects.filter(trial=trial).count() == len(frame) + 2
    html = c.get("/trials/t1/").content.decode()
    assert "block-cluster" in html and "20201" in html and "Baseline balance of the allocation" in html


def test_the_allocation_csv_is_the_file_with_its_arm(trial, editor, client):
    c = _client(editor)
    randomised(c)
    out = pd.read_csv(io.StringIO(client.get("/trials/t1/allocation.csv").content.decode()))
    frame = pd.read_csv(io.StringIO(UNITS))
    assert list(out.columns) == [*frame.columns, "arm"]
    assert list(out["arm"]) == [r["arm"] for r in TrialAllocation.objects.get().rows]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_is_offered_stored_and_its_downloaded_log_passes_the_cli_verify(
        method, trial, editor, client, tmp_path, capsys):
    randomised(_client(editor), method)
    a = TrialAllocation.objects.get()
    assert a.method == method
    log = tmp_path / "log.jsonl"
    log.write_bytes(client.get("/trials/t1/allocation-log.jsonl").content)
    assert cli(["trial", "verify", str(log)]) == 0
    assert "intact" in capsys.readouterr().out
    assert verify_log(log).replayed


def test_the_downloaded_log_is_byte_for_byte_what_the_cli_writes(trial, editor, client, tmp_path):
    randomised(_client(editor), "block-cluster")
    units = tmp_path / "units.csv"
    units.write_text(UNITS)
    assert cli(["trial", "randomise", str(units), "--method", "block-cluster", "--block", "la",
                "--cluster", "school", "--unit", "school", "--seed", "20201",
                "--out", str(tmp_path / "a.csv"), "--log", str(tmp_path / "cli.jsonl")]) == 0
    web = client.get("/trials/t1/allocation-log.jsonl").content.decode().splitlines()
    ours = (tmp_path / "cli.jsonl").read_text().splitlines()
    import json

    def strip(line):  # the time of writing differs
        d = json.loads(line)
        return {k: v for k, v in d.items() if k not in ("time", "hash", "prev")}

    assert [strip(x) for x in web] == [strip(x) for x in ours]


def test_a_trial_is_randomised_once_back_and_resubmit_included(trial, editor):
    c = _client(editor)
    up = upload_id(c)
    r = c.post(URL, {"step": "preview", **form(up, "complete")})
    confirm = {"step": "confirm", "fingerprint": r.context["preview"].fingerprint, **form(up, "complete")}
    assert c.post(URL, confirm).status_code == 302
    n = AllocationLogEntry.objects.count()
    r = c.post(URL, confirm, follow=True)  # the browser's Back, then submit again
    assert "has already been randomised" in r.content.decode()
    assert TrialAllocation.objects.count() == 1 and AllocationLogEntry.objects.count() == n
    r = c.get(URL, follow=True)
    assert "has already been randomised" in r.content.decode()
    r = c.post("/trials/t1/enrol/start/", {"seed": 1, "factors": "sex", "arms": "a b", "p_best": "0.8"},
               follow=True)
    assert "has already been randomised" in r.content.decode()


def test_the_confirmation_must_allocate_what_was_previewed(trial, editor):
    c = _client(editor)
    up = upload_id(c)
    r = c.post(URL, {"step": "confirm", "fingerprint": "0" * 64, **form(up, "complete")})
    assert r.status_code == 400 and "differs from the one previewed" in r.content.decode()
    r = c.post(URL, {"step": "confirm", **form(up, "complete")})
    assert r.status_code == 400 and "preview the allocation before confirming it" in r.content.decode()
    assert not TrialAllocation.objects.exists()


def test_a_column_not_in_the_file_is_refused_on_its_field(trial, editor):
    c = _client(editor)
    up = upload_id(c)
    r = c.post(URL, {"step": "preview", **form(up, "block-cluster", block="region")})
    html = r.content.decode()
    assert r.status_code == 400 and "There is a problem" in html
    assert "Select a valid choice. region is not one of the available choices." in html
    r = c.post(URL, {"step": "preview", **form(up, "block-cluster", block="")})
    assert "the block-cluster method needs a block column" in r.content.decode()
    assert not TrialAllocation.objects.exists()


def test_a_bad_units_file_gets_one_message_naming_the_row_and_column(trial, editor):
    c = _client(editor)
    bad = UNITS.replace("S01,LA0", "S01,", 1)
    up = upload_id(c, bad)
    r = c.post(URL, {"step": "preview", **form(up, "block-cluster")})
    html = r.content.decode()
    assert r.status_code == 400
    assert "units.csv, row 2, column &#x27;la&#x27;: is empty; every unit needs a value here" in html
    assert "Traceback" not in html and not TrialAllocation.objects.exists()
    f = io.BytesIO(b"\xff\xfe not text")
    f.name = "units.csv"
    r = c.post(URL, {"step": "upload", "file": f})
    assert r.status_code == 400 and "is not UTF-8 text" in r.content.decode()
    assert not TrialUpload.objects.filter(filename="units.csv").exclude(pk=up).exists()


def test_pasted_units_work_like_a_file(trial, editor):
    c = _client(editor)
    r = c.post(URL, {"step": "upload", "pasted": UNITS})
    assert r.status_code == 302
    up = TrialUpload.objects.get()
    assert up.filename == "pasted.csv" and up.kind == "units"


def test_uploads_over_the_limit_are_refused(trial, editor, settings):
    settings.WHATWORKS_IMPORT_MAX_BYTES = 100
    c = _client(editor)
    f = io.BytesIO(UNITS.encode())
    f.name = "units.csv"
    r = c.post(URL, {"step": "upload", "file": f})
    assert r.status_code == 400 and "WHATWORKS_IMPORT_MAX_BYTES" in r.content.decode()
    assert not TrialUpload.objects.exists()


def test_log_entries_refuse_update_and_delete_through_django(trial, editor):
    randomised(_client(editor))
    e = AllocationLogEntry.objects.filter(trial=trial).first()
    e.line = e.line.replace("control", "treatment")
    with pytest.raises(AppendOnlyError):
        e.save()
    with pytest.raises(AppendOnlyError):
        e.delete()
    with pytest.raises(AppendOnlyError):
        AllocationLogEntry.objects.filter(trial=trial).update(line="x")
    with pytest.raises(AppendOnlyError):
        AllocationLogEntry.objects.filter(trial=trial).delete()
    with pytest.raises(AppendOnlyError):
        AllocationLogEntry.objects.bulk_update([e], ["line"])


def _tamper(trial, index, old, new):
    e = AllocationLogEntry.objects.get(trial=trial, index=index)
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {AllocationLogEntry._meta.db_table} SET line = %s WHERE id = %s",
                    [e.line.replace(old, new, 1), e.pk])
    return e.line


def test_a_row_altered_by_raw_sql_is_caught_on_the_page_and_by_the_cli(trial, editor, client, tmp_path,
                                                                        capsys):
    randomised(_client(editor))
    html = client.get("/trials/t1/?verify=1").content.decode()
    assert "Intact: the chain, the order, the seal and every one of the 16 allocations check" in html
    e = AllocationLogEntry.objects.get(trial=trial, index=3)
    arm = '"arm":"control"' if '"arm":"control"' in e.line else '"arm":"treatment"'
    other = '"arm":"treatment"' if arm == '"arm":"control"' else '"arm":"control"'
    _tamper(trial, 3, arm, other)
    html = client.get("/trials/t1/?verify=1").content.decode()
    assert "Broken at entry 4: its hash does not match its contents (the entry was edited)" in html
    log = tmp_path / "log.jsonl"
    log.write_bytes(client.get("/trials/t1/allocation-log.jsonl").content)
    assert cli(["trial", "verify", str(log)]) == 1
    assert "BROKEN at line 4" in capsys.readouterr().out
    report = client.get("/trials/t1/report.html").content.decode()
    assert "BROKEN at entry 4" in report


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(index=st.integers(0, 17), field=st.sampled_from(["unit", "arm", "index", "prev"]))
def test_verify_names_exactly_the_entry_that_was_altered(trial_randomised, index, field):
    """'Broken at entry k' is a promise: k is the line that was changed (any entry, any field)."""
    import json

    from whatworks.web.trials.allocation import verify

    e = AllocationLogEntry.objects.get(trial=trial_randomised, index=index)
    d = json.loads(e.line)
    if field not in d:
        field = "index"
    d[field] = (d[field] + 1) if isinstance(d[field], int) else str(d[field]) + "x"
    with connection.cursor() as cur:
        table = AllocationLogEntry._meta.db_table
        cur.execute(f"UPDATE {table} SET line = %s WHERE id = %s",
                    [json.dumps(d, sort_keys=True, separators=(",", ":")), e.pk])
        try:
            v = verify(trial_randomised)
            assert not v.ok and v.line == index + 1
        finally:
            cur.execute(f"UPDATE {table} SET line = %s WHERE id = %s", [e.line, e.pk])
    assert verify(trial_randomised).ok


@pytest.fixture
def trial_randomised(trial, editor):
    randomised(_client(editor))
    return trial


def test_readers_see_the_allocation_the_log_and_can_verify(trial, editor, client):
    randomised(_client(editor))
    html = client.get("/trials/t1/").content.decode()
    assert "Verify the log" in html and "allocation-log.jsonl" in html and "allocation.csv" in html
    assert "Randomise this trial" not in html and "Analyse an outcome file" not in html
    counts = TrialAllocation.objects.get().rows
    n_treat = sum(r["arm"] == "treatment" for r in counts)
    assert f"control {16 - n_treat}, treatment {n_treat}" in html


# ------------------------------------------------------------------------------------ enrolment


def test_units_are_enrolled_one_at_a_time_by_minimisation(trial, editor, client, tmp_path):
    c = _client(editor)
    r = c.post("/trials/t1/enrol/start/", {"seed": 77, "factors": "sex age", "arms": "control treatment",
                                           "p_best": "0.8"})
    assert r.status_code == 302
    a = TrialAllocation.objects.get()
    assert a.mode == "enrolment" and AllocationLogEntry.objects.count() == 1
    people = [("P1", "f", "young"), ("P2", "m", "old"), ("P3", "f", "old"), ("P4", "m", "young"),
              ("P5", "f", "young")]
    arms = []
    for unit, sex, age in people:
        r = c.post("/trials/t1/enrol/", {"unit": unit, "level_sex": sex, "level_age": age}, follow=True)
        msg = r.content.decode()
        a.refresh_from_db()
        arms.append(a.rows[-1]["arm"])
        assert f"Unit {unit} is allocated to {arms[-1]}." in msg
    # the same units in the same order through the core's batch minimisation give the same arms
    frame = pd.DataFrame(people, columns=["unit", "sex", "age"])
    assert arms == list(randomise(frame, method="minimisation", seed=77, unit="unit",
                                  factors=["sex", "age"]).table["arm"])
    assert AllocationLogEntry.objects.count() == 6
    log = tmp_path / "log.jsonl"
    log.write_bytes(client.get("/trials/t1/allocation-log.jsonl").content)
    assert cli(["trial", "verify", str(log)]) == 0
    assert "Intact" in client.get("/trials/t1/?verify=1").content.decode()
    # a unit id twice is refused and nothing is appended
    r = c.post("/trials/t1/enrol/", {"unit": "P1", "level_sex": "f", "level_age": "old"}, follow=True)
    assert "already enrolled" in r.content.decode() and AllocationLogEntry.objects.count() == 6
    r = c.post("/trials/t1/enrol/", {"unit": "P9", "level_sex": "f"}, follow=True)
    assert "Not enrolled" in r.content.decode() and AllocationLogEntry.objects.count() == 6
    assert client.post("/trials/t1/enrol/", {"unit": "P9"}).status_code == 302  # to sign in
    assert AllocationLogEntry.objects.count() == 6


def test_enrolment_refuses_to_append_to_a_tampered_log(trial, editor):
    c = _client(editor)
    c.post("/trials/t1/enrol/start/", {"seed": 5, "factors": "sex", "arms": "a b", "p_best": "0.8"})
    c.post("/trials/t1/enrol/", {"unit": "P1", "level_sex": "f"})
    line = AllocationLogEntry.objects.get(index=1).line
    arm = '"arm":"a"' if '"arm":"a"' in line else '"arm":"b"'
    _tamper(trial, 1, arm, '"arm":"b"' if arm == '"arm":"a"' else '"arm":"a"')
    r = c.post("/trials/t1/enrol/", {"unit": "P2", "level_sex": "m"}, follow=True)
    assert "Not enrolled" in r.content.decode() and AllocationLogEntry.objects.count() == 2


def test_an_oversized_upload_is_answered_413_before_its_body_is_read(trial, editor, settings):
    settings.WHATWORKS_IMPORT_MAX_BYTES = 1000
    c = _client(editor)
    for path in (URL, "/trials/t1/analyse/"):
        r = c.generic("POST", path, b"x" * 10, CONTENT_TYPE="multipart/form-data; boundary=b",
                      CONTENT_LENGTH=str(200_000))
        assert r.status_code == 413 and b"WHATWORKS_IMPORT_MAX_BYTES" in r.content
    assert not TrialUpload.objects.exists()


def test_a_randomised_trial_cannot_be_deleted_with_its_log(trial_randomised):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        trial_randomised.delete()
    assert AllocationLogEntry.objects.filter(trial=trial_randomised).count() == 18


def test_an_enrolment_that_meets_another_at_the_same_place_is_refused_with_a_message(trial, editor,
                                                                                      monkeypatch):
    from django.db import IntegrityError

    from whatworks.web.trials import allocation as svc

    c = _client(editor)
    c.post("/trials/t1/enrol/start/", {"seed": 5, "factors": "sex", "arms": "a b", "p_best": "0.8"})

    def clash(*args, **kwargs):
        raise IntegrityError("UNIQUE constraint failed: one_log_entry_per_place")

    monkeypatch.setattr(svc, "_store_lines", clash)
    r = c.post("/trials/t1/enrol/", {"unit": "P1", "level_sex": "f"}, follow=True)
    assert "another unit was enrolled at the same moment" in r.content.decode()
    assert TrialAllocation.objects.get().rows == [] and AllocationLogEntry.objects.count() == 1


@pytest.mark.parametrize("method,path", [("get", "/trials/t1/randomise/"), ("post", "/trials/t1/randomise/"),
                                         ("post", "/trials/t1/enrol/start/"), ("post", "/trials/t1/enrol/"),
                                         ("get", "/trials/t1/analyse/"), ("post", "/trials/t1/analyse/")])
def test_readers_and_outsiders_cannot_reach_the_editing_routes(client, trial, outsider, method, path):
    r = getattr(client, method)(path, {"step": "upload", "pasted": UNITS} if method == "post" else None)
    assert r.status_code == 302 and "/accounts/sign-in/" in r["Location"]
    r = getattr(_client(outsider), method)(path, {"step": "upload", "pasted": UNITS}
                                           if method == "post" else None)
    assert r.status_code == 403
    assert not TrialUpload.objects.exists() and not TrialAllocation.objects.exists()


def test_readers_download_nothing_before_a_randomisation(client, trial):
    assert client.get("/trials/t1/allocation.csv").status_code == 404
    assert client.get("/trials/t1/allocation-log.jsonl").status_code == 404
    assert client.get("/trials/t1/analyses/1/").status_code == 404


def test_closing_the_enrolment_seals_the_log_and_refuses_more_units(trial, editor, client, tmp_path):
    c = _client(editor)
    c.post("/trials/t1/enrol/start/", {"seed": 8, "factors": "sex", "arms": "a b", "p_best": "0.8"})
    for unit, sex in (("P1", "f"), ("P2", "m"), ("P3", "f")):
        c.post("/trials/t1/enrol/", {"unit": unit, "level_sex": sex})
    assert client.post("/trials/t1/enrol/close/").status_code == 302  # readers: to sign in
    r = c.post("/trials/t1/enrol/close/", follow=True)
    assert "Enrolment closed with 3 units; the log is sealed." in r.content.decode()
    html = r.content.decode()
    assert "Enrolment is closed" in html and "Allocate this unit" not in html
    last = AllocationLogEntry.objects.filter(trial=trial).order_by("index").last()
    assert last.kind == "seal" and AllocationLogEntry.objects.count() == 5
    r = c.post("/trials/t1/enrol/", {"unit": "P4", "level_sex": "m"}, follow=True)
    assert "enrolment is closed (the log is sealed)" in r.content.decode()
    assert AllocationLogEntry.objects.count() == 5
    log = tmp_path / "log.jsonl"
    log.write_bytes(client.get("/trials/t1/allocation-log.jsonl").content)
    v = verify_log(log)
    assert v.ok and v.sealed and v.n_allocations == 3
    assert cli(["trial", "verify", str(log)]) == 0
