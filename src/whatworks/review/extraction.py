"""Extraction templates, as data, for reviews that are not (only) meta-analyses.

A :class:`Template` is a named, versioned list of :class:`Field` s (kind, choices, required, help),
kept as plain data (:meth:`Template.to_dict` / :meth:`Template.from_dict` round-trip through JSON)
so the review workspace can draw its forms from it and a team can write its own. An
:class:`ExtractionSheet` holds the entries made with one template, validates each against it
(errors name the entry and the field) and exports them as tables (:meth:`ExtractionSheet.to_frame`,
CSV, XLSX) and as the summary tables each kind of synthesis uses.

Three templates ship (:data:`TEMPLATES`):

- ``narrative_synthesis`` -- one row per study x outcome: the characteristics table and the direction
  of effect of a narrative synthesis (Popay et al. 2006), reported as SWiM asks (Campbell et al.
  2020): grouping, the standardised metric or direction used, certainty. Summary:
  :meth:`ExtractionSheet.direction_table` (studies by outcome and direction of effect); vote
  counting with the sign test and the effect direction plot are :mod:`whatworks.review.narrative`'s.
- ``thematic_coding`` -- one row per coded finding of a qualitative study: the finding (verbatim or
  author's interpretation), its codes, and the descriptive and analytical themes of a thematic
  synthesis (Thomas & Harden 2008), with the GRADE-CERQual components for each review finding
  (Lewin et al. 2018). Summary: :meth:`ExtractionSheet.theme_matrix` (themes x studies).
- ``realist_cmo`` -- one row per context-mechanism-outcome configuration (Pawson 2006; Wong et al.
  2013, RAMESES), the mechanism split into resource and reasoning (Dalkin et al. 2015), with the
  programme theory it supports, refutes or refines and the relevance and rigour of the evidence.
  Summary: :meth:`ExtractionSheet.cmo_table` (configurations grouped by programme theory).

References
----------
Popay J, Roberts H, Sowden A, et al. (2006). *Guidance on the conduct of narrative synthesis in
systematic reviews*. ESRC Methods Programme, Lancaster University.
Campbell M, McKenzie JE, Sowden A, et al. (2020). Synthesis without meta-analysis (SWiM) in
systematic reviews: reporting guideline. *BMJ* 368:l6890.
Thomas J, Harden A (2008). Methods for the thematic synthesis of qualitative research in systematic
reviews. *BMC Medical Research Methodology* 8:45.
Lewin S, Booth A, Glenton C, et al. (2018). Applying GRADE-CERQual to qualitative evidence synthesis
findings: introduction to the series. *Implementation Science* 13(Suppl 1):2.
Pawson R (2006). *Evidence-based Policy: A Realist Perspective*. London: SAGE.
Wong G, Greenhalgh T, Westhorp G, Buckingham J, Pawson R (2013). RAMESES publication standards:
realist syntheses. *BMC Medicine* 11:21.
Dalkin SM, Greenhalgh J, Jones D, Cunningham B, Lhussier M (2015). What's in a mechanism?
Development of a key concept in realist evaluation. *Implementation Science* 10:49.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whatworks.errors import InputError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FIELD_KINDS", "TEMPLATES", "ExtractionSheet", "Field", "Template", "get_template"]

#: What a field can hold.
FIELD_KINDS = ("text", "long_text", "integer", "number", "choice", "multi_choice", "boolean")
#: How several values of a multi-choice field are joined in tables.
MULTI_SEPARATOR = "; "


@dataclass(frozen=True)
class Field:
    """One thing to extract: its column ``name``, the ``label`` a form shows, its ``kind`` (one of
    :data:`FIELD_KINDS`), the ``choices`` of a choice field, whether it is ``required``, and ``help``
    for the person extracting."""

    name: str
    label: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""
    minimum: float | None = None

    def __post_init__(self):
        if self.kind not in FIELD_KINDS:
            raise ParameterError(f"{self.name}.kind", self.kind, ", ".join(FIELD_KINDS))
        if self.kind in ("choice", "multi_choice") and not self.choices:
            raise ParameterError(f"{self.name}.choices", self.choices, "at least one choice")
        if not self.name.isidentifier():
            raise ParameterError("name", self.name, "a column name of letters, digits and _")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "label": self.label, "kind": self.kind,
                             "required": self.required, "help": self.help}
        if self.choices:
            d["choices"] = list(self.choices)
        if self.minimum is not None:
            d["minimum"] = self.minimum
        return d

    def clean(self, value: Any, *, entry: int, template: str) -> Any:
        """The value checked and converted; raises :class:`InputError` naming entry and field."""
        def fail(msg: str):
            raise InputError(msg, file=f"template {template!r}", row=entry, column=self.name)

        if value is None or (isinstance(value, float) and math.isnan(value)) or \
                (isinstance(value, str) and not value.strip()) or value == []:
            if self.required:
                fail(f"{self.label} is required")
            return None
        k = self.kind
        if k in ("text", "long_text"):
            return str(value).strip()
        if k in ("integer", "number"):
            try:
                x = float(str(value).replace(",", "")) if not isinstance(value, int | float) else float(value)
            except ValueError:
                fail(f"{value!r} is not a number")
            if not math.isfinite(x):
                fail(f"{value!r} is not a finite number")
            if k == "integer" and not x.is_integer():
                fail(f"{value!r} is not a whole number")
            if self.minimum is not None and x < self.minimum:
                fail(f"{value!r} is below the minimum {self.minimum:g}")
            return int(x) if k == "integer" else x
        if k == "boolean":
            s = str(value).strip().lower()
            if s in ("true", "yes", "y", "1"):
                return True
            if s in ("false", "no", "n", "0"):
                return False
            fail(f"{value!r} is not yes or no")
        if k == "choice":
            s = str(value).strip()
            if s not in self.choices:
                fail(f"{s!r} is not one of: {', '.join(self.choices)}")
            return s
        values = value if isinstance(value, list | tuple) else str(value).split(";")
        out = [str(v).strip() for v in values if str(v).strip()]
        bad = [v for v in out if v not in self.choices]
        if bad:
            fail(f"{bad[0]!r} is not one of: {', '.join(self.choices)}")
        return tuple(out)


@dataclass(frozen=True)
class Template:
    """A named, versioned extraction form. ``per`` says what one entry is (``"study"``,
    ``"study x outcome"``, ``"finding"``, ``"configuration"``)."""

    name: str
    title: str
    version: str
    per: str
    fields: tuple[Field, ...]
    description: str = ""
    references: tuple[str, ...] = ()

    def __post_init__(self):
        names = [f.name for f in self.fields]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ParameterError("fields", sorted(dup), "unique field names")
        if "study_id" not in names:
            raise ParameterError("fields", names, "a 'study_id' field linking each entry to a study")

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise ParameterError("field", name, ", ".join(self.columns))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "version": self.version, "per": self.per,
                "description": self.description, "references": list(self.references),
                "fields": [f.to_dict() for f in self.fields]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Template:
        """A template from plain data (as :meth:`to_dict` writes it, e.g. a team's own JSON)."""
        try:
            fields = tuple(Field(name=f["name"], label=f.get("label", f["name"]),
                                 kind=f.get("kind", "text"), required=bool(f.get("required", False)),
                                 choices=tuple(f.get("choices", ())), help=f.get("help", ""),
                                 minimum=f.get("minimum")) for f in data["fields"])
            return cls(name=data["name"], title=data.get("title", data["name"]),
                       version=str(data.get("version", "1")), per=data.get("per", "study"),
                       fields=fields, description=data.get("description", ""),
                       references=tuple(data.get("references", ())))
        except (KeyError, TypeError) as exc:
            raise InputError(f"a template needs 'name' and 'fields' (each with a 'name'); missing "
                             f"{exc}", column=str(exc).strip("'")) from None

    @classmethod
    def from_json(cls, path: str | Path) -> Template:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg})", file=str(path), row=exc.lineno) from None
        return cls.from_dict(data)

    def blank(self) -> pd.DataFrame:
        """An empty table with the template's columns (to fill in a spreadsheet)."""
        import pandas as pd

        return pd.DataFrame(columns=self.columns)


