"""``eomctl compare``: a policy against baselines tuned to its charge time on training draws, on held-out draws."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.charging.scenarios import load_scenario
from eomctl.core.errors import ConfigError
from eomctl.core.io import write_json
from eomctl.evaluation.tuned import (
    FAMILIES,
    HELD_OUT_SEED,
    ROOM_METRICS,
    TRAIN_SEED,
    best_bms_baseline,
    per_draw_comparison,
    room_to_bound,
    tuned_comparison,
)
from eomctl.policies.specs import parse_policy


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eomctl compare --policy <p> --env <id> --baselines cccv derated ...``."""
    p = subparsers.add_parser(
        "compare", help="a policy vs baselines tuned to its charge time (training draws), on held-out draws"
    )
    p.add_argument("--policy", required=True, help="policy spec or trained model .zip / run folder")
    p.add_argument("--env", default="eomctl/ColdFastCharge-v0", help="Gymnasium id of the scenario")
    p.add_argument("--baselines", nargs="+", default=["cccv", "derated", "derated_soc"], choices=sorted(FAMILIES),
                   help="baseline families, each tuned by its nominal rate (ccco_oracle reads the anode potential: "
                        "an oracle reference)")  # fmt: skip
    p.add_argument("--train-episodes", type=int, default=10, help=f"tuning draws (seeds from {TRAIN_SEED})")
    p.add_argument("--held-out", type=int, default=30, help=f"comparison draws (seeds from {HELD_OUT_SEED})")
    p.add_argument("--bound-draws", type=int, default=0, metavar="K",
                   help="also solve the bound on the first K held-out draws and report the share of the room to it "
                        "the policy captures against the best BMS baseline family, matched to the policy's time on "
                        "each draw (a minute or more per draw)")  # fmt: skip
    p.add_argument(
        "--objective",
        default="irreversible",
        choices=("irreversible", "entropy"),
        help="what the bound minimises (and the room is measured in)",
    )
    p.add_argument("--oracle-per-draw", choices=("policy", "deadline"), default=None,
                   help="also compare with CC-CV whose rate is matched on each held-out draw to the policy's charge "
                        "time there ('policy') or to the draw's deadline ('deadline', a deadline scenario): an "
                        "oracle reference, since the rate is chosen knowing the draw")  # fmt: skip
    p.add_argument("--out", default=None, help="JSON file to write the rows to")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Handler of ``eomctl compare``: one line per baseline and metric, paired difference with its 95 % interval."""
    if args.train_episodes < 1 or args.held_out < 2:
        raise ConfigError("--train-episodes must be >= 1 and --held-out >= 2 (a paired interval needs 2 pairs)")
    if not 0 <= args.bound_draws <= args.held_out:
        raise ConfigError(f"--bound-draws must be within 0..--held-out ({args.held_out}); got {args.bound_draws}")
    policy = parse_policy(args.policy)  # before the first (long) evaluation
    if args.oracle_per_draw == "deadline" and load_scenario(args.env).deadline_s is None:
        raise ConfigError(f"--oracle-per-draw deadline needs a scenario with deadlines; {args.env} has none")
    families = {name: FAMILIES[name] for name in args.baselines}
    rows = tuned_comparison(policy, families, args.env, args.train_episodes, args.held_out)
    if args.oracle_per_draw:
        name = "cccv_per_draw_oracle" if args.oracle_per_draw == "policy" else "cccv_at_deadline_oracle"
        seeds = range(HELD_OUT_SEED, HELD_OUT_SEED + args.held_out)
        rows += per_draw_comparison(policy, *FAMILIES["cccv"], args.env, seeds, name, target=args.oracle_per_draw)
    for r in rows:
        label = f"{r['family']} ({r['spec']})" if r["metric"] == "charge_time_s" else r["family"]
        print(f"{label}: {r['metric']} policy {r['policy_mean']:.6g} vs {r['baseline_mean']:.6g}, difference "
              f"{r['difference']:+.4g} [{r['low']:+.4g}, {r['high']:+.4g}] ({r['relative_pct']:+.2f} %)")  # fmt: skip
    record: dict[str, Any] = {"policy": args.policy, "env": args.env, "rows": rows}
    best = best_bms_baseline(rows, metric=ROOM_METRICS[args.objective])
    if args.bound_draws and best is not None:
        family, scale_range = FAMILIES[best]
        seeds = range(HELD_OUT_SEED, HELD_OUT_SEED + args.bound_draws)
        room = room_to_bound(policy, family, scale_range, args.env, seeds, objective=args.objective)
        record["room_to_bound"] = {"baseline_family": best, **room}
        print(f"room to the bound ({room['metric']}, {room['n']} of {args.bound_draws} draws, {best} matched to the "
              f"policy's time on each): baseline {room['baseline']:.6g}, policy {room['policy']:.6g}, bound "
              f"{room['bound']:.6g}; captured {100 * room['captured']:.0f} %; {room['above_a_charger']} solve(s) "
              "above a charger (no bound on those draws)")  # fmt: skip
    if args.out:
        write_json(args.out, record)
    return 0
