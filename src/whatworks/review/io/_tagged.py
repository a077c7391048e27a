"""Tagged text formats: RIS (rispy), Web of Science plain text (rispy's ``WokParser``) and PubMed
MEDLINE (our own parser).

RIS and Web of Science use rispy's tag tables and its rules for list tags and continuation lines
(``RisParser._add_tag``); we drive it line by line ourselves for two things rispy does not do: keep
the line number where each record starts (for the PRISMA trail and for error messages) and refuse
malformed files instead of silently skipping text -- rispy drops everything outside ``TY ... ER``
and a last record with no ``ER``. Our line reader also accepts the tab separators some exporters
write (``A1<TAB>- ...``) that rispy's fixed-column test misses.

PubMed MEDLINE (``.nbib``/``.txt``) has no maintained Python parser with a licence we can use
(Biopython's ``Bio.Medline`` pulls in all of Biopython), and the format is simple: a 4-character
tag, ``"- "``, and continuation lines indented by six spaces; records are separated by blank lines
(NLM, "MEDLINE/PubMed Data Element (Field) Descriptions").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from ._base import Problem, RawRecord, first, iter_lines, join_pages

_RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])(?:  |[ ]?\t[ ]?)-(?:[ \t](.*))?$")


def _ris_parser():
    import rispy

    class _Parser(rispy.RisParser):
        def parse_line(self, line: str):
            m = _RIS_LINE.match(line)
            if m:
                return m.group(1), (m.group(2) or "").strip()
            return None, line.strip()

    return _Parser(enforce_list_tags=False)


#: Tags that carry a work's description: outside ``TY ... ER`` they mean a record lost its TY line.
_RIS_CORE_TAGS = {"TI", "T1", "AU", "A1", "AB", "N2", "PY", "Y1", "DO", "JO", "JF", "T2", "VL", "SP"}


def read_ris(path: Path, encoding: str, *, file: str, problems: list[Problem],
             progress: Callable[[int], None] | None = None,
             warnings: list[Problem] | None = None) -> Iterator[RawRecord]:
    """RIS records.

    Problems (the file is refused): a record's tag (title, author, abstract, year, DOI, journal,
    volume, page) outside ``TY ... ER`` -- a record that lost its ``TY`` line; a ``TY`` before the
    ``ER`` of the record before; a record with no ``ER`` at the end of the file. Other text between
    records (Ovid's record numbers, its ``NL`` line and full-text links after ``ER``) is skipped and
    reported as one warning per stretch of lines.
    """
    parser = _ris_parser()
    record: dict | None = None
    start = 0
    last_tag = None
    year_line = None
    gap: list[int] = []

    def flush_gap():
        if gap and warnings is not None:
            span = f" (to line {gap[-1]})" if gap[-1] != gap[0] else ""
            warnings.append(Problem(file, gap[0], f"text between records skipped{span}: it is not "
                                                  "inside TY ... ER"))
        gap.clear()

    for n, line in iter_lines(path, encoding, progress):
        tag, content = parser.parse_line(line)
        if record is None:
            if tag == "TY":
                flush_gap()
                record, start, last_tag, year_line = {"type_of_reference": content}, n, "TY", None
            elif tag in _RIS_CORE_TAGS:
                problems.append(Problem(file, n, f"tag {tag} is outside a record: a record starts with "
                                                 "'TY  - ' and ends with 'ER  - '; is a TY line "
                                                 "missing?", tag))
            elif tag is not None or content:
                gap.append(n)
            continue
        if tag is None:
            if content and last_tag is not None:
                _continue(parser, record, last_tag, content)
            continue
        if tag == "ER":
            yield _ris_raw(record, start, year_line)
            record, last_tag = None, None
            continue
        if tag == "TY":
            problems.append(Problem(file, n, f"a new record starts (TY) before the record from line "
                                             f"{start} ended with ER; add 'ER  - ' before line {n}",
                                    "TY"))
            record, start, last_tag, year_line = {"type_of_reference": content}, n, "TY", None
            continue
        if tag in ("PY", "Y1") and year_line is None:
            year_line = n
        if content:
            parser._add_tag(record, tag, content)
        last_tag = tag
    flush_gap()
    if record is not None:
        problems.append(Problem(file, start, "the record starting here has no ER line before the end "
                                             "of the file; the file may be cut short", "ER"))


def _continue(parser, record: dict, tag: str, content: str) -> None:
    """A continuation line: a new item of a list tag, else more text for the tag's last value."""
    name = parser.mapping.get(tag)
    if name is None or tag in parser.list_tags or name not in record:
        parser._add_tag(record, tag, content)
    elif isinstance(record[name], list):
        record[name][-1] = f"{record[name][-1]} {content}"
    else:
        record[name] = f"{record[name]} {content}"


def _ris_raw(r: dict, line: int, year_line: int | None = None) -> RawRecord:
    authors = list(r.get("authors", [])) or list(r.get("first_authors", []))
    database = first(r.get("name_of_database"), r.get("database_provider"))
    an = first(r.get("accession_number"))
    if database is None and an and str(an).startswith("WOS:"):
        database = "Web of Science"  # its RIS exports name no database, but their accession numbers do
    pmid = None
    if database and re.search(r"pubmed|medline|nlm", str(database), re.I):
        if an and str(an).strip().isdigit():
            pmid = an
    urls = r.get("urls") or []
    doi = first(r.get("doi"))
    if doi is None:
        doi = next((u for u in urls if "doi.org/" in u), None)
    return RawRecord(
        line=line, title=first(r.get("title"), r.get("primary_title")),
        abstract=first(r.get("abstract"), r.get("notes_abstract")), authors=authors,
        year=first(r.get("year"), r.get("publication_year"), r.get("date")),
        year_field="PY", year_line=year_line,
        journal=first(r.get("alternate_title3"), r.get("journal_name"), r.get("secondary_title"),
                      r.get("alternate_title2"), r.get("alternate_title1")),
        volume=first(r.get("volume")), issue=first(r.get("number")),
        pages=join_pages(first(r.get("start_page")), first(r.get("end_page"))), doi=doi, pmid=pmid,
        keywords=list(r.get("keywords", [])), type=first(r.get("type_of_reference")),
        url=first(urls), database=database)


# ---------------------------------------------------------------------------------------------
# Web of Science plain text ("FN Clarivate Analytics Web of Science" / "PT J" ... "ER" / "EF")

_WOS_LINE = re.compile(r"^([A-Z][A-Z0-9])(?: (.*))?$")


def read_wos(path: Path, encoding: str, *, file: str, problems: list[Problem],
             progress: Callable[[int], None] | None = None) -> Iterator[RawRecord]:
    """Web of Science tagged records (``PT`` ... ``ER``), with rispy's Web of Science tag table."""
    import rispy

    parser = rispy.WokParser(enforce_list_tags=False, skip_unknown_tags=True)
    record: dict | None = None
    start = 0
    last_tag = None
    for n, line in iter_lines(path, encoding, progress):
        if not line.strip():
            continue
        if line.startswith("   ") and record is not None and last_tag is not None:
            _continue(parser, record, last_tag, line.strip())
            continue
        m = _WOS_LINE.match(line)
        if not m:
            problems.append(Problem(file, n, "not a Web of Science line (a two-letter tag, a space, "
                                             "the value; continuation lines start with 3 spaces)"))
            continue
        tag, content = m.group(1), (m.group(2) or "").strip()
        if record is None:
            if tag == "PT":
                record, start, last_tag = {"publication_type": content}, n, "PT"
            elif tag not in ("FN", "VR", "EF"):
                problems.append(Problem(file, n, f"tag {tag} is outside a record (a record starts "
                                                 "with PT and ends with ER)", tag))
            continue
        if tag == "ER":
            yield _wos_raw(record, start)
            record, last_tag = None, None
            continue
        if tag == "PT":
            problems.append(Problem(file, n, f"a new record starts (PT) before the record from line "
                                             f"{start} ended with ER", "PT"))
            record, start, last_tag = {"publication_type": content}, n, "PT"
            continue
        parser._add_tag(record, tag, content)
        last_tag = tag
    if record is not None:
        problems.append(Problem(file, start, "the record starting here has no ER line before the end "
                                             "of the file; the file may be cut short", "ER"))


def _split_semicolons(value) -> list[str]:
    if not value:
        return []
    values = value if isinstance(value, list) else [value]
    return [p.strip() for v in values for p in str(v).split(";") if p.strip()]


def _wos_raw(r: dict, line: int) -> RawRecord:
    return RawRecord(
        line=line, title=first(r.get("document_title")), abstract=first(r.get("abstract")),
        authors=list(r.get("author_full_name") or r.get("authors") or []),
        year=first(r.get("publication_year"), r.get("early_access_year")), year_field="PY",
        journal=first(r.get("publication_name")), volume=first(r.get("volume")),
        issue=first(r.get("issue")),
        pages=join_pages(first(r.get("beginning_page")), first(r.get("ending_page")))
        or first(r.get("article_number")),
        doi=first(r.get("doi")), pmid=first(r.get("pubmed_id")),
        keywords=_split_semicolons(r.get("author_keywords")) + _split_semicolons(r.get("keywords_plus")),
        type=first(r.get("document_type"), r.get("publication_type")),
        url=None, database="Web of Science", id=None)


# ---------------------------------------------------------------------------------------------
# PubMed MEDLINE

_MEDLINE_LINE = re.compile(r"^([A-Z][A-Z0-9]{0,3}) {0,3}- ?(.*)$")
_MEDLINE_LIST = {"FAU", "AU", "MH", "OT", "PT", "AID", "LID", "IS"}


def read_medline(path: Path, encoding: str, *, file: str, problems: list[Problem],
                 progress: Callable[[int], None] | None = None) -> Iterator[RawRecord]:
    """PubMed MEDLINE records: each starts with ``PMID-``; blank lines separate them."""
    record: dict[str, list[str]] | None = None
    start = 0
    last_tag = None
    for n, line in iter_lines(path, encoding, progress):
        if not line.strip():
            if record is not None:
                yield _medline_raw(record, start)
                record, last_tag = None, None
            continue
        if line.startswith("      ") and record is not None and last_tag is not None:
            record[last_tag][-1] += " " + line.strip()
            continue
        m = _MEDLINE_LINE.match(line) if line[4:6] == "- " or line[4:5] == "-" else None
        if not m:
            problems.append(Problem(file, n, "not a MEDLINE line (a tag of up to 4 letters padded to "
                                             "4 characters, '- ', the value)"))
            continue
        tag, content = m.group(1), m.group(2).strip()
        if record is None:
            if tag != "PMID":
                problems.append(Problem(file, n, f"tag {tag} before PMID (each MEDLINE record starts "
                                                 "with a PMID line)", tag))
                continue
            record, start = {}, n
        elif tag == "PMID" and "PMID" in record:
            yield _medline_raw(record, start)
            record, start = {}, n
        record.setdefault(tag, []).append(content)
        last_tag = tag
    if record is not None:
        yield _medline_raw(record, start)


def _medline_raw(r: dict[str, list[str]], line: int) -> RawRecord:
    def one(tag):
        v = r.get(tag)
        return v[0] if v else None

    doi = None
    for tag in ("AID", "LID"):
        for v in r.get(tag, []):
            if v.endswith("[doi]"):
                doi = v[:-5].strip()
                break
        if doi:
            break
    return RawRecord(
        line=line, title=one("TI") or one("BTI"), abstract=" ".join(r.get("AB", [])) or None,
        authors=r.get("FAU") or r.get("AU") or [], year=one("DP"), year_field="DP",
        journal=one("JT") or one("TA"), volume=one("VI"), issue=one("IP"), pages=one("PG"), doi=doi,
        pmid=one("PMID"), keywords=r.get("OT", []) + [m.lstrip("*") for m in r.get("MH", [])],
        type=one("PT"), url=None, database="PubMed")
