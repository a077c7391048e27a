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

from .errors import InputError, ParameterError, WhatWorksError

# Only light modules are imported here: ``whatworks --help`` and ``--version`` must not pay for
# pandas, scipy or the engines. Each command imports what it needs when it runs.

#: Effect-size columns (metafor's argument names); mirrors ``effects.escalc.EFFECT_ARGUMENTS``
#: (tests/test_cli_options.py checks they agree) so the parser needs no import of the engine.
EFFECT_COLUMNS = ("ai", "bi", "ci", "di", "n1i", "n2i", "x1i", "x2i", "t1i", "t2i", "m1i", "m2i",
                  "sd1i", "sd2i", "xi", "mi", "ri", "ti", "ni", "fi", "pi", "sign",
                  "estimate", "ci_lower", "ci_upper", "se")
GENERIC_COLUMNS = {"estimate": "column of estimates (--measure GEN)",
                   "ci_lower": "column of lower confidence limits (--measure GEN)",
                   "ci_upper": "column of upper confidence limits (--measure GEN)",
                   "se": "column of standard errors on the analysis scale (--measure GEN)"}
TWO_BY_TWO = ("ai", "bi", "ci", "di", "n1i", "n2i")
TWO_BY_TWO_METHODS = ("MH", "PETO")

PLACES_HELP = "rates of children looked after across local authorities"
PLACES_DESCRIPTION = ("Rates of children looked after across England's local authorities: the "
                      "authority x year panel, funnel plots, trends and models, on the DfE "
                      "statistics (Open Government Licence v3.0).")


class OptionError(WhatWorksError, ValueError):
    """Options that cannot be honoured together (or at all): names the option and why."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2), as every other mistake gets."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


class _Version(argparse.Action):
    """``--version``, looking the version up only when asked (it costs an import)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from . import __version__

        sys.stdout.write(f"whatworks {__version__}\n")
        parser.exit()


def _add_effect_columns(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("columns (metafor's argument names)")
    for name in EFFECT_COLUMNS:
        if name != "sign" and name not in GENERIC_COLUMNS:
            g.add_argument(f"--{name}", metavar="COL", help=f"column holding {name}")
    g.add_argument("--sign", metavar="COL",
                   help="column of effect directions (+1/-1) for SMD from --fi or --pi")
    g = p.add_argument_group("generic inverse variance (--measure GEN: an estimate with its "
                             "confidence interval or standard error, as RevMan)")
    for name, text in GENERIC_COLUMNS.items():
        g.add_argument("--" + name.replace("_", "-"), dest=name, metavar="COL", help=text)
    g.add_argument("--scale", type=str.lower, choices=["identity", "log"], default=None,
                   help="log: the estimates and limits are ratios (odds, risk, hazard ratios), "
                        "analysed as log ratios; identity (default): differences, coefficients")
    g.add_argument("--ci-level", type=float, default=None, metavar="PCT",
                   help="confidence level of the limits (default 95)")


def _measures() -> list[str]:
    from .effects import MEASURES

    return list(MEASURES)


def _methods() -> list[str]:
    from .synthesis import TAU2_ESTIMATORS

    return list(TAU2_ESTIMATORS)


def _tests() -> tuple[str, ...]:
    from .synthesis.model import TESTS

    return TESTS


def _canonical(option: str, given: str, choices: Sequence[str]) -> str:
    """The registry's spelling of a name given in any case (``reml`` -> ``REML``, ``hsk`` -> ``HSk``)."""
    spelling = {c.lower(): c for c in choices}
    if given.lower() not in spelling:
        raise OptionError(f"{option}={given!r} is not allowed; expected one of {', '.join(choices)} "
                          "(in any case)")
    return spelling[given.lower()]


def build_parser(*, commands_only: bool = False, command: str | None = None
                 ) -> argparse.ArgumentParser:
    """The whole parser; with ``commands_only`` just the commands (enough for the top-level
    ``--help`` and ``--version``, and fast: no sub-command's options, so no heavy imports); with
    ``command`` the options of that command only (each command imports only what it needs)."""

    def wanted(name: str) -> bool:
        return not commands_only and command in (None, name)

    parser = _Parser(
        prog="whatworks",
        description="The evidence system of a What Works centre for children's social care: "
                    "effect sizes, meta-analysis and more.")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the program's version number and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("effects", help="compute effect sizes (yi) and sampling variances (vi)",
                       description="Append columns yi and vi computed from reported statistics "
                                   "(as metafor's escalc).")
    if wanted("effects"):
        _effects_options(p)

    p = sub.add_parser("meta", help="fit a meta-analysis",
                       description="Fit a common-effect, random-effects or mixed-effects model, a "
                                   "multilevel model, or Mantel-Haenszel/Peto for 2x2 data.")
    if wanted("meta"):
        _meta_options(p)

    p = sub.add_parser(
        "rate", help="rate a body of evidence: effectiveness and strength, explained",
        description="Rate effectiveness and strength of evidence from a table of findings (one "
                    "row per effect size) by a versioned rating scheme: which studies count, the "
                    "synthesis, the rating, its explanation and a plain-language statement. "
                    "Columns: study, design (rct, cluster-rct, qed, pre-post, other), n "
                    "(participants analysed; may be empty), risk_of_bias (low, some-concerns, "
                    "high; empty = unclear), measure, yi, vi (or the reported statistics under "
                    "metafor's argument names); optional es_id, months.")
    if wanted("rate"):
        _rate_options(p)

    p = sub.add_parser("demo", help="run the demo meta-analysis end to end",
                       description="A CSV of studies in; a summary table, JSON and a forest plot out.")
    p.add_argument("--output-dir", default="demo-output", metavar="DIR")

    places = sub.add_parser("places", help=PLACES_HELP, description=PLACES_DESCRIPTION)
    if wanted("places"):
        from .places import cli as places_cli

        places_cli.populate(places)
    from .review import cli as review_cli
    from .trials import cli as trials_cli
    from .web.cli import register as register_web

    review_cli.register(sub)
    trials_cli.register(sub)
    register_web(sub)
    return parser


