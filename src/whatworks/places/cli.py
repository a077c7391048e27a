"""``whatworks places``: the panel, funnel plots, trends and models from the command line.

Thin over the core: parse, call :mod:`whatworks.places`, print (a table for people, ``--format
json|csv`` for machines). :func:`populate` fills the ``places`` parser that the main command
creates (only when ``places`` is run, so ``whatworks --help`` stays fast); :func:`run` dispatches
to the handler chosen. Errors are :class:`~whatworks.errors.WhatWorksError`, which the
main command turns into exit status 2 and one line.
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from ..errors import InputError, ParameterError
from .funnel import LIMITS, MODELS, OVERDISPERSION
from .io import MEASURES
from .panel import GEOGRAPHIES

MODEL_KINDS = ("poisson", "negbin", "multilevel", "expected", "all")


def _data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data (default: the shipped DfE and IMD 2019 files)")
    g.add_argument("--measure", default="cla_31_march", type=str.lower, choices=list(MEASURES),
                   help="what is counted (default cla_31_march: children looked after at 31 "
                        "March)")
    g.add_argument("--file", action="append", metavar="CSV", dest="files",
                   help="a DfE children-looked-after CSV (either layout); repeat for several")
    g.add_argument("--imd", metavar="CSV", help="an IMD 2019 upper-tier summary CSV")
    g.add_argument("--interpolate-population", action="store_true",
                   help="fill populations between published years by linear interpolation "
                        "(marked 'interpolated')")


def _output_options(p: argparse.ArgumentParser, formats: tuple[str, ...]) -> None:
    p.add_argument("--format", type=str.lower, choices=list(formats), default="table",
                   help="table for people (default); json or csv for machines")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``places`` with its sub-commands to a parser's sub-parsers (as the main command does)."""
    from ..cli import PLACES_DESCRIPTION, PLACES_HELP

    return populate(subparsers.add_parser("places", help=PLACES_HELP,
                                          description=PLACES_DESCRIPTION))


