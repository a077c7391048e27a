"""Seeding the store: the outcomes framework and the demo content shipped in whatworks/data/store."""

from __future__ import annotations

import json
from importlib import resources

from django.db import transaction
from django.utils import timezone

from whatworks.errors import WhatWorksError
from whatworks.ratings.framework import export_framework

from . import changes, services
from .models import Domain, Finding, Intervention, Outcome, Review, Study


class DemoContentError(WhatWorksError):
    """Demo content that the store's publication rule refuses."""


def seed_framework() -> int:
    """Create or update the domains and outcomes of the shipped outcomes framework."""
    data = export_framework()
    with transaction.atomic():
        for d in data["domains"]:
            Domain.objects.update_or_create(slug=d["slug"], defaults={
                "name": d["name"], "description": d["description"], "order": d["order"]})
        domains = {d.slug: d for d in Domain.objects.all()}
        for o in data["outcomes"]:
            Outcome.objects.update_or_create(slug=o["slug"], defaults={
                "name": o["name"], "description": o["description"], "direction": o["direction"],
                "domain": domains[o["domain"]], "measures": "\n".join(o.get("measures", [])),
                "order": o["order"]})
    return len(data["outcomes"])


def demo_content() -> dict:
    with resources.files("whatworks.data").joinpath("store/interventions.json").open(
            encoding="utf-8") as fh:
        return json.load(fh)


def load_demo(content: dict | None = None, *, plot: bool = False) -> int:
    """Load the demo interventions (published) with their studies and findings, then rate them."""
    content = content or demo_content()
    seed_framework()
    outcomes = {o.slug: o for o in Outcome.objects.all()}
    now = timezone.now()
    with transaction.atomic():
        for item in content["interventions"]:
            review = None
            if item.get("review"):
                r = item["review"]
                review, _ = Review.objects.update_or_create(key=r["key"], defaults={
                    "citation": r["citation"], "year": r.get("year"),
                    "amstar2": r.get("amstar2") or "", "url": r.get("url") or ""})
            impl = item.get("implementation") or {}
            cost = item.get("cost") or {}
            intervention, _ = Intervention.objects.update_or_create(slug=item["slug"], defaults={
                "name": item["name"], "aliases": item.get("aliases", []),
                "status": Intervention.PUBLISHED, "summary": item["summary"],
                "what_it_is": item.get("what_it_is", ""), "how_it_works": item.get("how_it_works", ""),
                "who_it_is_for": item.get("who_it_is_for", ""),
                "population": item.get("population", []), "setting": item.get("setting", []),
                "where_studied": item.get("where_studied", []),
                "uk_evidence": bool(item.get("uk_evidence")),
                "evidence_gap": bool(item.get("evidence_gap")),
                "who_delivers": impl.get("who_delivers", ""),
                "training_and_supervision": impl.get("training_and_supervision", ""),
                "fidelity": impl.get("fidelity", ""), "what_supports_it": impl.get("what_supports_it", ""),
                "unit_cost_gbp": cost.get("unit_cost_gbp"), "cost_notes": cost.get("cost_notes", ""),
                "caveats": item.get("caveats", ""), "review": review,
                "last_reviewed": now.date()})
            studies = {}
            for s in item.get("studies", []):
                studies[s["key"]], _ = Study.objects.update_or_create(key=s["key"], defaults={
                    "citation": s["citation"], "year": s.get("year"), "design": s["design"],
                    "country": s.get("country", ""), "sample_size": s.get("sample_size"),
                    "unit_of_randomisation": s.get("unit_of_randomisation") or "",
                    "follow_up_months": s.get("follow_up_months"),
                    "risk_of_bias": s.get("risk_of_bias") or "", "source": s.get("source", "manual"),
                    "illustrative": bool(s.get("illustrative")), "intervention": intervention})
            Finding.objects.filter(intervention=intervention).delete()
            pairs = set()
            for f in item.get("findings", []):
                finding = Finding(study=studies[f["study"]], intervention=intervention,
                                  outcome=outcomes[f["outcome"]],
                                  timepoint_months=f.get("timepoint_months"), measure=f["measure"],
                                  reported=_reported(f), illustrative=bool(f.get("illustrative")),
                                  notes=f.get("notes", ""))
                finding.yi, finding.vi = services.compute_effect(finding.measure, finding.reported)
                finding.save()
                pairs.add(finding.outcome_id)
            why = changes.empty_because(intervention)
            if why:  # published through the same rule as every other route
                raise DemoContentError(f"demo content: '{item['slug']}' cannot be published: "
                                       f"{why}")
            for outcome_id in sorted(pairs):
                services.refresh(intervention, Outcome.objects.get(pk=outcome_id),
                                 reason="demo content loaded", when=now, plot=plot)
    return len(content["interventions"])


def _reported(f: dict) -> dict:
    reported = dict(f.get("reported") or {})
    if f.get("yi") is not None and f.get("vi") is not None:
        reported.update(yi=f["yi"], vi=f["vi"])
    return reported
