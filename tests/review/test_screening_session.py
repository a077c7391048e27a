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
    assert est.window == 50  # a fifth of 122 is less than 50
    # the window never reaches back into the priors: 60 labels after two priors, the default 50;
    # 42 after 80 priors, 42 (the default would be 50)
    short = ScreeningSession(X, seed=0)
    for k, i in enumerate(s.labelled[:62]):
        short.label(int(i), int(y[i]), source="prior" if k < 2 else "model")
    assert short.recall_estimate().window == 50
    many = ScreeningSession(X, seed=0)
    for k, i in enumerate(s.labelled[:122]):
        many.label(int(i), int(y[i]), source="prior" if k < 80 else "model")
    assert many.recall_estimate().window == 42
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


def _svm_objective(X, y, w, C, coef, intercept):
    """LinearSVC's primal objective (squared hinge, the intercept penalised as a weight)."""
    margin = 1 - np.where(y == 1, 1.0, -1.0) * (X @ coef.ravel() + intercept[0])
    return 0.5 * (coef @ coef.T).item() + 0.5 * intercept[0] ** 2 + C * np.sum(
        w * np.maximum(margin, 0) ** 2)


@pytest.mark.parametrize("seed", [0, 7])
def test_the_svm_solves_linearsvcs_problem(review, seed):
    """LIBLINEAR through its own binding reaches scikit-learn's LinearSVC optimum (same problem)."""
    from sklearn.svm import LinearSVC

    from whatworks.review.screening.models import LinearSVM, balanced_weights

    X, y = review
    X = X.astype(np.float64)
    rng = np.random.default_rng(seed)
    idx = np.union1d(rng.choice(len(y), 80, replace=False), np.flatnonzero(y)[:4])
    w = balanced_weights(y[idx])
    tight = LinearSVC(C=0.11, loss="squared_hinge", dual=True, tol=1e-10, max_iter=100_000,
                      random_state=seed).fit(X[idx], y[idx], sample_weight=w)
    exact = LinearSVM(C=0.11, tol=1e-10, max_iter=100_000, seed=seed).fit(X[idx], y[idx], sample_weight=w)
    assert np.allclose(exact.coef_, tight.coef_, atol=1e-7)
    assert np.allclose(exact.intercept_, tight.intercept_, atol=1e-7)
    # at the screening tolerance the objective is within 0.1% of the optimum, as LinearSVC's is
    ours = LinearSVM(C=0.11, tol=1e-3, seed=seed).fit(X[idx], y[idx], sample_weight=w)
    theirs = LinearSVC(C=0.11, loss="squared_hinge", dual=True, tol=1e-3, random_state=seed).fit(
        X[idx], y[idx], sample_weight=w)
    best = _svm_objective(X[idx], y[idx], w, 0.11, tight.coef_, tight.intercept_)
    for m in (ours, theirs):
        assert _svm_objective(X[idx], y[idx], w, 0.11, m.coef_, m.intercept_) <= best * (1 + 1e-3)


def test_the_svm_is_reproducible_and_fit_rows_is_fit_on_those_rows(review):
    """LIBLINEAR shuffles with the C library's rand(): each fit seeds it, so what ran before in the
    process does not matter; fitting on rows of the kept matrix equals fitting on the slice."""
    from whatworks.review.screening.models import LinearSVM, balanced_weights

    X, y = review
    idx = np.union1d(np.arange(0, len(y), 3), np.flatnonzero(y)[:5])
    w = balanced_weights(y[idx])
    first = LinearSVM(seed=5).fit(X[idx], y[idx], sample_weight=w).coef_
    LinearSVM(seed=99).fit(X[::2], y[::2])  # moves rand()'s state
    again = LinearSVM(seed=5).fit(X[idx], y[idx], sample_weight=w).coef_
    assert np.array_equal(first, again)
    model = LinearSVM(seed=5)
    model.fit_rows(X, idx[:40], y[idx[:40]], balanced_weights(y[idx[:40]]))  # converts those rows
    rows = model.fit_rows(X, idx, y[idx], w).coef_  # converts the rest, reuses the first 40
    assert np.array_equal(rows, first)


def test_per_record_weights_within_a_class_are_honoured(review):
    """LIBLINEAR's binding weighs classes only; weights that differ within a class still count
    (scikit-learn's LinearSVC solves that problem) rather than being averaged away."""
    from sklearn.svm import LinearSVC

    from whatworks.review.screening.models import LinearSVM

    X, y = review
    w = np.linspace(0.5, 2.0, len(y))
    ours = LinearSVM(seed=1).fit(X, y, sample_weight=w)
    theirs = LinearSVC(C=0.11, loss="squared_hinge", dual=True, tol=1e-3, random_state=1).fit(
        X, y, sample_weight=w)
    assert np.array_equal(ours.coef_, theirs.coef_)


