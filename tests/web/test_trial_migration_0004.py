"""Migration trials 0004: cluster and block ids stored as the plain text of a number (``03`` as
``3``: a column read as floats, before ids were read as text) get back the spelling of the units
file the allocation was made from, row by row; genuine text ids, allocations whose file cannot say
and the append-only log are left as they are. Rows are made with the models as they were at 0003
(the migration loader's historical state) and the migration's own function is run on them;
afterwards an outcome file that writes the cluster ids as the units file did joins to the stored
allocation."""

import importlib

import pandas as pd
import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tests.web.trial_allocations import old_allocation
from whatworks.web.trials.allocation import join_allocation
from whatworks.web.trials.models import AllocationLogEntry, TrialAllocation

pytestmark = pytest.mark.django_db

MIGRATION = ("trials", "0004_cluster_block_ids_as_written")
migration = importlib.import_module(
    "whatworks.web.trials.migrations.0004_cluster_block_ids_as_written")


@pytest.fixture
def old_apps():
    """The apps as they were before the migration (trials at 0003)."""
    loader = MigrationLoader(connection)
    return loader.project_state(("trials", "0003_unit_ids_as_written")).apps


def _allocation(apps, slug, rows, *, csv=None, filename="units.csv", mode="batch",
                options=None):
    return old_allocation(apps, slug, rows, csv=csv, filename=filename, mode=mode, method="cluster",
                          options=options or {"unit": "pupil", "cluster": "school", "block": "area"})


def _rows(units, clusters, blocks=None, arms=None):
    arms = arms or ["control" if c in ("3", "A-17") else "intervention" for c in clusters]
    out = [{"unit": u, "arm": a, "cluster": c} for u, a, c in zip(units, arms, clusters, strict=True)]
    if blocks is not None:
        for r, b in zip(out, blocks, strict=True):
            r["block"] = b
    return out


def _column(pk, key):
    return [r.get(key) for r in TrialAllocation.objects.get(pk=pk).rows]


def test_number_made_cluster_and_block_ids_get_the_units_files_spelling(old_apps):
    # school and area read as numbers then: 03 -> 3, 3.0 -> 3, 1e3 -> 1000, 05 -> 5
    csv = ("\ufeffpupil,school,area\np1,03,05\np2, 03,05\n\np3,3.0,6\np4,1e3,6\np5,12,6\n")
    whole = _allocation(old_apps, "whole", _rows(["p1", "p2", "p3", "p4", "p5"],
                                                 ["3", "3", "3", "1000", "12"],
                                                 ["5", "5", "6", "6", "6"]), csv=csv)
    tsv = _allocation(old_apps, "tsv", _rows(["1", "2"], ["7", "8"]),
                      csv="pupil\tschool\n1\t007\n2\t8\n", filename="units.tsv",
                      options={"unit": "pupil", "cluster": "school"})
    # numbered units (no unit column): the number of rows is all that lines the file up
    numbered = _allocation(old_apps, "numbered", _rows(["1", "2"], ["4", "4"]),
                           csv="school\n04\n04\n", options={"unit": None, "cluster": "school"})
    before_arms = [r["arm"] for r in TrialAllocation.objects.get(pk=whole).rows]

    migration.forwards(old_apps, None)

    assert _column(whole, "cluster") == ["03", "03", "3.0", "1e3", "12"]
    assert _column(whole, "block") == ["05", "05", "6", "6", "6"]
    assert _column(whole, "unit") == ["p1", "p2", "p3", "p4", "p5"]
    assert [r["arm"] for r in TrialAllocation.objects.get(pk=whole).rows] == before_arms
    assert _column(tsv, "cluster") == ["007", "8"]
    assert _column(numbered, "cluster") == ["04", "04"]
    migration.forwards(old_apps, None)  # run twice: nothing more changes
    assert _column(whole, "cluster") == ["03", "03", "3.0", "1e3", "12"]


