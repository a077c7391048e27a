"""Finding duplicate records: exact keys, blocking, fuzzy similarity, a calibrated match probability,
automatic merges above a high threshold and a queue of uncertain pairs for a person.

The method (details, formulas and citations in ``docs/methods/dedup.md``):

1. **Normalise** each record (:func:`~._features.normalise`): mojibake repaired (ftfy) and a field
   that repeats its own beginning cut to one copy; DOI without resolver or prefix, PMID, title and
   abstract folded to lower-case ASCII words, first author's family name, journal without stop
   words, volume, first page, year; the numbers and roman numerals in the title ("Part II"), words
   that make another work of it ("Correction to", "protocol", "reply"), its count of content words
   and whether it is generic ("Editorial", "Book review: ...").
2. **Block** (:func:`~._features.candidate_pairs`): only records sharing a key are compared -- DOI,
   PMID, the first or last 18 letters of the title, its three longest words, the start of the
   abstract, first author with year (large blocks by sorted neighbourhood).
3. **Score** each candidate pair: 28 similarity features (rapidfuzz ratios and agreement indicators,
   :data:`~._features.FEATURES`) through a logistic model whose coefficients were fitted on a labelled
   benchmark (``benchmarks/fit_dedup_model.py``; held-out calibration in ``benchmarks/RESULTS.md``).
4. **Decide**: rules merge at once -- "same DOI", "same PMID", "updated version" (one DOI in two
   versions, as Cochrane updates a review: the latest is kept), and "same title (N content words) +
   no conflicting metadata" (identical titles with no different DOI, PMID, year, first author,
   journal, volume or first page, and either the same abstract, or a title that is not generic of
   at least 6 content words -- 4 when an abstract is missing, or fewer if the same year or first
   author backs it) -- when nothing in the titles says they are different works.
   Other pairs merge when the probability is at least ``merge_threshold`` (default 0.99) and no
   metadata conflicts and the title is not generic (unless the same DOI, PMID or journal + volume +
   first page back it); else they go to the review queue when the probability is at least
   ``review_threshold`` (default 0.5), a veto stopped them, or the titles are identical (four words
   or more), and are kept apart otherwise.
5. **Group** the merged pairs (connected components); keep the most complete record of each group
   (the latest version of an updated review) with every source label; log every merge with its
   reason. :meth:`DedupResult.split` undoes a merge and :meth:`DedupResult.merge` records a
   person's decision; neither changes the records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from whatworks._results import Result
from whatworks.errors import InputError, ParameterError

from ..records import Record, to_frame
from ._features import (
    FEATURES,
    TITLE_RULE_WORDS,
    TITLE_RULE_WORDS_NO_ABSTRACT,
    Normalised,
    candidate_pairs,
    doi_version,
    norm_doi,
    normalise,
    pair_features,
)
from ._model import match_probability

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FEATURES", "DedupResult", "Link", "MergeEvent", "PairScore", "deduplicate",
           "duplicate_metrics", "pair_table"]


@dataclass(frozen=True)
class PairScore:
    """A compared pair: its match probability, what was decided and why."""

    a: str
    b: str
    probability: float
    decision: str  # "merged", "review" or "distinct"
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "probability": round(self.probability, 6),
                "decision": self.decision, "reason": self.reason}


@dataclass(frozen=True)
class Link:
    """Two records judged the same work, by a rule, the model or a person."""

    a: str
    b: str
    probability: float | None
    reason: str
    by: str  # "exact key", "model" or "person"


@dataclass(frozen=True)
class MergeEvent:
    """One entry of the merge log."""

    action: str  # "merge" or "split"
    records: tuple[str, ...]
    reason: str
    by: str
    probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "records": list(self.records), "reason": self.reason,
                "by": self.by, "probability": self.probability}

    def __str__(self) -> str:
        p = f" (p = {self.probability:.3f})" if self.probability is not None else ""
        return f"{self.action} {' + '.join(self.records)}: {self.reason}{p} [{self.by}]"


def _reason(x: Sequence[float]) -> str:
    f = dict(zip(FEATURES, x, strict=True))
    parts = []
    if f["doi_same"]:
        parts.append("same DOI")
    if f["pmid_same"]:
        parts.append("same PMID")
    if not f["title_missing"]:
        parts.append("same title" if f["title_sim"] >= 1.0 else f"title {f['title_sim']:.2f}")
    if f["year_same"]:
        parts.append("same year")
    elif f["year_off_by_one"]:
        parts.append("year +-1")
    if f["author_same"]:
        parts.append("first author")
    if f["journal_sim"] >= 0.9:
        parts.append("journal")
    if f["volume_same"]:
        parts.append("volume")
    if f["page_same"]:
        parts.append("first page")
    if not f["abstract_missing"] and f["abstract_sim"] >= 0.9:
        parts.append(f"abstract {f['abstract_sim']:.2f}")
    against = [name for name, on in (("different DOI", f["doi_diff"]), ("different year", f["year_diff"]),
                                     ("different first author", f["author_diff"]),
                                     ("different numbers in title", f["numbers_differ"]),
                                     ("correction/reply/protocol in one title", f["markers_differ"]))
               if on]
    text = " + ".join(parts) if parts else "nothing in common"
    return text + (f"; against: {', '.join(against)}" if against else "")


#: Journals less alike than this (token-set ratio, or initials) are different journals.
JOURNAL_CONFLICT = 0.5


def _conflicts(f: dict[str, float], na: Normalised, nb: Normalised) -> list[str]:
    """What in the metadata says two records are different works: a different DOI (other than
    another version of the same DOI), PMID, year (even one apart), first author, journal, volume or
    first page."""
    out = []
    if f["doi_diff"] and na.doi_work != nb.doi_work:
        out.append("different DOI")
    if f["pmid_diff"]:
        out.append("different PMID")
    if f["year_diff"]:
        out.append("different year")
    if f["year_off_by_one"]:
        out.append("year +-1")
    if f["author_diff"]:
        out.append("different first author")
    if na.journal and nb.journal and f["journal_sim"] < JOURNAL_CONFLICT:
        out.append("different journal")
    if f["volume_diff"]:
        out.append("different volume")
    if f["page_diff"]:
        out.append("different first page")
    return out


def _exact_rule(x: Sequence[float], na: Normalised, nb: Normalised) -> str | None:
    """The reason two records are one work by a rule, or ``None`` (then the model decides)."""
    f = dict(zip(FEATURES, x, strict=True))
    if f["numbers_differ"] or f["markers_differ"]:
        return None
    titles_agree = f["title_missing"] or f["title_sim"] >= 0.8
    if f["doi_same"] and titles_agree and not f["year_diff"]:
        return "same DOI"
    if f["pmid_same"] and titles_agree and not f["doi_diff"]:
        return "same PMID"
    if (f["doi_diff"] and na.doi_work == nb.doi_work and not f["title_missing"] and f["title_sim"] >= 0.9
            and not f["pmid_diff"]):
        return (f"updated version: the same DOI {na.doi_work} in versions {na.doi_version} and "
                f"{nb.doi_version}; the latest version is kept, the earlier one is listed under it")
    if f["title_sim"] < 1.0 or _conflicts(f, na, nb):
        return None
    # the titles are identical, so both records have the same content words and genericness
    same_abstract = not f["abstract_missing"] and f["abstract_sim"] >= 0.9
    long_title = na.content_words >= TITLE_RULE_WORDS and not na.generic
    backed = f["abstract_missing"] and not na.generic and (
        na.content_words >= TITLE_RULE_WORDS_NO_ABSTRACT or f["year_same"] or f["author_same"])
    if not (same_abstract or long_title or backed):
        return None
    extra = [w for w, on in (("same year", f["year_same"]), ("first author", f["author_same"]),
                             ("journal", f["journal_sim"] >= 0.9), ("volume", f["volume_same"]),
                             ("first page", f["page_same"]), ("same abstract", same_abstract)) if on]
    head = f"same title ({na.content_words} content words)" if long_title else "same title"
    text = " + ".join([head, *extra, "no conflicting metadata"])
    if not f["abstract_missing"] and not same_abstract:
        text += f"; abstracts differ ({f['abstract_sim']:.2f})"
    return text


def _veto(x: Sequence[float], na: Normalised, nb: Normalised) -> list[str]:
    """Why a pair the model would merge goes to a person instead: a metadata conflict
    (:func:`_conflicts`) or a generic title ("Editorial", "Book review: ...") that no shared DOI, PMID
    or journal + volume + first page backs. The model was fitted on pairs where no true duplicate had
    a metadata conflict and no title was generic, so its probability says nothing about such pairs
    (``docs/methods/dedup.md``)."""
    f = dict(zip(FEATURES, x, strict=True))
    out = _conflicts(f, na, nb)
    # journal + volume + first page locate one item as surely as a DOI does
    located = f["journal_sim"] >= 0.9 and f["volume_same"] and f["page_same"]
    if (na.generic or nb.generic) and not (f["doi_same"] or f["pmid_same"] or located):
        out.append("a generic title")
    return out


class _UnionFind:
    def __init__(self, ids: Sequence[str]):
        self.parent = {i: i for i in ids}

    def find(self, x: str) -> str:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@dataclass(frozen=True, repr=False)
class DedupResult(Result):
    """Duplicate groups, scored pairs, the review queue and the merge log.

    ``groups`` holds the groups of two or more record ids judged the same work (first the record
    kept: the most complete, the earliest on ties). ``kept`` maps each group's kept id to the
    source labels of all its members.
    """

    records: tuple[Record, ...]
    pairs: tuple[PairScore, ...]
    links: tuple[Link, ...]
    log: tuple[MergeEvent, ...]
    merge_threshold: float
    review_threshold: float
    groups: tuple[tuple[str, ...], ...] = field(default=())

    def __post_init__(self):
        if not self.groups:
            object.__setattr__(self, "groups", self._compute_groups())

    def _compute_groups(self) -> tuple[tuple[str, ...], ...]:
        ids = [r.id for r in self.records]
        uf = _UnionFind(ids)
        for link in self.links:
            uf.union(link.a, link.b)
        members: dict[str, list[int]] = {}
        for pos, i in enumerate(ids):
            members.setdefault(uf.find(i), []).append(pos)
        groups = []
        for positions in members.values():
            if len(positions) < 2:
                continue
            best = max(positions,
                       key=lambda p: (self._version(positions, p), self.records[p].completeness, -p))
            ordered = [best] + [p for p in positions if p != best]
            groups.append(tuple(self.records[p].id for p in ordered))
        position = {i: k for k, i in enumerate(ids)}
        groups.sort(key=lambda g: position[g[0]])
        return tuple(groups)

    def _version(self, positions: list[int], p: int) -> int:
        """The version of record ``p``'s DOI when its group holds several versions of that DOI (an
        updated review: the latest version is kept), else 0."""
        doi = norm_doi(self.records[p].doi)
        if not doi:
            return 0
        work, version = doi_version(doi)
        versions = {doi_version(norm_doi(self.records[q].doi)) for q in positions if self.records[q].doi}
        return version if len({v for w, v in versions if w == work}) > 1 else 0

    # ---- what people ask of it

    @property
    def n_removed(self) -> int:
        """Records removed as duplicates (all but the kept record of each group)."""
        return sum(len(g) - 1 for g in self.groups)

    @property
    def review_queue(self) -> tuple[PairScore, ...]:
        """Uncertain pairs for a person, most probable first (those not already in one group)."""
        group_of = {i: k for k, g in enumerate(self.groups) for i in g}
        queue = [p for p in self.pairs if p.decision == "review"
                 and (p.a not in group_of or group_of.get(p.a) != group_of.get(p.b))]
        return tuple(sorted(queue, key=lambda p: -p.probability))

    def kept_ids(self) -> list[str]:
        """Ids of the records kept: every record not removed as a duplicate."""
        removed = {i for g in self.groups for i in g[1:]}
        return [r.id for r in self.records if r.id not in removed]

    def deduplicated(self) -> list[Record]:
        """The kept records; each kept record of a group carries every member's source label."""
        by_id = {r.id: r for r in self.records}
        sources = {}
        for g in self.groups:
            labels = []
            for i in g:
                for s in (by_id[i].source_database or "").split("; "):
                    if s and s not in labels:
                        labels.append(s)
            sources[g[0]] = "; ".join(labels) or None
        out = []
        for i in self.kept_ids():
            r = by_id[i]
            out.append(r.with_(source_database=sources[i]) if i in sources else r)
        return out

    # ---- reversible decisions

    def split(self, record_id: str, *, reason: str = "split by a person") -> DedupResult:
        """Undo the merges of one record: it leaves its group (the others stay together if linked)."""
        if record_id not in {r.id for r in self.records}:
            raise ParameterError("record_id", record_id, "the id of a record in this result")
        links = tuple(lk for lk in self.links if record_id not in (lk.a, lk.b))
        event = MergeEvent("split", (record_id,), reason, "person")
        return DedupResult(self.records, self.pairs, links, (*self.log, event), self.merge_threshold,
                           self.review_threshold)

    def merge(self, a: str, b: str, *, reason: str = "judged the same work by a person") -> DedupResult:
        """Record a person's decision that two records are the same work."""
        ids = {r.id for r in self.records}
        for name, v in (("a", a), ("b", b)):
            if v not in ids:
                raise ParameterError(name, v, "the id of a record in this result")
        p = next((s.probability for s in self.pairs if {s.a, s.b} == {a, b}), None)
        link = Link(a, b, p, reason, "person")
        event = MergeEvent("merge", (a, b), reason, "person", p)
        return DedupResult(self.records, self.pairs, (*self.links, link), (*self.log, event),
                           self.merge_threshold, self.review_threshold)

    # ---- output

    def to_dict(self) -> dict[str, Any]:
        return {"groups": [list(g) for g in self.groups],
                "pairs": [p.to_dict() for p in self.pairs],
                "review_queue": [p.to_dict() for p in self.review_queue],
                "log": [e.to_dict() for e in self.log],
                "n_records": len(self.records), "n_removed": self.n_removed,
                "merge_threshold": self.merge_threshold, "review_threshold": self.review_threshold}

    def to_frame(self) -> pd.DataFrame:
        """One row per record: its fields, its group (the kept record's id) and whether it is kept."""
        frame = to_frame(self.records)
        group_of = {i: g[0] for g in self.groups for i in g}
        frame["duplicate_of"] = [group_of.get(i) if group_of.get(i) != i else None for i in frame["id"]]
        frame["group"] = [group_of.get(i, i) for i in frame["id"]]
        frame["kept"] = [group_of.get(i, i) == i for i in frame["id"]]
        return frame

    def summary_text(self) -> str:
        return (f"{len(self.records)} records: {len(self.groups)} duplicate groups, {self.n_removed} "
                f"records removed, {len(self.review_queue)} pairs for review "
                f"(merge at p >= {self.merge_threshold}, review at p >= {self.review_threshold})")


