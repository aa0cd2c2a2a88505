"""Environment throughput: eomctl's ChargingEnv against a straightforward env on ``pybamm.Simulation.step``.

Measures, in one run and on the same cell, model and control step:

1. env steps per second of a single env and of SB3 ``DummyVecEnv`` / ``SubprocVecEnv`` with 2/4/8 envs, for
   eomctl's env and for :class:`PybammStepEnv` (PyBaMM's own ``Simulation.step`` with the current as an input
   parameter, built once: the usual way to put PyBaMM behind Gymnasium);
2. the cost of ``ChargingEnv.step`` over the bare ``CellSimulator`` call beneath it (target <= 1.3x).

Both envs charge at a constant 1C from 10 % SOC, so no limit binds and every step is one integrator call in either
(eomctl runs in "penalise" mode here: "enforce" adds a root search over the current only while a limit binds).
Steps per second count env steps (a vector step of n envs is n env steps). Run::

    python benchmarks/bench_env.py [--scenario FastCharge] [--steps 40] [--compile]

On a 2-core machine SubprocVecEnv cannot scale past 2 workers: expect the 4/8-env rows to match the 2-env one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pybamm
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from eomctl.cell.simulator import MODEL_CLASSES
from eomctl.charging.env import ChargingEnv

ONE_C_ACTION = np.array([-1.0 / 3.0], dtype=np.float32)  # (a + 1) / 2 * 3C = 1C with c_rate_max = 3


class PybammStepEnv(gym.Env[np.ndarray, np.ndarray]):
    """Baseline: the same cell and model options stepped by ``pybamm.Simulation.step`` (IDAKLU), built once.

    Observation: SOC (coulomb counting), voltage, temperature. Reward: minus the step's entropy by the step-end
    rectangle rule. Reset rewinds to the built initial state (``Simulation`` keeps it when its solution is cleared).
    """

    def __init__(self, like: ChargingEnv) -> None:
        sc, cell = like.scenario, like.cell
        model = MODEL_CLASSES[sc.simulator.model](dict(like.sim.options))
        values = cell.parameter_values.copy()
        values.update({"Current function [A]": "[input]"}, check_already_exists=False)
        if "Contact resistance [Ohm]" not in values:
            values.update({"Contact resistance [Ohm]": 0.0}, check_already_exists=False)
        values.update(
            {"Ambient temperature [K]": sc.ambient_c[0] + 273.15, "Initial temperature [K]": sc.ambient_c[0] + 273.15}
        )
        self.sim = pybamm.Simulation(model, parameter_values=values)
        self.sim.build(initial_soc=sc.initial_soc[0], inputs={"Current function [A]": 0.0})
        self.soc_0, self.target_soc, self.dt_s = sc.initial_soc[0], sc.target_soc, sc.dt_s
        self.current_max_a, self.capacity_ah = like.current_max_a, cell.capacity_ah
        self.observation_space = gym.spaces.Box(0.0, 500.0, shape=(3,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.soc = self.soc_0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.sim._solution = None  # rewind: the next step starts from the built initial conditions
        self.soc = self.soc_0
        return np.array([self.soc, 0.0, 0.0], dtype=np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        current_a = 0.5 * (float(np.clip(action[0], -1, 1)) + 1.0) * self.current_max_a
        try:
            sol = self.sim.step(self.dt_s, inputs={"Current function [A]": -current_a}, save=False)
        except pybamm.SolverError:
            return np.zeros(3, dtype=np.float32), -10.0, True, False, {"solver_failure": True}
        v, u, t = (
            sol[name].entries[-1]
            for name in ("Voltage [V]", "Bulk open-circuit voltage [V]", "Volume-averaged cell temperature [K]")
        )
        self.soc += current_a * self.dt_s / 3600.0 / self.capacity_ah
        entropy_j_per_k = current_a * (v - u) / t * self.dt_s
        done = self.soc >= self.target_soc
        return np.array([self.soc, v, t], dtype=np.float32), -entropy_j_per_k, done, False, {}


def steps_per_second(env: Any, n_steps: int, vector: bool) -> float:
    """Env steps per second at 1C after two warm-up steps (builds and the first call excluded)."""
    env.reset()
    action = np.tile(ONE_C_ACTION, (env.num_envs, 1)) if vector else ONE_C_ACTION
    for _ in range(2):
        env.step(action)
    start = time.perf_counter()
    for _ in range(n_steps):
        env.step(action)
    return n_steps * (env.num_envs if vector else 1) / (time.perf_counter() - start)


def env_over_simulator(env: ChargingEnv, n_steps: int) -> tuple[float, float]:
    """Mean seconds per ``env.step`` and per the bare ``CellSimulator.step`` it makes, interleaved from one state."""
    env.reset(seed=0)
    current_a = 0.5 * (float(ONE_C_ACTION[0]) + 1.0) * env.current_max_a
    env_s = sim_s = 0.0
    for _ in range(n_steps):
        state = env.sim.state
        t0 = time.perf_counter()
        env.sim.step(current_a, env.scenario.dt_s, v_max_v=env.v_max_v + 0.3)
        t1 = time.perf_counter()
        env.sim.restore(state)  # env.step then repeats exactly the same integration
        t2 = time.perf_counter()
        env.step(ONE_C_ACTION)
        t3 = time.perf_counter()
        sim_s, env_s = sim_s + (t1 - t0), env_s + (t3 - t2)
    return env_s / n_steps, sim_s / n_steps


@dataclass
class EnvBenchResult:
    """Throughput of both envs per configuration and the env's overhead over its simulator.

    Attributes
    ----------
    rows : list of (str, float, float)
        Configuration label, eomctl env steps/s, PyBaMM ``Simulation.step`` env steps/s.
    env_step_s, sim_step_s : float
        Mean seconds per ``ChargingEnv.step`` and per the ``CellSimulator.step`` beneath it.
    """

    rows: list[tuple[str, float, float]]
    env_step_s: float
    sim_step_s: float


def measure(scenario: str, steps: int, compile_c: bool, n_envs: Sequence[int]) -> EnvBenchResult:
    """Run every configuration (callable in-process, e.g. by ``eomctl reproduce``).

    Parameters
    ----------
    scenario : str
        Scenario name, e.g. ``"FastCharge"``.
    steps : int
        Timed steps per configuration.
    compile_c : bool
        JIT-compile eomctl's integrator.
    n_envs : sequence of int
        Vector sizes for ``DummyVecEnv`` / ``SubprocVecEnv``.

    Returns
    -------
    EnvBenchResult
        Steps per second of both envs and the env-over-simulator cost.
    """
    overrides = {"simulator": {"compile": compile_c}, "limit_mode": "penalise"}

    def make_eomctl() -> ChargingEnv:
        return ChargingEnv(scenario, overrides=overrides)

    reference = make_eomctl()

    def make_pybamm() -> PybammStepEnv:
        return PybammStepEnv(reference)

    rows = [("single env", steps_per_second(reference, steps, False), steps_per_second(make_pybamm(), steps, False))]
    for n in n_envs:
        for cls in (DummyVecEnv, SubprocVecEnv):
            rates = []
            for make in (make_eomctl, make_pybamm):
                fns: list[Callable[[], gym.Env]] = [make] * n
                vec = cls(fns, start_method="fork") if cls is SubprocVecEnv else cls(fns)
                rates.append(steps_per_second(vec, steps, True))
                vec.close()
            rows.append((f"{cls.__name__} x{n}", rates[0], rates[1]))
    env_s, sim_s = env_over_simulator(reference, steps)
    return EnvBenchResult(rows, env_s, sim_s)
