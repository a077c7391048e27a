"""The outcomes framework: domains of outcomes, each outcome with the direction that counts as better.

The first four domains are the four outcomes of England's Children's Social Care National Framework
(Department for Education, 2023); the last two gather workforce and system outcomes (the framework's
enablers: an equipped and effective workforce; leaders and multi-agency working). The outcomes under
each domain are the ones evaluations in children's social care measure. Where an outcome sits, and the
direction called better, are this project's choices; each is stated in its description.

A finding must measure the named outcome in its stated direction: a study reporting placement *moves*
rates placement stability only once its effect is reversed (sign flipped, or ratio inverted).

References
----------
Department for Education (2023). Children's social care: national framework. Statutory guidance,
    December 2023.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ParameterError

DIRECTIONS = ("increase", "decrease")


@dataclass(frozen=True)
class Outcome:
    """One outcome: ``direction`` is the change that counts as better ("increase" or "decrease").

    ``unit`` is who the outcome is counted in (children, families, social workers); explanations say
    "across 12 studies and 3,400 children".
    """

    slug: str
    name: str
    description: str
    direction: str
    measures: tuple[str, ...]
    domain: str = ""
    unit: str = "children"

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ParameterError("direction", self.direction, "'increase' or 'decrease'")
        if not self.slug or self.slug != self.slug.lower() or " " in self.slug:
            raise ParameterError("slug", self.slug, "a lower-case slug such as 'entry-to-care'")

    @property
    def phrase(self) -> str:
        """The name as it reads mid-sentence ("entry to care"; acronyms kept)."""
        name = self.name
        if len(name) > 1 and name[1].isupper():
            return name
        return name[:1].lower() + name[1:]

    def to_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "name": self.name, "description": self.description,
                "direction": self.direction, "measures": list(self.measures),
                "domain": self.domain, "unit": self.unit}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        return cls(slug=data["slug"], name=data["name"], description=data.get("description", ""),
                   direction=data["direction"], measures=tuple(data.get("measures", ())),
                   domain=data.get("domain", ""), unit=data.get("unit", "children"))


@dataclass(frozen=True)
class Domain:
    """A group of outcomes (one of the National Framework's outcomes, or workforce / system)."""

    slug: str
    name: str
    description: str
    outcomes: tuple[Outcome, ...]


@dataclass(frozen=True)
class Framework:
    """A versioned outcomes framework."""

    framework_id: str
    version: str
    domains: tuple[Domain, ...]

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        return tuple(o for d in self.domains for o in d.outcomes)

    def outcome(self, slug: str) -> Outcome:
        """The outcome with this slug; a ParameterError lists the slugs when there is none."""
        for o in self.outcomes:
            if o.slug == slug:
                return o
        raise ParameterError("outcome", slug, "one of " + ", ".join(o.slug for o in self.outcomes))


def _domain(slug: str, name: str, description: str, outcomes: list[tuple]) -> Domain:
    made = []
    for o_slug, o_name, direction, unit, description_o, measures in outcomes:
        made.append(Outcome(slug=o_slug, name=o_name, description=description_o, direction=direction,
                            measures=tuple(measures), domain=slug, unit=unit))
    return Domain(slug=slug, name=name, description=description, outcomes=tuple(made))


_STAY_TOGETHER = _domain(
    "stay-together",
    "Children, young people and families stay together and get the help they need",
    "National Framework outcome 1: families get effective help early enough to stay together safely, "
    "without children entering care or statutory services when that can be avoided.",
    [
        ("entry-to-care", "Entry to care", "decrease", "children",
         "Children entering care (becoming looked after, or placed out of home) during follow-up.",
         ["children entering care during follow-up (risk ratio or odds ratio)",
          "out-of-home placement (risk ratio)", "rate of entry to care per 10,000 children"]),
        ("days-in-care", "Days in care", "decrease", "children",
         "Time spent in care during follow-up.",
         ["days looked after during follow-up (mean difference or standardised mean difference)",
          "share of follow-up spent in care"]),
        ("care-proceedings", "Care proceedings", "decrease", "children",
         "Care proceedings issued in the family court.",
         ["care proceedings issued within 12 months (risk ratio)"]),
        ("section-17-assessments", "Section 17 assessments", "decrease", "children",
         "Children assessed under section 17 of the Children Act 1989 as possibly in need. Fewer "
         "statutory assessments count as better, following interventions that aim to meet need "
         "earlier and without statutory involvement; where an intervention aims to find unmet need, "
         "rate it on another outcome.",
         ["section 17 (child in need) assessments during follow-up (rate ratio)"]),
        ("family-functioning", "Family functioning", "increase", "families",
         "How well the family works together: communication, routines, problem solving, warmth.",
         ["North Carolina Family Assessment Scale (NCFAS)", "Family Assessment Device (FAD)",
          "standardised mean difference on a validated family functioning scale"]),
        ("parental-empowerment", "Parental empowerment", "increase", "families",
         "Parents' sense of control and confidence in caring for their children and dealing with "
         "services.",
         ["Family Empowerment Scale", "parenting self-efficacy scales"]),
        ("family-satisfaction", "Family satisfaction", "increase", "families",
         "Families' satisfaction with the help they received.",
         ["Client Satisfaction Questionnaire (CSQ-8)", "service-specific satisfaction surveys"]),
        ("school-attendance", "School attendance", "increase", "children",
         "Attendance at school of children in need, on plans or in care (code absence with its "
         "sign reversed).",
         ["percentage of sessions attended", "persistent absence (reversed)"]),
        ("attainment", "Educational attainment", "increase", "children",
         "Attainment at school of children in need, on plans or in care.",
         ["Key Stage 2 and Key Stage 4 results (e.g. Attainment 8)",
          "standardised reading and mathematics scores"]),
    ])

_FAMILY_NETWORK = _domain(
    "family-network",
    "Children are supported by their family network",
    "National Framework outcome 2: the wider family network is involved in plans and, where a child "
    "cannot live at home, is supported to care for them.",
    [
        ("kinship-placement", "Kinship placement", "increase", "children",
         "Children who cannot live with their parents living with relatives or friends (kinship or "
         "connected-persons care, special guardianship).",
         ["children in care placed with family or friends (risk ratio)",
          "special guardianship or child arrangements orders to relatives"]),
        ("family-network-involvement", "Family network involvement", "increase", "families",
         "Relatives and friends taking part in planning and support for the child.",
         ["family members taking part in decision-making meetings", "family plans agreed"]),
    ])

_SAFE = _domain(
    "safe",
    "Children are safe in and outside of their homes",
    "National Framework outcome 3: children are protected from harm inside and outside the home, "
    "with statutory child protection used when it is needed.",
    [
        ("section-47-enquiries", "Section 47 enquiries", "decrease", "children",
         "Child protection enquiries under section 47 of the Children Act 1989.",
         ["section 47 enquiries during follow-up (rate ratio)"]),
        ("child-protection-plans", "Child protection plans", "decrease", "children",
         "Children becoming the subject of a child protection plan.",
         ["children on a child protection plan during follow-up (risk ratio)"]),
        ("re-referrals", "Re-referrals", "decrease", "children",
         "Children referred to children's social care again within 12 months of a previous referral.",
         ["re-referral within 12 months (risk ratio)"]),
        ("repeat-maltreatment", "Repeat maltreatment", "decrease", "children",
         "Substantiated maltreatment of a child already known to services.",
         ["substantiated maltreatment recurrence (risk ratio or hazard ratio)"]),
    ])

_STABLE_HOMES = _domain(
    "stable-homes",
    "Children in care and care leavers have stable, loving homes",
    "National Framework outcome 4: children in care, and young people leaving care, have stable homes "
    "and lasting relationships; those who can return home do so safely.",
    [
        ("reunification", "Reunification", "increase", "children",
         "Children in care returning to live with their parents and staying there.",
         ["children returned home during follow-up (risk ratio)"]),
        ("re-entry-to-care", "Re-entry to care", "decrease", "children",
         "Children returning to care after going home.",
         ["re-entry within 12 months of reunification (risk ratio)"]),
        ("placement-stability", "Placement stability", "increase", "children",
         "Children in care staying in the same home (code placement moves or breakdowns with the "
         "effect reversed).",
         ["placement moves (reversed)", "three or more placements in a year (reversed)",
          "placement breakdown (reversed)"]),
    ])

_WORKFORCE = _domain(
    "workforce",
    "The workforce is equipped and effective",
    "A National Framework enabler: social workers who are well, well supported and stay in post.",
    [
        ("social-worker-distress", "Social worker distress", "decrease", "social workers",
         "Psychological distress and burnout of social workers (part of social-worker wellbeing).",
         ["General Health Questionnaire (GHQ-12)", "Maslach Burnout Inventory: emotional exhaustion"]),
        ("sickness-absence", "Sickness absence", "decrease", "social workers",
         "Days lost to sickness (part of social-worker wellbeing).",
         ["days of sickness absence per worker (rate ratio)"]),
        ("staff-turnover", "Staff turnover", "decrease", "social workers",
         "Social workers leaving their post or employer.",
         ["leavers as a share of staff in post (risk ratio)", "intention to leave"]),
    ])

_SYSTEM = _domain(
    "system",
    "Leaders, partners and services work effectively",
    "National Framework enablers: leaders drive conditions for effective practice and multi-agency "
    "working is prioritised and effective. Outcomes of the system rather than of one child.",
    [
        ("service-costs", "Cost of services", "decrease", "children",
         "Spending on care and support per child or family.",
         ["spending on placements per child (mean difference or ratio of means)"]),
        ("assessment-timeliness", "Timely assessments", "increase", "children",
         "Assessments completed within the statutory timescale.",
         ["assessments completed within 45 working days (risk ratio)"]),
    ])

#: The outcomes framework this project ships with (seed data for the Evidence Store).
FRAMEWORK = Framework(framework_id="whatworks-outcomes", version="1.0",
                      domains=(_STAY_TOGETHER, _FAMILY_NETWORK, _SAFE, _STABLE_HOMES, _WORKFORCE,
                               _SYSTEM))


def get_outcome(slug: str, framework: Framework = FRAMEWORK) -> Outcome:
    """The outcome with this slug in ``framework`` (the shipped framework by default)."""
    return framework.outcome(slug)


def export_framework(framework: Framework = FRAMEWORK) -> dict[str, Any]:
    """The framework as plain dicts, ready to seed database tables.

    Returns ``{"framework_id", "version", "domains": [...], "outcomes": [...]}``: domains and
    outcomes as flat lists, each with an ``order`` (its position) and each outcome with the slug of
    its ``domain``.
    """
    domains = [{"slug": d.slug, "name": d.name, "description": d.description, "order": i}
               for i, d in enumerate(framework.domains)]
    outcomes = [dict(o.to_dict(), order=i) for i, o in enumerate(framework.outcomes)]
    return {"framework_id": framework.framework_id, "version": framework.version,
            "domains": domains, "outcomes": outcomes}
