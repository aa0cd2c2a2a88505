"""The Gymnasium charging environment: one PyBaMM cell, built once, charged step by step by an agent.

Physics and bookkeeping only: the cell model lives in :mod:`eomctl.cell.simulator`, the task in
:mod:`eomctl.charging.scenarios`, drawing in :mod:`eomctl.charging.render`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from eomctl.cell.catalogue import load_cell
from eomctl.cell.simulator import CellSimulator, StepResult
from eomctl.charging.observation import ObservationSpace, charge_features
from eomctl.charging.render import Frame, HumanViewer, draw_episode
from eomctl.charging.scenarios import Limits, Scenario, load_scenario
from eomctl.core.constants import FARADAY_C_PER_MOL, KELVIN_OFFSET, SECONDS_PER_HOUR
from eomctl.core.errors import ActionError, ConfigError

V_TOL_V = 1e-3  # a limit counts as crossed beyond these margins (BMS measurement resolution)
T_TOL_K = 0.05
HARD_GUARD_V = 0.3  # penalise mode: an over-voltage guard this far above v_max keeps the model in its valid range
CAPACITY_PARAMETERS = (
    "Negative electrode active material volume fraction",
    "Negative electrode thickness [m]",
    "Maximum concentration in negative electrode [mol.m-3]",
    "Electrode height [m]",
    "Electrode width [m]",
    "Number of electrodes connected in parallel to make a cell",
)
RESET_OPTIONS = ("initial_soc", "ambient_c", "deadline_s", "inputs", "limits")


class ChargingEnv(gym.Env[np.ndarray, np.ndarray]):
    """Charge a lithium-ion cell to a target SOC with little entropy production, fast, and without plating.

    ## Description
    A PyBaMM model of one cell (SPM/SPMe/DFN, isothermal or lumped thermal, optional SEI + lithium plating) is built
    once and stepped with a constant current per control step of ``dt_s`` seconds. Entropy production
    ``Sigma = int I_ch (V - U_bulk) / T dt`` (Bernardi et al. 1985) is integrated exactly by the solver. What is
    simulated, the limits, the weights and the randomisation come from a :class:`~eomctl.charging.scenarios.Scenario`.

    ## Observation Space
    ``Box(float32)``; values are clipped to the bounds below. Observation set "full":

    | index | feature | unit | bounds |
    |---|---|---|---|
    | 0 | SOC | - | [0, 1.2] |
    | 1 | terminal voltage | V | [0, 5] |
    | 2 | volume-averaged temperature | K | [200, 400] |
    | 3 | charging current of the last step (mean) | C | [0, c_rate_max] |
    | 4 | time used, t / time_limit_s | - | [0, 1] |
    | 5 | time left before the deadline (else the time limit), (t_deadline - t) / time_limit_s | - | [-1, 1] |
    | 6 | entropy produced so far, Sigma | J/K | [0, 1000] |
    | 7 | scale-free exponent lambda~ = t Sigma_dot / Sigma (docs/physics.md §4; 0 while Sigma = 0) | - | [0, 100] |
    | 8 | plating margin: anode potential vs Li/Li+ at the separator | V | [-1, 2] |
    | 9 | state of health, capacity / fresh capacity | - | [0, 1.5] |

    Set "bms" (what a battery-management system measures): voltage, current, temperature and a coulomb-counting SOC
    estimate ``soc_0 + charge / nominal capacity`` (blind to capacity fade), plus the time left for a deadline scenario.
    A deadline scenario adds, last in either set, the required C-rate ``(target - SOC estimate) / hours left``, the
    mean current that would just meet the deadline, held in [0, 2 c_rate_max] (its bound once the deadline has passed).

    ## Action Space
    ``Box(-1, 1, (1,), float32)``: charging current ``(a + 1) / 2 * c_rate_max * capacity_ah`` A, from 0 to the
    maximum C-rate (no discharge). Actions outside [-1, 1] are clipped.

    ## Reward
    ``- w_entropy * dSigma / entropy_scale - w_time * dt / dt_s - w_degradation * dLLI / lli_scale_pct
    - w_violation * (limits crossed) - w_deadline_miss * [deadline just passed] - w_late * (time past it) / dt_s
    - w_failure * [solver failure] + w_completion * [target reached] - w_incomplete * shortfall [time limit]``, where
    ``shortfall = (target - SOC) / (target - SOC_0)`` is the part of the charge still undelivered when the time limit
    truncates the episode (without it, a policy that charges too slowly to finish saves more entropy than the
    completion bonus is worth, and wins by failing the task: measured with PPO on FastCharge).
    Scales: ``dt_s`` itself (the time term is ``w_time`` per full step); ``entropy_scale`` is the entropy of one
    step at full current (calibrated at build unless given), so steps cost 0.01-1 in entropy; ``lli_scale_pct`` is
    0.01 % for the LG M50 (set when PyBaMM's plating law lost 0.002-0.007 % per limited fast-charge step; under the
    consistent law and the anode limit a step loses only SEI, ~1e-5 %).
    dLLI is the net change of each step; at the episode's end (target reached or time limit) the plated lithium that an
    open-circuit rest would strip back (``CellSimulator.irreversible_loss``, a 30 min rest) is credited, so an episode's
    degradation terms sum to its *irreversible* lithium loss (SEI, dead lithium, lithium left plated), reported as
    ``info["irreversible_lli_pct"]`` at that step. Each term is in ``info["reward_terms"]``.

    ## Starting State
    A relaxed cell at a uniform SOC and temperature. Initial SOC, ambient temperature (the cell starts at ambient),
    the deadline, cell-to-cell parameter spread and the aging state are drawn from the scenario's ranges with
    ``self.np_random``; ``reset(options=...)`` may fix "initial_soc", "ambient_c" [C], "deadline_s" or "inputs".
    ``reset(options={"limits": {"v_max_v": 4.1, "anode_min_v": 0.02}})`` overrides the scenario's limits
    (``v_max_v`` [V], ``t_max_k`` [K], ``anode_min_v`` [V vs Li/Li+]; ``None`` switches one off, or for ``v_max_v``
    means the cell's cut-off) for that episode only, validated like the scenario's own (``ConfigError`` on an unknown
    key or a ``v_max_v`` above the cell's): a baseline charger asks for its CV voltage or plating margin this way.

    ## Episode End
    Terminated when the SOC reaches the target (success) or the solver fails (``info["solver_failure"]``).
    Truncated when the time limit is reached; there is no step-count limit.

    ## Arguments
    ``ChargingEnv(scenario="FastCharge", render_mode=None, overrides=None)``: ``scenario`` is a name, a YAML path or a
    :class:`Scenario`; ``overrides`` are merged into the scenario file (e.g. ``{"simulator": {"compile": False}}``);
    ``render_mode`` is "rgb_array" or "human". Every ``envs/<Scenario>.yaml`` is registered as
    ``eomctl/<Scenario>-v0``::

        import gymnasium as gym
        import eomctl  # registers the ids

        env = gym.make("eomctl/ColdCharge-v0", overrides={"simulator": {"compile": False}})

    ## Version History
    The reward and the reset options changed under -v0 while the project was young; results from before a change are
    not comparable with those after it:

    * v0 (2026-11-24): first release: five scenarios, entropy-production reward, enforced or penalised limits.
    * v0 (2026-11-25): ``reset(options={"limits": ...})`` overrides the scenario's limits for one episode.
    * v0 (2026-11-25): the reward gains ``w_incomplete * shortfall`` at truncation (a policy that charged too slowly to
      finish scored better than one that finished).
    * v0 (2026-12-03): the observation is built by :mod:`eomctl.charging.observation` (the same values as before).
    * v0 (2026-12-03): lithium plating follows consistent, Arrhenius kinetics (:mod:`eomctl.cell.plating`), and the
      degradation term counts irreversible lithium loss (the recoverable plated lithium is credited at the end).
    * v0 (2026-12-04): a deadline scenario observes the required C-rate (one feature more: Deadline's observation
      has 11).
    """

    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        scenario: str | Path | Scenario = "FastCharge",
        render_mode: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        simulator: CellSimulator | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode '{render_mode}' is not one of {self.metadata['render_modes']}")
        self.render_mode = render_mode
        if isinstance(scenario, Scenario):
            if overrides:
                raise ConfigError("overrides apply to scenario files; pass a modified Scenario instead")
            self.cell = load_cell(scenario.cell)
            scenario.validate(self.cell)
            self.scenario = scenario
        else:
            self.scenario = load_scenario(scenario, overrides)
            self.cell = load_cell(self.scenario.cell)
        sc = self.scenario
        if simulator is None:
            self.sim = CellSimulator(self.cell, sc.simulator_config())  # the only build: reset/step never rebuild
        else:  # a cell of the same model as another env's: no build (vector envs advance them in one call)
            if simulator.cell.name != self.cell.name or simulator.config != sc.simulator_config():
                raise ConfigError("simulator= must be built for this scenario's cell and simulator options")
            self.sim = simulator.twin()
        if sc.limit_mode == "enforce":
            self.sim.prepare_limits()  # the controller's build is set-up, not the first step's cost
        self.current_max_a = sc.c_rate_max * self.cell.capacity_ah
        self.v_max_v = sc.limits.v_max_v if sc.limits.v_max_v is not None else self.cell.v_max_v
        self.limits: Limits = sc.limits  # this episode's limits: the scenario's, or reset's "limits" option
        self.observation_spec = ObservationSpace.of(sc)
        spec = self.observation_spec
        self.observation_space = gym.spaces.Box(spec.low, spec.high, dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.fresh_capacity_ah = self._capacity_ah({})
        self.entropy_scale_j_per_k = sc.reward.entropy_scale_j_per_k or self._calibrate_entropy_scale()
        self._frames: list[Frame] = []
        self._viewer: HumanViewer | None = None
        self._episode: dict[str, Any] = {}

    @property
    def features(self) -> tuple[str, ...]:
        """The observed features, in order (see the class docstring)."""
        return self.observation_spec.features

    # ------------------------------------------------------------------ set-up helpers
    def _capacity_ah(self, inputs: Mapping[str, float]) -> float:
        """Cyclable capacity between 0 and 100 % SOC: negative-electrode capacity times its stoichiometry window."""
        values = self.cell.parameter_values
        product = 1.0
        for name in CAPACITY_PARAMETERS:
            value = inputs.get(name, values.get(name, 1.0))
            if not isinstance(value, (int, float)):
                raise ConfigError(f"cannot compute the capacity of cell '{self.cell.name}': '{name}' is not a number")
            product *= float(value)
        x_0, x_100, _, _ = self.sim.stoichiometry_window(inputs)
        return product * (x_100 - x_0) * FARADAY_C_PER_MOL / SECONDS_PER_HOUR

    def _calibrate_entropy_scale(self) -> float:
        """Entropy of one ``dt_s`` step at full current from the mid initial SOC and ambient temperature [J/K]."""
        sc = self.scenario
        self.sim.reset(soc=float(np.mean(sc.initial_soc)), ambient_k=float(np.mean(sc.ambient_c)) + KELVIN_OFFSET)
        result = self.sim.step(self.current_max_a, sc.dt_s, v_max_v=self.v_max_v + HARD_GUARD_V)
        if result.solver_failed or not result.entropy_rate_w_per_k > 0:
            raise ConfigError(
                f"scenario '{sc.name}': cannot calibrate the entropy scale (give reward.entropy_scale_j_per_k)"
            )
        return result.entropy_rate_w_per_k * sc.dt_s

    # ------------------------------------------------------------------ Gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; see the class docstring (Starting State) for what is drawn and which options exist."""
        super().reset(seed=seed)
        sc, rng = self.scenario, self.np_random
        unknown = sorted(set(options or {}) - set(RESET_OPTIONS))
        if unknown:
            raise ConfigError(f"unknown reset option(s) {unknown}; known: {list(RESET_OPTIONS)}")
        # Always draw everything, in a fixed order, so options never shift the random stream.
        draw: dict[str, Any] = {
            "initial_soc": float(rng.uniform(*sc.initial_soc)),
            "ambient_c": float(rng.uniform(*sc.ambient_c)),
            "deadline_s": float(rng.uniform(*sc.deadline_s)) if sc.deadline_s else None,
            "inputs": self._draw_inputs(rng),
        }
        self.limits = self._episode_limits((options or {}).get("limits"))
        self.v_max_v = self.limits.v_max_v if self.limits.v_max_v is not None else self.cell.v_max_v
        draw.update(options or {})
        inputs = {k: float(v) for k, v in draw["inputs"].items()}
        result = self.sim.reset(draw["initial_soc"], ambient_k=draw["ambient_c"] + KELVIN_OFFSET, inputs=inputs)
        self._episode = {
            "soc_0": draw["initial_soc"],
            "deadline_s": draw["deadline_s"],
            "deadline_missed": False,
            "soh": self._capacity_ah(inputs) / self.fresh_capacity_ah,
            "violations": 0,
            "start": result,
            "lli_0_pct": result.degradation.get("lli_pct", 0.0),
        }
        info = self._info(result, result, terms={}, step_violations={}, lli_step_pct=0.0, done_flags=(False, False))
        self._frames = [self._frame(info)] if self.render_mode else []
        info["inputs"] = inputs
        if self.render_mode == "human":
            self._show()
        return self._observation(info), info

    def _episode_limits(self, overrides: Mapping[str, Any] | None) -> Limits:
        """The scenario's limits with the reset option "limits" applied, validated as the scenario's own are."""
        if overrides is None:
            return self.scenario.limits
        known = [f.name for f in dataclasses.fields(Limits)]
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"reset option 'limits': expected a mapping with keys from {known}; got {overrides!r}")
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ConfigError(f"reset option 'limits': unknown key(s) {unknown}; known: {known}")
        limits = dataclasses.replace(self.scenario.limits, **overrides)
        dataclasses.replace(self.scenario, limits=limits).validate(self.cell)
        return limits

    def _draw_inputs(self, rng: np.random.Generator) -> dict[str, float]:
        nominal = self.sim.nominal_inputs
        inputs = {}
        for name, std in self.scenario.spread:
            factor = float(np.clip(1.0 + std * rng.standard_normal(), 1.0 - 3.0 * std, 1.0 + 3.0 * std))
            inputs[name] = nominal[name] * factor
        for aging in self.scenario.aging:
            value = float(rng.uniform(aging.low, aging.high))
            inputs[aging.parameter] = nominal[aging.parameter] * value if aging.relative else value
        return inputs

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Charge for one control step at the current the action asks for (see the class docstring)."""
        if not self._episode:
            raise gym.error.ResetNeeded("call reset() before step()")
        sc, w = self.scenario, self.scenario.reward
        a = action_value(action)
        before = self.sim.last
        after = self._advance(0.5 * (a + 1.0) * self.current_max_a)
        failed = after.solver_failed
        duration_s = after.time_s - before.time_s
        d_entropy = after.totals["entropy_j_per_k"] - before.totals["entropy_j_per_k"]
        lli_step_pct = after.degradation.get("lli_pct", 0.0) - before.degradation.get("lli_pct", 0.0)
        violations = self._violations(after) if not failed else dict.fromkeys(("v_max", "anode_min", "t_max"), 0)
        self._episode["violations"] += sum(violations.values())
        success = after.soc >= sc.target_soc and not failed
        late_s, newly_missed = self._deadline_overrun(after.time_s, duration_s, success)
        terms = {
            "entropy": -w.entropy * d_entropy / self.entropy_scale_j_per_k,
            "time": -w.time * duration_s / sc.dt_s,
            "degradation": -w.degradation * lli_step_pct / w.lli_scale_pct,
            "violation": -w.violation * sum(violations.values()),
            "deadline": -w.deadline_miss * newly_missed - w.late * late_s / sc.dt_s,
            "completion": w.completion * success,
            "failure": -w.failure * failed,
        }
        terminated = success or failed
        truncated = not terminated and after.time_s >= sc.time_limit_s - 1e-9
        shortfall = (sc.target_soc - after.soc) / max(sc.target_soc - self._episode["soc_0"], 1e-9)
        terms["incomplete"] = -w.incomplete * max(shortfall, 0.0) * truncated
        loss = self.sim.irreversible_loss() if (success or truncated) and "lli_pct" in after.degradation else None
        if loss is not None and math.isfinite(loss.irreversible_pct):
            # The degradation cost of a whole episode is its irreversible lithium loss: the plated lithium that a
            # rest after the charge strips back is credited at the end (each step paid for its net LLI).
            terms["degradation"] += w.degradation * (loss.lli_pct - loss.irreversible_pct) / w.lli_scale_pct
        info = self._info(before, after, terms, violations, lli_step_pct, (success, failed))
        if loss is not None:
            info["irreversible_lli_pct"] = loss.irreversible_pct - self._episode["lli_0_pct"]
        if self.render_mode:
            self._frames.append(self._frame(info))
        if self.render_mode == "human":
            self._show()
        return self._observation(info), float(sum(terms.values())), terminated, truncated, info

    def limit_request(self, action: Any) -> tuple[float, float | None, float | None, float | None] | None:
        """``(current_max_a, v_max_v, anode_min_v, t_max_k)`` of the limited step ``step(action)`` will take; None in
        "penalise" mode. Vector envs use it to run the steps of many envs in one call
        (:class:`eomctl.charging.vector.BatchedSyncVectorEnv`)."""
        if self.scenario.limit_mode != "enforce" or not self._episode:
            return None
        current_a = 0.5 * (action_value(action) + 1.0) * self.current_max_a
        return (current_a, self.v_max_v, self.limits.anode_min_v, self.limits.t_max_k)

    def _advance(self, current_a: float) -> StepResult:
        """One control step: limits held by the simulator ("enforce"), or the asked current applied ("penalise")."""
        sc, lim = self.scenario, self.limits
        if sc.limit_mode == "enforce":
            return self.sim.step_limited(
                current_a, sc.dt_s, v_max_v=self.v_max_v, anode_min_v=lim.anode_min_v, t_max_k=lim.t_max_k
            )
        result = self.sim.step(current_a, sc.dt_s, v_max_v=self.v_max_v + HARD_GUARD_V)
        if result.solver_failed or result.duration_s >= sc.dt_s - 1e-9:
            return result
        # The guard cut the step short: the charger disconnects for the rest of it, so every step lasts dt_s.
        return self.sim.step(0.0, sc.dt_s - result.duration_s)

    def _violations(self, result: StepResult) -> dict[str, int]:
        lim = self.limits
        return {
            "v_max": int(result.voltage_v > self.v_max_v + V_TOL_V),
            "anode_min": int(lim.anode_min_v is not None and result.anode_potential_v < lim.anode_min_v - V_TOL_V),
            "t_max": int(lim.t_max_k is not None and result.temperature_k > lim.t_max_k + T_TOL_K),
        }

    def _deadline_overrun(self, time_s: float, duration_s: float, success: bool) -> tuple[float, bool]:
        """Seconds of this step past the deadline, and whether the deadline was missed in this step."""
        deadline_s = self._episode["deadline_s"]
        if deadline_s is None or time_s <= deadline_s:
            return 0.0, False
        newly_missed = not self._episode["deadline_missed"]
        self._episode["deadline_missed"] = True
        late_s = 0.0 if success else min(duration_s, time_s - deadline_s)
        return late_s, newly_missed

    # ------------------------------------------------------------------ observation and info
    def _observation(self, info: Mapping[str, Any]) -> np.ndarray:
        return self.observation_spec.vector(info)

    def _info(
        self,
        before: StepResult,
        after: StepResult,
        terms: Mapping[str, float],
        step_violations: Mapping[str, int],
        lli_step_pct: float,
        done_flags: tuple[bool, bool],
    ) -> dict[str, Any]:
        sc, ep, totals = self.scenario, self._episode, after.totals
        step = {k: totals[k] - before.totals[k] for k in ("entropy_j_per_k", "energy_in_j", "free_energy_j")}
        step.update(heat_irr_j=totals["heat_irr_j"] - before.totals["heat_irr_j"])
        deadline_s = ep["deadline_s"]
        features = charge_features(ep["start"], before, after, soc_0=ep["soc_0"], capacity_ah=self.cell.capacity_ah,
                                   time_limit_s=sc.time_limit_s, deadline_s=deadline_s, soh=ep["soh"],
                                   target_soc=sc.target_soc)  # fmt: skip
        info: dict[str, Any] = {
            "time_s": after.time_s,
            **features,
            "entropy_step_j_per_k": step["entropy_j_per_k"],
            "heat_irr_j": step["heat_irr_j"],
            "energy_in_j": step["energy_in_j"],
            "free_energy_j": step["free_energy_j"],
            "lli_pct": after.degradation.get("lli_pct", 0.0),
            "lli_step_pct": lli_step_pct,
            "deadline_s": deadline_s,
            "violations": dict(step_violations),
            "violation_count": ep["violations"],
            "limited": after.stop_reason == "limited",
            "solver_failure": done_flags[1],
            "success": done_flags[0],
            "reward_terms": dict(terms),
        }
        return info

    # ------------------------------------------------------------------ rendering
    @staticmethod
    def _frame(info: Mapping[str, Any]) -> Frame:
        keys = ("time_s", "current_a", "voltage_v", "temperature_k", "entropy_rate_w_per_k")
        return Frame(*(float(info[k]) for k in keys))

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        """The episode so far as an RGB array ("rgb_array"), or shown in a window ("human")."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'human'")
            return None
        image = draw_episode(
            self._frames, f"{self.scenario.name} ({self.cell.name})", self.v_max_v, self.limits.t_max_k
        )
        return image if self.render_mode == "rgb_array" else None

    def _show(self) -> None:
        if self._viewer is None:
            self._viewer = HumanViewer(self.metadata["render_fps"])
        self._viewer.show(draw_episode(self._frames, self.scenario.name, self.v_max_v, self.limits.t_max_k))

    def close(self) -> None:
        """Close the human-mode window, if any."""
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None


def action_value(action: Any) -> float:
    """The action as one number clipped to [-1, 1]; :class:`ActionError` unless it is exactly one finite number.

    A NaN would otherwise reach the integrator as a current and end the episode as a "solver failure", and the wrong
    shape would silently use its first element.
    """
    try:
        values = np.asarray(action, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ActionError(f"the action must be one number in [-1, 1] (shape (1,)); got {action!r}") from None
    if values.shape != (1,) or not np.isfinite(values[0]):
        raise ActionError(f"the action must be one finite number in [-1, 1] (shape (1,)); got {action!r}")
    return float(np.clip(values[0], -1.0, 1.0))
