"""A model-predictive charger: the bound's optimiser, re-solved over a receding horizon as the charge goes.

``mpc:rate=2C,horizon_s=600,replan_s=60,objective=entropy,state=oracle`` keeps the charge time of CC-CV at ``rate``
(simulated on the controller's model at the start of the charge) and spends it with the least entropy (or
irreversible lithium loss, or a weighted sum). At the start it solves the whole charge open loop
(:class:`~eomctl.cell.optimal_control.ChargeOptimizer`, the bound's problem on its own model) and takes that
optimum's SOC trajectory as its schedule (the CC-CV's when no better feasible plan is found). Then every
``replan_s`` it re-solves over the next ``horizon_s`` (steps of the env's control step, the scenario's limits at
three check points per step) from the present state, subject to reaching the schedule's SOC at the horizon's end
(the target once the horizon reaches the schedule's end), and applies the plan until the next replan.

``state`` says what the controller knows:

- ``oracle``: the model's full state, read from the simulator the env steps (its true aging inputs, ambient and
  temperatures). Not implementable on a real charger; a reference, labelled so.
- ``ekf``: an extended Kalman filter on the same model with the cell's nominal inputs, fed only what a BMS measures
  (voltage, current, temperature; :class:`~eomctl.cell.estimation.ExtendedKalmanFilter`).

The plan's currents are requests: the env (or the lifetime engine) still enforces its limits.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eomctl.cell.estimation import ExtendedKalmanFilter
from eomctl.cell.optimal_control import IRREVERSIBLE_SCALE, ChargeLimits, ChargeOptimizer
from eomctl.cell.simulator import CellSimulator
from eomctl.core.errors import ConfigError
from eomctl.policies.baselines import Baseline, Rate
from eomctl.policies.protocol import ControlTarget, EnvContext

MPC_OBJECTIVES = ("entropy", "irreversible", "weighted")
MPC_STATES = ("oracle", "ekf")
MAX_SOLVE_S = 60.0  # wall-time cap of one replan; past it the best feasible plan found is used
MAX_BASIS = 20  # free directions of a plan (one per step up to 20 steps)
DEFAULT_RATE = Rate(1.0)
# The final horizon asks for this much SOC above the target: the optimiser meets a bound to 1e-6, the env ends a charge
# at SOC >= target exactly, and a plan that stops 1e-6 short would rest at zero current until the time limit.
SOC_MARGIN = 2e-4
# A shortfall below the schedule costs this much [J/K per unit SOC]: 100x the entropy of a whole charge per unit SOC,
# so the plan meets the schedule whenever it can; when it cannot (the schedule rides a limit with the env's in-step
# controller, which piecewise-constant plans cannot match exactly) it catches up as fast as the limits allow.
SHORTFALL_WEIGHT = 1e3


@dataclass
class _Episode:
    """One charge's controller state: the model, the schedule, the current plan and the cost bookkeeping."""

    model: CellSimulator
    limits: ChargeLimits
    dt_s: float
    schedule_soc: np.ndarray  # schedule SOC after each step
    schedule_a: np.ndarray  # the schedule's currents [A]
    estimator: ExtendedKalmanFilter | None
    step: int = 0
    plan: np.ndarray = field(default_factory=lambda: np.zeros(0))
    plan_start: int = 0
    optimizers: dict[int, ChargeOptimizer] = field(default_factory=dict)
    solve_s: list[float] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    wall_s: float = 0.0


