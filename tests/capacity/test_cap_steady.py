"""Warm-up removal, trends and Student-t intervals."""

import math
import random

import pytest

from privtrak.capacity import mser5_truncation, t_interval, t_quantile
from privtrak.capacity._steady import slope

# Two-sided 95 % critical values of Student's t (any statistics table).
T_TABLE = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262, 29: 2.045}


@pytest.mark.parametrize(("df", "expected"), sorted(T_TABLE.items()))
def test_t_quantile_matches_the_table(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


def test_t_interval_of_known_values() -> None:
    e = t_interval([1.0, 2.0, 3.0])
    # mean 2, s = 1, half-width = t(0.975, 2) * 1 / sqrt(3)
    assert e.mean == 2.0
    assert e.half_width == pytest.approx(4.303 / math.sqrt(3), rel=1e-3)
    assert (e.low, e.high) == pytest.approx((2 - e.half_width, 2 + e.half_width))


def test_one_replication_states_no_interval() -> None:
    assert math.isnan(t_interval([5.0]).half_width)


def test_mser5_removes_a_warm_up_ramp_and_keeps_a_stationary_series() -> None:
    rng = random.Random(4)
    ramp = [100.0 - 4 * i for i in range(25)]
    steady = [rng.gauss(0, 1) for _ in range(75)]
    cut = mser5_truncation(ramp + steady)
    assert 20 <= cut <= 30
    assert cut % 5 == 0
    assert mser5_truncation(steady) <= 10
    assert mser5_truncation([1.0] * 12) == 0  # fewer than 4 batches: nothing removed


def test_slope_of_a_line_and_of_a_constant() -> None:
    xs = [float(i) for i in range(10)]
    assert slope(xs, [3 * x + 1 for x in xs]) == pytest.approx(3.0)
    assert slope(xs, [7.0] * 10) == 0.0
