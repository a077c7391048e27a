"""Deduplication: exact keys, fuzzy matches, hard non-duplicates, reversible merges, the metrics."""

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.review.conftest import shared
from whatworks.errors import WhatWorksError
from whatworks.review.dedup import deduplicate, duplicate_metrics
from whatworks.review.dedup._features import drop_repetition, norm_doi, norm_text, normalise, repair_text
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


# ---- text repair, the identical-title rule, updated reviews and the adversarial no-merge cases

TITLE = "Intensive family preservation services and placement prevention in child welfare"


def test_mojibake_is_repaired_before_titles_are_compared():
    clean = 'Using behavioural science tools to implement “Sepsis Six” in one hospital'
    garbled = clean.encode("utf-8").decode("cp1252", errors="replace")
    assert "â€" in garbled
    assert norm_text(garbled) == norm_text(clean) == \
        "using behavioral science tools to implement sepsis six in one hospital"
    assert repair_text("Müller & café – naïve") == "Müller & café – naïve"  # clean text unchanged


accented = st.text(alphabet=st.sampled_from(list("abcdefghij éüñçøå–“”‘’…ÄÖ")), min_size=1, max_size=80)


@settings(max_examples=200, deadline=None)
@given(text=accented)
@example(text="c…ü“é")  # ftfy alone went on to decode the repaired text as Mac Roman
@example(text="aa‘ü‘ü")
def test_utf8_read_as_windows_1252_normalises_like_the_original(text):
    garbled = text.encode("utf-8").decode("cp1252", errors="ignore")
    if garbled.encode("cp1252", errors="ignore").decode("utf-8", errors="ignore") != text:
        return  # cp1252 cannot hold this text's bytes (0x81, 0x8d, 0x8f, 0x90, 0x9d): nothing to repair
    assert norm_text(garbled) == norm_text(text)


def test_a_field_holding_two_copies_of_itself_is_cut_to_one():
    head = "background clinical guidelines for improving the quality of care are familiar"
    assert drop_repetition(head + " " + head[:50]) == head
    assert drop_repetition(head + " " + head) == head
    # a phrase recurring inside a text is not a repetition of the text
    text = head + " and then " + head[:45] + " went on to say something else entirely"
    assert drop_repetition(text) == text


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=9), min_size=8, max_size=60),
       cut=st.integers(40, 300))
def test_a_repeated_text_is_cut_at_the_repetition(words, cut):
    text = " ".join(words)  # a normalised text: words and single spaces
    doubled = text + " " + text[:cut]
    if len(text) < 40 or doubled.find(text[:40], 1) != len(text) + 1:
        return  # the beginning recurs elsewhere, so the repetition does start earlier
    assert drop_repetition(text) == text
    assert drop_repetition(doubled) == text


def test_the_same_long_title_over_different_abstracts_merges_saying_why():
    a = Record(id="a", title=TITLE, abstract="We followed 600 families referred to the service for "
                                              "two years and counted out-of-home placements.")
    b = Record(id="b", title=TITLE.upper() + ".", abstract="Placement prevention is the aim of intensive "
                                                            "family preservation; this summary reports it.")
    res = deduplicate([a, b])
    assert res.groups == (("a", "b"),)
    assert res.log[0].reason.startswith("same title (8 content words) + no conflicting metadata; "
                                        "abstracts differ")
    assert res.split("b").groups == ()  # reversible as every merge


def test_a_short_title_over_different_abstracts_is_not_enough():
    a = Record(id="a", title="Hepatitis E virus", abstract="Hepatitis E virus (HEV) is a non-enveloped, "
                                                           "positive-sense RNA virus found in pigs.")
    b = Record(id="b", title="Hepatitis E virus", abstract="Since the sequence of hepatitis E virus was "
                                                           "determined, genotypes have been described.")
    assert deduplicate([a, b]).groups == ()


@pytest.mark.parametrize("field, values", [
    ("doi", ("10.1000/one", "10.1000/two")), ("year", (2012, 2015)), ("year", (2018, 2019)),
    ("authors", (("Smith, Jane",), ("Jones, Ann",))), ("journal", ("Child Abuse & Neglect", "The Lancet")),
    ("volume", ("12", "13")), ("pages", ("101-110", "220-230")), ("pmid", ("111", "222")),
])
def test_the_same_long_title_with_conflicting_metadata_is_not_merged_but_queued(field, values):
    a = Record(id="a", title=TITLE, **{field: values[0]})
    b = Record(id="b", title=TITLE, **{field: values[1]})
    res = deduplicate([a, b])
    assert res.groups == ()
    assert [p.decision for p in res.review_queue] == ["review"]


