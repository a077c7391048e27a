"""Findings tables from the Evidence Store's CSV export, so any stored rating can be recomputed
outside the web application (``whatworks rate``).

The store's adapter (``whatworks.web.store.rating``) builds its tables with the same
:func:`finding_row`, so the table the store rates and the table rebuilt from its export are the
same table.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError

#: Store designs the rating rules know under another name (a cohort study is "other": listed,
#: not rated).
DESIGN_FOR_RATING = {"cohort": "other"}
#: Reported statistics kept in the table (group sizes give ``n`` when it is missing; 2x2 counts
#: give the comparison-group risk of the plain-language statement).
REPORTED = ("ai", "bi", "ci", "di", "n1i", "n2i", "ni")


def study_label(citation: str, year) -> str:
    """"Smith et al. (2019)": the citation's first sentence and the year, for plots.

    A first sentence longer than 60 characters is shortened at a word boundary and ends in "…"
    (after any comma, semicolon or colon that ended the last word kept); a word is never cut.
    """
    text = " ".join(str(citation or "").split(".")[0].split())
    if len(text) > 60:
        words = text.split(" ")
        kept = words[0]
        for word in words[1:]:
            if len(kept) + 1 + len(word) > 60:
                break
            kept += " " + word
        text = (kept.rstrip(",;:") or kept) + "\u2026"
    return f"{text} ({year})" if year and str(year) not in text else text


def _blank(value):
    return None if value in (None, "") else value


def finding_row(*, study: Mapping, finding: Mapping) -> dict:
    """One stored finding as a row of a findings table (the columns of ``whatworks rate``).

    ``study`` has the store's ``key``, ``citation``, ``year``, ``design``, ``sample_size`` and
    ``risk_of_bias``; ``finding`` its ``id``, ``measure``, ``yi``, ``vi``, ``timepoint_months`` and
    ``reported`` statistics.
    """
    design = study["design"]
    row = {"study": study["key"], "design": DESIGN_FOR_RATING.get(design, design),
           "n": _blank(study.get("sample_size")), "risk_of_bias": study.get("risk_of_bias") or "",
           "measure": finding["measure"], "yi": finding["yi"], "vi": finding["vi"],
           "es_id": str(finding["id"]), "months": _blank(finding.get("timepoint_months")),
           "label": study_label(study.get("citation"), _blank(study.get("year")))}
    reported = finding.get("reported")
    if isinstance(reported, dict):
        for name in REPORTED:
            if name in reported:
                row[name] = reported[name]
    return row


def sort_key(*, study: Mapping, finding: Mapping):
    """The store's order: study year, study key, finding id."""
    return (int(study.get("year") or 0), str(study["key"]), int(finding["id"]))


def table(pairs) -> pd.DataFrame:
    """A findings table from (study, finding) mappings, in the store's order; findings without an
    effect size are left out (they have none to pool)."""
    usable = [(s, f) for s, f in pairs if _blank(f.get("yi")) is not None
              and _blank(f.get("vi")) is not None]
    usable.sort(key=lambda sf: sort_key(study=sf[0], finding=sf[1]))
    frame = pd.DataFrame([finding_row(study=s, finding=f) for s, f in usable])
    if not frame.empty:
        frame = frame.reindex(columns=list(dict.fromkeys(
            ["study", "design", "n", "risk_of_bias", "measure", "yi", "vi", "es_id", "months",
             "label", *frame.columns])))
    return frame


@dataclass(frozen=True)
class StoredEvidence:
    """One intervention x outcome of an exported store: its findings table and context."""

    intervention: str
    outcome: str
    findings: pd.DataFrame
    review_amstar2: str | None


def _read_zip(source) -> dict[str, list[dict]]:
    name = str(source) if isinstance(source, (str, Path)) else "store.zip"
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError("is not a zip file of CSV tables (the store's CSV export)", file=name) from None
    tables = {}
    with zf:
        for table_name in ("studies", "findings", "interventions", "reviews"):
            try:
                text = zf.read(f"{table_name}.csv").decode("utf-8-sig")
            except KeyError:
                raise InputError(f"has no {table_name}.csv; export the store as CSV again",
                                 file=name) from None
            tables[table_name] = list(csv.DictReader(io.StringIO(text)))
    return tables


def stored_evidence(source) -> list[StoredEvidence]:
    """Every intervention x outcome with findings in a store CSV export (zip path or bytes)."""
    t = _read_zip(source)
    studies = {s["key"]: s for s in t["studies"]}
    reviews = {r["key"]: r for r in t["reviews"]}
    amstar = {i["slug"]: (reviews.get(i.get("review") or "", {}).get("amstar2") or None)
              for i in t["interventions"]}
    groups: dict[tuple[str, str], list] = {}
    for f in t["findings"]:
        finding = dict(f)
        for name in ("yi", "vi", "timepoint_months"):
            finding[name] = float(f[name]) if f.get(name) not in (None, "") else None
        finding["reported"] = json.loads(f["reported"]) if f.get("reported") else {}
        s = dict(studies[f["study"]])
        s["sample_size"] = int(float(s["sample_size"])) if s.get("sample_size") else None
        groups.setdefault((f["intervention"], f["outcome"]), []).append((s, finding))
    out = []
    for (intervention, outcome), pairs in sorted(groups.items()):
        frame = table(pairs)
        if not frame.empty:
            out.append(StoredEvidence(intervention=intervention, outcome=outcome, findings=frame,
                                      review_amstar2=amstar.get(intervention)))
    return out
