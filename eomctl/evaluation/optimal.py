"""The optimal-control lower bound: the least entropy (or lithium loss) any charging protocol can reach in a given time.

For a scenario (cell, model, limits, the episode's start) and a charge-time budget ``T``, the open-loop problem

    minimise    a * Sigma(T) + w * LLI_irr(T)
    over        piecewise-constant charging currents on N steps of T / N (N = T / the env's step, rounded up)
    subject to  SOC(T) >= target,  V <= v_max,  temperature <= t_max,  anode potential >= anode_min
                at three check points inside every step,  0 <= I <= c_rate_max * capacity

(``LLI_irr``: the lithium lost for good, i.e. LLI after a 30 min open-circuit rest that follows the charge) is solved
on the *same* discretised PyBaMM model the simulator steps, so the bound is a bound of the environment itself, not of
a surrogate (:class:`eomctl.cell.optimal_control.ChargeOptimizer`: single shooting, exact CVODES derivatives, SLSQP).
Sigma is Bernardi's entropy production ``int I_ch (V - U_bulk) / T dt`` (docs/physics.md §1).

Why this is a bound of the baselines: steps are the env's own size, so any baseline run at that step size is a point
of the feasible set, and the solve starts from the best feasible start it is given (the matched-time CC-CV, plus any
profile passed in, e.g. a baseline's own or the solution of the neighbouring budget) and only keeps improvements.
The optimum is replayed through the scenario's :class:`CellSimulator` step by step and again at a tenth of a step
(``fine_replay``): the replays, not the prediction, are what a report quotes, and the fine one shows what happens
between the check points.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eomctl.cell.catalogue import load_cell
from eomctl.cell.optimal_control import IRREVERSIBLE_SCALE, ChargeLimits, ChargeOptimizer
from eomctl.cell.rootfind import illinois
from eomctl.cell.simulator import CellSimulator, LimitControl, SimState
from eomctl.charging.scenarios import Scenario, load_scenario
from eomctl.core.constants import KELVIN_OFFSET
from eomctl.core.errors import ConfigError

VOLTAGE_TOLERANCE_V = 1e-3  # accepted overshoot of the replayed voltage limit [V]
SOC_TOLERANCE = 1e-3  # a replayed end SOC this far below the target still counts as reached (SLSQP holds it to ~1e-6)
DEFAULT_MAX_WALL_TIME_S = 300.0
DEFAULT_BASIS = 20  # free directions of the profile (hat functions); see eomctl.cell.optimal_control
CHECKS_PER_STEP = 3  # limit check points inside each step (the step end included)
FINE_REPLAY_SPLIT = 10  # the fine replay steps at a tenth of a step
CCCV_MAX_ITER = 30
CCCV_SOC_TOL = 1e-5  # the matched CC-CV overshoots the target SOC by less than this [-]
OBJECTIVES = ("entropy", "irreversible", "weighted")
CONTROLS = ("currents", "requests")


@dataclass(frozen=True)
class OptimalResult:
    """An open-loop optimal charge and its replays through the simulator.

    Parameters
    ----------
    time_budget_s : float
        Charge-time budget ``T`` [s].
    n_intervals : int
        Number of piecewise-constant current steps (each ``T / n_intervals`` long).
    currents_a : numpy.ndarray
        Optimal charging currents [A], positive while charging.
    predicted_entropy_j_per_k : float
        Entropy produced by the optimum as the solver predicts it [J/K].
    replay : dict
        The optimum replayed through the scenario's simulator, one step per interval: ``charge_time_s``,
        ``entropy_j_per_k``, ``final_soc``, ``max_voltage_v``, ``peak_temperature_k``, ``min_anode_potential_v``,
        ``heat_irr_j`` and, with degradation, ``lli_pct`` (at the charge's end), ``irreversible_lli_pct`` (after the
        rest that follows it) and ``plating_ah``.
    solve_time_s : float
        Wall time of the NLP solve [s] (model build and replays excluded).
    status : str
        "optimal", "iteration_limit", "time_limit", "infeasible", "not_converged" or "solver_failure". Whatever it
        says, the currents are the best feasible profile found; only "optimal" is a converged bound.
    method : str
        How the problem was solved.
    cccv_currents_a : numpy.ndarray
        The matched-time CC-CV profile on the same steps (a start point) [A].
    cccv_entropy_j_per_k : float
        Its replayed entropy [J/K].
    objective : str
        "entropy", "irreversible" or "weighted" (entropy + ``degradation_weight`` x irreversible LLI).
    iterations : int
        SLSQP iterations (Jacobian evaluations).
    fine_replay : dict
        The same summary replayed at a tenth of a step, with ``voltage_excess_mv``, ``temperature_excess_k`` and
        ``anode_excess_mv``: how far the limits are passed between the check points (0 when they hold).
    start : str
        Which start profile the solve began from: "cccv", "guess" (the first of ``initial_guess_a``), "guess 2", ...
    controls : str
        "currents" (``currents_a`` are the currents of equal steps) or "requests" (``currents_a`` are requests on the
        env's steps, run through its limit controller; see :func:`optimal_charge`).
    guess_replay : dict
        With ``controls="requests"`` and a given start profile: that profile replayed as the bound's is (the same
        steps and controller), so a baseline's entropy is compared with the bound's on the same footing.
    """

    time_budget_s: float
    n_intervals: int
    currents_a: np.ndarray
    predicted_entropy_j_per_k: float
    replay: dict[str, float]
    solve_time_s: float
    status: str
    method: str
    cccv_currents_a: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cccv_entropy_j_per_k: float = float("nan")
    objective: str = "entropy"
    iterations: int = 0
    fine_replay: dict[str, float] = field(default_factory=dict)
    start: str = "cccv"
    controls: str = "currents"
    guess_replay: dict[str, float] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        """Whether the solver converged; any other result is a feasible profile, not a bound, and is marked so."""
        return self.status == "optimal"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (arrays as lists)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["currents_a"] = self.currents_a.tolist()
        out["cccv_currents_a"] = self.cccv_currents_a.tolist()
        out["converged"] = self.converged
        return out


def _load(scenario: str | Scenario, overrides: dict[str, Any] | None) -> Scenario:
    if isinstance(scenario, Scenario):
        if overrides:
            raise ConfigError("overrides apply to scenario files; pass a modified Scenario instead")
        return scenario
    return load_scenario(scenario, overrides)


def _fresh_simulator(
    sc: Scenario, initial_state: SimState | None = None, limit_control: LimitControl = "search"
) -> tuple[CellSimulator, ChargeLimits]:
    """The scenario's simulator at the episode start, and its limits.

    The start is ``initial_state`` when given (an episode's own draw: SOC, temperatures and any aging inputs, e.g.
    ``env.unwrapped.sim.state`` after a reset), else the mean of every randomised range with the cell's nominal
    inputs.
    """
    cell = load_cell(sc.cell)
    # With piecewise-constant currents as the decision the CC-CV start point must be one too: the constant-current
    # limit search ("search"). The request class runs the env's own in-step controller ("controller").
    sim = CellSimulator(cell, dataclasses.replace(sc.simulator_config(), limit_control=limit_control))
    sim.reset(soc=float(np.mean(sc.initial_soc)), ambient_k=float(np.mean(sc.ambient_c)) + KELVIN_OFFSET)
    if initial_state is not None:
        sim.restore(initial_state)
    v_max = sc.limits.v_max_v if sc.limits.v_max_v is not None else cell.v_max_v
    return sim, ChargeLimits(v_max, sc.limits.t_max_k, sc.limits.anode_min_v, sc.c_rate_max * cell.capacity_ah)


def replay(sim: CellSimulator, currents_a: np.ndarray, dt_s: float, limits: ChargeLimits) -> dict[str, float]:
    """Replay piecewise-constant currents from the simulator's reset state and summarise the charge.

    Each interval is one :meth:`CellSimulator.step` with a voltage cut-off ``VOLTAGE_TOLERANCE_V`` above ``v_max``, so
    a profile that overshoots the limit is cut (and shows up as a short ``charge_time_s`` or low ``final_soc``).
    """
    start = sim.state
    lli0 = sim.last.degradation.get("lli_pct", 0.0)
    plating0 = sim.last.degradation.get("plating_ah", 0.0)
    v_peak, t_peak, anode_min = sim.last.voltage_v, sim.last.temperature_k, sim.last.anode_potential_v
    elapsed = 0.0
    result = sim.last
    for current_a in currents_a:
        result = sim.step(float(current_a), dt_s, v_max_v=limits.v_max_v + VOLTAGE_TOLERANCE_V)
        elapsed += result.duration_s
        v_peak, t_peak = max(v_peak, result.voltage_v), max(t_peak, result.temperature_k)
        anode_min = min(anode_min, result.anode_potential_v)
        if result.stop_reason != "time":
            break
    summary = {
        "charge_time_s": elapsed,
        "entropy_j_per_k": result.totals["entropy_j_per_k"],
        "final_soc": result.soc,
        "max_voltage_v": v_peak,
        "peak_temperature_k": t_peak,
        "min_anode_potential_v": anode_min,
        "heat_irr_j": result.totals["heat_irr_j"],
        "stop_reason_code": float(result.stop_reason != "time"),
    }
    return _with_degradation(summary, sim, result, start, lli0, plating0)


def _with_degradation(
    summary: dict[str, float], sim: CellSimulator, result: Any, start: SimState, lli0: float, plating0: float
) -> dict[str, float]:
    """Add a replay's lithium loss (at the end and after the rest that follows) and plating to its summary, and
    return the simulator to the replay's start."""
    if "lli_pct" in result.degradation:
        summary["lli_pct"] = result.degradation["lli_pct"] - lli0
        summary["irreversible_lli_pct"] = sim.irreversible_loss().irreversible_pct - lli0
    if "plating_ah" in result.degradation:
        summary["plating_ah"] = result.degradation["plating_ah"] - plating0
    sim.restore(start)
    return summary


