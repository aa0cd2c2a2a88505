"""``eomctl evaluate``: charging policies against matched-time and reference CC-CV, written as JSON."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.core.io import write_json
from eomctl.evaluation.evaluate import as_env, compare, env_id_of, format_table, reference_evaluations, table_rows
from eomctl.policies.specs import parse_policy


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``eomctl evaluate`` sub-command to an ``add_subparsers()`` object (handler: ``args.func``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate", help="evaluate charging policies against matched-time and reference CC-CV, write a JSON"
    )
    parser.add_argument(
        "--policy",
        action="append",
        required=True,
        help="a baseline spec ('cccv:rate=1C,vmax=4.2,cutoff=C/20') or an SB3 model .zip; repeatable",
    )
    parser.add_argument("--env", default="eomctl/FastCharge-v0", help="env id, scenario name or YAML path")
    parser.add_argument("--episodes", type=int, default=1, help="episodes per policy (seeds seed, seed + 1, ...)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    parser.add_argument("--out", default="eval.json", help="JSON file to write (atomically)")
    parser.add_argument("--no-compile", action="store_true", help="skip JIT compilation (faster start, slower steps)")
    parser.add_argument(
        "--bound", action="store_true", help="also solve the optimal-control bound at each policy's charge time"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Handler of ``eomctl evaluate``: compare each policy, write the JSON, print a table; 0 on success."""
    for spec in args.policy:  # every spec parses before the first (long) reference run
        parse_policy(spec)
    built = as_env(args.env, {"simulator": {"compile": False}} if args.no_compile else None)
    references = reference_evaluations(built, args.episodes, args.seed)
    records = [
        compare(spec, built, args.episodes, args.seed, references=references, bound=args.bound) for spec in args.policy
    ]
    # EEZ of each policy among its CC-CVs and the sweep stored for the env.
    tables = [table_rows(record) for record in records]
    write_json(
        args.out,
        {
            "env_id": env_id_of(built),
            "episodes": args.episodes,
            "seed": args.seed,
            "policies": [record.to_json(table) for record, table in zip(records, tables, strict=True)],
            "references": references,
        },
    )
    print(format_table(records, references))
    for record, table in zip(records, tables, strict=True):
        policy_row = table[0]
        print(f"{record.policy}: in the EEZ {policy_row['in_eez']} (distance {policy_row['eez_distance']:.2f})")
    print(f"-> {args.out}")
    return 0
