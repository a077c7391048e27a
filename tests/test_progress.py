"""Progress bars appear on a terminal and stay quiet when output is piped."""

import io

from whatworks._progress import progress_callback


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_it_is_silent_when_piped():
    stream = io.StringIO()
    advance, close = progress_callback(10, "permutations", stream=stream)
    for _ in range(10):
        advance(1)
    close()
    assert stream.getvalue() == ""


def test_it_draws_a_bar_on_a_terminal():
    stream = FakeTerminal()
    advance, close = progress_callback(10, "permutations", stream=stream)
    for _ in range(10):
        advance(1)
    close()
    assert "permutations" in stream.getvalue()
