"""Reading a labelled or unlabelled set of records for screening (title, abstract, label_included).

A small loader on the standard library's ``csv`` module (pandas would add 0.4 s of import to every
simulation process, a tenth of a whole one): the import formats (RIS, BibTeX, ...) live in
``whatworks.review.io``; this reads the plain CSV that a simulation replays. Bad input raises
:class:`~whatworks.errors.InputError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from whatworks.errors import InputError

__all__ = ["DETAIL_COLUMNS", "RecordIds", "Records", "RowNumbers", "csv_rows", "decode_csv",
           "kept_flag", "load_records", "load_records_with_ids", "record_details", "row_id"]

TEXT_COLUMNS = ("title", "abstract")
LABEL_COLUMN = "label_included"
#: Columns that name a record, first found wins: ``id`` (``whatworks review import`` writes it) and
#: ``record_id`` (ASReview's and the SYNERGY datasets' name for it).
ID_COLUMNS = ("id", "record_id")
#: The column ``whatworks review dedup --format csv`` writes: False on a record removed as a
#: duplicate of another (named in ``duplicate_of``). Screening leaves those records out.
KEPT_COLUMN = "kept"
DUPLICATE_OF_COLUMN = "duplicate_of"
#: A records table's columns for records removed before screening (PRISMA 2020's "records removed
#: for other reasons" and "marked as ineligible by automation tools"): ``removed`` holds the reason
#: (blank: not removed), ``removed_by`` is ``automation`` or blank (a person, by a filter).
REMOVED_COLUMN = "removed"
REMOVED_BY_COLUMN = "removed_by"
REMOVED_BY_VALUES = ("", "person", "automation")
TRUE_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class RecordIds(list):
    """The ids of the records to screen, in table order. ``left_out`` maps the id of each record
    left out as a duplicate (``kept`` False in the records table) to the id it duplicates (or "");
    ``removed`` maps the id of each record removed before screening to the reason."""

    def __init__(self, ids=(), left_out: dict[str, str] | None = None,
                 removed: dict[str, str] | None = None):
        super().__init__(ids)
        self.left_out = dict(left_out or {})
        self.removed = dict(removed or {})


class RowNumbers(RecordIds):
    """Record ids that are the records' 1-based row numbers, as text: a records file with no id
    column gets these, so messages can say so (a file whose own ids happen to be 1..n does not)."""


def row_id(row: list[str], iid: int | None, number: int, line: int, seen: dict[str, int],
           name: str, header: list[str]) -> str:
    """A record's id: the value of its id column (index ``iid``), else its row ``number`` as text.
    A blank id, or one already in ``seen`` (id -> line, updated here), is an :class:`InputError`
    naming the file, the line and the column."""
    if iid is None:
        return str(number)
    rid = row[iid].strip()
    if not rid:
        raise InputError(f"line {line}: the record has no id; every record needs one", file=name,
                         column=header[iid])
    if rid in seen:
        raise InputError(f"line {line}: id {rid!r} is also the id of the record on line "
                         f"{seen[rid]}; ids must be unique", file=name, column=header[iid])
    seen[rid] = line
    return rid


def kept_flag(value: str, line: int, name: str, column: str) -> bool:
    """A ``kept`` cell as True/False (True, False, 1, 0, yes, no; any case); anything else is an
    :class:`InputError` naming the file, line and column."""
    flag = TRUE_WORDS.get(value.strip().lower())
    if flag is None:
        raise InputError(f"line {line}: kept is {value.strip()!r}; give True for a record to screen "
                         "and False for one removed as a duplicate (as `whatworks review dedup "
                         "--format csv` writes it)", file=name, column=column)
    return flag


@dataclass(frozen=True)
class Records:
    """Records to screen: their text and, when known, the reviewers' labels (1 included, 0 excluded)."""

    titles: tuple[str, ...]
    abstracts: tuple[str, ...]
    labels: np.ndarray | None
    source: str | None = None

    def __len__(self) -> int:
        return len(self.titles)

    @property
    def texts(self) -> list[str]:
        """Title and abstract joined, the text the feature extractors read."""
        return [f"{t} {a}".strip() for t, a in zip(self.titles, self.abstracts, strict=True)]

    @classmethod
    def from_lists(cls, titles, abstracts, labels=None, source: str | None = None) -> Records:
        titles = tuple("" if t is None else str(t) for t in titles)
        abstracts = tuple("" if a is None else str(a) for a in abstracts)
        if len(titles) != len(abstracts):
            raise InputError(f"{len(titles)} titles but {len(abstracts)} abstracts", file=source)
        lab = None
        if labels is not None:
            lab = np.asarray(labels, dtype=np.int8)
            if lab.shape != (len(titles),) or not np.isin(lab, (0, 1)).all():
                raise InputError("labels must be one 0 or 1 per record", file=source,
                                 column=LABEL_COLUMN)
        return cls(titles, abstracts, lab, source)


