"""``whatworks review simulate`` and ``review screen``: active-learning screening from the command line.

``simulate`` replays a labelled review and reports the screening work saved; ``screen`` proposes
the next records of a review in progress from the team's decisions so far.
Thin over :mod:`whatworks.review.screening`. :func:`register_simulate` and :func:`register_screen`
add them to the ``review`` group's sub-parsers (the group also holds ``import`` and ``dedup``);
:func:`register_review` creates the group when nothing else has. pandas, scikit-learn and matplotlib
are imported inside the handler, never when the parser is built.
"""

from __future__ import annotations

import argparse
import json
import sys

# The registries are plain dicts in a module that imports nothing (the parser stays cheap).
from .screening.registry import DEFAULT_MODEL, FEATURES, MODELS


def _named_as_options(handler):
    """Run a command handler; a core ParameterError naming one of the command's own parameters
    (``features``, ``safe_model``, ...) is given the option's name (``--features``), as typed."""
    import functools

    @functools.wraps(handler)
    def run(args) -> int:
        from whatworks.errors import ParameterError

        try:
            return handler(args)
        except ParameterError as exc:
            if exc.name.startswith("-") or not hasattr(args, exc.name) or exc.name in ("n", "handler"):
                raise
            raise ParameterError("--" + exc.name.replace("_", "-"), exc.given, exc.allowed) from None

    return run


