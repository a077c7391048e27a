"""``whatworks trial``: design a trial (MDES, power, sample size) from the command line.

Thin over the core: parse, call :mod:`whatworks.trials`, print (a line for people, ``--format json``
for machines). :func:`register` adds the ``trial`` group to the main parser; each sub-command is one
``_add_*`` function in :data:`SUBCOMMANDS` adding itself to the group's sub-parsers with its handler,
so further sub-commands (randomise, verify, analyse) are one function each. Nothing heavy is imported
until a handler runs. Errors are :class:`~whatworks.errors.WhatWorksError`, which the main command
turns into exit status 2 and one line.
"""

from __future__ import annotations

import argparse
import json

SIZE_OPTIONS = ("n", "J", "K", "L")
FLOAT_OPTIONS = ("rho2", "rho3", "rho4", "omega2", "omega3", "omega4", "r21", "r22", "r23", "r24",
                 "r2t2", "r2t3", "r2t4", "p")
INT_OPTIONS = ("g1", "g2", "g3", "g4")
DESIGN_HELP = ("a PowerUp! main-effect design (Dong & Maynard 2013), e.g. IRA, CRA2_2r, CRA3_3r, "
               "BCRA3_2r; `whatworks trial designs` lists all 14 with their parameters")


def _design_options(p: argparse.ArgumentParser, *, solving_size: bool = False) -> None:
    p.add_argument("--design", required=True, metavar="NAME", help=DESIGN_HELP)
    g = p.add_argument_group("design parameters (PowerUp!'s names; a design takes only its own)")
    size_help = {"n": "level-1 units per level-2 unit (average)", "J": "level-2 units (per level-3 unit)",
                 "K": "level-3 units (per level-4 unit)", "L": "level-4 units"}
    for name in SIZE_OPTIONS:
        extra = "; leave the one to solve for out" if solving_size else ""
        g.add_argument(f"--{name}", type=float, metavar="X", help=size_help[name] + extra)
    g.add_argument("--p", type=float, metavar="P", help="proportion assigned to treatment (default 0.5)")
    for lev in (2, 3, 4):
        g.add_argument(f"--rho{lev}", type=float, metavar="ICC",
                       help=f"share of the outcome variance between level-{lev} units")
    for lev in (2, 3, 4):
        g.add_argument(f"--omega{lev}", type=float, metavar="W",
                       help=f"treatment-effect variance across level-{lev} blocks / level-{lev} variance")
    for lev in (1, 2, 3, 4):
        g.add_argument(f"--r2{lev}", type=float, metavar="R2",
                       help=f"R² of the level-{lev} covariates (default 0)")
    for lev in (2, 3, 4):
        g.add_argument(f"--r2t{lev}", type=float, metavar="R2",
                       help=f"R² of the level-{lev} treatment-effect variance (default 0)")
    for lev in (1, 2, 3, 4):
        g.add_argument(f"--g{lev}", type=int, metavar="G",
                       help=f"number of level-{lev} covariates (default 0)")
    t = p.add_argument_group("the test")
    t.add_argument("--alpha", type=float, default=0.05, help="type I error rate (default 0.05)")
    t.add_argument("--one-tailed", action="store_true", help="a one-tailed test (default two-tailed)")
    p.add_argument("--format", choices=["table", "json"], default="table",
                   help="table for people (default); json for machines")


def _params(args) -> dict[str, float]:
    names = SIZE_OPTIONS + FLOAT_OPTIONS + INT_OPTIONS
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def _emit(args, result, extra: dict | None = None) -> int:
    if args.format == "json":
        out = result.to_dict()
        if extra:
            out.update(extra)
        print(json.dumps(out, indent=2))
    else:
        print(result.summary_text())
    return 0


def _add_designs(sub) -> None:
    p = sub.add_parser("designs", help="list the trial designs and their parameters",
                       description="The registry of PowerUp! main-effect designs: parameters, degrees "
                                   "of freedom and the variance of the standardised impact.")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(trial_handler=cmd_designs)


def _add_mdes(sub) -> None:
    p = sub.add_parser("mdes", help="minimum detectable effect size of a design",
                       description="MDES = M * sqrt(V): Bloom's multiplier from the t distribution with "
                                   "the design's df, times the standard error of the standardised "
                                   "impact (Dong & Maynard 2013).")
    _design_options(p)
    p.add_argument("--power", type=float, default=0.8, help="power wanted (default 0.8)")
    p.set_defaults(trial_handler=cmd_mdes)


