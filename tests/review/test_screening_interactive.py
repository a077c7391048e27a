"""``whatworks review screen --interactive``: screening in the terminal, each decision saved at once.

And the decisions-file writers it uses (:func:`append_decision`, :func:`undo_last_decision`).
"""

import csv
import io
import re
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.review.conftest import shared
from tests.review.synthetic import synthetic_frame
from whatworks.cli import main
from whatworks.review.screening.features import extract
from whatworks.review.screening.screen import append_decision, read_decisions, undo_last_decision
from whatworks.review.screening.simulate import choose_priors, simulate_one

VIRUS = ("screening", "virus_kwok2020_ferdinands.csv")


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    """A synthetic review with an id column and its true labels."""
    frame = synthetic_frame(150, 12, seed=7)
    frame.insert(0, "id", [f"r{k:03d}" for k in range(len(frame))])
    path = tmp_path_factory.mktemp("interactive") / "records.csv"
    frame.drop(columns="label_included").to_csv(path, index=False)
    return path, frame


class Screener:
    """Standard input for the command: answers each record it was last shown from ``truth`` (a
    reviewer who decides as the review team did), or replays ``script`` first."""

    def __init__(self, out: io.StringIO, truth: dict[str, int] | None = None, script=(), limit=None):
        self.out, self.truth, self.script, self.limit = out, truth, list(script), limit
        self.answered = 0
        self._read = 0  # how much of the output was looked at

    def readline(self) -> str:
        if self.script:
            return self.script.pop(0) + "\n"
        if self.truth is None or (self.limit is not None and self.answered >= self.limit):
            return ""  # end of input
        text = self.out.getvalue()
        start = text.rfind("\n-- record ", self._read)
        self._read = len(text)
        shown = text[start + len("\n-- record "):].split(" ", 1)[0]
        self.answered += 1
        return ("i" if self.truth[shown] else "e") + "\n"

    def isatty(self) -> bool:
        return False


def _screen(monkeypatch, records, labels, *extra, truth=None, script=(), limit=None):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdin", Screener(out, truth, script, limit))
    monkeypatch.setattr(sys, "stdout", out)
    code = main(["review", "screen", str(records), "--labels", str(labels), "--interactive", *extra])
    return code, out.getvalue()


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_answers_are_saved_at_once_with_their_source_and_undo_removes_the_last(review, tmp_path,
                                                                                 monkeypatch):
    records, _ = review
    labels = tmp_path / "decisions.csv"  # does not exist yet: created
    code, out = _screen(monkeypatch, records, labels, script=["i", "e", "maybe", "e", "u", "i", "q"])
    assert code == 0, out
    rows = _rows(labels)
    assert rows[0] == ["id", "label", "source"]
    assert [r[1:] for r in rows[1:]] == [["include", "random"], ["exclude", "random"],
                                         ["include", "model"]]
    assert "'maybe' is not an answer" in out
    undone = re.search(r"undone: the decision on record (\S+) ", out).group(1)
    shown = re.findall(r"^-- record (\S+) ", out, flags=re.M)
    assert undone == shown[2]  # the third record's exclusion was taken back
    assert "ranked by the model" in out and "a random draw" in out
    # the file reads back as the command's own decisions file
    ids = [f"r{k:03d}" for k in range(150)]
    assert [ids[d.index] for d in read_decisions(labels, ids)] == [r[0] for r in rows[1:]]


