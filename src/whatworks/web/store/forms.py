"""Editors' forms. Reported statistics are validated by the core: a message per field."""

from __future__ import annotations

from django import forms

from whatworks.effects import EFFECT_ARGUMENTS, MEASURES, entry
from whatworks.errors import InputError

from . import services
from .models import Finding, Intervention, Outcome, Study, validate_timepoint

LIST_FIELDS = ("population", "setting", "where_studied")


class AccessibleErrors:
    """GOV.UK-style errors: every field with an error has ``aria-invalid`` and
    ``aria-describedby`` pointing at its message (and hint); the template's error summary links
    to each field (``editor/_error_summary.html``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._describe()

    def _describe(self):
        for name, field in self.fields.items():
            auto_id = self[name].auto_id
            ids = [f"{auto_id}-hint"] if field.help_text else []
            if self._errors and name in self._errors:  # never triggers validation itself
                ids.append(f"{auto_id}-error")
                field.widget.attrs["aria-invalid"] = "true"
            else:
                field.widget.attrs.pop("aria-invalid", None)
            if ids:
                field.widget.attrs["aria-describedby"] = " ".join(ids)

    def full_clean(self):
        super().full_clean()
        self._describe()

    def error_links(self) -> list[tuple[str, str]]:
        """(anchor, message) for the error summary, in the order of the fields."""
        links = [("", e) for e in self.non_field_errors()]
        for name in self.fields:
            if name in self.errors:
                bound = self[name]
                anchor = bound.id_for_label or bound.auto_id
                label = bound.label
                links.extend((anchor, f"{label}: {e}") for e in self.errors[name])
        return links


class InterventionForm(AccessibleErrors, forms.ModelForm):
    aliases = forms.CharField(required=False, help_text="other names and abbreviations readers "
                              "search for, comma-separated, e.g. FGC, family group conferences")
    population = forms.CharField(required=False, help_text="comma-separated, e.g. children in care")
    setting = forms.CharField(required=False, help_text="comma-separated, e.g. home, school")
    where_studied = forms.CharField(required=False, help_text="comma-separated countries")

    class Meta:
        model = Intervention
        fields = ["name", "slug", "aliases", "summary", "what_it_is", "how_it_works",
                  "who_it_is_for", "population", "setting", "where_studied", "uk_evidence",
                  "evidence_gap",
                  "who_delivers", "training_and_supervision", "fidelity", "what_supports_it",
                  "unit_cost_gbp", "cost_notes", "caveats", "review", "last_reviewed"]
        widgets = {f: forms.Textarea(attrs={"rows": 3}) for f in (
            "summary", "what_it_is", "how_it_works", "who_it_is_for", "who_delivers",
            "training_and_supervision", "fidelity", "what_supports_it", "cost_notes", "caveats")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("aliases", *LIST_FIELDS):
            value = self.initial.get(name)
            if isinstance(value, list):
                self.initial[name] = ", ".join(value)

    def _list(self, name):
        return [part.strip() for part in self.cleaned_data.get(name, "").split(",") if part.strip()]

    def clean_aliases(self):
        from .models import validate_tags

        aliases = self._list("aliases")
        try:
            validate_tags(aliases)
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return aliases

    def clean_population(self):
        return self._list("population")

    def clean_setting(self):
        return self._list("setting")

    def clean_where_studied(self):
        return self._list("where_studied")


class StudyForm(AccessibleErrors, forms.ModelForm):
    class Meta:
        model = Study
        fields = ["key", "citation", "year", "design", "country", "sample_size",
                  "unit_of_randomisation", "follow_up_months", "risk_of_bias", "source",
                  "illustrative"]
        widgets = {"citation": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"year": "between 1900 and next year",
                      "sample_size": "from 1 to 10,000,000",
                      "follow_up_months": "from 0 to 600 months"}


def _measure_choices():
    common = [(code, spec.label) for code, spec in entry.ENTRY_MEASURES.items()]
    other = [(code, entry.measure_label(code)) for code in MEASURES
             if code not in entry.ENTRY_MEASURES]
    return [("", "Choose the effect measure"), ("Effect measures", common),
            ("Other measures (metafor's escalc names)", other)]


#: The legacy entry ("other") keeps metafor's argument names as its field names, so a POST of
#: ai, bi, ci, di with a measure (and no reported_as) still works.
OTHER_ARGUMENTS = tuple(a for a in EFFECT_ARGUMENTS if a != "sign")


class EntryGroup:
    """One entry of the registry with its bound fields, for the template."""

    def __init__(self, spec, fields):
        self.key, self.label, self.measures = spec.key, spec.label, spec.measures
        self.fields = fields


class FindingForm(AccessibleErrors, forms.Form):
    """A finding: which study and outcome, what the study reports (in words), the effect
    measure (in words), and only that entry's fields with plain labels; optionally the inputs of
    a cluster adjustment. Groups, labels and the arithmetic all come from
    ``whatworks.effects.entry``; every group is rendered (JavaScript hides those not chosen)."""

    study = forms.ModelChoiceField(queryset=Study.objects.none(), to_field_name="key")
    outcome = forms.ModelChoiceField(queryset=Outcome.objects.all(), to_field_name="slug")
    reported_as = forms.ChoiceField(
        required=False, widget=forms.RadioSelect, label="What does the study report?",
        choices=[(key, spec.label) for key, spec in entry.REPORTED_AS.items()])
    measure = forms.ChoiceField(choices=_measure_choices, label="Which effect measure?",
                                help_text="the measure the review uses for this outcome")
    timepoint_months = forms.FloatField(required=False, label="Time point (months after start)",
                                        help_text="from 0 to 600 months",
                                        validators=[validate_timepoint])
    illustrative = forms.BooleanField(required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, intervention: Intervention, **kwargs):
        super().__init__(*args, **kwargs)
        self.intervention = intervention
        self.fields["study"].queryset = intervention.studies.all()
        if not self.is_bound and not self.initial.get("reported_as"):
            self.initial["reported_as"] = "counts"
        for key in ("estimate_ci", "estimate_se"):
            self.initial.setdefault(self.field_name(key, "entered_as"), "ratio")
        for key, spec in entry.REPORTED_AS.items():
            for f in spec.fields:
                self.fields[self.field_name(key, f.name)] = _form_field(f)
        for name in OTHER_ARGUMENTS:
            self.fields[name] = forms.FloatField(required=False, label=name,
                                                 widget=forms.NumberInput(attrs={"step": "any"}))
        for f in entry.CLUSTER_FIELDS.values():
            self.fields[f.name] = _form_field(f)
        self.effect = None
        self.entered = None
        self.preview = None
        self._describe()

    @staticmethod
    def field_name(key: str, argument: str) -> str:
        """The form field of an entry's argument: ``counts-ai``; the "other" entry's are bare."""
        return argument if key == "other" else f"{key}-{argument}"

    def kind(self) -> str:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return data.get("reported_as") or "other"

    def _arguments(self, key: str) -> tuple[str, ...]:
        return OTHER_ARGUMENTS if key == "other" else entry.REPORTED_AS[key].names

    @property
    def stat_fields(self):
        return [self[name] for name in OTHER_ARGUMENTS]

    @property
    def entry_groups(self) -> list[EntryGroup]:
        return [EntryGroup(spec, [self[self.field_name(key, a)] for a in self._arguments(key)])
                for key, spec in entry.REPORTED_AS.items()]

    @property
    def cluster_fields(self):
        return [self[name] for name in entry.CLUSTER_FIELDS]

    @property
    def ratio_measures(self) -> str:
        return " ".join(code for code, spec in entry.ENTRY_MEASURES.items() if spec.ratio)

    def reported(self) -> dict:
        data = self.cleaned_data
        key = self.kind()
        out = {}
        spec = entry.ENTRY_MEASURES.get(data.get("measure"))
        for argument in self._arguments(key):
            if argument == "entered_as" and not (spec and spec.ratio):
                continue  # the choice is only about ratios (its hint says so)
            value = data.get(self.field_name(key, argument))
            if value is not None and value != "":
                out[argument] = value
        for name in entry.CLUSTER_FIELDS:
            value = data.get(name)
            if value is not None and value != "" and value != []:
                out[name] = value
        return out

    def _clean_sizes(self, name):
        value = self.cleaned_data.get(name, "")
        if not value:
            return None
        try:
            return entry.parse_sizes(value, name)
        except InputError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_cluster_sizes1(self):
        return self._clean_sizes("cluster_sizes1")

    def clean_cluster_sizes2(self):
        return self._clean_sizes("cluster_sizes2")

    def _target(self, argument: str) -> str | None:
        key = self.kind()
        if argument in self._arguments(key):
            return self.field_name(key, argument)
        return argument if argument in ("measure", "reported_as", *entry.CLUSTER_FIELDS) else None

    def clean(self):
        cleaned = super().clean()
        measure = cleaned.get("measure")
        key = self.kind()
        own = {self.field_name(key, a) for a in self._arguments(key)} | set(entry.CLUSTER_FIELDS)
        # the effect is computed (and previewed) even when, say, the study is missing; not when
        # one of its own fields already has a message
        if measure and not own & set(self.errors) and "reported_as" not in self.errors:
            try:
                self.entered = services.enter_effect(
                    measure, self.reported(), reported_as=None if key == "other" else key)
            except services.FindingInputError as exc:
                for argument, messages in exc.fields.items():
                    for message in messages:
                        self.add_error(self._target(argument), message)
            else:
                self.effect = (self.entered.yi, self.entered.vi)
                self.preview = services.preview_effect(self.entered, cleaned.get("outcome"))
        else:
            self.entered = self.effect = self.preview = None
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
        reported = dict(finding.reported or {})
        key = entry.reported_as_of(finding.measure, reported)
        if key == "counts" and "bi" in reported and "di" in reported:
            # the form asks for group sizes: n = with + without (escalc's own identity)
            bi, di = reported.pop("bi"), reported.pop("di")
            reported.update(n1i=reported["ai"] + bi, n2i=reported["ci"] + di)
        initial["reported_as"] = key
        for name, value in reported.items():
            if name in entry.CLUSTER_FIELDS:
                initial[name] = (", ".join(f"{x:g}" for x in value) if isinstance(value, list)
                                 else value)
            else:
                initial[cls.field_name(key, name)] = value
        return initial


def _form_field(f) -> forms.Field:
    """A form field for a registry field (labels and hints are the registry's)."""
    if f.kind == "choice":
        return forms.ChoiceField(required=False, label=f.label, help_text=f.hint,
                                 choices=list(f.choices), widget=forms.RadioSelect)
    if f.kind == "sizes":
        return forms.CharField(required=False, label=f.label, help_text=f.hint,
                               widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    return forms.FloatField(required=False, label=f.label, help_text=f.hint,
                            widget=forms.NumberInput(attrs={"step": "any"}))


class _Upload(AccessibleErrors, forms.Form):
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

    @property
    def entries(self):
        """What each kind of finding needs as CSV columns (the registry's, for the import page)."""
        rows = []
        for spec in entry.REPORTED_AS.values():
            if spec.key == "other":
                continue
            rows.append({"label": spec.label,
                         "measures": [(code, entry.measure_label(code)) for code in spec.measures],
                         "fields": [(f.name, f.label + ("" if f.required else " (optional)"))
                                    for f in spec.fields]})
        return rows

    @property
    def cluster_columns(self):
        return [(f.name, f.label) for f in entry.CLUSTER_FIELDS.values()]


class StoreUploadForm(_Upload):
    file = forms.FileField(label="Store export (JSON, or the zip of CSV tables)")
