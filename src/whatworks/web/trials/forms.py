"""Editors' forms for projects, criteria, results, decisions and trial records; the power calculator."""

from __future__ import annotations

import json

from django import forms

from whatworks.errors import WhatWorksError
from whatworks.trials.design import DESIGNS, PARAMETERS
from whatworks.trials.programme import SCALES
from whatworks.trials.programme import Criterion as CoreCriterion

from .models import RESERVED_SLUGS, Criterion, Decision, Evaluation, Project, Trial


class ProjectForm(forms.ModelForm):
    partners_text = forms.CharField(label="Partner local authorities", help_text="separated by commas")

    class Meta:
        model = Project
        fields = ["slug", "name", "summary", "stage", "budget_gbp", "budget_illustrative", "intervention"]
        labels = {"budget_gbp": "Budget (£)", "budget_illustrative": "Budget is illustrative"}
        widgets = {"summary": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["partners_text"].initial = ", ".join(self.instance.partners)

    def save(self, commit=True):
        self.instance.partners = [
            p.strip() for p in self.cleaned_data["partners_text"].split(",") if p.strip()
        ]
        return super().save(commit)


class CriterionForm(forms.ModelForm):
    link_trial = forms.SlugField(label="Linked trial (its registry slug)", required=False,
                                 help_text="leave empty unless a trial's result answers this criterion")
    link_outcome = forms.CharField(label="Linked outcome (as named in the trial's results)", required=False)
    link_field = forms.CharField(label="Linked field", required=False, initial="estimate",
                                 help_text="e.g. estimate, ci_upper, ratio.estimate, effect_size.g")
    link_scale = forms.ChoiceField(label="Linked scale", choices=list(SCALES.items()), initial="as-is",
                                   required=False)

    class Meta:
        model = Criterion
        fields = [
            "measure",
            "label",
            "stage",
            "direction",
            "green",
            "red",
            "unit",
            "value",
            "source",
            "illustrative",
        ]

    def __init__(self, *args, project=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean(self):
        data = super().clean()
        try:  # the core's own rule for the thresholds' order
            CoreCriterion(
                data.get("measure") or "m",
                data.get("label") or "",
                green=data["green"],
                red=data["red"],
                direction=data.get("direction") or "higher",
            )
        except (KeyError, TypeError):
            pass  # the fields' own errors are shown
        except WhatWorksError as e:
            raise forms.ValidationError(str(e).split(": ", 1)[-1]) from None
        if (
            self.project
            and Criterion.objects.filter(project=self.project, measure=data.get("measure")).exists()
        ):
            self.add_error("measure", "this project already has a criterion with this measure")
        if data.get("link_trial") and not data.get("link_outcome"):
            self.add_error("link_outcome", "name the trial's outcome whose result answers this criterion")
        return data

    def save(self, commit=True):
        d = self.cleaned_data
        if d.get("link_trial"):
            self.instance.from_result = {"trial": d["link_trial"], "outcome": d["link_outcome"],
                                         "field": d.get("link_field") or "estimate",
                                         "scale": d.get("link_scale") or "as-is"}
        return super().save(commit)


class ResultForm(forms.ModelForm):
    class Meta:
        model = Criterion
        fields = ["value", "source"]
        labels = {"value": "Result"}


class DecisionForm(forms.ModelForm):
    class Meta:
        model = Decision
        fields = ["outcome", "from_stage", "to_stage", "decided_by", "decided_on", "reason", "illustrative"]
        widgets = {
            "decided_on": forms.DateInput(attrs={"type": "date"}),
            "reason": forms.Textarea(attrs={"rows": 3}),
        }


class EvaluationForm(forms.ModelForm):
    class Meta:
        model = Evaluation
        fields = ["key", "title", "stage", "design", "status", "summary", "trial", "illustrative"]
        widgets = {"summary": forms.Textarea(attrs={"rows": 3})}


class TrialForm(forms.ModelForm):
    record_json = forms.CharField(
        label="Trial record (JSON)",
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="the shape documented in whatworks.trials.record; id and title are "
        "taken from the fields above",
    )
    plan = forms.FileField(
        label="Analysis plan file",
        required=False,
        help_text="its SHA-256 is checked against analysis_plan.sha256 when that is given",
    )

    class Meta:
        model = Trial
        fields = ["slug", "title", "project", "status"]

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"'{slug}' is reserved for a page; choose another")
        return slug

    def clean(self):
        from whatworks.trials.consort import flow_from_record
        from whatworks.trials.record import record_from_dict

        data = super().clean()
        try:
            record = json.loads(data.get("record_json") or "")
        except json.JSONDecodeError as e:
            self.add_error("record_json", f"not valid JSON: {e.msg} at line {e.lineno}")
            return data
        if not isinstance(record, dict):
            self.add_error("record_json", "the record must be a JSON object")
            return data
        record.update(id=data.get("slug") or "", title=data.get("title") or "")
        plan = data.get("plan")
        self.plan_bytes = plan.read() if plan else None
        try:
            rec = record_from_dict(record, source="the record")
            if rec.get("flow") is not None:
                flow_from_record(rec)
            rec.analysis_plan_hash(self.plan_bytes) if self.plan_bytes is not None else None
        except WhatWorksError as e:
            self.add_error("record_json", str(e))
        self.record = record
        return data

    def save(self, commit=True):
        self.instance.record = self.record
        self.instance.analysis_plan = self.plan_bytes
        return super().save(commit)


SOLVE_CHOICES = [
    ("mdes", "minimum detectable effect size (MDES)"),
    ("power", "power"),
    ("n", "sample size n"),
    ("J", "sample size J"),
    ("K", "sample size K"),
    ("L", "sample size L"),
]
PARAM_ORDER = (
    "n",
    "J",
    "K",
    "L",
    "p",
    "rho2",
    "rho3",
    "rho4",
    "omega2",
    "omega3",
    "omega4",
    "r21",
    "r22",
    "r23",
    "r24",
    "r2t2",
    "r2t3",
    "r2t4",
    "g1",
    "g2",
    "g3",
    "g4",
)


class PowerForm(forms.Form):
    design = forms.ChoiceField(
        choices=[(k, f"{k}: {d.title}") for k, d in DESIGNS.items()], initial="CRA2_2r"
    )
    solve_for = forms.ChoiceField(label="Solve for", choices=SOLVE_CHOICES, initial="mdes")
    es = forms.FloatField(label="Effect size (es, SD units)", required=False)
    power = forms.FloatField(label="Power", required=False, initial=0.8)
    alpha = forms.FloatField(label="Alpha (type I error rate)", initial=0.05)
    tails = forms.ChoiceField(
        label="Test", choices=[("two", "two-tailed"), ("one", "one-tailed")], initial="two"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in PARAM_ORDER:
            field = forms.IntegerField if name.startswith("g") else forms.FloatField
            self.fields[name] = field(label=f"{name}: {PARAMETERS[name]}", required=False)

    def main_fields(self):
        return [self[name] for name in ("design", "solve_for", "es", "power", "alpha", "tails")]

    def parameter_fields(self):
        return [self[name] for name in PARAM_ORDER]

    def calculation(self) -> dict:
        """Keyword arguments for `whatworks.trials.design.solve` (the one solved for left out)."""
        d = self.cleaned_data
        solve_for = d["solve_for"]
        params = {k: d[k] for k in PARAM_ORDER if d.get(k) is not None and k != solve_for}
        return {
            "design": d["design"],
            "es": None if solve_for == "mdes" else d.get("es"),
            "power": None if solve_for == "power" else d.get("power"),
            "alpha": d["alpha"],
            "two_tailed": d["tails"] == "two",
            **params,
        }
