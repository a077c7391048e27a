"""``whatworks review``: import and deduplicate bibliographic records from the command line.

Thin over the core: parse, call :mod:`whatworks.review.io` / :mod:`whatworks.review.dedup`, print.
:func:`register` adds the ``review`` group to the main parser; each sub-command is added by its own
``_add_*`` function (add new ones -- e.g. ``simulate`` -- beside them in :func:`register`) and sets
``review_handler``; :func:`run` dispatches. Heavy modules (pandas, rapidfuzz, the readers) are
imported inside the handlers, never when the parser is built. Errors are
:class:`~whatworks.errors.WhatWorksError`: exit status 2 and one line naming the file, line and
field.
"""

from __future__ import annotations

import argparse
import sys

from .screening_cli import _emit, _plot_path  # one writer of every review command's output

#: Input formats ``review import --input-format`` accepts (kept in step with ``review.io.FORMATS``;
#: a test checks it, so the parser need not import the readers).
INPUT_FORMATS = ("ris", "wos", "medline", "bibtex", "endnote-xml", "csv", "xlsx")


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``review`` with its sub-commands to the main command's sub-parsers."""
    review = subparsers.add_parser(
        "review", help="systematic reviews: import, deduplicate and screen records",
        description="Systematic reviews: import bibliographic exports (RIS, BibTeX, PubMed MEDLINE, "
                    "EndNote XML, Web of Science, CSV/XLSX), find duplicate records, extraction "
                    "templates, screen your own review with active learning, measure two screeners' "
                    "agreement, merge their decisions, count the PRISMA 2020 flow, judge risk of "
                    "bias with RoB 2, synthesise "
                    "without meta-analysis (vote counting by direction of effect), and replay "
                    "labelled reviews to measure active-learning screening.")
    review.set_defaults(handler=run, review_handler=None, review_parser=review)
    sub = review.add_subparsers(dest="review_command", metavar="REVIEW_COMMAND")
    from .screening_cli import register_agree, register_merge, register_screen, register_simulate

    _add_import(sub)
    _add_dedup(sub)
    _add_template(sub)
    register_simulate(sub)
    register_screen(sub)
    register_agree(sub)
    register_merge(sub)
    _add_prisma(sub)
    _add_effect_direction(sub)
    _add_rob2(sub)
    return review


def _add_import(sub) -> None:
    p = sub.add_parser(
        "import", help="read exports into one records table",
        description="Read bibliographic exports into one CSV of records (id, title, abstract, "
                    "authors, year, journal, volume, issue, pages, doi, pmid, keywords, type, url, "
                    "source_database, source_file, import_batch, source_line). Each file is "
                    "all-or-nothing: if any part of it cannot be read, nothing is written and the "
                    "first problem is shown with its file and line. The format and the text "
                    "encoding are detected.")
    p.add_argument("files", nargs="+", metavar="FILE", help="export files (any mix of formats)")
    p.add_argument("--out", "-o", metavar="records.csv",
                   help="write the records here (default: standard output)")
    p.add_argument("--input-format", choices=list(INPUT_FORMATS),
                   help="the files' format (default: detected from each file)")
    p.add_argument("--encoding", help="the files' text encoding (default: detected)")
    p.add_argument("--database", metavar="NAME",
                   help="source database for records that do not name one (e.g. Embase)")
    p.add_argument("--batch", metavar="LABEL",
                   help="import batch label kept on every record (default: the file name)")
    p.add_argument("--report", choices=["table", "json"], default="table",
                   help="how to show the per-file report on standard error (default table)")
    p.set_defaults(review_handler=cmd_import)


def _add_dedup(sub) -> None:
    p = sub.add_parser(
        "dedup", help="find duplicate records",
        description="Find duplicate records: exact keys (DOI, PMID, title + year + first author), "
                    "then blocking and fuzzy similarity with a calibrated match probability per "
                    "pair. Pairs at or above --merge-threshold are merged, those at or above "
                    "--review-threshold are queued for a person. JSON output: 'groups' (lists of "
                    "record ids judged the same work, the kept record first), 'pairs' (with "
                    "probabilities, decisions and reasons), 'review_queue' and 'log'. CSV output: "
                    "the records with columns group, duplicate_of and kept (`review screen` and "
                    "`review prisma` read it: rows with kept False are not screened). "
                    "--deduplicated writes the kept records alone, each carrying every source "
                    "database of its group.")
    p.add_argument("records", metavar="records.csv",
                   help="a records table (from `whatworks review import`, or any CSV/XLSX with a "
                        "title or abstract column)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table",
                   help="table for people (default); json or csv for machines")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--merge-threshold", type=float, default=0.99, metavar="P",
                   help="merge pairs with match probability >= P (default 0.99)")
    p.add_argument("--review-threshold", type=float, default=0.5, metavar="P",
                   help="queue pairs with probability >= P for a person (default 0.5)")
    p.add_argument("--deduplicated", metavar="FILE",
                   help="also write the kept records alone to this CSV (one row per work, its "
                        "source_database naming every database the work was found in)")
    p.set_defaults(review_handler=cmd_dedup)


