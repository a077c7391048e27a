"""What every reader shares: problems, errors, raw records, text decoding and field clean-up."""

from __future__ import annotations

import codecs
import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whatworks.errors import InputError

from ..records import Record


@dataclass(frozen=True)
class Problem:
    """Something a reader could not read (fatal) or had to leave out (a warning).

    ``line`` is the 1-based line of the file (or the 1-based data row of a table, when ``unit`` is
    ``"row"``); ``field`` names the tag or column, when there is one.
    """

    file: str
    line: int | None
    reason: str
    field: str | None = None
    unit: str = "line"

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"{self.unit} {self.line}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, self.unit: self.line, "field": self.field, "reason": self.reason}


class RecordImportError(InputError):
    """A file could not be imported; nothing from it was kept (imports are all-or-nothing).

    ``problems`` lists everything that could not be read; the message shows the first.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        first = self.problems[0]
        more = len(self.problems) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''} in this file)" if more else ""
        Exception.__init__(self, f"{first}{tail}; nothing was imported from this file")
        self.file, self.row, self.column = first.file, first.line, first.field


@dataclass
class RawRecord:
    """Fields as one reader found them, before clean-up into a :class:`Record`."""

    line: int
    title: str | None = None
    abstract: str | None = None
    authors: list[str] = field(default_factory=list)
    year: str | None = None
    journal: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmid: str | None = None
    keywords: list[str] = field(default_factory=list)
    type: str | None = None
    url: str | None = None
    database: str | None = None
    id: str | None = None
    year_field: str = "year"
    unit: str = "line"
    year_line: int | None = None


# ---------------------------------------------------------------------------------------------
# encodings

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1")


def detect_encoding(path: Path, *, sample: int = 1 << 16) -> str:
    """The encoding of a text file: a BOM if there is one, else UTF-16 by its zero bytes, else
    UTF-8 if the whole file decodes as UTF-8, else Windows-1252 (latin-1 for bytes it leaves
    undefined).

    Checking the whole file for UTF-8 (in 1 MB chunks, by the incremental decoder) is what makes
    the choice safe: a latin-1 file is almost never valid UTF-8 beyond its first accented letter.
    """
    with open(path, "rb") as fh:
        head = fh.read(sample)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if len(head) >= 4:
            even, odd = head[0::2], head[1::2]
            if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
                return "utf-16-le"
            if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
                return "utf-16-be"
        decoder = codecs.getincrementaldecoder("utf-8")()
        chunk = head
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = fh.read(1 << 20)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    with open(path, "rb") as fh:
        try:
            for block in iter(lambda: fh.read(1 << 20), b""):
                block.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"


def iter_lines(path: Path, encoding: str, progress: Callable[[int], None] | None = None
               ) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` pairs with line endings removed (CR LF, LF or CR), 1-based."""
    with open(path, encoding=encoding, newline=None) as fh:
        last = 0
        for i, line in enumerate(fh, 1):
            if progress is not None and i % 2000 == 0:
                pos = fh.buffer.tell()
                progress(pos - last)
                last = pos
            if i == 1 and line.startswith("\ufeff"):
                line = line[1:]
            yield i, line.rstrip("\n")
        if progress is not None:
            progress(max(0, path.stat().st_size - last))


# ---------------------------------------------------------------------------------------------
# clean-up of single fields

_SPACE = re.compile(r"\s+")
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_TAGS = re.compile(r"<[^>]{1,40}>")


def clean_text(value: str | None) -> str | None:
    """Whitespace collapsed, HTML entities decoded; ``None`` for empty text."""
    if value is None:
        return None
    s = str(value)
    if "&" in s:
        s = html.unescape(s)
    s = _SPACE.sub(" ", s).strip()
    return s or None


def parse_year(value: str | None) -> int | None:
    """The first plausible four-digit year (1500-2099) in a date or year field, else ``None``."""
    if not value:
        return None
    m = _YEAR.search(str(value))
    return int(m.group(1)) if m else None


def find_doi(value: str | None) -> str | None:
    """A DOI as exported (``10.xxxx/...``), taken out of a URL or a ``doi:`` prefix if needed."""
    if not value:
        return None
    m = _DOI.search(str(value))
    if not m:
        return None
    return m.group(0).rstrip(".,;")


def to_record(raw: RawRecord, *, record_id: str, file: str, batch: str, database: str | None,
              warnings: list[Problem]) -> Record:
    """Clean a reader's raw fields into a :class:`Record`; an unreadable year becomes a warning."""
    year = parse_year(raw.year)
    if raw.year and year is None and clean_text(raw.year):
        warnings.append(Problem(file, raw.year_line or raw.line,
                                f"year {raw.year.strip()!r} is not a year; left empty",
                                raw.year_field, unit=raw.unit))
    authors = tuple(a for a in (clean_text(x) for x in raw.authors) if a)
    keywords = tuple(k for k in (clean_text(x) for x in raw.keywords) if k)
    doi = find_doi(raw.doi)
    pmid = clean_text(raw.pmid)
    if pmid is not None and not pmid.isdigit():
        digits = re.search(r"\d{1,9}", pmid)
        pmid = digits.group(0) if digits else None
    return Record(
        id=raw.id or record_id, title=clean_text(raw.title), abstract=clean_text(raw.abstract),
        authors=authors, year=year, journal=clean_text(raw.journal), volume=clean_text(raw.volume),
        issue=clean_text(raw.issue), pages=clean_text(raw.pages), doi=doi, pmid=pmid,
        keywords=keywords, type=clean_text(raw.type), url=clean_text(raw.url),
        source_database=clean_text(raw.database) or database, source_file=file, import_batch=batch,
        source_line=raw.line)


def join_pages(start: str | None, end: str | None) -> str | None:
    start, end = clean_text(start), clean_text(end)
    if start and end and end != start:
        return f"{start}-{end}"
    return start or end


def first(*values):
    """The first value that is not empty."""
    for v in values:
        if isinstance(v, list):
            v = v[0] if v else None
        if v not in (None, ""):
            return v
    return None