def register_simulate(review_subparsers) -> argparse.ArgumentParser:
    """Add ``simulate`` to the ``review`` group's sub-parsers; returns its parser."""
    p = review_subparsers.add_parser(
        "simulate", help="replay a labelled review with active learning (WSS@95, RRF@10, ATD)",
        description="Replay a labelled review (CSV with columns title, abstract, label_included): "
                    "for each seed, draw the prior records at random, then let the model choose "
                    "the order of the rest and measure how early the included records come. "
                    "Reports WSS@95, RRF@10 and ATD in percent (medians over seeds), every run, and "
                    "where the stopping rules would have stopped. Seeds run in parallel.")
    p.add_argument("data", metavar="DATA.csv")
    p.add_argument("--seeds", type=int, default=5, metavar="N", help="number of runs (default 5)")
    p.add_argument("--seed", type=int, default=0,
                   help="base seed; run i uses the i-th seed derived from it (default 0)")
    p.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL,
                   help=f"classifier (default {DEFAULT_MODEL}): "
                        + "; ".join(f"{k}: {v}" for k, v in MODELS.items()).replace("%", "%%"))
    p.add_argument("--features", choices=list(FEATURES), default=None,
                   help="feature extractor (default: the model's own, tfidf-meaning for svm-widen and "
                        "svm-select, tfidf for the others): "
                        + "; ".join(f"{k}: {v}" for k, v in FEATURES.items()).replace("%", "%%"))
    p.add_argument("--prior-relevant", type=int, default=1, metavar="N",
                   help="relevant records given before the model starts (default 1)")
    p.add_argument("--prior-irrelevant", type=int, default=1, metavar="N",
                   help="irrelevant records given before the model starts (default 1)")
    p.add_argument("--refit", default="auto", metavar="auto|N",
                   help="when the model is refitted: auto (default: after every relevant label and "
                        "after a number of irrelevant ones equal to 2%% of the labelled set) or after "
                        "every N labels; --model svm --refit 1 is ASReview 3's default model and "
                        "labels the records in the same order as it (a fifth as fast as auto)")
    _add_safe_options(p, "also replay the SAFE procedure (Boetje & van de Schoot 2024) on the same "
                         "seeds: a random 1%% sample, --model until its three conditions hold, a "
                         "different model until 50 irrelevant in a row; reports where it stopped, "
                         "the recall there and the work saved")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--plot", metavar="FILE", help="write the recall curves (.svg, .png or .pdf)")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    g = p.add_argument_group("where the runs go (see whatworks.compute)")
    g.add_argument("--backend", choices=["serial", "processes", "dask"],
                   help="default: a local process pool when there are several seeds and cores")
    g.add_argument("--workers", type=int, metavar="N", help="local workers (default: one per core)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="a Dask scheduler (tcp://host:port); default $WHATWORKS_DASK_SCHEDULER")
    p.set_defaults(handler=_named_as_options(cmd_simulate))
    return p


def register_review(subparsers) -> argparse.ArgumentParser:
    """Add the ``review`` group with ``simulate`` (used until the group is merged with import/dedup)."""
    review = subparsers.add_parser(
        "review", help="systematic reviews: screening with active learning",
        description="Systematic reviews: replay labelled reviews to measure active-learning "
                    "screening.")
    sub = review.add_subparsers(dest="review_command", metavar="REVIEW_COMMAND")
    review.set_defaults(handler=lambda args: (review.print_help(), 0)[1])
    register_simulate(sub)
    register_screen(sub)
    register_agree(sub)
    return review


def cmd_simulate(args) -> int:
    from whatworks.errors import ParameterError

    from .screening.data import load_records
    from .screening.simulate import simulate

    _check_safe(args)
    for name in ("seeds", "prior_relevant", "prior_irrelevant"):
        value = getattr(args, name)
        low = 1 if name == "seeds" else 0
        if value < low:
            raise ParameterError(f"--{name.replace('_', '-')}", value, f"a whole number, {low} or more")
    refit = args.refit
    if refit != "auto":
        if not refit.isdigit() or int(refit) < 1:
            raise ParameterError("--refit", refit, "auto or a whole number of labels, 1 or more")
        refit = int(refit)
    _plot_path(args.plot)
    if args.output:
        _writable(args.output)
    records = load_records(args.data)
    result = simulate(records, seeds=args.seeds, seed=args.seed, model=args.model, features=args.features,
                      prior_relevant=args.prior_relevant, prior_irrelevant=args.prior_irrelevant,
                      refit=refit, backend=args.backend, workers=args.workers, scheduler=args.scheduler,
                      safe=args.safe, safe_model=args.safe_model, safe_features=args.safe_features)
    if args.plot:
        from whatworks.synthesis.plots import save_figure  # the project's one figure writer

        save_figure(result.plot(), args.plot)
    if args.format == "json":
        text = json.dumps(result.to_dict(), indent=2)
    else:
        text = _table(result)
    _emit(text, args.output)
    return 0


def _table(result) -> str:
    s = result.settings
    lines = [f"{s['source']}: {s['n_records']} records, {s['n_included']} included; model {s['model']}, "
             f"features {s['features']}"
             + (f", refit after every {s['refit']} label(s)" if s.get("refit", "auto") != "auto" else "")
             + f", {s['seeds']} seeds (base seed {s['seed']}), priors "
             f"{s['prior_relevant']} relevant + {s['prior_irrelevant']} irrelevant",
             "",
             f"{'':>22} {'WSS@95 %':>9} {'RRF@10 %':>9} {'ATD %':>7} {'seconds':>8}  statistical stop "
             "(recall %, work saved %)"]
    for r in result.per_seed:
        st = r["stopping"]["callaghan_ranked"]
        stop = ("never" if st["stopped_at"] is None
                else f"{st['stopped_at']} ({100 * st['recall']:.1f}, {100 * st['work_saved']:.1f})")
        if r.get("found_by_meaning") is not None:  # svm-widen
            followed = f"; relevant records proposed by the meaning ranker: {r['found_by_meaning']}"
        elif r.get("followed"):
            followed = f"; ranker followed at the end: {r['followed']}"
        else:
            followed = ""
        lines.append(f"{'seed ' + str(r['seed']):>22} {r['wss_95']:9.1f} {r['rrf_10']:9.1f} {r['atd']:7.1f} "
                     f"{r['seconds']:8.2f}  {stop}{followed}")
    lines.append(f"{'median':>22} {result.wss_95:9.1f} {result.rrf_10:9.1f} {result.atd:7.1f}")
    lines.append("")
    lines.append(f"stopping rule: {result.per_seed[0]['stopping']['callaghan_ranked']['rule']}")
    if result.safe is not None:
        sf = result.safe
        lines += ["", f"SAFE procedure ({sf['model']} on {sf['features']}, then {sf['model_phase3']} "
                      f"on {sf['features_phase3']}): recall median "
                      f"{100 * sf['recall_median']:.1f}% (lowest {100 * sf['recall_min']:.1f}%), "
                      f"{100 * sf['target']:g}% recall reached in {100 * sf['reached_target']:.0f}% "
                      f"of runs, work saved median {100 * sf['work_saved_median']:.1f}%"]
        for r in sf["per_seed"]:
            starts = ", ".join(f"phase {k} at {v}" for k, v in sorted(r["phase_starts"].items()))
            lines.append(f"{'seed ' + str(r['seed']):>22} stopped after {r['stopped_at']} records: "
                         f"recall {100 * r['recall']:.1f}%, work saved {100 * r['work_saved']:.1f}% "
                         f"({starts})")
        lines.append(f"procedure: {sf['rule']}")
    return "\n".join(lines)


def register_screen(review_subparsers) -> argparse.ArgumentParser:
    """Add ``screen`` to the ``review`` group's sub-parsers; returns its parser."""
    p = review_subparsers.add_parser(
        "screen", help="the next records to screen in your own review, ranked by active learning",
        description="Screen your own review with active learning. Keep the team's decisions in "
                    "LABELS.csv (columns id and label, one row per record in the order the decisions "
                    "were made; append rows as you screen) and run this command for the next "
                    "records to screen, in order, with the records screened and relevant found so "
                    "far, the running recall estimate and each stopping rule's verdict. Labels: 1, "
                    "include, included or yes; 0, exclude, excluded or no. An optional source column "
                    "marks with 'prior' the records labelled before using the ranking (known "
                    "includes, a pilot sample); they must come first and are left out of the "
                    "stopping rules' samples. A row without a source counts as a random draw while "
                    "the rows above it hold no relevant and irrelevant label yet (no model could "
                    "have ranked it), and as screened in the model's order after that. Until there is "
                    "one relevant and one irrelevant decision the next records are a seeded random "
                    "draw. The stopping rules assume the records after the priors were screened in "
                    "the order this command proposed (the ranked quasi-sample rule of Callaghan & "
                    "Müller-Hansen 2020 treats the last records screened as a random sample of those "
                    "not screened before them). Each run replays the decisions into a fresh model: "
                    "the same files and --seed give the same answer. With --interactive, screen in "
                    "the terminal instead: one record at a time (title and abstract), answered "
                    "include, exclude, undo or quit; each decision is appended to LABELS.csv at once "
                    "(created if missing) and the model keeps learning as you go, in the same order "
                    "a simulation would show the records.")
    p.add_argument("records", metavar="RECORDS.csv",
                   help="the records table `whatworks review import --out records.csv` writes, or any "
                        "CSV with a title or abstract column; records are identified by the id column, "
                        "else record_id (ASReview's name), else by row number (1 = the first record)")
    p.add_argument("--labels", metavar="LABELS.csv",
                   help="the decisions so far, in the order they were made (default: none yet)")
    p.add_argument("--next", type=int, default=None, metavar="N", dest="n",
                   help="how many records to propose (default 10)")
    p.add_argument("--interactive", "-i", action="store_true",
                   help="screen here, one record at a time: answer i (include), e (exclude), u (undo "
                        "the last decision) or q (quit); every decision is saved in --labels at once "
                        "(the file is created if missing), with its source")
    p.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL,
                   help=f"classifier (default {DEFAULT_MODEL}; see `whatworks review simulate --help`)")
    p.add_argument("--features", choices=list(FEATURES), default=None,
                   help="feature extractor (default: the model's own, tfidf-meaning for svm-widen and "
                        "svm-select, tfidf for the others)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the random draw before there is a model, ties and the model (default 0)")
    p.add_argument("--target", type=float, default=0.95, metavar="R",
                   help="recall the ranked quasi-sample stopping rule tests for (default 0.95)")
    p.add_argument("--confidence", type=float, default=0.95, metavar="C",
                   help="confidence of that rule and of the recall estimate's interval (default 0.95)")
    p.add_argument("--consecutive", type=int, default=50, metavar="N",
                   help="irrelevant records in a row after which the heuristic rule stops (default 50)")
    _add_safe_options(p, "follow the SAFE procedure (Boetje & van de Schoot 2024): a random sample "
                         "first (1%% of the records), then active learning until its three "
                         "conditions hold, then a different model until --consecutive irrelevant "
                         "in a row, then a quality check by a second screener; the next records "
                         "are those the current phase asks for, and the output says where it "
                         "stands; with --interactive each record shown is the one the phase asks "
                         "for")
    p.add_argument("--format", choices=["table", "json", "csv"], default=None,
                   help="table for people (default); json for machines; csv: the next records only "
                        "(rank, id, title, score), for a spreadsheet")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    cache = p.add_mutually_exclusive_group()  # both at once would ignore one of them
    cache.add_argument("--cache", metavar="DIR",
                   help="folder that keeps the records' features between runs, so a run on the same "
                        "records skips extracting them again (default: $WHATWORKS_CACHE_DIR/"
                        "screening-features, else ~/.cache/whatworks/screening-features); the "
                        "three most recently used matrices are kept")
    cache.add_argument("--no-cache", action="store_true", help="extract the features afresh, keep nothing")
    p.set_defaults(handler=_named_as_options(cmd_screen))
    return p


def cmd_screen(args) -> int:
    from whatworks.errors import ParameterError

    from .screening.data import load_records_with_ids
    from .screening.feature_cache import default_dir
    from .screening.screen import read_decisions, screen

    if args.interactive:
        for option, given in (("--next", args.n is not None), ("--format", args.format is not None),
                              ("--output", bool(args.output))):
            if given:
                raise ParameterError(option, "with --interactive", "one of them: --interactive shows "
                                     "one record at a time in the terminal and saves each decision "
                                     "in --labels")
        if not args.labels:
            raise ParameterError("--labels", None, "the decisions file that --interactive saves each "
                                 "decision in (created if missing), e.g. --labels decisions.csv")
    _check_safe(args)
    if args.n is None:
        args.n = 10
    if args.n < 1:
        raise ParameterError("--next", args.n, "a whole number of records, 1 or more")
    records, ids = load_records_with_ids(args.records)
    cache = None if args.no_cache else (args.cache or default_dir())
    if args.interactive:
        return _interactive(args, records, ids, cache)
    decisions = read_decisions(args.labels, ids) if args.labels else []
    result = screen(records, ids, decisions, n=args.n, model=args.model, features=args.features,
                    seed=args.seed, target=args.target, confidence=args.confidence,
                    consecutive=args.consecutive, cache_dir=cache, safe=args.safe,
                    safe_model=args.safe_model, safe_features=args.safe_features)
    args.format = args.format or "table"
    if args.format == "json":
        text = json.dumps(result.to_dict(), indent=2)
    elif args.format == "csv":
        text = _next_csv(result)
        if result.duplicates_left_out or result.removed_left_out:
            print("note: " + _left_out_line(result.duplicates_left_out, result.removed_left_out),
                  file=sys.stderr)
    else:
        text = _screen_table(result)
    _emit(text, args.output)
    return 0


ANSWERS = {"i": 1, "include": 1, "y": 1, "yes": 1, "1": 1, "e": 0, "exclude": 0, "n": 0, "no": 0,
           "0": 0, "u": "undo", "undo": "undo", "q": "quit", "quit": "quit"}
PROMPT = "include (i) / exclude (e) / undo (u) / quit (q)? "


def _interactive(args, records, ids, cache) -> int:
    """Screen in the terminal, holding the decisions file for this session alone."""
    from pathlib import Path

    from .screening.screen import DecisionsLock

    with DecisionsLock(args.labels) as lock:
        if not lock.locked:  # pragma: no cover - no fcntl (Windows)
            sys.stdout.write("note: this system cannot lock the decisions file; screen one at a time\n")
        try:
            return _screen_loop(args, records, ids, cache)
        except KeyboardInterrupt:  # Ctrl-C while the model refits: every answer given is saved
            from .screening.screen import read_decisions

            kept = read_decisions(args.labels, ids) if Path(args.labels).is_file() else []
            sys.stdout.write(f"\ninterrupted: {len(kept)} decision(s) are saved in {args.labels}; run "
                             "this again to go on\n")
            return 130


def _screen_loop(args, records, ids, cache) -> int:
    """Show the session's next record, read the answer, save it, repeat."""
    import shutil
    import textwrap
    from pathlib import Path

    from .screening.data import record_details
    from .screening.safe import DEFAULT_PHASE3_MODEL, safe_next
    from .screening.screen import append_decision, read_decisions, replay, standing, undo_last_decision
    from .screening.simulate import default_rules

    path = Path(args.labels)
    rules = default_rules(args.target, args.confidence, args.consecutive)  # validated before anything
    exists = path.is_file() and path.read_bytes().strip()
    decisions = read_decisions(path, ids) if exists else []
    session, features, cached = replay(records, decisions, model=args.model, features=args.features,
                                       seed=args.seed, cache_dir=cache)
    details = record_details(records.source)  # authors, year, journal, doi, keywords where given
    width = max(40, min(100, shutil.get_terminal_size((90, 24)).columns) - 2)
    out = sys.stdout

    def say(text: str = "") -> None:
        out.write(text + "\n")
        out.flush()

    def line_of(now) -> str:
        e = now["recall_estimate"]
        recall = (f"recall estimate {100 * e['recall']:.0f}% ({100 * e['recall_lower']:.0f}-"
                  f"{100 * e['recall_upper']:.0f}%), about {e['unseen_relevant']:.0f} relevant unseen"
                  if e else "recall estimate: none yet")
        return (f"{now['screened']} screened, {now['relevant_found']} relevant found, "
                f"{int((session.labels_ < 0).sum())} left; {recall}")

    say(f"{path}: {len(decisions)} decision(s) so far; {len(records)} records in {records.source}; "
        f"model {args.model}, features {features}, seed {args.seed}")
    if ids.left_out or ids.removed:
        say(_left_out_line(len(ids.left_out), len(ids.removed)))
    say("each decision is saved in the decisions file at once; quit (q) any time and run this again "
        "to go on")
    stopped = {name for name, v in standing(session, rules, args.confidence)["stopping"].items()
               if v["stop"]}
    for name in sorted(stopped):
        say(f"note: the stopping rule {name} already says stop")
    phase = None  # the SAFE phase last announced
    X3 = None
    if args.safe and args.safe_features and args.safe_features != features:
        from .screening.feature_cache import extract_cached

        X3 = extract_cached(records.texts, args.safe_features, cache)[0]
    while True:
        if not (session.labels_ < 0).any():
            say("every record has been screened.")
            break
        source = None  # the session's own: random until there is a model, then model
        if args.safe:
            how_safe = dict(seed=args.seed, consecutive=args.consecutive,
                            model_phase3=args.safe_model or DEFAULT_PHASE3_MODEL, X_phase3=X3)
            picked, _, safe = safe_next(session, 1, **how_safe)  # one: phase 2 moves the model's cursor
            if safe["phase"] != phase:
                phase = safe["phase"]
                say("")
                say(textwrap.fill(f"SAFE phase {phase} ({safe['phase_name']}): {safe['next_step']}",
                                  width))
            if phase == 4:
                say("for a second screener: the excluded records the phase-3 model ranks highest")
                for q in safe_next(session, 10, **how_safe)[2]["quality_check"]:
                    i = q["index"]
                    say(textwrap.fill(f"  {ids[i]} ({q['score']:.3f}) "
                                      + " ".join(records.titles[i].split()), width, max_lines=1,
                                      placeholder=" …"))
                break
            i = picked[0]
            source = "random" if phase == 1 else "model"
            how = {1: "SAFE phase 1: a random draw for the training sample",
                   2: "SAFE phase 2: ranked by the model",
                   3: f"SAFE phase 3: ranked by {safe['model_phase3']}"}[phase]
        else:
            i = int(session.next(1)[0])
            how = "ranked by the model" if session.scores_ is not None else (
                "a random draw: no model until there is one relevant and one irrelevant decision")
        say("")
        say(f"-- record {ids[i]} ({how})")
        say(textwrap.fill(" ".join(records.titles[i].split()) or "(no title)", width))
        about = details[i]
        if about:
            cite = " · ".join(about[c] for c in ("authors", "year", "journal") if c in about)
            if cite:
                say(textwrap.fill(" ".join(cite.split()), width, max_lines=2, placeholder=" …"))
            if "doi" in about:
                say(f"doi: {about['doi']}")
            if "keywords" in about:
                say(textwrap.fill("keywords: " + " ".join(about["keywords"].split()), width,
                                  max_lines=2, placeholder=" …"))
        say("")
        say(textwrap.fill(" ".join(records.abstracts[i].split()) or "(no abstract)", width))
        answer = None
        while answer is None:
            out.write(PROMPT)
            out.flush()
            try:
                raw = sys.stdin.readline()
            except KeyboardInterrupt:  # Ctrl-C: as quit (every decision is already saved)
                raw = ""
            if not raw:  # end of input: as quit
                say("")
                answer = "quit"
                break
            if not sys.stdin.isatty():  # answers piped in: show them, as a terminal would
                say(raw.strip())
            answer = ANSWERS.get(raw.strip().lower())
            if answer is None:
                say(f"  {raw.strip()!r} is not an answer: give i or include, e or exclude, u to undo "
                    "the last decision, q to quit")
        if answer == "quit":
            break
        if answer == "undo":
            rid = undo_last_decision(path)
            if rid is None:
                say("  nothing to undo: the decisions file holds no decision")
            else:
                decisions = read_decisions(path, ids) if path.read_bytes().strip() else []
                session, _, _ = replay(records, decisions, model=args.model, features=features,
                                       seed=args.seed, X=session.X)
                say(f"  undone: the decision on record {rid} (removed from {path}); "
                    f"{len(decisions)} decision(s) left")
                stopped = {n for n, v in standing(session, rules, args.confidence)["stopping"].items()
                           if v["stop"]}
            continue
        session.label(i, answer, source=source)
        append_decision(path, ids[i], answer, session.history_[-1].source)
        now = standing(session, rules, args.confidence)
        say(f"  saved: {ids[i]} {'include' if answer else 'exclude'}. {line_of(now)}")
        for name, v in now["stopping"].items():
            if v["stop"] and name not in stopped:
                say(f"  STOP: the stopping rule {name} says you can stop here ({v['reason']}). "
                    f"Rule, for the methods section: {v['rule']}. You may also go on screening.")
        stopped = {n for n, w in now["stopping"].items() if w["stop"]}
    now = standing(session, rules, args.confidence)
    say(f"{path}: {line_of(now)}")
    return 0


def register_agree(review_subparsers) -> argparse.ArgumentParser:
    """Add ``agree`` to the ``review`` group's sub-parsers; returns its parser."""
    p = review_subparsers.add_parser(
        "agree", help="two screeners' agreement: Cohen's kappa, PABAK and the records to resolve",
        description="Compare two screeners' decisions files (as `whatworks review screen` reads "
                    "them: columns id and label) on the records both decided: the 2 x 2 table, "
                    "observed and chance agreement, Cohen's kappa with its large-sample standard "
                    "error (Fleiss, Cohen & Everitt 1969) and interval, the prevalence- and "
                    "bias-adjusted kappa (PABAK = 2 x observed - 1; screening is lopsided, and kappa "
                    "can then be low while the screeners agree on nearly every record), and the "
                    "records they decided differently, to resolve. Kappa is undefined (and given "
                    "as such) when both screeners gave every shared record the same label.")
    p.add_argument("records", metavar="RECORDS.csv",
                   help="the records table (ids as for `whatworks review screen`)")
    p.add_argument("first", metavar="FIRST.csv", help="the first screener's decisions")
    p.add_argument("second", metavar="SECOND.csv", help="the second screener's decisions")
    p.add_argument("--level", type=float, default=0.95, metavar="C",
                   help="confidence level of kappa's interval (default 0.95)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table",
                   help="table for people (default); json for machines; csv: the records decided "
                        "differently (id, title, first, second), to resolve in a spreadsheet")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(handler=_named_as_options(cmd_agree))
    return p


def register_merge(review_subparsers) -> argparse.ArgumentParser:
    """Add ``merge`` to the ``review`` group's sub-parsers; returns its parser."""
    p = review_subparsers.add_parser(
        "merge", help="two screeners' decisions merged into one decisions file",
        description="Merge two screeners' decisions files into one, the review's decisions: one row "
                    "per record either decided, with the label both gave, the resolution of a "
                    "conflict (--resolved: a CSV with id and label, e.g. from discussion or a third "
                    "screener; `whatworks review agree --format csv` lists the conflicts), or with "
                    "--conflicts include the include either gave; a record only one screener "
                    "decided keeps that label. Columns: id, label, source, first, second, how. The "
                    "first screener's rows come first, in their order, then the second's own. The "
                    "result is what `whatworks review prisma --decisions` and `review screen "
                    "--labels` read.")
    p.add_argument("records", metavar="RECORDS.csv",
                   help="the records table (ids as for `whatworks review screen`)")
    p.add_argument("first", metavar="FIRST.csv", help="the first screener's decisions")
    p.add_argument("second", metavar="SECOND.csv", help="the second screener's decisions")
    p.add_argument("--out", "-o", metavar="FILE", required=True,
                   help="the merged decisions file to write (refused if it is FIRST or SECOND)")
    p.add_argument("--resolved", metavar="FILE",
                   help="resolutions of the conflicts: columns id and label (include or exclude)")
    p.add_argument("--conflicts", choices=["resolve", "include"], default="resolve",
                   help="resolve (default): every conflict needs a resolution; include: a record "
                        "either screener included is included unless resolved otherwise")
    p.set_defaults(handler=_named_as_options(cmd_merge))
    return p


def cmd_merge(args) -> int:
    import csv
    import io
    from pathlib import Path

    from whatworks.errors import InputError, ParameterError

    from .screening.agreement import merge_decisions
    from .screening.data import load_records_with_ids
    from .screening.screen import read_decisions

    out = Path(args.out)
    for given in (args.first, args.second):
        if out.exists() and Path(given).exists() and out.resolve() == Path(given).resolve():
            raise ParameterError("--out", args.out, "a new file, not a screener's own decisions")
    _writable(args.out)
    records, ids = load_records_with_ids(args.records)
    first, second = read_decisions(args.first, ids), read_decisions(args.second, ids)
    resolved = read_decisions(args.resolved, ids) if args.resolved else []
    try:
        merged = merge_decisions(first, second, resolved, conflicts=args.conflicts, ids=ids)
    except InputError as exc:
        where = args.resolved if exc.message.startswith("line ") else None
        raise InputError(exc.message, file=where, column=exc.column if where else None) from None
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "label", "source", "first", "second", "how"])
    for m in merged:
        writer.writerow([ids[m.index], _word(m.label), m.source or "",
                         "" if m.first is None else _word(m.first),
                         "" if m.second is None else _word(m.second), m.how])
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(out)  # all or nothing
    counts = {how: sum(m.how == how for m in merged) for how in
              ("agreed", "resolved", "either included", "first only", "second only")}
    in_first = {d.index for d in first}
    unprior = sum(d.source == "prior" and d.index not in in_first for d in second)
    sys.stdout.write(f"{args.out}: {len(merged)} decisions ({sum(m.label for m in merged)} include): "
                     + ", ".join(f"{n} {how}" for how, n in counts.items() if n)
                     + (f"; {unprior} prior(s) of the second screener's own keep no source (priors "
                        "must come before the other rows)" if unprior else "") + "\n")
    return 0