def fine_replay(sim: CellSimulator, currents_a: np.ndarray, dt_s: float, limits: ChargeLimits) -> dict[str, float]:
    """:func:`replay` at a tenth of each step, with how far each limit is passed between check points (0: held)."""
    summary = replay(sim, np.repeat(currents_a, FINE_REPLAY_SPLIT), dt_s / FINE_REPLAY_SPLIT, limits)
    summary["voltage_excess_mv"] = max(0.0, 1e3 * (summary["max_voltage_v"] - limits.v_max_v))
    summary["temperature_excess_k"] = (
        max(0.0, summary["peak_temperature_k"] - limits.t_max_k) if limits.t_max_k is not None else 0.0
    )
    summary["anode_excess_mv"] = (
        max(0.0, 1e3 * (limits.anode_min_v - summary["min_anode_potential_v"]))
        if limits.anode_min_v is not None
        else 0.0
    )
    return summary


def limited_profile(
    sim: CellSimulator, current_a: float, dt_s: float, n_steps: int, limits: ChargeLimits
) -> tuple[np.ndarray, float]:
    """Currents [A] and end SOC of a CC charge at ``current_a`` with the BMS limit taper over ``n_steps`` steps.

    The taper is :meth:`CellSimulator.step_limited`: the current is lowered so that every limit holds at each step end,
    which is CC-CV when only the voltage limit binds. The simulator is returned to its start state.
    """
    start = sim.state
    currents = np.zeros(n_steps)
    for k in range(n_steps):
        result = sim.step_limited(
            current_a, dt_s, v_max_v=limits.v_max_v, anode_min_v=limits.anode_min_v, t_max_k=limits.t_max_k
        )
        if result.solver_failed:
            break
        currents[k] = result.current_a
    soc_end = sim.last.soc
    sim.restore(start)
    return currents, soc_end


