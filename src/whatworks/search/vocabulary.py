"""The field's vocabulary: abbreviations practitioners type and the everyday wordings of its terms.

Each entry maps a phrase a reader might type (normalised words) to phrases the store's text uses.
A query phrase keeps its own words as one alternative and gains these; nothing is dropped. Keep this
list reviewed like code: it decides what "FGC" or "edge of care" finds.
"""

from __future__ import annotations

ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "fgc": ("family group conference",),
    "fgcs": ("family group conference",),
    "mst": ("multisystemic therapy",),
    "fft": ("functional family therapy",),
    "swis": ("social workers in schools",),
    "fdac": ("family drug and alcohol court",),
    "fnp": ("family nurse partnership",),
    "vig": ("video interaction guidance",),
    "pcit": ("parent child interaction therapy",),
    "tfco": ("treatment foster care oregon",),
    "mtfc": ("treatment foster care oregon",),
    "keep": ("keeping foster and kin parents supported",),
    "ifps": ("intensive family preservation",),
    "ifp": ("intensive family preservation",),
    "homebuilders": ("intensive family preservation",),
    "pup": ("parents under pressure",),
    "nwd": ("no wrong door",),
    "sfp": ("strengthening families programme",),
    "lac": ("children in care", "looked after children"),
    "cla": ("children in care", "looked after children"),
    "cin": ("children in need",),
    "cp": ("child protection",),
    "cpp": ("child protection plans",),
    "s47": ("section 47 enquiries",),
    "s17": ("section 17 assessments",),
    "sgo": ("special guardianship",),
    "dv": ("domestic abuse",),
    "dva": ("domestic abuse",),
    "ipv": ("domestic abuse",),
    "triple p": ("positive parenting program",),
}

# Everyday wordings -> the store's terms (outcome names, population tags, intervention kinds).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "edge of care": ("entry to care", "family preservation", "at risk of care", "risk of going into care"),
    "going into care": ("entry to care",),
    "coming into care": ("entry to care",),
    "taken into care": ("entry to care",),
    "entering care": ("entry to care",),
    "care entry": ("entry to care",),
    "kept out of care": ("entry to care",),
    "keep children at home": ("entry to care", "family preservation"),
    "removal": ("entry to care", "care proceedings"),
    "teenagers": ("adolescents", "young people"),
    "teenager": ("adolescents", "young people"),
    "teens": ("adolescents", "young people"),
    "teen": ("adolescents", "young people"),
    "youth": ("adolescents", "young people"),
    "young person": ("young people", "adolescents"),
    "foster parents": ("foster carers",),
    "foster parent": ("foster carers",),
    "foster families": ("foster carers",),
    "foster family": ("foster carers",),
    "training": ("course", "trained"),
    "kids": ("children",),
    "looked after": ("in care",),
    "reunification": ("return home", "returning home", "reunified"),
    "going home": ("reunification", "return home"),
    "return home": ("reunification",),
    "returning home": ("reunification",),
    "conferencing": ("conference", "conferences"),
    "conferences": ("conferencing",),
    "family meeting": ("family group conference", "family network meeting"),
    "family meetings": ("family group conference", "family network meeting"),
    "domestic violence": ("domestic abuse",),
    "family violence": ("domestic abuse",),
    "drugs": ("substance", "drug"),
    "alcohol": ("substance",),
    "substance misuse": ("drug", "alcohol"),
    "addiction": ("substance", "drug", "alcohol"),
    "mums": ("mothers",),
    "moms": ("mothers",),
    "babies": ("infants",),
    "baby": ("infants",),
    "toddlers": ("infants and young children",),
    "school": ("schools", "attainment"),
    "education": ("attainment", "schools"),
    "burnout": ("social worker distress", "wellbeing", "stress"),
    "stress": ("distress",),
    "retention": ("staff turnover",),
    "retaining staff": ("staff turnover",),
    "placement breakdown": ("placement stability",),
    "placement moves": ("placement stability",),
    "abuse": ("maltreatment",),
    "neglect": ("maltreatment",),
    "grandparents": ("kinship",),
    "relatives": ("kinship",),
    "leaving care": ("care leavers",),
    "after care": ("care leavers",),
    "mentor": ("mentoring",),
    "parenting": ("parents", "parent"),
    "therapy for families": ("family therapy",),
    "behaviour problems": ("behaviour",),
    "conduct problems": ("behaviour",),
    "reoffending": ("offending",),
    "crime": ("offending",),
    "home visits": ("home visiting",),
    "home visiting": ("home visits",),
}

# the longest phrase, in words (the parser matches longest first)
MAX_PHRASE_WORDS = max(len(k.split()) for k in (*ABBREVIATIONS, *SYNONYMS))


def expansions(phrase: str) -> tuple[str, ...]:
    """The store's terms for a normalised query phrase (empty when the vocabulary has none)."""
    return ABBREVIATIONS.get(phrase, ()) + SYNONYMS.get(phrase, ())
