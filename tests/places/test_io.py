"""Readers of the DfE and IMD files (whatworks.places.io): layouts, symbols, BOM and one clear
message for a bad file."""

import math
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whatworks.errors import InputError
from whatworks.places import io
from whatworks.places.panel import IMD_FILE, TIDY_FILE, WIDE_DIR, data_dir

TIDY_HEADER = ("time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
               "region_name,old_la_code,la_name,new_la_code,population_count,population_estimate,"
               "number,rate_per_10000")
LABEL = "Children looked after at 31 March each year"


def tidy_row(number="321", population="20116", rate="160", name="Hartlepool"):
    return (f"2023,Reporting year,Local authority,E92000001,England,E12000001,North East,805,"
            f"{name},E06000001,{LABEL},{population},{number},{rate}")


def write(tmp_path, text, name="cla.csv", bom=False):
    path = tmp_path / name
    path.write_bytes(("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8"))
    return path


def test_it_reads_the_shipped_tidy_file_with_its_bom_and_crlf():
    raw = (data_dir() / TIDY_FILE).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw[:400]
    frame = io.read_cla(data_dir() / TIDY_FILE)
    assert frame.columns.tolist() == io.COLUMNS
    assert set(frame["year"]) == {2019, 2020, 2021, 2022, 2023}
    assert set(frame["measure"]) == {"cla_31_march", "cla_started", "cla_ceased"}


@pytest.mark.parametrize("year", [2010, 2011, 2012, 2013, 2014, 2015, 2016, 2017])
def test_it_reads_each_older_table_with_one_row_per_authority(year):
    path = next((data_dir() / WIDE_DIR).glob(f"{year}_*.csv"))
    frame = io.read_cla(path)
    assert set(frame["year"]) == {year}
    la = frame[frame["level"] == "local authority"]
    assert la["old_code"].str.fullmatch(r"\d{3}").all()
    assert not la["old_code"].duplicated().any()
    assert len(frame[frame["level"] == "regional"]) == 9  # Inner and Outer London left out
    assert frame.loc[frame["level"] == "national", "code_published"].tolist() == ["E92000001"]


def test_the_2010_national_row_is_not_mistaken_for_the_isle_of_wight():
    # the 2010 table files England under code 921, also the Isle of Wight's DfE code
    frame = io.read_cla(next((data_dir() / WIDE_DIR).glob("2010_*.csv")))
    wight = frame[frame["old_code"] == "921"]
    assert wight["name"].tolist() == ["Isle of Wight"]
    assert frame.loc[frame["level"] == "national", "count"].tolist() == [64400.0]


@pytest.mark.parametrize("symbol", ["c", "x", "z", "k", "..", "u", ":", "C", " x "])
def test_a_suppression_symbol_is_missing_not_zero(tmp_path, symbol):
    path = write(tmp_path, TIDY_HEADER + "\n" + tidy_row(number=symbol) + "\n")
    frame = io.read_cla(path)
    assert math.isnan(frame["count"].iloc[0])
    assert frame["count_symbol"].iloc[0] == symbol.strip().lower()
    assert frame["population"].iloc[0] == 20116


def test_an_empty_cell_is_missing_and_a_zero_stays_zero(tmp_path):
    path = write(tmp_path, TIDY_HEADER + "\n" + tidy_row(number="") + "\n" + tidy_row(number="0")
                 + "\n")
    frame = io.read_cla(path)
    assert math.isnan(frame["count"].iloc[0]) and frame["count"].iloc[1] == 0


def test_a_byte_order_mark_does_not_change_the_first_column(tmp_path):
    text = TIDY_HEADER + "\n" + tidy_row() + "\n"
    plain = io.read_cla(write(tmp_path, text, "a.csv"))
    marked = io.read_cla(write(tmp_path, text, "b.csv", bom=True))
    assert plain.equals(marked)


def test_text_in_a_number_column_names_the_file_row_and_column(tmp_path):
    path = write(tmp_path, TIDY_HEADER + "\n" + tidy_row() + "\n" + tidy_row(number="3O5") + "\n")
    with pytest.raises(InputError) as err:
        io.read_cla(path)
    message = str(err.value)
    assert message.startswith(f"{path}, row 2, column 'number': '3O5' is not a number")
    assert "\n" not in message
    assert (err.value.file, err.value.row, err.value.column) == (str(path), 2, "number")


