"""Deduplication: exact keys, fuzzy matches, hard non-duplicates, reversible merges, the metrics."""

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.review.conftest import shared
from whatworks.errors import WhatWorksError
from whatworks.review.dedup import deduplicate, duplicate_metrics
from whatworks.review.dedup._features import norm_doi, norm_text
from whatworks.review.records import Record

BASE = Record(id="a", title="Family group conferences and re-referral: a randomised controlled trial",
              abstract="We randomised 400 families to family group conferences or usual care and "
                       "followed re-referral to children's social care for two years.",
              authors=("Smith, Jane", "Doe, John"), year=2019, journal="Child Abuse & Neglect",
              volume="90", pages="10-19", doi="10.1016/j.chiabu.2019.01.001", source_database="Scopus")


def test_normalisation():
    assert norm_doi("https://doi.org/10.1016/J.CHIABU.2019.01.001.") == "10.1016/j.chiabu.2019.01.001"
    assert norm_doi("doi: 10.1000/ABC") == "10.1000/abc" and norm_doi("n/a") == ""
    assert norm_text("Behaviour &amp;amp; <i>programmes</i>: a RANDOMISED trial.") == \
        "behavior and programs a randomized trial"


def test_same_doi_merges_with_that_reason():
    b = BASE.with_(id="b", title=BASE.title.upper(), abstract=None, source_database="Embase")
    res = deduplicate([BASE, b])
    assert res.groups == (("a", "b"),)
    assert res.log[0].reason == "same DOI"
    assert res.pairs[0].probability > 0.9


def test_a_copy_without_doi_matches_by_title_year_and_author():
    b = BASE.with_(id="b", doi=None, title="Family group conferences and re-referral - a randomized "
                                           "controlled trial.", abstract=None, pages="10-9")
    res = deduplicate([BASE, b])
    assert res.groups == (("a", "b"),)
    assert "same title" in res.log[0].reason and "first author" in res.log[0].reason


def test_correction_notice_with_the_same_doi_is_a_different_work():
    b = BASE.with_(id="b", title="Correction to: " + BASE.title, abstract=None)
    res = deduplicate([BASE, b], min_reported=0)
    assert res.groups == ()
    assert res.pairs[0].decision == "distinct" and "correction" in res.pairs[0].reason


def test_part_one_and_part_two_are_different_works():
    a = BASE.with_(doi=None, title=BASE.title + ": Part I")
    b = BASE.with_(id="b", doi=None, title=BASE.title + ": Part II", abstract="Another abstract entirely.")
    assert deduplicate([a, b]).groups == ()


def test_the_most_complete_record_is_kept_with_every_source_label():
    poor = BASE.with_(id="poor", abstract=None, journal=None, volume=None, pages=None, authors=(),
                      source_database="PubMed")
    res = deduplicate([poor, BASE])
    assert res.groups == (("a", "poor"),)
    kept = res.deduplicated()
    assert [r.id for r in kept] == ["a"] and kept[0].source_database == "Scopus; PubMed"
    assert res.to_frame().set_index("id").loc["poor", "duplicate_of"] == "a"


def test_merges_are_logged_and_reversible():
    b = BASE.with_(id="b", source_database="Embase")
    c = Record(id="c", title="Something else entirely about adoption", year=2001)
    res = deduplicate([BASE, b, c])
    undone = res.split("b")
    assert undone.groups == () and undone.log[-1].action == "split"
    assert res.groups == (("a", "b"),)  # the original result is unchanged
    redone = undone.merge("a", "b")
    assert redone.groups == (("a", "b"),) and redone.log[-1].by == "person"
    with pytest.raises(WhatWorksError, match="record_id='zz'"):
        res.split("zz")


def test_uncertain_pairs_are_queued_not_merged():
    # one word differs and nothing else can be compared: p ~ 0.99, just under the merge threshold
    b = BASE.with_(id="b", doi=None, authors=(), journal=None, volume=None, pages=None, year=None,
                   abstract=None, title="Family group conference and re-referral: a randomised "
                                        "controlled trial")
    res = deduplicate([BASE, b], merge_threshold=0.995)
    assert res.groups == ()
    assert [(p.a, p.b, p.decision) for p in res.review_queue] == [("a", "b", "review")]
    assert res.review_queue[0].reason == "title 0.99"


def test_duplicate_ids_are_refused():
    with pytest.raises(WhatWorksError, match="record id 'a' is used twice"):
        deduplicate([BASE, BASE])


def test_thresholds_are_checked():
    with pytest.raises(WhatWorksError, match="merge_threshold"):
        deduplicate([BASE], merge_threshold=0.3, review_threshold=0.5)


def test_duplicate_metrics_count_records_as_asysd():
    work = {"1": "w1", "2": "w1", "3": "w2", "4": "w3", "5": "w3"}
    # w1 found, w3 missed, and w2 wrongly merged into w1 (its only record removed)
    m = duplicate_metrics([("1", "2", "3")], work)
    assert (m["duplicate_records"], m["duplicates_removed"]) == (2, 1)
    assert (m["unique_records"], m["uniques_removed"]) == (3, 1)
    assert m["sensitivity"] == 0.5 and m["specificity"] == pytest.approx(2 / 3)


