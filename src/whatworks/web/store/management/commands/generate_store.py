"""``generate_store``: an illustrative Evidence Store of a chosen size, for load tests.

Everything it makes is made up (seeded, reproducible) and marked illustrative: studies and findings
carry ``illustrative=True``, interventions say so in their summary and caveats. Rows are
written with ``bulk_create``; effect sizes come from ``whatworks.effects.escalc`` (one vectorised call
per measure), and every synthesis and rating is computed by ``services.refresh`` (forest plots are
left to be drawn on first view), exactly as when an editor adds findings.

    whatworks manage -- generate_store --interventions 1000 --studies 20000 --findings 100000
"""

from __future__ import annotations

import time
import warnings
from datetime import date, timedelta

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from whatworks.effects import escalc

from ... import services
from ...demo import seed_framework
from ...models import Finding, Intervention, Outcome, Review, Study
from ...page_cache import PAGES

REASON = "illustrative store generated for load testing"
TIMEPOINTS = (3.0, 6.0, 12.0, 24.0)
# The measure generated for each outcome: counts of events per person-time, continuous scales, or
# (everything else) children or staff with the event, as a risk ratio.
RATE_OUTCOMES = {"section-17-assessments", "section-47-enquiries", "sickness-absence"}
SCALE_OUTCOMES = {"days-in-care", "family-functioning", "parental-empowerment",
                  "family-satisfaction", "attainment", "social-worker-distress", "school-attendance",
                  "service-costs", "placement-stability", "family-network-involvement"}

FIRST = ["Family", "Parenting", "Kinship", "School-based", "Community", "Restorative", "Intensive",
         "Early help", "Multi-agency", "Relationship-based", "Strengths-based", "Peer", "Whole-family",
         "Trauma-informed", "Home-visiting", "Youth", "Therapeutic", "Systemic", "Neighbourhood",
         "Specialist"]
MIDDLE = ["group", "network", "mentoring", "support", "coaching", "key-worker", "therapy",
          "outreach", "advocacy", "mediation", "practice", "partnership", "assessment", "recovery",
          "reunification", "foster carer", "edge-of-care", "supervision", "learning", "liaison"]
LAST = ["conferences", "programme", "service", "model", "project", "scheme", "team", "pathway",
        "approach", "hub"]
TOPICS = ["neglect", "domestic abuse", "parental substance misuse", "adolescents", "infants",
          "care leavers", "foster carers", "kinship carers", "school exclusion", "exploitation",
          "mental health", "disabled children", "unaccompanied children", "young parents",
          "family conflict", "poverty", "housing", "youth justice", "attendance", "reunification"]
POPULATIONS = ["children in need", "children on child protection plans", "children in care",
               "care leavers", "families at risk of care proceedings", "adolescents", "infants",
               "social workers", "foster carers", "kinship carers"]
SETTINGS = ["home", "school", "community", "local authority", "court", "residential care",
            "health visiting", "family centre"]
COUNTRIES = ["England", "Wales", "Scotland", "Northern Ireland", "USA", "Canada", "Australia",
             "Netherlands", "Norway", "Sweden", "Denmark", "New Zealand", "Germany", "Ireland"]
COUNTRY_P = np.array([20, 4, 3, 1, 30, 6, 7, 6, 4, 4, 3, 3, 3, 2], dtype=float)
# Not "cohort": Study offers it but the rating scheme does not know it yet (reported upstream).
DESIGNS = ["rct", "cluster-rct", "qed", "pre-post"]
DESIGN_P = np.array([40, 15, 35, 10], dtype=float)
ROB = ["low", "some concerns", "high", ""]
ROB_P = np.array([30, 40, 25, 5], dtype=float)
AMSTAR = ["high", "moderate", "low", "critically low", ""]
AUTHORS = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts",
           "Walker", "Wright", "Hughes", "Green", "Hall", "Wood", "Clarke", "Patel", "Khan",
           "Jansen", "Larsen", "Nielsen", "Andersson", "Murphy", "Kelly", "Nguyen", "Garcia"]
