"""Local-authority boundary and code changes, 2010-2023, and how the panel maps them.

One table, :data:`BOUNDARY_CHANGES`, says what changed; everything else (code aliases, the
consistent geography, the IMD 2019 join) is derived from it or listed beside it, and the same
table is printed in docs/methods/places.md.

Rules (decided here, tested in tests/places/test_boundaries.py):

* **Code-only changes** (same area, new GSS code: Gateshead and Northumberland 2013,
  Buckinghamshire 2020, North Yorkshire and Somerset 2023): the series continues under the
  newest code. ``code`` in the panel is that code; ``code_published`` keeps the file's own.
* **Splits and mergers** (Dorset area 2019, Northamptonshire 2021, Cumbria 2023): in the
  *reported* geography predecessors and successors are separate series, each row carrying a
  ``boundary_note``; a series that ends or starts at a change is a discontinuity, never joined.
  In the *consistent* geography they are summed into one unit stable over 2010-2023 (the
  smallest area containing both the old and the new authorities).
* Children looked after are counted at 31 March, so a change on 1 April of year Y first shows in
  the data for 31 March Y+1 (Dorset area 2020, Northamptonshire 2022; the 2023 changes are not
  yet in the shipped data, which end at 31 March 2023).
"""

from __future__ import annotations

from dataclasses import dataclass

REGIONS = {
    "E12000001": "North East", "E12000002": "North West", "E12000003": "Yorkshire and The Humber",
    "E12000004": "East Midlands", "E12000005": "West Midlands", "E12000006": "East of England",
    "E12000007": "London", "E12000008": "South East", "E12000009": "South West",
}
ENGLAND = ("E92000001", "England")


@dataclass(frozen=True)
class Authority:
    """One authority in a change: 9-character GSS code, DfE 3-digit code (None if unknown), name."""

    code: str
    old_code: str | None
    name: str


@dataclass(frozen=True)
class BoundaryChange:
    """A reorganisation: on ``date`` the ``predecessors`` became the ``successors``.

    ``kind`` is "code change" (same area), "merger" or "split" (areas redrawn). ``unit`` is the
    consistent-geography unit (code, name) both sides map to; ``first_data_year`` is the first
    31 March count for the successors.
    """

    date: str
    kind: str
    predecessors: tuple[Authority, ...]
    successors: tuple[Authority, ...]
    unit: tuple[str, str]
    first_data_year: int
    note: str


def _a(code: str, old_code: str | None, name: str) -> Authority:
    return Authority(code, old_code, name)


BOUNDARY_CHANGES: tuple[BoundaryChange, ...] = (
    BoundaryChange(
        "2013-04-01", "code change", (_a("E08000020", "390", "Gateshead"),),
        (_a("E08000037", "390", "Gateshead"),), ("E08000037", "Gateshead"), 2013,
        "minor realignment with Northumberland; ONS recoded both (the 2011-2017 DfE tables keep "
        "the old code)"),
    BoundaryChange(
        "2013-04-01", "code change", (_a("E06000048", "929", "Northumberland"),),
        (_a("E06000057", "929", "Northumberland"),), ("E06000057", "Northumberland"), 2013,
        "minor realignment with Gateshead; ONS recoded both"),
    BoundaryChange(
        "2019-04-01", "merger",
        (_a("E06000028", "837", "Bournemouth"), _a("E06000029", "836", "Poole"),
         _a("E10000009", "835", "Dorset (county council)")),
        (_a("E06000058", "839", "Bournemouth, Christchurch and Poole"),
         _a("E06000059", "838", "Dorset")),
        ("E06000058+E06000059", "Bournemouth, Christchurch and Poole with Dorset"), 2020,
        "Christchurch moved from Dorset county to BCP, so neither successor matches a "
        "predecessor: the consistent unit is the whole former county"),
    BoundaryChange(
        "2020-04-01", "code change", (_a("E10000002", "825", "Buckinghamshire"),),
        (_a("E06000060", "825", "Buckinghamshire"),), ("E06000060", "Buckinghamshire"), 2020,
        "county council became a unitary authority on the same area"),
    BoundaryChange(
        "2021-04-01", "split", (_a("E10000021", "928", "Northamptonshire"),),
        (_a("E06000061", "940", "North Northamptonshire"),
         _a("E06000062", "941", "West Northamptonshire")),
        ("E10000021", "Northamptonshire (North and West from 2022)"), 2022,
        "the successors together cover the old county"),
    BoundaryChange(
        "2023-04-01", "split", (_a("E10000006", "909", "Cumbria"),),
        (_a("E06000063", None, "Cumberland"), _a("E06000064", None, "Westmorland and Furness")),
        ("E10000006", "Cumbria (Cumberland and Westmorland and Furness from 2024)"), 2024,
        "not yet in the shipped data (which end at 31 March 2023)"),
    BoundaryChange(
        "2023-04-01", "code change", (_a("E10000023", "815", "North Yorkshire"),),
        (_a("E06000065", "815", "North Yorkshire"),), ("E06000065", "North Yorkshire"), 2024,
        "county council became a unitary authority on the same area"),
    BoundaryChange(
        "2023-04-01", "code change", (_a("E10000027", "933", "Somerset"),),
        (_a("E06000066", "933", "Somerset"),), ("E06000066", "Somerset"), 2024,
        "county council became a unitary authority on the same area"),
)


