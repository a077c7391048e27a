"""Importing bibliographic exports: RIS, BibTeX, PubMed MEDLINE, EndNote XML, Web of Science plain
text, CSV and XLSX.

:func:`import_files` reads several files into one list of :class:`~whatworks.review.records.Record`,
each keeping its source (database, file, import batch, line) for the PRISMA counts. A file imports
all-or-nothing: if anything in it cannot be read, nothing from it is kept and
:class:`RecordImportError` lists every problem (file, line, field, reason). Fields that are read but
not understood (a year such as ``"10 15"``) are left empty and reported as warnings in the file's
:class:`ImportReport`.

The format is detected from the content (the extension decides only between CSV/TSV and XLSX), and
the text encoding from the bytes (:func:`detect_encoding`: UTF-8 with or without BOM, UTF-16, else
Windows-1252/latin-1). Text formats are read line by line, so memory grows with the records kept,
not with the file; a progress bar on the terminal follows the bytes read.

Which parser reads what (and why our own where there is one):

=============  ===============================================================================
format         parser
=============  ===============================================================================
ris            rispy's ``RisParser`` (tag tables, list tags), driven line by line by us
wos            rispy's ``WokParser`` tag table, driven by us (Web of Science plain text)
medline        our own: no maintained, light parser exists (see ``_tagged``)
bibtex         bibtexparser 2
endnote-xml    defusedxml (safe against entity expansion), EndNote's element names
csv / xlsx     pandas / openpyxl, columns matched by :data:`COLUMN_SYNONYMS` (also Web of
               Science's tab-delimited export, by its two-letter column tags)
=============  ===============================================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whatworks._results import Result
from whatworks.errors import InputError, ParameterError

from ..records import Record, to_frame
from ._base import ENCODINGS, Problem, RecordImportError, detect_encoding, to_record
from ._structured import COLUMN_SYNONYMS, read_bibtex, read_endnote_xml, read_table_records
from ._tagged import read_medline, read_ris, read_wos

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["COLUMN_SYNONYMS", "ENCODINGS", "FORMATS", "ImportReport", "ImportResult", "Problem",
           "RecordImportError", "detect_encoding", "detect_format", "import_files", "read_file",
           "read_records_table", "write_records"]

_READERS = {"ris": read_ris, "wos": read_wos, "medline": read_medline, "bibtex": read_bibtex,
            "endnote-xml": read_endnote_xml, "csv": read_table_records, "xlsx": read_table_records}
#: The formats :func:`read_file` understands (``format=`` and ``--format`` take these names).
FORMATS = tuple(_READERS)
#: The database a format implies when the records do not name one.
_DEFAULT_DATABASE = {"wos": "Web of Science", "medline": "PubMed"}

_RIS_TAG = re.compile(r"^\ufeff?[A-Z][A-Z0-9](?:  |[ ]?\t[ ]?)-(?:[ \t]|$)")


def detect_format(path: str | Path, encoding: str | None = None) -> str:
    """The format of an export, from its extension (xlsx, csv, tsv) or its first lines."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".csv", ".tsv", ".tab"):
        return "csv"
    encoding = encoding or detect_encoding(path)
    lines = []
    with open(path, encoding=encoding, errors="replace") as fh:
        for line in fh:
            line = line.lstrip("\ufeff").rstrip("\r\n")
            if line.strip():
                lines.append(line)
            if len(lines) >= 40:
                break
    if not lines:
        raise InputError("the file is empty; export the records again", file=str(path))
    head = lines[0].lstrip()
    if head.startswith(("<?xml", "<xml", "<records")):
        return "endnote-xml"
    if head.startswith("PMID-") or head.startswith("PMID -"):
        return "medline"
    if re.match(r"^(FN |VR |PT [A-Z]\s*$)", lines[0]):
        return "wos"
    if lines[0].count("\t") >= 2 and not _RIS_TAG.match(lines[0]):
        return "csv"  # a tab-delimited table, e.g. Web of Science's "Tab-delimited file" export
    if any(re.match(r"^\s*@\w+\s*[{(]", ln) for ln in lines):
        return "bibtex"
    if any(_RIS_TAG.match(ln) and ln.lstrip("\ufeff").startswith("TY") for ln in lines):
        return "ris"
    if sum(1 for ln in lines if _RIS_TAG.match(ln)) >= 2:
        return "ris"
    raise InputError("cannot tell the format from the first lines (RIS starts with 'TY  - ', MEDLINE "
                     "with 'PMID- ', BibTeX with '@article{', Web of Science with 'FN ' or 'PT J', "
                     "EndNote XML with '<?xml'); give the format (one of "
                     f"{', '.join(FORMATS)})", file=str(path), row=None)


