"""The ``whatworks`` command: one sub-command per area, thin over the core.

Parse, call the core, print (a table for people; ``--format json|csv`` for machines). A user's
mistake exits with status 2 and one line naming the file, row and column.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence

from . import __version__
from .effects.escalc import EFFECT_ARGUMENTS as EFFECT_COLUMNS
from .errors import InputError, WhatWorksError


def _add_effect_columns(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("columns (metafor's argument names)")
    for name in EFFECT_COLUMNS:
        if name != "sign":
            g.add_argument(f"--{name}", metavar="COL", help=f"column holding {name}")
    g.add_argument("--sign", metavar="COL",
                   help="column of effect directions (+1/-1) for SMD from --fi or --pi")


def _measures() -> list[str]:
    from .effects import MEASURES

    return list(MEASURES)


def _methods() -> list[str]:
    from .synthesis import TAU2_ESTIMATORS

    return list(TAU2_ESTIMATORS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whatworks",
        description="The evidence system of a What Works centre for children's social care: "
                    "effect sizes, meta-analysis and more.")
    parser.add_argument("--version", action="version", version=f"whatworks {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("effects", help="compute effect sizes (yi) and sampling variances (vi)",
                       description="Append columns yi and vi computed from reported statistics "
                                   "(as metafor's escalc).")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--measure", required=True, help=f"one of: {', '.join(_measures())}")
    _add_effect_columns(p)
    p.add_argument("--add", type=float, default=None, help="continuity correction (default 0.5)")
    p.add_argument("--to", choices=["all", "only0", "if0all", "none"], default=None)
    p.add_argument("--drop00", action="store_true", help="drop studies with no events in both groups")
    p.add_argument("--vtype", default=None, help="variance type (default LS)")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")

    p = sub.add_parser("meta", help="fit a meta-analysis",
                       description="Fit a common-effect, random-effects or mixed-effects model, a "
                                   "multilevel model, or Mantel-Haenszel/Peto for 2x2 data.")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--yi", metavar="COL", help="column of effect sizes")
    p.add_argument("--vi", metavar="COL", help="column of sampling variances")
    p.add_argument("--sei", metavar="COL", help="column of standard errors (instead of --vi)")
    p.add_argument("--measure", help="with --method MH|PETO: OR, RR or RD; or compute yi/vi "
                                     "first from the columns given (as `whatworks effects`)")
    _add_effect_columns(p)
    p.add_argument("--method", default="REML",
                   help=f"tau^2 estimator: {', '.join(_methods())}; "
                        "or MH, PETO for 2x2 data (default REML)")
    p.add_argument("--test", default="z", choices=["z", "t", "knha", "adhoc"])
    p.add_argument("--level", type=float, default=95.0, help="confidence level (default 95)")
    p.add_argument("--mods", nargs="+", metavar="COL", help="moderator columns (meta-regression)")
    p.add_argument("--random", metavar="TERM", action="append",
                   help="multilevel model with random intercepts, as metafor's random = ~ 1 | "
                        "TERM: COL gives one variance component, A/B (or A/B/C) nested levels; "
                        "repeat for crossed terms (sigma2 in the order given)")
    p.add_argument("--rho", type=float, metavar="R",
                   help="with --random STUDY/ES: the CHE model, sampling errors of one study's "
                        "effects correlated R (e.g. 0.6); add --robust STUDY for CR2")
    p.add_argument("--robust", metavar="CLUSTERCOL",
                   help="cluster-robust (CR2) inference, clustering by this column")
    p.add_argument("--bias", action="store_true",
                   help="small-study effects: Egger, Begg, trim-and-fill")
    p.add_argument("--leave-one-out", action="store_true", help="leave-one-out analysis")
    p.add_argument("--influence", action="store_true",
                   help="influence diagnostics (studentised residuals, DFFITS, Cook's distance, ...)")
    p.add_argument("--subgroup", metavar="COL",
                   help="subgroup analysis by this column, with the test of subgroup differences")
    p.add_argument("--permutations", type=int, metavar="N",
                   help="permutation test of the coefficients with N permutations (exact when "
                        "N covers them all)")
    p.add_argument("--seed", type=int, help="seed for random permutations (recorded in the output)")
    p.add_argument("--slab", metavar="COL", help="column of study labels (for plots)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--plot", metavar="FILE", help="write a forest plot (.svg, .png or .pdf)")

    p = sub.add_parser("demo", help="run the demo meta-analysis end to end",
                       description="A CSV of studies in; a summary table, JSON and a forest plot out.")
    p.add_argument("--output-dir", default="demo-output", metavar="DIR")

    from .places import cli as places_cli
    from .web.cli import register as register_web

    places_cli.register(sub)
    register_web(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            handler = getattr(args, "handler", None) or COMMANDS[args.command]
            code = handler(args)
        for w in caught:
            print(f"whatworks: warning: {w.message}", file=sys.stderr)
        return code
    except WhatWorksError as exc:
        print(f"whatworks: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a command that stopped reading
        return 0


def _with_file(exc: InputError, path: str) -> InputError:
    if exc.file is None:
        return InputError(str(exc), file=path)
    return exc


def cmd_effects(args) -> int:
    from . import effects
    from ._io import read_table

    frame = read_table(args.data)
    cols = {name: getattr(args, name) for name in EFFECT_COLUMNS
            if getattr(args, name, None)}
    for name, col in cols.items():
        if col not in frame.columns:
            raise InputError(f"no such column (given as --{name}); the columns are "
                             f"{', '.join(frame.columns)}", file=args.data, column=col)
    options = {k: getattr(args, k) for k in ("add", "to", "vtype") if getattr(args, k) is not None}
    if args.drop00:
        options["drop00"] = True
    try:
        out = effects.escalc(args.measure, frame, **cols, **options)
    except InputError as exc:
        raise _with_file(exc, args.data) from None
    if args.format == "json":
        text = out.to_json(orient="records", indent=2, double_precision=15)
    else:
        text = out.to_csv(index=False)
    _emit(text, args.output)
    return 0


def _emit(text: str, path: str | None) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def cmd_meta(args) -> int:
    from ._io import numeric_column, read_table

    frame = read_table(args.data)
    method = args.method
    if method.upper() in ("MH", "PETO"):
        return _meta_2x2(args, frame)
    if args.measure and not args.yi:
        from . import effects

        cols = {n: getattr(args, n) for n in EFFECT_COLUMNS if getattr(args, n, None)}
        try:
            frame = effects.escalc(args.measure, frame, **cols)
        except InputError as exc:
            raise _with_file(exc, args.data) from None
        yi_col, vi_col = "yi", "vi"
    else:
        if not args.yi or not (args.vi or args.sei):
            raise InputError("give --yi and --vi (or --sei), or --measure with the columns to "
                             "compute them from", file=args.data)
        yi_col, vi_col = args.yi, args.vi or args.sei
    yi = numeric_column(frame, yi_col, file=args.data, option="--yi")
    vi = numeric_column(frame, vi_col, file=args.data, option="--vi" if args.vi else "--sei")
    if args.sei and not args.vi:
        vi = vi ** 2
    bad = [i for i, x in enumerate(vi) if x < 0]
    if bad:
        raise InputError(f"sampling variance {vi[bad[0]]:g} is negative; variances must be >= 0",
                         file=args.data, row=bad[0] + 1, column=vi_col)
    mods = None
    if args.mods:
        for m in args.mods:
            if m not in frame.columns:
                raise InputError(f"no such column (given as --mods); the columns are "
                                 f"{', '.join(frame.columns)}", file=args.data, column=m)
        mods = frame[args.mods]
    labels = frame[args.slab].astype(str).tolist() if args.slab else None
    if args.rho is not None and not args.random:
        raise InputError("--rho (the CHE model) needs --random STUDY/ES", file=args.data)
    if args.random:
        model, frame = _meta_multilevel(args, frame, yi, vi, mods)
        fit = None
        result = model.to_dict()
        if args.rho is not None:
            result["rho"] = args.rho
    else:
        from .synthesis import meta_analysis

        try:
            fit = meta_analysis(yi, vi, mods=mods, method=method, test=args.test,
                                level=args.level, labels=labels)
        except InputError as exc:
            raise _with_file(exc, args.data) from None
        result = fit.to_dict()
        model = fit
    if args.robust:
        result["robust"] = _robust(args, frame, model)
    if args.bias:
        if fit is None:
            raise InputError("--bias works with univariate models (not with --random)",
                             file=args.data)
        from .synthesis.bias import small_study_tests

        result["bias"] = small_study_tests(fit)
    if args.leave_one_out:
        if fit is None:
            raise InputError("--leave-one-out works with univariate models (not with --random)",
                             file=args.data)
        from .synthesis.sensitivity import leave_one_out

        result["leave_one_out"] = leave_one_out(fit).to_dict()
    if args.influence or args.subgroup or args.permutations is not None:
        if fit is None:
            raise InputError("--influence, --subgroup and --permutations work with univariate "
                             "models (not with --random)", file=args.data)
        _diagnostics(args, frame, fit, result, yi, vi)
    if args.plot:
        if fit is None:
            raise InputError("--plot draws univariate models (not --random) for now",
                             file=args.data)
        from .synthesis.plots import forest_plot, save_figure

        save_figure(forest_plot(fit), args.plot)
    if args.format == "json":
        from ._results import jsonable

        print(json.dumps(jsonable(result), indent=2))
    else:
        print(model.summary_text())
        for key in ("robust", "bias", "subgroups", "permutation"):
            if key in result:
                print(f"\n{key}: {json.dumps(result[key], indent=2, default=str)}")
    return 0


def _diagnostics(args, frame, fit, result, yi, vi) -> None:
    if args.influence:
        from .synthesis.sensitivity import influence

        result["influence"] = influence(fit).to_dict()
    if args.subgroup:
        from .synthesis.subgroups import subgroup_analysis

        if args.subgroup not in frame.columns:
            raise InputError(f"no such column (given as --subgroup); the columns are "
                             f"{', '.join(frame.columns)}", file=args.data, column=args.subgroup)
        groups = frame[args.subgroup].astype("string").to_numpy()
        result["subgroups"] = subgroup_analysis(yi, vi, groups, method=fit.method, test=fit.test,
                                                level=fit.level).to_dict()
    if args.permutations is not None:
        from ._progress import progress_callback
        from .synthesis.permutation import permutation_test

        advance, close = progress_callback(args.permutations, "permutations")
        try:
            res = permutation_test(fit, iterations=args.permutations, seed=args.seed,
                                   progress=advance)
        finally:
            close()
        result["permutation"] = res.to_dict()


def _meta_2x2(args, frame) -> int:
    from ._io import numeric_column
    from .synthesis.mantel_haenszel import mantel_haenszel, peto

    names = ("ai", "bi", "ci", "di", "n1i", "n2i")
    cols = {n: numeric_column(frame, getattr(args, n), file=args.data, option=f"--{n}")
            for n in names if getattr(args, n, None)}
    if "ai" not in cols or "ci" not in cols:
        raise InputError("--method MH/PETO needs --ai and --ci with --bi/--di or --n1i/--n2i",
                         file=args.data)
    try:
        if args.method.upper() == "MH":
            res = mantel_haenszel(measure=(args.measure or "OR").upper(), level=args.level,
                                     **cols)
        else:
            res = peto(level=args.level, **cols)
    except InputError as exc:
        raise _with_file(exc, args.data) from None
    if args.format == "json":
        from ._results import jsonable

        print(json.dumps(jsonable(res.to_dict()), indent=2))
    else:
        print(res.summary_text())
    return 0


def _meta_multilevel(args, frame, yi, vi, mods):
    """Fit ``multilevel(random=[...])`` (CHE with --rho); returns it and the rows it used."""
    import numpy as np
    import pandas as pd

    from .errors import WhatWorksWarning
    from .synthesis.covariance import constant_correlation
    from .synthesis.multilevel import multilevel, parse_random

    try:
        terms = parse_random(args.random)
    except WhatWorksError:
        raise InputError(f"--random takes column names separated by '/', such as study/es; got "
                         f"{' '.join(args.random)}", file=args.data) from None
    columns = list(dict.fromkeys(c for term in terms for c in term))
    for col in columns:
        if col not in frame.columns:
            raise InputError(f"no such column (given in --random); the columns are "
                             f"{', '.join(frame.columns)}", file=args.data, column=col)
    if args.method.upper() not in ("REML", "ML"):
        raise InputError(f"--method {args.method} cannot fit a multilevel model (--random); use "
                         "REML or ML", file=args.data)
    if args.test not in ("z", "t"):
        raise InputError(f"--test {args.test} is not available for multilevel models "
                         "(--random); use z or t", file=args.data)
    # rows with a missing value leave together with their labels (and their part of V)
    keep = np.isfinite(yi) & np.isfinite(vi) & frame[columns].notna().all(axis=1).to_numpy()
    if mods is not None:
        keep &= mods.notna().all(axis=1).to_numpy()
    if not keep.all():
        warnings.warn(f"{int((~keep).sum())} rows with missing values were left out",
                      WhatWorksWarning, stacklevel=2)
    used = frame[keep].reset_index(drop=True)
    y, v = np.asarray(yi)[keep], np.asarray(vi)[keep]
    mods = None if mods is None else pd.DataFrame(mods)[keep].reset_index(drop=True)
    try:
        if args.rho is not None:
            V = constant_correlation(v, used[terms[0][0]].to_numpy(), args.rho)
            res = multilevel(y, V=V, random=["/".join(t) for t in terms], data=used, mods=mods,
                             method=args.method.upper(), test=args.test, level=args.level)
        else:
            res = multilevel(y, v, random=["/".join(t) for t in terms], data=used, mods=mods,
                             method=args.method.upper(), test=args.test, level=args.level)
    except InputError as exc:
        raise _with_file(exc, args.data) from None
    except WhatWorksError as exc:
        raise InputError(str(exc), file=args.data) from None
    return res, used


def _robust(args, frame, model) -> dict:
    from .synthesis.robust import robust

    if args.robust not in frame.columns:
        raise InputError(f"no such column (given as --robust); the columns are "
                         f"{', '.join(frame.columns)}", file=args.data, column=args.robust)
    try:
        res = robust(model, frame[args.robust].to_numpy())
    except InputError as exc:
        raise _with_file(exc, args.data) from None
    return res.to_dict()


def cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(args.output_dir)
    return 0


def cmd_places(args) -> int:
    from .places import cli as places_cli

    return places_cli.run(args)


COMMANDS = {"effects": cmd_effects, "meta": cmd_meta, "demo": cmd_demo, "places": cmd_places}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