def _add_prisma(sub) -> None:
    p = sub.add_parser(
        "prisma", help="PRISMA 2020 flow diagram counts from the review's files",
        description="Count every box of the PRISMA 2020 flow diagram from the review's own files: "
                    "the records table (one row per record imported; from `review dedup --format "
                    "csv` it also says which were removed as duplicates; a removed column gives the "
                    "reason a record was removed before screening, and removed_by says "
                    "automation when a tool removed it), the title-and-abstract "
                    "decisions (`review screen`'s file) and the full-text decisions (columns id, "
                    "decision -- include, exclude or not retrieved --, reason, optionally study). "
                    "Records no person screened count as excluded by automation tools when "
                    "--stopped says a stopping rule ended screening, else as awaiting screening. "
                    "--other-methods adds PRISMA 2020's column of reports found by other methods "
                    "(citation searching, websites, organisations), and --previous makes it the "
                    "template for updated reviews (previous studies, new studies, total). "
                    "JSON keys: identified, removed_before_screening, screening, retrieval, "
                    "included, other_methods, notes.")
    p.add_argument("records", metavar="records.csv",
                   help="every record imported: `review dedup --format csv`'s table (or `review "
                        "import`'s, when nothing was deduplicated)")
    p.add_argument("--decisions", metavar="FILE",
                   help="title-and-abstract decisions (id, label, source), as `review screen` keeps "
                        "them")
    p.add_argument("--full-text", metavar="FILE",
                   help="full-text decisions: id, decision (include, exclude, not retrieved), reason, "
                        "optionally study (reports of one study share it)")
    p.add_argument("--other-methods", metavar="FILE",
                   help="reports found by other methods than database and register searches: id, "
                        "source (the method: Citation searching, Websites, ...), decision "
                        "(include, exclude, not retrieved, not sought; blank while awaiting), "
                        "reason, optionally study")
    p.add_argument("--previous", metavar="FILE",
                   help="an updated review: the reports of the studies included in the previous "
                        "version (id, optionally study); the flow counts new, previous and total "
                        "studies")
    p.add_argument("--stopped", action="store_true",
                   help="screening ended because a stopping rule said stop: count the records not "
                        "screened as excluded by automation tools")
    p.add_argument("--registers", nargs="+", default=[], metavar="NAME",
                   help="source_database names that are trial registers (e.g. ClinicalTrials.gov)")
    p.add_argument("--format", choices=["table", "json"], default="table",
                   help="table for people (default); json for machines")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--plot", metavar="FILE", help="draw the flow diagram (.svg, .png or .pdf)")
    p.set_defaults(review_handler=cmd_prisma)


def cmd_prisma(args) -> int:
    import json

    from whatworks.errors import ParameterError

    from . import prisma

    _plot_path(args.plot)
    if args.full_text and not args.decisions:
        raise ParameterError("--full-text", args.full_text, "given with --decisions: the full-text "
                             "decisions are on the records included at title and abstract")
    records, dedup_known, by_row = prisma.read_flow_records(args.records)
    decisions = None
    if args.decisions:
        from .screening.screen import read_decisions

        decisions = read_decisions(args.decisions, prisma.screening_ids(records, by_row))
    full_text = None
    if args.full_text:
        full_text = prisma.read_full_text(args.full_text,
                                          *prisma.sought_for_retrieval(records, decisions))
    other = prisma.read_other_methods(args.other_methods, (r.id for r in records)) \
        if args.other_methods else None
    previous = prisma.read_previous(args.previous) if args.previous else None
    flow = prisma.prisma_flow(records, decisions, full_text, stopped=args.stopped,
                       registers=args.registers, dedup_known=dedup_known, other=other,
                       previous=previous)
    if args.plot:
        from whatworks.synthesis.plots import save_figure  # the project's one figure writer

        save_figure(flow.plot(), args.plot)
    if args.format == "json":
        _emit(json.dumps({"records": args.records, **flow.to_dict()}, indent=2), args.output)
    else:
        _emit(flow.to_text(), args.output)
    return 0