def cmd_agree(args) -> int:
    import csv
    import io

    from .screening.agreement import agreement
    from .screening.data import load_records_with_ids
    from .screening.screen import read_decisions

    records, ids = load_records_with_ids(args.records)
    result = agreement(ids, records.titles, read_decisions(args.first, ids),
                       read_decisions(args.second, ids), level=args.level)
    if args.format == "json":
        text = json.dumps({"first": args.first, "second": args.second, **result.to_dict()}, indent=2)
    elif args.format == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["id", "title", "first", "second"])
        for c in result.conflicts:
            writer.writerow([c["id"], c["title"], _word(c["first"]), _word(c["second"])])
        text = buf.getvalue()
    else:
        text = _agree_table(args.first, args.second, result)
    _emit(text, args.output)
    return 0


def _emit(text: str, output: str | None) -> None:
    """Write ``text`` (ending in one newline) to the file ``output``, or to standard output."""
    text = text if text.endswith("\n") else text + "\n"
    if output:
        _writable(output)
        try:
            with open(output, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        except OSError as exc:
            from whatworks.errors import InputError

            raise InputError(f"cannot write this file ({exc.strerror})", file=output) from None
    else:
        sys.stdout.write(text)


def _writable(path: str) -> None:
    """An output file's folder must exist (checked before any work, so nothing is computed for
    a file that cannot be written); an InputError names the folder, as ``save_figure`` does."""
    from pathlib import Path

    from whatworks.errors import InputError

    folder = Path(path).parent
    if not folder.is_dir():
        raise InputError("the folder does not exist; create it first", file=str(folder))


def _plot_path(path: str | None) -> None:
    """A --plot file: .svg, .png or .pdf, in a folder that exists."""
    if path is None:
        return
    from whatworks.errors import ParameterError

    if not path.lower().endswith((".svg", ".png", ".pdf")):
        raise ParameterError("--plot", path, "a file name ending .svg, .png or .pdf")
    _writable(path)


def _word(label: int) -> str:
    return "include" if label == 1 else "exclude"


def _agree_table(first: str, second: str, r) -> str:
    (ii, ie), (ei, ee) = r.table
    lines = [f"first: {first}; second: {second}",
             f"decided by both: {r.both}; by the first only: {r.only_first}; by the second only: "
             f"{r.only_second}", "",
             f"{'':>22}{'second include':>16}{'second exclude':>16}",
             f"{'first include':>22}{ii:>16}{ie:>16}",
             f"{'first exclude':>22}{ei:>16}{ee:>16}", ""]
    if r.observed is not None:
        lines.append(f"observed agreement: {100 * r.observed:.1f}%; chance agreement: "
                     f"{100 * r.chance:.1f}%")
    if r.kappa is not None:
        lines.append(f"Cohen's kappa: {r.kappa:.3f} (SE {r.kappa_se:.3f}; {100 * r.level:g}% interval "
                     f"{r.kappa_lower:.3f} to {r.kappa_upper:.3f})")
    if r.pabak is not None:
        lines.append(f"PABAK (prevalence- and bias-adjusted kappa): {r.pabak:.3f}")
    if r.note:
        lines.append(f"note: {r.note}")
    lines.append("")
    if not r.conflicts:
        lines.append("no record was decided differently.")
    else:
        lines.append(f"{len(r.conflicts)} record(s) decided differently, to resolve:")
        for c in r.conflicts:
            title = " ".join(c["title"].split())
            title = title if len(title) <= 80 else title[:79] + "…"
            lines.append(f"  {c['id']:<12} first {_word(c['first']):<8} second {_word(c['second']):<8} "
                         f"{title}")
    return "\n".join(lines)


def _next_csv(result) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["rank", "id", "title", "score"])
    for r in result.next:
        writer.writerow([r["rank"], r["id"], r["title"], "" if r["score"] is None else r["score"]])
    return buf.getvalue()


