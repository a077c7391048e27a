"""The Evidence Store's data: the outcomes framework, interventions, studies, findings, and the
syntheses and ratings computed from them (never typed in).

Models hold inputs and cached results; the statistics live in the core (``whatworks.effects``,
``whatworks.synthesis``, ``whatworks.ratings``) and are called from ``services.py``.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse

MAX_TAGS, MAX_TAG_LENGTH = 50, 200
MAX_MONTHS = 600  # 50 years: time points and follow-up
FIRST_YEAR = 1900
MAX_SAMPLE_SIZE = 10_000_000


def next_year() -> int:
    return date.today().year + 1


def _in_range(what: str, low, high, unit: str = ""):
    """A validator refusing values outside [low, high], naming the field and the range (every
    route checks it: editor forms, the API and imports, through the model field)."""
    def check(value) -> None:
        top = high() if callable(high) else high
        if value is not None and not low <= value <= top:
            raise ValidationError(
                f"{what} must be between {low:,} and {top:,}{unit}; {value:,} is outside that range",
                code="range")
    return check


def validate_year(value) -> None:
    """A publication year: 1900 to next year."""
    _in_range("The year", FIRST_YEAR, next_year, " (next year)")(value)


def validate_follow_up(value) -> None:
    """Follow-up in months: 0 to 600 (50 years)."""
    _in_range("Follow-up", 0, MAX_MONTHS, " months")(value)


def validate_timepoint(value) -> None:
    """A finding's time point in months after the start: 0 to 600."""
    _in_range("The time point", 0, MAX_MONTHS, " months")(value)


def validate_sample_size(value) -> None:
    """A study's sample size: 1 to 10,000,000."""
    _in_range("The sample size", 1, MAX_SAMPLE_SIZE, " people")(value)


def validate_tags(value) -> None:
    """A list field (population, setting, where studied) is a list of short strings."""
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValidationError('must be a list of strings, e.g. ["children in care"]',
                              code="tags")
    if any("\x00" in x for x in value):
        raise ValidationError("contains a NUL byte; remove it", code="tags")
    if len(value) > MAX_TAGS or any(len(x) > MAX_TAG_LENGTH for x in value):
        raise ValidationError(f"at most {MAX_TAGS} entries of at most {MAX_TAG_LENGTH} characters",
                              code="tags")


class Domain(models.Model):
    """A domain of the outcomes framework (e.g. 'Children are safe in and outside their homes')."""

    slug = models.SlugField(unique=True, max_length=80)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class Outcome(models.Model):
    """An outcome children and families care about, with the direction that counts as better."""

    INCREASE, DECREASE = "increase", "decrease"
    DIRECTIONS = [(INCREASE, "an increase is better"), (DECREASE, "a decrease is better")]

    slug = models.SlugField(unique=True, max_length=80)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="outcomes")
    direction = models.CharField(max_length=10, choices=DIRECTIONS)
    measures = models.TextField(blank=True, help_text="typical measures, one per line")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["domain__order", "order", "name"]

    def __str__(self) -> str:
        return self.name


class Review(models.Model):
    """A systematic review the evidence comes from, with its AMSTAR 2 appraisal."""

    AMSTAR2 = [("high", "High"), ("moderate", "Moderate"), ("low", "Low"),
               ("critically low", "Critically low")]

    key = models.SlugField(unique=True, max_length=120)
    citation = models.TextField()
    year = models.PositiveIntegerField(null=True, blank=True, validators=[validate_year])
    amstar2 = models.CharField(max_length=20, choices=AMSTAR2, blank=True)
    url = models.URLField(blank=True)

    def __str__(self) -> str:
        return self.citation[:80]


class Intervention(models.Model):
    """A way of working with children and families, summarised for practitioners and leaders."""

    DRAFT, PUBLISHED = "draft", "published"
    STATUSES = [(DRAFT, "Draft"), (PUBLISHED, "Published")]
    COST_BANDS = [(1, "under £100"), (2, "£100–£499"), (3, "£500–£999"), (4, "£1,000–£2,000"),
                  (5, "over £2,000")]

    slug = models.SlugField(unique=True, max_length=120)
    name = models.CharField(max_length=200)
    aliases = models.JSONField(default=list, blank=True,
                               help_text="other names and abbreviations readers search for (FGC, MST)")
    status = models.CharField(max_length=10, choices=STATUSES, default=DRAFT, db_index=True)
    summary = models.TextField()
    what_it_is = models.TextField(blank=True)
    how_it_works = models.TextField(blank=True)
    who_it_is_for = models.TextField(blank=True)
    population = models.JSONField(default=list, blank=True, validators=[validate_tags])
    setting = models.JSONField(default=list, blank=True, validators=[validate_tags])
    where_studied = models.JSONField(default=list, blank=True, validators=[validate_tags])
    uk_evidence = models.BooleanField(default=False)
    evidence_gap = models.BooleanField(
        default=False, verbose_name="evidence gap",
        help_text="published to say there is no study with outcomes yet: tick only when no "
                  "finding has an effect size (publishing refuses a marked intervention that has "
                  "one)")
    who_delivers = models.TextField(blank=True)
    training_and_supervision = models.TextField(blank=True)
    fidelity = models.TextField(blank=True)
    what_supports_it = models.TextField(blank=True)
    unit_cost_gbp = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True,
                                        validators=[MinValueValidator(0)])
    cost_band = models.PositiveSmallIntegerField(choices=COST_BANDS, null=True, blank=True,
                                                 db_index=True)
    cost_notes = models.TextField(blank=True)
    caveats = models.TextField(blank=True)
    review = models.ForeignKey(Review, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="interventions")
    search_text = models.TextField(blank=True, editable=False)
    last_reviewed = models.DateField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("store:intervention", args=[self.slug])

    def save(self, *args, **kwargs):
        self.cost_band = cost_band(self.unit_cost_gbp)
        self.search_text = " ".join(
            str(x) for x in (self.name, " ".join(self.aliases or []), self.summary, self.what_it_is,
                             self.how_it_works, self.who_it_is_for, " ".join(self.population or []),
                             " ".join(self.setting or []))).lower()
        super().save(*args, **kwargs)


