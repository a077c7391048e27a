"""JSON shapes of the store's resources. Input is strict: numbers are numbers (never true/false),
finite and in range; list fields are lists of strings; text is text."""

from __future__ import annotations

import math

from django.db import models
from rest_framework import serializers

from ..store.models import Finding, ImportJob, Intervention, Outcome, Rating, Study, Synthesis
from ..store.services import FindingInputError, compute_effect


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """Text only: a number, list or object is refused rather than turned into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictModelSerializer(serializers.ModelSerializer):
    """Refuses fields it does not know (a typo or a field that cannot be written this way is an
    error, never silently dropped); read-only fields sent back unchanged are ignored as usual."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.FloatField: StrictFloatField,
        models.IntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
        models.SmallIntegerField: StrictIntegerField,
        models.BigIntegerField: StrictIntegerField,
        models.DecimalField: StrictDecimalField,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.SlugField: serializers.SlugField,
    }
    unknown_hints = {"status": "publication status changes only through "
                               "POST /api/interventions/{slug}/publish (administrators)"}

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = [k for k in data if k not in self.fields]
            if unknown:
                raise serializers.ValidationError({k: [self.unknown_hints.get(
                    k, f"unknown field; fields are {', '.join(self.fields)}")] for k in unknown})
        return super().to_internal_value(data)


def tag_list(help_text: str):
    from ..store.models import MAX_TAG_LENGTH, MAX_TAGS

    return serializers.ListField(child=StrictCharField(max_length=MAX_TAG_LENGTH), required=False,
                                 max_length=MAX_TAGS, help_text=help_text)


class OutcomeSerializer(serializers.ModelSerializer):
    domain = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    domain_name = serializers.CharField(source="domain.name", read_only=True)

    class Meta:
        model = Outcome
        fields = ["slug", "name", "description", "direction", "domain", "domain_name", "measures"]


class RatingSerializer(serializers.ModelSerializer):
    outcome = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    outcome_name = serializers.CharField(source="outcome.name", read_only=True)
    intervention = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Rating
        fields = ["intervention", "outcome", "outcome_name", "effectiveness", "effectiveness_label",
                  "effectiveness_state", "strength", "strength_label", "scheme", "scheme_version",
                  "statement", "explanation", "inputs", "computed"]


class RatingBriefSerializer(RatingSerializer):
    class Meta(RatingSerializer.Meta):
        fields = ["outcome", "outcome_name", "effectiveness", "effectiveness_label",
                  "effectiveness_state", "strength", "strength_label", "statement", "explanation"]


