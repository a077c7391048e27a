"""A trial record: the plain-data description of one trial that the CONSORT checklist, the flow diagram,
the trial report and the trial registry read.

A record is JSON (or a dict) of this shape; every field but ``id`` and ``title`` is optional, and what
is missing shows as an unanswered CONSORT item rather than an error::

    {
      "id": "swis-trial", "title": "...", "cluster": true,
      "units": {"cluster": "school", "individual": "pupil"},
      "arms": [{"key": "intervention", "label": "Social worker in school"},
               {"key": "control", "label": "Usual services"}],
      "registration": {"registry": "ISRCTN", "id": "...", "date": "2020-06-01", "url": "..."},
      "analysis_plan": {"path": "sap.pdf", "url": "...", "sha256": "..."},
      "design": {"name": "CRA2_2r", "parameters": {...}, "mdes": 0.1, "sample_size": "text"},
      "randomisation": {"method": "block-cluster", "seed": 20201, "block": "la", "cluster": "school",
                        "generated_by": "...", "concealment": "...", "log_sha256": "..."},
      "flow": {"assessed": {"clusters": 300}, "excluded": {"clusters": 32, "reasons": {...}},
               "arms": {"intervention": {"allocated": {"clusters": 134, "individuals": 9000},
                                         "received": {...}, "not_received": {...},
                                         "lost": {...}, "discontinued": {...},
                                         "analysed": {...}, "excluded": {...}}, ...}},
      "balance": [{"variable": "...", "level": "cluster", "means": {"intervention": 1.0, "control": 1.1},
                   "std_diff": -0.05}],
      "results": [{"outcome": "...", "primary": true, "family": "poisson", "estimate": ..., "se": ...,
                   "ci_lower": ..., "ci_upper": ..., "p_value": ..., "icc": ...,
                   "effect_size": {"g": ..., "ci_lower": ..., "ci_upper": ...},
                   "ratio": {"estimate": ..., "ci_lower": ..., "ci_upper": ...}}],
      "reporting": {"6": "Introduction, para 2", ...},
      "evidence_store": {"intervention": "slug", "outcomes": {"<result outcome>": "<outcome slug>"},
                         "risk_of_bias": "low", "timepoint_months": 24},  (see trials.publish)
      ... free-text fields named in :mod:`whatworks.trials.consort` (setting, eligibility, ...)
    }

``results`` entries take the JSON that ``whatworks trial analyse --format json`` prints (estimate,
se, ci_lower, ci_upper, p_value, icc, effect_size, ratio, level: the intervals' confidence level in
percent, 95 when absent) plus ``outcome`` and ``primary``; ``flow``
arms can be filled from an allocation table with :func:`whatworks.trials.consort.allocated_counts`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["TrialRecord", "load_record", "record_from_dict", "sha256_file", "lookup"]


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def lookup(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` in nested dicts (``None`` if absent or empty)."""
    cur: Any = data
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    if cur in ("", [], {}):
        return None
    return cur


