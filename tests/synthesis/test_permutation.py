"""Permutation tests against metafor 3.8 permutest(exact = TRUE)
(tests/reference/make_bias_sensitivity.R)."""

import numpy as np
import pytest

from tests.conftest import load_reference, vec
from whatworks.errors import InputError, ParameterError
from whatworks.synthesis import meta_analysis
from whatworks.synthesis.permutation import _unique_permutations, permutation_test

REF = load_reference("bias_sensitivity.json")
CASES = REF["permutest"]


def _id(case):
    return f"{case['dataset']}-{case['method']}-{case['test']}"


def _fit(case):
    mods = vec(case["mod"]) if case["mod"] else None
    return meta_analysis(vec(case["yi"]), vec(case["vi"]), mods=mods, method=case["method"],
                         test=case["test"])


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_exact_permutation_test_matches_metafor_permutest(case):
    res = permutation_test(_fit(case), exact=True)
    assert res.exact
    assert res.n_permutations == case["n_perm"]
    # exact p-values are counts over the same set of permutations: equal up to float division
    np.testing.assert_allclose(res.p_value, vec(case["pval"]), rtol=1e-12)
    np.testing.assert_allclose(res.qm_p_value, case["QMp"], rtol=1e-12)
    np.testing.assert_allclose(res.statistic, vec(case["zval"]), rtol=1e-5)


def test_it_runs_the_exact_test_when_it_needs_no_more_fits_than_iterations():
    fit = _fit(CASES[0])  # normand1999, k = 9: 512 sign patterns
    assert permutation_test(fit, iterations=1000).exact
    res = permutation_test(fit, iterations=100, seed=7)
    assert not res.exact and res.n_permutations == 100 and res.seed == 7


def test_random_permutations_are_reproducible_and_record_the_seed():
    fit = _fit(next(c for c in CASES if c["dataset"] == "bcg7_ablat"))
    a = permutation_test(fit, iterations=300, seed=11, exact=False)
    b = permutation_test(fit, iterations=300, seed=11, exact=False)
    np.testing.assert_array_equal(a.p_value, b.p_value)
    c = permutation_test(fit, iterations=300, exact=False)
    assert isinstance(c.seed, int)
    d = permutation_test(fit, iterations=300, seed=c.seed, exact=False)
    np.testing.assert_array_equal(c.p_value, d.p_value)


def test_the_first_random_permutation_is_the_observed_data():
    fit = _fit(next(c for c in CASES if c["dataset"] == "bcg" and c["method"] == "DL"))
    res = permutation_test(fit, iterations=50, seed=3, exact=False)
    np.testing.assert_allclose(res.statistic_permuted[0], res.statistic, rtol=1e-10)
    assert res.p_value[0] >= 1 / 50


@pytest.mark.parametrize("name", ["bcg", "bcg7_ablat"])
def test_random_permutation_p_values_approach_the_exact_ones(name):
    case = next(c for c in CASES if c["dataset"] == name and c["method"] == "DL"
                and c["test"] == "z")
    fit = _fit(case)
    n = 4000
    res = permutation_test(fit, iterations=n, seed=2024, exact=False)
    exact = vec(case["pval"])
    # a fixed seed makes this deterministic; 4 binomial standard errors (+1/n) bound the gap
    bound = 4 * np.sqrt(exact * (1 - exact) / n) + 1 / n
    assert np.all(np.abs(res.p_value - exact) <= bound)


def test_unique_permutations_of_a_multiset():
    perms = _unique_permutations(np.array([0, 1, 1, 2]))
    assert len(perms) == 12  # 4! / 2!
    assert len({tuple(p) for p in perms}) == 12


def test_it_refuses_an_infeasible_exact_test():
    rng = np.random.default_rng(0)
    y, v, x = rng.normal(size=15), rng.uniform(0.1, 0.2, 15), rng.normal(size=15)
    with pytest.raises(InputError, match="exact test needs"):
        permutation_test(meta_analysis(y, v, mods=x), exact=True)


def test_it_names_a_bad_number_of_iterations():
    with pytest.raises(ParameterError, match="iterations"):
        permutation_test(_fit(CASES[0]), iterations=0)


def test_chunked_fits_and_progress_give_the_same_p_values():
    import numpy as np

    from whatworks.synthesis import meta_analysis
    from whatworks.synthesis.permutation import permutation_test

    rng = np.random.default_rng(5)
    y, v = rng.normal(0.2, 0.3, 15), rng.uniform(0.02, 0.1, 15)
    fit = meta_analysis(y, v, mods={"x": rng.normal(size=15)})
    seen = []
    a = permutation_test(fit, iterations=500, seed=11, exact=False)
    b = permutation_test(fit, iterations=500, seed=11, exact=False, chunk=64, progress=seen.append)
    np.testing.assert_array_equal(a.p_value, b.p_value)
    assert sum(seen) == 500 and len(seen) == 8