def matched_cccv(
    sim: CellSimulator, sc: Scenario, time_budget_s: float, dt_s: float, limits: ChargeLimits
) -> np.ndarray:
    """The CC-CV profile that reaches the target SOC exactly at ``time_budget_s`` (bisection on the CC current).

    Raises
    ------
    ConfigError
        If even the maximum current with the limit taper misses the target in time: the budget is infeasible.
    """
    n_steps = max(1, round(time_budget_s / dt_s))
    fastest, soc_fast = limited_profile(sim, limits.current_max_a, dt_s, n_steps, limits)
    if soc_fast < sc.target_soc:
        raise ConfigError(
            f"scenario '{sc.name}': a {time_budget_s:.0f} s budget is infeasible: the fastest charge under the limits "
            f"reaches only SOC {soc_fast:.3f} of {sc.target_soc:.3f}"
        )
    # Regula falsi (Illinois) on f(I) = SOC_end(I) - target: monotone and nearly linear in the CC current.
    soc0 = sim.last.soc
    lo, f_lo, hi, f_hi, best, side = (
        0.0,
        soc0 - sc.target_soc,
        limits.current_max_a,
        soc_fast - sc.target_soc,
        fastest,
        0,
    )
    for _ in range(CCCV_MAX_ITER):
        mid = hi - f_hi * (hi - lo) / (f_hi - f_lo)
        profile, soc = limited_profile(sim, mid, dt_s, n_steps, limits)
        f_mid = soc - sc.target_soc
        if f_mid >= 0:
            hi, f_hi, best = mid, f_mid, profile
            f_lo, side = (f_lo / 2, 1) if side == 1 else (f_lo, 1)
        else:
            lo, f_lo = mid, f_mid
            f_hi, side = (f_hi / 2, -1) if side == -1 else (f_hi, -1)
        if 0 <= f_mid < CCCV_SOC_TOL or hi - lo < 1e-6 * limits.current_max_a:
            break
    return best


