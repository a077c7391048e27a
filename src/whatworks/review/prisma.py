"""The PRISMA 2020 flow of records through a review: counts for every box of the flow diagram.

A review's files already hold the flow:

- the records table: one row per record imported, with its ``source_database``. After ``whatworks
  review dedup --format csv`` it also has ``kept`` and ``duplicate_of``. A ``removed`` column holds
  the reason a record was removed before screening, and ``removed_by`` says ``automation`` when a
  tool removed it;
- the title-and-abstract decisions (``whatworks review screen``'s file: ``id``, ``label``,
  ``source``);
- once full texts are assessed, a full-text decisions file: ``id``, ``decision`` (include, exclude
  or not retrieved), the ``reason`` for an exclusion and, optionally, the ``study`` a report belongs
  to.

- reports found by other methods than database and register searches (citation searching,
  websites, organisations): ``id``, ``source``, ``decision`` (as for full texts, or ``not sought``;
  blank while awaiting), ``reason``, ``study``;
- for an updated review, the reports of the studies the previous version included (``id``,
  ``study``).

:func:`prisma_flow` counts the boxes of the PRISMA 2020 flow diagram (Page et al. 2021) from them:
the template for new systematic reviews, with the column of other methods when the review has
one, or the template for updated reviews. Every count is tied to the ones around it (records identified =
records removed before screening + records screened + records awaiting screening, and so on), which
the tests check as invariants.

Screening prioritised by active learning ends, when a stopping rule says stop, with records no
person has read. PRISMA 2020 asks that the records excluded be split into those excluded by a person
and those excluded by automation tools; with ``stopped`` the records not screened are counted as
excluded by automation tools (the stopping rule), otherwise they are awaiting screening and the flow
says it is not finished.

References
----------
Page MJ, McKenzie JE, Bossuyt PM, et al. (2021). The PRISMA 2020 statement: an updated guideline
for reporting systematic reviews. BMJ 372:n71.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

from whatworks.errors import InputError

from .screening.data import (
    DUPLICATE_OF_COLUMN,
    ID_COLUMNS,
    KEPT_COLUMN,
    REMOVED_BY_COLUMN,
    REMOVED_BY_VALUES,
    REMOVED_COLUMN,
    RecordIds,
    RowNumbers,
    csv_rows,
    decode_csv,
    kept_flag,
    row_id,
)

__all__ = ["FULL_TEXT_VALUES", "OTHER_VALUES", "FlowRecord", "FlowTable", "FullTextDecision",
           "OtherMethods", "PrismaFlow", "prisma_flow", "read_flow_records", "read_full_text",
           "read_other_methods", "read_previous", "screening_ids", "sought_for_retrieval"]

#: Where a records table names no database for a record.
UNNAMED = "(database not named)"

#: The values of a full-text decisions file's ``decision`` column (case-insensitive).
FULL_TEXT_VALUES = {"include": "include", "included": "include", "yes": "include", "1": "include",
                    "exclude": "exclude", "excluded": "exclude", "no": "exclude", "0": "exclude",
                    "not retrieved": "not_retrieved", "not_retrieved": "not_retrieved",
                    "not-retrieved": "not_retrieved", "unavailable": "not_retrieved"}

#: Reason counted for a full-text exclusion whose file gives none.
NO_REASON = "(no reason given)"


@dataclass(frozen=True)
class FlowRecord:
    """One imported record: its id, the database it came from, whether it was kept by
    deduplication (and, if not, the record it duplicates) and its line in the records table."""

    id: str
    source_database: str | None
    kept: bool = True
    duplicate_of: str | None = None
    line: int | None = None
    removed: str | None = None  # the reason it was removed before screening
    removed_by: str | None = None  # "automation", or None (a person)

    @property
    def screened_set(self) -> bool:
        """Whether the record goes to screening: kept by deduplication and not removed."""
        return self.kept and not self.removed


@dataclass(frozen=True)
class FullTextDecision:
    """A report's full-text decision: ``include``, ``exclude`` or ``not_retrieved``; the reason for
    an exclusion; the study the report belongs to (None: a study of its own)."""

    id: str
    decision: str
    reason: str | None = None
    study: str | None = None
    line: int | None = None
    source: str | None = None  # the method that found a report (other methods than databases)
    file: str | None = None  # the file it was read from


@contextmanager
def _table(path: str | Path, expect: str, header_expect: str):
    """Open a CSV for reading: yields its name, a ``csv.reader`` past the header, the header and
    its columns (lower-cased name -> first index). A file that is missing, not UTF-8, empty or not
    a readable CSV is an :class:`InputError` naming the file (and line)."""
    name = str(path)
    reader = csv.reader(io.StringIO(decode_csv(path, expect=expect), newline=""))
    try:
        header = next((row for row in reader if row), None)
        if header is None:
            raise InputError(f"line 1: the file is empty; give a header row with {header_expect}",
                             file=name)
        header = [h.strip() for h in header]
        yield name, reader, header, {c.lower(): i for i, c in reversed(list(enumerate(header)))}
    except csv.Error as exc:
        raise InputError(f"line {reader.line_num}: not a readable CSV ({exc})", file=name) from exc


class FlowTable(NamedTuple):
    """A records table read for the flow: its records, whether it says which were kept by
    deduplication (a ``kept`` column) and whether its ids are row numbers (no id column)."""

    records: list[FlowRecord]
    dedup_known: bool
    by_row: bool


def read_flow_records(path: str | Path) -> FlowTable:
    """Read a records table for the flow: one row per record imported.

    Whether the table says which records were kept by deduplication is a ``kept`` column, as
    ``whatworks review dedup --format csv`` writes it. Ids come from the ``id`` or ``record_id``
    column, else the row number. A record naming several databases (``A; B``) is
    refused: that is a deduplicated table, whose records no longer count as imported.
    """
    out: list[FlowRecord] = []
    with _table(path, "one row per record imported (review import or review dedup --format csv)",
                "columns id and source_database") as (name, reader, header, columns):
        iid = next((columns[c] for c in ID_COLUMNS if c in columns), None)
        idb = columns.get("source_database")
        ik, idup = columns.get(KEPT_COLUMN), columns.get(DUPLICATE_OF_COLUMN)
        ir, irby = columns.get(REMOVED_COLUMN), columns.get(REMOVED_BY_COLUMN)
        seen: dict[str, int] = {}
        for number, (line, row) in enumerate(csv_rows(reader, len(header), name), start=1):
            rid = row_id(row, iid, number, line, seen, name, header)
            db = row[idb].strip() if idb is not None else ""
            if "; " in db:
                raise InputError(
                    f"line {line}: record {rid!r} names several databases ({db!r}): this is a "
                    "deduplicated table, and PRISMA counts the records as imported; give the table "
                    "`whatworks review dedup --format csv` writes (every record, with column kept)",
                    file=name, column=header[idb])
            kept = kept_flag(row[ik], line, name, header[ik]) if ik is not None else True
            dup = (row[idup].strip() or None) if idup is not None and not kept else None
            reason = " ".join(row[ir].split()) if ir is not None else ""
            by = row[irby].strip().lower() if irby is not None else ""
            if by not in REMOVED_BY_VALUES:
                raise InputError(f"line {line}: removed_by is {row[irby].strip()!r}; give automation "
                                 "(removed by an automation tool) or leave it blank (by a person)",
                                 file=name, column=header[irby])
            if by and not reason:
                raise InputError(f"line {line}: removed_by is given but removed is blank; give the "
                                 "reason the record was removed in column removed", file=name,
                                 column=header[irby])
            out.append(FlowRecord(rid, db or None, kept, dup, line, reason or None,
                                  "automation" if by == "automation" else None))
    if not out:
        raise InputError("line 2: no records after the header", file=name)
    return FlowTable(out, ik is not None, iid is None)


def screening_ids(records: Sequence[FlowRecord], by_row: bool = False) -> RecordIds:
    """The ids of the records that go to screening, knowing the duplicates and the records removed
    before screening, for :func:`~.screening.screen.read_decisions`."""
    kind = RowNumbers if by_row else RecordIds
    return kind([r.id for r in records if r.screened_set],
                {r.id: r.duplicate_of or "" for r in records if not r.kept},
                {r.id: r.removed for r in records if r.kept and r.removed})


def _report_rows(path: str | Path, expect: str, *, need_source: bool = False,
                 values: dict[str, str] = FULL_TEXT_VALUES, blank: str | None = None):
    """The rows of a reports file (columns ``id``, ``decision`` -- or ``label`` --, optional
    ``reason``, ``study`` and, when ``need_source``, ``source``): yields ``(name, header, columns,
    line, row, decision)``. A missing column, an id given twice or a decision not in ``values`` is
    an :class:`InputError` naming the file, the line and the column; a blank decision is ``blank``
    (refused when None)."""
    allowed = ", ".join(dict.fromkeys(v.replace("_", " ") for v in values.values()))
    with _table(path, expect, f"columns {expect}") as (name, reader, header, columns):
        idec = columns.get("decision", columns.get("label"))
        needs = [("id", columns.get("id")), ("decision", idec)]
        if need_source:
            needs.append(("source", columns.get("source")))
        for need, index in needs:
            if index is None:
                raise InputError(f"line 1: no column '{need}'; the file has columns {expect}; "
                                 f"the columns are {', '.join(header)}", file=name, column=need)
        iid = columns["id"]
        seen: dict[str, int] = {}
        for line, row in csv_rows(reader, len(header), name, column=header[-1]):
            row_id(row, iid, line, line, seen, name, header)  # blank or repeated: refused
            value = " ".join(row[idec].strip().lower().split())
            if not value and blank is not None:
                decision = blank
            elif value in values:
                decision = values[value]
            else:
                raise InputError(f"line {line}: decision {row[idec].strip()!r} is not allowed; give "
                                 f"{allowed}" + (" (or leave it blank: awaiting assessment)"
                                                 if blank else ""),
                                 file=name, column=header[idec])
            yield name, header, columns, line, row, decision


def _report(name: str, row, columns, rid: str, decision: str, line: int,
            source: str | None = None) -> FullTextDecision:
    def cell(column: str) -> str | None:
        index = columns.get(column)
        return (" ".join(row[index].split()) or None) if index is not None else None

    return FullTextDecision(rid, decision, cell("reason"), cell("study"), line, source, name)


def read_full_text(path: str | Path, sought: set[str],
                   why_not: dict[str, str] | None = None) -> list[FullTextDecision]:
    """Read full-text decisions (columns ``id`` and ``decision`` -- or ``label`` --, optional
    ``reason`` and ``study``).

    ``sought`` holds the ids of the records included at title and abstract; ``why_not`` says why
    each other record was not sought (:func:`sought_for_retrieval`). A record not sought for
    retrieval, an id given twice or a decision that is not allowed is an :class:`InputError`
    naming the file, the line and the column.
    """
    why_not = why_not or {}
    out: list[FullTextDecision] = []
    for name, header, columns, line, row, decision in _report_rows(
            path, "id, decision (include, exclude or not retrieved), reason and optionally study"):
        rid = row[columns["id"]].strip()
        if rid not in sought:
            why = why_not.get(rid, "no record has this id in the records file")
            raise InputError(f"line {line}: record {rid!r} was not sought for retrieval ({why}); "
                             "only records included at title and abstract screening have a "
                             "full-text decision", file=name, column=header[columns["id"]])
        out.append(_report(name, row, columns, rid, decision, line))
    return out


#: The decisions of a file of reports found by other methods: a full-text decision, or ``not
#: sought`` (identified, e.g. in a reference list, but not sought for retrieval).
OTHER_VALUES = {**FULL_TEXT_VALUES, "not sought": "not_sought", "not_sought": "not_sought",
                "not-sought": "not_sought"}


def read_other_methods(path: str | Path, record_ids: Iterable[str] = ()) -> list[FullTextDecision]:
    """Read the reports found by other methods than the database and register searches (PRISMA
    2020's second column: websites, organisations, citation searching, ...): columns ``id``,
    ``source`` (the method, counted per value), ``decision`` (include, exclude, not retrieved, not
    sought; blank: sought and awaiting assessment), ``reason`` and ``study``.

    An id that is also a record of the records table is refused (a report found both ways is
    counted once, in the database column); so are a blank source, an id given twice and a decision
    not allowed, each naming the file, line and column.
    """
    record_ids = set(record_ids)
    out: list[FullTextDecision] = []
    for name, header, columns, line, row, decision in _report_rows(
            path, "id, source (e.g. Citation searching, Websites), decision (include, exclude, "
                  "not retrieved, not sought, or blank while awaiting), reason and optionally study",
            need_source=True, values=OTHER_VALUES, blank="awaiting"):
        rid = row[columns["id"]].strip()
        source = " ".join(row[columns["source"]].split())
        if not source:
            raise InputError(f"line {line}: report {rid!r} names no source; give the method that "
                             "found it (e.g. Citation searching, Websites, Organisations)",
                             file=name, column=header[columns["source"]])
        if rid in record_ids:
            raise InputError(f"line {line}: report {rid!r} is also a record of the records table; "
                             "a report found by a database search is counted there, once: remove "
                             "this row (or give it another id if it is another report)", file=name,
                             column=header[columns["id"]])
        out.append(_report(name, row, columns, rid, decision, line, source))
    return out


def read_previous(path: str | Path) -> list[FullTextDecision]:
    """Read the reports of the studies included in the previous version of the review (an update's
    PRISMA 2020 flow): column ``id`` and optionally ``study`` (reports of one study share it)."""
    out: list[FullTextDecision] = []
    with _table(path, "one row per report included in the previous version: columns id and "
                      "optionally study", "columns id and optionally study") as (
            name, reader, header, columns):
        iid = columns.get("id")
        if iid is None:
            raise InputError("line 1: no column 'id'; give one row per report of a study included "
                             "in the previous version, with columns id and optionally study; the "
                             f"columns are {', '.join(header)}", file=name, column="id")
        seen: dict[str, int] = {}
        for line, row in csv_rows(reader, len(header), name, column=header[-1]):
            rid = row_id(row, iid, line, line, seen, name, header)  # blank or repeated: refused
            out.append(_report(name, row, columns, rid, "include", line))
    if not out:
        raise InputError("line 2: no reports after the header", file=name)
    return out


@dataclass(frozen=True)
class OtherMethods:
    """The column of PRISMA 2020's flow for records identified by other methods than database and
    register searches: records per method, and the reports' way from retrieval to inclusion."""

    sources: dict[str, int]  # method -> records identified
    not_sought: int
    not_retrieved: int
    excluded: dict[str, int]  # reason -> reports
    awaiting_assessment: int
    included: int  # reports

    @property
    def identified(self) -> int:
        return sum(self.sources.values())

    @property
    def sought(self) -> int:
        return self.identified - self.not_sought

    @property
    def assessed(self) -> int:
        return sum(self.excluded.values()) + self.included

    def to_dict(self) -> dict[str, Any]:
        return {"identified": {"total": self.identified, "sources": dict(self.sources)},
                "not_sought": self.not_sought, "sought": self.sought,
                "not_retrieved": self.not_retrieved, "assessed": self.assessed,
                "excluded": dict(self.excluded), "awaiting_assessment": self.awaiting_assessment,
                "included": self.included}


@dataclass(frozen=True)
class PrismaFlow:
    """The counts of the PRISMA 2020 flow diagram (see :meth:`to_dict` for their meaning).

    Counts the files cannot give are None (the full-text boxes without a full-text decisions file);
    ``notes`` says why, and what is not finished.
    """

    databases: dict[str, int]
    registers: dict[str, int]
    duplicates_removed: int
    screened_by_person: int
    excluded_by_person: int
    excluded_by_automation: int
    awaiting_screening: int
    sought_for_retrieval: int
    not_retrieved: int | None = None
    reports_excluded: dict[str, int] | None = None
    awaiting_assessment: int | None = None
    reports_included: int | None = None  # reports included from the databases' column
    notes: tuple[str, ...] = field(default=())
    removed_by_automation: dict[str, int] = field(default_factory=dict)  # reason -> records
    removed_other: dict[str, int] = field(default_factory=dict)
    other: OtherMethods | None = None  # the column of other methods, when the review has one
    previous_studies: int | None = None  # an update: the previous version's included studies
    previous_reports: int | None = None
    new_studies: int | None = None  # studies this review (or update) adds, both columns
    new_reports: int | None = None
    total_studies: int | None = None  # every study in the review: new, and previous for an update
    total_reports: int | None = None

    @property
    def identified(self) -> int:
        return sum(self.databases.values()) + sum(self.registers.values())

    @property
    def records_screened(self) -> int:
        """Records through the screening stage: read by a person or excluded by the stopping rule."""
        return self.screened_by_person + self.excluded_by_automation

    @property
    def records_excluded(self) -> int:
        return self.excluded_by_person + self.excluded_by_automation

    @property
    def assessed(self) -> int | None:
        if self.reports_excluded is None or self.reports_included is None:
            return None
        return sum(self.reports_excluded.values()) + self.reports_included

    @property
    def update(self) -> bool:
        """Whether this is the flow of an updated review (the previous version's studies given)."""
        return self.previous_studies is not None

    def to_dict(self) -> dict[str, Any]:
        """The boxes as JSON: ``identified`` (``total``, ``databases`` and ``registers``: name ->
        records), ``removed_before_screening`` (``duplicates``, ``automation``, ``other``),
        ``screening`` (``records_screened``, ``screened_by_person``, ``records_excluded``,
        ``excluded_by_person``, ``excluded_by_automation``, ``awaiting_screening``),
        ``retrieval`` (``sought``, ``not_retrieved``, ``assessed``, ``excluded``: reason -> reports,
        ``awaiting_assessment``, ``included``: reports), ``included`` (``studies`` and ``reports``:
        the whole review's; ``new_studies``, ``new_reports``, ``previous_studies``,
        ``previous_reports``), ``other_methods`` (None, or the column of other methods:
        ``identified`` with ``sources``, ``not_sought``, ``sought``, ``not_retrieved``,
        ``assessed``, ``excluded``, ``awaiting_assessment``, ``included``) and ``notes``."""
        return {
            "identified": {"total": self.identified,
                           "databases_total": sum(self.databases.values()),
                           "registers_total": sum(self.registers.values()),
                           "databases": dict(self.databases), "registers": dict(self.registers)},
            "removed_before_screening": {
                "duplicates": self.duplicates_removed,
                "automation": sum(self.removed_by_automation.values()),
                "other": sum(self.removed_other.values()),
                "automation_reasons": dict(self.removed_by_automation),
                "other_reasons": dict(self.removed_other)},
            "screening": {"records_screened": self.records_screened,
                          "screened_by_person": self.screened_by_person,
                          "records_excluded": self.records_excluded,
                          "excluded_by_person": self.excluded_by_person,
                          "excluded_by_automation": self.excluded_by_automation,
                          "awaiting_screening": self.awaiting_screening},
            "retrieval": {"sought": self.sought_for_retrieval, "not_retrieved": self.not_retrieved,
                          "assessed": self.assessed,
                          "excluded": None if self.reports_excluded is None else dict(
                              self.reports_excluded),
                          "awaiting_assessment": self.awaiting_assessment,
                          "included": self.reports_included},
            "included": {"studies": self.total_studies, "reports": self.total_reports,
                         "new_studies": self.new_studies, "new_reports": self.new_reports,
                         "previous_studies": self.previous_studies,
                         "previous_reports": self.previous_reports},
            "other_methods": None if self.other is None else self.other.to_dict(),
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        """The flow as the diagram's boxes, for a methods section: each phase, its main box, and
        (after "->") the box to its right; the columns of an update's previous studies and of
        other methods follow the databases' column, and the studies included close it."""

        def block(rows) -> list[str]:
            out: list[str] = []
            for phase, left, right in rows:
                if phase:
                    out.append(phase)
                out += [f"  {t}" for t in left]
                out += [f"  {'->' if k == 0 else '  '} {t}" for k, t in enumerate(right)]
            return out

        grid = self.grid()
        columns = [c for c in ("previous", "other") if any(c in cells for _, cells in grid)]
        lines: list[str] = []
        if columns:
            lines.append("Identification of new studies via databases and registers")
        body = [(phase, cells.get("main", []), cells.get("excluded", [])) for phase, cells in grid]
        lines += block(body[:4])
        if "other" in columns:
            lines += ["", "Identification of new studies via other methods"]
            lines += block((phase, cells["other"], cells.get("other_excluded", []))
                           for phase, cells in grid if "other" in cells)
        if "previous" in columns:
            lines += ["", "Previous studies"]
            lines += [f"  {t}" for _, cells in grid for t in cells.get("previous", [])]
        if columns:
            lines.append("")
        lines += block(body[4:])
        if self.notes:
            lines += ["", *(f"note: {t}" for t in self.notes)]
        return "\n".join(lines)

    def grid(self) -> list[tuple[str, dict[str, list[str]]]]:
        """The diagram's rows: (phase, boxes), the boxes by column -- ``previous`` (an update's
        studies), ``main`` and ``excluded`` (databases and registers), ``other`` and
        ``other_excluded`` (other methods) -- each a list of lines; a column without a box in a
        row is absent from it."""

        def n(v) -> str:
            return "n = ?" if v is None else f"n = {v:,}"

        def reasons(title: str, counts: dict[str, int] | None) -> list[str]:
            total = None if counts is None else sum(counts.values())
            return [f"{title} ({n(total)})", *(f"  {k} ({n(v)})" for k, v in (counts or {}).items())]

        ident = ["Records identified from:", f"Databases ({n(sum(self.databases.values()))})"]
        ident += [f"  {k} ({n(v)})" for k, v in self.databases.items()]
        ident += [f"Registers ({n(sum(self.registers.values()))})"]
        ident += [f"  {k} ({n(v)})" for k, v in self.registers.items()]
        screened = [f"Records screened ({n(self.records_screened)})"]
        if self.awaiting_screening:
            screened.append(f"Awaiting screening ({n(self.awaiting_screening)})")
        assessed = [f"Reports assessed for eligibility ({n(self.assessed)})"]
        if self.awaiting_assessment:
            assessed.append(f"Awaiting assessment ({n(self.awaiting_assessment)})")
        studies, reports = (("New studies included in review", "Reports of new included studies")
                            if self.update else
                            ("Studies included in review", "Reports of included studies"))
        rows: list[tuple[str, dict[str, list[str]]]] = [
            ("Identification", {"main": ident, "excluded": [
                "Records removed before screening:",
                f"Duplicate records removed ({n(self.duplicates_removed)})",
                *reasons("Records marked as ineligible by automation tools",
                         self.removed_by_automation),
                *reasons("Records removed for other reasons", self.removed_other)]}),
            ("Screening", {"main": screened, "excluded": [
                f"Records excluded ({n(self.records_excluded)})",
                f"  by a person ({n(self.excluded_by_person)})",
                f"  by automation tools ({n(self.excluded_by_automation)})"]
                + (["  (not screened once the stopping rule said stop)"]
                   if self.excluded_by_automation else [])}),
            ("", {"main": [f"Reports sought for retrieval ({n(self.sought_for_retrieval)})"],
                  "excluded": [f"Reports not retrieved ({n(self.not_retrieved)})"]}),
            ("", {"main": assessed, "excluded": reasons("Reports excluded", self.reports_excluded)}),
            ("Included", {"main": [f"{studies} ({n(self.new_studies)})",
                                   f"{reports} ({n(self.new_reports)})"]}),
        ]
        if self.update:
            rows[0][1]["previous"] = [
                f"Studies included in previous version of review ({n(self.previous_studies)})",
                f"Reports of studies included in previous version of review "
                f"({n(self.previous_reports)})"]
            rows.append(("", {"main": [f"Total studies included in review ({n(self.total_studies)})",
                                       f"Reports of total included studies ({n(self.total_reports)})"]}))
        o = self.other
        if o is not None:
            rows[0][1]["other"] = ["Records identified from:",
                                   *(f"  {k} ({n(v)})" for k, v in o.sources.items())]
            if o.not_sought:
                rows[0][1]["other_excluded"] = [f"Records not sought for retrieval ({n(o.not_sought)})"]
            rows[2][1]["other"] = [f"Reports sought for retrieval ({n(o.sought)})"]
            rows[2][1]["other_excluded"] = [f"Reports not retrieved ({n(o.not_retrieved)})"]
            rows[3][1]["other"] = [f"Reports assessed for eligibility ({n(o.assessed)})"] + (
                [f"Awaiting assessment ({n(o.awaiting_assessment)})"] if o.awaiting_assessment else [])
            rows[3][1]["other_excluded"] = reasons("Reports excluded", o.excluded)
        return rows

    def plot(self):
        """The PRISMA 2020 flow diagram as a matplotlib figure (boxes, arrows, phase labels), with
        the columns of an update's previous studies and of other methods when the flow has them."""
        import textwrap

        from matplotlib.patches import FancyArrowPatch, Rectangle

        from whatworks.synthesis.plots import inch_canvas

        grid = self.grid()
        order = [c for c in ("previous", "main", "excluded", "other", "other_excluded")
                 if any(c in cells for _, cells in grid)]
        wide = len(order) == 2  # the databases' column alone: two wide boxes a row
        chars, box_w, gap_x = (60, 4.25, 0.5) if wide else (44, 3.2, 0.45)

        def wrap(lines: list[str]) -> list[str]:
            out = []
            for t in lines:
                indent = " " * (len(t) - len(t.lstrip()) + 2)
                out += textwrap.wrap(t, chars, subsequent_indent=indent) or [t]
            return out

        rows = [(name, {c: wrap(v) for c, v in cells.items()}) for name, cells in grid]
        size = 8.5
        line_h, pad, gap, margin = size * 1.25 / 72, 0.1, 0.3, 0.25  # inches
        heights = [max(len(v) for v in cells.values()) * line_h + 2 * pad for _, cells in rows]
        total = sum(heights) + gap * (len(rows) - 1) + 0.5 + margin
        x = {c: 0.8 + k * (box_w + gap_x) for k, c in enumerate(order)}
        width = 0.8 + len(order) * (box_w + gap_x) - gap_x + 0.3
        fig, ax = inch_canvas(width, total)
        ax.text(width / 2, total - 0.25, "PRISMA 2020 flow diagram", ha="center", va="center",
                fontsize=11, weight="bold")
        arrow = dict(arrowstyle="-|>", mutation_scale=10, lw=1, color="black")
        top = total - 0.5
        spans: dict[str, list[float]] = {}
        placed: list[dict[str, tuple[float, float]]] = []  # per row: column -> (top, bottom)
        phase = ""
        for (name, cells), h in zip(rows, heights, strict=True):
            phase = name or phase
            spans.setdefault(phase, [top, top - h])[1] = top - h
            for c, lines in cells.items():
                ax.add_patch(Rectangle((x[c], top - h), box_w, h, fc="white", ec="black", lw=1))
                ax.text(x[c] + 0.1, top - pad, "\n".join(lines), ha="left", va="top", fontsize=size,
                        linespacing=1.25)
            for left, right in (("main", "excluded"), ("other", "other_excluded")):
                if left in cells and right in cells:
                    ax.add_patch(FancyArrowPatch((x[left] + box_w, top - h / 2),
                                                 (x[right], top - h / 2), **arrow))
            placed.append({c: (top, top - h) for c in cells})
            top -= h + gap
        for column in ("main", "other"):  # down each column, from box to box
            boxes = [row[column] for row in placed if column in row]
            for (_, bottom), (upper, _) in pairwise(boxes):
                ax.add_patch(FancyArrowPatch((x[column] + box_w / 2, bottom),
                                             (x[column] + box_w / 2, upper), **arrow))
        included = placed[4]["main"]
        mid = (included[0] + included[1]) / 2
        if "other" in x:  # other methods' reports join the studies included
            bottom = placed[3]["other"][1]
            ax.plot([x["other"] + box_w / 2] * 2, [bottom, mid], color="black", lw=1)
            ax.add_patch(FancyArrowPatch((x["other"] + box_w / 2, mid), (x["main"] + box_w, mid),
                                         **arrow))
        if "previous" in x:  # the previous version's studies join the total
            last = placed[-1]["main"]
            y = (last[0] + last[1]) / 2
            ax.plot([x["previous"] + box_w / 2] * 2, [placed[0]["previous"][1], y], color="black",
                    lw=1)
            ax.add_patch(FancyArrowPatch((x["previous"] + box_w / 2, y), (x["main"], y), **arrow))
        for name, (upper, lower) in spans.items():
            ax.add_patch(Rectangle((0.15, lower), 0.4, upper - lower, fc="#cfe2f3", ec="black", lw=0.8))
            ax.text(0.35, (upper + lower) / 2, name, rotation=90, ha="center", va="center",
                    fontsize=9 if upper - lower > 0.9 else 7.5)
        return fig


def prisma_flow(records: Sequence[FlowRecord], decisions: Iterable | None = None,
                full_text: Sequence[FullTextDecision] | None = None, *, stopped: bool = False,
                registers: Iterable[str] = (), dedup_known: bool = True,
                other: Sequence[FullTextDecision] | None = None,
                previous: Sequence[FullTextDecision] | None = None) -> PrismaFlow:
    """Count the PRISMA 2020 flow diagram's boxes.

    Parameters
    ----------
    records : every record imported (:func:`read_flow_records`), duplicates included.
    decisions : title-and-abstract decisions (:class:`~.screening.screen.Decision`, whose ``index``
        counts the kept records in table order), or None when screening has not started.
    full_text : full-text decisions on records included at title and abstract, or None when the
        full texts are not assessed yet.
    stopped : screening ended by a stopping rule: the kept records no person screened are counted as
        excluded by automation tools. Otherwise they are awaiting screening.
    registers : names of the ``source_database`` values that are trial registers (PRISMA counts
        them apart from the bibliographic databases).
    dedup_known : whether the records say which were kept by deduplication; when not, no
        duplicates were removed and a note says so.
    other : the reports found by other methods (:func:`read_other_methods`): PRISMA 2020's second
        column, whose included reports join the studies included.
    previous : an updated review's previous version: the reports of its included studies
        (:func:`read_previous`). The flow is then the template for updated reviews: new studies,
        previous studies and the total. A report of a study already included counts as a new report
        of that study, not as a new study.
    """
    registers = {r.strip() for r in registers}
    by_source = Counter(r.source_database or UNNAMED for r in records)
    unknown = sorted(registers - set(by_source))
    if unknown:
        raise InputError(f"--registers names {', '.join(map(repr, unknown))}, which no record has as "
                         f"its source_database; the sources are {', '.join(sorted(by_source))}",
                         column="source_database")
    databases = {k: v for k, v in sorted(by_source.items()) if k not in registers}
    regs = {k: v for k, v in sorted(by_source.items()) if k in registers}
    kept = [r for r in records if r.screened_set]  # the records that go to screening
    removed = [r for r in records if r.kept and r.removed]
    notes: list[str] = []
    if not dedup_known:
        notes.append("the records table has no kept column, so no duplicates were removed; "
                     "give the table `whatworks review dedup --format csv` writes")
    if UNNAMED in by_source:
        notes.append(f"{by_source[UNNAMED]} record(s) name no source_database; import with "
                     "--database NAME to name it")
    labels = {d.index: d.label for d in (decisions or ())}
    if any(not 0 <= i < len(kept) for i in labels):
        raise ValueError("a decision's index is not a kept record's")
    screened = len(labels)
    included_ids = [kept[i].id for i, lab in labels.items() if lab == 1]
    unscreened = len(kept) - screened
    if stopped and unscreened == 0:
        notes.append("--stopped was given but every record was screened by a person: nothing was "
                     "excluded by the stopping rule")
    if not stopped and unscreened:
        notes.append(f"{unscreened} record(s) are not screened yet; if screening ended because a "
                     "stopping rule said stop, give --stopped to count them as excluded by "
                     "automation tools, and report the rule (`whatworks review screen` prints it)")
    flow: dict[str, Any] = dict(
        databases=databases, registers=regs, duplicates_removed=sum(not r.kept for r in records),
        screened_by_person=screened,
        removed_by_automation=_by_reason(r for r in removed if r.removed_by),
        removed_other=_by_reason(r for r in removed if not r.removed_by),
        excluded_by_person=screened - len(included_ids),
        excluded_by_automation=unscreened if stopped else 0,
        awaiting_screening=0 if stopped else unscreened, sought_for_retrieval=len(included_ids))
    new_included: list[FullTextDecision] | None = None  # None: not known (no full-text decisions)
    if full_text is None:
        notes.append("no full-text decisions given: the counts after 'reports sought for retrieval' "
                     "are unknown")
    else:
        decided = {d.id: d for d in full_text}
        if set(decided) - set(included_ids):
            raise ValueError("a full-text decision is on a record not included at title and abstract")
        new_included = [d for d in full_text if d.decision == "include"]
        flow.update(_assessment(full_text, notes, "full-text"),
                    awaiting_assessment=len(included_ids) - len(decided))
        if flow["awaiting_assessment"]:
            notes.append(f"{flow['awaiting_assessment']} report(s) sought for retrieval have no "
                         "full-text decision yet")
        flow["reports_included"] = len(new_included)
    if other is not None:
        clash = sorted({d.id for d in other} & {r.id for r in records})
        if clash:
            raise ValueError(f"reports found by other methods are records of the table: {clash[:3]}")
        other_included = [d for d in other if d.decision == "include"]
        counts = _assessment(other, notes, "other methods'")
        flow["other"] = OtherMethods(
            sources=dict(sorted(Counter(d.source or UNNAMED for d in other).items())),
            not_sought=sum(d.decision == "not_sought" for d in other),
            not_retrieved=counts["not_retrieved"], excluded=counts["reports_excluded"],
            awaiting_assessment=sum(d.decision == "awaiting" for d in other),
            included=len(other_included))
        if flow["other"].awaiting_assessment:
            notes.append(f"{flow['other'].awaiting_assessment} report(s) found by other methods "
                         "have no decision yet")
        if new_included is not None:
            new_included += other_included
    included_reports = [*(full_text or ()), *(other or ())]
    if any(d.decision == "include" for d in included_reports) and \
            not any(d.study for d in included_reports):
        notes.append("the full-text decisions have no study column: each included report is "
                     "counted as a study of its own")
    if previous is not None:
        flow.update(previous_studies=len(_studies(previous)), previous_reports=len(previous))
    if new_included is not None:
        earlier = {d.id for d in previous or ()}
        again = [d for d in new_included if d.id in earlier]
        if again:
            d, before = again[0], next(p for p in previous or () if p.id == again[0].id)
            raise InputError(f"line {d.line}: report {d.id!r} is included in this update and in the "
                             f"previous version ({before.file or 'previous reports'}, line "
                             f"{before.line}); a report of the previous version found again is "
                             "removed before screening (records table, column removed: e.g. "
                             "'included in the previous version'), not included twice",
                             file=d.file, column="id")
        old = _studies(previous or ())
        studies = _studies(new_included)
        flow.update(new_studies=len(studies - old), new_reports=len(new_included),
                    total_studies=len(studies | old),
                    total_reports=len(new_included) + len(previous or ()))
    return PrismaFlow(**flow, notes=tuple(notes))


def _assessment(reports: Sequence[FullTextDecision], notes: list[str], kind: str) -> dict[str, Any]:
    """Reports not retrieved and excluded (reason -> reports, the most frequent first), with a note
    when an exclusion gives no reason."""
    reasons = Counter(d.reason or NO_REASON for d in reports if d.decision == "exclude")
    if NO_REASON in reasons:
        notes.append(f"{reasons[NO_REASON]} {kind} exclusion(s) give no reason; PRISMA 2020 asks "
                     "for the reason of each")
    return {"not_retrieved": sum(d.decision == "not_retrieved" for d in reports),
            "reports_excluded": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))}