def test_an_updated_review_merges_and_keeps_the_latest_version():
    old = Record(id="old", title="Email for clinical communication between healthcare professionals",
                 abstract="This review assesses the use of email for clinical communication.",
                 authors=("Goyder, C",), year=2012, journal="Cochrane Database Syst Rev", volume="9",
                 pages="CD007979", doi="10.1002/14651858.CD007979.pub2", source_database="CDSR")
    new = old.with_(id="new", abstract="We updated a 2012 review of the use of email.", year=2015,
                    doi="10.1002/14651858.CD007979.pub3", volume=None, pages=None)
    res = deduplicate([old, new])
    assert res.groups == (("new", "old"),)  # the latest version is kept although less complete
    assert res.log[0].reason.startswith("updated version: the same DOI 10.1002/14651858.cd007979")
    # without the DOIs, the years conflict: a person decides
    res = deduplicate([old.with_(doi=None), new.with_(doi=None)])
    assert res.groups == () and len(res.review_queue) == 1


def _generic_pairs():
    """Distinct works that share a short or generic title: each pair differs in some metadata."""
    j, k = "Child Abuse & Neglect", "Children and Youth Services Review"
    cases = []
    for title in ("Editorial", "Correction", "Introduction", "Book review", "Erratum", "Preface",
                  "Book review: Handbook of child maltreatment research and practice",
                  "Letter to the editor", "In memoriam: a pioneer of social work research",
                  "Abstracts of the annual meeting of the Society for Social Work and Research",
                  "Proceedings of the European conference on social work research",
                  "Editorial: the year in child protection research and practice"):
        cases += [
            (dict(title=title, year=2019, journal=j, volume="90", pages="1"),
             dict(title=title, year=2019, journal=j, volume="91", pages="1")),
            (dict(title=title, year=2019, journal=j), dict(title=title, year=2019, journal=k)),
            (dict(title=title, year=2019, authors=("Smith, J",), journal=j),
             dict(title=title, year=2020, authors=("Smith, J",), journal=j)),
            (dict(title=title, year=2018, authors=("Doe, A",)), dict(title=title, year=2018,
                                                                  authors=("Roe, B",))),
            (dict(title=title, year=2015, journal=j, volume="40", pages="12-13"),
             dict(title=title, year=2015, journal=j, volume="40", pages="99-100")),
            (dict(title=title, doi="10.1016/j.chiabu.2019.01.001"), dict(title=title,
                                                                           doi="10.1016/j.chiabu.2019.02.002")),
            # a series of conference abstracts: one title, different years and authors, no abstract
            (dict(title=title, year=2018, authors=("Doe, A",), journal=j),
             dict(title=title, year=2019, authors=("Roe, B",), journal=j)),
        ]
    series = "Family group conferences in child protection: outcomes of a national programme"
    cases += [(dict(title=series, year=2018, authors=("Doe, A",), journal=j),
               dict(title=series, year=2019, authors=("Roe, B",), journal=j)),
              (dict(title=series, authors=("Doe, A",)), dict(title=series, authors=("Roe, B",)))]
    return cases


@pytest.mark.parametrize("a, b", _generic_pairs())
def test_distinct_works_with_the_same_short_or_generic_title_are_never_merged(a, b):
    res = deduplicate([Record(id="a", **a), Record(id="b", **b)])
    assert res.groups == (), res.log


def test_one_editorial_exported_twice_merges_by_journal_volume_and_first_page():
    a = Record(id="a", title="Editorial", year=2019, authors=("Smith, Jane",),
               journal="Child Abuse & Neglect", volume="90", pages="1-2", source_database="Scopus")
    b = a.with_(id="b", title="EDITORIAL.", journal="Child Abuse Negl", source_database="PubMed")
    res = deduplicate([a, b])
    assert res.groups == (("a", "b"),) and res.log[0].by == "model"
    # without the volume and page a person decides
    res = deduplicate([a.with_(volume=None, pages=None), b.with_(volume=None, pages=None)])
    assert res.groups == () and len(res.review_queue) == 1
    # nor do the same journal, volume and first page merge two editorials of different years
    assert deduplicate([a, b.with_(year=2020)]).groups == ()


def test_a_generic_title_in_a_crowd_of_its_kind_merges_nothing():
    # 40 editorials of one journal over 10 years and 4 volumes a year: all different works
    recs = [Record(id=f"e{y}-{v}", title="Editorial", year=2010 + y, journal="Child Abuse & Neglect",
                   volume=str(30 + 4 * y + v), authors=(f"Editor{y % 3}, A",))
            for y in range(10) for v in range(4)]
    assert deduplicate(recs).groups == ()


