"""``whatworks review simulate``: the output contract, reproducibility and bad input."""

import json

import pytest

from tests.review.synthetic import synthetic_frame
from whatworks.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "review.csv"
    synthetic_frame(160, 10, seed=2).to_csv(path, index=False)
    return path


def _json(capsys, *args):
    assert main(["review", "simulate", *map(str, args), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_the_contract_keys_and_medians_over_seeds(data, capsys):
    out = _json(capsys, data, "--seeds", "3", "--backend", "serial")
    assert {"wss_95", "rrf_10", "atd", "per_seed"} <= set(out)
    assert len(out["per_seed"]) == 3
    for key in ("wss_95", "rrf_10", "atd"):
        vals = sorted(r[key] for r in out["per_seed"])
        assert out[key] == pytest.approx(vals[1])
    run = out["per_seed"][0]
    assert {"seed", "priors", "stopping"} <= set(run)
    assert run["stopping"]["callaghan_ranked"]["rule"].startswith("the stopping criterion of Callaghan")


def test_results_are_the_same_on_every_backend(data, capsys):
    serial = _json(capsys, data, "--seeds", "2", "--model", "nb", "--backend", "serial")
    pool = _json(capsys, data, "--seeds", "2", "--model", "nb", "--backend", "processes", "--workers", "2")
    strip = [{k: v for k, v in r.items() if "seconds" not in k} for r in serial["per_seed"]]
    assert strip == [{k: v for k, v in r.items() if "seconds" not in k} for r in pool["per_seed"]]


@pytest.mark.parametrize("model", [("svm", "tfidf"), ("svm-select", "tfidf-meaning"),
                                   ("svm-widen", "tfidf-meaning")])
def test_the_svm_and_svm_select_give_the_same_runs_on_every_backend(data, capsys, model):
    """LIBLINEAR's shuffle (libc rand, seeded per fit) and the team draft's coin are seeded, so a
    worker process that ran other fits first gives the same orders."""
    name, features = model
    args = ("--seeds", "3", "--model", name, "--features", features)
    serial = _json(capsys, data, *args, "--backend", "serial")
    pool = _json(capsys, data, *args, "--backend", "processes", "--workers", "2")
    strip = [{k: v for k, v in r.items() if "seconds" not in k} for r in serial["per_seed"]]
    assert strip == [{k: v for k, v in r.items() if "seconds" not in k} for r in pool["per_seed"]]
    if name == "svm-select":
        assert all(r["followed"] in ("interleaved", "words", "words+meaning") for r in serial["per_seed"])
        assert main(["review", "simulate", str(data), *args, "--backend", "serial"]) == 0
        assert "ranker followed at the end" in capsys.readouterr().out
    if name == "svm-widen":
        assert all(r["followed"] in ("words", "widened") for r in serial["per_seed"])
        assert all(r["found_by_meaning"] >= 0 for r in serial["per_seed"])
        assert main(["review", "simulate", str(data), *args, "--backend", "serial"]) == 0
        assert "proposed by the meaning ranker" in capsys.readouterr().out


def test_priors_and_models_are_options(data, capsys):
    out = _json(capsys, data, "--seeds", "1", "--model", "logistic", "--prior-relevant", "2",
                "--prior-irrelevant", "3", "--backend", "serial")
    assert len(out["per_seed"][0]["priors"]) == 5
    assert out["settings"]["model"] == "logistic"


def test_table_and_plot(data, capsys, tmp_path):
    plot = tmp_path / "recall.png"
    assert main(["review", "simulate", str(data), "--seeds", "1", "--backend", "serial",
                 "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    assert "WSS@95 %" in text and "median" in text
    assert plot.stat().st_size > 1000


def test_a_bad_label_exits_2_naming_file_line_and_column(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text('title,abstract,label_included\na,"two\nlines",1\nb,c,yes\n')
    assert main(["review", "simulate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "bad.csv" in err and "line 4" in err and "label_included" in err


@pytest.mark.parametrize("value", ["0", "-1", "often", "1.5"])
def test_a_bad_refit_exits_2_naming_the_option(data, capsys, value):
    assert main(["review", "simulate", str(data), "--refit", value]) == 2
    err = capsys.readouterr().err
    assert "--refit" in err and "auto or a whole number" in err and len(err.strip().splitlines()) == 1


def test_refit_is_an_option_and_recorded(data, capsys):
    out = _json(capsys, data, "--seeds", "1", "--backend", "serial", "--refit", "3")
    assert out["settings"]["refit"] == 3
    # what refitting after every label changes is checked against ASReview's runs
    # (tests/review/test_screening_asreview_agreement.py)


def test_a_missing_column_or_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "nolabel.csv"
    bad.write_text("title,abstract\na,b\n")
    assert main(["review", "simulate", str(bad)]) == 2
    assert "label_included" in capsys.readouterr().err
    assert main(["review", "simulate", str(tmp_path / "none.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_too_few_included_records_exits_2(tmp_path, capsys):
    bad = tmp_path / "one.csv"
    bad.write_text("title,abstract,label_included\na,b,1\nc,d,0\ne,f,0\n")
    assert main(["review", "simulate", str(bad)]) == 2
    assert "at least 2" in capsys.readouterr().err


def test_a_real_review_subsample_is_screened_better_than_random(tmp_path, capsys):
    import pandas as pd

    from tests.review.conftest import shared

    frame = pd.read_csv(shared("screening", "virus_kwok2020_ferdinands.csv"))
    sub = pd.concat([frame[frame.label_included == 1].head(15),
                     frame[frame.label_included == 0].sample(300, random_state=0)])
    path = tmp_path / "virus_sub.csv"
    sub.to_csv(path, index=False)
    out = _json(capsys, path, "--seeds", "1", "--backend", "serial")
    assert out["wss_95"] > 20  # random order gives about 0


def test_building_the_review_parser_imports_no_screening_engine():
    # `whatworks review --help` builds the review group's parser; its choices come from the
    # registry alone, so neither scikit-learn nor the screening modules are imported for it.
    import subprocess
    import sys

    code = ("import json, sys\nfrom whatworks.cli import build_parser\nbuild_parser(command='review')\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith("
            "('whatworks.review.screening.', 'sklearn')))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["whatworks.review.screening.registry"]


def test_the_registry_names_are_the_ones_the_models_and_features_implement():
    from whatworks.review.screening import features, models, registry

    assert models.MODELS is registry.MODELS and features.FEATURES is registry.FEATURES
    for name in registry.MODELS:
        models.make_model(name)


def test_the_loader_reads_quoted_multiline_fields_blank_lines_and_a_bom_like_pandas(tmp_path):
    import pandas as pd

    from whatworks.review.screening.data import load_records

    path = tmp_path / "r.csv"
    path.write_bytes('\ufeffTitle , Abstract,label_included\n"a, b","two\nlines",1\n\nc,,0.0\n"é",x,0\n'
                     .encode())
    records = load_records(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(records.titles) == frame.iloc[:, 0].tolist()
    assert list(records.abstracts) == frame.iloc[:, 1].tolist()
    assert records.labels.tolist() == [1, 0, 0]


@pytest.mark.parametrize(("text", "where"), [
    ("title,abstract,label_included\na,b,1\nc,d,0,extra\n", "line 3"),
    ("", "empty"),
    ("title,abstract,label_included\n", "no records"),
])
def test_a_malformed_csv_exits_2_naming_the_line(tmp_path, capsys, text, where):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    assert main(["review", "simulate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.csv" in err and where in err


def test_a_file_that_is_not_utf8_exits_2_naming_the_line(tmp_path, capsys):
    bad = tmp_path / "latin.csv"
    bad.write_bytes("title,abstract,label_included\na,b,1\nc,caf\u00e9,0\n".encode("latin-1"))
    assert main(["review", "simulate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "UTF-8" in err


def test_safe_replays_the_procedure_on_the_same_seeds_on_every_backend(data, capsys):
    from whatworks.compute import task_seeds
    from whatworks.review.screening.data import load_records
    from whatworks.review.screening.features import extract
    from whatworks.review.screening.safe import simulate_safe

    serial = _json(capsys, data, "--seeds", "3", "--model", "svm", "--safe", "--backend", "serial")
    pool = _json(capsys, data, "--seeds", "3", "--model", "svm", "--safe", "--backend", "processes",
                 "--workers", "2")
    assert serial["safe"] == pool["safe"]
    safe = serial["safe"]
    assert (safe["model"], safe["model_phase3"]) == ("svm", "logistic")
    assert [r["seed"] for r in safe["per_seed"]] == task_seeds(0, 3) == \
        [r["seed"] for r in serial["per_seed"]]
    recalls = sorted(r["recall"] for r in safe["per_seed"])
    assert safe["recall_median"] == pytest.approx(recalls[1]) and safe["recall_min"] == recalls[0]
    assert safe["reached_target"] == pytest.approx(sum(r >= 0.95 for r in recalls) / 3)
    # each run is the procedure's own replay with that seed
    rec = load_records(data)
    direct = simulate_safe({"X": extract(rec.texts), "labels": rec.labels,
                            "seed": safe["per_seed"][1]["seed"], "model": "svm"})
    run = safe["per_seed"][1]
    assert (run["stopped_at"], run["recall"], run["work_saved"]) == \
        (direct["stopped_at"], direct["recall"], direct["work_saved"])
    assert {int(k): v for k, v in run["phase_starts"].items()} == direct["phase_starts"]
    assert main(["review", "simulate", str(data), "--seeds", "2", "--model", "svm", "--safe",
                 "--backend", "serial"]) == 0
    assert "SAFE procedure (svm on tfidf, then logistic on tfidf): recall median" in \
        capsys.readouterr().out


@pytest.mark.parametrize("args, fragment", [(["--safe-model", "nb"], "--safe-model"),
                                            (["--safe", "--model", "logistic"], "a model other than")])
def test_safe_options_that_cannot_be_honoured_exit_2(data, capsys, args, fragment):
    assert main(["review", "simulate", str(data), "--seeds", "1", *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_naive_bayes_is_refused_the_signed_meaning_vectors(data, capsys):
    """Multinomial naive Bayes sums feature weights; the meaning vectors are signed, so the sums
    could be negative and its log-probabilities NaN. Refused, as the screening or the SAFE model."""
    for args in (["--model", "nb", "--features", "tfidf-meaning"],
                 ["--safe", "--safe-model", "nb"]):  # the default model reads tfidf-meaning
        assert main(["review", "simulate", str(data), "--seeds", "1", *args]) == 2
        err = capsys.readouterr().err
        assert "without negative values" in err and len(err.strip().splitlines()) == 1


def test_safe_phase_3_can_read_its_own_features(data, capsys):
    from whatworks.review.screening.data import load_records
    from whatworks.review.screening.features import extract
    from whatworks.review.screening.safe import simulate_safe

    out = _json(capsys, data, "--seeds", "2", "--safe", "--safe-model", "nb", "--safe-features",
                "tfidf", "--backend", "serial")  # the default model reads tfidf-meaning
    safe = out["safe"]
    assert (safe["features"], safe["model_phase3"], safe["features_phase3"]) == \
        ("tfidf-meaning", "nb", "tfidf")
    rec = load_records(data)
    run = safe["per_seed"][0]
    direct = simulate_safe({"X": extract(rec.texts, "tfidf-meaning"), "labels": rec.labels,
                            "X_phase3": extract(rec.texts, "tfidf"), "seed": run["seed"],
                            "model": "svm-widen", "model_phase3": "nb"})
    assert (run["stopped_at"], run["recall"]) == (direct["stopped_at"], direct["recall"])
    # the screening model itself, on other features, is a different phase-3 model
    out = _json(capsys, data, "--seeds", "1", "--model", "svm", "--safe", "--safe-model", "svm",
                "--safe-features", "tfidf-char", "--backend", "serial")
    assert out["safe"]["features_phase3"] == "tfidf-char"
    assert main(["review", "simulate", str(data), "--seeds", "1", "--safe-features", "tfidf"]) == 2
    assert "--safe-features" in capsys.readouterr().err


def test_an_option_the_core_refuses_is_named_as_typed(data, capsys):
    assert main(["review", "simulate", str(data), "--model", "nb", "--features",
                 "tfidf-meaning"]) == 2
    assert capsys.readouterr().err.startswith("whatworks: error: --features='tfidf-meaning'")


def test_safe_phase_3_switches_to_its_own_features_even_with_the_same_model(data, capsys):
    """svm on tfidf, then svm on tfidf-char: phase 3 must re-rank on tfidf-char, not go on as
    phase 2 (the switch once compared model names only)."""
    from whatworks.review.screening import safe as safe_module

    made = []
    real = safe_module.ScreeningSession

    class Spy(real):
        def __init__(self, X, **kw):
            made.append(X.shape[1])
            super().__init__(X, **kw)

    safe_module.ScreeningSession = Spy
    try:
        out = _json(capsys, data, "--seeds", "1", "--model", "svm", "--safe", "--safe-model", "svm",
                    "--safe-features", "tfidf-char", "--backend", "serial")
    finally:
        safe_module.ScreeningSession = real
    assert 3 in {int(k) for k in out["safe"]["per_seed"][0]["phase_starts"]}
    assert len(made) == 2 and made[1] > made[0]  # the phase-3 session reads the wider tfidf-char
