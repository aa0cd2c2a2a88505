"""Charging parts of the reproduce command: standard protocols, the Pareto manifold / EEZ, and a trained policy.

Every number comes from :mod:`eomctl.evaluation.evaluate` (one code path for baselines and agents, entropy always next
to its charge time) and :mod:`eomctl.evaluation.sweep`; the figures from :mod:`eomctl.plotting.figures` conventions
(written atomically).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from eomctl.bench.train import default_run, learning_rate
from eomctl.charging.env import ChargingEnv
from eomctl.core.executor import run_tasks
from eomctl.core.io import write_csv, write_json
from eomctl.core.resources import REPO_ROOT
from eomctl.evaluation.evaluate import Comparison, compare, matched_time_cccv, measure_episode
from eomctl.evaluation.rollout import FINAL_EVAL_SEED
from eomctl.evaluation.sweep import CSV_COLUMNS, rows_to_columns, sweep
from eomctl.evaluation.tuned import best_bms_baseline
from eomctl.plotting.pareto import plot_pareto
from eomctl.plotting.traces import plot_trace_grid
from eomctl.policies.baselines import CCCV, Rate
from eomctl.policies.specs import parse_policy
from eomctl.policies.trained import load_agent
from eomctl.reproduce.part import KeyNumber, PartResult, PartSkipped, flat_text
from eomctl.reproduce.scorecard import (
    ROOM_SCENARIOS,
    SCENARIO_FAMILIES,
    SHIPPED_POLICIES,
    current_map,
    file_sha256,
    mpc_rows,
    reference_tasks,
    room_rows,
    room_tasks,
    rooms_by_objective,
    scenario_mpc,
    scenario_per_draw,
    scenario_room,
    scenario_scorecard,
    summary_rows,
)

CHEMISTRIES: dict[str, str] = {"nmc": "eomctl/FastCharge-v0", "lfp": "eomctl/LFPFastCharge-v0"}
# The trained policy per chemistry (relative to the repository root); a missing file skips that chemistry.
POLICY_FILES: dict[str, str] = {"nmc": "agents/ppo_FastCharge-v0.zip", "lfp": "agents/ppo_LFPFastCharge-v0.zip"}
STANDARD_RATES_C = (0.5, 1.0, 2.0)
METRIC_COLUMNS = (
    "charge_time_s", "reached_target", "entropy_j_per_k", "lli_pct", "irreversible_lli_pct", "plating_ah",
    "peak_temperature_k",
)  # fmt: skip


def protocol_specs(env: Any) -> list[str]:
    """CC-CV at :data:`STANDARD_RATES_C` and one of each other baseline, at the env's cell's voltage limit."""
    vmax, capacity_ah = env.v_max_v, env.cell.capacity_ah
    power_w = capacity_ah * 0.5 * (env.cell.v_min_v + env.cell.v_max_v)  # about 1C at the mid voltage
    return [
        *(f"cccv:rate={r:g}C,vmax={vmax:g},cutoff=C/20" for r in STANDARD_RATES_C),
        f"multistage:rates=3C/2C/1C,switch_soc=0.3/0.5,vmax={vmax:g}",
        f"boost:boost=3C,boost_until_soc=0.3,rate=1C,vmax={vmax:g},cutoff=C/20",
        f"pulse:rate=2C,on_s=60,off_s=30,vmax={vmax:g}",
        f"cp:power_w={power_w:.3g},vmax={vmax:g}",
        "ccco:rate=2C,margin=0.01",
    ]


def _reduction_pct(reference: float, value: float) -> float:
    return 100.0 * (reference - value) / reference


def _matched(env: Any, metrics: Any) -> dict[str, Any]:
    if not metrics.reached_target:
        return {"matched_cccv_note": "target not reached: no charge time to match"}
    rate_c, matched = matched_time_cccv(metrics.charge_time_s, env, rtol=0.003)
    entropy = matched.mean("entropy_j_per_k")
    return {"matched_cccv_rate_c": rate_c, "matched_cccv_charge_time_s": matched.mean("charge_time_s"),
            "matched_cccv_entropy_j_per_k": entropy, "matched_cccv_note": matched.note,
            "entropy_reduction_vs_matched_pct": _reduction_pct(entropy, metrics.entropy_j_per_k)}  # fmt: skip


def _run_chemistry(chem: str, with_matched: bool) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    env = ChargingEnv(CHEMISTRIES[chem])
    rows, traces = [], {}
    for spec in protocol_specs(env):
        metrics, trace = measure_episode(parse_policy(spec), env, seed=0, record=True)
        row: dict[str, Any] = {"chemistry": chem.upper(), "env_id": CHEMISTRIES[chem], "policy": spec}
        row.update({k: float(getattr(metrics, k)) for k in METRIC_COLUMNS})
        if with_matched and not spec.startswith("cccv"):
            row.update(_matched(env, metrics))
        rows.append(row)
        traces[spec] = trace or []
    return rows, traces


def _protocol_numbers(rows: list[dict[str, Any]], chem: str) -> dict[str, KeyNumber]:
    numbers = {}
    for rate in STANDARD_RATES_C:
        row = next(r for r in rows if r["policy"].startswith(f"cccv:rate={rate:g}C,"))
        reached = "" if row["reached_target"] else " (target not reached within the time limit)"
        numbers[f"cccv_{rate:g}C_entropy_j_per_k_{chem}"] = KeyNumber(
            row["entropy_j_per_k"], "J/K", f"CC-CV {rate:g}C to C/20 in {row['charge_time_s']:.0f} s{reached}"
        )
        numbers[f"cccv_{rate:g}C_charge_time_s_{chem}"] = KeyNumber(row["charge_time_s"], "s", f"CC-CV {rate:g}C")
    matched = [r for r in rows if "entropy_reduction_vs_matched_pct" in r]
    key = f"best_baseline_entropy_reduction_vs_matched_cccv_pct_{chem}"
    if not matched:
        numbers[key] = KeyNumber(None, "%", "matched-time CC-CV not run for this chemistry in this mode")
        return numbers
    best = max(matched, key=lambda r: r["entropy_reduction_vs_matched_pct"])
    numbers[key] = KeyNumber(best["entropy_reduction_vs_matched_pct"], "%", (
        f"{best['policy']} ({best['charge_time_s']:.0f} s, {best['entropy_j_per_k']:.3f} J/K) vs CC-CV "
        f"{best['matched_cccv_rate_c']:.3f}C ({best['matched_cccv_charge_time_s']:.0f} s, "
        f"{best['matched_cccv_entropy_j_per_k']:.3f} J/K); positive: less entropy"))  # fmt: skip
    return numbers


def protocols_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """CC-CV at 0.5C / 1C / 2C and the other baselines on FastCharge (NMC) and LFPFastCharge (LFP)."""
    rows, traces, numbers = [], {}, {}
    for chem in CHEMISTRIES:
        chem_rows, traces[chem.upper()] = _run_chemistry(chem, with_matched=chem == "nmc" or not quick)
        rows += chem_rows
        numbers.update(_protocol_numbers(chem_rows, chem))
    figure = plot_trace_grid(traces, out_dir / "protocols.png", "Standard protocols, 10 -> 80 % SOC")
    paragraph = (
        "Each standard protocol (CC-CV at 0.5C, 1C and 2C to C/20, multistage, boost, pulse, constant power, CC-CO) "
        "charges the FastCharge scenario (LG M50 NMC, 25 C, 10 -> 80 % SOC, SPMe lumped with SEI and plating, 45 C "
        "and plating limits enforced) and its LFP twin (A123, LFPFastCharge) through the one episode loop "
        "(eomctl.evaluation.evaluate.measure_episode). Charge time is the time SOC reaches 80 %; entropy, LLI and "
        "plating are integrated to it. Each non-CC-CV protocol is set against the CC-CV whose charge time matches its "
        "own to 0.3 % (eomctl.evaluation.evaluate.matched_time_cccv); reductions are in % of that CC-CV's entropy "
        "(positive: less entropy)."
    )
    return PartResult(paragraph, [figure], {"protocols": rows}, numbers)


# The charger's view of a cold garage: FastCharge at 0 C without the anode-potential limit (a charger cannot measure
# it), where protocols differ in the lithium they plate and lose for good, not only in time and entropy.
COLD_CHARGER = {"ambient_c": 0.0, "limits": {"anode_min_v": None}}


def _front_numbers(rows: list[dict[str, Any]], suffix: str, where: str) -> dict[str, KeyNumber]:
    front = [r for r in rows if r["on_front"]]
    return {
        f"points{suffix}": KeyNumber(len(rows), "", f"protocols (and bound budgets) evaluated, {where}"),
        f"on_front{suffix}": KeyNumber(len(front), "", f"points on the 3-objective Pareto front, {where}"),
        f"in_eez{suffix}": KeyNumber(
            sum(bool(r["in_eez"]) for r in rows), "", f"points in the EEZ (2 % time, 5 % entropy / loss), {where}"
        ),
        f"cccv_on_front{suffix}": KeyNumber(
            sum(r["family"] == "cccv" for r in front), "", f"CC-CV points on the front, {where}"
        ),
        f"failed{suffix}": KeyNumber(sum(bool(r.get("error")) for r in rows), "", f"sweep points that failed, {where}"),
    }


def pareto_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """The Pareto manifold of charge time, entropy and irreversible lithium loss with the EEZ, on FastCharge and on
    the same charge at 0 C under a charger's limits (the optimal-control bound in full mode)."""
    files, tables, numbers = [], {}, {}
    for suffix, overrides, where in (("", None, "FastCharge 25 C"), ("_cold", COLD_CHARGER, "0 C, charger limits")):
        rows = sweep(CHEMISTRIES["nmc"], include_bound=not quick, quick=quick, executor=executor, overrides=overrides,
                     checkpoint=out_dir / f"sweep{suffix}_checkpoint.json", progress=False)  # fmt: skip
        files.append(write_csv(out_dir / f"pareto{suffix}.csv", rows_to_columns(rows)))
        files.append(plot_pareto(rows, out_dir / f"pareto{suffix}.png"))
        tables[f"pareto_points{suffix}"] = [{k: r.get(k, "") for k in CSV_COLUMNS} for r in rows]
        numbers.update(_front_numbers(rows, suffix, where))
    paragraph = (
        "Every protocol of the grid (eomctl.evaluation.sweep.default_grid) charges FastCharge once; the three "
        "objectives (charge time, entropy, and the lithium lost for good per charge, i.e. LLI after a 30 min rest; all "
        "minimised) give the Pareto front and the Entropy Efficiency Zone, the points within 2 % time and 5 % entropy "
        "/ loss of a front point (epsilon-dominance). The sweep is run twice: FastCharge as it is (25 C, anode "
        "potential held at or above 0 V, so only the SEI is lost), and the same charge at 0 C under a charger's limits "
        "(4.2 V and 45 C, no anode-potential limit), where lithium plating separates the protocols. In full mode the "
        "open-loop entropy-optimal charge (eomctl.evaluation.optimal) is solved at five charge-time budgets and added "
        "as 'optimal' points. The sweeps run through eomctl.core.executor (resumable checkpoints beside the CSVs)."
    )
    return PartResult(paragraph, files, tables, numbers)


