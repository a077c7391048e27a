"""Programme and trial records. The judgements (green/amber/red, earned a trial, CONSORT answers) are
never stored: `core.py` turns rows into the core's objects and the core decides, every time."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from whatworks.trials.programme import OUTCOMES, STAGES

STAGE_CHOICES = [(s.name, s.title) for s in STAGES.values()]
OUTCOME_CHOICES = [(k, f"{k}: {v}") for k, v in OUTCOMES.items()]
DIRECTION_CHOICES = [("higher", "higher is better"), ("lower", "lower is better")]
RESERVED_SLUGS = {"programme", "power", "new"}


class Project(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    partners = models.JSONField(default=list, help_text="partner local authorities")
    stage = models.CharField(max_length=20, choices=STAGE_CHOICES)
    budget_gbp = models.FloatField(null=True, blank=True)
    budget_illustrative = models.BooleanField(default=False)
    intervention = models.SlugField(blank=True, help_text="the Evidence Store intervention, if any")
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Criterion(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="criteria")
    measure = models.SlugField(max_length=60, help_text="a short name, e.g. recruitment_rate")
    label = models.CharField(max_length=200)
    stage = models.CharField(
        max_length=20, choices=STAGE_CHOICES, help_text="the stage whose results it judges"
    )
    direction = models.CharField(max_length=6, choices=DIRECTION_CHOICES, default="higher")
    green = models.FloatField(help_text="green threshold")
    red = models.FloatField(help_text="red threshold")
    unit = models.CharField(max_length=20, blank=True)
    value = models.FloatField(null=True, blank=True, help_text="the result, once it arrives")
    source = models.CharField(max_length=300, blank=True, help_text="where the result comes from")
    illustrative = models.BooleanField(default=False)
    from_result = models.JSONField(
        null=True, blank=True, help_text="{trial, outcome, field, scale}: the trial result that answers it"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "measure"], name="one_criterion_per_measure")
        ]


class Evaluation(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="evaluations")
    key = models.SlugField(max_length=60)
    title = models.CharField(max_length=300)
    stage = models.CharField(max_length=20, choices=STAGE_CHOICES)
    design = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=40, default="planned")
    summary = models.TextField(blank=True)
    trial = models.SlugField(blank=True, help_text="the trial record's slug, if any")
    illustrative = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]


class Decision(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="decisions")
    outcome = models.CharField(max_length=10, choices=OUTCOME_CHOICES)
    from_stage = models.CharField(max_length=20, choices=STAGE_CHOICES, blank=True)
    to_stage = models.CharField(max_length=20, choices=STAGE_CHOICES, blank=True)
    decided_by = models.CharField(max_length=200, help_text="who took the decision (a board, a person)")
    decided_on = models.DateField()
    reason = models.TextField(blank=True)
    illustrative = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["decided_on", "id"]


class Trial(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=300)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="trials"
    )
    status = models.CharField(max_length=40, default="planned")
    record = models.JSONField(help_text="the trial record (see whatworks.trials.record)")
    analysis_plan = models.BinaryField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title
