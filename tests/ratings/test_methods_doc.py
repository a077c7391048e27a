"""docs/methods/ratings.md states every parameter of the default scheme, with its value."""

import dataclasses
import re
from pathlib import Path

from whatworks.ratings import SCHEME_V1, SCHEME_V2

DOC = Path(__file__).resolve().parents[2] / "docs" / "methods" / "ratings.md"


def _table():
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| `(\w+)` \| ([^|]+) \| ([^|]+) \|", line)
        if m:
            rows[m.group(1)] = (m.group(2).strip(), m.group(3).strip())
    return rows


def test_every_scheme_parameter_is_in_the_methods_table():
    names = {f.name for f in dataclasses.fields(SCHEME_V2.parameters)}
    assert names == set(_table())


def test_the_table_gives_each_simple_parameter_its_value_in_both_versions():
    def shown(value):
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    for name, (v2, v1) in _table().items():
        for scheme, text in ((SCHEME_V2, v2), (SCHEME_V1, v1)):
            value = getattr(scheme.parameters, name)
            if isinstance(value, (bool, int, float, str)) and text != "same":
                number = re.match(r"[\d.]+", text)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and number:
                    assert float(number.group()) == value, (name, scheme.version)
                else:
                    assert text.split(" ")[0] == shown(value), (name, scheme.version)
