"""Worked example: a systematic review from two databases' exports to the meta-analysis.

Run: ``python docs/examples/review_flow.py WORKDIR`` (with whatworks installed, or
``PYTHONPATH=src``). It writes two exports of an invented search on family group conferencing (an
Embase RIS file and a PubMed MEDLINE file that share most of their records), then runs the review
through the real command line: import, deduplication, screening in batches with active learning
until a stopping rule says stop, a second screener's agreement, full-text decisions, the PRISMA
2020 flow, risk of bias with RoB 2 and the meta-analysis with each study's risk of bias. Every
``$ whatworks ...`` line it prints is run through the command-line interface in this process, and
``tests/review/test_worked_example.py`` checks that every console block in
``docs/worked-example-review.md`` is what it prints.

**The records are invented**: titles and abstracts made from a few phrases, with a known answer
(relevant or not) so the screening can be followed without a person.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import sys
from pathlib import Path

from whatworks.cli import main as whatworks_main

RELEVANT = ["family group conferencing", "family group conferences", "family group decision making"]
OTHER = ["kinship care", "foster carer training", "school exclusions", "youth justice diversion",
         "parenting programmes", "early help", "child protection plans", "residential care",
         "adoption support", "care leavers"]
DESIGNS = ["a randomised controlled trial", "a quasi-experimental study", "a cohort study",
           "a qualitative study", "a systematic review"]
PLACES = ["England", "Wales", "Scotland", "New Zealand", "the Netherlands", "Sweden", "Ontario"]


def whatworks(*args: str, expect: int = 0, show: bool = True) -> str:
    """Run ``whatworks ARGS`` in this process; print the command and (with ``show``) its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = whatworks_main(list(args))
    print("$ whatworks " + " ".join(args))
    text = out.getvalue() + err.getvalue()
    if show:
        print(text.rstrip("\n"))
    if code != expect:
        raise SystemExit(f"exit {code}, expected {expect}:\n{text}")
    return out.getvalue()


def invent_records(rng: random.Random, n: int = 90) -> list[dict]:
    """``n`` invented studies; those on family group conferencing with children are relevant."""
    out = []
    for k in range(n):
        relevant = k % 6 == 0
        topic = rng.choice(RELEVANT) if relevant else rng.choice(OTHER)
        design, place = rng.choice(DESIGNS), rng.choice(PLACES)
        title = f"{topic.capitalize()} for children and families in {place}: {design}"
        abstract = (f"We report {design} of {topic} in {place}. "
                    + ("Families met with professionals to make a plan for the child's safety; "
                       "we measured entry to care and re-referral." if relevant else
                       f"We describe how {topic} was delivered and what practitioners said about "
                       "it, with outcomes for children."))
        out.append({"k": k, "title": title, "abstract": abstract, "relevant": relevant,
                    "year": 2010 + k % 14, "author": f"Author{k:02d}, A.",
                    "journal": "Child Abuse Negl" if k % 2 else "Child Fam Soc Work",
                    "doi": f"10.9999/fgc.{k:03d}"})
    return out


