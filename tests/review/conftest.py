import os
from pathlib import Path

import pytest

#: The shared data sets live in ../shared/data relative to the repository root (CI puts shared/
#: beside the clone). WHATWORKS_SHARED_DATA overrides it for checkouts elsewhere (git worktrees).
SHARED_DATA = Path(os.environ.get("WHATWORKS_SHARED_DATA")
                   or Path(__file__).resolve().parents[2] / ".." / "shared" / "data")


def shared(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test saying why."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared data sets are expected in ../shared/data beside "
                    "the repository (or set WHATWORKS_SHARED_DATA)")
    return path


def write_csv(path, header, rows):
    """Write a CSV file (a header row, then the rows) and return its path."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def assert_one_line_naming(code: int, err: str, path) -> None:
    """A refused input: exit 2, one line, no traceback, naming the file (``path``)."""
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert str(path) in err, err