def _add_safe_options(p, help_safe: str) -> None:
    """--safe and its phase-3 settings, for simulate and screen."""
    p.add_argument("--safe", action="store_true", help=help_safe)
    p.add_argument("--safe-model", choices=list(MODELS), default=None, metavar="MODEL",
                   help="with --safe: phase 3's different model (default logistic)")
    p.add_argument("--safe-features", choices=list(FEATURES), default=None, metavar="FEATURES",
                   help="with --safe: phase 3's features (default: the screening model's)")


def _check_safe(args) -> None:
    """--safe-model only with --safe, and a model other than --model."""
    from whatworks.errors import ParameterError

    from .screening.safe import DEFAULT_PHASE3_MODEL

    for option, value in (("--safe-model", args.safe_model), ("--safe-features", args.safe_features)):
        if value and not args.safe:
            raise ParameterError(option, value, "given with --safe (it is the SAFE procedure's "
                                 "phase-3 setting)")
    if args.safe:
        from .screening.safe import phase3_features

        phase3_features(args.safe_model or DEFAULT_PHASE3_MODEL, args.model, args.features,
                        args.safe_features, option="--safe-model")


def _safe_lines(safe: dict) -> list[str]:
    """Where a screening stands in the SAFE procedure, for the table."""
    sample = safe["random_sample"]
    lines = [f"SAFE procedure: phase {safe['phase']} ({safe['phase_name']}); {safe['next_step']}",
             f"  random sample: {sample['screened']} screened (at least {sample['size']}, holding "
             f"a relevant and an irrelevant record), {sample['relevant']} relevant"
             + (f"; about {safe['estimated_relevant']:.1f} relevant records estimated in all"
                if safe["estimated_relevant"] is not None else "")]
    if safe["priors_left_out"]:
        lines.append(f"  {safe['priors_left_out']} prior decision(s) are not part of the procedure")
    if safe["quality_check"]:
        lines.append("  for a second screener: the excluded records the phase-3 model ranks highest")
        lines += [f"    {q['id']:<12} {q['score']:>8.3f}  {' '.join(q['title'].split())[:80]}"
                  for q in safe["quality_check"]]
    lines.append(f"  procedure: {safe['procedure']}")
    return lines


