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


# ------------------------------------------------------------------ randomisation and analysis


class TrialUpload(models.Model):
    """A file an editor uploaded (or pasted) for a trial: the units to randomise or the outcomes to
    analyse. Kept so that the choices made after upload, and the saved results, name their input
    by its SHA-256."""

    UNITS, OUTCOMES = "units", "outcomes"
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="uploads")
    kind = models.CharField(max_length=10, choices=[(UNITS, "units"), (OUTCOMES, "outcomes")])
    filename = models.CharField(max_length=200)
    content = models.BinaryField(editable=False)
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]


class TrialAllocation(models.Model):
    """A trial's allocation, made here: one per trial (the one-to-one key is what refuses a second
    randomisation, Back-and-resubmit included). ``rows`` is the realised list (unit, arm and the
    design columns used); ``mode`` is ``batch`` (a whole units file, sealed log) or ``enrolment``
    (minimisation, one unit at a time, open log)."""

    BATCH, ENROLMENT = "batch", "enrolment"
    trial = models.OneToOneField(Trial, on_delete=models.CASCADE, related_name="allocation")
    mode = models.CharField(max_length=10, choices=[(BATCH, "batch"), (ENROLMENT, "enrolment")])
    upload = models.ForeignKey(TrialUpload, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    method = models.CharField(max_length=20)
    seed = models.BigIntegerField()
    algorithm = models.CharField(max_length=100)
    arms = models.JSONField()
    ratio = models.JSONField()
    options = models.JSONField(default=dict)
    software = models.JSONField(default=dict)
    units_sha256 = models.CharField(max_length=64, blank=True)
    rows = models.JSONField(default=list)
    balance_columns = models.JSONField(default=list)
    balance = models.JSONField(default=list, help_text="balance_table rows (standardised differences)")
    constrained = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)


class AppendOnlyError(Exception):
    """An attempt to change or delete an audit log entry."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("allocation log entries are append-only; they cannot be updated")

    def delete(self):
        raise AppendOnlyError("allocation log entries are append-only; they cannot be deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("allocation log entries are append-only; they cannot be updated")


class AllocationLogEntry(models.Model):
    """One line of a trial's allocation log, exactly as :mod:`whatworks.trials.audit` wrote it
    (canonical JSON, hash-chained). Append-only: saving an existing row, ``delete()`` and queryset
    ``update()``/``delete()`` raise :class:`AppendOnlyError`; the unique (trial, index) key refuses
    two entries at one place in the chain; a trial with a log cannot be deleted (PROTECT). A row
    changed behind Django's back (raw SQL) is caught by verification: the line no longer hashes to
    its chain."""

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="log_entries")
    index = models.PositiveIntegerField()
    kind = models.CharField(max_length=12)
    line = models.TextField()
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["trial", "index"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "index"], name="one_log_entry_per_place")
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None or kwargs.get("force_update"):
            raise AppendOnlyError("allocation log entries are append-only; they cannot be updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("allocation log entries are append-only; they cannot be deleted")


class TrialAnalysisRecord(models.Model):
    """An analysis of an uploaded outcome file: its inputs' SHA-256, the options, the software
    versions and the core's results (``TrialAnalysis.to_dict()``); the report and publishing read
    it as one of the record's results."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="analyses")
    upload = models.ForeignKey(TrialUpload, on_delete=models.PROTECT, related_name="+")
    outcome_name = models.CharField(max_length=200, help_text="the outcome as named in the results")
    primary = models.BooleanField(default=False)
    inputs_sha256 = models.CharField(max_length=64)
    options = models.JSONField()
    software = models.JSONField(default=dict)
    results = models.JSONField()
    join = models.JSONField(null=True, blank=True, help_text="the join with the stored allocation")
    model_text = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
