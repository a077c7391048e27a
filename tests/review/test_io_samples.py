"""Every sample export in ../shared/data/formats imports with the count a person would count, or is
refused with a message naming the file and the line."""

import pytest

from tests.review.conftest import shared
from whatworks.review.io import RecordImportError, read_file

# file -> (records a person counts, why)
EXPECTED = {
    "_baseline.ris": (100, "100 TY ... ER records (the first TY hides behind a UTF-8 BOM)"),
    "baseline_empty_values.ris": (4, "4 records, some with empty TI or N2 values"),
    "baseline_reference_types.ris": (61, "61 records, one per RIS reference type"),
    "baseline_tag-notes.ris": (12, "12 records with N1 notes"),
    "baseline_tag-notes_labels.ris": (32, "32 records with labels in N1 notes"),
    "baseline_tag-notes_zotero.ris": (4, "4 Zotero records"),
    "baseline_tag_and_field_definitions.ris": (
        1, "one GEN record whose fields are the tag definitions; its 'ER  - End of Reference' line "
           "ends it, and the trailing 'UK - Unknown Tag' / 'ER' pair is not a record (warned)"),
    "baseline_tag_and_field_definitions_lists.ris": (1, "one record with repeated list tags"),
    "baseline_zotero.ris": (100, "the 100 baseline records exported by Zotero"),
    "embase.ris": (6, "6 Embase records (BOM before the first TY)"),
    "faulty_year.ris": (1, "1 record; its year '10 15' is not a year, so it is left empty (warned)"),
    "ovid_psycinfo.ris": (6, "6 Ovid records, each preceded by a number line '1.' and followed by "
                             "NL and a full-text link outside TY ... ER (skipped, warned)"),
    "ovid_zotero.ris": (6, "the same 6 Ovid records through Zotero"),
    "proquest.ris": (6, "6 ProQuest (PTSDpubs) records"),
    "pubmed_endnote.txt": (6, "6 PubMed records exported by EndNote as RIS"),
    "pubmed_zotero.ris": (6, "6 PubMed records exported by Zotero"),
    "ris_issue_1099.txt": (7, "7 Scopus records with multi-line N1 notes"),
    "ris_issue_992.txt": (19, "19 records"),
    "scopus.ris": (6, "6 Scopus records"),
    "web_of_science.txt": (10, "10 Web of Science records exported as RIS (not the tagged format)"),
    "sample.nbib": (2, "2 MEDLINE records, each starting with PMID-"),
    "sample_endnote.xml": (1, "1 <record>"),
}

# file -> (line named in the refusal, why)
REFUSED = {
    "sample.bib": (11, "the entry @article{broken at line 11 never closes its title brace; the file "
                       "is all-or-nothing, so the two good entries are not kept either"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_imports_with_the_count_a_person_counts(name):
    records, report = read_file(shared("formats", name))
    assert len(records) == EXPECTED[name][0], EXPECTED[name][1]
    assert report.n_records == len(records)
    assert all(r.source_file.endswith(name) and r.import_batch == name for r in records)
    assert all(r.source_line >= 1 for r in records)
    assert len({r.id for r in records}) == len(records)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_broken_sample_is_refused_naming_file_and_line(name):
    with pytest.raises(RecordImportError) as info:
        read_file(shared("formats", name))
    line = REFUSED[name][0]
    assert name in str(info.value) and f"line {line}" in str(info.value)
    assert info.value.problems[0].line == line


def test_every_file_in_the_samples_folder_is_covered():
    folder = shared("formats")
    names = {p.name for p in folder.iterdir() if p.name != "README.md"}
    assert names == set(EXPECTED) | set(REFUSED)


def test_fields_are_read_from_each_database():
    recs, _ = read_file(shared("formats", "web_of_science.txt"))
    r = recs[0]
    assert r.title.startswith("Holding Yourself Captive")
    assert r.authors[:2] == ("Alceste, F", "Luke, TJ")
    assert (r.year, r.volume, r.issue, r.pages) == (2018, "7", "3", "387-397")
    assert r.doi == "10.1016/j.jarmac.2018.03.001"
    assert r.journal == "JOURNAL OF APPLIED RESEARCH IN MEMORY AND COGNITION"
    assert r.abstract.startswith("Police custody activates") and "Police custody" in r.keywords
    # the accession numbers (AN  - WOS:...) name the database the export does not; the file's one
    # record without one (Kassin 1997, with a citation key and a Springer URL) came from elsewhere
    assert [x.source_database for x in recs].count("Web of Science") == 9 and len(recs) == 10
    assert recs[7].source_database is None and recs[7].title.startswith("Coerced Confessions")
    recs, rep = read_file(shared("formats", "pubmed_endnote.txt"))
    assert recs[0].pmid == "21553931" and recs[0].source_database == "NLM"
    recs, _ = read_file(shared("formats", "ovid_psycinfo.ris"))
    assert recs[0].doi == "10.1002/cpp.2398"  # from http://dx.doi.org/10.1002/cpp.2398
    recs, _ = read_file(shared("formats", "embase.ris"))
    assert {r.source_database for r in recs} == {"Embase"}


def test_faulty_year_is_left_empty_and_reported_on_its_line():
    recs, rep = read_file(shared("formats", "faulty_year.ris"))
    assert recs[0].year is None
    assert [(w.line, w.field) for w in rep.warnings] == [(3, "PY")]
    assert "10 15" in rep.warnings[0].reason