class InterventionListSerializer(serializers.ModelSerializer):
    ratings = RatingBriefSerializer(many=True, read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Intervention
        fields = ["slug", "name", "aliases", "status", "summary", "cost_band", "uk_evidence",
                  "evidence_gap", "ratings", "url"]

    def get_url(self, obj) -> str:
        return obj.get_absolute_url()


class DraftFlag(serializers.BooleanField):
    """True when a write went to the intervention's draft (published interventions change only when
    an administrator publishes: POST /api/interventions/{slug}/publish)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, help_text=(
            "true when this is the intervention's draft's version (a change saved to the draft, "
            "or an editor's read of a study or finding only the draft has): readers see it only "
            "after an administrator publishes (POST /api/interventions/{slug}/publish)"), **kwargs)

    def get_attribute(self, instance):
        return bool(getattr(instance, "_draft", False))


class DraftAwareStudyField(serializers.SlugRelatedField):
    """A study by key: a live one, or one a pending draft adds (an unsaved ``Study``)."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            from ..store import drafts

            found = drafts.new_study(data) if isinstance(data, str) else None
            if found is None:
                raise
            intervention, item = found
            study = drafts.study_object(intervention, item)
            study._ref = item["ref"]
            return study


class StudySerializer(StrictModelSerializer):
    intervention = serializers.SlugRelatedField(slug_field="slug",
                                                queryset=Intervention.objects.all())
    draft = DraftFlag()

    class Meta:
        model = Study
        fields = ["key", "citation", "year", "design", "country", "sample_size",
                  "unit_of_randomisation", "follow_up_months", "risk_of_bias", "source",
                  "illustrative", "intervention", "draft"]


class SynthesisSerializer(serializers.ModelSerializer):
    intervention = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    outcome = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Synthesis
        fields = ["intervention", "outcome", "measure", "k", "participants", "method", "estimate",
                  "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "result",
                  "computed"]


class InterventionDetailSerializer(InterventionListSerializer):
    studies = StudySerializer(many=True, read_only=True)
    syntheses = SynthesisSerializer(many=True, read_only=True)
    review = serializers.SerializerMethodField()

    class Meta(InterventionListSerializer.Meta):
        fields = InterventionListSerializer.Meta.fields + [
            "what_it_is", "how_it_works", "who_it_is_for", "population", "setting",
            "where_studied", "who_delivers", "training_and_supervision", "fidelity",
            "what_supports_it", "unit_cost_gbp", "cost_notes", "caveats", "last_reviewed",
            "review", "studies", "syntheses"]

    def get_review(self, obj) -> dict | None:
        if obj.review is None:
            return None
        return {"key": obj.review.key, "citation": obj.review.citation,
                "amstar2": obj.review.amstar2, "url": obj.review.url}


class InterventionWriteSerializer(StrictModelSerializer):
    aliases = tag_list("other names and abbreviations readers search for, e.g. [\"FGC\"]")
    population = tag_list("who it is for, e.g. [\"children in care\"]")
    setting = tag_list("where it is delivered, e.g. [\"home\", \"school\"]")
    where_studied = tag_list("countries it was studied in")
    draft = DraftFlag()

    class Meta:
        model = Intervention
        fields = ["slug", "name", "aliases", "summary", "what_it_is", "how_it_works",
                  "who_it_is_for", "population", "setting", "where_studied", "uk_evidence", "evidence_gap",
                  "who_delivers",
                  "training_and_supervision", "fidelity", "what_supports_it", "unit_cost_gbp",
                  "cost_notes", "caveats", "last_reviewed", "draft"]


def _reported_help() -> str:
    """The reported statistics a finding takes, from the core's entry registry."""
    from whatworks.effects.entry import CLUSTER_FIELDS, REPORTED_AS

    entries = "; ".join(f"{r.label}: {', '.join(r.names)} (measure {' or '.join(r.measures)})"
                        for r in REPORTED_AS.values() if r.key != "other")
    cluster = ", ".join(f"{f.name} ({f.label})" for f in CLUSTER_FIELDS.values())
    return (f"The statistics as the study reports them, by name. {entries}; or any measure's "
            f"metafor escalc arguments. entered_as is \"ratio\" or \"log\" (how a ratio "
            f"estimate is written). A cluster trial analysed as if individually randomised adds "
            f"{cluster}: the effect is adjusted (Hedges 2007 for SMD, the design effect otherwise).")


class FindingSerializer(StrictModelSerializer):
    study = DraftAwareStudyField(slug_field="key", queryset=Study.objects.all())
    intervention = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    outcome = serializers.SlugRelatedField(slug_field="slug", queryset=Outcome.objects.all())
    draft = DraftFlag()

    class Meta:
        model = Finding
        fields = ["id", "study", "intervention", "outcome", "timepoint_months", "measure",
                  "reported", "yi", "vi", "illustrative", "notes", "draft"]
        read_only_fields = ["id", "yi", "vi", "intervention"]
        extra_kwargs = {"reported": {"help_text": _reported_help()}}

    def validate_reported(self, value):
        def number(v):
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        def ok(name, v):
            if name == "entered_as":
                return v in ("ratio", "log")
            if name in ("cluster_sizes1", "cluster_sizes2"):
                return isinstance(v, list) and all(number(x) for x in v)
            return number(v)

        if not isinstance(value, dict) or not all(ok(k, v) for k, v in value.items()):
            raise serializers.ValidationError(
                'must be an object of numbers, e.g. {"ai": 12, "n1i": 100, "ci": 20, "n2i": 100} '
                '(entered_as is "ratio" or "log"; cluster_sizes1 and cluster_sizes2 are lists of '
                'numbers)')
        return value

    def validate(self, attrs):
        measure = attrs.get("measure", getattr(self.instance, "measure", None))
        reported = attrs.get("reported", getattr(self.instance, "reported", None))
        try:
            compute_effect(measure, reported)
        except FindingInputError as exc:
            raise serializers.ValidationError(exc.fields) from None
        return attrs


class ImportRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["findings", "store"],
                                   help_text="findings: a findings CSV; store: a store export "
                                             "(JSON or the zip of CSV tables)")
    file = serializers.FileField()


