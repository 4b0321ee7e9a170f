"""Probability distributions named in scenarios, and how to draw from them.

A scenario writes a distribution as a mapping with exactly one family key::

    {constant: 5}                        # always 5
    {exponential: {mean: 30m}}
    {uniform: {low: 1, high: 3}}
    {lognormal: {median: 2e6, sigma: 1}}
    {weibull: {shape: 0.6, scale: 6h}}

or as a bare number (a constant). Parameters of time quantities accept Go
durations (``30m``). :func:`parse_dist` validates and raises
:class:`ScenarioError` naming the dotted key; impossible parameters (a
negative mean, ``low > high``, a non-positive shape) are refused.

Draws come in two forms: :meth:`Dist.sampler` binds a fast sampling function
to one random stream (hot paths), and :meth:`Dist.quantile` maps a uniform
number in [0, 1) to a value by the inverse CDF (so one uniform drawn per
purpose gives common random numbers across runs).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

from ._errors import ScenarioError
from ._units import parse_quantity

_STD_NORMAL = NormalDist()
_NV_MAGICCONST = 4 * math.exp(-0.5) / math.sqrt(2.0)
"""The constant of ``random.normalvariate`` (Kinderman and Monahan)."""

FAMILIES: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "exponential": ("mean",),
    "uniform": ("low", "high"),
    "lognormal": ("median", "sigma"),
    "weibull": ("shape", "scale"),
}
"""Each family and its parameters, in order."""


@dataclass(frozen=True, slots=True)
class Dist:
    """A validated distribution over non-negative reals."""

    family: str
    a: float
    """First parameter (value, mean, low, median or shape)."""
    b: float = 0.0
    """Second parameter (high, sigma or scale); unused otherwise."""

    def mean(self) -> float:
        """The distribution's expectation."""
        f, a, b = self.family, self.a, self.b
        if f in {"constant", "exponential"}:
            return a
        if f == "uniform":
            return (a + b) / 2
        if f == "lognormal":
            return a * math.exp(b * b / 2)
        return b * math.gamma(1 + 1 / a)

    def quantile(self, u: float) -> float:
        """The value whose CDF is ``u`` (``0 <= u < 1``): the inverse-CDF draw."""
        f, a, b = self.family, self.a, self.b
        if f == "constant":
            return a
        if f == "exponential":
            return -a * math.log1p(-u)
        if f == "uniform":
            return a + u * (b - a)
        if f == "lognormal":
            if b == 0.0:
                return a
            return a * math.exp(b * _STD_NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12)))
        return float(b * (-math.log1p(-u)) ** (1 / a))

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """A zero-argument function drawing from this distribution with ``rng``.

        Each draw is the same number ``random.Random``'s own method gives
        (``expovariate``, ``uniform``, ``lognormvariate``, ``weibullvariate``)
        from the same state: the same formula on the same ``rng.random()``
        values, written out so that a draw is one call instead of two or
        three (``tests/sim/test_sim_dists.py`` compares them).
        """
        f, a, b = self.family, self.a, self.b
        rnd = rng.random
        log = math.log
        if f == "constant" or (f == "lognormal" and b == 0.0):
            return lambda: a
        if f == "exponential":
            rate = 1.0 / a

            def expo() -> float:
                return -log(1.0 - rnd()) / rate
            return expo
        if f == "uniform":
            span = b - a
            return lambda: a + span * rnd()
        if f == "lognormal":
            mu = math.log(a)
            exp = math.exp

            def lognormal() -> float:
                # Kinderman and Monahan's ratio of uniforms, as normalvariate.
                while True:
                    u1 = rnd()
                    u2 = 1.0 - rnd()
                    z = _NV_MAGICCONST * (u1 - 0.5) / u2
                    if z * z / 4.0 <= -log(u2):
                        return exp(mu + z * b)
            return lognormal
        inv_shape = 1.0 / a

        def weibull() -> float:
            value: float = b * (-log(1.0 - rnd())) ** inv_shape  # float ** float is typed Any
            return value
        return weibull

    def to_data(self) -> dict[str, object]:
        """The scenario form of this distribution (canonical, for results)."""
        names = FAMILIES[self.family]
        if self.family == "constant":
            return {"constant": self.a}
        return {self.family: dict(zip(names, (self.a, self.b), strict=False))}


def constant(value: float) -> Dist:
    """A distribution that always gives ``value``."""
    return Dist("constant", float(value))


def parse_dist(path: str, raw: object, *, duration: bool = False,
               allow_zero: bool = True) -> Dist:
    """Validate the scenario value ``raw`` found at ``path`` as a distribution.

    ``duration`` lets parameters be Go durations. ``allow_zero=False`` refuses
    a distribution that can only give zero. Raises :class:`ScenarioError`.
    """
    if not isinstance(raw, dict):
        value = parse_quantity(path, raw, duration=duration)
        if value < 0:
            raise ScenarioError(path, raw, "must not be negative")
        if value == 0 and not allow_zero:
            raise ScenarioError(path, raw, "must be positive")
        return constant(value)
    if len(raw) != 1:
        raise ScenarioError(path, raw, f"must have exactly one family key, one of "
                            f"{sorted(FAMILIES)}")
    family, params = next(iter(raw.items()))
    if family not in FAMILIES:
        raise ScenarioError(f"{path}.{family}", params,
                            f"unknown distribution family; known: {sorted(FAMILIES)}")
    where = f"{path}.{family}"
    names = FAMILIES[family]
    if family == "constant" and not isinstance(params, dict):
        params = {"value": params}
    if not isinstance(params, dict):
        raise ScenarioError(where, params, f"must be a mapping with keys {list(names)}")
    for key in params:
        if key not in names:
            raise ScenarioError(f"{where}.{key}", params[key],
                                f"unknown parameter; {family} takes {list(names)}")
    values: list[float] = []
    for name in names:
        if name not in params:
            raise ScenarioError(f"{where}.{name}", None, "is required")
        # sigma and shape are dimensionless even for time distributions.
        is_time = duration and name not in ("sigma", "shape")
        values.append(parse_quantity(f"{where}.{name}", params[name], duration=is_time))
    for name, value in zip(names, values, strict=True):
        if value < 0:
            raise ScenarioError(f"{where}.{name}", params[name], "must not be negative")
    dist = Dist(family, *values)
    if family == "exponential" and dist.a <= 0:
        raise ScenarioError(f"{where}.mean", params["mean"], "must be positive")
    if family == "uniform" and dist.a > dist.b:
        raise ScenarioError(f"{where}.low", params["low"],
                            f"must not exceed high ({params['high']})")
    if family == "lognormal" and dist.a <= 0:
        raise ScenarioError(f"{where}.median", params["median"], "must be positive")
    if family == "weibull":
        if dist.a <= 0:
            raise ScenarioError(f"{where}.shape", params["shape"], "must be positive")
        if dist.b <= 0:
            raise ScenarioError(f"{where}.scale", params["scale"], "must be positive")
    if not allow_zero and dist.family in ("constant", "uniform") and (
            dist.b if family == "uniform" else dist.a) == 0:
        raise ScenarioError(path, raw, "must be able to give a positive value")
    return dist
