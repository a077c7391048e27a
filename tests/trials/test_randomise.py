"""Randomisation: reproducible from the seed, exact ratios, constrained sets, minimisation balance."""

import hashlib
import hmac
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatworks.errors import InputError, ParameterError
from whatworks.trials import _hashrng as hr
from whatworks.trials.analysis_cli import METHOD_NAMES
from whatworks.trials.randomise import METHODS, Minimiser, balance_table, randomise


def schools(n=268, n_la=21, seed=3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"school": [f"S{i:03d}" for i in range(n)],
                         "la": [f"LA{i % n_la:02d}" for i in range(n)],
                         "size": rng.integers(300, 1500, n).astype(float),
                         "fsm": rng.uniform(0, 0.5, n),
                         "sex": rng.choice(["f", "m"], n)})


def test_the_cli_lists_every_method():
    assert tuple(METHODS) == METHOD_NAMES


def test_the_keyed_hash_is_hmac_sha256_as_documented():
    # an independent re-derivation, as an auditor would write it
    key = hmac.new(b"20201", b"complete\x1fS001", hashlib.sha256).digest()
    assert hr.uniform(20201, "complete", "S001") == (int.from_bytes(key[:8], "big") >> 11) / 2 ** 53


def test_the_complete_allocation_is_the_units_ordered_by_their_keys():
    units = schools(10)
    alloc = randomise(units, method="complete", seed=7, unit="school")
    order = sorted(units["school"], key=lambda u: hmac.new(b"7", f"complete\x1f{u}".encode(),
                                                            hashlib.sha256).digest())
    counts = hr.arm_counts(10, (1, 1), 7, "complete")
    assert counts == [5, 5]
    expected = {u: ("control" if i < 5 else "treatment") for i, u in enumerate(order)}
    assert dict(zip(alloc.table["unit"], alloc.table["arm"], strict=True)) == expected


@pytest.mark.parametrize("method,kw", [
    ("simple", {}), ("complete", {}), ("blocks", {}), ("blocks", {"strata": ["la"]}),
    ("stratified", {"strata": ["la", "sex"]}), ("cluster", {"cluster": "la"}),
    ("block-cluster", {"block": "la", "cluster": "school"}),
    ("minimisation", {"factors": ["la", "sex"]})])
def test_the_same_seed_gives_the_same_list_and_another_seed_another(method, kw):
    units = schools()
    a = randomise(units, method=method, seed=20201, unit="school", **kw)
    b = randomise(units, method=method, seed=20201, unit="school", **kw)
    c = randomise(units, method=method, seed=20202, unit="school", **kw)
    assert a.table["arm"].tolist() == b.table["arm"].tolist()
    assert a.table["arm"].tolist() != c.table["arm"].tolist()


def test_permuted_blocks_hold_the_exact_ratio_in_every_complete_block():
    units = schools(200)
    alloc = randomise(units, method="blocks", seed=11, unit="school", ratio=[1, 2],
                      block_sizes=[3, 6])
    arms = alloc.table["arm"].tolist()
    # rebuild the block boundaries from the same draws the method uses
    pos, b, sizes = 0, 0, []
    while pos < len(arms):
        size = (3, 6)[hr.randbelow(11, 2, "block-size", "", b)]
        sizes.append(size)
        block = arms[pos:pos + size]
        if len(block) == size:
            assert block.count("treatment") == 2 * size // 3
        pos += size
        b += 1
    assert {3, 6} <= set(sizes)  # both sizes are used (the sizes vary)
    # ratio-weighted imbalance returns to 0 after each block, so it never exceeds a block's worth
    running = np.cumsum([1 if a == "treatment" else -2 for a in arms])
    assert np.max(np.abs(running)) <= 4


def test_stratified_and_block_cluster_keep_the_ratio_within_each_stratum():
    units = schools()
    alloc = randomise(units, method="stratified", seed=5, unit="school", strata=["la"])
    for _, g in alloc.table.groupby("stratum"):
        n_t = (g["arm"] == "treatment").sum()
        assert abs(n_t - len(g) / 2) <= 0.5
    bc = randomise(units, method="block-cluster", seed=5, unit="school", block="la",
                   cluster="school")
    for _, g in bc.table.groupby("block"):
        assert abs((g["arm"] == "treatment").sum() - len(g) / 2) <= 0.5