def _rate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="FINDINGS.csv")
    p.add_argument("--direction", metavar="increase|decrease",
                   help="the better direction of the outcome (or give --outcome)")
    p.add_argument("--outcome", metavar="SLUG",
                   help="an outcome of the outcomes framework (its direction is used)")
    p.add_argument("--scheme", metavar="ID[@VERSION]", default=None,
                   help="rating scheme, e.g. whatworks-2026@1.0 (default: the latest version of "
                        "whatworks-2026)")
    p.add_argument("--amstar2", metavar="RATING", default=None,
                   help="AMSTAR 2 rating of the source review (high, moderate, low, critically-low)")
    p.add_argument("--format", type=str.lower, choices=["table", "json"], default="table")


def _effects_options(p: argparse.ArgumentParser) -> None:
    from .effects.binary import TO_OPTIONS

    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--measure", required=True,
                   help=f"one of (in any case): {', '.join(_measures())}")
    _add_effect_columns(p)
    p.add_argument("--add", type=float, default=None, help="continuity correction (default 0.5)")
    p.add_argument("--to", type=str.lower, choices=list(TO_OPTIONS), default=None)
    p.add_argument("--drop00", action="store_true", help="drop studies with no events in both groups")
    p.add_argument("--vtype", type=str.upper, default=None, help="variance type (default LS)")
    g = p.add_argument_group("cluster trials analysed as if individually randomised")
    g.add_argument("--cluster-sizes", metavar="COL",
                   help="column of cluster sizes: the average size, or each arm's sizes as "
                        "'12;30;8|20;25' (group 1 | group 2); SMD is adjusted by Hedges (2007), "
                        "other measures' variances by the design effect (Eldridge's when sizes "
                        "differ)")
    g.add_argument("--icc", metavar="X|COL",
                   help="intraclass correlation: a number, or a column (needs --cluster-sizes)")
    g.add_argument("--cluster-cv", metavar="X|COL",
                   help="coefficient of variation of cluster size, with an average in "
                        "--cluster-sizes")
    p.add_argument("--format", type=str.lower, choices=["csv", "json"], default="csv")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")


