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

:func:`prisma_flow` counts the boxes of the PRISMA 2020 flow diagram for new systematic reviews
(Page et al. 2021) from them. Every count is tied to the ones around it (records identified =
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

__all__ = ["FULL_TEXT_VALUES", "FlowRecord", "FlowTable", "FullTextDecision", "PrismaFlow", "prisma_flow",
           "read_flow_records", "read_full_text", "screening_ids", "sought_for_retrieval"]

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
    with _table(path, "columns id, decision (include, exclude or not retrieved) and reason",
                "columns id, decision and reason") as (name, reader, header, columns):
        idec = columns.get("decision", columns.get("label"))
        for need, index in (("id", columns.get("id")), ("decision", idec)):
            if index is None:
                raise InputError(f"line 1: no column '{need}'; a full-text decisions file has "
                                 "columns id, decision (include, exclude or not retrieved), reason "
                                 f"and optionally study; the columns are {', '.join(header)}",
                                 file=name, column=need)
        iid, ireason, istudy = columns["id"], columns.get("reason"), columns.get("study")
        seen: dict[str, int] = {}
        for line, row in csv_rows(reader, len(header), name, column=header[-1]):
            rid = row[iid].strip()
            if rid not in sought:
                why = why_not.get(rid, "no record has this id in the records file")
                raise InputError(f"line {line}: record {rid!r} was not sought for retrieval ({why}); "
                                 "only records included at title and abstract screening have a "
                                 "full-text decision", file=name, column=header[iid])
            if rid in seen:
                raise InputError(f"line {line}: record {rid!r} has a full-text decision already "
                                 f"(line {seen[rid]}); keep one per report", file=name,
                                 column=header[iid])
            value = " ".join(row[idec].strip().lower().split())
            if value not in FULL_TEXT_VALUES:
                raise InputError(f"line {line}: decision {row[idec].strip()!r} is not allowed; give "
                                 "include, exclude or not retrieved", file=name, column=header[idec])
            seen[rid] = line
            reason = " ".join(row[ireason].split()) if ireason is not None else ""
            study = row[istudy].strip() if istudy is not None else ""
            out.append(FullTextDecision(rid, FULL_TEXT_VALUES[value], reason or None, study or None,
                                        line))
    return out


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
    reports_included: int | None = None
    studies_included: int | None = None
    notes: tuple[str, ...] = field(default=())
    removed_by_automation: dict[str, int] = field(default_factory=dict)  # reason -> records
    removed_other: dict[str, int] = field(default_factory=dict)

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

    def to_dict(self) -> dict[str, Any]:
        """The boxes as JSON: ``identified`` (``total``, ``databases`` and ``registers``: name ->
        records), ``removed_before_screening`` (``duplicates``, ``automation``, ``other``),
        ``screening`` (``records_screened``, ``screened_by_person``, ``records_excluded``,
        ``excluded_by_person``, ``excluded_by_automation``, ``awaiting_screening``),
        ``retrieval`` (``sought``, ``not_retrieved``, ``assessed``, ``excluded``: reason -> reports,
        ``awaiting_assessment``), ``included`` (``studies``, ``reports``) and ``notes``."""
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
                          "awaiting_assessment": self.awaiting_assessment},
            "included": {"studies": self.studies_included, "reports": self.reports_included},
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        """The flow as the diagram's boxes, for a methods section: each phase, its main box, and
        (after "->") the box to its right."""
        lines: list[str] = []
        for phase, left, right in self.boxes():
            if phase:
                lines.append(phase)
            lines += [f"  {t}" for t in left]
            lines += [f"  {'->' if k == 0 else '  '} {t}" for k, t in enumerate(right)]
        if self.notes:
            lines += ["", *(f"note: {t}" for t in self.notes)]
        return "\n".join(lines)

    def boxes(self) -> list[tuple[str, list[str], list[str]]]:
        """The diagram's rows: (phase, lines of the main box, lines of the box to its right)."""

        def n(v) -> str:
            return "n = ?" if v is None else f"n = {v:,}"

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
        reasons = self.reports_excluded
        excluded = [f"Reports excluded ({n(None if reasons is None else sum(reasons.values()))})"]
        excluded += [f"  {k} ({n(v)})" for k, v in (reasons or {}).items()]
        return [
            ("Identification", ident,
             ["Records removed before screening:",
              f"Duplicate records removed ({n(self.duplicates_removed)})",
              "Records marked as ineligible by automation tools "
              f"({n(sum(self.removed_by_automation.values()))})",
              *(f"  {k} ({n(v)})" for k, v in self.removed_by_automation.items()),
              f"Records removed for other reasons ({n(sum(self.removed_other.values()))})",
              *(f"  {k} ({n(v)})" for k, v in self.removed_other.items())]),
            ("Screening", screened,
             [f"Records excluded ({n(self.records_excluded)})",
              f"  by a person ({n(self.excluded_by_person)})",
              f"  by automation tools ({n(self.excluded_by_automation)})"]
             + (["  (not screened once the stopping rule said stop)"]
                if self.excluded_by_automation else [])),
            ("", [f"Reports sought for retrieval ({n(self.sought_for_retrieval)})"],
             [f"Reports not retrieved ({n(self.not_retrieved)})"]),
            ("", assessed, excluded),
            ("Included", [f"Studies included in review ({n(self.studies_included)})",
                          f"Reports of included studies ({n(self.reports_included)})"], []),
        ]

    def plot(self):
        """The PRISMA 2020 flow diagram as a matplotlib figure (boxes, arrows, phase labels)."""
        import matplotlib

        matplotlib.use("Agg")
        import textwrap

        import matplotlib.pyplot as plt
        from matplotlib.patches import FancyArrowPatch, Rectangle

        def wrap(lines: list[str]) -> list[str]:  # a box is about 60 characters wide
            out = []
            for t in lines:
                indent = " " * (len(t) - len(t.lstrip()) + 2)
                out += textwrap.wrap(t, 60, subsequent_indent=indent) or [t]
            return out

        rows = [(name, wrap(left), wrap(right)) for name, left, right in self.boxes()]
        size = 8.5
        line_h, pad, gap, margin = size * 1.25 / 72, 0.1, 0.3, 0.25  # inches
        heights = [max(len(left), len(right)) * line_h + 2 * pad for _, left, right in rows]
        total = sum(heights) + gap * (len(rows) - 1) + 0.5 + margin
        fig = plt.figure(figsize=(10, total))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 10)
        ax.set_ylim(0, total)
        ax.axis("off")
        ax.text(5, total - 0.25, "PRISMA 2020 flow diagram", ha="center", va="center", fontsize=11,
                weight="bold")
        left_x, left_w, right_x, right_w = 0.8, 4.3, 5.6, 4.2
        arrow = dict(arrowstyle="-|>", mutation_scale=10, lw=1, color="black")
        top = total - 0.5
        spans: dict[str, list[float]] = {}
        phase = ""
        for k, ((name, left, right), h) in enumerate(zip(rows, heights, strict=True)):
            phase = name or phase
            spans.setdefault(phase, [top, top - h])[1] = top - h
            for x, w, lines in ((left_x, left_w, left), (right_x, right_w, right)):
                if lines:
                    ax.add_patch(Rectangle((x, top - h), w, h, fc="white", ec="black", lw=1))
                    ax.text(x + 0.1, top - pad, "\n".join(lines), ha="left", va="top", fontsize=size,
                            linespacing=1.25)
            if right:
                ax.add_patch(FancyArrowPatch((left_x + left_w, top - h / 2), (right_x, top - h / 2),
                                             **arrow))
            if k + 1 < len(rows):
                ax.add_patch(FancyArrowPatch((left_x + left_w / 2, top - h),
                                             (left_x + left_w / 2, top - h - gap), **arrow))
            top -= h + gap
        for name, (upper, lower) in spans.items():
            ax.add_patch(Rectangle((0.15, lower), 0.4, upper - lower, fc="#cfe2f3", ec="black", lw=0.8))
            ax.text(0.35, (upper + lower) / 2, name, rotation=90, ha="center", va="center",
                    fontsize=9 if upper - lower > 0.9 else 7.5)
        return fig