def cost_band(unit_cost) -> int | None:
    """The 1-5 cost band of a unit cost in pounds."""
    if unit_cost is None:
        return None
    cost = float(unit_cost)
    for band, upper in ((1, 100), (2, 500), (3, 1000), (4, 2000.000001)):
        if cost < upper:
            return band
    return 5


class SlugRedirect(models.Model):
    """An old slug of a renamed intervention, so its URL keeps working."""

    old_slug = models.SlugField(unique=True, max_length=120)
    intervention = models.ForeignKey(Intervention, on_delete=models.CASCADE,
                                     related_name="old_slugs")


class Study(models.Model):
    """One evaluation: its design, sample and appraisal."""

    DESIGNS = [("rct", "Randomised controlled trial"), ("cluster-rct", "Cluster randomised trial"),
               ("qed", "Quasi-experimental design"), ("cohort", "Cohort study"),
               ("pre-post", "Pre-post study")]
    RISK_OF_BIAS = [("low", "Low"), ("some concerns", "Some concerns"), ("high", "High")]
    SOURCES = [("review", "A systematic review"), ("trial", "A trial in this system"),
               ("manual", "Entered by an editor")]

    key = models.SlugField(unique=True, max_length=120)
    citation = models.TextField()
    year = models.PositiveIntegerField(null=True, blank=True, validators=[validate_year])
    design = models.CharField(max_length=20, choices=DESIGNS, db_index=True)
    country = models.CharField(max_length=80, blank=True, db_index=True)
    sample_size = models.PositiveIntegerField(null=True, blank=True,
                                              validators=[validate_sample_size])
    unit_of_randomisation = models.CharField(max_length=40, blank=True)
    follow_up_months = models.FloatField(null=True, blank=True, validators=[validate_follow_up])
    risk_of_bias = models.CharField(max_length=20, choices=RISK_OF_BIAS, blank=True)
    source = models.CharField(max_length=10, choices=SOURCES, default="manual")
    illustrative = models.BooleanField(default=False)
    intervention = models.ForeignKey(Intervention, on_delete=models.CASCADE, related_name="studies")

    class Meta:
        ordering = ["year", "key"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.citation[:80]


class Finding(models.Model):
    """One effect: study x outcome x time point, the statistics as reported and the effect size
    computed from them by ``whatworks.effects``."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="findings")
    intervention = models.ForeignKey(Intervention, on_delete=models.CASCADE, related_name="findings")
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="findings")
    timepoint_months = models.FloatField(null=True, blank=True, validators=[validate_timepoint])
    measure = models.CharField(max_length=10)
    reported = models.JSONField(default=dict)
    yi = models.FloatField(null=True, blank=True)
    vi = models.FloatField(null=True, blank=True)
    illustrative = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["outcome__order", "study__year", "id"]
        indexes = [models.Index(fields=["intervention", "outcome"])]


class Synthesis(models.Model):
    """The cached meta-analysis of an intervention's findings on one outcome."""

    intervention = models.ForeignKey(Intervention, on_delete=models.CASCADE,
                                     related_name="syntheses")
    outcome = models.ForeignKey(Outcome, on_delete=models.CASCADE, related_name="syntheses")
    measure = models.CharField(max_length=10, blank=True)
    k = models.PositiveIntegerField(default=0)
    participants = models.PositiveIntegerField(null=True, blank=True)
    method = models.CharField(max_length=10, blank=True)
    estimate = models.FloatField(null=True, blank=True)
    ci_lower = models.FloatField(null=True, blank=True)
    ci_upper = models.FloatField(null=True, blank=True)
    pi_lower = models.FloatField(null=True, blank=True)
    pi_upper = models.FloatField(null=True, blank=True)
    tau2 = models.FloatField(null=True, blank=True)
    i2 = models.FloatField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    forest_svg = models.TextField(blank=True)
    computed = models.DateTimeField(auto_now=True)

    class Meta:
        unique_together = [("intervention", "outcome")]
        verbose_name_plural = "syntheses"


class Rating(models.Model):
    """Effectiveness and strength of evidence for an intervention on one outcome, computed by a
    versioned rating scheme, with the inputs it used and a plain-English explanation."""

    intervention = models.ForeignKey(Intervention, on_delete=models.CASCADE, related_name="ratings")
    outcome = models.ForeignKey(Outcome, on_delete=models.CASCADE, related_name="ratings")
    effectiveness = models.SmallIntegerField(null=True, blank=True, db_index=True)
    effectiveness_label = models.CharField(max_length=80)
    effectiveness_state = models.CharField(max_length=40, blank=True, db_index=True)
    strength = models.SmallIntegerField(null=True, blank=True, db_index=True)
    strength_label = models.CharField(max_length=80)
    scheme = models.CharField(max_length=80)
    scheme_version = models.CharField(max_length=20)
    inputs = models.JSONField(default=dict)
    explanation = models.TextField()
    statement = models.TextField(blank=True, help_text="the core's plain-language statement of what "
                                 "the numbers mean (natural frequencies, months' progress, better/worse)")
    crosswalk = models.JSONField(default=list, blank=True,
                                 help_text="nearest levels on other clearinghouses' scales")
    computed = models.DateTimeField()

    class Meta:
        unique_together = [("intervention", "outcome")]
        ordering = ["outcome__domain__order", "outcome__order"]

    @property
    def reading(self) -> str:
        """The effectiveness level in words a reader cannot misread: "better" or "worse" for the
        children or families (read with the outcome's direction), said beside the scheme's label."""
        if self.effectiveness is None:
            return ""
        why = f"on this outcome {self.outcome.get_direction_display()}"
        if self.effectiveness > 0:
            return f"Better ({why})"
        if self.effectiveness < 0:
            return f"Worse ({why})"
        return "No clear difference either way"


class RatingChange(models.Model):
    """One change in a rating: kept forever, shown on the intervention page."""

    intervention = models.ForeignKey(Intervention, on_delete=models.CASCADE,
                                     related_name="rating_changes")
    outcome = models.ForeignKey(Outcome, on_delete=models.CASCADE, related_name="rating_changes")
    when = models.DateTimeField()
    reason = models.TextField()
    old_effectiveness = models.CharField(max_length=80, blank=True)
    new_effectiveness = models.CharField(max_length=80)
    old_strength = models.CharField(max_length=80, blank=True)
    new_strength = models.CharField(max_length=80)
    scheme_version = models.CharField(max_length=20)
    explanation = models.TextField(blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-when", "-id"]


class ImportJob(models.Model):
    """An import running (or run) in the background, with its progress and outcome."""

    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATES = [(QUEUED, "Queued"), (RUNNING, "Running"), (DONE, "Done"), (FAILED, "Failed")]

    kind = models.CharField(max_length=10, choices=[("findings", "Findings CSV"),
                                                    ("store", "Store export")])
    filename = models.CharField(max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL)
    state = models.CharField(max_length=10, choices=STATES, default=QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    counts = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True, help_text=(
        "what the import left to be done, as the API's writes warn (imports.Imported.warnings)"))
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    @property
    def percent(self) -> int:
        if self.state == self.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def finished_or_failed(self) -> bool:
        return self.state in (self.DONE, self.FAILED)


class Draft(models.Model):
    """The pending changes to an intervention that readers can already see (or could before it was
    returned to draft): a JSON snapshot of the whole intervention (``store/drafts.py`` describes its
    shape). Editors write here; an administrator publishes it onto the live tables."""

    intervention = models.OneToOneField(Intervention, on_delete=models.CASCADE,
                                        related_name="pending_draft")
    snapshot = models.JSONField()
    base = models.JSONField(default=dict, blank=True,
                            help_text="the live state the snapshot was last rebased on")
    version = models.PositiveIntegerField(default=1, help_text="raised by every change to the draft")
    editors = models.JSONField(default=list, blank=True, help_text="usernames who changed it")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)


class Revision(models.Model):
    """A published revision of an intervention, kept forever: the snapshot that was made public,
    what changed from the one before, who published and who edited it."""

    intervention = models.ForeignKey(Intervention, on_delete=models.CASCADE,
                                     related_name="revisions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    diff = models.JSONField(default=dict, blank=True)
    summary = models.TextField(blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    editors = models.JSONField(default=list, blank=True)
    published = models.DateTimeField()

    class Meta:
        ordering = ["-number"]
        unique_together = [("intervention", "number")]


class FormSubmission(models.Model):
    """A one-time form token, recorded when its form is saved (in the same transaction as the
    write), so that Back-and-resubmit saves nothing twice."""

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    url = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)