def _policy_numbers(chem: str, record: Comparison) -> dict[str, KeyNumber]:
    head, matched = record.headline, record.matched_time_cccv
    where = f"policy {head['charge_time_s']:.0f} s, {head['entropy_j_per_k']:.3f} J/K"
    numbers = {f"entropy_reduction_vs_matched_cccv_pct_{chem}": KeyNumber(matched["entropy_reduction_pct"], "%", (
        f"{where}; CC-CV {matched['rate_c']:.3f}C {matched['charge_time_s']:.0f} s, "
        f"{matched['entropy_j_per_k']:.3f} J/K; positive: less entropy"))}  # fmt: skip
    for name, ref in record.references.items():
        rate = name.removeprefix("cccv_")
        numbers[f"entropy_reduction_vs_cccv_{rate}_pct_{chem}"] = KeyNumber(
            _reduction_pct(ref["entropy_j_per_k"], head["entropy_j_per_k"]),
            "%",
            f"{where}; CC-CV {rate} {ref['charge_time_s']:.0f} s, {ref['entropy_j_per_k']:.3f} J/K"
            + ("" if ref["success_rate"] >= 1.0 else " (CC-CV did not reach the target SOC within the time limit)"),
        )
    return numbers


POLICY_TEXT = """
    Every shipped policy (agents/ppo_<Scenario>-v0.zip) on its own scenario, against the chargers a real BMS can
    run, each tuned by its nominal rate to the policy's mean charge time on training draws (seeds 0-29) and compared
    on held-out draws (seeds from 100000; a scenario that draws nothing has one episode, compared exactly):
    eomctl.evaluation.tuned.tuned_comparison, paired differences with BCa bootstrap 95 % intervals, in % of the
    baseline's mean (negative: the policy lower). In the cold scenarios the chargers include the JEITA-derated ones
    (eomctl.policies.derating); at 25 C a JEITA table is full current, the same charger as CC-CV. On ColdFastCharge
    the room to the bound is measured on the first held-out draws, all three at the same time and start on each
    draw: the policy; the best BMS charger family (lowest held-out mean of the metric), its rate tuned to the
    policy's charge time on that draw (an oracle tuning); and the bound solved from the draw's start at that time.
    Captured = (baseline - policy) / (baseline - bound) on the means over the draws with a bound (solved to optimal
    and no higher than either charger; a solve above one is a local optimum). Oracle references, labelled so: on
    Deadline, CC-CV with its rate set on each held-out draw to finish at the draw's deadline; on ColdFastCharge,
    CC-CV with its rate matched to the policy's time on each of the 30 held-out draws (a rate chosen knowing the
    draw), and on the first three of the room's draws the model-predictive charger (eomctl.policies.mpc,
    irreversible-loss objective, with the simulator's state or an EKF's estimate) at the policy's time there, set
    beside the same draw's baseline and bound. Separately, the FastCharge and LFPFastCharge policies are set against
    the CC-CV of equal charge time and CC-CV at 0.5C / 1C / 2C, each with its own charge time (the research claims'
    rows). The figure shows the ColdFastCharge policy's current against temperature and SOC beside the derating
    table's charger on the same held-out draws.
"""
# 30 training draws: with 10 the tuned chargers' mean time on the held-out draws missed the policy's by 0.3-6.6 %
# (2026-12-04), more than the 1 % the comparison asks; the draws span -10..10 C and the chargers slow down unalike.
TRAIN_DRAWS = 30
BOUND_DRAWS = 6  # bound solves are minutes each in the cold: six draws per objective, one task each
MPC_DRAWS = 3  # the MPC is 6-20 min a charge: on the first three of the room's draws
MAP_DRAWS = 12


