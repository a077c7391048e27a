"""Screening a real review: the team's decisions so far in, the next records to screen out.

The team keeps its decisions in a CSV (``id``, ``label``, optional ``source``) and appends rows as it
screens. :func:`screen` is stateless: it replays the decisions, in the order they were made, into a
fresh :class:`~.session.ScreeningSession`, refits the model once and returns the next records in the
model's order, with the running recall estimate (:func:`~.stopping.estimate_recall`) and each
default stopping rule's verdict (:func:`~.simulate.default_rules`). Given the same records,
decisions and seed the answer is the same.

Where a decision came from matters to the stopping rules. A row whose ``source`` is ``prior`` was
labelled before the tool's ranking was used (known includes, a pilot sample); priors must come
before every other row and never count in a rule's sample. A row without a source is, as
:meth:`ScreeningSession.label` decides, ``random`` while the rows before it do not yet hold one
relevant and one irrelevant label (no model could have ranked it) and ``model`` after that. Random
and model rows are the screened sequence the rules test: the ranked quasi-sample rule of Callaghan
& Müller-Hansen (2020) treats the last records screened as a sample of those not screened before
them, which holds only if the records after the priors were screened in the order this tool
proposed (each batch from the latest run of the command).

References
----------
Callaghan MW, Müller-Hansen F (2020). Statistical stopping criteria for automated screening in
systematic reviews. Systematic Reviews 9:273.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whatworks.errors import InputError, ParameterError

from .data import Records, RowNumbers, csv_rows, decode_csv
from .feature_cache import extract_cached
from .registry import DEFAULT_MODEL, resolve_features
from .session import ScreeningSession
from .simulate import default_rules

__all__ = ["LABEL_VALUES", "MIN_SAMPLE", "SOURCES", "Decision", "DecisionsLock", "ScreenResult",
           "append_decision",
           "read_decisions", "replay", "screen", "standing", "undo_last_decision"]

#: The label values a decisions file may hold (case-insensitive) and what each means.
LABEL_VALUES = {"1": 1, "include": 1, "included": 1, "yes": 1,
                "0": 0, "exclude": 0, "excluded": 0, "no": 0}

#: The values of the optional ``source`` column; blank means "work it out" (see the module docstring).
SOURCES = ("prior", "random", "model")


@dataclass(frozen=True)
class Decision:
    """One screening decision: the record's index in the records table, 1 or 0, where it came from
    (``prior``, ``random``, ``model``, or None to be worked out) and the line it was read from."""

    index: int
    label: int
    source: str | None = None
    line: int | None = None


def read_decisions(path: str | Path, ids: Sequence[str]) -> list[Decision]:
    """Read a decisions file (columns ``id``, ``label``, optional ``source``) in the order of its rows.

    ``ids`` are the records' ids in table order. Column names are matched case-insensitively and
    blank lines are skipped. Every problem -- a missing column, text that is not UTF-8, an unknown
    id, an id labelled twice, a label or source that is not allowed, a prior after screened
    records -- is an :class:`~whatworks.errors.InputError` naming the file, the line and the column.
    """
    name = str(path)
    text = decode_csv(path, expect="columns id and label (include or exclude)")
    position = {rid: k for k, rid in enumerate(ids)}
    by_row = isinstance(ids, RowNumbers)  # the records file had no id column
    reader = csv.reader(io.StringIO(text, newline=""))
    out: list[Decision] = []
    try:
        header = next((row for row in reader if row), None)
        if header is None:
            raise InputError("line 1: the file is empty; give a header row with columns id and label",
                             file=name, column="id")
        header = [h.strip() for h in header]
        columns = {c.lower(): i for i, c in reversed(list(enumerate(header)))}
        for need in ("id", "label"):
            if need not in columns:
                raise InputError(f"line 1: no column '{need}'; a decisions file has columns id, label "
                                 f"and optionally source; the columns are {', '.join(header)}",
                                 file=name, column=need)
        iid, ilab, isrc = columns["id"], columns["label"], columns.get("source")
        width = len(header)
        seen: dict[int, int] = {}
        screened_before = False  # a non-prior row has been read
        for line, row in csv_rows(reader, width, name, column=header[-1]):
            rid = row[iid].strip()
            if rid in getattr(ids, "left_out", {}):
                of = ids.left_out[rid]
                raise InputError(f"line {line}: record {rid!r} is a duplicate"
                                 + (f" of record {of!r}" if of else "")
                                 + " (kept is False in the records file), so it is not screened; "
                                 + (f"give the decision for {of!r} instead" if of else
                                    "give the decision for the record it duplicates instead"),
                                 file=name, column=header[iid])
            if rid in getattr(ids, "removed", {}):
                raise InputError(f"line {line}: record {rid!r} was removed before screening "
                                 f"({ids.removed[rid]}; column removed of the records file), so it "
                                 "is not screened; clear its removed cell to screen it",
                                 file=name, column=header[iid])
            if rid not in position:
                hint = (" (the records file has no id or record_id column, so records are numbered "
                        "by row, from 1)" if by_row else "")
                raise InputError(f"line {line}: no record has id {rid!r} in the records file{hint}",
                                 file=name, column=header[iid])
            index = position[rid]
            if index in seen:
                raise InputError(f"line {line}: record {rid!r} is labelled twice (first on line "
                                 f"{seen[index]}); keep one decision per record", file=name,
                                 column=header[iid])
            value = row[ilab].strip().lower()
            if value not in LABEL_VALUES:
                blank = " (leave out the rows of records not screened yet)" if not value else ""
                raise InputError(f"line {line}: label {row[ilab].strip()!r} is not allowed{blank}; give "
                                 "1, include, included or yes for a relevant record and 0, exclude, "
                                 "excluded or no for an irrelevant one", file=name, column=header[ilab])
            source = row[isrc].strip().lower() if isrc is not None else ""
            if source and source not in SOURCES:
                raise InputError(f"line {line}: source {row[isrc].strip()!r} is not allowed; give "
                                 "prior (labelled before using the ranking), random, model or leave "
                                 "it blank", file=name, column=header[isrc])
            if source == "prior" and screened_before:
                raise InputError(f"line {line}: a prior record after records screened with the tool; "
                                 "move the prior rows above the others (the stopping rules leave "
                                 "the first rows out of their sample only if they are the priors)",
                                 file=name, column=header[isrc])
            screened_before |= source != "prior"
            seen[index] = line
            out.append(Decision(index, LABEL_VALUES[value], source or None, line))
    except csv.Error as exc:
        raise InputError(f"line {reader.line_num}: not a readable CSV ({exc})", file=name,
                         column=None) from exc
    return out


#: Records screened after the priors before the running recall estimate is given: the estimate's
#: smallest sample (:func:`~.stopping.estimate_recall`'s default window is at least 50 records).
MIN_SAMPLE = 50


def _recall_estimate(session: ScreeningSession, after_priors: int,
                     confidence: float) -> tuple[dict[str, Any] | None, str | None]:
    """The running recall estimate, from records screened after the priors only, or why none yet.

    The estimate treats the last records screened as a sample of those not screened before them;
    priors were chosen, not drawn, so they never enter that sample (the session's default window
    stops at them, :meth:`ScreeningSession.recall_estimate`), and there is no estimate until
    :data:`MIN_SAMPLE` records were screened after them. Once every record is
    screened, recall is known exactly (1.0) and given whatever the count.
    """
    screened = len(session.history_)
    if screened and screened == session.n_records:
        return session.recall_estimate(confidence=confidence).to_dict(), None
    if after_priors < MIN_SAMPLE:
        return None, (f"{after_priors} record(s) screened after the priors; the recall estimate "
                      f"needs a sample of at least {MIN_SAMPLE}")
    return session.recall_estimate(confidence=confidence).to_dict(), None  # window after the priors


@dataclass(frozen=True)
class ScreenResult:
    """The next records to screen and where the screening stands.

    ``next`` lists dicts with ``rank``, ``id``, ``title`` and ``score`` (None while there is no
    model: the records are then a seeded random draw). ``recall_estimate`` is
    :meth:`~.stopping.RecallEstimate.to_dict`, or None with the reason in ``recall_estimate_note``
    until :data:`MIN_SAMPLE` records were screened after the priors (see :func:`_recall_estimate`);
    ``stopping`` maps
    each default rule's name to its ``stop``, ``reason`` and ``rule`` (its description, for the
    methods section). ``duplicates_left_out`` counts the records table's rows with ``kept`` False
    (duplicates ``whatworks review dedup`` removed) and ``removed_left_out`` those with a reason in
    its ``removed`` column (removed before screening); neither is screened.
    """

    next: list[dict[str, Any]]
    records: int
    screened: int
    relevant_found: int
    ranked_by_model: bool
    recall_estimate: dict[str, Any] | None
    stopping: dict[str, dict[str, Any]]
    model: str
    features: str
    seed: int
    sources: dict[str, int] = field(default_factory=dict)
    ranker: str | None = None
    recall_estimate_note: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    duplicates_left_out: int = 0
    safe: dict[str, Any] | None = None
    removed_left_out: int = 0

    @property
    def note(self) -> str:
        if self.safe is not None:
            return {1: f"SAFE phase 1: a random draw (seed {self.seed}) for the training sample",
                    2: "SAFE phase 2: ranked by the model",
                    3: f"SAFE phase 3: ranked by a different model ({self.safe['model_phase3']})",
                    4: "SAFE phase 4: screening is over; quality check by a second screener"
                    }[self.safe["phase"]]
        if not self.ranked_by_model:
            return ("no model yet: there is not yet one relevant and one irrelevant decision, so these "
                    f"records are a random draw (seed {self.seed}); the model ranks the records once "
                    "both kinds of decision are given")
        return ("ranked by the model; the stopping rules assume that the records after the priors "
                "were screened in the order this command proposed")

    def to_dict(self) -> dict[str, Any]:
        return {"next": self.next, "records": self.records, "screened": self.screened,
                "relevant_found": self.relevant_found, "ranked_by_model": self.ranked_by_model,
                "note": self.note, "recall_estimate": self.recall_estimate,
                "recall_estimate_note": self.recall_estimate_note, "stopping": self.stopping,
                "model": self.model, "features": self.features, "seed": self.seed,
                "sources": self.sources, "ranker": self.ranker, "settings": self.settings,
                "duplicates_left_out": self.duplicates_left_out,
                "removed_left_out": self.removed_left_out, "safe": self.safe}


def replay(records: Records, decisions: Sequence[Decision], *, model: str = DEFAULT_MODEL,
           features: str | None = None, seed: int = 0, cache_dir: str | Path | None = None,
           X=None) -> tuple[ScreeningSession, str, str]:
    """A fresh :class:`ScreeningSession` holding ``decisions`` (in the order made), refitted once.

    What :func:`screen` answers from, and where an interactive screening starts. A decision without
    a source is ``random`` while the ones before it hold no relevant and irrelevant label yet, and
    ``model`` after that (see the module docstring). ``X`` reuses a feature matrix already extracted
    for these records and features. Returns the session, the features used and what the feature
    cache did (:func:`~.feature_cache.extract_cached`).
    """
    features = resolve_features(model, features)
    if X is None:
        X, cached = extract_cached(records.texts, features, cache_dir)
    else:
        cached = "reused"
    session = ScreeningSession(X, model=model, seed=seed)
    has = [False, False]
    for d in decisions:
        source = d.source or ("model" if all(has) else "random")
        session.label(d.index, d.label, source=source)
        has[d.label] = True
    session.refresh()
    return session, features, cached


def standing(session: ScreeningSession, rules: dict, confidence: float = 0.95) -> dict[str, Any]:
    """Where a screening stands: records screened, relevant found, ``sources`` (counts of prior,
    random and model decisions), the running recall estimate (or why there is none yet, in
    ``recall_estimate_note``) and each rule's verdict (``stopping``: name -> ``stop``, ``reason``,
    ``rule``)."""
    screened = len(session.history_)
    sources = {s: sum(st.source == s for st in session.history_) for s in SOURCES}
    estimate, why_none = _recall_estimate(session, screened - sources["prior"], confidence)
    stopping = {}
    for name, rule in rules.items():
        d = session.check_stopping(rule)
        stopping[name] = {"stop": bool(d.stop), "reason": d.reason, "rule": rule.describe()}
    return {"screened": screened, "relevant_found": session.n_relevant_found, "sources": sources,
            "recall_estimate": estimate, "recall_estimate_note": why_none, "stopping": stopping}


def screen(records: Records, ids: Sequence[str], decisions: Sequence[Decision], *, n: int = 10,
           model: str = DEFAULT_MODEL, features: str | None = None, seed: int = 0,
           target: float = 0.95, confidence: float = 0.95, consecutive: int = 50,
           cache_dir: str | Path | None = None, safe: bool = False,
           safe_model: str | None = None, safe_features: str | None = None) -> ScreenResult:
    """Replay ``decisions`` (in the order made) and propose the next ``n`` records to screen.

    Parameters
    ----------
    records, ids : the records (their text) and their ids, in table order.
    decisions : :class:`Decision` s in the order they were made (see :func:`read_decisions`).
    n : how many records to propose.
    model, features : a screening model and its features (default: ``svm-widen`` with its
        ``tfidf-meaning``, see :mod:`.registry`).
    seed : seeds the session (the random draw while there is no model, ties, the model's own coins).
    target, confidence, consecutive : the default stopping rules' settings (recall target and
        confidence of the ranked quasi-sample rule; run length of the consecutive-irrelevant rule);
        ``confidence`` is also the recall estimate's interval.
    cache_dir : a folder keeping the feature matrix between runs (:mod:`.feature_cache`); None:
        extract the features afresh.
    safe, safe_model : follow the SAFE procedure (:func:`~.safe.safe_next`): the next records are
        the ones its current phase asks for, and ``safe`` in the result says where it stands;
        ``safe_model`` is phase 3's different model (default ``logistic``), on ``safe_features``
        (default: the screening model's).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError("n", n, "a whole number of records, 1 or more")
    if len(ids) != len(records):
        raise ParameterError("ids", f"{len(ids)} ids", f"one id per record ({len(records)})")
    rules = default_rules(target, confidence, consecutive)  # validates the settings first
    if safe:
        from .safe import DEFAULT_PHASE3_MODEL, phase3_features

        safe_features = phase3_features(safe_model or DEFAULT_PHASE3_MODEL, model, features,
                                        safe_features, option="safe_model")
    elif safe_model is not None or safe_features is not None:
        raise ParameterError("safe_model" if safe_model is not None else "safe_features",
                             safe_model or safe_features, "given only with safe=True (the SAFE "
                             "procedure's phase-3 model and features)")
    session, features, cached = replay(records, decisions, model=model, features=features, seed=seed,
                                       cache_dir=cache_dir)
    ranked = session.scores_ is not None
    safe_standing = None
    if safe:
        from .safe import DEFAULT_PHASE3_MODEL, safe_next

        X3 = None if safe_features == features else extract_cached(records.texts, safe_features,
                                                                    cache_dir)[0]
        chosen, scores, safe_standing = safe_next(session, n, seed=seed, consecutive=consecutive,
                                                  model_phase3=safe_model or DEFAULT_PHASE3_MODEL,
                                                  X_phase3=X3)
        safe_standing["features_phase3"] = safe_features
        ranked = scores is not None and safe_standing["phase"] > 1
        for entry in safe_standing["quality_check"]:
            i = entry.pop("index")
            entry.update(id=ids[i], title=records.titles[i])
    else:
        chosen = session.next(n)
        scores = session.scores_
    nxt = [{"rank": r, "id": ids[i], "title": records.titles[i],
            "score": None if scores is None or not ranked else round(float(scores[i]), 6)}
           for r, i in enumerate((int(i) for i in chosen), start=1)]
    now = standing(session, rules, confidence)
    history = getattr(session.model, "history_", None)
    return ScreenResult(
        next=nxt, records=len(records), screened=now["screened"], relevant_found=now["relevant_found"],
        ranked_by_model=ranked, recall_estimate=now["recall_estimate"],
        recall_estimate_note=now["recall_estimate_note"], stopping=now["stopping"], model=model,
        features=features, seed=seed, sources=now["sources"],
        ranker=(history[-1].get("follows") if ranked and history else None),
        duplicates_left_out=len(getattr(ids, "left_out", {})), safe=safe_standing,
        removed_left_out=len(getattr(ids, "removed", {})),
        settings={"n": n, "target": target, "confidence": confidence, "consecutive": consecutive,
                  "feature_cache": cached,
                  "source": records.source, "unscreened": int((session.labels_ < 0).sum())})


def append_decision(path: str | Path, record_id: str, label: int, source: str | None = None) -> None:
    """Add one decision to the end of a decisions file, at once and durably (flushed to disk).

    A missing or empty file is created with the columns ``id,label,source``; an existing file keeps
    its own columns (the decision goes in its ``id``, ``label`` and, if it has one, ``source``
    column; other columns are left blank). The label is written ``include`` or ``exclude``.
    """
    import os

    if label not in (0, 1):
        raise ParameterError("label", label, "1 (relevant) or 0 (irrelevant)")
    if source is not None and source not in SOURCES:
        raise ParameterError("source", source, ", ".join(SOURCES))
    path = Path(path)
    name = str(path)
    text = decode_csv(path, expect="columns id and label") if path.is_file() else ""
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row] if text.strip() else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if not rows:
        header = ["id", "label", "source"]
        writer.writerow(header)
        prefix, mode = "", "w"
    else:
        header = [h.strip().lower() for h in rows[0]]
        for need in ("id", "label"):
            if need not in header:
                raise InputError(f"line 1: no column '{need}'; a decisions file has columns id, label "
                                 "and optionally source", file=name, column=need)
        prefix, mode = ("" if text.endswith(("\n", "\r")) else "\n"), "a"
    row = [""] * len(header)
    row[header.index("id")] = record_id
    row[header.index("label")] = "include" if label == 1 else "exclude"
    if "source" in header and source is not None:
        row[header.index("source")] = source
    writer.writerow(row)
    try:
        with open(path, mode, encoding="utf-8", newline="") as fh:
            fh.write(prefix + buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise InputError(f"cannot write the decision ({exc.strerror}); check the folder exists and "
                         "can be written", file=name) from exc


class DecisionsLock:
    """Hold a decisions file for one screening session at a time (a context manager).

    Two sessions appending to one file would each propose records without seeing the other's
    decisions, and the file would no longer hold one screening order. The lock is an exclusive
    ``flock`` on ``.<file name>.lock`` beside the file, so the operating system releases it when the
    process ends, crash or not; the lock file is left in place (removing it could let two sessions
    lock different files). A second session is refused with an :class:`InputError` naming the
    file and the process holding it. Where ``fcntl`` does not exist (Windows) nothing is locked,
    and ``locked`` is False so the caller can say so.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.lock_path = self.path.with_name(f".{self.path.name}.lock")
        self.locked = False
        self._fh = None

    def __enter__(self) -> DecisionsLock:
        import os
        import socket
        import time

        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        try:
            fh = open(self.lock_path, "a+", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot create the lock file {self.lock_path.name} beside it "
                             f"({exc.strerror}); check the folder exists and can be written",
                             file=str(self.path)) from exc
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise InputError(f"another screening session is using this decisions file ({holder}); "
                             "screen one at a time, or give each screener a decisions file of "
                             "their own", file=str(self.path)) from exc
        fh.seek(0)
        fh.truncate()
        fh.write(f"process {os.getpid()} on {socket.gethostname()} since "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.flush()
        self._fh, self.locked = fh, True
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            import fcntl

            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh, self.locked = None, False


def undo_last_decision(path: str | Path) -> str | None:
    """Remove the last decision (the last row that is not blank) from a decisions file; return its
    id, or None when the file holds no decision. Every other line is kept byte for byte; the file is
    replaced in one step (a crash leaves the old file or the new one, never half of one)."""
    import os
    import tempfile

    path = Path(path)
    if not path.is_file():
        return None
    text = decode_csv(path, expect="columns id and label")
    reader = csv.reader(io.StringIO(text, newline=""))
    starts: list[tuple[int, list[str]]] = []  # (line the row starts on, row)
    line = 1
    try:
        for row in reader:
            if row and any(f.strip() for f in row):
                starts.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"line {reader.line_num}: not a readable CSV ({exc})", file=str(path)) from exc
    if len(starts) < 2:  # the header alone
        return None
    header = [h.strip().lower() for h in starts[0][1]]
    first, last = starts[-1]
    rid = last[header.index("id")].strip() if "id" in header and header.index("id") < len(last) else ""
    kept = "".join(io.StringIO(text, newline="").readlines()[:first - 1])  # the reader's lines
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(kept)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return rid