words = st.sampled_from("care child family foster school trial support home risk court youth".split())


@settings(max_examples=40, deadline=None)
@given(titles=st.lists(st.lists(words, min_size=3, max_size=8).map(" ".join), min_size=1, max_size=25),
       copies=st.lists(st.integers(0, 24), max_size=5))
def test_groups_partition_records_and_exact_copies_are_found(titles, copies):
    recs = [Record(id=f"r{i}", title=t, year=2000 + i % 3) for i, t in enumerate(titles)]
    for k, c in enumerate(copies):
        if c < len(titles):
            recs.append(recs[c].with_(id=f"copy{k}"))
    res = deduplicate(recs)
    seen = [i for g in res.groups for i in g]
    assert len(seen) == len(set(seen))
    assert len(res.kept_ids()) + res.n_removed == len(recs)
    group_of = {i: g for g in res.groups for i in g}
    for k, c in enumerate(copies):
        if c < len(titles):
            assert f"copy{k}" in group_of and f"r{c}" in group_of[f"copy{k}"]


def _benchmark_records():
    frame = pd.read_csv(shared("dedup", "dedup_benchmark.csv"), dtype=str, keep_default_na=False)
    recs, work = [], {}
    for r in frame.itertuples(index=False):
        rec = Record(id=r.record_id, title=r.title or None, abstract=r.abstract or None,
                     authors=tuple(a.strip() for a in r.authors.split(";") if a.strip()),
                     year=int(r.year) if r.year else None, journal=r.journal or None,
                     volume=r.volume or None, pages=r.pages or None, doi=r.doi or None)
        recs.append(rec)
        work[rec.id] = r.work_id
    return recs, work


def _corrected(recs, work):
    """The benchmark's truth with the work_ids joined of records whose titles match a pair that the
    benchmark's own source, the nudging export, marks as duplicates (benchmarks/RESULTS.md)."""
    frame = _nudging_frame()
    marked = {norm_text(t) for t, d in zip(frame.title, frame.duplicate_record_id, strict=True) if d}
    alias: dict[str, str] = {}
    by_title: dict[str, set] = {}
    for r in recs:
        if norm_text(r.title) in marked:
            by_title.setdefault(norm_text(r.title), set()).add(work[r.id])
    for works in by_title.values():
        for w in works:
            alias[w] = min(works)
    return {i: alias.get(w, w) for i, w in work.items()}


def test_dedup_benchmark_sensitivity_and_specificity():
    # benchmarks/RESULTS.md: 475/475 duplicates removed; 11 of 2,049 unique records removed against
    # the truth as given -- 10 of them records the benchmark's source itself marks as duplicates
    # (corrected truth: 485/485 and 1 of 2,039, the unmarked identical pair); the bounds leave room
    # for one more error each way, no more.
    recs, work = _benchmark_records()
    groups = deduplicate(recs).groups
    m = duplicate_metrics(groups, work)
    assert m["sensitivity"] >= 474 / 475
    assert m["uniques_removed"] <= 12
    c = duplicate_metrics(groups, _corrected(recs, work))
    assert c["sensitivity"] >= 0.99 and c["specificity"] >= 0.999 and c["uniques_removed"] <= 2


def _nudging_frame():
    return pd.read_csv(shared("screening", "nudging_nagtegaal2019_full_with_TA_labels_and_duplicates.csv"),
                       dtype=str, keep_default_na=False)


def test_nudging_meets_the_target_of_97_percent_sensitivity_at_99_9_percent_specificity():
    # issue #11: counted on records as ASySD reports them, by the automatic merge alone
    frame = _nudging_frame()
    recs = [Record(id=r.record_id, title=r.title or None, abstract=r.abstract or None)
            for r in frame.itertuples(index=False)]
    work = {r.record_id: str(int(float(r.duplicate_record_id))) if r.duplicate_record_id else r.record_id
            for r in frame.itertuples(index=False)}
    res = deduplicate(recs)
    m = duplicate_metrics(res.groups, work)
    assert m["duplicate_records"] == 11
    assert m["sensitivity"] >= 0.97 and m["specificity"] >= 0.999
    reasons = {frozenset(e.records): e.reason for e in res.log}
    # mojibake quotes in one title: repaired, then identical
    assert reasons[frozenset({"276", "277"})].startswith("same title (")
    # the same title over different abstracts (an updated review; another summary; a garbled copy)
    for pair in ({"703", "704"}, {"1230", "1231"}, {"168", "169"}):
        assert "no conflicting metadata" in reasons[frozenset(pair)]


def test_the_same_100_records_exported_twice_pair_up_exactly():
    from whatworks.review.io import import_files

    result = import_files([shared("formats", "_baseline.ris"), shared("formats", "baseline_zotero.ris")])
    res = deduplicate(result.records)
    by_id = {r.id: r for r in result.records}
    assert len(res.groups) == 100 and all(len(g) == 2 for g in res.groups)
    for g in res.groups:  # one record from each export in every group
        assert {by_id[i].import_batch for i in g} == {"_baseline.ris", "baseline_zotero.ris"}