def test_meaning_vectors_are_wordllamas_embeddings_and_zero_for_empty_texts():
    from whatworks.review.screening.features import meaning_vectors
    from whatworks.search import semantic

    texts = ["Foster carers and teenagers", "", "Randomised trial of family group conferences in "
             "child protection, with a long abstract " * 20, "!!!"]
    ours = meaning_vectors(texts)
    theirs = semantic._load().embed([texts[0], texts[2]], norm=True)
    assert ours.shape == (4, 256)
    assert np.allclose(ours[[0, 2]], theirs, atol=1e-5)
    assert not ours[1].any() and np.isfinite(ours).all()


def test_tfidf_meaning_rows_are_unit_length_and_end_with_the_meaning_block(review):
    from whatworks.review.screening.features import MEANING_DIM, extract

    frame = synthetic_frame(60, 6, seed=3)
    rec = Records.from_lists(frame.title, frame.abstract, frame.label_included)
    X = extract(rec.texts, "tfidf-meaning")
    words = extract(rec.texts, "tfidf")
    assert X.shape[1] == words.shape[1] + MEANING_DIM
    assert np.allclose(np.sqrt(X.multiply(X).sum(axis=1)).A.ravel(), 1, atol=1e-5)


_DRAFT_FRAME = None


def _rankings(model, X, free):
    """Each of a two-ranker model's rankings of the records ``free`` (words, then words+meaning)."""
    ranks = []
    for k, matrix in enumerate((model._blocks.words(X), X)):
        coef = np.asarray(model.rankers[k].coef_, dtype=np.float32).ravel()
        s = matrix @ coef + float(model.rankers[k].intercept_[0])
        ranks.append(list(free[np.argsort(-s[free], kind="stable")]))
    return ranks


def _draft_setup():
    global _DRAFT_FRAME
    from whatworks.review.screening.features import extract

    frame = synthetic_frame(200, 15, seed=1)
    _DRAFT_FRAME = (frame.title, frame.abstract, frame.label_included)
    rec = Records.from_lists(frame.title, frame.abstract, frame.label_included)
    return extract(rec.texts, "tfidf-meaning"), rec.labels


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(4, 60))
def test_svm_select_shows_a_team_draft_of_its_two_rankers(seed, depth):
    """Each round both rankers pick once (a seeded coin says who first), each its highest-ranked
    record not yet picked; the order shown is the order picked."""
    from whatworks.review.screening.models import SelectSVM, balanced_weights

    X, y = _DRAFT
    model = SelectSVM(seed=seed, depth=depth)
    first = np.concatenate([np.flatnonzero(y == 1)[:3], np.flatnonzero(y == 0)[:20]])
    out = model.rank_scores(X, first, y[first], balanced_weights(y[first]))
    free = np.setdiff1d(np.arange(len(y)), first)
    shown = free[np.argsort(-out[free], kind="stable")][:depth]
    assert [model._team[int(r)] for r in shown].count(0) in (depth // 2, (depth + 1) // 2)
    ranks = _rankings(model, X, free)
    taken: set = set()
    for r in shown:
        team = model._team[int(r)]
        best = next(c for c in ranks[team] if c not in taken)
        assert r == best  # the picker's best record not yet taken
        taken.add(int(r))


_DRAFT = _draft_setup()


def test_svm_select_credits_pickers_and_follows_a_clear_winner_alone():
    from whatworks.review.screening.models import SelectSVM, balanced_weights

    X, y = _DRAFT
    model = SelectSVM(seed=3, alpha=0.2)
    rows = np.concatenate([np.flatnonzero(y == 1)[:2], np.flatnonzero(y == 0)[:20]])
    model.rank_scores(X, rows, y[rows], balanced_weights(y[rows]))
    # the reviewer finds relevant records only among the meaning ranker's picks
    picks = [r for r, team in model._team.items() if team == 1 and y[r] == 1][:3]
    others = [r for r, team in model._team.items() if y[r] == 0][:5]
    rows = np.concatenate([rows, picks, others])
    model.rank_scores(X, rows, y[rows], balanced_weights(y[rows]))
    assert model.credits.tolist() == [0, len(picks)]
    # 3-0 is p = 0.25 (two-sided): not yet; 4-0 (p = 0.125 < 0.2) decides
    model.credits[:] = (0, 4)
    fits = model.rankers[0].coef_.copy()
    model.rank_scores(X, rows, y[rows], balanced_weights(y[rows]))
    assert model.decided == 1 and model.history_[-1]["follows"] == "words+meaning"
    assert model.rankers[0].coef_ is not None and np.array_equal(model.rankers[0].coef_, fits)


def test_svm_select_needs_the_meaning_features(review):
    from whatworks.review.screening.simulate import simulate

    frame = synthetic_frame(60, 6, seed=3)
    rec = Records.from_lists(frame.title, frame.abstract, frame.label_included)
    with pytest.raises(ParameterError, match="tfidf-meaning"):
        simulate(rec, seeds=1, model="svm-select", features="tfidf")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=400).map(lambda v: np.array(v, dtype=np.int64)),
       st.floats(1.0, 4.0), st.integers(1, 40))
