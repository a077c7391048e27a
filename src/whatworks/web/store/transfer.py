"""Export and import of the whole store (JSON; CSV a file per table) with stable ids, and import of a
findings CSV in the ``whatworks effects`` column format. Imports are all-or-nothing."""

from __future__ import annotations

import csv
import io
import zipfile

from django.db import transaction
from django.utils import timezone

from whatworks.effects import EFFECT_ARGUMENTS
from whatworks.errors import InputError

from . import services
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
        "population", "setting", "where_studied", "uk_evidence", "who_delivers",
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
                         "scheme_version", "explanation", "inputs", "computed"]),
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
    import json

    from django.db import models as m

    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise InputError("is not a zip file of CSV tables", file=filename) from None
    data = {"format": "whatworks-store", "version": FORMAT_VERSION}
    with zf:
        names = set(zf.namelist())
        for table, (model, fields) in TABLES.items():
            if f"{table}.csv" not in names:
                continue
            text = zf.read(f"{table}.csv").decode("utf-8-sig")
            rows = []
            for i, raw in enumerate(csv.DictReader(io.StringIO(text)), start=1):
                row = {}
                for name, value in raw.items():
                    if name not in fields:
                        raise InputError(f"unexpected column; expected {', '.join(fields)}",
                                         file=f"{filename}:{table}.csv", row=i, column=name)
                    field = model._meta.get_field(name)
                    try:
                        row[name] = _cell(field, value, m, json)
                    except (ValueError, json.JSONDecodeError):
                        raise InputError(f"'{value}' is not a valid {field.get_internal_type()}",
                                         file=f"{filename}:{table}.csv", row=i,
                                         column=name) from None
                rows.append(row)
            data[table] = rows
    return data


def _cell(field, value: str, m, json):
    if value == "" and not isinstance(field, (m.CharField, m.TextField)):
        return None
    if isinstance(field, m.JSONField):
        return json.loads(value)
    if isinstance(field, m.BooleanField):
        if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(value)
        return value.lower() in ("true", "1")
    if isinstance(field, (m.IntegerField, m.AutoField)) and not field.is_relation:
        return int(float(value))
    if isinstance(field, (m.FloatField, m.DecimalField)):
        return float(value)
    return value


def import_store(data: dict, *, user=None) -> dict:
    """Load an exported store (upserting by natural key) and recompute every rating; atomic."""
    if not isinstance(data, dict) or data.get("format") != "whatworks-store":
        raise InputError("not a whatworks store export (format must be 'whatworks-store')",
                         column="format")
    counts = {}
    with transaction.atomic():
        for name in ("domains", "outcomes", "reviews", "interventions", "studies"):
            model, fields = TABLES[name]
            for i, row in enumerate(data.get(name, []), start=1):
                _upsert(model, fields, row, name, i)
            counts[name] = len(data.get(name, []))
        touched = set()
        for i, row in enumerate(data.get("findings", []), start=1):
            finding = _finding_from_row(row, f"findings[{i}]")
            finding.save()
            touched.add((finding.intervention_id, finding.outcome_id))
        counts["findings"] = len(data.get("findings", []))
        for intervention_id, outcome_id in sorted(touched):
            services.refresh(Intervention.objects.get(pk=intervention_id),
                             Outcome.objects.get(pk=outcome_id), reason="store imported",
                             user=user)
    return counts


def _upsert(model, fields, row: dict, table: str, index: int):
    key = NATURAL_KEYS[model]
    if not isinstance(row, dict) or not row.get(key):
        raise InputError(f"each row needs '{key}'", row=index, column=f"{table}.{key}")
    values = {}
    for f in fields:
        if f == key or f not in row:
            continue
        value = row[f]
        if f in ("domain", "review", "intervention"):
            target = {"domain": Domain, "review": Review, "intervention": Intervention}[f]
            if value in (None, ""):
                value = None
            else:
                value = target.objects.filter(**{NATURAL_KEYS[target]: value}).first()
                if value is None:
                    raise InputError(f"refers to unknown {f} '{row[f]}'", row=index,
                                     column=f"{table}.{f}")
        values[f] = value
    try:
        obj, _ = model.objects.update_or_create(**{key: row[key]}, defaults=values)
        obj.full_clean(validate_unique=False)
    except Exception as exc:  # a database or validation error becomes a row-level message
        raise InputError(str(exc), row=index, column=table) from None
    return obj


