"""Editors' forms for projects, criteria, results, decisions and trial records; the power calculator."""

from __future__ import annotations

import json
import re

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


# ------------------------------------------------------------------ randomisation and analysis


def _words(text: str) -> list[str]:
    """'a, b c' -> ['a', 'b', 'c'] (commas or spaces)."""
    return [w for w in re.split(r"[,\s]+", text or "") if w]


def _numbers(text: str, kind, what: str) -> list | None:
    words = _words(text)
    if not words:
        return None
    try:
        return [kind(w) for w in words]
    except ValueError:
        raise forms.ValidationError(f"give {what}, separated by spaces or commas") from None


class UploadForm(forms.Form):
    """A CSV file, or the same text pasted."""

    file = forms.FileField(label="CSV file", required=False,
                           help_text="UTF-8, a header row, one row per unit")
    pasted = forms.CharField(label="Or paste the CSV here", required=False,
                             help_text="up to 2.5 MB of text; upload larger files",
                             widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}))

    def clean(self):
        from django.conf import settings

        data = super().clean()
        upload, pasted = data.get("file"), (data.get("pasted") or "").strip()
        if not upload and not pasted:
            raise forms.ValidationError("choose a CSV file or paste its text")
        if upload and pasted:
            raise forms.ValidationError("give a file or pasted text, not both")
        limit = settings.WHATWORKS_IMPORT_MAX_BYTES
        if upload and upload.size > limit:
            self.add_error("file", f"is {upload.size:,} bytes; uploads are limited to {limit:,} "
                                   "(WHATWORKS_IMPORT_MAX_BYTES); split the file")
        return data

    def content(self) -> tuple[str, bytes]:
        d = self.cleaned_data
        if d.get("file"):
            return d["file"].name, d["file"].read()
        return "pasted.csv", d["pasted"].strip().encode("utf-8") + b"\n"


def _column_choices(cols, blank="(none)"):
    return [("", blank)] + [(c, c) for c in cols]


