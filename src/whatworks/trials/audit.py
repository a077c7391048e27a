"""The tamper-evident allocation log: JSON lines joined by a SHA-256 hash chain.

Each line is one JSON object with ``index`` (0, 1, 2, ...), ``type`` (``header``, ``allocation``
or ``seal``), its content, ``prev`` (the previous entry's ``hash``; 64 zeros for the header) and
``hash`` = SHA-256 of the entry's canonical JSON without ``hash`` (keys sorted, no spaces, UTF-8).
Editing any entry breaks its own hash; deleting, inserting or reordering entries breaks the
``prev`` link or the index sequence of the next one; cutting entries off the end removes the
``seal`` (batch logs record how many allocations they hold). Because a hash chain can be rebuilt
by whoever rewrites the whole file, :func:`verify_log` also *replays* the randomisation from the
header's method and seed with the logged units and checks every logged arm; and the final hash
(the log's ``head``) can be recorded elsewhere (the trial registry, an e-mail to the statistician)
and checked with ``verify_log(path, head=...)``.

References
----------
Haber S, Stornetta WS (1991). How to time-stamp a digital document. J Cryptology 3:99-111
    (linking entries by hashes so that none can be altered or back-dated undetected).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .._results import Result, jsonable
from ..errors import InputError
from .randomise import Allocation

GENESIS = "0" * 64
DESIGN_COLUMNS = ("block", "cluster", "stratum")


def canonical(entry: dict) -> bytes:
    """The bytes that are hashed: sorted keys, no whitespace, UTF-8, no NaN."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def entry_hash(entry: dict) -> str:
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def software() -> dict:
    """Versions recorded with every allocation (the algorithm does not depend on them)."""
    import numpy
    import pandas

    from .. import __version__
    return {"whatworks": __version__, "python": platform.python_version(),
            "numpy": numpy.__version__, "pandas": pandas.__version__}


class AllocationLog:
    """An append-only allocation log. ``AllocationLog.create(path, header)`` starts one (refusing
    to overwrite); ``AllocationLog(path)`` re-opens an intact one to append (minimisation: one unit
    at a time); ``append`` writes and flushes each entry to disk before returning."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        check = verify_log(self.path, replay=False, complete=False)
        if not check.ok:
            raise InputError(f"the log is broken at line {check.line}: {check.reason}; "
                             "it cannot be appended to", file=str(self.path))
        if check.sealed:
            raise InputError("the log is sealed (a complete batch allocation); start a new log",
                             file=str(self.path))
        self.index, self.head = check.n_entries, check.head

    @classmethod
    def create(cls, path: str | Path, header: dict) -> AllocationLog:
        path = Path(path)
        if path.exists() and path.stat().st_size > 0:
            raise InputError("already exists; an allocation log is never overwritten; choose a new "
                             "file name", file=str(path))
        entry = {"index": 0, "type": "header", "time": _now(), **jsonable(header), "prev": GENESIS}
        entry["hash"] = entry_hash(entry)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(canonical(entry).decode("utf-8") + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return cls(path)

    def append(self, kind: str, content: dict) -> dict:
        entry = {"index": self.index, "type": kind, "time": _now(), **jsonable(content),
                 "prev": self.head}
        entry["hash"] = entry_hash(entry)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(canonical(entry).decode("utf-8") + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.index += 1
        self.head = entry["hash"]
        return entry


def allocation_header(allocation: Allocation, *, units_sha256: str | None = None,
                      covariates: pd.DataFrame | None = None, sealed: bool = True) -> dict:
    """The header of a log for ``allocation`` (everything needed to replay it)."""
    header = {"method": allocation.method, "seed": allocation.seed,
              "algorithm": allocation.algorithm, "arms": list(allocation.arms),
              "ratio": list(allocation.ratio), "options": allocation.options,
              "n_units": len(allocation.table) if sealed else None, "software": software()}
    if units_sha256:
        header["units_sha256"] = units_sha256
    if covariates is not None:
        header["cluster_covariates"] = {str(c): {k: float(v) for k, v in row.items()}
                                        for c, row in covariates.iterrows()}
    return header


def write_log(path: str | Path, allocation: Allocation, *, units_sha256: str | None = None,
              covariates: pd.DataFrame | None = None) -> str:
    """Write a sealed log of a batch allocation: the header, one entry per unit in the list's
    order, and the seal. Returns the head hash (record it elsewhere)."""
    log = AllocationLog.create(path, allocation_header(allocation, units_sha256=units_sha256,
                                                       covariates=covariates))
    extra = [c for c in allocation.table.columns if c not in ("unit", "arm")]
    for rec in allocation.table.to_dict(orient="records"):
        content = {"unit": rec["unit"], "arm": rec["arm"]}
        content.update({c: rec[c] for c in extra})
        log.append("allocation", content)
    log.append("seal", {"n_allocations": len(allocation.table), "counts": allocation.counts})
    return log.head


@dataclass(frozen=True, repr=False)
class Verification(Result):
    """The outcome of checking a log: ``ok``, and if not, the first broken ``line`` and why."""

    path: str
    ok: bool
    n_entries: int
    n_allocations: int
    sealed: bool
    replayed: bool
    head: str
    line: int | None = None
    reason: str | None = None

    def summary_text(self) -> str:
        if self.ok:
            return (f"{self.path}: intact ({self.n_allocations} allocations, "
                    f"{'sealed' if self.sealed else 'open'}"
                    f"{', replayed from the seed' if self.replayed else ''}); head {self.head}")
        return f"{self.path}: BROKEN at line {self.line}: {self.reason}"


def verify_log(path: str | Path, *, head: str | None = None, replay: bool = True,
               complete: bool = True) -> Verification:
    """Check the chain, the indices, the seal and (``replay``) every arm against the seed; with
    ``head``, also that the log ends at that recorded hash. Reports the first broken line.
    ``complete=False`` accepts a batch log still being written (no seal yet)."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file; check the path", file=str(path))
    prev, n, allocations, sealed = GENESIS, 0, [], False
    header: dict | None = None

    def broken(line, reason):
        return Verification(path=str(path), ok=False, n_entries=n, n_allocations=len(allocations),
                            sealed=sealed, replayed=False, head=prev, line=line, reason=reason)

    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for lineno, text in enumerate(lines, start=1):
        try:
            entry = json.loads(text)
        except json.JSONDecodeError:
            return broken(lineno, "not a JSON object (edited or truncated)")
        if not isinstance(entry, dict):
            return broken(lineno, "not a JSON object (edited)")
        if sealed:
            return broken(lineno, "an entry after the seal (appended after the log was closed)")
        if entry.get("hash") != entry_hash(entry):
            return broken(lineno, "its hash does not match its contents (the entry was edited)")
        if entry.get("prev") != prev:
            return broken(lineno, "it does not follow the entry before it (an entry was deleted, "
                                  "inserted or moved)")
        if entry.get("index") != n:
            return broken(lineno, f"index {entry.get('index')} where {n} was expected (entries "
                                  "deleted, inserted or moved)")
        kind = entry.get("type")
        if n == 0 and kind != "header":
            return broken(lineno, "the first entry is not the header")
        if n > 0 and kind == "header":
            return broken(lineno, "a second header")
        if kind == "header":
            header = entry
        elif kind == "allocation":
            allocations.append(entry)
        elif kind == "seal":
            if entry.get("n_allocations") != len(allocations):
                return broken(lineno, f"the seal counts {entry.get('n_allocations')} allocations "
                                      f"but the log holds {len(allocations)}")
            sealed = True
        else:
            return broken(lineno, f"unknown entry type {kind!r}")
        prev = entry["hash"]
        n += 1
    if header is None:
        return broken(1, "the log is empty (no header)")
    if complete and header.get("n_units") is not None and not sealed:
        return broken(len(lines) + 1, f"the log ends without its seal ({len(allocations)} of "
                                      f"{header['n_units']} allocations: entries cut off the end)")
    if sealed and header.get("n_units") is not None and header["n_units"] != len(allocations):
        return broken(len(lines), f"the header announces {header['n_units']} units but the log "
                                  f"holds {len(allocations)}")
    if head is not None and head != prev:
        return broken(len(lines), f"the log ends at hash {prev}, not at the recorded head {head}")
    replayed = False
    if replay and allocations:
        mismatch = _replay(header, allocations)
        if mismatch is not None:
            return broken(*mismatch)
        replayed = True
    return Verification(path=str(path), ok=True, n_entries=n, n_allocations=len(allocations),
                        sealed=sealed, replayed=replayed, head=prev)