#: The shipped extraction templates (kept in step with ``review.extraction.TEMPLATES``; a test
#: checks it, so the parser need not import pandas).
TEMPLATE_NAMES = ("narrative_synthesis", "thematic_coding", "realist_cmo")


def _add_template(sub) -> None:
    p = sub.add_parser(
        "template", help="an extraction template: its fields, or a blank table to fill in",
        description="Show a shipped extraction template (narrative synthesis, thematic coding of "
                    "qualitative findings, realist context-mechanism-outcome configurations): its "
                    "fields as JSON, or a blank CSV/XLSX table with its columns. With --check, "
                    "validate a filled-in table against it and print its summary table (for "
                    "narrative_synthesis, `review effect-direction` adds the sign test and the "
                    "effect direction plot).")
    p.add_argument("name", choices=list(TEMPLATE_NAMES))
    p.add_argument("--format", choices=["json", "csv", "xlsx"], default="json",
                   help="json: the template's fields (default); csv/xlsx: a blank table")
    p.add_argument("--check", metavar="TABLE",
                   help="a filled-in CSV or XLSX to validate; prints the synthesis table as CSV")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output "
                                                           "(required for xlsx)")
    p.set_defaults(review_handler=cmd_template)


def run(args) -> int:
    """Run the ``review`` sub-command chosen in ``args`` (help when none was chosen)."""
    if getattr(args, "review_handler", None) is None:
        args.review_parser.print_help()
        return 0
    return args.review_handler(args)


def cmd_import(args) -> int:
    import json

    from .io import import_files
    from .records import to_frame

    result = import_files(args.files, format=args.input_format, encoding=args.encoding,
                          database=args.database, import_batch=args.batch,
                          progress=sys.stderr.isatty())
    _emit(to_frame(result.records).to_csv(index=False), args.out)
    if args.report == "json":
        print(json.dumps(result.to_dict(), indent=2), file=sys.stderr)
    else:
        print(result.summary_text(), file=sys.stderr)
        for rep in result.reports:
            for w in rep.warnings:
                print(f"  warning: {w}", file=sys.stderr)
    return 0


def cmd_dedup(args) -> int:
    import json

    from .dedup import deduplicate
    from .io import read_records_table

    records = read_records_table(args.records)
    result = deduplicate(records, merge_threshold=args.merge_threshold,
                         review_threshold=args.review_threshold)
    if args.deduplicated:
        from .records import to_frame

        _emit(to_frame(result.deduplicated()).to_csv(index=False), args.deduplicated)
    if args.format == "json":
        from whatworks._results import jsonable

        _emit(json.dumps(jsonable(result.to_dict()), indent=2), args.output)
    elif args.format == "csv":
        _emit(result.to_frame().to_csv(index=False), args.output)
    else:
        lines = [result.summary_text()]
        for g in result.groups:
            lines.append("  same work: " + ", ".join(g))
        for p in result.review_queue[:50]:
            lines.append(f"  review: {p.a} ~ {p.b} (p = {p.probability:.3f}; {p.reason})")
        if len(result.review_queue) > 50:
            lines.append(f"  ... and {len(result.review_queue) - 50} more pairs for review "
                         "(--format json lists them all)")
        _emit("\n".join(lines), args.output)
    return 0


def _read_sheet(path: str, template):
    """A filled-in extraction table (CSV or XLSX) validated against ``template``; a table that
    cannot be read or an entry that breaks the template is one error naming the file, row and
    field."""
    import pandas as pd

    from whatworks.errors import InputError

    from .extraction import ExtractionSheet

    try:
        if path.lower().endswith((".xlsx", ".xlsm")):
            frame = pd.read_excel(path, dtype=str, engine="openpyxl")
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read this table ({exc})", file=path) from None
    try:
        return ExtractionSheet.from_frame(template, frame)
    except InputError as exc:
        # entries count from 1 like data rows; say which file they came from
        raise InputError(str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc),
                         file=path, row=exc.row, column=exc.column) from None


