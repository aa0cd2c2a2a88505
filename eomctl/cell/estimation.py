"""State estimation from what a BMS measures: an extended Kalman filter on the simulator's own model.

The filter's model is :attr:`CellSimulator.dae` stepped over one control step by CVODES (the same discretised PyBaMM
model the simulator steps, with the cell's *nominal* inputs: a BMS does not know its cell's aging state), and its
Jacobian ``F = dx_{k+1}/dx_k`` comes exactly from CVODES forward sensitivities. Measurements are terminal voltage
and cell temperature; the current is measured too and enters as the model's input (the step's mean current).

The initial estimate is what a BMS can do at the start of a charge: the cell has rested, so its voltage is its open-
circuit voltage; the SOC is the one whose relaxed model voltage matches it (bisection), and the temperatures (cell and
ambient) are the measured cell temperature. The initial covariance lies along the direction in which the state moves
with SOC (``P0 = sigma_soc^2 v v^T`` plus a small diagonal), the uncertainty an OCV-based SOC leaves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import casadi
import numpy as np

from eomctl.cell.simulator import CellSimulator, SimState

VOLTAGE_NOISE_V = 2e-3  # measurement noise of a BMS voltage channel (1 sigma)
TEMPERATURE_NOISE_K = 0.2  # of a cell thermistor (1 sigma)
PROCESS_NOISE_REL = 1e-5  # per step, relative to each state's magnitude (model error of one 30 s step)
SOC_SIGMA = 0.03  # initial SOC uncertainty of an OCV reading on a cell of unknown age (1 sigma)


@dataclass
class EstimatorStats:
    """Running cost and error bookkeeping of a filter (wall time per step [s], steps)."""

    wall_s: float = 0.0
    steps: int = 0


class ExtendedKalmanFilter:
    """An extended Kalman filter of the simulator's differential state from voltage and temperature.

    Parameters
    ----------
    sim : CellSimulator
        The filter's model (its DAE and outputs); left at the estimate after every call, so it can be stepped or
        read like the true cell.
    dt_s : float
        The control step [s] the filter predicts over.
    voltage_v, temperature_k : float
        The first measurement (the rested cell) the initial estimate is made from.
    """

    def __init__(self, sim: CellSimulator, dt_s: float, voltage_v: float, temperature_k: float) -> None:
        self.sim, self.dt_s = sim, float(dt_s)
        names = sim.output_names
        self._measured = [names.index("voltage_v"), names.index("temperature_k")]
        options: dict[str, Any] = {"abstol": sim.config.atol, "reltol": sim.config.rtol, "expand": True,
                                   "show_eval_warnings": False, "fsens_err_con": False,
                                   "sensitivity_method": "staggered"}  # fmt: skip
        dae: dict[str, Any] = dict(sim.dae)
        integrator = casadi.integrator("ekf_step", "cvodes", dae, 0.0, 1.0, options)
        x = casadi.MX.sym("x", sim.n_x)
        p = casadi.MX.sym("p", dae["p"].shape[0])  # the inputs, then dt
        x_next = integrator(x0=x, p=p)["xf"]
        self._transition = casadi.Function("ekf_f", [x, p], [x_next, casadi.jacobian(x_next, x)])
        xs = casadi.SX.sym("x", sim.n_x)
        ps = casadi.SX.sym("p", dae["p"].shape[0] - 1)
        y = sim.output_function(xs, casadi.SX(0, 1), ps)[self._measured]
        self._measure = casadi.Function("ekf_h", [xs, ps], [y, casadi.jacobian(y, xs)])
        self.stats = EstimatorStats()
        soc = self._soc_from_rest_voltage(voltage_v, temperature_k)
        sim.reset(soc=soc, temperature_k=temperature_k, ambient_k=temperature_k)
        self.x = np.asarray(sim.state.x).ravel()
        self.inputs = np.asarray(sim.state.inputs, dtype=float)
        direction = self._soc_direction(soc, temperature_k)
        scale = np.maximum(np.abs(self.x), 1e-12)
        self.covariance = SOC_SIGMA**2 * np.outer(direction, direction) + np.diag((1e-4 * scale) ** 2)
        self.process_noise = np.diag((PROCESS_NOISE_REL * scale) ** 2)
        self.measurement_noise = np.diag([VOLTAGE_NOISE_V**2, TEMPERATURE_NOISE_K**2])
        self.sim.reset(soc=soc, temperature_k=temperature_k, ambient_k=temperature_k)

    def _soc_from_rest_voltage(self, voltage_v: float, temperature_k: float) -> float:
        """The SOC whose relaxed model voltage is ``voltage_v`` (bisection: the OCV rises with SOC)."""
        lo, hi = 0.0, 1.0
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            if self.sim.reset(soc=mid, temperature_k=temperature_k, ambient_k=temperature_k).voltage_v < voltage_v:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def _soc_direction(self, soc: float, temperature_k: float, delta: float = 1e-3) -> np.ndarray:
        """d(state)/d(SOC) of the relaxed cell, by central differences."""
        states = []
        for s in (max(soc - delta, 0.0), min(soc + delta, 1.0)):
            self.sim.reset(soc=s, temperature_k=temperature_k, ambient_k=temperature_k)
            states.append(np.asarray(self.sim.state.x).ravel())
        return (states[1] - states[0]) / (2 * delta)

    @property
    def state(self) -> SimState:
        """The estimate as a simulator state (time 0, the filter's nominal inputs)."""
        return self.sim.state_at(self.x, self.inputs)

    @property
    def soc(self) -> float:
        """The estimated SOC (by the negative electrode's mean stoichiometry on the model's window)."""
        names = self.sim.output_names
        out = np.asarray(self.sim.output_function(self.x, casadi.DM(0, 1), self.inputs)).ravel()
        x0, x100 = self.sim.negative_window
        return float((out[names.index("x_avg")] - x0) / (x100 - x0))

    def step(self, current_a: float, voltage_v: float, temperature_k: float) -> None:
        """Predict over one step at the measured mean ``current_a`` [A, charging positive], then correct with the
        voltage and temperature measured at its end."""
        tic = time.perf_counter()
        p = self.inputs.copy()
        p[0], p[1] = -current_a, 0.0  # PyBaMM current: negative on charge
        x_pred, jac = self._transition(self.x, np.concatenate([p, [self.dt_s]]))
        x_pred, jac = np.asarray(x_pred).ravel(), np.asarray(jac)
        cov = jac @ self.covariance @ jac.T + self.process_noise
        y, h = self._measure(x_pred, p)
        y, h = np.asarray(y).ravel(), np.asarray(h)
        innovation_cov = h @ cov @ h.T + self.measurement_noise
        gain = np.linalg.solve(innovation_cov, h @ cov).T
        self.x = x_pred + gain @ (np.array([voltage_v, temperature_k]) - y)
        joseph = np.eye(self.x.size) - gain @ h
        self.covariance = joseph @ cov @ joseph.T + gain @ self.measurement_noise @ gain.T
        self.inputs = p
        self.stats.wall_s += time.perf_counter() - tic
        self.stats.steps += 1
