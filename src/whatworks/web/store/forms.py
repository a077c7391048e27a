"""Editors' forms. Reported statistics are validated by the core: a message per field."""

from __future__ import annotations

from django import forms

from whatworks.effects import EFFECT_ARGUMENTS, MEASURES

from . import services
from .models import MAX_MONTHS, Finding, Intervention, Outcome, Study

LIST_FIELDS = ("population", "setting", "where_studied")


class InterventionForm(forms.ModelForm):
    population = forms.CharField(required=False, help_text="comma-separated, e.g. children in care")
    setting = forms.CharField(required=False, help_text="comma-separated, e.g. home, school")
    where_studied = forms.CharField(required=False, help_text="comma-separated countries")

    class Meta:
        model = Intervention
        fields = ["name", "slug", "summary", "what_it_is", "how_it_works", "who_it_is_for",
                  "population", "setting", "where_studied", "uk_evidence", "who_delivers",
                  "training_and_supervision", "fidelity", "what_supports_it", "unit_cost_gbp",
                  "cost_notes", "caveats", "review", "last_reviewed"]
        widgets = {f: forms.Textarea(attrs={"rows": 3}) for f in (
            "summary", "what_it_is", "how_it_works", "who_it_is_for", "who_delivers",
            "training_and_supervision", "fidelity", "what_supports_it", "cost_notes", "caveats")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in LIST_FIELDS:
            value = self.initial.get(name)
            if isinstance(value, list):
                self.initial[name] = ", ".join(value)

    def _list(self, name):
        return [part.strip() for part in self.cleaned_data.get(name, "").split(",") if part.strip()]

    def clean_population(self):
        return self._list("population")

    def clean_setting(self):
        return self._list("setting")

    def clean_where_studied(self):
        return self._list("where_studied")


class StudyForm(forms.ModelForm):
    class Meta:
        model = Study
        fields = ["key", "citation", "year", "design", "country", "sample_size",
                  "unit_of_randomisation", "follow_up_months", "risk_of_bias", "source",
                  "illustrative"]
        widgets = {"citation": forms.Textarea(attrs={"rows": 2})}


class FindingForm(forms.Form):
    """A finding: which study and outcome, the measure, and the statistics as reported."""

    study = forms.ModelChoiceField(queryset=Study.objects.none(), to_field_name="key")
    outcome = forms.ModelChoiceField(queryset=Outcome.objects.all(), to_field_name="slug")
    measure = forms.ChoiceField(choices=[(m, f"{m}: {spec.description}")
                                         for m, spec in MEASURES.items()])
    timepoint_months = forms.FloatField(required=False, min_value=0, max_value=MAX_MONTHS,
                                        label="Time point (months after start)")
    illustrative = forms.BooleanField(required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, intervention: Intervention, **kwargs):
        super().__init__(*args, **kwargs)
        self.intervention = intervention
        self.fields["study"].queryset = intervention.studies.all()
        for name in EFFECT_ARGUMENTS:
            if name == "sign":
                continue
            self.fields[name] = forms.FloatField(required=False, label=name,
                                                 widget=forms.NumberInput(attrs={"step": "any"}))
        self.effect = None

    @property
    def stat_fields(self):
        return [self[name] for name in EFFECT_ARGUMENTS if name in self.fields]

    def reported(self) -> dict:
        return {name: self.cleaned_data[name] for name in EFFECT_ARGUMENTS
                if name in self.cleaned_data and self.cleaned_data[name] is not None}

    def clean(self):
        cleaned = super().clean()
        measure = cleaned.get("measure")
        if measure and not self.errors:
            try:
                self.effect = services.compute_effect(measure, self.reported())
            except services.FindingInputError as exc:
                for field, messages in exc.fields.items():
                    target = field if field in self.fields else None
                    for message in messages:
                        self.add_error(target, message)
        return cleaned

    def to_finding(self, finding: Finding | None = None) -> Finding:
        finding = finding or Finding(intervention=self.intervention)
        data = self.cleaned_data
        finding.study, finding.outcome, finding.measure = data["study"], data["outcome"], data["measure"]
        finding.timepoint_months = data.get("timepoint_months")
        finding.illustrative = data.get("illustrative", False)
        finding.notes = data.get("notes", "")
        finding.reported = self.reported()
        return finding

    @classmethod
    def initial_from(cls, finding: Finding) -> dict:
        initial = {"study": finding.study.key, "outcome": finding.outcome.slug,
                   "measure": finding.measure, "timepoint_months": finding.timepoint_months,
                   "illustrative": finding.illustrative, "notes": finding.notes}
        initial.update(finding.reported)
        return initial


class _Upload(forms.Form):
    def clean_file(self):
        from django.conf import settings

        upload = self.cleaned_data["file"]
        limit = settings.WHATWORKS_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(f"is {upload.size:,} bytes; imports are limited to "
                                        f"{limit:,} (WHATWORKS_IMPORT_MAX_BYTES); split the file")
        return upload


class FindingsUploadForm(_Upload):
    file = forms.FileField(label="Findings CSV",
                           help_text="columns: study, outcome, measure, timepoint_months and the "
                                     "reported statistics (ai, bi, ci, di, n1i, n2i, m1i, sd1i, ...)")


class StoreUploadForm(_Upload):
    file = forms.FileField(label="Store export (JSON, or the zip of CSV tables)")