def optimal_charge(
    scenario: str | Scenario,
    time_budget_s: float,
    n_intervals: int | None = None,
    degradation_weight: float = 0.0,
    overrides: dict[str, Any] | None = None,
    initial_guess_a: np.ndarray | None = None,
    max_wall_time_s: float = DEFAULT_MAX_WALL_TIME_S,
    initial_state: SimState | None = None,
    objective: str | None = None,
    n_basis: int = DEFAULT_BASIS,
    controls: str = "currents",
    guess_limits: Mapping[str, float] | None = None,
) -> OptimalResult:
    """Solve the open-loop optimal charge of a scenario within a time budget.

    Parameters
    ----------
    scenario : str or Scenario
        Scenario name, Gymnasium id, YAML path or a loaded :class:`~eomctl.charging.scenarios.Scenario`.
    time_budget_s : float
        Charge-time budget ``T`` [s] (the target SOC must be reached by then).
    n_intervals : int, optional
        Number of piecewise-constant current steps; default ``ceil(T / dt_s)`` of the scenario, so the steps are at
        most the env's own.
    degradation_weight : float
        Weight ``w`` [J/K per %] of the lithium lost for good in the "weighted" objective.
    overrides : dict, optional
        Overrides merged into the scenario file (see :func:`~eomctl.charging.scenarios.load_scenario`).
    initial_guess_a : numpy.ndarray, optional
        A further start profile [A] (e.g. a baseline's own currents or the neighbouring budget's optimum), resampled
        to the steps; the solve starts from the better feasible one of it and the matched-time CC-CV.
    max_wall_time_s : float
        Wall-time cap of the NLP solve [s]; past it the best feasible iterate is returned (status "time_limit").
    initial_state : SimState, optional
        The episode's start (its SOC, temperatures and aging inputs: ``env.unwrapped.sim.state`` after a reset);
        default the mean of every randomised range with the cell's nominal inputs.
    objective : {"entropy", "irreversible", "weighted"}, optional
        What is minimised: Sigma; the irreversible lithium loss (scaled by ``IRREVERSIBLE_SCALE``); or Sigma +
        ``degradation_weight`` x the irreversible loss. Default "weighted" when a weight is given, else "entropy".
    n_basis : int
        Free directions of the profile (hat functions on as many knots).
    controls : {"currents", "requests"}
        "currents": piecewise-constant currents that keep the limits at ``CHECKS_PER_STEP`` points inside every step
        (:class:`~eomctl.cell.optimal_control.ChargeOptimizer`). "requests": current requests on the env's own steps
        (the last one shortened to end at the budget), each run through the env's limit controller as the env runs
        it, so the limits hold at every instant and every charge the env can run is in the feasible set
        (:class:`~eomctl.cell.request_optimizer.RequestOptimizer`); ``n_intervals`` is then ignored and
        ``currents_a`` are the requests, ``initial_guess_a`` requests on the env's steps (a 2-D array: several
        starts, one per row; the first is the one replayed as ``guess_replay``).
    guess_limits : mapping, optional
        With "requests": limits the first guess ran under where a policy set its own (e.g. CC-CO's anode margin,
        ``{"anode_min_v": 0.01}``), merged into the scenario's. ``guess_replay`` runs it under them (so it is the
        policy's own charge), and the solve starts from the currents it then drew, step by step, as requests under the
        scenario's limits.

    Returns
    -------
    OptimalResult
        Raises :class:`ConfigError` if the budget is shorter than the fastest charge under the limits, or an argument
        is out of range.
    """
    sc = _load(scenario, overrides)
    objective = objective or ("weighted" if degradation_weight else "entropy")
    if controls not in CONTROLS:
        raise ConfigError(f"controls must be one of {CONTROLS}; got '{controls}'")
    if controls == "requests":
        _check_arguments(sc, time_budget_s, 1, degradation_weight, objective, n_basis)
        return _optimal_requests(sc, time_budget_s, degradation_weight, initial_guess_a, max_wall_time_s,
                                 initial_state, objective, n_basis, guess_limits)  # fmt: skip
    n_steps = n_intervals if n_intervals is not None else max(1, math.ceil(time_budget_s / sc.dt_s - 1e-9))
    _check_arguments(sc, time_budget_s, n_steps, degradation_weight, objective, n_basis)
    sim, limits = _fresh_simulator(sc, initial_state)
    dt_s = time_budget_s / n_steps
    guess = None if initial_guess_a is None else resample_profile(np.asarray(initial_guess_a, dtype=float), n_steps)
    try:
        cccv = matched_cccv(sim, sc, time_budget_s, dt_s, limits)
    except ConfigError:
        # Even the fastest constant-current-per-step charge misses the target in time. A given profile (e.g. a
        # baseline whose in-step limit controller charged a little more) may still be made feasible: try from it.
        if guess is None:
            raise
        cccv = np.full(n_steps, np.nan)
    starts = [s for s in (cccv, guess) if s is not None and np.all(np.isfinite(s))]
    entropy_weight, irreversible_weight = _objective_weights(objective, degradation_weight)
    optimizer = ChargeOptimizer(
        sim, limits, n_steps, dt_s, checks_per_step=CHECKS_PER_STEP, n_basis=n_basis,
        entropy_weight=entropy_weight, irreversible_weight=irreversible_weight,
    )  # fmt: skip
    solution = optimizer.solve(sim.state, sim.negative_window, sc.target_soc, starts, max_wall_time_s)
    currents_a = solution.currents_a if solution.start >= 0 else starts[0]
    # No feasible profile found (every start passes a limit or misses the target, and SLSQP did not repair it): what
    # is returned is not a bound, whatever SLSQP's own verdict, and is marked so.
    status = solution.status if solution.feasible else "infeasible"
    return OptimalResult(
        time_budget_s=float(time_budget_s),
        n_intervals=n_steps,
        currents_a=currents_a,
        predicted_entropy_j_per_k=solution.predicted_entropy_j_per_k,
        replay=replay(sim, currents_a, dt_s, limits),
        solve_time_s=solution.solve_time_s,
        status=status,
        method=(
            f"single shooting on {n_steps} steps with {CHECKS_PER_STEP} limit checks each, {optimizer.basis.shape[1]} "
            f"hat-function directions, CVODES forward sensitivities, SLSQP ({solution.iterations} iterations)"
        ),
        cccv_currents_a=cccv,
        cccv_entropy_j_per_k=replay(sim, cccv, dt_s, limits)["entropy_j_per_k"]
        if np.all(np.isfinite(cccv))
        else np.nan,
        objective=objective,
        iterations=solution.iterations,
        fine_replay=fine_replay(sim, currents_a, dt_s, limits),
        start="cccv" if starts[max(solution.start, 0)] is cccv else "guess",
    )


