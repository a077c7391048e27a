"""Randomisation and analysis on the trials pages: load the stored rows, call
:mod:`whatworks.trials` (randomise, audit, analyse), save. No statistics here.

The allocation log is written by the core (:func:`whatworks.trials.audit.write_log`,
:class:`~whatworks.trials.audit.AllocationLog`) into a temporary file and its lines are stored
verbatim, one row each, in :class:`~.models.AllocationLogEntry` (append-only). The log is given back
by joining the lines, so the download is byte for byte what ``whatworks trial randomise --log``
writes and ``whatworks trial verify`` checks; verifying on the page writes the stored lines to a
temporary file and calls :func:`whatworks.trials.audit.verify_log`.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction

from whatworks.errors import InputError, WhatWorksError

from .models import AllocationLogEntry, TrialAllocation, TrialAnalysisRecord, TrialUpload

# the options of whatworks.trials.randomise.randomise that the randomise form sets
RANDOMISE_OPTIONS = ("unit", "block", "cluster", "strata", "covariates", "factors", "arms", "ratio",
                     "block_sizes", "metric", "cutoff", "max_enumerate", "n_candidates", "samearmhi",
                     "samearmlo", "weights", "p_best")


ALGORITHM_VERSION = 1  # of the cached verifications' key: bump if verify_log's verdicts change


class AlreadyRandomised(WhatWorksError):
    """The trial has an allocation; a trial is randomised once."""


def max_bytes() -> int:
    return int(settings.WHATWORKS_IMPORT_MAX_BYTES)


def max_analysis_rows() -> int:
    return int(getattr(settings, "WHATWORKS_TRIAL_ANALYSIS_MAX_ROWS", 10_000))


def analysis_timeout() -> float:
    return float(getattr(settings, "WHATWORKS_TRIAL_ANALYSIS_TIMEOUT", 20))


# ------------------------------------------------------------------------------------- uploads


def save_upload(trial, kind: str, filename: str, raw: bytes, user) -> TrialUpload:
    """Keep an uploaded (or pasted) CSV after checking it is within the size limit, UTF-8 text and
    readable as a table with a header (the reading's message names the file, line and column)."""
    filename = Path(filename or "pasted.csv").name[:200] or "pasted.csv"
    if not raw.strip():
        raise InputError("is empty; it needs a header row and one row per unit", file=filename)
    if len(raw) > max_bytes():
        raise InputError(f"is {len(raw):,} bytes; uploads are limited to {max_bytes():,} "
                         "(WHATWORKS_IMPORT_MAX_BYTES); split the file", file=filename)
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"is not UTF-8 text (byte {exc.start}); save it as CSV (UTF-8)",
                         file=filename) from None
    upload = TrialUpload(trial=trial, kind=kind, filename=filename, content=raw,
                         sha256=hashlib.sha256(raw).hexdigest(), uploaded_by=user)
    read_upload(upload)  # refuse an unreadable file before it is kept
    upload.save()
    return upload


def _safe_name(filename: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename).name) or "upload.csv"
    return name if name.lower().endswith((".csv", ".tsv", ".tab")) else name + ".csv"


def read_upload(upload: TrialUpload, *, text=()) -> pd.DataFrame:
    """The upload read by the core's CSV reader (numbers as numbers, blanks as missing; the
    ``text`` columns, ids, exactly as written); errors name the uploaded file, not the temporary
    copy."""
    from whatworks._io import read_table

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / _safe_name(upload.filename)
        path.write_bytes(bytes(upload.content))
        try:
            return read_table(path, text=text)
        except InputError as exc:
            raise InputError(str(exc).replace(str(path), upload.filename)) from None


