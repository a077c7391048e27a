"""Meaning-based similarity from a small static embedding model shipped inside a wheel.

The model is WordLlama's ``l2_supercat`` 256-dimensional token embeddings (MIT licence; trained from
the token embeddings of large language models), whose weights and tokenizer are files inside the
``wordllama`` wheel. We open those files directly (``safetensors`` + ``tokenizers``) rather than call
``WordLlama.load``, which looks for the tokenizer in a different folder and would then try to
download it: nothing here touches the network.

A text's vector is the normalised mean of its tokens' embeddings, so similarity is cosine similarity
of bags of words in a space where "teenagers" lies near "adolescents" and "foster parents" near
"foster carers". It complements, never replaces, the full-text rank.

References
----------
Miller, D. L. (2024). WordLlama: recycled token embeddings from large language models.
https://github.com/dleemiller/WordLlama
"""

from __future__ import annotations

import hashlib
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
    return np.asarray(model.embed(list(texts), norm=True), dtype=np.float64)


def similarities(query: str, texts: list[str] | np.ndarray) -> list[float] | None:
    """Cosine similarity of ``query`` with each text, or with each row of a ``matrix`` (None when the
    model is unavailable)."""
    q = embed(query)
    if q is None:
        return None
    rows = texts if isinstance(texts, np.ndarray) else matrix(list(texts))
    return [float(x) for x in rows @ q]