def policy_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """Every shipped policy against its tuned chargers (the scorecard), and per chemistry against matched CC-CV."""
    shipped = {s: p for s, p in SHIPPED_POLICIES.items() if (REPO_ROOT / p).is_file()}
    if not shipped:
        raise PartSkipped(f"no policy file: {', '.join(SHIPPED_POLICIES.values())} (paths relative to the repository)")
    kwargs_list = [
        {"scenario": s, "policy_file": p, "families": list(SCENARIO_FAMILIES.get(s, ("cccv",))),
         "train_episodes": 2 if quick else TRAIN_DRAWS, "held_out_episodes": 2 if quick else 30,
         "policy_sha256": file_sha256(REPO_ROOT / p)}
        for s, p in shipped.items()
    ]  # fmt: skip
    cards = run_tasks(scenario_scorecard, kwargs_list, executor=executor, max_workers=2,
                      checkpoint=out_dir / "scorecard.ckpt.json")  # fmt: skip
    files = [write_json(out_dir / "scorecard.json", cards)]
    draws = [] if quick else run_tasks(scenario_room, room_tasks(cards, BOUND_DRAWS), executor=executor,
                                       max_workers=2, checkpoint=out_dir / "room.ckpt.json")  # fmt: skip
    found = rooms_by_objective(draws)
    files.append(write_json(out_dir / "room.json", found))
    rooms = room_rows(found)
    per_draw_tasks, mpc_tasks = reference_tasks(cards, 2 if quick else 30, MPC_DRAWS)
    oracles = run_tasks(scenario_per_draw, per_draw_tasks, executor=executor, max_workers=2,
                        checkpoint=out_dir / "per_draw.ckpt.json")  # fmt: skip
    # The MPC takes 6-20 min a charge on 2 cores: on the first of the room's draws only, and not in a quick run.
    mpcs = [] if quick else run_tasks(scenario_mpc, mpc_tasks, executor=executor, max_workers=2,
                                      checkpoint=out_dir / "mpc.ckpt.json")  # fmt: skip
    files.append(write_json(out_dir / "references.json", {"per_draw": oracles, "mpc": mpcs}))
    for oracle in oracles:  # the per-draw oracle's rows join its scenario's card (never a "best BMS baseline")
        next(c for c in cards if c["scenario"] == oracle["scenario"])["rows"].extend(oracle["rows"])
    scorecard = [row for card in cards for row in summary_rows(card)]
    numbers = _scorecard_numbers(cards, scorecard, rooms, quick)
    cold: dict[str, Any] = next((c for c in cards if c["scenario"] == "ColdFastCharge"), {"rows": []})
    family = best_bms_baseline([r for r in cold["rows"] if r["family"].startswith("derated")])
    if family is not None:  # the derated charger with the lowest held-out loss, beside the policy
        best = next(r for r in cold["rows"] if r["family"] == family)
        table = parse_policy(best["spec"]).table  # type: ignore[attr-defined]
        files.append(current_map("ColdFastCharge", cold["policy"], best["spec"], table, best["scale"],
                                 2 if quick else MAP_DRAWS, out_dir / "current_map_ColdFastCharge.png"))  # fmt: skip
    tables: dict[str, list[dict[str, Any]]] = {"policy_scorecard": scorecard, "policy_room": rooms,
                                               "policy_mpc": mpc_rows(mpcs, found)}  # fmt: skip
    chemistry = _chemistry_comparison(out_dir, quick)
    files += chemistry.files
    tables.update(chemistry.tables)
    numbers.update(chemistry.key_numbers)
    return PartResult(flat_text(POLICY_TEXT), files, tables, numbers)