def _add_effect_direction(sub) -> None:
    p = sub.add_parser(
        "effect-direction",
        help="synthesis without meta-analysis: vote counting by direction of effect, sign test, "
             "effect direction plot",
        description="Vote counting based on the direction of effect (Cochrane Handbook 12.2.2.5; "
                    "SWiM) from a filled-in narrative_synthesis extraction table (`review template "
                    "narrative_synthesis --format csv`): per outcome domain (and synthesis group), "
                    "each study once, in the direction at least 70% of its outcomes there share "
                    "(else mixed); the studies favouring the intervention against those favouring "
                    "the comparator by a sign test, with Wilson's 95% interval. It shows whether "
                    "there is evidence of an effect, not its size. --plot draws the effect "
                    "direction plot (Boon & Thomson 2021). JSON keys: table, method, domains (each: "
                    "grouping, outcome_domain, studies, favours_intervention, favours_comparator, "
                    "no_clear_difference, mixed, unclear, with_direction, "
                    "proportion_favouring_intervention, ci_low, ci_high, sign_test_p, sentence, "
                    "estimates, per_study), notes.")
    p.add_argument("table", metavar="TABLE", help="the filled-in narrative_synthesis table (CSV or XLSX)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table",
                   help="table for people (default); csv, one row per domain; json for machines")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--plot", metavar="FILE", help="draw the effect direction plot (.svg, .png or .pdf)")
    p.add_argument("--rob2", metavar="TABLE",
                   help="take each study's risk of bias from the review's RoB 2 table (`review "
                        "rob2`'s input), matched by study_id (and, for a study with several "
                        "results, by the outcome); a row that says otherwise is refused")
    p.set_defaults(review_handler=cmd_effect_direction)


def cmd_effect_direction(args) -> int:
    import json

    from whatworks.errors import InputError

    from .extraction import get_template
    from .narrative import METHOD, effect_direction_plot, vote_count

    _plot_path(args.plot)
    sheet = _read_sheet(args.table, get_template("narrative_synthesis"))
    if not sheet.entries:
        raise InputError("no entries after the header; give one row per study and outcome",
                         file=args.table)
    entries, notes = list(sheet.entries), []
    if args.rob2:
        from .appraisal import read_rob2_table
        from .narrative import with_rob2

        assessments = read_rob2_table(args.rob2)  # its own errors name the RoB 2 table
        try:
            entries, notes = with_rob2(entries, assessments)
        except InputError as exc:  # a row of the sheet: name the sheet
            raise InputError(exc.message, file=args.table, row=exc.row, column=exc.column) from None
    votes = vote_count(entries)
    if args.plot:
        from whatworks.synthesis.plots import save_figure  # the project's one figure writer

        save_figure(effect_direction_plot(votes), args.plot)
    rows = [v.to_dict() for v in votes]
    if args.format == "json":
        _emit(json.dumps({"table": args.table, "method": METHOD, "domains": rows, "notes": notes},
                         indent=2), args.output)
    elif args.format == "csv":
        import pandas as pd

        _emit(pd.DataFrame([{k: v for k, v in r.items() if k != "per_study"} for r in rows])
              .to_csv(index=False), args.output)
    else:
        lines = [t for v in votes for t in (v.sentence(), *(e.sentence(v.name) for e in v.estimates))]
        for v in votes:
            lines += ["", v.name] + [
                f"  {s.study_id}: {s.direction}"
                + (f" ({', '.join(f'{n} {d}' for d, n in s.outcomes.items())})"
                   if sum(s.outcomes.values()) > 1 else "")
                + (f"; n = {s.sample_size:,}" if s.sample_size is not None else "")
                + (f"; risk of bias {s.risk_of_bias}" if s.risk_of_bias else "")
                for s in v.studies]
        _emit("\n".join([*lines, "", f"method: {METHOD}", *(f"note: {t}" for t in notes)]),
              args.output)
    return 0