def test_an_unexpected_column_is_named(tmp_path):
    path = write(tmp_path, TIDY_HEADER + ",notes\n" + tidy_row() + ",hello\n")
    with pytest.raises(InputError, match=r"column 'notes': unexpected column in the header"):
        io.read_cla(path)


def test_a_missing_column_is_named(tmp_path):
    header = TIDY_HEADER.replace(",number", "")
    row = tidy_row().rsplit(",", 2)[0] + ",160"
    path = write(tmp_path, header + "\n" + row + "\n")
    with pytest.raises(InputError, match=r"column 'number': missing from the header"):
        io.read_cla(path)


def test_a_file_of_another_kind_is_refused_with_its_columns_listed(tmp_path):
    path = write(tmp_path, "yi,vi\n0.1,0.02\n")
    with pytest.raises(InputError, match=r"neither a DfE .* the columns are yi, vi"):
        io.read_cla(path)


def test_an_unknown_geographic_level_is_named(tmp_path):
    path = write(tmp_path, TIDY_HEADER + "\n" + tidy_row().replace("Local authority", "Ward") + "\n")
    with pytest.raises(InputError, match=r"row 1, column 'geographic_level': 'Ward'"):
        io.read_cla(path)


def test_a_negative_count_is_refused(tmp_path):
    path = write(tmp_path, TIDY_HEADER + "\n" + tidy_row(number="-4") + "\n")
    with pytest.raises(InputError, match=r"row 1, column 'number': -4 is negative"):
        io.read_cla(path)


def test_a_wide_table_without_a_count_column_is_refused(tmp_path):
    path = write(tmp_path, "geog_l,geog_c,geog_n,CLA_2011\nLA,805,Hartlepool,12\n")
    with pytest.raises(InputError, match=r"CLA_Mar<year>.*found none"):
        io.read_cla(path)


def test_text_in_a_wide_count_column_names_the_row(tmp_path):
    path = write(tmp_path, "New_geog_code,geog_l,geog_c,geog_n,CLA_Mar2012\n"
                           "E06000001,LA,805,Hartlepool,200\nE06000002,LA,806,Middlesbrough,n/a\n")
    with pytest.raises(InputError, match=r"row 2, column 'CLA_Mar2012': 'n/a' is not a number"):
        io.read_cla(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="nope.csv: no such file"):
        io.read_cla(tmp_path / "nope.csv")


def test_the_imd_file_gives_a_score_for_each_2019_upper_tier_authority():
    imd = io.read_imd(data_dir() / IMD_FILE)
    assert len(imd) == 151 and not imd["imd_code"].duplicated().any()
    assert imd["imd_score"].between(0, 100).all()
    assert sorted(imd["imd_rank"]) == list(range(1, 152))


cells = st.one_of(
    st.integers(0, 10 ** 7).map(str),
    st.sampled_from(sorted(io.SYMBOLS) + ["", "1,234", "12.5"]),
    st.text(string.ascii_letters + string.digits + " -#!/%.", min_size=1, max_size=6))


def _is_valid(cell: str) -> bool:
    text = cell.strip()
    return (text == "" or text.lower() in io.SYMBOLS
            or bool(io._NUMBER.fullmatch(text)) and not text.startswith("-"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(cells, min_size=1, max_size=8))
def test_the_reader_parses_every_valid_cell_and_names_the_first_bad_one(tmp_path, column):
    rows = "\n".join(tidy_row(number=f'"{c}"') for c in column)
    path = write(tmp_path, TIDY_HEADER + "\n" + rows + "\n", name="fuzz.csv")
    bad = [i for i, c in enumerate(column) if not _is_valid(c)]
    if bad:
        with pytest.raises(InputError) as err:
            io.read_cla(path)
        assert (err.value.row, err.value.column) == (bad[0] + 1, "number")
        assert str(err.value).count("\n") == 0
    else:
        frame = io.read_cla(path)
        for cell, value in zip(column, frame["count"], strict=True):
            text = cell.strip()
            if text == "" or text.lower() in io.SYMBOLS:
                assert np.isnan(value)
            else:
                assert value == float(text.replace(",", ""))
