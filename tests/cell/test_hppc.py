"""Pulse-resistance extraction: known answers on synthetic records, and agreement with the RPT pulse on a real cell."""

from __future__ import annotations

import numpy as np
import pytest

from eomctl.cell.catalogue import load_cell
from eomctl.cell.hppc import Pulse, PulseError, find_pulses, pulse_resistance
from eomctl.cell.simulator import CellSimulator, SimulatorConfig
from eomctl.lifetime import cycling

CONTACT = "Contact resistance [Ohm]"


def _hppc_record(r0_ohm: float, r1_ohm: float, tau_s: float, dt_s: float) -> tuple[np.ndarray, ...]:
    """A first-order RC cell (U = 3.7 V) under rest / 10 s 5 A discharge / 40 s rest / 10 s 3.75 A charge / rest."""
    t = np.round(np.arange(round(120.0 / dt_s) + 1) * dt_s, 9)
    i = np.zeros_like(t)
    i[(t > 10.0) & (t <= 20.0)] = -5.0  # sample k holds the current applied over (t[k-1], t[k]]
    i[(t > 60.0) & (t <= 70.0)] = 3.75
    v = np.empty_like(t)
    u_rc, v[0] = 0.0, 3.7
    for k in range(1, len(t)):  # exact discretisation of the RC branch under a zero-order hold
        decay = np.exp(-(t[k] - t[k - 1]) / tau_s)
        u_rc = u_rc * decay + r1_ohm * i[k] * (1.0 - decay)
        v[k] = 3.7 + r0_ohm * i[k] + u_rc
    return t, i, v


@pytest.mark.parametrize("dt_s", [0.1, 1.0])
def test_rc_cell_gives_its_resistances(dt_s: float) -> None:
    r0, r1, tau = 0.02, 0.01, 5.0
    pulses = find_pulses(*_hppc_record(r0, r1, tau, dt_s))
    # Four steps last >= 10 s: discharge on, discharge off (a 40 s rest), charge on, charge off.
    assert [p.current_pulse_a for p in pulses] == [-5.0, 0.0, 3.75, 0.0]
    discharge, _, charge, _ = pulses
    expected_10s = r0 + r1 * (1.0 - np.exp(-10.0 / tau))
    np.testing.assert_allclose(discharge.resistance_ohm, expected_10s, rtol=1e-12)
    np.testing.assert_allclose(charge.resistance_ohm, expected_10s, rtol=1e-3)  # the 40 s rest leaves e^-8 of the RC
    np.testing.assert_allclose(discharge.r0_ohm, r0 + r1 * (1.0 - np.exp(-dt_s / tau)), rtol=1e-12)
    assert discharge.start_time_s == pytest.approx(10.0) and discharge.delta_current_a == -5.0


def test_discharge_positive_convention_and_noise() -> None:
    t, i, v = _hppc_record(0.02, 0.01, 5.0, 0.1)
    rng = np.random.default_rng(0)
    noisy = i + rng.normal(0.0, 0.01, i.shape)  # 10 mA cycler noise is no step
    flipped = find_pulses(t, -noisy, v, charge_positive=False)
    assert len(flipped) == 4
    np.testing.assert_allclose(flipped[0].resistance_ohm, 0.02 + 0.01 * (1 - np.exp(-2.0)), rtol=1e-2)


def test_ramped_step_and_short_pulse() -> None:
    t = np.arange(0.0, 30.0, 0.5)
    i = np.where(t > 5.0, -4.0, 0.0)
    i[t == 5.5] = -2.0  # a cycler's current rise over two samples is one step, not two
    v = 3.6 + 0.01 * i
    (pulse,) = [p for p in find_pulses(t, i, v) if p.current_pulse_a < 0]
    assert pulse.start_time_s == 5.0 and pulse.current_pulse_a == -4.0
    np.testing.assert_allclose(pulse.resistance_ohm, 0.01, rtol=1e-12)
    assert find_pulses(t, i, v, duration_s=30.0) == []  # never held 30 s


@pytest.mark.parametrize(
    ("t", "i", "v", "message"),
    [
        ([0.0, 1.0], [0.0], [3.7, 3.6], "differ in length"),
        ([0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [3.7, 3.8, 3.8], "increase"),
        ([0.0, 1.0], [0.0, np.nan], [3.7, 3.6], "non-finite"),
    ],
)
def test_bad_records_are_named(t: list[float], i: list[float], v: list[float], message: str) -> None:
    with pytest.raises(PulseError, match=message):
        find_pulses(np.array(t), np.array(i), np.array(v))


@pytest.fixture(scope="module")
def sim() -> CellSimulator:
    return CellSimulator(
        load_cell("Chen2020"), SimulatorConfig(model="SPMe", thermal="lumped", compile=False, extra_inputs=(CONTACT,))
    )


def test_pulse_leaves_the_state_and_matches_the_rpt_pulse(sim: CellSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """cycling.reference_test's pulse and pulse_resistance from the same state agree to solver tolerance."""
    sim.reset(soc=0.0)
    captured: list[object] = []
    real_step = sim.step

    def spy(current_a: float, dt_s: float, **kwargs: float) -> object:
        if dt_s == cycling.PULSE_S and current_a < 0 and not captured:
            captured.append(sim.state)  # the rested state right before the RPT's pulse
        return real_step(current_a, dt_s, **kwargs)

    monkeypatch.setattr(sim, "step", spy)
    _, r_rpt = cycling.reference_test(sim, rest_s=600.0)
    monkeypatch.undo()
    sim.restore(captured[0])  # type: ignore[arg-type]
    before = sim.state
    pulse = pulse_resistance(sim, c_rate=cycling.PULSE_RATE_C, duration_s=cycling.PULSE_S)
    np.testing.assert_allclose(pulse.resistance_ohm, r_rpt, rtol=1e-4)
    assert sim.state is before  # restored
    assert 0.0 < pulse.r0_ohm < pulse.resistance_ohm < 0.1  # diffusion adds to the instantaneous drop


def test_pulse_at_soc_rises_with_contact_resistance(sim: CellSimulator) -> None:
    fresh = pulse_resistance(sim, soc=0.5, inputs={CONTACT: 0.0})
    aged = pulse_resistance(sim, soc=0.5, inputs={CONTACT: 0.01})
    # A series resistance adds to the instantaneous resistance exactly; over 10 s its Joule heat warms the lumped cell
    # (~0.05 K), which lowers the other resistances a little (measured: 0.25 % of the 10 mOhm).
    np.testing.assert_allclose(aged.r0_ohm - fresh.r0_ohm, 0.01, rtol=1e-4)
    np.testing.assert_allclose(aged.resistance_ohm - fresh.resistance_ohm, 0.01, rtol=5e-3)
    charge = pulse_resistance(sim, soc=0.5, direction="charge", inputs={CONTACT: 0.0})
    assert isinstance(charge, Pulse) and charge.delta_current_a > 0
    np.testing.assert_allclose(charge.resistance_ohm, fresh.resistance_ohm, rtol=0.3)


def test_pulse_cut_off_is_an_error(sim: CellSimulator) -> None:
    with pytest.raises(PulseError, match="stopped early"):
        pulse_resistance(sim, soc=0.0, c_rate=3.0)
