"""Export and import of the whole store (JSON; CSV a file per table) with stable ids, and import of a
findings CSV in the ``whatworks effects`` column format. Imports are all-or-nothing."""

from __future__ import annotations

import csv
import io
import zipfile

from django.utils import timezone

from .models import (
    Domain,
    Finding,
    Intervention,
    Outcome,
    Rating,
    RatingChange,
    Review,
    Study,
    Synthesis,
)

FORMAT_VERSION = 1

TABLES = {
    "domains": (Domain, ["slug", "name", "description", "order"]),
    "outcomes": (Outcome, ["slug", "name", "description", "domain", "direction", "measures",
                           "order"]),
    "reviews": (Review, ["key", "citation", "year", "amstar2", "url"]),
    "interventions": (Intervention, [
        "slug", "name", "aliases", "status", "summary", "what_it_is", "how_it_works", "who_it_is_for",
        "population", "setting", "where_studied", "uk_evidence", "evidence_gap", "who_delivers",
        "training_and_supervision", "fidelity", "what_supports_it", "unit_cost_gbp", "cost_notes",
        "caveats", "review", "last_reviewed"]),
    "studies": (Study, ["key", "citation", "year", "design", "country", "sample_size",
                        "unit_of_randomisation", "follow_up_months", "risk_of_bias", "source",
                        "illustrative", "intervention"]),
    "findings": (Finding, ["id", "study", "intervention", "outcome", "timepoint_months", "measure",
                           "reported", "yi", "vi", "illustrative", "notes"]),
    "syntheses": (Synthesis, ["intervention", "outcome", "measure", "k", "participants", "method",
                              "estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2",
                              "i2"]),
    "ratings": (Rating, ["intervention", "outcome", "effectiveness", "effectiveness_label",
                         "effectiveness_state", "strength", "strength_label", "scheme",
                         "scheme_version", "explanation", "statement", "inputs", "computed"]),
    "rating_changes": (RatingChange, ["intervention", "outcome", "when", "reason",
                                      "old_effectiveness", "new_effectiveness", "old_strength",
                                      "new_strength", "scheme_version", "explanation"]),
}
NATURAL_KEYS = {Domain: "slug", Outcome: "slug", Review: "key", Intervention: "slug", Study: "key"}


def _value(obj, field: str):
    value = getattr(obj, field)
    if hasattr(value, "_meta"):  # a related object: its stable natural key
        return getattr(value, NATURAL_KEYS[type(value)])
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is not None and type(value).__name__ == "Decimal":
        return float(value)
    return value


def export_store(*, public_only: bool = False) -> dict:
    """The whole store as plain data, keyed by stable natural ids (slugs, keys, finding ids).

    ``public_only`` leaves out draft interventions and everything that belongs to them.
    """
    out = {"format": "whatworks-store", "version": FORMAT_VERSION,
           "exported": timezone.now().isoformat()}
    for name, (model, fields) in TABLES.items():
        qs = model.objects.all().order_by("pk")
        if public_only and model is Intervention:
            qs = qs.filter(status=Intervention.PUBLISHED)
        elif public_only and "intervention" in fields:
            qs = qs.filter(intervention__status=Intervention.PUBLISHED)
        related = [f for f in fields if f in ("domain", "review", "intervention", "study", "outcome")]
        if related:
            qs = qs.select_related(*related)
        out[name] = [{f: _value(obj, f) for f in fields} for obj in qs]
    return out


def export_csv_zip(*, public_only: bool = False) -> bytes:
    """The store as a zip of CSV files, one per table (JSON-valued cells are JSON text)."""
    import json

    data = export_store(public_only=public_only)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (_, fields) in TABLES.items():
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=fields)
            writer.writeheader()
            for row in data[name]:
                writer.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v
                                 for k, v in row.items()})
            zf.writestr(f"{name}.csv", text.getvalue())
    return buf.getvalue()


def read_csv_zip(content: bytes, *, filename: str = "store.zip") -> dict:
    """Read a store exported as a zip of CSV files back into the export's plain-data shape."""
    from .imports import read_zip

    return read_zip(content, filename)


def import_store(data: dict, *, user=None, filename: str = "store.json") -> dict:
    """Validate a store export whole, then load it (upserting by natural key) and recompute
    every affected rating, all or nothing (see ``imports``)."""
    from .imports import validate_store, write_store

    return write_store(validate_store(data, filename=filename, user=user), user=user)


def import_findings_csv(text: str, *, filename: str = "findings.csv", user=None) -> int:
    """Import findings from CSV (columns: study, outcome, measure, timepoint_months, and the
    reported statistics under ``whatworks effects`` / metafor names: ai, bi, ci, di, n1i, ... or yi,
    vi). All rows or none: the first bad row raises InputError naming file, row and column."""
    from .imports import validate_findings_csv, write_findings

    rows = validate_findings_csv(text.encode("utf-8"), filename=filename)
    return write_findings(rows, filename=filename, user=user)
