"""The trial report: every section from the record, the analysis plan's hash, the flow diagram and
plots inline, and nothing missing silently."""

import hashlib
import json
from pathlib import Path

import pytest

from whatworks.errors import InputError, WhatWorksError
from whatworks.trials.record import load_record, record_from_dict
from whatworks.trials.report import balance_figure, report_html, report_pdf, results_figure

DEMO = Path(__file__).resolve().parents[2] / "src/whatworks/data/programme/swis-trial.json"


def test_the_report_has_every_section_and_the_plan_hash():
    rec = load_record(DEMO)
    html = report_html(rec)
    plan = hashlib.sha256((DEMO.parent / "swis-sap.md").read_bytes()).hexdigest()
    assert plan in html and "matches the hash recorded" in html
    for heading in ("Design", "Randomisation", "Analysis plan", "Participant flow", "Baseline balance",
                    "Results", "CONSORT 2025 checklist with the cluster extension"):
        assert f"<h2>{heading}</h2>" in html
    assert html.count("<svg") == 1  # the flow diagram, drawn without inline styles
    assert html.count('<img src="data:image/svg+xml;base64,') == 2  # balance and results plots
    assert 'alt="Baseline balance plot"' in html and 'alt="Results plot"' in html
    assert "1.055 (0.955 to 1.166)" in html  # the trial's rate ratio
    assert "Illustrative content." in html
    assert "<code>20201</code>" in html and "block-cluster" in html


def test_the_design_section_shows_the_mdes_of_the_recorded_design():
    from whatworks.trials.design import mdes

    html = report_html(load_record(DEMO))
    expected = mdes("CRA2_2r", rho2=0.05, n=1000, J=268).mdes
    assert f"<strong>{expected:.3f}</strong> SD" in html


def test_a_bare_record_says_what_is_missing_instead_of_failing():
    html = report_html(record_from_dict({"id": "t", "title": "A randomised trial"}))
    for text in ("The record has no design.", "The record has no randomisation details.",
                 "The record names no analysis plan.", "The record has no flow counts.",
                 "The record has no balance table.", "The record has no results yet."):
        assert text in html
    assert "<svg" not in html and "<img" not in html


def test_the_plots_show_ratios_on_a_log_axis_and_g_around_zero():
    rec = record_from_dict({"id": "t", "title": "t", "results": [
        {"outcome": "a", "ratio": {"estimate": 1.2, "ci_lower": 0.9, "ci_upper": 1.6}},
        {"outcome": "b", "effect_size": {"g": 0.1, "ci_lower": -0.1, "ci_upper": 0.3}}],
        "balance": [{"variable": "x", "std_diff": 0.4}]})
    fig = results_figure(rec)
    assert [ax.get_xscale() for ax in fig.axes] == ["log", "linear"]
    assert fig.axes[0].lines[-1].get_xdata()[0] == 1 and fig.axes[1].lines[-1].get_xdata()[0] == 0
    assert balance_figure(rec).axes[0].get_xlim()[1] == pytest.approx(0.46)


def test_a_changed_analysis_plan_stops_the_report(tmp_path):
    data = json.loads(DEMO.read_text())
    (tmp_path / "swis-sap.md").write_text("a different plan")
    (tmp_path / "t.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="the plan changed after it was registered"):
        report_html(load_record(tmp_path / "t.json"))


def test_pdf_says_how_to_get_weasyprint_when_it_is_missing(tmp_path):
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        with pytest.raises(WhatWorksError, match="pip install weasyprint"):
            report_pdf(load_record(DEMO), tmp_path / "r.pdf")
    else:
        out = report_pdf(load_record(DEMO), tmp_path / "r.pdf")
        assert out.read_bytes().startswith(b"%PDF")


def test_the_plan_hash_can_come_from_stored_bytes():
    rec = load_record(DEMO)
    content = (DEMO.parent / "swis-sap.md").read_bytes()
    assert rec.analysis_plan_hash(content)["computed"] == hashlib.sha256(content).hexdigest()
    with pytest.raises(InputError, match="the plan changed"):
        rec.analysis_plan_hash(content + b"edited")


def test_a_record_from_a_dict_reads_no_files_and_shows_the_recorded_hash():
    data = json.loads(DEMO.read_text())
    rec = record_from_dict(data)
    h = rec.analysis_plan_hash()
    assert h["computed"] is None and h["sha256"] == data["analysis_plan"]["sha256"]
    assert "(file not available here)" in report_html(rec)


def test_the_results_table_names_the_confidence_level_of_each_result():
    data = json.loads(DEMO.read_text())
    html = report_html(record_from_dict(data))
    assert "95% CI</th>" in html and "Effects with 95% confidence" in html
    data["results"][0]["level"] = 90
    html = report_html(record_from_dict(data))
    assert "90% CI</th>" in html and "95% CI</th>" not in html and "Effects with 90% confidence" in html
    data["results"].append({**data["results"][0], "outcome": "other", "level": 99})
    html = report_html(record_from_dict(data))
    assert "(90%)</td>" in html and "(99%)</td>" in html and "their confidence intervals" in html


def test_the_page_has_no_inline_style_but_its_own_css_when_a_stylesheet_is_linked():
    """The web serves the report under a Content-Security-Policy without inline styles: linked,
    the page has no <style> element and no style attribute (the plots are images, whose styles
    are their own; the flow diagram is painted with presentation attributes)."""
    import re

    from whatworks.trials.report import CSS

    html = report_html(load_record(DEMO), stylesheet="/trials/report.css")
    assert '<link rel="stylesheet" href="/trials/report.css">' in html
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert f"<style>{CSS}</style>" in report_html(load_record(DEMO))  # standalone: self-contained
