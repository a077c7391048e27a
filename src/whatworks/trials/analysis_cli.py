"""``whatworks trial randomise | verify | analyse``: thin over :mod:`whatworks.trials`.

One function per sub-command adds it to a given sub-parsers object (``add_randomise(sub)``, ...),
so the ``trial`` group can hold these beside the design commands (mdes, power, mrss). Heavy
modules are imported inside the handlers. Errors are :class:`~whatworks.errors.WhatWorksError`,
which the main command turns into exit status 2 and one line.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import InputError, ParameterError

FAMILIES = ("gaussian", "binomial", "poisson", "negbin")
METHOD_NAMES = ("simple", "complete", "blocks", "stratified", "cluster", "block-cluster",
                "constrained", "minimisation")  # = randomise.METHODS (a test keeps them equal)


#: One function per sub-command; each adds itself to the ``trial`` group's sub-parsers (and sets
#: both ``handler`` and ``trial_handler``, so either dispatch convention finds it).
SUBCOMMANDS = []  # filled below, after the functions are defined


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``trial`` group with randomise, verify and analyse (the design commands join it
    when the branches merge)."""
    trial = subparsers.add_parser(
        "trial", help="pilots and trials: randomise with an audit log, verify, analyse",
        description="Randomise units or clusters reproducibly with a tamper-evident log, verify "
                    "the log, and analyse outcomes by intention to treat with models that mirror "
                    "the design.")
    trial.set_defaults(trial_parser=trial, handler=None)
    sub = trial.add_subparsers(dest="trial_command", metavar="TRIAL_COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return trial


def run(args) -> int:
    """Help for ``whatworks trial`` without a sub-command."""
    args.trial_parser.print_help()
    return 0


def add_randomise(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "randomise", help="allocate units or clusters to arms, reproducibly from a seed",
        description="Allocate the units of a CSV (one row per unit) to arms. Every draw is a "
                    "keyed hash (HMAC-SHA256) of the seed and the unit, so the seed re-derives "
                    "the list on any software version. Writes the list, and with --log a "
                    "hash-chained JSON-lines audit log that `whatworks trial verify` checks.")
    p.add_argument("units", metavar="UNITS.csv")
    p.add_argument("--method", required=True, help=f"one of: {', '.join(METHOD_NAMES)}")
    p.add_argument("--seed", required=True, type=int, help="the seed (a whole number; record it)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="write the units with their arm here (CSV)")
    p.add_argument("--log", metavar="FILE",
                   help="write the tamper-evident allocation log here (JSON lines; never "
                        "overwritten)")
    p.add_argument("--unit", metavar="COL", help="column of unit ids (default: row numbers)")
    p.add_argument("--block", metavar="COL", help="block column (block-cluster; stratified)")
    p.add_argument("--cluster", metavar="COL", help="cluster column (cluster, block-cluster, "
                                                    "constrained)")
    p.add_argument("--strata", nargs="+", metavar="COL", help="stratification columns "
                                                              "(stratified, blocks)")
    p.add_argument("--covariates", nargs="+", metavar="COL",
                   help="constrained: covariates to balance (cluster means)")
    p.add_argument("--factors", nargs="+", metavar="COL", help="minimisation: the factors")
    p.add_argument("--weights", nargs="+", type=float, metavar="W",
                   help="minimisation: one weight per factor (default 1)")
    p.add_argument("--p-best", type=float, default=0.8,
                   help="minimisation: probability of the arm that minimises imbalance "
                        "(default 0.8)")
    p.add_argument("--arms", nargs="+", default=["control", "treatment"], metavar="ARM",
                   help="arm names (default: control treatment)")
    p.add_argument("--ratio", nargs="+", type=int, metavar="R",
                   help="allocation ratio, one whole number per arm (default equal)")
    p.add_argument("--block-sizes", nargs="+", type=int, metavar="B",
                   help="blocks: block sizes to draw from (default 1, 2, 3 x the ratio's sum)")
    p.add_argument("--metric", default="l2", help="constrained: balance score l2 or l1")
    p.add_argument("--cutoff", type=float, default=0.1,
                   help="constrained: the allowed set is this best fraction (default 0.1)")
    p.add_argument("--max-enumerate", type=int, default=100_000,
                   help="constrained: enumerate all allocations up to this many, else sample")
    p.add_argument("--candidates", type=int, default=50_000,
                   help="constrained: distinct allocations to sample when not enumerating")
    p.add_argument("--balance", nargs="+", metavar="COL",
                   help="report baseline balance (standardised differences) on these columns")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(handler=cmd_randomise, trial_handler=cmd_randomise)
    return p


def add_verify(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "verify", help="check an allocation log (exit 0 intact, 1 broken)",
        description="Check the hash chain, the order and the seal of an allocation log, and replay "
                    "every allocation from the recorded seed. Exit 0 if intact; 1, with the first "
                    "broken entry, if not.")
    p.add_argument("log", metavar="LOG.jsonl")
    p.add_argument("--head", metavar="HASH",
                   help="the head hash recorded when the log was written: also check the log ends "
                        "there")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(handler=cmd_verify, trial_handler=cmd_verify)
    return p


def add_analyse(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "analyse", help="intention-to-treat analysis mirroring the design",
        description="Random intercepts for clusters, fixed effects for blocks and covariates: "
                    "linear mixed model (REML) for gaussian outcomes; logistic, Poisson or "
                    "negative binomial GLMM (Laplace) with an exposure offset for binary and count "
                    "outcomes. Reports the treatment effect, the ICC, Hedges' g (gaussian, total "
                    "variance from the unconditional model) or the odds / rate ratio.")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--outcome", required=True, metavar="COL")
    p.add_argument("--treatment", required=True, metavar="COL",
                   help="column of the allocated arm (0/1, or two labels: the later in sort order "
                        "is treated unless --treated says)")
    p.add_argument("--treated", metavar="LABEL", help="the label of the treated arm")
    p.add_argument("--cluster", required=True, metavar="COL")
    p.add_argument("--block", metavar="COL", help="block or stratum column (fixed effects)")
    p.add_argument("--covariates", nargs="+", metavar="COL", help="baseline covariates (fixed)")
    p.add_argument("--exposure", metavar="COL",
                   help="counts: exposure (person-time, pupils); log(exposure) is the offset")
    p.add_argument("--family", required=True, help=f"one of: {', '.join(FAMILIES)}")
    p.add_argument("--level", type=float, default=95.0, help="confidence level (default 95)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(handler=cmd_analyse, trial_handler=cmd_analyse)
    return p


def add_cace(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "cace", help="complier average causal effect by instrumental variables (2SLS)",
        description="The effect of receiving the intervention among compliers: allocation "
                    "instruments receipt (two-stage least squares), with cluster-robust standard "
                    "errors when --cluster is given.")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--outcome", required=True, metavar="COL")
    p.add_argument("--assigned", required=True, metavar="COL", help="the allocated arm (0/1 or two "
                                                                    "labels)")
    p.add_argument("--treated", metavar="LABEL", help="the label of the treated arm")
    p.add_argument("--received", required=True, metavar="COL",
                   help="receipt of the intervention (0/1, or a dose)")
    p.add_argument("--cluster", metavar="COL", help="cluster column: cluster-robust (CR1) SEs")
    p.add_argument("--block", metavar="COL", help="block or stratum column (fixed effects)")
    p.add_argument("--covariates", nargs="+", metavar="COL", help="baseline covariates")
    p.add_argument("--level", type=float, default=95.0, help="confidence level (default 95)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(handler=cmd_cace, trial_handler=cmd_cace)
    return p


def add_impute(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "impute", help="missing outcomes: multiple imputation and a delta sensitivity analysis",
        description="Impute missing continuous outcomes M times (normal model with cluster fixed "
                    "effects), analyse each completed data set with the gaussian ITT model and "
                    "pool by Rubin's rules; with several --delta values, add each delta to the "
                    "imputed outcomes of --delta-arm (missing not at random).")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--outcome", required=True, metavar="COL")
    p.add_argument("--treatment", required=True, metavar="COL")
    p.add_argument("--treated", metavar="LABEL", help="the label of the treated arm")
    p.add_argument("--cluster", required=True, metavar="COL")
    p.add_argument("--block", metavar="COL")
    p.add_argument("--covariates", nargs="+", metavar="COL")
    p.add_argument("--m", type=int, default=20, help="number of imputations (default 20)")
    p.add_argument("--seed", type=int, required=True, help="seed for the imputations (record it)")
    p.add_argument("--delta", nargs="+", type=float, default=[0.0],
                   help="shift(s) added to imputed outcomes (default 0: missing at random)")
    p.add_argument("--delta-arm", default="treatment", help="treatment, control or both")
    p.add_argument("--level", type=float, default=95.0, help="confidence level (default 95)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(handler=cmd_impute, trial_handler=cmd_impute)
    return p


def add_did(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "did", help="difference-in-differences for pilots that were not randomised",
        description="Callaway & Sant'Anna (2021) group-time effects for staggered adoption (a "
                    "balanced panel: one row per unit and period), with the simple, event-study "
                    "(dynamic) and group aggregations and analytic standard errors.")
    p.add_argument("data", metavar="PANEL.csv")
    p.add_argument("--outcome", required=True, metavar="COL")
    p.add_argument("--unit", required=True, metavar="COL", help="unit column (e.g. authority)")
    p.add_argument("--time", required=True, metavar="COL", help="period column (e.g. year)")
    p.add_argument("--group", required=True, metavar="COL",
                   help="first treated period of the unit (0 = never treated)")
    p.add_argument("--control", default="never", help="never (default) or notyet treated units")
    p.add_argument("--level", type=float, default=95.0, help="confidence level (default 95)")
    p.add_argument("--plot", metavar="FILE", help="write the event-study plot (.svg, .png, .pdf)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(handler=cmd_did, trial_handler=cmd_did)
    return p


SUBCOMMANDS.extend([add_randomise, add_verify, add_analyse, add_cace, add_impute, add_did])


def _group_columns(*columns: str | None) -> list[str]:
    """Cluster, block or unit id columns: read as text, exactly as written, so that ids such as
    '07' and '7' stay two clusters (never both 7.0)."""
    return [c for c in columns if c]


def _check_method(method: str) -> None:
    if method not in METHOD_NAMES:
        raise ParameterError("--method", method, f"one of {', '.join(METHOD_NAMES)}")


def cmd_randomise(args) -> int:
    import hashlib
    from pathlib import Path

    import pandas as pd

    from .._io import read_table
    from .audit import write_log
    from .randomise import balance_table, cluster_covariates, id_columns, randomise

    _check_method(args.method)
    frame = read_table(args.units, text=id_columns(unit=args.unit, cluster=args.cluster,
                                                    block=args.block, strata=args.strata,
                                                    factors=args.factors))
    sep = "\t" if Path(args.units).suffix.lower() in (".tsv", ".tab") else ","
    raw = pd.read_csv(args.units, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                      skipinitialspace=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    if "arm" in frame.columns:
        raise InputError("already has a column 'arm'; rename it (the allocation adds 'arm')",
                         file=args.units, column="arm")
    if args.log and Path(args.log).exists():
        raise InputError("already exists; an allocation log is never overwritten; choose a new "
                         "file name", file=args.log)
    for option in ("block", "cluster", "unit"):
        col = getattr(args, option)
        if col and col not in frame.columns:
            raise InputError(f"no such column (given as --{option}); the columns are "
                             f"{', '.join(frame.columns)}", file=args.units, column=col)
    try:
        alloc = randomise(frame, method=args.method, seed=args.seed, unit=args.unit,
                          block=args.block, cluster=args.cluster, strata=args.strata,
                          covariates=args.covariates, factors=args.factors, arms=args.arms,
                          ratio=args.ratio, block_sizes=args.block_sizes, metric=args.metric,
                          cutoff=args.cutoff, max_enumerate=args.max_enumerate,
                          n_candidates=args.candidates, weights=args.weights,
                          p_best=args.p_best, file=args.units)
    except ParameterError as exc:
        raise ParameterError(f"--{exc.name.replace('_', '-')}", exc.given, exc.allowed) from None
    out = raw.copy()
    out["arm"] = alloc.table["arm"].to_numpy()
    out.to_csv(args.out, index=False)
    result = {"method": alloc.method, "seed": alloc.seed, "algorithm": alloc.algorithm,
              "n_units": len(out), "counts": alloc.counts, "out": args.out}
    if alloc.constrained is not None:
        result["constrained"] = alloc.constrained.to_dict()
    if args.log:
        digest = hashlib.sha256(Path(args.units).read_bytes()).hexdigest()
        cov = (cluster_covariates(frame, args.cluster, list(args.covariates), file=args.units)
               if args.method == "constrained" else None)
        result["log"] = args.log
        result["head"] = write_log(args.log, alloc, units_sha256=digest, covariates=cov)
    if args.balance:
        table = balance_table(frame, alloc.table["arm"], args.balance, arms=alloc.arms)
        result["balance"] = table.to_dict(orient="records")
    if args.format == "json":
        from .._results import jsonable

        print(json.dumps(jsonable(result), indent=2))
    else:
        print(alloc.summary_text())
        print(f"  wrote {args.out}" + (f" and the log {args.log} (head {result['head']})"
                                       if args.log else ""))
        if args.balance:
            print(pd.DataFrame(result["balance"]).to_string(index=False))
    return 0


def cmd_verify(args) -> int:
    from .audit import verify_log

    res = verify_log(args.log, head=args.head)
    if args.format == "json":
        print(json.dumps(res.to_dict(), indent=2))
    else:
        print(res.summary_text())
    return 0 if res.ok else 1


def cmd_analyse(args) -> int:
    from .._io import read_table
    from .analyse import analyse

    if args.family not in FAMILIES:
        raise ParameterError("--family", args.family, f"one of {', '.join(FAMILIES)}")
    frame = read_table(args.data, text=_group_columns(args.cluster, args.block))
    res = analyse(frame, outcome=args.outcome, treatment=args.treatment, cluster=args.cluster,
                  block=args.block, covariates=args.covariates, exposure=args.exposure,
                  family=args.family, treated=args.treated, level=args.level, file=args.data)
    if args.format == "json":
        print(json.dumps(res.to_dict(), indent=2))
    else:
        sys.stdout.write(res.summary_text() + "\n")
    return 0


def cmd_cace(args) -> int:
    from .._io import read_table
    from .cace import cace

    frame = read_table(args.data, text=_group_columns(args.cluster, args.block))
    res = cace(frame, outcome=args.outcome, assigned=args.assigned, received=args.received,
               cluster=args.cluster, block=args.block, covariates=args.covariates,
               treated=args.treated, level=args.level, file=args.data)
    print(json.dumps(res.to_dict(), indent=2) if args.format == "json" else res.summary_text())
    return 0


def cmd_impute(args) -> int:
    from .._io import read_table
    from .._results import jsonable
    from .imputation import DELTA_ARMS, multiple_imputation

    if args.delta_arm not in DELTA_ARMS:
        raise ParameterError("--delta-arm", args.delta_arm, f"one of {', '.join(DELTA_ARMS)}")
    frame = read_table(args.data, text=_group_columns(args.cluster, args.block))
    results = [multiple_imputation(frame, outcome=args.outcome, treatment=args.treatment,
                                   cluster=args.cluster, block=args.block,
                                   covariates=args.covariates, treated=args.treated, m=args.m,
                                   seed=args.seed, delta=d, delta_arm=args.delta_arm,
                                   level=args.level, file=args.data) for d in args.delta]
    if args.format == "json":
        out = [{"delta": r.delta, "delta_arm": r.delta_arm, "n_missing": r.n_missing,
                "m": r.pooled.m, "seed": r.seed, **r.pooled.to_dict()} for r in results]
        print(json.dumps(jsonable(out if len(out) > 1 else out[0]), indent=2))
    else:
        for r in results:
            print(r.summary_text())
    return 0


def cmd_did(args) -> int:
    from .._io import read_table
    from .did import CONTROLS, staggered_did

    if args.control not in CONTROLS:
        raise ParameterError("--control", args.control, f"one of {', '.join(CONTROLS)}")
    frame = read_table(args.data, text=_group_columns(args.unit))
    res = staggered_did(frame, outcome=args.outcome, unit=args.unit, time=args.time,
                        group=args.group, control=args.control, level=args.level, file=args.data)
    if args.plot:
        from ..synthesis.plots import save_figure

        save_figure(res.plot_event_study().figure, args.plot)
    if args.format == "json":
        print(json.dumps(res.to_dict(), indent=2))
    else:
        print(res.summary_text())
        print(res.event_study.to_string(index=False))
    return 0