titles = st.sampled_from([TITLE, "Editorial", "Book review: Handbook of child maltreatment",
                          "Kinship care and placement stability", "Hepatitis E virus"])
pair_of = st.tuples


@settings(max_examples=300, deadline=None)
@given(t=titles,
       years=pair_of(st.sampled_from([None, 2018, 2019, 2021]), st.sampled_from([None, 2018, 2019])),
       authors=pair_of(st.sampled_from([(), ("Smith, J",), ("Jones, A",)]),
                       st.sampled_from([(), ("Smith, J",), ("Jones, A",)])),
       journals=pair_of(st.sampled_from([None, "Child Abuse & Neglect", "The Lancet"]),
                        st.sampled_from([None, "Child Abuse & Neglect", "Child Abuse Negl"])),
       dois=pair_of(st.sampled_from([None, "10.1/a", "10.1/b"]), st.sampled_from([None, "10.1/a"])),
       abstracts=pair_of(st.sampled_from([None, "We followed 600 families for two years and counted "
                                                "placements in care.", "A different study entirely, of "
                                                                       "schools and their exclusions."]),
                         st.sampled_from([None, "We followed 600 families for two years and counted "
                                                "placements in care."])))
def test_the_same_title_reason_keeps_its_promise(t, years, authors, journals, dois, abstracts):
    a = Record(id="a", title=t, year=years[0], authors=authors[0], journal=journals[0], doi=dois[0],
               abstract=abstracts[0])
    b = Record(id="b", title=t.lower(), year=years[1], authors=authors[1], journal=journals[1], doi=dois[1],
               abstract=abstracts[1])
    for event in deduplicate([a, b]).log:
        if "no conflicting metadata" not in event.reason:
            continue
        # "same title (N content words) + ... + no conflicting metadata" means just that
        na, nb = normalise(a), normalise(b)
        assert na.title == nb.title
        if event.reason.startswith("same title ("):
            n = int(event.reason.split("(")[1].split()[0])
            assert n == na.content_words >= 6 and not na.generic
        assert not (na.doi and nb.doi and na.doi != nb.doi)
        assert not (a.year and b.year and a.year != b.year)
        assert not (na.author and nb.author and na.author != nb.author)
        assert (a.journal is None or b.journal is None or a.journal == b.journal
                or {a.journal, b.journal} == {"Child Abuse & Neglect", "Child Abuse Negl"})
        if "abstracts differ" in event.reason:
            assert n >= 6


@settings(max_examples=300, deadline=None)
@given(t=st.sampled_from([TITLE, TITLE + "s", "Editorial", "Kinship care and placement stability"]),
       years=pair_of(st.sampled_from([None, 2018, 2019, 2021]), st.sampled_from([None, 2018])),
       authors=pair_of(st.sampled_from([(), ("Smith, J",), ("Jones, A",)]),
                       st.sampled_from([(), ("Smith, J",)])),
       volumes=pair_of(st.sampled_from([None, "12", "13"]), st.sampled_from([None, "12"])),
       pages=pair_of(st.sampled_from([None, "1-9", "20-29"]), st.sampled_from([None, "1-9"])),
       dois=pair_of(st.sampled_from([None, "10.1/a", "10.1/b"]), st.sampled_from([None, "10.1/a"])))
def test_the_model_never_merges_over_a_metadata_conflict_and_vetoes_name_a_real_one(
        t, years, authors, volumes, pages, dois):
    a = Record(id="a", title=t, year=years[0], authors=authors[0], volume=volumes[0], pages=pages[0],
               doi=dois[0], journal="Child Abuse & Neglect")
    b = Record(id="b", title=TITLE, year=years[1], authors=authors[1], volume=volumes[1], pages=pages[1],
               doi=dois[1], journal="Child Abuse & Neglect")
    conflicts = {"different DOI": bool(a.doi and b.doi and a.doi != b.doi),
                 "different year": bool(a.year and b.year and abs(a.year - b.year) > 1),
                 "year +-1": bool(a.year and b.year and abs(a.year - b.year) == 1),
                 "different first author": bool(a.authors and b.authors and a.authors != b.authors),
                 "different volume": bool(a.volume and b.volume and a.volume != b.volume),
                 "different first page": bool(a.pages and b.pages and a.pages != b.pages)}
    res = deduplicate([a, b], min_reported=0)
    for link in res.links:
        if link.by == "model" or "no conflicting metadata" in link.reason:
            assert not any(conflicts.values()), (link.reason, conflicts)
    for pair in res.pairs:
        if "not merged automatically: " in pair.reason:
            named = pair.reason.split("not merged automatically: ")[1].split(", ")
            assert all(conflicts.get(c, c == "a generic title") for c in named), (pair.reason, conflicts)
