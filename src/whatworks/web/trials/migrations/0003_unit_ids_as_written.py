"""Unit ids of batch allocations stored before ids were read as text: ``101.0`` back to ``101``.

Before commit a5173bc a units file's unit column of whole numbers was read as floats and each id
stored as ``str(101.0) == "101.0"``; ids are now read exactly as written, and an outcome file's
ids are matched to the stored allocation exactly, so ``101`` no longer finds ``101.0``. This
migration gives such ids back the spelling of the units file the allocation was made from
(``TrialAllocation.upload``, kept with it), row by row: an id ``101.0`` whose file cell is ``101``
(or ``0101``, ``1e2``...: any spelling of the same number) becomes that cell. An id the file itself
wrote as ``101.0`` is a genuine id and stays, as does every id that is not a whole float's text
(``A-17``, ``101.5``) and every enrolment (units typed one at a time, as text, never converted).
Without a readable units file (none kept, or rows that do not line up with it) the ids are changed
only when every one of them is a whole float's text, the mark of a column read as numbers: then
``101.0`` can only have been ``101`` (the plain spelling of a whole number); otherwise they stay.

The allocation log is not touched: it is append-only and hash-chained, and still verifies (the
replay uses the ids the log holds). Reversing this migration changes nothing back.
"""

import io
import re

from django.db import migrations

WHOLE_FLOAT = re.compile(r"-?[0-9]+\.0")


def written_ids(upload, column: str, n: int) -> list[str | None] | None:
    """The units file's ``column`` as written (as ``read_table(text=[column])`` reads it now),
    one per allocated row, or None when the file cannot say (unreadable, no such column, a
    different number of rows)."""
    import pandas as pd

    if upload is None:
        return None
    sep = "\t" if upload.filename.lower().endswith((".tsv", ".tab")) else ","
    try:
        frame = pd.read_csv(io.BytesIO(bytes(upload.content)), dtype=str, sep=sep,
                            encoding="utf-8-sig", index_col=False, keep_default_na=False,
                            skipinitialspace=True)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if column not in frame.columns or len(frame) != n:
        return None
    return [v if v.strip() else None for v in frame[column]]


def _same_number(written: str, stored: str) -> bool:
    try:
        return float(written) == float(stored)
    except ValueError:
        return False


def respelled(rows: list[dict], written: list[str | None] | None) -> list[dict] | None:
    """The rows with their float-made unit ids given back their written spelling, or None when
    nothing changes."""
    ids = [r.get("unit") for r in rows]
    made = [i for i, v in enumerate(ids) if isinstance(v, str) and WHOLE_FLOAT.fullmatch(v)]
    if not made:
        return None
    if written is not None:
        new = {i: written[i] for i in made
               if written[i] is not None and written[i] != ids[i] and _same_number(written[i], ids[i])}
    elif len(made) == len(ids):  # every id a whole float's text: the column was read as numbers
        new = {i: ids[i][:-2] for i in made}
    else:
        new = {}
    if not new:
        return None
    return [{**r, "unit": new[i]} if i in new else r for i, r in enumerate(rows)]


def forwards(apps, schema_editor):
    TrialAllocation = apps.get_model("trials", "TrialAllocation")
    for alloc in TrialAllocation.objects.filter(mode="batch").select_related("upload").iterator():
        column = (alloc.options or {}).get("unit")
        if not column or not alloc.rows:
            continue  # no unit column: the ids were numbered 1, 2, ... as text
        rows = respelled(alloc.rows, written_ids(alloc.upload, column, len(alloc.rows)))
        if rows is not None:
            alloc.rows = rows
            alloc.save(update_fields=["rows"])


class Migration(migrations.Migration):

    dependencies = [
        ("trials", "0002_randomisation_and_analysis"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False),
    ]