def deduplicate(records: Sequence[Record], *, merge_threshold: float = 0.99,
                review_threshold: float = 0.5, min_reported: float = 0.01,
                model: tuple[float, np.ndarray] | None = None) -> DedupResult:
    """Find duplicates among records (see the module docstring for the method).

    Parameters
    ----------
    records : the records; their ids must be unique.
    merge_threshold : pairs with a match probability at least this merge automatically.
    review_threshold : pairs at least this (and below ``merge_threshold``) go to the review queue.
    min_reported : pairs below this probability, and not merged, are left out of ``pairs``.
    model : ``(intercept, slopes)`` to use instead of the shipped coefficients (for refitting and
        cross-validation).
    """
    if not 0 < review_threshold <= merge_threshold <= 1:
        raise ParameterError("merge_threshold/review_threshold", (merge_threshold, review_threshold),
                             "0 < review_threshold <= merge_threshold <= 1")
    records = tuple(records)
    seen: dict[str, int] = {}
    for pos, r in enumerate(records):
        if r.id in seen:
            raise InputError(f"record id {r.id!r} is used twice (rows {seen[r.id] + 1} and {pos + 1}); "
                             "ids must be unique", row=pos + 1, column="id")
        seen[r.id] = pos
    norm = [normalise(r) for r in records]
    pairs, X = pair_features(norm, candidate_pairs(norm))
    prob = match_probability(X, *(model or (None, None)))
    scores, links, log = [], [], []
    rows = X.tolist()
    for k, (i, j) in enumerate(pairs.tolist()):
        p = float(prob[k])
        x = rows[k]
        if p < min_reported and p < merge_threshold and not (x[5] or x[6] or x[7] or x[0] >= 1.0):
            continue  # cannot be merged by a rule (no DOI to compare, no shared PMID, titles differ)
        rule = _exact_rule(x, norm[i], norm[j])
        a, b = records[i].id, records[j].id
        veto = _veto(x, norm[i], norm[j]) if rule is None and p >= merge_threshold else []
        if veto:
            decision, reason = "review", _reason(x) + f"; not merged automatically: {', '.join(veto)}"
        elif rule is not None or p >= merge_threshold:
            reason = rule or _reason(x)
            by = "exact key" if rule else "model"
            decision = "merged"
            links.append(Link(a, b, p, reason, by))
            log.append(MergeEvent("merge", (a, b), reason, by, p))
        elif p >= review_threshold:
            decision, reason = "review", _reason(x)
        elif x[0] >= 1.0 and len(norm[i].title.split()) >= 4:
            # identical titles are never dismissed unseen: a person decides (an updated review, a
            # reprint, a different abstract of the same paper)
            decision, reason = "review", _reason(x) + "; identical titles are always reviewed"
        else:
            if p < min_reported:
                continue
            decision, reason = "distinct", _reason(x)
        scores.append(PairScore(a, b, p, decision, reason))
    return DedupResult(records, tuple(scores), tuple(links), tuple(log), merge_threshold,
                       review_threshold)