def code_aliases() -> dict[str, str]:
    """Old code -> newest code for code-only changes (applied repeatedly until stable)."""
    return {c.predecessors[0].code: c.successors[0].code
            for c in BOUNDARY_CHANGES if c.kind == "code change"}


def current_code(code: str | None) -> str | None:
    """The newest GSS code of an authority whose code changed without a change of area."""
    aliases = code_aliases()
    seen = set()
    while code in aliases and code not in seen:
        seen.add(code)
        code = aliases[code]
    return code


def consistent_units() -> dict[str, tuple[str, str]]:
    """Code (newest) -> (unit code, unit name) for every authority in a merger or split."""
    out: dict[str, tuple[str, str]] = {}
    for change in BOUNDARY_CHANGES:
        if change.kind == "code change":
            continue
        for a in change.predecessors + change.successors:
            out[current_code(a.code)] = change.unit
    return out


def boundary_notes() -> dict[str, str]:
    """Code -> a short note for series that end or start at a merger or split."""
    notes: dict[str, str] = {}
    for c in BOUNDARY_CHANGES:
        if c.kind == "code change":
            continue
        last = c.first_data_year - 1
        names = " and ".join(a.name for a in c.successors)
        for a in c.predecessors:
            notes[a.code] = f"series ends {last}: {c.kind} on {c.date} into {names}"
        for a in c.successors:
            notes[a.code] = (f"series starts {c.first_data_year}: {c.kind} on {c.date} of "
                             + " and ".join(p.name for p in c.predecessors))
    return notes


# IMD 2019 is published for the upper-tier authorities of 2019. Authorities without their own row
# take the score of the 2019 authority covering (most of) their area; ``imd_proxy`` says so.
IMD_PROXIES = {
    "E06000061": "E10000021",  # North Northamptonshire: Northamptonshire (2019)
    "E06000062": "E10000021",  # West Northamptonshire: Northamptonshire (2019)
    "E06000028": "E06000058",  # Bournemouth: Bournemouth, Christchurch and Poole (2019)
    "E06000029": "E06000058",  # Poole: Bournemouth, Christchurch and Poole (2019)
    "E10000009": "E06000059",  # Dorset county council: Dorset (2019; less Christchurch)
    "E06000063": "E10000006",  # Cumberland: Cumbria (2019)
    "E06000064": "E10000006",  # Westmorland and Furness: Cumbria (2019)
}
# IMD 2019 codes for authorities whose code changed later without a change of area.
IMD_CODES = {"E06000060": "E10000002", "E06000065": "E10000023", "E06000066": "E10000027"}


def imd_code(code: str) -> tuple[str, bool]:
    """(IMD 2019 code to join on, whether it is a proxy for a different area)."""
    if code in IMD_PROXIES:
        return IMD_PROXIES[code], True
    return IMD_CODES.get(code, code), False


def changes_table() -> list[dict[str, str]]:
    """The boundary table as rows (for docs and the CLI)."""
    rows = []
    for c in BOUNDARY_CHANGES:
        rows.append({
            "date": c.date, "kind": c.kind,
            "from": "; ".join(f"{a.name} ({a.code}{', ' + a.old_code if a.old_code else ''})"
                              for a in c.predecessors),
            "to": "; ".join(f"{a.name} ({a.code}{', ' + a.old_code if a.old_code else ''})"
                            for a in c.successors),
            "consistent unit": f"{c.unit[1]} ({c.unit[0]})",
            "first data": str(c.first_data_year), "note": c.note})
    return rows