def _add_power(sub) -> None:
    p = sub.add_parser("power", help="power of a design to detect an effect size",
                       description="Power from the noncentral t distribution with the design's df and "
                                   "noncentrality es / SE (Dong & Maynard 2013).")
    _design_options(p)
    p.add_argument("--es", type=float, required=True, help="standardised effect size (SD units)")
    p.set_defaults(trial_handler=cmd_power)


def _add_mrss(sub) -> None:
    p = sub.add_parser("mrss", help="minimum required sample size of a design",
                       description="The smallest whole number of units at which MDES <= es; by default "
                                   "the top level's count (n for IRA, else J, K or L), reported under "
                                   "its PowerUp! name.")
    _design_options(p, solving_size=True)
    p.add_argument("--es", type=float, required=True, help="standardised effect size (SD units)")
    p.add_argument("--power", type=float, default=0.8, help="power wanted (default 0.8)")
    p.add_argument("--solve-for", choices=list(SIZE_OPTIONS),
                   help="the sample size to solve for (default: the design's top level)")
    p.set_defaults(trial_handler=cmd_mrss)


def _add_clusters(sub) -> None:
    p = sub.add_parser(
        "clusters", help="clusters per arm or power for rates, proportions, means (Hayes & Bennett) or "
                         "binary/continuous outcomes with unequal clusters (design effect)",
        description="Rates, proportions and means with the between-cluster coefficient of variation k "
                    "(Hayes & Bennett 1999), or binary and continuous outcomes with the ICC and the "
                    "coefficient of variation of cluster size (Eldridge et al. 2006); attrition. "
                    "Gives clusters per arm, or power when --clusters is given, or (Hayes & Bennett) "
                    "the detectable intervention value with --clusters and no --intervention.")
    p.add_argument("--outcome", required=True,
                   choices=["rate", "proportion", "mean", "binary", "continuous"],
                   help="rate, proportion, mean: Hayes & Bennett (needs --k); binary, continuous: "
                        "the design effect (needs --icc)")
    hb = p.add_argument_group("Hayes & Bennett (rate, proportion, mean)")
    hb.add_argument("--control", type=float, help="rate, proportion or mean in the control arm")
    hb.add_argument("--intervention", type=float, help="... in the intervention arm")
    hb.add_argument("--size", type=float,
                    help="person-time (rates) or individuals (proportions, means) per cluster")
    hb.add_argument("--k", type=float, help="between-cluster coefficient of variation (k_m if matched)")
    hb.add_argument("--sd", type=float, help="within-cluster SD (means)")
    hb.add_argument("--matched", action="store_true", help="pair-matched clusters")
    hb.add_argument("--direction", choices=["increase", "decrease"], default="increase",
                    help="with --clusters and no --intervention: solve for the detectable intervention "
                         "value above (increase, default) or below the control value")
    de = p.add_argument_group("design effect (binary, continuous)")
    de.add_argument("--p0", type=float, help="proportion in the control arm (binary)")
    de.add_argument("--p1", type=float, help="proportion in the intervention arm (binary)")
    de.add_argument("--es", type=float, help="standardised effect size (continuous)")
    de.add_argument("--m", type=float, help="mean individuals recruited per cluster")
    de.add_argument("--icc", type=float, help="intraclass correlation")
    de.add_argument("--cv", type=float, default=0.0, help="coefficient of variation of cluster size")
    c = p.add_argument_group("both")
    c.add_argument("--clusters", type=float, help="clusters per arm: give it to compute power")
    c.add_argument("--power", type=float, help="power wanted when computing clusters (default 0.8)")
    c.add_argument("--alpha", type=float, default=0.05, help="two-sided type I error rate (default 0.05)")
    c.add_argument("--attrition", type=float, default=0.0,
                   help="share of each cluster's individuals (person-time) lost to follow-up")
    c.add_argument("--cluster-attrition", type=float, default=0.0,
                   help="share of whole clusters expected to drop out")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(trial_handler=cmd_clusters)