@dataclass(frozen=True)
class TrialRecord:
    """One trial. ``data`` is the whole record as given; the named fields are the parts code reads."""

    id: str
    title: str
    cluster: bool
    cluster_unit: str
    individual_unit: str
    arms: tuple[tuple[str, str], ...]
    data: Mapping[str, Any] = field(repr=False)
    source: str | None = None
    files_dir: Path | None = None  # where analysis_plan.path is read from; None: read no files

    def get(self, path: str) -> Any:
        return lookup(self.data, path)

    def arm_label(self, key: str) -> str:
        return dict(self.arms).get(key, key)


    def analysis_plan_hash(self, content: bytes | None = None) -> dict[str, Any] | None:
        """The analysis plan's SHA-256: computed from ``content`` (the plan's bytes, e.g. as stored by
        the web app) or from ``analysis_plan.path`` (relative to the record file), checked against a
        recorded ``analysis_plan.sha256``; or the recorded hash alone. Raises if the computed hash
        differs from the recorded one."""
        plan = self.get("analysis_plan")
        if not isinstance(plan, Mapping):
            return None
        recorded = plan.get("sha256")
        out: dict[str, Any] = {"path": plan.get("path"), "url": plan.get("url"), "recorded": recorded,
                               "computed": None, "sha256": recorded}
        if content is not None:
            out["computed"] = out["sha256"] = hashlib.sha256(content).hexdigest()
            if recorded and recorded.lower() != out["computed"]:
                raise InputError(f"the analysis plan's SHA-256 is {out['computed']} but the record says "
                                 f"{recorded}: the plan changed after it was registered",
                                 file=self.source, column="analysis_plan.sha256")
        elif plan.get("path") and self.files_dir is not None:
            p = Path(plan["path"])
            p = p if p.is_absolute() else self.files_dir / p
            if not p.exists():
                raise InputError(f"analysis plan file {p} not found; give its path relative to the record "
                                 "or remove analysis_plan.path and record analysis_plan.sha256",
                                 file=self.source, column="analysis_plan.path")
            out["computed"] = out["sha256"] = sha256_file(p)
            if recorded and recorded.lower() != out["computed"]:
                raise InputError(f"the analysis plan's SHA-256 is {out['computed']} but the record says "
                                 f"{recorded}: the plan changed after it was registered",
                                 file=self.source, column="analysis_plan.sha256")
        return out


def record_from_dict(data: Mapping[str, Any], source: str | None = None, *,
                     files_dir: str | Path | None = None) -> TrialRecord:
    """Validate the parts of a record that code relies on and wrap it in a :class:`TrialRecord`.

    ``files_dir`` is the folder ``analysis_plan.path`` is relative to; without it no file is read (a
    record from a web form names no server files), and the report shows the recorded hash only."""
    if not isinstance(data, Mapping):
        raise InputError("a trial record must be a JSON object", file=source)
    for key in ("id", "title"):
        if not data.get(key):
            raise InputError(f"'{key}' is required; add it", file=source, column=key)
    arms_in = data.get("arms") or [{"key": "intervention", "label": "Intervention"},
                                   {"key": "control", "label": "Control"}]
    arms = []
    for i, a in enumerate(arms_in):
        if isinstance(a, str):
            arms.append((a, a))
        elif isinstance(a, Mapping) and a.get("key"):
            arms.append((str(a["key"]), str(a.get("label") or a["key"])))
        else:
            raise InputError("each arm needs a 'key' (and a 'label')", file=source, column=f"arms[{i}]")
    if len(arms) < 2 or len({k for k, _ in arms}) != len(arms):
        raise InputError("a trial needs at least two arms with different keys", file=source, column="arms")
    units = data.get("units") or {}
    cluster = bool(data.get("cluster", False))
    for i, r in enumerate(data.get("results") or []):
        if not isinstance(r, Mapping) or not r.get("outcome"):
            raise InputError("each result needs an 'outcome'", file=source, column=f"results[{i}]")
        result_level(r, source=source, where=f"results[{i}].level")
    return TrialRecord(id=str(data["id"]), title=str(data["title"]), cluster=cluster,
                       cluster_unit=str(units.get("cluster") or "cluster"),
                       individual_unit=str(units.get("individual") or "participant"),
                       arms=tuple(arms), data=data, source=source,
                       files_dir=Path(files_dir) if files_dir is not None else None)


def result_level(result: Mapping, *, source=None, where: str = "level") -> float:
    """The confidence level (%) of a result's intervals: its ``level`` (as ``whatworks trial
    analyse --level`` records it), 95 when the result does not say."""
    level = result.get("level", 95.0)
    if level is None:
        return 95.0
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 100:
        raise InputError(f"the confidence level must be a number between 0 and 100 (percent), not "
                         f"{level!r}", file=source, column=where)
    return float(level)


def load_record(path: str | Path) -> TrialRecord:
    """Read a trial record from JSON (errors name the file and the field)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found; give the path of a trial record (JSON)", file=str(p)) from None
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", file=str(p), row=e.lineno) from None
    return record_from_dict(data, source=str(p), files_dir=p.parent)