def _objective_weights(objective: str, degradation_weight: float) -> tuple[float, float]:
    return {
        "entropy": (1.0, 0.0),
        "irreversible": (0.0, IRREVERSIBLE_SCALE),
        "weighted": (1.0, degradation_weight),
    }[objective]


def env_steps(time_budget_s: float, dt_s: float) -> np.ndarray:
    """The env's steps [s] up to ``time_budget_s``: full steps of ``dt_s``, the last one shortened to end there."""
    n_full = math.floor(time_budget_s / dt_s + 1e-9)
    tail_s = time_budget_s - n_full * dt_s
    return np.array([dt_s] * n_full + ([tail_s] if tail_s > 1e-6 else []))


def replay_requests(
    sim: CellSimulator,
    requests_a: np.ndarray,
    durations_s: np.ndarray,
    limits: ChargeLimits,
    split: int = 1,
    applied_a: list[float] | None = None,
) -> dict[str, float]:
    """Run current requests through the limit controller from the simulator's state, as the env does, each step
    split in ``split`` equal parts (the same requests: the fine replay), and summarise the charge as :func:`replay`
    does, with how far each limit is passed at the sub-step ends (0: held). ``applied_a``, when given, receives each
    step's mean current [A] (its charge over its duration)."""
    start = sim.state
    lli0 = sim.last.degradation.get("lli_pct", 0.0)
    plating0 = sim.last.degradation.get("plating_ah", 0.0)
    v_peak, t_peak, anode_min = sim.last.voltage_v, sim.last.temperature_k, sim.last.anode_potential_v
    result, failed = sim.last, False
    for request_a, dt_s in zip(requests_a, durations_s, strict=True):
        charge_ah = 0.0
        for _ in range(split):
            result = sim.step_limited(float(request_a), float(dt_s) / split, v_max_v=limits.v_max_v,
                                      anode_min_v=limits.anode_min_v, t_max_k=limits.t_max_k)  # fmt: skip
            charge_ah += result.charge_in_ah
            failed = failed or result.solver_failed
            v_peak, t_peak = max(v_peak, result.voltage_v), max(t_peak, result.temperature_k)
            anode_min = min(anode_min, result.anode_potential_v)
        if applied_a is not None:
            applied_a.append(3600.0 * charge_ah / float(dt_s))
    summary = {
        "charge_time_s": float(np.sum(durations_s)),
        "entropy_j_per_k": result.totals["entropy_j_per_k"] - start_entropy(start, sim),
        "final_soc": result.soc,
        "max_voltage_v": v_peak,
        "peak_temperature_k": t_peak,
        "min_anode_potential_v": anode_min,
        "heat_irr_j": result.totals["heat_irr_j"],
        "stop_reason_code": float(failed),
        "voltage_excess_mv": max(0.0, 1e3 * (v_peak - limits.v_max_v)),
        "temperature_excess_k": max(0.0, t_peak - limits.t_max_k) if limits.t_max_k is not None else 0.0,
        "anode_excess_mv": max(0.0, 1e3 * (limits.anode_min_v - anode_min)) if limits.anode_min_v is not None else 0.0,
    }
    return _with_degradation(summary, sim, result, start, lli0, plating0)


