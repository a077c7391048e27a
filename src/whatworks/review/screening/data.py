"""Reading a labelled or unlabelled set of records for screening (title, abstract, label_included).

A small loader on pandas: the import formats (RIS, BibTeX, ...) live in ``whatworks.review.io``;
this reads the plain CSV that a simulation replays. Bad input raises
:class:`~whatworks.errors.InputError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from whatworks.errors import InputError

__all__ = ["Records", "load_records"]

TEXT_COLUMNS = ("title", "abstract")
LABEL_COLUMN = "label_included"


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


def _line_of_row(path: Path, row: int) -> int:
    """The physical line (1-based) where data row ``row`` (0-based) starts; quoted fields may span lines."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        line = 1
        for i, _ in enumerate(reader):
            if i == row + 1:  # row 0 is the header
                return line
            line = reader.line_num + 1
    return line


def load_records(path: str | Path, *, require_labels: bool = True) -> Records:
    """Read a CSV with columns ``title``, ``abstract`` and (if ``require_labels``) ``label_included``.

    Column names are matched case-insensitively; missing titles or abstracts are read as empty text.
    Labels must be 0 or 1 on every row (a blank label is an error: a simulation needs every answer).
    """
    import pandas as pd

    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputError("no such file; give the path of a CSV with columns title, abstract, "
                         "label_included", file=name)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"line {_line_of_byte(path, exc.start)}: not UTF-8 text; save the file as "
                         "UTF-8", file=name) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV ({str(exc).strip().splitlines()[0]})", file=name) from exc
    columns = {c.strip().lower(): c for c in frame.columns}
    needed = [*TEXT_COLUMNS, LABEL_COLUMN] if require_labels else list(TEXT_COLUMNS)
    have_text = [c for c in TEXT_COLUMNS if c in columns]
    if not have_text:
        raise InputError(f"line 1: no column 'title' or 'abstract'; the columns are "
                         f"{', '.join(frame.columns)}", file=name, column="title")
    if require_labels and LABEL_COLUMN not in columns:
        raise InputError(f"line 1: no column '{LABEL_COLUMN}' (1 = included, 0 = excluded); the "
                         f"columns are {', '.join(frame.columns)}", file=name, column=LABEL_COLUMN)
    del needed
    n = len(frame)
    titles = frame[columns["title"]].tolist() if "title" in columns else [""] * n
    abstracts = frame[columns["abstract"]].tolist() if "abstract" in columns else [""] * n
    labels = None
    if LABEL_COLUMN in columns:
        raw = frame[columns[LABEL_COLUMN]].str.strip()
        mapped = raw.map({"1": 1, "0": 0, "1.0": 1, "0.0": 0})
        bad = np.flatnonzero(mapped.isna().to_numpy())
        if bad.size:
            row = int(bad[0])
            raise InputError(f"line {_line_of_row(path, row)}: label {raw.iloc[row]!r} is not 0 or 1 "
                             f"({bad.size} such row{'s' if bad.size > 1 else ''}); give 1 for included, "
                             "0 for excluded", file=name, column=columns[LABEL_COLUMN])
        labels = mapped.to_numpy(dtype=np.int8)
    if n == 0:
        raise InputError("line 2: no records after the header", file=name)
    return Records(tuple(titles), tuple(abstracts), labels, name)


def _line_of_byte(path: Path, offset: int) -> int:
    with path.open("rb") as fh:
        return fh.read(offset).count(b"\n") + 1