def _left_out_line(duplicates: int, removed: int = 0) -> str:
    parts = []
    if duplicates:
        parts.append(f"{duplicates} record{'s' if duplicates != 1 else ''} with kept False (removed "
                     "as duplicates by `whatworks review dedup`)")
    if removed:
        parts.append(f"{removed} record{'s' if removed != 1 else ''} with a reason in the removed "
                     "column (removed before screening)")
    return " and ".join(parts) + " left out: not screened, not counted"


def _screen_table(result) -> str:
    src = result.sources
    lines = [f"{result.settings['source']}: {result.records} records, {result.screened} screened "
             f"({src['prior']} prior, {src['random']} before the model, {src['model']} in the model's "
             f"order), {result.relevant_found} relevant found; model {result.model}, features "
             f"{result.features}, seed {result.seed}"
             + (f", ranker followed: {result.ranker}" if result.ranker else ""), ""]
    if result.duplicates_left_out or result.removed_left_out:
        lines[-1:-1] = [_left_out_line(result.duplicates_left_out, result.removed_left_out)]
    if result.settings.get("feature_cache", "").startswith("not stored"):
        lines[-1:-1] = [f"feature cache: {result.settings['feature_cache']} (the features were "
                        "extracted afresh; --cache DIR or --no-cache)"]
    if result.recall_estimate is not None:
        e = result.recall_estimate
        level = f"{100 * e['confidence']:g}%"
        lines.append(f"recall estimate: {100 * e['recall']:.1f}% ({level} interval "
                     f"{100 * e['recall_lower']:.1f}-{100 * e['recall_upper']:.1f}%); relevant records "
                     "still unseen: about "
                     f"{e['unseen_relevant']:.1f} (at most {e['unseen_relevant_upper']}); from the last "
                     f"{e['window']} records screened")
    else:
        lines.append(f"recall estimate: none yet ({result.recall_estimate_note or 'nothing screened'})")
    lines.append("")
    lines.append("stopping rules:")
    for name, v in result.stopping.items():
        lines.append(f"  {name}: {'STOP' if v['stop'] else 'continue'} -- {v['reason']}")
        lines.append(f"    rule: {v['rule']}")
    if result.safe is not None:
        lines += ["", *_safe_lines(result.safe)]
    lines.append("")
    lines.append(f"{result.note}.")
    if not result.next:
        if result.safe is None or result.safe["phase"] < 4:
            lines.append("every record has been screened.")
        return "\n".join(lines)
    lines.append("")
    lines.append(f"next {len(result.next)} record(s) to screen, in this order:")
    lines.append(f"{'rank':>4}  {'id':<12} {'score':>8}  title")
    for r in result.next:
        score = "" if r["score"] is None else f"{r['score']:.3f}"
        title = r["title"] if len(r["title"]) <= 90 else r["title"][:89] + "…"
        lines.append(f"{r['rank']:>4}  {r['id']:<12} {score:>8}  {' '.join(title.split())}")
    return "\n".join(lines)
