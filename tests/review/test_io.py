"""Readers of each format, encodings, all-or-nothing imports and their error messages."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whatworks.errors import WhatWorksError
from whatworks.review.io import RecordImportError, detect_encoding, import_files, read_file
from whatworks.review.records import from_frame, to_frame

RIS = """TY  - JOUR
AU  - Müller, Anna
AU  - Doe, J.
TI  - Kinship care and placement stability
T2  - Child Abuse & Neglect
PY  - 2020///
VL  - 101
SP  - 104000
DO  - https://doi.org/10.1016/j.chiabu.2020.104000
KW  - foster care
AB  - Placement instability is common
      in out-of-home care.
ER  -

TY  - BOOK
TI  - Second
ER  -
"""

WOS = """FN Clarivate Analytics Web of Science
VR 1.0
PT J
AU Smith, J
   Doe, J
AF Smith, Jane
   Doe, John
TI Family group conferences and
   re-referral to children's services
SO CHILD ABUSE & NEGLECT
DE family group conference; re-referral
PY 2019
VL 90
BP 10
EP 19
DI 10.1016/j.chiabu.2019.01.001
PM 30711709
UT WOS:000462000000002
ER

PT J
TI A second record
PY 2020
ER

EF
"""

MEDLINE = """PMID- 111
TI  - First title
      continued.
DP  - 2019 Jan
FAU - Roe, Richard
AU  - Roe R
AID - 10.1000/abc [doi]

