"""The closed forms and interval helpers the validation tests rely on."""

from __future__ import annotations

import random

import pytest
from sim_theory import (
    confidence_interval,
    flush_rate,
    md1_in_system,
    md1_wait,
    mean_buffered,
    mg1_wait,
    mm1_in_system,
    mm1_wait,
)

from privtrak.capacity import t_cdf, t_quantile

# Two-sided 95 % and 99 % critical values from the standard printed t table.
T_TABLE = {
    1: (12.706, 63.657), 2: (4.303, 9.925), 3: (3.182, 5.841), 4: (2.776, 4.604),
    5: (2.571, 4.032), 9: (2.262, 3.250), 14: (2.145, 2.977), 19: (2.093, 2.861),
    29: (2.045, 2.756), 60: (2.000, 2.660),
}


@pytest.mark.parametrize("df", sorted(T_TABLE))
def test_t_quantile_matches_the_printed_table(df: int) -> None:
    t95, t99 = T_TABLE[df]
    assert t_quantile(0.975, df) == pytest.approx(t95, abs=6e-4)
    assert t_quantile(0.995, df) == pytest.approx(t99, abs=6e-4)


def test_t_cdf_is_symmetric_and_tends_to_the_normal() -> None:
    assert t_cdf(0.0, 3) == pytest.approx(0.5)
    assert t_cdf(-1.3, 7) == pytest.approx(1 - t_cdf(1.3, 7), abs=1e-9)
    assert t_quantile(0.975, 100_000) == pytest.approx(1.95996, abs=1e-4)
    assert t_quantile(0.025, 4) == pytest.approx(-2.776, abs=6e-4)


def test_md1_and_mm1_are_special_cases_of_pollaczek_khinchine() -> None:
    lam, mu = 0.7, 1.0
    assert mm1_wait(lam, mu) == pytest.approx(mg1_wait(lam, 1 / mu, 2 / mu**2))
    assert md1_wait(lam, mu) == pytest.approx(mg1_wait(lam, 1 / mu, 1 / mu**2))
    # Little: L = lam * (Wq + 1/mu).
    assert mm1_in_system(lam, mu) == pytest.approx(lam * (mm1_wait(lam, mu) + 1 / mu))
    assert md1_in_system(lam, mu) == pytest.approx(lam * (md1_wait(lam, mu) + 1 / mu))
    # Deterministic service halves the queueing delay of exponential service.
    assert md1_wait(lam, mu) == pytest.approx(mm1_wait(lam, mu) / 2)
    assert mm1_in_system(0.5, 1.0) == pytest.approx(1.0)


def test_unstable_queues_are_refused() -> None:
    with pytest.raises(ValueError, match="rho"):
        mm1_wait(1.0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        md1_wait(-1.0, 1.0)


def test_batching_forms() -> None:
    assert flush_rate(1000.0, 8) == 125.0
    assert mean_buffered(16, 9) == 64.0


def test_confidence_interval_covers_the_true_mean_at_about_its_level() -> None:
    rng = random.Random(20261122)
    trials, covered = 400, 0
    for _ in range(trials):
        ci = confidence_interval([rng.gauss(3.0, 2.0) for _ in range(5)], level=0.9)
        covered += ci.contains(3.0)
    # Binomial(400, 0.9): sd 6, so 0.9 +- 4 sd is [336, 384].
    assert 336 <= covered <= 384


def test_confidence_interval_needs_two_samples() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        confidence_interval([1.0])
    ci = confidence_interval([1.0, 3.0])
    assert ci.mean == 2.0
    assert ci.half_width == pytest.approx(12.706 * 1.0, abs=1e-3)
