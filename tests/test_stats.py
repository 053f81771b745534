"""The one correlation helper: the same numbers as scipy, undefined cases as None."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr

from affagent.stats import bootstrap_ci, partial_pearson, pearson


@pytest.mark.parametrize("seed", range(5))
def test_pearson_is_scipys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=50)
    y = 0.4 * x + rng.normal(size=50)
    r = pearson(x, y)
    assert r is not None and r == pytest.approx(float(pearsonr(x, y).statistic), abs=1e-12)


def test_undefined_correlations_are_none() -> None:
    assert pearson([1, 1, 1], [1, 2, 3]) is None
    assert pearson([1, 2], [1, 2]) is None
    assert pearson([1, 2, float("nan")], [1, 2, 3]) is None
    with pytest.raises(ValueError):
        pearson([1, 2, 3], [1, 2])


def test_partial_r_and_bootstrap_interval() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=200)
    x = z + rng.normal(size=200)
    y = z + rng.normal(size=200)  # x and y share only z
    assert (pearson(x, y) or 0) > 0.3
    pr = partial_pearson(x, y, z)
    assert pr is not None and abs(pr) < 0.15
    ci = bootstrap_ci(partial_pearson, x, y, z, n_boot=300, seed=1)
    assert ci is not None and ci[0] < pr < ci[1] and ci[0] < 0 < ci[1]
    assert bootstrap_ci(pearson, [1, 2], [2, 1]) is None


def test_partial_r_equals_the_correlation_of_residuals() -> None:
    rng = np.random.default_rng(3)
    x, y, z = rng.normal(size=(3, 40))
    y = y + 0.5 * x + 0.5 * z
    rx = x - np.polyval(np.polyfit(z, x, 1), z)
    ry = y - np.polyval(np.polyfit(z, y, 1), z)
    assert partial_pearson(x, y, z) == pytest.approx(float(np.corrcoef(rx, ry)[0, 1]), abs=1e-9)
