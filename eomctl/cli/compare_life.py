"""``eomctl compare-life``: cycles to end of life of a policy against CC-CV at matched charge time."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.cli.lifetime import add_experiment_arguments, config_from_args
from eomctl.core.errors import ConfigError
from eomctl.core.io import write_json
from eomctl.lifetime.compare import STEADY_CYCLES, compare_life, matchable
from eomctl.policies.specs import parse_policy


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eomctl compare-life --policy <p> --baseline cccv:...``."""
    p = subparsers.add_parser("compare-life", help="cycles to end of life of a policy vs CC-CV at matched charge time")
    p.add_argument("--policy", required=True, help="policy spec (e.g. ccco:rate=2C,margin=0.05) or model .zip")
    p.add_argument("--baseline", default="cccv:vmax=4.2,cutoff=C/20",
                   help="baseline spec; a cccv's or one-rate derated charger's rate is matched")  # fmt: skip
    p.add_argument("--no-match", action="store_true", help="run the baseline as given (no charge-time matching)")
    p.add_argument("--match-cycle", type=int, default=STEADY_CYCLES, metavar="N",
                   help="match the charge of cycle N from a fresh cell, the one the lifetime repeats (0: the first "
                        "charge, from a cell at ambient)")  # fmt: skip
    add_experiment_arguments(p)
    p.add_argument("--out", default=None, help="JSON file to write the comparison to")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Handler of ``eomctl compare-life``: prints both runs with their charge times and the extension."""
    config = config_from_args(args, args.policy)
    for spec in (args.policy, args.baseline):  # both parse before the first (long) lifetime run
        parse_policy(spec)
    if args.match_cycle < 0:
        raise ConfigError(f"--match-cycle must be >= 0; got {args.match_cycle}")
    if not args.no_match and not matchable(parse_policy(args.baseline)):
        raise ConfigError(f"cannot match '{args.baseline}' in charge time: only a cccv or a one-rate derated "
                          "charger has a rate to tune (use --no-match to run it as given)")  # fmt: skip
    out = compare_life(args.policy, args.baseline, config, match=not args.no_match, steady_cycles=args.match_cycle)
    for role, r in (("policy", out.policy), ("baseline", out.baseline)):
        eol = f"EOL at cycle {r.eol_cycle:.0f}" if r.eol_cycle else f"no EOL by cycle {r.cycles}"
        print(f"{role:8s} {r.spec}: charge time {r.charge_time_s:.0f} s, {eol}, final SOH {r.final_soh}")
    ext = out.extension_pct
    if out.steady_cycles:
        print(f"charge time of cycle {out.steady_cycles}: policy {out.policy_steady_charge_time_s:.0f} s, baseline "
              f"{out.baseline_steady_charge_time_s:.0f} s")  # fmt: skip
    note = "" if out.matched else " (baseline NOT matched in charge time)"
    print(f"lifetime extension: {ext:+.1f} %{note}" if ext is not None else f"extension: n/a (EOL not reached){note}")
    if args.out:
        write_json(args.out, out.to_json())
    return 0