def test_units_of_a_cluster_share_its_arm():
    rng = np.random.default_rng(1)
    units = pd.DataFrame({"pupil": range(300), "school": rng.integers(0, 30, 300)})
    alloc = randomise(units, method="cluster", seed=1, unit="pupil", cluster="school")
    assert (alloc.table.groupby("cluster")["arm"].nunique() == 1).all()
    per_cluster = alloc.table.drop_duplicates("cluster")["arm"].value_counts()
    assert per_cluster["treatment"] == per_cluster["control"] == 15


def test_a_cluster_in_two_blocks_is_refused_with_its_name():
    units = pd.DataFrame({"school": ["a", "a", "b"], "la": ["x", "y", "x"]})
    with pytest.raises(InputError, match="cluster 'a' appears in more than one block"):
        randomise(units, method="block-cluster", seed=1, block="la", cluster="school")


def test_bad_options_name_what_is_wrong():
    units = schools(10)
    with pytest.raises(ParameterError, match="one of simple, complete"):
        randomise(units, method="urn", seed=1)
    with pytest.raises(InputError, match="needs --block"):
        randomise(units, method="block-cluster", seed=1, cluster="school")
    with pytest.raises(InputError, match="column 'region'"):
        randomise(units, method="block-cluster", seed=1, cluster="school", block="region")
    with pytest.raises(ParameterError, match="multiples of the ratio's sum"):
        randomise(units, method="blocks", seed=1, block_sizes=[3])
    dup = pd.DataFrame({"id": ["a", "a"]})
    with pytest.raises(InputError, match="row 2.*appears twice"):
        randomise(dup, method="complete", seed=1, unit="id")


def test_constrained_allowed_set_is_the_best_fraction_of_all_allocations():
    units = schools(12)
    alloc = randomise(units, method="constrained", seed=9, cluster="school",
                      covariates=["size", "fsm"], cutoff=0.1)
    c = alloc.constrained
    assert c.enumerated and c.n_allocations == math.comb(12, 6)
    # with 1:1 each allocation and its mirror image (arms swapped) tie, so the allowed set is the
    # best ceil(0.1 * 924) = 93 allocations plus the mirror of the 93rd
    assert c.threshold == np.sort(c.scores)[92]
    assert c.n_allowed == 94
    assert c.chosen_score <= c.threshold
    assert np.sum(c.scores <= c.threshold + 1e-12) == c.n_allowed
    # the chosen allocation's score, recomputed from scratch with standardised covariates
    x = units[["size", "fsm"]].to_numpy()
    z = (x - x.mean(0)) / x.std(0, ddof=1)
    t = (alloc.table["arm"] == "treatment").to_numpy()
    score = np.sum((z[t].mean(0) - z[~t].mean(0)) ** 2)
    assert score == pytest.approx(c.chosen_score, rel=1e-12)
    # the l2 score of the chosen allocation is in the best 10%: its standardised differences small
    assert np.all(np.abs(z[t].mean(0) - z[~t].mean(0)) <= np.sqrt(c.threshold))
    co = c.coassignment.to_numpy()
    assert np.allclose(np.diag(co), 1) and np.allclose(co, co.T)


def test_coassignment_flags_a_pair_that_balance_forces_apart():
    # two outlying clusters: any well-balanced allocation puts them in different arms
    size = [100.0] * 8 + [1000.0, 1000.0]
    units = pd.DataFrame({"school": [f"s{i}" for i in range(10)], "size": size})
    alloc = randomise(units, method="constrained", seed=2, cluster="school", covariates=["size"],
                      cutoff=0.2)
    pairs = {(a, b): p for a, b, p in alloc.constrained.flagged_pairs}
    assert pairs[("s8", "s9")] == 0.0
    t = alloc.table.set_index("cluster")["arm"]
    assert t["s8"] != t["s9"]


def test_constrained_samples_distinct_allocations_when_there_are_too_many():
    units = schools(24)
    alloc = randomise(units, method="constrained", seed=4, cluster="school", covariates=["size"],
                      max_enumerate=1000, n_candidates=2000)
    c = alloc.constrained
    assert not c.enumerated and c.n_allocations == 2000
    assert c.threshold == np.sort(c.scores)[199]       # the best 10% (ties, e.g. mirrors, kept)
    # scores within 1e-12 of the threshold are ties (a mirror image's score differs by rounding)
    assert c.n_allowed == np.sum(c.scores <= c.threshold + 1e-12) >= 200


def test_constrained_with_blocks_keeps_the_ratio_within_blocks():
    units = schools(16, n_la=4)
    alloc = randomise(units, method="constrained", seed=4, cluster="school", block="la",
                      covariates=["size", "fsm", "sex"])
    assert alloc.constrained.n_allocations == math.comb(4, 2) ** 4
    merged = alloc.table.assign(la=units["la"].to_numpy())
    assert (merged.groupby("la")["arm"].apply(lambda s: (s == "treatment").sum()) == 2).all()


