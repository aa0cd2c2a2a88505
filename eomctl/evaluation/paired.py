"""Paired comparisons on the same draws: the mean difference of two chargers with a bootstrap 95 % interval.

Two chargers run on the same held-out draws (same seeds: the same ambient, start SOC, cell spread and aging) differ
per episode far less than either varies across episodes, so the comparison is on the paired differences. The
interval is SciPy's bias-corrected and accelerated bootstrap (:func:`scipy.stats.bootstrap`, BCa) with a fixed seed,
so the same runs give the same interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eomctl.core.errors import ConfigError

N_RESAMPLES = 9999
CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedDifference:
    """``mean(a - b)`` over paired episodes with its bootstrap interval, and the same relative to ``mean(b)`` [%]."""

    metric: str
    n: int
    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float

    @property
    def relative_pct(self) -> float:
        """``100 * mean(a - b) / mean(b)``."""
        return 100.0 * self.difference / self.mean_b if self.mean_b else float("nan")

    @property
    def significant(self) -> bool:
        """True when the interval excludes 0."""
        return self.low > 0.0 or self.high < 0.0


def paired_difference(
    metric: str, a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE, seed: int = 0
) -> PairedDifference:
    """The mean of ``a - b`` over paired episodes and its BCa bootstrap interval at ``confidence``.

    Raises :class:`ConfigError` for unequal lengths, fewer than 2 pairs or non-finite values (a failed episode must
    be dropped from both sides, or the comparison said to fail).
    """
    from scipy.stats import bootstrap

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ConfigError(f"paired '{metric}': needs two equal-length 1-D samples; got {x.shape} and {y.shape}")
    if x.size < 2:
        raise ConfigError(f"paired '{metric}': needs at least 2 pairs; got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ConfigError(f"paired '{metric}': non-finite values (drop failed episodes from both sides)")
    d = x - y
    if np.ptp(d) == 0.0:  # every pair differs alike: the bootstrap distribution is a point
        low = high = float(d[0])
    else:
        result = bootstrap((d,), np.mean, confidence_level=confidence, n_resamples=N_RESAMPLES, method="BCa",
                           random_state=np.random.default_rng(seed))  # fmt: skip
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return PairedDifference(metric, int(x.size), float(x.mean()), float(y.mean()), float(d.mean()), low, high)
