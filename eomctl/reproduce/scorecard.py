"""The shipped policies' scorecard: every scenario's policy against the chargers tuned to its charge time.

For each registered scenario with a shipped policy (:data:`SHIPPED_POLICIES`), :func:`scenario_scorecard` tunes each
baseline family to the policy's mean charge time on training draws and compares them on held-out draws
(:func:`eomctl.evaluation.tuned.tuned_comparison`, paired differences with BCa bootstrap 95 % intervals); then, where
listed (:data:`ROOM_SCENARIOS`), :func:`scenario_room` solves the bound on each of the first held-out draws and
:func:`rooms_by_objective` reports the share of the room to it the policy captures against the best BMS baseline
family, matched to the policy's charge time on each draw (:func:`eomctl.evaluation.tuned.room_summary`). Oracle
references, labelled so, sit beside them (:data:`PER_DRAW_ORACLES`, :data:`MPC_REFERENCES`): :func:`scenario_per_draw`
and :func:`scenario_mpc`.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eomctl.charging.env import ChargingEnv
from eomctl.core.resources import REPO_ROOT
from eomctl.evaluation.evaluate import measure_episode
from eomctl.evaluation.tuned import (
    BMS_FAMILIES,
    FAMILIES,
    HELD_OUT_SEED,
    ROOM_METRICS,
    best_bms_baseline,
    has_bound,
    mpc_on_draw,
    per_draw_comparison,
    room_on_draw,
    room_summary,
    tuned_comparison,
)
from eomctl.plotting.derating import plot_current_map
from eomctl.policies.specs import parse_policy

#: The shipped policy of every registered scenario (relative to the repository root).
SHIPPED_POLICIES: dict[str, str] = {
    name: f"agents/ppo_{name}-v0.zip"
    for name in ("FastCharge", "ColdCharge", "Deadline", "AgedCell", "LFPFastCharge", "ColdFastCharge")
}
#: The chargers each policy is compared with (CC-CV where not listed): in the cold, every charger a BMS can run,
#: JEITA-derated ones included (at 25 C a JEITA table is full current, the same charger as CC-CV); on ColdFastCharge
#: also CC-CO on the model's anode potential, an oracle reference (no charger measures it), never the "best BMS
#: baseline".
SCENARIO_FAMILIES: dict[str, tuple[str, ...]] = {
    "ColdCharge": BMS_FAMILIES,
    "ColdFastCharge": (*BMS_FAMILIES, "ccco_oracle"),
}
#: Where the room to the bound is measured, and in which objectives (the bound solves are minutes each).
ROOM_SCENARIOS: dict[str, tuple[str, ...]] = {"ColdFastCharge": ("irreversible", "entropy")}
#: The wall-time cap of each room solve [s]. At 300 s (the bound's default) one draw's solve stopped at the cap with
#: the two cores busy and ended optimal on a quieter run, so which draws had a bound depended on the load; with this
#: headroom SLSQP's convergence or iteration limit ends the solves (the longest that ended optimal took 275 s).
ROOM_SOLVE_CAP_S = 1200.0
#: Oracle references beside the scorecard: a family matched on every held-out draw, to the policy's time there or,
#: in the deadline scenario, to the draw's deadline ((family, target) pairs); and the model-predictive charger (state
#: sources, objective) on the room's draws at the policy's time there.
PER_DRAW_ORACLES: dict[str, tuple[tuple[str, str], ...]] = {
    "ColdFastCharge": (("cccv", "policy"),),
    "Deadline": (("cccv", "deadline"),),
}
MPC_REFERENCES: dict[str, tuple[tuple[str, ...], str]] = {"ColdFastCharge": (("oracle", "ekf"), "irreversible")}


def scenario_scorecard(
    scenario: str,
    policy_file: str,
    families: Sequence[str],
    train_episodes: int,
    held_out_episodes: int,
    policy_sha256: str = "",
) -> dict[str, Any]:
    """One scenario's comparison rows (:func:`eomctl.evaluation.tuned.tuned_comparison`), a JSON-ready dict.

    A task of :func:`eomctl.core.executor.run_tasks`: it builds its own env, so tasks share nothing.
    ``policy_sha256`` (the policy file's hash, :func:`file_sha256`) is recorded and keys the task's checkpoint, so a
    replaced policy file is evaluated again, not read back from an earlier run's checkpoint.
    """
    with contextlib.closing(ChargingEnv(scenario)) as env:
        path = str(REPO_ROOT / policy_file)
        rows = tuned_comparison(path, {n: FAMILIES[n] for n in families}, env, train_episodes, held_out_episodes)
        return {"scenario": scenario, "policy": policy_file, "policy_sha256": policy_sha256, "rows": rows}


def scenario_room(
    scenario: str,
    policy_file: str,
    family: str,
    objective: str,
    seed: int,
    policy_sha256: str = "",
    max_wall_time_s: float = 300.0,
) -> dict[str, Any]:
    """The policy, ``family`` matched to its time and the bound on the held-out draw ``seed``
    (:func:`eomctl.evaluation.tuned.room_on_draw`), a JSON-ready dict; a task like :func:`scenario_scorecard`, one
    per draw so that the solves (minutes each) spread over the workers."""
    with contextlib.closing(ChargingEnv(scenario)) as env:
        build, scale_range = FAMILIES[family]
        row = room_on_draw(str(REPO_ROOT / policy_file), build, scale_range, env, seed, objective=objective,
                           max_wall_time_s=max_wall_time_s)  # fmt: skip
        return {"scenario": scenario, "baseline_family": family, "objective": objective,
                "policy_sha256": policy_sha256, **row}  # fmt: skip


def rooms_by_objective(draws: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """:func:`scenario_room`'s per-draw rows gathered per scenario and objective and summed up
    (:func:`eomctl.evaluation.tuned.room_summary`), in the order they first appear."""
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for d in draws:
        groups.setdefault((d["scenario"], d["objective"], d["baseline_family"]), []).append(d)
    return [{"scenario": scenario, "baseline_family": family, **room_summary(rows, objective)}
            for (scenario, objective, family), rows in groups.items()]  # fmt: skip


def scenario_per_draw(
    scenario: str, policy_file: str, family: str, target: str, draws: int, policy_sha256: str = ""
) -> dict[str, Any]:
    """The policy against ``family`` matched on each of the first ``draws`` held-out draws to the ``target`` time
    ("policy" or "deadline"; :func:`eomctl.evaluation.tuned.per_draw_comparison`, an oracle reference), as a card
    like :func:`scenario_scorecard`'s, the family named ``<family>_per_draw_oracle`` or
    ``<family>_at_deadline_oracle``."""
    with contextlib.closing(ChargingEnv(scenario)) as env:
        seeds = range(HELD_OUT_SEED, HELD_OUT_SEED + draws)
        build, scale_range = FAMILIES[family]
        name = f"{family}_{'per_draw' if target == 'policy' else 'at_deadline'}_oracle"
        rows = per_draw_comparison(str(REPO_ROOT / policy_file), build, scale_range, env, seeds, name, target=target)
        return {"scenario": scenario, "policy": policy_file, "policy_sha256": policy_sha256, "rows": rows}


def scenario_mpc(
    scenario: str, policy_file: str, seed: int, state: str, objective: str, policy_sha256: str = ""
) -> dict[str, Any]:
    """The model-predictive charger on one held-out draw at the policy's time there
    (:func:`eomctl.evaluation.tuned.mpc_on_draw`); a task like :func:`scenario_scorecard`."""
    with contextlib.closing(ChargingEnv(scenario)) as env:
        row = mpc_on_draw(str(REPO_ROOT / policy_file), env, seed, state, objective)
        return {"scenario": scenario, "policy_sha256": policy_sha256, **row}


def reference_tasks(
    cards: Sequence[Mapping[str, Any]], draws: int, room_draws: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """:func:`scenario_per_draw` arguments (per scenario of :data:`PER_DRAW_ORACLES` and family, ``draws`` draws) and
    :func:`scenario_mpc` arguments (per scenario of :data:`MPC_REFERENCES`, state and each of the first
    ``room_draws`` held-out draws, the ones the room is measured on)."""
    per_draw, mpc = [], []
    for card in cards:
        common = {"scenario": card["scenario"], "policy_file": card["policy"], "policy_sha256": card["policy_sha256"]}
        per_draw += [{**common, "family": family, "target": target, "draws": draws}
                     for family, target in PER_DRAW_ORACLES.get(card["scenario"], ())]  # fmt: skip
        states, objective = MPC_REFERENCES.get(card["scenario"], ((), ""))
        mpc += [{**common, "seed": HELD_OUT_SEED + i, "state": state, "objective": objective}
                for state in states for i in range(room_draws)]  # fmt: skip
    return per_draw, mpc


def room_tasks(cards: Sequence[Mapping[str, Any]], draws: int) -> list[dict[str, Any]]:
    """:func:`scenario_room` arguments: per scenario of :data:`ROOM_SCENARIOS`, objective and each of the first
    ``draws`` held-out draws, with the BMS family of the lowest held-out mean of the objective's metric in that
    scenario's card."""
    tasks = []
    for card in cards:
        for objective in ROOM_SCENARIOS.get(card["scenario"], ()):
            best = best_bms_baseline(card["rows"], ROOM_METRICS[objective])
            if best is not None:
                tasks += [{"scenario": card["scenario"], "policy_file": card["policy"], "family": best,
                           "objective": objective, "seed": HELD_OUT_SEED + i, "policy_sha256": card["policy_sha256"],
                           "max_wall_time_s": ROOM_SOLVE_CAP_S} for i in range(draws)]  # fmt: skip
    return tasks


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (a policy's identity in the scorecard's checkpoint)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


#: Scorecard columns per metric: the two means, and the prefix of the difference and its interval in % of the
#: baseline (the peak temperature's in kelvin, not as a share of 300 K; plating only in the JSON).
MEAN_COLUMNS = {"charge_time_s": ("policy_time_s", "baseline_time_s"),
                "entropy_j_per_k": ("policy_entropy_j_per_k", "baseline_entropy_j_per_k"),
                "irreversible_lli_pct": ("policy_irreversible_pct", "baseline_irreversible_pct")}  # fmt: skip
PERCENT_PREFIX = {"charge_time_s": "time", "entropy_j_per_k": "entropy", "irreversible_lli_pct": "irreversible"}


def summary_rows(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per baseline family: charge times, and entropy and irreversible loss as paired differences in %."""
    by_family: dict[str, dict[str, Any]] = {}
    for r in card["rows"]:
        row = by_family.setdefault(r["family"], {
            "scenario": card["scenario"], "policy": card["policy"], "baseline": r["spec"], "n": r["n"],
            "tuning_note": r["tuning_note"],
        })  # fmt: skip
        metric, b = r["metric"], r["baseline_mean"]
        if metric in MEAN_COLUMNS:
            row.update(zip(MEAN_COLUMNS[metric], (r["policy_mean"], b), strict=True))
        if metric in PERCENT_PREFIX:
            scale, prefix = (100.0 / b if b else float("nan")), PERCENT_PREFIX[metric]
            row.update({f"{prefix}_diff_pct": r["difference"] * scale, f"{prefix}_low_pct": r["low"] * scale,
                        f"{prefix}_high_pct": r["high"] * scale})  # fmt: skip
        elif metric == "peak_temperature_k":
            row.update(peak_temperature_diff_k=r["difference"], peak_temperature_low_k=r["low"],
                       peak_temperature_high_k=r["high"])  # fmt: skip
    return list(by_family.values())


def room_rows(rooms: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rooms (:func:`rooms_by_objective`'s) as table rows, with the share captured on each draw that has a bound
    and how many solves came out above a charger (a local optimum: no bound on that draw); the rest stays in the
    JSON."""
    keys = ("scenario", "objective", "metric", "baseline_family", "n", "baseline", "policy", "bound", "room_pct")
    rows = []
    for room in rooms:
        per_draw = [_share(d["baseline"], d["bound"], d["policy"]) for d in room["per_draw"]
                    if has_bound(d) and d["baseline"] > d["bound"]]  # fmt: skip
        rows.append({**{k: room[k] for k in keys}, "captured_pct": 100.0 * room["captured"],
                     "captured_per_draw_pct": "/".join(f"{c:.0f}" for c in per_draw),
                     "bound_above_a_charger": room["above_a_charger"], "draws": len(room["per_draw"])})  # fmt: skip
    return rows


def mpc_rows(mpcs: Sequence[Mapping[str, Any]], rooms: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per MPC draw (:func:`scenario_mpc`'s): the policy and the MPC at the policy's time, beside the same draw's
    matched BMS baseline and bound from the room of the MPC's objective, and the share of that room each captures
    (where the draw has a bound: solved to optimal, below the baseline and no higher than the policy)."""
    rows = []
    for m in mpcs:
        metric = ROOM_METRICS[m["objective"]]
        room = next((r for r in rooms if r["scenario"] == m["scenario"] and r["objective"] == m["objective"]), None)
        draw: Mapping[str, Any] = next((d for d in room["per_draw"] if d["seed"] == m["seed"]), {}) if room else {}
        baseline, bound = draw.get("baseline", math.nan), draw.get("bound", math.nan)
        usable = has_bound(draw) and baseline > bound
        policy_value, mpc_value = m[f"policy_{metric}"], m.get(f"mpc_{metric}", math.nan)
        rows.append({
            "scenario": m["scenario"], "seed": m["seed"], "state": m["state"], "metric": metric,
            "status": m["status"], "policy_time_s": m["policy_time_s"], "mpc_time_s": m.get("mpc_time_s", math.nan),
            "policy": policy_value, "mpc": mpc_value, "baseline": baseline,
            "baseline_family": room["baseline_family"] if room else "", "bound": bound,
            "policy_captured_pct": _share(baseline, bound, policy_value) if usable else math.nan,
            "mpc_captured_pct": _share(baseline, bound, mpc_value) if usable else math.nan,
            "policy_entropy_j_per_k": m["policy_entropy_j_per_k"],
            "mpc_entropy_j_per_k": m.get("mpc_entropy_j_per_k", math.nan), "mpc_wall_s": m.get("wall_s", math.nan),
        })  # fmt: skip
    return rows


def _share(baseline: float, bound: float, value: float) -> float:
    """The share of the room ``baseline - bound`` that ``value`` captures, in %."""
    return 100.0 * (baseline - value) / (baseline - bound)


def current_map(
    scenario: str, policy_file: str, table_spec: str, table: str, rate_c: float, draws: int, path: Path
) -> Path:
    """The policy's current against temperature and SOC on ``draws`` held-out draws, beside the table's charger
    (:func:`eomctl.plotting.derating.plot_current_map`)."""
    with contextlib.closing(ChargingEnv(scenario)) as env:
        recorded = []
        for spec in (str(REPO_ROOT / policy_file), table_spec):
            policy = parse_policy(spec)
            recorded.append([measure_episode(policy, env, HELD_OUT_SEED + i, record=True)[1] or []
                             for i in range(draws)])  # fmt: skip
    return plot_current_map(recorded[0], recorded[1], table, rate_c, path, policy_label=f"policy {policy_file}")
