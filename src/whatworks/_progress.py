"""Progress bars for long-running work: shown on a terminal, silent when output is piped."""

from __future__ import annotations

import sys
from collections.abc import Callable


def progress_callback(total: int, description: str, *, stream=None) -> tuple[Callable[[int], None],
                                                                               Callable[[], None]]:
    """Return ``(advance, close)`` for a bar of ``total`` steps on ``stream`` (stderr).

    The bar is drawn only when the stream is a terminal, so piped or redirected output stays clean.
    """
    stream = stream if stream is not None else sys.stderr
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return (lambda n=1: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=total, desc=description, file=stream, leave=False, dynamic_ncols=True)
    return bar.update, bar.close
