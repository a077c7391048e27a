"""Reading an import's file, before validation: size limits, text encoding, CSV with its header,
a zip of CSV tables (what it may hold and expand to), a store export as JSON. Every malformed input
is refused with a message naming the file, row and column; nothing here touches the database.
Validation and writing are in ``imports``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile

from django.conf import settings
from django.db import models

from whatworks.errors import InputError

from .models import Domain, Finding, Intervention, Outcome, Review, Study

STORE_TABLES = ("domains", "outcomes", "reviews", "interventions", "studies", "findings")
COMPUTED_TABLES = ("syntheses", "ratings", "rating_changes")  # recomputed on import, never read
MODELS = {"domains": Domain, "outcomes": Outcome, "reviews": Review,
          "interventions": Intervention, "studies": Study, "findings": Finding}


def limit(name: str) -> int:
    return int(getattr(settings, f"WHATWORKS_IMPORT_{name}"))


# -- reading files ------------------------------------------------------------------------------

def check_size(raw: bytes, filename: str) -> None:
    if not raw.strip():
        raise InputError("is empty; nothing was imported", file=filename)
    if len(raw) > limit("MAX_BYTES"):
        raise InputError(f"is {len(raw):,} bytes; imports are limited to {limit('MAX_BYTES'):,} "
                         "(WHATWORKS_IMPORT_MAX_BYTES); split the file", file=filename)


def decode(raw: bytes, filename: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"is not UTF-8 text (byte {exc.start}); save it as UTF-8",
                         file=filename) from None


def read_csv(text: str, filename: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and rows (with their 1-based data row numbers) of a CSV; refuses an empty file,
    duplicate or blank column names, rows with extra or missing cells, NUL bytes and rows beyond
    the limit."""
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n")
        raise InputError("contains a NUL byte; remove it", file=filename, row=line or None)
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise InputError("is empty; it needs a header row with the column names", file=filename)
        header = [h.strip() for h in header]
        seen = set()
        for h in header:
            if not h:
                raise InputError("a column has no name in the header row", file=filename, row=0)
            if h in seen:
                raise InputError("appears twice in the header row; keep one", file=filename, row=0,
                                 column=h)
            seen.add(h)
        rows = []
        for cells in reader:
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            n = len(rows) + 1
            if len(cells) > len(header):
                raise InputError(f"has {len(cells)} cells but the header has {len(header)} "
                                 "columns; remove the extra cells or name their columns",
                                 file=filename, row=n)
            if len(cells) < len(header):
                raise InputError(f"has {len(cells)} cells but the header has {len(header)} "
                                 f"columns; the row ends before '{header[len(cells)]}'",
                                 file=filename, row=n, column=header[len(cells)])
            rows.append((n, cells))
            if len(rows) > limit("MAX_ROWS"):
                raise InputError(f"has more than {limit('MAX_ROWS'):,} rows "
                                 "(WHATWORKS_IMPORT_MAX_ROWS); split the file", file=filename)
    except csv.Error as exc:
        raise InputError(f"is not valid CSV: {exc}", file=filename) from None
    if not rows:
        raise InputError("has a header but no rows; nothing to import", file=filename)
    return header, rows


def read_zip(raw: bytes, filename: str) -> dict:
    """A store exported as a zip of CSV tables, back into the export's plain-data shape."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError):
        raise InputError("is not a zip file of CSV tables", file=filename) from None
    expected = {f"{t}.csv" for t in (*STORE_TABLES, *COMPUTED_TABLES)}
    data = {"format": "whatworks-store"}
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        for info in infos:
            if info.filename not in expected:
                raise InputError(f"unexpected file in the zip; a store zip holds "
                                 f"{', '.join(f'{t}.csv' for t in STORE_TABLES)}",
                                 file=f"{filename}:{info.filename}")
        if not any(i.filename in {f"{t}.csv" for t in STORE_TABLES} for i in infos):
            raise InputError("holds none of the store's tables ("
                             f"{', '.join(f'{t}.csv' for t in STORE_TABLES)}); nothing to import",
                             file=filename)
        budget = limit("MAX_EXPANDED_BYTES")
        if sum(i.file_size for i in infos) > budget:
            raise InputError(f"expands to {sum(i.file_size for i in infos):,} bytes; imports are "
                             f"limited to {budget:,} (WHATWORKS_IMPORT_MAX_EXPANDED_BYTES)",
                             file=filename)
        total = 0
        for info in infos:
            table = info.filename[:-4]
            chunks = []
            try:
                with zf.open(info) as fh:
                    while chunk := fh.read(1 << 20):  # counted as read: sizes in a zip can lie
                        total += len(chunk)
                        if total > budget:
                            raise InputError(f"expands to more than {budget:,} bytes "
                                             "(WHATWORKS_IMPORT_MAX_EXPANDED_BYTES)", file=filename)
                        chunks.append(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise InputError(f"cannot be read from the zip: {exc}",
                                 file=f"{filename}:{info.filename}") from None
            if table in COMPUTED_TABLES:
                continue
            where = f"{filename}:{info.filename}"
            header, rows = read_csv(decode(b"".join(chunks), where), where)
            data[table] = [_zip_row(table, header, n, cells, where) for n, cells in rows]
    return data


def _zip_row(table: str, header: list[str], n: int, cells: list[str], where: str) -> dict:
    model = MODELS[table]
    row = {}
    for name, text in zip(header, cells, strict=True):
        try:
            f = model._meta.get_field(name)
        except Exception:  # noqa: BLE001 - an unknown column: named below by validation
            row[name] = text
            continue
        if text == "" and not isinstance(f, (models.CharField, models.TextField)):
            row[name] = None
        elif isinstance(f, models.JSONField):
            try:
                row[name] = json.loads(text)
            except ValueError:
                raise InputError(f"'{text[:40]}' is not JSON (e.g. [\"home\"] or {{\"yi\": 0.1}})",
                                 file=where, row=n, column=name) from None
        elif isinstance(f, models.BooleanField):
            if text.strip().lower() not in ("true", "false", "1", "0"):
                raise InputError(f"'{text[:40]}' is not true or false", file=where, row=n,
                                 column=name)
            row[name] = text.strip().lower() in ("true", "1")
        elif isinstance(f, (models.IntegerField, models.FloatField, models.DecimalField)) \
                and not f.is_relation:
            try:
                value = float(text)
            except ValueError:
                raise InputError(f"'{text[:40]}' is not a number", file=where, row=n,
                                 column=name) from None
            whole = isinstance(f, models.IntegerField)
            if whole and math.isfinite(value) and value != int(value):
                raise InputError(f"'{text[:40]}' is not a whole number", file=where, row=n,
                                 column=name)
            row[name] = int(value) if whole and math.isfinite(value) else value
        else:
            row[name] = text
    return row


def parse_store(raw: bytes, filename: str) -> dict:
    """The store data in an uploaded JSON export or CSV zip (not yet validated)."""
    check_size(raw, filename)
    if raw[:2] == b"PK":
        return read_zip(raw, filename)
    text = decode(raw, filename)
    if "\x00" in text:
        raise InputError("contains a NUL byte; remove it", file=filename)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"line {exc.lineno}, column {exc.colno}: {exc.msg}; is it a store "
                         "export (JSON) or its CSV zip?", file=filename) from None


def count_rows(data) -> int:
    if not isinstance(data, dict):
        return 0
    return sum(len(v) for k, v in data.items() if k in STORE_TABLES and isinstance(v, list))
