"""Meaning-based similarity from a small static embedding model shipped inside a wheel.

The model is WordLlama's ``l2_supercat`` 256-dimensional token embeddings (MIT licence; trained from
the token embeddings of large language models), whose weights and tokenizer are files inside the
``wordllama`` wheel. We open those files directly (``safetensors`` + ``tokenizers``) rather than call
``WordLlama.load``, which looks for the tokenizer in a different folder and would then try to
download it: nothing here touches the network.

A text's vector is the normalised mean of its tokens' embeddings, so similarity is cosine similarity
of bags of words in a space where "teenagers" lies near "adolescents" and "foster parents" near
"foster carers". It complements, never replaces, the full-text rank. Many texts' vectors
(:func:`matrix`, and the screening features' meaning block) are one product of token counts
(:func:`token_counts`) with the embedding table: the model's own vectors at a fraction of the CPU.

References
----------
Miller, D. L. (2024). WordLlama: recycled token embeddings from large language models.
https://github.com/dleemiller/WordLlama
"""

from __future__ import annotations

import hashlib
import re
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

_LOCK = threading.Lock()
_MODEL = None
_UNAVAILABLE: str | None = None


def _load():
    global _MODEL, _UNAVAILABLE
    with _LOCK:
        if _MODEL is not None or _UNAVAILABLE is not None:
            return _MODEL
        try:
            import wordllama
            from safetensors import safe_open
            from tokenizers import Tokenizer
            from wordllama.inference import WordLlamaInference

            root = Path(wordllama.__file__).parent
            weights = root / "weights" / "l2_supercat_256.safetensors"
            tokenizer = root / "tokenizers" / "l2_supercat_tokenizer_config.json"
            with safe_open(str(weights), framework="np", device="cpu") as fh:
                embedding = fh.get_tensor("embedding.weight")
            _MODEL = WordLlamaInference(embedding, Tokenizer.from_file(str(tokenizer)))
        except (ImportError, OSError) as exc:  # pragma: no cover - the dependency is declared
            _UNAVAILABLE = f"meaning-based matching is off: {exc}"
            import logging

            logging.getLogger(__name__).warning(_UNAVAILABLE)
        return _MODEL


@lru_cache(maxsize=1)
def token_model():
    """``(embedding table, tokenizer without padding)`` of the same model, read from the wheel's
    files without importing the ``wordllama`` package (its import costs about 0.3 s of CPU, which
    a whole screening replay notices); raises ImportError or OSError when they cannot be read."""
    import importlib.util

    from safetensors import safe_open
    from tokenizers import Tokenizer

    spec = importlib.util.find_spec("wordllama")
    if spec is None or spec.origin is None:
        raise ImportError("the wordllama package is not installed")
    root = Path(spec.origin).parent
    with safe_open(str(root / "weights" / "l2_supercat_256.safetensors"), framework="np", device="cpu") as fh:
        embedding = fh.get_tensor("embedding.weight")
    tokenizer = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return embedding, tokenizer


#: WordLlama's tokenizer (Llama 2's BPE) has no pre-tokenizer: each text is one sequence of
#: symbols (spaces written as "▁", one prepended). No token in its vocabulary has "▁" after another
#: character (checked on every call), so no merge crosses the start of a run of "▁"
#: and the sequence can be cut there: each piece is tokenized on its own, once per call.
_PIECE = re.compile("\u2581+[^\u2581]*|[^\u2581]+")
_SPACE = "\u2581"


def _cuttable(tokenizer) -> bool:
    """Whether no token of ``tokenizer`` has "▁" after another character (see ``_PIECE``)."""
    return not any(_SPACE in t.lstrip(_SPACE) for t in tokenizer.get_vocab())


