"""Structured formats: BibTeX (bibtexparser 2), EndNote XML (defusedxml) and tables (CSV with
pandas, XLSX with openpyxl) with column synonyms."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from ._base import Problem, RawRecord

# ---------------------------------------------------------------------------------------------
# BibTeX


def _latex_to_text(value: str | None) -> str | None:
    if value is None:
        return None
    s = value.replace("\\&", "&").replace("\\%", "%").replace("\\_", "_").replace("~", " ")
    s = s.replace("--", "-")
    return re.sub(r"[{}]", "", s)


def read_bibtex(path: Path, encoding: str, *, file: str, problems: list[Problem],
                progress: Callable[[int], None] | None = None) -> Iterator[RawRecord]:
    """BibTeX entries with bibtexparser 2 (``@string`` macros resolved, braces and the common LaTeX
    escapes removed); a block it cannot parse is a problem naming its first line."""
    import logging

    import bibtexparser

    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)  # we report failed blocks ourselves
    text = path.read_text(encoding=encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    library = bibtexparser.parse_string(text)
    if progress is not None:
        progress(path.stat().st_size)
    for block in library.failed_blocks:
        line = (block.start_line or 0) + 1
        error = getattr(block, "error", None)
        reason = str(getattr(error, "abort_reason", "") or error or "").strip().splitlines()
        detail = reason[-1].strip() if reason else "syntax error"
        problems.append(Problem(file, line, f"this BibTeX entry cannot be read ({detail}); check its "
                                            "braces and quotes"))
    for entry in library.entries:
        f = {k.lower(): v for k, v in entry.fields_dict.items()}

        def get(name, f=f):
            fld = f.get(name)
            return _latex_to_text(str(fld.value)) if fld is not None else None

        authors = get("author")
        yield RawRecord(
            line=(entry.start_line or 0) + 1, title=get("title"), abstract=get("abstract"),
            authors=[a.strip() for a in re.split(r"\s+and\s+", authors) if a.strip()] if authors else [],
            year=get("year") or get("date"), year_field="year",
            journal=get("journal") or get("journaltitle") or get("booktitle"),
            volume=get("volume"), issue=get("number") or get("issue"), pages=get("pages"),
            doi=get("doi"), pmid=get("pmid"),
            keywords=[k.strip() for k in re.split(r"[;,]", get("keywords") or "") if k.strip()],
            type=entry.entry_type, url=get("url"), database=None)


# ---------------------------------------------------------------------------------------------
# EndNote XML


def _text_of(el) -> str | None:
    if el is None:
        return None
    s = "".join(el.itertext()).strip()
    return s or None


def read_endnote_xml(path: Path, encoding: str, *, file: str, problems: list[Problem],
                     progress: Callable[[int], None] | None = None) -> Iterator[RawRecord]:
    """EndNote XML (``<xml><records><record>...``), parsed with defusedxml (no entity expansion,
    no external entities). The XML declares its own encoding, so the bytes go to the parser."""
    import xml.etree.ElementTree as ET

    from defusedxml.common import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser, ParseError

    starts: list[int] = []

    class _Builder(ET.TreeBuilder):
        def start(self, tag, attrs):
            if tag == "record":
                starts.append(parser.parser.CurrentLineNumber)
            return super().start(tag, attrs)

    parser = DefusedXMLParser(target=_Builder())
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                parser.feed(chunk)
                if progress is not None:
                    progress(len(chunk))
        root = parser.close()
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        problems.append(Problem(file, line, f"not well-formed XML ({getattr(exc, 'msg', exc)})"))
        return
    except DefusedXmlException as exc:
        problems.append(Problem(file, None, f"refused unsafe XML ({type(exc).__name__}); export the "
                                            "library again from EndNote"))
        return
    records = root.iter("record")
    for i, rec in enumerate(records):
        line = starts[i] if i < len(starts) else None
        authors = [_text_of(a) for a in rec.findall("./contributors/authors/author")]
        journal = (_text_of(rec.find("./titles/secondary-title"))
                   or _text_of(rec.find("./periodical/full-title")))
        ref_type = rec.find("ref-type")
        db = _text_of(rec.find("remote-database-name")) or _text_of(rec.find("remote-database-provider"))
        yield RawRecord(
            line=line or 1, title=_text_of(rec.find("./titles/title")),
            abstract=_text_of(rec.find("abstract")), authors=[a for a in authors if a],
            year=_text_of(rec.find("./dates/year")), year_field="year", journal=journal,
            volume=_text_of(rec.find("volume")), issue=_text_of(rec.find("number")),
            pages=_text_of(rec.find("pages")), doi=_text_of(rec.find("electronic-resource-num")),
            pmid=None,
            keywords=[k for k in (_text_of(k) for k in rec.findall("./keywords/keyword")) if k],
            type=ref_type.get("name") if ref_type is not None else None,
            url=_text_of(rec.find("./urls/related-urls/url")), database=db)


# ---------------------------------------------------------------------------------------------
# CSV / XLSX

def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


#: Column names (compared without case, spaces or punctuation) accepted for each record field.
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "record_id", "recordid", "key", "citation key", "ref id", "refid"),
    "title": ("title", "ti", "t1", "article title", "document title", "primary title", "titles"),
    "abstract": ("abstract", "ab", "n2", "abstract note", "abstracts", "abstract text"),
    "authors": ("authors", "author", "au", "author(s)", "author full names", "af", "a1",
                "first authors", "fau"),
    "year": ("year", "py", "publication year", "pubyear", "pub year", "date", "dp", "y1",
             "publication date"),
    "journal": ("journal", "source title", "so", "jo", "jf", "t2", "publication title", "journal title",
                "secondary title", "journal/book", "jt", "periodical"),
    "volume": ("volume", "vl", "vi", "vol"),
    "issue": ("issue", "is", "number", "ip", "no"),
    "pages": ("pages", "page", "pg", "page range", "page numbers", "bp", "start page"),
    "doi": ("doi", "di", "do", "digital object identifier"),
    "pmid": ("pmid", "pubmed id", "pubmedid", "pm", "pubmed"),
    "keywords": ("keywords", "kw", "de", "author keywords", "index keywords", "mesh terms",
                 "manual tags", "ot"),
    "type": ("type", "ty", "document type", "pt", "dt", "publication type", "item type",
             "reference type"),
    "url": ("url", "link", "ur", "links"),
    "database": ("source_database", "database", "db", "source", "name of database"),
}
_LOOKUP = {_key(s): name for name, syns in COLUMN_SYNONYMS.items() for s in syns}


def _split_list(value: str | None) -> list[str]:
    if not value:
        return []
    if ";" in value:
        return [p.strip() for p in value.split(";") if p.strip()]
    if " and " in value:
        return [p.strip() for p in value.split(" and ") if p.strip()]
    return [value.strip()]


def read_table_records(path: Path, encoding: str | None, *, file: str, problems: list[Problem],
                       progress: Callable[[int], None] | None = None, kind: str = "csv"
                       ) -> Iterator[RawRecord]:
    """Rows of a CSV/TSV (pandas) or an XLSX sheet (openpyxl), columns matched by
    :data:`COLUMN_SYNONYMS`. Row numbers count data rows from 1 (the header is row 0)."""
    import csv

    import pandas as pd

    try:
        if kind == "xlsx":
            frame = pd.read_excel(path, dtype=str, engine="openpyxl", keep_default_na=False)
        else:
            sep = "\t" if path.suffix.lower() in (".tsv", ".tab", ".txt") else None
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding=encoding,
                                engine="python" if sep is None else "c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError, KeyError,
            csv.Error) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        m = re.search(r"line (\d+)", msg)
        problems.append(Problem(file, int(m.group(1)) if m else None,
                                f"cannot read this {'spreadsheet' if kind == 'xlsx' else 'table'} "
                                f"({msg})"))
        return
    except Exception as exc:  # openpyxl raises its own and zipfile errors for a damaged .xlsx
        if kind != "xlsx":
            raise
        problems.append(Problem(file, None, f"not a readable .xlsx workbook ({type(exc).__name__}); "
                                            "save it again from Excel, or as CSV"))
        return
    if progress is not None:
        progress(path.stat().st_size)
    columns: dict[str, str] = {}
    for col in frame.columns:
        name = _LOOKUP.get(_key(col))
        if name is not None and name not in columns:
            columns[name] = col
    if "title" not in columns and "abstract" not in columns:
        problems.append(Problem(file, None, "no title or abstract column; the columns are "
                                            f"{', '.join(map(str, frame.columns))}. Name one 'title' "
                                            "(or TI, Title) or 'abstract' (or AB)", unit="row"))
        return
    seen: dict[str, int] = {}
    data = {name: frame[col].tolist() for name, col in columns.items()}
    for i in range(len(frame)):
        row = {name: (str(values[i]).strip() or None) for name, values in data.items()}
        rid = row.get("id")
        if rid is not None:
            if rid in seen:
                problems.append(Problem(file, i + 1, f"id {rid!r} is already used on row {seen[rid]}; "
                                                     "ids must be unique", columns["id"], unit="row"))
                continue
            seen[rid] = i + 1
        yield RawRecord(
            line=i + 1, id=rid, title=row.get("title"), abstract=row.get("abstract"),
            authors=_split_list(row.get("authors")), year=row.get("year"),
            year_field=columns.get("year", "year"), journal=row.get("journal"),
            volume=row.get("volume"), issue=row.get("issue"), pages=row.get("pages"),
            doi=row.get("doi"), pmid=row.get("pmid"), keywords=_split_list(row.get("keywords")),
            type=row.get("type"), url=row.get("url"), database=row.get("database"), unit="row")