def _studies(reports: Iterable[FullTextDecision]) -> set[str]:
    """The studies of included reports: their study, or the report itself when none is given."""
    return {d.study or f"report {d.id}" for d in reports}


def sought_for_retrieval(records: Sequence[FlowRecord],
                         decisions: Iterable) -> tuple[set[str], dict[str, str]]:
    """For :func:`read_full_text`: the ids of the records included at title and abstract, and why
    each other record was not sought for retrieval."""
    kept = [r for r in records if r.screened_set]
    labels = {d.index: (d.label, d.line) for d in decisions}
    sought: set[str] = set()
    why_not: dict[str, str] = {}
    for r in records:
        if not r.kept:
            why_not[r.id] = "it was removed as a duplicate" + (
                f" of {r.duplicate_of!r}" if r.duplicate_of else "")
        elif r.removed:
            why_not[r.id] = f"it was removed before screening: {r.removed}"
    for i, r in enumerate(kept):
        label, line = labels.get(i, (None, None))
        if label == 1:
            sought.add(r.id)
        elif label == 0:
            why_not[r.id] = "it was excluded at title and abstract" + (
                f", decisions line {line}" if line else "")
        else:
            why_not[r.id] = "it has no title-and-abstract decision"
    return sought, why_not


def _by_reason(records: Iterable[FlowRecord]) -> dict[str, int]:
    """Records removed before screening, counted by reason, the most frequent first."""
    counts = Counter(r.removed for r in records)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
