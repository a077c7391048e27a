"""The feature cache of ``review screen``: a hit is the same matrix, a change misses, a bad file is
replaced, an unwritable folder is reported, and only the most recent matrices are kept."""

import json
import os

import numpy as np
import pytest

from tests.review.synthetic import synthetic_frame
from whatworks.cli import main
from whatworks.review.screening import feature_cache
from whatworks.review.screening.feature_cache import default_dir, extract_cached, feature_key
from whatworks.review.screening.features import extract


def _texts(n=60, seed=0):
    frame = synthetic_frame(n, 6, seed=seed)
    return [f"{t} {a}" for t, a in zip(frame.title, frame.abstract, strict=True)]


def _same(A, B):
    return (A.shape == B.shape and A.dtype == B.dtype and np.array_equal(A.indptr, B.indptr)
            and np.array_equal(A.indices, B.indices) and np.array_equal(A.data, B.data))


@pytest.fixture
def counted(monkeypatch):
    """Counts the extractions that really run."""
    from whatworks.review.screening import features

    calls = []
    real = features.extract

    def counting(texts, kind="tfidf"):
        calls.append(kind)
        return real(texts, kind)

    monkeypatch.setattr(features, "extract", counting)
    return calls


@pytest.mark.parametrize("kind", ["tfidf", "tfidf-meaning"])
def test_a_hit_is_the_same_matrix_bit_for_bit(tmp_path, counted, kind):
    texts = _texts()
    first, status = extract_cached(texts, kind, tmp_path)
    assert status == "stored" and counted == [kind]
    again, status = extract_cached(texts, kind, tmp_path)
    assert status == "hit" and counted == [kind]  # not extracted again
    assert _same(first, again) and _same(again, extract(texts, kind))
    assert again.has_sorted_indices


def test_a_changed_record_or_extractor_misses(tmp_path, counted):
    texts = _texts()
    extract_cached(texts, "tfidf", tmp_path)
    changed = texts[:-1] + [texts[-1] + " amended"]
    X, status = extract_cached(changed, "tfidf", tmp_path)
    assert status == "stored" and _same(X, extract(changed, "tfidf"))
    assert extract_cached(texts[::-1], "tfidf", tmp_path)[1] == "stored"  # order matters
    assert extract_cached(texts, "tfidf-meaning", tmp_path)[1] == "stored"
    assert len({feature_key(texts, "tfidf"), feature_key(changed, "tfidf"),
                feature_key(texts, "tfidf-meaning")}) == 3


def test_the_code_is_part_of_the_key(monkeypatch):
    texts = _texts(10)
    before = feature_key(texts, "tfidf")
    monkeypatch.setattr(feature_cache, "_code_fingerprint", lambda: b"another version of the code")
    assert feature_key(texts, "tfidf") != before


def test_an_unreadable_file_is_computed_again_and_replaced(tmp_path, counted):
    texts = _texts()
    path = tmp_path / f"{feature_key(texts, 'tfidf')}.npz"
    path.write_bytes(b"not a matrix")
    X, status = extract_cached(texts, "tfidf", tmp_path)
    assert status == "stored" and _same(X, extract(texts, "tfidf"))
    assert extract_cached(texts, "tfidf", tmp_path)[1] == "hit"


def test_a_folder_that_cannot_be_made_is_reported_and_the_run_goes_on(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    X, status = extract_cached(_texts(), "tfidf", blocker / "cache")
    assert status.startswith("not stored") and _same(X, extract(_texts(), "tfidf"))


def test_only_the_most_recently_used_matrices_are_kept(tmp_path):
    sets = [_texts(30, seed=s) for s in range(5)]
    for k, texts in enumerate(sets):
        extract_cached(texts, "tfidf", tmp_path, keep=3)
        if k == 1:  # the first set is used again: it stays among the three kept
            extract_cached(sets[0], "tfidf", tmp_path, keep=3)
            os.utime(tmp_path / f"{feature_key(sets[0], 'tfidf')}.npz")
    kept = {p.stem for p in tmp_path.glob("*.npz")}
    assert len(kept) == 3 and not list(tmp_path.glob("*.tmp"))
    assert feature_key(sets[4], "tfidf") in kept and feature_key(sets[3], "tfidf") in kept


def test_the_command_keeps_the_features_and_says_when_it_cannot(tmp_path, capsys, counted, monkeypatch):
    frame = synthetic_frame(50, 5, seed=2).drop(columns="label_included")
    records = tmp_path / "records.csv"
    frame.to_csv(records, index=False)
    cache = tmp_path / "cache"
    args = ["review", "screen", str(records), "--model", "svm", "--features", "tfidf", "--format", "json"]
    assert main([*args, "--cache", str(cache)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main([*args, "--cache", str(cache)]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (first["settings"]["feature_cache"], second["settings"]["feature_cache"]) == ("stored", "hit")
    assert first["next"] == second["next"] and counted == ["tfidf"]
    assert main([*args, "--no-cache"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["feature_cache"] == "off"
    with pytest.raises(SystemExit) as stop:  # both at once: refused, not one silently ignored
        main([*args, "--no-cache", "--cache", str(cache)])
    assert stop.value.code == 2 and "not allowed with" in capsys.readouterr().err
    # the default folder: $WHATWORKS_CACHE_DIR/screening-features
    monkeypatch.setenv("WHATWORKS_CACHE_DIR", str(tmp_path / "env"))
    assert default_dir() == tmp_path / "env" / "screening-features"
    assert main(args) == 0 and list((tmp_path / "env" / "screening-features").glob("*.npz"))
    capsys.readouterr()
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    assert main([*args[:-2], "--cache", str(blocker / "cache")]) == 0
    assert "feature cache: not stored" in capsys.readouterr().out
