"""Cluster and block ids of batch allocations stored before ids were read as text: ``3`` back to ``03``.

Before commit a5173bc a units file's cluster and block columns of numbers were read as floats and
each id stored as the plain text of its number (``str(int(3.0)) == "3"`` for a whole number), so
``03`` became ``3``, ``3.0`` became ``3`` and ``1e3`` became ``1000``; ids are now read exactly as
written, and an outcome file's cluster ids are matched to the stored allocation exactly, so ``03``
no longer finds ``3``. This migration gives such ids back the spelling of the units file the
allocation was made from (``TrialAllocation.upload``), row by row, by the rules of 0003 for unit
ids: an id whose file cell is a different spelling of the same number becomes that cell. An id the
file writes as it is stored is left alone, as is every id that is not a number (``A-17``: a column
of text was always kept as written) and every enrolment (no clusters or blocks).

Without a readable units file (none kept, a different number of rows, or unit ids that are not the
rows' in the same order) nothing changes:
unlike 0003's ``101.0``, a stored ``3`` is also the plain spelling of a number written ``3``, so
the file is the only witness of how it was written.

The allocation log is not touched: it is append-only and hash-chained, and still verifies (the
replay uses the ids the log holds). Reversing this migration changes nothing back.
"""

import io
import math

from django.db import migrations

#: The row keys holding ids that were read as numbers, and the option naming each one's column.
ID_KEYS = ("cluster", "block")


def written_columns(upload, columns: dict[str, str], n: int) -> dict[str, list[str | None]]:
    """Each key's column of the units file as written (as ``read_table(text=[column])`` reads it
    now), one cell per allocated row; a key whose column the file cannot give (unreadable, no
    such column, a different number of rows) is left out."""
    import pandas as pd

    if upload is None or not columns:
        return {}
    sep = "\t" if upload.filename.lower().endswith((".tsv", ".tab")) else ","
    try:
        frame = pd.read_csv(io.BytesIO(bytes(upload.content)), dtype=str, sep=sep,
                            encoding="utf-8-sig", index_col=False, keep_default_na=False,
                            skipinitialspace=True)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return {}
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) != n:
        return {}
    return {key: [v if v.strip() else None for v in frame[col]]
            for key, col in columns.items() if col in frame.columns}


def _number(text) -> float | None:
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def lines_up(rows: list[dict], units: list[str | None]) -> bool:
    """Whether the file's unit ids are the rows' (as written, or 0003's other spelling of the same
    number): the rows are the file's, in its order."""
    for row, cell in zip(rows, units, strict=True):
        stored = row.get("unit")
        if cell != stored and (_number(stored) is None or _number(stored) != _number(cell)):
            return False
    return True


def respelled(rows: list[dict], written: dict[str, list[str | None]]) -> list[dict] | None:
    """The rows with their number-made cluster and block ids given back their written spelling,
    or None when nothing changes."""
    new: dict[int, dict[str, str]] = {}
    for key, cells in written.items():
        for i, row in enumerate(rows):
            stored, cell = row.get(key), cells[i]
            if not isinstance(stored, str) or cell is None or cell == stored:
                continue
            number = _number(stored)
            if number is not None and number == _number(cell):
                new.setdefault(i, {})[key] = cell
    if not new:
        return None
    return [{**r, **new[i]} if i in new else r for i, r in enumerate(rows)]


def forwards(apps, schema_editor):
    TrialAllocation = apps.get_model("trials", "TrialAllocation")
    for alloc in TrialAllocation.objects.filter(mode="batch").select_related("upload").iterator():
        options = alloc.options or {}
        columns = {key: options[key] for key in ID_KEYS if options.get(key)}
        if not columns or not alloc.rows:
            continue
        if options.get("unit"):
            columns["unit"] = options["unit"]
        written = written_columns(alloc.upload, columns, len(alloc.rows))
        if options.get("unit"):  # without a unit column (ids 1, 2, ...) the row count must do
            units = written.pop("unit", None)
            if units is None or not lines_up(alloc.rows, units):
                continue  # not the rows' file, or not in their order: it cannot say
        rows = respelled(alloc.rows, written)
        if rows is not None:
            alloc.rows = rows
            alloc.save(update_fields=["rows"])


class Migration(migrations.Migration):

    dependencies = [
        ("trials", "0003_unit_ids_as_written"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False),
    ]
