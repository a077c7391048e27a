"""Imports, in two phases: read and validate the whole file with no transaction open (every
malformed input refused with a message naming file, table, row and column), then write it in one
short transaction (all or nothing). Limits on the upload, on what a zip expands to and on rows
come from settings (``WHATWORKS_IMPORT_*``). A large import runs as a background job
(``ImportJob``) with progress; a web request never holds the database while it validates.
Reading the files (limits, encodings, CSV, zip, JSON) is in ``import_files``.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from whatworks.effects import EFFECT_ARGUMENTS
from whatworks.errors import InputError, WhatWorksError

from ..accounts.audit import record
from ..accounts.roles import is_admin
from . import changes, services
from .import_files import (  # noqa: F401 - reading files; re-exported for imports' callers
    COMPUTED_TABLES,
    MODELS,
    STORE_TABLES,
    check_size,
    count_rows,
    decode,
    limit,
    parse_store,
    read_csv,
    read_zip,
)
from .models import (
    Finding,
    ImportJob,
    Intervention,
    Outcome,
    Study,
    validate_timepoint,
)
from .page_cache import renew_everything

log = logging.getLogger(__name__)

KEYS = {"domains": "slug", "outcomes": "slug", "reviews": "key", "interventions": "slug",
        "studies": "key"}
REFERENCES = {"domain": "domains", "review": "reviews", "intervention": "interventions",
              "study": "studies", "outcome": "outcomes"}
FINDING_COLUMNS = ["study", "outcome", "timepoint_months", "measure", "illustrative", "notes"]
STAT_COLUMNS = [*[a for a in EFFECT_ARGUMENTS if a != "sign"], "yi", "vi", "icc", "cluster_size",
                "cluster_cv"]
#: Text columns of a findings CSV: how a ratio estimate is written ("ratio" or "log") and cluster
#: sizes, as ``whatworks effects --cluster-sizes`` reads them ("12;30;8|20;25", or an average) or
#: one group's sizes per column ("12;30;8").
TEXT_STAT_COLUMNS = ["entered_as", "cluster_sizes", "cluster_sizes1", "cluster_sizes2"]


# -- validating a store export ------------------------------------------------------------------

@dataclass
class StorePlan:
    """A validated store import, ready to write."""

    filename: str
    tables: dict[str, list[dict]] = field(default_factory=dict)
    findings: list[dict] = field(default_factory=list)  # with yi, vi computed
    status_changes: list[tuple[str, str, str, int]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(len(v) for v in self.tables.values()) + len(self.findings)


def _err(message, filename, table, row=None, column=None):
    return InputError(message, file=f"{filename}:{table}" if table else filename, row=row,
                      column=column)


def validate_store(data, *, filename: str = "store.json", user=None, progress=None) -> StorePlan:
    """Check every table, row and cell of a store export before anything is written."""
    if not isinstance(data, dict):
        raise _err("is not a store export: it must be a JSON object with \"format\": "
                   "\"whatworks-store\"", filename, None)
    if data.get("format") != "whatworks-store":
        raise _err("is not a whatworks store export (\"format\" must be \"whatworks-store\")",
                   filename, None, column="format")
    for name, value in data.items():
        if name not in (*STORE_TABLES, *COMPUTED_TABLES, "format", "version", "exported"):
            raise _err(f"unexpected key; a store export has format, version, exported and the "
                       f"tables {', '.join(STORE_TABLES)} (syntheses and ratings are recomputed)",
                       filename, None, column=name)
        if name in STORE_TABLES and not isinstance(value, list):
            raise _err(f"must be a list of rows, not {type(value).__name__}", filename, name)
    if not any(data.get(t) for t in STORE_TABLES):
        raise _err(f"holds no rows in any of the store's tables ({', '.join(STORE_TABLES)}); "
                   "nothing to import", filename, None)
    total = count_rows(data)
    if total > limit("MAX_ROWS"):
        raise _err(f"has {total:,} rows; imports are limited to {limit('MAX_ROWS'):,} "
                   "(WHATWORKS_IMPORT_MAX_ROWS); split the file", filename, None)
    from .transfer import TABLES

    plan = StorePlan(filename=filename)
    in_file: dict[str, dict[str, dict]] = {t: {} for t in KEYS}
    done = 0
    for table in STORE_TABLES[:-1]:
        model, fields = TABLES[table]
        key = KEYS[table]
        rows = []
        for i, row in enumerate(data.get(table) or [], start=1):
            rows.append(_clean_row(model, fields, row, table, i, filename))
            if rows[-1][key] in in_file[table]:
                raise _err(f"'{rows[-1][key]}' appears twice; keep one row per {key}", filename,
                           table, i, key)
            in_file[table][rows[-1][key]] = rows[-1]
            done += 1
            if progress and done % 500 == 0:
                progress(done, total)
        plan.tables[table] = rows
    known = {t: set(in_file[t]) | _stored_keys(t, data) for t in KEYS}
    for table in STORE_TABLES[:-1]:
        model, fields = TABLES[table]
        stored = _stored_keys_only(table, in_file[table])  # existing rows may give some columns
        for i, row in enumerate(plan.tables[table], start=1):
            if row[KEYS[table]] in stored:
                continue
            for name in fields:
                f = model._meta.get_field(name)
                if name not in row and not f.blank and not f.null and not f.has_default():
                    raise _err(f"a new {table[:-1] if table != 'studies' else 'study'} needs "
                               f"its {name}", filename, table, i, name)
    for table in STORE_TABLES[:-1]:
        for i, row in enumerate(plan.tables[table], start=1):
            for column, target in REFERENCES.items():
                value = row.get(column)
                if column in row and value not in (None, "") and value not in known[target]:
                    raise _err(f"refers to unknown {column} '{value}'", filename, table, i, column)
    plan.status_changes = _status_changes(plan.tables.get("interventions", []), user, filename)
    study_intervention = dict(Study.objects.filter(
        key__in={r.get("study") for r in data.get("findings") or [] if isinstance(r, dict)}
        - set(in_file["studies"])).values_list("key", "intervention__slug"))
    study_intervention.update({k: r.get("intervention") for k, r in in_file["studies"].items()})
    _, fields = TABLES["findings"]
    for i, row in enumerate(data.get("findings") or [], start=1):
        plan.findings.append(_clean_finding(row, i, filename, fields, known, study_intervention))
        done += 1
        if progress and done % 200 == 0:
            progress(done, total)
    if user is not None and not is_admin(user):
        _refuse_published(data, in_file, filename)
    return plan


def _refuse_published(data: dict, in_file: dict, filename: str) -> None:
    """An editor's store import may not change a published intervention (its changes wait in a
    draft for an administrator): the first row that would is refused, naming it."""
    from . import drafts

    held = {i.slug for i in Intervention.objects.filter(status=Intervention.PUBLISHED)} | set(
        drafts.Draft.objects.values_list("intervention__slug", flat=True))
    if not held:
        return
    study_of = dict(Study.objects.filter(key__in={
        r.get("study") for r in data.get("findings") or [] if isinstance(r, dict)} | set(
        in_file["studies"])).values_list("key", "intervention__slug"))
    for table, column, slug_of in (
            ("interventions", "slug", lambda r: r.get("slug")),
            ("studies", "intervention", lambda r: r.get("intervention") or study_of.get(r.get("key"))),
            ("studies", "key", lambda r: study_of.get(r.get("key"))),
            ("findings", "study", lambda r: (in_file["studies"].get(r.get("study")) or {}).get(
                "intervention") or study_of.get(r.get("study")))):
        for i, row in enumerate(data.get(table) or [], start=1):
            slug = slug_of(row) if isinstance(row, dict) else None
            if slug in held:
                raise _err(f"would change '{slug}', which is published: an editor's changes to it "
                           "wait in its draft (the editor's pages or the API) until an "
                           "administrator publishes; remove its rows, or ask an administrator "
                           "to import this file", filename, table, i, column)


def _stored_keys_only(table: str, keys) -> set[str]:
    """Which of these keys are already in the database."""
    model, key = MODELS[table], KEYS[table]
    return set(model.objects.filter(**{f"{key}__in": list(keys)}).values_list(key, flat=True))


def _stored_keys(table: str, data: dict) -> set[str]:
    model, key = MODELS[table], KEYS[table]
    wanted = set()
    for t in STORE_TABLES:
        for row in data.get(t) or []:
            if isinstance(row, dict):
                for column, target in REFERENCES.items():
                    if target == table and isinstance(row.get(column), str):
                        wanted.add(row[column])
                if t == table and isinstance(row.get(key), str):
                    wanted.add(row[key])
    return set(model.objects.filter(**{f"{key}__in": wanted}).values_list(key, flat=True))


def _clean_row(model, fields, row, table, i, filename) -> dict:
    key = KEYS[table]
    if not isinstance(row, dict):
        raise _err(f"must be an object with the table's columns, not {type(row).__name__}",
                   filename, table, i)
    for name in row:
        if name not in fields:
            raise _err(f"unexpected column; {table} has {', '.join(fields)}", filename, table, i,
                       name)
    if not isinstance(row.get(key), str) or not row.get(key):
        raise _err(f"each row needs its {key} (text)", filename, table, i, key)
    clean = {}
    for name, value in row.items():
        f = model._meta.get_field(name)
        if f.is_relation:
            if value not in (None, "") and not isinstance(value, str):
                raise _err(f"must be the {name}'s {'slug' if name != 'review' else 'key'} (text)",
                           filename, table, i, name)
            clean[name] = value or None
            continue
        clean[name] = _clean_value(f, value, filename, table, i, name)
    return clean


def _clean_value(f, value, filename, table, i, name):
    """One cell, checked strictly against its model field (type, range, choices, validators)."""
    if value is None:
        if isinstance(f, (models.CharField, models.TextField)) and f.blank:
            return ""
        if f.null:
            return None
        raise _err("must not be empty", filename, table, i, name)
    if isinstance(f, (models.CharField, models.TextField)):
        if not isinstance(value, str):
            raise _err(f"must be text, not {type(value).__name__}", filename, table, i, name)
        if "\x00" in value:
            raise _err("contains a NUL byte; remove it", filename, table, i, name)
    elif isinstance(f, models.BooleanField):
        if not isinstance(value, bool):
            raise _err("must be true or false", filename, table, i, name)
    elif isinstance(f, (models.IntegerField, models.FloatField, models.DecimalField)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _err(f"must be a number, not {json.dumps(value)[:40]}", filename, table, i, name)
        if isinstance(f, models.IntegerField) and value != int(value):
            raise _err(f"must be a whole number, not {value}", filename, table, i, name)
    elif isinstance(f, (models.DateField, models.DateTimeField)):
        if not isinstance(value, str):
            raise _err("must be a date as text, e.g. 2025-03-31", filename, table, i, name)
    try:
        if isinstance(f, models.JSONField):  # structure checked by the field's validators
            f.run_validators(value)
            return value
        cleaned = f.clean(value, None)
    except ValidationError as exc:
        raise _err("; ".join(exc.messages), filename, table, i, name) from None
    return float(cleaned) if isinstance(f, models.DecimalField) and cleaned is not None else cleaned


def _status_changes(rows, user, filename):
    stored = dict(Intervention.objects.filter(slug__in=[r["slug"] for r in rows])
                  .values_list("slug", "status"))
    changed = []
    for i, row in enumerate(rows, start=1):
        if "status" not in row:
            continue
        current = stored.get(row["slug"], Intervention.DRAFT)
        if row["status"] == current:
            continue
        changed.append((row["slug"], current, row["status"], i))
        if user is not None and not is_admin(user):
            raise _err(f"only an administrator may publish or unpublish: '{row['slug']}' is "
                       f"{current}; remove 'status' or set it to '{current}'", filename,
                       "interventions", i, "status")
    return changed


def _clean_finding(row, i, filename, fields, known, study_intervention) -> dict:
    table = "findings"
    if not isinstance(row, dict):
        raise _err(f"must be an object with the table's columns, not {type(row).__name__}",
                   filename, table, i)
    for name in row:
        if name not in fields:
            raise _err(f"unexpected column; findings have {', '.join(fields)}", filename, table,
                       i, name)
    fid = row.get("id")
    if fid is not None and (isinstance(fid, bool) or not isinstance(fid, int) or fid < 1):
        raise _err(f"must be a whole number (the finding's id) or left out, not {json.dumps(fid)}",
                   filename, table, i, "id")
    for column in ("study", "outcome"):
        value = row.get(column)
        if not isinstance(value, str) or value not in known[REFERENCES[column]]:
            raise _err(f"unknown {column} {json.dumps(value)[:60]}", filename, table, i, column)
    intervention = study_intervention.get(row["study"])
    if row.get("intervention") not in (None, "", intervention):
        raise _err(f"the study '{row['study']}' belongs to '{intervention}', not "
                   f"'{row['intervention']}' (a finding's intervention is its study's)",
                   filename, table, i, "intervention")
    out = {"id": fid, "study": row["study"], "outcome": row["outcome"]}
    for name in ("timepoint_months", "measure", "illustrative", "notes"):
        f = Finding._meta.get_field(name)
        out[name] = _clean_value(f, row.get(name, f.get_default() if f.has_default() else None),
                                 filename, table, i, name)
    reported = row.get("reported")
    if not isinstance(reported, dict) or not reported:
        raise _err('must be an object of the reported statistics, e.g. {"ai": 12, "n1i": 100, '
                   '"ci": 20, "n2i": 100}', filename, table, i, "reported")
    try:
        out["yi"], out["vi"] = services.compute_effect(out["measure"], reported)
    except services.FindingInputError as exc:
        column = next(iter(exc.fields))
        raise _err(" ".join(exc.fields[column]), filename, table, i,
                   "measure" if column == "measure" else f"reported.{column}") from None
    out["reported"] = reported
    return out


# -- validating a findings CSV -------------------------------------------------------------------

def validate_findings_csv(raw: bytes, *, filename: str = "findings.csv", progress=None) -> list[dict]:
    """Rows of a findings CSV (the ``whatworks effects`` columns), every cell checked."""
    check_size(raw, filename)
    header, rows = read_csv(decode(raw, filename), filename)
    allowed = set(FINDING_COLUMNS) | set(STAT_COLUMNS) | set(TEXT_STAT_COLUMNS)
    for h in header:
        if h not in allowed:
            raise InputError(f"unexpected column; allowed columns are {', '.join(sorted(allowed))}",
                             file=filename, row=0, column=h)
    for required in ("study", "outcome", "measure"):
        if required not in header:
            raise InputError("this column is required", file=filename, row=0, column=required)
    studies = dict(Study.objects.filter(key__in={c[header.index("study")].strip() for _, c in rows})
                   .values_list("key", "pk"))
    outcomes = dict(Outcome.objects.filter(
        slug__in={c[header.index("outcome")].strip() for _, c in rows}).values_list("slug", "pk"))
    out = []
    for n, cells in rows:
        row = {h: c.strip() for h, c in zip(header, cells, strict=True)}
        if row["study"] not in studies:
            raise InputError(f"unknown study '{row['study'][:60]}'", file=filename, row=n,
                             column="study")
        if row["outcome"] not in outcomes:
            raise InputError(f"unknown outcome '{row['outcome'][:60]}'", file=filename, row=n,
                             column="outcome")
        reported = {}
        for k in STAT_COLUMNS:
            if row.get(k, "") != "":
                try:
                    reported[k] = float(row[k])
                except ValueError:
                    raise InputError(f"'{row[k][:40]}' is not a number", file=filename, row=n,
                                     column=k) from None
        reported.update(_text_stats(row, filename, n))
        timepoint = None
        if row.get("timepoint_months"):
            try:
                timepoint = float(row["timepoint_months"])
            except ValueError:
                raise InputError(f"'{row['timepoint_months'][:40]}' is not a number",
                                 file=filename, row=n, column="timepoint_months") from None
            try:
                validate_timepoint(timepoint)
            except ValidationError as exc:
                raise InputError("; ".join(exc.messages), file=filename, row=n,
                                 column="timepoint_months") from None
        flag = row.get("illustrative", "").lower()
        if flag not in ("", "1", "0", "true", "false", "yes", "no"):
            raise InputError(f"'{flag[:20]}' is not true or false", file=filename, row=n,
                             column="illustrative")
        try:
            yi, vi = services.compute_effect(row["measure"], reported)
        except services.FindingInputError as exc:
            column = next(iter(exc.fields))
            raise InputError(" ".join(exc.fields[column]), file=filename, row=n,
                             column=column if column in header else None) from None
        out.append({"study_id": studies[row["study"]], "outcome_id": outcomes[row["outcome"]],
                    "timepoint_months": timepoint, "measure": row["measure"],
                    "reported": reported, "yi": yi, "vi": vi,
                    "illustrative": flag in ("1", "true", "yes"), "notes": row.get("notes", "")})
        if progress and len(out) % 200 == 0:
            progress(len(out), len(rows))
    return out


def _text_stats(row: dict, filename: str, n: int) -> dict:
    """The text cells of a findings CSV row as stored in ``Finding.reported``."""
    from whatworks.effects.cluster import parse_cluster_sizes

    out = {}
    if row.get("entered_as"):
        out["entered_as"] = row["entered_as"].lower()
    for name in ("cluster_sizes1", "cluster_sizes2"):
        if row.get(name):
            out[name] = row[name]
    if row.get("cluster_sizes"):
        try:
            average, sizes1, sizes2 = parse_cluster_sizes(row["cluster_sizes"])
        except InputError as exc:
            raise InputError(exc.message, file=filename, row=n, column="cluster_sizes") from None
        if sizes1 is None:
            out["cluster_size"] = average
        else:
            out["cluster_sizes1"], out["cluster_sizes2"] = list(sizes1), list(sizes2)
    for name in ("cluster_sizes1", "cluster_sizes2"):
        if isinstance(out.get(name), list):
            out[name] = [float(x) for x in out[name]]
    return out


# -- writing (one short transaction) -----------------------------------------------------------

def write_findings(rows: list[dict], *, filename: str, user=None, counts: dict | None = None,
                   warnings: list | None = None, before_commit=None) -> int:
    """Add the rows' findings: to the live tables for unpublished interventions, and to the draft
    of a published one (``drafts.py``: readers see them when an administrator publishes). The
    number sent to drafts goes in ``counts["findings_in_drafts"]``; ``warnings`` gets the
    warnings on the interventions written to (``drafts.gap_warnings``), read inside the write's
    transaction, so they are there whenever the import is (``run``); ``before_commit(counts,
    warnings)``, if given, is called last inside it (a background job records that it is done)."""
    from . import drafts

    def work():
        interventions = dict(Study.objects.filter(pk__in={r["study_id"] for r in rows})
                             .values_list("pk", "intervention_id"))
        findings = [Finding(intervention_id=interventions[r["study_id"]], **r) for r in rows]
        held = {i.pk: i for i in Intervention.objects.filter(pk__in=set(interventions.values()))
                if drafts.uses_draft(i)}
        for intervention in held.values():
            _to_draft(intervention, [f for f in findings if f.intervention_id == intervention.pk])
        findings = [f for f in findings if f.intervention_id not in held]
        pairs = {(f.intervention_id, f.outcome_id) for f in findings}
        changes.lock_pairs(pairs)
        Finding.objects.bulk_create(findings, batch_size=500)
        renew_everything()  # bulk writes send no signals: every page, once this commits
        changes.refresh_pairs(pairs, reason=f"findings imported from {filename}", user=user)
        if counts is not None and held:
            counts["findings_in_drafts"] = len(rows) - len(findings)
        if warnings is not None:
            warnings[:] = drafts.gap_warnings(interventions.values())  # [:]: a retry starts again
        if before_commit is not None:
            before_commit({"findings": len(rows), **(counts or {})}, list(warnings or []))
        return len(rows)

    def _to_draft(intervention, findings):
        def edit(snapshot):
            refs = {s["ref"] for s in snapshot["studies"]}
            for f in findings:
                if f.study_id not in refs:
                    raise _err(f"study {f.study.key!r} is removed in the draft of "
                               f"{intervention.name}; publish or discard the draft first",
                               filename, None)
                snapshot["findings"].append(drafts.finding_item(
                    f, f.study_id, drafts.new_ref(snapshot, intervention)))
        drafts.change(intervention, edit, user=user)

    changes.require_editor(user)
    return changes.retrying(work)


def write_store(plan: StorePlan, *, user=None, warnings: list | None = None,
                before_commit=None) -> dict:
    """Write a validated store import (upserting by natural key) and refresh every rating it
    changed; returns the rows written per table. It writes the live tables, so a published
    intervention it would leave marked as an evidence gap with a finding with an effect size is
    refused and nothing is written (``_refuse_live_gap_contradictions``). ``warnings`` gets the
    warnings (``drafts.gap_warnings``) on the interventions it wrote: those in the file, those its
    studies belong to (before and after) and those its findings belong to (before and after),
    read inside the write's transaction, so they are there whenever the import is (``run``);
    ``before_commit(counts, warnings)``, if given, is called last inside it."""
    from . import drafts
    from .transfer import TABLES

    changes.require_editor(user)

    def work():
        counts = {}
        keys = [r["key"] for r in plan.tables.get("studies", [])]
        before = dict(Study.objects.filter(key__in=keys).values_list("key", "intervention_id"))
        for table in STORE_TABLES[:-1]:
            model, _ = TABLES[table]
            for row in plan.tables.get(table, []):
                values = {k: v for k, v in row.items() if k != KEYS[table]}
                for column, target in REFERENCES.items():
                    if column in values and values[column] is not None:
                        m = MODELS[target]
                        values[column] = m.objects.get(**{KEYS[target]: values[column]})
                model.objects.update_or_create(**{KEYS[table]: row[KEYS[table]]}, defaults=values)
            counts[table] = len(plan.tables.get(table, []))
        touched = set()
        moved_into = {}  # study key -> its intervention now, for the studies the file moved
        for study in Study.objects.filter(key__in=before):
            if study.intervention_id != before[study.key]:
                moved_into[study.key] = study.intervention_id
                moved = Finding.objects.filter(study=study)
                touched |= set(moved.values_list("intervention_id", "outcome_id"))
                moved.update(intervention_id=study.intervention_id)
                touched |= set(moved.values_list("intervention_id", "outcome_id"))
        studies = dict(Study.objects.filter(key__in={f["study"] for f in plan.findings})
                       .values_list("key", "pk"))
        study_intervention = dict(Study.objects.filter(pk__in=studies.values())
                                  .values_list("pk", "intervention_id"))
        outcomes = dict(Outcome.objects.filter(slug__in={f["outcome"] for f in plan.findings})
                        .values_list("slug", "pk"))
        existing = Finding.objects.in_bulk([f["id"] for f in plan.findings if f["id"]])
        new, updated, written = [], [], []
        for f in plan.findings:
            finding = existing.get(f["id"]) or Finding()
            if finding.pk:
                touched.add((finding.intervention_id, finding.outcome_id))
            finding.study_id = studies[f["study"]]
            finding.intervention_id = study_intervention[finding.study_id]
            finding.outcome_id = outcomes[f["outcome"]]
            for name in ("timepoint_months", "measure", "reported", "yi", "vi", "illustrative",
                         "notes"):
                setattr(finding, name, f[name])
            touched.add((finding.intervention_id, finding.outcome_id))
            (updated if finding.pk else new).append(finding)
            written.append(finding)
        changes.lock_pairs(touched)
        Finding.objects.bulk_create(new, batch_size=500)
        Finding.objects.bulk_update(updated, ["study", "intervention", "outcome", "timepoint_months",
                                              "measure", "reported", "yi", "vi", "illustrative",
                                              "notes"], batch_size=500)
        counts["findings"] = len(plan.findings)
        renew_everything()  # bulk writes send no signals: every page, once this commits
        changes.refresh_pairs(touched, reason="store imported", user=user)
        for slug, old, new_status, row in plan.status_changes:
            why = changes.empty_because(Intervention.objects.get(slug=slug)) \
                if new_status == Intervention.PUBLISHED else None
            if why:
                raise _err(f"'{slug}' cannot be published: {why}; or import it as 'draft'",
                           plan.filename, "interventions", row, "status")
            record("publish" if new_status == Intervention.PUBLISHED else "unpublish", user=user,
                   target=slug, detail=f"{old} -> {new_status} (store import of {plan.filename})")
        _refuse_live_gap_contradictions(plan, moved_into, written)
        if warnings is not None:  # [:]: a retried transaction starts again
            warnings[:] = drafts.gap_warnings({i for i, _ in touched} | set(before.values()) | set(
                Study.objects.filter(key__in=keys).values_list("intervention_id", flat=True)) | set(
                Intervention.objects.filter(slug__in=[r["slug"] for r in plan.tables.get(
                    "interventions", [])]).values_list("pk", flat=True)))
        if before_commit is not None:
            before_commit(dict(counts), list(warnings or []))
        return counts

    return changes.retrying(work)


def _refuse_live_gap_contradictions(plan: StorePlan, moved_into: dict[str, int],
                                    written: list[Finding]) -> None:
    """Refuse a store import (inside its transaction: nothing is written) that leaves a published
    intervention, as it stands after the write, marked as an evidence gap with a finding with an
    effect size in its live tables, where readers see it at once ("no evidence yet" over a
    rating). The core decides (``gap_conflict``, ``public`` for a published intervention); an
    unpublished one is kept, with ``run``'s warning. A contradiction the import had a part in is
    refused: a row of the file marking the intervention (``evidence_gap``), a study the file moved
    into it with findings with an effect size, or a finding with an effect size the file wrote to
    it (``written``, in the file's order); the first such row is named, with the fix."""
    from whatworks.ratings.publication import gap_conflict

    rows = plan.tables.get("interventions", [])
    marked = dict(Intervention.objects.filter(slug__in=[r["slug"] for r in rows if r.get(
        "evidence_gap")]).values_list("slug", "pk"))
    with_effect = [(i, f) for i, f in enumerate(written, start=1)
                   if f.yi is not None and f.vi is not None]
    # only an intervention marked as a gap can be contradicted: read no other's findings
    gaps = {i.pk: i for i in Intervention.objects.filter(
        pk__in={*marked.values(), *moved_into.values(), *(f.intervention_id for _, f in with_effect)},
        evidence_gap=True)}
    if not gaps:
        return
    moved_with_effect = set(Finding.objects.filter(
        study__key__in=[k for k, i in moved_into.items() if i in gaps], yi__isnull=False,
        vi__isnull=False).values_list("study__key", flat=True))
    blame: dict[int, tuple] = {}  # the first row of the file that had a part: table, row, column
    for i, row in enumerate(rows, start=1):
        if marked.get(row["slug"]) in gaps:
            blame.setdefault(marked[row["slug"]], ("interventions", i, "evidence_gap", None))
    for i, row in enumerate(plan.tables.get("studies", []), start=1):
        if row["key"] in moved_with_effect:
            blame.setdefault(moved_into[row["key"]], ("studies", i, "intervention", row["key"]))
    for i, finding in with_effect:
        if finding.intervention_id in gaps:
            blame.setdefault(finding.intervention_id, ("findings", i, "study", None))
    for intervention_id, (table, row, column, study) in blame.items():
        intervention = gaps[intervention_id]
        conflict = gap_conflict(
            evidence_gap=intervention.evidence_gap,
            has_effect_finding=Finding.objects.filter(intervention_id=intervention_id,
                                                      yi__isnull=False, vi__isnull=False).exists(),
            public=intervention.status == Intervention.PUBLISHED)
        if conflict is not None and conflict.refused:
            raise _err(_gap_contradicted(table, intervention.slug, study), plan.filename, table,
                       row, column)


def _gap_contradicted(table: str, slug: str, study: str | None) -> str:
    """What a row of a store import did to contradict a published evidence gap, and the fix."""
    gap = "marked as an evidence gap (evidence_gap: true, no study with outcomes yet)"
    what = {"interventions": f"marks '{slug}' as an evidence gap (evidence_gap: true, no study "
                             "with outcomes yet), but it is published and has findings with an "
                             "effect size",
            "studies": f"moves study '{study}', which has findings with an effect size, into "
                       f"'{slug}', which is published and {gap}",
            "findings": f"gives '{slug}' a finding with an effect size, but it is published and "
                        f"{gap}"}[table]
    return (f"{what}: readers would read \"no evidence yet\" over a rating. Untick the marker "
            "(evidence_gap: false in its row of interventions, or on its edit page), or remove its "
            "findings with an effect size (their rows in this file, or on the editor's pages), then "
            "import again")


# -- running an import: now (small) or as a background job (large) ------------------------------

@dataclass(frozen=True)
class Imported:
    """What an import wrote and what it left to be done.

    ``counts``: rows written per table (``{"findings": n}``, with ``findings_in_drafts`` when
    some went to drafts, or the store's tables), numbers that are summed for a job's progress.
    ``warnings``: on every intervention the import touched, as editors now see it (its draft, if
    any), the warnings the API's writes answer with (``drafts.gap_warnings``: an evidence gap
    with a finding with an effect size, which publishing will refuse)."""

    counts: dict
    warnings: list[dict] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        return _describe(self.counts)


def run(kind: str, raw: bytes, filename: str, *, user=None, progress=None,
        before_commit=None) -> Imported:
    """Validate then write an upload; returns what was imported and the warnings on the
    interventions it touched (``Imported``), read inside the write's transaction (a failure to
    read them rolls the import back, so a saved import always has them). ``before_commit``, if
    given, gets the ``Imported`` last inside that transaction (a job marks itself done there, so
    it is done exactly when the import is saved). Raises InputError naming file, table, row and
    column."""
    warnings: list[dict] = []
    inside = None if before_commit is None else (lambda c, w: before_commit(Imported(c, w)))
    if kind == "findings":
        rows = validate_findings_csv(raw, filename=filename, progress=progress)
        extra: dict = {}
        n = write_findings(rows, filename=filename, user=user, counts=extra, warnings=warnings,
                           before_commit=inside)
        counts = {"findings": n, **extra}
    else:
        data = parse_store(raw, filename)
        plan = validate_store(data, filename=filename, user=user, progress=progress)
        counts = write_store(plan, user=user, warnings=warnings, before_commit=inside)
    return Imported(counts, warnings)


def estimate_rows(kind: str, raw: bytes) -> int:
    """A quick upper bound on the rows of an upload, to decide whether it runs in the background."""
    if kind == "findings" or raw[:2] == b"PK":
        return raw.count(b"\n")
    return raw.count(b"{")


def start(kind: str, raw: bytes, filename: str, *, user) -> ImportJob:
    """Queue an import as a background job and start it on a worker thread of this process."""
    job = ImportJob.objects.create(kind=kind, filename=filename[:200], user=user,
                                   total=estimate_rows(kind, raw))
    if getattr(settings, "WHATWORKS_IMPORT_JOBS_INLINE", False):  # tests: run in this thread
        execute(job.pk, raw, user)
    else:
        transaction.on_commit(lambda: threading.Thread(
            target=_thread, args=(job.pk, raw, user), name=f"import-{job.pk}", daemon=True).start())
    return job


def _thread(job_id: int, raw: bytes, user) -> None:
    try:
        execute(job_id, raw, user)
    finally:
        connection.close()


def execute(job_id: int, raw: bytes, user) -> None:
    """Run a queued job: validation with progress (no transaction open), then the write."""
    job = ImportJob.objects.get(pk=job_id)
    ImportJob.objects.filter(pk=job_id).update(state=ImportJob.RUNNING, started=timezone.now())

    def progress(done, total):
        ImportJob.objects.filter(pk=job_id).update(done=done, total=total,
                                                   heartbeat=timezone.now())

    def done(result: Imported) -> None:  # inside the import's transaction: done iff it is saved
        ImportJob.objects.filter(pk=job_id).update(
            state=ImportJob.DONE, finished=timezone.now(), counts=result.counts,
            warnings=result.warnings, done=result.rows, total=result.rows,
            message=f"imported {result.describe()}")

    try:
        run(job.kind, raw, job.filename, user=user, progress=progress, before_commit=done)
    except WhatWorksError as exc:
        ImportJob.objects.filter(pk=job_id).update(state=ImportJob.FAILED, finished=timezone.now(),
                                                   message=f"{exc}; nothing was imported")
    except Exception as exc:  # noqa: BLE001 - recorded on the job; the page shows it
        log.exception("import job %s failed", job_id)
        ImportJob.objects.filter(pk=job_id).update(
            state=ImportJob.FAILED, finished=timezone.now(),
            message=f"the import failed ({type(exc).__name__}); nothing was imported")


def mark_if_stale(job: ImportJob) -> bool:
    """A queued or running job with no progress for WHATWORKS_IMPORT_STALE_SECONDS stopped with
    its server (its transaction rolled back): record it as failed."""
    if job.finished_or_failed:
        return False
    last = job.heartbeat or job.started or job.created
    if (timezone.now() - last).total_seconds() < settings.WHATWORKS_IMPORT_STALE_SECONDS:
        return False
    job.state, job.finished = ImportJob.FAILED, timezone.now()
    job.message = "the import stopped (the server restarted during it); nothing was imported"
    job.save(update_fields=["state", "finished", "message"])
    return True


def _describe(counts: dict) -> str:
    if counts.get("findings_in_drafts"):
        held = counts["findings_in_drafts"]
        rest = _describe({k: v for k, v in counts.items() if k != "findings_in_drafts"})
        return (f"{rest} ({held} of them to the drafts of published interventions: readers see "
                "them when an administrator publishes)")
    return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items()) or "nothing"
