"""The fast samplers draw exactly what ``random.Random``'s methods draw."""

from __future__ import annotations

import math
import random

import pytest

from privtrak.sim._dists import Dist


def _reference(dist: Dist, rng: random.Random) -> float:
    f, a, b = dist.family, dist.a, dist.b
    if f == "exponential":
        return rng.expovariate(1.0 / a)
    if f == "uniform":
        return rng.uniform(a, b)
    if f == "lognormal":
        return rng.lognormvariate(math.log(a), b)
    assert f == "weibull"
    return rng.weibullvariate(b, a)


@pytest.mark.parametrize("dist", [
    Dist("exponential", 30.0), Dist("exponential", 5e-5), Dist("uniform", 1.0, 3.0),
    Dist("lognormal", 2e6, 1.0), Dist("lognormal", 1.0, 0.2), Dist("weibull", 0.6, 21600.0),
])
def test_sampler_draws_what_random_draws(dist: Dist) -> None:
    mine, ref = random.Random(7), random.Random(7)
    fast = dist.sampler(mine)
    for _ in range(20_000):
        assert fast() == _reference(dist, ref)
    # Both streams advanced alike (lognormal rejects a varying number of pairs).
    assert mine.getstate() == ref.getstate()


def test_constant_samplers_draw_nothing() -> None:
    rng = random.Random(3)
    state = rng.getstate()
    assert Dist("constant", 5.0).sampler(rng)() == 5.0
    assert Dist("lognormal", 2.0, 0.0).sampler(rng)() == 2.0
    assert rng.getstate() == state