@dataclass(frozen=True)
class ExtractionSheet:
    """Entries made with one template; each entry is validated when the sheet is made."""

    template: Template
    entries: tuple[dict[str, Any], ...] = field(default=())

    @classmethod
    def from_entries(cls, template: Template, entries: Iterable[Mapping[str, Any]]) -> ExtractionSheet:
        """Validate entries (dicts keyed by field name); unknown keys are refused, not dropped."""
        known = set(template.columns)
        clean = []
        for k, e in enumerate(entries, 1):
            unknown = sorted(set(e) - known)
            if unknown:
                raise InputError(f"{unknown[0]!r} is not a field of this template; the fields are "
                                 f"{', '.join(template.columns)}", file=f"template {template.name!r}",
                                 row=k, column=unknown[0])
            clean.append({f.name: f.clean(e.get(f.name), entry=k, template=template.name)
                          for f in template.fields})
        return cls(template, tuple(clean))

    @classmethod
    def from_frame(cls, template: Template, frame: pd.DataFrame) -> ExtractionSheet:
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        return cls.from_entries(template, records)

    def add(self, entry: Mapping[str, Any]) -> ExtractionSheet:
        """A new sheet with one more (validated) entry."""
        return ExtractionSheet.from_entries(self.template, [*self.entries, entry])

    def to_frame(self) -> pd.DataFrame:
        """One row per entry, the template's columns in order (multi-choice values joined)."""
        import pandas as pd

        rows = [{k: (MULTI_SEPARATOR.join(v) if isinstance(v, tuple) else v) for k, v in e.items()}
                for e in self.entries]
        return pd.DataFrame(rows, columns=self.template.columns)

    def to_csv(self, path: str | Path) -> None:
        self.to_frame().to_csv(path, index=False)

    def to_xlsx(self, path: str | Path) -> None:
        """A workbook: the entries, and a sheet describing the template's fields."""
        import pandas as pd

        with pd.ExcelWriter(path, engine="openpyxl") as xw:
            self.to_frame().to_excel(xw, sheet_name="entries", index=False)
            pd.DataFrame([f.to_dict() | {"choices": "; ".join(f.choices)} for f in self.template.fields]
                         ).to_excel(xw, sheet_name="fields", index=False)

    def to_dict(self) -> dict[str, Any]:
        return {"template": self.template.to_dict(),
                "entries": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in e.items()}
                            for e in self.entries]}

    # ---- the summary table each synthesis uses

    def _need(self, *names: str) -> None:
        missing = [n for n in names if n not in self.template.columns]
        if missing:
            raise ParameterError("template", self.template.name,
                                 f"a template with the field(s) {', '.join(missing)}")

    def direction_table(self) -> pd.DataFrame:
        """Narrative synthesis: studies by outcome and direction of effect (the table behind an
        effect-direction plot, SWiM item 6), with the study ids in each cell."""
        import pandas as pd

        self._need("outcome_domain", "direction_of_effect")
        choices = self.template.field("direction_of_effect").choices
        rows = {}
        for e in self.entries:
            outcome = e["outcome_domain"] or "(not given)"
            row = rows.setdefault(outcome, {c: [] for c in choices})
            if e["direction_of_effect"]:
                row[e["direction_of_effect"]].append(str(e["study_id"]))
        records = [{"outcome_domain": o, **{c: len(v) for c, v in r.items()},
                    "studies": ", ".join(sorted({s for v in r.values() for s in v}))}
                   for o, r in rows.items()]
        return pd.DataFrame(records, columns=["outcome_domain", *choices, "studies"])

    def theme_matrix(self) -> pd.DataFrame:
        """Thematic synthesis: one row per analytical (else descriptive) theme, a column per study
        with the number of findings coded to it, and the total."""
        import pandas as pd

        self._need("descriptive_theme", "analytical_theme")
        counts: dict[str, dict[str, int]] = {}
        for e in self.entries:
            theme = e["analytical_theme"] or e["descriptive_theme"] or "(not themed)"
            row = counts.setdefault(theme, {})
            row[str(e["study_id"])] = row.get(str(e["study_id"]), 0) + 1
        studies = sorted({s for row in counts.values() for s in row})
        table = pd.DataFrame([[row.get(s, 0) for s in studies] for row in counts.values()],
                             index=list(counts), columns=studies, dtype=int)
        table["studies"] = (table > 0).sum(axis=1)
        table["findings"] = table.drop(columns="studies").sum(axis=1)
        table.index.name = "theme"
        return table.reset_index()

    def cmo_table(self) -> pd.DataFrame:
        """Realist synthesis: configurations grouped by programme theory, as
        ``C + M(resource -> response) => O`` strings with their studies."""
        import pandas as pd

        self._need("context", "mechanism_resource", "mechanism_response", "outcome", "programme_theory")
        rows = []
        for e in self.entries:
            rows.append({"programme_theory": e["programme_theory"] or "(not linked)",
                         "study_id": e["study_id"],
                         "configuration": f"C: {e['context'] or '?'} + M: {e['mechanism_resource'] or '?'} "
                                          f"-> {e['mechanism_response'] or '?'} => O: {e['outcome'] or '?'}",
                         "theory_test": e.get("theory_test")})
        frame = pd.DataFrame(rows, columns=["programme_theory", "study_id", "configuration", "theory_test"])
        return frame.sort_values(["programme_theory", "study_id"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# the shipped templates

_STUDY = Field("study_id", "Study", required=True, help="the study's id in this review")
_DESIGNS = ("randomised controlled trial", "cluster randomised trial", "quasi-experimental",
            "controlled before-after", "interrupted time series", "cohort", "case-control",
            "cross-sectional", "qualitative", "mixed methods", "other")

NARRATIVE = Template(
    name="narrative_synthesis", title="Narrative synthesis: study characteristics and findings",
    version="1", per="study x outcome",
    description="One row per study and outcome: the characteristics table and the direction of "
                "effect of a synthesis without meta-analysis (SWiM).",
    references=("Popay J et al. (2006) Guidance on the conduct of narrative synthesis in systematic "
                "reviews. ESRC Methods Programme.",
                "Campbell M et al. (2020) Synthesis without meta-analysis (SWiM) in systematic "
                "reviews: reporting guideline. BMJ 368:l6890."),
    fields=(
        _STUDY,
        Field("citation", "Citation", "text"),
        Field("country", "Country", "text"),
        Field("design", "Design", "choice", required=True, choices=_DESIGNS),
        Field("setting", "Setting", "text", help="e.g. local authority children's services, schools"),
        Field("population", "Population", "long_text"),
        Field("sample_size", "Participants analysed", "integer", minimum=0),
        Field("intervention", "Intervention", "long_text", required=True),
        Field("comparator", "Comparator", "text"),
        Field("grouping", "Synthesis group", "text", help="the group this study is synthesised in "
                                                          "(SWiM item 2)"),
        Field("outcome_domain", "Outcome domain", "text", required=True),
        Field("outcome_measure", "Outcome measure", "text"),
        Field("time_point", "Time point", "text"),
        Field("effect_metric", "Effect metric reported", "text", help="e.g. OR, SMD, mean difference, "
                                                                      "p-value only"),
        Field("effect_estimate", "Effect estimate", "number"),
        Field("direction_of_effect", "Direction of effect", "choice", required=True,
              choices=("favours intervention", "favours comparator", "no clear difference", "mixed",
                       "unclear")),
        Field("finding_summary", "Finding in words", "long_text"),
        Field("risk_of_bias", "Risk of bias", "choice", choices=("low", "some concerns", "high",
                                                                 "not assessed")),
        Field("notes", "Notes", "long_text"),
    ))

THEMATIC = Template(
    name="thematic_coding", title="Thematic synthesis of qualitative findings", version="1",
    per="finding",
    description="One row per coded finding: the finding, its line-by-line codes, the descriptive and "
                "analytical themes, and the GRADE-CERQual components for the review finding.",
    references=("Thomas J, Harden A (2008) Methods for the thematic synthesis of qualitative "
                "research in systematic reviews. BMC Med Res Methodol 8:45.",
                "Lewin S et al. (2018) Applying GRADE-CERQual to qualitative evidence synthesis "
                "findings. Implement Sci 13(Suppl 1):2."),
    fields=(
        _STUDY,
        Field("finding_id", "Finding", required=True, help="an id for this finding within the study"),
        Field("finding", "Finding text", "long_text", required=True,
              help="the study's finding: a participant quotation or the authors' interpretation"),
        Field("finding_source", "Source of the finding", "choice",
              choices=("participant quotation", "author interpretation")),
        Field("participants", "Who", "text", help="e.g. parents, social workers, young people"),
        Field("page", "Page", "text"),
        Field("codes", "Codes", "text", help="line-by-line codes, separated by ';'"),
        Field("descriptive_theme", "Descriptive theme", "text"),
        Field("analytical_theme", "Analytical theme", "text"),
        Field("methodological_limitations", "CERQual: methodological limitations", "choice",
              choices=("no or very minor concerns", "minor concerns", "moderate concerns",
                       "serious concerns")),
        Field("coherence", "CERQual: coherence", "choice",
              choices=("no or very minor concerns", "minor concerns", "moderate concerns",
                       "serious concerns")),
        Field("adequacy", "CERQual: adequacy", "choice",
              choices=("no or very minor concerns", "minor concerns", "moderate concerns",
                       "serious concerns")),
        Field("relevance", "CERQual: relevance", "choice",
              choices=("no or very minor concerns", "minor concerns", "moderate concerns",
                       "serious concerns")),
        Field("coder", "Coded by", "text"),
        Field("memo", "Memo", "long_text"),
    ))

REALIST = Template(
    name="realist_cmo", title="Realist synthesis: context-mechanism-outcome configurations",
    version="1", per="configuration",
    description="One row per context-mechanism-outcome configuration, the mechanism split into the "
                "resource offered and the reasoning or response it triggers, linked to the programme "
                "theory it tests.",
    references=("Pawson R (2006) Evidence-based Policy: A Realist Perspective. SAGE.",
                "Wong G et al. (2013) RAMESES publication standards: realist syntheses. BMC Med 11:21.",
                "Dalkin SM et al. (2015) What's in a mechanism? Implement Sci 10:49."),
    fields=(
        _STUDY,
        Field("cmo_id", "Configuration", required=True),
        Field("programme_theory", "Programme theory", "text", required=True,
              help="the initial or refined programme theory this configuration speaks to"),
        Field("context", "Context", "long_text", required=True),
        Field("mechanism_resource", "Mechanism: resource", "long_text", required=True,
              help="what the programme offers (e.g. a family group conference)"),
        Field("mechanism_response", "Mechanism: reasoning or response", "long_text", required=True,
              help="how people respond to it (e.g. families feel ownership of the plan)"),
        Field("outcome", "Outcome", "long_text", required=True),
        Field("outcome_pattern", "Outcome pattern", "choice",
              choices=("intended", "unintended", "both")),
        Field("theory_test", "What it does to the theory", "choice",
              choices=("supports", "refutes", "refines")),
        Field("evidence", "Supporting data", "long_text", help="quotation or data, with the page"),
        Field("relevance", "Relevance", "choice", choices=("high", "moderate", "low")),
        Field("rigour", "Rigour", "choice", choices=("high", "moderate", "low")),
        Field("reviewer", "Extracted by", "text"),
    ))

#: The shipped templates by name.
TEMPLATES: dict[str, Template] = {t.name: t for t in (NARRATIVE, THEMATIC, REALIST)}


def get_template(name: str) -> Template:
    """A shipped template by name (one of :data:`TEMPLATES`)."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise ParameterError("template", name, ", ".join(TEMPLATES)) from None