def raw_frame(upload: TrialUpload) -> pd.DataFrame:
    """The upload as text, every cell as written (for the allocation CSV, as the CLI writes it)."""
    sep = "\t" if upload.filename.lower().endswith((".tsv", ".tab")) else ","
    raw = pd.read_csv(io.BytesIO(bytes(upload.content)), sep=sep, dtype=str, keep_default_na=False,
                      encoding="utf-8-sig", skipinitialspace=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


def columns(upload: TrialUpload) -> list[str]:
    return [str(c) for c in read_upload(upload).columns]


# ------------------------------------------------------------------------------- randomisation


@dataclass
class Preview:
    """What randomising would give (nothing saved): the allocation, the balance table and the
    cluster-level covariates of a constrained randomisation (for the log's header)."""

    allocation: object
    balance: pd.DataFrame | None
    covariates: pd.DataFrame | None
    balance_columns: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the realised list: the confirmation must give the same one."""
        t = self.allocation.table
        text = "\n".join(f"{u}\x1f{a}" for u, a in zip(t["unit"], t["arm"], strict=True))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def preview(upload: TrialUpload, *, method: str, seed: int, options: dict,
            balance_columns: list[str]) -> Preview:
    """Randomise the uploaded units with the core (nothing saved)."""
    from whatworks.trials import randomise as core

    frame = read_upload(upload, text=core.id_columns(**options))
    if "arm" in frame.columns:
        raise InputError("already has a column 'arm'; rename it (the allocation adds 'arm')",
                         file=upload.filename, column="arm")
    for col in balance_columns:
        if col not in frame.columns:
            raise InputError(f"no such column; the columns are {', '.join(frame.columns)}",
                             file=upload.filename, column=col)
    opts = {k: v for k, v in options.items() if k in RANDOMISE_OPTIONS and v not in (None, [], "")}
    alloc = core.randomise(frame, method=method, seed=seed, file=upload.filename, **opts)
    cov = (core.cluster_covariates(frame, opts["cluster"], list(opts["covariates"]),
                                   file=upload.filename) if method == "constrained" else None)
    bal = (core.balance_table(frame, alloc.table["arm"], balance_columns, arms=alloc.arms)
           if balance_columns else None)
    return Preview(allocation=alloc, balance=bal, covariates=cov, balance_columns=balance_columns)


def _records(frame: pd.DataFrame | None) -> list[dict]:
    from whatworks._results import jsonable

    return [] if frame is None else jsonable(frame.to_dict(orient="records"))


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def _store_lines(trial, lines: list[str], start: int = 0) -> None:
    import json

    AllocationLogEntry.objects.bulk_create([
        AllocationLogEntry(trial=trial, index=start + i, kind=json.loads(line)["type"], line=line,
                           hash=json.loads(line)["hash"])
        for i, line in enumerate(lines)])


def randomise_trial(trial, upload: TrialUpload, *, method: str, seed: int, options: dict,
                    balance_columns: list[str], user, fingerprint: str | None = None
                    ) -> TrialAllocation:
    """Randomise and store the allocation, its balance table and its log (one transaction). A trial
    that already has an allocation is refused (:class:`AlreadyRandomised`), however the second
    request arrives (the one-to-one key decides under concurrency). ``fingerprint``, when given,
    must be the previewed list's: the confirmation allocates what was previewed."""
    from whatworks.trials.audit import software, write_log

    if TrialAllocation.objects.filter(trial=trial).exists():
        raise AlreadyRandomised(already_message(trial))
    p = preview(upload, method=method, seed=seed, options=options, balance_columns=balance_columns)
    if fingerprint is not None and fingerprint != p.fingerprint:
        raise InputError("the allocation differs from the one previewed (the file or an option "
                         "changed); preview it again")
    alloc = p.allocation
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "allocation-log.jsonl"
        write_log(path, alloc, units_sha256=upload.sha256, covariates=p.covariates)
        lines = _lines(path)
    try:
        with transaction.atomic():
            row = TrialAllocation.objects.create(
                trial=trial, mode=TrialAllocation.BATCH, upload=upload, method=alloc.method,
                seed=alloc.seed, algorithm=alloc.algorithm, arms=list(alloc.arms),
                ratio=list(alloc.ratio), options=_records_dict(alloc.options), software=software(),
                units_sha256=upload.sha256, rows=_records(alloc.table),
                balance_columns=balance_columns, balance=_records(p.balance),
                constrained=(alloc.constrained.to_dict() if alloc.constrained is not None else None),
                created_by=user)
            _store_lines(trial, lines)
    except IntegrityError:
        raise AlreadyRandomised(already_message(trial)) from None
    return row


def _records_dict(d: dict) -> dict:
    from whatworks._results import jsonable

    return jsonable(d)


def already_message(trial) -> str:
    return (f"{trial.title} has already been randomised; a trial is randomised once (its "
            "allocation and log are kept as they are)")


def start_enrolment(trial, *, seed: int, factors: list[str], arms: list[str], ratio: list[int] | None,
                    weights: list[float] | None, p_best: float, user) -> TrialAllocation:
    """Open a minimisation log for units enrolled one at a time (the header only)."""
    from whatworks.trials._hashrng import ALGORITHM
    from whatworks.trials.audit import AllocationLog, allocation_header, software
    from whatworks.trials.randomise import Allocation, Minimiser

    if TrialAllocation.objects.filter(trial=trial).exists():
        raise AlreadyRandomised(already_message(trial))
    if not factors:
        raise InputError("minimisation needs at least one factor (e.g. sex, age group)",
                         column="factors")
    if len(set(factors)) != len(factors) or "unit" in factors or "arm" in factors:
        raise InputError("factor names must differ from each other and from 'unit' and 'arm'",
                         column="factors")
    m = Minimiser(factors=factors, seed=seed, arms=arms, ratio=ratio, weights=weights,
                  p_best=p_best)  # checks the weights and p_best
    if len(arms) < 2 or len(set(arms)) != len(arms):
        raise InputError("give two or more distinct arm names", column="arms")
    options = {"unit": "unit", "factors": factors, "weights": list(m.weights), "p_best": p_best}
    alloc = Allocation(method="minimisation", seed=seed, algorithm=ALGORITHM, arms=tuple(arms),
                       ratio=tuple(m.ratio), options=options, table=pd.DataFrame())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "allocation-log.jsonl"
        AllocationLog.create(path, allocation_header(alloc, sealed=False))
        lines = _lines(path)
    try:
        with transaction.atomic():
            row = TrialAllocation.objects.create(
                trial=trial, mode=TrialAllocation.ENROLMENT, method="minimisation", seed=seed,
                algorithm=ALGORITHM, arms=list(arms), ratio=list(m.ratio), options=options,
                software=software(), rows=[], balance_columns=list(factors), created_by=user)
            _store_lines(trial, lines)
    except IntegrityError:
        raise AlreadyRandomised(already_message(trial)) from None
    return row


def enrol(trial, *, unit: str, levels: dict[str, str], user) -> str:
    """Allocate one more unit by minimisation, append it to the log and return its arm. The
    minimiser is rebuilt by replaying the stored units in order; the log must verify first. Two
    enrolments at once: the row lock (PostgreSQL) or the unique (trial, index) key (SQLite) lets
    one through; the other is refused with a message and nothing written."""
    unit = (unit or "").strip()
    if not unit:
        raise InputError("give the unit's id", column="unit")
    try:
        return _enrol(trial, unit, levels)
    except IntegrityError:
        raise InputError("another unit was enrolled at the same moment; nothing was enrolled for "
                         f"{unit!r}: submit it again") from None


def _enrol(trial, unit: str, levels: dict[str, str]) -> str:
    from whatworks.trials.audit import AllocationLog
    from whatworks.trials.randomise import Minimiser

    with transaction.atomic():
        alloc = TrialAllocation.objects.select_for_update().get(trial=trial)
        if alloc.mode != TrialAllocation.ENROLMENT:
            raise InputError("this trial was randomised as a whole file; units are not enrolled "
                             "one at a time")
        if is_sealed(trial):
            raise InputError("enrolment is closed (the log is sealed); no unit can be added")
        opts = alloc.options
        factors = list(opts["factors"])
        clean = {}
        for f in factors:
            v = str(levels.get(f) or "").strip()
            if not v:
                raise InputError("give this unit's level", column=f)
            clean[f] = v
        if any(r["unit"] == unit for r in alloc.rows):
            raise InputError(f"unit {unit!r} is already enrolled; unit ids must be unique",
                             column="unit")
        m = Minimiser(factors=factors, seed=alloc.seed, arms=alloc.arms, ratio=alloc.ratio,
                      weights=opts.get("weights"), p_best=opts.get("p_best", 0.8))
        for r in alloc.rows:
            if m.assign(r["unit"], {f: r[f] for f in factors}) != r["arm"]:
                raise InputError("the stored allocation does not replay from its seed; verify the "
                                 "log (nothing was enrolled)")
        arm = m.assign(unit, clean)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "allocation-log.jsonl"
            path.write_text(log_text(trial), encoding="utf-8")
            try:
                log = AllocationLog(path)
            except WhatWorksError as exc:
                raise InputError(str(exc).replace(str(path), "the stored log")
                                 + " (nothing was enrolled)") from None
            n_before = log.index
            log.append("allocation", {"unit": unit, **clean, "arm": arm})
            lines = _lines(path)
        _store_lines(trial, lines[n_before:], start=n_before)
        alloc.rows = [*alloc.rows, {"unit": unit, **clean, "arm": arm}]
        alloc.save(update_fields=["rows"])
    return arm


def close_enrolment(trial) -> int:
    """Seal an enrolment log (the seal counts the allocations): no unit can be added after it.
    Returns the number of units enrolled."""
    from whatworks.trials.audit import AllocationLog

    try:
        with transaction.atomic():
            alloc = TrialAllocation.objects.select_for_update().get(trial=trial)
            if alloc.mode != TrialAllocation.ENROLMENT:
                raise InputError("this trial was randomised as a whole file; its log is sealed "
                                 "already")
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "allocation-log.jsonl"
                path.write_text(log_text(trial), encoding="utf-8")
                try:
                    log = AllocationLog(path)
                except WhatWorksError as exc:
                    raise InputError(str(exc).replace(str(path), "the stored log")) from None
                n_before = log.index
                counts = {a: sum(1 for r in alloc.rows if r["arm"] == a) for a in alloc.arms}
                log.append("seal", {"n_allocations": len(alloc.rows), "counts": counts})
                lines = _lines(path)
            _store_lines(trial, lines[n_before:], start=n_before)
    except IntegrityError:
        raise InputError("a unit was enrolled at the same moment; close the enrolment again") \
            from None
    return len(alloc.rows)


def is_sealed(trial) -> bool:
    return AllocationLogEntry.objects.filter(trial=trial, kind="seal").exists()


# ------------------------------------------------------------------------------ the log


def log_text(trial) -> str:
    """The log exactly as the CLI writes it: one canonical JSON line per entry, each ending in a
    newline."""
    lines = AllocationLogEntry.objects.filter(trial=trial).order_by("index").values_list("line",
                                                                                       flat=True)
    return "".join(line + "\n" for line in lines)


def verify(trial):
    """:func:`whatworks.trials.audit.verify_log` on the stored log (the chain, the order, the seal
    and every arm replayed from the seed). The outcome is cached under the SHA-256 of the log's
    text as read now: the same bytes verify the same way, and any change to a stored line is a new
    key (replaying a constrained randomisation costs seconds; readers may press Verify)."""
    from django.core.cache import cache

    from whatworks.trials.audit import verify_log

    text = log_text(trial)
    key = f"trials:verify:{ALGORITHM_VERSION}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"
    res = cache.get(key)
    if res is None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{trial.slug}-allocation-log.jsonl"
            path.write_text(text, encoding="utf-8")
            res = verify_log(path, complete=True)
        cache.set(key, res, 24 * 3600)
    return res


def allocation_csv(alloc: TrialAllocation) -> str:
    """The units with their arm (batch: the uploaded file's columns as written, then ``arm``, as
    ``whatworks trial randomise --out``); enrolment: unit, factors, arm."""
    if alloc.mode == TrialAllocation.BATCH and alloc.upload is not None:
        out = raw_frame(alloc.upload)
        out["arm"] = [r["arm"] for r in alloc.rows]
    else:
        out = pd.DataFrame(alloc.rows, columns=["unit", *alloc.options.get("factors", []), "arm"])
    return out.to_csv(index=False)


def enrolment_balance(alloc: TrialAllocation) -> list[dict]:
    """The balance table of the units enrolled so far over the minimisation factors."""
    from whatworks.trials.randomise import balance_table

    if len(alloc.rows) < 2:
        return []
    frame = pd.DataFrame(alloc.rows)
    if frame["arm"].nunique() < 2:
        return []
    return _records(balance_table(frame, frame["arm"], alloc.options["factors"], arms=alloc.arms))


# ------------------------------------------------------------------------------------ analysis

ANALYSIS_OPTIONS = ("outcome", "treatment", "cluster", "block", "covariates", "exposure", "family",
                    "treated", "level")


@dataclass
class Analysed:
    result: object            # whatworks.trials.analyse.TrialAnalysis
    options: dict
    join: dict | None
    warnings: list[str]
    model_text: str


def _arm_label(v) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def join_allocation(frame: pd.DataFrame, alloc: TrialAllocation, *, by: str, key: str,
                    filename: str) -> tuple[pd.DataFrame, dict]:
    """Add the stored allocation's arm (column ``allocated_arm``) to the outcome rows, matching the
    file's ``by`` column to the allocation's ``key`` (``unit`` or ``cluster``). Rows whose id is not
    in the allocation are left out and counted; allocated ids with no row are counted; if the file
    also has a treatment column given, disagreements are counted."""
    if by not in frame.columns:
        raise InputError(f"no such column; the columns are {', '.join(frame.columns)}",
                         file=filename, column=by)
    rows = pd.DataFrame(alloc.rows)
    if key not in rows.columns:
        raise InputError(f"the stored allocation has no {key} ids (it was not a cluster "
                         "randomisation); match by unit", column=key)
    keys = rows[key].astype(str)
    arm_of = dict(zip(keys, rows["arm"], strict=True)) if key == "unit" else \
        rows.groupby(keys)["arm"].first().to_dict()
    ids = frame[by]  # read as text, exactly as written (read_upload(text=[by]))
    arm = ids.map(arm_of)
    unknown = ids[arm.isna()].dropna().unique().tolist()
    missing = sorted(set(arm_of) - set(ids.dropna()))
    out = frame.loc[arm.notna()].copy()
    out["allocated_arm"] = arm[arm.notna()].to_numpy()
    info = {"by": by, "key": key, "matched_rows": int(arm.notna().sum()),
            "unknown_ids": [str(u) for u in unknown[:20]], "n_unknown_rows": int(arm.isna().sum()),
            "n_allocated_without_rows": len(missing), "allocated_without_rows": missing[:20]}
    if out.empty:
        raise InputError(f"no row's {by} matches an allocated {key} id; ids are matched exactly "
                         f"as written (the file has {_quoted(ids.dropna().unique()[:3])}; the "
                         f"allocation has {_quoted(list(arm_of)[:3])}): check that this is the "
                         f"column of {key} ids and that it spells them as the units file did",
                         file=filename, column=by)
    return out, info


def _quoted(values) -> str:
    return ", ".join(f"'{v}'" for v in values) or "none"


def model_in_words(options: dict, result) -> str:
    """The fitted model in a sentence (what the core fitted, named with the file's columns)."""
    fam = {"gaussian": "a linear mixed model (REML)", "binomial": "a logistic mixed model (Laplace)",
           "poisson": "a Poisson mixed model (Laplace)",
           "negbin": "a negative binomial (NB2) mixed model (Laplace)"}[options["family"]]
    treat = ("the arm from the stored allocation" if options.get("joined") else
             f"'{options['treatment']}'")
    parts = [f"{fam} of '{options['outcome']}' on treatment ({treat}"
             + (f", treated arm '{options['treated']}'" if options.get("treated") else "") + ")",
             f"with a random intercept for each '{options['cluster']}'"]
    if options.get("block"):
        parts.append(f"fixed effects for '{options['block']}'")
    if options.get("covariates"):
        parts.append("adjusted for " + ", ".join(f"'{c}'" for c in options["covariates"]))
    if options.get("exposure"):
        parts.append(f"with log('{options['exposure']}') as offset")
    excluded = (f"; {result.n_excluded} rows with a missing value left out" if result.n_excluded
                else "")
    scale = {"gaussian": "a mean difference", "binomial": "a log odds ratio",
             "poisson": "a log rate ratio", "negbin": "a log rate ratio"}[options["family"]]
    return (", ".join(parts) + f": {result.n} units in {result.n_clusters} clusters{excluded}; the "
            f"estimate is {scale} with a Wald {result.level:g}% interval.")


def analyse_upload(trial, upload: TrialUpload, options: dict, *, use_allocation: bool = False,
                   match_by: str | None = None, match_key: str = "unit") -> Analysed:
    """Run the core analysis on the uploaded outcomes (nothing saved)."""
    from whatworks.trials import analyse as core_analyse

    analyse = core_analyse.analyse  # looked up now (tests replace it to make it slow)
    ids = [options.get("cluster"), options.get("block"), match_by if use_allocation else None]
    frame = read_upload(upload, text=[c for c in ids if c])  # ids as written: '07' is not '7'

    if len(frame) > max_analysis_rows():
        raise InputError(f"has {len(frame):,} rows; the web analysis runs while you wait and is "
                         f"limited to {max_analysis_rows():,} rows "
                         "(WHATWORKS_TRIAL_ANALYSIS_MAX_ROWS); run `whatworks trial analyse` on "
                         "the file instead", file=upload.filename)
    opts = {k: v for k, v in options.items() if k in ANALYSIS_OPTIONS and v not in (None, "", [])}
    join = None
    if use_allocation:
        alloc = TrialAllocation.objects.filter(trial=trial).first()
        if alloc is None:
            raise InputError("this trial has no stored allocation to take the treatment from; "
                             "choose the file's treatment column")
        if not match_by:
            raise InputError("choose the column of the file that holds the unit (or cluster) ids "
                             "to match with the allocation", column="match_by")
        frame, join = join_allocation(frame, alloc, by=match_by, key=match_key,
                                      filename=upload.filename)
        if opts.get("treatment"):
            given = frame[opts["treatment"]].map(_arm_label) if opts["treatment"] in frame else None
            if given is None:
                raise InputError(f"no such column; the columns are {', '.join(frame.columns)}",
                                 file=upload.filename, column=opts["treatment"])
            differ = given != frame["allocated_arm"].astype(str)
            join["n_treatment_disagrees"] = int(differ.sum())
            join["treatment_column"] = opts["treatment"]
        opts["treatment"] = "allocated_arm"
        opts.setdefault("treated", alloc.arms[-1])
        opts["joined"] = True
    result, notes = run_limited(analyse, frame, file=upload.filename,
                                **{k: v for k, v in opts.items() if k != "joined"})
    return Analysed(result=result, options=opts, join=join, warnings=notes,
                    model_text=model_in_words(opts, result))


def _child(conn, fn, args, kwargs) -> None:
    """In the forked child: run, send ("ok", (result, warnings)) or ("error", message), and leave
    at once (``os._exit``: no atexit handler may touch the parent's database connection)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(*args, **kwargs)
        notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        conn.send(("ok", (result, notes)))
    except WhatWorksError as exc:
        conn.send(("error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which says so
        conn.send(("crash", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
        os._exit(0)


class AnalysisStopped(WhatWorksError):
    """The analysis ran past the time limit (or died) and was stopped."""


def run_limited(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a forked child process, waited for at most
    ``WHATWORKS_TRIAL_ANALYSIS_TIMEOUT`` seconds; past that the child is killed and
    :class:`AnalysisStopped` says so. Returns (result, warning messages). A
    :class:`~whatworks.errors.WhatWorksError` in the child comes back as an ``InputError`` with its
    message. Where fork is unavailable the function runs inline, without a limit."""
    import multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(*args, **kwargs)
        return result, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, fn, args, kwargs), daemon=True)
    child.start()
    send.close()
    limit = analysis_timeout()
    try:
        if not receive.poll(limit):
            raise AnalysisStopped(
                f"the analysis took longer than {limit:g} s and was stopped "
                "(WHATWORKS_TRIAL_ANALYSIS_TIMEOUT); a negative binomial model of counts with "
                "little overdispersion can be slow: try family poisson, or run `whatworks trial "
                "analyse` on the file")
        try:
            status, payload = receive.recv()
        except EOFError:
            raise AnalysisStopped("the analysis process ended without a result (out of memory?); "
                                  "run `whatworks trial analyse` on the file") from None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join()
    if status == "ok":
        return payload
    if status == "error":
        raise InputError(payload)
    raise AnalysisStopped(f"the analysis failed unexpectedly ({payload})")


def save_analysis(trial, upload: TrialUpload, analysed: Analysed, *, outcome_name: str,
                  primary: bool, user) -> TrialAnalysisRecord:
    from whatworks.trials.audit import software

    return TrialAnalysisRecord.objects.create(
        trial=trial, upload=upload, outcome_name=outcome_name, primary=primary,
        inputs_sha256=upload.sha256, options=_records_dict(analysed.options), software=software(),
        results=_records_dict(analysed.result.to_dict()), join=analysed.join,
        model_text=analysed.model_text, created_by=user)
