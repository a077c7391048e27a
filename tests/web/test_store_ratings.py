"""The store rates through the core: its ratings recompute identically with `whatworks rate`
from the store's CSV export, and under scheme 1.0 the ratings of before issue 8 come back.

``data/store_ratings_scheme_1_0.json`` holds every demo rating as the store computed it before
the pipeline moved into the core (the code at commit 8ab580b, scheme 1.0, web-layer choices), with
its explanations edited only as the core now writes them: the first letter a capital, and "N
studies of other designs were not rated." written "Not rated: N studies of other designs."
"""

import json
from pathlib import Path

import pytest

from whatworks.cli import main

OLD = json.loads((Path(__file__).parent / "data" / "store_ratings_scheme_1_0.json").read_text())
FIELDS = ("effectiveness", "effectiveness_code", "effectiveness_label", "strength",
          "strength_label", "explanation")


@pytest.fixture
def demo_store(db):
    from whatworks.web.store.demo import demo_content, load_demo

    load_demo(demo_content())


def _pairs():
    from whatworks.web.store.models import Finding, Intervention, Outcome

    for row in OLD:
        intervention = Intervention.objects.get(slug=row["intervention"])
        outcome = Outcome.objects.get(slug=row["outcome"])
        findings = list(Finding.objects.filter(intervention=intervention, outcome=outcome)
                        .select_related("study"))
        yield row, intervention, outcome, findings


def test_under_scheme_1_0_every_old_demo_rating_is_reproduced(demo_store):
    from whatworks.web.store import rating as adapter

    assert len(OLD) == 57
    for row, intervention, outcome, findings in _pairs():
        r = adapter.evaluate(outcome=outcome, intervention=intervention, findings=findings,
                             scheme="whatworks-2026@1.0").rating
        got = {"effectiveness": r.effectiveness, "effectiveness_code": r.effectiveness_code,
               "effectiveness_label": r.effectiveness_label, "strength": r.strength,
               "strength_label": r.strength_label, "explanation": r.explanation}
        assert got == {f: row[f] for f in FIELDS}, (row["intervention"], row["outcome"])


def _rate_cli(tmp_path, evidence, scheme, capsys):
    path = tmp_path / f"{evidence.intervention}--{evidence.outcome}.csv"
    evidence.findings.to_csv(path, index=False)
    argv = ["rate", str(path), "--outcome", evidence.outcome, "--format", "json"]
    if evidence.review_amstar2:
        argv += ["--amstar2", evidence.review_amstar2]
    if scheme:
        argv += ["--scheme", scheme]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_every_stored_rating_recomputes_identically_through_whatworks_rate(demo_store, tmp_path,
                                                                           capsys):
    from whatworks.ratings.store_export import stored_evidence
    from whatworks.web.store.models import Rating
    from whatworks.web.store.transfer import export_csv_zip

    stored = {(r.intervention.slug, r.outcome.slug): r
              for r in Rating.objects.select_related("intervention", "outcome")}
    old = {(r["intervention"], r["outcome"]): r for r in OLD}
    evidence = [e for e in stored_evidence(export_csv_zip()) if (e.intervention, e.outcome) in old]
    assert len(evidence) == len(old) == 57
    for e in evidence:
        mine = stored[(e.intervention, e.outcome)]
        now = _rate_cli(tmp_path, e, None, capsys)
        assert (now["scheme_version"], now["effectiveness_code"], now["strength"],
                now["explanation"]) == (mine.scheme_version, mine.effectiveness_state,
                                        mine.strength, mine.explanation), e
        before = _rate_cli(tmp_path, e, "whatworks-2026@1.0", capsys)
        want = old[(e.intervention, e.outcome)]
        assert (before["effectiveness_code"], before["strength"], before["explanation"]) == (
            want["effectiveness_code"], want["strength"], want["explanation"]), e


def test_the_methods_page_states_every_rule_and_parameter_of_the_current_scheme(client, db):
    from whatworks.ratings import SCHEME_V2

    page = client.get("/methods/").content.decode()
    assert "whatworks-2026 version 2.0" in page
    for name, _, _ in SCHEME_V2.parameter_rows():
        assert f"<code>{name}</code>" in page
    assert "Several effect sizes from one study are pooled, not dropped" in page
    assert "whatworks-2026@1.0" in page


def test_the_whole_store_is_re_rated_in_one_batch_and_history_records_the_changes(demo_store):
    from django.core.management import call_command

    from whatworks.web.store.models import Rating, RatingChange

    now = {(r.intervention.slug, r.outcome.slug): (r.effectiveness_state, r.strength, r.explanation)
           for r in Rating.objects.select_related("intervention", "outcome")}
    history = RatingChange.objects.count()
    call_command("rerate_store", "--scheme", "whatworks-2026@1.0", "--reason", "back to 1.0")
    back = {(r.intervention.slug, r.outcome.slug): (r.effectiveness_state, r.strength, r.explanation,
                                                    r.scheme_version)
            for r in Rating.objects.select_related("intervention", "outcome")}
    for row in OLD:
        assert back[(row["intervention"], row["outcome"])] == (
            row["effectiveness_code"], row["strength"], row["explanation"], "1.0")
    changed = RatingChange.objects.filter(reason="back to 1.0").count()
    assert changed == RatingChange.objects.count() - history > 0
    call_command("rerate_store", "--reason", "2.0 again")
    again = {(r.intervention.slug, r.outcome.slug): (r.effectiveness_state, r.strength, r.explanation)
             for r in Rating.objects.select_related("intervention", "outcome")}
    assert again == now


def test_the_before_and_after_table_in_the_docs_is_current(demo_store):
    import importlib.util

    from whatworks.web.store.transfer import export_csv_zip

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("before_after",
                                                  root / "scripts" / "ratings_before_after.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text = (root / "docs" / "methods" / "ratings-2.0-changes.md").read_text(encoding="utf-8")
    assert script.render(export_csv_zip()) == text, "run scripts/ratings_before_after.py"


def test_several_effects_in_a_study_are_pooled_by_the_store_and_no_broken_plot_is_shown(demo_store,
                                                                                      client):
    from whatworks.web.store import services
    from whatworks.web.store.models import Finding, Intervention, Outcome, Synthesis

    intervention = Intervention.objects.get(slug="intensive-family-preservation-services")
    outcome = Outcome.objects.get(slug="entry-to-care")
    first = Finding.objects.filter(intervention=intervention, outcome=outcome,
                                   timepoint_months=12).first()
    Finding.objects.create(study=first.study, intervention=intervention, outcome=outcome,
                           timepoint_months=12, measure=first.measure, reported={},
                           yi=first.yi + 0.1, vi=first.vi, notes="a second measure of entry to care")
    rating = services.refresh(intervention, outcome, reason="second effect", plot=False)
    synthesis = Synthesis.objects.get(intervention=intervention, outcome=outcome)
    assert synthesis.method == "ML3+CR2" and synthesis.result["effects"] == synthesis.k + 1
    assert "across 12 studies" in rating.explanation
    page = client.get(f"/interventions/{intervention.slug}/").content.decode()
    url = f"/interventions/{intervention.slug}/forest/{outcome.slug}.svg"
    assert url not in page or client.get(url).status_code == 200