def duplicate_metrics(groups: Sequence[Sequence[str]], work_of: dict[str, object]) -> dict[str, float]:
    """Sensitivity and specificity counted on records, as ASySD reports them.

    A record is a *duplicate* when an earlier record is the same work; each work's first record is
    *unique*. Sensitivity = duplicate records removed / all duplicate records; specificity = unique
    records kept / all unique records. Removal is counted per work, so it does not matter which
    member of a group is kept: a work loses its unique record only when all of its records are
    removed (merged into a group kept by another work's record).

    References
    ----------
    Hair K, Bahor Z, Macleod M, Liao J, Sena ES (2023). The Automated Systematic Search Deduplicator
    (ASySD): a rapid, open-source, interoperable tool to remove duplicate citations in biomedical
    systematic reviews. *BMC Biology* 21:189.
    """
    n_records: dict[object, int] = {}
    for work in work_of.values():
        n_records[work] = n_records.get(work, 0) + 1
    removed_of: dict[object, int] = {}
    for g in groups:
        for i in g[1:]:
            w = work_of[i]
            removed_of[w] = removed_of.get(w, 0) + 1
    duplicates = sum(n - 1 for n in n_records.values())
    dup_removed = 0
    unique_lost = 0
    for w, n in n_records.items():
        r = removed_of.get(w, 0)
        if r >= n:  # every record of this work was removed: its unique record too
            unique_lost += 1
            dup_removed += n - 1
        else:
            dup_removed += r
    uniques = len(n_records)
    return {"records": len(work_of), "unique_records": uniques, "duplicate_records": duplicates,
            "duplicates_removed": dup_removed, "uniques_removed": unique_lost,
            "sensitivity": dup_removed / duplicates if duplicates else float("nan"),
            "specificity": (uniques - unique_lost) / uniques if uniques else float("nan")}


def pair_table(records: Sequence[Record]) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (positions) and their feature matrix, for fitting and evaluating the model."""
    norm = [normalise(r) for r in records]
    return pair_features(norm, candidate_pairs(norm))
