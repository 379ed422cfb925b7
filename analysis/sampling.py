"""Drawing lever values from the plan's ``[uncertainty]`` distributions, reproducibly.

Each sample has its own random stream, made from the seed and the sample's index
(``numpy.random.SeedSequence([seed, index])``), and draws its levers in the order of their
names: a sample's values depend on nothing else, so a run gives the same numbers whatever
executor evaluates it, on however many workers, in whatever order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from tco.optimizer.planfile import Dist, Spread

__all__ = ["draw", "sample"]

# a truncated normal is drawn again while it falls outside its bounds, this many times at most
_TRUNCATION_TRIES = 10_000


def draw(spread: Spread, rng: np.random.Generator) -> float:
    """One value of ``spread``."""
    if spread.dist == Dist.UNIFORM:
        return float(rng.uniform(_f(spread.low), _f(spread.high)))
    if spread.dist == Dist.TRIANGULAR:
        low, mode, high = _f(spread.low), _f(spread.mode), _f(spread.high)
        return float(rng.triangular(low, mode, high))
    if spread.dist == Dist.NORMAL:
        low = -math.inf if spread.low is None else spread.low
        high = math.inf if spread.high is None else spread.high
        for _ in range(_TRUNCATION_TRIES):
            x = float(rng.normal(_f(spread.mean), _f(spread.sd)))
            if low <= x <= high:
                return x
        raise ValueError("a truncated normal distribution whose bounds are all but "
                         "impossible to reach")
    if spread.dist == Dist.LOGNORMAL:
        return float(rng.lognormal(math.log(_f(spread.median)), _f(spread.sigma)))
    values = spread.values or []
    weights = np.array(spread.weights if spread.weights is not None else [1.0] * len(values))
    return float(values[int(rng.choice(len(values), p=weights / weights.sum()))])


def _f(x: float | None) -> float:
    if x is None:
        raise ValueError("a distribution parameter is missing")
    return x


def sample(spreads: Mapping[str, Spread], seed: int, index: int) -> dict[str, float]:
    """Sample ``index`` of a run seeded with ``seed``: one value per lever."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    return {name: draw(spreads[name], rng) for name in sorted(spreads)}
