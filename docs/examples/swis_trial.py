"""The worked example of docs/worked-example-swis.md, end to end: a trial shaped like social workers in
schools (268 secondary schools within 21 local authorities, section 47 enquiries per pupil-year),
designed, randomised with its audit log, analysed on simulated outcomes, reported and published to a
temporary Evidence Store.

    python docs/examples/swis_trial.py WORKDIR

Every ``$ whatworks ...`` line it prints is run through the real command-line interface
(``whatworks.cli.main``); the steps without a command (making the schools file, simulating the
outcomes, writing the trial record, publishing to a store database) are the Python below. The
outcomes are simulated, with a true rate ratio of 1.055 (the published trial's estimate); nothing
here is the real trial's data. tests/trials/test_worked_example.py runs this script and checks that
every output block quoted in the doc is what it prints.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED_DATA = 2023  # the simulated schools and outcomes
SEED_ALLOCATION = 20201  # the randomisation
TRUE_RATE_RATIO = 1.055
ARMS = ("social worker", "usual services")


def whatworks(command: str, *, expect: int = 0, echo: bool = True) -> str:
    """Run ``whatworks <command>`` in this process, print it and (with ``echo``) its output, and
    return the output."""
    from whatworks.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(shlex.split(command))
        except SystemExit as e:  # argparse and the CLI's own exits
            code = e.code if isinstance(e.code, int) else 1
    text = out.getvalue() + err.getvalue()
    print(f"$ whatworks {command}")
    if echo and text.strip():
        print(text.rstrip("\n"))
    if (code or 0) != expect:
        raise SystemExit(f"whatworks {command} exited {code}, expected {expect}")
    return out.getvalue()


def step(title: str) -> None:
    print(f"\n## {title}")


def make_schools(path: Path) -> pd.DataFrame:
    """268 secondary schools in 21 local authorities (6 to 20 each), with size, free school meals and
    a baseline year of section 47 enquiries. Each school has a persistent rate (the local authority's
    practice times the school's own, gamma with CVs .2 and .3, and higher with more pupils on free
    school meals); that rate, not the baseline count, drives the outcomes."""
    rng = np.random.default_rng(SEED_DATA)
    per_la = 6 + rng.multinomial(268 - 21 * 6, np.full(21, 1 / 21))
    la = np.repeat([f"LA{i + 1:02d}" for i in range(21)], per_la)
    n = len(la)
    pupils = np.maximum(300, np.round(rng.gamma(1 / 0.3**2, 1000 * 0.3**2, n))).astype(int)
    fsm = np.round(100 * rng.beta(6, 19, n), 1)  # % on free school meals, mean 24%
    la_effect = rng.gamma(25, 1 / 25, 21)[np.repeat(np.arange(21), per_la)]  # CV .2
    school_effect = rng.gamma(1 / 0.3**2, 0.3**2, n)  # CV .3
    rate = 0.021 * np.exp(0.03 * (fsm - 24)) * la_effect * school_effect  # per pupil-year
    baseline = rng.poisson(rate * pupils)
    df = pd.DataFrame({"school": [f"S{i + 1:03d}" for i in range(n)], "la": la, "pupils": pupils,
                       "fsm": fsm, "baseline_rate": np.round(1000 * baseline / pupils, 2)})
    df.to_csv(path, index=False)
    np.save(path.with_suffix(".rate.npy"), rate)  # the simulation's truth, kept beside the file
    return df


def simulate_outcomes(allocation: Path, schools: Path, out: Path) -> pd.DataFrame:
    """Two school years of section 47 enquiries per school after randomisation: Poisson counts with
    exposure = pupils (pupil-years per year), at the school's persistent rate times a year-to-year
    gamma (CV .15), times the true rate ratio in schools with a social worker."""
    rng = np.random.default_rng(SEED_DATA + 1)
    df = pd.read_csv(allocation)
    rate = np.load(schools.with_suffix(".rate.npy"))
    order = pd.read_csv(schools)["school"].tolist()
    rate = pd.Series(rate, index=order).loc[df["school"]].to_numpy()
    treated = (df["arm"] == ARMS[0]).to_numpy()
    rows = []
    for year in (1, 2):
        wobble = rng.gamma(1 / 0.15**2, 0.15**2, len(df))
        mu = rate * wobble * np.where(treated, TRUE_RATE_RATIO, 1.0) * df["pupils"].to_numpy()
        rows.append(df.assign(year=year, s47=rng.poisson(mu), pupil_years=df["pupils"]))
    data = pd.concat(rows, ignore_index=True)
    data["pupils_100"] = data["pupils"] / 100
    # the same covariates as z-scores over the schools too: the test checks that the fit does not
    # depend on their scale (it once stopped at its start values on the raw scales)
    for col in ("baseline_rate", "pupils", "fsm"):
        school = data.loc[data.year == 1, col]
        data[f"{col}_z"] = ((data[col] - school.mean()) / school.std()).round(6)
    data[["school", "la", "arm", "year", "s47", "pupil_years", "baseline_rate", "pupils_100", "fsm",
          "baseline_rate_z", "pupils_z", "fsm_z"]].to_csv(out, index=False)
    return data


def write_record(path: Path, allocation: Path, log: Path, analysis: dict, balance: list) -> dict:
    from whatworks.trials.consort import allocated_counts
    from whatworks.trials.record import sha256_file

    alloc = pd.read_csv(allocation)
    counts = allocated_counts(alloc, cluster="school", size="pupils")
    keys = {ARMS[0]: "intervention", ARMS[1]: "control"}
    arms = {}
    for label, key in keys.items():
        c = counts[label]
        arms[key] = {"allocated": c, "received": {"clusters": c["clusters"]},
                     "not_received": {"clusters": 0}, "lost": {"clusters": 0, "individuals": 0},
                     "analysed": dict(c), "excluded": {"clusters": 0, "individuals": 0}}
    plan = path.parent / "analysis-plan.md"
    plan.write_text("Analysis plan (worked example): negative binomial GLMM of section 47 enquiries, "
                    "log pupil-years offset, random intercepts for schools, local authority fixed "
                    "effects, adjusted for baseline rate, school size and free school meals.\n")
    record = {
        "id": "swis-example",
        "title": "Social workers in schools: worked example on simulated data",
        "status": "reported", "cluster": True,
        "units": {"cluster": "school", "individual": "pupil"},
        "arms": [{"key": "intervention", "label": ARMS[0]}, {"key": "control", "label": ARMS[1]}],
        "illustrative": ["everything: simulated data shaped like the social workers in schools trial"],
        "setting": "268 state secondary schools in 21 local authorities in England (simulated).",
        "interventions": "A social worker based in the school; control schools keep usual services.",
        "outcomes": [{"name": "section 47 enquiries per pupil-year", "primary": True,
                      "timepoint": "two school years"}],
        "design": {"name": "BCRA3_2r", "parameters": {"n": 1000, "J": 12.76, "K": 21, "rho2": 0.05,
                                                      "rho3": 0.02, "omega3": 0.1, "r22": 0.5},
                   "type": "two-arm cluster randomised trial, schools randomised 1:1 within local "
                           "authorities"},
        "randomisation": {"method": "block-cluster", "block": "la", "cluster": "school",
                          "seed": SEED_ALLOCATION, "software": "whatworks trial randomise",
                          "log_sha256": sha256_file(log)},
        "analysis_plan": {"path": plan.name, "sha256": sha256_file(plan)},
        "statistical_methods": "Negative binomial GLMM (Laplace), log pupil-years offset, random "
                               "intercepts for schools, local authority fixed effects, adjusted for "
                               "baseline rate, school size and free school meals.",
        "flow": {"assessed": {"clusters": 268}, "excluded": {"clusters": 0}, "arms": arms},
        "balance": balance,
        "results": [{"outcome": "section 47 enquiries", "primary": True, "family": "negbin",
                     "timepoint_months": 24, **analysis}],
        "evidence_store": {"intervention": "social-workers-in-schools", "country": "England",
                           "outcomes": {"section 47 enquiries": "section-47-enquiries"}},
    }
    path.write_text(json.dumps(record, indent=2))
    return record


def publish_to_a_temporary_store(workdir: Path) -> None:
    """A temporary SQLite Evidence Store with the shipped demo content; the trial published into it
    with ``whatworks manage publish_trial`` (the store's services: the synthesis and rating are
    recomputed), twice; then the shipped demo record of the real trial, which the store already holds."""
    import shutil

    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'store.sqlite3'}"
    whatworks("manage migrate --verbosity 0")
    whatworks("manage load_demo")
    from whatworks.web.store.models import Rating, Synthesis

    def show(label):
        s = Synthesis.objects.get(intervention__slug="social-workers-in-schools",
                                  outcome__slug="section-47-enquiries")
        r = Rating.objects.get(intervention__slug="social-workers-in-schools",
                               outcome__slug="section-47-enquiries")
        studies = ", ".join(sorted(d["label"] for d in r.inputs["studies"]))
        print(f"{label}: k = {s.k}, pooled rate ratio {np.exp(s.estimate):.3f} "
              f"({np.exp(s.ci_lower):.3f} to {np.exp(s.ci_upper):.3f}); rating "
              f"'{r.effectiveness_label}', strength '{r.strength_label}'; the rating's studies: {studies}")

    show("social workers in schools x section 47 enquiries, before")
    whatworks("manage publish_trial record.json")
    show("after")
    whatworks("manage publish_trial record.json")
    shipped = Path(__file__).resolve().parents[2] / "src/whatworks/data/programme"
    for name in ("swis-trial.json", "swis-sap.md"):
        shutil.copy(shipped / name, workdir / name)
    print("(swis-trial.json: the shipped demo record of the real trial, +5.5%)")
    whatworks("manage publish_trial swis-trial.json", expect=1)


def main(workdir: str) -> int:
    wd = Path(workdir).resolve()
    if wd.exists() and any(wd.iterdir()):
        raise SystemExit(f"{wd} is not empty: give a new directory (an allocation log is never overwritten)")
    wd.mkdir(parents=True, exist_ok=True)
    os.chdir(wd)
    pd.set_option("display.width", 120)

    step("1. Design")
    whatworks("trial clusters --outcome rate --control 0.021 --size 2000 --k 0.3 --clusters 134 "
              "--direction increase")
    whatworks("trial clusters --outcome rate --control 0.021 --intervention 0.022155 --size 2000 --k 0.3 "
              "--clusters 134")
    whatworks("trial mdes --design BCRA3_2r --n 1000 --J 12.76 --K 21 --rho2 0.05 --rho3 0.02 "
              "--omega3 0.1 --r22 0.5")
    whatworks("trial simulate --scenario counts --blocks 21 --clusters-per-block 13 --rate0 0.021 "
              "--rate-ratio 1.12 --exposure 2000 --k 0.3 --size-cv 0.3 --block-cv 0.2 "
              "--replications 1000 --seed 7 --backend serial")

    step("2. The schools")
    schools = make_schools(wd / "schools.csv")
    print(f"schools.csv: {len(schools)} schools in {schools['la'].nunique()} local authorities, "
          f"{schools['la'].value_counts().min()} to {schools['la'].value_counts().max()} per authority; "
          f"{schools['pupils'].sum():,} pupils")

    step("3. Block-cluster randomisation with its audit log")
    whatworks(f"trial randomise schools.csv --method block-cluster --block la --cluster school "
              f"--arms '{ARMS[0]}' '{ARMS[1]}' --seed {SEED_ALLOCATION} --out allocation.csv "
              f"--log allocation-log.jsonl --balance pupils fsm baseline_rate")
    whatworks("trial verify allocation-log.jsonl")
    lines = (wd / "allocation-log.jsonl").read_text().splitlines()
    entry = json.loads(lines[5])
    entry["arm"] = ARMS[1] if entry.get("arm") == ARMS[0] else ARMS[0]  # someone edits one allocation
    lines[5] = json.dumps(entry)
    (wd / "tampered-log.jsonl").write_text("\n".join(lines) + "\n")
    whatworks("trial verify tampered-log.jsonl", expect=1)

    step("4. Simulated outcomes")
    data = simulate_outcomes(wd / "allocation.csv", wd / "schools.csv", wd / "outcomes.csv")
    by_arm = data.groupby("arm")[["s47", "pupil_years"]].sum()
    for arm, row in by_arm.iterrows():
        print(f"{arm}: {int(row.s47):,} section 47 enquiries in {int(row.pupil_years):,} pupil-years "
              f"({1000 * row.s47 / row.pupil_years:.1f} per 1,000)")

    step("5. Analysis")
    command = ("trial analyse outcomes.csv --outcome s47 --treatment arm --treated 'social worker' "
               "--cluster school --block la --covariates baseline_rate pupils_100 fsm "
               "--exposure pupil_years --family negbin")
    whatworks(command)
    analysis = json.loads(whatworks(command + " --format json", echo=False))
    (wd / "analysis.json").write_text(json.dumps(analysis, indent=2))
    print("(its JSON, kept in analysis.json, becomes the record's result)")
    ratio = analysis["ratio"]
    print(f"rate ratio {ratio['estimate']:.3f} (95% CI {ratio['ci_lower']:.3f} to {ratio['ci_upper']:.3f}): "
          f"{100 * (ratio['estimate'] - 1):+.1f}% ({100 * (ratio['ci_lower'] - 1):+.1f}% to "
          f"{100 * (ratio['ci_upper'] - 1):+.1f}%); true rate ratio {TRUE_RATE_RATIO}")

    step("6. The trial record, CONSORT and the report")
    balance = _balance(wd / "allocation.csv")
    record = write_record(wd / "record.json", wd / "allocation.csv", wd / "allocation-log.jsonl",
                          analysis, balance)
    whatworks("trial consort record.json --svg flow.svg")
    print("the flow diagram's text (flow.svg):")
    for line in _svg_text(wd / "flow.svg"):
        print(f"  {line}")
    whatworks("trial report record.json --out report.html --pdf report.pdf")  # PDF: the pdf extra
    html = (wd / "report.html").read_text(encoding="utf-8")
    print("report.html sections: " + "; ".join(re.findall(r"<h2[^>]*>(.*?)</h2>", html)))

    step("7. Publication to the Evidence Store")
    del record
    publish_to_a_temporary_store(wd)
    return 0


def _balance(allocation: Path) -> list[dict]:
    """The balance table of the record: arm means and standardised differences (pooled SD)."""
    df = pd.read_csv(allocation)
    out = []
    for col, label in (("baseline_rate", "baseline section 47 rate per 1,000 pupils"),
                       ("pupils", "pupils on roll"), ("fsm", "free school meals (%)")):
        a, b = df.loc[df.arm == ARMS[0], col], df.loc[df.arm == ARMS[1], col]
        sd = np.sqrt((a.var() + b.var()) / 2)
        means = {"intervention": round(float(a.mean()), 2), "control": round(float(b.mean()), 2)}
        out.append({"variable": label, "level": "cluster", "means": means,
                    "std_diff": round(float((a.mean() - b.mean()) / sd), 3)})
    return out


def _svg_text(path: Path) -> list[str]:
    """The text elements of an SVG, in order (what a reader of the diagram sees)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    return [t.text for t in root.iter() if t.tag.endswith("}text") and t.text]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "swis-example"))