def populate(places: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the sub-commands of ``places`` to its (already created) parser."""
    places.set_defaults(places_handler=None, places_parser=places)
    sub = places.add_subparsers(dest="places_command", metavar="PLACES_COMMAND")

    p = sub.add_parser("panel", help="the authority x year panel (count, population, rate, IMD)",
                       description="One row per local authority and year: count, population "
                                   "aged 0-17, rate per 10,000, region and IMD 2019 score.")
    _data_options(p)
    p.add_argument("--geography", type=str.lower, choices=list(GEOGRAPHIES), default="reported",
                   help="reported: authorities as published; consistent: mergers and splits "
                        "summed into units stable over the years")
    p.add_argument("--year", type=int, action="append", help="only this year (repeatable)")
    _output_options(p, ("table", "csv", "json"))
    p.set_defaults(places_handler=cmd_panel)

    p = sub.add_parser("funnel", help="a funnel plot of one year's rates (Spiegelhalter 2005)",
                       description="Control limits at 95%% and 99.8%% around the pooled rate; "
                                   "each authority flagged above, below or within.")
    p.add_argument("--year", type=int, required=True)
    _data_options(p)
    p.add_argument("--model", type=str.lower, choices=list(MODELS), default="poisson")
    p.add_argument("--limits", type=str.lower, choices=list(LIMITS), default="exact",
                   help="exact (interpolated, Spiegelhalter's appendix) or normal")
    p.add_argument("--overdispersion", type=str.lower, choices=list(OVERDISPERSION), default="additive",
                   help="adjust the limits for overdispersion (Winsorised estimates); default "
                        "additive: a between-authority variance, as Spiegelhalter (2005) advises "
                        "when authorities differ beyond chance (phi is about 56 for 2023)")
    p.add_argument("--winsorize", type=float, default=0.1,
                   help="fraction Winsorised in each tail (default 0.1)")
    p.add_argument("--target", type=float, help="target rate per 10,000 (default: pooled)")
    p.add_argument("--flag-level", type=float, default=99.8, choices=[95.0, 99.8])
    p.add_argument("--highlight", metavar="CODE", help="authority to mark (code or name)")
    p.add_argument("--plot", metavar="FILE", help="write the funnel plot (.svg, .png or .pdf)")
    _output_options(p, ("table", "json", "csv"))
    p.set_defaults(places_handler=cmd_funnel)

    p = sub.add_parser("trend", help="an authority's rate over time against England, its region "
                                     "and similar authorities (our match on deprivation and size)",
                       description="Rates by year with Poisson confidence intervals, in the "
                                   "consistent geography. Similar authorities are our own match "
                                   "(nearest on IMD 2019 score and log population 0-17), not "
                                   "DfE's statistical neighbours. Years with no data are gaps.")
    p.add_argument("code", help="authority code (9-character or DfE 3-digit) or name")
    _data_options(p)
    p.add_argument("--neighbours", nargs="+", metavar="CODE",
                   help="authorities to compare with (default: the k similar authorities, "
                        "nearest on IMD score and size)")
    p.add_argument("--k", type=int, default=10,
                   help="number of similar authorities (default 10)")
    p.add_argument("--method", type=str.lower, choices=["exact", "byar"], default="exact")
    p.add_argument("--level", type=float, default=95.0)
    p.add_argument("--plot", metavar="FILE", help="write the trend chart (.svg, .png or .pdf)")
    _output_options(p, ("table", "json", "csv"))
    p.set_defaults(places_handler=cmd_trend)

    p = sub.add_parser("model", help="GLMs and a multilevel model of one year's rates",
                       description="Poisson and negative binomial GLMs with deprivation and "
                                   "region, a multilevel model of authorities within regions, "
                                   "and each authority against the rate expected for its "
                                   "deprivation.")
    p.add_argument("--year", type=int, required=True)
    _data_options(p)
    p.add_argument("--kind", type=str.lower, choices=list(MODEL_KINDS), default="all")
    p.add_argument("--level", type=float, default=95.0)
    _output_options(p, ("table", "json", "csv"))
    p.set_defaults(places_handler=cmd_model)
    return places


def run(args) -> int:
    """Run the ``places`` sub-command chosen in ``args`` (help when none was chosen)."""
    if getattr(args, "places_handler", None) is None:
        args.places_parser.print_help()
        return 0
    return args.places_handler(args)


def _panel(args, geography: str = "reported"):
    from .panel import load_panel

    return load_panel(measure=args.measure, geography=geography,
                      interpolate_population=args.interpolate_population, files=args.files,
                      imd=args.imd)


def _emit(text: str, path: str | None) -> None:
    if path:
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise InputError(f"cannot write the output ({exc.strerror})", file=path) from None
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _json(obj) -> str:
    from .._results import jsonable

    return json.dumps(jsonable(obj), indent=2)


def _table(frame: pd.DataFrame) -> str:
    with pd.option_context("display.max_rows", None, "display.max_columns", None,
                           "display.width", 200, "display.float_format", "{:,.2f}".format):
        return frame.to_string(index=False)


def _save_plot(fig, path: str) -> None:
    from ..synthesis.plots import save_figure

    save_figure(fig, path)


def cmd_panel(args) -> int:
    frame = _panel(args, args.geography)
    if args.year:
        frame = frame[frame["year"].isin(args.year)]
        if frame.empty:
            raise InputError(f"no rows for {', '.join(map(str, args.year))}; the panel has "
                             "2010-2017 and 2019 onwards")
    if args.format == "csv":
        text = frame.to_csv(index=False)
    elif args.format == "json":
        text = _json(frame.to_dict(orient="records"))
    else:
        text = _table(frame[["code", "name", "region", "year", "count", "population", "rate",
                             "imd_score"]])
    _emit(text, args.output)
    return 0


def _check_plot(path: str | None) -> None:
    if path and not path.lower().endswith((".svg", ".png", ".pdf")):
        raise ParameterError("--plot", path, "a file name ending in .svg, .png or .pdf")


def cmd_funnel(args) -> int:
    from .funnel import funnel

    _check_plot(args.plot)
    result = funnel(_panel(args), year=args.year, model=args.model, limits=args.limits,
                    overdispersion=args.overdispersion, target=args.target,
                    flag_level=args.flag_level, winsorize=args.winsorize,
                    highlight=args.highlight)
    if args.plot:
        _save_plot(result.plot_funnel(), args.plot)
    if args.format == "json":
        text = _json(result.to_dict())
    elif args.format == "csv":
        text = result.to_frame().to_csv(index=False)
    else:
        frame = result.to_frame()[["code", "name", "count", "population", "rate", "expected",
                                   "lower_99_8", "upper_99_8", "flag"]]
        text = result.summary_text() + "\n\n" + _table(frame)
    _emit(text, args.output)
    return 0


def cmd_trend(args) -> int:
    from .panel import load_areas
    from .trends import trend

    _check_plot(args.plot)
    files, interp = args.files, args.interpolate_population
    result = trend(args.code, panel=_panel(args, "consistent"),
                   england=load_areas(level="national", measure=args.measure,
                                      interpolate_population=interp, files=files),
                   regions=load_areas(level="regional", measure=args.measure,
                                      interpolate_population=interp, files=files),
                   neighbours=args.neighbours, k=args.k, level=args.level, method=args.method)
    if args.plot:
        _save_plot(result.plot_trend(), args.plot)
    if args.format == "json":
        text = _json(result.to_dict())
    elif args.format == "csv":
        text = result.to_frame().to_csv(index=False)
    else:
        text = result.summary_text() + "\n\n" + _table(result.to_frame())
    _emit(text, args.output)
    return 0


def cmd_model(args) -> int:
    from .models import expected_rates, rate_model
    from .multilevel import multilevel_model

    panel = _panel(args)
    kinds = ("poisson", "negbin", "multilevel", "expected") if args.kind == "all" else (args.kind,)
    results = {}
    for kind in kinds:
        if kind in ("poisson", "negbin"):
            results[kind] = rate_model(panel, year=args.year, family=kind, level=args.level)
        elif kind == "multilevel":
            results[kind] = multilevel_model(panel, year=args.year, level=args.level)
        else:
            results[kind] = expected_rates(panel, year=args.year, level=args.level)
    if args.format == "json":
        text = _json({k: r.to_dict() for k, r in results.items()})
    elif args.format == "csv":
        frames = []
        for kind, r in results.items():
            if kind == "expected":
                continue
            frame = r.to_frame()
            frame.insert(0, "model", kind)
            frames.append(frame)
        if "expected" in results and not frames:
            text = results["expected"].to_frame().to_csv(index=False)
        else:
            text = pd.concat(frames, ignore_index=True).to_csv(index=False)
    else:
        text = "\n\n".join(r.summary_text() for r in results.values())
    _emit(text, args.output)
    return 0