def _add_simulate(sub) -> None:
    p = sub.add_parser(
        "simulate", help="power, bias, RMSE and coverage by simulation (three-level or cluster counts)",
        description="Simulate the trial and fit the planned analysis, on this machine or a Dask "
                    "cluster (--backend dask, --scheduler or WHATWORKS_DASK_SCHEDULER).")
    p.add_argument("--scenario", required=True, choices=["three-level", "counts", "binary"],
                   help="three-level: pupils in classes in schools, schools randomised (CRA3_3r); "
                        "counts: events with exposure in clusters within blocks; binary: a yes/no "
                        "outcome in clusters of unequal size within blocks")
    t = p.add_argument_group("three-level")
    t.add_argument("--es", type=float, help="effect size (SD units)")
    for name in ("rho2", "rho3", "r23"):
        t.add_argument(f"--{name}", type=float, help="as in `trial mdes` (default 0 for r23)")
    for name in ("n", "J", "K"):
        t.add_argument(f"--{name}", type=int, help="units (whole numbers)")
    t.add_argument("--g3", type=int, default=0, help="adjust for one level-3 covariate (1) or not (0)")
    c = p.add_argument_group("counts")
    c.add_argument("--blocks", type=int, help="blocks, e.g. local authorities (counts, binary)")
    c.add_argument("--clusters-per-block", type=int, help="clusters in each block (counts, binary)")
    c.add_argument("--size-cv", type=float, default=0.0,
                   help="CV of the cluster exposure (counts) or size (binary)")
    c.add_argument("--rate0", type=float, help="event rate per unit of exposure in control")
    c.add_argument("--rate-ratio", type=float, help="true rate ratio, intervention / control")
    c.add_argument("--exposure", type=float, help="mean exposure (e.g. pupil-years) per cluster")
    c.add_argument("--k", type=float, default=0.0, help="between-cluster CV of the rates")
    c.add_argument("--block-cv", type=float, default=0.0, help="between-block CV of the rates")
    b = p.add_argument_group("binary")
    b.add_argument("--p0", type=float, help="proportion with the outcome in control")
    b.add_argument("--p1", type=float, help="proportion with the outcome in intervention")
    b.add_argument("--m", type=float, help="mean individuals per cluster")
    b.add_argument("--icc", type=float, help="intraclass correlation")
    p.add_argument("--analysis", choices=["poisson-robust", "logistic-robust", "cluster-level"],
                   help="counts: poisson-robust (default) or cluster-level; binary: logistic-robust "
                        "(default) or cluster-level")
    p.add_argument("--robust-se", choices=["CR1", "CR2", "MD"], default="CR1",
                   help="small-sample version of the cluster-robust SE for the robust GLMs: CR1 "
                        "(default), CR2 (Bell & McCaffrey), MD (Mancl & DeRouen)")
    p.add_argument("--p", type=float, help="proportion treated (default 0.5)")
    r = p.add_argument_group("running")
    r.add_argument("--replications", type=int, default=1000)
    r.add_argument("--seed", type=int, required=True, help="base seed (recorded in the output)")
    r.add_argument("--chunk", type=int, default=100,
                   help="replications per task (default 100; larger on a Dask cluster, where each "
                        "task costs tens of milliseconds); results depend on --seed and --chunk only")
    r.add_argument("--alpha", type=float, default=0.05)
    r.add_argument("--backend", choices=["serial", "processes", "dask"])
    r.add_argument("--workers", type=int)
    r.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, tcp://host:port")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(trial_handler=cmd_simulate)


