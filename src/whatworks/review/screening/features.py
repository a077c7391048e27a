"""Turning records into vectors once: TF-IDF over word and character n-grams.

Feature extraction runs once per review; every model refit reuses the same sparse matrix, so a
ranking refresh costs only the refit and one sparse matrix-vector product.

The word features are scikit-learn's ``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True,
max_df=0.95)`` (tokens of two or more word characters, lower-cased; words and adjacent word pairs,
less those in more than 95% of the records; idf
``ln((1 + n) / (1 + df)) + 1``; ``1 + ln(tf)``; rows of unit length), computed by
:func:`word_tfidf` with the tokens mapped to integers once and the word pairs, counts and weights
formed by array operations: the same matrix up to the order of the columns (tested), about five
times faster, which matters because a whole simulation (and ASReview's, the benchmark's peer)
includes it. Character n-grams use scikit-learn's vectoriser itself.

References
----------
Salton G, Buckley C (1988). Term-weighting approaches in automatic text retrieval. Information
Processing & Management 24(5):513-523.
"""

from __future__ import annotations

import re

import numpy as np

from whatworks.errors import ParameterError

from .registry import FEATURES

__all__ = ["FEATURES", "MEANING_DIM", "MEANING_WEIGHT", "extract", "meaning_vectors", "word_tfidf"]

#: Columns of the meaning block that ``tfidf-meaning`` appends (the last columns of the matrix).
MEANING_DIM = 256
#: Length of the meaning block relative to the words' block (unit length) before the rows are
#: scaled back to unit length: 0.3 in the benchmark (benchmarks/RESULTS.md).
MEANING_WEIGHT = 0.3

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern


def word_tfidf(texts, *, max_df: float = 1.0) -> tuple:
    """TF-IDF of words and adjacent word pairs: ``(X, names)``, X a float64 CSR matrix.

    ``names`` lists the column names (a word, or two words joined by a space), as scikit-learn's
    ``get_feature_names_out`` would, in this function's column order. Terms in more than
    ``max_df`` of the texts are dropped first (scikit-learn's ``max_df``).
    """
    from scipy import sparse

    texts = list(texts)
    vocab: dict[str, int] = {}
    add = vocab.setdefault
    ids: list[int] = []
    lens = np.empty(len(texts), dtype=np.int64)
    for j, doc in enumerate(texts):
        before = len(ids)
        ids.extend([add(t, len(vocab)) for t in _TOKEN.findall(doc.lower())])
        lens[j] = len(ids) - before
    flat = np.asarray(ids, dtype=np.int64)
    n_words = len(vocab)
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), lens)
    same = doc[1:] == doc[:-1]  # adjacent tokens of the same record form a word pair
    pair_keys, pair_col = np.unique(flat[:-1][same] * max(n_words, 1) + flat[1:][same], return_inverse=True)
    cols = np.concatenate([flat, n_words + pair_col.ravel()])
    rows = np.concatenate([doc, doc[:-1][same]])
    n_cols = n_words + len(pair_keys)
    X = sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(texts), n_cols))
    X.sum_duplicates()  # counts; sorted column indices within each row
    df = np.bincount(X.indices, minlength=n_cols)
    keep = None
    if max_df < 1.0:
        keep = df <= max_df * len(texts)
        if not keep.all():
            X = X[:, np.flatnonzero(keep)].tocsr()
            X.sort_indices()
            df = df[keep]
        else:
            keep = None
    idf = np.log((1 + len(texts)) / (1 + df)) + 1
    X.data = (1 + np.log(X.data)) * idf[X.indices]
    row_len = np.diff(X.indptr)
    norms = np.ones(len(texts))
    filled = row_len > 0
    if filled.any():
        norms[filled] = np.sqrt(np.add.reduceat(X.data ** 2, X.indptr[:-1][filled]))
    X.data /= np.repeat(norms, row_len)
    words = np.empty(n_words, dtype=object)
    for w, i in vocab.items():
        words[i] = w
    names = list(words)
    if len(pair_keys):
        first, second = np.divmod(pair_keys, max(n_words, 1))
        names += [f"{a} {b}" for a, b in zip(words[first], words[second], strict=True)]
    if keep is not None:
        names = [n for n, k in zip(names, keep, strict=True) if k]
    return X, names


def meaning_vectors(texts, dim: int | None = None) -> np.ndarray:
    """Each text's meaning: the unit-length mean of its WordLlama token embeddings (0 if no tokens),
    the first ``MEANING_DIM`` dimensions (``whatworks.search.semantic.mean_vectors``: the same
    vectors as ``WordLlamaInference.embed(texts, norm=True)``, tested, at a fraction of the CPU)."""
    from whatworks.errors import WhatWorksError
    from whatworks.search import semantic

    try:
        # WordLlama's model is Matryoshka-trained: a prefix of the dimensions is itself an embedding
        return semantic.mean_vectors(texts, dim=MEANING_DIM if dim is None else dim)
    except (ImportError, OSError) as exc:
        raise WhatWorksError(f"features 'tfidf-meaning' need the wordllama package's model ({exc}); "
                             "install whatworks' dependencies or choose --features tfidf") from exc


def extract(texts, kind: str = "tfidf"):
    """A CSR matrix (one L2-normalised row per text) for the feature extractor ``kind``."""
    from scipy import sparse

    if kind not in FEATURES:
        raise ParameterError("features", kind, ", ".join(FEATURES))
    texts = list(texts)
    # Every term but those in more than 95% of the records is kept: dropping stop words and terms
    # seen once cost 11 points of WSS@95 on the nudging benchmark (rare terms and phrases such as
    # "nudge" + "default" carry the signal); the 95% cut is ASReview's (ELAS u4).
    X, _ = word_tfidf(texts, max_df=0.95)
    if kind == "tfidf-char":
        from sklearn.feature_extraction.text import TfidfVectorizer

        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2,
                               dtype=np.float32)
        C = char.fit_transform(texts)
        X = sparse.hstack([X, C], format="csr") * (2 ** -0.5)  # rows stay unit length
    if kind == "tfidf-meaning":
        # the meaning block last (models.SelectSVM reads the words as the first columns); rows
        # back to unit length, so a record without meaning (no tokens) keeps its words' weight
        E = MEANING_WEIGHT * meaning_vectors(texts)
        X = sparse.hstack([X, sparse.csr_matrix(E)], format="csr")
        X = sparse.diags(1 / np.sqrt(1 + (E ** 2).sum(axis=1))) @ X
    X = sparse.csr_matrix(X, dtype=np.float32)
    X.sort_indices()  # row slices keep the order, so refits need not sort again (models.fit_scores)
    return X
