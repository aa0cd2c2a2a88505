"""The end-of-training report: a run's policy against CC-CV on held-out seeds (``evaluation.{json,csv,png}``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eomctl.core.io import write_csv, write_json
from eomctl.evaluation.evaluate import compare, format_table, table_rows
from eomctl.evaluation.rollout import FINAL_EVAL_SEED, make_env, run_episode
from eomctl.plotting.traces import plot_traces
from eomctl.policies.baselines import CCCV, Rate
from eomctl.policies.trained import load_agent
from eomctl.training.hyperparams import env_overrides
from eomctl.training.runs import read_config


def evaluate_run(run_dir: str | Path, episodes: int = 3, seed: int = FINAL_EVAL_SEED) -> dict[str, Any]:
    """Compare a run's policy with CC-CV on held-out seeds; write ``evaluation.{json,csv,png}`` and print it.

    The policy is the run's best model by periodic (deterministic) evaluation, ``best_model.zip``, when there is one,
    as in rl-baselines3-zoo; else the final model. PPO's final deterministic policy can differ sharply from the
    stochastic one it was trained as (measured on FastCharge: the final mean policy charged too slowly to finish).

    Uses :func:`eomctl.evaluation.evaluate.compare` (matched-time CC-CV and CC-CV at 0.5/1/2C). The EEZ columns say
    whether each row is within the Entropy Efficiency Zone of this table plus the sweep stored for the env (see
    :func:`eomctl.evaluation.evaluate.table_rows`).
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    best = (run_dir / "best_model.zip").is_file()
    policy = load_agent(run_dir, best=best)
    print(f"final evaluation of {'best_model.zip (best periodic evaluation)' if best else 'model.zip'}")
    env = make_env(config.env_id, env_overrides(config, compile_=False))  # a one-off build: not worth JIT
    try:
        if not env.unwrapped.scenario.randomised and episodes > 1:
            print(f"{config.env_id} draws nothing per episode: 1 evaluation episode instead of {episodes}")
            episodes = 1  # a deterministic policy on a deterministic scenario repeats the same episode
        record = compare(policy, env, episodes=episodes, seed=seed)
        base = env.unwrapped
        vmax_v = base.scenario.limits.v_max_v or base.cell.v_max_v
        matched = CCCV(rate=Rate(record.matched_time_cccv["rate_c"]), vmax=vmax_v, cutoff=Rate(0.05))
        traces = {
            "policy": run_episode(policy, env, seed),
            f"CC-CV matched time ({matched.rate.value:.2f}C)": run_episode(matched, env, seed),
        }
    finally:
        env.close()
    rows = table_rows(record)
    data = record.to_json(rows)
    write_json(run_dir / "evaluation.json", data)
    write_csv(run_dir / "evaluation.csv", {k: [r.get(k) for r in rows] for k in rows[0]})
    plot_traces(traces, run_dir / "evaluation.png", f"{config.algo} on {config.env_id}: policy vs CC-CV")
    print(format_table([record], record.references))
    eez = next((r for r in rows if r["label"] == "policy"), {}).get("in_eez")
    if eez is not None:
        print(f"policy in the EEZ (these protocols + the stored sweep for the env): {eez}")
    print(f"-> {run_dir / 'evaluation.json'}, evaluation.csv, evaluation.png")
    return data