def _finding_from_row(row: dict, where: str) -> Finding:
    study = Study.objects.filter(key=row.get("study")).first()
    if study is None:
        raise InputError(f"unknown study '{row.get('study')}'", column=f"{where}.study")
    outcome = Outcome.objects.filter(slug=row.get("outcome")).first()
    if outcome is None:
        raise InputError(f"unknown outcome '{row.get('outcome')}'", column=f"{where}.outcome")
    finding = Finding.objects.filter(pk=row.get("id")).first() if row.get("id") else None
    finding = finding or Finding()
    finding.study, finding.intervention, finding.outcome = study, study.intervention, outcome
    finding.timepoint_months = row.get("timepoint_months")
    finding.measure = row.get("measure") or ""
    finding.reported = row.get("reported") or {}
    finding.illustrative = bool(row.get("illustrative"))
    finding.notes = row.get("notes") or ""
    try:
        finding.yi, finding.vi = services.compute_effect(finding.measure, finding.reported)
    except services.FindingInputError as exc:
        raise InputError(str(exc), column=where) from None
    return finding


FINDING_COLUMNS = ["study", "outcome", "timepoint_months", "measure", "illustrative", "notes"]


def import_findings_csv(text: str, *, filename: str = "findings.csv", user=None) -> int:
    """Import findings from CSV (columns: study, outcome, measure, timepoint_months, and the
    reported statistics under ``whatworks effects`` / metafor names: ai, bi, ci, di, n1i, ... or yi,
    vi). All rows or none: the first bad row raises InputError naming file, row and column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        raise InputError("is empty; it needs a header row", file=filename)
    header = [h.strip() for h in reader.fieldnames]
    allowed = set(FINDING_COLUMNS) | set(EFFECT_ARGUMENTS) | {"yi", "vi"}
    unknown = [h for h in header if h not in allowed]
    if unknown:
        raise InputError(f"unexpected column; allowed columns are {', '.join(sorted(allowed))}",
                         file=filename, row=0, column=unknown[0])
    for required in ("study", "outcome", "measure"):
        if required not in header:
            raise InputError("this column is required", file=filename, column=required)
    count = 0
    touched = set()
    with transaction.atomic():
        for i, raw in enumerate(reader, start=1):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            reported = {k: row[k] for k in header if k in EFFECT_ARGUMENTS or k in ("yi", "vi")
                        if row.get(k, "") != ""}
            for k, v in reported.items():
                try:
                    reported[k] = float(v)
                except ValueError:
                    raise InputError(f"'{v}' is not a number", file=filename, row=i,
                                     column=k) from None
            timepoint = row.get("timepoint_months") or None
            try:
                timepoint = float(timepoint) if timepoint else None
            except ValueError:
                raise InputError(f"'{timepoint}' is not a number", file=filename, row=i,
                                 column="timepoint_months") from None
            payload = {"study": row["study"], "outcome": row["outcome"],
                       "measure": row["measure"], "timepoint_months": timepoint,
                       "reported": reported, "notes": row.get("notes", ""),
                       "illustrative": row.get("illustrative", "").lower() in ("1", "true", "yes")}
            try:
                finding = _finding_from_row(payload, "row")
            except InputError as exc:
                column = (exc.column or "").split(".")[-1] or None
                message = str(exc).split(": ", 1)[-1]
                raise InputError(message, file=filename, row=i, column=column) from None
            finding.save()
            touched.add((finding.intervention_id, finding.outcome_id))
            count += 1
        for intervention_id, outcome_id in sorted(touched):
            services.refresh(Intervention.objects.get(pk=intervention_id),
                             Outcome.objects.get(pk=outcome_id),
                             reason=f"findings imported from {filename}", user=user)
    return count