def _add_consort(sub) -> None:
    p = sub.add_parser(
        "consort", help="CONSORT 2025 checklist of a trial record, and its flow diagram as SVG",
        description="Which CONSORT 2025 items (and, for a cluster trial, the cluster extension's) the trial "
                    "record already answers, and with which field; --svg draws the flow diagram "
                    "(enrolment, allocation, follow-up, analysis) from the record's counts.")
    p.add_argument("record", metavar="RECORD.json", help="the trial record (see whatworks.trials.record)")
    p.add_argument("--svg", metavar="FILE", help="write the flow diagram to FILE (SVG)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(trial_handler=cmd_consort)


def _add_report(sub) -> None:
    p = sub.add_parser(
        "report", help="a trial report as HTML (design, randomisation, balance, results, plots, plan hash)",
        description="Write the trial report of a trial record as one self-contained HTML file: design, "
                    "randomisation, CONSORT flow diagram, balance, results with effect sizes and plots, "
                    "the CONSORT checklist and the SHA-256 of the analysis plan.")
    p.add_argument("record", metavar="RECORD.json", help="the trial record (see whatworks.trials.record)")
    p.add_argument("--out", required=True, metavar="FILE", help="the HTML file to write")
    p.add_argument("--pdf", metavar="FILE",
                   help="also write the report as PDF (needs WeasyPrint: the pdf extra)")
    p.set_defaults(trial_handler=cmd_report)


def _add_programme(sub) -> None:
    p = sub.add_parser(
        "programme",
        help="the programme of change projects: stage, criteria, decisions, which earned a trial",
        description="One line per change project: partner local authorities, budget, stage, its progression "
                    "criteria judged green/amber/red by stage, the decision taken, and whether it earned "
                    "a large trial. Reads the demo programme unless --file is given.")
    p.add_argument("--file", metavar="PROGRAMME.json", help="a programme file (default: the demo programme)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(trial_handler=cmd_programme)


#: One function per sub-command; each adds itself to the ``trial`` group's sub-parsers.
SUBCOMMANDS = [_add_designs, _add_mdes, _add_power, _add_mrss, _add_clusters, _add_simulate, _add_consort,
               _add_report, _add_programme]


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``trial`` with its sub-commands to the main command's sub-parsers."""
    from . import analysis_cli

    trial = subparsers.add_parser(
        "trial", help="pilots and trials: plan, randomise, analyse, report; the programme",
        description="Pilots and trials: minimum detectable effect size, power and minimum required "
                    "sample size for the 14 PowerUp! multilevel designs; randomisation with a "
                    "tamper-evident log and its verification; intention-to-treat analysis with "
                    "models that mirror the design; CONSORT checklists, flow diagrams and trial "
                    "reports; the programme of change projects.")
    trial.set_defaults(handler=run, trial_handler=None, trial_parser=trial)
    sub = trial.add_subparsers(dest="trial_command", metavar="TRIAL_COMMAND")
    for add in SUBCOMMANDS + analysis_cli.SUBCOMMANDS:
        add(sub)
    return trial


def run(args) -> int:
    """Run the ``trial`` sub-command chosen in ``args`` (help when none was chosen)."""
    if getattr(args, "trial_handler", None) is None:
        args.trial_parser.print_help()
        return 0
    return args.trial_handler(args)


def cmd_designs(args) -> int:
    from .design import DESIGNS

    rows = [{"design": d.name, "title": d.title, "levels": d.levels, "solves_for": d.top,
             "required": list(d.required), "optional": list(d.defaults) + ["p"], "df": d.df_formula,
             "variance": d.variance_formula} for d in DESIGNS.values()]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['design']:9} {r['title']}\n          needs {', '.join(r['required'])}; "
                  f"optional {', '.join(r['optional'])}; df = {r['df']}")
    return 0


def cmd_mdes(args) -> int:
    from .design import mdes

    res = mdes(args.design, power=args.power, alpha=args.alpha, two_tailed=not args.one_tailed,
               **_params(args))
    return _emit(args, res)


def cmd_power(args) -> int:
    from .design import power

    res = power(args.design, es=args.es, alpha=args.alpha, two_tailed=not args.one_tailed,
                **_params(args))
    return _emit(args, res)


def cmd_mrss(args) -> int:
    from .design import mrss

    res = mrss(args.design, es=args.es, power=args.power, alpha=args.alpha,
               two_tailed=not args.one_tailed, solve_for=args.solve_for, **_params(args))
    return _emit(args, res)


def cmd_clusters(args) -> int:
    from .cluster import hayes_bennett, icc_cluster_trial
    from .design import DesignError

    common = dict(clusters=args.clusters, power=args.power, alpha=args.alpha, attrition=args.attrition,
                  cluster_attrition=args.cluster_attrition)
    if args.outcome in ("rate", "proportion", "mean"):
        needed = ("control", "size", "k") + (("intervention",) if args.clusters is None else ())
        for opt in needed:
            if getattr(args, opt) is None:
                raise DesignError(f"--outcome {args.outcome} needs --{opt} (Hayes & Bennett); it takes "
                                  "--control --intervention --size --k [--sd --matched]; leave out "
                                  "--intervention and give --clusters for the detectable effect")
        if args.intervention is None:  # the detectable intervention value at --power (default 0.8)
            common["clusters"] = args.clusters
        res = hayes_bennett(args.outcome, control=args.control, intervention=args.intervention,
                            size=args.size, k=args.k, sd=args.sd, matched=args.matched,
                            direction=args.direction, **common)
    else:
        for opt in ("m", "icc"):
            if getattr(args, opt) is None:
                raise DesignError(f"--outcome {args.outcome} needs --{opt} (design effect); it takes "
                                  "--m --icc [--cv] and --p0 --p1 (binary) or --es (continuous)")
        res = icc_cluster_trial(args.outcome, m=args.m, icc=args.icc, cv=args.cv, p0=args.p0,
                                p1=args.p1, es=args.es, **common)
    return _emit(args, res)