def _same_order_as_simulation(monkeypatch, tmp_path, records_path, frame, y, seed, limit):
    """Screen ``limit`` records answering as the review team did, after the priors a simulation
    with ``seed`` draws; return the ids shown and the simulation's order (as ids)."""
    priors = choose_priors(y, seed)
    labels = tmp_path / "decisions.csv"
    with open(labels, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label", "source"])
        for i in priors:
            w.writerow([frame["id"][i], int(y[i]), "prior"])
    truth = dict(zip(frame["id"], y.tolist(), strict=True))
    code, out = _screen(monkeypatch, records_path, labels, "--seed", str(seed), "--no-cache",
                        truth=truth, limit=limit)
    assert code == 0, out[-2000:]
    rows = _rows(labels)[1 + len(priors):]
    assert all(r[2] == "model" for r in rows)
    texts = [f"{t} {a}".strip() for t, a in zip(frame["title"].fillna(""), frame["abstract"].fillna(""),
                                                 strict=True)]
    sim = simulate_one({"X": extract(texts, "tfidf-meaning"), "labels": y, "seed": seed,
                        "model": "svm-widen", "prior_relevant": 1, "prior_irrelevant": 1})
    assert sim["priors"] == priors
    return [r[0] for r in rows], [frame["id"][i] for i in sim["order"]], sim


def test_the_order_shown_is_the_simulations_order(review, tmp_path, monkeypatch):
    """A reviewer answering as the review team did sees the records in exactly the order a
    simulation (same seed, same priors) shows them: the command keeps one live session."""
    records, frame = review
    shown, order, _ = _same_order_as_simulation(monkeypatch, tmp_path, records, frame,
                                                frame["label_included"].to_numpy(), 3, 60)
    assert len(order) >= 10
    assert shown[:len(order)] == order  # a simulation ends at the last relevant record


def test_the_order_shown_is_the_simulations_order_on_a_real_review_through_dry_spells(
        tmp_path, monkeypatch):
    """The same on the virus metagenomics review, far enough for the model to widen in dry spells
    (its meaning ranker's picks and their seeded coins are part of the order)."""
    import pandas as pd

    path = shared(*VIRUS)
    frame = pd.read_csv(path)
    frame.insert(0, "id", [f"v{k}" for k in range(len(frame))])
    records = tmp_path / "virus.csv"
    frame.drop(columns="label_included").to_csv(records, index=False)
    y = frame["label_included"].to_numpy()
    shown, order, sim = _same_order_as_simulation(monkeypatch, tmp_path, records, frame, y, 11, 700)
    assert shown == order[:700]
    assert sim["found_by_meaning"] >= 1 and len(order) > 700  # widened (first at 225 labels)


def test_screening_to_the_end_says_so_and_a_stopping_rule_speaks_once(review, tmp_path, monkeypatch):
    records, frame = review
    truth = dict(zip(frame["id"], frame["label_included"].tolist(), strict=True))
    labels = tmp_path / "decisions.csv"
    code, out = _screen(monkeypatch, records, labels, "--consecutive", "20", truth=truth)
    assert code == 0, out
    assert "every record has been screened." in out
    assert len(_rows(labels)) == 1 + 150
    assert out.count("STOP: the stopping rule consecutive_irrelevant") == 1
    assert "STOP: the stopping rule callaghan_ranked" in out
    assert "150 screened, 12 relevant found, 0 left" in out


def test_a_record_is_shown_with_its_authors_year_journal_doi_and_keywords(tmp_path, monkeypatch):
    records = tmp_path / "records.csv"
    records.write_text("id,Title,Abstract,Authors,Year,Journal,DOI,keywords\n"
                       "a,Family group conferences,An abstract.,\"Smith, J; Jones, K\",2020,Child Abuse "
                       "Rev,10.1/xyz,kinship; care\n"
                       "b,Another,,,,,,\n", encoding="utf-8")
    code, out = _screen(monkeypatch, records, tmp_path / "d.csv", "--seed", "1", script=["e", "q"])
    assert code == 0, out
    first = out.split("-- record ")[1]
    if first.startswith("b "):  # the random draw took the record without details first
        assert "(no abstract)" in first and " · " not in first and "doi:" not in first
        first = out.split("-- record ")[2]
    assert "Smith, J; Jones, K · 2020 · Child Abuse Rev" in first
    assert "doi: 10.1/xyz" in first and "keywords: kinship; care" in first and "An abstract." in first


def test_a_second_session_on_the_same_decisions_file_is_refused(review, tmp_path, monkeypatch, capsys):
    from whatworks.review.screening.screen import DecisionsLock

    records, _ = review
    labels = tmp_path / "decisions.csv"
    with DecisionsLock(labels) as held:
        assert held.locked
        code = main(["review", "screen", str(records), "--labels", str(labels), "--interactive"])
        err = capsys.readouterr().err
        assert code == 2 and "another screening session is using this decisions file" in err
        assert str(labels) in err and "process " in err and err.count("\n") == 1
    assert not labels.exists()
    code, out = _screen(monkeypatch, records, labels, script=["e", "q"])  # free again
    assert code == 0 and len(_rows(labels)) == 2


def test_ctrl_c_while_the_model_refits_ends_with_a_message_not_a_traceback(review, tmp_path,
                                                                           monkeypatch):
    from whatworks.review.screening import screen as core

    records, _ = review
    labels = tmp_path / "decisions.csv"
    real, calls = core.standing, []

    def interrupted(*args, **kwargs):  # the third status update: after two saved decisions
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(core, "standing", interrupted)
    code, out = _screen(monkeypatch, records, labels, script=["e", "i", "e"])
    assert code == 130
    assert "interrupted: 2 decision(s) are saved in" in out and len(_rows(labels)) == 3


def test_end_of_input_quits_keeping_every_decision(review, tmp_path, monkeypatch):
    records, _ = review
    labels = tmp_path / "decisions.csv"
    code, out = _screen(monkeypatch, records, labels, script=["e", "e"])
    assert code == 0 and len(_rows(labels)) == 3
    code, out = _screen(monkeypatch, records, labels, script=["i"])  # goes on from the file
    assert code == 0 and "2 decision(s) so far" in out and len(_rows(labels)) == 4


@pytest.mark.parametrize(("extra", "option"), [
    (["--format", "json"], "--format"), (["--next", "5"], "--next"), (["--output", "x.txt"], "--output"),
])
def test_options_that_make_no_sense_interactively_are_refused(review, tmp_path, monkeypatch, capsys,
                                                              extra, option):
    records, _ = review
    code = main(["review", "screen", str(records), "--labels", str(tmp_path / "d.csv"), "--interactive",
                 *extra])
    err = capsys.readouterr().err
    assert code == 2 and option in err and "--interactive" in err
    assert not (tmp_path / "d.csv").exists()


def test_interactive_needs_a_decisions_file(review, capsys):
    records, _ = review
    code = main(["review", "screen", str(records), "--interactive"])
    err = capsys.readouterr().err
    assert code == 2 and "--labels" in err and err.count("\n") == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.lists(st.one_of(st.sampled_from(["i", "e", "u", "I", " include ", "no", "q"]),
                                  st.text(st.characters(blacklist_characters="\r\n\x85\u2028\u2029"),
                                          max_size=12)), max_size=15))