def load_records(path: str | Path, *, require_labels: bool = True) -> Records:
    """Read a CSV with columns ``title``, ``abstract`` and (if ``require_labels``) ``label_included``.

    Column names are matched case-insensitively; missing titles or abstracts are read as empty text,
    blank lines are skipped, and a row shorter than the header is padded with empty fields.
    Labels must be 0 or 1 on every row (a blank label is an error: a simulation needs every answer).
    """
    return _load(path, require_labels=require_labels)[0]


def csv_rows(reader, width: int, name: str, column: str | None = None):
    """The rows of a ``csv.reader`` after its header, each as ``(line, row)``: blank lines skipped,
    short rows padded with empty fields to ``width``; a row longer than the header is an
    :class:`InputError` naming the file and line (and ``column``, if given)."""
    line = reader.line_num + 1  # where the next row starts
    for row in reader:
        if not row:
            line = reader.line_num + 1
            continue
        if len(row) > width:
            raise InputError(f"line {line}: {len(row)} fields but the header has {width}; quote "
                             "fields that contain commas", file=name, column=column)
        yield line, row + [""] * (width - len(row))
        line = reader.line_num + 1


def load_records_with_ids(path: str | Path) -> tuple[Records, list[str]]:
    """Read records to screen (see :func:`load_records`) and their ids; any labels are ignored.

    A record's id is its ``id`` column (the records table ``whatworks review import`` writes has
    one), else its ``record_id`` column (ASReview's exports and the SYNERGY datasets), else its
    1-based row number as text. A blank or repeated id is an
    error naming the file, the line and the column.
    """
    return _load(path, require_labels=False, ids=True)


#: What a screener sees besides title and abstract, when the records table has it (the columns
#: ``whatworks review import`` writes).
DETAIL_COLUMNS = ("authors", "year", "journal", "doi", "keywords")


def record_details(path: str | Path, columns: tuple[str, ...] = DETAIL_COLUMNS) -> list[dict[str, str]]:
    """Per record (in table order), the non-blank values of ``columns`` the records table has
    (names matched case-insensitively); for showing a record to a screener. Read after
    :func:`load_records_with_ids` has checked the file, so it reads the same rows."""
    import io

    name = str(path)
    reader = csv.reader(io.StringIO(decode_csv(path, expect="records"), newline=""))
    header = [h.strip().lower() for h in next((row for row in reader if row), [])]
    wanted = [(c, header.index(c)) for c in columns if c in header]
    ik = header.index(KEPT_COLUMN) if KEPT_COLUMN in header else None
    ir = header.index(REMOVED_COLUMN) if REMOVED_COLUMN in header else None
    return [{c: row[j].strip() for c, j in wanted if row[j].strip()}
            for line, row in csv_rows(reader, len(header), name)
            if (ik is None or kept_flag(row[ik], line, name, KEPT_COLUMN))
            and (ir is None or not row[ir].strip())]


