"""Tests of the published cycle-life model set beside simulated lifetimes (Wang et al. 2011, A123 LFP)."""

from __future__ import annotations

import math

import pytest

from eomctl.core.errors import ConfigError
from eomctl.lifetime.reference import (
    WANG2011_B,
    wang2011_activation_energy_j_per_mol,
    wang2011_capacity_loss_pct,
    wang2011_throughput_to_loss_ah,
)


@pytest.mark.parametrize("c_rate", sorted(WANG2011_B))
def test_throughput_to_loss_inverts_the_law(c_rate: float) -> None:
    for temperature_k in (273.15, 298.15, 333.15):
        ah = wang2011_throughput_to_loss_ah(20.0, c_rate, temperature_k)
        assert wang2011_capacity_loss_pct(ah, c_rate, temperature_k) == pytest.approx(20.0, rel=1e-12)


def test_the_law_by_hand_at_c_over_2() -> None:
    """B(C/2) exp(-(31700 - 370.3 / 2) / (R 298.15)) 10 000^0.55, evaluated independently of the module."""
    by_hand = 31_630.0 * math.exp(-(31_700.0 - 185.15) / (8.314 * 298.15)) * 10_000.0**0.55
    assert wang2011_capacity_loss_pct(10_000.0, 0.5, 298.15) == pytest.approx(by_hand, rel=1e-12)
    assert wang2011_activation_energy_j_per_mol(2.0) == pytest.approx(30_959.4)


def test_warmer_cells_and_slow_rates_age_faster_per_ampere_hour() -> None:
    """The study's orderings: loss per throughput grows with temperature, and at 25 C is larger at C/2 than at 2C."""
    cool, warm = (wang2011_throughput_to_loss_ah(20.0, 0.5, t) for t in (298.15, 318.15))
    assert warm < 0.5 * cool
    assert wang2011_throughput_to_loss_ah(20.0, 2.0, 298.15) > cool


def test_rates_the_study_did_not_fit_are_refused() -> None:
    with pytest.raises(ConfigError, match="fitted C-rates"):
        wang2011_capacity_loss_pct(100.0, 1.0, 298.15)
    with pytest.raises(ConfigError, match="positive"):
        wang2011_throughput_to_loss_ah(0.0, 0.5, 298.15)
    with pytest.raises(ConfigError, match="temperature"):
        wang2011_capacity_loss_pct(100.0, 0.5, 0.0)