def test_minimisation_balances_the_factors_far_better_than_chance():
    units = schools(400, n_la=8, seed=8)
    alloc = randomise(units, method="minimisation", seed=3, unit="school", factors=["la", "sex"],
                      p_best=0.8)
    t = alloc.table.assign(sex=units["sex"].to_numpy(), la=units["la"].to_numpy())
    for f in ("la", "sex"):
        diff = t.groupby(f)["arm"].apply(lambda s: abs((s == "treatment").sum()
                                                       - (s == "control").sum()))
        assert diff.max() <= 4    # Pocock-Simon keeps every margin within a few units
    assert abs((t["arm"] == "treatment").sum() - 200) <= 4


def test_minimisation_takes_the_other_arm_sometimes():
    m = Minimiser(factors=["sex"], seed=1, p_best=0.7)
    arms = [m.assign(str(i), {"sex": "f"}) for i in range(400)]
    # with one factor the minimising arm alternates; a random element breaks strict alternation
    repeats = sum(a == b for a, b in zip(arms, arms[1:], strict=False))
    assert 0 < repeats < 200


def test_minimisation_imbalance_scores_follow_pocock_and_simon():
    m = Minimiser(factors=["a", "b"], seed=1, weights=[2, 1])
    m.counts = {("a", "x"): np.array([3.0, 1.0]), ("b", "y"): np.array([0.0, 2.0])}
    # joining control: a-range |4-1| = 3 (x2), b-range |1-2| = 1 -> 7; treatment: |3-2|*2 + 3 = 5
    assert m.imbalance({"a": "x", "b": "y"}).tolist() == [7.0, 5.0]


def test_the_balance_table_gives_standardised_differences():
    data = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "g": list("aabbab")})
    arm = ["c", "c", "c", "t", "t", "t"]
    tab = balance_table(data, arm, ["x", "g"], arms=["c", "t"]).set_index("covariate")
    assert tab.loc["x", "std_diff"] == pytest.approx((5 - 2) / 1.0)
    pa = tab.loc["g=a"]
    assert pa["mean_c"] == pytest.approx(2 / 3) and pa["mean_t"] == pytest.approx(1 / 3)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), r1=st.integers(1, 3), r2=st.integers(1, 3),
       seed=st.integers(0, 2 ** 63))
def test_complete_randomisation_is_exact_to_one_unit_for_any_size_ratio_and_seed(n, r1, r2, seed):
    units = pd.DataFrame({"id": range(n)})
    alloc = randomise(units, method="complete", seed=seed, ratio=[r1, r2])
    n_t = alloc.counts["treatment"]
    assert abs(n_t - n * r2 / (r1 + r2)) < 1
    assert sum(alloc.counts.values()) == n


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 80), seed=st.integers(0, 10 ** 9),
       sizes=st.lists(st.sampled_from([2, 4, 6, 8]), min_size=1, max_size=3, unique=True))
def test_permuted_blocks_never_drift_beyond_half_the_largest_block(n, seed, sizes):
    alloc = randomise(pd.DataFrame({"id": range(n)}), method="blocks", seed=seed,
                      block_sizes=sizes)
    running = np.cumsum([1 if a == "treatment" else -1 for a in alloc.table["arm"]])
    assert np.max(np.abs(running)) <= max(sizes) // 2


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 10 ** 9))
def test_a_reordered_unit_list_gets_the_same_complete_allocation(n, seed):
    units = pd.DataFrame({"id": [f"u{i}" for i in range(n)]})
    a = randomise(units, method="complete", seed=seed, unit="id")
    b = randomise(units.iloc[::-1], method="complete", seed=seed, unit="id")
    assert dict(zip(a.table["unit"], a.table["arm"], strict=True)) == \
        dict(zip(b.table["unit"], b.table["arm"], strict=True))


def test_the_vectorised_keys_are_splitmix64_as_documented():
    def splitmix(x):  # Steele, Lea & Flood (2014), in plain Python integers
        mask = 2 ** 64 - 1
        z = x & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    assert splitmix(0x9E3779B97F4A7C15) == 0xE220A8397B1DCDAF   # the published first output
    base = int.from_bytes(hmac.new(b"9", b"ctx", hashlib.sha256).digest()[:8], "big")
    ours = hr.splitmix64(9, np.arange(5), "ctx")
    assert [int(v) for v in ours] == [splitmix(base + (i + 1) * 0x9E3779B97F4A7C15)
                                      for i in range(5)]
