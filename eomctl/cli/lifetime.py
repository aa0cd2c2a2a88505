"""``eomctl lifetime``: cycle a cell to end of life under a charging policy (and the options it shares with
``eomctl compare-life``)."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.core.errors import ConfigError
from eomctl.lifetime.engine import LifetimeConfig, run_lifetime

DEFAULTS = LifetimeConfig()  # the CLI's defaults are the config's: typed once


def add_experiment_arguments(p: argparse.ArgumentParser) -> None:
    """The options shared by ``eomctl lifetime`` and ``eomctl compare-life`` (read by :func:`config_from_args`)."""
    p.add_argument("--cell", default=DEFAULTS.cell, help="catalogue name, PyBaMM parameter set or cell file")
    p.add_argument("--scenario", default=DEFAULTS.scenario, help="scenario: observation set, dt, limits, target SOC")
    p.add_argument("--model", default=DEFAULTS.model, choices=["SPM", "SPMe", "DFN"])
    p.add_argument("--ambient-c", type=float, default=DEFAULTS.ambient_c, help="ambient temperature [C]")
    p.add_argument("--discharge", default=DEFAULTS.discharge, help="discharge C-rate or drive cycle (1C, US06:0.25C)")
    p.add_argument(
        "--target-soc", type=float, default=DEFAULTS.target_soc, help="charge to this SOC (default: scenario's)"
    )
    p.add_argument("--rest-s", type=float, default=DEFAULTS.rest_s, help="rest after charge and discharge [s]")
    p.add_argument("--eol", type=float, default=DEFAULTS.eol_soh, help="end of life at this SOH")
    p.add_argument("--max-cycles", type=int, default=DEFAULTS.max_cycles)
    p.add_argument("--rpt-every", type=int, default=DEFAULTS.rpt_every, help="cycles between reference tests (RPTs)")
    p.add_argument("--fast", action="store_true", help="adaptive inter-cycle extrapolation (Sulzer et al. 2021)")
    p.add_argument(
        "--aging-acceleration",
        type=float,
        default=DEFAULTS.aging_acceleration,
        metavar="FACTOR",
        help="multiply every degradation rate constant (SEI, plating, dead lithium, LAM) by FACTOR",
    )
    p.add_argument("--override", action="append", default=[], metavar="NAME=VALUE", help="cell parameter override")
    p.add_argument("--no-compile", action="store_true", help="skip JIT compilation")


def config_from_args(args: argparse.Namespace, policy: str) -> LifetimeConfig:
    """The experiment that :func:`add_experiment_arguments`' options describe, charging under ``policy``."""
    overrides = []
    for item in args.override:
        name, sep, value = item.rpartition("=")
        if not sep:
            raise ConfigError(f"--override must be NAME=VALUE; got '{item}'")
        try:
            overrides.append((name.strip(), float(value)))
        except ValueError:
            raise ConfigError(f"--override {name.strip()}: '{value}' is not a number") from None
    return LifetimeConfig(
        policy=policy,
        cell=args.cell,
        scenario=args.scenario,
        model=args.model,
        ambient_c=args.ambient_c,
        discharge=args.discharge,
        target_soc=args.target_soc,
        rest_s=args.rest_s,
        eol_soh=args.eol,
        max_cycles=args.max_cycles,
        rpt_every=args.rpt_every,
        fast=args.fast,
        cell_overrides=tuple(overrides),
        aging_acceleration=args.aging_acceleration,
        compile=False if args.no_compile else None,
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eomctl lifetime``."""
    p = subparsers.add_parser("lifetime", help="cycle a cell to end of life under a charging policy")
    p.add_argument("--policy", default=DEFAULTS.policy, help="policy spec (e.g. cccv:rate=2C) or model .zip")
    add_experiment_arguments(p)
    p.add_argument("--checkpoint", default=None, help="JSON checkpoint file (resume with --resume)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--out", default="life.csv", help="CSV file to write")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Handler of ``eomctl lifetime``."""
    if args.resume and not args.checkpoint:
        raise ConfigError("--resume needs --checkpoint FILE (the checkpoint to continue from)")
    config = config_from_args(args, args.policy)
    result = run_lifetime(config, checkpoint=args.checkpoint, resume=args.resume)
    result.write_csv(args.out)
    rpts = [r for r in result.rows if r["rpt"]]
    eol = f"EOL at cycle {result.eol_cycle:.0f}" if result.eol_cycle else f"no EOL by cycle {config.max_cycles}"
    soh = f"final SOH {rpts[-1]['soh']:.4f}, " if rpts else ""
    print(
        f"{len(result.rows)} rows -> {args.out}: {eol}; {soh}"
        f"{result.cycles_simulated} cycles simulated in {result.wall_s:.0f} s"
    )
    return 0
