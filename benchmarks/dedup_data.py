"""Perturbed copies of records, as another database would export them (for the speed benchmark).

Our own perturbations (not the shared benchmark's generator): upper case, lost final period,
``&``/``and``, missing abstract or a truncated one, missing DOI or a DOI URL, initials only for
authors, abbreviated journal name, short page range.
"""

from __future__ import annotations

import random

from whatworks.review.records import Record


def perturb(r: Record, rng: random.Random, *, new_id: str) -> Record:
    title = r.title or ""
    u = rng.random()
    if u < 0.2:
        title = title.upper()
    elif u < 0.4:
        title = title.rstrip(".") + "."
    elif u < 0.5:
        title = title.replace(" and ", " & ")
    abstract = r.abstract
    v = rng.random()
    if v < 0.2:
        abstract = None
    elif v < 0.35 and abstract:
        abstract = abstract[: len(abstract) // 2]
    doi = r.doi
    w = rng.random()
    if w < 0.3:
        doi = None
    elif w < 0.5 and doi:
        doi = "https://doi.org/" + doi
    authors = r.authors
    if rng.random() < 0.3:
        authors = tuple(a.split(",")[0] + " " + a.split(",")[-1].strip()[:1] for a in authors)
    journal = r.journal
    if journal and rng.random() < 0.3:
        journal = " ".join(word[:4] for word in journal.split() if word.lower() != "of")
    pages = r.pages
    if pages and "-" in pages and rng.random() < 0.3:
        a, b = pages.split("-", 1)
        pages = f"{a}-{b[-2:]}" if len(b) > 2 else pages
    return r.with_(id=new_id, title=title, abstract=abstract, doi=doi, authors=authors, journal=journal,
                   pages=pages, source_database="B")
