"""Import and deduplication at scale: 100,000 synthetic records.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_review.py [--n 100000] [--mojibake 0.1] [--json out.json]

Writes a synthetic RIS export of N records (realistic field lengths: a 1,200-character abstract,
4 authors, keywords), times ``whatworks.review.io.read_file`` on it, then times
``whatworks.review.dedup.deduplicate`` on N records of which about 10% are perturbed copies (the
same perturbations as the accuracy benchmark). Targets (issue 11): import < 60 s, dedup < 120 s.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("child family care placement foster kinship social work services outcomes trial school "
         "support parents risk assessment intervention home visiting stability safeguarding court "
         "youth adolescent mental health wellbeing evaluation cohort randomised local authority "
         "practice model training therapy conference reunification adoption neglect abuse").split()
SURNAMES = ("Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
            "Walker White Roberts Green Hall Wood Jackson Clarke Patel Khan Lewis James Phillips "
            "Mason Mitchell Rose Davis Rodriguez Cox Alexander Garcia Campbell Martin").split()


def synthetic_works(n: int, seed: int = 2026) -> list[dict]:
    rng = random.Random(seed)
    works = []
    for i in range(n):
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16))).capitalize()
        works.append({
            "title": f"{title} {i}",  # a serial keeps synthetic titles distinct, as real ones are
            "abstract": " ".join(rng.choice(WORDS) for _ in range(170)),
            "authors": [f"{rng.choice(SURNAMES)}, {rng.choice('ABCDEFGHJKLMNPRSTW')}." for _ in range(4)],
            "year": rng.randint(1990, 2025), "journal": f"Journal of {rng.choice(WORDS).title()} Studies",
            "volume": str(rng.randint(1, 60)), "issue": str(rng.randint(1, 12)),
            "pages": f"{(p := rng.randint(1, 900))}-{p + rng.randint(5, 30)}",
            "doi": f"10.{rng.randint(1000, 9999)}/wk.{i}" if rng.random() < 0.7 else None,
        })
    return works


def write_ris(works: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for w in works:
            fh.write("TY  - JOUR\n")
            for a in w["authors"]:
                fh.write(f"AU  - {a}\n")
            fh.write(f"TI  - {w['title']}\nT2  - {w['journal']}\nPY  - {w['year']}\n"
                     f"VL  - {w['volume']}\nIS  - {w['issue']}\n")
            sp, ep = w["pages"].split("-")
            fh.write(f"SP  - {sp}\nEP  - {ep}\nAB  - {w['abstract']}\n")
            if w["doi"]:
                fh.write(f"DO  - {w['doi']}\n")
            fh.write("KW  - children\nKW  - social care\nER  - \n\n")


def bench_import(n: int) -> dict:
    from whatworks.review.io import read_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.ris"
        write_ris(synthetic_works(n), path)
        size = path.stat().st_size
        t0, c0 = time.perf_counter(), time.process_time()
        recs, rep = read_file(path, progress=sys.stderr.isatty())
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert len(recs) == n
    return {"records": n, "megabytes": round(size / 1e6, 1), "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2)}


def garble(text: str | None) -> str | None:
    """UTF-8 text decoded as Windows-1252, as some exports do (mojibake)."""
    return text.encode("utf-8").decode("cp1252", errors="replace") if text else text


def bench_dedup(n: int, mojibake: float = 0.0) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from dedup_data import perturb

    from whatworks.review.dedup import deduplicate
    from whatworks.review.records import Record

    rng = random.Random(7)
    n_works = int(n / 1.1)
    works = synthetic_works(n_works, seed=11)
    records = []
    for i, w in enumerate(works):
        records.append(Record(id=f"w{i}", title=w["title"], abstract=w["abstract"],
                              authors=tuple(w["authors"]), year=w["year"], journal=w["journal"],
                              volume=w["volume"], issue=w["issue"], pages=w["pages"], doi=w["doi"]))
    if mojibake:
        # a share of the works carries typographic quotes and dashes, and every copy of those works
        # arrives as mojibake: the worst case for the repair step, which only such text reaches
        for k in rng.sample(range(n_works), int(mojibake * n_works)):
            r = records[k]
            words = (r.title or "").split(" ", 2)
            title = " ".join([words[0], f"\u201c{words[1]}\u201d", *words[2:]]) if len(words) > 1 else r.title
            records[k] = r.with_(title=title, abstract=(r.abstract or "").replace(". ", " \u2013 ", 3))
    garbled = 0
    for j in range(n - n_works):
        copy = perturb(records[rng.randrange(n_works)], rng, new_id=f"d{j}")
        if mojibake and not (copy.title or "").isascii():
            copy = copy.with_(title=garble(copy.title), abstract=garble(copy.abstract))
            garbled += 1
        records.append(copy)
    rng.shuffle(records)
    t0, c0 = time.perf_counter(), time.process_time()
    result = deduplicate(records)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"records": n, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "duplicates_injected": n - n_works, "garbled_copies": garbled, "groups": len(result.groups),
            "removed": result.n_removed, "queued_pairs": len(result.review_queue)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--only", choices=["import", "dedup"])
    ap.add_argument("--mojibake", type=float, default=0.0, metavar="SHARE",
                    help="this share of works has typographic quotes and dashes, and their copies arrive "
                         "as mojibake (UTF-8 read as Windows-1252)")
    ap.add_argument("--json")
    args = ap.parse_args()
    out = {}
    if args.only in (None, "import"):
        out["import"] = bench_import(args.n)
        print(f"import: {out['import']}", flush=True)
    if args.only in (None, "dedup"):
        out["dedup"] = bench_dedup(args.n, args.mojibake)
        print(f"dedup: {out['dedup']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