def _scorecard_numbers(
    cards: list[dict[str, Any]], scorecard: list[dict[str, Any]], rooms: list[dict[str, Any]], quick: bool
) -> dict[str, KeyNumber]:
    """Per scenario, entropy against the tuned CC-CV (in a deadline scenario also against the CC-CV that just meets
    each draw's deadline); for ColdFastCharge, the irreversible loss against the best BMS charger and the room
    captured."""
    numbers: dict[str, KeyNumber] = {}
    for row in scorecard:
        if row["baseline"].startswith("cccv:"):
            key = f"entropy_reduction_vs_tuned_cccv_pct_{row['scenario']}"
            numbers[key] = KeyNumber(-row["entropy_diff_pct"], "%", (
                f"{row['n']} held-out draw(s): policy {row['policy_entropy_j_per_k']:.3f} J/K, {row['baseline']} "
                f"{row['baseline_entropy_j_per_k']:.3f} J/K (95 % CI of the difference "
                f"{row['entropy_low_pct']:+.2f} to {row['entropy_high_pct']:+.2f} %); charge time "
                f"{row['policy_time_s']:.0f} vs {row['baseline_time_s']:.0f} s; positive: less entropy"))  # fmt: skip
        elif row["baseline"].startswith("cccv_at_deadline_oracle"):
            numbers[f"entropy_reduction_vs_deadline_cccv_pct_{row['scenario']}"] = KeyNumber(
                -row["entropy_diff_pct"], "%", (
                    f"{row['n']} held-out draws: policy {row['policy_entropy_j_per_k']:.3f} J/K in "
                    f"{row['policy_time_s']:.0f} s, CC-CV finishing at each draw's deadline "
                    f"{row['baseline_entropy_j_per_k']:.3f} J/K in {row['baseline_time_s']:.0f} s (95 % CI of the "
                    f"difference {row['entropy_low_pct']:+.1f} to {row['entropy_high_pct']:+.1f} %; "
                    f"{row['tuning_note']}); positive: less entropy"))  # fmt: skip
    scenario = "ColdFastCharge"  # the headline: lithium lost for good against the best charger a BMS can run
    cold: dict[str, Any] = next((c for c in cards if c["scenario"] == scenario), {"rows": []})
    family = best_bms_baseline(cold["rows"])
    spec = next((r["spec"] for r in cold["rows"] if r["family"] == family), None)
    bms = [r for r in scorecard if r["scenario"] == scenario and r["baseline"] == spec]
    if bms:
        best = bms[0]
        numbers[f"irreversible_reduction_vs_best_bms_pct_{scenario}"] = KeyNumber(-best["irreversible_diff_pct"], "%", (
            f"{best['n']} held-out draws: policy {best['policy_irreversible_pct']:.4f} %, best BMS charger "
            f"{best['baseline']} {best['baseline_irreversible_pct']:.4f} % (95 % CI of the difference "
            f"{best['irreversible_low_pct']:+.1f} to {best['irreversible_high_pct']:+.1f} %); charge time "
            f"{best['policy_time_s']:.0f} vs {best['baseline_time_s']:.0f} s; entropy {best['entropy_diff_pct']:+.2f} "
            "%; positive: less lithium lost"))  # fmt: skip
    for objective in ROOM_SCENARIOS.get(scenario, ()) if bms else ():
        room = next((r for r in rooms if r["scenario"] == scenario and r["objective"] == objective), None)
        key = f"room_captured_pct_{objective}_{scenario}"
        if room is None or not room["n"]:
            numbers[key] = KeyNumber(None, "%", "quick run: no bound solved" if quick else "no optimal bound")
            continue
        numbers[key] = KeyNumber(room["captured_pct"], "%", (
            f"{room['n']} of {room['draws']} held-out draws with a bound ({room['metric']}), all at the "
            f"policy's time: {room['baseline_family']} (matched per draw) {room['baseline']:.4g}, policy "
            f"{room['policy']:.4g}, bound {room['bound']:.4g} (room {room['room_pct']:.1f} % of the baseline); per "
            f"draw {room['captured_per_draw_pct']} %"
        ), f"on {room['bound_above_a_charger']} of {room['draws']} draws the solve came out above a charger: no bound"
           " there" if room["bound_above_a_charger"] else "")  # fmt: skip
    return numbers


