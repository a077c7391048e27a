"""The screening session: what it shows next, when it refits, and its history."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.review.synthetic import synthetic_frame
from whatworks.errors import InputError, ParameterError
from whatworks.review.screening.data import Records
from whatworks.review.screening.features import extract
from whatworks.review.screening.session import ScreeningSession


@pytest.fixture(scope="module")
def review():
    frame = synthetic_frame(200, 15, seed=1)
    rec = Records.from_lists(frame.title, frame.abstract, frame.label_included)
    return extract(rec.texts), rec.labels


def test_without_both_classes_there_is_no_model_and_records_come_at_random(review):
    X, y = review
    s = ScreeningSession(X, seed=0)
    s.label(int(np.flatnonzero(y == 0)[0]), 0)
    assert not s.refresh()
    shown = s.next(3)
    assert len(shown) == 3 and all(s.labels_[shown] == -1)
    assert s.history_[0].source == "random"


@pytest.mark.parametrize("model", ["svm", "logistic", "nb"])
def test_after_one_label_of_each_class_the_top_record_has_the_highest_score(review, model):
    X, y = review
    s = ScreeningSession(X, model=model, seed=0)
    s.label(int(np.flatnonzero(y == 1)[0]), 1, source="prior")
    s.label(int(np.flatnonzero(y == 0)[0]), 0, source="prior")
    nxt = s.next(5)
    unlabelled = np.flatnonzero(s.labels_ < 0)
    assert s.scores_[nxt[0]] == pytest.approx(s.scores_[unlabelled].max())
    assert list(s.scores_[nxt]) == sorted(s.scores_[nxt], reverse=True)
    assert s.n_refits_ == 1


def test_active_learning_finds_the_relevant_records_early(review):
    X, y = review
    s = ScreeningSession(X, seed=0)
    s.label(int(np.flatnonzero(y == 1)[0]), 1)
    s.label(int(np.flatnonzero(y == 0)[0]), 0)
    for _ in range(40):
        i = int(s.next(1)[0])
        s.label(i, int(y[i]))
    # 14 relevant left among 198; screening 40 at random would find ~3
    assert s.n_relevant_found - 1 >= 10


def test_the_same_seed_gives_the_same_order(review):
    X, y = review

    def run(seed):
        s = ScreeningSession(X, seed=seed)
        s.label(0, int(y[0]))
        order = []
        for _ in range(30):
            i = int(s.next(1)[0])
            s.label(i, int(y[i]))
            order.append(i)
        return order

    assert run(4) == run(4)


def test_labelling_a_record_twice_or_out_of_range_is_refused(review):
    X, y = review
    s = ScreeningSession(X)
    s.label(3, 1)
    with pytest.raises(InputError, match="already labelled"):
        s.label(3, 0)
    with pytest.raises(ParameterError, match="index"):
        s.label(10_000, 0)
    with pytest.raises(ParameterError, match="label"):
        s.label(4, 2)
    with pytest.raises(ParameterError, match="model"):
        ScreeningSession(X, model="bert")


def test_the_session_estimates_recall_and_records_the_stopping_rule(review):
    from whatworks.review.screening.stopping import ConsecutiveIrrelevantRule, RankedQuasiSampleRule

    X, y = review
    s = ScreeningSession(X, seed=0)
    s.label(int(np.flatnonzero(y == 1)[0]), 1, source="prior")
    s.label(int(np.flatnonzero(y == 0)[0]), 0, source="prior")
    for _ in range(120):
        i = int(s.next(1)[0])
        s.label(i, int(y[i]))
    est = s.recall_estimate()
    assert est.found == s.n_relevant_found and est.screened == 122
    assert est.recall_lower <= est.recall <= est.recall_upper
    d = s.check_stopping(RankedQuasiSampleRule() | ConsecutiveIrrelevantRule(30))
    assert s.stopping_[-1]["stop"] == d.stop and "Callaghan" in s.stopping_[-1]["rule"]


def test_weighted_naive_bayes_matches_scikit_learn(review):
    from sklearn.naive_bayes import MultinomialNB

    from whatworks.review.screening.models import WeightedMultinomialNB, balanced_weights

    X, y = review
    idx = np.arange(0, 120)
    w = balanced_weights(y[idx], 1.0)
    ours = WeightedMultinomialNB(0.1).fit(X[idx], y[idx], sample_weight=w)
    ref = MultinomialNB(alpha=0.1).fit(X[idx], y[idx], sample_weight=w)
    np.testing.assert_allclose(ours.feature_log_prob_, ref.feature_log_prob_, rtol=1e-10)
    np.testing.assert_allclose(ours.class_log_prior_, ref.class_log_prior_, rtol=1e-12)


@given(st.lists(st.text(alphabet="ab cdé\n-1", max_size=40), min_size=1, max_size=25),
       st.sampled_from([1.0, 0.95, 0.5]))
@settings(max_examples=80, deadline=None)
def test_word_tfidf_is_scikit_learns_tfidf_of_words_and_pairs_up_to_column_order(texts, max_df):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from whatworks.review.screening.features import word_tfidf

    X, names = word_tfidf(texts, max_df=max_df)
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_df=max_df)
    try:
        Y = vec.fit_transform(texts)
    except ValueError:  # scikit-learn refuses texts without a single (kept) token
        assert X.shape[1] == 0
        return
    assert sorted(names) == sorted(vec.get_feature_names_out())
    Y = Y[:, [vec.vocabulary_[n] for n in names]]
    assert X.shape == Y.shape
    assert abs(X - Y).max() < 1e-12 if X.nnz else Y.nnz == 0


@pytest.mark.parametrize("seed", [0, 7])
def test_the_svm_gives_linearsvcs_coefficients_to_the_last_bit(review, seed):
    from sklearn.svm import LinearSVC

    from whatworks.review.screening.models import LinearSVM, balanced_weights

    X, y = review
    X = X.astype(np.float64)
    rng = np.random.default_rng(seed)
    idx = np.union1d(rng.choice(len(y), 80, replace=False), np.flatnonzero(y)[:4])
    w = balanced_weights(y[idx])
    ours = LinearSVM(C=0.11, tol=1e-3, seed=seed).fit(X[idx], y[idx], sample_weight=w)
    theirs = LinearSVC(C=0.11, loss="squared_hinge", dual=True, tol=1e-3, random_state=seed).fit(
        X[idx], y[idx], sample_weight=w)
    assert np.array_equal(ours.coef_, theirs.coef_)
    assert np.array_equal(ours.intercept_, theirs.intercept_)