def start_entropy(state: SimState, sim: CellSimulator) -> float:
    """Entropy already produced at ``state`` [J/K] (an episode's start carries its totals)."""
    return float(state.totals[sim.quadrature_names.index("entropy_j_per_k")])


def matched_request(
    sim: CellSimulator, sc: Scenario, durations_s: np.ndarray, limits: ChargeLimits
) -> np.ndarray | None:
    """The constant request (a CC-CV through the env's controller) that reaches the target SOC exactly at the end of
    ``durations_s`` (regula falsi on the request); None if even the maximum current misses it."""
    start = sim.state

    def soc_at(current_a: float) -> float:
        for dt_s in durations_s:
            if sim.step_limited(current_a, float(dt_s), v_max_v=limits.v_max_v, anode_min_v=limits.anode_min_v,
                                t_max_k=limits.t_max_k).solver_failed:  # fmt: skip
                break
        soc = sim.last.soc
        sim.restore(start)
        return soc - sc.target_soc

    f_fast = soc_at(limits.current_max_a)
    if f_fast < 0:
        return None
    # Shortfall target - SOC falls with the request; accept only requests that reach the target (shortfall <= 0).
    try:
        shortfall_0, i_max = sc.target_soc - sim.last.soc, limits.current_max_a
        request_a, _ = illinois(lambda i: (-soc_at(i), None), 0.0, shortfall_0, i_max, -f_fast, CCCV_SOC_TOL,
                                feasible=True, max_iter=CCCV_MAX_ITER)  # fmt: skip
    except RuntimeError:  # no trial reached the target: the maximum request does
        request_a = limits.current_max_a
    return np.full(len(durations_s), request_a)