@dataclass(frozen=True)
class MPC(Baseline):
    """Receding-horizon optimal charging (see the module docstring); ``weight`` [J/K per %] for "weighted"."""

    rate: Rate = DEFAULT_RATE
    horizon_s: float = 600.0
    replan_s: float = 60.0
    objective: str = "entropy"
    weight: float = 0.0
    state: str = "oracle"
    target: Any = field(default=None, repr=False, compare=False, kw_only=True)

    def __post_init__(self) -> None:
        self._require("horizon_s", self.horizon_s > 0 and math.isfinite(self.horizon_s), "a positive time [s]")
        self._require("replan_s", 0 < self.replan_s <= self.horizon_s, f"in (0, horizon_s = {self.horizon_s}] s")
        self._require("objective", self.objective in MPC_OBJECTIVES, f"one of {MPC_OBJECTIVES}")
        self._require("state", self.state in MPC_STATES, f"one of {MPC_STATES}")
        self._require("weight", self.weight >= 0 and (self.objective != "weighted" or self.weight > 0),
                      "> 0 for the weighted objective (>= 0 otherwise)")  # fmt: skip

    def bind(self, env: ControlTarget) -> MPC:
        """A copy bound to ``env``: it needs the simulator behind it (an env or the lifetime engine's charge)."""
        if not isinstance(getattr(env, "sim", None), CellSimulator):
            raise ConfigError("mpc: needs a target with a cell simulator (a ChargingEnv or the lifetime engine)")
        if self.objective != "entropy" and "lli_pct" not in env.sim.output_names:  # type: ignore[attr-defined]
            raise ConfigError(f"mpc: objective '{self.objective}' needs a scenario with degradation")
        return dataclasses.replace(self, context=EnvContext.of(env), target=env)

    # ------------------------------------------------------------------ control
    def current_a(self, observation: np.ndarray, state: Any) -> tuple[float, Any]:
        """The plan's current for this step (re-planning every ``replan_s``); the state carries the episode
        (:meth:`Baseline.predict` clears it at an episode's start)."""
        tic = time.perf_counter()
        if not isinstance(state, _Episode):
            state = self._start(observation)
        elif state.estimator is not None:
            ctx = self.ctx
            state.estimator.step(
                ctx.read(observation, "c_rate") * ctx.capacity_ah,
                ctx.read(observation, "voltage_v"),
                ctx.read(observation, "temperature_k"),
            )
        replan_steps = max(1, round(self.replan_s / state.dt_s))
        if state.step >= state.schedule_soc.size:
            # Past the schedule's end and the env has not ended the charge: the model (or the estimate) believed
            # the target met when the cell had not reached it. Finish as the schedule's CC-CV does, at `rate` under
            # the env's limits, rather than plan a rest on a belief the env contradicts.
            current_a = self.rate.amps(self.ctx.capacity_ah)
        else:
            if state.step % replan_steps == 0 or state.step - state.plan_start >= state.plan.size:
                self._replan(state)
            current_a = float(state.plan[min(state.step - state.plan_start, state.plan.size - 1)])
        state.step += 1
        state.wall_s += time.perf_counter() - tic
        return current_a, state

    def _start(self, observation: np.ndarray) -> _Episode:
        """The controller's model at the charge's start and the schedule: CC-CV at ``rate`` simulated on it."""
        target = self.target
        if target is None:
            raise ConfigError("mpc: call bind(env.unwrapped) before predict()")
        true_sim: CellSimulator = target.sim
        model = true_sim.twin()
        sc, ctx = target.scenario, self.ctx
        v_max = sc.limits.v_max_v if sc.limits.v_max_v is not None else true_sim.cell.v_max_v
        limits = ChargeLimits(v_max, sc.limits.t_max_k, sc.limits.anode_min_v, ctx.current_max_a)
        estimator = None
        if self.state == "oracle":
            model.restore(true_sim.state)
        else:
            estimator = ExtendedKalmanFilter(
                model.twin(), sc.dt_s, ctx.read(observation, "voltage_v"), ctx.read(observation, "temperature_k")
            )
            model.restore(estimator.state)
        start = model.state
        socs, currents = [], []
        for _ in range(math.ceil(sc.time_limit_s / sc.dt_s)):  # the schedule: CC-CV at `rate`, to the target
            result = model.step_limited(self.rate.amps(ctx.capacity_ah), sc.dt_s, v_max_v=limits.v_max_v,
                                        anode_min_v=limits.anode_min_v, t_max_k=limits.t_max_k)  # fmt: skip
            if result.solver_failed:
                break
            socs.append(result.soc)
            currents.append(result.charge_in_ah * 3600.0 / result.duration_s)  # the step's mean current
            if result.soc >= sc.target_soc:
                break
        model.restore(start)
        episode = _Episode(model, limits, float(sc.dt_s), np.array(socs), np.array(currents), estimator)
        self._plan_whole_charge(episode, start)
        return episode

    def _plan_whole_charge(self, ep: _Episode, start: Any) -> None:
        """Replace the CC-CV schedule by the open-loop optimum over the whole charge (the bound's problem on the
        controller's model, from the CC-CV), keeping its charge time: the receding horizon then tracks the optimum's
        SOC trajectory and corrects what the model got wrong. Kept as CC-CV when no better feasible plan is found."""
        sc, n_steps = self.target.scenario, ep.schedule_soc.size
        if n_steps < 2 or ep.schedule_soc[-1] < sc.target_soc:
            return
        # Soft end condition and scaled-down starts: where the CC-CV rides a limit with the env's in-step controller,
        # its own profile passes the limit between check points and no constant-per-step profile matches its time
        # exactly; a start a little below it keeps every limit, and the solve then gets as close to the target as
        # the limits allow (the receding horizon makes up the rest).
        optimizer = self._optimizer(ep, n_steps)
        starts = [ep.schedule_a * f for f in (1.0, 0.97, 0.9)]
        solution = optimizer.solve(start, ep.model.negative_window, sc.target_soc + SOC_MARGIN, starts, MAX_SOLVE_S)
        ep.solve_s.append(solution.solve_time_s)
        ep.statuses.append(f"whole charge: {solution.status if solution.feasible else 'infeasible'}")
        if not solution.feasible:
            return
        socs = []
        for current_a in solution.currents_a:
            socs.append(ep.model.step(float(current_a), ep.dt_s).soc)
        ep.model.restore(start)
        if socs[-1] < sc.target_soc:  # the plan falls short of the CC-CV's time under the limits: keep the CC-CV
            ep.statuses[-1] = f"whole charge: short of the target (SOC {socs[-1]:.4f}), CC-CV schedule kept"
            return
        ep.schedule_soc, ep.schedule_a = np.array(socs), solution.currents_a

    def _optimizer(self, ep: _Episode, horizon: int, soft: bool = True) -> ChargeOptimizer:
        weights = {"entropy": (1.0, 0.0), "irreversible": (0.0, IRREVERSIBLE_SCALE),
                   "weighted": (1.0, self.weight)}[self.objective]  # fmt: skip
        return ChargeOptimizer(
            ep.model, ep.limits, horizon, ep.dt_s, n_basis=min(horizon, MAX_BASIS), entropy_weight=weights[0],
            irreversible_weight=weights[1], soc_shortfall_weight=SHORTFALL_WEIGHT if soft else None,
        )  # fmt: skip

    def _replan(self, ep: _Episode) -> None:
        """Solve the horizon's plan from the present state (oracle: the simulator's; ekf: the estimate)."""
        sc = self.target.scenario
        n_schedule = ep.schedule_soc.size
        horizon = max(1, min(round(self.horizon_s / ep.dt_s), n_schedule - ep.step))
        end = min(ep.step + horizon, n_schedule) - 1
        soc_min = float(ep.schedule_soc[end]) if end < n_schedule - 1 else sc.target_soc + SOC_MARGIN
        if horizon not in ep.optimizers:
            ep.optimizers[horizon] = self._optimizer(ep, horizon)
        state = self.target.sim.state if ep.estimator is None else ep.estimator.state
        if ep.estimator is not None:
            ep.model.restore(state)
        window = ep.model.negative_window if ep.estimator is not None else self.target.sim.negative_window
        schedule = _padded(ep.schedule_a[ep.step :], horizon)
        previous = _padded(ep.plan[ep.step - ep.plan_start :], horizon) if ep.plan.size else schedule
        solution = ep.optimizers[horizon].solve(state, window, soc_min, [previous, schedule], MAX_SOLVE_S)
        ep.solve_s.append(solution.solve_time_s)
        ep.statuses.append(solution.status if solution.feasible else "infeasible")
        # No feasible plan (a limit already passed at the start): ask for the schedule's currents (limits hold).
        ep.plan = solution.currents_a if solution.feasible else schedule
        ep.plan_start = ep.step


def _padded(currents_a: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` currents, padded with the last one (or 0 A)."""
    out = np.full(n, float(currents_a[-1]) if currents_a.size else 0.0)
    out[: min(n, currents_a.size)] = currents_a[:n]
    return out
