"""The load benchmark's data generator: sizes as asked, effect sizes as the store computes them,
every pair rated, and everything marked illustrative."""

import pytest
from django.core.management import call_command

from whatworks.web.store import services
from whatworks.web.store.models import Finding, Intervention, Rating, Study

pytestmark = pytest.mark.django_db


def test_it_generates_a_rated_illustrative_store():
    Intervention.objects.all().delete()  # it refuses to generate into a store with content
    call_command("generate_store", interventions=6, studies=30, findings=120, seed=3)
    assert Intervention.objects.count() == 6
    generated = Finding.objects.all()
    assert generated.count() == 120
    assert not Study.objects.filter(pk__in=generated.values("study")).exclude(
        illustrative=True).exists()
    for f in generated[:20]:
        yi, vi = services.compute_effect(f.measure, f.reported)
        assert f.yi == pytest.approx(yi) and f.vi == pytest.approx(vi)
    pairs = set(generated.values_list("intervention_id", "outcome_id").distinct())
    rated = set(Rating.objects.values_list("intervention_id", "outcome_id"))
    assert pairs <= rated