def test_svm_widen_calls_a_dry_spell_what_its_definition_says(y, factor, min_dry):
    """Irrelevant labels since the last relevant one >= max(min_dry, factor x labels / found)."""
    from whatworks.review.screening.models import WidenSVM

    model = WidenSVM(dry_factor=factor, min_dry=min_dry)
    trailing = len(y) if not y.any() else len(y) - 1 - int(np.flatnonzero(y)[-1])
    mean_gap = len(y) / max(1, int(y.sum()))
    assert model.dry_spell(y) == (trailing >= max(min_dry, factor * mean_gap))


def test_svm_widen_is_the_plain_svm_until_the_words_run_dry():
    from whatworks.review.screening.models import LinearSVM, WidenSVM, balanced_weights

    X, y = _DRAFT
    words = extract(Records.from_lists(*_DRAFT_FRAME).texts, "tfidf")
    rows = np.concatenate([np.flatnonzero(y == 1)[:3], np.flatnonzero(y == 0)[:10]])  # not dry
    model = WidenSVM(seed=2)
    out = model.rank_scores(X, rows, y[rows], balanced_weights(y[rows]))
    plain = LinearSVM().fit_rows(words, rows, y[rows], balanced_weights(y[rows]))
    expected = words @ np.asarray(plain.coef_, dtype=np.float32).ravel() + float(plain.intercept_[0])
    assert model.history_[-1]["follows"] == "words"
    assert np.allclose(out, expected, atol=1e-5)
    assert not hasattr(model.rankers[1], "coef_")  # the meaning ranker is not even fitted


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_svm_widen_lets_the_meaning_ranker_propose_a_share_in_a_dry_spell(seed):
    from whatworks.review.screening.models import WidenSVM, balanced_weights

    X, y = _DRAFT
    # four relevant records, then 60 irrelevant in a row: a dry spell (60 >= max(20, 2 x 64 / 4))
    rows = np.concatenate([np.flatnonzero(y == 1)[:4], np.flatnonzero(y == 0)[:60]])
    model = WidenSVM(seed=seed, depth=100)
    out = model.rank_scores(X, rows, y[rows], balanced_weights(y[rows]))
    assert model.history_[-1]["follows"] == "widened"
    free = np.setdiff1d(np.arange(len(y)), rows)
    shown = free[np.argsort(-out[free], kind="stable")][:100]
    ranks = _rankings(model, X, free)
    taken: set = set()
    for r in shown:  # each record is its proposer's best one not yet taken
        best = next(c for c in ranks[int(int(r) in model._proposed)] if c not in taken)
        assert r == best
        taken.add(int(r))
    # about 15% from the meaning ranker (Binomial(100, 0.15): 4..31 holds with probability > 0.9999)
    assert 4 <= len(model._proposed) <= 31
    # a relevant record it proposed is counted at the next refit
    found = [r for r in model._proposed if y[r] == 1][:1]
    rows2 = np.concatenate([rows, np.array(found + [r for r in shown if y[r] == 0][:3], dtype=np.int64)])
    model.rank_scores(X, rows2, y[rows2], balanced_weights(y[rows2]))
    assert model.found_by_meaning_ == len(found)


def test_svm_widen_needs_the_meaning_features(review):
    from whatworks.review.screening.simulate import simulate

    frame = synthetic_frame(60, 6, seed=3)
    rec = Records.from_lists(frame.title, frame.abstract, frame.label_included)
    with pytest.raises(ParameterError, match="tfidf-meaning with model svm-widen"):
        simulate(rec, seeds=1, model="svm-widen", features="tfidf")


@pytest.mark.parametrize("model", ["svm-widen", "svm-select"])
def test_the_meaning_models_refuse_a_matrix_without_the_meaning_block(model):
    frame = synthetic_frame(80, 8, seed=4)
    words = extract(Records.from_lists(frame.title, frame.abstract, frame.label_included).texts, "tfidf")
    with pytest.raises(ParameterError, match="tfidf-meaning"):
        ScreeningSession(words, model=model, seed=1)