@dataclass(frozen=True, repr=False)
class ImportReport(Result):
    """What happened to one file: its format, encoding, database, batch, the number of records
    imported, and the warnings (fields left empty because they could not be understood)."""

    file: str
    format: str
    encoding: str | None
    database: str | None
    import_batch: str
    n_records: int
    warnings: tuple[Problem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.format, "encoding": self.encoding,
                "database": self.database, "import_batch": self.import_batch,
                "n_records": self.n_records, "warnings": [w.to_dict() for w in self.warnings]}

    def summary_text(self) -> str:
        w = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        return f"{self.file}: {self.n_records} records ({self.format}, {self.encoding}{w})"


@dataclass(frozen=True, repr=False)
class ImportResult(Result):
    """Records from one or more files, and one :class:`ImportReport` per file."""

    records: tuple[Record, ...]
    reports: tuple[ImportReport, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        return to_frame(self.records)

    def to_dict(self) -> dict[str, Any]:
        return {"n_records": len(self.records), "by_database": self.counts_by_database(),
                "files": [r.to_dict() for r in self.reports]}

    def counts_by_database(self) -> dict[str, int]:
        """Records per source database (for the PRISMA flow diagram's identification box)."""
        out: dict[str, int] = {}
        for r in self.records:
            key = r.source_database or "(not given)"
            out[key] = out.get(key, 0) + 1
        return out

    def summary_text(self) -> str:
        lines = [rep.summary_text() for rep in self.reports]
        lines.append(f"total: {len(self.records)} records from {len(self.reports)} file(s)")
        return "\n".join(lines)


def read_file(path: str | Path, *, format: str | None = None, encoding: str | None = None,
              database: str | None = None, import_batch: str | None = None,
              id_prefix: str | None = None, start: int = 1, progress: bool = False,
              ) -> tuple[list[Record], ImportReport]:
    """Read one export, all-or-nothing.

    Parameters
    ----------
    path : the file.
    format : one of :data:`FORMATS`; detected when ``None``.
    encoding : a Python codec name; detected when ``None``.
    database : the source database for records that do not name one (e.g. ``"Embase"``).
    import_batch : a label for this import (default: the file name); kept on every record.
    id_prefix, start : record ids are ``f"{id_prefix}{n}"`` for n = start, start + 1, ... (default
        prefix ``"R"``); tables with an id column keep their own ids.
    progress : draw a progress bar on the terminal.

    Raises
    ------
    RecordImportError
        If anything in the file cannot be read; ``.problems`` lists each (file, line, reason).
    """
    p = Path(path)
    label = str(path)
    if not p.exists():
        raise InputError("no such file; check the path", file=label)
    if p.is_dir():
        raise InputError("is a folder, not an export file", file=label)
    if format is not None and format not in _READERS:
        raise ParameterError("format", format, ", ".join(FORMATS))
    if encoding is not None:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ParameterError("encoding", encoding, "a codec name such as "
                                 + ", ".join(ENCODINGS)) from None
    fmt = format
    if fmt not in ("xlsx",):
        encoding = encoding or detect_encoding(p)
    fmt = fmt or detect_format(p, encoding)
    batch = import_batch or p.name
    problems: list[Problem] = []
    warnings: list[Problem] = []
    records: list[Record] = []
    advance, close = (lambda n=1: None), (lambda: None)
    if progress:
        from whatworks._progress import progress_callback

        advance, close = progress_callback(p.stat().st_size, f"reading {p.name}")
    default_db = database or _DEFAULT_DATABASE.get(fmt)
    prefix = "R" if id_prefix is None else id_prefix
    kwargs: dict[str, Any] = {"kind": fmt} if fmt in ("csv", "xlsx") else {}
    if fmt == "ris":
        kwargs["warnings"] = warnings
    try:
        reader = _READERS[fmt](p, encoding, file=label, problems=problems, progress=advance, **kwargs)
        n = start
        for raw in reader:
            records.append(to_record(raw, record_id=f"{prefix}{n}", file=label, batch=batch,
                                     database=default_db, warnings=warnings))
            n += 1
    except UnicodeDecodeError as exc:
        problems.append(Problem(label, None, f"the text is not {encoding} ({exc.reason}); save the "
                                             "export as UTF-8 or give the encoding"))
    finally:
        close()
    if not problems and not records:
        problems.append(Problem(label, None, f"no records found in this {fmt} file"))
    if problems:
        raise RecordImportError(problems)
    if len({r.id for r in records}) != len(records):
        raise RecordImportError([Problem(label, None, "record ids are not unique")])
    report = ImportReport(file=label, format=fmt, encoding=encoding, database=default_db,
                          import_batch=batch, n_records=len(records), warnings=tuple(warnings))
    return records, report


def import_files(paths: Iterable[str | Path] | str | Path, *, format: str | None = None,
                 encoding: str | None = None, database: str | None = None,
                 import_batch: str | None = None, progress: bool = False) -> ImportResult:
    """Read several exports into one list of records (ids ``R1``, ``R2``, ... across the files).

    Each file is all-or-nothing; if any file fails, :class:`RecordImportError` lists the problems
    of every file that failed and nothing is returned.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise ParameterError("paths", paths, "one or more files")
    records: list[Record] = []
    reports: list[ImportReport] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            recs, rep = read_file(path, format=format, encoding=encoding, database=database,
                                  import_batch=import_batch, start=len(records) + 1,
                                  progress=progress)
        except RecordImportError as exc:
            problems.extend(exc.problems)
            continue
        records.extend(recs)
        reports.append(rep)
    if problems:
        raise RecordImportError(problems)
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        bad = [r for r in records if r.id == dup][-1]
        raise RecordImportError([Problem(bad.source_file or "?", bad.source_line,
                                         f"record id {dup!r} is used in more than one file; ids must "
                                         "be unique across the files imported together", "id",
                                         unit="row")])
    return ImportResult(records=tuple(records), reports=tuple(reports))


def write_records(records: Sequence[Record], path: str | Path) -> None:
    """Write records as CSV (the columns of :data:`whatworks.review.records.COLUMNS`)."""
    to_frame(records).to_csv(path, index=False)


def read_records_table(path: str | Path) -> list[Record]:
    """Read a records table: the CSV :func:`write_records` (``review import``) writes, or any CSV/XLSX
    with a title or abstract column (matched by :data:`COLUMN_SYNONYMS`).

    A records CSV keeps its provenance columns (``source_file``, ``import_batch``, ``source_line``)
    as written; other tables get this file as their source.
    """
    p = Path(path)
    kind = "xlsx" if p.suffix.lower() in (".xlsx", ".xlsm") else "csv"
    recs, _ = read_file(p, format=kind)
    if kind == "csv":
        import pandas as pd

        header = pd.read_csv(p, nrows=0, encoding=detect_encoding(p)).columns
        keep = [c for c in ("source_file", "import_batch", "source_line") if c in header]
        if keep:
            extra = pd.read_csv(p, usecols=keep, dtype=str, keep_default_na=False,
                                encoding=detect_encoding(p))
            out = []
            for k, r in enumerate(recs):
                changes: dict[str, Any] = {}
                for c in keep:
                    v = str(extra[c].iat[k]).strip() or None
                    if c == "source_line" and v is not None:
                        try:
                            v = int(float(v))
                        except ValueError:
                            raise RecordImportError([Problem(str(path), k + 1, f"{v!r} is not a line "
                                                             "number", "source_line", unit="row")]
                                                    ) from None
                    changes[c] = v
                out.append(r.with_(**changes))
            recs = out
    return recs
