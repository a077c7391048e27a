"""BLAS threading for the small dense products of meta-regression.

The products are k x p by p x p with p small: BLAS threads only add synchronisation, and on a
2-core machine two threads made a 5-moderator meta-regression at k = 100,000 three times slower
(benchmarks/RESULTS.md). So fits run with one BLAS thread unless ``WHATWORKS_BLAS_THREADS`` says
otherwise; the user's own numpy work outside whatworks is untouched.
"""

from __future__ import annotations

import contextlib
import os

_controller = None


def blas_threads():
    """A context manager limiting BLAS to ``WHATWORKS_BLAS_THREADS`` threads (default 1)."""
    global _controller
    raw = os.environ.get("WHATWORKS_BLAS_THREADS", "1").strip().lower()
    if raw in ("", "default", "0"):
        return contextlib.nullcontext()
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=int(raw), user_api="blas")