def token_counts(texts, tokenizer, n_tokens: int):
    """``(texts x tokens)`` counts of ``tokenizer.encode(text, add_special_tokens=False).ids``.

    The same counts (tested against the tokenizer), but each distinct piece of text between runs of
    spaces goes through the BPE model once per call instead of once per occurrence: about half
    the CPU on the benchmark's reviews, as most pieces are words that recur. The tokenizer's own
    normalisation (a space prepended, spaces as "▁") is applied here; texts holding one of the
    tokenizer's special tokens (``<s>`` and the like, split off before normalisation) are encoded
    whole, as by it.
    """
    from scipy import sparse

    if not _cuttable(tokenizer):
        raise ValueError("a token of the tokenizer has a space after another character: the texts "
                         "cannot be cut into pieces")
    special = [t.content for t in tokenizer.get_added_tokens_decoder().values()]
    pieces: dict[str, int] = {}
    add = pieces.setdefault
    ids: list[int] = []
    lens = np.zeros(len(texts), dtype=np.int64)
    whole: list[int] = []
    for j, text in enumerate(texts):
        if not text:
            continue
        if any(t in text for t in special):
            whole.append(j)
            continue
        before = len(ids)
        ids.extend([add(p, len(pieces)) for p in _PIECE.findall(_SPACE + text.replace(" ", _SPACE))])
        lens[j] = len(ids) - before
    by_piece = sparse.csr_matrix(
        (np.ones(len(ids), dtype=np.float32), np.asarray(ids, dtype=np.int64),
         np.concatenate([[0], np.cumsum(lens)])), shape=(len(texts), len(pieces)))
    tokenize = tokenizer.model.tokenize
    tokens: list[int] = []
    n_per_piece = np.empty(len(pieces), dtype=np.int64)
    for k, piece in enumerate(pieces):
        found = tokenize(piece)
        tokens.extend([t.id for t in found])
        n_per_piece[k] = len(found)
    piece_tokens = sparse.csr_matrix(
        (np.ones(len(tokens), dtype=np.float32), np.asarray(tokens, dtype=np.int64),
         np.concatenate([[0], np.cumsum(n_per_piece)])), shape=(len(pieces), n_tokens))
    counts = (by_piece @ piece_tokens).tolil() if whole else by_piece @ piece_tokens
    for j in whole:
        for t in tokenizer.encode(texts[j], add_special_tokens=False).ids:
            counts[j, t] += 1
    return sparse.csr_matrix(counts)


def mean_vectors(texts, dim: int | None = None) -> np.ndarray:
    """Each text's unit-length mean token embedding (zeros for a text without tokens, where
    ``WordLlamaInference.embed`` would divide by zero), the first ``dim`` dimensions (all by
    default): one sparse product of :func:`token_counts` with the embedding table. The same
    vectors as ``embed(texts, norm=True)`` (tested) at a fraction of the CPU. Raises ImportError
    or OSError when the model's files cannot be read."""
    table, tokenizer = token_model()
    if dim is not None:
        table = table[:, :dim]
    texts = list(texts)
    E = np.asarray(token_counts(texts, tokenizer, table.shape[0]) @ table, dtype=np.float64)
    norms = np.linalg.norm(E, axis=1)
    norms[norms == 0] = 1.0
    return E / norms[:, None]


def available() -> bool:
    """Whether the bundled model could be loaded (it is a declared dependency, so normally yes)."""
    return _load() is not None


def unavailable_reason() -> str | None:
    _load()
    return _UNAVAILABLE


@lru_cache(maxsize=4096)
def _vector(key: str, text: str) -> np.ndarray:
    model = _load()
    vec = np.asarray(model.embed([text], norm=True)[0], dtype=np.float64)
    return vec


def embed(text: str) -> np.ndarray | None:
    """The unit vector of ``text`` (cached by content), or None when the model is unavailable."""
    if _load() is None:
        return None
    return _vector(hashlib.sha1(text.encode("utf-8")).hexdigest(), text)


def matrix(texts: list[str]) -> np.ndarray | None:
    """Unit vectors of ``texts`` as rows (None when the model is unavailable)."""
    model = _load()
    if model is None:
        return None
    if not texts:
        return np.zeros((0, 256))
    return mean_vectors(texts)


def similarities(query: str, texts: list[str] | np.ndarray) -> list[float] | None:
    """Cosine similarity of ``query`` with each text, or with each row of a ``matrix`` (None when the
    model is unavailable)."""
    q = embed(query)
    if q is None:
        return None
    rows = texts if isinstance(texts, np.ndarray) else matrix(list(texts))
    return [float(x) for x in rows @ q]
