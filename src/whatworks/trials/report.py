"""The trial report: one self-contained HTML page from a trial record (and PDF through WeasyPrint,
the ``pdf`` extra, which needs the Pango system library): design, randomisation, the analysis plan's
SHA-256, the CONSORT flow diagram, balance, results with effect sizes and plots, and the CONSORT
checklist.

The record is the plain data of :mod:`whatworks.trials.record`: ``results`` entries take the JSON that
``whatworks trial analyse --format json`` prints (estimate, ci_lower, ci_upper, p_value, icc,
``effect_size`` {g, ci_lower, ci_upper}, ``ratio`` {estimate, ci_lower, ci_upper}) plus ``outcome`` and
``primary``; ``balance`` rows are {variable, level, means: {arm: value}, std_diff}; ``randomisation``
holds what the allocation recorded (method, block, cluster, seed, software, log_sha256). Nothing is
computed from data here except the MDES of the recorded design (with :func:`whatworks.trials.design.mdes`)
and the plan's hash: the report shows what the record says, marked illustrative where it says so.

Plots are matplotlib figures inlined as SVG text, so the page needs no other files.
"""

from __future__ import annotations

import datetime as _dt
import io
import math
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from ..errors import WhatWorksError
from .consort import checklist, flow_from_record, flow_svg
from .record import TrialRecord, result_level

__all__ = ["report_html", "report_pdf", "balance_figure", "results_figure"]

CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111;
line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #bbb;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#eef2f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{background:#fff6d6;border-left:4px solid #c9a400;padding:.5rem .75rem}
code{font-size:.9em;word-break:break-all}
figure{margin:1rem 0}figcaption{font-size:.9rem;color:#333}.no{color:#8a1c1c}.yes{color:#1d5e20}
svg,figure img{max-width:100%;height:auto}
@page{size:A4;margin:15mm}figure,tr{break-inside:avoid}
"""


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return escape(str(x))
    if isinstance(x, float) and math.isnan(x):
        return "–"
    return f"{x:,.{digits}f}" if isinstance(x, float) else f"{x:,}"


def _svg(fig, alt: str) -> str:
    """The figure as an SVG image in the page (``<img>`` with a data URL): matplotlib's SVG paints
    with ``style`` attributes and a ``<style>`` element, which a page whose Content-Security-Policy
    allows no inline styles (the web's report page) would refuse inline; inside an image they
    are the image's own."""
    import base64

    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "whatworks-report"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None}, facecolor="white")
    text = buf.getvalue()
    data = base64.b64encode(text[text.index("<svg") :].encode("utf-8")).decode("ascii")
    return f'<img src="data:image/svg+xml;base64,{data}" alt="{escape(alt)}">'


def balance_figure(record: TrialRecord):
    """Standardised differences at baseline (a 'love plot'), with the ±0.1 and ±0.25 guides; ``None``
    when no balance row has a ``std_diff``."""
    rows = [
        r for r in record.get("balance") or [] if isinstance(r, Mapping) and r.get("std_diff") is not None
    ]
    if not rows:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 0.5 + 0.35 * len(rows)))
    ax = fig.subplots()
    ys = list(range(len(rows)))[::-1]
    ax.scatter([r["std_diff"] for r in rows], ys, color="#1f4e79", zorder=3)
    for v, ls in ((0.1, "--"), (0.25, ":")):
        ax.axvline(v, color="#888", lw=0.8, ls=ls)
        ax.axvline(-v, color="#888", lw=0.8, ls=ls)
    ax.axvline(0, color="#333", lw=0.8)
    ax.set_yticks(ys, [str(r["variable"]) for r in rows], fontsize=8)
    lim = max(0.3, max(abs(r["std_diff"]) for r in rows) * 1.15)
    ax.set_xlim(-lim, lim)
    ax.set_xlabel("standardised difference (intervention - control)")
    return fig