def test_text_ids_and_allocations_whose_file_cannot_say_are_left_as_they_are(old_apps):
    # a column of text (read as written then): its ids are what the file says
    text = _allocation(old_apps, "text", _rows(["p1", "p2"], ["A-17", "03"]),
                       csv="pupil,school,area\np1,A-17,x\np2,03,x\n")
    # no units file: a stored 3 may have been written 3, so nothing changes
    no_file = _allocation(old_apps, "no-file", _rows(["p1", "p2"], ["3", "4"]))
    # a file with another number of rows, or other units, or in another order
    short = _allocation(old_apps, "short", _rows(["p1", "p2"], ["3", "4"]),
                        csv="pupil,school\np1,03\n")
    other = _allocation(old_apps, "other", _rows(["p1", "p2"], ["3", "4"]),
                        csv="pupil,school\nq1,03\nq2,04\n")
    swapped = _allocation(old_apps, "swapped", _rows(["p1", "p2"], ["3", "4"]),
                          csv="pupil,school\np2,04\np1,03\n")
    no_column = _allocation(old_apps, "no-column", _rows(["p1", "p2"], ["3", "4"]),
                            csv="pupil,site\np1,03\np2,04\n")
    # a different number in the file is not a spelling of the stored id
    different = _allocation(old_apps, "different", _rows(["p1", "p2"], ["3", "4"]),
                            csv="pupil,school\np1,30\np2,04\n")
    enrolment = _allocation(old_apps, "enrolment", _rows(["p1"], ["3"]), mode="enrolment",
                            csv="pupil,school\np1,03\n")
    unit_only = _allocation(old_apps, "unit-only", [{"unit": "7", "arm": "control"}],
                            csv="pupil\n007\n", options={"unit": "pupil"})
    unchanged = (text, no_file, short, other, swapped, no_column, enrolment, unit_only)
    before = {pk: TrialAllocation.objects.get(pk=pk).rows for pk in unchanged}

    migration.forwards(old_apps, None)

    for pk, rows in before.items():
        assert TrialAllocation.objects.get(pk=pk).rows == rows, pk
    assert _column(different, "cluster") == ["3", "04"]  # only the row the file respells


def test_the_allocation_log_is_not_touched(old_apps):
    pk = _allocation(old_apps, "logged", _rows(["p1"], ["3"]), csv="pupil,school\np1,03\n")
    trial = TrialAllocation.objects.get(pk=pk).trial
    line = '{"type": "allocation", "unit": "p1", "cluster": "3", "hash": "h"}'
    AllocationLogEntry.objects.create(trial=trial, index=0, kind="allocation", line=line,
                                      hash="h")
    migration.forwards(old_apps, None)
    assert _column(pk, "cluster") == ["03"]
    assert list(AllocationLogEntry.objects.filter(trial=trial).values_list("line", flat=True)) \
        == [line]


def test_an_outcome_file_with_the_units_files_cluster_ids_joins_after_the_migration(old_apps):
    pk = _allocation(old_apps, "join", _rows(["p1", "p2", "p3"], ["3", "3", "4"]),
                     csv="pupil,school\np1,03\np2,03\np3,04\n",
                     options={"unit": "pupil", "cluster": "school"})
    outcomes = pd.DataFrame({"school": ["03", "04"], "y": [1.0, 2.0]})
    with pytest.raises(Exception, match="ids are matched exactly as written"):
        join_allocation(outcomes, TrialAllocation.objects.get(pk=pk), by="school", key="cluster",
                        filename="outcomes.csv")
    migration.forwards(old_apps, None)
    joined, info = join_allocation(outcomes, TrialAllocation.objects.get(pk=pk), by="school",
                                   key="cluster", filename="outcomes.csv")
    assert info["matched_rows"] == 2
    assert list(joined["allocated_arm"]) == ["control", "intervention"]


def test_the_migration_follows_0003_and_has_been_applied_here():
    loader = MigrationLoader(connection)
    assert MIGRATION in loader.graph.leaf_nodes()
    assert ("trials", "0003_unit_ids_as_written") in loader.graph.node_map[MIGRATION].parents
    assert MIGRATION in loader.applied_migrations