def _replay(header: dict, allocations: list[dict]) -> tuple[int, str] | None:
    """Re-run the randomisation from the header and the logged units; the first logged arm that
    differs (line number, reason), or None. Skipped (None) for an unknown algorithm."""
    from ._hashrng import ALGORITHM
    from .randomise import randomise

    if header.get("algorithm") != ALGORITHM:
        return None
    opts = header.get("options", {})
    frame = pd.DataFrame([{k: v for k, v in a.items()
                           if k not in ("index", "type", "time", "prev", "hash", "arm")}
                          for a in allocations])
    kwargs = {"unit": "unit", "arms": header["arms"], "ratio": header["ratio"]}
    for col in ("block", "cluster"):
        if col in frame.columns and opts.get(col):
            kwargs[col] = col
    if "stratum" in frame.columns:
        kwargs["strata"] = ["stratum"]
    method = header["method"]
    if method == "blocks":
        kwargs["block_sizes"] = opts.get("block_sizes")
    if method == "constrained":
        cov = pd.DataFrame.from_dict(header.get("cluster_covariates", {}), orient="index")
        frame = frame.join(cov, on="cluster")
        kwargs.update(covariates=list(cov.columns), metric=opts["metric"], cutoff=opts["cutoff"],
                      max_enumerate=opts["max_enumerate"], n_candidates=opts["n_candidates"])
    if method == "minimisation":
        kwargs.update(factors=opts["factors"], weights=opts.get("weights"),
                      p_best=opts.get("p_best", 0.8))
    try:
        again = randomise(frame, method=method, seed=header["seed"], **kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure to replay is a finding, reported as such
        return 1, f"the allocation cannot be replayed from the header ({exc})"
    for k, (a, arm) in enumerate(zip(allocations, again.table["arm"], strict=True)):
        if a["arm"] != arm:
            return (k + 2, f"unit {a['unit']!r} is logged in arm {a['arm']!r} but the seed gives "
                           f"{arm!r} (the arm was changed and the chain rebuilt)")
    return None