class RandomiseForm(forms.Form):
    """The method, its columns (from the file's header) and options; the seed."""

    upload = forms.IntegerField(widget=forms.HiddenInput)
    fingerprint = forms.CharField(widget=forms.HiddenInput, required=False)
    method = forms.ChoiceField(label="Method")
    seed = forms.IntegerField(label="Seed", min_value=0, max_value=2**62,
                              help_text="a whole number, drawn at random here; record it (the "
                                        "allocation is re-derived from it)")
    unit = forms.ChoiceField(label="Unit id column", required=False,
                             help_text="default: the row number")
    block = forms.ChoiceField(label="Block column", required=False,
                              help_text="block-cluster (e.g. the local authority); stratified")
    cluster = forms.ChoiceField(label="Cluster column", required=False,
                                help_text="cluster, block-cluster, constrained (e.g. the school)")
    strata = forms.MultipleChoiceField(label="Strata columns", required=False,
                                       help_text="stratified; permuted blocks within strata")
    covariates = forms.MultipleChoiceField(label="Covariates to balance (constrained)",
                                           required=False, help_text="cluster means are balanced")
    factors = forms.MultipleChoiceField(label="Minimisation factors", required=False)
    arms = forms.CharField(label="Arms", initial="control treatment",
                           help_text="two or more names separated by spaces; standardised "
                                     "differences are the last arm minus the first")
    ratio = forms.CharField(label="Allocation ratio", required=False,
                            help_text="one whole number per arm, e.g. 1 1 (default equal)")
    block_sizes = forms.CharField(label="Block sizes (permuted blocks)", required=False,
                                  help_text="multiples of the ratio's sum; default 1, 2 and 3 "
                                            "times it")
    metric = forms.ChoiceField(label="Balance score (constrained)", initial="l2",
                               choices=[("l2", "L2: sum of squared differences"),
                                        ("l1", "L1: sum of absolute differences")])
    cutoff = forms.FloatField(label="Allowed set: best fraction (constrained)", initial=0.1,
                              min_value=0.0001, max_value=1)
    max_enumerate = forms.IntegerField(label="Enumerate up to this many allocations (constrained)",
                                       initial=100_000, min_value=1, max_value=1_000_000)
    n_candidates = forms.IntegerField(label="Else sample this many distinct ones (constrained)",
                                      initial=50_000, min_value=10, max_value=500_000)
    samearmhi = forms.FloatField(label="Flag pairs together more often than (constrained)",
                                 initial=0.75, min_value=0, max_value=1)
    samearmlo = forms.FloatField(label="Flag pairs together less often than (constrained)",
                                 initial=0.25, min_value=0, max_value=1)
    weights = forms.CharField(label="Factor weights (minimisation)", required=False,
                              help_text="one per factor, default 1 each")
    p_best = forms.FloatField(label="Probability of the minimising arm (minimisation)",
                              initial=0.8, min_value=0.01, max_value=1)
    balance = forms.MultipleChoiceField(label="Balance table columns", required=False,
                                        help_text="baseline variables for the table of "
                                                  "standardised differences")

    def __init__(self, *args, columns=(), **kwargs):
        from whatworks.trials.randomise import METHODS

        super().__init__(*args, **kwargs)
        self.fields["method"].choices = [(m.name, f"{m.name}: {m.description}")
                                         for m in METHODS.values()]
        for name in ("unit", "block", "cluster"):
            self.fields[name].choices = _column_choices(columns)
        for name in ("strata", "covariates", "factors", "balance"):
            self.fields[name].choices = [(c, c) for c in columns]
            self.fields[name].widget.attrs["size"] = min(8, max(2, len(columns)))

    def clean(self):
        from whatworks.trials.randomise import METHODS

        data = super().clean()
        method = data.get("method")
        for name, kind, what in (("ratio", int, "whole numbers"), ("block_sizes", int, "whole numbers"),
                                 ("weights", float, "numbers")):
            try:
                data[name] = _numbers(data.get(name) or "", kind, what)
            except forms.ValidationError as e:
                self.add_error(name, e)
        data["arms"] = _words(data.get("arms") or "")
        if len(data["arms"]) < 2 or len(set(data["arms"])) != len(data["arms"]):
            self.add_error("arms", "give two or more different arm names")
        if method in METHODS:
            labels = {"strata": "strata columns", "block": "a block column",
                      "cluster": "a cluster column", "covariates": "covariates",
                      "factors": "minimisation factors"}
            for need in METHODS[method].needs:
                if need == "strata" and data.get("block"):
                    continue
                if not data.get(need):
                    self.add_error(need, f"the {method} method needs {labels[need]}")
        return data

    def options(self) -> dict:
        d = self.cleaned_data
        keys = ("unit", "block", "cluster", "strata", "covariates", "factors", "arms", "ratio",
                "block_sizes", "metric", "cutoff", "max_enumerate", "n_candidates", "samearmhi",
                "samearmlo", "weights", "p_best")
        out = {k: d.get(k) for k in keys}
        return {k: v for k, v in out.items() if v not in (None, "", [])}


class EnrolmentStartForm(forms.Form):
    """Minimisation for units enrolled one at a time: the factors and the seed."""

    seed = forms.IntegerField(label="Seed", min_value=0, max_value=2**62,
                              help_text="a whole number, drawn at random here; record it")
    factors = forms.CharField(label="Minimisation factors",
                              help_text="names separated by spaces, e.g. sex age_group site")
    arms = forms.CharField(label="Arms", initial="control treatment")
    ratio = forms.CharField(label="Allocation ratio", required=False,
                            help_text="one whole number per arm (default equal)")
    weights = forms.CharField(label="Factor weights", required=False,
                              help_text="one per factor, default 1 each")
    p_best = forms.FloatField(label="Probability of the minimising arm", initial=0.8,
                              min_value=0.01, max_value=1)

    def clean(self):
        data = super().clean()
        data["factors"] = _words(data.get("factors") or "")
        data["arms"] = _words(data.get("arms") or "")
        if len(data["arms"]) < 2 or len(set(data["arms"])) != len(data["arms"]):
            self.add_error("arms", "give two or more different arm names")
        for name, kind, what in (("ratio", int, "whole numbers"), ("weights", float, "numbers")):
            try:
                data[name] = _numbers(data.get(name) or "", kind, what)
            except forms.ValidationError as e:
                self.add_error(name, e)
        return data