def _meta_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--yi", metavar="COL", help="column of effect sizes")
    p.add_argument("--vi", metavar="COL", help="column of sampling variances")
    p.add_argument("--sei", metavar="COL", help="column of standard errors (instead of --vi)")
    p.add_argument("--measure", help="with --method MH|PETO: OR, RR or RD; or compute yi/vi "
                                     "first from the columns given (as `whatworks effects`)")
    _add_effect_columns(p)
    p.add_argument("--method", default="REML",
                   help=f"tau^2 estimator: {', '.join(_methods())}; "
                        "or MH, PETO for 2x2 data (default REML; any case)")
    p.add_argument("--test", type=str.lower, default=None, choices=list(_tests()),
                   help="default z")
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
    p.add_argument("--rob2", metavar="TABLE",
                   help="the review's RoB 2 table (`whatworks review rob2`'s input): each study's "
                        "judgements, matched by --slab to study_id (or to 'study (result)'), are "
                        f"drawn beside the forest plot, given in the JSON, and are column "
                        f"{ROB2_COLUMN} for --subgroup or --mods")
    p.add_argument("--rob2-sensitivity", action="store_true",
                   help="with --rob2: the sensitivity analyses by risk of bias (the model refitted "
                        "without the results at high risk of bias, and on those at low risk "
                        "only), each naming the studies it leaves out")
    p.add_argument("--format", type=str.lower, choices=["table", "json"], default="table")
    p.add_argument("--plot", metavar="FILE", help="write a forest plot (.svg, .png or .pdf)")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and not argv[0].startswith("-") else None
    parser = build_parser(commands_only=command is None, command=command)
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
            print(f"whatworks: warning: {_one_line(w.message)}", file=sys.stderr)
        return code
    except WhatWorksError as exc:
        print(f"whatworks: error: {_one_line(_naming_file(exc, args))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a command that stopped reading
        return 0


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _naming_file(exc: WhatWorksError, args) -> WhatWorksError | str:
    """An error about the data that does not yet name the data file, naming it."""
    path = getattr(args, "data", None)
    if path is None or isinstance(exc, (OptionError, ParameterError)):
        return exc
    if isinstance(exc, InputError):
        return _with_file(exc, path)
    return f"{path}: {exc}"


def _with_file(exc: InputError, path: str) -> InputError:
    if exc.file is None:
        return InputError(exc.message, file=path, row=exc.row, column=exc.column)
    return exc


def cmd_effects(args) -> int:
    from . import effects
    from ._io import read_table

    args.measure = _canonical("--measure", args.measure, _measures())
    if (args.icc or args.cluster_cv) and not args.cluster_sizes:
        option = "--icc" if args.icc else "--cluster-cv"
        raise OptionError(f"{option} needs --cluster-sizes COL (the cluster sizes to adjust for)")
    if args.cluster_sizes and not args.icc:
        raise OptionError("--cluster-sizes needs --icc (the intraclass correlation, a number or "
                          "a column)")
    frame = read_table(args.data)
    cols = {name: getattr(args, name) for name in EFFECT_COLUMNS
            if getattr(args, name, None)}
    for name, col in cols.items():
        if col not in frame.columns:
            raise InputError(f"no such column (given as --{name}); the columns are "
                             f"{', '.join(frame.columns)}", file=args.data, column=col)
    options = {k: getattr(args, k) for k in ("add", "to", "vtype") if getattr(args, k) is not None}
    options.update(_generic_options(args))
    if args.drop00:
        options["drop00"] = True
    try:
        out = effects.escalc(args.measure, frame, **cols, **options)
        if args.cluster_sizes:
            out = _adjust_for_clustering(args, out)
    except InputError as exc:
        raise _with_file(exc, args.data) from None
    if args.format == "json":
        text = out.to_json(orient="records", indent=2, double_precision=15)
    else:
        text = out.to_csv(index=False)
    _emit(text, args.output)
    return 0


def _generic_options(args) -> dict:
    """--scale and --ci-level, which only --measure GEN takes."""
    options = {}
    if args.scale is not None:
        options["scale"] = args.scale
    if args.ci_level is not None:
        options["level"] = args.ci_level
    if options and args.measure != "GEN":
        option = "--scale" if "scale" in options else "--ci-level"
        raise OptionError(f"{option} is only used by --measure GEN (an estimate with its confidence "
                          "interval)")
    return options


def _number_or_column(value: str, frame, option: str, path: str):
    """A number given on the command line, or the name of a column of the data."""
    from ._io import NUMBER

    if NUMBER.fullmatch(value.strip()):
        return float(value)
    if value not in frame.columns:
        raise OptionError(f"{option} {value!r} is neither a number nor a column of {path}; the "
                          f"columns are {', '.join(frame.columns)}")
    return value


def _adjust_for_clustering(args, out):
    from .effects import adjust_for_clustering

    if args.cluster_sizes not in out.columns:
        raise InputError(f"no such column (given as --cluster-sizes); the columns are "
                         f"{', '.join(out.columns)}", column=args.cluster_sizes)
    icc = _number_or_column(args.icc, out, "--icc", args.data)
    cv = None if args.cluster_cv is None else _number_or_column(args.cluster_cv, out,
                                                                "--cluster-cv", args.data)
    return adjust_for_clustering(out, icc=icc, cluster_sizes=args.cluster_sizes, cv=cv,
                                 n1i=args.n1i, n2i=args.n2i)


def _emit(text: str, path: str | None) -> None:
    if path:
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise OptionError(f"--output {path}: cannot write the output ({exc.strerror}); check "
                              "the folder exists and you may write there") from None
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def cmd_meta(args) -> int:
    from ._io import numeric_column, read_table

    _check_meta_options(args)
    frame = read_table(args.data, _meta_columns(args))
    method = args.method
    if method.upper() in ("MH", "PETO"):
        return _meta_2x2(args, frame)
    if args.measure and not args.yi:
        from . import effects

        cols = {n: getattr(args, n) for n in EFFECT_COLUMNS if getattr(args, n, None)}
        try:
            frame = effects.escalc(args.measure, frame, **cols, **_generic_options(args))
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
    rob2 = _rob2_for_studies(args, frame) if args.rob2 else None
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
    robust_text = None
    texts: dict[str, str] = {}  # the diagnostics that have a table for people
    if args.robust:
        robust_fit = _robust(args, frame, model)
        result["robust"], robust_text = robust_fit.to_dict(), robust_fit.summary_text()
    if args.bias:
        if fit is None:
            raise InputError("--bias works with univariate models (not with --random)",
                             file=args.data)
        from .synthesis.bias import small_study_tests

        result["bias"] = small_study_tests(fit)
        texts["bias"] = _bias_text(result["bias"], "z" if fit.test == "z" else "t")
    if args.leave_one_out:
        if fit is None:
            raise InputError("--leave-one-out works with univariate models (not with --random)",
                             file=args.data)
        from .synthesis.sensitivity import leave_one_out

        loo = leave_one_out(fit)
        result["leave_one_out"], texts["leave_one_out"] = loo.to_dict(), loo.summary_text()
    if args.influence or args.subgroup or args.permutations is not None:
        if fit is None:
            raise InputError("--influence, --subgroup and --permutations work with univariate "
                             "models (not with --random)", file=args.data)
        _diagnostics(args, frame, fit, result, yi, vi, texts)
    if args.plot:
        if fit is None:
            raise InputError("--plot draws univariate models (not --random) for now",
                             file=args.data)
        from .synthesis.plots import forest_plot, save_figure

        save_figure(forest_plot(fit, risk_of_bias=None if rob2 is None else [
            [*(d.final for d in a.domains), a.overall] for a in rob2]), args.plot)
    if args.rob2_sensitivity:
        if rob2 is None:
            raise InputError("--rob2-sensitivity needs --rob2 TABLE (and --slab)", file=args.data,
                             column="--rob2-sensitivity")
        result["rob2_sensitivity"] = _rob2_sensitivity(fit, yi, vi, labels, rob2)
        texts["rob2_sensitivity"] = _rob2_sensitivity_text(result["rob2_sensitivity"])
    if rob2 is not None:
        result["risk_of_bias"] = [{"label": label, "study_id": a.study_id, "result": a.result,
                                   **{d.domain: d.final for d in a.domains}, "overall": a.overall}
                                  for label, a in zip(labels, rob2, strict=True)]
        import pandas as pd

        texts["risk_of_bias"] = "Risk of bias (RoB 2, " + args.rob2 + ")\n\n" + pd.DataFrame(
            result["risk_of_bias"]).drop(columns=["study_id", "result"]).set_index(
            "label").rename_axis(None).to_string()
    if args.format == "json":
        from ._results import jsonable

        print(json.dumps(jsonable(result), indent=2))
    else:
        print(model.summary_text())
        if robust_text:
            print(f"\n{robust_text}")
        for key in ("risk_of_bias", "rob2_sensitivity", "bias", "leave_one_out", "influence",
                    "subgroups", "permutation"):
            if key in texts:
                print(f"\n{texts[key]}")
            elif key in result:
                print(f"\n{key}: {json.dumps(_jsonable(result[key]), indent=2, default=str)}")
    return 0


def _bias_text(bias: dict, stat: str) -> str:
    """The small-study tests for people (the JSON keeps every digit)."""
    def p(value) -> str:
        return "p = NA" if value is None else "p < 0.001" if value < 0.001 else f"p = {value:.3f}"

    egger, begg, tf = bias["egger"], bias["begg"], bias["trim_and_fill"]
    lines = ["Small-study effects",
             f"  Egger's regression test: {stat} = {egger['statistic']:.3f}, {p(egger['p_value'])}",
             f"  Begg's rank correlation: Kendall's tau = {begg['tau']:.3f}, {p(begg['p_value'])}"]
    if tf is not None:
        lines.append(f"  Trim and fill: {tf['k0']} study(ies) imputed on the {tf['side']} side; "
                     f"adjusted estimate {tf['estimate']:.4f} (SE {tf['se']:.4f})")
    return "\n".join(lines)


def _rob2_sensitivity(fit, yi, vi, labels, rob2) -> list[dict]:
    """The model refitted on each restriction by risk of bias (same estimator, test and level)."""
    import numpy as np

    from .review.appraisal import restrictions
    from .synthesis import meta_analysis

    out = []
    for name, keep in restrictions([a.overall for a in rob2]).items():
        mask = np.asarray(keep)
        entry = {"restriction": name, "k": int(mask.sum()),
                 "left_out": [lab for lab, k in zip(labels, keep, strict=True) if not k]}
        if mask.sum() == 0:
            entry["note"] = "no study is left: nothing to fit"
        else:
            sub = meta_analysis(np.asarray(yi)[mask], np.asarray(vi)[mask], method=fit.method,
                                test=fit.test, level=fit.level)
            entry.update(estimate=sub.estimate, ci_lower=sub.ci_lower, ci_upper=sub.ci_upper,
                         p_value=sub.p_value, tau2=sub.tau2, i2=sub.i2)
        out.append(entry)
    return out


def _rob2_sensitivity_text(rows: list[dict]) -> str:
    lines = ["Sensitivity analyses by risk of bias (RoB 2)"]
    for r in rows:
        if "estimate" in r:
            lines.append(f"  {r['restriction']}: k = {r['k']}, estimate {r['estimate']:.4f} "
                         f"[{r['ci_lower']:.4f}, {r['ci_upper']:.4f}], p = {r['p_value']:.4g}, "
                         + (f"I^2 = {r['i2']:.1f}%" if r["k"] > 1 else "one study"))
        else:
            lines.append(f"  {r['restriction']}: {r['note']}")
        if r["left_out"]:
            lines.append(f"    left out: {', '.join(r['left_out'])}")
    return "\n".join(lines)


def _rob2_for_studies(args, frame):
    """Each row's RoB 2 assessment from ``--rob2``, matched by its ``--slab`` label to a study_id
    (or, where a study has several results, to "study (result)"); the overall judgement becomes
    column ROB2_COLUMN. A label with no assessment, or with several, is refused by row."""
    from .review.appraisal import read_rob2_table

    if not args.slab:
        raise InputError("--rob2 matches studies by their labels: give --slab COL too",
                         file=args.data, column="--slab")
    if ROB2_COLUMN in frame.columns:
        raise InputError(f"the data has a column {ROB2_COLUMN}, which --rob2 would fill; rename it",
                         file=args.data, column=ROB2_COLUMN)
    assessments = read_rob2_table(args.rob2)
    by_label = {a.label: a for a in assessments}
    out = []
    for row, label in enumerate(frame[args.slab].astype(str).tolist(), start=1):
        found = [by_label[label]] if label in by_label else [
            a for a in assessments if a.study_id == label]
        if len(found) != 1:
            why = (f"has no row in {args.rob2}" if not found else
                   f"has {len(found)} results in {args.rob2} ("
                   + ", ".join(repr(a.label) for a in found[:3])
                   + "); label the study by the one this analysis uses")
            raise InputError(f"study {label!r} {why}", file=args.data, row=row, column=args.slab)
        out.append(found[0])
    frame[ROB2_COLUMN] = [a.overall for a in out]
    return out


def _given(args, *names: str) -> list[str]:
    """The options among ``names`` that were given, spelt as on the command line."""
    out = []
    for name in names:
        value = getattr(args, name, None)
        if value not in (None, False, [], ""):
            out.append("--" + name.replace("_", "-"))
    return out


#: The column --rob2 adds to the data: each study's overall RoB 2 judgement.
ROB2_COLUMN = "rob2_overall"


def _meta_columns(args) -> dict[str, str]:
    """Every column the options name, with the option (only these are read: fast on big files).

    A new option that names a column must be added here."""
    named = {}
    for name in ("yi", "vi", "sei", "robust", "slab", "subgroup", *EFFECT_COLUMNS):
        col = getattr(args, name, None)
        if col:
            named.setdefault(col, f"--{name}")
    for col in args.mods or []:
        named.setdefault(col, "--mods")
    if getattr(args, "rob2", None):
        named.pop(ROB2_COLUMN, None)  # --rob2 adds it
    randoms = args.random if isinstance(args.random, list) else [args.random] if args.random else []
    for term in randoms:
        for col in str(term).split("|")[-1].split("/"):
            if col.strip():
                named.setdefault(col.strip(), "--random")
    return named


_UNIVARIATE_ONLY = ("bias", "leave_one_out", "influence", "subgroup", "permutations", "plot", "slab",
                    "rob2", "rob2_sensitivity")


def _check_meta_options(args) -> None:
    """Refuse, before reading any data, every option this combination would ignore."""
    args.method = _canonical("--method", args.method, [*_methods(), *TWO_BY_TWO_METHODS])
    effect_cols = [n for n in EFFECT_COLUMNS if n not in TWO_BY_TWO]
    if args.method not in TWO_BY_TWO_METHODS and args.test is None:
        args.test = "z"
    if args.method in TWO_BY_TWO_METHODS:
        name = "--method " + args.method
        ignored = _given(args, "yi", "vi", "sei", "test", "mods", "random", "robust",
                         *_UNIVARIATE_ONLY, "seed", *effect_cols, "scale", "ci_level")
        if ignored:
            raise OptionError(f"{ignored[0]} cannot be used with {name}: Mantel-Haenszel and Peto "
                              "pool 2x2 tables directly (--ai --bi --ci --di or --n1i --n2i, "
                              "--measure, --level, --format); drop it or choose a tau^2 estimator")
        allowed = ("OR", "RR", "RD") if args.method == "MH" else ("OR",)
        if args.measure:
            args.measure = _canonical("--measure", args.measure, allowed)
        return
    if args.yi or args.vi or args.sei:
        ignored = _given(args, "measure", *EFFECT_COLUMNS, "scale", "ci_level")
        if ignored:
            raise OptionError(f"{ignored[0]} cannot be used with --yi/--vi/--sei: effect sizes are "
                              "either read (--yi with --vi or --sei) or computed (--measure with "
                              "its columns), not both")
        if args.vi and args.sei:
            raise OptionError("--sei cannot be used with --vi: give the sampling variances or the "
                              "standard errors, not both")
    elif args.measure:
        args.measure = _canonical("--measure", args.measure, _measures())
    else:
        cols = _given(args, *EFFECT_COLUMNS)
        if cols:
            raise OptionError(f"{cols[0]} needs --measure to say which effect size to compute from "
                              "it (or give --yi and --vi)")
    if args.mods:
        for option in _given(args, "plot", "leave_one_out", "rob2_sensitivity"):
            raise OptionError(f"{option} cannot be used with --mods: it works with models without "
                              "moderators (--influence gives leave-one-out diagnostics for a "
                              "meta-regression)")
    if args.seed is not None and args.permutations is None:
        raise OptionError("--seed is only used by --permutations; drop it or add --permutations N")
    if args.random:
        ignored = _given(args, *_UNIVARIATE_ONLY)
        if ignored:
            raise OptionError(f"{ignored[0]} cannot be used with --random: it works with "
                              "univariate models only (for now)")


def _jsonable(value):
    from ._results import jsonable

    return jsonable(value)


def _diagnostics(args, frame, fit, result, yi, vi, texts: dict[str, str]) -> None:
    if args.influence:
        from .synthesis.sensitivity import influence

        inf = influence(fit)
        result["influence"], texts["influence"] = inf.to_dict(), inf.summary_text()
    if args.subgroup:
        from .synthesis.subgroups import subgroup_analysis

        if args.subgroup not in frame.columns:
            raise InputError(f"no such column (given as --subgroup); the columns are "
                             f"{', '.join(frame.columns)}", file=args.data, column=args.subgroup)
        groups = frame[args.subgroup].astype("string").to_numpy()
        analysis = subgroup_analysis(yi, vi, groups, method=fit.method, test=fit.test,
                                     level=fit.level)
        result["subgroups"], texts["subgroups"] = analysis.to_dict(), analysis.summary_text()
    if args.permutations is not None:
        from ._progress import progress_callback
        from .synthesis.permutation import permutation_test

        advance, close = progress_callback(args.permutations, "permutations")
        try:
            res = permutation_test(fit, iterations=args.permutations, seed=args.seed,
                                   progress=advance)
        finally:
            close()
        result["permutation"], texts["permutation"] = res.to_dict(), res.summary_text()


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


def _robust(args, frame, model):
    from .synthesis.robust import robust

    if args.robust not in frame.columns:
        raise InputError(f"no such column (given as --robust); the columns are "
                         f"{', '.join(frame.columns)}", file=args.data, column=args.robust)
    cluster = frame[args.robust].to_numpy()
    keep = _analysed_rows(args, frame)
    if keep is not None and int(keep.sum()) != len(cluster):
        cluster = cluster[keep]  # the cluster labels of the rows left out go with them
    try:
        res = robust(model, cluster)
    except InputError as exc:
        raise _with_file(exc, args.data) from None
    return res


def _analysed_rows(args, frame):
    """Which rows the model used: those with yi, vi, every moderator (and level) present."""
    import numpy as np

    from ._io import numeric_column

    if args.yi:
        cols = [(args.yi, "--yi"), (args.vi or args.sei, "--vi" if args.vi else "--sei")]
        keep = np.ones(len(frame), dtype=bool)
        for col, option in cols:
            keep &= np.isfinite(numeric_column(frame, col, file=args.data, option=option))
    elif "yi" in frame.columns:
        keep = frame["yi"].notna().to_numpy() & frame["vi"].notna().to_numpy()
    else:
        return None
    for col in (args.mods or []):
        keep &= frame[col].notna().to_numpy()
    for term in args.random or []:
        for col in term.split("/"):
            if col.strip() in frame.columns:
                keep &= frame[col.strip()].notna().to_numpy()
    return keep


def cmd_rate(args) -> int:
    from .ratings.pipeline import rate_evidence, read_findings

    frame = read_findings(args.data)
    try:
        result = rate_evidence(frame, direction=args.direction, outcome=args.outcome,
                               scheme=args.scheme, review_amstar2=args.amstar2, file=args.data)
    except InputError as exc:
        raise _with_file(exc, args.data) from None
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(result.summary_text())
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(args.output_dir)
    return 0


def cmd_places(args) -> int:
    from .places import cli as places_cli

    return places_cli.run(args)


COMMANDS = {"effects": cmd_effects, "meta": cmd_meta, "rate": cmd_rate, "demo": cmd_demo,
            "places": cmd_places}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