def prisma_flow(records: Sequence[FlowRecord], decisions: Iterable | None = None,
                full_text: Sequence[FullTextDecision] | None = None, *, stopped: bool = False,
                registers: Iterable[str] = (), dedup_known: bool = True) -> PrismaFlow:
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
    flow = dict(databases=databases, registers=regs,
                duplicates_removed=sum(not r.kept for r in records), screened_by_person=screened,
                removed_by_automation=_by_reason(r for r in removed if r.removed_by),
                removed_other=_by_reason(r for r in removed if not r.removed_by),
                excluded_by_person=screened - len(included_ids),
                excluded_by_automation=unscreened if stopped else 0,
                awaiting_screening=0 if stopped else unscreened,
                sought_for_retrieval=len(included_ids))
    if full_text is None:
        notes.append("no full-text decisions given: the counts after 'reports sought for retrieval' "
                     "are unknown")
        return PrismaFlow(**flow, notes=tuple(notes))
    decided = {d.id: d for d in full_text}
    if set(decided) - set(included_ids):
        raise ValueError("a full-text decision is on a record not included at title and abstract")
    reasons = Counter(d.reason or NO_REASON for d in full_text if d.decision == "exclude")
    if NO_REASON in reasons:
        notes.append(f"{reasons[NO_REASON]} full-text exclusion(s) give no reason; PRISMA 2020 asks "
                     "for the reason of each")
    included = [d for d in full_text if d.decision == "include"]
    studies = {d.study or f"report {d.id}" for d in included}
    if included and not any(d.study for d in full_text):
        notes.append("the full-text decisions have no study column: each included report is "
                     "counted as a study of its own")
    awaiting = len(included_ids) - len(decided)
    if awaiting:
        notes.append(f"{awaiting} report(s) sought for retrieval have no full-text decision yet")
    return PrismaFlow(**flow, not_retrieved=sum(d.decision == "not_retrieved" for d in full_text),
                      reports_excluded=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
                      awaiting_assessment=awaiting, reports_included=len(included),
                      studies_included=len(studies), notes=tuple(notes))


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
