"""Boundary and code changes map as documented (whatworks.places.boundaries and
docs/methods/places.md)."""

from pathlib import Path

import numpy as np
import pytest

from whatworks.places import BOUNDARY_CHANGES, load_panel
from whatworks.places.boundaries import (
    changes_table,
    consistent_units,
    current_code,
    imd_code,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "methods" / "places.md"


@pytest.fixture(scope="module")
def reported():
    return load_panel()


@pytest.fixture(scope="module")
def consistent():
    return load_panel(geography="consistent")


def years(panel, code):
    return sorted(panel.loc[panel["code"] == code, "year"])


def test_every_change_in_the_table_is_in_the_methods_doc():
    text = DOC.read_text(encoding="utf-8")
    for change in BOUNDARY_CHANGES:
        assert change.date in text
        for authority in change.predecessors + change.successors:
            assert authority.code in text, authority


def test_the_table_rows_render_for_the_docs_and_cli():
    rows = changes_table()
    assert len(rows) == len(BOUNDARY_CHANGES)
    assert rows[2]["kind"] == "merger" and "Christchurch" in rows[2]["to"]


@pytest.mark.parametrize("old, new", [("E08000020", "E08000037"), ("E06000048", "E06000057"),
                                      ("E10000002", "E06000060"), ("E10000023", "E06000065"),
                                      ("E10000027", "E06000066"), ("E09000001", "E09000001")])
def test_code_only_changes_carry_the_series_to_the_newest_code(old, new):
    assert current_code(old) == new


@pytest.mark.parametrize("code, published", [("E08000037", "E08000020"), ("E06000057", "E06000048"),
                                             ("E06000060", "E10000002")])
def test_a_recoded_authority_is_one_series_from_2010(reported, code, published):
    assert years(reported, code) == [*range(2010, 2018), *range(2019, 2024)]
    rows = reported[reported["code"] == code].set_index("year")
    assert rows.loc[2014, "code_published"] == published


def test_dorset_predecessors_end_in_2019_and_successors_start_in_2020(reported):
    for code in ("E06000028", "E06000029", "E10000009"):
        assert max(years(reported, code)) == 2019
        assert "series ends 2019" in reported.loc[reported["code"] == code, "boundary_note"].iloc[0]
    for code in ("E06000058", "E06000059"):
        assert years(reported, code) == [2020, 2021, 2022, 2023]
    names = set(reported.loc[reported["code"].isin(["E10000009", "E06000059"]), "name"])
    assert names == {"Dorset (county council)", "Dorset"}


def test_northamptonshire_ends_in_2021_and_its_successors_start_in_2022(reported):
    assert max(years(reported, "E10000021")) == 2021
    assert years(reported, "E06000061") == years(reported, "E06000062") == [2022, 2023]


def test_the_2023_changes_are_not_yet_in_the_data(reported):
    # reorganised on 1 April 2023; the data end at 31 March 2023
    assert max(years(reported, "E10000006")) == 2023
    assert not reported["code"].isin(["E06000063", "E06000064"]).any()
    assert "E10000023" not in set(reported["code"])  # North Yorkshire carries its new code


def test_the_consistent_geography_sums_each_merger_and_split(reported, consistent):
    units = consistent_units()
    for unit in {u for u, _ in units.values()}:
        members = [c for c, (u, _) in units.items() if u == unit]
        for year in sorted(consistent["year"].unique()):
            parts = reported[(reported["code"].isin(members)) & (reported["year"] == year)]
            row = consistent[(consistent["code"] == unit) & (consistent["year"] == year)]
            if parts.empty:
                assert row.empty
                continue
            assert len(row) == 1
            if parts["count"].notna().all():
                assert row["count"].iloc[0] == parts["count"].sum()
            else:
                assert np.isnan(row["count"].iloc[0])
            if parts["population"].notna().all():
                assert row["population"].iloc[0] == parts["population"].sum()
            else:  # 2019: Bournemouth, Poole and Dorset's populations are 'x'
                assert np.isnan(row["population"].iloc[0])


def test_the_consistent_geography_has_unbroken_series(consistent):
    counts = consistent.groupby("code")["year"].nunique()
    all_years = consistent["year"].nunique()
    broken = counts[counts < all_years].index.tolist()
    assert broken == ["E06000053"]  # the Isles of Scilly, absent from the 2011-2016 tables
    dorset = consistent[consistent["code"] == "E06000058+E06000059"].set_index("year")
    assert dorset.loc[2019, "count"] == 248 + 192 + 414
    assert dorset.loc[2023, "name"] == "Bournemouth, Christchurch and Poole with Dorset"


def test_the_consistent_dorset_unit_takes_a_population_weighted_imd_score(consistent):
    score = consistent.loc[consistent["code"] == "E06000058+E06000059", "imd_score"].iloc[0]
    assert 15.735 < score < 18.173  # between Dorset's and BCP's 2019 scores


@pytest.mark.parametrize("code, expected", [
    ("E06000061", ("E10000021", True)), ("E06000028", ("E06000058", True)),
    ("E06000065", ("E10000023", False)), ("E06000060", ("E10000002", False)),
    ("E08000025", ("E08000025", False))])
def test_imd_2019_joins_through_the_documented_codes(code, expected):
    assert imd_code(code) == expected