def test_any_answers_end_cleanly_with_a_readable_decisions_file(review, tmp_path_factory, monkeypatch,
                                                               answers):
    records, _ = review
    labels = tmp_path_factory.mktemp("fuzz") / "d.csv"
    code, out = _screen(monkeypatch, records, labels, script=answers)
    assert code == 0, out[-500:]
    ids = [f"r{k:03d}" for k in range(150)]
    decisions = read_decisions(labels, ids) if labels.exists() else []
    saved = out.count("  saved: ") - out.count("  undone: ")
    assert len(decisions) == saved


# -- the decisions-file writers ---------------------------------------------------------------------


def test_append_keeps_the_files_own_columns_and_adds_a_missing_final_newline(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"Label,note,ID\r\n1,kept,a")  # no source column, no final newline, CRLF
    append_decision(path, "b", 0, "model")
    assert path.read_bytes() == b"Label,note,ID\r\n1,kept,a\nexclude,,b\n"
    assert [(d.index, d.label) for d in read_decisions(path, ["a", "b"])] == [(0, 1), (1, 0)]
    assert undo_last_decision(path) == "b"
    assert path.read_bytes() == b"Label,note,ID\r\n1,kept,a\n"


def test_append_refuses_a_file_without_an_id_column(tmp_path):
    from whatworks.errors import InputError

    path = tmp_path / "d.csv"
    path.write_text("record,label\nx,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column 'id'"):
        append_decision(path, "y", 1)
    assert path.read_text(encoding="utf-8") == "record,label\nx,1\n"


def test_undo_on_a_file_without_decisions_changes_nothing(tmp_path):
    path = tmp_path / "d.csv"
    assert undo_last_decision(path) is None
    path.write_text("id,label\n\n", encoding="utf-8")
    assert undo_last_decision(path) is None
    assert path.read_text(encoding="utf-8") == "id,label\n\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.one_of(st.tuples(st.just("add"), st.integers(0, 1),
                                        st.sampled_from([None, "random", "model"])),
                              st.just(("undo",))), max_size=25),
       header=st.sampled_from(["id,label,source\n", "id,label\n", "source,label,id,comment\n"]))
def test_the_file_always_reads_back_as_the_decisions_kept(tmp_path, ops, header):
    """Any run of appends and undos leaves a file that reads back as exactly the decisions kept."""
    path = tmp_path / "d.csv"
    path.write_text(header, encoding="utf-8")
    ids = [f"x{k}" for k in range(30)]
    kept: list[tuple[int, int]] = []
    unused = list(range(30))
    for op in ops:
        if op[0] == "add" and unused:
            k = unused.pop(0)
            append_decision(path, ids[k], op[1], op[2])
            kept.append((k, op[1]))
        elif op[0] == "undo":
            rid = undo_last_decision(path)
            if kept:
                k, _ = kept.pop()
                assert rid == ids[k]
                unused.insert(0, k)
            else:
                assert rid is None
    got = [(d.index, d.label) for d in read_decisions(path, ids)]
    assert got == kept
    assert np.all([line.count(",") == header.count(",") for line in path.read_text().splitlines()])


def test_screening_with_safe_follows_its_phases_to_the_quality_check(review, tmp_path, monkeypatch):
    from whatworks.review.screening.safe import SafeProcedure

    records, frame = review
    truth = dict(zip(frame.id, frame.label_included, strict=True))
    labels = tmp_path / "d.csv"
    code, out = _screen(monkeypatch, records, labels, "--safe", "--model", "svm", "--no-cache",
                        truth=truth)
    assert code == 0
    rows = _rows(labels)[1:]
    # the phases announced are the ones the saved labels go through, in order, ending in phase 4
    proc = SafeProcedure(len(frame))
    phases = [1]
    for _, label, _ in rows:
        if proc.update(int(label == "include")) != phases[-1]:
            phases.append(proc.phase)
    assert phases == [1, 2, 3, 4]
    announced = [int(line.split()[2]) for line in out.splitlines() if line.startswith("SAFE phase ")]
    assert announced == phases
    assert "for a second screener: the excluded records" in out
    # phase 1 is the seeded permutation's first records, saved as random draws; then the models'
    n1 = proc.n_random
    order = [frame.id[i] for i in np.random.default_rng(0).permutation(len(frame))]
    assert [r[0] for r in rows[:n1]] == order[:n1]
    assert [r[2] for r in rows] == ["random"] * n1 + ["model"] * (len(rows) - n1)
    assert len(rows) < len(frame)  # it stopped before the end