def _effect_rows(record: TrialRecord) -> list[tuple[str, float, float, float, str]]:
    out = []
    for r in record.get("results") or []:
        ratio, es = r.get("ratio") or {}, r.get("effect_size") or {}
        if all(ratio.get(k) is not None for k in ("estimate", "ci_lower", "ci_upper")):
            out.append((r["outcome"], ratio["estimate"], ratio["ci_lower"], ratio["ci_upper"], "ratio"))
        elif all(es.get(k) is not None for k in ("g", "ci_lower", "ci_upper")):
            out.append((r["outcome"], es["g"], es["ci_lower"], es["ci_upper"], "g"))
        elif all(r.get(k) is not None for k in ("estimate", "ci_lower", "ci_upper")):
            out.append((r["outcome"], r["estimate"], r["ci_lower"], r["ci_upper"], "estimate"))
    return out


def results_figure(record: TrialRecord):
    """Each outcome's effect with its CI at the result's level (ratios on a log axis with the line
    of no effect at 1, Hedges' g and raw estimates at 0); one panel per kind; ``None`` without results."""
    rows = _effect_rows(record)
    if not rows:
        return None
    from matplotlib.figure import Figure

    kinds = [k for k in ("ratio", "g", "estimate") if any(r[4] == k for r in rows)]
    fig = Figure(figsize=(6.5, 0.9 + 0.45 * len(rows)))
    axes = fig.subplots(len(kinds), 1, squeeze=False)[:, 0]
    label = {
        "ratio": "ratio (intervention / control), log scale",
        "g": "Hedges' g",
        "estimate": "estimate (model scale)",
    }
    for ax, kind in zip(axes, kinds, strict=True):
        sub = [r for r in rows if r[4] == kind]
        ys = list(range(len(sub)))[::-1]
        for y, (_, est, lo, hi, _) in zip(ys, sub, strict=True):
            ax.plot([lo, hi], [y, y], color="#1f4e79", lw=1.5)
            ax.plot([est], [y], "s", color="#1f4e79")
        ax.axvline(1 if kind == "ratio" else 0, color="#333", lw=0.8, ls="--")
        if kind == "ratio":
            ax.set_xscale("log")
        ax.set_yticks(ys, [r[0] for r in sub], fontsize=8)
        ax.set_ylim(-0.7, len(sub) - 0.3)
        ax.set_xlabel(label[kind])
    fig.tight_layout()
    return fig