def _optimal_requests(
    sc: Scenario,
    time_budget_s: float,
    degradation_weight: float,
    initial_guess_a: np.ndarray | None,
    max_wall_time_s: float,
    initial_state: SimState | None,
    objective: str,
    n_basis: int,
    guess_limits: Mapping[str, float] | None = None,
) -> OptimalResult:
    """:func:`optimal_charge` with ``controls="requests"``."""
    from eomctl.cell.request_optimizer import RequestOptimizer

    sim, limits = _fresh_simulator(sc, initial_state, "controller")
    durations = env_steps(time_budget_s, sc.dt_s)
    n_steps = len(durations)
    cccv = matched_request(sim, sc, durations, limits)
    guesses = [] if initial_guess_a is None else list(np.atleast_2d(np.asarray(initial_guess_a, dtype=float)))
    if any(g.size != n_steps for g in guesses):
        raise ConfigError(f"initial_guess_a needs one request per env step ({n_steps}) in each row")
    guess = guesses[0] if guesses else None
    guess_replay: dict[str, float] = {}
    if guess is not None:
        own = dataclasses.replace(limits, **guess_limits) if guess_limits else limits
        applied_a: list[float] = []
        guess_replay = replay_requests(sim, guess, durations, own, applied_a=applied_a)
        if own != limits:  # the policy's own charge, drawn again under the scenario's (looser) limits
            guesses[0] = np.array(applied_a)
    starts = [s for s in (cccv, *guesses) if s is not None]
    if not starts:
        raise ConfigError(
            f"scenario '{sc.name}': a {time_budget_s:.0f} s budget is infeasible: the fastest charge under the limits "
            f"misses the target SOC {sc.target_soc:.3f}"
        )
    entropy_weight, irreversible_weight = _objective_weights(objective, degradation_weight)
    optimizer = RequestOptimizer(sim, limits, durations, n_basis=n_basis, entropy_weight=entropy_weight,
                                 irreversible_weight=irreversible_weight)  # fmt: skip
    solution = optimizer.solve(sim.state, sim.negative_window, sc.target_soc, starts, max_wall_time_s)
    requests = solution.currents_a if solution.start >= 0 else starts[0]
    status = solution.status if solution.feasible else "infeasible"
    coarse = replay_requests(sim, requests, durations, limits)
    return OptimalResult(
        time_budget_s=float(time_budget_s),
        n_intervals=n_steps,
        currents_a=requests,
        predicted_entropy_j_per_k=solution.predicted_entropy_j_per_k,
        replay=coarse,
        solve_time_s=solution.solve_time_s,
        status=status,
        method=(
            f"current requests on {n_steps} env steps through the env's limit controller, {optimizer.basis.shape[1]} "
            f"hat-function directions, IDAS/CVODES forward sensitivities, SLSQP ({solution.iterations} iterations)"
        ),
        cccv_currents_a=cccv if cccv is not None else np.full(n_steps, np.nan),
        cccv_entropy_j_per_k=replay_requests(sim, cccv, durations, limits)["entropy_j_per_k"]
        if cccv is not None
        else np.nan,
        objective=objective,
        iterations=solution.iterations,
        fine_replay=replay_requests(sim, requests, durations, limits, split=FINE_REPLAY_SPLIT),
        start=_start_label(max(solution.start, 0) - (cccv is not None)),
        controls="requests",
        guess_replay=guess_replay,
    )