def _chemistry_comparison(out_dir: Path, quick: bool) -> PartResult:
    """The FastCharge / LFPFastCharge policy per chemistry (:data:`POLICY_FILES`) against the CC-CV of equal charge
    time and CC-CV at 0.5C / 1C / 2C (the research claims' rows)."""
    present = {c: REPO_ROOT / p for c, p in POLICY_FILES.items() if (REPO_ROOT / p).is_file()}
    rows, traces, numbers, files = [], {}, {}, []
    for chem, path in present.items():
        env, policy = ChargingEnv(CHEMISTRIES[chem]), load_agent(path)
        record = compare(policy, env, episodes=1 if quick else 3, seed=FINAL_EVAL_SEED)
        files.append(write_json(out_dir / f"evaluation_{chem}.json", record.to_json()))
        numbers.update(_policy_numbers(chem, record))
        m = record.matched_time_cccv
        cccv = CCCV(rate=Rate(m["rate_c"]), vmax=env.v_max_v, cutoff=Rate(0.05))
        traces[chem.upper()] = {
            f"policy {path.name}": measure_episode(policy, env, FINAL_EVAL_SEED, record=True)[1] or [],
            f"CC-CV {m['rate_c']:.3f}C": measure_episode(cccv, env, FINAL_EVAL_SEED, record=True)[1] or [],
        }
        # The policy row names the file as the repository does (the record holds the path it was loaded from).
        headline = {**record.headline, "policy": POLICY_FILES[chem]}
        rows += [{"chemistry": chem.upper(), **{k: v for k, v in pair.items() if not isinstance(v, dict)}}
                 for pair in (headline, m, *record.references.values())]  # fmt: skip
    for chem in set(POLICY_FILES) - set(present):
        numbers[f"entropy_reduction_vs_matched_cccv_pct_{chem}"] = KeyNumber(None, "%", f"no {POLICY_FILES[chem]}")
    if traces:
        files.append(plot_trace_grid(traces, out_dir / "policy_vs_cccv.png", "Trained policy vs matched-time CC-CV"))
    return PartResult("", files, {"policy_vs_cccv": rows} if rows else {}, numbers)


