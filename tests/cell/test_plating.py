"""Tests of the consistent, Arrhenius lithium plating kinetics (eomctl.cell.plating) and the irreversible loss.

The model-level tests build SPMe + SEI + plating without JIT (quick to build) on the LG M50.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eomctl.cell import plating
from eomctl.cell.catalogue import load_cell
from eomctl.cell.simulator import CellSimulator, SimulatorConfig

ALPHA_PLATING = 0.65  # O'Kane 2022's transfer coefficient (stripping: 1 - 0.65)


@pytest.mark.parametrize("eta_v", [0.0101, 0.05, 0.1, 0.2, 0.3])
def test_no_reaction_above_0v_without_plated_lithium(eta_v: float) -> None:
    """No plated lithium (stripping exchange current 0): no net reaction at +10 mV and above, where O'Kane's form
    plates (the cathodic branch alone)."""
    args = (eta_v, 273.15, 0.0, 1.0, 1 - ALPHA_PLATING, ALPHA_PLATING)
    assert plating.net_stripping_current(*args) == 0.0
    assert plating.okane_net_stripping_current(*args) < 0.0


@given(
    eta_v=st.floats(-0.5, 0.5),
    temperature_k=st.floats(243.15, 333.15),
    j0_stripping=st.floats(0.0, 10.0),
    j0_plating=st.floats(0.0, 10.0),
)
def test_the_reaction_always_dissipates(
    eta_v: float, temperature_k: float, j0_stripping: float, j0_plating: float
) -> None:
    """Second law: the net current has the sign of its overpotential (j * eta >= 0), zero at the lithium metal
    equilibrium eta = 0, for any exchange currents and temperature."""
    j = plating.net_stripping_current(eta_v, temperature_k, j0_stripping, j0_plating, 1 - ALPHA_PLATING, ALPHA_PLATING)
    assert j * eta_v >= 0.0
    if eta_v == 0.0:
        assert j == 0.0


def _processed_exchange_currents(temperature_k: float) -> tuple[float, float]:
    """The consistent model's plating and stripping exchange currents [A/m2] of the LG M50 at 1 M electrolyte and
    500 mol/m3 plated lithium, processed by PyBaMM from the cell's parameter set as the model does."""
    return plating.exchange_currents(load_cell("LGM50").parameter_values, 1000.0, 500.0, temperature_k)


def test_the_plating_rate_falls_with_temperature_by_the_arrhenius_factor() -> None:
    """At a fixed negative overpotential (-50 mV) the plating rate at 0 C over that at 25 C is the Arrhenius factor
    exp(-E_a/R (1/273.15 - 1/298.15)) = 0.275 (E_a = 35 kJ/mol) times the Butler-Volmer factor's own change."""
    (pl_cold, st_cold), (pl_warm, st_warm) = _processed_exchange_currents(273.15), _processed_exchange_currents(298.15)
    expected = math.exp(-plating.DEFAULT_ACTIVATION_ENERGY_J_PER_MOL / 8.314462618 * (1 / 273.15 - 1 / 298.15))
    assert expected == pytest.approx(0.275, abs=1e-3)
    assert pl_cold / pl_warm == pytest.approx(expected, rel=1e-9)
    assert st_cold / st_warm == pytest.approx(expected, rel=1e-9)  # the two branches keep their ratio
    eta = -0.05
    cold = plating.net_stripping_current(eta, 273.15, st_cold, pl_cold, 1 - ALPHA_PLATING, ALPHA_PLATING)
    warm = plating.net_stripping_current(eta, 298.15, st_warm, pl_warm, 1 - ALPHA_PLATING, ALPHA_PLATING)

    def bv(t: float) -> float:
        f = 96485.33212 / (8.314462618 * t)
        return math.exp((1 - ALPHA_PLATING) * f * eta) - math.exp(-ALPHA_PLATING * f * eta)

    assert cold / warm == pytest.approx(expected * bv(273.15) / bv(298.15), rel=1e-9)


@pytest.fixture(scope="module")
def sims() -> dict[str, CellSimulator]:
    cell = load_cell("LGM50")
    config = SimulatorConfig(model="SPMe", degradation=True, compile=False)
    kinds = ("consistent", "pybamm")
    return {kind: CellSimulator(cell, dataclasses.replace(config, plating_kinetics=kind)) for kind in kinds}


def _charge(sim: CellSimulator, ambient_c: float, rate_c: float, anode_min_v: float | None) -> float:
    """Charge from 10 to 80 % SOC in 30 s steps; returns the lowest anode potential reached [V]."""
    sim.reset(soc=0.1, ambient_k=273.15 + ambient_c)
    lowest = math.inf
    while sim.last.soc < 0.8:
        step = sim.step_limited(rate_c * sim.cell.capacity_ah, 30.0, v_max_v=4.2, anode_min_v=anode_min_v)
        assert not step.solver_failed
        lowest = min(lowest, step.anode_potential_v)
    return lowest


def test_a_charge_kept_above_10mv_plates_nothing(sims: dict[str, CellSimulator]) -> None:
    """0 C, 1C, the anode kept at or above +10 mV vs Li/Li+: below 1e-9 A.h plated (1e-6 % of the cell). The same
    charge with PyBaMM's kinetics plates tens of mA.h (measured 0.049 A.h on SPMe)."""
    plated = {}
    for kind, sim in sims.items():
        lowest = _charge(sim, 0.0, 1.0, anode_min_v=0.01)
        assert lowest >= 0.01 - 2e-4
        plated[kind] = sim.last.degradation["plating_ah"]
    assert abs(plated["consistent"]) < 1e-9
    assert plated["pybamm"] > 1e-2


def test_colder_plates_more_and_loses_more_for_good(sims: dict[str, CellSimulator]) -> None:
    """Unguarded 2C, 10 -> 80 %: plated lithium at charge end and the irreversible loss both grow as the ambient falls
    (-10, 0, 10 C; none plates at 25 C); the irreversible loss lies between the SEI share and LLI, and computing it
    leaves the simulator where it was. Measured: 0.20 / 0.13 / 0.078 / 0 A.h plated."""
    sim = sims["consistent"]
    plated, lost = [], []
    for ambient_c in (-10.0, 0.0, 10.0, 25.0):
        _charge(sim, ambient_c, 2.0, anode_min_v=None)
        before = sim.state
        loss = sim.irreversible_loss()
        assert sim.state is before
        deg = sim.last.degradation
        sei_pct = loss.lli_pct * deg["sei_ah"] / (deg["sei_ah"] + deg["plating_ah"])
        assert sei_pct * (1 - 1e-6) <= loss.irreversible_pct <= loss.lli_pct
        plated.append(deg["plating_ah"])
        lost.append(loss.irreversible_pct)
    assert np.all(np.diff(plated[:3]) < 0) and plated[2] > 1e-2 and abs(plated[3]) < 1e-9, plated
    assert np.all(np.diff(lost) < 0), lost


def test_an_unknown_plating_law_is_a_clear_error() -> None:
    from eomctl.core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown plating_kinetics 'okane'; choose 'consistent' or 'pybamm'"):
        SimulatorConfig(plating_kinetics="okane").validate()  # type: ignore[arg-type]