JOURNALS = ["Child Abuse & Neglect", "Children and Youth Services Review", "Child & Family Social "
            "Work", "British Journal of Social Work", "Journal of Children's Services",
            "Research on Social Work Practice", "Child Maltreatment", "Adoption & Fostering"]


class Command(BaseCommand):
    help = ("Generate an illustrative store (published interventions, studies, findings; syntheses "
            "and ratings computed) for load tests. Needs a store with no interventions yet.")

    def add_arguments(self, parser):
        parser.add_argument("--interventions", type=int, default=1000)
        parser.add_argument("--studies", type=int, default=20000)
        parser.add_argument("--findings", type=int, default=100000)
        parser.add_argument("--seed", type=int, default=20261123)

    def handle(self, *args, **options):
        counts = generate_store(interventions=options["interventions"],
                                studies=options["studies"], findings=options["findings"],
                                seed=options["seed"], log=self.stdout.write)
        self.stdout.write(", ".join(f"{v:,} {k}" for k, v in counts.items()))


def generate_store(*, interventions: int, studies: int, findings: int, seed: int,
                   log=lambda message: None) -> dict:
    """Write an illustrative store of the given size; returns the number of rows of each kind."""
    if not (1 <= interventions <= studies <= findings):
        raise CommandError("need 1 <= --interventions <= --studies <= --findings; got "
                           f"{interventions}, {studies}, {findings}")
    if Intervention.objects.exists():
        raise CommandError("the store already has interventions; generate into an empty database")
    rng = np.random.default_rng(seed)
    seed_framework()
    outcomes = list(Outcome.objects.order_by("id"))
    started = time.perf_counter()
    with transaction.atomic():
        people = _interventions(rng, interventions)
        log(f"interventions: {time.perf_counter() - started:.1f} s")
        study_rows, plans = _studies(rng, people, studies, outcomes)
        log(f"studies: {time.perf_counter() - started:.1f} s")
        finding_rows = _findings(rng, study_rows, plans, findings)
        log(f"findings: {time.perf_counter() - started:.1f} s")
        pairs = sorted({(f.intervention_id, f.outcome_id) for f in finding_rows})
        by_id = {i.pk: i for i in Intervention.objects.select_related("review")}
        by_outcome = {o.pk: o for o in outcomes}
        now = timezone.now()
        for n, (intervention_id, outcome_id) in enumerate(pairs, 1):
            services.refresh(by_id[intervention_id], by_outcome[outcome_id], reason=REASON,
                             when=now, plot=False)
            if n % 500 == 0:
                log(f"ratings: {n:,} of {len(pairs):,}, {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:  # planner statistics for the new rows, as autovacuum would
        cursor.execute("ANALYZE")
    PAGES.bump()  # rows written in bulk send no signals: every page of every running server
    log(f"done: {time.perf_counter() - started:.1f} s")
    return {"interventions": len(people), "studies": len(study_rows),
            "findings": len(finding_rows), "syntheses and ratings": len(pairs)}


def _words(rng, pool, k) -> list[str]:
    return [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]


def _interventions(rng, n: int) -> list[Intervention]:
    reviews = Review.objects.bulk_create([
        Review(key=f"illustrative-review-{r:03d}", year=int(rng.integers(2005, 2025)),
               citation=f"{rng.choice(AUTHORS)} et al. ({rng.integers(2005, 2025)}). An illustrative "
                        f"systematic review of services for {rng.choice(TOPICS)} (generated data). "
                        f"{rng.choice(JOURNALS)}.",
               amstar2=str(rng.choice(AMSTAR, p=[0.15, 0.35, 0.3, 0.1, 0.1])))
        for r in range(max(1, n // 8))])
    today = date.today()
    made = []
    for i in range(n):
        name = f"{rng.choice(FIRST)} {rng.choice(MIDDLE)} {rng.choice(LAST)} {i + 1:04d}"
        topics = _words(rng, TOPICS, 3)
        population = _words(rng, POPULATIONS, int(rng.integers(1, 4)))
        setting = _words(rng, SETTINGS, int(rng.integers(1, 3)))
        cost = float(np.round(np.exp(rng.normal(6.5, 1.1)), -1))
        intervention = Intervention(
            slug=slugify(name), name=name, status=Intervention.PUBLISHED,
            summary=(f"Illustrative generated content. {name} works with {population[0]} where "
                     f"{topics[0]} or {topics[1]} puts a child at risk. Workers meet the family "
                     f"weekly, agree a plan with the wider family network and review progress "
                     f"after three months. Studies found mixed results that vary between services; "
                     f"the figures here are made up for load testing."),
            what_it_is=(f"A {rng.choice(['structured', 'flexible', 'manualised', 'local'])} service "
                        f"combining practical help, {rng.choice(MIDDLE)} and family-led planning, "
                        f"usually lasting {rng.integers(4, 40)} weeks, with a focus on {topics[2]}."),
            how_it_works=("Building trust and the family's own capacity reduces risk, so that "
                          "fewer children need statutory intervention or to enter care."),
            who_it_is_for=f"{population[0].capitalize()}, especially where {topics[1]} is a concern.",
            population=population, setting=setting,
            where_studied=_words(rng, COUNTRIES, int(rng.integers(1, 5))),
            uk_evidence=bool(rng.random() < 0.4),
            who_delivers="Qualified social workers or trained family practitioners.",
            training_and_supervision=f"{rng.integers(2, 10)} days of initial training; "
                                     "fortnightly group supervision.",
            fidelity="A fidelity checklist is completed at each supervision.",
            what_supports_it="Senior leadership support and manageable caseloads.",
            unit_cost_gbp=cost, cost_notes="Illustrative unit cost per child or family.",
            caveats="All content of this intervention is illustrative, generated for load testing.",
            review=reviews[int(rng.integers(len(reviews)))] if rng.random() < 0.7 else None,
            last_reviewed=today - timedelta(days=int(rng.integers(0, 1100))))
        intervention.save()  # save() derives the cost band and the search text
        made.append(intervention)
    return made


def _split(rng, total: int, parts: int, low: int, high: int) -> np.ndarray:
    """``parts`` whole numbers in [low, high] that add up to ``total`` (roughly even, random)."""
    counts = low + rng.multinomial(total - low * parts, np.ones(parts) / parts)
    counts = np.minimum(counts, high)
    while (short := total - int(counts.sum())) > 0:  # at most a few passes: high >> mean
        room = np.flatnonzero(counts < high)
        counts[rng.choice(room, size=min(short, room.size), replace=False)] += 1
    return counts


def _studies(rng, people, total: int, outcomes) -> tuple[list[Study], dict]:
    per = _split(rng, total, len(people), 1, 4 * total // len(people) + 4)
    rows, plans = [], {}
    for intervention, k in zip(people, per, strict=True):
        chosen = rng.choice(len(outcomes), size=int(rng.integers(3, 7)), replace=False)
        plans[intervention.pk] = {
            "outcomes": [outcomes[c] for c in chosen],
            "effects": rng.normal(0.12, 0.18, size=len(chosen)),  # true effect (SMD scale)
            "tau": rng.uniform(0.0, 0.25, size=len(chosen))}
        for j in range(int(k)):
            year = int(rng.integers(1990, 2025))
            design = str(rng.choice(DESIGNS, p=DESIGN_P / DESIGN_P.sum()))
            rows.append(Study(
                key=f"{intervention.slug}-s{j + 1:03d}", year=year, design=design,
                citation=(f"{rng.choice(AUTHORS)} {rng.choice(['A', 'B', 'C', 'J', 'M', 'S'])}, "
                          f"{rng.choice(AUTHORS)} {rng.choice(['D', 'E', 'K', 'L', 'R'])} et al. "
                          f"({year}). Illustrative evaluation {j + 1} of {intervention.name} "
                          f"(generated data). {rng.choice(JOURNALS)}, {rng.integers(10, 120)}, "
                          f"{rng.integers(1, 900)}."),
                country=str(rng.choice(COUNTRIES, p=COUNTRY_P / COUNTRY_P.sum())),
                sample_size=int(np.clip(np.exp(rng.normal(5.6, 0.9)), 40, 6000)),
                unit_of_randomisation="family" if design == "rct" else (
                    "local authority" if design == "cluster-rct" else ""),
                follow_up_months=float(rng.choice(TIMEPOINTS)),
                risk_of_bias=str(rng.choice(ROB, p=ROB_P / ROB_P.sum())),
                source="review" if intervention.review_id else "manual", illustrative=True,
                intervention=intervention))
    return Study.objects.bulk_create(rows, batch_size=2000), plans


def _measure(outcome: Outcome) -> str:
    if outcome.slug in RATE_OUTCOMES:
        return "IRR"
    return "SMD" if outcome.slug in SCALE_OUTCOMES else "RR"


def _findings(rng, studies, plans, total: int) -> list[Finding]:
    slots = {pk: len(p["outcomes"]) * len(TIMEPOINTS) for pk, p in plans.items()}
    per = _split(rng, total, len(studies), 1, min(slots.values()))
    rows = []
    for study, k in zip(studies, per, strict=True):
        plan = plans[study.intervention_id]
        cells = rng.choice(slots[study.intervention_id], size=int(k), replace=False)
        # each study has its own true effect per outcome (heterogeneity tau)
        theta = plan["effects"] + plan["tau"] * rng.standard_normal(len(plan["outcomes"]))
        for cell in sorted(cells):
            o, t = divmod(int(cell), len(TIMEPOINTS))
            outcome = plan["outcomes"][o]
            good = -1.0 if outcome.direction == Outcome.DECREASE else 1.0
            measure = _measure(outcome)
            rows.append(Finding(
                study=study, intervention_id=study.intervention_id, outcome=outcome,
                timepoint_months=TIMEPOINTS[t], measure=measure, illustrative=True,
                reported=_reported(rng, measure, good * theta[o], study.sample_size),
                notes="Illustrative generated data."))
    _effect_sizes(rows)
    return Finding.objects.bulk_create(rows, batch_size=2000)


def _reported(rng, measure: str, delta: float, n: int) -> dict:
    """Reported statistics for a true standardised effect ``delta`` (positive: an increase)."""
    n1 = max(10, n // 2)
    n2 = max(10, n - n1)
    if measure == "SMD":
        sd1, sd2 = (round(float(x), 2) for x in rng.uniform(8, 14, size=2))
        m2 = round(float(rng.normal(50, 5)), 2)
        m1 = round(m2 + delta * 11 + float(rng.normal(0, 11 * np.sqrt(1 / n1 + 1 / n2))), 2)
        return {"m1i": m1, "m2i": m2, "sd1i": sd1, "sd2i": sd2, "n1i": n1, "n2i": n2}
    if measure == "IRR":
        t1, t2 = round(n1 * 1.0, 1), round(n2 * 1.0, 1)
        rate = float(rng.uniform(0.1, 0.6))
        x1 = max(1, int(rng.poisson(rate * np.exp(delta * 0.6) * t1)))
        x2 = max(1, int(rng.poisson(rate * t2)))
        return {"x1i": x1, "t1i": t1, "x2i": x2, "t2i": t2}
    p0 = float(rng.uniform(0.15, 0.5))
    p1 = float(np.clip(p0 * np.exp(delta * 0.6), 0.02, 0.95))
    a = int(np.clip(rng.binomial(n1, p1), 1, n1 - 1))
    c = int(np.clip(rng.binomial(n2, p0), 1, n2 - 1))
    return {"ai": a, "n1i": n1, "ci": c, "n2i": n2}


def _effect_sizes(rows: list[Finding]) -> None:
    """yi and vi for every finding: one ``escalc`` call per measure (as ``compute_effect`` does
    for one finding at a time)."""
    by_measure: dict[str, list[Finding]] = {}
    for f in rows:
        by_measure.setdefault(f.measure, []).append(f)
    for measure, group in by_measure.items():
        columns = {name: np.array([float(f.reported[name]) for f in group])
                   for name in group[0].reported}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = escalc(measure, **columns)
        for f, yi, vi in zip(group, out["yi"].to_numpy(), out["vi"].to_numpy(), strict=True):
            if not (np.isfinite(yi) and np.isfinite(vi)):
                raise CommandError(f"generated statistics give no effect size: {f.reported}")
            f.yi, f.vi = float(yi), float(vi)