def _add_rob2(sub) -> None:
    p = sub.add_parser(
        "rob2", help="risk of bias of trials' results with RoB 2: domains, overall, plots",
        description="Judge each result of a RoB 2 table (one row per result: study_id, optionally "
                    "result and effect, the signalling questions 1.1 ... 5.3 answered Y, PY, PN, N, "
                    "NI or NA) by the tool's published algorithms: the five domains and the overall "
                    "judgement, each with the path of answers that led to it. The reviewers may "
                    "depart from a suggestion in d1_judgement ... overall_judgement, with a "
                    "..._justification, and give RoB 2's predicted direction of bias in "
                    "..._direction. JSON keys: table, tool, assessments (each: study_id, "
                    "result, effect, domains, overall_suggested, overall, overall_justification, "
                    "unused, sentence), summary. --format csv writes robvis's layout (Study, "
                    "D1 ... D5, Overall, Weight).")
    p.add_argument("table", metavar="TABLE", nargs="?",
                   help="the RoB 2 answers, one row per result (CSV or XLSX)")
    p.add_argument("--blank", action="store_true",
                   help="write a blank table to fill in (its header, and a row with each "
                        "question's wording), instead of judging one")
    p.add_argument("--effect", choices=["assignment", "adherence"], default="assignment",
                   help="domain 2's version for rows with no effect column: the effect of "
                        "assignment (default) or of adhering to the intervention")
    p.add_argument("--high-when-concerns", type=int, metavar="K",
                   help="the review's rule: K or more domains with some concerns make a result "
                        "high risk of bias (default: no such rule)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table",
                   help="table for people (default); csv in robvis's layout; json for machines")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--plot", metavar="FILE", help="draw the traffic-light plot (.svg, .png or .pdf)")
    p.add_argument("--summary-plot", metavar="FILE",
                   help="draw the summary plot (share of results at each judgement per domain)")
    p.set_defaults(review_handler=cmd_rob2)


def cmd_rob2(args) -> int:
    import json
    from collections import Counter

    from whatworks.errors import InputError

    from . import appraisal

    if args.blank:
        extra = [o for o, v in (("TABLE", args.table), ("--plot", args.plot),
                                ("--summary-plot", args.summary_plot),
                                ("--high-when-concerns", args.high_when_concerns)) if v is not None]
        if extra or args.format != "table":
            raise InputError(f"--blank writes an empty table and judges nothing: drop "
                             f"{(extra or ['--format'])[0]}", column="--blank")
        _emit(appraisal.blank_table(args.effect), args.output)
        return 0
    if args.table is None:
        raise InputError("give a RoB 2 table to judge (or --blank for an empty one to fill in)",
                         column="TABLE")
    for path in (args.plot, args.summary_plot):
        _plot_path(path)
    assessments = appraisal.read_rob2_table(args.table, effect=args.effect,
                                            high_when_concerns=args.high_when_concerns)
    if args.plot or args.summary_plot:
        from whatworks.synthesis.plots import save_figure  # the project's one figure writer

        if args.plot:
            save_figure(appraisal.traffic_light_plot(assessments), args.plot)
        if args.summary_plot:
            save_figure(appraisal.summary_plot(assessments), args.summary_plot)
    summary = {k: dict(Counter(a.domains[i].final for a in assessments))
               for i, k in enumerate(appraisal.DOMAINS)}
    summary["overall"] = dict(Counter(a.overall for a in assessments))
    if args.format == "json":
        tool = "RoB 2 for individually randomised, parallel-group trials (Sterne et al. 2019)"
        _emit(json.dumps({"table": args.table, "tool": tool,
                          "assessments": [a.to_dict() for a in assessments], "summary": summary},
                         indent=2), args.output)
    elif args.format == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["Study", *appraisal.DOMAINS, "Overall", "Weight"])
        for a in assessments:
            w.writerow([a.label, *(d.final.capitalize() for d in a.domains), a.overall.capitalize(),
                        1])
        _emit(buf.getvalue(), args.output)
    else:
        lines = []
        for a in assessments:
            lines.append(a.sentence())
            lines += [f"  {d.domain} {appraisal.DOMAINS[d.domain]}: {d.final}"
                      + (f" (suggested {d.suggested}: {d.justification})" if d.departed else "")
                      + f"   [{d.path}]" for d in a.domains]
            if a.unused:
                lines.append(f"  answered but not on any path: {', '.join(a.unused)}")
        lines += ["", "overall: " + ", ".join(f"{n} {j}" for j, n in summary["overall"].items())]
        _emit("\n".join(lines), args.output)
    return 0


def cmd_template(args) -> int:
    from whatworks.errors import InputError

    from .extraction import ExtractionSheet, get_template

    template = get_template(args.name)
    if args.check:
        sheet = _read_sheet(args.check, template)
        table = {"narrative_synthesis": sheet.direction_table, "thematic_coding": sheet.theme_matrix,
                 "realist_cmo": sheet.cmo_table}[template.name]()
        _emit(table.to_csv(index=False), args.output)
        return 0
    if args.format == "json":
        _emit(template.to_json(), args.output)
    elif args.format == "csv":
        _emit(template.blank().to_csv(index=False), args.output)
    else:
        if not args.output:
            raise InputError("--format xlsx needs --output FILE.xlsx", column="--output")
        ExtractionSheet(template).to_xlsx(args.output)
    return 0
