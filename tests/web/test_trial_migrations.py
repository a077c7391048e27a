"""Migration trials 0003: unit ids stored as ``101.0`` (a whole-number column read as floats, before
ids were read as text) get back the spelling of the units file the allocation was made from;
genuine text ids, enrolments and the append-only log are left as they are. Rows are made with the
models as they were at 0002 (the migration loader's historical state) and the migration's own
function is run on them; afterwards an outcome file that writes the ids as the units file did
joins to the stored allocation."""

import importlib

import pandas as pd
import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tests.web.trial_allocations import old_allocation
from whatworks.web.trials.allocation import join_allocation
from whatworks.web.trials.models import TrialAllocation

pytestmark = pytest.mark.django_db

MIGRATION = ("trials", "0003_unit_ids_as_written")
migration = importlib.import_module("whatworks.web.trials.migrations.0003_unit_ids_as_written")


@pytest.fixture
def old_apps():
    """The apps as they were before the migration (trials at 0002)."""
    loader = MigrationLoader(connection)
    return loader.project_state(("trials", "0002_randomisation_and_analysis")).apps


def _allocation(apps, slug, units, *, csv=None, filename="units.csv", mode="batch", column="unit"):
    arms = ["control", "intervention"]
    rows = [{"unit": u, "arm": arms[i % 2]} for i, u in enumerate(units)]
    return old_allocation(apps, slug, rows, csv=csv, filename=filename, mode=mode, method="simple",
                          options={"unit": column})


def _units(pk):
    return [r["unit"] for r in TrialAllocation.objects.get(pk=pk).rows]


def test_float_made_ids_get_the_units_files_spelling_and_genuine_ids_stay(old_apps):
    # a column of numbers (read as floats then): 101 and 0102 were changed; 103.0 was written so
    from_file = _allocation(old_apps, "from-file", ["101.0", "102.0", "103.0"],
                            csv="\ufeffschool,unit\na,101\nb, 0102\n\nc,103.0\n")
    tsv = _allocation(old_apps, "tsv", ["7.0", "8.0"], csv="unit\tx\n007\t1\n8\t2\n",
                      filename="units.tsv")
    # a column of text (read as written then): its 101.0 is what the file says
    text = _allocation(old_apps, "text", ["A-17", "101.0"], csv="unit\nA-17\n101.0\n")
    # no units file: only an allocation whose every id is a whole float's text was read as numbers
    no_file = _allocation(old_apps, "no-file", ["5.0", "-6.0", "10.0"])
    no_file_mixed = _allocation(old_apps, "no-file-mixed", ["B2", "5.0"])
    # a file that does not line up with the rows: it cannot say, so the same rule as without one
    short = _allocation(old_apps, "short", ["1.0", "2.0"], csv="unit\n1\n")
    decimals = _allocation(old_apps, "decimals", ["101.5", "102.25"], csv="unit\n101.5\n102.25\n")
    enrolment = _allocation(old_apps, "enrolment", ["5.0", "6"], mode="enrolment")
    numbered = _allocation(old_apps, "numbered", ["1", "2"], column=None)
    before = {pk: TrialAllocation.objects.get(pk=pk).rows for pk in
              (text, no_file_mixed, decimals, enrolment, numbered)}

    migration.forwards(old_apps, None)

    assert _units(from_file) == ["101", "0102", "103.0"]
    assert _units(tsv) == ["007", "8"]
    assert _units(no_file) == ["5", "-6", "10"]
    assert _units(short) == ["1", "2"]
    for pk, rows in before.items():
        assert TrialAllocation.objects.get(pk=pk).rows == rows, pk
    arms = [r["arm"] for r in TrialAllocation.objects.get(pk=from_file).rows]
    assert arms == ["control", "intervention", "control"]  # only the ids change
    migration.forwards(old_apps, None)  # run twice: nothing more changes
    assert _units(from_file) == ["101", "0102", "103.0"] and _units(no_file) == ["5", "-6", "10"]


def test_an_outcome_file_with_the_units_files_ids_joins_after_the_migration(old_apps):
    pk = _allocation(old_apps, "join", ["101.0", "102.0"], csv="unit\n101\n102\n")
    outcomes = pd.DataFrame({"unit": ["101", "102"], "y": [1.0, 2.0]})
    with pytest.raises(Exception, match="ids are matched exactly as written"):
        join_allocation(outcomes, TrialAllocation.objects.get(pk=pk), by="unit", key="unit",
                        filename="outcomes.csv")
    migration.forwards(old_apps, None)
    joined, info = join_allocation(outcomes, TrialAllocation.objects.get(pk=pk), by="unit",
                                   key="unit", filename="outcomes.csv")
    assert info["matched_rows"] == 2 and list(joined["allocated_arm"]) == ["control", "intervention"]


def test_the_migration_follows_0002_and_has_been_applied_here():
    loader = MigrationLoader(connection)
    assert ("trials", "0002_randomisation_and_analysis") in loader.graph.node_map[MIGRATION].parents
    assert MIGRATION in loader.applied_migrations
