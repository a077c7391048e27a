"""The bibliographic record shared by import, deduplication and screening.

A :class:`Record` is one reference as a database exported it: the bibliographic fields, and where
it came from (``source_database``, ``source_file``, ``import_batch``, ``source_line``) so that the
PRISMA flow diagram can count records per database and every decision can be traced back to the
line of the export it was read from.

Records travel between steps as a pandas DataFrame with the columns :data:`COLUMNS`
(:func:`to_frame`, :func:`from_frame`); lists (authors, keywords) are joined with ``"; "`` in
tables and CSV files (:data:`LIST_SEPARATOR`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["COLUMNS", "LIST_FIELDS", "LIST_SEPARATOR", "Record", "from_frame", "to_frame"]

#: How list fields (authors, keywords) are joined in tables and CSV files.
LIST_SEPARATOR = "; "


@dataclass(frozen=True, slots=True)
class Record:
    """One bibliographic record and its provenance.

    Text fields are ``None`` when the export did not give them (never the empty string); ``authors``
    and ``keywords`` are tuples in the order exported; ``year`` is an ``int`` or ``None``.
    """

    id: str
    title: str | None = None
    abstract: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    journal: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmid: str | None = None
    keywords: tuple[str, ...] = ()
    type: str | None = None
    url: str | None = None
    source_database: str | None = None
    source_file: str | None = None
    import_batch: str | None = None
    source_line: int | None = None

    def with_(self, **changes: Any) -> Record:
        """A copy with some fields changed (records are frozen)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["authors"] = list(self.authors)
        d["keywords"] = list(self.keywords)
        return d

    @property
    def completeness(self) -> int:
        """How many bibliographic fields are filled (used to keep the most complete of duplicates)."""
        return sum(1 for name in BIBLIOGRAPHIC_FIELDS if getattr(self, name) not in (None, ()))


#: The columns of a records table, in order (the :class:`Record` fields).
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Record))
#: Fields that hold several values.
LIST_FIELDS = ("authors", "keywords")
#: Fields describing the work (not its provenance).
BIBLIOGRAPHIC_FIELDS = ("title", "abstract", "authors", "year", "journal", "volume", "issue", "pages",
                        "doi", "pmid", "keywords", "type", "url")


def to_frame(records) -> pd.DataFrame:
    """Records as a DataFrame with the columns :data:`COLUMNS` (lists joined with ``"; "``)."""
    import pandas as pd

    rows = []
    for r in records:
        row = [getattr(r, name) for name in COLUMNS]
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for name in LIST_FIELDS:
        frame[name] = [LIST_SEPARATOR.join(v) if v else None for v in frame[name]]
    frame["year"] = frame["year"].astype("Int64")
    frame["source_line"] = frame["source_line"].astype("Int64")
    return frame


def _text(value) -> str | None:
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    s = str(value).strip()
    return s or None


def from_frame(frame: pd.DataFrame) -> list[Record]:
    """Records from a DataFrame with (some of) the columns :data:`COLUMNS`.

    ``id`` is required and must be unique; other missing columns are left empty. The frame is
    assumed to be checked already (``whatworks.review.io.read_records_table`` does so with errors
    naming the row and column).
    """
    out = []
    cols = [c for c in COLUMNS if c in frame.columns]
    for row in frame[cols].itertuples(index=False, name=None):
        values = dict(zip(cols, row, strict=True))
        kw: dict[str, Any] = {}
        for name in COLUMNS:
            v = _text(values.get(name))
            if name in LIST_FIELDS:
                kw[name] = tuple(p.strip() for p in v.split(";") if p.strip()) if v else ()
            elif name in ("year", "source_line"):
                kw[name] = int(float(v)) if v is not None else None
            else:
                kw[name] = v
        out.append(Record(**kw))
    return out
