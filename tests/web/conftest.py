"""Web tests: a small store loaded once per session, and the three personas (healthchecks' habit):
an anonymous reader, an editor, an admin, and an outsider (signed in, no role)."""

import pytest
from django.contrib.auth.models import Group, User

SMALL_STORE = {
    "version": 1,
    "interventions": [
        {
            "slug": "family-group-conferences", "name": "Family group conferences",
            "summary": "A meeting in which the family network makes a plan for the child.",
            "what_it_is": "A family-led decision-making meeting.", "how_it_works": "Family plans.",
            "who_it_is_for": "Families at risk of care proceedings.",
            "population": ["families at risk of care proceedings"], "setting": ["community"],
            "where_studied": ["England"], "uk_evidence": True,
            "implementation": {"who_delivers": "Independent coordinators"},
            "cost": {"unit_cost_gbp": 1200, "cost_notes": "Coordinator time."},
            "review": {"key": "fgc-review", "citation": "Example review of FGCs.", "year": 2020,
                       "amstar2": "moderate"},
            "studies": [
                {"key": "fgc-trial-2023", "citation": "Taylor et al. 2023. FGC trial.", "year": 2023,
                 "design": "rct", "country": "England", "sample_size": 1511,
                 "risk_of_bias": "low", "source": "trial", "illustrative": False},
                {"key": "fgc-study-b", "citation": "Illustrative study B. 2015.", "year": 2015,
                 "design": "rct", "country": "England", "sample_size": 400,
                 "risk_of_bias": "some concerns", "source": "manual", "illustrative": True},
                {"key": "fgc-study-c", "citation": "Illustrative study C. 2018.", "year": 2018,
                 "design": "qed", "country": "Netherlands", "sample_size": 300,
                 "risk_of_bias": "high", "source": "manual", "illustrative": True},
            ],
            "findings": [
                {"study": "fgc-trial-2023", "outcome": "entry-to-care", "timepoint_months": 12,
                 "measure": "RR", "reported": {"ai": 271, "n1i": 749, "ci": 341, "n2i": 762}},
                {"study": "fgc-study-b", "outcome": "entry-to-care", "timepoint_months": 12,
                 "measure": "RR", "reported": {"ai": 60, "n1i": 200, "ci": 80, "n2i": 200},
                 "illustrative": True},
                {"study": "fgc-study-c", "outcome": "entry-to-care", "timepoint_months": 12,
                 "measure": "RR", "reported": {"ai": 40, "n1i": 150, "ci": 52, "n2i": 150},
                 "illustrative": True},
            ],
        },
        {
            "slug": "social-workers-in-schools", "name": "Social workers in schools",
            "summary": "Social workers based in secondary schools.",
            "population": ["children in need"], "setting": ["school"], "where_studied": ["England"],
            "uk_evidence": True, "cost": {"unit_cost_gbp": 90},
            "studies": [
                {"key": "swis-2023", "citation": "Westlake et al. 2023. SWIS trial.", "year": 2023,
                 "design": "cluster-rct", "country": "England", "sample_size": 268,
                 "risk_of_bias": "low", "source": "trial", "illustrative": False}],
            "findings": [
                {"study": "swis-2023", "outcome": "section-47-enquiries", "timepoint_months": 24,
                 "measure": "IRR", "reported": {"yi": 0.05354, "vi": 0.002396}}],
        },
        {
            "slug": "schwartz-rounds", "name": "Schwartz Rounds", "evidence_gap": True,
            "summary": "Reflective forums for staff.", "population": ["social workers"],
            "setting": ["local authority"], "where_studied": ["England"], "uk_evidence": True,
            "cost": {"unit_cost_gbp": None}, "studies": [], "findings": [],
        },
    ],
}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from whatworks.web.store.demo import load_demo

    with django_db_blocker.unblock():
        load_demo(SMALL_STORE)


def _user(name, group=None):
    user = User.objects.create_user(name, password="correct horse battery")
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def editor(db):
    return _user("edna", "editors")


@pytest.fixture
def admin(db):
    return _user("ada", "admins")


@pytest.fixture
def outsider(db):
    return _user("otto")


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def admin_client_(client, admin):
    client.force_login(admin)
    return client