PMID- 222
TI  - Second
DP  - 2018
"""


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_ris_fields_and_continuation_lines(tmp_path):
    recs, rep = read_file(write(tmp_path, "a.ris", RIS), database="Embase")
    assert rep.format == "ris" and len(recs) == 2
    r = recs[0]
    assert r.authors == ("Müller, Anna", "Doe, J.")
    assert r.abstract == "Placement instability is common in out-of-home care."
    assert (r.year, r.journal, r.doi) == (2020, "Child Abuse & Neglect", "10.1016/j.chiabu.2020.104000")
    assert r.source_database == "Embase" and r.source_line == 1 and recs[1].source_line == 15


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"])
def test_encodings_are_detected(tmp_path, encoding):
    p = write(tmp_path, "a.ris", RIS, encoding)
    recs, rep = read_file(p)
    assert recs[0].authors[0] == "Müller, Anna"
    assert len(recs) == 2


def test_utf8_with_bom_is_named(tmp_path):
    assert detect_encoding(write(tmp_path, "a.ris", RIS, "utf-8-sig")) == "utf-8-sig"
    assert detect_encoding(write(tmp_path, "b.ris", RIS, "utf-16")) == "utf-16"
    assert detect_encoding(write(tmp_path, "c.ris", RIS, "latin-1")) in ("cp1252", "latin-1")


def test_ris_without_er_at_the_end_is_refused_naming_the_record_line(tmp_path):
    p = write(tmp_path, "cut.ris", RIS.rstrip().rsplit("ER", 1)[0])
    with pytest.raises(RecordImportError, match=r"cut.ris, line 15, field ER: .*no ER line"):
        read_file(p)


def test_ris_new_record_before_er_is_refused(tmp_path):
    p = write(tmp_path, "x.ris", "TY  - JOUR\nTI  - a\nTY  - JOUR\nTI  - b\nER  - \n")
    with pytest.raises(RecordImportError, match=r"x.ris, line 3, field TY"):
        read_file(p)


def test_ris_title_outside_a_record_is_refused(tmp_path):
    p = write(tmp_path, "x.ris", "TY  - JOUR\nTI  - a\nER  - \nTI  - lost its TY\nER  - \n")
    with pytest.raises(RecordImportError, match=r"line 4, field TI: .*TY line missing"):
        read_file(p)


def test_web_of_science_tagged_text(tmp_path):
    recs, rep = read_file(write(tmp_path, "savedrecs.txt", WOS))
    assert rep.format == "wos" and len(recs) == 2
    r = recs[0]
    assert r.title == "Family group conferences and re-referral to children's services"
    assert r.authors == ("Smith, Jane", "Doe, John")
    assert (r.pages, r.doi, r.pmid, r.year) == ("10-19", "10.1016/j.chiabu.2019.01.001", "30711709", 2019)
    assert r.keywords == ("family group conference", "re-referral")
    assert r.source_database == "Web of Science" and recs[1].source_line == 21


def test_medline(tmp_path):
    recs, rep = read_file(write(tmp_path, "pubmed.nbib", MEDLINE))
    assert rep.format == "medline" and [r.pmid for r in recs] == ["111", "222"]
    assert recs[0].title == "First title continued." and recs[0].doi == "10.1000/abc"
    assert recs[0].year == 2019 and recs[1].source_line == 9


def test_medline_tag_before_pmid_is_refused(tmp_path):
    with pytest.raises(RecordImportError, match=r"p.nbib, line 1, field TI"):
        read_file(write(tmp_path, "p.nbib", "TI  - no pmid\n"), format="medline")


def test_bibtex(tmp_path):
    text = "@article{a, title={A {UK} study}, author={Smith, J. and Doe, J.}, year={2020}, " \
           "journal={Child Abuse \\& Neglect}, doi={10.1/x}}\n"
    recs, rep = read_file(write(tmp_path, "a.bib", text))
    assert rep.format == "bibtex"
    assert recs[0].title == "A UK study" and recs[0].authors == ("Smith, J.", "Doe, J.")
    assert recs[0].journal == "Child Abuse & Neglect"


def test_endnote_xml_refuses_malformed_xml_naming_the_line(tmp_path):
    p = write(tmp_path, "lib.xml", "<?xml version='1.0'?>\n<xml><records>\n<record><titles>"
                                   "<title>x</title></record></records></xml>")
    with pytest.raises(RecordImportError, match=r"lib.xml, line 3: not well-formed XML"):
        read_file(p)


def test_endnote_xml_refuses_entity_expansion(tmp_path):
    p = write(tmp_path, "bomb.xml", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
                                    "<xml><records><record><titles><title>&a;</title></titles>"
                                    "</record></records></xml>")
    with pytest.raises(RecordImportError, match="unsafe XML"):
        read_file(p)


def test_csv_column_synonyms(tmp_path):
    p = write(tmp_path, "export.csv", "TI,AB,Authors,Publication Year,Source title,DOI\n"
                                      "A title,An abstract,Smith J; Doe J,2021,J Child Serv,10.1000/y\n")
    recs, rep = read_file(p)
    r = recs[0]
    assert (r.title, r.abstract, r.authors, r.year, r.journal, r.doi) == (
        "A title", "An abstract", ("Smith J", "Doe J"), 2021, "J Child Serv", "10.1000/y")


def test_csv_without_title_or_abstract_is_refused(tmp_path):
    p = write(tmp_path, "x.csv", "name,size\na,1\n")
    with pytest.raises(RecordImportError, match="no title or abstract column; the columns are name, size"):
        read_file(p)


def test_csv_duplicate_ids_are_refused_naming_the_row(tmp_path):
    p = write(tmp_path, "x.csv", "id,title\n1,a\n1,b\n")
    with pytest.raises(RecordImportError, match=r"x.csv, row 2, field id: id '1' is already used on row 1"):
        read_file(p)


def test_xlsx(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Title", "Abstract", "Year"])
    ws.append(["Spreadsheet record", "text", 2017])
    p = tmp_path / "refs.xlsx"
    wb.save(p)
    recs, rep = read_file(p)
    assert rep.format == "xlsx" and recs[0].title == "Spreadsheet record" and recs[0].year == 2017


def test_a_damaged_xlsx_is_refused(tmp_path):
    p = write(tmp_path, "bad.xlsx", "not a zip")
    with pytest.raises(RecordImportError, match="bad.xlsx: not a readable .xlsx"):
        read_file(p)


def test_import_is_all_or_nothing_across_files(tmp_path):
    good = write(tmp_path, "good.ris", RIS)
    bad = write(tmp_path, "bad.ris", "TY  - JOUR\nTI  - a\n")
    with pytest.raises(RecordImportError) as info:
        import_files([good, bad])
    assert [p.file for p in info.value.problems] == [str(bad)]
    result = import_files([good, write(tmp_path, "m.nbib", MEDLINE)], import_batch="search-2026-11")
    assert [r.id for r in result.records] == ["R1", "R2", "R3", "R4"]
    assert {r.import_batch for r in result.records} == {"search-2026-11"}
    assert result.counts_by_database() == {"(not given)": 2, "PubMed": 2}


def test_unknown_format_is_refused_with_the_fix(tmp_path):
    with pytest.raises(WhatWorksError, match="cannot tell the format"):
        read_file(write(tmp_path, "notes.txt", "just some words\n"))


def test_records_round_trip_through_a_frame(tmp_path):
    recs, _ = read_file(write(tmp_path, "a.ris", RIS))
    assert from_frame(to_frame(recs)) == recs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.lists(st.sampled_from(
    ["TY  - JOUR", "ER  - ", "TI  - title", "AU  - A, B", "PY  - 2020", "PY  - x", "AB  - text",
     "  continued", "", "PMID- 1", "@article{k,", "title={x}", "}", "PT J", "<?xml version='1.0'?>",
     "<record>", "EF", "DO  - 10.1/x", "\x00", "é", "KW\t- tab"]), max_size=30),
    fmt=st.sampled_from([None, "ris", "medline", "wos", "bibtex", "endnote-xml", "csv"]))
def test_fuzzed_files_import_or_fail_with_a_clear_error(tmp_path, body, fmt):
    p = tmp_path / "fuzz.txt"
    p.write_text("\n".join(body), encoding="utf-8")
    try:
        recs, rep = read_file(p, format=fmt)
    except WhatWorksError as exc:
        assert "fuzz.txt" in str(exc)
    else:
        assert rep.n_records == len(recs) > 0


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_fuzzed_bytes_never_crash(tmp_path, data):
    p = tmp_path / "bytes.ris"
    p.write_bytes(data)
    try:
        read_file(p)
    except WhatWorksError as exc:
        assert "bytes.ris" in str(exc)


def test_line_reader_reports_progress_up_to_the_file_size(tmp_path):
    from whatworks.review.io._base import iter_lines

    p = write(tmp_path, "big.ris", RIS * 400)
    steps = []
    lines = sum(1 for _ in iter_lines(p, "utf-8", steps.append))
    assert lines == RIS.count("\n") * 400
    assert sum(steps) == p.stat().st_size and len(steps) > 1


def test_web_of_science_tab_delimited_export(tmp_path):
    text = ("PT\tAU\tTI\tSO\tPY\tVL\tBP\tDI\tPM\tUT\n"
            "J\tSmith, J; Doe, J\tFamily group conferences\tCHILD ABUSE NEGL\t2019\t90\t10\t"
            "10.1016/j.chiabu.2019.01.001\t30711709\tWOS:000462000000002\n")
    recs, rep = read_file(write(tmp_path, "savedrecs.txt", text))
    r = recs[0]
    assert rep.format == "csv"
    assert (r.title, r.authors, r.year, r.pages, r.pmid) == (
        "Family group conferences", ("Smith, J", "Doe, J"), 2019, "10", "30711709")


cell = st.one_of(st.none(), st.integers(-10, 3000), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=30),
                 st.sampled_from(["2019", "10.1/x", "Smith, J; Doe, J", "=1+1", "\t", "'"]))
header = st.lists(st.sampled_from(["Title", "TI", "Abstract", "AB", "Year", "PY", "Authors", "DOI", "id",
                                   "PMID", "Pages", "Notes", "", "title"]), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=header, rows=st.lists(st.lists(cell, min_size=0, max_size=7), max_size=6))
def test_fuzzed_spreadsheets_import_or_fail_with_a_clear_error(tmp_path, head, rows):
    # the XLSX reader (openpyxl) has its own path: fuzz it as the text formats are fuzzed above
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(head)
    for row in rows:
        ws.append([c if not isinstance(c, str) else "".join(ch for ch in c if ch.isprintable())
                   for c in row])
    p = tmp_path / "fuzz.xlsx"
    wb.save(p)
    try:
        recs, rep = read_file(p)
    except WhatWorksError as exc:
        assert "fuzz.xlsx" in str(exc)
    else:
        assert rep.format == "xlsx" and rep.n_records == len(recs) > 0


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.lists(st.sampled_from(["PT", "AU", "TI", "SO", "PY", "VL", "BP", "DI", "PM", "UT", "AB",
                                      "XX"]), min_size=1, max_size=8),
       rows=st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=15),
                              max_size=9), max_size=5))
def test_fuzzed_web_of_science_tab_delimited_exports_import_or_fail_clearly(tmp_path, head, rows):
    text = "\t".join(head) + "\n" + "".join("\t".join(r) + "\n" for r in rows)
    p = tmp_path / "savedrecs.txt"
    p.write_text(text, encoding="utf-8")
    try:
        recs, rep = read_file(p)
    except WhatWorksError as exc:
        assert "savedrecs.txt" in str(exc)
    else:
        assert rep.n_records == len(recs) > 0
