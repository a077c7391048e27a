"""Feature matrices kept between runs of ``whatworks review screen``.

``review screen`` is stateless: each run reads the records and the decisions and extracts the
features again, which is most of its time on a large review (``tfidf-meaning`` at 100,000 records
takes about 20 s; ``benchmarks/RESULTS.md``). The matrix depends only on the records' texts, the
extractor and the code that computes it, so it is stored once under a key made of all three and
read back on the next run (a hit is the same matrix, bit for bit: tested).

The key is a SHA-256 of the extractor's name, the source of the modules that compute the features
(``features.py`` and ``whatworks.search.semantic``), the installed WordLlama version (its model
ships in that wheel) and every text in order, so a changed record, a changed extractor or a new
version of the code never reads an old matrix. Files are written to a temporary name and renamed
(a reader never sees half a file), a file that cannot be read is recomputed and replaced, and only
the ``keep`` most recently used matrices are kept (a large review's matrix is hundreds of MB). A
cache folder that cannot be written leaves the run as it would be without a cache, and says so.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["CACHE_ENV", "default_dir", "extract_cached", "feature_key"]

#: Environment variable naming the cache's parent folder (else ``$XDG_CACHE_HOME`` or ``~/.cache``).
CACHE_ENV = "WHATWORKS_CACHE_DIR"


def default_dir() -> Path:
    """``$WHATWORKS_CACHE_DIR/screening-features``, else ``$XDG_CACHE_HOME/whatworks/...``, else
    ``~/.cache/whatworks/screening-features``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "screening-features"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "whatworks" / "screening-features"


def _code_fingerprint() -> bytes:
    from importlib import metadata

    from whatworks.search import semantic

    from . import features

    h = hashlib.sha256()
    for module in (features, semantic):
        h.update(Path(module.__file__).read_bytes())
    try:
        h.update(metadata.version("wordllama").encode())
    except metadata.PackageNotFoundError:
        h.update(b"no wordllama")
    return h.digest()


def feature_key(texts, kind: str) -> str:
    """The cache key of ``kind`` features of ``texts`` (see the module docstring)."""
    h = hashlib.sha256()
    h.update(kind.encode() + b"\x00" + _code_fingerprint())
    h.update(str(len(texts)).encode() + b"\x00")
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass") + b"\x1f")
    return h.hexdigest()


def _prune(folder: Path, keep: int) -> None:
    entries = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        old.unlink(missing_ok=True)


def extract_cached(texts, kind: str, cache_dir: str | Path | None, *, keep: int = 3):
    """``features.extract(texts, kind)`` through the cache in ``cache_dir`` (None: no cache).

    Returns ``(X, status)``; ``status`` is ``"off"`` (no cache), ``"hit"``, ``"stored"`` (computed
    and kept) or ``"not stored: <why>"`` (computed; the folder could not be written).
    """
    import numpy as np
    from scipy import sparse

    from .features import extract

    texts = list(texts)
    if cache_dir is None:
        return extract(texts, kind), "off"
    folder = Path(cache_dir)
    path = folder / f"{feature_key(texts, kind)}.npz"
    try:
        X = sparse.load_npz(path)
        if X.shape[0] == len(texts) and X.dtype == np.float32:
            X = sparse.csr_matrix(X)
            X.sort_indices()
            os.utime(path)  # most recently used: the last to be pruned
            return X, "hit"
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError):  # unreadable or not a matrix: compute it again
        pass
    X = extract(texts, kind)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz.tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                sparse.save_npz(fh, X, compressed=False)  # reading back is the point: no zlib
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        _prune(folder, keep)
    except OSError as exc:
        return X, f"not stored: {exc.strerror or exc}"
    return X, "stored"
