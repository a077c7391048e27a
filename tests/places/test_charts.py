"""What places charts carry besides data (whatworks.places.charts)."""

from hypothesis import given
from hypothesis import strategies as st

from whatworks.places.charts import SHIPPED_FILES, missing_years_text, source_line, years_text


def test_the_shipped_files_are_credited_to_dfe_with_the_licence():
    line = source_line(sorted(SHIPPED_FILES)[:2] + ["2010_SFR27_2010_March.csv+2011_SFR21_CLA.csv"])
    assert line.startswith("Source: Department for Education, Children looked after in England")
    assert "English Indices of Deprivation 2019" in line and "Open Government Licence v3.0" in line
    assert "Deprivation" not in source_line(["2011_SFR21_CLA.csv"], imd=False)


def test_a_users_own_files_are_named_and_not_credited_to_anyone_else():
    line = source_line(["cla_number_and_rate_per_10k_children.csv", "my_counts.csv"], imd=False)
    assert line == "Source: files my_counts.csv."
    assert "Department for Education" not in line and "Licence" not in line


def test_years_are_written_as_runs():
    assert years_text([2010, 2011, 2012, 2014, 2019, 2020]) == "2010-2012, 2014, 2019-2020"
    assert years_text([2023]) == "2023" and years_text([]) == ""
    assert missing_years_text([2018]) == "no data published in our source for 2018"
    assert missing_years_text([]) == ""


@given(st.sets(st.integers(1990, 2030), max_size=20))
def test_the_runs_name_exactly_the_years(years):
    named = set()
    for piece in filter(None, years_text(years).split(", ")):
        a, _, b = piece.partition("-")
        named |= set(range(int(a), int(b or a) + 1))
    assert named == years