def _start_label(guess_index: int) -> str:
    """``OptimalResult.start`` for a solve that began at guess ``guess_index`` (-1: the matched-time CC-CV)."""
    return "cccv" if guess_index < 0 else "guess" if guess_index == 0 else f"guess {guess_index + 1}"


def resample_profile(currents_a: np.ndarray, n_steps: int) -> np.ndarray:
    """A piecewise-constant profile on ``n_steps`` equal steps over the same duration, with the charge of each new
    step equal to the old profile's charge in that time window (so the total charge is kept)."""
    if currents_a.size == n_steps:
        return currents_a.copy()
    return profile_on_steps(np.linspace(0.0, 1.0, currents_a.size + 1), currents_a, 1.0, n_steps)


def profile_on_steps(times_s: np.ndarray, currents_a: np.ndarray, time_budget_s: float, n_steps: int) -> np.ndarray:
    """A recorded profile (``currents_a[k]`` flowing from ``times_s[k]`` to ``times_s[k + 1]``) as ``n_steps`` equal
    steps over ``[0, time_budget_s]``, each carrying the charge the recording put through in that window."""
    return profile_on_grid(times_s, currents_a, np.linspace(0.0, time_budget_s, n_steps + 1))


def profile_on_grid(times_s: np.ndarray, currents_a: np.ndarray, grid_s: np.ndarray) -> np.ndarray:
    """:func:`profile_on_steps` onto any step boundaries ``grid_s`` [s] from 0 (e.g. the env's steps, the last one
    shorter)."""
    charge = np.concatenate([[0.0], np.cumsum(currents_a * np.diff(times_s))])
    return np.diff(np.interp(grid_s, times_s - times_s[0], charge)) / np.diff(grid_s)


def _check_arguments(
    sc: Scenario, time_budget_s: float, n_intervals: int, degradation_weight: float, objective: str, n_basis: int
) -> None:
    """Refuse a bound that cannot be posed, before any simulator is built."""
    if not 1 <= n_intervals <= 400:
        raise ConfigError(f"n_intervals must lie in [1, 400]; got {n_intervals}")
    if not 1 <= n_basis <= 100:
        raise ConfigError(f"n_basis must lie in [1, 100]; got {n_basis}")
    if not time_budget_s > 0 or degradation_weight < 0:
        raise ConfigError(
            f"need time_budget_s > 0 and degradation_weight >= 0; got {time_budget_s}, {degradation_weight}"
        )
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective must be one of {OBJECTIVES}; got '{objective}'")
    if (degradation_weight or objective != "entropy") and not sc.simulator.degradation:
        raise ConfigError(f"scenario '{sc.name}' has no degradation model; the '{objective}' objective needs one")
    if objective == "weighted" and not degradation_weight > 0:
        raise ConfigError("the 'weighted' objective needs degradation_weight > 0")


def cccv_at_budget(
    scenario: str | Scenario, time_budget_s: float, dt_s: float | None = None, overrides: dict[str, Any] | None = None
) -> dict[str, float]:
    """Replay summary of the CC-CV charge (CC with the BMS limit taper) that reaches the target SOC at the budget.

    The reference an optimal charge must beat at the same charge time (docs/physics.md §5). ``dt_s`` defaults to the
    scenario's control step.
    """
    sc = _load(scenario, overrides)
    sim, limits = _fresh_simulator(sc)
    step_s = sc.dt_s if dt_s is None else dt_s
    profile = matched_cccv(sim, sc, time_budget_s, step_s, limits)
    return replay(sim, profile, step_s, limits)