def write_ris(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(f"TY  - JOUR\nTI  - {r['title']}\nAB  - {r['abstract']}\nAU  - {r['author']}\n"
                     f"PY  - {r['year']}\nJO  - {r['journal']}\nDO  - {r['doi']}\nDB  - Embase\n"
                     "ER  - \n\n")


def write_medline(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            # PubMed's copy: upper-case DOI, title without the subtitle's colon
            fh.write(f"PMID- {30000000 + r['k']}\nTI  - {r['title'].replace(':', ' -')}\n"
                     f"AB  - {r['abstract']}\nAU  - {r['author'].replace(', A.', ' A')}\n"
                     f"DP  - {r['year']}\nTA  - {r['journal']}\n"
                     f"LID - {r['doi'].upper()} [doi]\n\n")


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def step(title: str) -> None:
    print(f"\n## {title}")


def main(workdir: str) -> int:
    Path(workdir).mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # the commands name the files as a user in this folder would
    work = Path(".")
    rng = random.Random(2026)
    studies = invent_records(rng)
    in_pubmed = [r for r in studies if r["k"] % 3 != 2][:45]

    step("1. Import two databases' exports")
    write_ris(work / "embase.ris", studies)
    write_medline(work / "pubmed.nbib", in_pubmed)
    print(f"embase.ris: {len(studies)} records; pubmed.nbib: {len(in_pubmed)} records")
    whatworks("review", "import", "embase.ris", "pubmed.nbib",
              "--out", "records.csv")

    step("2. Find the duplicates")
    whatworks("review", "dedup", "records.csv", "--format", "csv",
              "-o", "dedup.csv", show=False)
    table = read_csv(work / "dedup.csv")
    print(f"dedup.csv: {len(table)} records, {sum(r['kept'] == 'False' for r in table)} removed "
          f"as duplicates, {sum(r['kept'] == 'True' for r in table)} to screen")
    truth = {}
    for r in table:
        doi = r["doi"].lower().removeprefix("https://doi.org/")
        truth[r["id"]] = studies[int(doi.rsplit(".", 1)[1])]["relevant"]

    step("3. Screen in batches until a stopping rule says stop")
    decisions = work / "decisions.csv"
    write_csv(decisions, ["id", "label", "source"], [])
    batch = 0
    while True:
        batch += 1
        out = whatworks("review", "screen", "dedup.csv", "--labels", str(decisions),
                        "--next", "10", "--consecutive", "20", "--no-cache", "--format", "json",
                        show=False)
        result = json.loads(out)
        stop = {k: v["stop"] for k, v in result["stopping"].items()}
        print(f"batch {batch}: {result['screened']} screened, {result['relevant_found']} relevant "
              f"found; stop: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in stop.items()))
        if any(stop.values()) or not result["next"]:
            break
        with open(decisions, "a", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            for entry in result["next"]:
                w.writerow([entry["id"], "include" if truth[entry["id"]] else "exclude", ""])
    whatworks("review", "screen", "dedup.csv", "--labels", str(decisions), "--next", "3",
              "--consecutive", "20", "--no-cache")

    step("4. A second screener, and their agreement")
    first = read_csv(decisions)
    second = work / "second.csv"
    rows = []
    for k, r in enumerate(first[:30]):
        label = r["label"]
        if k in (4, 17):  # two records decided differently
            label = "exclude" if label == "include" else "include"
        rows.append([r["id"], label])
    write_csv(second, ["id", "label"], rows)
    whatworks("review", "agree", "dedup.csv", str(decisions), str(second))

    step("5. Full texts, and the PRISMA 2020 flow")
    included = [r["id"] for r in first if r["label"] == "include"]
    full = []
    for k, rid in enumerate(included):
        if k == 0:
            full.append([rid, "not retrieved", ""])
        elif k % 4 == 1:
            full.append([rid, "exclude", "not about children's social care"])
        else:
            full.append([rid, "include", ""])
    write_csv(work / "full.csv", ["id", "decision", "reason"], full)
    whatworks("review", "prisma", "dedup.csv", "--decisions", str(decisions),
              "--full-text", "full.csv", "--stopped", "--plot", "prisma.svg")

    step("6. Risk of bias with RoB 2")
    whatworks("review", "rob2", "--blank", "-o", "rob2.csv", show=False)
    header = read_csv(work / "rob2.csv")[0].keys()
    kept = [rid for rid, decision, _ in full if decision == "include"]
    low = {"1.1": "Y", "1.2": "Y", "1.3": "N", "2.1": "N", "2.2": "N", "2.6": "Y", "3.1": "Y",
           "4.1": "N", "4.2": "N", "4.3": "N", "5.1": "Y", "5.2": "N", "5.3": "N"}
    rob = []
    for j, rid in enumerate(kept):
        answers = dict(low, study_id=rid, result="entry to care, 12 months", effect="assignment")
        if j % 4 == 1:  # allocation concealment not reported
            answers["1.2"] = "NI"
        if j % 5 == 2:  # a third lost to follow-up, likely for reasons tied to the outcome
            answers.update({"3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "PY"})
        if j % 3 == 0:  # no analysis plan found
            answers["5.1"] = "NI"
        rob.append([answers.get(c, "") for c in header])
    write_csv(work / "rob2.csv", list(header), rob)
    whatworks("review", "rob2", "rob2.csv", "--format", "csv", "--plot", "rob2.svg")

    step("7. The meta-analysis, with each study's risk of bias")
    effects = random.Random(7)
    write_csv(work / "effects.csv", ["study", "yi", "vi"],
              [[rid, f"{effects.gauss(-0.25, 0.15):.3f}", f"{effects.uniform(0.01, 0.05):.4f}"]
               for rid in kept])
    whatworks("meta", "effects.csv", "--yi", "yi", "--vi", "vi", "--slab", "study", "--rob2",
              "rob2.csv", "--subgroup", "rob2_overall", "--plot", "forest.svg")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python docs/examples/review_flow.py WORKDIR")
    sys.exit(main(sys.argv[1]))
