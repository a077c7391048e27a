"""The names of the screening models and feature extractors: plain dicts, importing nothing.

The command line builds its ``--model`` and ``--features`` choices from here, so the parser costs
no import of numpy, scipy or scikit-learn; :mod:`.models` and :mod:`.features` re-export these same
dicts (one registry each) and implement every name in them (tests check both ways).
"""

#: The classifiers: name -> description.
MODELS = {
    "svm": "linear support vector machine (squared hinge loss, LIBLINEAR), balanced class weights",
    "logistic": "L2-penalised logistic regression (LIBLINEAR, dual), balanced class weights",
    "nb": "multinomial naive Bayes on TF-IDF, balanced class weights",
    "svm-select": "two linear SVMs, one on the words and one on words plus meaning (needs features "
                  "tfidf-meaning), interleaved (team draft) until one has found clearly more "
                  "relevant records, then that one alone",
    "svm-widen": "the linear SVM on the words; when it runs dry (a long run of irrelevant records), "
                 "an SVM on words plus meaning proposes 15% of the records shown (needs features "
                 "tfidf-meaning)",
}

#: The models that read the meaning block of ``tfidf-meaning`` features.
NEEDS_MEANING = ("svm-select", "svm-widen")


def default_features(model: str) -> str:
    """The features a model gets unless told otherwise: ``tfidf-meaning`` for the models that read
    meaning, ``tfidf`` for the others (the meaning block inside one SVM is a different model, so
    it is never given to them unasked)."""
    return "tfidf-meaning" if model in NEEDS_MEANING else "tfidf"


def resolve_features(model: str, features: str | None = None) -> str:
    """The features to extract for ``model``: ``features`` checked against the model, or its default.

    Raises :class:`~whatworks.errors.ParameterError` for an unknown model or features, or features a
    model cannot use (the models in :data:`NEEDS_MEANING` need ``tfidf-meaning``).
    """
    from whatworks.errors import ParameterError

    if model not in MODELS:
        raise ParameterError("model", model, ", ".join(MODELS))
    if features is None:
        features = default_features(model)
    if features not in FEATURES:
        raise ParameterError("features", features, ", ".join(FEATURES))
    if model in NEEDS_MEANING and features != "tfidf-meaning":
        raise ParameterError("features", features, f"tfidf-meaning with model {model} (it uses a "
                             "ranker on the words and one on words plus meaning)")
    if model in NEEDS_NONNEGATIVE and features in SIGNED_FEATURES:
        raise ParameterError("features", features, f"features without negative values with model "
                             f"{model} (naive Bayes counts weights; the meaning vectors of "
                             f"{features} are signed): tfidf or tfidf-char")
    return features


#: The models that need non-negative features (multinomial naive Bayes), and the features that
#: have negative values (the meaning vectors).
NEEDS_NONNEGATIVE = ("nb",)
SIGNED_FEATURES = ("tfidf-meaning",)


#: The model a simulation and the command line use unless told otherwise, and its features.
DEFAULT_MODEL = "svm-widen"
DEFAULT_FEATURES = default_features(DEFAULT_MODEL)

#: The feature extractors: name -> what it builds.
FEATURES = {
    "tfidf": "TF-IDF of words and word pairs (sublinear term frequency; terms in over 95% of the "
             "records dropped)",
    "tfidf-char": "TF-IDF of words and word pairs, stacked with TF-IDF of character 3-5-grams",
    "tfidf-meaning": "TF-IDF of words and word pairs, stacked with the text's meaning (WordLlama "
                     "l2_supercat 256-dimensional embedding, shipped in the wordllama wheel) at "
                     "weight 0.3",
}