class EnrolForm(forms.Form):
    """One more unit: its id and its level of each factor."""

    unit = forms.CharField(label="Unit id", max_length=200)

    def __init__(self, *args, factors=(), **kwargs):
        super().__init__(*args, **kwargs)
        for f in factors:
            self.fields[f"level_{f}"] = forms.CharField(label=f"{f}", max_length=200)
        self.factors = list(factors)

    def levels(self) -> dict:
        return {f: self.cleaned_data[f"level_{f}"] for f in self.factors}


class AnalyseForm(forms.Form):
    """The columns of an outcome file (from its header), the family, and what to call the result."""

    upload = forms.IntegerField(widget=forms.HiddenInput)
    outcome = forms.ChoiceField(label="Outcome column")
    treatment_from = forms.ChoiceField(
        label="Treatment from", initial="file",
        choices=[("file", "a column of the file"), ("allocation", "the allocation stored here")])
    treatment = forms.ChoiceField(label="Treatment column", required=False,
                                  help_text="0/1 or two labels; with the stored allocation, a "
                                            "column to check against it (optional)")
    treated = forms.CharField(label="Treated arm (label)", required=False,
                              help_text="default: 1, or the later label in sort order; with the "
                                        "stored allocation, its last arm")
    match_by = forms.ChoiceField(label="Column of ids to match with the allocation", required=False)
    match_key = forms.ChoiceField(label="The ids are the allocation's", initial="unit", required=False,
                                  choices=[("unit", "unit ids"), ("cluster", "cluster ids")])
    cluster = forms.ChoiceField(label="Cluster column (random intercept)")
    block = forms.ChoiceField(label="Block or stratum column (fixed effects)", required=False)
    covariates = forms.MultipleChoiceField(label="Baseline covariates", required=False)
    exposure = forms.ChoiceField(label="Exposure column (counts: log offset)", required=False)
    family = forms.ChoiceField(label="Family",
                               choices=[("gaussian", "gaussian: continuous outcome"),
                                        ("binomial", "binomial: 0/1 outcome"),
                                        ("poisson", "Poisson: counts"),
                                        ("negbin", "negative binomial: overdispersed counts")])
    level = forms.FloatField(label="Confidence level (%)", initial=95, min_value=50, max_value=99.9,
                             required=False,
                             widget=forms.NumberInput(attrs={"step": "0.1", "list": "levels"}),
                             help_text="of the Wald intervals, as whatworks trial analyse --level "
                                       "(usually 90, 95 or 99; between 50 and 99.9)")
    outcome_name = forms.CharField(label="Name of the result", required=False, max_length=200,
                                   help_text="the outcome as the report and the Evidence Store "
                                             "mapping name it (default: the column)")
    primary = forms.BooleanField(label="This is the primary outcome", required=False)

    def __init__(self, *args, columns=(), allocation=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("outcome", "cluster"):
            self.fields[name].choices = _column_choices(columns, "(choose a column)")
        for name in ("treatment", "match_by", "block", "exposure"):
            self.fields[name].choices = _column_choices(columns)
        self.fields["covariates"].choices = [(c, c) for c in columns]
        self.fields["covariates"].widget.attrs["size"] = min(8, max(2, len(columns)))
        self.has_allocation = allocation is not None
        if not self.has_allocation:
            self.fields["treatment_from"].choices = [("file", "a column of the file")]
            for name in ("match_by", "match_key"):
                del self.fields[name]

    def clean(self):
        data = super().clean()
        if data.get("treatment_from") == "allocation":
            if not data.get("match_by"):
                self.add_error("match_by", "choose the column of ids to match with the allocation")
        elif not data.get("treatment"):
            self.add_error("treatment", "choose the treatment column (or take it from the "
                                        "stored allocation)")
        return data

    def options(self) -> dict:
        d = self.cleaned_data
        out = {k: d.get(k) for k in ("outcome", "treatment", "cluster", "block", "covariates",
                                     "exposure", "family", "treated")}
        out["level"] = d.get("level") if d.get("level") is not None else 95.0
        return {k: v for k, v in out.items() if v not in (None, "", [])}