def _table(head: list[str], rows: list[list[str]], *, caption: str = "") -> str:
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    th = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join(
        "<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _kv(rows: list[list[str]]) -> str:
    """A two-column table of labelled values (row headers, no empty column headers)."""
    body = "".join(f'<tr><th scope="row">{k}</th><td>{v}</td></tr>' for k, v in rows)
    return f"<table><tbody>{body}</tbody></table>"


def _num_td(x: Any, digits: int = 3) -> str:
    return f'<td class="num">{_f(x, digits)}</td>'


def _design_section(record: TrialRecord) -> str:
    d = record.get("design") or {}
    parts = ["<h2>Design</h2>"]
    rows = [
        [escape(k.replace("_", " ")), escape(str(d[k]))] for k in ("type", "name", "sample_size") if d.get(k)
    ]
    if rows:
        parts.append(_kv(rows))
    params = d.get("parameters") or {}
    if d.get("name") and params:
        from .design import DESIGNS, mdes

        parts.append(
            _table(
                ["parameter (PowerUp! name)", "value"],
                [
                    [f"<code>{escape(k)}</code>", _num_td(v, 3) if isinstance(v, float) else _f(v)]
                    for k, v in params.items()
                ],
            )
        )
        if d["name"] in DESIGNS:
            try:
                m = mdes(d["name"], **params)
                parts.append(
                    f"<p>Minimum detectable effect size of {escape(d['name'])} with these parameters "
                    f"(power 0.8, two-tailed alpha 0.05): <strong>{m.mdes:.3f}</strong> SD "
                    f"(df {m.df:g}).</p>"
                )
            except WhatWorksError as e:
                parts.append(
                    f"<p>The MDES could not be computed from the recorded parameters: {escape(str(e))}</p>"
                )
    if len(parts) == 1:
        parts.append("<p>The record has no design.</p>")
    return "\n".join(parts)


def _randomisation_section(record: TrialRecord) -> str:
    r = record.get("randomisation") or {}
    parts = ["<h2>Randomisation</h2>"]
    labels = {
        "method": "method",
        "block": "blocks (strata)",
        "cluster": "unit randomised",
        "seed": "seed",
        "software": "software",
        "generated_by": "sequence generated by",
        "concealment": "concealment",
        "log_sha256": "audit log hash (last entry)",
        "log_verification": "audit log verified",
    }
    rows = [
        [labels[k], f"<code>{escape(str(r[k]))}</code>" if k in ("seed", "log_sha256") else escape(str(r[k]))]
        for k in labels
        if r.get(k) not in (None, "")
    ]
    parts.append(_kv(rows) if rows else "<p>The record has no randomisation details.</p>")
    return "\n".join(parts)


def _plan_section(record: TrialRecord, plan_content: bytes | None) -> str:
    h = record.analysis_plan_hash(plan_content)
    if h is None:
        return "<h2>Analysis plan</h2><p>The record names no analysis plan.</p>"
    where = escape(str(h.get("path") or h.get("url") or "the registered plan"))
    if h["computed"]:
        check = (
            "matches the hash recorded when the plan was registered"
            if h["recorded"]
            else "no hash was recorded to check it against"
        )
        line = f"SHA-256 of <code>{where}</code>: <code>{h['computed']}</code> ({check})."
    else:
        rec = escape(str(h["recorded"]))
        line = f"SHA-256 recorded for {where}: <code>{rec}</code> (file not available here)."
    return f"<h2>Analysis plan</h2><p>{line}</p>"


def _flow_section(record: TrialRecord) -> str:
    if record.get("flow") is None:
        return "<h2>Participant flow</h2><p>The record has no flow counts.</p>"
    svg = flow_svg(flow_from_record(record), title=f"CONSORT flow diagram: {record.title}")
    return (
        "<h2>Participant flow</h2><figure>"
        + svg
        + "<figcaption>CONSORT flow diagram built from the record's counts.</figcaption></figure>"
    )


def _balance_section(record: TrialRecord) -> str:
    rows = [r for r in record.get("balance") or [] if isinstance(r, Mapping)]
    if not rows:
        return "<h2>Baseline balance</h2><p>The record has no balance table.</p>"
    arms = [k for k, _ in record.arms]
    body = [
        [escape(str(r.get("variable", ""))), escape(str(r.get("level", "")))]
        + [_num_td((r.get("means") or {}).get(a), 2) for a in arms]
        + [_num_td(r.get("std_diff"), 2)]
        for r in rows
    ]
    out = [
        "<h2>Baseline balance</h2>",
        _table(
            ["variable", "level"] + [record.arm_label(a) for a in arms] + ["standardised difference"], body
        ),
    ]
    fig = balance_figure(record)
    if fig is not None:
        out.append(
            "<figure>" + _svg(fig, "Baseline balance plot") + "<figcaption>Standardised "
            "differences at baseline; dashed lines "
            "at ±0.1, dotted at ±0.25.</figcaption></figure>"
        )
    return "\n".join(out)


def _results_section(record: TrialRecord) -> str:
    res = [r for r in record.get("results") or [] if isinstance(r, Mapping)]
    if not res:
        return "<h2>Results</h2><p>The record has no results yet.</p>"
    levels = [f"{result_level(r):g}" for r in res]
    one = levels[0] if len(set(levels)) == 1 else None  # one level: in the headers, else per cell
    ci = f"{one}% CI" if one else "CI"
    body = []
    for r, lev in zip(res, levels, strict=True):
        es, ratio = r.get("effect_size") or {}, r.get("ratio") or {}
        at = "" if one else f" ({lev}%)"
        body.append(
            [
                escape(str(r["outcome"])) + (" (primary)" if r.get("primary") else ""),
                escape(str(r.get("family", ""))),
                _num_td(r.get("estimate"), 4),
                f'<td class="num">{_f(r.get("ci_lower"), 4)} to {_f(r.get("ci_upper"), 4)}{at}</td>',
                _num_td(r.get("p_value"), 4),
                _num_td(r.get("icc"), 3),
                f'<td class="num">{_f(es.get("g"))} ({_f(es.get("ci_lower"))} to '
                f'{_f(es.get("ci_upper"))}){at}</td>'
                if es
                else "<td>–</td>",
                f'<td class="num">{_f(ratio.get("estimate"))} ({_f(ratio.get("ci_lower"))} to '
                f"{_f(ratio.get('ci_upper'))}){at}</td>"
                if ratio
                else "<td>–</td>",
            ]
        )
    out = [
        "<h2>Results</h2>",
        _table(
            ["outcome", "model", "estimate", ci, "p", "ICC", f"Hedges' g ({ci})", f"ratio ({ci})"],
            body,
        ),
    ]
    notes = [f"<li>{escape(str(r['outcome']))}: {escape(str(r['note']))}</li>" for r in res if r.get("note")]
    if notes:
        out.append("<ul>" + "".join(notes) + "</ul>")
    fig = results_figure(record)
    if fig is not None:
        out.append(
            "<figure>" + _svg(fig, "Results plot") + "<figcaption>Effects with "
            + (f"{one}% confidence intervals." if one else "their confidence intervals (the levels "
               "are in the table).") + "</figcaption>"
            "</figure>"
        )
    return "\n".join(out)


def _checklist_section(record: TrialRecord) -> str:
    c = checklist(record)
    body = [
        [
            escape(r["item"]),
            escape(r["topic"]),
            escape(r["text"]),
            f'<td class="{"yes" if r["answered"] else "no"}">'
            f'{escape(r["by"] or "not yet in the record")}</td>',
        ]
        for r in c.items
    ]
    ext = " with the cluster extension" if c.cluster else ""
    return (
        f"<h2>CONSORT 2025 checklist{ext}</h2><p>{c.answered} of {len(c.items)} items are answered by the "
        "record. Item texts are our paraphrases; see Hopewell et al. (2025) and Campbell et al. (2012).</p>"
        + _table(["item", "topic", "what to report", "answered by"], body)
    )


def report_html(record: TrialRecord, *, generated: _dt.date | None = None,
                plan_content: bytes | None = None, stylesheet: str | None = None) -> str:
    """The trial report as one self-contained HTML page (``plan_content``: the analysis plan's bytes
    when they are not in a file beside the record). ``stylesheet``: the URL of ``CSS`` served
    apart, linked instead of written into the page (for a site whose Content-Security-Policy
    allows no inline styles)."""
    from .. import __version__

    generated = generated or _dt.date.today()
    illus = record.get("illustrative")
    note = ""
    if illus:
        items = "".join(f"<li>{escape(str(x))}</li>" for x in (illus if isinstance(illus, list) else [illus]))
        note = (
            '<div class="note"><p><strong>Illustrative content.</strong> '
            f'{escape(str(record.get("sources") or ""))}'
            f"</p><ul>{items}</ul></div>"
        )
    reg = record.get("registration") or {}
    reg_line = (
        f"<p>Registered: {escape(str(reg.get('registry', '')))} {escape(str(reg.get('id', '')))}</p>"
        if reg
        else "<p>No registration recorded.</p>"
    )
    sections = [
        _design_section(record),
        _randomisation_section(record),
        _plan_section(record, plan_content),
        _flow_section(record),
        _balance_section(record),
        _results_section(record),
        _checklist_section(record),
    ]
    return (
        '<!doctype html>\n<html lang="en-GB"><head><meta charset="utf-8">'
        f"<title>{escape(record.title)}: trial report</title>"
        + (f'<link rel="stylesheet" href="{escape(stylesheet)}">' if stylesheet
           else f"<style>{CSS}</style>")
        + "</head><body><main>"
        f"<h1>{escape(record.title)}</h1><p>Trial <code>{escape(record.id)}</code>"
        f"{' · cluster randomised' if record.cluster else ''} · report generated {generated.isoformat()} "
        f"by whatworks {escape(__version__)}</p>{reg_line}{note}"
        + "\n".join(sections)
        + "</main></body></html>\n"
    )


def report_pdf(record: TrialRecord, path: str | Path, *, plan_content: bytes | None = None) -> Path:
    """Write the report as PDF with WeasyPrint (``pip install weasyprint``; it needs the Pango system
    library). Raises a :class:`~whatworks.errors.WhatWorksError` saying so when it is not installed."""
    try:
        import weasyprint
    except (ImportError, OSError) as e:
        raise WhatWorksError(
            f"PDF needs WeasyPrint and the Pango library ({e}); install them with "
            "`pip install weasyprint` and `apt-get install libpango-1.0-0 libpangoft2-1.0-0`, "
            "or write HTML and print it from a browser"
        ) from None
    path = Path(path)
    weasyprint.HTML(string=report_html(record, plan_content=plan_content)).write_pdf(path)
    return path