class DraftRemovalSerializer(serializers.Serializer):
    draft = serializers.BooleanField(help_text="always true: the removal waits in the draft")
    id = serializers.IntegerField(help_text="the finding's id")
    message = serializers.CharField()


class PublicationSerializer(serializers.Serializer):
    slug = serializers.CharField()
    status = serializers.CharField()
    revision = serializers.IntegerField(help_text="the number of the revision now published")
    summary = serializers.CharField(help_text="what changed from the revision before")


class PendingDraftSerializer(serializers.Serializer):
    slug = serializers.CharField()
    version = serializers.IntegerField(help_text="raised by every change to the draft")
    editors = serializers.ListField(child=serializers.CharField())
    updated = serializers.DateTimeField()
    summary = serializers.CharField(help_text="what publishing would change, in one line")
    diff = serializers.DictField(help_text="fields, studies and findings added, changed and "
                                           "removed, and the ratings per outcome now and after "
                                           "publishing (old/new effectiveness and strength "
                                           "labels and statement)")
    snapshot = serializers.DictField(help_text="the draft: fields, studies and findings")


WARNINGS_HELP = (
    "What the write left to be done, from the same rules as the editor's forms (always present on "
    "a write's answer; empty when nothing is wrong). Code gap_conflict: the intervention is marked "
    "as an evidence gap (field evidence_gap) and, with this write, has a finding with an effect "
    "size; the write is kept (in a draft or an unpublished intervention) and the intervention "
    "cannot be published until evidence_gap is set to false or the finding removed. Codes may be "
    "added; a client should show the message of any code it does not know.")


class WriteWarningSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="what kind of warning, e.g. gap_conflict")
    field = serializers.CharField(help_text="the field the warning is about, e.g. evidence_gap")
    intervention = serializers.CharField(help_text="the slug of the intervention it is about")
    message = serializers.CharField(help_text="the warning in words, naming the field and the fix")


IMPORT_WARNINGS_HELP = (
    "When the import is done: on every intervention it touched (a findings CSV: its studies' "
    "interventions; a store export: the interventions in the file and those whose studies or "
    "findings it wrote), as editors now see it (its draft, if any), the warnings a write's answer "
    "gives (see warnings on POST /api/findings); empty when nothing is wrong, and while the "
    "import is queued, running or failed. Code gap_conflict: the intervention is marked as an "
    "evidence gap (evidence_gap) and has a finding with an effect size; the import is kept and "
    "publishing is refused until evidence_gap is set to false or the finding removed.")


class ImportJobSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    percent = serializers.IntegerField(read_only=True)
    warnings = WriteWarningSerializer(many=True, read_only=True, help_text=IMPORT_WARNINGS_HELP)

    class Meta:
        model = ImportJob
        fields = ["id", "kind", "filename", "user", "state", "done", "total", "percent", "message",
                  "counts", "created", "finished", "warnings"]


def _written(serializer_class, name: str):
    """``serializer_class`` as a write's answer: its fields and ``warnings`` (for the OpenAPI
    document; the views add the list to the answer, ``api.views.ETagMixin``)."""
    meta = type("Meta", (serializer_class.Meta,),
                {"fields": [*serializer_class.Meta.fields, "warnings"]})
    return type(name, (serializer_class,), {
        "warnings": WriteWarningSerializer(many=True, read_only=True, help_text=WARNINGS_HELP),
        "Meta": meta, "__doc__": serializer_class.__doc__})


InterventionWrittenSerializer = _written(InterventionWriteSerializer, "InterventionWrittenSerializer")
StudyWrittenSerializer = _written(StudySerializer, "StudyWrittenSerializer")
FindingWrittenSerializer = _written(FindingSerializer, "FindingWrittenSerializer")