TRAINING_TEXT = """
    How long training takes on this machine. Full run: the default command (python scripts/train_agent.py --algo ppo:
    PPO on FastCharge with agents/ppo.yml, 2 JIT-compiled envs, periodic evaluation, then the final evaluation against
    CC-CV) timed end to end in a subprocess. Quick run: PPO learning alone for a short budget with 2 envs. Learning
    steps per second exclude env building, compilation and evaluation. The machine may be shared: expect +-20 %.
"""


def training_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """Wall time of the default training command (full) or PPO learning throughput (quick)."""
    row: dict[str, Any]
    if quick:
        with tempfile.TemporaryDirectory() as folder:
            measured = learning_rate(2, 1024, Path(folder) / "run")
        row = {"command": "PPO learning only, 2 envs", "steps": measured["steps"], "wall_s": measured["call_wall_s"],
               "learning_steps_per_s": measured["learning_steps_per_s"]}  # fmt: skip
    else:
        measured = default_run()
        row = {"command": "python scripts/train_agent.py --algo ppo", "steps": measured["steps"],
               "wall_s": measured["wall_s"], "learning_steps_per_s": measured["steps_per_s"]}  # fmt: skip
    numbers = {"training_wall_s": KeyNumber(row["wall_s"], "s", f"{row['command']}, {row['steps']} steps")}
    return PartResult(flat_text(TRAINING_TEXT), [], {"training": [row]}, numbers)
