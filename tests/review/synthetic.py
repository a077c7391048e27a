"""A small synthetic labelled review for fast screening tests (relevant records share topic words)."""

from __future__ import annotations

import numpy as np
import pandas as pd

COMMON = [f"w{i}" for i in range(300)]
TOPIC = ["foster", "kinship", "placement", "stability", "carer", "reunification", "trial", "outcome"]


def synthetic_frame(n: int = 300, n_relevant: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rel = int(i < n_relevant)
        words = list(rng.choice(COMMON, 40))
        if rel:
            words += list(rng.choice(TOPIC, 6))
        elif rng.random() < 0.1:  # some irrelevant records mention a topic word too
            words += list(rng.choice(TOPIC, 1))
        rng.shuffle(words)
        rows.append({"title": " ".join(words[:8]), "abstract": " ".join(words[8:]), "label_included": rel})
    frame = pd.DataFrame(rows)
    return frame.sample(frac=1, random_state=seed).reset_index(drop=True)