def decode_csv(path: str | Path, *, expect: str) -> str:
    """A CSV file's text (UTF-8, with or without a byte-order mark).

    Text that is not UTF-8 is an error naming the file, the line and the column (the header's name
    for the field holding the first undecodable byte). ``expect`` says what the file should hold.
    """
    import io

    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError(f"no such file; give the path of a CSV with {expect}", file=name)
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        column = None
        try:  # name the field: parse with the bad bytes kept as surrogates
            rows = csv.reader(io.StringIO(raw.decode("utf-8", "surrogateescape"), newline=""))
            header = next(rows, [])
            for row in [header, *rows]:
                bad = [j for j, f in enumerate(row) if any("\udc80" <= c <= "\udcff" for c in f)]
                if bad:
                    j = bad[0]
                    column = header[j].strip() if row is not header and j < len(header) else (
                        f"field {j + 1}" if row is not header else f"header field {j + 1}")
                    break
        except csv.Error:
            pass
        raise InputError(f"line {line}: not UTF-8 text; save the file as UTF-8", file=name,
                         column=column) from exc


def _load(path: str | Path, *, require_labels: bool, ids: bool = False):
    import io

    path = Path(path)
    name = str(path)
    text = decode_csv(path, expect="columns title, abstract"
                      + (", label_included" if require_labels else ""))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next((row for row in reader if row), None)
        if header is None:
            raise InputError("not a readable CSV (the file is empty)", file=name)
        header = [h.strip() for h in header]
        columns = {c.lower(): i for i, c in reversed(list(enumerate(header)))}
        have_text = [c for c in TEXT_COLUMNS if c in columns]
        if not have_text:
            raise InputError(f"line 1: no column 'title' or 'abstract'; the columns are "
                             f"{', '.join(header)}", file=name, column="title")
        if require_labels and LABEL_COLUMN not in columns:
            raise InputError(f"line 1: no column '{LABEL_COLUMN}' (1 = included, 0 = excluded); the "
                             f"columns are {', '.join(header)}", file=name, column=LABEL_COLUMN)
        width = len(header)
        it, ia, il = (columns.get(c) for c in (*TEXT_COLUMNS, LABEL_COLUMN))
        iid = next((columns[c] for c in ID_COLUMNS if c in columns), None) if ids else None
        ik = columns.get(KEPT_COLUMN) if ids else None  # screening leaves duplicates out
        idup = columns.get(DUPLICATE_OF_COLUMN)
        ir = columns.get(REMOVED_COLUMN) if ids else None  # and records removed before screening
        left_out: dict[str, str] = {}
        removed: dict[str, str] = {}
        row_number = 0
        if ids:  # screening reads the decisions from their own file, never from the records
            il = None
        titles: list[str] = []
        abstracts: list[str] = []
        labels: list[int] = []
        record_ids: list[str] = []
        seen: dict[str, int] = {}
        bad: list[tuple[int, str]] = []
        codes = {"1": 1, "0": 0, "1.0": 1, "0.0": 0}
        for line, row in csv_rows(reader, width, name):
            row_number += 1
            rid = row_id(row, iid, row_number, line, seen, name, header)
            if ik is not None and not kept_flag(row[ik], line, name, header[ik]):
                left_out[rid] = row[idup].strip() if idup is not None else ""
                continue
            if ir is not None and row[ir].strip():
                removed[rid] = " ".join(row[ir].split())
                continue
            titles.append(row[it] if it is not None else "")
            abstracts.append(row[ia] if ia is not None else "")
            record_ids.append(rid)
            if il is not None:
                value = row[il].strip()
                code = codes.get(value)
                if code is None:
                    bad.append((line, value))
                    code = 0
                labels.append(code)
    except csv.Error as exc:
        raise InputError(f"line {reader.line_num}: not a readable CSV ({exc})", file=name) from exc
    if bad:
        first, value = bad[0]
        raise InputError(f"line {first}: label {value!r} is not 0 or 1 ({len(bad)} such "
                         f"row{'s' if len(bad) > 1 else ''}); give 1 for included, 0 for excluded",
                         file=name, column=header[il])
    if not titles:
        if left_out or removed:
            raise InputError(f"every record is a duplicate (kept False: {len(left_out)}) or "
                             f"removed before screening ({len(removed)}); nothing is left to "
                             "screen", file=name, column=header[ik if ik is not None else ir])
        raise InputError("line 2: no records after the header", file=name)
    records = Records(tuple(titles), tuple(abstracts),
                      np.asarray(labels, dtype=np.int8) if il is not None else None,
                      name)
    if not ids:
        return records, None
    return records, (RecordIds if iid is not None else RowNumbers)(record_ids, left_out, removed)