def cmd_simulate(args) -> int:
    from .design import DesignError
    from .power_sim import ClusterBinary, ClusterCounts, ThreeLevelContinuous, simulate_power

    extra = {} if args.p is None else {"p": args.p}
    if args.scenario == "three-level":
        need = ("es", "rho2", "rho3", "n", "J", "K")
        missing = [o for o in need if getattr(args, o) is None]
        if missing:
            raise DesignError(f"--scenario three-level needs --{missing[0]}; it takes --es --rho2 --rho3 "
                              "--n --J --K [--r23 --g3 --p]")
        scenario = ThreeLevelContinuous(es=args.es, rho2=args.rho2, rho3=args.rho3, n=args.n, J=args.J,
                                        K=args.K, r23=args.r23 or 0.0, g3=args.g3, **extra)
    elif args.scenario == "binary":
        need = ("p0", "p1", "m", "icc", "blocks", "clusters_per_block")
        missing = [o for o in need if getattr(args, o) is None]
        if missing:
            raise DesignError(f"--scenario binary needs --{missing[0].replace('_', '-')}; it takes --p0 --p1 "
                              "--m --icc --blocks --clusters-per-block [--size-cv --analysis --p]")
        if args.analysis == "poisson-robust":
            raise DesignError("--analysis poisson-robust is for counts; binary takes logistic-robust or "
                              "cluster-level")
        scenario = ClusterBinary(p0=args.p0, p1=args.p1, m=args.m, icc=args.icc, blocks=args.blocks,
                                 clusters_per_block=args.clusters_per_block, size_cv=args.size_cv,
                                 analysis=args.analysis or "logistic-robust", robust_se=args.robust_se,
                                 **extra)
    else:
        if args.analysis == "logistic-robust":
            raise DesignError("--analysis logistic-robust is for binary outcomes; counts take "
                              "poisson-robust or cluster-level")
        need = ("rate0", "rate_ratio", "exposure", "blocks", "clusters_per_block")
        missing = [o for o in need if getattr(args, o) is None]
        if missing:
            raise DesignError(f"--scenario counts needs --{missing[0].replace('_', '-')}; it takes "
                              "--rate0 --rate-ratio --exposure --blocks --clusters-per-block "
                              "[--k --size-cv --block-cv --analysis --p]")
        scenario = ClusterCounts(rate0=args.rate0, rate_ratio=args.rate_ratio, exposure=args.exposure,
                                 blocks=args.blocks, clusters_per_block=args.clusters_per_block,
                                 k=args.k, size_cv=args.size_cv, block_cv=args.block_cv,
                                 analysis=args.analysis or "poisson-robust", robust_se=args.robust_se,
                                 **extra)
    res = simulate_power(scenario, replications=args.replications, seed=args.seed, alpha=args.alpha,
                         chunk=args.chunk, backend=args.backend, workers=args.workers,
                         scheduler=args.scheduler)
    return _emit(args, res)


def cmd_consort(args) -> int:
    from pathlib import Path

    from .consort import checklist, flow_from_record, flow_svg
    from .record import load_record

    record = load_record(args.record)
    result = checklist(record)
    flow = None
    if args.svg or record.get("flow") is not None:
        flow = flow_from_record(record)
    if args.svg:
        Path(args.svg).write_text(flow_svg(flow, title=f"CONSORT flow diagram: {record.title}"),
                                  encoding="utf-8")
    if args.format == "json":
        print(json.dumps({"trial": record.id, "cluster": record.cluster, "answered": result.answered,
                          "total": len(result.items), "items": list(result.items),
                          "flow": flow.to_dict() if flow else None}, indent=2))
    else:
        print(result.summary_text())
        if args.svg:
            print(f"flow diagram written to {args.svg}")
    return 0


def cmd_report(args) -> int:
    from pathlib import Path

    from .record import load_record
    from .report import report_html, report_pdf

    record = load_record(args.record)
    Path(args.out).write_text(report_html(record), encoding="utf-8")
    print(f"report written to {args.out}")
    if args.pdf:
        report_pdf(record, args.pdf)
        print(f"PDF written to {args.pdf}")
    return 0


def cmd_programme(args) -> int:
    from .programme import demo_programme, load_programme

    prog = load_programme(args.file) if args.file else demo_programme()
    if args.format == "json":
        print(json.dumps(prog.to_dict(), indent=2))
    else:
        print(prog.summary_text())
    return 0
